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
//! | Auto Scaling group with its own scaling policies | `autoscaling:UpdateAutoScalingGroup` | scale-out: `MinSize = clamp(desired, min, max)`; otherwise `MinSize = min`; `MaxSize = max`; no `DesiredCapacity` |
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
//! **Auto Scaling group with scaling policies of its own** ([`Mode::GroupBounds`]): the same rule
//! as a managed ECS service, for the same reason. `SetDesiredCapacity` on such a group would be
//! undone by its target-tracking policy minutes later (or fight it for as long as the alarm
//! holds), so Capstan moves the bounds instead: a scale-out raises `MinSize` to the decided
//! capacity (AWS raises the desired capacity to a new `MinSize` at once), anything else sets
//! `MinSize`/`MaxSize` to Capstan's `min`/`max` and leaves the desired capacity to the group's
//! policy within them (AWS lowers it to a new `MaxSize` below it). The next tick after a
//! scale-out returns `MinSize` to `min`: the group is its policy's again. `DesiredCapacity` is
//! never sent.
//!
//! A call whose effect is already in place is skipped: [`Applied::calls`] is then empty.
//! Failures are [`AwsError`]s, classified by [`AwsError::from_sdk`].

use aws_sdk_applicationautoscaling::types::ServiceNamespace;
use capstan_policy::decision::Capacity;
use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// ECS `UpdateService` with a new `desiredCount`.
    DesiredCount,
    /// Application Auto Scaling `RegisterScalableTarget` with a new `MinCapacity`/`MaxCapacity`.
    ScalableTarget,
    /// Auto Scaling `SetDesiredCapacity` or `UpdateAutoScalingGroup`.
    Group,
    /// Auto Scaling `UpdateAutoScalingGroup` with a new `MinSize`/`MaxSize` only: the group's own
    /// scaling policies keep its desired capacity.
    GroupBounds,
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

/// The one AWS call a [`Plan`] makes, with the absolute values it sets. Every call sets values,
/// never adds to them: making it twice leaves AWS as making it once, so an intent that a retry
/// finds unfinished can simply be made again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "kebab-case")]
pub enum Call {
    /// `ecs:UpdateService` with `desiredCount`.
    UpdateService {
        /// The desired count.
        desired: u32,
    },
    /// `application-autoscaling:RegisterScalableTarget` with `MinCapacity`/`MaxCapacity`.
    RegisterScalableTarget {
        /// `MinCapacity`.
        min: u32,
        /// `MaxCapacity`.
        max: u32,
    },
    /// `autoscaling:SetDesiredCapacity` (`HonorCooldown = false`).
    SetDesiredCapacity {
        /// `DesiredCapacity`.
        desired: u32,
    },
    /// `autoscaling:UpdateAutoScalingGroup` with `MinSize`, `MaxSize` and `DesiredCapacity`.
    UpdateAutoScalingGroup {
        /// `MinSize`.
        min: u32,
        /// `MaxSize`.
        max: u32,
        /// `DesiredCapacity`.
        desired: u32,
    },
    /// `autoscaling:UpdateAutoScalingGroup` with `MinSize` and `MaxSize` only (a group with
    /// scaling policies of its own: AWS brings the desired capacity inside the bounds).
    UpdateGroupBounds {
        /// `MinSize`.
        min: u32,
        /// `MaxSize`.
        max: u32,
    },
}

impl Call {
    /// The call's IAM action name.
    pub fn action(&self) -> &'static str {
        match self {
            Call::UpdateService { .. } => UPDATE_SERVICE,
            Call::RegisterScalableTarget { .. } => REGISTER_SCALABLE_TARGET,
            Call::SetDesiredCapacity { .. } => SET_DESIRED_CAPACITY,
            Call::UpdateAutoScalingGroup { .. } | Call::UpdateGroupBounds { .. } => {
                UPDATE_AUTO_SCALING_GROUP
            }
        }
    }
}

