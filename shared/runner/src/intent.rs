//! One target's way through a decision: commit the receipt and the intent, make the call,
//! tell people, finish. And what a later attempt does with what an earlier one left: complete
//! it, or undo it.

use capstan_aws::{AwsError, Live, Notification, Plan, Reach};
use capstan_policy::command;
use capstan_policy::decision::{Decision, Outcome, StateOp, TargetDecision};
use capstan_policy::engine::{is_news, told_in_digest};
use capstan_policy::signal::Signal;
use capstan_policy::state::{State, TargetState};
use capstan_store::{
    Commit, CommitError, Expect, LogEntry, Pending, Prior, Receipt, ReceiptState, TargetRecord,
};
use chrono::{DateTime, Utc};
use tracing::{error, info, warn};

use crate::notice;
use crate::{
    Attempt, Instance, Report, ResultOutcome, RunError, Runner, TargetResult, GLOBAL,
    MAX_INTENT_AGE,
};

/// What came of one target in one round.
pub(crate) enum Step {
    /// Finished (results to report).
    Done(Vec<TargetResult>),
    /// Lost a race on the record: read and decide again.
    Conflict,
    /// Another attempt holds the target or this signal's receipt and may be alive: wait.
    Busy(String),
    /// Too little time left to start it.
    OutOfTime,
}

/// What came of completing an intent an earlier attempt left.
pub(crate) enum Recovered {
    /// Completed (or undone): the results of the signal that decided it.
    Done {
        /// That signal's key.
        key: String,
        /// Its results.
        results: Vec<TargetResult>,
    },
    /// Someone else is completing it.
    Busy,
    /// It could not be completed now (the record says why; a retry tries again).
    Failed(Box<TargetResult>),
}

/// How publishing a receipt's notifications went.
pub(crate) struct Told {
    /// Notifications that failed for good (never retried).
    pub(crate) lost: usize,
    /// Notifications that failed for now: the receipt keeps them for a retry.
    pub(crate) later: Vec<Notification>,
    /// The receipt could not be marked done: the retry finishes it.
    pub(crate) unfinished: bool,
}

/// One target's part of a decision, as the round loop hands it to [`Runner::handle_target`].
pub(crate) struct TargetWork<'a> {
    /// The whole decision (its moment and signal).
    pub(crate) decision: &'a Decision,
    /// The target instance.
    pub(crate) inst: &'a Instance,
    /// The engine's view of the instance the decision was made on.
    pub(crate) ts: &'a TargetState,
    /// The record read (none yet: a new one over `ts`).
    pub(crate) rec: Option<&'a TargetRecord>,
    /// Its live capacity.
    pub(crate) live: &'a Live,
    /// The decision's target decisions for this instance.
    pub(crate) mine: Vec<&'a TargetDecision>,
    /// The decision's state operations on this instance.
    pub(crate) ops: Vec<&'a StateOp>,
}

/// Who tells people about a receipt's results once it is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Telling {
    /// Its own notifications, published now.
    Alone,
    /// The tick's digest (see [`Runner::digest`]): its notifications are not published (but
    /// for failures, told on their own); they stay in the receipt only while it is in
    /// progress, for whoever completes it otherwise.
    Digest,
}

impl Runner {
    /// How this attempt tells people about a receipt of `key` it settles: a tick's own
    /// receipts go into its digest, everything else is told alone.
    pub(crate) fn telling(&self, a: &Attempt<'_>, key: &str) -> Telling {
        if told_in_digest(&a.delivery.signal) && key == a.delivery.key {
            Telling::Digest
        } else {
            Telling::Alone
        }
    }

