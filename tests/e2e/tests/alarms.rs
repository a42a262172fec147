//! The alarm path end to end: the real `alarm-handler` over moto (ECS, Application Auto
//! Scaling, Auto Scaling, DynamoDB, SNS, SQS), with the example policy.

mod support;

use chrono::Duration;
use serde_json::{json, Value};
use support::*;

#[tokio::test]
async fn every_delivery_path_of_the_fixtures_acts_once_each() {
    let w = World::new().await;
    // EventBridge: api-cpu-critical, +2 (Monday 14:05, business hours: api 4..20).
    let resp = w
        .deliver(fixture("alarm-eventbridge-state-change.json"))
        .await
        .unwrap();
    assert_eq!(outcomes(&resp), ["api:changed"]);
    assert_eq!(w.desired("api-service").await, 5);
    let n = w.notifications().await;
    assert_eq!(n.len(), 1, "{n:#?}");
    assert_eq!(n[0]["_attributes"]["outcome"], "changed");
    assert_eq!(n[0]["_attributes"]["target"], "api");
    assert_eq!(n[0]["_attributes"]["action"], "scale-out");
    assert!(
        n[0]["_subject"].as_str().unwrap().contains("api 3 -> 5"),
        "{}",
        n[0]["_subject"]
    );

    // The configuration change from the same source: ignored, nothing changes.
    let resp = w
        .deliver(fixture("alarm-eventbridge-config-change.json"))
        .await
        .unwrap();
    assert!(
        resp["ignored"]
            .as_str()
            .unwrap()
            .contains("Configuration Change"),
        "{resp}"
    );

    // The direct Lambda action: api-cpu-high, +1, once the scale-out cooldown is over.
    w.advance(Duration::minutes(10));
    let resp = w
        .deliver(fixture("alarm-lambda-action.json"))
        .await
        .unwrap();
    assert_eq!(outcomes(&resp), ["api:changed"]);
    assert_eq!(w.desired("api-service").await, 6);

    // SNS, single metric: api-latency-high, +1, and its runbook text goes to people.
    w.advance(Duration::minutes(10));
    let resp = w
        .deliver(fixture("alarm-sns-single-metric.json"))
        .await
        .unwrap();
    assert_eq!(outcomes(&resp), ["api:changed"]);
    assert_eq!(w.desired("api-service").await, 7);

    // SNS, metric math: api-traffic-2x doubles.
    w.advance(Duration::minutes(10));
    let resp = w
        .deliver(fixture("alarm-sns-metric-math.json"))
        .await
        .unwrap();
    assert_eq!(outcomes(&resp), ["api:changed"]);
    assert_eq!(w.desired("api-service").await, 14);

    // A composite alarm no rule mentions: a logged no-op, not an error, no notification.
    let resp = w
        .deliver(fixture("alarm-composite-lambda-action.json"))
        .await
        .unwrap();
    assert_eq!(outcomes(&resp), ["*:ignored:unknown-alarm"]);

    let n = w.notifications().await;
    let kinds: Vec<String> = n
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["_attributes"]["target"], m["_attributes"]["outcome"]
            )
        })
        .map(|s| s.replace('"', ""))
        .collect();
    // The runbook text rides on the action it goes with: no notice of its own.
    assert_eq!(
        kinds,
        ["api/changed", "api/changed", "api/changed"],
        "{n:#?}"
    );
    let latency = n[1]["_text"].as_str().unwrap();
    assert!(latency.starts_with("Done: api 6 -> 7"), "{latency}");
    assert!(
        latency.contains(
            "\nRunbook (rule api-latency-high): p95 latency above 1 s for 15 min: investigate now"
        ),
        "{latency}"
    );

    // The record: four actions, nothing pending, capacity as on AWS; the log has them all.
    let rec = &w.store.load_targets(&["api".into()]).await.unwrap()["api"];
    assert_eq!(rec.state.desired, 14);
    assert_eq!(
        rec.state
            .history
            .iter()
            .map(|a| (a.from, a.to))
            .collect::<Vec<_>>(),
        [(3, 5), (5, 6), (6, 7), (7, 14)]
    );
    assert!(rec.pending.is_none());
    assert_eq!(w.store.recent_log("api", 10).await.unwrap().len(), 4);
}

