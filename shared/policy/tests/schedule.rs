//! Schedules in time: cron parsing, occurrences and periods across DST changes in
//! Europe/Berlin (2026-03-29, 2026-10-25) and America/New_York (2026-03-08, 2026-11-01),
//! holidays and weekdays. Every expected instant was worked out by hand from the zone rules.

use capstan_policy::model::{Policy, Schedule};
use capstan_policy::schedule::{
    dst_transitions, is_holiday, occurrence_details, occurrences, period_holds, period_windows,
    resolve_local, zone_of, CronExpr,
};
use chrono::{DateTime, NaiveDate, Utc};
use proptest::prelude::*;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("bad test time {s}: {e}"))
        .with_timezone(&Utc)
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn z(instants: &[DateTime<Utc>]) -> Vec<String> {
    instants
        .iter()
        .map(|i| i.format("%Y-%m-%dT%H:%MZ").to_string())
        .collect()
}

/// A policy with one schedule `s` whose body is `body` (TOML keys), plus a `de` calendar.
fn policy(zone: &str, body: &str) -> Policy {
    let text = format!(
        r#"
[settings]
zone = "{zone}"

[holidays]
de = ["2026-10-03", "2026-12-24..2026-12-26"]

[targets.api]
kind = "ecs"
cluster = "c"
service = "s"
floor = 2
ceiling = 20

[schedules.s]
targets = ["api"]
{body}
"#
    );
    toml::from_str(&text).unwrap_or_else(|e| panic!("test policy does not parse: {e}"))
}

fn sched(p: &Policy) -> &Schedule {
    &p.schedules["s"]
}

fn occ(zone: &str, cron: &str, after: &str, until: &str) -> Vec<String> {
    let p = policy(zone, &format!("cron = \"{cron}\"\ndesired = 2"));
    z(&occurrences(&p, sched(&p), t(after), t(until)))
}

fn windows(zone: &str, body: &str, from: &str, to: &str) -> Vec<String> {
    let p = policy(zone, body);
    period_windows(&p, sched(&p), t(from), t(to))
        .iter()
        .map(|w| {
            format!(
                "{} {}..{}{}",
                w.date,
                w.begin.format("%m-%dT%H:%MZ"),
                w.end.format("%m-%dT%H:%MZ"),
                if w.holiday { " holiday" } else { "" }
            )
        })
        .collect()
}

// ----- occurrences across DST -----------------------------------------------------------------

#[test]
fn berlin_spring_forward_0230_runs_once_right_after_the_gap() {
    assert_eq!(
        occ(
            "Europe/Berlin",
            "30 2 * * *",
            "2026-03-27T00:00:00Z",
            "2026-03-31T00:00:00Z"
        ),
        [
            "2026-03-27T01:30Z", // 02:30 CET
            "2026-03-28T01:30Z",
            "2026-03-29T01:00Z", // 02:30 does not exist: 03:00 CEST
            "2026-03-30T00:30Z", // 02:30 CEST
        ]
    );
}

#[test]
fn berlin_fall_back_0230_runs_once_at_the_first_pass() {
    assert_eq!(
        occ(
            "Europe/Berlin",
            "30 2 * * *",
            "2026-10-24T00:00:00Z",
            "2026-10-27T00:00:00Z"
        ),
        [
            "2026-10-24T00:30Z", // 02:30 CEST
            "2026-10-25T00:30Z", // 02:30 CEST, not again at 01:30Z (02:30 CET)
            "2026-10-26T01:30Z", // 02:30 CET
        ]
    );
}

#[test]
fn berlin_0800_follows_the_local_clock_across_both_changes() {
    assert_eq!(
        occ(
            "Europe/Berlin",
            "0 8 * * *",
            "2026-03-28T00:00:00Z",
            "2026-03-30T00:00:00Z"
        ),
        ["2026-03-28T07:00Z", "2026-03-29T06:00Z"]
    );
    assert_eq!(
        occ(
            "Europe/Berlin",
            "0 8 * * *",
            "2026-10-24T00:00:00Z",
            "2026-10-26T00:00:00Z"
        ),
        ["2026-10-24T06:00Z", "2026-10-25T07:00Z"]
    );
}

