//! The demo's alarm path: against the AWS endpoint in the environment (`scripts/demo.sh`
//! points it at a local moto server), seed the example's services and group and a topic with a
//! queue, then deliver every alarm fixture to the real `alarm-handler` and show what it did
//! and what people were told.
//!
//!     AWS_ENDPOINT_URL=http://127.0.0.1:5000 CAPSTAN_TABLE=capstan-state \
//!       cargo run -p capstan-e2e --example alarm_demo [-- --seed-only]
//!
//! With `--seed-only` it only seeds, and prints the topic ARN (for the `cargo lambda` loop).

use std::sync::Arc;
use std::time::Instant;

use alarm_handler::Handler;
use capstan_aws::testing::*;
use capstan_aws::{Clients, Timeouts};
use capstan_function::{Config, Function};
use capstan_runner::SystemClock;
use serde_json::Value;

const FIXTURES: &[&str] = &[
    "alarm-eventbridge-state-change.json",
    "alarm-eventbridge-config-change.json",
    "alarm-lambda-action.json",
    "alarm-sns-single-metric.json",
    "alarm-sns-metric-math.json",
    "alarm-composite-lambda-action.json",
    "alarm-eventbridge-state-change.json",
    "budget-sns-actual-80pct.json",
];

fn line(r: &Value) -> String {
    let mut s = format!(
        "{}: {}",
        r["target"].as_str().unwrap_or("?"),
        r["outcome"].as_str().unwrap_or("?")
    );
    if let Some(reason) = r["reason"].as_str() {
        s.push_str(&format!(" ({reason})"));
    }
    if let (Some(f), Some(t)) = (r["from"]["desired"].as_u64(), r["to"]["desired"].as_u64()) {
        s.push_str(&format!(" {f} -> {t}"));
    }
    if let Some(a) = r["applied"].as_str() {
        s.push_str(&format!("; {a}"));
    }
    if let Some(e) = r["explanation"].as_str().filter(|e| !e.is_empty()) {
        s.push_str(&format!("\n        why: {e}"));
    }
    s
}

#[tokio::main]
async fn main() {
    let sdk = capstan_aws::load_config(Timeouts::default()).await;
    let clients = Clients::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    println!("seeding main-cluster/{{api,frontend,ai}}-service (ai with a scalable target 2..30), the group aiwg-production-asg (2..15) and a topic with a queue");
    seed_ecs_service(&clients, "main-cluster", "api-service", 3).await;
    seed_ecs_service(&clients, "main-cluster", "frontend-service", 2).await;
    seed_ecs_service(&clients, "main-cluster", "ai-service", 2).await;
    seed_scalable_target(&clients, "main-cluster", "ai-service", 2, 30).await;
    seed_asg(&clients, "aiwg-production-asg", 2, 15, 2).await;
    let (topic_arn, queue_url) = seed_topic_with_queue(&clients.sns, &sqs, "capstan-demo").await;
    if std::env::args().any(|a| a == "--seed-only") {
        println!("topic {topic_arn}\nqueue {queue_url}");
        return;
    }

    let mut config = Config::from_env(|k| std::env::var(k).ok()).unwrap_or_else(|e| {
        eprintln!("alarm_demo: {e}");
        std::process::exit(2)
    });
    config.topic_arn = Some(topic_arn);
    let runner =
        capstan_function::runner_with_config("alarm-handler", &config, &sdk, Arc::new(SystemClock))
            .await
            .unwrap_or_else(|e| {
                eprintln!("alarm_demo: {e}");
                std::process::exit(2)
            });
    let handler = Handler::new(runner);

    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/aws-events");
    for name in FIXTURES {
        let text = std::fs::read_to_string(format!("{dir}/{name}")).expect("fixture");
        let event: Value = serde_json::from_str(&text).expect("fixture is JSON");
        let started = Instant::now();
        let result = handler.handle(event).await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        println!("\n-> {name} ({ms:.0} ms)");
        match result {
            Ok(resp) if resp.get("ignored").is_some() => {
                println!("   ignored: {}", resp["ignored"].as_str().unwrap_or(""))
            }
            Ok(resp) => {
                for report in resp["reports"].as_array().into_iter().flatten() {
                    println!("   {}", report["signal"].as_str().unwrap_or(""));
                    for r in report["results"].as_array().into_iter().flatten() {
                        println!("     {}", line(r));
                    }
                    for n in report["notices"].as_array().into_iter().flatten() {
                        println!("     notice: {}", n.as_str().unwrap_or(""));
                    }
                }
            }
            Err(e) => println!("   error (Lambda would retry, then dead-letter it): {e}"),
        }
    }

    println!("\nWhat people were told (SNS -> SQS):");
    for m in read_messages(&sqs, &queue_url).await {
        println!(
            "  [{}] {}",
            message_attribute(&m, "outcome").unwrap_or("?"),
            m["Subject"].as_str().unwrap_or("")
        );
    }
}
