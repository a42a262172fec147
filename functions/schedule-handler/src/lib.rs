//! The `schedule-handler` Lambda function: keeps every target where the policy's schedules and
//! pre-events want it.
//!
//! It takes (see `capstan_events::parse_schedule_event` for the exact shapes):
//!
//! - the periodic **tick**, from an EventBridge Scheduler schedule (the input carries the
//!   scheduled time) or an EventBridge scheduled rule (the envelope's `time`). The engine decides
//!   for that moment, not the wall clock, so a retried or late tick decides as it would have on
//!   time; a tick older than one that already wrote a target is skipped for it;
//! - **apply** a named occurrence schedule now (`{"action": "apply", "schedule": "pre-launch"}`);
//! - **add** or **cancel** a pre-event at run time (`{"action": "add-event", ...}`,
//!   `{"action": "cancel-event", ...}`). The engine checks the event as it checks events in
//!   the policy file; an accepted event is stored in the state table, announced, and its bounds
//!   take effect at once when its lead has begun.
//!
//! A payload that is none of these is an error naming the field, and nothing changes.
#![warn(missing_docs)]

use capstan_events::parse_schedule_event;
use capstan_function::{handle_each, Function, InvocationError};
use capstan_runner::{Delivery, Runner};
use chrono::{DateTime, Utc};
use serde_json::Value;
use tracing::info_span;

/// The function: a runner built once per container.
#[derive(Clone)]
pub struct Handler {
    runner: Runner,
}

impl Function for Handler {
    const NAME: &'static str = "schedule-handler";

    fn new(runner: Runner) -> Handler {
        Handler { runner }
    }

    fn runner(&self) -> &Runner {
        &self.runner
    }

    /// Handles one tick or request; the response is the runner's report.
    ///
    /// Errors: `MalformedEvent`, a payload that is not a schedule request (names the field;
    /// nothing is changed), or the runner's (`Transient`, `InProgress`, `OutOfTime`,
    /// `Denied`; see `capstan_function::InvocationError`).
    async fn handle_by(
        &self,
        payload: Value,
        deadline: DateTime<Utc>,
    ) -> Result<Value, InvocationError> {
        let request = parse_schedule_event(&payload, self.runner.now())
            .map_err(|e| InvocationError::from_event(&e, "malformed schedule request"))?;
        let (at, key) = match request.at {
            Some(at) => (at, request.key.clone()),
            // No scheduled time (a hand-made request): decide for now, and let a repeat of
            // it later be a new request rather than a duplicate.
            None => {
                let now = self.runner.now();
                (
                    now,
                    format!("{}@{}", request.key, now.format("%Y-%m-%dT%H:%M:%SZ")),
                )
            }
        };
        let signal = request.signal();
        let span = info_span!("schedule", request = %signal.summary(), key = %key, at = %at, via = ?request.via);
        let delivery = Delivery {
            signal,
            key,
            at: Some(at),
        };
        handle_each(&self.runner, [(delivery, span)], deadline).await
    }
}
