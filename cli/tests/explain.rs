//! `capstan explain` run as a program: a small New York policy over the autumn clock change
//! (2026-11-01, 02:00 EDT -> 01:00 EST), with `--from` pinned so the output is fixed.

use std::path::PathBuf;
use std::process::{Command, Output};

const POLICY: &str = r#"
[settings]
zone = "America/New_York"

[holidays]
us = ["2026-11-26"]

[targets.api]
kind = "ecs"
cluster = "main-cluster"
service = "api-service"
floor = 2
ceiling = 20

[targets.ai]
kind = "ecs"
cluster = "main-cluster"
service = "ai-service"
floor = 2
ceiling = 30
criticality = "non-critical"

[schedules.business-hours]
targets = ["api"]
weekdays = ["mon-fri"]
begin = "08:00"
end = "20:00"
floor = 4
ceiling = 20
holidays = ["us"]

[schedules.night-low]
targets = ["api"]
cron = "30 1 * * *"
desired = 2

[events.launch]
start = "2026-11-02T14:00:00Z"
end = "2026-11-02T20:00:00Z"
lead = "2h"
exceed_ceiling = true
targets.api = { floor = 6, ceiling = "+5" }

[rules.api-cpu-high]
alarm = "api-cpu-*"
target = "api"
action = { add = 2 }

[budgets.ai-cap]
budget = "AI-Service-Monthly"
threshold = 100
action = "cap"
"#;

/// Writes the policy to a file of its own and runs `capstan explain` on it with `args`.
fn explain(test: &str, policy: &str, args: &[&str]) -> Output {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("explain-{test}.toml"));
    std::fs::write(&path, policy).expect("write the test policy");
    Command::new(env!("CARGO_BIN_EXE_capstan"))
        .arg("explain")
        .arg(&path)
        .args(args)
        .output()
        .expect("run capstan")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// True when one line of `out` holds every part, in order.
fn line_with(out: &str, parts: &[&str]) -> bool {
    out.lines().any(|line| {
        let mut rest = line;
        parts.iter().all(|p| match rest.find(p) {
            Some(i) => {
                rest = &rest[i + p.len()..];
                true
            }
            None => false,
        })
    })
}

#[test]
fn explains_a_fall_back_weekend_day_by_day() {
    let o = explain(
        "fall-back",
        POLICY,
        &[
            "--target",
            "api",
            "--days",
            "4",
            "--from",
            "2026-10-30T12:00:00Z",
        ],
    );
    let out = stdout(&o);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("resource: ecs main-cluster/api-service"),
        "{out}"
    );
    assert!(out.contains("hard bounds: floor 2, ceiling 20"), "{out}");
    assert!(out.contains("criticality: critical"), "{out}");
    // The four days, in order.
    let days: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("(America/New_York, UTC"))
        .collect();
    assert_eq!(days.len(), 4, "{out}");
    assert!(days[0].starts_with("Fri 2026-10-30") && days[3].starts_with("Mon 2026-11-02"));
    // The clock change.
    assert!(
        line_with(
            &out,
            &[
                "01:00 EST",
                "06:00Z",
                "DST: clocks go 02:00 -> 01:00, UTC offset -04:00 -> -05:00"
            ]
        ),
        "{out}"
    );
    // Period windows before and after it: 08:00-20:00 local, one hour later in UTC after.
    assert!(
        line_with(
            &out,
            &[
                "08:00 EDT -> 20:00 EDT",
                "12:00Z -> Sat 00:00Z",
                "period business-hours: floor 4, ceiling 20"
            ]
        ),
        "{out}"
    );
    assert!(
        line_with(
            &out,
            &[
                "08:00 EST -> 20:00 EST",
                "13:00Z -> Tue 01:00Z",
                "period business-hours: floor 4, ceiling 20"
            ]
        ),
        "{out}"
    );
    // 01:30 happens twice on 1 November: once, at the first (EDT).
    assert!(
        line_with(
            &out,
            &[
                "01:30 EDT",
                "05:30Z",
                "occurrence night-low: desired 2 (01:30 happens twice"
            ]
        ),
        "{out}"
    );
    let sunday: String = out
        .lines()
        .skip_while(|l| !l.starts_with("Sun 2026-11-01"))
        .take_while(|l| !l.starts_with("Mon 2026-11-02"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        sunday.matches("occurrence night-low").count(),
        1,
        "{sunday}"
    );
    assert!(!sunday.contains("01:30 EST"), "{sunday}");
    // The event: lead at 12:00Z (07:00 EST), start, end.
    assert!(
        line_with(
            &out,
            &[
                "07:00 EST",
                "12:00Z",
                "event launch: lead begins",
                "bounds then 6..25"
            ]
        ),
        "{out}"
    );
    assert!(
        line_with(&out, &["15:00 EST", "20:00Z", "event launch: ends"]),
        "{out}"
    );
    // Rules.
    assert!(
        line_with(
            &out,
            &["api-cpu-high: alarm `api-cpu-*` (glob) in ALARM -> add 2"]
        ),
        "{out}"
    );
    assert!(
        out.contains("never touched by budget rules (critical)"),
        "{out}"
    );
    assert!(!out.contains("== target ai =="), "{out}");
}

#[test]
fn holidays_are_marked_and_budget_rules_listed_for_non_critical_targets() {
    let o = explain(
        "holiday",
        POLICY,
        &["--days", "1", "--from", "2026-11-26T15:00:00Z"],
    );
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        line_with(
            &out,
            &[
                "08:00 EST -> 20:00 EST",
                "period business-hours",
                "suspended: holiday"
            ]
        ),
        "{out}"
    );
    // Both targets, by name.
    let ai = out.find("== target ai ==").expect("ai is explained");
    let api = out.find("== target api ==").expect("api is explained");
    assert!(ai < api, "{out}");
    assert!(
        line_with(
            &out,
            &["ai-cap: budget `AI-Service-Monthly` ACTUAL alert at 100% -> cap"]
        ),
        "{out}"
    );
}

#[test]
fn unknown_target_and_bad_from_are_usage_errors() {
    let o = explain(
        "unknown",
        POLICY,
        &["--target", "apx", "--from", "2026-11-01T00:00:00Z"],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no target named `apx`"), "{err}");

    let o = explain("bad-from", POLICY, &["--from", "yesterday"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--from `yesterday`"));
}

#[test]
fn a_policy_that_does_not_load_is_reported_not_explained() {
    let broken = POLICY.replace("cron = \"30 1 * * *\"", "cron = \"30 25 * * *\"");
    let o = explain("broken", &broken, &["--from", "2026-11-01T00:00:00Z"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("hour 25 is out of range 0-23"), "{err}");
    assert!(stdout(&o).is_empty());
}
