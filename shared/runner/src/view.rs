//! One view of what Capstan knows, for people: `capstan status` prints it, Slack's `/capstan
//! status` answers with it.
//!
//! [`gather`] reads everything through the runner's ports (so it runs in memory as well as on
//! AWS): the policy's target instances (a selector target has one per matching resource), every
//! record in the table, budget caps and run-time events, live capacity (one batched describe),
//! and the newest action log entries of every instance and of `*` (what concerns no target:
//! refused commands, caps lifted, events added). [`build`] puts them together with the policy
//! at a moment: per instance, the engine's view of it built by the very function the runner
//! decides with, the bounds now and what sets them, cooldowns and scale-in guards, a pause or
//! pin, budget caps, an intent in flight (in progress, or left unfinished for the next delivery
//! to complete), the last error and the recent log; and the audit trail of operators' commands.
//! [`slack_lines`] says it in one line per target.

use std::collections::{BTreeMap, BTreeSet};

use capstan_aws::{AwsError, Live, Reach, Resource};
use capstan_policy::decision::Capacity;
use capstan_policy::engine::{cooldown_of, status_line};
use capstan_policy::model::{BudgetAction, Criticality, Event, Policy, Target};
use capstan_policy::state::{ActionRecord, BudgetCap, Direction, Pause, State, TargetState};
use capstan_policy::{effective_bounds, Bounds};
use capstan_store::{Global, LogEntry, Pending, StoreError, TargetRecord};
use chrono::{DateTime, Duration, Utc};
use futures_util::{stream, StreamExt};
use serde::Serialize;

use crate::{notice, target_state, Instance, Runner, GLOBAL, TARGET_CONCURRENCY};

/// How many action log entries each target shows.
pub const RECENT: usize = 3;
/// How many log entries [`gather`] reads per instance and for `*`: enough for the audit trail.
pub const LOG_DEPTH: usize = 10;
/// How many entries the audit trail shows.
pub const AUDIT: usize = 10;

/// Everything read from the state table and AWS, as it was read.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The policy's target instances.
    pub instances: Vec<Instance>,
    /// Selector targets that matched no resource.
    pub unmatched: Vec<String>,
    /// Every target record in the table, also of instances the policy no longer has.
    pub records: BTreeMap<String, TargetRecord>,
    /// Budget caps and run-time events.
    pub global: Global,
    /// Live capacity; a resource AWS does not know is missing.
    pub live: BTreeMap<Resource, Live>,
    /// The newest log entries of each instance and of `*`, newest first.
    pub logs: BTreeMap<String, Vec<LogEntry>>,
    /// Targets and instances in another account that could not be read there (their role
    /// cannot be assumed, say), with why: the rest of the view goes on without them.
    pub unreachable: BTreeMap<String, String>,
}

