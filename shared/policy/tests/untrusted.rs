//! Numbers and requests from outside: datapoints that cannot size anything, arithmetic at the
//! limits of its types, the validator's bounds on durations and amounts, the grant an event's
//! `exceed_ceiling` needs, and relative floor uplifts that must not lift the ceiling past the
//! hard ceiling.

mod common;

use capstan_policy::decision::{Capacity, Decision, Outcome, Reason};
use capstan_policy::load::event_problems;
use capstan_policy::model::{Amount, Dur, Event, MAX_DURATION};
use capstan_policy::signal::{CommandSignal, EventRequest, EventSignal, Signal};
use capstan_policy::state::State;
use capstan_policy::{decide, effective_bounds, load};
use chrono::{DateTime, Duration, Utc};
use common::{alarm, at, policy, push_action};

fn add_as(by: &str, name: &str, event: Event) -> Signal {
    Signal::Event(EventSignal {
        by: by.into(),
        request: EventRequest::Add {
            name: name.into(),
            event,
        },
    })
}

fn event(json: &str) -> Event {
    serde_json::from_str(json).expect("the test event parses")
}

/// Monday 2026-11-23 14:05 UTC: business hours (api 4..20); ai 2..30.
fn monday_afternoon() -> DateTime<Utc> {
    at("2026-11-23T14:05:00Z")
}

fn outcome<'d>(d: &'d Decision, target: &str) -> &'d Outcome {
    &d.for_target(target)
        .unwrap_or_else(|| panic!("a decision for {target}\n{}", d.render()))
        .outcome
}

fn reason_of(d: &Decision, target: &str) -> Reason {
    match outcome(d, target) {
        Outcome::Suppressed { reason } => reason.clone(),
        other => panic!(
            "expected a suppression on {target}, got {other:?}\n{}",
            d.render()
        ),
    }
}

fn to_of(d: &Decision, target: &str) -> Capacity {
    match outcome(d, target) {
        Outcome::Change { to, .. } => *to,
        other => panic!(
            "expected a change on {target}, got {other:?}\n{}",
            d.render()
        ),
    }
}

// ---- datapoints ----

#[test]
fn size_from_metric_with_a_negative_or_non_finite_datapoint_does_nothing_and_says_why() {
    let p = policy();
    let mut s = State::at_floor(&p);
    s.targets.get_mut("ai").unwrap().desired = 10;
    for (value, says) in [
        (-5.0, "the datapoint -5 is negative"),
        (-0.001, "the datapoint -0.001 is negative"),
        (f64::NAN, "the datapoint NaN is not a finite number"),
        (f64::INFINITY, "the datapoint inf is not a finite number"),
        (
            f64::NEG_INFINITY,
            "the datapoint -inf is not a finite number",
        ),
    ] {
        let d = decide(
            &p,
            &alarm("ai-queue-deep", Some(value)),
            &s,
            monday_afternoon(),
        );
        assert_eq!(reason_of(&d, "ai"), Reason::BadDatapoint, "{value}");
        assert_eq!(reason_of(&d, "ai").code(), "bad-datapoint");
        let t = d.for_target("ai").unwrap();
        assert_eq!(t.outcome.kind(), "suppressed");
        assert!(t.explanation.contains(says), "{value}: {}", t.explanation);
        assert!(t.explanation.ends_with("nothing done"), "{}", t.explanation);
        assert!(d.ops.is_empty());
    }
    // 0 is a real datapoint (no load): the floor.
    let d = decide(
        &p,
        &alarm("ai-queue-deep", Some(0.0)),
        &s,
        monday_afternoon(),
    );
    assert_eq!(to_of(&d, "ai").desired, 2);
}

#[test]
fn a_huge_datapoint_saturates_at_the_ceiling() {
    let p = policy();
    let s = State::at_floor(&p);
    for value in [1e300, f64::MAX, 1e12] {
        let d = decide(
            &p,
            &alarm("ai-queue-deep", Some(value)),
            &s,
            monday_afternoon(),
        );
        // From 2 the step is limited (ai has no max_step: ceiling - floor), up to the ceiling 30.
        assert_eq!(to_of(&d, "ai").desired, 30, "{value}\n{}", d.render());
    }
}

