//! `capstan status [POLICY] [--table NAME] [--format text|json]`: what Capstan knows of every
//! target, now.
//!
//! For each target instance of the policy (a selector target has one per matching resource),
//! and for each record in the table that no longer belongs to one: the live capacity on AWS
//! (one batched describe), the bounds set on AWS and the effective floor..ceiling now (with
//! what sets them), the cooldowns and scale-in guards (running or clear, until when), a pause or
//! pin, budget caps, the pending action, the last error, and the newest entries of the action
//! log. The same as one JSON document with `--format json`.
//!
//! Exit codes: 0 printed, 1 an AWS or state-table failure, 2 a policy that cannot be read or
//! loaded (its problems are listed like `capstan test` lists them) or a bad `--now`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use capstan_aws::{ErrorKind, Live, Resource};
use capstan_policy::decision::Capacity;
use capstan_policy::engine::{cooldown_of, status_line};
use capstan_policy::model::{BudgetAction, Criticality, Policy, Target};
use capstan_policy::state::{ActionRecord, BudgetCap, Direction, Pause, State, TargetState};
use capstan_policy::{effective_bounds, Bounds};
use capstan_store::{Global, LogEntry, Pending, Store, StoreError, TargetRecord};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde::Serialize;

use crate::init::{Endpoints, Session};

/// How many action log entries each target shows.
pub const RECENT: i32 = 3;

/// How `status` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// One aligned block per target.
    #[default]
    Text,
    /// One JSON document: `{ at, table, policy, dry_run, caps, targets: [...] }`.
    Json,
}

/// Runs the subcommand (see the module docs for the exit codes).
pub async fn run(source: &str, table: &str, format: Format, now: Option<&str>) -> ExitCode {
    let now = match now {
        None => Utc::now().trunc_subsecs(0),
        Some(text) => match DateTime::parse_from_rfc3339(text.trim()) {
            Ok(t) => t.with_timezone(&Utc),
            Err(e) => {
                eprintln!(
                    "capstan: --now `{text}` is not an RFC 3339 time such as \
                     2026-12-07T10:00:00Z ({e})"
                );
                return ExitCode::from(2);
            }
        },
    };
    // A policy file is checked before any AWS call: a typo costs no round trip.
    let (policy, session) = match policy_and_session(source, "see the status").await {
        Ok(both) => both,
        Err(code) => return code,
    };
    let store = Store::new(session.dynamodb.clone(), table);
    let gathered = match gather(&session, &store, &policy).await {
        Ok(g) => g,
        Err(message) => {
            eprintln!("capstan: {message}");
            return ExitCode::from(1);
        }
    };
    let report = build(&policy, source, table, &gathered, now);
    let text = match format {
        Format::Text => render(&report),
        Format::Json => {
            serde_json::to_string_pretty(&report).expect("a status report serializes") + "\n"
        }
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        // `capstan status | head`: the reader has what it wanted.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("capstan: cannot write the status: {e}");
            ExitCode::from(1)
        }
    }
}

/// Reads the policy named on the command line before any AWS call, so that a typo costs no
/// round trip: a file's text, checked (`None` for `ssm:<name>`, read later by
/// [`fetch_policy`]). On problems prints them and gives exit code 2; `to` says what the fixed
/// policy is for ("see the status").
pub(crate) fn read_policy(source: &str, to: &str) -> Result<Option<String>, ExitCode> {
    if source.starts_with("ssm:") {
        return Ok(None);
    }
    let text = std::fs::read_to_string(source).map_err(|e| {
        eprintln!(
            "capstan: cannot read the policy {source}: {e} (give its path, or set \
             CAPSTAN_POLICY)"
        );
        ExitCode::from(2)
    })?;
    load(source, &text, to)?;
    Ok(Some(text))
}

/// The policy: the text [`read_policy`] read, or the SSM parameter's (exit code 1 when it
/// cannot be fetched, 2 when it has problems).
pub(crate) async fn fetch_policy(
    source: &str,
    file_text: Option<String>,
    session: &Session,
    to: &str,
) -> Result<Policy, ExitCode> {
    let text = match (file_text, source.strip_prefix("ssm:")) {
        (Some(text), _) => text,
        (None, Some(name)) => capstan_aws::fetch_parameter(&session.clients, name)
            .await
            .map_err(|e| {
                eprintln!("capstan: {}", session.endpoints.aws_error(&e));
                ExitCode::from(1)
            })?,
        (None, None) => unreachable!("a policy that is not in SSM was read from its file"),
    };
    load(source, &text, to)
}