    /// Commits, acts and tells for one target.
    pub(crate) async fn handle_target(&self, a: &Attempt<'_>, w: TargetWork<'_>) -> Step {
        let TargetWork {
            decision,
            inst,
            ts,
            rec,
            live,
            mine,
            ops,
        } = w;
        let now = self.now();
        if now + crate::START_RESERVE >= a.deadline {
            return Step::OutOfTime;
        }
        let rec = rec
            .cloned()
            .unwrap_or_else(|| TargetRecord::new(ts.clone(), now));
        // The next state of this instance alone.
        let only = Decision {
            at: decision.at,
            signal: String::new(),
            targets: mine.iter().map(|t| (*t).clone()).collect(),
            notices: Vec::new(),
            ops: ops.iter().map(|o| (*o).clone()).collect(),
        };
        let mut next = State {
            targets: [(inst.name.clone(), ts.clone())].into(),
            ..State::default()
        };
        only.apply(&mut next);
        let next_ts = next
            .targets
            .remove(&inst.name)
            .expect("the instance is in it");
        let telling = self.telling(a, &a.delivery.key);

        let change = mine.iter().find_map(|t| match &t.outcome {
            Outcome::Change { from, to, .. } => Some((*t, *from, *to)),
            _ => None,
        });
        let plan: Option<Plan> =
            change.map(|(_, _, to)| capstan_aws::plan(&inst.resource, live, to));
        let calls = plan.as_ref().is_some_and(|p| p.call.is_some());

        let mut results: Vec<TargetResult> = Vec::new();
        let mut notes: Vec<Notification> = Vec::new();
        for t in &mine {
            let mut r = TargetResult::of(t);
            r.runbook = self.policy().runbook_for(&t.source).map(str::to_string);
            if r.outcome == ResultOutcome::DryRun {
                r.from = Some(capstan_policy::decision::Capacity {
                    desired: ts.desired,
                    min: ts.min,
                    max: ts.max,
                });
            }
            if let (Outcome::Change { .. }, Some(p)) = (&t.outcome, &plan) {
                r.applied = Some(notice::describe_applied(&inst.resource, &p.applied(calls)));
            }
            if is_news(&a.delivery.signal, t) {
                let mut n = notice::for_result(decision, &r);
                n.dedup = format!("{}/{}/{}", a.delivery.key, inst.name, notes.len());
                notes.push(n);
            }
            results.push(r);
        }

        let mut record = rec.clone();
        record.state = next_ts;
        record.updated_at = now;
        if matches!(a.delivery.signal, Signal::Tick(_)) {
            // Never past now: a tick from the future must not make every real one stale.
            let at = decision.at.min(now);
            record.tick_at = Some(rec.tick_at.map_or(at, |t| t.max(at)));
        }
        // What is told in the tick's digest needs no publishing of its own: a change without
        // an AWS call is then finished at once (no intent, one write). A change with a call
        // keeps its notification in the receipt while in progress, for whoever completes it
        // should this attempt die (the digest may be long gone by then).
        let finished = !calls && (notes.is_empty() || telling == Telling::Digest);
        if finished {
            notes.clear();
        }
        if !finished {
            // The record holds the intent until people are told: whoever reads the target next
            // finds what is left to do, even if this attempt dies.
            let (source, from, to) = match change {
                Some((t, from, to)) => (t.source.clone(), from, to),
                None => {
                    let here = capstan_policy::decision::Capacity {
                        desired: ts.desired,
                        min: ts.min,
                        max: ts.max,
                    };
                    (
                        mine.first().map(|t| t.source.clone()).unwrap_or_default(),
                        here,
                        here,
                    )
                }
            };
            record.pending = Some(Pending {
                key: a.delivery.key.clone(),
                at: now,
                source,
                from,
                to,
                attempt: a.id.clone(),
                deadline: Some(a.intent_deadline),
                plan: plan.clone().filter(|_| calls),
                prior: Some(Prior {
                    state: rec.state.clone(),
                    tick_at: rec.tick_at,
                }),
            });
        }
        let receipt = Receipt {
            key: a.delivery.key.clone(),
            scope: inst.name.clone(),
            attempt: a.id.clone(),
            at: now,
            state: if finished {
                ReceiptState::Done
            } else {
                ReceiptState::InProgress {
                    deadline: a.intent_deadline,
                }
            },
            summary: mine
                .iter()
                .map(|t| format!("{} {}", t.source, t.outcome.kind()))
                .collect::<Vec<_>>()
                .join(", "),
            result: serde_json::to_value(&results).expect("results serialize"),
            notices: notes,
        };
        let mut log: Vec<LogEntry> = mine
            .iter()
            .map(|t| log_entry(a, decision, t, now))
            .collect();
        if log.is_empty() && from_operator(&a.delivery.signal) {
            // A pause or a resume decides nothing about capacity: its ops are the record.
            log.extend(
                ops.iter()
                    .filter_map(|op| op_entry(a, decision, &inst.name, op, now)),
            );
        }
        spread(&mut log);
        let write_record = change.is_some() || !ops.is_empty() || !finished;
        let commit = Commit {
            receipt: Some((receipt.clone(), Expect::New)),
            record: write_record.then(|| (inst.name.clone(), record.clone())),
            log,
            ..Commit::default()
        };
        let source = mine.first().map(|t| t.source.clone()).unwrap_or_default();
        match self.commit_own(a, &inst.name, &commit).await {
            Committed::Yes => {}
            Committed::Conflict => {
                info!(target = %inst.name, key = %a.delivery.key, "lost a race: reading again");
                return Step::Conflict;
            }
            Committed::Taken(stored) => return self.taken(a, inst, *stored).await,
            Committed::Failed { error, retryable } => {
                error!(target = %inst.name, error = %error, "state table write failed");
                self.metric("Failures", 1.0, &inst.name, "state-table");
                let mut r = TargetResult::failed(
                    &inst.name,
                    &source,
                    format!("state table: {error}"),
                    retryable,
                );
                r.runbook = self.policy().runbook_for(&source).map(str::to_string);
                if !retryable {
                    // The table refuses for good: tell people now (it cannot record that).
                    let mut n = notice::for_result(decision, &r);
                    n.dedup = format!("{}/{}/failure", a.delivery.key, inst.name);
                    let _ = self.publish(&n).await;
                }
                return Step::Done(vec![r]);
            }
        }
        if write_record {
            record.version = rec.version + 1;
        }
        let record_written = record;
        for r in &results {
            self.count(&inst.name, r);
        }
        if finished {
            return Step::Done(results);
        }
        let mut record = record_written;
        if calls {
            let plan = plan.as_ref().expect("a call has a plan");
            match self.carry_out(a, inst, record, receipt.clone(), plan).await {
                Carried::Done(rec) => record = *rec,
                Carried::Stopped(results) => return Step::Done(results),
            }
        }
        Step::Done(
            self.settle(a, &inst.name, receipt, Some(record), telling)
                .await,
        )
    }

    /// Makes an intent's call. `Done` with the record to clear when AWS shows the plan; else the
    /// results to report (the intent released for a retry, or undone).
    async fn carry_out(
        &self,
        a: &Attempt<'_>,
        inst: &Instance,
        record: TargetRecord,
        receipt: Receipt,
        plan: &Plan,
    ) -> Carried {
        let e = match self.fleet().execute(plan).await {
            Ok(applied) => {
                info!(
                    target = %inst.name, key = %receipt.key,
                    applied = %notice::describe_applied(&inst.resource, &applied), "changed"
                );
                return Carried::Done(Box::new(record));
            }
            Err(e) => e,
        };
        if e.is_retryable() {
            // The call may have reached AWS with its answer lost: look before anything else.
            if let Ok(live) = self
                .fleet()
                .describe(std::slice::from_ref(&inst.resource))
                .await
            {
                if live.get(&inst.resource).is_some_and(|l| plan.shown_by(l)) {
                    info!(target = %inst.name, error = %e, "the call failed, but AWS shows it: done");
                    return Carried::Done(Box::new(record));
                }
            }
            warn!(target = %inst.name, error = %e, "AWS failed for now: the intent stays for the retry");
            self.metric("Failures", 1.0, &inst.name, "transient");
            self.release(a, &inst.name, record, receipt.clone()).await;
            let mut r = TargetResult::failed(
                &inst.name,
                &pending_source(&receipt),
                format!("{e}; the intent stays, and the retry completes it"),
                true,
            );
            r.explanation = "the change is committed and will be completed by a retry".into();
            return Carried::Stopped(vec![r]);
        }
        error!(target = %inst.name, error = %e, "AWS refused the change");
        self.metric("Failures", 1.0, &inst.name, "failed");
        Carried::Stopped(self.undo(a, inst, record, receipt, &e.to_string()).await)
    }

