//! Schedules in time: cron occurrences, periods, holidays, time zones and DST.
//!
//! Every schedule is evaluated in its IANA time zone ([`zone_of`]: the schedule's `zone`, else
//! `settings.zone`). Local times are turned into instants by [`resolve_local`], which applies
//! two rules wherever a local time meets a daylight-saving change:
//!
//! - **Gap (spring forward).** A local time that does not exist happens at the first instant
//!   after the gap. In Europe/Berlin on 2026-03-29 the clocks go from 02:00 to 03:00, so 02:30
//!   happens at 01:00Z (03:00 CEST), the same instant as 03:00.
//! - **Overlap (fall back).** A local time that happens twice happens once, at its first
//!   (earlier) instant. In Europe/Berlin on 2026-10-25, 02:30 happens at 00:30Z (02:30 CEST),
//!   never again at 01:30Z (02:30 CET).
//!
//! **Occurrences** (`cron`): a five-field cron expression (minute hour day-of-month month
//! day-of-week), or the AWS EventBridge form `cron(min hour dom month dow year)`, matched
//! against local wall-clock minutes. Each matching local minute happens at the instant
//! [`resolve_local`] gives; several local minutes that land on one instant (a gap) make one
//! occurrence. So `*/15 * * * *` fires once at 03:00 CEST for the whole skipped hour on a
//! spring-forward day, and only during the first pass of the repeated hour on a fall-back day.
//! An occurrence whose scheduled local date is a holiday does not happen.
//!
//! **Periods** (`begin`/`end`): local times of day. `weekdays` are the days a period *begins*
//! on (default every day). An `end` at or before `begin` is on the next day (`end == begin`
//! makes a 24-hour period; a period with neither holds the whole day). Begin and end are each
//! resolved with the gap and overlap rules, so a period `22:00-06:00` over a spring-forward
//! night lasts seven hours and over a fall-back night nine. A holiday suspends the period
//! instance that *begins* on that local date (a Friday-evening period that runs into a
//! Saturday holiday still holds; one that begins on a holiday does not).
//!
//! **Holidays**: a schedule's `holidays` entries are dates, inclusive ranges, or names of
//! calendars under `[holidays]` (whose entries are dates and ranges).
//!
//! Nothing here reads the clock: every instant is an argument. [`occurrences`] and
//! [`period_holds`] run on every tick, so they allocate nothing per minute or per day scanned
//! (the occurrences returned are the only allocation).

use std::fmt;
use std::str::FromStr;

