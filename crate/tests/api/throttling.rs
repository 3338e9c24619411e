//! Wrong codes are counted: five lock an identity for five minutes, fifty lock an address;
//! and one code used twice at once lets exactly one call through.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, StatusCode};
use serde_json::json;
use tfa::server::auth::hash_password;
use tfa::store::AccountKind;

use tfa_testkit::{code, take_recovery_codes, uapi_err, uapi_ok, INVALID_SET};

use crate::Trips;
use crate::{account, add_with_token, cpanel_auth, request, set_query, Env, SECRET, T0};

#[tokio::test]
async fn five_wrong_codes_lock_an_identity_for_five_minutes() {
    let env = Env::new();
    let good = code(SECRET, T0);
    let wrong = if good == "111111" { "222222" } else { "111111" };
    for _ in 0..5 {
        let r = env.uapi_set("bob", SECRET, wrong).await;
        assert_eq!(r.text, uapi_err(INVALID_SET));
    }
    let r = env.uapi_set("bob", SECRET, &good).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        r.text,
        uapi_err("Failed to set user configuration: Too many invalid security codes. Try again in 5 minutes.")
    );
    assert_eq!(env.secret("bob"), None);
    // Another identity is not affected.
    env.enroll("carol", SECRET).await;
    let events = env.store.audit_events().unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event.as_str() == "failed_code")
            .count(),
        5
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event.as_str() == "lockout")
            .count(),
        1
    );
    env.set_time(T0 + 301);
    env.enroll("bob", SECRET).await;
}

#[tokio::test]
async fn fifty_wrong_codes_from_one_address_lock_that_address() {
    let env = Env::new();
    let pw = hash_password("x").unwrap();
    for i in 0..14 {
        let a = account(
            &format!("u{i}"),
            AccountKind::User,
            "root",
            &format!("u{i}.example"),
        );
        add_with_token(&env.store, &a, &pw);
    }
    let good = code(SECRET, T0);
    let wrong = if good == "111111" { "222222" } else { "111111" };
    let call = |user: String, tfa_token: String, ip: &'static str| {
        let mut req = request(
            Method::GET,
            &format!(
                "/execute/TwoFactorAuth/set_user_configuration?{}",
                set_query(SECRET, &tfa_token)
            ),
            &[(header::AUTHORIZATION, &cpanel_auth(&user))],
            Body::empty(),
        );
        req.extensions_mut()
            .insert(ConnectInfo(ip.parse::<SocketAddr>().unwrap()));
        env.send(req)
    };
    for i in 0..50 {
        let r = call(format!("u{}", i / 4), wrong.to_owned(), "192.0.2.1:1000").await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let r = call("u13".to_owned(), good.clone(), "192.0.2.1:1000").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    let r = call("u13".to_owned(), good, "192.0.2.2:1000").await;
    assert_eq!(
        take_recovery_codes(&r.text).1,
        uapi_ok(json!({"tfa_configured": 1}))
    );
}

#[tokio::test]
async fn two_concurrent_uses_of_one_code_let_exactly_one_through() {
    let env = Env::new();
    let c = code(SECRET, T0);
    let q = set_query(SECRET, &c);
    let (a, b) = tokio::join!(
        env.uapi("bob", "set_user_configuration", &q),
        env.uapi("bob", "set_user_configuration", &q)
    );
    let ok = [&a, &b].iter().filter(|r| r.json()["status"] == 1).count();
    assert_eq!(ok, 1, "{} / {}", a.text, b.text);
}
