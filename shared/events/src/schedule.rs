//! Payloads that invoke the schedule handler: EventBridge scheduled-rule events, and the input
//! object an EventBridge Scheduler schedule (or a rule's constant input, or an operator's
//! `aws lambda invoke`) delivers without an envelope.

use std::fmt;

use capstan_policy::engine::claims_identity;
use capstan_policy::model::Event;
use capstan_policy::signal::{EventRequest, EventSignal, Signal, TickSignal, TimedSignal};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::json::{self, child, element, kind, Obj};
use crate::EventError;

/// The EventBridge `source` of scheduled-rule events.
pub const SCHEDULE_SOURCE: &str = "aws.events";
/// The EventBridge `detail-type` of scheduled-rule events.
pub const SCHEDULED_EVENT_DETAIL_TYPE: &str = "Scheduled Event";

/// `by` when an add-event or cancel-event input does not say who asked.
pub const DEFAULT_REQUESTER: &str = "invoke";

const ACTIONS: &str = "tick, apply, add-event or cancel-event";

/// How far ahead of the handler's clock a request's time may be: the clock skew allowed
/// between whoever stamped the request (EventBridge Scheduler, an EventBridge rule, an
/// operator's machine) and the function's clock. Five minutes is generous for AWS's
/// NTP-synchronised clocks and far short of the next tick of the day.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);

/// The tick schedule's own delivery retries: `RetryPolicy.MaximumEventAgeInSeconds` of the
/// `Tick` schedule of `ScheduleHandlerFunction` in `infra/template.yaml` (60 s).
pub const SCHEDULER_MAX_EVENT_AGE: Duration = Duration::seconds(60);

/// Lambda's asynchronous retries of a failed invocation: `EventInvokeConfig.MaximumEventAgeInSeconds`
/// of `ScheduleHandlerFunction` in `infra/template.yaml` (240 s).
pub const INVOKE_MAX_EVENT_AGE: Duration = Duration::seconds(240);

/// The oldest a request's time may be when the handler reads it: the Scheduler's retry window
/// ([`SCHEDULER_MAX_EVENT_AGE`]) followed by Lambda's ([`INVOKE_MAX_EVENT_AGE`]), 5 minutes in
/// all. Anything older is not a retry AWS would deliver; it is refused. Keep it in step with
/// the template.
pub const MAX_REQUEST_AGE: Duration =
    Duration::seconds(SCHEDULER_MAX_EVENT_AGE.num_seconds() + INVOKE_MAX_EVENT_AGE.num_seconds());

/// What the schedule handler was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRequest {
    /// The request.
    pub kind: ScheduleKind,
    /// The moment the request is for: the envelope's `time` or the input's `scheduled_time`.
    /// `None` when the payload names no time; the handler then uses its clock.
    pub at: Option<DateTime<Utc>>,
    /// Idempotency key; the same payload always gives the same key:
    ///
    /// - tick: `tick:<at in RFC 3339, UTC>`, or `tick:now` without a time;
    /// - apply: `apply:<schedule>:<at in RFC 3339, UTC>`, or `apply:<schedule>:now`;
    /// - add-event: `event-add:<name>:<16 hex digits of the SHA-256 of the event's canonical
    ///   JSON>` (the same event added twice has one key; a changed event has another);
    /// - cancel-event: `event-cancel:<name>`.
    ///
    /// A key ending in `:now` is the same for every request without a time; the handler decides
    /// such requests at its clock and should not treat them as duplicates of each other.
    pub key: String,
    /// How the request arrived.
    pub via: ScheduleVia,
}

