//! Schedule-handler payloads, from the fixtures in `tests/fixtures/aws-events/`.

use capstan_events::{
    parse_schedule_event, parse_schedule_replay, EventError, ScheduleKind, ScheduleRequest,
    ScheduleVia, DEFAULT_REQUESTER,
};
use capstan_policy::model::Amount;
use capstan_policy::signal::{EventRequest, EventSignal, Signal, TickSignal};
use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

mod common;
use common::{arb_scalar, fixture, node_mut, node_paths};
use serde_json::{json, Value};

const RULE: &str = fixture!("schedule-eventbridge-rule.json");
const SCHEDULER_TICK: &str = fixture!("schedule-scheduler-tick-input.json");
const APPLY: &str = fixture!("schedule-apply-input.json");
const ADD_EVENT: &str = fixture!("schedule-add-event-input.json");
const CANCEL_EVENT: &str = fixture!("schedule-cancel-event-input.json");

const SCHEDULE_FIXTURES: [&str; 5] = [RULE, SCHEDULER_TICK, APPLY, ADD_EVENT, CANCEL_EVENT];

const FOREIGN_FIXTURES: [(&str, &str); 8] = [
    (
        "alarm-eventbridge-state-change.json",
        fixture!("alarm-eventbridge-state-change.json"),
    ),
    (
        "alarm-eventbridge-config-change.json",
        fixture!("alarm-eventbridge-config-change.json"),
    ),
    (
        "alarm-lambda-action.json",
        fixture!("alarm-lambda-action.json"),
    ),
    (
        "alarm-composite-lambda-action.json",
        fixture!("alarm-composite-lambda-action.json"),
    ),
    (
        "alarm-sns-single-metric.json",
        fixture!("alarm-sns-single-metric.json"),
    ),
    (
        "budget-sns-actual-80pct.json",
        fixture!("budget-sns-actual-80pct.json"),
    ),
    (
        "budget-sns-forecasted-100pct.json",
        fixture!("budget-sns-forecasted-100pct.json"),
    ),
    (
        "slack-command-apigw-v2.json",
        fixture!("slack-command-apigw-v2.json"),
    ),
];

fn load(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is JSON")
}

fn parse(payload: &Value) -> ScheduleRequest {
    parse_schedule_replay(payload).unwrap_or_else(|e| panic!("{payload}: {e}"))
}

