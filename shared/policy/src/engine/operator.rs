//! Operator commands: authorization, manual scaling, force, pause and pin, undo, caps.

use super::*;

/// The prefix of users of the `capstan` CLI: a person at a terminal.
pub const CLI_USER_PREFIX: &str = "cli:";

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
    if user.starts_with(CLI_USER_PREFIX) && user.len() > CLI_USER_PREFIX.len() {
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
        Err(why) => {
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
    let mut verbs = vec![cmd.verb()];
    if cmd.forced() {
        verbs.push(Verb::Force);
    }
    for verb in verbs {
        let auth_target = if matches!(cmd, Command::LiftCap { .. }) {
            None
        } else {
            target_name
        };
        if let Err(why) = authorize(policy, &c.user, &c.channel, verb, auth_target) {
            d.targets.push(suppressed(
                target_name.unwrap_or(NO_TARGET),
                &source,
                Reason::NotAllowed { why: why.clone() },
                format!("`{}` refused: {why}", c.text),
            ));
            return;
        }
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
    match cmd {
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
            let t = &policy.targets[&target];
            for (inst, ts) in instances(state, &target) {
                let decision = manual_scale(policy, t, inst, ts, state, to, force, c, &source, now);
                pin_forced(policy, &decision, c, now, d);
                d.targets.push(decision);
            }
        }
        Command::Undo { target, force } => {
            let t = &policy.targets[&target];
            for (inst, ts) in instances(state, &target) {
                match ts.last_action().filter(|a| a.from != a.to) {
                    Some(last) => {
                        let decision = manual_scale(
                            policy,
                            t,
                            inst,
                            ts,
                            state,
                            ScaleTo::Exactly(last.from),
                            force,
                            c,
                            &format!("{source}:undo"),
                            now,
                        );
                        pin_forced(policy, &decision, c, now, d);
                        d.targets.push(decision);
                    }
                    None => d.targets.push(suppressed(
                        inst,
                        &source,
                        Reason::NothingToUndo,
                        format!("`{}`: no recent action on {inst} to undo", c.text),
                    )),
                }
            }
        }
        Command::Pause {
            target,
            duration,
            pin,
            force,
        } => {
            let until = duration.unwrap_or(policy.settings.default_pause).after(now);
            for (inst, _) in instances(state, &target) {
                if let Some(pin) = pin {
                    let b = effective_bounds(policy, state, inst, now);
                    if !force && (pin < b.floor || pin > b.ceiling) {
                        d.targets.push(suppressed(
                            inst,
                            &source,
                            if pin > b.ceiling {
                                Reason::AtCeiling { ceiling: b.ceiling }
                            } else {
                                Reason::AtFloor { floor: b.floor }
                            },
                            format!(
                                "`{}`: pin {pin} is outside {}..{}; add --force to override (audited)",
                                c.text, b.floor, b.ceiling
                            ),
                        ));
                        continue;
                    }
                }
                d.ops.push(StateOp::Pause {
                    target: inst.clone(),
                    pause: Pause {
                        until,
                        by: c.user.clone(),
                        pin,
                    },
                });
                d.notices.push(Notice {
                    source: source.clone(),
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
        Command::Resume { target } => {
            for (inst, ts) in instances(state, &target) {
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
            let in_force: Vec<&BudgetCap> = state
                .caps
                .iter()
                .filter(|cap| cap.budget == budget && cap.until > now)
                .collect();
            if in_force.is_empty() {
                d.notices.push(Notice {
                    source: source.clone(),
                    target: None,
                    text: format!("no cap of budget {budget} is in force"),
                });
                return;
            }
            d.ops.push(StateOp::LiftCap {
                budget: budget.clone(),
            });
            d.notices.push(Notice {
                source: source.clone(),
                target: None,
                text: format!("cap of budget {budget} lifted early by {}", c.user),
            });
            let mut lifted = state.clone();
            lifted.caps.retain(|cap| cap.budget != budget);
            rebound(
                policy,
                state,
                &lifted,
                now,
                &source,
                &format!("cap of budget {budget} lifted"),
                d,
            );
        }
    }
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

#[allow(clippy::too_many_arguments)]
fn manual_scale(
    policy: &Policy,
    target: &Target,
    inst: &str,
    ts: &TargetState,
    state: &State,
    to: ScaleTo,
    force: bool,
    c: &CommandSignal,
    source: &str,
    now: DateTime<Utc>,
) -> TargetDecision {
    let cur = capacity(ts);
    let b = effective_bounds(policy, state, inst, now);
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
    let what = format!("`{}` by {}", c.text, c.user);
    if wanted == cur.desired {
        return suppressed(
            inst,
            source,
            Reason::AlreadyRight,
            format!("{what}: desired already {}", cur.desired),
        );
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
            return suppressed(
                inst,
                source,
                Reason::AtCeiling { ceiling: b.ceiling },
                format!(
                    "{what}: {wanted} is above the ceiling {} ({}); add --force to override (audited)",
                    b.ceiling,
                    b.why.join("; ")
                ),
            );
        }
        if wanted < b.floor {
            return suppressed(
                inst,
                source,
                Reason::AtFloor { floor: b.floor },
                format!(
                    "{what}: {wanted} is below the floor {} ({}); add --force to override (audited)",
                    b.floor,
                    b.why.join("; ")
                ),
            );
        }
        if change > target.max_step() {
            return suppressed(
                inst,
                source,
                Reason::NotAllowed {
                    why: format!("a change of {change} exceeds the max step {}", target.max_step()),
                },
                format!(
                    "{what}: a change of {change} exceeds the max step {}; scale in smaller steps or add --force",
                    target.max_step()
                ),
            );
        }
    }
    if change > policy.slack.confirm_above && !c.confirmed {
        return suppressed(
            inst,
            source,
            Reason::NeedsConfirmation { would },
            format!(
                "{what}: a change of {change} (more than {}) needs a confirmation: {cur} -> {would}",
                policy.slack.confirm_above
            ),
        );
    }
    if !force {
        return finish(
            policy,
            target,
            inst,
            ts,
            source,
            cur,
            would,
            now,
            what,
            Vec::new(),
        );
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
