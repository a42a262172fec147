//! Operator commands: authorization, origin, confirmation, manual scaling, force, pause and
//! pin, undo, caps, run-time events and help.

use super::*;
use crate::decision::ConfirmWhy;

/// The prefix of users of the `capstan` CLI: a person at a terminal.
pub const CLI_USER_PREFIX: &str = "cli:";

/// True for a `cli:<name>` user (a bare `cli:` names nobody).
fn is_cli_user(user: &str) -> bool {
    user.starts_with(CLI_USER_PREFIX) && user.len() > CLI_USER_PREFIX.len()
}

/// Checks that `user` in `channel` may use `verb` on `target` (None: no particular target).
///
/// A user `cli:<name>` is a person running the `capstan` CLI with their own AWS credentials:
/// IAM (on the state table and the resources) is their authority, and the policy's grants do
/// not apply. Slack user ids never contain `:`, so no Slack request can pass as one; the
/// Slack function must still refuse such ids.
pub fn authorize(
    policy: &Policy,
    user: &str,
    channel: &str,
    verb: Verb,
    target: Option<&str>,
) -> Result<(), String> {
    if is_cli_user(user) {
        return Ok(());
    }
    let ok = policy.slack.grants.iter().any(|g| {
        g.users.iter().any(|u| u == user)
            && (g.channels.is_empty() || g.channels.iter().any(|c| c == channel))
            && g.verbs.contains(&verb)
            && match target {
                Some(t) => g.targets.is_empty() || g.targets.iter().any(|x| x == t),
                None => true,
            }
    });
    if ok {
        Ok(())
    } else {
        let place = if channel.is_empty() {
            String::new()
        } else {
            format!(" in channel {channel}")
        };
        Err(match target {
            Some(t) => format!("{user} may not use `{verb}` on {t}{place}"),
            None => format!("{user} may not use `{verb}`{place}"),
        })
    }
}

/// Checks every grant `cmd` needs ([`authorize`]): its verb, and `force` too when forced, on
/// the target it names; `event add` on each target of the event; `event cancel` on each
/// target of the stored run-time event (`state`; without it, or for a name not stored, on no
/// particular target: the engine then refuses the name itself); `lift-cap` and a `status` of
/// every target on no particular target. `help` needs nothing.
///
/// The engine decides commands with it; the Slack function may call it before queueing a
/// command (without the state) so that a refusal is answered at once. Adding an event with
/// `exceed_ceiling` needs verb `exceed-ceiling` as well, which the engine checks with the
/// event (its refusal says which targets).
pub fn authorize_command(
    policy: &Policy,
    user: &str,
    channel: &str,
    cmd: &Command,
    state: Option<&State>,
) -> Result<(), String> {
    let Some(verb) = cmd.verb() else {
        return Ok(());
    };
    let mut targets: Vec<Option<&str>> = match cmd {
        Command::EventAdd { event, .. } => event.targets.keys().map(|t| Some(t.as_str())).collect(),
        Command::EventCancel { name } => state
            .and_then(|s| s.events.get(name))
            .map(|e| e.targets.keys().map(|t| Some(t.as_str())).collect())
            .unwrap_or_default(),
        Command::LiftCap { .. } => Vec::new(),
        other => vec![other.target()],
    };
    if targets.is_empty() {
        targets.push(None);
    }
    let mut verbs = vec![verb];
    if cmd.forced() {
        verbs.push(Verb::Force);
    }
    for verb in verbs {
        for target in &targets {
            authorize(policy, user, channel, verb, *target)?;
        }
    }
    Ok(())
}