fn error(payload: &Value) -> EventError {
    match parse_schedule_replay(payload) {
        Err(e) => e,
        Ok(request) => panic!("expected an error for {payload}, got {request:?}"),
    }
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

// ---- each fixture ----

#[test]
fn eventbridge_rule_envelope_is_a_tick_at_its_time() {
    let request = parse(&load(RULE));
    assert_eq!(request.kind, ScheduleKind::Tick);
    assert_eq!(request.via, ScheduleVia::EventBridgeRule);
    assert_eq!(request.at, Some(utc(2026, 11, 23, 8, 0)));
    assert_eq!(request.key, "tick:2026-11-23T08:00:00Z");
    let signal = request.timed_signal(utc(2026, 11, 23, 8, 3));
    assert_eq!(
        signal.at,
        utc(2026, 11, 23, 8, 0),
        "the event's time, not now"
    );
    assert_eq!(signal.signal, Signal::Tick(TickSignal { schedule: None }));
}

#[test]
fn scheduler_input_tick() {
    let request = parse(&load(SCHEDULER_TICK));
    assert_eq!(request.kind, ScheduleKind::Tick);
    assert_eq!(request.via, ScheduleVia::Input);
    assert_eq!(request.at, Some(utc(2026, 11, 23, 8, 0)));
    // A rule and a Scheduler ticking for the same moment are the same tick.
    assert_eq!(request.key, parse(&load(RULE)).key);
}

#[test]
fn apply_input() {
    let request = parse(&load(APPLY));
    assert_eq!(
        request.kind,
        ScheduleKind::Apply {
            schedule: "night".into()
        }
    );
    assert_eq!(request.at, Some(utc(2026, 11, 23, 2, 0)));
    assert_eq!(request.key, "apply:night:2026-11-23T02:00:00Z");
    assert_eq!(
        request.timed_signal(Utc::now()).signal,
        Signal::Tick(TickSignal {
            schedule: Some("night".into())
        })
    );
}

#[test]
fn add_event_input() {
    let request = parse(&load(ADD_EVENT));
    let ScheduleKind::AddEvent { name, event, by } = &request.kind else {
        panic!("{request:?}")
    };
    assert_eq!(name, "black-friday");
    assert_eq!(by, "alice@example.com");
    assert_eq!(event.start.0, utc(2026, 11, 27, 11, 0));
    assert_eq!(event.end.0, utc(2026, 11, 28, 7, 0));
    assert_eq!(event.lead.map(|d| d.0.as_secs()), Some(7200));
    assert_eq!(event.release_step, Some(2));
    assert!(event.hold_scale_in);
    assert!(!event.exceed_ceiling);
    assert_eq!(event.targets["api"].floor, Some(Amount::Delta(2)));
    assert_eq!(event.targets["api"].ceiling, Some(Amount::Absolute(25)));
    assert_eq!(event.targets["checkout"].floor, Some(Amount::Percent(50)));
    assert_eq!(event.targets["checkout"].ceiling, None);
    assert_eq!(request.at, None);
    assert!(
        request.key.starts_with("event-add:black-friday:"),
        "{}",
        request.key
    );
    let now = utc(2026, 11, 23, 15, 0);
    let timed = request.timed_signal(now);
    assert_eq!(timed.at, now, "no time in the payload: decided for now");
    let Signal::Event(EventSignal {
        by,
        request: EventRequest::Add { name, event: added },
    }) = timed.signal
    else {
        panic!("an add-event signal: {:?}", timed.signal)
    };
    assert_eq!(
        (name.as_str(), by.as_str()),
        ("black-friday", "alice@example.com")
    );
    assert_eq!(&added, event);
}

#[test]
fn cancel_event_input() {
    let request = parse(&load(CANCEL_EVENT));
    assert_eq!(
        request.kind,
        ScheduleKind::CancelEvent {
            name: "black-friday".into(),
            by: "alice@example.com".into()
        }
    );
    assert_eq!(request.key, "event-cancel:black-friday");
    let mut anonymous = load(CANCEL_EVENT);
    anonymous.as_object_mut().unwrap().remove("by");
    let ScheduleKind::CancelEvent { by, .. } = parse(&anonymous).kind else {
        panic!("a cancel")
    };
    assert_eq!(by, DEFAULT_REQUESTER);
    assert_eq!(
        request.timed_signal(Utc::now()).signal,
        Signal::Event(EventSignal {
            by: "alice@example.com".into(),
            request: EventRequest::Cancel {
                name: "black-friday".into()
            }
        })
    );
}

// ---- keys ----

#[test]
fn the_same_payload_always_gives_the_same_key() {
    for text in SCHEDULE_FIXTURES {
        let first = parse(&load(text)).key;
        for _ in 0..3 {
            assert_eq!(parse(&load(text)).key, first);
        }
        // Key order in the JSON does not matter.
        let mut reordered = serde_json::Map::new();
        if let Value::Object(map) = load(text) {
            for (k, v) in map.into_iter().rev() {
                reordered.insert(k, v);
            }
        }
        assert_eq!(parse(&Value::Object(reordered)).key, first);
    }
}

#[test]
fn add_event_keys_follow_the_event_not_the_requester() {
    let base = parse(&load(ADD_EVENT)).key;
    let mut other_requester = load(ADD_EVENT);
    other_requester["by"] = json!("bob");
    assert_eq!(parse(&other_requester).key, base);

    let mut same_moment_other_offset = load(ADD_EVENT);
    same_moment_other_offset["event"]["start"] = json!("2026-11-27T11:00:00Z");
    assert_eq!(parse(&same_moment_other_offset).key, base);

    for (field, value) in [
        ("start", json!("2026-11-27T05:00:00-05:00")),
        ("lead", json!("3h")),
        ("release_step", json!(1)),
        ("hold_scale_in", json!(false)),
    ] {
        let mut changed = load(ADD_EVENT);
        changed["event"][field] = value;
        assert_ne!(parse(&changed).key, base, "{field}");
    }
    let mut bigger = load(ADD_EVENT);
    bigger["event"]["targets"]["api"]["floor"] = json!("+3");
    assert_ne!(parse(&bigger).key, base);
    let mut renamed = load(ADD_EVENT);
    renamed["name"] = json!("cyber-monday");
    assert!(parse(&renamed).key.starts_with("event-add:cyber-monday:"));
}

#[test]
fn ticks_for_different_moments_have_different_keys() {
    let mut later = load(SCHEDULER_TICK);
    later["scheduled_time"] = json!("2026-11-23T08:05:00Z");
    assert_ne!(parse(&later).key, parse(&load(SCHEDULER_TICK)).key);
}

// ---- refusals ----

#[test]
fn other_envelopes_are_errors_never_ticks() {
    let mut other_source = load(RULE);
    other_source["source"] = json!("aws.s3");
    let e = error(&other_source);
    assert_eq!(e.path, "source");
    assert!(e.message.contains("\"aws.s3\""), "{e}");

    let mut other_type = load(RULE);
    other_type["detail-type"] = json!("Object Created");
    assert_eq!(error(&other_type).path, "detail-type");

    let mut no_type = load(RULE);
    no_type.as_object_mut().unwrap().remove("detail-type");
    assert_eq!(error(&no_type).to_string(), "detail-type: missing");

    let mut bad_time = load(RULE);
    bad_time["time"] = json!("08:00");
    assert_eq!(error(&bad_time).path, "time");
}

#[test]
fn foreign_payloads_are_errors() {
    for (name, text) in FOREIGN_FIXTURES {
        let e = error(&load(text));
        assert!(
            ["source", "Records", "action"].contains(&e.path.as_str()),
            "{name}: {e}"
        );
    }
    let e = error(&load(fixture!("alarm-lambda-action.json")));
    assert_eq!(e.path, "source");
    let e = error(&load(fixture!("budget-sns-actual-80pct.json")));
    assert_eq!(e.path, "Records");
}

#[test]
fn not_objects_and_empty_objects_are_errors() {
    for payload in [json!(null), json!([]), json!("tick"), json!(5), json!({})] {
        let e = error(&payload);
        assert!(
            e.message.contains("not a schedule request"),
            "{payload}: {e}"
        );
    }
}

#[test]
fn input_errors_name_the_field() {
    let cases = [
        (
            json!({"action": "tick", "scheduled_time": "soon"}),
            "scheduled_time",
        ),
        (json!({"action": "tick", "extra": 1}), "extra"),
        (
            json!({"action": "apply", "schedule": "night", "name": "x"}),
            "name",
        ),
        (json!({"action": "ticks"}), "action"),
        (json!({"action": null}), "action"),
        (json!({"action": "apply", "schedule": ""}), "schedule"),
        (
            json!({"action": "add-event", "name": "   ", "event": {}}),
            "name",
        ),
        (json!({"action": "cancel-event", "name": 7}), "name"),
        (json!({"action": "tick", "source": "aws.events"}), "source"),
    ];
    for (payload, path) in cases {
        assert_eq!(error(&payload).path, path, "{payload}");
    }
    assert_eq!(
        error(&json!({"action": "launch"})).to_string(),
        "action: unknown action \"launch\": expected tick, apply, add-event or cancel-event"
    );
}

#[test]
fn bad_events_name_the_path_inside() {
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut payload = load(ADD_EVENT);
        f(&mut payload["event"]);
        error(&payload)
    };
    let e = edit(&|e| e["targets"]["api"]["floor"] = json!("+two"));
    assert_eq!(e.path, "event.targets.api.floor");
    assert!(e.message.contains("not an amount"), "{e}");
    assert_eq!(
        edit(&|e| e["targets"]["checkout"]["ceiling"] = json!("50%")).path,
        "event.targets.checkout.ceiling"
    );
    assert_eq!(edit(&|e| e["end"] = json!("Friday")).path, "event.end");
    assert_eq!(edit(&|e| e["lead"] = json!(true)).path, "event.lead");
    assert_eq!(
        edit(&|e| e["release_step"] = json!(-1)).path,
        "event.release_step"
    );
    assert_eq!(
        edit(&|e| e["targets"]["api"] = json!("+2")).path,
        "event.targets.api"
    );
    let e = edit(&|e| e["owner"] = json!("alice"));
    assert_eq!(e.path, "event.owner");
    assert!(e.message.contains("unknown field `owner`"), "{e}");
    let e = edit(&|e| e["end"] = json!("2026-11-27T06:00:00-05:00"));
    assert_eq!(e.path, "event.end");
    assert!(e.message.contains("not after the start"), "{e}");
}

