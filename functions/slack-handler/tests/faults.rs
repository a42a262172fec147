//! The Slack worker under faults at every call it makes to the table's Slack items and to
//! Slack: each call, in turn, fails before its effect or makes it and loses the answer; the
//! queue redelivers what failed. Whatever failed, the end is the fault-free run's: the change
//! made once, the buttons and the outcome each posted, nothing posted twice except a post
//! whose own answer was lost (Slack has no idempotency key: at least once).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use capstan_aws::{AwsError, ErrorKind, Live, Resource};
use capstan_function::Function;
use capstan_runner::memory::{ManualClock, Memory};
use capstan_runner::{Runner, SequentialIds};
use capstan_slack::{Message, ResponseUrl};
use capstan_store::slack::{Claim, ClaimError, PostSlot, PutRequestError, SlackRequest};
use capstan_store::{LogEntry, StoreError};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use slack_handler::memory::{MemoryParts, MemoryQueue, MemoryRequests, MemoryResponder};
use slack_handler::ports::{PostError, Requests, Responder};
use slack_handler::{Handler, Job, Parts};

const SECRET: &str = "faults-secret";
const POLICY: &str = r#"
[targets.api]
kind = "ecs"
cluster = "main"
service = "api-service"
floor = 2
ceiling = 20

[slack]
confirm_above = 4

[[slack.grants]]
users = ["U0AAA111"]
verbs = ["scale"]
"#;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// Fails before the effect.
    Before,
    /// Makes the effect, then fails as if the answer was lost.
    LostAnswer,
}

/// Counts every call to the table's Slack items and to Slack; fails the armed one.
struct Faulty {
    requests: MemoryRequests,
    responder: MemoryResponder,
    calls: AtomicUsize,
    armed: Mutex<Option<(usize, Fault)>>,
    /// Posts Slack received, including those whose answer was lost.
    received: Mutex<Vec<Message>>,
}

impl Faulty {
    fn new(armed: Option<(usize, Fault)>) -> Faulty {
        Faulty {
            requests: MemoryRequests::default(),
            responder: MemoryResponder::default(),
            calls: AtomicUsize::new(0),
            armed: Mutex::new(armed),
            received: Mutex::new(Vec::new()),
        }
    }

    /// The fault of this call, if it is the armed one.
    fn next(&self) -> Option<Fault> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let mut armed = self.armed.lock().unwrap();
        match *armed {
            Some((at, fault)) if at == n => {
                *armed = None;
                Some(fault)
            }
            _ => None,
        }
    }
}

fn lost() -> StoreError {
    StoreError::Aws(AwsError::new(
        "dynamodb:test",
        ErrorKind::Transient,
        None,
        "injected".to_string(),
    ))
}

/// Applies `fault` around `call`: before (no effect) or after (effect, answer lost).
macro_rules! faulted {
    ($self:ident, $call:expr, $err:expr) => {{
        match $self.next() {
            Some(Fault::Before) => Err($err),
            Some(Fault::LostAnswer) => {
                let _ = $call;
                Err($err)
            }
            None => $call,
        }
    }};
}

struct Table(Arc<Faulty>);
struct Slack(Arc<Faulty>);