#[test]
fn a_stepped_rule_refuses_a_non_finite_datapoint() {
    let p = policy();
    let s = State::at_floor(&p);
    for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let d = decide(
            &p,
            &alarm("ai-stepped", Some(value)),
            &s,
            monday_afternoon(),
        );
        assert_eq!(reason_of(&d, "ai"), Reason::BadDatapoint, "{value}");
        assert!(d
            .for_target("ai")
            .unwrap()
            .explanation
            .contains("no step can be chosen"));
    }
    // A negative value is a value like any other for steps (`upper = 50` covers it).
    let d = decide(&p, &alarm("ai-stepped", Some(-5.0)), &s, monday_afternoon());
    assert_eq!(to_of(&d, "ai").desired, 3);
}

// ---- arithmetic at the limits ----

#[test]
fn amounts_saturate_instead_of_wrapping() {
    assert_eq!(Amount::Delta(i64::MAX).apply(5), u32::MAX);
    assert_eq!(Amount::Delta(i64::MIN).apply(5), 0);
    assert_eq!(Amount::Delta(i64::from(u32::MAX) + 10).apply(0), u32::MAX);
    assert_eq!(Amount::Delta(1).apply(u32::MAX), u32::MAX);
    assert_eq!(Amount::Percent(i64::MAX).apply(3), u32::MAX);
    assert_eq!(Amount::Percent(i64::MIN).apply(3), 0);
    assert_eq!(Amount::Percent(100).apply(u32::MAX), u32::MAX);
    assert_eq!(Amount::Percent(-100).apply(u32::MAX), 0);
    assert_eq!(Amount::Percent(50).apply(5), 8);
    assert_eq!(Amount::Delta(-2).apply(5), 3);
}

#[test]
fn huge_durations_and_steps_in_an_unvalidated_policy_never_panic() {
    // The engine is also given policies that never went through `load` (and run-time events
    // that did, but with numbers the type allows): every instant saturates.
    let mut p = policy();
    let huge = Dur(std::time::Duration::from_secs(u64::MAX));
    let api = p.targets.get_mut("api").unwrap();
    api.cooldown.scale_out = huge;
    api.cooldown.scale_in = huge;
    api.cooldown.scale_in_guard = Some(huge);
    api.max_step = Some(u32::MAX);
    p.settings.default_pause = huge;
    p.settings.catch_up = huge;
    let launch = p.events.get_mut("launch").unwrap();
    launch.lead = Some(huge);
    launch.release_step = Some(u32::MAX);
    launch.targets.get_mut("ai").unwrap().floor = Some(Amount::Delta(i64::MAX));
    p.rules.get_mut("cpu-critical").unwrap().cooldown = Some(huge);

    let now = at("2026-12-01T12:00:00Z");
    let mut s = State::at_floor(&p);
    push_action(
        &mut s,
        "api",
        now,
        Duration::minutes(1),
        "rule:cpu-critical",
        4,
        6,
    );
    s.targets.get_mut("api").unwrap().desired = 6;
    for signal in [
        alarm("api-cpu-critical", Some(99.0)),
        alarm("api-cpu-low", None),
        Signal::Tick(Default::default()),
        Signal::Command(CommandSignal {
            user: "cli:ana".into(),
            channel: String::new(),
            text: "pause api".into(),
            confirmed: true,
        }),
        Signal::Command(CommandSignal {
            user: "cli:ana".into(),
            channel: String::new(),
            text: "scale api +9223372036854775807 --force".into(),
            confirmed: true,
        }),
        Signal::Command(CommandSignal {
            user: "cli:ana".into(),
            channel: String::new(),
            text: "scale api -9223372036854775808 --force".into(),
            confirmed: true,
        }),
        Signal::Command(CommandSignal {
            user: "cli:ana".into(),
            channel: String::new(),
            text: "status".into(),
            confirmed: false,
        }),
    ] {
        for when in [now, at("2026-12-01T20:00:00Z"), at("9999-12-31T23:59:59Z")] {
            let d = decide(&p, &signal, &s, when);
            let mut next = s.clone();
            d.apply(&mut next);
            for inst in next.targets.keys() {
                effective_bounds(&p, &next, inst, when);
            }
        }
    }
    // A change beyond the largest count is refused, naming the word, not saturated; the
    // largest change allowed goes as far as it says, and the forced -100000 stops at 0.
    let force = |text: &str| {
        decide(
            &p,
            &Signal::Command(CommandSignal {
                user: "cli:ana".into(),
                channel: String::new(),
                text: text.into(),
                confirmed: true,
            }),
            &s,
            now,
        )
    };
    for text in [
        "scale api +9223372036854775807 --force",
        "scale api -9223372036854775808 --force",
        "scale api 4294967295 --force",
    ] {
        let d = force(text);
        let word = text.split(' ').nth(2).unwrap();
        assert!(d.ops.is_empty(), "{text}: {d:?}");
        match &d.for_target("*").map(|t| &t.outcome) {
            Some(Outcome::Suppressed {
                reason: Reason::BadCommand { why },
            }) => assert!(why.contains(&format!("`{word}`")), "{text}: {why}"),
            other => panic!("{text}: {other:?}"),
        }
    }
    assert_eq!(
        to_of(&force("scale api +100000 --force"), "api").desired,
        100_006
    );
    assert_eq!(to_of(&force("scale api -100000 --force"), "api").desired, 0);
    // The uplift of i64::MAX raises ai's floor to its hard ceiling, no further: the launch has
    // no `exceed_ceiling`.
    let b = effective_bounds(&p, &s, "ai", now);
    assert_eq!((b.floor, b.ceiling), (30, 30));
    // Its release with a step of u32::MAX is over at once.
    let b = effective_bounds(&p, &s, "ai", at("2026-12-01T18:00:00Z"));
    assert_eq!(b.floor, 2);
}

