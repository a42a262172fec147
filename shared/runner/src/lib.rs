//! Carries out Capstan's decisions on AWS, exactly once, on the record.
//!
//! For one signal (an alarm transition, a tick, a budget alert or a command) the [`Runner`]:
//!
//! 1. finds the targets the signal can concern and their AWS resources;
//! 2. reads, concurrently, their records from the state table, the budget caps and run-time
//!    events, and their live capacity from AWS (batched);
//! 3. asks the policy engine for a decision;
//! 4. per target, commits the decision in one DynamoDB transaction: the signal's *receipt* for
//!    the target, new (else the signal was handled before: the stored result is the answer),
//!    *in progress* until a deadline, with the notifications to publish; and the target record
//!    at the version read, holding the change as an *intent*: the plan of one AWS call with
//!    absolute values;
//! 5. makes the call, publishes, and marks the receipt done as it clears the intent.
//!
//! Targets are handled [`TARGET_CONCURRENCY`] at a time, and the commits of those at work are
//! written together, one transaction per step for the group (see `batch`): a boundary tick over
//! 500 targets makes two transactions per 8 targets, not two per target. Each target still gets
//! the answer its own commit would have had, so nothing below depends on the batching.
//!
//! # Exactly once
//!
//! The receipt is written before any side effect, like an idempotency record of Powertools
//! for AWS Lambda, but it is not the end of the story: the intent says what the side effect
//! *is*, and every call sets absolute values, so whoever finds an intent whose owner is gone
//! (past its deadline: the owner's Lambda deadline plus a margin) completes it: it reads live
//! capacity, makes the call again unless AWS already shows it, publishes and finishes. Hence:
//!
//! - a duplicate delivery gets the stored result; a concurrent one waits for the owner, and
//!   fails as [`RunError::InProgress`] if the owner is still at work (Lambda retries later);
//! - an invocation killed at any point leaves an intent that the retry (or the next signal on
//!   that target) completes, once;
//! - a call that AWS applied but whose answer was lost is recognised by reading live capacity,
//!   and never made relative to the new count;
//! - a commit that landed but whose answer was lost is recognised as this attempt's own (its
//!   receipt names the attempt; real DynamoDB also honours the transaction's token);
//! - a transient failure leaves the intent, released at once for the retry to complete; a
//!   permanent one (access denied, validation) restores the record as it was before (history,
//!   occurrence marks) and is announced once;
//! - an intent older than [`MAX_INTENT_AGE`] (Lambda's longest retry window in the template) is
//!   not completed any more but undone and announced: capacity decided long ago is stale.
//!
//! While a target holds a live intent, nothing else is decided for it: other signals wait and
//! read again, so decisions build on each other in order. Notifications carry a `dedup` id: a
//! retry that completes an intent whose publication was not confirmed may publish it again
//! (at least once; on an SNS FIFO topic, exactly once).
//!
//! The runner talks to AWS only through the [`ports`]; [`memory`] has in-memory adapters with
//! programmable faults.
#![warn(missing_docs)]

mod batch;
mod digest;
mod intent;
pub mod memory;
mod metrics;
mod notice;
pub mod ports;
mod report;
pub mod view;

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[cfg(doc)]
use capstan_aws::Clients;
use capstan_aws::{AwsError, Live, Notifier, Reach, ReachPool, Resource};
use capstan_policy::decision::{StateOp, TargetDecision};
use capstan_policy::engine::{
    concerned_targets, is_quiet, stale_tick as engine_stale_tick, told_in_digest, NO_TARGET,
};
use capstan_policy::model::{Policy, Target};
use capstan_policy::signal::Signal;
use capstan_policy::state::{State, TargetState};
use capstan_store::{Store, StoreError, TargetRecord};
use chrono::{DateTime, Duration, Utc};
use futures_util::{stream, StreamExt};
use tracing::{info, warn};

pub use metrics::emf_line;
pub use ports::{AwsFleet, Fleet, Publisher, StateTable};
pub use report::{Report, ResultOutcome, RunError, TargetResult};

