//! Test helpers (feature `testing`): seed a moto server (or a sandbox account) with the resources
//! Capstan scales and an SNS topic whose messages land in an SQS queue, and read them back.
//!
//! Every helper panics with a message naming the failed call, which fails the calling test; they
//! are for tests only.
//!
//! ```no_run
//! # async fn demo() {
//! use capstan_aws::testing::*;
//! use capstan_aws::Clients;
//!
//! let moto = capstan_moto::Moto::start().await;
//! let cfg = moto.sdk_config().await;
//! let clients = Clients::new(&cfg);
//! let sqs = aws_sdk_sqs::Client::new(&cfg);
//!
//! seed_ecs_service(&clients, "main", "api", 2).await;
//! seed_scalable_target(&clients, "main", "api", 2, 10).await;
//! seed_asg(&clients, "web", 1, 5, 2).await;
//! let (topic_arn, queue_url) = seed_topic_with_queue(&clients.sns, &sqs, "capstan").await;
//! // ... run the code under test with a Notifier on `topic_arn` ...
//! let messages = wait_for_messages(&sqs, &queue_url, 1, std::time::Duration::from_secs(5)).await;
//! let body = capstan_body(&messages[0]);
//! # }
//! ```
//!
//! Quirks of moto worth knowing: ECS services report `runningCount` 0 (unless the server runs with
//! `MOTO_ECS_SERVICE_RUNNING`), and `SetDesiredCapacity` does not check the group's bounds.

use std::time::{Duration, Instant};

use aws_sdk_applicationautoscaling::types::ServiceNamespace;
use aws_sdk_autoscaling::error::ProvideErrorMetadata;
use aws_sdk_autoscaling::types::Tag as AsgTag;
use aws_sdk_ecs::types::{ContainerDefinition, Tag as EcsTag};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use serde_json::Value;

use crate::config::Clients;
use crate::notify::parse_message;
use crate::resource::{ecs_resource_id, ECS_DIMENSION};

/// The task definition family [`seed_ecs_service`] registers.
pub const TASK_FAMILY: &str = "capstan-test";
/// The launch configuration [`seed_asg`] creates once and shares between groups.
pub const LAUNCH_CONFIGURATION: &str = "capstan-test-lc";
/// The availability zone of seeded groups in `us-east-1`; elsewhere, zone `a` of the client's
/// region.
pub const AVAILABILITY_ZONE: &str = "us-east-1a";

/// Zone `a` of the region the clients talk to.
fn availability_zone(clients: &Clients) -> String {
    match clients.autoscaling.config().region() {
        Some(r) => format!("{r}a"),
        None => AVAILABILITY_ZONE.to_string(),
    }
}

/// Creates the ECS cluster `cluster` if it does not exist yet.
pub async fn seed_ecs_cluster(clients: &Clients, cluster: &str) {
    let out = clients
        .ecs
        .describe_clusters()
        .clusters(cluster)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ecs:DescribeClusters {cluster}: {e:?}"));
    if out
        .clusters()
        .iter()
        .any(|c| c.cluster_name() == Some(cluster) && c.status() == Some("ACTIVE"))
    {
        return;
    }
    clients
        .ecs
        .create_cluster()
        .cluster_name(cluster)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ecs:CreateCluster {cluster}: {e:?}"));
}

/// Creates the ECS service `service` in `cluster` (creating the cluster if needed and
/// registering a task definition of family [`TASK_FAMILY`]) with `desired` tasks. Returns the
/// service ARN.
pub async fn seed_ecs_service(
    clients: &Clients,
    cluster: &str,
    service: &str,
    desired: u32,
) -> String {
    seed_ecs_service_with_tags(clients, cluster, service, desired, &[]).await
}

/// [`seed_ecs_service`] with resource tags (for selector targets).
pub async fn seed_ecs_service_with_tags(
    clients: &Clients,
    cluster: &str,
    service: &str,
    desired: u32,
    tags: &[(&str, &str)],
) -> String {
    seed_ecs_cluster(clients, cluster).await;
    let task = clients
        .ecs
        .register_task_definition()
        .family(TASK_FAMILY)
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image("public.ecr.aws/nginx/nginx:latest")
                .memory(128)
                .cpu(64)
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("ecs:RegisterTaskDefinition {TASK_FAMILY}: {e:?}"));
    let task_arn = task
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .expect("RegisterTaskDefinition returns the task definition ARN")
        .to_string();
    let tags = tags
        .iter()
        .map(|(k, v)| EcsTag::builder().key(*k).value(*v).build())
        .collect();
    let out = clients
        .ecs
        .create_service()
        .cluster(cluster)
        .service_name(service)
        .task_definition(task_arn)
        .desired_count(i32::try_from(desired).expect("desired fits i32"))
        .set_tags(Some(tags))
        .send()
        .await
        .unwrap_or_else(|e| panic!("ecs:CreateService {cluster}/{service}: {e:?}"));
    out.service()
        .and_then(|s| s.service_arn())
        .expect("CreateService returns the service ARN")
        .to_string()
}

