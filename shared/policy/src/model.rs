//! The policy file's data model: what an operator writes in `capstan.toml`.
//!
//! These types only describe; they hold no behaviour beyond parsing their own small value
//! formats (durations, times of day, weekdays, holidays, amounts). Checks that span several
//! entries (a rule naming an unknown target, overlapping periods, ...) live in [`crate::load`].
//! Every field is documented in `docs/policy.md` and by example in `capstan.example.toml`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::cron::CronExpr;

/// A whole policy file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Settings that apply to every target.
    #[serde(default)]
    pub settings: Settings,
    /// Named holiday calendars that schedules can refer to by name.
    #[serde(default)]
    pub holidays: BTreeMap<String, Vec<HolidaySpec>>,
    /// What Capstan may scale, keyed by a short name used everywhere else.
    #[serde(default)]
    pub targets: BTreeMap<String, Target>,
    /// Alarm rules, keyed by rule name.
    #[serde(default)]
    pub rules: BTreeMap<String, AlarmRule>,
    /// Schedules (periods and occurrences), keyed by schedule name.
    #[serde(default)]
    pub schedules: BTreeMap<String, Schedule>,
    /// Planned events (pre-event scaling), keyed by event name.
    #[serde(default)]
    pub events: BTreeMap<String, Event>,
    /// Budget rules, keyed by rule name.
    #[serde(default)]
    pub budgets: BTreeMap<String, BudgetRule>,
    /// Who may do what through Slack.
    #[serde(default)]
    pub slack: SlackAccess,
}

impl Policy {
    /// The runbook text that goes with what came of a target decided by `source`: that of the
    /// acting alarm rule `rule:NAME`, if it has one; none for any other source. The notice of
    /// the target's result carries it, after the words for what was done or held.
    pub fn runbook_for(&self, source: &str) -> Option<&str> {
        let rule = self.rules.get(source.strip_prefix("rule:")?)?;
        if rule.is_notify_only() {
            return None;
        }
        rule.runbook.as_deref()
    }
}

/// Settings that apply to every target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// When true, Capstan decides and reports but never changes capacity.
    #[serde(default)]
    pub dry_run: bool,
    /// The time zone used by schedules that do not name their own.
    #[serde(default = "default_zone")]
    pub zone: Tz,
    /// A scheduled occurrence older than this when first seen is reported as missed, not applied.
    #[serde(default = "default_catch_up")]
    pub catch_up: Dur,
    /// How long a `pause` lasts when the operator gives no duration.
    #[serde(default = "default_pause")]
    pub default_pause: Dur,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            dry_run: false,
            zone: default_zone(),
            catch_up: default_catch_up(),
            default_pause: default_pause(),
        }
    }
}

fn default_zone() -> Tz {
    Tz::UTC
}
fn default_catch_up() -> Dur {
    Dur::from_secs(15 * 60)
}
fn default_pause() -> Dur {
    Dur::from_secs(60 * 60)
}

/// What kind of AWS resource a target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// An ECS service (`cluster` + `service`).
    Ecs,
    /// An EC2 Auto Scaling group (`group`).
    Asg,
}

/// How much a target matters; budget rules never touch critical targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Criticality {
    /// Never capped by a budget rule.
    #[default]
    Critical,
    /// May be capped by budget rules.
    NonCritical,
}

/// Something Capstan scales: one ECS service or Auto Scaling group, or every one that carries
/// the tags in `selector`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// `ecs` or `asg`.
    pub kind: TargetKind,
    /// ECS cluster name (ECS targets).
    #[serde(default)]
    pub cluster: Option<String>,
    /// ECS service name (ECS targets without a selector).
    #[serde(default)]
    pub service: Option<String>,
    /// Auto Scaling group name (ASG targets without a selector).
    #[serde(default)]
    pub group: Option<String>,
    /// Resource tags: the entry covers every service or group carrying all of them.
    #[serde(default)]
    pub selector: Option<BTreeMap<String, String>>,
    /// The IAM role in another account through which the functions reach the target's
    /// resources (`arn:aws:iam::222222222222:role/capstan-target`); none: the functions' own
    /// account.
    #[serde(default)]
    pub role_arn: Option<String>,
    /// The region of the target's resources, when it is not the functions' own (needs
    /// `role_arn`).
    #[serde(default)]
    pub region: Option<String>,
    /// The external id the role's trust policy asks for (`sts:ExternalId`; needs `role_arn`).
    #[serde(default)]
    pub external_id: Option<String>,
    /// Hard lower bound on desired capacity.
    pub floor: u32,
    /// Hard upper bound on desired capacity.
    pub ceiling: u32,
    /// Largest change of desired capacity in one action (default: no limit beyond the bounds).
    #[serde(default)]
    pub max_step: Option<u32>,
    /// Most actions on this target in any rolling hour.
    #[serde(default = "default_max_actions")]
    pub max_actions_per_hour: u32,
    /// `critical` (default) or `non-critical`.
    #[serde(default)]
    pub criticality: Criticality,
    /// Decide and report, but never change this target.
    #[serde(default)]
    pub dry_run: bool,
    /// Cooldowns and the scale-in guard.
    #[serde(default)]
    pub cooldown: Cooldowns,
    /// Free-form tags shown in reports (cost allocation, owner...).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

