//! Run-time pre-events: the `event` signal adds or cancels an event, checked as the policy
//! file's events are; once added, the event raises bounds during its lead and while it runs,
//! holds scale-in, releases step by step and is ignored once over.

mod common;

use capstan_policy::decision::{Capacity, Decision, Outcome, Reason, StateOp};
use capstan_policy::engine::{concerned_targets, event_released_by, NO_TARGET};
use capstan_policy::filetest;
use capstan_policy::load::event_problems;
use capstan_policy::model::{AlarmState, Event};
use capstan_policy::signal::{
    AlarmSignal, CommandSignal, EventRequest, EventSignal, Signal, TickSignal, TimedSignal,
};
use capstan_policy::state::{Pause, State};
use capstan_policy::{decide, effective_bounds};
use chrono::{DateTime, Duration, Utc};
use common::{at, policy};

/// Saturday 2026-12-05: no period holds on api (bounds 2..20); api's scale-in cooldown is 600 s.
const PROMO: &str = r#"{
    "start": "2026-12-05T14:00:00Z",
    "end": "2026-12-05T18:00:00Z",
    "lead": "1h",
    "targets": { "api": { "floor": 6, "ceiling": 12 } }
}"#;

fn event(json: &str) -> Event {
    serde_json::from_str(json).expect("the test event parses")
}

fn promo() -> Event {
    event(PROMO)
}

fn add(name: &str, e: Event) -> Signal {
    add_as("ops", name, e)
}

/// An add-event signal from `by` (an event with `exceed_ceiling` needs a granted user).
fn add_as(by: &str, name: &str, e: Event) -> Signal {
    Signal::Event(EventSignal {
        by: by.into(),
        request: EventRequest::Add {
            name: name.into(),
            event: e,
        },
    })
}

fn cancel(name: &str) -> Signal {
    Signal::Event(EventSignal {
        by: "ops".into(),
        request: EventRequest::Cancel { name: name.into() },
    })
}

fn tick() -> Signal {
    Signal::Tick(TickSignal::default())
}

fn change_of(d: &Decision, target: &str) -> (Capacity, Capacity) {
    match &d.for_target(target).map(|t| &t.outcome) {
        Some(Outcome::Change { from, to, .. }) => (*from, *to),
        other => panic!(
            "expected a change on {target}, got {other:?}\n{}",
            d.render()
        ),
    }
}

/// Asserts `d` is a refusal: one `bad-command` decision on `*` saying `why`, a notice saying
/// it too, and nothing else (no ops, no other target).
fn assert_refused(d: &Decision, why: &str) {
    assert_eq!(d.targets.len(), 1, "{}", d.render());
    let star = &d.targets[0];
    assert_eq!(star.target, NO_TARGET);
    match &star.outcome {
        Outcome::Suppressed {
            reason: Reason::BadCommand { why: w },
        } => assert!(w.contains(why), "reason says {w:?}, expected {why:?}"),
        other => panic!("expected a bad-command refusal, got {other:?}"),
    }
    assert_eq!(star.outcome.kind(), "denied");
    assert!(d.ops.is_empty(), "a refusal records nothing: {:?}", d.ops);
    assert!(
        d.notices.iter().any(|n| n.text.contains(why)),
        "no notice says {why:?}: {:?}",
        d.notices
    );
    assert!(!d.changes_anything());
}

#[test]
fn an_event_added_before_its_lead_is_recorded_and_changes_nothing_yet() {
    let p = policy();
    let s = State::at_floor(&p);
    let now = at("2026-12-05T10:00:00Z");
    let d = decide(&p, &add("promo", promo()), &s, now);
    assert_eq!(
        d.ops,
        vec![StateOp::AddEvent {
            name: "promo".into(),
            event: promo()
        }]
    );
    assert!(d.targets.is_empty(), "{}", d.render());
    let text = &d.notices[0].text;
    for part in [
        "event promo added by ops",
        "2026-12-05 14:00:00Z to 2026-12-05 18:00:00Z, lead 1h",
        "uplift from 2026-12-05 13:00:00Z",
        "api floor 6, ceiling 12",
        "scale-in held",
        "comes down 1 per scale-in cooldown (api 10m)",
    ] {
        assert!(text.contains(part), "notice {text:?} lacks {part:?}");
    }
    assert_eq!(d.signal, "add event promo (by ops)");
}

