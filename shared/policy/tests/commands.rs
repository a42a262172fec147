//! Operator commands through the engine: the confirmation rule (`--force`, `lift-cap`, changes
//! above `confirm_above`) and what a waiting request says it will do, `event add` / `event
//! cancel` as commands (grants, the event checks, the `exceed-ceiling` grant in the command's
//! channel), `help`, the grants a command needs, and the `[slack]` origin lists.

mod common;

use capstan_policy::command::{self, Command};
use capstan_policy::decision::{Capacity, ConfirmWhy, Decision, Outcome, Reason, StateOp};
use capstan_policy::engine::{authorize_command, check_origin, confirmation_needed};
use capstan_policy::model::{Policy, Verb};
use capstan_policy::signal::{CommandSignal, EventRequest, EventSignal, Signal};
use capstan_policy::state::{BudgetCap, Pause, State};
use capstan_policy::{decide, load};
use chrono::{DateTime, Duration, Utc};
use common::{at, push_action, state_with};

const OP: &str = "U2147483697";
const CHANNEL: &str = "C2147483705";

/// The common test policy, plus grants for run-time events: U0EVENTS may add and cancel events
/// anywhere, and raise them past the hard ceiling only in #ops-scaling; U0AIONLY may add and
/// cancel events on ai only.
const EVENT_GRANTS: &str = r#"
[[slack.grants]]
users = ["U0EVENTS"]
verbs = ["event"]
[[slack.grants]]
users = ["U0EVENTS"]
channels = ["C2147483705"]
verbs = ["exceed-ceiling"]
[[slack.grants]]
users = ["U0AIONLY"]
verbs = ["event"]
targets = ["ai"]
"#;

fn policy() -> Policy {
    load(&format!("{}{EVENT_GRANTS}", common::POLICY)).expect("the test policy loads")
}

/// Monday 2026-11-23 14:05 UTC: business hours (api bounds 4..20, max step 5).
fn now() -> DateTime<Utc> {
    at("2026-11-23T14:05:00Z")
}

fn cmd_in(user: &str, channel: &str, text: &str, confirmed: bool) -> Signal {
    Signal::Command(CommandSignal {
        user: user.into(),
        channel: channel.into(),
        text: text.into(),
        confirmed,
    })
}

fn cmd(user: &str, text: &str, confirmed: bool) -> Signal {
    cmd_in(user, CHANNEL, text, confirmed)
}

fn outcome<'d>(d: &'d Decision, target: &str) -> &'d Outcome {
    &d.for_target(target)
        .unwrap_or_else(|| panic!("a decision for {target}\n{}", d.render()))
        .outcome
}

fn explanation<'d>(d: &'d Decision, target: &str) -> &'d str {
    &d.for_target(target)
        .unwrap_or_else(|| panic!("a decision for {target}\n{}", d.render()))
        .explanation
}

/// The confirmation `target` waits for: what it would become, and why.
fn waits(d: &Decision, target: &str) -> (Option<Capacity>, ConfirmWhy) {
    match outcome(d, target) {
        Outcome::Suppressed {
            reason: Reason::NeedsConfirmation { would, why },
        } => (*would, *why),
        other => panic!(
            "expected {target} to wait for a confirmation, got {other:?}\n{}",
            d.render()
        ),
    }
}

fn forced_to(d: &Decision, target: &str) -> u32 {
    match outcome(d, target) {
        Outcome::Change {
            to, forced: true, ..
        } => to.desired,
        other => panic!("expected a forced change, got {other:?}\n{}", d.render()),
    }
}

fn reason_code(d: &Decision, target: &str) -> &'static str {
    match outcome(d, target) {
        Outcome::Suppressed { reason } => reason.code(),
        other => panic!("expected a suppression, got {other:?}\n{}", d.render()),
    }
}

fn has_change(d: &Decision) -> bool {
    d.targets
        .iter()
        .any(|t| matches!(t.outcome, Outcome::Change { .. }))
}

// ----- the confirmation rule --------------------------------------------------------------