fn default_max_actions() -> u32 {
    10
}

impl Target {
    /// The largest step one action may take on this target.
    pub fn max_step(&self) -> u32 {
        self.max_step
            .unwrap_or_else(|| self.ceiling.saturating_sub(self.floor).max(1))
    }

    /// The account the target's resources live in: the account of its `role_arn`, or `None`
    /// for the functions' own account (the hub's).
    pub fn account(&self) -> Option<&str> {
        self.role_arn.as_deref().and_then(role_account)
    }

    /// A readable name of the AWS resource, such as `ecs main-cluster/api-service`, and for a
    /// target in another account `ecs main-cluster/api-service in account 222222222222`.
    pub fn resource_label(&self) -> String {
        let label = match (self.kind, &self.selector) {
            (TargetKind::Ecs, None) => format!(
                "ecs {}/{}",
                self.cluster.as_deref().unwrap_or("?"),
                self.service.as_deref().unwrap_or("?")
            ),
            (TargetKind::Asg, None) => format!("asg {}", self.group.as_deref().unwrap_or("?")),
            (kind, Some(tags)) => {
                let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let kind = if kind == TargetKind::Ecs {
                    "ecs"
                } else {
                    "asg"
                };
                format!("{kind} tagged {}", tags.join(","))
            }
        };
        match (self.account(), &self.region) {
            (Some(account), Some(region)) => format!("{label} in account {account} ({region})"),
            (Some(account), None) => format!("{label} in account {account}"),
            _ => label,
        }
    }
}

/// The account id of an IAM role ARN (`arn:aws:iam::222222222222:role/x` gives
/// `222222222222`), or `None` when `arn` is not one ([`role_arn_problem`] says why).
pub fn role_account(arn: &str) -> Option<&str> {
    role_arn_problem(arn)
        .is_none()
        .then(|| arn.split(':').nth(4))
        .flatten()
}

/// What is wrong with `arn` as an IAM role ARN, if anything. IAM's rules:
/// `arn:<partition>:iam::<12 digits>:role/<path><name>`, where the partition is `aws` or
/// `aws-<something>` (`aws-cn`, `aws-us-gov`), the path is `/` or `/segments/` of printable
/// ASCII (at most 512 characters) and the name is 1 to 64 of `[A-Za-z0-9+=,.@_-]`.
pub fn role_arn_problem(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Some("has not the six `:`-separated parts of an ARN".into());
    };
    if prefix != "arn" {
        return Some("does not start with `arn:`".into());
    }
    let partition_ok = partition == "aws"
        || partition.strip_prefix("aws-").is_some_and(|p| {
            !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        });
    if !partition_ok {
        return Some(format!(
            "partition `{partition}` is not `aws`, `aws-cn`, `aws-us-gov`..."
        ));
    }
    if service != "iam" {
        return Some(format!("names service `{service}`, not `iam`"));
    }
    if !region.is_empty() {
        return Some("has a region; IAM ARNs have none (`arn:aws:iam::...`)".into());
    }
    if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
        return Some(format!("account `{account}` is not 12 digits"));
    }
    let Some(path_name) = resource.strip_prefix("role/") else {
        return Some("does not name a role (`...:role/NAME`)".into());
    };
    let (path, name) = match path_name.rfind('/') {
        Some(i) => (&path_name[..=i], &path_name[i + 1..]),
        None => ("", path_name),
    };
    if !(1..=64).contains(&name.len())
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    {
        return Some(format!(
            "role name `{name}` is not 1 to 64 of letters, digits and `+=,.@_-`"
        ));
    }
    // The path, with its leading `/` (IAM's), is at most 512 printable ASCII characters.
    if path.len() + 1 > 512 || !path.chars().all(|c| ('!'..='~').contains(&c)) {
        return Some(format!(
            "role path `/{path}` is not printable ASCII of at most 512"
        ));
    }
    if path.contains("//") {
        return Some(format!("role path `/{path}` has an empty segment"));
    }
    None
}

