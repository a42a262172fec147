//! `capstan explain FILE [--target T] [--days N] [--from RFC3339]`: what holds when.
//!
//! For each target (or only `--target`): its resource, hard bounds and criticality; then day by
//! day, in the zone of the target's schedules, every period window (local and UTC, with its
//! floor and ceiling), every occurrence (with its desired count), holidays ("suspended:
//! holiday"), clock changes, and the events that touch the target; then the alarm rules and
//! budget rules that act on it. Plain text, ordered by name and time, so two runs with the same
//! `--from` print the same thing. Without `--from` it starts from the wall clock (the CLI may
//! read the clock; the policy crate never does).

use std::fmt::Write as _;
use std::path::Path;

use capstan_policy::model::{
    Action, AlarmRule, BudgetAction, BudgetPeriod, BudgetRule, Criticality, Event, Policy,
    Schedule, Target, Weekdays,
};
use capstan_policy::schedule::{
    dst_transitions, occurrence_details, period_windows, resolve_local, zone_of,
};
use capstan_policy::{effective_bounds, State};
use chrono::offset::LocalResult;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use crate::exit::{Failure, Outcome};

/// More occurrences than this in one day are summarised on one line.
const OCCURRENCES_LISTED: usize = 6;

/// Runs the subcommand: fine when the explanation was printed, a finding when the policy does
/// not load (its problems are printed), trouble for a bad `--from`, `--days` or `--target`, or
/// a file that cannot be read.
pub fn run(file: &Path, target: Option<&str>, days: u32, from: Option<&str>) -> Outcome {
    let from = match from {
        Some(text) => DateTime::parse_from_rfc3339(text.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                Failure::trouble(format!(
                    "--from `{text}` is not an RFC 3339 time such as 2026-03-28T00:00:00Z ({e})"
                ))
            })?,
        None => Utc::now(),
    };
    if !(1..=366).contains(&days) {
        return Err(Failure::trouble(format!(
            "--days {days}: give a number of days from 1 to 366"
        )));
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::trouble(format!("cannot read {}: {e}", file.display())))?;
    let policy = match capstan_policy::load(&text) {
        Ok(p) => p,
        Err(e) => {
            eprint!(
                "{}",
                crate::diagnostics::render(&file.display().to_string(), &e)
            );
            eprintln!("{}: {e}; nothing to explain", file.display());
            return Err(Failure::finding());
        }
    };
    // An unknown `--target` is a bad argument.
    let out = explain(&policy, &file.display().to_string(), target, days, from)
        .map_err(Failure::trouble)?;
    print!("{out}");
    Ok(())
}

/// The whole explanation as text; an unknown `target` is an error naming it.
fn explain(
    policy: &Policy,
    file: &str,
    target: Option<&str>,
    days: u32,
    from: DateTime<Utc>,
) -> Result<String, String> {
    let names: Vec<&str> = match target {
        Some(t) if policy.targets.contains_key(t) => vec![t],
        Some(t) => {
            let known: Vec<&str> = policy.targets.keys().map(String::as_str).collect();
            return Err(format!(
                "no target named `{t}` in {file}; its targets are: {}",
                if known.is_empty() {
                    "(none)".to_string()
                } else {
                    known.join(", ")
                }
            ));
        }
        None => policy.targets.keys().map(String::as_str).collect(),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{file}: from {}, {days} day(s)",
        from.format("%Y-%m-%dT%H:%M:%SZ")
    );
    if policy.settings.dry_run {
        let _ = writeln!(
            out,
            "settings: dry run (decisions are reported, nothing is changed)"
        );
    }
    if names.is_empty() {
        let _ = writeln!(out, "\nthe policy has no targets");
    }
    for name in names {
        let t = &policy.targets[name];
        out.push('\n');
        explain_target(&mut out, policy, name, t, days, from);
    }
    Ok(out)
}

