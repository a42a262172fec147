//! capstan-aws against a moto server: describe (batched), apply in every mode read back through
//! the SDK, resolve by tags, the SNS notifier through a subscribed SQS queue, SSM parameters.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ssm::types::ParameterType;
use capstan_aws::testing::*;
use capstan_aws::{
    apply, describe, describe_calls, fetch_parameter, fetch_parameter_at, resolve, Clients,
    ErrorKind, Live, Mode, Notification, Notifier, Resource,
};
use capstan_moto::Moto;
use capstan_policy::decision::Capacity;
use capstan_policy::model::Target;
use serde_json::json;

async fn start() -> (Moto, Clients, aws_sdk_sqs::Client) {
    let moto = Moto::start().await;
    let cfg = moto.sdk_config().await;
    let clients = Clients::new(&cfg);
    let sqs = aws_sdk_sqs::Client::new(&cfg);
    (moto, clients, sqs)
}

fn ecs(cluster: &str, service: &str) -> Resource {
    Resource::ecs(cluster, service)
}

fn asg(group: &str) -> Resource {
    Resource::asg(group)
}

fn cap(desired: u32, min: u32, max: u32) -> Capacity {
    Capacity { desired, min, max }
}

fn target(v: serde_json::Value) -> Target {
    serde_json::from_value(v).expect("target")
}

#[tokio::test]
async fn describe_reads_many_resources_in_batches() {
    let (_moto, c, _) = start().await;
    let mut resources = Vec::new();
    for i in 0..25 {
        let name = format!("svc-{i:02}");
        seed_ecs_service(&c, "alpha", &name, i).await;
        resources.push(ecs("alpha", &name));
    }
    seed_ecs_service(&c, "beta", "api", 3).await;
    seed_scalable_target(&c, "beta", "api", 2, 9).await;
    seed_ecs_service(&c, "beta", "worker", 1).await;
    seed_asg(&c, "web", 1, 5, 2).await;
    seed_asg(&c, "batch", 0, 10, 0).await;
    resources.extend([
        ecs("beta", "api"),
        ecs("beta", "worker"),
        ecs("beta", "ghost"),
        asg("web"),
        asg("batch"),
        asg("ghost-asg"),
    ]);
    // alpha: 10+10+5, beta: 1, scalable targets: 1 (28 ids), groups: 1, their policies: 1.
    assert_eq!(describe_calls(&resources), 3 + 1 + 1 + 1 + 1);

    let live = describe(&c, &resources).await.expect("describe");
    assert_eq!(live.len(), 25 + 2 + 2, "the ghosts are absent: {live:?}");
    for i in 0..25 {
        let l = &live[&ecs("alpha", &format!("svc-{i:02}"))];
        assert_eq!(l.desired, i);
        assert!(!l.managed);
        assert_eq!((l.min, l.max), (None, None));
    }
    assert_eq!(
        live[&ecs("beta", "api")],
        Live {
            desired: 3,
            running: 0, // moto runs no tasks
            min: Some(2),
            max: Some(9),
            managed: true,
        }
    );
    assert!(!live[&ecs("beta", "worker")].managed);
    let web = &live[&asg("web")];
    assert_eq!(
        (web.desired, web.min, web.max, web.managed),
        (2, Some(1), Some(5), false)
    );
    assert_eq!(
        web.running, 2,
        "moto starts the group's instances InService"
    );
    let batch = &live[&asg("batch")];
    assert_eq!((batch.desired, batch.running), (0, 0));
}

