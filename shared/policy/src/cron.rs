//! Cron expressions: the five-field form and the AWS EventBridge form, parsed into bit sets
//! and matched against local wall-clock minutes. A leaf: nothing here knows of policies,
//! schedules or signals (the occurrences of a schedule are in [`crate::schedule`]).

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
    pub(crate) fn for_each_local(
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
}
