//! Password guessing against the real server: wrong Basic-auth and `/login` passwords lock the
//! name (and the client address) even for the right password, the lock survives a restart,
//! `tfa serve` options change the limits; a wave of bad logins beyond the hashing queue gets
//! fast 503s while an API-token call is still answered; a password typed into the user field
//! reaches neither the audit log nor the server log; the audit log keeps to its row limit.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use tfa_e2e::{
    add_account, assert_nothing_leaked, create_token, data_dir, tfa_ok, Server, ServerOptions,
};
use tfa_testkit::{basic, form, Reply};

use crate::http::Http;

const GET_CONFIG: &str = "/execute/TwoFactorAuth/get_user_configuration";
const LOCKED_PREFIX: &str = "Too many failed logins. Try again in ";

fn server_with(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
    Server::start(ServerOptions {
        data_dir: Some(data.to_path_buf()),
        args: args.iter().map(|s| s.to_string()).collect(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..ServerOptions::default()
    })
}

fn basic_get(http: &Http, server: &Server, user: &str, pass: &str) -> Reply {
    http.get(&server.url(GET_CONFIG), &basic(user, pass))
}

fn login(http: &Http, server: &Server, user: &str, pass: &str) -> Reply {
    http.send(
        "POST",
        &server.url("/login"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&form(&[("user", user), ("pass", pass)])),
    )
}

/// A UAPI refusal's one error.
fn error_of(r: &Reply) -> String {
    r.json()["errors"][0]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Asserts a lockout answer: 429, the clear message, and `Retry-After` within the lock.
fn assert_locked(r: &Reply, max_secs: u64) {
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(error_of(r).starts_with(LOCKED_PREFIX), "{}", r.text);
    let retry: u64 = r.headers["retry-after"].parse().unwrap();
    assert!((1..=max_secs).contains(&retry), "Retry-After: {retry}");
}

/// `tfa audit`'s rows of this event, as (identity, ip, detail).
fn audit_rows(data: &Path, event: &str) -> Vec<(String, String, String)> {
    tfa_ok(data, &["audit"], None)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.get(1) == Some(&event)).then(|| (f[2].to_owned(), f[3].to_owned(), f[4].to_owned()))
        })
        .collect()
}

#[test]
fn a_hundred_wrong_basic_passwords_then_the_right_one_is_refused_and_the_lock_survives_a_restart() {
    let (_t, data) = data_dir();
    add_account(&data, "pat", "pat-password-1", &[]);
    add_account(&data, "sam", "sam-password-2", &[]);
    let server = server_with(&data, &[], &[]);
    let http = Http::new();
    let mut statuses = BTreeMap::new();
    for i in 0..100 {
        let r = basic_get(&http, &server, "pat", &format!("guess-{i:03}"));
        *statuses.entry(r.status).or_insert(0) += 1;
        if r.status == 429 {
            assert_locked(&r, 900);
        }
    }
    // Ten guesses were judged; the other 90 were refused before any hash.
    assert_eq!(statuses, BTreeMap::from([(401, 10), (429, 90)]));
    let r = basic_get(&http, &server, "pat", "pat-password-1");
    assert_locked(&r, 900);
    assert_eq!(
        error_of(&r),
        "Too many failed logins. Try again in 15 minutes."
    );
    // /login shares the lock.
    let r = login(&http, &server, "pat", "pat-password-1");
    assert_eq!(r.status, 429);
    assert!(r.text.contains("Too many failed logins."), "{}", r.text);
    assert!(r.headers.contains_key("retry-after"));
    // Another name from the same address is not locked (10 failures of 30).
    let r = basic_get(&http, &server, "sam", "sam-password-2");
    assert_eq!(r.status, 200, "{}", r.text);
    // Every judged Basic-auth failure, and the lockout, is in the audit log.
    let failed = audit_rows(&data, "failed_basic_auth");
    assert_eq!(failed.len(), 10, "{failed:?}");
    assert!(failed.iter().all(|(who, ip, detail)| who == "pat"
        && ip == "127.0.0.1"
        && detail == "wrong user name or password"));
    let lockouts = audit_rows(&data, "lockout");
    assert_eq!(
        lockouts,
        vec![(
            "pat".to_owned(),
            "127.0.0.1".to_owned(),
            "too many wrong passwords for this identity".to_owned()
        )]
    );
    let stopped = server.stop();
    assert!(stopped.status.success());
    assert_nothing_leaked(
        &stopped.log,
        &["pat-password-1".to_owned(), "guess-042".to_owned()],
    );
    // The lock is in the store: it holds after a restart.
    let server = server_with(&data, &[], &[]);
    assert_locked(&basic_get(&http, &server, "pat", "pat-password-1"), 900);
    let r = basic_get(&http, &server, "sam", "sam-password-2");
    assert_eq!(r.status, 200, "{}", r.text);
    server.stop();
}