    /// Commits with this attempt's own receipt, telling an SDK retry of a commit that landed
    /// from a real duplicate.
    pub(crate) async fn commit_own(
        &self,
        a: &Attempt<'_>,
        scope: &str,
        commit: &Commit,
    ) -> Committed {
        let Some((receipt, _)) = &commit.receipt else {
            unreachable!("commit_own commits a receipt");
        };
        match self.commit(a, commit).await {
            Ok(()) => Committed::Yes,
            Err(CommitError::Conflict) => Committed::Conflict,
            // Ours only if it is what this commit wrote: this attempt may also hold the receipt
            // by taking it over (a `*` receipt an earlier attempt left, completed on reading),
            // and then it is that one's, already settled.
            Err(CommitError::Duplicate) => match self.table().receipt(&receipt.key, scope).await {
                Ok(Some(r)) if r.attempt == a.id && r.state == receipt.state => {
                    info!(key = %receipt.key, scope, "the commit's answer was lost, but it landed");
                    Committed::Yes
                }
                Ok(Some(r)) => Committed::Taken(Box::new(r)),
                // Gone again (never, but a race with an undo): read and decide again.
                Ok(None) => Committed::Conflict,
                Err(e) => Committed::Failed {
                    retryable: e.is_retryable(),
                    error: e.to_string(),
                },
            },
            Err(CommitError::Store(e)) => {
                if e.is_retryable() {
                    // The transaction may have committed with its answer lost: look.
                    if let Ok(Some(r)) = self.table().receipt(&receipt.key, scope).await {
                        if r.attempt == a.id && r.state == receipt.state {
                            info!(key = %receipt.key, scope, "the commit failed, but it landed");
                            return Committed::Yes;
                        }
                    }
                }
                Committed::Failed {
                    retryable: e.is_retryable(),
                    error: e.to_string(),
                }
            }
        }
    }

    /// This signal's receipt for `inst` exists: answer with what it says.
    async fn taken(&self, a: &Attempt<'_>, inst: &Instance, stored: Receipt) -> Step {
        let now = self.now();
        match &stored.state {
            ReceiptState::Done => {
                info!(target = %inst.name, key = %a.delivery.key, "duplicate delivery: answering with the stored result");
                self.metric("Duplicates", 1.0, &inst.name, "duplicate");
                Step::Done(duplicates(&stored, &inst.name))
            }
            ReceiptState::InProgress { .. } if stored.live_at(now) => {
                Step::Busy(stored.key.clone())
            }
            ReceiptState::InProgress { .. } => {
                // Its owner is gone and left no intent on the record (that would have been
                // completed on reading): only its notifications are left to publish.
                match self.take_over(a, &inst.name, stored, None).await {
                    Some(receipt) => {
                        let telling = self.telling(a, &receipt.key);
                        Step::Done(self.settle(a, &inst.name, receipt, None, telling).await)
                    }
                    None => Step::Busy(a.delivery.key.clone()),
                }
            }
        }
    }

    /// Takes over a receipt (and the record holding its intent) whose owner is gone: from now
    /// on they name this attempt, with its deadline. `None` when someone else got there first.
    pub(crate) async fn take_over(
        &self,
        a: &Attempt<'_>,
        scope: &str,
        mut receipt: Receipt,
        record: Option<TargetRecord>,
    ) -> Option<Receipt> {
        self.take_over_as(
            a,
            scope,
            receipt.clone(),
            record,
            Expect::Attempt(std::mem::take(&mut receipt.attempt)),
        )
        .await
    }

    /// [`Runner::take_over`] under an explicit condition on the receipt.
    async fn take_over_as(
        &self,
        a: &Attempt<'_>,
        scope: &str,
        mut receipt: Receipt,
        record: Option<TargetRecord>,
        expect: Expect,
    ) -> Option<Receipt> {
        receipt.attempt = a.id.clone();
        receipt.state = ReceiptState::InProgress {
            deadline: a.intent_deadline,
        };
        let record = record.map(|mut r| {
            if let Some(p) = r.pending.as_mut() {
                p.attempt = a.id.clone();
                p.deadline = Some(a.intent_deadline);
            }
            (scope.to_string(), r)
        });
        let commit = Commit {
            receipt: Some((receipt.clone(), expect)),
            record,
            ..Commit::default()
        };
        match self.commit(a, &commit).await {
            Ok(()) => Some(receipt),
            Err(e) => {
                info!(scope, key = %receipt.key, error = %e, "could not take over: someone else is completing it");
                None
            }
        }
    }

    /// Completes an intent whose owner is gone (it is past its deadline): takes it over, makes
    /// its call again unless AWS already shows it, tells people and finishes. An intent older
    /// than [`MAX_INTENT_AGE`] is undone instead.
    pub(crate) async fn recover(
        &self,
        a: &Attempt<'_>,
        inst: &Instance,
        record: TargetRecord,
        live: &Live,
    ) -> (String, Recovered) {
        let name = inst.name.clone();
        let p = record.pending.clone().expect("recover is given an intent");
        let now = self.now();
        let (receipt, expect) = match self.table().receipt(&p.key, &inst.name).await {
            Ok(Some(r)) => {
                let before = r.attempt.clone();
                (r, Expect::Attempt(before))
            }
            // Written with the intent; absent only if the table lost it: rebuild what to say.
            Ok(None) => (orphan_receipt(&p, inst), Expect::New),
            Err(e) => {
                warn!(target = %inst.name, key = %p.key, error = %e, "could not read the receipt of an intent left unfinished");
                let r = TargetResult::failed(
                    &name,
                    &p.source,
                    format!("state table: {e}"),
                    e.is_retryable(),
                );
                return (name, Recovered::Failed(Box::new(r)));
            }
        };
        let key = p.key.clone();
        warn!(
            target = %inst.name, key = %p.key, owner = %p.attempt, since = %p.at,
            "found an intent its owner left: completing it"
        );
        self.metric("Recoveries", 1.0, &inst.name, "recovered");
        let mut record = record;
        let Some(receipt) = self
            .take_over_as(a, &inst.name, receipt, Some(record.clone()), expect)
            .await
        else {
            return (name, Recovered::Busy);
        };
        record.version += 1;
        if let Some(p) = record.pending.as_mut() {
            p.attempt = a.id.clone();
            p.deadline = Some(a.intent_deadline);
        }
        let plan = p.plan.clone().filter(|plan| !plan.shown_by(live));
        if plan.is_some() && now - p.at > MAX_INTENT_AGE {
            let why = format!(
                "abandoned: decided at {} and never confirmed; capacity decided {} minutes ago is \
                 stale, so it is not made now",
                p.at.format("%Y-%m-%d %H:%M:%SZ"),
                (now - p.at).num_minutes()
            );
            let results = self.undo(a, inst, record, receipt, &why).await;
            return (name, Recovered::Done { key, results });
        }
        let record = match &plan {
            Some(plan) => match self.carry_out(a, inst, record, receipt.clone(), plan).await {
                Carried::Done(r) => *r,
                Carried::Stopped(results) => {
                    let r = results.into_iter().next().unwrap_or_else(|| {
                        TargetResult::failed(&name, &p.source, "not completed".into(), true)
                    });
                    if r.retryable {
                        return (name, Recovered::Failed(Box::new(r)));
                    }
                    return (
                        name,
                        Recovered::Done {
                            key,
                            results: vec![r],
                        },
                    );
                }
            },
            None => {
                info!(target = %inst.name, key = %p.key, "AWS already shows the intent: only telling is left");
                record
            }
        };
        let telling = self.telling(a, &receipt.key);
        let mut results = self
            .settle(a, &inst.name, receipt, Some(record), telling)
            .await;
        for r in &mut results {
            r.explanation.push_str(" (completed by a later attempt)");
        }
        (name, Recovered::Done { key, results })
    }

