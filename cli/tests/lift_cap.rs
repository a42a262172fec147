//! `capstan lift-cap` end to end: the binary against moto (a fresh region per test), seeded
//! with the example policy's services and group, a state table holding a cap of
//! AI-Service-Monthly on the ai service, and a topic with a queue subscribed.

mod common;

use capstan_aws::testing::{
    read_messages, read_scalable_target, seed_asg, seed_ecs_service, seed_scalable_target,
    seed_topic_with_queue,
};
use capstan_aws::Clients;
use capstan_moto::MotoRegion;
use capstan_policy::state::{BudgetCap, State};
use capstan_store::{Commit, Store};
use chrono::{Duration, SubsecRound, Utc};
use serde_json::Value;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../capstan.example.toml");
const TABLE: &str = "capstan-lift-state";
const BUDGET: &str = "AI-Service-Monthly";

/// Runs `capstan ARGS` against the region (see [`common::capstan`]).
fn capstan(region: &MotoRegion, args: &[&str]) -> (Option<i32>, String, String) {
    common::capstan_in(region, &[], args)
}

/// The world of one test: the example policy's resources, the ai service held at 2..2 by a
/// scalable target (its cap), the table, the topic and its queue.
struct World {
    region: MotoRegion,
    clients: Clients,
    store: Store,
    sqs: aws_sdk_sqs::Client,
    topic: String,
    queue: String,
}

async fn world() -> World {
    let region = MotoRegion::lease().await;
    let sdk = region.sdk_config().await;
    let clients = Clients::new(&sdk);
    seed_ecs_service(&clients, "main-cluster", "api-service", 4).await;
    seed_scalable_target(&clients, "main-cluster", "api-service", 4, 20).await;
    seed_ecs_service(&clients, "main-cluster", "frontend-service", 2).await;
    seed_ecs_service(&clients, "main-cluster", "ai-service", 2).await;
    seed_scalable_target(&clients, "main-cluster", "ai-service", 2, 2).await;
    seed_asg(&clients, "aiwg-production-asg", 2, 15, 3).await;
    let store = Store::new(aws_sdk_dynamodb::Client::new(&sdk), TABLE);
    assert!(store.create_table().await.unwrap());
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let (topic, queue) = seed_topic_with_queue(&clients.sns, &sqs, "capstan-lift").await;
    World {
        region,
        clients,
        store,
        sqs,
        topic,
        queue,
    }
}

/// Puts a cap of AI-Service-Monthly (rule ai-spend-100) in the table, as the budget handler
/// does, in force for the next 30 days.
async fn cap(w: &World) -> BudgetCap {
    let now = Utc::now().trunc_subsecs(0);
    let cap = BudgetCap {
        budget: BUDGET.to_string(),
        rule: "ai-spend-100".to_string(),
        since: now - Duration::hours(1),
        until: now + Duration::days(30),
    };
    let commit = Commit {
        caps: vec![cap.clone()],
        ..Commit::default()
    };
    w.store.commit(&commit, now).await.unwrap();
    cap
}

/// The ai service's bounds once no cap holds, by the policy, now.
fn uncapped_ai() -> (i32, i32) {
    let policy = capstan_policy::load(&std::fs::read_to_string(EXAMPLE).unwrap()).unwrap();
    let b = capstan_policy::effective_bounds(&policy, &State::at_floor(&policy), "ai", Utc::now());
    (b.floor as i32, b.ceiling as i32)
}

