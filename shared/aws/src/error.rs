//! One error type for every AWS call Capstan makes, sorted into the few kinds an operator or
//! the runner acts on.
//!
//! | kind | meaning | typical codes |
//! |---|---|---|
//! | [`ErrorKind::Transient`] | try again later; nothing is wrong with the request | `Throttling`, `ThrottlingException`, `TooManyRequestsException`, `RequestLimitExceeded`, any HTTP 5xx or 429, timeouts, connection failures |
//! | [`ErrorKind::Denied`] | the function's IAM role lacks a permission, or its credentials are bad | `AccessDenied*`, `UnauthorizedOperation`, `*NotAuthorized*`, `AuthorizationError`, `ExpiredToken` |
//! | [`ErrorKind::Invalid`] | AWS rejected the request itself | `ValidationError`, `ValidationException`, `InvalidParameter*`, ECS `ClientException` |
//! | [`ErrorKind::NotFound`] | the cluster, service, group, topic or parameter does not exist | `ServiceNotFoundException`, `ClusterNotFoundException`, `ObjectNotFoundException`, `ResourceNotFound*`, `ParameterNotFound`, `ParameterVersionNotFound` |
//! | [`ErrorKind::AssumeRole`] | the role of a target in another account cannot be assumed (the message names it) | STS's `AccessDenied`, `InvalidClientTokenId`, `RegionDisabledException`, ... for `sts:AssumeRole` |
//! | [`ErrorKind::Other`] | anything else | |
//!
//! The SDK has already retried transient failures (see [`crate::config::Timeouts`]) before an
//! [`AwsError`] is made, so a `Transient` error means the retries ran out.

use std::any::Any;
use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::{self, ProvideErrorKind};
use serde::Serialize;

/// What kind of failure an AWS call ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// Throttling, a server-side failure, a timeout or a network failure: worth trying again later.
    Transient,
    /// Missing IAM permission or bad credentials.
    Denied,
    /// AWS rejected the request as malformed or out of range.
    Invalid,
    /// The named resource does not exist.
    NotFound,
    /// The role of a target in another account cannot be assumed: its trust policy, the
    /// functions' `sts:AssumeRole` permission, the external id, or the role itself. Not
    /// transient: trying again changes nothing until someone fixes it.
    AssumeRole,
    /// Anything else.
    Other,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Transient => "transient",
            ErrorKind::Denied => "denied",
            ErrorKind::Invalid => "invalid",
            ErrorKind::NotFound => "not-found",
            ErrorKind::AssumeRole => "assume-role",
            ErrorKind::Other => "other",
        })
    }
}

/// A failed AWS call.
///
/// Displays as `ecs:UpdateService failed (AccessDeniedException): <message>`; the operation is
/// named like the IAM action it needs, so a `Denied` error says which permission to grant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{operation} failed{}: {message}", code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
pub struct AwsError {
    /// The call, named like its IAM action: `ecs:UpdateService`.
    pub operation: String,
    /// What kind of failure it was.
    pub kind: ErrorKind,
    /// The AWS error code, when AWS sent one (`AccessDeniedException`).
    pub code: Option<String>,
    /// AWS's message, or a description of the local failure (timeout, connection error).
    pub message: String,
}

impl AwsError {
    /// Makes an error that did not come from the SDK (a request Capstan refuses to send, a
    /// response without a field Capstan needs).
    pub fn new(
        operation: &str,
        kind: ErrorKind,
        code: Option<&str>,
        message: impl Into<String>,
    ) -> AwsError {
        AwsError {
            operation: operation.to_string(),
            kind,
            code: code.map(str::to_string),
            message: message.into(),
        }
    }

    /// Classifies an SDK error of the call `operation` (`"ecs:UpdateService"`).
    pub fn from_sdk<E, R>(operation: &str, err: SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + ProvideErrorKind + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        AwsError::from_sdk_ref(operation, &err)
    }

