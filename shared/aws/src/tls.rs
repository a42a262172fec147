//! Which certificate authorities the functions' AWS clients trust.
//!
//! AWS service endpoints present certificates of Amazon Trust Services, whose five roots
//! (Amazon Root CA 1-4, Starfield Services Root CA - G2) Capstan's functions carry
//! ([`TlsRoots::Amazon`], `tls/amazon-roots.pem`). Trusting those alone means no other public
//! CA can stand in for an AWS endpoint, and the functions need not read the platform's
//! certificate store at start: that store (about 140 roots, on Linux a bundle and a directory
//! of them) was the largest part of a function's init.
//!
//! The platform's store ([`TlsRoots::System`]) is used instead where AWS's endpoints may be
//! issued otherwise, or where Capstan talks to something that is not AWS: outside the `aws`
//! and `aws-us-gov` partitions (China, the isolated regions), with an `https://` custom
//! endpoint (`AWS_ENDPOINT_URL...`, a proxy such as LocalStack), and when
//! `CAPSTAN_TLS_ROOTS=system` says so. The command-line tool always uses the platform's store:
//! it runs on operators' machines, behind whatever proxy they have.

use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The roots of Amazon Trust Services, PEM.
pub const AMAZON_ROOTS_PEM: &str = include_str!("tls/amazon-roots.pem");

/// The environment variables of custom endpoints for the services Capstan calls.
pub const ENDPOINT_VARIABLES: [&str; 12] = [
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_ECS",
    "AWS_ENDPOINT_URL_AUTO_SCALING",
    "AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING",
    "AWS_ENDPOINT_URL_SNS",
    "AWS_ENDPOINT_URL_SQS",
    "AWS_ENDPOINT_URL_SSM",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL_CLOUDWATCH",
    "AWS_ENDPOINT_URL_SCHEDULER",
];

/// The certificate authorities the AWS clients trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsRoots {
    /// Amazon Trust Services' roots only.
    Amazon,
    /// The platform's certificate store.
    System,
}

/// A `CAPSTAN_TLS_ROOTS` value that is neither `amazon` nor `system`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", InvalidTlsRoots::EXPECTED)]
pub struct InvalidTlsRoots;

impl InvalidTlsRoots {
    const EXPECTED: &'static str =
        "expected `amazon` (Amazon Trust Services' roots only) or `system` (the platform's certificate store)";

    /// What the value should have been.
    pub fn expected(&self) -> &'static str {
        Self::EXPECTED
    }
}

impl TlsRoots {
    /// The roots for this environment: `CAPSTAN_TLS_ROOTS` when set, else
    /// [`TlsRoots::default_for`] the region and the custom endpoints.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<TlsRoots, InvalidTlsRoots> {
        match var("CAPSTAN_TLS_ROOTS").as_deref().map(str::trim) {
            None | Some("") => {}
            Some(v) if v.eq_ignore_ascii_case("amazon") => return Ok(TlsRoots::Amazon),
            Some(v) if v.eq_ignore_ascii_case("system") => return Ok(TlsRoots::System),
            Some(_) => return Err(InvalidTlsRoots),
        }
        let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION"));
        let endpoints: Vec<String> = ENDPOINT_VARIABLES.iter().filter_map(|v| var(v)).collect();
        Ok(TlsRoots::default_for(
            region.as_deref(),
            endpoints.iter().map(String::as_str),
        ))
    }

    /// Amazon's roots in a region of the `aws` or `aws-us-gov` partition with no `https://`
    /// custom endpoint; the platform's store otherwise (an unknown region included).
    pub fn default_for<'a>(
        region: Option<&str>,
        mut endpoints: impl Iterator<Item = &'a str>,
    ) -> TlsRoots {
        let region = region
            .map(str::trim)
            .unwrap_or_default()
            .to_ascii_lowercase();
        let standard = !region.is_empty() && !region.starts_with("cn-") && !region.contains("-iso");
        let custom_tls = endpoints.any(|e| {
            e.trim()
                .get(..8)
                .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
        });
        if standard && !custom_tls {
            TlsRoots::Amazon
        } else {
            TlsRoots::System
        }
    }

    /// The name `CAPSTAN_TLS_ROOTS` gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsRoots::Amazon => "amazon",
            TlsRoots::System => "system",
        }
    }
}

