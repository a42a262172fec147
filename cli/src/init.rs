//! `capstan init [--table NAME]`: create Capstan's state table where the AWS SDK points.
//!
//! The table (on-demand, keys `pk`/`sk`, TTL on `expires_at`) is created unless it exists;
//! running `init` again only makes sure TTL is on. The SDK reads the standard environment:
//! `AWS_REGION`, credentials (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`, ...)
//! and `AWS_ENDPOINT_URL` (moto, LocalStack, DynamoDB Local).
//!
//! This module also holds [`Session`], the AWS side shared with `capstan status`: the clients,
//! and one-line error messages that say what to set.

use capstan_aws::{AwsError, Clients, ErrorKind, Timeouts};
use capstan_store::{Store, StoreError};

use crate::exit::{Failure, Outcome};

/// Runs the subcommand: fine when the table exists afterwards; a finding when AWS refused to
/// create it or to turn TTL on (creating it is the action `init` is for); trouble when no
/// region is configured, or AWS could not be asked (no credentials, no connection).
pub async fn run(table: &str) -> Outcome {
    let session = Session::connect().await.map_err(Failure::trouble)?;
    let store = Store::new(session.dynamodb.clone(), table);
    match store.create_table().await {
        Ok(created) => {
            let where_ = session.endpoints.location("dynamodb");
            if created {
                println!("created table {table} {where_}; TTL on expires_at");
            } else {
                println!("table {table} already exists {where_}; TTL on expires_at");
            }
            Ok(())
        }
        Err(e) => {
            let line = session.endpoints.store_error(&e);
            match &e {
                StoreError::Aws(aws) if unanswered(aws).is_some() => Err(Failure::trouble(line)),
                _ => Err(Failure::finding_because(line)),
            }
        }
    }
}

/// Why AWS never answered a call, when it did not: the calls that say nothing of what was
/// asked, only of where the CLI runs, so that a caller can tell them from AWS's refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unanswered {
    /// No credentials were found: the request was never signed.
    NoCredentials,
    /// The endpoint could not be reached (refused, timed out, no such host).
    Unreachable,
}

/// Whether `e` is a call AWS never answered, and why.
pub fn unanswered(e: &AwsError) -> Option<Unanswered> {
    let lower = e.message.to_ascii_lowercase();
    if lower.contains("credentials") && e.code.is_none() {
        return Some(Unanswered::NoCredentials);
    }
    let unreachable = e.code.is_none()
        && e.kind == ErrorKind::Transient
        && ["dispatch", "connect", "timed out", "dns", "io error"]
            .iter()
            .any(|w| lower.contains(w));
    unreachable.then_some(Unanswered::Unreachable)
}

/// AWS clients built from the standard environment, and where they point.
pub struct Session {
    /// ECS, Auto Scaling, Application Auto Scaling, SNS and SSM.
    pub clients: Clients,
    /// DynamoDB (the state table).
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// The configuration the clients were built from: targets in other accounts are reached
    /// with it ([`Session::pool`]).
    pub sdk: aws_config::SdkConfig,
    /// Where the clients point, for messages.
    pub endpoints: Endpoints,
}

/// The region and endpoint the SDK was configured with.
#[derive(Debug, Clone)]
pub struct Endpoints {
    region: String,
    /// `AWS_ENDPOINT_URL` (or the profile's `endpoint_url`), when set.
    endpoint: Option<String>,
}

/// Per service: the IAM prefix of its operations, the suffix of its `AWS_ENDPOINT_URL_*`
/// variable, and its host name on AWS.
const SERVICES: &[(&str, &str, &str)] = &[
    ("dynamodb", "DYNAMODB", "dynamodb"),
    ("ecs", "ECS", "ecs"),
    ("autoscaling", "AUTO_SCALING", "autoscaling"),
    (
        "application-autoscaling",
        "APPLICATION_AUTO_SCALING",
        "application-autoscaling",
    ),
    ("ssm", "SSM", "ssm"),
    ("sns", "SNS", "sns"),
];

