//! Capstan's state table in DynamoDB.
//!
//! One table, keys `pk` (string) and `sk` (string), TTL attribute `expires_at` (epoch seconds).
//! Items:
//!
//! | pk | sk | what |
//! | --- | --- | --- |
//! | `target#<instance>` | `state` | the target record: `version`, `doc` (JSON), and `desired`/`min`/`max`/`pending_key` for people reading the table |
//! | `target#<instance>` | `action#<time>#<key>` | one entry of the action log (TTL: 90 days) |
//! | `idem#<key>` | `<scope>` | the [`Receipt`] of a signal for a target (scope: the instance, or `*`): in progress until its deadline, or done with what was done (TTL: 7 days) |
//! | `global` | `cap#<budget>#<rule>` | a budget cap in force (TTL: a day after it lifts) |
//! | `global` | `event#<name>` | an event added at run time (TTL: a week after it ends) |
//!
//! Writes that decide something go through [`Store::commit`]: one `TransactWriteItems` that
//! puts the receipt only if it is new (or, to move it on, only while it names the writer's
//! attempt) and the target record only if its version is the one read. A lost race comes back
//! as [`CommitError::Conflict`] (re-read, re-decide) or [`CommitError::Duplicate`] (the receipt
//! exists, or names another attempt: read it with [`Store::receipt`]). Every transaction
//! carries a `ClientRequestToken` derived from what it writes, so DynamoDB answers an SDK
//! retry of a transaction that already committed with success instead of a failed condition.
//! [`Store::commit_all`] writes several targets' commits in one transaction (a tick over many
//! targets), and says which of them a cancellation refused.
#![warn(missing_docs)]

pub mod slack;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration as StdDuration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, KeysAndAttributes,
    Put, ScalarAttributeType, TableStatus, TimeToLiveSpecification, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use capstan_aws::{AwsError, ErrorKind, Notification, Plan};
use capstan_policy::decision::Capacity;
use capstan_policy::model::Event;
use capstan_policy::state::{BudgetCap, TargetState};
use chrono::{DateTime, Duration, Utc};
use futures_util::{stream, StreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long an idempotency key is kept: longer than any AWS redelivery.
pub const IDEMPOTENCY_TTL: Duration = Duration::days(7);
/// How long action log entries are kept.
pub const LOG_TTL: Duration = Duration::days(90);
/// Keys per `BatchGetItem` call (the API's limit).
pub const BATCH_GET_KEYS: usize = 100;
/// Most `BatchGetItem` calls [`Store::load_targets`] has in flight at once.
pub const MAX_CONCURRENT_READS: usize = 8;
/// Most writes in one `TransactWriteItems` (the API's limit).
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// A failed state-table operation.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// DynamoDB refused or failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// An item the store cannot read (written by something else, or by a newer version).
    #[error("state table item {pk}/{sk} is unreadable: {why}")]
    Corrupt {
        /// Partition key.
        pk: String,
        /// Sort key.
        sk: String,
        /// What is wrong.
        why: String,
    },
}

impl StoreError {
    /// True when retrying the invocation may help.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Aws(e) => e.is_retryable(),
            StoreError::Corrupt { .. } => false,
        }
    }
}

/// Why a commit did not happen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CommitError {
    /// The target record changed since it was read, or DynamoDB cancelled the transaction for a
    /// concurrent one on the same items (`TransactionConflict`): re-read and decide again.
    #[error("the target record changed since it was read")]
    Conflict,
    /// The receipt's condition failed: it exists already (a new receipt), or it names another
    /// attempt (moving one on). [`Store::receipt`] tells which.
    #[error("this signal's receipt exists or belongs to another attempt")]
    Duplicate,
    /// Anything else.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a transaction of several commits ([`Store::commit_all`]) did not happen. Either way
/// nothing of any of them was written (unless the answer of a retryable failure was lost).
#[derive(Debug, Clone)]
pub enum BatchError {
    /// These commits (by their place in the batch) failed a condition, each with
    /// [`CommitError::Duplicate`] or [`CommitError::Conflict`]: the others failed none, and
    /// may be sent again without them.
    Refused(Vec<(usize, CommitError)>),
    /// The transaction failed as a whole.
    Failed(StoreError),
}

/// The record's state before an intent was committed: what an undo restores, so that a change
/// that never happened holds no cooldown and a schedule occurrence it marked is not lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prior {
    /// The engine's view before.
    pub state: TargetState,
    /// The newest tick before.
    pub tick_at: Option<DateTime<Utc>>,
}

