//! `cargo xtask bench writes`: durable writes. tfa's UAPI `set_user_configuration` under
//! [`CONNECTIONS`] concurrent keep-alive connections against a fresh store, and the peer: bare
//! SQLite with the same durability (WAL, `synchronous=FULL`), two commits per operation, from
//! one Python thread (stdlib `sqlite3`), in the same scratch directory and the same run.
//!
//! Each enrollment needs a valid code that its user has not used yet, so the store is seeded
//! with [`USERS`] accounts, each with its own API token and secret, and every user enrolls at
//! most once in the whole run: more users than requests the run can make, so a code is never
//! replayed (if the server ever outran them, the run ends early and says so). The load
//! generator is blocking threads, one connection each: 64 requests in flight is exactly the
//! load, and it needs no async runtime in xtask.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::process::{Server, TempDir};
use super::{build_servers, Row, Table};
use crate::{Ctx, Result};

/// Concurrent connections, as the server benchmark's oha uses.
const CONNECTIONS: usize = 64;
/// Enough users for the run: over 25,000 writes/s for [`WARM_UP`] + [`MEASURE`].
const USERS: usize = 200_000;
const WARM_UP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(6);
/// The peer's run: long enough for hundreds of fsyncs.
const PEER_SECS: &str = "5";

/// One seeded user: name, API token, base32 secret.
pub(super) struct User {
    pub(super) name: String,
    pub(super) token: String,
    pub(super) secret: String,
}

pub(super) fn bench_writes(ctx: &Ctx, table: &mut Table) -> Result {
    let bins = build_servers(ctx)?;
    let tmp = TempDir::new("tfa-bench-writes")?;
    let data = tmp.0.join("data");
    let serve = || {
        let mut c = Command::new(&bins.tfa);
        c.arg("--data")
            .arg(&data)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn");
        Server::start("tfa serve", c, &tmp.0.join("tfa.log"))
    };
    // The first start creates the store; the users go in with the server stopped.
    drop(serve()?);
    let users = seed_users(&data.join("tfa.sqlite3"), &tmp.0.join("users.txt"))?;
    let server = serve()?;
    let tfa = drive(std::slice::from_ref(&server.addr), &users, false)?;
    drop(server);
    let peer = peer(&tmp.0.join("peer.sqlite3"))?;

    let mut notes = Vec::new();
    if tfa.failed > 0 {
        notes.push(format!(
            "{} enrollments were not answered 2xx with status 1 (first: {})",
            tfa.failed, tfa.first_failure
        ));
    }
    if tfa.ran_out {
        notes.push(format!("all {USERS} users enrolled before the time was up"));
    }
    table.push(Row {
        note: notes.join("; "),
        ..Row::higher(
            "durable writes (set_user_configuration, 64 conn)",
            "writes/s",
            tfa.per_sec,
            "bare SQLite, Python, 2 commits/op",
            peer.per_sec,
            Some(5_000.0),
        )
    });
    table.push(Row::lower(
        "durable write p99 (tfa: 64 in flight; peer: one at a time)",
        "ms",
        tfa.p99_ms,
        "bare SQLite, Python (one op)",
        peer.p99_ms,
        None,
    ));
    Ok(())
}

/// Adds [`USERS`] user accounts, each with an API token (the store keeps its SHA-256) and a
/// secret to enroll with, straight into the store; returns them.
fn seed_users(db: &Path, list: &Path) -> Result<Vec<User>> {
    println!("bench: seeding {USERS} users with an API token each");
    const SEED: &str = r#"
import base64, hashlib, os, sqlite3, sys, time
db, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
now = int(time.time())
users = []
for i in range(n):
    name = "w%06d" % i
    token = base64.b32encode(os.urandom(20)).decode()
    secret = base64.b32encode(os.urandom(10)).decode()
    users.append((name, token, secret))
con = sqlite3.connect(db)
with con:
    con.executemany(
        "INSERT INTO accounts (name, kind, owner, domain, password_hash)"
        " VALUES (?, 'user', 'root', ?, 'seeded: no password')",
        ((u[0], u[0] + ".example") for u in users))
    con.executemany(
        "INSERT INTO api_tokens (account, hash, created) VALUES (?, ?, ?)",
        ((u[0], hashlib.sha256(u[1].encode()).digest(), now) for u in users))
con.close()
with open(out, "w") as f:
    f.writelines("%s %s %s\n" % u for u in users)
"#;
    let status = Command::new("python3")
        .args(["-c", SEED])
        .arg(db)
        .arg(list)
        .arg(USERS.to_string())
        .status()
        .map_err(|e| format!("could not start python3: {e}"))?;
    if !status.success() {
        return Err(format!("seeding {} failed ({status})", db.display()).into());
    }
    let mut users = Vec::with_capacity(USERS);
    for line in BufReader::new(std::fs::File::open(list)?).lines() {
        let line = line?;
        let mut f = line.split(' ');
        if let (Some(name), Some(token), Some(secret)) = (f.next(), f.next(), f.next()) {
            users.push(User {
                name: name.to_owned(),
                token: token.to_owned(),
                secret: secret.to_owned(),
            });
        }
    }
    Ok(users)
}