/// What is wrong with `region` as an AWS region name (`eu-west-1`, `us-gov-west-1`), if
/// anything: lower-case letters in two or more `-`-separated parts, ending in a number.
pub fn region_problem(region: &str) -> Option<String> {
    let parts: Vec<&str> = region.split('-').collect();
    let ok = parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts.last().is_some_and(|p| {
            !p.is_empty() && p.len() <= 2 && p.chars().all(|c| c.is_ascii_digit())
        });
    (!ok).then(|| format!("`{region}` is not a region name such as `eu-west-1`"))
}

/// What is wrong with `id` as an STS external id, if anything: 2 to 1224 characters of
/// letters, digits and `+=,.@:/-_` (STS's rule).
pub fn external_id_problem(id: &str) -> Option<String> {
    let n = id.chars().count();
    if !(2..=1224).contains(&n) {
        return Some(format!("is {n} characters; STS takes 2 to 1224"));
    }
    id.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(*c)))
        .map(|c| format!("has `{c}`; STS takes letters, digits and `+=,.@:/-_` only"))
}

/// Per-direction cooldowns and the scale-in guard of a target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cooldowns {
    /// After a scale-out, a further scale-out only adds the difference over it.
    #[serde(default = "default_out")]
    pub scale_out: Dur,
    /// After a scale-in, no further scale-in.
    #[serde(default = "default_in")]
    pub scale_in: Dur,
    /// No scale-in within this long of any scaling action (either direction).
    #[serde(default)]
    pub scale_in_guard: Option<Dur>,
}

impl Default for Cooldowns {
    fn default() -> Self {
        Cooldowns {
            scale_out: default_out(),
            scale_in: default_in(),
            scale_in_guard: None,
        }
    }
}

fn default_out() -> Dur {
    Dur::from_secs(300)
}
fn default_in() -> Dur {
    Dur::from_secs(600)
}

/// A CloudWatch alarm state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AlarmState {
    /// The alarm fired.
    #[serde(rename = "ALARM")]
    Alarm,
    /// The alarm recovered.
    #[serde(rename = "OK")]
    Ok,
    /// Not enough data.
    #[serde(rename = "INSUFFICIENT_DATA")]
    InsufficientData,
}

impl fmt::Display for AlarmState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AlarmState::Alarm => "ALARM",
            AlarmState::Ok => "OK",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        })
    }
}

fn default_alarm_state() -> AlarmState {
    AlarmState::Alarm
}

/// What an alarm rule does when it matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Add N to desired capacity.
    Add(u32),
    /// Remove N from desired capacity.
    Remove(u32),
    /// Change desired capacity by a percentage (100 doubles, -50 halves).
    Percent(i32),
    /// Set desired capacity to N.
    Set(u32),
    /// Size from the alarm's metric value: desired = ceil(value / per_unit x (1 + buffer_percent/100)).
    FromMetric {
        /// How much of the metric one unit of capacity handles.
        per_unit: f64,
        /// Head-room added on top, in percent.
        #[serde(default)]
        buffer_percent: f64,
    },
    /// Change nothing; tell people (with the rule's `runbook` text).
    Notify,
}

/// One step of a stepped alarm rule, chosen by the alarm's latest datapoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The step applies when the value is at least this (absent: no lower bound).
    #[serde(default)]
    pub lower: Option<f64>,
    /// The step applies when the value is below this (absent: no upper bound).
    #[serde(default)]
    pub upper: Option<f64>,
    /// What to do.
    pub action: Action,
}

