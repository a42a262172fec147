//! `capstan`: validate, test, explain and simulate a Capstan policy file; create the state
//! table (`init`), show what Capstan knows of each target (`status`), and steer it as an
//! operator does from Slack (`scale`, `pause`, `resume`, `undo`, `lift-cap`, `event add|cancel`).
//!
//! Each subcommand lives in its own module and ends with an [`exit::Outcome`]; `main` only
//! parses arguments and hands the outcome to [`exit::finish`], the one place that turns it into
//! an exit code (0 fine, 1 a finding, 2 trouble: see [`exit::Exit`]), the same for every
//! subcommand. `init`, `status` and the operator's verbs talk to AWS; only they get a Tokio
//! runtime.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::NonEmptyStringValueParser;
use clap::{Args, Parser, Subcommand};

mod chart;
mod diagnostics;
mod exit;
mod explain;
mod iam_resources;
mod init;
mod operate;
mod simulate;
mod status;
mod test_cmd;
mod validate;

/// Capstan: scaling runbooks as policy.
#[derive(Parser)]
#[command(name = "capstan", version, about, after_help = exit::help())]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What the operator's verbs are given beside their own arguments.
#[derive(Args, Debug)]
struct OperateArgs {
    /// The policy file, or `ssm:<parameter name>`.
    #[arg(
        long,
        env = "CAPSTAN_POLICY",
        default_value = "capstan.toml",
        value_parser = NonEmptyStringValueParser::new()
    )]
    policy: String,
    #[command(flatten)]
    table: TableArg,
    /// The SNS topic people are told through; without one nobody is told.
    #[arg(long, env = "CAPSTAN_TOPIC_ARN", value_parser = NonEmptyStringValueParser::new())]
    topic_arn: Option<String>,
    /// Who asks, for the record and the notification (as `cli:NAME`).
    #[arg(long, env = "USER", hide_env_values = true)]
    user: Option<String>,
    /// `text` (what happened per target) or `json`.
    #[arg(long, value_enum, default_value_t = operate::Format::Text)]
    format: operate::Format,
}

impl OperateArgs {
    fn common(self) -> operate::Common {
        operate::Common {
            policy: self.policy,
            table: self.table.table,
            topic_arn: self.topic_arn,
            user: self.user,
            format: self.format,
        }
    }
}

/// `capstan event add|cancel`.
#[derive(Subcommand)]
enum EventCommand {
    /// Add a run-time event: START and END in RFC 3339 with a zone, then each target's uplift
    /// (`api=floor:10,ceiling:+50%`), then `lead DURATION`, `no-hold`, `release-step N`,
    /// `exceed-ceiling` as needed.
    Add {
        /// The event's name (quoted by the CLI as needed).
        name: String,
        /// START END TARGET=SPEC... [lead DURATION] [no-hold] [release-step N] [exceed-ceiling]
        #[arg(required = true, num_args = 1..)]
        words: Vec<String>,
        #[command(flatten)]
        args: OperateArgs,
    },
    /// Cancel a run-time event.
    Cancel {
        /// The event's name.
        name: String,
        #[command(flatten)]
        args: OperateArgs,
    },
}

/// The state table, for the commands that read or create it.
#[derive(Args, Debug)]
struct TableArg {
    /// The state table.
    #[arg(
        long,
        env = "CAPSTAN_TABLE",
        default_value = "capstan-state",
        value_parser = NonEmptyStringValueParser::new()
    )]
    table: String,
}

