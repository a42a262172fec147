//! Changing capacity on AWS.
//!
//! [`apply`] turns a decided [`Capacity`] into at most one AWS call, chosen by the kind of
//! resource and what already manages it:
//!
//! | resource | call | what is set |
//! |---|---|---|
//! | ECS service without a scalable target | `ecs:UpdateService` | `desiredCount = desired` |
//! | ECS service with a scalable target | `application-autoscaling:RegisterScalableTarget` | scale-out: `MinCapacity = clamp(desired, min, max)`; otherwise `MinCapacity = min`; `MaxCapacity = max` |
//! | Auto Scaling group, bounds unchanged | `autoscaling:SetDesiredCapacity` | `DesiredCapacity` (clamped to the group's bounds), `HonorCooldown = false` |
//! | Auto Scaling group, new bounds | `autoscaling:UpdateAutoScalingGroup` | `MinSize = min`, `MaxSize = max`, `DesiredCapacity = clamp(desired, min, max)` |
//!
//! **ECS service, no scalable target** ([`Mode::DesiredCount`]): only `desiredCount` changes.
//! `min`/`max` are Capstan's own bounds there, with nothing to set on AWS; [`Applied`] reports
//! them as given.
//!
//! **ECS service with a scalable target** ([`Mode::ScalableTarget`]): Capstan never fights
//! target tracking and never touches `desiredCount` of such a service. Instead it moves the
//! bounds Application Auto Scaling holds. A *scale-out* (a desired count above the service's
//! live one) becomes the scalable target's `MinCapacity` (kept within `min`..`max`): AWS raises
//! the service to it at once, and target tracking keeps working above it. Anything else (a
//! scale-in, new bounds, a schedule tick) sets `MinCapacity` to Capstan's `min` and leaves the
//! count to target tracking within the bounds: a Capstan scale-in lowers the floor and lets
//! target tracking take the service down, it does not remove tasks itself, and the next tick
//! after a scale-out hands the service back to target tracking (the floor returns to `min`).
//! `MaxCapacity` is always `max`. [`Applied::desired`] and [`Applied::min`] are the new
//! `MinCapacity`.
//!
//! **Auto Scaling group** ([`Mode::Group`]): when `min`/`max` equal the group's live
//! `MinSize`/`MaxSize`, one `SetDesiredCapacity` (ignoring the group's cooldown: Capstan has its
//! own); otherwise one `UpdateAutoScalingGroup` that sets the bounds and the desired capacity
//! together. AWS rejects a desired capacity outside the group's bounds, so Capstan clamps it first
//! and says so in [`Applied::clamped`] (`desired 25 clamped to the group's max 15`).
//!
//! A call whose effect is already in place is skipped: [`Applied::calls`] is then empty.
//! Failures are [`AwsError`]s, classified by [`AwsError::from_sdk`].

use aws_sdk_applicationautoscaling::types::ServiceNamespace;
use capstan_policy::decision::Capacity;
use serde::Serialize;

use crate::config::Clients;
use crate::error::AwsError;
use crate::resource::{ecs_resource_id, Live, Resource, ECS_DIMENSION};

/// `ecs:UpdateService`.
pub const UPDATE_SERVICE: &str = "ecs:UpdateService";
/// `application-autoscaling:RegisterScalableTarget`.
pub const REGISTER_SCALABLE_TARGET: &str = "application-autoscaling:RegisterScalableTarget";
/// `autoscaling:SetDesiredCapacity`.
pub const SET_DESIRED_CAPACITY: &str = "autoscaling:SetDesiredCapacity";
/// `autoscaling:UpdateAutoScalingGroup`.
pub const UPDATE_AUTO_SCALING_GROUP: &str = "autoscaling:UpdateAutoScalingGroup";

/// How capacity was changed (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// ECS `UpdateService` with a new `desiredCount`.
    DesiredCount,
    /// Application Auto Scaling `RegisterScalableTarget` with a new `MinCapacity`/`MaxCapacity`.
    ScalableTarget,
    /// Auto Scaling `SetDesiredCapacity` or `UpdateAutoScalingGroup`.
    Group,
}

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// How capacity was changed.
    pub mode: Mode,
    /// The desired capacity now asked of AWS (for a managed ECS service: the new `MinCapacity`).
    pub desired: u32,
    /// The minimum now in force (Capstan's own for an unmanaged ECS service).
    pub min: u32,
    /// The maximum now in force (Capstan's own for an unmanaged ECS service).
    pub max: u32,
    /// Why `desired` differs from the decided one, when it does.
    pub clamped: Option<String>,
    /// The calls made, named like their IAM actions; empty when everything was already in place.
    pub calls: Vec<&'static str>,
}

