//! `capstan test FILE`: run the `[[tests]]` inside a policy file, like `vector test`.
//!
//! Prints `ok   NAME` or `FAIL NAME` per test, each failure's expected-versus-actual line under
//! it, then `N passed, M failed`. A policy that does not load prints its problems and fails.

use std::io::{self, Write};
use std::path::Path;

use capstan_policy::filetest;

use crate::exit::{Failure, Outcome};

/// Runs the subcommand: fine when the policy loads and every test passes, a finding when a
/// test fails or the policy does not load (both printed), trouble when the file cannot be read
/// or the report written.
pub fn run(file: &Path) -> Outcome {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::trouble(format!("cannot read {}: {e}", file.display())))?;
    let stdout = io::stdout();
    let passed = report(&file.display().to_string(), &text, &mut stdout.lock())
        .map_err(|e| Failure::trouble(format!("cannot write the report: {e}")))?;
    if passed {
        Ok(())
    } else {
        Err(Failure::finding())
    }
}

/// Loads `text` (named `name` in messages), runs its tests and writes the report to `out`.
fn report(name: &str, text: &str, out: &mut impl Write) -> io::Result<bool> {
    let file = match capstan_policy::load_file(text) {
        Ok(f) => f,
        Err(e) => {
            writeln!(out, "{name}: the policy does not load, no test was run")?;
            write!(out, "{}", crate::diagnostics::render(name, &e))?;
            return Ok(false);
        }
    };
    if file.tests.is_empty() {
        writeln!(
            out,
            "{name} has no [[tests]]; see docs/policy.md (\"Tests\") for how to write them"
        )?;
    }
    let results = filetest::run_tests(&file);
    let failed = results.iter().filter(|r| !r.passed).count();
    for r in &results {
        if r.passed {
            writeln!(out, "ok   {}", r.name)?;
        } else {
            writeln!(out, "FAIL {}", r.name)?;
            for f in &r.failures {
                writeln!(out, "       {f}")?;
            }
        }
    }
    writeln!(out, "{} passed, {failed} failed", results.len() - failed)?;
    Ok(failed == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
[targets.api]
kind = "ecs"
cluster = "c"
service = "s"
floor = 2
ceiling = 20

[rules.up]
alarm = "cpu-high"
target = "api"
action = { add = 1 }

[[tests]]
name = "adds one"
at = 2026-12-07T10:00:00Z
signal = { alarm = { name = "cpu-high", state = "ALARM" } }
state.api = { desired = 4 }
expect.api = { desired = 5 }

[[tests]]
name = "wrong on purpose"
at = 2026-12-07T10:00:00Z
signal = { alarm = { name = "cpu-high", state = "ALARM" } }
state.api = { desired = 4 }
expect.api = { desired = 7 }
"#;

    fn run_on(text: &str) -> (bool, String) {
        let mut out = Vec::new();
        let ok = report("p.toml", text, &mut out).expect("writing to a Vec");
        (ok, String::from_utf8(out).expect("utf-8"))
    }

    #[test]
    fn reports_each_test_and_the_totals() {
        let (ok, out) = run_on(POLICY);
        assert!(!ok, "{out}");
        assert!(out.contains("ok   adds one\n"), "{out}");
        assert!(out.contains("FAIL wrong on purpose\n"), "{out}");
        assert!(out.contains("api: expected desired 7, got 5"), "{out}");
        assert!(out.ends_with("1 passed, 1 failed\n"), "{out}");
    }

    #[test]
    fn passes_when_every_test_passes() {
        let only_first = POLICY
            .split("[[tests]]\nname = \"wrong on purpose\"")
            .next()
            .expect("the first part");
        let (ok, out) = run_on(only_first);
        assert!(ok, "{out}");
        assert!(out.ends_with("1 passed, 0 failed\n"), "{out}");
    }

    #[test]
    fn a_policy_that_does_not_load_fails_without_running() {
        let (ok, out) = run_on("[targets.api]\nkind = \"ecs\"\nfloor = \"two\"\n");
        assert!(!ok);
        assert!(out.contains("does not load"), "{out}");
        assert!(!out.contains("passed"), "{out}");
    }
}
