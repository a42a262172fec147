//! The decision engine, one behaviour per test: every action kind, every suppression reason,
//! schedules, events, budgets and operator commands.

mod common;

use capstan_policy::decision::{Capacity, Decision, Outcome, Reason};
use capstan_policy::model::{AlarmState, AlertType};
use capstan_policy::signal::{
    ActionsSuppressed, AlarmSignal, BudgetSignal, CommandSignal, Signal, Suppressor, TickSignal,
};
use capstan_policy::state::{BudgetCap, Direction, Pause, State};
use capstan_policy::{decide, effective_bounds};
use chrono::{DateTime, Duration, Utc};
use common::{alarm, at, policy, push_action, state_with};

fn cmd(user: &str, text: &str, confirmed: bool) -> Signal {
    Signal::Command(CommandSignal {
        user: user.to_string(),
        channel: "C2147483705".to_string(),
        text: text.to_string(),
        confirmed,
    })
}

fn budget(threshold: f64, alert_type: AlertType) -> Signal {
    Signal::Budget(BudgetSignal {
        budget: "AI-Service-Monthly".into(),
        alert_type,
        threshold_percent: threshold,
        budgeted: Some(5000.0),
        amount: Some(5000.0 * threshold / 100.0),
        sent_at: None,
    })
}

fn tick() -> Signal {
    Signal::Tick(TickSignal::default())
}

/// Monday 2026-11-23 14:05 UTC: business hours (api bounds 4..20).
fn monday_afternoon() -> DateTime<Utc> {
    at("2026-11-23T14:05:00Z")
}

fn change_of(d: &Decision, target: &str) -> (Capacity, Capacity, bool) {
    match &d
        .for_target(target)
        .expect("a decision for the target")
        .outcome
    {
        Outcome::Change { from, to, forced } => (*from, *to, *forced),
        other => panic!(
            "expected a change on {target}, got {other:?}\n{}",
            d.render()
        ),
    }
}

fn reason_of(d: &Decision, target: &str) -> Reason {
    match &d
        .for_target(target)
        .expect("a decision for the target")
        .outcome
    {
        Outcome::Suppressed { reason } => reason.clone(),
        other => panic!(
            "expected a suppression on {target}, got {other:?}\n{}",
            d.render()
        ),
    }
}

#[test]
fn add_rule_adds_and_sets_bounds() {
    let p = policy();
    let d = decide(
        &p,
        &alarm("api-cpu-critical", Some(91.7)),
        &state_with(&p, 4),
        monday_afternoon(),
    );
    let (from, to, forced) = change_of(&d, "api");
    assert_eq!(from.desired, 4);
    assert_eq!(
        to,
        Capacity {
            desired: 6,
            min: 4,
            max: 20
        }
    );
    assert!(!forced);
    let text = &d.for_target("api").unwrap().explanation;
    assert!(
        text.contains("cpu-critical") && text.contains("add 2"),
        "{text}"
    );
}

#[test]
fn exact_rule_beats_glob() {
    let p = policy();
    // api-cpu-high matches both `cpu-high` (exact, +1) and `api-any` (glob, +1); only one acts.
    let d = decide(
        &p,
        &alarm("api-cpu-high", None),
        &state_with(&p, 4),
        monday_afternoon(),
    );
    assert_eq!(d.targets.len(), 1);
    assert_eq!(d.targets[0].source, "rule:cpu-high");
    // an alarm only the glob matches is handled by the glob rule
    let d = decide(
        &p,
        &alarm("api-5xx", None),
        &state_with(&p, 4),
        monday_afternoon(),
    );
    assert_eq!(d.targets[0].source, "rule:api-any");
}

#[test]
fn percent_doubles_and_set_sets() {
    let p = policy();
    let d = decide(
        &p,
        &alarm("api-traffic-2x", None),
        &state_with(&p, 5),
        monday_afternoon(),
    );
    // doubling 5 is 10 but max step 5 allows exactly that
    assert_eq!(change_of(&d, "api").1.desired, 10);
    let d = decide(
        &p,
        &alarm("api-traffic-2x", None),
        &state_with(&p, 8),
        monday_afternoon(),
    );
    let (_, to, _) = change_of(&d, "api");
    assert_eq!(to.desired, 13, "doubling 8 is limited to the max step 5");
    assert!(d.targets[0].explanation.contains("max step"));
    let d = decide(
        &p,
        &alarm("api-set", None),
        &state_with(&p, 4),
        monday_afternoon(),
    );
    assert_eq!(change_of(&d, "api").1.desired, 7);
}

#[test]
fn from_metric_sizes_with_buffer() {
    let p = policy();
    // 5000 req/min / 500 per task x 1.2 = 12 tasks
    let d = decide(
        &p,
        &alarm("ai-queue-deep", Some(5000.0)),
        &State::at_floor(&p),
        monday_afternoon(),
    );
    assert_eq!(change_of(&d, "ai").1.desired, 12);
    let d = decide(
        &p,
        &alarm("ai-queue-deep", None),
        &State::at_floor(&p),
        monday_afternoon(),
    );
    assert_eq!(reason_of(&d, "ai").code(), "no-datapoint");
}

