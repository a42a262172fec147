//! The operator's verbs end to end: `capstan scale`, `pause`, `resume`, `undo` and `event
//! add|cancel` against moto (a fresh region per test), through the runner as `cli:<user>`;
//! then `capstan status` shows who did what. The tests act on the example's web group (2..15,
//! no schedule or event moves its bounds, whatever the day).

mod common;

use capstan_aws::testing::{
    read_asg, read_messages, seed_asg, seed_ecs_service, seed_scalable_target,
    seed_topic_with_queue,
};
use capstan_aws::Clients;
use capstan_moto::MotoRegion;
use capstan_store::Store;
use chrono::{Duration, Utc};
use serde_json::Value;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../capstan.example.toml");
const TABLE: &str = "capstan-operate-state";
const GROUP: &str = "aiwg-production-asg";

/// Runs `capstan ARGS` against the region with the example policy and the test's table in
/// the environment (see [`common::capstan`]).
fn capstan(region: &MotoRegion, args: &[&str]) -> (Option<i32>, String, String) {
    let env = [("CAPSTAN_TABLE", TABLE), ("CAPSTAN_POLICY", EXAMPLE)];
    common::capstan_in(region, &env, args)
}

struct World {
    region: MotoRegion,
    clients: Clients,
    store: Store,
}

/// The example's resources (web at 3 in 2..15), the table.
async fn world() -> World {
    let region = MotoRegion::lease().await;
    let sdk = region.sdk_config().await;
    let clients = Clients::new(&sdk);
    seed_ecs_service(&clients, "main-cluster", "api-service", 4).await;
    seed_scalable_target(&clients, "main-cluster", "api-service", 4, 20).await;
    seed_ecs_service(&clients, "main-cluster", "frontend-service", 2).await;
    seed_ecs_service(&clients, "main-cluster", "ai-service", 2).await;
    seed_asg(&clients, GROUP, 2, 15, 3).await;
    let store = Store::new(aws_sdk_dynamodb::Client::new(&sdk), TABLE);
    assert!(store.create_table().await.unwrap());
    World {
        region,
        clients,
        store,
    }
}

/// The lines of the audit section of `capstan status`.
fn audit(status: &str) -> Vec<String> {
    status
        .lines()
        .skip_while(|l| !l.starts_with("audit"))
        .map(|l| l[10..].to_string())
        .collect()
}

