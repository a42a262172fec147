//! The `budget-handler` Lambda function: AWS Budgets alerts, delivered through SNS as plain
//! text, notify people and cap (or floor) non-critical capacity as the policy's budget rules
//! say.
//!
//! Fail closed: a message that is not an AWS Budgets notification is an error naming the
//! record and the line, and nothing is done (see `capstan_events::parse_budget_event`). Each
//! alert carries an idempotency key made of the budget, the alert type, the threshold and the
//! month it was sent, so the same alert delivered twice acts once. The engine decides now, for
//! the budget period the alert was sent in: an alert sent on the last day of a period and
//! handled after it caps nothing (it says so).
//!
//! A budget no rule mentions is a logged no-op and a notification that Capstan saw it. Critical
//! targets are never touched by a budget rule (the engine's rule).
#![warn(missing_docs)]

use capstan_events::{parse_budget_event, AcceptedTopics};
use capstan_function::{handle_each, Config, Function, InvocationError};
use capstan_policy::Signal;
use capstan_runner::{Delivery, Runner};
use chrono::{DateTime, Utc};
use serde_json::Value;
use tracing::info_span;

/// The function: a runner built once per container.
#[derive(Clone)]
pub struct Handler {
    runner: Runner,
    /// The SNS topics deliveries may come from (`CAPSTAN_SNS_TOPIC_ARNS`; none: any).
    topics: AcceptedTopics,
}

impl Function for Handler {
    const NAME: &'static str = "budget-handler";

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

    /// Handles one SNS delivery (one or several alerts); the response lists what came of each.
    ///
    /// Errors: `MalformedEvent`, a payload that is not a budget alert (names the record and
    /// line; nothing is changed); `UntrustedSource`, a record from a topic not accepted
    /// (nothing is read); or the runner's (`Transient`, `InProgress`, `OutOfTime`, `Denied`;
    /// see `capstan_function::InvocationError`).
    async fn handle_by(
        &self,
        payload: Value,
        deadline: DateTime<Utc>,
    ) -> Result<Value, InvocationError> {
        let deliveries = parse_budget_event(&payload, &self.topics)
            .map_err(|e| InvocationError::from_event(&e, "not an AWS Budgets alert"))?;
        let each = deliveries.into_iter().map(|d| {
            let span = info_span!(
                "budget",
                budget = %d.signal.budget,
                alert = %d.signal.alert_type,
                threshold = d.signal.threshold_percent,
                key = %d.key,
                message_id = %d.message_id
            );
            let delivery = Delivery {
                signal: Signal::Budget(d.signal),
                key: d.key,
                at: None,
            };
            (delivery, span)
        });
        handle_each(&self.runner, each, deadline).await
    }
}
