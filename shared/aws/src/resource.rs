//! The AWS resources Capstan scales, reading their live capacity, and finding the resources a
//! tag selector covers.
//!
//! # Batching
//!
//! [`describe`] reads any number of resources in as few calls as the APIs allow, and runs the
//! calls concurrently (at most [`MAX_CONCURRENT_CALLS`] at a time per API, the three APIs side
//! by side):
//!
//! - `ecs:DescribeServices`: 10 services per call, per cluster;
//! - `application-autoscaling:DescribeScalableTargets`: 50 ECS services per call (all clusters
//!   together), to learn which services a scalable target manages;
//! - `autoscaling:DescribeAutoScalingGroups`: 100 groups per call;
//! - `autoscaling:DescribePolicies`: one call (and its pages) for all the groups, without a group
//!   name: the region's scaling policies at once, to learn which groups scale themselves. Per
//!   group it would be one call per group on every tick.
//!
//! [`describe_calls`] says how many calls that is for a given list.
//!
//! # What "live" means
//!
//! - ECS service: `desired` and `running` are the service's `desiredCount` and `runningCount`.
//!   When an Application Auto Scaling scalable target exists for it (namespace `ecs`, resource
//!   `service/<cluster>/<service>`, dimension `ecs:service:DesiredCount`), `managed` is true and
//!   `min`/`max` are the target's `MinCapacity`/`MaxCapacity`; otherwise `min`/`max` are `None`.
//! - Auto Scaling group: `desired` is `DesiredCapacity`, `running` the instances `InService`,
//!   `min`/`max` are `MinSize`/`MaxSize`. `managed` is true when the group has a scaling policy of
//!   its own that moves its desired capacity: an enabled target-tracking, step or simple scaling
//!   policy, or a predictive one in `ForecastAndScale` mode (a `ForecastOnly` one changes
//!   nothing). Capstan then moves the group's bounds and leaves the desired capacity to that
//!   policy ([`crate::actuate`]).
//!
//! A resource AWS does not know (ECS reports it as a `MISSING` failure, a deleted service is
//! `INACTIVE`, its cluster does not exist, Auto Scaling leaves it out) is simply absent from the
//! map [`describe`] returns; any other failed call fails the whole `describe`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use aws_sdk_autoscaling::types::{Filter, LifecycleState};
use aws_sdk_ecs::types::ServiceField;
use capstan_policy::model::{Target, TargetKind};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::config::Clients;
use crate::error::{AwsError, ErrorKind};
use crate::reach::Reach;

/// Services per `ecs:DescribeServices` call (the API's limit).
pub const ECS_DESCRIBE_BATCH: usize = 10;
/// Resource ids per `application-autoscaling:DescribeScalableTargets` call (one page).
pub const AAS_DESCRIBE_BATCH: usize = 50;
/// Group names per `autoscaling:DescribeAutoScalingGroups` call (the API's page limit).
pub const ASG_DESCRIBE_BATCH: usize = 100;
/// Most calls to one API [`describe`] has in flight at once (it calls up to three APIs side by
/// side), and most calls [`resolve`] has in flight at once.
pub const MAX_CONCURRENT_CALLS: usize = 8;

/// The ECS service dimension Application Auto Scaling scales.
pub(crate) const ECS_DIMENSION: ScalableDimension = ScalableDimension::EcsServiceDesiredCount;

/// One AWS resource Capstan can scale.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Resource {
    /// An ECS service, by cluster name and service name.
    Ecs {
        /// Cluster name.
        cluster: String,
        /// Service name.
        service: String,
        /// In another account: how to reach it (none: the functions' own account). Left out
        /// of the JSON when none, so that intents stored before it existed still read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reach: Option<Reach>,
    },
    /// An EC2 Auto Scaling group, by name.
    Asg {
        /// Group name.
        group: String,
        /// In another account: how to reach it (none: the functions' own account).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reach: Option<Reach>,
    },
}

