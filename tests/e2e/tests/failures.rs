//! Exactly once, whatever fails, end to end against moto: AWS calls whose answers are lost,
//! throttled, or that hang while Lambda kills the function at its deadline, each followed by
//! Lambda's retries. Every scenario asserts the capacity moto ends with, that no intent is left
//! on the record, that the receipt is done, and what people were told (read back from the
//! queue subscribed to the topic).
//!
//! Faults are injected at the HTTP level by one [`Fault`], configured per operation name
//! (`UpdateService`, `TransactWriteItems`, `Publish`...) and per attempt: an SDK interceptor
//! that knows the operation decides, per attempt, what happens to the request, and an HTTP
//! connector around the real one does it (an interceptor's hooks cannot wait, and a request
//! that never leaves must never reach moto). Everything else is moto.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use alarm_handler::Handler;
use aws_config::retry::RetryConfig;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse, Metadata};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use capstan_aws::Clients;
use capstan_function::{Config, Function};
use capstan_store::{ReceiptState, TargetRecord};
use chrono::Duration;
use serde_json::Value;
use support::*;

// ---------------------------------------------------------------------------------------------
// The fault injector.
// ---------------------------------------------------------------------------------------------

/// What a fault does to one HTTP attempt of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The request never leaves: it is answered at once with `status` and error `code`.
    FailBefore { status: u16, code: &'static str },
    /// The request reaches moto (which applies it), then its answer is replaced by `status`
    /// and error `code`: a lost answer.
    LoseAnswer { status: u16, code: &'static str },
    /// The request is held before it is sent, longer than any test waits.
    HangBefore,
    /// The request reaches moto (which applies it), then its answer is held.
    HangAfter,
}

/// Throttling: the SDK retries it (with back-off), the runner reads it as transient.
const THROTTLED: Mode = Mode::FailBefore {
    status: 400,
    code: "ThrottlingException",
};
/// A server error after the request was applied.
const LOST: Mode = Mode::LoseAnswer {
    status: 500,
    code: "InternalFailure",
};

/// Which attempts of the operation a rule hits.
#[derive(Debug, Clone, Copy)]
enum When {
    /// Every attempt.
    Always,
    /// The first `n` attempts (counted over the operation's whole life in this fault).
    First(usize),
    /// Only attempt `n` (0 is the first).
    Nth(usize),
    /// The attempts whose pseudo-random draw (0..100, from the seed, the operation and its
    /// attempt number: the same every run) falls in `lo..hi`.
    Draw { seed: u64, lo: u64, hi: u64 },
}

#[derive(Debug, Clone)]
struct Rule {
    ops: Vec<&'static str>,
    when: When,
    mode: Mode,
}

/// One HTTP attempt as the fault saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    op: String,
    mode: Option<Mode>,
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<Rule>,
    /// Attempts so far, per operation.
    attempts: BTreeMap<String, usize>,
    /// Decisions for requests in flight, by the id in [`FAULT_HEADER`].
    decided: HashMap<u64, Mode>,
    log: Vec<Seen>,
}

/// Faults for every client of one runner: rules by operation name and attempt, and a log of
/// every attempt. Cheap to clone (shared state).
#[derive(Debug, Clone, Default)]
struct Fault {
    state: Arc<Mutex<State>>,
    ids: Arc<AtomicU64>,
}

/// Carries the interceptor's decision to the connector; never reaches moto.
const FAULT_HEADER: &str = "x-capstan-test-fault";
/// Longer than any test waits for a handler.
const HANG: StdDuration = StdDuration::from_secs(120);

impl Fault {
    /// No faults: only counts.
    fn none() -> Fault {
        Fault::default()
    }

    /// Adds a rule: `mode` on `ops` `when`. The first rule that hits an attempt decides it.
    fn on(self, ops: &[&'static str], when: When, mode: Mode) -> Fault {
        self.state.lock().unwrap().rules.push(Rule {
            ops: ops.to_vec(),
            when,
            mode,
        });
        self
    }

    /// Decides one attempt of `op`.
    fn decide(&self, op: &str) -> Option<Mode> {
        let mut s = self.state.lock().unwrap();
        let n = {
            let c = s.attempts.entry(op.to_string()).or_default();
            *c += 1;
            *c - 1
        };
        let mode = s
            .rules
            .iter()
            .find(|r| {
                r.ops.contains(&op)
                    && match r.when {
                        When::Always => true,
                        When::First(k) => n < k,
                        When::Nth(k) => n == k,
                        When::Draw { seed, lo, hi } => (lo..hi).contains(&draw(seed, op, n)),
                    }
            })
            .map(|r| r.mode);
        s.log.push(Seen {
            op: op.to_string(),
            mode,
        });
        mode
    }

    /// Every attempt of `op` so far.
    fn attempts(&self, op: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|s| s.op == op)
            .count()
    }

