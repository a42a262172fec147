//! The Slack function end to end in memory: signed requests in, the acknowledgement, the queue's
//! jobs through the worker and the runner, the posts out. (The same against moto, with a real
//! queue and table, is in `tests/e2e/tests/slack.rs`.)

use std::sync::Arc;
use std::time::Duration as StdDuration;

use capstan_aws::{Live, Resource};
use capstan_function::Function;
use capstan_runner::memory::{ManualClock, Memory};
use capstan_runner::{Runner, SequentialIds};
use capstan_slack::{ResponseType, Verifier};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use slack_handler::memory::{MemoryParts, MemoryQueue, MemoryRequests, MemoryResponder};
use slack_handler::{Handler, Job};

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const HOOK: &str = "https://hooks.slack.com/commands/T0AAA111/1/abc";

const POLICY: &str = r#"
[targets.api]
kind = "ecs"
cluster = "main"
service = "api-service"
floor = 2
ceiling = 20

[targets.web]
kind = "ecs"
cluster = "main"
service = "web-service"
floor = 1
ceiling = 5

[slack]
confirm_above = 4

[[slack.grants]]
users = ["U0AAA111"]
channels = ["C0AAA111"]
verbs = ["status", "scale", "force", "pause", "resume", "undo"]

[[slack.grants]]
users = ["U0BBB222"]
verbs = ["confirm"]

[[slack.grants]]
users = ["U0CCC333"]
verbs = ["status"]

[[slack.grants]]
users = ["U0DDD444"]
verbs = ["status"]
targets = ["web"]
"#;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn api() -> Resource {
    Resource::ecs("main", "api-service")
}

struct World {
    memory: Memory,
    clock: ManualClock,
    queue: Arc<MemoryQueue>,
    responder: Arc<MemoryResponder>,
    requests: Arc<MemoryRequests>,
    handler: Handler,
    verifier: Verifier,
    messages: u32,
}

