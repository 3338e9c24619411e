//! Several `tfa serve` on one PostgreSQL database, clients spreading their requests over them:
//! one code used once across all of them, one wrong-code budget for an identity across all of
//! them, a session made on one valid on the others and ended everywhere by a logout on any,
//! and a `kill -9` of one while enrollments are in flight on all three that loses no
//! acknowledged write and never stops the other two from answering.
//!
//! Every instance gets its own data directory and the same `--key-file` (made by the first
//! CLI command on the empty database); the CLI gets the same `--database` and key file, so
//! accounts, tokens, the policy, the audit log and the export are those of the shared store.
//! API tokens carry the calls where passwords are not the point (no argon2 per request).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tfa_e2e::{now, tfa_ok, PgCluster, Server, ServerOptions};
use tfa_testkit::{code, form, read_json, Reply};

use crate::http::Http;

/// Instances sharing the database.
const INSTANCES: usize = 3;

/// A PostgreSQL cluster, the shared key file, and `INSTANCES` servers on one database.
struct Farm {
    servers: Vec<Server>,
    url: String,
    key: PathBuf,
    /// The CLI's own data directory (nothing is kept there: the store is the database).
    cli_data: PathBuf,
    tmp: tempfile::TempDir,
    _pg: PgCluster,
}

impl Farm {
    /// A cluster and the CLI's options; `setup` runs before the servers start (accounts,
    /// tokens), so the first CLI command makes the key file and the store.
    fn start(setup: impl FnOnce(&Farm)) -> Farm {
        let pg = PgCluster::start();
        let tmp = tempfile::tempdir().unwrap();
        let mut farm = Farm {
            servers: Vec::new(),
            url: pg.url("postgres"),
            key: tmp.path().join("shared.key"),
            cli_data: tmp.path().join("cli"),
            tmp,
            _pg: pg,
        };
        setup(&farm);
        assert!(
            farm.key.exists(),
            "the first CLI command makes the key file"
        );
        farm.servers = (0..INSTANCES)
            .map(|i| {
                Server::start(ServerOptions {
                    data_dir: Some(farm.tmp.path().join(format!("instance{i}"))),
                    args: farm.shared_args(),
                    ..ServerOptions::default()
                })
            })
            .collect();
        farm
    }

    /// A farm with one cPanel account of that password, and `Authorization` with a token of it.
    fn with_account(name: &str, password: &str) -> (Farm, String) {
        let mut auth = String::new();
        let farm = Farm::start(|f| {
            f.add_account(name, password);
            auth = f.token_auth(name);
        });
        (farm, auth)
    }

    /// `--database URL --key-file KEY`.
    fn shared_args(&self) -> Vec<String> {
        vec![
            "--database".into(),
            self.url.clone(),
            "--key-file".into(),
            self.key.to_str().unwrap().into(),
        ]
    }

    /// `tfa --database URL --key-file KEY ARGS…` (asserting success): stdout.
    fn cli(&self, args: &[&str], stdin: Option<&str>) -> String {
        let shared = self.shared_args();
        let mut all: Vec<&str> = shared.iter().map(String::as_str).collect();
        all.extend_from_slice(args);
        tfa_ok(&self.cli_data, &all, stdin)
    }

    fn add_account(&self, name: &str, password: &str) {
        self.cli(
            &["account", "add", name, "--password-stdin"],
            Some(&format!("{password}\n")),
        );
    }

    /// `Authorization: cpanel NAME:TOKEN` for a new token of `name`.
    fn token_auth(&self, name: &str) -> String {
        let out = self.cli(&["token", "create", name], None);
        format!("cpanel {name}:{}", out.lines().last().unwrap().trim())
    }

    /// The audit log's rows: (event, identity).
    fn audit(&self) -> Vec<(String, String)> {
        self.cli(&["audit"], None)
            .lines()
            .map(|l| {
                let cols: Vec<&str> = l.split('\t').collect();
                (cols[1].to_owned(), cols[2].to_owned())
            })
            .collect()
    }

    /// `tfa export-cpanel` of the shared store: user → secret.
    fn exported_secrets(&self) -> BTreeMap<String, String> {
        let out = tempfile::tempdir().unwrap();
        self.cli(&["export-cpanel", out.path().to_str().unwrap()], None);
        let json = read_json(&out.path().join("tfa_userdata.json"));
        json.as_object()
            .unwrap()
            .iter()
            .filter_map(|(user, v)| Some((user.clone(), v["secret"].as_str()?.to_owned())))
            .collect()
    }

    /// `base_url + path` of instance `i` (modulo the instance count).
    fn url(&self, i: usize, path: &str) -> String {
        self.servers[i % INSTANCES].url(path)
    }

    fn base_urls(&self) -> Vec<String> {
        self.servers.iter().map(|s| s.base_url.clone()).collect()
    }
}

