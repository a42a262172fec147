//! Targets in other accounts, end to end against moto: the real alarm and schedule handlers
//! reach a service and a tagged group in account 222222222222 by assuming a role there (moto
//! keeps every account's resources apart, and answers an assumed role's calls in the role's
//! account), beside a target of the hub's own account; the same-named resources of the hub are
//! never touched.
//!
//! Moto lets any role be assumed (its STS needs no role to exist and checks no trust policy), so
//! the spoke role is not created in moto, and a role that cannot be assumed is played by the
//! test's HTTP client: it answers STS's `AccessDenied` for that one role, as STS answers a role
//! whose trust policy does not name the hub. Everything else reaches moto, through the real
//! SDK, aws-config's `AssumeRoleProvider` and Capstan's error classification.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use capstan_aws::testing as seedkit;
use capstan_aws::{Clients, ReachPool};
use capstan_function::Function;
use chrono::Duration;
use serde_json::Value;
use support::*;

const SPOKE: &str = "222222222222";
const ROLE: &str = "arn:aws:iam::222222222222:role/capstan-target";
/// A role whose trust policy does not name the hub (the test's HTTP client refuses it).
const REFUSED: &str = "arn:aws:iam::333333333333:role/capstan-target";
const WEB: &str = "web-asg";

fn policy() -> String {
    format!(
        r#"
[targets.api]
kind = "ecs"
cluster = "{CLUSTER}"
service = "api-service"
floor = 2
ceiling = 20

[targets.far-api]
kind = "ecs"
cluster = "{CLUSTER}"
service = "api-service"
floor = 2
ceiling = 20
role_arn = "{ROLE}"

[targets.far-web]
kind = "asg"
selector = {{ team = "web" }}
floor = 1
ceiling = 10
role_arn = "{ROLE}"

[targets.lost]
kind = "ecs"
cluster = "{CLUSTER}"
service = "api-service"
floor = 1
ceiling = 5
role_arn = "{REFUSED}"

[rules.far-cpu-high]
alarm = "far-cpu-high"
target = "far-api"
action = {{ add = 2 }}

[schedules.far-business-hours]
targets = ["far-web", "lost"]
weekdays = ["mon-fri"]
begin = "08:00"
end = "20:00"
floor = 3
"#
    )
}

/// The real HTTP client, except that STS refuses to let anyone assume [`REFUSED`]; counts the
/// `AssumeRole` requests per role.
#[derive(Debug, Clone)]
struct Sts {
    inner: SharedHttpClient,
    assumed: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
}

impl HttpClient for Sts {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(StsConnector {
            inner: self.inner.http_connector(settings, components),
            sts: self.clone(),
        })
    }
}

#[derive(Debug)]
struct StsConnector {
    inner: SharedHttpConnector,
    sts: Sts,
}

impl HttpConnector for StsConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = request
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).to_string())
            .unwrap_or_default();
        let assume = body.contains("Action=AssumeRole");
        let refused = assume && body.contains("333333333333");
        if assume && !refused {
            self.sts.assumed.fetch_add(1, Ordering::SeqCst);
        }
        if refused {
            self.sts.refused.fetch_add(1, Ordering::SeqCst);
            let xml = format!(
                "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>\
                 <Type>Sender</Type><Code>AccessDenied</Code><Message>User: \
                 arn:aws:sts::123456789012:assumed-role/hub/capstan is not authorized to \
                 perform: sts:AssumeRole on resource: {REFUSED}</Message></Error>\
                 <RequestId>capstan-test</RequestId></ErrorResponse>"
            );
            let mut response = HttpResponse::new(StatusCode::try_from(403).unwrap(), xml.into());
            response.headers_mut().insert("content-type", "text/xml");
            return HttpConnectorFuture::new(async move { Ok(response) });
        }
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move { inner.call(request).await })
    }
}

/// The spoke account's clients, through a session of its own (not Capstan's pool).
async fn spoke_clients(sdk: &aws_config::SdkConfig) -> Clients {
    let provider = AssumeRoleProvider::builder(ROLE)
        .configure(sdk)
        .session_name("e2e-seed")
        .build()
        .await;
    let cfg = sdk
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build();
    Clients::new(&cfg)
}

fn result<'a>(results: &'a [Value], target: &str) -> &'a Value {
    results
        .iter()
        .find(|r| r["target"] == target)
        .unwrap_or_else(|| panic!("no result for {target}: {results:#?}"))
}

