//! A moto server for tests: started on a free port of 127.0.0.1, stopped when dropped.
//!
//! ```no_run
//! # async fn demo() {
//! let moto = capstan_moto::Moto::start().await;
//! let config = moto.sdk_config().await;
//! // build any AWS SDK client from `config`; it talks to this server only.
//! # }
//! ```
//!
//! The server binary is `moto_server` (PyPI `moto[server]`), found through `MOTO_SERVER` or
//! `PATH`. `scripts/test.sh` installs it; a missing server is a test failure that says how to
//! install it, never a skipped test.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

/// A running moto server. Dropping it kills the server.
pub struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// Starts a moto server on a free port and waits until it answers.
    ///
    /// Panics (failing the test) when the server cannot be found or does not come up within
    /// 30 seconds, with a message that says what to install.
    pub async fn start() -> Moto {
        tokio::task::spawn_blocking(Moto::start_blocking)
            .await
            .expect("moto start task")
    }

    /// [`Moto::start`] for synchronous callers.
    pub fn start_blocking() -> Moto {
        let program = std::env::var("MOTO_SERVER").unwrap_or_else(|_| "moto_server".to_string());
        for attempt in 0..3 {
            let port = free_port();
            let child = Command::new(&program)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot start `{program}` ({e}): install it with `pip install 'moto[server]'` \
                         or run the tests through `bash scripts/test.sh`, which does"
                    )
                });
            let mut moto = Moto { child, port };
            if moto.wait_ready(Duration::from_secs(30)) {
                return moto;
            }
            eprintln!("moto_server on port {port} did not come up (attempt {attempt}); retrying");
        }
        panic!("moto_server did not come up on three free ports within 30 s each")
    }

    fn wait_ready(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// The endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// SDK configuration for this server: region `us-east-1`, test credentials, this endpoint.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .load()
            .await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}
