//! Wrong passwords are throttled like wrong codes: per name and per client address, counted
//! before the hash runs, with a lockout that refuses even the right password; the hashing
//! queue refuses what it cannot hold at once; the audit log never stores a name that matches
//! nobody as typed, and stays within its retention.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::json;

use tfa::server::auth::PASSWORD_LIMITS;
use tfa::server::hashing::Hasher;
use tfa::server::{router, AppState};
use tfa::store::{AuditEvent, Limit, Limits, PasswordAttempt};
use tfa_testkit::{basic, form, uapi_err, uapi_ok, whm_meta, Reply};

use crate::Trips;
use crate::{password, request, send_to, whm_auth, Env, FORM, HOST, T0};

const GET_CONFIG: &str = "/execute/TwoFactorAuth/get_user_configuration";
const LOCKED_15: &str = "Too many failed logins. Try again in 15 minutes.";
const BUSY: &str = "The server is busy checking other passwords. Try again in 1 second.";

/// The env's store and clock behind a router of its own, its state adjusted by `tune`.
fn app_with(env: &Env, tune: impl FnOnce(AppState) -> AppState) -> Router {
    let now = env.now.clone();
    let state = AppState::new(env.store.clone(), HOST, None)
        .with_clock(Arc::new(move || now.load(Ordering::SeqCst)));
    router(tune(state))
}

/// Limits of `per_name` and `per_address` failures in 15 minutes, locking for 15 minutes.
fn limits(per_name: u64, per_address: u64) -> Limits {
    let limit = |max_failures| Limit {
        max_failures,
        window_secs: 900,
        lock_secs: 900,
    };
    Limits {
        identity: limit(per_name),
        ip: limit(per_address),
    }
}

fn from_ip(mut req: Request<Body>, ip: Option<&str>) -> Request<Body> {
    if let Some(ip) = ip {
        let addr: SocketAddr = format!("{ip}:40000").parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(addr));
    }
    req
}

/// `get_user_configuration` with Basic auth, from `ip` (else the router's `unknown`).
fn basic_get(user: &str, pass: &str, ip: Option<&str>) -> Request<Body> {
    let auth = basic(user, pass);
    let req = request(
        Method::GET,
        GET_CONFIG,
        &[(header::AUTHORIZATION, &auth)],
        Body::empty(),
    );
    from_ip(req, ip)
}

/// `POST /login` without a code.
fn login_post(user: &str, pass: &str, ip: Option<&str>) -> Request<Body> {
    let body = form(&[("user", user), ("pass", pass)]);
    from_ip(
        request(
            Method::POST,
            "/login",
            &[(header::CONTENT_TYPE, FORM)],
            body,
        ),
        ip,
    )
}

fn events(env: &Env, kind: &str) -> Vec<AuditEvent> {
    env.store
        .audit_events()
        .unwrap()
        .into_iter()
        .filter(|e| e.event.as_str() == kind)
        .collect()
}

fn assert_locked(r: &Reply, secs: &str) {
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(r.text, uapi_err(LOCKED_15));
    assert_eq!(r.headers.get("retry-after").map(String::as_str), Some(secs));
}

#[tokio::test]
async fn wrong_basic_passwords_lock_the_name_even_for_the_right_password() {
    let env = Env::new();
    for _ in 0..10 {
        let r = env.send(basic_get("bob", "wrong", None)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.text, uapi_err("Access denied"));
    }
    assert_locked(
        &env.send(basic_get("bob", &password("bob"), None)).await,
        "900",
    );
    // 90 more guesses are refused before any hash, and nothing more is counted.
    for _ in 0..90 {
        assert_locked(&env.send(basic_get("bob", "guess", None)).await, "900");
    }
    let failed = events(&env, "failed_basic_auth");
    assert_eq!(failed.len(), 10);
    assert!(failed.iter().all(|e| e.identity == "bob"
        && e.ip == "unknown"
        && e.detail == "wrong user name or password"));
    let lockouts = events(&env, "lockout");
    assert_eq!(lockouts.len(), 1);
    assert_eq!(lockouts[0].identity, "bob");
    assert_eq!(
        lockouts[0].detail,
        "too many wrong passwords for this identity"
    );
    // Another name from the same address is not locked (10 failures of 30), and bob's API
    // token still works: the lock is on passwords.
    let r = env
        .uapi_basic("info@bob.example", "get_user_configuration", "")
        .await;
    assert_eq!(r.text, uapi_ok(json!({"is_enabled": 0})));
    let r = env.uapi("bob", "get_user_configuration", "").await;
    assert_eq!(r.text, uapi_ok(json!({"is_enabled": 0})));
    // The lock counts down, then ends.
    env.set_time(T0 + 600);
    let r = env.send(basic_get("bob", &password("bob"), None)).await;
    assert_eq!(
        r.text,
        uapi_err("Too many failed logins. Try again in 5 minutes.")
    );
    assert_eq!(r.headers["retry-after"], "300");
    env.set_time(T0 + 901);
    let r = env.send(basic_get("bob", &password("bob"), None)).await;
    assert_eq!(r.text, uapi_ok(json!({"is_enabled": 0})));
}