impl ScheduleRequest {
    /// The signal for the policy engine: a tick (for an apply request, naming the schedule),
    /// or an [`EventSignal`] adding or cancelling a run-time event.
    pub fn signal(&self) -> Signal {
        match &self.kind {
            ScheduleKind::Tick => Signal::Tick(TickSignal { schedule: None }),
            ScheduleKind::Apply { schedule } => Signal::Tick(TickSignal {
                schedule: Some(schedule.clone()),
            }),
            ScheduleKind::AddEvent { name, event, by } => Signal::Event(EventSignal {
                by: by.clone(),
                request: EventRequest::Add {
                    name: name.clone(),
                    event: event.clone(),
                },
            }),
            ScheduleKind::CancelEvent { name, by } => Signal::Event(EventSignal {
                by: by.clone(),
                request: EventRequest::Cancel { name: name.clone() },
            }),
        }
    }

    /// [`signal`](ScheduleRequest::signal) timed at [`at`](ScheduleRequest::at), or at `now`
    /// when the payload named no time.
    pub fn timed_signal(&self, now: DateTime<Utc>) -> TimedSignal {
        TimedSignal {
            at: self.at.unwrap_or(now),
            signal: self.signal(),
        }
    }
}

/// How a schedule request reached Capstan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScheduleVia {
    /// An EventBridge scheduled rule delivering its event envelope ("Scheduled Event").
    EventBridgeRule,
    /// An input object without an envelope: an EventBridge Scheduler input, a rule's constant
    /// input, or a direct invocation.
    Input,
}

impl fmt::Display for ScheduleVia {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScheduleVia::EventBridgeRule => "eventbridge-rule",
            ScheduleVia::Input => "input",
        })
    }
}

/// The request itself.
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleKind {
    /// A periodic tick: compute what should hold and correct drift.
    Tick,
    /// Apply a named occurrence schedule now, whatever its cron says.
    Apply {
        /// The schedule's name in the policy.
        schedule: String,
    },
    /// Add (or replace) a run-time pre-event.
    AddEvent {
        /// The event's name.
        name: String,
        /// The event, as it would be written under `[events.NAME]` in the policy.
        event: Event,
        /// Who asked (`invoke` when the input does not say).
        by: String,
    },
    /// Cancel a run-time pre-event.
    CancelEvent {
        /// The event's name.
        name: String,
        /// Who asked (`invoke` when the input does not say).
        by: String,
    },
}