/// Checks that a Slack request comes from where `[slack]` allows: its app (`api_app_id`), its
/// workspace (`team_id`) and its Enterprise Grid organization (`enterprise_id`), each against
/// `api_app_ids`, `team_ids` and `enterprise_ids`. An empty list admits any; when a list is set,
/// a request without that id (None or empty) is refused. The error names the id refused, not
/// the ones allowed.
pub fn check_origin(
    policy: &Policy,
    api_app_id: Option<&str>,
    team_id: &str,
    enterprise_id: Option<&str>,
) -> Result<(), String> {
    let check = |allowed: &[String], id: Option<&str>, what: &str, key: &str| {
        if allowed.is_empty() {
            return Ok(());
        }
        match id.map(str::trim).filter(|i| !i.is_empty()) {
            None => Err(format!(
                "the request names no {what}, and `[slack].{key}` admits only the ones it lists"
            )),
            Some(i) if allowed.iter().any(|a| a == i) => Ok(()),
            Some(i) => Err(format!(
                "the request comes from {what} {i}, which `[slack].{key}` does not list"
            )),
        }
    };
    let s = &policy.slack;
    check(&s.api_app_ids, api_app_id, "Slack app", "api_app_ids")?;
    check(&s.team_ids, Some(team_id), "workspace", "team_ids")?;
    check(
        &s.enterprise_ids,
        enterprise_id,
        "Enterprise Grid organization",
        "enterprise_ids",
    )
}

/// Whether `cmd` from `user` must wait for a confirmation before it acts, and why; the one
/// rule the engine applies to every command that is not `confirmed` (so Slack, the CLI and
/// `capstan simulate` agree):
///
/// - `--force` (`scale`, `undo`, `pause ... pin N`) and `lift-cap`, from anyone but a `cli:`
///   user (a person at the CLI acts with their AWS credentials, and the CLI asks them itself);
/// - from anyone, a change of desired capacity of more than `[slack].confirm_above`: `change`
///   is the largest change the command makes on an instance of its target (a `scale`, an
///   `undo`, or a pin against the current desired capacity); None when it makes none.
///
/// `--force` comes first, then `lift-cap`, then the size of the change.
pub fn confirmation_needed(
    policy: &Policy,
    user: &str,
    cmd: &Command,
    change: Option<u32>,
) -> Option<ConfirmWhy> {
    let cli = is_cli_user(user);
    if cmd.forced() && !cli {
        return Some(ConfirmWhy::Force);
    }
    if matches!(cmd, Command::LiftCap { .. }) && !cli {
        return Some(ConfirmWhy::LiftCap);
    }
    let confirm_above = policy.slack.confirm_above;
    change
        .filter(|c| *c > confirm_above)
        .map(|change| ConfirmWhy::LargeChange {
            change,
            confirm_above,
        })
}

/// The confirmation `c` still needs for `cmd`, if any.
fn still_needed(
    policy: &Policy,
    c: &CommandSignal,
    cmd: &Command,
    change: Option<u32>,
) -> Option<ConfirmWhy> {
    if c.confirmed {
        None
    } else {
        confirmation_needed(policy, &c.user, cmd, change)
    }
}