#[test]
fn the_rule_force_and_lift_cap_from_slack_and_large_changes_from_anyone() {
    let p = policy();
    let parse = |t: &str| command::parse(t).unwrap();
    let force = parse("scale api 8 --force");
    let lift = parse("lift-cap B");
    let scale = parse("scale api 8");
    let large = Some(ConfirmWhy::LargeChange {
        change: 5,
        confirm_above: 4,
    });
    assert_eq!(
        confirmation_needed(&p, OP, &force, Some(1)),
        Some(ConfirmWhy::Force)
    );
    assert_eq!(
        confirmation_needed(&p, OP, &force, Some(5)),
        Some(ConfirmWhy::Force),
        "--force comes first"
    );
    assert_eq!(confirmation_needed(&p, "cli:ana", &force, Some(1)), None);
    assert_eq!(confirmation_needed(&p, "cli:ana", &force, Some(5)), large);
    assert_eq!(
        confirmation_needed(&p, OP, &lift, None),
        Some(ConfirmWhy::LiftCap)
    );
    assert_eq!(confirmation_needed(&p, "cli:ana", &lift, None), None);
    assert_eq!(
        confirmation_needed(&p, "cli:", &lift, None),
        Some(ConfirmWhy::LiftCap),
        "a bare `cli:` is nobody at the CLI"
    );
    assert_eq!(confirmation_needed(&p, OP, &scale, Some(4)), None);
    assert_eq!(confirmation_needed(&p, OP, &scale, Some(5)), large);
    assert_eq!(confirmation_needed(&p, OP, &scale, None), None);
    for text in [
        "status",
        "help",
        "resume api",
        "pause api 2h",
        "event cancel x",
    ] {
        assert_eq!(
            confirmation_needed(&p, OP, &parse(text), None),
            None,
            "{text}"
        );
    }
    let pin = parse("pause api pin 25 --force");
    assert_eq!(
        confirmation_needed(&p, OP, &pin, None),
        Some(ConfirmWhy::Force)
    );
    let undo = parse("undo api --force");
    assert_eq!(
        confirmation_needed(&p, OP, &undo, None),
        Some(ConfirmWhy::Force)
    );
}

#[test]
fn force_from_slack_waits_and_says_what_it_will_force_past() {
    let p = policy();
    let s = state_with(&p, 6);
    let d = decide(&p, &cmd(OP, "scale api 25 --force", false), &s, now());
    let (would, why) = waits(&d, "api");
    assert_eq!(why, ConfirmWhy::Force);
    assert_eq!(
        would,
        Some(Capacity {
            desired: 25,
            min: 4,
            max: 25
        })
    );
    assert!(d.ops.is_empty() && d.notices.is_empty(), "{}", d.render());
    let text = explanation(&d, "api");
    for says in [
        "`scale api 25 --force` by U2147483697: --force overrides the guardrails, so it needs a confirmation",
        "once confirmed, api goes from desired 6 (min 2, max 20) to desired 25 (min 4, max 25)",
        "FORCED past the ceiling 20 (",
        "the max step 5",
        "then pinned at 25 for 1h (settings.default_pause)",
        "a change of 19, more than confirm_above (4)",
    ] {
        assert!(text.contains(says), "{says}\n{text}");
    }
    assert!(!text.contains("rate limit"), "{text}");
    assert_eq!(outcome(&d, "api").kind(), "denied");

    // Confirmed, it happens as described, and is pinned.
    let d = decide(&p, &cmd(OP, "scale api 25 --force", true), &s, now());
    assert_eq!(forced_to(&d, "api"), 25);
    assert!(d.ops.iter().any(|op| matches!(
        op,
        StateOp::Pause {
            pause: Pause { pin: Some(25), .. },
            ..
        }
    )));

    // A force that crosses nothing still waits, and says so.
    let d = decide(&p, &cmd(OP, "scale api 8 --force", false), &s, now());
    assert_eq!(waits(&d, "api").1, ConfirmWhy::Force);
    assert!(
        explanation(&d, "api").contains("within every guardrail"),
        "{}",
        d.render()
    );
    // Past the rate limit: named.
    let mut busy = s.clone();
    for i in 0..6 {
        push_action(
            &mut busy,
            "api",
            now(),
            Duration::minutes(5 + i),
            "test",
            6,
            6,
        );
    }
    let d = decide(&p, &cmd(OP, "scale api 8 --force", false), &busy, now());
    assert!(
        explanation(&d, "api")
            .contains("FORCED past the rate limit (6 actions in the last hour, limit 6)"),
        "{}",
        d.render()
    );
    // A dry-run target says the confirmed change would only be reported.
    let d = decide(&p, &cmd(OP, "scale web 9 --force", false), &s, now());
    assert!(
        explanation(&d, "web").contains("dry-run: it would only be reported"),
        "{}",
        d.render()
    );
}

