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
//! With the default (non-raw) delivery an SQS subscriber receives the SNS JSON envelope:
//! `Subject`, `Message` and `MessageAttributes` (`{"target": {"Type": "String", "Value": ...}}`).

use aws_sdk_sns::types::MessageAttributeValue;
use serde::{Deserialize, Serialize};

use crate::error::{AwsError, ErrorKind};

/// The prefix of the machine-readable line of a message.
pub const JSON_PREFIX: &str = "capstan-json: ";
/// Longest subject Capstan sends (SNS: fewer than 100 characters).
pub const MAX_SUBJECT: usize = 99;
/// Largest SNS message, attributes included (256 KiB).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

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
        for (name, value) in n.attributes() {
            let attr = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| {
                    AwsError::new(
                        OP,
                        ErrorKind::Invalid,
                        None,
                        format!("message attribute `{name}`: {e}"),
                    )
                })?;
            req = req.message_attributes(name, attr);
        }
        if self.topic_arn.ends_with(".fifo") {
            // One group per target keeps each target's messages in order; the dedup id makes a
            // republication after a lost answer a no-op.
            req = req
                .message_group_id(if n.target.is_empty() { "*" } else { &n.target })
                .message_deduplication_id(fifo_dedup_id(&n.dedup));
        }
        let out = req.send().await.map_err(|e| AwsError::from_sdk(OP, e))?;
        Ok(out.message_id.unwrap_or_default())
    }
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
}
