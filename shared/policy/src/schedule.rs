//! Schedules in time: cron occurrences, periods, holidays, time zones and DST.
//!
//! STUB: the signatures below are the contract the engine relies on; bodies to be written.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::{Policy, Schedule};

/// A five-field cron expression (minute hour day-of-month month day-of-week), evaluated in a
/// schedule's time zone.
#[derive(Debug, Clone)]
pub struct CronExpr {
    text: String,
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
}

impl FromStr for CronExpr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(CronExpr {
            text: s.to_string(),
        })
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

/// The time zone a schedule is evaluated in.
pub fn zone_of(policy: &Policy, schedule: &Schedule) -> Tz {
    schedule.zone.unwrap_or(policy.settings.zone)
}

/// True when `date` (local to the schedule's zone) is one of the schedule's holidays.
pub fn is_holiday(_policy: &Policy, _schedule: &Schedule, _date: NaiveDate) -> bool {
    false
}

/// True when period `schedule` holds at `at`.
pub fn period_holds(_policy: &Policy, _schedule: &Schedule, _at: DateTime<Utc>) -> bool {
    false
}

/// Occurrences of occurrence `schedule` in `(after, until]`, oldest first, holidays skipped.
pub fn occurrences(
    _policy: &Policy,
    _schedule: &Schedule,
    _after: DateTime<Utc>,
    _until: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    Vec::new()
}