pub(super) struct Driven {
    pub(super) per_sec: f64,
    pub(super) p99_ms: f64,
    pub(super) failed: usize,
    pub(super) first_failure: String,
    pub(super) ran_out: bool,
}

/// [`CONNECTIONS`] threads enroll users one at a time, each user once, for [`WARM_UP`] and
/// then [`MEASURE`]; only the measured window's good answers count. With several addresses
/// (instances of one store), connection `i` goes to address `i mod n`. `forwarded`: each
/// connection speaks for a client address of its own in `X-Forwarded-For`, as a load balancer
/// in front of instances started with `--trusted-proxy` does.
pub(super) fn drive(addrs: &[String], users: &[User], forwarded: bool) -> Result<Driven> {
    println!(
        "bench: set_user_configuration on {}, {CONNECTIONS} connections, {WARM_UP:?} warm-up, \
         {MEASURE:?} measured",
        addrs.join(" ")
    );
    let users = Arc::new(users.iter().map(request_parts).collect::<Vec<_>>());
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let measure_from = start + WARM_UP;
    let until = measure_from + MEASURE;
    let mut threads = Vec::new();
    for i in 0..CONNECTIONS {
        let (users, next, stop, addr) = (
            Arc::clone(&users),
            Arc::clone(&next),
            Arc::clone(&stop),
            addrs[i % addrs.len().max(1)].clone(),
        );
        let extra = if forwarded {
            format!("X-Forwarded-For: {}\r\n", client_address(i))
        } else {
            String::new()
        };
        threads.push(std::thread::spawn(move || {
            client(&addr, &extra, &users, &next, &stop, measure_from, until)
        }));
    }
    let mut lat = Vec::new();
    let (mut failed, mut first_failure) = (0, String::new());
    for t in threads {
        let c = t.join().map_err(|_| "a load thread panicked")?;
        lat.extend(c.latencies_us);
        failed += c.failed;
        if first_failure.is_empty() {
            first_failure = c.first_failure;
        }
    }
    let ran_out = next.load(Ordering::Relaxed) >= users.len();
    // If the users ran out, the window ended when the threads stopped, just now.
    let window = if ran_out {
        start
            .elapsed()
            .min(WARM_UP + MEASURE)
            .saturating_sub(WARM_UP)
    } else {
        MEASURE
    };
    if lat.is_empty() {
        return Err(format!("no enrollment succeeded; first failure: {first_failure}").into());
    }
    lat.sort_unstable();
    let p99 = lat[(lat.len() * 99 / 100).min(lat.len() - 1)];
    Ok(Driven {
        per_sec: lat.len() as f64 / window.as_secs_f64().max(1e-3),
        p99_ms: f64::from(p99) / 1000.0,
        failed,
        first_failure,
        ran_out,
    })
}

/// A user's request: its path up to the code, its Authorization header value, its secret.
type Parts = (String, String, String);

fn request_parts(u: &User) -> Parts {
    (
        format!(
            "/execute/TwoFactorAuth/set_user_configuration?secret={}",
            u.secret
        ),
        format!("cpanel {}:{}", u.name, u.token),
        u.secret.clone(),
    )
}

struct ClientFigures {
    latencies_us: Vec<u32>,
    failed: usize,
    first_failure: String,
}