    /// Publishes the receipt's notifications, then marks it done and clears the record's intent
    /// in one write. A notification that fails for now stays in the receipt, released for the
    /// retry; one that fails for good is recorded in the record's `last_error`.
    pub(crate) async fn settle(
        &self,
        a: &Attempt<'_>,
        scope: &str,
        mut receipt: Receipt,
        mut record: Option<TargetRecord>,
        telling: Telling,
    ) -> Vec<TargetResult> {
        let told = match telling {
            Telling::Alone => self.tell(&receipt.notices).await,
            // The digest tells the rest; a failure is told on its own all the same (a pager
            // may filter on it), whoever settles it.
            Telling::Digest => {
                let failures: Vec<Notification> = receipt
                    .notices
                    .iter()
                    .filter(|n| n.outcome == ResultOutcome::Failed.as_str())
                    .cloned()
                    .collect();
                self.tell(&failures).await
            }
        };
        let now = self.now();
        let mut results = stored_results(&receipt, scope);
        if told.lost > 0 || !told.later.is_empty() {
            for r in &mut results {
                r.notify_failed = true;
            }
        }
        let retry_later = !told.later.is_empty();
        if retry_later {
            for r in &mut results {
                r.retryable = true;
                r.error.get_or_insert_with(|| {
                    "notification failed for now; the retry publishes it".into()
                });
            }
        }
        receipt.result = serde_json::to_value(&results).expect("results serialize");
        receipt.state = if retry_later {
            ReceiptState::InProgress { deadline: now }
        } else {
            ReceiptState::Done
        };
        receipt.notices = told.later;
        let leave = Leave::Settled {
            tell_later: retry_later,
            last_error: (told.lost > 0 || retry_later).then(|| {
                format!(
                    "{}: notification failed for {}",
                    now.format("%Y-%m-%d %H:%M:%SZ"),
                    receipt.key
                )
            }),
            at: now,
        };
        if !self
            .finish(a, scope, receipt, record.take().map(|r| (r, leave)))
            .await
        {
            for r in &mut results {
                r.retryable = true;
                r.error.get_or_insert_with(|| {
                    "done, but not recorded as done; the retry finishes it".into()
                });
            }
        }
        results
    }

    /// [`Runner::settle`] for the `*` receipt, whose notices are the whole story.
    async fn settle_global(&self, a: &Attempt<'_>, receipt: Receipt) -> Told {
        self.settle_notices(a, GLOBAL, receipt).await
    }

    /// [`Runner::settle`] for a receipt of `scope` that is only notices (the `*` receipt, the
    /// tick's digest): publishes them, then marks it done, keeping those that failed for now.
    pub(crate) async fn settle_notices(
        &self,
        a: &Attempt<'_>,
        scope: &str,
        mut receipt: Receipt,
    ) -> Told {
        let told = self.tell(&receipt.notices).await;
        receipt.state = if told.later.is_empty() {
            ReceiptState::Done
        } else {
            ReceiptState::InProgress {
                deadline: self.now(),
            }
        };
        receipt.notices = told.later.clone();
        let mut told = told;
        told.unfinished = !self.finish(a, scope, receipt, None).await;
        told
    }

    /// Writes the receipt (under this attempt) and the record left as `leave` says; a record
    /// that changed meanwhile (a concurrent signal, or this very write landing with its answer
    /// lost) is read again and left the same way. False when it could not be written: the work
    /// stays in progress, and the retry completes it.
    async fn finish(
        &self,
        a: &Attempt<'_>,
        scope: &str,
        receipt: Receipt,
        record: Option<(TargetRecord, Leave)>,
    ) -> bool {
        let (mut record, leave) = match record {
            Some((mut r, leave)) => {
                leave.apply(&mut r, &a.id);
                (Some(r), Some(leave))
            }
            None => (None, None),
        };
        let mut failures = 0;
        for round in 0..self.max_rounds {
            if round > 0 {
                tokio::time::sleep(crate::backoff(&receipt.key, round)).await;
            }
            let commit = Commit {
                receipt: Some((receipt.clone(), Expect::Attempt(a.id.clone()))),
                record: record.clone().map(|r| (scope.to_string(), r)),
                ..Commit::default()
            };
            match self.commit(a, &commit).await {
                Ok(()) => return true,
                Err(CommitError::Conflict) => {}
                Err(CommitError::Duplicate) => {
                    // Ours if the write landed with its answer lost; else someone took over.
                    let mine = matches!(
                        self.table().receipt(&receipt.key, scope).await,
                        Ok(Some(r)) if r.attempt == a.id && r.state == receipt.state
                    );
                    if !mine {
                        warn!(scope, key = %receipt.key, "another attempt took this over: it finishes");
                    }
                    return mine;
                }
                Err(CommitError::Store(e)) => {
                    failures += 1;
                    if !e.is_retryable() || failures >= 3 {
                        // Left in progress: after the deadline the next delivery completes it
                        // (AWS already shows it, so it only publishes again, same dedup id).
                        error!(scope, key = %receipt.key, error = %e, "could not finish: the next delivery completes it");
                        return false;
                    }
                    warn!(scope, key = %receipt.key, error = %e, "could not finish yet: trying again");
                    continue;
                }
            }
            let Some(leave) = &leave else {
                // Only the receipt is written: nothing to read again.
                continue;
            };
            let mut fresh = match self.table().load_targets(&[scope.to_string()]).await {
                Ok(fresh) => fresh,
                Err(e) => {
                    warn!(scope, key = %receipt.key, error = %e, "could not read the record again: trying again");
                    continue;
                }
            };
            record = fresh.remove(scope).map(|mut current| {
                leave.apply(&mut current, &a.id);
                current
            });
        }
        false
    }