    /// The attempts of `op` that reached moto (all but those failed or held before sending).
    fn reached(&self, op: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|s| s.op == op)
            .filter(|s| !matches!(s.mode, Some(Mode::FailBefore { .. } | Mode::HangBefore)))
            .count()
    }

    /// How many attempts the fault hit, per mode (for the log of a test).
    fn summary(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for s in &self.state.lock().unwrap().log {
            let what = match s.mode {
                None => "ok".to_string(),
                Some(Mode::FailBefore { code, .. }) => format!("failed before ({code})"),
                Some(Mode::LoseAnswer { .. }) => "answer lost".to_string(),
                Some(Mode::HangBefore) => "held before".to_string(),
                Some(Mode::HangAfter) => "held after".to_string(),
            };
            *out.entry(format!("{} {what}", s.op)).or_default() += 1;
        }
        out
    }

    fn take(&self, id: &str) -> Option<Mode> {
        let id: u64 = id.parse().ok()?;
        self.state.lock().unwrap().decided.remove(&id)
    }
}

/// A pseudo-random number in 0..100 from the seed, the operation and its attempt number
/// (SplitMix64 over an FNV-1a hash of the name: the same on every run and platform).
fn draw(seed: u64, op: &str, n: usize) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in op.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = seed
        .wrapping_add(h)
        .wrapping_add((n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) % 100
}

impl Intercept for Fault {
    fn name(&self) -> &'static str {
        "Fault"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg.load::<Metadata>().map(|m| m.name()).unwrap_or("?");
        if let Some(mode) = self.decide(op) {
            let id = self.ids.fetch_add(1, Ordering::SeqCst);
            self.state.lock().unwrap().decided.insert(id, mode);
            context
                .request_mut()
                .headers_mut()
                .insert(FAULT_HEADER, id.to_string());
        }
        Ok(())
    }
}

/// The real HTTP client, with the fault's decisions carried out.
#[derive(Debug, Clone)]
struct FaultClient {
    inner: SharedHttpClient,
    fault: Fault,
}

impl HttpClient for FaultClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultConnector {
            inner: self.inner.http_connector(settings, components),
            fault: self.fault.clone(),
        })
    }
}

#[derive(Debug)]
struct FaultConnector {
    inner: SharedHttpConnector,
    fault: Fault,
}

impl HttpConnector for FaultConnector {
    fn call(&self, mut request: HttpRequest) -> HttpConnectorFuture {
        let mode = request
            .headers_mut()
            .remove(FAULT_HEADER)
            .and_then(|id| self.fault.take(&id));
        let json = request
            .headers()
            .get("content-type")
            .is_some_and(|c| c.contains("json"));
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move {
            match mode {
                None => inner.call(request).await,
                Some(Mode::FailBefore { status, code }) => Ok(error_response(status, code, json)),
                Some(Mode::LoseAnswer { status, code }) => {
                    // Wait for moto's answer (it has applied the request by then), then lose it.
                    let _applied = inner.call(request).await?;
                    Ok(error_response(status, code, json))
                }
                Some(Mode::HangBefore) => {
                    tokio::time::sleep(HANG).await;
                    Ok(error_response(504, "RequestTimeout", json))
                }
                Some(Mode::HangAfter) => {
                    let _applied = inner.call(request).await?;
                    tokio::time::sleep(HANG).await;
                    Ok(error_response(504, "RequestTimeout", json))
                }
            }
        })
    }
}

/// An AWS error answer in the request's protocol: JSON (DynamoDB, ECS, Application Auto
/// Scaling) or query/XML (SNS, EC2 Auto Scaling).
fn error_response(status: u16, code: &str, json: bool) -> HttpResponse {
    let (body, content_type) = if json {
        (
            format!(r#"{{"__type":"{code}","message":"injected by the test"}}"#),
            "application/x-amz-json-1.1",
        )
    } else {
        (
            format!(
                "<ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code>\
                 <Message>injected by the test</Message></Error>\
                 <RequestId>capstan-test</RequestId></ErrorResponse>"
            ),
            "text/xml",
        )
    };
    let mut response =
        HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body));
    response.headers_mut().insert("content-type", content_type);
    if json {
        response
            .headers_mut()
            .insert("x-amzn-errortype", code.to_string());
    }
    response
}

