//! API tier: the router in-process (`tower::ServiceExt::oneshot`) over a temp store with a
//! pinned clock: SQLite, or PostgreSQL in a second run of the same tests (see [`db`]). Every UAPI and WHM API 1 function's success and failure envelopes, byte for
//! byte with the spec's strings; scope and auth rules for root, reseller, user, webmail and team
//! users; bad input per endpoint with the store left unchanged. Expected codes come from
//! `tfa_testkit::code`, an RFC 6238 implementation apart from the core, never from the server.
//!
//! This file holds the fixture ([`Env`]) and the request builders; the tests live in one module
//! per concern.
#![cfg(all(feature = "server", not(target_arch = "wasm32")))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod account_names;
mod chosen_secrets;
mod cpanel_clients;
mod db;
mod hardening;
mod login;
mod multipart;
mod passwords;
mod pending_sessions;
mod protocol;
mod proxies;
mod recovery;
mod secrets_at_rest;
mod sessions_tokens;
mod store;
mod sweep;
mod throttling;
mod trips;
mod uapi;
mod whm;
mod whm_calls;
mod whm_for_user;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderName, Method, Request};
use axum::Router;
use tower::ServiceExt;

use tfa::server::auth::{hash_password, sha256};
use tfa::server::{router, AppState};
use tfa::store::{Account, AccountKind, Identity, IdentityKind, Store};
use tfa_testkit::{basic, code, Reply};
pub use trips::Trips;

const T0: u64 = 1_700_000_010;
const HOST: &str = "host.example";
const SECRET: &str = "JBSWY3DPEHPK3PXP";
const FORM: &str = "application/x-www-form-urlencoded";

/// A router over its own store and clock, with the accounts [`Env::new`] lists.
struct Env {
    _dir: tempfile::TempDir,
    store: Store,
    app: Router,
    now: Arc<AtomicU64>,
}

/// The API token of `name`'s account.
fn token(name: &str) -> String {
    format!("TOKEN{}XXXXXXXXXXXXXXXXXXXXXXXXXX", name.to_uppercase())
}

/// The password of `name` (account, webmail or team user).
fn password(name: &str) -> String {
    format!("pw-{name}")
}

/// The parameters of `set_user_configuration` and `twofactorauth_set_tfa_config`.
fn set_query(secret: &str, tfa_token: &str) -> String {
    format!("secret={secret}&tfa_token={tfa_token}")
}

/// `Authorization` with `user`'s cPanel API token.
fn cpanel_auth(user: &str) -> String {
    format!("cpanel {user}:{}", token(user))
}

/// `Authorization` with `user`'s WHM API token.
fn whm_auth(user: &str) -> String {
    format!("whm {user}:{}", token(user))
}

/// A request with these headers and body.
fn request(
    method: Method,
    uri: &str,
    headers: &[(HeaderName, &str)],
    body: impl Into<Body>,
) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        b = b.header(name, *value);
    }
    b.body(body.into()).unwrap()
}

/// A form POST to a UAPI function with `user`'s cPanel token.
fn uapi_form(user: &str, function: &str, body: impl Into<Body>) -> Request<Body> {
    request(
        Method::POST,
        &format!("/execute/TwoFactorAuth/{function}"),
        &[
            (header::AUTHORIZATION, &cpanel_auth(user)),
            (header::CONTENT_TYPE, FORM),
        ],
        body,
    )
}

/// A JSON POST to `twofactorauth_set_tfa_config_for_user` with `user`'s WHM token.
fn whm_set_for_user(user: &str, body: String) -> Request<Body> {
    request(
        Method::POST,
        "/json-api/twofactorauth_set_tfa_config_for_user?api.version=1",
        &[
            (header::AUTHORIZATION, &whm_auth(user)),
            (header::CONTENT_TYPE, "application/json"),
        ],
        body,
    )
}

fn account(name: &str, kind: AccountKind, owner: &str, domain: &str) -> Account {
    Account {
        name: name.into(),
        kind,
        owner: owner.into(),
        domain: domain.into(),
    }
}

/// Adds an account with this password hash and the API token [`token`] gives its name.
fn add_with_token(store: &Store, a: &Account, password_hash: &str) {
    store.add_account(a, password_hash).unwrap();
    store
        .add_token(&a.name, &sha256(&token(&a.name)), 0)
        .unwrap();
}

