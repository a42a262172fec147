//! Loading a policy file: TOML syntax, types, unknown keys, and the checks that span entries,
//! each problem reported with its line and column.
//!
//! STUB: to be written.

use crate::model::Policy;

/// One problem in a policy file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
    /// Byte range in the source.
    pub span: Option<std::ops::Range<usize>>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// Every problem found in a policy file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the policy has {} problem(s)", .diagnostics.len())]
pub struct LoadError {
    /// The problems, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses and validates a policy from TOML text.
pub fn load(text: &str) -> Result<Policy, LoadError> {
    toml::from_str(text).map_err(|e| LoadError {
        diagnostics: vec![Diagnostic {
            message: e.to_string(),
            hint: None,
            span: e.span(),
            line: 0,
            column: 0,
        }],
    })
}
