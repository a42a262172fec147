//! `capstan status [POLICY] [--table NAME] [--format text|json]`: what Capstan knows of every
//! target, now.
//!
//! For each target instance of the policy (a selector target has one per matching resource),
//! and for each record in the table that no longer belongs to one: the live capacity on AWS
//! (one batched describe), the bounds set on AWS and the effective floor..ceiling now (with
//! what sets them), the cooldowns and scale-in guards (running or clear, until when), a pause or
//! pin, budget caps, the intent in flight (in progress, or left unfinished), the last error, the
//! last actions (what was done) and, apart from them, the last suppressions (what was held
//! back, and why); then the audit trail: who asked what, from where, with what outcome
//! (operators' commands and refusals, and what concerns no target). It is the runner's view
//! ([`capstan_runner::view`]), the one Slack's `/capstan status` answers with. The same as one
//! JSON document with `--format json`.
//!
//! Exit codes ([`crate::exit`]): 0 printed; 1 a policy that does not load (its problems are
//! listed like `capstan test` lists them); 2 a policy that cannot be read (the file, or the SSM
//! parameter), a bad `--now`, no region or credentials, AWS or the state table that cannot be
//! reached or read, or a report that cannot be written.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;

use capstan_aws::ErrorKind;
use capstan_policy::engine::NO_TARGET;
use capstan_policy::state::Direction;
use capstan_policy::Policy;
use capstan_runner::view::{self, audit_line, change, fmt_time, span, when};
use capstan_runner::view::{Snapshot, LOG_DEPTH};
use capstan_runner::view::{StatusReport, TargetStatus, ViewError};
use capstan_runner::{Runner, SystemClock};
use capstan_store::{LogEntry, Store, StoreError};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::exit::{Failure, Outcome};
use crate::init::{Endpoints, Session};

/// How `status` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// One aligned block per target.
    #[default]
    Text,
    /// One JSON document: `{ table, policy, at, dry_run, caps, events, targets: [...], audit:
    /// [...] }`; each target has the view's `recent` (its newest log entries, of any kind) and
    /// `actions` and `suppressions` apart.
    Json,
}

/// How many actions each target shows: as many as the view's `recent` holds.
const ACTIONS: usize = view::RECENT;
/// How many suppressions each target shows, apart from its actions.
const SUPPRESSIONS: usize = 3;
/// How far back into a target's log `status` reads when the view's [`LOG_DEPTH`] entries hold
/// too few of either: an alarm held back every minute by a cooldown fills the newest entries
/// with suppressions, and the action before them must still be shown.
const DEEP_LOG: usize = 100;

/// Runs the subcommand (see the module docs for the exit codes).
pub async fn run(source: &str, table: &str, format: Format, now: Option<&str>) -> Outcome {
    let now = match now {
        None => Utc::now().trunc_subsecs(0),
        Some(text) => DateTime::parse_from_rfc3339(text.trim())
            .map_err(|e| {
                Failure::trouble(format!(
                    "--now `{text}` is not an RFC 3339 time such as 2026-12-07T10:00:00Z ({e})"
                ))
            })?
            .with_timezone(&Utc),
    };
    // A policy file is checked before any AWS call: a typo costs no round trip.
    let (policy, session) = policy_and_session(source, "see the status").await?;
    let store = Store::new(session.dynamodb.clone(), table);
    let runner = Runner::new(
        policy,
        session.pool("status"),
        store.clone(),
        None,
        Arc::new(SystemClock),
    )
    .with_metrics(false);
    // Nothing is judged without the view: every failure to read it is trouble.
    let trouble = |e: ViewError| {
        Failure::trouble(match e {
            ViewError::Table(e) => table_error(&session.endpoints, table, &e),
            ViewError::Aws(e) => session.endpoints.aws_error(&e),
        })
    };
    let mut snapshot = view::gather(&runner).await.map_err(trouble)?;
    let deepened = deepen(&store, &mut snapshot)
        .await
        .map_err(|e| trouble(e.into()))?;
    let report = view::build(runner.policy(), &snapshot, now);
    let logs = split_logs(&snapshot, &deepened);
    let text = match format {
        Format::Text => render(&report, &logs, table, source),
        Format::Json => {
            let printed = Printed {
                table,
                policy: source,
                report: &report,
            };
            serde_json::to_string_pretty(&json(&printed, &logs)).expect("JSON prints") + "\n"
        }
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => Ok(()),
        // `capstan status | head`: the reader has what it wanted.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::trouble(format!("cannot write the status: {e}"))),
    }
}