/// Reads the payload that invoked the schedule handler.
///
/// Accepted shapes:
///
/// - the EventBridge scheduled-rule envelope (`source` = `aws.events`, `detail-type` =
///   `Scheduled Event`): a [`ScheduleKind::Tick`] at its `time`;
/// - an input object without an envelope ([`ScheduleVia::Input`]):
///   - `{"action": "tick", "scheduled_time"?: "2026-11-23T08:00:00Z"}`
///   - `{"action": "apply", "schedule": "night", "scheduled_time"?: ...}`
///   - `{"action": "add-event", "name": "launch", "by"?: "who", "event": {...}}`, the event as
///     under `[events.NAME]` in the policy file (`start`, `end`, `lead`, `targets`, ...)
///   - `{"action": "cancel-event", "name": "launch", "by"?: "who"}`
///
/// `by` defaults to [`DEFAULT_REQUESTER`]; it names the requester in the audit trail and is
/// never an identity: one that looks like a user grants can name (`cli:ana`, a Slack user id
/// `U012ABCDEF`) is an error naming `by`, so that no invoker can borrow a granted user's
/// authority (an event with `exceed_ceiling` needs one). Anything else is an [`EventError`] naming the field:
/// another envelope (`source`, `detail-type`), an unknown `action` or field, an empty name, a
/// bad time (`scheduled_time`), a bad event (`event.targets.api.floor`), an SNS delivery, a
/// JSON that is not an object. A payload is never taken for a tick by default.
///
/// The event's own consistency is checked (end after start, at least one target, each target
/// raising a floor or ceiling, `release_step` not 0); whether its targets exist is for the
/// handler, which has the policy.
///
/// The request's time (`time`, `scheduled_time`) is not trusted: anyone who may invoke the
/// function chooses it, and a tick stamped in 2099 would make every real tick after it look
/// stale. `now` is the handler's clock; a time more than [`MAX_CLOCK_SKEW`] after it, or more
/// than [`MAX_REQUEST_AGE`] (the retry window of the template's schedule) before it, is an
/// error naming the field, e.g. `scheduled_time: 2099-01-01T00:00:00Z is 72 years in the
/// future (...); more than 5m of clock skew, ...`. Both limits themselves are accepted. A
/// request without a time is for `now` and has nothing to check.
///
/// ```
/// use capstan_events::{parse_schedule_event, ScheduleKind, ScheduleVia};
/// use chrono::{TimeZone, Utc};
///
/// let now = Utc.with_ymd_and_hms(2026, 11, 23, 8, 6, 0).unwrap();
/// let input = serde_json::json!({"action": "tick", "scheduled_time": "2026-11-23T08:05:00Z"});
/// let request = parse_schedule_event(&input, now)?;
/// assert_eq!(request.kind, ScheduleKind::Tick);
/// assert_eq!(request.via, ScheduleVia::Input);
/// assert_eq!(request.key, "tick:2026-11-23T08:05:00Z");
///
/// let add = serde_json::json!({
///     "action": "add-event",
///     "name": "launch",
///     "by": "alice",
///     "event": {
///         "start": "2026-12-01T09:00:00Z",
///         "end": "2026-12-01T18:00:00Z",
///         "lead": "2h",
///         "targets": {"api": {"floor": "+2", "ceiling": "25"}}
///     }
/// });
/// let ScheduleKind::AddEvent { name, event, by } = parse_schedule_event(&add, now)?.kind else {
///     panic!("an add-event request");
/// };
/// assert_eq!((name.as_str(), by.as_str()), ("launch", "alice"));
/// assert_eq!(event.targets["api"].floor.map(|f| f.to_string()), Some("+2".to_string()));
///
/// let bad = serde_json::json!({"action": "tick", "scheduled_time": "tomorrow"});
/// assert_eq!(parse_schedule_event(&bad, now).unwrap_err().path, "scheduled_time");
///
/// let future = serde_json::json!({"action": "tick", "scheduled_time": "2099-01-01T00:00:00Z"});
/// let error = parse_schedule_event(&future, now).unwrap_err();
/// assert_eq!(error.path, "scheduled_time");
/// assert!(error.message.starts_with("2099-01-01T00:00:00Z is 72 years in the future"));
/// # Ok::<(), capstan_events::EventError>(())
/// ```
pub fn parse_schedule_event(
    payload: &Value,
    now: DateTime<Utc>,
) -> Result<ScheduleRequest, EventError> {
    let (request, field) = read(payload)?;
    if let (Some(at), Some(field)) = (request.at, field) {
        check_time(field, at, now)?;
    }
    Ok(request)
}

/// Reads a payload as [`parse_schedule_event`] does, taking the moment the payload carries as
/// "now", so that its time is never refused: for replaying what AWS delivered (`capstan
/// simulate` without a replay time), never for a function, where anyone who may invoke it
/// chooses the time.
pub fn parse_schedule_replay(payload: &Value) -> Result<ScheduleRequest, EventError> {
    read(payload).map(|(request, _)| request)
}

/// Refuses a request time further ahead of `now` than [`MAX_CLOCK_SKEW`] or older than
/// [`MAX_REQUEST_AGE`]; both limits themselves are accepted.
fn check_time(field: &str, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), EventError> {
    let written = at.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    let clock = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let ahead = at.signed_duration_since(now);
    if ahead > MAX_CLOCK_SKEW {
        return Err(EventError::new(
            field,
            format!(
                "{written} is {} in the future (the clock says {clock}); more than {} of clock \
                 skew, so it is refused and nothing is written",
                span(ahead),
                span(MAX_CLOCK_SKEW)
            ),
        ));
    }
    let age = now.signed_duration_since(at);
    if age > MAX_REQUEST_AGE {
        return Err(EventError::new(
            field,
            format!(
                "{written} is {} old (the clock says {clock}); AWS retries a schedule request \
                 for at most {} (EventBridge Scheduler {}, then Lambda {}), so it is refused and \
                 nothing is written",
                span(age),
                span(MAX_REQUEST_AGE),
                span(SCHEDULER_MAX_EVENT_AGE),
                span(INVOKE_MAX_EVENT_AGE)
            ),
        ));
    }
    Ok(())
}