#[test]
fn steps_choose_by_value() {
    let p = policy();
    let s = State::at_floor(&p);
    let now = monday_afternoon();
    assert_eq!(
        change_of(&decide(&p, &alarm("ai-stepped", Some(10.0)), &s, now), "ai")
            .1
            .desired,
        3
    );
    assert_eq!(
        change_of(&decide(&p, &alarm("ai-stepped", Some(50.0)), &s, now), "ai")
            .1
            .desired,
        4
    );
    let d = decide(&p, &alarm("ai-stepped", Some(95.0)), &s, now);
    assert_eq!(reason_of(&d, "ai").code(), "no-matching-step");
    let d = decide(&p, &alarm("ai-stepped", None), &s, now);
    assert_eq!(reason_of(&d, "ai").code(), "no-datapoint");
}

#[test]
fn notify_only_rule_changes_nothing_and_tells() {
    let p = policy();
    let d = decide(
        &p,
        &alarm("db-iops-maxed", None),
        &state_with(&p, 4),
        monday_afternoon(),
    );
    assert!(d.targets.is_empty());
    assert!(d.notices[0].text.contains("maintenance window"));
    assert!(!d.changes_anything());
}

#[test]
fn unknown_alarm_and_unmatched_state_are_no_ops() {
    let p = policy();
    let s = state_with(&p, 4);
    let d = decide(&p, &alarm("nobody-knows", None), &s, monday_afternoon());
    assert_eq!(reason_of(&d, "*").code(), "unknown-alarm");
    let ok = Signal::Alarm(AlarmSignal {
        name: "api-cpu-critical".into(),
        state: AlarmState::Ok,
        previous: None,
        value: None,
        suppressed: None,
    });
    let d = decide(&p, &ok, &s, monday_afternoon());
    assert_eq!(reason_of(&d, "*").code(), "unknown-alarm");
    assert!(d.targets[0].explanation.contains("OK"));
}

#[test]
fn scale_out_cooldown_applies_only_the_difference() {
    let p = policy();
    let now = monday_afternoon();
    let mut s = state_with(&p, 6);
    // cpu-high (+1, target cooldown 300 s) took 5 -> 6 two minutes ago
    push_action(
        &mut s,
        "api",
        now,
        Duration::minutes(2),
        "rule:cpu-high",
        5,
        6,
    );
    // cpu-critical (+2) from 5 gives 7: one more than now
    let d = decide(&p, &alarm("api-cpu-critical", None), &s, now);
    let (_, to, _) = change_of(&d, "api");
    assert_eq!(to.desired, 7);
    assert!(d.targets[0].explanation.contains("only the difference"));
    // another +1 from 5 gives 6: nothing over the action in cooldown
    let d = decide(&p, &alarm("api-cpu-high", None), &s, now);
    match reason_of(&d, "api") {
        Reason::Cooldown { direction, until } => {
            assert_eq!(direction, Direction::Out);
            assert_eq!(until, now + Duration::minutes(3));
        }
        r => panic!("expected cooldown, got {r:?}"),
    }
    // after the cooldown, +1 acts on the current capacity
    let later = now + Duration::minutes(4);
    assert_eq!(
        change_of(&decide(&p, &alarm("api-cpu-high", None), &s, later), "api")
            .1
            .desired,
        7
    );
}

#[test]
fn a_rules_own_cooldown_is_used_for_its_actions() {
    let p = policy();
    let now = monday_afternoon();
    let mut s = state_with(&p, 6);
    // cpu-critical has a 180 s cooldown: 4 minutes later it has ended
    push_action(
        &mut s,
        "api",
        now,
        Duration::minutes(4),
        "rule:cpu-critical",
        4,
        6,
    );
    assert_eq!(
        change_of(&decide(&p, &alarm("api-cpu-high", None), &s, now), "api")
            .1
            .desired,
        7
    );
}

#[test]
fn scale_in_cooldown_blocks_scale_in_but_not_scale_out() {
    let p = policy();
    let now = monday_afternoon();
    let mut s = state_with(&p, 8);
    push_action(
        &mut s,
        "api",
        now,
        Duration::minutes(40),
        "rule:cpu-low",
        10,
        9,
    );
    push_action(
        &mut s,
        "api",
        now,
        Duration::minutes(35),
        "rule:cpu-low",
        9,
        8,
    );
    // no scale-out since; the scale-in cooldown (600 s) ended; guard (30 min) ended too
    assert_eq!(
        change_of(&decide(&p, &alarm("api-cpu-low", None), &s, now), "api")
            .1
            .desired,
        7
    );
    let mut s2 = state_with(&p, 8);
    push_action(
        &mut s2,
        "api",
        now,
        Duration::minutes(5),
        "schedule:x",
        9,
        8,
    );
    let d = decide(&p, &alarm("api-cpu-low", None), &s2, now);
    assert!(matches!(
        reason_of(&d, "api"),
        Reason::Cooldown {
            direction: Direction::In,
            ..
        }
    ));
    // a scale-out is not blocked by the scale-in cooldown
    assert_eq!(
        change_of(&decide(&p, &alarm("api-cpu-high", None), &s2, now), "api")
            .1
            .desired,
        9
    );
}

