//! Notifications through an SNS topic.
//!
//! # Message format
//!
//! One format serves people reading e-mail and programs reading an SQS queue or a Lambda
//! subscription:
//!
//! - **Subject**: [`Notification::subject`] made SNS-safe: printable ASCII only (common
//!   typographic characters such as `–`, `—`, `→`, `…`, curly quotes become ASCII look-alikes,
//!   anything else `?`), no line breaks, at most 99 characters (cut with `...`). SNS uses it
//!   as the e-mail subject.
//! - **Message**: the readable [`Notification::text`], a blank line, then one line
//!   `capstan-json: ` followed by [`Notification::body`] as compact JSON:
//!
//!   ```text
//!   Scaled ecs main-cluster/api-service out: desired 4 -> 8 (rule api-cpu-high).
//!
//!   capstan-json: {"target":"api","action":"scale-out","from":4,"to":8}
//!   ```
//!
//!   A program finds the last line starting with `capstan-json: ` and parses the rest
//!   ([`parse_message`] does that). Should the message exceed SNS's 256 KiB, the text is cut
//!   (ending in `[truncated]`); the JSON line is always whole.
//! - **Message attributes** (`DataType` `String`), for subscription filter policies:
//!   `target` (the policy's target name), `action` (`scale-out`, `scale-in`, `bounds`, `notify`,
//!   ...) and `outcome` (`changed`, `suppressed`, `failed`, `dry-run`, `notice`). An empty value
//!   is left out (SNS refuses empty attributes). A filter policy such as
//!   `{"outcome": ["failed"]}` sends only failures to a pager.
//!
//! # Batches
//!
//! [`Notifier::publish_batch`] sends several notifications in `PublishBatch` calls of at most
//! [`MAX_BATCH`] entries and [`MAX_MESSAGE_BYTES`] in all (SNS's limits for one call), each
//! entry with its own subject, message attributes and, on a FIFO topic, its own
//! `MessageGroupId` and `MessageDeduplicationId`: a subscriber sees exactly what one `Publish`
//! per notification would give. SNS answers per entry; each failed entry is an [`AwsError`]
//! sorted as a failed `Publish` would be (throttling and SNS's own faults are transient), so
//! the caller keeps exactly the entries that failed for now. `PublishBatch` needs the same
//! `sns:Publish` permission.
//!
//! With the default (non-raw) delivery an SQS subscriber receives the SNS JSON envelope:
//! `Subject`, `Message` and `MessageAttributes` (`{"target": {"Type": "String", "Value": ...}}`).

use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use serde::{Deserialize, Serialize};

use crate::error::{AwsError, ErrorKind};

/// The prefix of the machine-readable line of a message.
pub const JSON_PREFIX: &str = "capstan-json: ";
/// Longest subject Capstan sends (SNS: fewer than 100 characters).
pub const MAX_SUBJECT: usize = 99;
/// Largest SNS message, attributes included (256 KiB); also the most one `PublishBatch` call
/// carries in all.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Most entries in one `PublishBatch` call.
pub const MAX_BATCH: usize = 10;
/// How many `PublishBatch` calls one [`Notifier::publish_batch`] has in flight at once.
const BATCH_FAN_OUT: usize = 4;

/// One notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// One line for a mail subject; made SNS-safe on publishing (see the module docs).
    pub subject: String,
    /// The readable message.
    pub text: String,
    /// The same as data, for programs.
    pub body: serde_json::Value,
    /// The policy's target name (message attribute `target`).
    pub target: String,
    /// `scale-out`, `scale-in`, `bounds`, `notify`, ... (message attribute `action`).
    pub action: String,
    /// `changed`, `suppressed`, `failed`, `dry-run` or `notice` (message attribute `outcome`).
    pub outcome: String,
    /// The same for every publication of this notification (message attribute `dedup`): a
    /// retry that completes an intent whose first publication was not confirmed may publish it
    /// again, and a subscriber drops the second by this id. On a FIFO topic (`.fifo`) it is also
    /// the `MessageDeduplicationId`, so SNS itself drops the repeat within its 5-minute window.
    #[serde(default)]
    pub dedup: String,
}