#[tokio::test]
async fn a_group_with_a_target_tracking_policy_has_its_bounds_moved() {
    let (_moto, c, _) = start().await;
    seed_asg(&c, "tracked", 2, 10, 3).await;
    seed_target_tracking_policy(&c, "tracked").await;
    seed_asg(&c, "plain", 1, 5, 2).await;
    let both = [asg("tracked"), asg("plain")];
    let live = describe(&c, &both).await.expect("describe");
    assert!(live[&both[0]].managed, "{live:?}");
    assert!(!live[&both[1]].managed, "{live:?}");

    // Scale-out to 6: MinSize rises to 6 and AWS raises the group to it (moto does too); no
    // DesiredCapacity is sent.
    let applied = apply(&c, &both[0], &live[&both[0]], cap(6, 2, 10))
        .await
        .expect("raise the floor");
    assert_eq!(applied.mode, Mode::GroupBounds);
    assert_eq!(applied.calls, ["autoscaling:UpdateAutoScalingGroup"]);
    assert_eq!(read_asg(&c, "tracked").await, (6, 10, 6));

    // Handing it back: MinSize returns to 2, the group keeps its 6 for its policy to scale in.
    let now = describe(&c, &both[..1]).await.expect("describe again");
    let back = apply(&c, &both[0], &now[&both[0]], cap(6, 2, 10))
        .await
        .expect("lower the floor");
    assert_eq!((back.min, back.max), (2, 10));
    assert_eq!(read_asg(&c, "tracked").await, (2, 10, 6));
}

#[tokio::test]
async fn apply_in_each_mode_and_read_back() {
    let (_moto, c, _) = start().await;
    seed_ecs_service(&c, "main", "plain", 2).await;
    seed_ecs_service(&c, "main", "tracked", 3).await;
    seed_scalable_target(&c, "main", "tracked", 2, 10).await;
    seed_asg(&c, "web", 1, 15, 4).await;
    seed_asg(&c, "jobs", 1, 5, 2).await;
    let all = [
        ecs("main", "plain"),
        ecs("main", "tracked"),
        asg("web"),
        asg("jobs"),
    ];
    let live = describe(&c, &all).await.expect("describe");

    // ECS without a scalable target: desiredCount.
    let applied = apply(&c, &all[0], &live[&all[0]], cap(6, 1, 8))
        .await
        .expect("update service");
    assert_eq!(applied.mode, Mode::DesiredCount);
    assert_eq!(applied.calls, ["ecs:UpdateService"]);
    assert_eq!(read_desired_count(&c, "main", "plain").await, 6);

    // ECS with a scalable target: the floor moves, desiredCount is left to AAS.
    let applied = apply(&c, &all[1], &live[&all[1]], cap(7, 2, 12))
        .await
        .expect("register scalable target");
    assert_eq!(applied.mode, Mode::ScalableTarget);
    assert_eq!((applied.desired, applied.min, applied.max), (7, 7, 12));
    assert_eq!(
        applied.calls,
        ["application-autoscaling:RegisterScalableTarget"]
    );
    assert_eq!(
        read_scalable_target(&c, "main", "tracked").await,
        Some((7, 12))
    );
    assert_eq!(
        read_desired_count(&c, "main", "tracked").await,
        3,
        "Capstan never sets desiredCount of a managed service"
    );

    // ASG, same bounds: SetDesiredCapacity, clamped to the group's max (moto would not check).
    let applied = apply(&c, &all[2], &live[&all[2]], cap(25, 1, 15))
        .await
        .expect("set desired capacity");
    assert_eq!(applied.mode, Mode::Group);
    assert_eq!(applied.calls, ["autoscaling:SetDesiredCapacity"]);
    assert_eq!(
        applied.clamped.as_deref(),
        Some("desired 25 clamped to the group's max 15")
    );
    assert_eq!(read_asg(&c, "web").await, (1, 15, 15));

    // ASG, new bounds: UpdateAutoScalingGroup sets all three.
    let applied = apply(&c, &all[3], &live[&all[3]], cap(9, 3, 8))
        .await
        .expect("update group");
    assert_eq!(applied.calls, ["autoscaling:UpdateAutoScalingGroup"]);
    assert_eq!(
        applied.clamped.as_deref(),
        Some("desired 9 clamped to the group's max 8")
    );
    assert_eq!(read_asg(&c, "jobs").await, (3, 8, 8));

    // Read again: every change shows, and applying the same capacities calls nothing.
    let now = describe(&c, &all).await.expect("describe again");
    assert_eq!(now[&all[0]].desired, 6);
    assert_eq!((now[&all[1]].min, now[&all[1]].max), (Some(7), Some(12)));
    assert_eq!(now[&all[2]].desired, 15);
    assert_eq!(
        (now[&all[3]].min, now[&all[3]].max, now[&all[3]].desired),
        (Some(3), Some(8), 8)
    );
    for (r, to) in all
        .iter()
        .zip([cap(6, 1, 8), cap(7, 2, 12), cap(25, 1, 15), cap(9, 3, 8)])
    {
        let again = apply(&c, r, &now[r], to).await.expect("no-op");
        assert!(again.calls.is_empty(), "{r}: {:?}", again.calls);
    }
}

