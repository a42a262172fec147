//! The demo's AWS half: against the AWS endpoint in the environment (`scripts/demo.sh` points
//! it at a local moto server), seed the example's services and group and a topic with a queue,
//! then drive the four real functions as AWS would, and show what each did and what people
//! were told:
//!
//! 1. every alarm fixture through `alarm-handler` (EventBridge, direct Lambda action, SNS, and a
//!    composite alarm whose actions CloudWatch suppressed: held, nothing scaled);
//! 2. `schedule-handler`: the tick for now, the same tick again (quiet), a pre-event added at
//!    run time (its lead has begun: floors rise at once), `apply nightly-scale-down`, the event
//!    cancelled, and a malformed request;
//! 3. `budget-handler`: the 80% ACTUAL alert (notify), the 100% FORECASTED one (notify), a
//!    100% ACTUAL one (caps the non-critical ai service), the same again (acts once), and an
//!    alarm payload sent to the budget topic (refused: fail closed);
//! 4. `slack-handler` (see `demo_slack`): a signed `/capstan status`, a small `scale` (queued,
//!    carried out by the worker, announced in the channel), a big one (confirmation buttons),
//!    a stranger's click and the requester's, a user without a grant, a forged signature.
//!
//! Whatever the date, it shows the same: every SNS payload it sends is dated now (its
//! `Timestamp`, and the date line of a budget notification), so a 100% budget alert falls in
//! the current budget period and caps; schedule requests are timed relative to now; Slack
//! requests are signed now. (Alarm payloads keep their recorded times: nothing checks their
//! age, and a redelivery must keep its key.)
//!
//! ```text
//! AWS_ENDPOINT_URL=http://127.0.0.1:5000 CAPSTAN_TABLE=capstan-state \
//!   cargo run -p capstan-e2e --example demo [-- --seed-only]
//! ```
//!
//! With `--seed-only` it only seeds, and prints the topic ARN (for the `cargo lambda` loop).

use std::sync::Arc;
use std::time::Instant;

use capstan_aws::testing::*;
use capstan_aws::{Clients, Timeouts};
use capstan_function::{Config, Function};
use capstan_runner::SystemClock;
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{json, Value};

mod demo_slack;
use demo_slack::{show_ack, show_posts, OPERATOR, OPS_SCALING, STRANGER};

