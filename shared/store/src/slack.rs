//! Slack's part of the state table: requests waiting for a confirmation click, and the
//! bookkeeping of posts to a Slack `response_url`.
//!
//! | pk | sk | what |
//! | --- | --- | --- |
//! | `slack#<id>` | `request` | a [`SlackRequest`]: `doc` (its JSON as put, never rewritten), `state` (`pending`, `confirmed`, `cancelled`), `claimed_by`/`claimed_at` once claimed, `expires_ms` (epoch milliseconds, in the claim's condition), TTL at `expires` |
//! | `slack-url#<sha256 of the URL>` | `counter` | posts granted for one `response_url`: `posts`, `post_seq` (bumped by every change, the optimistic lock), `first_at`; TTL [`POST_WINDOW`] after the first |
//! | `slack-url#<sha256 of the URL>` | `post#<post_key>` | one post granted: `grant_id`, `slot`, `at`; the counter's TTL |
//!
//! A request is usable once: [`Store::claim_request`] is one conditional `UpdateItem` (the item
//! exists, is pending, and has not expired). The expiry is in the condition because TTL
//! deletion is lazy (DynamoDB deletes an expired item within days; moto never does).
//!
//! A `response_url` is a bearer credential: the post bookkeeping stores only its SHA-256
//! ([`url_digest`]), never the URL. (A [`SlackRequest`] item holds whatever `response_url` it
//! is given, in its `doc`, until its TTL; the Slack function gives it none.)
//!
//! Slack accepts at most [`MAX_POSTS_PER_URL`] posts to a `response_url` within 30 minutes of
//! the interaction. [`Store::post_slot`] grants them one `TransactWriteItems` at a time (the
//! counter and the post's mark together), one slot per `post_key`: granted again to the same
//! key until [`Store::mark_posted`] says the post was made, then never again. A post that
//! failed or was cut off is thus made by the redelivered job, and one made is not made twice
//! (at least once). [`Store::unmark_post`] gives a slot back outright.

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use capstan_aws::{AwsError, ErrorKind};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{doc_attr, n, parse_doc, reasons_from_message, s, str_attr, Store, StoreError};

/// The longest a request may wait for its confirmation: `expires - created` at most.
pub const MAX_REQUEST_TTL: Duration = Duration::minutes(30);
/// Posts Slack accepts to one `response_url`.
pub const MAX_POSTS_PER_URL: u32 = 5;
/// How long a `response_url`'s counter is kept after the first post: Slack refuses the URL 30
/// minutes after the interaction, which came before the first post.
pub const POST_WINDOW: Duration = Duration::minutes(30);

/// Attempts of [`Store::post_slot`] and [`Store::unmark_post`] when a concurrent writer moved
/// the counter first.
const ATTEMPTS: u32 = 8;
const REQUEST_SK: &str = "request";
const COUNTER_SK: &str = "counter";

/// A command waiting for a confirmation click (the button's value is its `id`).
///
/// `Debug` leaves out `response_url` (a bearer credential).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct SlackRequest {
    /// The opaque request id (`req-...`), derived from the Slack request.
    pub id: String,
    /// The Slack user id of who asked.
    pub user: String,
    /// The channel it was asked in.
    pub channel: String,
    /// The Slack team (workspace) id.
    pub team: String,
    /// The command text (`scale api 40 --force`).
    pub text: String,
    /// What will happen when it is confirmed, in one line, for the audit and the dialog.
    pub summary: String,
    /// The command's `response_url`.
    pub response_url: String,
    /// When it was asked.
    pub created: DateTime<Utc>,
    /// When it can no longer be confirmed: after `created`, at most [`MAX_REQUEST_TTL`] later.
    pub expires: DateTime<Utc>,
    /// Pending, or who confirmed or cancelled it and when.
    #[serde(flatten)]
    pub state: RequestState,
}

impl std::fmt::Debug for SlackRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackRequest")
            .field("id", &self.id)
            .field("user", &self.user)
            .field("channel", &self.channel)
            .field("team", &self.team)
            .field("text", &self.text)
            .field("summary", &self.summary)
            .field("response_url", &"<redacted>")
            .field("created", &self.created)
            .field("expires", &self.expires)
            .field("state", &self.state)
            .finish()
    }
}

impl SlackRequest {
    /// True when it can no longer be confirmed at `now` (to the millisecond, as the claim's
    /// condition compares).
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now.timestamp_millis() >= self.expires.timestamp_millis()
    }
}

/// Where a request stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum RequestState {
    /// Waiting for a click.
    Pending,
    /// Confirmed by `by` at `at`.
    Confirmed {
        /// The Slack user id who clicked.
        by: String,
        /// When the claim was made.
        at: DateTime<Utc>,
    },
    /// Cancelled by `by` at `at`.
    Cancelled {
        /// The Slack user id who clicked.
        by: String,
        /// When the claim was made.
        at: DateTime<Utc>,
    },
}

