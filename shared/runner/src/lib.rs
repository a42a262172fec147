//! Carries out Capstan's decisions on AWS, once, on the record.
//!
//! For one signal (an alarm transition, later a tick, a budget alert or a command), the
//! [`Runner`]:
//!
//! 1. finds the targets the signal can concern and their AWS resources;
//! 2. reads, concurrently, their records from the state table, the budget caps and run-time
//!    events, and their live capacity from AWS (batched);
//! 3. asks the policy engine for a decision;
//! 4. per target, commits the decision in one DynamoDB transaction: the signal's idempotency
//!    key (absent: else it is a duplicate and nothing happens) and the target record (at the
//!    version read: else another writer won, and the runner re-reads and decides again);
//! 5. carries a change out on AWS, then publishes what happened (action, suppression or
//!    failure) and clears the record's pending mark.
//!
//! A change is committed before it is made, as a *pending* action: a concurrent decider on the
//! same target sees the capacity it asks for even before AWS shows it, so bounds, cooldowns and
//! rate limits hold under concurrency. A pending mark older than the lease is ignored.
//!
//! Failures: a transient AWS failure (throttling, 5xx, timeouts, after the SDK's own retries)
//! undoes the record, forgets the idempotency key and fails the invocation so that Lambda
//! retries it; a permanent one (access denied, validation) is recorded and announced, and the
//! invocation succeeds (a retry would fail the same way). A failed notification is recorded
//! and never repeats or undoes an action.
#![warn(missing_docs)]

mod metrics;
mod notice;

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use capstan_aws::{AwsError, Clients, Live, Notifier, Resource};
use capstan_policy::decision::{Capacity, Decision, Outcome, Reason, StateOp, TargetDecision};
use capstan_policy::engine::{concerned_targets, NO_TARGET};
use capstan_policy::model::{Policy, Target};
use capstan_policy::signal::Signal;
use capstan_policy::state::{State, TargetState};
use capstan_store::{
    Commit, CommitError, Idempotency, LogEntry, Pending, Store, StoreError, TargetRecord,
};
use chrono::{DateTime, Duration, Utc};
use futures_util::{stream, StreamExt};
use serde::Serialize;
use tracing::{error, info, warn};

pub use metrics::emf_line;

/// How many targets one invocation commits and acts on at once.
pub const TARGET_CONCURRENCY: usize = 8;

/// The source of "now". Production uses [`SystemClock`]; tests pin the moment.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A fixed instant, for tests and replays.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// A signal to handle, with the key that makes redeliveries of it act once.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The signal.
    pub signal: Signal,
    /// Idempotency key: the same for every delivery of the same occurrence.
    pub key: String,
    /// The moment to decide for: a schedule tick's scheduled time, so that a retried or late
    /// tick decides as it would have on time. `None`: now. Records, leases and the log always
    /// use the clock.
    pub at: Option<DateTime<Utc>>,
}

/// What came of one target (or of the signal as a whole, for target `*`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetResult {
    /// The target instance, or `*`.
    pub target: String,
    /// What asked (`rule:api-cpu-high`...).
    pub source: String,
    /// `changed`, `suppressed`, `dry-run`, `failed`, `duplicate`, `ignored`.
    pub outcome: String,
    /// The suppression's reason code, when suppressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Capacity before a change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Capacity>,
    /// Capacity after a change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Capacity>,
    /// What was done on AWS (`ecs:UpdateService desired 5`), or why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied: Option<String>,
    /// The engine's explanation.
    pub explanation: String,
    /// The failure, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// True when the notification about this result could not be published.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub notify_failed: bool,
}

/// Everything that came of one delivery: the function's response and its log.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Report {
    /// The signal in one line.
    pub signal: String,
    /// The idempotency key.
    pub key: String,
    /// Per target (and `*`).
    pub results: Vec<TargetResult>,
    /// Messages for people that were published (or would have been, without a topic).
    pub notices: Vec<String>,
    /// Notifications that could not be published.
    pub notify_failures: usize,
    /// How many times a lost race made the runner read and decide again.
    pub retries: u32,
}

