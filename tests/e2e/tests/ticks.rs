//! Schedule ticks through the runner (the `schedule-handler` function comes next): periods set
//! bounds, occurrences apply once, and a tick that finds everything right writes nothing.

mod support;

use capstan_policy::signal::{Signal, TickSignal};
use capstan_runner::Delivery;
use chrono::{DateTime, Utc};
use serde_json::Value;
use support::*;

async fn tick(w: &World, at: DateTime<Utc>) -> Value {
    w.at(at);
    let delivery = Delivery {
        signal: Signal::Tick(TickSignal::default()),
        key: format!("tick:{}", at.format("%Y-%m-%dT%H:%M:%SZ")),
        at: Some(at),
    };
    let report = w.handler.runner().handle(&delivery).await.unwrap();
    serde_json::to_value(report).unwrap()
}

async fn items(w: &World) -> i32 {
    aws_sdk_dynamodb::Client::new(&w.sdk)
        .scan()
        .table_name(TABLE)
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .unwrap()
        .count()
}

fn changed(report: &Value) -> Vec<String> {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["outcome"] == "changed")
        .map(|r| {
            format!(
                "{} -> {}",
                r["target"].as_str().unwrap(),
                r["to"]["desired"]
            )
        })
        .collect()
}

#[tokio::test]
async fn business_hours_and_the_morning_occurrence_apply_once_then_ticks_write_nothing() {
    let w = World::new().await;
    // Monday 07:55: night bounds (2..10) hold api at 3; the occurrences of the last day are
    // older than the 15-minute catch-up window: reported missed, marked, not applied.
    let r = tick(&w, t("2026-11-23T07:55:00Z")).await;
    assert!(changed(&r).is_empty(), "{r:#}");
    let missed: Vec<&str> = r["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(missed.iter().any(|n| n.contains("missed")), "{missed:?}");
    assert_eq!(w.desired("frontend-service").await, 2);
    w.notifications().await;

    // 08:00: business hours raise api's floor to 4; the morning scale-up sets frontend to 4.
    let r = tick(&w, t("2026-11-23T08:00:00Z")).await;
    assert_eq!(changed(&r), ["api -> 4", "frontend -> 4"], "{r:#}");
    assert_eq!(w.desired("api-service").await, 4);
    assert_eq!(w.desired("frontend-service").await, 4);
    let published = w.notifications().await;
    assert_eq!(published.len(), 2, "{published:#?}");

    // The same tick again, and the next one: everything is right, nothing is written or said.
    let before = items(&w).await;
    let r = tick(&w, t("2026-11-23T08:00:00Z")).await;
    assert!(changed(&r).is_empty(), "{r:#}");
    let r = tick(&w, t("2026-11-23T08:05:00Z")).await;
    assert!(changed(&r).is_empty(), "{r:#}");
    assert_eq!(
        items(&w).await,
        before,
        "a tick that changes nothing writes nothing"
    );
    assert!(w.notifications().await.is_empty());

    // An operator sets frontend to 7 by hand: the occurrence is not applied again.
    w.clients
        .ecs
        .update_service()
        .cluster(CLUSTER)
        .service("frontend-service")
        .desired_count(7)
        .send()
        .await
        .unwrap();
    let r = tick(&w, t("2026-11-23T08:10:00Z")).await;
    assert!(changed(&r).is_empty(), "{r:#}");
    assert_eq!(w.desired("frontend-service").await, 7);
}
