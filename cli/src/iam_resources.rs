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

use std::path::Path;

use capstan_policy::grant::resources_by_account;
use capstan_policy::model::region_problem;

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
    let lists = resources_by_account(&policy.targets, region, account);
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
    let joined = list.arns.join(",");
    if joined.len() > LONG_LIST {
        eprintln!(
            "capstan: the list is {} characters ({} ARNs): it appears twice in the stack's \
             FunctionPolicy (UpdateService, the Auto Scaling writes), whose size IAM caps at \
             6,144 characters, and in the functions' environment (4 KB in all); past about {LONG_LIST} \
             the deploy may fail: scope by tag alone instead (ScalingResourceArns empty)",
            joined.len(),
            list.arns.len()
        );
    }
    println!("{joined}");
    Ok(())
}

/// How long a list may be before the deploy risks IAM's managed-policy size (6,144 characters,
/// of which the rest of FunctionPolicy takes about 2,500, and the list is there twice) and
/// Lambda's 4 KB of environment variables.
const LONG_LIST: usize = 1_500;
