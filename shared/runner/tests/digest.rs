//! A schedule tick tells people in one digest, once: whatever attempt dies where, the digest
//! that goes out is the one the first attempt to commit it fixed, and it lists what the
//! decision changed. And notifications published in a batch fail one by one: an entry refused
//! for good is counted as lost, one throttled is published by the retry, the others once.

use std::collections::BTreeSet;
use std::sync::Arc;

use capstan_aws::{ErrorKind, Notification};
use capstan_policy::signal::{Signal, TickSignal};
use capstan_runner::memory::{Fault, ManualClock, Memory, Op};
use capstan_runner::{Clock, Delivery, Report, ResultOutcome, RunError, Runner, SequentialIds};
use capstan_store::ReceiptState;
use chrono::{DateTime, Duration, Utc};

const POLICY: &str = include_str!("../../../capstan.example.toml");

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The example platform (as in `faults.rs`).
fn world() -> Memory {
    Memory::example_fleet(3, 2, 4, 3)
}

struct Run {
    memory: Memory,
    clock: ManualClock,
    runner: Runner,
}

fn run() -> Run {
    run_with(POLICY)
}

fn run_with(policy: &str) -> Run {
    run_with_at(policy, t("2026-11-23T08:00:04Z"))
}

fn run_with_at(policy: &str, now: DateTime<Utc>) -> Run {
    let memory = world();
    let clock = ManualClock::at(now);
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

/// The 08:00 boundary of a Monday: business hours and the morning occurrence.
fn boundary() -> Delivery {
    Delivery {
        signal: Signal::Tick(TickSignal::default()),
        key: "tick:2026-11-23T08:00:00Z".into(),
        at: Some(t("2026-11-23T08:00:00Z")),
    }
}

/// One invocation, killed at its 30 s timeout as Lambda kills it.
/// A run whose table saw a tick the evening before, so that the boundary's earlier
/// occurrences are Capstan's to miss (not a first tick's, which are not "missed"), with
/// nothing published or called yet; the clock at the boundary.
async fn run_seen(policy: &str) -> Run {
    let r = run_with_at(policy, t("2026-11-22T23:00:04Z"));
    let eve = Delivery {
        signal: Signal::Tick(TickSignal::default()),
        key: "tick:2026-11-22T23:00:00Z".into(),
        at: Some(t("2026-11-22T23:00:00Z")),
    };
    until_done(&r, &eve).await;
    r.clock.advance(Duration::hours(9));
    let mut w = r.memory.world();
    w.published.clear();
    w.calls.clear();
    drop(w);
    r
}

async fn invoke(r: &Run, d: &Delivery) -> Result<Report, RunError> {
    let deadline = r.clock.now() + Duration::seconds(30);
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

/// The invocation and Lambda's retries, a minute apart, until one succeeds.
async fn until_done(r: &Run, d: &Delivery) -> Report {
    for _ in 0..4 {
        if let Ok(report) = invoke(r, d).await {
            return report;
        }
        r.clock.advance(Duration::seconds(61));
    }
    invoke(r, d).await.expect("done within Lambda's retries")
}

fn digests(m: &Memory) -> Vec<Notification> {
    m.world()
        .published
        .iter()
        .filter(|n| n.action == "digest")
        .cloned()
        .collect()
}

/// The targets a digest lists, as `target from->to`.
fn listed(n: &Notification) -> BTreeSet<String> {
    n.body["digest"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}->{}",
                e["target"].as_str().unwrap(),
                e["from"]["desired"],
                e["to"]["desired"]
            )
        })
        .collect()
}

