//! Durability: `kill -9` of the real server while enrollments are in flight. Every
//! enrollment the server acknowledged (status 1) is in the store after a restart, with the
//! secret it acknowledged; the ones cut off are either absent or whole. The store answers as
//! before (`Store::open` recovers the WAL), so nothing acknowledged lives only in memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tfa_e2e::{add_account, data_dir, now, tfa_ok, Server, ServerOptions};
use tfa_testkit::{basic, code};

use crate::http::Http;

/// Accounts, each enrolled once (a user can enroll once per 30 s step: replays are refused).
const USERS: usize = 96;
/// Client threads sending the enrollments.
const CLIENTS: usize = 16;

#[test]
fn kill_9_during_concurrent_enrollments_loses_no_acknowledged_write() {
    let (_t, data) = data_dir();
    let users: Vec<String> = (0..USERS).map(|i| format!("dur{i:03}")).collect();
    for u in &users {
        add_account(&data, u, &format!("{u}-password"), &[]);
    }
    let server = Server::start(ServerOptions::with_data_dir(&data));
    let base = server.base_url.clone();
    let pid = server.pid();
    // (user, secret) per acknowledged enrollment; (user, secret) per attempt.
    let acked = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let tried = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let next = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (users, acked, tried, next, base) = (
                users.clone(),
                acked.clone(),
                tried.clone(),
                next.clone(),
                base.clone(),
            );
            std::thread::spawn(move || {
                let http = Http::new();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(user) = users.get(i) else { return };
                    let auth = basic(user, &format!("{user}-password"));
                    let call = |url: String| {
                        http.try_send("GET", &url, &[("Authorization", &auth)], None)
                            .ok()
                            .filter(|r| r.status == 200)
                    };
                    // No answer: the server is gone.
                    let Some(r) = call(format!(
                        "{base}/execute/TwoFactorAuth/generate_user_configuration"
                    )) else {
                        return;
                    };
                    let secret = r.data_str("secret");
                    tried.lock().unwrap().push((user.clone(), secret.clone()));
                    let answer = call(format!(
                        "{base}/execute/TwoFactorAuth/set_user_configuration?secret={secret}&tfa_token={}",
                        code(&secret, now())
                    ));
                    match answer {
                        Some(r) if r.json()["status"] == 1 => {
                            acked.lock().unwrap().push((user.clone(), secret));
                        }
                        Some(r) => panic!("{user}: {}", r.text),
                        None => return,
                    }
                }
            })
        })
        .collect();
    // Kill once a third is acknowledged: the rest are queued, hashing or being written.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < USERS / 3 {
        assert!(Instant::now() < deadline, "enrollments too slow to start");
        std::thread::sleep(Duration::from_millis(2));
    }
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for c in clients {
        c.join().unwrap();
    }
    drop(server);
    let acked = acked.lock().unwrap().clone();
    let tried = tried.lock().unwrap().clone();
    assert!(
        acked.len() < USERS,
        "the kill came after every enrollment: nothing was in flight"
    );

    // After a restart (the CLI opens the same store), every acknowledged secret is there.
    let out = tfa_ok(
        &data,
        &["whmapi1", "--output=json", "twofactorauth_get_user_configs"],
        None,
    );
    let configs: serde_json::Value = serde_json::from_str(&out).unwrap();
    let enrolled: Vec<&str> = configs["data"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| v["is_enabled"] == 1)
        .map(|(k, _)| k.as_str())
        .collect();
    let exported = tfa_e2e::export(&data);
    let secrets = tfa_testkit::read_json(&exported.path().join("tfa_userdata.json"));
    for (user, secret) in &acked {
        assert!(
            enrolled.contains(&user.as_str()),
            "{user} acknowledged, then lost"
        );
        assert_eq!(
            secrets[user]["secret"], *secret,
            "{user}'s acknowledged secret"
        );
    }
    // Anything else stored is a whole enrollment the client sent (cut off before its answer).
    for user in &enrolled {
        let stored = secrets[*user]["secret"].as_str().unwrap();
        assert!(
            tried.iter().any(|(u, s)| u == user && s == stored),
            "{user} holds a secret nobody sent"
        );
    }
    eprintln!(
        "kill -9 after {} of {USERS} acknowledged; {} stored",
        acked.len(),
        enrolled.len()
    );
}
