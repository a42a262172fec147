//! Alarm rules: matching, actions and steps, cooldowns, guards, bounds and limits.

use super::*;

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

/// Why an action could not be applied to the alarm's datapoint.
enum NoProposal {
    /// The action needs the datapoint and the alarm carries none.
    Missing,
    /// The datapoint cannot size anything (negative, not finite, or a size that is not a
    /// number); the text says why.
    Bad(String),
}

/// Applies `action` to capacity `base`. Saturates: a datapoint or percent near the limits of
/// its type gives at most `u32::MAX` (clamped into the bounds later), never a panic or a wrap.
fn propose(action: &Action, base: u32, value: Option<f64>) -> Result<u32, NoProposal> {
    Ok(match action {
        Action::Add(n) => base.saturating_add(*n),
        Action::Remove(n) => base.saturating_sub(*n),
        Action::Percent(p) => {
            // `as` saturates.
            let magnitude = (f64::from(base) * f64::from(p.unsigned_abs()) / 100.0).floor() as u32;
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
            let v = value.ok_or(NoProposal::Missing)?;
            if !v.is_finite() {
                return Err(NoProposal::Bad(format!(
                    "the datapoint {v} is not a finite number"
                )));
            }
            if v < 0.0 {
                return Err(NoProposal::Bad(format!(
                    "the datapoint {v} is negative; a size cannot come from it"
                )));
            }
            let want = (v / per_unit * (1.0 + buffer_percent / 100.0)).ceil();
            if want.is_nan() {
                return Err(NoProposal::Bad(format!(
                    "{v} / {per_unit} x (1 + {buffer_percent} / 100) is not a number"
                )));
            }
            // `as` saturates: a huge (even infinite) size is u32::MAX, a negative one 0.
            want as u32
        }
        Action::Notify => base,
    })
}

pub(super) fn on_alarm(
    policy: &Policy,
    a: &AlarmSignal,
    state: &State,
    now: DateTime<Utc>,
    d: &mut Decision,
) {
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

    // A notify-only rule's text is its notice. An acting rule's runbook text rides on the
    // notice of what came of its target (done, held, or failed: see `runbook_for`), so it
    // never reads as if the action happened when it did not; only a rule that does not act
    // (a more specific one decides for its target) tells its text here, saying so.
    let held = a
        .suppressed
        .as_ref()
        .map(|s| format!(" ({s}: nothing done)"))
        .unwrap_or_default();
    for (rname, rule) in &matching {
        let head = format!("alarm {} is {}", a.name, a.state);
        let text = if rule.is_notify_only() {
            let held = if rule.honour_suppression {
                &held[..]
            } else {
                ""
            };
            match &rule.runbook {
                Some(text) => format!("{head}{held}: {text}"),
                None => format!("{head}{held}: no automatic action"),
            }
        } else {
            let Some(text) = &rule.runbook else { continue };
            match rule.target.as_deref().and_then(|t| chosen.get(t)) {
                Some((c, _)) if c == rname => continue,
                Some((c, _)) => format!(
                    "{head}: {text} (rule {rname} did not act: rule {c} decides for target {})",
                    rule.target.as_deref().unwrap_or_default()
                ),
                None => format!("{head}: {text} (rule {rname} names no target)"),
            }
        };
        d.notices.push(Notice {
            source: format!("rule:{rname}"),
            target: rule.target.clone(),
            text,
        });
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
            let subject = Subject { target, inst, ts };
            d.targets
                .push(decide_rule(policy, subject, rname, rule, a, state, now));
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

fn decide_rule(
    policy: &Policy,
    subject: Subject<'_>,
    rname: &str,
    rule: &AlarmRule,
    a: &AlarmSignal,
    state: &State,
    now: DateTime<Utc>,
) -> TargetDecision {
    let Subject { target, inst, ts } = subject;
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

    if let Some(held) = a.suppressed.as_ref().filter(|_| rule.honour_suppression) {
        return stop(
            Reason::ActionsSuppressed { by: held.by },
            format!("{held}; nothing done (the rule honours CloudWatch's suppression)"),
        );
    }

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
        if !v.is_finite() {
            return stop(
                Reason::BadDatapoint,
                format!("stepped rule: the datapoint {v} is not a finite number, so no step can be chosen; nothing done"),
            );
        }
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
    let proposal = match propose(&action, cur.desired, a.value) {
        Ok(p) => p,
        Err(NoProposal::Missing) => {
            return stop(
                Reason::NoDatapoint,
                format!("{what} needs the alarm's datapoint and the alarm carries none"),
            )
        }
        Err(NoProposal::Bad(why)) => {
            return stop(Reason::BadDatapoint, format!("{what}: {why}; nothing done"))
        }
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
                let until = later(last.at, cooldown_of(policy, target, last));
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
                let until = later(last.at, cooldown_of(policy, target, last));
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
                    let until = guard.after(last.at);
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
            cur.desired.saturating_add(max_step)
        } else {
            cur.desired.saturating_sub(max_step)
        }
        .clamp(bounds.floor, bounds.ceiling);
        notes.push(format!("limited to the max step {max_step}"));
    }
    let to = Capacity {
        desired: new,
        min: bounds.floor,
        max: bounds.ceiling,
    };
    let change = Proposal {
        source: &source,
        cur,
        to,
        what: format!("{why_alarm}, rule {rname}: {what}"),
        notes,
    };
    finish(policy, now, subject, change)
}
