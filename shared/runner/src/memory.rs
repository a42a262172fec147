//! In-memory adapters for every port, sharing one world, with faults that can be programmed at
//! every call: fail before the effect, make the effect and then fail (the answer lost), make it
//! and answer as an SDK retry of it would, or hang (the invocation is then killed at its
//! deadline, as Lambda kills it). Tests drive the runner through them to cover the whole fault
//! matrix without a server; they behave as the AWS adapters do where it matters (conditional
//! transactions, absolute calls, AWS raising a managed service to its new minimum).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use capstan_aws::{Applied, AwsError, Call, ErrorKind, Live, Notification, Plan, Resource};
use capstan_policy::model::Target;
use capstan_store::{
    BatchError, Commit, CommitError, Expect, Global, LogEntry, Receipt, StoreError, TargetRecord,
};
use chrono::{DateTime, Duration, Utc};

use crate::ports::{Fleet, Publisher, StateTable};
use crate::{Clock, Ports};

/// A call point of the ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// [`StateTable::load_targets`].
    LoadTargets,
    /// [`StateTable::load_global`].
    LoadGlobal,
    /// [`StateTable::commit`], and each call of [`StateTable::commit_all`] (one transaction,
    /// however many commits it holds).
    Commit,
    /// [`StateTable::receipt`].
    Receipt,
    /// [`StateTable::all_targets`].
    AllTargets,
    /// [`StateTable::recent_log`].
    RecentLog,
    /// [`Fleet::resolve`].
    Resolve,
    /// [`Fleet::describe`].
    Describe,
    /// [`Fleet::execute`].
    Execute,
    /// [`Publisher::publish`], and each call of [`Publisher::publish_batch`] (of at most
    /// [`capstan_aws::MAX_BATCH`] notifications, as SNS takes them).
    Publish,
}

impl Op {
    /// True for the calls that change something (a fault after them has an effect behind it).
    pub fn writes(self) -> bool {
        matches!(self, Op::Commit | Op::Execute | Op::Publish)
    }
}

/// What goes wrong at a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Fails before any effect, with an error of this kind (throttling and 5xx are
    /// [`ErrorKind::Transient`], access denied [`ErrorKind::Denied`]).
    Before(ErrorKind),
    /// Makes the effect, then fails with a transient error: the answer is lost.
    LostAnswer,
    /// Makes the effect, then answers as an SDK retry of the same request would (for a commit:
    /// its conditions, now false, fail it).
    Replayed,
    /// Never answers, before the effect.
    Hang,
    /// Makes the effect, then never answers.
    HangAfter,
}

/// Every fault kind, for matrices.
pub const FAULTS: [Fault; 6] = [
    Fault::Before(ErrorKind::Transient),
    Fault::Before(ErrorKind::Denied),
    Fault::LostAnswer,
    Fault::Replayed,
    Fault::Hang,
    Fault::HangAfter,
];

/// Everything the adapters share.
#[derive(Debug, Default)]
pub struct World {
    /// Target records with their versions.
    pub records: BTreeMap<String, TargetRecord>,
    /// Receipts by key and scope.
    pub receipts: BTreeMap<(String, String), Receipt>,
    /// Budget caps and run-time events.
    pub global: Global,
    /// The action log.
    pub log: Vec<LogEntry>,
    /// Live capacity of each resource.
    pub live: BTreeMap<Resource, Live>,
    /// What selector targets resolve to, by [`selector_key`].
    pub selected: BTreeMap<String, Vec<Resource>>,
    /// Every notification published, in order.
    pub published: Vec<Notification>,
    /// Notifications the topic refuses, by dedup id, and how: a batch publishes the others
    /// (SNS answers per entry), these fail alone.
    pub refused_notices: BTreeMap<String, ErrorKind>,
    /// Every call made, in order.
    pub calls: Vec<Op>,
    /// Every AWS change made, in order.
    pub changes: Vec<(Resource, Call)>,
    /// Resources whose changes AWS refuses, and how (IAM denying one resource, say).
    pub refused: BTreeMap<Resource, ErrorKind>,
    faults: VecDeque<(usize, Fault)>,
}

/// The in-memory world: a state table, a fleet and a topic.
#[derive(Debug, Clone, Default)]
pub struct Memory {
    world: Arc<Mutex<World>>,
}

/// The outcome of consulting the faults at a call.
enum Gate {
    Pass,
    Fail(ErrorKind),
    After(Fault),
    Hang,
}

impl Memory {
    /// An empty world.
    pub fn new() -> Memory {
        Memory::default()
    }