#[test]
fn an_event_added_during_its_lead_sets_the_bounds_now() {
    let p = policy();
    let mut s = State::at_floor(&p);
    s.targets.get_mut("api").unwrap().desired = 3;
    let now = at("2026-12-05T13:30:00Z");
    let d = decide(&p, &add("promo", promo()), &s, now);
    assert_eq!(d.ops.len(), 1);
    let (from, to) = change_of(&d, "api");
    assert_eq!(
        from,
        Capacity {
            desired: 3,
            min: 2,
            max: 20
        }
    );
    // The uplift only raises: the ceiling stays at 20 (the larger of 20 and 12).
    assert_eq!(
        to,
        Capacity {
            desired: 6,
            min: 6,
            max: 20
        }
    );
    let api = d.for_target("api").unwrap();
    assert_eq!(api.source, "event:promo");
    assert!(
        api.explanation
            .contains("event promo added by ops (lead, in force now)"),
        "{}",
        api.explanation
    );
    // Targets the event does not name are not touched.
    assert!(d.for_target("ai").is_none() && d.for_target("web").is_none());
    assert!(d.notices[0].text.contains("lead, in force now"));

    // Applied, the state has the event, and the next tick has nothing left to do.
    let mut next = s.clone();
    d.apply(&mut next);
    assert_eq!(next.events.get("promo"), Some(&promo()));
    assert_eq!(next.targets["api"].desired, 6);
    let t = decide(&p, &tick(), &next, now + Duration::minutes(5));
    assert_eq!(t.for_target("api").unwrap().outcome.kind(), "unchanged");
}

#[test]
fn an_event_on_a_dry_run_or_paused_target_is_recorded_but_does_not_move_it() {
    let p = policy();
    let mut s = State::at_floor(&p);
    let now = at("2026-12-05T13:30:00Z");
    s.targets.get_mut("api").unwrap().pause = Some(Pause {
        until: now + Duration::hours(1),
        by: "U1".into(),
        pin: None,
    });
    let e = event(
        r#"{"start": "2026-12-05T14:00:00Z", "end": "2026-12-05T18:00:00Z", "lead": "1h",
            "targets": {"api": {"floor": 6}, "web": {"floor": 5}}}"#,
    );
    let d = decide(&p, &add("promo", e), &s, now);
    assert_eq!(d.ops.len(), 1, "the event is recorded");
    // web is a dry-run target: it says what it would do.
    match &d.for_target("web").unwrap().outcome {
        Outcome::Suppressed {
            reason: Reason::DryRun { would },
        } => assert_eq!((would.desired, would.min), (5, 5)),
        other => panic!("expected dry-run on web, got {other:?}"),
    }
    // api is paused: left to the first tick after the pause.
    let api = d.for_target("api").unwrap();
    assert!(matches!(
        api.outcome,
        Outcome::Suppressed {
            reason: Reason::Paused { .. }
        }
    ));
    assert!(api.explanation.contains("bounds 6..20 apply"));
    assert!(!d
        .targets
        .iter()
        .any(|t| matches!(t.outcome, Outcome::Change { .. })));
}

#[test]
fn the_same_event_added_twice_is_one_event() {
    let p = policy();
    let mut s = State::at_floor(&p);
    let now = at("2026-12-05T13:30:00Z");
    decide(&p, &add("promo", promo()), &s, now).apply(&mut s);
    let again = decide(&p, &add("promo", promo()), &s, now + Duration::minutes(1));
    assert!(again.ops.is_empty());
    assert!(!again.changes_anything());
    assert_eq!(again.targets.len(), 1);
    assert_eq!(again.targets[0].target, NO_TARGET);
    assert_eq!(again.targets[0].outcome.kind(), "unchanged");
    assert!(again.notices[0].text.contains("already scheduled"));
    assert_eq!(s.events.len(), 1);
}

#[test]
fn a_different_event_under_a_stored_name_must_be_cancelled_first() {
    let p = policy();
    let mut s = State::at_floor(&p);
    let now = at("2026-12-05T10:00:00Z");
    decide(&p, &add("promo", promo()), &s, now).apply(&mut s);
    let mut other = promo();
    other.release_step = Some(2);
    let d = decide(&p, &add("promo", other), &s, now);
    assert_refused(&d, "cancel it first");
}