fn world() -> World {
    let memory = Memory::new();
    memory.add(api(), Live::steady(4));
    memory.add(Resource::ecs("main", "web-service"), Live::steady(2));
    let clock = ManualClock::at(t("2026-12-07T10:00:00Z"));
    let policy = capstan_policy::load(POLICY).expect("the test policy loads");
    let runner = Runner::with_ports(policy, memory.ports(), Arc::new(clock.clone()))
        .with_ids(Arc::new(SequentialIds::default()))
        .with_metrics(false);
    let slack = MemoryParts::default();
    let handler = Handler::with_parts(runner, slack.parts(SECRET));
    World {
        memory,
        clock,
        queue: slack.queue,
        responder: slack.responder,
        requests: slack.requests,
        handler,
        verifier: Verifier::new(SECRET),
        messages: 0,
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    capstan_slack::request::encode_form(pairs)
}

impl World {
    fn now(&self) -> DateTime<Utc> {
        self.handler.runner().now()
    }

    fn http(&self, path: &str, body: &str, signed_at: i64, signature: Option<String>) -> Value {
        let signature = signature.unwrap_or_else(|| self.verifier.sign(signed_at, body.as_bytes()));
        json!({
            "version": "2.0",
            "routeKey": format!("POST {path}"),
            "rawPath": path,
            "headers": {
                "content-type": "application/x-www-form-urlencoded",
                "x-slack-request-timestamp": signed_at.to_string(),
                "x-slack-signature": signature,
            },
            "requestContext": {"http": {"method": "POST", "path": path}},
            "body": body,
            "isBase64Encoded": false
        })
    }

    fn command_body(&mut self, user: &str, channel: &str, text: &str) -> String {
        self.messages += 1;
        form(&[
            ("team_id", "T0AAA111"),
            ("channel_id", channel),
            ("user_id", user),
            ("command", "/capstan"),
            ("text", text),
            ("response_url", HOOK),
            ("trigger_id", &format!("trigger.{}", self.messages)),
        ])
    }

    async fn send(&self, payload: Value) -> (i64, Value) {
        let deadline = self.now() + Duration::seconds(30);
        let out = self.handler.handle_by(payload, deadline).await.unwrap();
        let status = out["statusCode"].as_i64().unwrap();
        let body = out["body"].as_str().unwrap_or("");
        (
            status,
            serde_json::from_str(body).unwrap_or(Value::String(body.to_string())),
        )
    }

    async fn command(&mut self, user: &str, channel: &str, text: &str) -> (i64, Value) {
        let body = self.command_body(user, channel, text);
        let at = self.now().timestamp();
        self.send(self.http("/slack/commands", &body, at, None))
            .await
    }

    async fn click(&self, user: &str, action: &str, request_id: &str) -> (i64, Value) {
        let payload = json!({
            "type": "block_actions",
            "user": {"id": user, "team_id": "T0AAA111"},
            "team": {"id": "T0AAA111"},
            "channel": {"id": "C0AAA111"},
            "response_url": "https://hooks.slack.com/actions/T0AAA111/2/xyz",
            "actions": [{"action_id": action, "block_id": "capstan_req", "value": request_id, "type": "button"}]
        });
        let body = form(&[("payload", &payload.to_string())]);
        let at = self.now().timestamp();
        self.send(self.http("/slack/interactions", &body, at, None))
            .await
    }

    /// Runs every queued job through the worker; the ids of the records that failed.
    async fn drain(&self) -> Vec<String> {
        let jobs = self.queue.take();
        let records: Vec<Value> = jobs
            .iter()
            .enumerate()
            .map(|(i, j)| json!({"messageId": format!("m{i}"), "body": serde_json::to_string(j).unwrap(), "eventSource": "aws:sqs"}))
            .collect();
        if records.is_empty() {
            return Vec::new();
        }
        let deadline = self.now() + Duration::seconds(30);
        let out = self
            .handler
            .handle_by(json!({ "Records": records }), deadline)
            .await
            .unwrap();
        out["batchItemFailures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
            .collect()
    }

    fn desired(&self) -> u32 {
        self.memory.live(&api()).unwrap().desired
    }
}

fn text(v: &Value) -> String {
    v["text"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_bad_signature_is_401_and_nothing_is_queued() {
    let mut w = world();
    let body = w.command_body("U0AAA111", "C0AAA111", "scale api 6");
    let at = w.now().timestamp();
    for signature in [
        Some("v0=".to_string() + &"0".repeat(64)),
        Some("garbage".to_string()),
    ] {
        let (status, _) = w
            .send(w.http("/slack/commands", &body, at, signature))
            .await;
        assert_eq!(status, 401);
    }
    // Stale both ways.
    for skew in [-301, 301] {
        let (status, _) = w
            .send(w.http("/slack/commands", &body, at + skew, None))
            .await;
        assert_eq!(status, 401, "skew {skew}");
    }
    let (status, _) = w
        .send(w.http("/slack/commands", &body, at - 299, None))
        .await;
    assert_eq!(status, 200);
    assert_eq!(w.queue.take().len(), 1, "only the good request was queued");
}

#[tokio::test]
async fn a_small_scale_is_acknowledged_then_done_and_announced() {
    let mut w = world();
    let (status, ack) = w.command("U0AAA111", "C0AAA111", "scale api 6").await;
    assert_eq!(status, 200);
    assert_eq!(ack["response_type"], "ephemeral");
    assert!(text(&ack).contains("Working on"), "{ack}");
    assert_eq!(w.desired(), 4, "nothing changed before the worker");
    assert!(w.drain().await.is_empty());
    assert_eq!(w.desired(), 6);
    let posts = w.responder.messages();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].response_type, Some(ResponseType::InChannel));
    assert!(posts[0].text.contains("<@U0AAA111>"), "{}", posts[0].text);
}

#[tokio::test]
async fn a_slack_retry_acts_once_and_posts_once() {
    let mut w = world();
    let body = w.command_body("U0AAA111", "C0AAA111", "scale api 6");
    let at = w.now().timestamp();
    w.send(w.http("/slack/commands", &body, at, None)).await;
    let mut retried = w.http("/slack/commands", &body, at, None);
    retried["headers"]["x-slack-retry-num"] = json!("1");
    w.send(retried).await;
    let jobs = w.queue.take();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0].request_id(), jobs[1].request_id());
    for job in jobs {
        w.queue.jobs.lock().unwrap().push(job);
        assert!(w.drain().await.is_empty());
    }
    assert_eq!(w.desired(), 6);
    assert_eq!(w.responder.messages().len(), 1);
}

#[tokio::test]
async fn refusals_are_ephemeral_and_change_nothing() {
    let mut w = world();
    for (user, channel, text, says) in [
        ("U0CCC333", "C0AAA111", "scale api 6", "may not use `scale`"),
        ("U0AAA111", "C0ZZZ999", "scale api 6", "in channel C0ZZZ999"),
        ("U0AAA111", "C0AAA111", "scale nope 6", "nope"),
        ("U0AAA111", "C0AAA111", "reboot api", "unknown command"),
    ] {
        let (status, ack) = w.command(user, channel, text).await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(ack["response_type"], "ephemeral", "{text}");
        assert!(text_of(&ack).contains(says), "{text}: {ack}");
    }
    w.drain().await;
    assert_eq!(w.desired(), 4);
    assert!(
        w.responder.messages().is_empty(),
        "answered inline, not posted"
    );
    let audit = w.requests.audit.lock().unwrap().clone();
    assert_eq!(audit.len(), 4, "every refusal on the record: {audit:?}");
    assert!(audit.iter().all(|e| e.outcome == "refused"));
    assert_eq!(audit[0].by.as_deref(), Some("U0CCC333"));
    assert_eq!(audit[1].channel.as_deref(), Some("C0ZZZ999"));
    assert_eq!(audit[0].verb.as_deref(), Some("scale"));
}

