//! AWS Budgets alerts through SNS, from the fixtures in `tests/fixtures/aws-events/`.

use capstan_events::{
    parse_budget_event, parse_budget_text, AcceptedTopics, BudgetDelivery, EventError,
};
use capstan_policy::model::AlertType;
use capstan_policy::signal::Signal;
use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};

mod common;
use common::fixture;

const ACTUAL_80: &str = fixture!("budget-sns-actual-80pct.json");
const FORECASTED_100: &str = fixture!("budget-sns-forecasted-100pct.json");
const ACTUAL_80_PERCENT: &str = fixture!("budget-sns-actual-80pct-percent-threshold.json");
const USAGE: &str = fixture!("budget-sns-usage-hours.json");

const BUDGET_FIXTURES: [&str; 4] = [ACTUAL_80, FORECASTED_100, ACTUAL_80_PERCENT, USAGE];

fn load(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is JSON")
}

fn deliveries(payload: &Value) -> Vec<BudgetDelivery> {
    parse_budget_event(payload, &AcceptedTopics::any()).unwrap_or_else(|e| panic!("{e}"))
}

fn only(payload: &Value) -> BudgetDelivery {
    let mut found = deliveries(payload);
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

fn error(payload: &Value) -> EventError {
    match parse_budget_event(payload, &AcceptedTopics::any()) {
        Err(e) => e,
        Ok(found) => panic!("expected an error, got {found:?}"),
    }
}

fn message(payload: &Value) -> &str {
    payload["Records"][0]["Sns"]["Message"].as_str().unwrap()
}

/// `payload` with its first record's Message passed through `edit`.
fn with_message(mut payload: Value, edit: impl Fn(&str) -> String) -> Value {
    let edited = edit(message(&payload));
    payload["Records"][0]["Sns"]["Message"] = Value::String(edited);
    payload
}

fn utc_ms(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap() + chrono::Duration::milliseconds(ms)
}

// ---- each fixture ----

#[test]
fn actual_80_percent_with_an_absolute_threshold() {
    let d = only(&load(ACTUAL_80));
    assert_eq!(d.signal.budget, "AI-Service-Monthly");
    assert_eq!(d.signal.alert_type, AlertType::Actual);
    assert_eq!(d.signal.threshold_percent, 80.0);
    assert_eq!(d.signal.budgeted, Some(5000.0));
    assert_eq!(d.signal.amount, Some(4102.37));
    assert_eq!(d.message_id, "0f6b1c7a-2d2e-5a4b-8c9d-0e1f2a3b4c5d");
    assert_eq!(d.sent_at, utc_ms(2026, 11, 23, 6, 14, 9, 321));
    assert_eq!(d.key, "budget:AI-Service-Monthly:ACTUAL:80:2026-11");
    let timed = d.timed_signal();
    assert_eq!(timed.at, d.sent_at);
    assert_eq!(timed.signal, Signal::Budget(d.signal.clone()));
}

#[test]
fn forecasted_100_percent() {
    let d = only(&load(FORECASTED_100));
    assert_eq!(d.signal.alert_type, AlertType::Forecasted);
    assert_eq!(d.signal.threshold_percent, 100.0);
    assert_eq!(d.signal.amount, Some(5611.9));
    assert_eq!(d.key, "budget:AI-Service-Monthly:FORECASTED:100:2026-11");
}

#[test]
fn a_percentage_threshold_reads_like_the_absolute_one() {
    let percent = only(&load(ACTUAL_80_PERCENT));
    let absolute = only(&load(ACTUAL_80));
    // The same alert, sent at another instant of the same month.
    assert_ne!(percent.signal.sent_at, absolute.signal.sent_at);
    let sent_at = absolute.signal.sent_at;
    assert_eq!(
        capstan_policy::signal::BudgetSignal {
            sent_at,
            ..percent.signal
        },
        absolute.signal
    );
    assert_ne!(percent.message_id, absolute.message_id);
    assert_eq!(percent.key, absolute.key, "the same alert, one key");
}

#[test]
fn usage_budget_in_hours() {
    let d = only(&load(USAGE));
    assert_eq!(d.signal.budget, "GPU-Hours-Monthly");
    assert_eq!(d.signal.threshold_percent, 90.0);
    assert_eq!(d.signal.budgeted, Some(1200.0));
    assert_eq!(d.signal.amount, Some(1112.5));
    assert_eq!(d.key, "budget:GPU-Hours-Monthly:ACTUAL:90:2026-11");
}

#[test]
fn parse_budget_text_reads_the_message_alone() {
    let payload = load(FORECASTED_100);
    let signal = parse_budget_text(message(&payload)).unwrap();
    let delivered = only(&payload);
    assert_eq!(
        signal.sent_at, None,
        "the text alone does not say when it was sent"
    );
    assert_eq!(delivered.signal.sent_at, Some(delivered.sent_at));
    assert_eq!(
        capstan_policy::signal::BudgetSignal {
            sent_at: Some(delivered.sent_at),
            ..signal
        },
        delivered.signal
    );
}

// ---- keys ----

#[test]
fn a_redelivery_under_another_message_id_has_the_same_key() {
    let first = only(&load(ACTUAL_80));
    let mut again = load(ACTUAL_80);
    again["Records"][0]["Sns"]["MessageId"] = json!("ffffffff-0000-5a4b-8c9d-0e1f2a3b4c5d");
    again["Records"][0]["Sns"]["Timestamp"] = json!("2026-11-23T06:44:10.002Z");
    let second = only(&again);
    assert_ne!(second.message_id, first.message_id);
    assert_eq!(second.key, first.key);
}

#[test]
fn keys_differ_by_threshold_type_budget_and_month() {
    let base = only(&load(ACTUAL_80)).key;
    let edits: [(&str, Value); 4] = [
        (
            "threshold",
            with_message(load(ACTUAL_80), |m| m.replace("> $4,000.00", "> $4,025.00")),
        ),
        (
            "type",
            with_message(load(ACTUAL_80), |m| {
                m.replace("Alert Type: ACTUAL", "Alert Type: FORECASTED")
            }),
        ),
        (
            "budget",
            with_message(load(ACTUAL_80), |m| {
                m.replace(
                    "Budget Name: AI-Service-Monthly",
                    "Budget Name: Web-Monthly",
                )
            }),
        ),
        ("month", {
            let mut p = load(ACTUAL_80);
            p["Records"][0]["Sns"]["Timestamp"] = json!("2026-12-01T00:00:01.000Z");
            p
        }),
    ];
    for (what, payload) in edits {
        let key = only(&payload).key;
        assert_ne!(key, base, "{what}");
        assert!(key.starts_with("budget:"), "{key}");
    }
    let odd = with_message(load(ACTUAL_80), |m| m.replace("> $4,000.00", "> $4,025.00"));
    assert_eq!(
        only(&odd).key,
        "budget:AI-Service-Monthly:ACTUAL:80.5:2026-11"
    );
}

// ---- several records ----

#[test]
fn several_records_give_several_deliveries_in_order() {
    let mut payload = load(ACTUAL_80);
    let second = load(FORECASTED_100)["Records"][0].clone();
    payload["Records"].as_array_mut().unwrap().push(second);
    let found = deliveries(&payload);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].signal.alert_type, AlertType::Actual);
    assert_eq!(found[1].signal.alert_type, AlertType::Forecasted);
}