#[tokio::test]
async fn scale_refuse_undo_then_status_shows_who_did_what() {
    let w = world().await;
    let sqs = aws_sdk_sqs::Client::new(&w.region.sdk_config().await);
    let (topic, queue) = seed_topic_with_queue(&w.clients.sns, &sqs, "capstan-operate").await;

    let (code, out, err) = capstan(&w.region, &["scale", "web", "5", "--topic-arn", &topic]);
    assert_eq!(code, Some(0), "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("scale web 5 by cli:ana (key cli:scale:web:"),
        "{out}"
    );
    assert!(
        out.contains("  web  changed: desired 3 (min 2, max 15) -> desired 5 (min 2, max 15)\n"),
        "{out}"
    );
    assert!(out.ends_with("Scaled web 3 -> 5.\n"), "{out}");
    assert!(!out.contains("_aws"), "no metric lines: {out}");
    assert!(err.is_empty(), "{err}");
    assert_eq!(read_asg(&w.clients, GROUP).await, (2, 15, 5));
    let records = w.store.all_targets().await.unwrap();
    assert_eq!(
        records["web"]
            .state
            .last_action()
            .map(|a| a.source.as_str()),
        Some("command:cli:ana")
    );
    let messages = read_messages(&sqs, &queue).await;
    assert!(
        messages
            .iter()
            .filter_map(|m| m["Message"].as_str())
            .any(|t| t.contains("Done on AWS: asg aiwg-production-asg: desired 5")),
        "{messages:#?}"
    );

    // Above the ceiling without --force: refused, exit 1, nothing changed.
    let (code, out, err) = capstan(&w.region, &["scale", "web", "40", "--user", "bo"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("  web  suppressed (at-ceiling)\n"), "{out}");
    assert!(
        out.ends_with(
            "Nothing was changed: `scale web 40` by cli:bo: 40 is above the ceiling 15 (target \
             bounds 2..15); add --force to override (audited).\n"
        ),
        "{out}"
    );
    assert_eq!(read_asg(&w.clients, GROUP).await, (2, 15, 5));

    // A relative change below the floor: the same (a negative number is an argument).
    let (code, out, _) = capstan(&w.region, &["scale", "web", "-4"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("below the floor 2"), "{out}");

    // Undo goes back to 3; then there is nothing to change at 3.
    let (code, out, err) = capstan(&w.region, &["undo", "web", "--format", "json"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(doc["done"], true);
    assert_eq!(doc["command"], "undo web");
    assert_eq!(doc["user"], "cli:ana");
    assert_eq!(doc["target"], "web");
    assert_eq!(doc["changed"][0]["to"]["desired"], 3);
    assert!(doc["report"]["key"]
        .as_str()
        .unwrap()
        .starts_with("cli:undo:web:"));
    assert_eq!(read_asg(&w.clients, GROUP).await, (2, 15, 3));
    let (code, out, err) = capstan(&w.region, &["scale", "web", "3", "--format", "json"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert_eq!(
        err.trim(),
        "capstan: nothing was changed: `scale web 3` by cli:ana: desired already 3"
    );

    // The record: who, channel (none), verb, target, before -> after, outcome, newest first.
    let (code, out, err) = capstan(&w.region, &["status", EXAMPLE]);
    assert_eq!(code, Some(0), "{out}{err}");
    let trail = audit(&out);
    let tail = |l: &String| l[22..].to_string();
    assert_eq!(
        trail.iter().map(tail).collect::<Vec<_>>(),
        [
            "cli:ana  scale web  -  already-right: `scale web 3` by cli:ana: desired already 3",
            "cli:ana  undo web  5 -> 3  changed",
            "cli:ana  scale web  -  at-floor: `scale web -4` by cli:ana: 1 is below the floor 2 \
             (target bounds 2..15); add --force to override (audited)",
            "cli:bo  scale web  -  at-ceiling: `scale web 40` by cli:bo: 40 is above the ceiling \
             15 (target bounds 2..15); add --force to override (audited)",
            "cli:ana  scale web  3 -> 5  changed",
        ],
        "{out}"
    );
    assert!(
        out.contains("  actions   ") && out.contains("(undo by cli:ana)"),
        "{out}"
    );
    let (code, out, _) = capstan(&w.region, &["status", EXAMPLE, "--format", "json"]);
    assert_eq!(code, Some(0));
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["audit"][1]["verb"], "undo");
    assert_eq!(doc["audit"][1]["by"], "cli:ana");
    assert_eq!(doc["audit"][1]["channel"], Value::Null);
}

#[tokio::test]
async fn force_pause_pin_and_resume() {
    let w = world().await;

    // --force past the ceiling: applied, and pinned so that the next tick does not undo it.
    let (code, out, err) = capstan(&w.region, &["scale", "web", "18", "--force"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(read_asg(&w.clients, GROUP).await, (2, 18, 18));
    assert!(out.contains("FORCED"), "{out}");
    let records = w.store.all_targets().await.unwrap();
    let pause = records["web"].state.pause.clone().expect("pinned");
    assert_eq!((pause.pin, pause.by.as_str()), (Some(18), "cli:ana"));

    let (code, out, err) = capstan(&w.region, &["resume", "web"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("  notice: web resumed by cli:ana\n"), "{out}");
    assert!(
        out.ends_with("Resumed web: automation has it back.\n"),
        "{out}"
    );
    // Nothing to resume now.
    let (code, out, _) = capstan(&w.region, &["resume", "web"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.ends_with("Nothing was changed: web was not paused.\n"),
        "{out}"
    );

    // A pause with a pin within the bounds, for 30 minutes.
    let (code, out, err) = capstan(&w.region, &["pause", "web", "30m", "pin", "4"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let records = w.store.all_targets().await.unwrap();
    let pause = records["web"].state.pause.clone().expect("paused");
    assert_eq!(pause.pin, Some(4));
    let left = pause.until - Utc::now();
    assert!(
        left > Duration::minutes(29) && left <= Duration::minutes(30),
        "{pause:?}"
    );
    assert!(out.contains("Web pinned at 4 until "), "{out}");
    // A pin outside the bounds without --force is refused and changes nothing.
    let (code, out, _) = capstan(&w.region, &["pause", "web", "for", "1h", "pin", "40"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("pin 40 is outside 2..15"), "{out}");
    assert_eq!(
        w.store.all_targets().await.unwrap()["web"].state.pause,
        Some(pause)
    );
    let (code, out, _) = capstan(&w.region, &["status", EXAMPLE]);
    assert_eq!(code, Some(0));
    let trail = audit(&out);
    assert!(
        trail[0].contains("cli:ana  pause web  -  at-ceiling"),
        "{out}"
    );
    assert!(
        trail[1].contains("cli:ana  pause web  -  pinned: web pinned at 4 by cli:ana"),
        "{out}"
    );
    assert!(
        trail[2].contains("cli:ana  resume *  -  noted: web was not paused"),
        "{out}"
    );
    assert!(
        trail[3].contains("cli:ana  resume web  -  resumed"),
        "{out}"
    );
}

#[tokio::test]
async fn events_are_added_and_cancelled() {
    let w = world().await;
    let start = (Utc::now() + Duration::days(2))
        .format("%Y-%m-%dT%H:%MZ")
        .to_string();
    let end = (Utc::now() + Duration::days(2) + Duration::hours(4))
        .format("%Y-%m-%dT%H:%MZ")
        .to_string();
    let (code, out, err) = capstan(
        &w.region,
        &[
            "event",
            "add",
            "promo day",
            &start,
            &end,
            "web=floor:6",
            "lead",
            "1h",
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.starts_with(&format!(
            "event add \"promo day\" {start} {end} web=floor:6 lead 1h by cli:ana (key cli:event-add:promo day:"
        )),
        "{out}"
    );
    assert!(out.contains("Added event promo day: "), "{out}");
    let events = w.store.load_global().await.unwrap().events;
    assert_eq!(events["promo day"].targets.len(), 1, "{events:?}");
    let stored = serde_json::to_value(&events["promo day"]).unwrap();
    // Nothing moves on AWS two days ahead.
    assert_eq!(read_asg(&w.clients, GROUP).await, (2, 15, 3));

    // The same again is one event: nothing done.
    let (code, out, _) = capstan(
        &w.region,
        &[
            "event",
            "add",
            "promo day",
            &start,
            &end,
            "web=floor:6",
            "lead",
            "1h",
        ],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("already scheduled"), "{out}");

    let (code, out, err) = capstan(
        &w.region,
        &["event", "cancel", "promo day", "--format", "json"],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["event"], "promo day");
    assert_eq!(doc["cancelled"], stored);
    assert!(w.store.load_global().await.unwrap().events.is_empty());
    let (code, _, _) = capstan(&w.region, &["event", "cancel", "promo day"]);
    assert_eq!(code, Some(1));

    let (_, out, _) = capstan(&w.region, &["status", EXAMPLE]);
    let trail = audit(&out);
    assert_eq!(trail.len(), 4, "{out}");
    assert!(
        trail[1].contains("cli:ana  event *  -  changed: event promo day"),
        "{out}"
    );
}

#[tokio::test]
async fn an_unknown_target_or_bad_usage_exits_2_and_changes_nothing() {
    let w = world().await;
    for args in [
        &["scale", "webb", "5"][..],
        &["pause", "webb", "1h"][..],
        &["resume", "webb"][..],
        &["undo", "webb"][..],
        &[
            "event",
            "add",
            "x",
            "2030-01-01T08:00Z",
            "2030-01-01T10:00Z",
            "webb=floor:3",
        ][..],
    ] {
        let (code, out, err) = capstan(&w.region, args);
        assert_eq!(code, Some(2), "{args:?}: {out}{err}");
        assert!(out.is_empty(), "{out}");
        assert_eq!(
            err.trim(),
            "capstan: the policy has no target webb (its targets: ai, api, frontend, web); \
             nothing was changed",
            "{args:?}"
        );
    }
    // What the parser refuses, with the command's usage.
    let (code, out, err) = capstan(&w.region, &["scale", "web", "lots"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.starts_with("capstan: `scale web lots`: `lots`"),
        "{err}"
    );
    assert!(err.contains("usage: scale TARGET"), "{err}");
    // No user.
    let out = common::command(&w.region.endpoint(), w.region.name(), &[])
        .args(["scale", "web", "5", "--policy", EXAMPLE])
        .env_remove("USER")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "capstan: who is scaling? give --user NAME (or set USER)"
    );
    // A missing table is trouble (exit 2), found before anything is decided.
    let (code, _, err) = capstan(&w.region, &["scale", "web", "5", "--table", "nope"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("the state table nope does not exist"), "{err}");

    assert_eq!(read_asg(&w.clients, GROUP).await, (2, 15, 3));
    assert!(w.store.all_targets().await.unwrap().is_empty());
    assert!(w.store.load_global().await.unwrap().events.is_empty());
}

/// A target AWS cannot change is a finding (exit 1), like a refusal: the action was asked for
/// and failed (here its service does not exist on AWS).
#[tokio::test]
async fn a_target_that_fails_on_aws_exits_1() {
    let region = MotoRegion::lease().await;
    let sdk = region.sdk_config().await;
    let clients = Clients::new(&sdk);
    // Everything but api's service: it does not exist on AWS.
    seed_ecs_service(&clients, "main-cluster", "frontend-service", 2).await;
    seed_ecs_service(&clients, "main-cluster", "ai-service", 2).await;
    seed_asg(&clients, GROUP, 2, 15, 3).await;
    let store = Store::new(aws_sdk_dynamodb::Client::new(&sdk), TABLE);
    assert!(store.create_table().await.unwrap());

    let (code, out, err) = capstan(&region, &["scale", "api", "6"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("  api  failed\n"), "{out}");
    assert!(
        out.contains("cannot decide for api: ecs main-cluster/api-service was not found on AWS"),
        "{out}"
    );
    assert!(out.ends_with("1 target(s) failed (see above).\n"), "{out}");
    // The runner reads every target for a command: web is scaled, api fails beside it, and
    // a failure beside what was done is a finding all the same.
    let (code, out, err) = capstan(&region, &["scale", "web", "4"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.ends_with("Scaled web 3 -> 4, but 1 target(s) failed (see above).\n"),
        "{out}"
    );
    assert_eq!(read_asg(&clients, GROUP).await, (2, 15, 4));
}

/// A policy with problems is a finding (exit 1) for every verb, as `validate` says of it, and
/// no AWS call is made; AWS that cannot be reached is trouble (exit 2).
#[test]
fn a_bad_policy_exits_1_and_an_unreachable_endpoint_2() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("operate-exit-codes");
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[targets.web]\nkind = \"asg\"\nfloor = 5\nceiling = 3\n",
    )
    .unwrap();
    let bad = bad.to_str().unwrap();
    let endpoint = format!("http://127.0.0.1:{}", common::closed_port());
    let verbs: [&[&str]; 6] = [
        &["scale", "web", "5"],
        &["pause", "web", "1h"],
        &["resume", "web"],
        &["undo", "web"],
        &["event", "cancel", "x"],
        &["lift-cap", "B", bad],
    ];
    for verb in verbs {
        let mut args = verb.to_vec();
        if verb[0] != "lift-cap" {
            args.extend(["--policy", bad]);
        }
        let (code, out, err) = common::capstan(&endpoint, "us-east-1", &[], &args);
        assert_eq!(code, Some(1), "{args:?}: {out}{err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains(&format!("{bad}:")), "{args:?}: {err}");
        assert!(err.contains("fix the policy to "), "{args:?}: {err}");
        assert!(!err.contains("cannot reach"), "{args:?}: {err}");
    }

    for verb in verbs {
        let mut args = verb.to_vec();
        if verb[0] == "lift-cap" {
            args[2] = EXAMPLE;
        } else {
            args.extend(["--policy", EXAMPLE]);
        }
        args.extend(["--table", TABLE]);
        let (code, out, err) = common::capstan(&endpoint, "us-east-1", &[], &args);
        assert_eq!(code, Some(2), "{args:?}: {out}{err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(
            err.starts_with(&format!("capstan: cannot reach {endpoint} (")),
            "{args:?}: {err}"
        );
    }
}