fn explain_target(
    out: &mut String,
    policy: &Policy,
    name: &str,
    t: &Target,
    days: u32,
    from: DateTime<Utc>,
) {
    let schedules: Vec<(&str, &Schedule)> = policy
        .schedules
        .iter()
        .filter(|(_, s)| s.targets.iter().any(|x| x == name))
        .map(|(n, s)| (n.as_str(), s))
        .collect();
    let events: Vec<(&str, &Event)> = policy
        .events
        .iter()
        .filter(|(_, e)| e.targets.contains_key(name))
        .map(|(n, e)| (n.as_str(), e))
        .collect();
    let mut zones: Vec<Tz> = schedules.iter().map(|(_, s)| zone_of(policy, s)).collect();
    zones.sort_by_key(|z| z.name());
    zones.dedup();
    let zone = match zones.len() {
        1 => zones[0],
        _ => policy.settings.zone,
    };

    let _ = writeln!(out, "== target {name} ==");
    let _ = writeln!(out, "resource: {}", t.resource_label());
    let _ = writeln!(
        out,
        "hard bounds: floor {}, ceiling {}; max step {}; at most {} action(s) per hour",
        t.floor,
        t.ceiling,
        t.max_step(),
        t.max_actions_per_hour
    );
    let guard = t
        .cooldown
        .scale_in_guard
        .map(|g| format!("; no scale-in within {g} of any action"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "cooldowns: scale-out {}, scale-in {}{guard}",
        t.cooldown.scale_out, t.cooldown.scale_in
    );
    let _ = writeln!(
        out,
        "criticality: {}",
        match t.criticality {
            Criticality::Critical => "critical",
            Criticality::NonCritical => "non-critical",
        }
    );
    if t.dry_run {
        let _ = writeln!(out, "dry run: decisions are reported, nothing is changed");
    }

    if zones.len() > 1 {
        let list: Vec<String> = zones.iter().map(|z| z.name().to_string()).collect();
        let _ = writeln!(
            out,
            "schedules (in several zones: {}; days shown in {}):",
            list.join(", "),
            zone.name()
        );
    } else {
        let _ = writeln!(out, "schedules (times in {}):", zone.name());
    }
    if schedules.is_empty() {
        let _ = writeln!(out, "  none: the hard bounds hold all the time");
    }
    for (sname, s) in &schedules {
        let _ = writeln!(out, "  {sname}: {}", describe_schedule(policy, s, zone));
    }
    if !events.is_empty() {
        let _ = writeln!(out, "events:");
        for (ename, e) in &events {
            let _ = writeln!(out, "  {ename}: {}", describe_event(e, name));
        }
    }

    // Day by day.
    let state = State::at_floor(policy);
    let timeline = Timeline {
        policy,
        state: &state,
        name,
        schedules: &schedules,
        events: &events,
        zone,
    };
    let first = from.with_timezone(&zone).date_naive();
    let mut date = first;
    for i in 0..days {
        let Some(next) = date.succ_opt() else {
            break;
        };
        let day_start = resolve_local(zone, date.and_time(NaiveTime::MIN));
        let day_end = resolve_local(zone, next.and_time(NaiveTime::MIN));
        let day = Day {
            date,
            start: day_start,
            end: day_end,
            first: i == 0,
        };
        let rows = day_rows(&timeline, day);
        let offset = zone.offset_from_utc_datetime(&day_start.naive_utc()).fix();
        let _ = writeln!(
            out,
            "\n{} ({}, UTC{})",
            date.format("%a %Y-%m-%d"),
            zone.name(),
            offset
        );
        if rows.is_empty() {
            let _ = writeln!(out, "  nothing scheduled: the hard bounds hold");
        }
        let mut rows = rows;
        if zone == Tz::UTC {
            // Local time is UTC: one column says it all.
            rows.iter_mut().for_each(|r| r.utc.clear());
        }
        let w_local = rows.iter().map(|r| r.local.len()).max().unwrap_or(0);
        let w_utc = rows.iter().map(|r| r.utc.len()).max().unwrap_or(0);
        for r in rows {
            if w_utc == 0 {
                let _ = writeln!(out, "  {:<w_local$}  {}", r.local, r.what);
            } else {
                let _ = writeln!(
                    out,
                    "  {:<w_local$}  {:<w_utc$}  {}",
                    r.local, r.utc, r.what
                );
            }
        }
        date = next;
    }

    // Alarm rules.
    let _ = writeln!(out, "\nalarm rules acting on {name}:");
    let rules: Vec<(&String, &AlarmRule)> = policy
        .rules
        .iter()
        .filter(|(_, r)| r.target.as_deref() == Some(name))
        .collect();
    if rules.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for (rname, r) in rules {
        let _ = writeln!(out, "  {rname}: {}", describe_rule(r));
    }

    // Budget rules.
    let _ = writeln!(out, "budget rules acting on {name}:");
    if t.criticality == Criticality::Critical {
        let listed: Vec<&str> = policy
            .budgets
            .iter()
            .filter(|(_, b)| {
                b.targets
                    .as_ref()
                    .is_some_and(|l| l.iter().any(|x| x == name))
            })
            .map(|(n, _)| n.as_str())
            .collect();
        if listed.is_empty() {
            let _ = writeln!(out, "  never touched by budget rules (critical)");
        } else {
            let _ = writeln!(
                out,
                "  never touched by budget rules (critical; listed in {}, which skip it)",
                listed.join(", ")
            );
        }
    } else {
        let mut any = false;
        for (bname, b) in &policy.budgets {
            let covers = match &b.targets {
                Some(list) => list.iter().any(|x| x == name),
                None => true,
            };
            if covers && !matches!(b.action, BudgetAction::Notify) {
                any = true;
                let _ = writeln!(out, "  {bname}: {}", describe_budget(b));
            }
        }
        if !any {
            let _ = writeln!(out, "  none");
        }
    }
}

/// One line of a day: local time(s), UTC time(s), what happens.
struct Row {
    at: DateTime<Utc>,
    order: u8,
    local: String,
    utc: String,
    what: String,
}

/// What the day-by-day view of target `name` reads, the same every day: the policy, the state
/// it starts from, the schedules and events on the target, and the zone the days are in.
struct Timeline<'a> {
    policy: &'a Policy,
    state: &'a State,
    name: &'a str,
    schedules: &'a [(&'a str, &'a Schedule)],
    events: &'a [(&'a str, &'a Event)],
    zone: Tz,
}

