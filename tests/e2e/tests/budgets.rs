//! The budget path end to end: AWS Budgets alerts (plain text through SNS) handled by the real
//! `budget-handler` over moto (ECS, Application Auto Scaling, Auto Scaling, DynamoDB, SNS, SQS),
//! with the example policy: `ai-spend-80` notifies at 80% ACTUAL, `ai-spend-100` caps `ai` (an
//! ECS service with a scalable target 2..30) at its floor until the month ends; api is
//! critical and never touched.
//!
//! moto does not enforce a scalable target's bounds on the service's desired count (AWS does):
//! where a test goes on after a change of ai's bounds, [`aws_enforces_bounds`] plays AWS's part.

mod support;

use capstan_policy::signal::{CommandSignal, Signal};
use capstan_policy::state::BudgetCap;
use capstan_runner::Delivery;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use support::*;

/// The example's budget.
const BUDGET: &str = "AI-Service-Monthly";
/// The example's budgeted amount for it.
const BUDGETED: f64 = 5000.0;
/// The on-call operator and #ops-scaling: the example grants this user `lift-cap` there.
const OPERATOR: &str = "U2147483697";
const OPS_CHANNEL: &str = "C2147483705";

// ---------------------------------------------------------------------------------------------
// Alerts
// ---------------------------------------------------------------------------------------------

/// One AWS Budgets alert, as the example fixture's text with its facts replaced.
struct Alert<'a> {
    budget: &'a str,
    /// `ACTUAL` or `FORECASTED`.
    kind: &'a str,
    percent: f64,
    /// The SNS `Timestamp`.
    sent: &'a str,
    message_id: &'a str,
}

impl<'a> Alert<'a> {
    /// An alert for the example's budget, sent `sent`.
    fn ai(kind: &'a str, percent: f64, sent: &'a str) -> Alert<'a> {
        Alert {
            budget: BUDGET,
            kind,
            percent,
            sent,
            message_id: "6e0f3a2b-1c4d-5e6f-8a9b-0c1d2e3f4a5b",
        }
    }

    fn id(self, message_id: &'a str) -> Alert<'a> {
        Alert { message_id, ..self }
    }
}

/// `text` with `from` replaced by `to`; `from` must be there (a fixture that changed shape
/// must not silently give an unedited alert).
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in {text:?}");
    text.replace(from, to)
}

/// `$4,102.37`.
fn dollars(v: f64) -> String {
    let cents = (v * 100.0).round() as u64;
    let (whole, cents) = (cents / 100, cents % 100);
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("${grouped}.{cents:02}")
}

/// The SNS delivery of `a`: the real 80% ACTUAL fixture with a percentage threshold, with the
/// budget name, alert type, threshold, amount, letter date, `Timestamp` and `MessageId` replaced.
fn budget_alert(a: &Alert<'_>) -> Value {
    let mut e = fixture("budget-sns-actual-80pct-percent-threshold.json");
    let sent: DateTime<Utc> = t(a.sent);
    let sns = &mut e["Records"][0]["Sns"];
    let mut text = sns["Message"].as_str().unwrap().to_string();
    let amount = BUDGETED * a.percent / 100.0 + 3.2;
    text = edit(&text, "$4,102.37", &dollars(amount));
    text = edit(&text, "80.00%", &format!("{:.2}%", a.percent));
    text = edit(&text, "ACTUAL", a.kind);
    text = edit(&text, BUDGET, a.budget);
    text = edit(
        &text,
        "November 23, 2026",
        &sent.format("%B %-d, %Y").to_string(),
    );
    sns["Message"] = json!(text);
    sns["Subject"] = json!(format!(
        "AWS Budgets: {} has exceeded your alert threshold",
        a.budget
    ));
    sns["Timestamp"] = json!(a.sent);
    sns["MessageId"] = json!(a.message_id);
    e
}

/// The idempotency key the parser gives an alert of the example's budget.
fn key(kind: &str, percent: u32, month: &str) -> String {
    format!("budget:{BUDGET}:{kind}:{percent}:{month}")
}

// ---------------------------------------------------------------------------------------------
// Reading the world back
// ---------------------------------------------------------------------------------------------

