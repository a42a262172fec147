//! `capstan simulate` end to end: the binary, a small policy and timeline written here.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const POLICY: &str = r#"
[targets.api]
kind = "ecs"
cluster = "main"
service = "api-service"
floor = 2
ceiling = 10

[targets.web]
kind = "asg"
group = "web-asg"
floor = 2
ceiling = 6

[rules.api-cpu-high]
alarm = "api-cpu-high"
target = "api"
action = { add = 2 }

[schedules.day]
targets = ["web"]
begin = "08:00"
end = "20:00"
floor = 3
"#;

/// 07:00 a tick; 10:00 an alarm (+2 on api); 10:02 the same alarm inside the scale-out
/// cooldown; 10:30 an alarm no rule knows; 12:00 a tick.
const TIMELINE: &str = r#"# a short day
{"at": "2026-11-23T07:00:00Z", "signal": {"tick": {}}}

{"at": "2026-11-23T10:00:00Z", "signal": {"alarm": {"name": "api-cpu-high", "state": "ALARM", "value": 80}}}
{"at": "2026-11-23T10:02:00Z", "signal": {"alarm": {"name": "api-cpu-high", "state": "ALARM", "value": 82}}}
{"at": "2026-11-23T10:30:00Z", "signal": {"alarm": {"name": "nobody-knows", "state": "ALARM"}}}
{"at": "2026-11-23T12:00:00Z", "signal": {"tick": {}}}
"#;

/// A fresh directory for one test, holding `policy.toml` and `day.jsonl`.
fn workdir(test: &str, timeline: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("simulate-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("policy.toml"), POLICY).unwrap();
    std::fs::write(dir.join("day.jsonl"), timeline).unwrap();
    dir
}

fn capstan(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capstan"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The lines of the decision printed for `at` (its header up to the blank line after it).
fn block<'a>(stdout: &'a str, at: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with(at))
        .take_while(|l| !l.is_empty())
        .collect()
}

/// Asserts that the decision printed for `at` has a line starting with `prefix` (after the
/// indent) that contains every one of `words`.
fn assert_line(stdout: &str, at: &str, prefix: &str, words: &[&str]) {
    let b = block(stdout, at);
    assert!(
        b.iter()
            .any(|l| l.trim_start().starts_with(prefix) && words.iter().all(|w| l.contains(w))),
        "{at}: expected `{prefix}` with {words:?} in {b:#?}"
    );
}

#[test]
fn prints_every_decision_then_a_summary() {
    let dir = workdir("prints", TIMELINE);
    let out = capstan(&dir, &["simulate", "policy.toml", "day.jsonl"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));

    let first = block(&stdout, "2026-11-23 10:00:00Z");
    assert!(
        first[0].contains("alarm api-cpu-high -> ALARM"),
        "{first:?}"
    );
    let at_10 = "2026-11-23 10:00:00Z";
    assert_line(
        &stdout,
        at_10,
        "api [change]",
        &["desired 2 ", "desired 4 "],
    );
    assert_line(
        &stdout,
        "2026-11-23 10:02:00Z",
        "api [suppressed]",
        &["cooldown"],
    );
    assert_line(&stdout, "2026-11-23 10:30:00Z", "* [suppressed]", &[]);
    // In time order, each printed once; no ticks were added.
    let pos = |s: &str| stdout.find(s).unwrap();
    assert!(pos("2026-11-23 07:00:00Z") < pos("2026-11-23 10:00:00Z"));
    assert!(pos("2026-11-23 10:00:00Z") < pos("2026-11-23 10:02:00Z"));
    assert_eq!(stdout.matches("2026-11-23 10:00:00Z  ").count(), 1);
    assert!(!stdout.contains("2026-11-23 08:00:00Z"));

    let summary: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Summary"))
        .collect();
    assert!(summary[0].contains("5 signal(s)"), "{summary:?}");
    let api = summary
        .iter()
        .find(|l| l.split_whitespace().next() == Some("api"))
        .expect("a summary row for api");
    let cols: Vec<&str> = api.split_whitespace().collect();
    assert_eq!(&cols[..5], ["api", "1", "2", "->", "4"], "{api}");
    assert!(api.contains("cooldown x1"), "{api}");
    assert!(summary
        .iter()
        .any(|l| l.contains("(no target)") && l.contains("unknown-alarm x1")));
}

