//! What every Capstan Lambda function shares: its settings from the environment
//! ([`Config`]), the policy ([`load_policy`]), and the [`Runner`] built once per container
//! ([`runner_from_env`], [`runner_with_config`], [`runner_with_clients`]).
//!
//! The functions themselves (`alarm-handler`, `schedule-handler`, `budget-handler`) only
//! translate their events into signals and hand them to the runner. Every failure of an
//! invocation is an [`InvocationError`] of a stable kind, which Lambda records as its
//! `errorType` (see [`error`](mod@error)).
#![warn(missing_docs)]

pub mod error;

use std::future::Future;
use std::sync::Arc;

use capstan_aws::{Clients, Notifier, ReachPool, Timeouts};
use capstan_policy::Policy;
use capstan_runner::{Clock, Delivery, Report, Runner, SystemClock};
use capstan_store::Store;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tracing::{error, info, Instrument, Span};
use tracing_subscriber::filter::{LevelFilter, Targets};

pub use error::{redact, InvocationError, ERROR_TYPES};
/// What Lambda is told of a failed invocation (`errorType`, `errorMessage`): what an
/// [`InvocationError`] converts into.
pub use lambda_runtime::Diagnostic;

/// The function's settings, from the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `CAPSTAN_POLICY`: a file path, or `ssm:<parameter name>`.
    pub policy: String,
    /// `CAPSTAN_TABLE`: the state table.
    pub table: String,
    /// `CAPSTAN_TOPIC_ARN`: where notifications go (unset: only logged).
    pub topic_arn: Option<String>,
    /// `CAPSTAN_DRY_RUN`: `true` makes every target dry-run, whatever the policy says.
    pub dry_run: bool,
    /// `CAPSTAN_SNS_TOPIC_ARNS`: the SNS topics whose deliveries the function accepts
    /// (comma-separated topic ARNs; the template sets the topics it subscribes the function
    /// to). Empty (unset): any topic.
    pub sns_topics: Vec<String>,
}

/// A setting that is missing or malformed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    /// A variable has a value that means nothing.
    #[error("environment variable {name} is {value:?}: {expected}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// A setting names something that could not be read (a secret in SSM or Secrets Manager).
    #[error("environment variable {name} names {from}, which cannot be read: {message}")]
    Unreadable {
        /// The variable.
        name: &'static str,
        /// What it names (never a secret's value).
        from: String,
        /// Why it cannot be read.
        message: String,
    },
    /// The policy could not be read or is invalid.
    #[error("policy {source_name}: {message}")]
    Policy {
        /// Where it came from.
        source_name: String,
        /// What is wrong (every problem, one per line).
        message: String,
    },
}

impl Config {
    /// Reads the settings through `var` (the process environment in production).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &'static str| var(name).filter(|v| !v.trim().is_empty());
        let dry_run = match get("CAPSTAN_DRY_RUN").as_deref().map(str::trim) {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                return Err(ConfigError::Invalid {
                    name: "CAPSTAN_DRY_RUN",
                    value: v.to_string(),
                    expected: "expected `true` or `false`",
                })
            }
        };
        let sns_topics = match get("CAPSTAN_SNS_TOPIC_ARNS") {
            None => Vec::new(),
            Some(list) => sns_topic_arns(&list)?,
        };
        Ok(Config {
            policy: get("CAPSTAN_POLICY").ok_or(ConfigError::Missing("CAPSTAN_POLICY"))?,
            table: get("CAPSTAN_TABLE").ok_or(ConfigError::Missing("CAPSTAN_TABLE"))?,
            topic_arn: get("CAPSTAN_TOPIC_ARN"),
            dry_run,
            sns_topics,
        })
    }
}

/// The comma-separated topic ARNs of `CAPSTAN_SNS_TOPIC_ARNS` (blanks around commas ignored).
fn sns_topic_arns(list: &str) -> Result<Vec<String>, ConfigError> {
    let mut arns = Vec::new();
    for arn in list.split(',').map(str::trim) {
        if !is_sns_topic_arn(arn) {
            return Err(ConfigError::Invalid {
                name: "CAPSTAN_SNS_TOPIC_ARNS",
                value: list.to_string(),
                expected: "expected SNS topic ARNs separated by commas, each like \
                           arn:aws:sns:us-east-1:123456789012:capstan-alarms",
            });
        }
        if !arns.iter().any(|a| a == arn) {
            arns.push(arn.to_string());
        }
    }
    Ok(arns)
}

