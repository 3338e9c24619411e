//! The real `tfa serve` on a free loopback port with a temp data dir: UAPI and WHM enrollment,
//! restart survival with replays still refused, 50 concurrent clients, codes from Debian's
//! `oathtool`, and bad requests that get a 4xx, never a 5xx. Each test that enrolls ends by
//! grepping the server log for every secret, token and password it used. Expected codes come
//! from `tfa_testkit::code` (an RFC 6238 implementation apart from the core) or from oathtool;
//! the core's `code_at` is checked against oathtool too.

use std::path::Path;

use serde_json::json;
use tfa::core::totp::code_at;
use tfa::core::Secret;
use tfa_e2e::{
    add_account, assert_nothing_leaked, create_token, data_dir, export, now, set_password, Server,
    ServerOptions, HOSTNAME,
};
use tfa_testkit::{basic, code, form, read_json, take_recovery_codes, INVALID_SET};

use crate::http::Http;

#[test]
fn uapi_and_whm_enrollment_survive_a_restart_and_replays_stay_refused() {
    let (_t, data) = data_dir();
    add_account(
        &data,
        "alice",
        "alice-password-1",
        &["--domain", "alice.test"],
    );
    set_password(&data, "root", "root-password-1");
    let alice_token = create_token(&data, "alice");
    let root_token = create_token(&data, "root");
    let server = Server::start(ServerOptions::with_data_dir(&data));
    let http = Http::new();
    let cp = format!("cpanel alice:{alice_token}");
    let whm = format!("whm root:{root_token}");

    let r = http.get(
        &server.url("/execute/TwoFactorAuth/generate_user_configuration"),
        &cp,
    );
    assert_eq!(r.status, 200);
    let v = r.json();
    let alice_secret = r.data_str("secret");
    assert_eq!(
        v["data"]["otpauth_str"],
        format!("otpauth://totp/{HOSTNAME}:alice?secret={alice_secret}&issuer={HOSTNAME}")
    );
    let t = now();
    let alice_code = code(&alice_secret, t);
    let set_path = format!(
        "/execute/TwoFactorAuth/set_user_configuration?secret={alice_secret}&tfa_token={alice_code}"
    );
    let r = http.get(&server.url(&set_path), &cp);
    assert_eq!(
        take_recovery_codes(&r.text).1,
        r#"{"data":{"tfa_configured":1},"errors":null,"messages":null,"metadata":{},"status":1,"warnings":null}"#
    );

    let r = http.get(
        &server.url("/json-api/twofactorauth_generate_tfa_config?api.version=1"),
        &whm,
    );
    let root_secret = r.data_str("secret");
    let root_code = code(&root_secret, now());
    let r = http.send(
        "POST",
        &server.url("/json-api/twofactorauth_set_tfa_config"),
        &[
            ("Authorization", &whm),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(&form(&[
            ("api.version", "1"),
            ("secret", &root_secret),
            ("tfa_token", &root_code),
        ])),
    );
    assert_eq!(
        take_recovery_codes(&r.text).1,
        r#"{"data":{"success":1},"metadata":{"command":"twofactorauth_set_tfa_config","reason":"OK","result":1,"version":1}}"#
    );

    let stopped = server.stop();
    assert!(
        stopped.status.success(),
        "graceful exit on SIGTERM: {}",
        stopped.status
    );
    assert!(stopped.log.contains("shutting down"));

    let server = Server::start(ServerOptions::with_data_dir(&data));
    let r = http.get(
        &server.url("/json-api/twofactorauth_get_user_configs?api.version=1"),
        &whm,
    );
    assert_eq!(
        r.json()["data"],
        json!({
            "alice": {"is_enabled": 1, "primary_domain": "alice.test"},
            "demo": {"is_enabled": 0, "primary_domain": "demo.example"},
            "root": {"is_enabled": 1, "primary_domain": HOSTNAME},
        })
    );
    let r = http.get(
        &server.url("/execute/TwoFactorAuth/get_user_configuration"),
        &cp,
    );
    assert_eq!(
        r.json()["data"],
        json!({"is_enabled": 1, "issuer": HOSTNAME})
    );
    // The same code again, after the restart: refused.
    let r = http.get(&server.url(&set_path), &cp);
    let v = r.json();
    assert_eq!(v["errors"], json!([INVALID_SET]));
    if now() / 30 <= t / 30 + 1 {
        assert!(
            v["warnings"][0]
                .as_str()
                .unwrap()
                .contains("already been used"),
            "{}",
            r.text
        );
    }
    let stopped = server.stop();
    assert_nothing_leaked(
        &format!("{}{}", stopped.log, stopped.stdout),
        &[
            alice_secret,
            root_secret,
            alice_token,
            root_token,
            "alice-password-1".into(),
            "root-password-1".into(),
        ],
    );
}

#[test]
fn fifty_concurrent_clients_enroll_distinct_users() {
    let (_t, data) = data_dir();
    for i in 0..50 {
        add_account(
            &data,
            &format!("user{i:02}"),
            &format!("password-of-{i:02}"),
            &[],
        );
    }
    set_password(&data, "root", "root-password-2");
    let server = Server::start(ServerOptions::with_data_dir(&data));
    let base = server.base_url.clone();
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let base = base.clone();
            std::thread::spawn(move || {
                let http = Http::new();
                let auth = basic(&format!("user{i:02}"), &format!("password-of-{i:02}"));
                let r = http.get(
                    &format!("{base}/execute/TwoFactorAuth/generate_user_configuration"),
                    &auth,
                );
                assert_eq!(r.status, 200, "{}", r.text);
                let secret = r.data_str("secret");
                let body = form(&[("secret", &secret), ("tfa_token", &code(&secret, now()))]);
                let r = http.send(
                    "POST",
                    &format!("{base}/execute/TwoFactorAuth/set_user_configuration"),
                    &[
                        ("Authorization", &auth),
                        ("Content-Type", "application/x-www-form-urlencoded"),
                    ],
                    Some(&body),
                );
                assert_eq!(r.json()["data"]["tfa_configured"], 1, "{}", r.text);
                secret
            })
        })
        .collect();
    let secrets: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let distinct: std::collections::BTreeSet<_> = secrets.iter().collect();
    assert_eq!(distinct.len(), 50);

    let http = Http::new();
    let r = http.get(
        &server.url("/json-api/twofactorauth_get_user_configs?api.version=1"),
        &basic("root", "root-password-2"),
    );
    let data_v = r.json()["data"].clone();
    for i in 0..50 {
        assert_eq!(data_v[format!("user{i:02}")]["is_enabled"], 1, "user{i:02}");
    }
    let stopped = server.stop();
    assert!(stopped.status.success());
    // Every secret the clients saw is the one stored: nothing lost or mixed up.
    let stored = read_json(&export(&data).path().join("tfa_userdata.json"));
    for (i, secret) in secrets.iter().enumerate() {
        assert_eq!(stored[format!("user{i:02}")]["secret"], secret.as_str());
    }
    let mut leaked: Vec<String> = secrets;
    leaked.extend((0..50).map(|i| format!("password-of-{i:02}")));
    leaked.push("root-password-2".into());
    assert_nothing_leaked(&stopped.log, &leaked);
}

