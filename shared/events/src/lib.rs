//! Translates the payloads AWS delivers for CloudWatch alarms into Capstan's
//! [`AlarmSignal`].
//!
//! [`parse_alarm_event`] takes the raw JSON a Lambda function receives and recognises:
//!
//! | shape | recognised by | value (latest datapoint) |
//! | --- | --- | --- |
//! | EventBridge "CloudWatch Alarm State Change" ([`Via::EventBridge`]) | `source` = `aws.cloudwatch` and `detail-type` | last of `detail.state.reasonData.recentDatapoints` |
//! | other EventBridge events from `aws.cloudwatch` (e.g. "CloudWatch Alarm Configuration Change") | same, another `detail-type` | [`Parsed::Ignored`] |
//! | alarm action invoking Lambda directly, metric or composite alarm ([`Via::LambdaAction`]) | `source` = `aws.cloudwatch`, `alarmArn` and `alarmData`, no `detail-type` | last of `alarmData.state.reasonData.recentDatapoints` (composite alarms: none) |
//! | SNS notification, one or several records ([`Via::Sns`]) | `Records[]` with `EventSource` = `aws:sns`; `Sns.Message` is the classic alarm notification as a JSON string | the newest datapoint quoted in `NewStateReason` |
//! | SNS record whose `Message` is an EventBridge event (an EventBridge rule targeting the topic) ([`Via::Sns`]) | `Sns.Message` holds an object with `source` | as for EventBridge |
//!
//! A composite alarm whose actions CloudWatch suppressed carries `actionsSuppressedBy`
//! (`Alarm`, `WaitPeriod`, `ExtensionPeriod`) and `actionsSuppressedReason` in its new `state`
//! (EventBridge `detail.state`, Lambda action `alarmData.state`): the signal then holds them in
//! [`AlarmSignal::suppressed`], and a rule that honours them scales nothing.
//!
//! `reasonData` is a JSON string inside the JSON; a missing or unreadable value gives
//! `value: None` and is never an error. A malformed name, ARN, state or timestamp is an
//! [`EventError`] whose [`path`](EventError::path) names the field, e.g.
//! `Records[1].Sns.Message.NewStateValue`. `null` is treated like an absent field everywhere, so
//! optional fields may be `null`.
//!
//! Timestamps are accepted as AWS writes them (`2026-11-23T17:45:02.551+0000`) and in RFC 3339
//! (`+00:00`, `Z`). Each delivery carries an idempotency [`key`](AlarmDelivery::key) built from
//! the alarm ARN and the state timestamp exactly as written, so a redelivered payload gives the
//! same key.
//!
//! ```
//! use capstan_events::{parse_alarm_event, AcceptedTopics, Parsed, Via};
//! use capstan_policy::model::AlarmState;
//!
//! let payload = serde_json::json!({
//!     "source": "aws.cloudwatch",
//!     "alarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-cpu-high",
//!     "alarmData": {
//!         "alarmName": "api-cpu-high",
//!         "state": {
//!             "value": "ALARM",
//!             "reasonData": "{\"recentDatapoints\":[74.9,78.1]}",
//!             "timestamp": "2026-11-23T09:12:15.490+0000"
//!         },
//!         "previousState": {"value": "OK", "timestamp": "2026-11-23T09:02:15.490+0000"}
//!     }
//! });
//! let Parsed::Alarms(deliveries) = parse_alarm_event(&payload, &AcceptedTopics::any())? else {
//!     panic!("an alarm")
//! };
//! assert_eq!(deliveries[0].signal.state, AlarmState::Alarm);
//! assert_eq!(deliveries[0].signal.value, Some(78.1));
//! assert_eq!(deliveries[0].via, Via::LambdaAction);
//! # Ok::<(), capstan_events::EventError>(())
//! ```
//!
//! # Schedule requests
//!
//! [`parse_schedule_event`] reads what invokes the schedule handler: the EventBridge
//! scheduled-rule envelope (`source` = `aws.events`, `detail-type` = `Scheduled Event`; a tick
//! at its `time`), or an input object without envelope as EventBridge Scheduler delivers it
//! (`{"action": "tick", "scheduled_time": "<aws.scheduler.scheduled-time>"}`), and the explicit
//! requests `apply` (a named schedule now), `add-event` and `cancel-event`. It gives a
//! [`ScheduleRequest`] with the moment it is for and an idempotency key. Nothing is a tick by
//! default: an unknown shape, action or field is an [`EventError`] naming the field, down into
//! the event of an `add-event` (`event.targets.api.floor`). The moment is checked against the
//! handler's clock: more than [`MAX_CLOCK_SKEW`] ahead of it or older than [`MAX_REQUEST_AGE`]
//! (the schedule's retry window in the template) is an error naming `time` or
//! `scheduled_time`.
//!
//! # SNS topics
//!
//! SNS deliveries (alarm notifications, budget alerts) are accepted only from the topics the
//! function is configured with ([`AcceptedTopics`]): a record from another topic is an
//! [`EventError`] naming `Records[i].Sns.TopicArn`, and nothing of the payload is acted on.
//!
//! # Budget alerts
//!
//! AWS Budgets publishes plain text, not JSON, to SNS. [`parse_budget_event`] reads the SNS
//! records into [`BudgetDelivery`]s, each keyed by budget, alert type, threshold and month so a
//! redelivered alert acts once; [`parse_budget_text`] reads one message. Both fail closed: a
//! message that is not a budget notification is an error, never an action.
#![warn(missing_docs)]