// ---- the validator's bounds ----

fn problems_of(text: &str) -> Vec<String> {
    match load(text) {
        Ok(_) => Vec::new(),
        Err(e) => e.diagnostics.iter().map(|d| d.to_string()).collect(),
    }
}

/// The policy with `extra` appended, its problems, and the line `needle` is on.
fn appended(extra: &str, needle: &str) -> (Vec<String>, usize) {
    let text = format!("{}\n{extra}", common::POLICY);
    let line = text
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} in the text"))
        + 1;
    (problems_of(&text), line)
}

#[test]
fn validate_bounds_durations_and_amounts_naming_the_field_and_line() {
    assert!(
        problems_of(common::POLICY).is_empty(),
        "the test policy is clean"
    );
    let cases = [
        (
            "[targets.big]\nkind = \"ecs\"\ncluster = \"c\"\nservice = \"s\"\nfloor = 1\nceiling = 100001\n",
            "ceiling = 100001",
            "`targets.big.ceiling` is 100001: more than 100000",
        ),
        (
            "[targets.slow]\nkind = \"ecs\"\ncluster = \"c\"\nservice = \"s\"\nfloor = 1\nceiling = 4\ncooldown = { scale_in = \"367days\" }\n",
            "367days",
            "`targets.slow.cooldown.scale_in` is 367 days: longer than 366 days",
        ),
        (
            "[rules.huge]\nalarm = \"huge\"\ntarget = \"api\"\naction = { add = 100001 }\n",
            "add = 100001",
            "`rules.huge.action.add` is 100001: more than 100000",
        ),
        (
            "[rules.tenfold]\nalarm = \"tenfold\"\ntarget = \"api\"\naction = { percent = 1001 }\n",
            "percent = 1001",
            "`rules.tenfold.action.percent` is 1001: more than 1000 percent either way",
        ),
        (
            "[rules.buffered]\nalarm = \"b\"\ntarget = \"ai\"\naction = { from_metric = { per_unit = 1.0, buffer_percent = 5000.0 } }\n",
            "buffer_percent = 5000.0",
            "`rules.buffered.action.from_metric.buffer_percent` is 5000: more than 1000 percent",
        ),
        (
            "[rules.nanstep]\nalarm = \"n\"\ntarget = \"ai\"\nsteps = [{ lower = nan, action = { add = 1 } }]\n",
            "lower = nan",
            "`rules.nanstep.steps[0].lower` is NaN: not a finite number",
        ),
        (
            "[events.far]\nstart = 2026-12-05T14:00:00Z\nend = 2026-12-05T18:00:00Z\nlead = \"400days\"\nrelease_step = 100001\n[events.far.targets.api]\nfloor = \"+100001\"\n",
            "lead = \"400days\"",
            "`events.far.lead` is 400 days: longer than 366 days",
        ),
        (
            "[events.steep]\nstart = 2026-12-05T14:00:00Z\nend = 2026-12-05T18:00:00Z\nrelease_step = 100001\n[events.steep.targets.api]\nfloor = 3\n",
            "release_step = 100001",
            "`events.steep.release_step` is 100001: more than 100000",
        ),
        (
            "[events.tall]\nstart = 2026-12-05T14:00:00Z\nend = 2026-12-05T18:00:00Z\nexceed_ceiling = true\n[events.tall.targets.api]\nceiling = \"+1001%\"\n",
            "+1001%",
            "`events.tall.targets.api.ceiling`: a change of +1001% is more than 1000% either way",
        ),
        (
            "[budgets.silly]\nbudget = \"B\"\nthreshold = 1000.5\naction = \"notify\"\n",
            "threshold = 1000.5",
            "`budgets.silly.threshold` is 1000.5: more than 1000 percent",
        ),
        (
            "[[tests]]\nname = \"old\"\nat = 2026-12-05T14:00:00Z\nsignal = { tick = {} }\nstate.api = { paused_for = \"10000days\" }\nexpect.api = { outcome = \"suppressed\" }\n",
            "10000days",
            "`tests[0].state.api.paused_for` is 10000 days: longer than 366 days",
        ),
    ];
    for (extra, needle, message) in cases {
        let (problems, line) = appended(extra, needle);
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with(&format!("{line}:")) && p.contains(message)),
            "expected line {line}: {message}\nin {problems:#?}"
        );
    }
    // Exactly at the limits: clean.
    let at_limits = "[targets.edge]\nkind = \"ecs\"\ncluster = \"c\"\nservice = \"s\"\nfloor = 1\nceiling = 100000\nmax_actions_per_hour = 100000\ncooldown = { scale_in = \"366days\" }\n\
                     [rules.edge]\nalarm = \"edge\"\ntarget = \"edge\"\naction = { percent = -1000 }\ncooldown = \"366days\"\n\
                     [events.edge]\nstart = 2026-12-05T14:00:00Z\nend = 2026-12-05T18:00:00Z\nlead = \"366days\"\nrelease_step = 100000\n[events.edge.targets.edge]\nfloor = \"+1000%\"\n";
    let (problems, _) = appended(at_limits, "[targets.edge]");
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(MAX_DURATION, Dur::from_secs(366 * 24 * 3600));
}

