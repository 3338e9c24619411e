//! `cargo xtask bench pg`: the shared PostgreSQL store, with one and with three `tfa serve`
//! processes on one throwaway cluster (the test kit's `PgCluster`: `initdb` in a temp dir, a
//! free loopback port, deleted after). Each instance has its own data directory holding a copy
//! of the first one's key file, as separate machines would. Two measures, each with 64
//! keep-alive connections spread evenly over the instances:
//! - token GETs: UAPI `get_user_configuration` with an API token (reads);
//! - durable writes: UAPI `set_user_configuration`, each user enrolling once with a fresh code
//!   (the writes benchmark's load generator).
//!
//! The instances run as behind a load balancer (`--trusted-proxy 127.0.0.1`) and each connection
//! speaks for a client address of its own (`X-Forwarded-For`), as real clients have. A code check
//! holds its client address (so that address's wrong-code budget is exact across instances):
//! a third measure, writes from one single address on one instance, shows what that costs
//! when every client shares one address.
//!
//! The peer of the three-instance figure is the one-instance figure of the same run, so the
//! ratio is how the store scales out. On this two-core machine the instances, PostgreSQL and
//! the load generator share the same two cores: the ratio says what a second and third process
//! cost or gain here, not what three machines would.

use std::io::BufReader;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tfa_testkit::pg::{psql, PgCluster};

use super::process::{Server, TempDir};
use super::writes::{client_address, drive, exchange, User};
use super::{build_servers, Row, Table};
use crate::{Ctx, Result};

/// Seeded users: enough for both write runs (a user enrolls at most once).
const USERS: usize = 90_000;
const CONNECTIONS: usize = 64;
const WARM_UP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(6);
/// Every seeded user's secret: a code is refused as a replay per user, so one secret serves.
const SECRET: &str = "JBSWY3DPEHPK3PXP";

pub(super) fn bench_postgres(ctx: &Ctx, table: &mut Table) -> Result {
    let bins = build_servers(ctx)?;
    let tmp = TempDir::new("tfa-bench-pg")?;
    println!("bench: a throwaway PostgreSQL cluster");
    let cluster = PgCluster::start();
    let url = cluster.url("postgres");
    let dirs: Vec<_> = (0..3).map(|i| tmp.0.join(format!("data{i}"))).collect();
    let serve = |i: usize| {
        let mut c = Command::new(&bins.tfa);
        c.arg("--data")
            .arg(&dirs[i])
            .args(["--database", &url, "serve", "--listen", "127.0.0.1:0"])
            .args(["--trusted-proxy", "127.0.0.1"])
            .env("RUST_LOG", "warn");
        Server::start("tfa serve", c, &tmp.0.join(format!("tfa{i}.log")))
    };
    // The first start makes the schema and the key; the users go in with it stopped.
    drop(serve(0)?);
    let users = seed(&url)?;
    let key = std::fs::read(dirs[0].join("tfa.key"))?;
    for dir in &dirs[1..] {
        std::fs::create_dir_all(dir)?;
        write_private(&dir.join("tfa.key"), &key)?;
    }
    let third = users.len() / 3;
    let (first, rest) = users.split_at(third);
    let (second, last) = rest.split_at(third);
    let mut figures = Vec::new();
    for (n, users) in [(1usize, first), (3, second)] {
        let servers = (0..n).map(serve).collect::<Result<Vec<_>>>()?;
        let addrs: Vec<String> = servers.iter().map(|s| s.addr.clone()).collect();
        let gets = drive_gets(&addrs, users)?;
        let writes = drive(&addrs, users, true)?;
        println!(
            "bench: {n} instance(s): {gets:.0} token GETs/s, {:.0} durable writes/s (p99 {:.1} ms)",
            writes.per_sec, writes.p99_ms
        );
        let note = if writes.failed > 0 {
            format!(
                "{} writes not answered 2xx with status 1 (first: {})",
                writes.failed, writes.first_failure
            )
        } else {
            String::new()
        };
        figures.push((gets, writes.per_sec, note));
        drop(servers);
    }
    let one_address = {
        let server = serve(0)?;
        drive(std::slice::from_ref(&server.addr), last, false)?
    };
    println!(
        "bench: 1 instance, every client at one address: {:.0} durable writes/s",
        one_address.per_sec
    );
    drop(cluster);
    let [(gets1, writes1, note1), (gets3, writes3, note3)] =
        <[_; 2]>::try_from(figures).map_err(|_| "the PostgreSQL runs did not both finish")?;
    table.push(Row::higher(
        "PostgreSQL token GET, 3 instances (64 conn)",
        "req/s",
        gets3,
        "1 instance, same cluster",
        gets1,
        None,
    ));
    table.push(Row::higher(
        "PostgreSQL durable writes, 1 instance, all clients at one address",
        "writes/s",
        one_address.per_sec,
        "1 instance, a client address each",
        writes1,
        None,
    ));
    table.push(Row {
        note: [note1, note3]
            .into_iter()
            .filter(|n| !n.is_empty())
            .collect::<Vec<_>>()
            .join("; "),
        ..Row::higher(
            "PostgreSQL durable writes, 3 instances (64 conn)",
            "writes/s",
            writes3,
            "1 instance, same cluster",
            writes1,
            None,
        )
    });
    Ok(())
}

