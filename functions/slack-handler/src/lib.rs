//! The `slack-handler` Lambda function: `/capstan` on Slack.
//!
//! One binary, two ways in:
//! - **API Gateway HTTP API** (payload format 2.0), `POST /slack/commands` and
//!   `POST /slack/interactions`: the acknowledgement ([`ack`]), within Slack's 3 seconds
//!   whatever AWS does. Signature first (401, nothing parsed), then pure checks, then one
//!   bounded hand-off to the work queue.
//! - **SQS** (the work queue's event source mapping): the worker ([`worker`]) carries each job
//!   out through the runner, exactly once per Slack request, and answers on `response_url`.
//!   Failed records are reported one by one (`batchItemFailures`), so only they come back.
#![warn(missing_docs)]

use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use capstan_function::{Config, ConfigError, Function, InvocationError};
use capstan_runner::Runner;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use tracing::{error, info_span, warn, Instrument};

pub mod ack;
pub mod http;
pub mod job;
pub mod memory;
pub mod ports;
pub mod reply;
pub mod settings;
pub mod status;
pub mod worker;

pub use job::{Asker, ClickAction, Job};
pub use ports::{HttpResponder, Queue, Requests, Responder, SqsQueue};
pub use settings::{Signing, SlackSettings};

/// How long the acknowledgement may take: Slack gives up after 3 s, and the answer still has
/// to travel through API Gateway.
pub const ACK_BUDGET: Duration = Duration::milliseconds(2_500);

/// How long the start waits for the signing secret before it leaves it to the first request.
pub const INIT_SECRET_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);

/// Of the acknowledgement's budget, what an inline `status` leaves for queueing it instead.
pub const QUEUE_RESERVE: Duration = Duration::milliseconds(900);

/// What the Slack side needs besides the runner.
pub struct Parts {
    /// Checks Slack's signatures (a [`Verifier`](capstan_slack::Verifier) converts into one).
    pub verifier: Signing,
    /// The work queue.
    pub queue: Arc<dyn Queue>,
    /// Posts to `response_url`s.
    pub responder: Arc<dyn Responder>,
    /// Confirmation requests and post marks.
    pub requests: Arc<dyn Requests>,
    /// A `response_url` prefix accepted beside Slack's (local tests).
    pub response_prefix: Option<String>,
    /// How long the acknowledgement may take.
    pub ack_budget: Duration,
    /// What an inline `status` leaves for queueing instead.
    pub queue_reserve: Duration,
}

/// The function: a runner and the Slack parts, built once per container.
#[derive(Clone)]
pub struct Handler {
    runner: Runner,
    parts: Option<Arc<Parts>>,
}

/// The Slack parts are missing (a handler built with [`Function::new`] alone).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the Slack function is not configured (signing secret, queue)")]
pub struct NotConfigured;

impl From<NotConfigured> for InvocationError {
    /// `Config`: the handler lacks its settings.
    fn from(e: NotConfigured) -> InvocationError {
        InvocationError::Config(e.to_string())
    }
}

/// The function's answer as JSON (`Internal` if it cannot be: never, for these types).
fn answer(response: impl serde::Serialize) -> Result<Value, InvocationError> {
    serde_json::to_value(response).map_err(|e| {
        InvocationError::Internal(format!("the response could not be serialised: {e}"))
    })
}

impl Handler {
    /// A handler from its runner and parts (tests, tools).
    pub fn with_parts(runner: Runner, parts: Parts) -> Handler {
        Handler {
            runner,
            parts: Some(Arc::new(parts)),
        }
    }

    pub(crate) fn parts(&self) -> Result<&Parts, NotConfigured> {
        self.parts.as_deref().ok_or(NotConfigured)
    }

    /// Answers an API Gateway request (the acknowledgement), by `deadline` at the latest. A
    /// request Slack did not sign, or one refused, is an answer (401, 403...), not an error;
    /// the only error is `Config`, a handler without its Slack parts.
    pub async fn acknowledge_by(
        &self,
        request: &ApiGatewayV2httpRequest,
        deadline: DateTime<Utc>,
    ) -> Result<Value, InvocationError> {
        let parts = self.parts()?;
        let until = (self.runner.now() + parts.ack_budget).min(deadline);
        let span = info_span!("slack", route = request.raw_path.as_deref().unwrap_or(""));
        let response = self
            .acknowledge(parts, request, until)
            .instrument(span)
            .await;
        answer(response)
    }

