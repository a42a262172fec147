//! The operator's verbs on the command line, through the same runner as Slack's `/capstan`:
//!
//! ```text
//! capstan scale TARGET N|+N|-N|max|min [--force]
//! capstan pause TARGET [DURATION] [pin N] [--force]
//! capstan resume TARGET
//! capstan undo TARGET [--force]
//! capstan lift-cap BUDGET [POLICY]
//! capstan event add NAME START END TARGET=SPEC... [lead DURATION] [no-hold] [release-step N] [exceed-ceiling]
//! capstan event cancel NAME
//! ```
//!
//! (`--policy`, `--table`, `--topic-arn`, `--user`, `--format text|json` on each; `lift-cap`
//! takes its policy as a second argument, as it always has.)
//!
//! The arguments become the command text Slack would carry (a word with spaces quoted), read by
//! the one command parser ([`capstan_policy::command::parse`]); the runner then handles it as
//! the operator command of `cli:<user>` (`--user`, else `$USER`), from no channel, confirmed
//! (the person at the terminal typed it), under an idempotency key of its own: the policy
//! engine decides, the state table records it (with who asked, on the action log), the topic
//! is told and AWS changed. The person at the terminal is the authority: their AWS credentials
//! must allow what the Lambda functions do.
//!
//! Exit codes ([`crate::exit`]): 0 done (every target it concerns changed, or the pause,
//! resume, lifted cap or event is on the record); 1 a finding: nothing was done (refused by the
//! engine, already so, nothing to undo or resume), a target could not be changed (AWS refused
//! or failed), the state table refused to record it, or a policy that does not load; 2
//! trouble, nothing was judged: bad usage (no user, a command the parser refuses, an unknown
//! target or budget), a policy that cannot be read, no region or credentials, AWS or the state
//! table that cannot be reached or read, a runner that asks to be retried (throttled, another
//! attempt at work), a report that cannot be written.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;

use capstan_aws::Notifier;
use capstan_policy::command::{self, Command};
use capstan_policy::signal::{CommandSignal, Signal};
use capstan_policy::state::{BudgetCap, Pause};
use capstan_policy::Policy;
use capstan_runner::{
    Delivery, Report, ResultOutcome, RunError, Runner, SystemClock, TargetResult,
};
use capstan_store::{Global, Store, StoreError, TargetRecord};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::json;

use crate::exit::{self, Failure};
use crate::status::{policy_and_session, table_error};

/// How the verbs print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// What happened, one block per target, then the notices and the verdict.
    #[default]
    Text,
    /// One JSON document: `{ command, user, done, topic, report, ... }` (and what the verb
    /// says: `lifted` and `caps` for lift-cap, `paused`, `resumed`, `added`, `cancelled`).
    Json,
}