/// An *intent*: a change committed and not yet confirmed done on AWS. While a record holds one,
/// the target is busy: nothing else is decided for it until the intent is finished, or, once its
/// deadline has passed (the invocation that wrote it is dead), completed by whoever finds it.
/// Deciders use its `to` as the target's capacity (AWS may not show it yet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// The idempotency key of the signal that decided it.
    pub key: String,
    /// When it was committed.
    pub at: DateTime<Utc>,
    /// What asked for it.
    pub source: String,
    /// Capacity before.
    pub from: Capacity,
    /// Capacity asked for.
    pub to: Capacity,
    /// The attempt that owns it (one invocation's handling of the signal).
    #[serde(default)]
    pub attempt: String,
    /// Until when its owner may still be working on it: the owner's Lambda deadline plus a
    /// margin. `None` in records written before intents had deadlines: `at` plus a minute.
    #[serde(default)]
    pub deadline: Option<DateTime<Utc>>,
    /// The AWS call, with its absolute values, that carries it out.
    #[serde(default)]
    pub plan: Option<Plan>,
    /// The record before the intent, for an undo.
    #[serde(default)]
    pub prior: Option<Prior>,
}

impl Pending {
    /// The moment after which the intent's owner is certainly gone.
    pub fn deadline(&self) -> DateTime<Utc> {
        self.deadline.unwrap_or(self.at + Duration::seconds(60))
    }

    /// True when its owner may still be working on it at `now`.
    pub fn live_at(&self, now: DateTime<Utc>) -> bool {
        now < self.deadline()
    }
}

/// Capstan's record of one target instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetRecord {
    /// The engine's view: last known capacity, recent history, pause, occurrences.
    pub state: TargetState,
    /// Optimistic-concurrency version; 0 for a record not yet stored.
    #[serde(skip)]
    pub version: u64,
    /// An action committed and not yet confirmed.
    #[serde(default)]
    pub pending: Option<Pending>,
    /// The latest failure on this target (an AWS call or a notification), for status.
    #[serde(default)]
    pub last_error: Option<String>,
    /// When the record was last written.
    pub updated_at: DateTime<Utc>,
    /// The moment of the newest schedule tick that wrote this record: an older tick delivered
    /// late must not undo it.
    #[serde(default)]
    pub tick_at: Option<DateTime<Utc>>,
}

impl TargetRecord {
    /// A record for an instance never seen before.
    pub fn new(state: TargetState, now: DateTime<Utc>) -> TargetRecord {
        TargetRecord {
            state,
            version: 0,
            pending: None,
            last_error: None,
            updated_at: now,
            tick_at: None,
        }
    }

    /// The intent if its owner may still be working on it at `now`.
    pub fn live_pending(&self, now: DateTime<Utc>) -> Option<&Pending> {
        self.pending.as_ref().filter(|p| p.live_at(now))
    }
}

/// One entry of the action log: a decision on a target, and what came of it.
///
/// An operator's command (and a run-time event request) also says who asked, from which
/// channel, with which verb: every command, confirmation and refusal is on the record.
/// `Default` gives an empty entry at the Unix epoch, for `..LogEntry::default()`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LogEntry {
    /// When it was decided.
    pub at: DateTime<Utc>,
    /// The idempotency key of the signal.
    pub key: String,
    /// The target instance.
    pub target: String,
    /// What asked (`rule:api-cpu-high`...).
    pub source: String,
    /// The signal in one line.
    pub signal: String,
    /// `changed`, `suppressed`, `dry-run`, `failed`...
    pub outcome: String,
    /// Before and after, for changes.
    #[serde(default)]
    pub from: Option<Capacity>,
    /// After, for changes.
    #[serde(default)]
    pub to: Option<Capacity>,
    /// The engine's explanation.
    pub explanation: String,
    /// Who asked: a command's user (a Slack user id, or `cli:<name>`), an event request's `by`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The Slack channel a command came from (none from the CLI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The command's verb (`scale`, `pause`, `lift-cap`, `event`, `confirm`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verb: Option<String>,
    /// The policy that decided it (an SSM parameter's version, or a file's `sha256:...`); none
    /// in entries written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_version: Option<String>,
}

/// Budget caps and run-time events: the part of the state every decision may need.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Global {
    /// Budget caps in force.
    pub caps: Vec<BudgetCap>,
    /// Events added at run time.
    pub events: BTreeMap<String, Event>,
}

/// Where a signal's handling for one scope stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum ReceiptState {
    /// An attempt is carrying it out; after `deadline` that attempt is certainly gone, and the
    /// next delivery completes what it left.
    InProgress {
        /// The owner's Lambda deadline plus a margin.
        deadline: DateTime<Utc>,
    },
    /// Finished: what was done is in the receipt.
    Done,
}

