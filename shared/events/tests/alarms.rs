//! Every CloudWatch alarm delivery shape, from the fixtures in `tests/fixtures/aws-events/`.

use capstan_events::{parse_alarm_event, AcceptedTopics, AlarmDelivery, EventError, Parsed, Via};
use capstan_policy::model::AlarmState;
use capstan_policy::signal::Signal;
use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

mod common;
use common::{arb_scalar, fixture, node_mut, node_paths};
use serde_json::{json, Value};

const EVENTBRIDGE: &str = fixture!("alarm-eventbridge-state-change.json");
const CONFIG_CHANGE: &str = fixture!("alarm-eventbridge-config-change.json");
const LAMBDA_ACTION: &str = fixture!("alarm-lambda-action.json");
const COMPOSITE: &str = fixture!("alarm-composite-lambda-action.json");
const SNS_SINGLE: &str = fixture!("alarm-sns-single-metric.json");
const SNS_MATH: &str = fixture!("alarm-sns-metric-math.json");
const BUDGET: &str = fixture!("budget-sns-actual-80pct.json");

const ALL_ALARM_FIXTURES: [&str; 5] = [EVENTBRIDGE, LAMBDA_ACTION, COMPOSITE, SNS_SINGLE, SNS_MATH];

fn load(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is JSON")
}

fn alarms(payload: &Value) -> Vec<AlarmDelivery> {
    match parse_alarm_event(payload, &AcceptedTopics::any()) {
        Ok(Parsed::Alarms(found)) => found,
        other => panic!("expected alarms, got {other:?}"),
    }
}

