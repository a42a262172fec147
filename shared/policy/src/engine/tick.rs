//! Schedule ticks: level-triggered, occurrences applied once, drift corrected.

use super::*;

pub(super) fn on_tick(
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
        let subject = Subject { target, inst, ts };
        let decision = tick_target(policy, tick, subject, state, now, d);
        d.targets.push(decision);
    }
    merge_missed(d);
}

/// One notice per missed occurrence, naming every target it missed, rather than one per
/// target: a schedule over 150 targets that missed its 02:00 says so once.
fn merge_missed(d: &mut Decision) {
    let mut merged: Vec<(Notice, Vec<String>)> = Vec::new();
    for n in d.notices.drain(..) {
        match merged
            .iter_mut()
            .find(|(m, _)| m.source == n.source && m.text == n.text)
        {
            Some((_, targets)) => targets.extend(n.target),
            None => {
                let targets = n.target.iter().cloned().collect();
                merged.push((n, targets));
            }
        }
    }
    d.notices = merged
        .into_iter()
        .map(|(mut n, targets)| {
            if targets.len() > 1 {
                const NAMED: usize = 10;
                let mut list = targets[..targets.len().min(NAMED)].join(", ");
                if targets.len() > NAMED {
                    list.push_str(&format!(" and {} more", targets.len() - NAMED));
                }
                n.text = format!("{} ({} targets: {list})", n.text, targets.len());
                n.target = None;
            }
            n
        })
        .collect();
}

fn tick_target(
    policy: &Policy,
    tick: &TickSignal,
    subject: Subject<'_>,
    state: &State,
    now: DateTime<Utc>,
    d: &mut Decision,
) -> TargetDecision {
    let Subject { target, inst, ts } = subject;
    let cur = capacity(ts);
    let bounds = effective_bounds(policy, state, inst, now);
    let mut desired = cur.desired;
    let mut source = "schedule".to_string();
    let mut notes: Vec<String> = Vec::new();
    let mut stepped = false;
    // An event that held an occurrence's scale-in back: with nothing else to do, the target
    // is held, not "already right".
    let mut held: Option<String> = None;
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
            // No mark yet: the first tick that sees this schedule on this target (a new
            // deployment, a new schedule or target). Occurrences before it were never
            // Capstan's to apply, so they are not "missed"; it marks `now` (or the latest
            // occurrence) so that a later tick knows what it has seen.
            let seen = ts.occurrences.get(sname).copied();
            let first = seen.is_none();
            let after = seen
                .unwrap_or(earlier(now, FIRST_TICK_LOOKBACK))
                .max(earlier(now, FIRST_TICK_LOOKBACK));
            let occ = schedule::occurrences(policy, s, after, now);
            let Some(latest) = occ.last().copied().or(first.then_some(now)) else {
                continue;
            };
            d.ops.push(StateOp::MarkOccurrence {
                target: inst.to_string(),
                schedule: sname.clone(),
                at: latest,
            });
            let mut fresh = None;
            for o in occ {
                if now - o > catch_up && first {
                    // Before Capstan's first look: not missed, not applied.
                } else if now - o > catch_up {
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
                held = Some(event.clone());
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
        if desired > bounds.floor && desired <= bounds.floor.saturating_add(*step) {
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
            cur.desired.saturating_add(step)
        } else {
            cur.desired.saturating_sub(step)
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
        let mut text = match &held {
            Some(_) => format!("{what}: held, {cur}"),
            None => format!("{what}: already right, {cur}"),
        };
        if !notes.is_empty() {
            text.push_str(&format!(" ({})", notes.join("; ")));
        }
        let reason = match held {
            Some(event) => Reason::EventHold { event },
            None => Reason::AlreadyRight,
        };
        return suppressed(inst, &source, reason, text);
    }
    let change = Proposal {
        source: &source,
        cur,
        to,
        what,
        notes,
    };
    finish(policy, now, subject, change)
}