/// One local day of the view: its date, the instants it starts and ends at, and whether it is
/// the first day shown.
#[derive(Clone, Copy)]
struct Day {
    date: NaiveDate,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    first: bool,
}

fn day_rows(timeline: &Timeline<'_>, day: Day) -> Vec<Row> {
    let Timeline {
        policy,
        state,
        name,
        schedules,
        events,
        zone,
    } = *timeline;
    let Day {
        date,
        start: day_start,
        end: day_end,
        first: first_day,
    } = day;
    let mut rows = Vec::new();
    let local = |at: DateTime<Utc>| clock(at, zone, date);
    let utc = |at: DateTime<Utc>| clock(at, Tz::UTC, date);

    for shift in dst_transitions(zone, day_start, day_end) {
        rows.push(Row {
            at: shift.at,
            order: 0,
            local: local(shift.at),
            utc: utc(shift.at),
            what: format!(
                "DST: clocks go {} -> {}, UTC offset {} -> {}",
                shift.clock_before().format("%H:%M"),
                shift.clock_after().format("%H:%M"),
                shift.before,
                shift.after
            ),
        });
    }

    for (sname, s) in schedules {
        if s.is_occurrence() {
            let occ = occurrence_details(policy, s, day_start - Duration::seconds(1), day_end);
            let occ: Vec<_> = occ.into_iter().filter(|o| o.at < day_end).collect();
            let desired = s
                .desired
                .map(|d| format!("desired {d}"))
                .unwrap_or_else(|| "no desired count".into());
            let suspended = |h: bool| if h { " -- suspended: holiday" } else { "" };
            if occ.len() > OCCURRENCES_LISTED {
                let (Some(a), Some(b)) = (occ.first(), occ.last()) else {
                    continue;
                };
                let holidays = occ.iter().filter(|o| o.holiday).count();
                rows.push(Row {
                    at: a.at,
                    order: 2,
                    local: format!("{} .. {}", local(a.at), local(b.at)),
                    utc: format!("{} .. {}", utc(a.at), utc(b.at)),
                    what: format!(
                        "occurrence {sname}: {desired}, {} times{}",
                        occ.len(),
                        suspended(holidays == occ.len())
                    ),
                });
                continue;
            }
            let szone = zone_of(policy, s);
            for o in occ {
                let mut note = String::new();
                let real = o.at.with_timezone(&szone).naive_local();
                if real != o.local {
                    let _ = write!(
                        note,
                        " (scheduled {}, which the clock change skips)",
                        o.local.format("%H:%M")
                    );
                } else if matches!(
                    szone.from_local_datetime(&o.local),
                    LocalResult::Ambiguous(..)
                ) {
                    let _ = write!(
                        note,
                        " ({} happens twice today; runs at the first)",
                        o.local.format("%H:%M")
                    );
                }
                rows.push(Row {
                    at: o.at,
                    order: 2,
                    local: local(o.at),
                    utc: utc(o.at),
                    what: format!(
                        "occurrence {sname}: {desired}{note}{}",
                        suspended(o.holiday)
                    ),
                });
            }
        } else {
            for w in period_windows(policy, s, day_start, day_end) {
                let continuing = w.begin < day_start;
                if continuing && !first_day {
                    continue; // listed on the day it began
                }
                if w.begin >= day_end {
                    continue;
                }
                let hard = policy.targets.get(name);
                let bounds = format!(
                    "floor {}, ceiling {}",
                    s.floor.map(|f| f.to_string()).unwrap_or_else(|| format!(
                        "{} (hard)",
                        hard.map(|t| t.floor).unwrap_or_default()
                    )),
                    s.ceiling.map(|c| c.to_string()).unwrap_or_else(|| format!(
                        "{} (hard)",
                        hard.map(|t| t.ceiling).unwrap_or_default()
                    ))
                );
                let status = if w.holiday {
                    " -- suspended: holiday".to_string()
                } else {
                    String::new()
                };
                rows.push(Row {
                    at: w.begin,
                    order: 1,
                    local: format!("{} -> {}", local(w.begin), local(w.end)),
                    utc: format!("{} -> {}", utc(w.begin), utc(w.end)),
                    what: format!(
                        "period {sname}: {bounds}{}{status}",
                        if continuing {
                            " (began the day before)"
                        } else {
                            ""
                        }
                    ),
                });
            }
        }
    }

    for (ename, e) in events {
        let lead = e.lead.map(|d| d.chrono()).unwrap_or_else(Duration::zero);
        let begin = e.start.0 - lead;
        let mut marks: Vec<(DateTime<Utc>, String)> = Vec::new();
        let then = |at: DateTime<Utc>| {
            let b = effective_bounds(policy, state, name, at);
            format!("bounds then {}..{}", b.floor, b.ceiling)
        };
        let hold = if e.hold_scale_in {
            ", scale-in held"
        } else {
            ""
        };
        if lead > Duration::zero() {
            marks.push((
                begin,
                format!(
                    "event {ename}: lead begins, uplift applies ({}{hold})",
                    then(begin)
                ),
            ));
            marks.push((e.start.0, format!("event {ename}: starts")));
        } else {
            marks.push((
                e.start.0,
                format!(
                    "event {ename}: starts, uplift applies ({}{hold})",
                    then(begin)
                ),
            ));
        }
        let step = e.release_step.unwrap_or(1).max(1);
        let scale_in = policy
            .targets
            .get(name)
            .map(|t| t.cooldown.scale_in.to_string())
            .unwrap_or_default();
        marks.push((
            e.end.0,
            format!(
                "event {ename}: ends; the floor comes down {step} every {scale_in} ({})",
                then(e.end.0)
            ),
        ));
        for (at, what) in marks {
            if at >= day_start && at < day_end {
                rows.push(Row {
                    at,
                    order: 3,
                    local: local(at),
                    utc: utc(at),
                    what,
                });
            }
        }
    }

    rows.sort_by(|a, b| (a.at, a.order, &a.what).cmp(&(b.at, b.order, &b.what)));
    rows
}