fn result_for(resp: &Value, target: &str) -> Value {
    results(resp)
        .into_iter()
        .find(|r| r["target"] == target)
        .unwrap_or_else(|| panic!("no result for {target} in {resp:#}"))
}

fn text(n: &Value) -> &str {
    n["_text"].as_str().unwrap_or_default()
}

/// `target/outcome` of each notification.
fn kinds(n: &[Value]) -> Vec<String> {
    n.iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["_attributes"]["target"].as_str().unwrap_or("?"),
                m["_attributes"]["outcome"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

/// Every capacity Capstan could touch, as moto has it.
#[derive(Debug, PartialEq, Eq)]
struct Capacities {
    api: u32,
    frontend: u32,
    /// ai-service's desired count.
    ai: u32,
    /// ai-service's scalable target (min, max).
    ai_bounds: (u32, u32),
    /// The group (desired, min, max).
    web: (u32, u32, u32),
}

async fn capacities(w: &World) -> Capacities {
    Capacities {
        api: w.desired("api-service").await,
        frontend: w.desired("frontend-service").await,
        ai: w.desired("ai-service").await,
        ai_bounds: w.scalable("ai-service").await,
        web: w.group().await,
    }
}

/// The keys (`pk`, `sk`) of every item in the state table, sorted.
async fn table_keys(w: &World) -> Vec<(String, String)> {
    let out = aws_sdk_dynamodb::Client::new(&w.sdk)
        .scan()
        .table_name(TABLE)
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert!(out.last_evaluated_key().is_none(), "more than one page");
    let mut keys: Vec<(String, String)> = out
        .items()
        .iter()
        .map(|i| {
            (
                i["pk"].as_s().unwrap().clone(),
                i["sk"].as_s().unwrap().clone(),
            )
        })
        .collect();
    keys.sort();
    keys
}

/// The idempotency item of a signal that concerned no target.
fn idem(key: &str) -> (String, String) {
    (format!("idem#{key}"), "*".to_string())
}

async fn caps(w: &World) -> Vec<BudgetCap> {
    w.store.load_global().await.unwrap().caps
}

/// What Application Auto Scaling does on AWS and moto does not: it keeps the service's desired
/// count within the scalable target's bounds. Returns the desired count now.
async fn aws_enforces_bounds(w: &World) -> u32 {
    let (min, max) = w.scalable("ai-service").await;
    let desired = w.desired("ai-service").await;
    let within = desired.clamp(min, max);
    if within != desired {
        w.clients
            .ecs
            .update_service()
            .cluster(CLUSTER)
            .service("ai-service")
            .desired_count(within as i32)
            .send()
            .await
            .unwrap();
    }
    within
}

/// The ai-queue-deep alarm (60 queued items: +2 by the example's first step) at `at`.
async fn queue_deep(w: &World, at: DateTime<Utc>) -> Value {
    w.at(at);
    w.deliver(eventbridge("ai-queue-deep", "ALARM", at, Some(60.0)))
        .await
        .unwrap()
}

/// The 100% ACTUAL alert of 23 November 2026, delivered; asserts ai was capped.
async fn cap_ai(w: &World) -> Value {
    let resp = w
        .budget_alert(budget_alert(&Alert::ai(
            "ACTUAL",
            100.0,
            "2026-11-23T06:14:09.654Z",
        )))
        .await
        .unwrap();
    assert_eq!(outcomes(&resp), ["ai:changed"], "{resp:#}");
    assert_eq!(w.scalable("ai-service").await, (2, 2));
    resp
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn actual_80_percent_notifies_with_the_rules_message_and_changes_nothing() {
    let w = World::new().await;
    let before = capacities(&w).await;

    let resp = w
        .budget_alert(fixture("budget-sns-actual-80pct.json"))
        .await
        .unwrap();
    // No target decision: the 80% rule only notifies, the 100% rule is not reached.
    assert!(results(&resp).is_empty(), "{resp:#}");
    let said = notices(&resp);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("reached rule ai-spend-80"), "{}", said[0]);

    let n = w.notifications().await;
    assert_eq!(kinds(&n), ["*/notice"], "{n:#?}");
    assert!(
        text(&n[0]).contains("AI spend has passed 80% of the $5,000 monthly budget"),
        "{}",
        text(&n[0])
    );
    assert!(
        text(&n[0]).contains("4102.37 of 5000.00"),
        "{}",
        text(&n[0])
    );

    assert_eq!(capacities(&w).await, before);
    assert!(caps(&w).await.is_empty());
    // The only write: the alert's idempotency key.
    let k = key("ACTUAL", 80, "2026-11");
    assert_eq!(table_keys(&w).await, [idem(&k)]);

    // The same alert with its threshold written as a percentage (`> 80.00%`, not `> $4,000.00`
    // of $5,000), under another MessageId: the same key, a duplicate, no second notification.
    let resp = w
        .budget_alert(fixture("budget-sns-actual-80pct-percent-threshold.json"))
        .await
        .unwrap();
    assert_eq!(outcomes(&resp), ["*:duplicate"], "{resp:#}");
    assert!(w.notifications().await.is_empty());
    assert_eq!(table_keys(&w).await, [idem(&k)]);
}

#[tokio::test]
async fn actual_100_percent_caps_ai_until_the_month_ends_and_holds_scale_out() {
    let w = World::with(Seed {
        ai: 6,
        ..Seed::default()
    })
    .await;
    let before = capacities(&w).await;
    assert_eq!(before.ai_bounds, (2, 30));

    let resp = cap_ai(&w).await;
    // ai's ceiling comes down to its floor and desired with it: 6 of 2..30 -> 2 of 2..2.
    let ai = result_for(&resp, "ai");
    assert_eq!(ai["source"], "budget:ai-spend-100");
    assert_eq!(ai["from"], json!({"desired": 6, "min": 2, "max": 30}));
    assert_eq!(ai["to"], json!({"desired": 2, "min": 2, "max": 2}));
    // A managed service: Capstan sets the scalable target (which AWS enforces on the desired
    // count), never the desired count itself.
    let applied = ai["applied"].as_str().unwrap();
    assert!(
        applied.contains("scalable target min 2 max 2")
            && applied.contains("RegisterScalableTarget")
            && !applied.contains("UpdateService"),
        "{applied}"
    );
    let after = capacities(&w).await;
    assert_eq!(
        after,
        Capacities {
            ai_bounds: (2, 2),
            ..before
        },
        "only ai's scalable target changes; ai's desired count is left to AWS"
    );

    // The cap is in the table, set when the alert was handled, until the period it was sent
    // in resets.
    assert_eq!(
        caps(&w).await,
        [BudgetCap {
            budget: BUDGET.into(),
            rule: "ai-spend-100".into(),
            since: w.now(),
            until: t("2026-12-01T00:00:00Z"),
        }]
    );
    // ai's record and log have the action; no other target was written.
    let records = w
        .store
        .load_targets(&["ai".into(), "api".into(), "frontend".into(), "web".into()])
        .await
        .unwrap();
    assert_eq!(records.keys().collect::<Vec<_>>(), ["ai"]);
    let rec = &records["ai"];
    assert_eq!((rec.state.min, rec.state.max), (2, 2));
    assert!(rec.pending.is_none());
    let last = rec.state.history.last().unwrap();
    assert_eq!(
        (last.from, last.to, last.source.as_str()),
        (6, 2, "budget:ai-spend-100")
    );
    let log = w.store.recent_log("ai", 10).await.unwrap();
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0].key, key("ACTUAL", 100, "2026-11"));
    assert_eq!(log[0].outcome, "changed");

    // Announced once: the cap (with the rule's message) and ai's change. The 80% rule acts on
    // this alert too (a rule acts at or above its threshold): its reminder goes out beside.
    let said = notices(&resp);
    assert_eq!(said.len(), 2, "{said:?}");
    let n = w.notifications().await;
    assert_eq!(kinds(&n), ["*/notice", "*/notice", "ai/changed"], "{n:#?}");
    let cap_notices: Vec<&Value> = n
        .iter()
        .filter(|m| text(m).contains("caps non-critical capacity"))
        .collect();
    assert_eq!(cap_notices.len(), 1, "{n:#?}");
    let cap_text = text(cap_notices[0]);
    assert!(
        cap_text
            .contains("rule ai-spend-100 caps non-critical capacity until 2026-12-01 00:00:00Z")
            && cap_text.contains("/capstan lift-cap AI-Service-Monthly"),
        "{cap_text}"
    );
    assert!(
        n.iter()
            .any(|m| text(m).contains("reached rule ai-spend-80")),
        "{n:#?}"
    );
    let changed = &n[2];
    assert_eq!(changed["_attributes"]["action"], "scale-in");
    assert!(
        changed["_subject"].as_str().unwrap().contains("ai 6 -> 2"),
        "{}",
        changed["_subject"]
    );

    // AWS brings the service down within its new bounds; then a deep queue asks ai to grow:
    // the cap holds it, and says why.
    assert_eq!(aws_enforces_bounds(&w).await, 2);
    let resp = queue_deep(&w, t("2026-11-23T15:00:00Z")).await;
    assert_eq!(outcomes(&resp), ["ai:suppressed:at-ceiling"], "{resp:#}");
    let why = result_for(&resp, "ai")["explanation"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        why.contains("budget AI-Service-Monthly capped by rule ai-spend-100 until 2026-12-01"),
        "{why}"
    );
    assert_eq!(w.scalable("ai-service").await, (2, 2));
    assert_eq!(w.desired("ai-service").await, 2);
    let n = w.notifications().await;
    assert_eq!(kinds(&n), ["ai/suppressed"], "{n:#?}");
    assert!(text(&n[0]).contains("capped by rule ai-spend-100"));
    // Still one cap, unchanged.
    assert_eq!(caps(&w).await.len(), 1);
}

