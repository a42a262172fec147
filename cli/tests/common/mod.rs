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

/// An endpoint that answers every request as AWS answers one it refuses: HTTP 400,
/// `AccessDeniedException`. moto allows everything, and the exit code of an action AWS refused
/// must be tested against a refusal; the server runs until the test process ends.
pub fn refusing_endpoint() -> String {
    use std::io::{BufRead, BufReader, Read, Write};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let address = listener.local_addr().expect("the bound address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            // The request: headers up to the blank line, then its body, read whole so that the
            // client sees the answer and not a reset connection.
            let mut length = 0;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                if line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                line.clear();
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let answer = r#"{"__type":"AccessDeniedException","message":"User: arn:aws:iam::123456789012:user/ci is not authorized to perform this action"}"#;
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.0\r\n\
                 x-amzn-ErrorType: AccessDeniedException\r\nx-amzn-RequestId: refused\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    format!("http://{address}")
}

/// A port of 127.0.0.1 nothing listens on.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("the bound address").port()
}

/// The `capstan` command without credentials anywhere (no variables, no files), and without a
/// region unless `region` is given: for the exit code of what cannot be asked of AWS at all.
pub fn bare_command(endpoint: &str, region: Option<&str>) -> Command {
    let mut command = command(endpoint, region.unwrap_or("us-east-1"), &[]);
    command
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws/credentials",
        )
        .env("AWS_CONFIG_FILE", "/nonexistent/aws/config");
    if region.is_none() {
        command
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION");
    }
    command
}
