//! Measures schedule ticks over 500 targets against moto: the AWS calls each tick makes (by
//! operation, and how many round trips one after another), its wall time, and what the handler
//! reported.
//!
//!     cargo run --release -p capstan-e2e --example tick_bench -- [RUNS]
//!
//! Each run starts its own moto, seeds it with 350 ECS services over three clusters (50 of them
//! with an Application Auto Scaling scalable target) and 150 Auto Scaling groups, writes a
//! policy with one target per resource, a business-hours period (08:00-20:00, floor 4) and a
//! night period (20:00-08:00, ceiling 10) over all of them and a daily 08:00 occurrence on the
//! groups, and delivers, through `schedule-handler`, on a Tuesday:
//!
//! 0. 07:55, the first tick: every target is read for the first time (night bounds hold);
//! 1. 08:00, the boundary: business hours raise every floor, so every target changes;
//! 2. 08:05, nothing to do: reads only;
//! 3. 08:30, after 10% of the targets drifted below the floor by hand: those change back.
//!
//! Every client records its calls (see `calls`); a wave is a set of calls in flight together,
//! so the number of waves is the number of round trips one after another.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use capstan_aws::testing::*;
use capstan_aws::{Clients, Timeouts};
use capstan_function::{Config, Function};
use capstan_runner::Clock;
use chrono::{DateTime, Duration, Utc};
use schedule_handler::Handler;
use serde_json::json;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

mod calls;
use calls::{Call, Calls};

/// Unmanaged ECS services per cluster.
const CLUSTERS: [&str; 3] = ["bench-a", "bench-b", "bench-c"];
const SERVICES_PER_CLUSTER: usize = 100;
/// ECS services with a scalable target (in their own cluster).
const MANAGED_CLUSTER: &str = "bench-m";
const MANAGED: usize = 50;
const GROUPS: usize = 150;
/// How many seeding calls are in flight at once.
const SEED_FAN_OUT: usize = 16;

/// Counts the answers with a 5xx status per operation (each one is retried by the SDK, and
/// every attempt is a call in `Calls`).
#[derive(Debug, Clone, Default)]
struct ServerErrors(Arc<Mutex<BTreeMap<String, usize>>>);

impl Intercept for ServerErrors {
    fn name(&self) -> &'static str {
        "ServerErrors"
    }
    fn read_before_deserialization(
        &self,
        c: &BeforeDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if c.response().status().is_server_error() {
            let op = cfg
                .load::<Metadata>()
                .map(|m| format!("{}:{}", m.service(), m.name()))
                .unwrap_or_else(|| "?".into());
            *self.0.lock().unwrap().entry(op).or_default() += 1;
        }
        Ok(())
    }
}

impl ServerErrors {
    fn take(&self) -> BTreeMap<String, usize> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Every client Capstan uses, each recording its calls into `calls` and its 5xx answers into
/// `errors`, with production's retries (4 attempts) but a longer time limit per attempt: moto
/// copies the whole table in every `TransactWriteItems` (to roll back), so against a table of
/// a few thousand items one transaction takes far longer than on DynamoDB, and production's
/// 3 s per attempt would time out.
fn clients(
    sdk: &aws_config::SdkConfig,
    calls: &Calls,
    errors: &ServerErrors,
) -> (Clients, aws_sdk_dynamodb::Client) {
    let t = Timeouts {
        attempt: StdDuration::from_secs(30),
        operation: StdDuration::from_secs(120),
        ..Timeouts::default()
    };
    let sdk = sdk
        .to_builder()
        .retry_config(t.retry_config())
        .timeout_config(t.timeout_config())
        .build();
    let plain = Clients::new(&sdk);
    let clients = Clients {
        ecs: aws_sdk_ecs::Client::from_conf(
            aws_sdk_ecs::config::Builder::from(&sdk)
                .interceptor(calls.clone())
                .interceptor(errors.clone())
                .build(),
        ),
        autoscaling: aws_sdk_autoscaling::Client::from_conf(
            aws_sdk_autoscaling::config::Builder::from(&sdk)
                .interceptor(calls.clone())
                .interceptor(errors.clone())
                .build(),
        ),
        aas: aws_sdk_applicationautoscaling::Client::from_conf(
            aws_sdk_applicationautoscaling::config::Builder::from(&sdk)
                .interceptor(calls.clone())
                .interceptor(errors.clone())
                .build(),
        ),
        sns: aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(&sdk)
                .interceptor(calls.clone())
                .interceptor(errors.clone())
                .build(),
        ),
        ssm: plain.ssm,
    };
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(calls.clone())
            .interceptor(errors.clone())
            .build(),
    );
    (clients, dynamodb)
}

