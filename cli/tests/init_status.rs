//! `capstan init` and `capstan status` end to end: the binary against a moto server of its own
//! per test, seeded with the example policy's ECS services and Auto Scaling group.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use aws_sdk_dynamodb::types::{TableStatus, TimeToLiveStatus};
use capstan_aws::testing::{seed_asg, seed_ecs_service, seed_scalable_target};
use capstan_aws::Clients;
use capstan_moto::Moto;
use capstan_policy::decision::Capacity;
use capstan_policy::state::{ActionRecord, TargetState};
use capstan_store::{Commit, LogEntry, Pending, Store, TargetRecord};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../capstan.example.toml");
const TABLE: &str = "capstan-test-state";
/// A Monday at 10:00 UTC: business hours hold on api (4..20).
const NOW: &str = "2026-12-07T10:00:00Z";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .with_timezone(&Utc)
}

/// Runs `capstan ARGS` against `endpoint` in us-east-1 (see [`common::capstan`]).
fn capstan(endpoint: &str, args: &[&str]) -> (Option<i32>, String, String) {
    common::capstan(endpoint, "us-east-1", &[], args)
}

fn status(endpoint: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec!["status", EXAMPLE, "--table", TABLE, "--now", NOW];
    args.extend_from_slice(extra);
    capstan(endpoint, &args)
}

/// The example policy's ECS services (api managed 2..20), and its group unless `with_asg` is
/// false.
async fn seed(moto: &Moto, with_asg: bool) {
    let clients = Clients::new(&moto.sdk_config().await);
    seed_ecs_service(&clients, "main-cluster", "api-service", 3).await;
    seed_scalable_target(&clients, "main-cluster", "api-service", 2, 20).await;
    seed_ecs_service(&clients, "main-cluster", "frontend-service", 2).await;
    seed_ecs_service(&clients, "main-cluster", "ai-service", 2).await;
    if with_asg {
        seed_asg(&clients, "aiwg-production-asg", 2, 15, 3).await;
    }
}

/// The lines of the block of `instance` (its header line first).
fn block<'a>(text: &'a str, instance: &str) -> Vec<&'a str> {
    let mut lines = text
        .lines()
        .skip_while(|l| !(l.starts_with(instance) && l[instance.len()..].starts_with("  ")));
    let Some(header) = lines.next() else {
        panic!("no block for {instance} in:\n{text}");
    };
    std::iter::once(header)
        .chain(lines.take_while(|l| l.starts_with("  ")))
        .collect()
}

/// The value of the row `label` in a block (the first row of that label).
fn row<'a>(block: &[&'a str], label: &str) -> &'a str {
    block
        .iter()
        .find_map(|l| l.strip_prefix(&format!("  {label:<8}  ")))
        .unwrap_or_else(|| panic!("no `{label}` row in:\n{}", block.join("\n")))
}

#[tokio::test]
async fn init_creates_the_table_once_with_ttl_on_expires_at_and_status_reads_it() {
    let moto = Moto::start().await;
    let endpoint = moto.endpoint();

    let (code, out, err) = capstan(&endpoint, &["init", "--table", TABLE]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        out,
        format!("created table {TABLE} at {endpoint} (us-east-1); TTL on expires_at\n")
    );

    let (code, out, err) = capstan(&endpoint, &["init", "--table", TABLE]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        out,
        format!("table {TABLE} already exists at {endpoint} (us-east-1); TTL on expires_at\n")
    );

    let ddb = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    let table = ddb.describe_table().table_name(TABLE).send().await.unwrap();
    let table = table.table().expect("the table is described");
    assert_eq!(table.table_status(), Some(&TableStatus::Active));
    let keys: Vec<&str> = table
        .key_schema()
        .iter()
        .map(|k| k.attribute_name())
        .collect();
    assert_eq!(keys, ["pk", "sk"]);
    let ttl = ddb
        .describe_time_to_live()
        .table_name(TABLE)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().expect("a TTL description");
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));

    // Nothing is seeded, not even the cluster: every target is there, and says it is missing.
    let (code, out, err) = status(&endpoint, &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        row(&block(&out, "api"), "capacity"),
        "NOT FOUND on AWS: ecs main-cluster/api-service does not exist"
    );
    assert_eq!(out.matches("NOT FOUND on AWS").count(), 4, "{out}");
}