#[test]
fn at_the_cli_force_needs_no_confirmation_but_a_large_change_does() {
    let p = policy();
    let s = state_with(&p, 6);
    let d = decide(
        &p,
        &cmd_in("cli:ana", "", "scale api 8 --force", false),
        &s,
        now(),
    );
    assert_eq!(forced_to(&d, "api"), 8);
    let d = decide(
        &p,
        &cmd_in("cli:ana", "", "scale api 25 --force", false),
        &s,
        now(),
    );
    assert_eq!(
        waits(&d, "api").1,
        ConfirmWhy::LargeChange {
            change: 19,
            confirm_above: 4
        }
    );
    let text = explanation(&d, "api");
    assert!(
        text.contains("a change of 19 is more than confirm_above (4), so it needs a confirmation"),
        "{text}"
    );
    assert!(text.contains("FORCED past the ceiling 20"), "{text}");
    let d = decide(
        &p,
        &cmd_in("cli:ana", "", "scale api 25 --force", true),
        &s,
        now(),
    );
    assert_eq!(forced_to(&d, "api"), 25);
}

#[test]
fn an_unforced_large_change_says_from_and_to() {
    let p = policy();
    let s = state_with(&p, 6);
    let d = decide(&p, &cmd(OP, "scale api 11", false), &s, now());
    let (would, why) = waits(&d, "api");
    assert_eq!(
        why,
        ConfirmWhy::LargeChange {
            change: 5,
            confirm_above: 4
        }
    );
    assert_eq!(would.map(|w| w.desired), Some(11));
    let text = explanation(&d, "api");
    assert!(
        text.contains(
            "once confirmed, api goes from desired 6 (min 2, max 20) to desired 11 (min 4, max 20)"
        ),
        "{text}"
    );
    assert!(
        !text.contains("FORCED") && !text.contains("pinned"),
        "{text}"
    );
}

#[test]
fn undo_with_force_from_slack_waits() {
    let p = policy();
    let mut s = state_with(&p, 6);
    push_action(
        &mut s,
        "api",
        now(),
        Duration::minutes(2),
        "rule:cpu-low",
        20,
        6,
    );
    let d = decide(&p, &cmd(OP, "undo api --force", false), &s, now());
    let (would, why) = waits(&d, "api");
    assert_eq!(
        (would.map(|w| w.desired), why),
        (Some(20), ConfirmWhy::Force)
    );
    assert!(
        explanation(&d, "api").contains("FORCED past the max step 5"),
        "{}",
        d.render()
    );
    assert_eq!(
        d.for_target("api").unwrap().source,
        "command:U2147483697:undo"
    );
    let d = decide(&p, &cmd(OP, "undo api --force", true), &s, now());
    assert_eq!(forced_to(&d, "api"), 20);
    // Without --force the max step refuses it, as before.
    let d = decide(&p, &cmd(OP, "undo api", false), &s, now());
    assert_eq!(reason_code(&d, "api"), "not-allowed");
}