#[test]
fn ticks_fill_the_gaps_and_only_news_is_printed() {
    let dir = workdir("ticks", TIMELINE);
    let out = capstan(
        &dir,
        &["simulate", "policy.toml", "day.jsonl", "--tick", "30m"],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    // The day period raises web's floor at 08:00: only a generated tick can see it.
    let eight = block(&stdout, "2026-11-23 08:00:00Z");
    assert!(eight[0].contains("schedule tick"), "{eight:?}");
    assert_line(
        &stdout,
        "2026-11-23 08:00:00Z",
        "web [change]",
        &["desired 3 "],
    );
    // Generated ticks that change nothing are not printed.
    assert!(!stdout.contains("2026-11-23 07:30:00Z"), "{stdout}");
    assert!(!stdout.contains("2026-11-23 09:00:00Z"), "{stdout}");
    // 5 entries + ticks at 07:30, 08:00, ... 11:30 (the 07:00 and 12:00 ticks are given).
    assert!(stdout.contains("Summary: 14 signal(s)"), "{stdout}");

    let bad = capstan(
        &dir,
        &["simulate", "policy.toml", "day.jsonl", "--tick", "often"],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("--tick"));
}

#[test]
fn the_chart_has_one_panel_per_target() {
    let dir = workdir("chart", TIMELINE);
    let out = capstan(
        &dir,
        &["simulate", "policy.toml", "day.jsonl", "--chart", "day.svg"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("day.svg"));
    let svg = std::fs::read_to_string(dir.join("day.svg")).unwrap();
    assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches(r#"<g class="panel""#).count(), 2);
    assert!(svg.contains(r#"id="panel-api""#) && svg.contains(r#"id="panel-web""#));
    // Action markers: the legend's, api at 10:00 (the alarm), web at 12:00 (the tick brings it
    // into the day period's floor). The unknown alarm has no panel.
    assert_eq!(svg.matches("<circle").count(), 3, "{svg}");
    assert!(
        svg.contains("10:02 rule:api-cpu-high [suppressed]"),
        "{svg}"
    );
    assert!(svg.contains("ecs main/api-service"));
    assert!(!dir.join("day.svg.tmp").exists());
}

#[test]
fn a_malformed_line_is_named_and_nothing_is_simulated() {
    let timeline = TIMELINE.replace(
        r#""state": "ALARM", "value": 82"#,
        r#""state": "ALARMED", "value": 82"#,
    );
    let dir = workdir("malformed", &timeline);
    let out = capstan(
        &dir,
        &["simulate", "policy.toml", "day.jsonl", "--chart", "day.svg"],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("line 5:"), "{stderr}");
    assert!(stderr.contains("ALARMED"), "{stderr}");
    assert!(stderr.contains("nothing was simulated"), "{stderr}");
    assert_eq!(text(&out.stdout), "", "no decision may be printed");
    assert!(!dir.join("day.svg").exists());
}

#[test]
fn out_of_order_times_are_rejected() {
    let timeline = TIMELINE.replace("2026-11-23T10:30:00Z", "2026-11-23T09:30:00Z");
    let dir = workdir("order", &timeline);
    let out = capstan(&dir, &["simulate", "policy.toml", "day.jsonl"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("line 6:"), "{stderr}");
    assert!(stderr.contains("time order"), "{stderr}");
    assert!(stderr.contains("line 5"), "{stderr}");
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn a_starting_state_is_read_from_json() {
    let dir = workdir("state", TIMELINE);
    std::fs::write(
        dir.join("state.json"),
        r#"{"targets": {
            "api": {"target": "api", "desired": 9, "min": 2, "max": 10},
            "web": {"target": "web", "desired": 2, "min": 2, "max": 6}}}"#,
    )
    .unwrap();
    let out = capstan(
        &dir,
        &[
            "simulate",
            "policy.toml",
            "day.jsonl",
            "--state",
            "state.json",
        ],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // +2 from 9 is clamped to the ceiling of 10.
    let at_10 = "2026-11-23 10:00:00Z";
    assert_line(
        &stdout,
        at_10,
        "api [change]",
        &["desired 9 ", "desired 10 "],
    );

    std::fs::write(dir.join("state.json"), r#"{"targets": 3}"#).unwrap();
    let bad = capstan(
        &dir,
        &[
            "simulate",
            "policy.toml",
            "day.jsonl",
            "--state",
            "state.json",
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("state.json"));
}

#[test]
fn a_broken_policy_is_reported_not_simulated() {
    let dir = workdir("policy", TIMELINE);
    std::fs::write(
        dir.join("policy.toml"),
        POLICY.replace("floor = 2\nceiling = 10", "floor = 2\nceilin = 10"),
    )
    .unwrap();
    let out = capstan(&dir, &["simulate", "policy.toml", "day.jsonl"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("policy.toml:"), "{stderr}");
    // The misspelt key is on line 7 of the file.
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("policy.toml:7:") && l.contains("ceilin")),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was simulated"), "{stderr}");
    assert_eq!(text(&out.stdout), "");
}

/// The demo's day: the example policy and timeline replay cleanly, and the moments the
/// timeline's comments promise happen (if the example policy changes, the day must follow).
#[test]
fn the_runbook_day_replays_as_its_comments_say() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("simulate-runbook-day");
    std::fs::create_dir_all(&dir).unwrap();
    let chart = dir.join("runbook-day.svg");
    let out = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .current_dir(&root)
        .args([
            "simulate",
            "capstan.example.toml",
            "examples/runbook-day.jsonl",
        ])
        .args(["--tick", "5m", "--chart"])
        .arg(&chart)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let has = |at: &str, prefix: &str, words: &str| assert_line(&stdout, at, prefix, &[words]);
    has("2026-11-23 02:00:00Z", "frontend [change]", "desired 2 ");
    has("2026-11-23 08:00:00Z", "api [change]", "desired 4 ");
    has("2026-11-23 08:00:00Z", "frontend [change]", "desired 4 ");
    has("2026-11-23 10:07:00Z", "api [suppressed]", "cooldown");
    // The runbook text goes with the action it came with, not as a notice of its own.
    has("2026-11-23 10:20:00Z", "api [change]", "desired 8 ");
    has(
        "2026-11-23 10:20:00Z",
        "runbook (rule api-latency-high)",
        "investigate",
    );
    has("2026-11-23 10:24:00Z", "api [change]", "desired 14 ");
    has(
        "2026-11-23 10:31:00Z",
        "notice (rule:db-iops-maxed)",
        "maintenance window",
    );
    has("2026-11-23 13:25:00Z", "api [denied]", "");
    has("2026-11-23 13:50:00Z", "api [change]", "desired 14 ");
    has("2026-11-23 16:00:00Z", "ai [change]", "max 2)");
    has("2026-11-23 16:30:00Z", "ai [suppressed]", "ceiling");
    has("2026-11-23 17:45:00Z", "api [suppressed]", "30m");
    has("2026-11-23 20:00:00Z", "api [change]", "desired 10 ");
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert_eq!(svg.matches(r#"<g class="panel""#).count(), 4);
}

/// A payload from `tests/fixtures/aws-events/`, on one line.
fn fixture(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/aws-events")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// A timeline line holding `payload` as AWS delivers it, with `at` when given.
fn aws_line(at: Option<&str>, payload: serde_json::Value) -> String {
    let mut line = serde_json::json!({ "aws": payload });
    if let Some(at) = at {
        line["at"] = at.into();
    }
    line.to_string()
}

/// Runs `capstan simulate` on the example policy and `timeline`.
fn simulate_example(test: &str, timeline: &str) -> Output {
    let dir = workdir(test, timeline);
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../capstan.example.toml");
    Command::new(env!("CARGO_BIN_EXE_capstan"))
        .current_dir(&dir)
        .arg("simulate")
        .arg(example)
        .arg("day.jsonl")
        .output()
        .unwrap()
}

#[test]
fn raw_aws_payloads_replay_as_the_functions_read_them() {
    let timeline = [
        "# AWS Budgets through SNS, 06:14:09 (the SNS Timestamp)".to_string(),
        aws_line(None, fixture("budget-sns-actual-80pct.json")),
        aws_line(None, fixture("budget-sns-forecasted-100pct.json")),
        "# the EventBridge scheduled rule's tick at 08:00 on Monday 23 November".to_string(),
        aws_line(None, fixture("schedule-eventbridge-rule.json")),
        "# an alarm invoking Lambda directly, at its state timestamp 09:12:15".to_string(),
        aws_line(None, fixture("alarm-lambda-action.json")),
        "# an alarm through SNS, 17:43:27; then a configuration change, ignored".to_string(),
        aws_line(None, fixture("alarm-sns-single-metric.json")),
        aws_line(None, fixture("alarm-eventbridge-config-change.json")),
        "# a Scheduler input without a time: `at` says when".to_string(),
        aws_line(
            Some("2026-11-23T18:00:00Z"),
            serde_json::json!({"action": "apply", "schedule": "nightly-scale-down"}),
        ),
        r#"{"at": "2026-11-23T18:05:00Z", "signal": {"tick": {}}}"#.to_string(),
    ]
    .join("\n");
    let out = simulate_example("aws-payloads", &timeline);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));

    assert!(
        stdout.starts_with(
            "day.jsonl: line 10: ignored: EventBridge \"CloudWatch Alarm Configuration \
             Change\" from aws.cloudwatch is not an alarm state change\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("Simulating 7 signal(s) from 2026-11-23 06:14:09Z to 2026-11-23 18:05:00Z"),
        "{stdout}"
    );
    // The 80% ACTUAL alert: the notify rule's notice, with the amounts read from the text.
    let at_0614 = "2026-11-23 06:14:09Z";
    let first = block(&stdout, at_0614);
    assert!(
        first[0].ends_with("budget AI-Service-Monthly ACTUAL alert at 80%"),
        "{first:?}"
    );
    assert_line(
        &stdout,
        at_0614,
        "notice (budget:ai-spend-80)",
        &["4102.37 of 5000.00", "review AI usage"],
    );
    // The FORECASTED 100% alert: no rule acts on it.
    assert!(
        stdout.contains(
            "2026-11-23 06:14:09Z  budget AI-Service-Monthly FORECASTED alert at 100%\n  \
             notice (budget:AI-Service-Monthly): "
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("no rule acts on FORECASTED alerts"),
        "{stdout}"
    );
    // The 08:00 Monday tick: business hours raise api's floor to 4, and the morning
    // occurrence sets frontend to 4.
    let at_08 = "2026-11-23 08:00:00Z";
    assert!(block(&stdout, at_08)[0].ends_with("schedule tick"));
    assert_line(
        &stdout,
        at_08,
        "api [change]",
        &["desired 2 (min 2, max 20) -> desired 4 (min 4, max 20)"],
    );
    assert_line(&stdout, at_08, "frontend [change]", &["-> desired 4 "]);
    // The alarms, timed at their state changes, with the datapoints the payloads carry.
    let at_0912 = "2026-11-23 09:12:15Z";
    assert!(block(&stdout, at_0912)[0].ends_with("alarm api-cpu-high -> ALARM (value 78.1)"));
    assert_line(&stdout, at_0912, "api [change]", &["-> desired 5 "]);
    let at_1743 = "2026-11-23 17:43:27Z";
    assert_line(&stdout, at_1743, "api [change]", &["-> desired 6 "]);
    assert_line(
        &stdout,
        at_1743,
        "runbook (rule api-latency-high)",
        &["investigate"],
    );
    // The apply request at the given time, then a plain timeline tick.
    let at_18 = "2026-11-23 18:00:00Z";
    assert!(block(&stdout, at_18)[0].ends_with("apply schedule nightly-scale-down"));
    assert_line(&stdout, at_18, "frontend [change]", &["-> desired 2 "]);
    assert!(
        stdout.contains("2026-11-23 18:05:00Z  schedule tick"),
        "{stdout}"
    );
    assert!(stdout.contains("Summary: 7 signal(s)"), "{stdout}");
}

#[test]
fn a_payload_no_function_accepts_is_named_with_the_parsers_error() {
    let mut alarm_in_sns = fixture("budget-sns-actual-80pct.json");
    alarm_in_sns["Records"][0]["Sns"]["Message"] =
        "Budget Name: AI-Service-Monthly\nAlert Type: SOMETIMES\n".into();
    let timeline = [
        // A good line: nothing may be simulated, it included.
        aws_line(None, fixture("schedule-eventbridge-rule.json")),
        aws_line(None, alarm_in_sns),
        aws_line(
            None,
            serde_json::json!({"action": "apply", "schedule": "night"}),
        ),
        aws_line(None, serde_json::json!({"source": "aws.s3", "detail": {}})),
        aws_line(Some("at eight"), serde_json::json!({"action": "tick"})),
        r#"{"aws": {"action": "tick"}, "signal": {"tick": {}}}"#.to_string(),
        aws_line(
            Some("2026-11-23T09:00:00Z"),
            serde_json::json!({"action": "launch"}),
        ),
    ]
    .join("\n");
    let out = simulate_example("aws-bad", &timeline);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(text(&out.stdout), "", "nothing is simulated");
    let problems: Vec<&str> = stderr.lines().skip(1).map(str::trim).collect();
    assert!(
        stderr.starts_with("capstan: day.jsonl has 6 problem(s); nothing was simulated:\n"),
        "{stderr}"
    );
    assert_eq!(
        problems,
        [
            "line 2: aws.Records[0].Sns.Message: line \"Alert Type: SOMETIMES\": expected \
             ACTUAL or FORECASTED (read as an AWS Budgets alert)",
            "line 3: the schedule request carries no time (`apply schedule night`); give one \
             with \"at\"",
            "line 4: `aws` is not a payload Capstan's functions accept: expected a CloudWatch \
             alarm (`source` \"aws.cloudwatch\", or SNS `Records` with an alarm message), a \
             schedule request (`source` \"aws.events\", or `action`), or an AWS Budgets alert \
             (SNS `Records` with the plain-text message)",
            "line 5: `at` is \"at eight\": expected an RFC 3339 time such as \
             \"2026-11-23T08:00:00Z\"",
            "line 6: unknown field `signal` beside `aws`; expected `at` (optional) and `aws`",
            "line 7: aws.action: unknown action \"launch\": expected tick, apply, add-event or \
             cancel-event (read as a schedule request)",
        ]
    );
}
