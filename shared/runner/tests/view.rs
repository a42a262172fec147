//! The status view: gathered through the ports (in memory here), built from the runner's own
//! view of each instance, with intents in flight, the audit trail, and Slack's lines.

use std::collections::BTreeMap;
use std::sync::Arc;

use capstan_aws::{Live, Resource};
use capstan_policy::decision::Capacity;
use capstan_policy::signal::{CommandSignal, Signal};
use capstan_policy::state::{ActionRecord, BudgetCap, TargetState};
use capstan_runner::memory::{ManualClock, Memory, Op};
use capstan_runner::view::{self, slack_lines, Snapshot};
use capstan_runner::{Delivery, Instance, Runner, SequentialIds};
use capstan_store::{Global, LogEntry, Pending, TargetRecord};
use chrono::{DateTime, Duration, Utc};

const EXAMPLE: &str = include_str!("../../../capstan.example.toml");

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn ecs(cluster: &str, service: &str) -> Resource {
    Resource::ecs(cluster, service)
}

fn live(desired: u32, bounds: Option<(u32, u32)>) -> Live {
    Live {
        desired,
        running: desired,
        min: bounds.map(|b| b.0),
        max: bounds.map(|b| b.1),
        managed: bounds.is_some(),
    }
}

fn cap(desired: u32, min: u32, max: u32) -> Capacity {
    Capacity { desired, min, max }
}

/// The example platform at 10:00 on a Monday (api 4..20 in business hours).
fn example() -> (Memory, Runner, DateTime<Utc>) {
    let now = at("2026-12-07T10:00:00Z");
    let m = Memory::new();
    m.add(ecs("main-cluster", "api-service"), live(4, None));
    m.add(ecs("main-cluster", "frontend-service"), live(2, None));
    m.add(ecs("main-cluster", "ai-service"), live(2, Some((2, 30))));
    m.add(
        Resource::asg("aiwg-production-asg"),
        Live {
            managed: false,
            ..live(3, Some((2, 15)))
        },
    );
    let runner = Runner::with_ports(
        capstan_policy::load(EXAMPLE).unwrap(),
        m.ports(),
        Arc::new(ManualClock::at(now)),
    )
    .with_ids(Arc::new(SequentialIds::default()))
    .with_metrics(false);
    (m, runner, now)
}

fn pending(key: &str, at: DateTime<Utc>, deadline: DateTime<Utc>, from: u32, to: u32) -> Pending {
    Pending {
        key: key.into(),
        at,
        source: "rule:api-cpu-high".into(),
        from: cap(from, 4, 20),
        to: cap(to, 4, 20),
        attempt: "a0".into(),
        deadline: Some(deadline),
        plan: None,
        prior: None,
    }
}