/// The policy, checked before any AWS call when it is a file ([`read_policy`]), and an AWS
/// session: what every AWS subcommand starts with. Exit code 2 for a bad policy, 1 when AWS
/// cannot be reached or the SSM parameter fetched; `to` says what the policy is for.
pub(crate) async fn policy_and_session(
    source: &str,
    to: &str,
) -> Result<(Policy, Session), ExitCode> {
    let file_text = read_policy(source, to)?;
    let session = Session::connect().await.map_err(|message| {
        eprintln!("capstan: {message}");
        ExitCode::from(1)
    })?;
    let policy = fetch_policy(source, file_text, &session, to).await?;
    Ok((policy, session))
}

/// Loads the policy; on problems prints them (`FILE:LINE:COL: message`) and gives exit code 2.
fn load(source: &str, text: &str, to: &str) -> Result<Policy, ExitCode> {
    capstan_policy::load(text).map_err(|e| {
        eprint!("{}", crate::diagnostics::render(source, &e));
        eprintln!("{source}: {e}; fix the policy to {to}");
        ExitCode::from(2)
    })
}

/// One target instance of the policy: which target, which AWS resource.
#[derive(Debug, Clone)]
struct Instance {
    name: String,
    target: String,
    resource: Resource,
}

/// Everything read from AWS and the state table.
#[derive(Debug, Default)]
struct Gathered {
    instances: Vec<Instance>,
    /// Selector targets that matched no resource.
    unmatched: Vec<String>,
    records: BTreeMap<String, TargetRecord>,
    global: Global,
    live: BTreeMap<Resource, Live>,
    logs: BTreeMap<String, Vec<LogEntry>>,
}

/// Resolves the policy's targets, then reads records, caps and events, and live capacity
/// concurrently, then each instance's newest log entries.
async fn gather(session: &Session, store: &Store, policy: &Policy) -> Result<Gathered, String> {
    let mut g = Gathered::default();
    for (name, target) in &policy.targets {
        match Resource::for_target(target) {
            Some(resource) => g.instances.push(Instance {
                name: name.clone(),
                target: name.clone(),
                resource,
            }),
            None => {
                let found = capstan_aws::resolve(&session.clients, target)
                    .await
                    .map_err(|e| session.endpoints.aws_error(&e))?;
                if found.is_empty() {
                    g.unmatched.push(name.clone());
                }
                for resource in found {
                    let id = match &resource {
                        Resource::Ecs { service, .. } => service.clone(),
                        Resource::Asg { group } => group.clone(),
                    };
                    g.instances.push(Instance {
                        name: format!("{name}:{id}"),
                        target: name.clone(),
                        resource,
                    });
                }
            }
        }
    }
    let resources: Vec<Resource> = g.instances.iter().map(|i| i.resource.clone()).collect();
    let (records, global, live) = tokio::join!(
        store.all_targets(),
        store.load_global(),
        capstan_aws::describe(&session.clients, &resources),
    );
    let table_error = |e: StoreError| table_error(&session.endpoints, store.table(), &e);
    g.records = records.map_err(table_error)?;
    g.global = global.map_err(table_error)?;
    g.live = live.map_err(|e| session.endpoints.aws_error(&e))?;

    let names: BTreeSet<String> = g
        .instances
        .iter()
        .map(|i| i.name.clone())
        .chain(g.records.keys().cloned())
        .collect();
    let mut reads = tokio::task::JoinSet::new();
    for name in names {
        let store = store.clone();
        reads.spawn(async move {
            let log = store.recent_log(&name, RECENT).await;
            (name, log)
        });
    }
    while let Some(joined) = reads.join_next().await {
        let (name, log) = joined.map_err(|e| format!("reading the action log failed: {e}"))?;
        g.logs.insert(name, log.map_err(table_error)?);
    }
    Ok(g)
}

