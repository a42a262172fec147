//! The policy as a versioned artifact, against moto's SSM: a pinned `ssm:NAME:VERSION` reads
//! that version, the loaded version is the runner's (its `ready` line, its log entries, the
//! function's response), and an unpinned parameter is read with a warning saying how to pin it.

use std::sync::Arc;

use aws_sdk_ssm::types::ParameterType;
use capstan_aws::Clients;
use capstan_function::testing::capture;
use capstan_function::{handle_each, load_policy, runner_with_clients, Config, ConfigError};
use capstan_moto::Moto;
use capstan_runner::FixedClock;

const POLICY: &str = include_str!("../../../capstan.example.toml");

/// moto with `/capstan/policy` at versions 1 and 2 (two valid policies, different texts).
async fn moto_with_two_versions() -> (Moto, aws_config::SdkConfig) {
    let moto = Moto::start().await;
    let sdk = moto.sdk_config().await;
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    for text in [POLICY.to_string(), format!("{POLICY}\n# version two\n")] {
        ssm.put_parameter()
            .name("/capstan/policy")
            .value(text)
            .r#type(ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .expect("put parameter");
    }
    (moto, sdk)
}

fn config(policy: &str) -> Config {
    Config {
        policy: policy.to_string(),
        table: "capstan-state".to_string(),
        topic_arn: None,
        dry_run: false,
        sns_topics: Vec::new(),
        scaling_resource_arns: Vec::new(),
    }
}

#[tokio::test]
async fn a_pinned_parameter_reads_its_version_and_the_runner_carries_it() {
    let (_moto, sdk) = moto_with_two_versions().await;
    let clients = Clients::new(&sdk);

    let pinned = load_policy("ssm:/capstan/policy:1", &clients)
        .await
        .expect("version 1");
    assert_eq!(pinned.version, "1");
    let latest = load_policy("ssm:/capstan/policy", &clients)
        .await
        .expect("latest");
    assert_eq!(latest.version, "2");
    let e = load_policy("ssm:/capstan/policy:5", &clients)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ConfigError::Policy { source_name, .. } if source_name == "ssm:/capstan/policy:5"),
        "{e}"
    );
    let e = load_policy("ssm:/capstan/policy:v5", &clients)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("CAPSTAN_POLICY"), "{e}");

    let (out, _guard) = capture();
    let clock = Arc::new(FixedClock("2026-12-07T10:00:00Z".parse().unwrap()));
    let runner = runner_with_clients(
        "alarm-handler",
        &config("ssm:/capstan/policy:1"),
        clients.clone(),
        aws_sdk_dynamodb::Client::new(&sdk),
        clock,
    )
    .await
    .expect("runner");
    assert_eq!(runner.policy_version(), Some("1"));
    let logged = out.text();
    let ready = logged
        .lines()
        .find(|l| l.contains("\"ready\""))
        .expect("a ready line");
    assert!(ready.contains("\"level\":\"INFO\""), "{ready}");
    assert!(ready.contains("\"policy_version\":\"1\""), "{ready}");
    assert!(!logged.contains("\"WARN\""), "pinned: no warning\n{logged}");
    // Not the policy's text, at any level.
    assert!(!logged.contains("[settings]"), "{logged}");

    let response = handle_each(&runner, [], runner.now())
        .await
        .expect("answer");
    assert_eq!(response["policy_version"], "1", "{response}");
}

#[tokio::test]
async fn an_unpinned_parameter_works_but_warns_how_to_pin_it() {
    let (_moto, sdk) = moto_with_two_versions().await;
    let (out, _guard) = capture();
    let clock = Arc::new(FixedClock("2026-12-07T10:00:00Z".parse().unwrap()));
    let runner = runner_with_clients(
        "schedule-handler",
        &config("ssm:/capstan/policy"),
        Clients::new(&sdk),
        aws_sdk_dynamodb::Client::new(&sdk),
        clock,
    )
    .await
    .expect("runner");
    assert_eq!(runner.policy_version(), Some("2"));
    let logged = out.text();
    let warn = logged
        .lines()
        .find(|l| l.contains("\"level\":\"WARN\""))
        .unwrap_or_else(|| panic!("a warning\n{logged}"));
    assert!(warn.contains("unpinned"), "{warn}");
    assert!(
        warn.contains("CAPSTAN_POLICY=ssm:/capstan/policy:2"),
        "{warn}"
    );
    assert!(logged.contains("\"policy_version\":\"2\""), "{logged}");
}