// ---- request times against the clock ----

/// The fixtures' moment: 2026-11-23 08:00:00Z.
fn eight() -> DateTime<Utc> {
    utc(2026, 11, 23, 8, 0)
}

fn tick_at(field: &str, at: DateTime<Utc>) -> Value {
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match field {
        "time" => {
            let mut envelope = load(RULE);
            envelope["time"] = json!(at);
            envelope
        }
        _ => json!({"action": "tick", "scheduled_time": at}),
    }
}

#[test]
fn a_request_time_within_the_window_is_accepted_up_to_both_limits() {
    use capstan_events::{MAX_CLOCK_SKEW, MAX_REQUEST_AGE};
    assert_eq!(MAX_CLOCK_SKEW, chrono::Duration::minutes(5));
    // The template's Scheduler retry window (60 s) and Lambda's async one (240 s).
    assert_eq!(MAX_REQUEST_AGE, chrono::Duration::seconds(300));
    for field in ["time", "scheduled_time"] {
        for now in [
            eight(),
            eight() - MAX_CLOCK_SKEW, // the request exactly at the skew limit ahead
            eight() + MAX_REQUEST_AGE, // exactly as old as a retry can be
            eight() + chrono::Duration::minutes(3),
        ] {
            let request = parse_schedule_event(&tick_at(field, eight()), now)
                .unwrap_or_else(|e| panic!("{field} at {now}: {e}"));
            assert_eq!(request.at, Some(eight()));
            assert_eq!(request.key, "tick:2026-11-23T08:00:00Z");
        }
    }
    // Every fixture, read at its own moment, is accepted by both readers alike.
    for fixture in SCHEDULE_FIXTURES {
        let payload = load(fixture);
        let replayed = parse(&payload);
        let now = replayed.at.unwrap_or_else(eight);
        assert_eq!(parse_schedule_event(&payload, now).unwrap(), replayed);
    }
}