/// A state-table failure in one line; a missing table says how to create it.
pub(crate) fn table_error(endpoints: &Endpoints, table: &str, e: &StoreError) -> String {
    if let StoreError::Aws(aws) = e {
        if aws.kind == ErrorKind::NotFound && aws.operation.starts_with("dynamodb:") {
            return format!(
                "the state table {table} does not exist {}: create it with `capstan init --table \
                 {table}`, or name the right one with --table or CAPSTAN_TABLE",
                endpoints.location("dynamodb")
            );
        }
    }
    endpoints.store_error(e)
}

/// The whole status, as printed (`--format json` prints it as it is).
#[derive(Debug, Serialize)]
struct Report {
    /// The moment it describes.
    at: DateTime<Utc>,
    table: String,
    policy: String,
    /// `settings.dry_run`.
    dry_run: bool,
    /// Budget caps in force, on any target.
    caps: Vec<BudgetCap>,
    targets: Vec<TargetStatus>,
}

/// One target instance.
#[derive(Debug, Serialize)]
struct TargetStatus {
    /// The instance: the target's name, or `name:resource` for a selector target.
    instance: String,
    /// The policy target.
    target: String,
    /// `ecs main-cluster/api-service`, `asg web`, or the selector for one that matched nothing.
    resource: String,
    /// The target (or the whole policy) runs dry.
    dry_run: bool,
    /// Something unusual about the instance itself (not in the policy, nothing matched).
    note: Option<String>,
    /// What AWS says now; `None` when AWS does not know the resource.
    live: Option<Live>,
    /// The effective bounds now (`None` for a record the policy does not cover).
    bounds: Option<BoundsNow>,
    cooldowns: Vec<Cooldown>,
    scale_in_guards: Vec<Guard>,
    /// A pause or pin in force.
    pause: Option<Pause>,
    /// Budget caps in force on this target.
    caps: Vec<BudgetCap>,
    pending: Option<Pending>,
    last_error: Option<String>,
    /// The newest action log entries, newest first.
    recent: Vec<LogEntry>,
    /// Capstan's record: `None` before its first action.
    record: Option<RecordInfo>,
    /// The one-line status Slack's `/capstan status` gives.
    line: String,
}

#[derive(Debug, Serialize)]
struct BoundsNow {
    floor: u32,
    ceiling: u32,
    /// What set them, in words.
    why: Vec<String>,
    /// An event holding scale-in.
    hold: Option<String>,
}

#[derive(Debug, Serialize)]
struct Cooldown {
    direction: Direction,
    /// Its length: that of the last action in this direction, else the target's.
    seconds: i64,
    running: bool,
    /// When it ends (or ended), after the last action in this direction.
    until: Option<DateTime<Utc>>,
    /// The action that started it.
    after: Option<ActionRecord>,
}

