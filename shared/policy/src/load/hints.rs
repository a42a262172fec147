//! Hints: "did you mean", what is allowed, and the message and hint for a serde error.

use super::path::{Path, Seg};

/// Edit distance counting a swap of two neighbouring characters as one edit (optimal string
/// alignment), for "did you mean".
pub(super) fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The closest of `candidates` to `word`, when it is close enough to be a likely typo.
pub(super) fn closest<'a, I: IntoIterator<Item = &'a str>>(
    word: &str,
    candidates: I,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (distance(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

pub(super) fn backticked(list: &[&str]) -> String {
    list.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "did you mean `x`?" or the list of what is allowed.
pub(super) fn suggest(word: &str, candidates: &[&str], what: &str) -> String {
    match closest(word, candidates.iter().copied()) {
        Some(c) => format!("did you mean `{c}`?"),
        None if candidates.is_empty() => format!("no {what} are defined"),
        None => format!("{what}: {}", backticked(candidates)),
    }
}

/// Words in backticks after "expected" in a serde message (`unknown variant`, `unknown field`).
pub(super) fn expected_words(message: &str) -> Vec<&str> {
    let Some((_, rest)) = message.split_once("expected") else {
        return Vec::new();
    };
    rest.split('`').skip(1).step_by(2).collect()
}

/// Splits a serde error into a message and a hint.
pub(super) fn explain_error(path: &Path, message: &str) -> (String, String) {
    let message = message.trim();
    let last = match path.0.last() {
        Some(Seg::Key(k)) => k.as_str(),
        _ => "",
    };
    if message.contains("untagged enum Raw") {
        // The only untagged enum in the model reads a `Timestamp`.
        return (
            format!("`{path}` is not a time"),
            "write RFC 3339 with an offset, e.g. `2026-12-01T09:00:00Z`".into(),
        );
    }
    if let Some((msg, hint)) = message.split_once("; write ") {
        return (format!("`{path}`: {msg}"), format!("write {hint}"));
    }
    if message.starts_with("unknown variant") || message.starts_with("unknown field") {
        let word = message.split('`').nth(1).unwrap_or("");
        let expected = expected_words(message);
        let (msg, _) = message.split_once(", expected").unwrap_or((message, ""));
        return (
            format!("`{path}`: {msg}"),
            suggest(word, &expected, "allowed values"),
        );
    }
    if message.contains("timezone") || last == "zone" {
        return (
            format!("`{path}`: {message}"),
            "use an IANA name such as Europe/Berlin or America/New_York".into(),
        );
    }
    let hint = if last == "cron" {
        "write five fields: minute hour day-of-month month day-of-week, e.g. `0 8 * * mon-fri`"
    } else if message.contains("expected u32")
        || message.contains("expected u64")
        || message.contains("expected i32")
        || message.contains("expected i64")
    {
        "write a whole number without quotes, e.g. `2`"
    } else if message.contains("expected f64") {
        "write a number without quotes, e.g. `80` or `0.5`"
    } else if message.contains("expected a boolean") {
        "write `true` or `false`"
    } else if message.contains("expected a sequence") {
        "write a list, e.g. `[\"a\", \"b\"]`"
    } else if message.contains("expected a string") {
        "write a quoted string"
    } else if message.contains("expected struct") || message.contains("expected a map") {
        "write a table, e.g. `{ key = value }` or a `[section]`"
    } else {
        "fix this value"
    };
    (format!("`{path}`: {message}"), hint.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_a_swap_as_one_edit() {
        assert_eq!(distance("floor", "floor"), 0);
        assert_eq!(distance("flor", "floor"), 1);
        assert_eq!(distance("ALRAM", "ALARM"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn closest_only_suggests_likely_typos() {
        let keys = ["floor", "ceiling", "max_step"];
        assert_eq!(closest("ceilng", keys), Some("ceiling"));
        assert_eq!(closest("colour", keys), None);
        assert_eq!(closest("x", ["y"]), Some("y"));
    }
}
