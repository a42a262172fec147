//! The guard on `response_url`: Capstan posts only to Slack (`https://hooks.slack.com/...`), or
//! under one configured prefix for local tests (`CAPSTAN_SLACK_RESPONSE_PREFIX`, e.g.
//! `http://127.0.0.1:8080/`). Never anywhere else, whatever a request says.
//!
//! The check is a plain, case-sensitive prefix match on a URL of printable ASCII, and every
//! accepted prefix ends its host with `/`, so no userinfo (`@`), port, look-alike domain or
//! encoding trick can move the host.

use serde::Serialize;
use std::fmt;

/// The prefix of every URL Slack hands out for responses.
pub const SLACK_PREFIX: &str = "https://hooks.slack.com/";

/// Why a `response_url` (or the configured prefix) was refused. Messages never repeat the URL:
/// a `response_url` lets whoever holds it post to the conversation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// The URL is empty.
    #[error("the response_url is empty")]
    Empty,
    /// The URL holds whitespace, a control character or a non-ASCII character.
    #[error("the response_url holds a space, control or non-ASCII character at byte {position}")]
    BadCharacter {
        /// The byte offset of the first such character.
        position: usize,
    },
    /// The URL is neither Slack's nor under the configured prefix.
    #[error("the response_url is not under {SLACK_PREFIX} or the configured prefix")]
    NotAllowed,
    /// The configured extra prefix is unusable (it is then never matched).
    #[error("the configured response_url prefix is unusable: {reason}")]
    BadPrefix {
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// A `response_url` Capstan may post to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ResponseUrl(String);

impl ResponseUrl {
    /// Accepts `raw` only when it begins with [`SLACK_PREFIX`] or with `extra_prefix`.
    ///
    /// `extra_prefix` is for local tests; `None` or `Some("")` means none. A non-empty one must
    /// itself pass [`validate_prefix`], or URLs outside Slack are refused with
    /// [`UrlError::BadPrefix`].
    pub fn parse(raw: &str, extra_prefix: Option<&str>) -> Result<ResponseUrl, UrlError> {
        if raw.is_empty() {
            return Err(UrlError::Empty);
        }
        if let Some(position) = raw.bytes().position(|b| !is_url_byte(b)) {
            return Err(UrlError::BadCharacter { position });
        }
        if raw.starts_with(SLACK_PREFIX) {
            return Ok(ResponseUrl(raw.to_string()));
        }
        match extra_prefix.filter(|p| !p.is_empty()) {
            None => Err(UrlError::NotAllowed),
            Some(prefix) => {
                validate_prefix(prefix)?;
                if raw.starts_with(prefix) {
                    Ok(ResponseUrl(raw.to_string()))
                } else {
                    Err(UrlError::NotAllowed)
                }
            }
        }
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ResponseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ResponseUrl {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Printable ASCII, no space: what a URL is made of.
fn is_url_byte(b: u8) -> bool {
    b.is_ascii_graphic()
}

/// Checks a configured extra prefix (call it at startup to report a bad configuration early):
/// `http://` or `https://`, a host (with an optional port) of letters, digits, `.`, `-`, `:`,
/// `[` and `]` (IPv6), then `/`. So `http://`, `http://host` (which would match
/// `http://host.evil.com/`) and `http://user@host/` are refused.
pub fn validate_prefix(prefix: &str) -> Result<(), UrlError> {
    if prefix.is_empty() {
        return Err(UrlError::BadPrefix {
            reason: "it is empty",
        });
    }
    if !prefix.bytes().all(is_url_byte) {
        return Err(UrlError::BadPrefix {
            reason: "it holds a space, control or non-ASCII character",
        });
    }
    let rest = prefix
        .strip_prefix("https://")
        .or_else(|| prefix.strip_prefix("http://"))
        .ok_or(UrlError::BadPrefix {
            reason: "it does not begin with http:// or https://",
        })?;
    let Some(end) = rest.find('/') else {
        return Err(UrlError::BadPrefix {
            reason: "its host is not followed by /",
        });
    };
    let host = &rest[..end];
    if host.is_empty() {
        return Err(UrlError::BadPrefix {
            reason: "it has no host",
        });
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
    {
        return Err(UrlError::BadPrefix {
            reason:
                "its host holds characters other than letters, digits, '.', '-', ':', '[' and ']'",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: &str = "http://127.0.0.1:8080/";

    fn ok(raw: &str, prefix: Option<&str>) -> ResponseUrl {
        ResponseUrl::parse(raw, prefix).unwrap_or_else(|e| panic!("{raw:?} refused: {e}"))
    }

    fn refused(raw: &str, prefix: Option<&str>) -> UrlError {
        match ResponseUrl::parse(raw, prefix) {
            Ok(url) => panic!("{raw:?} accepted as {url}"),
            Err(e) => e,
        }
    }

    #[test]
    fn slack_urls_are_accepted() {
        let raw = "https://hooks.slack.com/commands/T0001/1234567890/abcdefABCDEF123456";
        let url = ok(raw, None);
        assert_eq!(url.as_str(), raw);
        assert_eq!(url.to_string(), raw);
        assert_eq!(url.clone().into_string(), raw);
        assert_eq!(serde_json::to_value(&url).unwrap(), serde_json::json!(raw));
        ok(
            "https://hooks.slack.com/actions/T0001/1795442402/XXXXXXXXXXXXXXXXXXXX",
            None,
        );
        ok(raw, Some(LOCAL));
        ok(raw, Some(""));
        // A bad extra prefix does not stop Slack's own URLs.
        ok(raw, Some("http://"));
    }

    #[test]
    fn look_alike_hosts_are_refused() {
        for raw in [
            "https://hooks.slack.com.evil.com/commands/T1/1/x",
            "https://hooks.slack.com@evil.com/commands/T1/1/x",
            "https://hooks.slack.com:443@evil.com/",
            "https://hooks.slack.com:443/commands/T1/1/x",
            "https://hooks.slack.co/commands/T1/1/x",
            "https://evil.com/https://hooks.slack.com/",
            "https://evil.com/?https://hooks.slack.com/",
            "https://hooks-slack.com/commands",
            "https://hooks.slack.com",
            "https:/hooks.slack.com/commands",
            "https:\\\\hooks.slack.com/commands",
            "//hooks.slack.com/commands",
            "hooks.slack.com/commands",
            "http://hooks.slack.com/commands/T1/1/x",
            "ftp://hooks.slack.com/commands",
            "javascript:alert(1)//https://hooks.slack.com/",
            "https://hooks%2eslack.com/commands",
        ] {
            assert_eq!(refused(raw, None), UrlError::NotAllowed, "{raw}");
            assert_eq!(refused(raw, Some(LOCAL)), UrlError::NotAllowed, "{raw}");
        }
    }

    #[test]
    fn uppercase_tricks_are_refused() {
        for raw in [
            "HTTPS://HOOKS.SLACK.COM/commands/T1/1/x",
            "https://HOOKS.slack.com/commands/T1/1/x",
            "https://hooks.Slack.com/commands/T1/1/x",
            "Https://hooks.slack.com/commands/T1/1/x",
        ] {
            assert_eq!(refused(raw, None), UrlError::NotAllowed, "{raw}");
        }
    }

    #[test]
    fn whitespace_control_and_non_ascii_characters_are_refused() {
        for (raw, position) in [
            (" https://hooks.slack.com/commands", 0),
            ("https://hooks.slack.com/commands ", 32),
            ("https://hooks.slack.com/comm ands", 28),
            ("https://hooks.slack.com/\tcommands", 24),
            ("https://hooks.slack.com/\ncommands", 24),
            ("https://hooks.slack.com/\r\nHost: evil", 24),
            ("https://hooks.slack.com/\0", 24),
            ("https://hooks.slack.com/\u{7f}", 24),
            ("https://hooks.slack.com/\u{a0}", 24),
            ("https://hooks.slack.com/é", 24),
            ("https://hооks.slack.com/commands", 9), // Cyrillic о
            ("https://hooks.slack.com\u{2024}evil.com/", 23),
        ] {
            assert_eq!(
                refused(raw, None),
                UrlError::BadCharacter { position },
                "{raw:?}"
            );
        }
        assert_eq!(refused("", None), UrlError::Empty);
        assert_eq!(refused("", Some(LOCAL)), UrlError::Empty);
    }

    #[test]
    fn the_extra_prefix_admits_its_urls_only() {
        let url = ok("http://127.0.0.1:8080/response/abc", Some(LOCAL));
        assert_eq!(url.as_str(), "http://127.0.0.1:8080/response/abc");
        ok("http://127.0.0.1:8080/", Some(LOCAL));
        for raw in [
            "http://127.0.0.1:8080",
            "http://127.0.0.1:80800/response",
            "http://127.0.0.1:8081/response",
            "http://127.0.0.1/response",
            "https://127.0.0.1:8080/response",
            "http://127.0.0.1:8080.evil.com/",
            "HTTP://127.0.0.1:8080/response",
        ] {
            assert_eq!(refused(raw, Some(LOCAL)), UrlError::NotAllowed, "{raw}");
        }
        // Without the prefix, the local URL is refused.
        assert_eq!(
            refused("http://127.0.0.1:8080/response/abc", None),
            UrlError::NotAllowed
        );
        // A prefix with a path narrows further.
        ok(
            "http://localhost:9000/slack/r/1",
            Some("http://localhost:9000/slack/"),
        );
        assert_eq!(
            refused(
                "http://localhost:9000/other/r/1",
                Some("http://localhost:9000/slack/")
            ),
            UrlError::NotAllowed
        );
        ok("http://[::1]:9000/r", Some("http://[::1]:9000/"));
    }

    #[test]
    fn an_empty_extra_prefix_accepts_nothing_more() {
        for raw in ["http://127.0.0.1:8080/response", "https://evil.com/", "x"] {
            assert_eq!(refused(raw, Some("")), UrlError::NotAllowed, "{raw}");
        }
    }

    #[test]
    fn unusable_extra_prefixes_are_refused_not_matched() {
        for (prefix, raw) in [
            ("http://", "http://evil.com/"),
            ("https://", "https://evil.com/"),
            ("http", "http://evil.com/"),
            ("h", "https://evil.com/"),
            ("/", "/etc/passwd"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080.evil.com/"),
            ("http://localhost", "http://localhost.evil.com/"),
            ("http://user@127.0.0.1/", "http://user@127.0.0.1/x"),
            ("http:///", "http:///evil"),
            ("ftp://127.0.0.1/", "ftp://127.0.0.1/x"),
            (" http://127.0.0.1/", " http://127.0.0.1/x"),
            ("http://127.0.0.1/ ", "http://127.0.0.1/x"),
            ("HTTP://127.0.0.1/", "HTTP://127.0.0.1/x"),
        ] {
            let err = ResponseUrl::parse(raw, Some(prefix)).unwrap_err();
            assert!(
                matches!(
                    err,
                    UrlError::BadPrefix { .. } | UrlError::BadCharacter { .. }
                ),
                "{prefix:?} / {raw:?}: {err:?}"
            );
            assert!(validate_prefix(prefix).is_err(), "{prefix:?}");
        }
        assert!(validate_prefix(LOCAL).is_ok());
        assert!(validate_prefix("https://slack-fake.internal:8443/hooks/").is_ok());
        assert_eq!(
            validate_prefix("http://127.0.0.1:8080")
                .unwrap_err()
                .to_string(),
            "the configured response_url prefix is unusable: its host is not followed by /"
        );
    }

    #[test]
    fn errors_never_repeat_the_url() {
        let secret_path = "T0001/1234567890/abcdefABCDEF123456";
        for raw in [
            format!("https://evil.com/{secret_path}"),
            format!("https://hooks.slack.com/ {secret_path}"),
        ] {
            let err = refused(&raw, Some("http://bad"));
            assert!(!err.to_string().contains(secret_path));
            assert!(!format!("{err:?}").contains(secret_path));
        }
    }
}
