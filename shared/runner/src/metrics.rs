//! CloudWatch Embedded Metric Format: one JSON line on stdout per metric, which CloudWatch
//! Logs turns into metrics (namespace `Capstan`; each metric without dimensions, by `Outcome`,
//! and by `Target, Outcome`). The dimensionless series is what the template's alarms watch
//! (`Failures`, `NotifyFailures`): one alarm covers every target and outcome.

use serde_json::json;

/// One EMF line: `name` = `value` (a count) for `target` with `outcome`.
pub fn emf_line(name: &str, value: f64, target: &str, outcome: &str) -> String {
    emf_line_at(
        name,
        value,
        target,
        outcome,
        chrono::Utc::now().timestamp_millis(),
    )
}

fn emf_line_at(name: &str, value: f64, target: &str, outcome: &str, millis: i64) -> String {
    json!({
        "_aws": {
            "Timestamp": millis,
            "CloudWatchMetrics": [{
                "Namespace": "Capstan",
                "Dimensions": [[], ["Outcome"], ["Target", "Outcome"]],
                "Metrics": [{"Name": name, "Unit": "Count"}],
            }],
        },
        "Target": target,
        "Outcome": outcome,
        name: value,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_is_emf_with_the_metric_and_its_dimensions() {
        let line = emf_line_at("Actions", 1.0, "api", "changed", 1_795_442_400_000);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_795_442_400_000i64);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "Actions"
        );
        assert_eq!(v["Actions"], 1.0);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([[], ["Outcome"], ["Target", "Outcome"]]),
            "a dimensionless series for the stack's alarms"
        );
        assert_eq!(v["Target"], "api");
        assert_eq!(v["Outcome"], "changed");
        assert!(!line.contains('\n'));
    }
}