/// What every verb is given beside its own arguments.
#[derive(Debug, Clone)]
pub struct Common {
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

/// A verb and its arguments, as the command line gave them.
#[derive(Debug, Clone, PartialEq)]
pub enum Verb {
    /// `scale TARGET N|+N|-N|max|min [--force]`.
    Scale {
        /// The target.
        target: String,
        /// `N`, `+N`, `-N`, `max` or `min`.
        amount: String,
        /// `--force`.
        force: bool,
    },
    /// `pause TARGET [DURATION] [pin N] [--force]`.
    Pause {
        /// The target.
        target: String,
        /// The words after it (`2h`, `for 2h`, `pin 3`).
        words: Vec<String>,
        /// `--force`.
        force: bool,
    },
    /// `resume TARGET`.
    Resume {
        /// The target.
        target: String,
    },
    /// `undo TARGET [--force]`.
    Undo {
        /// The target.
        target: String,
        /// `--force`.
        force: bool,
    },
    /// `lift-cap BUDGET`.
    LiftCap {
        /// The AWS Budgets budget.
        budget: String,
    },
    /// `event add NAME START END TARGET=SPEC... [lead D] [no-hold] [release-step N]
    /// [exceed-ceiling]`.
    EventAdd {
        /// The event's name.
        name: String,
        /// START, END, the targets' uplifts and the options.
        words: Vec<String>,
    },
    /// `event cancel NAME`.
    EventCancel {
        /// The event's name.
        name: String,
    },
}

impl Verb {
    /// The command's words, as typed after `/capstan` (without `--force`: see [`Verb::forced`]).
    fn words(&self) -> Vec<String> {
        match self {
            Verb::Scale { target, amount, .. } => {
                vec!["scale".into(), target.clone(), amount.clone()]
            }
            Verb::Pause { target, words, .. } => {
                let mut w = vec!["pause".to_string(), target.clone()];
                w.extend(words.iter().cloned());
                w
            }
            Verb::Resume { target } => vec!["resume".into(), target.clone()],
            Verb::Undo { target, .. } => vec!["undo".into(), target.clone()],
            Verb::LiftCap { budget } => vec!["lift-cap".into(), budget.trim().to_string()],
            Verb::EventAdd { name, words } => {
                let mut w = vec!["event".to_string(), "add".to_string(), name.clone()];
                w.extend(words.iter().cloned());
                w
            }
            Verb::EventCancel { name } => vec!["event".into(), "cancel".into(), name.clone()],
        }
    }

    /// True with `--force`.
    fn forced(&self) -> bool {
        matches!(
            self,
            Verb::Scale { force: true, .. }
                | Verb::Pause { force: true, .. }
                | Verb::Undo { force: true, .. }
        )
    }

    /// The command text handed to the engine: each word written so that the parser reads it
    /// back as it is, then `--force` (the one word never quoted).
    fn text(&self) -> Result<String, String> {
        let mut text = command_text(&self.words())?;
        if self.forced() {
            text.push_str(" --force");
        }
        Ok(text)
    }

    /// The verb's name in keys and messages.
    fn name(&self) -> &'static str {
        match self {
            Verb::Scale { .. } => "scale",
            Verb::Pause { .. } => "pause",
            Verb::Resume { .. } => "resume",
            Verb::Undo { .. } => "undo",
            Verb::LiftCap { .. } => "lift-cap",
            Verb::EventAdd { .. } => "event-add",
            Verb::EventCancel { .. } => "event-cancel",
        }
    }

    /// What it is doing, for "who is ...?".
    fn doing(&self) -> &'static str {
        match self {
            Verb::Scale { .. } => "scaling",
            Verb::Pause { .. } => "pausing",
            Verb::Resume { .. } => "resuming",
            Verb::Undo { .. } => "undoing",
            Verb::LiftCap { .. } => "lifting the cap",
            Verb::EventAdd { .. } => "adding the event",
            Verb::EventCancel { .. } => "cancelling the event",
        }
    }

    /// What a policy with problems must be fixed to do.
    fn to(&self) -> &'static str {
        match self {
            Verb::Scale { .. } => "scale a target",
            Verb::Pause { .. } => "pause a target",
            Verb::Resume { .. } => "resume a target",
            Verb::Undo { .. } => "undo an action",
            Verb::LiftCap { .. } => "lift a cap",
            Verb::EventAdd { .. } => "add an event",
            Verb::EventCancel { .. } => "cancel an event",
        }
    }
}