/// True when `user` is a name [`authorize`] can grant something to: a `cli:<name>` user (whose
/// AWS credentials are the authority) or a Slack user id (`U...`/`W...`, upper-case letters
/// and digits, as grants list them). A way in that cannot prove who asks (a direct invocation's
/// self-declared `by`) must not pass such a name on as the requester.
pub fn claims_identity(user: &str) -> bool {
    user.starts_with(CLI_USER_PREFIX)
        || (user.len() >= 3
            && user.starts_with(['U', 'W'])
            && user
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
}

pub(super) fn on_command(
    policy: &Policy,
    c: &CommandSignal,
    state: &State,
    now: DateTime<Utc>,
    d: &mut Decision,
) {
    let source = format!("command:{}", c.user);
    let cmd = match command::parse(&c.text) {
        Ok(cmd) => cmd,
        Err(e) => {
            let why = e.to_string();
            d.targets.push(suppressed(
                NO_TARGET,
                &source,
                Reason::BadCommand { why: why.clone() },
                format!("`{}`: {why}", c.text),
            ));
            return;
        }
    };
    let target_name = cmd.target();
    if let Err(why) = authorize_command(policy, &c.user, &c.channel, &cmd, Some(state)) {
        d.targets.push(suppressed(
            target_name.unwrap_or(NO_TARGET),
            &source,
            Reason::NotAllowed { why: why.clone() },
            format!("`{}` refused: {why}", c.text),
        ));
        return;
    }
    if let Some(t) = target_name {
        if !policy.targets.contains_key(t) {
            d.targets.push(suppressed(
                t,
                &source,
                Reason::UnknownTarget {
                    target: t.to_string(),
                },
                format!("`{}`: the policy has no target {t}", c.text),
            ));
            return;
        }
    }
    match &cmd {
        Command::Help { topic } => d.notices.push(Notice {
            source,
            target: None,
            text: command::help(topic.as_deref()),
        }),
        Command::Status { target } => {
            for (inst, ts) in &state.targets {
                if target.as_deref().is_some_and(|t| t != ts.target) {
                    continue;
                }
                d.notices.push(Notice {
                    source: source.clone(),
                    target: Some(inst.clone()),
                    text: status_line(policy, state, inst, ts, now),
                });
            }
        }
        Command::Scale { target, to, force } => {
            let asks = instances(state, target)
                .map(|(inst, ts)| Ok((inst, ts, *to)))
                .collect();
            let scale = Scale {
                policy,
                target: &policy.targets[target],
                state,
                force: *force,
                cmd: &cmd,
                c,
                source: &source,
                now,
            };
            scale.all(asks, d);
        }
        Command::Undo { target, force } => {
            let asks = instances(state, target)
                .map(
                    |(inst, ts)| match ts.last_action().filter(|a| a.from != a.to) {
                        Some(last) => Ok((inst, ts, ScaleTo::Exactly(last.from))),
                        None => Err(suppressed(
                            inst,
                            &source,
                            Reason::NothingToUndo,
                            format!("`{}`: no recent action on {inst} to undo", c.text),
                        )),
                    },
                )
                .collect();
            let undo_source = format!("{source}:undo");
            let scale = Scale {
                policy,
                target: &policy.targets[target],
                state,
                force: *force,
                cmd: &cmd,
                c,
                source: &undo_source,
                now,
            };
            scale.all(asks, d);
        }
        Command::Pause {
            target,
            duration,
            pin,
            force,
        } => {
            let asked = Commanded {
                policy,
                state,
                cmd: &cmd,
                c,
                source: &source,
                now,
            };
            pause(&asked, target, *duration, *pin, *force, d)
        }
        Command::Resume { target } => {
            for (inst, ts) in instances(state, target) {
                if active_pause(ts, now).is_some() {
                    d.ops.push(StateOp::Resume {
                        target: inst.clone(),
                    });
                    d.notices.push(Notice {
                        source: source.clone(),
                        target: Some(inst.clone()),
                        text: format!("{inst} resumed by {}", c.user),
                    });
                } else {
                    d.notices.push(Notice {
                        source: source.clone(),
                        target: Some(inst.clone()),
                        text: format!("{inst} was not paused"),
                    });
                }
            }
        }
        Command::LiftCap { budget } => {
            let asked = Commanded {
                policy,
                state,
                cmd: &cmd,
                c,
                source: &source,
                now,
            };
            lift_cap(&asked, budget, d)
        }
        Command::EventAdd { name, event } => {
            let addition = super::event::Addition {
                by: &c.user,
                channel: &c.channel,
                name,
                event,
            };
            super::event::add(policy, addition, state, now, &format!("event:{name}"), d)
        }
        Command::EventCancel { name } => super::event::cancel(
            policy,
            &c.user,
            name,
            state,
            now,
            &format!("event:{name}"),
            d,
        ),
    }
}

/// An operator's command being carried out: the policy and state it reads, the command and
/// the signal that carried it, what its decisions are recorded as (`source`), and when.
struct Commanded<'a> {
    policy: &'a Policy,
    state: &'a State,
    cmd: &'a Command,
    c: &'a CommandSignal,
    source: &'a str,
    now: DateTime<Utc>,
}