    /// Releases an intent after a transient failure: its deadline becomes now, so that the
    /// retry (or the next signal on the target) completes it at once.
    async fn release(
        &self,
        a: &Attempt<'_>,
        scope: &str,
        record: TargetRecord,
        mut receipt: Receipt,
    ) {
        let now = self.now();
        let leave = Leave::Released {
            last_error: format!(
                "{}: the change is committed and not yet confirmed; a retry completes it",
                now.format("%Y-%m-%d %H:%M:%SZ")
            ),
            at: now,
        };
        receipt.state = ReceiptState::InProgress { deadline: now };
        self.finish(a, scope, receipt, Some((record, leave))).await;
    }

    /// Takes a change that did not happen back out of the record (its history entry,
    /// occurrence marks, tick time: the record as it was before) and tells people it failed.
    async fn undo(
        &self,
        a: &Attempt<'_>,
        inst: &Instance,
        record: TargetRecord,
        mut receipt: Receipt,
        error: &str,
    ) -> Vec<TargetResult> {
        let now = self.now();
        let p = record.pending.clone();
        let leave = Leave::Undone {
            last_error: format!("{}: {error}", now.format("%Y-%m-%d %H:%M:%SZ")),
            at: now,
        };
        let stored = stored_results(&receipt, &inst.name);
        let mut r = TargetResult::failed(
            &inst.name,
            p.as_ref().map(|p| p.source.as_str()).unwrap_or(""),
            error.to_string(),
            false,
        );
        if let Some(first) = stored.iter().find(|s| s.outcome == ResultOutcome::Changed) {
            r.from = first.from;
            r.to = first.to;
            r.explanation = first.explanation.clone();
            r.runbook = first.runbook.clone();
        }
        let signal = stored_signal(&receipt);
        let decided = p.as_ref().map(|p| p.at).unwrap_or(now);
        let mut n = notice::for_result(&bare_decision(decided, &signal), &r);
        n.dedup = format!("{}/{}/failure", receipt.key, inst.name);
        receipt.result = serde_json::to_value(vec![&r]).expect("results serialize");
        receipt.notices = vec![n];
        receipt.state = ReceiptState::InProgress {
            deadline: a.intent_deadline,
        };
        // Restore first (so no cooldown holds for what never happened), then tell.
        self.finish(a, &inst.name, receipt.clone(), Some((record, leave)))
            .await;
        // A failure is told on its own, a tick's too: a pager may filter on it.
        self.settle(a, &inst.name, receipt, None, Telling::Alone)
            .await
    }

    /// This signal's `*` receipt, found on reading: done (nothing to do), in progress by a live
    /// attempt (wait for it: retry later), or left by a dead one (publish what it left).
    pub(crate) async fn finish_global(
        &self,
        a: &Attempt<'_>,
        stored: Receipt,
        report: &mut Report,
    ) -> Result<(), RunError> {
        match stored.state {
            ReceiptState::Done => Ok(()),
            ReceiptState::InProgress { .. } if stored.live_at(self.now()) => {
                Err(RunError::InProgress(format!(
                    "{} is being handled by another attempt",
                    a.delivery.key
                )))
            }
            ReceiptState::InProgress { .. } => {
                let Some(receipt) = self.take_over(a, GLOBAL, stored, None).await else {
                    return Err(RunError::InProgress(format!(
                        "{} is being completed by another attempt",
                        a.delivery.key
                    )));
                };
                info!(key = %a.delivery.key, notices = receipt.notices.len(), "publishing what an earlier attempt left");
                report
                    .notices
                    .extend(receipt.notices.iter().map(notice_text));
                let told = self.settle_global(a, receipt).await;
                report.notify_failures += told.lost + told.later.len();
                if !told.later.is_empty() || told.unfinished {
                    return Err(RunError::Transient(
                        "notifications failed or not recorded for now; the retry publishes them"
                            .into(),
                    ));
                }
                Ok(())
            }
        }
    }