/// `arn:<partition>:sns:<region>:<12-digit account>:<topic>`, the topic name of 1 to 256
/// letters, digits, `-` and `_` (a FIFO topic's ending in `.fifo`).
fn is_sns_topic_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    let [prefix, partition, service, region, account, name] = parts[..] else {
        return false;
    };
    let name = name.strip_suffix(".fifo").unwrap_or(name);
    prefix == "arn"
        && partition.starts_with("aws")
        && partition
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '-')
        && service == "sns"
        && !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && (1..=256).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Reads and validates the policy named by `source` (a path, or `ssm:<name>`).
pub async fn load_policy(source: &str, clients: &Clients) -> Result<Policy, ConfigError> {
    let text = match source.strip_prefix("ssm:") {
        Some(name) => capstan_aws::fetch_parameter(clients, name)
            .await
            .map_err(|e| ConfigError::Policy {
                source_name: source.to_string(),
                message: e.to_string(),
            })?,
        None => std::fs::read_to_string(source).map_err(|e| ConfigError::Policy {
            source_name: source.to_string(),
            message: e.to_string(),
        })?,
    };
    capstan_policy::load(&text).map_err(|e| ConfigError::Policy {
        source_name: source.to_string(),
        message: e
            .diagnostics
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    })
}

/// One Capstan Lambda function: a handler around the shared [`Runner`].
pub trait Function: Clone + Send + Sync + 'static {
    /// The function's name, for the log.
    const NAME: &'static str;

    /// The handler around a runner.
    fn new(runner: Runner) -> Self;

    /// The runner.
    fn runner(&self) -> &Runner;

    /// Takes what the function needs of its settings besides the runner (the SNS topics it
    /// accepts deliveries from, say). Nothing, by default.
    fn configure(self, _config: &Config) -> Self {
        self
    }

    /// Builds the handler once per container from its runner, the settings and the SDK
    /// configuration: by default [`Function::new`] then [`Function::configure`]; a function that
    /// needs more (a secret to resolve, clients of its own) builds it here.
    fn init(
        runner: Runner,
        config: &Config,
        _sdk: &aws_config::SdkConfig,
    ) -> impl Future<Output = Result<Self, ConfigError>> + Send {
        let handler = Self::new(runner).configure(config);
        async move { Ok(handler) }
    }

    /// Handles one event within `deadline` (the Lambda context's): the function's response, or
    /// the [`InvocationError`] that fails the invocation (Lambda retries it, then sends it to
    /// the dead-letter queue with its `errorType`).
    fn handle_by(
        &self,
        payload: Value,
        deadline: DateTime<Utc>,
    ) -> impl Future<Output = Result<Value, InvocationError>> + Send;

    /// Handles one event, allowing itself [`capstan_runner::DEFAULT_BUDGET`] (tests, tools).
    fn handle(
        &self,
        payload: Value,
    ) -> impl Future<Output = Result<Value, InvocationError>> + Send {
        let deadline = self.runner().now() + capstan_runner::DEFAULT_BUDGET;
        self.handle_by(payload, deadline)
    }
}

/// What every function's `main` does: JSON logs, the handler built once per container from
/// the environment, then the Lambda runtime loop. Each invocation is handled within its
/// context's deadline; a failed one is logged with its `error_type` and whole message
/// ([`InvocationError::log`]), and Lambda is told its type and its message without account ids.
///
/// An init failure is logged with `error_type` `Config` and returned (`main` prints it as
/// `Error: Config: <message>` and the process exits; Lambda reports the init as failed).
/// `Internal` when the runtime loop itself fails.
pub async fn serve<F: Function>() -> Result<(), InvocationError> {
    init_logging();
    let handler = match start::<F>().await {
        Ok(handler) => handler,
        Err(e) => {
            let e = InvocationError::from(e);
            error!(error_type = e.error_type(), error = %e, "init failed");
            return Err(e);
        }
    };
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: lambda_runtime::LambdaEvent<Value>| {
            let handler = handler.clone();
            async move {
                let deadline = lambda_deadline(event.context.deadline)
                    .unwrap_or_else(|| handler.runner().now() + capstan_runner::DEFAULT_BUDGET);
                let answer = handler.handle_by(event.payload, deadline).await;
                if let Err(e) = &answer {
                    e.log();
                }
                answer
            }
        },
    ))
    .await
    .map_err(|e| {
        let e = InvocationError::Internal(format!("the Lambda runtime loop failed: {e}"));
        e.log();
        e
    })
}

/// The handler of a container, from the environment.
async fn start<F: Function>() -> Result<F, ConfigError> {
    let config = Config::from_env(|k| std::env::var(k).ok())?;
    let sdk = function_sdk_config().await?;
    let runner = runner_with_config(F::NAME, &config, &sdk, Arc::new(SystemClock)).await?;
    F::init(runner, &config, &sdk).await
}

