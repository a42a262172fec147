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
    Action, AlarmRule, BudgetAction, BudgetPeriod, BudgetRule, Criticality, Policy, Target, Verb,
};
use crate::schedule;
use crate::signal::{AlarmSignal, BudgetSignal, CommandSignal, Signal, TickSignal};
use crate::state::{ActionRecord, BudgetCap, Direction, Pause, State, TargetState};

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

/// The bounds in force on target instance `instance` at `now`: the target's hard bounds, then
/// the periods that hold, then events (uplift, hold, release), then budget caps.
pub fn effective_bounds(
    policy: &Policy,
    state: &State,
    instance: &str,
    now: DateTime<Utc>,
) -> Bounds {
    let name = state
        .targets
        .get(instance)
        .map(|t| t.target.as_str())
        .unwrap_or(instance);
    let Some(t) = policy.targets.get(name) else {
        return Bounds {
            floor: 0,
            ceiling: 0,
            hold: None,
            release: None,
            why: vec![format!("unknown target {name}")],
        };
    };
    let mut b = Bounds {
        floor: t.floor,
        ceiling: t.ceiling,
        hold: None,
        release: None,
        why: vec![format!("target bounds {}..{}", t.floor, t.ceiling)],
    };

    for (sname, s) in &policy.schedules {
        if s.is_occurrence() || !s.targets.iter().any(|x| x == name) {
            continue;
        }
        if schedule::period_holds(policy, s, now) {
            b.floor = s.floor.unwrap_or(b.floor);
            b.ceiling = s.ceiling.unwrap_or(b.ceiling);
            b.why
                .push(format!("period {sname} holds: {}..{}", b.floor, b.ceiling));
        }
    }

    for (ename, e) in policy.events.iter().chain(state.events.iter()) {
        let Some(up) = e.targets.get(name) else {
            continue;
        };
        let lead = e.lead.map(|d| d.chrono()).unwrap_or_else(Duration::zero);
        let begin = e.start.0 - lead;
        let raised_floor = up.floor.map(|a| a.apply(b.floor)).unwrap_or(b.floor);
        let mut raised_ceiling = up.ceiling.map(|a| a.apply(b.ceiling)).unwrap_or(b.ceiling);
        if !e.exceed_ceiling {
            raised_ceiling = raised_ceiling.min(t.ceiling.max(b.ceiling));
        }
        if now >= begin && now < e.end.0 {
            b.floor = b.floor.max(raised_floor);
            b.ceiling = b.ceiling.max(raised_ceiling);
            let phase = if now < e.start.0 { "lead" } else { "during" };
            if e.hold_scale_in {
                b.hold = Some(ename.clone());
            }
            b.why.push(format!(
                "event {ename} ({phase}, {} to {}): {}..{}{}",
                fmt_time(e.start.0),
                fmt_time(e.end.0),
                b.floor,
                b.ceiling,
                if e.hold_scale_in {
                    ", scale-in held"
                } else {
                    ""
                }
            ));
        } else if now >= e.end.0 && raised_floor > b.floor {
            let step = e.release_step.unwrap_or(1).max(1);
            let every = t.cooldown.scale_in.chrono().max(Duration::seconds(1));
            let steps_done = 1 + ((now - e.end.0).num_seconds() / every.num_seconds()).max(0);
            let released = (raised_floor as i64 - steps_done * step as i64).max(0) as u32;
            if released > b.floor {
                b.floor = released;
                b.ceiling = b.ceiling.max(released);
                b.release = Some((ename.clone(), step));
                b.why.push(format!(
                    "event {ename} ended {}: releasing, floor {released} (down {step} every {})",
                    fmt_time(e.end.0),
                    t.cooldown.scale_in
                ));
            }
        }
    }

    if t.criticality == Criticality::NonCritical {
        for cap in &state.caps {
            if cap.until <= now || cap.since > now {
                continue;
            }
            let Some(rule) = policy.budgets.get(&cap.rule) else {
                continue;
            };
            if !budget_rule_covers(rule, name) {
                continue;
            }
            match &rule.action {
                BudgetAction::Cap => b.ceiling = b.floor,
                BudgetAction::LowerCeiling(a) => {
                    b.ceiling = a.apply(b.ceiling).min(b.ceiling).max(b.floor)
                }
                BudgetAction::Notify => continue,
            }
            b.why.push(format!(
                "budget {} capped by rule {} until {}: ceiling {}",
                cap.budget,
                cap.rule,
                fmt_time(cap.until),
                b.ceiling
            ));
        }
    }

    if b.ceiling < b.floor {
        b.ceiling = b.floor;
    }
    b
}