/// A key file as tfa writes one: 0600 from its first byte.
fn write_private(path: &Path, bytes: &[u8]) -> Result {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    Ok(())
}

/// [`USERS`] cPanel accounts with an API token each, straight into the database; returns them.
fn seed(url: &str) -> Result<Vec<User>> {
    println!("bench: seeding {USERS} users with an API token each");
    let users: Vec<User> = (0..USERS)
        .map(|i| User {
            name: format!("w{i:06}"),
            // 32 characters, as cPanel's tokens are.
            token: format!("PGBENCH{i:06}{}", "X".repeat(19)),
            secret: SECRET.to_owned(),
        })
        .collect();
    let last = USERS - 1;
    psql(
        url,
        &[
            &format!(
                "INSERT INTO accounts (name, kind, owner, domain, password_hash)
                 SELECT 'w' || lpad(i::text, 6, '0'), 'user', 'root',
                        'w' || lpad(i::text, 6, '0') || '.example', 'seeded: no password'
                 FROM generate_series(0, {last}) AS i"
            ),
            &format!(
                "INSERT INTO api_tokens (account, hash, created)
                 SELECT 'w' || lpad(i::text, 6, '0'),
                        sha256(convert_to('PGBENCH' || lpad(i::text, 6, '0') || repeat('X', 19), 'UTF8')),
                        0
                 FROM generate_series(0, {last}) AS i"
            ),
            "ANALYZE",
        ],
    );
    Ok(users)
}

/// [`CONNECTIONS`] threads, spread over `addrs`, each sending its own user's token GET on one
/// keep-alive connection for [`WARM_UP`] and [`MEASURE`]; good answers per second measured.
fn drive_gets(addrs: &[String], users: &[User]) -> Result<f64> {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let (measure_from, until) = (start + WARM_UP, start + WARM_UP + MEASURE);
    let mut threads = Vec::new();
    for i in 0..CONNECTIONS {
        let addr = addrs[i % addrs.len().max(1)].clone();
        let user = users.get(i).ok_or("fewer users than connections")?;
        let request = format!(
            "GET /execute/TwoFactorAuth/get_user_configuration HTTP/1.1\r\nHost: {addr}\r\n\
             Authorization: cpanel {}:{}\r\nX-Forwarded-For: {}\r\n\r\n",
            user.name,
            user.token,
            client_address(i)
        );
        let stop = Arc::clone(&stop);
        // Errors cross the thread as text (the crate's error type is not Send).
        threads.push(std::thread::spawn(
            move || -> std::result::Result<usize, String> {
                let mut conn =
                    BufReader::new(TcpStream::connect(&addr).map_err(|e| e.to_string())?);
                let mut good = 0;
                while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                    let sent = Instant::now();
                    let (status, body) =
                        exchange(&mut conn, request.as_bytes()).map_err(|e| e.to_string())?;
                    if status != 200 || !body.contains("\"status\":1") {
                        return Err(format!("token GET answered {status}: {body}"));
                    }
                    if sent >= measure_from && Instant::now() <= until {
                        good += 1;
                    }
                }
                Ok(good)
            },
        ));
    }
    let mut total = 0;
    for t in threads {
        total += t.join().map_err(|_| "a load thread panicked")??;
    }
    stop.store(true, Ordering::Relaxed);
    Ok(total as f64 / MEASURE.as_secs_f64())
}