#[derive(Debug, Serialize)]
struct Guard {
    /// `target`, or `rule NAME` for a rule's own guard.
    set_by: String,
    seconds: i64,
    running: bool,
    /// When scale-in is allowed again (after the last scaling action).
    until: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
struct RecordInfo {
    version: u64,
    updated_at: DateTime<Utc>,
    /// Capacity as last recorded (AWS's numbers are in `live`).
    desired: u32,
    min: u32,
    max: u32,
}

/// Puts what was read together with the policy, at `now`.
fn build(policy: &Policy, source: &str, table: &str, g: &Gathered, now: DateTime<Utc>) -> Report {
    // The engine's view, as the runner builds it: the record, with AWS's live numbers over it.
    let mut state = State {
        targets: BTreeMap::new(),
        caps: g.global.caps.clone(),
        events: g.global.events.clone(),
    };
    for inst in &g.instances {
        let t = &policy.targets[&inst.target];
        let live = g.live.get(&inst.resource);
        let mut ts = match g.records.get(&inst.name) {
            Some(r) => r.state.clone(),
            None => TargetState::new(
                &inst.target,
                live.map_or(t.floor, |l| l.desired),
                t.floor,
                t.ceiling,
            ),
        };
        ts.target = inst.target.clone();
        if let Some(l) = live {
            ts.desired = l.desired;
            ts.running = l.running;
            if let (Some(min), Some(max)) = (l.min, l.max) {
                ts.min = min;
                ts.max = max;
            }
        }
        state.targets.insert(inst.name.clone(), ts);
    }

    let mut targets = Vec::new();
    for inst in &g.instances {
        let t = &policy.targets[&inst.target];
        let ts = &state.targets[&inst.name];
        let live = g.live.get(&inst.resource).cloned();
        let record = g.records.get(&inst.name);
        let b = effective_bounds(policy, &state, &inst.name, now);
        let line = if live.is_some() {
            status_line(policy, &state, &inst.name, ts, now)
        } else {
            format!("{}: {} not found on AWS", inst.name, inst.resource.label())
        };
        targets.push(TargetStatus {
            instance: inst.name.clone(),
            target: inst.target.clone(),
            resource: inst.resource.label(),
            dry_run: policy.settings.dry_run || t.dry_run,
            note: None,
            live,
            bounds: Some(bounds_now(b)),
            cooldowns: cooldowns(policy, t, ts, now),
            scale_in_guards: guards(policy, &inst.target, t, ts, now),
            pause: active_pause(ts, now),
            caps: caps_on(policy, &inst.target, t, &state.caps, now),
            pending: record.and_then(|r| r.pending.clone()),
            last_error: record.and_then(|r| r.last_error.clone()),
            recent: g.logs.get(&inst.name).cloned().unwrap_or_default(),
            record: record.map(record_info),
            line,
        });
    }
    for name in &g.unmatched {
        let t = &policy.targets[name];
        targets.push(TargetStatus {
            instance: name.clone(),
            target: name.clone(),
            resource: t.resource_label(),
            dry_run: policy.settings.dry_run || t.dry_run,
            note: Some("no resource on AWS carries the selector's tags".to_string()),
            live: None,
            bounds: None,
            cooldowns: Vec::new(),
            scale_in_guards: Vec::new(),
            pause: None,
            caps: Vec::new(),
            pending: None,
            last_error: None,
            recent: Vec::new(),
            record: None,
            line: format!("{name}: no resource matches {}", t.resource_label()),
        });
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
        targets.push(TargetStatus {
            instance: name.clone(),
            target: ts.target.clone(),
            resource: "-".to_string(),
            dry_run: policy.settings.dry_run,
            note: Some(note.clone()),
            live: None,
            bounds: None,
            cooldowns: Vec::new(),
            scale_in_guards: Vec::new(),
            pause: active_pause(ts, now),
            caps: Vec::new(),
            pending: record.pending.clone(),
            last_error: record.last_error.clone(),
            recent: g.logs.get(name).cloned().unwrap_or_default(),
            record: Some(record_info(record)),
            line: format!("{name}: {note}"),
        });
    }
    Report {
        at: now,
        table: table.to_string(),
        policy: source.to_string(),
        dry_run: policy.settings.dry_run,
        caps: state
            .caps
            .iter()
            .filter(|c| c.since <= now && now < c.until)
            .cloned()
            .collect(),
        targets,
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

fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// A short length: `45s`, `4m30s`, `2h5m`, `3d4h`.
fn span(d: Duration) -> String {
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

/// `10:05:00Z (in 3m)` on the day of `now` (the header names it), else with the date;
/// `(5m ago)` for a moment past.
fn when(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
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

/// `2 -> 3`, with the bounds when they changed.
fn change(from: Option<Capacity>, to: Option<Capacity>) -> String {
    match (from, to) {
        (Some(f), Some(t)) if (f.min, f.max) == (t.min, t.max) => {
            format!("{} -> {}", f.desired, t.desired)
        }
        (Some(f), Some(t)) => format!(
            "{} -> {} (bounds {}..{} -> {}..{})",
            f.desired, t.desired, f.min, f.max, t.min, t.max
        ),
        (None, Some(t)) => format!("would be {}", t.desired),
        _ => "-".to_string(),
    }
}

/// Width of the labels inside a block.
const LABEL: usize = 8;

fn row(out: &mut String, label: &str, value: &str) {
    let _ = writeln!(out, "  {label:<LABEL$}  {value}");
}

/// The text report: a header, then one aligned block per target.
fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "capstan status at {} · table {} · policy {}",
        fmt_time(r.at),
        r.table,
        r.policy
    );
    if r.dry_run {
        out.push_str("DRY-RUN: settings.dry_run is on; Capstan changes nothing\n");
    }
    for c in &r.caps {
        let _ = writeln!(
            out,
            "budget cap in force: {} (rule {}) until {}",
            c.budget,
            c.rule,
            when(c.until, r.at)
        );
    }
    let width = r
        .targets
        .iter()
        .map(|t| t.instance.chars().count())
        .max()
        .unwrap_or(0);
    for t in &r.targets {
        out.push('\n');
        render_target(&mut out, t, width, r.at);
    }
    if r.targets.is_empty() {
        out.push_str("\nthe policy has no targets\n");
    }
    out
}

fn render_target(out: &mut String, t: &TargetStatus, width: usize, now: DateTime<Utc>) {
    let _ = writeln!(
        out,
        "{:<width$}  {}{}",
        t.instance,
        t.resource,
        if t.dry_run { "  (dry-run)" } else { "" }
    );
    if let Some(note) = &t.note {
        row(out, "note", note);
    }
    let capacity = match &t.live {
        Some(l) => {
            let aws = match (l.min, l.max) {
                (Some(min), Some(max)) => format!("on AWS min {min}, max {max}"),
                _ => "on AWS no scalable target (no min/max)".to_string(),
            };
            format!("desired {}, running {} · {aws}", l.desired, l.running)
        }
        None if t.note.is_some() => match &t.record {
            Some(r) => format!(
                "last recorded desired {} (min {}, max {}) at {}",
                r.desired,
                r.min,
                r.max,
                when(r.updated_at, now)
            ),
            None => String::new(),
        },
        None => format!("NOT FOUND on AWS: {} does not exist", t.resource),
    };
    if !capacity.is_empty() {
        row(out, "capacity", &capacity);
    }
    if let Some(b) = &t.bounds {
        row(
            out,
            "bounds",
            &format!("{}..{} now ({})", b.floor, b.ceiling, b.why.join("; ")),
        );
    }
    if !t.cooldowns.is_empty() {
        let parts: Vec<String> = t
            .cooldowns
            .iter()
            .map(|c| {
                let name = if c.direction == Direction::In {
                    "scale-in"
                } else {
                    "scale-out"
                };
                match (&c.after, c.until) {
                    (Some(a), Some(until)) if c.running => format!(
                        "{name} until {}, after {} {} -> {}",
                        when(until, now),
                        a.source,
                        a.from,
                        a.to
                    ),
                    _ => format!("{name} clear"),
                }
            })
            .collect();
        row(out, "cooldown", &parts.join("; "));
    }
    if t.bounds.is_some() {
        let guard = if t.scale_in_guards.is_empty() {
            "none".to_string()
        } else {
            t.scale_in_guards
                .iter()
                .map(|g| {
                    let length = span(Duration::seconds(g.seconds));
                    match g.until {
                        Some(until) if g.running => format!(
                            "{length} ({}): blocks scale-in until {}",
                            g.set_by,
                            when(until, now)
                        ),
                        _ => format!("{length} ({}): clear", g.set_by),
                    }
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        row(out, "guard", &guard);
    }
    if let Some(p) = &t.pause {
        match p.pin {
            Some(n) => row(
                out,
                "pinned",
                &format!("at {n} by {} until {}", p.by, when(p.until, now)),
            ),
            None => row(
                out,
                "paused",
                &format!("by {} until {}", p.by, when(p.until, now)),
            ),
        }
    }
    for c in &t.caps {
        row(
            out,
            "budget",
            &format!(
                "capped by {} (rule {}) until {}",
                c.budget,
                c.rule,
                when(c.until, now)
            ),
        );
    }
    if let Some(p) = &t.pending {
        row(
            out,
            "pending",
            &format!(
                "{} by {}, committed {}; {}",
                change(Some(p.from), Some(p.to)),
                p.source,
                when(p.at, now),
                if p.live_at(now) {
                    format!("in progress until {}", when(p.deadline(), now))
                } else {
                    "left unfinished: the next delivery completes it".to_string()
                }
            ),
        );
    }
    if let Some(e) = &t.last_error {
        row(out, "error", e);
    }
    if t.recent.is_empty() {
        row(out, "actions", "no actions yet");
        return;
    }
    let source_width = t
        .recent
        .iter()
        .map(|e| e.source.chars().count())
        .max()
        .unwrap_or(0);
    let changes: Vec<String> = t.recent.iter().map(|e| change(e.from, e.to)).collect();
    let change_width = changes.iter().map(|c| c.chars().count()).max().unwrap_or(0);
    for (i, (e, c)) in t.recent.iter().zip(&changes).enumerate() {
        let label = if i == 0 { "actions" } else { "" };
        row(
            out,
            label,
            &format!(
                "{}  {:<source_width$}  {c:<change_width$}  {}",
                fmt_time(e.at),
                e.source,
                e.outcome
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const POLICY: &str = r#"
[targets.api]
kind = "ecs"
cluster = "main"
service = "api-service"
floor = 2
ceiling = 20
cooldown = { scale_out = "300s", scale_in = "600s", scale_in_guard = "30m" }

[targets.ai]
kind = "ecs"
cluster = "main"
service = "ai-service"
floor = 2
ceiling = 30
criticality = "non-critical"

[rules.api-cpu-high]
alarm = "api-cpu-high"
target = "api"
action = { add = 1 }
cooldown = "120s"

[budgets.ai-spend-100]
budget = "AI-Monthly"
threshold = 100.0
action = "cap"
"#;

    fn ecs(service: &str) -> Resource {
        Resource::Ecs {
            cluster: "main".into(),
            service: service.into(),
        }
    }

    fn live(desired: u32) -> Live {
        Live {
            desired,
            running: desired,
            min: Some(2),
            max: Some(20),
            managed: true,
        }
    }

    fn gathered(policy: &Policy, now: DateTime<Utc>) -> Gathered {
        let instances = ["ai", "api"]
            .iter()
            .map(|n| Instance {
                name: n.to_string(),
                target: n.to_string(),
                resource: ecs(&format!("{n}-service")),
            })
            .collect();
        let mut state = TargetState::new("api", 3, 2, 20);
        state.history.push(ActionRecord {
            at: now - Duration::seconds(60),
            source: "rule:api-cpu-high".into(),
            from: 2,
            to: 3,
            forced: false,
        });
        let mut record = TargetRecord::new(state, now);
        record.version = 4;
        record.last_error = Some("ecs:UpdateService failed: denied".into());
        let _ = policy;
        Gathered {
            instances,
            unmatched: Vec::new(),
            records: BTreeMap::from([("api".to_string(), record)]),
            global: Global {
                caps: vec![BudgetCap {
                    budget: "AI-Monthly".into(),
                    rule: "ai-spend-100".into(),
                    since: now - Duration::hours(1),
                    until: now + Duration::days(3),
                }],
                events: BTreeMap::new(),
            },
            live: BTreeMap::from([(ecs("api-service"), live(3))]),
            logs: BTreeMap::from([(
                "api".to_string(),
                vec![LogEntry {
                    at: now - Duration::seconds(60),
                    key: "k1".into(),
                    target: "api".into(),
                    source: "rule:api-cpu-high".into(),
                    signal: "alarm api-cpu-high ALARM".into(),
                    outcome: "changed".into(),
                    from: Some(Capacity {
                        desired: 2,
                        min: 2,
                        max: 20,
                    }),
                    to: Some(Capacity {
                        desired: 3,
                        min: 2,
                        max: 20,
                    }),
                    explanation: "+1".into(),
                }],
            )]),
        }
    }

    #[test]
    fn cooldowns_guards_and_caps_follow_the_record_and_the_clock() {
        let policy = capstan_policy::load(POLICY).unwrap();
        let now = at("2026-12-07T10:00:00Z");
        let g = gathered(&policy, now);
        let report = build(&policy, "p.toml", "t", &g, now);
        let api = report.targets.iter().find(|t| t.instance == "api").unwrap();
        // The rule's own 120 s cooldown, not the target's 300 s.
        let out = &api.cooldowns[0];
        assert!(out.running);
        assert_eq!(out.seconds, 120);
        assert_eq!(out.until, Some(at("2026-12-07T10:01:00Z")));
        assert!(!api.cooldowns[1].running);
        assert_eq!(api.scale_in_guards.len(), 1);
        assert_eq!(
            api.scale_in_guards[0].until,
            Some(at("2026-12-07T09:59:00Z") + Duration::minutes(30))
        );
        assert!(api.caps.is_empty(), "api is critical");
        let ai = report.targets.iter().find(|t| t.instance == "ai").unwrap();
        assert_eq!(ai.caps.len(), 1);
        assert_eq!(ai.bounds.as_ref().map(|b| b.ceiling), Some(2));
        assert!(ai.live.is_none());

        // Two minutes later the cooldown is over; the guard still runs.
        let later = build(&policy, "p.toml", "t", &g, now + Duration::minutes(2));
        let api = later.targets.iter().find(|t| t.instance == "api").unwrap();
        assert!(!api.cooldowns[0].running);
        assert!(api.scale_in_guards[0].running);
    }

    #[test]
    fn text_has_one_aligned_block_per_target() {
        let policy = capstan_policy::load(POLICY).unwrap();
        let now = at("2026-12-07T10:00:00Z");
        let text = render(&build(&policy, "p.toml", "t", &gathered(&policy, now), now));
        assert!(
            text.starts_with("capstan status at 2026-12-07 10:00:00Z · table t · policy p.toml\n"),
            "{text}"
        );
        assert!(text.contains("\nai   ecs main/ai-service\n"), "{text}");
        assert!(text.contains("\napi  ecs main/api-service\n"), "{text}");
        assert!(
            text.contains("  capacity  NOT FOUND on AWS: ecs main/ai-service does not exist\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "  cooldown  scale-out until 10:01:00Z (in 1m), after rule:api-cpu-high 2 -> 3; scale-in clear\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  guard     30m (target): blocks scale-in until 10:29:00Z (in 29m)\n"),
            "{text}"
        );
        assert!(
            text.contains("  actions   2026-12-07 09:59:00Z  rule:api-cpu-high  2 -> 3  changed\n"),
            "{text}"
        );
        assert!(
            text.contains("  error     ecs:UpdateService failed: denied\n"),
            "{text}"
        );
        assert!(
            text.contains("  budget    capped by AI-Monthly (rule ai-spend-100) until 2026-12-10 10:00:00Z (in 3d0h)\n"),
            "{text}"
        );
        assert!(text.contains("  actions   no actions yet\n"), "{text}");
    }

    #[test]
    fn a_record_the_policy_no_longer_covers_still_shows() {
        let policy = capstan_policy::load(POLICY).unwrap();
        let now = at("2026-12-07T10:00:00Z");
        let mut g = gathered(&policy, now);
        let old = TargetRecord::new(TargetState::new("gone", 4, 1, 9), now);
        g.records.insert("gone".into(), old);
        let report = build(&policy, "p.toml", "t", &g, now);
        let gone = report.targets.last().unwrap();
        assert_eq!(gone.instance, "gone");
        assert!(render(&report).contains(
            "\ngone  -\n  note      the policy has no target gone; Capstan's record only\n  capacity  last recorded desired 4 (min 1, max 9) at 10:00:00Z (0s ago)\n"
        ));
        assert!(gone
            .note
            .as_deref()
            .unwrap()
            .contains("the policy has no target gone"));
    }

    #[test]
    fn a_selector_that_matches_nothing_says_so() {
        let text = format!(
            "{POLICY}\n[targets.workers]\nkind = \"asg\"\nselector = {{ Role = \"worker\" }}\nfloor = 1\nceiling = 4\n"
        );
        let policy = capstan_policy::load(&text).unwrap();
        let now = at("2026-12-07T10:00:00Z");
        let mut g = gathered(&policy, now);
        g.unmatched.push("workers".into());
        let report = build(&policy, "p.toml", "t", &g, now);
        let workers = report
            .targets
            .iter()
            .find(|t| t.instance == "workers")
            .unwrap();
        assert_eq!(workers.resource, "asg tagged Role=worker");
        assert!(workers.live.is_none());
        let text = render(&report);
        assert!(
            text.contains("\nworkers  asg tagged Role=worker\n  note      no resource on AWS carries the selector's tags\n"),
            "{text}"
        );
    }

    #[test]
    fn spans_are_short() {
        assert_eq!(span(Duration::seconds(45)), "45s");
        assert_eq!(span(Duration::seconds(270)), "4m30s");
        assert_eq!(span(Duration::seconds(300)), "5m");
        assert_eq!(span(Duration::seconds(7500)), "2h5m");
        assert_eq!(span(Duration::hours(76)), "3d4h");
    }
}
