//! `capstan simulate`: replays a timeline of signals through the engine, printing every
//! decision, then a per-target summary, and optionally drawing the day as an SVG chart.
//!
//! The timeline is JSON lines; blank lines and `#` comments are skipped. A line is either a
//! [`TimedSignal`] (`{"at": ..., "signal": {...}}`) or a raw AWS payload as a Lambda function
//! receives it, `{"at"?: ..., "aws": {...}}`: a CloudWatch alarm (EventBridge, Lambda alarm
//! action or SNS), a schedule request (EventBridge scheduled rule, or a Scheduler input: tick,
//! apply, add-event, cancel-event) or an AWS Budgets alert through SNS, read by the same parsers
//! as the functions (`capstan-events`). It is read whole and checked before anything is
//! simulated, so a bad line never leaves half a run.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use capstan_policy::model::Dur;
use capstan_policy::signal::TickSignal;
use capstan_policy::{
    decide, effective_bounds, load, Decision, Outcome, Policy, Reason, Signal, State, TimedSignal,
};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::{Map, Value};

use crate::chart::{Chart, Mark, MarkKind, Panel};
use crate::exit::{self, Failure};

/// How often the chart samples the effective floor and ceiling between decisions.
const CHART_SAMPLE: TimeDelta = TimeDelta::minutes(5);

/// Runs the subcommand: fine when the simulation ran, a finding when the policy has problems
/// (they are printed), trouble for a bad timeline, state or option (inputs, like the command
/// line: nothing was judged), or an I/O error.
pub fn run(
    file: &Path,
    timeline: &Path,
    state: Option<&Path>,
    chart: Option<&Path>,
    tick: Option<&str>,
) -> exit::Outcome {
    let text = read(file).map_err(Failure::trouble)?;
    let policy = match load(&text) {
        Ok(p) => p,
        Err(e) => {
            eprint!(
                "{}",
                crate::diagnostics::render(&file.display().to_string(), &e)
            );
            eprintln!("{}: {e}; nothing was simulated", file.display());
            return Err(Failure::finding());
        }
    };
    let timeline_text = read(timeline).map_err(Failure::trouble)?;
    let Timeline { entries, ignored } = parse_timeline(&timeline_text).map_err(|problems| {
        Failure::trouble(format!(
            "{} has {} problem(s); nothing was simulated:\n  {}",
            timeline.display(),
            problems.len(),
            problems.join("\n  ")
        ))
    })?;
    let state = match state {
        Some(path) => {
            let text = read(path).map_err(Failure::trouble)?;
            serde_json::from_str::<State>(&text).map_err(|e| {
                Failure::trouble(format!("{}: not a Capstan state: {e}", path.display()))
            })?
        }
        None => State::at_floor(&policy),
    };
    let every = tick.map(parse_tick).transpose().map_err(Failure::trouble)?;
    let entries = match every {
        Some(every) => with_ticks(entries, every),
        None => entries,
    };
    for note in &ignored {
        println!("{}: {note}", timeline.display());
    }
    let Some(first) = entries.first() else {
        println!(
            "{}: the timeline is empty; nothing to simulate",
            timeline.display()
        );
        return Ok(());
    };
    let (start, end) = (first.signal.at, entries[entries.len() - 1].signal.at);

    let generated = entries.iter().filter(|e| e.line.is_none()).count();
    println!(
        "Simulating {} signal(s) from {} to {}{}",
        entries.len(),
        start.format("%Y-%m-%d %H:%M:%SZ"),
        end.format("%Y-%m-%d %H:%M:%SZ"),
        match tick {
            Some(text) => format!(
                " ({} from the timeline, {generated} schedule ticks every {text}; ticks that change nothing are not shown)",
                entries.len() - generated,
            ),
            None => String::new(),
        }
    );
    println!();

    let mut sim = Simulation::new(&policy, state, chart.map(|_| start));
    for entry in &entries {
        let decision = sim.step(&entry.signal);
        if entry.line.is_some() || is_news(&entry.signal.signal, &decision) {
            println!("{}", decision.render_for(&policy));
        }
    }
    sim.sample_until(end + CHART_SAMPLE);
    print!("{}", sim.tally.render(&sim.state));

    if let (Some(path), Some(rec)) = (chart, sim.recorder) {
        let chart = Chart {
            title: format!(
                "capstan simulate {} {}: {} to {} UTC",
                file.display(),
                timeline.display(),
                start.format("%Y-%m-%d %H:%M"),
                end.format("%Y-%m-%d %H:%M")
            ),
            start,
            end,
            panels: rec.panels.into_values().collect(),
        };
        write_atomically(path, &chart.render()).map_err(Failure::trouble)?;
        println!("\nChart: {}", path.display());
    }
    Ok(())
}