/// Why the view could not be gathered.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The state table failed.
    #[error(transparent)]
    Table(#[from] StoreError),
    /// AWS failed (resolving a selector, describing capacity).
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// Reads what the view shows, through the runner's ports: selectors resolved first, then
/// records, caps and events, and live capacity side by side, then the logs (bounded).
pub async fn gather(runner: &Runner) -> Result<Snapshot, ViewError> {
    let names: Vec<String> = runner.policy().targets.keys().cloned().collect();
    let (instances, unmatched, cut_off) = runner.resolve_each(&names).await?;
    let mut unreachable: BTreeMap<String, String> = cut_off
        .into_iter()
        .map(|(name, _, e)| (name, e.to_string()))
        .collect();
    // One describe per account, as the runner reads: another account that cannot be read
    // leaves its targets without live numbers, the others are shown.
    let mut by_reach: BTreeMap<Option<Reach>, Vec<Resource>> = BTreeMap::new();
    for i in &instances {
        by_reach
            .entry(i.resource.reach().cloned())
            .or_default()
            .push(i.resource.clone());
    }
    let hub = by_reach.remove(&None).unwrap_or_default();
    let remote = futures_util::future::join_all(
        by_reach
            .into_iter()
            .map(|(reach, rs)| async move { (reach, runner.fleet().describe(&rs).await) }),
    );
    let (records, global, live, remote) = tokio::join!(
        runner.table().all_targets(),
        runner.table().load_global(),
        runner.fleet().describe(&hub),
        remote,
    );
    let (records, global, mut live) = (records?, global?, live?);
    for (reach, read) in remote {
        match read {
            Ok(l) => live.extend(l),
            Err(e) => {
                for i in instances
                    .iter()
                    .filter(|i| i.resource.reach() == reach.as_ref())
                {
                    unreachable.insert(i.name.clone(), e.to_string());
                }
            }
        }
    }
    let scopes: BTreeSet<String> = instances
        .iter()
        .map(|i| i.name.clone())
        .chain(records.keys().cloned())
        .chain([GLOBAL.to_string()])
        .collect();
    let mut reads = Vec::new();
    for scope in scopes {
        reads.push(async move {
            let log = runner.table().recent_log(&scope, LOG_DEPTH).await;
            (scope, log)
        });
    }
    let read: Vec<(String, Result<Vec<LogEntry>, StoreError>)> = stream::iter(reads)
        .buffer_unordered(TARGET_CONCURRENCY)
        .collect()
        .await;
    let mut logs = BTreeMap::new();
    for (scope, log) in read {
        logs.insert(scope, log?);
    }
    Ok(Snapshot {
        instances,
        unmatched,
        records,
        global,
        live,
        logs,
        unreachable,
    })
}

/// The whole status at a moment (`capstan status --format json` prints it as it is).
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// The moment it describes.
    pub at: DateTime<Utc>,
    /// `settings.dry_run`.
    pub dry_run: bool,
    /// Budget caps in force, on any target.
    pub caps: Vec<BudgetCap>,
    /// Events added at run time (the policy file's are in the policy), by name.
    pub events: BTreeMap<String, Event>,
    /// Per instance: the policy's, then selectors that matched nothing, then records the policy
    /// no longer covers.
    pub targets: Vec<TargetStatus>,
    /// The newest entries of operators' commands (who, channel, verb, target, before and after,
    /// outcome) and of `*`, newest first.
    pub audit: Vec<LogEntry>,
}

/// One target instance.
#[derive(Debug, Clone, Serialize)]
pub struct TargetStatus {
    /// The instance: the target's name, or `name:resource` for a selector target.
    pub instance: String,
    /// The policy target.
    pub target: String,
    /// `ecs main-cluster/api-service`, `asg web`, or the selector for one that matched nothing.
    pub resource: String,
    /// The account the resources live in: its id for a target in another account, else
    /// [`THIS_ACCOUNT`].
    pub account: String,
    /// The target (or the whole policy) runs dry.
    pub dry_run: bool,
    /// Something unusual about the instance itself (not in the policy, nothing matched).
    pub note: Option<String>,
    /// What AWS says now; `None` when AWS does not know the resource.
    pub live: Option<Live>,
    /// The effective bounds now (`None` for a record the policy does not cover).
    pub bounds: Option<BoundsNow>,
    /// Both cooldowns (none for a record the policy does not cover).
    pub cooldowns: Vec<Cooldown>,
    /// The target's scale-in guard and its rules' own.
    pub scale_in_guards: Vec<Guard>,
    /// A pause or pin in force.
    pub pause: Option<Pause>,
    /// Budget caps in force on this target.
    pub caps: Vec<BudgetCap>,
    /// The intent on the record: a change committed and not yet confirmed done.
    pub pending: Option<IntentStatus>,
    /// The latest failure on this target.
    pub last_error: Option<String>,
    /// The last scaling action in the record's history.
    pub last_action: Option<ActionRecord>,
    /// The newest action log entries, newest first.
    pub recent: Vec<LogEntry>,
    /// Capstan's record: `None` before its first action.
    pub record: Option<RecordInfo>,
    /// The engine's one-line status of the instance, with its intent.
    pub line: String,
}