    /// The fleet of the project's example policy (`capstan.example.toml`), at the given desired
    /// counts: the ECS services `api-service` and `frontend-service` of `main-cluster` (plain),
    /// `ai-service` under target tracking within 2..30, and the Auto Scaling group
    /// `aiwg-production-asg` within 2..15. The world most tests start from.
    pub fn example_fleet(api: u32, frontend: u32, ai: u32, web: u32) -> Memory {
        let m = Memory::new();
        m.add(
            Resource::ecs("main-cluster", "api-service"),
            Live::steady(api),
        );
        m.add(
            Resource::ecs("main-cluster", "frontend-service"),
            Live::steady(frontend),
        );
        m.add(
            Resource::ecs("main-cluster", "ai-service"),
            Live::steady(ai).bounded(2, 30).managed(),
        );
        m.add(
            Resource::asg("aiwg-production-asg"),
            Live::steady(web).bounded(2, 15),
        );
        m
    }

    /// The world, to read or seed.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a resource with its live capacity.
    pub fn add(&self, resource: Resource, live: Live) {
        self.world().live.insert(resource, live);
    }

    /// Makes the `nth` call from now (0: the next one), whatever its kind, go wrong with `fault`.
    pub fn fault_at(&self, nth: usize, fault: Fault) {
        let mut w = self.world();
        let at = w.calls.len() + nth;
        w.faults.push_back((at, fault));
    }

    /// Removes every programmed fault.
    pub fn heal(&self) {
        self.world().faults.clear();
    }

    /// How many calls were made so far.
    pub fn calls(&self) -> usize {
        self.world().calls.len()
    }

    /// A runner over this world's ports for `policy`, its clock stopped at `now` and its metric
    /// lines off: the runner a test drives.
    pub fn runner(&self, policy: capstan_policy::Policy, now: DateTime<Utc>) -> crate::Runner {
        crate::Runner::with_ports(policy, self.ports(), Arc::new(crate::FixedClock(now)))
            .with_metrics(false)
    }

    /// The ports over this world.
    pub fn ports(&self) -> Ports {
        Ports {
            table: Arc::new(self.clone()),
            fleet: Arc::new(MemoryFleet(self.clone())),
            publisher: Some(Arc::new(MemoryTopic(self.clone()))),
        }
    }

    /// The live capacity of `r`.
    pub fn live(&self, r: &Resource) -> Option<Live> {
        self.world().live.get(r).cloned()
    }

    fn gate(&self, op: Op) -> Gate {
        let mut w = self.world();
        let n = w.calls.len();
        w.calls.push(op);
        let Some(i) = w.faults.iter().position(|(at, _)| *at == n) else {
            return Gate::Pass;
        };
        let (_, fault) = w.faults.remove(i).expect("found");
        match fault {
            Fault::Before(kind) => Gate::Fail(kind),
            Fault::Hang => Gate::Hang,
            f => Gate::After(f),
        }
    }
}

fn injected(op: Op, kind: ErrorKind) -> AwsError {
    let code = match kind {
        ErrorKind::Transient => "ThrottlingException",
        ErrorKind::Denied => "AccessDeniedException",
        ErrorKind::NotFound => "ResourceNotFoundException",
        _ => "ValidationException",
    };
    AwsError::new(&format!("{op:?}"), kind, Some(code), "injected by the test")
}

/// Runs `effect` under the fault programmed for this call, if any.
async fn guarded<T>(
    m: &Memory,
    op: Op,
    effect: impl FnOnce(&mut World) -> T,
    replay: impl FnOnce(&mut World) -> Option<T>,
    fail: impl Fn(AwsError) -> T,
) -> T {
    match m.gate(op) {
        Gate::Pass => effect(&mut m.world()),
        Gate::Fail(kind) => fail(injected(op, kind)),
        Gate::Hang => std::future::pending().await,
        Gate::After(f) => {
            let first = effect(&mut m.world());
            match f {
                Fault::LostAnswer => fail(injected(op, ErrorKind::Transient)),
                Fault::Replayed => replay(&mut m.world()).unwrap_or(first),
                _ => std::future::pending().await,
            }
        }
    }
}

fn store_err(e: AwsError) -> StoreError {
    StoreError::Aws(e)
}

/// Applies several commits to the world in one transaction: all, or none when a condition of
/// any fails (each such commit named), as DynamoDB's transaction does.
fn commit_all_to(w: &mut World, commits: &[Commit]) -> Result<(), BatchError> {
    let refused: Vec<(usize, CommitError)> = commits
        .iter()
        .enumerate()
        .filter_map(|(n, c)| check(w, c).err().map(|e| (n, e)))
        .collect();
    if !refused.is_empty() {
        return Err(BatchError::Refused(refused));
    }
    for c in commits {
        commit_to(w, c).expect("its conditions were just checked");
    }
    Ok(())
}