/// The `--tick` interval: a duration of a second or more.
fn parse_tick(text: &str) -> Result<TimeDelta, String> {
    text.parse::<Dur>()
        .ok()
        .map(Dur::chrono)
        .filter(|d| *d >= TimeDelta::seconds(1))
        .ok_or_else(|| {
            format!("--tick `{text}` is not a duration of a second or more; write e.g. `5m`")
        })
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Writes through `PATH.tmp` and a rename, so a reader never sees half a chart.
fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// One signal to replay; `line` is its line in the timeline, `None` for a generated tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The line number (1-based) in the timeline file.
    pub line: Option<usize>,
    /// The signal and its time.
    pub signal: TimedSignal,
}

/// A parsed timeline.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Timeline {
    /// The signals to replay, in time order.
    pub entries: Vec<Entry>,
    /// AWS payloads that the functions would ignore (an alarm's configuration change...), each
    /// as `line N: ignored: why`.
    pub ignored: Vec<String>,
}

/// Parses a timeline: one [`TimedSignal`] or raw AWS payload (`{"at"?: ..., "aws": ...}`) per
/// line, blank lines and `#` comments skipped, entries in time order (equal times allowed). A
/// payload may carry several signals (SNS batches records): each is an entry of its line. Every
/// problem is reported, each with its line.
pub fn parse_timeline(text: &str) -> Result<Timeline, Vec<String>> {
    let mut timeline = Timeline::default();
    let mut problems = Vec::new();
    // The latest well-formed entry, for the order check.
    let mut latest: Option<(usize, DateTime<Utc>)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let signals = match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Object(map)) if map.contains_key("aws") => match aws_line(&map) {
                Ok(Payload::Signals(signals)) => signals,
                Ok(Payload::Ignored(why)) => {
                    timeline
                        .ignored
                        .push(format!("line {line}: ignored: {why}"));
                    continue;
                }
                Err(problem) => {
                    problems.push(format!("line {line}: {problem}"));
                    continue;
                }
            },
            _ => match serde_json::from_str::<TimedSignal>(trimmed) {
                Ok(signal) => vec![signal],
                Err(e) => {
                    problems.push(format!("line {line}: {}", describe_json_error(&e)));
                    continue;
                }
            },
        };
        for signal in signals {
            if let Some((prev_line, prev_at)) = latest {
                if signal.at < prev_at {
                    problems.push(format!(
                        "line {line}: {} is before {} on line {prev_line}; entries must be in time order",
                        signal.at.format("%Y-%m-%dT%H:%M:%SZ"),
                        prev_at.format("%Y-%m-%dT%H:%M:%SZ")
                    ));
                }
            }
            if latest.is_none_or(|(_, at)| signal.at >= at) {
                latest = Some((line, signal.at));
            }
            timeline.entries.push(Entry {
                line: Some(line),
                signal,
            });
        }
    }
    if problems.is_empty() {
        Ok(timeline)
    } else {
        Err(problems)
    }
}

/// What a raw AWS payload gave.
#[derive(Debug)]
enum Payload {
    /// The signals it carries, timed.
    Signals(Vec<TimedSignal>),
    /// A payload the functions accept and ignore, and why.
    Ignored(String),
}

/// Which function a payload is for, by its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Alarm,
    Schedule,
    Budget,
}

impl Kind {
    /// The kind of payload, without an article.
    fn what(self) -> &'static str {
        match self {
            Kind::Alarm => "CloudWatch alarm",
            Kind::Schedule => "schedule request",
            Kind::Budget => "AWS Budgets alert",
        }
    }

    /// The kind of payload, with its indefinite article.
    fn a_what(self) -> String {
        match self {
            Kind::Budget => format!("an {}", self.what()),
            _ => format!("a {}", self.what()),
        }
    }
}

