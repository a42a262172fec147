//! The runner's failures through `handle_each`, as Lambda is told of them: transient AWS
//! failures, a signal another attempt holds, a deadline too close, a state table that refuses
//! the function's role, and several of them in one invocation. In memory, with faults
//! programmed at the runner's calls.

use std::time::Duration as StdDuration;

use capstan_aws::ErrorKind;
use capstan_events::{parse_alarm_event, parse_budget_event, AcceptedTopics, Parsed};
use capstan_function::{handle_each, Diagnostic, InvocationError};
use capstan_policy::Signal;
use capstan_runner::memory::{Fault, Memory, Op};
use capstan_runner::{Delivery, Runner};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use tracing::Span;

const POLICY: &str = include_str!("../../../capstan.example.toml");
const ALARM: &str =
    include_str!("../../../tests/fixtures/aws-events/alarm-eventbridge-state-change.json");
const BUDGET: &str =
    include_str!("../../../tests/fixtures/aws-events/budget-sns-actual-80pct.json");

fn now() -> DateTime<Utc> {
    "2026-11-23T14:06:00Z".parse().unwrap()
}

/// The example platform: api 3 and frontend 2 (ECS), ai 4 (target tracking, 2..30), web 3 (an
/// Auto Scaling group, 2..15).
fn world() -> Memory {
    Memory::example_fleet(3, 2, 4, 3)
}

fn runner(memory: &Memory) -> Runner {
    memory.runner(capstan_policy::load(POLICY).unwrap(), now())
}

/// api-cpu-critical in ALARM (api +2), as EventBridge delivers it.
fn alarm() -> Delivery {
    let payload: Value = serde_json::from_str(ALARM).unwrap();
    let Ok(Parsed::Alarms(mut d)) = parse_alarm_event(&payload, &AcceptedTopics::any()) else {
        panic!("the fixture is an alarm");
    };
    let d = d.remove(0);
    Delivery {
        signal: Signal::Alarm(d.signal),
        key: d.key,
        at: None,
    }
}

/// AI-Service-Monthly at 80%: a notice, which concerns no target (the signal's `*` receipt).
fn budget() -> Delivery {
    let payload: Value = serde_json::from_str(BUDGET).unwrap();
    let d = parse_budget_event(&payload, &AcceptedTopics::any())
        .unwrap()
        .remove(0);
    Delivery {
        signal: Signal::Budget(d.signal),
        key: d.key,
        at: None,
    }
}

async fn each(
    runner: &Runner,
    deliveries: Vec<Delivery>,
    deadline: DateTime<Utc>,
) -> Result<Value, InvocationError> {
    let spans = deliveries.into_iter().map(|d| (d, Span::none()));
    handle_each(runner, spans, deadline).await
}

fn by(minutes: i64) -> DateTime<Utc> {
    now() + Duration::minutes(minutes)
}

/// The place, among the calls `delivery` makes in a fault-free run on a fresh world, of its
/// first call of `op`.
async fn first_call(delivery: &Delivery, op: Op) -> usize {
    let memory = world();
    each(&runner(&memory), vec![delivery.clone()], by(1))
        .await
        .unwrap();
    let calls = memory.world().calls.clone();
    calls.iter().position(|c| *c == op).expect("the op is made")
}

/// A world where an attempt at the alarm committed its intent on api and was killed before
/// its `UpdateService` (its deadline, a minute ahead, has not passed).
async fn held() -> Memory {
    let memory = world();
    let execute = first_call(&alarm(), Op::Execute).await;
    memory.fault_at(execute, Fault::Hang);
    let killed = tokio::time::timeout(
        StdDuration::from_secs(30),
        each(&runner(&memory), vec![alarm()], by(1)),
    )
    .await;
    assert!(killed.is_err(), "the attempt hangs until it is killed");
    memory
}

fn account_free(text: &str) -> bool {
    !text
        .split(|c: char| !c.is_ascii_digit())
        .any(|run| run.len() == 12)
}

#[tokio::test]
async fn throttling_after_the_sdks_retries_is_transient() {
    let memory = world();
    for nth in 0..8 {
        memory.fault_at(nth, Fault::Before(ErrorKind::Transient));
    }
    let err = each(&runner(&memory), vec![alarm()], by(1))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "Transient", "{err:?}");
    assert!(err.is_retryable());
    assert!(err.to_string().contains("ThrottlingException"), "{err}");
    let d: Diagnostic = err.into();
    assert_eq!(d.error_type, "Transient");
    assert!(d.error_message.contains("ThrottlingException"), "{d:?}");
}

