//! The audit trail: every command, confirmation asked for and refusal is on the record (who,
//! channel, verb, target, before and after, outcome), once however often it is delivered.

use std::sync::Arc;

use capstan_aws::Resource;
use capstan_policy::signal::{CommandSignal, Signal};
use capstan_policy::state::BudgetCap;
use capstan_runner::memory::{ManualClock, Memory};
use capstan_runner::{Delivery, Report, Runner, SequentialIds};
use capstan_store::LogEntry;
use chrono::{DateTime, Duration, Utc};

const POLICY: &str = include_str!("../../../capstan.example.toml");
/// The on-call operator of the example's grant, and their channel.
const ONCALL: &str = "U2147483697";
const OPS: &str = "C2147483705";

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn ecs(service: &str) -> Resource {
    Resource::ecs("main-cluster", service)
}

/// A Monday in business hours (api 4..20), api at 4, the rest at their floors.
fn world() -> (Memory, Runner) {
    let m = Memory::example_fleet(4, 2, 2, 2);
    let clock = ManualClock::at(t("2026-12-07T10:00:00Z"));
    let runner = Runner::with_ports(
        capstan_policy::load(POLICY).unwrap(),
        m.ports(),
        Arc::new(clock),
    )
    .with_ids(Arc::new(SequentialIds::default()))
    .with_metrics(false);
    (m, runner)
}

fn command(user: &str, channel: &str, text: &str, confirmed: bool) -> Signal {
    Signal::Command(CommandSignal {
        user: user.into(),
        channel: channel.into(),
        text: text.into(),
        confirmed,
    })
}

async fn send(r: &Runner, key: &str, signal: Signal) -> Report {
    r.handle(&Delivery {
        signal,
        key: key.into(),
        at: None,
    })
    .await
    .unwrap_or_else(|e| panic!("{key}: {e}"))
}

/// The log entries of `key`.
fn logged(m: &Memory, key: &str) -> Vec<LogEntry> {
    m.world()
        .log
        .iter()
        .filter(|e| e.key == key)
        .cloned()
        .collect()
}

/// The one entry of `key`.
fn one(m: &Memory, key: &str) -> LogEntry {
    let entries = logged(m, key);
    assert_eq!(entries.len(), 1, "{key}: {entries:#?}");
    entries.into_iter().next().unwrap()
}

#[tokio::test]
async fn a_change_names_who_asked_with_which_verb_and_from_where() {
    let (m, r) = world();
    send(&r, "cli:1", command("cli:ana", "", "scale api 6", true)).await;
    let e = one(&m, "cli:1");
    assert_eq!(e.target, "api");
    assert_eq!(e.by.as_deref(), Some("cli:ana"));
    assert_eq!(e.channel, None, "the CLI has no channel");
    assert_eq!(e.verb.as_deref(), Some("scale"));
    assert_eq!(e.outcome, "changed");
    assert_eq!(
        (e.from.unwrap().desired, e.to.unwrap().desired),
        (4, 6),
        "{e:#?}"
    );
    assert_eq!(e.source, "command:cli:ana");

    send(&r, "slack:2", command(ONCALL, OPS, "undo api", false)).await;
    let e = one(&m, "slack:2");
    assert_eq!(
        (e.by.as_deref(), e.channel.as_deref(), e.verb.as_deref()),
        (Some(ONCALL), Some(OPS), Some("undo"))
    );
    assert_eq!(e.outcome, "changed");
    assert_eq!(m.live(&ecs("api-service")).unwrap().desired, 4);

    // Stored as JSON without the fields an alarm's entry has no use for.
    let alarm_like = LogEntry {
        key: "k".into(),
        ..LogEntry::default()
    };
    let doc = serde_json::to_value(&alarm_like).unwrap();
    assert!(
        doc.get("by").is_none() && doc.get("verb").is_none(),
        "{doc}"
    );
    let back: LogEntry = serde_json::from_value(doc).unwrap();
    assert_eq!(back, alarm_like);
}

