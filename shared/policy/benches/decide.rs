//! How fast `decide` is on the example policy: an alarm, a schedule tick over every target, a
//! tick over a policy grown to 500 targets, and a budget alert. Throughput is one decision per
//! iteration, so criterion reports decisions per second.
//!
//! `cargo bench -p capstan-policy --bench decide -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use capstan_policy::model::{AlarmState, AlertType};
use capstan_policy::signal::{AlarmSignal, BudgetSignal, TickSignal};
use capstan_policy::{decide, load, Policy, Signal, State};
use chrono::{DateTime, TimeDelta, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const EXAMPLE: &str = include_str!("../../../capstan.example.toml");

/// Monday 2026-11-23 14:05 UTC: business hours, no event, no cap.
fn now() -> DateTime<Utc> {
    "2026-11-23T14:05:00Z".parse().expect("a valid instant")
}

fn example() -> Policy {
    load(EXAMPLE).expect("capstan.example.toml loads")
}

/// The example policy with `n` more targets shaped like `api`, each in every schedule that
/// names `api`, so that a tick has `n` more targets to bound and correct.
fn with_generated_targets(mut policy: Policy, n: usize) -> Policy {
    let template = policy.targets["api"].clone();
    let names: Vec<String> = (0..n).map(|i| format!("svc-{i:03}")).collect();
    for name in &names {
        let mut t = template.clone();
        t.service = Some(format!("{name}-service"));
        policy.targets.insert(name.clone(), t);
    }
    for schedule in policy.schedules.values_mut() {
        if schedule.targets.iter().any(|t| t == "api") {
            schedule.targets.extend(names.iter().cloned());
        }
    }
    policy
}

/// The state a tick sees in steady operation: the state after the tick five minutes earlier
/// (occurrences already marked, bounds already applied).
fn after_previous_tick(policy: &Policy, tick: &Signal) -> State {
    let mut state = State::at_floor(policy);
    decide(policy, tick, &state, now() - TimeDelta::minutes(5)).apply(&mut state);
    state
}

fn benches(c: &mut Criterion) {
    let policy = example();
    let tick = Signal::Tick(TickSignal::default());
    let mut group = c.benchmark_group("decide");
    group.throughput(Throughput::Elements(1));

    let alarm = Signal::Alarm(AlarmSignal {
        name: "api-cpu-critical".into(),
        state: AlarmState::Alarm,
        previous: Some(AlarmState::Ok),
        value: Some(91.7),
        suppressed: None,
    });
    let state = State::at_floor(&policy);
    // Each benchmark measures real work: a change, not a path that gives up early.
    assert!(decide(&policy, &alarm, &state, now()).changes_anything());
    group.bench_function("alarm api-cpu-critical", |b| {
        b.iter(|| {
            decide(
                black_box(&policy),
                black_box(&alarm),
                black_box(&state),
                now(),
            )
        })
    });

    let state = after_previous_tick(&policy, &tick);
    group.bench_function(
        format!("tick, example policy ({} targets)", policy.targets.len()),
        |b| {
            b.iter(|| {
                decide(
                    black_box(&policy),
                    black_box(&tick),
                    black_box(&state),
                    now(),
                )
            })
        },
    );

    let big = with_generated_targets(example(), 500);
    let big_state = after_previous_tick(&big, &tick);
    assert_eq!(
        decide(&big, &tick, &big_state, now()).targets.len(),
        big.targets.len(),
        "a tick decides on every target"
    );
    group.bench_function(format!("tick, {} targets", big.targets.len()), |b| {
        b.iter(|| {
            decide(
                black_box(&big),
                black_box(&tick),
                black_box(&big_state),
                now(),
            )
        })
    });

    let budget = Signal::Budget(BudgetSignal {
        budget: "AI-Service-Monthly".into(),
        alert_type: AlertType::Actual,
        threshold_percent: 100.0,
        budgeted: Some(5000.0),
        amount: Some(5000.0),
        sent_at: None,
    });
    let state = State::at_floor(&policy);
    assert!(decide(&policy, &budget, &state, now()).changes_anything());
    group.bench_function("budget AI-Service-Monthly 100%", |b| {
        b.iter(|| {
            decide(
                black_box(&policy),
                black_box(&budget),
                black_box(&state),
                now(),
            )
        })
    });

    group.finish();
}

criterion_group!(decide_benches, benches);
criterion_main!(decide_benches);
