//! Operator commands, as typed after `/capstan` in Slack (or given to the CLI).
//!
//! ```text
//! status [TARGET]
//! scale TARGET N|+N|-N|max|min [--force]
//! pause TARGET [for DURATION] [pin N [--force]]
//! resume TARGET
//! undo TARGET [--force]
//! lift-cap BUDGET
//! event add NAME START END TARGET=SPEC... [lead DURATION] [no-hold] [release-step N] [exceed-ceiling]
//! event cancel NAME
//! help [COMMAND]
//! ```
//!
//! Words are separated by spaces. A quoted word may hold spaces: `lift-cap "AI Service
//! Monthly"`, with straight quotes (`"..."`, `'...'`) or the curly ones Slack's clients put in
//! their place (`“...”`, `‘...’`); a quote opens only at the start of a word, so an apostrophe
//! inside one (`O'Brien`) is a letter. `--force` may also come as `—force` or `–force` (clients
//! turn `--` into a dash).
//!
//! Numbers are checked, never saturated: a count is at most [`MAX_COUNT`] (as in a policy
//! file), a change `+N`/`-N` at most that either way, a duration at most [`MAX_DURATION`];
//! anything else is an error naming the word. `event add` builds the same [`Event`] as a
//! policy file's `[events.NAME]`, with the policy's own value formats ([`Timestamp`],
//! [`Amount`], [`Dur`]); the engine then checks it as it checks every event
//! ([`crate::load::event_problems`]).
//!
//! `SPEC` is `floor:AMOUNT` and/or `ceiling:AMOUNT`, comma separated, AMOUNT being `N`, `+N` or
//! `+N%`:
//!
//! ```text
//! event add launch 2026-12-05T08:00Z 2026-12-05T20:00Z api=floor:10 web=floor:+2 lead 2h
//! event add promo 2026-12-05T09:00+01:00 2026-12-05T13:00+01:00 api=floor:10,ceiling:+50% exceed-ceiling
//! ```

use std::collections::BTreeMap;

use crate::model::{Amount, Dur, Event, Timestamp, Uplift, Verb, MAX_COUNT, MAX_DURATION};

/// The usage of every command, shown with an error in an unknown command.
pub const USAGE: &str = "usage: status [TARGET] | scale TARGET N|+N|-N|max|min [--force] | pause TARGET [for DURATION] [pin N [--force]] | resume TARGET | undo TARGET [--force] | lift-cap BUDGET | event add NAME START END TARGET=floor:AMOUNT,ceiling:AMOUNT... [lead DURATION] [no-hold] [release-step N] [exceed-ceiling] | event cancel NAME | help [COMMAND]";

/// One command's help: its name, syntax, usage line (shown with its errors), what it does and
/// an example.
struct VerbHelp {
    name: &'static str,
    syntax: &'static str,
    usage: &'static str,
    what: &'static str,
    example: &'static str,
}

const HELP: &[VerbHelp] = &[
    VerbHelp {
        name: "status",
        syntax: "status [TARGET]",
        usage: "usage: status [TARGET], e.g. `status api`",
        what: "each target's capacity, the bounds in force and why, pause, cooldowns and last action",
        example: "status api",
    },
    VerbHelp {
        name: "scale",
        syntax: "scale TARGET N|+N|-N|max|min [--force]",
        usage: "usage: scale TARGET N|+N|-N|max|min [--force], e.g. `scale api 8`, `scale api +2`, `scale api max --force`",
        what: "set desired capacity within the bounds in force (`max`/`min`: those bounds); a change larger than confirm_above needs a confirmation. --force goes past the bounds, the max step and the rate limit (grant `force`, a confirmation from Slack, pinned for settings.default_pause)",
        example: "scale api 8",
    },
    VerbHelp {
        name: "pause",
        syntax: "pause TARGET [for DURATION] [pin N [--force]]",
        usage: "usage: pause TARGET [for DURATION] [pin N [--force]], e.g. `pause api for 2h`, `pause api 30m pin 6`",
        what: "automation leaves the target alone (default settings.default_pause); `pin N` holds desired at N, outside the bounds only with --force (grant `force`, a confirmation from Slack); a pin more than confirm_above away needs a confirmation too",
        example: "pause api for 2h pin 6",
    },
    VerbHelp {
        name: "resume",
        syntax: "resume TARGET",
        usage: "usage: resume TARGET, e.g. `resume api`",
        what: "end a pause or a pin: automation takes the target back",
        example: "resume api",
    },
    VerbHelp {
        name: "undo",
        syntax: "undo TARGET [--force]",
        usage: "usage: undo TARGET [--force], e.g. `undo api`",
        what: "back to desired capacity before the target's last action (within the bounds unless forced)",
        example: "undo api",
    },
    VerbHelp {
        name: "lift-cap",
        syntax: "lift-cap BUDGET",
        usage: "usage: lift-cap BUDGET, e.g. `lift-cap AI-Service-Monthly` or `lift-cap \"AI Service Monthly\"`",
        what: "lift a budget's caps before its period resets (a confirmation from Slack); quote a name with spaces",
        example: "lift-cap \"AI Service Monthly\"",
    },
    VerbHelp {
        name: "event",
        syntax: "event add NAME START END TARGET=floor:AMOUNT,ceiling:AMOUNT... [lead DURATION] [no-hold] [release-step N] [exceed-ceiling] | event cancel NAME",
        usage: "usage: event add NAME START END TARGET=floor:AMOUNT,ceiling:AMOUNT... [lead DURATION] [no-hold] [release-step N] [exceed-ceiling] | event cancel NAME, e.g. `event add launch 2026-12-05T08:00Z 2026-12-05T20:00Z api=floor:10 web=floor:+2 lead 2h`",
        what: "add or cancel a run-time event: START and END in RFC 3339 with a zone (`Z` or `+01:00`, seconds optional); AMOUNT is N, +N or +N%; the uplift begins `lead` before START, scale-in is held unless no-hold, the floor comes down release-step per scale-in cooldown after END; a ceiling above the target's hard ceiling (any `ceiling:+N`, `ceiling:+N%`) needs exceed-ceiling (grant `exceed-ceiling`)",
        example: "event add launch 2026-12-05T08:00Z 2026-12-05T20:00Z api=floor:10 web=floor:+2 lead 2h",
    },
    VerbHelp {
        name: "help",
        syntax: "help [COMMAND]",
        usage: "usage: help [COMMAND], e.g. `help scale`",
        what: "every command, or one command's usage",
        example: "help scale",
    },
];