/// One connection's loop: the next unused user, its current code, one request, the answer.
fn client(
    addr: &str,
    extra_headers: &str,
    users: &[Parts],
    next: &AtomicUsize,
    stop: &AtomicBool,
    measure_from: Instant,
    until: Instant,
) -> ClientFigures {
    let mut figures = ClientFigures {
        latencies_us: Vec::new(),
        failed: 0,
        first_failure: String::new(),
    };
    let mut conn: Option<BufReader<TcpStream>> = None;
    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some((path, auth, secret)) = users.get(i) else {
            stop.store(true, Ordering::Relaxed);
            break;
        };
        let code = tfa_testkit::code(secret, unix_now());
        let request = format!(
            "GET {path}&tfa_token={code} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {auth}\r\n{extra_headers}\r\n"
        );
        let sent = Instant::now();
        let answer = match &mut conn {
            Some(r) => exchange(r, request.as_bytes()),
            None => match TcpStream::connect(addr) {
                Ok(s) => exchange(conn.insert(BufReader::new(s)), request.as_bytes()),
                Err(e) => Err(e.into()),
            },
        };
        let took = sent.elapsed();
        let good = match &answer {
            Ok((status, body)) => (200..300).contains(status) && body.contains("\"status\":1"),
            Err(_) => false,
        };
        if !good {
            // A broken connection is reopened for the next request.
            if answer.is_err() {
                conn = None;
            }
            if sent >= measure_from {
                figures.failed += 1;
                if figures.first_failure.is_empty() {
                    figures.first_failure = match answer {
                        Ok((status, body)) => format!("{status}: {}", cut(&body, 300)),
                        Err(e) => e.to_string(),
                    };
                }
            }
        } else if sent >= measure_from && Instant::now() <= until {
            figures
                .latencies_us
                .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
        }
    }
    figures
}

/// The client address connection `i` speaks for behind the emulated balancer (TEST-NET-2's
/// neighbour 198.18.0.0/15, reserved for benchmarks).
pub(super) fn client_address(i: usize) -> String {
    format!("198.18.{}.{}", (i / 250) % 250, i % 250 + 1)
}

fn cut(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// One request on a keep-alive connection: its status and body (read by Content-Length).
/// The WebDriver client (browser.rs) uses it too.
pub(super) fn exchange(r: &mut BufReader<TcpStream>, request: &[u8]) -> Result<(u16, String)> {
    r.get_mut().write_all(request)?;
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no HTTP status line: {line:?}"))?;
    let mut length = 0usize;
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err("the connection closed mid-answer".into());
        }
        let h = line.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse()?;
            }
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body)?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn unix_now() -> u64 {
    // The codes are for now: the one clock xtask reads besides the report's date.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

struct Peer {
    per_sec: f64,
    p99_ms: f64,
}

/// Bare SQLite, as durable as tfa's store: WAL, `synchronous=FULL`; per operation one commit
/// of the secret and its step, one of an audit row; one Python thread for [`PEER_SECS`].
fn peer(db: &Path) -> Result<Peer> {
    println!("bench: the bare-SQLite peer (Python sqlite3, one thread, {PEER_SECS} s)");
    const PEER: &str = r#"
import os, sqlite3, sys, time
db, secs = sys.argv[1], float(sys.argv[2])
con = sqlite3.connect(db, isolation_level=None)
con.execute("PRAGMA journal_mode=WAL")
con.execute("PRAGMA synchronous=FULL")
con.execute("CREATE TABLE tfa (username TEXT PRIMARY KEY NOT NULL, secret TEXT NOT NULL, step INTEGER NOT NULL)")
con.execute("CREATE TABLE audit (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, identity TEXT NOT NULL, detail TEXT NOT NULL)")
lat, i = [], 0
end = time.monotonic() + secs
start = time.monotonic()
while time.monotonic() < end:
    t0 = time.monotonic()
    name = "w%06d" % i
    con.execute("BEGIN IMMEDIATE")
    con.execute("INSERT OR REPLACE INTO tfa VALUES (?, ?, ?)", (name, "S3I4WUY7MTHRMMWN", i))
    con.execute("COMMIT")
    con.execute("BEGIN IMMEDIATE")
    con.execute("INSERT INTO audit (at, identity, detail) VALUES (?, ?, ?)", (int(time.time()), name, "two-factor authentication configured"))
    con.execute("COMMIT")
    lat.append(time.monotonic() - t0)
    i += 1
took = time.monotonic() - start
lat.sort()
print("%f %f" % (i / took, lat[min(len(lat) - 1, len(lat) * 99 // 100)] * 1000))
"#;
    let out = Command::new("python3")
        .args(["-c", PEER])
        .arg(db)
        .arg(PEER_SECS)
        .output()
        .map_err(|e| format!("could not start python3: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut f = text.split_whitespace().map(str::parse::<f64>);
    match (out.status.success(), f.next(), f.next()) {
        (true, Some(Ok(per_sec)), Some(Ok(p99_ms))) => Ok(Peer { per_sec, p99_ms }),
        _ => Err(format!(
            "the SQLite peer failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into()),
    }
}