/// `HH:MM ZONE` of `at` in `zone`, with the weekday in front when it is not on `day`.
fn clock(at: DateTime<Utc>, zone: Tz, day: NaiveDate) -> String {
    let local = at.with_timezone(&zone);
    let text = if zone == Tz::UTC {
        local.format("%H:%MZ").to_string()
    } else {
        local.format("%H:%M %Z").to_string()
    };
    if local.date_naive() == day {
        text
    } else {
        format!("{} {text}", local.format("%a"))
    }
}

fn describe_schedule(policy: &Policy, s: &Schedule, view: Tz) -> String {
    let mut text = String::new();
    if let Some(cron) = &s.cron {
        let _ = write!(text, "occurrence `{cron}`");
        if let Some(d) = s.desired {
            let _ = write!(text, ", desired {d}");
        }
    } else {
        let begin = s
            .begin
            .map(|b| b.to_string())
            .unwrap_or_else(|| "00:00".into());
        let end = s
            .end
            .map(|e| e.to_string())
            .unwrap_or_else(|| begin.clone());
        let overnight = match (s.begin, s.end) {
            (Some(b), Some(e)) if e <= b => " (ends the next day)",
            (_, None) => " (for a whole day)",
            _ => "",
        };
        let days = match s.weekdays {
            Some(w) if w != Weekdays::ALL => format!(" beginning {w}"),
            _ => " every day".to_string(),
        };
        let _ = write!(text, "period {begin}-{end}{overnight}{days}");
        if let Some(f) = s.floor {
            let _ = write!(text, ", floor {f}");
        }
        if let Some(c) = s.ceiling {
            let _ = write!(text, ", ceiling {c}");
        }
    }
    let zone = zone_of(policy, s);
    if zone != view {
        let _ = write!(text, " ({})", zone.name());
    }
    if !s.holidays.is_empty() {
        let list: Vec<String> = s.holidays.iter().map(|h| h.to_string()).collect();
        let _ = write!(text, "; not on holidays {}", list.join(", "));
    }
    text
}