#[test]
fn a_pin_with_force_or_a_large_pin_waits_and_pauses_nothing() {
    let p = policy();
    let s = state_with(&p, 6);
    let d = decide(
        &p,
        &cmd(OP, "pause api 2h pin 25 --force", false),
        &s,
        now(),
    );
    let (would, why) = waits(&d, "api");
    assert_eq!(why, ConfirmWhy::Force);
    assert_eq!(
        would,
        Some(Capacity {
            desired: 25,
            min: 4,
            max: 25
        })
    );
    assert!(d.ops.is_empty(), "{}", d.render());
    let text = explanation(&d, "api");
    assert!(
        text.contains("once confirmed, api is paused for 2h and pinned at 25: the next tick goes from desired 6 (min 2, max 20) to desired 25 (min 4, max 25), forced past the ceiling 20"),
        "{text}"
    );
    let d = decide(&p, &cmd(OP, "pause api 2h pin 25 --force", true), &s, now());
    assert!(
        matches!(
            &d.ops[..],
            [StateOp::Pause {
                pause: Pause { pin: Some(25), .. },
                ..
            }]
        ),
        "{d:?}"
    );
    // A pin 6 away from desired is a change above confirm_above.
    let d = decide(&p, &cmd(OP, "pause api pin 12", false), &s, now());
    assert_eq!(
        waits(&d, "api").1,
        ConfirmWhy::LargeChange {
            change: 6,
            confirm_above: 4
        }
    );
    assert!(d.ops.is_empty());
    // A small pin, or a plain pause, goes ahead at once.
    for text in ["pause api pin 8", "pause api 2h"] {
        let d = decide(&p, &cmd(OP, text, false), &s, now());
        assert_eq!(d.ops.len(), 1, "{text}\n{}", d.render());
        assert!(d.targets.is_empty(), "{text}\n{}", d.render());
    }
    // A pin outside the bounds without --force is refused before any confirmation.
    let d = decide(&p, &cmd(OP, "pause api pin 25", false), &s, now());
    assert_eq!(reason_code(&d, "api"), "at-ceiling");
}

fn capped(p: &Policy) -> State {
    let mut s = State::at_floor(p);
    s.targets.get_mut("ai").unwrap().max = 2;
    s.caps.push(BudgetCap {
        budget: "AI-Service-Monthly".into(),
        rule: "ai-100".into(),
        since: now() - Duration::hours(1),
        until: at("2026-12-01T00:00:00Z"),
    });
    s
}

#[test]
fn lift_cap_from_slack_waits_and_names_the_bounds_each_target_gets_back() {
    let p = policy();
    let s = capped(&p);
    let lift = "lift-cap AI-Service-Monthly";
    let d = decide(&p, &cmd(OP, lift, false), &s, now());
    assert_eq!(waits(&d, "*"), (None, ConfirmWhy::LiftCap));
    assert!(d.ops.is_empty() && !has_change(&d), "{}", d.render());
    assert_eq!(
        explanation(&d, "*"),
        "`lift-cap AI-Service-Monthly` by U2147483697: lifting a budget cap early, so it needs a confirmation; once confirmed, the cap of budget AI-Service-Monthly (rule ai-100 until 2026-12-01 00:00:00Z) is lifted: ai gets bounds 2..30 back (now 2..2)"
    );
    // Confirmed, or from the CLI, it is lifted.
    for signal in [cmd(OP, lift, true), cmd_in("cli:ana", "", lift, false)] {
        let d = decide(&p, &signal, &s, now());
        assert!(
            matches!(&d.ops[..], [StateOp::LiftCap { .. }]),
            "{}",
            d.render()
        );
        assert!(has_change(&d));
    }
    // A paused target gets them back after its pause; a quoted name is the same budget.
    let mut paused = s.clone();
    paused.targets.get_mut("ai").unwrap().pause = Some(Pause {
        until: now() + Duration::hours(1),
        by: OP.into(),
        pin: None,
    });
    let d = decide(
        &p,
        &cmd(OP, "lift-cap “AI-Service-Monthly”", false),
        &paused,
        now(),
    );
    assert!(
        explanation(&d, "*").contains(
            "ai gets bounds 2..30 back (now 2..2) on the first tick after its pause (until 2026-11-23 15:05:00Z)"
        ),
        "{}",
        d.render()
    );
    // No cap in force: nothing to confirm.
    let d = decide(&p, &cmd(OP, lift, false), &State::at_floor(&p), now());
    assert!(d.targets.is_empty() && d.ops.is_empty(), "{}", d.render());
    assert!(d.notices[0].text.contains("no cap of budget"));
}