/// A commit's conditions against the world.
fn check(w: &World, c: &Commit) -> Result<(), CommitError> {
    if let Some((r, expect)) = &c.receipt {
        let stored = w.receipts.get(&(r.key.clone(), r.scope.clone()));
        let ok = match expect {
            Expect::New => stored.is_none(),
            Expect::Attempt(a) => stored.is_some_and(|s| &s.attempt == a),
        };
        if !ok {
            return Err(CommitError::Duplicate);
        }
    }
    if let Some((inst, rec)) = &c.record {
        let ok = match w.records.get(inst) {
            None => rec.version == 0,
            Some(stored) => rec.version != 0 && stored.version == rec.version,
        };
        if !ok {
            return Err(CommitError::Conflict);
        }
    }
    Ok(())
}

/// Applies a commit to the world under its conditions, as DynamoDB's transaction does.
fn commit_to(w: &mut World, c: &Commit) -> Result<(), CommitError> {
    check(w, c)?;
    if let Some((r, _)) = &c.receipt {
        w.receipts
            .insert((r.key.clone(), r.scope.clone()), r.clone());
    }
    if let Some((inst, rec)) = &c.record {
        let mut stored = rec.clone();
        stored.version = rec.version + 1;
        w.records.insert(inst.clone(), stored);
    }
    w.log.extend(c.log.iter().cloned());
    for cap in &c.caps {
        w.global
            .caps
            .retain(|x| !(x.budget == cap.budget && x.rule == cap.rule));
        w.global.caps.push(cap.clone());
    }
    w.global.caps.retain(|x| !c.lift_caps.contains(&x.budget));
    for (name, e) in &c.events {
        w.global.events.insert(name.clone(), e.clone());
    }
    for name in &c.cancel_events {
        w.global.events.remove(name);
    }
    Ok(())
}

#[async_trait]
impl StateTable for Memory {
    async fn load_targets(
        &self,
        instances: &[String],
    ) -> Result<BTreeMap<String, TargetRecord>, StoreError> {
        guarded(
            self,
            Op::LoadTargets,
            |w| {
                Ok(instances
                    .iter()
                    .filter_map(|i| w.records.get(i).map(|r| (i.clone(), r.clone())))
                    .collect())
            },
            |_| None,
            |e| Err(store_err(e)),
        )
        .await
    }

    async fn load_global(&self) -> Result<Global, StoreError> {
        guarded(
            self,
            Op::LoadGlobal,
            |w| Ok(w.global.clone()),
            |_| None,
            |e| Err(store_err(e)),
        )
        .await
    }

    async fn commit(&self, commit: &Commit, _now: DateTime<Utc>) -> Result<(), CommitError> {
        guarded(
            self,
            Op::Commit,
            |w| commit_to(w, commit),
            // The SDK's retry of a transaction that committed: its conditions are now false.
            |w| Some(commit_to(w, commit).and(Err(CommitError::Duplicate))),
            |e| Err(CommitError::Store(store_err(e))),
        )
        .await
    }

    async fn commit_all(&self, commits: &[Commit], _now: DateTime<Utc>) -> Result<(), BatchError> {
        guarded(
            self,
            Op::Commit,
            |w| commit_all_to(w, commits),
            // The SDK's retry of a transaction that committed: every condition is now false.
            |w| {
                Some(commit_all_to(w, commits).and_then(|()| {
                    Err(BatchError::Refused(
                        (0..commits.len())
                            .map(|n| (n, CommitError::Duplicate))
                            .collect(),
                    ))
                }))
            },
            |e| Err(BatchError::Failed(store_err(e))),
        )
        .await
    }

    async fn receipt(&self, key: &str, scope: &str) -> Result<Option<Receipt>, StoreError> {
        guarded(
            self,
            Op::Receipt,
            |w| {
                Ok(w.receipts
                    .get(&(key.to_string(), scope.to_string()))
                    .cloned())
            },
            |_| None,
            |e| Err(store_err(e)),
        )
        .await
    }

    async fn all_targets(&self) -> Result<BTreeMap<String, TargetRecord>, StoreError> {
        guarded(
            self,
            Op::AllTargets,
            |w| Ok(w.records.clone()),
            |_| None,
            |e| Err(store_err(e)),
        )
        .await
    }

    async fn recent_log(&self, scope: &str, limit: usize) -> Result<Vec<LogEntry>, StoreError> {
        guarded(
            self,
            Op::RecentLog,
            |w| {
                // As the table sorts them: by time (to the millisecond), then key; newest first.
                let mut entries: Vec<LogEntry> = w
                    .log
                    .iter()
                    .filter(|e| e.target == scope)
                    .cloned()
                    .collect();
                entries.sort_by(|a, b| {
                    (b.at.timestamp_millis(), &b.key).cmp(&(a.at.timestamp_millis(), &a.key))
                });
                entries.truncate(limit);
                Ok(entries)
            },
            |_| None,
            |e| Err(store_err(e)),
        )
        .await
    }
}

