//! The engine's invariants over random sequences of signals:
//! - an unforced change keeps desired inside the effective bounds it computed;
//! - an unforced change by a rule or a command never steps further than the target's max step
//!   (from inside the bounds: from outside, a change goes straight back inside);
//! - an unforced change never happens with the hour's action budget already spent, so no
//!   rolling hour ever holds more than `max_actions_per_hour` unforced-permitted actions;
//! - effective bounds stay inside the target's hard bounds (events with `exceed_ceiling` aside);
//! - the same inputs always give the same decision;
//! - no extreme number (datapoints of 1e300, -5, NaN or infinity, amounts, steps, leads and
//!   cooldowns at the limits of their types) makes the engine panic, and a size-from-metric
//!   rule given a negative or non-finite datapoint changes nothing;
//! - a relative floor uplift never lifts the ceiling past the hard ceiling without
//!   `exceed_ceiling`, and an uplift the validator accepts is never cut short by the engine.

mod common;

use capstan_policy::decision::{Outcome, Reason};
use capstan_policy::load::event_problems;
use capstan_policy::model::{AlarmState, AlertType, Amount, Dur, Event, Timestamp, Uplift};
use capstan_policy::signal::{
    AlarmSignal, BudgetSignal, CommandSignal, EventRequest, EventSignal, Signal, TickSignal,
};
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
    "lift-cap “AI-Service-Monthly”",
    "pause api 1h pin 25 --force",
    "pause api pin 12",
    "event add promo 2026-11-30T08:00Z 2026-11-30T12:00Z api=floor:6 lead 1h",
    "event cancel promo",
    "help",
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
                suppressed: None,
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
                let event_may_exceed =
                    p.events.values().chain(next.events.values()).any(|e| e.exceed_ceiling);
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

/// Datapoints from outside: ordinary, huge, tiny, negative and not numbers at all.
fn extreme_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::MAX),
        Just(f64::MIN),
        Just(f64::MIN_POSITIVE),
        Just(1e300),
        Just(-1e300),
        Just(-5.0),
        Just(0.0),
        -1e6f64..1e6,
    ]
}

fn extreme_amount() -> impl Strategy<Value = Amount> {
    prop_oneof![
        any::<u32>().prop_map(Amount::Absolute),
        any::<i64>().prop_map(Amount::Delta),
        any::<i64>().prop_map(Amount::Percent),
        prop_oneof![Just(i64::MAX), Just(i64::MIN), Just(-100), Just(1000)]
            .prop_map(Amount::Percent),
        prop_oneof![Just(i64::MAX), Just(i64::MIN)].prop_map(Amount::Delta),
        (0u32..40).prop_map(Amount::Absolute),
        (-10i64..10).prop_map(Amount::Delta),
    ]
}

fn extreme_dur() -> impl Strategy<Value = Dur> {
    prop_oneof![
        Just(Dur::from_secs(0)),
        Just(Dur::from_secs(1)),
        Just(Dur::from_secs(600)),
        Just(Dur(std::time::Duration::MAX)),
        Just(Dur::from_secs(u64::MAX)),
        any::<u64>().prop_map(Dur::from_secs),
    ]
}

fn extreme_count() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        Just(1),
        Just(u32::MAX),
        Just(u32::MAX - 1),
        0u32..50,
        any::<u32>()
    ]
}

const EXTREME_COMMANDS: &[&str] = &[
    "scale api +9223372036854775807 --force",
    "scale api -9223372036854775808 --force",
    "scale api 4294967295 --force",
    "scale ai +9223372036854775807",
    "pause api 500000years",
    "pause ai 1h pin 4294967295 --force",
    "undo api --force",
    "status",
];

