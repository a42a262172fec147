//! The policy's own unit tests (`[[tests]]` in the policy file), as run by `capstan test`.
//!
//! A test gives a moment (`at`), a signal, a starting state written in a few words, and what it
//! expects of the decision. [`test_state`] turns the few words into a full [`State`];
//! [`run_test`] calls [`decide`](crate::decide) and compares; each mismatch becomes one line
//! saying what was expected and what the engine decided instead.
//!
//! Starting state, per policy target (the state key is the target's name):
//! - `desired` defaults to the desired capacity after the newest `history` entry, or else the
//!   target's floor; `min` / `max` default to the target's floor / ceiling;
//! - each `history` entry `{ ago, from, to, source }` becomes an action at `at - ago` (source
//!   `test` unless given; a rule's own cooldown follows only the actions whose source is
//!   `rule:<that rule>`);
//! - `paused_for` pauses the target from `at` for that long;
//! - `ticked_ago` says a schedule tick saw the target that long before `at` (else the test's
//!   tick is the deployment's first, and occurrences before it are not "missed");
//! - each `caps` entry is a cap set by that budget rule at `at`, in force until the end of the
//!   rule's budget period (UTC);
//! - `events` are run-time events already added (as an `event` signal adds them), checked as
//!   the engine checks an added event.
//!
//! Expectations, per key of `expect`:
//! - a target name (or `*` for the decision that concerns no target, e.g. an unknown alarm):
//!   that target's decision must exist; `outcome` is compared with [`Outcome::kind`],
//!   `desired` / `min` / `max` with the capacity after a change, `reason` with
//!   [`Reason::code`] of a suppressed outcome, and `says` must be part of the explanation;
//! - `notify`: the notices, and the runbook text of the rule that decided a target (it rides
//!   on the notice of that target's result); `outcome = "notify"` asks for at least one,
//!   `says` must be part of some notice's text.

use crate::decision::{Decision, Outcome, OutcomeKind, TargetDecision};
use crate::file::{PolicyFile, PolicyTest, TargetExpect};
use crate::model::Policy;
use crate::state::{ActionRecord, BudgetCap, Pause, State, TargetState};

/// The `expect` key that checks notices rather than a target.
pub const NOTIFY_KEY: &str = "notify";

/// The `source` given to actions written in a test's `history`.
pub const TEST_SOURCE: &str = "test";

/// How one policy test went.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    /// The test's name.
    pub name: String,
    /// True when every expectation held.
    pub passed: bool,
    /// One line per failed expectation: what was expected and what was decided.
    pub failures: Vec<String>,
}

/// Runs every test of `file` against its policy, in file order.
pub fn run_tests(file: &PolicyFile) -> Vec<TestResult> {
    file.tests
        .iter()
        .map(|t| run_test(&file.policy, t))
        .collect()
}

/// Runs one test of `policy`.
pub fn run_test(policy: &Policy, test: &PolicyTest) -> TestResult {
    let failures = match test_state(policy, test) {
        Ok(state) => {
            let decision = crate::decide(policy, &test.signal, &state, test.at.0);
            check(policy, test, &decision)
        }
        Err(problems) => problems,
    };
    TestResult {
        name: test.name.clone(),
        passed: failures.is_empty(),
        failures,
    }
}

/// The starting state a test describes (see the module docs for the defaults).
///
/// Fails, with one line per problem, when the test names a target or budget rule the policy
/// does not have.
pub fn test_state(policy: &Policy, test: &PolicyTest) -> Result<State, Vec<String>> {
    let at = test.at.0;
    let mut problems = Vec::new();
    for name in test.state.keys() {
        if !policy.targets.contains_key(name) {
            problems.push(format!(
                "state.{name}: the policy has no target `{name}` (targets: {})",
                list(policy.targets.keys())
            ));
        }
    }
    let mut state = State::default();
    for (name, target) in &policy.targets {
        let mut ts = TargetState::new(name, target.floor, target.floor, target.ceiling);
        if let Some(given) = test.state.get(name) {
            let mut history: Vec<ActionRecord> = given
                .history
                .iter()
                .map(|h| ActionRecord {
                    at: h.ago.before(at),
                    source: h.source.clone().unwrap_or_else(|| TEST_SOURCE.to_string()),
                    from: h.from,
                    to: h.to,
                    forced: false,
                })
                .collect();
            // Oldest first, as the engine expects, whatever order the test wrote them in.
            history.sort_by_key(|a| a.at);
            let after_history = history.last().map(|a| a.to);
            ts.desired = given.desired.or(after_history).unwrap_or(target.floor);
            ts.running = ts.desired;
            ts.min = given.min.unwrap_or(target.floor);
            ts.max = given.max.unwrap_or(target.ceiling);
            ts.history = history;
            ts.pause = given.paused_for.map(|d| Pause {
                until: d.after(at),
                by: TEST_SOURCE.to_string(),
                pin: None,
            });
            if let Some(ago) = given.ticked_ago {
                // Every occurrence schedule of the target seen by a tick `ago` before `at`.
                for (sname, s) in &policy.schedules {
                    if s.is_occurrence() && s.targets.iter().any(|t| t == name) {
                        ts.occurrences.insert(sname.clone(), ago.before(at));
                    }
                }
            }
        }
        state.targets.insert(name.clone(), ts);
    }
    for cap in &test.caps {
        match policy.budgets.get(&cap.rule) {
            Some(rule) => state.caps.push(BudgetCap {
                budget: rule.budget.clone(),
                rule: cap.rule.clone(),
                since: at,
                until: crate::engine::period_end(rule.period, at),
            }),
            None => problems.push(format!(
                "caps: the policy has no budget rule `{}` (budget rules: {})",
                cap.rule,
                list(policy.budgets.keys())
            )),
        }
    }
    for (name, event) in &test.events {
        if policy.events.contains_key(name) {
            problems.push(format!(
                "events.{name}: the policy file already defines an event `{name}`; a run-time event needs another name"
            ));
        }
        for p in crate::load::event_problems(policy, name, event) {
            problems.push(format!("{} ({})", p.message, p.hint));
        }
        state.events.insert(name.clone(), event.clone());
    }
    if problems.is_empty() {
        Ok(state)
    } else {
        Err(problems)
    }
}

