//! The `schedule-handler` function end to end: EventBridge Scheduler ticks and explicit requests
//! (apply, add-event, cancel-event) through the real handler over moto, with the example policy
//! (or a variant of it) and a clock the test moves. Every test checks what moto holds (desired
//! counts, scalable targets), the state table (records, log, item count) and what was published.
//!
//! Dates: 2026-11-23 is a Monday; business hours (api 4..20) are 08:00-20:00 Mon-Fri and the
//! night (api 2..10) from 20:00 to 08:00 the next morning, for nights beginning Mon-Fri.

mod support;

use capstan_store::{LogEntry, TargetRecord};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use support::*;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The one result for `target` in a response.
fn result(resp: &Value, target: &str) -> Value {
    let mut found: Vec<Value> = results(resp)
        .into_iter()
        .filter(|r| r["target"] == target)
        .collect();
    assert_eq!(found.len(), 1, "one result for {target} in {resp:#}");
    found.remove(0)
}

/// The changes a response reports, as `target from->to min..max`.
fn changes(resp: &Value) -> Vec<String> {
    results(resp)
        .iter()
        .filter(|r| r["outcome"] == "changed")
        .map(|r| {
            format!(
                "{} {}->{} {}..{}",
                r["target"].as_str().unwrap(),
                r["from"]["desired"],
                r["to"]["desired"],
                r["to"]["min"],
                r["to"]["max"]
            )
        })
        .collect()
}

/// How many items the state table holds.
async fn items(w: &World) -> i32 {
    aws_sdk_dynamodb::Client::new(&w.sdk)
        .scan()
        .table_name(TABLE)
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .unwrap()
        .count()
}

/// How many notifications wait in the queue (without reading them).
async fn queued(w: &World) -> usize {
    use aws_sdk_sqs::types::QueueAttributeName;
    let out = w
        .sqs
        .get_queue_attributes()
        .queue_url(&w.queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
        .map(|n| n.parse().unwrap())
        .unwrap_or(0)
}

/// Reads the published notifications, if any (without waiting when there are none).
async fn drain(w: &World) -> Vec<Value> {
    if queued(w).await == 0 {
        return Vec::new();
    }
    w.notifications().await
}

/// The subjects of notifications.
fn subjects(published: &[Value]) -> Vec<String> {
    published
        .iter()
        .map(|n| n["_subject"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The one message people get for a tick that changed something: its digest. Returns the
/// targets it lists, as `target from->to`, by name; no per-target message of a change besides.
fn digest(published: &[Value]) -> Vec<String> {
    let digests: Vec<&Value> = published
        .iter()
        .filter(|n| n["_attributes"]["action"] == "digest")
        .collect();
    assert_eq!(digests.len(), 1, "one digest per tick: {published:#?}");
    assert!(
        published
            .iter()
            .all(|n| n["_attributes"]["action"] == "digest"
                || n["_attributes"]["outcome"] != "changed"),
        "no message of its own per change: {published:#?}"
    );
    let d = digests[0];
    assert_eq!(d["_attributes"]["target"], "*");
    d["body"]["digest"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}->{}",
                e["target"].as_str().unwrap(),
                e["from"]["desired"],
                e["to"]["desired"]
            )
        })
        .collect()
}

/// Capstan's record of a target.
async fn record(w: &World, target: &str) -> TargetRecord {
    let mut records = w.store.load_targets(&[target.to_string()]).await.unwrap();
    records
        .remove(target)
        .unwrap_or_else(|| panic!("no record for {target}"))
}

/// The bounds Capstan's record holds for a target: (min, max).
async fn bounds(w: &World, target: &str) -> (u32, u32) {
    let r = record(w, target).await;
    (r.state.min, r.state.max)
}

/// The changes in a target's action log made by `source`, oldest first.
async fn applied_by(w: &World, target: &str, source: &str) -> Vec<LogEntry> {
    let mut log: Vec<LogEntry> = w
        .store
        .recent_log(target, 200)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.outcome == "changed" && e.source == source)
        .collect();
    log.reverse();
    log
}

/// A tick that must change nothing, write nothing and say nothing (the queue must be empty
/// before it).
async fn quiet(w: &World, at: DateTime<Utc>) -> Value {
    let before = items(w).await;
    let r = w.tick(at).await;
    assert!(changes(&r).is_empty(), "tick for {at} changed: {r:#}");
    assert!(notices(&r).is_empty(), "tick for {at} said: {r:#}");
    assert_eq!(items(w).await, before, "tick for {at} wrote to the table");
    assert_eq!(queued(w).await, 0, "tick for {at} published");
    r
}

/// Quiet ticks every `step` from `from` to `to`, both included.
async fn quiet_ticks(w: &World, from: &str, to: &str, step: i64) {
    let (mut at, to) = (t(from), t(to));
    while at <= to {
        quiet(w, at).await;
        at += Duration::minutes(step);
    }
}

/// An operator sets a service's desired count with the ECS API, behind Capstan's back.
async fn operator_sets(w: &World, service: &str, count: i32) {
    w.clients
        .ecs
        .update_service()
        .cluster(CLUSTER)
        .service(service)
        .desired_count(count)
        .send()
        .await
        .unwrap();
}

/// The example policy in Europe/Berlin, its periods on every day of the week (the DST changes
/// fall on Sundays).
fn berlin_policy() -> String {
    let text = example_policy_text();
    assert_eq!(text.matches("zone = \"UTC\"").count(), 1);
    assert_eq!(text.matches("weekdays = [\"mon-fri\"]\n").count(), 2);
    let text = text
        .replace("zone = \"UTC\"", "zone = \"Europe/Berlin\"")
        .replace("weekdays = [\"mon-fri\"]\n", "");
    write_policy("berlin", &text)
}