impl Session {
    /// Loads the SDK configuration (Capstan's timeouts and retries). Fails, with what to set,
    /// when no region is configured.
    pub async fn connect() -> Result<Session, String> {
        let sdk = capstan_aws::load_config(Timeouts::default()).await;
        let Some(region) = sdk.region().map(|r| r.to_string()) else {
            return Err(
                "no AWS region is configured: set AWS_REGION (e.g. AWS_REGION=us-east-1), or a \
                 region in your AWS profile"
                    .to_string(),
            );
        };
        Ok(Session {
            clients: Clients::new(&sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            sdk: sdk.clone(),
            endpoints: Endpoints {
                region,
                endpoint: sdk.endpoint_url().map(str::to_string),
            },
        })
    }
}

impl Session {
    /// The clients of every account the policy's targets live in, assuming their roles as
    /// `capstan-cli-<why>`.
    pub fn pool(&self, why: &str) -> capstan_aws::ReachPool {
        capstan_aws::ReachPool::new(self.clients.clone(), &self.sdk, "cli", why)
    }
}

impl Endpoints {
    /// The endpoint the SDK calls for `service` (an IAM prefix such as `dynamodb`): its
    /// `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`, else AWS's regional endpoint.
    pub fn endpoint(&self, service: &str) -> String {
        let entry = SERVICES.iter().find(|(prefix, _, _)| *prefix == service);
        if let Some((_, var, _)) = entry {
            if let Some(url) = std::env::var(format!("AWS_ENDPOINT_URL_{var}"))
                .ok()
                .filter(|v| !v.trim().is_empty())
            {
                return url;
            }
        }
        if let Some(url) = &self.endpoint {
            return url.clone();
        }
        let host = entry.map(|(_, _, host)| *host).unwrap_or(service);
        format!("https://{host}.{}.amazonaws.com", self.region)
    }

    /// `in REGION`, or `at ENDPOINT (REGION)` when an endpoint is configured.
    pub fn location(&self, service: &str) -> String {
        let endpoint = self.endpoint(service);
        if endpoint.ends_with(".amazonaws.com") {
            format!("in {}", self.region)
        } else {
            format!("at {endpoint} ({})", self.region)
        }
    }

    /// One line for a failed AWS call that says what went wrong and what to check or set.
    pub fn aws_error(&self, e: &AwsError) -> String {
        let service = e.operation.split(':').next().unwrap_or_default();
        let endpoint = self.endpoint(service);
        match unanswered(e) {
            Some(Unanswered::NoCredentials) => {
                return format!(
                    "{} failed: no AWS credentials found; set AWS_ACCESS_KEY_ID and \
                     AWS_SECRET_ACCESS_KEY, or AWS_PROFILE",
                    e.operation
                );
            }
            Some(Unanswered::Unreachable) => {
                return format!(
                    "cannot reach {endpoint} ({} failed: {}); check AWS_ENDPOINT_URL and \
                     AWS_REGION, or unset AWS_ENDPOINT_URL to use AWS itself",
                    e.operation,
                    cause(&e.message)
                );
            }
            None => {}
        }
        match e.kind {
            ErrorKind::Denied => format!(
                "{e}; the credentials in use lack this permission or are invalid (see AWS_PROFILE, \
                 AWS_ACCESS_KEY_ID)"
            ),
            _ => format!("{e} (endpoint {endpoint})"),
        }
    }