#[test]
fn new_york_spring_forward_and_fall_back() {
    assert_eq!(
        occ(
            "America/New_York",
            "30 2 * * *",
            "2026-03-07T00:00:00Z",
            "2026-03-10T00:00:00Z"
        ),
        [
            "2026-03-07T07:30Z", // 02:30 EST
            "2026-03-08T07:00Z", // gap: 03:00 EDT
            "2026-03-09T06:30Z", // 02:30 EDT
        ]
    );
    assert_eq!(
        occ(
            "America/New_York",
            "30 1 * * *",
            "2026-10-31T00:00:00Z",
            "2026-11-03T00:00:00Z"
        ),
        [
            "2026-10-31T05:30Z", // 01:30 EDT
            "2026-11-01T05:30Z", // 01:30 EDT only, not 06:30Z (01:30 EST)
            "2026-11-02T06:30Z", // 01:30 EST
        ]
    );
    assert_eq!(
        occ(
            "America/New_York",
            "0 8 * * *",
            "2026-03-07T00:00:00Z",
            "2026-03-09T00:00:00Z"
        ),
        ["2026-03-07T13:00Z", "2026-03-08T12:00Z"]
    );
    assert_eq!(
        occ(
            "America/New_York",
            "0 8 * * *",
            "2026-10-31T00:00:00Z",
            "2026-11-02T00:00:00Z"
        ),
        ["2026-10-31T12:00Z", "2026-11-01T13:00Z"]
    );
}

#[test]
fn every_quarter_hour_skips_the_gap_once_and_the_repeat_entirely() {
    // Spring: 02:00..02:45 do not exist and all land on 03:00 CEST with 03:00 itself.
    assert_eq!(
        occ(
            "Europe/Berlin",
            "*/15 * * * *",
            "2026-03-29T00:50:00Z",
            "2026-03-29T01:20:00Z"
        ),
        ["2026-03-29T01:00Z", "2026-03-29T01:15Z"]
    );
    // Autumn: the repeated hour (01:00Z..02:00Z, 02:xx CET) brings nothing new.
    assert_eq!(
        occ(
            "Europe/Berlin",
            "*/30 * * * *",
            "2026-10-24T23:50:00Z",
            "2026-10-25T02:10:00Z"
        ),
        [
            "2026-10-25T00:00Z",
            "2026-10-25T00:30Z",
            "2026-10-25T02:00Z"
        ]
    );
    // A tick from the first pass into the repeat: the first pass's times count, once.
    assert_eq!(
        occ(
            "Europe/Berlin",
            "*/10 * * * *",
            "2026-10-25T00:20:00Z",
            "2026-10-25T01:10:00Z"
        ),
        [
            "2026-10-25T00:30Z",
            "2026-10-25T00:40Z",
            "2026-10-25T00:50Z"
        ]
    );
    // A tick inside the repeated hour sees nothing.
    assert!(occ(
        "Europe/Berlin",
        "*/30 * * * *",
        "2026-10-25T01:10:00Z",
        "2026-10-25T01:40:00Z"
    )
    .is_empty());
}

#[test]
fn window_is_after_exclusive_until_inclusive() {
    let got = occ(
        "UTC",
        "0 8 * * *",
        "2026-05-01T08:00:00Z",
        "2026-05-02T08:00:00Z",
    );
    assert_eq!(got, ["2026-05-02T08:00Z"]);
    assert!(occ(
        "UTC",
        "0 8 * * *",
        "2026-05-02T08:00:00Z",
        "2026-05-02T08:00:00Z"
    )
    .is_empty());
}

// ----- periods across DST ---------------------------------------------------------------------

const BUSINESS: &str = r#"weekdays = ["mon-fri"]
begin = "08:00"
end = "20:00"
floor = 4"#;