impl RequestState {
    /// `pending`, `confirmed` or `cancelled`, as stored in the item's `state`.
    pub fn name(&self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Confirmed { .. } => "confirmed",
            RequestState::Cancelled { .. } => "cancelled",
        }
    }

    /// The claim that moved it on and who made it, unless it is pending.
    pub fn claimed(&self) -> Option<(Claim, &str)> {
        match self {
            RequestState::Pending => None,
            RequestState::Confirmed { by, .. } => Some((Claim::Confirm, by)),
            RequestState::Cancelled { by, .. } => Some((Claim::Cancel, by)),
        }
    }
}

/// What a click does to a pending request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Claim {
    /// The `capstan_confirm` button.
    Confirm,
    /// The `capstan_cancel` button.
    Cancel,
}

impl Claim {
    /// The state a claim by `by` at `at` leaves the request in.
    pub fn state(self, by: &str, at: DateTime<Utc>) -> RequestState {
        let by = by.to_string();
        match self {
            Claim::Confirm => RequestState::Confirmed { by, at },
            Claim::Cancel => RequestState::Cancelled { by, at },
        }
    }
}

/// Why [`Store::put_request`] stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum PutRequestError {
    /// A request with this id is stored with other content (a put of the very same request,
    /// byte for byte, is no error).
    #[error("slack request {id} exists with other content")]
    Exists {
        /// The request id.
        id: String,
        /// What is stored.
        stored: Box<SlackRequest>,
    },
    /// The request cannot be stored as it is: not pending, or its expiry is not within
    /// [`MAX_REQUEST_TTL`] after its creation.
    #[error("slack request {id} cannot be stored: {why}")]
    Invalid {
        /// The request id.
        id: String,
        /// What is wrong.
        why: String,
    },
    /// The table failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PutRequestError {
    /// True when retrying the invocation may help.
    pub fn is_retryable(&self) -> bool {
        match self {
            PutRequestError::Store(e) => e.is_retryable(),
            PutRequestError::Exists { .. } | PutRequestError::Invalid { .. } => false,
        }
    }
}

/// Why [`Store::claim_request`] changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// No request has this id (never stored, or deleted by its TTL some time after expiring).
    #[error("no such request")]
    NotFound,
    /// The request is still pending, but its time ran out.
    #[error("the request expired at {expires}")]
    Expired {
        /// When it expired.
        expires: DateTime<Utc>,
    },
    /// The request was confirmed or cancelled already (expired or not since).
    ///
    /// This is also the answer to a claim retried after its first answer was lost: the state
    /// then names the same `by` and action, which [`ClaimError::is_claim_by`] tells. The store
    /// cannot tell that from a second click by the same user; a caller that goes on with the
    /// confirmed work in that case relies on the work being exactly once by itself (the
    /// runner's key `slack:<id>:confirmed`).
    #[error("the request was {} already", state.name())]
    AlreadyUsed {
        /// Who confirmed or cancelled it, and when.
        state: RequestState,
    },
    /// The table failed (or the item is unreadable).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ClaimError {
    /// True when retrying the invocation may help.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClaimError::Store(e) => e.is_retryable(),
            ClaimError::NotFound | ClaimError::Expired { .. } | ClaimError::AlreadyUsed { .. } => {
                false
            }
        }
    }

    /// True when the request was already moved on by `by` with `action`: this claim's own
    /// earlier attempt (its answer lost), or the same user clicking the same button again.
    pub fn is_claim_by(&self, by: &str, action: Claim) -> bool {
        match self {
            ClaimError::AlreadyUsed { state } => state.claimed() == Some((action, by)),
            _ => false,
        }
    }
}

/// The answer of [`Store::post_slot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostSlot {
    /// Post now: this is post number `n` (1 to [`MAX_POSTS_PER_URL`]) to the URL; once made,
    /// [`Store::mark_posted`].
    Granted {
        /// Which post to the URL this is.
        n: u32,
    },
    /// A post with this `post_key` was granted already: do not post again.
    AlreadyPosted,
    /// No post left for this URL: [`MAX_POSTS_PER_URL`] were granted, or the window of
    /// [`POST_WINDOW`] after the first has passed.
    Exhausted,
}

/// What a post's mark says: made ([`PostSlot::AlreadyPosted`]), or granted slot `n` and not
/// confirmed made ([`PostSlot::Granted`], to make now).
fn booked(
    mark: &HashMap<String, AttributeValue>,
    pk: &str,
    sk: &str,
) -> Result<PostSlot, StoreError> {
    if matches!(mark.get("posted"), Some(AttributeValue::Bool(true))) {
        return Ok(PostSlot::AlreadyPosted);
    }
    let n = num_attr(mark, "slot", pk, sk)?;
    Ok(PostSlot::Granted {
        n: u32::try_from(n).map_err(|_| StoreError::Corrupt {
            pk: pk.to_string(),
            sk: sk.to_string(),
            why: format!("slot {n}"),
        })?,
    })
}

