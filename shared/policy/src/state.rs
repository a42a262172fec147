//! State: what is true of each target now, and Capstan's own record (recent actions, pauses,
//! budget caps, run-time events, applied occurrences). The engine reads it; applying a decision
//! (`Decision::apply`) produces the next one.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::Event;

/// Everything the engine knows besides the policy and the clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct State {
    /// Per target instance, keyed by target name (or `name:resource` for selector targets).
    pub targets: BTreeMap<String, TargetState>,
    /// Budget caps in force.
    #[serde(default)]
    pub caps: Vec<BudgetCap>,
    /// Events added at run time (beside those in the policy file).
    #[serde(default)]
    pub events: BTreeMap<String, Event>,
}

impl State {
    /// A state with each target of the policy at its floor, bounds at the target's bounds.
    pub fn at_floor(policy: &crate::model::Policy) -> State {
        let targets = policy
            .targets
            .iter()
            .map(|(name, t)| {
                (
                    name.clone(),
                    TargetState::new(name, t.floor, t.floor, t.ceiling),
                )
            })
            .collect();
        State {
            targets,
            ..State::default()
        }
    }
}

/// One target instance's live numbers and record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetState {
    /// The policy target this instance belongs to.
    pub target: String,
    /// Desired capacity.
    pub desired: u32,
    /// Minimum currently set on AWS.
    pub min: u32,
    /// Maximum currently set on AWS.
    pub max: u32,
    /// Running tasks or in-service instances.
    #[serde(default)]
    pub running: u32,
    /// Recent actions, oldest first.
    #[serde(default)]
    pub history: Vec<ActionRecord>,
    /// A pause (or pin) in force.
    #[serde(default)]
    pub pause: Option<Pause>,
    /// Per occurrence schedule, the latest occurrence already applied or reported missed.
    #[serde(default)]
    pub occurrences: BTreeMap<String, DateTime<Utc>>,
}

impl TargetState {
    /// A fresh instance of policy target `target`.
    pub fn new(target: &str, desired: u32, min: u32, max: u32) -> TargetState {
        TargetState {
            target: target.to_string(),
            desired,
            min,
            max,
            running: desired,
            history: Vec::new(),
            pause: None,
            occurrences: BTreeMap::new(),
        }
    }

    /// The newest action, if any.
    pub fn last_action(&self) -> Option<&ActionRecord> {
        self.history.last()
    }

    /// The newest action in `direction`, if any.
    pub fn last_in(&self, direction: Direction) -> Option<&ActionRecord> {
        self.history
            .iter()
            .rev()
            .find(|a| a.direction() == direction)
    }

    /// Actions in the hour up to `now`.
    pub fn actions_in_hour(&self, now: DateTime<Utc>) -> usize {
        let since = crate::model::earlier(now, chrono::Duration::hours(1));
        self.history
            .iter()
            .filter(|a| a.at > since && a.at <= now)
            .count()
    }
}

/// Which way capacity moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Up.
    Out,
    /// Down.
    In,
    /// Bounds only.
    None,
}

/// One action Capstan took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// When.
    pub at: DateTime<Utc>,
    /// What asked for it: `rule:api-cpu-high`, `schedule:night`, `command:U123`...
    pub source: String,
    /// Desired capacity before.
    pub from: u32,
    /// Desired capacity after.
    pub to: u32,
    /// True for an operator's forced override past a guardrail.
    #[serde(default)]
    pub forced: bool,
}

impl ActionRecord {
    /// The direction of the change.
    pub fn direction(&self) -> Direction {
        match self.to.cmp(&self.from) {
            std::cmp::Ordering::Greater => Direction::Out,
            std::cmp::Ordering::Less => Direction::In,
            std::cmp::Ordering::Equal => Direction::None,
        }
    }
}

/// A pause: automation leaves the target alone until `until`; with `pin`, the schedule tick
/// holds desired capacity at that count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pause {
    /// When it ends by itself.
    pub until: DateTime<Utc>,
    /// Who paused.
    pub by: String,
    /// Desired capacity to hold, for a pin.
    #[serde(default)]
    pub pin: Option<u32>,
}

/// A budget cap in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetCap {
    /// The budget.
    pub budget: String,
    /// The budget rule that set it.
    pub rule: String,
    /// When it was set.
    pub since: DateTime<Utc>,
    /// When the budget period resets and the cap lifts.
    pub until: DateTime<Utc>,
}
