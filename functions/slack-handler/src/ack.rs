//! The acknowledgement: what Slack gets back within its 3 seconds, whatever AWS does.
//!
//! Verification comes before anything else: a request whose signature, timestamp or headers
//! do not check out is a 401, nothing parsed, nothing changed. Then only pure work (parsing,
//! the policy's origin and grant checks, the same functions the engine decides with) and at
//! most one bounded call: a job handed to the queue, or for `status` a bounded read. Work that
//! writes goes to the queue; the worker answers through `response_url`.

use capstan_policy::command::{self, Command};
use capstan_policy::engine::{authorize_command, check_origin};
use capstan_slack::message::{CANCEL_ACTION, CONFIRM_ACTION};
use capstan_slack::request::{parse_command, parse_interaction, request_id, CommandBody};
use capstan_slack::{escape, is_slack_user_id, Message};
use chrono::{DateTime, Utc};
use tracing::{info, warn};

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};

use crate::http::{answer, message, Inbound, Route};
use crate::job::{is_request_id, Asker, ClickAction, Job};
use crate::{status, Handler, Parts};

/// How the acknowledgement went, for the log and the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// The job is on the queue.
    Yes,
    /// Nothing needed queueing.
    No,
    /// The queue did not answer in time or refused: the job may or may not be there.
    Unknown,
}

impl Handler {
    /// Answers one API Gateway request; `until` is when the answer must be on its way.
    pub(crate) async fn acknowledge(
        &self,
        parts: &Parts,
        request: &ApiGatewayV2httpRequest,
        until: DateTime<Utc>,
    ) -> ApiGatewayV2httpResponse {
        let now = self.runner.now();
        let inbound = Inbound::of(request);
        let Some(route) = inbound.route else {
            return answer(404, Some("not found".into()));
        };
        let body = match &inbound.body {
            Ok(b) => b.clone(),
            Err(e) => {
                warn!(error = %e, "refused: unreadable body");
                return answer(
                    401,
                    Some("refused: the request is not signed by Slack".into()),
                );
            }
        };
        // Half the budget at most for a secret AWS was too slow to give at start.
        let wait = ((until - now) / 2).to_std().unwrap_or_default();
        let verifier = match parts.verifier.verifier(wait).await {
            Ok(v) => v,
            Err(e) => {
                warn!(error = %e, "cannot check signatures yet: nothing parsed");
                return answer(
                    503,
                    Some("Capstan cannot check Slack's signature yet (AWS is slow); nothing was read or changed".into()),
                );
            }
        };
        if let Err(e) = verifier.verify(
            inbound.timestamp.as_deref(),
            inbound.signature.as_deref(),
            &body,
            now,
        ) {
            warn!(reason = %e, "refused: not signed by Slack; nothing parsed");
            return answer(401, Some(format!("refused: {e}")));
        }
        let timestamp = inbound.timestamp.clone().unwrap_or_default();
        match route {
            Route::Commands => {
                self.on_command(
                    parts,
                    &body,
                    &timestamp,
                    inbound.retry.as_deref(),
                    now,
                    until,
                )
                .await
            }
            Route::Interactions => self.on_interaction(parts, &body, now, until).await,
        }
    }

