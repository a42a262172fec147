//! The demo's Slack half: `/capstan` as Slack sends it (signed, through API Gateway's HTTP API),
//! the real `slack-handler` with its work queue and table on moto, and a tiny local HTTP
//! server playing Slack's `response_url`, which records what Capstan posts so the demo can
//! print what people would see.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use capstan_function::Function;
use capstan_runner::{view, Runner};
use capstan_slack::Verifier;
use serde_json::{json, Value};
use slack_handler::{Handler, HttpResponder, Parts, SqsQueue, ACK_BUDGET, QUEUE_RESERVE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The demo's signing secret (the real one comes from SSM or Secrets Manager).
pub const SECRET: &str = "demo-signing-secret-0123456789abcdef";
/// The workspace.
pub const TEAM: &str = "T0001";
/// `capstan.example.toml`'s on-call operator, granted everything in #ops-scaling.
pub const OPERATOR: &str = "U2147483697";
/// #ops-scaling.
pub const OPS_SCALING: &str = "C2147483705";
/// Someone the policy grants nothing.
pub const STRANGER: &str = "U0NOTALLOWED";

/// Slack's `response_url`, played on 127.0.0.1: every post is answered 200 and kept.
pub struct FakeSlack {
    addr: SocketAddr,
    posts: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeSlack {
    /// Listens on a free local port.
    pub async fn start() -> FakeSlack {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port for the fake Slack");
        let addr = listener.local_addr().expect("its address");
        let posts = Arc::new(Mutex::new(Vec::new()));
        let kept = posts.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, kept.clone()));
            }
        });
        FakeSlack { addr, posts, task }
    }

    /// The prefix its `response_url`s share (`CAPSTAN_SLACK_RESPONSE_PREFIX`).
    pub fn prefix(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// What was posted since the last call.
    pub fn take(&self) -> Vec<Value> {
        std::mem::take(&mut *self.posts.lock().unwrap())
    }
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One HTTP/1.1 request per connection: keeps the JSON body, answers `200 ok`.
async fn serve(mut stream: TcpStream, posts: Arc<Mutex<Vec<Value>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_end, length) = loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (end + 4, length);
        }
    };
    while buf.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = &buf[head_end..head_end + length];
    let message = serde_json::from_slice(body)
        .unwrap_or_else(|_| json!({"text": String::from_utf8_lossy(body)}));
    posts.lock().unwrap().push(message);
    let _ = stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
        .await;
}

/// What the acknowledgement answered: the HTTP status and the message, if any.
pub struct Ack {
    /// The HTTP status.
    pub status: i64,
    /// The body as JSON (a Slack message), or as text.
    pub body: Value,
}

/// The Slack function as the demo drives it.
pub struct Slack {
    handler: Handler,
    verifier: Verifier,
    fake: FakeSlack,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
    sent: AtomicU32,
}

impl Slack {
    /// Creates the work queue on moto and builds the handler: the real queue, table and HTTP
    /// client, posts allowed to the fake Slack's prefix.
    pub async fn start(runner: Runner, sdk: &aws_config::SdkConfig, table: &str) -> Slack {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let queue_url = sqs
            .create_queue()
            .queue_name("capstan-demo-slack-work")
            .send()
            .await
            .expect("sqs:CreateQueue")
            .queue_url
            .expect("a queue URL");
        let queue_arn = "arn:aws:sqs:us-east-1:123456789012:capstan-demo-slack-work".to_string();
        let fake = FakeSlack::start().await;
        let parts = Parts {
            verifier: Verifier::new(SECRET).into(),
            queue: Arc::new(SqsQueue::new(sqs.clone(), queue_url.clone())),
            responder: Arc::new(HttpResponder::new()),
            requests: Arc::new(capstan_store::Store::new(
                aws_sdk_dynamodb::Client::new(sdk),
                table,
            )),
            response_prefix: Some(fake.prefix()),
            ack_budget: ACK_BUDGET,
            queue_reserve: QUEUE_RESERVE,
        };
        Slack {
            handler: Handler::with_parts(runner, parts),
            verifier: Verifier::new(SECRET),
            fake,
            sqs,
            queue_url,
            queue_arn,
            sent: AtomicU32::new(0),
        }
    }

    /// Where the fake Slack listens.
    pub fn prefix(&self) -> String {
        self.fake.prefix()
    }

    /// The runner behind the handler.
    pub fn runner(&self) -> &Runner {
        self.handler.runner()
    }