#[test]
fn unknown_names_count_against_the_address_and_options_change_the_limits() {
    let (_t, data) = data_dir();
    add_account(&data, "pat", "pat-password-1", &[]);
    add_account(&data, "sam", "sam-password-2", &[]);
    // The per-name limit from the environment, the others from options.
    let server = server_with(
        &data,
        &[
            "--password-limit-ip",
            "6",
            "--password-window",
            "600",
            "--password-lock",
            "120",
        ],
        &[("TFA_PASSWORD_LIMIT_USER", "3")],
    );
    let http = Http::new();
    for _ in 0..3 {
        assert_eq!(basic_get(&http, &server, "pat", "wrong-pw").status, 401);
    }
    let r = basic_get(&http, &server, "pat", "pat-password-1");
    assert_locked(&r, 120);
    assert_eq!(
        error_of(&r),
        "Too many failed logins. Try again in 2 minutes."
    );
    assert_eq!(
        basic_get(&http, &server, "sam", "sam-password-2").status,
        200
    );
    // Names that match nobody, one of them a password typed into the user field, count
    // against the address: 3 + 3 = 6 locks it, for every name.
    let typed = "Sup3r-Secret-typed-as-the-user";
    let r = login(&http, &server, typed, "whatever-1");
    assert_eq!(r.status, 401);
    assert!(r.text.contains("The login is invalid."));
    assert_eq!(basic_get(&http, &server, "ghost1", "wrong-pw").status, 401);
    assert_eq!(basic_get(&http, &server, typed, "wrong-pw").status, 401);
    let r = basic_get(&http, &server, "sam", "sam-password-2");
    assert_locked(&r, 120);
    let r = login(&http, &server, "sam", "sam-password-2");
    assert_eq!(r.status, 429, "{}", r.text);
    // The typed text is in neither the audit log nor the server log; the audit log names it
    // by a keyed hash, the same both times it was typed.
    let audit = tfa_ok(&data, &["audit"], None);
    assert!(
        !audit.contains(typed) && !audit.contains("ghost1"),
        "{audit}"
    );
    let unknown: Vec<String> = audit_rows(&data, "failed_login")
        .into_iter()
        .chain(audit_rows(&data, "failed_basic_auth"))
        .map(|(who, _, _)| who)
        .filter(|who| who.starts_with("unknown:"))
        .collect();
    assert_eq!(unknown.len(), 3, "{audit}");
    assert!(unknown.contains(&unknown[0]));
    assert_eq!(
        unknown.iter().filter(|u| **u == unknown[0]).count(),
        2,
        "the typed name's two rows share one label: {unknown:?}"
    );
    let lockouts = audit_rows(&data, "lockout");
    assert_eq!(lockouts.len(), 2, "{lockouts:?}");
    assert_eq!(lockouts[1].2, "too many wrong passwords from this address");
    let stopped = server.stop();
    assert_nothing_leaked(&stopped.log, &[typed.to_owned()]);
    assert!(!stopped.log.contains("ghost1"));
    assert!(stopped.log.contains("password limits"), "{}", stopped.log);
}

#[test]
fn a_wave_of_bad_logins_beyond_the_queue_gets_fast_503s_while_a_token_call_is_answered() {
    let (_t, data) = data_dir();
    add_account(&data, "pat", "pat-password-1", &[]);
    let token = create_token(&data, "pat");
    // One hash at a time and two waiting; limits high enough that nothing locks.
    let server = server_with(
        &data,
        &[
            "--hash-workers",
            "1",
            "--hash-queue",
            "2",
            "--password-limit-user",
            "100000",
            "--password-limit-ip",
            "100000",
        ],
        &[],
    );
    const WAVE: usize = 64;
    let start = Arc::new(Barrier::new(WAVE + 1));
    let base = server.base_url.clone();
    let threads: Vec<_> = (0..WAVE)
        .map(|i| {
            let (start, base) = (start.clone(), base.clone());
            std::thread::spawn(move || {
                let http = Http::new();
                start.wait();
                let began = Instant::now();
                let r = if i % 2 == 0 {
                    http.send(
                        "POST",
                        &format!("{base}/login"),
                        &[("Content-Type", "application/x-www-form-urlencoded")],
                        Some(&form(&[("user", &format!("nobody{i}")), ("pass", "x")])),
                    )
                } else {
                    http.get(&format!("{base}{GET_CONFIG}"), &basic("pat", "wrong-pw"))
                };
                (i, r, began.elapsed())
            })
        })
        .collect();
    let http = Http::new();
    start.wait();
    std::thread::sleep(Duration::from_millis(20));
    let began = Instant::now();
    let r = http.get(&server.url(GET_CONFIG), &format!("cpanel pat:{token}"));
    let token_time = began.elapsed();
    assert_eq!(r.status, 200, "{}", r.text);
    let mut busy = 0;
    for t in threads {
        let (i, r, took) = t.join().unwrap();
        match r.status {
            401 => {}
            503 => {
                busy += 1;
                assert_eq!(r.headers.get("retry-after").map(String::as_str), Some("1"));
                let reason = "The server is busy checking other passwords. Try again in 1 second.";
                if i % 2 == 0 {
                    assert!(r.text.contains(reason), "{}", r.text);
                } else {
                    assert_eq!(error_of(&r), reason);
                }
                // Refused at once, not after waiting: loosely, well under the time a
                // queue of 64 hashes would take.
                assert!(took < Duration::from_secs(5), "a 503 took {took:?}");
            }
            other => panic!("status {other}: {}", r.text),
        }
    }
    assert!(busy >= 8, "only {busy} of {WAVE} were refused");
    assert!(
        token_time < Duration::from_secs(5),
        "the token call took {token_time:?} during the wave"
    );
    // Refused requests were never judged, so they are not counted or audited.
    let judged =
        audit_rows(&data, "failed_login").len() + audit_rows(&data, "failed_basic_auth").len();
    assert_eq!(judged, WAVE - busy);
    server.stop();
}