/// The receipt of a signal for one scope (a target instance, or `*`): the idempotency record.
/// Like an idempotency record of Powertools for AWS Lambda, it is written *in progress* before
/// any side effect, with a deadline, and *done* with the result, which duplicates are answered
/// with; unlike one, what the side effect was (the intent, in the target record) is stored with
/// it, so that a retry after the deadline completes the work instead of running it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    /// The signal's idempotency key (`alarm:<arn>:<timestamp>`...).
    pub key: String,
    /// The target instance, or `*` for what concerns no target.
    pub scope: String,
    /// The attempt that wrote it last.
    pub attempt: String,
    /// When it was written first.
    pub at: DateTime<Utc>,
    /// In progress or done.
    #[serde(flatten)]
    pub state: ReceiptState,
    /// A one-line summary of what was decided, for people reading the table.
    pub summary: String,
    /// The runner's account of what was done (its results), returned to duplicates.
    #[serde(default)]
    pub result: serde_json::Value,
    /// The notifications that tell people: still to publish while in progress.
    #[serde(default)]
    pub notices: Vec<Notification>,
}

impl Receipt {
    /// True when an attempt may still be working on it at `now`.
    pub fn live_at(&self, now: DateTime<Utc>) -> bool {
        matches!(self.state, ReceiptState::InProgress { deadline } if now < deadline)
    }
}

/// The condition a receipt is written under.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// Only if no receipt exists for the key and scope.
    New,
    /// Only if the stored receipt names this attempt (moving one's own receipt on, or taking
    /// over one whose deadline has passed: then the attempt is the one read).
    Attempt(String),
}

/// What one commit writes, atomically.
#[derive(Debug, Clone, Default)]
pub struct Commit {
    /// The receipt, written under its condition; a failed condition fails the commit with
    /// [`CommitError::Duplicate`].
    pub receipt: Option<(Receipt, Expect)>,
    /// Put only if the stored version equals `record.version` (absent when 0); the stored
    /// version becomes `record.version + 1`.
    pub record: Option<(String, TargetRecord)>,
    /// Action log entries.
    pub log: Vec<LogEntry>,
    /// Budget caps to store.
    pub caps: Vec<BudgetCap>,
    /// Budgets whose caps to remove.
    pub lift_caps: Vec<String>,
    /// Run-time events to store (by name; a stored event of the same name is replaced).
    pub events: Vec<(String, Event)>,
    /// Run-time events to remove.
    pub cancel_events: Vec<String>,
}

impl Commit {
    /// How many items it writes, budget caps it lifts aside (those are found on committing).
    pub fn writes(&self) -> usize {
        usize::from(self.receipt.is_some())
            + usize::from(self.record.is_some())
            + self.log.len()
            + self.caps.len()
            + self.events.len()
            + self.cancel_events.len()
    }
}

/// The state table.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The item of one action log entry: under the instance's key, sorted by time, kept
/// [`LOG_TTL`].
fn log_item(entry: &LogEntry, now: DateTime<Utc>) -> HashMap<String, AttributeValue> {
    let doc = serde_json::to_string(entry).expect("a log entry serializes");
    HashMap::from([
        ("pk".into(), s(target_pk(&entry.target))),
        (
            "sk".into(),
            s(format!(
                "action#{}#{}",
                entry.at.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                entry.key
            )),
        ),
        ("outcome".into(), s(&entry.outcome)),
        ("expires_at".into(), n(epoch(now + LOG_TTL))),
        ("doc".into(), s(doc)),
    ])
}

fn target_pk(instance: &str) -> String {
    format!("target#{instance}")
}

