//! When a decision is news: which results the functions record and tell people about, and
//! which ticks they skip as stale. These rules used to live in the runner; here `capstan
//! simulate` and `capstan test` see exactly what the functions do.

use chrono::{DateTime, Utc};

use crate::decision::{Outcome, Reason, StateOp, TargetDecision};
use crate::signal::Signal;

/// True for the signals people send (a command, a run-time event request): whatever comes of
/// them goes on the record, refusals included.
pub fn from_operator(signal: &Signal) -> bool {
    matches!(signal, Signal::Command(_) | Signal::Event(_))
}

/// True when a target's part of a decision (`mine`: its target decisions, `ops`: the state
/// operations on it) changes nothing and says nothing: no write, no notification, only a log
/// line. Level-triggered signals (schedule ticks) that change nothing are quiet, so a repeated
/// tick costs reads only; so is any signal whose decisions all find the target already right.
/// An operator's signal is never quiet: whatever came of it (a refusal, a confirmation asked
/// for, nothing to do) goes on the record.
pub fn is_quiet(signal: &Signal, mine: &[&TargetDecision], ops: &[&StateOp]) -> bool {
    if mine.is_empty() && ops.is_empty() {
        return true;
    }
    let change = mine
        .iter()
        .any(|t| matches!(t.outcome, Outcome::Change { .. }));
    !change
        && ops.is_empty()
        && !from_operator(signal)
        && (matches!(signal, Signal::Tick(_)) || mine.iter().all(|t| already_right(t)))
}

/// True when a target decision, once recorded, is worth telling people about. A tick or a
/// command that finds a target already right has nothing to tell, even when it records
/// something (an occurrence that needed no change): the command's answer goes to whoever
/// asked, and the log has it.
pub fn is_news(signal: &Signal, t: &TargetDecision) -> bool {
    !(matches!(signal, Signal::Tick(_) | Signal::Command(_)) && already_right(t))
}

/// True when a schedule tick's results are told in one digest for the whole tick instead of one
/// notification per target (a boundary over hundreds of targets is one message, not hundreds).
/// Alarms, budgets and commands keep one notification per target.
pub fn told_in_digest(signal: &Signal) -> bool {
    matches!(signal, Signal::Tick(_))
}

/// A tick for the moment `at` is stale for a target whose record was already written by a
/// tick for a later moment (`last_tick`: a late retry, say): it must not undo what the newer
/// one did, so it is skipped, and the next tick corrects whatever is left. Returns the newer
/// tick's moment; `None` for other signals, ticks without a moment and ticks that are not
/// stale.
pub fn stale_tick(
    signal: &Signal,
    at: Option<DateTime<Utc>>,
    last_tick: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    let (Signal::Tick(_), Some(at)) = (signal, at) else {
        return None;
    };
    last_tick.filter(|t| *t > at)
}

fn already_right(t: &TargetDecision) -> bool {
    matches!(
        t.outcome,
        Outcome::Suppressed {
            reason: Reason::AlreadyRight
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Capacity;
    use crate::model::AlarmState;
    use crate::signal::{AlarmSignal, TickSignal};

    fn tick() -> Signal {
        Signal::Tick(TickSignal::default())
    }

    fn alarm() -> Signal {
        Signal::Alarm(AlarmSignal {
            name: "cpu".into(),
            state: AlarmState::Alarm,
            previous: None,
            value: None,
            suppressed: None,
        })
    }

    fn decision(outcome: Outcome) -> TargetDecision {
        TargetDecision {
            target: "api".into(),
            source: "schedule".into(),
            outcome,
            explanation: String::new(),
        }
    }

    fn change() -> TargetDecision {
        let c = |d| Capacity {
            desired: d,
            min: 1,
            max: 10,
        };
        decision(Outcome::Change {
            from: c(2),
            to: c(4),
            forced: false,
        })
    }

    fn right() -> TargetDecision {
        decision(Outcome::Suppressed {
            reason: Reason::AlreadyRight,
        })
    }

    #[test]
    fn a_tick_is_quiet_unless_it_changes_or_records_something() {
        let (c, r) = (change(), right());
        assert!(is_quiet(&tick(), &[&r], &[]));
        assert!(!is_quiet(&tick(), &[&c], &[]));
        assert!(is_quiet(&alarm(), &[&r], &[]));
        assert!(!is_quiet(&alarm(), &[&c], &[]));
        assert!(is_quiet(&alarm(), &[], &[]));
        let op = StateOp::Resume {
            target: "api".into(),
        };
        assert!(!is_quiet(&tick(), &[&r], &[&op]));
    }

    #[test]
    fn already_right_is_news_for_an_alarm_only() {
        assert!(!is_news(&tick(), &right()));
        assert!(is_news(&alarm(), &right()));
        assert!(is_news(&tick(), &change()));
        assert!(told_in_digest(&tick()));
        assert!(!told_in_digest(&alarm()));
    }

    #[test]
    fn a_tick_older_than_the_records_last_tick_is_stale() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let (early, late) = (t("2026-11-23T08:00:00Z"), t("2026-11-23T08:05:00Z"));
        assert_eq!(stale_tick(&tick(), Some(early), Some(late)), Some(late));
        assert_eq!(stale_tick(&tick(), Some(late), Some(early)), None);
        assert_eq!(stale_tick(&tick(), Some(late), Some(late)), None);
        assert_eq!(stale_tick(&tick(), None, Some(late)), None);
        assert_eq!(stale_tick(&alarm(), Some(early), Some(late)), None);
    }
}