fn only_alarm(payload: &Value) -> AlarmDelivery {
    let mut found = alarms(payload);
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

fn error(payload: &Value) -> EventError {
    match parse_alarm_event(payload, &AcceptedTopics::any()) {
        Err(e) => e,
        Ok(parsed) => panic!("expected an error, got {parsed:?}"),
    }
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap() + chrono::Duration::milliseconds(ms)
}

/// The classic alarm notification inside an SNS fixture's first record, decoded.
fn sns_message(payload: &Value) -> Value {
    let text = payload["Records"][0]["Sns"]["Message"].as_str().unwrap();
    serde_json::from_str(text).unwrap()
}

/// `payload` with its first record's Message replaced by `message`, encoded as AWS does.
fn with_sns_message(mut payload: Value, message: &Value) -> Value {
    payload["Records"][0]["Sns"]["Message"] = Value::String(message.to_string());
    payload
}

// ---- each fixture ----

#[test]
fn eventbridge_state_change() {
    let d = only_alarm(&load(EVENTBRIDGE));
    assert_eq!(d.signal.name, "api-cpu-critical");
    assert_eq!(d.signal.state, AlarmState::Alarm);
    assert_eq!(d.signal.previous, Some(AlarmState::Ok));
    assert_eq!(d.signal.value, Some(91.7));
    assert_eq!(
        d.alarm_arn,
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-cpu-critical"
    );
    assert_eq!(d.changed_at, utc(2026, 11, 23, 14, 5, 40, 989));
    assert_eq!(
        d.key,
        "alarm:arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-cpu-critical:2026-11-23T14:05:40.989+0000"
    );
    assert_eq!(d.via, Via::EventBridge);
}

#[test]
fn eventbridge_configuration_change_is_ignored() {
    match parse_alarm_event(&load(CONFIG_CHANGE), &AcceptedTopics::any()) {
        Ok(Parsed::Ignored { why }) => {
            assert!(
                why.contains("\"CloudWatch Alarm Configuration Change\""),
                "{why}"
            )
        }
        other => panic!("expected Ignored, got {other:?}"),
    }
}

#[test]
fn lambda_alarm_action_metric_alarm() {
    let d = only_alarm(&load(LAMBDA_ACTION));
    assert_eq!(d.signal.name, "api-cpu-high");
    assert_eq!(d.signal.state, AlarmState::Alarm);
    assert_eq!(d.signal.previous, Some(AlarmState::Ok));
    // recentDatapoints [74.9, 78.1]: the last is the latest (the reason text lists 78.1 first).
    assert_eq!(d.signal.value, Some(78.1));
    assert_eq!(
        d.alarm_arn,
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-cpu-high"
    );
    assert_eq!(d.changed_at, utc(2026, 11, 23, 9, 12, 15, 490));
    assert_eq!(
        d.key,
        "alarm:arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-cpu-high:2026-11-23T09:12:15.490+0000"
    );
    assert_eq!(d.via, Via::LambdaAction);
}

#[test]
fn lambda_alarm_action_composite_alarm_has_no_value() {
    let d = only_alarm(&load(COMPOSITE));
    assert_eq!(d.signal.name, "api-degraded");
    assert_eq!(d.signal.state, AlarmState::Alarm);
    assert_eq!(d.signal.previous, Some(AlarmState::Ok));
    assert_eq!(d.signal.value, None);
    assert_eq!(
        d.alarm_arn,
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-degraded"
    );
    assert_eq!(d.changed_at, utc(2026, 11, 23, 12, 56, 46, 138));
    assert_eq!(
        d.key,
        "alarm:arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-degraded:2026-11-23T12:56:46.138+0000"
    );
    assert_eq!(d.via, Via::LambdaAction);
}

#[test]
fn sns_single_metric_alarm() {
    let d = only_alarm(&load(SNS_SINGLE));
    assert_eq!(d.signal.name, "api-latency-high");
    assert_eq!(d.signal.state, AlarmState::Alarm);
    assert_eq!(d.signal.previous, Some(AlarmState::Ok));
    // "[1.42 (23/11/26 17:38:00), 1.31 (23/11/26 17:33:00), 1.18 (...)]": 17:38 is the newest.
    assert_eq!(d.signal.value, Some(1.42));
    assert_eq!(
        d.alarm_arn,
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-latency-high"
    );
    assert_eq!(d.changed_at, utc(2026, 11, 23, 17, 43, 27, 123));
    assert_eq!(
        d.key,
        "alarm:arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-latency-high:2026-11-23T17:43:27.123+0000"
    );
    assert_eq!(d.via, Via::Sns);
}

#[test]
fn sns_metric_math_alarm() {
    let d = only_alarm(&load(SNS_MATH));
    assert_eq!(d.signal.name, "api-traffic-2x");
    assert_eq!(d.signal.state, AlarmState::Alarm);
    assert_eq!(d.signal.previous, Some(AlarmState::Ok));
    assert_eq!(d.signal.value, Some(2.3));
    assert_eq!(
        d.alarm_arn,
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-traffic-2x"
    );
    assert_eq!(d.changed_at, utc(2026, 11, 23, 17, 45, 2, 551));
    assert_eq!(
        d.key,
        "alarm:arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-traffic-2x:2026-11-23T17:45:02.551+0000"
    );
    assert_eq!(d.via, Via::Sns);
}

#[test]
fn sns_with_two_records_gives_two_deliveries_in_order() {
    let mut payload = load(SNS_SINGLE);
    let second = load(SNS_MATH)["Records"][0].clone();
    payload["Records"].as_array_mut().unwrap().push(second);
    let found = alarms(&payload);
    let names: Vec<&str> = found.iter().map(|d| d.signal.name.as_str()).collect();
    assert_eq!(names, ["api-latency-high", "api-traffic-2x"]);
    assert_eq!(found[0].signal.value, Some(1.42));
    assert_eq!(found[1].signal.value, Some(2.3));
    assert!(found.iter().all(|d| d.via == Via::Sns));
}

#[test]
fn redelivery_gives_the_same_key_and_different_alarms_different_keys() {
    let mut keys = Vec::new();
    for text in ALL_ALARM_FIXTURES {
        let first = only_alarm(&load(text));
        let again = only_alarm(&load(text));
        assert_eq!(first.key, again.key);
        assert!(
            first
                .key
                .starts_with(&format!("alarm:{}:", first.alarm_arn)),
            "{}",
            first.key
        );
        keys.push(first.key);
    }
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), ALL_ALARM_FIXTURES.len());
}

#[test]
fn timed_signal_is_the_alarm_at_its_state_change() {
    let d = only_alarm(&load(EVENTBRIDGE));
    let timed = d.timed_signal();
    assert_eq!(timed.at, d.changed_at);
    assert_eq!(timed.signal, Signal::Alarm(d.signal.clone()));
}

// ---- variations AWS sends ----

