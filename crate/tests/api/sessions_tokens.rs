//! A password change ends the login's sessions, seen by every store instance on the same
//! database (a second `Store::open`, as the CLI or another server is); API tokens are listed
//! (number and time only) and revoked one by one or all at once.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use axum::Router;
use serde_json::json;

use tfa::server::auth::{hash_password, sha256};
use tfa::server::{router, AppState};
use tfa::store::{Store, TokenInfo};
use tfa_testkit::{form, uapi_ok};

use crate::{cpanel_auth, password, request, send_to, Env, Trips, FORM, HOST, T0};

/// Logs `user` in at `/login`; (cookie, cpsess).
async fn login(app: &Router, user: &str, pass: &str) -> (String, String) {
    let r = send_to(
        app,
        request(
            Method::POST,
            "/login",
            &[(header::CONTENT_TYPE, FORM)],
            form(&[("user", user), ("pass", pass)]),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FOUND, "{user}: {}", r.text);
    let cpsess = r.headers["location"].trim_matches('/').to_owned();
    let cookie = r.cookie();
    (cookie, cpsess)
}

/// `get_user_configuration` through a session; the HTTP status.
async fn session_status(app: &Router, session: &(String, String)) -> StatusCode {
    let (cookie, cpsess) = session;
    let r = send_to(
        app,
        request(
            Method::GET,
            &format!("/{cpsess}/execute/TwoFactorAuth/get_user_configuration"),
            &[(header::COOKIE, cookie.as_str())],
            Body::empty(),
        ),
    )
    .await;
    if r.status == StatusCode::OK {
        assert_eq!(r.text, uapi_ok(json!({"is_enabled": 0})));
    }
    StatusCode::from_u16(r.status).unwrap()
}

fn set_password(store: &Store, name: &str, pw: &str) {
    let (name, hash) = (name.to_owned(), hash_password(pw).unwrap());
    store.write(move |w| w.set_password(&name, &hash)).unwrap();
}

#[tokio::test]
async fn a_password_change_ends_the_sessions_on_every_store_instance() {
    let env = Env::new();
    // A second instance over the same database, with its own router (another server).
    let other_store = crate::db::open_store(&env.dir(), None).unwrap();
    let clock = env.now.clone();
    let other = router(
        AppState::new(other_store.clone(), HOST, None)
            .with_clock(Arc::new(move || clock.load(Ordering::SeqCst))),
    );
    let bob = login(&env.app, "bob", &password("bob")).await;
    let bob_elsewhere = login(&other, "bob", &password("bob")).await;
    let carol = login(&env.app, "carol", &password("carol")).await;
    let mail = login(&env.app, "info@bob.example", &password("info@bob.example")).await;
    for (app, s) in [(&env.app, &bob), (&other, &bob), (&env.app, &bob_elsewhere)] {
        assert_eq!(session_status(app, s).await, StatusCode::OK);
    }
    // The change goes through the other instance, as `tfa account set-password` would.
    set_password(&other_store, "bob", "new-bob-password");
    for app in [&env.app, &other] {
        for s in [&bob, &bob_elsewhere] {
            assert_eq!(session_status(app, s).await, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(session_status(app, &carol).await, StatusCode::OK);
        assert_eq!(session_status(app, &mail).await, StatusCode::OK);
    }
    // A webmail address's change ends its sessions too; a new login works at once.
    set_password(&env.store, "info@bob.example", "new-mail-password");
    assert_eq!(
        session_status(&other, &mail).await,
        StatusCode::UNAUTHORIZED
    );
    let again = login(&env.app, "bob", "new-bob-password").await;
    assert_eq!(session_status(&other, &again).await, StatusCode::OK);
}

fn tokens_of(store: &Store, account: &str) -> Vec<TokenInfo> {
    store.read(|r| r.tokens_of(account)).unwrap()
}

#[tokio::test]
async fn tokens_are_listed_and_revoked() {
    let env = Env::new();
    let second = "TOKENBOBSECONDXXXXXXXXXXXXXXXXXXXXXX";
    env.store.add_token("bob", &sha256(second), T0).unwrap();
    let listed = tokens_of(&env.store, "bob");
    assert_eq!(listed.len(), 2);
    assert_eq!(
        listed.iter().map(|t| t.created).collect::<Vec<_>>(),
        [0, T0]
    );
    assert!(listed[0].id < listed[1].id);
    let uapi = |auth: String| {
        request(
            Method::GET,
            "/execute/TwoFactorAuth/get_user_configuration",
            &[(header::AUTHORIZATION, auth.as_str())],
            Body::empty(),
        )
    };
    let with_second = || uapi(format!("cpanel bob:{second}"));
    assert_eq!(env.send(uapi(cpanel_auth("bob"))).await.status, 200);
    assert_eq!(env.send(with_second()).await.status, 200);
    // Another account cannot revoke bob's token by its number.
    let first = listed[0].id;
    let revoke = |account: &str, id: i64| {
        let account = account.to_owned();
        env.store
            .write(move |w| w.revoke_token(&account, id))
            .unwrap()
    };
    assert!(!revoke("carol", first));
    assert!(revoke("bob", first));
    assert!(!revoke("bob", first), "already revoked");
    assert_eq!(env.send(uapi(cpanel_auth("bob"))).await.status, 401);
    assert_eq!(env.send(with_second()).await.status, 200);
    assert_eq!(tokens_of(&env.store, "bob").len(), 1);
    let n = env.store.write(|w| w.revoke_tokens("bob")).unwrap();
    assert_eq!(n, 1);
    assert_eq!(env.send(with_second()).await.status, 401);
    assert!(tokens_of(&env.store, "bob").is_empty());
    // Other accounts keep theirs.
    assert_eq!(tokens_of(&env.store, "carol").len(), 1);
    assert_eq!(env.send(uapi(cpanel_auth("carol"))).await.status, 200);
}
