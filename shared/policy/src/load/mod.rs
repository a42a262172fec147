//! Loading a policy file: TOML syntax, types, unknown keys, and the checks that span entries,
//! each problem reported with its line and column.
//!
//! [`load`] reports every problem at once rather than the first one serde meets:
//!
//! 1. the text is parsed into a spanned TOML tree (a syntax error stops here: one diagnostic);
//! 2. the tree is walked against the policy's shape, and every unknown key is reported at its
//!    own position (with "did you mean" when a known key is close), then stripped;
//! 3. each top-level entry (`[targets.X]`, `[rules.X]`, each `[[tests]]`, `[settings]`, ...) is
//!    deserialized on its own, so one bad entry hides no other; inside an entry, a bad value is
//!    reported and removed and the entry is tried again, so each bad value is reported once;
//! 4. the checks that span entries (a rule naming an unknown target, a schedule outside its
//!    target's bounds, overlapping periods that disagree, ...) run on the entries that loaded.
//!
//! The overlap check compares the periods' instances (from [`crate::schedule::period_windows`])
//! over two weeks and around each daylight-saving change of the year that follow a reference
//! instant; it never reads the clock. [`load`] uses the fixed [`REFERENCE`]; [`load_at`] takes
//! the reference instant as an argument.

mod budgets;
mod entries;
mod events;
mod hints;
mod limits;
mod path;
mod periods;
mod rules;
mod schedules;
mod shape;
mod slack;
mod targets;
mod tests;

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;

use chrono::{DateTime, NaiveDate, Utc};
use toml::de::{DeTable, DeValue};

use crate::file::PolicyFile;
use crate::model::Policy;

pub use events::{event_problems, EventProblem};
use path::{Path, Spans};
use shape::Kind;

/// One problem in a policy file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// What is wrong, naming the field (e.g. `` `targets.api.floor` ``).
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
    /// Byte range in the source.
    pub span: Option<std::ops::Range<usize>>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

/// Every problem found in a policy file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the policy has {} problem(s)", .diagnostics.len())]
pub struct LoadError {
    /// The problems, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

/// The instant from which [`load`] looks for overlapping periods that disagree: Monday
/// 2026-01-05 00:00 UTC. Periods repeat weekly, so two weeks from any instant see every
/// combination of weekdays; the days around each daylight-saving change of the year after it
/// are compared too.
pub const REFERENCE: DateTime<Utc> = match NaiveDate::from_ymd_opt(2026, 1, 5) {
    Some(d) => match d.and_hms_opt(0, 0, 0) {
        Some(t) => t.and_utc(),
        None => DateTime::<Utc>::MIN_UTC,
    },
    None => DateTime::<Utc>::MIN_UTC,
};

/// Parses and validates a policy from TOML text, reporting every problem at once. The file's
/// `[[tests]]` are checked too; [`load_file`] returns them beside the policy.
pub fn load(text: &str) -> Result<Policy, LoadError> {
    load_at(text, REFERENCE)
}

/// Like [`load`], sampling periods for overlaps from `reference` instead of [`REFERENCE`].
pub fn load_at(text: &str, reference: DateTime<Utc>) -> Result<Policy, LoadError> {
    load_file_at(text, reference).map(|file| file.policy)
}

/// Like [`load`], returning the policy and its tests.
pub fn load_file(text: &str) -> Result<PolicyFile, LoadError> {
    load_file_at(text, REFERENCE)
}

/// Like [`load_file`], sampling periods for overlaps from `reference` instead of [`REFERENCE`].
pub fn load_file_at(text: &str, reference: DateTime<Utc>) -> Result<PolicyFile, LoadError> {
    let root = match DeTable::parse(text) {
        Ok(root) => root.into_inner(),
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let mut loader = Loader::new(text);
            let what = e.message().trim();
            let snippet = text.get(span.clone()).unwrap_or("").trim();
            let (message, hint) = if what == "duplicate key" && !snippet.contains('\n') {
                (
                    format!("TOML syntax error: duplicate key `{snippet}`"),
                    "a key may appear once per table (and a `[table]` once per file): remove or rename one",
                )
            } else {
                (
                    format!("TOML syntax error: {what}"),
                    "fix the syntax here; nothing else can be checked until the file parses",
                )
            };
            loader.push(span, message, Some(hint.into()));
            return Err(LoadError {
                diagnostics: loader.diags,
            });
        }
    };
    let mut loader = Loader::new(text);
    let mut clean = DeValue::Table(root.clone());
    loader.walk(&mut clean, Kind::Root, &Path::default());
    let clean = match clean {
        DeValue::Table(t) => t,
        _ => DeTable::new(),
    };
    let file = loader.entries(&clean);
    let names = Names::of(&root);
    loader.check(&file, &names, &root, reference);
    if loader.diags.is_empty() {
        Ok(file)
    } else {
        let mut diagnostics = loader.diags;
        diagnostics.sort_by(|a, b| {
            (
                a.span.as_ref().map(|s| s.start),
                a.line,
                a.column,
                &a.message,
            )
                .cmp(&(
                    b.span.as_ref().map(|s| s.start),
                    b.line,
                    b.column,
                    &b.message,
                ))
        });
        diagnostics.dedup();
        Err(LoadError { diagnostics })
    }
}