#[test]
fn an_event_the_policy_file_defines_is_refused() {
    let p = policy();
    let s = State::at_floor(&p);
    let launch = p.events["launch"].clone();
    let d = decide(&p, &add("launch", launch), &s, at("2026-11-30T10:00:00Z"));
    assert_refused(&d, "the policy file defines an event launch");
    let d = decide(&p, &cancel("launch"), &s, at("2026-11-30T10:00:00Z"));
    assert_refused(&d, "is an event of the policy file");
}

#[test]
fn an_event_already_over_is_refused_but_one_still_releasing_is_added() {
    let p = policy();
    let mut s = State::at_floor(&p);
    s.targets.get_mut("api").unwrap().desired = 2;
    // floor 6 released 1 per 10 m from 18:00: 5, 4, 3, 2, 1, 0 -> zero from 18:50, a step
    // that matters until 19:00.
    assert_eq!(
        event_released_by(&p, &s, &promo()),
        at("2026-12-05T19:00:00Z")
    );
    let d = decide(&p, &add("promo", promo()), &s, at("2026-12-05T19:00:00Z"));
    assert_refused(&d, "already over: it ended 2026-12-05 18:00:00Z");
    assert!(d.notices[0]
        .text
        .contains("released by 2026-12-05 19:00:00Z"));

    // At 18:15 the release is at floor 4: the event still matters, so it is added and applied.
    let d = decide(&p, &add("promo", promo()), &s, at("2026-12-05T18:15:00Z"));
    assert_eq!(d.ops.len(), 1);
    assert_eq!(change_of(&d, "api").1.min, 4);

    // An event that raises no floor is over at its end.
    let ceiling_only = event(
        r#"{"start": "2026-12-05T14:00:00Z", "end": "2026-12-05T18:00:00Z",
            "targets": {"api": {"ceiling": 15}}}"#,
    );
    assert_eq!(
        event_released_by(&p, &s, &ceiling_only),
        at("2026-12-05T18:00:00Z")
    );
    let d = decide(
        &p,
        &add("promo", ceiling_only),
        &s,
        at("2026-12-05T18:00:00Z"),
    );
    assert_refused(&d, "already over");
}

#[test]
fn released_by_never_comes_before_the_release_ends() {
    // The test policy's `launch` on ai: floor 8, released 2 per 10 m from 18:00: 6, 4, then
    // back at ai's floor 2 at 18:20, the last step, which matters (desired follows it down)
    // until 18:30. The bound assumes the floor could be 0 beneath it (8 -> 0 in four steps,
    // the fourth at 18:30, mattering until 18:40): never early.
    let p = policy();
    let s = State::at_floor(&p);
    let launch = &p.events["launch"];
    let by = event_released_by(&p, &s, launch);
    assert_eq!(by, at("2026-12-01T18:40:00Z"));
    let without = {
        let mut q = p.clone();
        q.events.clear();
        q
    };
    let mut last_mattered = None;
    let mut t = launch.end.0 - Duration::hours(1);
    while t < by + Duration::hours(1) {
        let with = effective_bounds(&p, &s, "ai", t);
        let bare = effective_bounds(&without, &s, "ai", t);
        if (with.floor, with.ceiling, with.hold, with.release)
            != (bare.floor, bare.ceiling, bare.hold, bare.release)
        {
            last_mattered = Some(t);
        }
        t += Duration::minutes(1);
    }
    assert_eq!(last_mattered, Some(at("2026-12-01T18:29:00Z")));
    assert!(last_mattered < Some(by));
    let last_step = effective_bounds(&p, &s, "ai", at("2026-12-01T18:29:00Z"));
    assert_eq!(last_step.release, Some(("launch".to_string(), 2)));
    assert_eq!(last_step.floor, 2, "the last step: back at the floor");
}