/// Compares a decision of `policy` with a test's expectations; one line per mismatch, none
/// when it passes.
pub fn check(policy: &Policy, test: &PolicyTest, decision: &Decision) -> Vec<String> {
    let mut failures = Vec::new();
    for (key, expect) in &test.expect.targets {
        if key == NOTIFY_KEY {
            check_notices(policy, expect, decision, &mut failures);
            continue;
        }
        match decision.for_target(key) {
            Some(actual) => check_target(key, expect, actual, &mut failures),
            None => failures.push(format!(
                "{key}: expected a decision, got none (decided for: {})",
                list(decision.targets.iter().map(|t| &t.target))
            )),
        }
    }
    failures
}

fn check_target(
    key: &str,
    expect: &TargetExpect,
    actual: &TargetDecision,
    failures: &mut Vec<String>,
) {
    let got = describe(actual);
    if let Some(outcome) = &expect.outcome {
        if outcome.parse::<OutcomeKind>() != Ok(actual.outcome.kind()) {
            failures.push(format!(
                "{key}: expected outcome {outcome}, got {} ({got})",
                actual.outcome.kind()
            ));
        }
    }
    let to = match &actual.outcome {
        Outcome::Change { to, .. } => Some(to),
        Outcome::Suppressed { .. } => None,
    };
    let numbers = [
        ("desired", expect.desired, to.map(|c| c.desired)),
        ("min", expect.min, to.map(|c| c.min)),
        ("max", expect.max, to.map(|c| c.max)),
    ];
    for (what, expected, actual_value) in numbers {
        match (expected, actual_value) {
            (Some(e), Some(a)) if e != a => {
                failures.push(format!("{key}: expected {what} {e}, got {a} ({got})"))
            }
            (Some(e), None) => {
                failures.push(format!("{key}: expected {what} {e}, got no change ({got})"))
            }
            _ => {}
        }
    }
    if let Some(reason) = &expect.reason {
        match &actual.outcome {
            Outcome::Suppressed { reason: r } if r.code() == reason => {}
            Outcome::Suppressed { reason: r } => failures.push(format!(
                "{key}: expected reason {reason}, got {} ({got})",
                r.code()
            )),
            Outcome::Change { .. } => failures.push(format!(
                "{key}: expected reason {reason}, got a change ({got})"
            )),
        }
    }
    if let Some(says) = &expect.says {
        if !actual.explanation.contains(says.as_str()) {
            failures.push(format!(
                "{key}: expected the explanation to say \"{says}\", got \"{}\"",
                actual.explanation
            ));
        }
    }
}

