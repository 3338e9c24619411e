//! A throwaway PostgreSQL cluster for the tests (issue 12's store runs against a real server):
//! `initdb` in a temp dir, run as Debian's unprivileged `postgres` user when the tests run as
//! root (PostgreSQL refuses to run as root), listening on a free loopback port with its socket
//! in the same directory, and stopped (`-m immediate`) and deleted when dropped: nothing is left
//! behind, not even a cluster in `pg_lsclusters`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The login role the cluster is made with (trust authentication: only the tests reach it, on
/// loopback and through a socket in a private directory).
pub const PG_USER: &str = "tfa";

/// One running cluster.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// The loopback port it listens on.
    pub port: u16,
}

impl PgCluster {
    /// `initdb` and `pg_ctl start`, waiting until it accepts connections.
    pub fn start() -> PgCluster {
        PgCluster::start_with_tls(None)
    }

    /// As [`PgCluster::start`], serving TLS as well with this PEM certificate and key (`ssl=on`;
    /// plain connections stay possible, so a client's `sslmode` decides).
    pub fn start_with_tls(tls: Option<(&str, &str)>) -> PgCluster {
        let bin = pg_bin();
        let dir = tempfile::tempdir().expect("temp dir");
        if running_as_root() {
            // The server's own user must own its directory.
            let status = Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown postgres {}", dir.path().display());
        }
        let data = dir.path().join("data");
        let out = as_server_user(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                PG_USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-instructions",
            ])
            .output()
            .expect("initdb");
        check(&out, "initdb");
        let port = free_port();
        let mut options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {}",
            dir.path().display()
        );
        if let Some((cert, key)) = tls {
            let (cert_path, key_path) =
                (dir.path().join("server.crt"), dir.path().join("server.key"));
            std::fs::write(&cert_path, cert).expect("write the certificate");
            std::fs::write(&key_path, key).expect("write the key");
            use std::os::unix::fs::PermissionsExt;
            // PostgreSQL refuses a key others can read.
            std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))
                .expect("chmod the key");
            if running_as_root() {
                let status = Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(&cert_path)
                    .arg(&key_path)
                    .status()
                    .expect("chown");
                assert!(status.success(), "chown the TLS files");
            }
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                cert_path.display(),
                key_path.display()
            ));
        }
        let out = as_server_user(&bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.path().join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .output()
            .expect("pg_ctl start");
        check(&out, "pg_ctl start");
        PgCluster { dir, bin, port }
    }

    /// A connection URL for `database` (`postgres` always exists).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{PG_USER}@127.0.0.1:{}/{database}", self.port)
    }

    /// Runs `sql` with `psql`, connected through [`PgCluster::url`] (so the URL the store will
    /// be given is the one checked), and returns its unaligned, tuples-only output.
    pub fn psql(&self, sql: &str) -> String {
        psql(&self.url("postgres"), &[sql])
    }

    /// The cluster's directory (data, log and socket).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = as_server_user(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
        // The temp dir goes with `self.dir`.
    }
}

/// Runs each of `commands` with `psql` in one session on the database `url` names (so a
/// `SET search_path` applies to the ones after it), and returns the unaligned, tuples-only
/// output, rows on lines and columns split by `|`.
pub fn psql(url: &str, commands: &[&str]) -> String {
    try_psql(url, commands).unwrap_or_else(|e| panic!("psql failed: {e}"))
}

/// As [`psql`], with the server's error message when a command fails.
pub fn try_psql(url: &str, commands: &[&str]) -> Result<String, String> {
    let mut cmd = Command::new(pg_bin().join("psql"));
    cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url]);
    for c in commands {
        cmd.args(["-c", c]);
    }
    let out = cmd.output().expect("psql");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// `pg_dump` of one schema of the database `url` names: every table's definition and rows.
pub fn pg_dump(url: &str, schema: &str) -> String {
    let out = Command::new(pg_bin().join("pg_dump"))
        .args(["--no-owner", "--schema", schema, "-d", url])
        .output()
        .expect("pg_dump");
    check(&out, "pg_dump");
    // Newer pg_dump brackets its output with `\restrict KEY` / `\unrestrict KEY`, a random
    // key per run: not part of the data.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with("\\restrict ") && !l.starts_with("\\unrestrict "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The newest installed server's `bin` directory (Debian: /usr/lib/postgresql/N/bin).
fn pg_bin() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed: run `cargo xtask setup`")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .expect("no PostgreSQL server under /usr/lib/postgresql: run `cargo xtask setup`")
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// `program` as the `postgres` user when running as root, else as ourselves.
fn as_server_user(program: &Path) -> Command {
    if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A loopback port nothing listens on right now (for a child server to bind).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn check(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