impl Notification {
    /// The subject as published: printable ASCII, one line, at most [`MAX_SUBJECT`] characters.
    pub fn sns_subject(&self) -> String {
        let mut ascii = String::with_capacity(self.subject.len());
        for ch in self.subject.chars() {
            match ch {
                ' '..='~' => ascii.push(ch),
                '\n' | '\r' | '\t' => ascii.push(' '),
                '\u{2010}'..='\u{2015}' | '\u{2212}' => ascii.push('-'),
                '\u{2018}' | '\u{2019}' | '\u{201A}' => ascii.push('\''),
                '\u{201C}' | '\u{201D}' | '\u{201E}' => ascii.push('"'),
                '\u{2026}' => ascii.push_str("..."),
                '\u{2192}' => ascii.push_str("->"),
                '\u{2190}' => ascii.push_str("<-"),
                '\u{00A0}' => ascii.push(' '),
                c if c.is_control() => {}
                _ => ascii.push('?'),
            }
        }
        let one_line = ascii.split_whitespace().collect::<Vec<_>>().join(" ");
        if one_line.len() <= MAX_SUBJECT {
            one_line
        } else {
            // ASCII only: byte and character positions agree.
            format!("{}...", one_line[..MAX_SUBJECT - 3].trim_end())
        }
    }

    /// The message as published: text, a blank line, and the `capstan-json: ` line.
    pub fn message(&self) -> String {
        let json = format!("{JSON_PREFIX}{}", self.body);
        // Leave room for the attributes and the separator.
        let budget = (MAX_MESSAGE_BYTES - 1024).saturating_sub(json.len());
        let text = if self.text.len() > budget {
            const MARK: &str = " [truncated]";
            let mut cut = budget.saturating_sub(MARK.len());
            while !self.text.is_char_boundary(cut) {
                cut -= 1;
            }
            format!("{}{MARK}", &self.text[..cut])
        } else {
            self.text.clone()
        };
        format!("{text}\n\n{json}")
    }

    /// The bytes SNS counts against a batch's limit: message, subject and attributes.
    fn size(&self) -> usize {
        self.message().len()
            + self.sns_subject().len()
            + self
                .attributes()
                .map(|(k, v)| k.len() + v.len() + "String".len())
                .sum::<usize>()
    }

    fn attribute_values(
        &self,
        op: &str,
    ) -> Result<Vec<(&'static str, MessageAttributeValue)>, AwsError> {
        self.attributes()
            .map(|(name, value)| {
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(value)
                    .build()
                    .map(|v| (name, v))
                    .map_err(|e| {
                        AwsError::new(
                            op,
                            ErrorKind::Invalid,
                            None,
                            format!("message attribute `{name}`: {e}"),
                        )
                    })
            })
            .collect()
    }

    /// The FIFO topic's message group (one per target keeps each target's messages in order)
    /// and deduplication id (a republication after a lost answer is a no-op).
    fn fifo(&self) -> (String, String) {
        let group = if self.target.is_empty() {
            "*"
        } else {
            &self.target
        };
        (group.to_string(), fifo_dedup_id(&self.dedup))
    }

    fn attributes(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("target", self.target.as_str()),
            ("action", self.action.as_str()),
            ("outcome", self.outcome.as_str()),
            ("dedup", self.dedup.as_str()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
    }
}

/// SNS FIFO deduplication ids are at most 128 characters of `[A-Za-z0-9!-/:-@[-`{-~]` (ASCII
/// punctuation and alphanumerics): keep the id when it fits, else a hash of it.
fn fifo_dedup_id(dedup: &str) -> String {
    let fits =
        !dedup.is_empty() && dedup.len() <= 128 && dedup.bytes().all(|b| b.is_ascii_graphic());
    if fits {
        dedup.to_string()
    } else {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        dedup.hash(&mut h);
        format!("h{:016x}{:08x}", h.finish(), dedup.len())
    }
}

/// The JSON body of a Capstan message (the last `capstan-json: ` line), if it has one.
pub fn parse_message(message: &str) -> Option<serde_json::Value> {
    let line = message
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(JSON_PREFIX))?;
    serde_json::from_str(line).ok()
}

