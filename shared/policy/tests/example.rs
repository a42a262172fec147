//! The example policy at the repository root: it loads, every one of its own tests passes, it
//! tests every rule, schedule, event and budget rule it defines, and its tests can fail.

use capstan_policy::file::{PolicyTest, TargetExpect};
use capstan_policy::filetest::{self, NOTIFY_KEY};
use capstan_policy::{schedule, PolicyFile, Signal};

const EXAMPLE: &str = include_str!("../../../capstan.example.toml");

fn example() -> PolicyFile {
    match capstan_policy::load_file(EXAMPLE) {
        Ok(p) => p,
        Err(e) => panic!(
            "capstan.example.toml does not load:\n{}",
            e.diagnostics
                .iter()
                .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// True when the test expects something of at least one of `targets`.
fn expects_any(test: &PolicyTest, targets: &[String]) -> bool {
    targets.iter().any(|t| test.expect.targets.contains_key(t))
}

#[test]
fn every_test_in_the_example_passes() {
    let file = example();
    assert!(!file.tests.is_empty(), "the example has no tests");
    let results = filetest::run_tests(&file);
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| format!("FAIL {}\n    {}", r.name, r.failures.join("\n    ")))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} example tests fail:\n{}",
        failed.len(),
        results.len(),
        failed.join("\n")
    );
}

#[test]
fn test_names_are_unique() {
    let PolicyFile { tests, .. } = example();
    let mut names: Vec<&str> = tests.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len(), "two example tests share a name");
}

#[test]
fn every_rule_is_tested() {
    let PolicyFile { policy, tests } = example();
    for (name, rule) in &policy.rules {
        let tested = tests.iter().any(|t| {
            let Signal::Alarm(a) = &t.signal else {
                return false;
            };
            let checks = if rule.is_notify_only() {
                t.expect.targets.contains_key(NOTIFY_KEY)
            } else {
                rule.target
                    .as_ref()
                    .is_some_and(|target| t.expect.targets.contains_key(target))
            };
            a.state == rule.state && rule.matches(&a.name) && checks
        });
        assert!(
            tested,
            "no example test fires rule {name} (alarm {} {}) and checks its result",
            rule.alarm, rule.state
        );
    }
}

#[test]
fn every_schedule_is_tested() {
    let PolicyFile { policy, tests } = example();
    for (name, s) in &policy.schedules {
        let tested = tests.iter().any(|t| {
            let Signal::Tick(tick) = &t.signal else {
                return false;
            };
            if !expects_any(t, &s.targets) {
                return false;
            }
            if s.is_occurrence() {
                let due = schedule::occurrences(
                    &policy,
                    s,
                    t.at.0 - policy.settings.catch_up.chrono(),
                    t.at.0,
                );
                tick.schedule.as_deref() == Some(name.as_str()) || !due.is_empty()
            } else {
                schedule::period_holds(&policy, s, t.at.0)
            }
        });
        assert!(
            tested,
            "no example test ticks while schedule {name} applies and checks one of its targets"
        );
    }
}

#[test]
fn every_event_is_tested_before_during_and_after() {
    let PolicyFile { policy, tests } = example();
    for (name, e) in &policy.events {
        let targets: Vec<String> = e.targets.keys().cloned().collect();
        let begin = e.start.0 - e.lead.map(|d| d.chrono()).unwrap_or_default();
        let phases = [
            ("lead", begin, e.start.0),
            ("during", e.start.0, e.end.0),
            ("release", e.end.0, e.end.0 + chrono::Duration::days(1)),
        ];
        for (phase, from, until) in phases {
            let tested = tests
                .iter()
                .any(|t| t.at.0 >= from && t.at.0 < until && expects_any(t, &targets));
            assert!(tested, "no example test covers event {name} ({phase})");
        }
    }
}

#[test]
fn every_budget_rule_is_tested() {
    let PolicyFile { policy, tests } = example();
    for (name, rule) in &policy.budgets {
        let tested = tests.iter().any(|t| {
            matches!(&t.signal, Signal::Budget(b)
                if b.budget == rule.budget
                    && b.alert_type == rule.alert_type
                    && b.threshold_percent >= rule.threshold)
        });
        assert!(
            tested,
            "no example test sends an alert that reaches budget rule {name}"
        );
    }
}

#[test]
fn a_broken_expectation_fails_with_expected_and_actual() {
    let PolicyFile { policy, mut tests } = example();
    let (index, key, desired) = tests
        .iter()
        .enumerate()
        .find_map(|(i, t)| {
            t.expect
                .targets
                .iter()
                .find_map(|(k, e)| e.desired.map(|d| (i, k.clone(), d)))
        })
        .expect("some example test expects a desired capacity");
    tests[index]
        .expect
        .targets
        .get_mut(&key)
        .expect("the key just found")
        .desired = Some(desired + 1);
    let result = filetest::run_test(&policy, &tests[index]);
    assert!(
        !result.passed,
        "{} passed with a wrong expectation",
        result.name
    );
    let wanted = format!("{key}: expected desired {}, got {desired}", desired + 1);
    assert!(
        result.failures.iter().any(|f| f.starts_with(&wanted)),
        "no failure says `{wanted}`: {:?}",
        result.failures
    );
}

/// Each way of getting one field of an expectation wrong.
fn mutations(e: &TargetExpect, notify: bool) -> Vec<(String, TargetExpect)> {
    let mut out = Vec::new();
    let mut push = |what: String, m: TargetExpect| out.push((what, m));
    if let Some(o) = &e.outcome {
        if !notify {
            let other = if o == "change" {
                "suppressed"
            } else {
                "change"
            };
            push(
                format!("outcome {o} -> {other}"),
                TargetExpect {
                    outcome: Some(other.into()),
                    ..e.clone()
                },
            );
        }
    }
    for (field, value) in [("desired", e.desired), ("min", e.min), ("max", e.max)] {
        if let Some(v) = value {
            let mut m = e.clone();
            let bumped = Some(v + 1);
            match field {
                "desired" => m.desired = bumped,
                "min" => m.min = bumped,
                _ => m.max = bumped,
            }
            push(format!("{field} {v} -> {}", v + 1), m);
        }
    }
    if let Some(r) = &e.reason {
        push(
            format!("reason {r} -> rate-limit/cooldown"),
            TargetExpect {
                reason: Some(
                    if r == "rate-limit" {
                        "cooldown"
                    } else {
                        "rate-limit"
                    }
                    .into(),
                ),
                ..e.clone()
            },
        );
    }
    if let Some(s) = &e.says {
        push(
            format!("says {s:?} + extra words"),
            TargetExpect {
                says: Some(format!("{s} and words no decision contains")),
                ..e.clone()
            },
        );
    }
    out
}

#[test]
fn every_expectation_in_the_example_can_fail() {
    let PolicyFile { policy, tests } = example();
    let mut vacuous = Vec::new();
    let mut checked = 0;
    for test in &tests {
        for (key, expect) in &test.expect.targets {
            for (what, wrong) in mutations(expect, key == NOTIFY_KEY) {
                let mut t = test.clone();
                t.expect.targets.insert(key.clone(), wrong);
                checked += 1;
                if filetest::run_test(&policy, &t).passed {
                    vacuous.push(format!("{}: {key}.{what}", test.name));
                }
            }
        }
    }
    assert!(checked > tests.len(), "too few expectations checked");
    assert!(
        vacuous.is_empty(),
        "these expectations still pass when wrong:\n{}",
        vacuous.join("\n")
    );
}
