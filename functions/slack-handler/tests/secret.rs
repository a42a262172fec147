//! The signing secret, resolved once at start from each of its sources, against moto; a missing
//! secret is an error naming the variable and the name, never a value.

use capstan_moto::Moto;
use slack_handler::settings::{signing_secret, SecretSource, Signing, SECRET_VAR};

#[tokio::test]
async fn the_secret_comes_from_ssm_secrets_manager_or_the_value() {
    let moto = Moto::start().await;
    let sdk = moto.sdk_config().await;
    aws_sdk_ssm::Client::new(&sdk)
        .put_parameter()
        .name("/capstan/slack-signing-secret")
        .value("from-ssm\n")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    sm.create_secret()
        .name("capstan/slack")
        .secret_string("from-secrets-manager")
        .send()
        .await
        .unwrap();
    sm.create_secret()
        .name("capstan/slack-json")
        .secret_string(r#"{"signing_secret": "from-json"}"#)
        .send()
        .await
        .unwrap();

    let ssm = SecretSource::Ssm("/capstan/slack-signing-secret".into());
    assert_eq!(signing_secret(&ssm, &sdk).await.unwrap(), "from-ssm");
    let plain = SecretSource::SecretsManager("capstan/slack".into());
    assert_eq!(
        signing_secret(&plain, &sdk).await.unwrap(),
        "from-secrets-manager"
    );
    let json = SecretSource::SecretsManager("capstan/slack-json".into());
    assert_eq!(signing_secret(&json, &sdk).await.unwrap(), "from-json");
    let value = SecretSource::Value("inline".into());
    assert_eq!(signing_secret(&value, &sdk).await.unwrap(), "inline");

    for missing in [
        SecretSource::Ssm("/nope".into()),
        SecretSource::SecretsManager("nope".into()),
    ] {
        let e = signing_secret(&missing, &sdk)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(SECRET_VAR) && e.contains("nope"), "{e}");
        assert!(!e.contains("from-"), "no secret value in errors: {e}");
    }
    let empty = SecretSource::Value("  ".into());
    let e = signing_secret(&empty, &sdk).await.unwrap_err().to_string();
    assert!(e.contains("non-empty"), "{e}");
    assert!(!e.contains("  \""), "{e}");
}

/// Secrets Manager that never answers: the start goes on without the secret, and a request
/// meanwhile is a 503 within its budget, nothing parsed.
#[tokio::test]
async fn a_secret_aws_is_too_slow_to_give_is_read_later_and_requests_meanwhile_are_503() {
    use std::time::{Duration, Instant};
    let moto = Moto::start().await;
    // A port that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            held.push(conn);
        }
    });
    let sdk = moto
        .sdk_config()
        .await
        .into_builder()
        .endpoint_url(format!("http://{addr}"))
        .build();
    let source = SecretSource::SecretsManager("capstan/slack".into());
    let started = Instant::now();
    let signing = Signing::start(source, &sdk, Duration::from_millis(300))
        .await
        .expect("a slow secret does not fail the start");
    assert!(started.elapsed() < Duration::from_secs(2));
    let asked = Instant::now();
    let e = signing
        .verifier(Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(asked.elapsed() < Duration::from_secs(2));
    assert!(e.to_string().contains("capstan/slack"), "{e}");
}