#[test]
fn berlin_business_hours_around_spring_forward() {
    let p = policy("Europe/Berlin", BUSINESS);
    let s = sched(&p);
    // Friday 27 March, CET.
    assert!(!period_holds(&p, s, t("2026-03-27T06:59:59Z")));
    assert!(period_holds(&p, s, t("2026-03-27T07:00:00Z")));
    assert!(period_holds(&p, s, t("2026-03-27T18:59:59Z")));
    assert!(!period_holds(&p, s, t("2026-03-27T19:00:00Z")));
    // Weekend: nothing.
    assert!(!period_holds(&p, s, t("2026-03-28T10:00:00Z")));
    assert!(!period_holds(&p, s, t("2026-03-29T10:00:00Z")));
    // Monday 30 March, CEST.
    assert!(!period_holds(&p, s, t("2026-03-30T05:59:59Z")));
    assert!(period_holds(&p, s, t("2026-03-30T06:00:00Z")));
    assert!(!period_holds(&p, s, t("2026-03-30T18:00:00Z")));
    assert_eq!(
        windows(
            "Europe/Berlin",
            BUSINESS,
            "2026-03-27T00:00:00Z",
            "2026-03-31T00:00:00Z"
        ),
        [
            "2026-03-27 03-27T07:00Z..03-27T19:00Z",
            "2026-03-30 03-30T06:00Z..03-30T18:00Z",
        ]
    );
}

#[test]
fn berlin_business_hours_around_fall_back() {
    assert_eq!(
        windows(
            "Europe/Berlin",
            BUSINESS,
            "2026-10-23T00:00:00Z",
            "2026-10-27T00:00:00Z"
        ),
        [
            "2026-10-23 10-23T06:00Z..10-23T18:00Z",
            "2026-10-26 10-26T07:00Z..10-26T19:00Z",
        ]
    );
}

const NIGHT: &str = r#"begin = "22:00"
end = "06:00"
ceiling = 10"#;

#[test]
fn berlin_night_period_over_the_transition_nights() {
    // Spring: 22:00 CET to 06:00 CEST is seven hours; autumn: 22:00 CEST to 06:00 CET is nine.
    assert_eq!(
        windows(
            "Europe/Berlin",
            NIGHT,
            "2026-03-28T12:00:00Z",
            "2026-03-29T12:00:00Z"
        ),
        ["2026-03-28 03-28T21:00Z..03-29T04:00Z"]
    );
    assert_eq!(
        windows(
            "Europe/Berlin",
            NIGHT,
            "2026-10-24T12:00:00Z",
            "2026-10-25T12:00:00Z"
        ),
        ["2026-10-24 10-24T20:00Z..10-25T05:00Z"]
    );
    let p = policy("Europe/Berlin", NIGHT);
    assert!(period_holds(&p, sched(&p), t("2026-10-25T04:59:00Z")));
    assert!(!period_holds(&p, sched(&p), t("2026-10-25T05:00:00Z")));
    assert!(period_holds(&p, sched(&p), t("2026-03-29T03:59:00Z")));
    assert!(!period_holds(&p, sched(&p), t("2026-03-29T04:00:00Z")));
}

#[test]
fn new_york_periods_over_the_transitions() {
    assert_eq!(
        windows(
            "America/New_York",
            BUSINESS,
            "2026-03-06T02:00:00Z",
            "2026-03-10T00:00:00Z"
        ),
        [
            "2026-03-06 03-06T13:00Z..03-07T01:00Z", // EST
            "2026-03-09 03-09T12:00Z..03-10T00:00Z", // EDT
        ]
    );
    assert_eq!(
        windows(
            "America/New_York",
            NIGHT,
            "2026-03-07T12:00:00Z",
            "2026-03-08T12:00:00Z"
        ),
        ["2026-03-07 03-08T03:00Z..03-08T10:00Z"]
    );
    assert_eq!(
        windows(
            "America/New_York",
            NIGHT,
            "2026-10-31T12:00:00Z",
            "2026-11-01T12:00:00Z"
        ),
        ["2026-10-31 11-01T02:00Z..11-01T11:00Z"]
    );
}

#[test]
fn period_edges_inside_the_gap_and_the_overlap() {
    // Begins at 02:30, which does not exist on 29 March: begins at 03:00 CEST (01:00Z).
    let body = "begin = \"02:30\"\nend = \"04:00\"\nfloor = 3";
    assert_eq!(
        windows(
            "Europe/Berlin",
            body,
            "2026-03-29T00:00:00Z",
            "2026-03-29T12:00:00Z"
        ),
        ["2026-03-29 03-29T01:00Z..03-29T02:00Z"]
    );
    // Ends at 02:30, which happens twice on 25 October: ends at the first (00:30Z).
    let body = "begin = \"22:00\"\nend = \"02:30\"\nfloor = 3";
    assert_eq!(
        windows(
            "Europe/Berlin",
            body,
            "2026-10-24T12:00:00Z",
            "2026-10-25T12:00:00Z"
        ),
        ["2026-10-24 10-24T20:00Z..10-25T00:30Z"]
    );
}

