//! SDK configuration and the clients Capstan uses.
//!
//! [`load_config`] reads the standard AWS environment (region, credentials, `AWS_ENDPOINT_URL`
//! and the per-service `AWS_ENDPOINT_URL_<SERVICE>` overrides, profiles) and adds Capstan's
//! retry and timeout settings from [`Timeouts`].

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

use crate::error::{AwsError, ErrorKind};
use crate::tls::TlsRoots;

/// How long AWS calls may take and how often they are tried.
///
/// The defaults (3 s per attempt, 20 s per operation, 4 attempts) keep every call, retries and
/// back-off included, below the 30 s timeout of Capstan's Lambda functions: the operation timeout
/// must stay below the function timeout, or a slow AWS API kills the function before Capstan can
/// report what happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Time limit of one HTTP attempt.
    pub attempt: Duration,
    /// Time limit of one operation, all attempts and back-off included.
    pub operation: Duration,
    /// Attempts per operation, the first included (1 = no retries).
    pub max_attempts: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            attempt: Duration::from_secs(3),
            operation: Duration::from_secs(20),
            max_attempts: 4,
        }
    }
}

impl Timeouts {
    /// The SDK retry settings: standard mode (exponential back-off with full jitter, retrying
    /// throttling, 5xx and transient network errors) with [`Timeouts::max_attempts`] attempts.
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard().with_max_attempts(self.max_attempts.max(1))
    }

    /// The SDK timeout settings: [`Timeouts::attempt`] per attempt, [`Timeouts::operation`] in all.
    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }
}

/// Loads the SDK configuration from the standard environment, with the retry and timeout
/// settings of `t`.
pub async fn load_config(t: Timeouts) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(t.retry_config())
        .timeout_config(t.timeout_config())
        .load()
        .await
}

/// [`load_config`] for a Lambda function: its HTTPS client trusts `roots` (see
/// [`crate::tls`]: Amazon Trust Services' roots alone, where AWS's endpoints are theirs).
pub async fn load_function_config(t: Timeouts, roots: TlsRoots) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(t.retry_config())
        .timeout_config(t.timeout_config())
        .http_client(crate::tls::https_client(roots))
        .load()
        .await
}

/// The AWS clients Capstan uses, all built from one [`SdkConfig`]. Cloning is cheap.
#[derive(Clone, Debug)]
pub struct Clients {
    /// Amazon ECS.
    pub ecs: aws_sdk_ecs::Client,
    /// EC2 Auto Scaling.
    pub autoscaling: aws_sdk_autoscaling::Client,
    /// Application Auto Scaling (scalable targets of ECS services).
    pub aas: aws_sdk_applicationautoscaling::Client,
    /// Amazon SNS (notifications).
    pub sns: aws_sdk_sns::Client,
    /// AWS Systems Manager (the policy file as a parameter).
    pub ssm: aws_sdk_ssm::Client,
}

impl Clients {
    /// Builds every client from `cfg`.
    pub fn new(cfg: &SdkConfig) -> Clients {
        Clients {
            ecs: aws_sdk_ecs::Client::new(cfg),
            autoscaling: aws_sdk_autoscaling::Client::new(cfg),
            aas: aws_sdk_applicationautoscaling::Client::new(cfg),
            sns: aws_sdk_sns::Client::new(cfg),
            ssm: aws_sdk_ssm::Client::new(cfg),
        }
    }
}

/// Reads an SSM parameter, decrypting a `SecureString` (used for `CAPSTAN_POLICY=ssm:/name`).
///
/// The value is never logged. Needs `ssm:GetParameter` (and `kms:Decrypt` on the key of a
/// `SecureString`).
pub async fn fetch_parameter(c: &Clients, name: &str) -> Result<String, AwsError> {
    fetch_parameter_at(c, name, None).await.map(|p| p.value)
}

/// An SSM parameter's value and the version it was read at.
#[derive(Clone, PartialEq, Eq)]
pub struct VersionedParameter {
    /// The value (decrypted); never logged.
    pub value: String,
    /// The parameter's version (SSM's `Version`, from 1).
    pub version: i64,
}

impl std::fmt::Debug for VersionedParameter {
    /// The version only: the value may be a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VersionedParameter")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Reads an SSM parameter at `version` (none: the latest), decrypting a `SecureString`, with
/// the version it is. A version is asked for with SSM's own selector, `name:version`, so a
/// version that does not exist is `ParameterVersionNotFound` (not found).
///
/// The value is never logged. Needs `ssm:GetParameter` (and `kms:Decrypt` on the key of a
/// `SecureString`).
pub async fn fetch_parameter_at(
    c: &Clients,
    name: &str,
    version: Option<i64>,
) -> Result<VersionedParameter, AwsError> {
    const OP: &str = "ssm:GetParameter";
    let selector = match version {
        Some(v) => format!("{name}:{v}"),
        None => name.to_string(),
    };
    let out = c
        .ssm
        .get_parameter()
        .name(&selector)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(OP, e))?;
    let (value, read) = out.parameter.map_or((None, 0), |p| (p.value, p.version));
    let Some(value) = value else {
        return Err(AwsError::new(
            OP,
            ErrorKind::NotFound,
            None,
            format!("parameter {selector} has no value"),
        ));
    };
    if let Some(v) = version.filter(|v| *v != read) {
        return Err(AwsError::new(
            OP,
            ErrorKind::Invalid,
            None,
            format!("parameter {selector} came back at version {read}, not {v}"),
        ));
    }
    Ok(VersionedParameter {
        value,
        version: read,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_stay_below_the_function_timeout() {
        let t = Timeouts::default();
        assert_eq!(t.attempt, Duration::from_secs(3));
        assert_eq!(t.operation, Duration::from_secs(20));
        assert_eq!(t.max_attempts, 4);
        assert!(t.operation < Duration::from_secs(30));
        let timeouts = t.timeout_config();
        assert_eq!(timeouts.operation_timeout(), Some(t.operation));
        assert_eq!(timeouts.operation_attempt_timeout(), Some(t.attempt));
        let retry = t.retry_config();
        assert_eq!(retry.max_attempts(), 4);
        assert_eq!(retry.mode(), aws_config::retry::RetryMode::Standard);
    }
}