/// A composite alarm's state change whose actions CloudWatch suppressed (a deploy holds them):
/// nothing scaled, recorded and announced as held, with the rule's runbook text.
#[tokio::test]
async fn cloudwatchs_actions_suppressor_holds_the_rule() {
    let w = World::new().await;
    let resp = w
        .deliver(fixture("alarm-eventbridge-composite-suppressed.json"))
        .await
        .unwrap();
    assert_eq!(outcomes(&resp), ["api:suppressed:actions-suppressed"]);
    assert_eq!(w.desired("api-service").await, 3);
    let n = w.notifications().await;
    assert_eq!(n.len(), 1, "{n:#?}");
    assert_eq!(n[0]["_attributes"]["outcome"], "suppressed");
    let subject = n[0]["_subject"].as_str().unwrap();
    assert!(
        subject.starts_with("Capstan: api held by CloudWatch's actions suppressor"),
        "{subject}"
    );
    let text = n[0]["_text"].as_str().unwrap();
    assert!(text.starts_with("Held, not done:"), "{text}");
    assert!(text.contains("api-deploy-in-progress"), "{text}");
    assert!(text.contains("Runbook (rule api-latency-high)"), "{text}");
    // Recorded: the audit log has the hold; no action in the record's history.
    let log = w.store.recent_log("api", 10).await.unwrap();
    assert_eq!(log.len(), 1, "{log:#?}");
    assert!(
        log[0].explanation.contains("CloudWatch suppressed"),
        "{log:#?}"
    );
    let recs = w.store.load_targets(&["api".into()]).await.unwrap();
    assert!(
        recs.get("api").is_none_or(|r| r.state.history.is_empty()),
        "{recs:#?}"
    );
    // A redelivery is a duplicate: nothing more is said.
    w.deliver(fixture("alarm-eventbridge-composite-suppressed.json"))
        .await
        .unwrap();
    assert_eq!(w.notifications().await.len(), 0);
}

/// One alarm of the example policy on a fresh world; returns the world after it.
async fn row(seed: Seed, alarm: &str, value: Option<f64>) -> (World, Value) {
    let w = World::with(seed).await;
    let at = w.now();
    let resp = w
        .deliver(eventbridge(alarm, "ALARM", at, value))
        .await
        .unwrap();
    (w, resp)
}

#[tokio::test]
async fn every_alarm_row_of_the_example_policy() {
    // api (ECS UpdateService). Monday 14:05 UTC: business hours hold api at 4..20.
    let (w, r) = row(Seed::default(), "api-cpu-critical", Some(91.0)).await;
    assert_eq!(
        (outcomes(&r), w.desired("api-service").await),
        (vec!["api:changed".into()], 5)
    );
    let (w, r) = row(Seed::default(), "api-cpu-high", Some(75.0)).await;
    assert_eq!(
        (outcomes(&r), w.desired("api-service").await),
        (vec!["api:changed".into()], 4)
    );
    let (w, r) = row(Seed::default(), "api-latency-high", Some(1.4)).await;
    assert_eq!(w.desired("api-service").await, 4, "{r}");
    let (w, r) = row(Seed::default(), "api-traffic-2x", Some(2.3)).await;
    assert_eq!(w.desired("api-service").await, 6, "{r}");
    // 5000 req/min / 500 x 1.2 = 12 tasks.
    let (w, r) = row(Seed::default(), "api-requests-high", Some(5000.0)).await;
    assert_eq!(w.desired("api-service").await, 12, "{r}");
    let seed = Seed {
        api: 6,
        ..Seed::default()
    };
    let (w, r) = row(seed, "api-cpu-low", Some(20.0)).await;
    assert_eq!(w.desired("api-service").await, 5, "{r}");

    // ai (a scalable target: Capstan sets its min/max, never the desired count).
    let (w, r) = row(Seed::default(), "ai-queue-deep", Some(50.0)).await;
    assert_eq!(outcomes(&r), ["ai:changed"]);
    assert_eq!(w.scalable("ai-service").await, (4, 30));
    assert_eq!(
        w.desired("ai-service").await,
        2,
        "desired is target tracking's"
    );
    let (w, r) = row(Seed::default(), "ai-queue-deep", Some(150.0)).await;
    assert_eq!(w.scalable("ai-service").await, (6, 30), "{r}");
    let seed = Seed {
        ai: 5,
        ..Seed::default()
    };
    // A scale-in does not pin the floor at the new count: the floor is ai's min, and target
    // tracking takes the service down (here the floor already is 2: no call needed).
    let (w, r) = row(seed, "ai-queue-shallow", Some(2.0)).await;
    assert_eq!(outcomes(&r), ["ai:changed"]);
    assert_eq!(w.scalable("ai-service").await, (2, 30), "{r}");
    assert_eq!(
        w.desired("ai-service").await,
        5,
        "desired is target tracking's"
    );

    // web (an Auto Scaling group).
    let (w, r) = row(Seed::default(), "web-cpu-critical", Some(90.0)).await;
    assert_eq!(w.group().await, (4, 2, 15), "{r}");
    let seed = Seed {
        web: 5,
        ..Seed::default()
    };
    let (w, r) = row(seed, "web-cpu-low", Some(10.0)).await;
    assert_eq!(w.group().await, (4, 2, 15), "{r}");

    // The database: people are told what to do, nothing is scaled.
    let (w, r) = row(Seed::default(), "db-primary-iops-maxed", None).await;
    assert!(results(&r).is_empty(), "{r}");
    let n = w.notifications().await;
    assert_eq!(n.len(), 1);
    assert_eq!(n[0]["_attributes"]["outcome"], "notice");
    assert!(n[0]["_text"]
        .as_str()
        .unwrap()
        .contains("upgrade the instance class"));
    assert_eq!(w.desired("api-service").await, 3);
}

