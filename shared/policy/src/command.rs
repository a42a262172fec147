//! Operator commands, as typed after `/capstan` in Slack (or given to the CLI).
//!
//! ```text
//! status [TARGET]
//! scale TARGET N|+N|-N|max|min [--force]
//! pause TARGET [DURATION] [pin N] [--force]
//! resume TARGET
//! undo TARGET [--force]
//! lift-cap BUDGET
//! ```

use crate::model::{Dur, Verb};

/// The usage text shown with every parse error.
pub const USAGE: &str = "usage: status [TARGET] | scale TARGET N|+N|-N|max|min [--force] | pause TARGET [DURATION] [pin N] [--force] | resume TARGET | undo TARGET [--force] | lift-cap BUDGET";

/// Where a `scale` command goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleTo {
    /// Exactly this many.
    Exactly(u32),
    /// This many more (negative: fewer).
    By(i64),
    /// The ceiling (with --force: the larger of the ceiling and the hard ceiling).
    Max,
    /// The floor.
    Min,
}

/// A parsed command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Show targets.
    Status {
        /// Only this target.
        target: Option<String>,
    },
    /// Change desired capacity.
    Scale {
        /// The target.
        target: String,
        /// Where to.
        to: ScaleTo,
        /// Past every guardrail (audited).
        force: bool,
    },
    /// Pause automation on a target, optionally pinning desired capacity.
    Pause {
        /// The target.
        target: String,
        /// How long (default: settings.default_pause).
        duration: Option<Dur>,
        /// Desired capacity to hold.
        pin: Option<u32>,
        /// Allows a pin outside the bounds.
        force: bool,
    },
    /// End a pause.
    Resume {
        /// The target.
        target: String,
    },
    /// Return to the capacity before the last action.
    Undo {
        /// The target.
        target: String,
        /// Past every guardrail (audited).
        force: bool,
    },
    /// Lift a budget's cap before the period resets.
    LiftCap {
        /// The budget.
        budget: String,
    },
}

impl Command {
    /// The verb a grant must allow.
    pub fn verb(&self) -> Verb {
        match self {
            Command::Status { .. } => Verb::Status,
            Command::Scale { .. } => Verb::Scale,
            Command::Pause { .. } => Verb::Pause,
            Command::Resume { .. } => Verb::Resume,
            Command::Undo { .. } => Verb::Undo,
            Command::LiftCap { .. } => Verb::LiftCap,
        }
    }

    /// The target named, if any.
    pub fn target(&self) -> Option<&str> {
        match self {
            Command::Status { target } => target.as_deref(),
            Command::Scale { target, .. }
            | Command::Pause { target, .. }
            | Command::Resume { target }
            | Command::Undo { target, .. } => Some(target),
            Command::LiftCap { .. } => None,
        }
    }

    /// True with `--force`.
    pub fn forced(&self) -> bool {
        matches!(
            self,
            Command::Scale { force: true, .. }
                | Command::Pause { force: true, .. }
                | Command::Undo { force: true, .. }
        )
    }
}

