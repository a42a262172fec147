//! The Slack function's own settings, beside those every function has, and the signing secret,
//! resolved once per container. The secret's value never reaches a log or an error message.

use capstan_function::ConfigError;
use capstan_slack::Verifier;

/// `CAPSTAN_SLACK_SIGNING_SECRET`.
pub const SECRET_VAR: &str = "CAPSTAN_SLACK_SIGNING_SECRET";
/// `CAPSTAN_SLACK_QUEUE_URL`.
pub const QUEUE_VAR: &str = "CAPSTAN_SLACK_QUEUE_URL";
/// `CAPSTAN_SLACK_RESPONSE_PREFIX`.
pub const PREFIX_VAR: &str = "CAPSTAN_SLACK_RESPONSE_PREFIX";

/// Where the signing secret comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The value itself (local runs and tests).
    Value(String),
    /// `ssm:NAME`: an SSM parameter (SecureString), read with decryption.
    Ssm(String),
    /// `secretsmanager:NAME`: a Secrets Manager secret's string (the whole string, or the
    /// `signing_secret` key when it is a JSON object).
    SecretsManager(String),
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Value(_) => f.write_str("Value(***)"),
            SecretSource::Ssm(name) => write!(f, "Ssm({name})"),
            SecretSource::SecretsManager(name) => write!(f, "SecretsManager({name})"),
        }
    }
}

/// The settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackSettings {
    /// The signing secret's source.
    pub secret: SecretSource,
    /// The work queue.
    pub queue_url: String,
    /// A `response_url` prefix accepted beside `https://hooks.slack.com/` (local tests).
    pub response_prefix: Option<String>,
}

impl SlackSettings {
    /// Reads the settings through `var` (the process environment in production).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<SlackSettings, ConfigError> {
        let get = |name: &'static str| var(name).filter(|v| !v.trim().is_empty());
        let raw = get(SECRET_VAR).ok_or(ConfigError::Missing(SECRET_VAR))?;
        let secret = if let Some(name) = raw.strip_prefix("ssm:") {
            SecretSource::Ssm(named(name, "ssm:")?)
        } else if let Some(name) = raw.strip_prefix("secretsmanager:") {
            SecretSource::SecretsManager(named(name, "secretsmanager:")?)
        } else {
            SecretSource::Value(raw)
        };
        let queue_url = get(QUEUE_VAR).ok_or(ConfigError::Missing(QUEUE_VAR))?;
        let queue_url = queue_url.trim().to_string();
        if !(queue_url.starts_with("https://") || queue_url.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                name: QUEUE_VAR,
                value: queue_url,
                expected: "expected an SQS queue URL such as \
                           https://sqs.us-east-1.amazonaws.com/123456789012/capstan-slack",
            });
        }
        let response_prefix = match get(PREFIX_VAR) {
            None => None,
            Some(p) => {
                let p = p.trim().to_string();
                if !(p.starts_with("https://") || p.starts_with("http://")) || !p.ends_with('/') {
                    return Err(ConfigError::Invalid {
                        name: PREFIX_VAR,
                        value: p,
                        expected: "expected a URL prefix ending in `/`, such as \
                                   http://127.0.0.1:9000/",
                    });
                }
                Some(p)
            }
        };
        Ok(SlackSettings {
            secret,
            queue_url,
            response_prefix,
        })
    }
}

fn named(name: &str, prefix: &str) -> Result<String, ConfigError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ConfigError::Invalid {
            name: SECRET_VAR,
            value: prefix.to_string(),
            expected: "expected a name after the prefix (ssm:NAME or secretsmanager:NAME)",
        });
    }
    Ok(name.to_string())
}

/// The signing secret's verifier: resolved at start when AWS answers in time, else on the
/// first request that finds AWS answering, within that request's budget. A container whose
/// start met a slow Secrets Manager still starts (and answers 503 until the secret is read)
/// rather than failing its init again and again.
pub struct Signing {
    cell: tokio::sync::OnceCell<Verifier>,
    source: Option<(SecretSource, aws_config::SdkConfig)>,
}

/// The signing secret could not be read within the request's budget.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the Slack signing secret ({0}) could not be read in time")]
pub struct SecretUnavailable(pub String);

impl Signing {
    /// A verifier already in hand (tests, tools).
    pub fn ready(verifier: Verifier) -> Signing {
        Signing {
            cell: tokio::sync::OnceCell::new_with(Some(verifier)),
            source: None,
        }
    }

    /// Reads the secret now, giving up after `within`: a secret that cannot be read at all
    /// (missing, denied, empty) is an error; one AWS is too slow to give is read later.
    pub async fn start(
        source: SecretSource,
        sdk: &aws_config::SdkConfig,
        within: std::time::Duration,
    ) -> Result<Signing, ConfigError> {
        match tokio::time::timeout(within, signing_secret(&source, sdk)).await {
            Ok(Ok(secret)) => Ok(Signing::ready(Verifier::new(secret))),
            Ok(Err(e)) => Err(e),
            Err(_) => {
                tracing::warn!(secret = ?source, "the signing secret did not come in time: read on the first request");
                Ok(Signing {
                    cell: tokio::sync::OnceCell::new(),
                    source: Some((source, sdk.clone())),
                })
            }
        }
    }

