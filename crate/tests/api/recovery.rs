//! Recovery codes: a set of 10 with every enrollment, counted by `TfaRecoveryCodes::get_status`
//! and WHM's `tfa_recovery_codes_remaining` (never shown again), each good for one login in
//! place of a security code and nowhere else, counted against the code lockout, replaced by
//! `regenerate` behind a current code, gone with the 2FA config, kept by a key rotation and
//! by an import.

use axum::body::Body;
use axum::http::{header, HeaderName, Method, StatusCode};
use serde_json::json;

use tfa_testkit::{basic, code, form, take_recovery_codes, uapi_err, uapi_ok, whm_ok, Reply};

use crate::Trips;
use crate::{cpanel_auth, password, request, Env, FORM, SECRET, T0};

const POLICY: &str = "SecurityPolicy::TwoFactorAuth";

/// Enrolls `user` through UAPI and returns the set its answer carries.
async fn enroll(env: &Env, user: &str) -> Vec<String> {
    let r = env.uapi_set(user, SECRET, &code(SECRET, env.time())).await;
    let (codes, rest) = take_recovery_codes(&r.text);
    assert_eq!(rest, uapi_ok(json!({"tfa_configured": 1})));
    codes
}

/// A `TfaRecoveryCodes` call with `user`'s cPanel token (a POST when `body` is given).
async fn recovery_call(env: &Env, user: &str, function: &str, body: Option<&str>) -> Reply {
    let uri = format!("/execute/TfaRecoveryCodes/{function}");
    let auth = cpanel_auth(user);
    let req = match body {
        Some(b) => request(
            Method::POST,
            &uri,
            &[(header::AUTHORIZATION, &auth), (header::CONTENT_TYPE, FORM)],
            b.to_owned(),
        ),
        None => request(
            Method::GET,
            &uri,
            &[(header::AUTHORIZATION, &auth)],
            Body::empty(),
        ),
    };
    env.send(req).await
}

async fn remaining(env: &Env, user: &str) -> u64 {
    let r = recovery_call(env, user, "get_status", None).await;
    assert_eq!(r.json()["status"], 1, "{}", r.text);
    assert_eq!(r.json()["data"]["total"], 10, "{}", r.text);
    r.json()["data"]["remaining"].as_u64().unwrap()
}

/// A one-step scripted login of bob with `tfa_token`.
async fn login(env: &Env, tfa_token: &str) -> Reply {
    env.login_only(
        &[
            ("user", "bob"),
            ("pass", &password("bob")),
            ("tfa_token", tfa_token),
        ],
        None,
    )
    .await
}

/// bob enrolled under the policy: his set.
async fn bob_under_policy(env: &Env) -> Vec<String> {
    let codes = enroll(env, "bob").await;
    env.store.set_setting(POLICY, "1").unwrap();
    codes
}

/// The raw rows of the codes table, as the database holds them.
fn stored_rows(env: &Env) -> i64 {
    env.sql("SELECT COUNT(*) FROM recovery_codes")
        .parse()
        .unwrap()
}

#[tokio::test]
async fn enrolling_makes_a_set_that_is_counted_but_never_shown_again() {
    let env = Env::new();
    assert_eq!(remaining(&env, "bob").await, 0);
    let codes = enroll(&env, "bob").await;
    let r = recovery_call(&env, "bob", "get_status", None).await;
    assert_eq!(r.text, uapi_ok(json!({"remaining": 10, "total": 10})));
    assert_eq!(remaining(&env, "carol").await, 0);
    // Webmail and team users have sets of their own.
    let r = env
        .uapi_basic(
            "info@bob.example",
            "set_user_configuration",
            &format!("secret={SECRET}&tfa_token={}", code(SECRET, T0)),
        )
        .await;
    let (theirs, _) = take_recovery_codes(&r.text);
    assert!(theirs.iter().all(|c| !codes.contains(c)));
    // Nothing reads a code back: not the status, not WHM, not the audit log.
    let whm = env
        .whm("root", "tfa_recovery_codes_remaining", "user=bob")
        .await;
    let audit = format!("{:?}", env.store.audit_events().unwrap());
    for c in &codes {
        for text in [&r.text, &whm.text, &audit] {
            assert!(!text.contains(c.as_str()) && !text.contains(&c.replace('-', "")));
        }
    }
    let made = env.store.audit_events().unwrap();
    assert!(made
        .iter()
        .any(|e| e.event.as_str() == "recovery_codes" && e.identity == "bob"));
}