    /// Notices and decisions that concern no target, and budget caps: once per signal.
    pub(crate) async fn handle_global(
        &self,
        a: &Attempt<'_>,
        decision: &Decision,
        known: &std::collections::BTreeSet<String>,
        report: &mut Report,
    ) -> Result<(), RunError> {
        let mut caps = Vec::new();
        let mut lift = Vec::new();
        let mut events = Vec::new();
        let mut cancel_events = Vec::new();
        for op in &decision.ops {
            match op {
                StateOp::AddCap(c) => caps.push(c.clone()),
                StateOp::LiftCap { budget } => lift.push(budget.clone()),
                StateOp::AddEvent { name, event } => events.push((name.clone(), event.clone())),
                StateOp::CancelEvent { name } => cancel_events.push(name.clone()),
                _ => {}
            }
        }
        for t in decision
            .targets
            .iter()
            .filter(|t| !known.contains(&t.target))
        {
            let outcome = match &t.outcome {
                Outcome::Suppressed { reason } => reason.code(),
                Outcome::Change { .. } => "changed",
            };
            info!(target = %t.target, source = %t.source, outcome, explanation = %t.explanation, "no-op");
            self.metric("Ignored", 1.0, GLOBAL, outcome);
            let mut r = TargetResult::new(&t.target, &t.source, ResultOutcome::Ignored);
            r.reason = Some(outcome.to_string());
            r.explanation = t.explanation.clone();
            report.results.push(r);
        }
        let global_ops =
            !(caps.is_empty() && lift.is_empty() && events.is_empty() && cancel_events.is_empty());
        let log = global_log(a, decision, known, global_ops, self.now());
        // Decisions that concern no target (an alarm no rule mentions...) are logged no-ops:
        // nothing to record, nothing to publish. An operator's are on the record.
        if decision.notices.is_empty() && !global_ops && log.is_empty() {
            return Ok(());
        }
        let notes: Vec<Notification> = decision
            .notices
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let mut note = notice::for_notice(decision, n);
                note.dedup = format!("{}/{GLOBAL}/{i}", a.delivery.key);
                note
            })
            .collect();
        let now = self.now();
        let receipt = Receipt {
            key: a.delivery.key.clone(),
            scope: GLOBAL.to_string(),
            attempt: a.id.clone(),
            at: now,
            state: if notes.is_empty() {
                ReceiptState::Done
            } else {
                ReceiptState::InProgress {
                    deadline: a.intent_deadline,
                }
            },
            summary: decision.signal.clone(),
            result: serde_json::Value::Array(Vec::new()),
            notices: notes,
        };
        let commit = Commit {
            receipt: Some((receipt.clone(), Expect::New)),
            log,
            caps,
            lift_caps: lift,
            events,
            cancel_events,
            ..Commit::default()
        };
        let receipt = match self.commit_own(a, GLOBAL, &commit).await {
            Committed::Yes => receipt,
            Committed::Conflict => unreachable!("a commit without a record cannot conflict"),
            Committed::Failed { error, retryable } => {
                return Err(RunError::state_table(&error, retryable));
            }
            Committed::Taken(stored) => match stored.state {
                ReceiptState::Done => {
                    info!(key = %a.delivery.key, "duplicate delivery: notices already handled");
                    let mut r =
                        TargetResult::new(GLOBAL, &decision.signal, ResultOutcome::Duplicate);
                    r.explanation = "this signal was already handled".to_string();
                    report.results.push(r);
                    return Ok(());
                }
                ReceiptState::InProgress { .. } if stored.live_at(self.now()) => {
                    return Err(RunError::InProgress(format!(
                        "{} is being handled by another attempt",
                        a.delivery.key
                    )));
                }
                ReceiptState::InProgress { .. } => {
                    match self.take_over(a, GLOBAL, *stored, None).await {
                        Some(r) => r,
                        None => {
                            return Err(RunError::InProgress(format!(
                                "{} is being completed by another attempt",
                                a.delivery.key
                            )))
                        }
                    }
                }
            },
        };
        let texts: Vec<String> = receipt.notices.iter().map(notice_text).collect();
        let told = self.settle_global(a, receipt).await;
        report.notices.extend(texts);
        report.notify_failures += told.lost + told.later.len();
        if !told.later.is_empty() || told.unfinished {
            return Err(RunError::Transient(
                "notifications failed or not recorded for now; the retry publishes them".into(),
            ));
        }
        Ok(())
    }

    /// A target whose AWS resource does not exist: announced once per signal.
    pub(crate) async fn missing(
        &self,
        a: &Attempt<'_>,
        inst: &Instance,
    ) -> Result<TargetResult, RunError> {
        let mut r = TargetResult::failed(
            &inst.name,
            "",
            format!(
                "{} does not exist (or Capstan may not see it)",
                inst.resource.label()
            ),
            false,
        );
        r.explanation = format!(
            "cannot decide for {}: {} was not found on AWS",
            inst.name,
            inst.resource.label()
        );
        error!(target = %inst.name, resource = %inst.resource.label(), "resource not found");
        self.once(a, &inst.name, r, "resource not found").await
    }

    /// A permanent failure before anything could be decided (a selector that cannot be
    /// resolved, a table or describe that refuses): announced once per signal, not retried.
    pub(crate) async fn announce_failure(
        &self,
        a: &Attempt<'_>,
        what: &str,
        error: String,
    ) -> Result<TargetResult, RunError> {
        error!(key = %a.delivery.key, error = %error, "{what}");
        let mut r = TargetResult::failed(GLOBAL, "", error, false);
        r.explanation = format!("{what}: nothing was decided for {}", a.delivery.key);
        self.once(a, GLOBAL, r, what).await
    }

    /// A target in another account whose resources cannot be reached (its role cannot be
    /// assumed, or the role may not read them there): it fails alone, the others go on.
    ///
    /// Announced once per target, role and day (UTC), not once per signal: a role that
    /// cannot be assumed fails every tick until someone fixes it, and a message a minute would
    /// bury it. The receipt `reach:<role ARN>:<day>` of the target holds the announcement: the
    /// first signal of the day to meet the failure commits it and tells people; the others find
    /// it and only report the failure (in their result, the log and the `Failures` metric). A
    /// transient failure (STS throttled or slow) is not announced: the invocation is retried.
    pub(crate) async fn unreachable(
        &self,
        a: &Attempt<'_>,
        name: &str,
        reach: &Reach,
        e: &AwsError,
    ) -> Result<TargetResult, RunError> {
        let mut r = TargetResult::failed(name, "", e.to_string(), e.is_retryable());
        r.explanation = format!(
            "cannot decide for {name}: its resources in {reach} cannot be reached through role {}",
            reach.role_arn
        );
        error!(target = %name, role = %reach.role_arn, error = %e, "target in another account cannot be reached");
        if r.retryable {
            return Ok(r);
        }
        let key = format!("reach:{}:{}", reach.role_arn, self.now().format("%Y-%m-%d"));
        match self
            .once_as(a, &key, name, r.clone(), "account cannot be reached")
            .await
        {
            Ok(told) => {
                r.notify_failed = told.outcome == ResultOutcome::Failed && told.notify_failed;
                r.retryable = told.outcome == ResultOutcome::Failed && told.retryable;
                Ok(r)
            }
            // Another attempt is announcing it right now.
            Err(RunError::InProgress(_)) => Ok(r),
            Err(other) => Err(other),
        }
    }

    /// Records `r` as this signal's result for `scope` and tells people, once however often
    /// the signal is delivered.
    async fn once(
        &self,
        a: &Attempt<'_>,
        scope: &str,
        r: TargetResult,
        summary: &str,
    ) -> Result<TargetResult, RunError> {
        self.once_as(a, &a.delivery.key, scope, r, summary).await
    }

    /// [`Runner::once`] under the receipt `key` instead of the signal's own: once however
    /// many signals meet the same failure.
    async fn once_as(
        &self,
        a: &Attempt<'_>,
        key: &str,
        scope: &str,
        r: TargetResult,
        summary: &str,
    ) -> Result<TargetResult, RunError> {
        let now = self.now();
        self.metric("Failures", 1.0, scope, "failed");
        let signal = a.delivery.signal.summary();
        let mut n = notice::for_result(&bare_decision(now, &signal), &r);
        n.dedup = format!("{key}/{scope}/failure");
        let receipt = Receipt {
            key: key.to_string(),
            scope: scope.to_string(),
            attempt: a.id.clone(),
            at: now,
            state: ReceiptState::InProgress {
                deadline: a.intent_deadline,
            },
            summary: summary.to_string(),
            result: serde_json::to_value(vec![&r]).expect("results serialize"),
            notices: vec![n.clone()],
        };
        let commit = Commit {
            receipt: Some((receipt.clone(), Expect::New)),
            ..Commit::default()
        };
        match self.commit_own(a, scope, &commit).await {
            Committed::Yes => {
                let results = self.settle(a, scope, receipt, None, Telling::Alone).await;
                Ok(results.into_iter().next().unwrap_or(r))
            }
            Committed::Taken(stored) if stored.state == ReceiptState::Done => {
                Ok(duplicates(&stored, scope).into_iter().next().unwrap_or(r))
            }
            Committed::Taken(stored) if stored.live_at(now) => Err(RunError::InProgress(format!(
                "{key} is being handled by another attempt"
            ))),
            Committed::Taken(stored) => match self.take_over(a, scope, *stored, None).await {
                Some(receipt) => {
                    let results = self.settle(a, scope, receipt, None, Telling::Alone).await;
                    Ok(results.into_iter().next().unwrap_or(r))
                }
                None => Err(RunError::InProgress(format!(
                    "{key} is being completed by another attempt"
                ))),
            },
            Committed::Conflict => unreachable!("a commit without a record cannot conflict"),
            Committed::Failed { error, .. } => {
                // The table cannot record it: tell people anyway, and do not retry.
                warn!(error = %error, "the failure could not be recorded; announcing it anyway");
                let _ = self.publish(&n).await;
                Ok(r)
            }
        }
    }

    /// Publishes notifications in batches; what failed, one by one.
    async fn tell(&self, notes: &[Notification]) -> Told {
        let outcomes = self.publish_all(notes).await;
        let mut told = Told {
            lost: 0,
            later: Vec::new(),
            unfinished: false,
        };
        for (n, outcome) in notes.iter().zip(outcomes) {
            match outcome {
                Ok(()) => {}
                Err(e) if e.is_retryable() => told.later.push(n.clone()),
                Err(_) => told.lost += 1,
            }
        }
        told
    }

    /// The metric of one result.
    fn count(&self, target: &str, r: &TargetResult) {
        match r.outcome {
            ResultOutcome::Changed => self.metric("Actions", 1.0, target, "changed"),
            ResultOutcome::DryRun => {
                self.metric("DryRuns", 1.0, target, r.reason.as_deref().unwrap_or(""))
            }
            ResultOutcome::Suppressed => self.metric(
                "Suppressions",
                1.0,
                target,
                r.reason.as_deref().unwrap_or(""),
            ),
            _ => {}
        }
    }
}