use chrono::offset::LocalResult;
use chrono::{
    DateTime, Datelike, Days, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::{HolidaySpec, Policy, Schedule, Weekdays};

// ---------------------------------------------------------------------------------------------
// Cron expressions
// ---------------------------------------------------------------------------------------------

/// A cron expression evaluated in a schedule's time zone.
///
/// Two forms are accepted:
///
/// - five fields, `minute hour day-of-month month day-of-week`, e.g. `0 8 * * MON-FRI`.
///   Day-of-week is 0-7 (0 and 7 are Sunday) or `SUN`-`SAT`;
/// - the AWS EventBridge form `cron(minute hour day-of-month month day-of-week year)`, e.g.
///   `cron(0 8 ? * MON-FRI *)`. As in AWS, day-of-week is 1-7 with 1 = Sunday, or `SUN`-`SAT`;
///   the year is `*` or a list of years and ranges (`2026,2027`, `2026-2028`).
///
/// Each field takes `*`, values, lists (`1,15`), ranges (`MON-FRI`), steps (`*/15`, `0-30/10`,
/// `5/20`) and, for months and days of the week, three-letter names in any case. `?` means `*`
/// and is allowed in the two day fields. When both day-of-month and day-of-week are restricted
/// (neither is `*` or `?`), a day matches when either matches, as in classic cron.
#[derive(Debug, Clone)]
pub struct CronExpr {
    text: String,
    /// Bits 0..=59.
    minutes: u64,
    /// Bits 0..=23.
    hours: u32,
    /// Bits 1..=31.
    days: u32,
    /// Bits 1..=12.
    months: u16,
    /// Bits 0..=6, 0 = Sunday.
    weekdays: u8,
    days_any: bool,
    weekdays_any: bool,
    /// Inclusive year ranges (AWS form); `None` for every year.
    years: Option<Vec<(i32, i32)>>,
}

impl PartialEq for CronExpr {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl CronExpr {
    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when the local date matches the day-of-month, month, day-of-week and year fields.
    pub fn matches_date(&self, date: NaiveDate) -> bool {
        if self.months & (1 << date.month()) == 0 {
            return false;
        }
        if let Some(years) = &self.years {
            let y = date.year();
            if !years.iter().any(|&(a, b)| a <= y && y <= b) {
                return false;
            }
        }
        let dom = self.days & (1 << date.day()) != 0;
        let dow = self.weekdays & (1 << date.weekday().num_days_from_sunday()) != 0;
        match (self.days_any, self.weekdays_any) {
            (true, true) => true,
            (true, false) => dow,
            (false, true) => dom,
            (false, false) => dom || dow,
        }
    }

    /// True when the local wall-clock minute `local` matches every field (seconds ignored).
    pub fn matches(&self, local: NaiveDateTime) -> bool {
        self.minutes & (1 << local.minute()) != 0
            && self.hours & (1 << local.hour()) != 0
            && self.matches_date(local.date())
    }

    /// Calls `f` with every matching local minute in `[lo, hi]`, in order. No allocation.
    fn for_each_local(
        &self,
        lo: NaiveDateTime,
        hi: NaiveDateTime,
        mut f: impl FnMut(NaiveDateTime),
    ) {
        let mut date = lo.date();
        let last = hi.date();
        while date <= last {
            if self.matches_date(date) {
                let mut hours = self.hours;
                while hours != 0 {
                    let h = hours.trailing_zeros();
                    hours &= hours - 1;
                    let Some(hour_start) = date.and_hms_opt(h, 0, 0) else {
                        continue;
                    };
                    if hour_start > hi {
                        break;
                    }
                    if hour_start + Duration::minutes(59) < lo {
                        continue;
                    }
                    let mut minutes = self.minutes;
                    while minutes != 0 {
                        let m = minutes.trailing_zeros();
                        minutes &= minutes - 1;
                        let local = hour_start + Duration::minutes(i64::from(m));
                        if local < lo {
                            continue;
                        }
                        if local > hi {
                            break;
                        }
                        f(local);
                    }
                }
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
    }
}

/// How one cron field reads.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names for values `names_base`, `names_base + 1`, ...
    names: &'static [&'static str],
    names_base: u32,
    /// `?` allowed (the day fields).
    question: bool,
    /// A range may end in `SUN` meaning the highest value (standard day-of-week, `MON-SUN`).
    sunday_ends_high: bool,
}

const MONTH_NAMES: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
    names_base: 0,
    question: false,
    sunday_ends_high: false,
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    ..MINUTE
};
const DAY_OF_MONTH: Field = Field {
    name: "day-of-month",
    min: 1,
    max: 31,
    question: true,
    ..MINUTE
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: MONTH_NAMES,
    names_base: 1,
    ..MINUTE
};
const DAY_OF_WEEK: Field = Field {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: DAY_NAMES,
    names_base: 0,
    question: true,
    sunday_ends_high: true,
};
const AWS_DAY_OF_WEEK: Field = Field {
    name: "day-of-week",
    min: 1,
    max: 7,
    names: DAY_NAMES,
    names_base: 1,
    question: true,
    sunday_ends_high: false,
};

impl Field {
    fn value(&self, s: &str, range_end: bool) -> Result<u32, String> {
        if s.is_empty() {
            return Err(format!("{} has an empty value", self.name));
        }
        if let Ok(v) = s.parse::<u32>() {
            if v < self.min || v > self.max {
                return Err(format!(
                    "{} {v} is out of range {}-{}",
                    self.name, self.min, self.max
                ));
            }
            return Ok(v);
        }
        if let Some(i) = self.names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            if range_end && self.sunday_ends_high && i == 0 {
                return Ok(7);
            }
            return Ok(self.names_base + i as u32);
        }
        let special = s.contains('#')
            || ["L", "LW"].iter().any(|x| s.eq_ignore_ascii_case(x))
            || (s.len() > 1
                && s.ends_with(['L', 'W', 'l', 'w'])
                && s[..s.len() - 1].parse::<u32>().is_ok());
        if special {
            return Err(format!(
                "{} `{s}`: `L`, `W` and `#` are not supported",
                self.name
            ));
        }
        if self.names.is_empty() {
            Err(format!(
                "{} `{s}` is not a number {}-{}",
                self.name, self.min, self.max
            ))
        } else {
            Err(format!(
                "{} `{s}` is not a number {}-{} or a name such as `{}`",
                self.name, self.min, self.max, self.names[1]
            ))
        }
    }

    /// Parses one field into a bit set of values; also says whether it was `*` or `?`.
    fn parse(&self, text: &str) -> Result<(u64, bool), String> {
        if text == "*" || text == "?" {
            if text == "?" && !self.question {
                return Err(format!(
                    "{}: `?` is only allowed in day-of-month and day-of-week",
                    self.name
                ));
            }
            return Ok((range_bits(self.min, self.max, 1), true));
        }
        let mut bits = 0u64;
        for item in text.split(',') {
            if item.is_empty() {
                return Err(format!("{} `{text}` has an empty list item", self.name));
            }
            let (base, step) = match item.split_once('/') {
                Some((base, step)) => {
                    let step = step.parse::<u32>().ok().filter(|s| *s > 0).ok_or_else(|| {
                        format!("{} step `{step}` is not a whole number above 0", self.name)
                    })?;
                    (base, Some(step))
                }
                None => (item, None),
            };
            let (lo, hi) = if base == "*" || base == "?" {
                if base == "?" && !self.question {
                    return Err(format!(
                        "{}: `?` is only allowed in day-of-month and day-of-week",
                        self.name
                    ));
                }
                (self.min, self.max)
            } else if let Some((a, b)) = base.split_once('-') {
                let (a, b) = (self.value(a, false)?, self.value(b, true)?);
                if a > b {
                    return Err(format!(
                        "{} range `{base}` goes backwards; write it low-high",
                        self.name
                    ));
                }
                (a, b)
            } else {
                let a = self.value(base, false)?;
                (a, if step.is_some() { self.max } else { a })
            };
            bits |= range_bits(lo, hi, step.unwrap_or(1));
        }
        Ok((bits, false))
    }
}