mod budget;
mod datapoint;
mod json;
mod schedule;
mod topics;

pub use topics::AcceptedTopics;

pub use budget::{parse_budget_event, parse_budget_text, BudgetDelivery, BudgetTextError};
pub use schedule::{
    parse_schedule_event, parse_schedule_replay, ScheduleKind, ScheduleRequest, ScheduleVia,
    DEFAULT_REQUESTER, INVOKE_MAX_EVENT_AGE, MAX_CLOCK_SKEW, MAX_REQUEST_AGE,
    SCHEDULED_EVENT_DETAIL_TYPE, SCHEDULER_MAX_EVENT_AGE, SCHEDULE_SOURCE,
};

use std::fmt;

use capstan_policy::model::AlarmState;
use capstan_policy::signal::{ActionsSuppressed, AlarmSignal, Signal, Suppressor, TimedSignal};
use chrono::{DateTime, Utc};
use serde_json::Value;

use json::{as_obj, element, kind, Obj};

/// The EventBridge `source` of CloudWatch events and of the Lambda alarm action payload.
pub const CLOUDWATCH_SOURCE: &str = "aws.cloudwatch";
/// The EventBridge `detail-type` of an alarm state change.
pub const STATE_CHANGE_DETAIL_TYPE: &str = "CloudWatch Alarm State Change";

/// How the alarm reached Capstan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Via {
    /// An EventBridge rule matching "CloudWatch Alarm State Change".
    EventBridge,
    /// The alarm's action invoked the Lambda function directly.
    LambdaAction,
    /// The alarm notified an SNS topic the function subscribes to.
    Sns,
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Via::EventBridge => "eventbridge",
            Via::LambdaAction => "lambda-action",
            Via::Sns => "sns",
        })
    }
}

/// One alarm transition found in a payload.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmDelivery {
    /// Name, new state, previous state, and the latest datapoint when the payload has one.
    pub signal: AlarmSignal,
    /// The alarm's ARN.
    pub alarm_arn: String,
    /// When the alarm entered its new state.
    pub changed_at: DateTime<Utc>,
    /// Idempotency key: `alarm:<arn>:<state timestamp exactly as AWS wrote it>`. The same for
    /// every redelivery of a payload (not necessarily across delivery paths).
    pub key: String,
    /// How the alarm was delivered.
    pub via: Via,
}

impl AlarmDelivery {
    /// The signal for the policy engine, timed at the state change.
    pub fn timed_signal(&self) -> TimedSignal {
        TimedSignal {
            at: self.changed_at,
            signal: Signal::Alarm(self.signal.clone()),
        }
    }
}

/// What a payload turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// One or more alarm transitions (SNS may batch several records), in payload order.
    Alarms(Vec<AlarmDelivery>),
    /// A CloudWatch event that is not an alarm state change; nothing to do.
    Ignored {
        /// Why, naming what the payload was.
        why: String,
    },
}

/// A payload that is not a CloudWatch alarm, or a malformed one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct EventError {
    /// Where in the payload, e.g. `Records[1].Sns.Message.NewStateValue`; empty for the payload
    /// as a whole.
    pub path: String,
    /// What is wrong, e.g. `missing`.
    pub message: String,
}

impl EventError {
    /// An error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        EventError {
            path: path.into(),
            message: message.into(),
        }
    }

    /// `<path>: <message>`, or just the message when the path is the whole payload.
    fn render(&self) -> String {
        if self.path.is_empty() {
            self.message.clone()
        } else {
            format!("{}: {}", self.path, self.message)
        }
    }
}

const NOT_AN_ALARM: &str = "not a CloudWatch alarm payload: expected an EventBridge event, \
                            a Lambda alarm action, or SNS Records";

