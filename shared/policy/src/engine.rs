//! The decision engine. STUB: being written.

use chrono::{DateTime, Utc};

use crate::decision::Decision;
use crate::model::Policy;
use crate::signal::Signal;
use crate::state::State;

/// The bounds in force on a target at a moment, and what set them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounds {
    /// Effective floor.
    pub floor: u32,
    /// Effective ceiling.
    pub ceiling: u32,
    /// An event holding scale-in, if any.
    pub hold: Option<String>,
    /// What set them, in words.
    pub why: Vec<String>,
}

/// The bounds in force on target instance `instance` at `now`.
pub fn effective_bounds(
    policy: &Policy,
    _state: &State,
    instance: &str,
    _now: DateTime<Utc>,
) -> Bounds {
    let t = &policy.targets[instance];
    Bounds {
        floor: t.floor,
        ceiling: t.ceiling,
        hold: None,
        why: vec![],
    }
}

/// Decides what to do about `signal`, given the policy, the state and the time.
pub fn decide(_policy: &Policy, signal: &Signal, _state: &State, now: DateTime<Utc>) -> Decision {
    Decision {
        at: now,
        signal: signal.summary(),
        targets: vec![],
        notices: vec![],
        ops: vec![],
    }
}