/// The effective bounds now, and what sets them.
#[derive(Debug, Clone, Serialize)]
pub struct BoundsNow {
    /// Effective floor.
    pub floor: u32,
    /// Effective ceiling.
    pub ceiling: u32,
    /// What set them, in words.
    pub why: Vec<String>,
    /// An event holding scale-in.
    pub hold: Option<String>,
}

/// A cooldown after the last action in one direction.
#[derive(Debug, Clone, Serialize)]
pub struct Cooldown {
    /// `out` or `in`.
    pub direction: Direction,
    /// Its length: that of the last action in this direction, else the target's.
    pub seconds: i64,
    /// True while it holds.
    pub running: bool,
    /// When it ends (or ended), after the last action in this direction.
    pub until: Option<DateTime<Utc>>,
    /// The action that started it.
    pub after: Option<ActionRecord>,
}

/// A scale-in guard.
#[derive(Debug, Clone, Serialize)]
pub struct Guard {
    /// `target`, or `rule NAME` for a rule's own guard.
    pub set_by: String,
    /// Its length.
    pub seconds: i64,
    /// True while it blocks scale-in.
    pub running: bool,
    /// When scale-in is allowed again (after the last scaling action).
    pub until: Option<DateTime<Utc>>,
}

/// Capstan's record of an instance, in brief.
#[derive(Debug, Clone, Serialize)]
pub struct RecordInfo {
    /// Its version.
    pub version: u64,
    /// When it was last written.
    pub updated_at: DateTime<Utc>,
    /// Desired capacity as last recorded (AWS's numbers are in `live`).
    pub desired: u32,
    /// The minimum as last recorded.
    pub min: u32,
    /// The maximum as last recorded.
    pub max: u32,
}

/// An intent: what is being done to an instance, for which signal, until when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntentStatus {
    /// The idempotency key of the signal that decided it.
    pub key: String,
    /// What asked for it.
    pub source: String,
    /// Capacity before.
    pub from: Capacity,
    /// Capacity asked for.
    pub to: Capacity,
    /// When it was committed.
    pub at: DateTime<Utc>,
    /// Until when its owner may still be at work on it.
    pub deadline: DateTime<Utc>,
    /// True while its owner may still be at work; false: left unfinished, the next delivery
    /// on the target completes it (or undoes it, when it is too old).
    pub in_progress: bool,
    /// The AWS call it makes, when it has one left to make.
    pub call: Option<String>,
}

impl IntentStatus {
    fn of(p: &Pending, resource: Option<&Resource>, now: DateTime<Utc>) -> IntentStatus {
        IntentStatus {
            key: p.key.clone(),
            source: p.source.clone(),
            from: p.from,
            to: p.to,
            at: p.at,
            deadline: p.deadline(),
            in_progress: p.live_at(now),
            call: match (&p.plan, resource) {
                (Some(plan), Some(r)) => Some(notice::describe_applied(r, &plan.applied(true))),
                _ => None,
            },
        }
    }

    /// `7 -> 8 by rule:api-cpu-high (key k3), in progress until 10:00:40Z (in 40s)`, or `...,
    /// left unfinished: the next delivery completes it`.
    pub fn describe(&self, now: DateTime<Utc>) -> String {
        format!(
            "{} by {} (key {}), committed {}; {}",
            change(Some(self.from), Some(self.to)),
            self.source,
            self.key,
            when(self.at, now),
            if self.in_progress {
                format!("in progress until {}", when(self.deadline, now))
            } else {
                "left unfinished: the next delivery completes it".to_string()
            }
        )
    }
}

/// How the view names the functions' own account (the hub's).
pub const THIS_ACCOUNT: &str = "this account";

/// The account a target's resources live in, for people: its role's, else [`THIS_ACCOUNT`].
fn account_of(t: &Target) -> String {
    t.account().unwrap_or(THIS_ACCOUNT).to_string()
}