/// An alarm rule: when an alarm whose name matches enters `state`, act on `target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmRule {
    /// Alarm name, exact or a glob (`api-*`).
    pub alarm: String,
    /// The state that triggers the rule (default `ALARM`).
    #[serde(default = "default_alarm_state")]
    pub state: AlarmState,
    /// The target to act on; may be absent only for notify-only rules.
    #[serde(default)]
    pub target: Option<String>,
    /// What to do (ignored when `steps` is given).
    #[serde(default)]
    pub action: Option<Action>,
    /// Actions chosen by the alarm's latest datapoint.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Overrides the target's cooldown for the direction of this rule's actions.
    #[serde(default)]
    pub cooldown: Option<Dur>,
    /// Overrides the target's scale-in guard for this rule.
    #[serde(default)]
    pub scale_in_guard: Option<Dur>,
    /// Text for the people notified: what to check, what to do by hand. It rides on the
    /// notice of what Capstan did (or wanted to do and was held from): write what people
    /// should do, not what Capstan did.
    #[serde(default)]
    pub runbook: Option<String>,
    /// When CloudWatch suppresses the alarm's actions (`actionsSuppressedBy`), do nothing but
    /// record and announce it (default). `false`: act as if nothing were suppressed.
    #[serde(default = "yes")]
    pub honour_suppression: bool,
}

impl AlarmRule {
    /// True when the rule's pattern matches the alarm name.
    pub fn matches(&self, alarm: &str) -> bool {
        if self.is_glob() {
            glob::Pattern::new(&self.alarm)
                .map(|p| p.matches(alarm))
                .unwrap_or(false)
        } else {
            self.alarm == alarm
        }
    }

    /// True when the pattern holds glob characters.
    pub fn is_glob(&self) -> bool {
        self.alarm.contains(['*', '?', '['])
    }

    /// True when the rule never changes capacity.
    pub fn is_notify_only(&self) -> bool {
        self.steps.is_empty() && matches!(self.action, Some(Action::Notify) | None)
    }
}

/// A schedule: a *period* (`begin`/`end`, sets floor/ceiling while it holds) or an
/// *occurrence* (`cron`, sets desired once each time it comes round).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Targets the schedule applies to.
    pub targets: Vec<String>,
    /// IANA time zone of `begin`, `end`, `cron` and holidays (default: `settings.zone`).
    #[serde(default)]
    pub zone: Option<Tz>,
    /// Days a period begins on (default: every day), e.g. `["mon-fri"]`.
    #[serde(default)]
    pub weekdays: Option<Weekdays>,
    /// Local time a period begins.
    #[serde(default)]
    pub begin: Option<LocalTime>,
    /// Local time a period ends (at or before `begin`: the next day).
    #[serde(default)]
    pub end: Option<LocalTime>,
    /// Five-field cron (minute hour day-of-month month day-of-week) of an occurrence.
    #[serde(default)]
    pub cron: Option<CronExpr>,
    /// Floor while the period holds.
    #[serde(default)]
    pub floor: Option<u32>,
    /// Ceiling while the period holds.
    #[serde(default)]
    pub ceiling: Option<u32>,
    /// Desired capacity set at each occurrence.
    #[serde(default)]
    pub desired: Option<u32>,
    /// Dates (`2026-12-25`), ranges (`2026-12-24..2026-12-26`) or calendar names on which the
    /// schedule is suspended.
    #[serde(default)]
    pub holidays: Vec<HolidaySpec>,
}

impl Schedule {
    /// True for an occurrence (`cron`), false for a period.
    pub fn is_occurrence(&self) -> bool {
        self.cron.is_some()
    }
}

/// A planned event: raise capacity ahead of it, hold scale-in during it, release after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// When the event starts.
    pub start: Timestamp,
    /// When it ends.
    pub end: Timestamp,
    /// How long before `start` the uplift begins.
    #[serde(default)]
    pub lead: Option<Dur>,
    /// No scale-in by any rule or schedule between start - lead and end (default true).
    #[serde(default = "yes")]
    pub hold_scale_in: bool,
    /// After the end, the floor comes down by this much per scale-in cooldown (default 1).
    #[serde(default)]
    pub release_step: Option<u32>,
    /// Allows the uplift to raise a ceiling above the target's hard ceiling (audited).
    #[serde(default)]
    pub exceed_ceiling: bool,
    /// Uplift per target.
    pub targets: BTreeMap<String, Uplift>,
}

fn yes() -> bool {
    true
}

/// How an event raises one target's bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Uplift {
    /// New floor: a number, `+N` or `+N%`.
    #[serde(default)]
    pub floor: Option<Amount>,
    /// New ceiling: a number, `+N` or `+N%`.
    #[serde(default)]
    pub ceiling: Option<Amount>,
}

/// An absolute count or a relative change of one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Amount {
    /// Exactly this many.
    Absolute(u32),
    /// This many more (or fewer, when negative).
    Delta(i64),
    /// This percent more (or less, when negative).
    Percent(i64),
}

