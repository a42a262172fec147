//! Capstan's AWS calls against mocked SDK clients (aws-smithy-mocks): error classification of
//! real error responses, the calls `apply` makes (clamping included) and `describe`'s batching.

use std::time::Duration;

use aws_sdk_applicationautoscaling::operation::describe_scalable_targets::DescribeScalableTargetsOutput;
use aws_sdk_applicationautoscaling::operation::register_scalable_target::RegisterScalableTargetOutput;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ScalableTarget, ServiceNamespace};
use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsOutput;
use aws_sdk_autoscaling::operation::describe_policies::DescribePoliciesOutput;
use aws_sdk_autoscaling::operation::set_desired_capacity::SetDesiredCapacityOutput;
use aws_sdk_autoscaling::operation::update_auto_scaling_group::UpdateAutoScalingGroupOutput;
use aws_sdk_autoscaling::types::{
    AutoScalingGroup, Instance, LifecycleState, PredictiveScalingConfiguration,
    PredictiveScalingMode, ScalingPolicy,
};
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
use aws_sdk_ecs::types::{Failure, Service};
use aws_sdk_ssm::operation::get_parameter::GetParameterOutput;
use aws_sdk_ssm::types::Parameter;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::retry::RetryConfig;
use capstan_aws::{
    apply, describe, describe_calls, fetch_parameter, fetch_parameter_at, AwsError, Clients,
    ErrorKind, Live, Mode, Resource, Timeouts,
};
use capstan_policy::decision::Capacity;

/// Clients whose calls only the given rules answer; the SDK does not retry unless `retry` says so.
fn clients_with(
    ecs: &[&Rule],
    asg: &[&Rule],
    aas: &[&Rule],
    ssm: &[&Rule],
    retry: RetryConfig,
) -> Clients {
    let (r1, r2, r3, r4, r5) = (
        retry.clone(),
        retry.clone(),
        retry.clone(),
        retry.clone(),
        retry,
    );
    Clients {
        ecs: mock_client!(aws_sdk_ecs, RuleMode::MatchAny, ecs, |b| b
            .retry_config(r1.clone())),
        autoscaling: mock_client!(aws_sdk_autoscaling, RuleMode::MatchAny, asg, |b| b
            .retry_config(r2.clone())),
        aas: mock_client!(
            aws_sdk_applicationautoscaling,
            RuleMode::MatchAny,
            aas,
            |b| b.retry_config(r3.clone())
        ),
        sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, Vec::<&Rule>::new(), |b| b
            .retry_config(r4.clone())),
        ssm: mock_client!(aws_sdk_ssm, RuleMode::MatchAny, ssm, |b| b
            .retry_config(r5.clone())),
    }
}

fn clients(ecs: &[&Rule], asg: &[&Rule], aas: &[&Rule]) -> Clients {
    clients_with(ecs, asg, aas, &[], RetryConfig::disabled())
}