/// JSON logs to stdout as Lambda's advanced logging controls ask, as `lambda_runtime`'s default
/// subscriber writes them (no target, no time: Lambda stamps each line), with the same level
/// rules ([`log_filter`]), but filtered by target with `Targets` rather than `EnvFilter`, which
/// would link a regex engine into every function. `AWS_LAMBDA_LOG_FORMAT` other than `JSON`:
/// plain text.
pub fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let var = |k: &str| std::env::var(k).ok();
    let filter = log_filter(
        var("AWS_LAMBDA_LOG_LEVEL").as_deref(),
        var("RUST_LOG").as_deref(),
    );
    let layer = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time();
    let registry = tracing_subscriber::registry().with(filter);
    if var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json")) {
        registry.with(layer.json()).init();
    } else {
        registry.with(layer).init();
    }
}

/// What is logged, as `lambda_runtime`'s default subscriber decides it: `RUST_LOG`'s directives
/// (`info`, `capstan_runner=debug`, comma-separated; one that does not parse is ignored, as are
/// span and field directives, which need `EnvFilter`), or, when it has none, every target at
/// the level `AWS_LAMBDA_LOG_LEVEL` names (else `RUST_LOG` as a bare level; else, or when that
/// is no level, `INFO`).
pub fn log_filter(lambda_level: Option<&str>, rust_log: Option<&str>) -> Targets {
    let level = lambda_level
        .or(rust_log)
        .unwrap_or("INFO")
        .parse::<LevelFilter>()
        .unwrap_or(LevelFilter::INFO);
    let mut filter = Targets::new();
    let mut directives = 0;
    for directive in rust_log.unwrap_or("").split(',').filter(|d| !d.is_empty()) {
        let Ok(parsed) = directive.parse::<Targets>() else {
            continue;
        };
        directives += 1;
        if let Some(default) = parsed.default_level() {
            filter = filter.with_default(default);
        }
        filter = filter.with_targets(parsed.iter().map(|(t, l)| (t.to_string(), l)));
    }
    if directives == 0 {
        filter = filter.with_default(level);
    }
    filter
}

/// The SDK configuration of a function: the standard environment, Capstan's timeouts, and an
/// HTTPS client trusting the roots `CAPSTAN_TLS_ROOTS` names or the environment calls for
/// ([`capstan_aws::TlsRoots`]).
pub async fn function_sdk_config() -> Result<aws_config::SdkConfig, ConfigError> {
    let roots = tls_roots(|k| std::env::var(k).ok())?;
    Ok(capstan_aws::load_function_config(Timeouts::default(), roots).await)
}

/// The roots the functions' AWS clients trust, from the environment.
pub fn tls_roots(
    var: impl Fn(&str) -> Option<String>,
) -> Result<capstan_aws::TlsRoots, ConfigError> {
    capstan_aws::TlsRoots::from_env(&var).map_err(|e| ConfigError::Invalid {
        name: "CAPSTAN_TLS_ROOTS",
        value: var("CAPSTAN_TLS_ROOTS").unwrap_or_default(),
        expected: e.expected(),
    })
}

/// The Lambda context's deadline (milliseconds since the epoch) as a time.
fn lambda_deadline(millis: u64) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_millis(i64::try_from(millis).ok()?)
}

/// Builds the runner from the environment: SDK configuration (the standard variables,
/// `AWS_ENDPOINT_URL` included), the policy, the table and the topic. `function` names the
/// function in the log.
pub async fn runner_from_env(function: &str) -> Result<Runner, ConfigError> {
    let config = Config::from_env(|k| std::env::var(k).ok())?;
    let sdk = function_sdk_config().await?;
    runner_with_config(function, &config, &sdk, Arc::new(SystemClock)).await
}

/// Builds the runner from explicit settings, SDK configuration and clock (tests).
pub async fn runner_with_config(
    function: &str,
    config: &Config,
    sdk: &aws_config::SdkConfig,
    clock: Arc<dyn Clock>,
) -> Result<Runner, ConfigError> {
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    // Targets in other accounts are reached by assuming their roles as
    // `capstan-<function>-scale`, with the hub's endpoint and credentials.
    let pool = ReachPool::new(Clients::new(sdk), sdk, function, "scale");
    runner_with_pool(function, config, pool, dynamodb, clock).await
}

