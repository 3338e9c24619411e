//! A database that goes away under running servers: requests that need it are answered 503
//! with `Retry-After` (a refusal to try again, in cPanel's envelope), never a crash or a hang;
//! the server says why in its log and keeps serving what needs no database.

use std::time::{Duration, Instant};

use tfa_e2e::{data_dir, tfa_ok, PgCluster, Server, ServerOptions};

use crate::http::Http;

#[test]
fn a_lost_database_is_a_503_and_the_server_stays_up() {
    let cluster = PgCluster::start();
    let url = cluster.url("postgres");
    let (_t, data) = data_dir();
    tfa_ok(&data, &["--database", &url, "account", "list"], None);
    let token = {
        let out = tfa_ok(
            &data,
            &["--database", &url, "token", "create", "demo"],
            None,
        );
        out.lines().last().unwrap().trim().to_owned()
    };
    let server = Server::start(ServerOptions {
        args: vec!["--database".into(), url.clone()],
        ..ServerOptions::with_data_dir(&data)
    });
    let http = Http::new();
    let auth = format!("cpanel demo:{token}");
    let status = server.url("/execute/TwoFactorAuth/get_user_configuration");
    assert_eq!(http.get(&status, &auth).status, 200);

    // PostgreSQL stops (immediate shutdown, as a crash would) and its directory goes.
    drop(cluster);
    let started = Instant::now();
    for _ in 0..3 {
        let r = http.get(&status, &auth);
        assert_eq!(r.status, 503, "{}", r.text);
        assert!(r.headers.contains_key("retry-after"), "{:?}", r.headers);
        assert_eq!(r.json()["status"], 0, "{}", r.text);
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "answers took {:?}",
        started.elapsed()
    );
    // What needs no database still works, and the process is alive.
    let login = http.send("GET", &server.url("/login"), &[], None);
    assert_eq!(login.status, 200);
    let stopped = server.stop();
    assert!(
        stopped.log.contains("the database is unavailable"),
        "{}",
        stopped.log
    );
    assert!(!stopped.log.contains("panicked"), "{}", stopped.log);
}
