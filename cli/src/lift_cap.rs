//! `capstan lift-cap BUDGET [POLICY] [--table T] [--topic-arn ARN] [--user NAME]
//! [--format text|json]`: lifts a budget cap before its period resets.
//!
//! The request goes through the same runner as the Lambda functions, as the operator command
//! `lift-cap BUDGET` from `cli:<user>`: the policy engine decides (a cap must be in force), the
//! state table records it (the cap is removed, the targets' records and action log written,
//! under an idempotency key of its own), the topic is told, and the targets get their bounds back
//! on AWS. The person at the terminal is the authority: their AWS credentials must allow what
//! the Lambda functions do.
//!
//! Exit codes: 0 the cap was lifted and every target it held took its bounds back; 1 nothing was
//! lifted (no cap of the budget is in force, or the engine refused), a target could not be
//! changed, or an AWS or state-table failure; 2 a policy that cannot be read or loaded, an
//! unknown budget, or bad usage.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use capstan_function::Config;
use capstan_policy::signal::{CommandSignal, Signal};
use capstan_policy::state::BudgetCap;
use capstan_policy::Policy;
use capstan_runner::{Delivery, Report, ResultOutcome, SystemClock};
use capstan_store::Store;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::status::{policy_and_session, table_error};

/// How `lift-cap` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// What happened, one block per target, then the notices and the verdict.
    #[default]
    Text,
    /// One JSON document: `{ budget, user, lifted, caps, topic, report }`.
    Json,
}

/// What the command line asked for.
#[derive(Debug, Clone)]
pub struct Request {
    /// The AWS Budgets budget whose cap to lift.
    pub budget: String,
    /// The policy: a file path or `ssm:<parameter name>`.
    pub policy: String,
    /// The state table.
    pub table: String,
    /// The SNS topic people are told through (none: not published).
    pub topic_arn: Option<String>,
    /// Who asks (`--user`, else `$USER`).
    pub user: Option<String>,
    /// How to print.
    pub format: Format,
}

/// What `--format json` prints.
#[derive(Debug, Serialize)]
struct Outcome<'a> {
    budget: &'a str,
    /// `cli:<user>`.
    user: &'a str,
    /// True when a cap of the budget was in force before and is gone now.
    lifted: bool,
    /// The caps of the budget that were in force and were lifted.
    caps: &'a [BudgetCap],
    /// The topic notifications went to; `null`: none (they were not published).
    topic: Option<&'a str>,
    /// The runner's report: per target, what happened; the notices.
    report: &'a Report,
}

