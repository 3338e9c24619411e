//! Accounts, secrets, sessions and tokens against the real server and its command line:
//! account names follow cPanel's username rules (so no account can take over the system-wide
//! issuer), client-chosen secrets have 16 to 128 base32 characters at every door, a password
//! change ends the login's sessions while the server runs, and API tokens are listed and
//! revoked.

use serde_json::{json, Value};
use tfa_e2e::{
    add_account, assert_nothing_leaked, create_token, data_dir, export, now, set_password, tfa,
    tfa_ok, Server, ServerOptions, HOSTNAME,
};
use tfa_testkit::{code, form, read_json};

use crate::http::Http;

/// The refusal of a chosen secret of `len` characters (without UAPI's function prefix).
fn size_reason(len: usize) -> String {
    format!("The “secret” must have 16 to 128 base32 characters (80 to 640 bits); it has {len}.")
}

/// Base32 text of `len` characters.
fn secret_of(len: usize) -> String {
    "JBSWY3DPEHPK3PXP".chars().cycle().take(len).collect()
}

#[test]
fn account_names_follow_cpanels_username_rules_at_the_cli() {
    let (_t, data) = data_dir();
    for (name, needle) in [
        ("Bob", "start with a lowercase letter"),
        ("bOb", "lowercase letters (a-z) and digits (0-9)"),
        ("1bob", "start with a lowercase letter"),
        ("abcdefghijklmnopq", "17 characters; at most 16"),
        ("bob_1", "lowercase letters (a-z) and digits (0-9)"),
        ("root", "reserved"),
        ("all", "reserved"),
        ("cpanel", "reserved"),
        ("whm", "reserved"),
        ("admin", "reserved"),
        ("system_wide_issuer", "reserved"),
        ("testbob", "reserved"),
    ] {
        for extra in [&[][..], &["--reseller"][..]] {
            let mut args = vec!["account", "add", name, "--password-stdin"];
            args.extend_from_slice(extra);
            let out = tfa(&data, &args, Some("pw-123456789\n"));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{args:?} was accepted");
            assert!(out.stdout.is_empty(), "{args:?}");
            assert!(
                err.contains("invalid account name") && err.contains(needle),
                "{args:?}: {err}"
            );
        }
    }
    // Exactly 16 characters, a reseller, and a customer of it are fine.
    add_account(&data, "abcdefghijklmnop", "pw-123456789", &[]);
    add_account(&data, "brand1", "pw-123456789", &["--reseller"]);
    add_account(&data, "cust2", "pw-123456789", &["--owner", "brand1"]);
    let list = tfa_ok(&data, &["account", "list"], None);
    let names: Vec<&str> = list
        .lines()
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split('\t').next())
        .collect();
    assert_eq!(
        names,
        ["abcdefghijklmnop", "brand1", "cust2", "demo", "root"]
    );
}

#[test]
fn no_reseller_can_set_the_system_wide_issuer() {
    let (_t, data) = data_dir();
    let out = tfa(
        &data,
        &[
            "account",
            "add",
            "system_wide_issuer",
            "--reseller",
            "--password-stdin",
        ],
        Some("pw-123456789\n"),
    );
    assert!(!out.status.success());
    add_account(&data, "brand", "brand-password-9", &["--reseller"]);
    add_account(&data, "cust", "cust-password-9", &["--owner", "brand"]);
    let brand = format!("whm brand:{}", create_token(&data, "brand"));
    let root = format!("whm root:{}", create_token(&data, "root"));
    let cust = format!("cpanel cust:{}", create_token(&data, "cust"));
    let demo = format!("cpanel demo:{}", create_token(&data, "demo"));
    let server = Server::start(ServerOptions::with_data_dir(&data));
    let http = Http::new();
    let whm = |auth: &str, function: &str, query: &str| {
        http.get(
            &server.url(&format!("/json-api/{function}?api.version=1&{query}")),
            auth,
        )
    };
    let issuer_of = |auth: &str| {
        let r = http.get(
            &server.url("/execute/TwoFactorAuth/generate_user_configuration"),
            auth,
        );
        let uri = r.data_str("otpauth_str");
        uri.split("&issuer=").nth(1).unwrap().to_owned()
    };
    let r = whm(&brand, "twofactorauth_set_issuer", "issuer=Brand");
    assert_eq!(r.json()["metadata"]["result"], 1, "{}", r.text);
    let r = whm(&root, "twofactorauth_get_issuer", "");
    assert_eq!(
        r.json()["data"],
        json!({"issuer": HOSTNAME, "system_wide_issuer": HOSTNAME})
    );
    assert_eq!(issuer_of(&cust), "Brand");
    assert_eq!(issuer_of(&demo), HOSTNAME);
    let r = whm(&root, "twofactorauth_set_issuer", "issuer=My%20Host");
    assert_eq!(r.json()["metadata"]["result"], 1, "{}", r.text);
    let r = whm(&brand, "twofactorauth_set_issuer", "issuer=Brand%202");
    assert_eq!(r.json()["metadata"]["result"], 1, "{}", r.text);
    let r = whm(&brand, "twofactorauth_get_issuer", "");
    assert_eq!(
        r.json()["data"],
        json!({"issuer": "Brand 2", "system_wide_issuer": "My Host"})
    );
    assert_eq!(issuer_of(&demo), "My%20Host");
    // cPanel's file still names the system-wide issuer `system_wide_issuer`.
    let out = export(&data);
    assert_eq!(
        read_json(&out.path().join("issuer_userdata.json")),
        json!({"system_wide_issuer": "My Host", "brand": "Brand 2"})
    );
    drop(server);
}

