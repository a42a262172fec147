//! What the runner's report says, told on Slack: a change to the channel naming who asked
//! (and who confirmed), anything else to the asker alone.

use capstan_runner::{Report, ResultOutcome, TargetResult};
use capstan_slack::{escape, Message};

/// The engine's reason word for a change that waits for a click.
pub const NEEDS_CONFIRMATION: &str = "needs-confirmation";

/// When the engine held the command back for a confirmation: what would happen, in one text.
/// A decision on no target (`lift-cap`'s, on `*`) comes back from the runner as ignored, with
/// its reason: it asks for the click all the same.
pub fn needs_confirmation(report: &Report) -> Option<String> {
    let held: Vec<&str> = report
        .results
        .iter()
        .filter(|r| {
            matches!(
                effective(r),
                ResultOutcome::Suppressed | ResultOutcome::Ignored
            )
        })
        .filter(|r| r.reason.as_deref() == Some(NEEDS_CONFIRMATION))
        .map(|r| r.explanation.as_str())
        .collect();
    (!held.is_empty()).then(|| held.join("\n"))
}

/// A Slack text as the record keeps it: a mention `<@U123>` is the user id `U123`.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("<@") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find('>') {
            Some(j) if after[..j].chars().all(|c| c.is_ascii_alphanumeric()) => {
                out.push_str(&after[..j]);
                rest = &after[j + 1..];
            }
            _ => {
                out.push_str("<@");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A duplicate's outcome is the first handling's.
fn effective(r: &TargetResult) -> ResultOutcome {
    match (r.outcome, r.first) {
        (ResultOutcome::Duplicate, Some(first)) => first,
        (outcome, _) => outcome,
    }
}

/// The outcome of `/capstan text` asked by `user` (and confirmed by `confirmer`).
pub fn outcome(report: &Report, user: &str, text: &str, confirmer: Option<&str>) -> Message {
    let mut lines = Vec::new();
    let mut changed = false;
    let mut refused = false;
    for r in &report.results {
        let line = match effective(r) {
            ResultOutcome::Changed => {
                changed = true;
                match (&r.from, &r.to) {
                    (Some(from), Some(to)) => format!("• *{}*: {from} → {to}", escape(&r.target)),
                    _ => format!("• *{}*: {}", escape(&r.target), escape(&r.explanation)),
                }
            }
            ResultOutcome::Failed => {
                refused = true;
                format!(
                    "• *{}* failed: {}",
                    escape(&r.target),
                    escape(r.error.as_deref().unwrap_or(&r.explanation))
                )
            }
            ResultOutcome::Suppressed | ResultOutcome::DryRun => {
                refused = true;
                format!("• {}", escape(&r.explanation))
            }
            // A decision on no target (`*`: a refused event, a budget no rule names) is told
            // with its reason; only a result with nothing to say is left out.
            ResultOutcome::Ignored if r.reason.is_some() && !r.explanation.is_empty() => {
                refused = true;
                format!("• {}", escape(&r.explanation))
            }
            ResultOutcome::Ignored | ResultOutcome::Duplicate => continue,
        };
        lines.push(line);
    }
    for n in &report.notices {
        // A refusal on `*` is also a notice: said once.
        let line = format!("• {}", escape(n));
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    let who = match confirmer {
        Some(c) => format!("<@{user}> (confirmed by <@{c}>)"),
        None => format!("<@{user}>"),
    };
    let head = format!("{who}: `/capstan {}`", escape(text));
    if lines.is_empty() {
        return Message::ephemeral(format!("{head}\nNothing to do."));
    }
    let body = format!("{head}\n{}", lines.join("\n"));
    // A change (or a recorded state change, told by a notice) is everyone's business.
    if changed || (!refused && !report.notices.is_empty()) {
        Message::in_channel(body)
    } else {
        Message::ephemeral(format!("{body}\nNothing changed."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_policy::decision::Capacity;
    use capstan_slack::ResponseType;

    fn result(outcome: ResultOutcome, reason: Option<&str>, explanation: &str) -> TargetResult {
        let mut r = TargetResult::new("api", "command:U1", outcome);
        r.reason = reason.map(str::to_string);
        r.explanation = explanation.to_string();
        r
    }

    #[test]
    fn plain_text_keeps_user_ids_not_mentions() {
        assert_eq!(
            plain("Only <@U0AAA111> (or someone) can; <@ not a mention> <@U1"),
            "Only U0AAA111 (or someone) can; <@ not a mention> <@U1"
        );
    }

    #[test]
    fn a_change_goes_to_the_channel_naming_who() {
        let mut r = result(ResultOutcome::Changed, None, "scale api 6");
        r.from = Some(Capacity {
            desired: 4,
            min: 2,
            max: 10,
        });
        r.to = Some(Capacity {
            desired: 6,
            min: 2,
            max: 10,
        });
        let report = Report {
            results: vec![r],
            ..Report::default()
        };
        let m = outcome(&report, "U1", "scale api 6", Some("U2"));
        assert_eq!(m.response_type, Some(ResponseType::InChannel));
        assert!(m.text.contains("<@U1> (confirmed by <@U2>)"), "{}", m.text);
        assert!(m.text.contains("*api*: "), "{}", m.text);
    }

    #[test]
    fn a_refusal_stays_with_the_asker() {
        let report = Report {
            results: vec![result(
                ResultOutcome::Suppressed,
                Some("at-ceiling"),
                "12 is above the ceiling 10",
            )],
            ..Report::default()
        };
        let m = outcome(&report, "U1", "scale api 12", None);
        assert_eq!(m.response_type, Some(ResponseType::Ephemeral));
        assert!(m.text.ends_with("Nothing changed."), "{}", m.text);
        assert_eq!(needs_confirmation(&report), None);
    }

    #[test]
    fn a_decision_on_no_target_is_told_and_may_ask_for_confirmation() {
        let mut lift = result(
            ResultOutcome::Ignored,
            Some(NEEDS_CONFIRMATION),
            "lifting the caps of budget B needs a confirmation: ai gets bounds 2..30 back",
        );
        lift.target = "*".into();
        let report = Report {
            results: vec![lift],
            ..Report::default()
        };
        assert_eq!(
            needs_confirmation(&report).as_deref(),
            Some("lifting the caps of budget B needs a confirmation: ai gets bounds 2..30 back")
        );
        let mut refused = result(
            ResultOutcome::Ignored,
            Some("bad-command"),
            "the event needs exceed-ceiling",
        );
        refused.target = "*".into();
        let report = Report {
            results: vec![refused],
            notices: vec!["the event needs exceed-ceiling".into()],
            ..Report::default()
        };
        assert_eq!(needs_confirmation(&report), None);
        let m = outcome(&report, "U1", "event add x", None);
        assert_eq!(m.response_type, Some(ResponseType::Ephemeral));
        assert_eq!(
            m.text.matches("the event needs exceed-ceiling").count(),
            1,
            "{}",
            m.text
        );
        assert!(m.text.ends_with("Nothing changed."), "{}", m.text);
    }

    #[test]
    fn a_held_change_asks_for_confirmation_even_when_replayed() {
        let mut dup = result(
            ResultOutcome::Duplicate,
            Some(NEEDS_CONFIRMATION),
            "a change of 8 needs a confirmation: 4 -> 12",
        );
        dup.first = Some(ResultOutcome::Suppressed);
        let report = Report {
            results: vec![dup],
            ..Report::default()
        };
        assert_eq!(
            needs_confirmation(&report).as_deref(),
            Some("a change of 8 needs a confirmation: 4 -> 12")
        );
    }
}
