//! The checks of `[holidays]` and `[schedules.NAME]`, each on its own (overlaps between
//! periods are in `periods`).

use super::hints::closest;
use super::path::{Path, Spans};
use super::{Loader, Names};
use crate::model::{HolidaySpec, Policy};

impl Loader<'_> {
    pub(super) fn check_schedules(&mut self, policy: &Policy, names: &Names, spans: &Spans<'_>) {
        for (hname, specs) in &policy.holidays {
            for (i, spec) in specs.iter().enumerate() {
                if let HolidaySpec::Calendar(c) = spec {
                    if !names.holidays.contains(c) {
                        let p = Path::of(&["holidays", hname]).idx(i);
                        self.at(
                            spans,
                            &p,
                            format!("`{p}`: `{c}` is neither a date nor a calendar defined under [holidays]"),
                            "write dates `YYYY-MM-DD`, ranges `YYYY-MM-DD..YYYY-MM-DD`, or the name of another calendar",
                        );
                    }
                }
            }
        }
        for (name, s) in &policy.schedules {
            let base = Path::of(&["schedules", name]);
            if s.targets.is_empty() {
                self.at(
                    spans,
                    &base.key("targets"),
                    format!("schedule `{base}` names no targets"),
                    "add `targets = [\"...\"]`",
                );
            }
            for (i, t) in s.targets.iter().enumerate() {
                self.known_target(spans, names, &base.key("targets").idx(i), t, false);
            }
            let explained = |f: &str| self.already_explained(&base.key(f));
            let kind_explained = explained("cron") || explained("begin") || explained("end");
            let end_explained = explained("end") || explained("begin");
            let desired_explained = explained("desired");
            let bounds_explained = explained("floor") || explained("ceiling");
            let period = s.begin.is_some() || s.end.is_some();
            if s.cron.is_some() && period {
                self.at_key(
                    spans,
                    &base.key("cron"),
                    format!("schedule `{base}` has both `cron` (an occurrence) and `begin`/`end` (a period)"),
                    "split it in two: a period with `begin`/`end` and `floor`/`ceiling`, an occurrence with `cron` and `desired`",
                );
            } else if s.cron.is_none() && !period && !kind_explained {
                self.at(
                    spans,
                    &base,
                    format!("schedule `{base}` has neither `cron` nor `begin`/`end`"),
                    "a period needs `begin` and `end` (HH:MM); an occurrence needs `cron`",
                );
            }
            if s.cron.is_none() && !end_explained {
                match (s.begin, s.end) {
                    (Some(_), None) => self.at_key(
                        spans,
                        &base.key("begin"),
                        format!("`{base}` has `begin` but no `end`"),
                        "add `end = \"HH:MM\"`",
                    ),
                    (None, Some(_)) => self.at_key(
                        spans,
                        &base.key("end"),
                        format!("`{base}` has `end` but no `begin`"),
                        "add `begin = \"HH:MM\"`",
                    ),
                    _ => {}
                }
            }
            if s.is_occurrence() {
                if s.desired.is_none() && !desired_explained {
                    self.at(
                        spans,
                        &base,
                        format!("occurrence `{base}` (with `cron`) sets no `desired`"),
                        "add `desired = N`: the capacity set each time the cron comes round",
                    );
                }
                for (field, v) in [("floor", s.floor), ("ceiling", s.ceiling)] {
                    if v.is_some() {
                        self.at_key(
                            spans,
                            &base.key(field),
                            format!("occurrence `{base}` (with `cron`) sets `{field}`; occurrences set `desired`"),
                            "move floor/ceiling to a period schedule with `begin`/`end`",
                        );
                    }
                }
            } else if period {
                if s.floor.is_none() && s.ceiling.is_none() && !bounds_explained {
                    self.at(
                        spans,
                        &base,
                        format!("period `{base}` sets neither `floor` nor `ceiling`"),
                        "add `floor = N` and/or `ceiling = N`: the bounds while the period holds",
                    );
                }
                if s.desired.is_some() {
                    self.at_key(
                        spans,
                        &base.key("desired"),
                        format!("period `{base}` sets `desired`; periods set `floor`/`ceiling`"),
                        "use `floor` (capacity never below it while the period holds), or make an occurrence with `cron`",
                    );
                }
                if let (Some(f), Some(c)) = (s.floor, s.ceiling) {
                    if f > c {
                        self.at(
                            spans,
                            &base.key("floor"),
                            format!("`{base}.floor` ({f}) is above its ceiling ({c})"),
                            "lower the floor or raise the ceiling",
                        );
                    }
                }
            }
            for (field, v) in [
                ("floor", s.floor),
                ("ceiling", s.ceiling),
                ("desired", s.desired),
            ] {
                let Some(v) = v else { continue };
                for tname in &s.targets {
                    let Some(t) = policy.targets.get(tname) else {
                        continue;
                    };
                    if v > t.ceiling {
                        self.at(
                            spans,
                            &base.key(field),
                            format!("`{base}.{field}` ({v}) is above target `{tname}`'s hard ceiling ({})", t.ceiling),
                            "raise the target's bounds or lower the value",
                        );
                    } else if v < t.floor {
                        self.at(
                            spans,
                            &base.key(field),
                            format!("`{base}.{field}` ({v}) is below target `{tname}`'s hard floor ({})", t.floor),
                            "lower the target's floor or raise the value",
                        );
                    }
                }
            }
            for (i, h) in s.holidays.iter().enumerate() {
                if let HolidaySpec::Calendar(c) = h {
                    if !names.holidays.contains(c) {
                        let p = base.key("holidays").idx(i);
                        let hint = match closest(c, names.holidays.iter().map(String::as_str)) {
                            Some(m) => format!("did you mean `{m}`?"),
                            None => {
                                format!("define it under [holidays]: `{c} = [\"2026-12-25\", ...]`")
                            }
                        };
                        self.at(
                            spans,
                            &p,
                            format!("`{p}` names holiday calendar `{c}`, which is not defined under [holidays]"),
                            &hint,
                        );
                    }
                }
            }
        }
    }
}