/// A partition of the SDK's retry quota per fault: tests that fail many calls side by side
/// must not exhaust each other's retries.
fn retry_partition() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("capstan-e2e-fault-{}", N.fetch_add(1, Ordering::SeqCst))
}

/// The alarm handler over moto, every AWS client (the state table's included) through `fault`.
/// The SDK retries as in production (4 attempts, standard mode), with short back-off.
async fn handler_with(w: &World, fault: &Fault) -> Handler {
    let http = FaultClient {
        inner: aws_smithy_http_client::Builder::new().build_http(),
        fault: fault.clone(),
    };
    let retry = RetryConfig::standard()
        .with_max_attempts(capstan_aws::Timeouts::default().max_attempts)
        .with_initial_backoff(StdDuration::from_millis(20))
        .with_max_backoff(StdDuration::from_millis(200));
    let sdk = w
        .sdk
        .to_builder()
        .http_client(http)
        .retry_config(retry)
        .build();
    let partition = retry_partition();
    let clients = Clients {
        ecs: aws_sdk_ecs::Client::from_conf(
            aws_sdk_ecs::config::Builder::from(&sdk)
                .interceptor(fault.clone())
                .retry_partition(aws_sdk_ecs::config::retry::RetryPartition::new(
                    partition.clone(),
                ))
                .build(),
        ),
        autoscaling: aws_sdk_autoscaling::Client::from_conf(
            aws_sdk_autoscaling::config::Builder::from(&sdk)
                .interceptor(fault.clone())
                .retry_partition(aws_sdk_autoscaling::config::retry::RetryPartition::new(
                    partition.clone(),
                ))
                .build(),
        ),
        aas: aws_sdk_applicationautoscaling::Client::from_conf(
            aws_sdk_applicationautoscaling::config::Builder::from(&sdk)
                .interceptor(fault.clone())
                .retry_partition(
                    aws_sdk_applicationautoscaling::config::retry::RetryPartition::new(
                        partition.clone(),
                    ),
                )
                .build(),
        ),
        sns: aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(&sdk)
                .interceptor(fault.clone())
                .retry_partition(aws_sdk_sns::config::retry::RetryPartition::new(
                    partition.clone(),
                ))
                .build(),
        ),
        ..Clients::new(&sdk)
    };
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(fault.clone())
            .retry_partition(aws_sdk_dynamodb::config::retry::RetryPartition::new(
                partition,
            ))
            .build(),
    );
    let config = Config {
        policy: example_policy(),
        table: TABLE.to_string(),
        topic_arn: Some(w.topic_arn.clone()),
        dry_run: false,
        sns_topics: Vec::new(),
        scaling_resource_arns: Vec::new(),
    };
    Handler::new(
        capstan_function::runner_with_clients(
            "alarm-handler",
            &config,
            clients,
            dynamodb,
            Arc::new(w.clock.clone()),
        )
        .await
        .unwrap(),
    )
}

// ---------------------------------------------------------------------------------------------
// What the tests look at.
// ---------------------------------------------------------------------------------------------

/// Lambda's retry of an asynchronous invocation comes a minute or more later.
fn lambda_retry_delay() -> Duration {
    Duration::seconds(61)
}

/// Runs the handler as Lambda does with a short timeout: a deadline 5 s ahead of the runner's
/// clock (more than the runner's start reserve of 3 s) and the function killed after 4 s of
/// real time. `None` when it was killed.
async fn run_killed(h: &Handler, w: &World, event: Value) -> Option<Result<Value, String>> {
    let deadline = w.now() + Duration::seconds(5);
    tokio::time::timeout(StdDuration::from_secs(4), h.handle_by(event, deadline))
        .await
        .ok()
        .map(|r| r.map_err(|e| e.to_string()))
}

async fn record(w: &World, target: &str) -> TargetRecord {
    w.store
        .load_targets(&[target.to_string()])
        .await
        .unwrap()
        .remove(target)
        .unwrap_or_else(|| panic!("{target} has a record"))
}

/// The target's record holds no intent, and the signal's receipt for it is done.
async fn settled(w: &World, key: &str, target: &str) -> TargetRecord {
    let rec = record(w, target).await;
    assert!(rec.pending.is_none(), "{target}: {:?}", rec.pending);
    let receipt = w
        .store
        .receipt(key, target)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("a receipt of {key} for {target}"));
    assert_eq!(receipt.state, ReceiptState::Done, "{receipt:?}");
    assert!(receipt.notices.is_empty(), "{receipt:?}");
    rec
}