#[test]
fn scale_in_guard_waits_30_minutes_after_any_action() {
    let p = policy();
    let now = monday_afternoon();
    let mut s = state_with(&p, 8);
    push_action(
        &mut s,
        "api",
        now,
        Duration::minutes(20),
        "rule:cpu-high",
        7,
        8,
    );
    let d = decide(&p, &alarm("api-cpu-low", None), &s, now);
    match reason_of(&d, "api") {
        Reason::ScaleInGuard { until } => assert_eq!(until, now + Duration::minutes(10)),
        r => panic!("expected the guard, got {r:?}"),
    }
    let d = decide(
        &p,
        &alarm("api-cpu-low", None),
        &s,
        now + Duration::minutes(11),
    );
    assert_eq!(change_of(&d, "api").1.desired, 7);
}

#[test]
fn bounds_stop_at_ceiling_and_floor() {
    let p = policy();
    let now = monday_afternoon();
    let d = decide(
        &p,
        &alarm("api-cpu-critical", None),
        &state_with(&p, 20),
        now,
    );
    assert_eq!(reason_of(&d, "api"), Reason::AtCeiling { ceiling: 20 });
    let d = decide(
        &p,
        &alarm("api-cpu-critical", None),
        &state_with(&p, 19),
        now,
    );
    assert_eq!(change_of(&d, "api").1.desired, 20, "clamped to the ceiling");
    // business hours: floor 4
    let d = decide(&p, &alarm("api-cpu-low", None), &state_with(&p, 4), now);
    assert_eq!(reason_of(&d, "api"), Reason::AtFloor { floor: 4 });
}

#[test]
fn pause_suppresses_rules() {
    let p = policy();
    let now = monday_afternoon();
    let mut s = state_with(&p, 4);
    s.targets.get_mut("api").unwrap().pause = Some(Pause {
        until: now + Duration::hours(1),
        by: "U2147483697".into(),
        pin: None,
    });
    let d = decide(&p, &alarm("api-cpu-critical", None), &s, now);
    assert_eq!(reason_of(&d, "api").code(), "paused");
    // an expired pause no longer holds
    let d = decide(
        &p,
        &alarm("api-cpu-critical", None),
        &s,
        now + Duration::hours(2),
    );
    assert_eq!(change_of(&d, "api").1.desired, 6);
}

#[test]
fn dry_run_reports_what_would_happen() {
    let p = policy();
    let d = decide(
        &p,
        &alarm("web-cpu-critical", None),
        &State::at_floor(&p),
        monday_afternoon(),
    );
    match reason_of(&d, "web") {
        Reason::DryRun { would } => assert_eq!(would.desired, 4),
        r => panic!("expected dry-run, got {r:?}"),
    }
    let mut global = policy();
    global.settings.dry_run = true;
    let d = decide(
        &global,
        &alarm("api-cpu-critical", None),
        &state_with(&global, 4),
        monday_afternoon(),
    );
    assert_eq!(reason_of(&d, "api").code(), "dry-run");
}

#[test]
fn rate_limit_caps_actions_per_hour() {
    let p = policy();
    let now = monday_afternoon();
    let mut s = state_with(&p, 10);
    for i in 0..6 {
        push_action(
            &mut s,
            "api",
            now,
            Duration::minutes(55 - i * 5),
            "command:x",
            10,
            10,
        );
    }
    let d = decide(&p, &alarm("api-cpu-critical", None), &s, now);
    assert_eq!(
        reason_of(&d, "api"),
        Reason::RateLimit { count: 6, limit: 6 }
    );
    // the oldest leaves the window a little later
    let d = decide(
        &p,
        &alarm("api-cpu-critical", None),
        &s,
        now + Duration::minutes(6),
    );
    assert!(matches!(
        d.for_target("api").unwrap().outcome,
        Outcome::Change { .. }
    ));
}

#[test]
fn schedule_tick_applies_periods_and_is_level_triggered() {
    let p = policy();
    // Monday 08:00 UTC: business hours begin, api floor 2 -> 4
    let now = at("2026-11-23T08:00:00Z");
    let s = State::at_floor(&p);
    let d = decide(&p, &tick(), &s, now);
    let (_, to, _) = change_of(&d, "api");
    assert_eq!(
        to,
        Capacity {
            desired: 4,
            min: 4,
            max: 20
        }
    );
    let mut next = s.clone();
    d.apply(&mut next);
    // a repeated tick changes nothing
    let again = decide(&p, &tick(), &next, now + Duration::minutes(5));
    assert!(
        again
            .targets
            .iter()
            .all(|t| t.outcome.kind() == "unchanged"),
        "{}",
        again.render()
    );
    assert!(!again.changes_anything());
    // 20:00: night, ceiling 10 brings desired 15 down
    let mut evening = next.clone();
    evening.targets.get_mut("api").unwrap().desired = 15;
    let d = decide(&p, &tick(), &evening, at("2026-11-23T20:00:00Z"));
    assert_eq!(
        change_of(&d, "api").1,
        Capacity {
            desired: 10,
            min: 2,
            max: 10
        }
    );
}