/// A length in its largest whole unit: `73 years`, `2 days`, `9m`, `30s`, `1m 30s`.
fn span(d: Duration) -> String {
    const DAY: i64 = 24 * 60 * 60;
    let secs = d.num_seconds();
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if secs >= 365 * DAY {
        plural(secs / (365 * DAY), "year")
    } else if secs >= DAY {
        plural(secs / DAY, "day")
    } else if secs >= 3600 {
        let (h, m) = (secs / 3600, secs % 3600 / 60);
        if m == 0 {
            format!("{h}h")
        } else {
            format!("{h}h {m}m")
        }
    } else if secs >= 60 {
        let (m, s) = (secs / 60, secs % 60);
        if s == 0 {
            format!("{m}m")
        } else {
            format!("{m}m {s}s")
        }
    } else {
        format!("{secs}s")
    }
}

/// The request, and the field its time came from (`time`, `scheduled_time`), if any.
fn read(payload: &Value) -> Result<(ScheduleRequest, Option<&'static str>), EventError> {
    let Value::Object(map) = payload else {
        return Err(EventError::new(
            "",
            format!(
                "not a schedule request: expected an EventBridge \"Scheduled Event\" or an input \
                 object with `action`, got {}",
                kind(payload)
            ),
        ));
    };
    let root = Obj {
        map,
        path: String::new(),
    };
    if map.contains_key("action") {
        return input(&root).map(|r| (r, Some("scheduled_time")));
    }
    if map.contains_key("source") || map.contains_key("detail-type") {
        return envelope(&root).map(|r| (r, Some("time")));
    }
    if map.contains_key("Records") {
        return Err(EventError::new(
            "Records",
            "an SNS delivery is not a schedule request: expected an EventBridge \
             \"Scheduled Event\" or an input object with `action`",
        ));
    }
    Err(EventError::new(
        "action",
        format!(
            "missing: not a schedule request; expected an EventBridge \"Scheduled Event\" or an \
             input object with `action` ({ACTIONS})"
        ),
    ))
}

/// The EventBridge scheduled-rule envelope.
fn envelope(event: &Obj<'_>) -> Result<ScheduleRequest, EventError> {
    let source = event.str("source")?;
    if source != SCHEDULE_SOURCE {
        return Err(EventError::new(
            event.path_of("source"),
            format!(
                "not a schedule event: expected {SCHEDULE_SOURCE:?} (an EventBridge scheduled \
                 rule), got {source:?}"
            ),
        ));
    }
    let detail_type = event.str("detail-type")?;
    if detail_type != SCHEDULED_EVENT_DETAIL_TYPE {
        return Err(EventError::new(
            event.path_of("detail-type"),
            format!("not a schedule event: expected {SCHEDULED_EVENT_DETAIL_TYPE:?}, got {detail_type:?}"),
        ));
    }
    let (at, _) = json::time(event, "time")?;
    Ok(ScheduleRequest {
        kind: ScheduleKind::Tick,
        at: Some(at),
        key: format!("tick:{}", moment(Some(at))),
        via: ScheduleVia::EventBridgeRule,
    })
}

