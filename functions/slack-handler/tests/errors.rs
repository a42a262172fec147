//! What Lambda is told when an invocation of the Slack function fails: a payload that is
//! neither an API Gateway request nor an SQS batch is a `MalformedEvent`, a handler without
//! its Slack parts is `Config`, and no error, in the log or to Lambda, holds the signing
//! secret or an account id. A request Slack did not sign, or a job that fails, is an answer,
//! not an error.

use std::sync::Arc;

use capstan_function::{Diagnostic, Function, InvocationError};
use capstan_runner::memory::{ManualClock, Memory};
use capstan_runner::Runner;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use slack_handler::memory::MemoryParts;
use slack_handler::Handler;

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const POLICY: &str = r#"
[targets.api]
kind = "ecs"
cluster = "main"
service = "api-service"
floor = 2
ceiling = 20

[[slack.grants]]
users = ["U0AAA111"]
verbs = ["status"]
"#;
const QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:capstan-slack";

fn now() -> DateTime<Utc> {
    "2026-12-07T10:00:00Z".parse().unwrap()
}

fn runner() -> Runner {
    Runner::with_ports(
        capstan_policy::load(POLICY).unwrap(),
        Memory::new().ports(),
        Arc::new(ManualClock::at(now())),
    )
    .with_metrics(false)
}

fn handler() -> Handler {
    Handler::with_parts(runner(), MemoryParts::default().parts(SECRET))
}

/// True when `text` holds a run of exactly 12 digits (an account id).
fn has_account_id(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_digit())
        .any(|run| run.len() == 12)
}

/// The error, checked for what no error may hold, and what Lambda is told of it.
fn told(err: InvocationError) -> Diagnostic {
    let whole = format!("{err} {err:?}");
    assert!(
        !whole.contains(SECRET),
        "the signing secret leaked: {whole}"
    );
    let d: Diagnostic = err.into();
    assert!(!d.error_message.contains(SECRET), "{d:?}");
    assert!(!has_account_id(&d.error_message), "{d:?}");
    d
}

#[tokio::test]
async fn what_is_neither_a_request_nor_a_batch_is_a_malformed_event() {
    let h = handler();
    let deadline = now() + Duration::seconds(30);
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"hello": "world"}),
            "not an API Gateway HTTP API request or an SQS event",
        ),
        (json!({"Records": "nope"}), "not an SQS event"),
        (
            json!({"Records": [{"messageId": "m-1", "eventSourceARN": QUEUE_ARN, "body": 5}]}),
            "not an SQS event",
        ),
        (
            json!({"requestContext": 5, "headers": {"x-slack-signature": "v0=abc"}}),
            "not an API Gateway HTTP API (2.0) request",
        ),
    ];
    for (payload, says) in cases {
        let err = h.handle_by(payload, deadline).await.unwrap_err();
        assert_eq!(err.error_type(), "MalformedEvent", "{err:?}");
        assert!(err.to_string().starts_with(says), "{err}");
        let d = told(err);
        assert_eq!(d.error_type, "MalformedEvent");
        assert!(d.error_message.starts_with(says), "{d:?}");
    }
}

#[tokio::test]
async fn a_handler_without_its_slack_parts_is_a_config_error() {
    let h = Handler::new(runner());
    let deadline = now() + Duration::seconds(30);
    for payload in [
        json!({"Records": []}),
        json!({"requestContext": {"http": {"method": "POST", "path": "/slack/commands"}}}),
    ] {
        let d = told(h.handle_by(payload, deadline).await.unwrap_err());
        assert_eq!(d.error_type, "Config", "{d:?}");
        assert!(d.error_message.contains("not configured"), "{d:?}");
    }
}

#[tokio::test]
async fn an_unsigned_request_and_a_record_that_is_no_job_are_answers_not_errors() {
    let h = handler();
    let deadline = now() + Duration::seconds(30);
    let unsigned = json!({
        "version": "2.0",
        "rawPath": "/slack/commands",
        "headers": {"x-slack-request-timestamp": now().timestamp().to_string(),
                    "x-slack-signature": "v0=0000"},
        "requestContext": {"http": {"method": "POST", "path": "/slack/commands"}},
        "body": "text=status",
        "isBase64Encoded": false
    });
    let out = h.handle_by(unsigned, deadline).await.unwrap();
    assert_eq!(out["statusCode"], 401, "{out}");
    assert!(!out.to_string().contains(SECRET), "{out}");
    let batch =
        json!({"Records": [{"messageId": "m-1", "eventSourceARN": QUEUE_ARN, "body": "{}"}]});
    let out = h.handle_by(batch, deadline).await.unwrap();
    assert_eq!(
        out["batchItemFailures"][0]["itemIdentifier"], "m-1",
        "{out}"
    );
}
