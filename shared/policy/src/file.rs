//! The policy file as written: the [`Policy`] and, beside it, the policy's own unit tests
//! (`[[tests]]`), which the engine never reads. [`crate::load::load_file`] reads both;
//! [`crate::filetest`] runs the tests.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{
    AlarmRule, BudgetRule, Dur, Event, HolidaySpec, Policy, Schedule, Settings, SlackAccess,
    Target, Timestamp,
};
use crate::signal::Signal;

/// A whole policy file: the policy, and its tests.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(from = "RawFile")]
pub struct PolicyFile {
    /// What the functions run.
    pub policy: Policy,
    /// The policy's own unit tests, in file order.
    pub tests: Vec<PolicyTest>,
}

/// The top-level keys of a policy file, as serde reads them: those of [`Policy`] and `tests`.
/// [`Policy`] keeps `deny_unknown_fields`, so the keys are listed here once more; building the
/// [`Policy`] from them without `..` makes a key added to one and not the other a compile error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    settings: Settings,
    #[serde(default)]
    holidays: BTreeMap<String, Vec<HolidaySpec>>,
    #[serde(default)]
    targets: BTreeMap<String, Target>,
    #[serde(default)]
    rules: BTreeMap<String, AlarmRule>,
    #[serde(default)]
    schedules: BTreeMap<String, Schedule>,
    #[serde(default)]
    events: BTreeMap<String, Event>,
    #[serde(default)]
    budgets: BTreeMap<String, BudgetRule>,
    #[serde(default)]
    slack: SlackAccess,
    #[serde(default)]
    tests: Vec<PolicyTest>,
}

impl From<RawFile> for PolicyFile {
    fn from(raw: RawFile) -> PolicyFile {
        let RawFile {
            settings,
            holidays,
            targets,
            rules,
            schedules,
            events,
            budgets,
            slack,
            tests,
        } = raw;
        PolicyFile {
            policy: Policy {
                settings,
                holidays,
                targets,
                rules,
                schedules,
                events,
                budgets,
                slack,
            },
            tests,
        }
    }
}

/// A unit test inside the policy file: a signal and a starting state in, an expected decision out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyTest {
    /// What the test shows.
    pub name: String,
    /// When the signal arrives.
    pub at: Timestamp,
    /// The signal.
    pub signal: Signal,
    /// Starting state per target; targets not named start at their floor.
    #[serde(default)]
    pub state: BTreeMap<String, TestTargetState>,
    /// Budget caps in force at the start.
    #[serde(default)]
    pub caps: Vec<TestCap>,
    /// Run-time events already added at the start (as an event signal adds them), by name.
    #[serde(default)]
    pub events: BTreeMap<String, Event>,
    /// Expected outcome per target, or for the notifications (`notify`).
    pub expect: TestExpect,
}

/// A target's starting state in a policy test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TestTargetState {
    /// Desired capacity (default: the floor).
    #[serde(default)]
    pub desired: Option<u32>,
    /// Minimum currently set on AWS (default: the target's floor).
    #[serde(default)]
    pub min: Option<u32>,
    /// Maximum currently set on AWS (default: the target's ceiling).
    #[serde(default)]
    pub max: Option<u32>,
    /// Recent actions, newest last.
    #[serde(default)]
    pub history: Vec<TestAction>,
    /// Paused for this long from `at`.
    #[serde(default)]
    pub paused_for: Option<Dur>,
    /// A schedule tick saw the target this long before `at` (none: the test's tick is the
    /// first, and occurrences before it are not reported missed).
    #[serde(default)]
    pub ticked_ago: Option<Dur>,
}

/// A past action in a policy test, placed relative to the test's `at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestAction {
    /// How long before `at`.
    pub ago: Dur,
    /// Desired capacity before.
    pub from: u32,
    /// Desired capacity after.
    pub to: u32,
    /// What took it, as in the audit trail (`rule:api-cpu-critical`, `command:U123`...);
    /// default `test`. A rule's own cooldown only follows the actions that rule took.
    #[serde(default)]
    pub source: Option<String>,
}

/// A budget cap in force at the start of a policy test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCap {
    /// The budget rule that set it.
    pub rule: String,
}

/// What a policy test expects: a table keyed by target name, `*` or `notify`.
// `transparent`, not `flatten`: serde's `deny_unknown_fields` rejects every flattened key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct TestExpect {
    /// Per target.
    pub targets: BTreeMap<String, TargetExpect>,
}

/// What a policy test expects of one target (or `notify` for the notifications).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TargetExpect {
    /// `change`, `suppressed`, `unchanged`, `notify` or `denied`.
    #[serde(default)]
    pub outcome: Option<String>,
    /// New desired capacity.
    #[serde(default)]
    pub desired: Option<u32>,
    /// New minimum (effective floor).
    #[serde(default)]
    pub min: Option<u32>,
    /// New maximum (effective ceiling).
    #[serde(default)]
    pub max: Option<u32>,
    /// Why nothing happened (a reason code such as `cooldown`).
    #[serde(default)]
    pub reason: Option<String>,
    /// A piece of text the explanation or notification must contain.
    #[serde(default)]
    pub says: Option<String>,
}
