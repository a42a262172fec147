//! The fault matrix: every call point of an alarm, a schedule tick and a budget alert, under
//! every fault (fail before the effect, make it and lose the answer, make it and answer as an
//! SDK retry would, hang before or after it while the invocation is killed at its deadline),
//! followed by Lambda's retries. Whatever failed, the end is the fault-free run's: the same
//! capacity, no intent left, every receipt done, and everyone told of every change.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use capstan_aws::{ErrorKind, Live, Resource};
use capstan_policy::model::{AlarmState, AlertType};
use capstan_policy::signal::{AlarmSignal, BudgetSignal, Signal, TickSignal};
use capstan_runner::memory::{Fault, ManualClock, Memory, Op, FAULTS};
use capstan_runner::{Delivery, Report, ResultOutcome, RunError, Runner, SequentialIds};
use capstan_store::ReceiptState;
use chrono::{DateTime, Duration, Utc};

const POLICY: &str = include_str!("../../../capstan.example.toml");

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn ecs(service: &str) -> Resource {
    Resource::ecs("main-cluster", service)
}

fn live(desired: u32, bounds: Option<(u32, u32)>, managed: bool) -> Live {
    Live {
        desired,
        running: desired,
        min: bounds.map(|b| b.0),
        max: bounds.map(|b| b.1),
        managed,
    }
}

/// The example platform: api 3 and frontend 2 (plain ECS services), ai 4 (managed by target
/// tracking, 2..30), web 3 (an Auto Scaling group, 2..15).
fn world() -> Memory {
    Memory::example_fleet(3, 2, 4, 3)
}

#[derive(Debug, Clone)]
struct Scenario {
    name: &'static str,
    delivery: Delivery,
    clock: DateTime<Utc>,
}

fn alarm(name: &str, value: f64) -> Signal {
    Signal::Alarm(AlarmSignal {
        name: name.into(),
        state: AlarmState::Alarm,
        previous: None,
        value: Some(value),
        suppressed: None,
    })
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "alarm",
            delivery: Delivery {
                signal: alarm("api-cpu-critical", 91.7),
                key: "alarm:api-cpu-critical:2026-11-23T10:00:00.000+0000".into(),
                at: None,
            },
            clock: t("2026-11-23T10:00:00Z"),
        },
        Scenario {
            name: "tick",
            delivery: Delivery {
                signal: Signal::Tick(TickSignal::default()),
                key: "tick:2026-11-23T08:00:00Z".into(),
                at: Some(t("2026-11-23T08:00:00Z")),
            },
            clock: t("2026-11-23T08:00:04Z"),
        },
        Scenario {
            name: "budget",
            delivery: Delivery {
                signal: Signal::Budget(BudgetSignal {
                    budget: "AI-Service-Monthly".into(),
                    alert_type: AlertType::Actual,
                    threshold_percent: 100.0,
                    budgeted: Some(5000.0),
                    amount: Some(5012.0),
                    sent_at: Some(t("2026-11-23T10:00:00Z")),
                }),
                key: "budget:AI-Service-Monthly:ACTUAL:100:2026-11".into(),
                at: None,
            },
            clock: t("2026-11-23T10:00:01Z"),
        },
    ]
}

struct Run {
    memory: Memory,
    clock: ManualClock,
    runner: Runner,
}

fn run_for(s: &Scenario) -> Run {
    run_with(world(), POLICY, s.clock)
}

/// A runner over `memory` for `policy`, its clock pinned at `at`.
fn run_with(memory: Memory, policy: &str, at: DateTime<Utc>) -> Run {
    let clock = ManualClock::at(at);
    let runner = Runner::with_ports(
        capstan_policy::load(policy).unwrap(),
        memory.ports(),
        Arc::new(clock.clone()),
    )
    .with_ids(Arc::new(SequentialIds::default()))
    .with_metrics(false);
    Run {
        memory,
        clock,
        runner,
    }
}

/// One invocation, killed as Lambda kills it when it runs past its 30 s timeout.
async fn invoke(r: &Run, d: &Delivery) -> Result<Report, RunError> {
    let deadline = r.clock.now_plus(Duration::seconds(30));
    match tokio::time::timeout(
        std::time::Duration::from_secs(30),
        r.runner.handle_by(d, deadline),
    )
    .await
    {
        Ok(out) => out,
        Err(_) => Err(RunError::OutOfTime("killed at the timeout".into())),
    }
}