#[async_trait]
impl Requests for Table {
    async fn put(&self, r: &SlackRequest) -> Result<(), PutRequestError> {
        let f = &self.0;
        faulted!(f, f.requests.put(r).await, PutRequestError::Store(lost()))
    }
    async fn get(&self, id: &str) -> Result<Option<SlackRequest>, StoreError> {
        let f = &self.0;
        faulted!(f, f.requests.get(id).await, lost())
    }
    async fn claim(
        &self,
        id: &str,
        by: &str,
        action: Claim,
        now: DateTime<Utc>,
    ) -> Result<SlackRequest, ClaimError> {
        let f = &self.0;
        faulted!(
            f,
            f.requests.claim(id, by, action, now).await,
            ClaimError::Store(lost())
        )
    }
    async fn post_slot(
        &self,
        url: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<PostSlot, StoreError> {
        let f = &self.0;
        faulted!(f, f.requests.post_slot(url, key, now).await, lost())
    }
    async fn mark_posted(&self, url: &str, key: &str) -> Result<(), StoreError> {
        let f = &self.0;
        faulted!(f, f.requests.mark_posted(url, key).await, lost())
    }
    async fn record(&self, e: &LogEntry, now: DateTime<Utc>) -> Result<(), StoreError> {
        let f = &self.0;
        faulted!(f, f.requests.record(e, now).await, lost())
    }
}

#[async_trait]
impl Responder for Slack {
    async fn post(&self, url: &ResponseUrl, m: &Message) -> Result<(), PostError> {
        let f = &self.0;
        let fault = f.next();
        if fault == Some(Fault::Before) {
            return Err(PostError::Transient("injected".into()));
        }
        f.received.lock().unwrap().push(m.clone());
        f.responder.post(url, m).await?;
        if fault == Some(Fault::LostAnswer) {
            return Err(PostError::Transient("answer lost".into()));
        }
        Ok(())
    }
}

fn api() -> Resource {
    Resource::ecs("main", "api-service")
}

struct Run {
    memory: Memory,
    faulty: Arc<Faulty>,
    handler: Handler,
    queue: Arc<MemoryQueue>,
}

fn run_with(armed: Option<(usize, Fault)>) -> Run {
    let memory = Memory::new();
    memory.add(api(), Live::steady(4));
    let clock = ManualClock::at(
        DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
    );
    let runner = Runner::with_ports(
        capstan_policy::load(POLICY).unwrap(),
        memory.ports(),
        Arc::new(clock),
    )
    .with_ids(Arc::new(SequentialIds::default()))
    .with_metrics(false);
    let faulty = Arc::new(Faulty::new(armed));
    let slack = MemoryParts::default();
    let queue = slack.queue.clone();
    let handler = Handler::with_parts(
        runner,
        Parts {
            // The responder and the table fail where the run arms them.
            responder: Arc::new(Slack(faulty.clone())),
            requests: Arc::new(Table(faulty.clone())),
            ..slack.parts(SECRET)
        },
    );
    Run {
        memory,
        faulty,
        handler,
        queue,
    }
}

impl Run {
    /// Carries out `job`, redelivering it while it fails (at most 4 times).
    async fn work(&self, job: &Job) {
        for _ in 0..5 {
            let payload = json!({"Records": [{"messageId": "m", "body": serde_json::to_string(job).unwrap()}]});
            let deadline = self.handler.runner().now() + Duration::seconds(30);
            let out: Value = self.handler.handle_by(payload, deadline).await.unwrap();
            if out["batchItemFailures"].as_array().unwrap().is_empty() {
                return;
            }
        }
        panic!("the job kept failing");
    }

    /// A big scale asked, its buttons posted, the requester's click: to the end.
    async fn flow(&self) {
        let at = self.handler.runner().now();
        let command = Job::Command {
            request_id: "req-faults".into(),
            asker: slack_handler::Asker {
                user: "U0AAA111".into(),
                channel: "C0AAA111".into(),
                team: "T0AAA111".into(),
            },
            text: "scale api 12".into(),
            response_url: "https://hooks.slack.com/commands/T/1/x".into(),
            at,
        };
        self.work(&command).await;
        let click = Job::Click {
            request_id: "req-faults".into(),
            clicker: slack_handler::Asker {
                user: "U0AAA111".into(),
                channel: "C0AAA111".into(),
                team: "T0AAA111".into(),
            },
            action: slack_handler::ClickAction::Confirm,
            response_url: "https://hooks.slack.com/actions/T/2/y".into(),
            at: at + Duration::seconds(5),
        };
        self.work(&click).await;
        assert!(self.queue.take().is_empty());
    }
}

#[tokio::test]
async fn every_call_of_the_worker_under_every_fault_ends_as_the_clean_run() {
    let clean = run_with(None);
    clean.flow().await;
    let calls = clean.faulty.calls.load(Ordering::SeqCst);
    assert_eq!(clean.memory.live(&api()).unwrap().desired, 12);
    let posted = clean.faulty.received.lock().unwrap().clone();
    assert_eq!(
        posted.len(),
        2,
        "the buttons, then the outcome replacing them"
    );
    assert!(calls >= 8, "calls counted: {calls}");
    eprintln!("{calls} calls at the Slack ports in the clean run");

    let mut cases = 0;
    for n in 1..=calls {
        for fault in [Fault::Before, Fault::LostAnswer] {
            let run = run_with(Some((n, fault)));
            run.flow().await;
            let case = format!("call {n} {fault:?}");
            assert_eq!(
                run.memory.live(&api()).unwrap().desired,
                12,
                "{case}: the change is made"
            );
            let received = run.faulty.received.lock().unwrap().clone();
            let buttons = received.iter().filter(|m| !m.blocks.is_empty()).count();
            let outcomes = received
                .iter()
                .filter(|m| m.blocks.is_empty() && m.text.contains("→"))
                .count();
            // A post whose own answer was lost is made again: at least once, at most twice.
            assert!((1..=2).contains(&buttons), "{case}: buttons {buttons}");
            assert!((1..=2).contains(&outcomes), "{case}: outcomes {outcomes}");
            if buttons + outcomes > 2 {
                assert_eq!(fault, Fault::LostAnswer, "{case}: {received:?}");
            }
            cases += 1;
        }
    }
    assert_eq!(cases, calls * 2);
}