fn budget_rule_covers(rule: &BudgetRule, target: &str) -> bool {
    match &rule.targets {
        Some(list) => list.iter().any(|t| t == target),
        None => true,
    }
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
    }
    d
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
fn cooldown_of(policy: &Policy, target: &Target, record: &ActionRecord) -> Duration {
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

fn describe_action(a: &Action) -> String {
    match a {
        Action::Add(n) => format!("add {n}"),
        Action::Remove(n) => format!("remove {n}"),
        Action::Percent(p) => format!("change by {p:+}%"),
        Action::Set(n) => format!("set to {n}"),
        Action::FromMetric {
            per_unit,
            buffer_percent,
        } => format!(
            "size from metric (value / {per_unit} x {:.2})",
            1.0 + buffer_percent / 100.0
        ),
        Action::Notify => "notify only".to_string(),
    }
}

/// Applies `action` to capacity `base`. `None` when the action needs the alarm's value and
/// there is none.
fn propose(action: &Action, base: u32, value: Option<f64>) -> Option<u32> {
    Some(match action {
        Action::Add(n) => base.saturating_add(*n),
        Action::Remove(n) => base.saturating_sub(*n),
        Action::Percent(p) => {
            let magnitude = (base as f64 * p.unsigned_abs() as f64 / 100.0).floor() as u32;
            let magnitude = if *p != 0 { magnitude.max(1) } else { 0 };
            if *p > 0 {
                base.saturating_add(magnitude)
            } else {
                base.saturating_sub(magnitude)
            }
        }
        Action::Set(n) => *n,
        Action::FromMetric {
            per_unit,
            buffer_percent,
        } => {
            let v = value?;
            let want = (v / per_unit * (1.0 + buffer_percent / 100.0)).ceil();
            if want.is_finite() && want > 0.0 {
                want.min(u32::MAX as f64) as u32
            } else {
                0
            }
        }
        Action::Notify => base,
    })
}

// -------------------------------------------------------------------------------------------
// Alarms
// -------------------------------------------------------------------------------------------

fn on_alarm(policy: &Policy, a: &AlarmSignal, state: &State, now: DateTime<Utc>, d: &mut Decision) {
    let source = format!("alarm:{}", a.name);
    let matching: Vec<(&String, &AlarmRule)> = policy
        .rules
        .iter()
        .filter(|(_, r)| r.state == a.state && r.matches(&a.name))
        .collect();
    if matching.is_empty() {
        d.targets.push(suppressed(
            NO_TARGET,
            &source,
            Reason::UnknownAlarm,
            format!(
                "no rule mentions alarm {} in state {}: nothing to do",
                a.name, a.state
            ),
        ));
        return;
    }

    // Per target, the most specific rule acts: an exact name beats a glob, a longer glob a
    // shorter one, and rule names break ties.
    let mut chosen: BTreeMap<&str, (&String, &AlarmRule)> = BTreeMap::new();
    for (rname, rule) in &matching {
        if let Some(text) = &rule.runbook {
            d.notices.push(Notice {
                source: format!("rule:{rname}"),
                target: rule.target.clone(),
                text: format!("alarm {} is {}: {text}", a.name, a.state),
            });
        } else if rule.is_notify_only() {
            d.notices.push(Notice {
                source: format!("rule:{rname}"),
                target: rule.target.clone(),
                text: format!("alarm {} is {}: no automatic action", a.name, a.state),
            });
        }
        if rule.is_notify_only() {
            continue;
        }
        let Some(target) = rule.target.as_deref() else {
            continue;
        };
        let key = |r: &AlarmRule| (!r.is_glob(), r.alarm.len());
        match chosen.get(target) {
            Some((_, prev)) if key(prev) >= key(rule) => {}
            _ => {
                chosen.insert(target, (rname, rule));
            }
        }
    }

    for (target_name, (rname, rule)) in chosen {
        let rsource = format!("rule:{rname}");
        let Some(target) = policy.targets.get(target_name) else {
            d.targets.push(suppressed(
                target_name,
                &rsource,
                Reason::UnknownTarget {
                    target: target_name.to_string(),
                },
                format!("rule {rname} names target {target_name}, which the policy does not have"),
            ));
            continue;
        };
        let mut any = false;
        for (inst, ts) in instances(state, target_name) {
            any = true;
            d.targets.push(decide_rule(
                policy, target, inst, ts, rname, rule, a, state, now,
            ));
        }
        if !any {
            d.targets.push(suppressed(
                target_name,
                &rsource,
                Reason::UnknownTarget {
                    target: target_name.to_string(),
                },
                format!("no live state for target {target_name}: not found on AWS?"),
            ));
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn decide_rule(
    policy: &Policy,
    target: &Target,
    inst: &str,
    ts: &TargetState,
    rname: &str,
    rule: &AlarmRule,
    a: &AlarmSignal,
    state: &State,
    now: DateTime<Utc>,
) -> TargetDecision {
    let source = format!("rule:{rname}");
    let cur = capacity(ts);
    let why_alarm = match a.value {
        Some(v) => format!("alarm {} {} (value {v})", a.name, a.state),
        None => format!("alarm {} {}", a.name, a.state),
    };
    let stop = |reason: Reason, text: String| {
        suppressed(
            inst,
            &source,
            reason,
            format!("{why_alarm}, rule {rname}: {text}"),
        )
    };

    if let Some(p) = active_pause(ts, now) {
        return stop(
            Reason::Paused { until: p.until },
            format!("paused by {} until {}", p.by, fmt_time(p.until)),
        );
    }

    let action = if rule.steps.is_empty() {
        match &rule.action {
            Some(act) => act.clone(),
            None => return stop(Reason::NoMatchingStep, "the rule has no action".into()),
        }
    } else {
        let Some(v) = a.value else {
            return stop(
                Reason::NoDatapoint,
                "stepped rule needs the alarm's datapoint and the alarm carries none".into(),
            );
        };
        match rule
            .steps
            .iter()
            .find(|s| s.lower.is_none_or(|l| v >= l) && s.upper.is_none_or(|u| v < u))
        {
            Some(s) => s.action.clone(),
            None => return stop(Reason::NoMatchingStep, format!("no step covers value {v}")),
        }
    };
    let what = describe_action(&action);
    let Some(proposal) = propose(&action, cur.desired, a.value) else {
        return stop(
            Reason::NoDatapoint,
            format!("{what} needs the alarm's datapoint and the alarm carries none"),
        );
    };

    let bounds = effective_bounds(policy, state, inst, now);
    let mut notes: Vec<String> = Vec::new();
    let mut wanted = proposal;

    match proposal.cmp(&cur.desired) {
        std::cmp::Ordering::Equal => {
            return stop(
                Reason::AlreadyRight,
                format!("{what} leaves desired at {}", cur.desired),
            )
        }
        std::cmp::Ordering::Greater => {
            if let Some(last) = ts.last_in(Direction::Out) {
                let until = last.at + cooldown_of(policy, target, last);
                if now < until {
                    // AWS step-scaling semantics: during a scale-out cooldown a further scale-out
                    // applies only what it adds beyond the action in cooldown.
                    let from_before = propose(&action, last.from, a.value).unwrap_or(last.from);
                    if from_before <= cur.desired {
                        return stop(
                            Reason::Cooldown {
                                direction: Direction::Out,
                                until,
                            },
                            format!(
                                "scale-out cooldown after {} ({} -> {}) until {}; {what} from {} gives {}, not above the current {}",
                                last.source, last.from, last.to, fmt_time(until), last.from, from_before, cur.desired
                            ),
                        );
                    }
                    wanted = from_before;
                    notes.push(format!(
                        "in scale-out cooldown after {} ({} -> {}): only the difference applies",
                        last.source, last.from, last.to
                    ));
                }
            }
        }
        std::cmp::Ordering::Less => {
            if let Some(event) = &bounds.hold {
                return stop(
                    Reason::EventHold {
                        event: event.clone(),
                    },
                    format!("event {event} holds scale-in"),
                );
            }
            if let Some(last) = ts.last_in(Direction::In) {
                let until = last.at + cooldown_of(policy, target, last);
                if now < until {
                    return stop(
                        Reason::Cooldown {
                            direction: Direction::In,
                            until,
                        },
                        format!(
                            "scale-in cooldown after {} ({} -> {}) until {}",
                            last.source,
                            last.from,
                            last.to,
                            fmt_time(until)
                        ),
                    );
                }
            }
            let guard = rule.scale_in_guard.or(target.cooldown.scale_in_guard);
            if let Some(guard) = guard {
                if let Some(last) = ts
                    .history
                    .iter()
                    .rev()
                    .find(|r| r.direction() != Direction::None)
                {
                    let until = last.at + guard.chrono();
                    if now < until {
                        return stop(
                            Reason::ScaleInGuard { until },
                            format!(
                                "no scale-in within {guard} of a scaling action; last was {} ({} -> {}) at {}",
                                last.source,
                                last.from,
                                last.to,
                                fmt_time(last.at)
                            ),
                        );
                    }
                }
            }
        }
    }

    let out = wanted > cur.desired;
    let mut new = wanted.clamp(bounds.floor, bounds.ceiling);
    if new != wanted {
        notes.push(format!(
            "{wanted} clamped to {}..{} ({})",
            bounds.floor,
            bounds.ceiling,
            bounds.why.join("; ")
        ));
    }
    if (out && new <= cur.desired) || (!out && new >= cur.desired) {
        let reason = if out {
            Reason::AtCeiling {
                ceiling: bounds.ceiling,
            }
        } else {
            Reason::AtFloor {
                floor: bounds.floor,
            }
        };
        let text = if out {
            format!(
                "{what}: desired {} is at the ceiling {} ({})",
                cur.desired,
                bounds.ceiling,
                bounds.why.join("; ")
            )
        } else {
            format!(
                "{what}: desired {} is at the floor {} ({})",
                cur.desired,
                bounds.floor,
                bounds.why.join("; ")
            )
        };
        return stop(reason, text);
    }
    let max_step = target.max_step();
    if new.abs_diff(cur.desired) > max_step {
        // Bounds win over the step limit: from outside the bounds (after a forced override
        // expired, or a period moved them) the change goes straight back inside.
        new = if out {
            cur.desired + max_step
        } else {
            cur.desired - max_step
        }
        .clamp(bounds.floor, bounds.ceiling);
        notes.push(format!("limited to the max step {max_step}"));
    }
    let to = Capacity {
        desired: new,
        min: bounds.floor,
        max: bounds.ceiling,
    };
    finish(
        policy,
        target,
        inst,
        ts,
        &source,
        cur,
        to,
        now,
        format!("{why_alarm}, rule {rname}: {what}"),
        notes,
    )
}

/// The last checks every automated change passes (rate limit, dry-run), and the change itself.
#[allow(clippy::too_many_arguments)]
fn finish(
    policy: &Policy,
    target: &Target,
    inst: &str,
    ts: &TargetState,
    source: &str,
    cur: Capacity,
    to: Capacity,
    now: DateTime<Utc>,
    what: String,
    notes: Vec<String>,
) -> TargetDecision {
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

// -------------------------------------------------------------------------------------------
// Schedule ticks
// -------------------------------------------------------------------------------------------

fn on_tick(
    policy: &Policy,
    tick: &TickSignal,
    state: &State,
    now: DateTime<Utc>,
    d: &mut Decision,
) {
    if let Some(name) = &tick.schedule {
        match policy.schedules.get(name) {
            Some(s) if s.is_occurrence() => {}
            _ => {
                d.targets.push(suppressed(
                    NO_TARGET,
                    &format!("schedule:{name}"),
                    Reason::BadCommand {
                        why: format!("no occurrence schedule named {name}"),
                    },
                    format!("cannot apply schedule {name}: the policy has no occurrence schedule of that name"),
                ));
                return;
            }
        }
    }
    for (inst, ts) in &state.targets {
        let Some(target) = policy.targets.get(&ts.target) else {
            d.targets.push(suppressed(
                inst,
                "schedule",
                Reason::UnknownTarget {
                    target: ts.target.clone(),
                },
                format!(
                    "state has target {}, which the policy does not have",
                    ts.target
                ),
            ));
            continue;
        };
        let decision = tick_target(policy, tick, target, inst, ts, state, now, d);
        d.targets.push(decision);
    }
}

#[allow(clippy::too_many_arguments)]
fn tick_target(
    policy: &Policy,
    tick: &TickSignal,
    target: &Target,
    inst: &str,
    ts: &TargetState,
    state: &State,
    now: DateTime<Utc>,
    d: &mut Decision,
) -> TargetDecision {
    let cur = capacity(ts);
    let bounds = effective_bounds(policy, state, inst, now);
    let mut desired = cur.desired;
    let mut source = "schedule".to_string();
    let mut notes: Vec<String> = Vec::new();
    let mut stepped = false;
    let catch_up = policy.settings.catch_up.chrono();

    for (sname, s) in &policy.schedules {
        let Some(want) = s.desired else { continue };
        if !s.is_occurrence() || !s.targets.iter().any(|x| x == &ts.target) {
            continue;
        }
        let explicit = tick.schedule.as_deref() == Some(sname.as_str());
        if tick.schedule.is_some() && !explicit {
            continue;
        }
        let due = if explicit {
            Some(now)
        } else {
            let after = ts
                .occurrences
                .get(sname)
                .copied()
                .unwrap_or(now - FIRST_TICK_LOOKBACK)
                .max(now - FIRST_TICK_LOOKBACK);
            let occ = schedule::occurrences(policy, s, after, now);
            let Some(latest) = occ.last().copied() else {
                continue;
            };
            d.ops.push(StateOp::MarkOccurrence {
                target: inst.to_string(),
                schedule: sname.clone(),
                at: latest,
            });
            let mut fresh = None;
            for o in occ {
                if now - o > catch_up {
                    d.notices.push(Notice {
                        source: format!("schedule:{sname}"),
                        target: Some(inst.to_string()),
                        text: format!(
                            "missed occurrence of {sname} at {} (older than the catch-up window {}): not applied",
                            fmt_time(o),
                            policy.settings.catch_up
                        ),
                    });
                } else {
                    fresh = Some(o);
                }
            }
            fresh
        };
        let Some(at) = due else { continue };
        if want < desired {
            if let Some(event) = &bounds.hold {
                notes.push(format!(
                    "{sname} ({}) would set desired {want}; event {event} holds scale-in",
                    fmt_time(at)
                ));
                continue;
            }
        }
        if want != desired {
            notes.push(format!("{sname} ({}) sets desired {want}", fmt_time(at)));
            desired = want;
            stepped = true;
            source = format!("schedule:{sname}");
        }
    }

    if let Some((event, step)) = &bounds.release {
        if desired > bounds.floor && desired <= bounds.floor + step {
            notes.push(format!(
                "event {event} releasing: desired follows the floor down"
            ));
            desired = bounds.floor;
            source = format!("event:{event}");
        }
    }

    if let Some(p) = active_pause(ts, now) {
        let Some(pin) = p.pin else {
            return suppressed(
                inst,
                &source,
                Reason::Paused { until: p.until },
                format!(
                    "paused by {} until {}: schedule not applied",
                    p.by,
                    fmt_time(p.until)
                ),
            );
        };
        let to = Capacity {
            desired: pin,
            min: bounds.floor.min(pin),
            max: bounds.ceiling.max(pin),
        };
        if to == cur {
            return suppressed(
                inst,
                "pin",
                Reason::AlreadyRight,
                format!(
                    "pinned at {pin} by {} until {}: {cur}",
                    p.by,
                    fmt_time(p.until)
                ),
            );
        }
        let forced = pin < bounds.floor || pin > bounds.ceiling;
        return TargetDecision {
            target: inst.to_string(),
            source: format!("pin:{}", p.by),
            outcome: Outcome::Change {
                from: cur,
                to,
                forced,
            },
            explanation: format!(
                "pinned at {pin} by {} until {}: {cur} -> {to}",
                p.by,
                fmt_time(p.until)
            ),
        };
    }

    let mut new = desired.clamp(bounds.floor, bounds.ceiling);
    if new != desired {
        notes.push(format!(
            "desired {desired} brought into {}..{}",
            bounds.floor, bounds.ceiling
        ));
    }
    if stepped && new.abs_diff(cur.desired) > target.max_step() {
        let step = target.max_step();
        let limited = if new > cur.desired {
            cur.desired + step
        } else {
            cur.desired - step
        };
        new = limited.clamp(bounds.floor, bounds.ceiling);
        notes.push(format!("limited to the max step {step}"));
    }
    let to = Capacity {
        desired: new,
        min: bounds.floor,
        max: bounds.ceiling,
    };
    let what = format!("schedule tick: bounds {}", bounds.why.join("; "));
    if to == cur {
        let mut text = format!("{what}: already right, {cur}");
        if !notes.is_empty() {
            text.push_str(&format!(" ({})", notes.join("; ")));
        }
        return suppressed(inst, &source, Reason::AlreadyRight, text);
    }
    finish(policy, target, inst, ts, &source, cur, to, now, what, notes)
}

// -------------------------------------------------------------------------------------------
// Budgets
// -------------------------------------------------------------------------------------------

/// The first instant of the next budget period after `now` (UTC calendar).
pub fn period_end(period: BudgetPeriod, now: DateTime<Utc>) -> DateTime<Utc> {
    let (y, m) = (now.year(), now.month());
    let (ny, nm) = match period {
        BudgetPeriod::Monthly => {
            if m == 12 {
                (y + 1, 1)
            } else {
                (y, m + 1)
            }
        }
        BudgetPeriod::Quarterly => {
            let q_next = ((m - 1) / 3 + 1) * 3 + 1;
            if q_next > 12 {
                (y + 1, 1)
            } else {
                (y, q_next)
            }
        }
        BudgetPeriod::Yearly => (y + 1, 1),
    };
    Utc.with_ymd_and_hms(ny, nm, 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
}

fn on_budget(
    policy: &Policy,
    b: &BudgetSignal,
    state: &State,
    now: DateTime<Utc>,
    d: &mut Decision,
) {
    let source = format!("budget:{}", b.budget);
    let amounts = match (b.amount, b.budgeted) {
        (Some(a), Some(t)) => format!(" ({a:.2} of {t:.2})"),
        (Some(a), None) => format!(" ({a:.2})"),
        _ => String::new(),
    };
    let for_budget: Vec<(&String, &BudgetRule)> = policy
        .budgets
        .iter()
        .filter(|(_, r)| r.budget == b.budget)
        .collect();
    if for_budget.is_empty() {
        d.notices.push(Notice {
            source: source.clone(),
            target: None,
            text: format!(
                "Capstan saw a {} alert for budget {} at {}%{amounts}; no rule mentions this budget, nothing done",
                b.alert_type, b.budget, b.threshold_percent
            ),
        });
        d.targets.push(suppressed(
            NO_TARGET,
            &source,
            Reason::UnknownBudget,
            format!("no budget rule mentions budget {}", b.budget),
        ));
        return;
    }
    let hits: Vec<&(&String, &BudgetRule)> = for_budget
        .iter()
        .filter(|(_, r)| r.alert_type == b.alert_type && b.threshold_percent + 1e-9 >= r.threshold)
        .collect();
    if hits.is_empty() {
        d.notices.push(Notice {
            source: source.clone(),
            target: None,
            text: format!(
                "budget {} {} alert at {}%{amounts}: no rule acts on {} alerts at this threshold; nothing done",
                b.budget, b.alert_type, b.threshold_percent, b.alert_type
            ),
        });
        return;
    }
    let mut capped = state.clone();
    let mut acting: Vec<(&String, &BudgetRule)> = Vec::new();
    for (rname, rule) in hits {
        let extra = rule
            .message
            .as_deref()
            .map(|m| format!(" {m}"))
            .unwrap_or_default();
        match rule.action {
            BudgetAction::Notify => d.notices.push(Notice {
                source: format!("budget:{rname}"),
                target: None,
                text: format!(
                    "budget {} {} at {}%{amounts} reached rule {rname} ({}%).{extra}",
                    b.budget, b.alert_type, b.threshold_percent, rule.threshold
                ),
            }),
            BudgetAction::Cap | BudgetAction::LowerCeiling(_) => {
                let until = period_end(rule.period, now);
                let in_force = state
                    .caps
                    .iter()
                    .any(|c| &c.rule == *rname && c.until > now && c.since <= now);
                if !in_force {
                    let cap = BudgetCap {
                        budget: b.budget.clone(),
                        rule: (*rname).clone(),
                        since: now,
                        until,
                    };
                    d.ops.push(StateOp::AddCap(cap.clone()));
                    capped.caps.push(cap);
                    d.notices.push(Notice {
                        source: format!("budget:{rname}"),
                        target: None,
                        text: format!(
                            "budget {} {} at {}%{amounts}: rule {rname} caps non-critical capacity until {} (period reset).{extra}",
                            b.budget,
                            b.alert_type,
                            b.threshold_percent,
                            fmt_time(until)
                        ),
                    });
                }
                acting.push((rname, rule));
            }
        }
    }
    let mut done: Vec<&str> = Vec::new();
    for (rname, rule) in acting {
        let rsource = format!("budget:{rname}");
        for (tname, target) in &policy.targets {
            if !budget_rule_covers(rule, tname) || done.contains(&tname.as_str()) {
                continue;
            }
            if target.criticality == Criticality::Critical {
                if rule.targets.is_some() {
                    d.notices.push(Notice {
                        source: rsource.clone(),
                        target: Some(tname.clone()),
                        text: format!("{tname} is critical: budget rules never touch it"),
                    });
                }
                continue;
            }
            done.push(tname);
            for (inst, ts) in instances(state, tname) {
                let cur = capacity(ts);
                let bounds = effective_bounds(policy, &capped, inst, now);
                let to = Capacity {
                    desired: cur.desired.clamp(bounds.floor, bounds.ceiling),
                    min: bounds.floor,
                    max: bounds.ceiling,
                };
                let what = format!(
                    "budget {} {} at {}%: rule {rname}: {}",
                    b.budget,
                    b.alert_type,
                    b.threshold_percent,
                    bounds.why.join("; ")
                );
                if to == cur {
                    d.targets.push(suppressed(
                        inst,
                        &rsource,
                        Reason::AlreadyRight,
                        format!("{what}: already capped, {cur}"),
                    ));
                } else {
                    d.targets.push(finish(
                        policy,
                        target,
                        inst,
                        ts,
                        &rsource,
                        cur,
                        to,
                        now,
                        what,
                        Vec::new(),
                    ));
                }
            }
        }
    }
}

// -------------------------------------------------------------------------------------------
// Operator commands
// -------------------------------------------------------------------------------------------

/// Checks that `user` in `channel` may use `verb` on `target` (None: no particular target).
pub fn authorize(
    policy: &Policy,
    user: &str,
    channel: &str,
    verb: Verb,
    target: Option<&str>,
) -> Result<(), String> {
    let ok = policy.slack.grants.iter().any(|g| {
        g.users.iter().any(|u| u == user)
            && (g.channels.is_empty() || g.channels.iter().any(|c| c == channel))
            && g.verbs.contains(&verb)
            && match target {
                Some(t) => g.targets.is_empty() || g.targets.iter().any(|x| x == t),
                None => true,
            }
    });
    if ok {
        Ok(())
    } else {
        Err(match target {
            Some(t) => format!("{user} may not use `{verb}` on {t} in channel {channel}"),
            None => format!("{user} may not use `{verb}` in channel {channel}"),
        })
    }
}

fn on_command(
    policy: &Policy,
    c: &CommandSignal,
    state: &State,
    now: DateTime<Utc>,
    d: &mut Decision,
) {
    let source = format!("command:{}", c.user);
    let cmd = match command::parse(&c.text) {
        Ok(cmd) => cmd,
        Err(why) => {
            d.targets.push(suppressed(
                NO_TARGET,
                &source,
                Reason::BadCommand { why: why.clone() },
                format!("`{}`: {why}", c.text),
            ));
            return;
        }
    };
    let target_name = cmd.target();
    let mut verbs = vec![cmd.verb()];
    if cmd.forced() {
        verbs.push(Verb::Force);
    }
    for verb in verbs {
        let auth_target = if matches!(cmd, Command::LiftCap { .. }) {
            None
        } else {
            target_name
        };
        if let Err(why) = authorize(policy, &c.user, &c.channel, verb, auth_target) {
            d.targets.push(suppressed(
                target_name.unwrap_or(NO_TARGET),
                &source,
                Reason::NotAllowed { why: why.clone() },
                format!("`{}` refused: {why}", c.text),
            ));
            return;
        }
    }
    if let Some(t) = target_name {
        if !policy.targets.contains_key(t) {
            d.targets.push(suppressed(
                t,
                &source,
                Reason::UnknownTarget {
                    target: t.to_string(),
                },
                format!("`{}`: the policy has no target {t}", c.text),
            ));
            return;
        }
    }
    match cmd {
        Command::Status { target } => {
            for (inst, ts) in &state.targets {
                if target.as_deref().is_some_and(|t| t != ts.target) {
                    continue;
                }
                d.notices.push(Notice {
                    source: source.clone(),
                    target: Some(inst.clone()),
                    text: status_line(policy, state, inst, ts, now),
                });
            }
        }
        Command::Scale { target, to, force } => {
            let t = &policy.targets[&target];
            for (inst, ts) in instances(state, &target) {
                let decision = manual_scale(policy, t, inst, ts, state, to, force, c, &source, now);
                pin_forced(policy, &decision, c, now, d);
                d.targets.push(decision);
            }
        }
        Command::Undo { target, force } => {
            let t = &policy.targets[&target];
            for (inst, ts) in instances(state, &target) {
                match ts.last_action().filter(|a| a.from != a.to) {
                    Some(last) => {
                        let decision = manual_scale(
                            policy,
                            t,
                            inst,
                            ts,
                            state,
                            ScaleTo::Exactly(last.from),
                            force,
                            c,
                            &format!("{source}:undo"),
                            now,
                        );
                        pin_forced(policy, &decision, c, now, d);
                        d.targets.push(decision);
                    }
                    None => d.targets.push(suppressed(
                        inst,
                        &source,
                        Reason::NothingToUndo,
                        format!("`{}`: no recent action on {inst} to undo", c.text),
                    )),
                }
            }
        }
        Command::Pause {
            target,
            duration,
            pin,
            force,
        } => {
            let until = now + duration.unwrap_or(policy.settings.default_pause).chrono();
            for (inst, _) in instances(state, &target) {
                if let Some(pin) = pin {
                    let b = effective_bounds(policy, state, inst, now);
                    if !force && (pin < b.floor || pin > b.ceiling) {
                        d.targets.push(suppressed(
                            inst,
                            &source,
                            if pin > b.ceiling {
                                Reason::AtCeiling { ceiling: b.ceiling }
                            } else {
                                Reason::AtFloor { floor: b.floor }
                            },
                            format!(
                                "`{}`: pin {pin} is outside {}..{}; add --force to override (audited)",
                                c.text, b.floor, b.ceiling
                            ),
                        ));
                        continue;
                    }
                }
                d.ops.push(StateOp::Pause {
                    target: inst.clone(),
                    pause: Pause {
                        until,
                        by: c.user.clone(),
                        pin,
                    },
                });
                d.notices.push(Notice {
                    source: source.clone(),
                    target: Some(inst.clone()),
                    text: match pin {
                        Some(n) => format!(
                            "{inst} pinned at {n} by {} until {}",
                            c.user,
                            fmt_time(until)
                        ),
                        None => format!("{inst} paused by {} until {}", c.user, fmt_time(until)),
                    },
                });
            }
        }
        Command::Resume { target } => {
            for (inst, ts) in instances(state, &target) {
                if active_pause(ts, now).is_some() {
                    d.ops.push(StateOp::Resume {
                        target: inst.clone(),
                    });
                    d.notices.push(Notice {
                        source: source.clone(),
                        target: Some(inst.clone()),
                        text: format!("{inst} resumed by {}", c.user),
                    });
                } else {
                    d.notices.push(Notice {
                        source: source.clone(),
                        target: Some(inst.clone()),
                        text: format!("{inst} was not paused"),
                    });
                }
            }
        }
        Command::LiftCap { budget } => {
            let in_force: Vec<&BudgetCap> = state
                .caps
                .iter()
                .filter(|cap| cap.budget == budget && cap.until > now)
                .collect();
            if in_force.is_empty() {
                d.notices.push(Notice {
                    source: source.clone(),
                    target: None,
                    text: format!("no cap of budget {budget} is in force"),
                });
                return;
            }
            d.ops.push(StateOp::LiftCap {
                budget: budget.clone(),
            });
            d.notices.push(Notice {
                source: source.clone(),
                target: None,
                text: format!("cap of budget {budget} lifted early by {}", c.user),
            });
            let mut lifted = state.clone();
            lifted.caps.retain(|cap| cap.budget != budget);
            for (inst, ts) in &state.targets {
                let before = effective_bounds(policy, state, inst, now);
                let after = effective_bounds(policy, &lifted, inst, now);
                if before == after {
                    continue;
                }
                let cur = capacity(ts);
                let to = Capacity {
                    desired: cur.desired.clamp(after.floor, after.ceiling),
                    min: after.floor,
                    max: after.ceiling,
                };
                if to != cur {
                    d.targets.push(TargetDecision {
                        target: inst.clone(),
                        source: source.clone(),
                        outcome: Outcome::Change {
                            from: cur,
                            to,
                            forced: false,
                        },
                        explanation: format!("cap of budget {budget} lifted: {cur} -> {to}"),
                    });
                }
            }
        }
    }
}

/// A forced override would be undone by the next schedule tick; it is pinned instead for
/// `settings.default_pause`, so it holds until it expires or an operator resumes the target.
fn pin_forced(
    policy: &Policy,
    decision: &TargetDecision,
    c: &CommandSignal,
    now: DateTime<Utc>,
    d: &mut Decision,
) {
    if let Outcome::Change {
        to, forced: true, ..
    } = &decision.outcome
    {
        let until = now + policy.settings.default_pause.chrono();
        d.ops.push(StateOp::Pause {
            target: decision.target.clone(),
            pause: Pause {
                until,
                by: c.user.clone(),
                pin: Some(to.desired),
            },
        });
        d.notices.push(Notice {
            source: decision.source.clone(),
            target: Some(decision.target.clone()),
            text: format!(
                "{} forced to {} by {}: pinned until {} (`/capstan resume {}` hands it back to automation)",
                decision.target,
                to.desired,
                c.user,
                fmt_time(until),
                decision.target
            ),
        });
    }
}

#[allow(clippy::too_many_arguments)]
fn manual_scale(
    policy: &Policy,
    target: &Target,
    inst: &str,
    ts: &TargetState,
    state: &State,
    to: ScaleTo,
    force: bool,
    c: &CommandSignal,
    source: &str,
    now: DateTime<Utc>,
) -> TargetDecision {
    let cur = capacity(ts);
    let b = effective_bounds(policy, state, inst, now);
    let wanted = match to {
        ScaleTo::Exactly(n) => n,
        ScaleTo::By(delta) => (cur.desired as i64 + delta).clamp(0, u32::MAX as i64) as u32,
        ScaleTo::Max => {
            if force {
                b.ceiling.max(target.ceiling)
            } else {
                b.ceiling
            }
        }
        ScaleTo::Min => b.floor,
    };
    let what = format!("`{}` by {}", c.text, c.user);
    if wanted == cur.desired {
        return suppressed(
            inst,
            source,
            Reason::AlreadyRight,
            format!("{what}: desired already {}", cur.desired),
        );
    }
    let would = Capacity {
        desired: wanted,
        min: if force { b.floor.min(wanted) } else { b.floor },
        max: if force {
            b.ceiling.max(wanted)
        } else {
            b.ceiling
        },
    };
    let change = wanted.abs_diff(cur.desired);
    if !force {
        if wanted > b.ceiling {
            return suppressed(
                inst,
                source,
                Reason::AtCeiling { ceiling: b.ceiling },
                format!(
                    "{what}: {wanted} is above the ceiling {} ({}); add --force to override (audited)",
                    b.ceiling,
                    b.why.join("; ")
                ),
            );
        }
        if wanted < b.floor {
            return suppressed(
                inst,
                source,
                Reason::AtFloor { floor: b.floor },
                format!(
                    "{what}: {wanted} is below the floor {} ({}); add --force to override (audited)",
                    b.floor,
                    b.why.join("; ")
                ),
            );
        }
        if change > target.max_step() {
            return suppressed(
                inst,
                source,
                Reason::NotAllowed {
                    why: format!("a change of {change} exceeds the max step {}", target.max_step()),
                },
                format!(
                    "{what}: a change of {change} exceeds the max step {}; scale in smaller steps or add --force",
                    target.max_step()
                ),
            );
        }
    }
    if change > policy.slack.confirm_above && !c.confirmed {
        return suppressed(
            inst,
            source,
            Reason::NeedsConfirmation { would },
            format!(
                "{what}: a change of {change} (more than {}) needs a confirmation: {cur} -> {would}",
                policy.slack.confirm_above
            ),
        );
    }
    if !force {
        return finish(
            policy,
            target,
            inst,
            ts,
            source,
            cur,
            would,
            now,
            what,
            Vec::new(),
        );
    }
    if policy.settings.dry_run || target.dry_run {
        return suppressed(
            inst,
            source,
            Reason::DryRun { would },
            format!("{what}: dry-run, would force {cur} -> {would}"),
        );
    }
    TargetDecision {
        target: inst.to_string(),
        source: source.to_string(),
        outcome: Outcome::Change {
            from: cur,
            to: would,
            forced: true,
        },
        explanation: format!(
            "{what}: FORCED override past guardrails (cooldowns, pauses, bounds {}..{}, max step {}, rate limit): {cur} -> {would}",
            b.floor,
            b.ceiling,
            target.max_step()
        ),
    }
}

/// One line describing a target instance now: capacity, bounds, pause, cooldowns, last action.
pub fn status_line(
    policy: &Policy,
    state: &State,
    inst: &str,
    ts: &TargetState,
    now: DateTime<Utc>,
) -> String {
    let b = effective_bounds(policy, state, inst, now);
    let mut line = format!(
        "{inst}: desired {} running {} (min {}, max {}); bounds now {}..{} [{}]",
        ts.desired,
        ts.running,
        ts.min,
        ts.max,
        b.floor,
        b.ceiling,
        b.why.join("; ")
    );
    if let Some(p) = active_pause(ts, now) {
        match p.pin {
            Some(n) => line.push_str(&format!(
                "; pinned at {n} by {} until {}",
                p.by,
                fmt_time(p.until)
            )),
            None => line.push_str(&format!("; paused by {} until {}", p.by, fmt_time(p.until))),
        }
    }
    if let Some(t) = policy.targets.get(&ts.target) {
        for dir in [Direction::Out, Direction::In] {
            if let Some(last) = ts.last_in(dir) {
                let until = last.at + cooldown_of(policy, t, last);
                if until > now {
                    let name = if dir == Direction::Out {
                        "scale-out"
                    } else {
                        "scale-in"
                    };
                    line.push_str(&format!("; {name} cooldown until {}", fmt_time(until)));
                }
            }
        }
    }
    if let Some(last) = ts.last_action() {
        line.push_str(&format!(
            "; last action {} -> {} by {} at {}",
            last.from,
            last.to,
            last.source,
            fmt_time(last.at)
        ));
    }
    line
}