fn pause(
    asked: &Commanded<'_>,
    target: &str,
    duration: Option<Dur>,
    pin: Option<u32>,
    force: bool,
    d: &mut Decision,
) {
    let Commanded {
        policy,
        state,
        cmd,
        c,
        source,
        now,
    } = *asked;
    let length = duration.unwrap_or(policy.settings.default_pause);
    let until = length.after(now);
    // Each instance: refused (a pin outside the bounds without --force), or to be paused.
    let mut planned = Vec::new();
    for (inst, ts) in instances(state, target) {
        if let Some(pin) = pin {
            let b = effective_bounds(policy, state, inst, now);
            if !force && (pin < b.floor || pin > b.ceiling) {
                planned.push(Err(suppressed(
                    inst,
                    source,
                    if pin > b.ceiling {
                        Reason::AtCeiling { ceiling: b.ceiling }
                    } else {
                        Reason::AtFloor { floor: b.floor }
                    },
                    format!(
                        "`{}`: pin {pin} is outside {}..{}; add --force to override (audited)",
                        c.text, b.floor, b.ceiling
                    ),
                )));
                continue;
            }
            planned.push(Ok((inst, ts, Some((pin, b)))));
        } else {
            planned.push(Ok((inst, ts, None)));
        }
    }
    let biggest = planned
        .iter()
        .filter_map(|p| match p {
            Ok((_, ts, Some((pin, _)))) => Some(pin.abs_diff(ts.desired)),
            _ => None,
        })
        .max();
    let why = still_needed(policy, c, cmd, biggest);
    for p in planned {
        let (inst, ts, pinned) = match p {
            Err(refused) => {
                d.targets.push(refused);
                continue;
            }
            Ok(p) => p,
        };
        if let (Some(why), Some((pin, b))) = (why, &pinned) {
            let cur = capacity(ts);
            let would = Capacity {
                desired: *pin,
                min: b.floor.min(*pin),
                max: b.ceiling.max(*pin),
            };
            let mut then = format!(
                "once confirmed, {inst} is paused for {length} and pinned at {pin}: the next tick goes from {cur} to {would}"
            );
            if *pin > b.ceiling {
                then.push_str(&format!(
                    ", forced past the ceiling {} ({})",
                    b.ceiling,
                    b.why.join("; ")
                ));
            } else if *pin < b.floor {
                then.push_str(&format!(
                    ", forced past the floor {} ({})",
                    b.floor,
                    b.why.join("; ")
                ));
            } else if force {
                then.push_str(&format!(
                    " (within the bounds {}..{}: --force changes nothing but the audit mark)",
                    b.floor, b.ceiling
                ));
            }
            d.targets.push(suppressed(
                inst,
                source,
                Reason::NeedsConfirmation {
                    would: Some(would),
                    why,
                },
                format!(
                    "`{}` by {}: {why}, so it needs a confirmation; {then}",
                    c.text, c.user
                ),
            ));
            continue;
        }
        let pin = pinned.map(|(pin, _)| pin);
        d.ops.push(StateOp::Pause {
            target: inst.clone(),
            pause: Pause {
                until,
                by: c.user.clone(),
                pin,
            },
        });
        d.notices.push(Notice {
            source: source.to_string(),
            target: Some(inst.clone()),
            text: match pin {
                Some(n) => format!(
                    "{inst} pinned at {n} by {} until {}",
                    c.user,
                    fmt_time(until)
                ),
                None => format!("{inst} paused by {} until {}", c.user, fmt_time(until)),
            },
        });
    }
}