fn help_of(verb: &str) -> Option<&'static VerbHelp> {
    HELP.iter().find(|h| h.name == verb)
}

/// The usage line of one command (`scale`, `event`...), or [`USAGE`] for a word that names
/// none.
pub fn usage_of(verb: &str) -> &'static str {
    help_of(&verb.to_ascii_lowercase()).map_or(USAGE, |h| h.usage)
}

/// The text `help` answers: every command with what it does, or (`topic`) one command's
/// usage, what it does and an example. An unknown topic gets the whole list.
pub fn help(topic: Option<&str>) -> String {
    if let Some(h) = topic.and_then(|t| help_of(&t.to_ascii_lowercase())) {
        return format!("usage: {}\n{}\ne.g. `{}`", h.syntax, h.what, h.example);
    }
    let mut out = String::from("Capstan commands (after /capstan):\n");
    for h in HELP {
        out.push_str(&format!("• `{}`: {}\n", h.syntax, h.what));
    }
    out.push_str(
        "Quote a word with spaces: `lift-cap \"AI Service Monthly\"`. `help COMMAND` shows one command with an example.",
    );
    out
}

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
        /// Allows a pin outside the bounds (only with a pin).
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
    /// Add a run-time event (as an event signal adds one).
    EventAdd {
        /// The event's name.
        name: String,
        /// The event, as a policy file's `[events.NAME]` would give it.
        event: Event,
    },
    /// Cancel a run-time event.
    EventCancel {
        /// The event's name.
        name: String,
    },
    /// The usage: of every command, or of one.
    Help {
        /// The command asked about (lower case), if any.
        topic: Option<String>,
    },
}

impl Command {
    /// The verb a grant must allow; none for `help`, which anyone may ask for.
    pub fn verb(&self) -> Option<Verb> {
        Some(match self {
            Command::Status { .. } => Verb::Status,
            Command::Scale { .. } => Verb::Scale,
            Command::Pause { .. } => Verb::Pause,
            Command::Resume { .. } => Verb::Resume,
            Command::Undo { .. } => Verb::Undo,
            Command::LiftCap { .. } => Verb::LiftCap,
            Command::EventAdd { .. } | Command::EventCancel { .. } => Verb::Event,
            Command::Help { .. } => return None,
        })
    }