fn range_bits(lo: u32, hi: u32, step: u32) -> u64 {
    (lo..=hi)
        .step_by(step as usize)
        .fold(0u64, |acc, v| acc | (1 << v))
}

fn parse_years(text: &str) -> Result<Option<Vec<(i32, i32)>>, String> {
    if text == "*" || text == "?" {
        return Ok(None);
    }
    let bad = || format!("year `{text}` must be `*` or a list of years such as `2026,2027`");
    let year = |s: &str| -> Result<i32, String> {
        let y = s.parse::<i32>().map_err(|_| bad())?;
        if !(1970..=2199).contains(&y) {
            return Err(format!("year {y} is out of range 1970-2199"));
        }
        Ok(y)
    };
    let mut years = Vec::new();
    for item in text.split(',') {
        match item.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (year(a)?, year(b)?);
                if a > b {
                    return Err(format!(
                        "year range `{item}` goes backwards; write it low-high"
                    ));
                }
                years.push((a, b));
            }
            None => {
                let y = year(item)?;
                years.push((y, y));
            }
        }
    }
    Ok(Some(years))
}

fn parse_cron(text: &str) -> Result<CronExpr, String> {
    let (body, aws) = match text.strip_prefix("cron(") {
        Some(rest) => match rest.strip_suffix(')') {
            Some(body) => (body, true),
            None => return Err("the AWS form must end with `)`".into()),
        },
        None => (text, false),
    };
    let fields: Vec<&str> = body.split_whitespace().collect();
    if aws && fields.len() != 6 {
        return Err(format!(
            "expected 6 fields in the AWS form (minute hour day-of-month month day-of-week year), found {}",
            fields.len()
        ));
    }
    if !aws && fields.len() != 5 {
        let hint = if fields.len() == 6 {
            "; for the AWS form with a year write e.g. `cron(0 8 ? * MON-FRI *)`"
        } else {
            ""
        };
        return Err(format!(
            "expected 5 fields (minute hour day-of-month month day-of-week), found {}{hint}",
            fields.len()
        ));
    }
    let (minutes, _) = MINUTE.parse(fields[0])?;
    let (hours, _) = HOUR.parse(fields[1])?;
    let (days, days_any) = DAY_OF_MONTH.parse(fields[2])?;
    let (months, _) = MONTH.parse(fields[3])?;
    let (weekdays, weekdays_any) = if aws {
        let (bits, any) = AWS_DAY_OF_WEEK.parse(fields[4])?;
        (bits >> 1, any) // 1 = Sunday -> bit 0
    } else {
        let (bits, any) = DAY_OF_WEEK.parse(fields[4])?;
        ((bits | (bits >> 7)) & 0x7f, any) // 7 = Sunday -> bit 0
    };
    let years = if aws { parse_years(fields[5])? } else { None };
    let expr = CronExpr {
        text: text.to_string(),
        minutes,
        hours: hours as u32,
        days: days as u32,
        months: months as u16,
        weekdays: weekdays as u8,
        days_any,
        weekdays_any,
        years,
    };
    if !days_any && weekdays_any {
        // A day-of-month that no chosen month has (`0 0 31 2 *`) would never run.
        let longest = (1..=12u32)
            .filter(|m| expr.months & (1 << m) != 0)
            .map(|m| match m {
                2 => 29,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            })
            .max()
            .unwrap_or(0);
        let first_day = expr.days.trailing_zeros();
        if first_day > longest {
            return Err(format!(
                "day-of-month {first_day} never occurs in the chosen month(s); the schedule would never run"
            ));
        }
    }
    Ok(expr)
}

