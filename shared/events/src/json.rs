//! Walking a `serde_json::Value` while keeping the path to the current node, so every error
//! names the field it is about (`Records[1].Sns.Message.NewStateValue`).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::EventError;

/// A JSON object together with its path in the payload.
#[derive(Clone)]
pub(crate) struct Obj<'a> {
    pub(crate) map: &'a Map<String, Value>,
    pub(crate) path: String,
}

/// The path of `key` inside the object at `parent` (`""` is the payload itself).
pub(crate) fn child(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// The path of element `index` of the array at `parent`.
pub(crate) fn element(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// How a JSON value is described in an error ("a string", "null", ...).
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `value` as an object, or an error at `path`.
pub(crate) fn as_obj(value: &Value, path: String) -> Result<Obj<'_>, EventError> {
    match value {
        Value::Object(map) => Ok(Obj { map, path }),
        other => Err(EventError::new(
            path,
            format!("expected an object, got {}", kind(other)),
        )),
    }
}

impl<'a> Obj<'a> {
    /// The value at `key`; `None` when absent or `null` (AWS sends both for "no value").
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// The error for a required field that is absent or `null`.
    pub(crate) fn missing(&self, key: &str) -> EventError {
        let message = match self.map.get(key) {
            Some(Value::Null) => "missing (null)",
            _ => "missing",
        };
        EventError::new(self.path_of(key), message)
    }

    /// A required string field.
    pub(crate) fn str(&self, key: &str) -> Result<&'a str, EventError> {
        match self.get(key) {
            None => Err(self.missing(key)),
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(EventError::new(
                self.path_of(key),
                format!("expected a string, got {}", kind(other)),
            )),
        }
    }

    /// A required string field that must not be empty (names, ARNs).
    pub(crate) fn non_empty_str(&self, key: &str) -> Result<&'a str, EventError> {
        let s = self.str(key)?;
        if s.trim().is_empty() {
            return Err(EventError::new(self.path_of(key), "empty"));
        }
        Ok(s)
    }

    /// The path of `key` inside this object.
    pub(crate) fn path_of(&self, key: &str) -> String {
        child(&self.path, key)
    }

    /// A required object field.
    pub(crate) fn obj(&self, key: &str) -> Result<Obj<'a>, EventError> {
        match self.get(key) {
            None => Err(self.missing(key)),
            Some(value) => as_obj(value, self.path_of(key)),
        }
    }

    /// An optional object field: absent or `null` is `None`, another type is an error.
    pub(crate) fn opt_obj(&self, key: &str) -> Result<Option<Obj<'a>>, EventError> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => as_obj(value, self.path_of(key)).map(Some),
        }
    }
}

/// The `Records` of an SNS delivery: a non-empty array. A missing `Records` gets `hint` after
/// the error (what the caller expected instead).
pub(crate) fn sns_records<'a>(root: &Obj<'a>, hint: &str) -> Result<&'a [Value], EventError> {
    match root.get("Records") {
        None => {
            let mut error = root.missing("Records");
            if !hint.is_empty() {
                error.message = format!("{}: {hint}", error.message);
            }
            Err(error)
        }
        Some(Value::Array(records)) if records.is_empty() => Err(EventError::new(
            "Records",
            "empty: expected at least one SNS record",
        )),
        Some(Value::Array(records)) => Ok(records),
        Some(other) => Err(EventError::new(
            "Records",
            format!("expected an array of SNS records, got {}", kind(other)),
        )),
    }
}

/// Parses a CloudWatch timestamp. AWS writes `2026-11-23T17:45:02.551+0000` (offset without a
/// colon) in alarm payloads; RFC 3339 forms (`+00:00`, `Z`) are accepted too.
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A required timestamp field: the parsed time and the text exactly as AWS wrote it.
pub(crate) fn time<'a>(obj: &Obj<'a>, key: &str) -> Result<(DateTime<Utc>, &'a str), EventError> {
    let raw = obj.str(key)?;
    match parse_time(raw) {
        Some(t) => Ok((t, raw)),
        None => Err(EventError::new(
            obj.path_of(key),
            format!("expected a timestamp like 2026-11-23T17:45:02.551+0000, got {raw:?}"),
        )),
    }
}