#[tokio::test]
async fn an_alarm_and_a_tick_scale_another_account_and_a_refused_role_fails_alone_once() {
    let started = std::time::Instant::now();
    let path = write_policy("accounts", &policy());
    let w = World::with(Seed {
        policy: Some(path.clone()),
        ..Seed::default()
    })
    .await;
    // The hub has the same names: api-service (3, seeded by the world) and web-asg.
    seedkit::seed_asg_with_tags(&w.clients, WEB, 1, 10, 1, &[("team", "web")]).await;
    let spoke = spoke_clients(&w.sdk).await;
    seedkit::seed_ecs_service(&spoke, CLUSTER, "api-service", 3).await;
    seedkit::seed_asg_with_tags(&spoke, WEB, 1, 10, 1, &[("team", "web")]).await;
    // The spoke's own group apart from the hub's: moto answers the assumed role in its account.
    assert_eq!(seedkit::read_asg(&spoke, WEB).await, (1, 10, 1));

    let sts = Sts {
        inner: aws_smithy_http_client::Builder::new().build_http(),
        assumed: Arc::new(AtomicU64::new(0)),
        refused: Arc::new(AtomicU64::new(0)),
    };
    let sdk = w.sdk.to_builder().http_client(sts.clone()).build();
    let config = Config {
        policy: path,
        table: TABLE.to_string(),
        topic_arn: Some(w.topic_arn.clone()),
        dry_run: false,
        sns_topics: Vec::new(),
        scaling_resource_arns: Vec::new(),
    };
    // One pool per container, shared by the functions' runner, as `runner_with_config` does.
    let pool = ReachPool::new(Clients::new(&sdk), &sdk, "alarm-handler", "scale");
    let runner = capstan_function::runner_with_pool(
        "alarm-handler",
        &config,
        pool.clone(),
        aws_sdk_dynamodb::Client::new(&sdk),
        Arc::new(w.clock.clone()),
    )
    .await
    .unwrap();
    let alarm = alarm_handler::Handler::new(runner.clone());
    let schedule = schedule_handler::Handler::new(runner);

    // The alarm: far-api in the spoke +2; the hub's api-service stays.
    let at = w.now();
    let resp = alarm
        .handle(eventbridge("far-cpu-high", "ALARM", at, Some(91.0)))
        .await
        .unwrap();
    let rs = results(&resp);
    assert_eq!(result(&rs, "far-api")["outcome"], "changed", "{rs:#?}");
    assert_eq!(
        seedkit::read_desired_count(&spoke, CLUSTER, "api-service").await,
        5
    );
    assert_eq!(w.desired("api-service").await, 3, "the hub's service");
    assert_eq!(sts.assumed.load(Ordering::SeqCst), 1, "the pool's one");

    // A tick in business hours: far-web's floor 3 in the spoke (its group found by tag there);
    // lost's role is refused: it fails alone, naming the role; the others go on.
    let tick = |minutes: i64| at + Duration::minutes(minutes);
    w.at(tick(5));
    let resp = schedule
        .handle(serde_json::json!({
            "action": "tick",
            "scheduled_time": tick(5).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }))
        .await
        .unwrap();
    let rs = results(&resp);
    let web = result(&rs, &format!("far-web:{WEB}"));
    assert_eq!(web["outcome"], "changed", "{rs:#?}");
    let lost = result(&rs, "lost");
    assert_eq!(lost["outcome"], "failed", "{rs:#?}");
    let error = lost["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("cannot assume role {REFUSED}")) && error.contains("AccessDenied"),
        "{error}"
    );
    // (min, max, desired)
    assert_eq!(
        seedkit::read_asg(&spoke, WEB).await,
        (3, 10, 3),
        "the spoke's group"
    );
    assert_eq!(
        seedkit::read_asg(&w.clients, WEB).await,
        (1, 10, 1),
        "the hub's group"
    );
    assert_eq!(w.desired("api-service").await, 3, "the hub's service");

    // The next tick: the role still refused, the failure reported, not announced again.
    w.at(tick(10));
    let resp = schedule
        .handle(serde_json::json!({
            "action": "tick",
            "scheduled_time": tick(10).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }))
        .await
        .unwrap();
    let rs = results(&resp);
    assert_eq!(result(&rs, "lost")["outcome"], "failed", "{rs:#?}");

    let told = w.notifications().await;
    let about = |target: &str| -> Vec<&Value> {
        told.iter()
            .filter(|n| n["_attributes"]["target"] == target)
            .collect()
    };
    let lost_told = about("lost");
    assert_eq!(lost_told.len(), 1, "announced once: {told:#?}");
    let text = lost_told[0]["_text"].as_str().unwrap();
    assert!(text.contains(REFUSED), "{text}");
    assert_eq!(lost_told[0]["_attributes"]["outcome"], "failed");
    assert_eq!(about("far-api").len(), 1, "{told:#?}");
    assert!(
        about("far-api")[0]["_text"]
            .as_str()
            .unwrap()
            .contains(&format!("in account {SPOKE}")),
        "{told:#?}"
    );
    // The tick's change of the spoke's group is told in the tick's one digest, not on its own.
    let far_web = format!("far-web:{WEB}");
    assert!(about(&far_web).is_empty(), "{told:#?}");
    let digests: Vec<&Value> = told
        .iter()
        .filter(|n| n["_attributes"]["action"] == "digest")
        .collect();
    assert_eq!(digests.len(), 1, "one digest: {told:#?}");
    let listed: Vec<(String, Value, Value)> = digests[0]["body"]["digest"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let target = e["target"].as_str().unwrap().to_string();
            (
                target,
                e["from"]["desired"].clone(),
                e["to"]["desired"].clone(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [(far_web.clone(), Value::from(1), Value::from(3))],
        "{told:#?}"
    );
    assert!(about("api").is_empty(), "{told:#?}");

    // One assumption of the spoke's role for the pool, whatever the calls and ticks; the
    // refused one is asked again on each tick (a failure is not cached).
    assert_eq!(pool.reaches().await, 2);
    let assumed = sts.assumed.load(Ordering::SeqCst);
    let refused = sts.refused.load(Ordering::SeqCst);
    assert_eq!(assumed, 1, "the spoke's role, assumed once");
    assert!((2..=6).contains(&refused), "refused {refused} times");
    eprintln!(
        "accounts: AssumeRole of the spoke's role {assumed} for 1 alarm and 2 ticks over 2 \
         targets there; of the refused role {refused} (2 ticks); pool assumptions {}; {:.1} s",
        pool.assumptions(),
        started.elapsed().as_secs_f64()
    );
}
