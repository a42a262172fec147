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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use crate::model::{external_id_problem, region_problem, role_arn_problem};
use crate::model::{
    Action, AlarmRule, Amount, BudgetAction, BudgetRule, Criticality, Dur, Event, Grant,
    HolidaySpec, Policy, PolicyTest, Schedule, Settings, SlackAccess, Target, TargetKind,
    MAX_COUNT, MAX_DURATION, MAX_PERCENT,
};
use crate::signal::Signal;

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

/// Parses and validates a policy from TOML text, reporting every problem at once.
pub fn load(text: &str) -> Result<Policy, LoadError> {
    load_at(text, REFERENCE)
}

/// Like [`load`], sampling periods for overlaps from `reference` instead of [`REFERENCE`].
pub fn load_at(text: &str, reference: DateTime<Utc>) -> Result<Policy, LoadError> {
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
    let policy = loader.entries(&clean);
    let names = Names::of(&root);
    loader.check(&policy, &names, &root, reference);
    if loader.diags.is_empty() {
        Ok(policy)
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
// Paths: `targets.api.floor`, `tests[2].expect.api`.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Seg {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Path(Vec<Seg>);

impl Path {
    fn of(keys: &[&str]) -> Path {
        Path(keys.iter().map(|k| Seg::Key((*k).to_string())).collect())
    }
    fn key(&self, k: &str) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }
    fn idx(&self, i: usize) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
    fn join(&self, rest: &Path) -> Path {
        let mut p = self.clone();
        p.0.extend(rest.0.iter().cloned());
        p
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    let bare = !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                    if bare {
                        f.write_str(k)?;
                    } else {
                        write!(f, "{k:?}")?;
                    }
                }
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// The key span (if the path ends in a key) and the value span of `path` under `value`.
fn locate(value: &DeValue<'_>, path: &[Seg]) -> Option<(Option<Range<usize>>, Range<usize>)> {
    let mut cur = value;
    let mut found = None;
    for seg in path {
        let (k, v) = match (seg, cur) {
            (Seg::Key(k), DeValue::Table(t)) => {
                let (k, v) = t.get_key_value(k.as_str())?;
                (Some(k.span()), v)
            }
            (Seg::Index(i), DeValue::Array(a)) => (None, a.get(*i)?),
            _ => return None,
        };
        found = Some((k, v.span()));
        cur = v.get_ref();
    }
    found
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// The deepest path under `value` whose key or value span contains `span`.
fn deepest(value: &DeValue<'_>, span: &Range<usize>) -> Path {
    let mut path = Path::default();
    let mut cur = value;
    loop {
        let next = match cur {
            DeValue::Table(t) => t
                .iter()
                .find(|(k, v)| contains(&k.span(), span) || contains(&v.span(), span))
                .map(|(k, v)| (Seg::Key(k.get_ref().to_string()), v)),
            DeValue::Array(a) => a
                .iter()
                .enumerate()
                .find(|(_, v)| contains(&v.span(), span))
                .map(|(i, v)| (Seg::Index(i), v)),
            _ => None,
        };
        match next {
            Some((seg, v)) => {
                path.0.push(seg);
                cur = v.get_ref();
            }
            None => return path,
        }
    }
}

/// Removes the table entry at `path` (an array index at the end removes the whole array);
/// returns the path removed.
fn remove(value: &mut DeValue<'_>, path: &Path) -> Option<Path> {
    let mut segs: &[Seg] = &path.0;
    while let Some(Seg::Index(_)) = segs.last() {
        segs = &segs[..segs.len() - 1];
    }
    let removed = Path(segs.to_vec());
    let (Seg::Key(last), parents) = segs.split_last()? else {
        return None;
    };
    let mut cur = value;
    for seg in parents {
        cur = match (seg, cur) {
            (Seg::Key(k), DeValue::Table(t)) => t.get_mut(k.as_str())?.get_mut(),
            (Seg::Index(i), DeValue::Array(a)) => a.get_mut(*i)?.get_mut(),
            _ => return None,
        };
    }
    match cur {
        DeValue::Table(t) => t.remove(last.as_str()).map(|_| removed),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// The policy's shape, for the unknown-key walk. Field names come from the model's own serde
// derives (see `introspect`), so the walk follows the model when fields are added.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Root,
    Settings,
    Holidays,
    Targets,
    Target,
    Cooldowns,
    Rules,
    Rule,
    Steps,
    Step,
    Action,
    FromMetric,
    Schedules,
    Schedule,
    Events,
    Event,
    Uplifts,
    Uplift,
    Budgets,
    Budget,
    BudgetAction,
    Slack,
    Grants,
    Grant,
    Tests,
    Test,
    Signal,
    AlarmSignal,
    TickSignal,
    BudgetSignal,
    CommandSignal,
    EventSignal,
    AddEvent,
    TestStates,
    TestState,
    History,
    TestAction,
    Caps,
    TestCap,
    Expects,
    Expect,
    Leaf,
}

enum Shape {
    /// A struct: its keys, and the kind of each key's value.
    Struct(&'static [&'static str], fn(&str) -> Kind),
    /// A map of names to values of one kind.
    Map(Kind),
    /// An array of values of one kind.
    Array(Kind),
    /// An enum: a string (unit variant) or a table with one key naming the variant.
    Enum(&'static [&'static str], fn(&str) -> Kind),
    /// Anything; serde checks it.
    Leaf,
}

fn shape(kind: Kind) -> Shape {
    use crate::model as m;
    use crate::signal as s;
    use introspect::{fields, variant_fields, variants};
    match kind {
        Kind::Root => Shape::Struct(fields::<Policy>(), |k| match k {
            "settings" => Kind::Settings,
            "holidays" => Kind::Holidays,
            "targets" => Kind::Targets,
            "rules" => Kind::Rules,
            "schedules" => Kind::Schedules,
            "events" => Kind::Events,
            "budgets" => Kind::Budgets,
            "slack" => Kind::Slack,
            "tests" => Kind::Tests,
            _ => Kind::Leaf,
        }),
        Kind::Settings => Shape::Struct(fields::<Settings>(), |_| Kind::Leaf),
        Kind::Holidays => Shape::Map(Kind::Leaf),
        Kind::Targets => Shape::Map(Kind::Target),
        Kind::Target => Shape::Struct(fields::<Target>(), |k| match k {
            "cooldown" => Kind::Cooldowns,
            _ => Kind::Leaf,
        }),
        Kind::Cooldowns => Shape::Struct(fields::<m::Cooldowns>(), |_| Kind::Leaf),
        Kind::Rules => Shape::Map(Kind::Rule),
        Kind::Rule => Shape::Struct(fields::<AlarmRule>(), |k| match k {
            "action" => Kind::Action,
            "steps" => Kind::Steps,
            _ => Kind::Leaf,
        }),
        Kind::Steps => Shape::Array(Kind::Step),
        Kind::Step => Shape::Struct(fields::<m::Step>(), |k| match k {
            "action" => Kind::Action,
            _ => Kind::Leaf,
        }),
        Kind::Action => Shape::Enum(variants::<Action>(), |k| match k {
            "from_metric" => Kind::FromMetric,
            _ => Kind::Leaf,
        }),
        Kind::FromMetric => Shape::Struct(variant_fields::<Action>("from_metric"), |_| Kind::Leaf),
        Kind::Schedules => Shape::Map(Kind::Schedule),
        Kind::Schedule => Shape::Struct(fields::<Schedule>(), |_| Kind::Leaf),
        Kind::Events => Shape::Map(Kind::Event),
        Kind::Event => Shape::Struct(fields::<Event>(), |k| match k {
            "targets" => Kind::Uplifts,
            _ => Kind::Leaf,
        }),
        Kind::Uplifts => Shape::Map(Kind::Uplift),
        Kind::Uplift => Shape::Struct(fields::<m::Uplift>(), |_| Kind::Leaf),
        Kind::Budgets => Shape::Map(Kind::Budget),
        Kind::Budget => Shape::Struct(fields::<BudgetRule>(), |k| match k {
            "action" => Kind::BudgetAction,
            _ => Kind::Leaf,
        }),
        Kind::BudgetAction => Shape::Enum(variants::<BudgetAction>(), |_| Kind::Leaf),
        Kind::Slack => Shape::Struct(fields::<SlackAccess>(), |k| match k {
            "grants" => Kind::Grants,
            _ => Kind::Leaf,
        }),
        Kind::Grants => Shape::Array(Kind::Grant),
        Kind::Grant => Shape::Struct(fields::<Grant>(), |_| Kind::Leaf),
        Kind::Tests => Shape::Array(Kind::Test),
        Kind::Test => Shape::Struct(fields::<PolicyTest>(), |k| match k {
            "signal" => Kind::Signal,
            "state" => Kind::TestStates,
            "caps" => Kind::Caps,
            "events" => Kind::Events,
            "expect" => Kind::Expects,
            _ => Kind::Leaf,
        }),
        Kind::Signal => Shape::Enum(variants::<Signal>(), |k| match k {
            "alarm" => Kind::AlarmSignal,
            "tick" => Kind::TickSignal,
            "budget" => Kind::BudgetSignal,
            "command" => Kind::CommandSignal,
            "event" => Kind::EventSignal,
            _ => Kind::Leaf,
        }),
        Kind::AlarmSignal => Shape::Struct(fields::<s::AlarmSignal>(), |_| Kind::Leaf),
        Kind::TickSignal => Shape::Struct(fields::<s::TickSignal>(), |_| Kind::Leaf),
        Kind::BudgetSignal => Shape::Struct(fields::<s::BudgetSignal>(), |_| Kind::Leaf),
        Kind::CommandSignal => Shape::Struct(fields::<s::CommandSignal>(), |_| Kind::Leaf),
        Kind::EventSignal => Shape::Struct(fields::<s::EventSignal>(), |k| match k {
            "add" => Kind::AddEvent,
            _ => Kind::Leaf,
        }),
        Kind::AddEvent => Shape::Struct(fields::<s::AddEvent>(), |k| match k {
            "event" => Kind::Event,
            _ => Kind::Leaf,
        }),
        Kind::TestStates => Shape::Map(Kind::TestState),
        Kind::TestState => Shape::Struct(fields::<m::TestTargetState>(), |k| match k {
            "history" => Kind::History,
            _ => Kind::Leaf,
        }),
        Kind::History => Shape::Array(Kind::TestAction),
        Kind::TestAction => Shape::Struct(fields::<m::TestAction>(), |_| Kind::Leaf),
        Kind::Caps => Shape::Array(Kind::TestCap),
        Kind::TestCap => Shape::Struct(fields::<m::TestCap>(), |_| Kind::Leaf),
        Kind::Expects => Shape::Map(Kind::Expect),
        Kind::Expect => Shape::Struct(fields::<m::TargetExpect>(), |_| Kind::Leaf),
        Kind::Leaf => Shape::Leaf,
    }
}

/// Reads the field names of a struct (or the variants of an enum) from its serde derive: a
/// deserializer that answers `deserialize_struct` / `deserialize_enum` with an error carrying
/// the names it was given.
mod introspect {
    use serde::de::{self, DeserializeOwned, Visitor};
    use std::fmt;

    #[derive(Debug)]
    pub(super) struct Names(Option<&'static [&'static str]>);

    impl fmt::Display for Names {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("introspection")
        }
    }
    impl std::error::Error for Names {}
    impl de::Error for Names {
        fn custom<T: fmt::Display>(_: T) -> Self {
            Names(None)
        }
    }

    /// Captures struct fields or enum variants; with `variant`, selects that variant of an
    /// enum and captures its struct fields.
    struct Probe(Option<&'static str>);

    impl<'de> de::Deserializer<'de> for Probe {
        type Error = Names;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Names> {
            Err(Names(None))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Names> {
            Err(Names(Some(fields)))
        }
        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _: &'static str,
            variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Names> {
            match self.0 {
                None => Err(Names(Some(variants))),
                Some(variant) => visitor.visit_enum(Variant(variant)),
            }
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
            identifier ignored_any
        }
    }

    struct Variant(&'static str);

    impl<'de> de::EnumAccess<'de> for Variant {
        type Error = Names;
        type Variant = Variant;
        fn variant_seed<S: de::DeserializeSeed<'de>>(
            self,
            seed: S,
        ) -> Result<(S::Value, Variant), Names> {
            let de: de::value::StrDeserializer<'_, Names> =
                de::IntoDeserializer::into_deserializer(self.0);
            Ok((seed.deserialize(de)?, self))
        }
    }

    impl<'de> de::VariantAccess<'de> for Variant {
        type Error = Names;
        fn unit_variant(self) -> Result<(), Names> {
            Err(Names(None))
        }
        fn newtype_variant_seed<S: de::DeserializeSeed<'de>>(
            self,
            _: S,
        ) -> Result<S::Value, Names> {
            Err(Names(None))
        }
        fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, Names> {
            Err(Names(None))
        }
        fn struct_variant<V: Visitor<'de>>(
            self,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Names> {
            Err(Names(Some(fields)))
        }
    }

    /// The keys a struct accepts.
    pub(super) fn fields<T: DeserializeOwned>() -> &'static [&'static str] {
        match T::deserialize(Probe(None)) {
            Err(Names(Some(names))) => names,
            _ => &[],
        }
    }

    /// The variants of an enum.
    pub(super) fn variants<T: DeserializeOwned>() -> &'static [&'static str] {
        fields::<T>()
    }

    /// The keys of a struct variant of an enum.
    pub(super) fn variant_fields<T: DeserializeOwned>(
        variant: &'static str,
    ) -> &'static [&'static str] {
        match T::deserialize(Probe(Some(variant))) {
            Err(Names(Some(names))) => names,
            _ => &[],
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hints.
// ---------------------------------------------------------------------------------------------

/// Edit distance counting a swap of two neighbouring characters as one edit (optimal string
/// alignment), for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The closest of `candidates` to `word`, when it is close enough to be a likely typo.
fn closest<'a, I: IntoIterator<Item = &'a str>>(word: &str, candidates: I) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (distance(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn backticked(list: &[&str]) -> String {
    list.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "did you mean `x`?" or the list of what is allowed.
fn suggest(word: &str, candidates: &[&str], what: &str) -> String {
    match closest(word, candidates.iter().copied()) {
        Some(c) => format!("did you mean `{c}`?"),
        None if candidates.is_empty() => format!("no {what} are defined"),
        None => format!("{what}: {}", backticked(candidates)),
    }
}

/// Words in backticks after "expected" in a serde message (`unknown variant`, `unknown field`).
fn expected_words(message: &str) -> Vec<&str> {
    let Some((_, rest)) = message.split_once("expected") else {
        return Vec::new();
    };
    rest.split('`').skip(1).step_by(2).collect()
}

/// Splits a serde error into a message and a hint.
fn explain_error(path: &Path, message: &str) -> (String, String) {
    let message = message.trim();
    let last = match path.0.last() {
        Some(Seg::Key(k)) => k.as_str(),
        _ => "",
    };
    if message.contains("untagged enum Raw") {
        // The only untagged enum in the model reads a `Timestamp`.
        return (
            format!("`{path}` is not a time"),
            "write RFC 3339 with an offset, e.g. `2026-12-01T09:00:00Z`".into(),
        );
    }
    if let Some((msg, hint)) = message.split_once("; write ") {
        return (format!("`{path}`: {msg}"), format!("write {hint}"));
    }
    if message.starts_with("unknown variant") || message.starts_with("unknown field") {
        let word = message.split('`').nth(1).unwrap_or("");
        let expected = expected_words(message);
        let (msg, _) = message.split_once(", expected").unwrap_or((message, ""));
        return (
            format!("`{path}`: {msg}"),
            suggest(word, &expected, "allowed values"),
        );
    }
    if message.contains("timezone") || last == "zone" {
        return (
            format!("`{path}`: {message}"),
            "use an IANA name such as Europe/Berlin or America/New_York".into(),
        );
    }
    let hint = if last == "cron" {
        "write five fields: minute hour day-of-month month day-of-week, e.g. `0 8 * * mon-fri`"
    } else if message.contains("expected u32")
        || message.contains("expected u64")
        || message.contains("expected i32")
        || message.contains("expected i64")
    {
        "write a whole number without quotes, e.g. `2`"
    } else if message.contains("expected f64") {
        "write a number without quotes, e.g. `80` or `0.5`"
    } else if message.contains("expected a boolean") {
        "write `true` or `false`"
    } else if message.contains("expected a sequence") {
        "write a list, e.g. `[\"a\", \"b\"]`"
    } else if message.contains("expected a string") {
        "write a quoted string"
    } else if message.contains("expected struct") || message.contains("expected a map") {
        "write a table, e.g. `{ key = value }` or a `[section]`"
    } else {
        "fix this value"
    };
    (format!("`{path}`: {message}"), hint.to_string())
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

    // ----- unknown keys -----------------------------------------------------------------

    /// Reports unknown keys under `value` and strips them; true when the caller should remove
    /// `value` itself (an enum table naming an unknown variant).
    fn walk(&mut self, value: &mut DeValue<'_>, kind: Kind, path: &Path) -> bool {
        match (shape(kind), value) {
            (Shape::Struct(fields, child), DeValue::Table(t)) => {
                let mut drop = Vec::new();
                for (k, v) in t.iter_mut() {
                    let key = k.get_ref().to_string();
                    let here = path.key(&key);
                    if !fields.contains(&key.as_str()) {
                        let place = if path.0.is_empty() {
                            "at the top level".to_string()
                        } else {
                            format!("in `{path}`")
                        };
                        let hint = suggest(&key, fields, "allowed keys");
                        if let Some(close) = closest(&key, fields.iter().copied()) {
                            self.suggested.insert(path.key(close).to_string());
                        }
                        self.push(k.span(), format!("unknown key `{key}` {place}"), Some(hint));
                        drop.push(key);
                    } else if self.walk(v.get_mut(), child(&key), &here) {
                        drop.push(key);
                    }
                }
                for key in drop {
                    self.removed.insert(path.key(&key).to_string());
                    t.remove(key.as_str());
                }
                false
            }
            (Shape::Map(kind), DeValue::Table(t)) => {
                let mut drop = Vec::new();
                for (k, v) in t.iter_mut() {
                    let key = k.get_ref().to_string();
                    if self.walk(v.get_mut(), kind, &path.key(&key)) {
                        drop.push(key);
                    }
                }
                for key in drop {
                    self.removed.insert(path.key(&key).to_string());
                    t.remove(key.as_str());
                }
                false
            }
            (Shape::Array(kind), DeValue::Array(a)) => {
                for (i, v) in a.iter_mut().enumerate() {
                    // Array elements are structs, which never ask to be removed.
                    self.walk(v.get_mut(), kind, &path.idx(i));
                }
                false
            }
            (Shape::Enum(variants, child), DeValue::Table(t)) => {
                let mut unknown = false;
                for (k, v) in t.iter_mut() {
                    let key = k.get_ref().to_string();
                    if variants.contains(&key.as_str()) {
                        if self.walk(v.get_mut(), child(&key), &path.key(&key)) {
                            unknown = true;
                        }
                    } else {
                        self.push(
                            k.span(),
                            format!("`{path}`: unknown kind `{key}`"),
                            Some(suggest(&key, variants, "allowed kinds")),
                        );
                        unknown = true;
                    }
                }
                unknown
            }
            _ => false,
        }
    }

    // ----- types, per entry -------------------------------------------------------------

    /// Deserializes one entry; reports each bad value (removing it and trying again), and
    /// returns the entry when it loaded (possibly after unknown keys were stripped).
    fn entry<T: DeserializeOwned>(
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
    fn map<T: DeserializeOwned>(&mut self, root: &DeTable<'_>, name: &str) -> BTreeMap<String, T> {
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

    fn entries(&mut self, root: &DeTable<'_>) -> Policy {
        let mut policy = Policy::default();
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
                            policy.tests.push(t);
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
        policy
    }
}

// ---------------------------------------------------------------------------------------------
// Checks that span entries.
// ---------------------------------------------------------------------------------------------

/// Positions of paths in the original tree.
struct Spans<'i> {
    root: DeValue<'i>,
}

impl Spans<'_> {
    /// The value span of `path`, or of its nearest ancestor that exists.
    fn value(&self, path: &Path) -> Range<usize> {
        for n in (1..=path.0.len()).rev() {
            if let Some((_, v)) = locate(&self.root, &path.0[..n]) {
                return v;
            }
        }
        0..0
    }

    /// The key span of `path` (falling back to its value span).
    fn key(&self, path: &Path) -> Range<usize> {
        match locate(&self.root, &path.0) {
            Some((Some(k), _)) => k,
            Some((None, v)) => v,
            None => self.value(path),
        }
    }
}

/// A step's range in words.
fn step_range(lower: Option<f64>, upper: Option<f64>) -> String {
    match (lower, upper) {
        (Some(l), Some(u)) => format!("{l} <= value < {u}"),
        (Some(l), None) => format!("value >= {l}"),
        (None, Some(u)) => format!("value < {u}"),
        (None, None) => "any value".into(),
    }
}

fn looks_like_slack_id(id: &str, prefixes: &[char]) -> bool {
    id.len() >= 3
        && id.starts_with(prefixes)
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// A span of time, `[from, to)`.
type Interval = (DateTime<Utc>, DateTime<Utc>);

/// The spans of time over which periods are compared: two weeks from `reference` (periods
/// repeat weekly, so every combination of weekdays is seen) and four days either side of each
/// daylight-saving change of `zones` in the year after it (when periods in different zones can
/// move against each other).
fn comparison_ranges(reference: DateTime<Utc>, zones: &[Tz]) -> Vec<Interval> {
    let mut ranges = vec![(reference, reference + Duration::days(14))];
    for zone in zones {
        for shift in
            crate::schedule::dst_transitions(*zone, reference, reference + Duration::days(366))
        {
            ranges.push((shift.at - Duration::days(4), shift.at + Duration::days(4)));
        }
    }
    ranges
}

/// The message and hint when `name`, at `path`, is not one of the `known` targets.
fn unknown_target(known: &[&str], path: &Path, name: &str) -> Option<(String, String)> {
    if known.contains(&name) {
        return None;
    }
    Some((
        format!("`{path}` names unknown target `{name}`"),
        suggest(name, known, "targets defined"),
    ))
}

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
fn event_problems_at(policy: &Policy, known: &[&str], base: &Path, e: &Event) -> Vec<EventProblem> {
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

/// A long duration in days: `367 days`, or `400 days 6h` when not whole days.
fn in_days(d: Dur) -> String {
    const DAY: u64 = 24 * 60 * 60;
    let secs = d.0.as_secs();
    let rest = Dur::from_secs(secs % DAY);
    if rest.0.is_zero() && d.0.subsec_nanos() == 0 {
        format!("{} days", secs / DAY)
    } else {
        format!("{} days {rest}", secs / DAY)
    }
}

/// The floors an event's uplift on target `name` can apply to: the target's own, and the
/// floor of each period on it (with the period's name).
fn floor_bases<'p>(policy: &'p Policy, name: &str, t: &Target) -> Vec<(u32, Option<&'p str>)> {
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
    fn check(
        &mut self,
        policy: &Policy,
        names: &Names,
        root: &DeTable<'_>,
        reference: DateTime<Utc>,
    ) {
        let spans = Spans {
            root: DeValue::Table(root.clone()),
        };
        self.check_limits(policy, &spans);
        self.check_targets(policy, &spans);
        self.check_rules(policy, names, &spans);
        self.check_schedules(policy, names, &spans);
        self.check_periods(policy, &spans, reference);
        self.check_events(policy, names, &spans);
        self.check_budgets(policy, names, &spans);
        self.check_slack(policy, names, &spans);
        self.check_tests(policy, names, &spans);
    }

    /// Durations and amounts within what a policy may write ([`MAX_DURATION`], [`MAX_COUNT`],
    /// [`MAX_PERCENT`]), so that no number in a valid policy comes near the limits of the
    /// arithmetic. Events are bounded by [`event_problems`].
    fn check_limits(&mut self, policy: &Policy, spans: &Spans<'_>) {
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
        for (test, i) in policy.tests.iter().zip(self.test_index.clone()) {
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

    fn at(&mut self, spans: &Spans<'_>, path: &Path, message: String, hint: &str) {
        let span = spans.value(path);
        self.push(span, message, Some(hint.to_string()));
    }

    fn at_key(&mut self, spans: &Spans<'_>, path: &Path, message: String, hint: &str) {
        let span = spans.key(path);
        self.push(span, message, Some(hint.to_string()));
    }

    /// Reports `name` at `path` when it is not one of the declared targets.
    fn known_target(
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

    fn check_targets(&mut self, policy: &Policy, spans: &Spans<'_>) {
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

    fn check_rules(&mut self, policy: &Policy, names: &Names, spans: &Spans<'_>) {
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

    fn check_schedules(&mut self, policy: &Policy, names: &Names, spans: &Spans<'_>) {
        for (hname, specs) in &policy.holidays {
            for (i, spec) in specs.iter().enumerate() {
                if let HolidaySpec::Calendar(c) = spec {
                    if !names.holidays.contains(c) {
                        let p = Path::of(&["holidays", hname]).idx(i);
                        self.at(
                            spans,
                            &p,
                            format!("`{p}`: `{c}` is neither a date nor a calendar defined under [holidays]"),
                            "write dates `YYYY-MM-DD`, ranges `YYYY-MM-DD..YYYY-MM-DD`, or the name of another calendar",
                        );
                    }
                }
            }
        }
        for (name, s) in &policy.schedules {
            let base = Path::of(&["schedules", name]);
            if s.targets.is_empty() {
                self.at(
                    spans,
                    &base.key("targets"),
                    format!("schedule `{base}` names no targets"),
                    "add `targets = [\"...\"]`",
                );
            }
            for (i, t) in s.targets.iter().enumerate() {
                self.known_target(spans, names, &base.key("targets").idx(i), t, false);
            }
            let explained = |f: &str| self.already_explained(&base.key(f));
            let kind_explained = explained("cron") || explained("begin") || explained("end");
            let end_explained = explained("end") || explained("begin");
            let desired_explained = explained("desired");
            let bounds_explained = explained("floor") || explained("ceiling");
            let period = s.begin.is_some() || s.end.is_some();
            if s.cron.is_some() && period {
                self.at_key(
                    spans,
                    &base.key("cron"),
                    format!("schedule `{base}` has both `cron` (an occurrence) and `begin`/`end` (a period)"),
                    "split it in two: a period with `begin`/`end` and `floor`/`ceiling`, an occurrence with `cron` and `desired`",
                );
            } else if s.cron.is_none() && !period && !kind_explained {
                self.at(
                    spans,
                    &base,
                    format!("schedule `{base}` has neither `cron` nor `begin`/`end`"),
                    "a period needs `begin` and `end` (HH:MM); an occurrence needs `cron`",
                );
            }
            if s.cron.is_none() && !end_explained {
                match (s.begin, s.end) {
                    (Some(_), None) => self.at_key(
                        spans,
                        &base.key("begin"),
                        format!("`{base}` has `begin` but no `end`"),
                        "add `end = \"HH:MM\"`",
                    ),
                    (None, Some(_)) => self.at_key(
                        spans,
                        &base.key("end"),
                        format!("`{base}` has `end` but no `begin`"),
                        "add `begin = \"HH:MM\"`",
                    ),
                    _ => {}
                }
            }
            if s.is_occurrence() {
                if s.desired.is_none() && !desired_explained {
                    self.at(
                        spans,
                        &base,
                        format!("occurrence `{base}` (with `cron`) sets no `desired`"),
                        "add `desired = N`: the capacity set each time the cron comes round",
                    );
                }
                for (field, v) in [("floor", s.floor), ("ceiling", s.ceiling)] {
                    if v.is_some() {
                        self.at_key(
                            spans,
                            &base.key(field),
                            format!("occurrence `{base}` (with `cron`) sets `{field}`; occurrences set `desired`"),
                            "move floor/ceiling to a period schedule with `begin`/`end`",
                        );
                    }
                }
            } else if period {
                if s.floor.is_none() && s.ceiling.is_none() && !bounds_explained {
                    self.at(
                        spans,
                        &base,
                        format!("period `{base}` sets neither `floor` nor `ceiling`"),
                        "add `floor = N` and/or `ceiling = N`: the bounds while the period holds",
                    );
                }
                if s.desired.is_some() {
                    self.at_key(
                        spans,
                        &base.key("desired"),
                        format!("period `{base}` sets `desired`; periods set `floor`/`ceiling`"),
                        "use `floor` (capacity never below it while the period holds), or make an occurrence with `cron`",
                    );
                }
                if let (Some(f), Some(c)) = (s.floor, s.ceiling) {
                    if f > c {
                        self.at(
                            spans,
                            &base.key("floor"),
                            format!("`{base}.floor` ({f}) is above its ceiling ({c})"),
                            "lower the floor or raise the ceiling",
                        );
                    }
                }
            }
            for (field, v) in [
                ("floor", s.floor),
                ("ceiling", s.ceiling),
                ("desired", s.desired),
            ] {
                let Some(v) = v else { continue };
                for tname in &s.targets {
                    let Some(t) = policy.targets.get(tname) else {
                        continue;
                    };
                    if v > t.ceiling {
                        self.at(
                            spans,
                            &base.key(field),
                            format!("`{base}.{field}` ({v}) is above target `{tname}`'s hard ceiling ({})", t.ceiling),
                            "raise the target's bounds or lower the value",
                        );
                    } else if v < t.floor {
                        self.at(
                            spans,
                            &base.key(field),
                            format!("`{base}.{field}` ({v}) is below target `{tname}`'s hard floor ({})", t.floor),
                            "lower the target's floor or raise the value",
                        );
                    }
                }
            }
            for (i, h) in s.holidays.iter().enumerate() {
                if let HolidaySpec::Calendar(c) = h {
                    if !names.holidays.contains(c) {
                        let p = base.key("holidays").idx(i);
                        let hint = match closest(c, names.holidays.iter().map(String::as_str)) {
                            Some(m) => format!("did you mean `{m}`?"),
                            None => {
                                format!("define it under [holidays]: `{c} = [\"2026-12-25\", ...]`")
                            }
                        };
                        self.at(
                            spans,
                            &p,
                            format!("`{p}` names holiday calendar `{c}`, which is not defined under [holidays]"),
                            &hint,
                        );
                    }
                }
            }
        }
    }

    /// Two periods on the same target that hold at the same moment with different bounds.
    fn check_periods(&mut self, policy: &Policy, spans: &Spans<'_>, reference: DateTime<Utc>) {
        let periods: Vec<(&String, &Schedule)> = policy
            .schedules
            .iter()
            .filter(|(_, s)| !s.is_occurrence() && s.begin.is_some() && s.end.is_some())
            .filter(|(_, s)| s.floor.is_some() || s.ceiling.is_some())
            .collect();
        let mut pairs = Vec::new();
        for (i, (_, a)) in periods.iter().enumerate() {
            for (j, (_, b)) in periods.iter().enumerate().skip(i + 1) {
                let shared: Vec<&String> =
                    a.targets.iter().filter(|t| b.targets.contains(t)).collect();
                let floors = matches!((a.floor, b.floor), (Some(x), Some(y)) if x != y);
                let ceilings = matches!((a.ceiling, b.ceiling), (Some(x), Some(y)) if x != y);
                if let Some(t) = shared.first() {
                    if floors || ceilings {
                        pairs.push((i, j, (*t).clone()));
                    }
                }
            }
        }
        if pairs.is_empty() {
            return;
        }
        let zone = |s: &Schedule| crate::schedule::zone_of(policy, s);
        let mut zones: Vec<Tz> = Vec::new();
        for (_, s) in &periods {
            if !zones.contains(&zone(s)) {
                zones.push(zone(s));
            }
        }
        let ranges = comparison_ranges(reference, &zones);
        let mut windows: BTreeMap<usize, Vec<Interval>> = BTreeMap::new();
        for (i, j, target) in pairs {
            for k in [i, j] {
                windows.entry(k).or_insert_with(|| {
                    ranges
                        .iter()
                        .flat_map(|(from, to)| {
                            crate::schedule::period_windows(policy, periods[k].1, *from, *to)
                        })
                        .filter(|w| !w.holiday)
                        .map(|w| (w.begin, w.end))
                        .collect()
                });
            }
            let (Some(wi), Some(wj)) = (windows.get(&i), windows.get(&j)) else {
                continue;
            };
            // The first moment both hold: an overlap starts at the later of two beginnings.
            let moment = wi
                .iter()
                .flat_map(|a| wj.iter().map(move |b| (a.0.max(b.0), a.1.min(b.1))))
                .filter(|(from, to)| from < to)
                .map(|(from, _)| from)
                .filter(|t| {
                    crate::schedule::period_holds(policy, periods[i].1, *t)
                        && crate::schedule::period_holds(policy, periods[j].1, *t)
                })
                .min();
            let Some(moment) = moment else {
                continue;
            };
            let ((na, a), (nb, b)) = (periods[i], periods[j]);
            // Report on the one that comes later in the file.
            let (pa, pb) = (Path::of(&["schedules", na]), Path::of(&["schedules", nb]));
            let (first, second, (first_s, second_s)) =
                if spans.value(&pa).start <= spans.value(&pb).start {
                    (pa, pb, (a, b))
                } else {
                    (pb, pa, (b, a))
                };
            let when = moment.with_timezone(&zone(first_s));
            let mut what = Vec::new();
            if let (Some(x), Some(y)) = (first_s.floor, second_s.floor) {
                if x != y {
                    what.push(format!("floor {y} vs {x}"));
                }
            }
            if let (Some(x), Some(y)) = (first_s.ceiling, second_s.ceiling) {
                if x != y {
                    what.push(format!("ceiling {y} vs {x}"));
                }
            }
            self.at(
                spans,
                &second,
                format!(
                    "period `{second}` overlaps period `{first}` on target `{target}` with a different {} (both hold at {})",
                    what.join(" and "),
                    when.format("%a %Y-%m-%d %H:%M %Z"),
                ),
                "make the periods not overlap (begin/end/weekdays/holidays) or give them the same floor and ceiling",
            );
        }
    }

    fn check_events(&mut self, policy: &Policy, names: &Names, spans: &Spans<'_>) {
        let known = strs(&names.targets);
        for (name, e) in &policy.events {
            let base = Path::of(&["events", name]);
            self.report(spans, event_problems_at(policy, &known, &base, e));
        }
    }

    fn report(&mut self, spans: &Spans<'_>, problems: Vec<EventProblem>) {
        for p in problems {
            if p.on_key {
                self.at_key(spans, &p.at, p.message, &p.hint);
            } else {
                self.at(spans, &p.at, p.message, &p.hint);
            }
        }
    }

    fn check_budgets(&mut self, policy: &Policy, names: &Names, spans: &Spans<'_>) {
        for (name, b) in &policy.budgets {
            let base = Path::of(&["budgets", name]);
            if !(b.threshold > 0.0 && b.threshold.is_finite()) {
                self.at(
                    spans,
                    &base.key("threshold"),
                    format!("`{base}.threshold` is {}: it must be above 0", b.threshold),
                    "write the percent of the budgeted amount, e.g. `threshold = 80`",
                );
            }
            if b.budget.trim().is_empty() {
                self.at(
                    spans,
                    &base.key("budget"),
                    format!("`{base}.budget` is empty"),
                    "write the AWS Budgets budget name",
                );
            }
            if let BudgetAction::LowerCeiling(a) = b.action {
                let raises = match a {
                    crate::model::Amount::Delta(d) => d >= 0,
                    crate::model::Amount::Percent(p) => p >= 0,
                    crate::model::Amount::Absolute(_) => false,
                };
                if raises {
                    self.at(
                        spans,
                        &base.key("action"),
                        format!("`{base}.action`: lower_ceiling `{a}` does not lower the ceiling"),
                        "write a number, `-N` or `-N%`",
                    );
                }
            }
            for (i, tname) in b.targets.iter().flatten().enumerate() {
                let p = base.key("targets").idx(i);
                if !self.known_target(spans, names, &p, tname, false) {
                    continue;
                }
                if let Some(t) = policy.targets.get(tname) {
                    if t.criticality == Criticality::Critical {
                        self.at(
                            spans,
                            &p,
                            format!("`{p}` lists critical target `{tname}`; budget rules never touch critical targets"),
                            "mark the target `criticality = \"non-critical\"` or remove it from the list",
                        );
                    }
                }
            }
        }
    }

    fn check_slack(&mut self, policy: &Policy, names: &Names, spans: &Spans<'_>) {
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

    fn check_tests(&mut self, policy: &Policy, names: &Names, spans: &Spans<'_>) {
        const OUTCOMES: [&str; 5] = ["change", "suppressed", "unchanged", "notify", "denied"];
        let index = std::mem::take(&mut self.test_index);
        for (test, i) in policy.tests.iter().zip(index) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_a_swap_as_one_edit() {
        assert_eq!(distance("floor", "floor"), 0);
        assert_eq!(distance("flor", "floor"), 1);
        assert_eq!(distance("ALRAM", "ALARM"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn closest_only_suggests_likely_typos() {
        let keys = ["floor", "ceiling", "max_step"];
        assert_eq!(closest("ceilng", keys), Some("ceiling"));
        assert_eq!(closest("colour", keys), None);
        assert_eq!(closest("x", ["y"]), Some("y"));
    }

    #[test]
    fn paths_print_like_toml_keys() {
        let p = Path::of(&["tests"]).idx(2).key("expect").key("*");
        assert_eq!(p.to_string(), "tests[2].expect.\"*\"");
        assert_eq!(Path::of(&["rules", "api-cpu"]).to_string(), "rules.api-cpu");
    }

    #[test]
    fn introspection_reads_the_models_field_names() {
        assert!(introspect::fields::<Target>().contains(&"max_actions_per_hour"));
        assert!(introspect::fields::<BudgetRule>().contains(&"type"));
        assert!(introspect::variants::<Action>().contains(&"from_metric"));
        assert_eq!(
            introspect::variant_fields::<Action>("from_metric"),
            &["per_unit", "buffer_percent"]
        );
    }
}