fn describe_event(e: &Event, target: &str) -> String {
    let mut text = format!(
        "{} to {}",
        e.start.0.format("%Y-%m-%dT%H:%MZ"),
        e.end.0.format("%Y-%m-%dT%H:%MZ")
    );
    if let Some(lead) = e.lead {
        let _ = write!(text, ", lead {lead}");
    }
    if let Some(up) = e.targets.get(target) {
        let mut parts = Vec::new();
        if let Some(f) = up.floor {
            parts.push(format!("floor {f}"));
        }
        if let Some(c) = up.ceiling {
            parts.push(format!("ceiling {c}"));
        }
        if !parts.is_empty() {
            let _ = write!(text, "; uplift {}", parts.join(", "));
        }
    }
    if e.exceed_ceiling {
        text.push_str(" (may exceed the hard ceiling)");
    }
    if e.hold_scale_in {
        text.push_str("; no scale-in from the lead to the end");
    }
    text
}

fn describe_action(a: &Action) -> String {
    match a {
        Action::Add(n) => format!("add {n}"),
        Action::Remove(n) => format!("remove {n}"),
        Action::Percent(p) => format!("change by {p:+}%"),
        Action::Set(n) => format!("set desired to {n}"),
        Action::FromMetric {
            per_unit,
            buffer_percent,
        } => format!("size from the metric: value / {per_unit} + {buffer_percent}%, rounded up"),
        Action::Notify => "notify".into(),
    }
}

fn describe_rule(r: &AlarmRule) -> String {
    let pattern = if r.is_glob() { " (glob)" } else { "" };
    let what = if r.steps.is_empty() {
        r.action
            .as_ref()
            .map(describe_action)
            .unwrap_or_else(|| "notify".into())
    } else {
        let steps: Vec<String> = r
            .steps
            .iter()
            .map(|s| {
                let range = match (s.lower, s.upper) {
                    (Some(l), Some(u)) => format!("{l} <= value < {u}"),
                    (Some(l), None) => format!("value >= {l}"),
                    (None, Some(u)) => format!("value < {u}"),
                    (None, None) => "any value".into(),
                };
                format!("{range}: {}", describe_action(&s.action))
            })
            .collect();
        format!("steps [{}]", steps.join("; "))
    };
    let mut text = format!("alarm `{}`{pattern} in {} -> {what}", r.alarm, r.state);
    if let Some(c) = r.cooldown {
        let _ = write!(text, "; cooldown {c}");
    }
    if let Some(g) = r.scale_in_guard {
        let _ = write!(text, "; scale-in guard {g}");
    }
    text
}