/// Builds the runner from explicit settings, clients and clock (tests that inject failures
/// into one client, benchmarks that count calls). Clients alone reach the functions' own
/// account only: a target in another account fails, naming its role.
pub async fn runner_with_clients(
    function: &str,
    config: &Config,
    clients: Clients,
    dynamodb: aws_sdk_dynamodb::Client,
    clock: Arc<dyn Clock>,
) -> Result<Runner, ConfigError> {
    let pool = ReachPool::hub_only(clients);
    runner_with_pool(function, config, pool, dynamodb, clock).await
}

/// Builds the runner from explicit settings, the clients of every account ([`ReachPool`])
/// and clock.
pub async fn runner_with_pool(
    function: &str,
    config: &Config,
    pool: ReachPool,
    dynamodb: aws_sdk_dynamodb::Client,
    clock: Arc<dyn Clock>,
) -> Result<Runner, ConfigError> {
    let clients = pool.hub().clone();
    let mut policy = load_policy(&config.policy, &clients).await?;
    if config.dry_run {
        policy.settings.dry_run = true;
    }
    let store = Store::new(dynamodb, config.table.clone());
    let notifier = config
        .topic_arn
        .as_ref()
        .map(|arn| Notifier::new(clients.sns.clone(), arn.clone()));
    info!(
        function,
        policy = %config.policy,
        table = %config.table,
        topic = config.topic_arn.as_deref().unwrap_or("(none)"),
        dry_run = policy.settings.dry_run,
        targets = policy.targets.len(),
        rules = policy.rules.len(),
        schedules = policy.schedules.len(),
        budgets = policy.budgets.len(),
        other_accounts = policy.targets.values().filter(|t| t.role_arn.is_some()).count(),
        "ready"
    );
    Ok(Runner::new(policy, pool, store, notifier, clock))
}