impl FromStr for CronExpr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        parse_cron(text).map_err(|e| format!("cron `{text}`: {e}"))
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for CronExpr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for CronExpr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// Zones and local times
// ---------------------------------------------------------------------------------------------

/// The time zone a schedule is evaluated in.
pub fn zone_of(policy: &Policy, schedule: &Schedule) -> Tz {
    schedule.zone.unwrap_or(policy.settings.zone)
}

/// The instant local time `local` happens in `zone`: a time in a spring-forward gap happens at
/// the first instant after the gap, a time that happens twice at its first (earlier) instant.
pub fn resolve_local(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => after_gap(zone, local),
    }
}

/// The first instant after the gap that swallows `local`. Gaps end on a whole minute in every
/// zone rule in use, so the first local minute that exists is the gap's end.
fn after_gap(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut probe = local
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(local);
    // The longest gap on record (Samoa, 2011) is a whole day.
    for _ in 0..(3 * 24 * 60) {
        probe += Duration::minutes(1);
        match zone.from_local_datetime(&probe) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(a, b) => return a.min(b).with_timezone(&Utc),
            LocalResult::None => {}
        }
    }
    // Unreachable for real zones; read the local time with the offset in force a day later.
    let offset = zone
        .offset_from_utc_datetime(&(local + Duration::days(1)))
        .fix();
    Utc.from_utc_datetime(&(local - Duration::seconds(i64::from(offset.local_minus_utc()))))
}

/// The UTC offset of `zone` at `at`.
pub fn offset_at(zone: Tz, at: DateTime<Utc>) -> FixedOffset {
    zone.offset_from_utc_datetime(&at.naive_utc()).fix()
}

/// A change of a zone's UTC offset (daylight-saving time starting or ending).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DstShift {
    /// The first instant with the new offset.
    pub at: DateTime<Utc>,
    /// The offset until then.
    pub before: FixedOffset,
    /// The offset from then on.
    pub after: FixedOffset,
}

impl DstShift {
    /// The wall-clock time the clocks show just before the change (e.g. 02:00 in spring).
    pub fn clock_before(&self) -> NaiveDateTime {
        self.at.naive_utc() + Duration::seconds(i64::from(self.before.local_minus_utc()))
    }

    /// The wall-clock time the clocks are set to (e.g. 03:00 in spring).
    pub fn clock_after(&self) -> NaiveDateTime {
        self.at.naive_utc() + Duration::seconds(i64::from(self.after.local_minus_utc()))
    }

    /// True when the clocks go forward (a gap of local times that do not exist).
    pub fn is_forward(&self) -> bool {
        self.after.local_minus_utc() > self.before.local_minus_utc()
    }
}