    async fn on_command(
        &self,
        parts: &Parts,
        body: &[u8],
        timestamp: &str,
        retry: Option<&str>,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> ApiGatewayV2httpResponse {
        let c = match parse_command(body) {
            Ok(CommandBody::SslCheck) => return answer(200, None),
            Ok(CommandBody::Command(c)) => c,
            Err(e) => {
                warn!(error = %e, "refused: not a slash command");
                return answer(400, Some(format!("not a slash command: {e}")));
            }
        };
        let policy = self.runner.policy();
        if let Err(why) = check_origin(
            policy,
            c.api_app_id.as_deref(),
            &c.team_id,
            c.enterprise_id.as_deref(),
        ) {
            warn!(team = %c.team_id, app = c.api_app_id.as_deref().unwrap_or(""), why = %why, "refused: origin");
            let refused = Job::Refused {
                request_id: request_id(&c.team_id, c.trigger_id.as_deref(), timestamp, body),
                asker: Asker {
                    user: c.user_id.clone(),
                    channel: c.channel_id.clone(),
                    team: c.team_id.clone(),
                },
                text: c.text.clone(),
                why: why.clone(),
                at: now,
            };
            self.enqueue(parts, &refused, until).await;
            return message(&Message::ephemeral(format!(
                "Capstan does not take commands from here: {why}. Nothing changed."
            )));
        }
        if !is_slack_user_id(&c.user_id) {
            warn!(user = %c.user_id, "refused: not a Slack user id");
            return message(&Message::ephemeral(
                "Capstan does not know who you are (no Slack user id). Nothing changed.",
            ));
        }
        let request_id = request_id(&c.team_id, c.trigger_id.as_deref(), timestamp, body);
        let asker = Asker {
            user: c.user_id.clone(),
            channel: c.channel_id.clone(),
            team: c.team_id.clone(),
        };
        info!(request = %request_id, user = %asker.user, channel = %asker.channel, text = %c.text, retry = retry.unwrap_or(""), "slash command");
        // A refusal is answered now and only recorded by the worker: the runner never sees it,
        // so nothing it refused can be carried out later.
        let refused = |why: String| Job::Refused {
            request_id: request_id.clone(),
            asker: asker.clone(),
            text: c.text.clone(),
            why,
            at: now,
        };
        let parsed = match command::parse(&c.text) {
            Ok(cmd) => cmd,
            Err(e) => {
                self.enqueue(parts, &refused(e.to_string()), until).await;
                return message(&Message::ephemeral(format!(
                    "`/capstan {}`: {}",
                    escape(&c.text),
                    escape(&e.to_string())
                )));
            }
        };
        if let Command::Help { topic } = &parsed {
            return message(&Message::ephemeral(command::help(topic.as_deref())));
        }
        let refusal = authorize_command(policy, &asker.user, &asker.channel, &parsed, None)
            .err()
            .or_else(|| {
                parsed
                    .target()
                    .filter(|t| !policy.targets.contains_key(*t))
                    .map(|t| format!("the policy has no target {t}"))
            });
        if let Some(why) = refusal {
            self.enqueue(parts, &refused(why.clone()), until).await;
            return message(&Message::ephemeral(format!(
                "`/capstan {}` refused: {}. Nothing changed.\n{}",
                escape(&c.text),
                escape(&why),
                command::USAGE
            )));
        }
        if let Command::Status { target } = &parsed {
            return self
                .status_now(
                    parts,
                    &asker,
                    target.clone(),
                    &c.response_url,
                    &request_id,
                    until,
                )
                .await;
        }
        let job = Job::Command {
            request_id: request_id.clone(),
            asker: asker.clone(),
            text: c.text.clone(),
            response_url: c.response_url.clone(),
            at: now,
        };
        let queued = self.enqueue(parts, &job, until).await;
        message(&Message::ephemeral(working_text(&c.text, queued)))
    }

    async fn on_interaction(
        &self,
        parts: &Parts,
        body: &[u8],
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> ApiGatewayV2httpResponse {
        let i = match parse_interaction(body) {
            Ok(i) => i,
            Err(e) => {
                warn!(error = %e, "refused: not an interaction");
                return answer(400, Some(format!("not an interaction: {e}")));
            }
        };
        let policy = self.runner.policy();
        if let Err(why) = check_origin(
            policy,
            i.api_app_id.as_deref(),
            &i.team_id,
            i.enterprise_id.as_deref(),
        ) {
            warn!(team = %i.team_id, why = %why, "refused: origin");
            let value = i.action.as_ref().and_then(|a| a.value.clone());
            let refused = Job::Refused {
                request_id: value
                    .filter(|v| is_request_id(v))
                    .unwrap_or_else(|| "req-unknown".into()),
                asker: Asker {
                    user: i.user_id.clone(),
                    channel: i.channel_id.clone().unwrap_or_default(),
                    team: i.team_id.clone(),
                },
                text: "a confirmation click".into(),
                why: why.clone(),
                at: now,
            };
            self.enqueue(parts, &refused, until).await;
            return message(&Message::ephemeral(format!(
                "Capstan does not take clicks from here: {why}. Nothing changed."
            )));
        }
        let action = i.action.as_ref();
        let click = match action.map(|a| a.action_id.as_str()) {
            Some(CONFIRM_ACTION) => ClickAction::Confirm,
            Some(CANCEL_ACTION) => ClickAction::Cancel,
            other => {
                info!(kind = %i.kind, action = other.unwrap_or(""), "interaction ignored");
                return answer(200, None);
            }
        };
        let id = action.and_then(|a| a.value.clone()).unwrap_or_default();
        let (Some(response_url), true, true) = (
            i.response_url.clone(),
            is_request_id(&id),
            is_slack_user_id(&i.user_id),
        ) else {
            warn!(user = %i.user_id, "refused: a click without a request id, a user or a response_url");
            return message(&Message::ephemeral(
                "This button does not belong to a Capstan request. Nothing changed.",
            ));
        };
        let job = Job::Click {
            request_id: id.clone(),
            clicker: Asker {
                user: i.user_id.clone(),
                channel: i.channel_id.clone().unwrap_or_default(),
                team: i.team_id.clone(),
            },
            action: click,
            response_url,
            at: now,
        };
        info!(request = %id, user = %i.user_id, action = ?click, "click");
        match self.enqueue(parts, &job, until).await {
            // Slack shows nothing for an empty 200; the worker replaces the message.
            Queued::Yes | Queued::No => answer(200, None),
            Queued::Unknown => message(&Message::ephemeral(
                "Capstan could not confirm it received your click in time (AWS is slow). If the \
                 request does not update within a minute, click again: it cannot act twice.",
            )),
        }
    }

    /// Hands a job to the queue, giving up at `until`.
    pub(crate) async fn enqueue(&self, parts: &Parts, job: &Job, until: DateTime<Utc>) -> Queued {
        let left = (until - self.runner.now()).to_std().unwrap_or_default();
        match tokio::time::timeout(left, parts.queue.send(job)).await {
            Ok(Ok(())) => Queued::Yes,
            Ok(Err(e)) => {
                warn!(request = %job.request_id(), error = %e, "the job was not queued");
                Queued::Unknown
            }
            Err(_) => {
                warn!(request = %job.request_id(), "the queue did not answer in time");
                Queued::Unknown
            }
        }
    }

    /// `status`: answered inline when the reads finish in time, else through the queue.
    async fn status_now(
        &self,
        parts: &Parts,
        asker: &Asker,
        target: Option<String>,
        response_url: &str,
        request_id: &str,
        until: DateTime<Utc>,
    ) -> ApiGatewayV2httpResponse {
        let reads_until = until - parts.queue_reserve;
        let left = (reads_until - self.runner.now())
            .to_std()
            .unwrap_or_default();
        match tokio::time::timeout(left, status::text(&self.runner, asker, target.as_deref())).await
        {
            Ok(Ok(text)) => message(&Message::ephemeral(text)),
            outcome => {
                match &outcome {
                    Ok(Err(e)) => warn!(error = %e, "status could not be read inline"),
                    _ => warn!("status reads did not finish in time: handed to the queue"),
                }
                let job = Job::Status {
                    asker: asker.clone(),
                    target,
                    response_url: response_url.to_string(),
                    request_id: request_id.to_string(),
                };
                match self.enqueue(parts, &job, until).await {
                    Queued::Yes | Queued::No => message(&Message::ephemeral(
                        "Reading the status (AWS is slow); the answer follows here.",
                    )),
                    Queued::Unknown => message(&Message::ephemeral(
                        "AWS is slow: the status could not be read in time. If Capstan could \
                         still take the request, the answer follows here; if nothing follows \
                         within a minute, ask again.",
                    )),
                }
            }
        }
    }
}

/// What the acknowledgement says of a queued command.
fn working_text(text: &str, queued: Queued) -> String {
    match queued {
        Queued::Yes | Queued::No => format!(
            "Working on `/capstan {}`; the outcome follows here.",
            escape(text)
        ),
        Queued::Unknown => format!(
            "Capstan could not confirm in time that it took `/capstan {}` (AWS is slow). If it \
             did, it is carried out once and the outcome follows here; if nothing follows within \
             two minutes, nothing changed: send it again.",
            escape(text)
        ),
    }
}
