//! The exit codes every subcommand shares, run as a program: the top-level `--help` lists
//! them, and a usage error is 2 whichever subcommand it is made on (clap's own errors, before
//! the subcommand runs). What each subcommand returns for a finding or trouble is tested with
//! the subcommand (validate.rs, test_cmd.rs, explain.rs, simulate.rs, init_status.rs,
//! operate.rs, lift_cap.rs).

mod common;

use std::process::Command;

fn capstan(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("the capstan binary runs");
    common::outcome(out)
}

#[test]
fn the_top_level_help_lists_the_three_codes() {
    let (code, out, err) = capstan(&["--help"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let codes: Vec<&str> = out
        .lines()
        .skip_while(|l| *l != "Exit codes (every subcommand):")
        .skip(1)
        .collect();
    assert_eq!(codes.len(), 3, "{out}");
    assert!(codes[0].starts_with("  0  done: "), "{out}");
    assert!(codes[1].starts_with("  1  a finding: "), "{out}");
    assert!(codes[1].contains("a policy test fails"), "{out}");
    assert!(codes[2].starts_with("  2  trouble: "), "{out}");
    assert!(
        codes[2].contains("AWS or the state table unreachable"),
        "{out}"
    );
}

#[test]
fn a_usage_error_is_2_on_every_subcommand() {
    let subcommands: [&[&str]; 12] = [
        &["validate"],
        &["test"],
        &["explain"],
        &["simulate"],
        &["init"],
        &["status"],
        &["lift-cap"],
        &["scale"],
        &["pause"],
        &["resume"],
        &["undo"],
        &["event", "add"],
    ];
    for sub in subcommands {
        let mut args = sub.to_vec();
        args.push("--no-such-flag");
        let (code, out, err) = capstan(&args);
        assert_eq!(code, Some(2), "{args:?}: {out}{err}");
        assert!(
            err.contains("unexpected argument '--no-such-flag'"),
            "{args:?}: {err}"
        );
    }
    // An unknown subcommand, and none at all.
    let (code, _, err) = capstan(&["frobnicate"]);
    assert_eq!(code, Some(2), "{err}");
    let (code, _, err) = capstan(&[]);
    assert_eq!(code, Some(2), "{err}");
}

/// The arguments clap cannot check are checked by the subcommand, with the same code.
#[test]
fn a_bad_value_is_2_whether_clap_or_the_subcommand_finds_it() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../capstan.example.toml");
    // clap: not a number.
    let (code, _, err) = capstan(&["explain", example, "--days", "many"]);
    assert_eq!(code, Some(2), "{err}");
    // The subcommand: out of range.
    let (code, _, err) = capstan(&["explain", example, "--days", "0"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--days 0: give a number of days from 1 to 366"),
        "{err}"
    );
    // The subcommand: not a duration.
    let timeline = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("exit-empty.jsonl");
    std::fs::write(&timeline, "").unwrap();
    let (code, _, err) = capstan(&[
        "simulate",
        example,
        timeline.to_str().unwrap(),
        "--tick",
        "often",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--tick `often`"), "{err}");
}
