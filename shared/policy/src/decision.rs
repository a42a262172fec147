//! Decisions: what the engine concluded for each target, and why, in words and as data.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::Event;
use crate::state::{ActionRecord, BudgetCap, Pause, State, TargetState};

/// Desired capacity and the bounds set on AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    /// Desired count.
    pub desired: u32,
    /// Minimum (the effective floor).
    pub min: u32,
    /// Maximum (the effective ceiling).
    pub max: u32,
}

impl fmt::Display for Capacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "desired {} (min {}, max {})",
            self.desired, self.min, self.max
        )
    }
}

/// Why nothing happened on a target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "code")]
pub enum Reason {
    /// A cooldown in this direction is running.
    Cooldown {
        /// `out` or `in`.
        direction: crate::state::Direction,
        /// When it ends.
        until: DateTime<Utc>,
    },
    /// No scale-in so soon after a scaling action.
    ScaleInGuard {
        /// When scale-in is allowed again.
        until: DateTime<Utc>,
    },
    /// Already at the ceiling.
    AtCeiling {
        /// The ceiling.
        ceiling: u32,
    },
    /// Already at the floor.
    AtFloor {
        /// The floor.
        floor: u32,
    },
    /// Automation is paused on the target.
    Paused {
        /// Until when.
        until: DateTime<Utc>,
    },
    /// Dry-run: this is what would have happened.
    DryRun {
        /// What the target would have become.
        would: Capacity,
    },
    /// Too many actions in the last hour.
    RateLimit {
        /// Actions in the last hour.
        count: u32,
        /// The limit.
        limit: u32,
    },
    /// An event holds scale-in.
    EventHold {
        /// The event.
        event: String,
    },
    /// No rule mentions the alarm in this state.
    UnknownAlarm,
    /// No budget rule mentions the budget (or none at this threshold and type).
    UnknownBudget,
    /// A stepped rule had no step for the value.
    NoMatchingStep,
    /// The rule needs the alarm's value and the signal has none.
    NoDatapoint,
    /// The alarm's value cannot size anything: negative for a size-from-metric rule, or not a
    /// finite number (the explanation quotes it).
    BadDatapoint,
    /// The command's sender may not do this.
    NotAllowed {
        /// What was missing.
        why: String,
    },
    /// The command waits for a confirmation ([`crate::engine::confirmation_needed`]); the
    /// explanation says what happens once it is confirmed.
    NeedsConfirmation {
        /// What the target would become (none for a command that sets no capacity itself,
        /// such as `lift-cap`).
        #[serde(default)]
        would: Option<Capacity>,
        /// Why it needs one.
        why: ConfirmWhy,
    },
    /// The command could not be understood.
    BadCommand {
        /// What was wrong.
        why: String,
    },
    /// The signal names a target the policy does not have.
    UnknownTarget {
        /// The name.
        target: String,
    },
    /// Nothing to do: the target already is as it should be.
    AlreadyRight,
    /// Nothing to undo.
    NothingToUndo,
    /// CloudWatch suppressed the alarm's actions (a composite alarm's actions suppressor) and
    /// the rule honours it (`honour_suppression`, the default).
    ActionsSuppressed {
        /// What suppressed them: `Alarm`, `WaitPeriod` or `ExtensionPeriod`.
        by: crate::signal::Suppressor,
    },
}

/// The reason codes of a change that was wanted and held back by something (a cooldown, a
/// guard, a bound, a pause, a limit, an event, CloudWatch's suppression, a confirmation still
/// to come), as opposed to nothing to do or a refused request. Notices say "held by" for
/// these and "unchanged" for the others.
pub const HOLD_CODES: [&str; 9] = [
    "cooldown",
    "scale-in-guard",
    "at-ceiling",
    "at-floor",
    "paused",
    "rate-limit",
    "event-hold",
    "actions-suppressed",
    "needs-confirmation",
];

impl Reason {
    /// The short code, as used in policy tests (`cooldown`, `at-ceiling`...).
    pub fn code(&self) -> &'static str {
        match self {
            Reason::Cooldown { .. } => "cooldown",
            Reason::ScaleInGuard { .. } => "scale-in-guard",
            Reason::AtCeiling { .. } => "at-ceiling",
            Reason::AtFloor { .. } => "at-floor",
            Reason::Paused { .. } => "paused",
            Reason::DryRun { .. } => "dry-run",
            Reason::RateLimit { .. } => "rate-limit",
            Reason::EventHold { .. } => "event-hold",
            Reason::UnknownAlarm => "unknown-alarm",
            Reason::UnknownBudget => "unknown-budget",
            Reason::NoMatchingStep => "no-matching-step",
            Reason::NoDatapoint => "no-datapoint",
            Reason::BadDatapoint => "bad-datapoint",
            Reason::NotAllowed { .. } => "not-allowed",
            Reason::NeedsConfirmation { .. } => "needs-confirmation",
            Reason::BadCommand { .. } => "bad-command",
            Reason::UnknownTarget { .. } => "unknown-target",
            Reason::AlreadyRight => "already-right",
            Reason::NothingToUndo => "nothing-to-undo",
            Reason::ActionsSuppressed { .. } => "actions-suppressed",
        }
    }
}

