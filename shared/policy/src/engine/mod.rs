//! The decision engine: `decide(policy, signal, state, now)`.
//!
//! The engine is a pure function. It reads the policy, the state and the moment it decides
//! for, and returns a [`Decision`] that says, per target, what changes or why nothing does.
//! Applying a decision to the state ([`Decision::apply`]) is also pure; the Lambda functions
//! carry decisions out against AWS and persist the same state changes.
//!
//! Order of checks for an alarm rule on a target (the first that stops the action names the
//! reason): pause, step selection, direction, event hold / cooldown / scale-in guard, bounds,
//! max step, rate limit, dry-run. See `docs/policy.md` for every reason code.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};

use crate::command::{self, Command, ScaleTo};
use crate::decision::{Capacity, Decision, Notice, Outcome, Reason, StateOp, TargetDecision};
use crate::model::{
    earlier, later, Action, AlarmRule, Amount, BudgetAction, BudgetPeriod, BudgetRule, Criticality,
    Dur, Event, Policy, Target, Verb,
};
use crate::schedule;
use crate::signal::{
    AlarmSignal, BudgetSignal, CommandSignal, EventRequest, EventSignal, Signal, TickSignal,
};
use crate::state::{ActionRecord, BudgetCap, Direction, Pause, State, TargetState};

mod alarm;
mod bounds;
mod budget;
mod event;
mod news;
mod operator;
mod tick;

use alarm::on_alarm;
use budget::on_budget;
use event::on_event;
use operator::on_command;
use tick::on_tick;

pub use bounds::{effective_bounds, event_released_by};
pub use budget::period_end;
pub use news::{from_operator, is_news, is_quiet, stale_tick, told_in_digest};
pub use operator::{
    authorize, authorize_command, check_origin, claims_identity, confirmation_needed, status_line,
    CLI_USER_PREFIX,
};

/// The bounds in force on a target at a moment, and what set them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounds {
    /// Effective floor.
    pub floor: u32,
    /// Effective ceiling.
    pub ceiling: u32,
    /// An event holding scale-in, if any.
    pub hold: Option<String>,
    /// An event whose uplift is being released step by step, and the release step.
    pub release: Option<(String, u32)>,
    /// What set them, in words.
    pub why: Vec<String>,
}

/// How far back a first tick looks for occurrences (older ones are only reported).
const FIRST_TICK_LOOKBACK: Duration = Duration::hours(24);

/// The target name used in a decision that concerns no particular target.
pub const NO_TARGET: &str = "*";

fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// Decides what to do about `signal`, given the policy, the state and the moment.
///
/// The same inputs always give the same decision: nothing here reads a clock or a random
/// source, and every collection is iterated in a fixed order.
pub fn decide(policy: &Policy, signal: &Signal, state: &State, now: DateTime<Utc>) -> Decision {
    let mut d = Decision {
        at: now,
        signal: signal.summary(),
        targets: Vec::new(),
        notices: Vec::new(),
        ops: Vec::new(),
    };
    match signal {
        Signal::Alarm(a) => on_alarm(policy, a, state, now, &mut d),
        Signal::Tick(t) => on_tick(policy, t, state, now, &mut d),
        Signal::Budget(b) => on_budget(policy, b, state, now, &mut d),
        Signal::Command(c) => on_command(policy, c, state, now, &mut d),
        Signal::Event(e) => on_event(policy, e, state, now, &mut d),
    }
    d
}

/// The policy targets a signal can concern: what the functions must read (state and live
/// capacity) before deciding. `None` means every target.
///
/// For an alarm, the targets of the rules that match its name and state (none when no rule
/// matches, or only notify rules do); for ticks, budgets, commands and run-time events, every
/// target.
pub fn concerned_targets(policy: &Policy, signal: &Signal) -> Option<Vec<String>> {
    match signal {
        Signal::Alarm(a) => {
            let mut names: Vec<String> = policy
                .rules
                .values()
                .filter(|r| r.state == a.state && r.matches(&a.name) && !r.is_notify_only())
                .filter_map(|r| r.target.clone())
                .collect();
            names.sort();
            names.dedup();
            Some(names)
        }
        Signal::Tick(_) | Signal::Budget(_) | Signal::Command(_) | Signal::Event(_) => None,
    }
}

fn suppressed(target: &str, source: &str, reason: Reason, explanation: String) -> TargetDecision {
    TargetDecision {
        target: target.to_string(),
        source: source.to_string(),
        outcome: Outcome::Suppressed { reason },
        explanation,
    }
}

fn capacity(ts: &TargetState) -> Capacity {
    Capacity {
        desired: ts.desired,
        min: ts.min,
        max: ts.max,
    }
}