/// Keeps `v` within `lo..=hi`; `hi` wins if the bounds cross (AWS then rejects the bounds).
fn clamp(v: u32, lo: u32, hi: u32) -> u32 {
    v.max(lo).min(hi)
}

fn clamp_note(desired: u32, got: u32, whose: &str, lo: u32, hi: u32) -> Option<String> {
    if got == desired {
        None
    } else if desired > hi {
        Some(format!("desired {desired} clamped to {whose} max {hi}"))
    } else {
        Some(format!("desired {desired} clamped to {whose} min {lo}"))
    }
}

/// AWS takes `i32`; Capstan's bounds never come near its limit, and saturating keeps a wild value
/// a value AWS rejects with a clear message.
fn aws_int(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// Sets `to` on `r`, given its `live` state from [`crate::resource::describe`]. See the module
/// docs for what each kind of resource gets.
pub async fn apply(
    c: &Clients,
    r: &Resource,
    live: &Live,
    to: Capacity,
) -> Result<Applied, AwsError> {
    let applied = match r {
        Resource::Ecs { cluster, service } if !live.managed => {
            let mut calls = Vec::new();
            if live.desired != to.desired {
                c.ecs
                    .update_service()
                    .cluster(cluster)
                    .service(service)
                    .desired_count(aws_int(to.desired))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk(UPDATE_SERVICE, e))?;
                calls.push(UPDATE_SERVICE);
            }
            Applied {
                mode: Mode::DesiredCount,
                desired: to.desired,
                min: to.min,
                max: to.max,
                clamped: None,
                calls,
            }
        }
        Resource::Ecs { cluster, service } => {
            let floor = if to.desired > live.desired {
                clamp(to.desired, to.min, to.max)
            } else {
                clamp(to.min, to.min, to.max)
            };
            let mut calls = Vec::new();
            if live.min != Some(floor) || live.max != Some(to.max) {
                c.aas
                    .register_scalable_target()
                    .service_namespace(ServiceNamespace::Ecs)
                    .resource_id(ecs_resource_id(cluster, service))
                    .scalable_dimension(ECS_DIMENSION)
                    .min_capacity(aws_int(floor))
                    .max_capacity(aws_int(to.max))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk(REGISTER_SCALABLE_TARGET, e))?;
                calls.push(REGISTER_SCALABLE_TARGET);
            }
            Applied {
                mode: Mode::ScalableTarget,
                desired: floor,
                min: floor,
                max: to.max,
                clamped: (to.desired > live.desired)
                    .then(|| clamp_note(to.desired, floor, "the target's", to.min, to.max))
                    .flatten(),
                calls,
            }
        }
        Resource::Asg { group } => match (live.min, live.max) {
            (Some(min), Some(max)) if min == to.min && max == to.max => {
                let desired = clamp(to.desired, min, max);
                let mut calls = Vec::new();
                if live.desired != desired {
                    c.autoscaling
                        .set_desired_capacity()
                        .auto_scaling_group_name(group)
                        .desired_capacity(aws_int(desired))
                        .honor_cooldown(false)
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk(SET_DESIRED_CAPACITY, e))?;
                    calls.push(SET_DESIRED_CAPACITY);
                }
                Applied {
                    mode: Mode::Group,
                    desired,
                    min,
                    max,
                    clamped: clamp_note(to.desired, desired, "the group's", min, max),
                    calls,
                }
            }
            _ => {
                let desired = clamp(to.desired, to.min, to.max);
                c.autoscaling
                    .update_auto_scaling_group()
                    .auto_scaling_group_name(group)
                    .min_size(aws_int(to.min))
                    .max_size(aws_int(to.max))
                    .desired_capacity(aws_int(desired))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk(UPDATE_AUTO_SCALING_GROUP, e))?;
                Applied {
                    mode: Mode::Group,
                    desired,
                    min: to.min,
                    max: to.max,
                    clamped: clamp_note(to.desired, desired, "the group's", to.min, to.max),
                    calls: vec![UPDATE_AUTO_SCALING_GROUP],
                }
            }
        },
    };
    tracing::debug!(
        resource = %r,
        mode = ?applied.mode,
        desired = applied.desired,
        min = applied.min,
        max = applied.max,
        calls = ?applied.calls,
        clamped = applied.clamped.as_deref().unwrap_or(""),
        "apply"
    );
    Ok(applied)
}
