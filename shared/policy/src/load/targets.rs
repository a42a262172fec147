//! The checks of `[targets.NAME]`, and of names that refer to a target.

use super::hints::suggest;
use super::path::{Path, Spans};
use super::{strs, Loader, Names};
use crate::model::{external_id_problem, region_problem, role_arn_problem};
use crate::model::{Policy, Target, TargetKind};

/// The message and hint when `name`, at `path`, is not one of the `known` targets.
pub(super) fn unknown_target(known: &[&str], path: &Path, name: &str) -> Option<(String, String)> {
    if known.contains(&name) {
        return None;
    }
    Some((
        format!("`{path}` names unknown target `{name}`"),
        suggest(name, known, "targets defined"),
    ))
}

impl Loader<'_> {
    /// Reports `name` at `path` when it is not one of the declared targets.
    pub(super) fn known_target(
        &mut self,
        spans: &Spans<'_>,
        names: &Names,
        path: &Path,
        name: &str,
        key: bool,
    ) -> bool {
        match unknown_target(&strs(&names.targets), path, name) {
            None => true,
            Some((message, hint)) => {
                if key {
                    self.at_key(spans, path, message, &hint);
                } else {
                    self.at(spans, path, message, &hint);
                }
                false
            }
        }
    }

    pub(super) fn check_targets(&mut self, policy: &Policy, spans: &Spans<'_>) {
        for (name, t) in &policy.targets {
            let base = Path::of(&["targets", name]);
            let explained = |f: &str| self.already_explained(&base.key(f));
            let (no_cluster, no_service, no_group, no_selector) = (
                t.cluster.is_none() && !explained("cluster"),
                t.service.is_none() && !explained("service"),
                t.group.is_none() && !explained("group"),
                t.selector.is_none() && !explained("selector"),
            );
            if t.floor > t.ceiling {
                self.at(
                    spans,
                    &base.key("floor"),
                    format!(
                        "`{base}.floor` ({}) is above its ceiling ({})",
                        t.floor, t.ceiling
                    ),
                    "lower the floor or raise the ceiling",
                );
            }
            if t.ceiling == 0 {
                self.at(
                    spans,
                    &base.key("ceiling"),
                    format!("`{base}.ceiling` is 0: the target could never run"),
                    "set a ceiling of at least 1",
                );
            }
            if t.max_step == Some(0) {
                self.at(
                    spans,
                    &base.key("max_step"),
                    format!("`{base}.max_step` is 0: no action could change anything"),
                    "remove it (no limit beyond the bounds) or set at least 1",
                );
            }
            if t.max_actions_per_hour == 0 {
                self.at(
                    spans,
                    &base.key("max_actions_per_hour"),
                    format!("`{base}.max_actions_per_hour` is 0: no action could ever happen"),
                    "set at least 1 (the default is 10)",
                );
            }
            if t.selector.as_ref().is_some_and(|s| s.is_empty()) {
                self.at(
                    spans,
                    &base.key("selector"),
                    format!("`{base}.selector` is empty: it would match every resource"),
                    "list the tags that identify the resources, e.g. `{ team = \"search\" }`",
                );
            }
            self.check_reach(t, &base, spans);
            match t.kind {
                TargetKind::Ecs => {
                    if no_cluster {
                        self.at(
                            spans,
                            &base,
                            format!("ecs target `{base}` has no `cluster`"),
                            "add `cluster = \"...\"` (the ECS cluster name)",
                        );
                    }
                    match (&t.service, &t.selector) {
                        (None, None) if no_service && no_selector => self.at(
                            spans,
                            &base,
                            format!("ecs target `{base}` has neither `service` nor `selector`"),
                            "name the service with `service = \"...\"` or match services by tags with `selector = { ... }`",
                        ),
                        (Some(_), Some(_)) => self.at_key(
                            spans,
                            &base.key("service"),
                            format!("ecs target `{base}` has both `service` and `selector`"),
                            "keep one: `service` for one service, `selector` for every service with the tags",
                        ),
                        _ => {}
                    }
                    if t.group.is_some() {
                        self.at_key(
                            spans,
                            &base.key("group"),
                            format!("`{base}.group` is for asg targets; this target is ecs"),
                            "remove it: ecs targets use `cluster` and `service`",
                        );
                    }
                }
                TargetKind::Asg => {
                    match (&t.group, &t.selector) {
                        (None, None) if no_group && no_selector => self.at(
                            spans,
                            &base,
                            format!("asg target `{base}` has neither `group` nor `selector`"),
                            "name the Auto Scaling group with `group = \"...\"` or match groups by tags with `selector = { ... }`",
                        ),
                        (Some(_), Some(_)) => self.at_key(
                            spans,
                            &base.key("group"),
                            format!("asg target `{base}` has both `group` and `selector`"),
                            "keep one: `group` for one group, `selector` for every group with the tags",
                        ),
                        _ => {}
                    }
                    for field in ["cluster", "service"] {
                        let set = if field == "cluster" {
                            t.cluster.is_some()
                        } else {
                            t.service.is_some()
                        };
                        if set {
                            self.at_key(
                                spans,
                                &base.key(field),
                                format!("`{base}.{field}` is for ecs targets; this target is asg"),
                                "remove it: asg targets use `group`",
                            );
                        }
                    }
                }
            }
        }
    }

    /// `role_arn`, `region` and `external_id` of a target in another account.
    fn check_reach(&mut self, t: &Target, base: &Path, spans: &Spans<'_>) {
        if let Some(arn) = &t.role_arn {
            if let Some(problem) = role_arn_problem(arn) {
                self.at(
                    spans,
                    &base.key("role_arn"),
                    format!("`{base}.role_arn` `{arn}` is not an IAM role ARN: it {problem}"),
                    "write `arn:aws:iam::<12-digit account>:role/<name>`, e.g. `arn:aws:iam::222222222222:role/capstan-target`",
                );
            }
        }
        if let Some(region) = &t.region {
            if let Some(problem) = region_problem(region) {
                self.at(
                    spans,
                    &base.key("region"),
                    format!("`{base}.region` {problem}"),
                    "write the region's name, e.g. `eu-west-1`",
                );
            }
        }
        if let Some(id) = &t.external_id {
            if let Some(problem) = external_id_problem(id) {
                self.at(
                    spans,
                    &base.key("external_id"),
                    format!("`{base}.external_id` {problem}"),
                    "use the external id the role's trust policy names (`sts:ExternalId`)",
                );
            }
        }
        if t.role_arn.is_none() {
            for (field, set) in [
                ("region", t.region.is_some()),
                ("external_id", t.external_id.is_some()),
            ] {
                if set {
                    self.at_key(
                        spans,
                        &base.key(field),
                        format!("`{base}.{field}` needs `role_arn`: it says how to reach another account"),
                        "add `role_arn = \"arn:aws:iam::<account>:role/<name>\"` or remove it",
                    );
                }
            }
        }
    }
}