/// The command text for `words`: each word written so that the parser reads it back as it is.
fn command_text(words: &[String]) -> Result<String, String> {
    words
        .iter()
        .map(|w| {
            command::quote(w).ok_or_else(|| {
                format!("`{w}` cannot be written as one word of a command (it holds both kinds of quote, or a line break)")
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|w| w.join(" "))
}

/// The table's state around the command: budget caps and run-time events, and the records.
#[derive(Debug, Clone, Default)]
struct Table {
    global: Global,
    records: BTreeMap<String, TargetRecord>,
}

async fn read(store: &Store) -> Result<Table, StoreError> {
    let (global, records) = tokio::join!(store.load_global(), store.all_targets());
    Ok(Table {
        global: global?,
        records: records?,
    })
}

/// What `--format json` prints.
#[derive(Debug, Serialize)]
struct Outcome<'a> {
    /// The command text handed to the engine.
    command: &'a str,
    /// `cli:<user>`.
    user: &'a str,
    /// True when the exit code is 0.
    done: bool,
    /// The topic notifications went to; `null`: none (they were not published).
    topic: Option<&'a str>,
    /// What the verb says it did.
    #[serde(flatten)]
    detail: serde_json::Map<String, serde_json::Value>,
    /// The runner's report: per target, what happened; the notices.
    report: &'a Report,
}

/// Runs a verb (see the module docs for the exit codes).
pub async fn run(common: &Common, verb: &Verb) -> exit::Outcome {
    let Some(user) = common
        .user
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    else {
        return Err(Failure::trouble(format!(
            "who is {}? give --user NAME (or set USER)",
            verb.doing()
        )));
    };
    let who = format!("cli:{user}");
    let text = verb.text().map_err(Failure::trouble)?;
    // The one parser: what it refuses, the engine would refuse too (usage, nothing asked).
    let cmd = command::parse(&text).map_err(|e| Failure::trouble(format!("`{text}`: {e}")))?;
    let source = common.policy.as_str();
    let (policy, session) = policy_and_session(source, verb.to()).await?;
    known_targets(&policy, &cmd)
        .map_err(|e| Failure::trouble(format!("{e}; nothing was changed")))?;

    // The table before: a missing table is found before anything is decided or published.
    let store = Store::new(session.dynamodb.clone(), common.table.clone());
    let before = read(&store)
        .await
        .map_err(|e| Failure::trouble(table_error(&session.endpoints, &common.table, &e)))?;
    if let Verb::LiftCap { budget } = verb {
        let budget = budget.trim();
        if !knows_budget(&policy, budget)
            && in_force(&before.global.caps, budget, Utc::now()).is_empty()
        {
            return Err(Failure::trouble(unknown_budget(&policy, budget)));
        }
    }

    let notifier = common
        .topic_arn
        .as_ref()
        .map(|arn| Notifier::new(session.clients.sns.clone(), arn.clone()));
    // The runner's CloudWatch metric lines are for the Lambda log; here they would only
    // garble the report.
    let runner = Runner::new(
        policy,
        session.pool("operate"),
        store.clone(),
        notifier,
        Arc::new(SystemClock),
    )
    .with_metrics(false);
    let now = runner.now();
    let subject = match &cmd {
        Command::LiftCap { budget } => budget.clone(),
        Command::EventAdd { name, .. } | Command::EventCancel { name } => name.clone(),
        other => other.target().unwrap_or_default().to_string(),
    };
    let delivery = Delivery {
        signal: Signal::Command(CommandSignal {
            user: who.clone(),
            channel: String::new(),
            text: text.clone(),
            confirmed: true,
        }),
        key: format!(
            "cli:{}:{subject}:{}",
            verb.name(),
            now.to_rfc3339_opts(SecondsFormat::Millis, true)
        ),
        at: None,
    };
    let report = runner
        .handle(&delivery)
        .await
        .map_err(|e| run_failure(&text, &e))?;
    let after = read(&store).await.map_err(|e| {
        Failure::trouble(format!(
            "the runner finished, but the table could not be read back to confirm: {}",
            table_error(&session.endpoints, &common.table, &e)
        ))
    })?;

    let judged = judge(&cmd, &who, &before, &after, &report, now);
    let out = match common.format {
        Format::Text => render(&text, &who, &common.topic_arn, &report) + &judged.verdict + ".\n",
        Format::Json => {
            let outcome = Outcome {
                command: &text,
                user: &who,
                done: judged.done,
                topic: common.topic_arn.as_deref(),
                detail: judged.detail,
                report: &report,
            };
            serde_json::to_string_pretty(&outcome).expect("an outcome serializes") + "\n"
        }
    };
    if let Err(e) = std::io::stdout().lock().write_all(out.as_bytes()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(Failure::trouble(format!("cannot write the report: {e}")));
        }
    }
    match (judged.done, common.format) {
        (true, _) => Ok(()),
        // The text report ends with the verdict; JSON's reader gets it on stderr.
        (false, Format::Text) => Err(Failure::finding()),
        (false, Format::Json) => Err(Failure::finding_because(uncapitalize(&judged.verdict))),
    }
}

/// The class of a runner error. The state table refusing for good what had to be recorded
/// (the table was read a moment before, so a missing write permission, as a rule) is the
/// action refused: a finding. Every other error asks for a retry (AWS throttled or failing,
/// another attempt at work, out of time): nothing was judged, so it is trouble.
fn run_failure(text: &str, e: &RunError) -> Failure {
    let line = format!("{text} failed: {e}");
    match e {
        RunError::Denied(_) => Failure::finding_because(line),
        RunError::Transient(_) | RunError::InProgress(_) | RunError::OutOfTime(_) => {
            Failure::trouble(line)
        }
    }
}

/// Every target the command names is one of the policy's.
fn known_targets(policy: &Policy, cmd: &Command) -> Result<(), String> {
    let named: Vec<&str> = match cmd {
        Command::EventAdd { event, .. } => event.targets.keys().map(String::as_str).collect(),
        other => other.target().into_iter().collect(),
    };
    let unknown: Vec<&str> = named
        .into_iter()
        .filter(|t| !policy.targets.contains_key(*t))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let known: Vec<&str> = policy.targets.keys().map(String::as_str).collect();
    Err(format!(
        "the policy has no target {} (its targets: {})",
        unknown.join(", "),
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    ))
}

/// What came of the command, judged on the report and on the table read back.
struct Judged {
    done: bool,
    /// The last line of the text report (capitalized, without its full stop).
    verdict: String,
    detail: serde_json::Map<String, serde_json::Value>,
}

fn object(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// The instances of policy target `target` among `results`.
fn of_target<'a>(results: &'a [TargetResult], target: &str) -> Vec<&'a TargetResult> {
    results
        .iter()
        .filter(|r| r.target == target || r.target.starts_with(&format!("{target}:")))
        .collect()
}