/// Reads the policy named on the command line before any AWS call, so that a typo costs no
/// round trip: a file's text, checked (`None` for `ssm:<name>`, read later by
/// [`fetch_policy`]). A file that cannot be read is trouble; one with problems prints them and
/// is a finding. `to` says what the fixed policy is for ("see the status").
pub(crate) fn read_policy(source: &str, to: &str) -> Result<Option<String>, Failure> {
    if source.starts_with("ssm:") {
        return Ok(None);
    }
    let text = std::fs::read_to_string(source).map_err(|e| {
        Failure::trouble(format!(
            "cannot read the policy {source}: {e} (give its path, or set CAPSTAN_POLICY)"
        ))
    })?;
    load(source, &text, to)?;
    Ok(Some(text))
}

/// The policy: the text [`read_policy`] read, or the SSM parameter's (trouble when it cannot
/// be fetched, like a file that cannot be read; a finding when it has problems).
pub(crate) async fn fetch_policy(
    source: &str,
    file_text: Option<String>,
    session: &Session,
    to: &str,
) -> Result<Policy, Failure> {
    let text = match (file_text, source.strip_prefix("ssm:")) {
        (Some(text), _) => text,
        (None, Some(name)) => capstan_aws::fetch_parameter(&session.clients, name)
            .await
            .map_err(|e| Failure::trouble(session.endpoints.aws_error(&e)))?,
        (None, None) => unreachable!("a policy that is not in SSM was read from its file"),
    };
    load(source, &text, to)
}

/// The policy, checked before any AWS call when it is a file ([`read_policy`]), and an AWS
/// session: what every AWS subcommand starts with. A finding for a policy with problems;
/// trouble for one that cannot be read, no region, or an SSM parameter that cannot be fetched;
/// `to` says what the policy is for.
pub(crate) async fn policy_and_session(
    source: &str,
    to: &str,
) -> Result<(Policy, Session), Failure> {
    let file_text = read_policy(source, to)?;
    let session = Session::connect().await.map_err(Failure::trouble)?;
    let policy = fetch_policy(source, file_text, &session, to).await?;
    Ok((policy, session))
}

/// Loads the policy; on problems prints them (`FILE:LINE:COL: message`, then what they stop)
/// and gives a finding, as `validate` and `test` do for the same policy.
fn load(source: &str, text: &str, to: &str) -> Result<Policy, Failure> {
    capstan_policy::load(text).map_err(|e| {
        eprint!("{}", crate::diagnostics::render(source, &e));
        eprintln!("{source}: {e}; fix the policy to {to}");
        Failure::finding()
    })
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

/// What `--format json` prints: the view, with the table and the policy it was read from.
#[derive(Debug, Serialize)]
struct Printed<'a> {
    table: &'a str,
    policy: &'a str,
    #[serde(flatten)]
    report: &'a StatusReport,
}

