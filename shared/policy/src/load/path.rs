//! Paths in a policy file (`targets.api.floor`, `tests[2].expect.api`) and where they stand
//! in the source: the spans that diagnostics point at.

use std::fmt;
use std::ops::Range;

use toml::de::DeValue;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Seg {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Path(pub(super) Vec<Seg>);

impl Path {
    pub(super) fn of(keys: &[&str]) -> Path {
        Path(keys.iter().map(|k| Seg::Key((*k).to_string())).collect())
    }
    pub(super) fn key(&self, k: &str) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }
    pub(super) fn idx(&self, i: usize) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
    pub(super) fn join(&self, rest: &Path) -> Path {
        let mut p = self.clone();
        p.0.extend(rest.0.iter().cloned());
        p
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    let bare = !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                    if bare {
                        f.write_str(k)?;
                    } else {
                        write!(f, "{k:?}")?;
                    }
                }
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// The key span (if the path ends in a key) and the value span of `path` under `value`.
fn locate(value: &DeValue<'_>, path: &[Seg]) -> Option<(Option<Range<usize>>, Range<usize>)> {
    let mut cur = value;
    let mut found = None;
    for seg in path {
        let (k, v) = match (seg, cur) {
            (Seg::Key(k), DeValue::Table(t)) => {
                let (k, v) = t.get_key_value(k.as_str())?;
                (Some(k.span()), v)
            }
            (Seg::Index(i), DeValue::Array(a)) => (None, a.get(*i)?),
            _ => return None,
        };
        found = Some((k, v.span()));
        cur = v.get_ref();
    }
    found
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// The deepest path under `value` whose key or value span contains `span`.
pub(super) fn deepest(value: &DeValue<'_>, span: &Range<usize>) -> Path {
    let mut path = Path::default();
    let mut cur = value;
    loop {
        let next = match cur {
            DeValue::Table(t) => t
                .iter()
                .find(|(k, v)| contains(&k.span(), span) || contains(&v.span(), span))
                .map(|(k, v)| (Seg::Key(k.get_ref().to_string()), v)),
            DeValue::Array(a) => a
                .iter()
                .enumerate()
                .find(|(_, v)| contains(&v.span(), span))
                .map(|(i, v)| (Seg::Index(i), v)),
            _ => None,
        };
        match next {
            Some((seg, v)) => {
                path.0.push(seg);
                cur = v.get_ref();
            }
            None => return path,
        }
    }
}

/// Removes the table entry at `path` (an array index at the end removes the whole array);
/// returns the path removed.
pub(super) fn remove(value: &mut DeValue<'_>, path: &Path) -> Option<Path> {
    let mut segs: &[Seg] = &path.0;
    while let Some(Seg::Index(_)) = segs.last() {
        segs = &segs[..segs.len() - 1];
    }
    let removed = Path(segs.to_vec());
    let (Seg::Key(last), parents) = segs.split_last()? else {
        return None;
    };
    let mut cur = value;
    for seg in parents {
        cur = match (seg, cur) {
            (Seg::Key(k), DeValue::Table(t)) => t.get_mut(k.as_str())?.get_mut(),
            (Seg::Index(i), DeValue::Array(a)) => a.get_mut(*i)?.get_mut(),
            _ => return None,
        };
    }
    match cur {
        DeValue::Table(t) => t.remove(last.as_str()).map(|_| removed),
        _ => None,
    }
}

/// Positions of paths in the original tree.
pub(super) struct Spans<'i> {
    pub(super) root: DeValue<'i>,
}

impl Spans<'_> {
    /// The value span of `path`, or of its nearest ancestor that exists.
    pub(super) fn value(&self, path: &Path) -> Range<usize> {
        for n in (1..=path.0.len()).rev() {
            if let Some((_, v)) = locate(&self.root, &path.0[..n]) {
                return v;
            }
        }
        0..0
    }

    /// The key span of `path` (falling back to its value span).
    pub(super) fn key(&self, path: &Path) -> Range<usize> {
        match locate(&self.root, &path.0) {
            Some((Some(k), _)) => k,
            Some((None, v)) => v,
            None => self.value(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_like_toml_keys() {
        let p = Path::of(&["tests"]).idx(2).key("expect").key("*");
        assert_eq!(p.to_string(), "tests[2].expect.\"*\"");
        assert_eq!(Path::of(&["rules", "api-cpu"]).to_string(), "rules.api-cpu");
    }
}
