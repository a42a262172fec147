//! The checks of `[budgets.NAME]`.

use super::path::{Path, Spans};
use super::{Loader, Names};
use crate::model::{BudgetAction, Criticality, Policy};

impl Loader<'_> {
    pub(super) fn check_budgets(&mut self, policy: &Policy, names: &Names, spans: &Spans<'_>) {
        for (name, b) in &policy.budgets {
            let base = Path::of(&["budgets", name]);
            if !(b.threshold > 0.0 && b.threshold.is_finite()) {
                self.at(
                    spans,
                    &base.key("threshold"),
                    format!("`{base}.threshold` is {}: it must be above 0", b.threshold),
                    "write the percent of the budgeted amount, e.g. `threshold = 80`",
                );
            }
            if b.budget.trim().is_empty() {
                self.at(
                    spans,
                    &base.key("budget"),
                    format!("`{base}.budget` is empty"),
                    "write the AWS Budgets budget name",
                );
            }
            if let BudgetAction::LowerCeiling(a) = b.action {
                let raises = match a {
                    crate::model::Amount::Delta(d) => d >= 0,
                    crate::model::Amount::Percent(p) => p >= 0,
                    crate::model::Amount::Absolute(_) => false,
                };
                if raises {
                    self.at(
                        spans,
                        &base.key("action"),
                        format!("`{base}.action`: lower_ceiling `{a}` does not lower the ceiling"),
                        "write a number, `-N` or `-N%`",
                    );
                }
            }
            for (i, tname) in b.targets.iter().flatten().enumerate() {
                let p = base.key("targets").idx(i);
                if !self.known_target(spans, names, &p, tname, false) {
                    continue;
                }
                if let Some(t) = policy.targets.get(tname) {
                    if t.criticality == Criticality::Critical {
                        self.at(
                            spans,
                            &p,
                            format!("`{p}` lists critical target `{tname}`; budget rules never touch critical targets"),
                            "mark the target `criticality = \"non-critical\"` or remove it from the list",
                        );
                    }
                }
            }
        }
    }
}