#[tokio::test]
async fn cooldowns_and_the_scale_in_guard_hold() {
    let w = World::with(Seed {
        api: 6,
        ..Seed::default()
    })
    .await;
    let t0 = w.now();
    let r = w
        .deliver(eventbridge("api-cpu-high", "ALARM", t0, Some(75.0)))
        .await
        .unwrap();
    assert_eq!(outcomes(&r), ["api:changed"]);

    // A new transition a minute later: inside the 300 s scale-out cooldown.
    w.advance(Duration::seconds(60));
    let r = w
        .deliver(eventbridge("api-cpu-high", "ALARM", w.now(), Some(76.0)))
        .await
        .unwrap();
    assert_eq!(outcomes(&r), ["api:suppressed:cooldown"]);
    assert_eq!(w.desired("api-service").await, 7);

    // After it: acts again.
    w.at(t0 + Duration::seconds(301));
    let r = w
        .deliver(eventbridge("api-cpu-high", "ALARM", w.now(), Some(77.0)))
        .await
        .unwrap();
    assert_eq!(outcomes(&r), ["api:changed"]);
    assert_eq!(w.desired("api-service").await, 8);

    // Scale-in within 30 minutes of that action: the runbook's guard holds it.
    let last = w.now();
    w.advance(Duration::minutes(20));
    let r = w
        .deliver(eventbridge("api-cpu-low", "ALARM", w.now(), Some(20.0)))
        .await
        .unwrap();
    assert_eq!(outcomes(&r), ["api:suppressed:scale-in-guard"]);
    assert_eq!(w.desired("api-service").await, 8);
    w.at(last + Duration::minutes(31));
    let r = w
        .deliver(eventbridge("api-cpu-low", "ALARM", w.now(), Some(20.0)))
        .await
        .unwrap();
    assert_eq!(outcomes(&r), ["api:changed"]);
    assert_eq!(w.desired("api-service").await, 7);

    // Every suppression was published too.
    let n = w.notifications().await;
    let suppressed = n
        .iter()
        .filter(|m| m["_attributes"]["outcome"] == "suppressed")
        .count();
    assert_eq!(suppressed, 2, "{n:#?}");
}

#[tokio::test]
async fn floor_and_ceiling_hold() {
    let w = World::with(Seed {
        api: 19,
        ..Seed::default()
    })
    .await;
    let r = w
        .deliver(eventbridge(
            "api-cpu-critical",
            "ALARM",
            w.now(),
            Some(95.0),
        ))
        .await
        .unwrap();
    assert_eq!(outcomes(&r), ["api:changed"]);
    assert_eq!(w.desired("api-service").await, 20, "stops at the ceiling");
    w.advance(Duration::minutes(10));
    let r = w
        .deliver(eventbridge(
            "api-cpu-critical",
            "ALARM",
            w.now(),
            Some(96.0),
        ))
        .await
        .unwrap();
    assert_eq!(outcomes(&r), ["api:suppressed:at-ceiling"]);
    assert_eq!(w.desired("api-service").await, 20);

    // The business-hours floor (4) holds a scale-in.
    let w = World::with(Seed {
        api: 4,
        ..Seed::default()
    })
    .await;
    let r = w
        .deliver(eventbridge("api-cpu-low", "ALARM", w.now(), Some(10.0)))
        .await
        .unwrap();
    assert_eq!(outcomes(&r), ["api:suppressed:at-floor"]);
    assert_eq!(w.desired("api-service").await, 4);

    // The group's own bounds (2..15) hold too: 14 + 2 stops at 15.
    let w = World::with(Seed {
        web: 14,
        ..Seed::default()
    })
    .await;
    let r = w
        .deliver(eventbridge(
            "web-cpu-critical",
            "ALARM",
            w.now(),
            Some(95.0),
        ))
        .await
        .unwrap();
    assert_eq!(outcomes(&r), ["web:changed"]);
    assert_eq!(w.group().await, (15, 2, 15));
}