/// Finds the alarm transitions in a payload delivered by EventBridge, a Lambda alarm action or
/// SNS. See the [crate documentation](crate) for the accepted shapes.
///
/// SNS records are accepted only from `topics`: a record from another topic (or without
/// `TopicArn` when the list is not empty) is an error naming `Records[i].Sns.TopicArn`, checked
/// before the message is read, and nothing of the payload is acted on.
/// [`AcceptedTopics::any`] accepts every topic.
pub fn parse_alarm_event(payload: &Value, topics: &AcceptedTopics) -> Result<Parsed, EventError> {
    let Value::Object(map) = payload else {
        return Err(EventError::new(
            "",
            format!("{NOT_AN_ALARM}, got {}", kind(payload)),
        ));
    };
    let root = Obj {
        map,
        path: String::new(),
    };
    if map.contains_key("Records") {
        return parse_sns(&root, topics);
    }
    if map.contains_key("source") {
        return parse_cloudwatch(&root, None);
    }
    Err(EventError::new("", NOT_AN_ALARM))
}

/// An object with `source`: EventBridge or the Lambda alarm action. `via_override` is set when
/// the event arrived inside an SNS message.
fn parse_cloudwatch(event: &Obj<'_>, via_override: Option<Via>) -> Result<Parsed, EventError> {
    let source = event.str("source")?;
    if source != CLOUDWATCH_SOURCE {
        return Err(EventError::new(
            event.path_of("source"),
            format!(
                "not a CloudWatch alarm payload: expected {CLOUDWATCH_SOURCE:?}, got {source:?}"
            ),
        ));
    }
    if event.get("detail-type").is_some() {
        let detail_type = event.str("detail-type")?;
        if detail_type != STATE_CHANGE_DETAIL_TYPE {
            return Ok(Parsed::Ignored {
                why: format!(
                    "EventBridge {detail_type:?} from {CLOUDWATCH_SOURCE} is not an alarm state change"
                ),
            });
        }
        let detail = event.obj("detail")?;
        let arn = eventbridge_arn(event)?;
        let delivery = alarm_data(&detail, arn, via_override.unwrap_or(Via::EventBridge))?;
        return Ok(Parsed::Alarms(vec![delivery]));
    }
    if event.get("alarmData").is_some() {
        let arn = alarm_arn(event, "alarmArn")?;
        let data = event.obj("alarmData")?;
        let delivery = alarm_data(&data, arn, via_override.unwrap_or(Via::LambdaAction))?;
        return Ok(Parsed::Alarms(vec![delivery]));
    }
    Err(EventError::new(
        event.path.clone(),
        format!(
            "{CLOUDWATCH_SOURCE} payload with neither `detail-type` (EventBridge event) \
             nor `alarmData` (Lambda alarm action)"
        ),
    ))
}

/// The alarm ARN of an EventBridge alarm event: its single entry in `resources`.
fn eventbridge_arn<'a>(event: &Obj<'a>) -> Result<&'a str, EventError> {
    let path = event.path_of("resources");
    let resources = match event.get("resources") {
        None => return Err(event.missing("resources")),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(EventError::new(
                path,
                format!(
                    "expected an array holding the alarm ARN, got {}",
                    kind(other)
                ),
            ))
        }
    };
    let first_path = element(&path, 0);
    match resources.first() {
        None => Err(EventError::new(path, "empty: expected the alarm ARN")),
        Some(Value::String(arn)) => check_arn(arn, &first_path),
        Some(other) => Err(EventError::new(
            first_path,
            format!("expected the alarm ARN as a string, got {}", kind(other)),
        )),
    }
}

fn alarm_arn<'a>(obj: &Obj<'a>, key: &str) -> Result<&'a str, EventError> {
    check_arn(obj.str(key)?, &obj.path_of(key))
}

fn check_arn<'a>(arn: &'a str, path: &str) -> Result<&'a str, EventError> {
    if arn.starts_with("arn:") && arn.contains(":alarm:") {
        Ok(arn)
    } else {
        Err(EventError::new(
            path,
            format!("expected a CloudWatch alarm ARN (arn:...:alarm:<name>), got {arn:?}"),
        ))
    }
}

/// `detail` of an EventBridge event or `alarmData` of a Lambda alarm action: both hold
/// `alarmName`, `state` and `previousState` with `value`, `timestamp` and `reasonData`.
fn alarm_data(data: &Obj<'_>, arn: &str, via: Via) -> Result<AlarmDelivery, EventError> {
    let name = data.non_empty_str("alarmName")?;
    let state_obj = data.obj("state")?;
    let state = alarm_state(&state_obj, "value")?;
    let changed = json::time(&state_obj, "timestamp")?;
    let previous = match data.opt_obj("previousState")? {
        Some(previous) => opt_alarm_state(&previous, "value")?,
        None => None,
    };
    let value = datapoint::from_reason_data(state_obj.get("reasonData"));
    let suppressed = actions_suppressed(&state_obj)?;
    let signal = AlarmSignal {
        name: name.to_string(),
        state,
        previous,
        value,
        suppressed,
    };
    Ok(delivery(signal, arn, changed, via))
}