/// Puts what was read together with the policy, at `now`.
pub fn build(policy: &Policy, snapshot: &Snapshot, now: DateTime<Utc>) -> StatusReport {
    let g = snapshot;
    // The engine's view, as the runner builds it.
    let mut state = State {
        targets: BTreeMap::new(),
        caps: g.global.caps.clone(),
        events: g.global.events.clone(),
    };
    for inst in &g.instances {
        let t = &policy.targets[&inst.target];
        let ts = target_state(
            t,
            inst,
            g.records.get(&inst.name),
            g.live.get(&inst.resource),
        );
        state.targets.insert(inst.name.clone(), ts);
    }
    let recent = |name: &str| -> Vec<LogEntry> {
        g.logs
            .get(name)
            .map(|l| l.iter().take(RECENT).cloned().collect())
            .unwrap_or_default()
    };

    let mut targets = Vec::new();
    for inst in &g.instances {
        let t = &policy.targets[&inst.target];
        let ts = &state.targets[&inst.name];
        let live = g.live.get(&inst.resource).cloned();
        let record = g.records.get(&inst.name);
        let pending = record
            .and_then(|r| r.pending.as_ref())
            .map(|p| IntentStatus::of(p, Some(&inst.resource), now));
        let cut_off = g.unreachable.get(&inst.name);
        let mut line = if let Some(e) = cut_off {
            format!(
                "{}: {} cannot be read: {e}",
                inst.name,
                inst.resource.label()
            )
        } else if live.is_some() {
            status_line(policy, &state, &inst.name, ts, now)
        } else {
            format!("{}: {} not found on AWS", inst.name, inst.resource.label())
        };
        if let Some(p) = &pending {
            line.push_str(&format!("; intent {}", p.describe(now)));
        }
        targets.push(TargetStatus {
            instance: inst.name.clone(),
            target: inst.target.clone(),
            resource: inst.resource.label(),
            account: account_of(t),
            dry_run: policy.settings.dry_run || t.dry_run,
            note: cut_off.map(|e| format!("cannot be read in its account: {e}")),
            live,
            bounds: Some(bounds_now(effective_bounds(
                policy, &state, &inst.name, now,
            ))),
            cooldowns: cooldowns(policy, t, ts, now),
            scale_in_guards: guards(policy, &inst.target, t, ts, now),
            pause: active_pause(ts, now),
            caps: caps_on(policy, &inst.target, t, &state.caps, now),
            pending,
            last_error: record.and_then(|r| r.last_error.clone()),
            last_action: ts.last_action().cloned(),
            recent: recent(&inst.name),
            record: record.map(record_info),
            line,
        });
    }
    // Selector targets whose account could not be listed: no instances, only the failure.
    let cut_off = g.unreachable.iter().filter(|(name, _)| {
        policy.targets.contains_key(*name) && !g.instances.iter().any(|i| &i.target == *name)
    });
    for (name, e) in cut_off {
        let t = &policy.targets[name];
        targets.push(unseen(
            policy,
            name,
            format!("cannot be read in its account: {e}"),
            format!("{name}: {} cannot be read: {e}", t.resource_label()),
        ));
    }
    for name in &g.unmatched {
        let t = &policy.targets[name];
        targets.push(unseen(
            policy,
            name,
            "no resource on AWS carries the selector's tags".to_string(),
            format!("{name}: no resource matches {}", t.resource_label()),
        ));
    }
    let known: BTreeSet<&str> = g.instances.iter().map(|i| i.name.as_str()).collect();
    for (name, record) in &g.records {
        if known.contains(name.as_str()) {
            continue;
        }
        let ts = &record.state;
        let note = if policy.targets.contains_key(&ts.target) {
            format!(
                "the selector of target {} no longer matches this resource; Capstan's record only",
                ts.target
            )
        } else {
            format!(
                "the policy has no target {}; Capstan's record only",
                ts.target
            )
        };
        let pending = record
            .pending
            .as_ref()
            .map(|p| IntentStatus::of(p, None, now));
        let mut line = format!("{name}: {note}");
        if let Some(p) = &pending {
            line.push_str(&format!("; intent {}", p.describe(now)));
        }
        targets.push(TargetStatus {
            instance: name.clone(),
            target: ts.target.clone(),
            resource: "-".to_string(),
            account: policy
                .targets
                .get(&ts.target)
                .map_or_else(|| THIS_ACCOUNT.to_string(), account_of),
            dry_run: policy.settings.dry_run,
            note: Some(note),
            live: None,
            bounds: None,
            cooldowns: Vec::new(),
            scale_in_guards: Vec::new(),
            pause: active_pause(ts, now),
            caps: Vec::new(),
            pending,
            last_error: record.last_error.clone(),
            last_action: ts.last_action().cloned(),
            recent: recent(name),
            record: Some(record_info(record)),
            line,
        });
    }
    // The audit trail: operators' entries wherever they are, and everything on `*`.
    let mut audit: Vec<LogEntry> = g
        .logs
        .iter()
        .flat_map(|(scope, log)| {
            log.iter()
                .filter(move |e| e.by.is_some() || scope == GLOBAL)
        })
        .cloned()
        .collect();
    audit.sort_by(|a, b| (b.at, &b.key, &b.target).cmp(&(a.at, &a.key, &a.target)));
    audit.truncate(AUDIT);
    StatusReport {
        at: now,
        dry_run: policy.settings.dry_run,
        caps: state
            .caps
            .iter()
            .filter(|c| c.since <= now && now < c.until)
            .cloned()
            .collect(),
        events: g.global.events.clone(),
        targets,
        audit,
    }
}

