//! Slack's "Verifying requests from Slack": an HMAC-SHA256 signature over
//! `v0:{timestamp}:{body}` with the app's signing secret, sent as `X-Slack-Signature: v0=<hex>`
//! with the timestamp in `X-Slack-Request-Timestamp`.
//!
//! [`Verifier::verify`] takes the raw body (after base64 decoding, if API Gateway encoded it),
//! both header values as they arrived, and the current time as an argument, so tests can pin it.
//! Nothing in a request should be parsed or acted on before it returns `Ok`.
//!
//! ```
//! use capstan_slack::verify::Verifier;
//! use chrono::{TimeZone, Utc};
//!
//! let verifier = Verifier::new("8f742231b10e8888abcd99yyyzzz85a5");
//! let body = b"token=x&team_id=T1&command=%2Fcapstan&text=status";
//! let signature = verifier.sign(1531420618, body);
//! let now = Utc.timestamp_opt(1531420618 + 10, 0).unwrap();
//! assert!(verifier.verify(Some("1531420618"), Some(&signature), body, now).is_ok());
//! assert!(verifier.verify(Some("1531420618"), Some(&signature), b"tampered", now).is_err());
//! ```

use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fmt;

/// The header carrying the request's signature (`v0=<64 lowercase hex digits>`).
pub const SIGNATURE_HEADER: &str = "x-slack-signature";
/// The header carrying the request's timestamp (seconds since the Unix epoch).
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// The header Slack adds when it retries a request (`1`, `2`, ...).
pub const RETRY_NUM_HEADER: &str = "x-slack-retry-num";
/// The header Slack adds to a retry to say why it retried (`http_timeout`, ...).
pub const RETRY_REASON_HEADER: &str = "x-slack-retry-reason";

/// The largest distance between a request's timestamp and now, in either direction, that is
/// still accepted (Slack's recommendation: five minutes).
pub const MAX_SKEW: TimeDelta = TimeDelta::seconds(300);

/// The signature scheme version Slack uses (`v0`).
const VERSION: &str = "v0";

/// Why a request was refused. The messages name the problem and never contain the signing
/// secret, the expected signature or the header values received.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The verifier was built with an empty signing secret: it refuses every request.
    #[error("no signing secret is configured")]
    NoSecret,
    /// The `X-Slack-Request-Timestamp` header is absent.
    #[error("the X-Slack-Request-Timestamp header is missing")]
    MissingTimestamp,
    /// The `X-Slack-Request-Timestamp` header is not a whole number of seconds.
    #[error("the X-Slack-Request-Timestamp header is not a number of seconds")]
    BadTimestamp,
    /// The request's timestamp is more than [`MAX_SKEW`] away from now.
    #[error(
        "the request timestamp is {} s {} now, more than the {} s allowed",
        skew_secs.unsigned_abs(),
        if *skew_secs >= 0 { "before" } else { "after" },
        MAX_SKEW.num_seconds()
    )]
    Stale {
        /// How far the timestamp is from now, in whole seconds: positive when the timestamp is in
        /// the past (a replay), negative when it is in the future.
        skew_secs: i64,
    },
    /// The `X-Slack-Signature` header is absent.
    #[error("the X-Slack-Signature header is missing")]
    MissingSignature,
    /// The `X-Slack-Signature` header is not `v0=` followed by 64 hexadecimal digits.
    #[error("the X-Slack-Signature header is not v0= followed by 64 hexadecimal digits")]
    BadSignature,
    /// The signature is well formed but does not match the body and timestamp.
    #[error("the request signature does not match")]
    Mismatch,
}

/// Checks and makes Slack request signatures with one signing secret.
///
/// It keeps only the keyed HMAC state, never prints it (its `Debug` shows `[redacted]`), and is
/// cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    /// The HMAC keyed with the signing secret, or `None` when the secret is empty.
    mac: Option<Hmac<Sha256>>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field(
                "secret",
                &if self.mac.is_some() {
                    "[redacted]"
                } else {
                    "[empty]"
                },
            )
            .finish()
    }
}