/// Runs the subcommand (see the module docs for the exit codes).
pub async fn run(request: &Request) -> ExitCode {
    let Some(user) = request
        .user
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    else {
        eprintln!("capstan: who is lifting the cap? give --user NAME (or set USER)");
        return ExitCode::from(2);
    };
    let budget = request.budget.trim();
    if budget.split_whitespace().count() != 1 {
        eprintln!(
            "capstan: `{budget}` is not a budget name Capstan's commands can carry (one word, no \
             spaces)"
        );
        return ExitCode::from(2);
    }
    let who = format!("cli:{user}");
    let source = request.policy.as_str();
    let (policy, session) = match policy_and_session(source, "lift a cap").await {
        Ok(both) => both,
        Err(code) => return code,
    };

    // The caps before: a missing table is found before anything is decided or published.
    let store = Store::new(session.dynamodb.clone(), request.table.clone());
    let before = match store.load_global().await {
        Ok(g) => g.caps,
        Err(e) => {
            eprintln!(
                "capstan: {}",
                table_error(&session.endpoints, &request.table, &e)
            );
            return ExitCode::from(1);
        }
    };
    let start = Utc::now();
    let in_force = |caps: &[BudgetCap], now: DateTime<Utc>| -> Vec<BudgetCap> {
        caps.iter()
            .filter(|c| c.budget == budget && c.until > now)
            .cloned()
            .collect()
    };
    let held = in_force(&before, start);
    if !knows_budget(&policy, budget) && held.is_empty() {
        eprintln!("capstan: {}", unknown_budget(&policy, budget));
        return ExitCode::from(2);
    }

    let config = Config {
        policy: request.policy.clone(),
        table: request.table.clone(),
        topic_arn: request.topic_arn.clone(),
        dry_run: false,
        sns_topics: Vec::new(),
    };
    let sdk = capstan_aws::load_config(capstan_aws::Timeouts::default()).await;
    let runner =
        match capstan_function::runner_with_config("cli", &config, &sdk, Arc::new(SystemClock))
            .await
        {
            Ok(r) => r,
            Err(e) => {
                eprintln!("capstan: {e}");
                return ExitCode::from(1);
            }
        };
    let now = runner.now();
    let delivery = Delivery {
        signal: Signal::Command(CommandSignal {
            user: who.clone(),
            channel: String::new(),
            text: format!("lift-cap {budget}"),
            confirmed: true,
        }),
        key: format!(
            "cli:lift-cap:{budget}:{}",
            now.to_rfc3339_opts(SecondsFormat::Millis, true)
        ),
        at: None,
    };
    // The runner's CloudWatch metric lines are for the Lambda log; here they would only
    // garble the report.
    let handled = runner.with_metrics(false).handle(&delivery).await;
    let report = match handled {
        Ok(r) => r,
        Err(e) => {
            eprintln!("capstan: lift-cap {budget} failed: {e}");
            return ExitCode::from(1);
        }
    };
    let after = match store.load_global().await {
        Ok(g) => g.caps,
        Err(e) => {
            eprintln!(
                "capstan: the runner finished, but the caps could not be read back to confirm: {}",
                table_error(&session.endpoints, &request.table, &e)
            );
            return ExitCode::from(1);
        }
    };
    let lifted = !held.is_empty() && in_force(&after, now).is_empty();
    let failed = report
        .results
        .iter()
        .filter(|r| r.outcome == ResultOutcome::Failed)
        .count();

    // The verdict: the last line of the text report; with `--format json`, on stderr when
    // the exit code is not 0.
    let (verdict, code) = if !lifted {
        (capitalize(&why_not(&report)), 1)
    } else if failed > 0 {
        (
            format!(
                "The cap of budget {budget} is lifted, but {failed} target(s) failed (see above)"
            ),
            1,
        )
    } else {
        let lines: Vec<String> = held
            .iter()
            .map(|cap| {
                format!(
                    "Lifted the cap of budget {budget} set by rule {} at {}; it would have held \
                     until {}",
                    cap.rule,
                    time(cap.since),
                    time(cap.until)
                )
            })
            .collect();
        (lines.join(".\n"), 0)
    };
    let text = match request.format {
        Format::Text => render(budget, &who, &request.topic_arn, &report) + &verdict + ".\n",
        Format::Json => {
            let outcome = Outcome {
                budget,
                user: &who,
                lifted,
                caps: if lifted { &held } else { &[] },
                topic: request.topic_arn.as_deref(),
                report: &report,
            };
            serde_json::to_string_pretty(&outcome).expect("a lift-cap outcome serializes") + "\n"
        }
    };
    if let Err(e) = std::io::stdout().lock().write_all(text.as_bytes()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("capstan: cannot write the report: {e}");
            return ExitCode::from(1);
        }
    }
    if code != 0 && request.format == Format::Json {
        let mut chars = verdict.chars();
        let first = chars.next().map(|c| c.to_lowercase().to_string());
        eprintln!("capstan: {}{}", first.unwrap_or_default(), chars.as_str());
    }
    ExitCode::from(code)
}

/// True when a budget rule of the policy names `budget`.
fn knows_budget(policy: &Policy, budget: &str) -> bool {
    policy.budgets.values().any(|b| b.budget == budget)
}

/// The error for a budget that neither the policy nor the table knows.
fn unknown_budget(policy: &Policy, budget: &str) -> String {
    let mut known: Vec<&str> = policy.budgets.values().map(|b| b.budget.as_str()).collect();
    known.sort_unstable();
    known.dedup();
    if known.is_empty() {
        format!("the policy has no budget rules, and no cap of budget {budget} is in the table")
    } else {
        format!(
            "the policy has no budget {budget} (its budgets: {}), and no cap of it is in the \
             table; nothing was changed",
            known.join(", ")
        )
    }
}