/// What people are told besides the targets' results: the notices, and the runbook text that
/// rides on the notice of a target's result (`Policy::runbook_for`).
fn check_notices(
    policy: &Policy,
    expect: &TargetExpect,
    decision: &Decision,
    failures: &mut Vec<String>,
) {
    let runbooks = decision
        .targets
        .iter()
        .filter_map(|t| policy.runbook_for(&t.source));
    let texts: Vec<&str> = decision
        .notices
        .iter()
        .map(|n| n.text.as_str())
        .chain(runbooks)
        .collect();
    let got = if texts.is_empty() {
        "no notices".to_string()
    } else {
        format!("notices: {}", texts.join(" | "))
    };
    match expect.outcome.as_deref() {
        None => {}
        Some("notify") if texts.is_empty() => {
            failures.push(format!("notify: expected at least one notice, got {got}"));
        }
        Some("notify") => {}
        Some(other) => failures.push(format!(
            "notify: `outcome` can only be \"notify\" here, the test says \"{other}\""
        )),
    }
    if let Some(says) = &expect.says {
        if !texts.iter().any(|t| t.contains(says.as_str())) {
            failures.push(format!(
                "notify: expected a notice saying \"{says}\", got {got}"
            ));
        }
    }
    let misplaced: Vec<&str> = [
        ("desired", expect.desired.is_some()),
        ("min", expect.min.is_some()),
        ("max", expect.max.is_some()),
        ("reason", expect.reason.is_some()),
    ]
    .iter()
    .filter(|(_, set)| *set)
    .map(|(name, _)| *name)
    .collect();
    if !misplaced.is_empty() {
        failures.push(format!(
            "notify: only `outcome` and `says` apply to notices, the test also sets {}",
            misplaced.join(", ")
        ));
    }
}

/// A decision for one target in a few words, for failure messages.
fn describe(d: &TargetDecision) -> String {
    match &d.outcome {
        Outcome::Change { from, to, forced } => format!(
            "change{}: desired {} -> {}, min {}, max {}; {}",
            if *forced { " (forced)" } else { "" },
            from.desired,
            to.desired,
            to.min,
            to.max,
            d.explanation
        ),
        Outcome::Suppressed { reason } => {
            format!("{} {}: {}", d.outcome.kind(), reason.code(), d.explanation)
        }
    }
}

fn list<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Capacity, Notice, Reason};
    use crate::model::Timestamp;
    use chrono::{DateTime, Utc};

    const POLICY: &str = r#"
[targets.api]
kind = "ecs"
cluster = "c"
service = "api"
floor = 2
ceiling = 20

[budgets.cap]
budget = "B"
threshold = 100
action = "cap"
period = "quarterly"