#[tokio::test]
async fn every_refusal_is_on_the_record_and_changes_nothing() {
    let (m, r) = world();
    let before = m.world().live.clone();

    // Not granted, on a target: logged on it.
    send(
        &r,
        "slack:a",
        command("U0STRANGER", "C1", "scale api 6", false),
    )
    .await;
    let e = one(&m, "slack:a");
    assert_eq!(e.target, "api");
    assert_eq!(e.outcome, "not-allowed");
    assert_eq!(
        (e.by.as_deref(), e.channel.as_deref(), e.verb.as_deref()),
        (Some("U0STRANGER"), Some("C1"), Some("scale"))
    );

    // Not granted, on no target: logged on `*`.
    send(
        &r,
        "slack:b",
        command("U0STRANGER", "C1", "lift-cap AI-Service-Monthly", false),
    )
    .await;
    let e = one(&m, "slack:b");
    assert_eq!(
        (e.target.as_str(), e.outcome.as_str()),
        ("*", "not-allowed")
    );
    assert_eq!(e.verb.as_deref(), Some("lift-cap"));

    // A command that cannot be parsed: on `*`, without a verb; the signal quotes it.
    send(&r, "slack:c", command(ONCALL, OPS, "reboot api", false)).await;
    let e = one(&m, "slack:c");
    assert_eq!(
        (e.target.as_str(), e.outcome.as_str()),
        ("*", "bad-command")
    );
    assert_eq!(e.verb, None);
    assert!(e.signal.contains("reboot api"), "{e:#?}");
    assert_eq!(e.by.as_deref(), Some(ONCALL));

    // A target the policy does not have.
    send(&r, "cli:d", command("cli:ana", "", "scale nope 3", true)).await;
    let e = one(&m, "cli:d");
    assert_eq!(
        (e.target.as_str(), e.outcome.as_str()),
        ("*", "unknown-target")
    );
    assert!(e.explanation.contains("nope"), "{e:#?}");

    // Above the ceiling without --force.
    send(&r, "cli:e", command("cli:ana", "", "scale api 50", true)).await;
    let e = one(&m, "cli:e");
    assert_eq!(
        (e.target.as_str(), e.outcome.as_str()),
        ("api", "at-ceiling")
    );

    // A change above confirm_above, not confirmed: the confirmation asked for is recorded.
    send(&r, "slack:f", command(ONCALL, OPS, "scale api 12", false)).await;
    let e = one(&m, "slack:f");
    assert_eq!(
        (e.target.as_str(), e.outcome.as_str()),
        ("api", "needs-confirmation")
    );
    assert_eq!(e.channel.as_deref(), Some(OPS));

    // A lift-cap from Slack always waits for its confirmation: on `*`.
    let now = r.now();
    m.world().global.caps.push(BudgetCap {
        budget: "AI-Service-Monthly".into(),
        rule: "ai-spend-100".into(),
        since: now - Duration::hours(1),
        until: now + Duration::days(3),
    });
    send(
        &r,
        "slack:g",
        command(ONCALL, OPS, "lift-cap AI-Service-Monthly", false),
    )
    .await;
    let e = one(&m, "slack:g");
    assert_eq!(
        (e.target.as_str(), e.outcome.as_str()),
        ("*", "needs-confirmation")
    );

    assert_eq!(m.world().live, before, "nothing changed on AWS");
    assert_eq!(m.world().global.caps.len(), 1, "the cap holds");
    assert!(m.world().changes.is_empty());
}

#[tokio::test]
async fn nothing_to_do_is_recorded_and_not_announced() {
    let (m, r) = world();
    let report = send(&r, "cli:1", command("cli:ana", "", "scale api 4", true)).await;
    assert_eq!(report.results[0].reason.as_deref(), Some("already-right"));
    let e = one(&m, "cli:1");
    assert_eq!(
        (e.target.as_str(), e.outcome.as_str()),
        ("api", "already-right")
    );
    assert!(m.world().published.is_empty(), "{:#?}", m.world().published);
}

#[tokio::test]
async fn pause_pin_and_resume_are_on_the_record() {
    let (m, r) = world();
    send(&r, "cli:p", command("cli:ana", "", "pause api 2h", true)).await;
    let e = one(&m, "cli:p");
    assert_eq!(
        (e.target.as_str(), e.outcome.as_str(), e.verb.as_deref()),
        ("api", "paused", Some("pause"))
    );
    assert!(e.explanation.contains("paused by cli:ana"), "{e:#?}");

    send(&r, "cli:r", command("cli:ana", "", "resume api", true)).await;
    let e = one(&m, "cli:r");
    assert_eq!((e.target.as_str(), e.outcome.as_str()), ("api", "resumed"));

    // Nothing to resume: what the engine said is the record, on `*`.
    send(&r, "cli:r2", command("cli:ana", "", "resume api", true)).await;
    let e = one(&m, "cli:r2");
    assert_eq!((e.target.as_str(), e.outcome.as_str()), ("*", "noted"));
    assert!(e.explanation.contains("api was not paused"), "{e:#?}");

    send(
        &r,
        "cli:pin",
        command("cli:ana", "", "pause web 30m pin 3", true),
    )
    .await;
    let e = one(&m, "cli:pin");
    assert_eq!((e.target.as_str(), e.outcome.as_str()), ("web", "pinned"));
}