impl Amount {
    /// Applies the amount to `base`, never going below zero nor above `u32::MAX`: a change or
    /// percent near the limits of its type saturates, it never wraps or panics.
    pub fn apply(self, base: u32) -> u32 {
        match self {
            Amount::Absolute(n) => n,
            Amount::Delta(d) => i64::from(base)
                .saturating_add(d)
                .clamp(0, i64::from(u32::MAX)) as u32,
            Amount::Percent(p) => {
                let v = (f64::from(base) * (1.0 + p as f64 / 100.0)).ceil();
                // `as` saturates: below 0 gives 0, above u32::MAX gives u32::MAX.
                v.max(0.0) as u32
            }
        }
    }

    /// What is wrong with the amount for a policy, if anything: a count or change beyond
    /// [`MAX_COUNT`], a percent beyond [`MAX_PERCENT`] either way.
    pub fn out_of_bounds(self) -> Option<String> {
        match self {
            Amount::Absolute(n) if n > MAX_COUNT => Some(format!("{n} is more than {MAX_COUNT}")),
            Amount::Delta(d) if d.unsigned_abs() > u64::from(MAX_COUNT) => Some(format!(
                "a change of {d:+} is more than {MAX_COUNT} either way"
            )),
            Amount::Percent(p) if p.unsigned_abs() > MAX_PERCENT.unsigned_abs() => Some(format!(
                "a change of {p:+}% is more than {MAX_PERCENT}% either way"
            )),
            _ => None,
        }
    }
}

/// The largest count a policy may write (floors, ceilings, steps, counts of actions, amounts):
/// far above any real fleet, far below the limits of the arithmetic.
pub const MAX_COUNT: u32 = 100_000;

/// The largest percent change a policy may write, either way (`+1000%` is eleven times).
pub const MAX_PERCENT: i64 = 1000;

/// The longest duration a policy may write (cooldowns, guards, leads, pauses, catch-up): 366
/// days.
pub const MAX_DURATION: Dur = Dur::from_secs(366 * 24 * 60 * 60);

/// `t + d`, or the last instant chrono represents when that overflows: a huge cooldown, pause
/// or lead never panics.
pub fn later(t: DateTime<Utc>, d: chrono::Duration) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `t - d`, or the first instant chrono represents when that overflows.
pub fn earlier(t: DateTime<Utc>, d: chrono::Duration) -> DateTime<Utc> {
    t.checked_sub_signed(d).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Which kind of budget alert a rule listens to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AlertType {
    /// Spend so far.
    #[serde(rename = "ACTUAL")]
    Actual,
    /// Forecast spend for the period.
    #[serde(rename = "FORECASTED")]
    Forecasted,
}

impl fmt::Display for AlertType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AlertType::Actual => "ACTUAL",
            AlertType::Forecasted => "FORECASTED",
        })
    }
}

fn default_alert_type() -> AlertType {
    AlertType::Actual
}

/// What a budget rule does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BudgetAction {
    /// Tell people.
    Notify,
    /// Cap non-critical targets at their floor (ceiling lowered to the floor).
    Cap,
    /// Lower non-critical targets' ceiling: a number, `-N` or `-N%`.
    LowerCeiling(Amount),
}

/// How often a budget resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BudgetPeriod {
    /// Calendar month (UTC).
    #[default]
    Monthly,
    /// Calendar quarter (UTC).
    Quarterly,
    /// Calendar year (UTC).
    Yearly,
}

/// A budget rule: when an alert of `alert_type` for `budget` reaches `threshold` percent, act.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetRule {
    /// The AWS Budgets budget name.
    pub budget: String,
    /// Percent of the budgeted amount.
    pub threshold: f64,
    /// `ACTUAL` (default) or `FORECASTED`.
    #[serde(default = "default_alert_type", rename = "type")]
    pub alert_type: AlertType,
    /// `notify`, `cap` or `{ lower_ceiling = ... }`.
    pub action: BudgetAction,
    /// Targets acted on (default: every non-critical target). Critical targets are never acted on.
    #[serde(default)]
    pub targets: Option<Vec<String>>,
    /// When the budget resets and a cap is lifted.
    #[serde(default)]
    pub period: BudgetPeriod,
    /// Extra text for the notification.
    #[serde(default)]
    pub message: Option<String>,
}

impl BudgetRule {
    /// True when the rule's `targets` list names `target`, or the rule has no list (then it
    /// covers every non-critical target).
    pub fn covers_target(&self, target: &str) -> bool {
        self.targets
            .as_ref()
            .is_none_or(|list| list.iter().any(|t| t == target))
    }
}

