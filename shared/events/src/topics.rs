//! Which SNS topics a function accepts deliveries from.

use std::fmt;

use crate::json::Obj;
use crate::EventError;

/// The SNS topics a function accepts deliveries from, by ARN (the function's
/// `CAPSTAN_SNS_TOPIC_ARNS`, which the template sets to the topics it subscribes the function
/// to). Anyone allowed to invoke the function can hand it an SNS-shaped payload, and any topic
/// whose owner subscribes the function delivers to it; a record from a topic not listed is an
/// error naming its `Records[i].Sns.TopicArn`, and nothing of the payload is acted on.
///
/// Empty ([`AcceptedTopics::any`]) accepts every topic and does not need `TopicArn`: for tests,
/// `capstan simulate` and functions that are not configured yet.
///
/// ```
/// use capstan_events::AcceptedTopics;
///
/// let topics = AcceptedTopics::from(&["arn:aws:sns:us-east-1:123456789012:capstan-alarms".to_string()][..]);
/// assert!(topics.accepts("arn:aws:sns:us-east-1:123456789012:capstan-alarms"));
/// assert!(!topics.accepts("arn:aws:sns:us-east-1:123456789012:other"));
/// assert!(AcceptedTopics::any().accepts("arn:aws:sns:us-east-1:123456789012:other"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcceptedTopics {
    arns: Vec<String>,
}

impl AcceptedTopics {
    /// Every topic (no `TopicArn` needed).
    pub fn any() -> AcceptedTopics {
        AcceptedTopics::default()
    }

    /// Only these topic ARNs (compared exactly). An empty list accepts every topic, as
    /// [`AcceptedTopics::any`].
    pub fn only<S: Into<String>>(arns: impl IntoIterator<Item = S>) -> AcceptedTopics {
        AcceptedTopics {
            arns: arns.into_iter().map(Into::into).collect(),
        }
    }

    /// True when every topic is accepted.
    pub fn is_any(&self) -> bool {
        self.arns.is_empty()
    }

    /// True when a delivery from topic `arn` is accepted.
    pub fn accepts(&self, arn: &str) -> bool {
        self.is_any() || self.arns.iter().any(|a| a == arn)
    }

    /// Checks the `TopicArn` of the `Sns` object of one record: required unless every topic is
    /// accepted, and one of the accepted topics. The message is never quoted.
    pub(crate) fn check(&self, sns: &Obj<'_>) -> Result<(), EventError> {
        if self.is_any() {
            return Ok(());
        }
        let arn = sns.str("TopicArn")?;
        if self.accepts(arn) {
            return Ok(());
        }
        Err(EventError::new(
            sns.path_of("TopicArn"),
            format!("{arn} is not a topic this function accepts (it accepts {self})"),
        ))
    }
}

impl From<&[String]> for AcceptedTopics {
    fn from(arns: &[String]) -> AcceptedTopics {
        AcceptedTopics::only(arns.iter().cloned())
    }
}

impl From<&Vec<String>> for AcceptedTopics {
    fn from(arns: &Vec<String>) -> AcceptedTopics {
        AcceptedTopics::from(arns.as_slice())
    }
}

impl fmt::Display for AcceptedTopics {
    /// The accepted ARNs, comma-separated, or `any topic`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_any() {
            f.write_str("any topic")
        } else {
            f.write_str(&self.arns.join(", "))
        }
    }
}