#[test]
fn occurrence_applies_once_and_not_after_operator_changes() {
    let p = policy();
    let mut s = State::at_floor(&p);
    s.targets.get_mut("ai").unwrap().desired = 9;
    let t0 = at("2026-11-24T02:00:00Z");
    let d = decide(&p, &tick(), &s, t0);
    assert_eq!(change_of(&d, "ai").1.desired, 2);
    d.apply(&mut s);
    // operator scales up at 02:03; the 02:05 tick leaves it alone
    s.targets.get_mut("ai").unwrap().desired = 6;
    let d = decide(&p, &tick(), &s, t0 + Duration::minutes(5));
    assert_eq!(d.for_target("ai").unwrap().outcome.kind(), "unchanged");
}

#[test]
fn missed_occurrence_is_reported_not_applied() {
    let p = policy();
    let mut s = State::at_floor(&p);
    s.targets.get_mut("ai").unwrap().desired = 9;
    // Capstan saw yesterday's 02:00; today no tick ran until 03:00: the 02:00 occurrence is
    // older than the 15 min catch-up.
    s.targets
        .get_mut("ai")
        .unwrap()
        .occurrences
        .insert("nightly".into(), at("2026-11-23T02:00:00Z"));
    let d = decide(&p, &tick(), &s, at("2026-11-24T03:00:00Z"));
    assert_eq!(d.for_target("ai").unwrap().outcome.kind(), "unchanged");
    assert!(d
        .notices
        .iter()
        .any(|n| n.text.contains("missed occurrence of nightly")));
    // and it is marked, so it is reported once
    d.apply(&mut s);
    let d = decide(&p, &tick(), &s, at("2026-11-24T03:05:00Z"));
    assert!(d.notices.is_empty());
}

#[test]
fn a_late_tick_within_catch_up_heals() {
    let p = policy();
    let mut s = State::at_floor(&p);
    s.targets.get_mut("ai").unwrap().desired = 9;
    let d = decide(&p, &tick(), &s, at("2026-11-24T02:10:00Z"));
    assert_eq!(change_of(&d, "ai").1.desired, 2);
}

#[test]
fn event_lead_hold_and_release() {
    let p = policy();
    let mut s = State::at_floor(&p);
    // before the lead: nothing
    let d = decide(&p, &tick(), &s, at("2026-12-01T07:55:00Z"));
    assert_eq!(d.for_target("ai").unwrap().outcome.kind(), "unchanged");
    // lead (start 09:00 - 1h): floor 8
    let d = decide(&p, &tick(), &s, at("2026-12-01T08:00:00Z"));
    assert_eq!(
        change_of(&d, "ai").1,
        Capacity {
            desired: 8,
            min: 8,
            max: 30
        }
    );
    d.apply(&mut s);
    // during: a scale-in is held
    s.targets.get_mut("ai").unwrap().desired = 12;
    let d = decide(
        &p,
        &cmd("U2147483697", "scale ai 10", false),
        &s,
        at("2026-12-01T10:00:00Z"),
    );
    assert_eq!(
        change_of(&d, "ai").1.desired,
        10,
        "an operator may still scale in within bounds"
    );
    let d = decide(
        &p,
        &alarm("ai-queue-shallow", None),
        &s,
        at("2026-12-01T10:00:00Z"),
    );
    assert_eq!(
        reason_of(&d, "ai"),
        Reason::EventHold {
            event: "launch".into()
        }
    );
    // and a schedule occurrence that would scale in is held too (02:00 is before the lead,
    // so use an explicit application during the event)
    let held = decide(
        &p,
        &Signal::Tick(TickSignal {
            schedule: Some("nightly".into()),
        }),
        &s,
        at("2026-12-01T10:00:00Z"),
    );
    // Held (a change was wanted), not "already right".
    assert_eq!(
        reason_of(&held, "ai"),
        Reason::EventHold {
            event: "launch".into()
        }
    );
    assert!(held
        .for_target("ai")
        .unwrap()
        .explanation
        .contains("holds scale-in"));
    let b = effective_bounds(&p, &s, "ai", at("2026-12-01T10:00:00Z"));
    assert_eq!(b.hold.as_deref(), Some("launch"));
    // after the end the floor comes down by 2 per scale-in cooldown (600 s)
    s.targets.get_mut("ai").unwrap().desired = 8;
    let end = at("2026-12-01T18:00:00Z");
    let floors: Vec<u32> = (0..4)
        .map(|i| effective_bounds(&p, &s, "ai", end + Duration::minutes(10 * i)).floor)
        .collect();
    assert_eq!(floors, vec![6, 4, 2, 2]);
    let d = decide(&p, &tick(), &s, end);
    assert_eq!(
        change_of(&d, "ai").1.desired,
        6,
        "desired follows the floor down"
    );
}

