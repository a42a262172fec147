//! The worker: the queue's jobs, carried out through the runner (exactly once per request id)
//! and answered through the request's `response_url`.
//!
//! A job fails (and the queue redelivers it) only when a retry may succeed: the runner's
//! transient failures, the table's, a post Slack may take later. Everything the runner did is
//! kept by it, so a redelivered job answers from its receipts and acts on nothing twice; a post
//! is marked once made, so a redelivered job does not post twice either.

use capstan_policy::command::{self, Command};
use capstan_policy::engine::authorize;
use capstan_policy::model::Verb;
use capstan_policy::signal::{CommandSignal, Signal};
use capstan_runner::{Delivery, Report, RunError};
use capstan_slack::{escape, Confirmation, Message, ResponseType, ResponseUrl};
use capstan_store::slack::{
    Claim, ClaimError, PostSlot, PutRequestError, RequestState, SlackRequest, MAX_REQUEST_TTL,
};
use capstan_store::LogEntry;
use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::job::{Asker, ClickAction, Job};
use crate::ports::PostError;
use crate::reply;
use crate::{status, Handler, Parts};

/// A job older than this is refused, not carried out: as long as the runner lets an intent
/// wait before it is abandoned.
pub const MAX_JOB_AGE: chrono::Duration = capstan_runner::MAX_INTENT_AGE;

/// Why a job must be retried.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JobError {
    /// The runner must be retried (what it committed, its retry completes).
    #[error(transparent)]
    Run(#[from] RunError),
    /// The table failed in a way a retry may fix.
    #[error("the state table failed, will retry: {0}")]
    Table(String),
    /// Slack did not take the post; a retry may.
    #[error("posting to Slack failed, will retry: {0}")]
    Post(String),
}

/// What the audit trail records of a request the runner never sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Audited {
    /// Refused before it reached the runner (too old, not allowed, from elsewhere).
    Refused,
    /// A click that cancelled the change it was asked to confirm.
    Cancelled,
    /// A click that confirmed a change.
    Confirmed,
}

impl Audited {
    /// The word in the log entry's `outcome`.
    fn as_str(self) -> &'static str {
        match self {
            Audited::Refused => "refused",
            Audited::Cancelled => "cancelled",
            Audited::Confirmed => "confirmed",
        }
    }
}

/// The Slack request a job answers: its id, where the answer goes, and when Slack delivered it.
#[derive(Clone, Copy)]
struct JobRequest<'a> {
    id: &'a str,
    response_url: &'a str,
    at: DateTime<Utc>,
}

impl Handler {
    /// Carries out one job by `deadline`.
    pub(crate) async fn work(
        &self,
        parts: &Parts,
        job: &Job,
        deadline: DateTime<Utc>,
    ) -> Result<(), JobError> {
        match job {
            Job::Command {
                request_id,
                asker,
                text,
                response_url,
                at,
            } => {
                let request = JobRequest {
                    id: request_id,
                    response_url,
                    at: *at,
                };
                self.command(parts, request, asker, text, deadline).await
            }
            Job::Click {
                request_id,
                clicker,
                action,
                response_url,
                at,
            } => {
                let request = JobRequest {
                    id: request_id,
                    response_url,
                    at: *at,
                };
                self.click(parts, request, clicker, *action, deadline).await
            }
            Job::Refused {
                request_id,
                asker,
                text,
                why,
                at,
            } => {
                self.audit(
                    asker,
                    request_id,
                    &verb_of(text),
                    Audited::Refused,
                    &format!("`{text}` refused: {why}"),
                    *at,
                )
                .await;
                Ok(())
            }
            Job::Status {
                asker,
                target,
                response_url,
                request_id,
            } => {
                let text = status::text(&self.runner, asker, target.as_deref())
                    .await
                    .map_err(JobError::Table)?;
                self.post(
                    parts,
                    response_url,
                    &format!("{request_id}:status"),
                    &Message::ephemeral(text),
                )
                .await
            }
        }
    }

