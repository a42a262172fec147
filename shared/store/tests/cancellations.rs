//! How a cancelled transaction is read (with smithy mocks: moto does not produce every
//! reason): a failed receipt condition is a duplicate, a failed version a conflict,
//! `TransactionConflict` a conflict (read again), throttling transient; every transaction
//! carries a `ClientRequestToken`, the same for the same transaction.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use aws_sdk_dynamodb::types::CancellationReason;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::retry::RetryConfig;
use capstan_policy::state::TargetState;
use capstan_store::{
    BatchError, Commit, CommitError, Expect, Receipt, ReceiptState, Store, TargetRecord,
};
use chrono::{DateTime, Utc};

fn now() -> DateTime<Utc> {
    "2026-11-23T10:00:00Z".parse().unwrap()
}

fn commit() -> Commit {
    commit_of("api")
}

fn commit_of(name: &str) -> Commit {
    let mut rec = TargetRecord::new(TargetState::new(name, 3, 2, 20), now());
    rec.version = 4;
    Commit {
        receipt: Some((
            Receipt {
                key: "k".into(),
                scope: name.into(),
                attempt: "a1".into(),
                at: now(),
                state: ReceiptState::Done,
                summary: "s".into(),
                result: serde_json::Value::Null,
                notices: Vec::new(),
            },
            Expect::New,
        )),
        record: Some((name.into(), rec)),
        ..Commit::default()
    }
}

fn cancelled(codes: &[&'static str]) -> Store {
    let reasons: Vec<CancellationReason> = codes
        .iter()
        .map(|c| CancellationReason::builder().code(*c).build())
        .collect();
    let rule = mock!(aws_sdk_dynamodb::Client::transact_write_items).then_error(move || {
        TransactWriteItemsError::TransactionCanceledException(
            TransactionCanceledException::builder()
                .message("Transaction cancelled")
                .set_cancellation_reasons(Some(reasons.clone()))
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule], |b| b
        .retry_config(RetryConfig::disabled()));
    Store::new(client, "capstan-state")
}

#[tokio::test]
async fn each_cancellation_reason_means_what_it_says() {
    let dup = cancelled(&["ConditionalCheckFailed", "None"])
        .commit(&commit(), now())
        .await;
    assert!(matches!(dup, Err(CommitError::Duplicate)), "{dup:?}");
    let both = cancelled(&["ConditionalCheckFailed", "ConditionalCheckFailed"])
        .commit(&commit(), now())
        .await;
    assert!(
        matches!(both, Err(CommitError::Duplicate)),
        "the receipt first: {both:?}"
    );
    let conflict = cancelled(&["None", "ConditionalCheckFailed"])
        .commit(&commit(), now())
        .await;
    assert!(
        matches!(conflict, Err(CommitError::Conflict)),
        "{conflict:?}"
    );
    let race = cancelled(&["None", "TransactionConflict"])
        .commit(&commit(), now())
        .await;
    assert!(matches!(race, Err(CommitError::Conflict)), "{race:?}");
    let throttled = cancelled(&["ThrottlingError", "None"])
        .commit(&commit(), now())
        .await;
    match throttled {
        Err(CommitError::Store(e)) => assert!(e.is_retryable(), "{e}"),
        other => panic!("throttling is transient: {other:?}"),
    }
}

#[tokio::test]
async fn every_transaction_carries_the_same_token_for_the_same_writes() {
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let seen = tokens.clone();
    let rule = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .match_requests(move |req| {
            seen.lock()
                .unwrap()
                .push(req.client_request_token().unwrap_or_default().to_string());
            true
        })
        .then_output(|| TransactWriteItemsOutput::builder().build());
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule]);
    let store = Store::new(client, "capstan-state");
    store.commit(&commit(), now()).await.unwrap();
    store.commit(&commit(), now()).await.unwrap();
    let mut other = commit();
    other.record.as_mut().unwrap().1.version = 5;
    store.commit(&other, now()).await.unwrap();
    let t = tokens.lock().unwrap().clone();
    assert_eq!(t.len(), 3);
    assert!(!t[0].is_empty() && t[0].len() <= 36, "{t:?}");
    assert_eq!(t[0], t[1], "the same transaction, the same token");
    assert_ne!(t[0], t[2], "another transaction, another token");
}

#[tokio::test]
async fn a_cancelled_transaction_of_several_commits_names_each_one_it_refused() {
    // Two writes each: api's receipt, api's record, web's..., ai's...
    let batch = [commit_of("api"), commit_of("web"), commit_of("ai")];
    let answer = cancelled(&[
        "None",
        "None",
        "None",
        "ConditionalCheckFailed",
        "TransactionConflict",
        "None",
    ])
    .commit_all(&batch, now())
    .await;
    match answer {
        Err(BatchError::Refused(refused)) => {
            let named: Vec<(usize, String)> = refused
                .iter()
                .map(|(n, e)| (*n, format!("{e:?}")))
                .collect();
            assert_eq!(
                named,
                vec![(1, "Conflict".to_string()), (2, "Conflict".to_string())]
            );
        }
        other => panic!("{other:?}"),
    }
    let dup = cancelled(&["None", "None", "ConditionalCheckFailed", "None"])
        .commit_all(&batch[..2], now())
        .await;
    assert!(
        matches!(&dup, Err(BatchError::Refused(r)) if r.len() == 1 && r[0].0 == 1 && matches!(r[0].1, CommitError::Duplicate)),
        "{dup:?}"
    );
    let throttled = cancelled(&["None", "ThrottlingError", "None", "None"])
        .commit_all(&batch[..2], now())
        .await;
    assert!(
        matches!(&throttled, Err(BatchError::Failed(e)) if e.is_retryable()),
        "throttling refuses no commit in particular: {throttled:?}"
    );
}
