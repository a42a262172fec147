//! What came of a delivery: per-target results, the report, and the typed failure that makes
//! Lambda retry.

use capstan_policy::decision::{Capacity, Outcome, Reason, TargetDecision};
use serde::{Deserialize, Serialize};

/// What came of one target, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResultOutcome {
    /// Capacity was changed (or was already as decided on AWS).
    Changed,
    /// A change was wanted and held back; the reason says by what.
    Suppressed,
    /// Dry run: what would have been done.
    DryRun,
    /// AWS or the state table refused; the error says why.
    Failed,
    /// The signal was handled before: the result is the one stored then.
    Duplicate,
    /// Nothing concerned (an alarm no rule mentions, a stale tick...).
    Ignored,
}

impl ResultOutcome {
    /// The word, as in the JSON (`changed`, `dry-run`...).
    pub fn as_str(self) -> &'static str {
        match self {
            ResultOutcome::Changed => "changed",
            ResultOutcome::Suppressed => "suppressed",
            ResultOutcome::DryRun => "dry-run",
            ResultOutcome::Failed => "failed",
            ResultOutcome::Duplicate => "duplicate",
            ResultOutcome::Ignored => "ignored",
        }
    }
}

impl std::fmt::Display for ResultOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What came of one target (or of the signal as a whole, for target `*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetResult {
    /// The target instance, or `*`.
    pub target: String,
    /// What asked (`rule:api-cpu-high`...).
    pub source: String,
    /// What came of it.
    pub outcome: ResultOutcome,
    /// The suppression's reason code, when suppressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Capacity before a change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Capacity>,
    /// Capacity after a change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Capacity>,
    /// What was done on AWS (`ecs:UpdateService desired 5`), or why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<String>,
    /// The engine's explanation.
    pub explanation: String,
    /// The failure, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// True when the notification about this result could not be published.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub notify_failed: bool,
    /// For a duplicate: the outcome stored when the signal was first handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<ResultOutcome>,
    /// The runbook text of the rule that decided (`Policy::runbook_for`): what people should
    /// do, told after what was done or held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
    /// True when a retry of the invocation may succeed (the invocation then fails).
    #[serde(skip)]
    pub retryable: bool,
}

impl TargetResult {
    /// An empty result of `outcome` for `target`.
    pub fn new(target: &str, source: &str, outcome: ResultOutcome) -> TargetResult {
        TargetResult {
            target: target.to_string(),
            source: source.to_string(),
            outcome,
            reason: None,
            from: None,
            to: None,
            applied: None,
            explanation: String::new(),
            error: None,
            notify_failed: false,
            first: None,
            runbook: None,
            retryable: false,
        }
    }

    /// The result the engine's decision for a target calls for (before anything is done).
    pub fn of(t: &TargetDecision) -> TargetResult {
        let mut r = TargetResult::new(&t.target, &t.source, ResultOutcome::Changed);
        r.explanation = t.explanation.clone();
        match &t.outcome {
            Outcome::Change { from, to, .. } => {
                r.from = Some(*from);
                r.to = Some(*to);
            }
            Outcome::Suppressed {
                reason: reason @ Reason::DryRun { would },
            } => {
                r.outcome = ResultOutcome::DryRun;
                r.reason = Some(reason.code().to_string());
                r.to = Some(*would);
            }
            Outcome::Suppressed { reason } => {
                r.outcome = ResultOutcome::Suppressed;
                r.reason = Some(reason.code().to_string());
            }
        }
        r
    }

    /// What came of the target in a few words, as every notice's subject says it
    /// (`api 4 -> 5`, `api bounds 4..20 -> 6..20, desired 6`, `api held by cooldown`,
    /// `api 4 -> 5 FAILED`).
    pub fn headline(&self) -> String {
        crate::notice::headline(self)
    }

    /// A failure of `target`.
    pub fn failed(target: &str, source: &str, error: String, retryable: bool) -> TargetResult {
        let mut r = TargetResult::new(target, source, ResultOutcome::Failed);
        r.error = Some(error);
        r.retryable = retryable;
        r
    }

    /// The answer to a duplicate delivery: what was stored when it was first handled.
    pub fn duplicate_of(stored: &TargetResult, key: &str) -> TargetResult {
        let mut r = stored.clone();
        r.first = Some(stored.outcome);
        r.outcome = ResultOutcome::Duplicate;
        r.notify_failed = false;
        r.retryable = false;
        r.explanation = format!(
            "{key} was already handled for {} ({}): {}",
            stored.target, stored.outcome, stored.explanation
        );
        r
    }
}

/// Everything that came of one delivery: the function's response and its log.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Report {
    /// The signal in one line.
    pub signal: String,
    /// The idempotency key.
    pub key: String,
    /// Per target (and `*`).
    pub results: Vec<TargetResult>,
    /// Messages for people that were published (or would have been, without a topic).
    pub notices: Vec<String>,
    /// The subject of the tick's digest (one message for people about every target the tick
    /// changed), when this delivery published it; per-target notices of a tick go there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Notifications that could not be published.
    pub notify_failures: usize,
    /// How many times the runner read and decided again (a lost race, a busy target).
    pub retries: u32,
    /// Intents of *other* signals that this delivery found cut off (their invocation died past
    /// its deadline) and completed before deciding.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recovered: Vec<TargetResult>,
}

/// A failure the invocation must report, so that Lambda retries it (and, in the end, sends
/// it to the dead-letter queue). Nothing is lost by it: what was committed is completed by the
/// retry.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunError {
    /// AWS or the state table failed in a way a retry may fix (throttling, 5xx, timeouts).
    #[error("transient failure, the invocation will be retried: {0}")]
    Transient(String),
    /// Another attempt is carrying this signal (or its target) out and may still be alive:
    /// retry after its deadline.
    #[error("in progress elsewhere, the invocation will be retried: {0}")]
    InProgress(String),
    /// Too little time was left before the invocation's deadline to start these targets.
    #[error("out of time before the deadline, the invocation will be retried for: {0}")]
    OutOfTime(String),
    /// The state table refused for good what had to be recorded (a missing permission, bad
    /// credentials, a table that does not exist): a retry fails the same way until it is fixed.
    #[error("refused by the state table, a retry fails the same way until it is fixed: {0}")]
    Denied(String),
}

impl RunError {
    /// A stable name for the kind of failure (Lambda's error type).
    pub fn kind(&self) -> &'static str {
        match self {
            RunError::Transient(_) => "Transient",
            RunError::InProgress(_) => "InProgress",
            RunError::OutOfTime(_) => "OutOfTime",
            RunError::Denied(_) => "Denied",
        }
    }

    /// A state-table write that failed: [`RunError::Transient`] when a retry may fix it,
    /// [`RunError::Denied`] when the table refuses for good.
    pub(crate) fn state_table(error: &str, retryable: bool) -> RunError {
        let what = format!("state table: {error}");
        if retryable {
            RunError::Transient(what)
        } else {
            RunError::Denied(what)
        }
    }
}