    /// The one target named, if any (an event's targets are in the event).
    pub fn target(&self) -> Option<&str> {
        match self {
            Command::Status { target } => target.as_deref(),
            Command::Scale { target, .. }
            | Command::Pause { target, .. }
            | Command::Resume { target }
            | Command::Undo { target, .. } => Some(target),
            Command::LiftCap { .. }
            | Command::EventAdd { .. }
            | Command::EventCancel { .. }
            | Command::Help { .. } => None,
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

/// Why a command was not understood, and the usage of the command it meant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}; {usage}")]
pub struct CommandError {
    /// What is wrong, naming the word.
    pub message: String,
    /// The usage line of the command (or of every command, when the verb is unknown).
    pub usage: &'static str,
}

/// `word` written as one argument [`parse`] reads back as it is (for a command built by a
/// program, such as the CLI): a word with spaces, an opening quote, nothing in it, or that
/// reads as `--force` is quoted. None when it cannot be written (it holds both `"` and `'`, a
/// line break, or a quote that would end it early).
pub fn quote(word: &str) -> Option<String> {
    let plain = !word.is_empty()
        && !word.chars().any(char::is_whitespace)
        && !word.starts_with(|c| double_quote(c) || single_quote(c))
        && !Word {
            text: word.to_string(),
            quoted: false,
        }
        .is_force();
    if plain {
        return Some(word.to_string());
    }
    if word.contains(['\n', '\r']) {
        return None;
    }
    if !word.chars().any(double_quote) {
        Some(format!("\"{word}\""))
    } else if !word.chars().any(single_quote) {
        Some(format!("'{word}'"))
    } else {
        None
    }
}

fn double_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”' | '„')
}

fn single_quote(c: char) -> bool {
    matches!(c, '\'' | '‘' | '’')
}

/// One word of a command.
#[derive(Debug, Clone, PartialEq)]
struct Word {
    text: String,
    /// Written in quotes: taken as it is (never `--force`, a keyword or an option).
    quoted: bool,
}

impl Word {
    /// The word as a keyword (lower case, `_` as `-`), None when quoted.
    fn keyword(&self) -> Option<String> {
        (!self.quoted).then(|| self.text.to_lowercase().replace('_', "-"))
    }

    fn is(&self, keyword: &str) -> bool {
        self.keyword().is_some_and(|k| k == keyword)
    }

    fn is_force(&self) -> bool {
        !self.quoted
            && matches!(
                self.text.as_str(),
                "--force" | "—force" | "–force" | "-force"
            )
    }
}

/// Splits `text` into words, honouring quotes.
fn words(text: &str) -> Result<Vec<Word>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let closes: Option<fn(char) -> bool> = if double_quote(c) {
            Some(double_quote)
        } else if single_quote(c) {
            Some(single_quote)
        } else {
            None
        };
        match closes {
            Some(closes) => {
                chars.next();
                let mut word = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if closes(c) {
                        closed = true;
                        break;
                    }
                    word.push(c);
                }
                if !closed {
                    return Err(format!(
                        "the quote `{c}{word}` is not closed; end it with a quote"
                    ));
                }
                if let Some(&next) = chars.peek() {
                    if !next.is_whitespace() {
                        let rest: String = chars.take_while(|c| !c.is_whitespace()).collect();
                        return Err(format!(
                            "`{rest}` follows the quote `{c}{word}` without a space"
                        ));
                    }
                }
                out.push(Word {
                    text: word,
                    quoted: true,
                });
            }
            None => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                out.push(Word {
                    text: word,
                    quoted: false,
                });
            }
        }
    }
    Ok(out)
}

/// A count: digits only, at most [`MAX_COUNT`].
fn count(word: &str) -> Result<u32, String> {
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{word}` is not a count"));
    }
    match word.parse::<u32>() {
        Ok(n) if n <= MAX_COUNT => Ok(n),
        _ => Err(format!(
            "`{word}` is more than {MAX_COUNT}, the largest count Capstan takes"
        )),
    }
}

/// A change `+N` / `-N`, at most [`MAX_COUNT`] either way.
fn change(word: &str) -> Result<i64, String> {
    let (sign, digits) = match word.split_at_checked(1) {
        Some(("+", d)) => (1, d),
        Some(("-", d)) => (-1, d),
        _ => return Err(format!("`{word}` is not a change like +2 or -1")),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{word}` is not a change like +2 or -1"));
    }
    match digits.parse::<u32>() {
        Ok(n) if n <= MAX_COUNT => Ok(sign * i64::from(n)),
        _ => Err(format!(
            "`{word}` is a change of more than {MAX_COUNT}, the most Capstan takes either way"
        )),
    }
}

/// A duration, at most [`MAX_DURATION`].
fn dur(word: &str) -> Result<Dur, String> {
    let d = word.parse::<Dur>()?;
    if d > MAX_DURATION {
        return Err(format!(
            "`{word}` is longer than 366 days, the longest Capstan takes"
        ));
    }
    Ok(d)
}

/// An amount of an uplift, within the policy's limits.
fn amount(word: &str) -> Result<Amount, String> {
    let a = word.parse::<Amount>()?;
    match a.out_of_bounds() {
        Some(why) => Err(format!("`{word}`: {why}")),
        None => Ok(a),
    }
}

/// Parses a command; the error says what is wrong (naming the word) and carries the usage of
/// the command meant.
pub fn parse(text: &str) -> Result<Command, CommandError> {
    let guess = text.split_whitespace().next().unwrap_or("");
    let words = words(text).map_err(|message| CommandError {
        message,
        usage: usage_of(guess),
    })?;
    let force = words.iter().any(Word::is_force);
    let words: Vec<Word> = words.into_iter().filter(|w| !w.is_force()).collect();
    let Some((first, args)) = words.split_first() else {
        return Err(CommandError {
            message: "empty command".into(),
            usage: USAGE,
        });
    };
    let verb = first.text.to_lowercase();
    let Some(h) = help_of(&verb).filter(|_| !first.quoted) else {
        return Err(CommandError {
            message: format!("unknown command `{}`", first.text),
            usage: USAGE,
        });
    };
    Parser {
        verb: h.name,
        args,
        force,
    }
    .parse()
    .map_err(|message| CommandError {
        message,
        usage: h.usage,
    })
}

struct Parser<'a> {
    verb: &'static str,
    args: &'a [Word],
    force: bool,
}