#[tokio::test]
async fn dry_run_changes_nothing_and_says_what_it_would_do() {
    let w = World::with(Seed {
        dry_run: true,
        ..Seed::default()
    })
    .await;
    let r = w
        .deliver(fixture("alarm-eventbridge-state-change.json"))
        .await
        .unwrap();
    assert_eq!(outcomes(&r), ["api:dry-run:dry-run"]);
    assert_eq!(results(&r)[0]["to"]["desired"], 5);
    assert_eq!(w.desired("api-service").await, 3);
    let n = w.notifications().await;
    assert_eq!(n.len(), 1);
    assert_eq!(n[0]["_attributes"]["outcome"], "dry-run");
    let log = w.store.recent_log("api", 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].outcome, "dry-run");
    // The record held the notification's intent until it was published; nothing else.
    let records = w.store.load_targets(&["api".into()]).await.unwrap();
    let rec = &records["api"];
    assert!(rec.pending.is_none(), "{:?}", rec.pending);
    assert!(rec.state.history.is_empty(), "no action recorded");
    assert_eq!(rec.state.desired, 3);
}

#[tokio::test]
async fn fifty_concurrent_duplicates_act_exactly_once() {
    let w = World::new().await;
    let event = fixture("alarm-eventbridge-state-change.json");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let handler = w.handler.clone();
        let event = event.clone();
        tasks.spawn(async move { handler.handle(event).await.map_err(|e| e.to_string()) });
    }
    let mut all = Vec::new();
    while let Some(r) = tasks.join_next().await {
        all.extend(outcomes(&r.unwrap().unwrap()));
    }
    assert_eq!(
        all.iter().filter(|o| *o == "api:changed").count(),
        1,
        "{all:?}"
    );
    assert_eq!(
        all.iter().filter(|o| *o == "api:duplicate").count(),
        49,
        "{all:?}"
    );
    assert_eq!(w.desired("api-service").await, 5);
    let rec = &w.store.load_targets(&["api".into()]).await.unwrap()["api"];
    assert_eq!(rec.state.history.len(), 1);
    let n = w.notifications().await;
    assert_eq!(n.len(), 1, "one notification: {n:#?}");

    // A redelivery long after: still once.
    w.advance(Duration::hours(2));
    let r = w.deliver(event).await.unwrap();
    assert_eq!(outcomes(&r), ["api:duplicate"]);
    assert_eq!(w.desired("api-service").await, 5);
}

#[tokio::test]
async fn concurrent_conflicting_alarms_are_serialized() {
    let w = World::new().await;
    let now = w.now();
    let events = [
        eventbridge("api-cpu-critical", "ALARM", now, Some(91.0)),
        eventbridge("api-cpu-high", "ALARM", now, Some(75.0)),
        eventbridge("api-latency-high", "ALARM", now, Some(1.4)),
        eventbridge("api-traffic-2x", "ALARM", now, Some(2.2)),
        eventbridge("api-requests-high", "ALARM", now, Some(9000.0)),
        eventbridge("api-cpu-low", "ALARM", now, Some(20.0)),
    ];
    let mut tasks = tokio::task::JoinSet::new();
    for e in events.iter().cloned() {
        let handler = w.handler.clone();
        tasks.spawn(async move { handler.handle(e).await.map_err(|e| e.to_string()) });
    }
    let mut all = Vec::new();
    while let Some(r) = tasks.join_next().await {
        all.extend(outcomes(&r.unwrap().unwrap()));
    }
    // Nothing lost: every event was decided once for api.
    assert_eq!(all.len(), 6, "{all:?}");
    assert!(all.iter().all(|o| o.starts_with("api:")), "{all:?}");
    // The record's history is one chain from 3 to what AWS has: no lost update.
    let rec = &w.store.load_targets(&["api".into()]).await.unwrap()["api"];
    let mut at = 3;
    for a in &rec.state.history {
        assert_eq!(a.from, at, "{:?}", rec.state.history);
        at = a.to;
    }
    let desired = w.desired("api-service").await;
    assert_eq!(desired, at);
    assert_eq!(rec.state.desired, desired);
    assert!((4..=20).contains(&desired), "bounds hold: {desired}");
    let changed = all.iter().filter(|o| o.ends_with(":changed")).count();
    assert_eq!(changed, rec.state.history.len(), "{all:?}");
}