impl Resource {
    /// The one resource a target names (`cluster` + `service`, or `group`); `None` for a
    /// selector target (see [`resolve`]) and for a target missing its names.
    pub fn for_target(t: &Target) -> Option<Resource> {
        if t.selector.is_some() {
            return None;
        }
        match t.kind {
            TargetKind::Ecs => Some(Resource::Ecs {
                cluster: t.cluster.clone()?,
                service: t.service.clone()?,
                reach: Reach::of(t),
            }),
            TargetKind::Asg => Some(Resource::Asg {
                group: t.group.clone()?,
                reach: Reach::of(t),
            }),
        }
    }

    /// A readable name: `ecs main-cluster/api-service`, `asg web-asg`, and in another account
    /// `asg web-asg in account 222222222222`.
    pub fn label(&self) -> String {
        let name = match self {
            Resource::Ecs {
                cluster, service, ..
            } => format!("ecs {cluster}/{service}"),
            Resource::Asg { group, .. } => format!("asg {group}"),
        };
        match self.reach() {
            Some(reach) => format!("{name} in {reach}"),
            None => name,
        }
    }

    /// The Application Auto Scaling resource id of an ECS service, `service/<cluster>/<service>`.
    pub fn scalable_target_id(&self) -> Option<String> {
        match self {
            Resource::Ecs {
                cluster, service, ..
            } => Some(ecs_resource_id(cluster, service)),
            Resource::Asg { .. } => None,
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

pub(crate) fn ecs_resource_id(cluster: &str, service: &str) -> String {
    format!("service/{cluster}/{service}")
}

/// The live capacity of a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Live {
    /// Desired count / desired capacity.
    pub desired: u32,
    /// Running tasks / instances in service.
    pub running: u32,
    /// The minimum AWS holds (scalable target `MinCapacity`, group `MinSize`), if any.
    pub min: Option<u32>,
    /// The maximum AWS holds (scalable target `MaxCapacity`, group `MaxSize`), if any.
    pub max: Option<u32>,
    /// True when something else scales the resource within its bounds: an ECS service with an
    /// Application Auto Scaling scalable target, or an Auto Scaling group with a scaling policy
    /// of its own (see the module docs). Capstan then moves the bounds, never the desired count.
    pub managed: bool,
}

impl Live {
    /// A resource at rest: `desired`, all of it running, no bounds of AWS's own, nothing else
    /// scaling it (the usual start of a test or a demo's world).
    pub fn steady(desired: u32) -> Live {
        Live {
            desired,
            running: desired,
            min: None,
            max: None,
            managed: false,
        }
    }

    /// The same, with AWS's own bounds `min..max` (a scalable target's or a group's).
    pub fn bounded(self, min: u32, max: u32) -> Live {
        Live {
            min: Some(min),
            max: Some(max),
            ..self
        }
    }

    /// The same, scaled by something else within its bounds (target tracking, a group's own
    /// scaling policy): Capstan then moves the bounds only.
    pub fn managed(self) -> Live {
        Live {
            managed: true,
            ..self
        }
    }
}

/// One batched call of [`describe`].
#[derive(Debug, Clone, PartialEq)]
enum Call {
    Services {
        cluster: String,
        services: Vec<String>,
    },
    ScalableTargets {
        ids: Vec<String>,
    },
    Groups {
        names: Vec<String>,
    },
    GroupPolicies,
}

fn plan(resources: &[Resource]) -> Vec<Call> {
    let mut by_cluster: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    let mut groups = BTreeSet::new();
    for r in resources {
        match r {
            Resource::Ecs {
                cluster, service, ..
            } => {
                by_cluster.entry(cluster).or_default().insert(service);
                ids.insert(ecs_resource_id(cluster, service));
            }
            Resource::Asg { group, .. } => {
                groups.insert(group.as_str());
            }
        }
    }
    let mut calls = Vec::new();
    for (cluster, services) in by_cluster {
        let services: Vec<&str> = services.into_iter().collect();
        for chunk in services.chunks(ECS_DESCRIBE_BATCH) {
            calls.push(Call::Services {
                cluster: cluster.to_string(),
                services: chunk.iter().map(|s| s.to_string()).collect(),
            });
        }
    }
    let ids: Vec<String> = ids.into_iter().collect();
    for chunk in ids.chunks(AAS_DESCRIBE_BATCH) {
        calls.push(Call::ScalableTargets {
            ids: chunk.to_vec(),
        });
    }
    let groups: Vec<&str> = groups.into_iter().collect();
    for chunk in groups.chunks(ASG_DESCRIBE_BATCH) {
        calls.push(Call::Groups {
            names: chunk.iter().map(|s| s.to_string()).collect(),
        });
    }
    if !groups.is_empty() {
        calls.push(Call::GroupPolicies);
    }
    calls
}

/// How many AWS calls [`describe`] makes for `resources` (duplicates count once), when no
/// response is split over pages.
pub fn describe_calls(resources: &[Resource]) -> usize {
    plan(resources).len()
}

/// Reads the live capacity of `resources` in batched, concurrent calls (see the module docs).
/// Resources AWS does not know are absent from the result.
pub async fn describe(
    c: &Clients,
    resources: &[Resource],
) -> Result<BTreeMap<Resource, Live>, AwsError> {
    let calls = plan(resources);
    tracing::debug!(resources = resources.len(), calls = calls.len(), "describe");
    // One queue per API: AWS throttles each API on its own, and the few scalable-target and
    // group calls need not wait behind dozens of `DescribeServices`.
    let (mut ecs, mut aas, mut asg) = (Vec::new(), Vec::new(), Vec::new());
    let mut policies = None;
    for call in calls {
        let c = c.clone();
        match call {
            Call::Services { cluster, services } => {
                ecs.push(async move { describe_services(&c, &cluster, &services, false).await })
            }
            Call::ScalableTargets { ids } => {
                aas.push(async move { describe_scalable_targets(&c, ids).await })
            }
            Call::Groups { names } => {
                asg.push(async move { describe_groups(&c, Some(names), Vec::new()).await })
            }
            Call::GroupPolicies => {
                policies = Some(async move { self_scaling_groups(&c).await });
            }
        }
    }
    let policies = async move {
        match policies {
            Some(call) => call.await,
            None => Ok(BTreeSet::new()),
        }
    };
    let (services, targets, groups, self_scaling) = tokio::try_join!(
        run_concurrently(ecs),
        run_concurrently(aas),
        run_concurrently(asg),
        policies
    )?;
    let targets: BTreeMap<String, (u32, u32)> = targets
        .into_iter()
        .flatten()
        .map(|(id, min, max)| (id, (min, max)))
        .collect();
    let mut out: BTreeMap<Resource, Live> = groups
        .into_iter()
        .flatten()
        .map(|(r, mut live, _)| {
            if let Resource::Asg { group, .. } = &r {
                live.managed = self_scaling.contains(group);
            }
            (r, live)
        })
        .collect();
    let services = services.into_iter().flatten().map(|(r, live, _)| (r, live));
    let wanted: BTreeSet<&Resource> = resources.iter().collect();
    for (r, mut live) in services {
        if !wanted.contains(&r) {
            continue;
        }
        if let Some(id) = r.scalable_target_id() {
            if let Some(&(min, max)) = targets.get(&id) {
                live.managed = true;
                live.min = Some(min);
                live.max = Some(max);
            }
        }
        out.insert(r, live);
    }
    out.retain(|r, _| wanted.contains(r));
    Ok(out)
}

/// Finds the resources a target covers: the one it names, or for a selector target every
/// resource carrying all the selector's tags, sorted.
///
/// - ECS: every service of the target's `cluster` (`ecs:ListServices`, paginated), described
///   with their tags (`ecs:DescribeServices` with `include = TAGS`, 10 per call, concurrently);
///   deleted (`INACTIVE`) services are left out.
/// - Auto Scaling: `autoscaling:DescribeAutoScalingGroups` with one `tag:<key>` filter per
///   selector tag (paginated); the tags are checked again on the answer.
///
/// An empty selector is refused: it would match every resource in the account.
pub async fn resolve(c: &Clients, t: &Target) -> Result<Vec<Resource>, AwsError> {
    if let Some(r) = Resource::for_target(t) {
        return Ok(vec![r]);
    }
    let Some(selector) = &t.selector else {
        return Err(AwsError::new(
            "resolve",
            ErrorKind::Invalid,
            None,
            format!(
                "target `{}` names no resource and has no selector",
                t.resource_label()
            ),
        ));
    };
    if selector.is_empty() {
        return Err(AwsError::new(
            "resolve",
            ErrorKind::Invalid,
            None,
            format!(
                "the selector of target `{}` is empty: it would match every resource",
                t.resource_label()
            ),
        ));
    }
    let tags: Vec<(String, String)> = selector
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut found: Vec<Resource> = match t.kind {
        TargetKind::Ecs => {
            let Some(cluster) = &t.cluster else {
                return Err(AwsError::new(
                    "ecs:ListServices",
                    ErrorKind::Invalid,
                    None,
                    format!(
                        "target `{}` has a selector but no `cluster`",
                        t.resource_label()
                    ),
                ));
            };
            resolve_services(c, cluster, &tags).await?
        }
        TargetKind::Asg => {
            let filters = tags
                .iter()
                .map(|(k, v)| Filter::builder().name(format!("tag:{k}")).values(v).build())
                .collect();
            describe_groups(c, None, filters)
                .await?
                .into_iter()
                .filter(|(_, _, group_tags)| carries_all(group_tags, &tags))
                .map(|(r, _, _)| r)
                .collect()
        }
    };
    found.sort();
    found.dedup();
    Ok(found)
}

fn carries_all(have: &[(String, String)], want: &[(String, String)]) -> bool {
    want.iter().all(|w| have.contains(w))
}

async fn resolve_services(
    c: &Clients,
    cluster: &str,
    tags: &[(String, String)],
) -> Result<Vec<Resource>, AwsError> {
    let arns: Vec<String> = c
        .ecs
        .list_services()
        .cluster(cluster)
        .max_results(100)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<String>, _>>()
        .await
        .map_err(|e| AwsError::from_sdk("ecs:ListServices", e))?;
    let tasks = arns.chunks(ECS_DESCRIBE_BATCH).map(|chunk| {
        let c = c.clone();
        let cluster = cluster.to_string();
        let chunk = chunk.to_vec();
        async move { describe_services(&c, &cluster, &chunk, true).await }
    });
    let mut out = Vec::new();
    for batch in run_concurrently(tasks).await? {
        for (r, _, service_tags) in batch {
            if carries_all(&service_tags, tags) {
                out.push(r);
            }
        }
    }
    Ok(out)
}

type Tags = Vec<(String, String)>;

/// One `ecs:DescribeServices` call (at most 10 names or ARNs).
async fn describe_services(
    c: &Clients,
    cluster: &str,
    services: &[String],
    with_tags: bool,
) -> Result<Vec<(Resource, Live, Tags)>, AwsError> {
    let mut req = c
        .ecs
        .describe_services()
        .cluster(cluster)
        .set_services(Some(services.to_vec()));
    if with_tags {
        req = req.include(ServiceField::Tags);
    }
    let out = match req.send().await {
        Ok(out) => out,
        // A cluster that does not exist holds no services: they are absent, like missing ones.
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_cluster_not_found_exception()) =>
        {
            tracing::debug!(cluster, "ecs cluster not found");
            return Ok(Vec::new());
        }
        Err(e) => return Err(AwsError::from_sdk("ecs:DescribeServices", e)),
    };
    for f in out.failures() {
        tracing::debug!(
            cluster,
            arn = f.arn().unwrap_or("?"),
            reason = f.reason().unwrap_or("?"),
            "ecs service not described"
        );
    }
    Ok(out
        .services()
        .iter()
        .filter(|s| s.status() != Some("INACTIVE"))
        .filter_map(|s| {
            let service = s.service_name()?.to_string();
            let tags = s
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
                .collect();
            let live = Live {
                desired: count(s.desired_count()),
                running: count(s.running_count()),
                min: None,
                max: None,
                managed: false,
            };
            let r = Resource::Ecs {
                cluster: cluster.to_string(),
                service,
                reach: None,
            };
            Some((r, live, tags))
        })
        .collect())
}

/// `application-autoscaling:DescribeScalableTargets` for up to 50 ECS resource ids; returns
/// `(resource id, min, max)`.
async fn describe_scalable_targets(
    c: &Clients,
    ids: Vec<String>,
) -> Result<Vec<(String, u32, u32)>, AwsError> {
    let targets = c
        .aas
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ECS_DIMENSION)
        .set_resource_ids(Some(ids))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| AwsError::from_sdk("application-autoscaling:DescribeScalableTargets", e))?;
    Ok(targets
        .iter()
        .filter(|t| t.scalable_dimension() == &ECS_DIMENSION)
        .map(|t| {
            (
                t.resource_id().to_string(),
                count(t.min_capacity()),
                count(t.max_capacity()),
            )
        })
        .collect())
}

