//! `capstan validate FILE`: load a policy and report every problem in it at once, each with the
//! file name, line and column, the source snippet and a hint (rendered by miette), then a
//! summary line. `--format json` prints the same as one JSON document for tools.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use capstan_policy::{Diagnostic, PolicyFile};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};

use crate::exit::{Failure, Outcome};

/// How `validate` prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Graphical diagnostics for people.
    #[default]
    Human,
    /// One JSON document: `{ file, ok, problems: [...], counts }`.
    Json,
}

/// Runs the subcommand: fine when clean, a finding when the policy has problems (the report
/// lists them), trouble when the file cannot be read or the report written.
pub fn run(file: &Path, format: Format) -> Outcome {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::trouble(format!("cannot read {}: {e}", file.display())))?;
    let name = file.display().to_string();
    let stdout = io::stdout();
    let color = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut out = stdout.lock();
    let result = match format {
        Format::Human => report(&name, &text, color, &mut out),
        Format::Json => report_json(&name, &text, &mut out),
    };
    let clean = result.map_err(|e| Failure::trouble(format!("cannot write the report: {e}")))?;
    if clean {
        Ok(())
    } else {
        Err(Failure::finding())
    }
}

/// One diagnostic with its source, in the shape miette renders.
#[derive(Debug)]
struct Problem {
    diagnostic: Diagnostic,
    source: NamedSource<Arc<str>>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Problem {}

impl miette::Diagnostic for Problem {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diagnostic
            .hint
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.diagnostic.span.clone()?;
        // miette needs a non-empty span to point at something; widen an empty one.
        let len = span.len().max(1);
        let label = LabeledSpan::new_with_span(None, (span.start, len));
        Some(Box::new(std::iter::once(label)))
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `4 targets, 10 rules, 4 schedules, 1 event, 2 budget rules, 12 tests`.
fn summary(file: &PolicyFile) -> String {
    let policy = &file.policy;
    [
        plural(policy.targets.len(), "target", "targets"),
        plural(policy.rules.len(), "rule", "rules"),
        plural(policy.schedules.len(), "schedule", "schedules"),
        plural(policy.events.len(), "event", "events"),
        plural(policy.budgets.len(), "budget rule", "budget rules"),
        plural(file.tests.len(), "test", "tests"),
    ]
    .join(", ")
}

/// Loads `text` (named `name` in messages) and writes the human report to `out`.
fn report(name: &str, text: &str, color: bool, out: &mut impl Write) -> io::Result<bool> {
    let diagnostics = match capstan_policy::load_file(text) {
        Ok(file) => {
            writeln!(out, "{name}: ok ({})", summary(&file))?;
            return Ok(true);
        }
        Err(e) => e.diagnostics,
    };
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
    let source: Arc<str> = Arc::from(text);
    let count = diagnostics.len();
    for diagnostic in diagnostics {
        let problem = Problem {
            diagnostic,
            source: NamedSource::new(name, Arc::clone(&source)),
        };
        let mut rendered = String::new();
        handler
            .render_report(&mut rendered, &problem)
            .map_err(io::Error::other)?;
        writeln!(out, "{rendered}")?;
    }
    writeln!(out, "{} in {name}", plural(count, "problem", "problems"))?;
    Ok(false)
}

/// Loads `text` and writes the report as one JSON document.
fn report_json(name: &str, text: &str, out: &mut impl Write) -> io::Result<bool> {
    let (ok, problems, counts) = match capstan_policy::load_file(text) {
        Ok(PolicyFile { policy, tests }) => (
            true,
            Vec::new(),
            serde_json::json!({
                "targets": policy.targets.len(),
                "rules": policy.rules.len(),
                "schedules": policy.schedules.len(),
                "events": policy.events.len(),
                "budget_rules": policy.budgets.len(),
                "tests": tests.len(),
            }),
        ),
        Err(e) => (
            false,
            e.diagnostics
                .iter()
                .map(|d| {
                    serde_json::json!({
                        "line": d.line,
                        "column": d.column,
                        "start": d.span.as_ref().map(|s| s.start),
                        "end": d.span.as_ref().map(|s| s.end),
                        "message": d.message,
                        "hint": d.hint,
                    })
                })
                .collect(),
            serde_json::Value::Null,
        ),
    };
    let doc = serde_json::json!({
        "file": name,
        "ok": ok,
        "problems": problems,
        "counts": counts,
    });
    let text = serde_json::to_string_pretty(&doc).map_err(io::Error::other)?;
    writeln!(out, "{text}")?;
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str =
        "[targets.api]\nkind = \"ecs\"\ncluster = \"c\"\nservice = \"s\"\nfloor = 5\nceiling = 3\n";

    #[test]
    fn problems_render_with_file_line_snippet_and_hint() {
        let mut out = Vec::new();
        let clean = report("p.toml", POLICY, false, &mut out).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        assert!(!clean);
        assert!(text.contains("p.toml:5:9"), "{text}");
        assert!(text.contains("floor = 5"), "{text}");
        assert!(
            text.contains("lower the floor or raise the ceiling"),
            "{text}"
        );
        assert!(text.trim_end().ends_with("1 problem in p.toml"), "{text}");
    }

    #[test]
    fn a_clean_policy_gets_its_counts() {
        let text = POLICY.replace("ceiling = 3", "ceiling = 8");
        let mut out = Vec::new();
        assert!(report("p.toml", &text, false, &mut out).expect("write"));
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "p.toml: ok (1 target, 0 rules, 0 schedules, 0 events, 0 budget rules, 0 tests)\n"
        );
    }

    #[test]
    fn json_lists_each_problem() {
        let mut out = Vec::new();
        assert!(!report_json("p.toml", POLICY, &mut out).expect("write"));
        let doc: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(doc["ok"], false);
        assert_eq!(doc["problems"][0]["line"], 5);
        assert_eq!(doc["problems"][0]["column"], 9);
        assert!(doc["problems"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("targets.api.floor")));
    }
}
