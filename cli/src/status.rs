//! `capstan status [POLICY] [--table NAME] [--format text|json]`: what Capstan knows of every
//! target, now.
//!
//! For each target instance of the policy (a selector target has one per matching resource),
//! and for each record in the table that no longer belongs to one: the live capacity on AWS
//! (one batched describe), the bounds set on AWS and the effective floor..ceiling now (with
//! what sets them), the cooldowns and scale-in guards (running or clear, until when), a pause or
//! pin, budget caps, the intent in flight (in progress, or left unfinished), the last error, and
//! the newest entries of the action log; then the audit trail: who asked what, from where, with
//! what outcome (operators' commands and refusals, and what concerns no target). It is the
//! runner's view ([`capstan_runner::view`]), the one Slack's `/capstan status` answers with.
//! The same as one JSON document with `--format json`.
//!
//! Exit codes: 0 printed, 1 an AWS or state-table failure, 2 a policy that cannot be read or
//! loaded (its problems are listed like `capstan test` lists them) or a bad `--now`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use capstan_aws::ErrorKind;
use capstan_policy::state::Direction;
use capstan_policy::Policy;
use capstan_runner::view::{self, audit_line, change, fmt_time, span, when};
use capstan_runner::view::{StatusReport, TargetStatus, ViewError};
use capstan_runner::{Runner, SystemClock};
use capstan_store::{Store, StoreError};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde::Serialize;

use crate::init::{Endpoints, Session};

/// How `status` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// One aligned block per target.
    #[default]
    Text,
    /// One JSON document: `{ table, policy, at, dry_run, caps, events, targets: [...], audit:
    /// [...] }`.
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
    let runner = Runner::new(
        policy,
        session.pool("status"),
        store,
        None,
        Arc::new(SystemClock),
    )
    .with_metrics(false);
    let snapshot = match view::gather(&runner).await {
        Ok(s) => s,
        Err(e) => {
            let message = match e {
                ViewError::Table(e) => table_error(&session.endpoints, table, &e),
                ViewError::Aws(e) => session.endpoints.aws_error(&e),
            };
            eprintln!("capstan: {message}");
            return ExitCode::from(1);
        }
    };
    let report = view::build(runner.policy(), &snapshot, now);
    let text = match format {
        Format::Text => render(&report, table, source),
        Format::Json => {
            let printed = Printed {
                table,
                policy: source,
                report: &report,
            };
            serde_json::to_string_pretty(&printed).expect("a status report serializes") + "\n"
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

/// Width of the labels inside a block.
const LABEL: usize = 8;

fn row(out: &mut String, label: &str, value: &str) {
    let _ = writeln!(out, "  {label:<LABEL$}  {value}");
}

/// The text report: a header, one aligned block per target, then the audit trail.
fn render(r: &StatusReport, table: &str, source: &str) -> String {
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
    for t in &r.targets {
        out.push('\n');
        render_target(&mut out, t, width, r.at);
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

fn render_target(out: &mut String, t: &TargetStatus, width: usize, now: DateTime<Utc>) {
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
        let mut line = format!(
            "{}  {:<source_width$}  {c:<change_width$}  {}",
            fmt_time(e.at),
            e.source,
            e.outcome
        );
        if let Some(by) = &e.by {
            // An operator's: who, where, with which verb.
            let _ = write!(line, "  ({}", e.verb.as_deref().unwrap_or("command"));
            let _ = write!(line, " by {by}");
            if let Some(ch) = &e.channel {
                let _ = write!(line, " in {ch}");
            }
            line.push(')');
        }
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
        let text = render(&view::build(&policy, &snapshot(now), now), "t", "p.toml");
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
            text.contains(
                "  actions   2026-12-07 09:59:30Z  command:U1         -       at-ceiling  (scale by U1 in C1)\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("            2026-12-07 09:59:00Z  rule:api-cpu-high  2 -> 3  changed\n"),
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

    #[test]
    fn json_carries_the_table_and_the_policy_beside_the_view() {
        let policy = capstan_policy::load(POLICY).unwrap();
        let now = at("2026-12-07T10:00:00Z");
        let report = view::build(&policy, &snapshot(now), now);
        let doc = serde_json::to_value(Printed {
            table: "t",
            policy: "p.toml",
            report: &report,
        })
        .unwrap();
        assert_eq!(doc["table"], "t");
        assert_eq!(doc["policy"], "p.toml");
        assert_eq!(doc["at"], "2026-12-07T10:00:00Z");
        assert_eq!(doc["targets"][1]["instance"], "api");
        assert_eq!(doc["audit"][0]["verb"], "lift-cap");
        assert_eq!(doc["audit"][1]["channel"], "C1");
    }

    #[test]
    fn no_commands_yet_says_so() {
        let policy = capstan_policy::load(POLICY).unwrap();
        let now = at("2026-12-07T10:00:00Z");
        let text = render(&view::build(&policy, &Snapshot::default(), now), "t", "p");
        assert!(
            text.ends_with("\nthe policy has no targets\n\naudit     no commands yet\n"),
            "{text}"
        );
    }
}