/// How many targets one invocation commits and acts on at once.
pub const TARGET_CONCURRENCY: usize = 8;
/// How long after its owner's deadline an intent or receipt is certainly abandoned by it.
pub const DEADLINE_MARGIN: Duration = Duration::seconds(10);
/// No target is started with less time left than this before the invocation's deadline: a
/// target takes about four round trips, and its intent must be committed well before.
pub const START_RESERVE: Duration = Duration::seconds(3);
/// The oldest intent a retry still completes: the template's `MaximumEventAgeInSeconds`.
pub const MAX_INTENT_AGE: Duration = Duration::minutes(15);
/// The time [`Runner::handle`] allows itself, when no deadline is given.
pub const DEFAULT_BUDGET: Duration = Duration::seconds(30);

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

/// Where attempt ids come from: one per handling of a delivery, unique among every attempt
/// that may meet in the state table. Injected, so that tests are deterministic.
pub trait Ids: Send + Sync {
    /// A new attempt id.
    fn attempt(&self) -> String;
}

/// Attempt ids from the process's random hash keys, the clock and a counter: unique across
/// containers without a random-number crate.
#[derive(Debug, Default)]
pub struct RandomIds {
    counter: AtomicU64,
}

impl Ids for RandomIds {
    fn attempt(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let keys = std::collections::hash_map::RandomState::new();
        let first = keys.hash_one((n, Utc::now().timestamp_nanos_opt(), std::process::id()));
        format!("{first:016x}{:016x}", keys.hash_one((first, n)))
    }
}

/// Attempt ids `a1`, `a2`, ... (tests).
#[derive(Debug, Default)]
pub struct SequentialIds {
    counter: AtomicU64,
}

impl Ids for SequentialIds {
    fn attempt(&self) -> String {
        format!("a{}", self.counter.fetch_add(1, Ordering::Relaxed) + 1)
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

/// The adapters a runner acts through.
#[derive(Clone)]
pub struct Ports {
    /// The state table.
    pub table: Arc<dyn StateTable>,
    /// The resources.
    pub fleet: Arc<dyn Fleet>,
    /// Where notifications go (none: they are only logged).
    pub publisher: Option<Arc<dyn Publisher>>,
}

/// Carries decisions out. Cheap to clone; build one per container and reuse it.
#[derive(Clone)]
pub struct Runner {
    policy: Arc<Policy>,
    ports: Ports,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn Ids>,
    max_rounds: u32,
    metrics: bool,
    policy_version: Option<String>,
}

/// One target instance: which policy target, which AWS resource. A plain target has one
/// instance of its own name; a selector target one per resource it matches, named
/// `target:resource-id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The instance's name: the key of its record and its log.
    pub name: String,
    /// The policy target.
    pub target: String,
    /// The AWS resource.
    pub resource: Resource,
}

/// Selector targets set aside because their account could not be reached: the target's
/// name, its reach and why.
pub(crate) type CutOff = Vec<(String, Reach, AwsError)>;

/// One handling of a delivery: who is acting, and until when.
#[derive(Clone)]
pub(crate) struct Attempt<'a> {
    pub(crate) delivery: &'a Delivery,
    /// This attempt's id, written into every receipt and intent it owns.
    pub(crate) id: String,
    /// The invocation's deadline.
    pub(crate) deadline: DateTime<Utc>,
    /// The deadline of what this attempt commits: after it, others may take over.
    pub(crate) intent_deadline: DateTime<Utc>,
    /// Where its commits go while several targets are handled side by side (none: straight
    /// to the table).
    pub(crate) batch: Option<&'a batch::Batch<'a>>,
    /// The policy's version, for the log entries.
    pub(crate) policy_version: Option<&'a str>,
}

impl Runner {
    /// A runner for `policy` on AWS: acting through `fleet` (a [`ReachPool`] for targets in
    /// other accounts too, or the hub's [`Clients`] alone), recording in `store`, telling
    /// people through `notifier` (none: notifications are only logged).
    pub fn new(
        policy: Policy,
        fleet: impl Into<ReachPool>,
        store: Store,
        notifier: Option<Notifier>,
        clock: Arc<dyn Clock>,
    ) -> Runner {
        Runner::with_ports(
            policy,
            Ports {
                table: Arc::new(store),
                fleet: Arc::new(AwsFleet(fleet.into())),
                publisher: notifier.map(|n| Arc::new(n) as Arc<dyn Publisher>),
            },
            clock,
        )
    }

    /// A runner for `policy` acting through `ports`.
    pub fn with_ports(policy: Policy, ports: Ports, clock: Arc<dyn Clock>) -> Runner {
        Runner {
            policy: Arc::new(policy),
            ports,
            clock,
            ids: Arc::new(RandomIds::default()),
            max_rounds: 12,
            metrics: true,
            policy_version: None,
        }
    }