async fn berlin_world() -> World {
    World::with(Seed {
        policy: Some(berlin_policy()),
        ..Seed::default()
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// 1. Business hours and night in UTC
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn business_hours_and_night_transitions_on_a_weekday_in_utc() {
    let w = World::new().await;
    // Tuesday 07:40: the night that began on Monday 20:00 holds (api 2..10). The first tick
    // records api's bounds (and calls none of the last day's occurrences missed).
    let r = w.tick(t("2026-11-24T07:40:00Z")).await;
    assert_eq!(changes(&r), ["api 3->3 2..10"]);
    assert_eq!(bounds(&w, "api").await, (2, 10));
    drain(&w).await;

    // Before the boundary nothing changes, nothing is written or said.
    quiet_ticks(&w, "2026-11-24T07:45:00Z", "2026-11-24T07:55:00Z", 5).await;
    assert_eq!(w.desired("api-service").await, 3);

    // 08:00: business hours raise api's floor to 4; the morning occurrence sets frontend to 4.
    let log_before = w.store.recent_log("api", 100).await.unwrap().len();
    let r = w.tick(t("2026-11-24T08:00:00Z")).await;
    assert_eq!(changes(&r), ["api 3->4 4..20", "frontend 2->4 2..10"]);
    assert!(
        result(&r, "api")["explanation"]
            .as_str()
            .unwrap()
            .contains("period business-hours holds: 4..20"),
        "{r:#}"
    );
    assert_eq!(w.desired("api-service").await, 4);
    assert_eq!(w.desired("frontend-service").await, 4);
    assert_eq!(bounds(&w, "api").await, (4, 20));
    assert_eq!(
        w.store.recent_log("api", 100).await.unwrap().len(),
        log_before + 1
    );
    // One digest for both changes: by how much, and why.
    let published = drain(&w).await;
    assert_eq!(digest(&published), ["api 3->4", "frontend 2->4"]);
    let text = published[0]["_text"].as_str().unwrap();
    assert!(text.contains("api 3 -> 4 (+1)"), "{text}");
    assert!(text.contains("frontend 2 -> 4 (+2)"), "{text}");
    assert!(text.contains("why: schedule:"), "{text}");
    assert_eq!(
        record(&w, "api").await.tick_at,
        Some(t("2026-11-24T08:00:00Z"))
    );

    // After it: quiet.
    quiet_ticks(&w, "2026-11-24T08:05:00Z", "2026-11-24T08:15:00Z", 5).await;

    // During the day the service grew to 14 (autoscaling, people): within 4..20, left alone.
    operator_sets(&w, "api-service", 14).await;
    quiet_ticks(&w, "2026-11-24T19:45:00Z", "2026-11-24T19:55:00Z", 5).await;
    assert_eq!(w.desired("api-service").await, 14);

    // 20:00: the night's bounds 2..10; desired above the ceiling comes down to it.
    let r = w.tick(t("2026-11-24T20:00:00Z")).await;
    assert_eq!(changes(&r), ["api 14->10 2..10"]);
    assert!(
        result(&r, "api")["explanation"]
            .as_str()
            .unwrap()
            .contains("period night holds: 2..10"),
        "{r:#}"
    );
    assert_eq!(w.desired("api-service").await, 10);
    assert_eq!(bounds(&w, "api").await, (2, 10));
    let published = drain(&w).await;
    assert_eq!(digest(&published), ["api 14->10"]);
    assert!(
        subjects(&published)[0].contains("1 lowered"),
        "{published:#?}"
    );

    quiet_ticks(&w, "2026-11-24T20:05:00Z", "2026-11-24T20:15:00Z", 5).await;
    assert_eq!(w.desired("api-service").await, 10);
    // The other targets were never touched.
    assert_eq!(w.scalable("ai-service").await, (2, 30));
    assert_eq!(w.group().await, (2, 2, 15));
}

/// (Formerly `ticks.rs`, now through the handler.) A Monday: the first tick calls nothing
/// missed; 08:00 applies business hours and the morning occurrence once; the
/// same tick again writes nothing; a count an operator sets afterwards is left alone.
#[tokio::test]
async fn business_hours_and_the_morning_occurrence_apply_once_then_ticks_write_nothing() {
    let w = World::new().await;
    // Monday 07:55: no night (Sunday begins none), api 2..20 holds 3. This is the
    // deployment's first tick: the occurrences of the last day were never Capstan's to apply,
    // so none is called missed (nor applied).
    let r = w.tick(t("2026-11-23T07:55:00Z")).await;
    assert!(changes(&r).is_empty(), "{r:#}");
    let first = notices(&r);
    assert!(
        !first.iter().any(|n| n.contains("missed")),
        "a first tick misses nothing: {first:?}"
    );
    assert_eq!(w.desired("frontend-service").await, 2);
    drain(&w).await;

    // 08:00: business hours raise api's floor to 4; the morning scale-up sets frontend to 4.
    let r = w.tick(t("2026-11-23T08:00:00Z")).await;
    assert_eq!(changes(&r), ["api 3->4 4..20", "frontend 2->4 2..10"]);
    assert_eq!(w.desired("api-service").await, 4);
    assert_eq!(w.desired("frontend-service").await, 4);
    assert_eq!(digest(&drain(&w).await), ["api 3->4", "frontend 2->4"]);

    // The same tick again, and the next one: everything is right, nothing is written or said.
    quiet(&w, t("2026-11-23T08:00:00Z")).await;
    quiet(&w, t("2026-11-23T08:05:00Z")).await;

    // An operator sets frontend to 7 by hand: the occurrence is not applied again.
    operator_sets(&w, "frontend-service", 7).await;
    quiet(&w, t("2026-11-23T08:10:00Z")).await;
    assert_eq!(w.desired("frontend-service").await, 7);
    assert_eq!(
        applied_by(&w, "frontend", "schedule:morning-scale-up")
            .await
            .len(),
        1
    );
}

// ---------------------------------------------------------------------------------------------
// 2. A DST zone, both transition days
// ---------------------------------------------------------------------------------------------

/// Europe/Berlin, Sunday 2026-03-29: clocks go from 02:00 CET (UTC+1) to 03:00 CEST (UTC+2).
/// docs/policy.md ("Time zones, DST and holidays"): 08:00 stays 08:00 local, so the business
/// hours begin at 07:00Z on Saturday and at 06:00Z on Sunday; the 02:00 occurrence, a local time
/// that does not exist, happens once, at the first instant after the gap (03:00 CEST = 01:00Z).
#[tokio::test]
async fn dst_spring_forward_in_berlin() {
    let w = berlin_world().await;
    // Saturday 07:30 CET: the night begun on Friday 20:00 CET holds.
    let r = w.tick(t("2026-03-28T06:30:00Z")).await;
    assert_eq!(changes(&r), ["api 3->3 2..10"]);
    drain(&w).await;
    quiet(&w, t("2026-03-28T06:55:00Z")).await;
    // 08:00 CET = 07:00Z.
    let r = w.tick(t("2026-03-28T07:00:00Z")).await;
    assert_eq!(changes(&r), ["api 3->4 4..20", "frontend 2->4 2..10"]);
    drain(&w).await;
    // 20:00 CET = 19:00Z.
    quiet(&w, t("2026-03-28T18:55:00Z")).await;
    let r = w.tick(t("2026-03-28T19:00:00Z")).await;
    assert_eq!(changes(&r), ["api 4->4 2..10"]);
    drain(&w).await;

    // Sunday: nothing until 01:55 CET; 02:00 does not exist, the occurrence happens at 01:00Z.
    quiet_ticks(&w, "2026-03-29T00:45:00Z", "2026-03-29T00:55:00Z", 5).await;
    let r = w.tick(t("2026-03-29T01:00:00Z")).await;
    assert_eq!(changes(&r), ["frontend 4->2 2..10"]);
    assert_eq!(w.desired("frontend-service").await, 2);
    assert_eq!(digest(&drain(&w).await), ["frontend 4->2"]);
    quiet(&w, t("2026-03-29T01:05:00Z")).await;

    // Exactly once: with other counts set by hand, no later tick applies it again.
    operator_sets(&w, "frontend-service", 3).await;
    operator_sets(&w, "api-service", 3).await;
    quiet_ticks(&w, "2026-03-29T01:10:00Z", "2026-03-29T02:30:00Z", 10).await;
    assert_eq!(w.desired("frontend-service").await, 3);
    let once = applied_by(&w, "frontend", "schedule:nightly-scale-down").await;
    assert_eq!(once.len(), 1, "{once:#?}");
    assert_eq!(once[0].at, t("2026-03-29T01:00:00Z"));

    // 08:00 CEST = 06:00Z: still night at 05:55Z.
    quiet(&w, t("2026-03-29T05:55:00Z")).await;
    assert_eq!(bounds(&w, "api").await, (2, 10));
    let r = w.tick(t("2026-03-29T06:00:00Z")).await;
    assert_eq!(changes(&r), ["api 3->4 4..20", "frontend 3->4 2..10"]);
    assert_eq!(w.desired("api-service").await, 4);
    assert_eq!(w.desired("frontend-service").await, 4);
    assert_eq!(digest(&drain(&w).await), ["api 3->4", "frontend 3->4"]);
}

/// Europe/Berlin, Sunday 2026-10-25: clocks go back from 03:00 CEST (UTC+2) to 02:00 CET
/// (UTC+1), so 02:00-02:59 happens twice. docs/policy.md: a repeated local time happens once,
/// at its first instant (02:00 CEST = 00:00Z), never again at 01:00Z (02:00 CET); 08:00 CET is
/// 07:00Z (06:00Z the day before).
#[tokio::test]
async fn dst_fall_back_in_berlin() {
    let w = berlin_world().await;
    // Saturday 07:30 CEST.
    let r = w.tick(t("2026-10-24T05:30:00Z")).await;
    assert_eq!(changes(&r), ["api 3->3 2..10"]);
    drain(&w).await;
    quiet(&w, t("2026-10-24T05:55:00Z")).await;
    // 08:00 CEST = 06:00Z.
    let r = w.tick(t("2026-10-24T06:00:00Z")).await;
    assert_eq!(changes(&r), ["api 3->4 4..20", "frontend 2->4 2..10"]);
    drain(&w).await;
    // 20:00 CEST = 18:00Z.
    quiet(&w, t("2026-10-24T17:55:00Z")).await;
    let r = w.tick(t("2026-10-24T18:00:00Z")).await;
    assert_eq!(changes(&r), ["api 4->4 2..10"]);
    drain(&w).await;

    // 02:00 CEST, the first pass, is 00:00Z.
    quiet(&w, t("2026-10-24T23:55:00Z")).await;
    let r = w.tick(t("2026-10-25T00:00:00Z")).await;
    assert_eq!(changes(&r), ["frontend 4->2 2..10"]);
    assert_eq!(digest(&drain(&w).await), ["frontend 4->2"]);
    quiet(&w, t("2026-10-25T00:05:00Z")).await;

    // The second pass of 02:00 (01:00Z) does not apply it again.
    operator_sets(&w, "frontend-service", 3).await;
    operator_sets(&w, "api-service", 3).await;
    quiet_ticks(&w, "2026-10-25T00:10:00Z", "2026-10-25T01:30:00Z", 10).await;
    assert_eq!(w.desired("frontend-service").await, 3);
    let once = applied_by(&w, "frontend", "schedule:nightly-scale-down").await;
    assert_eq!(once.len(), 1, "{once:#?}");
    assert_eq!(once[0].at, t("2026-10-25T00:00:00Z"));

    // 08:00 CET = 07:00Z: at 06:00Z (08:00 the day before) it is still night.
    quiet(&w, t("2026-10-25T06:00:00Z")).await;
    quiet(&w, t("2026-10-25T06:55:00Z")).await;
    assert_eq!(bounds(&w, "api").await, (2, 10));
    let r = w.tick(t("2026-10-25T07:00:00Z")).await;
    assert_eq!(changes(&r), ["api 3->4 4..20", "frontend 3->4 2..10"]);
    assert_eq!(w.desired("api-service").await, 4);
    assert_eq!(digest(&drain(&w).await), ["api 3->4", "frontend 3->4"]);
}

// ---------------------------------------------------------------------------------------------
// 3. A holiday
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_holiday_has_no_business_hours_floor_and_the_next_working_day_does() {
    let w = World::new().await;
    // Friday 2026-12-25 07:30: the night that began on Thursday holds (the night has no
    // holidays).
    let r = w.tick(t("2026-12-25T07:30:00Z")).await;
    assert_eq!(changes(&r), ["api 3->3 2..10"]);
    drain(&w).await;
    quiet(&w, t("2026-12-25T07:55:00Z")).await;

    // 08:00: the night ends; business hours are suspended (company holiday): api 2..20, its
    // desired count stays 3. The morning occurrence names no holidays: frontend goes to 4.
    let r = w.tick(t("2026-12-25T08:00:00Z")).await;
    assert_eq!(changes(&r), ["api 3->3 2..20", "frontend 2->4 2..10"]);
    let why = result(&r, "api")["explanation"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!why.contains("business-hours"), "{why}");
    assert_eq!(w.desired("api-service").await, 3);
    assert_eq!(bounds(&w, "api").await, (2, 20));
    drain(&w).await;

    // Lowered to 2 by hand at 09:00: with no business-hours floor, it stays 2.
    operator_sets(&w, "api-service", 2).await;
    quiet_ticks(&w, "2026-12-25T09:05:00Z", "2026-12-25T09:15:00Z", 5).await;
    assert_eq!(w.desired("api-service").await, 2);

    // The next working day, Monday 2026-12-28: 2..20 until 08:00, then business hours.
    let r = w.tick(t("2026-12-28T07:55:00Z")).await;
    assert!(changes(&r).iter().all(|c| !c.starts_with("api")), "{r:#}");
    drain(&w).await;
    let r = w.tick(t("2026-12-28T08:00:00Z")).await;
    assert_eq!(changes(&r)[0], "api 2->4 4..20", "{r:#}");
    assert_eq!(w.desired("api-service").await, 4);
    assert_eq!(bounds(&w, "api").await, (4, 20));
    drain(&w).await;

    // The range 2026-12-31..2027-01-01: Thursday 12-31 has no business hours either.
    let r = w.tick(t("2026-12-31T07:55:00Z")).await;
    assert!(changes(&r).contains(&"api 4->4 2..10".to_string()), "{r:#}");
    drain(&w).await;
    operator_sets(&w, "api-service", 2).await;
    let r = w.tick(t("2026-12-31T08:00:00Z")).await;
    assert!(changes(&r).contains(&"api 2->2 2..20".to_string()), "{r:#}");
    assert_eq!(w.desired("api-service").await, 2);
}

// ---------------------------------------------------------------------------------------------
// 4. The 02:00 scale-down, once
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_nightly_scale_down_applies_once_and_leaves_an_operator_count_alone() {
    let w = World::with(Seed {
        frontend: 6,
        ..Seed::default()
    })
    .await;
    // Tuesday 01:40: the first tick (it marks yesterday's occurrences as seen, calls none missed).
    w.tick(t("2026-11-24T01:40:00Z")).await;
    drain(&w).await;
    assert_eq!(w.desired("frontend-service").await, 6);
    quiet(&w, t("2026-11-24T01:55:00Z")).await;

    let r = w.tick(t("2026-11-24T02:00:00Z")).await;
    assert_eq!(changes(&r), ["frontend 6->2 2..10"]);
    assert_eq!(w.desired("frontend-service").await, 2);
    let published = drain(&w).await;
    assert_eq!(digest(&published), ["frontend 6->2"]);
    assert!(
        published[0]["_text"]
            .as_str()
            .unwrap()
            .contains("why: schedule:nightly-scale-down"),
        "{published:#?}"
    );
    assert_eq!(
        record(&w, "frontend").await.state.occurrences["nightly-scale-down"],
        t("2026-11-24T02:00:00Z")
    );

    // The same tick again (a retry), and the next one: nothing.
    quiet(&w, t("2026-11-24T02:00:00Z")).await;
    quiet(&w, t("2026-11-24T02:05:00Z")).await;

    // 02:07: an operator sets 5 by hand; within 2..10 it stays.
    operator_sets(&w, "frontend-service", 5).await;
    for at in ["02:10", "02:15", "02:30", "03:00"] {
        quiet(&w, t(&format!("2026-11-24T{at}:00Z"))).await;
    }
    assert_eq!(w.desired("frontend-service").await, 5);
    assert_eq!(
        applied_by(&w, "frontend", "schedule:nightly-scale-down")
            .await
            .len(),
        1
    );

    // The next night's occurrence is a new one: it applies.
    w.tick(t("2026-11-25T01:55:00Z")).await;
    drain(&w).await;
    assert_eq!(w.desired("frontend-service").await, 5);
    let r = w.tick(t("2026-11-25T02:00:00Z")).await;
    assert_eq!(changes(&r), ["frontend 5->2 2..10"]);
    assert_eq!(
        applied_by(&w, "frontend", "schedule:nightly-scale-down")
            .await
            .len(),
        2
    );
}

/// An occurrence that finds the count already right is recorded (so that it is never applied
/// later) and, like every tick that finds everything right, says nothing.
#[tokio::test]
async fn an_occurrence_that_finds_the_count_right_is_recorded_and_says_nothing() {
    let w = World::new().await;
    w.tick(t("2026-11-24T01:40:00Z")).await;
    drain(&w).await;
    quiet(&w, t("2026-11-24T01:55:00Z")).await;
    // frontend is already 2 when the 02:00 scale-down to 2 comes round.
    let r = w.tick(t("2026-11-24T02:00:00Z")).await;
    assert!(changes(&r).is_empty(), "{r:#}");
    assert!(notices(&r).is_empty(), "{r:#}");
    assert_eq!(
        record(&w, "frontend").await.state.occurrences["nightly-scale-down"],
        t("2026-11-24T02:00:00Z")
    );
    let published = drain(&w).await;
    assert!(published.is_empty(), "{:#?}", subjects(&published));
}

// ---------------------------------------------------------------------------------------------
// 5. Missed ticks
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_missed_tick_heals_within_the_catch_up_window() {
    let w = World::new().await;
    w.tick(t("2026-11-24T07:30:00Z")).await;
    drain(&w).await;
    quiet_ticks(&w, "2026-11-24T07:45:00Z", "2026-11-24T07:50:00Z", 5).await;
    // No ticks at 07:55, 08:00, 08:05. At 08:10 the 08:00 occurrence is 10 minutes old: applied.
    let r = w.tick(t("2026-11-24T08:10:00Z")).await;
    assert_eq!(changes(&r), ["api 3->4 4..20", "frontend 2->4 2..10"]);
    assert!(
        result(&r, "frontend")["explanation"]
            .as_str()
            .unwrap()
            .contains("morning-scale-up (2026-11-24 08:00:00Z) sets desired 4"),
        "{r:#}"
    );
    assert!(notices(&r).is_empty(), "{r:#}");
    assert_eq!(w.desired("api-service").await, 4);
    assert_eq!(w.desired("frontend-service").await, 4);
    assert_eq!(bounds(&w, "api").await, (4, 20));
    assert_eq!(digest(&drain(&w).await), ["api 3->4", "frontend 2->4"]);
    quiet_ticks(&w, "2026-11-24T08:15:00Z", "2026-11-24T08:20:00Z", 5).await;
    assert_eq!(
        applied_by(&w, "frontend", "schedule:morning-scale-up")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn a_gap_longer_than_catch_up_reports_the_occurrence_missed_and_still_corrects_bounds() {
    let w = World::new().await;
    w.tick(t("2026-11-24T07:30:00Z")).await;
    drain(&w).await;
    quiet(&w, t("2026-11-24T07:50:00Z")).await;
    // Ticks resume at 09:00: the 08:00 occurrence is an hour old.
    let r = w.tick(t("2026-11-24T09:00:00Z")).await;
    assert_eq!(changes(&r), ["api 3->4 4..20"]);
    assert_eq!(
        notices(&r),
        ["missed occurrence of morning-scale-up at 2026-11-24 08:00:00Z (older than the catch-up window 15m): not applied"]
    );
    assert_eq!(w.desired("api-service").await, 4);
    assert_eq!(bounds(&w, "api").await, (4, 20));
    assert_eq!(w.desired("frontend-service").await, 2);
    let published = drain(&w).await;
    let texts: Vec<&str> = published
        .iter()
        .map(|n| n["_text"].as_str().unwrap())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("missed occurrence of morning-scale-up")),
        "{texts:#?}"
    );
    // The missed occurrence is a notice of its own; the change, the tick's digest.
    assert_eq!(digest(&published), ["api 3->4"]);
    assert!(applied_by(&w, "frontend", "schedule:morning-scale-up")
        .await
        .is_empty());
    // Reported once: the next tick is quiet.
    quiet(&w, t("2026-11-24T09:05:00Z")).await;
    assert_eq!(w.desired("frontend-service").await, 2);
}

// ---------------------------------------------------------------------------------------------
// 6. Pre-events
// ---------------------------------------------------------------------------------------------

/// A run-time event over Tuesday evening and night: uplift from 18:00, start 19:00, end
/// Wednesday 03:00 (it spans the night's 20:00 and the 02:00 scale-down).
fn promo() -> Value {
    json!({
        "start": "2026-11-24T19:00:00Z",
        "end": "2026-11-25T03:00:00Z",
        "lead": "1h",
        "targets": {"api": {"floor": 8, "ceiling": 20}, "frontend": {"floor": 5}}
    })
}

async fn versions(w: &World) -> (u64, u64) {
    (
        record(w, "api").await.version,
        record(w, "frontend").await.version,
    )
}

#[tokio::test]
async fn a_run_time_pre_event_lead_hold_and_release() {
    let w = World::new().await;
    let r = w.tick(t("2026-11-24T16:55:00Z")).await;
    assert_eq!(changes(&r), ["api 3->4 4..20"]);
    drain(&w).await;

    // 17:00: added and announced; nothing changes before the lead.
    w.at(t("2026-11-24T17:00:00Z"));
    let r = w
        .schedule(json!({"action": "add-event", "name": "promo", "by": "alice", "event": promo()}))
        .await
        .unwrap();
    assert!(changes(&r).is_empty(), "{r:#}");
    let said = notices(&r);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].starts_with("event promo added by alice: 2026-11-24 19:00:00Z to 2026-11-25 03:00:00Z, lead 1h (uplift from 2026-11-24 18:00:00Z)"),
        "{said:?}"
    );
    let published = drain(&w).await;
    assert_eq!(published.len(), 1, "{published:#?}");
    assert!(published[0]["_text"]
        .as_str()
        .unwrap()
        .contains("event promo added by alice"));
    let stored = w.store.load_global().await.unwrap().events;
    assert_eq!(stored.keys().collect::<Vec<_>>(), ["promo"]);
    assert_eq!(stored["promo"].end.0, t("2026-11-25T03:00:00Z"));

    // The identical event again: one event, a notice, nothing else.
    let (before_items, before_versions) = (items(&w).await, versions(&w).await);
    w.at(t("2026-11-24T17:30:00Z"));
    let r = w
        .schedule(json!({"action": "add-event", "name": "promo", "by": "bob", "event": promo()}))
        .await
        .unwrap();
    assert!(changes(&r).is_empty(), "{r:#}");
    assert_eq!(
        notices(&r),
        ["event promo (2026-11-24 19:00:00Z to 2026-11-25 03:00:00Z) is already scheduled; added again by bob, it stays one event"]
    );
    assert_eq!(drain(&w).await.len(), 1);
    assert_eq!(w.store.load_global().await.unwrap().events, stored);
    assert_eq!(versions(&w).await, before_versions);
    assert_eq!(
        items(&w).await,
        before_items + 2,
        "only the request's idempotency key and its line on the record (noted)"
    );

    // A different event under the same name: refused, the stored one stays.
    let mut longer = promo();
    longer["end"] = json!("2026-11-25T04:00:00Z");
    w.at(t("2026-11-24T17:35:00Z"));
    let r = w
        .schedule(json!({"action": "add-event", "name": "promo", "by": "carol", "event": longer}))
        .await
        .unwrap();
    assert!(changes(&r).is_empty(), "{r:#}");
    assert_eq!(result(&r, "*")["reason"], "bad-command");
    let said = notices(&r);
    assert!(
        said[0].starts_with("cannot add event promo (asked by carol): a different event promo (2026-11-24 19:00:00Z to 2026-11-25 03:00:00Z) is already scheduled; cancel it first"),
        "{said:?}"
    );
    assert_eq!(drain(&w).await.len(), 1);
    assert_eq!(w.store.load_global().await.unwrap().events, stored);
    assert_eq!(versions(&w).await, before_versions);

    // Before the lead: nothing.
    quiet_ticks(&w, "2026-11-24T17:50:00Z", "2026-11-24T17:55:00Z", 5).await;
    // 18:00 = start - lead: the floors rise, desired with them.
    let r = w.tick(t("2026-11-24T18:00:00Z")).await;
    assert_eq!(changes(&r), ["api 4->8 8..20", "frontend 2->5 5..10"]);
    assert!(
        result(&r, "api")["explanation"]
            .as_str()
            .unwrap()
            .contains("event promo (lead"),
        "{r:#}"
    );
    assert_eq!(w.desired("api-service").await, 8);
    assert_eq!(w.desired("frontend-service").await, 5);
    assert_eq!(bounds(&w, "frontend").await, (5, 10));
    assert_eq!(digest(&drain(&w).await), ["api 4->8", "frontend 2->5"]);
    quiet(&w, t("2026-11-24T18:05:00Z")).await;

    // Traffic took api to 12. During the event a scale-in alarm is held.
    operator_sets(&w, "api-service", 12).await;
    quiet(&w, t("2026-11-24T19:55:00Z")).await;
    let at = t("2026-11-24T19:56:00Z");
    w.at(at);
    let resp = w
        .deliver(eventbridge("api-cpu-low", "ALARM", at, Some(12.0)))
        .await
        .unwrap();
    let held = result(&resp, "api");
    assert_eq!(held["outcome"], "suppressed", "{resp:#}");
    assert_eq!(held["reason"], "event-hold", "{resp:#}");
    assert_eq!(w.desired("api-service").await, 12);
    let published = drain(&w).await;
    assert_eq!(published.len(), 1, "{published:#?}");
    assert!(subjects(&published)[0].contains("api held: an event holds scale-in"));

    // 20:00: the night (2..10) would bring api down to 10; the event's bounds hold it at 12.
    quiet(&w, t("2026-11-24T20:00:00Z")).await;
    assert_eq!(w.desired("api-service").await, 12);
    assert_eq!(bounds(&w, "api").await, (8, 20));

    // 02:00: the nightly scale-down (frontend to 2) is held by the event, and marked done.
    quiet(&w, t("2026-11-25T01:55:00Z")).await;
    let r = w.tick(t("2026-11-25T02:00:00Z")).await;
    assert!(changes(&r).is_empty(), "{r:#}");
    let why = result(&r, "frontend")["explanation"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        why.contains("nightly-scale-down") && why.contains("event promo holds scale-in"),
        "{why}"
    );
    assert_eq!(w.desired("frontend-service").await, 5);
    assert_eq!(
        record(&w, "frontend").await.state.occurrences["nightly-scale-down"],
        t("2026-11-25T02:00:00Z")
    );
    let published = drain(&w).await;
    assert!(
        published
            .iter()
            .all(|n| n["_attributes"]["outcome"] != "changed"),
        "{published:#?}"
    );
    quiet(&w, t("2026-11-25T02:55:00Z")).await;

    // 03:00, the end: the floors come down one step (1) per scale-in cooldown (10 min); the
    // night's ceiling 10 applies again (api 12 -> 10); frontend, within a step of its floor,
    // follows it down. (The whole release: `a_run_time_pre_event_releases_step_by_step`.)
    let r = w.tick(t("2026-11-25T03:00:00Z")).await;
    assert_eq!(changes(&r), ["api 12->10 7..10", "frontend 5->4 4..10"]);
    assert_eq!(w.desired("api-service").await, 10);
    assert_eq!(digest(&drain(&w).await), ["api 12->10", "frontend 5->4"]);
    quiet(&w, t("2026-11-25T03:05:00Z")).await;
    let r = w.tick(t("2026-11-25T03:10:00Z")).await;
    assert_eq!(changes(&r), ["api 10->10 6..10", "frontend 4->3 3..10"]);
    assert_eq!(w.desired("frontend-service").await, 3);
}

/// After the end, the uplifted floors come down one release step per scale-in cooldown until
/// they are back to the schedule's, desired following each step, the last one included
/// (docs/policy.md: "desired follows the floor down when it is within one step above it").
#[tokio::test]
async fn a_run_time_pre_event_releases_step_by_step() {
    let w = World::new().await;
    w.tick(t("2026-11-24T18:30:00Z")).await;
    drain(&w).await;
    // Added during its lead: in force at once.
    w.at(t("2026-11-24T18:30:00Z"));
    let r = w
        .schedule(json!({"action": "add-event", "name": "promo", "by": "alice", "event": promo()}))
        .await
        .unwrap();
    assert_eq!(changes(&r), ["api 4->8 8..20", "frontend 2->5 5..10"]);
    drain(&w).await;
    quiet(&w, t("2026-11-24T20:00:00Z")).await;
    // The 02:00 scale-down is held (see above).
    let r = w.tick(t("2026-11-25T02:00:00Z")).await;
    assert!(changes(&r).is_empty(), "{r:#}");
    drain(&w).await;
    quiet(&w, t("2026-11-25T02:55:00Z")).await;

    // The night (api 2..10) and frontend's own 2..10 lie beneath the event.
    let steps = [
        ("03:00", vec!["api 8->7 7..10", "frontend 5->4 4..10"]),
        ("03:10", vec!["api 7->6 6..10", "frontend 4->3 3..10"]),
        ("03:20", vec!["api 6->5 5..10", "frontend 3->2 2..10"]),
        ("03:30", vec!["api 5->4 4..10"]),
        ("03:40", vec!["api 4->3 3..10"]),
        ("03:50", vec!["api 3->2 2..10"]),
    ];
    for (at, want) in steps {
        let at = t(&format!("2026-11-25T{at}:00Z"));
        let r = w.tick(at).await;
        assert_eq!(changes(&r), want, "at {at}: {r:#}");
        let listed: Vec<String> = want
            .iter()
            .map(|c| c.split(' ').take(2).collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(digest(&drain(&w).await), listed, "at {at}");
        // Between steps: quiet.
        quiet(&w, at + Duration::minutes(5)).await;
    }
    // Back to the normal schedule.
    assert_eq!(w.desired("api-service").await, 2);
    assert_eq!(w.desired("frontend-service").await, 2);
    assert_eq!(bounds(&w, "api").await, (2, 10));
    assert_eq!(bounds(&w, "frontend").await, (2, 10));
    quiet(&w, t("2026-11-25T04:00:00Z")).await;
}

#[tokio::test]
async fn run_time_events_are_checked_refused_and_cancelled() {
    let w = World::new().await;
    w.tick(t("2026-11-24T10:00:00Z")).await;
    drain(&w).await;
    let before = items(&w).await;

    // The fixture: an event on a target the policy does not have.
    w.at(t("2026-11-24T10:05:00Z"));
    let r = w
        .schedule(fixture("schedule-add-event-input.json"))
        .await
        .unwrap();
    assert_eq!(result(&r, "*")["reason"], "bad-command");
    let said = notices(&r);
    assert!(
        said[0].starts_with("cannot add event black-friday (asked by alice@example.com)")
            && said[0].contains("checkout"),
        "{said:?}"
    );
    assert_eq!(drain(&w).await.len(), 1);

    // An event already over (ended at 07:00, its uplift long released): refused.
    w.at(t("2026-11-24T10:10:00Z"));
    let over = json!({
        "start": "2026-11-24T06:00:00Z", "end": "2026-11-24T07:00:00Z",
        "targets": {"api": {"floor": "+2"}}
    });
    let r = w
        .schedule(json!({"action": "add-event", "name": "early", "by": "alice", "event": over}))
        .await
        .unwrap();
    assert_eq!(result(&r, "*")["reason"], "bad-command");
    assert!(
        notices(&r)[0].contains("it is already over: it ended 2026-11-24 07:00:00Z"),
        "{r:#}"
    );
    drain(&w).await;

    // The policy file's own event cannot be replaced nor cancelled at run time.
    let r = w
        .schedule(json!({"action": "add-event", "name": "launch", "by": "alice", "event": promo()}))
        .await
        .unwrap();
    assert!(
        notices(&r)[0].contains("the policy file defines an event launch"),
        "{r:#}"
    );
    let r = w
        .schedule(json!({"action": "cancel-event", "name": "launch", "by": "alice"}))
        .await
        .unwrap();
    assert!(
        notices(&r)[0].contains("launch is an event of the policy file"),
        "{r:#}"
    );
    drain(&w).await;
    assert!(w.store.load_global().await.unwrap().events.is_empty());
    assert_eq!(w.desired("api-service").await, 4);
    assert_eq!(w.desired("frontend-service").await, 2);
    // Refusals write only their idempotency keys and their lines on the record (one each).
    assert_eq!(items(&w).await, before + 8);

    // An event whose lead has begun takes effect as it is added.
    w.at(t("2026-11-24T10:15:00Z"));
    let flash = json!({
        "start": "2026-11-24T10:30:00Z", "end": "2026-11-24T11:00:00Z", "lead": "30m",
        "targets": {"api": {"floor": "+3"}, "frontend": {"floor": 4}}
    });
    let r = w
        .schedule(json!({"action": "add-event", "name": "flash", "by": "alice", "event": flash}))
        .await
        .unwrap();
    assert_eq!(changes(&r), ["api 4->7 7..20", "frontend 2->4 4..10"]);
    assert!(notices(&r)[0].contains("(lead, in force now)"), "{r:#}");
    assert_eq!(w.desired("api-service").await, 7);
    assert_eq!(w.desired("frontend-service").await, 4);
    assert_eq!(drain(&w).await.len(), 3);

    // Cancelled: the bounds come back at once (desired stays within them).
    w.at(t("2026-11-24T10:20:00Z"));
    let r = w
        .schedule(json!({"action": "cancel-event", "name": "flash", "by": "bob"}))
        .await
        .unwrap();
    assert_eq!(changes(&r), ["api 7->7 4..20", "frontend 4->4 2..10"]);
    assert!(
        notices(&r)[0].starts_with("event flash (2026-11-24 10:30:00Z to 2026-11-24 11:00:00Z, lead, in force now) cancelled by bob"),
        "{r:#}"
    );
    assert!(w.store.load_global().await.unwrap().events.is_empty());
    assert_eq!(bounds(&w, "api").await, (4, 20));
    assert_eq!(bounds(&w, "frontend").await, (2, 10));
    assert_eq!(drain(&w).await.len(), 3);
    quiet(&w, t("2026-11-24T10:25:00Z")).await;
    quiet(&w, t("2026-11-24T10:30:00Z")).await;

    // Cancelled again: there is none.
    w.at(t("2026-11-24T10:35:00Z"));
    let r = w
        .schedule(json!({"action": "cancel-event", "name": "flash", "by": "bob"}))
        .await
        .unwrap();
    assert!(
        notices(&r)[0].contains("there is no run-time event named flash"),
        "{r:#}"
    );
}

/// The policy file's `launch` (2026-12-10 14:00-18:00, lead 1h, exceed_ceiling): at 13:00 api
/// 6..25, frontend 5..15, ai 8..40 (its scalable target in moto).
#[tokio::test]
async fn the_policy_launch_event_raises_the_bounds_at_start_minus_lead() {
    let w = World::new().await;
    let r = w.tick(t("2026-12-10T12:50:00Z")).await;
    assert_eq!(changes(&r), ["api 3->4 4..20"]);
    drain(&w).await;
    quiet(&w, t("2026-12-10T12:55:00Z")).await;
    assert_eq!(w.scalable("ai-service").await, (2, 30));

    let r = w.tick(t("2026-12-10T13:00:00Z")).await;
    assert_eq!(
        changes(&r),
        ["ai 2->8 8..40", "api 4->6 6..25", "frontend 2->5 5..15"]
    );
    assert_eq!(w.desired("api-service").await, 6);
    assert_eq!(w.desired("frontend-service").await, 5);
    assert_eq!(w.scalable("ai-service").await, (8, 40));
    assert_eq!(bounds(&w, "api").await, (6, 25));
    assert_eq!(bounds(&w, "frontend").await, (5, 15));
    assert_eq!(w.group().await, (2, 2, 15), "web is not in the event");
    let published = drain(&w).await;
    assert_eq!(digest(&published), ["ai 2->8", "api 4->6", "frontend 2->5"]);
    // Each target's line says why.
    let text = published[0]["_text"].as_str().unwrap();
    for target in ["ai", "api", "frontend"] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{target} ")))
            .unwrap_or_else(|| panic!("{target} in {text}"));
        assert!(line.contains("event launch (lead"), "{line}");
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Explicit apply
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn apply_runs_an_occurrence_schedule_now_and_refuses_unknown_names() {
    let w = World::with(Seed {
        frontend: 6,
        ..Seed::default()
    })
    .await;
    // Monday 14:00: the first tick; bounds right, this morning's occurrences only seen.
    w.tick(t("2026-11-23T14:00:00Z")).await;
    drain(&w).await;
    assert_eq!(w.desired("frontend-service").await, 6);

    w.at(t("2026-11-23T14:05:00Z"));
    let r = w
        .schedule(json!({"action": "apply", "schedule": "nightly-scale-down"}))
        .await
        .unwrap();
    assert_eq!(changes(&r), ["frontend 6->2 2..10"]);
    assert_eq!(w.desired("frontend-service").await, 2);
    let log = applied_by(&w, "frontend", "schedule:nightly-scale-down").await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].at, t("2026-11-23T14:05:00Z"));
    // An explicit apply is a tick too: its digest.
    assert_eq!(digest(&drain(&w).await), ["frontend 6->2"]);

    // Unknown names, and a period (not an occurrence), are refused; nothing changes.
    operator_sets(&w, "frontend-service", 6).await;
    let before = items(&w).await;
    w.at(t("2026-11-23T14:10:00Z"));
    for payload in [
        json!({"action": "apply", "schedule": "nightly"}),
        json!({"action": "apply", "schedule": "business-hours"}),
        // As the Scheduler delivers it (a schedule request carries its moment, which must be
        // within the retry window of the clock).
        {
            let mut p = fixture("schedule-apply-input.json");
            p["scheduled_time"] = json!("2026-11-23T14:10:00Z");
            p
        },
    ] {
        let name = payload["schedule"].as_str().unwrap().to_string();
        let r = w.schedule(payload).await.unwrap();
        assert!(changes(&r).is_empty(), "{r:#}");
        let refusal = result(&r, "*");
        assert_eq!(refusal["reason"], "bad-command", "{r:#}");
        assert_eq!(
            refusal["explanation"],
            format!(
                "cannot apply schedule {name}: the policy has no occurrence schedule of that name"
            ),
        );
    }
    assert_eq!(items(&w).await, before);
    assert_eq!(queued(&w).await, 0);
    assert_eq!(w.desired("frontend-service").await, 6);
    assert_eq!(w.desired("api-service").await, 4);
}

// ---------------------------------------------------------------------------------------------
// 8. Late and stale ticks
// ---------------------------------------------------------------------------------------------

/// What a tick decided, without the moment it was carried out.
fn decisions(resp: &Value) -> Vec<Value> {
    results(resp)
        .iter()
        .map(|r| {
            json!({
                "target": r["target"], "source": r["source"], "outcome": r["outcome"],
                "reason": r["reason"], "from": r["from"], "to": r["to"],
                "explanation": r["explanation"],
            })
        })
        .collect()
}

#[tokio::test]
async fn a_late_tick_decides_as_on_time_and_an_older_tick_is_stale() {
    let on_time = World::new().await;
    let late = World::new().await;
    for w in [&on_time, &late] {
        w.tick(t("2026-11-23T07:40:00Z")).await;
        drain(w).await;
    }
    // On time: the EventBridge rule's envelope for Monday 08:00, delivered at 08:00.
    on_time.at(t("2026-11-23T08:00:00Z"));
    let a = on_time
        .schedule(fixture("schedule-eventbridge-rule.json"))
        .await
        .unwrap();
    // Late: the Scheduler's input for 08:00, delivered at 08:03 (a retry, say).
    late.at(t("2026-11-23T08:03:00Z"));
    let b = late
        .schedule(fixture("schedule-scheduler-tick-input.json"))
        .await
        .unwrap();
    assert_eq!(changes(&a), ["api 3->4 4..20", "frontend 2->4 2..10"]);
    assert_eq!(decisions(&a), decisions(&b));
    assert_eq!(a["reports"][0]["key"], b["reports"][0]["key"]);
    for w in [&on_time, &late] {
        assert_eq!(w.desired("api-service").await, 4);
        assert_eq!(w.desired("frontend-service").await, 4);
        drain(w).await;
    }
    let rec = record(&late, "api").await;
    assert_eq!(rec.tick_at, Some(t("2026-11-23T08:00:00Z")));
    assert_eq!(rec.updated_at, t("2026-11-23T08:03:00Z"));

    // An older tick (07:59, still within the Scheduler's and Lambda's retry window) delivered
    // after the 08:00 one: skipped for every target the newer tick wrote; nothing changes
    // (07:59 would have put api back on 2..20 bounds, min 2).
    let before = items(&late).await;
    late.at(t("2026-11-23T08:03:30Z"));
    let r = late
        .schedule(json!({"action": "tick", "scheduled_time": "2026-11-23T07:59:00Z"}))
        .await
        .unwrap();
    for target in ["api", "frontend"] {
        let skipped = result(&r, target);
        assert_eq!(skipped["outcome"], "ignored", "{r:#}");
        assert_eq!(skipped["reason"], "stale-tick", "{r:#}");
    }
    assert!(changes(&r).is_empty());
    assert_eq!(items(&late).await, before);
    assert_eq!(queued(&late).await, 0);
    assert_eq!(bounds(&late, "api").await, (4, 20));
    assert_eq!(late.desired("api-service").await, 4);
    assert_eq!(
        record(&late, "api").await.tick_at,
        Some(t("2026-11-23T08:00:00Z"))
    );
}

// ---------------------------------------------------------------------------------------------
// 9. Malformed requests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_requests_are_errors_naming_the_field_and_change_nothing() {
    let w = World::new().await;
    w.tick(t("2026-11-23T14:00:00Z")).await;
    drain(&w).await;
    let before = (items(&w).await, versions(&w).await);
    let mut bad_event = promo();
    bad_event["targets"]["api"]["floor"] = json!("lots");
    let cases = [
        (json!({"action": "jump"}), "action"),
        (
            json!({"action": "tick", "scheduled_time": "tomorrow"}),
            "scheduled_time",
        ),
        (
            json!({"action": "tick", "scheduled_time": "2026-11-23T14:05:00Z", "schedule": "night"}),
            "schedule",
        ),
        (fixture("alarm-eventbridge-state-change.json"), "source"),
        (fixture("alarm-sns-single-metric.json"), "Records"),
        (json!({}), "action"),
        (
            json!({"action": "add-event", "name": "promo", "event": bad_event}),
            "event.targets.api.floor",
        ),
        (json!({"action": "cancel-event"}), "name"),
    ];
    w.at(t("2026-11-23T14:05:00Z"));
    for (payload, field) in cases {
        let err = w.schedule(payload.clone()).await.unwrap_err();
        assert!(
            err.starts_with(&format!("malformed schedule request: {field}: ")),
            "{payload}: {err}"
        );
    }
    assert_eq!((items(&w).await, versions(&w).await), before);
    assert_eq!(queued(&w).await, 0);
    assert_eq!(w.desired("api-service").await, 4);
    assert_eq!(w.desired("frontend-service").await, 2);
}