    /// The verifier, reading the secret first if need be, within `within`.
    pub async fn verifier(
        &self,
        within: std::time::Duration,
    ) -> Result<&Verifier, SecretUnavailable> {
        if let Some(v) = self.cell.get() {
            return Ok(v);
        }
        let Some((source, sdk)) = &self.source else {
            return Err(SecretUnavailable("none configured".into()));
        };
        let read = self.cell.get_or_try_init(|| async {
            match tokio::time::timeout(within, signing_secret(source, sdk)).await {
                Ok(Ok(secret)) => Ok(Verifier::new(secret)),
                Ok(Err(e)) => Err(SecretUnavailable(e.to_string())),
                Err(_) => Err(SecretUnavailable(format!("{source:?}"))),
            }
        });
        read.await
    }
}

impl From<Verifier> for Signing {
    fn from(v: Verifier) -> Signing {
        Signing::ready(v)
    }
}

/// Resolves the signing secret (one call at most, at start).
pub async fn signing_secret(
    source: &SecretSource,
    sdk: &aws_config::SdkConfig,
) -> Result<String, ConfigError> {
    let failed = |what: &str, e: String| ConfigError::Unreadable {
        name: SECRET_VAR,
        from: what.to_string(),
        message: e,
    };
    let value = match source {
        SecretSource::Value(v) => v.clone(),
        SecretSource::Ssm(name) => {
            let clients = capstan_aws::Clients::new(sdk);
            capstan_aws::fetch_parameter(&clients, name)
                .await
                .map_err(|e| failed(&format!("ssm:{name}"), e.to_string()))?
        }
        SecretSource::SecretsManager(name) => {
            let client = aws_sdk_secretsmanager::Client::new(sdk);
            let out = client
                .get_secret_value()
                .secret_id(name)
                .send()
                .await
                .map_err(|e| {
                    failed(
                        &format!("secretsmanager:{name}"),
                        capstan_aws::AwsError::from_sdk("secretsmanager:GetSecretValue", e)
                            .to_string(),
                    )
                })?;
            let text = out.secret_string().ok_or_else(|| {
                failed(
                    &format!("secretsmanager:{name}"),
                    "the secret has no string value".into(),
                )
            })?;
            from_secret_string(text)
        }
    };
    let value = value.trim().to_string();
    if value.is_empty() {
        return Err(ConfigError::Invalid {
            name: SECRET_VAR,
            value: format!("{source:?}"),
            expected: "expected a non-empty signing secret",
        });
    }
    Ok(value)
}

/// A secret string is the signing secret, or a JSON object holding it under `signing_secret`.
fn from_secret_string(text: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => map
            .get("signing_secret")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string(),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const QUEUE: (&str, &str) = (QUEUE_VAR, "https://sqs.us-east-1.amazonaws.com/1/q");

    #[test]
    fn reads_each_secret_source() {
        let s = SlackSettings::from_env(env(&[(SECRET_VAR, "s3cr3t"), QUEUE])).unwrap();
        assert_eq!(s.secret, SecretSource::Value("s3cr3t".into()));
        assert!(
            !format!("{s:?}").contains("s3cr3t"),
            "the value is never printed"
        );
        let s = SlackSettings::from_env(env(&[(SECRET_VAR, "ssm:/capstan/slack"), QUEUE])).unwrap();
        assert_eq!(s.secret, SecretSource::Ssm("/capstan/slack".into()));
        let s =
            SlackSettings::from_env(env(&[(SECRET_VAR, "secretsmanager:capstan"), QUEUE])).unwrap();
        assert_eq!(s.secret, SecretSource::SecretsManager("capstan".into()));
        assert_eq!(s.response_prefix, None);
    }

    #[test]
    fn errors_name_the_variable() {
        let e = SlackSettings::from_env(env(&[QUEUE])).unwrap_err();
        assert_eq!(e, ConfigError::Missing(SECRET_VAR));
        let e = SlackSettings::from_env(env(&[(SECRET_VAR, "x")])).unwrap_err();
        assert_eq!(e, ConfigError::Missing(QUEUE_VAR));
        let e = SlackSettings::from_env(env(&[(SECRET_VAR, "ssm: "), QUEUE])).unwrap_err();
        assert!(e.to_string().contains(SECRET_VAR), "{e}");
        let e = SlackSettings::from_env(env(&[(SECRET_VAR, "x"), (QUEUE_VAR, "capstan-slack")]))
            .unwrap_err();
        assert!(e.to_string().contains(QUEUE_VAR), "{e}");
        for bad in ["hooks.example.com/", "http://127.0.0.1:9000", "ftp://x/"] {
            let e = SlackSettings::from_env(env(&[(SECRET_VAR, "x"), QUEUE, (PREFIX_VAR, bad)]))
                .unwrap_err();
            assert!(e.to_string().contains(PREFIX_VAR), "{bad}: {e}");
        }
        let s = SlackSettings::from_env(env(&[
            (SECRET_VAR, "x"),
            QUEUE,
            (PREFIX_VAR, "http://127.0.0.1:9000/"),
        ]))
        .unwrap();
        assert_eq!(s.response_prefix.as_deref(), Some("http://127.0.0.1:9000/"));
    }

    #[test]
    fn a_json_secret_string_gives_its_signing_secret() {
        assert_eq!(from_secret_string(r#"{"signing_secret":"abc"}"#), "abc");
        assert_eq!(from_secret_string("abc"), "abc");
        assert_eq!(from_secret_string(r#"{"other":"abc"}"#), "");
    }
}

#[cfg(test)]
mod signing_tests {
    use super::*;

    #[tokio::test]
    async fn a_ready_verifier_needs_no_aws_and_none_configured_is_refused() {
        let s = Signing::ready(Verifier::new("x"));
        assert!(s.verifier(std::time::Duration::ZERO).await.is_ok());
        let none = Signing {
            cell: tokio::sync::OnceCell::new(),
            source: None,
        };
        assert!(none.verifier(std::time::Duration::ZERO).await.is_err());
    }
}