/// The key of the intent left on a target's record (the signal's idempotency key).
async fn pending_key(w: &World, target: &str) -> String {
    let rec = record(w, target).await;
    let p = rec
        .pending
        .unwrap_or_else(|| panic!("{target} holds an intent"));
    p.key
}

fn outcome(resp: &Value) -> &str {
    resp["reports"][0]["results"][0]["outcome"]
        .as_str()
        .unwrap_or_default()
}

fn key_of(resp: &Value) -> String {
    resp["reports"][0]["key"].as_str().unwrap().to_string()
}

/// The notifications, each publication once: copies of one notification (the same `dedup`,
/// published again by a retry that could not know the first was delivered) must be identical.
fn unique(notes: &[Value]) -> Vec<Value> {
    let mut by_dedup: BTreeMap<String, Value> = BTreeMap::new();
    for n in notes {
        let dedup = n["_attributes"]["dedup"]
            .as_str()
            .unwrap_or_else(|| panic!("a dedup attribute: {n}"))
            .to_string();
        if let Some(first) = by_dedup.get(&dedup) {
            assert_eq!(first["_attributes"], n["_attributes"], "{dedup}");
            assert_eq!(first["body"]["result"], n["body"]["result"], "{dedup}");
        } else {
            by_dedup.insert(dedup, n.clone());
        }
    }
    by_dedup.into_values().collect()
}

/// The one notification read, which says `outcome` about `target`.
fn one(notes: &[Value], target: &str, outcome: &str) -> Value {
    assert_eq!(notes.len(), 1, "{notes:#?}");
    let n = &notes[0];
    assert_eq!(n["_attributes"]["target"], target, "{n}");
    assert_eq!(n["_attributes"]["outcome"], outcome, "{n}");
    n.clone()
}

fn alarm() -> Value {
    fixture("alarm-eventbridge-state-change.json")
}

// ---------------------------------------------------------------------------------------------
// The scenarios.
// ---------------------------------------------------------------------------------------------

/// The issue's first case: AWS applies `UpdateService` but every answer (all four SDK
/// attempts) is lost. The runner looks at live capacity before giving up, sees its plan, and is
/// done: api 3 -> 5, never 7, told once; Lambda's retry of the delivery is a duplicate.
#[tokio::test]
async fn update_service_applied_with_every_answer_lost_acts_once() {
    let w = World::new().await;
    let fault = Fault::none().on(&["UpdateService"], When::Always, LOST);
    let faulty = handler_with(&w, &fault).await;

    let resp = faulty.handle(alarm()).await.unwrap();
    assert_eq!(outcome(&resp), "changed", "{resp}");
    assert_eq!(fault.reached("UpdateService"), 4, "{:?}", fault.summary());
    assert_eq!(w.desired("api-service").await, 5);
    let key = key_of(&resp);
    let rec = settled(&w, &key, "api").await;
    assert_eq!(rec.state.history.len(), 1, "{:?}", rec.state.history);
    let n = one(&w.notifications().await, "api", "changed");
    assert!(
        n["_subject"].as_str().unwrap().contains("api 3 -> 5"),
        "{n}"
    );

    // Lambda's retry (or any redelivery), a minute later: the stored result, nothing more.
    w.advance(lambda_retry_delay());
    let resp = faulty.handle(alarm()).await.unwrap();
    assert_eq!(outcome(&resp), "duplicate", "{resp}");
    assert_eq!(resp["reports"][0]["results"][0]["first"], "changed");
    assert_eq!(fault.reached("UpdateService"), 4);
    assert_eq!(w.desired("api-service").await, 5);
    assert!(w.notifications().await.is_empty());
}

