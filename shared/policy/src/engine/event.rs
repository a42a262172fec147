//! Run-time events: pre-events added or cancelled while Capstan runs (kept in the state beside
//! the policy file's events), checked exactly as the policy file's events are.
//!
//! Adding: the request says who asks and names the event; an event the policy file defines is
//! changed in the policy, not here; the event passes [`event_problems`] (the loader's checks);
//! an event with `exceed_ceiling` needs a requester granted verb `exceed-ceiling` on each of
//! its targets ([`authorize`]; in the channel of an `event add` command, with none for an
//! event signal);
//! the same event added again is one event (a no-op), a different one under a stored name must
//! be cancelled first; an event already over is refused. Accepted, it is recorded
//! ([`StateOp::AddEvent`]) and every target whose bounds it changes right away (its lead has
//! begun) gets them now. Cancelling removes a run-time event and brings the bounds back.
//!
//! A refusal is a `bad-command` decision on `*` and a notice saying why, and changes nothing.
//!
//! The `event add` and `event cancel` commands come here too, once the requester's grant of
//! verb `event` is checked ([`super::authorize_command`]).

use super::*;
use crate::load::event_problems;

pub(super) fn on_event(
    policy: &Policy,
    e: &EventSignal,
    state: &State,
    now: DateTime<Utc>,
    d: &mut Decision,
) {
    let source = format!("event:{}", e.request.name());
    match &e.request {
        EventRequest::Add { name, event } => {
            let addition = Addition {
                by: &e.by,
                channel: "",
                name,
                event,
            };
            add(policy, addition, state, now, &source, d)
        }
        EventRequest::Cancel { name } => cancel(policy, &e.by, name, state, now, &source, d),
    }
}

/// A refusal: nothing changes, `*` says why, and so does a notice.
fn refuse(d: &mut Decision, source: &str, what: &str, why: String) {
    let text = format!("{what}: {why}");
    d.notices.push(Notice {
        source: source.to_string(),
        target: None,
        text: text.clone(),
    });
    d.targets.push(suppressed(
        NO_TARGET,
        source,
        Reason::BadCommand { why },
        text,
    ));
}

/// A run-time event asked for: `name` and `event`, added for `by`, asking from `channel`
/// (empty: no channel, as an event signal; an `event add` command passes its own, which the
/// `exceed-ceiling` grant must allow).
pub(super) struct Addition<'a> {
    pub(super) by: &'a str,
    pub(super) channel: &'a str,
    pub(super) name: &'a str,
    pub(super) event: &'a Event,
}

/// Adds the run-time event of `addition`.
pub(super) fn add(
    policy: &Policy,
    addition: Addition<'_>,
    state: &State,
    now: DateTime<Utc>,
    source: &str,
    d: &mut Decision,
) {
    let Addition {
        by,
        channel,
        name,
        event,
    } = addition;
    let what = format!("cannot add event {name} (asked by {by})");
    if by.trim().is_empty() {
        return refuse(d, source, &what, "`by` is empty: say who asks".into());
    }
    if name.trim().is_empty() {
        return refuse(d, source, &what, "the event has no name".into());
    }
    if policy.events.contains_key(name) {
        return refuse(
            d,
            source,
            &what,
            format!("the policy file defines an event {name}; edit the policy to change it, or add this one under another name"),
        );
    }
    let problems = event_problems(policy, name, event);
    if !problems.is_empty() {
        let why: Vec<String> = problems
            .iter()
            .map(|p| format!("{} ({})", p.message, p.hint))
            .collect();
        return refuse(d, source, &what, why.join("; "));
    }
    if event.exceed_ceiling {
        // The override needs a grant, not a flag anyone may set: verb `exceed-ceiling` on
        // every target of the event (`cli:<name>` users act with their AWS credentials).
        let refused: Vec<String> = event
            .targets
            .keys()
            .filter_map(|t| authorize(policy, by, channel, Verb::ExceedCeiling, Some(t)).err())
            .collect();
        if !refused.is_empty() {
            return refuse(
                d,
                source,
                &what,
                format!(
                    "`exceed_ceiling` raises bounds past the hard ceiling and needs a grant of verb `exceed-ceiling` on each of its targets: {}; ask someone granted it, or leave `exceed_ceiling` out (the uplift then stops at the hard ceiling)",
                    refused.join("; ")
                ),
            );
        }
    }
    if let Some(stored) = state.events.get(name) {
        if stored == event {
            let text = format!(
                "event {name} ({} to {}) is already scheduled; added again by {by}, it stays one event",
                fmt_time(event.start.0),
                fmt_time(event.end.0)
            );
            d.notices.push(Notice {
                source: source.to_string(),
                target: None,
                text: text.clone(),
            });
            d.targets
                .push(suppressed(NO_TARGET, source, Reason::AlreadyRight, text));
            return;
        }
        return refuse(
            d,
            source,
            &what,
            format!(
                "a different event {name} ({} to {}) is already scheduled; cancel it first, then add this one",
                fmt_time(stored.start.0),
                fmt_time(stored.end.0)
            ),
        );
    }
    let released = event_released_by(policy, state, event);
    if now >= released {
        let release = if released > event.end.0 {
            format!(" and its uplift was released by {}", fmt_time(released))
        } else {
            String::new()
        };
        return refuse(
            d,
            source,
            &what,
            format!(
                "it is already over: it ended {}{release}",
                fmt_time(event.end.0)
            ),
        );
    }

    d.ops.push(StateOp::AddEvent {
        name: name.to_string(),
        event: event.clone(),
    });
    d.notices.push(Notice {
        source: source.to_string(),
        target: None,
        text: format!(
            "event {name} added by {by}: {}",
            describe(policy, event, now)
        ),
    });
    let mut after = state.clone();
    after.events.insert(name.to_string(), event.clone());
    rebound(
        policy,
        state,
        &after,
        now,
        source,
        &format!("event {name} added by {by} ({})", phase(event, now)),
        d,
    );
}