    /// [`AwsError::from_sdk`] of a borrowed error.
    pub fn from_sdk_ref<E, R>(operation: &str, err: &SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + ProvideErrorKind + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        // The credentials of a call to another account could not be had: the SDK says
        // "dispatch failure", the provider (`crate::reach`) left the classified STS failure,
        // naming the role, among the error's sources.
        if let SdkError::DispatchFailure(_) = err {
            let mut source = std::error::Error::source(err);
            while let Some(s) = source {
                if let Some(carried) = s.downcast_ref::<AwsError>() {
                    return carried.clone();
                }
                source = s.source();
            }
        }
        let (kind, code, message) = match err {
            SdkError::ServiceError(ctx) => {
                let e = ctx.err();
                let code = ProvideErrorMetadata::code(e).map(str::to_string);
                let status = http_status(ctx.raw());
                let kind = classify(code.as_deref(), status, e.retryable_error_kind());
                let message = match ProvideErrorMetadata::message(e) {
                    Some(m) if !m.is_empty() => m.to_string(),
                    _ => match status {
                        Some(s) => format!("HTTP {s} without a message"),
                        None => "no message".to_string(),
                    },
                };
                (kind, code, message)
            }
            SdkError::TimeoutError(_) => (
                ErrorKind::Transient,
                None,
                format!("timed out ({})", DisplayErrorContext(err)),
            ),
            SdkError::DispatchFailure(d) => {
                let kind = if d.is_user() {
                    ErrorKind::Other
                } else {
                    ErrorKind::Transient
                };
                (kind, None, DisplayErrorContext(err).to_string())
            }
            SdkError::ResponseError(r) => {
                let status = http_status(r.raw());
                let kind = match status {
                    Some(s) if (400..500).contains(&s) && s != 429 => ErrorKind::Other,
                    _ => ErrorKind::Transient,
                };
                (kind, None, DisplayErrorContext(err).to_string())
            }
            _ => (ErrorKind::Other, None, DisplayErrorContext(err).to_string()),
        };
        AwsError {
            operation: operation.to_string(),
            kind,
            code,
            message,
        }
    }

    /// Classifies a failure AWS reports inside a successful answer (an entry of a batch call
    /// such as `sns:PublishBatch`): its code sorts it as a whole call's error would be, and an
    /// unknown code is transient when AWS says the fault was its own (`sender_fault` false),
    /// as an HTTP 5xx answer would be.
    pub fn of_entry(
        operation: &str,
        code: &str,
        sender_fault: bool,
        message: Option<&str>,
    ) -> AwsError {
        let modeled = if sender_fault {
            retry::ErrorKind::ClientError
        } else {
            retry::ErrorKind::ServerError
        };
        AwsError {
            operation: operation.to_string(),
            kind: classify(Some(code), None, Some(modeled)),
            code: Some(code.to_string()).filter(|c| !c.is_empty()),
            message: message
                .filter(|m| !m.is_empty())
                .unwrap_or("no message")
                .to_string(),
        }
    }

    /// True when trying the call again later may succeed ([`ErrorKind::Transient`]).
    pub fn is_retryable(&self) -> bool {
        self.kind == ErrorKind::Transient
    }
}

fn http_status<R: 'static>(raw: &R) -> Option<u16> {
    (raw as &dyn Any)
        .downcast_ref::<HttpResponse>()
        .map(|r| r.status().as_u16())
}

const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    // SNS's throttling code (its Publish and PublishBatch entries), and KMS's behind a topic.
    "Throttled",
    "KMSThrottling",
    "KMSThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "BandwidthLimitExceeded",
    "EC2ThrottledException",
    "PriorRequestNotComplete",
    "SlowDown",
];

const SERVER: &[&str] = &[
    "InternalFailure",
    "InternalError",
    "InternalServerError",
    "InternalServiceError",
    "InternalServiceErrorException",
    "InternalServerException",
    "ServerException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
    "RequestExpired",
    "IDPCommunicationError",
    // Auto Scaling and Application Auto Scaling: another change is in flight; it settles.
    "ResourceContention",
    "ScalingActivityInProgress",
    "ConcurrentUpdateException",
    "ConcurrentUpdate",
];