/// What the decision changed, as the report says, as `target from->to`.
fn changed(report: &Report) -> BTreeSet<String> {
    report
        .results
        .iter()
        .filter(|r| r.outcome == ResultOutcome::Changed)
        .map(|r| {
            format!(
                "{} {}->{}",
                r.target,
                r.from.unwrap().desired,
                r.to.unwrap().desired
            )
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_boundary_over_several_targets_is_one_digest_listing_every_change() {
    let r = run();
    let report = invoke(&r, &boundary()).await.unwrap();
    let changes = changed(&report);
    assert!(changes.len() >= 2, "{report:#?}");
    let d = digests(&r.memory);
    assert_eq!(d.len(), 1, "{:#?}", r.memory.world().published);
    assert_eq!(listed(&d[0]), changes);
    assert_eq!(d[0].dedup, "tick:2026-11-23T08:00:00Z/*digest");
    // No per-target notification of a change besides it.
    assert!(
        r.memory
            .world()
            .published
            .iter()
            .all(|n| n.action == "digest" || n.outcome != "changed"),
        "{:#?}",
        r.memory.world().published
    );
    for line in &changes {
        let (target, numbers) = line.split_once(' ').unwrap();
        let (from, to) = numbers.split_once("->").unwrap();
        assert!(
            d[0].text.contains(&format!("{target} {from} -> {to}")),
            "{line} in {}",
            d[0].text
        );
    }
    // Its receipt is done and empty; a redelivery publishes nothing.
    let published = r.memory.world().published.len();
    let receipt = r.memory.world().receipts[&(
        "tick:2026-11-23T08:00:00Z".to_string(),
        "*digest".to_string(),
    )]
        .clone();
    assert_eq!(receipt.state, ReceiptState::Done);
    assert!(receipt.notices.is_empty());
    r.clock.advance(Duration::minutes(1));
    invoke(&r, &boundary()).await.unwrap();
    assert_eq!(r.memory.world().published.len(), published);
}

/// The index of the call of kind `op` that comes `nth` from the end in the fault-free run.
async fn call_from_end(op: Op, nth: usize) -> usize {
    let clean = run();
    invoke(&clean, &boundary()).await.unwrap();
    let calls = clean.memory.world().calls.clone();
    let at: Vec<usize> = (0..calls.len()).filter(|i| calls[*i] == op).collect();
    at[at.len() - 1 - nth]
}

#[tokio::test(start_paused = true)]
async fn a_crash_between_publishing_the_digest_and_finishing_it_republishes_the_same_one() {
    let clean = run();
    let report = invoke(&clean, &boundary()).await.unwrap();
    let want = digests(&clean.memory);
    // The digest's publication is the last publish; its finish, the last commit.
    for (op, fault) in [
        (Op::Publish, Fault::HangAfter),
        (Op::Publish, Fault::LostAnswer),
        (Op::Commit, Fault::Hang),
        (Op::Commit, Fault::LostAnswer),
    ] {
        let r = run();
        r.memory.fault_at(call_from_end(op, 0).await, fault);
        until_done(&r, &boundary()).await;
        let got = digests(&r.memory);
        let context = format!("{fault:?} at the digest's last {op:?}");
        assert!(!got.is_empty(), "{context}: never lost");
        // Published again after an unconfirmed publication, maybe; always the same one.
        assert!(got.iter().all(|n| *n == want[0]), "{context}: {got:#?}");
        assert_eq!(listed(&got[0]), changed(&report), "{context}");
        let published = r.memory.world().published.len();
        r.clock.advance(Duration::minutes(5));
        invoke(&r, &boundary()).await.unwrap();
        assert_eq!(r.memory.world().published.len(), published, "{context}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_crash_after_every_target_is_done_but_before_the_digest_tells_it_on_the_retry() {
    let clean = run();
    let report = invoke(&clean, &boundary()).await.unwrap();
    let want = digests(&clean.memory);
    // The digest's commit (second commit from the end) never happens: the invocation dies at it.
    let r = run();
    r.memory
        .fault_at(call_from_end(Op::Commit, 1).await, Fault::Hang);
    assert!(invoke(&r, &boundary()).await.is_err());
    assert!(digests(&r.memory).is_empty());
    // Every target is done, and right: the retry finds them quiet, yet owes them the digest.
    r.clock.advance(Duration::seconds(61));
    let again = invoke(&r, &boundary()).await.unwrap();
    assert!(changed(&again).is_empty(), "{again:#?}");
    let got = digests(&r.memory);
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(listed(&got[0]), changed(&report));
    assert_eq!(listed(&got[0]), listed(&want[0]));
}

#[tokio::test(start_paused = true)]
async fn batch_entries_fail_alone_lost_for_good_or_published_by_the_retry() {
    // A tick after a night without ticks reports the night's occurrences missed: with two
    // more nightly schedules, three notices in one receipt, published in one batch.
    let more = POLICY.replace(
        "[schedules.morning-scale-up]",
        "[schedules.early-a]\ntargets = [\"frontend\"]\ncron = \"0 3 * * *\"\ndesired = 2\n\n\
         [schedules.early-b]\ntargets = [\"frontend\"]\ncron = \"0 4 * * *\"\ndesired = 2\n\n\
         [schedules.morning-scale-up]",
    );
    let clean = run_seen(&more).await;
    invoke(&clean, &boundary()).await.unwrap();
    let notices: Vec<Notification> = clean
        .memory
        .world()
        .published
        .iter()
        .filter(|n| n.action == "notify")
        .cloned()
        .collect();
    assert!(notices.len() >= 3, "{notices:#?}");
    let (lost, later) = (notices[0].dedup.clone(), notices[1].dedup.clone());
    let batches = |m: &Memory| {
        m.world()
            .calls
            .iter()
            .filter(|c| **c == Op::Publish)
            .count()
    };
    // One call for the notices (a batch), one for the digest.
    assert_eq!(batches(&clean.memory), 2);

    let r = run_seen(&more).await;
    {
        let mut w = r.memory.world();
        w.refused_notices.insert(lost.clone(), ErrorKind::Denied);
        w.refused_notices
            .insert(later.clone(), ErrorKind::Transient);
    }
    let first = invoke(&r, &boundary()).await;
    assert!(
        matches!(first, Err(RunError::Transient(_))),
        "a notice failed for now: {first:?}"
    );
    let told = |m: &Memory, dedup: &str| {
        m.world()
            .published
            .iter()
            .filter(|n| n.dedup == dedup)
            .count()
    };
    assert_eq!(told(&r.memory, &later), 0);
    for n in &notices[2..] {
        assert_eq!(told(&r.memory, &n.dedup), 1, "{}", n.dedup);
    }
    // The throttling passes; the refusal does not.
    r.memory.world().refused_notices.remove(&later);
    r.clock.advance(Duration::seconds(61));
    let report = until_done(&r, &boundary()).await;
    assert_eq!(
        told(&r.memory, &later),
        1,
        "{report:#?} {:#?}",
        r.memory
            .world()
            .published
            .iter()
            .map(|n| n.dedup.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(told(&r.memory, &lost), 0, "lost for good, never retried");
    for n in &notices[2..] {
        assert_eq!(told(&r.memory, &n.dedup), 1, "{}: once", n.dedup);
    }
    assert_eq!(digests(&r.memory).len(), 1);
    assert!(report.notify_failures <= 1, "{report:#?}");
    for ((key, scope), receipt) in &r.memory.world().receipts {
        assert_eq!(receipt.state, ReceiptState::Done, "{key}/{scope}");
        assert!(receipt.notices.is_empty(), "{key}/{scope}");
    }
}
