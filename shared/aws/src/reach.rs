//! Targets in other accounts: where a resource lives ([`Reach`]), and the clients that reach it
//! ([`ReachPool`]).
//!
//! A target that names `role_arn` (and maybe `region` and `external_id`) lives in another
//! account: the functions reach its resources by assuming that role through STS. Its
//! [`crate::Resource`]s carry the [`Reach`], so that describing and changing them, also when a
//! retry completes an intent stored long before, goes to that account.
//!
//! [`ReachPool`] builds the clients of a reach once per container, lazily, on first use: an
//! SDK configuration like the hub's (its endpoint, `AWS_ENDPOINT_URL` included, retries and
//! timeouts) whose credentials come from aws-config's [`AssumeRoleProvider`] (STS through the
//! hub's endpoint and credentials), behind one lazy identity cache shared by the reach's ECS,
//! Application Auto Scaling and Auto Scaling clients. The cache keeps the assumed credentials
//! and assumes the role again only shortly before they expire (the SDK's default buffer, 10 s
//! before the session's hour ends): one `sts:AssumeRole` per reach per container per hour,
//! whatever the number of targets and ticks.
//!
//! The session name says which function and why, `capstan-<function>-<why>`
//! ([`session_name`]), so the target account's CloudTrail tells who acted.
//!
//! A role that cannot be assumed (its trust policy, the hub's `sts:AssumeRole` permission, the
//! external id, the role itself) fails the calls of its reach with [`ErrorKind::AssumeRole`],
//! naming the role; STS throttling, 5xx and timeouts stay [`ErrorKind::Transient`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_config::identity::IdentityCache;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{future, ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use capstan_policy::model::{role_account, Target};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::actuate::{Applied, Plan};
use crate::config::Clients;
use crate::error::{AwsError, ErrorKind};
use crate::resource::{Live, Resource};

/// `sts:AssumeRole`.
pub const ASSUME_ROLE: &str = "sts:AssumeRole";

/// Where a resource of a target in another account lives: the role that reaches it, the
/// region (none: the functions' own) and the external id the role's trust policy asks for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Reach {
    /// The IAM role to assume.
    pub role_arn: String,
    /// The region of the resources, when not the functions' own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// `sts:ExternalId`, when the role's trust policy asks for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

impl Reach {
    /// The reach of a target: `None` for one in the functions' own account (no `role_arn`).
    pub fn of(t: &Target) -> Option<Reach> {
        Some(Reach {
            role_arn: t.role_arn.clone()?,
            region: t.region.clone(),
            external_id: t.external_id.clone(),
        })
    }

    /// The account of the role (`None` for an ARN that is not a role's; the policy's
    /// validation refuses those).
    pub fn account(&self) -> Option<&str> {
        role_account(&self.role_arn)
    }
}

impl fmt::Display for Reach {
    /// `account 222222222222`, or `account 222222222222 (eu-west-1)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let account = self.account().unwrap_or(&self.role_arn);
        match &self.region {
            Some(region) => write!(f, "account {account} ({region})"),
            None => write!(f, "account {account}"),
        }
    }
}

/// The STS session name for `function` acting for `why`: `capstan-<function>-<why>`, within
/// IAM's rule for session names (2 to 64 of `[A-Za-z0-9+=,.@_-]`): other characters become
/// `-`, and a longer name is cut at 64.
pub fn session_name(function: &str, why: &str) -> String {
    let raw = format!("capstan-{function}-{why}");
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@_-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    // `capstan-` alone already has 8 characters, so the name is never below 2.
    while name.ends_with('-') && name.len() > 8 {
        name.pop();
    }
    name
}

/// The clients of every reach, built once per container on first use (see the module docs).
/// Cloning is cheap and shares the clients. Clients alone make a pool of the hub only
/// ([`ReachPool::hub_only`]).
#[derive(Clone)]
pub struct ReachPool {
    hub: Clients,
    /// What the reaches' clients are built from; none for a pool made of clients alone.
    sdk: Option<SdkConfig>,
    session: String,
    built: Arc<Mutex<HashMap<Reach, Clients>>>,
    assumptions: Arc<AtomicU64>,
}

impl fmt::Debug for ReachPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReachPool")
            .field("session", &self.session)
            .field("assumptions", &self.assumptions())
            .finish_non_exhaustive()
    }
}