#[tokio::test(start_paused = true)]
async fn a_signal_another_attempt_holds_is_in_progress() {
    let memory = held().await;
    let err = each(&runner(&memory), vec![alarm()], by(1))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InProgress", "{err:?}");
    assert!(err.to_string().contains("api"), "names the target: {err}");
    let d: Diagnostic = err.into();
    assert_eq!(d.error_type, "InProgress");
    assert!(account_free(&d.error_message), "{d:?}");
}

#[tokio::test]
async fn a_deadline_too_close_to_start_is_out_of_time() {
    let memory = world();
    let deadline = now() + Duration::seconds(2);
    let err = each(&runner(&memory), vec![alarm()], deadline)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "OutOfTime", "{err:?}");
    assert!(err.to_string().contains("api"), "{err}");
    assert!(memory.world().changes.is_empty(), "nothing started");
    let d: Diagnostic = err.into();
    assert_eq!(d.error_type, "OutOfTime");
}

#[tokio::test]
async fn a_state_table_that_refuses_the_role_is_denied() {
    let memory = world();
    let commit = first_call(&budget(), Op::Commit).await;
    memory.fault_at(commit, Fault::Before(ErrorKind::Denied));
    let err = each(&runner(&memory), vec![budget()], by(1))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "Denied", "{err:?}");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("AccessDeniedException"), "{err}");
    let d: Diagnostic = err.into();
    assert_eq!(d.error_type, "Denied");
    assert!(d.error_message.contains("state table"), "{d:?}");
    assert!(memory.world().published.is_empty(), "nothing told");
}

/// Two deliveries in one invocation: an alarm whose reads are throttled (transient) and a budget
/// alert whose notice the state table refuses to record (denied). In either order the
/// invocation is denied, and says both.
#[tokio::test]
async fn of_several_failures_the_least_retryable_with_every_message() {
    // How many calls the throttled alarm makes, and where the budget's commit comes.
    let probe = world();
    for nth in 0..8 {
        probe.fault_at(nth, Fault::Before(ErrorKind::Transient));
    }
    let throttled = each(&runner(&probe), vec![alarm()], by(1)).await;
    assert_eq!(throttled.unwrap_err().error_type(), "Transient");
    let alarm_calls = probe.calls();
    assert!(alarm_calls < 8, "every call of the alarm was throttled");
    let commit = first_call(&budget(), Op::Commit).await;

    // The alarm first.
    let memory = world();
    for nth in 0..alarm_calls {
        memory.fault_at(nth, Fault::Before(ErrorKind::Transient));
    }
    memory.fault_at(alarm_calls + commit, Fault::Before(ErrorKind::Denied));
    let err = each(&runner(&memory), vec![alarm(), budget()], by(1))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "Denied", "{err:?}");
    let text = err.to_string();
    let (first, second) = text.split_once("; ").expect("both messages");
    assert!(
        first.starts_with("transient failure") && first.contains("ThrottlingException"),
        "{text}"
    );
    assert!(
        second.starts_with("refused by the state table")
            && second.contains("AccessDeniedException"),
        "{text}"
    );

    // The budget first: the same kind, the messages in the order of the deliveries.
    let probe = world();
    probe.fault_at(commit, Fault::Before(ErrorKind::Denied));
    let denied = each(&runner(&probe), vec![budget()], by(1)).await;
    assert_eq!(denied.unwrap_err().error_type(), "Denied");
    let budget_calls = probe.calls();
    let memory = world();
    memory.fault_at(commit, Fault::Before(ErrorKind::Denied));
    for nth in 0..alarm_calls {
        memory.fault_at(budget_calls + nth, Fault::Before(ErrorKind::Transient));
    }
    let err = each(&runner(&memory), vec![budget(), alarm()], by(1))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "Denied", "{err:?}");
    let text = err.to_string();
    let (first, second) = text.split_once("; ").expect("both messages");
    assert!(first.starts_with("refused by the state table"), "{text}");
    assert!(second.starts_with("transient failure"), "{text}");
    let d: Diagnostic = err.into();
    assert_eq!(d.error_type, "Denied");
    assert!(account_free(&d.error_message), "{d:?}");
}
