//! `status` on Slack: the same view `capstan status` prints, in a few lines.

use capstan_runner::{view, Runner};

/// The status of every target (or one), as Slack shows it.
pub async fn text(runner: &Runner, target: Option<&str>) -> Result<String, String> {
    let snapshot = view::gather(runner).await.map_err(|e| e.to_string())?;
    let report = view::build(runner.policy(), &snapshot, runner.now());
    Ok(view::slack_lines(&report, target))
}
