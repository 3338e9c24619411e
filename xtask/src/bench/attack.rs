//! `cargo xtask bench attack`: the server under the two attacks issue 8 measured, with the
//! figures its README quotes. Never a test: it prints what it saw.
//!
//! 1. **A wave of bad logins**: 128 clients POST wrong passwords to `/login` at once, in
//!    rounds, for [`WAVE`]; throttling is raised out of the way so that every attempt reaches
//!    password hashing (the worst case for memory). Meanwhile an API-token call is timed every
//!    [`PROBE_EVERY`] and the server's resident memory sampled; after the wave, memory again.
//! 2. **Idle sockets against a small file limit**: the server runs under `prlimit
//!    --nofile=1024:1024` while an attacker holds 1,100 idle sockets (reopening any the server
//!    closes); an API call is timed [`SIEGE`] into the attack.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::process::{Server, TempDir};
use super::{build_servers, Binaries};
use crate::{section, Ctx, Result};

const WAVE_CLIENTS: usize = 128;
const WAVE: Duration = Duration::from_secs(20);
const PROBE_EVERY: Duration = Duration::from_millis(250);
const IDLE_SOCKETS: usize = 1_100;
const SIEGE: Duration = Duration::from_secs(60);

/// Prints its own report: it has no peer, so it adds nothing to the table.
pub(super) fn bench_attack(ctx: &Ctx, _table: &mut super::Table) -> Result {
    let bins = build_servers(ctx)?;
    let tmp = TempDir::new("tfa-attack")?;
    let wave = login_wave(&bins, &tmp)?;
    let siege = idle_siege(&bins, &tmp)?;
    section(&format!("tfa under attack, {}", super::today()));
    println!(
        "bad-login wave: {WAVE_CLIENTS} clients for {WAVE:?}, throttling raised out of the way"
    );
    println!("  attempts answered            {}", wave.answered);
    println!("  refused at once (503 busy)   {}", wave.busy);
    println!(
        "  resident memory before       {} MiB",
        wave.rss_before / 1024
    );
    println!(
        "  peak resident memory         {} MiB (target < 256 MiB)",
        wave.rss_peak / 1024
    );
    println!(
        "  resident memory after        {} MiB",
        wave.rss_after / 1024
    );
    println!(
        "  slowest API-token call       {} ms (target < 1000 ms), {} calls",
        wave.probe_max.as_millis(),
        wave.probes
    );
    println!("idle-socket siege: nofile=1024, {IDLE_SOCKETS} idle sockets held and reopened");
    println!("  sockets the attacker held    {}", siege.held);
    println!(
        "  API call {SIEGE:?} in          {} ms, status {} (target < 5000 ms)",
        siege.took.as_millis(),
        siege.status
    );
    Ok(())
}

struct Wave {
    answered: u64,
    busy: u64,
    rss_before: u64,
    rss_peak: u64,
    rss_after: u64,
    probe_max: Duration,
    probes: u64,
}

fn start(
    bins: &Binaries,
    tmp: &TempDir,
    name: &str,
    prlimit: &[&str],
    extra: &[&str],
) -> Result<Server> {
    let data = tmp.0.join(name);
    let mut c = if prlimit.is_empty() {
        Command::new(&bins.tfa)
    } else {
        let mut c = Command::new("prlimit");
        c.args(prlimit).arg("--").arg(&bins.tfa);
        c
    };
    c.arg("--data")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0"]);
    c.args(extra).env("RUST_LOG", "warn");
    Server::start("tfa serve", c, &tmp.0.join(format!("{name}.log")))
}

fn token(bins: &Binaries, tmp: &TempDir, name: &str) -> Result<String> {
    let out = Command::new(&bins.tfa)
        .arg("--data")
        .arg(tmp.0.join(name))
        .args(["token", "create", "demo"])
        .output()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .map(|t| t.trim().to_owned())
        .filter(|t| out.status.success() && !t.is_empty())
        .ok_or_else(|| "tfa token create failed".into())
}

/// One HTTP/1.1 request on a fresh connection; the status (0 when there was no answer).
fn http(addr: &str, request: &str, timeout: Duration) -> u16 {
    let Ok(addr) = addr.parse::<SocketAddr>() else {
        return 0;
    };
    let Ok(mut s) = TcpStream::connect_timeout(&addr, timeout) else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(timeout));
    if s.write_all(request.as_bytes()).is_err() {
        return 0;
    }
    let mut head = [0u8; 12];
    match s.read_exact(&mut head) {
        Ok(()) => std::str::from_utf8(&head[9..12])
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(0),
        Err(_) => 0,
    }
}

