//! `status` on Slack: the same view `capstan status` prints, in a few lines, of the targets the
//! asker may see.

use capstan_policy::engine::authorize;
use capstan_policy::model::Verb;
use capstan_runner::{view, Runner};

use crate::job::Asker;

/// The status of every target `asker` is granted `status` on in their channel (or of one), as
/// Slack shows it. A grant limited to some targets shows those only.
pub async fn text(runner: &Runner, asker: &Asker, target: Option<&str>) -> Result<String, String> {
    let snapshot = view::gather(runner).await.map_err(|e| e.to_string())?;
    let mut report = view::build(runner.policy(), &snapshot, runner.now());
    let policy = runner.policy();
    report.targets.retain(|t| {
        authorize(
            policy,
            &asker.user,
            &asker.channel,
            Verb::Status,
            Some(&t.target),
        )
        .is_ok()
    });
    Ok(view::slack_lines(&report, target))
}
