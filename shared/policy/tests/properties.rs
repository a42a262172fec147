//! The engine's invariants over random sequences of signals:
//! - an unforced change keeps desired inside the effective bounds it computed;
//! - an unforced change by a rule or a command never steps further than the target's max step
//!   (from inside the bounds: from outside, a change goes straight back inside);
//! - an unforced change never happens with the hour's action budget already spent, so no
//!   rolling hour ever holds more than `max_actions_per_hour` unforced-permitted actions;
//! - effective bounds stay inside the target's hard bounds (events with `exceed_ceiling` aside);
//! - the same inputs always give the same decision.

mod common;

use capstan_policy::decision::Outcome;
use capstan_policy::model::{AlarmState, AlertType};
use capstan_policy::signal::{AlarmSignal, BudgetSignal, CommandSignal, Signal, TickSignal};
use capstan_policy::state::State;
use capstan_policy::{decide, effective_bounds};
use chrono::Duration;
use common::{at, policy};
use proptest::prelude::*;

const ALARMS: &[&str] = &[
    "api-cpu-critical",
    "api-cpu-high",
    "api-traffic-2x",
    "api-cpu-low",
    "api-set",
    "api-5xx",
    "ai-queue-deep",
    "ai-stepped",
    "ai-queue-shallow",
    "db-iops-maxed",
    "web-cpu-critical",
    "unknown-alarm",
];

const COMMANDS: &[&str] = &[
    "scale api 7",
    "scale api +3",
    "scale api -2",
    "scale api max",
    "scale api min",
    "scale ai 25",
    "scale api 30 --force",
    "scale ai 1 --force",
    "undo api",
    "undo ai --force",
    "pause api 30m",
    "pause ai 1h pin 5",
    "resume api",
    "resume ai",
    "lift-cap AI-Service-Monthly",
    "status",
    "scale api lots",
];

fn signal_strategy() -> impl Strategy<Value = Signal> {
    prop_oneof![
        4 => (0..ALARMS.len(), any::<bool>(), proptest::option::of(0.0f64..20000.0)).prop_map(
            |(i, ok, value)| Signal::Alarm(AlarmSignal {
                name: ALARMS[i].to_string(),
                state: if ok { AlarmState::Ok } else { AlarmState::Alarm },
                previous: None,
                value,
            })
        ),
        3 => Just(Signal::Tick(TickSignal::default())),
        1 => (prop_oneof![Just(80.0), Just(100.0), Just(120.0)], any::<bool>()).prop_map(
            |(threshold, forecast)| Signal::Budget(BudgetSignal {
                budget: "AI-Service-Monthly".into(),
                alert_type: if forecast { AlertType::Forecasted } else { AlertType::Actual },
                threshold_percent: threshold,
                budgeted: Some(5000.0),
                amount: None,
                sent_at: None,
            })
        ),
        2 => (0..COMMANDS.len(), any::<bool>(), any::<bool>()).prop_map(|(i, confirmed, operator)| {
            Signal::Command(CommandSignal {
                user: if operator { "U2147483697".into() } else { "U0VIEWER".into() },
                channel: "C2147483705".into(),
                text: COMMANDS[i].to_string(),
                confirmed,
            })
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_over_random_signal_sequences(
        start_minutes in 0i64..(5 * 24 * 60),
        steps in proptest::collection::vec((0i64..45, signal_strategy()), 1..80),
    ) {
        let p = policy();
        // From Sunday 2026-11-29: weekends, weekdays, night and day, and the 1 December event.
        let mut now = at("2026-11-29T00:00:00Z") + Duration::minutes(start_minutes);
        let mut state = State::at_floor(&p);
        for (gap, signal) in steps {
            now += Duration::minutes(gap);
            let d = decide(&p, &signal, &state, now);
            prop_assert_eq!(&d, &decide(&p, &signal, &state.clone(), now), "deterministic");

            let mut next = state.clone();
            d.apply(&mut next);
            for t in &d.targets {
                let Outcome::Change { from, to, forced } = &t.outcome else { continue };
                if *forced {
                    continue;
                }
                let target = &p.targets[&next.targets[&t.target].target];
                // inside the bounds in force once the decision's own record changes (a new
                // budget cap) are applied
                let b = effective_bounds(&p, &next, &t.target, now);
                prop_assert!(
                    b.floor <= to.desired && to.desired <= b.ceiling,
                    "{}: desired {} outside {}..{}\n{}", t.target, to.desired, b.floor, b.ceiling, d.render()
                );
                prop_assert!(to.min <= to.desired && to.desired <= to.max, "{}", d.render());
                let from_inside = b.floor <= from.desired && from.desired <= b.ceiling;
                if from_inside && (t.source.starts_with("rule:") || t.source.starts_with("command:")) {
                    prop_assert!(
                        from.desired.abs_diff(to.desired) <= target.max_step(),
                        "{}: step {} -> {} exceeds max step {}\n{}",
                        t.target, from.desired, to.desired, target.max_step(), d.render()
                    );
                }
                let before = state.targets[&t.target].actions_in_hour(now) as u32;
                prop_assert!(
                    before < target.max_actions_per_hour,
                    "{}: an action with {} already in the hour (limit {})\n{}",
                    t.target, before, target.max_actions_per_hour, d.render()
                );
            }
            for (name, ts) in &next.targets {
                let target = &p.targets[&ts.target];
                let b = effective_bounds(&p, &next, name, now);
                let event_may_exceed = p.events.values().any(|e| e.exceed_ceiling);
                prop_assert!(b.floor >= target.floor, "{name}: floor {} below hard floor", b.floor);
                prop_assert!(b.floor <= b.ceiling);
                if !event_may_exceed {
                    prop_assert!(b.ceiling <= target.ceiling, "{name}: ceiling {} above hard ceiling", b.ceiling);
                }
            }
            state = next;
        }
    }

    #[test]
    fn a_tick_right_after_a_tick_changes_nothing(
        start_minutes in 0i64..(7 * 24 * 60),
        desired in proptest::collection::vec(0u32..40, 3),
    ) {
        let p = policy();
        let now = at("2026-11-23T00:00:00Z") + Duration::minutes(start_minutes);
        let mut state = State::at_floor(&p);
        for (ts, d) in state.targets.values_mut().zip(desired) {
            ts.desired = d;
        }
        let first = decide(&p, &Signal::Tick(TickSignal::default()), &state, now);
        first.apply(&mut state);
        let second = decide(&p, &Signal::Tick(TickSignal::default()), &state, now);
        prop_assert!(
            second.targets.iter().all(|t| !matches!(t.outcome, Outcome::Change { .. })),
            "{}", second.render()
        );
    }
}
