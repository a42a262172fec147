//! Finding the alarm's latest datapoint. Never an error: a payload without a readable value is
//! still a valid alarm (composite alarms, INSUFFICIENT_DATA, "treated as [Breaching]").

use chrono::NaiveDateTime;
use serde_json::Value;

/// The latest datapoint in a `reasonData` field (EventBridge and Lambda alarm actions).
///
/// AWS sends `reasonData` as a JSON *string* holding an object whose `recentDatapoints` lists
/// the values oldest first; the last one is the latest. An already-decoded object is accepted
/// too. Anything else (absent, not JSON, no datapoints: composite alarms) gives `None`.
pub(crate) fn from_reason_data(reason_data: Option<&Value>) -> Option<f64> {
    let decoded;
    let data = match reason_data? {
        Value::String(text) => {
            decoded = serde_json::from_str::<Value>(text).ok()?;
            &decoded
        }
        other => other,
    };
    data.get("recentDatapoints")?.as_array()?.last()?.as_f64()
}

/// The latest datapoint quoted in a classic alarm notification's `NewStateReason` (SNS).
///
/// CloudWatch writes `... 3 datapoints [1.42 (23/11/26 17:38:00), 1.31 (23/11/26 17:33:00)]
/// were greater than ...`, newest first; the entry with the latest `(dd/mm/yy HH:MM:SS)` wins.
/// Older notifications wrote `The most recent datapoints: [38.958, 40.292].` without times,
/// oldest first (the order of `recentDatapoints`); then the last entry is the latest.
/// Returns `None` when the text quotes no numeric datapoint.
pub(crate) fn from_state_reason(reason: &str) -> Option<f64> {
    let after_word = &reason[reason.find("datapoint")?..];
    let open = after_word.find('[')?;
    let list = &after_word[open + 1..];
    let list = &list[..list.find(']')?];

    let mut entries = Vec::new();
    for item in list.split(',') {
        let item = item.trim();
        let (number, time) = match item.split_once('(') {
            Some((number, rest)) => {
                let time = rest.trim_end_matches(')').trim();
                (
                    number.trim(),
                    NaiveDateTime::parse_from_str(time, "%d/%m/%y %H:%M:%S").ok(),
                )
            }
            None => (item, None),
        };
        let value = number.parse::<f64>().ok().filter(|v| v.is_finite())?;
        entries.push((value, time));
    }

    if entries.iter().all(|(_, time)| time.is_some()) {
        // Newest by the quoted time; on a tie the first (AWS lists newest first).
        entries
            .iter()
            .rev()
            .max_by_key(|(_, time)| *time)
            .map(|(value, _)| *value)
    } else {
        entries.last().map(|(value, _)| *value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_data_takes_the_last_recent_datapoint() {
        let data = Value::String(r#"{"recentDatapoints":[74.9,78.1]}"#.into());
        assert_eq!(from_reason_data(Some(&data)), Some(78.1));
        let decoded: Value = serde_json::json!({"recentDatapoints": [1.0, 2.5]});
        assert_eq!(from_reason_data(Some(&decoded)), Some(2.5));
    }

    #[test]
    fn reason_data_without_datapoints_is_none() {
        for text in [
            r#"{"triggeringAlarms":[]}"#,
            r#"{"recentDatapoints":[]}"#,
            r#"{"recentDatapoints":["x"]}"#,
            "not json",
            "[1,2]",
        ] {
            assert_eq!(
                from_reason_data(Some(&Value::String(text.into()))),
                None,
                "{text}"
            );
        }
        assert_eq!(from_reason_data(None), None);
        assert_eq!(from_reason_data(Some(&Value::Bool(true))), None);
    }

    #[test]
    fn state_reason_single_datapoint() {
        let reason = "Threshold Crossed: 1 out of the last 1 datapoints [2.3 (23/11/26 17:40:00)] \
                      was greater than or equal to the threshold (2.0).";
        assert_eq!(from_state_reason(reason), Some(2.3));
    }

    #[test]
    fn state_reason_picks_the_newest_by_time_not_by_position() {
        let newest_first = "3 datapoints [1.42 (23/11/26 17:38:00), 1.31 (23/11/26 17:33:00), \
                            1.18 (23/11/26 17:28:00)] were greater";
        assert_eq!(from_state_reason(newest_first), Some(1.42));
        let newest_last = "2 datapoints [4.2 (23/11/26 17:33:00), 5.0 (23/11/26 17:38:00)] were";
        assert_eq!(from_state_reason(newest_last), Some(5.0));
        let across_midnight = "2 datapoints [7.0 (01/12/26 00:01:00), 6.0 (30/11/26 23:56:00)]";
        assert_eq!(from_state_reason(across_midnight), Some(7.0));
    }

    #[test]
    fn state_reason_old_format_without_times_takes_the_last() {
        let reason = "Threshold Crossed: 2 datapoints were not greater than the threshold (70.0). \
                      The most recent datapoints: [38.958, 40.292].";
        assert_eq!(from_state_reason(reason), Some(40.292));
    }

    #[test]
    fn state_reason_without_a_numeric_datapoint_is_none() {
        for reason in [
            "Unchecked: Initial alarm creation",
            "Insufficient Data: 1 datapoint was unknown.",
            "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint \
             was treated as [Breaching].",
            "datapoints [NaN (23/11/26 17:40:00)]",
            "datapoints [1.0 (23/11/26 17:40:00)",
            "",
        ] {
            assert_eq!(from_state_reason(reason), None, "{reason}");
        }
    }
}