/// Every change of `zone`'s UTC offset at an instant in `[from, to)`, oldest first.
pub fn dst_transitions(zone: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DstShift> {
    let mut shifts = Vec::new();
    let step = Duration::hours(1);
    let mut t = from - Duration::seconds(1);
    let mut off = offset_at(zone, t);
    while t < to {
        let next = (t + step).min(to);
        let next_off = offset_at(zone, next);
        if next_off != off {
            // The change happened in (t, next]: find its first whole second.
            let (mut lo, mut hi) = (t.timestamp(), next.timestamp() + 1);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                let at_mid = DateTime::from_timestamp(mid, 0).unwrap_or(next);
                if offset_at(zone, at_mid) == off {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let hi = DateTime::from_timestamp(hi, 0).unwrap_or(next);
            if hi >= from && hi < to {
                shifts.push(DstShift {
                    at: hi,
                    before: off,
                    after: next_off,
                });
            }
            off = next_off;
        }
        t = next;
    }
    shifts
}

// ---------------------------------------------------------------------------------------------
// Holidays
// ---------------------------------------------------------------------------------------------

/// True when `date` (local to the schedule's zone) is one of the schedule's holidays: a date or
/// range it lists, or a date in a calendar it names.
pub fn is_holiday(policy: &Policy, schedule: &Schedule, date: NaiveDate) -> bool {
    schedule
        .holidays
        .iter()
        .any(|spec| spec_covers(policy, spec, date, 0))
}

fn spec_covers(policy: &Policy, spec: &HolidaySpec, date: NaiveDate, depth: u8) -> bool {
    match spec {
        HolidaySpec::Calendar(name) => {
            // Calendars hold dates; a calendar naming a calendar is followed a few levels deep.
            depth < 4
                && policy.holidays.get(name).is_some_and(|entries| {
                    entries
                        .iter()
                        .any(|e| spec_covers(policy, e, date, depth + 1))
                })
        }
        other => other.covers(date),
    }
}

// ---------------------------------------------------------------------------------------------
// Periods
// ---------------------------------------------------------------------------------------------

/// One instance of a period: the span it holds, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The local date the instance begins on.
    pub date: NaiveDate,
    /// The first instant it holds.
    pub begin: DateTime<Utc>,
    /// The first instant it no longer holds.
    pub end: DateTime<Utc>,
    /// True when `date` is a holiday: the instance is suspended and does not hold.
    pub holiday: bool,
}

/// The instance of period `schedule` beginning on local date `date`, ignoring weekdays and
/// holidays: `(begin, end)`.
fn period_instance(
    zone: Tz,
    schedule: &Schedule,
    date: NaiveDate,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let begin = schedule.begin.map(|t| t.0).unwrap_or(NaiveTime::MIN);
    let end = schedule.end.map(|t| t.0).unwrap_or(begin);
    let end_date = if end <= begin { date.succ_opt()? } else { date };
    Some((
        resolve_local(zone, date.and_time(begin)),
        resolve_local(zone, end_date.and_time(end)),
    ))
}

/// True when period `schedule` holds at `at`: an instance began at or before `at`, ends after
/// it, began on one of its weekdays and not on a holiday. Always false for occurrences.
pub fn period_holds(policy: &Policy, schedule: &Schedule, at: DateTime<Utc>) -> bool {
    if schedule.is_occurrence() {
        return false;
    }
    let zone = zone_of(policy, schedule);
    let weekdays = schedule.weekdays.unwrap_or(Weekdays::ALL);
    let today = at.with_timezone(&zone).date_naive();
    // An instance lasts at most a day (plus a DST hour), so it began today or yesterday; the
    // day before is checked too for zones with odd offsets.
    (0..=2u64).any(|back| {
        let Some(date) = today.checked_sub_days(Days::new(back)) else {
            return false;
        };
        weekdays.contains(date.weekday())
            && period_instance(zone, schedule, date)
                .is_some_and(|(begin, end)| begin <= at && at < end)
            && !is_holiday(policy, schedule, date)
    })
}

/// The instances of period `schedule` that overlap `[from, to)`, oldest first, including the
/// ones suspended by a holiday (marked `holiday`). Empty for occurrences; an instance that a
/// DST gap shrinks to nothing is left out.
pub fn period_windows(
    policy: &Policy,
    schedule: &Schedule,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Window> {
    let mut windows = Vec::new();
    if schedule.is_occurrence() || from >= to {
        return windows;
    }
    let zone = zone_of(policy, schedule);
    let weekdays = schedule.weekdays.unwrap_or(Weekdays::ALL);
    let first = from.with_timezone(&zone).date_naive();
    let mut date = first.checked_sub_days(Days::new(2)).unwrap_or(first);
    let last = to.with_timezone(&zone).date_naive();
    while date <= last {
        if weekdays.contains(date.weekday()) {
            if let Some((begin, end)) = period_instance(zone, schedule, date) {
                if begin < end && begin < to && end > from {
                    windows.push(Window {
                        date,
                        begin,
                        end,
                        holiday: is_holiday(policy, schedule, date),
                    });
                }
            }
        }
        match date.succ_opt() {
            Some(next) => date = next,
            None => break,
        }
    }
    windows
}

// ---------------------------------------------------------------------------------------------
// Occurrences
// ---------------------------------------------------------------------------------------------

/// One time an occurrence schedule comes round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    /// When it happens.
    pub at: DateTime<Utc>,
    /// The local time the cron expression matched (in a DST gap, a time the clocks skip).
    pub local: NaiveDateTime,
    /// True when the local date is a holiday: the occurrence is skipped.
    pub holiday: bool,
}

/// Calls `f` with every occurrence in `(after, until]`, oldest first, holidays included and
/// marked. Allocates nothing.
fn walk_occurrences(
    policy: &Policy,
    schedule: &Schedule,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
    mut f: impl FnMut(Occurrence),
) {
    let Some(cron) = &schedule.cron else {
        return;
    };
    if until <= after {
        return;
    }
    let zone = zone_of(policy, schedule);
    // Local times are resolved monotonically (a later local time never happens earlier), so
    // a local time that happens after `after` is later than `after`'s own local time. At the
    // other end, a local time in a repeated hour happens at its first instant, up to the
    // overlap earlier than the local reading of `until` suggests; the widest offset of the
    // last hours covers that.
    let lo = after.with_timezone(&zone).naive_local();
    let widest = offset_at(zone, until)
        .local_minus_utc()
        .max(offset_at(zone, until - Duration::hours(3)).local_minus_utc());
    let hi = until.naive_utc() + Duration::seconds(i64::from(widest));
    let mut last: Option<DateTime<Utc>> = None;
    let mut holiday_date: Option<(NaiveDate, bool)> = None;
    cron.for_each_local(lo, hi, |local| {
        let at = resolve_local(zone, local);
        if at <= after || at > until || last == Some(at) {
            return;
        }
        last = Some(at);
        let date = local.date();
        let holiday = match holiday_date {
            Some((d, h)) if d == date => h,
            _ => {
                let h = is_holiday(policy, schedule, date);
                holiday_date = Some((date, h));
                h
            }
        };
        f(Occurrence { at, local, holiday });
    });
}

/// Occurrences of occurrence `schedule` in `(after, until]`, oldest first, holidays skipped.
/// Empty for periods.
pub fn occurrences(
    policy: &Policy,
    schedule: &Schedule,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    walk_occurrences(policy, schedule, after, until, |o| {
        if !o.holiday {
            out.push(o.at);
        }
    });
    out
}

/// Like [`occurrences`], with the matched local time and the ones suspended by a holiday
/// (marked `holiday`); for explaining a schedule.
pub fn occurrence_details(
    policy: &Policy,
    schedule: &Schedule,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<Occurrence> {
    let mut out = Vec::new();
    walk_occurrences(policy, schedule, after, until, |o| out.push(o));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cron(s: &str) -> CronExpr {
        s.parse().unwrap()
    }

    #[test]
    fn fields_parse_to_bits() {
        let c = cron("*/15 8-10 * * MON-FRI");
        assert_eq!(c.minutes, 1 | 1 << 15 | 1 << 30 | 1 << 45);
        assert_eq!(c.hours, 0b111 << 8);
        assert_eq!(c.weekdays, 0b0111110);
        assert!(c.days_any && !c.weekdays_any);
        let c = cron("0 0 * * 7");
        assert_eq!(c.weekdays, 1);
        let c = cron("0 0 * * sat-sun");
        assert_eq!(c.weekdays, 1 | 1 << 6);
        let c = cron("5/20 * * jan,DEC *");
        assert_eq!(c.minutes, 1 << 5 | 1 << 25 | 1 << 45);
        assert_eq!(c.months, 1 << 1 | 1 << 12);
    }

    #[test]
    fn aws_day_of_week_counts_from_sunday_one() {
        let c = cron("cron(0 8 ? * 2-6 *)");
        assert_eq!(c.weekdays, 0b0111110, "2-6 is MON-FRI in AWS");
        let c = cron("cron(0 8 ? * 1 2026)");
        assert_eq!(c.weekdays, 1);
        assert_eq!(c.years, Some(vec![(2026, 2026)]));
    }

    #[test]
    fn gap_resolves_to_first_instant_after() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let local = NaiveDate::from_ymd_opt(2026, 3, 29)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        assert_eq!(
            resolve_local(berlin, local).to_rfc3339(),
            "2026-03-29T01:00:00+00:00"
        );
    }
}