fn epoch(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

impl Store {
    /// A store on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Store {
        Store {
            client,
            table: table.into(),
        }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table (on-demand, TTL on `expires_at`) unless it exists, and waits until it
    /// is active. Returns true when it created it.
    pub async fn create_table(&self) -> Result<bool, StoreError> {
        let created = match self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk"))
            .attribute_definitions(attr("sk"))
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .send()
            .await
        {
            Ok(_) => true,
            Err(e) if e.code() == Some("ResourceInUseException") => false,
            Err(e) => return Err(AwsError::from_sdk("dynamodb:CreateTable", e).into()),
        };
        for _ in 0..120 {
            let out = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("dynamodb:DescribeTable", e))?;
            if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                break;
            }
            tokio::time::sleep(StdDuration::from_millis(500)).await;
        }
        let ttl = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("dynamodb:DescribeTimeToLive", e))?;
        let enabled = ttl
            .time_to_live_description()
            .and_then(|d| d.attribute_name())
            == Some("expires_at");
        if !enabled {
            self.client
                .update_time_to_live()
                .table_name(&self.table)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name("expires_at")
                        .enabled(true)
                        .build()
                        .expect("ttl spec has its required fields"),
                )
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("dynamodb:UpdateTimeToLive", e))?;
        }
        Ok(created)
    }

    /// The records of `instances` (absent ones are missing from the map), strongly consistent.
    ///
    /// `BatchGetItem` takes [`BATCH_GET_KEYS`] keys a call: the calls for more run side by side
    /// (at most [`MAX_CONCURRENT_READS`] at a time), so 500 instances cost one round trip, not
    /// five. Keys DynamoDB leaves unprocessed (throttling) are asked again with back-off; keys
    /// still unprocessed after that fail the read, with a transient error: a missing record
    /// would read as a target never seen (its history and occurrence marks forgotten).
    pub async fn load_targets(
        &self,
        instances: &[String],
    ) -> Result<BTreeMap<String, TargetRecord>, StoreError> {
        let unique: BTreeSet<&str> = instances.iter().map(String::as_str).collect();
        let unique: Vec<&str> = unique.into_iter().collect();
        // The futures are built in a plain loop: a closure in the stream combinator trips the
        // compiler's higher-ranked lifetime check for the callers' `Send` futures.
        let mut batches = Vec::new();
        for chunk in unique.chunks(BATCH_GET_KEYS) {
            batches.push(self.load_batch(chunk));
        }
        let mut batches = stream::iter(batches).buffer_unordered(MAX_CONCURRENT_READS);
        let mut out = BTreeMap::new();
        while let Some(found) = batches.next().await {
            out.extend(found?);
        }
        Ok(out)
    }

    /// One `BatchGetItem` of at most [`BATCH_GET_KEYS`] records, unprocessed keys asked again.
    async fn load_batch(&self, chunk: &[&str]) -> Result<Vec<(String, TargetRecord)>, StoreError> {
        const OP: &str = "dynamodb:BatchGetItem";
        const ATTEMPTS: u32 = 8;
        let mut keys = KeysAndAttributes::builder().consistent_read(true);
        for inst in chunk {
            keys = keys.keys(HashMap::from([
                ("pk".to_string(), s(target_pk(inst))),
                ("sk".to_string(), s("state")),
            ]));
        }
        let mut request =
            HashMap::from([(self.table.clone(), keys.build().expect("keys are set"))]);
        let mut out = Vec::with_capacity(chunk.len());
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(StdDuration::from_millis(50 << (attempt - 1).min(5))).await;
            }
            let resp = self
                .client
                .batch_get_item()
                .set_request_items(Some(request))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(OP, e))?;
            for item in resp
                .responses()
                .and_then(|r| r.get(&self.table))
                .into_iter()
                .flatten()
            {
                out.push(decode_target(item)?);
            }
            match resp.unprocessed_keys {
                Some(u) if u.values().any(|k| !k.keys().is_empty()) => request = u,
                _ => return Ok(out),
            }
        }
        let left = request.values().map(|k| k.keys().len()).sum::<usize>();
        Err(AwsError::new(
            OP,
            ErrorKind::Transient,
            None,
            format!(
                "{left} of {} keys still unprocessed after {ATTEMPTS} attempts",
                chunk.len()
            ),
        )
        .into())
    }

    /// Every target record in the table (a scan: for status, not for the hot path).
    pub async fn all_targets(&self) -> Result<BTreeMap<String, TargetRecord>, StoreError> {
        let mut out = BTreeMap::new();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("sk = :state AND begins_with(pk, :target)")
            .expression_attribute_values(":state", s("state"))
            .expression_attribute_values(":target", s("target#"))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| AwsError::from_sdk("dynamodb:Scan", e))?;
            let (inst, rec) = decode_target(&item)?;
            out.insert(inst, rec);
        }
        Ok(out)
    }

    /// Budget caps and run-time events (one `Query`).
    pub async fn load_global(&self) -> Result<Global, StoreError> {
        let mut global = Global::default();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :g")
            .expression_attribute_values(":g", s("global"))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| AwsError::from_sdk("dynamodb:Query", e))?;
            let sk = str_attr(&item, "sk").unwrap_or_default();
            let doc = doc_attr(&item, "global", &sk)?;
            if sk.starts_with("cap#") {
                global.caps.push(parse_doc(&doc, "global", &sk)?);
            } else if let Some(name) = sk.strip_prefix("event#") {
                global
                    .events
                    .insert(name.to_string(), parse_doc(&doc, "global", &sk)?);
            }
        }
        Ok(global)
    }

    /// The newest `limit` action log entries of an instance, newest first.
    pub async fn recent_log(
        &self,
        instance: &str,
        limit: i32,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :a)")
            .expression_attribute_values(":pk", s(target_pk(instance)))
            .expression_attribute_values(":a", s("action#"))
            .scan_index_forward(false)
            .limit(limit)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("dynamodb:Query", e))?;
        out.items()
            .iter()
            .map(|item| {
                let pk = target_pk(instance);
                let sk = str_attr(item, "sk").unwrap_or_default();
                parse_doc(&doc_attr(item, &pk, &sk)?, &pk, &sk)
            })
            .collect()
    }

    /// Writes one action log entry on its own: for what happens outside a signal's commit (a
    /// refused or cancelled Slack confirmation), so it is on the record too.
    pub async fn record(&self, entry: &LogEntry, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(log_item(entry, now)))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("dynamodb:PutItem", e))?;
        Ok(())
    }

    /// The receipt of `key` for `scope`, if there is one (strongly consistent).
    pub async fn receipt(&self, key: &str, scope: &str) -> Result<Option<Receipt>, StoreError> {
        let pk = format!("idem#{key}");
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .key("sk", s(scope))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("dynamodb:GetItem", e))?;
        match out.item() {
            None => Ok(None),
            Some(item) => Ok(Some(parse_doc(&doc_attr(item, &pk, scope)?, &pk, scope)?)),
        }
    }

    /// Writes everything in `commit` in one transaction, or nothing.
    pub async fn commit(&self, commit: &Commit, now: DateTime<Utc>) -> Result<(), CommitError> {
        match self.commit_all(std::slice::from_ref(commit), now).await {
            Ok(()) => Ok(()),
            Err(BatchError::Refused(mut refused)) => Err(refused
                .pop()
                .map(|(_, e)| e)
                .unwrap_or(CommitError::Conflict)),
            Err(BatchError::Failed(e)) => Err(CommitError::Store(e)),
        }
    }

    /// Writes several commits in one transaction: all of them, or none. At most
    /// [`MAX_TRANSACTION_ITEMS`] writes in all, and no item written by two of them (DynamoDB
    /// refuses both). When conditions fail, [`BatchError::Refused`] names each commit that
    /// failed one and why; the others were not written either, and may be sent again alone.
    pub async fn commit_all(
        &self,
        commits: &[Commit],
        now: DateTime<Utc>,
    ) -> Result<(), BatchError> {
        let mut items: Vec<TransactWriteItem> = Vec::new();
        // Per commit: where its items start, and where its receipt and record are.
        let mut spans: Vec<Span> = Vec::with_capacity(commits.len());
        for commit in commits {
            let start = items.len();
            let (idem, record) = self
                .items_of(commit, now, &mut items)
                .await
                .map_err(BatchError::Failed)?;
            spans.push(Span {
                items: start..items.len(),
                idem,
                record,
            });
        }
        if items.is_empty() {
            return Ok(());
        }
        // The same transaction always carries the same token: real DynamoDB answers an SDK
        // retry of one that committed (its first answer lost) with success for 10 minutes,
        // instead of failing the conditions the first one made false. (moto ignores the token;
        // the runner also recognises its own receipt, see `CommitError::Duplicate`.)
        let token = request_token(&items);
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(token)
            .send()
            .await;
        let e = match result {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        let Some(reasons) = cancellation_reasons(&e) else {
            return Err(BatchError::Failed(StoreError::from(AwsError::from_sdk(
                "dynamodb:TransactWriteItems",
                e,
            ))));
        };
        let refused = refusals(&spans, &reasons);
        if !refused.is_empty() {
            return Err(BatchError::Refused(refused));
        }
        if reasons
            .iter()
            .any(|r| r == "ThrottlingError" || r == "ProvisionedThroughputExceeded")
        {
            return Err(BatchError::Failed(StoreError::from(AwsError::new(
                "dynamodb:TransactWriteItems",
                ErrorKind::Transient,
                Some("TransactionCanceledException"),
                format!("cancelled by throttling: {}", reasons.join(", ")),
            ))));
        }
        Err(BatchError::Failed(StoreError::from(AwsError::from_sdk(
            "dynamodb:TransactWriteItems",
            e,
        ))))
    }

    /// Appends the writes of `commit` to `items`; returns the places of its receipt and its
    /// record among them.
    async fn items_of(
        &self,
        commit: &Commit,
        now: DateTime<Utc>,
        items: &mut Vec<TransactWriteItem>,
    ) -> Result<(Option<usize>, Option<usize>), StoreError> {
        let mut idem_index = None;
        let mut record_index = None;
        if let Some((r, expect)) = &commit.receipt {
            idem_index = Some(items.len());
            let doc = serde_json::to_string(r).expect("a receipt serializes");
            let mut item = HashMap::from([
                ("pk".into(), s(format!("idem#{}", r.key))),
                ("sk".into(), s(&r.scope)),
                ("attempt".into(), s(&r.attempt)),
                ("at".into(), s(r.at.to_rfc3339())),
                ("summary".into(), s(&r.summary)),
                ("expires_at".into(), n(epoch(now + IDEMPOTENCY_TTL))),
                ("doc".into(), s(doc)),
            ]);
            match &r.state {
                ReceiptState::InProgress { deadline } => {
                    item.insert("state".into(), s("in-progress"));
                    item.insert("deadline".into(), s(deadline.to_rfc3339()));
                }
                ReceiptState::Done => {
                    item.insert("state".into(), s("done"));
                }
            }
            let condition = match expect {
                Expect::New => Condition::Absent,
                Expect::Attempt(a) => Condition::Attempt(a.clone()),
            };
            items.push(put(&self.table, item, Some(condition)));
        }
        if let Some((inst, rec)) = &commit.record {
            record_index = Some(items.len());
            let doc = serde_json::to_string(rec).expect("a target record serializes");
            let mut item = HashMap::from([
                ("pk".into(), s(target_pk(inst))),
                ("sk".into(), s("state")),
                ("target".into(), s(&rec.state.target)),
                ("version".into(), n(rec.version + 1)),
                ("desired".into(), n(rec.state.desired)),
                ("min".into(), n(rec.state.min)),
                ("max".into(), n(rec.state.max)),
                ("updated_at".into(), s(rec.updated_at.to_rfc3339())),
                ("doc".into(), s(doc)),
            ]);
            if let Some(p) = &rec.pending {
                item.insert("pending_key".into(), s(&p.key));
            }
            let condition = if rec.version == 0 {
                Condition::Absent
            } else {
                Condition::Version(rec.version)
            };
            items.push(put(&self.table, item, Some(condition)));
        }
        for entry in &commit.log {
            items.push(put(&self.table, log_item(entry, now), None));
        }
        for cap in &commit.caps {
            let doc = serde_json::to_string(cap).expect("a cap serializes");
            items.push(put(
                &self.table,
                HashMap::from([
                    ("pk".into(), s("global")),
                    ("sk".into(), s(format!("cap#{}#{}", cap.budget, cap.rule))),
                    ("expires_at".into(), n(epoch(cap.until + Duration::days(1)))),
                    ("doc".into(), s(doc)),
                ]),
                None,
            ));
        }
        for (name, event) in &commit.events {
            let doc = serde_json::to_string(event).expect("an event serializes");
            items.push(put(
                &self.table,
                HashMap::from([
                    ("pk".into(), s("global")),
                    ("sk".into(), s(format!("event#{name}"))),
                    (
                        "expires_at".into(),
                        n(epoch(event.end.0 + Duration::days(7))),
                    ),
                    ("doc".into(), s(doc)),
                ]),
                None,
            ));
        }
        for name in &commit.cancel_events {
            items.push(
                TransactWriteItem::builder()
                    .delete(
                        aws_sdk_dynamodb::types::Delete::builder()
                            .table_name(&self.table)
                            .key("pk", s("global"))
                            .key("sk", s(format!("event#{name}")))
                            .build()
                            .expect("delete has table and key"),
                    )
                    .build(),
            );
        }
        if !commit.lift_caps.is_empty() {
            let global = self.load_global().await?;
            for cap in global
                .caps
                .iter()
                .filter(|c| commit.lift_caps.contains(&c.budget))
            {
                items.push(
                    TransactWriteItem::builder()
                        .delete(
                            aws_sdk_dynamodb::types::Delete::builder()
                                .table_name(&self.table)
                                .key("pk", s("global"))
                                .key("sk", s(format!("cap#{}#{}", cap.budget, cap.rule)))
                                .build()
                                .expect("delete has table and key"),
                        )
                        .build(),
                );
            }
        }
        Ok((idem_index, record_index))
    }
}

