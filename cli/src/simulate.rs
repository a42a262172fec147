//! STUB.

use std::path::Path;

/// Runs the subcommand; `Ok(true)` when clean.
pub fn run(
    _file: &Path,
    _timeline: &Path,
    _state: Option<&Path>,
    _chart: Option<&Path>,
) -> Result<bool, String> {
    Err("not implemented yet".into())
}
