//! `capstan test` end to end: the binary on the example policy, and on copies of it with a
//! wrong expectation and with a syntax error.

use std::path::PathBuf;
use std::process::{Command, Output};

const EXAMPLE: &str = include_str!("../../capstan.example.toml");

fn example_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../capstan.example.toml")
}

fn capstan_test(file: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capstan"))
        .arg("test")
        .arg(file)
        .output()
        .expect("the capstan binary runs")
}

/// Writes `text` to a file of its own under the target's scratch directory.
fn scratch(name: &str, text: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, text).expect("the scratch file is written");
    path
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_example_passes() {
    let out = capstan_test(&example_path());
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tests = EXAMPLE.matches("[[tests]]").count();
    assert!(tests > 0);
    assert!(
        text.ends_with(&format!("{tests} passed, 0 failed\n")),
        "{text}"
    );
    assert!(!text.contains("FAIL"), "{text}");
}

#[test]
fn a_wrong_expectation_fails_with_expected_and_actual() {
    let right = r#"expect.api = { outcome = "change", desired = 6, min = 4, max = 20 }"#;
    let wrong = r#"expect.api = { outcome = "change", desired = 7, min = 4, max = 20 }"#;
    assert!(
        EXAMPLE.contains(right),
        "the example changed: update this test"
    );
    let broken = EXAMPLE.replacen(right, wrong, 1);
    let out = capstan_test(&scratch("capstan-test-wrong.toml", &broken));
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL "), "{text}");
    assert!(text.contains("api: expected desired 7, got 6"), "{text}");
    assert!(text.contains(" passed, 1 failed\n"), "{text}");
}

#[test]
fn a_policy_that_does_not_load_fails() {
    let broken = EXAMPLE.replacen("floor = 2", "floor = \"two\"", 1);
    let out = capstan_test(&scratch("capstan-test-unloadable.toml", &broken));
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("does not load"), "{text}");
    assert!(!text.contains(" passed, "), "{text}");
}

#[test]
fn a_missing_file_is_a_usage_error() {
    let out = capstan_test(&PathBuf::from("/nonexistent/capstan.toml"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}