    async fn command(
        &self,
        parts: &Parts,
        request: JobRequest<'_>,
        asker: &Asker,
        text: &str,
        deadline: DateTime<Utc>,
    ) -> Result<(), JobError> {
        let JobRequest {
            id: request_id,
            response_url,
            at,
        } = request;
        if let Some(why) = self.too_old(at) {
            self.audit(
                asker,
                request_id,
                &verb_of(text),
                Audited::Refused,
                &format!("`{text}` {why}"),
                at,
            )
            .await;
            let message = Message::ephemeral(format!(
                "`/capstan {}` {why}. Nothing changed: ask again if it is still wanted.",
                escape(text)
            ));
            return self
                .post(
                    parts,
                    response_url,
                    &format!("{request_id}:outcome"),
                    &message,
                )
                .await;
        }
        let report = self
            .run(
                request_id,
                asker,
                text,
                false,
                &format!("slack:{request_id}"),
                deadline,
            )
            .await?;
        if let Some(why) = reply::needs_confirmation(&report) {
            let now = self.runner.now();
            let request = SlackRequest {
                id: request_id.to_string(),
                user: asker.user.clone(),
                channel: asker.channel.clone(),
                team: asker.team.clone(),
                text: text.to_string(),
                summary: why.clone(),
                // The click brings its own response_url: a bearer credential is not kept.
                response_url: String::new(),
                created: at,
                // Slack's response_url lasts 30 minutes from the command: no longer.
                expires: (at + MAX_REQUEST_TTL).min(now + MAX_REQUEST_TTL),
                state: RequestState::Pending,
            };
            match parts.requests.put(&request).await {
                Ok(()) => {}
                // A Slack retry of the command (delivered, so stamped, later) or a redelivered
                // job: the request is stored already, maybe clicked since. Not an error: the
                // confirmation is posted once, by its post key.
                Err(PutRequestError::Exists { stored, .. }) if same_request(&stored, &request) => {
                    info!(request = %request_id, state = stored.state.name(), "the request is stored already");
                }
                Err(e) => return Err(JobError::Table(e.to_string())),
            }
            let forced = command::parse(text).map(|c| c.forced()).unwrap_or(false);
            let lift = matches!(command::parse(text), Ok(Command::LiftCap { .. }));
            // In the channel: the request is everyone's to see, and users granted `confirm`
            // must see the buttons to click them (anyone else's click is refused).
            let mut message = Message::confirmation(&Confirmation {
                request_id: request_id.to_string(),
                summary: format!("<@{}> asked for `/capstan {}`", asker.user, escape(text)),
                question: format!("{} Confirm within 30 minutes?", escape(&why)),
                dialog_title: if forced {
                    "Force past the guardrails?".into()
                } else if lift {
                    "Lift the budget cap?".into()
                } else {
                    "Confirm the change?".into()
                },
                dialog_text: why,
                confirm_label: if forced {
                    "Force it".into()
                } else if lift {
                    "Lift the cap".into()
                } else {
                    "Confirm".into()
                },
                danger: forced || lift,
            });
            message.response_type = Some(ResponseType::InChannel);
            return self
                .post(
                    parts,
                    response_url,
                    &format!("{request_id}:confirm"),
                    &message,
                )
                .await;
        }
        let message = reply::outcome(&report, &asker.user, text, None);
        self.post(
            parts,
            response_url,
            &format!("{request_id}:outcome"),
            &message,
        )
        .await
    }