#[test]
fn a_request_time_past_the_skew_limit_is_refused_naming_the_field() {
    let second = chrono::Duration::seconds(1);
    for field in ["time", "scheduled_time"] {
        // One second beyond the limit.
        let now = eight() - capstan_events::MAX_CLOCK_SKEW - second;
        let e = parse_schedule_event(&tick_at(field, eight()), now).unwrap_err();
        assert_eq!(e.path, field);
        assert_eq!(
            e.message,
            "2026-11-23T08:00:00Z is 5m 1s in the future (the clock says 2026-11-23T07:54:59Z); \
             more than 5m of clock skew, so it is refused and nothing is written"
        );
    }
    // The tick of the issue: stamped in 2099, it would make every real tick after it stale.
    let payload = json!({"action": "tick", "scheduled_time": "2099-01-01T00:00:00Z"});
    let e = parse_schedule_event(&payload, eight()).unwrap_err();
    assert_eq!(e.path, "scheduled_time");
    assert!(
        e.to_string().starts_with(
            "scheduled_time: 2099-01-01T00:00:00Z is 72 years in the future (the clock says \
             2026-11-23T08:00:00Z); more than 5m of clock skew"
        ),
        "{e}"
    );
    // An explicit apply with a time is checked the same way.
    let apply =
        json!({"action": "apply", "schedule": "night", "scheduled_time": "2026-11-24T08:00:00Z"});
    let e = parse_schedule_event(&apply, eight()).unwrap_err();
    assert_eq!(e.path, "scheduled_time");
    assert!(
        e.message
            .starts_with("2026-11-24T08:00:00Z is 1 day in the future"),
        "{e}"
    );
}

#[test]
fn a_request_older_than_the_retry_window_is_refused_naming_the_field() {
    let second = chrono::Duration::seconds(1);
    for field in ["time", "scheduled_time"] {
        let now = eight() + capstan_events::MAX_REQUEST_AGE + second;
        let e = parse_schedule_event(&tick_at(field, eight()), now).unwrap_err();
        assert_eq!(e.path, field);
        assert_eq!(
            e.message,
            "2026-11-23T08:00:00Z is 5m 1s old (the clock says 2026-11-23T08:05:01Z); AWS \
             retries a schedule request for at most 5m (EventBridge Scheduler 1m, then Lambda \
             4m), so it is refused and nothing is written"
        );
    }
    // An ancient tick.
    let payload = json!({"action": "tick", "scheduled_time": "1970-01-01T00:00:00Z"});
    let e = parse_schedule_event(&payload, eight()).unwrap_err();
    assert_eq!(e.path, "scheduled_time");
    assert!(
        e.message
            .starts_with("1970-01-01T00:00:00Z is 56 years old"),
        "{e}"
    );
    let apply = load(APPLY); // 02:00, six hours before eight
    let e = parse_schedule_event(&apply, eight()).unwrap_err();
    assert_eq!(e.path, "scheduled_time");
    assert!(
        e.message.starts_with("2026-11-23T02:00:00Z is 6h old"),
        "{e}"
    );
}

