//! What Lambda is told when an invocation fails: the error type of each kind of failure, and a
//! message without the account id.

use alarm_handler::Handler;
use capstan_aws::{ErrorKind, Live, Resource};
use capstan_function::{Diagnostic, Function};
use capstan_runner::memory::{Fault, Memory};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

const POLICY: &str = include_str!("../../../capstan.example.toml");
const EVENTBRIDGE: &str =
    include_str!("../../../tests/fixtures/aws-events/alarm-eventbridge-state-change.json");
const SNS: &str = include_str!("../../../tests/fixtures/aws-events/alarm-sns-single-metric.json");
const BUDGET: &str =
    include_str!("../../../tests/fixtures/aws-events/budget-sns-actual-80pct.json");

fn handler() -> (Handler, Memory) {
    let memory = Memory::new();
    memory.add(
        Resource::ecs("main-cluster", "api-service"),
        Live::steady(3),
    );
    let now: DateTime<Utc> = "2026-11-23T14:06:00Z".parse().unwrap();
    let runner = memory.runner(capstan_policy::load(POLICY).unwrap(), now);
    (Handler::new(runner), memory)
}

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// True when `text` holds a run of exactly 12 digits (an account id).
fn has_account_id(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_digit())
        .any(|run| run.len() == 12)
}

#[tokio::test]
async fn a_malformed_payload_is_a_malformed_event_and_changes_nothing() {
    let (h, memory) = handler();
    let mut bad_state = fixture(EVENTBRIDGE);
    bad_state["detail"]["state"]["value"] = json!("FIRE");
    let mut bad_arn = fixture(SNS);
    let message = bad_arn["Records"][0]["Sns"]["Message"]
        .as_str()
        .unwrap()
        .replace(
            "arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-latency-high",
            "arn:aws:sns:us-east-1:123456789012:api-latency-high",
        );
    bad_arn["Records"][0]["Sns"]["Message"] = json!(message);
    let cases = [
        (json!({"hello": "world"}), "not a CloudWatch alarm payload"),
        (json!([1, 2, 3]), "not a CloudWatch alarm payload"),
        (bad_state, "detail.state.value"),
        (fixture(BUDGET), "Records[0].Sns.Message"),
        (bad_arn, "Records[0].Sns.Message.AlarmArn"),
    ];
    let mut quoted_an_account = false;
    for (payload, names) in cases {
        let err = h.handle(payload).await.unwrap_err();
        assert_eq!(err.error_type(), "MalformedEvent", "{err:?}");
        assert!(!err.is_retryable());
        let text = err.to_string();
        assert!(text.starts_with("malformed alarm event: "), "{text}");
        assert!(text.contains(names), "{text} should name {names}");
        let d: Diagnostic = err.into();
        assert_eq!(d.error_type, "MalformedEvent");
        assert!(d.error_message.contains(names), "{d:?}");
        assert!(!has_account_id(&d.error_message), "{d:?}");
        if text.contains("123456789012") {
            // The ARN it quotes, without its account.
            assert!(
                d.error_message
                    .contains("\"arn:aws:sns:us-east-1:<account>:api-latency-high\""),
                "{d:?}"
            );
            quoted_an_account = true;
        }
    }
    assert!(quoted_an_account, "one case quotes an ARN");
    assert_eq!(memory.calls(), 0, "nothing read, written or called");
}

#[tokio::test]
async fn throttled_reads_are_transient_and_the_retry_acts() {
    let (h, memory) = handler();
    for nth in 0..8 {
        memory.fault_at(nth, Fault::Before(ErrorKind::Transient));
    }
    let err = h.handle(fixture(EVENTBRIDGE)).await.unwrap_err();
    assert_eq!(err.error_type(), "Transient", "{err:?}");
    assert!(err.is_retryable());
    let d: Diagnostic = err.into();
    assert_eq!(d.error_type, "Transient");
    assert!(d.error_message.contains("ThrottlingException"), "{d:?}");
    assert!(!has_account_id(&d.error_message), "{d:?}");

    memory.heal();
    let resp = h.handle(fixture(EVENTBRIDGE)).await.unwrap();
    assert_eq!(
        resp["reports"][0]["results"][0]["outcome"], "changed",
        "{resp}"
    );
}