/// The SHA-256 of a `response_url`, in lower-case hex: all the table holds of it.
pub fn url_digest(url: &str) -> String {
    hex(&Sha256::digest(url.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn request_pk(id: &str) -> String {
    format!("slack#{id}")
}

fn url_pk(url: &str) -> String {
    format!("slack-url#{}", url_digest(url))
}

fn mark_sk(post_key: &str) -> String {
    format!("post#{post_key}")
}

/// Epoch seconds at or after `t`, for the TTL: an item is not deleted before `t`.
fn ttl_secs(t: DateTime<Utc>) -> i64 {
    let secs = t.timestamp();
    if t.timestamp_subsec_nanos() > 0 {
        secs + 1
    } else {
        secs
    }
}

fn check(req: &SlackRequest) -> Result<(), PutRequestError> {
    let invalid = |why: String| PutRequestError::Invalid {
        id: req.id.clone(),
        why,
    };
    if req.id.is_empty() {
        return Err(invalid("the id is empty".into()));
    }
    if req.state != RequestState::Pending {
        return Err(invalid(format!("it is {}, not pending", req.state.name())));
    }
    if req.expires <= req.created {
        return Err(invalid("it expires before it is created".into()));
    }
    if req.expires - req.created > MAX_REQUEST_TTL {
        return Err(invalid(format!(
            "it expires more than {} minutes after it is created",
            MAX_REQUEST_TTL.num_minutes()
        )));
    }
    Ok(())
}

/// The item of a request (its `doc` is the request as given).
fn request_item(req: &SlackRequest) -> HashMap<String, AttributeValue> {
    let doc = serde_json::to_string(req).expect("a slack request serializes");
    let mut item = HashMap::from([
        ("pk".to_string(), s(request_pk(&req.id))),
        ("sk".to_string(), s(REQUEST_SK)),
        ("state".to_string(), s(req.state.name())),
        ("user".to_string(), s(&req.user)),
        ("channel".to_string(), s(&req.channel)),
        ("summary".to_string(), s(&req.summary)),
        ("created".to_string(), s(req.created.to_rfc3339())),
        ("expires_ms".to_string(), n(req.expires.timestamp_millis())),
        ("expires_at".to_string(), n(ttl_secs(req.expires))),
        ("doc".to_string(), s(doc)),
    ]);
    if let RequestState::Confirmed { by, at } | RequestState::Cancelled { by, at } = &req.state {
        item.insert("claimed_by".into(), s(by));
        item.insert("claimed_at".into(), s(at.to_rfc3339()));
    }
    item
}

/// A request from its item: the `doc` as put, in the state its attributes say.
fn decode_request(item: &HashMap<String, AttributeValue>) -> Result<SlackRequest, StoreError> {
    let pk = str_attr(item, "pk").unwrap_or_default();
    let sk = str_attr(item, "sk").unwrap_or_default();
    let corrupt = |why: String| StoreError::Corrupt {
        pk: pk.clone(),
        sk: sk.clone(),
        why,
    };
    let mut req: SlackRequest = parse_doc(&doc_attr(item, &pk, &sk)?, &pk, &sk)?;
    if request_pk(&req.id) != pk {
        return Err(corrupt(format!("its doc is request `{}`", req.id)));
    }
    let claimed = || -> Result<(String, DateTime<Utc>), StoreError> {
        let by = str_attr(item, "claimed_by")
            .ok_or_else(|| corrupt("claimed without `claimed_by`".into()))?;
        let at = str_attr(item, "claimed_at")
            .and_then(|a| DateTime::parse_from_rfc3339(&a).ok())
            .ok_or_else(|| corrupt("claimed without a `claimed_at` time".into()))?;
        Ok((by, at.with_timezone(&Utc)))
    };
    req.state = match str_attr(item, "state").as_deref() {
        Some("pending") => RequestState::Pending,
        Some("confirmed") => {
            let (by, at) = claimed()?;
            RequestState::Confirmed { by, at }
        }
        Some("cancelled") => {
            let (by, at) = claimed()?;
            RequestState::Cancelled { by, at }
        }
        other => return Err(corrupt(format!("state {other:?}"))),
    };
    Ok(req)
}

/// Why a claim's condition failed, from the item as it was (`None`: absent). `read_after`:
/// the item was read after the claim (not returned with its failure), so a pending,
/// unexpired one was written since, and was absent when the claim was tried.
fn refusal(old: Option<SlackRequest>, now: DateTime<Utc>, read_after: bool) -> ClaimError {
    match old {
        None => ClaimError::NotFound,
        Some(r) if r.state != RequestState::Pending => ClaimError::AlreadyUsed { state: r.state },
        Some(r) if r.is_expired(now) => ClaimError::Expired { expires: r.expires },
        Some(_) if read_after => ClaimError::NotFound,
        Some(r) => ClaimError::Store(StoreError::Corrupt {
            pk: request_pk(&r.id),
            sk: REQUEST_SK.into(),
            why: "pending and unexpired, yet the claim's condition failed (`expires_ms`?)".into(),
        }),
    }
}

fn num_attr(
    item: &HashMap<String, AttributeValue>,
    name: &str,
    pk: &str,
    sk: &str,
) -> Result<i64, StoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Corrupt {
            pk: pk.to_string(),
            sk: sk.to_string(),
            why: format!("no numeric attribute `{name}`"),
        })
}

/// A `ClientRequestToken` (32 hex digits) for one transaction described by `parts`.
fn token(parts: &[&str]) -> String {
    let digest = Sha256::digest(parts.join("\n").as_bytes());
    hex(&digest[..16])
}

/// Each item's cancellation code and, when asked for, the item as it was.
type Reasons = Vec<(String, Option<HashMap<String, AttributeValue>>)>;

/// The reasons of a cancelled transaction, when the error is one.
fn cancelled<R>(e: &SdkError<TransactWriteItemsError, R>) -> Option<Reasons> {
    let TransactWriteItemsError::TransactionCanceledException(tc) = e.as_service_error()? else {
        return None;
    };
    let reasons = tc.cancellation_reasons();
    if reasons.is_empty() {
        let codes = reasons_from_message(tc.message().unwrap_or_default());
        return Some(codes.into_iter().map(|c| (c, None)).collect());
    }
    Some(
        reasons
            .iter()
            .map(|r| (r.code().unwrap_or("None").to_string(), r.item().cloned()))
            .collect(),
    )
}

fn code_is(reasons: &Reasons, i: usize, code: &str) -> bool {
    reasons.get(i).is_some_and(|(c, _)| c == code)
}

fn throttled(reasons: &Reasons) -> Option<StoreError> {
    reasons
        .iter()
        .any(|(c, _)| c == "ThrottlingError" || c == "ProvisionedThroughputExceeded")
        .then(|| {
            let codes: Vec<&str> = reasons.iter().map(|(c, _)| c.as_str()).collect();
            StoreError::from(AwsError::new(
                "dynamodb:TransactWriteItems",
                ErrorKind::Transient,
                Some("TransactionCanceledException"),
                format!("cancelled by throttling: {}", codes.join(", ")),
            ))
        })
}

async fn backoff(attempt: u32) {
    if attempt > 0 {
        tokio::time::sleep(StdDuration::from_millis(20 << (attempt - 1).min(5))).await;
    }
}

impl Store {
    /// One item, strongly consistent.
    async fn slack_item(
        &self,
        pk: &str,
        sk: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("dynamodb:GetItem", e))?;
        Ok(out.item)
    }

    /// Stores a pending request, only if no request has its id. Putting the very same request
    /// again (its JSON byte for byte: a retried worker) is no error, whatever its state since;
    /// another request under the id is [`PutRequestError::Exists`]. The item's TTL is
    /// `expires`.
    pub async fn put_request(&self, req: &SlackRequest) -> Result<(), PutRequestError> {
        const OP: &str = "dynamodb:PutItem";
        check(req)?;
        let item = request_item(req);
        let doc = str_attr(&item, "doc");
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let e = match result {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        let Some(PutItemError::ConditionalCheckFailedException(failed)) = e.as_service_error()
        else {
            return Err(StoreError::from(AwsError::from_sdk(OP, e)).into());
        };
        let stored = match failed.item() {
            Some(item) => item.clone(),
            None => self
                .slack_item(&request_pk(&req.id), REQUEST_SK)
                .await?
                .ok_or_else(|| {
                    StoreError::from(AwsError::new(
                        OP,
                        ErrorKind::Transient,
                        Some("ConditionalCheckFailedException"),
                        format!("slack request {} existed, and is gone", req.id),
                    ))
                })?,
        };
        if str_attr(&stored, "doc") == doc {
            return Ok(());
        }
        Err(PutRequestError::Exists {
            id: req.id.clone(),
            stored: Box::new(decode_request(&stored)?),
        })
    }

    /// The request `id`, if stored (strongly consistent), in its state: possibly expired (see
    /// [`SlackRequest::is_expired`]; the TTL deletes it some time after).
    pub async fn request(&self, id: &str) -> Result<Option<SlackRequest>, StoreError> {
        self.slack_item(&request_pk(id), REQUEST_SK)
            .await?
            .map(|item| decode_request(&item))
            .transpose()
    }

    /// Confirms or cancels the request `id` on behalf of `by`, at `now`: one conditional
    /// `UpdateItem`, which succeeds only while the request exists, is pending and has not
    /// expired, so a request is used once. Returns the request as it is now.
    ///
    /// Whether `by` may confirm (the requester, or a user granted `confirm`) is the caller's
    /// check, made before. A refusal changes nothing and says why: [`ClaimError::NotFound`],
    /// [`ClaimError::Expired`], or [`ClaimError::AlreadyUsed`] with who claimed it and when;
    /// a claim whose first answer was lost comes back as `AlreadyUsed` naming the same `by`
    /// and action ([`ClaimError::is_claim_by`]).
    pub async fn claim_request(
        &self,
        id: &str,
        by: &str,
        action: Claim,
        now: DateTime<Utc>,
    ) -> Result<SlackRequest, ClaimError> {
        const OP: &str = "dynamodb:UpdateItem";
        let new = action.state(by, now);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(request_pk(id)))
            .key("sk", s(REQUEST_SK))
            .condition_expression(
                "attribute_exists(pk) AND #state = :pending AND #expires_ms > :now",
            )
            .update_expression("SET #state = :state, #claimed_by = :by, #claimed_at = :at")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#expires_ms", "expires_ms")
            .expression_attribute_names("#claimed_by", "claimed_by")
            .expression_attribute_names("#claimed_at", "claimed_at")
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .expression_attribute_values(":state", s(new.name()))
            .expression_attribute_values(":by", s(by))
            .expression_attribute_values(":at", s(now.to_rfc3339()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let e = match result {
            Ok(out) => {
                let item = out.attributes.ok_or_else(|| {
                    StoreError::from(AwsError::new(
                        OP,
                        ErrorKind::Other,
                        None,
                        "UpdateItem returned no attributes",
                    ))
                })?;
                return Ok(decode_request(&item)?);
            }
            Err(e) => e,
        };
        let Some(UpdateItemError::ConditionalCheckFailedException(failed)) = e.as_service_error()
        else {
            return Err(StoreError::from(AwsError::from_sdk(OP, e)).into());
        };
        match failed.item() {
            Some(item) => Err(refusal(Some(decode_request(item)?), now, false)),
            None => Err(refusal(self.request(id).await?, now, true)),
        }
    }

    /// Asks for a post to the `response_url` `url` at `now`, for the post `post_key` (what is
    /// posted: `<request id>:buttons`...; it must not contain the URL). One
    /// `TransactWriteItems` moves the URL's counter on (only from the value read, so
    /// concurrent askers are counted one by one) and writes the post's mark (only if absent),
    /// so the two never disagree.
    ///
    /// [`PostSlot::AlreadyPosted`] when the post of `post_key` was marked made; the slot
    /// granted before when it was granted and not marked made (also when the URL's posts are
    /// used up: the slot is this key's); [`PostSlot::Exhausted`] when [`MAX_POSTS_PER_URL`]
    /// were granted or the window of [`POST_WINDOW`] after the first has passed; else a new
    /// [`PostSlot::Granted`]: post, then [`Store::mark_posted`].
    pub async fn post_slot(
        &self,
        url: &str,
        post_key: &str,
        now: DateTime<Utc>,
    ) -> Result<PostSlot, StoreError> {
        const OP: &str = "dynamodb:TransactWriteItems";
        let pk = url_pk(url);
        let mark = mark_sk(post_key);
        for attempt in 0..ATTEMPTS {
            backoff(attempt).await;
            let counter = self.slack_item(&pk, COUNTER_SK).await?;
            let (posts, seq, window_end) = match &counter {
                None => (0, None, ttl_secs(now + POST_WINDOW)),
                Some(c) => (
                    num_attr(c, "posts", &pk, COUNTER_SK)?,
                    Some(num_attr(c, "post_seq", &pk, COUNTER_SK)?),
                    num_attr(c, "expires_at", &pk, COUNTER_SK)?,
                ),
            };
            if posts >= i64::from(MAX_POSTS_PER_URL) || window_end <= now.timestamp() {
                return match self.slack_item(&pk, &mark).await? {
                    Some(stored) => booked(&stored, &pk, &mark),
                    None => Ok(PostSlot::Exhausted),
                };
            }
            let slot = posts + 1;
            let seq_text = seq.map_or("none".to_string(), |q| q.to_string());
            let grant = token(&[
                "slack-post-slot",
                &self.table,
                &pk,
                &mark,
                &seq_text,
                &attempt.to_string(),
            ]);
            let mut update = Update::builder()
                .table_name(&self.table)
                .key("pk", s(&pk))
                .key("sk", s(COUNTER_SK))
                .update_expression(
                    "SET #posts = :slot, #seq = :next, #ttl = if_not_exists(#ttl, :end), \
                     #first = if_not_exists(#first, :now)",
                )
                .expression_attribute_names("#posts", "posts")
                .expression_attribute_names("#seq", "post_seq")
                .expression_attribute_names("#ttl", "expires_at")
                .expression_attribute_names("#first", "first_at")
                .expression_attribute_values(":slot", n(slot))
                .expression_attribute_values(":next", n(seq.unwrap_or(0) + 1))
                .expression_attribute_values(":end", n(window_end))
                .expression_attribute_values(":now", s(now.to_rfc3339()));
            update = match seq {
                None => update.condition_expression("attribute_not_exists(pk)"),
                Some(q) => update
                    .condition_expression("#seq = :seq")
                    .expression_attribute_values(":seq", n(q)),
            };
            let put = Put::builder()
                .table_name(&self.table)
                .item("pk", s(&pk))
                .item("sk", s(&mark))
                .item("grant_id", s(&grant))
                .item("slot", n(slot))
                .item("at", s(now.to_rfc3339()))
                .item("expires_at", n(window_end))
                .condition_expression("attribute_not_exists(pk)")
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            let items = vec![
                TransactWriteItem::builder()
                    .update(
                        update
                            .build()
                            .expect("update has table, key and expression"),
                    )
                    .build(),
                TransactWriteItem::builder()
                    .put(put.build().expect("put has table and item"))
                    .build(),
            ];
            // The token is this attempt's own: an SDK retry of a transaction that committed
            // (its answer lost) is answered with success by DynamoDB; where the token is
            // ignored (moto), the mark that names this grant tells it.
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .client_request_token(&grant)
                .send()
                .await;
            let e = match result {
                Ok(_) => {
                    return Ok(PostSlot::Granted {
                        n: u32::try_from(slot).expect("at most MAX_POSTS_PER_URL"),
                    })
                }
                Err(e) => e,
            };
            let Some(reasons) = cancelled(&e) else {
                return Err(AwsError::from_sdk(OP, e).into());
            };
            if code_is(&reasons, 1, "ConditionalCheckFailed") {
                let stored = match &reasons[1].1 {
                    Some(item) => Some(item.clone()),
                    None => self.slack_item(&pk, &mark).await?,
                };
                if let Some(stored) = stored {
                    // This attempt's own grant (its answer lost), or an earlier one whose post
                    // was never confirmed: the slot is this post's, to make (again).
                    return booked(&stored, &pk, &mark);
                }
                return Ok(PostSlot::AlreadyPosted);
            }
            if let Some(e) = throttled(&reasons) {
                return Err(e);
            }
            if code_is(&reasons, 0, "ConditionalCheckFailed")
                || reasons.iter().any(|(c, _)| c == "TransactionConflict")
            {
                continue; // the counter moved: read it again
            }
            return Err(AwsError::from_sdk(OP, e).into());
        }
        Err(AwsError::new(
            OP,
            ErrorKind::Transient,
            None,
            format!("the post counter kept moving: {ATTEMPTS} attempts lost to concurrent posts"),
        )
        .into())
    }

    /// Marks the post of `post_key` to `url` made: from now on [`Store::post_slot`] answers
    /// [`PostSlot::AlreadyPosted`] for it. Until then a granted slot is granted again to the
    /// same key, so a post whose answer was lost, or whose job died before this mark, is made
    /// again (at least once; Slack's `response_url` has no idempotency key to make it exactly
    /// once).
    pub async fn mark_posted(&self, url: &str, post_key: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(url_pk(url)))
            .key("sk", s(mark_sk(post_key)))
            .update_expression("SET #posted = :yes")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#posted", "posted")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("dynamodb:UpdateItem", e))?;
        Ok(())
    }

    /// Gives back the slot granted to `post_key` for `url` (the post failed: a retry may post):
    /// removes the mark and counts one post less, in one transaction. Returns false when there
    /// was no mark (never granted, or given back already, also by a concurrent call).
    ///
    /// Call it only after a post that Slack certainly did not accept (an error answer, not a
    /// timeout): a slot given back for a post that did arrive lets the same post be made twice.
    pub async fn unmark_post(&self, url: &str, post_key: &str) -> Result<bool, StoreError> {
        const OP: &str = "dynamodb:TransactWriteItems";
        let pk = url_pk(url);
        let mark = mark_sk(post_key);
        for attempt in 0..ATTEMPTS {
            backoff(attempt).await;
            let Some(stored) = self.slack_item(&pk, &mark).await? else {
                return Ok(false);
            };
            let grant = str_attr(&stored, "grant_id").ok_or_else(|| StoreError::Corrupt {
                pk: pk.clone(),
                sk: mark.clone(),
                why: "no string attribute `grant_id`".into(),
            })?;
            let delete = Delete::builder()
                .table_name(&self.table)
                .key("pk", s(&pk))
                .key("sk", s(&mark))
                .condition_expression("#grant = :grant")
                .expression_attribute_names("#grant", "grant_id")
                .expression_attribute_values(":grant", s(&grant))
                .build()
                .expect("delete has table and key");
            let update = Update::builder()
                .table_name(&self.table)
                .key("pk", s(&pk))
                .key("sk", s(COUNTER_SK))
                .update_expression("SET #posts = #posts - :one, #seq = #seq + :one")
                .condition_expression("#posts > :zero")
                .expression_attribute_names("#posts", "posts")
                .expression_attribute_names("#seq", "post_seq")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":zero", n(0))
                .build()
                .expect("update has table, key and expression");
            let items = vec![
                TransactWriteItem::builder().delete(delete.clone()).build(),
                TransactWriteItem::builder().update(update).build(),
            ];
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .client_request_token(token(&[
                    "slack-unmark",
                    &self.table,
                    &grant,
                    &attempt.to_string(),
                ]))
                .send()
                .await;
            let e = match result {
                Ok(_) => return Ok(true),
                Err(e) => e,
            };
            let Some(reasons) = cancelled(&e) else {
                return Err(AwsError::from_sdk(OP, e).into());
            };
            if code_is(&reasons, 0, "ConditionalCheckFailed") {
                // Given back meanwhile (and perhaps granted again: that grant is not this one).
                return Ok(false);
            }
            if let Some(e) = throttled(&reasons) {
                return Err(e);
            }
            if code_is(&reasons, 1, "ConditionalCheckFailed") {
                // No counter (its window over and deleted) or nothing counted: remove the mark.
                let removed = self
                    .client
                    .delete_item()
                    .table_name(&self.table)
                    .key("pk", s(&pk))
                    .key("sk", s(&mark))
                    .condition_expression("#grant = :grant")
                    .expression_attribute_names("#grant", "grant_id")
                    .expression_attribute_values(":grant", s(&grant))
                    .send()
                    .await;
                match removed {
                    Ok(_) => return Ok(true),
                    Err(e)
                        if matches!(
                            e.as_service_error(),
                            Some(DeleteItemError::ConditionalCheckFailedException(_))
                        ) =>
                    {
                        return Ok(false); // given back meanwhile
                    }
                    Err(e) => return Err(AwsError::from_sdk("dynamodb:DeleteItem", e).into()),
                }
            }
            if reasons.iter().any(|(c, _)| c == "TransactionConflict") {
                continue;
            }
            return Err(AwsError::from_sdk(OP, e).into());
        }
        Err(AwsError::new(
            OP,
            ErrorKind::Transient,
            None,
            format!("giving a post slot back conflicted with other transactions {ATTEMPTS} times"),
        )
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn req() -> SlackRequest {
        SlackRequest {
            id: "req-T1-abc".into(),
            user: "U123".into(),
            channel: "C9".into(),
            team: "T1".into(),
            text: "scale api 40 --force".into(),
            summary: "api: desired 3 -> 40 (force)".into(),
            response_url: "https://hooks.slack.com/commands/T1/1/secret".into(),
            created: t("2026-11-23T10:00:00.250Z"),
            expires: t("2026-11-23T10:30:00.250Z"),
            state: RequestState::Pending,
        }
    }

    #[test]
    fn a_pending_request_round_trips_through_its_item() {
        let r = req();
        let item = request_item(&r);
        assert_eq!(str_attr(&item, "pk").unwrap(), "slack#req-T1-abc");
        assert_eq!(str_attr(&item, "sk").unwrap(), "request");
        assert_eq!(str_attr(&item, "state").unwrap(), "pending");
        assert_eq!(
            item["expires_ms"].as_n().unwrap(),
            &r.expires.timestamp_millis().to_string()
        );
        // The TTL is not before `expires`: the next whole second.
        assert_eq!(
            item["expires_at"].as_n().unwrap(),
            &(r.expires.timestamp() + 1).to_string()
        );
        assert!(!item.contains_key("claimed_by"));
        assert_eq!(decode_request(&item).unwrap(), r);
        let doc: serde_json::Value =
            serde_json::from_str(&str_attr(&item, "doc").unwrap()).unwrap();
        assert_eq!(doc["state"], "pending");
    }

    #[test]
    fn a_claimed_request_is_read_in_the_state_its_attributes_say() {
        let r = req();
        let mut item = request_item(&r);
        // What the claim's UpdateItem sets; the doc stays as put.
        let at = t("2026-11-23T10:05:00.123456Z");
        item.insert("state".into(), s("confirmed"));
        item.insert("claimed_by".into(), s("U123"));
        item.insert("claimed_at".into(), s(at.to_rfc3339()));
        let back = decode_request(&item).unwrap();
        assert_eq!(
            back.state,
            RequestState::Confirmed {
                by: "U123".into(),
                at
            }
        );
        item.insert("state".into(), s("cancelled"));
        assert_eq!(
            decode_request(&item).unwrap().state,
            RequestState::Cancelled {
                by: "U123".into(),
                at
            }
        );
        // The same from a request built in that state.
        let mut c = req();
        c.state = Claim::Cancel.state("U9", at);
        assert_eq!(decode_request(&request_item(&c)).unwrap(), c);
    }

    #[test]
    fn unreadable_request_items_are_corrupt() {
        let mut item = request_item(&req());
        item.insert("state".into(), s("confirmed"));
        let e = decode_request(&item).unwrap_err();
        assert!(e.to_string().contains("claimed_by"), "{e}");
        assert!(!e.is_retryable());
        let mut item = request_item(&req());
        item.insert("state".into(), s("weird"));
        assert!(matches!(
            decode_request(&item),
            Err(StoreError::Corrupt { .. })
        ));
        let mut item = request_item(&req());
        item.insert("pk".into(), s("slack#other"));
        assert!(decode_request(&item).is_err());
        let mut item = request_item(&req());
        item.insert("doc".into(), s("{"));
        assert!(decode_request(&item).is_err());
    }

    #[test]
    fn the_state_serializes_as_a_tag_with_who_and_when() {
        let at = t("2026-11-23T10:05:00Z");
        let v = serde_json::to_value(Claim::Confirm.state("U1", at)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"state": "confirmed", "by": "U1", "at": "2026-11-23T10:05:00Z"})
        );
        let mut r = req();
        r.state = Claim::Confirm.state("U1", at);
        let back: SlackRequest = serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn requests_are_checked_before_they_are_stored() {
        assert!(check(&req()).is_ok());
        let mut r = req();
        r.expires = r.created + MAX_REQUEST_TTL;
        assert!(check(&r).is_ok(), "exactly the longest is allowed");
        r.expires = r.created + MAX_REQUEST_TTL + Duration::milliseconds(1);
        assert!(matches!(check(&r), Err(PutRequestError::Invalid { .. })));
        let mut r = req();
        r.expires = r.created;
        assert!(check(&r).is_err());
        let mut r = req();
        r.state = Claim::Confirm.state("U1", r.created);
        assert!(check(&r).is_err());
        let mut r = req();
        r.id.clear();
        assert!(check(&r).is_err());
    }

    #[test]
    fn expiry_is_to_the_millisecond() {
        let r = req();
        assert!(!r.is_expired(r.expires - Duration::milliseconds(1)));
        assert!(r.is_expired(r.expires));
        assert!(r.is_expired(r.expires + Duration::microseconds(10)));
    }

    #[test]
    fn refusals_say_why() {
        let now = t("2026-11-23T10:10:00Z");
        assert!(matches!(refusal(None, now, false), ClaimError::NotFound));
        let mut used = req();
        used.state = Claim::Confirm.state("U1", now);
        let e = refusal(Some(used.clone()), now, false);
        assert!(e.is_claim_by("U1", Claim::Confirm));
        assert!(!e.is_claim_by("U1", Claim::Cancel));
        assert!(!e.is_claim_by("U2", Claim::Confirm));
        assert!(!e.is_retryable());
        // Used and expired since: used.
        let late = used.expires + Duration::minutes(1);
        assert!(matches!(
            refusal(Some(used), late, false),
            ClaimError::AlreadyUsed { .. }
        ));
        let r = req();
        assert!(matches!(
            refusal(Some(r.clone()), r.expires, false),
            ClaimError::Expired { expires } if expires == r.expires
        ));
        assert!(matches!(
            refusal(Some(r.clone()), now, true),
            ClaimError::NotFound
        ));
        assert!(matches!(
            refusal(Some(r), now, false),
            ClaimError::Store(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn debug_leaves_out_the_response_url() {
        let text = format!("{:?}", req());
        assert!(!text.contains("hooks.slack.com"), "{text}");
        assert!(text.contains("req-T1-abc"), "{text}");
    }

    #[test]
    fn urls_are_kept_as_digests() {
        let d = url_digest("https://hooks.slack.com/commands/T1/1/secret");
        assert_eq!(d.len(), 64);
        assert!(d
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_uppercase()));
        assert_eq!(
            url_digest(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(url_pk("x"), format!("slack-url#{}", url_digest("x")));
        assert_eq!(token(&["a", "b"]).len(), 32);
        assert_ne!(token(&["a", "b"]), token(&["ab"]));
    }
}
