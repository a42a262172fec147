//! Effective bounds: hard bounds, then periods, events and budget caps.

use super::*;

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
        let begin = e.lead.map_or(e.start.0, |l| l.before(e.start.0));
        let mut raised_floor = up.floor.map(|a| a.apply(b.floor)).unwrap_or(b.floor);
        let mut raised_ceiling = up.ceiling.map(|a| a.apply(b.ceiling)).unwrap_or(b.ceiling);
        if !e.exceed_ceiling {
            // Without the override neither uplift passes the hard ceiling (or a ceiling already
            // above it): a raised ceiling stops there, and so does a raised floor, which would
            // otherwise lift the ceiling with it (a relative floor uplift on a period's higher
            // floor, `+50%` of 16 on a ceiling of 20).
            let limit = t.ceiling.max(b.ceiling);
            raised_ceiling = raised_ceiling.min(limit);
            raised_floor = raised_floor.min(limit);
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
            let steps_done = ((now - e.end.0).num_seconds() / every.num_seconds().max(1))
                .max(0)
                .saturating_add(1);
            let unclamped =
                i64::from(raised_floor).saturating_sub(steps_done.saturating_mul(i64::from(step)));
            let released = unclamped.clamp(0, i64::from(u32::MAX)) as u32;
            if released > b.floor {
                b.floor = released;
                b.ceiling = b.ceiling.max(released);
                b.release = Some((ename.clone(), step));
                b.why.push(format!(
                    "event {ename} ended {}: releasing, floor {released} (down {step} every {})",
                    fmt_time(e.end.0),
                    t.cooldown.scale_in
                ));
            } else if unclamped.saturating_add(i64::from(step)) > i64::from(b.floor) {
                // The last step: the floor is the schedule's again, and for one more
                // cooldown desired within a step above it follows it down, like every
                // step before.
                b.release = Some((ename.clone(), step));
                b.why.push(format!(
                    "event {ename} ended {}: last release step, floor back to {}",
                    fmt_time(e.end.0),
                    b.floor
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
            if !rule.covers_target(name) {
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

/// The moment from which `event` can no longer change any target's bounds: its end when it
/// raises no floor, else one scale-in cooldown after the instant its last release step (see
/// [`effective_bounds`]) must have brought its uplifted floor down to zero. The uplifted floor is bounded from the
/// highest floor it could apply to (the target's bounds, its periods', and the uplift of every
/// event on it in the policy, in `state` and `event` itself), so the answer is never early; an
/// event may stop mattering sooner, when the floor beneath it is higher.
///
/// The engine refuses to add an event already released by `now`; the functions may drop stored
/// run-time events once released.
pub fn event_released_by(policy: &Policy, state: &State, event: &Event) -> DateTime<Utc> {
    // The largest value an amount gives for any base in 0..=base (amounts either grow with
    // their base or stay at zero).
    let highest = |a: Amount, base: u32| a.apply(0).max(a.apply(base));
    let step = i64::from(event.release_step.unwrap_or(1).max(1));
    let mut last = event.end.0;
    for (name, up) in &event.targets {
        let (Some(t), Some(floor)) = (policy.targets.get(name), up.floor) else {
            continue;
        };
        let mut base = t.floor;
        for s in policy.schedules.values() {
            if !s.is_occurrence() && s.targets.iter().any(|x| x == name) {
                base = base.max(s.floor.unwrap_or(0));
            }
        }
        let all = policy.events.values().chain(state.events.values());
        for other in all.chain(std::iter::once(event)) {
            if let Some(f) = other.targets.get(name).and_then(|u| u.floor) {
                base = base.max(highest(f, base));
            }
        }
        let raised = i64::from(highest(floor, base));
        // Step k (k = 1, 2, ...) lands at end + (k - 1) * cooldown; after `steps` steps the
        // released floor is at most zero, and that last step matters for one more cooldown
        // (desired follows it down).
        let steps = (raised + step - 1) / step;
        let every = t.cooldown.scale_in.chrono().max(Duration::seconds(1));
        let until = i32::try_from(steps.max(0))
            .ok()
            .and_then(|n| every.checked_mul(n))
            .and_then(|d| event.end.0.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        last = last.max(until);
    }
    last
}
