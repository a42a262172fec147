//! What people read: the notifications for results and notices.

use capstan_aws::{Applied, Mode, Notification, Resource};
use capstan_policy::decision::{Capacity, Decision, Notice, HOLD_CODES};
use serde_json::json;

use crate::{ResultOutcome, TargetResult};

/// What was done on AWS, in one line.
pub(crate) fn describe_applied(resource: &Resource, a: &Applied) -> String {
    let what = match a.mode {
        Mode::DesiredCount => format!("{}: desired count {}", resource.label(), a.desired),
        Mode::ScalableTarget => format!(
            "{}: scalable target min {} max {} (target tracking keeps the desired count)",
            resource.label(),
            a.min,
            a.max
        ),
        Mode::GroupBounds => format!(
            "{}: min {} max {} (the group's own scaling policies keep its desired capacity)",
            resource.label(),
            a.min,
            a.max
        ),
        Mode::Group => format!(
            "{}: desired {} (min {}, max {})",
            resource.label(),
            a.desired,
            a.min,
            a.max
        ),
    };
    let mut out = if a.calls.is_empty() {
        format!("{what} (already so on AWS)")
    } else {
        format!("{what} via {}", a.calls.join(", "))
    };
    if let Some(c) = &a.clamped {
        out.push_str(&format!("; {c}"));
    }
    out
}

fn action_of(r: &TargetResult) -> &'static str {
    match (r.from, r.to) {
        (Some(f), Some(t)) if t.desired > f.desired => "scale-out",
        (Some(f), Some(t)) if t.desired < f.desired => "scale-in",
        (Some(_), Some(_)) => "bounds",
        _ => "none",
    }
}

/// A change in a few words: `api 4 -> 5`, with the bounds when they move too
/// (`api 4 -> 6, bounds 4..20 -> 6..20`), and a bounds-only change by its bounds
/// (`api bounds 4..20 -> 6..20, desired 6`), never as `api 6 -> 6`.
pub(crate) fn change_words(target: &str, from: Capacity, to: Capacity) -> String {
    let bounds_moved = (from.min, from.max) != (to.min, to.max);
    let bounds = format!(
        "bounds {}..{} -> {}..{}",
        from.min, from.max, to.min, to.max
    );
    match (from.desired == to.desired, bounds_moved) {
        (true, true) => format!("{target} {bounds}, desired {}", to.desired),
        (false, true) => format!("{target} {} -> {}, {bounds}", from.desired, to.desired),
        _ => format!("{target} {} -> {}", from.desired, to.desired),
    }
}

/// A reason code in words (`scale-in-guard` -> `scale-in guard`).
fn reason_words(code: &str) -> String {
    code.replace('-', " ")
}

/// What held a wanted change back, as the rest of a headline after the target
/// (`api held by cooldown`, `api held at its ceiling`, `api waits for a confirmation`).
fn held_words(code: &str) -> String {
    match code {
        "cooldown" => "held by cooldown".to_string(),
        "scale-in-guard" => "held by the scale-in guard".to_string(),
        "at-ceiling" => "held at its ceiling".to_string(),
        "at-floor" => "held at its floor".to_string(),
        "paused" => "held: paused".to_string(),
        "rate-limit" => "held by the rate limit".to_string(),
        "event-hold" => "held: an event holds scale-in".to_string(),
        "actions-suppressed" => "held by CloudWatch's actions suppressor".to_string(),
        "needs-confirmation" => "waits for a confirmation".to_string(),
        other => format!("held by {}", reason_words(other)),
    }
}

/// The headline of a result, the same shape for every outcome: the target first, then what
/// came of it. `held by` only when a change was wanted and something held it back
/// ([`capstan_policy::decision::HOLD_CODES`]); `unchanged` when there was nothing to do.
pub(crate) fn headline(r: &TargetResult) -> String {
    let code = r.reason.as_deref().unwrap_or("");
    match r.outcome {
        ResultOutcome::Changed | ResultOutcome::Duplicate => match (r.from, r.to) {
            (Some(f), Some(t)) => change_words(&r.target, f, t),
            _ => format!("{} changed", r.target),
        },
        ResultOutcome::DryRun => match (r.from, r.to) {
            (Some(f), Some(t)) => format!("{} (dry run, not done)", change_words(&r.target, f, t)),
            (None, Some(t)) => {
                format!("{} would go to {} (dry run, not done)", r.target, t.desired)
            }
            _ => format!("{} dry run", r.target),
        },
        ResultOutcome::Suppressed | ResultOutcome::Ignored if HOLD_CODES.contains(&code) => {
            format!("{} {}", r.target, held_words(code))
        }
        ResultOutcome::Suppressed | ResultOutcome::Ignored if code.is_empty() => {
            format!("{} unchanged", r.target)
        }
        ResultOutcome::Suppressed | ResultOutcome::Ignored => {
            format!("{} unchanged: {}", r.target, reason_words(code))
        }
        ResultOutcome::Failed => match (r.from, r.to) {
            (Some(f), Some(t)) => format!("{} FAILED", change_words(&r.target, f, t)),
            _ => format!("{} FAILED", r.target),
        },
    }
}