#[derive(Clone)]
struct TestClock(Arc<Mutex<DateTime<Utc>>>);
impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn service(cluster: &str, i: usize) -> String {
    format!("{cluster}-svc-{i:03}")
}

fn group(i: usize) -> String {
    format!("bench-asg-{i:03}")
}

/// The generated policy: one target per resource (the target is named like its resource).
fn policy() -> String {
    let mut p = String::from("[settings]\nzone = \"UTC\"\ncatch_up = \"15m\"\n\n");
    let mut all = Vec::new();
    let target = |p: &mut String, name: &str, body: &str| {
        p.push_str(&format!(
            "[targets.{name}]\n{body}floor = 1\nceiling = 20\n\n"
        ));
    };
    for cluster in CLUSTERS {
        for i in 0..SERVICES_PER_CLUSTER {
            let s = service(cluster, i);
            target(
                &mut p,
                &s,
                &format!("kind = \"ecs\"\ncluster = \"{cluster}\"\nservice = \"{s}\"\n"),
            );
            all.push(s);
        }
    }
    for i in 0..MANAGED {
        let s = service(MANAGED_CLUSTER, i);
        target(
            &mut p,
            &s,
            &format!("kind = \"ecs\"\ncluster = \"{MANAGED_CLUSTER}\"\nservice = \"{s}\"\n"),
        );
        all.push(s);
    }
    let mut groups = Vec::new();
    for i in 0..GROUPS {
        let g = group(i);
        target(&mut p, &g, &format!("kind = \"asg\"\ngroup = \"{g}\"\n"));
        all.push(g.clone());
        groups.push(g);
    }
    let list = |names: &[String]| {
        names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    p.push_str(&format!(
        "[schedules.business-hours]\ntargets = [{}]\nweekdays = [\"mon-fri\"]\nbegin = \"08:00\"\nend = \"20:00\"\nfloor = 4\nceiling = 20\n\n",
        list(&all)
    ));
    p.push_str(&format!(
        "[schedules.night]\ntargets = [{}]\nbegin = \"20:00\"\nend = \"08:00\"\nfloor = 1\nceiling = 10\n\n",
        list(&all)
    ));
    p.push_str(&format!(
        "[schedules.morning]\ntargets = [{}]\ncron = \"0 8 * * *\"\ndesired = 6\n",
        list(&groups)
    ));
    p
}

/// Runs `jobs` at most [`SEED_FAN_OUT`] at a time.
async fn fan_out<F>(jobs: Vec<F>)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(SEED_FAN_OUT));
    let mut set = JoinSet::new();
    for job in jobs {
        let permits = Arc::clone(&permits);
        set.spawn(async move {
            let _p = permits.acquire_owned().await.unwrap();
            job.await
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
}

async fn seed(c: &Clients) {
    let started = Instant::now();
    for cluster in CLUSTERS.iter().chain([&MANAGED_CLUSTER]) {
        seed_ecs_cluster(c, cluster).await;
    }
    // The first group creates the shared launch configuration; the rest may go side by side.
    seed_asg(c, &group(0), 1, 10, 2).await;
    let mut jobs: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> = Vec::new();
    for cluster in CLUSTERS {
        for i in 0..SERVICES_PER_CLUSTER {
            let c = c.clone();
            jobs.push(Box::pin(async move {
                seed_ecs_service(&c, cluster, &service(cluster, i), 2).await;
            }));
        }
    }
    for i in 0..MANAGED {
        let c = c.clone();
        jobs.push(Box::pin(async move {
            let s = service(MANAGED_CLUSTER, i);
            seed_ecs_service(&c, MANAGED_CLUSTER, &s, 2).await;
            seed_scalable_target(&c, MANAGED_CLUSTER, &s, 1, 10).await;
        }));
    }
    for i in 1..GROUPS {
        let c = c.clone();
        jobs.push(Box::pin(async move {
            seed_asg(&c, &group(i), 1, 10, 2).await;
        }));
    }
    fan_out(jobs).await;
    eprintln!(
        "seeded {} ECS services ({MANAGED} with scalable targets) and {GROUPS} groups in {:.1} s",
        CLUSTERS.len() * SERVICES_PER_CLUSTER + MANAGED,
        started.elapsed().as_secs_f64()
    );
}

/// Sets 10% of the targets below the business-hours floor by hand: 35 unmanaged services and
/// 15 groups (moto's SetDesiredCapacity does not check the group's bounds).
async fn drift(c: &Clients) -> usize {
    let mut jobs: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> = Vec::new();
    for i in 0..35 {
        let c = c.clone();
        let cluster = CLUSTERS[i % CLUSTERS.len()];
        jobs.push(Box::pin(async move {
            c.ecs
                .update_service()
                .cluster(cluster)
                .service(service(cluster, i * 2))
                .desired_count(1)
                .send()
                .await
                .unwrap();
        }));
    }
    for i in 0..15 {
        let c = c.clone();
        jobs.push(Box::pin(async move {
            c.autoscaling
                .set_desired_capacity()
                .auto_scaling_group_name(group(i * 10))
                .desired_capacity(1)
                .send()
                .await
                .unwrap();
        }));
    }
    let n = jobs.len();
    fan_out(jobs).await;
    n
}

/// What Application Auto Scaling does on AWS and moto does not: a service whose scalable
/// target's minimum was raised above its desired count is scaled out to the minimum. Returns
/// how many were.
async fn settle_managed(c: &Clients) -> usize {
    let raised = Arc::new(Mutex::new(0));
    let mut jobs: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> = Vec::new();
    for i in 0..MANAGED {
        let c = c.clone();
        let raised = Arc::clone(&raised);
        jobs.push(Box::pin(async move {
            let s = service(MANAGED_CLUSTER, i);
            let (min, _) = read_scalable_target(&c, MANAGED_CLUSTER, &s)
                .await
                .expect("seeded scalable target");
            if read_desired_count(&c, MANAGED_CLUSTER, &s).await < min {
                c.ecs
                    .update_service()
                    .cluster(MANAGED_CLUSTER)
                    .service(&s)
                    .desired_count(min)
                    .send()
                    .await
                    .unwrap();
                *raised.lock().unwrap() += 1;
            }
        }));
    }
    fan_out(jobs).await;
    let n = *raised.lock().unwrap();
    n
}

/// What one tick did.
struct Tick {
    name: &'static str,
    wall: StdDuration,
    calls: Vec<Call>,
    by_operation: Vec<(String, usize)>,
    outcomes: BTreeMap<String, usize>,
    notices: usize,
    server_errors: BTreeMap<String, usize>,
}

async fn tick(
    name: &'static str,
    handler: &Handler,
    clock: &TestClock,
    (calls, errors): (&Calls, &ServerErrors),
    at: &str,
) -> Tick {
    let at = t(at);
    *clock.0.lock().unwrap() = at + Duration::seconds(2);
    calls.clear();
    errors.take();
    let started = Instant::now();
    // As Lambda does, an invocation that fails (moto answers some writes under load with a
    // 500 even after the SDK's retries) is retried, up to twice; the retry completes what the
    // first left.
    let payload = json!({"action": "tick", "scheduled_time": at.to_rfc3339()});
    let mut resp = handler.handle(payload.clone()).await;
    let mut invocations = 1;
    while let Err(e) = &resp {
        if invocations == 3 {
            panic!("tick {at}: {e}");
        }
        eprintln!("tick {at}: invocation {invocations} failed, retrying: {e}");
        invocations += 1;
        resp = handler.handle(payload.clone()).await;
    }
    let resp = resp.expect("retried until it succeeded");
    let wall = started.elapsed();
    let report = &resp["reports"][0];
    let mut outcomes = BTreeMap::new();
    for r in report["results"].as_array().unwrap() {
        let key = match r["reason"].as_str() {
            Some(reason) => format!("{} ({reason})", r["outcome"].as_str().unwrap()),
            None => r["outcome"].as_str().unwrap().to_string(),
        };
        *outcomes.entry(key).or_default() += 1;
    }
    Tick {
        name,
        wall,
        calls: calls.list(),
        by_operation: calls.by_operation(),
        outcomes,
        notices: report["notices"].as_array().map_or(0, Vec::len)
            + usize::from(report["digest"].is_string()),
        server_errors: errors.take(),
    }
}

/// The longest chain of calls each of which started after the one before it had answered: the
/// round trips one after another on the critical path (calls that overlap do not add up, as
/// they do not in `waves`, but a queue of calls that never all overlap does).
fn longest_chain(calls: &[Call]) -> usize {
    let mut sorted: Vec<(Instant, Instant)> = calls
        .iter()
        .map(|(_, s, e)| (*s, e.unwrap_or(*s)))
        .collect();
    sorted.sort();
    let mut depth: Vec<usize> = Vec::with_capacity(sorted.len());
    for (i, (start, _)) in sorted.iter().enumerate() {
        let before = (0..i)
            .filter(|&j| sorted[j].1 <= *start)
            .map(|j| depth[j])
            .max()
            .unwrap_or(0);
        depth.push(before + 1);
    }
    depth.into_iter().max().unwrap_or(0)
}

/// Waves with their operations counted and their length.
fn wave_summary(calls: &[Call]) -> Vec<(BTreeMap<String, usize>, StdDuration)> {
    let mut out: Vec<(BTreeMap<String, usize>, Instant, Instant)> = Vec::new();
    for (op, start, end) in calls {
        let end = end.unwrap_or(*start);
        match out.last_mut() {
            Some((ops, _, wave_end)) if start < wave_end => {
                *ops.entry(op.clone()).or_default() += 1;
                *wave_end = (*wave_end).max(end);
            }
            _ => out.push((BTreeMap::from([(op.clone(), 1)]), *start, end)),
        }
    }
    out.into_iter().map(|(ops, s, e)| (ops, e - s)).collect()
}

fn print_tick(t: &Tick) {
    let ms = |d: StdDuration| d.as_secs_f64() * 1000.0;
    let total: usize = t.by_operation.iter().map(|(_, n)| n).sum();
    let waves = wave_summary(&t.calls);
    println!("  {}: {:.0} ms wall", t.name, ms(t.wall));
    println!(
        "    report: {} ; {} notices",
        t.outcomes
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", "),
        t.notices
    );
    println!(
        "    AWS calls: {total}; {} round trips one after another (longest chain), {} waves of overlapping calls",
        longest_chain(&t.calls),
        waves.len()
    );
    let origin = t.calls.iter().map(|c| c.1).min();
    for (op, n) in &t.by_operation {
        let mine: Vec<&Call> = t.calls.iter().filter(|c| &c.0 == op).collect();
        let spent: StdDuration = mine.iter().filter_map(|c| c.2.map(|end| end - c.1)).sum();
        let first = mine.iter().map(|c| c.1).min();
        let last = mine.iter().filter_map(|c| c.2).max();
        let span = match (origin, first, last) {
            (Some(o), Some(f), Some(l)) => format!(", +{:.0}..+{:.0} ms", ms(f - o), ms(l - o)),
            _ => String::new(),
        };
        println!(
            "      {op}: {n} (mean {:.1} ms{span})",
            ms(spent) / (*n).max(1) as f64
        );
    }
    if !t.server_errors.is_empty() {
        println!(
            "    moto answered 5xx (retried by the SDK): {}",
            t.server_errors
                .iter()
                .map(|(op, n)| format!("{op} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let busy: StdDuration = waves.iter().map(|(_, d)| *d).sum();
    let first = t.calls.first().map(|c| c.1);
    let last = t.calls.iter().filter_map(|c| c.2).max();
    if let (Some(first), Some(last)) = (first, last) {
        let in_flight: StdDuration = t
            .calls
            .iter()
            .filter_map(|c| c.2.map(|end| end - c.1))
            .sum();
        println!(
            "    first call to last answer {:.0} ms ({:.0} ms of the wall time outside it), {:.0} ms of it in waves; {:.1} calls in flight on average",
            ms(last - first),
            ms(t.wall.saturating_sub(last - first)),
            ms(busy),
            in_flight.as_secs_f64() / (last - first).as_secs_f64().max(1e-9)
        );
    }
    const SHOWN: usize = 8;
    for (i, (ops, d)) in waves.iter().enumerate().take(SHOWN) {
        println!(
            "      {}. {:.0} ms: {}",
            i + 1,
            ms(*d),
            ops.iter()
                .map(|(op, n)| if *n == 1 {
                    op.clone()
                } else {
                    format!("{op} x{n}")
                })
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    if waves.len() > SHOWN {
        println!("      ... {} more", waves.len() - SHOWN);
    }
}

async fn run(n: usize) -> (Vec<Tick>, (StdDuration, StdDuration)) {
    let moto = capstan_moto::Moto::start().await;
    let sdk = moto.sdk_config().await;
    let plain = Clients::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    seed(&plain).await;
    let (topic_arn, _queue_url) = seed_topic_with_queue(&plain.sns, &sqs, "capstan").await;
    let store = capstan_store::Store::new(aws_sdk_dynamodb::Client::new(&sdk), "capstan-state");
    store.create_table().await.unwrap();

    let path = std::env::temp_dir().join(format!(
        "capstan-tick-bench-{}-{n}.toml",
        std::process::id()
    ));
    std::fs::write(&path, policy()).unwrap();
    let calls = Calls::default();
    let errors = ServerErrors::default();
    let (clients, dynamodb) = clients(&sdk, &calls, &errors);
    let rec = (&calls, &errors);
    let clock = TestClock(Arc::new(Mutex::new(t("2026-11-24T07:55:00Z"))));
    let config = Config {
        policy: path.display().to_string(),
        table: "capstan-state".into(),
        topic_arn: Some(topic_arn),
        dry_run: false,
        sns_topics: Vec::new(),
        scaling_resource_arns: Vec::new(),
    };
    let handler = Handler::new(
        capstan_function::runner_with_clients(
            "schedule-handler",
            &config,
            clients,
            dynamodb,
            Arc::new(clock.clone()),
        )
        .await
        .unwrap(),
    );
    std::fs::remove_file(&path).ok();
    assert_eq!(handler.runner().policy().targets.len(), 500);

    let mut ticks = Vec::new();
    for (name, at) in [
        ("07:55 first tick", "2026-11-24T07:55:00Z"),
        ("08:00 boundary", "2026-11-24T08:00:00Z"),
        ("08:05 nothing to do", "2026-11-24T08:05:00Z"),
        ("08:30 after 10% drifted", "2026-11-24T08:30:00Z"),
    ] {
        if at.ends_with("08:30:00Z") {
            let drifted = drift(&plain).await;
            assert_eq!(drifted, 50);
        }
        ticks.push(tick(name, &handler, &clock, rec, at).await);
        let raised = settle_managed(&plain).await;
        if raised > 0 {
            eprintln!("  (as AWS would, raised {raised} managed services to their new minimum)");
        }
    }
    let cpu = cpu(&handler, "2026-11-24T08:35:00Z").await;
    (ticks, cpu)
}

/// The CPU side of one tick over the stored state: the engine's decision, and what the runner
/// does per target besides (it works out that target's next state on a state of its own).
async fn cpu(handler: &Handler, at: &str) -> (StdDuration, StdDuration) {
    let runner = handler.runner();
    let names: Vec<String> = runner.policy().targets.keys().cloned().collect();
    let records = runner.store().load_targets(&names).await.unwrap();
    let state = capstan_policy::State {
        targets: records.into_iter().map(|(k, r)| (k, r.state)).collect(),
        ..capstan_policy::State::default()
    };
    assert_eq!(state.targets.len(), 500);
    let signal = capstan_policy::Signal::Tick(capstan_policy::signal::TickSignal::default());
    let started = Instant::now();
    let decision = capstan_policy::decide(runner.policy(), &signal, &state, t(at));
    let decide = started.elapsed();
    let started = Instant::now();
    for (name, ts) in &state.targets {
        let mut one = capstan_policy::State {
            targets: [(name.clone(), ts.clone())].into(),
            ..capstan_policy::State::default()
        };
        decision.apply(&mut one);
        std::hint::black_box(one);
    }
    (decide, started.elapsed())
}

/// What the ticks must have done, or the numbers measure something else.
fn check(ticks: &[Tick]) {
    let changed = |t: &Tick| t.outcomes.get("changed").copied().unwrap_or(0);
    assert_eq!(changed(&ticks[1]), 500, "the boundary changes every target");
    assert_eq!(changed(&ticks[2]), 0, "nothing changes at 08:05");
    assert!(
        !ticks[2].by_operation.iter().any(|(op, _)| {
            op.ends_with(":TransactWriteItems") || op.ends_with(":UpdateService")
        }),
        "a quiet tick only reads: {:?}",
        ticks[2].by_operation
    );
    assert_eq!(changed(&ticks[3]), 50, "only the drifted targets change");
    // People get one digest per tick that changes something, not one message per target.
    assert_eq!(ticks[1].notices, 1, "the boundary is one digest");
    assert_eq!(ticks[2].notices, 0, "a quiet tick says nothing");
    assert_eq!(ticks[3].notices, 1, "the drift is one digest");
}

#[tokio::main]
async fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("RUNS is a number"))
        .unwrap_or(1);
    for n in 1..=runs {
        let (ticks, (decide, clones)) = run(n).await;
        println!(
            "run {n}/{runs}: schedule ticks over 500 targets (350 ECS services, 50 of them with scalable targets, and 150 groups) against moto:"
        );
        for t in &ticks {
            print_tick(t);
        }
        println!(
            "  CPU: the engine decides a tick over the 500 targets in {:.1} ms; the 500 \
             one-target next states the runner works out take {:.1} ms",
            decide.as_secs_f64() * 1000.0,
            clones.as_secs_f64() * 1000.0
        );
        check(&ticks);
    }
}
