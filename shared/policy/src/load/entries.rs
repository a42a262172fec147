//! Types, per entry: each top-level entry deserialized on its own, so that one bad entry hides
//! no other, and each bad value reported once.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use super::hints::explain_error;
use super::path::{deepest, remove, Path};
use super::Loader;
use crate::file::{PolicyFile, PolicyTest};
use crate::model::{Grant, Settings, SlackAccess};

impl Loader<'_> {
    // ----- types, per entry -------------------------------------------------------------

    /// Deserializes one entry; reports each bad value (removing it and trying again), and
    /// returns the entry when it loaded (possibly after unknown keys were stripped).
    pub(super) fn entry<T: DeserializeOwned>(
        &mut self,
        path: &Path,
        value: &Spanned<DeValue<'_>>,
    ) -> Option<T> {
        let mut value = value.clone();
        let mut failed = false;
        for _ in 0..64 {
            let err = match T::deserialize(ValueDeserializer::from(value.clone())) {
                Ok(t) => return (!failed).then_some(t),
                Err(e) => e,
            };
            failed = true;
            let span = err.span().unwrap_or_else(|| value.span());
            let rel = deepest(value.get_ref(), &span);
            let at = path.join(&rel);
            let message = err.message();
            if let Some(field) = message
                .strip_prefix("missing field `")
                .and_then(|m| m.split('`').next())
            {
                if !self.already_explained(&at.key(field)) {
                    let span = if span.is_empty() { value.span() } else { span };
                    self.push(
                        span,
                        format!("`{at}` is missing `{field}`"),
                        Some(format!("add `{field} = ...`")),
                    );
                }
                return None;
            }
            if !self.overlaps_reported(&span) {
                let (message, hint) = explain_error(&at, message);
                self.push(span, message, Some(hint));
            }
            match remove(value.get_mut(), &rel) {
                Some(gone) => self.removed.insert(path.join(&gone).to_string()),
                None => return None,
            };
        }
        None
    }

    /// Deserializes each entry of the table `name`.
    pub(super) fn map<T: DeserializeOwned>(
        &mut self,
        root: &DeTable<'_>,
        name: &str,
    ) -> BTreeMap<String, T> {
        let mut out = BTreeMap::new();
        let Some(section) = root.get(name) else {
            return out;
        };
        match section.get_ref() {
            DeValue::Table(t) => {
                for (k, v) in t.iter() {
                    let key = k.get_ref().to_string();
                    if let Some(entry) = self.entry::<T>(&Path::of(&[name, &key]), v) {
                        out.insert(key, entry);
                    }
                }
            }
            other => self.push(
                section.span(),
                format!("`{name}` must be a table, not {}", other.type_str()),
                Some(format!("write one `[{name}.NAME]` section per entry")),
            ),
        }
        out
    }

    pub(super) fn entries(&mut self, root: &DeTable<'_>) -> PolicyFile {
        let mut file = PolicyFile::default();
        let policy = &mut file.policy;
        if let Some(v) = root.get("settings") {
            if let Some(s) = self.entry::<Settings>(&Path::of(&["settings"]), v) {
                policy.settings = s;
            }
        }
        if let Some(v) = root.get("slack") {
            // Each grant on its own, so that one bad grant hides no other.
            let mut v = v.clone();
            let grants = match v.get_mut() {
                DeValue::Table(t) => t.remove("grants"),
                _ => None,
            };
            policy.slack = self
                .entry::<SlackAccess>(&Path::of(&["slack"]), &v)
                .unwrap_or_default();
            match grants.as_ref().map(|g| (g, g.get_ref())) {
                None => {}
                Some((_, DeValue::Array(a))) => {
                    for (i, item) in a.iter().enumerate() {
                        let path = Path::of(&["slack", "grants"]).idx(i);
                        if let Some(grant) = self.entry::<Grant>(&path, item) {
                            policy.slack.grants.push(grant);
                            self.grant_index.push(i);
                        }
                    }
                }
                Some((g, other)) => self.push(
                    g.span(),
                    format!(
                        "`slack.grants` must be an array of tables, not {}",
                        other.type_str()
                    ),
                    Some("write each grant as a `[[slack.grants]]` section".into()),
                ),
            }
        }
        policy.holidays = self.map(root, "holidays");
        policy.targets = self.map(root, "targets");
        policy.rules = self.map(root, "rules");
        policy.schedules = self.map(root, "schedules");
        policy.events = self.map(root, "events");
        policy.budgets = self.map(root, "budgets");
        if let Some(tests) = root.get("tests") {
            match tests.get_ref() {
                DeValue::Array(a) => {
                    for (i, v) in a.iter().enumerate() {
                        if let Some(t) = self.entry::<PolicyTest>(&Path::of(&["tests"]).idx(i), v) {
                            file.tests.push(t);
                            self.test_index.push(i);
                        }
                    }
                }
                other => self.push(
                    tests.span(),
                    format!(
                        "`tests` must be an array of tables, not {}",
                        other.type_str()
                    ),
                    Some("write each test as a `[[tests]]` section".into()),
                ),
            }
        }
        file
    }
}
