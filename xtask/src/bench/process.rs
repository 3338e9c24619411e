//! The processes and files a benchmark makes, each a guard: dropping it stops the process or
//! removes the directory, so an error anywhere leaves nothing behind.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::Result;

/// How long a server may take to say where it listens (a first start creates the store).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A server this benchmark started; dropping it stops it, so no error path leaves one behind.
pub(super) struct Server {
    name: &'static str,
    child: Child,
    pub(super) addr: String,
    /// What it printed before saying where it listens (the first start's passwords).
    said: Vec<String>,
}

impl Server {
    /// Starts `cmd` and waits for its `Listening on http://ADDR` line. stdout is drained on a
    /// thread for the server's whole life, so a chatty server never blocks on a full pipe.
    pub(super) fn start(name: &'static str, mut cmd: Command, log: &Path) -> Result<Server> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(log)?);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("could not start {name}: {e}"))?;
        let stdout = child.stdout.take();
        let mut server = Server {
            name,
            child,
            addr: String::new(),
            said: Vec::new(),
        };
        let (tx, rx) = mpsc::channel();
        if let Some(stdout) = stdout {
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                    let _ = tx.send(line);
                }
            });
        }
        let deadline = Instant::now() + START_TIMEOUT;
        while server.addr.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => match line.strip_prefix("Listening on http://") {
                    Some(addr) => server.addr = addr.trim().to_owned(),
                    None => server.said.push(line),
                },
                Err(_) => {
                    let log = std::fs::read_to_string(log).unwrap_or_default();
                    let tail: Vec<&str> = log.lines().rev().take(20).collect();
                    let tail: Vec<&str> = tail.into_iter().rev().collect();
                    return Err(format!(
                        "{name} did not say where it listens; its log ends:\n{}",
                        tail.join("\n")
                    )
                    .into());
                }
            }
        }
        Ok(server)
    }

    /// The process id (for reading its memory in /proc).
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The rest of the first line that starts with `prefix`.
    pub(super) fn said(&self, prefix: &str) -> Option<String> {
        self.said
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .map(|rest| rest.trim().to_owned())
    }
}

impl Drop for Server {
    /// SIGTERM first (tfa then shuts down cleanly and checkpoints its WAL), SIGKILL if it is
    /// still there after five seconds. std has no signals, hence `kill`.
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("bench: {} ignored SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch directory, removed when dropped (also on error).
pub(super) struct TempDir(pub(super) PathBuf);

impl TempDir {
    pub(super) fn new(prefix: &str) -> Result<TempDir> {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
        // A directory of that name can only be a leftover of a killed run with our pid.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