/// A Slack verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verb {
    /// Show targets.
    Status,
    /// Change desired capacity within bounds.
    Scale,
    /// Scale past bounds, cooldowns and pauses (`--force`).
    Force,
    /// Pause or pin a target.
    Pause,
    /// End a pause.
    Resume,
    /// Return to the capacity before the last action.
    Undo,
    /// Lift a budget cap early.
    LiftCap,
    /// Add a run-time event with `exceed_ceiling = true`, raising bounds past a target's hard
    /// ceiling (the audited override).
    ExceedCeiling,
    /// Add or cancel a run-time event (`event add` / `event cancel`), on the event's targets.
    Event,
    /// Confirm a request another user asked for (the requester may always confirm their own).
    Confirm,
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verb::Status => "status",
            Verb::Scale => "scale",
            Verb::Force => "force",
            Verb::Pause => "pause",
            Verb::Resume => "resume",
            Verb::Undo => "undo",
            Verb::LiftCap => "lift-cap",
            Verb::ExceedCeiling => "exceed-ceiling",
            Verb::Event => "event",
            Verb::Confirm => "confirm",
        })
    }
}

/// Who may use Slack, for what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackAccess {
    /// A change of more than this many units needs a confirmation click.
    #[serde(default = "default_confirm")]
    pub confirm_above: u32,
    /// The grants; a request is allowed when one grant allows it.
    #[serde(default)]
    pub grants: Vec<Grant>,
    /// Slack app ids (`A...`) requests may come from; empty: any app.
    #[serde(default)]
    pub api_app_ids: Vec<String>,
    /// Slack workspace (team) ids (`T...`) requests may come from; empty: any workspace.
    #[serde(default)]
    pub team_ids: Vec<String>,
    /// Slack Enterprise Grid ids (`E...`) requests may come from; empty: any (or none).
    #[serde(default)]
    pub enterprise_ids: Vec<String>,
}

impl Default for SlackAccess {
    fn default() -> Self {
        SlackAccess {
            confirm_above: default_confirm(),
            grants: Vec::new(),
            api_app_ids: Vec::new(),
            team_ids: Vec::new(),
            enterprise_ids: Vec::new(),
        }
    }
}

fn default_confirm() -> u32 {
    4
}

/// One grant: these users, in these channels, may use these verbs on these targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// Slack user ids (`U...`).
    pub users: Vec<String>,
    /// Slack channel ids (`C...`); empty: any channel.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Allowed verbs.
    pub verbs: Vec<Verb>,
    /// Targets; empty: every target.
    #[serde(default)]
    pub targets: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Small value types with their own text formats.
// ---------------------------------------------------------------------------------------------

/// A duration written like `90s`, `5m`, `1h 30m` (humantime format).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dur(pub std::time::Duration);

impl Dur {
    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Dur {
        Dur(std::time::Duration::from_secs(secs))
    }
    /// The same length as a chrono duration (`chrono::Duration::MAX` when it is longer).
    pub fn chrono(self) -> chrono::Duration {
        chrono::Duration::from_std(self.0).unwrap_or(chrono::Duration::MAX)
    }

    /// This long after `t`, saturating at the last instant chrono represents.
    pub fn after(self, t: DateTime<Utc>) -> DateTime<Utc> {
        later(t, self.chrono())
    }

    /// This long before `t`, saturating at the first instant chrono represents.
    pub fn before(self, t: DateTime<Utc>) -> DateTime<Utc> {
        earlier(t, self.chrono())
    }
}

impl FromStr for Dur {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        humantime::parse_duration(s.trim())
            .map(Dur)
            .map_err(|e| format!("`{s}` is not a duration ({e}); write e.g. `90s`, `5m`, `1h 30m`"))
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

/// A local time of day written `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime(pub NaiveTime);

impl FromStr for LocalTime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NaiveTime::parse_from_str(s.trim(), "%H:%M")
            .map(LocalTime)
            .map_err(|_| format!("`{s}` is not a time of day; write `HH:MM`, e.g. `08:00`"))
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%H:%M"))
    }
}

/// A set of weekdays written as a list of days and ranges: `["mon-fri"]`, `["sat", "sun"]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Weekdays(pub u8);

impl Weekdays {
    /// Every day of the week.
    pub const ALL: Weekdays = Weekdays(0x7f);