impl Parser<'_> {
    /// The `i`th argument as a name (of a target, budget or event): not empty.
    fn name(&self, i: usize, what: &str) -> Result<String, String> {
        match self.args.get(i) {
            Some(w) if !w.text.trim().is_empty() => Ok(w.text.clone()),
            Some(_) => Err(format!("the {what} is empty")),
            None => Err(format!("`{}` needs a {what}", self.verb)),
        }
    }

    /// Nothing after the first `n` arguments.
    fn at_most(&self, n: usize) -> Result<(), String> {
        match self.args.get(n) {
            Some(w) => Err(format!("unexpected `{}`", w.text)),
            None => Ok(()),
        }
    }

    fn no_force(&self) -> Result<(), String> {
        if self.force {
            Err(format!("`{}` does not take --force", self.verb))
        } else {
            Ok(())
        }
    }

    fn parse(&self) -> Result<Command, String> {
        let force = self.force;
        match self.verb {
            "status" => {
                self.no_force()?;
                self.at_most(1)?;
                let target = match self.args.first() {
                    Some(_) => Some(self.name(0, "target")?),
                    None => None,
                };
                Ok(Command::Status { target })
            }
            "scale" => {
                let target = self.name(0, "target")?;
                let Some(w) = self.args.get(1) else {
                    return Err("`scale` needs a count: N, +N, -N, max or min".into());
                };
                self.at_most(2)?;
                let to = match w.keyword().as_deref() {
                    Some("max") => ScaleTo::Max,
                    Some("min") => ScaleTo::Min,
                    _ if w.text.starts_with(['+', '-']) => ScaleTo::By(change(&w.text)?),
                    _ if !w.text.is_empty() && w.text.bytes().all(|b| b.is_ascii_digit()) => {
                        ScaleTo::Exactly(count(&w.text)?)
                    }
                    _ => return Err(format!("`{}` is not a count, +N, -N, max or min", w.text)),
                };
                Ok(Command::Scale { target, to, force })
            }
            "pause" => self.pause(),
            "resume" => {
                self.no_force()?;
                self.at_most(1)?;
                Ok(Command::Resume {
                    target: self.name(0, "target")?,
                })
            }
            "undo" => {
                self.at_most(1)?;
                Ok(Command::Undo {
                    target: self.name(0, "target")?,
                    force,
                })
            }
            "lift-cap" => {
                self.no_force()?;
                let budget = self.name(0, "budget name")?;
                if let Some(extra) = self.args.get(1) {
                    return Err(format!(
                        "unexpected `{}`: a budget name with spaces goes in quotes, `lift-cap \"{} {}\"`",
                        extra.text, budget, extra.text
                    ));
                }
                Ok(Command::LiftCap { budget })
            }
            "event" => {
                self.no_force()?;
                match self.args.first().and_then(Word::keyword).as_deref() {
                    Some("add") => self.event_add(),
                    Some("cancel") => {
                        let name = self
                            .name(1, "event name")
                            .map_err(|_| "`event cancel` needs the event's NAME".to_string())?;
                        self.at_most(2)?;
                        Ok(Command::EventCancel { name })
                    }
                    _ => Err(match self.args.first() {
                        Some(w) => {
                            format!("`event {}`: write `event add` or `event cancel`", w.text)
                        }
                        None => "`event` needs `add` or `cancel`".into(),
                    }),
                }
            }
            "help" => {
                self.no_force()?;
                let topic = match self.args.first() {
                    None => None,
                    Some(w) => match help_of(&w.text.to_lowercase()) {
                        Some(h) => Some(h.name.to_string()),
                        None => return Err(format!("there is no command `{}`", w.text)),
                    },
                };
                // `help event add`: the topic is `event`.
                if topic.as_deref() != Some("event") {
                    self.at_most(1)?;
                } else {
                    self.at_most(2)?;
                }
                Ok(Command::Help { topic })
            }
            other => Err(format!("unknown command `{other}`")),
        }
    }

    fn pause(&self) -> Result<Command, String> {
        let target = self.name(0, "target")?;
        let mut duration: Option<Dur> = None;
        let mut pin = None;
        // Durations may come in words (`1h 30m`), one run of them, optionally after `for`.
        let mut in_duration = false;
        let mut rest = self.args[1..].iter().peekable();
        while let Some(w) = rest.next() {
            if w.is("pin") {
                if pin.is_some() {
                    return Err("`pin` is given twice".into());
                }
                let Some(n) = rest.next() else {
                    return Err("`pin` needs a count".into());
                };
                pin = Some(count(&n.text)?);
                in_duration = false;
                continue;
            }
            if w.is("for") && duration.is_none() {
                let Some(d) = rest.next() else {
                    return Err("`for` needs a duration, e.g. `for 2h`".into());
                };
                duration = Some(dur(&d.text)?);
                in_duration = true;
                continue;
            }
            match (duration, in_duration) {
                (None, _) => {
                    duration = Some(dur(&w.text)?);
                    in_duration = true;
                }
                (Some(d), true) if w.text.parse::<Dur>().is_ok() => {
                    let more = dur(&w.text)?;
                    let total = Dur(d.0.saturating_add(more.0));
                    if total > MAX_DURATION {
                        return Err(format!(
                            "the pause `{d} {}` is longer than 366 days, the longest Capstan takes",
                            w.text
                        ));
                    }
                    duration = Some(total);
                }
                _ => return Err(format!("unexpected `{}`", w.text)),
            }
        }
        if duration.is_some_and(|d| d.0.is_zero()) {
            return Err("a pause of no time does nothing; give a duration such as `2h`".into());
        }
        if self.force && pin.is_none() {
            return Err(
                "--force on `pause` only goes with `pin N` (to pin outside the bounds)".into(),
            );
        }
        Ok(Command::Pause {
            target,
            duration,
            pin,
            force: self.force,
        })
    }

    fn event_add(&self) -> Result<Command, String> {
        const NEEDS: &str = "`event add` needs NAME START END and at least one TARGET=SPEC";
        let name = self.name(1, "event name").map_err(|_| NEEDS.to_string())?;
        if name.parse::<Timestamp>().is_ok() || name.contains('=') {
            return Err(format!("`{name}` is not an event name: {NEEDS}"));
        }
        let instant = |i: usize, what: &str| -> Result<Timestamp, String> {
            let Some(w) = self.args.get(i) else {
                return Err(format!("{NEEDS}; {what} is missing"));
            };
            w.text.parse::<Timestamp>().map_err(|_| {
                format!(
                    "{what} `{}` is not a time; write RFC 3339 with a zone, e.g. `2026-12-05T08:00Z` or `2026-12-05T09:00+01:00`",
                    w.text
                )
            })
        };
        let start = instant(2, "START")?;
        let end = instant(3, "END")?;
        let mut event = Event {
            start,
            end,
            lead: None,
            hold_scale_in: true,
            release_step: None,
            exceed_ceiling: false,
            targets: BTreeMap::new(),
        };
        let mut hold_given = false;
        let mut rest = self.args[4..].iter();
        while let Some(w) = rest.next() {
            match w.keyword().as_deref() {
                Some("lead") => {
                    if event.lead.is_some() {
                        return Err("`lead` is given twice".into());
                    }
                    let d = rest
                        .next()
                        .ok_or("`lead` needs a duration, e.g. `lead 2h`")?;
                    event.lead = Some(dur(&d.text)?);
                }
                Some("release-step") => {
                    if event.release_step.is_some() {
                        return Err("`release-step` is given twice".into());
                    }
                    let n = rest
                        .next()
                        .ok_or("`release-step` needs a count, e.g. `release-step 2`")?;
                    event.release_step = Some(count(&n.text)?);
                }
                Some("no-hold") => {
                    if hold_given {
                        return Err("`no-hold` is given twice".into());
                    }
                    hold_given = true;
                    event.hold_scale_in = false;
                }
                Some("exceed-ceiling") => {
                    if event.exceed_ceiling {
                        return Err("`exceed-ceiling` is given twice".into());
                    }
                    event.exceed_ceiling = true;
                }
                _ => {
                    let Some((target, spec)) = w.text.split_once('=') else {
                        return Err(format!(
                            "unexpected `{}`: after END come TARGET=SPEC (e.g. `api=floor:10,ceiling:+50%`) and the options lead DURATION, no-hold, release-step N, exceed-ceiling",
                            w.text
                        ));
                    };
                    let (target, uplift) = uplift(target, spec)?;
                    if event.targets.contains_key(&target) {
                        return Err(format!("target `{target}` is given twice"));
                    }
                    event.targets.insert(target, uplift);
                }
            }
        }
        if event.targets.is_empty() {
            return Err(format!(
                "{NEEDS}: name a target and what it gets, e.g. `api=floor:10,ceiling:+50%`"
            ));
        }
        Ok(Command::EventAdd { name, event })
    }
}