fn bounds_now(b: Bounds) -> BoundsNow {
    BoundsNow {
        floor: b.floor,
        ceiling: b.ceiling,
        why: b.why,
        hold: b.hold,
    }
}

fn record_info(r: &TargetRecord) -> RecordInfo {
    RecordInfo {
        version: r.version,
        updated_at: r.updated_at,
        desired: r.state.desired,
        min: r.state.min,
        max: r.state.max,
    }
}

fn active_pause(ts: &TargetState, now: DateTime<Utc>) -> Option<Pause> {
    ts.pause.clone().filter(|p| p.until > now)
}

/// Both cooldowns: after the last action in each direction, as long as the engine counts it.
fn cooldowns(policy: &Policy, t: &Target, ts: &TargetState, now: DateTime<Utc>) -> Vec<Cooldown> {
    [Direction::Out, Direction::In]
        .into_iter()
        .map(|direction| {
            let configured = match direction {
                Direction::In => t.cooldown.scale_in,
                _ => t.cooldown.scale_out,
            };
            match ts.last_in(direction) {
                Some(last) => {
                    let length = cooldown_of(policy, t, last);
                    let until = last.at + length;
                    Cooldown {
                        direction,
                        seconds: length.num_seconds(),
                        running: until > now,
                        until: Some(until),
                        after: Some(last.clone()),
                    }
                }
                None => Cooldown {
                    direction,
                    seconds: configured.chrono().num_seconds(),
                    running: false,
                    until: None,
                    after: None,
                },
            }
        })
        .collect()
}

/// The target's scale-in guard and the rules' own, each counted from the last scaling action
/// in either direction (as the engine counts them).
fn guards(
    policy: &Policy,
    name: &str,
    t: &Target,
    ts: &TargetState,
    now: DateTime<Utc>,
) -> Vec<Guard> {
    let last = ts
        .history
        .iter()
        .rev()
        .find(|r| r.direction() != Direction::None);
    let own = t.cooldown.scale_in_guard.map(|g| ("target".to_string(), g));
    let rules = policy
        .rules
        .iter()
        .filter(|(_, r)| r.target.as_deref() == Some(name))
        .filter_map(|(rule, r)| r.scale_in_guard.map(|g| (format!("rule {rule}"), g)));
    own.into_iter()
        .chain(rules)
        .map(|(set_by, guard)| {
            let until = last.map(|a| a.at + guard.chrono());
            Guard {
                set_by,
                seconds: guard.chrono().num_seconds(),
                running: until.is_some_and(|u| u > now),
                until,
            }
        })
        .collect()
}