#[tokio::test]
async fn an_intent_in_flight_shows_what_by_which_key_until_when() {
    let (m, r, now) = example();
    {
        let mut w = m.world();
        // api: a live intent (its owner may still be at work), 4 -> 6.
        let mut api = TargetRecord::new(TargetState::new("api", 4, 4, 20), now);
        api.version = 3;
        api.pending = Some(pending(
            "alarm:k1",
            now - Duration::seconds(5),
            now + Duration::seconds(35),
            4,
            6,
        ));
        w.records.insert("api".into(), api);
        // web: one left unfinished (past its deadline).
        let mut web = TargetRecord::new(TargetState::new("web", 3, 2, 15), now);
        web.version = 1;
        web.pending = Some(Pending {
            source: "rule:web-cpu-critical".into(),
            ..pending(
                "alarm:k0",
                now - Duration::minutes(3),
                now - Duration::minutes(2),
                3,
                5,
            )
        });
        w.records.insert("web".into(), web);
    }
    let calls = m.calls();
    let snapshot = view::gather(&r).await.unwrap();
    // Reads only: records, caps and events, live capacity, then each scope's log.
    let ops: Vec<Op> = m.world().calls[calls..].to_vec();
    assert!(
        ops.iter().all(|op| !op.writes()),
        "the view writes nothing: {ops:?}"
    );
    assert_eq!(
        ops.iter().filter(|op| **op == Op::RecentLog).count(),
        5,
        "four instances and *: {ops:?}"
    );
    let report = view::build(r.policy(), &snapshot, now);

    let api = report.targets.iter().find(|t| t.instance == "api").unwrap();
    let p = api.pending.as_ref().expect("api's intent");
    assert!(p.in_progress);
    assert_eq!((p.from.desired, p.to.desired), (4, 6));
    assert_eq!(p.key, "alarm:k1");
    assert_eq!(p.deadline, now + Duration::seconds(35));
    assert_eq!(
        p.describe(now),
        "4 -> 6 by rule:api-cpu-high (key alarm:k1), committed 09:59:55Z (5s ago); in progress \
         until 10:00:35Z (in 35s)"
    );
    assert!(
        api.line
            .ends_with("; intent 4 -> 6 by rule:api-cpu-high (key alarm:k1), committed 09:59:55Z (5s ago); in progress until 10:00:35Z (in 35s)"),
        "{}",
        api.line
    );
    assert!(
        api.line.starts_with("api: desired 4 running 4"),
        "{}",
        api.line
    );

    let web = report.targets.iter().find(|t| t.instance == "web").unwrap();
    let p = web.pending.as_ref().expect("web's intent");
    assert!(!p.in_progress);
    assert!(
        p.describe(now)
            .ends_with("left unfinished: the next delivery completes it"),
        "{}",
        p.describe(now)
    );

    // Slack says the same, one line per target.
    let text = slack_lines(&report, None);
    assert_eq!(text.lines().count(), 4, "{text}");
    let api_line = text.lines().find(|l| l.starts_with("*api*")).unwrap();
    assert!(api_line.contains("4/4 desired/running"), "{api_line}");
    assert!(
        api_line.contains("bounds 4..20 (target bounds 2..20; period business-hours holds: 4..20)"),
        "{api_line}"
    );
    assert!(
        api_line.contains("intent 4 -&gt; 6 by rule:api-cpu-high (key alarm:k1)"),
        "{api_line}"
    );
    assert!(
        api_line.contains("in progress until 10:00:35Z"),
        "{api_line}"
    );
    let web_line = slack_lines(&report, Some("web"));
    assert_eq!(web_line.lines().count(), 1, "{web_line}");
    assert!(web_line.contains("left unfinished"), "{web_line}");
    assert_eq!(
        slack_lines(&report, Some("nope")),
        "no target `nope`; the targets are ai, api, frontend, web"
    );
}

fn command(user: &str, channel: &str, text: &str) -> Delivery {
    Delivery {
        signal: Signal::Command(CommandSignal {
            user: user.into(),
            channel: channel.into(),
            text: text.into(),
            confirmed: false,
        }),
        key: format!("{user}:{text}"),
        at: None,
    }
}

#[tokio::test]
async fn the_audit_trail_has_commands_and_refusals_newest_first() {
    let (m, r, _) = example();
    let clock = ManualClock::at(at("2026-12-07T10:00:00Z"));
    let r = Runner::with_ports(r.policy().clone(), m.ports(), Arc::new(clock.clone()))
        .with_ids(Arc::new(SequentialIds::default()))
        .with_metrics(false);
    r.handle(&command("cli:ana", "", "scale api 6"))
        .await
        .unwrap();
    clock.advance(Duration::minutes(1));
    r.handle(&command("U0STRANGER", "C1", "lift-cap AI-Service-Monthly"))
        .await
        .unwrap();
    clock.advance(Duration::minutes(1));
    r.handle(&command("cli:ana", "", "pause web 1h pin 3"))
        .await
        .unwrap();
    // An alarm is not a command: not in the audit trail (it is in its target's actions).
    clock.advance(Duration::minutes(1));
    r.handle(&Delivery {
        signal: serde_json::from_value(serde_json::json!({
            "alarm": {"name": "ai-queue-deep", "state": "ALARM", "value": 30.0}
        }))
        .unwrap(),
        key: "alarm:ai".into(),
        at: None,
    })
    .await
    .unwrap();

    let now = r.now();
    let report = view::build(r.policy(), &view::gather(&r).await.unwrap(), now);
    let audit: Vec<(String, String, String)> = report
        .audit
        .iter()
        .map(|e| {
            (
                e.by.clone().unwrap_or_default(),
                e.target.clone(),
                e.outcome.clone(),
            )
        })
        .collect();
    assert_eq!(
        audit,
        [
            ("cli:ana".into(), "web".into(), "pinned".into()),
            ("U0STRANGER".into(), "*".into(), "not-allowed".into()),
            ("cli:ana".into(), "api".into(), "changed".into()),
        ]
    );
    assert_eq!(
        view::audit_line(&report.audit[2]),
        "2026-12-07 10:00:00Z  cli:ana  scale api  4 -> 6, bounds 2..20 -> 4..20  changed"
    );
    assert!(
        view::audit_line(&report.audit[1]).starts_with(
            "2026-12-07 10:01:00Z  U0STRANGER in C1  lift-cap *  -  not-allowed: `lift-cap AI-Service-Monthly` refused"
        ),
        "{}",
        view::audit_line(&report.audit[1])
    );
    let ai = report.targets.iter().find(|t| t.instance == "ai").unwrap();
    assert_eq!(ai.recent[0].source, "rule:ai-queue-deep");
    let web = report.targets.iter().find(|t| t.instance == "web").unwrap();
    assert_eq!(web.pause.as_ref().and_then(|p| p.pin), Some(3));
    let line = slack_lines(&report, Some("web"));
    assert!(
        line.contains("pinned at 3 by cli:ana until 11:02:00Z"),
        "{line}"
    );
    // JSON for machines.
    let doc = serde_json::to_value(&report).unwrap();
    assert_eq!(doc["audit"][0]["verb"], "pause");
    assert_eq!(doc["targets"][0]["instance"], "ai");
}

