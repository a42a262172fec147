//! Signals: what happened, in Capstan's words. The functions translate AWS and Slack payloads
//! into these; the policy's own tests and `capstan simulate` timelines write them directly.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{AlarmState, AlertType, Event};

/// Something that asks the engine for a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Signal {
    /// A CloudWatch alarm changed state.
    Alarm(AlarmSignal),
    /// A schedule tick: compute what should hold now and correct drift.
    Tick(TickSignal),
    /// An AWS Budgets alert.
    Budget(BudgetSignal),
    /// A command from an operator (Slack or CLI).
    Command(CommandSignal),
    /// Add or cancel a pre-event at run time.
    Event(EventSignal),
}

impl Signal {
    /// A one-line summary, for logs and reports.
    pub fn summary(&self) -> String {
        match self {
            Signal::Alarm(a) => match a.value {
                Some(v) => format!("alarm {} -> {} (value {v})", a.name, a.state),
                None => format!("alarm {} -> {}", a.name, a.state),
            },
            Signal::Tick(t) => match &t.schedule {
                Some(s) => format!("apply schedule {s}"),
                None => "schedule tick".to_string(),
            },
            Signal::Budget(b) => format!(
                "budget {} {} alert at {}%",
                b.budget, b.alert_type, b.threshold_percent
            ),
            Signal::Command(c) => format!("command `{}` from {}", c.text, c.user),
            Signal::Event(e) => match &e.request {
                EventRequest::Add { name, .. } => format!("add event {name} (by {})", e.by),
                EventRequest::Cancel { name } => format!("cancel event {name} (by {})", e.by),
            },
        }
    }
}

/// A CloudWatch alarm state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmSignal {
    /// The alarm's name.
    pub name: String,
    /// The state it entered.
    pub state: AlarmState,
    /// The state it left, when known.
    #[serde(default)]
    pub previous: Option<AlarmState>,
    /// The latest datapoint of the alarm's metric, when the payload carries one.
    #[serde(default)]
    pub value: Option<f64>,
    /// Set when CloudWatch suppressed the alarm's actions for this change (a composite alarm's
    /// actions suppressor, the mechanism teams use for maintenance windows and deploys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<ActionsSuppressed>,
}

/// CloudWatch held an alarm's actions back: `actionsSuppressedBy` and
/// `actionsSuppressedReason` of the new state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionsSuppressed {
    /// What holds them.
    pub by: Suppressor,
    /// CloudWatch's words, when it gave any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What suppresses a composite alarm's actions (`actionsSuppressedBy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Suppressor {
    /// The suppressor alarm is in `ALARM`.
    Alarm,
    /// The suppressor alarm went into `ALARM` and the composite waits its wait period.
    WaitPeriod,
    /// The suppressor alarm left `ALARM` and the composite waits its extension period.
    ExtensionPeriod,
}

impl Suppressor {
    /// CloudWatch's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Suppressor::Alarm => "Alarm",
            Suppressor::WaitPeriod => "WaitPeriod",
            Suppressor::ExtensionPeriod => "ExtensionPeriod",
        }
    }

    /// CloudWatch's word (`Alarm`, `WaitPeriod`, `ExtensionPeriod`), else `None`.
    pub fn parse(word: &str) -> Option<Suppressor> {
        [
            Suppressor::Alarm,
            Suppressor::WaitPeriod,
            Suppressor::ExtensionPeriod,
        ]
        .into_iter()
        .find(|s| s.as_str() == word)
    }
}

impl std::fmt::Display for ActionsSuppressed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.by {
            Suppressor::Alarm => "its suppressor alarm is in ALARM",
            Suppressor::WaitPeriod => "its suppressor alarm's wait period is running",
            Suppressor::ExtensionPeriod => "its suppressor alarm's extension period is running",
        };
        write!(
            f,
            "CloudWatch suppressed its actions ({}: {what})",
            self.by.as_str()
        )?;
        if let Some(r) = self.reason.as_deref().filter(|r| !r.is_empty()) {
            write!(f, ": {r}")?;
        }
        Ok(())
    }
}

