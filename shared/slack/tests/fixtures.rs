//! The signed API Gateway fixtures in `tests/fixtures/` verify (or not) and parse.

use base64::Engine;
use capstan_slack::verify::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use capstan_slack::{
    parse_command, parse_interaction, request_id, Action, CommandBody, ResponseUrl, Verifier,
    VerifyError,
};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use std::path::Path;

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const COMMANDS_SIGNED_AT: i64 = 1795442400;
const INTERACTION_SIGNED_AT: i64 = 1795442410;

/// An API Gateway v2 event: its timestamp and signature headers and its raw body.
struct Event {
    timestamp: Option<String>,
    signature: Option<String>,
    body: Vec<u8>,
}

fn event(name: &str) -> Event {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: Value = serde_json::from_str(&text).unwrap();
    let header = |name: &str| json["headers"][name].as_str().map(str::to_string);
    let body = json["body"].as_str().unwrap();
    let body = if json["isBase64Encoded"].as_bool().unwrap() {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    } else {
        body.as_bytes().to_vec()
    };
    Event {
        timestamp: header(TIMESTAMP_HEADER),
        signature: header(SIGNATURE_HEADER),
        body,
    }
}

fn verify(event: &Event, now: DateTime<Utc>) -> Result<(), VerifyError> {
    Verifier::new(SECRET).verify(
        event.timestamp.as_deref(),
        event.signature.as_deref(),
        &event.body,
        now,
    )
}

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0).unwrap()
}

#[test]
fn the_base64_command_verifies_at_its_time_and_parses() {
    let event = event("slack-command-apigw-v2.json");
    assert_eq!(verify(&event, at(COMMANDS_SIGNED_AT + 2)), Ok(()));
    let CommandBody::Command(command) = parse_command(&event.body).unwrap() else {
        panic!("not a command");
    };
    assert_eq!(command.text, "scale api 6");
    assert_eq!(command.command, "/capstan");
    assert_eq!(command.user_id, "U2147483697");
    assert_eq!(command.channel_id, "C2147483705");
    assert_eq!(command.team_id, "T0001");
    assert_eq!(command.enterprise_id.as_deref(), Some("E0001"));
    assert_eq!(command.api_app_id.as_deref(), Some("A123456"));
    assert!(ResponseUrl::parse(&command.response_url, None).is_ok());
}

#[test]
fn the_plain_body_command_verifies_at_its_time_and_parses() {
    let event = event("slack-command-status-plain-body.json");
    assert_eq!(verify(&event, at(COMMANDS_SIGNED_AT)), Ok(()));
    let CommandBody::Command(command) = parse_command(&event.body).unwrap() else {
        panic!("not a command");
    };
    assert_eq!(command.text, "status");
}

#[test]
fn the_interaction_verifies_at_its_time_and_parses() {
    let event = event("slack-interaction-apigw-v2.json");
    assert_eq!(verify(&event, at(INTERACTION_SIGNED_AT + 1)), Ok(()));
    let click = parse_interaction(&event.body).unwrap();
    assert_eq!(click.kind, "block_actions");
    assert_eq!(click.user_id, "U2147483697");
    assert_eq!(click.team_id, "T0001");
    assert_eq!(click.channel_id.as_deref(), Some("C2147483705"));
    assert_eq!(click.message_ts.as_deref(), Some("1795442401.000200"));
    assert_eq!(
        click.action,
        Some(Action {
            action_id: capstan_slack::message::CONFIRM_ACTION.into(),
            block_id: Some(capstan_slack::message::BLOCK_ID.into()),
            value: Some("req-01JD6ZK8S0".into()),
        })
    );
    assert!(ResponseUrl::parse(click.response_url.as_deref().unwrap(), None).is_ok());
}

#[test]
fn the_bad_signature_is_refused() {
    let event = event("slack-command-bad-signature.json");
    assert_eq!(
        verify(&event, at(COMMANDS_SIGNED_AT)),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn the_fixtures_are_stale_against_the_real_clock() {
    for name in [
        "slack-command-apigw-v2.json",
        "slack-command-status-plain-body.json",
        "slack-interaction-apigw-v2.json",
    ] {
        let event = event(name);
        assert!(
            matches!(verify(&event, Utc::now()), Err(VerifyError::Stale { .. })),
            "{name}"
        );
        // Replayed six minutes later, or presented six minutes early.
        let signed: i64 = event.timestamp.as_deref().unwrap().parse().unwrap();
        assert!(matches!(
            verify(&event, at(signed + 360)),
            Err(VerifyError::Stale { skew_secs: 360 })
        ));
        assert!(matches!(
            verify(&event, at(signed - 360)),
            Err(VerifyError::Stale { skew_secs: -360 })
        ));
    }
}

#[test]
fn the_base64_and_plain_forms_are_not_interchangeable() {
    // The signature covers the decoded body: verifying the base64 text itself fails.
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slack-command-apigw-v2.json");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let encoded = json["body"].as_str().unwrap().as_bytes();
    let event = event("slack-command-apigw-v2.json");
    assert_eq!(
        Verifier::new(SECRET).verify(
            event.timestamp.as_deref(),
            event.signature.as_deref(),
            encoded,
            at(COMMANDS_SIGNED_AT)
        ),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn the_same_request_gets_the_same_id() {
    let base64 = event("slack-command-apigw-v2.json");
    let CommandBody::Command(command) = parse_command(&base64.body).unwrap() else {
        panic!("not a command");
    };
    let id = request_id(
        &command.team_id,
        command.trigger_id.as_deref(),
        base64.timestamp.as_deref().unwrap(),
        &base64.body,
    );
    // Slack retrying it (re-signed later) maps to the same id.
    assert_eq!(
        id,
        request_id(
            &command.team_id,
            command.trigger_id.as_deref(),
            "1795442460",
            &base64.body
        )
    );
}
