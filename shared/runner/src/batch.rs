//! Commits of targets handled side by side, written together.
//!
//! A signal over many targets (a tick at a boundary) handles [`crate::TARGET_CONCURRENCY`] of
//! them at once, and each goes through the same steps: commit its intent, make its AWS call,
//! finish. A transaction per step and target would be most of the tick's calls; instead the
//! commits that the targets at work reach together are written in one `TransactWriteItems`
//! ([`StateTable::commit_all`]).
//!
//! Each target still gets its own answer, the one it would have had alone, so exactly once
//! does not depend on the batching (only the number of calls does):
//! - a failed condition refuses only the commit that failed it: DynamoDB names it, and the
//!   others, which the cancelled transaction did not write either, are sent again without it;
//! - a failure of the whole transaction is each commit's failure, which each target handles as
//!   its own: a lost answer is recognised by reading its own receipt, a transient one retried;
//! - one commit the table refuses for good (an item too large, say) does not fail the others:
//!   after such a failure each is written alone.
//!
//! When to write: once every target still at work waits on a commit (the batch cannot grow),
//! or when the batch is full. A target still at its AWS call is waited for, so the targets at
//! work move in step; a signal with one target writes at once, as if there were no batching.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use capstan_store::{BatchError, Commit, CommitError, StoreError, MAX_TRANSACTION_ITEMS};
use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::ports::StateTable;

/// The commits of one group of workers (the targets of one round, or the intents it
/// completes), written together.
pub(crate) struct Batch<'t> {
    table: &'t dyn StateTable,
    /// How many workers run at once.
    width: usize,
    queue: Mutex<Queue>,
    /// Rung whenever the queue changes in a way a waiter must see.
    changed: Notify,
}

#[derive(Default)]
struct Queue {
    /// Workers not finished yet.
    left: usize,
    /// Commits waiting to be written, in the order they came.
    waiting: Vec<(u64, Commit)>,
    /// A transaction is being written.
    writing: bool,
    /// What came of written commits, until their workers take it.
    answers: HashMap<u64, Result<(), CommitError>>,
    next: u64,
}

impl Queue {
    /// True when the waiting commits are all that can come (every worker at work waits on
    /// one), or are enough to fill a transaction.
    fn ready(&self, width: usize) -> bool {
        let at_work = self.left.min(width);
        !self.writing
            && !self.waiting.is_empty()
            && (self.waiting.len() >= at_work
                || self.waiting.iter().map(|(_, c)| c.writes()).sum::<usize>()
                    >= MAX_TRANSACTION_ITEMS)
    }

    /// The waiting commits that fit one transaction, oldest first: at most
    /// [`MAX_TRANSACTION_ITEMS`] writes, and no scope twice (DynamoDB refuses a transaction
    /// that writes an item twice). The rest wait for the next one.
    fn take(&mut self) -> Vec<(u64, Commit)> {
        let mut taken = Vec::new();
        let mut kept = Vec::new();
        let mut writes = 0;
        let mut scopes = BTreeSet::new();
        for (ticket, commit) in std::mem::take(&mut self.waiting) {
            let mine = scopes_of(&commit);
            let fits = writes + commit.writes() <= MAX_TRANSACTION_ITEMS || taken.is_empty();
            if fits && mine.iter().all(|s| !scopes.contains(s)) {
                writes += commit.writes();
                scopes.extend(mine);
                taken.push((ticket, commit));
            } else {
                kept.push((ticket, commit));
            }
        }
        self.waiting = kept;
        taken
    }
}

/// The items a commit writes, as far as another commit could write them too: its receipt's
/// and its record's (log entries are keyed by the record's instance and the signal).
fn scopes_of(commit: &Commit) -> Vec<String> {
    let mut scopes: Vec<String> = commit
        .receipt
        .iter()
        .map(|(r, _)| format!("receipt {} {}", r.key, r.scope))
        .chain(
            commit
                .record
                .iter()
                .map(|(inst, _)| format!("record {inst}")),
        )
        .chain(commit.log.iter().map(|e| format!("record {}", e.target)))
        .collect();
    scopes.sort();
    scopes.dedup();
    scopes
}

