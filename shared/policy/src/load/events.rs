//! The checks of `[events.NAME]`, shared with the engine for events added at run time.

use super::limits::in_days;
use super::path::{Path, Spans};
use super::targets::unknown_target;
use super::{strs, Loader, Names};
use crate::model::{Amount, Event, Policy, Target, MAX_COUNT, MAX_DURATION};

/// One problem with an event: which field, what is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventProblem {
    /// The field, as a policy-file path (e.g. `events.launch.targets.api.ceiling`).
    pub path: String,
    /// What is wrong, naming the field.
    pub message: String,
    /// How to fix it.
    pub hint: String,
    /// The same path, for spans.
    at: Path,
    /// True when the problem is the key itself (an unknown target's name), not its value.
    on_key: bool,
}

/// The problems of event `name` against `policy`'s targets: the checks [`load`] applies to
/// each `[events.NAME]`, also used by the engine on events added at run time, so that both
/// accept exactly the same events. None: the event is sound.
///
/// The end is after the start; `release_step` is not 0; the event names at least one target,
/// each known, each uplift raises the floor and/or the ceiling; a ceiling above a target's hard
/// ceiling needs `exceed_ceiling`; the raised floor is not above the ceiling during the event.
pub fn event_problems(policy: &Policy, name: &str, event: &Event) -> Vec<EventProblem> {
    let known: Vec<&str> = policy.targets.keys().map(String::as_str).collect();
    event_problems_at(policy, &known, &Path::of(&["events", name]), event)
}