/// An input object with `action`.
fn input(obj: &Obj<'_>) -> Result<ScheduleRequest, EventError> {
    let action = obj.str("action")?;
    let allowed: &[&str] = match action {
        "tick" => &["action", "scheduled_time"],
        "apply" => &["action", "schedule", "scheduled_time"],
        "add-event" => &["action", "name", "by", "event"],
        "cancel-event" => &["action", "name", "by"],
        other => {
            return Err(EventError::new(
                obj.path_of("action"),
                format!("unknown action {other:?}: expected {ACTIONS}"),
            ))
        }
    };
    if let Some(unknown) = obj.map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(EventError::new(
            obj.path_of(unknown),
            format!(
                "unknown field for action {action:?}; expected {}",
                allowed.join(", ")
            ),
        ));
    }
    let request = |kind, at, key| ScheduleRequest {
        kind,
        at,
        key,
        via: ScheduleVia::Input,
    };
    match action {
        "tick" => {
            let at = scheduled_time(obj)?;
            Ok(request(
                ScheduleKind::Tick,
                at,
                format!("tick:{}", moment(at)),
            ))
        }
        "apply" => {
            let schedule = name(obj, "schedule")?;
            let at = scheduled_time(obj)?;
            let key = format!("apply:{schedule}:{}", moment(at));
            Ok(request(ScheduleKind::Apply { schedule }, at, key))
        }
        "add-event" => {
            let name = name(obj, "name")?;
            let by = requester(obj)?;
            let event = event(obj)?;
            let key = format!("event-add:{name}:{}", event_hash(&event));
            Ok(request(
                ScheduleKind::AddEvent { name, event, by },
                None,
                key,
            ))
        }
        _ => {
            let name = name(obj, "name")?;
            let by = requester(obj)?;
            let key = format!("event-cancel:{name}");
            Ok(request(ScheduleKind::CancelEvent { name, by }, None, key))
        }
    }
}

/// The moment as written in keys: RFC 3339 in UTC, or `now` when unknown.
fn moment(at: Option<DateTime<Utc>>) -> String {
    match at {
        Some(at) => at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        None => "now".to_string(),
    }
}

fn scheduled_time(obj: &Obj<'_>) -> Result<Option<DateTime<Utc>>, EventError> {
    match obj.get("scheduled_time") {
        None => Ok(None),
        Some(_) => json::time(obj, "scheduled_time").map(|(at, _)| Some(at)),
    }
}

/// A required name: not empty, no surrounding whitespace (it would never match the policy).
fn name(obj: &Obj<'_>, key: &str) -> Result<String, EventError> {
    let value = obj.non_empty_str(key)?;
    if value.trim() != value {
        return Err(EventError::new(
            obj.path_of(key),
            format!("{value:?} has leading or trailing whitespace"),
        ));
    }
    Ok(value.to_string())
}

/// `by`: a name for the audit trail, never an identity. Whoever may invoke the function
/// writes it, so a name the engine would grant something to (a `cli:<name>` user, a Slack user
/// id) is refused rather than believed.
fn requester(obj: &Obj<'_>) -> Result<String, EventError> {
    let by = match obj.get("by") {
        None => return Ok(DEFAULT_REQUESTER.to_string()),
        Some(_) => name(obj, "by")?,
    };
    if claims_identity(&by) {
        return Err(EventError::new(
            obj.path_of("by"),
            format!(
                "{by:?} would be taken for a user the policy's grants (or the capstan CLI's AWS \
                 credentials) authorize, and a request to the function cannot prove who sent it; \
                 `by` only names the requester in the audit trail: write a plain name such as \
                 \"alice\""
            ),
        ));
    }
    Ok(by)
}

