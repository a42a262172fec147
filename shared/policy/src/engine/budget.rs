//! Budget alerts: notify, cap non-critical targets until the period resets.

use super::*;

/// The first instant of the next budget period after `now` (UTC calendar).
pub fn period_end(period: BudgetPeriod, now: DateTime<Utc>) -> DateTime<Utc> {
    let (y, m) = (now.year(), now.month());
    let (ny, nm) = match period {
        BudgetPeriod::Monthly => {
            if m == 12 {
                (y + 1, 1)
            } else {
                (y, m + 1)
            }
        }
        BudgetPeriod::Quarterly => {
            let q_next = ((m - 1) / 3 + 1) * 3 + 1;
            if q_next > 12 {
                (y + 1, 1)
            } else {
                (y, q_next)
            }
        }
        BudgetPeriod::Yearly => (y + 1, 1),
    };
    Utc.with_ymd_and_hms(ny, nm, 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
}

pub(super) fn on_budget(
    policy: &Policy,
    b: &BudgetSignal,
    state: &State,
    now: DateTime<Utc>,
    d: &mut Decision,
) {
    let source = format!("budget:{}", b.budget);
    let amounts = match (b.amount, b.budgeted) {
        (Some(a), Some(t)) => format!(" ({a:.2} of {t:.2})"),
        (Some(a), None) => format!(" ({a:.2})"),
        _ => String::new(),
    };
    let for_budget: Vec<(&String, &BudgetRule)> = policy
        .budgets
        .iter()
        .filter(|(_, r)| r.budget == b.budget)
        .collect();
    if for_budget.is_empty() {
        d.notices.push(Notice {
            source: source.clone(),
            target: None,
            text: format!(
                "Capstan saw a {} alert for budget {} at {}%{amounts}; no rule mentions this budget, nothing done",
                b.alert_type, b.budget, b.threshold_percent
            ),
        });
        d.targets.push(suppressed(
            NO_TARGET,
            &source,
            Reason::UnknownBudget,
            format!("no budget rule mentions budget {}", b.budget),
        ));
        return;
    }
    let hits: Vec<&(&String, &BudgetRule)> = for_budget
        .iter()
        .filter(|(_, r)| r.alert_type == b.alert_type && b.threshold_percent + 1e-9 >= r.threshold)
        .collect();
    if hits.is_empty() {
        d.notices.push(Notice {
            source: source.clone(),
            target: None,
            text: format!(
                "budget {} {} alert at {}%{amounts}: no rule acts on {} alerts at this threshold; nothing done",
                b.budget, b.alert_type, b.threshold_percent, b.alert_type
            ),
        });
        return;
    }
    let mut capped = state.clone();
    let mut acting: Vec<(&String, &BudgetRule)> = Vec::new();
    for (rname, rule) in hits {
        let extra = rule
            .message
            .as_deref()
            .map(|m| format!(" {m}"))
            .unwrap_or_default();
        match rule.action {
            BudgetAction::Notify => d.notices.push(Notice {
                source: format!("budget:{rname}"),
                target: None,
                text: format!(
                    "budget {} {} at {}%{amounts} reached rule {rname} ({}%).{extra}",
                    b.budget, b.alert_type, b.threshold_percent, rule.threshold
                ),
            }),
            BudgetAction::Cap | BudgetAction::LowerCeiling(_) => {
                // The period the alert was sent in (a retried delivery may arrive after it).
                let sent = b.sent_at.map_or(now, |t| t.min(now));
                let until = period_end(rule.period, sent);
                if until <= now {
                    d.notices.push(Notice {
                        source: format!("budget:{rname}"),
                        target: None,
                        text: format!(
                            "budget {} {} at {}%{amounts}: the alert was sent {}, in a budget period that ended {}; rule {rname} caps nothing now",
                            b.budget,
                            b.alert_type,
                            b.threshold_percent,
                            fmt_time(sent),
                            fmt_time(until)
                        ),
                    });
                    continue;
                }
                let in_force = state
                    .caps
                    .iter()
                    .any(|c| &c.rule == *rname && c.until > now && c.since <= now);
                if !in_force {
                    let cap = BudgetCap {
                        budget: b.budget.clone(),
                        rule: (*rname).clone(),
                        since: now,
                        until,
                    };
                    d.ops.push(StateOp::AddCap(cap.clone()));
                    capped.caps.push(cap);
                    d.notices.push(Notice {
                        source: format!("budget:{rname}"),
                        target: None,
                        text: format!(
                            "budget {} {} at {}%{amounts}: rule {rname} caps non-critical capacity until {} (period reset).{extra}",
                            b.budget,
                            b.alert_type,
                            b.threshold_percent,
                            fmt_time(until)
                        ),
                    });
                }
                acting.push((rname, rule));
            }
        }
    }
    let mut done: Vec<&str> = Vec::new();
    for (rname, rule) in acting {
        let rsource = format!("budget:{rname}");
        for (tname, target) in &policy.targets {
            if !rule.covers_target(tname) || done.contains(&tname.as_str()) {
                continue;
            }
            if target.criticality == Criticality::Critical {
                if rule.targets.is_some() {
                    d.notices.push(Notice {
                        source: rsource.clone(),
                        target: Some(tname.clone()),
                        text: format!("{tname} is critical: budget rules never touch it"),
                    });
                }
                continue;
            }
            done.push(tname);
            for (inst, ts) in instances(state, tname) {
                let cur = capacity(ts);
                let bounds = effective_bounds(policy, &capped, inst, now);
                let to = Capacity {
                    desired: cur.desired.clamp(bounds.floor, bounds.ceiling),
                    min: bounds.floor,
                    max: bounds.ceiling,
                };
                let what = format!(
                    "budget {} {} at {}%: rule {rname}: {}",
                    b.budget,
                    b.alert_type,
                    b.threshold_percent,
                    bounds.why.join("; ")
                );
                if to == cur {
                    d.targets.push(suppressed(
                        inst,
                        &rsource,
                        Reason::AlreadyRight,
                        format!("{what}: already capped, {cur}"),
                    ));
                } else {
                    let change = Proposal {
                        source: &rsource,
                        cur,
                        to,
                        what,
                        notes: Vec::new(),
                    };
                    d.targets
                        .push(finish(policy, now, Subject { target, inst, ts }, change));
                }
            }
        }
    }
}