#[derive(Subcommand)]
enum Command {
    /// Check a policy file and report every problem with its line and column.
    Validate {
        /// The policy file.
        file: PathBuf,
        /// `human` (graphical diagnostics) or `json`.
        #[arg(long, value_enum, default_value_t = validate::Format::Human)]
        format: validate::Format,
    },
    /// Run the tests inside a policy file.
    Test {
        /// The policy file.
        file: PathBuf,
    },
    /// Print the ARNs the policy's targets name, comma-separated: the stack's ScalingResourceArns.
    ///
    /// ECS services and Auto Scaling groups of account --account (the functions') in --region
    /// (unless a target names its own): the value of the template's ScalingResourceArns
    /// parameter, which narrows the scaling grants to exactly these. Targets in other accounts
    /// are noted on stderr; --spoke ACCOUNT prints that account's list (the ScalingResourceArns
    /// of its infra/spoke.yaml stack). Exit 1 when a target there is a
    /// tag selector: it cannot be named in advance, so the grant cannot be narrowed by name.
    IamResources {
        /// The policy file.
        file: PathBuf,
        /// The functions' region (that of a target without `region`).
        #[arg(long, value_parser = NonEmptyStringValueParser::new())]
        region: String,
        /// The functions' (hub) account id.
        #[arg(long, value_parser = NonEmptyStringValueParser::new())]
        account: String,
        /// Print the list of this other account's targets (for its infra/spoke.yaml stack).
        #[arg(long, value_parser = NonEmptyStringValueParser::new())]
        spoke: Option<String>,
    },
    /// Show what holds when over the coming days, and which alarms and budgets act on each target.
    Explain {
        /// The policy file.
        file: PathBuf,
        /// Only this target.
        #[arg(long)]
        target: Option<String>,
        /// How many days ahead.
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// Start from this instant (RFC 3339) instead of now.
        #[arg(long)]
        from: Option<String>,
    },
    /// Replay a timeline and print every decision.
    ///
    /// The timeline is JSON lines, each either a signal, `{"at": RFC3339, "signal": {...}}`, or
    /// a raw AWS payload as the Lambda functions receive it, `{"at"?: RFC3339, "aws": {...}}`:
    /// a CloudWatch alarm (EventBridge, Lambda alarm action or SNS), a schedule request
    /// (EventBridge scheduled rule, or a Scheduler input: tick, apply, add-event, cancel-event)
    /// or an AWS Budgets alert through SNS. `at` defaults to the moment the payload carries (the
    /// alarm's state change, the tick's time, the SNS Timestamp). Blank lines and `#` comments
    /// are skipped; the whole timeline is checked before anything is simulated.
    Simulate {
        /// The policy file.
        file: PathBuf,
        /// The timeline (JSON lines of signals or raw AWS payloads).
        timeline: PathBuf,
        /// Starting state (JSON); default: every target at its floor.
        #[arg(long)]
        state: Option<PathBuf>,
        /// Draw capacity, floor and ceiling per target over time to this SVG file.
        #[arg(long)]
        chart: Option<PathBuf>,
        /// Add a schedule tick every this long (e.g. `5m`) between the first and last entry.
        #[arg(long)]
        tick: Option<String>,
    },
    /// Create Capstan's state table in DynamoDB (idempotent; TTL on `expires_at`).
    Init {
        #[command(flatten)]
        table: TableArg,
    },
    /// Show every target: live capacity, bounds now, cooldowns, pauses, caps, the last actions
    /// and, apart from them, the last suppressions.
    Status {
        /// The policy file, or `ssm:<parameter name>`.
        #[arg(
            env = "CAPSTAN_POLICY",
            default_value = "capstan.toml",
            value_parser = NonEmptyStringValueParser::new()
        )]
        policy: String,
        #[command(flatten)]
        table: TableArg,
        /// `text` (one block per target) or `json`.
        #[arg(long, value_enum, default_value_t = status::Format::Text)]
        format: status::Format,
        /// Report as of this instant (RFC 3339) instead of now; for tests.
        #[arg(long, hide = true)]
        now: Option<String>,
    },
    /// Lift a budget cap before its period resets.
    ///
    /// Goes the way of the Lambda functions: the policy engine decides (as the operator command
    /// `lift-cap BUDGET` from `cli:USER`), the state table records it, the topic is told, and
    /// the targets the cap held get their bounds back on AWS. Exit 0 lifted; 1 nothing lifted
    /// (no cap in force, or refused), a target failed, or a policy that does not load; 2 an
    /// unknown budget, bad usage, or AWS or the state table unreachable.
    LiftCap {
        /// The AWS Budgets budget whose cap to lift (e.g. `AI-Service-Monthly`; one with spaces
        /// is quoted for the engine).
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        budget: String,
        /// The policy file, or `ssm:<parameter name>`.
        #[arg(
            env = "CAPSTAN_POLICY",
            default_value = "capstan.toml",
            value_parser = NonEmptyStringValueParser::new()
        )]
        policy: String,
        #[command(flatten)]
        table: TableArg,
        /// The SNS topic people are told through; without one nobody is told.
        #[arg(long, env = "CAPSTAN_TOPIC_ARN", value_parser = NonEmptyStringValueParser::new())]
        topic_arn: Option<String>,
        /// Who lifts it, for the record and the notification (as `cli:NAME`).
        #[arg(long, env = "USER", hide_env_values = true)]
        user: Option<String>,
        /// `text` (what happened per target) or `json`.
        #[arg(long, value_enum, default_value_t = operate::Format::Text)]
        format: operate::Format,
    },
    /// Set a target's desired capacity, as `/capstan scale` does.
    ///
    /// `N`, `+N`, `-N`, `max` or `min` (the bounds in force). --force goes past the bounds, the
    /// max step and the rate limit, and pins the target for settings.default_pause. Goes
    /// through the runner as the command of `cli:USER`. Exit 0 changed; 1 nothing changed
    /// (refused, already so), a target failed (AWS refused or failed), or a policy that does
    /// not load; 2 an unknown target, bad usage, or AWS or the state table unreachable.
    Scale {
        /// The target.
        target: String,
        /// N, +N, -N, max or min.
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// Past every guardrail (audited).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        args: OperateArgs,
    },
    /// Pause automation on a target, optionally pinning its desired capacity.
    ///
    /// `capstan pause api 2h`, `capstan pause api for 30m pin 6` (--force: a pin outside the
    /// bounds). Without a duration, settings.default_pause. Exit codes as for `scale`.
    Pause {
        /// The target.
        target: String,
        /// [DURATION | for DURATION] [pin N]
        words: Vec<String>,
        /// A pin outside the bounds (audited).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        args: OperateArgs,
    },
    /// End a pause or pin: automation takes the target back. Exit codes as for `scale`.
    Resume {
        /// The target.
        target: String,
        #[command(flatten)]
        args: OperateArgs,
    },
    /// Return a target to its desired capacity before its last action. Exit codes as for `scale`.
    Undo {
        /// The target.
        target: String,
        /// Past every guardrail (audited).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        args: OperateArgs,
    },
    /// Add or cancel a run-time event (as `/capstan event` does). Exit codes as for `scale`.
    Event {
        #[command(subcommand)]
        command: EventCommand,
    },
}

