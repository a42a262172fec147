//! Capstan's AWS side: SDK configuration ([`config`]), reading and finding the resources Capstan
//! scales ([`resource`]), changing their capacity ([`actuate`]), SNS notifications ([`notify`])
//! and one classified error type for all of it ([`error`]).
//!
//! ```no_run
//! # async fn demo(target: &capstan_policy::model::Target) -> Result<(), capstan_aws::AwsError> {
//! use capstan_aws::{apply, describe, load_config, resolve, Clients, Timeouts};
//! use capstan_policy::decision::Capacity;
//!
//! let clients = Clients::new(&load_config(Timeouts::default()).await);
//! let resources = resolve(&clients, target).await?;
//! let live = describe(&clients, &resources).await?;
//! for (resource, now) in &live {
//!     let to = Capacity { desired: now.desired + 1, min: 1, max: 10 };
//!     let applied = apply(&clients, resource, now, to).await?;
//!     println!("{}: {:?} via {:?}", resource.label(), applied.mode, applied.calls);
//! }
//! # Ok(()) }
//! ```
//!
//! # IAM permissions
//!
//! `ecs:DescribeServices`, `ecs:ListServices` (selector targets), `ecs:UpdateService`,
//! `application-autoscaling:DescribeScalableTargets`,
//! `application-autoscaling:RegisterScalableTarget`, `autoscaling:DescribeAutoScalingGroups`,
//! `autoscaling:DescribePolicies` (which groups scale themselves),
//! `autoscaling:SetDesiredCapacity`, `autoscaling:UpdateAutoScalingGroup`, `sns:Publish`, and
//! `ssm:GetParameter` when the policy is read from SSM. Error messages name the missing one.
//!
//! For a target in another account ([`reach`]): `sts:AssumeRole` on its role, which in turn
//! needs the ECS and Auto Scaling permissions above in that account (`infra/spoke.yaml`).
//!
//! # Feature `testing`
//!
//! [`testing`] (tests only) seeds a moto server with ECS services, scalable targets, Auto
//! Scaling groups and an SNS topic with an SQS queue subscribed, and reads the queue.
#![warn(missing_docs)]

pub mod actuate;
pub mod config;
pub mod error;
pub mod notify;
pub mod reach;
pub mod resource;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tls;

pub use actuate::{apply, execute, plan, Applied, Call, Mode, Plan};
pub use config::{
    fetch_parameter, fetch_parameter_at, load_config, load_function_config, Clients, Timeouts,
    VersionedParameter,
};
pub use error::{AwsError, ErrorKind};
pub use notify::{parse_message, Notification, Notifier, MAX_BATCH};
pub use reach::{session_name, Reach, ReachPool};
pub use resource::{describe, describe_calls, resolve, Live, Resource};
pub use tls::TlsRoots;
