//! What the Slack function talks to besides the runner, as narrow traits: the work queue, Slack's
//! `response_url`, and the table's Slack items (confirmation requests, post marks). Each has an
//! AWS (or HTTP) adapter here and an in-memory one in [`crate::memory`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use capstan_slack::{Message, ResponseUrl};
use capstan_store::slack::{Claim, ClaimError, PostSlot, PutRequestError, SlackRequest};
use capstan_store::{LogEntry, Store, StoreError};
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;

use crate::job::Job;

/// A failure to hand a job to the queue.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the work queue refused the job: {0}")]
pub struct QueueError(pub String);

/// Where the acknowledgement leaves work for the worker.
#[async_trait]
pub trait Queue: Send + Sync {
    /// Sends one job.
    async fn send(&self, job: &Job) -> Result<(), QueueError>;
}

/// A failure to post to a `response_url`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PostError {
    /// The network, a timeout or a 5xx/429: a retry may get through.
    #[error("posting to Slack failed, may be retried: {0}")]
    Transient(String),
    /// Slack answered 4xx (an expired or used-up response_url, a malformed message).
    #[error("Slack refused the post with HTTP {status}: {body}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// Slack's answer (e.g. `expired_url`), truncated.
        body: String,
    },
}

/// Posts messages to Slack's `response_url`s.
#[async_trait]
pub trait Responder: Send + Sync {
    /// Posts one message to a URL the guard accepted.
    async fn post(&self, url: &ResponseUrl, message: &Message) -> Result<(), PostError>;
}

/// The Slack items of the state table.
#[async_trait]
pub trait Requests: Send + Sync {
    /// Stores a request waiting for its confirmation (the same request again is a no-op).
    async fn put(&self, request: &SlackRequest) -> Result<(), PutRequestError>;
    /// Reads a request.
    async fn get(&self, id: &str) -> Result<Option<SlackRequest>, StoreError>;
    /// Uses a request once: confirms or cancels it, if it is pending and unexpired.
    async fn claim(
        &self,
        id: &str,
        by: &str,
        action: Claim,
        now: DateTime<Utc>,
    ) -> Result<SlackRequest, ClaimError>;
    /// Takes one of a `response_url`'s posts for `post_key` (the same slot again while the post
    /// is not marked made).
    async fn post_slot(
        &self,
        url: &str,
        post_key: &str,
        now: DateTime<Utc>,
    ) -> Result<PostSlot, StoreError>;
    /// Marks a post made: its key is not posted again.
    async fn mark_posted(&self, url: &str, post_key: &str) -> Result<(), StoreError>;
    /// Puts what the runner never sees (a refused or cancelled click) on the record.
    async fn record(&self, entry: &LogEntry, now: DateTime<Utc>) -> Result<(), StoreError>;
}

#[async_trait]
impl Requests for Store {
    async fn put(&self, request: &SlackRequest) -> Result<(), PutRequestError> {
        self.put_request(request).await
    }

    async fn get(&self, id: &str) -> Result<Option<SlackRequest>, StoreError> {
        self.request(id).await
    }

    async fn claim(
        &self,
        id: &str,
        by: &str,
        action: Claim,
        now: DateTime<Utc>,
    ) -> Result<SlackRequest, ClaimError> {
        self.claim_request(id, by, action, now).await
    }

    async fn post_slot(
        &self,
        url: &str,
        post_key: &str,
        now: DateTime<Utc>,
    ) -> Result<PostSlot, StoreError> {
        Store::post_slot(self, url, post_key, now).await
    }

    async fn mark_posted(&self, url: &str, post_key: &str) -> Result<(), StoreError> {
        Store::mark_posted(self, url, post_key).await
    }

    async fn record(&self, entry: &LogEntry, now: DateTime<Utc>) -> Result<(), StoreError> {
        Store::record(self, entry, now).await
    }
}

/// The SQS work queue.
#[derive(Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    /// The queue at `url`.
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> SqsQueue {
        SqsQueue {
            client,
            url: url.into(),
        }
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, job: &Job) -> Result<(), QueueError> {
        let body = serde_json::to_string(job).map_err(|e| QueueError(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                QueueError(capstan_aws::AwsError::from_sdk("sqs:SendMessage", e).to_string())
            })
    }
}

/// How long one post may take: Slack answers in well under a second.
pub const POST_TIMEOUT: Duration = Duration::from_secs(5);

type HttpsClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

/// Posts JSON over HTTPS (and plain HTTP, for a local test prefix) with hyper.
///
/// The client, which loads the platform's root certificates (Slack's are not Amazon's), is
/// built on the first post, not at start: most invocations are acknowledgements, which never
/// post, and the certificate store was a third of the function's init.
#[derive(Clone, Default)]
pub struct HttpResponder {
    client: Arc<std::sync::OnceLock<Result<HttpsClient, String>>>,
}

impl HttpResponder {
    /// A responder whose client trusts the system's root certificates.
    pub fn new() -> HttpResponder {
        HttpResponder::default()
    }

    fn client(&self) -> Result<&HttpsClient, PostError> {
        self.client
            .get_or_init(|| {
                let https = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_provider_and_native_roots(Arc::new(
                        rustls::crypto::aws_lc_rs::default_provider(),
                    ))
                    .map_err(|e| format!("no root certificates to verify Slack with: {e}"))?
                    .https_or_http()
                    .enable_http1()
                    .build();
                Ok(
                    hyper_util::client::legacy::Client::builder(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .build(https),
                )
            })
            .as_ref()
            .map_err(|e| PostError::Refused {
                status: 0,
                body: e.clone(),
            })
    }
}

#[async_trait]
impl Responder for HttpResponder {
    async fn post(&self, url: &ResponseUrl, message: &Message) -> Result<(), PostError> {
        let body = serde_json::to_vec(message).map_err(|e| PostError::Refused {
            status: 0,
            body: format!("the message does not serialize: {e}"),
        })?;
        let request = hyper::Request::post(url.as_str())
            .header("content-type", "application/json; charset=utf-8")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| PostError::Refused {
                status: 0,
                body: format!("not a request: {e}"),
            })?;
        let client = self.client()?;
        let answer = tokio::time::timeout(POST_TIMEOUT, async {
            let response = client.request(request).await?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, body))
        })
        .await;
        let (status, body) = match answer {
            Err(_) => {
                return Err(PostError::Transient(format!(
                    "no answer within {}s",
                    POST_TIMEOUT.as_secs()
                )))
            }
            Ok(Err(e)) => return Err(PostError::Transient(e.to_string())),
            Ok(Ok(answer)) => answer,
        };
        let text: String = String::from_utf8_lossy(&body).chars().take(200).collect();
        match status {
            200..=299 => Ok(()),
            429 | 500..=599 => Err(PostError::Transient(format!("HTTP {status}: {text}"))),
            _ => Err(PostError::Refused { status, body: text }),
        }
    }
}