/// The budget caps in force that lower this target's ceiling (never a critical target's).
fn caps_on(
    policy: &Policy,
    name: &str,
    t: &Target,
    caps: &[BudgetCap],
    now: DateTime<Utc>,
) -> Vec<BudgetCap> {
    if t.criticality != Criticality::NonCritical {
        return Vec::new();
    }
    caps.iter()
        .filter(|c| c.since <= now && now < c.until)
        .filter(|c| {
            policy.budgets.get(&c.rule).is_some_and(|rule| {
                !matches!(rule.action, BudgetAction::Notify) && rule.covers_target(name)
            })
        })
        .cloned()
        .collect()
}

/// `2026-12-07 10:00:00Z`.
pub fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// A short length: `45s`, `4m30s`, `2h5m`, `3d4h`.
pub fn span(d: Duration) -> String {
    let s = d.num_seconds().abs();
    let (days, hours, minutes, seconds) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match () {
        _ if days > 0 => format!("{days}d{hours}h"),
        _ if hours > 0 => format!("{hours}h{minutes}m"),
        _ if minutes > 0 && seconds > 0 => format!("{minutes}m{seconds}s"),
        _ if minutes > 0 => format!("{minutes}m"),
        _ => format!("{seconds}s"),
    }
}

/// `10:05:00Z (in 3m)` on the day of `now`, else with the date; `(5m ago)` for a moment past.
pub fn when(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let time = if t.date_naive() == now.date_naive() {
        t.format("%H:%M:%SZ").to_string()
    } else {
        fmt_time(t)
    };
    if t > now {
        format!("{time} (in {})", span(t - now))
    } else {
        format!("{time} ({} ago)", span(now - t))
    }
}

/// `2 -> 3`, with the bounds when they changed (`4 -> 6, bounds 2..20 -> 4..20`), a
/// bounds-only change by its bounds (`bounds 2..30 -> 2..2, desired 2`), in the words of the
/// notices; `would be 3` without a before; `-` without either.
pub fn change(from: Option<Capacity>, to: Option<Capacity>) -> String {
    match (from, to) {
        (Some(f), Some(t)) => crate::notice::change_words("", f, t)
            .trim_start()
            .to_string(),
        (None, Some(t)) => format!("would be {}", t.desired),
        _ => "-".to_string(),
    }
}

/// One audit line: when, who (and where), the verb and target, before -> after, the outcome.
/// `2026-12-07 10:00:00Z  cli:ana  scale api  3 -> 5  changed`; `U1 in C9`; a command that could
/// not be parsed shows its signal instead of a verb.
pub fn audit_line(e: &LogEntry) -> String {
    let who = match (&e.by, &e.channel) {
        (Some(by), Some(ch)) => format!("{by} in {ch}"),
        (Some(by), None) => by.clone(),
        (None, _) => e.source.clone(),
    };
    let what = match &e.verb {
        Some(verb) => format!("{verb} {}", e.target),
        None => format!("{} ({})", e.target, e.signal),
    };
    let mut line = format!(
        "{}  {who}  {what}  {}  {}",
        fmt_time(e.at),
        change(e.from, e.to),
        e.outcome
    );
    if e.from.is_none() && !e.explanation.is_empty() {
        line.push_str(&format!(": {}", e.explanation));
    }
    line
}