/// The function a payload is for: SNS records whose message is plain text are AWS Budgets
/// alerts, other SNS records alarms; `source` `aws.cloudwatch` is an alarm; `action` or `source`
/// `aws.events` a schedule request.
fn classify(payload: &Value) -> Option<Kind> {
    let obj = payload.as_object()?;
    if let Some(records) = obj.get("Records") {
        let message = records
            .get(0)
            .and_then(|r| r.pointer("/Sns/Message"))
            .and_then(Value::as_str);
        return Some(match message {
            Some(m) if !m.trim_start().starts_with('{') => Kind::Budget,
            _ => Kind::Alarm,
        });
    }
    match obj.get("source").and_then(Value::as_str) {
        Some(capstan_events::CLOUDWATCH_SOURCE) => Some(Kind::Alarm),
        Some(capstan_events::SCHEDULE_SOURCE) => Some(Kind::Schedule),
        _ if obj.contains_key("action") => Some(Kind::Schedule),
        _ => None,
    }
}

/// A `{"at"?: ..., "aws": ...}` line: the payload read by the parser of the function it is
/// for, timed at `at`, else at the moment the payload carries.
fn aws_line(line: &Map<String, Value>) -> Result<Payload, String> {
    if let Some(other) = line.keys().find(|k| *k != "at" && *k != "aws") {
        return Err(format!(
            "unknown field `{other}` beside `aws`; expected `at` (optional) and `aws`"
        ));
    }
    let at = match line.get("at") {
        None => None,
        Some(v) => Some(
            serde_json::from_value::<DateTime<Utc>>(v.clone()).map_err(|_| {
                format!("`at` is {v}: expected an RFC 3339 time such as \"2026-11-23T08:00:00Z\"")
            })?,
        ),
    };
    let payload = &line["aws"];
    let Some(kind) = classify(payload) else {
        return Err(
            "`aws` is not a payload Capstan's functions accept: expected a CloudWatch alarm \
             (`source` \"aws.cloudwatch\", or SNS `Records` with an alarm message), a schedule \
             request (`source` \"aws.events\", or `action`), or an AWS Budgets alert (SNS \
             `Records` with the plain-text message)"
                .to_string(),
        );
    };
    let invalid = |e: capstan_events::EventError| {
        let path = if e.path.is_empty() {
            "aws".to_string()
        } else {
            format!("aws.{}", e.path)
        };
        format!("{path}: {} (read as {})", e.message, kind.a_what())
    };
    let timed: Vec<(Option<DateTime<Utc>>, Signal)> = match kind {
        Kind::Alarm => {
            match capstan_events::parse_alarm_event(payload, &capstan_events::AcceptedTopics::any())
                .map_err(invalid)?
            {
                capstan_events::Parsed::Alarms(alarms) => alarms
                    .into_iter()
                    .map(|a| (Some(a.changed_at), Signal::Alarm(a.signal)))
                    .collect(),
                capstan_events::Parsed::Ignored { why } => return Ok(Payload::Ignored(why)),
            }
        }
        Kind::Schedule => {
            // The line's `at` is the replay's clock; without one, the payload's own moment.
            let request = match at {
                Some(now) => capstan_events::parse_schedule_event(payload, now),
                None => capstan_events::parse_schedule_replay(payload),
            }
            .map_err(invalid)?;
            vec![(request.at, request.signal())]
        }
        Kind::Budget => {
            capstan_events::parse_budget_event(payload, &capstan_events::AcceptedTopics::any())
                .map_err(invalid)?
                .into_iter()
                .map(|b| (Some(b.sent_at), Signal::Budget(b.signal)))
                .collect()
        }
    };
    timed
        .into_iter()
        .map(|(carried, signal)| {
            let at = at.or(carried).ok_or_else(|| {
                format!(
                    "the {} carries no time (`{}`); give one with \"at\"",
                    kind.what(),
                    signal.summary()
                )
            })?;
            Ok(TimedSignal { at, signal })
        })
        .collect::<Result<_, String>>()
        .map(Payload::Signals)
}

/// serde_json's message without its "at line 1 column N" (the line is the timeline's), with
/// the column kept when it helps.
fn describe_json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let message = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(m, _)| m);
    format!("{message} (column {})", e.column())
}

/// Adds a schedule tick at every multiple of `every` (counted from the Unix epoch, so 5m ticks
/// fall on :00, :05, ...) from the first entry to the last, except where the timeline already
/// has a tick at that instant. A generated tick goes before timeline entries at the same
/// instant: the clock's work is done before the alarm that arrives in the same minute.
pub fn with_ticks(mut entries: Vec<Entry>, every: TimeDelta) -> Vec<Entry> {
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return entries;
    };
    let (start, end) = (first.signal.at, last.signal.at);
    let Ok(mut t) = start.duration_trunc(every) else {
        return entries;
    };
    if t < start {
        t += every;
    }
    let given: BTreeSet<DateTime<Utc>> = entries
        .iter()
        .filter(|e| matches!(e.signal.signal, Signal::Tick(_)))
        .map(|e| e.signal.at)
        .collect();
    while t <= end {
        if !given.contains(&t) {
            entries.push(Entry {
                line: None,
                signal: TimedSignal {
                    at: t,
                    signal: Signal::Tick(TickSignal::default()),
                },
            });
        }
        t += every;
    }
    // Stable: timeline entries keep their order; generated ticks (no line) go first.
    entries.sort_by_key(|e| (e.signal.at, e.line.is_some()));
    entries
}