    /// Carries out an SQS batch of jobs: the records that failed are reported for redelivery
    /// (`batchItemFailures`), not as an error; the only error is `Config`, a handler without
    /// its Slack parts.
    pub async fn work_by(
        &self,
        event: SqsEvent,
        deadline: DateTime<Utc>,
    ) -> Result<Value, InvocationError> {
        let parts = self.parts()?;
        let mut response = SqsBatchResponse::default();
        for record in event.records {
            let id = record.message_id.clone().unwrap_or_default();
            let job = match serde_json::from_str::<Job>(record.body.as_deref().unwrap_or("")) {
                Ok(job) => job,
                Err(e) => {
                    // Never right on a retry: after the queue's retries it rests in the DLQ,
                    // whose alarm tells someone.
                    // Without the values serde quotes: a job holds a response_url.
                    let e = capstan_function::serde_problem(&e);
                    error!(message_id = %id, error = %e, "not a Capstan Slack job");
                    response.batch_item_failures.push(failure(id));
                    continue;
                }
            };
            let span = info_span!("job", message_id = %id, request = %job.request_id(), job = %job.summary());
            if let Err(e) = self.work(parts, &job, deadline).instrument(span).await {
                warn!(message_id = %id, error = %e, "job failed; the queue redelivers it");
                response.batch_item_failures.push(failure(id));
            }
        }
        answer(response)
    }
}

fn failure(id: String) -> BatchItemFailure {
    let mut f = BatchItemFailure::default();
    f.item_identifier = id;
    f
}

impl Function for Handler {
    const NAME: &'static str = "slack-handler";

    fn new(runner: Runner) -> Handler {
        Handler {
            runner,
            parts: None,
        }
    }

    fn runner(&self) -> &Runner {
        &self.runner
    }

    /// Reads the Slack settings, resolves the signing secret (once per container) and builds
    /// the queue, the HTTP client and the table's Slack items.
    async fn init(
        runner: Runner,
        config: &Config,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Handler, ConfigError> {
        let settings = SlackSettings::from_env(|k| std::env::var(k).ok())?;
        let signing = Signing::start(settings.secret.clone(), sdk, INIT_SECRET_BUDGET).await?;
        let responder = HttpResponder::new();
        let store =
            capstan_store::Store::new(aws_sdk_dynamodb::Client::new(sdk), config.table.clone());
        let parts = Parts {
            verifier: signing,
            queue: Arc::new(SqsQueue::new(
                aws_sdk_sqs::Client::new(sdk),
                settings.queue_url.clone(),
            )),
            responder: Arc::new(responder),
            requests: Arc::new(store),
            response_prefix: settings.response_prefix.clone(),
            ack_budget: ACK_BUDGET,
            queue_reserve: QUEUE_RESERVE,
        };
        Ok(Handler::with_parts(runner, parts))
    }

    /// An API Gateway request or an SQS batch; anything else is a `MalformedEvent` naming
    /// what came (nothing done).
    async fn handle_by(
        &self,
        payload: Value,
        deadline: DateTime<Utc>,
    ) -> Result<Value, InvocationError> {
        if payload.get("Records").is_some() {
            let event: SqsEvent = serde_json::from_value(payload).map_err(|e| {
                InvocationError::MalformedEvent(format!(
                    "not an SQS event: {}",
                    capstan_function::serde_problem(&e)
                ))
            })?;
            return self.work_by(event, deadline).await;
        }
        if payload.get("requestContext").is_some() {
            let request: ApiGatewayV2httpRequest =
                serde_json::from_value(payload).map_err(|e| {
                    InvocationError::MalformedEvent(format!(
                        "not an API Gateway HTTP API (2.0) request: {}",
                        capstan_function::serde_problem(&e)
                    ))
                })?;
            return self.acknowledge_by(&request, deadline).await;
        }
        Err(InvocationError::MalformedEvent(
            "not an API Gateway HTTP API request or an SQS event: nothing done".into(),
        ))
    }
}