#[test]
fn chosen_secrets_outside_16_to_128_characters_are_refused_everywhere() {
    let (_t, data) = data_dir();
    let demo = format!("cpanel demo:{}", create_token(&data, "demo"));
    let root = format!("whm root:{}", create_token(&data, "root"));
    let server = Server::start(ServerOptions::with_data_dir(&data));
    let http = Http::new();
    let post = |path: &str, auth: &str, secret: &str| {
        // A form body: 40,000 characters make no sensible URL (the body limit is 64 KiB).
        let body = form(&[("secret", secret), ("tfa_token", &code(secret, now()))]);
        http.send(
            "POST",
            &server.url(path),
            &[
                ("Authorization", auth),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            Some(&body),
        )
    };
    for secret in ["AA".to_owned(), secret_of(40_000)] {
        let len = secret.len();
        let r = post(
            "/execute/TwoFactorAuth/set_user_configuration",
            &demo,
            &secret,
        );
        assert_eq!(r.status, 200, "{len}");
        assert_eq!(
            r.json(),
            json!({"data": null, "errors": [format!("Failed to set user configuration: {}", size_reason(len))],
                   "messages": null, "metadata": {}, "status": 0, "warnings": null}),
            "{len}"
        );
        let r = post(
            "/json-api/twofactorauth_set_tfa_config?api.version=1",
            &root,
            &secret,
        );
        assert_eq!(r.status, 200, "{len}");
        assert_eq!(r.json()["metadata"]["result"], 0, "{len}");
        assert_eq!(r.json()["metadata"]["reason"], size_reason(len), "{len}");
        let body = json!({"demo": {"primary_account": {"secret": secret}}}).to_string();
        let r = http.send(
            "POST",
            &server.url("/json-api/twofactorauth_set_tfa_config_for_user?api.version=1"),
            &[
                ("Authorization", &root),
                ("Content-Type", "application/json"),
            ],
            Some(&body),
        );
        assert_eq!(r.json()["metadata"]["result"], 0, "{len}");
        let reason = r.json()["metadata"]["reason"].as_str().unwrap().to_owned();
        assert!(
            reason.contains(&format!("for primary_account must have 16 to 128 base32 characters (80 to 640 bits); it has {len}")),
            "{reason}"
        );
    }
    let configs = tfa_ok(
        &data,
        &["whmapi1", "--output=json", "twofactorauth_get_user_configs"],
        None,
    );
    let configs: Value = serde_json::from_str(&configs).unwrap();
    assert_eq!(configs["data"]["demo"]["is_enabled"], 0);
    assert_eq!(configs["data"]["root"]["is_enabled"], 0);
    // The bounds themselves are accepted: 128 characters for demo, 16 for root.
    let r = post(
        "/execute/TwoFactorAuth/set_user_configuration",
        &demo,
        &secret_of(128),
    );
    assert_eq!(r.json()["status"], 1, "{}", r.text);
    let r = post(
        "/json-api/twofactorauth_set_tfa_config?api.version=1",
        &root,
        &secret_of(16),
    );
    assert_eq!(r.json()["metadata"]["result"], 1, "{}", r.text);
    // The import refuses the whole file, and writes nothing.
    let before = read_json(&export(&data).path().join("tfa_userdata.json"));
    let src = tempfile::tempdir().unwrap();
    std::fs::write(
        src.path().join("tfa_userdata.json"),
        json!({"root": {"secret": "QLLIU5WTY3UTJGNG"}, "demo": {"secret": "AA"}}).to_string(),
    )
    .unwrap();
    let out = tfa(
        &data,
        &["import-cpanel", src.path().to_str().unwrap()],
        None,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("“demo”")
            && err.contains("2 characters")
            && err.contains("nothing was imported"),
        "{err}"
    );
    assert_eq!(
        read_json(&export(&data).path().join("tfa_userdata.json")),
        before
    );
    drop(server);
}

#[test]
fn a_password_change_ends_the_session_while_the_server_runs() {
    let (_t, data) = data_dir();
    add_account(&data, "sue", "sue-password-7", &[]);
    let server = Server::start(ServerOptions::with_data_dir(&data));
    let http = Http::new();
    let login = |pass: &str| {
        http.send(
            "POST",
            &server.url("/login"),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(&form(&[("user", "sue"), ("pass", pass)])),
        )
    };
    let r = login("sue-password-7");
    assert_eq!(r.status, 302, "{}", r.text);
    let location = r.headers["location"].clone();
    let cookie = r.cookie();
    let call = || {
        http.send(
            "GET",
            &server.url(&format!(
                "{location}execute/TwoFactorAuth/get_user_configuration"
            )),
            &[("Cookie", &cookie)],
            None,
        )
    };
    let r = call();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], 1);
    // The CLI changes the password in its own process, on the same store.
    set_password(&data, "sue", "sue-password-8");
    let r = call();
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(login("sue-password-7").status, 401);
    assert_eq!(login("sue-password-8").status, 302);
    let stopped = server.stop();
    assert_nothing_leaked(
        &stopped.log,
        &[
            "sue-password-7".into(),
            "sue-password-8".into(),
            cookie.trim_start_matches("cpsession=").to_owned(),
        ],
    );
}