const DENIED: &[&str] = &[
    "UnauthorizedOperation",
    "UnauthorizedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "MissingAuthenticationToken",
    "IncompleteSignature",
    "AuthFailure",
    "AuthorizationError",
    "AuthorizationErrorException",
    "KMSAccessDenied",
    "KMSAccessDeniedException",
];

const INVALID: &[&str] = &[
    "ValidationError",
    "ValidationException",
    "ClientException",
    "MissingParameter",
    "MissingAction",
    "MalformedQueryString",
    "SerializationException",
    "InvalidAction",
    "InvalidQueryParameter",
];

const NOT_FOUND: &[&str] = &[
    "ServiceNotFoundException",
    "ClusterNotFoundException",
    "ObjectNotFoundException",
    "ServiceNotActiveException",
    "ParameterNotFound",
    "ParameterVersionNotFound",
    "NotFound",
    "NotFoundException",
];

/// Sorts an error response by its code first, then its HTTP status, then what the SDK's model
/// says about retrying it.
fn classify(
    code: Option<&str>,
    status: Option<u16>,
    modeled: Option<retry::ErrorKind>,
) -> ErrorKind {
    if let Some(code) = code {
        // Some services suffix codes with a namespace (`Throttling:` or `...Exception:http://...`).
        let code = code.split(':').next().unwrap_or(code);
        if THROTTLING.contains(&code) || SERVER.contains(&code) {
            return ErrorKind::Transient;
        }
        if DENIED.contains(&code)
            || code.starts_with("AccessDenied")
            || code.contains("NotAuthorized")
            || code.contains("Unauthorized")
        {
            return ErrorKind::Denied;
        }
        if NOT_FOUND.contains(&code)
            || code.starts_with("ResourceNotFound")
            || code.ends_with("NotFoundException")
            || code.ends_with("NotFoundFault")
        {
            return ErrorKind::NotFound;
        }
        if INVALID.contains(&code) || code.starts_with("Invalid") {
            return ErrorKind::Invalid;
        }
    }
    match modeled {
        Some(
            retry::ErrorKind::ThrottlingError
            | retry::ErrorKind::TransientError
            | retry::ErrorKind::ServerError,
        ) => return ErrorKind::Transient,
        Some(retry::ErrorKind::ClientError) | None => {}
        Some(_) => {}
    }
    match status {
        Some(429) => ErrorKind::Transient,
        Some(s) if s >= 500 => ErrorKind::Transient,
        Some(401 | 403) if code.is_none() => ErrorKind::Denied,
        Some(404) if code.is_none() => ErrorKind::NotFound,
        _ => ErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_entries_sort_as_whole_calls_do() {
        let kind = |code, sender| AwsError::of_entry("sns:PublishBatch", code, sender, None).kind;
        assert_eq!(kind("Throttled", false), ErrorKind::Transient);
        assert_eq!(kind("InternalError", false), ErrorKind::Transient);
        assert_eq!(kind("KMSThrottling", true), ErrorKind::Transient);
        assert_eq!(kind("AuthorizationError", true), ErrorKind::Denied);
        assert_eq!(kind("InvalidParameter", true), ErrorKind::Invalid);
        assert_eq!(kind("NotFound", true), ErrorKind::NotFound);
        // An unknown code: AWS's own fault is worth a retry, the sender's is not.
        assert_eq!(kind("SomethingNew", false), ErrorKind::Transient);
        assert_eq!(kind("SomethingNew", true), ErrorKind::Other);
        let e = AwsError::of_entry("sns:PublishBatch", "Throttled", false, Some("slow down"));
        assert_eq!(
            e.to_string(),
            "sns:PublishBatch failed (Throttled): slow down"
        );
    }

    #[test]
    fn codes_sort_into_kinds() {
        let cases = [
            ("Throttling", ErrorKind::Transient),
            ("ThrottlingException", ErrorKind::Transient),
            ("TooManyRequestsException", ErrorKind::Transient),
            ("RequestLimitExceeded", ErrorKind::Transient),
            ("ServerException", ErrorKind::Transient),
            ("ScalingActivityInProgress", ErrorKind::Transient),
            ("AccessDenied", ErrorKind::Denied),
            ("AccessDeniedException", ErrorKind::Denied),
            ("UnauthorizedOperation", ErrorKind::Denied),
            ("UserNotAuthorizedException", ErrorKind::Denied),
            ("InvalidClientTokenId", ErrorKind::Denied),
            ("ValidationError", ErrorKind::Invalid),
            ("ValidationException", ErrorKind::Invalid),
            ("InvalidParameterException", ErrorKind::Invalid),
            ("InvalidParameterValue", ErrorKind::Invalid),
            ("ClientException", ErrorKind::Invalid),
            ("ServiceNotFoundException", ErrorKind::NotFound),
            ("ClusterNotFoundException", ErrorKind::NotFound),
            ("ObjectNotFoundException", ErrorKind::NotFound),
            ("ResourceNotFoundException", ErrorKind::NotFound),
            ("ParameterNotFound", ErrorKind::NotFound),
            ("NotFound", ErrorKind::NotFound),
            ("LimitExceededException", ErrorKind::Other),
        ];
        for (code, kind) in cases {
            assert_eq!(classify(Some(code), Some(400), None), kind, "{code}");
        }
    }

    #[test]
    fn status_and_model_decide_when_the_code_does_not() {
        assert_eq!(classify(None, Some(503), None), ErrorKind::Transient);
        assert_eq!(
            classify(Some("Weird"), Some(500), None),
            ErrorKind::Transient
        );
        assert_eq!(classify(None, Some(429), None), ErrorKind::Transient);
        assert_eq!(classify(None, Some(403), None), ErrorKind::Denied);
        assert_eq!(classify(Some("Weird"), Some(400), None), ErrorKind::Other);
        assert_eq!(
            classify(
                Some("Weird"),
                Some(400),
                Some(retry::ErrorKind::ThrottlingError)
            ),
            ErrorKind::Transient
        );
        // A code that names the failure beats a 5xx status.
        assert_eq!(
            classify(Some("AccessDeniedException"), Some(500), None),
            ErrorKind::Denied
        );
    }

    #[test]
    fn local_failures_are_classified() {
        use aws_sdk_ecs::operation::update_service::UpdateServiceError;
        use aws_smithy_runtime_api::client::result::ConnectorError;
        type E = SdkError<UpdateServiceError, HttpResponse>;

        let e = AwsError::from_sdk("ecs:UpdateService", E::timeout_error("operation timeout"));
        assert_eq!(e.kind, ErrorKind::Transient);
        assert_eq!(e.code, None);
        assert!(
            e.to_string()
                .starts_with("ecs:UpdateService failed: timed out"),
            "{e}"
        );

        let io = ConnectorError::io("connection refused".into());
        let e = AwsError::from_sdk("ecs:UpdateService", E::dispatch_failure(io));
        assert_eq!(e.kind, ErrorKind::Transient);
        assert!(e.message.contains("connection refused"), "{e}");

        let user = ConnectorError::user("bad endpoint".into());
        let e = AwsError::from_sdk("ecs:UpdateService", E::dispatch_failure(user));
        assert_eq!(e.kind, ErrorKind::Other);
    }

    #[test]
    fn display_names_operation_code_and_message() {
        let e = AwsError::new(
            "ecs:UpdateService",
            ErrorKind::Denied,
            Some("AccessDeniedException"),
            "not allowed",
        );
        assert_eq!(
            e.to_string(),
            "ecs:UpdateService failed (AccessDeniedException): not allowed"
        );
        assert!(!e.is_retryable());
        let e = AwsError::new("sns:Publish", ErrorKind::Transient, None, "timed out");
        assert_eq!(e.to_string(), "sns:Publish failed: timed out");
        assert!(e.is_retryable());
    }
}