#[test]
fn recovery_to_ok_and_insufficient_data() {
    let mut payload = load(LAMBDA_ACTION);
    payload["alarmData"]["state"]["value"] = json!("OK");
    payload["alarmData"]["previousState"]["value"] = json!("ALARM");
    let d = only_alarm(&payload);
    assert_eq!(d.signal.state, AlarmState::Ok);
    assert_eq!(d.signal.previous, Some(AlarmState::Alarm));

    let mut message = sns_message(&load(SNS_SINGLE));
    message["NewStateValue"] = json!("INSUFFICIENT_DATA");
    message["NewStateReason"] = json!("Insufficient Data: 1 datapoint was unknown.");
    let d = only_alarm(&with_sns_message(load(SNS_SINGLE), &message));
    assert_eq!(d.signal.state, AlarmState::InsufficientData);
    assert_eq!(d.signal.value, None);
}

#[test]
fn timestamps_with_colon_offset_or_z_are_accepted_and_the_key_keeps_the_text() {
    for raw in ["2026-11-23T14:05:40.989+00:00", "2026-11-23T14:05:40.989Z"] {
        let mut payload = load(EVENTBRIDGE);
        payload["detail"]["state"]["timestamp"] = json!(raw);
        let d = only_alarm(&payload);
        assert_eq!(d.changed_at, utc(2026, 11, 23, 14, 5, 40, 989), "{raw}");
        assert!(d.key.ends_with(&format!(":{raw}")), "{}", d.key);
    }
    let mut message = sns_message(&load(SNS_SINGLE));
    message["StateChangeTime"] = json!("2026-11-23T18:43:27.123+0100");
    let d = only_alarm(&with_sns_message(load(SNS_SINGLE), &message));
    assert_eq!(d.changed_at, utc(2026, 11, 23, 17, 43, 27, 123));
}

#[test]
fn nulls_are_tolerated_where_aws_may_send_them() {
    let mut payload = load(EVENTBRIDGE);
    payload["detail"]["state"]["reasonData"] = Value::Null;
    payload["detail"]["state"]["reason"] = Value::Null;
    payload["detail"]["previousState"] = Value::Null;
    payload["detail"]["configuration"] = Value::Null;
    let d = only_alarm(&payload);
    assert_eq!(d.signal.value, None);
    assert_eq!(d.signal.previous, None);
    assert_eq!(d.signal.name, "api-cpu-critical");

    let mut payload = load(LAMBDA_ACTION);
    payload["alarmData"]["previousState"]["value"] = Value::Null;
    payload["alarmData"]["previousState"]["reasonData"] = Value::Null;
    payload["alarmData"]["configuration"]["description"] = Value::Null;
    payload["region"] = Value::Null;
    let d = only_alarm(&payload);
    assert_eq!(d.signal.previous, None);
    assert_eq!(d.signal.value, Some(78.1));

    let mut message = sns_message(&load(SNS_SINGLE));
    for field in [
        "AlarmDescription",
        "OldStateValue",
        "NewStateReason",
        "Trigger",
        "AlarmActions",
    ] {
        message[field] = Value::Null;
    }
    let mut payload = with_sns_message(load(SNS_SINGLE), &message);
    payload["Records"][0]["Sns"]["Subject"] = Value::Null;
    payload["Records"][0]["Sns"]["MessageAttributes"] = Value::Null;
    let d = only_alarm(&payload);
    assert_eq!(d.signal.name, "api-latency-high");
    assert_eq!(d.signal.previous, None);
    assert_eq!(d.signal.value, None);
}

#[test]
fn eventbridge_event_published_to_sns_is_read_as_eventbridge_via_sns() {
    let event = load(EVENTBRIDGE);
    let d = only_alarm(&with_sns_message(load(SNS_SINGLE), &event));
    assert_eq!(d.signal.name, "api-cpu-critical");
    assert_eq!(d.signal.value, Some(91.7));
    assert_eq!(d.via, Via::Sns);

    match parse_alarm_event(
        &with_sns_message(load(SNS_SINGLE), &load(CONFIG_CHANGE)),
        &AcceptedTopics::any(),
    ) {
        Ok(Parsed::Ignored { why }) => {
            assert!(why.starts_with("Records[0].Sns.Message: "), "{why}");
            assert!(why.contains("Configuration Change"), "{why}");
        }
        other => panic!("expected Ignored, got {other:?}"),
    }

    let mut broken = event;
    broken["detail"]["state"]["value"] = json!("FOO");
    let e = error(&with_sns_message(load(SNS_SINGLE), &broken));
    assert_eq!(e.path, "Records[0].Sns.Message.detail.state.value");
}