    /// A click: claimed as of `at`, when Slack delivered it (so a redelivered job finds its
    /// own claim, told apart from a second click by its time).
    async fn click(
        &self,
        parts: &Parts,
        request: JobRequest<'_>,
        clicker: &Asker,
        action: ClickAction,
        deadline: DateTime<Utc>,
    ) -> Result<(), JobError> {
        let JobRequest {
            id: request_id,
            response_url,
            at,
        } = request;
        let now = self.runner.now();
        let refuse = |why: String| async move {
            self.audit(
                clicker,
                request_id,
                "confirm",
                Audited::Refused,
                &reply::plain(&why),
                at,
            )
            .await;
            self.post(
                parts,
                response_url,
                &format!(
                    "{request_id}:refused:{}:{}",
                    clicker.user,
                    at.timestamp_millis()
                ),
                &Message::ephemeral(format!("{why} Nothing changed.")),
            )
            .await
        };
        let request = match parts.requests.get(request_id).await {
            Ok(Some(r)) => r,
            Ok(None) => {
                return refuse("This confirmation is unknown or has expired.".into()).await;
            }
            Err(e) if e.is_retryable() => return Err(JobError::Table(e.to_string())),
            Err(e) => return refuse(format!("This confirmation cannot be read ({e}).")).await,
        };
        if request.team != clicker.team {
            return refuse("This confirmation belongs to another workspace.".into()).await;
        }
        if clicker.user != request.user && !self.may_confirm(clicker, &request.text) {
            return refuse(format!(
                "Only <@{}> (or someone granted `confirm`) can answer this request.",
                request.user
            ))
            .await;
        }
        if let Some(why) = self.too_old(at) {
            return refuse(format!("This click {why}.")).await;
        }
        let claim = match action {
            ClickAction::Confirm => Claim::Confirm,
            ClickAction::Cancel => Claim::Cancel,
        };
        match parts
            .requests
            .claim(request_id, &clicker.user, claim, at)
            .await
        {
            Ok(_) => {}
            // This click's own claim (its answer lost, or the job redelivered): carry on.
            Err(ClaimError::AlreadyUsed { state })
                if own_claim(&state, claim, &clicker.user, at) => {}
            Err(ClaimError::NotFound) => {
                return refuse("This confirmation is unknown or has expired.".into()).await
            }
            Err(ClaimError::Expired { expires }) => {
                return refuse(format!(
                    "This confirmation expired at {}.",
                    expires.format("%H:%M:%SZ")
                ))
                .await
            }
            Err(ClaimError::AlreadyUsed { state }) => {
                let why = match state {
                    RequestState::Confirmed { by, at } => format!(
                        "This request was already confirmed by <@{by}> at {}.",
                        at.format("%H:%M:%SZ")
                    ),
                    RequestState::Cancelled { by, at } => format!(
                        "This request was cancelled by <@{by}> at {}.",
                        at.format("%H:%M:%SZ")
                    ),
                    RequestState::Pending => "This request is no longer usable.".to_string(),
                };
                return refuse(why).await;
            }
            Err(e) if e.is_retryable() => return Err(JobError::Table(e.to_string())),
            Err(e) => return refuse(format!("This confirmation cannot be used ({e}).")).await,
        }
        let asker = Asker {
            user: request.user.clone(),
            channel: request.channel.clone(),
            team: request.team.clone(),
        };
        if claim == Claim::Cancel {
            self.audit(
                clicker,
                request_id,
                "confirm",
                Audited::Cancelled,
                &format!("`{}` cancelled by {}", request.text, clicker.user),
                now,
            )
            .await;
            let message = Message::in_channel(format!(
                "`/capstan {}` cancelled by <@{}>. Nothing changed.",
                escape(&request.text),
                clicker.user
            ))
            .replacing();
            return self
                .post(
                    parts,
                    response_url,
                    &format!("{request_id}:cancelled"),
                    &message,
                )
                .await;
        }
        self.audit(
            clicker,
            request_id,
            "confirm",
            Audited::Confirmed,
            &format!("`{}` confirmed by {}", request.text, clicker.user),
            at,
        )
        .await;
        let report = self
            .run(
                request_id,
                &asker,
                &request.text,
                true,
                &format!("slack:{request_id}:confirmed"),
                deadline,
            )
            .await?;
        let confirmer = (clicker.user != request.user).then_some(clicker.user.as_str());
        // The confirmation was posted in the channel: its replacement tells everyone.
        let outcome = reply::outcome(&report, &request.user, &request.text, confirmer).replacing();
        self.post(
            parts,
            response_url,
            &format!("{request_id}:confirmed"),
            &outcome,
        )
        .await
    }

    /// Why a job asked at `at` is too old to act on: the queue held it past
    /// [`MAX_JOB_AGE`] (the worker was throttled, or failing), and a change asked for then may
    /// no longer be wanted.
    fn too_old(&self, at: DateTime<Utc>) -> Option<String> {
        let age = self.runner.now() - at;
        (age > MAX_JOB_AGE).then(|| {
            format!(
                "was asked at {} and waited {} min in the queue: too old to act on",
                at.format("%H:%M:%SZ"),
                age.num_minutes()
            )
        })
    }

    /// True when `clicker` is granted `confirm` on the request's target in their channel.
    fn may_confirm(&self, clicker: &Asker, text: &str) -> bool {
        let target = command::parse(text)
            .ok()
            .and_then(|c| c.target().map(str::to_string));
        authorize(
            self.runner.policy(),
            &clicker.user,
            &clicker.channel,
            Verb::Confirm,
            target.as_deref(),
        )
        .is_ok()
    }

    /// Runs the command through the runner as `asker`.
    async fn run(
        &self,
        request_id: &str,
        asker: &Asker,
        text: &str,
        confirmed: bool,
        key: &str,
        deadline: DateTime<Utc>,
    ) -> Result<Report, JobError> {
        let delivery = Delivery {
            signal: Signal::Command(CommandSignal {
                user: asker.user.clone(),
                channel: asker.channel.clone(),
                text: text.to_string(),
                confirmed,
            }),
            key: key.to_string(),
            at: None,
        };
        let report = self.runner.handle_by(&delivery, deadline).await?;
        info!(request = %request_id, key, results = report.results.len(), "command carried out");
        Ok(report)
    }