#[test]
fn every_check_of_the_policy_file_refuses_a_run_time_event() {
    let p = policy();
    let s = State::at_floor(&p);
    let now = at("2026-12-05T10:00:00Z");
    let cases = [
        (
            r#"{"start": "2026-12-05T18:00:00Z", "end": "2026-12-05T14:00:00Z", "targets": {"api": {"floor": 6}}}"#,
            "`events.bad.end` (2026-12-05T14:00:00Z) is not after its start",
        ),
        (
            r#"{"start": "2026-12-05T14:00:00Z", "end": "2026-12-05T18:00:00Z", "release_step": 0, "targets": {"api": {"floor": 6}}}"#,
            "`events.bad.release_step` is 0",
        ),
        (
            r#"{"start": "2026-12-05T14:00:00Z", "end": "2026-12-05T18:00:00Z", "targets": {}}"#,
            "event `events.bad` names no targets",
        ),
        (
            r#"{"start": "2026-12-05T14:00:00Z", "end": "2026-12-05T18:00:00Z", "targets": {"apu": {"floor": 6}}}"#,
            "`events.bad.targets.apu` names unknown target `apu`",
        ),
        (
            r#"{"start": "2026-12-05T14:00:00Z", "end": "2026-12-05T18:00:00Z", "targets": {"api": {}}}"#,
            "`events.bad.targets.api` raises neither `floor` nor `ceiling`",
        ),
        (
            r#"{"start": "2026-12-05T14:00:00Z", "end": "2026-12-05T18:00:00Z", "targets": {"api": {"ceiling": "+50%"}}}"#,
            "raises the ceiling to 30, above target `api`'s hard ceiling (20)",
        ),
        (
            r#"{"start": "2026-12-05T14:00:00Z", "end": "2026-12-05T18:00:00Z", "targets": {"api": {"floor": 25}}}"#,
            "`events.bad.targets.api.floor` raises the floor to 25, above the ceiling (20)",
        ),
    ];
    for (json, why) in cases {
        let e = event(json);
        let problems = event_problems(&p, "bad", &e);
        assert_eq!(problems.len(), 1, "{json}: {problems:?}");
        assert!(problems[0].message.contains(why), "{problems:?}");
        let d = decide(&p, &add("bad", e), &s, now);
        assert_refused(&d, why);
        // The hint travels with the refusal.
        assert!(d.notices[0].text.contains(&problems[0].hint));
    }
    // With `exceed_ceiling` the ceiling above the hard one is allowed.
    let e = event(
        r#"{"start": "2026-12-05T14:00:00Z", "end": "2026-12-05T18:00:00Z", "exceed_ceiling": true, "targets": {"api": {"ceiling": "+50%"}}}"#,
    );
    assert!(event_problems(&p, "ok", &e).is_empty());
    let d = decide(&p, &add_as("cli:ops", "ok", e), &s, now);
    assert_eq!(d.ops.len(), 1);
    assert!(d.notices[0].text.contains(
        "ceiling +50% over the ceiling in force (above its hard ceiling 20: exceed_ceiling)"
    ));
}

#[test]
fn the_loader_and_the_engine_report_an_event_in_the_same_words() {
    let text = format!(
        "{}\n[events.late]\nstart = 2026-12-05T18:00:00Z\nend = 2026-12-05T14:00:00Z\n[events.late.targets.api]\nfloor = 6\n",
        common::POLICY
    );
    let err = capstan_policy::load(&text).expect_err("a backwards event does not load");
    let p = policy();
    let e = event(
        r#"{"start": "2026-12-05T18:00:00Z", "end": "2026-12-05T14:00:00Z", "targets": {"api": {"floor": 6}}}"#,
    );
    let problems = event_problems(&p, "late", &e);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].path, "events.late.end");
    let diag = err
        .diagnostics
        .iter()
        .find(|d| d.message.contains("events.late"))
        .expect("the loader reports the event");
    assert_eq!(diag.message, problems[0].message);
    assert_eq!(diag.hint.as_deref(), Some(problems[0].hint.as_str()));
}

#[test]
fn blank_names_and_askers_are_refused() {
    let p = policy();
    let s = State::at_floor(&p);
    let now = at("2026-12-05T10:00:00Z");
    let d = decide(&p, &add(" ", promo()), &s, now);
    assert_refused(&d, "the event has no name");
    let nobody = Signal::Event(EventSignal {
        by: "".into(),
        request: EventRequest::Add {
            name: "promo".into(),
            event: promo(),
        },
    });
    assert_refused(&decide(&p, &nobody, &s, now), "`by` is empty");
}