// ---- malformed payloads: the error names the field ----

fn assert_error(payload: &Value, path: &str, message_part: &str) {
    let e = error(payload);
    assert_eq!(e.path, path, "{e}");
    assert!(
        e.message.contains(message_part),
        "{:?} should contain {message_part:?}",
        e.message
    );
}

#[test]
fn missing_state_is_named() {
    let mut payload = load(EVENTBRIDGE);
    payload["detail"].as_object_mut().unwrap().remove("state");
    assert_error(&payload, "detail.state", "missing");

    let mut payload = load(LAMBDA_ACTION);
    payload["alarmData"]["state"]
        .as_object_mut()
        .unwrap()
        .remove("value");
    assert_error(&payload, "alarmData.state.value", "missing");

    let mut payload = load(COMPOSITE);
    payload["alarmData"]["state"] = Value::Null;
    assert_error(&payload, "alarmData.state", "missing (null)");

    let mut message = sns_message(&load(SNS_SINGLE));
    message.as_object_mut().unwrap().remove("NewStateValue");
    assert_error(
        &with_sns_message(load(SNS_SINGLE), &message),
        "Records[0].Sns.Message.NewStateValue",
        "missing",
    );
}

#[test]
fn unknown_state_value_is_named_with_the_expected_values() {
    let mut payload = load(SNS_SINGLE);
    let mut bad = sns_message(&load(SNS_MATH));
    bad["NewStateValue"] = json!("FOO");
    let mut second = load(SNS_MATH)["Records"][0].clone();
    second["Sns"]["Message"] = Value::String(bad.to_string());
    payload["Records"].as_array_mut().unwrap().push(second);
    let e = error(&payload);
    assert_eq!(e.path, "Records[1].Sns.Message.NewStateValue");
    assert_eq!(
        e.message,
        "expected one of OK, ALARM, INSUFFICIENT_DATA, got \"FOO\""
    );
    assert_eq!(
        e.to_string(),
        "Records[1].Sns.Message.NewStateValue: expected one of OK, ALARM, INSUFFICIENT_DATA, got \"FOO\""
    );

    let mut payload = load(EVENTBRIDGE);
    payload["detail"]["previousState"]["value"] = json!("alarm");
    assert_error(
        &payload,
        "detail.previousState.value",
        "expected one of OK, ALARM, INSUFFICIENT_DATA, got \"alarm\"",
    );

    let mut payload = load(LAMBDA_ACTION);
    payload["alarmData"]["state"]["value"] = json!(1);
    assert_error(
        &payload,
        "alarmData.state.value",
        "expected a string, got a number",
    );
}

#[test]
fn bad_timestamp_is_named() {
    let mut payload = load(EVENTBRIDGE);
    payload["detail"]["state"]["timestamp"] = json!("23/11/26 14:05:40");
    assert_error(
        &payload,
        "detail.state.timestamp",
        "expected a timestamp like 2026-11-23T17:45:02.551+0000, got \"23/11/26 14:05:40\"",
    );

    let mut payload = load(LAMBDA_ACTION);
    payload["alarmData"]["state"]
        .as_object_mut()
        .unwrap()
        .remove("timestamp");
    assert_error(&payload, "alarmData.state.timestamp", "missing");

    let mut message = sns_message(&load(SNS_SINGLE));
    message["StateChangeTime"] = json!("2026-13-23T17:43:27.123+0000");
    assert_error(
        &with_sns_message(load(SNS_SINGLE), &message),
        "Records[0].Sns.Message.StateChangeTime",
        "expected a timestamp",
    );
}