/// Registers (or updates) an Application Auto Scaling scalable target for the ECS service
/// `cluster/service` with `min`..`max` tasks: the service becomes "managed".
pub async fn seed_scalable_target(
    clients: &Clients,
    cluster: &str,
    service: &str,
    min: u32,
    max: u32,
) {
    clients
        .aas
        .register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(ecs_resource_id(cluster, service))
        .scalable_dimension(ECS_DIMENSION)
        .min_capacity(i32::try_from(min).expect("min fits i32"))
        .max_capacity(i32::try_from(max).expect("max fits i32"))
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!("application-autoscaling:RegisterScalableTarget {cluster}/{service}: {e:?}")
        });
}

/// Reads the scalable target of `cluster/service`: `Some((min, max))`, `None` when there is none.
pub async fn read_scalable_target(
    clients: &Clients,
    cluster: &str,
    service: &str,
) -> Option<(i32, i32)> {
    let out = clients
        .aas
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ECS_DIMENSION)
        .resource_ids(ecs_resource_id(cluster, service))
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!("application-autoscaling:DescribeScalableTargets {cluster}/{service}: {e:?}")
        });
    out.scalable_targets()
        .first()
        .map(|t| (t.min_capacity(), t.max_capacity()))
}

/// Reads the desired count of the ECS service `cluster/service`.
pub async fn read_desired_count(clients: &Clients, cluster: &str, service: &str) -> i32 {
    let out = clients
        .ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ecs:DescribeServices {cluster}/{service}: {e:?}"));
    out.services()
        .first()
        .unwrap_or_else(|| panic!("service {cluster}/{service} not found"))
        .desired_count()
}

async fn seed_launch_configuration(clients: &Clients) {
    let existing = clients
        .autoscaling
        .describe_launch_configurations()
        .launch_configuration_names(LAUNCH_CONFIGURATION)
        .send()
        .await
        .unwrap_or_else(|e| panic!("autoscaling:DescribeLaunchConfigurations: {e:?}"));
    if !existing.launch_configurations().is_empty() {
        return;
    }
    let created = clients
        .autoscaling
        .create_launch_configuration()
        .launch_configuration_name(LAUNCH_CONFIGURATION)
        .image_id("ami-12c6146b")
        .instance_type("t3.micro")
        .send()
        .await;
    if let Err(e) = created {
        // Two tests seeding groups at once may race to create it; that is fine.
        let already = e.code() == Some("AlreadyExists");
        assert!(already, "autoscaling:CreateLaunchConfiguration: {e:?}");
    }
}

/// Creates the Auto Scaling group `name` with `min`..`max` instances and `desired` of them, in
/// zone `a` of the clients' region, from the shared launch configuration [`LAUNCH_CONFIGURATION`]
/// (created on first use).
pub async fn seed_asg(clients: &Clients, name: &str, min: u32, max: u32, desired: u32) {
    seed_asg_with_tags(clients, name, min, max, desired, &[]).await
}

/// [`seed_asg`] with group tags (for selector targets).
pub async fn seed_asg_with_tags(
    clients: &Clients,
    name: &str,
    min: u32,
    max: u32,
    desired: u32,
    tags: &[(&str, &str)],
) {
    seed_launch_configuration(clients).await;
    let tags = tags
        .iter()
        .map(|(k, v)| {
            AsgTag::builder()
                .resource_id(name)
                .resource_type("auto-scaling-group")
                .key(*k)
                .value(*v)
                .propagate_at_launch(false)
                .build()
        })
        .collect();
    clients
        .autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .launch_configuration_name(LAUNCH_CONFIGURATION)
        .availability_zones(availability_zone(clients))
        .min_size(i32::try_from(min).expect("min fits i32"))
        .max_size(i32::try_from(max).expect("max fits i32"))
        .desired_capacity(i32::try_from(desired).expect("desired fits i32"))
        .set_tags(Some(tags))
        .send()
        .await
        .unwrap_or_else(|e| panic!("autoscaling:CreateAutoScalingGroup {name}: {e:?}"));
}

/// Gives the group `name` a target-tracking policy of its own (average CPU at 50%), as a team
/// whose group scales itself would have.
pub async fn seed_target_tracking_policy(clients: &Clients, name: &str) {
    use aws_sdk_autoscaling::types::{
        MetricType, PredefinedMetricSpecification, TargetTrackingConfiguration,
    };
    let metric = PredefinedMetricSpecification::builder()
        .predefined_metric_type(MetricType::AsgAverageCpuUtilization)
        .build();
    clients
        .autoscaling
        .put_scaling_policy()
        .auto_scaling_group_name(name)
        .policy_name(format!("{name}-cpu-50"))
        .policy_type("TargetTrackingScaling")
        .target_tracking_configuration(
            TargetTrackingConfiguration::builder()
                .predefined_metric_specification(metric)
                .target_value(50.0)
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("autoscaling:PutScalingPolicy {name}: {e:?}"));
}