#[tokio::test]
async fn the_same_alert_delivered_twice_acts_once() {
    let w = World::with(Seed {
        ai: 6,
        ..Seed::default()
    })
    .await;
    cap_ai(&w).await;
    assert_eq!(w.notifications().await.len(), 3);
    let caps_before = caps(&w).await;
    let rec_before = w.store.load_targets(&["ai".into()]).await.unwrap()["ai"].clone();
    let keys_before = table_keys(&w).await;

    // moto leaves ai's desired count at 6 (AWS would bring it to 2): the engine, asked again,
    // would clamp it again. Only the key stops it.
    assert_eq!(w.desired("ai-service").await, 6);
    w.at(t("2026-11-23T18:30:00Z"));
    for (sent, id) in [
        // SNS redelivery: the same text under another MessageId.
        (
            "2026-11-23T06:14:09.654Z",
            "7a1b2c3d-4e5f-5a6b-9c8d-7e6f5a4b3c2d",
        ),
        // AWS Budgets sending the same alert again later in the month.
        (
            "2026-11-24T06:02:51.100Z",
            "8b2c3d4e-5f6a-5b7c-8d9e-0f1a2b3c4d5e",
        ),
    ] {
        let resp = w
            .budget_alert(budget_alert(&Alert::ai("ACTUAL", 100.0, sent).id(id)))
            .await
            .unwrap();
        // Both the notices (`*`) and ai's change were already handled.
        let mut got = outcomes(&resp);
        got.sort();
        assert_eq!(got, ["*:duplicate", "ai:duplicate"], "{resp:#}");
        assert!(notices(&resp).is_empty(), "{resp:#}");
        assert_eq!(resp["reports"][0]["key"], key("ACTUAL", 100, "2026-11"));
    }

    // No second notification, no second write of the cap, of ai's record or of its log.
    assert!(w.notifications().await.is_empty());
    assert_eq!(caps(&w).await, caps_before);
    let rec = &w.store.load_targets(&["ai".into()]).await.unwrap()["ai"];
    assert_eq!(rec, &rec_before);
    assert_eq!(rec.updated_at, t("2026-11-23T14:05:41Z"));
    assert_eq!(w.store.recent_log("ai", 10).await.unwrap().len(), 1);
    assert_eq!(table_keys(&w).await, keys_before);
    assert_eq!(w.scalable("ai-service").await, (2, 2));
}

