//! The checks of `[slack]`: the origins allowed and each `[[slack.grants]]`.

use super::path::{Path, Spans};
use super::{Loader, Names};
use crate::model::Policy;

pub(super) fn looks_like_slack_id(id: &str, prefixes: &[char]) -> bool {
    id.len() >= 3
        && id.starts_with(prefixes)
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

impl Loader<'_> {
    pub(super) fn check_slack(&mut self, policy: &Policy, names: &Names, spans: &Spans<'_>) {
        let origins: [(&str, &[String], char, &str); 3] = [
            (
                "api_app_ids",
                &policy.slack.api_app_ids,
                'A',
                "Slack app ids start with A, e.g. `A012ABCDEF` (app settings → Basic Information → App ID)",
            ),
            (
                "team_ids",
                &policy.slack.team_ids,
                'T',
                "Slack workspace ids start with T, e.g. `T012ABCDEF` (the `team_id` of a request)",
            ),
            (
                "enterprise_ids",
                &policy.slack.enterprise_ids,
                'E',
                "Enterprise Grid organization ids start with E, e.g. `E012ABCDEF` (the `enterprise_id` of a request)",
            ),
        ];
        for (key, ids, prefix, hint) in origins {
            for (j, id) in ids.iter().enumerate() {
                if !looks_like_slack_id(id, &[prefix]) {
                    let p = Path::of(&["slack", key]).idx(j);
                    self.at(
                        spans,
                        &p,
                        format!("`{p}`: `{id}` does not look like an id starting with {prefix} (upper-case letters and digits)"),
                        hint,
                    );
                }
            }
        }
        let index = std::mem::take(&mut self.grant_index);
        for (g, i) in policy.slack.grants.iter().zip(index) {
            let base = Path::of(&["slack", "grants"]).idx(i);
            if g.users.is_empty() {
                self.at(
                    spans,
                    &base.key("users"),
                    format!("`{base}` grants nothing to nobody: `users` is empty"),
                    "list Slack user ids, e.g. `users = [\"U012ABCDEF\"]`",
                );
            }
            if g.verbs.is_empty() {
                self.at(
                    spans,
                    &base.key("verbs"),
                    format!("`{base}.verbs` is empty"),
                    "list the verbs allowed, e.g. `verbs = [\"status\", \"scale\"]`",
                );
            }
            for (j, u) in g.users.iter().enumerate() {
                if !looks_like_slack_id(u, &['U', 'W']) {
                    let p = base.key("users").idx(j);
                    self.at(
                        spans,
                        &p,
                        format!("`{p}`: `{u}` does not look like a Slack user id"),
                        "Slack user ids start with U or W, e.g. `U012ABCDEF` (profile → ⋮ → Copy member ID)",
                    );
                }
            }
            for (j, c) in g.channels.iter().enumerate() {
                if !looks_like_slack_id(c, &['C', 'G', 'D']) {
                    let p = base.key("channels").idx(j);
                    self.at(
                        spans,
                        &p,
                        format!("`{p}`: `{c}` does not look like a Slack channel id"),
                        "Slack channel ids start with C, G or D, e.g. `C012ABCDEF` (channel details → About), not `#name`",
                    );
                }
            }
            for (j, t) in g.targets.iter().enumerate() {
                self.known_target(spans, names, &base.key("targets").idx(j), t, false);
            }
        }
    }
}