#[test]
fn malformed_name_and_arn_are_named() {
    let mut payload = load(EVENTBRIDGE);
    payload["detail"]["alarmName"] = json!("");
    assert_error(&payload, "detail.alarmName", "empty");

    let mut payload = load(EVENTBRIDGE);
    payload["resources"] = json!([]);
    assert_error(&payload, "resources", "empty: expected the alarm ARN");

    let mut payload = load(LAMBDA_ACTION);
    payload.as_object_mut().unwrap().remove("alarmArn");
    assert_error(&payload, "alarmArn", "missing");

    let mut message = sns_message(&load(SNS_SINGLE));
    message["AlarmArn"] = json!("api-latency-high");
    assert_error(
        &with_sns_message(load(SNS_SINGLE), &message),
        "Records[0].Sns.Message.AlarmArn",
        "expected a CloudWatch alarm ARN",
    );
}

#[test]
fn sns_message_that_is_not_an_alarm_is_named() {
    // AWS Budgets publishes plain text.
    assert_error(&load(BUDGET), "Records[0].Sns.Message", "not JSON");

    let mut payload = load(SNS_SINGLE);
    payload["Records"][0]["Sns"]["Message"] = json!("{\"hello\": \"world\"}");
    assert_error(
        &payload,
        "Records[0].Sns.Message",
        "not a CloudWatch alarm notification",
    );

    // An alarm record followed by a budget record: the second is named.
    let mut payload = load(SNS_SINGLE);
    let budget = load(BUDGET)["Records"][0].clone();
    payload["Records"].as_array_mut().unwrap().push(budget);
    assert_error(&payload, "Records[1].Sns.Message", "not JSON");
}

#[test]
fn bad_records_are_named() {
    assert_error(
        &json!({"Records": []}),
        "Records",
        "empty: expected at least one SNS record",
    );
    assert_error(&json!({"Records": {}}), "Records", "expected an array");
    assert_error(&json!({"Records": [7]}), "Records[0]", "expected an object");

    let mut payload = load(SNS_SINGLE);
    payload["Records"][0]["EventSource"] = json!("aws:sqs");
    assert_error(
        &payload,
        "Records[0].EventSource",
        "expected \"aws:sns\", got \"aws:sqs\"",
    );

    let mut payload = load(SNS_SINGLE);
    payload["Records"][0]["Sns"]["Message"] = json!(42);
    assert_error(
        &payload,
        "Records[0].Sns.Message",
        "expected a string, got a number",
    );
}

/// The topic of the SNS fixtures.
const ALARM_TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:capstan-alarms";
const OTHER_TOPIC: &str = "arn:aws:sns:us-east-1:210987654321:someone-elses-topic";

#[test]
fn sns_records_are_read_only_from_accepted_topics() {
    let accepted = AcceptedTopics::only([ALARM_TOPIC]);
    for fixture in [SNS_SINGLE, SNS_MATH] {
        let payload = load(fixture);
        let Ok(Parsed::Alarms(found)) = parse_alarm_event(&payload, &accepted) else {
            panic!("the configured topic is accepted")
        };
        assert_eq!(
            found,
            alarms(&payload),
            "the same deliveries as with any topic"
        );
    }
    // Two accepted topics, the fixture's second.
    let two = AcceptedTopics::from(&[OTHER_TOPIC.to_string(), ALARM_TOPIC.to_string()][..]);
    assert!(parse_alarm_event(&load(SNS_SINGLE), &two).is_ok());
    // The EventBridge event published to SNS goes through the same check.
    let nested = with_sns_message(load(SNS_SINGLE), &load(EVENTBRIDGE));
    assert!(parse_alarm_event(&nested, &accepted).is_ok());
    // Payloads that are not SNS have no topic to check.
    for fixture in [EVENTBRIDGE, LAMBDA_ACTION, COMPOSITE] {
        assert!(parse_alarm_event(&load(fixture), &accepted).is_ok());
    }
}