#[tokio::test]
async fn the_period_reset_releases_the_cap() {
    let w = World::new().await;
    cap_ai(&w).await;
    aws_enforces_bounds(&w).await;
    w.notifications().await;

    // The last tick of November keeps the cap.
    let r = w.tick(t("2026-11-30T23:55:00Z")).await;
    let ai = result_for(&r, "ai");
    assert_eq!(ai["reason"], "already-right", "{r:#}");
    assert_eq!(w.scalable("ai-service").await, (2, 2));
    assert!(
        !kinds(&w.notifications().await)
            .iter()
            .any(|k| k.starts_with("ai/")),
        "nothing to say about ai"
    );

    // The first tick of December, after the cap's `until`: ai's ceiling is back.
    let r = w.tick(t("2026-12-01T00:05:00Z")).await;
    let ai = result_for(&r, "ai");
    assert_eq!(ai["outcome"], "changed", "{r:#}");
    assert_eq!(ai["to"], json!({"desired": 2, "min": 2, "max": 30}));
    assert!(
        !ai["explanation"].as_str().unwrap().contains("capped"),
        "{}",
        ai["explanation"]
    );
    assert_eq!(w.scalable("ai-service").await, (2, 30));
    // Told in the tick's digest, not on its own.
    let told = w.notifications().await;
    assert!(
        !told.iter().any(|m| m["_attributes"]["target"] == "ai"),
        "{told:#?}"
    );
    let digests: Vec<&Value> = told
        .iter()
        .filter(|m| m["_attributes"]["action"] == "digest")
        .collect();
    assert_eq!(digests.len(), 1, "one digest: {told:#?}");
    let listed: Vec<&Value> = digests[0]["body"]["digest"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == "ai")
        .collect();
    assert_eq!(listed.len(), 1, "{told:#?}");
    assert_eq!(listed[0]["to"], json!({"desired": 2, "min": 2, "max": 30}));
    assert!(text(digests[0]).contains("2..30"), "{}", text(digests[0]));
    let now = t("2026-12-01T00:05:00Z");
    assert!(
        caps(&w).await.iter().all(|c| c.until <= now),
        "no cap in force after the reset"
    );

    // ai scales out again.
    let resp = queue_deep(&w, t("2026-12-01T00:10:00Z")).await;
    assert_eq!(outcomes(&resp), ["ai:changed"], "{resp:#}");
    assert_eq!(w.scalable("ai-service").await, (4, 30));
    assert_eq!(aws_enforces_bounds(&w).await, 4);
    w.notifications().await;

    // December's own 100% alert is another alert (another month, another key): it caps again,
    // until January.
    let resp = w
        .budget_alert(budget_alert(&Alert::ai(
            "ACTUAL",
            100.0,
            "2026-12-21T05:58:30.000Z",
        )))
        .await
        .unwrap();
    assert_eq!(outcomes(&resp), ["ai:changed"], "{resp:#}");
    assert_eq!(resp["reports"][0]["key"], key("ACTUAL", 100, "2026-12"));
    assert_eq!(w.scalable("ai-service").await, (2, 2));
    let in_force: Vec<BudgetCap> = caps(&w)
        .await
        .into_iter()
        .filter(|c| c.until > t("2026-12-21T06:00:00Z"))
        .collect();
    assert_eq!(in_force.len(), 1, "{in_force:?}");
    assert_eq!(in_force[0].until, t("2027-01-01T00:00:00Z"));
    assert_eq!(
        kinds(&w.notifications().await),
        ["*/notice", "*/notice", "ai/changed"]
    );
}