impl ReachPool {
    /// A pool whose hub clients are `hub` and whose reaches are built from `sdk` (the hub's
    /// configuration: its endpoint, credentials, retries and timeouts), assuming roles as
    /// `capstan-<function>-<why>`.
    pub fn new(hub: Clients, sdk: &SdkConfig, function: &str, why: &str) -> ReachPool {
        ReachPool {
            hub,
            sdk: Some(sdk.clone()),
            session: session_name(function, why),
            built: Arc::new(Mutex::new(HashMap::new())),
            assumptions: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A pool of the hub's clients alone (tests that inject faults into one client): a target
    /// in another account fails with [`ErrorKind::AssumeRole`], there being no SDK
    /// configuration to assume its role with.
    pub fn hub_only(hub: Clients) -> ReachPool {
        ReachPool {
            hub,
            sdk: None,
            session: session_name("capstan", "hub-only"),
            built: Arc::new(Mutex::new(HashMap::new())),
            assumptions: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The functions' own clients (the hub's account).
    pub fn hub(&self) -> &Clients {
        &self.hub
    }

    /// The STS session name of every role this pool assumes.
    pub fn session_name(&self) -> &str {
        &self.session
    }

    /// The clients of `reach` (`None`: the hub's), built on first use and kept. Building makes
    /// no call: the role is assumed by the first call of a client. Fails only for a pool
    /// without an SDK configuration ([`ReachPool::hub_only`]).
    pub async fn clients(&self, reach: Option<&Reach>) -> Result<Clients, AwsError> {
        let Some(reach) = reach else {
            return Ok(self.hub.clone());
        };
        let Some(sdk) = &self.sdk else {
            return Err(AwsError::new(
                ASSUME_ROLE,
                ErrorKind::AssumeRole,
                None,
                format!(
                    "cannot assume role {}: these clients were built without an SDK configuration to assume roles with",
                    reach.role_arn
                ),
            ));
        };
        let mut built = self.built.lock().await;
        if let Some(c) = built.get(reach) {
            return Ok(c.clone());
        }
        let clients = self.build(sdk, reach).await;
        tracing::info!(role = %reach.role_arn, reach = %reach, session = %self.session, "clients for another account");
        built.insert(reach.clone(), clients.clone());
        Ok(clients)
    }

    /// How many reaches have clients.
    pub async fn reaches(&self) -> usize {
        self.built.lock().await.len()
    }

    /// How many times a role was assumed (`sts:AssumeRole` calls, failed ones included).
    pub fn assumptions(&self) -> u64 {
        self.assumptions.load(Ordering::Relaxed)
    }

    async fn build(&self, sdk: &SdkConfig, reach: &Reach) -> Clients {
        let mut sts = AssumeRoleProvider::builder(reach.role_arn.clone())
            .configure(sdk)
            .session_name(self.session.clone());
        if let Some(id) = &reach.external_id {
            sts = sts.external_id(id.clone());
        }
        let provider = Assume {
            role_arn: reach.role_arn.clone(),
            inner: sts.build().await,
            calls: Arc::clone(&self.assumptions),
        };
        let mut cfg = sdk
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            // One cache for the reach's clients: the role is assumed once for all of them.
            .identity_cache(IdentityCache::lazy().build());
        if let Some(region) = &reach.region {
            cfg = cfg.region(Region::new(region.clone()));
        }
        Clients::new(&cfg.build())
    }
}

impl From<Clients> for ReachPool {
    fn from(hub: Clients) -> ReachPool {
        ReachPool::hub_only(hub)
    }
}

impl ReachPool {
    /// [`crate::resolve`] in the target's account: the resources it covers, carrying its
    /// reach.
    pub async fn resolve(&self, t: &Target) -> Result<Vec<Resource>, AwsError> {
        let reach = Reach::of(t);
        let clients = self.clients(reach.as_ref()).await?;
        let found = crate::resource::resolve(&clients, t).await?;
        Ok(found.into_iter().map(|r| r.at(reach.clone())).collect())
    }

    /// [`crate::describe`] of resources anywhere: one batched describe per reach, side by side,
    /// keyed by the resources as given (with their reach). The first failure fails it all; a
    /// caller that wants each reach's failure on its own (the runner) asks per reach.
    pub async fn describe(
        &self,
        resources: &[Resource],
    ) -> Result<BTreeMap<Resource, Live>, AwsError> {
        let mut by_reach: BTreeMap<Option<Reach>, Vec<Resource>> = BTreeMap::new();
        for r in resources {
            by_reach
                .entry(r.reach().cloned())
                .or_default()
                .push(r.clone().at(None));
        }
        let reads = by_reach.into_iter().map(|(reach, local)| async move {
            let clients = self.clients(reach.as_ref()).await?;
            let live = crate::resource::describe(&clients, &local).await?;
            Ok::<_, AwsError>(
                live.into_iter()
                    .map(|(r, l)| (r.at(reach.clone()), l))
                    .collect::<Vec<_>>(),
            )
        });
        let mut out = BTreeMap::new();
        for read in futures_util::future::try_join_all(reads).await? {
            out.extend(read);
        }
        Ok(out)
    }

    /// [`crate::execute`] in the account of the plan's resource.
    pub async fn execute(&self, plan: &Plan) -> Result<Applied, AwsError> {
        let clients = self.clients(plan.resource.reach()).await?;
        crate::actuate::execute(&clients, plan).await
    }
}

impl Resource {
    /// The ECS service `cluster`/`service` in the functions' own account.
    pub fn ecs(cluster: impl Into<String>, service: impl Into<String>) -> Resource {
        Resource::Ecs {
            cluster: cluster.into(),
            service: service.into(),
            reach: None,
        }
    }

    /// The Auto Scaling group `group` in the functions' own account.
    pub fn asg(group: impl Into<String>) -> Resource {
        Resource::Asg {
            group: group.into(),
            reach: None,
        }
    }

    /// Where the resource lives: `None` in the functions' own account.
    pub fn reach(&self) -> Option<&Reach> {
        match self {
            Resource::Ecs { reach, .. } | Resource::Asg { reach, .. } => reach.as_ref(),
        }
    }

    /// The same resource, reached through `reach` (`None`: in the functions' own account).
    pub fn at(mut self, to: Option<Reach>) -> Resource {
        match &mut self {
            Resource::Ecs { reach, .. } | Resource::Asg { reach, .. } => *reach = to,
        }
        self
    }

    /// The account the resource lives in, when it is not the functions' own.
    pub fn account(&self) -> Option<&str> {
        self.reach().and_then(Reach::account)
    }
}

/// aws-config's [`AssumeRoleProvider`], counting its calls and turning its failure into an
/// [`AwsError`] that names the role: the SDK reports a credentials failure of a call as a
/// dispatch failure, which would read as transient; [`AwsError::from_sdk`] finds this one in
/// the error's sources instead. Caching stays the SDK's (the identity cache around it).
#[derive(Debug)]
struct Assume {
    role_arn: String,
    inner: AssumeRoleProvider,
    calls: Arc<AtomicU64>,
}

impl ProvideCredentials for Assume {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.calls.fetch_add(1, Ordering::Relaxed);
            self.inner.provide_credentials().await.map_err(|e| {
                let err = assume_role_error(&self.role_arn, &e);
                tracing::warn!(role = %self.role_arn, error = %err, "cannot assume role");
                CredentialsError::provider_error(err)
            })
        })
    }
}