const POLICY: &str = r#"
[targets.api]
kind = "ecs"
cluster = "main"
service = "api-service"
floor = 2
ceiling = 20
cooldown = { scale_out = "300s", scale_in = "600s", scale_in_guard = "30m" }

[targets.ai]
kind = "ecs"
cluster = "main"
service = "ai-service"
floor = 2
ceiling = 30
criticality = "non-critical"

[rules.api-cpu-high]
alarm = "api-cpu-high"
target = "api"
action = { add = 1 }
cooldown = "120s"

[budgets.ai-spend-100]
budget = "AI-Monthly"
threshold = 100.0
action = "cap"
"#;

/// ai (not on AWS) and api (3, after a +1 a minute ago; a failed call on the record), a cap of
/// AI-Monthly for three more days.
fn snapshot(now: DateTime<Utc>) -> Snapshot {
    let instances = ["ai", "api"]
        .iter()
        .map(|n| Instance {
            name: n.to_string(),
            target: n.to_string(),
            resource: ecs("main", &format!("{n}-service")),
        })
        .collect();
    let mut state = TargetState::new("api", 3, 2, 20);
    state.history.push(ActionRecord {
        at: now - Duration::seconds(60),
        source: "rule:api-cpu-high".into(),
        from: 2,
        to: 3,
        forced: false,
    });
    let mut record = TargetRecord::new(state, now);
    record.version = 4;
    record.last_error = Some("ecs:UpdateService failed: denied".into());
    Snapshot {
        instances,
        unmatched: Vec::new(),
        unreachable: BTreeMap::new(),
        records: BTreeMap::from([("api".to_string(), record)]),
        global: Global {
            caps: vec![BudgetCap {
                budget: "AI-Monthly".into(),
                rule: "ai-spend-100".into(),
                since: now - Duration::hours(1),
                until: now + Duration::days(3),
            }],
            events: BTreeMap::new(),
        },
        live: BTreeMap::from([(
            ecs("main", "api-service"),
            Live {
                min: Some(2),
                max: Some(20),
                ..live(3, None)
            },
        )]),
        logs: BTreeMap::from([(
            "api".to_string(),
            vec![LogEntry {
                at: now - Duration::seconds(60),
                key: "k1".into(),
                target: "api".into(),
                source: "rule:api-cpu-high".into(),
                signal: "alarm api-cpu-high ALARM".into(),
                outcome: "changed".into(),
                from: Some(cap(2, 2, 20)),
                to: Some(cap(3, 2, 20)),
                explanation: "+1".into(),
                ..LogEntry::default()
            }],
        )]),
    }
}