/// How a commit with this attempt's receipt went.
pub(crate) enum Committed {
    Yes,
    Conflict,
    /// The receipt exists under another attempt.
    Taken(Box<Receipt>),
    Failed {
        error: String,
        retryable: bool,
    },
}

enum Carried {
    /// AWS shows the plan: the record to clear.
    Done(Box<TargetRecord>),
    /// Released for a retry, or undone: the results.
    Stopped(Vec<TargetResult>),
}

/// The results stored in a receipt.
/// How [`Runner::finish`] leaves a target's record. It is one edit, made to the record as the
/// attempt holds it and made again to the record read afresh when the write meets a newer one:
/// a finish that has to read again (another signal wrote meanwhile, or its own write landed with
/// the answer lost) must leave the record as the first try would have, never another way. (It
/// once cleared the intent on every re-read, so a release whose write was retried dropped the
/// intent its retry was to complete: the change never made, yet recorded as made.)
#[derive(Debug, Clone)]
enum Leave {
    /// The intent is carried out: cleared; or, when telling failed for now, kept without its
    /// call and released, so that the retry only tells.
    Settled {
        tell_later: bool,
        last_error: Option<String>,
        at: DateTime<Utc>,
    },
    /// The call failed for now: the intent stays, released (deadline now) for the retry.
    Released {
        last_error: String,
        at: DateTime<Utc>,
    },
    /// The change did not happen: the record as it was before the intent (no history entry,
    /// occurrence marks or tick time for it), with the error.
    Undone {
        last_error: String,
        at: DateTime<Utc>,
    },
}

impl Leave {
    /// Makes the edit on `r`; the intent is touched only while it is `attempt`'s.
    fn apply(&self, r: &mut TargetRecord, attempt: &str) {
        let ours = r.pending.as_ref().is_some_and(|p| p.attempt == attempt);
        match self {
            Leave::Settled {
                tell_later,
                last_error,
                at,
            } => {
                if ours {
                    if *tell_later {
                        if let Some(p) = r.pending.as_mut() {
                            p.deadline = Some(*at);
                            p.plan = None;
                        }
                    } else {
                        r.pending = None;
                    }
                }
                if let Some(e) = last_error {
                    r.last_error = Some(e.clone());
                }
                r.updated_at = *at;
            }
            Leave::Released { last_error, at } => {
                if let Some(p) = r.pending.as_mut().filter(|_| ours) {
                    p.deadline = Some(*at);
                }
                r.last_error = Some(last_error.clone());
            }
            Leave::Undone { last_error, at } => {
                if ours {
                    if let Some(prior) = r.pending.take().and_then(|p| p.prior) {
                        r.state = prior.state;
                        r.tick_at = prior.tick_at;
                    }
                }
                r.last_error = Some(last_error.clone());
                r.updated_at = *at;
            }
        }
    }
}

pub(crate) fn stored_results(r: &Receipt, scope: &str) -> Vec<TargetResult> {
    match serde_json::from_value::<Vec<TargetResult>>(r.result.clone()) {
        Ok(v) => v,
        Err(e) => {
            warn!(key = %r.key, scope, error = %e, "a receipt's result is unreadable");
            Vec::new()
        }
    }
}

/// The answer to a duplicate: the stored results, marked as such.
fn duplicates(stored: &Receipt, scope: &str) -> Vec<TargetResult> {
    let results = stored_results(stored, scope);
    if results.is_empty() {
        let mut r = TargetResult::new(scope, "", ResultOutcome::Duplicate);
        r.explanation = format!("{} was already handled for {scope}", stored.key);
        return vec![r];
    }
    results
        .iter()
        .map(|r| TargetResult::duplicate_of(r, &stored.key))
        .collect()
}

/// The signal a receipt's notifications were about (their body says), else its summary.
fn stored_signal(r: &Receipt) -> String {
    r.notices
        .first()
        .and_then(|n| n.body.get("signal"))
        .and_then(|s| s.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| r.summary.clone())
}

fn pending_source(r: &Receipt) -> String {
    stored_results(r, &r.scope)
        .into_iter()
        .find(|r| r.outcome == ResultOutcome::Changed)
        .map(|r| r.source)
        .unwrap_or_default()
}

pub(crate) fn notice_text(n: &Notification) -> String {
    n.body
        .get("notice")
        .and_then(|x| x.get("text"))
        .and_then(|t| t.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| n.text.clone())
}

/// A decision with nothing in it but its moment and signal, for notices about failures.
fn bare_decision(at: DateTime<Utc>, signal: &str) -> Decision {
    Decision {
        at,
        signal: signal.to_string(),
        targets: Vec::new(),
        notices: Vec::new(),
        ops: Vec::new(),
    }
}

