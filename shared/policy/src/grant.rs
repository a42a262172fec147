//! The IAM resources the policy's targets are: the ARN of every ECS service and Auto Scaling
//! group a target names, per account, and which targets a given list of granted ARNs leaves out.
//!
//! One rule for `capstan iam-resources` (which prints the list a stack's `ScalingResourceArns`
//! takes) and the functions (which, given that list, warn at start about every target IAM will
//! deny): the two cannot disagree on what a target's ARN is.
//!
//! ECS services are named by their long ARN, `arn:P:ecs:R:A:service/CLUSTER/SERVICE`; Auto
//! Scaling groups as `arn:P:autoscaling:R:A:autoScalingGroup:*:autoScalingGroupName/NAME`, the
//! `*` standing for the UUID a group gets when it is created (unknown to the policy). A target
//! that is a tag selector names no resource in advance.

use std::collections::BTreeMap;

use crate::model::{Target, TargetKind};

/// The partition of `region`'s ARNs.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The ARN of the resource `target` names, in `account` and `region` unless the target names
/// its own (`role_arn`'s account, `region`); `None` for a tag selector.
pub fn target_arn(target: &Target, region: &str, account: &str) -> Option<String> {
    if target.selector.is_some() {
        return None;
    }
    let account = target.account().unwrap_or(account);
    let region = target.region.as_deref().unwrap_or(region);
    let p = partition(region);
    Some(match target.kind {
        TargetKind::Ecs => format!(
            "arn:{p}:ecs:{region}:{account}:service/{}/{}",
            target.cluster.as_deref().unwrap_or_default(),
            target.service.as_deref().unwrap_or_default()
        ),
        TargetKind::Asg => format!(
            "arn:{p}:autoscaling:{region}:{account}:autoScalingGroup:*:autoScalingGroupName/{}",
            target.group.as_deref().unwrap_or_default()
        ),
    })
}

/// What one account's targets name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AccountResources {
    /// The resources' ARNs, sorted, each once.
    pub arns: Vec<String>,
    /// The targets that are tag selectors (their keys), which name no resource in advance.
    pub selectors: Vec<String>,
}

/// The resources the targets name, per account: `account` for the functions' own targets, each
/// role's account for the others; in `region` unless a target names its own.
pub fn resources_by_account(
    targets: &BTreeMap<String, Target>,
    region: &str,
    account: &str,
) -> BTreeMap<String, AccountResources> {
    let mut lists: BTreeMap<String, AccountResources> = BTreeMap::new();
    for (key, t) in targets {
        let list = lists
            .entry(t.account().unwrap_or(account).to_string())
            .or_default();
        match target_arn(t, region, account) {
            Some(arn) => list.arns.push(arn),
            None => list.selectors.push(key.clone()),
        }
    }
    for list in lists.values_mut() {
        list.arns.sort();
        list.arns.dedup();
    }
    lists
}

/// A target of the functions' own account that a list of granted ARNs does not cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ungranted {
    /// The target's key in the policy.
    pub target: String,
    /// Its ARN (account `*`: the functions' own), or `None` for a tag selector, which no list
    /// of names covers.
    pub arn: Option<String>,
}

/// The targets of the functions' own account (no `role_arn`) whose resource no ARN of
/// `granted` matches, in key order. `granted` is IAM's: `*` and `?` are wildcards. The account
/// field is not compared (the list is given to the stack of the account it names; the
/// functions do not know their account id at start); targets in other accounts are their spoke
/// role's business and are not checked.
pub fn ungranted(
    targets: &BTreeMap<String, Target>,
    region: &str,
    granted: &[String],
) -> Vec<Ungranted> {
    targets
        .iter()
        .filter(|(_, t)| t.role_arn.is_none())
        .filter_map(|(key, t)| {
            let arn = target_arn(t, region, "*");
            let covered = arn
                .as_deref()
                .is_some_and(|arn| granted.iter().any(|g| arn_matches(g, arn)));
            (!covered).then(|| Ungranted {
                target: key.clone(),
                arn,
            })
        })
        .collect()
}

/// Whether IAM's resource pattern `pattern` covers `arn` (`*` covers all), field by field (`arn`, partition,
/// service, region, account, resource), the account field skipped. In the resource (which may
/// hold `:`), `*` in `pattern` matches any run of characters and `?` any one; a `*` of `arn`
/// (the UUID of an Auto Scaling group) is only matched by a `*` of the pattern, or by a
/// pattern naming the UUID, which the policy cannot: then any UUID goes.
fn arn_matches(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let (p, a): (Vec<&str>, Vec<&str>) = (
        pattern.splitn(6, ':').collect(),
        arn.splitn(6, ':').collect(),
    );
    if p.len() != 6 || a.len() != 6 {
        return false;
    }
    (0..6)
        .filter(|&i| i != 4)
        .all(|i| glob(p[i].as_bytes(), a[i].as_bytes()))
}

/// `*`/`?` matching of `text` by `pattern`; a `*` in `text` is matched by anything in the
/// pattern that matches one or more characters up to its next `:` (the UUID it stands for).
/// Each (pattern, text) position is decided once, so a pattern of many `*` stays quadratic at
/// worst rather than exponential.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let mut memo = vec![None; (pattern.len() + 1) * (text.len() + 1)];
    glob_at(pattern, text, 0, 0, &mut memo)
}