/// Cancels run-time event `name` for `by`.
pub(super) fn cancel(
    policy: &Policy,
    by: &str,
    name: &str,
    state: &State,
    now: DateTime<Utc>,
    source: &str,
    d: &mut Decision,
) {
    let what = format!("cannot cancel event {name} (asked by {by})");
    if by.trim().is_empty() {
        return refuse(d, source, &what, "`by` is empty: say who asks".into());
    }
    let Some(event) = state.events.get(name) else {
        let why = if policy.events.contains_key(name) {
            format!("{name} is an event of the policy file; remove it from the policy to cancel it")
        } else {
            let names: Vec<&str> = state.events.keys().map(String::as_str).collect();
            format!(
                "there is no run-time event named {name} (run-time events: {})",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )
        };
        return refuse(d, source, &what, why);
    };
    d.ops.push(StateOp::CancelEvent {
        name: name.to_string(),
    });
    d.notices.push(Notice {
        source: source.to_string(),
        target: None,
        text: format!(
            "event {name} ({} to {}, {}) cancelled by {by}",
            fmt_time(event.start.0),
            fmt_time(event.end.0),
            phase(event, now)
        ),
    });
    let mut after = state.clone();
    after.events.remove(name);
    rebound(
        policy,
        state,
        &after,
        now,
        source,
        &format!("event {name} cancelled by {by}"),
        d,
    );
}

/// Where `now` is in the event's life.
fn phase(e: &Event, now: DateTime<Utc>) -> String {
    let begin = e.lead.map_or(e.start.0, |l| l.before(e.start.0));
    if now < begin {
        format!("uplift from {}", fmt_time(begin))
    } else if now < e.start.0 {
        "lead, in force now".to_string()
    } else if now < e.end.0 {
        "under way, in force now".to_string()
    } else {
        "ended, releasing now".to_string()
    }
}

/// The event in one line: when, what it raises (the event's amounts), hold, release.
fn describe(policy: &Policy, e: &Event, now: DateTime<Utc>) -> String {
    let mut parts = vec![format!(
        "{} to {}{} ({})",
        fmt_time(e.start.0),
        fmt_time(e.end.0),
        e.lead.map(|l| format!(", lead {l}")).unwrap_or_default(),
        phase(e, now)
    )];
    let mut releases = Vec::new();
    for (tname, up) in &e.targets {
        let Some(t) = policy.targets.get(tname) else {
            continue;
        };
        // The event's own amounts: a relative one applies to the bound in force when it
        // holds (a period's floor, say), so a number worked out here from the target's own
        // bounds could say what never happens; each target's result says what its bounds
        // became.
        let amount = |a: Amount, bound: &str| match a {
            Amount::Absolute(n) => format!("{bound} {n}"),
            relative => format!("{bound} {relative} over the {bound} in force"),
        };
        let mut raised = Vec::new();
        if let Some(f) = up.floor {
            raised.push(amount(f, "floor"));
            releases.push(format!("{tname} {}", t.cooldown.scale_in));
        }
        if let Some(c) = up.ceiling {
            let over = if c.apply(t.ceiling) > t.ceiling {
                format!(" (above its hard ceiling {}: exceed_ceiling)", t.ceiling)
            } else {
                String::new()
            };
            raised.push(format!("{}{over}", amount(c, "ceiling")));
        }
        parts.push(format!("{tname} {}", raised.join(", ")));
    }
    if e.hold_scale_in {
        parts.push("scale-in held".to_string());
    }
    if !releases.is_empty() {
        parts.push(format!(
            "after the end the floor comes down {} per scale-in cooldown ({})",
            e.release_step.unwrap_or(1),
            releases.join(", ")
        ));
    }
    parts.join("; ")
}