    /// `/capstan text` from `user` in `channel`, signed now with the demo's secret.
    pub async fn command(&self, user: &str, channel: &str, text: &str) -> Ack {
        self.command_signed_by(&self.verifier, user, channel, text)
            .await
    }

    /// The same, signed by `verifier` (another secret: a forgery).
    pub async fn command_signed_by(
        &self,
        verifier: &Verifier,
        user: &str,
        channel: &str,
        text: &str,
    ) -> Ack {
        let n = self.sent.fetch_add(1, Ordering::Relaxed) + 1;
        let body = form(&[
            ("token", "deprecated-verification-token"),
            ("team_id", TEAM),
            ("team_domain", "example"),
            ("channel_id", channel),
            ("channel_name", "ops-scaling"),
            ("user_id", user),
            ("command", "/capstan"),
            ("text", text),
            (
                "response_url",
                &format!("{}commands/{TEAM}/{n}/demo", self.prefix()),
            ),
            ("trigger_id", &format!("demo.{n}.trigger")),
        ]);
        self.send("/slack/commands", &body, verifier).await
    }

    /// A click by `user` on a button (`capstan_confirm` or `capstan_cancel`) of request `id`.
    pub async fn click(&self, user: &str, action: &str, id: &str) -> Ack {
        let n = self.sent.fetch_add(1, Ordering::Relaxed) + 1;
        let payload = json!({
            "type": "block_actions",
            "user": {"id": user, "team_id": TEAM},
            "team": {"id": TEAM},
            "channel": {"id": OPS_SCALING, "name": "ops-scaling"},
            "trigger_id": format!("demo.{n}.click"),
            "response_url": format!("{}actions/{TEAM}/{n}/demo", self.prefix()),
            "actions": [{"type": "button", "action_id": action, "block_id": "capstan_req", "value": id}]
        });
        let body = form(&[("payload", &payload.to_string())]);
        self.send("/slack/interactions", &body, &self.verifier)
            .await
    }

    /// Delivers a signed request as API Gateway's HTTP API does (payload 2.0, form bodies
    /// base64-encoded).
    async fn send(&self, path: &str, body: &str, verifier: &Verifier) -> Ack {
        let at = self.runner().now().timestamp();
        let event = json!({
            "version": "2.0",
            "routeKey": format!("POST {path}"),
            "rawPath": path,
            "rawQueryString": "",
            "headers": {
                "content-type": "application/x-www-form-urlencoded",
                "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
                "x-slack-request-timestamp": at.to_string(),
                "x-slack-signature": verifier.sign(at, body.as_bytes()),
            },
            "requestContext": {"http": {"method": "POST", "path": path}},
            "body": base64::engine::general_purpose::STANDARD.encode(body),
            "isBase64Encoded": true
        });
        let out = self
            .handler
            .handle(event)
            .await
            .expect("the acknowledgement answers");
        let text = out["body"].as_str().unwrap_or("");
        Ack {
            status: out["statusCode"].as_i64().unwrap_or(0),
            body: serde_json::from_str(text).unwrap_or_else(|_| json!(text)),
        }
    }

    /// The work queue's event source mapping: what the queue holds goes to the same handler
    /// as an SQS event; records it did not report failed are deleted. Returns the job count.
    pub async fn work(&self) -> usize {
        let mut jobs = 0;
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("sqs:ReceiveMessage");
            let messages = out.messages();
            if messages.is_empty() {
                return jobs;
            }
            jobs += messages.len();
            let records: Vec<Value> = messages
                .iter()
                .map(|m| {
                    json!({
                        "messageId": m.message_id(),
                        "receiptHandle": m.receipt_handle(),
                        "body": m.body(),
                        "md5OfBody": m.md5_of_body(),
                        "attributes": {"ApproximateReceiveCount": "1"},
                        "messageAttributes": {},
                        "eventSource": "aws:sqs",
                        "eventSourceARN": self.queue_arn,
                        "awsRegion": "us-east-1"
                    })
                })
                .collect();
            let out = self
                .handler
                .handle(json!({ "Records": records }))
                .await
                .expect("the worker answers");
            let failed: Vec<&str> = out["batchItemFailures"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["itemIdentifier"].as_str())
                .collect();
            for m in messages {
                if failed.contains(&m.message_id().unwrap_or_default()) {
                    println!("   (the worker failed a job; the queue would redeliver it)");
                    continue;
                }
                if let Some(handle) = m.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .expect("sqs:DeleteMessage");
                }
            }
        }
    }

    /// What Capstan posted to the fake Slack since the last call.
    pub fn posts(&self) -> Vec<Value> {
        self.fake.take()
    }
}