/// The view as JSON, each target with its [`Split`] beside the view's own fields (added to the
/// document rather than declared, so that a field the view gains is printed too).
fn json(printed: &Printed<'_>, logs: &BTreeMap<String, Split>) -> Value {
    let mut doc = serde_json::to_value(printed).expect("a status report serializes");
    let none = Split::default();
    if let Some(targets) = doc.get_mut("targets").and_then(Value::as_array_mut) {
        for t in targets.iter_mut().filter_map(Value::as_object_mut) {
            let split = t
                .get("instance")
                .and_then(Value::as_str)
                .and_then(|i| logs.get(i))
                .unwrap_or(&none);
            let list = |l: &[LogEntry]| serde_json::to_value(l).expect("log entries serialize");
            t.insert("actions".to_string(), list(&split.actions));
            t.insert("suppressions".to_string(), list(&split.suppressions));
        }
    }
    doc
}

/// A target's log, told apart: what was done, and what was held back.
#[derive(Debug, Clone, Default, PartialEq)]
struct Split {
    /// The newest [`ACTIONS`] entries that did something, newest first.
    actions: Vec<LogEntry>,
    /// The newest [`SUPPRESSIONS`] entries that held something back, newest first.
    suppressions: Vec<LogEntry>,
    /// How many entries were looked through, when that was all of them that were read and
    /// fewer actions than [`ACTIONS`] were among them: older ones may be further back.
    cut_at: Option<usize>,
}

/// True when the entry is something done: a change of capacity or bounds (`changed`), or an
/// operator's pause, pin or resume. Everything else on a target's log was held back, its
/// outcome the engine's reason (`cooldown`, `at-ceiling`, `dry-run`...). A pause holds signals
/// back with the reason `paused` too, but never the verb `pause` itself: the verb tells them
/// apart.
fn is_action(e: &LogEntry) -> bool {
    match e.outcome.as_str() {
        "changed" => true,
        "paused" | "pinned" | "resumed" => matches!(e.verb.as_deref(), Some("pause" | "resume")),
        _ => false,
    }
}

/// True for a log outcome that held a wanted change back.
fn is_hold(outcome: &str) -> bool {
    capstan_policy::decision::HOLD_CODES.contains(&outcome) || outcome == "dry-run"
}

/// Splits a log (newest first) into its [`Split`]; `read` is how many entries were asked for.
fn split(log: &[LogEntry], read: usize) -> Split {
    let (actions, others): (Vec<&LogEntry>, Vec<&LogEntry>) =
        log.iter().partition(|e| is_action(e));
    // Held back means a change was wanted (the engine's HOLD_CODES, or a dry run's "would"):
    // a tick with nothing to do (`already-right`) or a refused command held nothing.
    let suppressions: Vec<&LogEntry> = others.into_iter().filter(|e| is_hold(&e.outcome)).collect();
    Split {
        cut_at: (log.len() >= read && actions.len() < ACTIONS).then_some(log.len()),
        actions: actions.into_iter().take(ACTIONS).cloned().collect(),
        suppressions: suppressions
            .into_iter()
            .take(SUPPRESSIONS)
            .cloned()
            .collect(),
    }
}

/// The [`Split`] of every target's log in the snapshot (not of `*`, which is no target's);
/// `deepened`: the scopes [`deepen`] read [`DEEP_LOG`] entries of.
fn split_logs(snapshot: &Snapshot, deepened: &BTreeSet<String>) -> BTreeMap<String, Split> {
    snapshot
        .logs
        .iter()
        .filter(|(scope, _)| scope.as_str() != NO_TARGET)
        .map(|(scope, log)| {
            let read = if deepened.contains(scope) {
                DEEP_LOG
            } else {
                LOG_DEPTH
            };
            (scope.clone(), split(log, read))
        })
        .collect()
}

