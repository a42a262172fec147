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
pub mod testing;

use std::future::Future;
use std::sync::Arc;

use capstan_aws::{Clients, Notifier, ReachPool, Timeouts};
use capstan_policy::Policy;
use capstan_runner::{Clock, Delivery, Report, Runner, SystemClock};
use capstan_store::Store;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tracing::{error, info, warn, Instrument, Span};
use tracing_subscriber::filter::{LevelFilter, Targets};

pub use error::{redact, InvocationError, ERROR_TYPES};
/// What Lambda is told of a failed invocation (`errorType`, `errorMessage`): what an
/// [`InvocationError`] converts into.
pub use lambda_runtime::Diagnostic;

/// The function's settings, from the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `CAPSTAN_POLICY`: a file path, or `ssm:<parameter name>`, pinned as
    /// `ssm:<parameter name>:<version>` ([`PolicySource`]).
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
    /// `CAPSTAN_SCALING_RESOURCE_ARNS`: the ARNs the stack's scaling grant is narrowed to (its
    /// `ScalingResourceArns`, comma-separated). Empty (unset): not narrowed by name. Set, the
    /// function warns at start about every target of its own account that IAM will deny.
    pub scaling_resource_arns: Vec<String>,
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
        let scaling_resource_arns = match get("CAPSTAN_SCALING_RESOURCE_ARNS") {
            None => Vec::new(),
            Some(list) => scaling_resource_arns(&list)?,
        };
        let policy = get("CAPSTAN_POLICY").ok_or(ConfigError::Missing("CAPSTAN_POLICY"))?;
        PolicySource::parse(&policy)?;
        Ok(Config {
            policy,
            table: get("CAPSTAN_TABLE").ok_or(ConfigError::Missing("CAPSTAN_TABLE"))?,
            topic_arn: get("CAPSTAN_TOPIC_ARN"),
            dry_run,
            sns_topics,
            scaling_resource_arns,
        })
    }
}

/// The comma-separated topic ARNs of `CAPSTAN_SNS_TOPIC_ARNS` (blanks around commas ignored).
fn sns_topic_arns(list: &str) -> Result<Vec<String>, ConfigError> {
    comma_list(
        "CAPSTAN_SNS_TOPIC_ARNS",
        list,
        is_sns_topic_arn,
        "expected SNS topic ARNs separated by commas, each like \
         arn:aws:sns:us-east-1:123456789012:capstan-alarms",
    )
}

/// The comma-separated ARNs of `CAPSTAN_SCALING_RESOURCE_ARNS` (blanks around commas ignored):
/// each `*` or `arn:` with its six fields, as IAM takes them.
fn scaling_resource_arns(list: &str) -> Result<Vec<String>, ConfigError> {
    comma_list(
        "CAPSTAN_SCALING_RESOURCE_ARNS",
        list,
        |arn| {
            let fields: Vec<&str> = arn.splitn(6, ':').collect();
            arn == "*"
                || (fields.len() == 6
                    && fields[0] == "arn"
                    && fields[1..].iter().all(|f| !f.is_empty()))
        },
        "expected the ARNs `capstan iam-resources` prints, separated by commas, each like \
         arn:aws:ecs:us-east-1:123456789012:service/CLUSTER/SERVICE",
    )
}

/// The comma-separated items of the variable `name` (blanks around commas ignored, each kept
/// once, in order), each of which `valid` must accept; else an error naming the variable.
fn comma_list(
    name: &'static str,
    list: &str,
    valid: impl Fn(&str) -> bool,
    expected: &'static str,
) -> Result<Vec<String>, ConfigError> {
    let mut items: Vec<String> = Vec::new();
    for item in list.split(',').map(str::trim) {
        if !valid(item) {
            return Err(ConfigError::Invalid {
                name,
                value: list.to_string(),
                expected,
            });
        }
        if !items.iter().any(|i| i == item) {
            items.push(item.to_string());
        }
    }
    Ok(items)
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

/// Where the policy comes from, as `CAPSTAN_POLICY` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    /// A file (its identity is its content's hash).
    File(String),
    /// An SSM parameter (a name or an ARN), at a pinned version or (none) the latest.
    Ssm {
        /// The parameter's name or ARN, without the version.
        name: String,
        /// The version pinned (`ssm:/capstan/policy:7`), from 1.
        version: Option<i64>,
    },
}

