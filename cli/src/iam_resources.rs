//! `capstan iam-resources FILE --region R --account A`: the ARNs of every resource the policy's
//! targets name, comma-separated on one line: the resources a scaling grant can be narrowed to,
//! instead of every service and group of the account and region: the value of the template's
//! `ScalingResourceArns` parameter (infra/template.yaml, and infra/spoke.yaml's with
//! `--spoke`; infra/README.md, "Named resources"). ECS services as
//! `arn:PARTITION:ecs:R:A:service/CLUSTER/SERVICE`, Auto Scaling groups as
//! `arn:PARTITION:autoscaling:R:A:autoScalingGroup:*:autoScalingGroupName/NAME`.
//!
//! Targets in other accounts (`role_arn`) are reached through that account's spoke role
//! (infra/spoke.yaml): they are left out and noted on stderr, one line per account; `--spoke
//! ACCOUNT` prints that account's list instead (for its spoke role). A target
//! that is a tag selector cannot be named in advance: the command then refuses (a finding, exit 1)
//! and the grant cannot be narrowed by name.

use std::collections::BTreeMap;
use std::path::Path;

use capstan_policy::model::{region_problem, Target, TargetKind};

use crate::exit::{Failure, Outcome};

/// Runs the subcommand: the list on stdout when every target of the account is named; a finding
/// when the policy does not load or a target there is a tag selector; trouble for a bad region,
/// account or file.
pub fn run(file: &Path, region: &str, account: &str, spoke: Option<&str>) -> Outcome {
    if let Some(problem) = region_problem(region) {
        return Err(Failure::trouble(format!("--region: {problem}")));
    }
    for (flag, id) in [("--account", Some(account)), ("--spoke", spoke)] {
        if let Some(id) = id {
            if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Failure::trouble(format!(
                    "{flag}: `{id}` is not a 12-digit account id"
                )));
            }
        }
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::trouble(format!("cannot read {}: {e}", file.display())))?;
    let name = file.display().to_string();
    let policy = match capstan_policy::load_file(&text) {
        Ok(f) => f.policy,
        Err(e) => {
            eprint!("{}", crate::diagnostics::render(&name, &e));
            return Err(Failure::finding_because(format!(
                "{name}: the policy does not load; no ARN printed"
            )));
        }
    };
    let lists = arns(&policy.targets, region, account);
    let wanted = spoke.unwrap_or(account);
    let list = lists.get(wanted).cloned().unwrap_or_default();
    if !list.selectors.is_empty() {
        return Err(Failure::finding_because(format!(
            "target(s) {} select resources by tag: they cannot be named in advance, so the \
             grants cannot be narrowed by name (they stay account-wide, tag-scoped)",
            list.selectors.join(", ")
        )));
    }
    if list.arns.is_empty() {
        eprintln!(
            "capstan: no target of {name} is in account {wanted}: an empty list narrows \
             nothing"
        );
    }
    for (other, l) in &lists {
        if other == wanted {
            continue;
        }
        let how = if other == account {
            "the functions' own account: drop --spoke".to_string()
        } else {
            format!("its spoke role's list: --spoke {other}")
        };
        eprintln!(
            "capstan: {} target(s) in account {other} left out ({how})",
            l.arns.len() + l.selectors.len()
        );
    }
    println!("{}", list.arns.join(","));
    Ok(())
}

/// What one account's targets name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct AccountList {
    /// The resources' ARNs, sorted, each once.
    arns: Vec<String>,
    /// The targets that are tag selectors.
    selectors: Vec<String>,
}

/// The partition of `region`'s ARNs.
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The ARNs the targets name, per account (`account` for the functions' own targets, each
/// role's account for the others), in `region` unless the target names its own.
fn arns(
    targets: &BTreeMap<String, Target>,
    region: &str,
    account: &str,
) -> BTreeMap<String, AccountList> {
    let mut lists: BTreeMap<String, AccountList> = BTreeMap::new();
    for (key, t) in targets {
        let acct = t.account().unwrap_or(account).to_string();
        let region = t.region.as_deref().unwrap_or(region);
        let p = partition(region);
        let list = lists.entry(acct.clone()).or_default();
        let arn = match (t.kind, &t.selector) {
            (_, Some(_)) => {
                list.selectors.push(key.clone());
                continue;
            }
            (TargetKind::Ecs, None) => format!(
                "arn:{p}:ecs:{region}:{acct}:service/{}/{}",
                t.cluster.as_deref().unwrap_or_default(),
                t.service.as_deref().unwrap_or_default()
            ),
            (TargetKind::Asg, None) => format!(
                "arn:{p}:autoscaling:{region}:{acct}:autoScalingGroup:*:autoScalingGroupName/{}",
                t.group.as_deref().unwrap_or_default()
            ),
        };
        list.arns.push(arn);
    }
    for list in lists.values_mut() {
        list.arns.sort();
        list.arns.dedup();
    }
    lists
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions() {
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    }
}