/// The notification for a target's result. The subject is `Capstan: <headline> (<signal>)`;
/// the text opens with what happened (`Done`, `Held, not done`, `Unchanged`, `FAILED, not
/// done`, `Dry run, not done`), then the engine's explanation, what AWS was asked, and the
/// deciding rule's runbook text last, under its own heading, so that instructions for people
/// never read as a claim about what Capstan did.
pub(crate) fn for_result(d: &Decision, r: &TargetResult) -> Notification {
    let code = r.reason.as_deref().unwrap_or("");
    let subject = format!("Capstan: {} ({})", headline(r), d.signal);
    let opening = match r.outcome {
        ResultOutcome::Changed | ResultOutcome::Duplicate => "Done",
        ResultOutcome::DryRun => "Dry run, not done",
        ResultOutcome::Failed => "FAILED, not done",
        _ if HOLD_CODES.contains(&code) => "Held, not done",
        _ => "Unchanged",
    };
    let what = match (r.outcome, r.from, r.to) {
        (ResultOutcome::Failed, Some(f), Some(t)) => change_words(&r.target, f, t),
        (ResultOutcome::Failed, _, _) => r.target.clone(),
        _ => headline(r),
    };
    let mut text = format!("{opening}: {what}.\n");
    if !r.explanation.is_empty() {
        text.push_str(&format!("Why: {}\n", r.explanation));
    }
    if let Some(a) = &r.applied {
        let label = if r.outcome == ResultOutcome::Changed {
            "Done on AWS"
        } else {
            "Asked of AWS"
        };
        text.push_str(&format!("{label}: {a}\n"));
    }
    if let Some(e) = &r.error {
        text.push_str(&format!("Error: {e}\n"));
    }
    if let Some(runbook) = &r.runbook {
        let rule = r.source.strip_prefix("rule:").unwrap_or(&r.source);
        text.push_str(&format!("\nRunbook (rule {rule}): {runbook}\n"));
    }
    text.push_str(&format!(
        "\nSignal: {}\nSource: {}\nDecided at: {}\n",
        d.signal,
        r.source,
        d.at.format("%Y-%m-%d %H:%M:%SZ")
    ));
    Notification {
        subject,
        text,
        body: json!({
            "signal": d.signal,
            "at": d.at,
            "result": r,
        }),
        target: r.target.clone(),
        action: action_of(r).to_string(),
        outcome: r.outcome.to_string(),
        dedup: String::new(),
    }
}

/// The notification for a notice (notify-only rules, runbook text, budget notices).
pub(crate) fn for_notice(d: &Decision, n: &Notice) -> Notification {
    let target = n.target.clone().unwrap_or_else(|| "*".to_string());
    let about = n
        .target
        .as_deref()
        .map(|t| format!("{t} "))
        .unwrap_or_default();
    let from = n.source.replacen(':', " ", 1);
    Notification {
        subject: format!("Capstan: {about}notice from {from} ({})", d.signal),
        text: format!(
            "{}\n\nSignal: {}\nSource: {}\nAt: {}\n",
            n.text,
            d.signal,
            n.source,
            d.at.format("%Y-%m-%d %H:%M:%SZ")
        ),
        body: json!({ "signal": d.signal, "at": d.at, "notice": n }),
        target,
        action: "notify".to_string(),
        outcome: "notice".to_string(),
        dedup: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(desired: u32, min: u32, max: u32) -> Capacity {
        Capacity { desired, min, max }
    }

    #[test]
    fn a_change_names_what_moved_and_never_reads_as_nothing() {
        assert_eq!(
            change_words("api", cap(4, 4, 20), cap(5, 4, 20)),
            "api 4 -> 5"
        );
        assert_eq!(
            change_words("api", cap(6, 4, 20), cap(6, 6, 20)),
            "api bounds 4..20 -> 6..20, desired 6"
        );
        assert_eq!(
            change_words("api", cap(4, 4, 20), cap(6, 6, 20)),
            "api 4 -> 6, bounds 4..20 -> 6..20"
        );
    }

    #[test]
    fn held_only_when_a_change_was_wanted() {
        let mut r = TargetResult::new("api", "rule:r", ResultOutcome::Suppressed);
        r.reason = Some("scale-in-guard".into());
        assert_eq!(headline(&r), "api held by the scale-in guard");
        r.reason = Some("at-ceiling".into());
        assert_eq!(headline(&r), "api held at its ceiling");
        r.reason = Some("already-right".into());
        assert_eq!(headline(&r), "api unchanged: already right");
        let mut f = TargetResult::failed("api", "rule:r", "denied".into(), false);
        assert_eq!(headline(&f), "api FAILED");
        f.from = Some(cap(4, 4, 20));
        f.to = Some(cap(5, 4, 20));
        assert_eq!(headline(&f), "api 4 -> 5 FAILED");
        let n = for_result(
            &Decision {
                at: "2026-11-23T10:00:00Z".parse().unwrap(),
                signal: "alarm x -> ALARM".into(),
                targets: Vec::new(),
                notices: Vec::new(),
                ops: Vec::new(),
            },
            &f,
        );
        assert!(
            n.text.starts_with("FAILED, not done: api 4 -> 5.\n"),
            "{}",
            n.text
        );
        assert_eq!(n.outcome, "failed");
    }
}
