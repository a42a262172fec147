//! `/capstan` on Slack end to end against moto: the real `slack-handler` in process, over a
//! real SQS work queue and the state table in moto, with the example's services and group. A
//! request goes in as API Gateway (payload 2.0) delivers it, signed as Slack signs it; the
//! acknowledgement comes back; the worker is driven as the queue's event source mapping drives
//! it (ReceiveMessage, an SQS event, `batchItemFailures` kept, the rest deleted); the outcome
//! is posted to a fake Slack on 127.0.0.1, which records every post. Every test asserts what
//! moto holds (desired counts, bounds), what the table holds (records, requests, the log) and
//! what the fake Slack received.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration as StdDuration, Instant};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use base64::Engine as _;
use capstan_runner::view;
use capstan_slack::Verifier;
use capstan_store::slack::RequestState;
use capstan_store::LogEntry;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use slack_handler::{Handler, HttpResponder, Parts, SqsQueue, ACK_BUDGET, QUEUE_RESERVE};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Slack's documented example signing secret; the shared fixtures are signed with it.
const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
/// The workspace of the test's requests.
const TEAM: &str = "T0AAA111";
/// Every verb, in #ops.
const OPS: &str = "U0AAA111";
/// Granted only `confirm` (anywhere).
const CONFIRMER: &str = "U0BBB222";
/// Granted only `status` (anywhere).
const WATCHER: &str = "U0CCC333";
/// Granted `scale` and `status` on frontend only, in #ops.
const FRONTEND_ONLY: &str = "U0DDD444";
/// No grant at all.
const STRANGER: &str = "U0EEE555";
/// #ops.
const CHANNEL: &str = "C0AAA111";
/// A channel no grant names.
const OTHER_CHANNEL: &str = "C0ZZZ999";
const BUDGET: &str = "AI-Service-Monthly";
/// What Slack allows for the acknowledgement.
const SLACK_DEADLINE: StdDuration = StdDuration::from_secs(3);
/// AWS answering slowly.
const SLOW: StdDuration = StdDuration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// The policy: the example's, with Slack grants for the test's users.
// ---------------------------------------------------------------------------------------------

/// The example policy (without its own tests), restricted to two workspaces (the fixtures' and
/// the test's), with grants: the example's operator; [`OPS`] with every verb in [`CHANNEL`];
/// [`CONFIRMER`] with `confirm`; [`WATCHER`] with `status`; [`FRONTEND_ONLY`] with `scale` and
/// `status` on frontend. Written once per process (tests run side by side).
fn slack_policy() -> String {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let text = example_policy_text();
        let text = &text[..text.find("[[tests]]").unwrap_or(text.len())];
        assert_eq!(text.matches("\nconfirm_above = 4\n").count(), 1);
        let mut text = text.replacen(
            "\nconfirm_above = 4\n",
            "\nconfirm_above = 4\nteam_ids = [\"T0001\", \"T0AAA111\"]\n",
            1,
        );
        text.push_str(&format!(
            r#"
[[slack.grants]]
users = ["{OPS}"]
channels = ["{CHANNEL}"]
verbs = ["status", "scale", "force", "pause", "resume", "undo", "lift-cap", "event"]

[[slack.grants]]
users = ["{CONFIRMER}"]
verbs = ["confirm"]

[[slack.grants]]
users = ["{WATCHER}"]
verbs = ["status"]

[[slack.grants]]
users = ["{FRONTEND_ONLY}"]
channels = ["{CHANNEL}"]
verbs = ["scale", "status"]
targets = ["frontend"]
"#
        ));
        capstan_policy::load(&text).expect("the Slack test policy loads");
        write_policy("slack", &text)
    })
    .clone()
}

// ---------------------------------------------------------------------------------------------
// A fake Slack: records every POST to its response_url paths, answers as told.
// ---------------------------------------------------------------------------------------------

/// How the fake Slack answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// 200 `ok`.
    Ok,
    /// 500: Slack failing (a retry may get through).
    Fail,
    /// 404 `expired_url`: the response_url is used up.
    Expired,
}

/// One POST the fake Slack received.
#[derive(Debug, Clone)]
struct Post {
    /// The path, without its leading `/` (`commands/3`).
    path: String,
    /// What it answered.
    status: u16,
    /// The JSON body (a string when it was not JSON).
    body: Value,
}

/// A hand-rolled HTTP/1.1 server on 127.0.0.1 (keep-alive, `content-length` bodies).
struct FakeSlack {
    port: u16,
    posts: Arc<Mutex<Vec<Post>>>,
    answer: Arc<Mutex<Answer>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeSlack {
    async fn start() -> FakeSlack {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let posts = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(Mutex::new(Answer::Ok));
        let (p, a) = (posts.clone(), answer.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_connection(stream, p.clone(), a.clone()));
            }
        });
        FakeSlack {
            port,
            posts,
            answer,
            task,
        }
    }

    /// `http://127.0.0.1:PORT/`: the handler's `response_prefix`.
    fn prefix(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.prefix())
    }

    fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    /// Every POST so far.
    fn posts(&self) -> Vec<Post> {
        self.posts.lock().unwrap().clone()
    }

    /// The bodies posted to `path`, oldest first.
    fn at(&self, path: &str) -> Vec<Value> {
        self.posts()
            .into_iter()
            .filter(|p| p.path == path)
            .map(|p| p.body)
            .collect()
    }

    /// The one body posted to `path`.
    fn one(&self, path: &str) -> Value {
        let at = self.at(path);
        assert_eq!(at.len(), 1, "posts to {path}: {:#?}", self.posts());
        at[0].clone()
    }
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_connection(
    mut stream: tokio::net::TcpStream,
    posts: Arc<Mutex<Vec<Post>>>,
    answer: Arc<Mutex<Answer>>,
) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default().to_string();
        let length: usize = lines
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Vec<u8> = buf.drain(..head_end + length).skip(head_end).collect();
        let mut words = request_line.split(' ');
        let method = words.next().unwrap_or_default();
        let path = words.next().unwrap_or_default().trim_start_matches('/');
        let (status, reason, text) = match *answer.lock().unwrap() {
            Answer::Ok => (200, "OK", "ok"),
            Answer::Fail => (500, "Internal Server Error", "internal_error"),
            Answer::Expired => (404, "Not Found", "expired_url"),
        };
        if method == "POST" {
            posts.lock().unwrap().push(Post {
                path: path.to_string(),
                status,
                body: serde_json::from_slice(&body)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into())),
            });
        }
        let response = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{text}",
            text.len()
        );
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// AWS answering slowly: an HTTP client that holds every request of the clients built on it.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Slow {
    /// Held before it is sent: if the caller gives up, it never reaches moto.
    Before,
    /// Sent (moto applies it), then its answer is held.
    After,
}

#[derive(Debug, Clone)]
struct SlowClient {
    inner: SharedHttpClient,
    slow: Slow,
    by: StdDuration,
}

impl HttpClient for SlowClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(SlowConnector {
            inner: self.inner.http_connector(settings, components),
            slow: self.slow,
            by: self.by,
        })
    }
}

#[derive(Debug)]
struct SlowConnector {
    inner: SharedHttpConnector,
    slow: Slow,
    by: StdDuration,
}

impl HttpConnector for SlowConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (inner, slow, by) = (self.inner.clone(), self.slow, self.by);
        HttpConnectorFuture::new(async move {
            if let Slow::Before = slow {
                tokio::time::sleep(by).await;
            }
            let response = inner.call(request).await;
            if let Slow::After = slow {
                tokio::time::sleep(by).await;
            }
            response
        })
    }
}

/// The world's SDK configuration with every request held `by`.
fn slow_sdk(w: &World, slow: Slow, by: StdDuration) -> aws_config::SdkConfig {
    w.sdk
        .to_builder()
        .http_client(SlowClient {
            inner: aws_smithy_http_client::Builder::new().build_http(),
            slow,
            by,
        })
        .build()
}

// ---------------------------------------------------------------------------------------------
// The world: moto, the handler, the work queue, the fake Slack.
// ---------------------------------------------------------------------------------------------

struct Slack {
    w: World,
    hook: FakeSlack,
    config: Config,
    /// The work queue.
    work_url: String,
    /// The function (its acknowledgement and its worker).
    handler: Handler,
    verifier: Verifier,
    n: AtomicU32,
}

/// What the acknowledgement answered.
#[derive(Debug, Clone)]
struct Ack {
    status: i64,
    /// The JSON message (a string for a plain text or empty body).
    body: Value,
    /// The wall time `handle_by` took.
    took: StdDuration,
    /// The request id the function derives (commands).
    request_id: String,
    /// The response_url's path on the fake Slack.
    path: String,
}

impl Ack {
    fn text(&self) -> String {
        match &self.body {
            Value::String(s) => s.clone(),
            v => v["text"].as_str().unwrap_or_default().to_string(),
        }
    }

