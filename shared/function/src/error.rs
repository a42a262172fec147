//! Why an invocation failed, in a few stable kinds: the error every Capstan function returns
//! to the Lambda runtime ([`InvocationError`]), and what Lambda is told of it
//! ([`lambda_runtime::Diagnostic`]: the kind's name as `errorType`, the message with the
//! account ids taken out as `errorMessage`; see [`redact`]).
//!
//! Lambda records the `errorType` in the invocation's log, in the `responsePayload` of what the
//! on-failure destination (the dead-letter queue) receives, and in the function's traces: an
//! operator or an alarm can tell a malformed request from throttling from a missing
//! permission without reading the message. `docs/errors.md` is the operator's table.

use std::fmt;

use capstan_events::EventError;
use capstan_runner::RunError;

use crate::ConfigError;

/// What stands for an AWS account id in what Lambda is told ([`redact`]).
pub const ACCOUNT_PLACEHOLDER: &str = "<account>";

/// Every [`InvocationError::error_type`], from the least retryable to the most: the order in
/// which [`InvocationError::worst`] picks one of several failures.
pub const ERROR_TYPES: [&str; 8] = [
    "Config",
    "Internal",
    "Denied",
    "UntrustedSource",
    "MalformedEvent",
    "Transient",
    "OutOfTime",
    "InProgress",
];

/// Why an invocation failed. Each variant has a stable name, its [`error_type`], which is
/// what Lambda records as the invocation's `errorType`:
///
/// | `errorType` | when | what changed | does Lambda's retry help? |
/// | --- | --- | --- | --- |
/// | `MalformedEvent` | the payload is not what the function takes (the message names the field; an alarm on the budget topic, a hand-made request with a typo, a Slack payload that is neither an API Gateway request nor an SQS batch) | nothing | no: it fails again, then rests in the dead-letter queue |
/// | `UntrustedSource` | an SNS record from a topic the function does not accept (`CAPSTAN_SNS_TOPIC_ARNS`), or without a `TopicArn` while it accepts only some; nothing of the payload is read | nothing | no |
/// | `Denied` | the state table refuses for good what had to be recorded (the runner's `RunError::Denied`: not retryable, e.g. `AccessDeniedException` on `dynamodb:TransactWriteItems`, bad credentials, a table that does not exist) | the refused write (a signal's notices, a tick's digest) did not happen; what was done before it stays done | not until the permission is granted |
/// | `Transient` | throttling, a 5xx, a timeout, a lost connection after the SDK's own retries; notifications not yet published or recorded | what was committed is completed by the retry | yes |
/// | `InProgress` | another attempt holds the signal or its target and may still be alive | nothing (the other attempt carries on) | yes, after that attempt's deadline |
/// | `OutOfTime` | too little time was left before the invocation's deadline to start the remaining targets | the others are done | yes |
/// | `Config` | a setting is missing or malformed, or the policy cannot be read: at init (the function does not start), or a handler without its settings | nothing | no |
/// | `Internal` | a failure of the function itself (its response could not be serialised, the runtime loop failed): a bug | unknown | maybe |
///
/// A target AWS refuses for good (access denied on `ecs:UpdateService`, a validation error) is
/// not an invocation error: the runner restores the record, records the failure and announces
/// it; the invocation succeeds with `failed` in its report.
///
/// [`fmt::Display`] is the whole message, for the function's own log (inside the account);
/// what leaves for Lambda is the [`lambda_runtime::Diagnostic`] this converts into, with every
/// account id replaced ([`redact`]). [`fmt::Debug`] is `<errorType>: <message>`, so that the
/// runtime's log line and `main`'s `Error: ...` read as the message does.
///
/// [`error_type`]: InvocationError::error_type
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvocationError {
    /// The payload is not what the function takes; nothing was changed.
    #[error("{0}")]
    MalformedEvent(String),
    /// An SNS delivery from a topic the function does not accept; nothing of it was read.
    #[error("{0}")]
    UntrustedSource(String),
    /// The function's role is refused by the state table: a retry fails the same way until the
    /// permission is granted.
    #[error("{0}")]
    Denied(String),
    /// AWS or the state table failed in a way a retry may fix (throttling, 5xx, timeouts).
    #[error("{0}")]
    Transient(String),
    /// Another attempt holds the signal or its target: retry after its deadline.
    #[error("{0}")]
    InProgress(String),
    /// The deadline was too close to start the remaining targets.
    #[error("{0}")]
    OutOfTime(String),
    /// A setting is missing or malformed (init, or a handler built without its settings).
    #[error("{0}")]
    Config(String),
    /// A failure of the function itself (a bug, the runtime loop).
    #[error("{0}")]
    Internal(String),
}

