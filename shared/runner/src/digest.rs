//! One message per schedule tick for people: what changed, by how much, and why.
//!
//! A boundary (08:00, business hours start) changes every target a period covers; one
//! notification per target would be hundreds of messages in a minute. A tick's per-target
//! receipts therefore publish nothing of their own when the attempt that decided them settles
//! them ([`crate::intent::Telling::Digest`]); once nothing is left for a retry, the attempt
//! tells their news in one digest.
//!
//! # Exactly once
//!
//! The digest is a receipt of its own: key the tick's, scope [`DIGEST`], committed *new* with
//! the digest in it before it is published, marked done after, like the `*` receipt of a
//! signal's notices. So:
//!
//! - whoever commits it first fixes its content; a retry that finds it done publishes nothing,
//!   one that finds it left in progress by a dead attempt publishes the stored digest (same
//!   dedup id), never one of its own: never two digests for the same changes;
//! - an attempt that dies before committing it leaves the per-target receipts done, and the
//!   tick is retried (the invocation fails): the retry finds those targets right (quiet), sees
//!   from their records' tick time that this tick wrote them, reads their receipts and tells
//!   what they say, with whatever it did itself: never a lost one;
//! - an attempt that leaves work for a retry (a call that failed for now) sends no digest: the
//!   retry completes the work and tells all of it at once;
//! - a failure is told on its own, as before (a pager may filter on `outcome: failed`), and
//!   is not in the digest.
//!
//! A tick whose every retry fails leaves its changes on the record and in the log, but in no
//! digest: an intent it left is completed by the next signal on the target, which tells it on
//! its own (the receipt kept its notification while in progress).

use capstan_aws::Notification;
use capstan_store::{Commit, Expect, Receipt, ReceiptState};
use chrono::{DateTime, Utc};
use futures_util::{stream, StreamExt};
use serde_json::json;
use tracing::{info, warn};

use crate::intent::Committed;
use crate::{Attempt, Report, ResultOutcome, RunError, Runner, TargetResult, TARGET_CONCURRENCY};

/// The scope of a tick's digest receipt.
pub(crate) const DIGEST: &str = "*digest";

/// True when a result (or, for a duplicate, the result first stored) goes into a tick's
/// digest: what the engine calls news ([`capstan_policy::engine::is_news`]: everything but
/// "already right") that is not told on its own (failures) and concerns a target.
pub(crate) fn is_news(r: &TargetResult) -> bool {
    let outcome = if r.outcome == ResultOutcome::Duplicate {
        match r.first {
            Some(first) => first,
            None => return false,
        }
    } else {
        r.outcome
    };
    let told_alone = matches!(outcome, ResultOutcome::Failed | ResultOutcome::Ignored);
    !told_alone
        && r.reason.as_deref() != Some(capstan_policy::decision::Reason::AlreadyRight.code())
        && r.target != crate::GLOBAL
}