    /// An ephemeral 200 saying `says`.
    fn says(&self, says: &str) -> &Ack {
        assert_eq!(self.status, 200, "{self:#?}");
        assert_eq!(self.body["response_type"], "ephemeral", "{self:#?}");
        assert!(self.text().contains(says), "{says:?} not in {self:#?}");
        self
    }
}

/// A request as API Gateway (HTTP API, payload 2.0) delivers it.
#[derive(Debug, Clone)]
struct Req {
    path: &'static str,
    body: Vec<u8>,
    timestamp: Option<String>,
    signature: Option<String>,
    retry: Option<&'static str>,
    base64: bool,
}

impl Req {
    fn event(&self) -> Value {
        let mut headers = serde_json::Map::new();
        let mut header = |k: &str, v: &str| {
            headers.insert(k.to_string(), json!(v));
        };
        header("accept", "application/json,*/*");
        header("content-type", "application/x-www-form-urlencoded");
        header("content-length", &self.body.len().to_string());
        header("user-agent", "Slackbot 1.0 (+https://api.slack.com/robots)");
        header("x-forwarded-proto", "https");
        if let Some(ts) = &self.timestamp {
            header("x-slack-request-timestamp", ts);
        }
        if let Some(sig) = &self.signature {
            header("x-slack-signature", sig);
        }
        if let Some(n) = self.retry {
            header("x-slack-retry-num", n);
            header("x-slack-retry-reason", "http_timeout");
        }
        let body = if self.base64 {
            base64::engine::general_purpose::STANDARD.encode(&self.body)
        } else {
            String::from_utf8(self.body.clone()).unwrap()
        };
        json!({
            "version": "2.0",
            "routeKey": format!("POST {}", self.path),
            "rawPath": self.path,
            "rawQueryString": "",
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "e2eslack01",
                "domainName": "e2eslack01.execute-api.us-east-1.amazonaws.com",
                "http": {
                    "method": "POST",
                    "path": self.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "3.92.10.10",
                    "userAgent": "Slackbot 1.0 (+https://api.slack.com/robots)"
                },
                "requestId": "e2e-slack",
                "routeKey": format!("POST {}", self.path),
                "stage": "$default"
            },
            "body": body,
            "isBase64Encoded": self.base64
        })
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    capstan_slack::request::encode_form(pairs)
}

/// The handler over `w`, its runner built as every function's, with these SQS and DynamoDB
/// clients (slowed ones, for some tests).
async fn build_handler(
    w: &World,
    config: &Config,
    sdk: &aws_config::SdkConfig,
    sqs_sdk: &aws_config::SdkConfig,
    work_url: &str,
    prefix: &str,
) -> Handler {
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let runner = capstan_function::runner_with_clients(
        "slack-handler",
        config,
        capstan_aws::Clients::new(&w.sdk),
        dynamodb.clone(),
        Arc::new(w.clock.clone()),
    )
    .await
    .unwrap();
    Handler::with_parts(
        runner,
        Parts {
            verifier: Verifier::new(SECRET).into(),
            queue: Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(sqs_sdk), work_url)),
            responder: Arc::new(HttpResponder::new()),
            requests: Arc::new(capstan_store::Store::new(dynamodb, TABLE)),
            response_prefix: Some(prefix.to_string()),
            ack_budget: ACK_BUDGET,
            queue_reserve: QUEUE_RESERVE,
        },
    )
}

/// Capacity on AWS: api, frontend and web desired, ai's (min, max).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Capacities {
    api: u32,
    frontend: u32,
    ai: (u32, u32),
    web: u32,
}

impl Slack {
    async fn new() -> Slack {
        Slack::with(Seed::default()).await
    }

    async fn with(seed: Seed) -> Slack {
        let w = World::with(Seed {
            policy: Some(slack_policy()),
            ..seed
        })
        .await;
        let hook = FakeSlack::start().await;
        let work_url = w
            .sqs
            .create_queue()
            .queue_name("capstan-slack-work")
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_string();
        let config = Config {
            policy: slack_policy(),
            table: TABLE.to_string(),
            topic_arn: Some(w.topic_arn.clone()),
            dry_run: false,
            sns_topics: Vec::new(),
            scaling_resource_arns: Vec::new(),
        };
        let handler = build_handler(&w, &config, &w.sdk, &w.sdk, &work_url, &hook.prefix()).await;
        Slack {
            w,
            hook,
            config,
            work_url,
            handler,
            verifier: Verifier::new(SECRET),
            n: AtomicU32::new(0),
        }
    }