const GENERATE: &str = "/execute/TwoFactorAuth/generate_user_configuration";

fn set_path(secret: &str, token: &str) -> String {
    format!("/execute/TwoFactorAuth/set_user_configuration?secret={secret}&tfa_token={token}")
}

const GET_CONFIG: &str = "/execute/TwoFactorAuth/get_user_configuration";

/// A UAPI answer's `errors`, joined.
fn errors(r: &Reply) -> String {
    r.json()["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// Runs `f(i)` in `n` threads released together; the answers in thread order.
fn all_at_once<T: Send + 'static>(
    n: usize,
    f: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let barrier = Arc::new(Barrier::new(n));
    let f = Arc::new(f);
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (barrier, f) = (barrier.clone(), f.clone());
            std::thread::spawn(move || {
                barrier.wait();
                f(i)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn one_code_is_accepted_once_across_three_instances() {
    let (farm, auth) = Farm::with_account("rosa", "rosa-password-7");
    let http = Http::new();
    let secret = http.get(&farm.url(0, GENERATE), &auth).data_str("secret");
    let token = code(&secret, now());
    let urls: Vec<String> = (0..32)
        .map(|i| farm.url(i, &set_path(&secret, &token)))
        .collect();
    let auth2 = auth.clone();
    let replies = all_at_once(32, move |i| Http::new().get(&urls[i], &auth2));
    let mut accepted = 0;
    for (i, r) in replies.iter().enumerate() {
        assert!(
            r.status < 500,
            "instance {}: {} {}",
            i % INSTANCES,
            r.status,
            r.text
        );
        match r.json()["status"].as_i64() {
            Some(1) => accepted += 1,
            _ => {
                let why = format!("{} {}", errors(r), r.json()["warnings"]);
                assert!(
                    why.contains("The security code is invalid.")
                        && why.contains("already been used"),
                    "a refusal other than a replay: {} {}",
                    r.status,
                    r.text
                );
            }
        }
    }
    assert_eq!(accepted, 1, "one code, one enrollment across the instances");
    // Every instance sees the one enrollment, with the secret that was sent.
    for i in 0..INSTANCES {
        let r = http.get(&farm.url(i, GET_CONFIG), &auth);
        assert_eq!(
            r.json()["data"]["is_enabled"],
            1,
            "instance {i}: {}",
            r.text
        );
    }
    assert_eq!(farm.exported_secrets().get("rosa"), Some(&secret));
}

/// Wrong codes an identity may send before it is locked out (the documented limit).
const CODE_BUDGET: usize = 5;

#[test]
fn wrong_codes_share_one_budget_across_three_instances() {
    let (farm, auth) = Farm::with_account("gus", "gus-password-7");
    let http = Http::new();
    let secret = http.get(&farm.url(1, GENERATE), &auth).data_str("secret");
    let t = now();
    let near: Vec<String> = (0..=4).map(|k| code(&secret, t + k * 30 - 60)).collect();
    let wrong = ["000000", "111111", "222222", "333333", "444444", "555555"]
        .into_iter()
        .find(|c| !near.iter().any(|n| n == c))
        .unwrap();
    let urls: Vec<String> = (0..64)
        .map(|i| farm.url(i, &set_path(&secret, wrong)))
        .collect();
    let auth2 = auth.clone();
    let replies = all_at_once(64, move |i| Http::new().get(&urls[i], &auth2));
    let (mut evaluated, mut locked) = (0, 0);
    for (i, r) in replies.iter().enumerate() {
        assert!(
            r.status < 500,
            "instance {}: {} {}",
            i % INSTANCES,
            r.status,
            r.text
        );
        assert_ne!(r.json()["status"], 1, "a wrong code accepted: {}", r.text);
        let why = errors(r);
        if why.contains("Too many invalid security codes.") {
            assert_eq!(r.status, 429, "a lockout is 429: {}", r.text);
            assert!(r.headers.contains_key("retry-after"), "{:?}", r.headers);
            locked += 1;
        } else {
            assert!(
                why.contains("The security code is invalid."),
                "neither wrong nor locked: {} {}",
                r.status,
                r.text
            );
            evaluated += 1;
        }
    }
    let failed = farm
        .audit()
        .iter()
        .filter(|(event, identity)| event == "failed_code" && identity == "gus")
        .count();
    eprintln!(
        "64 wrong codes: {evaluated} evaluated, {locked} refused as locked; {failed} audited"
    );
    // The identity's budget is five wrong codes, whichever instances judge them: the five
    // are judged (none locks early), the 59 others are refused unjudged.
    assert_eq!(
        evaluated, CODE_BUDGET,
        "{evaluated} wrong codes judged across the instances"
    );
    assert_eq!(failed, evaluated, "each judged wrong code is audited");
    assert_eq!(evaluated + locked, 64);
    // The right code now: still locked, on every instance.
    for i in 0..INSTANCES {
        let r = http.get(
            &farm.url(i, &set_path(&secret, &code(&secret, now()))),
            &auth,
        );
        assert!(r.status < 500, "{} {}", r.status, r.text);
        assert_ne!(r.json()["status"], 1, "instance {i}: {}", r.text);
        assert!(
            errors(&r).contains("Too many invalid security codes."),
            "instance {i}: {} {}",
            r.status,
            r.text
        );
    }
    let r = http.get(&farm.url(2, GET_CONFIG), &auth);
    assert_eq!(r.json()["data"]["is_enabled"], 0, "{}", r.text);
}

/// (cookie, `/cpsessNNNNNNNNNN/`) of a login answered with the redirect.
fn session_of(r: &Reply) -> (String, String) {
    assert_eq!(r.status, 302, "{}", r.text);
    let location = r.headers["location"].clone();
    assert!(location.starts_with("/cpsess"), "{location}");
    (r.cookie(), location)
}

#[test]
fn a_session_made_on_one_instance_lives_and_ends_on_all() {
    let (farm, auth) = Farm::with_account("ines", "ines-password-7");
    let http = Http::new();
    // Enrolled on C, the policy on: a login owes a code.
    let secret = http.get(&farm.url(2, GENERATE), &auth).data_str("secret");
    let r = http.get(
        &farm.url(2, &set_path(&secret, &code(&secret, now()))),
        &auth,
    );
    assert_eq!(r.json()["status"], 1, "{}", r.text);
    farm.cli(&["whmapi1", "twofactorauth_enable_policy"], None);
    let login = |i: usize, token: Option<&str>| {
        let mut pairs = vec![("user", "ines"), ("pass", "ines-password-7")];
        if let Some(t) = token {
            pairs.push(("tfa_token", t));
        }
        http.send(
            "POST",
            &farm.url(i, "/login"),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(&form(&pairs)),
        )
    };
    let r = login(0, None);
    assert!(
        r.status == 200 && r.text.contains("id=\"tfa_login_form\""),
        "the password alone is not enough: {} {}",
        r.status,
        r.text
    );
    // The enrollment used this step (on C); A takes the next step's code.
    let (cookie, cpsess) = session_of(&login(0, Some(&code(&secret, now() + 30))));
    let call = |i: usize| {
        http.send(
            "GET",
            &farm.url(
                i,
                &format!("{cpsess}{}", GET_CONFIG.trim_start_matches('/')),
            ),
            &[("Cookie", &cookie), ("Accept", "application/json")],
            None,
        )
    };
    for i in 0..INSTANCES {
        let r = call(i);
        assert_eq!(r.status, 200, "instance {i}: {}", r.text);
        assert_eq!(
            r.json()["data"]["is_enabled"],
            1,
            "instance {i}: {}",
            r.text
        );
    }
    // Logout on B.
    let r = http.send("GET", &farm.url(1, "/logout"), &[("Cookie", &cookie)], None);
    assert!(
        (300..400).contains(&r.status),
        "logout: {} {}",
        r.status,
        r.text
    );
    for i in 0..INSTANCES {
        let r = call(i);
        assert_eq!(
            r.status, 401,
            "instance {i} after the logout on B: {}",
            r.text
        );
        assert_eq!(r.json()["status"], 0, "instance {i}: {}", r.text);
    }
}

/// Accounts enrolled once each in the kill test.
const USERS: usize = 60;
/// Client threads sending them.
const CLIENTS: usize = 12;
/// The instance killed.
const VICTIM: usize = 0;

/// What the clients of the kill test saw.
#[derive(Default)]
struct Seen {
    /// (user, secret) acknowledged (status 1).
    acked: Vec<(String, String)>,
    /// (user, secret) sent to `set_user_configuration`.
    tried: Vec<(String, String)>,
    /// Requests to a surviving instance without an HTTP answer, or with a refusal.
    survivor_failures: Vec<String>,
    /// Requests the victim left unanswered.
    victim_cut: usize,
    /// Requests to a survivor sent after the kill.
    survivor_after_kill: usize,
}

#[test]
fn kill_9_of_one_instance_loses_no_acknowledged_write_and_the_others_answer() {
    let users: Vec<String> = (0..USERS).map(|i| format!("mi{i:03}")).collect();
    let mut auths: Vec<String> = Vec::new();
    let started = Instant::now();
    let farm = Farm::start(|f| {
        // The first account makes the store and the key file; the rest two at a time (each
        // is an argon2 hash).
        f.add_account(&users[0], &format!("{}-password", users[0]));
        std::thread::scope(|s| {
            for half in users[1..].chunks(USERS.div_ceil(2)) {
                s.spawn(move || {
                    for u in half {
                        f.add_account(u, &format!("{u}-password"));
                    }
                });
            }
        });
        auths = users.iter().map(|u| f.token_auth(u)).collect();
    });
    eprintln!(
        "kill test: accounts and servers ready in {:?}",
        started.elapsed()
    );
    let bases = farm.base_urls();
    let victim_pid = farm.servers[VICTIM].pid();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let killed = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (users, auths, bases, seen, killed, next) = (
                users.clone(),
                auths.clone(),
                bases.clone(),
                seen.clone(),
                killed.clone(),
                next.clone(),
            );
            std::thread::spawn(move || {
                let http = Http::new();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(user) = users.get(i) else { return };
                    let instance = i % INSTANCES;
                    // An answer with status 1, else None; a survivor's failure is recorded.
                    let call = |path: String| -> Option<Reply> {
                        let after_kill = killed.load(Ordering::SeqCst);
                        let r = http.try_send(
                            "GET",
                            &format!("{}{path}", bases[instance]),
                            &[("Authorization", &auths[i])],
                            None,
                        );
                        let mut s = seen.lock().unwrap();
                        if instance == VICTIM {
                            if r.is_err() {
                                s.victim_cut += 1;
                            }
                        } else {
                            if after_kill {
                                s.survivor_after_kill += 1;
                            }
                            match &r {
                                Err(e) => s
                                    .survivor_failures
                                    .push(format!("{user} on instance {instance}: {e}")),
                                Ok(r) if r.status != 200 || r.json()["status"] != 1 => {
                                    s.survivor_failures.push(format!(
                                        "{user} on instance {instance}: {} {}",
                                        r.status, r.text
                                    ))
                                }
                                Ok(_) => {}
                            }
                        }
                        r.ok()
                            .filter(|r| r.status == 200 && r.json()["status"] == 1)
                    };
                    let Some(r) = call(GENERATE.to_owned()) else {
                        continue;
                    };
                    let secret = r.data_str("secret");
                    seen.lock()
                        .unwrap()
                        .tried
                        .push((user.clone(), secret.clone()));
                    if call(set_path(&secret, &code(&secret, now()))).is_some() {
                        seen.lock().unwrap().acked.push((user.clone(), secret));
                    }
                }
            })
        })
        .collect();
    // Kill once a third is acknowledged: the rest are queued or in flight on all three.
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.lock().unwrap().acked.len() < USERS / 3 {
        assert!(Instant::now() < deadline, "enrollments too slow to start");
        std::thread::sleep(Duration::from_millis(1));
    }
    killed.store(true, Ordering::SeqCst);
    let status = std::process::Command::new("kill")
        .args(["-9", &victim_pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for c in clients {
        c.join().unwrap();
    }
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    eprintln!(
        "kill -9 of instance {VICTIM} after {} of {USERS} acknowledged: {} acknowledged in all, \
         {} requests cut off on it, {} sent to the others after the kill",
        USERS / 3,
        seen.acked.len(),
        seen.victim_cut,
        seen.survivor_after_kill
    );
    assert!(
        seen.survivor_failures.is_empty(),
        "the surviving instances failed to answer: {:#?}",
        seen.survivor_failures
    );
    assert!(
        seen.victim_cut > 0,
        "the kill came after the victim's last request"
    );
    assert!(
        seen.survivor_after_kill > 0,
        "no request reached the survivors after the kill"
    );

    // Afterwards: every acknowledged secret is in the shared store, as acknowledged, and the
    // survivors (each asked about every acknowledged user, wherever it enrolled) answer.
    let http = Http::new();
    let auth_of = |user: &str| &auths[users.iter().position(|u| u == user).unwrap()];
    let survivors: Vec<usize> = (0..INSTANCES).filter(|&i| i != VICTIM).collect();
    for (k, (user, _)) in seen.acked.iter().enumerate() {
        let url = farm.url(survivors[k % survivors.len()], GET_CONFIG);
        let r = http
            .try_send("GET", &url, &[("Authorization", auth_of(user))], None)
            .unwrap_or_else(|e| panic!("a survivor did not answer after the kill: {e}"));
        assert_eq!(r.json()["data"]["is_enabled"], 1, "{user}: {}", r.text);
    }
    let stored = farm.exported_secrets();
    for (user, secret) in &seen.acked {
        assert_eq!(
            stored.get(user),
            Some(secret),
            "{user}'s acknowledged enrollment"
        );
    }
    // Anything else stored is a whole enrollment a client sent (cut off before its answer).
    for (user, secret) in &stored {
        assert!(
            seen.tried.iter().any(|(u, s)| u == user && s == secret),
            "{user} holds a secret nobody sent"
        );
    }
}
