//! A stack whose scaling grant is narrowed by name (`ScalingResourceArns`, given to the functions
//! as `CAPSTAN_SCALING_RESOURCE_ARNS`): at start the function warns about every target of the
//! policy that the list leaves out, before an alarm finds out through `AccessDenied`, and says
//! nothing when the list is what `capstan iam-resources` prints for the policy.

use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use capstan_aws::Clients;
use capstan_function::testing::capture;
use capstan_function::{runner_with_clients, Config};
use capstan_policy::grant::resources_by_account;
use capstan_runner::FixedClock;

const POLICY: &str = include_str!("../../../capstan.example.toml");
const ACCOUNT: &str = "111111111111";
const REGION: &str = "eu-west-1";

/// No call is made while the runner is built from a policy file: an SDK configuration that
/// reaches nothing will do.
fn sdk() -> SdkConfig {
    SdkConfig::builder()
        .region(Region::new(REGION))
        .behavior_version(BehaviorVersion::latest())
        .build()
}

/// The example policy in a file of its own per test (tests run at once).
fn policy_file(test: &str) -> std::path::PathBuf {
    let path =
        std::env::temp_dir().join(format!("capstan-grant-{}-{test}.toml", std::process::id()));
    std::fs::write(&path, POLICY).expect("write the policy");
    path
}

/// The `ready`-time log of a runner built with `granted` as its scaling grant.
async fn start_with(test: &str, granted: Vec<String>) -> String {
    let config = Config {
        policy: policy_file(test).display().to_string(),
        table: "capstan-state".to_string(),
        topic_arn: None,
        dry_run: false,
        sns_topics: Vec::new(),
        scaling_resource_arns: granted,
    };
    let (out, _guard) = capture();
    let sdk = sdk();
    runner_with_clients(
        "alarm-handler",
        &config,
        Clients::new(&sdk),
        aws_sdk_dynamodb::Client::new(&sdk),
        Arc::new(FixedClock("2026-12-07T10:00:00Z".parse().unwrap())),
    )
    .await
    .expect("runner");
    out.text()
}

fn warnings(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains("\"WARN\"")).collect()
}

/// What `capstan iam-resources` prints for the example policy, as a list.
fn printed() -> Vec<String> {
    let policy = capstan_policy::load_file(POLICY).expect("example").policy;
    resources_by_account(&policy.targets, REGION, ACCOUNT)[ACCOUNT]
        .arns
        .clone()
}

#[tokio::test]
async fn the_printed_list_covers_every_target_and_nothing_is_said() {
    let granted = printed();
    assert_eq!(granted.len(), 4, "{granted:?}");
    let log = start_with("printed", granted).await;
    assert_eq!(warnings(&log), Vec::<&str>::new(), "{log}");
    assert!(log.contains("\"ready\""), "{log}");
}

#[tokio::test]
async fn a_target_left_out_is_named_at_start() {
    let granted: Vec<String> = printed()
        .into_iter()
        .filter(|arn| !arn.ends_with("/ai-service"))
        .collect();
    let log = start_with("left-out", granted).await;
    let warned = warnings(&log);
    assert_eq!(warned.len(), 1, "{log}");
    let line = warned[0];
    assert!(line.contains("\"target\":\"ai\""), "{line}");
    assert!(
        line.contains("arn:aws:ecs:eu-west-1:*:service/main-cluster/ai-service"),
        "{line}"
    );
    assert!(line.contains("ScalingResourceArns"), "{line}");
    assert!(line.contains("capstan iam-resources"), "{line}");
}

#[tokio::test]
async fn no_list_no_check() {
    // Unset (the default stack): the grant is account-wide, tag-scoped; nothing to compare.
    let log = start_with("none", Vec::new()).await;
    assert_eq!(warnings(&log), Vec::<&str>::new(), "{log}");
}