/// Where one commit's writes are in a transaction of several.
struct Span {
    items: std::ops::Range<usize>,
    idem: Option<usize>,
    record: Option<usize>,
}

/// The commits a cancelled transaction refused, by their conditions: a receipt's condition
/// makes it a duplicate, the record's (or DynamoDB's `TransactionConflict` on any of its items)
/// a conflict.
fn refusals(spans: &[Span], reasons: &[String]) -> Vec<(usize, CommitError)> {
    let is =
        |i: Option<usize>, what: &str| i.and_then(|i| reasons.get(i)).is_some_and(|r| r == what);
    spans
        .iter()
        .enumerate()
        .filter_map(|(n, span)| {
            if is(span.idem, "ConditionalCheckFailed") {
                Some((n, CommitError::Duplicate))
            } else if is(span.record, "ConditionalCheckFailed")
                || span
                    .items
                    .clone()
                    .any(|i| is(Some(i), "TransactionConflict"))
            {
                Some((n, CommitError::Conflict))
            } else {
                None
            }
        })
        .collect()
}

/// The cancellation reason of each item of a cancelled transaction (`None` stands for an item
/// that did not cancel it), when the error is a cancelled transaction.
fn cancellation_reasons<R>(
    e: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        R,
    >,
) -> Option<Vec<String>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    let TransactWriteItemsError::TransactionCanceledException(tc) = e.as_service_error()? else {
        return None;
    };
    let reasons = tc.cancellation_reasons();
    if !reasons.is_empty() {
        return Some(
            reasons
                .iter()
                .map(|r| r.code().unwrap_or("None").to_string())
                .collect(),
        );
    }
    // Without structured reasons, the message lists them: "... reasons [None, ConditionalCheckFailed]".
    Some(reasons_from_message(tc.message().unwrap_or_default()))
}

