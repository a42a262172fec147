//! What the CLI's end-to-end tests share: running the `capstan` binary against moto.
#![allow(dead_code)]

use std::process::{Command, Output};

use capstan_moto::MotoRegion;

/// Runs `capstan ARGS` against moto at `endpoint` in `region`, with moto's test credentials,
/// `$USER` ana, `env` set, and nothing else from the environment that could point it
/// elsewhere (no AWS profile, no `CAPSTAN_*` but those in `env`): exit code, stdout, stderr.
pub fn capstan(
    endpoint: &str,
    region: &str,
    env: &[(&str, &str)],
    args: &[&str],
) -> (Option<i32>, String, String) {
    let output = command(endpoint, region, env)
        .args(args)
        .output()
        .expect("run capstan");
    outcome(output)
}

/// [`capstan`] against a leased moto region.
pub fn capstan_in(
    region: &MotoRegion,
    env: &[(&str, &str)],
    args: &[&str],
) -> (Option<i32>, String, String) {
    capstan(&region.endpoint(), region.name(), env, args)
}

/// The `capstan` command [`capstan`] runs, before its arguments: for a test that changes
/// more of its environment.
pub fn command(endpoint: &str, region: &str, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_capstan"));
    command
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", region)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("CAPSTAN_TABLE")
        .env_remove("CAPSTAN_POLICY")
        .env_remove("CAPSTAN_TOPIC_ARN")
        .env("USER", "ana")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

/// Exit code, stdout and stderr of a finished `capstan`.
pub fn outcome(output: Output) -> (Option<i32>, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = output;
    (
        status.code(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}