/// A failure the invocation must report, so that Lambda retries it (and, in the end, sends
/// it to the dead-letter queue).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RunError(pub String);

/// Carries decisions out. Cheap to clone; build one per container and reuse it.
#[derive(Clone)]
pub struct Runner {
    policy: Arc<Policy>,
    clients: Clients,
    store: Store,
    notifier: Option<Notifier>,
    clock: Arc<dyn Clock>,
    lease: Duration,
    max_rounds: u32,
    metrics: bool,
}

/// One target instance: which policy target, which AWS resource.
#[derive(Debug, Clone)]
struct Instance {
    name: String,
    target: String,
    resource: Resource,
}

impl Runner {
    /// A runner for `policy`, acting through `clients`, recording in `store`, telling people
    /// through `notifier` (none: notifications are only logged).
    pub fn new(
        policy: Policy,
        clients: Clients,
        store: Store,
        notifier: Option<Notifier>,
        clock: Arc<dyn Clock>,
    ) -> Runner {
        Runner {
            policy: Arc::new(policy),
            clients,
            store,
            notifier,
            clock,
            lease: Duration::seconds(60),
            max_rounds: 12,
            metrics: true,
        }
    }

    /// Turns the CloudWatch metric lines (Embedded Metric Format, written to standard output
    /// for the Lambda log) on or off; off for a command-line tool whose output is its own.
    pub fn with_metrics(mut self, on: bool) -> Runner {
        self.metrics = on;
        self
    }