impl InvocationError {
    /// The stable name of the kind of failure: Lambda's `errorType` (one of [`ERROR_TYPES`]).
    pub fn error_type(&self) -> &'static str {
        match self {
            InvocationError::MalformedEvent(_) => "MalformedEvent",
            InvocationError::UntrustedSource(_) => "UntrustedSource",
            InvocationError::Denied(_) => "Denied",
            InvocationError::Transient(_) => "Transient",
            InvocationError::InProgress(_) => "InProgress",
            InvocationError::OutOfTime(_) => "OutOfTime",
            InvocationError::Config(_) => "Config",
            InvocationError::Internal(_) => "Internal",
        }
    }

    /// The whole message (account ids included: for the function's own log).
    pub fn message(&self) -> &str {
        match self {
            InvocationError::MalformedEvent(m)
            | InvocationError::UntrustedSource(m)
            | InvocationError::Denied(m)
            | InvocationError::Transient(m)
            | InvocationError::InProgress(m)
            | InvocationError::OutOfTime(m)
            | InvocationError::Config(m)
            | InvocationError::Internal(m) => m,
        }
    }

    /// True when Lambda's retry of the invocation may succeed as it is (`Transient`,
    /// `InProgress`, `OutOfTime`); the others need someone to act.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            InvocationError::Transient(_)
                | InvocationError::InProgress(_)
                | InvocationError::OutOfTime(_)
        )
    }

    /// A payload the parsers of `capstan-events` refused: `UntrustedSource` when what they
    /// refused is the `TopicArn` of an SNS record (a topic the function does not accept, or
    /// none), else `MalformedEvent` as `<malformed>: <error>` (`malformed alarm event: ...`).
    pub fn from_event(e: &EventError, malformed: &str) -> InvocationError {
        if e.path.ends_with("TopicArn") {
            InvocationError::UntrustedSource(format!("SNS delivery refused: {e}"))
        } else {
            InvocationError::MalformedEvent(format!("{malformed}: {e}"))
        }
    }

    /// One error for several failures of one invocation (its deliveries, in order): the kind
    /// of the least retryable of them (in the order of [`ERROR_TYPES`]; of equals, the first),
    /// with every message, in order, joined by `; `. `None` when there are none.
    pub fn worst(errors: impl IntoIterator<Item = InvocationError>) -> Option<InvocationError> {
        let errors: Vec<InvocationError> = errors.into_iter().collect();
        let worst = errors
            .iter()
            .enumerate()
            .min_by_key(|(place, e)| (e.rank(), *place))?
            .1
            .clone();
        if errors.len() == 1 {
            return Some(worst);
        }
        let message = errors
            .iter()
            .map(InvocationError::message)
            .collect::<Vec<_>>()
            .join("; ");
        Some(worst.with_message(message))
    }

    /// The place of the kind in [`ERROR_TYPES`] (0: the least retryable).
    fn rank(&self) -> usize {
        ERROR_TYPES
            .iter()
            .position(|t| *t == self.error_type())
            .expect("every error type is listed")
    }

    /// The same kind with another message.
    fn with_message(self, message: String) -> InvocationError {
        match self {
            InvocationError::MalformedEvent(_) => InvocationError::MalformedEvent(message),
            InvocationError::UntrustedSource(_) => InvocationError::UntrustedSource(message),
            InvocationError::Denied(_) => InvocationError::Denied(message),
            InvocationError::Transient(_) => InvocationError::Transient(message),
            InvocationError::InProgress(_) => InvocationError::InProgress(message),
            InvocationError::OutOfTime(_) => InvocationError::OutOfTime(message),
            InvocationError::Config(_) => InvocationError::Config(message),
            InvocationError::Internal(_) => InvocationError::Internal(message),
        }
    }

    /// Logs the failure with its type as a field (`error_type`) and the whole message: at
    /// `WARN` when Lambda's retry may fix it, else at `ERROR`.
    pub fn log(&self) {
        if self.is_retryable() {
            tracing::warn!(error_type = self.error_type(), error = %self, "invocation failed; Lambda retries it");
        } else {
            tracing::error!(error_type = self.error_type(), error = %self, "invocation failed");
        }
    }
}