fn lift_cap(asked: &Commanded<'_>, budget: &str, d: &mut Decision) {
    let Commanded {
        policy,
        state,
        cmd,
        c,
        source,
        now,
    } = *asked;
    let in_force: Vec<&BudgetCap> = state
        .caps
        .iter()
        .filter(|cap| cap.budget == budget && cap.until > now)
        .collect();
    if in_force.is_empty() {
        d.notices.push(Notice {
            source: source.to_string(),
            target: None,
            text: format!("no cap of budget {budget} is in force"),
        });
        return;
    }
    let mut lifted = state.clone();
    lifted.caps.retain(|cap| cap.budget != budget);
    if let Some(why) = still_needed(policy, c, cmd, None) {
        let caps: Vec<String> = in_force
            .iter()
            .map(|cap| format!("rule {} until {}", cap.rule, fmt_time(cap.until)))
            .collect();
        let mut back = Vec::new();
        for (inst, ts) in &state.targets {
            let old = effective_bounds(policy, state, inst, now);
            let new = effective_bounds(policy, &lifted, inst, now);
            if (old.floor, old.ceiling) == (new.floor, new.ceiling) {
                continue;
            }
            let mut what = format!(
                "{inst} gets bounds {}..{} back (now {}..{})",
                new.floor, new.ceiling, old.floor, old.ceiling
            );
            let desired = ts.desired.clamp(new.floor, new.ceiling);
            if desired != ts.desired {
                what.push_str(&format!(", desired {} -> {desired}", ts.desired));
            }
            if let Some(p) = active_pause(ts, now) {
                what.push_str(&format!(
                    " on the first tick after its pause (until {})",
                    fmt_time(p.until)
                ));
            }
            back.push(what);
        }
        let back = if back.is_empty() {
            "no target's bounds change now".to_string()
        } else {
            back.join("; ")
        };
        d.targets.push(suppressed(
            NO_TARGET,
            source,
            Reason::NeedsConfirmation { would: None, why },
            format!(
                "`{}` by {}: {why}, so it needs a confirmation; once confirmed, the cap of budget {budget} ({}) is lifted: {back}",
                c.text,
                c.user,
                caps.join(", ")
            ),
        ));
        return;
    }
    d.ops.push(StateOp::LiftCap {
        budget: budget.to_string(),
    });
    d.notices.push(Notice {
        source: source.to_string(),
        target: None,
        text: format!("cap of budget {budget} lifted early by {}", c.user),
    });
    rebound(
        policy,
        state,
        &lifted,
        now,
        source,
        &format!("cap of budget {budget} lifted"),
        d,
    );
}

/// A forced override would be undone by the next schedule tick; it is pinned instead for
/// `settings.default_pause`, so it holds until it expires or an operator resumes the target.
fn pin_forced(
    policy: &Policy,
    decision: &TargetDecision,
    c: &CommandSignal,
    now: DateTime<Utc>,
    d: &mut Decision,
) {
    if let Outcome::Change {
        to, forced: true, ..
    } = &decision.outcome
    {
        let until = policy.settings.default_pause.after(now);
        d.ops.push(StateOp::Pause {
            target: decision.target.clone(),
            pause: Pause {
                until,
                by: c.user.clone(),
                pin: Some(to.desired),
            },
        });
        d.notices.push(Notice {
            source: decision.source.clone(),
            target: Some(decision.target.clone()),
            text: format!(
                "{} forced to {} by {}: pinned until {} (`/capstan resume {}` hands it back to automation)",
                decision.target,
                to.desired,
                c.user,
                fmt_time(until),
                decision.target
            ),
        });
    }
}

/// A manual change of one instance that passed its own checks, waiting to be confirmed or
/// carried out.
struct ScalePlan<'a> {
    inst: &'a str,
    ts: &'a TargetState,
    cur: Capacity,
    would: Capacity,
    change: u32,
    bounds: Bounds,
}

/// A `scale` or `undo` on the instances of one target, as one request: when it needs a
/// confirmation, every instance that would change waits for it (so that a confirmed retry
/// never applies a relative change twice).
struct Scale<'a> {
    policy: &'a Policy,
    target: &'a Target,
    state: &'a State,
    force: bool,
    cmd: &'a Command,
    c: &'a CommandSignal,
    source: &'a str,
    now: DateTime<Utc>,
}

/// Per instance: where it goes, or the decision already made (nothing to undo).
type Ask<'a> = Result<(&'a String, &'a TargetState, ScaleTo), TargetDecision>;