impl TlsRoots {
    /// The trust store of these roots.
    pub fn trust_store(self) -> TrustStore {
        match self {
            TlsRoots::Amazon => {
                TrustStore::empty().with_pem_certificate(AMAZON_ROOTS_PEM.as_bytes())
            }
            TlsRoots::System => TrustStore::default(),
        }
    }
}

/// The SDK's HTTPS client (rustls with aws-lc, as `aws-config` builds it) trusting `roots`.
pub fn https_client(roots: TlsRoots) -> SharedHttpClient {
    https_client_trusting(roots.trust_store())
}

/// The SDK's HTTPS client trusting `store` (a test's own CA, say).
pub fn https_client_trusting(store: TrustStore) -> SharedHttpClient {
    let context = TlsContext::builder()
        .with_trust_store(store)
        .build()
        .expect("a trust store without server names builds");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    use sha2::{Digest, Sha256};

    #[test]
    fn the_amazon_roots_are_the_five_of_amazon_trust_services() {
        let fingerprints: Vec<String> = CertificateDer::pem_slice_iter(AMAZON_ROOTS_PEM.as_bytes())
            .map(|c| {
                Sha256::digest(c.unwrap().as_ref())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            })
            .collect();
        // As published by Amazon Trust Services (and in the Mozilla CA bundle).
        assert_eq!(
            fingerprints,
            [
                // Amazon Root CA 1..4
                "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
                "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4",
                "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4",
                "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092",
                // Starfield Services Root Certificate Authority - G2
                "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5",
            ]
        );
    }

    #[test]
    fn amazon_roots_in_the_standard_partitions_and_the_platforms_elsewhere() {
        let none = std::iter::empty::<&str>;
        assert_eq!(
            TlsRoots::default_for(Some("eu-west-1"), none()),
            TlsRoots::Amazon
        );
        assert_eq!(
            TlsRoots::default_for(Some("us-gov-west-1"), none()),
            TlsRoots::Amazon
        );
        for region in [
            "cn-north-1",
            "cn-northwest-1",
            "us-iso-east-1",
            "us-isob-east-1",
            "eu-isoe-west-1",
        ] {
            assert_eq!(
                TlsRoots::default_for(Some(region), none()),
                TlsRoots::System,
                "{region}"
            );
        }
        assert_eq!(
            TlsRoots::default_for(None, none()),
            TlsRoots::System,
            "no region: unknown"
        );
        assert_eq!(TlsRoots::default_for(Some(" "), none()), TlsRoots::System);
        // A custom endpoint over TLS may be served under any CA; over plain HTTP none is used.
        assert_eq!(
            TlsRoots::default_for(
                Some("us-east-1"),
                ["HTTPS://localhost.localstack.cloud:4566"].into_iter()
            ),
            TlsRoots::System
        );
        assert_eq!(
            TlsRoots::default_for(Some("us-east-1"), ["http://127.0.0.1:5000"].into_iter()),
            TlsRoots::Amazon
        );
    }

    #[test]
    fn capstan_tls_roots_says_which_and_refuses_anything_else() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            TlsRoots::from_env(env(&[
                ("AWS_REGION", "us-east-1"),
                ("CAPSTAN_TLS_ROOTS", "System")
            ])),
            Ok(TlsRoots::System)
        );
        assert_eq!(
            TlsRoots::from_env(env(&[
                ("AWS_REGION", "cn-north-1"),
                ("CAPSTAN_TLS_ROOTS", " amazon ")
            ])),
            Ok(TlsRoots::Amazon)
        );
        assert_eq!(
            TlsRoots::from_env(env(&[
                ("AWS_REGION", "us-east-1"),
                ("CAPSTAN_TLS_ROOTS", "")
            ])),
            Ok(TlsRoots::Amazon),
            "empty is unset"
        );
        assert_eq!(
            TlsRoots::from_env(env(&[
                ("AWS_DEFAULT_REGION", "us-east-1"),
                ("AWS_ENDPOINT_URL_SNS", "https://sns.internal")
            ])),
            Ok(TlsRoots::System)
        );
        assert_eq!(
            TlsRoots::from_env(env(&[("CAPSTAN_TLS_ROOTS", "mozilla")])),
            Err(InvalidTlsRoots)
        );
    }
}