/// True when a decision is worth printing although nobody asked for it (a generated tick):
/// people are told something, the state changes, or a target's result is news by the engine's
/// rule ([`capstan_policy::engine::is_news`], the one the functions tell people by).
fn is_news(signal: &Signal, decision: &Decision) -> bool {
    !decision.notices.is_empty()
        || !decision.ops.is_empty()
        || decision
            .targets
            .iter()
            .any(|t| capstan_policy::engine::is_news(signal, t))
}

/// The replay: the evolving state, the tallies, and the chart's samples when one is drawn.
struct Simulation<'a> {
    policy: &'a Policy,
    state: State,
    tally: Tally,
    recorder: Option<Recorder>,
}

impl<'a> Simulation<'a> {
    fn new(policy: &'a Policy, state: State, chart_from: Option<DateTime<Utc>>) -> Self {
        Simulation {
            policy,
            tally: Tally::new(&state),
            recorder: chart_from.map(|from| Recorder {
                next_sample: from,
                panels: BTreeMap::new(),
            }),
            state,
        }
    }

    /// Decides on one signal and applies the decision to the state.
    fn step(&mut self, signal: &TimedSignal) -> Decision {
        self.sample_until(signal.at);
        let decision = decide(self.policy, &signal.signal, &self.state, signal.at);
        decision.apply(&mut self.state);
        self.tally.count(&decision);
        if let Some(rec) = &mut self.recorder {
            rec.sample(self.policy, &self.state, signal.at);
            rec.mark(&decision, &self.state);
        }
        decision
    }

    /// Samples the chart's lines at every sampling instant before `until`, in the current state.
    fn sample_until(&mut self, until: DateTime<Utc>) {
        if let Some(rec) = &mut self.recorder {
            while rec.next_sample < until {
                let at = rec.next_sample;
                rec.sample(self.policy, &self.state, at);
                rec.next_sample = at + CHART_SAMPLE;
            }
        }
    }
}

/// The chart's data as the replay goes.
struct Recorder {
    next_sample: DateTime<Utc>,
    panels: BTreeMap<String, Panel>,
}

impl Recorder {
    /// Records desired capacity and the effective bounds of every target at `at`.
    fn sample(&mut self, policy: &Policy, state: &State, at: DateTime<Utc>) {
        for (instance, ts) in &state.targets {
            let Some(target) = policy.targets.get(&ts.target) else {
                continue;
            };
            let bounds = effective_bounds(policy, state, instance, at);
            let panel = self
                .panels
                .entry(instance.clone())
                .or_insert_with(|| Panel {
                    target: instance.clone(),
                    subtitle: target.resource_label(),
                    ..Panel::default()
                });
            panel.desired.push(at, ts.desired);
            panel.floor.push(at, bounds.floor);
            panel.ceiling.push(at, bounds.ceiling);
        }
    }

    /// Adds a marker for each action and each suppression (not for "already right").
    fn mark(&mut self, decision: &Decision, state: &State) {
        for t in &decision.targets {
            let Some(panel) = self.panels.get_mut(&t.target) else {
                continue;
            };
            let (kind, value) = match &t.outcome {
                Outcome::Change { to, .. } => (MarkKind::Action, to.desired),
                Outcome::Suppressed {
                    reason: Reason::AlreadyRight,
                } => continue,
                Outcome::Suppressed { .. } => (
                    MarkKind::Suppressed,
                    state.targets.get(&t.target).map_or(0, |s| s.desired),
                ),
            };
            panel.marks.push(Mark {
                at: decision.at,
                value,
                kind,
                note: format!("{} [{}] {}", t.source, t.outcome.kind(), t.explanation),
            });
        }
    }
}

/// Per-target counts for the summary.
#[derive(Default)]
struct TargetTally {
    start_desired: Option<u32>,
    actions: u32,
    forced: u32,
    suppressed: BTreeMap<&'static str, u32>,
}