/// A receipt for an intent whose own receipt is missing.
fn orphan_receipt(p: &Pending, inst: &Instance) -> Receipt {
    let mut r = TargetResult::new(&inst.name, &p.source, ResultOutcome::Changed);
    r.from = Some(p.from);
    r.to = Some(p.to);
    r.explanation = format!("{} asked for {}", p.source, p.to);
    if let Some(plan) = &p.plan {
        r.applied = Some(notice::describe_applied(
            &inst.resource,
            &plan.applied(true),
        ));
    }
    let mut n = notice::for_result(&bare_decision(p.at, &p.key), &r);
    n.dedup = format!("{}/{}/0", p.key, inst.name);
    Receipt {
        key: p.key.clone(),
        scope: inst.name.clone(),
        attempt: p.attempt.clone(),
        at: p.at,
        state: ReceiptState::InProgress {
            deadline: p.deadline(),
        },
        summary: format!("{} change", p.source),
        result: serde_json::to_value(vec![r]).expect("results serialize"),
        notices: vec![n],
    }
}

pub(crate) use capstan_policy::engine::from_operator;

/// Who asked, from which channel, with which verb: the audit fields of a log entry. A command
/// names its user, its channel (none from the CLI) and its verb (none when it could not be
/// parsed: the signal quotes its text); an event request the one who asked for it.
pub(crate) fn asked_by(signal: &Signal) -> (Option<String>, Option<String>, Option<String>) {
    match signal {
        Signal::Command(c) => (
            Some(c.user.clone()),
            Some(c.channel.clone()).filter(|ch| !ch.is_empty()),
            command::parse(&c.text).ok().map(|cmd| {
                cmd.verb()
                    .map_or_else(|| "help".to_string(), |v| v.to_string())
            }),
        ),
        Signal::Event(e) => (Some(e.by.clone()), None, Some("event".to_string())),
        _ => (None, None, None),
    }
}

/// A log entry for this attempt's signal, with its audit fields.
fn entry(a: &Attempt<'_>, decision: &Decision, target: &str, now: DateTime<Utc>) -> LogEntry {
    let (by, channel, verb) = asked_by(&a.delivery.signal);
    LogEntry {
        at: now,
        key: a.delivery.key.clone(),
        target: target.to_string(),
        signal: decision.signal.clone(),
        by,
        channel,
        verb,
        policy_version: a.policy_version.map(str::to_string),
        ..LogEntry::default()
    }
}

fn log_entry(
    a: &Attempt<'_>,
    decision: &Decision,
    t: &TargetDecision,
    now: DateTime<Utc>,
) -> LogEntry {
    let r = TargetResult::of(t);
    LogEntry {
        source: t.source.clone(),
        outcome: match &r.reason {
            Some(code) => code.clone(),
            None => r.outcome.to_string(),
        },
        from: r.from,
        to: r.to,
        explanation: t.explanation.clone(),
        ..entry(a, decision, &t.target, now)
    }
}

/// The entry of an operator's op on one instance that decided nothing about its capacity (a
/// pause, a pin, a resume); none for other ops.
fn op_entry(
    a: &Attempt<'_>,
    decision: &Decision,
    inst: &str,
    op: &StateOp,
    now: DateTime<Utc>,
) -> Option<LogEntry> {
    let (outcome, default) = match op {
        StateOp::Pause { pause, .. } => match pause.pin {
            Some(n) => (
                "pinned",
                format!(
                    "{inst} pinned at {n} by {} until {}",
                    pause.by,
                    pause.until.format("%Y-%m-%d %H:%M:%SZ")
                ),
            ),
            None => (
                "paused",
                format!(
                    "{inst} paused by {} until {}",
                    pause.by,
                    pause.until.format("%Y-%m-%d %H:%M:%SZ")
                ),
            ),
        },
        StateOp::Resume { .. } => ("resumed", format!("{inst} resumed")),
        _ => return None,
    };
    let notice = decision
        .notices
        .iter()
        .find(|n| n.target.as_deref() == Some(inst));
    Some(LogEntry {
        source: notice.map(|n| n.source.clone()).unwrap_or_default(),
        outcome: outcome.to_string(),
        explanation: notice.map_or(default, |n| n.text.clone()),
        ..entry(a, decision, inst, now)
    })
}

/// The `*` entries of an operator's signal: its decisions on no known instance (a refusal, an
/// unknown target, an event refused or already there), what it did beyond any target (caps
/// lifted, events added or cancelled), or, when it decided nothing at all, what it said (`api
/// was not paused`, `no cap of budget B is in force`). Nothing for other signals.
fn global_log(
    a: &Attempt<'_>,
    decision: &Decision,
    known: &std::collections::BTreeSet<String>,
    global_ops: bool,
    now: DateTime<Utc>,
) -> Vec<LogEntry> {
    if !from_operator(&a.delivery.signal) {
        return Vec::new();
    }
    let mut log: Vec<LogEntry> = decision
        .targets
        .iter()
        .filter(|t| !known.contains(&t.target))
        .map(|t| LogEntry {
            target: GLOBAL.to_string(),
            ..log_entry(a, decision, t, now)
        })
        .collect();
    let said = || {
        decision
            .notices
            .iter()
            .map(|n| n.text.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let source = decision
        .notices
        .first()
        .map(|n| n.source.clone())
        .or_else(|| decision.targets.first().map(|t| t.source.clone()))
        .unwrap_or_default();
    if global_ops {
        log.push(LogEntry {
            source: source.clone(),
            outcome: ResultOutcome::Changed.to_string(),
            explanation: said(),
            ..entry(a, decision, GLOBAL, now)
        });
    } else if log.is_empty()
        && decision.targets.is_empty()
        && decision.ops.is_empty()
        && !decision.notices.is_empty()
    {
        log.push(LogEntry {
            source,
            outcome: "noted".to_string(),
            explanation: said(),
            ..entry(a, decision, GLOBAL, now)
        });
    }
    spread(&mut log);
    log
}

/// Entries of one commit on the same scope get distinct moments (a millisecond apart, the
/// log's sort key's precision), so that each is an item of its own.
fn spread(log: &mut [LogEntry]) {
    let mut seen: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for e in log.iter_mut() {
        let n = seen.entry(e.target.clone()).or_insert(0);
        e.at += chrono::Duration::milliseconds(*n);
        *n += 1;
    }
}