fn extreme_signal() -> impl Strategy<Value = Signal> {
    prop_oneof![
        4 => (0..ALARMS.len(), proptest::option::of(extreme_value())).prop_map(|(i, value)| {
            Signal::Alarm(AlarmSignal {
                name: ALARMS[i].to_string(),
                state: AlarmState::Alarm,
                previous: None,
                value,
                suppressed: None,
            })
        }),
        2 => Just(Signal::Tick(TickSignal::default())),
        2 => (0..EXTREME_COMMANDS.len()).prop_map(|i| Signal::Command(CommandSignal {
            user: "cli:prop".into(),
            channel: String::new(),
            text: EXTREME_COMMANDS[i].to_string(),
            confirmed: true,
        })),
        1 => (extreme_amount(), extreme_amount(), proptest::option::of(extreme_dur()),
              proptest::option::of(extreme_count()), any::<bool>(), -2000i64..2000, 1i64..2000)
            .prop_map(|(floor, ceiling, lead, release_step, exceed_ceiling, start, length)| {
                let start = at("2026-11-29T00:00:00Z") + Duration::minutes(start);
                Signal::Event(EventSignal {
                    by: "cli:prop".into(),
                    request: EventRequest::Add {
                        name: "extreme".into(),
                        event: Event {
                            start: Timestamp(start),
                            end: Timestamp(start + Duration::minutes(length)),
                            lead,
                            hold_scale_in: true,
                            release_step,
                            exceed_ceiling,
                            targets: [(
                                "api".to_string(),
                                Uplift { floor: Some(floor), ceiling: Some(ceiling) },
                            )]
                            .into(),
                        },
                    },
                })
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_extreme_number_makes_the_engine_panic(
        scale_out in extreme_dur(),
        scale_in in extreme_dur(),
        guard in proptest::option::of(extreme_dur()),
        rule_cooldown in proptest::option::of(extreme_dur()),
        pause in extreme_dur(),
        max_step in proptest::option::of(extreme_count()),
        lead in proptest::option::of(extreme_dur()),
        release_step in proptest::option::of(extreme_count()),
        launch_floor in extreme_amount(),
        desired in extreme_count(),
        per_unit in prop_oneof![Just(500.0), Just(f64::MIN_POSITIVE), Just(f64::MAX), Just(1e-300)],
        steps in proptest::collection::vec((0i64..600, extreme_signal()), 1..30),
    ) {
        // A policy that never went through `load`: the engine must hold on its own.
        let mut p = policy();
        let api = p.targets.get_mut("api").unwrap();
        api.cooldown.scale_out = scale_out;
        api.cooldown.scale_in = scale_in;
        api.cooldown.scale_in_guard = guard;
        api.max_step = max_step;
        p.rules.get_mut("cpu-critical").unwrap().cooldown = rule_cooldown;
        if let Some(capstan_policy::model::Action::FromMetric { per_unit: u, .. }) =
            p.rules.get_mut("queue").unwrap().action.as_mut()
        {
            *u = per_unit;
        }
        p.settings.default_pause = pause;
        let launch = p.events.get_mut("launch").unwrap();
        launch.lead = lead;
        launch.release_step = release_step;
        launch.targets.get_mut("ai").unwrap().floor = Some(launch_floor);

        let mut now = at("2026-11-30T12:00:00Z");
        let mut state = State::at_floor(&p);
        state.targets.get_mut("api").unwrap().desired = desired;
        for (gap, signal) in steps {
            now += Duration::minutes(gap);
            let d = decide(&p, &signal, &state, now);
            if let Signal::Alarm(a) = &signal {
                let bad = a.value.is_some_and(|v| !v.is_finite() || v < 0.0);
                if a.name == "ai-queue-deep" && bad {
                    let t = d.for_target("ai").expect("the queue rule decides on ai");
                    // Nothing changes: a pause is checked first, else the datapoint is named.
                    prop_assert!(
                        matches!(
                            t.outcome,
                            Outcome::Suppressed { reason: Reason::BadDatapoint | Reason::Paused { .. } }
                        ),
                        "{}", d.render()
                    );
                }
            }
            d.apply(&mut state);
            for inst in state.targets.keys() {
                let b = effective_bounds(&p, &state, inst, now);
                prop_assert!(b.floor <= b.ceiling);
            }
            let _ = d.render();
        }
    }

    #[test]
    fn a_relative_floor_uplift_and_the_hard_ceiling_agree_in_validator_and_engine(
        floor in prop_oneof![
            (0i64..40).prop_map(Amount::Delta),
            (0i64..1000).prop_map(Amount::Percent),
            (0u32..30).prop_map(Amount::Absolute),
            prop_oneof![Just(i64::MAX)].prop_map(Amount::Percent),
        ],
        ceiling in proptest::option::of(prop_oneof![
            (0i64..20).prop_map(Amount::Delta),
            (0i64..200).prop_map(Amount::Percent),
            (0u32..40).prop_map(Amount::Absolute),
        ]),
        exceed_ceiling in any::<bool>(),
        start_minutes in 0i64..(7 * 24 * 60),
        length in 60i64..(24 * 60),
        probes in proptest::collection::vec(0.0f64..1.0, 1..8),
    ) {
        // api: hard 2..20, business hours floor 4 (weekdays 08-20), night ceiling 10.
        let p = policy();
        let hard = &p.targets["api"];
        let start = at("2026-11-23T00:00:00Z") + Duration::minutes(start_minutes);
        let e = Event {
            start: Timestamp(start),
            end: Timestamp(start + Duration::minutes(length)),
            lead: None,
            hold_scale_in: true,
            release_step: None,
            exceed_ceiling,
            targets: [("api".to_string(), Uplift { floor: Some(floor), ceiling })].into(),
        };
        let accepted = event_problems(&p, "surge", &e).is_empty();
        let without = State::at_floor(&p);
        let mut with = without.clone();
        with.events.insert("surge".into(), e.clone());
        for probe in probes {
            let now = start + Duration::seconds((probe * (length * 60) as f64) as i64);
            let b0 = effective_bounds(&p, &without, "api", now);
            let b = effective_bounds(&p, &with, "api", now);
            if !exceed_ceiling {
                // The engine, whatever the validator says (a stored event may predate it).
                prop_assert!(
                    b.ceiling <= hard.ceiling,
                    "ceiling {} above the hard {} at {now}: {:?}", b.ceiling, hard.ceiling, b.why
                );
            }
            if accepted {
                // The validator accepted it: the engine raises the floor in force exactly as
                // the uplift says, never cut short, and keeps it under the ceiling it allowed.
                let raised = b0.floor.max(floor.apply(b0.floor));
                prop_assert_eq!(b.floor, raised, "{:?}", b.why);
                if !exceed_ceiling {
                    prop_assert!(b.floor <= hard.ceiling);
                }
            }
        }
    }
}
