//! `capstan iam-resources` end to end: the binary on the example policy, on a copy with a tag
//! selector, and on a target in another account.

use std::path::PathBuf;
use std::process::{Command, Output};

const EXAMPLE: &str = include_str!("../../capstan.example.toml");

fn example_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../capstan.example.toml")
}

fn iam_resources(file: &std::path::Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .arg("iam-resources")
        .arg(file)
        .args(["--region", "eu-west-1", "--account", "111111111111"])
        .args(extra)
        .output()
        .expect("the capstan binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scratch(name: &str, text: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, text).expect("the scratch file is written");
    path
}

#[test]
fn the_example_names_its_services_and_group() {
    let (code, out, err) = iam_resources(&example_path(), &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        "arn:aws:autoscaling:eu-west-1:111111111111:autoScalingGroup:*:autoScalingGroupName/aiwg-production-asg,\
         arn:aws:ecs:eu-west-1:111111111111:service/main-cluster/ai-service,\
         arn:aws:ecs:eu-west-1:111111111111:service/main-cluster/api-service,\
         arn:aws:ecs:eu-west-1:111111111111:service/main-cluster/frontend-service\n"
    );
}

#[test]
fn a_tag_selector_is_refused() {
    let tagged = "\n[targets.workers]\nkind = \"ecs\"\ncluster = \"main-cluster\"\n\
                  selector = { team = \"batch\" }\nfloor = 1\nceiling = 4\n";
    let file = scratch("iam-resources-selector.toml", &format!("{EXAMPLE}{tagged}"));
    let (code, out, err) = iam_resources(&file, &[]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("workers select resources by tag"), "{err}");
    assert!(err.contains("cannot be narrowed by name"), "{err}");
}

#[test]
fn targets_in_other_accounts_go_to_their_spoke() {
    let other = "\n[targets.remote]\nkind = \"asg\"\ngroup = \"far-asg\"\n\
                 role_arn = \"arn:aws:iam::222222222222:role/capstan-target\"\n\
                 region = \"us-east-1\"\nfloor = 1\nceiling = 4\n";
    let file = scratch("iam-resources-spoke.toml", &format!("{EXAMPLE}{other}"));
    let (code, out, err) = iam_resources(&file, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!out.contains("far-asg"), "{out}");
    assert!(
        err.contains("1 target(s) in account 222222222222 left out"),
        "{err}"
    );
    let (code, out, err) = iam_resources(&file, &["--spoke", "222222222222"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        "arn:aws:autoscaling:us-east-1:222222222222:autoScalingGroup:*:autoScalingGroupName/far-asg\n"
    );
}

#[test]
fn a_bad_account_is_trouble() {
    let (code, _, err) = iam_resources(&example_path(), &["--spoke", "12"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("not a 12-digit account id"), "{err}");
}

#[test]
fn a_list_too_long_for_the_managed_policy_is_printed_with_a_warning() {
    let many: String = (0..25)
        .map(|i| {
            format!(
                "\n[targets.svc{i}]\nkind = \"ecs\"\ncluster = \"main-cluster\"\n\
                 service = \"service-number-{i}\"\nfloor = 1\nceiling = 4\n"
            )
        })
        .collect();
    let file = scratch("iam-resources-many.toml", &format!("{EXAMPLE}{many}"));
    let (code, out, err) = iam_resources(&file, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.trim_end().split(',').count(), 29, "{out}");
    assert!(err.contains("29 ARNs"), "{err}");
    assert!(err.contains("6,144 characters"), "{err}");
    // The example's four are well within it: no warning.
    let (_, _, err) = iam_resources(&example_path(), &[]);
    assert!(!err.contains("6,144"), "{err}");
}
