//! What people read, word for word: one golden file per kind of notice (an action, a bounds
//! change, a hold with the rule's runbook text, CloudWatch's suppression, a failure, a budget
//! cap, a run-time event, a notify-only rule, a missed occurrence, a tick's digest), made by the
//! real runner over the in-memory ports from the example policy. A wording change fails here
//! until the golden file is rewritten on purpose:
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test -p capstan-runner --test golden
//! ```
//!
//! and the diff of `tests/golden/` is then read like any other change.

use std::path::PathBuf;
use std::sync::Arc;

use capstan_aws::{ErrorKind, Notification, Resource};
use capstan_policy::Signal;
use capstan_runner::memory::{ManualClock, Memory};
use capstan_runner::{Clock, Delivery, Report, RunError, Runner, SequentialIds};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

const POLICY: &str = include_str!("../../../capstan.example.toml");

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn api() -> Resource {
    Resource::ecs("main-cluster", "api-service")
}

struct Run {
    memory: Memory,
    clock: ManualClock,
    runner: Runner,
}

/// The example policy's fleet at `now`: api at 4 tasks, frontend 2, ai 2 under target
/// tracking, the web group at 3.
fn run_at(now: &str) -> Run {
    let memory = Memory::example_fleet(4, 2, 2, 3);
    let clock = ManualClock::at(t(now));
    let runner = Runner::with_ports(
        capstan_policy::load(POLICY).unwrap(),
        memory.ports(),
        Arc::new(clock.clone()),
    )
    .with_ids(Arc::new(SequentialIds::default()))
    .with_metrics(false);
    Run {
        memory,
        clock,
        runner,
    }
}

impl Run {
    /// Handles `signal` (as JSON, the way policy tests write it) under `key`, at the clock.
    async fn handle(&self, key: &str, signal: serde_json::Value) -> Result<Report, RunError> {
        let signal: Signal = serde_json::from_value(signal).expect("a signal");
        let delivery = Delivery {
            signal,
            key: key.to_string(),
            at: Some(self.clock.now()),
        };
        let deadline = self.clock.now() + Duration::seconds(30);
        self.runner.handle_by(&delivery, deadline).await
    }

    /// What was published since the last call, and forgets it.
    fn told(&self) -> Vec<Notification> {
        std::mem::take(&mut self.memory.world().published)
    }
}

/// A notification as a person and a subscription filter see it.
fn render(notes: &[Notification]) -> String {
    let mut out = String::new();
    for n in notes {
        out.push_str(&format!(
            "Subject: {}\nAttributes: target={} action={} outcome={}\n\n{}",
            n.sns_subject(),
            n.target,
            n.action,
            n.outcome,
            n.text
        ));
        out.push_str("----\n");
    }
    out
}

/// Compares `notes` with `tests/golden/<name>.txt` (rewrites it under `UPDATE_GOLDEN=1`).
fn golden(name: &str, notes: &[Notification]) {
    assert!(!notes.is_empty(), "{name}: nothing was told");
    for n in notes {
        assert!(
            n.sns_subject().len() < 100,
            "{name}: the subject is too long for SNS: {}",
            n.subject
        );
        assert_eq!(
            n.sns_subject(),
            n.subject,
            "{name}: the subject is plain ASCII"
        );
    }
    let got = render(notes);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run UPDATE_GOLDEN=1 cargo test -p capstan-runner --test golden\n\ngot:\n{got}",
            path.display()
        )
    });
    assert!(
        want == got,
        "{name}: the wording changed; if on purpose, rerun with UPDATE_GOLDEN=1 and read the diff\n\n--- want ({})\n{want}\n--- got\n{got}",
        path.display()
    );
}

fn alarm(name: &str, value: f64) -> serde_json::Value {
    json!({ "alarm": { "name": name, "state": "ALARM", "value": value } })
}

#[tokio::test(start_paused = true)]
async fn an_action() {
    let r = run_at("2026-11-23T10:00:00Z");
    r.handle("alarm:cpu-high:1", alarm("api-cpu-high", 78.4))
        .await
        .unwrap();
    let told = r.told();
    assert!(
        told[0].subject.contains("api 4 -> 5"),
        "{}",
        told[0].subject
    );
    golden("action", &told);
}

#[tokio::test(start_paused = true)]
async fn an_action_with_the_rules_runbook() {
    let r = run_at("2026-11-23T10:00:00Z");
    r.handle("alarm:latency:1", alarm("api-latency-high", 1.42))
        .await
        .unwrap();
    let told = r.told();
    assert_eq!(told.len(), 1, "one notice: the runbook rides on the action");
    assert!(
        told[0].text.starts_with("Done: api 4 -> 5"),
        "{}",
        told[0].text
    );
    golden("action-runbook", &told);
}

