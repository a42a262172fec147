//! The work the acknowledgement hands to the queue: one SQS message per Slack request.
//!
//! A job carries everything the worker needs and nothing the worker must not keep: the
//! `response_url` (a bearer credential for 30 minutes) travels in the message, encrypted at rest
//! by the queue, and is never logged. The request id is derived from the Slack request, so a
//! Slack retry of the same request is the same job, and the runner acts on it once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who asked, where, from which workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Asker {
    /// The Slack user id (`U...`).
    pub user: String,
    /// The channel id.
    pub channel: String,
    /// The workspace (team) id.
    pub team: String,
}

/// What the worker does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Job {
    /// Carry out a command through the runner; post the outcome, or the confirmation buttons
    /// when the engine asks for them.
    Command {
        /// The request id (`req-...`): the idempotency key's root.
        request_id: String,
        /// Who asked.
        asker: Asker,
        /// The command text after `/capstan`.
        text: String,
        /// Where to post.
        response_url: String,
        /// When Slack sent it.
        at: DateTime<Utc>,
    },
    /// A click on a confirmation's button.
    Click {
        /// The request the button belongs to.
        request_id: String,
        /// Who clicked.
        clicker: Asker,
        /// Confirm or cancel.
        action: ClickAction,
        /// Where to post (the message with the buttons).
        response_url: String,
        /// When Slack sent it.
        at: DateTime<Utc>,
    },
    /// Put a refusal the acknowledgement answered on the record (a bad command, a grant
    /// missing, a workspace or app the policy does not accept). The runner never sees it.
    Refused {
        /// The request id.
        request_id: String,
        /// Who asked.
        asker: Asker,
        /// What they asked (the command text, or the click).
        text: String,
        /// Why it was refused.
        why: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Read and post the status (the acknowledgement could not read it in time).
    Status {
        /// Who asked.
        asker: Asker,
        /// Only this target.
        target: Option<String>,
        /// Where to post.
        response_url: String,
        /// The request id, for the post's mark.
        request_id: String,
    },
}

/// Which button was clicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClickAction {
    /// Go ahead.
    Confirm,
    /// Drop the request.
    Cancel,
}

impl Job {
    /// The request id the job belongs to.
    pub fn request_id(&self) -> &str {
        match self {
            Job::Command { request_id, .. }
            | Job::Click { request_id, .. }
            | Job::Refused { request_id, .. }
            | Job::Status { request_id, .. } => request_id,
        }
    }

    /// A one-line description for the log (no response_url).
    pub fn summary(&self) -> String {
        match self {
            Job::Command { asker, text, .. } => format!("command `{text}` from {}", asker.user),
            Job::Click {
                clicker, action, ..
            } => format!("{action:?} click from {}", clicker.user),
            Job::Refused { asker, text, .. } => format!("refused `{text}` from {}", asker.user),
            Job::Status { asker, target, .. } => match target {
                Some(t) => format!("status {t} for {}", asker.user),
                None => format!("status for {}", asker.user),
            },
        }
    }
}

/// A request id as the buttons carry it: `req-` and 1 to 60 letters, digits or `-`
/// (what `capstan_slack::request_id` makes; a click carrying anything else is refused unread).
pub fn is_request_id(id: &str) -> bool {
    id.strip_prefix("req-").is_some_and(|rest| {
        (1..=60).contains(&rest.len())
            && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_round_trips_and_refuses_unknown_fields() {
        let job = Job::Click {
            request_id: "req-abc".into(),
            clicker: Asker {
                user: "U1".into(),
                channel: "C1".into(),
                team: "T1".into(),
            },
            action: ClickAction::Confirm,
            response_url: "https://hooks.slack.com/actions/x".into(),
            at: DateTime::from_timestamp(1_795_442_410, 0).unwrap(),
        };
        let text = serde_json::to_string(&job).unwrap();
        assert!(text.contains(r#""job":"click""#), "{text}");
        assert_eq!(serde_json::from_str::<Job>(&text).unwrap(), job);
        let extra = text.replace(r#""action""#, r#""evil":1,"action""#);
        assert!(serde_json::from_str::<Job>(&extra).is_err());
    }

    #[test]
    fn request_ids_are_checked() {
        assert!(is_request_id("req-01jd6zk8s0"));
        assert!(!is_request_id("req-"));
        assert!(is_request_id("req-01JD6ZK8S0"));
        assert!(!is_request_id("req-01/../x"));
        assert!(!is_request_id("id-1"));
        assert!(!is_request_id(&format!("req-{}", "a".repeat(61))));
        assert!(!is_request_id("req-a b"));
    }
}
