//! The checks of `[rules.NAME]`: the alarm, the action or steps, the target.

use super::path::{Path, Spans};
use super::{Loader, Names};
use crate::model::{Action, Policy};

/// A step's range in words.
pub(super) fn step_range(lower: Option<f64>, upper: Option<f64>) -> String {
    match (lower, upper) {
        (Some(l), Some(u)) => format!("{l} <= value < {u}"),
        (Some(l), None) => format!("value >= {l}"),
        (None, Some(u)) => format!("value < {u}"),
        (None, None) => "any value".into(),
    }
}

impl Loader<'_> {
    fn check_action(&mut self, spans: &Spans<'_>, path: &Path, action: &Action) {
        if let Action::FromMetric {
            per_unit,
            buffer_percent,
        } = action
        {
            let base = path.key("from_metric");
            if !(*per_unit > 0.0 && per_unit.is_finite()) {
                self.at(
                    spans,
                    &base.key("per_unit"),
                    format!("`{base}.per_unit` is {per_unit}: it must be above 0"),
                    "write how much of the metric one unit of capacity handles, e.g. `per_unit = 500`",
                );
            }
            if !(*buffer_percent >= 0.0 && buffer_percent.is_finite()) {
                self.at(
                    spans,
                    &base.key("buffer_percent"),
                    format!("`{base}.buffer_percent` is {buffer_percent}: it must not be negative"),
                    "write the head-room in percent, e.g. `buffer_percent = 20`, or leave it out",
                );
            }
        }
    }

    pub(super) fn check_rules(&mut self, policy: &Policy, names: &Names, spans: &Spans<'_>) {
        for (name, rule) in &policy.rules {
            let base = Path::of(&["rules", name]);
            let explained = |f: &str| self.already_explained(&base.key(f));
            let (action_explained, target_explained) = (
                explained("action") || explained("steps"),
                explained("target"),
            );
            if rule.alarm.trim().is_empty() {
                self.at(
                    spans,
                    &base.key("alarm"),
                    format!("`{base}.alarm` is empty"),
                    "write the alarm's name, or a glob such as `api-*`",
                );
            } else if rule.is_glob() {
                if let Err(e) = glob::Pattern::new(&rule.alarm) {
                    self.at(
                        spans,
                        &base.key("alarm"),
                        format!(
                            "`{base}.alarm`: `{}` is not a valid glob ({})",
                            rule.alarm, e.msg
                        ),
                        "use `*` for any text, `?` for one character and `[ab]` for one of a set",
                    );
                }
            }
            if rule.action.is_none() && rule.steps.is_empty() {
                if action_explained {
                    // The action was reported already (an unknown kind, a typo).
                } else {
                    self.at(
                        spans,
                        &base,
                        format!("rule `{base}` has neither `action` nor `steps`"),
                        "add `action = { add = 2 }` (or `action = \"notify\"`), or `steps = [...]`",
                    );
                }
            } else if !rule.is_notify_only() && rule.target.is_none() && !target_explained {
                self.at(
                    spans,
                    &base,
                    format!("rule `{base}` changes capacity but names no `target`"),
                    "add `target = \"...\"`; only notify rules may leave it out",
                );
            }
            if let Some(target) = &rule.target {
                self.known_target(spans, names, &base.key("target"), target, false);
            }
            if let Some(action) = &rule.action {
                self.check_action(spans, &base.key("action"), action);
            }
            for (i, step) in rule.steps.iter().enumerate() {
                let sp = base.key("steps").idx(i);
                self.check_action(spans, &sp.key("action"), &step.action);
                if let (Some(l), Some(u)) = (step.lower, step.upper) {
                    if l >= u {
                        self.at(
                            spans,
                            &sp,
                            format!("`{sp}`: `lower` ({l}) is not below `upper` ({u}), so the step never applies"),
                            "a step applies when lower <= value < upper",
                        );
                        continue;
                    }
                }
                for (j, other) in rule.steps.iter().enumerate().take(i) {
                    let lo = step
                        .lower
                        .unwrap_or(f64::NEG_INFINITY)
                        .max(other.lower.unwrap_or(f64::NEG_INFINITY));
                    let hi = step
                        .upper
                        .unwrap_or(f64::INFINITY)
                        .min(other.upper.unwrap_or(f64::INFINITY));
                    if lo < hi {
                        self.at(
                            spans,
                            &sp,
                            format!(
                                "`{sp}` ({}) overlaps `{}` ({})",
                                step_range(step.lower, step.upper),
                                base.key("steps").idx(j),
                                step_range(other.lower, other.upper)
                            ),
                            "steps include their `lower` and exclude their `upper`: start each step where the previous one ends",
                        );
                    }
                }
            }
        }
    }
}
