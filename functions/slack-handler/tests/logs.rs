//! The Slack function's logs carry no payload: driven with the signed API Gateway fixtures
//! (a slash command, a button click, a bad signature) and the queue's jobs, at `TRACE` (every
//! level there is) into a capturing subscriber, in JSON and in plain text, nothing it writes
//! holds Slack's `token`, a `response_url`, the request body or the signing secret.

use std::sync::Arc;

use base64::Engine;
use capstan_aws::{Live, Resource};
use capstan_function::testing::Captured;
use capstan_function::Function;
use capstan_runner::memory::{ManualClock, Memory};
use capstan_runner::{Runner, SequentialIds};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use slack_handler::memory::{MemoryParts, MemoryQueue, MemoryResponder};
use slack_handler::Handler;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

const POLICY: &str = include_str!("../../../capstan.example.toml");
const COMMAND: &str = include_str!("fixtures/slack-command-apigw-v2.json");
const CLICK: &str = include_str!("fixtures/slack-interaction-apigw-v2.json");
const BAD_SIGNATURE: &str = include_str!("fixtures/slack-command-bad-signature.json");
/// Slack's documented example signing secret, which signed the fixtures.
const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
/// The fixtures' verification token.
const TOKEN: &str = "gIkuvaNzQIHg97ATvDxqgjtO";
const COMMAND_URL: &str = "https://hooks.slack.com/commands/T0001/1234567890/abcdefABCDEF123456";
const CLICK_URL: &str = "https://hooks.slack.com/actions/T0001/1795442402/XXXXXXXXXXXXXXXXXXXX";

struct World {
    handler: Handler,
    queue: Arc<MemoryQueue>,
    responder: Arc<MemoryResponder>,
}

fn world(now: DateTime<Utc>) -> World {
    let memory = Memory::new();
    memory.add(
        Resource::ecs("main-cluster", "api-service"),
        Live::steady(4),
    );
    memory.add(
        Resource::ecs("main-cluster", "frontend-service"),
        Live::steady(2),
    );
    let runner = Runner::with_ports(
        capstan_policy::load(POLICY).expect("the example policy loads"),
        memory.ports(),
        Arc::new(ManualClock::at(now)),
    )
    .with_ids(Arc::new(SequentialIds::default()))
    .with_metrics(false)
    .with_policy_version("7");
    let slack = MemoryParts::default();
    let handler = Handler::with_parts(runner, slack.parts(SECRET));
    World {
        handler,
        queue: slack.queue,
        responder: slack.responder,
    }
}

impl World {
    /// One invocation, in its span as `capstan_function::serve` makes it.
    async fn invoke(&self, payload: Value) -> Value {
        let runner = self.handler.runner();
        let deadline = runner.now() + Duration::seconds(30);
        let span = capstan_function::invocation_span(runner);
        self.handler
            .handle_by(payload, deadline)
            .instrument(span)
            .await
            .expect("an answer")
    }

    /// The queued jobs through the worker, with one record that is no job but holds a URL.
    async fn drain(&self) -> Value {
        let mut records: Vec<Value> = self
            .queue
            .take()
            .iter()
            .enumerate()
            .map(|(i, j)| {
                json!({"messageId": format!("m{i}"), "body": serde_json::to_string(j).unwrap(), "eventSource": "aws:sqs"})
            })
            .collect();
        records.push(json!({
            "messageId": "broken",
            "body": json!({"job": COMMAND_URL, "response_url": CLICK_URL, "token": TOKEN}).to_string(),
            "eventSource": "aws:sqs"
        }));
        self.invoke(json!({ "Records": records })).await
    }
}

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("a JSON fixture")
}

#[tokio::test]
async fn nothing_of_slacks_payload_is_logged_at_any_level() {
    let json_out = Captured::default();
    let plain_out = Captured::default();
    let (j, p) = (json_out.clone(), plain_out.clone());
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::TRACE)
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(move || j.clone()),
        )
        .with(tracing_subscriber::fmt::layer().with_writer(move || p.clone()));
    let _guard = tracing::subscriber::set_default(subscriber);

    // 2026-11-23T14:00:05Z: the fixtures' signatures are fresh.
    let w = world("2026-11-23T14:00:05Z".parse().unwrap());
    let ack = w.invoke(fixture(COMMAND)).await;
    assert_eq!(ack["statusCode"], 200, "{ack}");
    let ack = w.invoke(fixture(CLICK)).await;
    assert_eq!(ack["statusCode"], 200, "{ack}");
    let refused = w.invoke(fixture(BAD_SIGNATURE)).await;
    assert_eq!(refused["statusCode"], 401, "{refused}");
    // A body Slack did not sign, holding the token in plain text.
    let mut unsigned = fixture(COMMAND);
    unsigned["isBase64Encoded"] = json!(false);
    unsigned["body"] = json!(format!("token={TOKEN}&response_url={COMMAND_URL}"));
    let refused = w.invoke(unsigned).await;
    assert_eq!(refused["statusCode"], 401, "{refused}");
    let batch = w.drain().await;
    let failures = batch["batchItemFailures"]
        .as_array()
        .expect("a batch answer");
    assert_eq!(failures.len(), 1, "only the broken record fails: {batch}");
    assert!(
        !w.responder.messages().is_empty(),
        "the command was carried out and answered"
    );

    let body = fixture(COMMAND)["body"].as_str().unwrap().to_string();
    let decoded = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(&body)
            .unwrap(),
    )
    .unwrap();
    for (format, logged) in [("json", json_out.text()), ("plain", plain_out.text())] {
        assert!(
            logged.lines().count() > 5,
            "{format}: something was logged\n{logged}"
        );
        assert!(
            logged.contains("policy_version"),
            "{format}: every invocation's lines carry the policy version\n{logged}"
        );
        for (what, value) in [
            ("the token", TOKEN),
            ("a response_url", COMMAND_URL),
            ("a response_url", CLICK_URL),
            ("a response_url's secret part", "abcdefABCDEF123456"),
            ("a response_url's secret part", "XXXXXXXXXXXXXXXXXXXX"),
            ("a response_url's host", "hooks.slack.com"),
            ("the signing secret", SECRET),
            ("the request body", &body[..40]),
            ("the request body", &decoded[..40]),
            ("the request body", "token="),
            ("the request body", "response_url="),
            ("the request body", "payload="),
        ] {
            assert!(
                !logged.contains(value),
                "{format}: {what} was logged ({value})\n{logged}"
            );
        }
    }
}