#[test]
fn cancelling_brings_the_bounds_back_and_clamps_desired() {
    let p = policy();
    let mut s = State::at_floor(&p);
    let now = at("2026-12-05T15:00:00Z");
    decide(&p, &add("promo", promo()), &s, now).apply(&mut s);
    s.targets.get_mut("api").unwrap().desired = 9;
    assert_eq!(
        (s.targets["api"].min, s.targets["api"].max),
        (6, 20),
        "the add set the bounds"
    );
    let d = decide(&p, &cancel("promo"), &s, now + Duration::minutes(5));
    assert_eq!(
        d.ops,
        vec![StateOp::CancelEvent {
            name: "promo".into()
        }]
    );
    assert!(d.notices[0]
        .text
        .contains("event promo (2026-12-05 14:00:00Z to 2026-12-05 18:00:00Z, under way, in force now) cancelled by ops"));
    // Desired 9 is inside the normal bounds 2..20: only the minimum comes back down.
    let (from, to) = change_of(&d, "api");
    assert_eq!((from.desired, from.min), (9, 6));
    assert_eq!(
        to,
        Capacity {
            desired: 9,
            min: 2,
            max: 20
        }
    );
    d.apply(&mut s);
    assert!(s.events.is_empty());
    // Cancelling again: there is nothing to cancel.
    let d = decide(&p, &cancel("promo"), &s, now + Duration::minutes(6));
    assert_refused(
        &d,
        "there is no run-time event named promo (run-time events: none)",
    );
}

#[test]
fn cancelling_a_raised_ceiling_clamps_desired_into_it() {
    let p = policy();
    let mut s = State::at_floor(&p);
    let now = at("2026-12-05T15:00:00Z");
    let e = event(
        r#"{"start": "2026-12-05T14:00:00Z", "end": "2026-12-05T18:00:00Z", "exceed_ceiling": true,
            "targets": {"api": {"floor": 6, "ceiling": 25}}}"#,
    );
    decide(&p, &add_as("cli:ops", "big", e), &s, now).apply(&mut s);
    s.targets.get_mut("api").unwrap().desired = 24;
    let d = decide(&p, &cancel("big"), &s, now);
    assert_eq!(
        change_of(&d, "api").1,
        Capacity {
            desired: 20,
            min: 2,
            max: 20
        }
    );
}

#[test]
fn unknown_cancel_lists_the_run_time_events() {
    let p = policy();
    let mut s = State::at_floor(&p);
    s.events.insert("promo".into(), promo());
    let d = decide(&p, &cancel("prom"), &s, at("2026-12-05T10:00:00Z"));
    assert_refused(&d, "no run-time event named prom (run-time events: promo)");
}

#[test]
fn a_run_time_event_lives_like_a_policy_event() {
    let p = policy();
    let mut s = State::at_floor(&p);
    let t0 = at("2026-12-05T09:00:00Z");
    decide(&p, &add("promo", promo()), &s, t0).apply(&mut s);
    let api = |s: &State| s.targets["api"].clone();

    // Before the lead: the tick leaves api alone.
    let d = decide(&p, &tick(), &s, at("2026-12-05T12:55:00Z"));
    assert_eq!(d.for_target("api").unwrap().outcome.kind(), "unchanged");
    // The lead raises the floor.
    let d = decide(&p, &tick(), &s, at("2026-12-05T13:00:00Z"));
    assert_eq!(change_of(&d, "api").1.min, 6);
    d.apply(&mut s);
    assert_eq!(api(&s).desired, 6);
    // During the event a scale-in alarm is held.
    s.targets.get_mut("api").unwrap().desired = 8;
    let low = Signal::Alarm(AlarmSignal {
        name: "api-cpu-low".into(),
        state: AlarmState::Alarm,
        previous: None,
        value: None,
        suppressed: None,
    });
    let d = decide(&p, &low, &s, at("2026-12-05T15:00:00Z"));
    match &d.for_target("api").unwrap().outcome {
        Outcome::Suppressed {
            reason: Reason::EventHold { event },
        } => assert_eq!(event, "promo"),
        other => panic!("expected event-hold, got {other:?}"),
    }
    // After the end the floor comes down 1 per 10 m (api's scale-in cooldown).
    s.targets.get_mut("api").unwrap().desired = 6;
    let floors: Vec<u32> = (0..6)
        .map(|i| {
            effective_bounds(
                &p,
                &s,
                "api",
                at("2026-12-05T18:00:00Z") + Duration::minutes(10 * i),
            )
            .floor
        })
        .collect();
    assert_eq!(floors, vec![5, 4, 3, 2, 2, 2]);
    let d = decide(&p, &tick(), &s, at("2026-12-05T18:00:00Z"));
    assert_eq!(change_of(&d, "api").1.desired, 5, "desired follows down");
    d.apply(&mut s);
    let d = decide(&p, &tick(), &s, at("2026-12-05T18:10:00Z"));
    assert_eq!(change_of(&d, "api").1.desired, 4);
    d.apply(&mut s);
    // Once over, the stored event is ignored: bounds as without it, and no hold.
    let over = at("2026-12-05T19:00:00Z");
    let b = effective_bounds(&p, &s, "api", over);
    assert_eq!((b.floor, b.ceiling, b.hold, b.release), (2, 20, None, None));
    assert!(over >= event_released_by(&p, &s, &promo()));
    assert!(!b.why.iter().any(|w| w.contains("promo")), "{:?}", b.why);
    let d = decide(&p, &low, &s, over);
    assert_eq!(d.for_target("api").unwrap().outcome.kind(), "change");
}