/// Only a target's commits are batched: a receipt and its record. Global writes (caps,
/// events) stay alone, as they were.
fn batchable(commit: &Commit) -> bool {
    commit.receipt.is_some()
        && commit.caps.is_empty()
        && commit.lift_caps.is_empty()
        && commit.events.is_empty()
        && commit.cancel_events.is_empty()
}

/// A worker of a batch, for as long as it is at work: dropping it (finished, or cut off)
/// lets the others write without it.
pub(crate) struct Worker<'b, 't> {
    batch: &'b Batch<'t>,
}

impl Drop for Worker<'_, '_> {
    fn drop(&mut self) {
        let mut q = self.batch.lock();
        q.left = q.left.saturating_sub(1);
        drop(q);
        self.batch.changed.notify_waiters();
    }
}

/// The transaction being written; dropped before it is answered (the invocation cut off),
/// it gives each of its commits a failure, so that no waiter waits for it forever.
struct Writing<'b, 't> {
    batch: &'b Batch<'t>,
    tickets: Vec<u64>,
}

impl Drop for Writing<'_, '_> {
    fn drop(&mut self) {
        let mut q = self.batch.lock();
        q.writing = false;
        for t in self.tickets.drain(..) {
            q.answers.insert(t, Err(abandoned()));
        }
        drop(q);
        self.batch.changed.notify_waiters();
    }
}

fn abandoned() -> CommitError {
    CommitError::Store(StoreError::Aws(capstan_aws::AwsError::new(
        "dynamodb:TransactWriteItems",
        capstan_aws::ErrorKind::Transient,
        None,
        "the transaction was abandoned before its answer",
    )))
}