/// A schedule tick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TickSignal {
    /// Apply this named occurrence schedule now, whatever its cron says.
    #[serde(default)]
    pub schedule: Option<String>,
}

/// An AWS Budgets alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetSignal {
    /// The budget's name.
    pub budget: String,
    /// `ACTUAL` or `FORECASTED`.
    #[serde(rename = "type")]
    pub alert_type: AlertType,
    /// The alert's threshold as a percent of the budgeted amount.
    pub threshold_percent: f64,
    /// The budgeted amount, when known.
    #[serde(default)]
    pub budgeted: Option<f64>,
    /// The actual or forecast amount, when known.
    #[serde(default)]
    pub amount: Option<f64>,
    /// When AWS sent the alert, when known: a cap lasts until the end of the budget period
    /// the alert was sent in, so an alert handled after its period ended caps nothing.
    #[serde(default)]
    pub sent_at: Option<DateTime<Utc>>,
}

/// An operator's command, as typed after `/capstan`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSignal {
    /// Slack user id (or `cli:<name>` for the CLI).
    pub user: String,
    /// Slack channel id (empty for the CLI).
    #[serde(default)]
    pub channel: String,
    /// The command text, e.g. `scale api 6` or `pause ai 2h`.
    pub text: String,
    /// True when the operator already confirmed a change that needs confirmation.
    #[serde(default)]
    pub confirmed: bool,
}

/// A request to add or cancel a run-time pre-event (beside the events of the policy file).
///
/// As JSON, exactly one of `add` and `cancel` beside `by`:
/// `{"by": "ops", "add": {"name": "launch", "event": {"start": ..., "end": ..., "targets": {...}}}}`
/// or `{"by": "ops", "cancel": "launch"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "EventSignalFields", into = "EventSignalFields")]
pub struct EventSignal {
    /// Who asks (a user, `cli:<name>`, or the scheduler), for the audit trail.
    pub by: String,
    /// What to do.
    pub request: EventRequest,
}

/// What an [`EventSignal`] asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum EventRequest {
    /// Add the event `name`.
    Add {
        /// The event's name, unique among run-time and policy events.
        name: String,
        /// The event, exactly as in a policy file's `[events.NAME]`.
        event: Event,
    },
    /// Cancel the run-time event `name`.
    Cancel {
        /// The event's name.
        name: String,
    },
}

/// The event to add: `{"name": ..., "event": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddEvent {
    /// The event's name.
    pub name: String,
    /// The event.
    pub event: Event,
}

/// The wire form of an [`EventSignal`]: `by`, and one of `add` or `cancel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSignalFields {
    /// Who asks.
    pub by: String,
    /// The event to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add: Option<AddEvent>,
    /// The name of the event to cancel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<String>,
}

impl TryFrom<EventSignalFields> for EventSignal {
    type Error = String;
    fn try_from(f: EventSignalFields) -> Result<EventSignal, String> {
        let request = match (f.add, f.cancel) {
            (Some(AddEvent { name, event }), None) => EventRequest::Add { name, event },
            (None, Some(name)) => EventRequest::Cancel { name },
            (Some(_), Some(_)) => {
                return Err("an event signal has both `add` and `cancel`; give one".into())
            }
            (None, None) => {
                return Err(
                    "an event signal needs `add = { name, event }` or `cancel = NAME`".into(),
                )
            }
        };
        Ok(EventSignal { by: f.by, request })
    }
}

impl From<EventSignal> for EventSignalFields {
    fn from(e: EventSignal) -> EventSignalFields {
        let (add, cancel) = match e.request {
            EventRequest::Add { name, event } => (Some(AddEvent { name, event }), None),
            EventRequest::Cancel { name } => (None, Some(name)),
        };
        EventSignalFields {
            by: e.by,
            add,
            cancel,
        }
    }
}

impl EventRequest {
    /// The event's name.
    pub fn name(&self) -> &str {
        match self {
            EventRequest::Add { name, .. } | EventRequest::Cancel { name } => name,
        }
    }
}

/// A signal and the moment it is for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimedSignal {
    /// When the signal happened (for ticks: the moment the tick was meant for).
    pub at: DateTime<Utc>,
    /// The signal.
    pub signal: Signal,
}