/// A target's desired count and its bounds now, as `status` shows them.
pub async fn capacity_of(runner: &Runner, target: &str) -> (u32, u32, u32) {
    let snapshot = view::gather(runner).await.expect("the status view reads");
    let report = view::build(runner.policy(), &snapshot, runner.now());
    let t = report
        .targets
        .iter()
        .find(|t| t.instance == target)
        .expect("the target is in the view");
    let desired = t.live.as_ref().map_or(0, |l| l.desired);
    let (floor, ceiling) = t.bounds.as_ref().map_or((0, 0), |b| (b.floor, b.ceiling));
    (desired, floor, ceiling)
}

/// A small change (2, toward the nearer bound when there is room, so a big one fits the other
/// way) within `floor..=ceiling`.
pub fn small_step(desired: u32, floor: u32, ceiling: u32) -> u32 {
    let up = ceiling.saturating_sub(desired);
    let down = desired.saturating_sub(floor);
    if (up <= down && up >= 2) || down < 2 {
        (desired + 2).min(ceiling)
    } else {
        desired - 2
    }
}

/// A change of more than `confirm_above`, toward the farther bound.
pub fn big_step(desired: u32, floor: u32, ceiling: u32, confirm_above: u32) -> u32 {
    let step = confirm_above + 1;
    if ceiling.saturating_sub(desired) >= desired.saturating_sub(floor) {
        (desired + step).min(ceiling)
    } else {
        desired.saturating_sub(step).max(floor)
    }
}

/// Prints an acknowledgement as the user saw it.
pub fn show_ack(ack: &Ack) {
    match (ack.status, &ack.body) {
        (200, Value::String(s)) if s.is_empty() => {
            println!("   Slack <- HTTP 200, empty: nothing shown (the worker answers)")
        }
        (200, body) => {
            println!("   Slack <- HTTP 200");
            show_message(body);
        }
        (status, body) => println!(
            "   Slack <- HTTP {status}: {}",
            body.as_str()
                .map_or_else(|| body.to_string(), str::to_string)
        ),
    }
}

/// Prints what Capstan posted to `response_url`s.
pub fn show_posts(posts: &[Value]) {
    if posts.is_empty() {
        println!("   (nothing posted)");
    }
    for p in posts {
        println!("   Capstan -> response_url");
        show_message(p);
    }
}

/// One message: who sees it, its text (a line per line), its buttons.
fn show_message(m: &Value) {
    let whom = match (m["response_type"].as_str(), m["replace_original"].as_bool()) {
        (_, Some(true)) => "in #ops-scaling, replacing the buttons",
        (Some("in_channel"), _) => "in #ops-scaling, for everyone",
        _ => "only the sender sees",
    };
    let blocks = m["blocks"].as_array().cloned().unwrap_or_default();
    let text = blocks
        .iter()
        .find(|b| b["type"] == "section")
        .and_then(|b| b["text"]["text"].as_str())
        .or_else(|| m["text"].as_str())
        .unwrap_or("");
    let mut lines = text.lines();
    println!("     [{whom}] {}", mentions(lines.next().unwrap_or("")));
    for line in lines {
        println!("       {}", mentions(line));
    }
    let buttons: Vec<String> = blocks
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .map(|e| {
            let label = e["text"]["text"].as_str().unwrap_or("?");
            match e["confirm"]["title"]["text"].as_str() {
                Some(title) => format!("[{label}] (asks \"{title}\" first)"),
                None => format!("[{label}]"),
            }
        })
        .collect();
    if !buttons.is_empty() {
        println!("       buttons: {}", buttons.join(" "));
    }
}

/// Slack's markup as Slack shows it: `<@U123>` as `@U123`, `&gt;` as `>`.
fn mentions(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("<@") {
        let Some(len) = rest[start..].find('>') else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push('@');
        out.push_str(&rest[start + 2..start + len]);
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The request id the confirmation's buttons carry.
pub fn request_id(posts: &[Value]) -> Option<String> {
    posts.iter().find_map(|p| {
        p["blocks"].as_array()?.iter().find_map(|b| {
            b["elements"].as_array()?.iter().find_map(|e| {
                (e["action_id"] == "capstan_confirm")
                    .then(|| e["value"].as_str().map(str::to_string))
                    .flatten()
            })
        })
    })
}

fn form(pairs: &[(&str, &str)]) -> String {
    capstan_slack::request::encode_form(pairs)
}