#[tokio::test]
async fn forecasted_alerts_notify_only_unless_a_rule_says_so() {
    // The example has no FORECASTED rule: people are told, nothing is capped.
    let w = World::new().await;
    let before = capacities(&w).await;
    let resp = w
        .budget_alert(fixture("budget-sns-forecasted-100pct.json"))
        .await
        .unwrap();
    assert!(results(&resp).is_empty(), "{resp:#}");
    let n = w.notifications().await;
    assert_eq!(kinds(&n), ["*/notice"], "{n:#?}");
    assert!(
        text(&n[0]).contains("no rule acts on FORECASTED alerts"),
        "{}",
        text(&n[0])
    );
    assert_eq!(capacities(&w).await, before);
    assert!(caps(&w).await.is_empty());
    assert_eq!(
        table_keys(&w).await,
        [idem(&key("FORECASTED", 100, "2026-11"))]
    );

    // A policy with a FORECASTED cap rule acts on the same alert.
    let policy = write_policy(
        "budget-forecasted-cap",
        &format!(
            "{}\n[budgets.ai-forecast-100]\nbudget = \"{BUDGET}\"\nthreshold = 100.0\n\
             type = \"FORECASTED\"\naction = \"cap\"\ntargets = [\"ai\"]\nperiod = \"monthly\"\n",
            example_policy_text()
        ),
    );
    let w = World::with(Seed {
        policy: Some(policy),
        ..Seed::default()
    })
    .await;
    let before = capacities(&w).await;
    let resp = w
        .budget_alert(fixture("budget-sns-forecasted-100pct.json"))
        .await
        .unwrap();
    assert_eq!(outcomes(&resp), ["ai:changed"], "{resp:#}");
    assert_eq!(result_for(&resp, "ai")["source"], "budget:ai-forecast-100");
    assert_eq!(
        capacities(&w).await,
        Capacities {
            ai_bounds: (2, 2),
            ..before
        }
    );
    let c = caps(&w).await;
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(
        (c[0].rule.as_str(), c[0].until),
        ("ai-forecast-100", t("2026-12-01T00:00:00Z"))
    );
    let n = w.notifications().await;
    assert_eq!(kinds(&n), ["*/notice", "ai/changed"], "{n:#?}");
    assert!(
        text(&n[0]).contains("rule ai-forecast-100 caps"),
        "{}",
        text(&n[0])
    );
}