impl Runner {
    /// Tells a tick's news in one digest, once (see the module docs). `told`: the news of this
    /// attempt's results; `earlier`: targets an earlier attempt at this tick wrote, whose
    /// receipts may hold news no digest has told yet.
    pub(crate) async fn digest(
        &self,
        a: &Attempt<'_>,
        at: DateTime<Utc>,
        mut told: Vec<TargetResult>,
        earlier: &[String],
        report: &mut Report,
    ) -> Result<(), RunError> {
        let key = &a.delivery.key;
        if !earlier.is_empty() {
            // Only a retry gets here: whether the digest is out already costs one read.
            match self.table().receipt(key, DIGEST).await {
                Ok(Some(r)) if r.state == ReceiptState::Done => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(RunError::Transient(format!("state table: {e}"))),
            }
            let mut reads = Vec::new();
            for name in earlier {
                reads.push(async move { (name, self.table().receipt(key, name).await) });
            }
            let found: Vec<_> = stream::iter(reads)
                .buffer_unordered(TARGET_CONCURRENCY)
                .collect()
                .await;
            for (name, read) in found {
                match read {
                    Ok(Some(r)) if r.state == ReceiptState::Done => {
                        told.extend(
                            crate::intent::stored_results(&r, name)
                                .into_iter()
                                .filter(is_news),
                        );
                    }
                    // Written by this tick without a receipt of it (a record-only write), or
                    // not done (then its intent would be on the record): nothing to tell.
                    Ok(_) => {}
                    Err(e) => return Err(RunError::Transient(format!("state table: {e}"))),
                }
            }
        }
        if told.is_empty() {
            return Ok(());
        }
        // By target name, whatever order they finished in: the same news, the same digest.
        told.sort_by(|x, y| x.target.cmp(&y.target));
        told.dedup_by(|x, y| x.target == y.target && x.source == y.source);
        let mut note = for_digest(&report.signal, at, &told);
        note.dedup = format!("{key}/{DIGEST}");
        let now = self.now();
        let receipt = Receipt {
            key: key.clone(),
            scope: DIGEST.to_string(),
            attempt: a.id.clone(),
            at: now,
            state: ReceiptState::InProgress {
                deadline: a.intent_deadline,
            },
            summary: format!("digest of {} result(s)", told.len()),
            result: serde_json::Value::Array(Vec::new()),
            notices: vec![note],
        };
        let commit = Commit {
            receipt: Some((receipt.clone(), Expect::New)),
            ..Commit::default()
        };
        let receipt = match self.commit_own(a, DIGEST, &commit).await {
            Committed::Yes => receipt,
            Committed::Conflict => unreachable!("a commit without a record cannot conflict"),
            Committed::Failed { error, retryable } => {
                return Err(RunError::state_table(&error, retryable));
            }
            Committed::Taken(stored) => match stored.state {
                ReceiptState::Done => {
                    info!(key = %key, "the tick's digest was published before");
                    return Ok(());
                }
                ReceiptState::InProgress { .. } if stored.live_at(self.now()) => {
                    return Err(RunError::InProgress(format!(
                        "{key}'s digest is being published by another attempt"
                    )));
                }
                // Left by a dead attempt: its digest, not a new one, is the one to publish.
                ReceiptState::InProgress { .. } => {
                    match self.take_over(a, DIGEST, *stored, None).await {
                        Some(r) => r,
                        None => {
                            return Err(RunError::InProgress(format!(
                                "{key}'s digest is being completed by another attempt"
                            )))
                        }
                    }
                }
            },
        };
        let subject = receipt.notices.first().map(|n| n.subject.clone());
        let told = self.settle_notices(a, DIGEST, receipt).await;
        report.digest = subject;
        report.notify_failures += told.lost + told.later.len();
        if told.lost > 0 {
            warn!(key = %key, "the tick's digest could not be published");
        }
        if !told.later.is_empty() || told.unfinished {
            return Err(RunError::Transient(
                "the tick's digest failed or was not recorded for now; the retry publishes it"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// The result a duplicate stands for (its first outcome), else the result itself.
fn first_outcome(r: &TargetResult) -> ResultOutcome {
    match (r.outcome, r.first) {
        (ResultOutcome::Duplicate, Some(first)) => first,
        (o, _) => o,
    }
}

/// The digest of a tick's news: a headline with the counts, then per kind of change, per
/// reason (the source that asked), one line per target with its numbers; as data, one entry per
/// target. Deterministic: the same results give the same message, byte for byte.
pub(crate) fn for_digest(signal: &str, at: DateTime<Utc>, news: &[TargetResult]) -> Notification {
    let kind = |r: &TargetResult| -> &'static str {
        match first_outcome(r) {
            ResultOutcome::DryRun => "would change (dry run)",
            ResultOutcome::Suppressed => "held back",
            _ => match (r.from, r.to) {
                (Some(f), Some(t)) if t.desired > f.desired => "raised",
                (Some(f), Some(t)) if t.desired < f.desired => "lowered",
                _ => "bounds moved",
            },
        }
    };
    const KINDS: [&str; 5] = [
        "raised",
        "lowered",
        "bounds moved",
        "would change (dry run)",
        "held back",
    ];
    let count = |k: &str| news.iter().filter(|r| kind(r) == k).count();
    let counts: Vec<String> = KINDS
        .iter()
        .filter(|k| count(k) > 0)
        .map(|k| format!("{} {k}", count(k)))
        .collect();
    let targets = match news.len() {
        1 => "1 target".to_string(),
        n => format!("{n} targets"),
    };
    let subject = format!("Capstan: {targets}: {} ({signal})", counts.join(", "));
    let mut text = format!("{signal}: {targets}: {}.\n", counts.join(", "));
    for k in KINDS {
        let of_kind: Vec<&TargetResult> = news.iter().filter(|r| kind(r) == k).collect();
        if of_kind.is_empty() {
            continue;
        }
        text.push_str(&format!("\n{} ({}):\n", capitalize(k), of_kind.len()));
        let mut sources: Vec<&str> = of_kind.iter().map(|r| r.source.as_str()).collect();
        sources.sort();
        sources.dedup();
        for source in sources {
            let of_source: Vec<&&TargetResult> =
                of_kind.iter().filter(|r| r.source == source).collect();
            text.push_str(&format!("  why: {source}\n"));
            for r in of_source {
                text.push_str(&format!("    {}\n", line(r)));
            }
        }
    }
    text.push_str(&format!(
        "\nDecided at: {}\n",
        at.format("%Y-%m-%d %H:%M:%SZ")
    ));
    let targets: Vec<serde_json::Value> = news
        .iter()
        .map(|r| {
            json!({
                "target": r.target,
                "outcome": first_outcome(r),
                "source": r.source,
                "reason": r.reason,
                "from": r.from,
                "to": r.to,
            })
        })
        .collect();
    let changed = news
        .iter()
        .any(|r| first_outcome(r) == ResultOutcome::Changed);
    Notification {
        subject,
        text,
        body: json!({
            "signal": signal,
            "at": at,
            "digest": { "count": news.len(), "targets": targets },
        }),
        target: crate::GLOBAL.to_string(),
        action: "digest".to_string(),
        outcome: if changed { "changed" } else { "notice" }.to_string(),
        dedup: String::new(),
    }
}

/// One target's line: its numbers and by how much, in the words of every other notice
/// (`api 2 -> 4 (+2), bounds 2..10 -> 4..10`; `api bounds 4..20 -> 6..20, desired 6`).
fn line(r: &TargetResult) -> String {
    let mut out = match (r.from, r.to) {
        (Some(f), Some(t)) => {
            let delta = i64::from(t.desired) - i64::from(f.desired);
            let words = crate::notice::change_words(&r.target, f, t);
            match words.split_once(", bounds") {
                Some((head, bounds)) if delta != 0 => format!("{head} ({delta:+}), bounds{bounds}"),
                _ if delta != 0 => format!("{words} ({delta:+})"),
                _ => words,
            }
        }
        (None, Some(t)) => format!("{}: desired {}", r.target, t.desired),
        _ => r.target.clone(),
    };
    if let Some(reason) = r
        .reason
        .as_deref()
        .filter(|_| first_outcome(r) == ResultOutcome::Suppressed)
    {
        out.push_str(&format!(" [{reason}]"));
    }
    // The engine's explanation, cut so that hundreds of lines stay one message.
    let why = explanation(r);
    if !why.is_empty() {
        const MOST: usize = 200;
        let mut cut = why.len().min(MOST);
        while !why.is_char_boundary(cut) {
            cut -= 1;
        }
        let more = if cut < why.len() { "..." } else { "" };
        out.push_str(&format!(" - {}{more}", &why[..cut]));
    }
    out
}

/// The engine's explanation of a result; a duplicate's is the one first stored (after the
/// prefix [`TargetResult::duplicate_of`] puts before it).
fn explanation(r: &TargetResult) -> &str {
    if r.outcome == ResultOutcome::Duplicate {
        if let Some((_, first)) = r.explanation.split_once("): ") {
            return first;
        }
    }
    &r.explanation
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_policy::decision::Capacity;

    fn cap(desired: u32, min: u32, max: u32) -> Capacity {
        Capacity { desired, min, max }
    }

    fn changed(target: &str, source: &str, from: Capacity, to: Capacity) -> TargetResult {
        let mut r = TargetResult::new(target, source, ResultOutcome::Changed);
        r.from = Some(from);
        r.to = Some(to);
        r
    }

    #[test]
    fn news_is_what_a_notification_told_before_failures_aside() {
        let c = changed("api", "schedule:day", cap(2, 1, 10), cap(4, 4, 10));
        assert!(is_news(&c));
        assert!(is_news(&TargetResult::duplicate_of(&c, "tick:x")));
        let mut right = TargetResult::new("api", "schedule:day", ResultOutcome::Suppressed);
        right.reason = Some("already-right".into());
        assert!(!is_news(&right));
        let failed = TargetResult::failed("api", "schedule:day", "denied".into(), false);
        assert!(!is_news(&failed));
        assert!(!is_news(&TargetResult::duplicate_of(&failed, "tick:x")));
        let mut dry = TargetResult::new("web", "schedule:day", ResultOutcome::DryRun);
        dry.to = Some(cap(6, 4, 10));
        assert!(is_news(&dry));
    }

    #[test]
    fn the_digest_says_what_changed_by_how_much_and_why() {
        let at: DateTime<Utc> = "2026-11-24T08:00:00Z".parse().unwrap();
        let news = vec![
            changed(
                "api",
                "schedule:business-hours",
                cap(2, 1, 10),
                cap(4, 4, 10),
            ),
            changed(
                "web",
                "schedule:business-hours",
                cap(3, 1, 10),
                cap(4, 4, 10),
            ),
            changed("batch", "schedule:night-off", cap(6, 0, 10), cap(1, 0, 10)),
        ];
        let n = for_digest("tick 2026-11-24T08:00:00Z", at, &news);
        assert!(
            n.subject.contains("3 targets: 2 raised, 1 lowered"),
            "{}",
            n.subject
        );
        assert!(
            n.text
                .contains("Raised (2):\n  why: schedule:business-hours\n"),
            "{}",
            n.text
        );
        assert!(n
            .text
            .contains("    api 2 -> 4 (+2), bounds 1..10 -> 4..10\n"));
        assert!(n
            .text
            .contains("    web 3 -> 4 (+1), bounds 1..10 -> 4..10\n"));
        assert!(n
            .text
            .contains("Lowered (1):\n  why: schedule:night-off\n    batch 6 -> 1 (-5)\n"));
        assert_eq!(n.target, "*");
        assert_eq!(n.action, "digest");
        assert_eq!(n.outcome, "changed");
        let targets = n.body["digest"]["targets"].as_array().unwrap();
        assert_eq!(targets.len(), 3);
        assert_eq!(targets[0]["target"], "api");
        assert_eq!(targets[0]["to"]["desired"], 4);
        // Deterministic: the same news, the same message.
        assert_eq!(for_digest("tick 2026-11-24T08:00:00Z", at, &news), n);
    }
}