fn api_call(addr: &str, token: &str) -> (u16, Duration) {
    let started = Instant::now();
    let status = http(
        addr,
        &format!(
            "GET /execute/TwoFactorAuth/get_user_configuration HTTP/1.1\r\nHost: x\r\n\
             Authorization: cpanel demo:{token}\r\nConnection: close\r\n\r\n"
        ),
        Duration::from_secs(30),
    );
    (status, started.elapsed())
}

/// Resident memory of a process in KiB (`VmRSS`), or its peak (`VmHWM`).
fn memory_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn login_wave(bins: &Binaries, tmp: &TempDir) -> Result<Wave> {
    println!("bench: bad-login wave ({WAVE_CLIENTS} clients, {WAVE:?})");
    let relaxed = [
        "--password-limit-user",
        "1000000",
        "--password-limit-ip",
        "1000000",
    ];
    let server = start(bins, tmp, "wave", &[], &relaxed)?;
    let token = token(bins, tmp, "wave")?;
    let pid = server.pid();
    // Warm up every hashing worker (each keeps its one memory block set), so "before" is the
    // steady state of a server that has checked passwords.
    let warm: Vec<_> = (0..8)
        .map(|i| {
            let addr = server.addr.clone();
            std::thread::spawn(move || {
                http(
                    &addr,
                    &login_request(&format!("warm-up-{i}")),
                    Duration::from_secs(30),
                )
            })
        })
        .collect();
    for w in warm {
        let _ = w.join();
    }
    std::thread::sleep(Duration::from_millis(500));
    let rss_before = memory_kib(pid, "VmRSS:");
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let busy = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for i in 0..WAVE_CLIENTS {
        let (stop, answered, busy, addr) = (
            Arc::clone(&stop),
            Arc::clone(&answered),
            Arc::clone(&busy),
            server.addr.clone(),
        );
        clients.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match http(
                    &addr,
                    &login_request(&format!("wrong-{i}")),
                    Duration::from_secs(30),
                ) {
                    0 => {}
                    503 => {
                        busy.fetch_add(1, Ordering::Relaxed);
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    let started = Instant::now();
    let (mut probe_max, mut probes) = (Duration::ZERO, 0);
    while started.elapsed() < WAVE {
        let (status, took) = api_call(&server.addr, &token);
        if status != 200 {
            return Err(format!("the API call during the wave answered {status}").into());
        }
        probe_max = probe_max.max(took);
        probes += 1;
        std::thread::sleep(PROBE_EVERY);
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.join();
    }
    let rss_peak = memory_kib(pid, "VmHWM:");
    std::thread::sleep(Duration::from_secs(2));
    let rss_after = memory_kib(pid, "VmRSS:");
    Ok(Wave {
        answered: answered.load(Ordering::Relaxed),
        busy: busy.load(Ordering::Relaxed),
        rss_before,
        rss_peak,
        rss_after,
        probe_max,
        probes,
    })
}

fn login_request(password: &str) -> String {
    let body = format!("user=demo&pass={password}");
    format!(
        "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

struct Siege {
    held: usize,
    status: u16,
    took: Duration,
}

fn idle_siege(bins: &Binaries, tmp: &TempDir) -> Result<Siege> {
    println!("bench: idle-socket siege (nofile=1024, {IDLE_SOCKETS} sockets, {SIEGE:?})");
    let server = start(bins, tmp, "siege", &["--nofile=1024:1024"], &[])?;
    let token = token(bins, tmp, "siege")?;
    let addr: SocketAddr = server.addr.parse()?;
    let stop = Arc::new(AtomicBool::new(false));
    let held = Arc::new(AtomicU64::new(0));
    // The attacker: keeps IDLE_SOCKETS connections open, reopening any the server closes.
    let attacker = {
        let (stop, held) = (Arc::clone(&stop), Arc::clone(&held));
        std::thread::spawn(move || {
            let mut sockets: Vec<Option<TcpStream>> = (0..IDLE_SOCKETS).map(|_| None).collect();
            let mut probe = [0u8; 1];
            while !stop.load(Ordering::Relaxed) {
                let mut open = 0;
                for slot in sockets.iter_mut() {
                    let closed = match slot {
                        Some(s) => {
                            let _ = s.set_nonblocking(true);
                            matches!(s.peek(&mut probe), Ok(0))
                                || matches!(s.peek(&mut probe), Err(ref e) if e.kind() != std::io::ErrorKind::WouldBlock)
                        }
                        None => true,
                    };
                    if closed {
                        *slot = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok();
                    }
                    if slot.is_some() {
                        open += 1;
                    }
                }
                held.store(open, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    std::thread::sleep(SIEGE);
    let (status, took) = api_call(&server.addr, &token);
    stop.store(true, Ordering::Relaxed);
    let _ = attacker.join();
    Ok(Siege {
        held: usize::try_from(held.load(Ordering::Relaxed)).unwrap_or(0),
        status,
        took,
    })
}