/// [`event_problems`] for an event at `base`, with the target names `known` (in a file, every
/// declared target, loaded or not, so that a target with a bad value is not also "unknown").
pub(super) fn event_problems_at(
    policy: &Policy,
    known: &[&str],
    base: &Path,
    e: &Event,
) -> Vec<EventProblem> {
    let mut out = Vec::new();
    let mut problem = |at: Path, on_key: bool, message: String, hint: &str| {
        out.push(EventProblem {
            path: at.to_string(),
            message,
            hint: hint.to_string(),
            at,
            on_key,
        })
    };
    if e.end.0 <= e.start.0 {
        problem(
            base.key("end"),
            false,
            format!(
                "`{base}.end` ({}) is not after its start ({})",
                e.end, e.start
            ),
            "set the end after the start",
        );
    }
    if e.release_step == Some(0) {
        problem(
            base.key("release_step"),
            false,
            format!("`{base}.release_step` is 0: the uplifted floor would never come down"),
            "set at least 1, or leave it out (default 1)",
        );
    }
    if e.targets.is_empty() {
        problem(
            base.clone(),
            false,
            format!("event `{base}` names no targets"),
            "add `[events.NAME.targets]` with e.g. `api = { floor = \"+50%\" }`",
        );
    }
    for (tname, up) in &e.targets {
        let tp = base.key("targets").key(tname);
        if let Some((message, hint)) = unknown_target(known, &tp, tname) {
            problem(tp, true, message, &hint);
            continue;
        }
        if up.floor.is_none() && up.ceiling.is_none() {
            problem(
                tp.clone(),
                false,
                format!("`{tp}` raises neither `floor` nor `ceiling`"),
                "add `floor = \"+N\"` and/or `ceiling = \"+N%\"`",
            );
        }
        for (field, amount) in [("floor", up.floor), ("ceiling", up.ceiling)] {
            if let Some(why) = amount.and_then(Amount::out_of_bounds) {
                problem(
                    tp.key(field),
                    false,
                    format!("`{tp}.{field}`: {why}"),
                    "write a count of at most 100000, a change of at most 100000 either way, or a percent of at most 1000% either way",
                );
            }
        }
        let Some(t) = policy.targets.get(tname) else {
            continue;
        };
        // The uplift only raises: the ceiling in force is never below the target's own.
        let ceiling = up
            .ceiling
            .map_or(t.ceiling, |a| a.apply(t.ceiling).max(t.ceiling));
        if up.ceiling.is_some() && ceiling > t.ceiling && !e.exceed_ceiling {
            problem(
                tp.key("ceiling"),
                false,
                format!(
                    "`{tp}.ceiling` raises the ceiling to {ceiling}, above target `{tname}`'s hard ceiling ({})",
                    t.ceiling
                ),
                "set `exceed_ceiling = true` on the event to allow it (it is audited), or keep the uplift within the target's ceiling",
            );
        }
        if let Some(f) = up.floor {
            // A relative uplift applies to the floor in force, which a period may hold above
            // the target's own: the raised floor is checked from each (without
            // `exceed_ceiling` the engine stops it at the hard ceiling, so it never lifts the
            // ceiling past it; this reports the uplift that would be stopped).
            let limit = if e.exceed_ceiling {
                ceiling
            } else {
                ceiling.min(t.ceiling)
            };
            let worst = floor_bases(policy, tname, t)
                .into_iter()
                .map(|(base, period)| (f.apply(base), base, period))
                .filter(|(floor, _, _)| *floor > limit)
                .max_by_key(|(floor, _, period)| (*floor, period.is_none()));
            match worst {
                Some((floor, _, None)) => problem(
                    tp.key("floor"),
                    false,
                    format!("`{tp}.floor` raises the floor to {floor}, above the ceiling ({limit}) during the event"),
                    "raise the ceiling in the uplift too (with `exceed_ceiling = true` above the hard ceiling) or lower the floor",
                ),
                Some((floor, base, Some(period))) => problem(
                    tp.key("floor"),
                    false,
                    format!("`{tp}.floor` raises the floor to {floor} from the floor {base} of period `schedules.{period}`, above the ceiling ({limit}) during the event"),
                    "a relative uplift (`+N`, `+N%`) applies to the floor in force: write an absolute floor, lower the uplift, or raise the ceiling in the uplift too (with `exceed_ceiling = true` above the hard ceiling)",
                ),
                None => {}
            }
        }
    }
    if let Some(lead) = e.lead.filter(|l| *l > MAX_DURATION) {
        problem(
            base.key("lead"),
            false,
            format!("`{base}.lead` is {}: longer than 366 days", in_days(lead)),
            "write a lead of at most 366 days",
        );
    }
    if let Some(step) = e.release_step.filter(|s| *s > MAX_COUNT) {
        problem(
            base.key("release_step"),
            false,
            format!("`{base}.release_step` is {step}: more than {MAX_COUNT}"),
            "write a step of at most 100000",
        );
    }
    out
}

/// The floors an event's uplift on target `name` can apply to: the target's own, and the
/// floor of each period on it (with the period's name).
pub(super) fn floor_bases<'p>(
    policy: &'p Policy,
    name: &str,
    t: &Target,
) -> Vec<(u32, Option<&'p str>)> {
    let mut bases = vec![(t.floor, None)];
    for (sname, s) in &policy.schedules {
        if s.is_occurrence() || !s.targets.iter().any(|x| x == name) {
            continue;
        }
        if let Some(floor) = s.floor {
            bases.push((floor, Some(sname.as_str())));
        }
    }
    bases
}

impl Loader<'_> {
    pub(super) fn check_events(&mut self, policy: &Policy, names: &Names, spans: &Spans<'_>) {
        let known = strs(&names.targets);
        for (name, e) in &policy.events {
            let base = Path::of(&["events", name]);
            self.report(spans, event_problems_at(policy, &known, &base, e));
        }
    }

    pub(super) fn report(&mut self, spans: &Spans<'_>, problems: Vec<EventProblem>) {
        for p in problems {
            if p.on_key {
                self.at_key(spans, &p.at, p.message, &p.hint);
            } else {
                self.at(spans, &p.at, p.message, &p.hint);
            }
        }
    }
}