#[tokio::test]
async fn lifts_the_cap_through_the_runner_then_says_none_is_in_force() {
    let w = world().await;
    let held = cap(&w).await;
    let (floor, ceiling) = uncapped_ai();
    assert!(ceiling > 2, "the ai service's own ceiling is above the cap");

    let (code, out, err) = capstan(
        &w.region,
        &[
            "lift-cap",
            BUDGET,
            EXAMPLE,
            "--table",
            TABLE,
            "--topic-arn",
            &w.topic,
            "--user",
            "ana",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    // stdout is one JSON document, nothing else (the runner's metric lines stay off it).
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(doc["lifted"], true, "{doc:#}");
    assert_eq!(doc["user"], "cli:ana");
    assert_eq!(doc["caps"][0]["rule"], "ai-spend-100");
    assert_eq!(
        doc["caps"][0]["until"],
        held.until
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let key = doc["report"]["key"].as_str().unwrap();
    assert!(key.starts_with(&format!("cli:lift-cap:{BUDGET}:")), "{key}");
    let results = doc["report"]["results"].as_array().unwrap();
    let ai: Vec<&Value> = results.iter().filter(|r| r["target"] == "ai").collect();
    assert_eq!(ai.len(), 1, "{doc:#}");
    assert_eq!(ai[0]["outcome"], "changed", "{doc:#}");
    assert_eq!(ai[0]["from"]["max"], 2);
    assert_eq!(ai[0]["to"]["max"], ceiling);
    assert!(
        ai[0]["explanation"]
            .as_str()
            .unwrap()
            .contains("cap of budget AI-Service-Monthly lifted"),
        "{doc:#}"
    );
    // Nothing else was touched.
    assert!(
        results.iter().all(|r| r["target"] == "ai"),
        "only ai was held by the cap: {doc:#}"
    );
    let notices = doc["report"]["notices"].as_array().unwrap();
    assert!(
        notices
            .iter()
            .any(|n| n == "cap of budget AI-Service-Monthly lifted early by cli:ana"),
        "{doc:#}"
    );

    // Recorded: the cap is gone from the table; applied: ai has its ceiling back on AWS;
    // announced: the topic got the notice and the action.
    assert!(w.store.load_global().await.unwrap().caps.is_empty());
    assert_eq!(
        read_scalable_target(&w.clients, "main-cluster", "ai-service").await,
        Some((floor, ceiling))
    );
    let records = w.store.all_targets().await.unwrap();
    let history = &records["ai"].state.history;
    assert_eq!(
        history.last().map(|a| a.source.as_str()),
        Some("command:cli:ana")
    );
    let messages = read_messages(&w.sqs, &w.queue).await;
    let texts: Vec<&str> = messages
        .iter()
        .filter_map(|m| m["Message"].as_str())
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("lifted early by cli:ana")),
        "{texts:#?}"
    );
    assert!(
        texts.iter().any(|t| t.contains(&format!(
            "Done on AWS: ecs main-cluster/ai-service: scalable target min {floor} max {ceiling}"
        ))),
        "{texts:#?}"
    );

    // Again: nothing is in force, nothing changes, exit 1 with the engine's reason.
    let (code, out, err) = capstan(
        &w.region,
        &[
            "lift-cap", BUDGET, EXAMPLE, "--table", TABLE, "--user", "ana",
        ],
    );
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("notice: no cap of budget AI-Service-Monthly is in force"),
        "{out}"
    );
    assert!(
        out.contains("Nothing was lifted: no cap of budget AI-Service-Monthly is in force."),
        "{out}"
    );
    assert!(
        out.contains("no topic (--topic-arn, CAPSTAN_TOPIC_ARN): notifications were not published"),
        "{out}"
    );
    assert!(err.is_empty(), "the verdict is on stdout: {err}");
    // With --format json the verdict goes to stderr.
    let (code, out, err) = capstan(
        &w.region,
        &[
            "lift-cap", BUDGET, EXAMPLE, "--table", TABLE, "--user", "ana", "--format", "json",
        ],
    );
    assert_eq!(code, Some(1), "{out}{err}");
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(doc["lifted"], false);
    assert_eq!(doc["caps"], serde_json::json!([]));
    assert_eq!(
        err.trim(),
        "capstan: nothing was lifted: no cap of budget AI-Service-Monthly is in force"
    );
    assert_eq!(
        read_scalable_target(&w.clients, "main-cluster", "ai-service").await,
        Some((floor, ceiling))
    );
}