fn text_of(v: &Value) -> String {
    text(v)
}

#[tokio::test]
async fn a_big_change_waits_for_the_requesters_click() {
    let mut w = world();
    w.command("U0AAA111", "C0AAA111", "scale api 12").await;
    assert!(w.drain().await.is_empty());
    assert_eq!(w.desired(), 4, "held for confirmation");
    let posts = w.responder.messages();
    assert_eq!(posts.len(), 1);
    let blocks = serde_json::to_value(&posts[0].blocks).unwrap();
    let id = blocks[1]["elements"][0]["value"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(id.starts_with("req-"), "{blocks}");

    // A stranger (U0CCC333, no `confirm` grant) is refused.
    w.click("U0CCC333", "capstan_confirm", &id).await;
    w.drain().await;
    assert_eq!(w.desired(), 4);
    let last = w.responder.messages().last().unwrap().clone();
    assert!(last.text.contains("Only <@U0AAA111>"), "{}", last.text);

    // The requester confirms: done, the message replaced, the channel told.
    let (status, _) = w.click("U0AAA111", "capstan_confirm", &id).await;
    assert_eq!(status, 200);
    w.drain().await;
    assert_eq!(w.desired(), 12);
    let posts = w.responder.messages();
    assert!(posts.iter().any(|m| m.replace_original == Some(true)));
    assert!(posts
        .iter()
        .any(|m| m.response_type == Some(ResponseType::InChannel)));

    // A second click is refused and changes nothing.
    w.memory.add(api(), Live::steady(7));
    w.clock.advance(Duration::seconds(3));
    w.click("U0AAA111", "capstan_confirm", &id).await;
    w.drain().await;
    assert_eq!(w.desired(), 7);
    let last = w.responder.messages().last().unwrap().clone();
    assert!(
        last.text.contains("already confirmed by <@U0AAA111>"),
        "{}",
        last.text
    );
}

#[tokio::test]
async fn a_user_granted_confirm_may_confirm_and_an_expired_click_is_refused() {
    let mut w = world();
    w.command("U0AAA111", "C0AAA111", "scale api 12").await;
    w.drain().await;
    let id = w
        .requests
        .requests
        .lock()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    w.clock.advance(Duration::minutes(31));
    w.click("U0AAA111", "capstan_confirm", &id).await;
    w.drain().await;
    assert_eq!(w.desired(), 4, "expired");

    w.command("U0AAA111", "C0AAA111", "scale api 12").await;
    w.drain().await;
    let ids: Vec<String> = w
        .requests
        .requests
        .lock()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let fresh = ids.into_iter().find(|i| *i != id).unwrap();
    w.click("U0BBB222", "capstan_confirm", &fresh).await;
    w.drain().await;
    assert_eq!(w.desired(), 12);
    let said = w
        .responder
        .messages()
        .iter()
        .any(|m| m.text.contains("confirmed by <@U0BBB222>"));
    assert!(said);
}

#[tokio::test(start_paused = true)]
async fn the_acknowledgement_beats_a_slow_queue() {
    let mut w = world();
    *w.queue.delay.lock().unwrap() = Some(StdDuration::from_secs(5));
    let started = tokio::time::Instant::now();
    let (status, ack) = w.command("U0AAA111", "C0AAA111", "scale api 6").await;
    let took = started.elapsed();
    assert_eq!(status, 200);
    assert!(took < StdDuration::from_secs(3), "{took:?}");
    assert!(text(&ack).contains("could not confirm"), "{ack}");
}

#[tokio::test]
async fn a_post_that_fails_is_retried_by_the_queue_and_made_once() {
    let mut w = world();
    *w.responder.fail_next.lock().unwrap() = 1;
    w.command("U0AAA111", "C0AAA111", "scale api 6").await;
    let job: Job = w.queue.jobs.lock().unwrap()[0].clone();
    assert_eq!(w.drain().await.len(), 1, "the failed post fails the record");
    assert_eq!(w.desired(), 6, "the change itself is made once");
    w.queue.jobs.lock().unwrap().push(job);
    assert!(w.drain().await.is_empty());
    assert_eq!(w.desired(), 6);
    assert_eq!(w.responder.messages().len(), 1);
}

#[tokio::test]
async fn ssl_check_and_help_answer_without_work() {
    let w = world();
    let body = form(&[("ssl_check", "1"), ("token", "x")]);
    let at = w.now().timestamp();
    let (status, _) = w.send(w.http("/slack/commands", &body, at, None)).await;
    assert_eq!(status, 200);
    let mut w = w;
    let (status, ack) = w.command("U0AAA111", "C0AAA111", "help").await;
    assert_eq!(status, 200);
    assert!(text(&ack).contains("scale"), "{ack}");
    assert!(w.queue.take().is_empty());
}

#[tokio::test]
async fn status_is_answered_inline_from_the_shared_view() {
    let mut w = world();
    let (status, ack) = w.command("U0CCC333", "C0AAA111", "status api").await;
    assert_eq!(status, 200);
    assert_eq!(ack["response_type"], "ephemeral");
    let said = text(&ack);
    assert!(said.contains("*api*") && said.contains("4/4"), "{said}");
    assert!(w.queue.take().is_empty(), "read inline, nothing queued");
}

#[tokio::test]
async fn status_shows_only_the_targets_a_grant_covers() {
    let mut w = world();
    let (_, ack) = w.command("U0DDD444", "C0AAA111", "status").await;
    let said = text(&ack);
    assert!(said.contains("*web*"), "{said}");
    assert!(!said.contains("*api*"), "{said}");
    let (_, ack) = w.command("U0CCC333", "C0AAA111", "status").await;
    let said = text(&ack);
    assert!(said.contains("*web*") && said.contains("*api*"), "{said}");
}

#[tokio::test]
async fn pause_is_announced_and_holds_until_resume() {
    let mut w = world();
    w.command("U0AAA111", "C0AAA111", "pause api for 1h").await;
    assert!(w.drain().await.is_empty());
    let last = w.responder.messages().last().unwrap().clone();
    assert_eq!(
        last.response_type,
        Some(ResponseType::InChannel),
        "{}",
        last.text
    );
    assert!(last.text.contains("paused"), "{}", last.text);
    let (_, ack) = w.command("U0CCC333", "C0AAA111", "status").await;
    assert!(text(&ack).contains("paused"), "{ack}");
    w.command("U0AAA111", "C0AAA111", "resume api").await;
    assert!(w.drain().await.is_empty());
    let last = w.responder.messages().last().unwrap().clone();
    assert!(last.text.contains("resumed"), "{}", last.text);
}

#[tokio::test]
async fn force_asks_with_a_danger_button_and_cancel_changes_nothing() {
    let mut w = world();
    w.command("U0AAA111", "C0AAA111", "scale api 25 --force")
        .await;
    w.drain().await;
    assert_eq!(w.desired(), 4);
    let posts = w.responder.messages();
    let blocks = serde_json::to_value(&posts[0].blocks).unwrap();
    let confirm = &blocks[1]["elements"][0];
    assert_eq!(confirm["style"], "danger", "{blocks}");
    assert_eq!(posts[0].response_type, Some(ResponseType::InChannel));
    let id = confirm["value"].as_str().unwrap().to_string();
    w.click("U0AAA111", "capstan_cancel", &id).await;
    w.drain().await;
    assert_eq!(w.desired(), 4);
    let last = w.responder.messages().last().unwrap().clone();
    assert!(
        last.text.contains("cancelled by <@U0AAA111>"),
        "{}",
        last.text
    );
    assert_eq!(last.replace_original, Some(true));
    // And a confirm after the cancel is refused.
    w.clock.advance(Duration::seconds(2));
    w.click("U0AAA111", "capstan_confirm", &id).await;
    w.drain().await;
    assert_eq!(w.desired(), 4);
    let audit = w.requests.audit.lock().unwrap().clone();
    let outcomes: Vec<&str> = audit.iter().map(|e| e.outcome.as_str()).collect();
    assert_eq!(outcomes, ["cancelled", "refused"], "{audit:?}");
}

#[tokio::test]
async fn a_job_too_old_is_refused_not_carried_out() {
    let mut w = world();
    w.command("U0AAA111", "C0AAA111", "scale api 6").await;
    w.clock.advance(Duration::minutes(16));
    assert!(w.drain().await.is_empty());
    assert_eq!(w.desired(), 4);
    let last = w.responder.messages().last().unwrap().clone();
    assert!(last.text.contains("too old"), "{}", last.text);
}
