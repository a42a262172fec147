//! The signing secret, resolved once at start from each of its sources, against moto; a missing
//! secret is an error naming the variable and the name, never a value.

use capstan_moto::Moto;
use slack_handler::settings::{signing_secret, SecretSource, SECRET_VAR};

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