#[test]
fn codes_from_debians_oathtool_are_accepted() {
    let oathtool = Path::new("/usr/bin/oathtool");
    assert!(
        oathtool.exists(),
        "/usr/bin/oathtool is missing: `cargo xtask setup` installs Debian's oathtool"
    );
    let oath = |args: &[&str]| -> String {
        let out = std::process::Command::new(oathtool)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "oathtool {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    // The core agrees with oathtool at fixed times, and so does the test kit every other test
    // takes its expected codes from...
    for t in [59u64, 1_111_111_109, 1_234_567_890, 2_000_000_000] {
        let want = oath(&[
            "--totp",
            "-b",
            "--now",
            &format!("@{t}"),
            "JBSWY3DPEHPK3PXP",
        ]);
        assert_eq!(
            code_at(&Secret::parse("JBSWY3DPEHPK3PXP").unwrap(), t),
            want,
            "core, t={t}"
        );
        assert_eq!(code("JBSWY3DPEHPK3PXP", t), want, "test kit, t={t}");
    }
    // ...and the server accepts oathtool's code for a secret it generated.
    let (_t, data) = data_dir();
    add_account(&data, "olga", "olga-password-6", &[]);
    let server = Server::start(ServerOptions::with_data_dir(&data));
    let http = Http::new();
    let auth = basic("olga", "olga-password-6");
    let r = http.get(
        &server.url("/execute/TwoFactorAuth/generate_user_configuration"),
        &auth,
    );
    let secret = r.data_str("secret");
    let c = oath(&["--totp", "-b", &secret]);
    let r = http.get(
        &server.url(&format!(
            "/execute/TwoFactorAuth/set_user_configuration?secret={secret}&tfa_token={c}"
        )),
        &auth,
    );
    assert_eq!(r.json()["data"]["tfa_configured"], 1, "{}", r.text);
    let stopped = server.stop();
    assert_nothing_leaked(&stopped.log, &[secret, "olga-password-6".into()]);
}

#[test]
fn bad_requests_get_4xx_never_5xx() {
    let server = Server::start(ServerOptions::default());
    let http = Http::new();
    let big = "a".repeat(70 * 1024);
    let cases: Vec<(&str, String, Option<String>, u16)> = vec![
        (
            "GET",
            "/execute/TwoFactorAuth/get_user_configuration".into(),
            None,
            401,
        ),
        ("GET", "/execute/Nope/x".into(), None, 401),
        (
            "POST",
            "/execute/TwoFactorAuth/set_user_configuration".into(),
            Some(big.clone()),
            413,
        ),
        (
            "POST",
            "/json-api/twofactorauth_set_tfa_config_for_user?api.version=1".into(),
            Some(big),
            413,
        ),
        (
            "GET",
            "/json-api/twofactorauth_policy_status".into(),
            None,
            400,
        ),
        (
            "GET",
            "/cpsess123/execute/TwoFactorAuth/get_user_configuration".into(),
            None,
            403,
        ),
        (
            "PUT",
            "/execute/TwoFactorAuth/get_user_configuration".into(),
            None,
            405,
        ),
        ("GET", "/no/such/page".into(), None, 404),
        ("GET", "/..%2F..%2Fetc%2Fpasswd".into(), None, 404),
    ];
    for (method, path, body, want) in &cases {
        let r = http.send(
            method,
            &server.url(path),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.as_deref(),
        );
        assert_eq!(r.status, *want, "{method} {path}: {}", r.text);
    }
    let stopped = server.stop();
    // The log records every status, so the absence of a 5xx below means something.
    for (_, _, _, want) in &cases {
        assert!(
            stopped.log.contains(&format!("status={want}")),
            "{}",
            stopped.log
        );
    }
    assert!(!stopped.log.contains("status=5"), "{}", stopped.log);
}
