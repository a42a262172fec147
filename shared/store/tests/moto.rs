//! The state table against moto: creation, versions, receipts, the log, caps.

use capstan_moto::Moto;
use capstan_policy::decision::Capacity;
use capstan_policy::state::{BudgetCap, TargetState};
use capstan_store::{
    BatchError, Commit, CommitError, Expect, LogEntry, Pending, Receipt, ReceiptState, Store,
    TargetRecord,
};
use chrono::{DateTime, Duration, Utc};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn store(moto: &Moto) -> Store {
    let cfg = moto.sdk_config().await;
    let store = Store::new(aws_sdk_dynamodb::Client::new(&cfg), "capstan-state");
    assert!(store.create_table().await.unwrap(), "first create creates");
    store
}

fn receipt(key: &str, scope: &str, attempt: &str, state: ReceiptState) -> Receipt {
    Receipt {
        key: key.into(),
        scope: scope.into(),
        attempt: attempt.into(),
        at: t("2026-11-23T10:00:00Z"),
        state,
        summary: "test".into(),
        result: serde_json::json!([{"outcome": "changed"}]),
        notices: Vec::new(),
    }
}

fn idem(key: &str, scope: &str) -> Option<(Receipt, Expect)> {
    Some((receipt(key, scope, "a1", ReceiptState::Done), Expect::New))
}

fn entry(at: DateTime<Utc>, key: &str, target: &str, to: u32) -> LogEntry {
    LogEntry {
        at,
        key: key.into(),
        target: target.into(),
        source: "rule:r".into(),
        signal: "alarm a -> ALARM".into(),
        outcome: "changed".into(),
        from: None,
        to: Some(Capacity {
            desired: to,
            min: 2,
            max: 20,
        }),
        explanation: format!("to {to}"),
        ..LogEntry::default()
    }
}

#[tokio::test]
async fn create_is_idempotent_and_enables_ttl() {
    let moto = Moto::start().await;
    let store = store(&moto).await;
    assert!(
        !store.create_table().await.unwrap(),
        "second create finds it"
    );
    let cfg = moto.sdk_config().await;
    let ttl = aws_sdk_dynamodb::Client::new(&cfg)
        .describe_time_to_live()
        .table_name("capstan-state")
        .send()
        .await
        .unwrap();
    assert_eq!(
        ttl.time_to_live_description()
            .and_then(|d| d.attribute_name()),
        Some("expires_at")
    );
}