/// The key of a selector target in [`World::selected`]: its selector, as debug text.
pub fn selector_key(target: &Target) -> String {
    format!("{:?}", target.selector)
}

/// The fleet of a [`Memory`] world.
#[derive(Debug, Clone)]
pub struct MemoryFleet(pub Memory);

/// What AWS does with a call: the new live numbers.
fn make(live: &mut Live, call: &Call) {
    match *call {
        Call::UpdateService { desired } | Call::SetDesiredCapacity { desired } => {
            live.desired = desired;
        }
        Call::RegisterScalableTarget { min, max } | Call::UpdateGroupBounds { min, max } => {
            live.min = Some(min);
            live.max = Some(max);
            // Application Auto Scaling (and Auto Scaling for a group's new bounds) brings the
            // count inside the new bounds at once.
            live.desired = live.desired.clamp(min, max.max(min));
        }
        Call::UpdateAutoScalingGroup { min, max, desired } => {
            live.min = Some(min);
            live.max = Some(max);
            live.desired = desired;
        }
    }
    live.running = live.desired;
}

#[async_trait]
impl Fleet for MemoryFleet {
    async fn resolve(&self, target: &Target) -> Result<Vec<Resource>, AwsError> {
        let name = selector_key(target);
        guarded(
            &self.0,
            Op::Resolve,
            |w| Ok(w.selected.get(&name).cloned().unwrap_or_default()),
            |_| None,
            Err,
        )
        .await
    }

    async fn describe(&self, resources: &[Resource]) -> Result<BTreeMap<Resource, Live>, AwsError> {
        guarded(
            &self.0,
            Op::Describe,
            |w| {
                Ok(resources
                    .iter()
                    .filter_map(|r| w.live.get(r).map(|l| (r.clone(), l.clone())))
                    .collect())
            },
            |_| None,
            Err,
        )
        .await
    }

    async fn execute(&self, plan: &Plan) -> Result<Applied, AwsError> {
        guarded(
            &self.0,
            Op::Execute,
            |w| {
                let Some(call) = &plan.call else {
                    return Ok(plan.applied(false));
                };
                if let Some(kind) = w.refused.get(&plan.resource) {
                    return Err(injected(Op::Execute, *kind));
                }
                let Some(live) = w.live.get_mut(&plan.resource) else {
                    return Err(AwsError::new(
                        call.action(),
                        ErrorKind::NotFound,
                        Some("ServiceNotFoundException"),
                        format!("{} does not exist", plan.resource),
                    ));
                };
                make(live, call);
                w.changes.push((plan.resource.clone(), call.clone()));
                Ok(plan.applied(true))
            },
            |_| None,
            Err,
        )
        .await
    }
}

/// The topic of a [`Memory`] world.
#[derive(Debug, Clone)]
pub struct MemoryTopic(pub Memory);

#[async_trait]
impl Publisher for MemoryTopic {
    async fn publish(&self, n: &Notification) -> Result<String, AwsError> {
        let mut out = self.publish_batch(std::slice::from_ref(n)).await;
        out.pop().expect("one answer per notification")
    }

    /// One call (and one programmed fault) per [`capstan_aws::MAX_BATCH`] notifications: a
    /// fault fails or loses the answer of the whole call, a refused notification
    /// ([`World::refused_notices`]) only its own entry.
    async fn publish_batch(&self, notes: &[Notification]) -> Vec<Result<String, AwsError>> {
        let mut out = Vec::with_capacity(notes.len());
        for chunk in notes.chunks(capstan_aws::MAX_BATCH) {
            let answers = guarded(
                &self.0,
                Op::Publish,
                |w| {
                    chunk
                        .iter()
                        .map(|n| match w.refused_notices.get(&n.dedup) {
                            Some(kind) => Err(injected(Op::Publish, *kind)),
                            None => {
                                w.published.push(n.clone());
                                Ok(format!("m{}", w.published.len()))
                            }
                        })
                        .collect::<Vec<_>>()
                },
                |_| None,
                |e| vec![Err(e); chunk.len()],
            )
            .await;
            out.extend(answers);
        }
        out
    }
}

/// A clock the test moves.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    /// A clock at `t`.
    pub fn at(t: DateTime<Utc>) -> ManualClock {
        ManualClock(Arc::new(Mutex::new(t)))
    }

    /// Moves it forward by `d`.
    pub fn advance(&self, d: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += d;
    }

    /// Sets it to `t`.
    pub fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = t;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