fn reasons_from_message(msg: &str) -> Vec<String> {
    let Some((_, list)) = msg.rsplit_once('[') else {
        return Vec::new();
    };
    list.trim_end_matches(']')
        .split(',')
        .map(|r| r.trim().to_string())
        .collect()
}

/// A `ClientRequestToken` (at most 36 characters) that is the same for the same transaction:
/// a digest of its items in a canonical order (an item's attributes are a hash map, whose order
/// differs from one map to the next).
fn request_token(items: &[TransactWriteItem]) -> String {
    fn sorted<V: std::fmt::Debug>(m: Option<&HashMap<String, V>>) -> String {
        let m: BTreeMap<&String, String> = m
            .into_iter()
            .flatten()
            .map(|(k, v)| (k, format!("{v:?}")))
            .collect();
        format!("{m:?}")
    }
    let mut text = String::new();
    for item in items {
        if let Some(p) = item.put() {
            text.push_str(&format!(
                "put {} {} {:?} {}\n",
                p.table_name(),
                sorted(Some(p.item())),
                p.condition_expression(),
                sorted(p.expression_attribute_values())
            ));
        }
        if let Some(d) = item.delete() {
            text.push_str(&format!(
                "delete {} {}\n",
                d.table_name(),
                sorted(Some(d.key()))
            ));
        }
    }
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The condition of one put.
enum Condition {
    /// The item does not exist.
    Absent,
    /// The item's `version` is this one.
    Version(u64),
    /// The item's `attempt` is this one.
    Attempt(String),
}

fn put(
    table: &str,
    item: HashMap<String, AttributeValue>,
    condition: Option<Condition>,
) -> TransactWriteItem {
    let mut p = Put::builder().table_name(table).set_item(Some(item));
    match condition {
        None => {}
        Some(Condition::Absent) => p = p.condition_expression("attribute_not_exists(pk)"),
        Some(Condition::Version(v)) => {
            p = p
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(v));
        }
        Some(Condition::Attempt(a)) => {
            p = p
                .condition_expression("attempt = :a")
                .expression_attribute_values(":a", s(a));
        }
    }
    TransactWriteItem::builder()
        .put(p.build().expect("put has table and item"))
        .build()
}