#[tokio::test]
async fn errors_from_moto_are_classified() {
    let (_moto, c, _) = start().await;
    seed_ecs_cluster(&c, "main").await;
    let missing = ecs("main", "nope");
    let stale = Live::steady(1);
    let err = apply(&c, &missing, &stale, cap(2, 1, 3))
        .await
        .expect_err("no such service");
    assert_eq!(err.operation, "ecs:UpdateService");
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");

    // Services of a cluster that does not exist are absent, like missing services.
    seed_ecs_service(&c, "main", "api", 2).await;
    let live = describe(&c, &[ecs("no-such-cluster", "api"), ecs("main", "api")])
        .await
        .expect("describe");
    assert_eq!(live.keys().collect::<Vec<_>>(), [&ecs("main", "api")]);

    let err = resolve(
        &c,
        &target(json!({"kind": "ecs", "cluster": "no-such-cluster", "selector": {"a": "b"}, "floor": 1, "ceiling": 4})),
    )
    .await
    .expect_err("no such cluster");
    assert_eq!(err.operation, "ecs:ListServices");
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
}

#[tokio::test]
async fn resolve_finds_every_resource_carrying_all_selector_tags() {
    let (_moto, c, _) = start().await;
    let both = [("team", "web"), ("env", "prod")];
    for name in ["web-b", "web-a", "web-c"] {
        seed_ecs_service_with_tags(&c, "shop", name, 1, &both).await;
    }
    seed_ecs_service_with_tags(
        &c,
        "shop",
        "web-staging",
        1,
        &[("team", "web"), ("env", "dev")],
    )
    .await;
    seed_ecs_service(&c, "shop", "untagged", 1).await;
    seed_ecs_service_with_tags(&c, "other", "web-elsewhere", 1, &both).await;
    seed_asg_with_tags(&c, "asg-2", 1, 3, 1, &both).await;
    seed_asg_with_tags(&c, "asg-1", 1, 3, 1, &both).await;
    seed_asg_with_tags(&c, "asg-dev", 1, 3, 1, &[("team", "web"), ("env", "dev")]).await;
    seed_asg(&c, "asg-untagged", 1, 3, 1).await;

    let selector = json!({"team": "web", "env": "prod"});
    let services = resolve(
        &c,
        &target(json!({"kind": "ecs", "cluster": "shop", "selector": selector, "floor": 1, "ceiling": 4})),
    )
    .await
    .expect("resolve ecs");
    assert_eq!(
        services,
        [
            ecs("shop", "web-a"),
            ecs("shop", "web-b"),
            ecs("shop", "web-c")
        ]
    );
    let groups = resolve(
        &c,
        &target(json!({"kind": "asg", "selector": selector, "floor": 1, "ceiling": 4})),
    )
    .await
    .expect("resolve asg");
    assert_eq!(groups, [asg("asg-1"), asg("asg-2")]);

    // A fixed target resolves to itself without asking AWS.
    let fixed = resolve(
        &c,
        &target(json!({"kind": "asg", "group": "anything", "floor": 1, "ceiling": 4})),
    )
    .await
    .expect("fixed");
    assert_eq!(fixed, [asg("anything")]);

    let err = resolve(
        &c,
        &target(json!({"kind": "asg", "selector": {}, "floor": 1, "ceiling": 4})),
    )
    .await
    .expect_err("empty selector");
    assert_eq!(err.kind, ErrorKind::Invalid);
}