#[test]
fn cooldowns_guards_and_caps_follow_the_record_and_the_clock() {
    let policy = capstan_policy::load(POLICY).unwrap();
    let now = at("2026-12-07T10:00:00Z");
    let g = snapshot(now);
    let report = view::build(&policy, &g, now);
    let api = report.targets.iter().find(|t| t.instance == "api").unwrap();
    // The rule's own 120 s cooldown, not the target's 300 s.
    let out = &api.cooldowns[0];
    assert!(out.running);
    assert_eq!(out.seconds, 120);
    assert_eq!(out.until, Some(at("2026-12-07T10:01:00Z")));
    assert!(!api.cooldowns[1].running);
    assert_eq!(api.scale_in_guards.len(), 1);
    assert_eq!(
        api.scale_in_guards[0].until,
        Some(at("2026-12-07T09:59:00Z") + Duration::minutes(30))
    );
    assert!(api.caps.is_empty(), "api is critical");
    assert_eq!(api.last_action.as_ref().map(|a| a.to), Some(3));
    assert_eq!(api.record.as_ref().map(|r| r.version), Some(4));
    let ai = report.targets.iter().find(|t| t.instance == "ai").unwrap();
    assert_eq!(ai.caps.len(), 1);
    assert_eq!(ai.bounds.as_ref().map(|b| b.ceiling), Some(2));
    assert!(ai.live.is_none());
    assert_eq!(ai.line, "ai: ecs main/ai-service not found on AWS");
    assert_eq!(report.caps.len(), 1);
    assert!(report.audit.is_empty(), "an alarm's entry is no command");

    // Two minutes later the cooldown is over; the guard still runs.
    let later = view::build(&policy, &g, now + Duration::minutes(2));
    let api = later.targets.iter().find(|t| t.instance == "api").unwrap();
    assert!(!api.cooldowns[0].running);
    assert!(api.scale_in_guards[0].running);

    let text = slack_lines(&report, None);
    let api = text.lines().find(|l| l.starts_with("*api*")).unwrap();
    assert!(
        api.contains(" · scale-out cooldown until 10:01:00Z (in 1m) · "),
        "{api}"
    );
    assert!(
        api.contains("scale-in guard (target) until 10:29:00Z"),
        "{api}"
    );
    assert!(api.contains("last 2 -&gt; 3 by rule:api-cpu-high"), "{api}");
    let ai = text.lines().find(|l| l.starts_with("*ai*")).unwrap();
    assert!(ai.contains("ecs main/ai-service not found on AWS"), "{ai}");
    assert!(ai.contains("capped by budget AI-Monthly"), "{ai}");
}

#[test]
fn a_record_the_policy_no_longer_covers_still_shows() {
    let policy = capstan_policy::load(POLICY).unwrap();
    let now = at("2026-12-07T10:00:00Z");
    let mut g = snapshot(now);
    let mut old = TargetRecord::new(TargetState::new("gone", 4, 1, 9), now);
    old.pending = Some(pending(
        "k9",
        now - Duration::hours(1),
        now - Duration::hours(1),
        4,
        5,
    ));
    g.records.insert("gone".into(), old);
    let report = view::build(&policy, &g, now);
    let gone = report.targets.last().unwrap();
    assert_eq!(gone.instance, "gone");
    assert_eq!(gone.resource, "-");
    assert!(gone
        .note
        .as_deref()
        .unwrap()
        .contains("the policy has no target gone"));
    assert!(gone.line.contains("left unfinished"), "{}", gone.line);
    assert!(gone.pending.as_ref().is_some_and(|p| p.call.is_none()));
}

#[test]
fn a_selector_that_matches_nothing_says_so() {
    let text = format!(
        "{POLICY}\n[targets.workers]\nkind = \"asg\"\nselector = {{ Role = \"worker\" }}\nfloor = 1\nceiling = 4\n"
    );
    let policy = capstan_policy::load(&text).unwrap();
    let now = at("2026-12-07T10:00:00Z");
    let mut g = snapshot(now);
    g.unmatched.push("workers".into());
    let report = view::build(&policy, &g, now);
    let workers = report
        .targets
        .iter()
        .find(|t| t.instance == "workers")
        .unwrap();
    assert_eq!(workers.resource, "asg tagged Role=worker");
    assert!(workers.live.is_none());
    assert_eq!(
        workers.note.as_deref(),
        Some("no resource on AWS carries the selector's tags")
    );
    assert_eq!(
        slack_lines(&report, Some("workers")),
        "*workers* · no resource on AWS carries the selector's tags\n"
    );
}

#[tokio::test]
async fn a_selector_target_has_one_line_per_resource() {
    let text = format!(
        "{POLICY}\n[targets.workers]\nkind = \"asg\"\nselector = {{ Role = \"worker\" }}\nfloor = 1\nceiling = 4\n"
    );
    let policy = capstan_policy::load(&text).unwrap();
    let m = Memory::new();
    let groups = ["w-a", "w-b"].map(Resource::asg);
    for g in &groups {
        m.add(g.clone(), live(2, Some((1, 4))));
    }
    let key = capstan_runner::memory::selector_key(&policy.targets["workers"]);
    m.world().selected.insert(key, groups.to_vec());
    let now = at("2026-12-07T10:00:00Z");
    let r = Runner::with_ports(policy, m.ports(), Arc::new(ManualClock::at(now)));
    let report = view::build(r.policy(), &view::gather(&r).await.unwrap(), now);
    let names: Vec<&str> = report.targets.iter().map(|t| t.instance.as_str()).collect();
    assert_eq!(names, ["ai", "api", "workers:w-a", "workers:w-b"]);
    assert_eq!(slack_lines(&report, Some("workers")).lines().count(), 2);
}