#[test]
fn a_command_on_several_instances_waits_as_one() {
    let p = policy();
    let mut s = state_with(&p, 6);
    let mut blue = s.targets["api"].clone();
    blue.desired = 10;
    s.targets.insert("api/blue".into(), blue);
    // api changes by 5 (above confirm_above), api/blue by 1: both wait, so that the confirmed
    // request does not move api/blue a second time.
    let d = decide(&p, &cmd(OP, "scale api 11", false), &s, now());
    assert!(!has_change(&d), "{}", d.render());
    assert_eq!(waits(&d, "api").0.map(|w| w.desired), Some(11));
    assert_eq!(waits(&d, "api/blue").0.map(|w| w.desired), Some(11));
    let d = decide(&p, &cmd(OP, "scale api 11", true), &s, now());
    assert_eq!(d.targets.len(), 2);
    assert!(d.targets.iter().all(|t| t.outcome.kind() == "change"));
    // Nothing to change anywhere: nothing to confirm.
    let mut same = s.clone();
    same.targets.get_mut("api").unwrap().desired = 10;
    let d = decide(&p, &cmd(OP, "scale api 10 --force", false), &same, now());
    assert!(
        d.targets.iter().all(|t| t.outcome.kind() == "unchanged"),
        "{}",
        d.render()
    );
}

// ----- events as commands -----------------------------------------------------------------

const PROMO: &str =
    "event add promo 2026-11-23T14:00Z 2026-11-23T18:00Z api=floor:6 ai=floor:+2,ceiling:+0 lead 1h";

#[test]
fn event_add_goes_the_way_of_the_event_signal() {
    let p = policy();
    let s = State::at_floor(&p);
    let d = decide(&p, &cmd("U0EVENTS", PROMO, false), &s, now());
    assert!(
        matches!(&d.ops[..], [StateOp::AddEvent { name, .. }] if name == "promo"),
        "{}",
        d.render()
    );
    // The same decision as the event signal asking for the same event.
    let Ok(Command::EventAdd { name, event }) = command::parse(PROMO) else {
        panic!("the command parses")
    };
    let signal = Signal::Event(EventSignal {
        by: "U0EVENTS".into(),
        request: EventRequest::Add { name, event },
    });
    let e = decide(&p, &signal, &s, now());
    assert_eq!(d.ops, e.ops);
    assert_eq!(d.targets, e.targets);
    assert_eq!(d.notices, e.notices);
    // It raises api's floor at once (the lead has begun): 4 -> 6.
    let api = d.for_target("api").expect("api is raised");
    assert_eq!(api.source, "event:promo");
    assert!(matches!(api.outcome, Outcome::Change { to, .. } if to.min == 6 && to.desired == 6));
    assert!(d.notices[0].text.contains("event promo added by U0EVENTS"));

    // Stored, it is cancelled the same way.
    let mut after = s.clone();
    d.apply(&mut after);
    let d = decide(
        &p,
        &cmd("U0EVENTS", "event cancel promo", false),
        &after,
        now(),
    );
    assert!(
        matches!(&d.ops[..], [StateOp::CancelEvent { name }] if name == "promo"),
        "{}",
        d.render()
    );
    assert!(d.notices[0].text.contains("cancelled by U0EVENTS"));
}

#[test]
fn event_commands_need_the_event_grant_on_every_target() {
    let p = policy();
    let s = State::at_floor(&p);
    // No grant of `event` at all, or one on ai while the event also raises api.
    for (user, says) in [
        (
            OP,
            "U2147483697 may not use `event` on ai in channel C2147483705",
        ),
        (
            "U0AIONLY",
            "U0AIONLY may not use `event` on api in channel C2147483705",
        ),
    ] {
        let d = decide(&p, &cmd(user, PROMO, false), &s, now());
        assert!(d.ops.is_empty(), "{user}");
        assert_eq!(reason_code(&d, "*"), "not-allowed", "{user}");
        assert!(explanation(&d, "*").contains(says), "{}", d.render());
    }
    // On ai alone, U0AIONLY may.
    let ai_only = "event add boost 2026-11-23T14:00Z 2026-11-23T18:00Z ai=floor:4";
    let d = decide(&p, &cmd("U0AIONLY", ai_only, false), &s, now());
    assert_eq!(d.ops.len(), 1, "{}", d.render());
    // Cancelling is checked on the stored event's targets.
    let mut after = s.clone();
    decide(&p, &cmd("U0EVENTS", PROMO, false), &s, now()).apply(&mut after);
    let d = decide(
        &p,
        &cmd("U0AIONLY", "event cancel promo", false),
        &after,
        now(),
    );
    assert!(d.ops.is_empty());
    assert!(
        explanation(&d, "*").contains("U0AIONLY may not use `event` on api"),
        "{}",
        d.render()
    );
    // A name that is not stored: the grant on something is enough to hear that.
    let d = decide(
        &p,
        &cmd("U0AIONLY", "event cancel nope", false),
        &after,
        now(),
    );
    assert_eq!(reason_code(&d, "*"), "bad-command");
    assert!(
        explanation(&d, "*")
            .contains("there is no run-time event named nope (run-time events: promo)"),
        "{}",
        d.render()
    );
    // The CLI needs no grant.
    let d = decide(
        &p,
        &cmd_in("cli:ana", "", "event cancel promo", false),
        &after,
        now(),
    );
    assert_eq!(d.ops.len(), 1);
}

