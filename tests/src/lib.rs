//! Shared helpers for the end-to-end test binary (`tests/e2e`): build and locate the `tfa`
//! binary, run its CLI against a data directory, and run `tfa serve` on a free loopback port
//! with its output captured to files, stopping it with SIGTERM. What the API tier needs too
//! (codes, Basic auth, replies, envelopes, file checks) is in `tfa-testkit`, not here.
//!
//! The browser tests reuse [`Server`]: `Server::start(ServerOptions { www: Some(dir), .. })`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test support: failing loudly is the point

pub use tfa_testkit::pg::{free_port, PgCluster, PG_USER};

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace root (the parent of this package).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests package lives inside the workspace")
        .to_path_buf()
}

/// Cargo's target directory for this build: `$CARGO_TARGET_DIR` or `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    }
}

/// The `tfa` binary: `$TFA_BIN` if set, else built once per test run with
/// `cargo build -p tfa --features server --bin tfa` and taken from `<target>/debug/tfa`.
pub fn tfa_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("TFA_BIN") {
            return PathBuf::from(bin);
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(workspace_root())
            .args(["build", "-p", "tfa", "--features", "server", "--bin", "tfa"])
            .env("CARGO_TARGET_DIR", target_dir())
            .status()
            .expect("run cargo build for the tfa binary");
        assert!(
            status.success(),
            "cargo build -p tfa --features server failed"
        );
        let bin = target_dir().join("debug").join("tfa");
        assert!(bin.exists(), "{} missing after the build", bin.display());
        bin
    })
    .clone()
}

/// `tfa --data DATA --hostname tfa.test`, ready for more arguments.
fn tfa_command(data_dir: &Path) -> Command {
    let mut cmd = Command::new(tfa_bin());
    cmd.arg("--data")
        .arg(data_dir)
        .args(["--hostname", HOSTNAME]);
    cmd
}

/// Runs `tfa --data DATA --hostname tfa.test ARGS...`, feeding `stdin` if given.
pub fn tfa(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = tfa_command(data_dir);
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn tfa");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    child.wait_with_output().expect("wait for tfa")
}

/// Like [`tfa`], but asserts success and returns stdout.
pub fn tfa_ok(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let out = tfa(data_dir, args, stdin);
    assert!(
        out.status.success(),
        "tfa {args:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Adds a cPanel account with a known password.
pub fn add_account(data_dir: &Path, name: &str, password: &str, extra: &[&str]) {
    let mut args = vec!["account", "add", name, "--password-stdin"];
    args.extend_from_slice(extra);
    tfa_ok(data_dir, &args, Some(&format!("{password}\n")));
}

/// Sets a password (root's, say) to a known value.
pub fn set_password(data_dir: &Path, name: &str, password: &str) {
    tfa_ok(
        data_dir,
        &["account", "set-password", name, "--password-stdin"],
        Some(&format!("{password}\n")),
    );
}

/// Creates an API token and returns it (the last line of the output).
pub fn create_token(data_dir: &Path, name: &str) -> String {
    let out = tfa_ok(data_dir, &["token", "create", name], None);
    out.lines().last().expect("a token line").trim().to_owned()
}

/// A fresh temporary directory and, inside it, the path of a data directory not yet created
/// (the CLI and the server create it 0700). Keep the first alive as long as the second is used.
pub fn data_dir() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().expect("temp dir");
    let d = t.path().join("data");
    (t, d)
}

/// `tfa export-cpanel` of `data_dir` into a new temp dir, returned.
pub fn export(data_dir: &Path) -> tempfile::TempDir {
    let out = tempfile::tempdir().expect("temp dir for the export");
    let path = out.path().to_str().expect("a UTF-8 temp path");
    tfa_ok(data_dir, &["export-cpanel", path], None);
    out
}

/// The hostname every helper passes, so outputs are predictable.
pub const HOSTNAME: &str = "tfa.test";

/// Now, in unix seconds: tests talk to a real server on the real clock.
#[allow(clippy::disallowed_methods)] // the e2e tests' one real clock; the codes they compute must match the server's
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// How to start a server.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// The data directory; a fresh temporary one when `None`.
    pub data_dir: Option<PathBuf>,
    /// `--www DIR`, the enrollment page.
    pub www: Option<PathBuf>,
    /// More `tfa serve` options (limits, timeouts).
    pub args: Vec<String>,
    /// Resource limits for the server process, as `prlimit` takes them (`--nofile=1024`,
    /// `--as=…`): the server runs under `prlimit` when this is not empty.
    pub prlimit: Vec<String>,
    /// More environment variables for the server (`RUST_LOG`, …).
    pub env: Vec<(String, String)>,
    /// `--listen` (default `127.0.0.1:0`).
    pub listen: Option<String>,
}