/// `actionsSuppressedBy` (and `actionsSuppressedReason`) of a composite alarm's new state: set
/// when CloudWatch held its actions back. Absent or `null`: not suppressed; any other word
/// than CloudWatch's three is an error naming the field (a suppression misread as none would
/// scale during a maintenance window).
fn actions_suppressed(state: &Obj<'_>) -> Result<Option<ActionsSuppressed>, EventError> {
    let by = match state.get("actionsSuppressedBy") {
        None | Some(Value::Null) => return Ok(None),
        Some(_) => state.str("actionsSuppressedBy")?,
    };
    let Some(by) = Suppressor::parse(by) else {
        return Err(EventError::new(
            state.path_of("actionsSuppressedBy"),
            format!("expected one of Alarm, WaitPeriod, ExtensionPeriod, got {by:?}"),
        ));
    };
    let reason = match state.get("actionsSuppressedReason") {
        None | Some(Value::Null) => None,
        Some(_) => Some(state.str("actionsSuppressedReason")?.to_string()),
    };
    Ok(Some(ActionsSuppressed { by, reason }))
}

/// An SNS event: every record must be an alarm notification from an accepted topic.
fn parse_sns(root: &Obj<'_>, topics: &AcceptedTopics) -> Result<Parsed, EventError> {
    let records = json::sns_records(root, "")?;
    let mut alarms = Vec::new();
    let mut ignored = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let record = as_obj(record, element("Records", i))?;
        let source = record.str("EventSource")?;
        if source != "aws:sns" {
            return Err(EventError::new(
                record.path_of("EventSource"),
                format!("expected \"aws:sns\", got {source:?}"),
            ));
        }
        let sns = record.obj("Sns")?;
        topics.check(&sns)?;
        let message_path = sns.path_of("Message");
        let text = sns.str("Message")?;
        let message: Value = serde_json::from_str(text).map_err(|e| {
            EventError::new(
                &message_path,
                format!("not JSON, so not a CloudWatch alarm notification ({e})"),
            )
        })?;
        let message = as_obj(&message, message_path.clone())?;
        if message.map.contains_key("source") {
            // An EventBridge rule that targets the topic delivers the whole event.
            match parse_cloudwatch(&message, Some(Via::Sns))? {
                Parsed::Alarms(found) => alarms.extend(found),
                Parsed::Ignored { why } => ignored.push(format!("{}: {why}", message.path)),
            }
            continue;
        }
        if !message.map.contains_key("AlarmName") && !message.map.contains_key("NewStateValue") {
            return Err(EventError::new(
                message_path,
                "not a CloudWatch alarm notification (no AlarmName or NewStateValue)",
            ));
        }
        alarms.push(sns_notification(&message)?);
    }
    if alarms.is_empty() {
        Ok(Parsed::Ignored {
            why: ignored.join("; "),
        })
    } else {
        Ok(Parsed::Alarms(alarms))
    }
}

/// The classic alarm notification CloudWatch publishes to SNS.
fn sns_notification(message: &Obj<'_>) -> Result<AlarmDelivery, EventError> {
    let name = message.non_empty_str("AlarmName")?;
    let arn = alarm_arn(message, "AlarmArn")?;
    let state = alarm_state(message, "NewStateValue")?;
    let previous = opt_alarm_state(message, "OldStateValue")?;
    let changed = json::time(message, "StateChangeTime")?;
    let value = message
        .get("NewStateReason")
        .and_then(Value::as_str)
        .and_then(datapoint::from_state_reason);
    let signal = AlarmSignal {
        name: name.to_string(),
        state,
        previous,
        value,
        suppressed: None,
    };
    Ok(delivery(signal, arn, changed, Via::Sns))
}

/// The delivery for `signal`, keyed by the ARN and the state timestamp as AWS wrote it.
fn delivery(
    signal: AlarmSignal,
    arn: &str,
    (changed_at, raw_time): (DateTime<Utc>, &str),
    via: Via,
) -> AlarmDelivery {
    AlarmDelivery {
        signal,
        alarm_arn: arn.to_string(),
        changed_at,
        key: format!("alarm:{arn}:{raw_time}"),
        via,
    }
}

fn alarm_state(obj: &Obj<'_>, key: &str) -> Result<AlarmState, EventError> {
    let text = obj.str(key)?;
    match text {
        "OK" => Ok(AlarmState::Ok),
        "ALARM" => Ok(AlarmState::Alarm),
        "INSUFFICIENT_DATA" => Ok(AlarmState::InsufficientData),
        other => Err(EventError::new(
            obj.path_of(key),
            format!("expected one of OK, ALARM, INSUFFICIENT_DATA, got {other:?}"),
        )),
    }
}

fn opt_alarm_state(obj: &Obj<'_>, key: &str) -> Result<Option<AlarmState>, EventError> {
    match obj.get(key) {
        None => Ok(None),
        Some(_) => alarm_state(obj, key).map(Some),
    }
}