/// What [`apply`] will do to a resource, decided before any call is made: the resource, the call
/// (none when AWS already shows the capacity) and what will then be in force. A plan is pure data:
/// the runner stores it in the target's record as the intent a retry completes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The resource.
    pub resource: Resource,
    /// How capacity is changed.
    pub mode: Mode,
    /// The call to make; `None` when AWS already shows the capacity.
    pub call: Option<Call>,
    /// The desired capacity asked of AWS (for a managed ECS service or a group with its own
    /// policies: the new `MinCapacity` or `MinSize`).
    pub desired: u32,
    /// The minimum in force afterwards (Capstan's own for an unmanaged ECS service).
    pub min: u32,
    /// The maximum in force afterwards (Capstan's own for an unmanaged ECS service).
    pub max: u32,
    /// Why `desired` differs from the decided one, when it does.
    pub clamped: Option<String>,
}

impl Plan {
    /// True when `live` already shows what the plan sets: its call was made (by this attempt, an
    /// earlier one whose answer was lost, or anyone else), or was never needed.
    pub fn shown_by(&self, live: &Live) -> bool {
        match &self.call {
            None => true,
            Some(Call::UpdateService { desired }) | Some(Call::SetDesiredCapacity { desired }) => {
                live.desired == *desired
            }
            Some(Call::RegisterScalableTarget { min, max })
            | Some(Call::UpdateGroupBounds { min, max }) => {
                live.min == Some(*min) && live.max == Some(*max)
            }
            Some(Call::UpdateAutoScalingGroup { min, max, desired }) => {
                live.min == Some(*min) && live.max == Some(*max) && live.desired == *desired
            }
        }
    }

    /// What carrying the plan out did: `made` is false when the call was not made (it was not
    /// needed, or AWS already showed it).
    pub fn applied(&self, made: bool) -> Applied {
        Applied {
            mode: self.mode,
            desired: self.desired,
            min: self.min,
            max: self.max,
            clamped: self.clamped.clone(),
            calls: self
                .call
                .iter()
                .filter(|_| made)
                .map(Call::action)
                .collect(),
        }
    }
}

/// Decides how to set `to` on `r`, given its `live` state from [`crate::resource::describe`];
/// no call is made. See the module docs for what each kind of resource gets.
pub fn plan(r: &Resource, live: &Live, to: Capacity) -> Plan {
    match r {
        Resource::Ecs { .. } if !live.managed => Plan {
            resource: r.clone(),
            mode: Mode::DesiredCount,
            call: (live.desired != to.desired).then_some(Call::UpdateService {
                desired: to.desired,
            }),
            desired: to.desired,
            min: to.min,
            max: to.max,
            clamped: None,
        },
        Resource::Ecs { .. } => bounds_plan(r, live, to, Mode::ScalableTarget),
        Resource::Asg { .. } if live.managed => bounds_plan(r, live, to, Mode::GroupBounds),
        Resource::Asg { .. } => match (live.min, live.max) {
            (Some(min), Some(max)) if min == to.min && max == to.max => {
                let desired = clamp(to.desired, min, max);
                Plan {
                    resource: r.clone(),
                    mode: Mode::Group,
                    call: (live.desired != desired).then_some(Call::SetDesiredCapacity { desired }),
                    desired,
                    min,
                    max,
                    clamped: clamp_note(to.desired, desired, "the group's", min, max),
                }
            }
            _ => {
                let desired = clamp(to.desired, to.min, to.max);
                Plan {
                    resource: r.clone(),
                    mode: Mode::Group,
                    call: Some(Call::UpdateAutoScalingGroup {
                        min: to.min,
                        max: to.max,
                        desired,
                    }),
                    desired,
                    min: to.min,
                    max: to.max,
                    clamped: clamp_note(to.desired, desired, "the group's", to.min, to.max),
                }
            }
        },
    }
}