#[tokio::test]
async fn the_text_report_shows_each_target_and_the_verdict() {
    let w = world().await;
    let held = cap(&w).await;
    let (floor, ceiling) = uncapped_ai();
    // $USER names the operator when --user is not given.
    let (code, out, err) = capstan(
        &w.region,
        &[
            "lift-cap",
            BUDGET,
            EXAMPLE,
            "--table",
            TABLE,
            "--topic-arn",
            &w.topic,
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "lift-cap {BUDGET} by cli:ana (key cli:lift-cap:{BUDGET}:"
        )),
        "{out}"
    );
    assert!(
        lines.contains(
            &format!("  ai  changed: desired 2 (min 2, max 2) -> desired 2 (min 2, max {ceiling})")
                .as_str()
        ),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "      on AWS: ecs main-cluster/ai-service: scalable target min {floor} max {ceiling}"
        )),
        "the AWS call is shown: {out}"
    );
    assert!(
        out.contains("  notice: cap of budget AI-Service-Monthly lifted early by cli:ana\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!("  notifications to {}\n", w.topic)),
        "{out}"
    );
    assert!(
        out.ends_with(&format!(
            "Lifted the cap of budget {BUDGET} set by rule ai-spend-100 at {}; it would have \
             held until {}.\n",
            held.since.format("%Y-%m-%d %H:%M:%SZ"),
            held.until.format("%Y-%m-%d %H:%M:%SZ")
        )),
        "{out}"
    );
    assert!(!out.contains("_aws"), "no metric lines: {out}");
    assert!(err.is_empty(), "{err}");
}

#[tokio::test]
async fn an_unknown_budget_or_a_missing_table_changes_nothing() {
    let w = world().await;
    let held = cap(&w).await;

    let (code, out, err) = capstan(
        &w.region,
        &[
            "lift-cap",
            "Marketing-Monthly",
            EXAMPLE,
            "--table",
            TABLE,
            "--topic-arn",
            &w.topic,
        ],
    );
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert_eq!(
        err.trim(),
        "capstan: the policy has no budget Marketing-Monthly (its budgets: AI-Service-Monthly), \
         and no cap of it is in the table; nothing was changed"
    );

    let (code, out, err) = capstan(
        &w.region,
        &[
            "lift-cap",
            BUDGET,
            EXAMPLE,
            "--table",
            "no-such-table",
            "--topic-arn",
            &w.topic,
        ],
    );
    // Trouble: the table cannot be read, nothing was judged.
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("the state table no-such-table does not exist")
            && err.contains("capstan init --table no-such-table"),
        "{err}"
    );

    // A policy with problems is a finding (exit 1), before any AWS call.
    let bad = std::env::temp_dir().join(format!("capstan-lift-bad-{}.toml", std::process::id()));
    std::fs::write(&bad, "[targets.api]\nkind = \"ecs\"\n").unwrap();
    let (code, out, err) = capstan(
        &w.region,
        &["lift-cap", BUDGET, bad.to_str().unwrap(), "--table", TABLE],
    );
    let _ = std::fs::remove_file(&bad);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.contains("fix the policy to lift a cap"), "{err}");

    // Nothing changed: the cap is still there, ai still held, nobody was told.
    assert_eq!(w.store.load_global().await.unwrap().caps, vec![held]);
    assert_eq!(
        read_scalable_target(&w.clients, "main-cluster", "ai-service").await,
        Some((2, 2))
    );
    assert!(w.store.all_targets().await.unwrap().is_empty());
    assert!(read_messages(&w.sqs, &w.queue).await.is_empty());
}

#[tokio::test]
async fn no_user_is_a_usage_error() {
    let region = MotoRegion::lease().await;
    let out = common::command(&region.endpoint(), region.name(), &[])
        .args(["lift-cap", BUDGET, EXAMPLE, "--table", TABLE])
        .env_remove("USER")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "capstan: who is lifting the cap? give --user NAME (or set USER)"
    );
}