/// The `event` object as a policy [`Event`], with the path of any bad field.
fn event(obj: &Obj<'_>) -> Result<Event, EventError> {
    let base = obj.path_of("event");
    let value = match obj.get("event") {
        None => return Err(obj.missing("event")),
        Some(value @ Value::Object(_)) => value,
        Some(other) => {
            return Err(EventError::new(
                base,
                format!(
                    "expected the event as an object (start, end, targets, ...), got {}",
                    kind(other)
                ),
            ))
        }
    };
    // The policy's `Timestamp` reads strings or TOML datetimes (an untagged enum), so serde
    // would say only "data did not match any variant" for a number here.
    for key in ["start", "end"] {
        match value.get(key) {
            None | Some(Value::String(_)) => {}
            Some(other) => {
                return Err(EventError::new(
                    child(&base, key),
                    format!(
                        "expected an RFC 3339 time as a string, e.g. \"2026-12-01T09:00:00Z\", \
                         got {}",
                        kind(other)
                    ),
                ))
            }
        }
    }
    let event: Event = serde_path_to_error::deserialize(value).map_err(|e| {
        let mut path = base.clone();
        for segment in e.path() {
            path = match segment {
                serde_path_to_error::Segment::Map { key } => child(&path, key),
                serde_path_to_error::Segment::Seq { index } => element(&path, *index),
                serde_path_to_error::Segment::Enum { variant } => child(&path, variant),
                serde_path_to_error::Segment::Unknown => child(&path, "?"),
            };
        }
        EventError::new(path, e.into_inner().to_string())
    })?;
    check_event(&event, &base)?;
    Ok(event)
}

/// The checks on an event that need no policy.
fn check_event(event: &Event, base: &str) -> Result<(), EventError> {
    if event.end.0 <= event.start.0 {
        return Err(EventError::new(
            child(base, "end"),
            format!("{} is not after the start ({})", event.end, event.start),
        ));
    }
    if event.release_step == Some(0) {
        return Err(EventError::new(
            child(base, "release_step"),
            "0: the uplifted floor would never come down; set at least 1 or leave it out",
        ));
    }
    let targets = child(base, "targets");
    if event.targets.is_empty() {
        return Err(EventError::new(
            targets,
            "names no targets; write e.g. {\"api\": {\"floor\": \"+2\"}}",
        ));
    }
    for (name, uplift) in &event.targets {
        if uplift.floor.is_none() && uplift.ceiling.is_none() {
            return Err(EventError::new(
                child(&targets, name),
                "raises neither `floor` nor `ceiling`",
            ));
        }
    }
    Ok(())
}