#[test]
fn period_crossing_midnight_belongs_to_the_day_it_begins() {
    // Mon-Fri 20:00-08:00 (UTC): Friday's night runs into Saturday; nothing begins Saturday.
    let body = "weekdays = [\"mon-fri\"]\nbegin = \"20:00\"\nend = \"08:00\"\nceiling = 10";
    let p = policy("UTC", body);
    let s = sched(&p);
    assert!(period_holds(&p, s, t("2026-05-08T20:00:00Z"))); // Fri
    assert!(period_holds(&p, s, t("2026-05-09T07:59:00Z"))); // Sat morning
    assert!(!period_holds(&p, s, t("2026-05-09T08:00:00Z")));
    assert!(!period_holds(&p, s, t("2026-05-09T21:00:00Z"))); // Sat night
    assert!(!period_holds(&p, s, t("2026-05-11T07:00:00Z"))); // Mon morning (Sunday night)
    assert!(period_holds(&p, s, t("2026-05-05T02:00:00Z"))); // Tue morning (Monday night)
}

#[test]
fn friday_evening_period_and_its_holidays() {
    // Begins Friday 18:00, ends Saturday 06:00 (Berlin, CEST in May).
    let body = "weekdays = [\"fri\"]\nbegin = \"18:00\"\nend = \"06:00\"\nfloor = 1\nholidays = [\"2026-05-16\", \"2026-05-22\"]";
    let p = policy("Europe/Berlin", body);
    let s = sched(&p);
    // Fri 8 May: holds 16:00Z (18:00) until Sat 04:00Z (06:00).
    assert!(!period_holds(&p, s, t("2026-05-08T15:59:00Z")));
    assert!(period_holds(&p, s, t("2026-05-08T16:00:00Z")));
    assert!(period_holds(&p, s, t("2026-05-09T03:59:00Z")));
    assert!(!period_holds(&p, s, t("2026-05-09T04:00:00Z")));
    // Thursday evening: not a begin day.
    assert!(!period_holds(&p, s, t("2026-05-07T17:00:00Z")));
    // Sat 16 May is a holiday, but the instance began on Friday 15 May: it holds.
    assert!(period_holds(&p, s, t("2026-05-16T02:00:00Z")));
    // Fri 22 May is a holiday: the instance beginning that evening is suspended, into Saturday.
    assert!(!period_holds(&p, s, t("2026-05-22T17:00:00Z")));
    assert!(!period_holds(&p, s, t("2026-05-23T02:00:00Z")));
    assert_eq!(
        windows(
            "Europe/Berlin",
            body,
            "2026-05-22T00:00:00Z",
            "2026-05-24T00:00:00Z"
        ),
        ["2026-05-22 05-22T16:00Z..05-23T04:00Z holiday"]
    );
}

#[test]
fn weekday_ranges_in_periods_and_cron() {
    // fri-mon wraps over the weekend.
    let body = "weekdays = [\"fri-mon\"]\nbegin = \"09:00\"\nend = \"10:00\"\nfloor = 3";
    let got = windows("UTC", body, "2026-05-04T00:00:00Z", "2026-05-11T00:00:00Z");
    let dates: Vec<&str> = got.iter().map(|w| &w[..10]).collect();
    assert_eq!(
        dates,
        ["2026-05-04", "2026-05-08", "2026-05-09", "2026-05-10"]
    );
    // MON-FRI in cron, names and numbers agree; weekend days excluded.
    for cron in ["0 9 * * MON-FRI", "0 9 * * 1-5", "0 9 ? * mon-fri"] {
        assert_eq!(
            occ("UTC", cron, "2026-05-03T00:00:00Z", "2026-05-10T00:00:00Z"),
            [
                "2026-05-04T09:00Z",
                "2026-05-05T09:00Z",
                "2026-05-06T09:00Z",
                "2026-05-07T09:00Z",
                "2026-05-08T09:00Z"
            ],
            "{cron}"
        );
    }
    // Saturday and Sunday, Sunday written 0, 7 or SUN (also at the end of a range).
    for cron in [
        "0 9 * * 6,0",
        "0 9 * * 6-7",
        "0 9 * * SAT-SUN",
        "0 9 * * sat,sun",
    ] {
        assert_eq!(
            occ("UTC", cron, "2026-05-03T00:00:00Z", "2026-05-10T00:00:00Z"),
            ["2026-05-03T09:00Z", "2026-05-09T09:00Z"],
            "{cron}"
        );
    }
}