#[tokio::test]
async fn versions_serialize_writers_and_keys_stop_duplicates() {
    let moto = Moto::start().await;
    let store = store(&moto).await;
    let now = t("2026-11-23T10:00:00Z");

    // A new record is written at version 1.
    let mut rec = TargetRecord::new(TargetState::new("api", 3, 2, 20), now);
    let first = Commit {
        receipt: idem("k1", "api"),
        record: Some(("api".into(), rec.clone())),
        log: vec![entry(now, "k1", "api", 3)],
        ..Commit::default()
    };
    store.commit(&first, now).await.unwrap();
    let loaded = store
        .load_targets(&["api".into(), "nope".into()])
        .await
        .unwrap();
    assert_eq!(loaded.len(), 1, "absent instances are absent");
    assert_eq!(loaded["api"].version, 1);
    assert_eq!(loaded["api"].state.desired, 3);

    // The same key again is a duplicate, even with a good version; nothing is written.
    rec.version = 1;
    rec.state.desired = 9;
    let dup = Commit {
        receipt: idem("k1", "api"),
        record: Some(("api".into(), rec.clone())),
        ..Commit::default()
    };
    assert!(matches!(
        store.commit(&dup, now).await,
        Err(CommitError::Duplicate)
    ));
    assert_eq!(
        store.load_targets(&["api".into()]).await.unwrap()["api"]
            .state
            .desired,
        3
    );

    // A stale version is a conflict; nothing is written, not even the key.
    let mut stale = rec.clone();
    stale.version = 0;
    let conflict = Commit {
        receipt: idem("k2", "api"),
        record: Some(("api".into(), stale)),
        ..Commit::default()
    };
    assert!(matches!(
        store.commit(&conflict, now).await,
        Err(CommitError::Conflict)
    ));
    assert_eq!(store.receipt("k2", "api").await.unwrap(), None);

    // The right version wins and bumps it, with a pending action.
    rec.pending = Some(Pending {
        key: "k2".into(),
        at: now,
        source: "rule:r".into(),
        from: Capacity {
            desired: 3,
            min: 2,
            max: 20,
        },
        to: Capacity {
            desired: 9,
            min: 2,
            max: 20,
        },
        attempt: "a1".into(),
        deadline: Some(now + Duration::seconds(40)),
        plan: None,
        prior: None,
    });
    let ok = Commit {
        receipt: idem("k2", "api"),
        record: Some(("api".into(), rec)),
        log: vec![entry(now + Duration::seconds(1), "k2", "api", 9)],
        ..Commit::default()
    };
    store.commit(&ok, now).await.unwrap();
    let back = &store.load_targets(&["api".into()]).await.unwrap()["api"];
    assert_eq!(back.version, 2);
    assert_eq!(back.state.desired, 9);
    assert_eq!(back.pending.as_ref().map(|p| p.key.as_str()), Some("k2"));
    assert_eq!(
        store.receipt("k2", "api").await.unwrap(),
        idem("k2", "api").map(|(r, _)| r)
    );

    // The log reads newest first.
    let log = store.recent_log("api", 10).await.unwrap();
    assert_eq!(
        log.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
        ["k2", "k1"]
    );
    assert_eq!(store.all_targets().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_receipt_moves_on_only_under_its_attempt() {
    let moto = Moto::start().await;
    let store = store(&moto).await;
    let now = t("2026-11-23T10:00:00Z");
    let deadline = now + Duration::seconds(40);
    let open = receipt("k", "api", "a1", ReceiptState::InProgress { deadline });
    let write = |r: &Receipt, expect: Expect| Commit {
        receipt: Some((r.clone(), expect)),
        ..Commit::default()
    };
    store.commit(&write(&open, Expect::New), now).await.unwrap();
    let got = store.receipt("k", "api").await.unwrap().unwrap();
    assert_eq!(got.state, ReceiptState::InProgress { deadline });
    assert_eq!(got.attempt, "a1");

    // Another attempt cannot move it on; nothing changes.
    let other = receipt("k", "api", "a2", ReceiptState::Done);
    assert!(matches!(
        store
            .commit(&write(&other, Expect::Attempt("a2".into())), now)
            .await,
        Err(CommitError::Duplicate)
    ));
    assert_eq!(
        store.receipt("k", "api").await.unwrap().unwrap().attempt,
        "a1"
    );

    // A takeover names the attempt it read; then the new owner finishes it.
    let taken = receipt("k", "api", "a2", ReceiptState::InProgress { deadline });
    store
        .commit(&write(&taken, Expect::Attempt("a1".into())), now)
        .await
        .unwrap();
    store
        .commit(&write(&other, Expect::Attempt("a2".into())), now)
        .await
        .unwrap();
    let done = store.receipt("k", "api").await.unwrap().unwrap();
    assert_eq!(done.state, ReceiptState::Done);
    assert_eq!(done.attempt, "a2");
    // The first owner, back too late, cannot undo it.
    assert!(matches!(
        store
            .commit(&write(&open, Expect::Attempt("a1".into())), now)
            .await,
        Err(CommitError::Duplicate)
    ));
}

#[tokio::test]
async fn caps_are_stored_and_lifted() {
    let moto = Moto::start().await;
    let store = store(&moto).await;
    let now = t("2026-11-23T10:00:00Z");
    let cap = BudgetCap {
        budget: "AI-Service-Monthly".into(),
        rule: "ai-spend-100".into(),
        since: now,
        until: t("2026-12-01T00:00:00Z"),
    };
    let add = Commit {
        caps: vec![cap.clone()],
        ..Commit::default()
    };
    store.commit(&add, now).await.unwrap();
    assert_eq!(store.load_global().await.unwrap().caps, vec![cap]);
    let lift = Commit {
        lift_caps: vec!["AI-Service-Monthly".into()],
        ..Commit::default()
    };
    store.commit(&lift, now).await.unwrap();
    assert!(store.load_global().await.unwrap().caps.is_empty());
}

#[tokio::test]
async fn run_time_events_are_stored_replaced_and_cancelled() {
    let moto = Moto::start().await;
    let store = store(&moto).await;
    let now = t("2026-11-23T10:00:00Z");
    let event: capstan_policy::model::Event = serde_json::from_value(serde_json::json!({
        "start": "2026-12-10T14:00:00Z",
        "end": "2026-12-10T18:00:00Z",
        "lead": "1h",
        "targets": {"api": {"floor": 6, "ceiling": 25}}
    }))
    .unwrap();
    let add = Commit {
        events: vec![("launch-2".into(), event.clone())],
        ..Commit::default()
    };
    store.commit(&add, now).await.unwrap();
    // The same event added twice is one event.
    store.commit(&add, now).await.unwrap();
    let global = store.load_global().await.unwrap();
    assert_eq!(global.events.len(), 1);
    assert_eq!(global.events["launch-2"], event);
    let cancel = Commit {
        cancel_events: vec!["launch-2".into()],
        ..Commit::default()
    };
    store.commit(&cancel, now).await.unwrap();
    assert!(store.load_global().await.unwrap().events.is_empty());
}

/// Many writers commit on the same version at once, rounds after rounds: in each round exactly
/// one wins, and the record is the winner's. moto as shipped fails this (its conditions are
/// checked and its transactions rolled back without a lock, so a loser's rollback erases the
/// winner's write, or two writers both pass the check); `capstan_moto` serves one request at a
/// time, as DynamoDB's conditional writes behave.
#[tokio::test]
async fn concurrent_writers_on_one_version_leave_exactly_one_winner() {
    let moto = Moto::start().await;
    let store = std::sync::Arc::new(store(&moto).await);
    let now = t("2026-11-23T10:00:00Z");
    // A table with some history, as in production: moto's copy of it before each transaction
    // then takes long enough for requests to interleave.
    for batch in 0..6 {
        let commit = Commit {
            receipt: idem(&format!("fill{batch}"), "other"),
            log: (0..60)
                .map(|i| {
                    entry(
                        now + Duration::seconds(i),
                        &format!("fill{batch}"),
                        "other",
                        3,
                    )
                })
                .collect(),
            ..Commit::default()
        };
        store.commit(&commit, now).await.unwrap();
    }
    let mut version = 0;
    for round in 0..8u32 {
        let mut tasks = tokio::task::JoinSet::new();
        for writer in 0..12u32 {
            let store = store.clone();
            tasks.spawn(async move {
                let mut rec = TargetRecord::new(TargetState::new("api", writer + 2, 2, 20), now);
                rec.version = version;
                let key = format!("r{round}w{writer}");
                let commit = Commit {
                    receipt: Some((receipt(&key, "api", "a1", ReceiptState::Done), Expect::New)),
                    record: Some(("api".into(), rec)),
                    ..Commit::default()
                };
                (writer, store.commit(&commit, now).await)
            });
        }
        let mut winners = Vec::new();
        while let Some(done) = tasks.join_next().await {
            match done.unwrap() {
                (w, Ok(())) => winners.push(w),
                (_, Err(CommitError::Conflict)) => {}
                (w, Err(e)) => panic!("round {round}, writer {w}: {e}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let back = &store.load_targets(&["api".into()]).await.unwrap()["api"];
        version += 1;
        assert_eq!(back.version, version, "round {round}");
        assert_eq!(
            back.state.desired,
            winners[0] + 2,
            "round {round}: the winner's record"
        );
    }
}

#[tokio::test]
async fn several_targets_commit_in_one_transaction_all_or_none() {
    let moto = Moto::start().await;
    let store = store(&moto).await;
    let now = t("2026-11-23T08:00:04Z");
    let target = |name: &str, version: u64| {
        let mut rec = TargetRecord::new(TargetState::new(name, 4, 2, 20), now);
        rec.version = version;
        Commit {
            receipt: idem("tick:1", name),
            record: Some((name.into(), rec)),
            log: vec![entry(now, "tick:1", name, 4)],
            ..Commit::default()
        }
    };
    let names = ["api", "web", "ai", "frontend"];
    let batch: Vec<Commit> = names.iter().map(|n| target(n, 0)).collect();
    store.commit_all(&batch, now).await.unwrap();
    let all: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let records = store.load_targets(&all).await.unwrap();
    assert_eq!(records.len(), 4);
    assert!(records.values().all(|r| r.version == 1), "{records:?}");
    for n in names {
        assert!(store.receipt("tick:1", n).await.unwrap().is_some(), "{n}");
    }

    // Next: web read at a stale version, ai's receipt exists: both named, nothing written.
    let mut next: Vec<Commit> = names.iter().map(|n| target(n, 1)).collect();
    for c in &mut next {
        let (r, _) = c.receipt.as_mut().unwrap();
        r.key = "tick:2".into();
        c.log[0].key = "tick:2".into();
    }
    next[1].record.as_mut().unwrap().1.version = 0;
    next[2].receipt = idem("tick:1", "ai");
    match store.commit_all(&next, now).await {
        Err(BatchError::Refused(refused)) => {
            let named: Vec<(usize, String)> = refused
                .iter()
                .map(|(n, e)| (*n, format!("{e:?}")))
                .collect();
            assert_eq!(named, vec![(1, "Conflict".into()), (2, "Duplicate".into())]);
        }
        other => panic!("{other:?}"),
    }
    let records = store.load_targets(&all).await.unwrap();
    assert!(
        records.values().all(|r| r.version == 1),
        "nothing written: {records:?}"
    );
    assert!(store.receipt("tick:2", "api").await.unwrap().is_none());
    // The others alone, again: they land.
    let rest = vec![next[0].clone(), next[3].clone()];
    store.commit_all(&rest, now).await.unwrap();
    let records = store.load_targets(&all).await.unwrap();
    assert_eq!(records["api"].version, 2);
    assert_eq!(records["frontend"].version, 2);
    assert_eq!(records["web"].version, 1);
}