#[tokio::test]
async fn a_group_with_its_own_scaling_policy_has_its_bounds_moved_and_is_handed_back() {
    // web (2..15) has a target-tracking policy of its own: Capstan raises MinSize for a
    // scale-out instead of setting the desired capacity, which the policy would undo.
    let w = World::with(Seed {
        web_scales_itself: true,
        ..Seed::default()
    })
    .await;
    w.tick(t("2026-11-24T09:50:00Z")).await;
    drain(&w).await;
    quiet(&w, t("2026-11-24T09:55:00Z")).await;
    assert_eq!(w.group().await, (2, 2, 15));
    w.at(t("2026-11-24T10:00:00Z"));
    let r = w
        .deliver(eventbridge(
            "web-cpu-critical",
            "ALARM",
            t("2026-11-24T10:00:00Z"),
            Some(91.0),
        ))
        .await
        .unwrap();
    let applied = result(&r, "web")["applied"].to_string();
    assert!(
        applied.contains("min 4 max 15") && applied.contains("own scaling policies"),
        "{applied}"
    );
    // (desired, min, max): AWS (and moto) raise the group to its new MinSize at once.
    assert_eq!(w.group().await, (4, 4, 15), "{r:#}");
    assert_eq!(drain(&w).await.len(), 1, "one notification");

    // The next tick returns MinSize to 2, once: the group's policy governs 2..15 again and
    // keeps its 4 instances until it scales in.
    let r = w.tick(t("2026-11-24T10:05:00Z")).await;
    assert_eq!(changes(&r).len(), 1, "{r:#}");
    assert_eq!(w.group().await, (4, 2, 15));
    assert_eq!(digest(&drain(&w).await).len(), 1, "one digest");
    quiet_ticks(&w, "2026-11-24T10:10:00Z", "2026-11-24T10:30:00Z", 5).await;
    assert_eq!(w.group().await, (4, 2, 15));

    // Its policy scales the group in (AWS does that; moto does not: play it): Capstan leaves
    // it be, no tick fights it.
    w.clients
        .autoscaling
        .set_desired_capacity()
        .auto_scaling_group_name(GROUP)
        .desired_capacity(3)
        .send()
        .await
        .unwrap();
    quiet_ticks(&w, "2026-11-24T10:35:00Z", "2026-11-24T10:45:00Z", 5).await;
    assert_eq!(w.group().await, (3, 2, 15));
}

