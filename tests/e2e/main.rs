//! The one end-to-end test binary: the real `tfa serve` process (server.rs, login.rs, over the
//! client in http.rs), its command line (cli.rs), and the enrollment page driven in headless
//! Chromium (browser/), recovery codes included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod abuse_accounts;
mod abuse_network;
mod abuse_passwords;
mod abuse_web;
mod browser;
mod cli;
mod cli_postgres;
mod cpanel_clients;
mod cpanel_login;
mod cpanel_whm;
mod durability;
mod http;
mod login;
mod multi_instance;
mod packages;
mod pg_cluster;
mod pg_outage;
mod pg_tls;
mod recovery;
mod secrets_at_rest;
mod server;
mod tls;

use serde_json::Value;
use tfa_e2e::{add_account, assert_nothing_leaked, tfa_ok, workspace_root, Server, ServerOptions};

/// A server with the built page and one cPanel user of known password.
fn page_server(user: &str, pass: &str) -> (Server, tempfile::TempDir) {
    let www = workspace_root().join("www");
    assert!(
        www.join("pkg/tfa_bg.wasm").exists(),
        "www/pkg is not built: run `cargo xtask build-www` (cargo xtask test does)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    add_account(&data, user, pass, &["--domain", &format!("{user}.example")]);
    let server = Server::start(ServerOptions {
        data_dir: Some(data),
        www: Some(www),
        ..ServerOptions::default()
    });
    (server, tmp)
}

fn whm_configs(server: &Server) -> Value {
    let out = tfa_ok(
        &server.data_dir,
        &["whmapi1", "--output=json", "twofactorauth_get_user_configs"],
        None,
    );
    serde_json::from_str(&out).unwrap()
}

/// The whole enrollment flow in one browser, against its own server.
async fn enrollment_flow_in(engine: browser::Engine, user: &str, pass: &str) {
    let (server, _tmp) = page_server(user, pass);
    browser::in_browser(engine, &server, user, pass, browser::enrollment_flow).await;
    let stopped = server.stop();
    assert!(!stopped.log.contains(pass));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_page_end_to_end_in_chromium() {
    enrollment_flow_in(browser::Engine::Chromium, "alice", "alice-pass-4b7e2c").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_page_end_to_end_in_firefox() {
    enrollment_flow_in(browser::Engine::Firefox, "carol", "carol-pass-5e0f17").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_page_as_a_custom_element_and_accessible() {
    browser::on_page_server("bob", "bob-pass-93d1aa", async |b, t| {
        browser::custom_element(b, t).await;
        browser::accessibility(b, t).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_codes_on_the_page_and_at_login_in_chromium() {
    let (server, _tmp) = page_server("dora", "dora-pass-2c8e41");
    let whmapi1 = |function: &str| {
        let out = tfa_ok(
            &server.data_dir,
            &["whmapi1", "--output=json", function],
            None,
        );
        assert!(out.contains("\"result\":1"), "{out}");
    };
    let codes = browser::in_browser(
        browser::Engine::Chromium,
        &server,
        "dora",
        "dora-pass-2c8e41",
        async |b, t| browser::recovery_codes(b, t, &whmapi1).await,
    )
    .await;
    let stopped = server.stop();
    // Neither the password nor any recovery code, with or without its hyphen, in the log.
    let mut leaked = vec!["dora-pass-2c8e41".to_owned()];
    leaked.extend(codes.iter().map(|c| c.replace('-', "")));
    leaked.extend(codes);
    assert_nothing_leaked(&stopped.log, &leaked);
}