/// Reads [`DEEP_LOG`] entries of every target whose [`LOG_DEPTH`] entries (all the view read)
/// hold fewer than [`ACTIONS`] actions or [`SUPPRESSIONS`] suppressions, since only then can
/// there be more of either further back; gives the scopes it read. Most targets need no second
/// read.
async fn deepen(store: &Store, snapshot: &mut Snapshot) -> Result<BTreeSet<String>, StoreError> {
    let scopes: BTreeSet<String> = snapshot
        .logs
        .iter()
        .filter(|(scope, log)| {
            let s = split(log, LOG_DEPTH);
            scope.as_str() != NO_TARGET
                && log.len() >= LOG_DEPTH
                && (s.actions.len() < ACTIONS || s.suppressions.len() < SUPPRESSIONS)
        })
        .map(|(scope, _)| scope.clone())
        .collect();
    let mut reads = tokio::task::JoinSet::new();
    for scope in scopes.iter().cloned() {
        let store = store.clone();
        reads.spawn(async move {
            let log = store.recent_log(&scope, DEEP_LOG as i32).await;
            (scope, log)
        });
    }
    while let Some(done) = reads.join_next().await {
        let (scope, log) = done.expect("a log read does not panic");
        snapshot.logs.insert(scope, log?);
    }
    Ok(scopes)
}

/// Width of the labels inside a block.
const LABEL: usize = 8;

fn row(out: &mut String, label: &str, value: &str) {
    let _ = writeln!(out, "  {label:<LABEL$}  {value}");
}

