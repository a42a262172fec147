//! The exit codes of every subcommand, in one place.
//!
//! A script or a CI job branches on three answers, whichever subcommand it ran: 0 all is well,
//! 1 Capstan found something a person must look at (the policy, its tests, or what came of an
//! action), 2 Capstan could not do its job (the command line, a file, or AWS is at fault, and
//! nothing was judged). So no subcommand picks a number: each ends with `Ok(())` or a
//! [`Failure`], and [`finish`] turns that into the [`Exit`] the process returns. clap's own
//! usage errors exit 2 before any subcommand runs, which is [`Exit::Trouble`] too.

use std::process::ExitCode;

/// How a run of `capstan` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done, and nothing to report.
    Fine = 0,
    /// A finding: a policy that does not load or validate, a policy test that fails, or an
    /// action that was refused (by the engine or by AWS), failed, or did nothing.
    Finding = 1,
    /// Trouble: bad usage (an unknown flag, target or budget, a bad argument), a file that
    /// cannot be read or written, AWS or the state table that cannot be reached or read, no
    /// credentials or region.
    Trouble = 2,
}

impl Exit {
    /// Every code, in order: the help text and the README list these.
    pub const ALL: [Exit; 3] = [Exit::Fine, Exit::Finding, Exit::Trouble];

    /// The number the process exits with.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Its one word.
    pub fn name(self) -> &'static str {
        match self {
            Exit::Fine => "fine",
            Exit::Finding => "finding",
            Exit::Trouble => "trouble",
        }
    }

    /// What it means, in one line (for `--help` and the README).
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Fine => "done: the policy is clean, the tests pass, the action was done",
            Exit::Finding => {
                "a finding: the policy does not load or validate, a policy test fails, or an \
                 action was refused, failed or did nothing"
            }
            Exit::Trouble => {
                "trouble: bad usage (unknown flag, target or budget), a file that cannot be read \
                 or written, AWS or the state table unreachable, no credentials or region"
            }
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

/// Why a subcommand did not end [`Exit::Fine`]: which class, and what is left to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// [`Exit::Finding`]. The report (problems, failed tests, refusals) is already printed;
    /// `Some`: one more line for stderr, printed as `capstan: LINE`.
    Finding(Option<String>),
    /// [`Exit::Trouble`], with the line that says what went wrong and what to set or fix,
    /// printed as `capstan: LINE`.
    Trouble(String),
}

impl Failure {
    /// A finding whose report is already printed.
    pub fn finding() -> Failure {
        Failure::Finding(None)
    }

    /// A finding with one more line for stderr.
    pub fn finding_because(line: impl Into<String>) -> Failure {
        Failure::Finding(Some(line.into()))
    }

    /// Trouble, said in one line.
    pub fn trouble(line: impl Into<String>) -> Failure {
        Failure::Trouble(line.into())
    }

    /// Its class.
    pub fn exit(&self) -> Exit {
        match self {
            Failure::Finding(_) => Exit::Finding,
            Failure::Trouble(_) => Exit::Trouble,
        }
    }

    /// What is left to print on stderr.
    fn line(&self) -> Option<&str> {
        match self {
            Failure::Finding(line) => line.as_deref(),
            Failure::Trouble(line) => Some(line),
        }
    }
}

/// What every subcommand returns: `Ok(())` is [`Exit::Fine`].
pub type Outcome = Result<(), Failure>;

/// The end of every run: prints what the failure has left to say and gives its code.
pub fn finish(outcome: Outcome) -> ExitCode {
    let exit = match outcome {
        Ok(()) => Exit::Fine,
        Err(failure) => {
            if let Some(line) = failure.line() {
                eprintln!("capstan: {line}");
            }
            failure.exit()
        }
    };
    exit.into()
}

/// The codes as the top-level `--help` shows them (clap's `after_help`).
pub fn help() -> String {
    let mut text = String::from("Exit codes (every subcommand):\n");
    for exit in Exit::ALL {
        text.push_str(&format!("  {}  {}\n", exit.code(), exit.meaning()));
    }
    text
}

/// The rows of the README's "Exit codes" table, as the README has them.
#[cfg(test)]
fn readme_rows() -> Vec<String> {
    Exit::ALL
        .iter()
        .map(|e| format!("| {} | {} | {} |", e.code(), e.name(), e.meaning()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_are_zero_one_two() {
        let codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes, [0, 1, 2]);
        assert_eq!(Failure::finding().exit(), Exit::Finding);
        assert_eq!(Failure::finding_because("x").exit(), Exit::Finding);
        assert_eq!(Failure::trouble("x").exit(), Exit::Trouble);
    }

    #[test]
    fn the_help_lists_every_code_with_its_meaning() {
        let help = help();
        assert!(
            help.starts_with("Exit codes (every subcommand):\n"),
            "{help}"
        );
        for exit in Exit::ALL {
            let line = format!("  {}  {}\n", exit.code(), exit.meaning());
            assert!(help.contains(&line), "{help}");
        }
    }

    /// The README says what `--help` says: a change of one without the other fails here.
    #[test]
    fn the_readme_table_matches_the_codes() {
        let readme = include_str!("../../README.md");
        assert!(readme.contains("### Exit codes"), "no Exit codes section");
        for row in readme_rows() {
            assert!(readme.contains(&row), "README.md lacks the row\n{row}");
        }
    }
}
