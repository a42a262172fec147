//! STUB.

use std::path::Path;

/// Runs the subcommand; `Ok(true)` when clean.
pub fn run(
    _file: &Path,
    _target: Option<&str>,
    _days: u32,
    _from: Option<&str>,
) -> Result<bool, String> {
    Err("not implemented yet".into())
}
