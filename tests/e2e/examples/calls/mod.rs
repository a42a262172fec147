//! Records every AWS call a client makes (operation, start, end), for the benchmarks.
//! Shared by the examples that measure AWS calls; each example uses part of it.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use capstan_aws::Clients;

/// One call: operation, start, end.
pub type Call = (String, Instant, Option<Instant>);

#[derive(Debug, Clone, Default)]
pub struct Calls(pub Arc<Mutex<Vec<Call>>>);

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "Calls"
    }
    fn read_before_transmit(
        &self,
        _c: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg
            .load::<Metadata>()
            .map(|m| format!("{}:{}", m.service(), m.name()))
            .unwrap_or_else(|| "?".into());
        let mut calls = self.0.lock().unwrap();
        cfg.interceptor_state().store_put(CallId(calls.len()));
        calls.push((op, Instant::now(), None));
        Ok(())
    }
    fn read_before_deserialization(
        &self,
        _c: &BeforeDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(CallId(i)) = cfg.load::<CallId>() {
            if let Some(c) = self.0.lock().unwrap().get_mut(*i) {
                c.2 = Some(Instant::now());
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
struct CallId(usize);

impl aws_smithy_types::config_bag::Storable for CallId {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

impl Calls {
    /// Every client Capstan uses, each recording into this list.
    pub fn clients(&self, sdk: &aws_config::SdkConfig) -> (Clients, aws_sdk_dynamodb::Client) {
        let plain = Clients::new(sdk);
        let clients = Clients {
            ecs: aws_sdk_ecs::Client::from_conf(
                aws_sdk_ecs::config::Builder::from(sdk)
                    .interceptor(self.clone())
                    .build(),
            ),
            autoscaling: aws_sdk_autoscaling::Client::from_conf(
                aws_sdk_autoscaling::config::Builder::from(sdk)
                    .interceptor(self.clone())
                    .build(),
            ),
            aas: aws_sdk_applicationautoscaling::Client::from_conf(
                aws_sdk_applicationautoscaling::config::Builder::from(sdk)
                    .interceptor(self.clone())
                    .build(),
            ),
            sns: aws_sdk_sns::Client::from_conf(
                aws_sdk_sns::config::Builder::from(sdk)
                    .interceptor(self.clone())
                    .build(),
            ),
            ssm: plain.ssm,
        };
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(sdk)
                .interceptor(self.clone())
                .build(),
        );
        (clients, dynamodb)
    }

    /// Forgets what was recorded.
    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }

    /// What was recorded.
    pub fn list(&self) -> Vec<Call> {
        self.0.lock().unwrap().clone()
    }

    /// Calls per operation, most first.
    pub fn by_operation(&self) -> Vec<(String, usize)> {
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        for (op, _, _) in self.0.lock().unwrap().iter() {
            *counts.entry(op.clone()).or_default() += 1;
        }
        let mut v: Vec<_> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }
}

/// Groups calls into waves: a call that starts before every earlier call has ended runs
/// beside them. The number of waves is the number of sequential round trips.
pub fn waves(calls: &[Call]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut wave_end: Option<Instant> = None;
    for (op, start, end) in calls {
        let end = end.unwrap_or(*start);
        match wave_end {
            Some(e) if *start < e => {
                out.last_mut().unwrap().push(op.clone());
                wave_end = Some(e.max(end));
            }
            _ => {
                out.push(vec![op.clone()]);
                wave_end = Some(end);
            }
        }
    }
    out
}
