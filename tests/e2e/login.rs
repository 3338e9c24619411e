//! Logging in to the real server with a security code: the session cookie and `cpsess` URL,
//! the page and its wasm behind them, replays refused, and five wrong codes locking one user
//! (not another) out. The log shows no secret, password, cookie or `cpsess` token.

use tfa_e2e::{add_account, assert_nothing_leaked, data_dir, now, tfa_ok, Server, ServerOptions};
use tfa_testkit::{code, form};

use crate::http::Http;

#[test]
fn login_with_a_security_code_then_throttling() {
    let (_t, data) = data_dir();
    add_account(&data, "lin", "lin-password-3", &[]);
    add_account(&data, "max", "max-password-3", &[]);
    let www = tempfile::tempdir().unwrap();
    std::fs::write(
        www.path().join("index.html"),
        "<!doctype html><title>enroll</title>",
    )
    .unwrap();
    std::fs::create_dir(www.path().join("pkg")).unwrap();
    std::fs::write(www.path().join("pkg/tfa_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let server = Server::start(ServerOptions {
        data_dir: Some(data.clone()),
        www: Some(www.path().to_path_buf()),
        ..ServerOptions::default()
    });
    let http = Http::new();
    let mut secrets = Vec::new();
    for (user, pass) in [("lin", "lin-password-3"), ("max", "max-password-3")] {
        secrets.push(http.enroll(&server, user, pass).0);
    }
    let out = tfa_ok(
        &data,
        &["whmapi1", "--output=json", "twofactorauth_enable_policy"],
        None,
    );
    assert_eq!(
        out.trim(),
        r#"{"metadata":{"command":"twofactorauth_enable_policy","reason":"OK","result":1,"version":1}}"#
    );

    let login = |user: &str, pass: &str, code: Option<&str>| {
        let mut pairs = vec![("user", user), ("pass", pass)];
        if let Some(c) = code {
            pairs.push(("tfa_token", c));
        }
        http.send(
            "POST",
            &server.url("/login"),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(&form(&pairs)),
        )
    };
    let r = http.send("GET", &server.url("/login"), &[], None);
    assert_eq!(r.status, 200);
    assert!(r.text.contains("name=\"pass\""));
    // Without a code: the security-code page of a pending session.
    let r = login("lin", "lin-password-3", None);
    assert_eq!(r.status, 200);
    assert!(r.text.contains("id=\"tfa_login_form\""));
    // The enrollment step is used up; the next step's code is inside the window.
    let next = code(&secrets[0], now() + 30);
    let r = login("lin", "lin-password-3", Some(&next));
    assert_eq!(r.status, 302, "{}", r.text);
    let location = r.headers["location"].clone();
    let cookie_header = r.headers["set-cookie"].clone();
    assert!(cookie_header.contains("HttpOnly") && cookie_header.contains("SameSite=Strict"));
    let cookie = cookie_header.split(';').next().unwrap().to_owned();
    let with_cookie =
        |path: &str| http.send("GET", &server.url(path), &[("Cookie", &cookie)], None);
    let page = with_cookie(&location);
    assert_eq!(page.status, 200);
    assert!(page.text.contains("enroll"));
    let wasm = with_cookie(&format!("{location}pkg/tfa_bg.wasm"));
    assert_eq!(wasm.status, 200);
    assert_eq!(wasm.headers["content-type"], "application/wasm");
    let r = with_cookie(&format!(
        "{location}execute/TwoFactorAuth/get_user_configuration"
    ));
    assert_eq!(r.json()["data"]["is_enabled"], 1);
    let r = with_cookie("/cpsess0000000000/");
    assert_eq!(r.status, 303, "a wrong cpsess goes back to the login page");
    // Replaying the login code is refused.
    let r = login("lin", "lin-password-3", Some(&next));
    assert_eq!(r.status, 401);
    assert!(r.text.contains("The security code is invalid."));
    // Five wrong codes lock lin out, even with the right code (the replay above is not one:
    // a replay is refused without counting as a guess).
    let good = code(&secrets[0], now());
    let wrong = if good == "123456" { "654321" } else { "123456" };
    for _ in 0..5 {
        let r = login("lin", "lin-password-3", Some(wrong));
        assert_eq!(r.status, 401);
        assert!(r.text.contains("The security code is invalid."));
    }
    let r = login(
        "lin",
        "lin-password-3",
        Some(&code(&secrets[0], now() + 30)),
    );
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(
        r.text
            .contains("Too many invalid security codes. Try again in 5 minutes."),
        "{}",
        r.text
    );
    // max is not locked.
    let r = login(
        "max",
        "max-password-3",
        Some(&code(&secrets[1], now() + 30)),
    );
    assert_eq!(r.status, 302, "{}", r.text);
    let stopped = server.stop();
    let mut leaked = secrets;
    leaked.extend([
        "lin-password-3".into(),
        "max-password-3".into(),
        cookie.trim_start_matches("cpsession=").to_owned(),
    ]);
    assert_nothing_leaked(&stopped.log, &leaked);
    assert!(
        !stopped.log.contains(location.trim_matches('/')),
        "the cpsess token is masked in logs"
    );
}
