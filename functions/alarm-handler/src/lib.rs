//! The `alarm-handler` Lambda function: CloudWatch alarm state changes, delivered by
//! EventBridge, by an alarm's direct Lambda action, or through SNS, drive scaling by the policy.
//!
//! `main.rs` only wires the runtime; [`Handler::handle`] is what runs per event, and tests call
//! it directly. Configuration comes from the environment (see `capstan_function::Config`); the policy is
//! loaded once per container.
#![warn(missing_docs)]

use capstan_events::{parse_alarm_event, AcceptedTopics, Parsed};
use capstan_function::{handle_each, Config, Function, InvocationError};
use capstan_policy::Signal;
use capstan_runner::{Delivery, Runner};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tracing::{info, info_span};

/// The function: a runner built once per container.
#[derive(Clone)]
pub struct Handler {
    runner: Runner,
    /// The SNS topics deliveries may come from (`CAPSTAN_SNS_TOPIC_ARNS`; none: any).
    topics: AcceptedTopics,
}

impl Function for Handler {
    const NAME: &'static str = "alarm-handler";

    fn new(runner: Runner) -> Handler {
        Handler {
            runner,
            topics: AcceptedTopics::any(),
        }
    }

    fn runner(&self) -> &Runner {
        &self.runner
    }

    /// Accepts SNS deliveries only from the configured topics.
    fn configure(mut self, config: &Config) -> Handler {
        self.topics = AcceptedTopics::from(&config.sns_topics);
        self
    }

    /// Handles one event. Every alarm transition in it is handled (each acts at most once,
    /// however often it is delivered); the response lists what came of each.
    ///
    /// Errors: `MalformedEvent`, a payload that is not an alarm (names the field that is
    /// wrong; nothing is changed); `UntrustedSource`, an SNS record from a topic not accepted
    /// (nothing is read); or the runner's (`Transient`, `InProgress`, `OutOfTime`, `Denied`),
    /// which a retry may fix (see `capstan_function::InvocationError`).
    async fn handle_by(
        &self,
        payload: Value,
        deadline: DateTime<Utc>,
    ) -> Result<Value, InvocationError> {
        let deliveries = match parse_alarm_event(&payload, &self.topics) {
            Ok(Parsed::Alarms(d)) => d,
            Ok(Parsed::Ignored { why }) => {
                info!(why = %why, "event ignored");
                return Ok(json!({ "ignored": why }));
            }
            Err(e) => return Err(InvocationError::from_event(&e, "malformed alarm event")),
        };
        let each = deliveries.into_iter().map(|d| {
            let span = info_span!(
                "alarm",
                alarm = %d.signal.name,
                state = %d.signal.state,
                key = %d.key,
                via = ?d.via
            );
            let delivery = Delivery {
                signal: Signal::Alarm(d.signal),
                key: d.key,
                at: None,
            };
            (delivery, span)
        });
        handle_each(&self.runner, each, deadline).await
    }
}