/// What happened over the whole replay.
struct Tally {
    targets: BTreeMap<String, TargetTally>,
    signals: usize,
    notices: usize,
}

impl Tally {
    fn new(state: &State) -> Tally {
        let targets = state
            .targets
            .iter()
            .map(|(name, ts)| {
                (
                    name.clone(),
                    TargetTally {
                        start_desired: Some(ts.desired),
                        ..TargetTally::default()
                    },
                )
            })
            .collect();
        Tally {
            targets,
            signals: 0,
            notices: 0,
        }
    }

    fn count(&mut self, decision: &Decision) {
        self.signals += 1;
        self.notices += decision.notices.len();
        for t in &decision.targets {
            let tally = self.targets.entry(t.target.clone()).or_default();
            match &t.outcome {
                Outcome::Change { forced, .. } => {
                    tally.actions += 1;
                    tally.forced += u32::from(*forced);
                }
                Outcome::Suppressed {
                    reason: Reason::AlreadyRight,
                } => {}
                Outcome::Suppressed { reason } => {
                    *tally.suppressed.entry(reason.code()).or_default() += 1;
                }
            }
        }
    }

    /// The summary table: per target, actions, desired capacity at the start and the end, and
    /// suppressions by reason.
    fn render(&self, state: &State) -> String {
        let mut out = format!(
            "Summary: {} signal(s), {} notice(s)\n  {:<12} {:>7}  {:<10} suppressed\n",
            self.signals, self.notices, "target", "actions", "desired"
        );
        for (name, t) in &self.targets {
            let label = if name == "*" { "(no target)" } else { name };
            let desired = match (t.start_desired, state.targets.get(name)) {
                (Some(a), Some(b)) => format!("{a} -> {}", b.desired),
                _ => String::new(),
            };
            let actions = if t.forced > 0 {
                format!("{} ({} forced)", t.actions, t.forced)
            } else {
                t.actions.to_string()
            };
            let suppressed = if t.suppressed.is_empty() {
                "-".to_string()
            } else {
                let mut s = String::new();
                for (code, n) in &t.suppressed {
                    let _ = write!(s, "{}{code} x{n}", if s.is_empty() { "" } else { ", " });
                }
                s
            };
            let _ = writeln!(
                out,
                "  {label:<12} {actions:>7}  {desired:<10} {suppressed}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_policy::signal::{EventRequest, EventSignal};

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        format!("2026-11-23T{h:02}:{m:02}:00Z").parse().unwrap()
    }

    fn alarm_line(h: u32, m: u32) -> String {
        format!(
            r#"{{"at": "2026-11-23T{h:02}:{m:02}:00Z", "signal": {{"alarm": {{"name": "x", "state": "ALARM"}}}}}}"#
        )
    }

    #[test]
    fn timeline_skips_blanks_and_comments_and_keeps_line_numbers() {
        let text = format!(
            "# a day\n\n{}\n   \n{}\n",
            alarm_line(1, 0),
            alarm_line(2, 0)
        );
        let entries = parse_timeline(&text).unwrap().entries;
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].line, Some(3));
        assert_eq!(entries[1].line, Some(5));
        assert_eq!(entries[1].signal.at, at(2, 0));
    }