fn attr(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("attribute definition has name and type")
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("key schema has name and type")
}

fn str_attr(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn doc_attr(
    item: &HashMap<String, AttributeValue>,
    pk: &str,
    sk: &str,
) -> Result<String, StoreError> {
    str_attr(item, "doc").ok_or_else(|| StoreError::Corrupt {
        pk: pk.to_string(),
        sk: sk.to_string(),
        why: "no string attribute `doc`".to_string(),
    })
}

fn parse_doc<T: serde::de::DeserializeOwned>(
    doc: &str,
    pk: &str,
    sk: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt {
        pk: pk.to_string(),
        sk: sk.to_string(),
        why: format!("attribute `doc`: {e}"),
    })
}

fn decode_target(
    item: &HashMap<String, AttributeValue>,
) -> Result<(String, TargetRecord), StoreError> {
    let pk = str_attr(item, "pk").unwrap_or_default();
    let sk = "state";
    let instance = pk
        .strip_prefix("target#")
        .ok_or_else(|| StoreError::Corrupt {
            pk: pk.clone(),
            sk: sk.to_string(),
            why: "partition key does not start with `target#`".to_string(),
        })?
        .to_string();
    let mut rec: TargetRecord = parse_doc(&doc_attr(item, &pk, sk)?, &pk, sk)?;
    rec.version = item
        .get("version")
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Corrupt {
            pk: pk.clone(),
            sk: sk.to_string(),
            why: "no numeric attribute `version`".to_string(),
        })?;
    Ok((instance, rec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_through_its_doc_without_the_version() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut rec = TargetRecord::new(TargetState::new("api", 3, 2, 20), now);
        rec.version = 7;
        let doc = serde_json::to_string(&rec).unwrap();
        assert!(!doc.contains("version"), "{doc}");
        let back: TargetRecord = serde_json::from_str(&doc).unwrap();
        assert_eq!(back.version, 0);
        assert_eq!(back.state, rec.state);
    }

    #[tokio::test]
    async fn load_targets_reads_every_batch_of_keys() {
        let moto = capstan_moto::Moto::start().await;
        let store = Store::new(Client::new(&moto.sdk_config().await), "capstan-state");
        store.create_table().await.unwrap();
        let now = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        // Three batches: 100, 100 and 50 keys.
        let names: Vec<String> = (0..250).map(|i| format!("svc-{i:03}")).collect();
        for (i, name) in names.iter().enumerate() {
            let desired = u32::try_from(i).unwrap();
            let rec = TargetRecord::new(TargetState::new(name, desired, 0, 1000), now);
            let commit = Commit {
                record: Some((name.clone(), rec)),
                ..Commit::default()
            };
            store.commit(&commit, now).await.unwrap();
        }
        let mut asked = names.clone();
        asked.push("never-written".to_string());
        asked.push(names[7].clone());
        let got = store.load_targets(&asked).await.unwrap();
        assert_eq!(
            got.len(),
            names.len(),
            "absent ones are left out, duplicates read once"
        );
        for (i, name) in names.iter().enumerate() {
            assert_eq!(got[name].state.desired, u32::try_from(i).unwrap(), "{name}");
            assert_eq!(got[name].version, 1, "{name}");
        }
        assert!(store.load_targets(&[]).await.unwrap().is_empty());
    }

    #[test]
    fn an_intent_is_live_until_its_deadline() {
        let t0 = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let cap = Capacity {
            desired: 3,
            min: 2,
            max: 20,
        };
        let mut rec = TargetRecord::new(TargetState::new("api", 3, 2, 20), t0);
        rec.pending = Some(Pending {
            key: "k".into(),
            at: t0,
            source: "rule:x".into(),
            from: cap,
            to: Capacity { desired: 5, ..cap },
            attempt: "a1".into(),
            deadline: Some(t0 + Duration::seconds(40)),
            plan: None,
            prior: None,
        });
        assert!(rec.live_pending(t0 + Duration::seconds(39)).is_some());
        assert!(rec.live_pending(t0 + Duration::seconds(40)).is_none());
        // A record written before intents had deadlines: a minute after it was committed.
        rec.pending.as_mut().unwrap().deadline = None;
        assert!(rec.live_pending(t0 + Duration::seconds(59)).is_some());
        assert!(rec.live_pending(t0 + Duration::seconds(60)).is_none());
    }

    #[test]
    fn cancellation_reasons_are_read_from_the_message_when_not_structured() {
        assert_eq!(
            reasons_from_message(
                "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]"
            ),
            vec!["None", "ConditionalCheckFailed"]
        );
        assert!(reasons_from_message("no list").is_empty());
    }

    #[test]
    fn a_receipt_round_trips_with_its_state() {
        let t0 = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let r = Receipt {
            key: "alarm:x".into(),
            scope: "api".into(),
            attempt: "a1".into(),
            at: t0,
            state: ReceiptState::InProgress {
                deadline: t0 + Duration::seconds(40),
            },
            summary: "rule:x change".into(),
            result: serde_json::json!([{"outcome": "changed"}]),
            notices: Vec::new(),
        };
        let doc = serde_json::to_value(&r).unwrap();
        assert_eq!(doc["state"], "in-progress");
        let back: Receipt = serde_json::from_value(doc).unwrap();
        assert_eq!(back, r);
        assert!(back.live_at(t0 + Duration::seconds(39)));
        assert!(!back.live_at(t0 + Duration::seconds(40)));
    }
}