const ALARM_FIXTURES: &[&str] = &[
    "alarm-eventbridge-state-change.json",
    "alarm-eventbridge-config-change.json",
    "alarm-lambda-action.json",
    "alarm-sns-single-metric.json",
    "alarm-sns-metric-math.json",
    "alarm-composite-lambda-action.json",
    "alarm-eventbridge-composite-suppressed.json",
    "alarm-eventbridge-state-change.json",
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
    // The change in the words every notice uses (a bounds-only change by its bounds).
    let parsed: Option<capstan_runner::TargetResult> = serde_json::from_value(r.clone()).ok();
    if let Some(result) = parsed.filter(|p| p.from.is_some() && p.to.is_some()) {
        s.push_str(&format!(": {}", result.headline()));
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
        eprintln!("demo: {e}");
        std::process::exit(2)
    });
    config.topic_arn = Some(topic_arn);
    let runner = capstan_function::runner_with_config("demo", &config, &sdk, Arc::new(SystemClock))
        .await
        .unwrap_or_else(|e| {
            eprintln!("demo: {e}");
            std::process::exit(2)
        });
    let alarms = alarm_handler::Handler::new(runner.clone());
    let schedules = schedule_handler::Handler::new(runner.clone());
    let budgets = budget_handler::Handler::new(runner.clone());

    println!("\n== 1. alarm-handler: every alarm fixture");
    for name in ALARM_FIXTURES {
        show(&alarms, name, dated_now(fixture(name))).await;
    }

    println!("\n== 2. schedule-handler");
    let now = Utc::now();
    // The tick schedule is a rate (not aligned to the clock): this minute's is on time.
    let tick_at = now.duration_trunc(Duration::minutes(1)).unwrap_or(now);
    let tick = json!({"action": "tick", "scheduled_time": tick_at.to_rfc3339()});
    show(
        &schedules,
        "the tick for now (EventBridge Scheduler input)",
        tick.clone(),
    )
    .await;
    show(
        &schedules,
        "the same tick again: nothing to do, nothing written",
        tick,
    )
    .await;
    let fmt = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let add = json!({
        "action": "add-event", "name": "demo-launch", "by": "demo",
        "event": {
            "start": fmt(now + Duration::minutes(30)), "end": fmt(now + Duration::hours(3)),
            "lead": "1h", "targets": {"api": {"floor": "+2"}, "frontend": {"floor": 5}}
        }
    });
    show(
        &schedules,
        "add-event demo-launch (starts in 30 min, lead 1h)",
        add.clone(),
    )
    .await;
    show(&schedules, "the same event again: one event", add).await;
    show(
        &schedules,
        "apply nightly-scale-down now (held: the event holds scale-in)",
        json!({"action": "apply", "schedule": "nightly-scale-down"}),
    )
    .await;
    show(
        &schedules,
        "cancel-event demo-launch",
        json!({"action": "cancel-event", "name": "demo-launch", "by": "demo"}),
    )
    .await;
    show(
        &schedules,
        "a malformed request",
        json!({"action": "tick", "scheduled_time": "tomorrow"}),
    )
    .await;

    println!("\n== 3. budget-handler");
    println!(
        "(each alert dated now: SNS Timestamp {})",
        sns_time(Utc::now())
    );
    show(
        &budgets,
        "budget-sns-actual-80pct.json",
        dated_now(fixture("budget-sns-actual-80pct.json")),
    )
    .await;
    show(
        &budgets,
        "budget-sns-forecasted-100pct.json",
        dated_now(fixture("budget-sns-forecasted-100pct.json")),
    )
    .await;
    let full = dated_now(actual_100(fixture("budget-sns-actual-80pct.json")));
    show(&budgets, "AI-Service-Monthly ACTUAL at 100%", full.clone()).await;
    show(&budgets, "the same alert delivered again", full).await;
    show(
        &budgets,
        "an alarm sent to the budget topic",
        dated_now(fixture("alarm-sns-single-metric.json")),
    )
    .await;

    slack(runner, &sdk, &config.table).await;

    println!("\nWhat people were told (SNS -> SQS):");
    for m in read_messages(&sqs, &queue_url).await {
        println!(
            "  [{}] {}",
            message_attribute(&m, "outcome").unwrap_or("?"),
            m["Subject"].as_str().unwrap_or("")
        );
    }
}