    /// Puts what the runner never sees (a refused or cancelled click, a request from elsewhere)
    /// on the record.
    async fn audit(
        &self,
        clicker: &Asker,
        request_id: &str,
        verb: &str,
        outcome: Audited,
        what: &str,
        now: DateTime<Utc>,
    ) {
        let entry = LogEntry {
            at: now,
            key: format!("slack:{request_id}:{}", clicker.user),
            target: "*".to_string(),
            source: format!("command:{}", clicker.user),
            signal: format!("slack request {request_id} from {}", clicker.user),
            outcome: outcome.as_str().to_string(),
            from: None,
            to: None,
            explanation: what.to_string(),
            by: Some(clicker.user.clone()),
            channel: Some(clicker.channel.clone()),
            verb: Some(verb.to_string()),
            policy_version: self.runner.policy_version().map(str::to_string),
        };
        if let Err(e) = parts_record(self, &entry, now).await {
            warn!(error = %e, request = %request_id, "the click could not be recorded");
        }
    }

    /// Posts `message` to `url` for `post_key`: only to a URL the guard accepts, at most five
    /// times per URL, and at least once: the slot is booked before the post and marked made
    /// after it, so a post that failed, lost its answer or was cut off is made by the job's
    /// redelivery, and one marked made is not made again.
    pub(crate) async fn post(
        &self,
        parts: &Parts,
        url: &str,
        post_key: &str,
        message: &Message,
    ) -> Result<(), JobError> {
        let url = match ResponseUrl::parse(url, parts.response_prefix.as_deref()) {
            Ok(u) => u,
            Err(e) => {
                warn!(error = %e, key = post_key, "refused to post: not a Slack response_url");
                return Ok(());
            }
        };
        let now = self.runner.now();
        match parts.requests.post_slot(url.as_str(), post_key, now).await {
            Ok(PostSlot::Granted { .. }) => {}
            Ok(PostSlot::AlreadyPosted) => {
                info!(key = post_key, "already posted");
                return Ok(());
            }
            Ok(PostSlot::Exhausted) => {
                warn!(
                    key = post_key,
                    "this response_url has had its 5 posts: not posted"
                );
                return Ok(());
            }
            Err(e) if e.is_retryable() => return Err(JobError::Table(e.to_string())),
            Err(e) => {
                warn!(error = %e, key = post_key, "the post could not be booked: not posted");
                return Ok(());
            }
        }
        let made = match parts.responder.post(&url, message).await {
            Ok(()) => {
                info!(key = post_key, "posted");
                true
            }
            Err(PostError::Refused { status, body }) => {
                // Never right on a retry (an expired or used-up URL): done with it.
                warn!(key = post_key, status, body = %body, "Slack refused the post");
                false
            }
            // The slot stays granted to this key: the redelivered job posts it again.
            Err(PostError::Transient(e)) => return Err(JobError::Post(e)),
        };
        if let Err(e) = parts.requests.mark_posted(url.as_str(), post_key).await {
            // Unmarked, a redelivery would post again: people hear twice rather than never.
            warn!(error = %e, key = post_key, made, "the post could not be marked made");
        }
        Ok(())
    }
}

async fn parts_record(
    handler: &Handler,
    entry: &LogEntry,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let parts = handler.parts().map_err(|e| e.to_string())?;
    parts
        .requests
        .record(entry, now)
        .await
        .map_err(|e| e.to_string())
}

/// The verb of a command text, for the record (`unknown` when it does not parse).
fn verb_of(text: &str) -> String {
    command::parse(text)
        .ok()
        .and_then(|c| c.verb())
        .map_or_else(|| "unknown".to_string(), |v| v.to_string())
}

/// True when `stored` is `request` asked again (the same asker and text under its id), at
/// another moment or clicked since.
fn same_request(stored: &SlackRequest, request: &SlackRequest) -> bool {
    stored.id == request.id
        && stored.user == request.user
        && stored.channel == request.channel
        && stored.team == request.team
        && stored.text == request.text
}

/// True when `state` is the claim this click made (to the millisecond, as the table keeps
/// times): its redelivery carries on where it stopped, while a second click is refused.
fn own_claim(state: &RequestState, claim: Claim, by: &str, at: DateTime<Utc>) -> bool {
    match (state, claim) {
        (RequestState::Confirmed { by: who, at: when }, Claim::Confirm)
        | (RequestState::Cancelled { by: who, at: when }, Claim::Cancel) => {
            who == by && when.timestamp_millis() == at.timestamp_millis()
        }
        _ => false,
    }
}
