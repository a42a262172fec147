//! What Lambda is told when an invocation fails: the error type of each kind of failure.

use capstan_function::{Diagnostic, Function};
use capstan_runner::memory::{Fault, Memory};
use chrono::{DateTime, Utc};
use schedule_handler::Handler;
use serde_json::{json, Value};

const POLICY: &str = include_str!("../../../capstan.example.toml");
const ALARM: &str =
    include_str!("../../../tests/fixtures/aws-events/alarm-eventbridge-state-change.json");

fn handler() -> (Handler, Memory) {
    let memory = Memory::new();
    let now: DateTime<Utc> = "2026-11-23T14:05:00Z".parse().unwrap();
    let runner = memory.runner(capstan_policy::load(POLICY).unwrap(), now);
    (Handler::new(runner), memory)
}

/// True when `text` holds a run of exactly 12 digits (an account id).
fn has_account_id(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_digit())
        .any(|run| run.len() == 12)
}

#[tokio::test]
async fn a_malformed_request_is_a_malformed_event_naming_the_field() {
    let (h, memory) = handler();
    let alarm: Value = serde_json::from_str(ALARM).unwrap();
    let cases = [
        (json!({"action": "jump"}), "action"),
        (
            json!({"action": "tick", "scheduled_time": "tomorrow"}),
            "scheduled_time",
        ),
        (json!({"action": "cancel-event"}), "name"),
        (alarm, "source"),
    ];
    for (payload, field) in cases {
        let err = h.handle(payload).await.unwrap_err();
        assert_eq!(err.error_type(), "MalformedEvent", "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("malformed schedule request: {field}: ")),
            "{text}"
        );
        let d: Diagnostic = err.into();
        assert_eq!(d.error_type, "MalformedEvent");
        assert!(d.error_message.contains(field), "{d:?}");
        assert!(!has_account_id(&d.error_message), "{d:?}");
    }
    assert_eq!(memory.calls(), 0, "nothing read, written or called");
}

#[tokio::test]
async fn a_tick_whose_reads_are_throttled_is_transient() {
    let (h, memory) = handler();
    // Every call answered as a throttled one would be (the answer lost: transient).
    for nth in 0..8 {
        memory.fault_at(nth, Fault::LostAnswer);
    }
    let tick = json!({"action": "tick", "scheduled_time": "2026-11-23T14:05:00Z"});
    let err = h.handle(tick).await.unwrap_err();
    assert_eq!(err.error_type(), "Transient", "{err:?}");
    let d: Diagnostic = err.into();
    assert_eq!(d.error_type, "Transient");
    assert!(d.error_message.starts_with("transient failure"), "{d:?}");
}