fn fixture(name: &str) -> Value {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/aws-events");
    let text = std::fs::read_to_string(format!("{dir}/{name}")).expect("fixture");
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// Section 4: `/capstan` on Slack, end to end against moto.
async fn slack(runner: capstan_runner::Runner, sdk: &aws_config::SdkConfig, table: &str) {
    let slack = demo_slack::Slack::start(runner, sdk, table).await;
    let confirm_above = slack.runner().policy().slack.confirm_above;
    println!("\n== 4. slack-handler: /capstan on Slack");
    println!(
        "(signed requests as API Gateway delivers them; the work queue and the table on moto; \
         Slack's response_url played by {}; {OPERATOR} is the policy's on-call operator in \
         #ops-scaling {OPS_SCALING}, {STRANGER} has no grant)",
        slack.prefix()
    );

    step(&format!("{OPERATOR}: /capstan status (answered inline)"));
    show_ack(&slack.command(OPERATOR, OPS_SCALING, "status").await);

    let (desired, floor, ceiling) = demo_slack::capacity_of(slack.runner(), "api").await;
    let small = demo_slack::small_step(desired, floor, ceiling);
    step(&format!(
        "{OPERATOR}: /capstan scale api {small} (api is at {desired}, bounds {floor}..{ceiling}: a small change)"
    ));
    show_ack(
        &slack
            .command(OPERATOR, OPS_SCALING, &format!("scale api {small}"))
            .await,
    );
    work(&slack).await;

    let (desired, floor, ceiling) = demo_slack::capacity_of(slack.runner(), "api").await;
    let big = demo_slack::big_step(desired, floor, ceiling, confirm_above);
    let big = if big.abs_diff(desired) > confirm_above {
        format!("scale api {big}")
    } else {
        // Bounds too narrow for a big change: --force asks for a confirmation too.
        format!("scale api {} --force", desired + confirm_above + 1)
    };
    step(&format!(
        "{OPERATOR}: /capstan {big} (api is at {desired}: more than confirm_above = {confirm_above})"
    ));
    show_ack(&slack.command(OPERATOR, OPS_SCALING, &big).await);
    let posts = work(&slack).await;
    let Some(id) = demo_slack::request_id(&posts) else {
        println!("   (no confirmation was asked for: nothing to click)");
        return;
    };

    step(&format!(
        "{STRANGER} clicks Confirm on {OPERATOR}'s request"
    ));
    show_ack(&slack.click(STRANGER, "capstan_confirm", &id).await);
    work(&slack).await;

    step(&format!("{OPERATOR} clicks Confirm"));
    show_ack(&slack.click(OPERATOR, "capstan_confirm", &id).await);
    work(&slack).await;
    let clients = capstan_aws::Clients::new(sdk);
    println!(
        "   api-service on moto: desired {} (was {desired})",
        read_desired_count(&clients, "main-cluster", "api-service").await
    );

    step(&format!("{STRANGER}: /capstan scale api 3 (no grant)"));
    show_ack(&slack.command(STRANGER, OPS_SCALING, "scale api 3").await);
    work(&slack).await;

    step(&format!(
        "{OPERATOR}: /capstan scale api 20, signed with another secret (a forgery)"
    ));
    let forger = capstan_slack::Verifier::new("not-the-signing-secret");
    show_ack(
        &slack
            .command_signed_by(&forger, OPERATOR, OPS_SCALING, "scale api 20")
            .await,
    );
    work(&slack).await;
}

fn step(what: &str) {
    println!("\n-> {what}");
}

/// Runs what the work queue holds through the worker and prints what Capstan posted.
async fn work(slack: &demo_slack::Slack) -> Vec<Value> {
    let jobs = slack.work().await;
    let posts = slack.posts();
    match jobs {
        0 => println!("   (nothing queued)"),
        n => {
            println!("   the worker carries out {n} job(s) from the queue");
            show_posts(&posts);
        }
    }
    posts
}

/// An SNS time as SNS writes it.
fn sns_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The payload as if sent now: each SNS record's `Timestamp` (a budget alert's key and budget
/// period come from it), and a budget notification's date line (prose the parser skips, kept
/// consistent).
fn dated_now(mut event: Value) -> Value {
    let now = Utc::now();
    let records = event.get_mut("Records").and_then(Value::as_array_mut);
    for record in records.into_iter().flatten() {
        let Some(sns) = record.get_mut("Sns") else {
            continue;
        };
        if sns.get("Timestamp").is_some() {
            sns["Timestamp"] = json!(sns_time(now));
        }
        if let Some(text) = sns["Message"].as_str() {
            if let Some(rest) = text.strip_prefix("AWS Budget Notification ") {
                let rest = rest.split_once('\n').map_or("", |(_, r)| r);
                let dated = format!(
                    "AWS Budget Notification {}\n{rest}",
                    now.format("%B %-d, %Y")
                );
                sns["Message"] = json!(dated);
            }
        }
    }
    event
}

/// The 80% ACTUAL fixture as AWS Budgets would send it at 100%.
fn actual_100(mut event: Value) -> Value {
    let sns = &mut event["Records"][0]["Sns"];
    let text = sns["Message"]
        .as_str()
        .unwrap_or_default()
        .replace("greater than $4,000.00", "greater than $5,000.00")
        .replace("is $4,102.37", "is $5,013.80")
        .replace(
            "Alert Threshold: > $4,000.00",
            "Alert Threshold: > $5,000.00",
        )
        .replace("ACTUAL Amount: $4,102.37", "ACTUAL Amount: $5,013.80");
    sns["Message"] = json!(text);
    sns["MessageId"] = json!("7d1c2b3a-4e5f-5a4b-8c9d-0e1f2a3b4c60");
    event
}

/// Sends one payload to a function and prints what came of it.
async fn show(function: &impl Function, what: &str, payload: Value) {
    let started = Instant::now();
    let result = function.handle(payload).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    println!("\n-> {what} ({ms:.0} ms)");
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