fn ecs_error(code: &str, message: &str) -> String {
    format!(r#"{{"__type":"{code}","message":"{message}"}}"#)
}

fn query_error(code: &str, message: &str) -> String {
    format!(
        r#"<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"#
    )
}

fn api() -> Resource {
    Resource::ecs("main", "api")
}

fn web() -> Resource {
    Resource::asg("web")
}

fn live(desired: u32, min: Option<u32>, max: Option<u32>, managed: bool) -> Live {
    Live {
        desired,
        running: desired,
        min,
        max,
        managed,
    }
}

fn cap(desired: u32, min: u32, max: u32) -> Capacity {
    Capacity { desired, min, max }
}

async fn update_service_error(status: u16, body: String) -> AwsError {
    let rule = mock!(aws_sdk_ecs::Client::update_service)
        .sequence()
        .http_status(status, Some(body))
        .build();
    let c = clients(&[&rule], &[], &[]);
    let err = apply(&c, &api(), &live(2, None, None, false), cap(4, 1, 10))
        .await
        .expect_err("the mocked call fails");
    assert_eq!(rule.num_calls(), 1);
    err
}

#[tokio::test]
async fn throttling_is_transient() {
    let err = update_service_error(400, ecs_error("ThrottlingException", "Rate exceeded")).await;
    assert_eq!(err.kind, ErrorKind::Transient);
    assert!(err.is_retryable());
    assert_eq!(err.code.as_deref(), Some("ThrottlingException"));
    assert_eq!(err.operation, "ecs:UpdateService");
    assert_eq!(
        err.to_string(),
        "ecs:UpdateService failed (ThrottlingException): Rate exceeded"
    );
}

#[tokio::test]
async fn access_denied_is_denied() {
    let err = update_service_error(
        400,
        ecs_error(
            "AccessDeniedException",
            "User: arn:aws:sts::1:assumed-role/capstan is not authorized to perform: ecs:UpdateService",
        ),
    )
    .await;
    assert_eq!(err.kind, ErrorKind::Denied);
    assert!(!err.is_retryable());
    assert!(err
        .to_string()
        .starts_with("ecs:UpdateService failed (AccessDeniedException): User: arn:aws:sts"));
}

#[tokio::test]
async fn server_errors_are_transient_and_missing_services_not_found() {
    let err = update_service_error(500, ecs_error("ServerException", "internal")).await;
    assert_eq!(err.kind, ErrorKind::Transient);
    let err = update_service_error(503, String::new()).await;
    assert_eq!(err.kind, ErrorKind::Transient);
    let err = update_service_error(400, ecs_error("ServiceNotFoundException", "gone")).await;
    assert_eq!(err.kind, ErrorKind::NotFound);
    let err = update_service_error(400, ecs_error("ClientException", "bad")).await;
    assert_eq!(err.kind, ErrorKind::Invalid);
}

#[tokio::test]
async fn validation_error_of_auto_scaling_is_invalid() {
    let rule = mock!(aws_sdk_autoscaling::Client::update_auto_scaling_group)
        .sequence()
        .http_status(
            400,
            Some(query_error(
                "ValidationError",
                "Desired capacity:25 must be between the specified min size:1 and max size:15",
            )),
        )
        .build();
    let c = clients(&[], &[&rule], &[]);
    let err = apply(&c, &web(), &live(2, Some(1), Some(5), false), cap(3, 1, 15))
        .await
        .expect_err("validation error");
    assert_eq!(err.kind, ErrorKind::Invalid);
    assert_eq!(err.code.as_deref(), Some("ValidationError"));
    assert_eq!(err.operation, "autoscaling:UpdateAutoScalingGroup");
    assert!(err.message.contains("must be between"), "{err}");
}

#[tokio::test]
async fn auto_scaling_throttling_is_transient() {
    let rule = mock!(aws_sdk_autoscaling::Client::set_desired_capacity)
        .sequence()
        .http_status(400, Some(query_error("Throttling", "Rate exceeded")))
        .build();
    let c = clients(&[], &[&rule], &[]);
    let err = apply(&c, &web(), &live(2, Some(1), Some(5), false), cap(3, 1, 5))
        .await
        .expect_err("throttled");
    assert_eq!(err.kind, ErrorKind::Transient);
    assert_eq!(err.code.as_deref(), Some("Throttling"));
}

#[tokio::test]
async fn the_sdk_retries_throttling_with_capstans_retry_config() {
    let rule = mock!(aws_sdk_ecs::Client::update_service)
        .sequence()
        .http_status(400, Some(ecs_error("ThrottlingException", "Rate exceeded")))
        .times(2)
        .output(|| UpdateServiceOutput::builder().build())
        .build();
    let retry = Timeouts::default()
        .retry_config()
        .with_initial_backoff(Duration::from_millis(1));
    let c = clients_with(&[&rule], &[], &[], &[], retry);
    let applied = apply(&c, &api(), &live(2, None, None, false), cap(4, 1, 10))
        .await
        .expect("third attempt succeeds");
    assert_eq!(rule.num_calls(), 3);
    assert_eq!(applied.calls, ["ecs:UpdateService"]);
}

#[tokio::test]
async fn asg_desired_is_clamped_to_the_groups_bounds() {
    let set = mock!(aws_sdk_autoscaling::Client::set_desired_capacity)
        .match_requests(|r| {
            r.auto_scaling_group_name() == Some("web")
                && r.desired_capacity() == Some(15)
                && r.honor_cooldown() == Some(false)
        })
        .then_output(|| SetDesiredCapacityOutput::builder().build());
    let c = clients(&[], &[&set], &[]);
    let applied = apply(
        &c,
        &web(),
        &live(10, Some(1), Some(15), false),
        cap(25, 1, 15),
    )
    .await
    .expect("set desired");
    assert_eq!(set.num_calls(), 1);
    assert_eq!(applied.mode, Mode::Group);
    assert_eq!((applied.desired, applied.min, applied.max), (15, 1, 15));
    assert_eq!(
        applied.clamped.as_deref(),
        Some("desired 25 clamped to the group's max 15")
    );
    assert_eq!(applied.calls, ["autoscaling:SetDesiredCapacity"]);

    // Already at the clamped value: nothing to do.
    let again = apply(
        &c,
        &web(),
        &live(15, Some(1), Some(15), false),
        cap(25, 1, 15),
    )
    .await
    .expect("no call");
    assert_eq!(set.num_calls(), 1);
    assert!(again.calls.is_empty());
    assert_eq!(again.desired, 15);
}

#[tokio::test]
async fn new_asg_bounds_go_through_update_with_desired_clamped_to_them() {
    let update = mock!(aws_sdk_autoscaling::Client::update_auto_scaling_group)
        .match_requests(|r| {
            r.auto_scaling_group_name() == Some("web")
                && r.min_size() == Some(4)
                && r.max_size() == Some(8)
                && r.desired_capacity() == Some(4)
        })
        .then_output(|| UpdateAutoScalingGroupOutput::builder().build());
    let c = clients(&[], &[&update], &[]);
    let applied = apply(&c, &web(), &live(2, Some(1), Some(5), false), cap(2, 4, 8))
        .await
        .expect("update group");
    assert_eq!(update.num_calls(), 1);
    assert_eq!((applied.desired, applied.min, applied.max), (4, 4, 8));
    assert_eq!(
        applied.clamped.as_deref(),
        Some("desired 2 clamped to the group's min 4")
    );
    assert_eq!(applied.calls, ["autoscaling:UpdateAutoScalingGroup"]);
}

#[tokio::test]
async fn a_group_with_its_own_policies_gets_new_bounds_never_a_desired_capacity() {
    let bounds = |min: i32, max: i32| {
        mock!(aws_sdk_autoscaling::Client::update_auto_scaling_group)
            .match_requests(move |r| {
                r.auto_scaling_group_name() == Some("web")
                    && r.min_size() == Some(min)
                    && r.max_size() == Some(max)
                    && r.desired_capacity().is_none()
            })
            .then_output(|| UpdateAutoScalingGroupOutput::builder().build())
    };
    let (raise, lower, cap_it) = (bounds(6, 10), bounds(2, 10), bounds(8, 8));
    let set = mock!(aws_sdk_autoscaling::Client::set_desired_capacity)
        .then_output(|| SetDesiredCapacityOutput::builder().build());
    let c = clients(&[], &[&raise, &lower, &cap_it, &set], &[]);

    // Scale-out from 3 to 6: the floor rises to 6 (AWS raises the group to it at once).
    let scaling = live(3, Some(2), Some(10), true);
    let applied = apply(&c, &web(), &scaling, cap(6, 2, 10))
        .await
        .expect("raise the floor");
    assert_eq!(raise.num_calls(), 1);
    assert_eq!(applied.mode, Mode::GroupBounds);
    assert_eq!((applied.desired, applied.min, applied.max), (6, 6, 10));
    assert_eq!(applied.calls, ["autoscaling:UpdateAutoScalingGroup"]);

    // The next decision (no scale-out) hands the group back: the floor returns to min.
    let raised = live(6, Some(6), Some(10), true);
    let back = apply(&c, &web(), &raised, cap(6, 2, 10))
        .await
        .expect("lower the floor");
    assert_eq!(lower.num_calls(), 1);
    assert_eq!((back.min, back.max), (2, 10));

    // Then all is in place: no call.
    let again = apply(&c, &web(), &live(6, Some(2), Some(10), true), cap(6, 2, 10))
        .await
        .expect("nothing to do");
    assert!(again.calls.is_empty());

    // A scale-out beyond max is clamped to it, and said so.
    let over = apply(&c, &web(), &live(5, Some(8), Some(8), true), cap(12, 8, 8))
        .await
        .expect("already there");
    assert!(over.calls.is_empty(), "8..8 is in place: {over:?}");
    assert_eq!(
        over.clamped.as_deref(),
        Some("desired 12 clamped to the group's max 8")
    );
    let capped = apply(&c, &web(), &live(5, Some(2), Some(10), true), cap(12, 8, 8))
        .await
        .expect("cap");
    assert_eq!(cap_it.num_calls(), 1);
    assert_eq!((capped.desired, capped.min, capped.max), (8, 8, 8));
    assert_eq!(
        set.num_calls(),
        0,
        "SetDesiredCapacity never fights its policy"
    );
}

#[tokio::test]
async fn managed_ecs_service_gets_a_new_floor_not_a_desired_count() {
    let register = mock!(aws_sdk_applicationautoscaling::Client::register_scalable_target)
        .match_requests(|r| {
            r.service_namespace() == Some(&ServiceNamespace::Ecs)
                && r.resource_id() == Some("service/main/api")
                && r.scalable_dimension() == Some(&ScalableDimension::EcsServiceDesiredCount)
                && r.min_capacity() == Some(6)
                && r.max_capacity() == Some(12)
        })
        .then_output(|| RegisterScalableTargetOutput::builder().build());
    let update = mock!(aws_sdk_ecs::Client::update_service)
        .then_output(|| UpdateServiceOutput::builder().build());
    let c = clients(&[&update], &[], &[&register]);
    let managed = live(3, Some(2), Some(10), true);
    let applied = apply(&c, &api(), &managed, cap(6, 2, 12))
        .await
        .expect("register");
    assert_eq!(register.num_calls(), 1);
    assert_eq!(
        update.num_calls(),
        0,
        "a managed service's desiredCount is never set"
    );
    assert_eq!(applied.mode, Mode::ScalableTarget);
    assert_eq!((applied.desired, applied.min, applied.max), (6, 6, 12));
    assert_eq!(applied.clamped, None);
    assert_eq!(
        applied.calls,
        ["application-autoscaling:RegisterScalableTarget"]
    );

    // The floor stays within Capstan's bounds, and says so.
    let register_max = mock!(aws_sdk_applicationautoscaling::Client::register_scalable_target)
        .match_requests(|r| r.min_capacity() == Some(12) && r.max_capacity() == Some(12))
        .then_output(|| RegisterScalableTargetOutput::builder().build());
    let c = clients(&[], &[], &[&register_max]);
    let applied = apply(&c, &api(), &managed, cap(20, 2, 12))
        .await
        .expect("register");
    assert_eq!(register_max.num_calls(), 1);
    assert_eq!(applied.desired, 12);
    assert_eq!(
        applied.clamped.as_deref(),
        Some("desired 20 clamped to the target's max 12")
    );

    // Already in place: no call.
    let applied = apply(
        &c,
        &api(),
        &live(12, Some(12), Some(12), true),
        cap(20, 2, 12),
    )
    .await
    .expect("nothing to do");
    assert!(applied.calls.is_empty());

    // Not a scale-out (a scale-in, or a tick with the count unchanged): the floor goes back to
    // Capstan's min and target tracking decides the count within the bounds.
    let release = mock!(aws_sdk_applicationautoscaling::Client::register_scalable_target)
        .match_requests(|r| r.min_capacity() == Some(2) && r.max_capacity() == Some(10))
        .then_output(|| RegisterScalableTargetOutput::builder().build());
    let c = clients(&[], &[], &[&release]);
    let pinned = live(7, Some(7), Some(10), true);
    for to in [cap(7, 2, 10), cap(5, 2, 10)] {
        let applied = apply(&c, &api(), &pinned, to).await.expect("register");
        assert_eq!((applied.desired, applied.min, applied.max), (2, 2, 10));
        assert_eq!(applied.clamped, None);
    }
    assert_eq!(release.num_calls(), 2);
    // ...and when the floor already is min, nothing to do.
    let applied = apply(&c, &api(), &live(7, Some(2), Some(10), true), cap(7, 2, 10))
        .await
        .expect("nothing to do");
    assert!(applied.calls.is_empty());
    assert_eq!(release.num_calls(), 2);
    assert_eq!(register_max.num_calls(), 1);
}

#[tokio::test]
async fn unmanaged_ecs_service_gets_its_desired_count() {
    let update = mock!(aws_sdk_ecs::Client::update_service)
        .match_requests(|r| {
            r.cluster() == Some("main")
                && r.service() == Some("api")
                && r.desired_count() == Some(7)
        })
        .then_output(|| UpdateServiceOutput::builder().build());
    let c = clients(&[&update], &[], &[]);
    let applied = apply(&c, &api(), &live(3, None, None, false), cap(7, 2, 12))
        .await
        .expect("update");
    assert_eq!(update.num_calls(), 1);
    assert_eq!(applied.mode, Mode::DesiredCount);
    assert_eq!((applied.desired, applied.min, applied.max), (7, 2, 12));
    let applied = apply(&c, &api(), &live(7, None, None, false), cap(7, 2, 12))
        .await
        .expect("no call");
    assert!(applied.calls.is_empty());
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn describe_batches_and_merges() {
    // 25 services in `main` (one of them unknown to AWS), 3 groups; 2 services managed.
    let services = mock!(aws_sdk_ecs::Client::describe_services).then_compute_output(|req| {
        assert!(req.services().len() <= 10, "at most 10 services per call");
        assert_eq!(req.cluster(), Some("main"));
        let mut out = DescribeServicesOutput::builder();
        for name in req.services() {
            if name == "ghost" {
                out = out.failures(
                    Failure::builder()
                        .arn("arn:aws:ecs:us-east-1:1:service/main/ghost")
                        .reason("MISSING")
                        .build(),
                );
                continue;
            }
            let n: i32 = name.trim_start_matches('s').parse().expect("service sN");
            out = out.services(
                Service::builder()
                    .service_name(name)
                    .status("ACTIVE")
                    .desired_count(n)
                    .running_count(n / 2)
                    .build(),
            );
        }
        out.build()
    });
    let targets = mock!(aws_sdk_applicationautoscaling::Client::describe_scalable_targets)
        .then_compute_output(|req| {
            assert_eq!(req.resource_ids().len(), 25);
            DescribeScalableTargetsOutput::builder()
                .scalable_targets(
                    ScalableTarget::builder()
                        .service_namespace(ServiceNamespace::Ecs)
                        .resource_id("service/main/s3")
                        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                        .min_capacity(2)
                        .max_capacity(9)
                        .role_arn("arn:aws:iam::1:role/r")
                        .creation_time(aws_smithy_types::DateTime::from_secs(0))
                        .build()
                        .expect("scalable target"),
                )
                .build()
        });
    let groups = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups)
        .then_compute_output(|req| {
            assert_eq!(req.auto_scaling_group_names().len(), 3);
            let instance = |state| {
                Instance::builder()
                    .instance_id("i-1")
                    .availability_zone("us-east-1a")
                    .lifecycle_state(state)
                    .health_status("Healthy")
                    .protected_from_scale_in(false)
                    .build()
            };
            let mut out = DescribeAutoScalingGroupsOutput::builder();
            for name in req
                .auto_scaling_group_names()
                .iter()
                .filter(|n| *n != "g-ghost")
            {
                out = out.auto_scaling_groups(
                    AutoScalingGroup::builder()
                        .auto_scaling_group_name(name)
                        .min_size(1)
                        .max_size(6)
                        .desired_capacity(3)
                        .instances(instance(LifecycleState::InService))
                        .instances(instance(LifecycleState::InService))
                        .instances(instance(LifecycleState::Pending))
                        .build(),
                );
            }
            out.build()
        });
    // g2 has a target-tracking policy; g1 only a disabled step policy and a forecast-only
    // predictive one, which move nothing; another group's policy is not g1's.
    let policies = mock!(aws_sdk_autoscaling::Client::describe_policies)
        .match_requests(|r| r.auto_scaling_group_name().is_none())
        .then_output(|| {
            let policy = |group: &str, kind: &str| {
                ScalingPolicy::builder()
                    .auto_scaling_group_name(group)
                    .policy_name(format!("{group}-{kind}"))
                    .policy_type(kind)
            };
            DescribePoliciesOutput::builder()
                .scaling_policies(policy("g2", "TargetTrackingScaling").build())
                .scaling_policies(policy("g1", "StepScaling").enabled(false).build())
                .scaling_policies(
                    policy("g1", "PredictiveScaling")
                        .predictive_scaling_configuration(
                            PredictiveScalingConfiguration::builder()
                                .mode(PredictiveScalingMode::ForecastOnly)
                                .build(),
                        )
                        .build(),
                )
                .scaling_policies(policy("elsewhere", "SimpleScaling").build())
                .build()
        });
    let c = clients(&[&services], &[&groups, &policies], &[&targets]);
    let mut resources: Vec<Resource> = (1..=24)
        .map(|i| Resource::ecs("main", format!("s{i}")))
        .collect();
    resources.push(Resource::ecs("main", "ghost"));
    for g in ["g1", "g2", "g-ghost"] {
        resources.push(Resource::asg(g));
    }
    let found = describe(&c, &resources).await.expect("describe");
    assert_eq!(describe_calls(&resources), 3 + 1 + 1 + 1);
    assert_eq!(services.num_calls(), 3);
    assert_eq!(targets.num_calls(), 1);
    assert_eq!(groups.num_calls(), 1);
    assert_eq!(
        policies.num_calls(),
        1,
        "one call for every group's policies"
    );
    assert_eq!(found.len(), 24 + 2, "ghosts are absent");
    let s7 = &found[&Resource::ecs("main", "s7")];
    assert_eq!(*s7, live_of(7, 3, None, None, false));
    let s3 = &found[&Resource::ecs("main", "s3")];
    assert_eq!(*s3, live_of(3, 1, Some(2), Some(9), true));
    let g1 = &found[&Resource::asg("g1")];
    assert_eq!(*g1, live_of(3, 2, Some(1), Some(6), false));
    let g2 = &found[&Resource::asg("g2")];
    assert_eq!(*g2, live_of(3, 2, Some(1), Some(6), true), "scales itself");
}

#[tokio::test]
async fn describe_without_groups_reads_no_policies_and_a_denied_policy_read_fails() {
    let targets = mock!(aws_sdk_applicationautoscaling::Client::describe_scalable_targets)
        .then_output(|| DescribeScalableTargetsOutput::builder().build());
    let services = mock!(aws_sdk_ecs::Client::describe_services)
        .then_output(|| DescribeServicesOutput::builder().build());
    let denied = mock!(aws_sdk_autoscaling::Client::describe_policies)
        .sequence()
        .http_status(403, Some(query_error("AccessDenied", "not authorized")))
        .repeatedly()
        .build();
    let groups = mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups)
        .then_output(|| DescribeAutoScalingGroupsOutput::builder().build());
    let c = clients(&[&services], &[&groups, &denied], &[&targets]);
    describe(&c, &[api()])
        .await
        .expect("no group, no policy read");
    assert_eq!(describe_calls(&[api()]), 2);
    assert_eq!(denied.num_calls(), 0);
    // Without knowing whether a group scales itself Capstan cannot choose its call: the whole
    // describe fails (and says which permission), rather than guess and fight its policy.
    let err = describe(&c, &[web()]).await.expect_err("denied");
    assert_eq!(err.operation, "autoscaling:DescribePolicies");
    assert_eq!(err.kind, ErrorKind::Denied);
}