/// Killed at its deadline while `UpdateService` has not reached AWS: the intent stays on the
/// record, a redelivery within the owner's deadline waits and fails as in progress (never a
/// duplicate), and Lambda's retry after the deadline makes the call and tells once.
#[tokio::test]
async fn killed_before_the_call_the_retry_makes_it_and_tells_once() {
    let w = World::new().await;
    let fault = Fault::none().on(&["UpdateService"], When::Always, Mode::HangBefore);
    let faulty = handler_with(&w, &fault).await;

    assert!(run_killed(&faulty, &w, alarm()).await.is_none(), "killed");
    assert_eq!(fault.attempts("UpdateService"), 1);
    assert_eq!(fault.reached("UpdateService"), 0);
    assert_eq!(w.desired("api-service").await, 3);
    let key = pending_key(&w, "api").await;
    let receipt = w.store.receipt(&key, "api").await.unwrap().unwrap();
    assert!(
        matches!(receipt.state, ReceiptState::InProgress { .. }),
        "{receipt:?}"
    );
    assert!(w.notifications().await.is_empty(), "nothing told yet");

    // A redelivery while the owner may still be at work (its deadline plus the margin).
    let healthy = Fault::none();
    let retry = handler_with(&w, &healthy).await;
    let err = retry.handle(alarm()).await.unwrap_err().to_string();
    assert!(err.contains("in progress"), "{err}");
    assert_eq!(healthy.attempts("UpdateService"), 0);
    assert_eq!(w.desired("api-service").await, 3);

    // Lambda's retry after the deadline completes the intent.
    w.advance(lambda_retry_delay());
    let resp = retry.handle(alarm()).await.unwrap();
    assert_eq!(outcome(&resp), "changed", "{resp}");
    assert_eq!(key_of(&resp), key);
    assert_eq!(healthy.reached("UpdateService"), 1);
    assert_eq!(w.desired("api-service").await, 5);
    let rec = settled(&w, &key, "api").await;
    assert_eq!(rec.state.history.len(), 1, "{:?}", rec.state.history);
    let n = one(&w.notifications().await, "api", "changed");
    assert!(
        n["_subject"].as_str().unwrap().contains("api 3 -> 5"),
        "{n}"
    );

    let resp = retry.handle(alarm()).await.unwrap();
    assert_eq!(outcome(&resp), "duplicate", "{resp}");
    assert_eq!(healthy.reached("UpdateService"), 1);
    assert_eq!(w.desired("api-service").await, 5);
    assert!(w.notifications().await.is_empty());
}

/// Killed after AWS applied `UpdateService` (its answer held past the deadline): the retry
/// finds AWS already showing the intent, makes no call, and tells once. api stays 5.
#[tokio::test]
async fn killed_after_aws_applied_it_the_retry_tells_once_and_calls_nothing() {
    let w = World::new().await;
    let fault = Fault::none().on(&["UpdateService"], When::Always, Mode::HangAfter);
    let faulty = handler_with(&w, &fault).await;

    assert!(run_killed(&faulty, &w, alarm()).await.is_none(), "killed");
    assert_eq!(fault.reached("UpdateService"), 1);
    assert_eq!(w.desired("api-service").await, 5, "AWS applied it");
    let key = pending_key(&w, "api").await;
    assert!(w.notifications().await.is_empty(), "nothing told yet");

    w.advance(lambda_retry_delay());
    let healthy = Fault::none();
    let retry = handler_with(&w, &healthy).await;
    let resp = retry.handle(alarm()).await.unwrap();
    assert_eq!(outcome(&resp), "changed", "{resp}");
    assert_eq!(healthy.attempts("UpdateService"), 0, "no second call");
    assert_eq!(w.desired("api-service").await, 5);
    let rec = settled(&w, &key, "api").await;
    assert_eq!(rec.state.history.len(), 1, "{:?}", rec.state.history);
    let n = one(&w.notifications().await, "api", "changed");
    assert!(
        n["_subject"].as_str().unwrap().contains("api 3 -> 5"),
        "{n}"
    );

    w.advance(lambda_retry_delay());
    let resp = retry.handle(alarm()).await.unwrap();
    assert_eq!(outcome(&resp), "duplicate", "{resp}");
    assert_eq!(healthy.attempts("UpdateService"), 0);
    assert_eq!(w.desired("api-service").await, 5);
    assert!(w.notifications().await.is_empty());
}

/// The commit of the receipt and the intent lands, but its answer is lost once: the SDK's
/// retry fails the receipt's condition (moto ignores `ClientRequestToken`), and the runner
/// recognises the receipt as this attempt's own instead of calling it a duplicate: it acts,
/// once, and tells once.
#[tokio::test]
async fn a_commit_whose_answer_is_lost_is_recognised_as_its_own() {
    let w = World::new().await;
    let fault = Fault::none().on(&["TransactWriteItems"], When::First(1), LOST);
    let faulty = handler_with(&w, &fault).await;

    let resp = faulty.handle(alarm()).await.unwrap();
    assert_eq!(outcome(&resp), "changed", "{resp}");
    assert!(
        fault.reached("TransactWriteItems") >= 3,
        "the lost commit, its SDK retry, the finish: {:?}",
        fault.summary()
    );
    assert_eq!(fault.reached("UpdateService"), 1);
    assert_eq!(w.desired("api-service").await, 5);
    let rec = settled(&w, &key_of(&resp), "api").await;
    assert_eq!(rec.state.history.len(), 1, "{:?}", rec.state.history);
    one(&w.notifications().await, "api", "changed");

    w.advance(lambda_retry_delay());
    let resp = faulty.handle(alarm()).await.unwrap();
    assert_eq!(outcome(&resp), "duplicate", "{resp}");
    assert_eq!(fault.reached("UpdateService"), 1);
    assert_eq!(w.desired("api-service").await, 5);
    assert!(w.notifications().await.is_empty());
}