    fn next(&self) -> u32 {
        self.n.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn now(&self) -> DateTime<Utc> {
        self.w.now()
    }

    fn advance(&self, by: Duration) {
        self.w.advance(by);
    }

    /// The request signed now, with a plain body.
    fn signed(&self, path: &'static str, body: &str) -> Req {
        let at = self.now().timestamp();
        Req {
            path,
            body: body.as_bytes().to_vec(),
            timestamp: Some(at.to_string()),
            signature: Some(self.verifier.sign(at, body.as_bytes())),
            retry: None,
            base64: false,
        }
    }

    /// A slash command's body, its request id and its response_url's path (on the fake
    /// Slack unless `response_url` is given).
    fn command_body(
        &self,
        team: &str,
        user: &str,
        channel: &str,
        text: &str,
        response_url: Option<&str>,
    ) -> (String, String, String) {
        let n = self.next();
        let path = format!("commands/{TEAM}/{n}");
        let url = response_url.map_or_else(|| self.hook.url(&path), str::to_string);
        let trigger = format!("{n}.738474920.8088930838d88f008e{n}");
        let body = form(&[
            ("token", "gIkuvaNzQIHg97ATvDxqgjtO"),
            ("team_id", team),
            ("team_domain", "example"),
            ("channel_id", channel),
            ("channel_name", "ops-scaling"),
            ("user_id", user),
            ("user_name", "someone"),
            ("command", "/capstan"),
            ("text", text),
            ("api_app_id", "A0AAA111"),
            ("is_enterprise_install", "false"),
            ("response_url", &url),
            ("trigger_id", &trigger),
        ]);
        let id = capstan_slack::request::request_id(team, Some(&trigger), "", body.as_bytes());
        (body, id, path)
    }

    /// Sends an API Gateway event to the function; the answer and the time it took.
    async fn send(&self, handler: &Handler, event: Value) -> Ack {
        let deadline = self.now() + Duration::seconds(10);
        let started = Instant::now();
        let out = handler.handle_by(event, deadline).await.unwrap();
        let took = started.elapsed();
        let status = out["statusCode"].as_i64().unwrap();
        let body = out["body"].as_str().unwrap_or_default();
        Ack {
            status,
            body: serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string())),
            took,
            request_id: String::new(),
            path: String::new(),
        }
    }

    async fn ack(&self, req: &Req) -> Ack {
        self.send(&self.handler, req.event()).await
    }

    /// `/capstan text` from `user` in `channel`, answered on the fake Slack.
    async fn command(&self, user: &str, channel: &str, text: &str) -> Ack {
        self.command_by(&self.handler, TEAM, user, channel, text, None)
            .await
    }

    async fn command_by(
        &self,
        handler: &Handler,
        team: &str,
        user: &str,
        channel: &str,
        text: &str,
        response_url: Option<&str>,
    ) -> Ack {
        let (body, request_id, path) = self.command_body(team, user, channel, text, response_url);
        let ack = self
            .send(handler, self.signed("/slack/commands", &body).event())
            .await;
        Ack {
            request_id,
            path,
            ..ack
        }
    }

    /// A click on a confirmation's button (`capstan_confirm` or `capstan_cancel`).
    async fn click(&self, user: &str, action: &str, request_id: &str) -> Ack {
        self.click_by(&self.handler, user, action, request_id).await
    }

    async fn click_by(&self, handler: &Handler, user: &str, action: &str, request_id: &str) -> Ack {
        let n = self.next();
        let path = format!("actions/{TEAM}/{n}");
        let payload = json!({
            "type": "block_actions",
            "user": {"id": user, "username": "someone", "name": "someone", "team_id": TEAM},
            "api_app_id": "A0AAA111",
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "container": {"type": "message", "message_ts": "1795442401.000200", "channel_id": CHANNEL, "is_ephemeral": false},
            "trigger_id": format!("{n}.3901.2e25"),
            "team": {"id": TEAM, "domain": "example"},
            "enterprise": null,
            "is_enterprise_install": false,
            "channel": {"id": CHANNEL, "name": "ops-scaling"},
            "response_url": self.hook.url(&path),
            "actions": [{
                "type": "button",
                "action_id": action,
                "block_id": "capstan_req",
                "text": {"type": "plain_text", "text": "Confirm"},
                "value": request_id,
                "action_ts": "1795442410.289415"
            }]
        });
        let body = form(&[("payload", &payload.to_string())]);
        let ack = self
            .send(handler, self.signed("/slack/interactions", &body).event())
            .await;
        Ack {
            request_id: request_id.to_string(),
            path,
            ..ack
        }
    }

    /// The worker, as the queue's event source mapping runs it: batches of up to 10 records
    /// until the queue is empty; the records the function reports failed stay (visible again
    /// afterwards), the others are deleted. The ids of the failed records.
    async fn drain(&self) -> Vec<String> {
        let mut failed = Vec::new();
        let mut again = Vec::new();
        let region = self.w.moto.name();
        loop {
            let out = self
                .w
                .sqs
                .receive_message()
                .queue_url(&self.work_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .unwrap();
            let messages = out.messages();
            if messages.is_empty() {
                break;
            }
            let records: Vec<Value> = messages
                .iter()
                .map(|m| {
                    json!({
                        "messageId": m.message_id(),
                        "receiptHandle": m.receipt_handle(),
                        "body": m.body(),
                        "attributes": {
                            "ApproximateReceiveCount": "1",
                            "SentTimestamp": self.now().timestamp_millis().to_string(),
                            "SenderId": "AROAEXAMPLE:slack-handler",
                            "ApproximateFirstReceiveTimestamp": self.now().timestamp_millis().to_string()
                        },
                        "messageAttributes": {},
                        "md5OfBody": m.md5_of_body(),
                        "eventSource": "aws:sqs",
                        "eventSourceARN": format!("arn:aws:sqs:{region}:123456789012:capstan-slack-work"),
                        "awsRegion": region
                    })
                })
                .collect();
            let deadline = self.now() + Duration::seconds(60);
            let out = self
                .handler
                .handle_by(json!({ "Records": records }), deadline)
                .await
                .unwrap();
            let failures: Vec<String> = out["batchItemFailures"]
                .as_array()
                .unwrap_or_else(|| panic!("{out}"))
                .iter()
                .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
                .collect();
            for m in messages {
                let handle = m.receipt_handle().unwrap().to_string();
                if failures.iter().any(|f| Some(f.as_str()) == m.message_id()) {
                    again.push(handle);
                } else {
                    self.w
                        .sqs
                        .delete_message()
                        .queue_url(&self.work_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .unwrap();
                }
            }
            failed.extend(failures);
        }
        for handle in again {
            self.w
                .sqs
                .change_message_visibility()
                .queue_url(&self.work_url)
                .receipt_handle(handle)
                .visibility_timeout(0)
                .send()
                .await
                .unwrap();
        }
        failed
    }

    /// [`Slack::drain`], asserting no record failed.
    async fn work(&self) {
        let failed = self.drain().await;
        assert!(failed.is_empty(), "failed records: {failed:?}");
    }

    /// Takes the jobs off the queue without running them (requests whose response_url is
    /// Slack's own must never be posted to from a test).
    async fn take_jobs(&self) -> Vec<Value> {
        let mut jobs = Vec::new();
        loop {
            let out = self
                .w
                .sqs
                .receive_message()
                .queue_url(&self.work_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .unwrap();
            if out.messages().is_empty() {
                return jobs;
            }
            for m in out.messages() {
                jobs.push(serde_json::from_str(m.body().unwrap()).unwrap());
                self.w
                    .sqs
                    .delete_message()
                    .queue_url(&self.work_url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// Messages on the work queue (visible or not).
    async fn queued(&self) -> usize {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .w
            .sqs
            .get_queue_attributes()
            .queue_url(&self.work_url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap();
        let attrs = out.attributes().cloned().unwrap_or_default();
        [
            A::ApproximateNumberOfMessages,
            A::ApproximateNumberOfMessagesNotVisible,
        ]
        .iter()
        .map(|a| {
            attrs
                .get(a)
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0)
        })
        .sum()
    }

    async fn capacities(&self) -> Capacities {
        Capacities {
            api: self.w.desired("api-service").await,
            frontend: self.w.desired("frontend-service").await,
            ai: self.w.scalable("ai-service").await,
            web: self.w.group().await.0,
        }
    }

    /// Sets a service's desired count behind Capstan's back.
    async fn set_desired(&self, service: &str, n: i32) {
        self.w
            .clients
            .ecs
            .update_service()
            .cluster(CLUSTER)
            .service(service)
            .desired_count(n)
            .send()
            .await
            .unwrap();
    }

    /// The log entries of `scopes` (`*`, targets) written for Slack request `id`.
    async fn log_of(&self, id: &str, scopes: &[&str]) -> Vec<LogEntry> {
        let mut out = Vec::new();
        for scope in scopes {
            for e in self.w.store.recent_log(scope, 50).await.unwrap() {
                if e.key.starts_with(&format!("slack:{id}")) {
                    out.push(e);
                }
            }
        }
        out
    }

    /// The request id on the confirmation posted to `path`, after checking its buttons.
    fn confirmation_id(&self, path: &str) -> String {
        let m = self.hook.one(path);
        assert_eq!(m["response_type"], "in_channel", "{m:#}");
        let buttons = &m["blocks"][1]["elements"];
        assert_eq!(buttons[0]["action_id"], "capstan_confirm", "{m:#}");
        assert_eq!(buttons[1]["action_id"], "capstan_cancel", "{m:#}");
        let id = buttons[0]["value"].as_str().unwrap().to_string();
        assert_eq!(buttons[1]["value"], json!(id));
        id
    }

    async fn request_state(&self, id: &str) -> RequestState {
        self.w
            .store
            .request(id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("request {id} is stored"))
            .state
    }
}

fn text_of(m: &Value) -> String {
    m["text"].as_str().unwrap_or_default().to_string()
}

/// The 100% ACTUAL alert for the example's budget, sent 23 November 2026 (the budget
/// fixture's text with its threshold and amount replaced).
fn budget_alert_100() -> Value {
    let mut e = fixture("budget-sns-actual-80pct-percent-threshold.json");
    let sns = &mut e["Records"][0]["Sns"];
    let text = sns["Message"].as_str().unwrap().to_string();
    for from in ["$4,102.37", "80.00%"] {
        assert!(text.contains(from), "{from} in the fixture");
    }
    let text = text
        .replace("$4,102.37", "$5,003.20")
        .replace("80.00%", "100.00%");
    sns["Message"] = json!(text);
    e
}

// ---------------------------------------------------------------------------------------------
// Signatures
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_fixtures_pass_at_their_signing_time_and_are_stale_now() {
    let s = Slack::new().await;
    let commands = t("2026-11-23T14:00:00Z");
    assert_eq!(commands.timestamp(), 1_795_442_400);
    let before = s.capacities().await;

    s.w.at(commands);
    let scale = s.ack_fixture("slack-command-apigw-v2.json").await;
    scale.says("Working on `/capstan scale api 6`");
    let status = s.ack_fixture("slack-command-status-plain-body.json").await;
    status.says("*api*");
    assert!(status.text().contains("desired/running"), "{status:#?}");
    let bad = s.ack_fixture("slack-command-bad-signature.json").await;
    assert_eq!(bad.status, 401, "{bad:#?}");
    s.w.at(commands + Duration::seconds(10));
    let click = s.ack_fixture("slack-interaction-apigw-v2.json").await;
    assert_eq!((click.status, &click.body), (200, &json!("")), "{click:#?}");

    // Only the scale and the click were queued: as Slack sent them, for the worker.
    let jobs = s.take_jobs().await;
    assert_eq!(jobs.len(), 2, "{jobs:#?}");
    assert_eq!(jobs[0]["job"], "command");
    assert_eq!(jobs[0]["text"], "scale api 6");
    assert_eq!(jobs[0]["asker"]["user"], "U2147483697");
    assert_eq!(jobs[0]["asker"]["channel"], "C2147483705");
    assert_eq!(jobs[0]["asker"]["team"], "T0001");
    assert_eq!(
        jobs[0]["response_url"],
        "https://hooks.slack.com/commands/T0001/1234567890/abcdefABCDEF123456"
    );
    assert_eq!(jobs[1]["job"], "click");
    assert_eq!(jobs[1]["request_id"], "req-01JD6ZK8S0");
    assert_eq!(jobs[1]["action"], "confirm");
    assert_eq!(jobs[1]["clicker"]["user"], "U2147483697");

    // Against the real clock every one of them is stale.
    s.w.at(Utc::now());
    for name in [
        "slack-command-apigw-v2.json",
        "slack-command-status-plain-body.json",
        "slack-command-bad-signature.json",
        "slack-interaction-apigw-v2.json",
    ] {
        let ack = s.ack_fixture(name).await;
        assert_eq!(ack.status, 401, "{name}: {ack:#?}");
        assert!(ack.text().contains("refused"), "{name}: {ack:#?}");
    }
    assert_eq!(s.queued().await, 0);
    assert_eq!(s.capacities().await, before);
    assert!(s.hook.posts().is_empty());
}

impl Slack {
    async fn ack_fixture(&self, name: &str) -> Ack {
        self.send(&self.handler, fixture(name)).await
    }
}

#[tokio::test]
async fn slacks_documented_signature_vector() {
    // "Verifying requests from Slack": the example request, its secret and its signature.
    let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    let signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    let at = 1_531_420_618;
    let s = Slack::new().await;
    assert_eq!(s.verifier.sign(at, body.as_bytes()), signature);
    let req = Req {
        path: "/slack/commands",
        body: body.as_bytes().to_vec(),
        timestamp: Some(at.to_string()),
        signature: Some(signature.to_string()),
        retry: None,
        base64: false,
    };
    // At its time the signature is accepted; the workspace is not one the policy admits.
    s.w.at(DateTime::from_timestamp(at, 0).unwrap());
    s.ack(&req)
        .await
        .says("does not take commands from here: ")
        .says("T1DC2JH3J");
    s.work().await;
    let refused: Vec<LogEntry> =
        s.w.store
            .recent_log("*", 10)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.by.as_deref() == Some("U2CERLKJA"))
            .collect();
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert_eq!(refused[0].outcome, "refused");
    assert_eq!(refused[0].channel.as_deref(), Some("G8PSS9T3V"));
    // Five minutes and a second later it is stale.
    s.w.at(DateTime::from_timestamp(at + 301, 0).unwrap());
    assert_eq!(s.ack(&req).await.status, 401);
    assert_eq!(s.queued().await, 0);
    assert!(s.hook.posts().is_empty());
}

#[tokio::test]
async fn the_replay_window_both_ways_and_missing_or_malformed_headers() {
    let s = Slack::new().await;
    let before = s.capacities().await;
    let (body, id, path) = s.command_body(TEAM, OPS, CHANNEL, "scale api 5", None);
    let now = s.now().timestamp();
    let at = |skew: i64| {
        let ts = now + skew;
        Req {
            timestamp: Some(ts.to_string()),
            signature: Some(s.verifier.sign(ts, body.as_bytes())),
            ..s.signed("/slack/commands", &body)
        }
    };
    let good = s.signed("/slack/commands", &body);
    let refused = [
        ("301 s old", at(-301)),
        ("301 s ahead", at(301)),
        (
            "no timestamp",
            Req {
                timestamp: None,
                ..good.clone()
            },
        ),
        (
            "no signature",
            Req {
                signature: None,
                ..good.clone()
            },
        ),
        (
            "timestamp not a number",
            Req {
                timestamp: Some("soon".into()),
                ..good.clone()
            },
        ),
        (
            "timestamp with a fraction",
            Req {
                timestamp: Some(format!("{now}.5")),
                ..good.clone()
            },
        ),
        (
            "signature of another version",
            Req {
                signature: Some(good.signature.clone().unwrap().replacen("v0=", "v1=", 1)),
                ..good.clone()
            },
        ),
        (
            "signature not hex",
            Req {
                signature: Some(format!("v0={}", "z".repeat(64))),
                ..good.clone()
            },
        ),
        (
            "signature cut short",
            Req {
                signature: Some(good.signature.clone().unwrap()[..40].to_string()),
                ..good.clone()
            },
        ),
        (
            "signature of another time",
            Req {
                signature: Some(s.verifier.sign(now - 1, body.as_bytes())),
                ..good.clone()
            },
        ),
        (
            "another secret",
            Req {
                signature: Some(Verifier::new("not-the-secret").sign(now, body.as_bytes())),
                ..good.clone()
            },
        ),
        (
            "body changed",
            Req {
                body: body.replace("scale+api+5", "scale+api+9").into_bytes(),
                ..good.clone()
            },
        ),
    ];
    for (what, req) in &refused {
        let ack = s.ack(req).await;
        assert_eq!(ack.status, 401, "{what}: {ack:#?}");
    }
    // A click the same way: a stale or unsigned one is refused before it is read.
    let payload = json!({"type": "block_actions", "user": {"id": OPS}, "team": {"id": TEAM},
        "response_url": s.hook.url("actions/x"),
        "actions": [{"action_id": "capstan_confirm", "value": "req-0123456789abcdef0123456789"}]});
    let click = form(&[("payload", &payload.to_string())]);
    let good_click = s.signed("/slack/interactions", &click);
    for req in [
        Req {
            timestamp: Some((now - 301).to_string()),
            signature: Some(s.verifier.sign(now - 301, click.as_bytes())),
            ..good_click.clone()
        },
        Req {
            signature: None,
            ..good_click.clone()
        },
    ] {
        assert_eq!(s.ack(&req).await.status, 401);
    }
    assert_eq!(s.queued().await, 0, "nothing queued");
    s.work().await;
    assert_eq!(s.capacities().await, before, "nothing changed");
    assert!(s.log_of(&id, &["*", "api"]).await.is_empty());

    // 299 s old is within the window (so is 299 s ahead: the same request, acted on once).
    s.ack(&at(-299)).await.says("Working on");
    s.ack(&at(299)).await.says("Working on");
    s.work().await;
    assert_eq!(s.w.desired("api-service").await, 5);
    let posted = s.hook.one(&path);
    assert_eq!(posted["response_type"], "in_channel");
}

#[tokio::test]
async fn base64_and_plain_bodies_and_the_ssl_check() {
    let s = Slack::new().await;
    // Base64 (as API Gateway passes a form body): signed over the decoded bytes.
    let (body, _, b64_path) = s.command_body(TEAM, OPS, CHANNEL, "scale api 5", None);
    let b64 = Req {
        base64: true,
        ..s.signed("/slack/commands", &body)
    };
    s.ack(&b64).await.says("Working on `/capstan scale api 5`");
    // Plain.
    let plain = s.command(OPS, CHANNEL, "scale web 4").await;
    plain.says("Working on `/capstan scale web 4`");
    s.work().await;
    assert_eq!(s.w.desired("api-service").await, 5);
    assert_eq!(s.w.group().await.0, 4);
    assert!(text_of(&s.hook.one(&b64_path)).contains("<@U0AAA111>"));
    assert!(text_of(&s.hook.one(&plain.path)).contains("<@U0AAA111>"));

    // A signature over the base64 text, not the body Slack sent: refused. So is a body
    // marked base64 that is not.
    let (body, _, _) = s.command_body(TEAM, OPS, CHANNEL, "scale api 7", None);
    let encoded = base64::engine::general_purpose::STANDARD.encode(&body);
    let at = s.now().timestamp();
    let over_encoding = Req {
        signature: Some(s.verifier.sign(at, encoded.as_bytes())),
        ..b64.clone()
    };
    let over_encoding = Req {
        body: body.into_bytes(),
        ..over_encoding
    };
    assert_eq!(s.ack(&over_encoding).await.status, 401);
    let mut not_base64 = s.signed("/slack/commands", "team_id=%%%").event();
    not_base64["isBase64Encoded"] = json!(true);
    assert_eq!(s.send(&s.handler, not_base64).await.status, 401);

    // Slack's SSL probe: 200 with nothing to show, nothing queued; unsigned, 401.
    let probe = s.signed(
        "/slack/commands",
        "ssl_check=1&token=gIkuvaNzQIHg97ATvDxqgjtO",
    );
    let ack = s.ack(&probe).await;
    assert_eq!((ack.status, &ack.body), (200, &json!("")), "{ack:#?}");
    let ack = s
        .ack(&Req {
            base64: true,
            ..probe.clone()
        })
        .await;
    assert_eq!(ack.status, 200, "{ack:#?}");
    let unsigned = Req {
        signature: None,
        ..probe
    };
    assert_eq!(s.ack(&unsigned).await.status, 401);
    assert_eq!(s.queued().await, 0);
    assert_eq!(s.w.desired("api-service").await, 5);
    assert_eq!(s.hook.posts().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Every verb
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn status_answers_inline_from_the_shared_view() {
    let s = Slack::new().await;
    let all = s.command(WATCHER, OTHER_CHANNEL, "status").await;
    all.says("*api*");
    for line in ["*frontend*", "*ai*", "*web*", "3/", "bounds 4..20"] {
        assert!(all.text().contains(line), "{line} in {all:#?}");
    }
    let one = s.command(WATCHER, OTHER_CHANNEL, "status frontend").await;
    one.says("*frontend*");
    assert!(!one.text().contains("*api*"), "{one:#?}");
    // A status changes nothing and needs no worker: nothing queued, nothing posted.
    assert_eq!(s.queued().await, 0);
    assert!(s.hook.posts().is_empty());
    assert!(all.took < SLACK_DEADLINE, "{:?}", all.took);
}

#[tokio::test]
async fn scale_to_n_max_min_and_by_is_announced_naming_who() {
    let s = Slack::with(Seed {
        frontend: 7,
        ..Seed::default()
    })
    .await;
    let six = s.command(OPS, CHANNEL, "scale api 6").await;
    six.says("Working on `/capstan scale api 6`; the outcome follows here.");
    assert_eq!(
        s.w.desired("api-service").await,
        3,
        "nothing before the worker"
    );
    s.work().await;
    assert_eq!(s.w.desired("api-service").await, 6);
    let m = s.hook.one(&six.path);
    assert_eq!(m["response_type"], "in_channel", "{m:#}");
    let text = text_of(&m);
    assert!(
        text.contains("<@U0AAA111>: `/capstan scale api 6`"),
        "{text}"
    );
    assert!(text.contains("*api*: desired 3"), "{text}");
    assert!(text.contains("→ desired 6"), "{text}");

    // max and min are the bounds in force (business hours: api 4..20; frontend 2..10).
    let max = s.command(OPS, CHANNEL, "scale frontend max").await;
    let min = s.command(OPS, CHANNEL, "scale api min").await;
    let by = s.command(OPS, CHANNEL, "scale web +2").await;
    s.work().await;
    assert_eq!(
        s.capacities().await,
        Capacities {
            api: 4,
            frontend: 10,
            ai: (2, 30),
            web: 4
        }
    );
    for ack in [&max, &min, &by] {
        assert_eq!(s.hook.one(&ack.path)["response_type"], "in_channel");
    }
    // The record holds every change, the log says who asked, where, with which verb.
    let api = s.w.store.recent_log("api", 10).await.unwrap();
    let ours: Vec<(Option<u32>, Option<u32>, &str)> = api
        .iter()
        .map(|e| {
            (
                e.from.map(|c| c.desired),
                e.to.map(|c| c.desired),
                e.outcome.as_str(),
            )
        })
        .collect();
    assert_eq!(
        ours,
        [(Some(6), Some(4), "changed"), (Some(3), Some(6), "changed")]
    );
    assert!(api.iter().all(|e| e.by.as_deref() == Some(OPS)
        && e.channel.as_deref() == Some(CHANNEL)
        && e.verb.as_deref() == Some("scale")));
}

#[tokio::test]
async fn force_asks_with_a_danger_button_then_goes_past_the_ceiling_and_pins() {
    let s = Slack::new().await;
    let ask = s.command(OPS, CHANNEL, "scale frontend 12 --force").await;
    ask.says("Working on");
    s.work().await;
    assert_eq!(
        s.w.desired("frontend-service").await,
        2,
        "held for the click"
    );
    let id = s.confirmation_id(&ask.path);
    assert_eq!(id, ask.request_id);
    let m = s.hook.one(&ask.path);
    let confirm = &m["blocks"][1]["elements"][0];
    assert_eq!(confirm["style"], "danger", "{m:#}");
    assert_eq!(confirm["confirm"]["style"], "danger", "{m:#}");
    assert_eq!(
        confirm["confirm"]["title"]["text"],
        "Force past the guardrails?"
    );
    let dialog = confirm["confirm"]["text"]["text"].as_str().unwrap();
    assert!(dialog.contains("FORCED"), "{dialog}");
    assert!(dialog.contains("12"), "{dialog}");
    assert_eq!(s.request_state(&id).await, RequestState::Pending);

    let click = s.click(OPS, "capstan_confirm", &id).await;
    assert_eq!((click.status, &click.body), (200, &json!("")), "{click:#?}");
    s.work().await;
    assert_eq!(
        s.w.desired("frontend-service").await,
        12,
        "past the ceiling of 10"
    );
    let done = s.hook.one(&click.path);
    assert_eq!(done["replace_original"], true, "{done:#}");
    assert_eq!(done["response_type"], "in_channel", "{done:#}");
    assert!(text_of(&done).contains("→ desired 12"), "{done:#}");
    assert!(matches!(
        s.request_state(&id).await,
        RequestState::Confirmed { by, .. } if by == OPS
    ));
    // Pinned so the next tick does not undo it.
    let rec = &s.w.store.load_targets(&["frontend".into()]).await.unwrap()["frontend"];
    let pause = rec.state.pause.clone().expect("a forced change is pinned");
    assert_eq!(pause.pin, Some(12));
    assert_eq!(pause.by, OPS);
}

#[tokio::test]
async fn pause_for_a_duration_pin_and_resume() {
    let s = Slack::new().await;
    let pause = s.command(OPS, CHANNEL, "pause api for 2h").await;
    let pin = s.command(OPS, CHANNEL, "pause frontend 30m pin 3").await;
    s.work().await;
    let records =
        s.w.store
            .load_targets(&["api".into(), "frontend".into()])
            .await
            .unwrap();
    let api = records["api"].state.pause.clone().expect("api paused");
    assert_eq!(api.until, s.now() + Duration::hours(2));
    assert_eq!((api.by.as_str(), api.pin), (OPS, None));
    let frontend = records["frontend"]
        .state
        .pause
        .clone()
        .expect("frontend pinned");
    assert_eq!(frontend.until, s.now() + Duration::minutes(30));
    assert_eq!(frontend.pin, Some(3));
    // Ticks hold a pin: the next one sets frontend to 3.
    assert_eq!(s.w.desired("frontend-service").await, 2);
    let tick = s.w.tick(s.now() + Duration::minutes(1)).await;
    assert_eq!(
        s.w.desired("frontend-service").await,
        3,
        "pinned at 3: {tick:#}"
    );
    for ack in [&pause, &pin] {
        let m = s.hook.one(&ack.path);
        assert_eq!(m["response_type"], "in_channel", "{m:#}");
        assert!(text_of(&m).contains("<@U0AAA111>"), "{m:#}");
    }
    let said = text_of(&s.hook.one(&pause.path));
    assert!(said.contains("paused"), "{said}");
    let said = text_of(&s.hook.one(&pin.path));
    assert!(said.contains("pinned at 3"), "{said}");

    let resume = s.command(OPS, CHANNEL, "resume api").await;
    s.work().await;
    let api = &s.w.store.load_targets(&["api".into()]).await.unwrap()["api"];
    assert_eq!(api.state.pause, None);
    assert!(text_of(&s.hook.one(&resume.path)).contains("resumed"));
    let log = s.w.store.recent_log("api", 5).await.unwrap();
    assert_eq!(
        log.iter().map(|e| e.outcome.as_str()).collect::<Vec<_>>(),
        ["resumed", "paused"]
    );
}

#[tokio::test]
async fn undo_goes_back_to_before_the_last_action() {
    let s = Slack::new().await;
    s.command(OPS, CHANNEL, "scale web 5").await;
    s.work().await;
    assert_eq!(s.w.group().await.0, 5);
    let undo = s.command(OPS, CHANNEL, "undo web").await;
    s.work().await;
    assert_eq!(s.w.group().await.0, 2);
    let m = s.hook.one(&undo.path);
    assert_eq!(m["response_type"], "in_channel", "{m:#}");
    assert!(text_of(&m).contains("desired 5"), "{m:#}");
    assert!(text_of(&m).contains("→ desired 2"), "{m:#}");
    let log = s.w.store.recent_log("web", 5).await.unwrap();
    assert_eq!(log[0].verb.as_deref(), Some("undo"));
    assert_eq!(log[0].to.map(|c| c.desired), Some(2));
}

#[tokio::test]
async fn lift_cap_after_a_budget_alert_asks_then_gives_the_bounds_back() {
    let s = Slack::new().await;
    let resp = s.w.budget_alert(budget_alert_100()).await.unwrap();
    assert_eq!(s.w.scalable("ai-service").await, (2, 2), "{resp:#}");
    assert_eq!(s.w.store.load_global().await.unwrap().caps.len(), 1);

    let ask = s
        .command(OPS, CHANNEL, &format!("lift-cap \u{201c}{BUDGET}\u{201d}"))
        .await;
    ask.says("Working on");
    s.work().await;
    assert_eq!(
        s.w.scalable("ai-service").await,
        (2, 2),
        "held for the click"
    );
    let id = s.confirmation_id(&ask.path);
    let m = s.hook.one(&ask.path);
    let confirm = &m["blocks"][1]["elements"][0];
    assert_eq!(confirm["style"], "danger", "{m:#}");
    assert_eq!(confirm["confirm"]["title"]["text"], "Lift the budget cap?");
    let dialog = confirm["confirm"]["text"]["text"].as_str().unwrap();
    assert!(dialog.contains("ai gets bounds 2..30 back"), "{dialog}");

    let click = s.click(OPS, "capstan_confirm", &id).await;
    s.work().await;
    assert_eq!(s.w.scalable("ai-service").await, (2, 30));
    assert!(s.w.store.load_global().await.unwrap().caps.is_empty());
    let done = s.hook.one(&click.path);
    assert_eq!(done["replace_original"], true);
    assert!(
        text_of(&done).contains("lifted early by U0AAA111"),
        "{done:#}"
    );
}

#[tokio::test]
async fn events_are_added_and_cancelled() {
    let s = Slack::new().await;
    // In force now (14:05 is within the two-hour lead of 15:00): frontend's floor goes to 5.
    let add = s
        .command(
            OPS,
            CHANNEL,
            "event add promo 2026-11-23T15:00Z 2026-11-23T18:00Z frontend=floor:5 lead 2h",
        )
        .await;
    add.says("Working on");
    s.work().await;
    let events = s.w.store.load_global().await.unwrap().events;
    assert!(events.contains_key("promo"), "{events:#?}");
    assert_eq!(s.w.desired("frontend-service").await, 5);
    let m = s.hook.one(&add.path);
    assert_eq!(m["response_type"], "in_channel", "{m:#}");
    assert!(text_of(&m).contains("promo"), "{m:#}");

    // One the engine refuses (a relative ceiling needs exceed-ceiling) is told why.
    let refused = s
        .command(
            OPS,
            CHANNEL,
            "event add big 2026-11-23T15:00Z 2026-11-23T18:00Z api=ceiling:+5",
        )
        .await;
    s.work().await;
    let m = s.hook.one(&refused.path);
    assert_eq!(m["response_type"], "ephemeral", "{m:#}");
    let said = text_of(&m);
    assert_eq!(
        said.matches("above target `api`'s hard ceiling").count(),
        1,
        "{said}"
    );
    assert!(text_of(&m).ends_with("Nothing changed."), "{m:#}");
    assert!(!s
        .w
        .store
        .load_global()
        .await
        .unwrap()
        .events
        .contains_key("big"));

    let cancel = s.command(OPS, CHANNEL, "event cancel promo").await;
    s.work().await;
    assert!(s.w.store.load_global().await.unwrap().events.is_empty());
    let m = s.hook.one(&cancel.path);
    assert!(text_of(&m).contains("promo"), "{m:#}");
    let log = s.w.store.recent_log("*", 10).await.unwrap();
    let events: Vec<&LogEntry> = log
        .iter()
        .filter(|e| e.verb.as_deref() == Some("event"))
        .collect();
    assert_eq!(events.len(), 3, "{log:#?}");
    assert!(events.iter().all(|e| e.by.as_deref() == Some(OPS)));
}

#[tokio::test]
async fn help_and_an_unknown_command_answer_inline() {
    let s = Slack::new().await;
    let help = s.command(STRANGER, OTHER_CHANNEL, "help").await;
    help.says("Capstan commands");
    assert_eq!(help.text(), capstan_policy::command::help(None));
    let scale = s.command(STRANGER, OTHER_CHANNEL, "help scale").await;
    assert_eq!(scale.text(), capstan_policy::command::help(Some("scale")));
    // help decides nothing: nothing queued, nothing posted.
    assert_eq!(s.queued().await, 0);

    let unknown = s.command(OPS, CHANNEL, "reboot api").await;
    unknown.says("`/capstan reboot api`").says("usage:");
    s.work().await;
    let log = s.log_of(&unknown.request_id, &["*"]).await;
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0].outcome, "refused");
    assert!(s.hook.posts().is_empty(), "answered inline only");
}

// ---------------------------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_refusal_is_ephemeral_changes_nothing_and_is_on_the_record() {
    let s = Slack::new().await;
    let before = s.capacities().await;
    let cases = [
        // (team, user, channel, text, what the answer says)
        (
            TEAM,
            STRANGER,
            CHANNEL,
            "scale api 5",
            "U0EEE555 may not use `scale`",
        ),
        (
            TEAM,
            OPS,
            OTHER_CHANNEL,
            "scale api 5",
            "in channel C0ZZZ999",
        ),
        (
            TEAM,
            WATCHER,
            CHANNEL,
            "scale api 5",
            "U0CCC333 may not use `scale`",
        ),
        (TEAM, WATCHER, CHANNEL, "pause api", "may not use `pause`"),
        (
            TEAM,
            FRONTEND_ONLY,
            CHANNEL,
            "scale api 5",
            "may not use `scale` on api",
        ),
        (
            TEAM,
            FRONTEND_ONLY,
            CHANNEL,
            "scale frontend 4 --force",
            "may not use `force`",
        ),
        (TEAM, OPS, CHANNEL, "scale nope 5", "nope"),
        (TEAM, OPS, CHANNEL, "reboot api", "unknown command"),
        (
            TEAM,
            OPS,
            CHANNEL,
            "scale api 100001",
            "`100001` is more than 100000",
        ),
        (
            "T0ZZZ999",
            OPS,
            CHANNEL,
            "scale api 5",
            "does not take commands from here",
        ),
    ];
    let mut acks = Vec::new();
    for (team, user, channel, text, says) in cases {
        let ack = s
            .command_by(&s.handler, team, user, channel, text, None)
            .await;
        ack.says(says);
        assert!(
            ack.text().contains("Nothing changed") || ack.text().contains("usage"),
            "{ack:#?}"
        );
        acks.push((user, channel, text, ack));
    }
    s.work().await;
    assert_eq!(s.capacities().await, before, "nothing changed on AWS");
    assert!(s.hook.posts().is_empty(), "answered inline, never posted");
    for (user, channel, text, ack) in &acks {
        let log = s.log_of(&ack.request_id, &["*", "api", "frontend"]).await;
        assert_eq!(log.len(), 1, "{text}: {log:#?}");
        let e = &log[0];
        assert_eq!(e.outcome, "refused", "{text}: {e:#?}");
        assert_eq!(e.by.as_deref(), Some(*user), "{text}");
        assert_eq!(e.channel.as_deref(), Some(*channel), "{text}");
        assert!(e.explanation.contains(text), "{text}: {e:#?}");
        // A command that does not parse has no verb.
        let verb = if capstan_policy::command::parse(text).is_err() {
            "unknown"
        } else {
            text.split(' ').next().unwrap()
        };
        assert_eq!(e.verb.as_deref(), Some(verb), "{text}: {e:#?}");
    }
    // The grant limited to frontend does allow frontend.
    s.command(FRONTEND_ONLY, CHANNEL, "scale frontend 4").await;
    s.work().await;
    assert_eq!(s.w.desired("frontend-service").await, 4);
}

// ---------------------------------------------------------------------------------------------
// Confirmations
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_big_change_waits_for_the_requester_a_stranger_and_a_second_click_are_refused() {
    let s = Slack::new().await;
    let ask = s.command(OPS, CHANNEL, "scale api 12").await;
    s.work().await;
    assert_eq!(s.w.desired("api-service").await, 3, "held for the click");
    let id = s.confirmation_id(&ask.path);
    let m = s.hook.one(&ask.path);
    let confirm = &m["blocks"][1]["elements"][0];
    assert_eq!(confirm["style"], "primary", "{m:#}");
    let dialog = confirm["confirm"]["text"]["text"].as_str().unwrap();
    assert!(dialog.contains("12"), "{dialog}");
    let stored = s.w.store.request(&id).await.unwrap().unwrap();
    assert_eq!(
        (stored.user.as_str(), stored.channel.as_str()),
        (OPS, CHANNEL)
    );
    assert_eq!(stored.text, "scale api 12");
    assert!(stored.expires <= s.now() + Duration::minutes(30));

    // A stranger's click (no `confirm` grant) is refused: nothing changes, still pending.
    let stranger = s.click(WATCHER, "capstan_confirm", &id).await;
    s.work().await;
    assert_eq!(s.w.desired("api-service").await, 3);
    let said = s.hook.one(&stranger.path);
    assert_eq!(said["response_type"], "ephemeral");
    assert!(text_of(&said).contains("Only <@U0AAA111>"), "{said:#}");
    assert_eq!(s.request_state(&id).await, RequestState::Pending);

    // The requester confirms: done, the confirmation replaced for the channel.
    s.advance(Duration::seconds(5));
    let yes = s.click(OPS, "capstan_confirm", &id).await;
    s.work().await;
    assert_eq!(s.w.desired("api-service").await, 12);
    let done = s.hook.one(&yes.path);
    assert_eq!(done["replace_original"], true, "{done:#}");
    assert_eq!(done["response_type"], "in_channel", "{done:#}");
    assert!(text_of(&done).contains("→ desired 12"), "{done:#}");
    assert!(matches!(s.request_state(&id).await, RequestState::Confirmed { by, .. } if by == OPS));

    // Someone sets api to 7; a second click must not take it back to 12.
    s.set_desired("api-service", 7).await;
    s.advance(Duration::seconds(5));
    let again = s.click(OPS, "capstan_confirm", &id).await;
    s.work().await;
    assert_eq!(s.w.desired("api-service").await, 7);
    let said = s.hook.one(&again.path);
    assert!(
        text_of(&said).contains("already confirmed by <@U0AAA111>"),
        "{said:#}"
    );
    // Every click is on the record.
    let log = s.log_of(&id, &["*", "api"]).await;
    let clicks: Vec<(Option<&str>, &str)> = log
        .iter()
        .filter(|e| e.verb.as_deref() == Some("confirm"))
        .map(|e| (e.by.as_deref(), e.outcome.as_str()))
        .collect();
    assert_eq!(clicks.len(), 3, "{log:#?}");
    for expected in [
        (Some(WATCHER), "refused"),
        (Some(OPS), "confirmed"),
        (Some(OPS), "refused"),
    ] {
        assert!(clicks.contains(&expected), "{expected:?} in {clicks:?}");
    }
    let change: Vec<&LogEntry> = log.iter().filter(|e| e.outcome == "changed").collect();
    assert_eq!(change.len(), 1, "one change: {log:#?}");
    assert_eq!(change[0].to.map(|c| c.desired), Some(12));
}

#[tokio::test]
async fn a_user_granted_confirm_may_confirm_and_cancel_drops_a_request() {
    let s = Slack::new().await;
    let ask = s.command(OPS, CHANNEL, "scale api 12").await;
    let web = s.command(OPS, CHANNEL, "scale web 10").await;
    s.work().await;
    let (api_id, web_id) = (s.confirmation_id(&ask.path), s.confirmation_id(&web.path));

    let yes = s.click(CONFIRMER, "capstan_confirm", &api_id).await;
    s.work().await;
    assert_eq!(s.w.desired("api-service").await, 12);
    let done = s.hook.one(&yes.path);
    assert!(
        text_of(&done).contains("<@U0AAA111> (confirmed by <@U0BBB222>)"),
        "{done:#}"
    );

    let no = s.click(OPS, "capstan_cancel", &web_id).await;
    s.work().await;
    assert_eq!(s.w.group().await.0, 2);
    let said = s.hook.one(&no.path);
    assert_eq!(said["replace_original"], true, "{said:#}");
    assert!(
        text_of(&said).contains("cancelled by <@U0AAA111>"),
        "{said:#}"
    );
    assert!(
        matches!(s.request_state(&web_id).await, RequestState::Cancelled { by, .. } if by == OPS)
    );
    // Once cancelled, a confirm is refused.
    s.advance(Duration::seconds(5));
    let late = s.click(OPS, "capstan_confirm", &web_id).await;
    s.work().await;
    assert_eq!(s.w.group().await.0, 2);
    assert!(text_of(&s.hook.one(&late.path)).contains("was cancelled by <@U0AAA111>"));
}

#[tokio::test]
async fn a_click_after_the_confirmation_expired_is_refused() {
    let s = Slack::new().await;
    let ask = s.command(OPS, CHANNEL, "scale api 12").await;
    s.work().await;
    let id = s.confirmation_id(&ask.path);
    s.advance(Duration::minutes(31));
    let late = s.click(OPS, "capstan_confirm", &id).await;
    assert_eq!(late.status, 200);
    s.work().await;
    assert_eq!(s.w.desired("api-service").await, 3);
    let said = s.hook.one(&late.path);
    assert_eq!(said["response_type"], "ephemeral");
    assert!(text_of(&said).contains("expired"), "{said:#}");
    assert_eq!(s.request_state(&id).await, RequestState::Pending);
    let refused: Vec<LogEntry> = s
        .log_of(&id, &["*"])
        .await
        .into_iter()
        .filter(|e| e.outcome == "refused")
        .collect();
    assert_eq!(refused.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Slack retries, Slack failing, AWS slow
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_slack_retry_never_acts_twice_and_posts_once() {
    let s = Slack::new().await;
    let (body, id, path) = s.command_body(TEAM, OPS, CHANNEL, "scale api 6", None);
    let first = s.signed("/slack/commands", &body);
    s.ack(&first).await.says("Working on");
    s.work().await;
    assert_eq!(s.w.desired("api-service").await, 6);
    // Slack did not get the answer in time and sends the same request again; meanwhile
    // api was set to 4 by hand. The retry changes nothing.
    s.set_desired("api-service", 4).await;
    for n in ["1", "2"] {
        s.advance(Duration::seconds(1));
        let retry = Req {
            retry: Some(n),
            ..s.signed("/slack/commands", &body)
        };
        s.ack(&retry).await.says("Working on");
    }
    s.work().await;
    assert_eq!(s.w.desired("api-service").await, 4);
    assert_eq!(s.hook.posts().len(), 1, "{:#?}", s.hook.posts());
    assert_eq!(s.hook.at(&path).len(), 1);
    let changes: Vec<LogEntry> = s
        .log_of(&id, &["api"])
        .await
        .into_iter()
        .filter(|e| e.outcome == "changed")
        .collect();
    assert_eq!(changes.len(), 1);
}

#[tokio::test]
async fn slack_failing_then_answering_gets_one_post_and_expired_urls_are_dropped() {
    let s = Slack::new().await;
    s.hook.answer(Answer::Fail);
    let ask = s.command(OPS, CHANNEL, "scale api 6").await;
    let failed = s.drain().await;
    assert_eq!(failed.len(), 1, "the post failed: the record is retried");
    assert_eq!(
        s.w.desired("api-service").await,
        6,
        "the change is made once"
    );
    s.hook.answer(Answer::Ok);
    s.work().await;
    assert_eq!(s.w.desired("api-service").await, 6);
    let statuses: Vec<u16> = s.hook.posts().iter().map(|p| p.status).collect();
    assert_eq!(statuses, [500, 200]);
    assert_eq!(s.hook.at(&ask.path).len(), 2);

    // 404 expired_url: Slack will never take it; not retried.
    s.hook.answer(Answer::Expired);
    s.command(OPS, CHANNEL, "scale web 4").await;
    s.work().await;
    assert_eq!(s.w.group().await.0, 4);
    assert_eq!(s.hook.posts().len(), 3);
    assert_eq!(s.queued().await, 0);
}

#[tokio::test]
async fn at_most_five_posts_per_response_url() {
    let s = Slack::new().await;
    let url = s.hook.url("commands/shared");
    for n in 3..9 {
        s.command_by(
            &s.handler,
            TEAM,
            OPS,
            CHANNEL,
            &format!("scale web {n}"),
            Some(&url),
        )
        .await
        .says("Working on");
        s.work().await;
    }
    assert_eq!(s.w.group().await.0, 8, "every command carried out");
    assert_eq!(s.hook.at("commands/shared").len(), 5);
}

#[tokio::test]
async fn a_slow_queue_still_gets_an_honest_answer_within_3_seconds() {
    let s = Slack::new().await;
    // The send is held before it leaves: the job never reaches the queue.
    let held = build_handler(
        &s.w,
        &s.config,
        &s.w.sdk,
        &slow_sdk(&s.w, Slow::Before, SLOW),
        &s.work_url,
        &s.hook.prefix(),
    )
    .await;
    // The send reaches the queue, its answer is held.
    let late = build_handler(
        &s.w,
        &s.config,
        &s.w.sdk,
        &slow_sdk(&s.w, Slow::After, SLOW),
        &s.work_url,
        &s.hook.prefix(),
    )
    .await;
    let (lost, kept, click) = tokio::join!(
        s.command_by(&held, TEAM, OPS, CHANNEL, "scale api 5", None),
        s.command_by(&late, TEAM, OPS, CHANNEL, "scale web 4", None),
        s.click_by(
            &held,
            OPS,
            "capstan_confirm",
            "req-0123456789abcdef0123456789"
        ),
    );
    for ack in [&lost, &kept] {
        assert!(ack.took < SLACK_DEADLINE, "{:?}", ack.took);
        ack.says("Capstan could not confirm in time that it took")
            .says("if nothing follows within two minutes, nothing changed");
    }
    assert!(click.took < SLACK_DEADLINE, "{:?}", click.took);
    click.says("could not confirm it received your click in time");

    // What reached the queue is carried out once and answered; what did not, never.
    s.work().await;
    assert_eq!(s.w.desired("api-service").await, 3);
    assert_eq!(s.w.group().await.0, 4);
    assert!(s.hook.at(&lost.path).is_empty());
    assert_eq!(s.hook.one(&kept.path)["response_type"], "in_channel");
}

#[tokio::test]
async fn a_slow_table_still_gets_status_within_3_seconds_then_through_response_url() {
    let s = Slack::new().await;
    let slow_table = build_handler(
        &s.w,
        &s.config,
        &slow_sdk(&s.w, Slow::Before, SLOW),
        &s.w.sdk,
        &s.work_url,
        &s.hook.prefix(),
    )
    .await;
    let (status, scale) = tokio::join!(
        s.command_by(&slow_table, TEAM, WATCHER, CHANNEL, "status api", None),
        s.command_by(&slow_table, TEAM, OPS, CHANNEL, "scale api 5", None),
    );
    assert!(status.took < SLACK_DEADLINE, "{:?}", status.took);
    status.says("Reading the status (AWS is slow); the answer follows here.");
    // A change never touches the table inline.
    assert!(scale.took < SLACK_DEADLINE, "{:?}", scale.took);
    scale.says("Working on `/capstan scale api 5`");
    s.work().await;
    let said = s.hook.one(&status.path);
    assert_eq!(said["response_type"], "ephemeral");
    assert!(text_of(&said).contains("*api*"), "{said:#}");
    assert!(!text_of(&said).contains("*web*"), "{said:#}");
    assert_eq!(s.w.desired("api-service").await, 5);
}

// ---------------------------------------------------------------------------------------------
// response_url
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn response_urls_outside_the_prefix_get_no_post_but_the_work_is_done() {
    let s = Slack::new().await;
    let other = FakeSlack::start().await;
    let ours = s.hook.prefix();
    let ours = ours.trim_end_matches('/');
    let urls = [
        "https://evil.example.com/commands/T0AAA111/1/x".to_string(),
        other.url("commands/T0AAA111/2/x"),
        format!("{ours}@evil.example.com/commands/3"),
        format!("{ours}0/commands/4"),
        "https://hooks.slack.com.evil.example.com/commands/5".to_string(),
    ];
    let mut acks = Vec::new();
    for (n, url) in urls.iter().enumerate() {
        let ack = s
            .command_by(
                &s.handler,
                TEAM,
                OPS,
                CHANNEL,
                &format!("scale web {}", n + 3),
                Some(url),
            )
            .await;
        ack.says("Working on");
        acks.push(ack);
        s.work().await;
    }
    // A confirmation asked for there is stored, but its buttons are posted nowhere.
    let big = s
        .command_by(
            &s.handler,
            TEAM,
            OPS,
            CHANNEL,
            "scale api 12",
            Some(&urls[1]),
        )
        .await;
    s.work().await;
    assert!(s.hook.posts().is_empty(), "{:#?}", s.hook.posts());
    assert!(other.posts().is_empty(), "{:#?}", other.posts());
    assert_eq!(s.w.group().await.0, 7, "every command carried out");
    assert_eq!(s.w.desired("api-service").await, 3);
    assert_eq!(
        s.request_state(&big.request_id).await,
        RequestState::Pending
    );
    for ack in &acks {
        let log = s.log_of(&ack.request_id, &["web"]).await;
        assert_eq!(log.len(), 1, "{log:#?}");
        assert_eq!(log[0].outcome, "changed");
    }
}

// ---------------------------------------------------------------------------------------------
// Slack and the alarms
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_pause_holds_the_alarms_and_after_resume_the_next_alarm_acts() {
    let s = Slack::new().await;
    s.command(OPS, CHANNEL, "pause api for 1h").await;
    s.work().await;

    s.advance(Duration::minutes(1));
    let resp =
        s.w.deliver(eventbridge(
            "api-cpu-critical",
            "ALARM",
            s.now(),
            Some(91.0),
        ))
        .await
        .unwrap();
    let r = &resp["reports"][0]["results"][0];
    assert_eq!(
        (r["outcome"].as_str(), r["reason"].as_str()),
        (Some("suppressed"), Some("paused")),
        "{resp:#}"
    );
    assert_eq!(s.w.desired("api-service").await, 3);

    s.advance(Duration::minutes(1));
    s.command(OPS, CHANNEL, "resume api").await;
    s.work().await;
    s.advance(Duration::minutes(1));
    let resp =
        s.w.deliver(eventbridge(
            "api-cpu-critical",
            "ALARM",
            s.now(),
            Some(93.0),
        ))
        .await
        .unwrap();
    let r = &resp["reports"][0]["results"][0];
    assert_eq!(r["outcome"], "changed", "{resp:#}");
    assert_eq!(s.w.desired("api-service").await, 5);
}

// ---------------------------------------------------------------------------------------------
// The audit trail capstan status shows
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_audit_trail_names_who_where_what_before_after_and_outcome() {
    let s = Slack::new().await;
    s.command(OPS, CHANNEL, "scale api 6").await;
    s.work().await;
    s.advance(Duration::seconds(10));
    s.command(WATCHER, CHANNEL, "scale api 9").await;
    s.work().await;
    s.advance(Duration::seconds(10));
    let ask = s.command(OPS, CHANNEL, "scale web 10").await;
    s.work().await;
    s.advance(Duration::seconds(10));
    s.click(CONFIRMER, "capstan_confirm", &s.confirmation_id(&ask.path))
        .await;
    s.work().await;
    s.advance(Duration::seconds(10));
    s.command(OPS, CHANNEL, "pause frontend for 2h").await;
    s.work().await;

    let runner = s.handler.runner();
    let snapshot = view::gather(runner).await.unwrap();
    let report = view::build(runner.policy(), &snapshot, s.now());
    let lines: Vec<String> = report.audit.iter().map(view::audit_line).collect();
    let find = |needle: &str| {
        lines
            .iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} in {lines:#?}"))
            .clone()
    };
    let scale = find("U0AAA111 in C0AAA111  scale api");
    assert!(scale.contains("3 -> 6"), "{scale}");
    assert!(scale.ends_with("changed"), "{scale}");
    let refused = find("U0CCC333 in C0AAA111  scale");
    assert!(refused.contains("refused"), "{refused}");
    assert!(refused.contains("may not use `scale`"), "{refused}");
    let confirmed = find("U0BBB222 in C0AAA111  confirm");
    assert!(confirmed.contains("confirmed"), "{confirmed}");
    let web = find("U0AAA111 in C0AAA111  scale web");
    assert!(web.contains("2 -> 10"), "{web}");
    let pause = find("U0AAA111 in C0AAA111  pause frontend");
    assert!(pause.contains("paused"), "{pause}");
    // Newest first.
    let at = |l: &str| lines.iter().position(|x| x == l).unwrap();
    assert!(at(&pause) < at(&web) && at(&web) < at(&scale), "{lines:#?}");
}

#[tokio::test]
async fn a_slack_retry_of_a_command_waiting_for_its_click_asks_once() {
    let s = Slack::new().await;
    let (body, id, path) = s.command_body(TEAM, OPS, CHANNEL, "scale api 12", None);
    s.ack(&s.signed("/slack/commands", &body))
        .await
        .says("Working on");
    s.work().await;
    assert_eq!(s.confirmation_id(&path), id);
    // Slack retries a few seconds later (signed anew): the same request.
    s.advance(Duration::seconds(3));
    let retry = Req {
        retry: Some("1"),
        ..s.signed("/slack/commands", &body)
    };
    s.ack(&retry).await.says("Working on");
    let failed = s.drain().await;
    assert!(failed.is_empty(), "the retry's record failed: {failed:?}");
    assert_eq!(s.hook.at(&path).len(), 1, "asked once");
    assert_eq!(s.request_state(&id).await, RequestState::Pending);
    // And the one click still works.
    let yes = s.click(OPS, "capstan_confirm", &id).await;
    s.work().await;
    assert_eq!(s.w.desired("api-service").await, 12);
    assert_eq!(s.hook.one(&yes.path)["replace_original"], true);
}

#[tokio::test]
async fn a_confirmed_click_whose_answer_failed_is_redelivered_acts_once_and_posts_once() {
    let s = Slack::new().await;
    let ask = s.command(OPS, CHANNEL, "scale api 12").await;
    s.work().await;
    let id = s.confirmation_id(&ask.path);
    s.hook.answer(Answer::Fail);
    s.advance(Duration::seconds(5));
    let yes = s.click(OPS, "capstan_confirm", &id).await;
    assert_eq!(
        s.drain().await.len(),
        1,
        "the post failed: the click is redelivered"
    );
    assert_eq!(s.w.desired("api-service").await, 12);
    // Someone sets api to 7 meanwhile: the redelivery must not act again.
    s.set_desired("api-service", 7).await;
    s.hook.answer(Answer::Ok);
    s.advance(Duration::seconds(30));
    s.work().await;
    assert_eq!(s.w.desired("api-service").await, 7);
    let posts = s.hook.at(&yes.path);
    assert_eq!(posts.len(), 2, "one failed, one made: {posts:#?}");
    assert_eq!(posts[1]["replace_original"], true, "{posts:#?}");
    assert!(text_of(&posts[1]).contains("→ desired 12"), "{posts:#?}");
    let changes: Vec<LogEntry> = s
        .log_of(&id, &["api"])
        .await
        .into_iter()
        .filter(|e| e.outcome == "changed")
        .collect();
    assert_eq!(changes.len(), 1, "{changes:#?}");
}