fn glob_at(p: &[u8], t: &[u8], i: usize, j: usize, memo: &mut [Option<bool>]) -> bool {
    let slot = i * (t.len() + 1) + j;
    if let Some(known) = memo[slot] {
        return known;
    }
    let matched = match (p.get(i), t.get(j)) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob_at(p, t, i + 1, j, memo) || (j < t.len() && glob_at(p, t, i, j + 1, memo))
        }
        (Some(_), Some(b'*')) => {
            // The target's UUID wildcard: the pattern's run up to its next ':' names one.
            let end = p[i..]
                .iter()
                .position(|&b| b == b':')
                .map_or(p.len(), |n| i + n);
            end > i && glob_at(p, t, end, j + 1, memo)
        }
        (Some(b'?'), Some(_)) => glob_at(p, t, i + 1, j + 1, memo),
        (Some(a), Some(b)) => a == b && glob_at(p, t, i + 1, j + 1, memo),
        _ => false,
    };
    memo[slot] = Some(matched);
    matched
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(extra: &str) -> BTreeMap<String, Target> {
        let text = format!(
            r#"
[targets.api]
kind = "ecs"
cluster = "main"
service = "api"
floor = 1
ceiling = 10

[targets.web]
kind = "asg"
group = "web-asg"
floor = 1
ceiling = 10
{extra}"#
        );
        crate::load(&text).expect("policy loads").targets
    }

    #[test]
    fn partitions() {
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    }

    #[test]
    fn the_list_covers_every_target_it_was_made_from() {
        let targets = policy("");
        let lists = resources_by_account(&targets, "eu-west-1", "111111111111");
        let arns = &lists["111111111111"].arns;
        assert_eq!(
            arns,
            &vec![
                "arn:aws:autoscaling:eu-west-1:111111111111:autoScalingGroup:*:autoScalingGroupName/web-asg".to_string(),
                "arn:aws:ecs:eu-west-1:111111111111:service/main/api".to_string(),
            ]
        );
        assert_eq!(ungranted(&targets, "eu-west-1", arns), vec![]);
    }

    #[test]
    fn a_target_left_out_of_the_list_is_named() {
        let targets = policy("");
        let only_api = vec!["arn:aws:ecs:eu-west-1:111111111111:service/main/api".to_string()];
        assert_eq!(
            ungranted(&targets, "eu-west-1", &only_api),
            vec![Ungranted {
                target: "web".into(),
                arn: Some(
                    "arn:aws:autoscaling:eu-west-1:*:autoScalingGroup:*:autoScalingGroupName/web-asg"
                        .into()
                ),
            }]
        );
        // Another region, cluster or service is no cover.
        for other in [
            "arn:aws:ecs:us-east-1:111111111111:service/main/api",
            "arn:aws:ecs:eu-west-1:111111111111:service/other/api",
            "arn:aws:ecs:eu-west-1:111111111111:service/main/api-v2",
            "arn:aws:autoscaling:eu-west-1:111111111111:autoScalingGroup:*:autoScalingGroupName/web",
        ] {
            let found = ungranted(&targets, "eu-west-1", &[other.to_string()]);
            assert_eq!(found.len(), 2, "{other} covers nothing: {found:?}");
        }
    }

    #[test]
    fn wildcards_are_iams() {
        let targets = policy("");
        let wide = vec![
            "arn:aws:ecs:eu-west-1:111111111111:service/main/*".to_string(),
            // A group named with its real UUID, as a hand-written policy would.
            "arn:aws:autoscaling:eu-west-1:111111111111:autoScalingGroup:6d4e3f1a-0000-4b1e-9c2d-1234567890ab:autoScalingGroupName/web-asg".to_string(),
        ];
        assert_eq!(ungranted(&targets, "eu-west-1", &wide), vec![]);
        let q = vec![
            "arn:aws:ecs:eu-west-?:111111111111:service/main/ap?".to_string(),
            "arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/web-*".to_string(),
        ];
        assert_eq!(ungranted(&targets, "eu-west-1", &q), vec![]);
    }

    #[test]
    fn selectors_and_other_accounts() {
        let targets = policy(
            r#"
[targets.workers]
kind = "ecs"
cluster = "main"
selector = { "team" = "batch" }
floor = 0
ceiling = 10

[targets.remote]
kind = "ecs"
cluster = "main"
service = "remote"
role_arn = "arn:aws:iam::222222222222:role/capstan-target"
floor = 1
ceiling = 10
"#,
        );
        let lists = resources_by_account(&targets, "eu-west-1", "111111111111");
        assert_eq!(lists["111111111111"].selectors, vec!["workers".to_string()]);
        assert_eq!(
            lists["222222222222"].arns,
            vec!["arn:aws:ecs:eu-west-1:222222222222:service/main/remote".to_string()]
        );
        // The hub's list is checked for the hub's own targets: the selector is named (no list
        // of names covers it), the spoke's target is not.
        let hub = &lists["111111111111"].arns;
        assert_eq!(
            ungranted(&targets, "eu-west-1", hub),
            vec![Ungranted {
                target: "workers".into(),
                arn: None
            }]
        );
    }

    #[test]
    fn a_pattern_of_many_stars_is_decided() {
        let targets = policy("");
        // Backtracking without memory would try every way of splitting the text among the
        // stars; decided position by position, it finishes and finds no match.
        let many = format!("arn:aws:ecs:eu-west-1:111111111111:{}x", "*".repeat(40));
        assert_eq!(ungranted(&targets, "eu-west-1", &[many]).len(), 2);
        let ends = format!("arn:aws:ecs:eu-west-1:111111111111:{}api", "*".repeat(40));
        assert_eq!(
            ungranted(&targets, "eu-west-1", &[ends]).len(),
            1,
            "api is covered"
        );
    }

    #[test]
    fn malformed_patterns_cover_nothing() {
        let targets = policy("");
        assert_eq!(ungranted(&targets, "eu-west-1", &["*".to_string()]), vec![]);
        for bad in ["", "arn:aws:ecs", "service/main/api"] {
            assert_eq!(
                ungranted(&targets, "eu-west-1", &[bad.to_string()]).len(),
                2,
                "{bad:?}"
            );
        }
    }
}