#[test]
fn a_record_from_another_topic_is_an_error_naming_its_topic_arn() {
    let accepted = AcceptedTopics::only([ALARM_TOPIC]);
    let mut payload = load(SNS_SINGLE);
    payload["Records"][0]["Sns"]["TopicArn"] = json!(OTHER_TOPIC);
    let e = parse_alarm_event(&payload, &accepted).unwrap_err();
    assert_eq!(e.path, "Records[0].Sns.TopicArn");
    assert_eq!(
        e.to_string(),
        format!(
            "Records[0].Sns.TopicArn: {OTHER_TOPIC} is not a topic this function accepts (it \
             accepts {ALARM_TOPIC})"
        )
    );
    // Nothing of the message is quoted.
    let message = payload["Records"][0]["Sns"]["Message"].as_str().unwrap();
    let name: Value = serde_json::from_str(message).unwrap();
    assert!(
        !e.message.contains(name["AlarmName"].as_str().unwrap()),
        "{e}"
    );
    // Any topic accepts it.
    assert!(parse_alarm_event(&payload, &AcceptedTopics::any()).is_ok());

    // One foreign record among good ones fails the whole payload, naming that record.
    let mut batch = load(SNS_SINGLE);
    let mut foreign = batch["Records"][0].clone();
    foreign["Sns"]["TopicArn"] = json!(OTHER_TOPIC);
    batch["Records"].as_array_mut().unwrap().push(foreign);
    assert_eq!(
        parse_alarm_event(&batch, &accepted).unwrap_err().path,
        "Records[1].Sns.TopicArn"
    );

    // The topic is checked before the message: a foreign record with a message that is not
    // an alarm is refused for its topic, not its message.
    let mut junk = payload.clone();
    junk["Records"][0]["Sns"]["Message"] = json!("secret text");
    let e = parse_alarm_event(&junk, &accepted).unwrap_err();
    assert_eq!(e.path, "Records[0].Sns.TopicArn");
    assert!(!e.message.contains("secret"), "{e}");

    // Without `TopicArn` (or null), a configured function refuses the record.
    for missing in [Value::Null, json!(7)] {
        let mut payload = load(SNS_SINGLE);
        if missing.is_null() {
            payload["Records"][0]["Sns"]
                .as_object_mut()
                .unwrap()
                .remove("TopicArn");
        } else {
            payload["Records"][0]["Sns"]["TopicArn"] = missing;
        }
        let e = parse_alarm_event(&payload, &accepted).unwrap_err();
        assert_eq!(e.path, "Records[0].Sns.TopicArn", "{e}");
        assert!(parse_alarm_event(&payload, &AcceptedTopics::any()).is_ok());
    }
}

#[test]
fn not_an_alarm_payload_says_what_was_expected() {
    for payload in [json!([1, 2]), json!("ALARM"), json!(3), Value::Null] {
        assert_error(
            &payload,
            "",
            "not a CloudWatch alarm payload: expected an EventBridge event, a Lambda alarm action, or SNS Records",
        );
    }
    let e = error(&json!({"hello": "world"}));
    assert_eq!(e.path, "");
    assert_eq!(
        e.to_string(),
        "not a CloudWatch alarm payload: expected an EventBridge event, a Lambda alarm action, or SNS Records"
    );

    let schedule = load(fixture!("schedule-eventbridge-rule.json"));
    assert_error(
        &schedule,
        "source",
        "expected \"aws.cloudwatch\", got \"aws.events\"",
    );

    let mut payload = load(LAMBDA_ACTION);
    payload.as_object_mut().unwrap().remove("alarmData");
    assert_error(
        &payload,
        "",
        "neither `detail-type` (EventBridge event) nor `alarmData` (Lambda alarm action)",
    );
}

// ---- never panics ----

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("aws.cloudwatch".to_string()),
        Just("aws:sns".to_string()),
        Just("CloudWatch Alarm State Change".to_string()),
        Just("ALARM".to_string()),
        Just("OK".to_string()),
        Just("arn:aws:cloudwatch:us-east-1:1:alarm:a".to_string()),
        Just("2026-11-23T17:45:02.551+0000".to_string()),
        Just("{\"recentDatapoints\":[1.5]}".to_string()),
        Just("datapoints [1.0 (23/11/26 17:40:00), 2.0 (".to_string()),
        ".{0,24}",
    ]
}

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Records".to_string()),
        Just("EventSource".to_string()),
        Just("Sns".to_string()),
        Just("Message".to_string()),
        Just("source".to_string()),
        Just("detail-type".to_string()),
        Just("detail".to_string()),
        Just("resources".to_string()),
        Just("alarmArn".to_string()),
        Just("alarmData".to_string()),
        Just("alarmName".to_string()),
        Just("state".to_string()),
        Just("value".to_string()),
        Just("timestamp".to_string()),
        Just("reasonData".to_string()),
        "[a-zA-Z]{0,6}",
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    common::arb_json(arb_scalar(arb_string()), arb_key(), common::DEEP)
}