impl PolicySource {
    /// Reads a `CAPSTAN_POLICY` value: `ssm:<name>[:<version>]` (SSM's own `name:version`
    /// selector; a parameter ARN takes it after its resource, `ssm:arn:...:parameter/p:7`),
    /// else a file path. A version that is not a whole number from 1 (a label, say: labels
    /// move, versions do not) is a [`ConfigError`] naming `CAPSTAN_POLICY`.
    pub fn parse(value: &str) -> Result<PolicySource, ConfigError> {
        let Some(rest) = value.strip_prefix("ssm:") else {
            return Ok(PolicySource::File(value.to_string()));
        };
        let invalid = |expected| ConfigError::Invalid {
            name: "CAPSTAN_POLICY",
            value: value.to_string(),
            expected,
        };
        // An ARN holds five colons of its own (`arn:aws:ssm:region:account:parameter/p`).
        let split = if rest.starts_with("arn:") {
            rest.match_indices(':')
                .nth(5)
                .map(|(i, _)| (&rest[..i], &rest[i + 1..]))
        } else {
            rest.rsplit_once(':')
        };
        let (name, version) = match split {
            Some((name, v)) => {
                let version = v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 1 && v.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or(invalid(
                        "expected ssm:<parameter name>:<version>, the version a whole number \
                         from 1 (SSM's name:version selector; labels are not accepted)",
                    ))?;
                (name, Some(version))
            }
            None => (rest, None),
        };
        // SSM names hold no colon; an ARN's are its own.
        if name.is_empty() || (!rest.starts_with("arn:") && name.contains(':')) {
            return Err(invalid(
                "expected ssm:<parameter name> or ssm:<parameter name>:<version>",
            ));
        }
        Ok(PolicySource::Ssm {
            name: name.to_string(),
            version,
        })
    }
}

/// A policy and its identity ([`LoadedPolicy::version`]).
#[derive(Debug, Clone)]
pub struct LoadedPolicy {
    /// The policy, validated.
    pub policy: Policy,
    /// Which policy it is: an SSM parameter's version (`7`), or a file's `sha256:` and the first
    /// 12 hex digits of its content's SHA-256. In the `ready` line, every invocation's log
    /// span and every decision record (`policy_version`).
    pub version: String,
}

/// `sha256:` and the first 12 hex digits of the SHA-256 of `text`: a policy file's identity.
pub fn content_version(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Reads and validates the policy named by `source` (a path, or `ssm:<name>[:<version>]`),
/// with its identity.
pub async fn load_policy(source: &str, clients: &Clients) -> Result<LoadedPolicy, ConfigError> {
    let unreadable = |message: String| ConfigError::Policy {
        source_name: source.to_string(),
        message,
    };
    let (text, version) = match PolicySource::parse(source)? {
        PolicySource::Ssm { name, version } => {
            let p = capstan_aws::fetch_parameter_at(clients, &name, version)
                .await
                .map_err(|e| unreadable(e.to_string()))?;
            (p.value, p.version.to_string())
        }
        PolicySource::File(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| unreadable(e.to_string()))?;
            let version = content_version(&text);
            (text, version)
        }
    };
    let policy = capstan_policy::load(&text).map_err(|e| {
        unreadable(
            e.diagnostics
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    Ok(LoadedPolicy { policy, version })
}

/// The policy version this process loaded last (a container loads one at init; tests and tools
/// may build several runners).
static LAST_POLICY_VERSION: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Notes `version` as the one this process runs; the one it ran before, if it was another.
fn note_policy_version(version: &str) -> Option<String> {
    let mut last = LAST_POLICY_VERSION
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match last.replace(version.to_string()) {
        Some(before) if before != version => Some(before),
        _ => None,
    }
}

/// What is wrong with a JSON document, as `serde_json` says it but without the values it quotes
/// (`unknown variant `https://hooks.slack.com/...``, `invalid type: string "..."`): an event's
/// or a job's values may be secrets (a Slack `response_url`), and this goes into the log and to
/// Lambda. Field names, what was expected and the position stay.
pub fn serde_problem(e: &serde_json::Error) -> String {
    let message = e.to_string();
    if message.starts_with("missing field") || message.starts_with("duplicate field") {
        return message;
    }
    let (head, rest) = match message.find(", expected") {
        Some(i) => message.split_at(i),
        None => match message.find(" at line ") {
            Some(i) => message.split_at(i),
            None => (message.as_str(), ""),
        },
    };
    match head.find(['`', '"', '\'']) {
        Some(i) => format!("{}(value withheld){rest}", &head[..i]),
        None => message.clone(),
    }
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
            let span = invocation_span(handler.runner());
            async move {
                let deadline = lambda_deadline(event.context.deadline)
                    .unwrap_or_else(|| handler.runner().now() + capstan_runner::DEFAULT_BUDGET);
                let answer = handler.handle_by(event.payload, deadline).await;
                if let Err(e) = &answer {
                    e.log();
                }
                answer
            }
            .instrument(span)
        },
    ))
    .await
    .map_err(|e| {
        let e = InvocationError::Internal(format!("the Lambda runtime loop failed: {e}"));
        e.log();
        e
    })
}