/// Classifies a failure of the [`AssumeRoleProvider`] for `role_arn`: STS refusing (access
/// denied, a bad external id, no such role, a region where STS is off) is
/// [`ErrorKind::AssumeRole`]; throttling, 5xx and timeouts stay [`ErrorKind::Transient`].
pub(crate) fn assume_role_error(role_arn: &str, e: &CredentialsError) -> AwsError {
    let sts = std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<SdkError<AssumeRoleError, HttpResponse>>());
    let mut err = match sts {
        Some(sdk) => AwsError::from_sdk_ref(ASSUME_ROLE, sdk),
        None => {
            let kind = match e {
                CredentialsError::ProviderTimedOut(_) => ErrorKind::Transient,
                _ => ErrorKind::AssumeRole,
            };
            AwsError::new(
                ASSUME_ROLE,
                kind,
                None,
                aws_smithy_types::error::display::DisplayErrorContext(e).to_string(),
            )
        }
    };
    if err.kind != ErrorKind::Transient {
        err.kind = ErrorKind::AssumeRole;
    }
    err.message = format!("cannot assume role {role_arn}: {}", err.message);
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_keep_iams_rule() {
        assert_eq!(
            session_name("alarm-handler", "scale"),
            "capstan-alarm-handler-scale"
        );
        assert_eq!(session_name("cli", "status"), "capstan-cli-status");
        // Other characters become `-`; IAM's own punctuation stays.
        assert_eq!(
            session_name("my fn/x", "a+b=c,d.e@f_g"),
            "capstan-my-fn-x-a+b=c,d.e@f_g"
        );
        let long = session_name(&"f".repeat(80), "scale");
        assert_eq!(long.len(), 64);
        assert!(long.starts_with("capstan-fff"));
        // A cut that ends on a dash drops it.
        let cut = session_name(&"f".repeat(55), "x");
        assert_eq!(cut, format!("capstan-{}", "f".repeat(55)));
        for name in [long, cut, session_name("", "")] {
            assert!((2..=64).contains(&name.len()), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)),
                "{name}"
            );
        }
    }

    fn target(v: serde_json::Value) -> Target {
        serde_json::from_value(v).expect("target")
    }

    #[test]
    fn a_targets_reach_and_account() {
        let t = target(serde_json::json!({
            "kind": "ecs", "cluster": "c", "service": "s", "floor": 1, "ceiling": 2,
            "role_arn": "arn:aws:iam::222222222222:role/capstan", "region": "eu-west-1",
            "external_id": "hub"
        }));
        let r = Reach::of(&t).expect("remote");
        assert_eq!(r.account(), Some("222222222222"));
        assert_eq!(r.to_string(), "account 222222222222 (eu-west-1)");
        assert_eq!(r.external_id.as_deref(), Some("hub"));
        let local = target(serde_json::json!({
            "kind": "asg", "group": "g", "floor": 1, "ceiling": 2
        }));
        assert_eq!(Reach::of(&local), None);
    }

    async fn pool() -> ReachPool {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .credentials_provider(aws_credential_types::Credentials::new(
                "a", "b", None, None, "test",
            ))
            .load()
            .await;
        ReachPool::new(Clients::new(&sdk), &sdk, "alarm-handler", "scale")
    }

    fn reach(account: &str, region: Option<&str>) -> Reach {
        Reach {
            role_arn: format!("arn:aws:iam::{account}:role/capstan"),
            region: region.map(str::to_string),
            external_id: None,
        }
    }

    #[tokio::test]
    async fn clients_are_built_once_per_reach_and_assume_nothing_until_used() {
        let pool = pool().await;
        let a = reach("222222222222", None);
        let b = reach("333333333333", Some("eu-west-1"));
        let _ = pool.clients(None).await.unwrap();
        assert_eq!(pool.reaches().await, 0, "the hub's are the pool's own");
        let first = pool.clients(Some(&a)).await.unwrap();
        let again = pool.clients(Some(&a)).await.unwrap();
        let other = pool.clients(Some(&b)).await.unwrap();
        assert_eq!(pool.reaches().await, 2);
        // The same reach gets the same clients (one identity cache, one assumption).
        assert_eq!(first.ecs.config().region(), again.ecs.config().region());
        assert_eq!(
            other.ecs.config().region().map(|r| r.as_ref()),
            Some("eu-west-1")
        );
        assert_eq!(
            first.ecs.config().region().map(|r| r.as_ref()),
            Some("us-east-1"),
            "the hub's region when the target names none"
        );
        assert_eq!(pool.assumptions(), 0, "building assumes nothing");
        // A clone shares what was built.
        let clone = pool.clone();
        let _ = clone.clients(Some(&a)).await.unwrap();
        assert_eq!(clone.reaches().await, 2);

        // Clients alone cannot assume anything: the reach fails, naming the role.
        let alone = ReachPool::hub_only(pool.hub().clone());
        let e = alone.clients(Some(&a)).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::AssumeRole);
        assert!(e.message.contains(&a.role_arn), "{e}");
        assert!(alone.clients(None).await.is_ok());
    }

    #[test]
    fn a_refused_assumption_names_the_role_and_is_not_transient() {
        let e = CredentialsError::provider_error("AccessDenied: not authorized");
        let err = assume_role_error("arn:aws:iam::222222222222:role/capstan", &e);
        assert_eq!(err.kind, ErrorKind::AssumeRole);
        assert_eq!(err.operation, ASSUME_ROLE);
        assert!(
            err.message
                .starts_with("cannot assume role arn:aws:iam::222222222222:role/capstan: "),
            "{err}"
        );
        assert!(!err.is_retryable());
        let slow = CredentialsError::provider_timed_out(std::time::Duration::from_secs(5));
        assert_eq!(
            assume_role_error("arn:aws:iam::222222222222:role/capstan", &slow).kind,
            ErrorKind::Transient
        );
    }
}