#[test]
fn day_of_month_or_day_of_week_when_both_are_restricted() {
    // 1st of the month, or any Monday (May 2026: Fri 1st; Mondays 4, 11).
    assert_eq!(
        occ(
            "UTC",
            "0 0 1 * MON",
            "2026-04-30T00:00:00Z",
            "2026-05-12T00:00:00Z"
        ),
        [
            "2026-05-01T00:00Z",
            "2026-05-04T00:00Z",
            "2026-05-11T00:00Z"
        ]
    );
}

// ----- holidays -------------------------------------------------------------------------------

#[test]
fn holidays_by_date_range_and_calendar() {
    let body = "cron = \"0 9 * * *\"\ndesired = 4\nholidays = [\"2026-05-05\", \"2026-05-07..2026-05-08\", \"de\"]";
    let p = policy("Europe/Berlin", body);
    let s = sched(&p);
    assert!(is_holiday(&p, s, d("2026-05-05")));
    assert!(!is_holiday(&p, s, d("2026-05-06")));
    assert!(is_holiday(&p, s, d("2026-05-07")));
    assert!(is_holiday(&p, s, d("2026-05-08")));
    assert!(!is_holiday(&p, s, d("2026-05-09")));
    assert!(is_holiday(&p, s, d("2026-10-03"))); // calendar `de`, a date
    assert!(is_holiday(&p, s, d("2026-12-25"))); // calendar `de`, a range
    assert!(!is_holiday(&p, s, d("2026-12-27")));
    // Occurrences on those dates are skipped (09:00 CEST = 07:00Z).
    assert_eq!(
        z(&occurrences(
            &p,
            s,
            t("2026-05-04T00:00:00Z"),
            t("2026-05-10T00:00:00Z")
        )),
        [
            "2026-05-04T07:00Z",
            "2026-05-06T07:00Z",
            "2026-05-09T07:00Z"
        ]
    );
    // ... and reported as suspended by the detailed walk.
    let details = occurrence_details(&p, s, t("2026-05-04T00:00:00Z"), t("2026-05-06T00:00:00Z"));
    let marks: Vec<bool> = details.iter().map(|o| o.holiday).collect();
    assert_eq!(marks, [false, true]);
    // An unknown calendar name covers nothing.
    let p = policy(
        "UTC",
        "cron = \"0 9 * * *\"\ndesired = 4\nholidays = [\"nowhere\"]",
    );
    assert!(!is_holiday(&p, sched(&p), d("2026-10-03")));
}

#[test]
fn holiday_suspends_business_hours_on_that_day_only() {
    let body = format!("{BUSINESS}\nholidays = [\"de\"]");
    let p = policy("Europe/Berlin", &body);
    let s = sched(&p);
    // Fri 2 Oct holds, Sat 3 Oct is a weekend anyway; Thu 24 Dec (holiday) does not.
    assert!(period_holds(&p, s, t("2026-10-02T10:00:00Z")));
    assert!(!period_holds(&p, s, t("2026-12-24T10:00:00Z")));
    assert!(period_holds(&p, s, t("2026-12-28T10:00:00Z")));
}

// ----- cron parsing ---------------------------------------------------------------------------

fn parse_err(s: &str) -> String {
    match s.parse::<CronExpr>() {
        Ok(_) => panic!("`{s}` should not parse"),
        Err(e) => e,
    }
}