    /// True when the set holds `day`.
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    fn parse_day(s: &str) -> Result<Weekday, String> {
        s.trim()
            .parse::<Weekday>()
            .map_err(|_| format!("`{s}` is not a weekday; write `mon`, `tue`, ... `sun`"))
    }

    /// Parses a list such as `["mon-fri", "sun"]`.
    pub fn parse_list<S: AsRef<str>>(items: &[S]) -> Result<Weekdays, String> {
        let mut bits = 0u8;
        for item in items {
            let item = item.as_ref();
            match item.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (Self::parse_day(a)?, Self::parse_day(b)?);
                    let mut d = a;
                    loop {
                        bits |= 1 << d.num_days_from_monday();
                        if d == b {
                            break;
                        }
                        d = d.succ();
                    }
                }
                None => bits |= 1 << Self::parse_day(item)?.num_days_from_monday(),
            }
        }
        if bits == 0 {
            return Err("the weekday list is empty".into());
        }
        Ok(Weekdays(bits))
    }
}

impl fmt::Display for Weekdays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let days: Vec<&str> = (0..7)
            .filter(|i| self.0 & (1 << i) != 0)
            .map(|i| NAMES[i])
            .collect();
        f.write_str(&days.join(","))
    }
}

/// A holiday: one date, an inclusive range of dates, or the name of a calendar in `[holidays]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HolidaySpec {
    /// One local date.
    Date(NaiveDate),
    /// From the first to the second date, both included.
    Range(NaiveDate, NaiveDate),
    /// A calendar defined under `[holidays]`.
    Calendar(String),
}

impl HolidaySpec {
    /// True when the spec (a date or range) covers `date`; calendars are resolved by the caller.
    pub fn covers(&self, date: NaiveDate) -> bool {
        match self {
            HolidaySpec::Date(d) => *d == date,
            HolidaySpec::Range(a, b) => *a <= date && date <= *b,
            HolidaySpec::Calendar(_) => false,
        }
    }
}

impl FromStr for HolidaySpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let date = |d: &str| {
            NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
                .map_err(|_| format!("`{d}` is not a date; write `YYYY-MM-DD`"))
        };
        if let Some((a, b)) = s.split_once("..") {
            let (a, b) = (date(a)?, date(b)?);
            if b < a {
                return Err(format!("holiday range `{s}` ends before it begins"));
            }
            return Ok(HolidaySpec::Range(a, b));
        }
        if s.starts_with(|c: char| c.is_ascii_digit()) {
            return date(s).map(HolidaySpec::Date);
        }
        if s.is_empty() {
            return Err("empty holiday".into());
        }
        Ok(HolidaySpec::Calendar(s.to_string()))
    }
}

impl fmt::Display for HolidaySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HolidaySpec::Date(d) => write!(f, "{d}"),
            HolidaySpec::Range(a, b) => write!(f, "{a}..{b}"),
            HolidaySpec::Calendar(c) => f.write_str(c),
        }
    }
}

impl FromStr for Amount {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let bad = || {
            format!("`{s}` is not an amount; write a number `6`, a change `+2` / `-2`, or a percent `+50%` / `-50%`")
        };
        if let Some(p) = t.strip_suffix('%') {
            if !t.starts_with(['+', '-']) {
                return Err(bad());
            }
            return p.parse::<i64>().map(Amount::Percent).map_err(|_| bad());
        }
        if t.starts_with(['+', '-']) {
            return t.parse::<i64>().map(Amount::Delta).map_err(|_| bad());
        }
        t.parse::<u32>().map(Amount::Absolute).map_err(|_| bad())
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Amount::Absolute(n) => write!(f, "{n}"),
            Amount::Delta(d) => write!(f, "{d:+}"),
            Amount::Percent(p) => write!(f, "{p:+}%"),
        }
    }
}

/// An instant, written as RFC 3339 (`2026-12-01T09:00:00Z`) or a TOML offset date-time. The
/// seconds may be left out (`2026-12-01T09:00Z`, `2026-12-01T10:00+01:00`), as TOML allows; the
/// offset (`Z` or `+HH:MM`) may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl FromStr for Timestamp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        // `YYYY-MM-DDTHH:MM` then the offset: the seconds are `:00`.
        let full = match (t.get(..16), t.get(16..)) {
            (Some(minutes), Some(rest))
                if minutes.as_bytes()[13] == b':' && !rest.starts_with([':', '.']) =>
            {
                format!("{minutes}:00{rest}")
            }
            _ => t.to_string(),
        };
        DateTime::parse_from_rfc3339(&full)
            .map(|d| Timestamp(d.with_timezone(&Utc)))
            .map_err(|_| {
                format!("`{s}` is not a time; write RFC 3339 with an offset, e.g. `2026-12-01T09:00:00Z`")
            })
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%SZ"))
    }
}