/// The instances of policy target `name` in the state, in key order.
fn instances<'a>(
    state: &'a State,
    name: &'a str,
) -> impl Iterator<Item = (&'a String, &'a TargetState)> {
    state.targets.iter().filter(move |(_, t)| t.target == name)
}

fn active_pause(ts: &TargetState, now: DateTime<Utc>) -> Option<&Pause> {
    ts.pause.as_ref().filter(|p| p.until > now)
}

/// The cooldown an action started: its rule's own cooldown, else the target's for its direction.
pub fn cooldown_of(policy: &Policy, target: &Target, record: &ActionRecord) -> Duration {
    let own = record
        .source
        .strip_prefix("rule:")
        .and_then(|r| policy.rules.get(r))
        .and_then(|r| r.cooldown);
    match (own, record.direction()) {
        (Some(d), _) => d.chrono(),
        (None, Direction::In) => target.cooldown.scale_in.chrono(),
        (None, _) => target.cooldown.scale_out.chrono(),
    }
}

/// When Capstan's own record changes the bounds (a cap lifted, an event added or cancelled):
/// for every target instance whose effective bounds at `now` differ between `before` and
/// `after`, a change setting its minimum and maximum to the new bounds and bringing desired
/// into them (`what` leads the explanation). Nothing for a target already so; a paused target is
/// left to the tick after its pause, and a dry-run target only says what would happen.
fn rebound(
    policy: &Policy,
    before: &State,
    after: &State,
    now: DateTime<Utc>,
    source: &str,
    what: &str,
    d: &mut Decision,
) {
    for (inst, ts) in &before.targets {
        let old = effective_bounds(policy, before, inst, now);
        let new = effective_bounds(policy, after, inst, now);
        if old == new {
            continue;
        }
        let cur = capacity(ts);
        let to = Capacity {
            desired: cur.desired.clamp(new.floor, new.ceiling),
            min: new.floor,
            max: new.ceiling,
        };
        if to == cur {
            continue;
        }
        let dry_run =
            policy.settings.dry_run || policy.targets.get(&ts.target).is_some_and(|t| t.dry_run);
        let decision = if let Some(p) = active_pause(ts, now) {
            suppressed(
                inst,
                source,
                Reason::Paused { until: p.until },
                format!(
                    "{what}: paused by {} until {}; bounds {}..{} apply on the first tick after it",
                    p.by,
                    fmt_time(p.until),
                    new.floor,
                    new.ceiling
                ),
            )
        } else if dry_run {
            suppressed(
                inst,
                source,
                Reason::DryRun { would: to },
                format!("{what}: dry-run, would go from {cur} to {to}"),
            )
        } else {
            TargetDecision {
                target: inst.clone(),
                source: source.to_string(),
                outcome: Outcome::Change {
                    from: cur,
                    to,
                    forced: false,
                },
                explanation: format!("{what}: {cur} -> {to}"),
            }
        };
        d.targets.push(decision);
    }
}

/// One instance a decision is about: its target in the policy, its instance name, its state.
#[derive(Clone, Copy)]
struct Subject<'a> {
    target: &'a Target,
    inst: &'a str,
    ts: &'a TargetState,
}

/// A change an automated signal proposes for one instance, before the last checks: what takes
/// it (`source`), the capacity before and after, what it is for and any notes on the way.
struct Proposal<'a> {
    source: &'a str,
    cur: Capacity,
    to: Capacity,
    what: String,
    notes: Vec<String>,
}

/// The last checks every automated change passes (rate limit, dry-run), and the change itself.
fn finish(
    policy: &Policy,
    now: DateTime<Utc>,
    subject: Subject<'_>,
    change: Proposal<'_>,
) -> TargetDecision {
    let Subject { target, inst, ts } = subject;
    let Proposal {
        source,
        cur,
        to,
        what,
        notes,
    } = change;
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join("; "))
    };
    let count = ts.actions_in_hour(now) as u32;
    if count >= target.max_actions_per_hour {
        return suppressed(
            inst,
            source,
            Reason::RateLimit {
                count,
                limit: target.max_actions_per_hour,
            },
            format!(
                "{what}: {count} actions in the last hour, limit {}{notes}",
                target.max_actions_per_hour
            ),
        );
    }
    if policy.settings.dry_run || target.dry_run {
        return suppressed(
            inst,
            source,
            Reason::DryRun { would: to },
            format!("{what}: dry-run, would go from {cur} to {to}{notes}"),
        );
    }
    TargetDecision {
        target: inst.to_string(),
        source: source.to_string(),
        outcome: Outcome::Change {
            from: cur,
            to,
            forced: false,
        },
        explanation: format!("{what}: {cur} -> {to}{notes}"),
    }
}