/// Handles every delivery of one event within `deadline`, each in its log span, and answers
/// with their reports, or with the error that makes Lambda retry the event: every delivery is
/// handled even when one fails, then any failure fails the invocation (on the retry the others
/// are duplicates, answered with their stored results, so nothing acts twice). Several
/// failures are one error of the least retryable kind among them, with every message
/// ([`InvocationError::worst`]).
pub async fn handle_each(
    runner: &Runner,
    deliveries: impl IntoIterator<Item = (Delivery, Span)>,
    deadline: DateTime<Utc>,
) -> Result<Value, InvocationError> {
    let mut reports: Vec<Report> = Vec::new();
    let mut errors: Vec<InvocationError> = Vec::new();
    for (delivery, span) in deliveries {
        match runner.handle_by(&delivery, deadline).instrument(span).await {
            Ok(r) => reports.push(r),
            Err(e) => errors.push(e.into()),
        }
    }
    if let Some(e) = InvocationError::worst(errors) {
        return Err(e);
    }
    Ok(json!({ "reports": reports }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_capstan_tls_roots_is_refused_naming_the_variable() {
        let env = |k: &str| match k {
            "CAPSTAN_TLS_ROOTS" => Some("mozilla".to_string()),
            "AWS_REGION" => Some("us-east-1".to_string()),
            _ => None,
        };
        let e = tls_roots(env).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("CAPSTAN_TLS_ROOTS") && text.contains("\"mozilla\""),
            "{text}"
        );
        assert!(
            text.contains("`amazon`") && text.contains("`system`"),
            "{text}"
        );
        let region_only = |k: &str| (k == "AWS_REGION").then(|| "eu-west-1".to_string());
        assert_eq!(tls_roots(region_only), Ok(capstan_aws::TlsRoots::Amazon));
    }
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn config_reads_every_variable() {
        let c = Config::from_env(env(&[
            ("CAPSTAN_POLICY", "/opt/capstan.toml"),
            ("CAPSTAN_TABLE", "capstan-state"),
            (
                "CAPSTAN_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:capstan",
            ),
            ("CAPSTAN_DRY_RUN", "TRUE"),
        ]))
        .unwrap();
        assert_eq!(c.policy, "/opt/capstan.toml");
        assert_eq!(c.table, "capstan-state");
        assert_eq!(
            c.topic_arn.as_deref(),
            Some("arn:aws:sns:us-east-1:123456789012:capstan")
        );
        assert!(c.dry_run);
        assert!(c.sns_topics.is_empty(), "unset: any topic");
    }

    #[test]
    fn config_reads_the_accepted_sns_topics() {
        let base = [("CAPSTAN_POLICY", "p"), ("CAPSTAN_TABLE", "t")];
        let with = |value: &str| {
            let mut pairs = base.to_vec();
            pairs.push(("CAPSTAN_SNS_TOPIC_ARNS", value));
            Config::from_env(env(&pairs))
        };
        let c = with(
            "arn:aws:sns:us-east-1:123456789012:capstan-alarms , \
             arn:aws-us-gov:sns:us-gov-west-1:123456789012:budgets.fifo,\
             arn:aws:sns:us-east-1:123456789012:capstan-alarms",
        )
        .unwrap();
        assert_eq!(
            c.sns_topics,
            [
                "arn:aws:sns:us-east-1:123456789012:capstan-alarms",
                "arn:aws-us-gov:sns:us-gov-west-1:123456789012:budgets.fifo"
            ]
        );
        assert_eq!(with("  ").unwrap().sns_topics, Vec::<String>::new());
        for bad in [
            "capstan-alarms",
            "arn:aws:sns:us-east-1:123456789012:capstan-alarms,",
            "arn:aws:sqs:us-east-1:123456789012:capstan-alarms",
            "arn:aws:sns:us-east-1:1234:capstan-alarms",
            "arn:aws:sns::123456789012:capstan-alarms",
            "arn:aws:sns:us-east-1:123456789012:",
            "arn:aws:sns:us-east-1:123456789012:a/b",
            "arn:aws:sns:us-east-1:123456789012:capstan-alarms:sub-id",
            "arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-cpu-high",
        ] {
            let e = with(bad).unwrap_err();
            assert!(
                matches!(
                    e,
                    ConfigError::Invalid {
                        name: "CAPSTAN_SNS_TOPIC_ARNS",
                        ..
                    }
                ),
                "{bad}: {e}"
            );
            assert!(
                e.to_string().starts_with(&format!(
                    "environment variable CAPSTAN_SNS_TOPIC_ARNS is {bad:?}"
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn log_levels_as_lambda_runtime_sets_them() {
        use tracing::Level;
        let on = |f: &Targets, target: &str, level: Level| f.would_enable(target, &level);
        // Nothing set: INFO for everyone.
        let f = log_filter(None, None);
        assert!(on(&f, "capstan_runner", Level::INFO));
        assert!(!on(&f, "capstan_runner", Level::DEBUG));
        // Lambda's level control, in any case; a bad one is INFO.
        let f = log_filter(Some("WARN"), None);
        assert!(on(&f, "aws_config", Level::WARN) && !on(&f, "aws_config", Level::INFO));
        let f = log_filter(Some("debug"), None);
        assert!(on(&f, "x", Level::DEBUG) && !on(&f, "x", Level::TRACE));
        assert!(on(&log_filter(Some("loud"), None), "x", Level::INFO));
        // RUST_LOG as a bare level when Lambda sets none.
        let f = log_filter(None, Some("error"));
        assert!(on(&f, "x", Level::ERROR) && !on(&f, "x", Level::WARN));
        // RUST_LOG's directives win over the default level; unknown targets are then off.
        let f = log_filter(Some("ERROR"), Some("capstan_runner=debug,warn"));
        assert!(on(&f, "capstan_runner::run", Level::DEBUG));
        assert!(on(&f, "aws_smithy_runtime", Level::WARN));
        assert!(!on(&f, "aws_smithy_runtime", Level::INFO));
        let f = log_filter(None, Some("capstan_store=trace"));
        assert!(on(&f, "capstan_store", Level::TRACE));
        assert!(!on(&f, "lambda_runtime", Level::ERROR));
        // A directive that does not parse is ignored; none left: the level.
        let f = log_filter(Some("WARN"), Some("[span{a=1}]=debug"));
        assert!(on(&f, "x", Level::WARN) && !on(&f, "x", Level::INFO));
    }

    #[test]
    fn config_errors_name_the_variable() {
        let e = Config::from_env(env(&[("CAPSTAN_TABLE", "t")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "environment variable CAPSTAN_POLICY is not set"
        );
        let e =
            Config::from_env(env(&[("CAPSTAN_POLICY", "p"), ("CAPSTAN_TABLE", " ")])).unwrap_err();
        assert_eq!(e, ConfigError::Missing("CAPSTAN_TABLE"));
        let e = Config::from_env(env(&[
            ("CAPSTAN_POLICY", "p"),
            ("CAPSTAN_TABLE", "t"),
            ("CAPSTAN_DRY_RUN", "yes"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("CAPSTAN_DRY_RUN is \"yes\""), "{e}");
        let c = Config::from_env(env(&[("CAPSTAN_POLICY", "p"), ("CAPSTAN_TABLE", "t")])).unwrap();
        assert!(!c.dry_run);
        assert_eq!(c.topic_arn, None);
    }
}
