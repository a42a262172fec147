//! What Lambda is told when an invocation fails: the error type of each kind of failure, and a
//! message without the account id (which the budget's own message carries).

use budget_handler::Handler;
use capstan_function::{Config, Diagnostic, Function};
use capstan_runner::memory::{Fault, Memory};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

const POLICY: &str = include_str!("../../../capstan.example.toml");
const BUDGET: &str =
    include_str!("../../../tests/fixtures/aws-events/budget-sns-actual-80pct.json");
const ALARM: &str = include_str!("../../../tests/fixtures/aws-events/alarm-sns-single-metric.json");
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:capstan-budgets";

fn handler(topics: &[&str]) -> (Handler, Memory) {
    let memory = Memory::new();
    let now: DateTime<Utc> = "2026-11-23T07:00:00Z".parse().unwrap();
    let runner = memory.runner(capstan_policy::load(POLICY).unwrap(), now);
    let config = Config {
        policy: "capstan.example.toml".into(),
        table: "capstan-state".into(),
        topic_arn: None,
        dry_run: false,
        sns_topics: topics.iter().map(|t| t.to_string()).collect(),
        scaling_resource_arns: Vec::new(),
    };
    (Handler::new(runner).configure(&config), memory)
}

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn with_message(message: &str) -> Value {
    let mut e = fixture(BUDGET);
    e["Records"][0]["Sns"]["Message"] = json!(message);
    e
}

/// True when `text` holds a run of exactly 12 digits (an account id).
fn has_account_id(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_digit())
        .any(|run| run.len() == 12)
}

#[tokio::test]
async fn what_is_not_a_budget_alert_is_a_malformed_event_and_changes_nothing() {
    let (h, memory) = handler(&[TOPIC]);
    let good = fixture(BUDGET)["Records"][0]["Sns"]["Message"]
        .as_str()
        .unwrap()
        .to_string();
    let mut alarm_on_budget_topic = fixture(ALARM);
    alarm_on_budget_topic["Records"][0]["Sns"]["TopicArn"] = json!(TOPIC);
    let cases = [
        (alarm_on_budget_topic, "Records[0].Sns.Message"),
        (
            with_message("Your order has shipped.\nTracking: 1Z999AA10123456784\n"),
            "no \"Budget Name:\" line",
        ),
        (
            with_message(&good.replace("Alert Type: ACTUAL", "Alert Type: SOMETIMES")),
            "Alert Type: SOMETIMES",
        ),
        (json!({"action": "tick"}), "Records"),
    ];
    for (payload, says) in cases {
        let err = h.handle(payload).await.unwrap_err();
        assert_eq!(err.error_type(), "MalformedEvent", "{err:?}");
        let text = err.to_string();
        assert!(text.starts_with("not an AWS Budgets alert: "), "{text}");
        assert!(text.contains(says), "{text} should say {says}");
        let d: Diagnostic = err.into();
        assert_eq!(d.error_type, "MalformedEvent");
        assert!(d.error_message.contains(says), "{d:?}");
        assert!(!has_account_id(&d.error_message), "{d:?}");
    }
    assert_eq!(memory.calls(), 0, "nothing read, written or called");
}

#[tokio::test]
async fn an_alert_from_another_topic_is_an_untrusted_source() {
    let (h, memory) = handler(&["arn:aws:sns:us-east-1:123456789012:capstan-budgets-only"]);
    let err = h.handle(fixture(BUDGET)).await.unwrap_err();
    assert_eq!(err.error_type(), "UntrustedSource", "{err:?}");
    assert!(
        err.to_string().contains(TOPIC),
        "the log has it whole: {err}"
    );
    let d: Diagnostic = err.into();
    assert_eq!(d.error_type, "UntrustedSource");
    assert!(d.error_message.contains("Records[0].Sns.TopicArn"), "{d:?}");
    assert!(
        d.error_message
            .contains("arn:aws:sns:us-east-1:<account>:capstan-budgets"),
        "{d:?}"
    );
    assert!(!has_account_id(&d.error_message), "{d:?}");
    assert_eq!(memory.calls(), 0, "nothing read, written or called");
}

#[tokio::test]
async fn a_throttled_state_table_is_transient() {
    let (h, memory) = handler(&[TOPIC]);
    // Every call answered as a throttled one would be (the answer lost: transient).
    for nth in 0..8 {
        memory.fault_at(nth, Fault::LostAnswer);
    }
    let err = h.handle(fixture(BUDGET)).await.unwrap_err();
    assert_eq!(err.error_type(), "Transient", "{err:?}");
    let d: Diagnostic = err.into();
    assert_eq!(d.error_type, "Transient");
    assert!(d.error_message.contains("ThrottlingException"), "{d:?}");
    assert!(!has_account_id(&d.error_message), "{d:?}");
}