/// The text report: a header, one aligned block per target (`logs`: each one's actions and
/// suppressions), then the audit trail.
fn render(r: &StatusReport, logs: &BTreeMap<String, Split>, table: &str, source: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "capstan status at {} · table {table} · policy {source}",
        fmt_time(r.at),
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
    for (name, e) in &r.events {
        let _ = writeln!(
            out,
            "run-time event {name}: {} to {} on {}",
            fmt_time(e.start.0),
            fmt_time(e.end.0),
            e.targets.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let width = r
        .targets
        .iter()
        .map(|t| t.instance.chars().count())
        .max()
        .unwrap_or(0);
    let none = Split::default();
    for t in &r.targets {
        out.push('\n');
        let split = logs.get(&t.instance).unwrap_or(&none);
        render_target(&mut out, t, split, width, r.at);
    }
    if r.targets.is_empty() {
        out.push_str("\nthe policy has no targets\n");
    }
    out.push('\n');
    if r.audit.is_empty() {
        out.push_str("audit     no commands yet\n");
    }
    for (i, e) in r.audit.iter().enumerate() {
        let label = if i == 0 { "audit" } else { "" };
        let _ = writeln!(out, "{label:<LABEL$}  {}", audit_line(e));
    }
    out
}

fn render_target(
    out: &mut String,
    t: &TargetStatus,
    split: &Split,
    width: usize,
    now: DateTime<Utc>,
) {
    let _ = writeln!(
        out,
        "{:<width$}  {}{}",
        t.instance,
        t.resource,
        if t.dry_run { "  (dry-run)" } else { "" }
    );
    row(out, "account", &t.account);
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
        row(out, "pending", &p.describe(now));
        if let Some(call) = &p.call {
            row(out, "", &format!("on AWS: {call}"));
        }
    }
    if let Some(e) = &t.last_error {
        row(out, "error", e);
    }
    render_actions(out, split);
    render_suppressions(out, split);
}

/// ` (scale by U1 in C1)` for an operator's entry: who, where, with which verb; else nothing.
fn asked_by(e: &LogEntry) -> String {
    let Some(by) = &e.by else {
        return String::new();
    };
    let mut text = format!("  ({} by {by}", e.verb.as_deref().unwrap_or("command"));
    if let Some(ch) = &e.channel {
        let _ = write!(text, " in {ch}");
    }
    text.push(')');
    text
}

/// The `actions` rows: when, who, before -> after, the outcome; `no actions yet` without any.
fn render_actions(out: &mut String, split: &Split) {
    let actions = &split.actions;
    if actions.is_empty() {
        let none = match split.cut_at {
            Some(n) => format!("none in the newest {n} log entries"),
            None => "no actions yet".to_string(),
        };
        row(out, "actions", &none);
        return;
    }
    let source_width = actions
        .iter()
        .map(|e| e.source.chars().count())
        .max()
        .unwrap_or(0);
    let changes: Vec<String> = actions.iter().map(|e| change(e.from, e.to)).collect();
    let change_width = changes.iter().map(|c| c.chars().count()).max().unwrap_or(0);
    for (i, (e, c)) in actions.iter().zip(&changes).enumerate() {
        let label = if i == 0 { "actions" } else { "" };
        let line = format!(
            "{}  {:<source_width$}  {c:<change_width$}  {}{}",
            fmt_time(e.at),
            e.source,
            e.outcome,
            asked_by(e)
        );
        row(out, label, line.trim_end());
    }
}

/// The `held` rows, apart from the actions: when, who, the reason and the engine's words;
/// none when nothing was held back.
fn render_suppressions(out: &mut String, split: &Split) {
    let held = &split.suppressions;
    let source_width = held
        .iter()
        .map(|e| e.source.chars().count())
        .max()
        .unwrap_or(0);
    for (i, e) in held.iter().enumerate() {
        let label = if i == 0 { "held" } else { "" };
        let mut why = e.outcome.clone();
        if !e.explanation.is_empty() {
            let _ = write!(why, ": {}", e.explanation.trim_end());
        }
        let line = format!(
            "{}  {:<source_width$}  {why}{}",
            fmt_time(e.at),
            e.source,
            asked_by(e)
        );
        row(out, label, line.trim_end());
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use capstan_aws::{Live, Resource};
    use capstan_policy::decision::Capacity;
    use capstan_policy::state::{ActionRecord, BudgetCap, TargetState};
    use capstan_runner::view::Snapshot;
    use capstan_runner::Instance;
    use capstan_store::{Global, LogEntry, TargetRecord};

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
        Resource::ecs("main", service)
    }

    fn capacity(desired: u32) -> Capacity {
        Capacity {
            desired,
            min: 2,
            max: 20,
        }
    }

    fn snapshot(now: DateTime<Utc>) -> Snapshot {
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
        let alarm = LogEntry {
            at: now - Duration::seconds(60),
            key: "k1".into(),
            target: "api".into(),
            source: "rule:api-cpu-high".into(),
            signal: "alarm api-cpu-high ALARM".into(),
            outcome: "changed".into(),
            from: Some(capacity(2)),
            to: Some(capacity(3)),
            explanation: "+1".into(),
            ..LogEntry::default()
        };
        let refused = LogEntry {
            at: now - Duration::seconds(30),
            key: "slack:r1".into(),
            target: "api".into(),
            source: "command:U1".into(),
            signal: "command `scale api 30` from U1".into(),
            outcome: "at-ceiling".into(),
            explanation: "`scale api 30` by U1: 30 is above the ceiling 20".into(),
            by: Some("U1".into()),
            channel: Some("C1".into()),
            verb: Some("scale".into()),
            ..LogEntry::default()
        };
        let star = LogEntry {
            at: now - Duration::seconds(10),
            key: "slack:r2".into(),
            target: "*".into(),
            source: "command:U2".into(),
            signal: "command `lift-cap AI-Monthly` from U2".into(),
            outcome: "not-allowed".into(),
            explanation: "`lift-cap AI-Monthly` refused: U2 may not use `lift-cap`".into(),
            by: Some("U2".into()),
            channel: Some("C1".into()),
            verb: Some("lift-cap".into()),
            ..LogEntry::default()
        };
        Snapshot {
            instances,
            unmatched: Vec::new(),
            unreachable: BTreeMap::new(),
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
            live: BTreeMap::from([(
                ecs("api-service"),
                Live {
                    desired: 3,
                    running: 3,
                    min: Some(2),
                    max: Some(20),
                    managed: true,
                },
            )]),
            logs: BTreeMap::from([
                ("api".to_string(), vec![refused, alarm]),
                ("*".to_string(), vec![star]),
            ]),
        }
    }

    #[test]
    fn text_has_one_aligned_block_per_target_then_the_audit_trail() {
        let policy = capstan_policy::load(POLICY).unwrap();
        let now = at("2026-12-07T10:00:00Z");
        let text = text_of(&policy, &snapshot(now), now);
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
        // The refusal is held back, apart from the one action, though it is newer.
        assert!(
            text.contains(
                "  actions   2026-12-07 09:59:00Z  rule:api-cpu-high  2 -> 3  changed\n  held      "
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "  held      2026-12-07 09:59:30Z  command:U1  at-ceiling: `scale api 30` by U1: 30 \
                 is above the ceiling 20  (scale by U1 in C1)\n"
            ),
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
        assert!(
            text.ends_with(
                "\n\naudit     2026-12-07 09:59:50Z  U2 in C1  lift-cap *  -  not-allowed: `lift-cap AI-Monthly` refused: U2 may not use `lift-cap`\n          2026-12-07 09:59:30Z  U1 in C1  scale api  -  at-ceiling: `scale api 30` by U1: 30 is above the ceiling 20\n"
            ),
            "{text}"
        );
    }

    /// The text report of `snapshot`, as `run` prints it.
    fn text_of(policy: &Policy, snapshot: &Snapshot, now: DateTime<Utc>) -> String {
        let logs = split_logs(snapshot, &BTreeSet::new());
        render(&view::build(policy, snapshot, now), &logs, "t", "p.toml")
    }

    #[test]
    fn json_carries_the_table_and_the_policy_beside_the_view() {
        let policy = capstan_policy::load(POLICY).unwrap();
        let now = at("2026-12-07T10:00:00Z");
        let snapshot = snapshot(now);
        let report = view::build(&policy, &snapshot, now);
        let printed = Printed {
            table: "t",
            policy: "p.toml",
            report: &report,
        };
        let doc = json(&printed, &split_logs(&snapshot, &BTreeSet::new()));
        assert_eq!(doc["table"], "t");
        assert_eq!(doc["policy"], "p.toml");
        assert_eq!(doc["at"], "2026-12-07T10:00:00Z");
        assert_eq!(doc["targets"][1]["instance"], "api");
        assert_eq!(doc["audit"][0]["verb"], "lift-cap");
        assert_eq!(doc["audit"][1]["channel"], "C1");
        // The view's own fields are all there, `recent` as it was (both entries, newest first).
        assert_eq!(
            doc["targets"][1]["recent"],
            serde_json::to_value(&report.targets[1].recent).unwrap()
        );
        assert_eq!(doc["targets"][1]["recent"][0]["outcome"], "at-ceiling");
        // Beside it, the action and the suppression apart.
        let api = &doc["targets"][1];
        assert_eq!(api["actions"].as_array().unwrap().len(), 1, "{api}");
        assert_eq!(api["actions"][0]["outcome"], "changed");
        assert_eq!(api["suppressions"].as_array().unwrap().len(), 1, "{api}");
        assert_eq!(api["suppressions"][0]["outcome"], "at-ceiling");
        assert_eq!(api["suppressions"][0]["by"], "U1");
        // A target without a log has both, empty.
        assert_eq!(doc["targets"][0]["instance"], "ai");
        assert_eq!(doc["targets"][0]["actions"], serde_json::json!([]));
        assert_eq!(doc["targets"][0]["suppressions"], serde_json::json!([]));
    }

    fn entry(ago: i64, outcome: &str, verb: Option<&str>) -> LogEntry {
        let now = at("2026-12-07T10:00:00Z");
        LogEntry {
            at: now - Duration::minutes(ago),
            key: format!("k{ago}"),
            target: "api".into(),
            source: "rule:api-cpu-high".into(),
            outcome: outcome.into(),
            verb: verb.map(str::to_string),
            by: verb.map(|_| "cli:ana".to_string()),
            ..LogEntry::default()
        }
    }

    #[test]
    fn changes_and_an_operators_pause_pin_or_resume_are_actions_the_rest_held_back() {
        assert!(is_action(&entry(1, "changed", None)));
        assert!(is_action(&entry(1, "changed", Some("scale"))));
        assert!(is_action(&entry(1, "paused", Some("pause"))));
        assert!(is_action(&entry(1, "pinned", Some("pause"))));
        assert!(is_action(&entry(1, "resumed", Some("resume"))));
        // A signal a pause held back says `paused` too: an alarm's, or another verb's.
        assert!(!is_action(&entry(1, "paused", None)));
        assert!(!is_action(&entry(1, "paused", Some("lift-cap"))));
        for reason in [
            "cooldown",
            "at-ceiling",
            "dry-run",
            "rate-limit",
            "already-right",
        ] {
            assert!(!is_action(&entry(1, reason, None)), "{reason}");
        }
    }

    #[test]
    fn only_a_wanted_change_held_back_is_listed_as_held() {
        let log: Vec<LogEntry> = ["already-right", "not-allowed", "cooldown", "dry-run"]
            .iter()
            .enumerate()
            .map(|(i, o)| entry(i as i64, o, None))
            .collect();
        let s = split(&log, LOG_DEPTH);
        let held: Vec<&str> = s.suppressions.iter().map(|e| e.outcome.as_str()).collect();
        assert_eq!(held, ["cooldown", "dry-run"]);
        assert!(s.actions.is_empty());
    }

    #[test]
    fn each_list_has_its_own_limit_and_keeps_the_newest() {
        // Newest first: five suppressions, then four actions, interleaved.
        let log: Vec<LogEntry> = [
            "cooldown",
            "changed",
            "cooldown",
            "cooldown",
            "changed",
            "at-ceiling",
            "changed",
            "cooldown",
            "changed",
        ]
        .iter()
        .enumerate()
        .map(|(i, o)| entry(i as i64, o, None))
        .collect();
        let s = split(&log, LOG_DEPTH);
        let ago = |l: &[LogEntry]| -> Vec<String> { l.iter().map(|e| e.key.clone()).collect() };
        assert_eq!(ago(&s.actions), ["k1", "k4", "k6"]);
        assert_eq!(ago(&s.suppressions), ["k0", "k2", "k3"]);
        assert_eq!(s.cut_at, None);
    }

    #[test]
    fn a_log_full_of_suppressions_says_how_far_it_looked() {
        let log: Vec<LogEntry> = (0..LOG_DEPTH as i64)
            .map(|i| entry(i, "cooldown", None))
            .collect();
        let s = split(&log, LOG_DEPTH);
        assert!(s.actions.is_empty());
        assert_eq!(s.suppressions.len(), SUPPRESSIONS);
        assert_eq!(s.cut_at, Some(LOG_DEPTH));
        let mut out = String::new();
        render_actions(&mut out, &s);
        assert_eq!(out, "  actions   none in the newest 10 log entries\n");
        // Fewer entries than were asked for: that is the whole log.
        let s = split(&log[..4], LOG_DEPTH);
        assert_eq!(s.cut_at, None);
        let mut out = String::new();
        render_actions(&mut out, &s);
        assert_eq!(out, "  actions   no actions yet\n");
    }

    #[test]
    fn the_star_scope_is_no_targets_log() {
        let now = at("2026-12-07T10:00:00Z");
        let logs = split_logs(&snapshot(now), &BTreeSet::new());
        assert!(logs.contains_key("api"));
        assert!(!logs.contains_key(NO_TARGET), "{logs:?}");
    }

    #[test]
    fn no_commands_yet_says_so() {
        let policy = capstan_policy::load(POLICY).unwrap();
        let now = at("2026-12-07T10:00:00Z");
        let text = render(
            &view::build(&policy, &Snapshot::default(), now),
            &BTreeMap::new(),
            "t",
            "p",
        );
        assert!(
            text.ends_with("\nthe policy has no targets\n\naudit     no commands yet\n"),
            "{text}"
        );
    }
}