[[tests]]
name = "t"
at = 2026-12-07T10:00:00Z
signal = { alarm = { name = "a", state = "ALARM" } }
state.api = { history = [{ ago = "2m", from = 4, to = 5, source = "rule:r" }, { ago = "10m", from = 2, to = 4 }], paused_for = "1h" }
caps = [{ rule = "cap" }]
expect.api = { outcome = "change", desired = 6, min = 4, max = 20 }
expect.notify = { says = "hello" }
"#;

    fn policy() -> PolicyFile {
        toml::from_str(POLICY).expect("the test policy parses")
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse::<Timestamp>().expect("a timestamp").0
    }

    fn decision(targets: Vec<TargetDecision>, notices: Vec<&str>) -> Decision {
        Decision {
            at: at("2026-12-07T10:00:00Z"),
            signal: "s".into(),
            targets,
            notices: notices
                .into_iter()
                .map(|t| Notice {
                    source: "rule:x".into(),
                    target: None,
                    text: t.into(),
                })
                .collect(),
            ops: vec![],
        }
    }

    fn change(desired_from: u32, desired_to: u32) -> TargetDecision {
        TargetDecision {
            target: "api".into(),
            source: "rule:x".into(),
            outcome: Outcome::Change {
                from: Capacity {
                    desired: desired_from,
                    min: 2,
                    max: 20,
                },
                to: Capacity {
                    desired: desired_to,
                    min: 4,
                    max: 20,
                },
                forced: false,
            },
            explanation: "desired 4 -> 5".into(),
        }
    }

    #[test]
    fn state_is_built_from_the_test() {
        let p = policy();
        let s = test_state(&p.policy, &p.tests[0]).expect("valid state");
        let api = &s.targets["api"];
        assert_eq!(api.target, "api");
        // No desired given: the newest history entry's `to`.
        assert_eq!(api.desired, 5);
        assert_eq!((api.min, api.max), (2, 20));
        // Sorted oldest first, placed before `at`.
        assert_eq!(api.history.len(), 2);
        assert_eq!(api.history[0].at, at("2026-12-07T09:50:00Z"));
        assert_eq!(api.history[1].at, at("2026-12-07T09:58:00Z"));
        assert_eq!(api.history[0].source, TEST_SOURCE);
        assert_eq!(api.history[1].source, "rule:r");
        assert_eq!(
            api.pause.as_ref().map(|p| p.until),
            Some(at("2026-12-07T11:00:00Z"))
        );
        assert_eq!(s.caps.len(), 1);
        assert_eq!(s.caps[0].budget, "B");
        assert_eq!(s.caps[0].since, at("2026-12-07T10:00:00Z"));
        assert_eq!(s.caps[0].until, at("2027-01-01T00:00:00Z"));
    }

    #[test]
    fn unnamed_targets_start_at_their_floor() {
        let mut p = policy();
        p.tests[0].state.clear();
        let s = test_state(&p.policy, &p.tests[0]).expect("valid state");
        let api = &s.targets["api"];
        assert_eq!((api.desired, api.min, api.max), (2, 2, 20));
        assert!(api.history.is_empty() && api.pause.is_none());
    }

    #[test]
    fn unknown_names_in_a_test_are_reported() {
        let mut p = policy();
        let api = p.tests[0].state["api"].clone();
        p.tests[0].state.insert("nope".into(), api);
        p.tests[0].caps[0].rule = "missing".into();
        let problems = test_state(&p.policy, &p.tests[0]).expect_err("unknown names");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("state.nope"), "{problems:?}");
        assert!(problems[1].contains("`missing`"), "{problems:?}");
        let result = run_test(&p.policy, &p.tests[0]);
        assert!(!result.passed);
    }

    #[test]
    fn matching_decision_passes() {
        let p = policy();
        let d = decision(vec![change(4, 6)], vec!["well hello there"]);
        assert_eq!(check(&p.policy, &p.tests[0], &d), Vec::<String>::new());
    }

    #[test]
    fn wrong_number_says_expected_and_actual() {
        let p = policy();
        let d = decision(vec![change(4, 5)], vec!["hello"]);
        let f = check(&p.policy, &p.tests[0], &d);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].starts_with("api: expected desired 6, got 5 (change: desired 4 -> 5"),
            "{}",
            f[0]
        );
    }

    #[test]
    fn missing_decision_and_notice_fail() {
        let p = policy();
        let f = check(&p.policy, &p.tests[0], &decision(vec![], vec![]));
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f[0].starts_with("api: expected a decision, got none"));
        assert!(f[1].contains("expected a notice saying \"hello\", got no notices"));
    }

    #[test]
    fn suppressed_outcomes_compare_kind_and_reason() {
        let mut p = policy();
        let t = &mut p.tests[0];
        t.expect.targets.remove(NOTIFY_KEY);
        let api = t.expect.targets.get_mut("api").expect("api expectation");
        *api = TargetExpect {
            outcome: Some("suppressed".into()),
            reason: Some("cooldown".into()),
            says: Some("cooldown".into()),
            ..TargetExpect::default()
        };
        let suppressed = |reason: Reason, text: &str| TargetDecision {
            target: "api".into(),
            source: "rule:x".into(),
            outcome: Outcome::Suppressed { reason },
            explanation: text.into(),
        };
        let ok = suppressed(
            Reason::Cooldown {
                direction: crate::state::Direction::Out,
                until: at("2026-12-07T10:03:00Z"),
            },
            "scale-out cooldown until 10:03",
        );
        assert!(check(&p.policy, &p.tests[0], &decision(vec![ok], vec![])).is_empty());

        let other = suppressed(Reason::AtCeiling { ceiling: 20 }, "at the ceiling");
        let f = check(&p.policy, &p.tests[0], &decision(vec![other], vec![]));
        // Same kind (`suppressed`), other reason, other words.
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f
            .iter()
            .any(|l| l.contains("expected reason cooldown, got at-ceiling")));
        assert!(f
            .iter()
            .any(|l| l.contains("explanation to say \"cooldown\"")));

        let f = check(
            &p.policy,
            &p.tests[0],
            &decision(vec![change(4, 6)], vec![]),
        );
        assert!(f
            .iter()
            .any(|l| l.contains("expected outcome suppressed, got change")));
        assert!(f
            .iter()
            .any(|l| l.contains("expected reason cooldown, got a change")));
    }

    #[test]
    fn numbers_against_a_suppression_fail() {
        let p = policy();
        let d = decision(
            vec![TargetDecision {
                target: "api".into(),
                source: "rule:x".into(),
                outcome: Outcome::Suppressed {
                    reason: Reason::AlreadyRight,
                },
                explanation: "already right".into(),
            }],
            vec!["hello"],
        );
        let f = check(&p.policy, &p.tests[0], &d);
        assert!(f
            .iter()
            .any(|l| l
                .starts_with("api: expected desired 6, got no change (unchanged already-right")));
        assert!(f
            .iter()
            .any(|l| l.contains("expected outcome change, got unchanged")));
    }

    #[test]
    fn notify_key_accepts_only_notify() {
        let mut p = policy();
        let n = p.tests[0]
            .expect
            .targets
            .get_mut(NOTIFY_KEY)
            .expect("notify expectation");
        n.outcome = Some("change".into());
        n.desired = Some(3);
        let f = check(
            &p.policy,
            &p.tests[0],
            &decision(vec![change(4, 6)], vec!["hello"]),
        );
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f[0].contains("can only be \"notify\""));
        assert!(f[1].contains("also sets desired"));
    }
}