/// Killed at each point of one remediation, with the effect applied or not: the commit of
/// the receipt and the intent (`TransactWriteItems` #0), the call, the publication, and the
/// finishing write (`TransactWriteItems` #1). Lambda's retry after the deadline completes what
/// was left: api 3 -> 5 once, the intent cleared, the receipt done, one change announced (a
/// publication that may have reached SNS before the kill may be published again, with the same
/// `dedup`), and the call made again only if AWS did not show it. `retry` is what the retry
/// answers: `changed`, or `duplicate` when the killed attempt had finished everything but
/// hearing back (the stored result).
async fn killed_at(op: &'static str, nth: usize, mode: Mode, retry: &str) {
    let w = World::new().await;
    let fault = Fault::none().on(&[op], When::Nth(nth), mode);
    let faulty = handler_with(&w, &fault).await;
    assert!(run_killed(&faulty, &w, alarm()).await.is_none(), "killed");
    let applied = fault.reached("UpdateService") == 1;
    assert_eq!(w.desired("api-service").await, if applied { 5 } else { 3 });
    let published = fault.reached("Publish");

    w.advance(lambda_retry_delay());
    let healthy = Fault::none();
    let again = handler_with(&w, &healthy).await;
    let resp = again.handle(alarm()).await.unwrap();
    assert_eq!(outcome(&resp), retry, "{resp}");
    if retry == "duplicate" {
        assert_eq!(resp["reports"][0]["results"][0]["first"], "changed");
    }
    assert_eq!(
        healthy.reached("UpdateService"),
        usize::from(!applied),
        "called again only if AWS did not show it"
    );
    assert_eq!(w.desired("api-service").await, 5);
    let rec = settled(&w, &key_of(&resp), "api").await;
    assert_eq!(rec.state.history.len(), 1, "{:?}", rec.state.history);
    let notes = w.notifications().await;
    assert!(notes.len() <= 1 + published, "{notes:#?}");
    let n = one(&unique(&notes), "api", "changed");
    assert!(
        n["_subject"].as_str().unwrap().contains("api 3 -> 5"),
        "{n}"
    );

    w.advance(lambda_retry_delay());
    let resp = again.handle(alarm()).await.unwrap();
    assert_eq!(outcome(&resp), "duplicate", "{resp}");
    assert_eq!(w.desired("api-service").await, 5);
    assert!(w.notifications().await.is_empty());
}

#[tokio::test]
async fn killed_while_committing_before_it_lands() {
    killed_at("TransactWriteItems", 0, Mode::HangBefore, "changed").await;
}

#[tokio::test]
async fn killed_while_committing_after_it_landed() {
    killed_at("TransactWriteItems", 0, Mode::HangAfter, "changed").await;
}

#[tokio::test]
async fn killed_while_publishing_before_it_reaches_sns() {
    killed_at("Publish", 0, Mode::HangBefore, "changed").await;
}

#[tokio::test]
async fn killed_while_publishing_after_sns_took_it() {
    killed_at("Publish", 0, Mode::HangAfter, "changed").await;
}

#[tokio::test]
async fn killed_while_finishing_before_it_lands() {
    killed_at("TransactWriteItems", 1, Mode::HangBefore, "changed").await;
}

#[tokio::test]
async fn killed_while_finishing_after_it_landed() {
    killed_at("TransactWriteItems", 1, Mode::HangAfter, "duplicate").await;
}

/// The issue's storm: 30% of writes (commits, the three capacity calls, publications) lose
/// their answer and 20% are throttled before reaching AWS, drawn from a fixed seed; three
/// alarms on three targets, each delivered twice, each delivery retried by "Lambda" until it
/// succeeds. Every action is applied once (the fault-free run's capacities), no intent is
/// left, and each change is announced (a lost publication answer may publish a copy: the same
/// `dedup`).
#[tokio::test]
async fn lost_answers_and_throttling_over_three_alarms_act_once_each() {
    storm(0x5eed_0001).await;
}