/// A fixture with SNS Messages decoded, so mutations reach inside them; `encode` re-encodes.
fn expanded_fixtures() -> Vec<Value> {
    ALL_ALARM_FIXTURES
        .iter()
        .chain([&CONFIG_CHANGE])
        .map(|text| {
            let mut payload = load(text);
            if let Some(records) = payload.get_mut("Records").and_then(Value::as_array_mut) {
                for record in records {
                    let text = record["Sns"]["Message"].as_str().unwrap().to_string();
                    record["Sns"]["Message"] = serde_json::from_str(&text).unwrap();
                }
            }
            payload
        })
        .collect()
}

fn encode(mut payload: Value) -> Value {
    if let Some(records) = payload.get_mut("Records").and_then(Value::as_array_mut) {
        for record in records {
            if let Some(message) = record.get_mut("Sns").and_then(|s| s.get_mut("Message")) {
                if message.is_object() {
                    *message = Value::String(message.to_string());
                }
            }
        }
    }
    payload
}

fn check_invariants(payload: &Value) {
    if let Ok(Parsed::Alarms(found)) = parse_alarm_event(payload, &AcceptedTopics::any()) {
        assert!(!found.is_empty());
        for d in found {
            assert!(d.key.starts_with(&format!("alarm:{}:", d.alarm_arn)));
            assert!(!d.signal.name.trim().is_empty());
        }
    }
    // With the alarm topic configured, an SNS payload is read only when every record comes
    // from it.
    let only = AcceptedTopics::only([ALARM_TOPIC]);
    if parse_alarm_event(payload, &only).is_ok() {
        if let Some(records) = payload.get("Records").and_then(Value::as_array) {
            for record in records {
                assert_eq!(record["Sns"]["TopicArn"], ALARM_TOPIC, "{payload}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_json_never_panics(payload in arb_json()) {
        check_invariants(&payload);
    }

    #[test]
    fn fixtures_with_one_node_replaced_never_panic(
        which in 0..ALL_ALARM_FIXTURES.len() + 1,
        pick in any::<prop::sample::Index>(),
        replacement in arb_json(),
    ) {
        let mut payload = expanded_fixtures().swap_remove(which);
        let mut paths = Vec::new();
        node_paths(&payload, &mut Vec::new(), &mut paths);
        let path = &paths[pick.index(paths.len())];
        *node_mut(&mut payload, path) = replacement;
        check_invariants(&encode(payload));
    }
}

const SUPPRESSED: &str = fixture!("alarm-eventbridge-composite-suppressed.json");

#[test]
fn a_composite_alarms_suppressed_actions_are_read() {
    use capstan_policy::signal::Suppressor;
    let d = only_alarm(&load(SUPPRESSED));
    let held = d.signal.suppressed.expect("actionsSuppressedBy is read");
    assert_eq!(held.by, Suppressor::Alarm);
    assert!(held
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("api-deploy-in-progress")));
    // Each of CloudWatch's words, in the Lambda action's shape too.
    for word in ["Alarm", "WaitPeriod", "ExtensionPeriod"] {
        let mut p = load(COMPOSITE);
        p["alarmData"]["state"]["actionsSuppressedBy"] = json!(word);
        let d = only_alarm(&p);
        assert_eq!(d.signal.suppressed.map(|s| s.by.as_str()), Some(word));
    }
    // Not suppressed: absent or null.
    assert_eq!(only_alarm(&load(COMPOSITE)).signal.suppressed, None);
    let mut p = load(SUPPRESSED);
    p["detail"]["state"]["actionsSuppressedBy"] = Value::Null;
    assert_eq!(only_alarm(&p).signal.suppressed, None);
}

#[test]
fn an_unknown_suppressor_is_an_error_naming_the_field() {
    for bad in [json!("Maintenance"), json!(3), json!("")] {
        let mut p = load(SUPPRESSED);
        p["detail"]["state"]["actionsSuppressedBy"] = bad.clone();
        let e = error(&p);
        assert_eq!(e.path, "detail.state.actionsSuppressedBy", "{bad}: {e}");
    }
    let mut p = load(SUPPRESSED);
    p["detail"]["state"]["actionsSuppressedReason"] = json!(7);
    assert_eq!(error(&p).path, "detail.state.actionsSuppressedReason");
}