#[test]
fn a_run_time_event_beyond_the_bounds_is_refused_in_the_validators_words() {
    let p = policy();
    let e = event(
        r#"{"start": "2026-12-05T14:00:00Z", "end": "2026-12-05T18:00:00Z", "lead": "400days",
            "targets": {"api": {"floor": "+100001"}}}"#,
    );
    let problems = event_problems(&p, "far", &e);
    let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    assert!(
        messages.contains(&"`events.far.lead` is 400 days: longer than 366 days"),
        "{messages:?}"
    );
    assert!(
        messages.contains(
            &"`events.far.targets.api.floor`: a change of +100001 is more than 100000 either way"
        ),
        "{messages:?}"
    );
    let d = decide(
        &p,
        &add_as("ops", "far", e),
        &State::at_floor(&p),
        at("2026-12-05T10:00:00Z"),
    );
    assert_eq!(reason_of(&d, "*").code(), "bad-command");
    assert!(d.ops.is_empty());
    assert!(d.targets[0].explanation.contains("longer than 366 days"));
}

// ---- exceed_ceiling needs a grant ----

/// The test policy with a grant of `exceed-ceiling` on api only, to U0LAUNCH, from any channel.
fn granted_policy() -> capstan_policy::Policy {
    let text = format!(
        "{}\n[[slack.grants]]\nusers = [\"U0LAUNCH\"]\nverbs = [\"exceed-ceiling\"]\ntargets = [\"api\"]\n",
        common::POLICY
    );
    load(&text).unwrap_or_else(|e| panic!("{:#?}", e.diagnostics))
}

