//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use capstan_policy::model::{AlarmState, Policy};
use capstan_policy::signal::{AlarmSignal, Signal};
use capstan_policy::state::{ActionRecord, State};
use chrono::{DateTime, Duration, Utc};

/// A policy exercising every feature the engine has, small enough to reason about.
pub const POLICY: &str = r#"
[settings]
catch_up = "15m"

[targets.api]
kind = "ecs"
cluster = "main-cluster"
service = "api-service"
floor = 2
ceiling = 20
max_step = 5
max_actions_per_hour = 6
[targets.api.cooldown]
scale_out = "300s"
scale_in = "600s"
scale_in_guard = "30m"

[targets.ai]
kind = "ecs"
cluster = "main-cluster"
service = "ai-service"
floor = 2
ceiling = 30
criticality = "non-critical"

[targets.web]
kind = "asg"
group = "aiwg-production-asg"
floor = 2
ceiling = 15
dry_run = true

[rules.cpu-critical]
alarm = "api-cpu-critical"
target = "api"
action = { add = 2 }
cooldown = "180s"

[rules.cpu-high]
alarm = "api-cpu-high"
target = "api"
action = { add = 1 }

[rules.api-any]
alarm = "api-*"
target = "api"
action = { add = 1 }

[rules.traffic]
alarm = "api-traffic-2x"
target = "api"
action = { percent = 100 }

[rules.cpu-low]
alarm = "api-cpu-low"
target = "api"
action = { remove = 1 }

[rules.set]
alarm = "api-set"
target = "api"
action = { set = 7 }

[rules.queue]
alarm = "ai-queue-deep"
target = "ai"
action = { from_metric = { per_unit = 500, buffer_percent = 20 } }

[rules.stepped]
alarm = "ai-stepped"
target = "ai"
steps = [
  { upper = 50, action = { add = 1 } },
  { lower = 50, upper = 90, action = { add = 2 } },
]

[rules.ai-low]
alarm = "ai-queue-shallow"
target = "ai"
action = { remove = 1 }

[rules.db]
alarm = "db-iops-maxed"
action = "notify"
runbook = "Upgrade the DB instance class in the next maintenance window."

[rules.web-cpu]
alarm = "web-cpu-critical"
target = "web"
action = { add = 2 }

[schedules.business-hours]
targets = ["api"]
weekdays = ["mon-fri"]
begin = "08:00"
end = "20:00"
floor = 4
ceiling = 20

[schedules.night]
targets = ["api"]
weekdays = ["mon-fri"]
begin = "20:00"
end = "08:00"
floor = 2
ceiling = 10

[schedules.nightly]
targets = ["ai"]
cron = "0 2 * * *"
desired = 2

[events.launch]
start = "2026-12-01T09:00:00Z"
end = "2026-12-01T18:00:00Z"
lead = "1h"
release_step = 2
[events.launch.targets.ai]
floor = 8
ceiling = 30

[budgets.ai-80]
budget = "AI-Service-Monthly"
threshold = 80
action = "notify"

[budgets.ai-100]
budget = "AI-Service-Monthly"
threshold = 100
action = "cap"

[slack]
confirm_above = 4
[[slack.grants]]
users = ["U2147483697"]
channels = ["C2147483705"]
verbs = ["status", "scale", "force", "pause", "resume", "undo", "lift-cap"]
[[slack.grants]]
users = ["U0VIEWER"]
verbs = ["status"]
"#;

/// The test policy, parsed.
pub fn policy() -> Policy {
    toml::from_str(POLICY).expect("test policy parses")
}

/// An instant from RFC 3339.
pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test time parses")
        .with_timezone(&Utc)
}

/// Every target at its floor, with api at `api_desired`.
pub fn state_with(policy: &Policy, api_desired: u32) -> State {
    let mut s = State::at_floor(policy);
    s.targets.get_mut("api").unwrap().desired = api_desired;
    s
}

/// Records a past action on `target`, `ago` before `now`.
pub fn push_action(
    state: &mut State,
    target: &str,
    now: DateTime<Utc>,
    ago: Duration,
    source: &str,
    from: u32,
    to: u32,
) {
    state
        .targets
        .get_mut(target)
        .unwrap()
        .history
        .push(ActionRecord {
            at: now - ago,
            source: source.to_string(),
            from,
            to,
            forced: false,
        });
}

/// An alarm going from OK to ALARM, with its datapoint.
pub fn alarm(name: &str, value: Option<f64>) -> Signal {
    Signal::Alarm(AlarmSignal {
        name: name.to_string(),
        state: AlarmState::Alarm,
        previous: Some(AlarmState::Ok),
        value,
        suppressed: None,
    })
}
