//! Periods on the same target that hold at the same moment with different bounds.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::path::{Path, Spans};
use super::Loader;
use crate::model::{Policy, Schedule};

/// A span of time, `[from, to)`.
pub(super) type Interval = (DateTime<Utc>, DateTime<Utc>);

/// The spans of time over which periods are compared: two weeks from `reference` (periods
/// repeat weekly, so every combination of weekdays is seen) and four days either side of each
/// daylight-saving change of `zones` in the year after it (when periods in different zones can
/// move against each other).
pub(super) fn comparison_ranges(reference: DateTime<Utc>, zones: &[Tz]) -> Vec<Interval> {
    let mut ranges = vec![(reference, reference + Duration::days(14))];
    for zone in zones {
        for shift in
            crate::schedule::dst_transitions(*zone, reference, reference + Duration::days(366))
        {
            ranges.push((shift.at - Duration::days(4), shift.at + Duration::days(4)));
        }
    }
    ranges
}

impl Loader<'_> {
    /// Two periods on the same target that hold at the same moment with different bounds.
    pub(super) fn check_periods(
        &mut self,
        policy: &Policy,
        spans: &Spans<'_>,
        reference: DateTime<Utc>,
    ) {
        let periods: Vec<(&String, &Schedule)> = policy
            .schedules
            .iter()
            .filter(|(_, s)| !s.is_occurrence() && s.begin.is_some() && s.end.is_some())
            .filter(|(_, s)| s.floor.is_some() || s.ceiling.is_some())
            .collect();
        let mut pairs = Vec::new();
        for (i, (_, a)) in periods.iter().enumerate() {
            for (j, (_, b)) in periods.iter().enumerate().skip(i + 1) {
                let shared: Vec<&String> =
                    a.targets.iter().filter(|t| b.targets.contains(t)).collect();
                let floors = matches!((a.floor, b.floor), (Some(x), Some(y)) if x != y);
                let ceilings = matches!((a.ceiling, b.ceiling), (Some(x), Some(y)) if x != y);
                if let Some(t) = shared.first() {
                    if floors || ceilings {
                        pairs.push((i, j, (*t).clone()));
                    }
                }
            }
        }
        if pairs.is_empty() {
            return;
        }
        let zone = |s: &Schedule| crate::schedule::zone_of(policy, s);
        let mut zones: Vec<Tz> = Vec::new();
        for (_, s) in &periods {
            if !zones.contains(&zone(s)) {
                zones.push(zone(s));
            }
        }
        let ranges = comparison_ranges(reference, &zones);
        let mut windows: BTreeMap<usize, Vec<Interval>> = BTreeMap::new();
        for (i, j, target) in pairs {
            for k in [i, j] {
                windows.entry(k).or_insert_with(|| {
                    ranges
                        .iter()
                        .flat_map(|(from, to)| {
                            crate::schedule::period_windows(policy, periods[k].1, *from, *to)
                        })
                        .filter(|w| !w.holiday)
                        .map(|w| (w.begin, w.end))
                        .collect()
                });
            }
            let (Some(wi), Some(wj)) = (windows.get(&i), windows.get(&j)) else {
                continue;
            };
            // The first moment both hold: an overlap starts at the later of two beginnings.
            let moment = wi
                .iter()
                .flat_map(|a| wj.iter().map(move |b| (a.0.max(b.0), a.1.min(b.1))))
                .filter(|(from, to)| from < to)
                .map(|(from, _)| from)
                .filter(|t| {
                    crate::schedule::period_holds(policy, periods[i].1, *t)
                        && crate::schedule::period_holds(policy, periods[j].1, *t)
                })
                .min();
            let Some(moment) = moment else {
                continue;
            };
            let ((na, a), (nb, b)) = (periods[i], periods[j]);
            // Report on the one that comes later in the file.
            let (pa, pb) = (Path::of(&["schedules", na]), Path::of(&["schedules", nb]));
            let (first, second, (first_s, second_s)) =
                if spans.value(&pa).start <= spans.value(&pb).start {
                    (pa, pb, (a, b))
                } else {
                    (pb, pa, (b, a))
                };
            let when = moment.with_timezone(&zone(first_s));
            let mut what = Vec::new();
            if let (Some(x), Some(y)) = (first_s.floor, second_s.floor) {
                if x != y {
                    what.push(format!("floor {y} vs {x}"));
                }
            }
            if let (Some(x), Some(y)) = (first_s.ceiling, second_s.ceiling) {
                if x != y {
                    what.push(format!("ceiling {y} vs {x}"));
                }
            }
            self.at(
                spans,
                &second,
                format!(
                    "period `{second}` overlaps period `{first}` on target `{target}` with a different {} (both hold at {})",
                    what.join(" and "),
                    when.format("%a %Y-%m-%d %H:%M %Z"),
                ),
                "make the periods not overlap (begin/end/weekdays/holidays) or give them the same floor and ceiling",
            );
        }
    }
}