impl Verifier {
    /// A verifier for the app's signing secret (Slack app settings, "Basic Information").
    ///
    /// The secret is used byte for byte (it is not trimmed). An empty secret gives a verifier that
    /// refuses every request with [`VerifyError::NoSecret`], so a missing configuration can never
    /// let anyone in.
    pub fn new(secret: impl AsRef<[u8]>) -> Verifier {
        let secret = secret.as_ref();
        let mac = if secret.is_empty() {
            None
        } else {
            // HMAC accepts keys of any length, so this never fails.
            Hmac::<Sha256>::new_from_slice(secret).ok()
        };
        Verifier { mac }
    }

    /// Whether the verifier has a (non-empty) secret. Without one it refuses everything.
    pub fn has_secret(&self) -> bool {
        self.mac.is_some()
    }

    /// The keyed HMAC over `v0:{timestamp}:{body}` (with an empty key when there is no secret).
    fn mac_for(&self, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = match &self.mac {
            Some(mac) => mac.clone(),
            None => Hmac::<Sha256>::new_from_slice(&[]).expect("HMAC takes keys of any length"),
        };
        mac.update(VERSION.as_bytes());
        mac.update(b":");
        mac.update(timestamp.as_bytes());
        mac.update(b":");
        mac.update(body);
        mac
    }

    /// The `X-Slack-Signature` value Slack would send for `body` at `timestamp`:
    /// `v0=` followed by 64 lowercase hexadecimal digits. For tests, demos and clients.
    ///
    /// A verifier without a secret signs with an empty key; [`Verifier::verify`] still refuses
    /// those signatures.
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        let mac = self.mac_for(&timestamp.to_string(), body);
        format!("{VERSION}={}", hex::encode(mac.finalize().into_bytes()))
    }

    /// Checks a request: `timestamp` and `signature` are the values of the
    /// `X-Slack-Request-Timestamp` and `X-Slack-Signature` headers (`None` when absent), `body`
    /// the raw body exactly as Slack sent it, `now` the current time.
    ///
    /// Refused: a missing or malformed header, a timestamp more than [`MAX_SKEW`] before or after
    /// `now`, or a signature that does not match (compared in constant time).
    pub fn verify(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), VerifyError> {
        if self.mac.is_none() {
            return Err(VerifyError::NoSecret);
        }
        let timestamp = timestamp.ok_or(VerifyError::MissingTimestamp)?;
        let seconds = parse_timestamp(timestamp)?;
        let signature = signature.ok_or(VerifyError::MissingSignature)?;
        let expected = parse_signature(signature)?;
        check_skew(seconds, now)?;
        self.mac_for(timestamp, body)
            .verify_slice(&expected)
            .map_err(|_| VerifyError::Mismatch)
    }
}

/// A timestamp header: ASCII digits only (no sign, no spaces), fitting an `i64`.
fn parse_timestamp(raw: &str) -> Result<i64, VerifyError> {
    if raw.is_empty() || raw.len() > 18 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::BadTimestamp);
    }
    raw.parse::<i64>().map_err(|_| VerifyError::BadTimestamp)
}

/// A signature header: `v0=` and 64 hexadecimal digits, decoded to the 32 bytes of the MAC.
fn parse_signature(raw: &str) -> Result<[u8; 32], VerifyError> {
    let digits = raw.strip_prefix("v0=").ok_or(VerifyError::BadSignature)?;
    if digits.len() != 64 {
        return Err(VerifyError::BadSignature);
    }
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(digits, &mut bytes).map_err(|_| VerifyError::BadSignature)?;
    Ok(bytes)
}