impl ServerOptions {
    /// A server over an existing data directory, with no page.
    pub fn with_data_dir(dir: &Path) -> ServerOptions {
        ServerOptions {
            data_dir: Some(dir.to_path_buf()),
            ..ServerOptions::default()
        }
    }
}

/// A running `tfa serve` on 127.0.0.1 with a free port.
pub struct Server {
    /// `http://127.0.0.1:PORT` (`https://` when the banner says so)
    pub base_url: String,
    pub data_dir: PathBuf,
    /// stderr (the tracing log).
    log_path: PathBuf,
    /// stdout (the banner, and on a fresh store the seeded passwords).
    stdout_path: PathBuf,
    child: Option<Child>,
    _files: tempfile::TempDir,
    _data: Option<tempfile::TempDir>,
}

/// What a stopped server left behind.
#[derive(Debug)]
pub struct Stopped {
    pub status: ExitStatus,
    pub log: String,
    pub stdout: String,
}

impl Server {
    /// Starts `tfa serve --listen 127.0.0.1:0` and waits until it accepts connections.
    pub fn start(opts: ServerOptions) -> Server {
        let files = tempfile::tempdir().expect("temp dir for logs");
        let (data_dir, data_tmp) = match opts.data_dir {
            Some(d) => (d, None),
            None => {
                let t = tempfile::tempdir().expect("temp data dir");
                (t.path().join("data"), Some(t))
            }
        };
        let log_path = files.path().join("server.log");
        let stdout_path = files.path().join("server.out");
        let mut cmd = if opts.prlimit.is_empty() {
            tfa_command(&data_dir)
        } else {
            let inner = tfa_command(&data_dir);
            let mut outer = Command::new("prlimit");
            outer.args(&opts.prlimit).arg("--").arg(inner.get_program());
            outer.args(inner.get_args());
            for (k, v) in inner.get_envs() {
                match v {
                    Some(v) => outer.env(k, v),
                    None => outer.env_remove(k),
                };
            }
            outer
        };
        let listen = opts.listen.as_deref().unwrap_or("127.0.0.1:0");
        cmd.args(["serve", "--listen", listen])
            .args(&opts.args)
            .envs(opts.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
            .stderr(std::fs::File::create(&log_path).expect("log file"));
        if let Some(www) = &opts.www {
            cmd.arg("--www").arg(www);
        }
        let child = cmd.spawn().expect("spawn tfa serve");
        let mut server = Server {
            base_url: String::new(),
            data_dir,
            log_path,
            stdout_path,
            child: Some(child),
            _files: files,
            _data: data_tmp,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = self.stdout();
            if let Some((scheme, rest)) = out.lines().find_map(|l| {
                l.strip_prefix("Listening on ")
                    .and_then(|url| url.split_once("://"))
            }) {
                let addr: SocketAddr = rest.trim().parse().expect("a socket address in the banner");
                if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                    self.base_url = format!("{scheme}://{addr}");
                    return;
                }
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("tfa serve exited early ({status}): {}", self.log());
                }
            }
            assert!(Instant::now() < deadline, "tfa serve did not become ready");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's process id (for signals).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (up to 20 s) for a graceful exit.
    pub fn stop(mut self) -> Stopped {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("tfa serve did not stop within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        Stopped {
            status,
            log: self.log(),
            stdout: self.stdout(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Asserts that none of `values` appears in `text` (the server's log).
pub fn assert_nothing_leaked(text: &str, values: &[String]) {
    for v in values {
        assert!(
            v.len() >= 8,
            "too short to grep for safely: {} chars",
            v.len()
        );
        assert!(
            !text.contains(v.as_str()),
            "a secret, token or password reached the server log"
        );
    }
}