impl Scale<'_> {
    fn what(&self) -> String {
        format!("`{}` by {}", self.c.text, self.c.user)
    }

    fn all(&self, asks: Vec<Ask<'_>>, d: &mut Decision) {
        let planned: Vec<Result<ScalePlan<'_>, TargetDecision>> = asks
            .into_iter()
            .map(|ask| ask.and_then(|(inst, ts, to)| self.plan(inst, ts, to)))
            .collect();
        let biggest = planned
            .iter()
            .filter_map(|p| p.as_ref().ok().map(|p| p.change))
            .max();
        let why = still_needed(self.policy, self.c, self.cmd, biggest);
        for p in planned {
            let decision = match (p, why) {
                (Err(done), _) => done,
                (Ok(plan), Some(why)) => self.wait(&plan, why),
                (Ok(plan), None) => self.go(&plan),
            };
            pin_forced(self.policy, &decision, self.c, self.now, d);
            d.targets.push(decision);
        }
    }

    /// The instance's change, or why there is none (already there; without --force: past the
    /// bounds or the max step).
    fn plan<'s>(
        &self,
        inst: &'s str,
        ts: &'s TargetState,
        to: ScaleTo,
    ) -> Result<ScalePlan<'s>, TargetDecision> {
        let (policy, target, force, source) = (self.policy, self.target, self.force, self.source);
        let cur = capacity(ts);
        let b = effective_bounds(policy, self.state, inst, self.now);
        let wanted = match to {
            ScaleTo::Exactly(n) => n,
            ScaleTo::By(delta) => i64::from(cur.desired)
                .saturating_add(delta)
                .clamp(0, i64::from(u32::MAX)) as u32,
            ScaleTo::Max => {
                if force {
                    b.ceiling.max(target.ceiling)
                } else {
                    b.ceiling
                }
            }
            ScaleTo::Min => b.floor,
        };
        let what = self.what();
        if wanted == cur.desired {
            return Err(suppressed(
                inst,
                source,
                Reason::AlreadyRight,
                format!("{what}: desired already {}", cur.desired),
            ));
        }
        let would = Capacity {
            desired: wanted,
            min: if force { b.floor.min(wanted) } else { b.floor },
            max: if force {
                b.ceiling.max(wanted)
            } else {
                b.ceiling
            },
        };
        let change = wanted.abs_diff(cur.desired);
        if !force {
            if wanted > b.ceiling {
                return Err(suppressed(
                    inst,
                    source,
                    Reason::AtCeiling { ceiling: b.ceiling },
                    format!(
                        "{what}: {wanted} is above the ceiling {} ({}); add --force to override (audited)",
                        b.ceiling,
                        b.why.join("; ")
                    ),
                ));
            }
            if wanted < b.floor {
                return Err(suppressed(
                    inst,
                    source,
                    Reason::AtFloor { floor: b.floor },
                    format!(
                        "{what}: {wanted} is below the floor {} ({}); add --force to override (audited)",
                        b.floor,
                        b.why.join("; ")
                    ),
                ));
            }
            if change > target.max_step() {
                return Err(suppressed(
                    inst,
                    source,
                    Reason::NotAllowed {
                        why: format!(
                            "a change of {change} exceeds the max step {}",
                            target.max_step()
                        ),
                    },
                    format!(
                        "{what}: a change of {change} exceeds the max step {}; scale in smaller steps or add --force",
                        target.max_step()
                    ),
                ));
            }
        }
        Ok(ScalePlan {
            inst,
            ts,
            cur,
            would,
            change,
            bounds: b,
        })
    }

    /// The guardrails a forced change goes past (those a manual change respects).
    fn forced_past(&self, p: &ScalePlan<'_>) -> Vec<String> {
        let (b, wanted) = (&p.bounds, p.would.desired);
        let mut past = Vec::new();
        if wanted > b.ceiling {
            past.push(format!("the ceiling {} ({})", b.ceiling, b.why.join("; ")));
        }
        if wanted < b.floor {
            past.push(format!("the floor {} ({})", b.floor, b.why.join("; ")));
        }
        if p.change > self.target.max_step() {
            past.push(format!("the max step {}", self.target.max_step()));
        }
        let count = p.ts.actions_in_hour(self.now) as u32;
        if count >= self.target.max_actions_per_hour {
            past.push(format!(
                "the rate limit ({count} actions in the last hour, limit {})",
                self.target.max_actions_per_hour
            ));
        }
        past
    }

    /// Waits for a confirmation, saying what happens once it comes.
    fn wait(&self, p: &ScalePlan<'_>, why: ConfirmWhy) -> TargetDecision {
        let policy = self.policy;
        let mut then = format!(
            "once confirmed, {} goes from {} to {}",
            p.inst, p.cur, p.would
        );
        if self.force {
            let past = self.forced_past(p);
            if past.is_empty() {
                then.push_str(
                    ", within every guardrail (--force only marks it forced and pins it)",
                );
            } else {
                then.push_str(&format!(", FORCED past {}", past.join(", ")));
            }
            then.push_str(&format!(
                ", then pinned at {} for {} (settings.default_pause) until `/capstan resume {}`",
                p.would.desired, policy.settings.default_pause, p.inst
            ));
        }
        if p.change > policy.slack.confirm_above && !matches!(why, ConfirmWhy::LargeChange { .. }) {
            then.push_str(&format!(
                "; a change of {}, more than confirm_above ({})",
                p.change, policy.slack.confirm_above
            ));
        }
        if policy.settings.dry_run || self.target.dry_run {
            then.push_str("; dry-run: it would only be reported");
        }
        suppressed(
            p.inst,
            self.source,
            Reason::NeedsConfirmation {
                would: Some(p.would),
                why,
            },
            format!("{}: {why}, so it needs a confirmation; {then}", self.what()),
        )
    }

    /// Carries the change out: unforced through the last checks (rate limit, dry-run), forced
    /// past them (dry-run aside).
    fn go(&self, p: &ScalePlan<'_>) -> TargetDecision {
        let (policy, target, source) = (self.policy, self.target, self.source);
        let (inst, cur, would, b) = (p.inst, p.cur, p.would, &p.bounds);
        let what = self.what();
        if !self.force {
            let subject = Subject {
                target,
                inst,
                ts: p.ts,
            };
            let change = Proposal {
                source,
                cur,
                to: would,
                what,
                notes: Vec::new(),
            };
            return finish(policy, self.now, subject, change);
        }
        if policy.settings.dry_run || target.dry_run {
            return suppressed(
                inst,
                source,
                Reason::DryRun { would },
                format!("{what}: dry-run, would force {cur} -> {would}"),
            );
        }
        TargetDecision {
            target: inst.to_string(),
            source: source.to_string(),
            outcome: Outcome::Change {
                from: cur,
                to: would,
                forced: true,
            },
            explanation: format!(
                "{what}: FORCED override past guardrails (cooldowns, pauses, bounds {}..{}, max step {}, rate limit): {cur} -> {would}",
                b.floor,
                b.ceiling,
                target.max_step()
            ),
        }
    }
}

