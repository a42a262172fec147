//! AWS refusing a change: transient failures are undone and retried by Lambda, permanent ones
//! are recorded and announced and never retried. The failures are injected into the ECS
//! client's `UpdateService` responses; everything else is moto.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use alarm_handler::Handler;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use capstan_aws::Clients;
use capstan_function::{Config, Function};
use support::*;

/// Makes every `UpdateService` fail with `status` and an error of type `kind`: the request is
/// changed to name a service that does not exist (so moto changes nothing), and its response
/// replaced by the injected error.
#[derive(Debug, Clone)]
struct FailUpdateService {
    status: u16,
    kind: &'static str,
    seen: Arc<AtomicUsize>,
}

impl Intercept for FailUpdateService {
    fn name(&self) -> &'static str {
        "FailUpdateService"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<Metadata>().map(|m| m.name()) == Some("UpdateService") {
            *context.request_mut().body_mut() = SdkBody::from(
                r#"{"cluster":"main-cluster","service":"capstan-injected-failure","desiredCount":1}"#,
            );
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<Metadata>().map(|m| m.name()) != Some("UpdateService") {
            return Ok(());
        }
        self.seen.fetch_add(1, Ordering::SeqCst);
        let body = format!(
            r#"{{"__type":"{}","message":"injected by the test"}}"#,
            self.kind
        );
        let mut response = HttpResponse::new(
            StatusCode::try_from(self.status).unwrap(),
            SdkBody::from(body),
        );
        response
            .headers_mut()
            .insert("content-type", "application/x-amz-json-1.1");
        response.headers_mut().insert("x-amzn-errortype", self.kind);
        *context.response_mut() = response;
        Ok(())
    }
}

async fn failing_handler(
    w: &World,
    status: u16,
    kind: &'static str,
) -> (Handler, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let mut clients = Clients::new(&w.sdk);
    let ecs = aws_sdk_ecs::config::Builder::from(&w.sdk)
        .interceptor(FailUpdateService {
            status,
            kind,
            seen: seen.clone(),
        })
        .build();
    clients.ecs = aws_sdk_ecs::Client::from_conf(ecs);
    let config = Config {
        policy: example_policy(),
        table: TABLE.to_string(),
        topic_arn: Some(w.topic_arn.clone()),
        dry_run: false,
        sns_topics: Vec::new(),
    };
    let handler = Handler::new(
        capstan_function::runner_with_clients(
            "alarm-handler",
            &config,
            clients,
            aws_sdk_dynamodb::Client::new(&w.sdk),
            Arc::new(w.clock.clone()),
        )
        .await
        .unwrap(),
    );
    (handler, seen)
}

#[tokio::test]
async fn a_transient_failure_is_undone_and_the_retry_acts_once() {
    let w = World::new().await;
    let (failing, seen) = failing_handler(&w, 503, "ServerException").await;
    let event = fixture("alarm-eventbridge-state-change.json");

    let err = failing.handle(event.clone()).await.unwrap_err().to_string();
    assert!(err.contains("ServerException"), "{err}");
    assert!(
        seen.load(Ordering::SeqCst) > 1,
        "the SDK retried a 503 before giving up"
    );
    assert_eq!(w.desired("api-service").await, 3);
    // The record holds no trace of an action that did not happen.
    let rec = &w.store.load_targets(&["api".into()]).await.unwrap()["api"];
    assert!(rec.state.history.is_empty(), "{:?}", rec.state.history);
    assert!(rec.pending.is_none());
    assert!(rec
        .last_error
        .as_deref()
        .unwrap()
        .contains("ServerException"));
    let n = w.notifications().await;
    assert_eq!(n.len(), 1);
    assert_eq!(n[0]["_attributes"]["outcome"], "failed");

    // Lambda's retry, with AWS healthy again: acts, once.
    let resp = w.deliver(event.clone()).await.unwrap();
    assert_eq!(resp["reports"][0]["results"][0]["outcome"], "changed");
    assert_eq!(w.desired("api-service").await, 5);
    let resp = w.deliver(event).await.unwrap();
    assert_eq!(resp["reports"][0]["results"][0]["outcome"], "duplicate");
    assert_eq!(w.desired("api-service").await, 5);
}

#[tokio::test]
async fn access_denied_is_announced_once_and_not_retried() {
    let w = World::new().await;
    let (failing, seen) = failing_handler(&w, 400, "AccessDeniedException").await;
    let event = fixture("alarm-eventbridge-state-change.json");

    let resp = failing.handle(event.clone()).await.unwrap();
    let result = &resp["reports"][0]["results"][0];
    assert_eq!(result["outcome"], "failed");
    assert!(
        result["error"]
            .as_str()
            .unwrap()
            .contains("AccessDeniedException"),
        "{result}"
    );
    assert_eq!(
        seen.load(Ordering::SeqCst),
        1,
        "access denied is not retried"
    );
    assert_eq!(w.desired("api-service").await, 3);
    let n = w.notifications().await;
    assert_eq!(n.len(), 1);
    assert_eq!(n[0]["_attributes"]["outcome"], "failed");
    assert!(n[0]["_text"]
        .as_str()
        .unwrap()
        .contains("AccessDeniedException"));

    // A redelivery does not try again (it would fail the same way).
    let resp = failing.handle(event).await.unwrap();
    assert_eq!(resp["reports"][0]["results"][0]["outcome"], "duplicate");
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    assert!(w.notifications().await.is_empty());
}
