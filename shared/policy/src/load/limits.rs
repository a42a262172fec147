//! Durations and amounts within what a policy may write.

use super::path::{Path, Spans};
use super::Loader;
use crate::file::PolicyFile;
use crate::model::{Action, BudgetAction, Dur, MAX_COUNT, MAX_DURATION, MAX_PERCENT};

/// A long duration in days: `367 days`, or `400 days 6h` when not whole days.
pub(super) fn in_days(d: Dur) -> String {
    const DAY: u64 = 24 * 60 * 60;
    let secs = d.0.as_secs();
    let rest = Dur::from_secs(secs % DAY);
    if rest.0.is_zero() && d.0.subsec_nanos() == 0 {
        format!("{} days", secs / DAY)
    } else {
        format!("{} days {rest}", secs / DAY)
    }
}

impl Loader<'_> {
    /// Durations and amounts within what a policy may write ([`MAX_DURATION`], [`MAX_COUNT`],
    /// [`MAX_PERCENT`]), so that no number in a valid policy comes near the limits of the
    /// arithmetic. Events are bounded by [`event_problems`].
    pub(super) fn check_limits(&mut self, file: &PolicyFile, spans: &Spans<'_>) {
        let policy = &file.policy;
        let mut durations: Vec<(Path, Dur)> = vec![
            (
                Path::of(&["settings", "catch_up"]),
                policy.settings.catch_up,
            ),
            (
                Path::of(&["settings", "default_pause"]),
                policy.settings.default_pause,
            ),
        ];
        let mut counts: Vec<(Path, u32)> = vec![(
            Path::of(&["slack", "confirm_above"]),
            policy.slack.confirm_above,
        )];
        let mut actions: Vec<(Path, &Action)> = Vec::new();
        for (name, t) in &policy.targets {
            let base = Path::of(&["targets", name]);
            for (field, v) in [
                ("floor", Some(t.floor)),
                ("ceiling", Some(t.ceiling)),
                ("max_step", t.max_step),
                ("max_actions_per_hour", Some(t.max_actions_per_hour)),
            ] {
                if let Some(v) = v {
                    counts.push((base.key(field), v));
                }
            }
            let cooldown = base.key("cooldown");
            durations.push((cooldown.key("scale_out"), t.cooldown.scale_out));
            durations.push((cooldown.key("scale_in"), t.cooldown.scale_in));
            if let Some(g) = t.cooldown.scale_in_guard {
                durations.push((cooldown.key("scale_in_guard"), g));
            }
        }
        for (name, r) in &policy.rules {
            let base = Path::of(&["rules", name]);
            for (field, v) in [
                ("cooldown", r.cooldown),
                ("scale_in_guard", r.scale_in_guard),
            ] {
                if let Some(v) = v {
                    durations.push((base.key(field), v));
                }
            }
            if let Some(a) = &r.action {
                actions.push((base.key("action"), a));
            }
            for (i, step) in r.steps.iter().enumerate() {
                let sp = base.key("steps").idx(i);
                actions.push((sp.key("action"), &step.action));
                for (field, v) in [("lower", step.lower), ("upper", step.upper)] {
                    if let Some(v) = v.filter(|v| !v.is_finite()) {
                        let p = sp.key(field);
                        self.at(
                            spans,
                            &p,
                            format!("`{p}` is {v}: not a finite number"),
                            "write a number, or leave the bound out for no bound",
                        );
                    }
                }
            }
        }
        for (name, b) in &policy.budgets {
            let base = Path::of(&["budgets", name]);
            if b.threshold.is_finite() && b.threshold > MAX_PERCENT as f64 {
                let p = base.key("threshold");
                self.at(
                    spans,
                    &p,
                    format!("`{p}` is {}: more than {MAX_PERCENT} percent", b.threshold),
                    "write the percent of the budgeted amount, at most 1000",
                );
            }
            if let BudgetAction::LowerCeiling(a) = b.action {
                if let Some(why) = a.out_of_bounds() {
                    let p = base.key("action");
                    self.at(
                        spans,
                        &p,
                        format!("`{p}`: lower_ceiling {why}"),
                        "write a count of at most 100000, `-N` with N at most 100000, or `-N%` with N at most 1000",
                    );
                }
            }
        }
        for (test, i) in file.tests.iter().zip(self.test_index.clone()) {
            let base = Path::of(&["tests"]).idx(i);
            for (target, st) in &test.state {
                let sp = base.key("state").key(target);
                if let Some(d) = st.paused_for {
                    durations.push((sp.key("paused_for"), d));
                }
                for (j, h) in st.history.iter().enumerate() {
                    durations.push((sp.key("history").idx(j).key("ago"), h.ago));
                }
            }
        }
        for (p, d) in durations {
            if d > MAX_DURATION {
                self.at(
                    spans,
                    &p,
                    format!("`{p}` is {}: longer than 366 days", in_days(d)),
                    "write a duration of at most 366 days, e.g. `\"30d\"`",
                );
            }
        }
        for (p, a) in actions {
            let (field, v, percent) = match a {
                Action::Add(n) => ("add", i64::from(*n), false),
                Action::Remove(n) => ("remove", i64::from(*n), false),
                Action::Set(n) => ("set", i64::from(*n), false),
                Action::Percent(n) => ("percent", i64::from(*n), true),
                Action::FromMetric { buffer_percent, .. } => {
                    if buffer_percent.is_finite() && *buffer_percent > MAX_PERCENT as f64 {
                        let p = p.key("from_metric").key("buffer_percent");
                        self.at(
                            spans,
                            &p,
                            format!("`{p}` is {buffer_percent}: more than {MAX_PERCENT} percent"),
                            "write the head-room in percent, at most 1000",
                        );
                    }
                    continue;
                }
                Action::Notify => continue,
            };
            let p = p.key(field);
            if percent && v.unsigned_abs() > MAX_PERCENT.unsigned_abs() {
                self.at(
                    spans,
                    &p,
                    format!("`{p}` is {v}: more than {MAX_PERCENT} percent either way"),
                    "write a percent of at most 1000 (1000 is eleven times) and at least -1000",
                );
            } else if !percent && v > i64::from(MAX_COUNT) {
                self.at(
                    spans,
                    &p,
                    format!("`{p}` is {v}: more than {MAX_COUNT}"),
                    "write a count of at most 100000",
                );
            }
        }
        for (p, v) in counts {
            if v > MAX_COUNT {
                self.at(
                    spans,
                    &p,
                    format!("`{p}` is {v}: more than {MAX_COUNT}"),
                    "write a count of at most 100000",
                );
            }
        }
    }
}