#[test]
fn the_audit_log_keeps_to_audit_max_rows_across_restarts() {
    let (_t, data) = data_dir();
    let high = [
        "--password-limit-user",
        "100000",
        "--password-limit-ip",
        "100000",
    ];
    let mut args = vec!["--audit-max-rows", "20"];
    args.extend_from_slice(&high);
    let server = server_with(&data, &args, &[]);
    let http = Http::new();
    for i in 0..50 {
        let r = basic_get(&http, &server, &format!("ghost{i}"), "wrong-pw");
        assert_eq!(r.status, 401);
    }
    let rows = tfa_ok(&data, &["audit"], None).lines().count();
    assert_eq!(rows, 20);
    server.stop();
    // A lower limit applies at start.
    let mut args = vec!["--audit-max-rows", "5"];
    args.extend_from_slice(&high);
    let server = server_with(&data, &args, &[]);
    let rows = tfa_ok(&data, &["audit"], None).lines().count();
    assert_eq!(rows, 5);
    assert_eq!(basic_get(&http, &server, "ghost-x", "wrong-pw").status, 401);
    let audit = tfa_ok(&data, &["audit"], None);
    assert_eq!(audit.lines().count(), 5, "{audit}");
    server.stop();
}

/// A figure of the server's `/proc/PID/status` (`VmRSS`, `VmHWM`), in KiB. The server is the
/// `tfa serve` process with `data` on its command line.
fn server_memory_kib(data: &Path, field: &str) -> u64 {
    let needle = data.to_str().unwrap().as_bytes();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if !(args.contains(&needle) && args.contains(&&b"serve"[..])) {
            continue;
        }
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap();
        let line = status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field} in {status}"));
        return line.trim().trim_end_matches("kB").trim().parse().unwrap();
    }
    panic!("no tfa serve process for {}", data.display());
}

/// `n` bad logins at once, half at `/login`, half with Basic auth; their statuses.
fn wave(base: &str, n: usize) -> Vec<u16> {
    let start = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (start, base) = (start.clone(), base.to_owned());
            std::thread::spawn(move || {
                let http = Http::new();
                start.wait();
                if i % 2 == 0 {
                    let body = form(&[("user", &format!("nobody{i}")), ("pass", "x")]);
                    let ct = [("Content-Type", "application/x-www-form-urlencoded")];
                    http.send("POST", &format!("{base}/login"), &ct, Some(&body))
                        .status
                } else {
                    http.get(&format!("{base}{GET_CONFIG}"), &basic("pat", "wrong-pw"))
                        .status
                }
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn memory_stays_bounded_and_returns_after_waves_of_bad_logins() {
    let (_t, data) = data_dir();
    add_account(&data, "pat", "pat-password-1", &[]);
    // Two hashes at a time and room for a whole wave in the queue: every one of the 128
    // bad logins is hashed, the case that took the old server to 3.9 GiB.
    let server = server_with(
        &data,
        &[
            "--hash-workers",
            "2",
            "--hash-queue",
            "128",
            "--password-limit-user",
            "100000",
            "--password-limit-ip",
            "100000",
        ],
        &[],
    );
    let mut after = Vec::new();
    for _ in 0..2 {
        let statuses = wave(&server.base_url, 128);
        assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
        after.push(server_memory_kib(&data, "VmRSS"));
    }
    let peak = server_memory_kib(&data, "VmHWM");
    assert!(peak < 256 * 1024, "peak RSS {peak} KiB");
    // The hashing memory is reused: a second wave adds nothing to speak of.
    assert!(
        after[1] < after[0] + 16 * 1024,
        "RSS after each wave (KiB): {after:?}"
    );
    server.stop();
}