#[test]
fn an_event_added_by_command_is_checked_as_every_event() {
    let p = policy();
    let s = State::at_floor(&p);
    for (text, says) in [
        (
            "event add x 2026-11-23T14:00Z 2026-11-23T18:00Z nope=floor:3",
            "`events.x.targets.nope` names unknown target `nope`",
        ),
        (
            "event add x 2026-11-23T18:00Z 2026-11-23T14:00Z api=floor:6",
            "`events.x.end` (2026-11-23T14:00:00Z) is not after its start (2026-11-23T18:00:00Z)",
        ),
        (
            "event add x 2026-11-23T14:00Z 2026-11-23T18:00Z api=ceiling:25",
            "above target `api`'s hard ceiling (20)",
        ),
        (
            "event add x 2026-11-23T14:00Z 2026-11-23T18:00Z api=floor:3 release-step 0",
            "`events.x.release_step` is 0",
        ),
        (
            "event add launch 2026-11-23T14:00Z 2026-11-23T18:00Z api=floor:3",
            "the policy file defines an event launch",
        ),
        (
            "event add x 2026-11-20T14:00Z 2026-11-20T18:00Z api=floor:3",
            "it is already over",
        ),
    ] {
        let d = decide(&p, &cmd_in("cli:ana", "", text, false), &s, now());
        assert!(d.ops.is_empty(), "{text}");
        assert_eq!(reason_code(&d, "*"), "bad-command", "{text}");
        assert!(
            explanation(&d, "*").contains(says),
            "{text}\n{}",
            d.render()
        );
    }
}

#[test]
fn exceed_ceiling_by_command_is_checked_in_the_commands_channel() {
    let p = policy();
    let s = State::at_floor(&p);
    let tall = "event add tall 2026-11-23T14:00Z 2026-11-23T18:00Z api=ceiling:25 exceed-ceiling";
    // U0EVENTS holds `exceed-ceiling` in #ops-scaling only.
    let d = decide(&p, &cmd("U0EVENTS", tall, false), &s, now());
    assert_eq!(d.ops.len(), 1, "{}", d.render());
    let d = decide(
        &p,
        &cmd_in("U0EVENTS", "C0OTHERCHAN", tall, false),
        &s,
        now(),
    );
    assert!(d.ops.is_empty());
    assert_eq!(reason_code(&d, "*"), "bad-command");
    assert!(
        explanation(&d, "*")
            .contains("U0EVENTS may not use `exceed-ceiling` on api in channel C0OTHERCHAN"),
        "{}",
        d.render()
    );
    // An event signal comes from no channel: the channel's grant does not cover it.
    let Ok(Command::EventAdd { name, event }) = command::parse(tall) else {
        panic!()
    };
    let signal = Signal::Event(EventSignal {
        by: "U0EVENTS".into(),
        request: EventRequest::Add { name, event },
    });
    assert!(decide(&p, &signal, &s, now()).ops.is_empty());
}

// ----- help and errors --------------------------------------------------------------------