/// Reads the group `name`: `(min, max, desired)`.
pub async fn read_asg(clients: &Clients, name: &str) -> (i32, i32, i32) {
    let out = clients
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("autoscaling:DescribeAutoScalingGroups {name}: {e:?}"));
    let g = out
        .auto_scaling_groups()
        .first()
        .unwrap_or_else(|| panic!("group {name} not found"));
    (
        g.min_size().unwrap_or_default(),
        g.max_size().unwrap_or_default(),
        g.desired_capacity().unwrap_or_default(),
    )
}

/// Creates the SNS topic `name` and the SQS queue `name` subscribed to it (standard delivery:
/// each message arrives wrapped in the SNS JSON envelope, with its message attributes). The
/// queue policy lets the topic send to it, as real AWS requires. Returns
/// `(topic_arn, queue_url)`.
pub async fn seed_topic_with_queue(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
    name: &str,
) -> (String, String) {
    let topic_arn = sns
        .create_topic()
        .name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("sns:CreateTopic {name}: {e:?}"))
        .topic_arn
        .expect("CreateTopic returns the topic ARN");
    let queue_url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("sqs:CreateQueue {name}: {e:?}"))
        .queue_url
        .expect("CreateQueue returns the queue URL");
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("sqs:GetQueueAttributes {name}: {e:?}"));
    let queue_arn = attrs
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .expect("GetQueueAttributes returns QueueArn")
        .clone();
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}
        }]
    });
    sqs.set_queue_attributes()
        .queue_url(&queue_url)
        .attributes(QueueAttributeName::Policy, policy.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("sqs:SetQueueAttributes {name}: {e:?}"));
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("sns:Subscribe {name}: {e:?}"));
    (topic_arn, queue_url)
}

/// Receives one batch (up to 10) from the queue, waiting up to `wait` seconds, deletes what it
/// received and returns the bodies parsed as JSON.
async fn receive(sqs: &aws_sdk_sqs::Client, queue_url: &str, wait: i32) -> Vec<Value> {
    let out = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait)
        .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap_or_else(|e| panic!("sqs:ReceiveMessage {queue_url}: {e:?}"));
    let mut bodies = Vec::new();
    for m in out.messages() {
        let body = m.body().unwrap_or_default();
        let value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("queue message is not JSON ({e}): {body}"));
        bodies.push(value);
        if let Some(handle) = m.receipt_handle() {
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(handle)
                .send()
                .await
                .unwrap_or_else(|e| panic!("sqs:DeleteMessage {queue_url}: {e:?}"));
        }
    }
    bodies
}

/// Reads every message now in the queue (waiting up to 2 s for the first), deleting them.
/// Each is the SNS envelope as JSON: `Subject`, `Message`, `MessageAttributes`, `TopicArn`, ...
/// Returns an empty list when nothing arrives.
pub async fn read_messages(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<Value> {
    let mut all = receive(sqs, queue_url, 2).await;
    if all.is_empty() {
        return all;
    }
    loop {
        let more = receive(sqs, queue_url, 1).await;
        if more.is_empty() {
            return all;
        }
        all.extend(more);
    }
}

/// Reads messages until at least `count` have arrived or `within` has passed, and returns all it
/// read (possibly fewer than `count`: the caller asserts on the number).
pub async fn wait_for_messages(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    count: usize,
    within: Duration,
) -> Vec<Value> {
    let deadline = Instant::now() + within;
    let mut all = Vec::new();
    while all.len() < count {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let wait = i32::try_from(left.as_secs().clamp(1, 20)).unwrap_or(1);
        all.extend(receive(sqs, queue_url, wait).await);
    }
    all
}

/// The Capstan JSON body inside an SNS envelope read from the queue.
///
/// # Panics
///
/// When the envelope has no `Message` or the message no `capstan-json: ` line.
pub fn capstan_body(envelope: &Value) -> Value {
    let message = envelope["Message"]
        .as_str()
        .unwrap_or_else(|| panic!("no Message in the SNS envelope: {envelope}"));
    parse_message(message).unwrap_or_else(|| panic!("no capstan-json line in: {message}"))
}

/// A string message attribute of an SNS envelope (`target`, `action`, `outcome`).
pub fn message_attribute<'a>(envelope: &'a Value, name: &str) -> Option<&'a str> {
    envelope["MessageAttributes"][name]["Value"].as_str()
}