trait NowPlus {
    fn now_plus(&self, d: Duration) -> DateTime<Utc>;
}

impl NowPlus for ManualClock {
    fn now_plus(&self, d: Duration) -> DateTime<Utc> {
        use capstan_runner::Clock;
        self.now() + d
    }
}

/// The invocation, then Lambda's retries a minute apart until one succeeds: how many it took.
async fn invoke_until_done(r: &Run, d: &Delivery, most: usize) -> (usize, Report) {
    let mut last = invoke(r, d).await;
    for retry in 0..=most {
        if let Ok(report) = last {
            return (retry, report);
        }
        r.clock.advance(Duration::seconds(61));
        last = invoke(r, d).await;
    }
    panic!("still failing after {most} retries: {last:?}");
}

/// What a run ends with: capacity on AWS, and what people were told (by dedup id).
#[derive(Debug, PartialEq)]
struct End {
    live: BTreeMap<Resource, Live>,
    told: BTreeSet<String>,
}

fn end(m: &Memory) -> End {
    let w = m.world();
    End {
        live: w.live.clone(),
        told: w.published.iter().map(|n| n.dedup.clone()).collect(),
    }
}

/// Nothing left half done: no intent on any record, every receipt done.
fn assert_settled(m: &Memory, context: &str) {
    let w = m.world();
    for (name, rec) in &w.records {
        assert!(
            rec.pending.is_none(),
            "{context}: {name} still holds an intent: {:?}",
            rec.pending
        );
    }
    for ((key, scope), r) in &w.receipts {
        assert_eq!(
            r.state,
            ReceiptState::Done,
            "{context}: receipt {key}/{scope} is not done"
        );
        assert!(
            r.notices.is_empty(),
            "{context}: {key}/{scope} has notices left"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_fault_free_runs_change_and_tell() {
    for s in scenarios() {
        let r = run_for(&s);
        let report = invoke(&r, &s.delivery).await.unwrap();
        let e = end(&r.memory);
        assert_settled(&r.memory, s.name);
        assert!(
            report
                .results
                .iter()
                .any(|x| x.outcome == ResultOutcome::Changed),
            "{}: {report:#?}",
            s.name
        );
        assert!(!e.told.is_empty(), "{}", s.name);
        match s.name {
            "alarm" => assert_eq!(e.live[&ecs("api-service")].desired, 5),
            "tick" => {
                assert_eq!(
                    e.live[&ecs("api-service")].desired,
                    4,
                    "business-hours floor"
                );
                assert_eq!(
                    e.live[&ecs("frontend-service")].desired,
                    4,
                    "morning-scale-up"
                );
            }
            "budget" => assert_eq!(
                (
                    e.live[&ecs("ai-service")].min,
                    e.live[&ecs("ai-service")].max
                ),
                (Some(2), Some(2)),
                "ai capped at its floor"
            ),
            _ => unreachable!(),
        }
        // The same delivery again: answered with the stored result, nothing new.
        let calls = r.memory.world().changes.len();
        let again = invoke(&r, &s.delivery).await.unwrap();
        assert_eq!(r.memory.world().changes.len(), calls, "{}", s.name);
        assert_eq!(end(&r.memory), e, "{}", s.name);
        // (A tick is level-triggered, and a cap already in force is too: they find the targets
        // right and say nothing.)
        assert!(
            again
                .results
                .iter()
                .filter(|x| x.target != "*")
                .all(|x| x.outcome == ResultOutcome::Duplicate
                    || x.reason.as_deref() == Some("already-right")),
            "{}: {again:#?}",
            s.name
        );
        if s.name == "alarm" {
            let first = again
                .results
                .iter()
                .find(|x| x.first == Some(ResultOutcome::Changed));
            assert!(
                first.is_some(),
                "{}: a duplicate says what was done: {again:#?}",
                s.name
            );
        }
    }
}

/// Where the first call of kind `op` comes in the fault-free run of `s` (a fault programmed at
/// that index hits it: the calls before it are the same).
async fn first_call(s: &Scenario, op: Op) -> usize {
    let clean = run_for(s);
    invoke(&clean, &s.delivery).await.unwrap();
    let calls = clean.memory.world().calls.clone();
    calls.iter().position(|c| *c == op).unwrap()
}

/// Faults that a retry heals: the end must be the fault-free one.
const HEALABLE: [Fault; 5] = [
    Fault::Before(ErrorKind::Transient),
    Fault::LostAnswer,
    Fault::Replayed,
    Fault::Hang,
    Fault::HangAfter,
];

#[tokio::test(start_paused = true)]
async fn every_fault_at_every_call_point_ends_as_the_fault_free_run() {
    let mut cases = 0;
    let mut extra_notices = 0;
    let mut most_retries = 0;
    for s in scenarios() {
        let clean = run_for(&s);
        invoke(&clean, &s.delivery).await.unwrap();
        let want = end(&clean.memory);
        let points = clean.memory.calls();
        assert!(points >= 5, "{}: {points} calls", s.name);
        for i in 0..points {
            for fault in HEALABLE {
                let r = run_for(&s);
                r.memory.fault_at(i, fault);
                let (retries, _) = invoke_until_done(&r, &s.delivery, 4).await;
                let context = format!(
                    "{}: {fault:?} at call {i} ({:?})",
                    s.name,
                    r.memory.world().calls.get(i)
                );
                assert_eq!(end(&r.memory), want, "{context}");
                assert_settled(&r.memory, &context);
                let published = r.memory.world().published.len();
                extra_notices += published - want.told.len();
                most_retries = most_retries.max(retries);
                cases += 1;
                // And it stays so: a late redelivery changes nothing and tells nobody.
                r.clock.advance(Duration::minutes(5));
                invoke(&r, &s.delivery).await.unwrap();
                assert_eq!(end(&r.memory), want, "{context}: redelivered");
                assert_eq!(r.memory.world().published.len(), published, "{context}");
            }
        }
    }
    assert!(cases > 100, "{cases} cases");
    // At least once, never lost: a republication only after an unconfirmed publish.
    println!("{cases} cases; {extra_notices} republications; at most {most_retries} retries");
    assert!(
        most_retries <= 2,
        "Lambda retries an async event twice: {most_retries}"
    );
}

/// The writes after a failed call (the release that keeps the intent for the retry, the undo
/// that takes a refused change back out) meet a second fault at each of the calls that follow:
/// the end is still the one the first fault alone gives. (Found by the random fault test: a
/// release whose write landed with its answer lost read the record again and cleared the
/// intent, so the change was recorded as made and never made.)
#[tokio::test(start_paused = true)]
async fn a_second_fault_while_a_failed_call_is_released_or_undone_changes_nothing() {
    let mut cases = 0;
    for s in scenarios() {
        let execute = first_call(&s, Op::Execute).await;
        for first in [
            Fault::Before(ErrorKind::Transient),
            Fault::Before(ErrorKind::Denied),
        ] {
            let alone = run_for(&s);
            alone.memory.fault_at(execute, first);
            invoke_until_done(&alone, &s.delivery, 4).await;
            let want = end(&alone.memory);
            let after = alone.memory.calls() - execute;
            // After a refusal, a second fault that kills the attempt before its undo is written
            // leaves the intent for the retry, which makes the call again: here AWS (healed)
            // accepts it, in life it refuses again and the retry undoes. Neither ends as the
            // refusal alone, so only the faults an attempt survives are paired with a refusal.
            let seconds: Vec<Fault> = HEALABLE
                .into_iter()
                .filter(|f| {
                    first == Fault::Before(ErrorKind::Transient)
                        || !matches!(f, Fault::Hang | Fault::HangAfter)
                })
                .collect();
            for j in execute + 1..execute + after.min(10) {
                for &second in &seconds {
                    let r = run_for(&s);
                    r.memory.fault_at(execute, first);
                    r.memory.fault_at(j, second);
                    invoke_until_done(&r, &s.delivery, 6).await;
                    let context = format!(
                        "{}: {first:?} on the call, then {second:?} at call {j} ({:?})",
                        s.name,
                        r.memory.world().calls.get(j)
                    );
                    assert_eq!(end(&r.memory).live, want.live, "{context}");
                    assert_eq!(end(&r.memory).told, want.told, "{context}");
                    assert_settled(&r.memory, &context);
                    let w = r.memory.world();
                    for (name, rec) in &w.records {
                        assert_eq!(
                            rec.state.desired,
                            alone.memory.world().records[name].state.desired,
                            "{context}: {name}'s record"
                        );
                    }
                    cases += 1;
                }
            }
        }
    }
    assert!(cases > 100, "{cases} cases");
}

#[tokio::test(start_paused = true)]
async fn access_denied_on_the_change_is_undone_announced_once_and_not_retried() {
    let s = &scenarios()[0];
    let execute = first_call(s, Op::Execute).await;
    let r = run_for(s);
    r.memory.fault_at(execute, Fault::Before(ErrorKind::Denied));
    let report = invoke(&r, &s.delivery).await.unwrap();
    let api = report.results.iter().find(|x| x.target == "api").unwrap();
    assert_eq!(api.outcome, ResultOutcome::Failed, "{report:#?}");
    assert!(api.error.as_deref().unwrap().contains("AccessDenied"));
    {
        let w = r.memory.world();
        assert_eq!(w.live[&ecs("api-service")].desired, 3);
        let rec = &w.records["api"];
        assert!(rec.pending.is_none());
        assert!(
            rec.state.history.is_empty(),
            "no cooldown for what never happened"
        );
        assert!(rec.last_error.as_deref().unwrap().contains("AccessDenied"));
        assert_eq!(w.published.len(), 1);
        assert_eq!(w.published[0].outcome, "failed");
    }
    // A redelivery answers with the failure; it does not try again.
    let again = invoke(&r, &s.delivery).await.unwrap();
    assert_eq!(again.results[0].outcome, ResultOutcome::Duplicate);
    assert_eq!(again.results[0].first, Some(ResultOutcome::Failed));
    assert_eq!(r.memory.world().published.len(), 1);
    assert!(r.memory.world().changes.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_concurrent_duplicate_waits_and_never_reports_duplicate_while_in_progress() {
    let s = &scenarios()[0];
    let r = run_for(s);
    // The first attempt hangs on its call after committing: it holds the intent.
    let execute = first_call(s, Op::Execute).await;
    r.memory.fault_at(execute, Fault::Hang);
    let killed = invoke(&r, &s.delivery).await;
    assert!(killed.is_err());
    // Within the owner's deadline a duplicate is in progress, not a duplicate.
    let err = invoke(&r, &s.delivery).await.unwrap_err();
    assert!(matches!(err, RunError::InProgress(_)), "{err}");
    assert_eq!(r.memory.world().live[&ecs("api-service")].desired, 3);
    // After it, the retry completes the intent: once, and tells.
    r.clock.advance(Duration::seconds(61));
    let report = invoke(&r, &s.delivery).await.unwrap();
    let api = report.results.iter().find(|x| x.target == "api").unwrap();
    assert_eq!(api.outcome, ResultOutcome::Changed, "{report:#?}");
    assert!(api.explanation.contains("completed by a later attempt"));
    assert_eq!(r.memory.world().live[&ecs("api-service")].desired, 5);
    assert_eq!(r.memory.world().published.len(), 1);
    assert_settled(&r.memory, "recovered");
}

#[tokio::test(start_paused = true)]
async fn another_signal_completes_an_abandoned_intent_before_deciding_on_top() {
    let s = &scenarios()[0];
    let r = run_for(s);
    let execute = first_call(s, Op::Execute).await;
    r.memory.fault_at(execute, Fault::Hang);
    assert!(invoke(&r, &s.delivery).await.is_err());
    // No retry ever comes (the DLQ took it); ten minutes later another alarm on api.
    r.clock.advance(Duration::minutes(10));
    let other = Delivery {
        signal: alarm("api-cpu-high", 80.0),
        key: "alarm:api-cpu-high:2026-11-23T10:10:00.000+0000".into(),
        at: None,
    };
    let report = invoke(&r, &other).await.unwrap();
    assert_eq!(report.recovered.len(), 1, "{report:#?}");
    assert_eq!(report.recovered[0].outcome, ResultOutcome::Changed);
    // 3 -> 5 completed, then +1 on top of it.
    assert_eq!(r.memory.world().live[&ecs("api-service")].desired, 6);
    assert_eq!(r.memory.world().published.len(), 2);
    assert_settled(&r.memory, "completed by another signal");
}

#[tokio::test(start_paused = true)]
async fn an_intent_older_than_the_retry_window_is_undone_not_made() {
    let s = &scenarios()[0];
    let r = run_for(s);
    let execute = first_call(s, Op::Execute).await;
    r.memory.fault_at(execute, Fault::Hang);
    assert!(invoke(&r, &s.delivery).await.is_err());
    r.clock.advance(Duration::minutes(20));
    let report = invoke(&r, &s.delivery).await.unwrap();
    let api = &report.results[0];
    assert_eq!(api.outcome, ResultOutcome::Failed, "{report:#?}");
    assert!(
        api.error.as_deref().unwrap().contains("abandoned"),
        "{api:?}"
    );
    let w = r.memory.world();
    assert_eq!(
        w.live[&ecs("api-service")].desired,
        3,
        "stale capacity is not made"
    );
    assert!(w.records["api"].state.history.is_empty());
    assert_eq!(w.published.len(), 1);
    assert_eq!(w.published[0].outcome, "failed");
}

#[tokio::test(start_paused = true)]
async fn no_new_target_starts_too_close_to_the_deadline() {
    let s = &scenarios()[1];
    let r = run_for(s);
    let deadline = s.clock + Duration::seconds(2);
    let err = r.runner.handle_by(&s.delivery, deadline).await.unwrap_err();
    assert!(matches!(err, RunError::OutOfTime(_)), "{err}");
    assert!(r.memory.world().changes.is_empty());
    assert!(r.memory.world().receipts.is_empty(), "nothing committed");
    // With time, the retry does it all.
    let (_, report) = invoke_until_done(&r, &s.delivery, 1).await;
    assert!(report
        .results
        .iter()
        .any(|x| x.outcome == ResultOutcome::Changed));
}

#[test]
fn every_fault_kind_is_in_the_matrix() {
    for f in FAULTS {
        let denied = matches!(f, Fault::Before(ErrorKind::Denied));
        assert!(denied || HEALABLE.contains(&f), "{f:?}");
    }
}

mod random {
    //! Random faults at random call points over random signal sequences end as the fault-free
    //! run does.
    use super::*;
    use proptest::prelude::*;

    fn pool(i: usize, at: DateTime<Utc>) -> Delivery {
        let stamp = at.format("%Y-%m-%dT%H:%M:%S%.3f+0000");
        let alarm_of = |name: &str, value: f64| Delivery {
            signal: alarm(name, value),
            key: format!("alarm:{name}:{stamp}"),
            at: None,
        };
        match i {
            0 => alarm_of("api-cpu-critical", 91.0),
            1 => alarm_of("api-cpu-high", 80.0),
            2 => alarm_of("api-cpu-low", 10.0),
            3 => alarm_of("web-cpu-critical", 95.0),
            4 => alarm_of("web-cpu-low", 5.0),
            5 => alarm_of("ai-queue-deep", 500.0),
            6 => alarm_of("ai-queue-shallow", 1.0),
            7 => Delivery {
                signal: Signal::Tick(TickSignal::default()),
                key: format!("tick:{}", at.to_rfc3339()),
                at: Some(at),
            },
            _ => Delivery {
                signal: Signal::Budget(BudgetSignal {
                    budget: "AI-Service-Monthly".into(),
                    alert_type: AlertType::Actual,
                    threshold_percent: 100.0,
                    budgeted: Some(5000.0),
                    amount: Some(5100.0),
                    sent_at: Some(at),
                }),
                key: "budget:AI-Service-Monthly:ACTUAL:100:2026-11".into(),
                at: None,
            },
        }
    }

    fn healable() -> impl Strategy<Value = Fault> {
        prop::sample::select(HEALABLE.to_vec())
    }

    /// A step: which signal, and up to two faults (call index from the start of its first
    /// invocation, kind).
    fn step() -> impl Strategy<Value = (usize, Vec<(usize, Fault)>)> {
        (
            0usize..9,
            prop::collection::vec((0usize..24, healable()), 0..3),
        )
    }

    fn run(steps: &[(usize, Vec<(usize, Fault)>)], faulty: bool) -> Memory {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let start = t("2026-11-23T09:10:00Z");
            let s = Scenario {
                name: "random",
                delivery: pool(0, start),
                clock: start,
            };
            let r = run_for(&s);
            for (n, (i, faults)) in steps.iter().enumerate() {
                // 90 minutes apart: cooldowns, guards and the hourly limit do not depend on how
                // many minutes the retries took.
                let at = start + Duration::minutes(90 * n as i64);
                r.clock.set(at);
                let d = pool(*i, at);
                if faulty {
                    for (k, f) in faults {
                        r.memory.fault_at(*k, *f);
                    }
                }
                invoke_until_done(&r, &d, 6).await;
                r.memory.heal();
            }
            r.memory
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        #[test]
        fn random_faults_end_as_the_fault_free_run(
            steps in prop::collection::vec(step(), 1..6)
        ) {
            let clean = run(&steps, false);
            let faulty = run(&steps, true);
            let (want, got) = (end(&clean), end(&faulty));
            prop_assert_eq!(&got.live, &want.live);
            prop_assert_eq!(&got.told, &want.told);
            assert_settled(&faulty, "random");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn an_occurrence_whose_change_is_refused_is_not_marked_done() {
    // The 08:00 tick: frontend's morning-scale-up occurrence. AWS refuses frontend's call.
    let s = &scenarios()[1];
    let r = run_for(s);
    let clean = run_for(s);
    invoke(&clean, &s.delivery).await.unwrap();
    assert!(
        clean.memory.world().records["frontend"]
            .state
            .occurrences
            .contains_key("morning-scale-up"),
        "the fault-free tick marks the occurrence"
    );
    r.memory
        .world()
        .refused
        .insert(ecs("frontend-service"), ErrorKind::Denied);
    let report = invoke(&r, &s.delivery).await.unwrap();
    assert!(
        report
            .results
            .iter()
            .any(|x| x.target == "frontend" && x.outcome == ResultOutcome::Failed),
        "{report:#?}"
    );
    {
        let w = r.memory.world();
        let rec = &w.records["frontend"];
        assert!(
            !rec.state.occurrences.contains_key("morning-scale-up"),
            "the mark is restored: {:?}",
            rec.state.occurrences
        );
        assert_eq!(w.live[&ecs("frontend-service")].desired, 2);
    }
    // AWS allows it again; the next tick, within catch-up, still makes the occurrence.
    r.memory.world().refused.clear();
    r.clock.advance(Duration::minutes(5));
    let next = Delivery {
        signal: Signal::Tick(TickSignal::default()),
        key: "tick:2026-11-23T08:05:00Z".into(),
        at: Some(t("2026-11-23T08:05:00Z")),
    };
    invoke(&r, &next).await.unwrap();
    assert_eq!(r.memory.live(&ecs("frontend-service")).unwrap().desired, 4);
    assert_settled(&r.memory, "after the next tick");
}

#[tokio::test(start_paused = true)]
async fn a_tick_from_the_future_never_sets_a_tick_time_past_now() {
    let s = &scenarios()[1];
    let r = run_for(s);
    let ahead = Delivery {
        at: Some(s.clock + Duration::minutes(4)),
        key: "tick:ahead".into(),
        ..s.delivery.clone()
    };
    invoke(&r, &ahead).await.unwrap();
    let w = r.memory.world();
    for (name, rec) in &w.records {
        if let Some(at) = rec.tick_at {
            assert!(
                at <= s.clock,
                "{name}: tick_at {at} is past now {}",
                s.clock
            );
        }
    }
    assert!(w.records.values().any(|r| r.tick_at.is_some()));
}

#[tokio::test(start_paused = true)]
async fn a_describe_that_is_refused_for_good_is_announced_once_and_not_retried() {
    let s = &scenarios()[0];
    let r = run_for(s);
    let describe = first_call(s, Op::Describe).await;
    r.memory
        .fault_at(describe, Fault::Before(ErrorKind::Denied));
    let report = invoke(&r, &s.delivery).await.unwrap();
    assert_eq!(
        report.results[0].outcome,
        ResultOutcome::Failed,
        "{report:#?}"
    );
    assert!(report.results[0]
        .error
        .as_deref()
        .unwrap()
        .contains("AccessDenied"));
    assert_eq!(r.memory.world().published.len(), 1);
    // Delivered again (SNS retries, say) while it is still refused: not announced again.
    // (The same calls come first, so the describe is at the same place.)
    r.memory
        .fault_at(describe, Fault::Before(ErrorKind::Denied));
    let again = invoke(&r, &s.delivery).await.unwrap();
    assert_eq!(r.memory.world().published.len(), 1, "{again:#?}");
    assert_eq!(r.memory.world().live[&ecs("api-service")].desired, 3);
}

/// A boundary over more targets than the runner handles at once: its commits are batched
/// (groups of [`capstan_runner::TARGET_CONCURRENCY`]), and every fault at every call of it,
/// a batched commit's included, still ends as the fault-free run.
mod fleet {
    use super::*;

    const TARGETS: usize = 12;

    fn service(i: usize) -> String {
        format!("svc-{i:02}")
    }

    fn policy() -> String {
        let mut p = String::from("[settings]\nzone = \"UTC\"\n\n");
        for i in 0..TARGETS {
            let s = service(i);
            p.push_str(&format!(
                "[targets.{s}]\nkind = \"ecs\"\ncluster = \"main-cluster\"\nservice = \"{s}\"\nfloor = 1\nceiling = 20\n\n"
            ));
        }
        let all: Vec<String> = (0..TARGETS)
            .map(|i| format!("\"{}\"", service(i)))
            .collect();
        p.push_str(&format!(
            "[schedules.business-hours]\ntargets = [{}]\nweekdays = [\"mon-fri\"]\nbegin = \"08:00\"\nend = \"20:00\"\nfloor = 4\nceiling = 20\n",
            all.join(", ")
        ));
        p
    }

    fn run() -> Run {
        let memory = Memory::new();
        for i in 0..TARGETS {
            memory.add(ecs(&service(i)), live(2, None, false));
        }
        run_with(memory, &policy(), t("2026-11-23T08:00:04Z"))
    }

    fn tick() -> Delivery {
        Delivery {
            signal: Signal::Tick(TickSignal::default()),
            key: "tick:2026-11-23T08:00:00Z".into(),
            at: Some(t("2026-11-23T08:00:00Z")),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_boundary_commits_once_per_step_for_each_group_of_targets_at_work() {
        let r = run();
        invoke(&r, &tick()).await.unwrap();
        let w = r.memory.world();
        assert!(w.live.values().all(|l| l.desired == 4), "{:?}", w.live);
        let count = |op: Op| w.calls.iter().filter(|c| **c == op).count();
        assert_eq!(count(Op::Execute), TARGETS);
        // Groups of 8 and 4: each commits its intents, then finishes, in one transaction.
        let groups = TARGETS.div_ceil(capstan_runner::TARGET_CONCURRENCY);
        assert_eq!(
            count(Op::Commit),
            2 * groups + 2,
            "and the digest's receipt, in progress then done: {:?}",
            w.calls
        );
    }

    #[tokio::test(start_paused = true)]
    async fn every_fault_at_every_call_of_a_batched_boundary_ends_as_the_fault_free_run() {
        let clean = run();
        invoke(&clean, &tick()).await.unwrap();
        let want = end(&clean.memory);
        let points = clean.memory.calls();
        let mut cases = 0;
        for i in 0..points {
            for fault in HEALABLE {
                let r = run();
                r.memory.fault_at(i, fault);
                invoke_until_done(&r, &tick(), 4).await;
                let context = format!(
                    "{fault:?} at call {i} ({:?})",
                    r.memory.world().calls.get(i)
                );
                assert_eq!(end(&r.memory), want, "{context}");
                assert_settled(&r.memory, &context);
                // Each target changed once: one effect each, however the faults fell.
                let changes = r.memory.world().changes.len();
                assert_eq!(changes, TARGETS, "{context}: changes made");
                cases += 1;
            }
        }
        assert!(cases >= 5 * (TARGETS + 4), "{cases} cases");
    }
}