#[test]
fn a_request_without_a_time_is_for_now_whatever_the_clock() {
    for payload in [
        json!({"action": "tick"}),
        json!({"action": "apply", "schedule": "night"}),
        load(ADD_EVENT),
        load(CANCEL_EVENT),
    ] {
        for now in [utc(1999, 1, 1, 0, 0), eight(), utc(2099, 1, 1, 0, 0)] {
            let request = parse_schedule_event(&payload, now).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(request.at, None);
        }
    }
}

#[test]
fn by_is_a_name_for_the_audit_trail_never_a_granted_identity() {
    let with_by = |by: &str| {
        let mut payload = load(ADD_EVENT);
        payload["by"] = json!(by);
        payload
    };
    for ok in [
        "alice",
        "alice@example.com",
        "ops-team",
        "u2147483697",
        "US",
    ] {
        let request = parse(&with_by(ok));
        assert!(
            matches!(&request.kind, ScheduleKind::AddEvent { by, .. } if by == ok),
            "{ok}: {request:?}"
        );
    }
    // A CLI user or a Slack user id would be authorized by the engine: refused, naming `by`.
    for claimed in ["cli:ana", "U2147483697", "W012ABCDEF"] {
        let e = error(&with_by(claimed));
        assert_eq!(e.path, "by", "{claimed}: {e}");
        assert!(
            e.message
                .starts_with(&format!("{claimed:?} would be taken for a user")),
            "{e}"
        );
        let mut cancel = load(CANCEL_EVENT);
        cancel["by"] = json!(claimed);
        assert_eq!(error(&cancel).path, "by");
    }
}

// ---- no payload makes the parser panic ----

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("tick".to_string()),
        Just("apply".to_string()),
        Just("add-event".to_string()),
        Just("cancel-event".to_string()),
        Just("aws.events".to_string()),
        Just("Scheduled Event".to_string()),
        Just("2026-11-23T08:00:00Z".to_string()),
        Just("2026-11-23T08:00:00.551+0000".to_string()),
        Just("+2".to_string()),
        Just("-50%".to_string()),
        Just("2h".to_string()),
        ".{0,12}",
    ]
}

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("action".to_string()),
        Just("scheduled_time".to_string()),
        Just("schedule".to_string()),
        Just("name".to_string()),
        Just("by".to_string()),
        Just("event".to_string()),
        Just("start".to_string()),
        Just("end".to_string()),
        Just("targets".to_string()),
        Just("floor".to_string()),
        Just("source".to_string()),
        Just("detail-type".to_string()),
        Just("time".to_string()),
        "[a-z_]{0,6}",
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    common::arb_json(arb_scalar(arb_string()), arb_key(), common::DEEP)
}

fn check_invariants(payload: &Value) {
    let Ok(request) = parse_schedule_replay(payload) else {
        return;
    };
    let prefix = match &request.kind {
        ScheduleKind::Tick => "tick:".to_string(),
        ScheduleKind::Apply { schedule } => {
            assert!(!schedule.trim().is_empty());
            format!("apply:{schedule}:")
        }
        ScheduleKind::AddEvent { name, event, .. } => {
            assert!(event.end.0 > event.start.0);
            format!("event-add:{name}:")
        }
        ScheduleKind::CancelEvent { name, .. } => format!("event-cancel:{name}"),
    };
    assert!(request.key.starts_with(&prefix), "{request:?}");
    assert_eq!(parse_schedule_replay(payload).unwrap().key, request.key);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_json_never_panics(payload in arb_json()) {
        check_invariants(&payload);
    }

    #[test]
    fn fixtures_with_one_node_replaced_never_panic(
        which in 0..SCHEDULE_FIXTURES.len(),
        pick in any::<prop::sample::Index>(),
        replacement in arb_json(),
    ) {
        let mut payload = load(SCHEDULE_FIXTURES[which]);
        let mut paths = Vec::new();
        node_paths(&payload, &mut Vec::new(), &mut paths);
        let path = &paths[pick.index(paths.len())];
        *node_mut(&mut payload, path) = replacement;
        check_invariants(&payload);
    }
}