fn describe_budget(b: &BudgetRule) -> String {
    let until = match b.period {
        BudgetPeriod::Monthly => "the month",
        BudgetPeriod::Quarterly => "the quarter",
        BudgetPeriod::Yearly => "the year",
    };
    let what = match &b.action {
        BudgetAction::Notify => "notify".to_string(),
        BudgetAction::Cap => "cap: ceiling down to the floor".to_string(),
        BudgetAction::LowerCeiling(a) => format!("lower the ceiling: {a}"),
    };
    format!(
        "budget `{}` {} alert at {}% -> {what}, until {until} ends (UTC)",
        b.budget, b.alert_type, b.threshold
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> Policy {
        capstan_policy::load(text).unwrap_or_else(|e| panic!("{:?}", e.diagnostics))
    }

    const POLICY: &str = r#"
[settings]
zone = "Europe/Berlin"

[targets.api]
kind = "ecs"
cluster = "main"
service = "api"
floor = 2
ceiling = 20

[targets.ai]
kind = "ecs"
cluster = "main"
service = "ai"
floor = 2
ceiling = 30
criticality = "non-critical"

[schedules.night]
targets = ["api"]
begin = "22:00"
end = "06:00"
ceiling = 10

[schedules.nightly]
targets = ["api"]
cron = "30 2 * * *"
desired = 2
holidays = ["2026-03-30"]

[budgets.cap-ai]
budget = "AI-Monthly"
threshold = 100
action = "cap"
"#;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// True when one line holds every part, in order.
    fn line_with(out: &str, parts: &[&str]) -> bool {
        out.lines().any(|line| {
            let mut rest = line;
            parts.iter().all(|p| match rest.find(p) {
                Some(i) => {
                    rest = &rest[i + p.len()..];
                    true
                }
                None => false,
            })
        })
    }

    #[test]
    fn spring_forward_night_is_seven_hours_and_the_gap_occurrence_moves() {
        let p = policy(POLICY);
        let out = explain(&p, "p.toml", Some("api"), 3, at("2026-03-28T12:00:00Z")).unwrap();
        assert!(
            line_with(
                &out,
                &[
                    "22:00 CET -> Sun 06:00 CEST",
                    "21:00Z -> Sun 04:00Z",
                    "period night: floor 2 (hard), ceiling 10"
                ]
            ),
            "{out}"
        );
        assert!(
            line_with(
                &out,
                &[
                    "03:00 CEST",
                    "01:00Z",
                    "occurrence nightly: desired 2 (scheduled 02:30, which the clock change skips)"
                ]
            ),
            "{out}"
        );
        assert!(
            line_with(
                &out,
                &[
                    "03:00 CEST",
                    "01:00Z",
                    "DST: clocks go 02:00 -> 03:00, UTC offset +01:00 -> +02:00"
                ]
            ),
            "{out}"
        );
        assert!(
            line_with(
                &out,
                &[
                    "02:30 CEST",
                    "00:30Z",
                    "occurrence nightly: desired 2 -- suspended: holiday"
                ]
            ),
            "{out}"
        );
        // Saturday's list starts with Friday night's window, which runs into it.
        assert!(
            line_with(
                &out,
                &["Fri 22:00 CET -> 06:00 CET", "(began the day before)"]
            ),
            "{out}"
        );
        assert!(
            out.contains("never touched by budget rules (critical)"),
            "{out}"
        );
        assert!(!out.contains("== target ai =="), "{out}");
    }

    #[test]
    fn non_critical_targets_list_their_budget_rules() {
        let p = policy(POLICY);
        let out = explain(&p, "p.toml", Some("ai"), 1, at("2026-03-28T12:00:00Z")).unwrap();
        assert!(
            out.contains("cap-ai: budget `AI-Monthly` ACTUAL alert at 100% -> cap"),
            "{out}"
        );
        assert!(out.contains("nothing scheduled"), "{out}");
    }

    #[test]
    fn unknown_target_is_named() {
        let p = policy(POLICY);
        let err = explain(&p, "p.toml", Some("apy"), 1, at("2026-03-28T12:00:00Z")).unwrap_err();
        assert!(err.contains("`apy`") && err.contains("ai, api"), "{err}");
    }
}