/// The same storm from another seed: other calls fail.
#[tokio::test]
async fn lost_answers_and_throttling_from_another_seed_act_once_each() {
    storm(3).await;
}

/// The storm from any seed: `CAPSTAN_FAULT_SEED=123 cargo test -p capstan-e2e --test failures
/// -- --ignored storm_from_the_environment`, to explore.
#[tokio::test]
#[ignore = "explores a seed given in CAPSTAN_FAULT_SEED"]
async fn storm_from_the_environment() {
    let seed = std::env::var("CAPSTAN_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    storm(seed).await;
}

async fn storm(seed: u64) {
    const WRITES: &[&str] = &[
        "TransactWriteItems",
        "UpdateService",
        "SetDesiredCapacity",
        "RegisterScalableTarget",
        "Publish",
    ];
    let w = World::new().await;
    let fault = Fault::none()
        .on(
            WRITES,
            When::Draw {
                seed,
                lo: 0,
                hi: 20,
            },
            THROTTLED,
        )
        .on(
            WRITES,
            When::Draw {
                seed,
                lo: 20,
                hi: 50,
            },
            LOST,
        );
    let faulty = handler_with(&w, &fault).await;
    let at = w.now() - Duration::seconds(1);
    // From capstan.example.toml, with api 3, web 2 and ai 2 (scalable target 2..30) to start:
    // api-cpu-critical adds 2 to api (UpdateService 5); web-cpu-critical adds 2 to the group
    // (SetDesiredCapacity 4); ai-queue-deep at 50 items takes the 20..100 step, add 2, and ai
    // is managed by target tracking, so its floor rises (RegisterScalableTarget min 4 max 30).
    let alarms = [
        (
            "api",
            eventbridge("api-cpu-critical", "ALARM", at, Some(91.7)),
        ),
        (
            "web",
            eventbridge("web-cpu-critical", "ALARM", at, Some(93.0)),
        ),
        ("ai", eventbridge("ai-queue-deep", "ALARM", at, Some(50.0))),
    ];
    let mut first: BTreeMap<&str, Value> = BTreeMap::new();
    let mut failures = 0;
    for round in 0..2 {
        for (target, event) in &alarms {
            let mut tries = 0;
            let resp = loop {
                tries += 1;
                match faulty.handle(event.clone()).await {
                    Ok(resp) => break resp,
                    Err(e) => {
                        assert!(
                            tries < 8,
                            "{target}: still failing after {tries} tries: {e}"
                        );
                        failures += 1;
                        w.advance(lambda_retry_delay());
                    }
                }
            };
            let result = &resp["reports"][0]["results"][0];
            assert_eq!(result["target"], *target, "{resp}");
            if round == 0 {
                assert_eq!(result["outcome"], "changed", "{resp}");
                first.insert(target, resp.clone());
            } else {
                assert_eq!(result["outcome"], "duplicate", "{resp}");
                assert_eq!(result["first"], "changed", "{resp}");
            }
        }
    }
    eprintln!(
        "seed {seed:#x}: {failures} failed invocations; {:#?}",
        fault.summary()
    );
    assert!(
        fault.summary().keys().any(|k| k.ends_with("answer lost")),
        "the seed loses answers"
    );

    assert_eq!(w.desired("api-service").await, 5);
    assert_eq!(w.group().await, (4, 2, 15));
    assert_eq!(w.scalable("ai-service").await, (4, 30));
    assert_eq!(w.desired("frontend-service").await, 2, "untouched");
    for (target, resp) in &first {
        let rec = settled(&w, &key_of(resp), target).await;
        assert_eq!(
            rec.state.history.len(),
            1,
            "{target}: {:?}",
            rec.state.history
        );
    }
    let notes = w.notifications().await;
    let told = unique(&notes);
    let changed: BTreeSet<&str> = told
        .iter()
        .filter(|n| n["_attributes"]["outcome"] == "changed")
        .map(|n| n["_attributes"]["target"].as_str().unwrap())
        .collect();
    assert_eq!(changed, BTreeSet::from(["ai", "api", "web"]), "{told:#?}");
    assert_eq!(told.len(), 3, "nothing else told: {told:#?}");
}

/// A transient failure of `UpdateService` (503 on every SDK attempt, never reaching AWS): the
/// runner looks at live capacity, does not see its plan, releases the intent for the retry and
/// fails the invocation. Nothing is told then (the change is neither done nor abandoned); the
/// retry, at once, completes it and tells once.
#[tokio::test]
async fn a_transient_failure_leaves_the_intent_released_and_the_retry_completes_it() {
    let w = World::new().await;
    let fault = Fault::none().on(
        &["UpdateService"],
        When::Always,
        Mode::FailBefore {
            status: 503,
            code: "ServerException",
        },
    );
    let faulty = handler_with(&w, &fault).await;

    let err = faulty.handle(alarm()).await.unwrap_err().to_string();
    assert!(err.contains("ServerException"), "{err}");
    assert!(err.contains("the retry completes it"), "{err}");
    assert_eq!(
        fault.attempts("UpdateService"),
        4,
        "the SDK retried the 503"
    );
    assert_eq!(fault.reached("UpdateService"), 0);
    assert_eq!(w.desired("api-service").await, 3);
    let rec = record(&w, "api").await;
    let p = rec.pending.as_ref().expect("the intent stays");
    assert_eq!(p.deadline, Some(w.now()), "released: due at once");
    assert_eq!(p.to.desired, 5);
    assert!(p.plan.is_some(), "{p:?}");
    assert!(
        rec.last_error
            .as_deref()
            .unwrap()
            .contains("a retry completes it"),
        "{:?}",
        rec.last_error
    );
    let receipt = w.store.receipt(&p.key, "api").await.unwrap().unwrap();
    assert_eq!(
        receipt.state,
        ReceiptState::InProgress { deadline: w.now() },
        "released"
    );
    let key = p.key.clone();
    assert!(w.notifications().await.is_empty(), "nothing told yet");

    // Lambda's retry, with AWS healthy again; released, the intent needs no waiting.
    let healthy = Fault::none();
    let retry = handler_with(&w, &healthy).await;
    let resp = retry.handle(alarm()).await.unwrap();
    assert_eq!(outcome(&resp), "changed", "{resp}");
    assert_eq!(healthy.reached("UpdateService"), 1);
    assert_eq!(w.desired("api-service").await, 5);
    let rec = settled(&w, &key, "api").await;
    assert_eq!(rec.state.history.len(), 1, "{:?}", rec.state.history);
    let n = one(&w.notifications().await, "api", "changed");
    assert!(
        n["_subject"].as_str().unwrap().contains("api 3 -> 5"),
        "{n}"
    );

    w.advance(lambda_retry_delay());
    let resp = retry.handle(alarm()).await.unwrap();
    assert_eq!(outcome(&resp), "duplicate", "{resp}");
    assert_eq!(w.desired("api-service").await, 5);
    assert_eq!(healthy.reached("UpdateService"), 1);
    assert!(w.notifications().await.is_empty());
}

/// AWS refusing for good (access denied, not retried by the SDK): the record is restored as it
/// was (no history entry holding cooldowns for a change that never happened, no intent), the
/// failure is announced once, and a redelivery does not try again.
#[tokio::test]
async fn access_denied_is_announced_once_and_not_retried() {
    let w = World::new().await;
    let fault = Fault::none().on(
        &["UpdateService"],
        When::Always,
        Mode::FailBefore {
            status: 400,
            code: "AccessDeniedException",
        },
    );
    let faulty = handler_with(&w, &fault).await;

    let resp = faulty.handle(alarm()).await.unwrap();
    let result = &resp["reports"][0]["results"][0];
    assert_eq!(result["outcome"], "failed", "{resp}");
    assert!(
        result["error"]
            .as_str()
            .unwrap()
            .contains("AccessDeniedException"),
        "{result}"
    );
    assert_eq!(
        fault.attempts("UpdateService"),
        1,
        "access denied is not retried"
    );
    assert_eq!(w.desired("api-service").await, 3);
    let rec = settled(&w, &key_of(&resp), "api").await;
    assert!(rec.state.history.is_empty(), "{:?}", rec.state.history);
    assert!(
        rec.last_error
            .as_deref()
            .unwrap()
            .contains("AccessDeniedException"),
        "{:?}",
        rec.last_error
    );
    let n = one(&w.notifications().await, "api", "failed");
    assert!(
        n["_text"]
            .as_str()
            .unwrap()
            .contains("AccessDeniedException"),
        "{n}"
    );

    // A redelivery does not try again (it would fail the same way).
    w.advance(lambda_retry_delay());
    let resp = faulty.handle(alarm()).await.unwrap();
    assert_eq!(outcome(&resp), "duplicate", "{resp}");
    assert_eq!(resp["reports"][0]["results"][0]["first"], "failed");
    assert_eq!(fault.attempts("UpdateService"), 1);
    assert!(w.notifications().await.is_empty());
}