#[test]
fn cron_errors_name_the_field() {
    assert_eq!(
        parse_err("0 25 * * *"),
        "cron `0 25 * * *`: hour 25 is out of range 0-23"
    );
    assert_eq!(
        parse_err("60 * * * *"),
        "cron `60 * * * *`: minute 60 is out of range 0-59"
    );
    assert!(parse_err("* * 0 * *").contains("day-of-month 0 is out of range 1-31"));
    assert!(parse_err("* * * 13 *").contains("month 13 is out of range 1-12"));
    assert!(parse_err("* * * FOO *").contains("month `FOO` is not a number"));
    assert!(parse_err("* * * * 8").contains("day-of-week 8 is out of range 0-7"));
    assert!(parse_err("*/0 * * * *").contains("minute step `0`"));
    assert!(parse_err("30-10 * * * *").contains("minute range `30-10` goes backwards"));
    assert!(parse_err("0 8 * *").contains("expected 5 fields"));
    assert!(parse_err("0 8 * * * *").contains("cron(0 8 ? * MON-FRI *)"));
    assert!(parse_err("? 8 * * *").contains("minute: `?` is only allowed"));
    assert!(parse_err("0 8 L * *").contains("`L`, `W` and `#` are not supported"));
    assert!(parse_err("0 8 * * 1,,2").contains("empty list item"));
    assert!(parse_err("0 0 31 2 *").contains("never"));
    assert!(parse_err("cron(0 8 ? * MON-FRI *").contains("must end with `)`"));
    assert!(parse_err("cron(0 8 ? * MON-FRI)").contains("expected 6 fields"));
    assert!(parse_err("cron(0 8 ? * 0 *)").contains("day-of-week 0 is out of range 1-7"));
    assert!(parse_err("cron(0 8 ? * MON-FRI next)").contains("year `next`"));
    // Classic forms still parse.
    for ok in ["0 0 29 2 *", "0 0 31 1,2 *", "0 0 1 * 0"] {
        assert!(ok.parse::<CronExpr>().is_ok(), "{ok}");
    }
}

#[test]
fn aws_cron_form_matches_the_classic_form() {
    let classic = occ(
        "Europe/Berlin",
        "0 8 * * MON-FRI",
        "2026-03-26T00:00:00Z",
        "2026-04-01T00:00:00Z",
    );
    assert_eq!(
        classic,
        [
            "2026-03-26T07:00Z",
            "2026-03-27T07:00Z",
            "2026-03-30T06:00Z",
            "2026-03-31T06:00Z"
        ]
    );
    for aws in [
        "cron(0 8 ? * MON-FRI *)",
        "cron(0 8 ? * 2-6 *)",
        "cron(0 8 ? * MON-FRI 2026)",
    ] {
        assert_eq!(
            occ(
                "Europe/Berlin",
                aws,
                "2026-03-26T00:00:00Z",
                "2026-04-01T00:00:00Z"
            ),
            classic,
            "{aws}"
        );
    }
    assert!(occ(
        "Europe/Berlin",
        "cron(0 8 ? * MON-FRI 2027-2028)",
        "2026-03-26T00:00:00Z",
        "2026-04-01T00:00:00Z"
    )
    .is_empty());
    // Through serde, as a policy would carry it; Display keeps the text.
    let p = policy("UTC", "cron = \"cron(0 8 ? * MON-FRI *)\"\ndesired = 3");
    assert_eq!(
        sched(&p).cron.as_ref().map(|c| c.to_string()).as_deref(),
        Some("cron(0 8 ? * MON-FRI *)")
    );
}

#[test]
fn cron_error_reaches_the_policy_loader() {
    let text = "[schedules.s]\ntargets = []\ncron = \"0 25 * * *\"\n";
    let err = toml::from_str::<Policy>(text).expect_err("hour 25 must be rejected");
    assert!(
        err.to_string().contains("hour 25 is out of range 0-23"),
        "{err}"
    );
}

// ----- DST transitions ------------------------------------------------------------------------

#[test]
fn dst_transitions_are_found_to_the_second() {
    let berlin = "Europe/Berlin".parse().unwrap();
    let spring = dst_transitions(berlin, t("2026-03-28T00:00:00Z"), t("2026-03-30T00:00:00Z"));
    assert_eq!(spring.len(), 1);
    assert_eq!(spring[0].at, t("2026-03-29T01:00:00Z"));
    assert_eq!(spring[0].before.to_string(), "+01:00");
    assert_eq!(spring[0].after.to_string(), "+02:00");
    assert_eq!(
        spring[0].clock_before().format("%H:%M").to_string(),
        "02:00"
    );
    assert_eq!(spring[0].clock_after().format("%H:%M").to_string(), "03:00");
    assert!(spring[0].is_forward());

    let ny = "America/New_York".parse().unwrap();
    let fall = dst_transitions(ny, t("2026-10-01T00:00:00Z"), t("2026-12-01T00:00:00Z"));
    assert_eq!(fall.len(), 1);
    assert_eq!(fall[0].at, t("2026-11-01T06:00:00Z"));
    assert_eq!(fall[0].before.to_string(), "-04:00");
    assert_eq!(fall[0].after.to_string(), "-05:00");
    assert_eq!(fall[0].clock_before().format("%H:%M").to_string(), "02:00");
    assert_eq!(fall[0].clock_after().format("%H:%M").to_string(), "01:00");
    assert!(!fall[0].is_forward());

    // A whole year in Berlin: two changes; none in UTC.
    let year = dst_transitions(berlin, t("2026-01-01T00:00:00Z"), t("2027-01-01T00:00:00Z"));
    assert_eq!(
        year.iter().map(|s| s.at).collect::<Vec<_>>(),
        [t("2026-03-29T01:00:00Z"), t("2026-10-25T01:00:00Z")]
    );
    assert!(dst_transitions(
        chrono_tz::Tz::UTC,
        t("2026-01-01T00:00:00Z"),
        t("2027-01-01T00:00:00Z")
    )
    .is_empty());
}

