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
//! Starting moto and importing its service models costs seconds per server, so a test binary
//! with many tests can share one server instead: [`MotoRegion::lease`] hands each caller an AWS
//! region of its own on a shared server (moto keeps every region apart), and the server stops
//! when the test process exits.
//!
//! The server is moto's own (PyPI `moto[server]`), run by the Python that `moto_server` runs
//! under (found through `MOTO_SERVER` or `PATH`; `MOTO_PYTHON` overrides it) with one change:
//! it serves one request at a time (see `serial_server.py` for why: moto's DynamoDB writes are
//! not atomic under concurrent requests, real DynamoDB's are). `scripts/test.sh` installs it; a
//! missing server is a test failure that says how to install it, never a skipped test.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
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
        let python = python();
        for attempt in 0..3 {
            let port = free_port();
            let child = Command::new(&python)
                .args(["-c", SERIAL_SERVER, "-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot start moto under `{python}` ({e}): install it with `pip install 'moto[server]'` \
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

/// moto's server, serving one request at a time.
const SERIAL_SERVER: &str = include_str!("serial_server.py");

/// The Python to run moto with: `MOTO_PYTHON`; else the interpreter named on the first line of
/// the `moto_server` script (`MOTO_SERVER`, or the first on `PATH`), which is the one moto is
/// installed for; else `python3`.
fn python() -> String {
    if let Ok(p) = std::env::var("MOTO_PYTHON") {
        return p;
    }
    let script = std::env::var("MOTO_SERVER")
        .ok()
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("PATH").and_then(|path| {
                std::env::split_paths(&path)
                    .map(|dir| dir.join("moto_server"))
                    .find(|p| p.is_file())
            })
        });
    script
        .and_then(|s| std::fs::read_to_string(s).ok())
        .and_then(|text| shebang_python(&text))
        .unwrap_or_else(|| "python3".to_string())
}

/// The interpreter of a `#!/path/to/python` first line; `None` for anything else (a shell
/// wrapper such as pyenv's shim).
fn shebang_python(script: &str) -> Option<String> {
    let line = script.lines().next()?.strip_prefix("#!")?.trim();
    let mut words = line.split_whitespace();
    let first = words.next()?;
    let interpreter = if first.ends_with("/env") {
        words.next()?
    } else {
        first
    };
    interpreter
        .rsplit('/')
        .next()
        .is_some_and(|name| name.starts_with("python"))
        .then(|| interpreter.to_string())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// Regions handed out by [`MotoRegion::lease`], one per caller, on a shared server.
const REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "sa-east-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "eu-south-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-east-1",
    "me-south-1",
    "af-south-1",
];

/// A shared server: its port, and the pipe whose closing (at process exit) stops it.
struct Shared {
    port: u16,
    _stdin: ChildStdin,
    _child: Child,
}

/// One region of a shared moto server, for one test.
#[derive(Debug, Clone)]
pub struct MotoRegion {
    port: u16,
    name: &'static str,
}

impl MotoRegion {
    /// A region no other caller in this process has, on a shared server (started on first
    /// use, another one every 21 callers). The server stops when the process exits.
    pub async fn lease() -> MotoRegion {
        tokio::task::spawn_blocking(MotoRegion::lease_blocking)
            .await
            .expect("moto lease task")
    }

    /// [`MotoRegion::lease`] for synchronous callers.
    pub fn lease_blocking() -> MotoRegion {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        static SERVERS: OnceLock<Mutex<Vec<Shared>>> = OnceLock::new();
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let server = n / REGIONS.len();
        let mut servers = SERVERS
            .get_or_init(|| Mutex::new(Vec::new()))
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        while servers.len() <= server {
            servers.push(start_shared());
        }
        MotoRegion {
            port: servers[server].port,
            name: REGIONS[n % REGIONS.len()],
        }
    }

    /// The region's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SDK configuration for this region of the shared server, with test credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new(self.name))
            .endpoint_url(self.endpoint())
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .load()
            .await
    }
}

/// Starts a server under a shell that kills it when its stdin closes: the test process holds
/// the pipe's other end until it exits, so no server outlives the tests.
fn start_shared() -> Shared {
    let python = python();
    for attempt in 0..3 {
        let port = free_port();
        let script = format!(
            "\"$0\" -c \"$1\" -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; cat >/dev/null; kill $m"
        );
        let mut child = Command::new("sh")
            .args(["-c", &script, &python, SERIAL_SERVER])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh starts");
        let stdin = child.stdin.take().expect("piped stdin");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Shared {
                    port,
                    _stdin: stdin,
                    _child: child,
                };
            }
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(stdin);
        let _ = child.wait();
        eprintln!("shared moto_server on port {port} did not come up (attempt {attempt})");
    }
    panic!(
        "moto under `{python}` did not come up: install it with `pip install 'moto[server]'` or run the \
         tests through `bash scripts/test.sh`, which does"
    )
}

#[cfg(test)]
mod tests {
    use super::shebang_python;

    #[test]
    fn the_python_of_a_console_script_is_found_and_a_shell_wrapper_is_not() {
        assert_eq!(
            shebang_python("#!/opt/venv/bin/python3\nimport sys\n").as_deref(),
            Some("/opt/venv/bin/python3")
        );
        assert_eq!(
            shebang_python("#!/usr/bin/env python3.11\n").as_deref(),
            Some("python3.11")
        );
        assert_eq!(shebang_python("#!/usr/bin/env bash\nexec pyenv\n"), None);
        assert_eq!(shebang_python("\x7fELF"), None);
    }
}