#[test]
fn budget_notify_then_cap_then_duplicate_then_lift() {
    let p = policy();
    let now = monday_afternoon();
    let mut s = State::at_floor(&p);
    s.targets.get_mut("ai").unwrap().desired = 9;
    let d = decide(&p, &budget(80.0, AlertType::Actual), &s, now);
    assert!(d.targets.is_empty());
    assert!(d.notices.iter().any(|n| n.text.contains("ai-80")));
    let d = decide(&p, &budget(100.0, AlertType::Actual), &s, now);
    assert_eq!(
        change_of(&d, "ai").1,
        Capacity {
            desired: 2,
            min: 2,
            max: 2
        }
    );
    assert!(
        d.for_target("api").is_none(),
        "critical targets are never touched"
    );
    let cap_until = d
        .ops
        .iter()
        .find_map(|o| match o {
            capstan_policy::StateOp::AddCap(c) => Some(c.until),
            _ => None,
        })
        .expect("a cap is recorded");
    assert_eq!(cap_until, at("2026-12-01T00:00:00Z"));
    d.apply(&mut s);
    // the same alert again acts once
    let again = decide(
        &p,
        &budget(100.0, AlertType::Actual),
        &s,
        now + Duration::minutes(1),
    );
    assert!(again.ops.is_empty());
    assert_eq!(again.for_target("ai").unwrap().outcome.kind(), "unchanged");
    // the period reset releases the cap: the next tick restores the ceiling
    let d = decide(&p, &tick(), &s, at("2026-12-01T00:05:00Z"));
    assert_eq!(change_of(&d, "ai").1.max, 30);
    // an operator can lift it early: from Slack, once confirmed
    let d = decide(
        &p,
        &cmd("U2147483697", "lift-cap AI-Service-Monthly", false),
        &s,
        now,
    );
    assert!(d.ops.is_empty() && d.for_target("ai").is_none(), "{d:?}");
    assert_eq!(reason_of(&d, "*").code(), "needs-confirmation");
    let d = decide(
        &p,
        &cmd("U2147483697", "lift-cap AI-Service-Monthly", true),
        &s,
        now,
    );
    assert_eq!(change_of(&d, "ai").1.max, 30);
    // a person at the CLI needs no Slack grant (IAM is their authority); an ungranted Slack
    // user, or a bare `cli:`, is refused and changes nothing
    let d = decide(
        &p,
        &cmd("cli:ana", "lift-cap AI-Service-Monthly", false),
        &s,
        now,
    );
    assert_eq!(change_of(&d, "ai").1.max, 30);
    for user in ["U0000000001", "cli:"] {
        let d = decide(
            &p,
            &cmd(user, "lift-cap AI-Service-Monthly", false),
            &s,
            now,
        );
        assert!(d.ops.is_empty(), "{user}: {d:?}");
        assert_eq!(reason_of(&d, "*").code(), "not-allowed", "{user}");
    }
}

#[test]
fn an_alert_handled_after_its_period_ended_caps_nothing() {
    let p = policy();
    let mut s = State::at_floor(&p);
    s.targets.get_mut("ai").unwrap().desired = 6;
    let late = |sent: &str| {
        let Signal::Budget(mut b) = budget(100.0, AlertType::Actual) else {
            unreachable!()
        };
        b.sent_at = Some(at(sent));
        Signal::Budget(b)
    };
    // Sent in November, handled five minutes into December: November's cap is already over.
    let d = decide(
        &p,
        &late("2026-11-30T23:58:00Z"),
        &s,
        at("2026-12-01T00:03:00Z"),
    );
    assert!(d.ops.is_empty(), "{d:?}");
    assert!(d.for_target("ai").is_none(), "{d:?}");
    assert!(
        d.notices
            .iter()
            .any(|n| n.text.contains("caps nothing now")),
        "{:?}",
        d.notices
    );
    // Sent and handled in November: capped until the period resets.
    let d = decide(
        &p,
        &late("2026-11-30T23:58:00Z"),
        &s,
        at("2026-11-30T23:59:00Z"),
    );
    let cap_until = d.ops.iter().find_map(|op| match op {
        capstan_policy::decision::StateOp::AddCap(c) => Some(c.until),
        _ => None,
    });
    assert_eq!(cap_until, Some(at("2026-12-01T00:00:00Z")));
    assert_eq!(change_of(&d, "ai").1.max, 2);
}