fn live_of(desired: u32, running: u32, min: Option<u32>, max: Option<u32>, managed: bool) -> Live {
    Live {
        desired,
        running,
        min,
        max,
        managed,
    }
}

#[tokio::test]
async fn describe_reports_a_failed_call_and_skips_missing_clusters() {
    let services = mock!(aws_sdk_ecs::Client::describe_services)
        .match_requests(|r| r.cluster() == Some("main"))
        .sequence()
        .http_status(400, Some(ecs_error("AccessDeniedException", "no")))
        .build();
    let missing_cluster = mock!(aws_sdk_ecs::Client::describe_services)
        .match_requests(|r| r.cluster() == Some("gone"))
        .sequence()
        .http_status(
            400,
            Some(ecs_error("ClusterNotFoundException", "Cluster not found.")),
        )
        .repeatedly()
        .build();
    let targets = mock!(aws_sdk_applicationautoscaling::Client::describe_scalable_targets)
        .then_output(|| DescribeScalableTargetsOutput::builder().build());
    let c = clients(&[&services, &missing_cluster], &[], &[&targets]);
    let gone = Resource::ecs("gone", "api");
    let found = describe(&c, std::slice::from_ref(&gone))
        .await
        .expect("absent, not failed");
    assert!(found.is_empty());
    assert_eq!(missing_cluster.num_calls(), 1);

    let err = describe(&c, &[api(), gone]).await.expect_err("denied");
    assert_eq!(err.operation, "ecs:DescribeServices");
    assert_eq!(err.kind, ErrorKind::Denied);
}