/// Implements serde for a type that reads and writes as a string via `FromStr` / `Display`.
macro_rules! string_serde {
    ($t:ty, $expecting:literal) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$t, E> {
                        v.parse().map_err(E::custom)
                    }
                    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<$t, E> {
                        v.to_string().parse().map_err(E::custom)
                    }
                    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<$t, E> {
                        v.to_string().parse().map_err(E::custom)
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

string_serde!(Dur, "a duration such as `5m`");
string_serde!(LocalTime, "a time of day `HH:MM`");
string_serde!(
    HolidaySpec,
    "a date `YYYY-MM-DD`, a range `A..B` or a calendar name"
);
string_serde!(Amount, "a number, `+N`, `-N`, `+N%` or `-N%`");

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Toml(toml::value::Datetime),
        }
        match Raw::deserialize(d)? {
            Raw::Text(s) => s.parse().map_err(serde::de::Error::custom),
            Raw::Toml(dt) => dt.to_string().parse().map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for Weekdays {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = self.to_string();
        let items: Vec<&str> = text.split(',').collect();
        items.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Weekdays {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = Vec::<String>::deserialize(d)?;
        Weekdays::parse_list(&items).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekdays_parse_ranges_and_singles() {
        let w = Weekdays::parse_list(&["mon-fri"]).unwrap();
        assert!(w.contains(Weekday::Mon) && w.contains(Weekday::Fri));
        assert!(!w.contains(Weekday::Sat));
        let w = Weekdays::parse_list(&["fri-mon"]).unwrap();
        assert_eq!(w.to_string(), "mon,fri,sat,sun");
        assert!(Weekdays::parse_list(&["funday"]).is_err());
    }

    #[test]
    fn amounts_parse_and_apply() {
        assert_eq!("6".parse::<Amount>().unwrap().apply(2), 6);
        assert_eq!("+2".parse::<Amount>().unwrap().apply(2), 4);
        assert_eq!("-50%".parse::<Amount>().unwrap().apply(10), 5);
        assert_eq!("+50%".parse::<Amount>().unwrap().apply(5), 8);
        assert!("50%".parse::<Amount>().is_err());
        assert!("x".parse::<Amount>().is_err());
    }

    #[test]
    fn holidays_parse() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 25).unwrap();
        assert!("2026-12-24..2026-12-26"
            .parse::<HolidaySpec>()
            .unwrap()
            .covers(d));
        assert!("2026-12-26..2026-12-24".parse::<HolidaySpec>().is_err());
        assert_eq!(
            "us-2026".parse::<HolidaySpec>().unwrap(),
            HolidaySpec::Calendar("us-2026".into())
        );
    }

    #[test]
    fn durations_and_times() {
        assert_eq!("5m".parse::<Dur>().unwrap(), Dur::from_secs(300));
        assert!("5 parsecs".parse::<Dur>().is_err());
        assert_eq!("08:00".parse::<LocalTime>().unwrap().to_string(), "08:00");
        assert!("25:00".parse::<LocalTime>().is_err());
    }

    #[test]
    fn instants_need_an_offset_and_may_leave_out_the_seconds() {
        let t = |s: &str| s.parse::<Timestamp>().map(|t| t.to_string());
        assert_eq!(t("2026-12-05T08:00:00Z").unwrap(), "2026-12-05T08:00:00Z");
        assert_eq!(t("2026-12-05T08:00Z").unwrap(), "2026-12-05T08:00:00Z");
        assert_eq!(t("2026-12-05T09:30+01:00").unwrap(), "2026-12-05T08:30:00Z");
        assert_eq!(t("2026-12-05T08:00:30.5Z").unwrap(), "2026-12-05T08:00:30Z");
        // RFC 3339 allows lower case `t` and `z` (a phone's keyboard may give them).
        assert_eq!(t("2026-12-05t08:00z").unwrap(), "2026-12-05T08:00:00Z");
        for bad in [
            "2026-12-05T08:00",
            "2026-12-05T08:00:00",
            "2026-12-05",
            "8am",
            "2026-12-05T08Z",
        ] {
            assert!(t(bad).unwrap_err().contains(&format!("`{bad}`")), "{bad}");
        }
    }
}