#[tokio::test]
async fn after_a_scale_out_on_a_managed_service_the_next_tick_hands_it_back_to_target_tracking() {
    // ai has a scalable target (2..30): Capstan scales it out by raising MinCapacity, and
    // never sets its desired count.
    let w = World::new().await;
    // The first tick settles the day (business hours; earlier occurrences seen); then quiet.
    w.tick(t("2026-11-24T09:50:00Z")).await;
    drain(&w).await;
    quiet(&w, t("2026-11-24T09:55:00Z")).await;
    w.at(t("2026-11-24T10:00:00Z"));
    let r = w
        .deliver(eventbridge(
            "ai-queue-deep",
            "ALARM",
            t("2026-11-24T10:00:00Z"),
            Some(50.0),
        ))
        .await
        .unwrap();
    assert_eq!(w.scalable("ai-service").await, (4, 30), "{r:#}");
    drain(&w).await;
    // AWS raises the service's count to the new minimum at once (moto does not: play it).
    operator_sets(&w, "ai-service", 4).await;

    // The next tick lowers the floor back to ai's min, once: target tracking governs the
    // count within 2..30 again (AWS keeps the tasks it has until target tracking scales in).
    let r = w.tick(t("2026-11-24T10:05:00Z")).await;
    assert_eq!(changes(&r).len(), 1, "{r:#}");
    assert_eq!(w.scalable("ai-service").await, (2, 30));
    assert_eq!(digest(&drain(&w).await).len(), 1, "one digest");
    // Then ticks are quiet: no flapping, no notification every five minutes.
    quiet_ticks(&w, "2026-11-24T10:10:00Z", "2026-11-24T10:30:00Z", 5).await;
    assert_eq!(w.scalable("ai-service").await, (2, 30));
}