/// Slack's answer to `status [TARGET]`: one mrkdwn line per instance (of `target`, when given:
/// the instances of that policy target, or that instance): capacity, bounds now and why, pause
/// or pin, caps, running cooldowns and guards, the intent in flight, the last action.
pub fn slack_lines(report: &StatusReport, target: Option<&str>) -> String {
    let now = report.at;
    let chosen: Vec<&TargetStatus> = report
        .targets
        .iter()
        .filter(|t| target.is_none_or(|name| t.instance == name || t.target == name))
        .collect();
    if chosen.is_empty() {
        let mut names: Vec<&str> = report.targets.iter().map(|t| t.target.as_str()).collect();
        names.dedup();
        return match target {
            Some(name) => format!(
                "no target `{}`; the targets are {}",
                escape(name),
                escape(&names.join(", "))
            ),
            None => "the policy has no targets".to_string(),
        };
    }
    let mut out = String::new();
    if report.dry_run {
        out.push_str("_dry run: Capstan changes nothing_\n");
    }
    for t in chosen {
        out.push_str(&slack_line(t, now));
        out.push('\n');
    }
    out
}

fn slack_line(t: &TargetStatus, now: DateTime<Utc>) -> String {
    let mut parts = vec![format!("*{}*", escape(&t.instance))];
    // The functions' own account goes without saying; another one is named on every line.
    if t.account != THIS_ACCOUNT {
        parts.push(format!("in account {}", escape(&t.account)));
    }
    if let Some(note) = &t.note {
        parts.push(note.clone());
    }
    match &t.live {
        Some(l) => parts.push(format!("{}/{} desired/running", l.desired, l.running)),
        None if t.note.is_none() => parts.push(format!("{} not found on AWS", t.resource)),
        None => {}
    }
    if let Some(b) = &t.bounds {
        parts.push(format!(
            "bounds {}..{} ({})",
            b.floor,
            b.ceiling,
            b.why.join("; ")
        ));
    }
    if let Some(p) = &t.pause {
        parts.push(match p.pin {
            Some(n) => format!("pinned at {n} by {} until {}", p.by, when(p.until, now)),
            None => format!("paused by {} until {}", p.by, when(p.until, now)),
        });
    }
    for c in &t.caps {
        parts.push(format!(
            "capped by budget {} until {}",
            c.budget,
            when(c.until, now)
        ));
    }
    for c in t.cooldowns.iter().filter(|c| c.running) {
        if let Some(until) = c.until {
            let name = if c.direction == Direction::In {
                "scale-in"
            } else {
                "scale-out"
            };
            parts.push(format!("{name} cooldown until {}", when(until, now)));
        }
    }
    for g in t.scale_in_guards.iter().filter(|g| g.running) {
        if let Some(until) = g.until {
            parts.push(format!(
                "scale-in guard ({}) until {}",
                g.set_by,
                when(until, now)
            ));
        }
    }
    if let Some(p) = &t.pending {
        parts.push(format!("intent {}", p.describe(now)));
    }
    if let Some(a) = &t.last_action {
        // A record keeps desired counts only: a change of bounds alone is not "6 -> 6".
        let what = if a.from == a.to {
            format!("bounds moved at {}", a.to)
        } else {
            format!("{} -> {}", a.from, a.to)
        };
        parts.push(format!("last {what} by {} {}", a.source, when(a.at, now)));
    }
    if t.dry_run {
        parts.push("dry run".to_string());
    }
    let mut line = parts.remove(0);
    for p in parts {
        line.push_str(" · ");
        line.push_str(&escape(&p));
    }
    line
}

/// Slack's three control characters, escaped as its mrkdwn wants.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The status of policy target `name` when none of its resources could be seen (its account
/// cannot be read, or its selector matches nothing): the policy's facts and why, nothing live.
fn unseen(policy: &Policy, name: &str, note: String, line: String) -> TargetStatus {
    let t = &policy.targets[name];
    TargetStatus {
        instance: name.to_string(),
        target: name.to_string(),
        resource: t.resource_label(),
        account: account_of(t),
        dry_run: policy.settings.dry_run || t.dry_run,
        note: Some(note),
        live: None,
        bounds: None,
        cooldowns: Vec::new(),
        scale_in_guards: Vec::new(),
        pause: None,
        caps: Vec::new(),
        pending: None,
        last_error: None,
        last_action: None,
        recent: Vec::new(),
        record: None,
        line,
    }
}