    /// [`Session::aws_error`] for a state-table failure.
    pub fn store_error(&self, e: &StoreError) -> String {
        match e {
            StoreError::Aws(aws) => self.aws_error(aws),
            other => other.to_string(),
        }
    }
}

/// The innermost cause of an SDK error chain (`a: b: Connection refused (os error 111)` gives
/// `Connection refused (os error 111)`), without the debug dump the SDK appends.
fn cause(message: &str) -> &str {
    let message = message.split(" (Dispatch").next().unwrap_or(message);
    let message = message.split(" (Timeout").next().unwrap_or(message);
    message
        .rsplit(": ")
        .find(|part| !part.trim().is_empty())
        .unwrap_or(message)
        .trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(endpoint: Option<&str>) -> Endpoints {
        Endpoints {
            region: "eu-west-1".to_string(),
            endpoint: endpoint.map(str::to_string),
        }
    }

    #[test]
    fn the_endpoint_is_the_configured_one_else_aws() {
        assert_eq!(
            session(Some("http://127.0.0.1:5000")).endpoint("ecs"),
            "http://127.0.0.1:5000"
        );
        assert_eq!(
            session(None).endpoint("application-autoscaling"),
            "https://application-autoscaling.eu-west-1.amazonaws.com"
        );
        assert_eq!(session(None).location("dynamodb"), "in eu-west-1");
        assert_eq!(
            session(Some("http://localhost:4566")).location("dynamodb"),
            "at http://localhost:4566 (eu-west-1)"
        );
    }

    #[test]
    fn a_connection_failure_names_the_endpoint_and_what_to_set() {
        let e = AwsError::new(
            "dynamodb:CreateTable",
            ErrorKind::Transient,
            None,
            "dispatch failure: io error: client error (Connect): tcp connect error: Connection \
             refused (os error 111) (DispatchFailure(DispatchFailure { source: .. }))",
        );
        let text = session(Some("http://127.0.0.1:9")).aws_error(&e);
        assert_eq!(
            text,
            "cannot reach http://127.0.0.1:9 (dynamodb:CreateTable failed: Connection refused \
             (os error 111)); check AWS_ENDPOINT_URL and AWS_REGION, or unset AWS_ENDPOINT_URL \
             to use AWS itself"
        );
        assert!(!text.contains('\n'));
    }

    /// `init` tells AWS's refusals (a finding) from calls AWS never answered (trouble) by this.
    #[test]
    fn a_refusal_is_answered_a_connection_failure_or_missing_credentials_are_not() {
        let refused = AwsError::new(
            "dynamodb:CreateTable",
            ErrorKind::Denied,
            Some("AccessDeniedException"),
            "User is not authorized to perform: dynamodb:CreateTable",
        );
        assert_eq!(unanswered(&refused), None);
        let throttled = AwsError::new(
            "dynamodb:CreateTable",
            ErrorKind::Transient,
            Some("ThrottlingException"),
            "Rate exceeded",
        );
        assert_eq!(unanswered(&throttled), None);
        let refused_connection = AwsError::new(
            "dynamodb:CreateTable",
            ErrorKind::Transient,
            None,
            "dispatch failure: io error: Connection refused (os error 111)",
        );
        assert_eq!(
            unanswered(&refused_connection),
            Some(Unanswered::Unreachable)
        );
        let unsigned = AwsError::new(
            "dynamodb:CreateTable",
            ErrorKind::Other,
            None,
            "failed to construct request: no providers in chain provided credentials",
        );
        assert_eq!(unanswered(&unsigned), Some(Unanswered::NoCredentials));
    }

    #[test]
    fn missing_credentials_and_denied_calls_say_what_to_set() {
        let s = session(None);
        let none = AwsError::new(
            "dynamodb:Scan",
            ErrorKind::Other,
            None,
            "failed to construct request: no providers in chain provided credentials",
        );
        assert!(s.aws_error(&none).contains("set AWS_ACCESS_KEY_ID"));
        let denied = AwsError::new(
            "ecs:DescribeServices",
            ErrorKind::Denied,
            Some("AccessDeniedException"),
            "User is not authorized",
        );
        let text = s.aws_error(&denied);
        assert!(
            text.starts_with("ecs:DescribeServices failed (AccessDeniedException)"),
            "{text}"
        );
        assert!(text.contains("lack this permission"), "{text}");
    }
}