#[tokio::test]
async fn malformed_and_foreign_messages_fail_closed() {
    let w = World::new().await;
    let before = capacities(&w).await;

    let with_message = |message: &str| {
        let mut e = fixture("budget-sns-actual-80pct.json");
        e["Records"][0]["Sns"]["Message"] = json!(message);
        e
    };
    let good = budget_alert(&Alert::ai("ACTUAL", 100.0, "2026-11-23T06:14:09.654Z"));
    let good_text = good["Records"][0]["Sns"]["Message"]
        .as_str()
        .unwrap()
        .to_string();
    let mut two = good.clone();
    two["Records"]
        .as_array_mut()
        .unwrap()
        .push(with_message("hello")["Records"][0].clone());

    let cases: Vec<(&str, Value, &str)> =
        vec![
        (
            "an alarm (JSON) delivered on the budget topic",
            fixture("alarm-sns-single-metric.json"),
            "Records[0].Sns.Message: the message is JSON",
        ),
        (
            "random text",
            with_message("Your order has shipped.\nTracking: 1Z999AA10123456784\n"),
            "Records[0].Sns.Message: no \"Budget Name:\" line",
        ),
        (
            "a budget message without its Alert Type line",
            with_message(&edit(&good_text, "Alert Type: ACTUAL\n", "")),
            "Records[0].Sns.Message: no \"Alert Type:\" line",
        ),
        (
            "an unknown alert type",
            with_message(&edit(&good_text, "Alert Type: ACTUAL", "Alert Type: SOMETIMES")),
            "Records[0].Sns.Message: line \"Alert Type: SOMETIMES\": expected ACTUAL or FORECASTED",
        ),
        (
            "a payload without Records (an EventBridge alarm event)",
            fixture("alarm-eventbridge-state-change.json"),
            "Records: missing",
        ),
        (
            "a good 100% alert and a bad record in one payload",
            two,
            "Records[1].Sns.Message: no \"Budget Name:\" line",
        ),
    ];
    for (what, payload, says) in cases {
        let err = w.budget_alert(payload).await.expect_err(what);
        assert!(err.contains(says), "{what}: {err}");
        assert!(
            !err.contains("123456789012"),
            "{what}: the account leaked: {err}"
        );
    }

    // Nothing written, nothing published, nothing changed.
    assert_eq!(table_keys(&w).await, Vec::<(String, String)>::new());
    assert!(w.notifications().await.is_empty());
    assert_eq!(capacities(&w).await, before);
}