fn tall(targets: &str) -> Event {
    event(&format!(
        r#"{{"start": "2026-12-05T14:00:00Z", "end": "2026-12-05T18:00:00Z", "exceed_ceiling": true, "targets": {targets}}}"#
    ))
}

#[test]
fn exceed_ceiling_needs_a_user_granted_exceed_ceiling_on_every_target() {
    let p = granted_policy();
    let s = State::at_floor(&p);
    let now = at("2026-12-05T15:00:00Z");
    let api_only = tall(r#"{"api": {"ceiling": 25}}"#);

    // A self-declared requester, or a Slack user without the grant: refused, nothing recorded.
    for by in ["ops", "U2147483697", "U0VIEWER"] {
        let d = decide(&p, &add_as(by, "tall", api_only.clone()), &s, now);
        assert_eq!(reason_of(&d, "*").code(), "bad-command", "{by}");
        assert!(d.ops.is_empty(), "{by}: {:?}", d.ops);
        let why = &d.targets[0].explanation;
        assert!(
            why.contains(&format!(
                "needs a grant of verb `exceed-ceiling` on each of its targets: {by} may not use `exceed-ceiling` on api"
            )),
            "{why}"
        );
        assert!(d.notices[0].text.contains("exceed-ceiling"));
    }
    // The granted user, and a CLI user (AWS credentials are the authority): added.
    for by in ["U0LAUNCH", "cli:ana"] {
        let d = decide(&p, &add_as(by, "tall", api_only.clone()), &s, now);
        assert_eq!(d.ops.len(), 1, "{by}\n{}", d.render());
        assert_eq!(to_of(&d, "api").max, 25);
    }
    // The grant covers api, not ai: an event on both is refused, naming ai only.
    let both = tall(r#"{"api": {"ceiling": 25}, "ai": {"ceiling": 35}}"#);
    let d = decide(&p, &add_as("U0LAUNCH", "tall", both.clone()), &s, now);
    assert!(d.ops.is_empty());
    let why = &d.targets[0].explanation;
    assert!(
        why.contains("U0LAUNCH may not use `exceed-ceiling` on ai"),
        "{why}"
    );
    assert!(!why.contains("on api"), "{why}");
    assert_eq!(
        decide(&p, &add_as("cli:ana", "tall", both), &s, now)
            .ops
            .len(),
        1
    );
    // Without `exceed_ceiling` nobody needs a grant.
    let within = event(
        r#"{"start": "2026-12-05T14:00:00Z", "end": "2026-12-05T18:00:00Z", "targets": {"api": {"ceiling": 18, "floor": 6}}}"#,
    );
    assert_eq!(
        decide(&p, &add_as("ops", "within", within), &s, now)
            .ops
            .len(),
        1
    );
}

#[test]
fn the_exceed_ceiling_verb_loads_and_is_named_in_words() {
    assert_eq!(
        capstan_policy::model::Verb::ExceedCeiling.to_string(),
        "exceed-ceiling"
    );
    let p = granted_policy();
    assert!(p.slack.grants[2]
        .verbs
        .contains(&capstan_policy::model::Verb::ExceedCeiling));
    assert!(capstan_policy::engine::claims_identity("cli:ana"));
    assert!(capstan_policy::engine::claims_identity("U0LAUNCH"));
    assert!(!capstan_policy::engine::claims_identity("ops"));
    assert!(!capstan_policy::engine::claims_identity(
        "alice@example.com"
    ));
}

// ---- a relative floor uplift and the hard ceiling ----

/// api on Monday afternoon: business hours hold its floor at 4 (ceiling 20). Its own floor is 2.
fn relative_floor(exceed: bool, floor: &str) -> Event {
    event(&format!(
        r#"{{"start": "2026-11-23T13:00:00Z", "end": "2026-11-23T18:00:00Z", "exceed_ceiling": {exceed}, "targets": {{"api": {{"floor": "{floor}"}}}}}}"#
    ))
}

#[test]
fn a_relative_floor_uplift_never_lifts_the_ceiling_past_the_hard_ceiling() {
    let p = policy();
    let now = monday_afternoon();
    // +500% of the target's own floor 2 is 12: within 20, the old check passed it. Of the
    // business-hours floor 4 it is 24, which would have lifted the ceiling to 24.
    let e = relative_floor(false, "+500%");

    // The engine: the floor stops at the hard ceiling, and so does the ceiling.
    let mut s = State::at_floor(&p);
    s.events.insert("surge".into(), e.clone());
    let b = effective_bounds(&p, &s, "api", now);
    assert_eq!((b.floor, b.ceiling), (20, 20), "{:?}", b.why);
    let d = decide(&p, &Signal::Tick(Default::default()), &s, now);
    let to = to_of(&d, "api");
    assert!(to.max <= 20 && to.desired <= 20, "{to}");

    // The validator: refused, naming the period whose floor it applies to.
    let problems = event_problems(&p, "surge", &e);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, "events.surge.targets.api.floor");
    assert_eq!(
        problems[0].message,
        "`events.surge.targets.api.floor` raises the floor to 24 from the floor 4 of period \
         `schedules.business-hours`, above the ceiling (20) during the event"
    );
    // The engine refuses to add it at run time, in the same words.
    let d = decide(&p, &add_as("ops", "surge", e), &State::at_floor(&p), now);
    assert!(d.ops.is_empty());
    assert!(d.targets[0]
        .explanation
        .contains("from the floor 4 of period `schedules.business-hours`"));

    // In a policy file, the same event is a problem on its line.
    let text = format!(
        "{}\n[events.surge]\nstart = 2026-11-23T13:00:00Z\nend = 2026-11-23T18:00:00Z\n[events.surge.targets.api]\nfloor = \"+500%\"\n",
        common::POLICY
    );
    let line = text.lines().position(|l| l == "floor = \"+500%\"").unwrap() + 1;
    let problems = problems_of(&text);
    assert!(
        problems.iter().any(|p| p.starts_with(&format!("{line}:9:"))
            && p.contains("raises the floor to 24 from the floor 4")),
        "{problems:#?}"
    );

    // +400% reaches exactly 20 from 4: accepted by the validator, not stopped by the engine.
    let fits = relative_floor(false, "+400%");
    assert!(event_problems(&p, "fits", &fits).is_empty());
    let mut s = State::at_floor(&p);
    s.events.insert("fits".into(), fits);
    let b = effective_bounds(&p, &s, "api", now);
    assert_eq!((b.floor, b.ceiling), (20, 20));
}

#[test]
fn with_exceed_ceiling_a_relative_floor_uplift_may_lift_the_ceiling_with_a_raised_ceiling() {
    let p = policy();
    let now = monday_afternoon();
    let e = event(
        r#"{"start": "2026-11-23T13:00:00Z", "end": "2026-11-23T18:00:00Z", "exceed_ceiling": true,
            "targets": {"api": {"floor": "+500%", "ceiling": 30}}}"#,
    );
    assert!(event_problems(&p, "surge", &e).is_empty());
    let mut s = State::at_floor(&p);
    s.events.insert("surge".into(), e);
    let b = effective_bounds(&p, &s, "api", now);
    assert_eq!((b.floor, b.ceiling), (24, 30));
    // Without a raised ceiling the override still does not let the floor pass the ceiling:
    // the validator asks for the ceiling in the uplift.
    let e = relative_floor(true, "+500%");
    let problems = event_problems(&p, "surge", &e);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].message.contains("above the ceiling (20)"));
}