fn judge(
    cmd: &Command,
    who: &str,
    before: &Table,
    after: &Table,
    report: &Report,
    now: DateTime<Utc>,
) -> Judged {
    let failed = report
        .results
        .iter()
        .filter(|r| r.outcome == ResultOutcome::Failed)
        .count();
    let refused: Vec<&TargetResult> = report
        .results
        .iter()
        .filter(|r| {
            matches!(
                r.outcome,
                ResultOutcome::Suppressed | ResultOutcome::Ignored | ResultOutcome::DryRun
            )
        })
        .collect();
    let nothing = |what: &str| Judged {
        done: false,
        verdict: capitalize(&why_not(what, report)),
        detail: serde_json::Map::new(),
    };
    // Something was done: with failures or refusals beside it, the exit code is still 1.
    let partly = |done: String, detail: serde_json::Value| {
        let verdict = if failed > 0 {
            format!("{done}, but {failed} target(s) failed (see above)")
        } else if !refused.is_empty() {
            format!(
                "{done}, but {} target(s) refused (see above)",
                refused.len()
            )
        } else {
            done
        };
        Judged {
            done: failed == 0 && refused.is_empty(),
            verdict,
            detail: object(detail),
        }
    };
    match cmd {
        Command::Scale { target, .. } | Command::Undo { target, .. } => {
            let changed: Vec<&TargetResult> = of_target(&report.results, target)
                .into_iter()
                .filter(|r| r.outcome == ResultOutcome::Changed)
                .collect();
            if changed.is_empty() {
                let mut j = nothing("nothing was changed");
                if failed > 0 {
                    j.verdict = format!("{failed} target(s) failed (see above)");
                }
                return j;
            }
            let lines: Vec<String> = changed
                .iter()
                .map(|r| match (r.from, r.to) {
                    (Some(f), Some(t)) => format!("{} {} -> {}", r.target, f.desired, t.desired),
                    _ => r.target.clone(),
                })
                .collect();
            let verb = if matches!(cmd, Command::Undo { .. }) {
                "Undid the last action of"
            } else {
                "Scaled"
            };
            partly(
                format!("{verb} {}", lines.join(", ")),
                json!({ "target": target, "changed": changed }),
            )
        }
        Command::Pause { target, .. } => {
            let paused: BTreeMap<&String, &Pause> = after
                .records
                .iter()
                .filter(|(_, r)| &r.state.target == target)
                .filter_map(|(name, r)| {
                    let p = r
                        .state
                        .pause
                        .as_ref()
                        .filter(|p| p.until > now && p.by == who)?;
                    let was = before
                        .records
                        .get(name)
                        .and_then(|b| b.state.pause.as_ref());
                    (was != Some(p)).then_some((name, p))
                })
                .collect();
            if paused.is_empty() {
                return nothing("nothing was changed");
            }
            let lines: Vec<String> = paused
                .iter()
                .map(|(name, p)| match p.pin {
                    Some(n) => format!("{name} pinned at {n} until {}", time(p.until)),
                    None => format!("{name} paused until {}", time(p.until)),
                })
                .collect();
            partly(
                capitalize(&lines.join(", ")),
                json!({ "target": target, "paused": paused }),
            )
        }
        Command::Resume { target } => {
            let resumed: Vec<&String> = before
                .records
                .iter()
                .filter(|(_, r)| &r.state.target == target)
                .filter(|(_, r)| r.state.pause.as_ref().is_some_and(|p| p.until > now))
                .filter(|(name, _)| {
                    after
                        .records
                        .get(*name)
                        .is_some_and(|r| r.state.pause.as_ref().is_none_or(|p| p.until <= now))
                })
                .map(|(name, _)| name)
                .collect();
            if resumed.is_empty() {
                return nothing("nothing was changed");
            }
            partly(
                format!(
                    "Resumed {}: automation has it back",
                    resumed
                        .iter()
                        .map(|n| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                json!({ "target": target, "resumed": resumed }),
            )
        }
        Command::LiftCap { budget } => {
            let held = in_force(&before.global.caps, budget, now);
            let lifted = !held.is_empty() && in_force(&after.global.caps, budget, now).is_empty();
            if !lifted {
                let mut j = nothing("nothing was lifted");
                j.detail = object(json!({ "budget": budget, "lifted": false, "caps": [] }));
                return j;
            }
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
            let detail = json!({ "budget": budget, "lifted": true, "caps": held });
            if failed > 0 {
                return Judged {
                    done: false,
                    verdict: format!(
                        "The cap of budget {budget} is lifted, but {failed} target(s) failed (see above)"
                    ),
                    detail: object(detail),
                };
            }
            Judged {
                done: true,
                verdict: lines.join(".\n"),
                detail: object(detail),
            }
        }
        Command::EventAdd { name, event } => {
            let added = after.global.events.get(name) == Some(event)
                && before.global.events.get(name) != Some(event);
            if !added {
                return nothing("nothing was changed");
            }
            partly(
                format!(
                    "Added event {name}: {} to {} on {}",
                    time(event.start.0),
                    time(event.end.0),
                    event.targets.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
                json!({ "event": name, "added": event }),
            )
        }
        Command::EventCancel { name } => {
            let cancelled =
                before.global.events.contains_key(name) && !after.global.events.contains_key(name);
            if !cancelled {
                return nothing("nothing was changed");
            }
            partly(
                format!("Cancelled event {name}"),
                json!({ "event": name, "cancelled": before.global.events[name] }),
            )
        }
        // The command line has no other verbs.
        _ => nothing("nothing was changed"),
    }
}

/// The caps of `budget` in force at `now`.
fn in_force(caps: &[BudgetCap], budget: &str, now: DateTime<Utc>) -> Vec<BudgetCap> {
    caps.iter()
        .filter(|c| c.budget == budget && c.until > now)
        .cloned()
        .collect()
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

/// Why nothing was done, in one line (`what`: "nothing was lifted"): the engine's refusal,
/// else its notices.
fn why_not(what: &str, report: &Report) -> String {
    let refusal = report.results.iter().find(|r| {
        r.reason.is_some() && r.outcome != ResultOutcome::Changed && !r.explanation.is_empty()
    });
    let said = match refusal {
        Some(r) => r.explanation.clone(),
        None if !report.notices.is_empty() => report.notices.join("; "),
        None => "the engine decided nothing".to_string(),
    };
    format!("{what}: {}", said.trim_end())
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// The text report: a header, one block per result, the notices, where they went.
fn render(text: &str, who: &str, topic: &Option<String>, report: &Report) -> String {
    let mut out = format!("{text} by {who} (key {})\n", report.key);
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

fn uncapitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_refusal_of_the_state_table_is_a_finding_a_retry_is_trouble() {
        use crate::exit::Exit;
        let denied = run_failure("scale web 5", &RunError::Denied("AccessDenied".into()));
        assert_eq!(denied.exit(), Exit::Finding);
        assert_eq!(
            denied,
            Failure::finding_because(
                "scale web 5 failed: refused by the state table, a retry fails the same way \
                 until it is fixed: AccessDenied"
            )
        );
        for e in [
            RunError::Transient("throttled".into()),
            RunError::InProgress("k1".into()),
            RunError::OutOfTime("web".into()),
        ] {
            assert_eq!(run_failure("scale web 5", &e).exit(), Exit::Trouble, "{e}");
        }
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
            why_not("nothing was lifted", &refused),
            "nothing was lifted: `lift-cap B` refused: cli:ana may not use `lift-cap` in channel"
        );
        let none = Report {
            notices: vec!["no cap of budget B is in force".to_string()],
            ..Report::default()
        };
        assert_eq!(
            why_not("nothing was lifted", &none),
            "nothing was lifted: no cap of budget B is in force"
        );
    }

    #[test]
    fn the_command_text_is_what_the_parser_reads_back() {
        let verb = Verb::LiftCap {
            budget: "AI Service Monthly".into(),
        };
        let text = verb.text().unwrap();
        assert_eq!(text, "lift-cap \"AI Service Monthly\"");
        assert_eq!(
            command::parse(&text).unwrap(),
            Command::LiftCap {
                budget: "AI Service Monthly".into()
            }
        );
        let verb = Verb::Scale {
            target: "api".into(),
            amount: "-2".into(),
            force: true,
        };
        assert_eq!(verb.text().unwrap(), "scale api -2 --force");
        assert!(matches!(
            command::parse(&verb.text().unwrap()).unwrap(),
            Command::Scale { force: true, .. }
        ));
        let verb = Verb::Pause {
            target: "web".into(),
            words: vec!["30m".into(), "pin".into(), "3".into()],
            force: false,
        };
        assert_eq!(verb.text().unwrap(), "pause web 30m pin 3");
        assert!(command_text(&["it's \"odd\"".to_string()]).is_err());
    }

    #[test]
    fn an_unknown_target_is_named_with_the_known_ones() {
        let p = policy();
        let cmd = command::parse("scale nope 3").unwrap();
        assert_eq!(
            known_targets(&p, &cmd).unwrap_err(),
            "the policy has no target nope (its targets: ai, api, frontend, web)"
        );
        let cmd = command::parse(
            "event add x 2026-12-08T08:00Z 2026-12-08T20:00Z api=floor:5 zz=floor:2",
        )
        .unwrap();
        assert!(known_targets(&p, &cmd)
            .unwrap_err()
            .contains("no target zz"));
        assert!(known_targets(&p, &command::parse("lift-cap B").unwrap()).is_ok());
    }
}
