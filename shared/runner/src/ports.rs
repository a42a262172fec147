//! The narrow interfaces the runner acts through: the state table ([`StateTable`]), the fleet
//! of resources it scales ([`Fleet`]) and the people it tells ([`Publisher`]).
//!
//! The AWS adapters ([`capstan_store::Store`], [`AwsFleet`] over [`capstan_aws::ReachPool`],
//! [`capstan_aws::Notifier`]) implement them for production; [`crate::memory`] implements all
//! three in memory, with faults that can be programmed at every call, for tests that cover
//! every failure without a server.

use std::collections::BTreeMap;

use async_trait::async_trait;
use capstan_aws::{Applied, AwsError, Live, Notification, Notifier, Plan, ReachPool, Resource};
use capstan_policy::model::Target;
use capstan_store::{
    BatchError, Commit, CommitError, Global, LogEntry, Receipt, Store, StoreError, TargetRecord,
};
use chrono::{DateTime, Utc};

/// Capstan's state: target records, receipts, budget caps and run-time events.
#[async_trait]
pub trait StateTable: Send + Sync {
    /// The records of `instances` (absent ones are missing from the map), strongly consistent.
    async fn load_targets(
        &self,
        instances: &[String],
    ) -> Result<BTreeMap<String, TargetRecord>, StoreError>;

    /// Budget caps and run-time events.
    async fn load_global(&self) -> Result<Global, StoreError>;

    /// Writes everything in `commit` atomically under its conditions, or nothing.
    async fn commit(&self, commit: &Commit, now: DateTime<Utc>) -> Result<(), CommitError>;

    /// Writes several commits in one transaction, all or none (see [`Store::commit_all`]):
    /// at most [`capstan_store::MAX_TRANSACTION_ITEMS`] writes, no item in two of them.
    async fn commit_all(&self, commits: &[Commit], now: DateTime<Utc>) -> Result<(), BatchError>;

    /// The receipt of `key` for `scope`, strongly consistent.
    async fn receipt(&self, key: &str, scope: &str) -> Result<Option<Receipt>, StoreError>;

    /// Every target record (for the status view, not the hot path).
    async fn all_targets(&self) -> Result<BTreeMap<String, TargetRecord>, StoreError>;

    /// The newest `limit` action log entries of `scope` (an instance, or `*`), newest first.
    async fn recent_log(&self, scope: &str, limit: usize) -> Result<Vec<LogEntry>, StoreError>;
}

/// The resources Capstan scales.
#[async_trait]
pub trait Fleet: Send + Sync {
    /// The resources a selector target stands for.
    async fn resolve(&self, target: &Target) -> Result<Vec<Resource>, AwsError>;

    /// The live capacity of `resources` (absent ones are missing from the map), keyed by the
    /// resources as given. The runner asks for one reach (account) at a time, so that a role
    /// that cannot be assumed fails only its own targets.
    async fn describe(&self, resources: &[Resource]) -> Result<BTreeMap<Resource, Live>, AwsError>;

    /// Makes a plan's call (absolute values: repeating it is harmless).
    async fn execute(&self, plan: &Plan) -> Result<Applied, AwsError>;
}

/// Where notifications go.
#[async_trait]
pub trait Publisher: Send + Sync {
    /// Publishes one notification; returns its message id.
    async fn publish(&self, n: &Notification) -> Result<String, AwsError>;

    /// Publishes several notifications (SNS: `PublishBatch`, 10 per call); one answer per
    /// notification, in their order, so that each one that failed for now is kept for a retry
    /// and each one lost for good is counted, whatever happened to the others. By default one
    /// [`Publisher::publish`] each.
    async fn publish_batch(&self, notes: &[Notification]) -> Vec<Result<String, AwsError>> {
        let mut out = Vec::with_capacity(notes.len());
        for n in notes {
            out.push(self.publish(n).await);
        }
        out
    }
}

#[async_trait]
impl StateTable for Store {
    async fn load_targets(
        &self,
        instances: &[String],
    ) -> Result<BTreeMap<String, TargetRecord>, StoreError> {
        Store::load_targets(self, instances).await
    }

    async fn load_global(&self) -> Result<Global, StoreError> {
        Store::load_global(self).await
    }

    async fn commit(&self, commit: &Commit, now: DateTime<Utc>) -> Result<(), CommitError> {
        Store::commit(self, commit, now).await
    }

    async fn commit_all(&self, commits: &[Commit], now: DateTime<Utc>) -> Result<(), BatchError> {
        Store::commit_all(self, commits, now).await
    }

    async fn receipt(&self, key: &str, scope: &str) -> Result<Option<Receipt>, StoreError> {
        Store::receipt(self, key, scope).await
    }

    async fn all_targets(&self) -> Result<BTreeMap<String, TargetRecord>, StoreError> {
        Store::all_targets(self).await
    }

    async fn recent_log(&self, scope: &str, limit: usize) -> Result<Vec<LogEntry>, StoreError> {
        let limit = i32::try_from(limit.max(1)).unwrap_or(i32::MAX);
        Store::recent_log(self, scope, limit).await
    }
}

/// The fleet on AWS: ECS, Application Auto Scaling and EC2 Auto Scaling through the SDK, in
/// the functions' own account and, through the roles the targets name, in others: each call
/// goes to the account of its resource (its [`capstan_aws::Reach`]).
#[derive(Clone)]
pub struct AwsFleet(pub ReachPool);

#[async_trait]
impl Fleet for AwsFleet {
    async fn resolve(&self, target: &Target) -> Result<Vec<Resource>, AwsError> {
        self.0.resolve(target).await
    }

    async fn describe(&self, resources: &[Resource]) -> Result<BTreeMap<Resource, Live>, AwsError> {
        self.0.describe(resources).await
    }

    async fn execute(&self, plan: &Plan) -> Result<Applied, AwsError> {
        self.0.execute(plan).await
    }
}

#[async_trait]
impl Publisher for Notifier {
    async fn publish(&self, n: &Notification) -> Result<String, AwsError> {
        Notifier::publish(self, n).await
    }

    async fn publish_batch(&self, notes: &[Notification]) -> Vec<Result<String, AwsError>> {
        Notifier::publish_batch(self, notes).await
    }
}
