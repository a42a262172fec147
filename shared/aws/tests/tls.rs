//! The AWS clients' trust store, against a local TLS server whose certificate a test CA issued
//! (`tests/fixtures/`: the CA's key was thrown away once it signed `localhost.pem`).

use std::sync::Arc;

use aws_credential_types::Credentials;
use aws_smithy_http_client::tls::TrustStore;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use capstan_aws::tls::{https_client, https_client_trusting, TlsRoots};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CA: &str = include_str!("fixtures/test-ca.pem");
const CERT: &str = include_str!("fixtures/localhost.pem");
const KEY: &str = include_str!("fixtures/localhost.key");

/// An HTTPS server on 127.0.0.1 answering every request as ECS answers ListClusters.
async fn server() -> u16 {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(CERT.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(KEY.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that does not trust the certificate ends here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 64 * 1024];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let body = r#"{"clusterArns":[]}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

fn ecs(client: SharedHttpClient, port: u16) -> aws_sdk_ecs::Client {
    let config = aws_sdk_ecs::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_ecs::config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .endpoint_url(format!("https://localhost:{port}"))
        .retry_config(aws_sdk_ecs::config::retry::RetryConfig::disabled())
        .http_client(client)
        .build();
    aws_sdk_ecs::Client::from_conf(config)
}

#[tokio::test]
async fn amazons_roots_refuse_a_certificate_amazon_did_not_issue() {
    let port = server().await;
    let refused = ecs(https_client(TlsRoots::Amazon), port)
        .list_clusters()
        .send()
        .await
        .expect_err("a certificate of another CA is refused");
    let chain = format!(
        "{:?}",
        aws_smithy_types::error::display::DisplayErrorContext(&refused)
    );
    assert!(
        chain.contains("UnknownIssuer") || chain.contains("invalid peer certificate"),
        "{chain}"
    );
}

#[tokio::test]
async fn the_trust_store_given_is_the_one_that_verifies() {
    let port = server().await;
    // The same request, trusting the test CA: the handshake passes and ECS's answer is read.
    let out = ecs(
        https_client_trusting(TrustStore::empty().with_pem_certificate(CA.as_bytes())),
        port,
    )
    .list_clusters()
    .send()
    .await
    .unwrap();
    assert!(out.cluster_arns().is_empty());
}
