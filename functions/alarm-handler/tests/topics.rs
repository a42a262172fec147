//! SNS deliveries are accepted only from the configured topics: another topic is an
//! `UntrustedSource` error that names it (its account id only in the function's own log), and
//! nothing is read, written or called.

use alarm_handler::Handler;
use capstan_aws::{Live, Resource};
use capstan_function::{Config, Diagnostic, Function};
use capstan_runner::memory::Memory;
use chrono::{DateTime, Utc};
use serde_json::Value;

const POLICY: &str = include_str!("../../../capstan.example.toml");
const SNS: &str = include_str!("../../../tests/fixtures/aws-events/alarm-sns-single-metric.json");

fn handler(topics: &[&str]) -> (Handler, Memory) {
    let memory = Memory::new();
    memory.add(
        Resource::ecs("main-cluster", "api-service"),
        Live::steady(3),
    );
    let now: DateTime<Utc> = "2026-11-23T10:00:00Z".parse().unwrap();
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

fn topic_of(payload: &Value) -> String {
    payload["Records"][0]["Sns"]["TopicArn"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_foreign_topic_is_refused_and_nothing_is_touched() {
    let payload: Value = serde_json::from_str(SNS).unwrap();
    let (h, memory) = handler(&["arn:aws:sns:us-east-1:123456789012:capstan-alarms-only"]);
    let err = h.handle(payload.clone()).await.unwrap_err();
    assert_eq!(err.error_type(), "UntrustedSource", "{err:?}");
    let text = err.to_string();
    assert!(text.contains("Records[0].Sns.TopicArn"), "{text}");
    assert!(
        text.contains(&topic_of(&payload)),
        "the log has it whole: {text}"
    );
    assert_eq!(memory.calls(), 0, "nothing read, written or called");

    let d: Diagnostic = err.into();
    assert_eq!(d.error_type, "UntrustedSource");
    assert!(d.error_message.contains("Records[0].Sns.TopicArn"), "{d:?}");
    assert!(
        d.error_message
            .contains("arn:aws:sns:us-east-1:<account>:capstan-alarms-only"),
        "{d:?}"
    );
    assert!(!d.error_message.contains("123456789012"), "{d:?}");
}

#[tokio::test]
async fn a_record_without_its_topic_is_refused_as_untrusted() {
    let mut payload: Value = serde_json::from_str(SNS).unwrap();
    payload["Records"][0]["Sns"]
        .as_object_mut()
        .unwrap()
        .remove("TopicArn");
    let (h, memory) = handler(&["arn:aws:sns:us-east-1:123456789012:capstan-alarms"]);
    let d: Diagnostic = h.handle(payload).await.unwrap_err().into();
    assert_eq!(d.error_type, "UntrustedSource", "{d:?}");
    assert!(d.error_message.contains("Records[0].Sns.TopicArn"), "{d:?}");
    assert_eq!(memory.calls(), 0);
}

#[tokio::test]
async fn the_configured_topic_is_accepted() {
    let payload: Value = serde_json::from_str(SNS).unwrap();
    let topic = topic_of(&payload);
    let (h, memory) = handler(&[&topic]);
    h.handle(payload).await.unwrap();
    assert!(memory.calls() > 0);
}