#[tokio::test]
async fn events_and_caps_are_on_the_record_under_star() {
    let (m, r) = world();
    send(
        &r,
        "cli:ev",
        command(
            "cli:ana",
            "",
            "event add promo 2026-12-08T08:00Z 2026-12-08T20:00Z api=floor:10",
            true,
        ),
    )
    .await;
    assert!(
        m.world().global.events.contains_key("promo"),
        "{:#?}",
        logged(&m, "cli:ev")
    );
    let e = one(&m, "cli:ev");
    assert_eq!(
        (e.target.as_str(), e.outcome.as_str(), e.verb.as_deref()),
        ("*", "changed", Some("event"))
    );

    send(
        &r,
        "cli:evc",
        command("cli:ana", "", "event cancel promo", true),
    )
    .await;
    assert!(m.world().global.events.is_empty());
    let e = one(&m, "cli:evc");
    assert_eq!((e.target.as_str(), e.outcome.as_str()), ("*", "changed"));

    // A run-time event request names who asked.
    let cancel: Signal =
        serde_json::from_value(serde_json::json!({"event": {"by": "ops", "cancel": "launch"}}))
            .unwrap();
    send(&r, "event:x", cancel).await;
    let e = one(&m, "event:x");
    assert_eq!(e.target, "*");
    assert_eq!(e.by.as_deref(), Some("ops"));
    assert_eq!(e.verb.as_deref(), Some("event"));

    let now = r.now();
    m.world().global.caps.push(BudgetCap {
        budget: "AI-Service-Monthly".into(),
        rule: "ai-spend-100".into(),
        since: now - Duration::hours(1),
        until: now + Duration::days(3),
    });
    send(
        &r,
        "cli:lift",
        command("cli:ana", "", "lift-cap AI-Service-Monthly", true),
    )
    .await;
    let entries = logged(&m, "cli:lift");
    let star: Vec<&LogEntry> = entries.iter().filter(|e| e.target == "*").collect();
    assert_eq!(star.len(), 1, "{entries:#?}");
    assert_eq!(star[0].outcome, "changed");
    assert!(
        star[0].explanation.contains("lifted early by cli:ana"),
        "{entries:#?}"
    );
}

#[tokio::test]
async fn a_redelivered_command_is_recorded_once() {
    let (m, r) = world();
    for _ in 0..3 {
        send(&r, "slack:x", command("U0STRANGER", "C1", "reboot", false)).await;
        send(&r, "cli:y", command("cli:ana", "", "scale api 6", true)).await;
        send(&r, "cli:z", command("cli:ana", "", "resume api", true)).await;
    }
    one(&m, "slack:x");
    one(&m, "cli:y");
    one(&m, "cli:z");
    assert_eq!(m.live(&ecs("api-service")).unwrap().desired, 6);
}

#[tokio::test]
async fn every_entry_names_the_policy_version_that_decided_it() {
    let (m, r) = world();
    let r = r.with_policy_version("7");
    assert_eq!(r.policy_version(), Some("7"));
    send(&r, "cli:1", command("cli:ana", "", "scale api 6", true)).await;
    send(
        &r,
        "slack:2",
        command("U0NOBODY", OPS, "scale api 30", false),
    )
    .await;
    send(&r, "slack:3", command(ONCALL, OPS, "pause api", false)).await;
    let log = m.world().log.clone();
    assert!(log.len() >= 3, "{log:#?}");
    for e in &log {
        assert_eq!(e.policy_version.as_deref(), Some("7"), "{e:#?}");
    }
    let doc = serde_json::to_value(&log[0]).unwrap();
    assert_eq!(doc["policy_version"], "7");

    // A runner without a version writes none, and entries from before the field read back.
    let (m, r) = world();
    send(&r, "cli:1", command("cli:ana", "", "scale api 6", true)).await;
    let e = one(&m, "cli:1");
    assert_eq!(e.policy_version, None);
    assert!(serde_json::to_value(&e)
        .unwrap()
        .get("policy_version")
        .is_none());
    let old = serde_json::json!({
        "at": "2026-12-01T10:00:00Z", "key": "k", "target": "api", "source": "rule:x",
        "signal": "s", "outcome": "changed", "explanation": "e"
    });
    let back: LogEntry = serde_json::from_value(old).unwrap();
    assert_eq!(back.policy_version, None);
}