#[test]
fn api_tokens_are_listed_and_revoked() {
    let (_t, data) = data_dir();
    add_account(&data, "tom", "tom-password-4", &[]);
    let t0 = now();
    let first = create_token(&data, "tom");
    let second = create_token(&data, "tom");
    let other = create_token(&data, "demo");
    let list = tfa_ok(&data, &["token", "list", "tom"], None);
    let rows: Vec<Vec<&str>> = list.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 2, "{list}");
    for row in &rows {
        assert_eq!(row.len(), 3, "{list}");
        row[0].parse::<i64>().unwrap();
        let created: u64 = row[1].parse().unwrap();
        assert!((t0..=now()).contains(&created), "{list}");
        assert!(row[2].ends_with('Z') && row[2].len() == 20, "{list}");
    }
    // Number, unix time, UTC time and nothing else: neither a token nor its hash.
    for secret in [&first, &second] {
        assert!(!list.contains(secret.as_str()), "a token in the listing");
    }
    let (id1, id2) = (rows[0][0].to_owned(), rows[1][0].to_owned());
    let server = Server::start(ServerOptions::with_data_dir(&data));
    let http = Http::new();
    let status = |user: &str, token: &str| {
        http.get(
            &server.url("/execute/TwoFactorAuth/get_user_configuration"),
            &format!("cpanel {user}:{token}"),
        )
        .status
    };
    assert_eq!(status("tom", &first), 200);
    assert_eq!(status("tom", &second), 200);
    // Revoked while the server runs: the next request with it is refused.
    let out = tfa_ok(&data, &["token", "revoke", "tom", &id1], None);
    assert!(
        out.contains(&format!("Revoked token {id1} of “tom”.")),
        "{out}"
    );
    assert_eq!(status("tom", &first), 401);
    assert_eq!(status("tom", &second), 200);
    for args in [
        vec!["token", "revoke", "tom", id1.as_str()],
        vec!["token", "revoke", "demo", id2.as_str()],
        vec!["token", "revoke", "tom"],
        vec!["token", "revoke", "tom", id2.as_str(), "--all"],
        vec!["token", "list", "nobody"],
    ] {
        let out = tfa(&data, &args, None);
        assert!(!out.status.success(), "{args:?}");
    }
    assert_eq!(status("tom", &second), 200);
    let out = tfa_ok(&data, &["token", "revoke", "tom", "--all"], None);
    assert!(out.contains("Revoked 1 token(s) of “tom”."), "{out}");
    assert_eq!(status("tom", &second), 401);
    assert_eq!(tfa_ok(&data, &["token", "list", "tom"], None), "");
    assert_eq!(status("demo", &other), 200);
    let stopped = server.stop();
    assert_nothing_leaked(&stopped.log, &[first, second, other]);
}