/// `TARGET=floor:AMOUNT,ceiling:AMOUNT`, split at the `=`.
fn uplift(target: &str, spec: &str) -> Result<(String, Uplift), String> {
    let whole = format!("{target}={spec}");
    if target.trim().is_empty() {
        return Err(format!(
            "`{whole}` names no target; write e.g. `api=floor:10`"
        ));
    }
    let mut up = Uplift::default();
    for part in spec.split(',').filter(|p| !p.is_empty()) {
        let Some((key, value)) = part.split_once(':') else {
            return Err(format!(
                "`{part}` in `{whole}` is not `floor:AMOUNT` or `ceiling:AMOUNT`"
            ));
        };
        let slot = match key.to_lowercase().as_str() {
            "floor" => &mut up.floor,
            "ceiling" => &mut up.ceiling,
            _ => {
                return Err(format!(
                    "`{key}` in `{whole}`: write `floor:` or `ceiling:`"
                ))
            }
        };
        if slot.is_some() {
            return Err(format!("`{key}` is given twice in `{whole}`"));
        }
        *slot = Some(amount(value)?);
    }
    if up.floor.is_none() && up.ceiling.is_none() {
        return Err(format!(
            "`{whole}` raises nothing; write e.g. `{target}=floor:+2,ceiling:+50%`"
        ));
    }
    Ok((target.to_string(), up))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

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
        assert_eq!(
            parse("event cancel launch").unwrap(),
            Command::EventCancel {
                name: "launch".into()
            }
        );
        assert_eq!(parse("help").unwrap(), Command::Help { topic: None });
        assert_eq!(
            parse("HELP Lift-Cap").unwrap(),
            Command::Help {
                topic: Some("lift-cap".into())
            }
        );
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(err("").contains("empty"));
        assert!(err("scale api").contains("needs a count"));
        assert!(err("scale api lots").contains("`lots`"));
        assert!(err("pause api forever").contains("`forever`"));
        assert!(err("reboot api").contains("unknown command `reboot`"));
        assert!(err("resume api --force").contains("--force"));
        assert!(err("undo api extra").contains("`extra`"));
        assert!(err("status api web").contains("unexpected `web`"));
        assert!(err("scale api 3 4").contains("unexpected `4`"));
        assert!(err("help reboot").contains("no command `reboot`"));
        assert!(err("event").contains("`add` or `cancel`"));
        assert!(err("event launch").contains("`event launch`"));
        assert!(err("event cancel").contains("NAME"));
        assert!(err("event cancel a b").contains("unexpected `b`"));
        assert!(err("pause api --force").contains("only goes with `pin N`"));
        assert!(err("pause api 0s").contains("no time"));
        assert!(err("pause api 1h pin 2 pin 3").contains("twice"));
        assert!(err("pause api 1h pin 2 30m").contains("unexpected `30m`"));
    }

    #[test]
    fn the_error_is_typed_and_carries_the_usage_of_the_command_meant() {
        let e = parse("scale api lots").unwrap_err();
        assert_eq!(e.message, "`lots` is not a count, +N, -N, max or min");
        assert_eq!(e.usage, usage_of("scale"));
        assert!(e.usage.starts_with("usage: scale TARGET"));
        assert_eq!(e.to_string(), format!("{}; {}", e.message, e.usage));
        assert_eq!(parse("reboot").unwrap_err().usage, USAGE);
        assert_eq!(parse("").unwrap_err().usage, USAGE);
        assert!(parse("event add x")
            .unwrap_err()
            .usage
            .contains("event add NAME"));
        // A quoted verb is a word, not a command.
        assert_eq!(parse("\"status\"").unwrap_err().usage, USAGE);
    }

    #[test]
    fn usage_lists_every_command() {
        for h in HELP {
            assert!(USAGE.contains(h.syntax), "{}", h.name);
            assert!(
                h.usage.starts_with(&format!("usage: {}", h.syntax)),
                "{}",
                h.name
            );
            assert!(
                parse(h.example).is_ok(),
                "{}: the example `{}` parses",
                h.name,
                h.example
            );
        }
        for verb in [
            "status", "scale", "pause", "resume", "undo", "lift-cap", "event", "help",
        ] {
            assert!(help_of(verb).is_some(), "{verb}");
            assert!(
                USAGE.contains(&format!("| {verb} "))
                    || USAGE.starts_with(&format!("usage: {verb} ")),
                "{verb}"
            );
        }
        assert!(USAGE.contains("event cancel NAME"));
        assert_eq!(usage_of("nope"), USAGE);
    }

    #[test]
    fn help_lists_every_command_or_shows_one() {
        let all = help(None);
        for h in HELP {
            assert!(all.contains(h.syntax), "{}", h.name);
        }
        let one = help(Some("scale"));
        assert!(
            one.starts_with("usage: scale TARGET N|+N|-N|max|min [--force]"),
            "{one}"
        );
        assert!(one.contains("e.g. `scale api 8`"), "{one}");
        assert!(!one.contains("lift-cap"), "{one}");
        assert_eq!(help(Some("nope")), all);
        assert_eq!(
            parse("help event add").unwrap(),
            Command::Help {
                topic: Some("event".into())
            }
        );
    }

    #[test]
    fn verbs_of_the_new_commands() {
        assert_eq!(parse("event cancel x").unwrap().verb(), Some(Verb::Event));
        assert_eq!(
            parse("event add x 2026-12-05T08:00Z 2026-12-05T09:00Z api=floor:3")
                .unwrap()
                .verb(),
            Some(Verb::Event)
        );
        assert_eq!(parse("help").unwrap().verb(), None);
        assert_eq!(parse("lift-cap B").unwrap().verb(), Some(Verb::LiftCap));
        assert_eq!(parse("event cancel x").unwrap().target(), None);
    }

    #[test]
    fn quoted_words_may_hold_spaces() {
        let budget = |text: &str| match parse(text) {
            Ok(Command::LiftCap { budget }) => budget,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(
            budget("lift-cap \"AI Service Monthly\""),
            "AI Service Monthly"
        );
        assert_eq!(
            budget("lift-cap 'AI Service Monthly'"),
            "AI Service Monthly"
        );
        assert_eq!(
            budget("lift-cap “AI Service Monthly”"),
            "AI Service Monthly"
        );
        assert_eq!(
            budget("lift-cap ‘AI Service Monthly’"),
            "AI Service Monthly"
        );
        // Clients do not always pair them.
        assert_eq!(
            budget("lift-cap ”AI Service Monthly”"),
            "AI Service Monthly"
        );
        assert_eq!(budget("lift-cap \"AI  Service\"   "), "AI  Service");
        // An apostrophe inside a word is a letter.
        assert_eq!(budget("lift-cap O'Brien-Monthly"), "O'Brien-Monthly");
        assert_eq!(budget("lift-cap \"Bob's budget\""), "Bob's budget");
        // A quoted --force is a word.
        assert_eq!(budget("lift-cap \"--force\""), "--force");
        // Slack's non-breaking spaces separate words too.
        assert_eq!(budget("lift-cap\u{a0}B"), "B");
    }

    #[test]
    fn quote_errors_name_the_quote() {
        let e = err("lift-cap “AI Service Monthly");
        assert!(e.contains("`“AI Service Monthly` is not closed"), "{e}");
        assert!(e.contains("usage: lift-cap"), "{e}");
        assert!(err("lift-cap 'AI").contains("`'AI` is not closed"));
        assert!(err("lift-cap \"AI\"x").contains("`x` follows the quote"));
        assert!(err("lift-cap \"\"").contains("budget name is empty"));
        let e = err("lift-cap AI Service Monthly");
        assert!(e.contains("unexpected `Service`"), "{e}");
        assert!(e.contains("lift-cap \"AI Service\""), "{e}");
    }

    #[test]
    fn quote_writes_what_parse_reads() {
        for word in [
            "AI-Service-Monthly",
            "AI Service Monthly",
            "Bob's budget",
            "say \"hi\"",
            "",
            "“odd”",
            "--force",
        ] {
            let q = quote(word).unwrap();
            assert_eq!(
                parse(&format!("lift-cap {q}")),
                if word.is_empty() {
                    parse("lift-cap \"\"")
                } else {
                    Ok(Command::LiftCap {
                        budget: word.to_string(),
                    })
                },
                "{word} as {q}"
            );
        }
        assert_eq!(quote("plain"), Some("plain".into()));
        assert_eq!(quote("both \" and '"), None);
        assert_eq!(quote("two\nlines"), None);
    }

    #[test]
    fn force_in_any_place_and_as_a_dash() {
        for text in [
            "scale api max --force",
            "scale --force api max",
            "scale api max —force",
            "scale api max –force",
        ] {
            assert!(parse(text).unwrap().forced(), "{text}");
        }
        assert!(!parse("scale api max").unwrap().forced());
        assert!(parse("pause api pin 40 --force").unwrap().forced());
    }

    #[test]
    fn pause_takes_for_and_durations_in_words() {
        let dur = |text: &str| match parse(text) {
            Ok(Command::Pause { duration, .. }) => duration,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(dur("pause api"), None);
        assert_eq!(dur("pause api for 2h"), Some(Dur::from_secs(7200)));
        assert_eq!(dur("pause api 1h 30m pin 3"), Some(Dur::from_secs(5400)));
        assert_eq!(dur("pause api for 1h 30m"), Some(Dur::from_secs(5400)));
        assert_eq!(dur("pause api pin 3 for 2h"), Some(Dur::from_secs(7200)));
        assert_eq!(dur("pause api \"1h 30m\""), Some(Dur::from_secs(5400)));
        assert!(err("pause api for").contains("`for` needs a duration"));
    }

    #[test]
    fn numbers_out_of_range_are_refused_naming_the_word() {
        assert_eq!(
            parse("scale api 100000").unwrap(),
            Command::Scale {
                target: "api".into(),
                to: ScaleTo::Exactly(100_000),
                force: false
            }
        );
        assert_eq!(
            parse("scale api -100000").unwrap(),
            Command::Scale {
                target: "api".into(),
                to: ScaleTo::By(-100_000),
                force: false
            }
        );
        for (text, word) in [
            ("scale api 100001", "`100001` is more than 100000"),
            ("scale api 4294967296", "`4294967296` is more than 100000"),
            (
                "scale api 99999999999999999999999",
                "`99999999999999999999999` is more than",
            ),
            (
                "scale api +100001",
                "`+100001` is a change of more than 100000",
            ),
            (
                "scale api -9223372036854775808",
                "`-9223372036854775808` is a change of more",
            ),
            (
                "scale api +9223372036854775807 --force",
                "`+9223372036854775807`",
            ),
            ("scale api +", "`+` is not a change"),
            ("scale api +2.5", "`+2.5` is not a change"),
            ("scale api 2.5", "`2.5` is not a count"),
            (
                "pause ai 1h pin 4294967295 --force",
                "`4294967295` is more than 100000",
            ),
            ("pause ai 1h pin -1", "`-1` is not a count"),
            ("pause ai 367days", "`367days` is longer than 366 days"),
            ("pause api 500000years", "`500000years`"),
            ("pause api 366days 1h", "longer than 366 days"),
            (
                "event add x 2026-12-05T08:00Z 2026-12-05T09:00Z api=floor:3 lead 400d",
                "`400d` is longer than 366 days",
            ),
            (
                "event add x 2026-12-05T08:00Z 2026-12-05T09:00Z api=floor:3 release-step 100001",
                "`100001` is more than 100000",
            ),
            (
                "event add x 2026-12-05T08:00Z 2026-12-05T09:00Z api=floor:100001",
                "`100001`: 100001 is more than 100000",
            ),
            (
                "event add x 2026-12-05T08:00Z 2026-12-05T09:00Z api=ceiling:+1001%",
                "`+1001%`: a change of +1001% is more than 1000%",
            ),
        ] {
            let e = err(text);
            assert!(e.contains(word), "{text}: {e}");
        }
        assert_eq!(
            parse("pause api 366days").unwrap(),
            Command::Pause {
                target: "api".into(),
                duration: Some(MAX_DURATION),
                pin: None,
                force: false
            }
        );
    }

    fn event_of(text: &str) -> (String, Event) {
        match parse(text) {
            Ok(Command::EventAdd { name, event }) => (name, event),
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn event_add_builds_the_policys_event() {
        let (name, e) = event_of(
            "event add launch 2026-12-05T08:00Z 2026-12-05T20:00Z api=floor:10,ceiling:+50% web=floor:+2 lead 2h",
        );
        assert_eq!(name, "launch");
        assert_eq!(e.start, "2026-12-05T08:00:00Z".parse().unwrap());
        assert_eq!(e.end, "2026-12-05T20:00:00Z".parse().unwrap());
        assert_eq!(e.lead, Some(Dur::from_secs(7200)));
        assert!(e.hold_scale_in);
        assert_eq!(e.release_step, None);
        assert!(!e.exceed_ceiling);
        assert_eq!(
            e.targets["api"],
            Uplift {
                floor: Some(Amount::Absolute(10)),
                ceiling: Some(Amount::Percent(50))
            }
        );
        assert_eq!(
            e.targets["web"],
            Uplift {
                floor: Some(Amount::Delta(2)),
                ceiling: None
            }
        );
        // The same event as the policy file writes it.
        let toml_event: Event = toml::from_str(
            r#"
            start = 2026-12-05T08:00:00Z
            end = "2026-12-05T20:00:00Z"
            lead = "2h"
            [targets]
            api = { floor = 10, ceiling = "+50%" }
            web = { floor = "+2" }
            "#,
        )
        .unwrap();
        assert_eq!(e, toml_event);

        let (_, e) = event_of(
            "EVENT ADD promo 2026-12-05T09:00+01:00 2026-12-05T10:30:00+01:00 no-hold ai=ceiling:40 release-step 3 exceed-ceiling",
        );
        assert_eq!(e.start, "2026-12-05T08:00:00Z".parse().unwrap());
        assert_eq!(e.end, "2026-12-05T09:30:00Z".parse().unwrap());
        assert!(!e.hold_scale_in);
        assert_eq!(e.release_step, Some(3));
        assert!(e.exceed_ceiling);
        assert_eq!(e.lead, None);
        // The policy file's spellings of the options are accepted too.
        let (_, e) = event_of(
            "event add p 2026-12-05T08:00Z 2026-12-05T09:00Z api=floor:3 release_step 2 exceed_ceiling no_hold",
        );
        assert_eq!(
            (e.release_step, e.exceed_ceiling, e.hold_scale_in),
            (Some(2), true, false)
        );
    }

    #[test]
    fn event_add_errors_name_the_word() {
        let base = "event add x 2026-12-05T08:00Z 2026-12-05T09:00Z";
        for (text, says) in [
            ("event add", "needs NAME START END"),
            (
                "event add 2026-12-05T08:00Z 2026-12-05T09:00Z api=floor:3",
                "`2026-12-05T08:00Z` is not an event name",
            ),
            (
                "event add api=floor:3",
                "`api=floor:3` is not an event name",
            ),
            (
                "event add x 2026-12-05T08:00",
                "START `2026-12-05T08:00` is not a time; write RFC 3339 with a zone",
            ),
            (
                "event add x tomorrow 2026-12-05T09:00Z api=floor:3",
                "START `tomorrow`",
            ),
            ("event add x 2026-12-05T08:00Z", "END is missing"),
            ("event add x 2026-12-05T08:00Z 9am api=floor:3", "END `9am`"),
            (base, "at least one TARGET=SPEC"),
            (&format!("{base} lead 2h"), "at least one TARGET=SPEC"),
            (
                &format!("{base} api"),
                "unexpected `api`: after END come TARGET=SPEC",
            ),
            (&format!("{base} api="), "`api=` raises nothing"),
            (&format!("{base} =floor:3"), "`=floor:3` names no target"),
            (
                &format!("{base} api=floor"),
                "`floor` in `api=floor` is not `floor:AMOUNT`",
            ),
            (
                &format!("{base} api=min:3"),
                "`min` in `api=min:3`: write `floor:` or `ceiling:`",
            ),
            (&format!("{base} api=floor:lots"), "`lots` is not an amount"),
            (&format!("{base} api=floor:50%"), "`50%` is not an amount"),
            (
                &format!("{base} api=floor:3,floor:4"),
                "`floor` is given twice in `api=floor:3,floor:4`",
            ),
            (
                &format!("{base} api=floor:3 api=ceiling:9"),
                "target `api` is given twice",
            ),
            (
                &format!("{base} api=floor:3 lead"),
                "`lead` needs a duration",
            ),
            (
                &format!("{base} api=floor:3 lead soon"),
                "`soon` is not a duration",
            ),
            (
                &format!("{base} api=floor:3 lead 1h lead 2h"),
                "`lead` is given twice",
            ),
            (
                &format!("{base} api=floor:3 release-step"),
                "`release-step` needs a count",
            ),
            (
                &format!("{base} api=floor:3 release-step two"),
                "`two` is not a count",
            ),
            (
                &format!("{base} api=floor:3 exceed-ceiling exceed-ceiling"),
                "twice",
            ),
            (
                &format!("{base} api=floor:3 --force"),
                "does not take --force",
            ),
        ] {
            let e = err(text);
            assert!(e.contains(says), "{text}: {e}");
            assert!(e.contains("usage: event add NAME"), "{text}: {e}");
        }
    }

    #[test]
    fn event_names_and_targets_may_be_quoted() {
        let (name, e) =
            event_of("event add “black friday” 2026-11-27T00:00Z 2026-11-28T00:00Z api=floor:+2");
        assert_eq!(name, "black friday");
        assert!(e.targets.contains_key("api"));
        assert_eq!(
            parse("event cancel 'black friday'").unwrap(),
            Command::EventCancel {
                name: "black friday".into()
            }
        );
    }
}