#[test]
fn one_bad_record_refuses_the_whole_payload() {
    let mut payload = load(ACTUAL_80);
    let alarm = load(fixture!("alarm-sns-single-metric.json"))["Records"][0].clone();
    payload["Records"].as_array_mut().unwrap().push(alarm);
    let e = error(&payload);
    assert_eq!(e.path, "Records[1].Sns.Message");
    assert!(e.message.contains("JSON"), "{e}");
}

// ---- refusals ----

#[test]
fn errors_quote_the_bad_line() {
    let payload = with_message(load(ACTUAL_80), |m| {
        m.replace("Alert Type: ACTUAL", "Alert Type: SOMETIMES")
    });
    assert_eq!(
        error(&payload).to_string(),
        "Records[0].Sns.Message: line \"Alert Type: SOMETIMES\": expected ACTUAL or FORECASTED"
    );
}

#[test]
fn text_that_is_not_a_budget_notification_is_refused() {
    let payload = with_message(load(ACTUAL_80), |_| "Hello from SNS!".to_string());
    assert_eq!(
        error(&payload).to_string(),
        "Records[0].Sns.Message: no \"Budget Name:\" line: not an AWS Budgets notification"
    );
    for label in ["Alert Type:", "Alert Threshold:"] {
        let payload = with_message(load(ACTUAL_80), |m| {
            m.lines()
                .filter(|l| !l.starts_with(label))
                .collect::<Vec<_>>()
                .join("\n")
        });
        let e = error(&payload);
        assert_eq!(e.path, "Records[0].Sns.Message");
        assert!(
            e.message.starts_with(&format!("no \"{label}\" line")),
            "{e}"
        );
    }
}