/// Why a command waits for a confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum ConfirmWhy {
    /// `--force`: past the guardrails (asked for by someone other than a `cli:` user).
    Force,
    /// `lift-cap`: a budget's caps lifted early (asked for by someone other than a `cli:` user).
    LiftCap,
    /// A change of desired capacity larger than `[slack].confirm_above`.
    LargeChange {
        /// The change, in tasks or instances.
        change: u32,
        /// `[slack].confirm_above`.
        confirm_above: u32,
    },
}

impl fmt::Display for ConfirmWhy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfirmWhy::Force => f.write_str("--force overrides the guardrails"),
            ConfirmWhy::LiftCap => f.write_str("lifting a budget cap early"),
            ConfirmWhy::LargeChange {
                change,
                confirm_above,
            } => write!(
                f,
                "a change of {change} is more than confirm_above ({confirm_above})"
            ),
        }
    }
}

/// What happens to one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Outcome {
    /// Capacity changes.
    Change {
        /// Before.
        from: Capacity,
        /// After.
        to: Capacity,
        /// True when an operator forced it past a guardrail.
        forced: bool,
    },
    /// Nothing changes, for `reason`.
    Suppressed {
        /// Why.
        reason: Reason,
    },
}

impl Outcome {
    /// The outcome's kind as used in policy tests: `change`, or `suppressed`/`unchanged`/`denied`.
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Outcome::Change { .. } => OutcomeKind::Change,
            Outcome::Suppressed {
                reason: Reason::AlreadyRight,
            } => OutcomeKind::Unchanged,
            Outcome::Suppressed {
                reason:
                    Reason::NotAllowed { .. }
                    | Reason::BadCommand { .. }
                    | Reason::NeedsConfirmation { .. },
            } => OutcomeKind::Denied,
            Outcome::Suppressed { .. } => OutcomeKind::Suppressed,
        }
    }
}

/// The kind of an [`Outcome`], as policy tests name it (`outcome = "change"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeKind {
    /// The capacity changes.
    Change,
    /// Nothing changes, for a reason other than those below.
    Suppressed,
    /// Nothing changes: the capacity is already right.
    Unchanged,
    /// Nothing changes: the request is refused (not allowed, malformed, or waiting for a
    /// confirmation).
    Denied,
}

impl OutcomeKind {
    /// The word policy tests use.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Change => "change",
            OutcomeKind::Suppressed => "suppressed",
            OutcomeKind::Unchanged => "unchanged",
            OutcomeKind::Denied => "denied",
        }
    }
}

impl fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for OutcomeKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [
            OutcomeKind::Change,
            OutcomeKind::Suppressed,
            OutcomeKind::Unchanged,
            OutcomeKind::Denied,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or(())
    }
}

/// Compares with the word (`kind() == "change"`), as policy tests write it.
impl PartialEq<&str> for OutcomeKind {
    fn eq(&self, word: &&str) -> bool {
        self.as_str() == *word
    }
}

/// The engine's conclusion for one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetDecision {
    /// The target instance (state key).
    pub target: String,
    /// What asked: `rule:api-cpu-high`, `schedule:night`, `budget:ai-cap`, `command:U123`...
    pub source: String,
    /// What happens.
    pub outcome: Outcome,
    /// Why, in words.
    pub explanation: String,
}

/// A message for people that is not itself a capacity change (notify-only rules, budget
/// notices, missed occurrences, status).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// What asked.
    pub source: String,
    /// The target it concerns, if any.
    #[serde(default)]
    pub target: Option<String>,
    /// The message.
    pub text: String,
}

/// A change to Capstan's own record that is not a capacity change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "op")]
pub enum StateOp {
    /// Pause (or pin) a target.
    Pause {
        /// The target instance.
        target: String,
        /// The pause.
        pause: Pause,
    },
    /// End a pause.
    Resume {
        /// The target instance.
        target: String,
    },
    /// Add a budget cap.
    AddCap(BudgetCap),
    /// Lift the caps of a budget.
    LiftCap {
        /// The budget.
        budget: String,
    },
    /// Record that an occurrence was applied (or reported missed).
    MarkOccurrence {
        /// The target instance.
        target: String,
        /// The schedule.
        schedule: String,
        /// The occurrence.
        at: DateTime<Utc>,
    },
    /// Add a run-time event (replacing a stored one of the same name).
    AddEvent {
        /// The event's name.
        name: String,
        /// The event.
        event: Event,
    },
    /// Remove a run-time event.
    CancelEvent {
        /// The event's name.
        name: String,
    },
}