#[test]
fn help_answers_anyone_and_decides_nothing() {
    let p = policy();
    let s = State::at_floor(&p);
    let d = decide(&p, &cmd("U0STRANGER", "help", false), &s, now());
    assert!(d.targets.is_empty() && d.ops.is_empty(), "{}", d.render());
    assert_eq!(d.notices.len(), 1);
    let text = &d.notices[0].text;
    for verb in [
        "`status [TARGET]`",
        "`scale TARGET",
        "`pause TARGET",
        "`resume TARGET`",
        "`undo TARGET",
        "`lift-cap BUDGET`",
        "`event add NAME START END",
        "event cancel NAME",
        "`help [COMMAND]`",
    ] {
        assert!(text.contains(verb), "{verb}\n{text}");
    }
    let d = decide(&p, &cmd("U0STRANGER", "help event", false), &s, now());
    assert!(
        d.notices[0]
            .text
            .starts_with("usage: event add NAME START END"),
        "{}",
        d.notices[0].text
    );
    assert!(d.notices[0].text.contains("e.g. `event add launch"));
}

#[test]
fn a_bad_command_shows_the_usage_of_the_command_meant() {
    let p = policy();
    let s = State::at_floor(&p);
    let d = decide(&p, &cmd(OP, "scale api 100001", false), &s, now());
    assert_eq!(reason_code(&d, "*"), "bad-command");
    let text = explanation(&d, "*");
    assert!(
        text.starts_with("`scale api 100001`: `100001` is more than 100000"),
        "{text}"
    );
    assert!(
        text.contains("usage: scale TARGET N|+N|-N|max|min [--force]"),
        "{text}"
    );
    assert!(!text.contains("lift-cap"), "{text}");
    let d = decide(&p, &cmd(OP, "reboot api", false), &s, now());
    assert!(explanation(&d, "*").contains(command::USAGE));
}

// ----- grants a command needs ---------------------------------------------------------------

#[test]
fn authorize_command_checks_every_verb_and_target() {
    let p = policy();
    let parse = |t: &str| command::parse(t).unwrap();
    let ok = |user: &str, text: &str, state: Option<&State>| {
        authorize_command(&p, user, CHANNEL, &parse(text), state)
    };
    assert_eq!(ok(OP, "scale api 8 --force", None), Ok(()));
    assert_eq!(
        ok("U0EVENTS", "scale api 8", None),
        Err("U0EVENTS may not use `scale` on api in channel C2147483705".into())
    );
    assert_eq!(
        ok("U0VIEWER", "status api", None),
        Ok(()),
        "status on a target"
    );
    // --force needs `force` too.
    let mut no_force = p.clone();
    no_force.slack.grants[0].verbs.retain(|v| *v != Verb::Force);
    assert_eq!(
        authorize_command(&no_force, OP, CHANNEL, &parse("undo api --force"), None),
        Err("U2147483697 may not use `force` on api in channel C2147483705".into())
    );
    assert_eq!(
        authorize_command(&no_force, OP, CHANNEL, &parse("undo api"), None),
        Ok(())
    );
    // help needs nothing.
    assert_eq!(ok("U0STRANGER", "help", None), Ok(()));
    // event add: every target; cancel: the stored event's, or none in particular without it.
    assert_eq!(
        ok("U0AIONLY", PROMO, None).unwrap_err(),
        "U0AIONLY may not use `event` on api in channel C2147483705"
    );
    assert_eq!(ok("U0AIONLY", "event cancel promo", None), Ok(()));
    let mut s = State::at_floor(&p);
    decide(&p, &cmd("U0EVENTS", PROMO, false), &s.clone(), now()).apply(&mut s);
    assert!(ok("U0AIONLY", "event cancel promo", Some(&s)).is_err());
    assert_eq!(ok("U0EVENTS", "event cancel promo", Some(&s)), Ok(()));
    assert!(
        ok(OP, "event cancel promo", None).is_err(),
        "no `event` grant at all"
    );
}

// ----- origin --------------------------------------------------------------------------------