#[test]
fn an_absolute_threshold_on_a_zero_budget_is_refused() {
    let payload = with_message(load(ACTUAL_80), |m| {
        m.replace("Budgeted Amount: $5,000.00", "Budgeted Amount: $0.00")
    });
    let e = error(&payload);
    assert!(
        e.message
            .starts_with("line \"Alert Threshold: > $4,000.00\": an absolute threshold"),
        "{e}"
    );
}

#[test]
fn alarm_notifications_are_refused() {
    for text in [
        fixture!("alarm-sns-single-metric.json"),
        fixture!("alarm-sns-metric-math.json"),
    ] {
        let e = error(&load(text));
        assert_eq!(e.path, "Records[0].Sns.Message");
        assert!(e.message.contains("JSON"), "{e}");
        assert!(!e.to_string().contains("123456789012"), "{e}");
    }
}

#[test]
fn payloads_without_sns_records_are_refused() {
    for text in [
        fixture!("schedule-eventbridge-rule.json"),
        fixture!("alarm-eventbridge-state-change.json"),
        fixture!("alarm-lambda-action.json"),
        fixture!("schedule-scheduler-tick-input.json"),
    ] {
        let e = error(&load(text));
        assert_eq!(e.path, "Records");
        assert!(e.message.contains("not an SNS delivery"), "{e}");
    }
    for payload in [json!(null), json!([]), json!("Budget Name: x"), json!({})] {
        assert!(
            parse_budget_event(&payload, &AcceptedTopics::any()).is_err(),
            "{payload}"
        );
    }
    assert_eq!(error(&json!({"Records": []})).path, "Records");
    assert_eq!(error(&json!({"Records": {}})).path, "Records");
    assert_eq!(error(&json!({"Records": [1]})).path, "Records[0]");
}

/// The topic of the budget fixtures.
const BUDGET_TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:capstan-budgets";
const OTHER_TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:capstan-alarms";

#[test]
fn alerts_are_read_only_from_accepted_topics() {
    let accepted = AcceptedTopics::from(&vec![BUDGET_TOPIC.to_string()]);
    for fixture in BUDGET_FIXTURES {
        let payload = load(fixture);
        assert_eq!(
            parse_budget_event(&payload, &accepted).unwrap(),
            deliveries(&payload)
        );
    }
    let mut payload = load(ACTUAL_80);
    payload["Records"][0]["Sns"]["TopicArn"] = json!(OTHER_TOPIC);
    let e = parse_budget_event(&payload, &accepted).unwrap_err();
    assert_eq!(e.path, "Records[0].Sns.TopicArn");
    assert_eq!(
        e.message,
        format!("{OTHER_TOPIC} is not a topic this function accepts (it accepts {BUDGET_TOPIC})")
    );
    // Never a word of the message (which names the budget and the account's spend).
    assert!(!e.message.contains("AI-Service-Monthly"), "{e}");
    assert!(!e.message.contains("4,102.37"), "{e}");
    assert_eq!(deliveries(&payload).len(), 1, "any topic accepts it");

    // A foreign second record refuses the whole payload.
    let mut batch = load(ACTUAL_80);
    let mut foreign = load(FORECASTED_100)["Records"][0].clone();
    foreign["Sns"]["TopicArn"] = json!(OTHER_TOPIC);
    batch["Records"].as_array_mut().unwrap().push(foreign);
    assert_eq!(
        parse_budget_event(&batch, &accepted).unwrap_err().path,
        "Records[1].Sns.TopicArn"
    );

    // No `TopicArn`: refused when topics are configured.
    let mut bare = load(ACTUAL_80);
    bare["Records"][0]["Sns"]
        .as_object_mut()
        .unwrap()
        .remove("TopicArn");
    let e = parse_budget_event(&bare, &accepted).unwrap_err();
    assert_eq!(e.to_string(), "Records[0].Sns.TopicArn: missing");
}