/// Publishes [`Notification`]s to one SNS topic. Cloning is cheap.
#[derive(Clone, Debug)]
pub struct Notifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl Notifier {
    /// A notifier for the topic `topic_arn`.
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Notifier {
        Notifier {
            client,
            topic_arn: topic_arn.into(),
        }
    }

    /// The topic this notifier publishes to.
    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    /// Publishes `n` (format in the module docs); returns SNS's message id. Needs `sns:Publish`.
    pub async fn publish(&self, n: &Notification) -> Result<String, AwsError> {
        const OP: &str = "sns:Publish";
        let mut req = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(n.message());
        let subject = n.sns_subject();
        if !subject.is_empty() {
            req = req.subject(subject);
        }
        for (name, attr) in n.attribute_values(OP)? {
            req = req.message_attributes(name, attr);
        }
        if self.is_fifo() {
            let (group, dedup) = n.fifo();
            req = req.message_group_id(group).message_deduplication_id(dedup);
        }
        let out = req.send().await.map_err(|e| AwsError::from_sdk(OP, e))?;
        Ok(out.message_id.unwrap_or_default())
    }

    /// Publishes `notes` in `PublishBatch` calls (see the module docs); one answer per
    /// notification, in their order: SNS's message id, or why that one failed. A single
    /// notification goes through [`Notifier::publish`].
    pub async fn publish_batch(&self, notes: &[Notification]) -> Vec<Result<String, AwsError>> {
        use futures_util::{stream, StreamExt};
        if let [one] = notes {
            return vec![self.publish(one).await];
        }
        let sizes: Vec<usize> = notes.iter().map(Notification::size).collect();
        let mut calls = Vec::new();
        for range in batches(&sizes) {
            calls.push(async move { (range.clone(), self.send_batch(&notes[range]).await) });
        }
        let mut out: Vec<Option<Result<String, AwsError>>> = vec![None; notes.len()];
        let mut done = stream::iter(calls).buffer_unordered(BATCH_FAN_OUT);
        while let Some((range, answers)) = done.next().await {
            for (i, a) in range.zip(answers) {
                out[i] = Some(a);
            }
        }
        out.into_iter()
            .map(|a| a.expect("every notification is in one batch"))
            .collect()
    }

    /// One `PublishBatch` call; one answer per entry. An entry SNS names in neither list is
    /// taken as failed for now (its fate unknown): the caller publishes it again, same dedup id.
    async fn send_batch(&self, notes: &[Notification]) -> Vec<Result<String, AwsError>> {
        const OP: &str = "sns:PublishBatch";
        let mut req = self.client.publish_batch().topic_arn(&self.topic_arn);
        let mut answers: Vec<Option<Result<String, AwsError>>> = vec![None; notes.len()];
        let mut sent = 0;
        for (i, n) in notes.iter().enumerate() {
            match self.entry(i, n, OP) {
                Ok(e) => {
                    req = req.publish_batch_request_entries(e);
                    sent += 1;
                }
                Err(e) => answers[i] = Some(Err(e)),
            }
        }
        if sent > 0 {
            match req.send().await {
                Ok(out) => {
                    for ok in out.successful() {
                        if let Some(a) = entry_index(ok.id().unwrap_or_default(), notes.len())
                            .map(|i| &mut answers[i])
                        {
                            *a = Some(Ok(ok.message_id().unwrap_or_default().to_string()));
                        }
                    }
                    for failed in out.failed() {
                        if let Some(a) =
                            entry_index(failed.id(), notes.len()).map(|i| &mut answers[i])
                        {
                            *a = Some(Err(AwsError::of_entry(
                                OP,
                                failed.code(),
                                failed.sender_fault(),
                                failed.message(),
                            )));
                        }
                    }
                }
                Err(e) => {
                    // The whole call failed: every entry sent shares its fate.
                    let e = AwsError::from_sdk(OP, e);
                    for a in answers.iter_mut().filter(|a| a.is_none()) {
                        *a = Some(Err(e.clone()));
                    }
                }
            }
        }
        answers
            .into_iter()
            .map(|a| {
                a.unwrap_or_else(|| {
                    Err(AwsError::new(
                        OP,
                        ErrorKind::Transient,
                        None,
                        "SNS answered nothing for this entry",
                    ))
                })
            })
            .collect()
    }