/// The span of one invocation: every line logged while handling it carries the
/// `policy_version` in force (`-` for a runner built without one).
pub fn invocation_span(runner: &Runner) -> Span {
    tracing::info_span!(
        "invocation",
        policy_version = runner.policy_version().unwrap_or("-")
    )
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

/// The targets of the Lambda runtime client, which at `TRACE` logs every raw event it receives
/// (`raw JSON event received from Lambda`, the whole payload: Slack's `token` and
/// `response_url` among it). [`log_filter`] never lets them log below [`RUNTIME_CEILING`].
pub const RUNTIME_TARGETS: [&str; 2] = ["lambda_runtime", "lambda_runtime_api_client"];

/// The most verbose level the Lambda runtime client logs at, whatever is asked: `DEBUG`.
pub const RUNTIME_CEILING: LevelFilter = LevelFilter::DEBUG;

/// What is logged, as `lambda_runtime`'s default subscriber decides it: `RUST_LOG`'s directives
/// (`info`, `capstan_runner=debug`, comma-separated; one that does not parse is ignored, as are
/// span and field directives, which need `EnvFilter`), or, when it has none, every target at
/// the level `AWS_LAMBDA_LOG_LEVEL` names (else `RUST_LOG` as a bare level; else, or when that
/// is no level, `INFO`). With one exception: the Lambda runtime client ([`RUNTIME_TARGETS`])
/// logs at [`RUNTIME_CEILING`] at most, since at `TRACE` it logs every raw event.
pub fn log_filter(lambda_level: Option<&str>, rust_log: Option<&str>) -> Targets {
    let level = lambda_level
        .or(rust_log)
        .unwrap_or("INFO")
        .parse::<LevelFilter>()
        .unwrap_or(LevelFilter::INFO);
    let mut default = None;
    let mut targets: Vec<(String, LevelFilter)> = Vec::new();
    let mut directives = 0;
    for directive in rust_log.unwrap_or("").split(',').filter(|d| !d.is_empty()) {
        let Ok(parsed) = directive.parse::<Targets>() else {
            continue;
        };
        directives += 1;
        if let Some(d) = parsed.default_level() {
            default = Some(d);
        }
        for (t, l) in parsed.iter() {
            targets.retain(|(seen, _)| seen != t);
            targets.push((t.to_string(), l));
        }
    }
    if directives == 0 {
        default = Some(level);
    }
    // A target matches every target its name begins with (`lambda` matches `lambda_runtime`),
    // the longest match winning: the runtime's own targets get the level that would have
    // applied to them, at most the ceiling, and any longer one (`lambda_runtime::layers`)
    // is capped too.
    let applies = |runtime: &str| {
        targets
            .iter()
            .filter(|(t, _)| runtime.starts_with(t.as_str()))
            .max_by_key(|(t, _)| t.len())
            .map(|(_, l)| *l)
            .or(default)
            .unwrap_or(LevelFilter::OFF)
    };
    let runtime: Vec<(String, LevelFilter)> = RUNTIME_TARGETS
        .iter()
        .map(|t| (t.to_string(), applies(t).min(RUNTIME_CEILING)))
        .collect();
    for (t, l) in &mut targets {
        if RUNTIME_TARGETS.iter().any(|r| t.starts_with(r)) {
            *l = (*l).min(RUNTIME_CEILING);
        }
    }
    for (t, l) in runtime {
        if !targets.iter().any(|(seen, _)| *seen == t) {
            targets.push((t, l));
        }
    }
    let filter = Targets::new().with_targets(targets);
    match default {
        Some(d) => filter.with_default(d),
        None => filter,
    }
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
    let LoadedPolicy {
        mut policy,
        version: policy_version,
    } = load_policy(&config.policy, &clients).await?;
    if let PolicySource::Ssm {
        name,
        version: None,
    } = PolicySource::parse(&config.policy)?
    {
        warn!(
            function,
            policy = %config.policy,
            policy_version = %policy_version,
            "the policy is read unpinned (the parameter's latest version, whoever wrote it): \
             pin it as CAPSTAN_POLICY=ssm:{name}:{policy_version}"
        );
    }
    if let Some(before) = note_policy_version(&policy_version) {
        info!(function, policy_version = %policy_version, previous = %before, "policy version changed");
    }
    if !config.scaling_resource_arns.is_empty() {
        warn_ungranted(function, &policy, &clients, &config.scaling_resource_arns);
    }
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
        policy_version = %policy_version,
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
    Ok(Runner::new(policy, pool, store, notifier, clock).with_policy_version(policy_version))
}

/// Warns, one line per target, about the targets of the functions' own account that the
/// stack's scaling grant (`ScalingResourceArns`) leaves out: IAM will deny their changes, each
/// then recorded and announced as a failure. Said at start, before the first alarm finds out.
fn warn_ungranted(function: &str, policy: &Policy, clients: &Clients, granted: &[String]) {
    let region = clients
        .ecs
        .config()
        .region()
        .map(|r| r.as_ref().to_string())
        .unwrap_or_default();
    for u in capstan_policy::grant::ungranted(&policy.targets, &region, granted) {
        match &u.arn {
            Some(arn) => warn!(
                function,
                target = %u.target,
                arn = %arn,
                "target {} is not in the stack's ScalingResourceArns: IAM will deny its changes \
                 (run `capstan iam-resources` on this policy and deploy with its output)",
                u.target
            ),
            None => warn!(
                function,
                target = %u.target,
                "target {} selects its resources by tag, which the stack's ScalingResourceArns \
                 cannot name: IAM will deny its changes (empty ScalingResourceArns to scope by tag only)",
                u.target
            ),
        }
    }
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
    Ok(match runner.policy_version() {
        Some(version) => json!({ "reports": reports, "policy_version": version }),
        None => json!({ "reports": reports }),
    })
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

    /// The settings with `var` = `value` besides the two required ones.
    fn config_with(var: &str, value: &str) -> Result<Config, ConfigError> {
        Config::from_env(env(&[
            ("CAPSTAN_POLICY", "p"),
            ("CAPSTAN_TABLE", "t"),
            (var, value),
        ]))
    }

    /// `value` of `var` is refused with an error naming the variable and quoting the value.
    fn assert_refused(var: &'static str, value: &str) -> ConfigError {
        let e = config_with(var, value).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Invalid { name, .. } if *name == var),
            "{value}: {e}"
        );
        assert!(
            e.to_string()
                .starts_with(&format!("environment variable {var} is {value:?}")),
            "{e}"
        );
        e
    }

    #[test]
    fn config_reads_the_accepted_sns_topics() {
        let with = |value: &str| config_with("CAPSTAN_SNS_TOPIC_ARNS", value);
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
            assert_refused("CAPSTAN_SNS_TOPIC_ARNS", bad);
        }
    }

    #[test]
    fn config_reads_the_scaling_resource_arns() {
        let with = |value: &str| config_with("CAPSTAN_SCALING_RESOURCE_ARNS", value);
        assert!(config_with("CAPSTAN_DRY_RUN", "false")
            .unwrap()
            .scaling_resource_arns
            .is_empty());
        // What the template's !Join of an empty ScalingResourceArns gives.
        assert!(with("").unwrap().scaling_resource_arns.is_empty());
        let c = with(
            "arn:aws:ecs:eu-west-1:111111111111:service/main/api, \
             arn:aws:autoscaling:eu-west-1:111111111111:autoScalingGroup:*:autoScalingGroupName/web,\
             arn:aws:ecs:eu-west-1:111111111111:service/main/api",
        )
        .unwrap();
        assert_eq!(
            c.scaling_resource_arns,
            [
                "arn:aws:ecs:eu-west-1:111111111111:service/main/api",
                "arn:aws:autoscaling:eu-west-1:111111111111:autoScalingGroup:*:autoScalingGroupName/web",
            ]
        );
        for bad in [
            "api-service",
            "arn:aws:ecs:eu-west-1:111111111111:service/main/api,",
            "arn:aws:ecs:eu-west-1:111111111111",
            "arn:aws:ecs::111111111111:service/main/api",
            "aws:ecs:eu-west-1:111111111111:service/main/api:x",
        ] {
            let e = assert_refused("CAPSTAN_SCALING_RESOURCE_ARNS", bad);
            assert!(e.to_string().contains("capstan iam-resources"), "{e}");
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
    fn the_lambda_runtime_never_logs_at_trace_whatever_is_asked() {
        use tracing::Level;
        let on = |f: &Targets, target: &str, level: Level| f.would_enable(target, &level);
        // Where the runtime logs the raw event, and its API client.
        let raw = "lambda_runtime::layers::api_response";
        for (lambda, rust_log) in [
            (Some("TRACE"), None),
            (Some("trace"), Some("")),
            (None, Some("trace")),
            (None, Some("lambda_runtime=trace")),
            (None, Some("lambda_runtime::layers=trace,info")),
            (None, Some("lambda_runtime::layers::api_response=trace")),
            (None, Some("lambda=trace")),
            (
                None,
                Some("lambda_runtime_api_client=trace,lambda_runtime=trace"),
            ),
            (Some("DEBUG"), Some("capstan_runner=trace,trace")),
        ] {
            let f = log_filter(lambda, rust_log);
            for target in [raw, "lambda_runtime", "lambda_runtime_api_client"] {
                assert!(
                    !on(&f, target, Level::TRACE),
                    "{lambda:?} {rust_log:?}: {target} at TRACE"
                );
            }
            assert!(
                on(&f, raw, Level::DEBUG),
                "{lambda:?} {rust_log:?}: capped, not off"
            );
        }
        // Everything else still logs as asked.
        let f = log_filter(Some("TRACE"), None);
        assert!(on(&f, "capstan_runner", Level::TRACE));
        assert!(on(&f, "lambda", Level::TRACE), "not a runtime target");
        let f = log_filter(None, Some("capstan_runner=trace,lambda=trace"));
        assert!(on(&f, "capstan_runner::intent", Level::TRACE));
        assert!(on(&f, "lambda_extension", Level::TRACE));
        // Less than the ceiling stays less; off stays off.
        let f = log_filter(Some("WARN"), None);
        assert!(!on(&f, raw, Level::INFO) && on(&f, raw, Level::WARN));
        let f = log_filter(None, Some("capstan_store=trace"));
        assert!(!on(&f, "lambda_runtime", Level::ERROR));
        let f = log_filter(None, Some("lambda_runtime=info,debug"));
        assert!(!on(&f, "lambda_runtime", Level::DEBUG) && on(&f, "lambda_runtime", Level::INFO));
        assert!(on(&f, "lambda_runtime_api_client", Level::INFO));
    }

    #[test]
    fn the_policy_source_reads_a_pinned_ssm_version() {
        let ssm = |name: &str, version| PolicySource::Ssm {
            name: name.to_string(),
            version,
        };
        for (value, want) in [
            ("ssm:/capstan/policy:7", ssm("/capstan/policy", Some(7))),
            ("ssm:/capstan/policy", ssm("/capstan/policy", None)),
            ("ssm:capstan-policy:12", ssm("capstan-policy", Some(12))),
            (
                "ssm:arn:aws:ssm:us-east-1:123456789012:parameter/capstan/policy",
                ssm(
                    "arn:aws:ssm:us-east-1:123456789012:parameter/capstan/policy",
                    None,
                ),
            ),
            (
                "ssm:arn:aws:ssm:us-east-1:123456789012:parameter/capstan/policy:3",
                ssm(
                    "arn:aws:ssm:us-east-1:123456789012:parameter/capstan/policy",
                    Some(3),
                ),
            ),
            (
                "/opt/capstan.toml",
                PolicySource::File("/opt/capstan.toml".into()),
            ),
        ] {
            assert_eq!(PolicySource::parse(value), Ok(want), "{value}");
        }
        for bad in [
            "ssm:/capstan/policy:",
            "ssm:/capstan/policy:0",
            "ssm:/capstan/policy:-1",
            "ssm:/capstan/policy:+7",
            "ssm:/capstan/policy:seven",
            "ssm:/capstan/policy:prod",
            "ssm:/capstan/policy:99999999999999999999",
            "ssm:/capstan/policy:7:8",
            "ssm:",
            "ssm::7",
        ] {
            let e = PolicySource::parse(bad).unwrap_err();
            assert!(
                matches!(
                    e,
                    ConfigError::Invalid {
                        name: "CAPSTAN_POLICY",
                        ..
                    }
                ),
                "{bad}: {e}"
            );
            assert!(
                e.to_string()
                    .starts_with(&format!("environment variable CAPSTAN_POLICY is {bad:?}")),
                "{e}"
            );
            // Refused at start, with the other settings.
            let e = Config::from_env(env(&[("CAPSTAN_POLICY", bad), ("CAPSTAN_TABLE", "t")]))
                .unwrap_err();
            assert!(e.to_string().contains("CAPSTAN_POLICY"), "{e}");
        }
    }

    #[test]
    fn a_policy_file_is_known_by_its_content_hash() {
        let v = content_version("[settings]\n");
        assert!(
            v.starts_with("sha256:") && v.len() == "sha256:".len() + 12,
            "{v}"
        );
        assert!(v["sha256:".len()..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(v, content_version("[settings]\n"));
        assert_ne!(v, content_version("[settings]\ndry_run = true\n"));
        // SHA-256 of the empty string: e3b0c44298fc1c14...
        assert_eq!(content_version(""), "sha256:e3b0c44298fc");
    }

    #[test]
    fn a_container_that_loads_another_version_says_which_it_ran_before() {
        // The process-wide note (other tests may run runners too: only this sequence is ours).
        let _ = note_policy_version("test-a");
        assert_eq!(note_policy_version("test-a"), None);
        assert_eq!(note_policy_version("test-b").as_deref(), Some("test-a"));
    }

    #[test]
    fn serde_problems_keep_what_was_expected_but_not_the_values() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(tag = "job", rename_all = "kebab-case")]
        #[allow(dead_code)]
        enum Job {
            Command { n: u32 },
        }
        let secret = "https://hooks.slack.com/commands/T1/2/s3cr3t";
        let problem = |text: &str| serde_problem(&serde_json::from_str::<Job>(text).unwrap_err());
        let p = problem(&json!({ "job": secret }).to_string());
        assert!(!p.contains("s3cr3t") && !p.contains("hooks"), "{p}");
        assert!(
            p.starts_with("unknown variant (value withheld), expected"),
            "{p}"
        );
        assert!(p.contains("`command`") && p.contains("at line 1"), "{p}");
        let p = problem(&json!({ "job": "command", "n": secret }).to_string());
        assert!(!p.contains("s3cr3t"), "{p}");
        assert!(
            p.starts_with("invalid type: string (value withheld), expected u32"),
            "{p}"
        );
        let p = problem(&json!({ "job": "command" }).to_string());
        assert!(p.starts_with("missing field `n`"), "{p}");
        let p = problem("{\"job\": \"s3cr3t");
        assert!(!p.contains("s3cr3t"), "{p}");
        let e =
            serde_json::from_value::<Job>(json!({ "job": "command", "n": secret })).unwrap_err();
        assert!(
            !serde_problem(&e).contains("s3cr3t"),
            "{}",
            serde_problem(&e)
        );
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