    /// Names the policy's version (an SSM parameter's version, a file's hash): written into
    /// every log entry the runner records.
    pub fn with_policy_version(mut self, version: impl Into<String>) -> Runner {
        self.policy_version = Some(version.into());
        self
    }

    /// The policy's version, when it was named ([`Runner::with_policy_version`]).
    pub fn policy_version(&self) -> Option<&str> {
        self.policy_version.as_deref()
    }

    /// Takes attempt ids from `ids` (tests: [`SequentialIds`]).
    pub fn with_ids(mut self, ids: Arc<dyn Ids>) -> Runner {
        self.ids = ids;
        self
    }

    /// Turns the CloudWatch metric lines (Embedded Metric Format, written to standard output
    /// for the Lambda log) on or off; off for a command-line tool whose output is its own.
    pub fn with_metrics(mut self, on: bool) -> Runner {
        self.metrics = on;
        self
    }

    /// Writes one metric line, when metrics are on.
    pub(crate) fn metric(&self, name: &str, value: f64, target: &str, outcome: &str) {
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
    pub fn store(&self) -> &dyn StateTable {
        self.ports.table.as_ref()
    }

    pub(crate) fn table(&self) -> &dyn StateTable {
        self.ports.table.as_ref()
    }

    /// Commits for `a`: with the other targets it handles side by side, if any.
    pub(crate) async fn commit(
        &self,
        a: &Attempt<'_>,
        commit: &capstan_store::Commit,
    ) -> Result<(), capstan_store::CommitError> {
        let now = self.now();
        match a.batch {
            Some(batch) => batch.commit(commit, now).await,
            None => self.table().commit(commit, now).await,
        }
    }

    pub(crate) fn fleet(&self) -> &dyn Fleet {
        self.ports.fleet.as_ref()
    }

    /// Handles one delivery end to end, allowing itself [`DEFAULT_BUDGET`].
    pub async fn handle(&self, delivery: &Delivery) -> Result<Report, RunError> {
        let deadline = self.clock.now() + DEFAULT_BUDGET;
        self.handle_by(delivery, deadline).await
    }

    /// Handles one delivery end to end, within `deadline` (the Lambda context's). `Err` only
    /// when a retry of the whole invocation may succeed; everything else, failures included,
    /// is in the report (and published).
    pub async fn handle_by(
        &self,
        delivery: &Delivery,
        deadline: DateTime<Utc>,
    ) -> Result<Report, RunError> {
        let now = self.clock.now();
        let attempt = Attempt {
            delivery,
            id: self.ids.attempt(),
            deadline,
            intent_deadline: deadline + DEADLINE_MARGIN,
            batch: None,
            policy_version: self.policy_version(),
        };
        let at = delivery.at.unwrap_or(now);
        let mut report = Report {
            signal: delivery.signal.summary(),
            key: delivery.key.clone(),
            ..Report::default()
        };
        let (instances, cut_off) = match self.instances(&delivery.signal).await {
            Ok(i) => i,
            Err(e) if e.is_retryable() => return Err(RunError::Transient(e.to_string())),
            Err(e) => {
                let r = self
                    .announce_failure(&attempt, "cannot find the targets", e.to_string())
                    .await?;
                report.results.push(r);
                return Ok(report);
            }
        };
        // Selector targets in another account whose resources could not be listed there fail
        // alone; the others go on.
        for (name, reach, e) in &cut_off {
            let r = self.unreachable(&attempt, name, reach, e).await?;
            report.results.push(r);
        }
        let known: BTreeSet<String> = instances.iter().map(|i| i.name.clone()).collect();
        let mut open = known.clone();
        let mut global_done = false;
        let mut busy: BTreeMap<String, String> = BTreeMap::new();
        // For a tick's digest: the news of this delivery's results, and the targets an earlier
        // attempt at this tick wrote (their receipts hold what it did).
        let mut told: Vec<TargetResult> = Vec::new();
        let mut earlier: Vec<String> = Vec::new();

        for round in 0..self.max_rounds {
            if round > 0 {
                report.retries += 1;
                tokio::time::sleep(backoff(&delivery.key, round)).await;
            }
            if self.clock.now() + START_RESERVE >= deadline {
                return Err(out_of_time(&open));
            }
            busy.clear();
            let names: Vec<String> = open.iter().cloned().collect();
            // One describe per account: a role that cannot be assumed fails its own targets only.
            let mut by_reach: BTreeMap<Option<Reach>, Vec<Resource>> = BTreeMap::new();
            for i in instances.iter().filter(|i| open.contains(&i.name)) {
                by_reach
                    .entry(i.resource.reach().cloned())
                    .or_default()
                    .push(i.resource.clone());
            }
            let hub_resources = by_reach.remove(&None).unwrap_or_default();
            let remote = futures_util::future::join_all(by_reach.into_iter().map(
                |(reach, rs)| async move {
                    let reach = reach.expect("the hub's were taken out");
                    (reach, self.fleet().describe(&rs).await)
                },
            ));
            // The first round also looks for this signal's `*` receipt left unfinished by an
            // attempt that died (its notices are published before anything else is decided).
            let star = async {
                if round == 0 {
                    Some(self.table().receipt(&delivery.key, GLOBAL).await)
                } else {
                    None
                }
            };
            let (records, global, live, star, remote) = tokio::join!(
                self.table().load_targets(&names),
                self.table().load_global(),
                self.fleet().describe(&hub_resources),
                star,
                remote,
            );
            let mut unreachable: BTreeMap<Reach, AwsError> = BTreeMap::new();
            let live = live.map(|mut live| {
                for (reach, read) in remote {
                    match read {
                        Ok(l) => live.extend(l),
                        Err(e) => {
                            unreachable.insert(reach, e);
                        }
                    }
                }
                live
            });
            match star {
                Some(Ok(Some(r))) => self.finish_global(&attempt, r, &mut report).await?,
                // Not fatal: the `*` commit, if this decision has one, meets the receipt anyway.
                Some(Err(e)) => {
                    warn!(key = %delivery.key, error = %e, "could not read the signal's * receipt")
                }
                _ => {}
            }
            let read = records
                .map_err(|e| ("the state table", store_error(e)))
                .and_then(|r| {
                    global
                        .map(|g| (r, g))
                        .map_err(|e| ("the state table", store_error(e)))
                })
                .and_then(|(r, g)| {
                    live.map(|l| (r, g, l))
                        .map_err(|e| ("live capacity", (e.is_retryable(), e.to_string())))
                });
            let (records, global, live) = match read {
                Ok(x) => x,
                Err((_, (true, e))) => return Err(RunError::Transient(e)),
                Err((what, (false, e))) => {
                    let r = self
                        .announce_failure(&attempt, &format!("cannot read {what}"), e)
                        .await?;
                    report.results.push(r);
                    return Ok(report);
                }
            };
            let now = self.clock.now();

            let mut state = State {
                targets: BTreeMap::new(),
                caps: global.caps,
                events: global.events,
            };
            let mut recover = Vec::new();
            let mut completed_others = false;
            let reading: Vec<&Instance> = instances
                .iter()
                .filter(|i| open.contains(&i.name))
                .collect();
            for inst in reading {
                let rec = records.get(&inst.name);
                if let Some(r) = stale_tick(delivery, inst, rec) {
                    open.remove(&inst.name);
                    report.results.push(r);
                    continue;
                }
                if let Some((reach, e)) = inst
                    .resource
                    .reach()
                    .and_then(|reach| unreachable.get_key_value(reach))
                {
                    open.remove(&inst.name);
                    let r = self.unreachable(&attempt, &inst.name, reach, e).await?;
                    report.results.push(r);
                    continue;
                }
                let Some(l) = live.get(&inst.resource) else {
                    open.remove(&inst.name);
                    let r = self.missing(&attempt, inst).await?;
                    report.results.push(r);
                    continue;
                };
                if let Some(p) = rec.and_then(|r| r.pending.as_ref()) {
                    if p.live_at(now) {
                        // Its owner may still be at work: wait for it, then decide on top.
                        info!(target = %inst.name, key = %p.key, "target busy: waiting for its intent");
                        busy.insert(inst.name.clone(), p.key.clone());
                    } else {
                        recover.push((inst, rec.cloned().expect("a record holds the intent"), l));
                    }
                    continue;
                }
                let target = &self.policy.targets[&inst.target];
                let ts = target_state(target, inst, rec, Some(l));
                state.targets.insert(inst.name.clone(), ts);
            }

            // Intents whose owners are gone are completed first, side by side.
            if !recover.is_empty() {
                let batch = batch::Batch::new(self.table(), recover.len(), TARGET_CONCURRENCY);
                let side_by_side = Attempt {
                    batch: Some(&batch),
                    ..attempt.clone()
                };
                let mut work = Vec::new();
                for (inst, rec, l) in &recover {
                    let (a, batch) = (&side_by_side, &batch);
                    work.push(async move {
                        let _at_work = batch.worker();
                        self.recover(a, inst, rec.clone(), l).await
                    });
                }
                let done: Vec<_> = stream::iter(work)
                    .buffer_unordered(TARGET_CONCURRENCY)
                    .collect()
                    .await;
                for (name, outcome) in done {
                    match outcome {
                        intent::Recovered::Done { key, results } => {
                            if key == delivery.key {
                                // This very signal's intent: what it did is this delivery's result.
                                open.remove(&name);
                                told.extend(results.iter().filter(|r| digest::is_news(r)).cloned());
                                report.results.extend(results);
                            } else {
                                // Decide for this signal next round, on top of what it did.
                                completed_others = true;
                                report.recovered.extend(results);
                            }
                        }
                        intent::Recovered::Busy => {
                            busy.insert(name, String::new());
                        }
                        intent::Recovered::Failed(r) => {
                            open.remove(&name);
                            report.results.push(*r);
                        }
                    }
                }
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
                self.handle_global(&attempt, &decision, &known, &mut report)
                    .await?;
            }

            let mut conflicted = Vec::new();
            // Each instance's part of the decision, found once (not by a scan per instance).
            let mut parts: BTreeMap<&str, (Vec<&TargetDecision>, Vec<&StateOp>)> = BTreeMap::new();
            for t in &decision.targets {
                parts.entry(t.target.as_str()).or_default().0.push(t);
            }
            for op in &decision.ops {
                if let Some(name) = op_target(op) {
                    parts.entry(name).or_default().1.push(op);
                }
            }
            // Targets are independent: commit and act on several at once, bounded so that a tick
            // over hundreds of targets stays within AWS's request rates. A target that needs
            // nothing is settled here: it costs no future and holds no slot.
            let mut work = Vec::new();
            for (place, inst) in instances.iter().enumerate() {
                let Some(ts) = state.targets.get(&inst.name) else {
                    continue;
                };
                let (mine, ops) = parts.remove(inst.name.as_str()).unwrap_or_default();
                if is_quiet(&delivery.signal, &mine, &ops) {
                    open.remove(&inst.name);
                    report.results.extend(nothing_to_do(&mine));
                    if written_by_this_tick(delivery, records.get(&inst.name)) {
                        // An earlier attempt at this tick changed it: what it did may still be
                        // owed to the digest.
                        earlier.push(inst.name.clone());
                    }
                    continue;
                }
                let w = intent::TargetWork {
                    decision: &decision,
                    inst,
                    ts,
                    rec: records.get(&inst.name),
                    live: &live[&inst.resource],
                    mine,
                    ops,
                };
                work.push((place, inst, w));
            }
            let batch = batch::Batch::new(self.table(), work.len(), TARGET_CONCURRENCY);
            let side_by_side = Attempt {
                batch: Some(&batch),
                ..attempt.clone()
            };
            // Built in a loop, not by a closure: the handlers' futures must stay `Send`, and a
            // closure's lifetimes are not general enough for that.
            let mut futures = Vec::with_capacity(work.len());
            for (place, inst, w) in work {
                let (a, batch) = (&side_by_side, &batch);
                futures.push(async move {
                    let _at_work = batch.worker();
                    (place, inst, self.handle_target(a, w).await)
                });
            }
            let work = futures;
            let mut steps: Vec<(usize, &Instance, intent::Step)> = stream::iter(work)
                .buffer_unordered(TARGET_CONCURRENCY)
                .collect()
                .await;
            // In the order of the policy's targets, whatever order they finished in.
            steps.sort_by_key(|(place, _, _)| *place);
            for (_, inst, step) in steps {
                match step {
                    intent::Step::Done(results) => {
                        told.extend(results.iter().filter(|r| digest::is_news(r)).cloned());
                        report.results.extend(results);
                        open.remove(&inst.name);
                    }
                    intent::Step::Conflict => conflicted.push(inst.name.clone()),
                    intent::Step::Busy(key) => {
                        busy.insert(inst.name.clone(), key);
                    }
                    intent::Step::OutOfTime => {}
                }
            }
            if open.is_empty() {
                break;
            }
            if round + 1 == self.max_rounds {
                if !busy.is_empty() {
                    return Err(in_progress(&busy));
                }
                return Err(RunError::Transient(format!(
                    "gave up after {} rounds of concurrent writes on {}",
                    self.max_rounds,
                    open.iter().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            if conflicted.is_empty() && busy.is_empty() && !completed_others {
                // Nothing to wait for: what is left was cut by the deadline.
                return Err(out_of_time(&open));
            }
        }
        let retry_left = report.results.iter().any(|r| r.retryable);
        if told_in_digest(&delivery.signal) && !retry_left {
            // Only once nothing is left for a retry: the retry tells everything, in one digest.
            self.digest(&attempt, at, told, &earlier, &mut report)
                .await?;
        }
        report.notify_failures += report.results.iter().filter(|r| r.notify_failed).count();
        let retry: Vec<String> = report
            .results
            .iter()
            .filter(|r| r.retryable)
            .map(|r| format!("{}: {}", r.target, r.error.clone().unwrap_or_default()))
            .collect();
        if !retry.is_empty() {
            return Err(RunError::Transient(retry.join("; ")));
        }
        Ok(report)
    }

    /// The instances of the targets the signal concerns, and the selector targets in another
    /// account whose resources could not be listed there (each with its reach and why).
    async fn instances(&self, signal: &Signal) -> Result<(Vec<Instance>, CutOff), AwsError> {
        let names: Vec<String> = match concerned_targets(&self.policy, signal) {
            Some(names) => names,
            None => self.policy.targets.keys().cloned().collect(),
        };
        let (instances, _, cut_off) = self.resolve_each(&names).await?;
        Ok((instances, cut_off))
    }

    /// The instances of the policy targets `names`, in their order (a selector target's
    /// resources as the fleet lists them), the selector targets that matched nothing, and the
    /// selector targets in another account that cannot be listed there (its role cannot be
    /// assumed, say), each with its failure: those fail alone, the targets in reach go on.
    /// Names the policy does not have are skipped.
    pub(crate) async fn resolve_each(
        &self,
        names: &[String],
    ) -> Result<(Vec<Instance>, Vec<String>, CutOff), AwsError> {
        let mut out = Vec::new();
        let mut unmatched = Vec::new();
        let mut cut_off = Vec::new();
        for name in names {
            let Some(target) = self.policy.targets.get(name) else {
                continue;
            };
            match Resource::for_target(target) {
                Some(resource) => out.push(Instance {
                    name: name.clone(),
                    target: name.clone(),
                    resource,
                }),
                None => {
                    let found = match (self.fleet().resolve(target).await, Reach::of(target)) {
                        (Ok(found), _) => found,
                        (Err(e), Some(reach)) if !e.is_retryable() => {
                            cut_off.push((name.clone(), reach, e));
                            continue;
                        }
                        (Err(e), _) => return Err(e),
                    };
                    if found.is_empty() {
                        unmatched.push(name.clone());
                    }
                    for resource in found {
                        let id = match &resource {
                            Resource::Ecs { service, .. } => service.clone(),
                            Resource::Asg { group, .. } => group.clone(),
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
        Ok((out, unmatched, cut_off))
    }

    /// Publishes one notification; the error when it failed (logged, counted), `Ok` also when
    /// there is no topic.
    pub(crate) async fn publish(&self, n: &capstan_aws::Notification) -> Result<(), AwsError> {
        let mut out = self.publish_all(std::slice::from_ref(n)).await;
        out.pop().expect("one answer per notification")
    }

    /// Publishes notifications in batches (SNS `PublishBatch`); one answer per notification,
    /// in their order, each failure logged and counted on its own.
    pub(crate) async fn publish_all(
        &self,
        notes: &[capstan_aws::Notification],
    ) -> Vec<Result<(), AwsError>> {
        let Some(publisher) = &self.ports.publisher else {
            for n in notes {
                info!(subject = %n.subject, "no topic configured: notification only logged");
            }
            return notes.iter().map(|_| Ok(())).collect();
        };
        if notes.is_empty() {
            return Vec::new();
        }
        let answers = publisher.publish_batch(notes).await;
        notes
            .iter()
            .zip(answers)
            .map(|(n, answer)| match answer {
                Ok(id) => {
                    info!(subject = %n.subject, message_id = %id, dedup = %n.dedup, "published");
                    Ok(())
                }
                Err(e) => {
                    warn!(subject = %n.subject, error = %e, "notification failed");
                    self.metric("NotifyFailures", 1.0, &n.target, &n.outcome);
                    Err(e)
                }
            })
            .collect()
    }
}

/// The engine's view of an instance: Capstan's record, with AWS's live numbers over it. The
/// runner decides on it, and the status view ([`view`]) shows it. Without live numbers (the
/// resource is not on AWS: only the view asks) the record's, else the target at its floor.
pub(crate) fn target_state(
    target: &Target,
    inst: &Instance,
    rec: Option<&TargetRecord>,
    live: Option<&Live>,
) -> TargetState {
    let mut ts = match rec {
        Some(r) => r.state.clone(),
        None => TargetState::new(
            &inst.target,
            live.map_or(target.floor, |l| l.desired),
            target.floor,
            target.ceiling,
        ),
    };
    ts.target = inst.target.clone();
    if let Some(live) = live {
        ts.desired = live.desired;
        ts.running = live.running;
        if let (Some(min), Some(max)) = (live.min, live.max) {
            ts.min = min;
            ts.max = max;
        }
    }
    ts
}

/// The results of a target whose part of the decision is quiet ([`is_quiet`]): logged only.
fn nothing_to_do(mine: &[&TargetDecision]) -> Vec<TargetResult> {
    mine.iter()
        .map(|t| {
            let r = TargetResult::of(t);
            info!(
                target = %t.target, source = %t.source,
                reason = r.reason.as_deref().unwrap_or(""),
                explanation = %t.explanation, "nothing to do"
            );
            r
        })
        .collect()
}

/// True when this tick already wrote the record (an earlier attempt at it: its tick time is
/// this tick's moment).
fn written_by_this_tick(delivery: &Delivery, rec: Option<&TargetRecord>) -> bool {
    matches!(delivery.signal, Signal::Tick(_))
        && delivery.at.is_some()
        && rec.and_then(|r| r.tick_at) == delivery.at
}

/// A tick older than the newest tick that already wrote this target's record is skipped (the
/// engine's rule: [`capstan_policy::engine::stale_tick`]).
fn stale_tick(
    delivery: &Delivery,
    inst: &Instance,
    rec: Option<&TargetRecord>,
) -> Option<TargetResult> {
    let at = delivery.at?;
    let newer = engine_stale_tick(&delivery.signal, Some(at), rec.and_then(|r| r.tick_at))?;
    info!(target = %inst.name, tick = %at, newer = %newer, "stale tick skipped");
    let mut r = TargetResult::new(&inst.name, "schedule", ResultOutcome::Ignored);
    r.reason = Some("stale-tick".to_string());
    r.explanation = format!(
        "tick for {} is older than the tick for {} that already set {}: skipped",
        at.format("%Y-%m-%d %H:%M:%SZ"),
        newer.format("%Y-%m-%d %H:%M:%SZ"),
        inst.name
    );
    Some(r)
}

pub(crate) fn op_target(op: &StateOp) -> Option<&str> {
    match op {
        StateOp::Pause { target, .. }
        | StateOp::Resume { target }
        | StateOp::MarkOccurrence { target, .. } => Some(target),
        StateOp::AddCap(_) | StateOp::LiftCap { .. } => None,
        StateOp::AddEvent { .. } | StateOp::CancelEvent { .. } => None,
    }
}

/// A state-table failure: whether a retry may fix it, and what it was.
fn store_error(e: StoreError) -> (bool, String) {
    (e.is_retryable(), format!("state table: {e}"))
}

fn out_of_time(open: &BTreeSet<String>) -> RunError {
    RunError::OutOfTime(open.iter().cloned().collect::<Vec<_>>().join(", "))
}

fn in_progress(busy: &BTreeMap<String, String>) -> RunError {
    RunError::InProgress(
        busy.iter()
            .map(|(t, k)| {
                if k.is_empty() {
                    t.clone()
                } else {
                    format!("{t} (busy with {k})")
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// The target `*` of a decision that concerns no target.
pub(crate) const GLOBAL: &str = NO_TARGET;

/// Exponential backoff with deterministic jitter (from the key and the round), capped.
pub(crate) fn backoff(key: &str, round: u32) -> std::time::Duration {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (key, round).hash(&mut h);
    let base = 20u64 << round.min(6);
    let jitter = h.finish() % base.max(1);
    std::time::Duration::from_millis((base / 2 + jitter).min(1500))
}
