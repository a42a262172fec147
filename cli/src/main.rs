//! `capstan`: validate, test, explain and simulate a Capstan policy file.
//!
//! Each subcommand lives in its own module; `main` only parses arguments and maps results to
//! exit codes (0 clean, 1 the policy or its tests have problems, 2 usage or I/O errors).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod chart;
mod diagnostics;
mod explain;
mod simulate;
mod test_cmd;
mod validate;

/// Capstan: scaling runbooks as policy.
#[derive(Parser)]
#[command(name = "capstan", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
    /// Replay a timeline (JSON lines of `{"at": ..., "signal": ...}`) and print every decision.
    Simulate {
        /// The policy file.
        file: PathBuf,
        /// The timeline.
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate { file, format } => validate::run(&file, format),
        Command::Test { file } => test_cmd::run(&file),
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
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("capstan: {e}");
            ExitCode::from(2)
        }
    }
}