#[tokio::test]
async fn status_on_an_empty_table_shows_every_target_with_live_numbers() {
    let moto = Moto::start().await;
    let endpoint = moto.endpoint();
    seed(&moto, true).await;
    let (code, out, err) = capstan(&endpoint, &["init", "--table", TABLE]);
    assert_eq!(code, Some(0), "{out}{err}");

    let (code, out, err) = status(&endpoint, &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.starts_with(&format!(
            "capstan status at 2026-12-07 10:00:00Z · table {TABLE} · policy {EXAMPLE}\n"
        )),
        "{out}"
    );
    // Every block's resource starts in the same column (after the longest name, frontend).
    let api = block(&out, "api");
    assert_eq!(api[0], "api       ecs main-cluster/api-service");
    assert!(
        row(&api, "capacity").starts_with("desired 3, running "),
        "{out}"
    );
    assert!(
        row(&api, "capacity").ends_with(" · on AWS min 2, max 20"),
        "{out}"
    );
    assert_eq!(
        row(&api, "bounds"),
        "4..20 now (target bounds 2..20; period business-hours holds: 4..20)"
    );
    assert_eq!(row(&api, "cooldown"), "scale-out clear; scale-in clear");
    assert_eq!(row(&api, "guard"), "30m (rule api-cpu-low): clear");
    assert_eq!(row(&api, "actions"), "no actions yet");

    let frontend = block(&out, "frontend");
    assert_eq!(frontend[0], "frontend  ecs main-cluster/frontend-service");
    assert!(
        row(&frontend, "capacity").starts_with("desired 2, running "),
        "{out}"
    );
    assert!(
        row(&frontend, "capacity").ends_with("on AWS no scalable target (no min/max)"),
        "{out}"
    );
    assert_eq!(row(&frontend, "guard"), "none");

    let web = block(&out, "web");
    assert_eq!(web[0], "web       asg aiwg-production-asg");
    assert!(
        row(&web, "capacity").starts_with("desired 3, running "),
        "{out}"
    );
    assert!(
        row(&web, "capacity").ends_with(" · on AWS min 2, max 15"),
        "{out}"
    );
    assert_eq!(row(&web, "guard"), "30m (target): clear");

    let ai = block(&out, "ai");
    assert_eq!(row(&ai, "bounds"), "2..30 now (target bounds 2..30)");
    assert_eq!(out.matches("no actions yet").count(), 4, "{out}");
    assert!(!out.contains("NOT FOUND"), "{out}");

    // The same as JSON: every target, with the live numbers and no record yet.
    let (code, out, err) = status(&endpoint, &["--format", "json"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let doc: Value = serde_json::from_str(&out).expect("status --format json is JSON");
    assert_eq!(doc["at"], "2026-12-07T10:00:00Z");
    assert_eq!(doc["table"], TABLE);
    let targets = doc["targets"].as_array().expect("targets is an array");
    let names: BTreeSet<&str> = targets
        .iter()
        .map(|t| t["instance"].as_str().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["ai", "api", "frontend", "web"]));
    let api = targets.iter().find(|t| t["instance"] == "api").unwrap();
    assert_eq!(api["live"]["desired"], 3);
    assert_eq!(api["live"]["min"], 2);
    assert_eq!(api["live"]["max"], 20);
    assert_eq!(api["bounds"]["floor"], 4);
    assert_eq!(api["bounds"]["ceiling"], 20);
    assert_eq!(api["record"], Value::Null);
    assert_eq!(api["recent"], serde_json::json!([]));
    assert!(
        api["line"]
            .as_str()
            .unwrap()
            .starts_with("api: desired 3 running "),
        "{api}"
    );
}

fn log_entry(at: DateTime<Utc>, key: &str, source: &str, from: u32, to: u32) -> LogEntry {
    let cap = |desired| Capacity {
        desired,
        min: 4,
        max: 20,
    };
    LogEntry {
        at,
        key: key.to_string(),
        target: "api".to_string(),
        source: source.to_string(),
        signal: format!("alarm {} ALARM", source.trim_start_matches("rule:")),
        outcome: "changed".to_string(),
        from: Some(cap(from)),
        to: Some(cap(to)),
        explanation: String::new(),
        ..LogEntry::default()
    }
}

#[tokio::test]
async fn status_shows_the_last_actions_a_running_cooldown_and_a_missing_group() {
    let moto = Moto::start().await;
    let endpoint = moto.endpoint();
    seed(&moto, false).await;
    let store = Store::new(
        aws_sdk_dynamodb::Client::new(&moto.sdk_config().await),
        TABLE,
    );
    assert!(store.create_table().await.unwrap());

    // api went 4 -> 5 -> 6 -> 7 -> 8 over the last half hour, the last two minutes ago.
    let t = now();
    let steps = [(30, 4, 5), (20, 5, 6), (10, 6, 7), (2, 7, 8)];
    let mut state = TargetState::new("api", 8, 4, 20);
    let mut log = Vec::new();
    for (i, (ago, from, to)) in steps.into_iter().enumerate() {
        let at = t - Duration::minutes(ago);
        state.history.push(ActionRecord {
            at,
            source: "rule:api-cpu-high".to_string(),
            from,
            to,
            forced: false,
        });
        log.push(log_entry(
            at,
            &format!("k{i}"),
            "rule:api-cpu-high",
            from,
            to,
        ));
    }
    let mut record = TargetRecord::new(state, t - Duration::minutes(2));
    record.pending = Some(Pending {
        key: "k3".to_string(),
        at: t - Duration::minutes(2),
        source: "rule:api-cpu-high".to_string(),
        from: Capacity {
            desired: 7,
            min: 4,
            max: 20,
        },
        to: Capacity {
            desired: 8,
            min: 4,
            max: 20,
        },
        attempt: "a1".to_string(),
        deadline: None,
        plan: None,
        prior: None,
    });
    record.last_error = Some("sns:Publish failed (AuthorizationError): not allowed".to_string());
    let commit = Commit {
        record: Some(("api".to_string(), record)),
        log,
        ..Commit::default()
    };
    store.commit(&commit, t).await.unwrap();

    let (code, out, err) = status(&endpoint, &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    let api = block(&out, "api");
    // The rule has no cooldown of its own: the target's 300 s, from 09:58.
    assert_eq!(
        row(&api, "cooldown"),
        "scale-out until 10:03:00Z (in 3m), after rule:api-cpu-high 7 -> 8; \
         scale-in clear"
    );
    assert_eq!(
        row(&api, "guard"),
        "30m (rule api-cpu-low): blocks scale-in until 10:28:00Z (in 28m)"
    );
    assert_eq!(
        row(&api, "pending"),
        "7 -> 8 by rule:api-cpu-high (key k3), committed 09:58:00Z (2m ago); left unfinished: \
         the next delivery completes it"
    );
    assert_eq!(
        row(&api, "error"),
        "sns:Publish failed (AuthorizationError): not allowed"
    );
    // The newest three, newest first; the oldest (4 -> 5) is not shown.
    let actions: Vec<&str> = api
        .iter()
        .skip_while(|l| !l.starts_with("  actions"))
        .map(|l| l[12..].trim_end())
        .collect();
    assert_eq!(
        actions,
        [
            "2026-12-07 09:58:00Z  rule:api-cpu-high  7 -> 8  changed",
            "2026-12-07 09:50:00Z  rule:api-cpu-high  6 -> 7  changed",
            "2026-12-07 09:40:00Z  rule:api-cpu-high  5 -> 6  changed",
        ]
    );
    // Others have no record and are untouched by api's.
    assert_eq!(row(&block(&out, "ai"), "actions"), "no actions yet");
    // The group was never created.
    assert_eq!(
        row(&block(&out, "web"), "capacity"),
        "NOT FOUND on AWS: asg aiwg-production-asg does not exist"
    );

    // Three minutes later the cooldown has run out; the guard has not.
    let (code, out, err) = capstan(
        &endpoint,
        &[
            "status",
            EXAMPLE,
            "--table",
            TABLE,
            "--now",
            "2026-12-07T10:03:00Z",
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let api = block(&out, "api");
    assert_eq!(row(&api, "cooldown"), "scale-out clear; scale-in clear");
    assert!(
        row(&api, "guard").contains("blocks scale-in until"),
        "{out}"
    );

    let (code, out, err) = status(&endpoint, &["--format", "json"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let targets = doc["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 4, "{doc}");
    let api = targets.iter().find(|t| t["instance"] == "api").unwrap();
    assert_eq!(api["record"]["version"], 1);
    assert_eq!(api["recent"].as_array().unwrap().len(), 3);
    assert_eq!(api["recent"][0]["to"]["desired"], 8);
    assert_eq!(api["cooldowns"][0]["direction"], "out");
    assert_eq!(api["cooldowns"][0]["running"], true);
    assert_eq!(api["cooldowns"][0]["until"], "2026-12-07T10:03:00Z");
    assert_eq!(api["pending"]["to"]["desired"], 8);
    let web = targets.iter().find(|t| t["instance"] == "web").unwrap();
    assert_eq!(web["live"], Value::Null);
}

/// A suppression on `target`'s log, `ago` seconds before [`NOW`]: `reason` held back what
/// `source` asked for.
fn held(target: &str, ago: i64, key: &str, source: &str, reason: &str, why: &str) -> LogEntry {
    LogEntry {
        at: now() - Duration::seconds(ago),
        key: key.to_string(),
        target: target.to_string(),
        source: source.to_string(),
        signal: format!("alarm {target}-cpu-high ALARM"),
        outcome: reason.to_string(),
        explanation: why.to_string(),
        ..LogEntry::default()
    }
}

/// The values of the rows of `label` in a block: its own row and the unlabelled ones under it.
fn rows<'a>(block: &[&'a str], label: &str) -> Vec<&'a str> {
    let head = format!("  {label:<8}  ");
    let Some(start) = block.iter().position(|l| l.starts_with(&head)) else {
        return Vec::new();
    };
    std::iter::once(&block[start][head.len()..])
        .chain(
            block[start + 1..]
                .iter()
                .take_while(|l| l.starts_with(&" ".repeat(12)))
                .map(|l| &l[12..]),
        )
        .collect()
}

#[tokio::test]
async fn status_lists_actions_and_suppressions_apart() {
    let moto = Moto::start().await;
    let endpoint = moto.endpoint();
    seed(&moto, false).await;
    let store = Store::new(
        aws_sdk_dynamodb::Client::new(&moto.sdk_config().await),
        TABLE,
    );
    assert!(store.create_table().await.unwrap());
    let t = now();

    // api, newest first: an operator's refusal, a cooldown, a change, a cooldown, a change.
    let mut refused = held(
        "api",
        60,
        "slack:r1",
        "command:cli:bo",
        "at-ceiling",
        "`scale api 40` by cli:bo: 40 is above the ceiling 20",
    );
    refused.by = Some("cli:bo".to_string());
    refused.verb = Some("scale".to_string());
    let mut log = vec![
        refused,
        held(
            "api",
            180,
            "h1",
            "rule:api-cpu-high",
            "cooldown",
            "scale-out cooldown until 10:04:00Z",
        ),
        log_entry(t - Duration::seconds(300), "c2", "rule:api-cpu-high", 5, 6),
        held(
            "api",
            420,
            "h2",
            "rule:api-cpu-high",
            "cooldown",
            "scale-out cooldown until 09:58:00Z",
        ),
        log_entry(t - Duration::seconds(540), "c1", "rule:api-cpu-high", 4, 5),
    ];
    // frontend: one change an hour ago, then a cooldown every minute since: the newest entries
    // the view reads are all suppressions, and the change must still be shown.
    let mut change = log_entry(t - Duration::hours(1), "f0", "rule:frontend-up", 2, 3);
    change.target = "frontend".to_string();
    log.push(change);
    for i in 1..=12 {
        log.push(held(
            "frontend",
            i * 60,
            &format!("f{i}"),
            "rule:frontend-up",
            "cooldown",
            "scale-out cooldown",
        ));
    }
    let commit = Commit {
        log,
        ..Commit::default()
    };
    store.commit(&commit, t).await.unwrap();

    let (code, out, err) = status(&endpoint, &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    let api = block(&out, "api");
    assert_eq!(
        rows(&api, "actions"),
        [
            "2026-12-07 09:55:00Z  rule:api-cpu-high  5 -> 6  changed",
            "2026-12-07 09:51:00Z  rule:api-cpu-high  4 -> 5  changed",
        ],
        "{out}"
    );
    assert_eq!(
        rows(&api, "held"),
        [
            "2026-12-07 09:59:00Z  command:cli:bo     at-ceiling: `scale api 40` by cli:bo: 40 \
             is above the ceiling 20  (scale by cli:bo)",
            "2026-12-07 09:57:00Z  rule:api-cpu-high  cooldown: scale-out cooldown until \
             10:04:00Z",
            "2026-12-07 09:53:00Z  rule:api-cpu-high  cooldown: scale-out cooldown until \
             09:58:00Z",
        ],
        "{out}"
    );
    let frontend = block(&out, "frontend");
    assert_eq!(
        rows(&frontend, "actions"),
        ["2026-12-07 09:00:00Z  rule:frontend-up  2 -> 3  changed"],
        "{out}"
    );
    let frontend_held = rows(&frontend, "held");
    assert_eq!(frontend_held.len(), 3, "{out}");
    assert!(
        frontend_held
            .iter()
            .all(|l| l.contains("  cooldown: scale-out cooldown")),
        "{out}"
    );
    assert_eq!(
        frontend_held[0],
        "2026-12-07 09:59:00Z  rule:frontend-up  cooldown: scale-out cooldown"
    );
    // Nothing held back anywhere else: no `held` row, and no action either.
    let ai = block(&out, "ai");
    assert!(rows(&ai, "held").is_empty(), "{out}");
    assert_eq!(rows(&ai, "actions"), ["no actions yet"]);

    // JSON: `recent` as ever (the newest three, of any kind), `actions` and `suppressions`
    // apart.
    let (code, out, err) = status(&endpoint, &["--format", "json"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let target = |name: &str| -> Value {
        doc["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["instance"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {doc}"))
    };
    let outcomes = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|e| e["outcome"].as_str().unwrap().to_string())
            .collect()
    };
    let api = target("api");
    assert_eq!(
        outcomes(&api["recent"]),
        ["at-ceiling", "cooldown", "changed"]
    );
    assert_eq!(outcomes(&api["actions"]), ["changed", "changed"]);
    assert_eq!(api["actions"][0]["to"]["desired"], 6);
    assert_eq!(
        outcomes(&api["suppressions"]),
        ["at-ceiling", "cooldown", "cooldown"]
    );
    assert_eq!(api["suppressions"][0]["by"], "cli:bo");
    let frontend = target("frontend");
    assert_eq!(outcomes(&frontend["actions"]), ["changed"]);
    assert_eq!(frontend["actions"][0]["key"], "f0");
    assert_eq!(outcomes(&frontend["suppressions"]).len(), 3);
    assert_eq!(target("ai")["actions"], serde_json::json!([]));
    assert_eq!(target("ai")["suppressions"], serde_json::json!([]));
}

/// A policy with a floor above its ceiling (line 5, column 9).
const BROKEN: &str =
    "[targets.api]\nkind = \"ecs\"\ncluster = \"c\"\nservice = \"s\"\nfloor = 5\nceiling = 3\n";

#[test]
fn a_bad_policy_exits_1_an_unreadable_one_2_and_neither_calls_aws() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("init-status-bad-policy");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, BROKEN).unwrap();
    let file = path.to_str().unwrap();
    // Nothing listens at the endpoint: the policy is refused before AWS is asked anything.
    let endpoint = format!("http://127.0.0.1:{}", common::closed_port());
    // Problems in the policy are a finding, as `validate` says of the same file.
    let (code, out, err) = capstan(&endpoint, &["status", file, "--table", TABLE]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains(&format!("{file}:5:9: ")), "{err}");
    assert!(err.contains("fix the policy to see the status"), "{err}");
    assert!(!err.contains("cannot reach"), "{err}");
    let (code, _, _) = capstan(&endpoint, &["validate", file]);
    assert_eq!(code, Some(1));

    // A file that cannot be read is trouble: nothing was judged.
    let (code, _, err) = capstan(&endpoint, &["status", "/nonexistent/capstan.toml"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("cannot read the policy /nonexistent/capstan.toml"),
        "{err}"
    );
}

#[test]
fn an_unreachable_endpoint_exits_2_naming_it() {
    let endpoint = format!("http://127.0.0.1:{}", common::closed_port());
    for args in [
        &["init", "--table", TABLE][..],
        &["status", EXAMPLE, "--table", TABLE][..],
    ] {
        let (code, out, err) = capstan(&endpoint, args);
        assert_eq!(code, Some(2), "{args:?}: {out}{err}");
        assert!(out.is_empty(), "{out}");
        assert!(
            err.starts_with(&format!("capstan: cannot reach {endpoint} (")),
            "{args:?}: {err}"
        );
        assert!(err.contains("AWS_ENDPOINT_URL"), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
}

#[test]
fn no_credentials_or_no_region_is_trouble() {
    let endpoint = format!("http://127.0.0.1:{}", common::closed_port());
    for args in [
        &["init", "--table", TABLE][..],
        &["status", EXAMPLE, "--table", TABLE][..],
    ] {
        let out = common::bare_command(&endpoint, Some("us-east-1"))
            .args(args)
            .output()
            .unwrap();
        let (code, out, err) = common::outcome(out);
        assert_eq!(code, Some(2), "{args:?}: {out}{err}");
        assert!(err.contains("no AWS credentials found"), "{args:?}: {err}");
        assert!(!err.contains("cannot reach"), "{args:?}: {err}");

        let out = common::bare_command(&endpoint, None)
            .args(args)
            .output()
            .unwrap();
        let (code, out, err) = common::outcome(out);
        assert_eq!(code, Some(2), "{args:?}: {out}{err}");
        assert_eq!(
            err.trim(),
            "capstan: no AWS region is configured: set AWS_REGION (e.g. AWS_REGION=us-east-1), \
             or a region in your AWS profile",
            "{args:?}"
        );
    }
}

/// Creating the table is what `init` is for: AWS refusing it is a finding. `status` only reads,
/// and a view it cannot read is trouble.
#[test]
fn aws_refusing_init_is_a_finding_refusing_status_is_trouble() {
    let endpoint = common::refusing_endpoint();
    let (code, out, err) = capstan(&endpoint, &["init", "--table", TABLE]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.starts_with("capstan: dynamodb:CreateTable failed (AccessDeniedException)"),
        "{err}"
    );
    assert!(err.contains("lack this permission"), "{err}");

    let (code, out, err) = capstan(&endpoint, &["status", EXAMPLE, "--table", TABLE]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("AccessDeniedException"), "{err}");
}

#[tokio::test]
async fn a_missing_table_or_a_bad_now_is_trouble() {
    let moto = Moto::start().await;
    let endpoint = moto.endpoint();
    seed(&moto, true).await;
    let (code, out, err) = status(&endpoint, &[]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains(&format!("the state table {TABLE} does not exist"))
            && err.contains(&format!("capstan init --table {TABLE}")),
        "{err}"
    );

    let (code, out, err) = capstan(
        &endpoint,
        &["status", EXAMPLE, "--table", TABLE, "--now", "yesterday"],
    );
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.starts_with("capstan: --now `yesterday` is not an RFC 3339 time"),
        "{err}"
    );
}