    /// The batch entry of `n`, named by its place in the batch.
    fn entry(
        &self,
        i: usize,
        n: &Notification,
        op: &str,
    ) -> Result<PublishBatchRequestEntry, AwsError> {
        let mut e = PublishBatchRequestEntry::builder()
            .id(format!("n{i}"))
            .message(n.message());
        let subject = n.sns_subject();
        if !subject.is_empty() {
            e = e.subject(subject);
        }
        for (name, attr) in n.attribute_values(op)? {
            e = e.message_attributes(name, attr);
        }
        if self.is_fifo() {
            let (group, dedup) = n.fifo();
            e = e.message_group_id(group).message_deduplication_id(dedup);
        }
        e.build()
            .map_err(|err| AwsError::new(op, ErrorKind::Invalid, None, err.to_string()))
    }

    fn is_fifo(&self) -> bool {
        self.topic_arn.ends_with(".fifo")
    }
}

/// The place in its batch of the entry SNS calls `id` (`n3`: the fourth).
fn entry_index(id: &str, len: usize) -> Option<usize> {
    id.strip_prefix('n')?.parse().ok().filter(|i| *i < len)
}

/// Splits notifications of these sizes, in order, into batches of at most [`MAX_BATCH`]
/// entries and [`MAX_MESSAGE_BYTES`] in all (a notification alone is always under it: its text
/// is cut to fit).
fn batches(sizes: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, size) in sizes.iter().enumerate() {
        if i > start && (i - start == MAX_BATCH || bytes + size > MAX_MESSAGE_BYTES) {
            out.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn note(subject: &str, text: &str) -> Notification {
        Notification {
            subject: subject.into(),
            text: text.into(),
            body: json!({"target": "api", "to": 8}),
            target: "api".into(),
            action: "scale-out".into(),
            outcome: "changed".into(),
            dedup: String::new(),
        }
    }

    #[test]
    fn subject_is_ascii_one_line_and_short() {
        let n = note("api — scaled 4 → 8…\nsecond line ✓", "");
        assert_eq!(n.sns_subject(), "api - scaled 4 -> 8... second line ?");
        let long = note(&"x".repeat(150), "");
        let s = long.sns_subject();
        assert_eq!(s.len(), MAX_SUBJECT);
        assert!(s.ends_with("..."));
        assert_eq!(note("short", "").sns_subject(), "short");
    }

    #[test]
    fn message_is_text_then_json_line() {
        let n = note("s", "Scaled api out.\nSecond line.");
        let m = n.message();
        assert_eq!(
            m,
            "Scaled api out.\nSecond line.\n\ncapstan-json: {\"target\":\"api\",\"to\":8}"
        );
        assert_eq!(parse_message(&m), Some(n.body.clone()));
        assert_eq!(parse_message("no json here"), None);
    }

    #[test]
    fn oversized_text_is_cut_and_json_kept() {
        let n = note("s", &"é".repeat(200_000));
        let m = n.message();
        assert!(m.len() <= MAX_MESSAGE_BYTES);
        assert!(m.contains("[truncated]\n\ncapstan-json: "));
        assert_eq!(parse_message(&m), Some(n.body.clone()));
    }

    #[test]
    fn empty_attributes_are_left_out() {
        let mut n = note("s", "t");
        n.target.clear();
        let names: Vec<&str> = n.attributes().map(|(k, _)| k).collect();
        assert_eq!(names, ["action", "outcome"]);
    }

    #[test]
    fn batches_hold_ten_entries_and_256_kib_at_most() {
        assert_eq!(batches(&[]), Vec::<std::ops::Range<usize>>::new());
        assert_eq!(batches(&[100; 23]), [0..10, 10..20, 20..23]);
        let big = MAX_MESSAGE_BYTES / 3 + 1;
        // Three big ones exceed one call's limit: two, then one with the small ones after it.
        assert_eq!(batches(&[big, big, big, 10, 10]), [0..2, 2..5]);
        assert_eq!(batches(&[MAX_MESSAGE_BYTES; 2]), [0..1, 1..2]);
    }

    #[test]
    fn entry_ids_name_places_in_the_batch() {
        assert_eq!(entry_index("n0", 3), Some(0));
        assert_eq!(entry_index("n2", 3), Some(2));
        assert_eq!(entry_index("n3", 3), None);
        assert_eq!(entry_index("x1", 3), None);
    }

    mod mocked {
        use super::*;
        use aws_sdk_sns::operation::publish::PublishOutput;
        use aws_sdk_sns::operation::publish_batch::{PublishBatchInput, PublishBatchOutput};
        use aws_sdk_sns::types::{BatchResultErrorEntry, PublishBatchResultEntry};
        use aws_smithy_mocks::{mock, mock_client, RuleMode};
        use std::sync::{Arc, Mutex};

        fn notes(n: usize) -> Vec<Notification> {
            (0..n)
                .map(|i| Notification {
                    subject: format!("Capstan: t{i} 2 -> 4"),
                    text: format!("t{i} raised"),
                    body: json!({"target": format!("t{i}")}),
                    target: format!("t{i}"),
                    action: "scale-out".into(),
                    outcome: "changed".into(),
                    dedup: format!("tick:x/t{i}/0"),
                })
                .collect()
        }

        /// A notifier whose PublishBatch answers with `answer` (per request), recording each
        /// request.
        fn notifier(
            topic: &str,
            seen: Arc<Mutex<Vec<PublishBatchInput>>>,
            answer: impl Fn(&PublishBatchInput) -> PublishBatchOutput + Send + Sync + 'static,
        ) -> (Notifier, aws_smithy_mocks::Rule) {
            let rule = mock!(aws_sdk_sns::Client::publish_batch).then_compute_output(move |req| {
                seen.lock().unwrap().push(req.clone());
                answer(req)
            });
            let single = mock!(aws_sdk_sns::Client::publish)
                .then_output(|| PublishOutput::builder().message_id("single").build());
            let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&rule, &single]);
            (Notifier::new(client, topic), rule)
        }

        fn all_ok(req: &PublishBatchInput) -> PublishBatchOutput {
            let mut out = PublishBatchOutput::builder();
            for e in req.publish_batch_request_entries() {
                out = out.successful(
                    PublishBatchResultEntry::builder()
                        .id(e.id())
                        .message_id(format!("m-{}", e.message()))
                        .build(),
                );
            }
            out.build()
        }

        #[tokio::test]
        async fn twenty_three_notifications_go_in_three_calls_each_with_its_attributes() {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let (n, rule) = notifier("arn:aws:sns:us-east-1:1:capstan.fifo", seen.clone(), all_ok);
            let notes = notes(23);
            let out = n.publish_batch(&notes).await;
            assert_eq!(rule.num_calls(), 3);
            assert_eq!(out.len(), 23);
            for (note, answer) in notes.iter().zip(&out) {
                // Each answer is its own entry's (the message id echoes its message).
                assert_eq!(answer.as_ref().unwrap(), &format!("m-{}", note.message()));
            }
            let seen = seen.lock().unwrap();
            let mut sizes: Vec<usize> = seen
                .iter()
                .map(|r| r.publish_batch_request_entries().len())
                .collect();
            sizes.sort();
            assert_eq!(sizes, [3, 10, 10]);
            let mut dedups = Vec::new();
            for req in seen.iter() {
                for e in req.publish_batch_request_entries() {
                    let attrs = e.message_attributes().unwrap();
                    let target = attrs["target"].string_value().unwrap();
                    // Its own attributes, group and dedup id: as one Publish would send.
                    assert_eq!(e.message_group_id(), Some(target));
                    assert_eq!(attrs["outcome"].string_value(), Some("changed"));
                    let dedup = attrs["dedup"].string_value().unwrap();
                    assert_eq!(e.message_deduplication_id(), Some(dedup));
                    assert_eq!(dedup, format!("tick:x/{target}/0"));
                    dedups.push(dedup.to_string());
                }
            }
            dedups.sort();
            dedups.dedup();
            assert_eq!(dedups.len(), 23, "every notification sent once");
        }

        #[tokio::test]
        async fn a_standard_topic_gets_no_group_or_dedup_id_and_one_note_is_a_publish() {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let (n, rule) = notifier("arn:aws:sns:us-east-1:1:capstan", seen.clone(), all_ok);
            let out = n.publish_batch(&notes(2)).await;
            assert!(out.iter().all(|a| a.is_ok()));
            for e in seen.lock().unwrap()[0].publish_batch_request_entries() {
                assert_eq!(e.message_group_id(), None);
                assert_eq!(e.message_deduplication_id(), None);
            }
            assert_eq!(n.publish_batch(&notes(1)).await[0].as_deref(), Ok("single"));
            assert_eq!(rule.num_calls(), 1);
        }

        #[tokio::test]
        async fn failed_entries_are_sorted_one_by_one() {
            // Of 4: the 2nd throttled, the 3rd refused for good, the 4th answered in neither list.
            let seen = Arc::new(Mutex::new(Vec::new()));
            let (n, _) = notifier("arn:aws:sns:us-east-1:1:capstan", seen, |req| {
                let ids: Vec<&str> = req
                    .publish_batch_request_entries()
                    .iter()
                    .map(|e| e.id())
                    .collect();
                let fail = |id: &str, code: &str, sender: bool| {
                    BatchResultErrorEntry::builder()
                        .id(id)
                        .code(code)
                        .sender_fault(sender)
                        .message(format!("{code} on {id}"))
                        .build()
                        .unwrap()
                };
                PublishBatchOutput::builder()
                    .successful(
                        PublishBatchResultEntry::builder()
                            .id(ids[0])
                            .message_id("m0")
                            .build(),
                    )
                    .failed(fail(ids[1], "Throttled", false))
                    .failed(fail(ids[2], "KMSDisabled", true))
                    .build()
            });
            let out = n.publish_batch(&notes(4)).await;
            assert_eq!(out[0].as_deref(), Ok("m0"));
            let e1 = out[1].clone().unwrap_err();
            assert!(e1.is_retryable(), "{e1}");
            assert_eq!(e1.code.as_deref(), Some("Throttled"));
            let e2 = out[2].clone().unwrap_err();
            assert!(!e2.is_retryable(), "{e2}");
            assert_eq!(e2.message, "KMSDisabled on n2");
            assert!(out[3].as_ref().unwrap_err().is_retryable());
        }

        #[tokio::test]
        async fn a_failed_call_fails_each_of_its_entries_alike() {
            let rule = mock!(aws_sdk_sns::Client::publish_batch).then_http_response(|| {
                aws_smithy_runtime_api::http::Response::new(
                    aws_smithy_runtime_api::http::StatusCode::try_from(403).unwrap(),
                    aws_smithy_types::body::SdkBody::from(
                        "<ErrorResponse><Error><Type>Sender</Type><Code>AuthorizationError</Code>\
                             <Message>not allowed</Message></Error></ErrorResponse>",
                    ),
                )
            });
            let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&rule]);
            let n = Notifier::new(client, "arn:aws:sns:us-east-1:1:capstan");
            let out = n.publish_batch(&notes(12)).await;
            assert_eq!(rule.num_calls(), 2);
            assert_eq!(out.len(), 12);
            for a in out {
                let e = a.unwrap_err();
                assert_eq!(e.kind, ErrorKind::Denied, "{e}");
                assert_eq!(e.operation, "sns:PublishBatch");
            }
        }
    }
}
