//! `capstan validate` end to end: exit codes and what the report names.

mod common;

use std::path::PathBuf;
use std::process::Command;

const CLEAN: &str = r#"
[targets.api]
kind = "ecs"
cluster = "main"
service = "api"
floor = 2
ceiling = 10

[rules.cpu-high]
alarm = "api-cpu-high"
target = "api"
action = { add = 1 }

[[tests]]
name = "adds one"
at = 2026-01-06T10:00:00Z
signal = { alarm = { name = "api-cpu-high", state = "ALARM" } }
expect = { api = { outcome = "change", desired = 3 } }
"#;

/// Two problems: a floor above the ceiling (line 6) and a rule naming a missing target (line 11).
const BROKEN: &str = r#"
[targets.api]
kind = "ecs"
cluster = "main"
service = "api"
floor = 12
ceiling = 10

[rules.cpu-high]
alarm = "api-cpu-high"
target = "apj"
action = { add = 1 }
"#;

/// Writes `text` to a file of its own and returns the path.
fn policy_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("capstan-validate-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write policy");
    path
}

fn validate(args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .arg("validate")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run capstan");
    common::outcome(output)
}

#[test]
fn a_clean_policy_exits_0_with_its_counts() {
    let path = policy_file("clean.toml", CLEAN);
    let file = path.to_str().expect("utf-8 path");
    let (code, out, err) = validate(&[file]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        out,
        format!("{file}: ok (1 target, 1 rule, 0 schedules, 0 events, 0 budget rules, 1 test)\n")
    );
}

#[test]
fn a_broken_policy_exits_1_naming_each_line_with_a_hint() {
    let path = policy_file("broken.toml", BROKEN);
    let file = path.to_str().expect("utf-8 path");
    let (code, out, err) = validate(&[file]);
    assert_eq!(code, Some(1), "{out}{err}");
    // miette's header names the file, line and column of each problem.
    assert!(out.contains(&format!("{file}:6:9]")), "{out}");
    assert!(out.contains(&format!("{file}:11:10]")), "{out}");
    assert!(
        out.contains("`targets.api.floor` (12) is above its ceiling (10)"),
        "{out}"
    );
    assert!(out.contains("names unknown target `apj`"), "{out}");
    assert!(out.contains("help: did you mean `api`?"), "{out}");
    // The source line is shown.
    assert!(out.contains("floor = 12"), "{out}");
    assert!(
        out.trim_end().ends_with(&format!("2 problems in {file}")),
        "{out}"
    );
}

#[test]
fn a_syntax_error_exits_1_with_its_position() {
    let path = policy_file("syntax.toml", "[targets.api]\nkind = \"ecs\"\nfloor = \n");
    let file = path.to_str().expect("utf-8 path");
    let (code, out, err) = validate(&[file]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("TOML syntax error"), "{out}");
    assert!(out.contains(&format!("{file}:3:")), "{out}");
    assert!(
        out.trim_end().ends_with(&format!("1 problem in {file}")),
        "{out}"
    );
}

#[test]
fn the_policy_crates_broken_fixture_reports_many_lines() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/policy/tests/fixtures/broken.toml"
    );
    let (code, out, err) = validate(&[fixture]);
    assert_eq!(code, Some(1), "{out}{err}");
    for position in [":7:8]", ":23:12]", ":110:3]", ":195:1]", ":254:6]"] {
        assert!(out.contains(position), "{position} not in:\n{out}");
    }
}

#[test]
fn json_format_lists_problems_by_line() {
    let path = policy_file("broken-json.toml", BROKEN);
    let file = path.to_str().expect("utf-8 path");
    let (code, out, err) = validate(&["--format", "json", file]);
    assert_eq!(code, Some(1), "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["file"], file);
    let lines: Vec<u64> = doc["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|p| p["line"].as_u64())
        .collect();
    assert_eq!(lines, vec![6, 11]);

    let path = policy_file("clean-json.toml", CLEAN);
    let (code, out, _) = validate(&["--format", "json", path.to_str().expect("utf-8 path")]);
    assert_eq!(code, Some(0));
    let doc: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["counts"]["targets"], 1);
    assert_eq!(doc["counts"]["tests"], 1);
}

#[test]
fn an_unreadable_file_exits_2() {
    let missing = std::env::temp_dir().join("capstan-validate-test-does-not-exist.toml");
    let (code, out, err) = validate(&[missing.to_str().expect("utf-8 path")]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn a_bad_role_arn_is_reported_with_its_field_and_line() {
    let text = CLEAN.replace(
        "ceiling = 10\n",
        "ceiling = 10\nrole_arn = \"arn:aws:iam::2222:role/capstan-target\"\n",
    );
    let path = policy_file("bad-role.toml", &text);
    let (code, out, err) = validate(&[path.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}{err}");
    let all = format!("{out}{err}");
    assert!(all.contains("targets.api.role_arn"), "{all}");
    assert!(all.contains("account `2222` is not 12 digits"), "{all}");
    assert!(all.contains(":8:"), "line 8: {all}");

    let text = CLEAN.replace(
        "ceiling = 10\n",
        "ceiling = 10\nrole_arn = \"arn:aws:iam::222222222222:role/capstan-target\"\n",
    );
    let path = policy_file("good-role.toml", &text);
    let (code, out, err) = validate(&[path.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}{err}");
}