impl fmt::Debug for InvocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type(), self.message())
    }
}

impl From<RunError> for InvocationError {
    /// The runner's failure as its kind.
    fn from(e: RunError) -> InvocationError {
        match e {
            e @ RunError::Transient(_) => InvocationError::Transient(e.to_string()),
            e @ RunError::InProgress(_) => InvocationError::InProgress(e.to_string()),
            e @ RunError::OutOfTime(_) => InvocationError::OutOfTime(e.to_string()),
            e @ RunError::Denied(_) => InvocationError::Denied(e.to_string()),
        }
    }
}

impl From<ConfigError> for InvocationError {
    fn from(e: ConfigError) -> InvocationError {
        InvocationError::Config(e.to_string())
    }
}

impl From<InvocationError> for lambda_runtime::Diagnostic {
    /// `errorType`: [`InvocationError::error_type`]; `errorMessage`: the message without
    /// account ids ([`redact`]).
    fn from(e: InvocationError) -> lambda_runtime::Diagnostic {
        lambda_runtime::Diagnostic {
            error_type: e.error_type().to_string(),
            error_message: redact(e.message()),
        }
    }
}

/// `text` with every AWS account id replaced by [`ACCOUNT_PLACEHOLDER`]: a run of exactly 12
/// digits (inside an ARN, a queue URL, an IAM message, anywhere), and the console's
/// `1234-5678-9012`. Other numbers are left as they are: a desired count, a percentage, a
/// date (`20261123`, `2026-11-23`), an epoch in seconds (10 digits) or milliseconds (13). A
/// 12-digit number that is no account (`202611231015`) is replaced too: what Lambda is told
/// errs on the side of saying less.
pub fn redact(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let end = match i - start {
            12 => Some(i),
            4 => dashed_account(b, start),
            _ => None,
        };
        if let Some(end) = end {
            out.push_str(&text[copied..start]);
            out.push_str(ACCOUNT_PLACEHOLDER);
            copied = end;
            i = end;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// The end of `dddd-dddd-dddd` starting at `start` (a run of four digits), when it stands
/// alone: not within a longer chain of dash-separated digit groups.
fn dashed_account(b: &[u8], start: usize) -> Option<usize> {
    let digits = |from: usize| (from..from + 4).all(|k| b.get(k).is_some_and(u8::is_ascii_digit));
    let dash = |at: usize| b.get(at) == Some(&b'-');
    let end = start + 14;
    let shape = dash(start + 4) && digits(start + 5) && dash(start + 9) && digits(start + 10);
    let after_digit = |at: usize| b.get(at).is_some_and(u8::is_ascii_digit);
    let chained_after = after_digit(end) || (dash(end) && after_digit(end + 1));
    let chained_before = start >= 2 && b[start - 1] == b'-' && b[start - 2].is_ascii_digit();
    (shape && !chained_after && !chained_before).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// True when `text` holds a run of exactly 12 digits (an account id).
    fn has_account_id(text: &str) -> bool {
        text.split(|c: char| !c.is_ascii_digit())
            .any(|run| run.len() == 12)
    }

    #[test]
    fn account_ids_are_taken_out_of_arns_and_urls() {
        assert_eq!(
            redact("arn:aws:sns:us-east-1:123456789012:capstan-alarms"),
            "arn:aws:sns:us-east-1:<account>:capstan-alarms"
        );
        assert_eq!(
            redact("arn:aws:iam::210987654321:role/capstan-alarm-handler-scale"),
            "arn:aws:iam::<account>:role/capstan-alarm-handler-scale"
        );
        assert_eq!(
            redact("https://sqs.us-east-1.amazonaws.com/123456789012/capstan-slack"),
            "https://sqs.us-east-1.amazonaws.com/<account>/capstan-slack"
        );
        assert_eq!(
            redact("accounts 123456789012, 210987654321 and 1234-5678-9012"),
            "accounts <account>, <account> and <account>"
        );
        assert_eq!(redact("123456789012"), "<account>");
        assert_eq!(redact(""), "");
    }

    #[test]
    fn an_access_denied_message_keeps_everything_but_the_account() {
        let aws = "state table: dynamodb:TransactWriteItems failed (AccessDeniedException): \
                   User: arn:aws:sts::123456789012:assumed-role/x/y is not authorized to \
                   perform: dynamodb:TransactWriteItems on resource: \
                   arn:aws:dynamodb:us-east-1:123456789012:table/capstan";
        let r = redact(aws);
        assert_eq!(
            r,
            "state table: dynamodb:TransactWriteItems failed (AccessDeniedException): \
             User: arn:aws:sts::<account>:assumed-role/x/y is not authorized to \
             perform: dynamodb:TransactWriteItems on resource: \
             arn:aws:dynamodb:us-east-1:<account>:table/capstan"
        );
        assert!(!has_account_id(&r), "{r}");
    }

    #[test]
    fn other_numbers_are_left_alone() {
        for text in [
            "api 3 -> 5 (desired 12, floor 2, ceiling 20)",
            "tick 2026-11-23T14:00:00Z, occurrence 20261123, at 1763906400 (1763906400000 ms)",
            "budget at 80% of $4,102.37; tracking 1Z999AA10123456784",
            "schedule night@20261123T140000 and 1234567890123 and 12345678901",
            "phone 555-1234-5678-9012-3456 is no account, nor is 2026-11-23",
            "ünïcödé 12 ✓",
        ] {
            assert_eq!(redact(text), text);
        }
        // Beside an account id, the rest stays as it was.
        assert_eq!(
            redact("desired 5 in 123456789012 at 20261123"),
            "desired 5 in <account> at 20261123"
        );
        assert_eq!(redact("ab123456789012cd"), "ab<account>cd");
    }

    #[test]
    fn every_kind_has_its_stable_name() {
        let all = [
            InvocationError::MalformedEvent("m".into()),
            InvocationError::UntrustedSource("m".into()),
            InvocationError::Denied("m".into()),
            InvocationError::Transient("m".into()),
            InvocationError::InProgress("m".into()),
            InvocationError::OutOfTime("m".into()),
            InvocationError::Config("m".into()),
            InvocationError::Internal("m".into()),
        ];
        let mut names: Vec<&str> = all.iter().map(InvocationError::error_type).collect();
        assert_eq!(
            names,
            [
                "MalformedEvent",
                "UntrustedSource",
                "Denied",
                "Transient",
                "InProgress",
                "OutOfTime",
                "Config",
                "Internal"
            ]
        );
        names.sort();
        let mut listed = ERROR_TYPES.to_vec();
        listed.sort();
        assert_eq!(names, listed, "ERROR_TYPES lists each once");
        let retryable: Vec<&str> = all
            .iter()
            .filter(|e| e.is_retryable())
            .map(InvocationError::error_type)
            .collect();
        assert_eq!(retryable, ["Transient", "InProgress", "OutOfTime"]);
        assert_eq!(
            format!("{:?}", InvocationError::Denied("no".into())),
            "Denied: no"
        );
    }

    #[test]
    fn the_diagnostic_is_the_type_and_the_redacted_message() {
        let e = InvocationError::UntrustedSource(
            "SNS delivery refused: Records[0].Sns.TopicArn: \
             arn:aws:sns:us-east-1:123456789012:other is not a topic this function accepts"
                .into(),
        );
        assert!(e.to_string().contains("123456789012"), "the log keeps it");
        let d: lambda_runtime::Diagnostic = e.into();
        assert_eq!(d.error_type, "UntrustedSource");
        assert_eq!(
            d.error_message,
            "SNS delivery refused: Records[0].Sns.TopicArn: \
             arn:aws:sns:us-east-1:<account>:other is not a topic this function accepts"
        );
    }

    #[test]
    fn run_errors_keep_their_kind() {
        let e = InvocationError::from(RunError::Transient(
            "state table: dynamodb:BatchGetItem failed (ThrottlingException): slow down".into(),
        ));
        assert_eq!(e.error_type(), "Transient");
        assert!(e.to_string().starts_with("transient failure"), "{e}");
        assert!(e.to_string().contains("ThrottlingException"), "{e}");
        let e = InvocationError::from(RunError::InProgress("api (busy with k)".into()));
        assert_eq!(e.error_type(), "InProgress");
        assert!(e.to_string().contains("api (busy with k)"), "{e}");
        let e = InvocationError::from(RunError::OutOfTime("api, web".into()));
        assert_eq!(e.error_type(), "OutOfTime");
        assert!(e.to_string().ends_with("api, web"), "{e}");

        let denied = "state table: dynamodb:TransactWriteItems failed (AccessDeniedException): \
                      User: arn:aws:sts::123456789012:assumed-role/x/y is not authorized to \
                      perform: dynamodb:TransactWriteItems on resource: \
                      arn:aws:dynamodb:us-east-1:123456789012:table/capstan";
        let e = InvocationError::from(RunError::Denied(denied.into()));
        assert_eq!(e.error_type(), "Denied");
        assert!(e.to_string().contains(denied), "the whole of it: {e}");
        let d: lambda_runtime::Diagnostic = e.into();
        assert_eq!(d.error_type, "Denied");
        assert!(!has_account_id(&d.error_message), "{}", d.error_message);
        assert!(d
            .error_message
            .contains("dynamodb:TransactWriteItems on resource"));
        // The kind is the runner's, never read from the words.
        let e = InvocationError::from(RunError::Transient(denied.into()));
        assert_eq!(e.error_type(), "Transient");
    }

    #[test]
    fn event_errors_are_malformed_or_from_an_untrusted_topic() {
        let e = InvocationError::from_event(
            &EventError::new(
                "detail.state.value",
                "expected ALARM, OK or INSUFFICIENT_DATA",
            ),
            "malformed alarm event",
        );
        assert_eq!(e.error_type(), "MalformedEvent");
        assert_eq!(
            e.to_string(),
            "malformed alarm event: detail.state.value: expected ALARM, OK or INSUFFICIENT_DATA"
        );
        let e = InvocationError::from_event(
            &EventError::new("Records[1].Sns.TopicArn", "missing"),
            "malformed alarm event",
        );
        assert_eq!(e.error_type(), "UntrustedSource");
        assert_eq!(
            e.to_string(),
            "SNS delivery refused: Records[1].Sns.TopicArn: missing"
        );
    }

    #[test]
    fn of_several_failures_the_least_retryable_kind_with_every_message() {
        let t = || InvocationError::Transient("t".into());
        let p = || InvocationError::InProgress("p".into());
        let o = || InvocationError::OutOfTime("o".into());
        let d = || InvocationError::Denied("d".into());
        assert_eq!(InvocationError::worst(Vec::new()), None);
        assert_eq!(InvocationError::worst([p()]), Some(p()));
        assert_eq!(
            InvocationError::worst([p(), t(), o()]),
            Some(InvocationError::Transient("p; t; o".into()))
        );
        assert_eq!(
            InvocationError::worst([p(), o()]),
            Some(InvocationError::OutOfTime("p; o".into()))
        );
        assert_eq!(
            InvocationError::worst([t(), d(), p()]),
            Some(InvocationError::Denied("t; d; p".into()))
        );
        // Of equals, the first; in any order, the same kind.
        assert_eq!(
            InvocationError::worst([
                InvocationError::Transient("a".into()),
                InvocationError::Transient("b".into())
            ]),
            Some(InvocationError::Transient("a; b".into()))
        );
        assert_eq!(
            InvocationError::worst([d(), p(), t()])
                .unwrap()
                .error_type(),
            "Denied"
        );
    }

    #[test]
    fn config_errors_read_as_they_did() {
        let e = InvocationError::from(ConfigError::Missing("CAPSTAN_POLICY"));
        assert_eq!(e.error_type(), "Config");
        assert_eq!(
            format!("{e:?}"),
            "Config: environment variable CAPSTAN_POLICY is not set"
        );
    }

    /// Captures what is logged in JSON, as the functions log it.
    fn logged(f: impl FnOnce()) -> Vec<serde_json::Value> {
        use std::sync::{Arc, Mutex};

        #[derive(Clone, Default)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = sink.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn the_log_has_the_type_as_a_field_and_the_whole_message() {
        let lines = logged(|| {
            InvocationError::Transient(
                "transient failure: arn:aws:sns:us-east-1:123456789012:t".into(),
            )
            .log();
            InvocationError::Denied("access denied: 123456789012".into()).log();
        });
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0]["level"], "WARN", "a retry may fix it");
        assert_eq!(lines[0]["fields"]["error_type"], "Transient");
        assert_eq!(
            lines[0]["fields"]["error"], "transient failure: arn:aws:sns:us-east-1:123456789012:t",
            "inside the account, the whole of it"
        );
        assert_eq!(lines[1]["level"], "ERROR");
        assert_eq!(lines[1]["fields"]["error_type"], "Denied");
    }

    #[test]
    fn the_operators_table_lists_every_type() {
        let doc = include_str!("../../../docs/errors.md");
        for t in ERROR_TYPES {
            assert!(
                doc.lines().any(|l| l.starts_with(&format!("| `{t}` |"))),
                "docs/errors.md has no row for {t}"
            );
        }
    }
}
