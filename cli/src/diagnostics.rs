//! Plain-text rendering of policy load problems, shared by `test`, `explain` and `simulate`
//! (`validate` renders the same diagnostics graphically with miette).

use capstan_policy::LoadError;

/// One `FILE:LINE:COL: message` line per problem (just `FILE: message` when it has no
/// position), each followed by its hint.
pub fn render(name: &str, error: &LoadError) -> String {
    let mut out = String::new();
    for d in &error.diagnostics {
        if d.line > 0 {
            out.push_str(&format!("{name}:{}:{}: {}\n", d.line, d.column, d.message));
        } else {
            out.push_str(&format!("{name}: {}\n", d.message));
        }
        if let Some(hint) = &d.hint {
            out.push_str(&format!("    hint: {hint}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_file_line_column_and_hint() {
        let e = capstan_policy::load("[targets.api]\nkind = \"ecs\"\nflor = 2\n").unwrap_err();
        let text = render("p.toml", &e);
        assert!(text.contains("p.toml:3:1: "), "{text}");
        assert!(text.contains("hint: did you mean `floor`?"), "{text}");
    }
}