/// Why nothing was lifted, in one line: the engine's refusal, else its notices.
fn why_not(report: &Report) -> String {
    let refusal = report.results.iter().find(|r| {
        r.reason.is_some() && r.outcome != ResultOutcome::Changed && !r.explanation.is_empty()
    });
    let said = match refusal {
        Some(r) => r.explanation.clone(),
        None if !report.notices.is_empty() => report.notices.join("; "),
        None => "the engine decided nothing".to_string(),
    };
    format!("nothing was lifted: {}", said.trim_end())
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// The text report: a header, one block per result, the notices, where they went.
fn render(budget: &str, who: &str, topic: &Option<String>, report: &Report) -> String {
    let mut out = format!("lift-cap {budget} by {who} (key {})\n", report.key);
    let width = report
        .results
        .iter()
        .map(|r| r.target.len())
        .max()
        .unwrap_or(0);
    for r in &report.results {
        let outcome = match &r.reason {
            Some(reason) if r.outcome != ResultOutcome::Changed => {
                format!("{} ({reason})", r.outcome)
            }
            _ => r.outcome.to_string(),
        };
        let _ = write!(out, "  {:<width$}  {outcome}", r.target);
        match (&r.from, &r.to) {
            (Some(from), Some(to)) => {
                let _ = write!(out, ": {from} -> {to}");
            }
            (None, Some(to)) => {
                let _ = write!(out, ": would be {to}");
            }
            _ => {}
        }
        out.push('\n');
        let pad = " ".repeat(width + 4);
        if !r.explanation.is_empty() {
            let _ = writeln!(out, "{pad}{}", r.explanation);
        }
        if let Some(applied) = &r.applied {
            let _ = writeln!(out, "{pad}on AWS: {applied}");
        }
        if let Some(error) = &r.error {
            let _ = writeln!(out, "{pad}error: {error}");
        }
        if r.notify_failed {
            let _ = writeln!(
                out,
                "{pad}the notification about this could not be published"
            );
        }
    }
    if report.results.is_empty() {
        out.push_str("  no target changes\n");
    }
    for n in &report.notices {
        let _ = writeln!(out, "  notice: {n}");
    }
    match topic {
        Some(arn) if report.notify_failures > 0 => {
            let _ = writeln!(
                out,
                "  {} notification(s) could not be published to {arn}",
                report.notify_failures
            );
        }
        Some(arn) => {
            let _ = writeln!(out, "  notifications to {arn}");
        }
        None => out.push_str(
            "  no topic (--topic-arn, CAPSTAN_TOPIC_ARN): notifications were not published\n",
        ),
    }
    out
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_runner::{ResultOutcome, TargetResult};

    fn policy() -> Policy {
        capstan_policy::load(include_str!("../../capstan.example.toml")).unwrap()
    }

    fn result(
        target: &str,
        outcome: &str,
        reason: Option<&str>,
        explanation: &str,
    ) -> TargetResult {
        let outcome: ResultOutcome =
            serde_json::from_value(serde_json::json!(outcome)).expect("an outcome word");
        let mut r = TargetResult::new(target, "command:cli:ana", outcome);
        r.reason = reason.map(str::to_string);
        r.explanation = explanation.to_string();
        r
    }

    #[test]
    fn an_unknown_budget_lists_the_known_ones() {
        let p = policy();
        assert!(knows_budget(&p, "AI-Service-Monthly"));
        assert!(!knows_budget(&p, "ai-service-monthly"));
        assert_eq!(
            unknown_budget(&p, "Nope"),
            "the policy has no budget Nope (its budgets: AI-Service-Monthly), and no cap of it \
             is in the table; nothing was changed"
        );
    }

    #[test]
    fn why_not_prefers_the_refusal_over_the_notices() {
        let refused = Report {
            results: vec![result(
                "*",
                "ignored",
                Some("not-allowed"),
                "`lift-cap B` refused: cli:ana may not use `lift-cap` in channel ",
            )],
            ..Report::default()
        };
        assert_eq!(
            why_not(&refused),
            "nothing was lifted: `lift-cap B` refused: cli:ana may not use `lift-cap` in channel"
        );
        let none = Report {
            notices: vec!["no cap of budget B is in force".to_string()],
            ..Report::default()
        };
        assert_eq!(
            why_not(&none),
            "nothing was lifted: no cap of budget B is in force"
        );
    }
}