/// 16 hex digits of the SHA-256 of the event's canonical JSON (the policy's own serialisation:
/// fields in declaration order, targets sorted, values in their normal form).
fn event_hash(event: &Event) -> String {
    let canonical = serde_json::to_vec(event).expect("a policy event serialises to JSON");
    Sha256::digest(&canonical)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn parse(payload: Value) -> ScheduleRequest {
        parse_schedule_replay(&payload).unwrap_or_else(|e| panic!("{payload}: {e}"))
    }

    fn error(payload: Value) -> EventError {
        match parse_schedule_replay(&payload) {
            Err(e) => e,
            Ok(request) => panic!("expected an error for {payload}, got {request:?}"),
        }
    }

    fn launch() -> Value {
        json!({
            "start": "2026-12-01T09:00:00Z",
            "end": "2026-12-01T18:00:00+01:00",
            "lead": "2h",
            "targets": {"api": {"floor": "+2", "ceiling": "25"}, "worker": {"floor": "+50%"}}
        })
    }

    #[test]
    fn envelope_is_a_tick_at_its_time() {
        let request = parse(json!({
            "source": "aws.events",
            "detail-type": "Scheduled Event",
            "time": "2026-11-23T08:00:00Z",
            "detail": {}
        }));
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap();
        assert_eq!(request.kind, ScheduleKind::Tick);
        assert_eq!(request.at, Some(at));
        assert_eq!(request.via, ScheduleVia::EventBridgeRule);
        assert_eq!(request.key, "tick:2026-11-23T08:00:00Z");
    }

    #[test]
    fn keys_normalise_the_time_to_utc() {
        let a = parse(json!({"action": "tick", "scheduled_time": "2026-11-23T09:00:00+01:00"}));
        let b = parse(json!({"action": "tick", "scheduled_time": "2026-11-23T08:00:00.000+0000"}));
        assert_eq!(a.key, "tick:2026-11-23T08:00:00Z");
        assert_eq!(a.key, b.key);
        let millis = parse(json!({"action": "tick", "scheduled_time": "2026-11-23T08:00:00.25Z"}));
        assert_eq!(millis.key, "tick:2026-11-23T08:00:00.250Z");
    }

    #[test]
    fn a_tick_without_time_is_for_now() {
        let request = parse(json!({"action": "tick"}));
        assert_eq!(request.at, None);
        assert_eq!(request.key, "tick:now");
        let now = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let signal = request.timed_signal(now);
        assert_eq!(signal.at, now);
        assert_eq!(signal.signal, Signal::Tick(TickSignal { schedule: None }));
        let null_time = parse(json!({"action": "tick", "scheduled_time": null}));
        assert_eq!(null_time.at, None);
    }

    #[test]
    fn apply_names_the_schedule() {
        let request = parse(json!({
            "action": "apply", "schedule": "night", "scheduled_time": "2026-11-23T02:00:00Z"
        }));
        assert_eq!(
            request.kind,
            ScheduleKind::Apply {
                schedule: "night".into()
            }
        );
        assert_eq!(request.key, "apply:night:2026-11-23T02:00:00Z");
        let signal = request.timed_signal(Utc::now());
        assert_eq!(
            signal.at,
            Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap()
        );
        assert_eq!(
            signal.signal,
            Signal::Tick(TickSignal {
                schedule: Some("night".into())
            })
        );
        assert_eq!(
            parse(json!({"action": "apply", "schedule": "night"})).key,
            "apply:night:now"
        );
    }

    #[test]
    fn add_event_defaults_by_and_hashes_the_event() {
        let request = parse(json!({"action": "add-event", "name": "launch", "event": launch()}));
        let ScheduleKind::AddEvent { name, event, by } = &request.kind else {
            panic!("{request:?}")
        };
        assert_eq!((name.as_str(), by.as_str()), ("launch", DEFAULT_REQUESTER));
        assert_eq!(
            event.end.0,
            Utc.with_ymd_and_hms(2026, 12, 1, 17, 0, 0).unwrap()
        );
        assert!(event.hold_scale_in, "the policy's default applies");
        assert_eq!(request.at, None);
        assert!(matches!(
            request.timed_signal(Utc::now()).signal,
            Signal::Event(EventSignal {
                request: EventRequest::Add { .. },
                ..
            })
        ));
        let hash = request.key.strip_prefix("event-add:launch:").unwrap();
        assert_eq!(hash.len(), 16);
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn the_event_hash_ignores_spelling_and_requester_but_not_content() {
        let key = |by: &str, event: Value| {
            parse(json!({"action": "add-event", "name": "launch", "by": by, "event": event})).key
        };
        let base = key("alice", launch());
        // The same event written differently: another offset, `120m`, targets in another order.
        let respelled = json!({
            "targets": {"worker": {"floor": "+50%"}, "api": {"ceiling": 25, "floor": "+2"}},
            "lead": "120m",
            "end": "2026-12-01T17:00:00Z",
            "start": "2026-12-01T10:00:00+01:00"
        });
        assert_eq!(key("bob", respelled), base);
        let mut later = launch();
        later["end"] = json!("2026-12-01T19:00:00+01:00");
        assert_ne!(key("alice", later), base);
    }

    #[test]
    fn cancel_event() {
        let request = parse(json!({"action": "cancel-event", "name": "launch", "by": "alice"}));
        assert_eq!(
            request.kind,
            ScheduleKind::CancelEvent {
                name: "launch".into(),
                by: "alice".into()
            }
        );
        assert_eq!(request.key, "event-cancel:launch");
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                json!({"action": "tick", "scheduled_time": "tomorrow"}),
                "scheduled_time",
            ),
            (
                json!({"action": "tick", "scheduled_time": 1795442400}),
                "scheduled_time",
            ),
            (json!({"action": "tick", "schedule": "night"}), "schedule"),
            (json!({"action": "jump"}), "action"),
            (json!({"action": 3}), "action"),
            (json!({"action": "apply"}), "schedule"),
            (json!({"action": "apply", "schedule": ""}), "schedule"),
            (json!({"action": "apply", "schedule": " night"}), "schedule"),
            (json!({"action": "cancel-event"}), "name"),
            (
                json!({"action": "cancel-event", "name": "x", "by": ""}),
                "by",
            ),
            (
                json!({"action": "cancel-event", "name": "x", "by": "cli:ana"}),
                "by",
            ),
            (
                json!({"action": "add-event", "name": "x", "by": "U2147483697", "event": launch()}),
                "by",
            ),
            (json!({"action": "add-event", "name": "x"}), "event"),
            (
                json!({"action": "add-event", "name": "x", "event": "soon"}),
                "event",
            ),
            (
                json!({"source": "aws.cloudwatch", "detail-type": "Scheduled Event"}),
                "source",
            ),
            (
                json!({"source": "aws.events", "detail-type": "Object Created"}),
                "detail-type",
            ),
            (
                json!({"source": "aws.events", "detail-type": "Scheduled Event"}),
                "time",
            ),
            (
                json!({"detail-type": "Scheduled Event", "time": "2026-11-23T08:00:00Z"}),
                "source",
            ),
            (json!({"Records": []}), "Records"),
            (json!({}), "action"),
            (json!([]), ""),
            (json!("tick"), ""),
        ];
        for (payload, path) in cases {
            assert_eq!(error(payload.clone()).path, path, "{payload}");
        }
    }

    fn with_value(key: &str, value: Value) -> EventError {
        let mut event = launch();
        event[key] = value;
        error(json!({"action": "add-event", "name": "launch", "event": event}))
    }

    #[test]
    fn bad_events_name_the_path_inside_the_event() {
        let with = |edit: fn(&mut Value)| {
            let mut event = launch();
            edit(&mut event);
            error(json!({"action": "add-event", "name": "launch", "event": event}))
        };
        let e = with(|e| e["targets"]["api"]["floor"] = json!("lots"));
        assert_eq!(e.path, "event.targets.api.floor");
        assert!(e.message.contains("`lots` is not an amount"), "{e}");
        let e = with(|e| e["start"] = json!("next tuesday"));
        assert_eq!(e.path, "event.start");
        assert!(e.message.contains("RFC 3339"), "{e}");
        assert_eq!(with(|e| e["lead"] = json!("soon")).path, "event.lead");
        for bad in [
            json!(1795442400),
            json!(null),
            json!({"date": "2026-12-01"}),
        ] {
            let e = with_value("end", bad.clone());
            assert_eq!(e.path, "event.end", "{bad}");
            assert!(e.message.contains("RFC 3339"), "{bad}: {e}");
        }
        let e = with(|e| e["targets"]["api"]["flor"] = json!("+2"));
        assert_eq!(e.path, "event.targets.api.flor");
        assert!(e.message.contains("unknown field"), "{e}");
        assert_eq!(
            with(|e| e["end"] = json!("2026-12-01T08:00:00Z")).path,
            "event.end"
        );
        assert_eq!(
            with(|e| e["release_step"] = json!(0)).path,
            "event.release_step"
        );
        assert_eq!(with(|e| e["targets"] = json!({})).path, "event.targets");
        assert_eq!(
            with(|e| e["targets"]["api"] = json!({})).path,
            "event.targets.api"
        );
        assert_eq!(
            with(|e| {
                e.as_object_mut().unwrap().remove("end");
            })
            .path,
            "event"
        );
    }

    #[test]
    fn the_same_payload_gives_the_same_key() {
        for payload in [
            json!({"action": "tick", "scheduled_time": "2026-11-23T08:05:00Z"}),
            json!({"action": "apply", "schedule": "night"}),
            json!({"action": "add-event", "name": "launch", "event": launch()}),
            json!({"action": "cancel-event", "name": "launch"}),
        ] {
            let reparsed: Value = serde_json::from_str(&payload.to_string()).unwrap();
            assert_eq!(parse(payload.clone()).key, parse(reparsed).key);
        }
    }
}