#[tokio::test]
async fn only_wrong_passwords_count() {
    let env = Env::new();
    for _ in 0..9 {
        let r = env.send(basic_get("bob", "wrong", None)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Right passwords are counted before their hash too, then uncounted.
    for _ in 0..15 {
        let r = env.send(basic_get("bob", &password("bob"), None)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let r = env.send(basic_get("bob", "wrong", None)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_locked(
        &env.send(basic_get("bob", &password("bob"), None)).await,
        "900",
    );
}

#[tokio::test]
async fn unknown_names_count_against_the_address_and_are_never_stored_as_typed() {
    let env = Env::new();
    let ip = Some("192.0.2.7");
    // A password typed into the user field, a name with a space (never a valid name), and
    // names that match nobody.
    let typed = "Tr0ub4dor&3-typed-in-the-user-field";
    let mut names = vec![typed.to_owned(), "correct horse".to_owned()];
    names.extend((2..29).map(|i| format!("nobody{i}")));
    for name in &names {
        let r = env.send(basic_get(name, "wrong", ip)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}");
    }
    // 29 failures of 30: the address is not locked yet, and a right password does not count.
    let r = env.send(basic_get("bob", &password("bob"), ip)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = env.send(login_post(typed, "wrong", ip)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // The 30th locked the address, for every name, known or not.
    for who in ["bob", "carol", "nobody99"] {
        let r = env.send(basic_get(who, &password(who), ip)).await;
        assert_locked(&r, "900");
    }
    let r = env.send(login_post("bob", &password("bob"), ip)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.text.contains(LOCKED_15), "{}", r.text);
    assert_eq!(r.headers["retry-after"], "900");
    // Another address is not locked, and no name was counted: unknown names count against
    // the address only.
    let r = env
        .send(basic_get("bob", &password("bob"), Some("192.0.2.8")))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let lockouts = events(&env, "lockout");
    assert_eq!(lockouts.len(), 1);
    assert_eq!(
        lockouts[0].detail,
        "too many wrong passwords from this address"
    );
    // Not one name was stored as typed: each is `unknown:` and 16 hex digits of a keyed hash,
    // the same for the same text (at /login and in Basic auth alike).
    let all = env.store.audit_events().unwrap();
    let dump = format!("{all:?}");
    for name in &names {
        assert!(
            !dump.contains(name.as_str()),
            "{name} reached the audit log"
        );
    }
    assert!(!dump.contains("Tr0ub4dor") && !dump.contains("nobody"));
    let failed: Vec<&AuditEvent> = all
        .iter()
        .filter(|e| e.event.as_str().starts_with("failed_"))
        .collect();
    assert_eq!(failed.len(), 30);
    for e in &failed {
        let hex = e.identity.strip_prefix("unknown:").unwrap();
        assert_eq!(hex.len(), 16, "{}", e.identity);
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
    }
    assert_eq!(failed[0].event.as_str(), "failed_basic_auth");
    assert_eq!(failed[29].event.as_str(), "failed_login");
    assert_eq!(failed[0].identity, failed[29].identity);
    assert_ne!(failed[0].identity, failed[1].identity);
}

#[tokio::test]
async fn the_login_form_is_throttled_with_a_clear_message() {
    let env = Env::new();
    for _ in 0..10 {
        let r = env.send(login_post("bob", "wrong", None)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.text.contains("The login is invalid."));
    }
    let r = env.send(login_post("bob", &password("bob"), None)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.text.contains(LOCKED_15), "{}", r.text);
    assert_eq!(r.headers["retry-after"], "900");
    assert!(!r.headers.contains_key("set-cookie"));
    let failed = events(&env, "failed_login");
    assert_eq!(failed.len(), 10);
    assert!(failed.iter().all(|e| e.identity == "bob"));
    // Basic auth shares the count: the name is locked there too.
    assert_locked(
        &env.send(basic_get("bob", &password("bob"), None)).await,
        "900",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_passwords_cannot_exceed_the_limit() {
    let env = Env::new();
    let app = app_with(&env, |s| {
        s.with_hasher(Hasher::new(2, 64))
            .with_password_limits(limits(5, 1000))
    });
    let mut wave = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let app = app.clone();
        wave.spawn(async move { send_to(&app, basic_get("bob", "wrong", None)).await.status });
    }
    let mut statuses = Vec::new();
    while let Some(status) = wave.join_next().await {
        statuses.push(status.unwrap());
    }
    // Exactly the limit is judged; the rest are refused before their hash: locked, or told
    // to come back while the attempts in flight could still reach the limit.
    let judged = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(judged, 5, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [401, 429, 503].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(events(&env, "failed_basic_auth").len(), 5);
    assert_locked(
        &send_to(&app, basic_get("bob", &password("bob"), None)).await,
        "900",
    );
}

#[tokio::test]
async fn a_full_hashing_queue_refuses_at_once_and_counts_nothing() {
    let env = Env::new();
    let hasher = Hasher::new(1, 0);
    let app = app_with(&env, |s| s.with_hasher(hasher.clone()));
    // Another request holds the only place.
    let place = hasher.admit().unwrap();
    let r = send_to(&app, basic_get("bob", &password("bob"), None)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.text, uapi_err(BUSY));
    assert_eq!(r.headers["retry-after"], "1");
    let r = send_to(
        &app,
        request(
            Method::GET,
            "/json-api/twofactorauth_policy_status?api.version=1",
            &[(header::AUTHORIZATION, &basic("root", &password("root")))],
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.text, whm_meta("twofactorauth_policy_status", BUSY, 0));
    assert_eq!(r.headers["retry-after"], "1");
    let r = send_to(&app, login_post("bob", &password("bob"), None)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.text.contains(BUSY), "{}", r.text);
    assert_eq!(r.headers["retry-after"], "1");
    // A token needs no hash.
    let r = send_to(
        &app,
        request(
            Method::GET,
            "/json-api/twofactorauth_policy_status?api.version=1",
            &[(header::AUTHORIZATION, &whm_auth("root"))],
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Nothing was judged, so nothing was counted or audited.
    assert!(env.store.audit_events().unwrap().is_empty());
    drop(place);
    let r = send_to(&app, basic_get("bob", &password("bob"), None)).await;
    assert_eq!(r.text, uapi_ok(json!({"is_enabled": 0})));
    assert_eq!(hasher.pooled_memory(), 1);
}

#[tokio::test]
async fn the_audit_log_keeps_to_its_row_limit_and_its_age() {
    let env = Env::new();
    env.store.write(|w| w.set_audit_retention(0, 5)).unwrap();
    let app = app_with(&env, |s| s.with_password_limits(limits(1000, 1000)));
    for i in 0..12 {
        let r = send_to(&app, basic_get(&format!("nobody{i}"), "wrong", None)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let rows = env.store.audit_events().unwrap().len();
        assert_eq!(rows, (i + 1).min(5));
    }
    // By age: rows older than a day go as the next one comes in.
    env.store.write(|w| w.set_audit_retention(1, 0)).unwrap();
    env.set_time(T0 + 2 * 86_400);
    let r = send_to(&app, basic_get("bob", "wrong", None)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let rows = env.store.audit_events().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].identity, "bob");
}

#[tokio::test]
async fn attempts_in_flight_hold_back_others_and_stale_ones_count_as_failures() {
    let env = Env::new();
    // Ten attempts for bob counted and never settled, as a server stopped mid-check leaves
    // them.
    for _ in 0..10 {
        let attempt = env
            .store
            .write(|w| w.begin_password_attempt(Some("bob"), "unknown", T0, PASSWORD_LIMITS))
            .unwrap();
        assert!(
            matches!(attempt, PasswordAttempt::Counted(_)),
            "{attempt:?}"
        );
    }
    // While they may still be in flight, they could reach the limit: a new attempt waits.
    let r = env.send(basic_get("bob", &password("bob"), None)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(r.text, uapi_err(BUSY));
    assert_eq!(r.headers["retry-after"], "1");
    // A minute on they count as wrong passwords: one attempt is judged, and a wrong one
    // locks the name.
    env.set_time(T0 + 61);
    let r = env.send(basic_get("bob", "wrong", None)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_locked(
        &env.send(basic_get("bob", &password("bob"), None)).await,
        "900",
    );
}