#[test]
fn forecast_without_rule_notifies_and_unknown_budget_is_a_no_op() {
    let p = policy();
    let s = State::at_floor(&p);
    let d = decide(
        &p,
        &budget(100.0, AlertType::Forecasted),
        &s,
        monday_afternoon(),
    );
    assert!(d.targets.is_empty() && d.ops.is_empty());
    assert!(d.notices[0].text.contains("FORECASTED"));
    let other = Signal::Budget(BudgetSignal {
        budget: "Other".into(),
        alert_type: AlertType::Actual,
        threshold_percent: 100.0,
        budgeted: None,
        amount: None,
        sent_at: None,
    });
    let d = decide(&p, &other, &s, monday_afternoon());
    assert_eq!(reason_of(&d, "*").code(), "unknown-budget");
    assert!(d.notices[0].text.contains("Capstan saw"));
}

#[test]
fn caps_already_in_force_bound_alarms() {
    let p = policy();
    let now = monday_afternoon();
    let mut s = State::at_floor(&p);
    s.caps.push(BudgetCap {
        budget: "AI-Service-Monthly".into(),
        rule: "ai-100".into(),
        since: now - Duration::hours(1),
        until: at("2026-12-01T00:00:00Z"),
    });
    let d = decide(&p, &alarm("ai-queue-deep", Some(5000.0)), &s, now);
    assert_eq!(reason_of(&d, "ai"), Reason::AtCeiling { ceiling: 2 });
}

#[test]
fn commands_scale_force_undo_and_auth() {
    let p = policy();
    let now = monday_afternoon();
    let op = "U2147483697";
    let s = state_with(&p, 6);
    let d = decide(&p, &cmd(op, "scale api 8", false), &s, now);
    assert_eq!(change_of(&d, "api").1.desired, 8);
    // beyond the ceiling without --force is refused, with the way out named
    let d = decide(&p, &cmd(op, "scale api 25", false), &s, now);
    assert_eq!(reason_of(&d, "api").code(), "at-ceiling");
    assert!(d.targets[0].explanation.contains("--force"));
    // a big change needs a confirmation
    let d = decide(&p, &cmd(op, "scale api 11", false), &s, now);
    assert_eq!(reason_of(&d, "api").code(), "needs-confirmation");
    // --force: past the bounds and max step, marked
    let d = decide(&p, &cmd(op, "scale api 25 --force", true), &s, now);
    let (_, to, forced) = change_of(&d, "api");
    assert!(forced);
    assert_eq!(
        to,
        Capacity {
            desired: 25,
            min: 4,
            max: 25
        }
    );
    // and pinned, so the next tick does not undo it
    let mut after = s.clone();
    d.apply(&mut after);
    assert_eq!(
        after.targets["api"].pause.as_ref().and_then(|p| p.pin),
        Some(25)
    );
    let next = decide(&p, &tick(), &after, now + Duration::minutes(5));
    assert_eq!(next.for_target("api").unwrap().outcome.kind(), "unchanged");
    // not allowed: unknown user, wrong verb, wrong channel
    let d = decide(&p, &cmd("U0VIEWER", "scale api 8", false), &s, now);
    assert_eq!(reason_of(&d, "api").code(), "not-allowed");
    let d = decide(&p, &cmd("U0STRANGER", "status", false), &s, now);
    assert_eq!(reason_of(&d, "*").code(), "not-allowed");
    let d = decide(&p, &cmd("U0VIEWER", "status", false), &s, now);
    assert!(d
        .notices
        .iter()
        .any(|n| n.text.starts_with("api: desired 6")));
    // unparseable
    let d = decide(&p, &cmd(op, "scale api lots", false), &s, now);
    assert_eq!(reason_of(&d, "*").code(), "bad-command");
    // unknown target
    let d = decide(&p, &cmd(op, "scale nope 3", false), &s, now);
    assert_eq!(reason_of(&d, "nope").code(), "unknown-target");
    // undo returns to before the last action
    let mut s2 = state_with(&p, 6);
    push_action(
        &mut s2,
        "api",
        now,
        Duration::minutes(1),
        "rule:cpu-critical",
        4,
        6,
    );
    let d = decide(&p, &cmd(op, "undo api", false), &s2, now);
    assert_eq!(change_of(&d, "api").1.desired, 4);
    let d = decide(&p, &cmd(op, "undo api", false), &state_with(&p, 6), now);
    assert_eq!(reason_of(&d, "api").code(), "nothing-to-undo");
}

#[test]
fn pause_pin_and_resume() {
    let p = policy();
    let now = monday_afternoon();
    let op = "U2147483697";
    let mut s = state_with(&p, 6);
    let d = decide(&p, &cmd(op, "pause api 2h pin 9", false), &s, now);
    d.apply(&mut s);
    let pause = s.targets["api"].pause.clone().expect("paused");
    assert_eq!(pause.until, now + Duration::hours(2));
    // the tick holds the pin
    let d = decide(&p, &tick(), &s, now + Duration::minutes(5));
    assert_eq!(change_of(&d, "api").1.desired, 9);
    d.apply(&mut s);
    // rules are suppressed
    let d = decide(
        &p,
        &alarm("api-cpu-critical", None),
        &s,
        now + Duration::minutes(6),
    );
    assert_eq!(reason_of(&d, "api").code(), "paused");
    let d = decide(
        &p,
        &cmd(op, "resume api", false),
        &s,
        now + Duration::minutes(7),
    );
    d.apply(&mut s);
    assert!(s.targets["api"].pause.is_none());
}