#[tokio::test]
async fn a_recovery_code_logs_in_once_and_says_how_many_are_left() {
    let env = Env::new();
    let codes = bob_under_policy(&env).await;
    env.set_time(T0 + 60);
    let r = login(&env, &codes[0]).await;
    assert_eq!(r.json()["status"], 1, "{}", r.text);
    assert_eq!(r.json()["recovery_codes_remaining"], 9, "{}", r.text);
    // Never twice.
    let r = login(&env, &codes[0]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.json()["message"], "invalid_tfa_token", "{}", r.text);
    // Typed as people type: lower case, no hyphen, O for 0 and l for 1.
    let typed = codes[1]
        .replace('-', " ")
        .to_lowercase()
        .replace('0', "o")
        .replace('1', "l");
    let r = login(&env, &typed).await;
    assert_eq!(r.json()["recovery_codes_remaining"], 8, "{}", r.text);
    // The second step of a two-step login takes one too.
    let r = env
        .login_only(&[("user", "bob"), ("pass", &password("bob"))], None)
        .await;
    assert_eq!(r.json()["message"], "tfa_required", "{}", r.text);
    let pending = r.cookie();
    let r = env
        .login_only(&[("tfa_token", &codes[2])], Some(&pending))
        .await;
    assert_eq!(r.json()["status"], 1, "{}", r.text);
    assert_eq!(r.json()["recovery_codes_remaining"], 7, "{}", r.text);
    // A login with a security code says nothing of recovery codes.
    let r = login(&env, &code(SECRET, env.time())).await;
    assert_eq!(r.json()["status"], 1, "{}", r.text);
    assert!(
        r.json().get("recovery_codes_remaining").is_none(),
        "{}",
        r.text
    );
    // The login form: a page that says so (not a bare redirect), with the way on.
    let r = env
        .send(request(
            Method::POST,
            "/login",
            &[(header::CONTENT_TYPE, FORM)],
            form(&[
                ("user", "bob"),
                ("pass", &password("bob")),
                ("tfa_token", &codes[3]),
            ]),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        r.text.contains("You have 6 recovery codes left."),
        "{}",
        r.text
    );
    assert!(r.text.contains("href=\"/cpsess"), "{}", r.text);
    assert!(r.headers["set-cookie"].contains("HttpOnly"));
    assert_eq!(remaining(&env, "bob").await, 6);
    let used = env
        .store
        .audit_events()
        .unwrap()
        .into_iter()
        .filter(|e| e.event.as_str() == "recovery_code_used" && e.identity == "bob")
        .count();
    assert_eq!(used, 4);
}

#[tokio::test]
async fn parallel_uses_of_one_recovery_code_let_exactly_one_in() {
    let env = Env::new();
    let codes = bob_under_policy(&env).await;
    let tries = (0..16).map(|_| login(&env, &codes[0]));
    let replies = futures_util::future::join_all(tries).await;
    let ok = replies.iter().filter(|r| r.json()["status"] == 1).count();
    assert_eq!(
        ok,
        1,
        "{:?}",
        replies.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    assert_eq!(remaining(&env, "bob").await, 9);
}

#[tokio::test]
async fn a_recovery_code_is_never_a_security_code_anywhere_else() {
    let env = Env::new();
    let codes = bob_under_policy(&env).await;
    env.set_time(T0 + 60);
    // Not in X-CPANEL-OTP.
    let r = env
        .send(request(
            Method::GET,
            "/execute/TwoFactorAuth/get_user_configuration",
            &[
                (header::AUTHORIZATION, &basic("bob", &password("bob"))),
                (HeaderName::from_static("x-cpanel-otp"), &codes[0]),
            ],
            Body::empty(),
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    // Not as set_user_configuration's code.
    let r = env.uapi_set("bob", SECRET, &codes[0]).await;
    assert_eq!(r.json()["status"], 0, "{}", r.text);
    // Not as the proof for a new set.
    let body = format!("tfa_token={}", codes[0]);
    let r = recovery_call(&env, "bob", "regenerate", Some(&body)).await;
    assert_eq!(r.json()["status"], 0, "{}", r.text);
    // None of them used it up.
    assert_eq!(remaining(&env, "bob").await, 10);
    assert_eq!(login(&env, &codes[0]).await.json()["status"], 1);
}

#[tokio::test]
async fn wrong_recovery_codes_count_against_the_code_lockout() {
    let env = Env::new();
    let codes = bob_under_policy(&env).await;
    for i in 0..5 {
        let r = login(&env, &format!("ZZZZZ-ZZZZ{i}")).await;
        assert_eq!(r.json()["message"], "invalid_tfa_token", "{}", r.text);
    }
    // Locked: even a right recovery code (or security code) is refused, and not used up.
    let r = login(&env, &codes[0]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(r.json()["message"], "locked", "{}", r.text);
    let r = login(&env, &code(SECRET, env.time())).await;
    assert_eq!(r.json()["message"], "locked", "{}", r.text);
    assert_eq!(remaining(&env, "bob").await, 10);
    env.set_time(T0 + 301);
    assert_eq!(login(&env, &codes[0]).await.json()["status"], 1);
}

#[tokio::test]
async fn regenerate_needs_a_current_code_and_voids_the_old_set() {
    let env = Env::new();
    let old = bob_under_policy(&env).await;
    let r = recovery_call(&env, "bob", "regenerate", Some("")).await;
    assert_eq!(
        r.text,
        uapi_err("Failed to make new recovery codes: No security code specified.")
    );
    let body = format!("tfa_token={}", code(SECRET, T0 + 300));
    let r = recovery_call(&env, "bob", "regenerate", Some(&body)).await;
    assert_eq!(
        r.text,
        uapi_err("Failed to make new recovery codes: The security code is invalid.")
    );
    // The enrollment's own code is a replay.
    let body = format!("tfa_token={}", code(SECRET, T0));
    let r = recovery_call(&env, "bob", "regenerate", Some(&body)).await;
    assert_eq!(r.json()["status"], 0, "{}", r.text);
    // GET is refused: it writes.
    let r = recovery_call(&env, "bob", "regenerate", None).await;
    assert_eq!(r.json()["status"], 0, "{}", r.text);
    assert_eq!(remaining(&env, "bob").await, 10);
    env.set_time(T0 + 30);
    let body = format!("tfa_token={}", code(SECRET, T0 + 30));
    let r = recovery_call(&env, "bob", "regenerate", Some(&body)).await;
    let (new, rest) = take_recovery_codes(&r.text);
    assert_eq!(rest, uapi_ok(json!({"remaining": 10})));
    assert!(new.iter().all(|c| !old.contains(c)));
    for c in &old[..3] {
        assert_eq!(login(&env, c).await.json()["status"], 0, "{c}");
    }
    assert_eq!(login(&env, &new[0]).await.json()["status"], 1);
    assert_eq!(remaining(&env, "bob").await, 9);
    // carol has no 2FA: nothing to regenerate.
    let body = format!("tfa_token={}", code(SECRET, T0 + 30));
    let r = recovery_call(&env, "carol", "regenerate", Some(&body)).await;
    assert_eq!(
        r.text,
        uapi_err("Failed to make new recovery codes: Two-factor authentication is not set up for this account, so it has no recovery codes: set it up first.")
    );
}

#[tokio::test]
async fn removing_2fa_deletes_the_codes_and_a_new_enrollment_makes_a_new_set() {
    let env = Env::new();
    let first = bob_under_policy(&env).await;
    let r = env.uapi("bob", "remove_user_configuration", "").await;
    assert_eq!(r.json()["status"], 1, "{}", r.text);
    assert_eq!(remaining(&env, "bob").await, 0);
    assert_eq!(stored_rows(&env), 0);
    env.set_time(T0 + 30);
    let second = enroll(&env, "bob").await;
    assert_eq!(login(&env, &first[0]).await.json()["status"], 0);
    // WHM's remove, by the administrator.
    let r = env
        .whm("root", "twofactorauth_remove_user_config", "user=bob")
        .await;
    assert_eq!(r.json()["metadata"]["result"], 1, "{}", r.text);
    assert_eq!(stored_rows(&env), 0);
    assert!(second.iter().all(|c| !first.contains(c)));
}

#[tokio::test]
async fn administrators_see_how_many_codes_are_left_never_the_codes() {
    let env = Env::new();
    let codes = bob_under_policy(&env).await;
    env.set_time(T0 + 30);
    enroll(&env, "carol").await;
    assert_eq!(login(&env, &codes[0]).await.json()["status"], 1);
    let r = env
        .whm("root", "tfa_recovery_codes_remaining", "user=bob")
        .await;
    assert_eq!(
        r.text,
        whm_ok(
            "tfa_recovery_codes_remaining",
            json!({"bob": {"primary_account": {"remaining": 9}}})
        )
    );
    // A reseller for its own customer, not for another's.
    let r = env
        .whm("res", "tfa_recovery_codes_remaining", "user=carol")
        .await;
    assert_eq!(
        r.json()["data"]["carol"]["primary_account"]["remaining"],
        10
    );
    let r = env
        .whm("res", "tfa_recovery_codes_remaining", "user=bob")
        .await;
    assert_eq!(r.json()["metadata"]["result"], 0, "{}", r.text);
    assert!(r.json().get("data").is_none(), "{}", r.text);
    // The function is listed as this server's.
    let r = env.whm("root", "applist", "").await;
    assert!(r.text.contains("tfa_recovery_codes_remaining"));
}

#[tokio::test]
async fn codes_survive_a_key_rotation_and_an_import() {
    let env = Env::new();
    let codes = bob_under_policy(&env).await;
    env.store.rotate_key().unwrap();
    assert_eq!(login(&env, &codes[0]).await.json()["status"], 1);
    // An import of cPanel's files (which have no codes) leaves bob's alone; an export has none.
    let dir = tempfile::tempdir().unwrap();
    tfa::store::cpanel::export(&env.store, dir.path()).unwrap();
    let exported = std::fs::read_to_string(dir.path().join("tfa_userdata.json")).unwrap();
    for c in &codes {
        assert!(!exported.contains(c.as_str()) && !exported.contains(&c.replace('-', "")));
    }
    tfa::store::cpanel::import(&env.store, dir.path()).unwrap();
    assert_eq!(remaining(&env, "bob").await, 9);
    assert_eq!(login(&env, &codes[1]).await.json()["status"], 1);
}