/// One line describing a target instance now: capacity, bounds, pause, cooldowns, last action.
pub fn status_line(
    policy: &Policy,
    state: &State,
    inst: &str,
    ts: &TargetState,
    now: DateTime<Utc>,
) -> String {
    let b = effective_bounds(policy, state, inst, now);
    let mut line = format!(
        "{inst}: desired {} running {} (min {}, max {}); bounds now {}..{} [{}]",
        ts.desired,
        ts.running,
        ts.min,
        ts.max,
        b.floor,
        b.ceiling,
        b.why.join("; ")
    );
    if let Some(p) = active_pause(ts, now) {
        match p.pin {
            Some(n) => line.push_str(&format!(
                "; pinned at {n} by {} until {}",
                p.by,
                fmt_time(p.until)
            )),
            None => line.push_str(&format!("; paused by {} until {}", p.by, fmt_time(p.until))),
        }
    }
    if let Some(t) = policy.targets.get(&ts.target) {
        for dir in [Direction::Out, Direction::In] {
            if let Some(last) = ts.last_in(dir) {
                let until = later(last.at, cooldown_of(policy, t, last));
                if until > now {
                    let name = if dir == Direction::Out {
                        "scale-out"
                    } else {
                        "scale-in"
                    };
                    line.push_str(&format!("; {name} cooldown until {}", fmt_time(until)));
                }
            }
        }
    }
    if let Some(last) = ts.last_action() {
        line.push_str(&format!(
            "; last action {} -> {} by {} at {}",
            last.from,
            last.to,
            last.source,
            fmt_time(last.at)
        ));
    }
    line
}