#[test]
fn same_inputs_same_decision() {
    let p = policy();
    let s = state_with(&p, 5);
    let now = monday_afternoon();
    for signal in [
        alarm("api-cpu-critical", Some(90.0)),
        tick(),
        budget(100.0, AlertType::Actual),
    ] {
        assert_eq!(
            decide(&p, &signal, &s, now),
            decide(&p, &signal, &s.clone(), now)
        );
    }
}

#[test]
fn concerned_targets_are_those_of_the_matching_rules() {
    use capstan_policy::engine::concerned_targets;
    let p = policy();
    assert_eq!(
        concerned_targets(&p, &alarm("ai-queue-deep", Some(30.0))),
        Some(vec!["ai".to_string()])
    );
    // An exact rule and the `api-*` glob both name api: once.
    assert_eq!(
        concerned_targets(&p, &alarm("api-cpu-high", None)),
        Some(vec!["api".to_string()])
    );
    // Notify-only rules and unknown alarms concern no target.
    assert_eq!(
        concerned_targets(&p, &alarm("db-iops-maxed", None)),
        Some(vec![])
    );
    assert_eq!(
        concerned_targets(&p, &alarm("nothing-matches", None)),
        Some(vec![])
    );
    // An OK transition no rule names concerns nothing either.
    let ok = Signal::Alarm(AlarmSignal {
        name: "ai-queue-deep".into(),
        state: AlarmState::Ok,
        previous: None,
        value: None,
        suppressed: None,
    });
    assert_eq!(concerned_targets(&p, &ok), Some(vec![]));
    // Ticks, budgets and commands may concern every target.
    assert_eq!(
        concerned_targets(&p, &Signal::Tick(TickSignal::default())),
        None
    );
    assert_eq!(
        concerned_targets(&p, &budget(100.0, AlertType::Actual)),
        None
    );
}

#[test]
fn a_first_tick_does_not_call_earlier_occurrences_missed() {
    let p = policy();
    let mut s = State::at_floor(&p);
    s.targets.get_mut("ai").unwrap().desired = 9;
    // A new deployment's first tick at 09:00: nothing is marked yet, so the 02:00 occurrence
    // is not Capstan's miss. Nothing applied, nothing announced.
    let d = decide(&p, &tick(), &s, at("2026-11-24T09:00:00Z"));
    assert!(d.notices.is_empty(), "{:?}", d.notices);
    assert_eq!(d.for_target("ai").unwrap().outcome.kind(), "unchanged");
    d.apply(&mut s);
    assert_eq!(
        s.targets["ai"].occurrences.get("nightly"),
        Some(&at("2026-11-24T02:00:00Z")),
        "the first tick marks what it saw"
    );
    // The next night's occurrence, missed by a tick that came late, is reported.
    let d = decide(&p, &tick(), &s, at("2026-11-25T03:00:00Z"));
    assert!(
        d.notices.iter().any(|n| n
            .text
            .contains("missed occurrence of nightly at 2026-11-25 02:00")),
        "{:?}",
        d.notices
    );
}

#[test]
fn a_first_tick_with_no_occurrence_yet_marks_its_own_time() {
    // nightly once a week (Sundays 02:00): a first tick on Tuesday sees no occurrence in the
    // 24 h look-back, and marks its own moment.
    let text = common::POLICY.replace("cron = \"0 2 * * *\"", "cron = \"0 2 * * 0\"");
    assert_ne!(text, common::POLICY, "the test policy has the nightly cron");
    let p = capstan_policy::load(&text).expect("the variant loads");
    let mut s = State::at_floor(&p);
    s.targets.get_mut("ai").unwrap().desired = 9;
    let first = at("2026-11-24T10:00:00Z");
    let d = decide(&p, &tick(), &s, first);
    assert!(d.notices.is_empty(), "{:?}", d.notices);
    d.apply(&mut s);
    assert_eq!(s.targets["ai"].occurrences.get("nightly"), Some(&first));
    // Ticks stop until Sunday 03:00: the 02:00 that fell in the gap is reported as missed,
    // which it would not be had the first tick left no mark.
    let d = decide(&p, &tick(), &s, at("2026-11-29T03:00:00Z"));
    assert!(
        d.notices.iter().any(|n| n
            .text
            .contains("missed occurrence of nightly at 2026-11-29 02:00")),
        "{:?}",
        d.notices
    );
}