/// Runs an AWS subcommand on a Tokio runtime of its own (one that cannot start is trouble).
fn block_on(work: impl std::future::Future<Output = exit::Outcome>) -> exit::Outcome {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| exit::Failure::trouble(format!("cannot start the async runtime: {e}")))?
        .block_on(work)
}

fn main() -> ExitCode {
    // clap's usage errors exit 2 here, before any subcommand: trouble, as everywhere.
    let cli = Cli::parse();
    exit::finish(run(cli.command))
}

/// Runs one subcommand to its outcome.
fn run(command: Command) -> exit::Outcome {
    match command {
        Command::Validate { file, format } => validate::run(&file, format),
        Command::Test { file } => test_cmd::run(&file),
        Command::IamResources {
            file,
            region,
            account,
            spoke,
        } => iam_resources::run(&file, &region, &account, spoke.as_deref()),
        Command::Explain {
            file,
            target,
            days,
            from,
        } => explain::run(&file, target.as_deref(), days, from.as_deref()),
        Command::Simulate {
            file,
            timeline,
            state,
            chart,
            tick,
        } => simulate::run(
            &file,
            &timeline,
            state.as_deref(),
            chart.as_deref(),
            tick.as_deref(),
        ),
        Command::Init { table } => block_on(init::run(&table.table)),
        Command::Status {
            policy,
            table,
            format,
            now,
        } => block_on(status::run(&policy, &table.table, format, now.as_deref())),
        Command::LiftCap {
            budget,
            policy,
            table,
            topic_arn,
            user,
            format,
        } => {
            let common = operate::Common {
                policy,
                table: table.table,
                topic_arn,
                user,
                format,
            };
            block_on(operate::run(&common, &operate::Verb::LiftCap { budget }))
        }
        Command::Scale {
            target,
            amount,
            force,
            args,
        } => {
            let verb = operate::Verb::Scale {
                target,
                amount,
                force,
            };
            block_on(operate::run(&args.common(), &verb))
        }
        Command::Pause {
            target,
            words,
            force,
            args,
        } => {
            let verb = operate::Verb::Pause {
                target,
                words,
                force,
            };
            block_on(operate::run(&args.common(), &verb))
        }
        Command::Resume { target, args } => {
            let verb = operate::Verb::Resume { target };
            block_on(operate::run(&args.common(), &verb))
        }
        Command::Undo {
            target,
            force,
            args,
        } => {
            let verb = operate::Verb::Undo { target, force };
            block_on(operate::run(&args.common(), &verb))
        }
        Command::Event { command } => {
            let (verb, args) = match command {
                EventCommand::Add { name, words, args } => {
                    (operate::Verb::EventAdd { name, words }, args)
                }
                EventCommand::Cancel { name, args } => (operate::Verb::EventCancel { name }, args),
            };
            block_on(operate::run(&args.common(), &verb))
        }
    }
}