#[tokio::test]
async fn fetch_parameter_decrypts_and_reports_missing_ones() {
    let get = mock!(aws_sdk_ssm::Client::get_parameter)
        .match_requests(|r| {
            r.name() == Some("/capstan/policy") && r.with_decryption() == Some(true)
        })
        .then_output(|| {
            GetParameterOutput::builder()
                .parameter(
                    Parameter::builder()
                        .name("/capstan/policy")
                        .value("[settings]")
                        .build(),
                )
                .build()
        });
    let missing = mock!(aws_sdk_ssm::Client::get_parameter)
        .sequence()
        .http_status(400, Some(ecs_error("ParameterNotFound", "")))
        .build();
    let c = clients_with(&[], &[], &[], &[&get, &missing], RetryConfig::disabled());
    assert_eq!(
        fetch_parameter(&c, "/capstan/policy").await.expect("value"),
        "[settings]"
    );
    let err = fetch_parameter(&c, "/nope").await.expect_err("missing");
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(err.operation, "ssm:GetParameter");
    assert_eq!(err.code.as_deref(), Some("ParameterNotFound"));
}

#[tokio::test]
async fn fetch_parameter_at_asks_for_the_version_with_the_selector_and_reads_it() {
    let pinned = mock!(aws_sdk_ssm::Client::get_parameter)
        .match_requests(|r| r.name() == Some("/capstan/policy:7"))
        .then_output(|| {
            GetParameterOutput::builder()
                .parameter(
                    Parameter::builder()
                        .name("/capstan/policy")
                        .value("[settings]")
                        .version(7)
                        .selector(":7")
                        .build(),
                )
                .build()
        });
    let latest = mock!(aws_sdk_ssm::Client::get_parameter)
        .match_requests(|r| r.name() == Some("/capstan/policy"))
        .then_output(|| {
            GetParameterOutput::builder()
                .parameter(
                    Parameter::builder()
                        .name("/capstan/policy")
                        .value("[settings]")
                        .version(9)
                        .build(),
                )
                .build()
        });
    let gone = mock!(aws_sdk_ssm::Client::get_parameter)
        .sequence()
        .http_status(400, Some(ecs_error("ParameterVersionNotFound", "")))
        .build();
    let c = clients_with(
        &[],
        &[],
        &[],
        &[&pinned, &latest, &gone],
        RetryConfig::disabled(),
    );
    let p = fetch_parameter_at(&c, "/capstan/policy", Some(7))
        .await
        .expect("pinned");
    assert_eq!((p.value.as_str(), p.version), ("[settings]", 7));
    assert!(!format!("{p:?}").contains("[settings]"), "{p:?}");
    let p = fetch_parameter_at(&c, "/capstan/policy", None)
        .await
        .expect("latest");
    assert_eq!(p.version, 9);
    let err = fetch_parameter_at(&c, "/capstan/policy", Some(70))
        .await
        .expect_err("no such version");
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert_eq!(err.code.as_deref(), Some("ParameterVersionNotFound"));
}