#[tokio::test]
async fn notifier_publishes_text_json_and_attributes() {
    let (_moto, c, sqs) = start().await;
    let (topic_arn, queue_url) = seed_topic_with_queue(&c.sns, &sqs, "capstan-test").await;
    let notifier = Notifier::new(c.sns.clone(), &topic_arn);
    assert_eq!(notifier.topic_arn(), topic_arn);
    let body =
        json!({"target": "api", "action": "scale-out", "from": 4, "to": 8, "rule": "api-cpu-high"});
    let n = Notification {
        subject: "Capstan: api scaled out 4 → 8".into(),
        text: "Scaled ecs main/api out: desired 4 -> 8 (rule api-cpu-high).".into(),
        body: body.clone(),
        target: "api".into(),
        action: "scale-out".into(),
        outcome: "changed".into(),
        dedup: "alarm:x:2026-11-23T10:00:00Z/api".into(),
    };
    let id = notifier.publish(&n).await.expect("publish");
    assert!(!id.is_empty());

    let messages = wait_for_messages(&sqs, &queue_url, 1, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let m = &messages[0];
    assert_eq!(m["Type"], "Notification");
    assert_eq!(m["MessageId"], id.as_str());
    assert_eq!(m["TopicArn"], topic_arn.as_str());
    assert_eq!(m["Subject"], "Capstan: api scaled out 4 -> 8");
    let message = m["Message"].as_str().expect("Message");
    assert!(
        message.starts_with(
            "Scaled ecs main/api out: desired 4 -> 8 (rule api-cpu-high).\n\ncapstan-json: "
        ),
        "{message}"
    );
    assert_eq!(capstan_body(m), body);
    let attrs: BTreeMap<&str, Option<&str>> = ["target", "action", "outcome", "dedup"]
        .into_iter()
        .map(|k| (k, message_attribute(m, k)))
        .collect();
    assert_eq!(
        attrs,
        BTreeMap::from([
            ("target", Some("api")),
            ("dedup", Some("alarm:x:2026-11-23T10:00:00Z/api")),
            ("action", Some("scale-out")),
            ("outcome", Some("changed")),
        ])
    );
    assert_eq!(m["MessageAttributes"]["outcome"]["Type"], "String");

    // The queue is drained: nothing more arrives.
    assert!(read_messages(&sqs, &queue_url).await.is_empty());
}

#[tokio::test]
async fn fetch_parameter_reads_a_secure_string() {
    let (_moto, c, _) = start().await;
    c.ssm
        .put_parameter()
        .name("/capstan/policy")
        .value("[settings]\ndry_run = true\n")
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .expect("put parameter");
    assert_eq!(
        fetch_parameter(&c, "/capstan/policy")
            .await
            .expect("get parameter"),
        "[settings]\ndry_run = true\n"
    );
    let err = fetch_parameter(&c, "/capstan/missing")
        .await
        .expect_err("missing");
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
}

#[tokio::test]
async fn fetch_parameter_at_reads_a_pinned_version_and_says_which() {
    let (_moto, c, _) = start().await;
    for text in ["dry_run = true\n", "dry_run = false\n"] {
        c.ssm
            .put_parameter()
            .name("/capstan/policy")
            .value(format!("[settings]\n{text}"))
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .expect("put parameter");
    }
    let first = fetch_parameter_at(&c, "/capstan/policy", Some(1))
        .await
        .expect("version 1");
    assert_eq!(first.version, 1);
    assert_eq!(first.value, "[settings]\ndry_run = true\n");
    let latest = fetch_parameter_at(&c, "/capstan/policy", None)
        .await
        .expect("latest");
    assert_eq!(latest.version, 2);
    assert_eq!(latest.value, "[settings]\ndry_run = false\n");
    let err = fetch_parameter_at(&c, "/capstan/policy", Some(3))
        .await
        .expect_err("no version 3");
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
}
