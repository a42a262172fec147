//! A world for end-to-end tests: moto with the example's resources, the state table, a topic
//! with a queue subscribed, and the real handlers (alarm, schedule, budget) over them, at a
//! clock the test moves.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use alarm_handler::Handler;
use capstan_aws::Clients;
pub use capstan_function::{Config, Function};
use capstan_moto::MotoRegion;
use capstan_runner::Clock;
use capstan_store::Store;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

pub const CLUSTER: &str = "main-cluster";
pub const GROUP: &str = "aiwg-production-asg";
pub const TABLE: &str = "capstan-state";

/// The example policy, the one the README and the demo use.
pub fn example_policy() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../capstan.example.toml").to_string()
}

/// Writes a policy for one test (e.g. the example in another time zone) and returns its path.
pub fn write_policy(name: &str, text: &str) -> String {
    let path = std::env::temp_dir().join(format!("capstan-e2e-{}-{name}.toml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The example policy's text.
pub fn example_policy_text() -> String {
    std::fs::read_to_string(example_policy()).unwrap()
}

pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../fixtures/aws-events/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect(&path)
}

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A clock the test moves.
#[derive(Clone)]
pub struct TestClock(pub Arc<Mutex<DateTime<Utc>>>);

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

pub struct World {
    pub moto: MotoRegion,
    pub sdk: aws_config::SdkConfig,
    pub clients: Clients,
    pub sqs: aws_sdk_sqs::Client,
    pub store: Store,
    pub topic_arn: String,
    pub queue_url: String,
    pub clock: TestClock,
    /// The alarm handler.
    pub handler: Handler,
    /// The schedule handler (same runner settings).
    pub schedule: schedule_handler::Handler,
    /// The budget handler (same runner settings).
    pub budget: budget_handler::Handler,
}

/// Starting counts of the example's services and group.
pub struct Seed {
    pub api: u32,
    pub frontend: u32,
    pub ai: u32,
    pub web: u32,
    pub dry_run: bool,
    pub topic: bool,
    /// The web group has a target-tracking policy of its own.
    pub web_scales_itself: bool,
    /// The policy file (default: the example policy).
    pub policy: Option<String>,
}

impl Default for Seed {
    fn default() -> Seed {
        Seed {
            api: 3,
            frontend: 2,
            ai: 2,
            web: 2,
            dry_run: false,
            topic: true,
            web_scales_itself: false,
            policy: None,
        }
    }
}

impl World {
    pub async fn new() -> World {
        World::with(Seed::default()).await
    }

    pub async fn with(seed: Seed) -> World {
        let moto = MotoRegion::lease().await;
        let sdk = moto.sdk_config().await;
        let clients = Clients::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        use capstan_aws::testing as seedkit;
        seedkit::seed_ecs_service(&clients, CLUSTER, "api-service", seed.api).await;
        seedkit::seed_ecs_service(&clients, CLUSTER, "frontend-service", seed.frontend).await;
        seedkit::seed_ecs_service(&clients, CLUSTER, "ai-service", seed.ai).await;
        seedkit::seed_scalable_target(&clients, CLUSTER, "ai-service", 2, 30).await;
        seedkit::seed_asg(&clients, GROUP, 2, 15, seed.web).await;
        if seed.web_scales_itself {
            seedkit::seed_target_tracking_policy(&clients, GROUP).await;
        }
        let (topic_arn, queue_url) =
            seedkit::seed_topic_with_queue(&clients.sns, &sqs, "capstan-notifications").await;
        let store = Store::new(aws_sdk_dynamodb::Client::new(&sdk), TABLE);
        store.create_table().await.unwrap();
        let clock = TestClock(Arc::new(Mutex::new(t("2026-11-23T14:05:41Z"))));
        let config = Config {
            policy: seed.policy.clone().unwrap_or_else(example_policy),
            table: TABLE.to_string(),
            topic_arn: seed.topic.then(|| topic_arn.clone()),
            dry_run: seed.dry_run,
            sns_topics: Vec::new(),
            scaling_resource_arns: Vec::new(),
        };
        let runner =
            capstan_function::runner_with_config("e2e", &config, &sdk, Arc::new(clock.clone()))
                .await
                .unwrap();
        let handler = Handler::new(runner.clone());
        let schedule = schedule_handler::Handler::new(runner.clone());
        let budget = budget_handler::Handler::new(runner);
        World {
            moto,
            sdk,
            clients,
            sqs,
            store,
            topic_arn,
            queue_url,
            clock,
            handler,
            schedule,
            budget,
        }
    }

    /// Sets the clock.
    pub fn at(&self, when: DateTime<Utc>) {
        *self.clock.0.lock().unwrap() = when;
    }

    /// Moves the clock on.
    pub fn advance(&self, by: Duration) {
        let mut now = self.clock.0.lock().unwrap();
        *now += by;
    }

    pub fn now(&self) -> DateTime<Utc> {
        *self.clock.0.lock().unwrap()
    }

    /// Desired count of an ECS service, as moto has it.
    pub async fn desired(&self, service: &str) -> u32 {
        let out = self
            .clients
            .ecs
            .describe_services()
            .cluster(CLUSTER)
            .services(service)
            .send()
            .await
            .unwrap();
        out.services()[0].desired_count() as u32
    }

    /// (min, max) of the ai-service scalable target.
    pub async fn scalable(&self, service: &str) -> (u32, u32) {
        let out = self
            .clients
            .aas
            .describe_scalable_targets()
            .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
            .resource_ids(format!("service/{CLUSTER}/{service}"))
            .send()
            .await
            .unwrap();
        let st = &out.scalable_targets()[0];
        (st.min_capacity() as u32, st.max_capacity() as u32)
    }

    /// (desired, min, max) of the group.
    pub async fn group(&self) -> (u32, u32, u32) {
        let out = self
            .clients
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(GROUP)
            .send()
            .await
            .unwrap();
        let g = &out.auto_scaling_groups()[0];
        (
            g.desired_capacity().unwrap_or(0) as u32,
            g.min_size().unwrap_or(0) as u32,
            g.max_size().unwrap_or(0) as u32,
        )
    }

    /// Every notification published so far (drains the queue): the JSON bodies Capstan wrote,
    /// with `_subject` and `_attributes` added.
    pub async fn notifications(&self) -> Vec<Value> {
        use capstan_aws::testing::{capstan_body, message_attribute, read_messages};
        read_messages(&self.sqs, &self.queue_url)
            .await
            .iter()
            .map(|m| {
                let text = m["Message"].as_str().unwrap_or_default();
                let text = text.split("capstan-json: ").next().unwrap_or_default();
                json!({
                    "_subject": m["Subject"],
                    "_text": text,
                    "_attributes": {
                        "target": message_attribute(m, "target"),
                        "action": message_attribute(m, "action"),
                        "outcome": message_attribute(m, "outcome"),
                        "dedup": message_attribute(m, "dedup"),
                    },
                    "body": capstan_body(m),
                })
            })
            .collect()
    }

    /// Delivers an event to the alarm handler.
    pub async fn deliver(&self, event: Value) -> Result<Value, String> {
        self.handler.handle(event).await.map_err(|e| e.to_string())
    }

    /// Delivers a payload to the schedule handler.
    pub async fn schedule(&self, payload: Value) -> Result<Value, String> {
        self.schedule
            .handle(payload)
            .await
            .map_err(|e| e.to_string())
    }

    /// The periodic tick for `at`, as EventBridge Scheduler delivers it, with the clock at
    /// that moment.
    pub async fn tick(&self, at: DateTime<Utc>) -> Value {
        self.at(at);
        self.schedule(json!({
            "action": "tick",
            "scheduled_time": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }))
        .await
        .unwrap()
    }

    /// Delivers a payload to the budget handler.
    pub async fn budget_alert(&self, payload: Value) -> Result<Value, String> {
        self.budget.handle(payload).await.map_err(|e| e.to_string())
    }
}

/// An EventBridge "CloudWatch Alarm State Change" for `alarm` entering `state` at `at`, with
/// `value` as its latest datapoint.
pub fn eventbridge(alarm: &str, state: &str, at: DateTime<Utc>, value: Option<f64>) -> Value {
    let mut e = fixture("alarm-eventbridge-state-change.json");
    let arn = format!("arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}");
    e["resources"] = json!([arn]);
    e["time"] = json!(at.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    e["detail"]["alarmName"] = json!(alarm);
    e["detail"]["state"]["value"] = json!(state);
    e["detail"]["previousState"]["value"] = json!(if state == "OK" { "ALARM" } else { "OK" });
    e["detail"]["state"]["timestamp"] = json!(at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string());
    let reason = match value {
        Some(v) => json!({"version": "1.0", "recentDatapoints": [v], "threshold": 1.0}),
        None => json!({"version": "1.0", "recentDatapoints": [], "threshold": 1.0}),
    };
    e["detail"]["state"]["reasonData"] = json!(reason.to_string());
    e
}

/// Every target result of a handler's response (each report's `results`).
pub fn results(resp: &Value) -> Vec<Value> {
    resp["reports"]
        .as_array()
        .unwrap_or_else(|| panic!("no reports in {resp}"))
        .iter()
        .flat_map(|r| r["results"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// `target:outcome[:reason]` of every result of a handler's response.
pub fn outcomes(resp: &Value) -> Vec<String> {
    results(resp)
        .iter()
        .map(|r| {
            let (target, outcome) = (
                r["target"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
            );
            match r["reason"].as_str() {
                Some(reason) => format!("{target}:{outcome}:{reason}"),
                None => format!("{target}:{outcome}"),
            }
        })
        .collect()
}

/// The notices a handler published (each report's `notices`).
pub fn notices(resp: &Value) -> Vec<String> {
    resp["reports"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["notices"].as_array().cloned().unwrap_or_default())
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}