#[test]
fn event_signals_concern_every_target() {
    let p = policy();
    assert_eq!(concerned_targets(&p, &add("promo", promo())), None);
    assert_eq!(concerned_targets(&p, &cancel("promo")), None);
}

#[test]
fn lift_cap_still_brings_bounds_back() {
    // The shared bounds-change path, through the command that used it first.
    let p = policy();
    let mut s = State::at_floor(&p);
    let now = at("2026-11-23T14:05:00Z");
    s.targets.get_mut("ai").unwrap().max = 2;
    s.caps.push(capstan_policy::state::BudgetCap {
        budget: "AI-Service-Monthly".into(),
        rule: "ai-100".into(),
        since: now - Duration::hours(1),
        until: at("2026-12-01T00:00:00Z"),
    });
    let lift = Signal::Command(CommandSignal {
        user: "U2147483697".into(),
        channel: "C2147483705".into(),
        text: "lift-cap AI-Service-Monthly".into(),
        confirmed: true,
    });
    let d = decide(&p, &lift, &s, now);
    let (from, to) = change_of(&d, "ai");
    assert_eq!((from.max, to.max), (2, 30));
    assert!(d
        .for_target("ai")
        .unwrap()
        .explanation
        .starts_with("cap of budget AI-Service-Monthly lifted: "));
}

// ----- the wire form ----------------------------------------------------------------------

#[test]
fn the_json_shape_round_trips() {
    let add_json = r#"{"at":"2026-12-05T10:00:00Z","signal":{"event":{"by":"ops","add":{"name":"promo","event":{"start":"2026-12-05T14:00:00Z","end":"2026-12-05T18:00:00Z","lead":"1h","targets":{"api":{"floor":6,"ceiling":12}}}}}}}"#;
    let timed: TimedSignal = serde_json::from_str(add_json).expect("an add parses");
    assert_eq!(timed.at, at("2026-12-05T10:00:00Z"));
    assert_eq!(timed.signal, add("promo", promo()));
    let back = serde_json::to_value(&timed).unwrap();
    assert_eq!(back["signal"]["event"]["by"], "ops");
    assert_eq!(back["signal"]["event"]["add"]["name"], "promo");
    assert!(back["signal"]["event"].get("cancel").is_none());
    let again: TimedSignal = serde_json::from_value(back).unwrap();
    assert_eq!(again, timed);

    let cancel_json = r#"{"event":{"by":"ops","cancel":"promo"}}"#;
    let signal: Signal = serde_json::from_str(cancel_json).expect("a cancel parses");
    assert_eq!(signal, cancel("promo"));
    assert_eq!(
        serde_json::to_string(&signal).unwrap(),
        cancel_json,
        "a cancel writes as it reads"
    );
    assert_eq!(signal.summary(), "cancel event promo (by ops)");
}