/// `autoscaling:DescribeAutoScalingGroups` by names (up to 100) or by filters, all pages.
async fn describe_groups(
    c: &Clients,
    names: Option<Vec<String>>,
    filters: Vec<Filter>,
) -> Result<Vec<(Resource, Live, Tags)>, AwsError> {
    let mut req = c
        .autoscaling
        .describe_auto_scaling_groups()
        .max_records(ASG_DESCRIBE_BATCH as i32)
        .set_auto_scaling_group_names(names);
    if !filters.is_empty() {
        req = req.set_filters(Some(filters));
    }
    let groups = req
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| AwsError::from_sdk("autoscaling:DescribeAutoScalingGroups", e))?;
    Ok(groups
        .iter()
        .filter_map(|g| {
            let group = g.auto_scaling_group_name()?.to_string();
            let running = g
                .instances()
                .iter()
                .filter(|i| i.lifecycle_state() == Some(&LifecycleState::InService))
                .count();
            let live = Live {
                desired: count(g.desired_capacity().unwrap_or(0)),
                running: u32::try_from(running).unwrap_or(u32::MAX),
                min: g.min_size().map(count),
                max: g.max_size().map(count),
                managed: false,
            };
            let tags = g
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
                .collect();
            Some((Resource::asg(group), live, tags))
        })
        .collect())
}