/// Refuses a timestamp more than [`MAX_SKEW`] from `now` either way, to the millisecond.
fn check_skew(seconds: i64, now: DateTime<Utc>) -> Result<(), VerifyError> {
    let skew_ms = now
        .timestamp_millis()
        .saturating_sub(seconds.saturating_mul(1000));
    if skew_ms.unsigned_abs() > MAX_SKEW.num_milliseconds().unsigned_abs() {
        return Err(VerifyError::Stale {
            skew_secs: skew_ms / 1000,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: &str = "1531420618";
    /// Slack's documented example body ("Verifying requests from Slack").
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn at(seconds: i64, millis: u32) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, millis * 1_000_000).unwrap()
    }

    fn slack_time() -> DateTime<Utc> {
        at(1531420618, 0)
    }

    fn verify(
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<(), VerifyError> {
        Verifier::new(SECRET).verify(timestamp, signature, body, slack_time())
    }

    #[test]
    fn slacks_documented_vector_signs_and_verifies() {
        let verifier = Verifier::new(SECRET);
        assert_eq!(verifier.sign(1531420618, BODY.as_bytes()), SIGNATURE);
        assert_eq!(
            verifier.verify(
                Some(TIMESTAMP),
                Some(SIGNATURE),
                BODY.as_bytes(),
                slack_time()
            ),
            Ok(())
        );
    }

    #[test]
    fn uppercase_hex_is_the_same_signature() {
        let upper = format!("v0={}", SIGNATURE[3..].to_ascii_uppercase());
        assert_eq!(
            verify(Some(TIMESTAMP), Some(&upper), BODY.as_bytes()),
            Ok(())
        );
    }

    #[test]
    fn a_one_byte_change_anywhere_in_the_body_is_refused() {
        let body = BODY.as_bytes();
        for i in [0, body.len() / 2, body.len() - 1] {
            let mut changed = body.to_vec();
            changed[i] ^= 0x01;
            assert_eq!(
                verify(Some(TIMESTAMP), Some(SIGNATURE), &changed),
                Err(VerifyError::Mismatch),
                "byte {i}"
            );
        }
        let mut longer = body.to_vec();
        longer.push(b'&');
        assert_eq!(
            verify(Some(TIMESTAMP), Some(SIGNATURE), &longer),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(Some(TIMESTAMP), Some(SIGNATURE), &body[..body.len() - 1]),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(Some(TIMESTAMP), Some(SIGNATURE), b""),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn a_changed_signature_digit_or_another_secret_is_refused() {
        let mut sig = SIGNATURE.to_string();
        sig.replace_range(sig.len() - 1.., "4");
        assert_eq!(
            verify(Some(TIMESTAMP), Some(&sig), BODY.as_bytes()),
            Err(VerifyError::Mismatch)
        );
        let other = Verifier::new("8f742231b10e8888abcd99yyyzzz85a6");
        assert_eq!(
            other.verify(
                Some(TIMESTAMP),
                Some(SIGNATURE),
                BODY.as_bytes(),
                slack_time()
            ),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn the_timestamp_is_part_of_the_signature() {
        // Re-dating a captured request (still within the window) breaks the signature.
        assert_eq!(
            verify(Some("1531420619"), Some(SIGNATURE), BODY.as_bytes()),
            Err(VerifyError::Mismatch)
        );
        // "01531420618" is the same number but not the signed string.
        assert_eq!(
            verify(Some("01531420618"), Some(SIGNATURE), BODY.as_bytes()),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn the_replay_window_is_five_minutes_both_ways() {
        let verifier = Verifier::new(SECRET);
        let check = |now: DateTime<Utc>| {
            verifier.verify(Some(TIMESTAMP), Some(SIGNATURE), BODY.as_bytes(), now)
        };
        let ts = 1531420618;
        assert_eq!(check(at(ts + 299, 0)), Ok(()), "4m59s later");
        assert_eq!(check(at(ts + 300, 0)), Ok(()), "exactly 5m later");
        assert_eq!(check(at(ts - 299, 0)), Ok(()), "4m59s earlier (clock skew)");
        assert_eq!(check(at(ts - 300, 0)), Ok(()), "exactly 5m earlier");
        assert_eq!(
            check(at(ts + 301, 0)),
            Err(VerifyError::Stale { skew_secs: 301 }),
            "5m01s later"
        );
        assert_eq!(
            check(at(ts + 300, 1)),
            Err(VerifyError::Stale { skew_secs: 300 }),
            "5m00.001s later"
        );
        assert_eq!(
            check(at(ts - 301, 0)),
            Err(VerifyError::Stale { skew_secs: -301 }),
            "5m01s in the future"
        );
        assert_eq!(
            check(at(ts + 86_400 * 365, 0)).unwrap_err(),
            VerifyError::Stale {
                skew_secs: 86_400 * 365
            }
        );
        assert_eq!(check(at(0, 0)), Err(VerifyError::Stale { skew_secs: -ts }));
    }

    #[test]
    fn stale_is_checked_even_with_a_valid_signature_and_says_which_way() {
        let verifier = Verifier::new(SECRET);
        let past = verifier
            .verify(
                Some(TIMESTAMP),
                Some(SIGNATURE),
                BODY.as_bytes(),
                at(1531420618 + 301, 0),
            )
            .unwrap_err();
        assert_eq!(
            past.to_string(),
            "the request timestamp is 301 s before now, more than the 300 s allowed"
        );
        let future = verifier
            .verify(
                Some(TIMESTAMP),
                Some(SIGNATURE),
                BODY.as_bytes(),
                at(1531420618 - 400, 0),
            )
            .unwrap_err();
        assert_eq!(
            future.to_string(),
            "the request timestamp is 400 s after now, more than the 300 s allowed"
        );
    }

    #[test]
    fn missing_headers_are_refused() {
        assert_eq!(
            verify(None, Some(SIGNATURE), BODY.as_bytes()),
            Err(VerifyError::MissingTimestamp)
        );
        assert_eq!(
            verify(Some(TIMESTAMP), None, BODY.as_bytes()),
            Err(VerifyError::MissingSignature)
        );
        assert_eq!(
            verify(None, None, BODY.as_bytes()),
            Err(VerifyError::MissingTimestamp)
        );
    }

    #[test]
    fn malformed_timestamps_are_refused() {
        for bad in [
            "",
            " 1531420618",
            "1531420618 ",
            "+1531420618",
            "-1531420618",
            "1531420618.0",
            "1.531420618e9",
            "0x5b47a0ca",
            "153142061８", // a full-width digit
            "abc",
            "99999999999999999999999",
            "1531420618\n",
        ] {
            assert_eq!(
                verify(Some(bad), Some(SIGNATURE), BODY.as_bytes()),
                Err(VerifyError::BadTimestamp),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn malformed_signatures_are_refused() {
        let digits = &SIGNATURE[3..];
        let cases = [
            String::new(),
            "v0=".to_string(),
            digits.to_string(),      // no prefix
            format!("v1={digits}"),  // another version
            format!("V0={digits}"),  // uppercase prefix
            format!(" v0={digits}"), // leading space
            format!("v0={digits} "), // trailing space
            format!("v0= {digits}"),
            format!("v0={}", &digits[..63]),  // 63 digits
            format!("v0={digits}0"),          // 65 digits
            format!("v0={}g", &digits[..63]), // not hex
            format!("v0={}", "z".repeat(64)),
            format!("v0={digits},v0={digits}"), // two signatures
            format!("v0={}é", &digits[..62]),   // 64 bytes, not 64 hex digits
        ];
        for bad in &cases {
            assert_eq!(
                verify(Some(TIMESTAMP), Some(bad), BODY.as_bytes()),
                Err(VerifyError::BadSignature),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_empty_secret_refuses_everything_even_its_own_signatures() {
        let verifier = Verifier::new("");
        assert!(!verifier.has_secret());
        let sig = verifier.sign(1531420618, BODY.as_bytes());
        assert_eq!(
            verifier.verify(Some(TIMESTAMP), Some(&sig), BODY.as_bytes(), slack_time()),
            Err(VerifyError::NoSecret)
        );
        assert!(Verifier::new(SECRET).has_secret());
    }

    #[test]
    fn debug_and_errors_never_show_the_secret_or_the_expected_signature() {
        let verifier = Verifier::new(SECRET);
        let debug = format!("{verifier:?}");
        assert_eq!(debug, "Verifier { secret: \"[redacted]\" }");
        assert!(!debug.contains(SECRET));
        let digits = &SIGNATURE[3..];
        let errors = [
            VerifyError::NoSecret,
            VerifyError::MissingTimestamp,
            VerifyError::BadTimestamp,
            VerifyError::Stale { skew_secs: 400 },
            VerifyError::MissingSignature,
            VerifyError::BadSignature,
            verify(
                Some(TIMESTAMP),
                Some(&format!("v0={}", "0".repeat(64))),
                BODY.as_bytes(),
            )
            .unwrap_err(),
        ];
        for error in errors {
            for text in [error.to_string(), format!("{error:?}")] {
                assert!(!text.contains(SECRET), "{text}");
                assert!(!text.contains(digits), "{text}");
                assert!(!text.is_empty());
            }
        }
    }
}
