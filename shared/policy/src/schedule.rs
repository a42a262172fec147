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

use chrono::offset::LocalResult;
use chrono::{
    DateTime, Datelike, Days, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;

pub use crate::cron::CronExpr;
use crate::model::{HolidaySpec, Policy, Schedule, Weekdays};

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