/// `autoscaling:DescribePolicies` without a group name, all pages: the groups of the region that
/// have a scaling policy of their own moving their desired capacity (see the module docs).
async fn self_scaling_groups(c: &Clients) -> Result<BTreeSet<String>, AwsError> {
    let policies = c
        .autoscaling
        .describe_policies()
        .max_records(ASG_DESCRIBE_BATCH as i32)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| AwsError::from_sdk("autoscaling:DescribePolicies", e))?;
    Ok(policies
        .iter()
        .filter(|p| scales_the_group(p))
        .filter_map(|p| p.auto_scaling_group_name().map(str::to_string))
        .collect())
}

/// True for a policy that changes its group's desired capacity by itself.
pub(crate) fn scales_the_group(p: &aws_sdk_autoscaling::types::ScalingPolicy) -> bool {
    use aws_sdk_autoscaling::types::PredictiveScalingMode;
    // AWS leaves `Enabled` out for policies that never were disabled.
    if p.enabled() == Some(false) {
        return false;
    }
    match p.policy_type() {
        Some("TargetTrackingScaling" | "StepScaling" | "SimpleScaling") => true,
        Some("PredictiveScaling") => p
            .predictive_scaling_configuration()
            .and_then(|c| c.mode())
            .is_some_and(|m| *m == PredictiveScalingMode::ForecastAndScale),
        // No type: AWS's default is simple scaling. A type this SDK does not know yet: assume
        // it scales, so Capstan moves bounds rather than fight it.
        _ => true,
    }
}

