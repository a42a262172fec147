//! SNS deliveries are accepted only from the configured topics: another topic is an error that
//! names it, and nothing is read, written or called.

use std::sync::Arc;

use alarm_handler::Handler;
use capstan_aws::{Live, Resource};
use capstan_function::{Config, Function};
use capstan_runner::memory::Memory;
use capstan_runner::{FixedClock, Runner};
use chrono::{DateTime, Utc};
use serde_json::Value;

const POLICY: &str = include_str!("../../../capstan.example.toml");
const SNS: &str = include_str!("../../../tests/fixtures/aws-events/alarm-sns-single-metric.json");

fn handler(topics: &[&str]) -> (Handler, Memory) {
    let memory = Memory::new();
    memory.add(
        Resource::ecs("main-cluster", "api-service"),
        Live {
            desired: 3,
            running: 3,
            min: None,
            max: None,
            managed: false,
        },
    );
    let now: DateTime<Utc> = "2026-11-23T10:00:00Z".parse().unwrap();
    let runner = Runner::with_ports(
        capstan_policy::load(POLICY).unwrap(),
        memory.ports(),
        Arc::new(FixedClock(now)),
    )
    .with_metrics(false);
    let config = Config {
        policy: "capstan.example.toml".into(),
        table: "capstan-state".into(),
        topic_arn: None,
        dry_run: false,
        sns_topics: topics.iter().map(|t| t.to_string()).collect(),
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
    let err = h.handle(payload.clone()).await.unwrap_err().to_string();
    assert!(err.contains("Records[0].Sns.TopicArn"), "{err}");
    assert!(err.contains(&topic_of(&payload)), "{err}");
    assert_eq!(memory.calls(), 0, "nothing read, written or called");
}

#[tokio::test]
async fn the_configured_topic_is_accepted() {
    let payload: Value = serde_json::from_str(SNS).unwrap();
    let topic = topic_of(&payload);
    let (h, memory) = handler(&[&topic]);
    h.handle(payload).await.unwrap();
    assert!(memory.calls() > 0);
}