/// The plan for a resource something else scales within its bounds (a scalable target, a group's
/// own policies): a scale-out raises the floor to the decided capacity, anything else sets the
/// floor to `min`; the ceiling is `max` (see the module docs).
fn bounds_plan(r: &Resource, live: &Live, to: Capacity, mode: Mode) -> Plan {
    let scale_out = to.desired > live.desired;
    let floor = if scale_out {
        clamp(to.desired, to.min, to.max)
    } else {
        clamp(to.min, to.min, to.max)
    };
    let (call, whose) = match mode {
        Mode::GroupBounds => (
            Call::UpdateGroupBounds {
                min: floor,
                max: to.max,
            },
            "the group's",
        ),
        _ => (
            Call::RegisterScalableTarget {
                min: floor,
                max: to.max,
            },
            "the target's",
        ),
    };
    Plan {
        resource: r.clone(),
        mode,
        call: (live.min != Some(floor) || live.max != Some(to.max)).then_some(call),
        desired: floor,
        min: floor,
        max: to.max,
        clamped: scale_out
            .then(|| clamp_note(to.desired, floor, whose, to.min, to.max))
            .flatten(),
    }
}

/// Sets `to` on `r`, given its `live` state from [`crate::resource::describe`]: [`plan`], then
/// [`execute`]. See the module docs for what each kind of resource gets.
pub async fn apply(
    c: &Clients,
    r: &Resource,
    live: &Live,
    to: Capacity,
) -> Result<Applied, AwsError> {
    execute(c, &plan(r, live, to)).await
}

/// Makes the plan's call, if it has one. Safe to repeat: the call sets absolute values.
pub async fn execute(c: &Clients, p: &Plan) -> Result<Applied, AwsError> {
    let Some(call) = &p.call else {
        return Ok(p.applied(false));
    };
    match (&p.resource, call) {
        (
            Resource::Ecs {
                cluster, service, ..
            },
            Call::UpdateService { desired },
        ) => {
            c.ecs
                .update_service()
                .cluster(cluster)
                .service(service)
                .desired_count(aws_int(*desired))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(UPDATE_SERVICE, e))?;
        }
        (
            Resource::Ecs {
                cluster, service, ..
            },
            Call::RegisterScalableTarget { min, max },
        ) => {
            c.aas
                .register_scalable_target()
                .service_namespace(ServiceNamespace::Ecs)
                .resource_id(ecs_resource_id(cluster, service))
                .scalable_dimension(ECS_DIMENSION)
                .min_capacity(aws_int(*min))
                .max_capacity(aws_int(*max))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(REGISTER_SCALABLE_TARGET, e))?;
        }
        (Resource::Asg { group, .. }, Call::SetDesiredCapacity { desired }) => {
            c.autoscaling
                .set_desired_capacity()
                .auto_scaling_group_name(group)
                .desired_capacity(aws_int(*desired))
                .honor_cooldown(false)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(SET_DESIRED_CAPACITY, e))?;
        }
        (Resource::Asg { group, .. }, Call::UpdateAutoScalingGroup { min, max, desired }) => {
            c.autoscaling
                .update_auto_scaling_group()
                .auto_scaling_group_name(group)
                .min_size(aws_int(*min))
                .max_size(aws_int(*max))
                .desired_capacity(aws_int(*desired))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(UPDATE_AUTO_SCALING_GROUP, e))?;
        }
        (Resource::Asg { group, .. }, Call::UpdateGroupBounds { min, max }) => {
            // No DesiredCapacity: AWS brings it inside the new bounds, and the group's own
            // policy keeps it from there.
            c.autoscaling
                .update_auto_scaling_group()
                .auto_scaling_group_name(group)
                .min_size(aws_int(*min))
                .max_size(aws_int(*max))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(UPDATE_AUTO_SCALING_GROUP, e))?;
        }
        (r, call) => {
            return Err(AwsError::new(
                call.action(),
                crate::error::ErrorKind::Invalid,
                None,
                format!("a {} call does not apply to {}", call.action(), r.label()),
            ))
        }
    }
    let applied = p.applied(true);
    tracing::debug!(
        resource = %p.resource,
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