#[test]
fn record_envelope_errors_name_the_field() {
    let cases: [(&[&str], Value, &str); 5] = [
        (&["EventSource"], json!("aws:sqs"), "Records[0].EventSource"),
        (&["Sns"], json!(null), "Records[0].Sns"),
        (&["Sns", "MessageId"], json!(""), "Records[0].Sns.MessageId"),
        (
            &["Sns", "Timestamp"],
            json!("yesterday"),
            "Records[0].Sns.Timestamp",
        ),
        (&["Sns", "Message"], json!(42), "Records[0].Sns.Message"),
    ];
    for (field, value, path) in cases {
        let mut payload = load(ACTUAL_80);
        let node = field
            .iter()
            .fold(&mut payload["Records"][0], |node, key| &mut node[*key]);
        *node = value;
        assert_eq!(error(&payload).path, path, "{field:?}");
    }
}

// ---- no payload or text makes the parsers panic ----

fn arb_line() -> impl Strategy<Value = String> {
    let label = prop_oneof![
        Just("Budget Name"),
        Just("Budget Type"),
        Just("Budgeted Amount"),
        Just("Alert Type"),
        Just("Alert Threshold"),
        Just("ACTUAL Amount"),
        Just("FORECASTED Amount"),
        Just("budget name"),
        Just("Dear AWS Customer,"),
    ];
    let value = prop_oneof![
        Just("ACTUAL".to_string()),
        Just("FORECASTED".to_string()),
        Just("Cost".to_string()),
        Just("> $4,000.00".to_string()),
        Just("> 80%".to_string()),
        Just("$5,000.00".to_string()),
        Just("1,200.00 Hrs".to_string()),
        Just("$0.00".to_string()),
        "[ -~]{0,16}",
        "\\PC{0,8}",
        "[0-9,.$%> -]{0,12}",
    ];
    prop_oneof![
        (label, value).prop_map(|(l, v)| format!("{l}: {v}")),
        "\\PC{0,30}",
        ".{0,30}",
    ]
}

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(arb_line(), 0..12).prop_map(|lines| lines.join("\n")),
        any::<String>(),
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        arb_text().prop_map(Value::String),
        Just(json!("aws:sns")),
        Just(json!("2026-11-23T06:14:09.321Z")),
    ];
    let key = prop_oneof![
        Just("Records".to_string()),
        Just("EventSource".to_string()),
        Just("Sns".to_string()),
        Just("Message".to_string()),
        Just("MessageId".to_string()),
        Just("Timestamp".to_string()),
        "[a-zA-Z]{0,6}",
    ];
    let nesting = common::Nesting {
        depth: 4,
        size: 48,
        branch: 5,
        items: 0..4,
        keys: 0..5,
    };
    common::arb_json(leaf, key, nesting)
}

fn check_text(text: &str) {
    match parse_budget_text(text) {
        Ok(signal) => {
            assert!(!signal.budget.is_empty());
            assert!(signal.threshold_percent > 0.0 && signal.threshold_percent.is_finite());
            assert!(signal.budgeted.is_none_or(|b| b >= 0.0 && b.is_finite()));
        }
        Err(e) => {
            assert!(!e.message.is_empty());
            if let Some(line) = e.line {
                assert!(line >= 1 && line <= text.lines().count(), "{e}");
            }
        }
    }
}

fn check_payload(payload: &Value) {
    if let Ok(found) = parse_budget_event(payload, &AcceptedTopics::any()) {
        assert!(!found.is_empty());
        for d in found {
            let prefix = format!("budget:{}:{}:", d.signal.budget, d.signal.alert_type);
            assert!(d.key.starts_with(&prefix), "{}", d.key);
            assert!(d.key.ends_with(&d.sent_at.format(":%Y-%m").to_string()));
        }
    }
    if parse_budget_event(payload, &AcceptedTopics::only([BUDGET_TOPIC])).is_ok() {
        for record in payload["Records"].as_array().unwrap() {
            assert_eq!(record["Sns"]["TopicArn"], BUDGET_TOPIC, "{payload}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in arb_text()) {
        check_text(&text);
    }

    #[test]
    fn fixture_messages_with_lines_replaced_never_panic(
        which in 0..BUDGET_FIXTURES.len(),
        pick in any::<prop::sample::Index>(),
        line in arb_line(),
    ) {
        let payload = load(BUDGET_FIXTURES[which]);
        let mut lines: Vec<String> = message(&payload).lines().map(String::from).collect();
        let at = pick.index(lines.len());
        lines[at] = line;
        let edited = with_message(payload, |_| lines.join("\n"));
        check_text(message(&edited));
        check_payload(&edited);
    }

    #[test]
    fn arbitrary_json_never_panics(payload in arb_json()) {
        check_payload(&payload);
    }
}
