//! The checks of each `[[tests]]`: the targets, outcomes, budget rules, events and schedules
//! it names.

use super::events::event_problems_at;
use super::hints::suggest;
use super::path::{Path, Spans};
use super::{strs, Loader, Names};
use crate::file::PolicyFile;
use crate::signal::Signal;

impl Loader<'_> {
    pub(super) fn check_tests(&mut self, file: &PolicyFile, names: &Names, spans: &Spans<'_>) {
        let policy = &file.policy;
        const OUTCOMES: [&str; 5] = ["change", "suppressed", "unchanged", "notify", "denied"];
        let index = std::mem::take(&mut self.test_index);
        for (test, i) in file.tests.iter().zip(index) {
            let base = Path::of(&["tests"]).idx(i);
            let known = |n: &str| {
                let n = n.split_once(':').map_or(n, |(t, _)| t);
                names.targets.iter().any(|t| t == n)
            };
            for key in test.state.keys() {
                if !known(key) {
                    let p = base.key("state").key(key);
                    self.at_key(
                        spans,
                        &p,
                        format!("`{p}`: unknown target `{key}`"),
                        &suggest(key, &strs(&names.targets), "targets defined"),
                    );
                }
            }
            if test.expect.targets.is_empty() {
                self.at(
                    spans,
                    &base.key("expect"),
                    format!(
                        "test `{}` expects nothing, so it could never fail",
                        test.name
                    ),
                    "add `expect.TARGET = { outcome = \"...\" }`",
                );
            }
            for (key, e) in &test.expect.targets {
                let p = base.key("expect").key(key);
                if key != "*" && key != "notify" && !known(key) {
                    let mut allowed = strs(&names.targets);
                    allowed.extend(["*", "notify"]);
                    self.at_key(
                        spans,
                        &p,
                        format!("`{p}`: unknown target `{key}`"),
                        &suggest(key, &allowed, "allowed keys"),
                    );
                }
                if let Some(o) = &e.outcome {
                    if !OUTCOMES.contains(&o.as_str()) {
                        let op = p.key("outcome");
                        self.at(
                            spans,
                            &op,
                            format!("`{op}`: unknown outcome `{o}`"),
                            &suggest(o, &OUTCOMES, "outcomes"),
                        );
                    }
                }
            }
            for (j, cap) in test.caps.iter().enumerate() {
                if !names.budgets.contains(&cap.rule) {
                    let p = base.key("caps").idx(j).key("rule");
                    self.at(
                        spans,
                        &p,
                        format!("`{p}` names unknown budget rule `{}`", cap.rule),
                        &suggest(&cap.rule, &strs(&names.budgets), "budget rules defined"),
                    );
                }
            }
            let known = strs(&names.targets);
            for (name, e) in &test.events {
                let p = base.key("events").key(name);
                if policy.events.contains_key(name) {
                    self.at_key(
                        spans,
                        &p,
                        format!("`{p}`: the policy already defines an event `{name}`"),
                        "give the run-time event another name (a run-time event may not shadow one of the policy's)",
                    );
                }
                self.report(spans, event_problems_at(policy, &known, &p, e));
            }
            if let Signal::Tick(tick) = &test.signal {
                if let Some(s) = &tick.schedule {
                    if !names.schedules.contains(s) {
                        let p = base.key("signal").key("tick").key("schedule");
                        self.at(
                            spans,
                            &p,
                            format!("`{p}` names unknown schedule `{s}`"),
                            &suggest(s, &strs(&names.schedules), "schedules defined"),
                        );
                    }
                }
            }
        }
    }
}