    /// Writes one metric line, when metrics are on.
    fn metric(&self, name: &str, value: f64, target: &str, outcome: &str) {
        if self.metrics {
            println!("{}", emf_line(name, value, target, outcome));
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The clock's now.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The state table.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Handles one delivery end to end. `Err` only when a retry of the whole invocation may
    /// succeed; everything else, failures included, is in the report (and published).
    pub async fn handle(&self, delivery: &Delivery) -> Result<Report, RunError> {
        let now = self.clock.now();
        let at = delivery.at.unwrap_or(now);
        let mut report = Report {
            signal: delivery.signal.summary(),
            key: delivery.key.clone(),
            ..Report::default()
        };
        let instances = self
            .instances(&delivery.signal)
            .await
            .map_err(retry_or_report)?;
        let known: BTreeSet<String> = instances.iter().map(|i| i.name.clone()).collect();
        let mut open = known.clone();
        let mut global_done = false;
        let mut retryable: Vec<String> = Vec::new();

        for round in 0..self.max_rounds {
            if round > 0 {
                report.retries += 1;
                tokio::time::sleep(backoff(&delivery.key, round)).await;
            }
            let names: Vec<String> = open.iter().cloned().collect();
            let resources: Vec<Resource> = instances
                .iter()
                .filter(|i| open.contains(&i.name))
                .map(|i| i.resource.clone())
                .collect();
            let (records, global, live) = tokio::join!(
                self.store.load_targets(&names),
                self.store.load_global(),
                capstan_aws::describe(&self.clients, &resources),
            );
            let records = records.map_err(store_retry)?;
            let global = global.map_err(store_retry)?;
            let live = live.map_err(|e| RunError(e.to_string()))?;

            let mut state = State {
                targets: BTreeMap::new(),
                caps: global.caps,
                events: global.events,
            };
            let round_instances: Vec<&Instance> = instances
                .iter()
                .filter(|i| open.contains(&i.name))
                .collect();
            for inst in round_instances {
                if let Some(r) = stale_tick(delivery, inst, records.get(&inst.name)) {
                    open.remove(&inst.name);
                    report.results.push(r);
                    continue;
                }
                let Some(l) = live.get(&inst.resource) else {
                    open.remove(&inst.name);
                    let r = self.missing(delivery, inst, now, &mut report).await;
                    report.results.push(r);
                    continue;
                };
                let target = &self.policy.targets[&inst.target];
                let ts = self.target_state(target, inst, records.get(&inst.name), l, now);
                state.targets.insert(inst.name.clone(), ts);
            }

            let decision = capstan_policy::decide(&self.policy, &delivery.signal, &state, at);
            info!(
                signal = %report.signal,
                key = %delivery.key,
                round,
                decision = %decision.render().trim_end(),
                "decided"
            );
            if !global_done {
                global_done = true;
                self.handle_global(delivery, &decision, &known, now, &mut report)
                    .await?;
            }
            let mut conflicted = Vec::new();
            // Targets are independent: commit and act on several at once (in order of the
            // report), bounded so that a tick over hundreds of targets stays within AWS's
            // request rates.
            // (The futures are built in a plain loop: stream combinators with closures here
            // trip the compiler's higher-ranked lifetime check for `Send` futures.)
            let mut work = Vec::new();
            for inst in &instances {
                let Some(ts) = state.targets.get(&inst.name) else {
                    continue;
                };
                let rec = records
                    .get(&inst.name)
                    .cloned()
                    .unwrap_or_else(|| TargetRecord::new(ts.clone(), now));
                let (decision, state, live) = (&decision, &state, &live);
                work.push(async move {
                    let step = self
                        .handle_target(delivery, decision, state, inst, rec, live, now)
                        .await;
                    (inst, step)
                });
            }
            let steps: Vec<(&Instance, Step)> = stream::iter(work)
                .buffered(TARGET_CONCURRENCY)
                .collect()
                .await;
            for (inst, step) in steps {
                match step {
                    Step::Done(results) => {
                        for r in results {
                            if r.outcome == "failed-retryable" {
                                retryable.push(format!(
                                    "{}: {}",
                                    r.target,
                                    r.error.clone().unwrap_or_default()
                                ));
                            }
                            report.results.push(r);
                        }
                        open.remove(&inst.name);
                    }
                    Step::Conflict => conflicted.push(inst.name.clone()),
                }
            }
            if conflicted.is_empty() {
                break;
            }
            if round + 1 == self.max_rounds {
                return Err(RunError(format!(
                    "gave up after {} rounds of concurrent writes on {}",
                    self.max_rounds,
                    conflicted.join(", ")
                )));
            }
        }
        report.notify_failures += report.results.iter().filter(|r| r.notify_failed).count();
        for r in &mut report.results {
            if r.outcome == "failed-retryable" {
                r.outcome = "failed".to_string();
            }
        }
        if !retryable.is_empty() {
            return Err(RunError(format!(
                "transient failure, the invocation will be retried: {}",
                retryable.join("; ")
            )));
        }
        Ok(report)
    }

    /// The instances of the targets the signal concerns.
    async fn instances(&self, signal: &Signal) -> Result<Vec<Instance>, AwsError> {
        let names: Vec<String> = match concerned_targets(&self.policy, signal) {
            Some(names) => names,
            None => self.policy.targets.keys().cloned().collect(),
        };
        let mut out = Vec::new();
        for name in names {
            let Some(target) = self.policy.targets.get(&name) else {
                continue;
            };
            match Resource::for_target(target) {
                Some(resource) => out.push(Instance {
                    name: name.clone(),
                    target: name,
                    resource,
                }),
                None => {
                    for resource in capstan_aws::resolve(&self.clients, target).await? {
                        let id = match &resource {
                            Resource::Ecs { service, .. } => service.clone(),
                            Resource::Asg { group } => group.clone(),
                        };
                        out.push(Instance {
                            name: format!("{name}:{id}"),
                            target: name.clone(),
                            resource,
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// The engine's view of an instance: Capstan's record, AWS's live numbers, and a fresh
    /// pending action over both.
    fn target_state(
        &self,
        target: &Target,
        inst: &Instance,
        rec: Option<&TargetRecord>,
        live: &Live,
        now: DateTime<Utc>,
    ) -> TargetState {
        let mut ts = match rec {
            Some(r) => r.state.clone(),
            None => TargetState::new(&inst.target, live.desired, target.floor, target.ceiling),
        };
        ts.target = inst.target.clone();
        ts.desired = live.desired;
        ts.running = live.running;
        if let (Some(min), Some(max)) = (live.min, live.max) {
            ts.min = min;
            ts.max = max;
        }
        if let Some(p) = rec.and_then(|r| r.fresh_pending(now, self.lease)) {
            ts.desired = p.to.desired;
            ts.min = p.to.min;
            ts.max = p.to.max;
        }
        ts
    }

    /// Notices and decisions that concern no target, and budget caps: once per signal.
    async fn handle_global(
        &self,
        delivery: &Delivery,
        decision: &Decision,
        known: &BTreeSet<String>,
        now: DateTime<Utc>,
        report: &mut Report,
    ) -> Result<(), RunError> {
        let unscoped: Vec<&TargetDecision> = decision
            .targets
            .iter()
            .filter(|t| !known.contains(&t.target))
            .collect();
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
        for t in unscoped {
            let outcome = match &t.outcome {
                Outcome::Suppressed { reason } => reason.code(),
                Outcome::Change { .. } => "changed",
            };
            info!(target = %t.target, source = %t.source, outcome, explanation = %t.explanation, "no-op");
            self.metric("Ignored", 1.0, NO_TARGET, outcome);
            report.results.push(TargetResult {
                target: t.target.clone(),
                source: t.source.clone(),
                outcome: "ignored".to_string(),
                reason: Some(outcome.to_string()),
                from: None,
                to: None,
                applied: None,
                explanation: t.explanation.clone(),
                error: None,
                notify_failed: false,
            });
        }
        // Decisions that concern no target (an alarm no rule mentions...) are logged no-ops:
        // nothing to record, nothing to publish.
        if decision.notices.is_empty()
            && caps.is_empty()
            && lift.is_empty()
            && events.is_empty()
            && cancel_events.is_empty()
        {
            return Ok(());
        }
        let commit = Commit {
            idempotency: Some(Idempotency {
                key: delivery.key.clone(),
                scope: NO_TARGET.to_string(),
                summary: decision.signal.clone(),
            }),
            caps,
            lift_caps: lift,
            events,
            cancel_events,
            ..Commit::default()
        };
        match self.store.commit(&commit, now).await {
            Ok(()) => {}
            Err(CommitError::Duplicate) => {
                info!(key = %delivery.key, "duplicate delivery: notices already handled");
                report.results.push(TargetResult {
                    target: NO_TARGET.to_string(),
                    source: decision.signal.clone(),
                    outcome: "duplicate".to_string(),
                    reason: None,
                    from: None,
                    to: None,
                    applied: None,
                    explanation: "this signal was already handled".to_string(),
                    error: None,
                    notify_failed: false,
                });
                return Ok(());
            }
            Err(CommitError::Conflict) => unreachable!("a commit without a record cannot conflict"),
            Err(CommitError::Store(e)) => return Err(store_retry(e)),
        }
        // Published side by side (bounded): a tick may carry many notices.
        let notes: Vec<_> = decision
            .notices
            .iter()
            .map(|n| notice::for_notice(decision, n))
            .collect();
        let mut work = Vec::new();
        for note in &notes {
            work.push(self.publish(note));
        }
        let published: Vec<bool> = stream::iter(work)
            .buffered(TARGET_CONCURRENCY)
            .collect()
            .await;
        report
            .notices
            .extend(decision.notices.iter().map(|n| n.text.clone()));
        report.notify_failures += published.iter().filter(|ok| !**ok).count();
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn handle_target(
        &self,
        delivery: &Delivery,
        decision: &Decision,
        state: &State,
        inst: &Instance,
        rec: TargetRecord,
        live: &BTreeMap<Resource, Live>,
        now: DateTime<Utc>,
    ) -> Step {
        let mine: Vec<&TargetDecision> = decision
            .targets
            .iter()
            .filter(|t| t.target == inst.name)
            .collect();
        let ops: Vec<&StateOp> = decision
            .ops
            .iter()
            .filter(|op| op_target(op) == Some(inst.name.as_str()))
            .collect();
        if mine.is_empty() && ops.is_empty() {
            return Step::Done(Vec::new());
        }
        // The next state of this instance alone.
        let only = Decision {
            at: decision.at,
            signal: decision.signal.clone(),
            targets: mine.iter().map(|t| (*t).clone()).collect(),
            notices: Vec::new(),
            ops: ops.iter().map(|o| (*o).clone()).collect(),
        };
        let mut next_state = state.clone();
        only.apply(&mut next_state);
        let next_ts = next_state.targets[&inst.name].clone();

        let change = mine.iter().find_map(|t| match &t.outcome {
            Outcome::Change { from, to, .. } => Some((*t, *from, *to)),
            _ => None,
        });
        // Level-triggered signals (schedule ticks) and decisions that find everything already
        // right change nothing and say nothing: no write, no notification, only the log line.
        // A repeated tick therefore costs reads only.
        let quiet = change.is_none()
            && ops.is_empty()
            && (matches!(delivery.signal, Signal::Tick(_))
                || mine.iter().all(|t| {
                    matches!(
                        t.outcome,
                        Outcome::Suppressed {
                            reason: Reason::AlreadyRight
                        }
                    )
                }));
        if quiet {
            let results = mine
                .iter()
                .map(|t| {
                    let r = result_of(t);
                    info!(
                        target = %inst.name, source = %t.source,
                        reason = r.reason.as_deref().unwrap_or(""),
                        explanation = %t.explanation, "nothing to do"
                    );
                    r
                })
                .collect();
            return Step::Done(results);
        }
        let mut record = rec.clone();
        record.state = next_ts;
        record.updated_at = now;
        if matches!(delivery.signal, Signal::Tick(_)) {
            record.tick_at = Some(rec.tick_at.map_or(decision.at, |t| t.max(decision.at)));
        }
        if let Some((t, from, to)) = change {
            record.pending = Some(Pending {
                key: delivery.key.clone(),
                at: now,
                source: t.source.clone(),
                from,
                to,
            });
        }
        let log: Vec<LogEntry> = mine
            .iter()
            .map(|t| log_entry(delivery, decision, t, now))
            .collect();
        let write_record = change.is_some() || !ops.is_empty();
        let commit = Commit {
            idempotency: Some(Idempotency {
                key: delivery.key.clone(),
                scope: inst.name.clone(),
                summary: mine
                    .iter()
                    .map(|t| format!("{} {}", t.source, t.outcome.kind()))
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
            record: write_record.then(|| (inst.name.clone(), record.clone())),
            log,
            ..Commit::default()
        };
        match self.store.commit(&commit, now).await {
            Ok(()) => {}
            Err(CommitError::Conflict) => {
                info!(target = %inst.name, key = %delivery.key, "lost a race: reading again");
                return Step::Conflict;
            }
            Err(CommitError::Duplicate) => {
                info!(target = %inst.name, key = %delivery.key, "duplicate delivery: nothing to do");
                self.metric("Duplicates", 1.0, &inst.name, "duplicate");
                return Step::Done(vec![TargetResult {
                    target: inst.name.clone(),
                    source: mine.first().map(|t| t.source.clone()).unwrap_or_default(),
                    outcome: "duplicate".to_string(),
                    reason: None,
                    from: None,
                    to: None,
                    applied: None,
                    explanation: format!("{} was already handled for {}", delivery.key, inst.name),
                    error: None,
                    notify_failed: false,
                }]);
            }
            Err(CommitError::Store(e)) => {
                let retry = e.is_retryable();
                error!(target = %inst.name, error = %e, "state table write failed");
                return Step::Done(vec![failure(
                    inst,
                    mine.first().map(|t| t.source.as_str()).unwrap_or(""),
                    format!("state table: {e}"),
                    retry,
                )]);
            }
        }

        let mut results = Vec::new();
        for t in &mine {
            let mut result = result_of(t);
            match &t.outcome {
                Outcome::Change { from, to, .. } => {
                    let l = &live[&inst.resource];
                    match capstan_aws::apply(&self.clients, &inst.resource, l, *to).await {
                        Ok(applied) => {
                            result.applied =
                                Some(notice::describe_applied(&inst.resource, &applied));
                            info!(
                                target = %inst.name, source = %t.source, from = %from, to = %to,
                                applied = result.applied.as_deref().unwrap_or(""), "changed"
                            );
                            self.metric("Actions", 1.0, &inst.name, "changed");
                            // Publish and clear the pending mark side by side; a failed
                            // notification is recorded afterwards (and never undoes the action).
                            let note = notice::for_result(decision, &result);
                            let mut done = record.clone();
                            done.version = rec.version + 1;
                            done.pending = None;
                            let (published, ()) = tokio::join!(
                                self.publish(&note),
                                self.finalize(&inst.name, done, &delivery.key, now)
                            );
                            result.notify_failed = !published;
                            if !published {
                                self.note_error(&inst.name, &delivery.key, now).await;
                            }
                        }
                        Err(e) => {
                            let retry = e.is_retryable();
                            error!(target = %inst.name, error = %e, retryable = retry, "AWS refused the change");
                            self.metric("Failures", 1.0, &inst.name, "failed");
                            self.undo(&inst.name, &t.source, &delivery.key, &e, decision.at, now)
                                .await;
                            if retry {
                                if let Err(fe) = self.store.forget(&delivery.key, &inst.name).await
                                {
                                    error!(error = %fe, "could not forget the idempotency key");
                                }
                            }
                            result = failure(inst, &t.source, e.to_string(), retry);
                            result.from = Some(*from);
                            result.to = Some(*to);
                            result.explanation = t.explanation.clone();
                            result.notify_failed =
                                !self.publish(&notice::for_result(decision, &result)).await;
                        }
                    }
                }
                Outcome::Suppressed { reason } => {
                    info!(
                        target = %inst.name, source = %t.source, reason = reason.code(),
                        explanation = %t.explanation, "suppressed"
                    );
                    let metric = if matches!(reason, Reason::DryRun { .. }) {
                        "DryRuns"
                    } else {
                        "Suppressions"
                    };
                    self.metric(metric, 1.0, &inst.name, reason.code());
                    // A tick that finds a target right has nothing to tell, even when it
                    // records something (an occurrence that needed no change).
                    let tell = !(matches!(delivery.signal, Signal::Tick(_))
                        && matches!(reason, Reason::AlreadyRight));
                    if tell && !self.publish(&notice::for_result(decision, &result)).await {
                        result.notify_failed = true;
                        self.note_error(&inst.name, &delivery.key, now).await;
                    }
                }
            }
            results.push(result);
        }
        Step::Done(results)
    }

    /// Clears the pending mark of `key` (and records a notification failure), whoever wrote
    /// the record last.
    async fn finalize(
        &self,
        instance: &str,
        mut done: TargetRecord,
        key: &str,
        now: DateTime<Utc>,
    ) {
        for _ in 0..self.max_rounds {
            let commit = Commit {
                record: Some((instance.to_string(), done.clone())),
                ..Commit::default()
            };
            match self.store.commit(&commit, now).await {
                Ok(()) => return,
                Err(CommitError::Conflict) => {}
                Err(e) => {
                    warn!(target = instance, error = %e, "could not clear the pending mark; it expires by itself");
                    return;
                }
            }
            let Ok(mut records) = self.store.load_targets(&[instance.to_string()]).await else {
                return;
            };
            let Some(mut current) = records.remove(instance) else {
                return;
            };
            if current.pending.as_ref().map(|p| p.key.as_str()) != Some(key) {
                if done.last_error.is_some() {
                    current.last_error = done.last_error.clone();
                } else {
                    return;
                }
            } else {
                current.pending = None;
                current.last_error = done.last_error.clone().or(current.last_error);
            }
            done = current;
        }
    }

    /// Takes a failed change back out of the record: its history entry (decided for
    /// `decided_at`) and pending mark.
    #[allow(clippy::too_many_arguments)]
    async fn undo(
        &self,
        instance: &str,
        source: &str,
        key: &str,
        err: &AwsError,
        decided_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        for _ in 0..self.max_rounds {
            let Ok(mut records) = self.store.load_targets(&[instance.to_string()]).await else {
                return;
            };
            let Some(mut current) = records.remove(instance) else {
                return;
            };
            current
                .state
                .history
                .retain(|a| !(a.at == decided_at && a.source == source));
            if current.pending.as_ref().map(|p| p.key.as_str()) == Some(key) {
                if let Some(p) = current.pending.take() {
                    current.state.desired = p.from.desired;
                    current.state.min = p.from.min;
                    current.state.max = p.from.max;
                }
            }
            current.last_error = Some(format!("{}: {err}", now.format("%Y-%m-%d %H:%M:%SZ")));
            current.updated_at = now;
            let commit = Commit {
                record: Some((instance.to_string(), current)),
                ..Commit::default()
            };
            match self.store.commit(&commit, now).await {
                Ok(()) => return,
                Err(CommitError::Conflict) => continue,
                Err(e) => {
                    error!(target = instance, error = %e, "could not undo the failed change in the record");
                    return;
                }
            }
        }
    }

    /// Records that a notification about `key` failed.
    async fn note_error(&self, instance: &str, key: &str, now: DateTime<Utc>) {
        let Ok(mut records) = self.store.load_targets(&[instance.to_string()]).await else {
            return;
        };
        if let Some(mut current) = records.remove(instance) {
            current.last_error = Some(format!(
                "{}: notification failed for {key}",
                now.format("%Y-%m-%d %H:%M:%SZ")
            ));
            self.finalize(instance, current, key, now).await;
        }
    }

    /// A target whose AWS resource does not exist: announced once per signal.
    async fn missing(
        &self,
        delivery: &Delivery,
        inst: &Instance,
        now: DateTime<Utc>,
        report: &mut Report,
    ) -> TargetResult {
        let mut r = failure(
            inst,
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
        let commit = Commit {
            idempotency: Some(Idempotency {
                key: delivery.key.clone(),
                scope: inst.name.clone(),
                summary: "resource not found".to_string(),
            }),
            ..Commit::default()
        };
        match self.store.commit(&commit, now).await {
            Ok(()) => {
                error!(target = %inst.name, resource = %inst.resource.label(), "resource not found");
                self.metric("Failures", 1.0, &inst.name, "not-found");
                let d = Decision {
                    at: now,
                    signal: report.signal.clone(),
                    targets: Vec::new(),
                    notices: Vec::new(),
                    ops: Vec::new(),
                };
                r.notify_failed = !self.publish(&notice::for_result(&d, &r)).await;
            }
            Err(_) => r.outcome = "duplicate".to_string(),
        }
        r
    }

    /// Publishes; false (logged, counted) when it failed or there is no topic.
    async fn publish(&self, n: &capstan_aws::Notification) -> bool {
        let Some(notifier) = &self.notifier else {
            info!(subject = %n.subject, "no topic configured: notification only logged");
            return true;
        };
        match notifier.publish(n).await {
            Ok(id) => {
                info!(subject = %n.subject, message_id = %id, "published");
                true
            }
            Err(e) => {
                error!(subject = %n.subject, error = %e, "notification failed");
                self.metric("NotifyFailures", 1.0, &n.target, &n.outcome);
                false
            }
        }
    }
}

/// A tick for a moment older than the newest tick that already wrote this target's record (a
/// late retry, say) must not undo what the newer one did: it is skipped, and the next tick
/// corrects whatever is left.
fn stale_tick(
    delivery: &Delivery,
    inst: &Instance,
    rec: Option<&TargetRecord>,
) -> Option<TargetResult> {
    let (Signal::Tick(_), Some(at)) = (&delivery.signal, delivery.at) else {
        return None;
    };
    let newer = rec.and_then(|r| r.tick_at).filter(|t| *t > at)?;
    info!(target = %inst.name, tick = %at, newer = %newer, "stale tick skipped");
    Some(TargetResult {
        target: inst.name.clone(),
        source: "schedule".to_string(),
        outcome: "ignored".to_string(),
        reason: Some("stale-tick".to_string()),
        from: None,
        to: None,
        applied: None,
        explanation: format!(
            "tick for {} is older than the tick for {} that already set {}: skipped",
            at.format("%Y-%m-%d %H:%M:%SZ"),
            newer.format("%Y-%m-%d %H:%M:%SZ"),
            inst.name
        ),
        error: None,
        notify_failed: false,
    })
}

enum Step {
    Done(Vec<TargetResult>),
    Conflict,
}

fn op_target(op: &StateOp) -> Option<&str> {
    match op {
        StateOp::Pause { target, .. }
        | StateOp::Resume { target }
        | StateOp::MarkOccurrence { target, .. } => Some(target),
        StateOp::AddCap(_) | StateOp::LiftCap { .. } => None,
        StateOp::AddEvent { .. } | StateOp::CancelEvent { .. } => None,
    }
}

fn result_of(t: &TargetDecision) -> TargetResult {
    let (outcome, reason, from, to) = match &t.outcome {
        Outcome::Change { from, to, .. } => ("changed", None, Some(*from), Some(*to)),
        Outcome::Suppressed {
            reason: reason @ Reason::DryRun { would },
        } => (
            "dry-run",
            Some(reason.code().to_string()),
            None,
            Some(*would),
        ),
        Outcome::Suppressed { reason } => {
            ("suppressed", Some(reason.code().to_string()), None, None)
        }
    };
    TargetResult {
        target: t.target.clone(),
        source: t.source.clone(),
        outcome: outcome.to_string(),
        reason,
        from,
        to,
        applied: None,
        explanation: t.explanation.clone(),
        error: None,
        notify_failed: false,
    }
}

fn failure(inst: &Instance, source: &str, error: String, retryable: bool) -> TargetResult {
    TargetResult {
        target: inst.name.clone(),
        source: source.to_string(),
        outcome: if retryable {
            "failed-retryable"
        } else {
            "failed"
        }
        .to_string(),
        reason: None,
        from: None,
        to: None,
        applied: None,
        explanation: String::new(),
        error: Some(error),
        notify_failed: false,
    }
}

fn log_entry(
    delivery: &Delivery,
    decision: &Decision,
    t: &TargetDecision,
    now: DateTime<Utc>,
) -> LogEntry {
    let r = result_of(t);
    LogEntry {
        at: now,
        key: delivery.key.clone(),
        target: t.target.clone(),
        source: t.source.clone(),
        signal: decision.signal.clone(),
        outcome: match &r.reason {
            Some(code) => code.clone(),
            None => r.outcome.clone(),
        },
        from: r.from,
        to: r.to,
        explanation: t.explanation.clone(),
    }
}

fn retry_or_report(e: AwsError) -> RunError {
    RunError(e.to_string())
}

fn store_retry(e: StoreError) -> RunError {
    RunError(format!("state table: {e}"))
}

/// Exponential backoff with deterministic jitter (from the key and the round), capped.
fn backoff(key: &str, round: u32) -> std::time::Duration {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (key, round).hash(&mut h);
    let base = 20u64 << round.min(6);
    let jitter = h.finish() % base.max(1);
    std::time::Duration::from_millis((base / 2 + jitter).min(1500))
}