#[tokio::test]
async fn a_budget_no_rule_mentions_is_a_logged_no_op_and_one_notification() {
    let w = World::new().await;
    let before = capacities(&w).await;
    for (payload, budget, percent, k) in [
        (
            // The real Usage-budget fixture: GPU hours, 90% ACTUAL.
            fixture("budget-sns-usage-hours.json"),
            "GPU-Hours-Monthly",
            "90%",
            "budget:GPU-Hours-Monthly:ACTUAL:90:2026-11",
        ),
        (
            budget_alert(&Alert {
                budget: "Marketing-Monthly",
                ..Alert::ai("ACTUAL", 120.0, "2026-11-23T09:00:00.000Z")
            }),
            "Marketing-Monthly",
            "120%",
            "budget:Marketing-Monthly:ACTUAL:120:2026-11",
        ),
    ] {
        let resp = w.budget_alert(payload).await.unwrap();
        assert_eq!(outcomes(&resp), ["*:ignored:unknown-budget"], "{resp:#}");
        let n = w.notifications().await;
        assert_eq!(kinds(&n), ["*/notice"], "{n:#?}");
        assert!(
            text(&n[0]).contains(&format!(
                "Capstan saw a ACTUAL alert for budget {budget} at {percent}"
            )) && text(&n[0]).contains("no rule mentions this budget"),
            "{}",
            text(&n[0])
        );
        assert!(table_keys(&w).await.contains(&idem(k)));
    }
    // Nothing else: no cap, no target record, no log, no capacity change.
    assert_eq!(
        table_keys(&w).await,
        [
            idem("budget:GPU-Hours-Monthly:ACTUAL:90:2026-11"),
            idem("budget:Marketing-Monthly:ACTUAL:120:2026-11"),
        ]
    );
    assert_eq!(capacities(&w).await, before);
}

#[tokio::test]
async fn an_operator_lifts_the_cap_early_and_a_late_duplicate_does_not_cap_again() {
    let w = World::new().await;
    cap_ai(&w).await;
    w.notifications().await;
    let others = capacities(&w).await;

    w.at(t("2026-11-24T09:30:00Z"));
    let report = w
        .budget
        .runner()
        .handle(&Delivery {
            signal: Signal::Command(CommandSignal {
                user: OPERATOR.into(),
                channel: OPS_CHANNEL.into(),
                text: format!("lift-cap {BUDGET}"),
                confirmed: true,
            }),
            key: "slack:lift-cap:e2e-1".into(),
            at: None,
        })
        .await
        .unwrap();
    let report = serde_json::to_value(report).unwrap();
    assert!(
        report["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == &json!(format!("cap of budget {BUDGET} lifted early by {OPERATOR}"))),
        "{report:#}"
    );
    let ai = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"] == "ai")
        .cloned()
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(ai["outcome"], "changed", "{report:#}");
    assert_eq!(ai["to"], json!({"desired": 2, "min": 2, "max": 30}));

    assert!(caps(&w).await.is_empty());
    assert_eq!(
        capacities(&w).await,
        Capacities {
            ai_bounds: (2, 30),
            ..others
        }
    );
    let n = w.notifications().await;
    assert_eq!(kinds(&n), ["*/notice", "ai/changed"], "{n:#?}");
    assert!(text(&n[0]).contains("lifted early"), "{}", text(&n[0]));

    // AWS Budgets sends the 100% alert again the next day: the same alert (same key), already
    // handled. It does not cap again.
    w.at(t("2026-11-25T07:00:00Z"));
    let resp = w
        .budget_alert(budget_alert(
            &Alert::ai("ACTUAL", 100.0, "2026-11-25T06:11:40.250Z")
                .id("9c3d4e5f-6a7b-5c8d-9e0f-1a2b3c4d5e6f"),
        ))
        .await
        .unwrap();
    let mut got = outcomes(&resp);
    got.sort();
    assert_eq!(got, ["*:duplicate", "ai:duplicate"], "{resp:#}");
    assert!(caps(&w).await.is_empty());
    assert_eq!(w.scalable("ai-service").await, (2, 30));
    assert!(w.notifications().await.is_empty());

    // And ai scales out again.
    let resp = queue_deep(&w, t("2026-11-25T07:05:00Z")).await;
    assert_eq!(outcomes(&resp), ["ai:changed"], "{resp:#}");
    assert_eq!(w.scalable("ai-service").await, (4, 30));
}

#[tokio::test]
async fn budget_rules_never_touch_a_critical_target() {
    let text = example_policy_text();
    // A rule cannot even name one: the policy is refused.
    let naming_api = edit(
        &text,
        "action = \"cap\"\ntargets = [\"ai\"]",
        "action = \"cap\"\ntargets = [\"ai\", \"api\"]",
    );
    let refused = capstan_policy::load(&naming_api).unwrap_err().diagnostics;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0]
            .message
            .contains("`budgets.ai-spend-100.targets[1]` lists critical target `api`"),
        "{refused:?}"
    );

    // A variant where the 100% rule covers every non-critical target (no `targets` list) and
    // web is non-critical: ai and web are capped; api and frontend (critical, the default) are
    // not.
    let text = edit(
        &text,
        "[targets.web]\nkind = \"asg\"\n",
        "[targets.web]\nkind = \"asg\"\ncriticality = \"non-critical\"\n",
    );
    let text = edit(
        &text,
        "action = \"cap\"\ntargets = [\"ai\"]\n",
        "action = \"cap\"\n",
    );
    let w = World::with(Seed {
        api: 8,
        frontend: 6,
        web: 5,
        policy: Some(write_policy("budget-every-non-critical", &text)),
        ..Seed::default()
    })
    .await;
    let before = capacities(&w).await;
    let resp = w
        .budget_alert(budget_alert(&Alert::ai(
            "ACTUAL",
            100.0,
            "2026-11-23T06:14:09.654Z",
        )))
        .await
        .unwrap();
    let mut got = outcomes(&resp);
    got.sort();
    assert_eq!(got, ["ai:changed", "web:changed"], "{resp:#}");
    assert_eq!(
        result_for(&resp, "web")["to"],
        json!({"desired": 2, "min": 2, "max": 2})
    );
    assert_eq!(
        capacities(&w).await,
        Capacities {
            ai_bounds: (2, 2),
            web: (2, 2, 2),
            ..before
        },
    );
    assert_eq!((before.api, before.frontend), (8, 6));
    let records = w
        .store
        .load_targets(&["api".into(), "frontend".into()])
        .await
        .unwrap();
    assert!(records.is_empty(), "{records:#?}");
    let n = w.notifications().await;
    assert!(
        n.iter().all(
            |m| m["_attributes"]["target"] != "api" && m["_attributes"]["target"] != "frontend"
        ),
        "{n:#?}"
    );
}

