//! Measures one remediation against moto: the AWS calls on its critical path (how many, how
//! many one after another) and the handler's latency.
//!
//!     cargo run --release -p capstan-e2e --example alarm_bench -- [ITERATIONS]
//!
//! Every client gets an interceptor that records each call's operation and its start and end,
//! so the report is measured, not counted by hand. Each iteration delivers a new alarm
//! transition that changes capacity (api-cpu-high, +1, then api-cpu-low, -1, alternately), with
//! the clock moved past the cooldowns and the scale-in guard in between.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use alarm_handler::Handler;
use capstan_aws::testing::*;
use capstan_aws::Clients;
use capstan_function::{Config, Function};
use capstan_runner::Clock;

mod calls;
use calls::{waves, Calls};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

#[derive(Clone)]
struct TestClock(Arc<Mutex<DateTime<Utc>>>);
impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

#[tokio::main]
async fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("ITERATIONS is a number"))
        .unwrap_or(100);
    let moto = capstan_moto::Moto::start().await;
    let sdk = moto.sdk_config().await;
    let plain = Clients::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    for (s, n) in [
        ("api-service", 6),
        ("frontend-service", 2),
        ("ai-service", 2),
    ] {
        seed_ecs_service(&plain, "main-cluster", s, n).await;
    }
    seed_scalable_target(&plain, "main-cluster", "ai-service", 2, 30).await;
    seed_asg(&plain, "aiwg-production-asg", 2, 15, 2).await;
    let (topic_arn, queue_url) = seed_topic_with_queue(&plain.sns, &sqs, "capstan").await;
    let store = capstan_store::Store::new(aws_sdk_dynamodb::Client::new(&sdk), "capstan-state");
    store.create_table().await.unwrap();

    let calls = Calls::default();
    let (clients, dynamodb) = calls.clients(&sdk);
    let policy = concat!(env!("CARGO_MANIFEST_DIR"), "/../../capstan.example.toml");
    let clock = TestClock(Arc::new(Mutex::new(
        DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
    )));
    let config = Config {
        policy: policy.to_string(),
        table: "capstan-state".into(),
        topic_arn: Some(topic_arn),
        dry_run: false,
        sns_topics: Vec::new(),
        scaling_resource_arns: Vec::new(),
    };
    let handler = Handler::new(
        capstan_function::runner_with_clients(
            "alarm-handler",
            &config,
            clients,
            dynamodb,
            Arc::new(clock.clone()),
        )
        .await
        .unwrap(),
    );

    let mut latencies = Vec::new();
    let mut shape = None;
    for i in 0..iterations {
        *clock.0.lock().unwrap() += Duration::minutes(31);
        let now = *clock.0.lock().unwrap();
        let alarm = if i % 2 == 0 {
            "api-cpu-high"
        } else {
            "api-cpu-low"
        };
        let event = json!({
            "source": "aws.cloudwatch",
            "alarmArn": format!("arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}"),
            "accountId": "123456789012",
            "time": now.to_rfc3339(),
            "region": "us-east-1",
            "alarmData": {
                "alarmName": alarm,
                "state": {"value": "ALARM", "reason": "bench", "timestamp": now.to_rfc3339()},
                "previousState": {"value": "OK", "reason": "", "timestamp": now.to_rfc3339()},
                "configuration": {}
            }
        });
        calls.clear();
        let t = Instant::now();
        let resp = handler.handle(event).await.unwrap();
        latencies.push(t.elapsed());
        assert_eq!(
            resp["reports"][0]["results"][0]["outcome"], "changed",
            "iteration {i}: {resp}"
        );
        if shape.is_none() && i >= 2 {
            shape = Some(waves(&calls.list()));
        }
        if i % 50 == 49 {
            read_messages(&sqs, &queue_url).await;
        }
    }
    latencies.sort();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let shape = shape.unwrap_or_default();
    println!("one remediation (api-cpu-high / api-cpu-low on ECS api-service), {iterations} iterations against moto:");
    println!(
        "  AWS calls: {} in {} sequential round trips",
        shape.iter().map(Vec::len).sum::<usize>(),
        shape.len()
    );
    for (i, w) in shape.iter().enumerate() {
        println!("    {}. {}", i + 1, w.join(" | "));
    }
    println!(
        "  handler latency: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(latencies[latencies.len() / 2]),
        ms(latencies[latencies.len() * 9 / 10]),
        ms(latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)]),
        ms(*latencies.last().unwrap())
    );
}