/// AWS counts are `i32` and never negative; a negative one reads as 0.
fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// Runs `tasks` on the Tokio runtime, at most [`MAX_CONCURRENT_CALLS`] at a time, and returns
/// their results in completion order; the first error cancels the rest.
async fn run_concurrently<T, F>(tasks: impl IntoIterator<Item = F>) -> Result<Vec<T>, AwsError>
where
    F: Future<Output = Result<T, AwsError>> + Send + 'static,
    T: Send + 'static,
{
    let permits = Arc::new(Semaphore::new(MAX_CONCURRENT_CALLS));
    let mut set = JoinSet::new();
    for task in tasks {
        let permits = Arc::clone(&permits);
        set.spawn(async move {
            let _permit = permits
                .acquire_owned()
                .await
                .expect("semaphore never closed");
            task.await
        });
    }
    let mut out = Vec::with_capacity(set.len());
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok(v)) => out.push(v),
            Ok(Err(e)) => return Err(e),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("AWS call task cancelled: {e}"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ecs(cluster: &str, service: &str) -> Resource {
        Resource::ecs(cluster, service)
    }

    #[test]
    fn plan_batches_per_cluster_and_api() {
        let mut rs: Vec<Resource> = (0..25).map(|i| ecs("a", &format!("s{i}"))).collect();
        rs.extend((0..3).map(|i| ecs("b", &format!("s{i}"))));
        rs.extend((0..150).map(|i| Resource::asg(format!("g{i}"))));
        rs.push(ecs("a", "s0")); // duplicates count once
                                 // a: 3 calls (10+10+5), b: 1, AAS: 28 ids -> 1, ASG: 2, and
                                 // one for every group's scaling policies.
        assert_eq!(describe_calls(&rs), 3 + 1 + 1 + 2 + 1);
        assert_eq!(describe_calls(&[]), 0);
        let calls = plan(&rs);
        let sizes: Vec<usize> = calls
            .iter()
            .map(|c| match c {
                Call::Services { services, .. } => services.len(),
                Call::ScalableTargets { ids } => ids.len(),
                Call::Groups { names } => names.len(),
                Call::GroupPolicies => 0,
            })
            .collect();
        assert_eq!(sizes, vec![10, 10, 5, 3, 28, 100, 50, 0]);
    }

    fn target(v: serde_json::Value) -> Target {
        serde_json::from_value(v).expect("target")
    }

    #[test]
    fn for_target_names_fixed_resources_only() {
        let t = target(serde_json::json!({
            "kind": "ecs", "cluster": "main", "service": "api", "floor": 1, "ceiling": 4
        }));
        assert_eq!(Resource::for_target(&t), Some(ecs("main", "api")));
        let t =
            target(serde_json::json!({"kind": "asg", "group": "web", "floor": 1, "ceiling": 4}));
        assert_eq!(Resource::for_target(&t), Some(Resource::asg("web")));
        let t = target(serde_json::json!({
            "kind": "ecs", "cluster": "main", "selector": {"team": "web"}, "floor": 1, "ceiling": 4
        }));
        assert_eq!(Resource::for_target(&t), None);
        let t =
            target(serde_json::json!({"kind": "ecs", "service": "api", "floor": 1, "ceiling": 4}));
        assert_eq!(Resource::for_target(&t), None, "no cluster");
    }

    #[test]
    fn labels() {
        assert_eq!(
            ecs("main-cluster", "api-service").label(),
            "ecs main-cluster/api-service"
        );
        assert_eq!(Resource::asg("web-asg").label(), "asg web-asg");
        assert_eq!(
            ecs("c", "s").scalable_target_id().as_deref(),
            Some("service/c/s")
        );
    }
}