#[test]
fn malformed_event_signals_say_what_is_wrong() {
    let cases = [
        (
            r#"{"event":{"by":"ops"}}"#,
            "needs `add = { name, event }` or `cancel = NAME`",
        ),
        (
            r#"{"event":{"by":"ops","cancel":"a","add":{"name":"b","event":{"start":"2026-12-05T14:00:00Z","end":"2026-12-05T18:00:00Z","targets":{}}}}}"#,
            "has both `add` and `cancel`",
        ),
        (
            r#"{"event":{"by":"ops","remove":"a"}}"#,
            "unknown field `remove`",
        ),
        (r#"{"event":{"cancel":"a"}}"#, "missing field `by`"),
        (
            r#"{"event":{"by":"ops","add":{"name":"b","event":{"start":"2026-12-05T14:00:00Z","end":"2026-12-05T18:00:00Z","targets":{"api":{"flor":6}}}}}}"#,
            "unknown field `flor`",
        ),
    ];
    for (json, says) in cases {
        let err = serde_json::from_str::<Signal>(json).expect_err(json);
        assert!(err.to_string().contains(says), "{json}: {err}");
    }
}

#[test]
fn state_ops_serialize_with_their_tag() {
    let op = StateOp::CancelEvent {
        name: "promo".into(),
    };
    assert_eq!(
        serde_json::to_string(&op).unwrap(),
        r#"{"op":"cancel-event","name":"promo"}"#
    );
    let op = StateOp::AddEvent {
        name: "promo".into(),
        event: promo(),
    };
    let v = serde_json::to_value(&op).unwrap();
    assert_eq!(v["op"], "add-event");
    assert_eq!(serde_json::from_value::<StateOp>(v).unwrap(), op);
}

/// A `capstan simulate` timeline (JSON lines of `TimedSignal`) that adds an event at run time,
/// replayed the way simulate replays it: decide, print, apply.
#[test]
fn a_timeline_with_an_added_event() {
    const TIMELINE: &str = r#"
{"at":"2026-12-05T12:00:00Z","signal":{"tick":{}}}
{"at":"2026-12-05T12:30:00Z","signal":{"event":{"by":"cli:ana","add":{"name":"promo","event":{"start":"2026-12-05T14:00:00Z","end":"2026-12-05T18:00:00Z","lead":"1h","targets":{"api":{"floor":6}}}}}}}
{"at":"2026-12-05T12:31:00Z","signal":{"event":{"by":"cli:ana","add":{"name":"promo","event":{"start":"2026-12-05T14:00:00Z","end":"2026-12-05T18:00:00Z","lead":"1h","targets":{"api":{"floor":6}}}}}}}
{"at":"2026-12-05T13:00:00Z","signal":{"tick":{}}}
{"at":"2026-12-05T15:00:00Z","signal":{"alarm":{"name":"api-cpu-low","state":"ALARM"}}}
{"at":"2026-12-05T18:00:00Z","signal":{"tick":{}}}
{"at":"2026-12-05T18:10:00Z","signal":{"tick":{}}}
{"at":"2026-12-05T18:20:00Z","signal":{"tick":{}}}
{"at":"2026-12-05T18:30:00Z","signal":{"tick":{}}}
{"at":"2026-12-05T18:40:00Z","signal":{"tick":{}}}
{"at":"2026-12-05T19:00:00Z","signal":{"event":{"by":"cli:ana","cancel":"promo"}}}
"#;
    let p = policy();
    let mut s = State::at_floor(&p);
    let mut log = Vec::new();
    let mut desired: Vec<(DateTime<Utc>, u32)> = Vec::new();
    for line in TIMELINE.lines().filter(|l| !l.trim().is_empty()) {
        let timed: TimedSignal = serde_json::from_str(line).expect("a timeline line parses");
        let d = decide(&p, &timed.signal, &s, timed.at);
        log.push(d.render());
        d.apply(&mut s);
        desired.push((timed.at, s.targets["api"].desired));
    }
    let counts: Vec<u32> = desired.iter().map(|(_, n)| *n).collect();
    // 12:00 at the floor; 12:30 add (before the lead); 12:31 the same add again; 13:00 the
    // lead lifts api to 6; 15:00 the scale-in alarm is held; from 18:00 desired follows the
    // releasing floor 5, 4, 3; at 18:30 the last step brings the floor back to 2 and desired
    // follows it (as for the policy file's events); after that desired is free within the
    // normal bounds; 19:00 the cancel of an event that no longer matters.
    assert_eq!(
        counts,
        vec![2, 2, 2, 6, 6, 5, 4, 3, 2, 2, 2],
        "{}",
        log.join("")
    );
    assert_eq!((s.targets["api"].min, s.targets["api"].max), (2, 20));
    assert!(log[2].contains("already scheduled"), "{}", log[2]);
    assert!(log[4].contains("[suppressed]"), "{}", log[4]);
    assert!(log[10].contains("cancelled by cli:ana"), "{}", log[10]);
    assert!(s.events.is_empty());
}

// ----- the policy's own tests -------------------------------------------------------------

const WITH_TESTS: &str = r#"
[[tests]]
name = "an event added in its lead lifts api now"
at = 2026-12-05T13:30:00Z
signal = { event = { by = "ops", add = { name = "promo", event = { start = 2026-12-05T14:00:00Z, end = 2026-12-05T18:00:00Z, lead = "1h", targets = { api = { floor = 6 } } } } } }
expect.api = { outcome = "change", desired = 6, min = 6, max = 20, says = "event promo added by ops" }
expect.notify = { says = "api floor 6" }

[[tests]]
name = "an event of the policy file cannot be added at run time"
at = 2026-11-30T10:00:00Z
signal = { event = { by = "ops", add = { name = "launch", event = { start = 2026-12-01T09:00:00Z, end = 2026-12-01T18:00:00Z, targets = { ai = { floor = 8 } } } } } }
expect."*" = { outcome = "denied", reason = "bad-command", says = "edit the policy" }

[[tests]]
name = "cancelling a run-time event under way brings api back"
at = 2026-12-05T15:00:00Z
signal = { event = { by = "ops", cancel = "promo" } }
state.api = { desired = 6, min = 6 }
events.promo = { start = 2026-12-05T14:00:00Z, end = 2026-12-05T18:00:00Z, targets = { api = { floor = 6 } } }
expect.api = { outcome = "change", desired = 6, min = 2 }
expect.notify = { says = "cancelled by ops" }
"#;

#[test]
fn policy_tests_can_add_and_cancel_events() {
    let text = format!("{}{WITH_TESTS}", common::POLICY);
    let p = capstan_policy::load_file(&text).unwrap_or_else(|e| panic!("{:?}", e.diagnostics));
    assert_eq!(p.tests.len(), 3);
    assert_eq!(p.tests[2].events.len(), 1);
    let results = filetest::run_tests(&p);
    for r in &results {
        assert!(r.passed, "{}: {:?}", r.name, r.failures);
    }
    // The tests can fail: without the stored event there is nothing to cancel.
    let mut broken = p.clone();
    broken.tests[2].events.clear();
    let r = filetest::run_test(&broken.policy, &broken.tests[2]);
    assert!(!r.passed);
    assert!(
        r.failures
            .iter()
            .any(|f| f.contains("api: expected a decision, got none")),
        "{:?}",
        r.failures
    );
}

#[test]
fn the_loader_checks_event_signals_and_test_events() {
    let text = format!(
        "{}{}",
        common::POLICY,
        r#"
[[tests]]
name = "typos"
at = 2026-12-05T13:30:00Z
signal = { event = { by = "ops", add = { name = "promo", event = { start = 2026-12-05T14:00:00Z, end = 2026-12-05T18:00:00Z, targets = { api = { flor = 6 } } } } } }
events.old = { start = 2026-12-05T14:00:00Z, end = 2026-12-05T12:00:00Z, targets = { api = { floor = 6 } } }
events.launch = { start = 2026-12-05T14:00:00Z, end = 2026-12-05T18:00:00Z, targets = { ai = { floor = 8 } } }
expect."*" = { outcome = "denied" }
"#
    );
    let err = capstan_policy::load(&text).expect_err("the test has problems");
    let messages: Vec<&str> = err.diagnostics.iter().map(|d| d.message.as_str()).collect();
    let expected = [
        "unknown key `flor` in `tests[0].signal.event.add.event.targets.api`",
        "`tests[0].events.old.end` (2026-12-05T12:00:00Z) is not after its start",
        "`tests[0].events.launch`: the policy already defines an event `launch`",
    ];
    for e in expected {
        assert!(
            messages.iter().any(|m| m.contains(e)),
            "no diagnostic says {e:?}: {messages:#?}"
        );
    }
}

#[test]
fn a_test_event_with_problems_fails_the_test() {
    let text = format!("{}{WITH_TESTS}", common::POLICY);
    let mut p = capstan_policy::load_file(&text).expect("loads");
    p.tests[2]
        .events
        .get_mut("promo")
        .unwrap()
        .targets
        .insert("ghost".into(), Default::default());
    let r = filetest::run_test(&p.policy, &p.tests[2]);
    assert!(!r.passed);
    assert!(
        r.failures
            .iter()
            .any(|f| f.contains("names unknown target `ghost`")),
        "{:?}",
        r.failures
    );
}