#[tokio::test]
async fn dry_run_reports_the_cap_and_changes_nothing_on_aws() {
    let w = World::with(Seed {
        ai: 6,
        dry_run: true,
        ..Seed::default()
    })
    .await;
    let before = capacities(&w).await;
    let resp = w
        .budget_alert(budget_alert(&Alert::ai(
            "ACTUAL",
            100.0,
            "2026-11-23T06:14:09.654Z",
        )))
        .await
        .unwrap();
    assert_eq!(outcomes(&resp), ["ai:dry-run:dry-run"], "{resp:#}");
    assert_eq!(
        result_for(&resp, "ai")["to"],
        json!({"desired": 2, "min": 2, "max": 2})
    );
    assert_eq!(capacities(&w).await, before);
    let n = w.notifications().await;
    assert_eq!(kinds(&n), ["*/notice", "*/notice", "ai/dry-run"], "{n:#?}");
    assert!(
        text(&n[2]).contains("would go from desired 6"),
        "{}",
        text(&n[2])
    );
}

#[tokio::test]
async fn an_alert_handled_after_its_period_ended_does_not_cap_the_new_period() {
    // Sent two minutes before November ends, handled three minutes into December (SNS and
    // Lambda retries can delay a delivery that long). The cap belongs to November and ended
    // at midnight; December's budget is fresh.
    let w = World::new().await;
    w.at(t("2026-12-01T00:03:00Z"));
    let resp = w
        .budget_alert(budget_alert(&Alert::ai(
            "ACTUAL",
            100.0,
            "2026-11-30T23:58:00.000Z",
        )))
        .await
        .unwrap();
    assert!(
        caps(&w).await.iter().all(|c| c.until <= w.now()),
        "no cap in force in December"
    );
    // ai keeps its normal bounds on AWS, and people are told why nothing was capped.
    assert_eq!(w.scalable("ai-service").await, (2, 30), "{resp:#}");
    assert!(
        resp.to_string().contains("caps nothing now"),
        "the report says why: {resp:#}"
    );
}