#[test]
fn a_missed_occurrence_is_one_notice_naming_every_target() {
    let text = common::POLICY.replace(
        "[schedules.nightly]\ntargets = [\"ai\"]",
        "[schedules.nightly]\ntargets = [\"ai\", \"web\"]",
    );
    assert_ne!(
        text,
        common::POLICY,
        "the test policy has the nightly schedule"
    );
    let p = capstan_policy::load(&text).expect("the variant loads");
    let mut s = State::at_floor(&p);
    for t in ["ai", "web"] {
        s.targets
            .get_mut(t)
            .unwrap()
            .occurrences
            .insert("nightly".into(), at("2026-11-23T02:00:00Z"));
    }
    // First tick of the day at 09:00 (yesterday's 02:00 was seen): today's 02:00 is far
    // older than the catch-up window, for both targets.
    let d = decide(&p, &tick(), &s, at("2026-11-24T09:00:00Z"));
    let missed: Vec<_> = d
        .notices
        .iter()
        .filter(|n| n.text.contains("missed occurrence of nightly"))
        .collect();
    assert_eq!(missed.len(), 1, "{:?}", d.notices);
    assert!(
        missed[0].text.ends_with("(2 targets: ai, web)"),
        "{}",
        missed[0].text
    );
    assert_eq!(missed[0].target, None);
    // A schedule with one target keeps its notice as it was.
    let mut one_target = State::at_floor(&policy());
    one_target
        .targets
        .get_mut("ai")
        .unwrap()
        .occurrences
        .insert("nightly".into(), at("2026-11-23T02:00:00Z"));
    let d = decide(&policy(), &tick(), &one_target, at("2026-11-24T09:00:00Z"));
    let one: Vec<_> = d
        .notices
        .iter()
        .filter(|n| n.text.contains("missed occurrence of nightly"))
        .collect();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].target.as_deref(), Some("ai"));
    assert!(one[0].text.ends_with("not applied"), "{}", one[0].text);
}

fn suppressed_alarm(name: &str, by: Suppressor) -> Signal {
    let Signal::Alarm(mut a) = alarm(name, Some(91.0)) else {
        unreachable!("an alarm signal")
    };
    a.suppressed = Some(ActionsSuppressed {
        by,
        reason: Some("Alarm api-deploy-in-progress is in ALARM".into()),
    });
    Signal::Alarm(a)
}

#[test]
fn cloudwatch_suppression_is_honoured_by_default_and_named() {
    let p = policy();
    for by in [
        Suppressor::Alarm,
        Suppressor::WaitPeriod,
        Suppressor::ExtensionPeriod,
    ] {
        let d = decide(
            &p,
            &suppressed_alarm("api-cpu-critical", by),
            &state_with(&p, 4),
            monday_afternoon(),
        );
        assert_eq!(reason_of(&d, "api"), Reason::ActionsSuppressed { by });
        assert!(!d.changes_anything());
        let why = &d.for_target("api").unwrap().explanation;
        assert!(why.contains(by.as_str()), "{why}");
        assert!(why.contains("api-deploy-in-progress"), "{why}");
    }
}

#[test]
fn a_rule_may_opt_out_of_cloudwatch_suppression() {
    let text = common::POLICY.replace(
        "[rules.cpu-critical]\nalarm = \"api-cpu-critical\"",
        "[rules.cpu-critical]\nhonour_suppression = false\nalarm = \"api-cpu-critical\"",
    );
    assert_ne!(
        text,
        common::POLICY,
        "the test policy has rule cpu-critical"
    );
    let p = capstan_policy::load(&text).expect("the variant loads");
    let d = decide(
        &p,
        &suppressed_alarm("api-cpu-critical", Suppressor::Alarm),
        &state_with(&p, 4),
        monday_afternoon(),
    );
    assert_eq!(change_of(&d, "api").1.desired, 6);
}

#[test]
fn a_suppressed_notify_only_rule_says_nothing_was_done() {
    let p = policy();
    let d = decide(
        &p,
        &suppressed_alarm("db-iops-maxed", Suppressor::WaitPeriod),
        &state_with(&p, 4),
        monday_afternoon(),
    );
    let text = &d.notices[0].text;
    assert!(
        text.contains("CloudWatch suppressed its actions (WaitPeriod"),
        "{text}"
    );
    assert!(text.contains("nothing done"), "{text}");
}

#[test]
fn an_acting_rules_runbook_rides_on_its_result_not_on_a_notice() {
    let text = common::POLICY.replace(
        "[rules.cpu-critical]\nalarm = \"api-cpu-critical\"",
        "[rules.cpu-critical]\nrunbook = \"look at the error logs\"\nalarm = \"api-cpu-critical\"",
    );
    let p = capstan_policy::load(&text).expect("the variant loads");
    let d = decide(
        &p,
        &alarm("api-cpu-critical", Some(91.0)),
        &state_with(&p, 4),
        monday_afternoon(),
    );
    // No notice claims anything before it is done: the text goes with api's result.
    assert!(d.notices.is_empty(), "{:?}", d.notices);
    let t = d.for_target("api").unwrap();
    assert_eq!(p.runbook_for(&t.source), Some("look at the error logs"));
    // A notify-only rule's text is no result's runbook.
    assert_eq!(p.runbook_for("rule:db"), None);
    assert_eq!(p.runbook_for("schedule:nightly"), None);
}