impl Env {
    /// root; reseller `res`; cPanel users `bob` (owner root) and `carol` (owner res); webmail
    /// `info@bob.example` and team user `alice@bob`. Tokens for the accounts, passwords for all.
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = db::open_store(&dir.path().join("data"), None).unwrap();
        let accounts = [
            account("root", AccountKind::Root, "root", ""),
            account("res", AccountKind::Reseller, "root", "res.example"),
            account("bob", AccountKind::User, "root", "bob.example"),
            account("carol", AccountKind::User, "res", "carol.example"),
        ];
        for a in &accounts {
            add_with_token(&store, a, &hash_password(&password(&a.name)).unwrap());
        }
        for (name, kind) in [
            ("info@bob.example", IdentityKind::Webmail),
            ("alice@bob", IdentityKind::Team),
        ] {
            let identity = Identity {
                name: name.into(),
                kind,
                account: "bob".into(),
            };
            store
                .add_identity(&identity, &hash_password(&password(name)).unwrap())
                .unwrap();
        }
        let now = Arc::new(AtomicU64::new(T0));
        let clock_now = now.clone();
        let state = AppState::new(store.clone(), HOST, None)
            .with_clock(Arc::new(move || clock_now.load(Ordering::SeqCst)));
        Env {
            _dir: dir,
            store,
            app: router(state),
            now,
        }
    }

    /// The data directory (the key file's home, and SQLite's file's).
    fn dir(&self) -> std::path::PathBuf {
        self._dir.path().join("data")
    }

    /// Raw SQL on this test's database, bypassing the store (see [`db::raw_sql`]).
    fn sql(&self, sql: &str) -> String {
        db::raw_sql(&self.dir(), sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    fn set_time(&self, t: u64) {
        self.now.store(t, Ordering::SeqCst);
    }

    fn time(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }

    async fn send(&self, req: Request<Body>) -> Reply {
        send_to(&self.app, req).await
    }

    async fn get(&self, uri: &str, auth: Option<&str>) -> Reply {
        let headers: Vec<_> = auth
            .map(|a| (header::AUTHORIZATION, a))
            .into_iter()
            .collect();
        self.send(request(Method::GET, uri, &headers, Body::empty()))
            .await
    }

    /// UAPI call with the user's cPanel token.
    async fn uapi(&self, user: &str, function: &str, query: &str) -> Reply {
        self.get(
            &format!("/execute/TwoFactorAuth/{function}?{query}"),
            Some(&cpanel_auth(user)),
        )
        .await
    }

    /// `set_user_configuration` with the user's cPanel token.
    async fn uapi_set(&self, user: &str, secret: &str, tfa_token: &str) -> Reply {
        self.uapi(
            user,
            "set_user_configuration",
            &set_query(secret, tfa_token),
        )
        .await
    }

    /// UAPI call with Basic auth (webmail and team users have no tokens).
    async fn uapi_basic(&self, user: &str, function: &str, query: &str) -> Reply {
        self.get(
            &format!("/execute/TwoFactorAuth/{function}?{query}"),
            Some(&basic(user, &password(user))),
        )
        .await
    }

    /// WHM API 1 call with the user's WHM token.
    async fn whm(&self, user: &str, function: &str, query: &str) -> Reply {
        self.get(
            &format!("/json-api/{function}?api.version=1&{query}"),
            Some(&whm_auth(user)),
        )
        .await
    }

    /// The stored 2FA secret of `user`.
    fn secret(&self, user: &str) -> Option<String> {
        self.store.tfa_secret(user).unwrap()
    }

    /// Everything a refused request must leave alone.
    fn snapshot(&self) -> String {
        format!(
            "{:?}|{:?}|{:?}|{:?}",
            self.store.all_tfa().unwrap(),
            self.store.all_issuers().unwrap(),
            self.store.setting("SecurityPolicy::TwoFactorAuth").unwrap(),
            self.store.accounts().unwrap()
        )
    }

    /// `POST /login/?login_only=1` (cPanel's scripted login) with these fields and cookie.
    async fn login_only(&self, pairs: &[(&str, &str)], cookie: Option<&str>) -> Reply {
        let mut headers = vec![(header::CONTENT_TYPE, FORM)];
        if let Some(c) = cookie {
            headers.push((header::COOKIE, c));
        }
        self.send(request(
            Method::POST,
            "/login/?login_only=1",
            &headers,
            tfa_testkit::form(pairs),
        ))
        .await
    }

    async fn enroll(&self, user: &str, secret: &str) {
        let r = self
            .uapi_set(user, secret, &code(secret, self.time()))
            .await;
        assert_eq!(r.json()["status"], 1, "{}", r.text);
    }
}

/// Sends one request through a router in-process and reads the whole answer.
pub async fn send_to(app: &Router, req: Request<Body>) -> Reply {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    Reply::new(status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}