#[test]
fn check_origin_admits_only_the_listed_app_workspace_and_org() {
    let mut p = policy();
    assert_eq!(check_origin(&p, None, "", None), Ok(()), "no lists: any");
    assert_eq!(check_origin(&p, Some("A1"), "T1", Some("E1")), Ok(()));
    p.slack.api_app_ids = vec!["A012ABCDEF".into()];
    p.slack.team_ids = vec!["T012ABCDEF".into(), "T0SECOND".into()];
    p.slack.enterprise_ids = vec!["E012ABCDEF".into()];
    assert_eq!(
        check_origin(&p, Some("A012ABCDEF"), "T0SECOND", Some("E012ABCDEF")),
        Ok(())
    );
    let refused = |app: Option<&str>, team: &str, org: Option<&str>| {
        check_origin(&p, app, team, org).unwrap_err()
    };
    assert_eq!(
        refused(Some("A0OTHER"), "T012ABCDEF", Some("E012ABCDEF")),
        "the request comes from Slack app A0OTHER, which `[slack].api_app_ids` does not list"
    );
    assert!(refused(None, "T012ABCDEF", Some("E012ABCDEF")).contains("names no Slack app"));
    assert!(refused(Some(""), "T012ABCDEF", Some("E012ABCDEF")).contains("names no Slack app"));
    assert_eq!(
        refused(Some("A012ABCDEF"), "T0OTHER", Some("E012ABCDEF")),
        "the request comes from workspace T0OTHER, which `[slack].team_ids` does not list"
    );
    assert!(refused(Some("A012ABCDEF"), "", Some("E012ABCDEF")).contains("names no workspace"));
    assert!(refused(Some("A012ABCDEF"), "T012ABCDEF", None)
        .contains("names no Enterprise Grid organization"));
    assert!(refused(Some("A012ABCDEF"), "T012ABCDEF", Some("E0OTHER"))
        .contains("Enterprise Grid organization E0OTHER"));
    // The refusal never lists what is allowed.
    assert!(!refused(Some("A0OTHER"), "T0OTHER", None).contains("A012ABCDEF"));
    // One list set, the others any.
    p.slack.api_app_ids.clear();
    p.slack.enterprise_ids.clear();
    assert_eq!(check_origin(&p, None, "T012ABCDEF", None), Ok(()));
}

#[test]
fn the_loader_checks_origin_ids_naming_the_line() {
    let text = r#"[slack]
api_app_ids = ["A012ABCDEF", "a012"]
team_ids = ["T012ABCDEF",
  "C012ABCDEF"]
enterprise_ids = ["E0X", "E-12"]
"#;
    let err = load(text).unwrap_err();
    let lines: Vec<String> = err.diagnostics.iter().map(|d| d.to_string()).collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines[0].starts_with(
            "2:30: `slack.api_app_ids[1]`: `a012` does not look like an id starting with A"
        ),
        "{lines:#?}"
    );
    assert!(lines[0].contains("App ID"), "{lines:#?}");
    assert!(
        lines[1].starts_with(
            "4:3: `slack.team_ids[1]`: `C012ABCDEF` does not look like an id starting with T"
        ),
        "{lines:#?}"
    );
    assert!(
        lines[2].starts_with("5:26: `slack.enterprise_ids[1]`: `E-12`"),
        "{lines:#?}"
    );
    let p = load(
        "[slack]\napi_app_ids = [\"A012ABCDEF\"]\nteam_ids = [\"T012ABCDEF\"]\nenterprise_ids = [\"E012ABCDEF\"]\n",
    )
    .unwrap();
    assert_eq!(p.slack.api_app_ids, ["A012ABCDEF"]);
    assert_eq!(p.slack.team_ids, ["T012ABCDEF"]);
    assert_eq!(p.slack.enterprise_ids, ["E012ABCDEF"]);
    assert!(load("[slack]\n").unwrap().slack.team_ids.is_empty());
}

#[test]
fn the_event_and_confirm_verbs_load_and_are_named_in_words() {
    assert_eq!(Verb::Event.to_string(), "event");
    assert_eq!(Verb::Confirm.to_string(), "confirm");
    let p =
        load("[[slack.grants]]\nusers = [\"U0LEAD\"]\nverbs = [\"event\", \"confirm\"]\n").unwrap();
    assert_eq!(p.slack.grants[0].verbs, [Verb::Event, Verb::Confirm]);
    let err = load("[[slack.grants]]\nusers = [\"U0LEAD\"]\nverbs = [\"confrim\"]\n").unwrap_err();
    assert!(
        err.diagnostics[0]
            .to_string()
            .contains("did you mean `confirm`?"),
        "{}",
        err.diagnostics[0]
    );
}