    #[test]
    fn timeline_reports_every_bad_line() {
        let text = format!(
            "{}\n{{\"at\": \"yesterday\"}}\n{}\nnot json\n",
            alarm_line(3, 0),
            alarm_line(1, 0)
        );
        let problems = parse_timeline(&text).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("line 2: "), "{}", problems[0]);
        assert!(problems[1].starts_with("line 3: ") && problems[1].contains("time order"));
        assert!(problems[1].contains("line 1"), "{}", problems[1]);
        assert!(problems[2].starts_with("line 4: ") && problems[2].contains("column"));
    }

    #[test]
    fn equal_times_are_in_order() {
        let text = format!("{}\n{}\n", alarm_line(1, 0), alarm_line(1, 0));
        assert_eq!(parse_timeline(&text).unwrap().entries.len(), 2);
    }

    #[test]
    fn ticks_fill_the_timeline_on_round_minutes() {
        let text = format!("{}\n{}\n", alarm_line(1, 3), alarm_line(1, 20));
        let entries = with_ticks(
            parse_timeline(&text).unwrap().entries,
            TimeDelta::minutes(5),
        );
        let times: Vec<_> = entries
            .iter()
            .map(|e| (e.line.is_some(), e.signal.at))
            .collect();
        assert_eq!(
            times,
            vec![
                (true, at(1, 3)),
                (false, at(1, 5)),
                (false, at(1, 10)),
                (false, at(1, 15)),
                (false, at(1, 20)),
                (true, at(1, 20)),
            ]
        );
    }

    #[test]
    fn a_given_tick_is_not_doubled() {
        let text = format!(
            "{}\n{{\"at\": \"2026-11-23T01:05:00Z\", \"signal\": {{\"tick\": {{}}}}}}\n{}\n",
            alarm_line(1, 0),
            alarm_line(1, 10)
        );
        let entries = with_ticks(
            parse_timeline(&text).unwrap().entries,
            TimeDelta::minutes(5),
        );
        let ticks_at_105 = entries
            .iter()
            .filter(|e| e.signal.at == at(1, 5) && matches!(e.signal.signal, Signal::Tick(_)))
            .count();
        assert_eq!(ticks_at_105, 1);
        assert_eq!(entries.len(), 5);
    }

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/../tests/fixtures/aws-events/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn payloads_are_told_apart_by_their_shape() {
        assert_eq!(
            classify(&fixture("budget-sns-actual-80pct.json")),
            Some(Kind::Budget)
        );
        assert_eq!(
            classify(&fixture("alarm-sns-single-metric.json")),
            Some(Kind::Alarm)
        );
        assert_eq!(
            classify(&fixture("alarm-eventbridge-state-change.json")),
            Some(Kind::Alarm)
        );
        assert_eq!(
            classify(&fixture("alarm-lambda-action.json")),
            Some(Kind::Alarm)
        );
        assert_eq!(
            classify(&fixture("schedule-eventbridge-rule.json")),
            Some(Kind::Schedule)
        );
        assert_eq!(
            classify(&serde_json::json!({"action": "cancel-event", "name": "x"})),
            Some(Kind::Schedule)
        );
        assert_eq!(classify(&serde_json::json!({"source": "aws.s3"})), None);
        assert_eq!(classify(&serde_json::json!("tick")), None);
    }

    #[test]
    fn a_payload_is_timed_by_what_it_carries_unless_at_is_given() {
        let line = |v: Value| -> Map<String, Value> { v.as_object().unwrap().clone() };
        let Payload::Signals(s) = aws_line(&line(
            serde_json::json!({"aws": fixture("alarm-lambda-action.json")}),
        ))
        .unwrap() else {
            panic!("an alarm")
        };
        assert_eq!(s.len(), 1);
        assert_eq!(
            s[0].at,
            "2026-11-23T09:12:15.490Z".parse::<DateTime<Utc>>().unwrap()
        );

        // SNS batches: every record is a signal, all at the given `at`.
        let mut batch = fixture("alarm-sns-single-metric.json");
        let record = batch["Records"][0].clone();
        batch["Records"].as_array_mut().unwrap().push(record);
        let Payload::Signals(s) = aws_line(&line(
            serde_json::json!({"at": "2026-11-24T00:00:00Z", "aws": batch}),
        ))
        .unwrap() else {
            panic!("alarms")
        };
        assert_eq!(s.len(), 2);
        assert!(s.iter().all(|t| t.at == at(0, 0) + TimeDelta::days(1)));
        assert!(matches!(s[1].signal, Signal::Alarm(_)));

        // add-event carries no time: `at` is needed, and the request becomes an event signal.
        let add = serde_json::json!({
            "action": "add-event", "name": "promo", "by": "ana",
            "event": {"start": "2026-11-24T09:00:00Z", "end": "2026-11-24T12:00:00Z",
                      "targets": {"api": {"floor": "+2"}}}
        });
        let e = aws_line(&line(serde_json::json!({"aws": add.clone()}))).unwrap_err();
        assert!(
            e.contains("carries no time") && e.contains("add event promo (by ana)"),
            "{e}"
        );
        let Payload::Signals(s) = aws_line(&line(
            serde_json::json!({"at": "2026-11-23T01:00:00Z", "aws": add}),
        ))
        .unwrap() else {
            panic!("an event")
        };
        assert!(matches!(
            &s[0].signal,
            Signal::Event(EventSignal { by, request: EventRequest::Add { name, .. } })
                if by == "ana" && name == "promo"
        ));

        let Payload::Ignored(why) = aws_line(&line(
            serde_json::json!({"aws": fixture("alarm-eventbridge-config-change.json")}),
        ))
        .unwrap() else {
            panic!("ignored")
        };
        assert!(why.contains("Configuration Change"), "{why}");
    }
}