#[tokio::test]
async fn malformed_events_are_errors_that_change_nothing() {
    let w = World::new().await;
    let bad = [
        (json!({"hello": "world"}), "not a CloudWatch alarm payload"),
        (
            json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "{\"AlarmName\": \"api-cpu-high\"}"}}]}),
            "Records[0].Sns.Message",
        ),
        (
            {
                let mut e = fixture("alarm-eventbridge-state-change.json");
                e["detail"]["state"]["value"] = json!("FIRE");
                e
            },
            "detail.state.value",
        ),
        (
            {
                let mut e = fixture("alarm-eventbridge-state-change.json");
                e["detail"]["state"]["timestamp"] = json!("yesterday");
                e
            },
            "detail.state.timestamp",
        ),
        (
            fixture("budget-sns-actual-80pct.json"),
            "Records[0].Sns.Message",
        ),
    ];
    for (event, names) in bad {
        let err = w.deliver(event).await.unwrap_err();
        assert!(err.contains(names), "{err} should name {names}");
    }
    assert_eq!(w.desired("api-service").await, 3);
    assert!(w.notifications().await.is_empty());
    assert!(w.store.all_targets().await.unwrap().is_empty());
}

#[tokio::test]
async fn alarms_no_rule_mentions_are_logged_no_ops() {
    let w = World::new().await;
    let r = w
        .deliver(eventbridge(
            "payments-cpu-high",
            "ALARM",
            w.now(),
            Some(99.0),
        ))
        .await
        .unwrap();
    assert_eq!(outcomes(&r), ["*:ignored:unknown-alarm"]);
    // api-cpu-high returning to OK: no rule says OK.
    let r = w
        .deliver(eventbridge("api-cpu-high", "OK", w.now(), Some(40.0)))
        .await
        .unwrap();
    assert_eq!(outcomes(&r), ["*:ignored:unknown-alarm"]);
    assert_eq!(w.desired("api-service").await, 3);
    assert!(w.notifications().await.is_empty());
}

#[tokio::test]
async fn a_failed_notification_is_recorded_and_never_repeats_the_action() {
    let w = World::with(Seed {
        topic: false,
        ..Seed::default()
    })
    .await;
    // Point the handler at a topic that does not exist.
    let config = capstan_function::Config {
        policy: example_policy(),
        table: TABLE.to_string(),
        topic_arn: Some("arn:aws:sns:us-east-1:123456789012:no-such-topic".into()),
        dry_run: false,
        sns_topics: Vec::new(),
        scaling_resource_arns: Vec::new(),
    };
    let handler = alarm_handler::Handler::new(
        capstan_function::runner_with_config(
            "alarm-handler",
            &config,
            &w.sdk,
            std::sync::Arc::new(w.clock.clone()),
        )
        .await
        .unwrap(),
    );
    let event = fixture("alarm-eventbridge-state-change.json");
    let r = handler.handle(event.clone()).await.unwrap();
    assert_eq!(outcomes(&r), ["api:changed"]);
    assert_eq!(r["reports"][0]["notify_failures"], 1);
    assert_eq!(w.desired("api-service").await, 5);
    let rec = &w.store.load_targets(&["api".into()]).await.unwrap()["api"];
    assert!(
        rec.last_error
            .as_deref()
            .unwrap_or("")
            .contains("notification failed"),
        "{:?}",
        rec.last_error
    );
    assert!(rec.pending.is_none());
    // The retry Lambda makes after a failure: nothing repeats.
    let r = handler.handle(event).await.unwrap();
    assert_eq!(outcomes(&r), ["api:duplicate"]);
    assert_eq!(w.desired("api-service").await, 5);
}

#[tokio::test]
async fn a_target_missing_on_aws_is_a_failure_people_hear_about() {
    let w = World::new().await;
    w.clients
        .ecs
        .delete_service()
        .cluster(CLUSTER)
        .service("api-service")
        .force(true)
        .send()
        .await
        .unwrap();
    let r = w
        .deliver(fixture("alarm-eventbridge-state-change.json"))
        .await
        .unwrap();
    assert_eq!(outcomes(&r), ["api:failed"]);
    let n = w.notifications().await;
    assert_eq!(n.len(), 1);
    assert_eq!(n[0]["_attributes"]["outcome"], "failed");
    assert!(
        n[0]["_text"].as_str().unwrap().contains("api-service"),
        "{n:#?}"
    );
    // Redelivered: announced once.
    let r = w
        .deliver(fixture("alarm-eventbridge-state-change.json"))
        .await
        .unwrap();
    assert_eq!(outcomes(&r), ["api:duplicate"]);
    assert!(w.notifications().await.is_empty());
}
