//! # capstan-policy
//!
//! Capstan's brain: the policy file (`model`), its loading and validation (`load`), schedules in
//! time (`schedule`), and the pure decision function [`decide`]. No AWS SDK, no async runtime,
//! no clock and no I/O: the policy, the state and the time are arguments, so every decision is
//! deterministic and explainable.
#![warn(missing_docs)]

pub mod command;
pub mod cron;
pub mod decision;
pub mod engine;
pub mod file;
pub mod filetest;
pub mod grant;
pub mod load;
pub mod model;
pub mod schedule;
pub mod signal;
pub mod state;

pub use decision::{
    Capacity, ConfirmWhy, Decision, Notice, Outcome, OutcomeKind, Reason, StateOp, TargetDecision,
};
pub use engine::{decide, effective_bounds, Bounds};
pub use file::PolicyFile;
pub use load::{load, load_file, Diagnostic, LoadError};
pub use model::Policy;
pub use signal::{Signal, TimedSignal};
pub use state::State;
