//! What people read: the notifications for results and notices.

use capstan_aws::{Applied, Mode, Notification, Resource};
use capstan_policy::decision::{Decision, Notice};
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

/// The notification for a target's result.
pub(crate) fn for_result(d: &Decision, r: &TargetResult) -> Notification {
    let headline = match r.outcome {
        ResultOutcome::Changed => match (r.from, r.to) {
            (Some(f), Some(t)) => format!("{} {} -> {}", r.target, f.desired, t.desired),
            _ => format!("{} changed", r.target),
        },
        ResultOutcome::DryRun => match r.to {
            Some(t) => format!("{} would go to {} (dry run)", r.target, t.desired),
            None => format!("{} dry run", r.target),
        },
        ResultOutcome::Suppressed => format!(
            "{} unchanged: {}",
            r.target,
            r.reason.as_deref().unwrap_or("suppressed")
        ),
        _ => format!("FAILED on {}", r.target),
    };
    let subject = format!("Capstan: {headline} ({})", d.signal);
    let mut text = format!(
        "{}\n\nSignal: {}\nSource: {}\n",
        r.explanation, d.signal, r.source
    );
    if let Some(a) = &r.applied {
        text.push_str(&format!("Done on AWS: {a}\n"));
    }
    if let Some(e) = &r.error {
        text.push_str(&format!("Error: {e}\n"));
    }
    text.push_str(&format!(
        "Decided at: {}\n",
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
    Notification {
        subject: format!("Capstan: {} ({})", n.source, d.signal),
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