// ----- invariants -----------------------------------------------------------------------------

proptest! {
    /// Ticks split a stretch of time anywhere: the occurrences of the parts are the occurrences
    /// of the whole, each once, in order, inside the window, never on a holiday.
    #[test]
    fn ticks_partition_occurrences(
        cron_i in 0usize..6,
        zone_i in 0usize..3,
        start in 0i64..(366 * 24 * 60),
        len in 1i64..(3 * 24 * 60),
        cut in 0i64..(3 * 24 * 60),
    ) {
        let crons = ["*/7 * * * *", "30 2 * * *", "0 1-3 * * *", "15,45 * * * MON-FRI", "0 8 1 * *", "cron(0/20 2 ? * SUN *)"];
        let zones = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"];
        let p = policy(zones[zone_i], &format!("cron = \"{}\"\ndesired = 2\nholidays = [\"2026-10-25\", \"de\"]", crons[cron_i]));
        let s = sched(&p);
        let a = t("2026-01-01T00:00:00Z") + chrono::Duration::minutes(start);
        let c = a + chrono::Duration::minutes(len);
        let b = a + chrono::Duration::minutes(cut.min(len));
        let whole = occurrences(&p, s, a, c);
        let mut parts = occurrences(&p, s, a, b);
        parts.extend(occurrences(&p, s, b, c));
        prop_assert_eq!(&whole, &parts);
        prop_assert!(whole.windows(2).all(|w| w[0] < w[1]));
        prop_assert!(whole.iter().all(|o| *o > a && *o <= c));
    }

    /// The occurrences equal a brute-force walk over every local minute around the window
    /// (which shares no pruning with the engine's walk).
    #[test]
    fn occurrences_match_a_minute_by_minute_oracle(
        cron_i in 0usize..5,
        zone_i in 0usize..3,
        day in prop::sample::select(vec![
            "2026-03-08T00:00:00Z", "2026-03-28T20:00:00Z", "2026-10-24T20:00:00Z",
            "2026-11-01T00:00:00Z", "2026-04-05T12:00:00Z", "2026-10-04T12:00:00Z",
        ]),
        offset in 0i64..(8 * 60),
        len in 1i64..(3 * 60),
    ) {
        let crons = ["*/10 * * * *", "30 2 * * *", "0,30 1-3 * * *", "59 1 * * *", "0 * * * SUN"];
        let zones = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"];
        let p = policy(zones[zone_i], &format!("cron = \"{}\"\ndesired = 2", crons[cron_i]));
        let s = sched(&p);
        let zone = zone_of(&p, s);
        let cron = s.cron.as_ref().unwrap();
        let a = t(day) + chrono::Duration::minutes(offset);
        let c = a + chrono::Duration::minutes(len);
        let mut oracle: Vec<DateTime<Utc>> = Vec::new();
        let mut n = a.naive_utc() - chrono::Duration::hours(16);
        let end = c.naive_utc() + chrono::Duration::hours(16);
        while n <= end {
            if cron.matches(n) {
                let at = resolve_local(zone, n);
                if at > a && at <= c {
                    oracle.push(at);
                }
            }
            n += chrono::Duration::minutes(1);
        }
        oracle.sort();
        oracle.dedup();
        prop_assert_eq!(occurrences(&p, s, a, c), oracle);
    }
}