#[tokio::test(start_paused = true)]
async fn a_hold_with_the_rules_runbook_says_it_was_not_done() {
    let r = run_at("2026-11-23T10:00:00Z");
    r.handle("alarm:cpu-high:1", alarm("api-cpu-high", 78.4))
        .await
        .unwrap();
    r.told();
    r.clock.advance(Duration::minutes(2));
    r.handle("alarm:latency:1", alarm("api-latency-high", 1.42))
        .await
        .unwrap();
    let told = r.told();
    assert!(
        told[0]
            .text
            .starts_with("Held, not done: api held by cooldown."),
        "{}",
        told[0].text
    );
    assert!(!told[0].text.contains("got one more"), "{}", told[0].text);
    golden("hold-runbook", &told);
}

#[tokio::test(start_paused = true)]
async fn cloudwatchs_suppression() {
    let r = run_at("2026-11-23T15:10:12Z");
    let mut signal = alarm("api-latency-high", 1.42);
    signal["alarm"]["suppressed"] = json!({
        "by": "Alarm",
        "reason": "Alarm api-deploy-in-progress in ALARM"
    });
    r.handle("alarm:latency:2", signal).await.unwrap();
    let told = r.told();
    assert_eq!(r.memory.world().changes.len(), 0, "nothing scaled");
    golden("suppressed-by-cloudwatch", &told);
}

#[tokio::test(start_paused = true)]
async fn a_failure() {
    let r = run_at("2026-11-23T10:00:00Z");
    r.memory.world().refused.insert(api(), ErrorKind::Denied);
    let report = r
        .handle("alarm:cpu-high:1", alarm("api-cpu-high", 78.4))
        .await
        .unwrap();
    assert_eq!(report.results[0].outcome.as_str(), "failed", "{report:#?}");
    golden("failure", &r.told());
}

#[tokio::test(start_paused = true)]
async fn a_budget_cap() {
    let r = run_at("2026-11-23T16:00:00Z");
    r.handle(
        "budget:100",
        json!({ "budget": {
            "budget": "AI-Service-Monthly", "type": "ACTUAL", "threshold_percent": 100.0,
            "budgeted": 5000.0, "amount": 5003.9
        }}),
    )
    .await
    .unwrap();
    let told = r.told();
    assert!(
        told.iter()
            .any(|n| n.subject.contains("ai bounds 2..30 -> 2..2, desired 2")),
        "a bounds-only change names its bounds: {told:#?}"
    );
    golden("budget-cap", &told);
}

#[tokio::test(start_paused = true)]
async fn a_run_time_event() {
    let r = run_at("2026-11-23T10:00:00Z");
    r.handle(
        "event:promo",
        json!({ "event": { "by": "cli:ops", "add": { "name": "promo", "event": {
            "start": "2026-11-23T10:30:00Z", "end": "2026-11-23T12:00:00Z", "lead": "1h",
            "targets": { "api": { "floor": 6 } }
        }}}}),
    )
    .await
    .unwrap();
    golden("event", &r.told());
}

#[tokio::test(start_paused = true)]
async fn a_notify_only_rule() {
    let r = run_at("2026-11-23T10:31:00Z");
    r.handle("alarm:iops:1", alarm("db-primary-iops-maxed", 3000.0))
        .await
        .unwrap();
    golden("notify-only", &r.told());
}

#[tokio::test(start_paused = true)]
async fn a_digest() {
    // Capstan ticked at 07:00; at 08:00 business hours begin and morning-scale-up comes round.
    let r = run_at("2026-11-23T07:00:00Z");
    r.handle("tick:2026-11-23T07:00:00Z", json!({ "tick": {} }))
        .await
        .unwrap();
    r.told();
    r.clock.advance(Duration::hours(1));
    r.handle("tick:2026-11-23T08:00:00Z", json!({ "tick": {} }))
        .await
        .unwrap();
    golden("digest", &r.told());
}

#[tokio::test(start_paused = true)]
async fn a_missed_occurrence() {
    // Capstan ticked at 07:00; the next tick comes at 09:00, an hour after morning-scale-up.
    let r = run_at("2026-11-23T07:00:00Z");
    r.handle("tick:2026-11-23T07:00:00Z", json!({ "tick": {} }))
        .await
        .unwrap();
    r.told();
    r.clock.advance(Duration::hours(2));
    r.handle("tick:2026-11-23T09:00:00Z", json!({ "tick": {} }))
        .await
        .unwrap();
    let told: Vec<Notification> = r
        .told()
        .into_iter()
        .filter(|n| n.action == "notify")
        .collect();
    golden("missed-occurrence", &told);
}