// ---------------------------------------------------------------------------------------------
// The loader.
// ---------------------------------------------------------------------------------------------

/// Every name declared in the file, whether or not its entry loaded, so that a reference to a
/// broken entry is not reported as a reference to a missing one.
struct Names {
    targets: Vec<String>,
    schedules: Vec<String>,
    budgets: Vec<String>,
    holidays: Vec<String>,
}

impl Names {
    fn of(root: &DeTable<'_>) -> Names {
        let keys = |name: &str| -> Vec<String> {
            match root.get(name).map(|v| v.get_ref()) {
                Some(DeValue::Table(t)) => t.keys().map(|k| k.get_ref().to_string()).collect(),
                _ => Vec::new(),
            }
        };
        Names {
            targets: keys("targets"),
            schedules: keys("schedules"),
            budgets: keys("budgets"),
            holidays: keys("holidays"),
        }
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

struct Loader<'t> {
    text: &'t str,
    diags: Vec<Diagnostic>,
    /// Paths whose unknown keys (or unknown enum variants) were reported and stripped.
    removed: BTreeSet<String>,
    /// Paths of the keys suggested for unknown keys ("did you mean `floor`?"): their absence
    /// is the typo's fault and is not reported again.
    suggested: BTreeSet<String>,
    /// The index in `[[tests]]` of each test that loaded.
    test_index: Vec<usize>,
    /// The index in `[[slack.grants]]` of each grant that loaded.
    grant_index: Vec<usize>,
}

impl<'t> Loader<'t> {
    fn new(text: &'t str) -> Loader<'t> {
        Loader {
            text,
            diags: Vec::new(),
            removed: BTreeSet::new(),
            suggested: BTreeSet::new(),
            test_index: Vec::new(),
            grant_index: Vec::new(),
        }
    }

    /// 1-based line and column (in characters) of byte `offset`.
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[start..].chars().count() + 1)
    }

    fn push(&mut self, span: Range<usize>, message: String, hint: Option<String>) {
        let (line, column) = self.line_col(span.start);
        self.diags.push(Diagnostic {
            message,
            hint,
            span: Some(span),
            line,
            column,
        });
    }

    /// True when the absence of `path` follows from a problem already reported (a stripped
    /// value, or a typo whose hint names it).
    fn already_explained(&self, path: &Path) -> bool {
        let path = path.to_string();
        self.removed.contains(&path) || self.suggested.contains(&path)
    }

    fn overlaps_reported(&self, span: &Range<usize>) -> bool {
        self.diags.iter().any(|d| {
            d.span
                .as_ref()
                .is_some_and(|s| s.start < span.end.max(span.start + 1) && span.start < s.end)
        })
    }
}

impl Loader<'_> {
    fn check(
        &mut self,
        file: &PolicyFile,
        names: &Names,
        root: &DeTable<'_>,
        reference: DateTime<Utc>,
    ) {
        let policy = &file.policy;
        let spans = Spans {
            root: DeValue::Table(root.clone()),
        };
        self.check_limits(file, &spans);
        self.check_targets(policy, &spans);
        self.check_rules(policy, names, &spans);
        self.check_schedules(policy, names, &spans);
        self.check_periods(policy, &spans, reference);
        self.check_events(policy, names, &spans);
        self.check_budgets(policy, names, &spans);
        self.check_slack(policy, names, &spans);
        self.check_tests(file, names, &spans);
    }

    fn at(&mut self, spans: &Spans<'_>, path: &Path, message: String, hint: &str) {
        let span = spans.value(path);
        self.push(span, message, Some(hint.to_string()));
    }

    fn at_key(&mut self, spans: &Spans<'_>, path: &Path, message: String, hint: &str) {
        let span = spans.key(path);
        self.push(span, message, Some(hint.to_string()));
    }
}