/// Everything the engine concluded for one signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The moment decided for.
    pub at: DateTime<Utc>,
    /// The signal, in one line.
    pub signal: String,
    /// Per-target conclusions.
    pub targets: Vec<TargetDecision>,
    /// Messages for people.
    pub notices: Vec<Notice>,
    /// Changes to Capstan's record besides capacity changes.
    pub ops: Vec<StateOp>,
}

impl Decision {
    /// True when some target's capacity changes.
    pub fn changes_anything(&self) -> bool {
        self.targets
            .iter()
            .any(|t| matches!(t.outcome, Outcome::Change { .. }))
            || !self.ops.is_empty()
    }

    /// The decision for one target, if any.
    pub fn for_target(&self, target: &str) -> Option<&TargetDecision> {
        self.targets.iter().find(|t| t.target == target)
    }

    /// Applies the decision to `state` as if every change succeeded: the next state.
    pub fn apply(&self, state: &mut State) {
        for t in &self.targets {
            if let Outcome::Change { from, to, forced } = &t.outcome {
                if let Some(ts) = state.targets.get_mut(&t.target) {
                    apply_change(ts, self.at, &t.source, *from, *to, *forced);
                }
            }
        }
        for op in &self.ops {
            match op {
                StateOp::Pause { target, pause } => {
                    if let Some(ts) = state.targets.get_mut(target) {
                        ts.pause = Some(pause.clone());
                    }
                }
                StateOp::Resume { target } => {
                    if let Some(ts) = state.targets.get_mut(target) {
                        ts.pause = None;
                    }
                }
                StateOp::AddCap(cap) => {
                    state
                        .caps
                        .retain(|c| !(c.budget == cap.budget && c.rule == cap.rule));
                    state.caps.push(cap.clone());
                }
                StateOp::LiftCap { budget } => state.caps.retain(|c| &c.budget != budget),
                StateOp::MarkOccurrence {
                    target,
                    schedule,
                    at,
                } => {
                    if let Some(ts) = state.targets.get_mut(target) {
                        ts.occurrences.insert(schedule.clone(), *at);
                    }
                }
                StateOp::AddEvent { name, event } => {
                    state.events.insert(name.clone(), event.clone());
                }
                StateOp::CancelEvent { name } => {
                    state.events.remove(name);
                }
            }
        }
    }

    /// The decision as readable text, one line per target and notice.
    pub fn render(&self) -> String {
        self.render_with(None)
    }

    /// As [`Decision::render`], with under each target the runbook text that `policy` sends
    /// with its result ([`crate::model::Policy::runbook_for`]), as the functions' notices do.
    pub fn render_for(&self, policy: &crate::model::Policy) -> String {
        self.render_with(Some(policy))
    }

    fn render_with(&self, policy: Option<&crate::model::Policy>) -> String {
        let mut out = format!(
            "{}  {}\n",
            self.at.format("%Y-%m-%d %H:%M:%SZ"),
            self.signal
        );
        for t in &self.targets {
            out.push_str(&format!(
                "  {} [{}] {}\n",
                t.target,
                t.outcome.kind(),
                t.explanation
            ));
            if let Some(text) = policy.and_then(|p| p.runbook_for(&t.source)) {
                let rule = t.source.strip_prefix("rule:").unwrap_or(&t.source);
                out.push_str(&format!("    runbook (rule {rule}): {text}\n"));
            }
        }
        for n in &self.notices {
            out.push_str(&format!("  notice ({}): {}\n", n.source, n.text));
        }
        out
    }
}

/// How long the action history is kept in state.
pub const HISTORY_KEEP: chrono::TimeDelta = chrono::TimeDelta::hours(24);

fn apply_change(
    ts: &mut TargetState,
    at: DateTime<Utc>,
    source: &str,
    from: Capacity,
    to: Capacity,
    forced: bool,
) {
    ts.desired = to.desired;
    ts.min = to.min;
    ts.max = to.max;
    ts.history.push(ActionRecord {
        at,
        source: source.to_string(),
        from: from.desired,
        to: to.desired,
        forced,
    });
    let keep_from = at - HISTORY_KEEP;
    ts.history.retain(|a| a.at > keep_from);
}