impl<'t> Batch<'t> {
    /// A batch for `workers` workers, `width` of them at work at once.
    pub(crate) fn new(table: &'t dyn StateTable, workers: usize, width: usize) -> Batch<'t> {
        Batch {
            table,
            width: width.max(1),
            queue: Mutex::new(Queue {
                left: workers,
                ..Queue::default()
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one worker at work until the guard is dropped.
    pub(crate) fn worker(&self) -> Worker<'_, 't> {
        Worker { batch: self }
    }

    /// Writes `commit` with those of the other workers, and answers as its own commit would.
    pub(crate) async fn commit(
        &self,
        commit: &Commit,
        now: DateTime<Utc>,
    ) -> Result<(), CommitError> {
        if !batchable(commit) {
            return self.table.commit(commit, now).await;
        }
        let ticket = {
            let mut q = self.lock();
            let t = q.next;
            q.next += 1;
            q.waiting.push((t, commit.clone()));
            t
        };
        // Another waiter may be the one the queue now waits for.
        self.changed.notify_waiters();
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            // Registered before looking, so that a change made after the look wakes it.
            notified.as_mut().enable();
            let taken = {
                let mut q = self.lock();
                if let Some(answer) = q.answers.remove(&ticket) {
                    return answer;
                }
                if q.ready(self.width) {
                    q.writing = true;
                    Some(q.take())
                } else {
                    None
                }
            };
            match taken {
                None => notified.await,
                Some(batch) => self.write(batch, now).await,
            }
        }
    }

    /// Writes `batch` (sending again those a refusal did not concern) and files each
    /// commit's answer.
    async fn write(&self, batch: Vec<(u64, Commit)>, now: DateTime<Utc>) {
        let (mut tickets, mut commits): (Vec<u64>, Vec<Commit>) = batch.into_iter().unzip();
        let mut writing = Writing {
            batch: self,
            tickets: tickets.clone(),
        };
        let mut answers: Vec<(u64, Result<(), CommitError>)> = Vec::new();
        while !commits.is_empty() {
            match self.table.commit_all(&commits, now).await {
                Ok(()) => {
                    answers.extend(tickets.drain(..).map(|t| (t, Ok(()))));
                    commits.clear();
                }
                Err(BatchError::Refused(mut refused)) if !refused.is_empty() => {
                    refused.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
                    for (n, e) in refused {
                        if n < commits.len() {
                            commits.remove(n);
                            answers.push((tickets.remove(n), Err(e)));
                        }
                    }
                }
                Err(BatchError::Refused(_)) => {
                    // Refused, naming none: the table's own answer is all there is to give.
                    answers.extend(tickets.drain(..).map(|t| (t, Err(CommitError::Conflict))));
                    commits.clear();
                }
                Err(BatchError::Failed(e)) if commits.len() > 1 && !e.is_retryable() => {
                    // One commit refused for good must not fail the others: each alone.
                    for (t, c) in tickets.drain(..).zip(commits.drain(..)) {
                        answers.push((t, self.table.commit(&c, now).await));
                    }
                }
                Err(BatchError::Failed(e)) => {
                    answers.extend(
                        tickets
                            .drain(..)
                            .map(|t| (t, Err(CommitError::Store(e.clone())))),
                    );
                    commits.clear();
                }
            }
        }
        writing.tickets.clear();
        let mut q = self.lock();
        q.answers.extend(answers);
        // `writing` resets the flag and rings the others as it goes.
        drop(q);
        drop(writing);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Fault, Memory, Op};
    use capstan_aws::ErrorKind;
    use capstan_policy::state::TargetState;
    use capstan_store::{Expect, Receipt, ReceiptState, TargetRecord};
    use futures_util::{stream, StreamExt};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T08:00:04Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    /// Target `name`'s commit of signal `key`: a new receipt, its record at `version`.
    fn commit(key: &str, name: &str, version: u64) -> Commit {
        let mut rec = TargetRecord::new(TargetState::new(name, 4, 2, 20), now());
        rec.version = version;
        Commit {
            receipt: Some((
                Receipt {
                    key: key.into(),
                    scope: name.into(),
                    attempt: "a1".into(),
                    at: now(),
                    state: ReceiptState::Done,
                    summary: String::new(),
                    result: serde_json::Value::Null,
                    notices: Vec::new(),
                },
                Expect::New,
            )),
            record: Some((name.into(), rec)),
            ..Commit::default()
        }
    }

    /// Every commit through one batch, its workers side by side `width` at a time: each
    /// commit's answer, in order.
    async fn side_by_side(
        m: &Memory,
        commits: Vec<Commit>,
        width: usize,
    ) -> Vec<Result<(), CommitError>> {
        let batch = Batch::new(m, commits.len(), width);
        let work = commits.iter().map(|c| {
            let batch = &batch;
            async move {
                let _at_work = batch.worker();
                batch.commit(c, now()).await
            }
        });
        stream::iter(work).buffered(width).collect().await
    }

    fn commits_made(m: &Memory) -> usize {
        m.world().calls.iter().filter(|c| **c == Op::Commit).count()
    }

    #[tokio::test]
    async fn targets_at_work_together_commit_in_one_transaction_per_step() {
        let m = Memory::new();
        let names: Vec<String> = (0..20).map(|i| format!("svc-{i:02}")).collect();
        let commits = names.iter().map(|n| commit("tick:1", n, 0)).collect();
        let answers = side_by_side(&m, commits, 8).await;
        assert!(answers.iter().all(|a| a.is_ok()), "{answers:?}");
        // 20 targets, 8 at a time: 8 + 8 + 4.
        assert_eq!(commits_made(&m), 3);
        let w = m.world();
        assert_eq!(w.records.len(), 20);
        assert!(w.records.values().all(|r| r.version == 1));
        assert_eq!(w.receipts.len(), 20);
    }

    #[tokio::test]
    async fn one_worker_commits_at_once_as_if_alone() {
        let m = Memory::new();
        let answers = side_by_side(&m, vec![commit("alarm:1", "api", 0)], 8).await;
        assert!(answers[0].is_ok());
        assert_eq!(commits_made(&m), 1);
    }

    #[tokio::test]
    async fn a_refused_condition_refuses_only_its_own_commit() {
        let m = Memory::new();
        // web's record moved on since it was read; api's receipt exists already.
        side_by_side(&m, vec![commit("tick:0", "web", 0)], 1).await;
        side_by_side(&m, vec![commit("tick:1", "api", 0)], 1).await;
        let before = commits_made(&m);
        let answers = side_by_side(
            &m,
            vec![
                commit("tick:1", "api", 0),
                commit("tick:1", "frontend", 0),
                commit("tick:1", "web", 0),
                commit("tick:1", "ai", 0),
            ],
            8,
        )
        .await;
        assert!(
            matches!(answers[0], Err(CommitError::Duplicate)),
            "{answers:?}"
        );
        assert!(answers[1].is_ok(), "{answers:?}");
        assert!(
            matches!(answers[2], Err(CommitError::Conflict)),
            "{answers:?}"
        );
        assert!(answers[3].is_ok(), "{answers:?}");
        // The refused transaction, then the two others again.
        assert_eq!(commits_made(&m) - before, 2);
        let w = m.world();
        assert_eq!(w.records["frontend"].version, 1);
        assert_eq!(w.records["ai"].version, 1);
        assert_eq!(
            w.records["web"].version, 1,
            "web is as the other signal left it"
        );
        assert!(!w.receipts.contains_key(&("tick:1".into(), "web".into())));
    }

    #[tokio::test]
    async fn a_failure_of_the_transaction_is_each_commits_failure() {
        for (fault, written) in [
            (Fault::Before(ErrorKind::Transient), false),
            (Fault::LostAnswer, true),
        ] {
            let m = Memory::new();
            m.fault_at(0, fault);
            let commits = ["api", "web", "ai"]
                .iter()
                .map(|n| commit("tick:1", n, 0))
                .collect();
            let answers = side_by_side(&m, commits, 8).await;
            assert!(
                answers
                    .iter()
                    .all(|a| matches!(a, Err(CommitError::Store(e)) if e.is_retryable())),
                "{fault:?}: {answers:?}"
            );
            assert_eq!(commits_made(&m), 1, "{fault:?}");
            // All or nothing, the answer lost or not.
            assert_eq!(
                m.world().records.len(),
                if written { 3 } else { 0 },
                "{fault:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_commit_refused_for_good_does_not_fail_the_others() {
        let m = Memory::new();
        m.fault_at(0, Fault::Before(ErrorKind::Invalid));
        let commits = ["api", "web"]
            .iter()
            .map(|n| commit("tick:1", n, 0))
            .collect();
        let answers = side_by_side(&m, commits, 8).await;
        // The batch failed for good; each was then written alone.
        assert!(answers.iter().all(|a| a.is_ok()), "{answers:?}");
        assert_eq!(commits_made(&m), 3);
        assert_eq!(m.world().records.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_transaction_cut_off_fails_its_commits_instead_of_leaving_them_waiting() {
        let m = Memory::new();
        m.fault_at(0, Fault::Hang);
        let batch = Batch::new(&m, 2, 8);
        let (a, b) = (commit("tick:1", "api", 0), commit("tick:1", "web", 0));
        // api comes first and waits for web; web, the last to come, writes both, hangs, and
        // is cut off (as a timeout around one target would cut it).
        let waiting = async {
            let _at_work = batch.worker();
            batch.commit(&a, now()).await
        };
        let writing = async {
            let _at_work = batch.worker();
            tokio::time::timeout(std::time::Duration::from_secs(5), batch.commit(&b, now())).await
        };
        let (waited, wrote) = tokio::join!(waiting, writing);
        assert!(
            wrote.is_err(),
            "the hanging transaction answered: {wrote:?}"
        );
        assert!(
            matches!(waited, Err(CommitError::Store(ref e)) if e.is_retryable()),
            "{waited:?}"
        );
        assert!(m.world().records.is_empty());
    }

    #[test]
    fn a_scope_is_never_twice_in_one_transaction_nor_writes_past_the_limit() {
        let mut q = Queue {
            waiting: vec![
                (0, commit("tick:1", "api", 0)),
                (1, commit("tick:2", "api", 0)),
                (2, commit("tick:1", "web", 0)),
            ],
            ..Queue::default()
        };
        let taken: Vec<u64> = q.take().into_iter().map(|(t, _)| t).collect();
        assert_eq!(taken, vec![0, 2]);
        assert_eq!(
            q.waiting.len(),
            1,
            "api's second commit waits for the next one"
        );

        let mut q = Queue {
            waiting: (0..60)
                .map(|i| (i, commit("tick:1", &format!("svc-{i}"), 0)))
                .collect(),
            ..Queue::default()
        };
        let taken = q.take();
        assert_eq!(taken.len(), MAX_TRANSACTION_ITEMS / 2, "two writes each");
        assert_eq!(q.waiting.len(), 10);
    }
}