/// Parses a command; the error says what is wrong and carries the usage.
pub fn parse(text: &str) -> Result<Command, String> {
    let mut words: Vec<&str> = text.split_whitespace().collect();
    let force = words.contains(&"--force");
    words.retain(|w| *w != "--force");
    let err = |what: String| Err(format!("{what}; {USAGE}"));
    let Some((&verb, args)) = words.split_first() else {
        return err("empty command".into());
    };
    let target = |i: usize| -> Result<String, String> {
        args.get(i)
            .map(|s| s.to_string())
            .ok_or_else(|| format!("`{verb}` needs a target; {USAGE}"))
    };
    let no_force = |c: Command| {
        if force {
            Err(format!("`{verb}` does not take --force; {USAGE}"))
        } else {
            Ok(c)
        }
    };
    let cmd = match verb.to_ascii_lowercase().as_str() {
        "status" => {
            if args.len() > 1 {
                return err(format!("unexpected `{}`", args[1]));
            }
            no_force(Command::Status {
                target: args.first().map(|s| s.to_string()),
            })
        }
        "scale" => {
            let target = target(0)?;
            let Some(amount) = args.get(1) else {
                return err("`scale` needs a count: N, +N, -N, max or min".into());
            };
            if args.len() > 2 {
                return err(format!("unexpected `{}`", args[2]));
            }
            let to =
                match *amount {
                    "max" => ScaleTo::Max,
                    "min" => ScaleTo::Min,
                    a if a.starts_with(['+', '-']) => ScaleTo::By(
                        a.parse::<i64>()
                            .map_err(|_| format!("`{a}` is not a change like +2 or -1; {USAGE}"))?,
                    ),
                    a => ScaleTo::Exactly(a.parse::<u32>().map_err(|_| {
                        format!("`{a}` is not a count, +N, -N, max or min; {USAGE}")
                    })?),
                };
            Ok(Command::Scale { target, to, force })
        }
        "pause" => {
            let target = target(0)?;
            let mut duration = None;
            let mut pin = None;
            let mut rest = args[1..].iter();
            while let Some(w) = rest.next() {
                if *w == "pin" {
                    let Some(n) = rest.next() else {
                        return err("`pin` needs a count".into());
                    };
                    pin = Some(
                        n.parse::<u32>()
                            .map_err(|_| format!("`{n}` is not a count; {USAGE}"))?,
                    );
                } else if duration.is_none() {
                    duration = Some(w.parse::<Dur>().map_err(|e| format!("{e}; {USAGE}"))?);
                } else {
                    return err(format!("unexpected `{w}`"));
                }
            }
            Ok(Command::Pause {
                target,
                duration,
                pin,
                force,
            })
        }
        "resume" => no_force(Command::Resume { target: target(0)? }),
        "undo" => Ok(Command::Undo {
            target: target(0)?,
            force,
        }),
        "lift-cap" => {
            let Some(budget) = args.first() else {
                return err("`lift-cap` needs a budget name".into());
            };
            no_force(Command::LiftCap {
                budget: budget.to_string(),
            })
        }
        other => return err(format!("unknown command `{other}`")),
    };
    if let Ok(c) = &cmd {
        let expected = match c {
            Command::Status { .. } | Command::Pause { .. } | Command::Scale { .. } => usize::MAX,
            _ => 1,
        };
        if args.len() > expected {
            return err(format!("unexpected `{}`", args[expected]));
        }
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_verb() {
        assert_eq!(
            parse("scale api 6").unwrap(),
            Command::Scale {
                target: "api".into(),
                to: ScaleTo::Exactly(6),
                force: false
            }
        );
        assert_eq!(
            parse("scale api max --force").unwrap(),
            Command::Scale {
                target: "api".into(),
                to: ScaleTo::Max,
                force: true
            }
        );
        assert_eq!(
            parse("scale web -2").unwrap(),
            Command::Scale {
                target: "web".into(),
                to: ScaleTo::By(-2),
                force: false
            }
        );
        assert_eq!(
            parse("pause ai 2h pin 3").unwrap(),
            Command::Pause {
                target: "ai".into(),
                duration: Some(Dur::from_secs(7200)),
                pin: Some(3),
                force: false
            }
        );
        assert_eq!(parse("status").unwrap(), Command::Status { target: None });
        assert_eq!(
            parse("undo api").unwrap(),
            Command::Undo {
                target: "api".into(),
                force: false
            }
        );
        assert_eq!(
            parse("lift-cap AI-Service-Monthly").unwrap(),
            Command::LiftCap {
                budget: "AI-Service-Monthly".into()
            }
        );
        assert_eq!(
            parse("resume api").unwrap(),
            Command::Resume {
                target: "api".into()
            }
        );
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(parse("").unwrap_err().contains("empty"));
        assert!(parse("scale api").unwrap_err().contains("needs a count"));
        assert!(parse("scale api lots").unwrap_err().contains("`lots`"));
        assert!(parse("pause api forever")
            .unwrap_err()
            .contains("`forever`"));
        assert!(parse("reboot api")
            .unwrap_err()
            .contains("unknown command `reboot`"));
        assert!(parse("resume api --force").unwrap_err().contains("--force"));
        assert!(parse("undo api extra").unwrap_err().contains("`extra`"));
    }
}
