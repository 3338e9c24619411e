//! API tier: the router in-process (`tower::ServiceExt::oneshot`) over a temp SQLite file with
//! a pinned clock. Every UAPI and WHM API 1 function's success and failure envelopes, byte for
//! byte with the spec's strings; scope and auth rules for root, reseller, user, webmail and team
//! users; bad input per endpoint with the store left unchanged. Expected codes come from the
//! core's RFC-tested `code_at`, never from the server.
#![cfg(all(feature = "server", not(target_arch = "wasm32")))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderName, Method, Request, StatusCode};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};
use tower::ServiceExt;

use tfa::core::totp::code_at;
use tfa::core::Secret;
use tfa::server::auth::{hash_password, sha256};
use tfa::server::{router, AppState};
use tfa::store::{Account, AccountKind, Identity, IdentityKind, Store, StoreError};

const T0: u64 = 1_700_000_010;
const HOST: &str = "host.example";
const SECRET: &str = "JBSWY3DPEHPK3PXP";

struct Env {
    _dir: tempfile::TempDir,
    store: Store,
    app: Router,
    now: Arc<AtomicU64>,
}

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    text: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// `data.<key>`, which must be a string.
    fn data_str(&self, key: &str) -> String {
        self.json()["data"][key].as_str().unwrap().to_owned()
    }
}

fn token(name: &str) -> String {
    format!("TOKEN{}XXXXXXXXXXXXXXXXXXXXXXXXXX", name.to_uppercase())
}

fn password(name: &str) -> String {
    format!("pw-{name}")
}

fn code(secret: &str, t: u64) -> String {
    code_at(&Secret::parse(secret).unwrap(), t)
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

const FORM: &str = "application/x-www-form-urlencoded";

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

/// A file's permission bits.
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A JSON file's contents.
fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

impl Env {
    /// root; reseller `res`; cPanel users `bob` (owner root) and `carol` (owner res); webmail
    /// `info@bob.example` and team user `alice@bob`. Tokens for the accounts, passwords for all.
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data")).unwrap();
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

    fn set_time(&self, t: u64) {
        self.now.store(t, Ordering::SeqCst);
    }

    fn time(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }

    async fn send(&self, req: Request<Body>) -> Resp {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        Resp {
            status,
            headers,
            text: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    async fn get(&self, uri: &str, auth: Option<&str>) -> Resp {
        let headers: Vec<_> = auth
            .map(|a| (header::AUTHORIZATION, a))
            .into_iter()
            .collect();
        self.send(request(Method::GET, uri, &headers, Body::empty()))
            .await
    }

    /// UAPI call with the user's cPanel token.
    async fn uapi(&self, user: &str, function: &str, query: &str) -> Resp {
        self.get(
            &format!("/execute/TwoFactorAuth/{function}?{query}"),
            Some(&cpanel_auth(user)),
        )
        .await
    }

    /// `set_user_configuration` with the user's cPanel token.
    async fn uapi_set(&self, user: &str, secret: &str, tfa_token: &str) -> Resp {
        self.uapi(
            user,
            "set_user_configuration",
            &set_query(secret, tfa_token),
        )
        .await
    }

    /// UAPI call with Basic auth (webmail and team users have no tokens).
    async fn uapi_basic(&self, user: &str, function: &str, query: &str) -> Resp {
        self.get(
            &format!("/execute/TwoFactorAuth/{function}?{query}"),
            Some(&basic(user, &password(user))),
        )
        .await
    }

    /// WHM API 1 call with the user's WHM token.
    async fn whm(&self, user: &str, function: &str, query: &str) -> Resp {
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

    async fn enroll(&self, user: &str, secret: &str) {
        let r = self
            .uapi_set(user, secret, &code(secret, self.time()))
            .await;
        assert_eq!(r.json()["status"], 1, "{}", r.text);
    }
}

fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

fn uapi_ok(data: Value) -> String {
    format!(
        r#"{{"data":{data},"errors":null,"messages":null,"metadata":{{}},"status":1,"warnings":null}}"#
    )
}

fn uapi_err(message: &str) -> String {
    json!({"data":null,"errors":[message],"messages":null,"metadata":{},"status":0,"warnings":null})
        .to_string()
}

fn whm_meta(command: &str, reason: &str, result: u8) -> String {
    format!(
        r#"{{"metadata":{{"command":"{command}","reason":"{reason}","result":{result},"version":1}}}}"#
    )
}

fn whm_ok(command: &str, data: Value) -> String {
    format!(
        r#"{{"data":{data},"metadata":{{"command":"{command}","reason":"OK","result":1,"version":1}}}}"#
    )
}

const INVALID_SET: &str = "Failed to set user configuration: The security code is invalid.";

// ---------------------------------------------------------------- UAPI

#[tokio::test]
async fn uapi_generate_returns_a_fresh_16_char_secret_and_cpanel_uri() {
    let env = Env::new();
    let before = env.snapshot();
    let r = env.uapi("bob", "generate_user_configuration", "").await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    let secret = r.data_str("secret");
    assert_eq!(secret.len(), 16);
    assert!(secret
        .chars()
        .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c)));
    let uri = format!("otpauth://totp/{HOST}:bob?secret={secret}&issuer={HOST}");
    assert_eq!(
        r.text,
        uapi_ok(json!({"otpauth_str": uri, "secret": secret}))
    );
    let again = env
        .uapi("bob", "generate_user_configuration", "")
        .await
        .json();
    assert_ne!(again["data"]["secret"], v["data"]["secret"]);
    assert_eq!(env.snapshot(), before, "generate stores nothing");
}

#[tokio::test]
async fn uapi_set_get_remove_round_trip_byte_for_byte() {
    let env = Env::new();
    let r = env.uapi("bob", "get_user_configuration", "").await;
    assert_eq!(r.text, uapi_ok(json!({"is_enabled": 0})));
    let c = code(SECRET, T0);
    let r = env.uapi_set("bob", SECRET, &c).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text, uapi_ok(json!({"tfa_configured": 1})));
    assert_eq!(env.secret("bob").as_deref(), Some(SECRET));
    let r = env.uapi("bob", "get_user_configuration", "").await;
    assert_eq!(r.text, uapi_ok(json!({"is_enabled": 1, "issuer": HOST})));
    let r = env.uapi("bob", "remove_user_configuration", "").await;
    assert_eq!(r.text, uapi_ok(json!({"tfa_removed": 1})));
    assert_eq!(env.secret("bob"), None);
    // cPanel reports success even when nothing was configured.
    let r = env.uapi("bob", "remove_user_configuration", "").await;
    assert_eq!(r.text, uapi_ok(json!({"tfa_removed": 1})));
    let events: Vec<String> = env
        .store
        .audit_events()
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(events, ["enable", "disable"]);
}

#[tokio::test]
async fn uapi_set_accepts_form_post_and_lowercase_secret_kept_as_given() {
    let env = Env::new();
    let lower = SECRET.to_lowercase();
    let body = set_query(&lower, &code(SECRET, T0));
    let r = env
        .send(uapi_form("bob", "set_user_configuration", body))
        .await;
    assert_eq!(r.text, uapi_ok(json!({"tfa_configured": 1})));
    assert_eq!(env.secret("bob"), Some(lower));
}

#[tokio::test]
async fn uapi_set_refuses_wrong_code_and_leaves_store_unchanged() {
    let env = Env::new();
    let before = env.snapshot();
    let good = code(SECRET, T0);
    let wrong = if good == "000000" { "000001" } else { "000000" };
    let r = env.uapi_set("bob", SECRET, wrong).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text, uapi_err(INVALID_SET));
    // A code two steps old is outside cPanel's ±1 window.
    let old = code(SECRET, T0 - 60);
    let r = env.uapi_set("bob", SECRET, &old).await;
    assert_eq!(r.json()["errors"][0], INVALID_SET);
    assert_eq!(env.snapshot(), before);
}

#[tokio::test]
async fn uapi_set_accepts_one_step_either_side() {
    let env = Env::new();
    for (user, t) in [("bob", T0 - 30), ("carol", T0 + 30)] {
        let c = code(SECRET, t);
        let r = env.uapi_set(user, SECRET, &c).await;
        assert_eq!(r.text, uapi_ok(json!({"tfa_configured": 1})), "{user}");
    }
}

#[tokio::test]
async fn uapi_set_accepts_codes_with_a_leading_zero() {
    let env = Env::new();
    let t = (0..100_000u64)
        .map(|i| T0 + i * 30)
        .find(|&t| code(SECRET, t).starts_with('0'))
        .unwrap();
    env.set_time(t);
    let c = code(SECRET, t);
    let r = env.uapi_set("bob", SECRET, &c).await;
    assert_eq!(r.text, uapi_ok(json!({"tfa_configured": 1})));
}

#[tokio::test]
async fn uapi_set_refuses_a_replayed_code_with_a_hint() {
    let env = Env::new();
    let c = code(SECRET, T0);
    env.enroll("bob", SECRET).await;
    let r = env.uapi_set("bob", SECRET, &c).await;
    let v = r.json();
    assert_eq!(v["status"], 0);
    assert_eq!(v["data"], Value::Null);
    assert_eq!(v["errors"], json!([INVALID_SET]));
    assert!(v["warnings"][0]
        .as_str()
        .unwrap()
        .contains("already been used"));
    // An earlier step is a replay too.
    let earlier = code(SECRET, T0 - 30);
    let r = env.uapi_set("bob", SECRET, &earlier).await;
    assert_eq!(r.json()["errors"], json!([INVALID_SET]));
    // The next step is fine.
    env.set_time(T0 + 30);
    env.enroll("bob", SECRET).await;
}

#[tokio::test]
async fn uapi_set_refuses_malformed_tokens_without_counting_them() {
    let env = Env::new();
    let before = env.snapshot();
    let c = code(SECRET, T0);
    let bad = [
        c[..5].to_owned(),
        format!("{c}1"),
        format!("{}a", &c[..5]),
        format!("%20{}", &c[..5]),
        format!("{}%20{}", &c[..3], &c[3..]),
        "abcdef".to_owned(),
        String::new(),
    ];
    for token in &bad {
        let r = env.uapi_set("bob", SECRET, token).await;
        assert_eq!(r.status, StatusCode::OK, "{token}");
        assert_eq!(r.json()["errors"], json!([INVALID_SET]), "{token}");
    }
    let r = env
        .uapi("bob", "set_user_configuration", &format!("secret={SECRET}"))
        .await;
    assert_eq!(r.text, uapi_err(INVALID_SET));
    assert_eq!(env.snapshot(), before);
    // Eight malformed attempts did not lock anything: a good code still works.
    env.enroll("bob", SECRET).await;
}

#[tokio::test]
async fn uapi_set_refuses_invalid_secrets() {
    let env = Env::new();
    let before = env.snapshot();
    let c = code(SECRET, T0);
    let msg = "Failed to set user configuration: Missing or Invalid: “secret”";
    for q in [
        format!("secret=JBSWY3DPEHPK3PX%3D&tfa_token={c}"),
        format!("secret=JBSWY3DPEHPK3PX1&tfa_token={c}"),
        format!("secret=JBSWY3DP%20EHPK3PXP&tfa_token={c}"),
        format!("secret=&tfa_token={c}"),
        format!("tfa_token={c}"),
        format!("secret=A&tfa_token={c}"),
    ] {
        let r = env.uapi("bob", "set_user_configuration", &q).await;
        assert_eq!(r.status, StatusCode::OK, "{q}");
        assert_eq!(r.text, uapi_err(msg), "{q}");
    }
    assert_eq!(env.snapshot(), before);
}

#[tokio::test]
async fn uapi_webmail_and_team_users_act_on_themselves() {
    let env = Env::new();
    let r = env
        .uapi_basic("info@bob.example", "generate_user_configuration", "")
        .await;
    let uri = r.data_str("otpauth_str");
    assert!(
        uri.starts_with(&format!("otpauth://totp/{HOST}:info%40bob.example?secret=")),
        "{uri}"
    );
    let c = code(SECRET, T0);
    for who in ["info@bob.example", "alice@bob"] {
        let r = env
            .uapi_basic(who, "set_user_configuration", &set_query(SECRET, &c))
            .await;
        assert_eq!(r.text, uapi_ok(json!({"tfa_configured": 1})), "{who}");
        let r = env.uapi_basic(who, "get_user_configuration", "").await;
        assert_eq!(r.text, uapi_ok(json!({"is_enabled": 1, "issuer": HOST})));
    }
    assert!(env.secret("info@bob.example").is_some());
    assert!(env.secret("alice@bob").is_some());
    assert_eq!(env.secret("bob"), None, "the owner is untouched");
    let r = env
        .uapi_basic("alice@bob", "remove_user_configuration", "")
        .await;
    assert_eq!(r.text, uapi_ok(json!({"tfa_removed": 1})));
    assert_eq!(env.secret("alice@bob"), None);
    assert!(env.secret("info@bob.example").is_some());
}

#[tokio::test]
async fn uapi_get_team_user_configuration() {
    let env = Env::new();
    let r = env
        .uapi("bob", "get_team_user_configuration", "team_user=alice")
        .await;
    assert_eq!(r.text, uapi_ok(json!({"is_enabled": 0})));
    env.store.enroll("alice@bob", SECRET, 1).unwrap();
    let r = env
        .uapi("bob", "get_team_user_configuration", "team_user=alice")
        .await;
    assert_eq!(r.text, uapi_ok(json!({"is_enabled": 1, "issuer": HOST})));
    let r = env
        .uapi("bob", "get_team_user_configuration", "team_user=zed")
        .await;
    assert_eq!(
        r.text,
        uapi_err(
            "Failed to get team user configuration: You do not own the team user account “zed”."
        )
    );
    // carol owns no team user alice.
    let r = env
        .uapi("carol", "get_team_user_configuration", "team_user=alice")
        .await;
    assert_eq!(r.json()["status"], 0);
    let r = env.uapi("bob", "get_team_user_configuration", "").await;
    assert_eq!(
        r.text,
        uapi_err("Failed to get team user configuration: Missing or Invalid: “team_user”")
    );
    let r = env
        .uapi("bob", "get_team_user_configuration", "team_user=..%2Fx")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["status"], 0);
}

#[tokio::test]
async fn uapi_unknown_module_and_function_are_clear_4xx() {
    let env = Env::new();
    let auth = cpanel_auth("bob");
    let r = env
        .get("/execute/Nope/get_user_configuration", Some(&auth))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.text,
        uapi_err(
            "Failed to load module “Nope”: no such module. The only module is “TwoFactorAuth”."
        )
    );
    let r = env.get("/execute/TwoFactorAuth/nope", Some(&auth)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.text,
        uapi_err("Could not find function “nope” in module “TwoFactorAuth”.")
    );
}

#[tokio::test]
async fn uapi_refuses_missing_and_wrong_credentials() {
    let env = Env::new();
    let url = "/execute/TwoFactorAuth/get_user_configuration";
    let denied = uapi_err("Access denied");
    let long = "x".repeat(300);
    let cases = [
        None,
        Some("cpanel bob:WRONG".to_owned()),
        Some(whm_auth("bob")),
        Some(format!("cpanel carol:{}", token("bob"))),
        Some("cpanel nobody:XYZ".to_owned()),
        Some(format!("cpanel ../bob:{}", token("bob"))),
        Some(format!("cpanel b/ob:{}", token("bob"))),
        Some(format!("cpanel {long}:{}", token("bob"))),
        Some("cpanel bob".to_owned()),
        Some("Bearer abc".to_owned()),
        Some(basic("bob", "wrong")),
        Some("Basic !!!".to_owned()),
    ];
    for auth in &cases {
        let r = env.get(url, auth.as_deref()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(r.text, denied, "{auth:?}");
    }
    // NUL cannot travel in a header; in a Basic user name it is refused.
    let r = env.get(url, Some(&basic("bo\0b", &password("bob")))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = env.get(url, Some(&basic("bob", &password("bob")))).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn uapi_refuses_big_bodies_and_odd_methods() {
    let env = Env::new();
    let before = env.snapshot();
    let c = code(SECRET, T0);
    let mut body = format!("secret={SECRET}&tfa_token={c}&pad=");
    body.push_str(&"a".repeat(70 * 1024));
    let r = env
        .send(uapi_form("bob", "set_user_configuration", body))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.text, uapi_err("The request body is larger than 64 KiB."));
    let req = request(
        Method::DELETE,
        "/execute/TwoFactorAuth/remove_user_configuration",
        &[(header::AUTHORIZATION, &cpanel_auth("bob"))],
        Body::empty(),
    );
    let r = env.send(req).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.json()["status"], 0);
    let req = request(
        Method::POST,
        "/execute/TwoFactorAuth/set_user_configuration",
        &[
            (header::AUTHORIZATION, &cpanel_auth("bob")),
            (header::CONTENT_TYPE, "text/plain"),
        ],
        "secret=x",
    );
    let r = env.send(req).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(env.snapshot(), before);
}

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
        events.iter().filter(|e| e.event == "failed_code").count(),
        5
    );
    assert_eq!(events.iter().filter(|e| e.event == "lockout").count(), 1);
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
    assert_eq!(r.text, uapi_ok(json!({"tfa_configured": 1})));
}

// ---------------------------------------------------------------- WHM API 1

#[tokio::test]
async fn whm_generate_and_set_tfa_config_for_root() {
    let env = Env::new();
    let r = env
        .whm("root", "twofactorauth_generate_tfa_config", "")
        .await;
    let secret = r.data_str("secret");
    assert_eq!(secret.len(), 16);
    let uri = format!("otpauth://totp/{HOST}:root?secret={secret}&issuer={HOST}");
    assert_eq!(
        r.text,
        whm_ok(
            "twofactorauth_generate_tfa_config",
            json!({"otpauth_str": uri, "secret": secret})
        )
    );
    let c = code(&secret, T0);
    let r = env
        .whm(
            "root",
            "twofactorauth_set_tfa_config",
            &set_query(&secret, &c),
        )
        .await;
    assert_eq!(
        r.text,
        whm_ok("twofactorauth_set_tfa_config", json!({"success": 1}))
    );
    assert_eq!(env.secret("root"), Some(secret.clone()));
    let r = env
        .whm(
            "root",
            "twofactorauth_set_tfa_config",
            &set_query(&secret, &c),
        )
        .await;
    assert_eq!(
        r.text,
        whm_meta(
            "twofactorauth_set_tfa_config",
            "The security code is invalid.",
            0
        )
    );
    let r = env
        .whm(
            "res",
            "twofactorauth_set_tfa_config",
            &format!("secret=ABC%3D&tfa_token={c}"),
        )
        .await;
    assert_eq!(
        r.text,
        whm_meta(
            "twofactorauth_set_tfa_config",
            "Missing or Invalid: “secret”",
            0
        )
    );
    let r = env
        .whm(
            "res",
            "twofactorauth_set_tfa_config",
            &format!("secret={SECRET}&tfa_token=12345"),
        )
        .await;
    assert_eq!(
        r.text,
        whm_meta(
            "twofactorauth_set_tfa_config",
            "The security code is invalid.",
            0
        )
    );
    assert_eq!(env.secret("res"), None);
}

#[tokio::test]
async fn whm_get_user_configs_scopes_root_and_reseller() {
    let env = Env::new();
    env.store.enroll("bob", SECRET, 1).unwrap();
    let r = env.whm("root", "twofactorauth_get_user_configs", "").await;
    assert_eq!(
        r.text,
        whm_ok(
            "twofactorauth_get_user_configs",
            json!({
                "bob": {"is_enabled": 1, "primary_domain": "bob.example"},
                "carol": {"is_enabled": 0, "primary_domain": "carol.example"},
                "res": {"is_enabled": 0, "primary_domain": "res.example"},
                "root": {"is_enabled": 0, "primary_domain": HOST},
            })
        )
    );
    let r = env.whm("res", "twofactorauth_get_user_configs", "").await;
    assert_eq!(
        r.text,
        whm_ok(
            "twofactorauth_get_user_configs",
            json!({"carol": {"is_enabled": 0, "primary_domain": "carol.example"}})
        )
    );
    let r = env
        .whm("res", "twofactorauth_get_user_configs", "user=res")
        .await;
    assert_eq!(r.json()["data"]["res"]["is_enabled"], 0);
    for who in ["bob", "root", "nobody"] {
        let r = env
            .whm(
                "res",
                "twofactorauth_get_user_configs",
                &format!("user={who}"),
            )
            .await;
        assert_eq!(
            r.text,
            whm_meta(
                "twofactorauth_get_user_configs",
                &format!("You do not have access to an account named “{who}”."),
                0
            )
        );
    }
    let r = env
        .whm("root", "twofactorauth_get_user_configs", "user=bob")
        .await;
    assert_eq!(
        r.text,
        whm_ok(
            "twofactorauth_get_user_configs",
            json!({"bob": {"is_enabled": 1, "primary_domain": "bob.example"}})
        )
    );
}

#[tokio::test]
async fn whm_remove_user_config_takes_numbered_and_repeated_users() {
    let env = Env::new();
    for u in ["root", "res", "bob", "carol"] {
        env.store.enroll(u, SECRET, 1).unwrap();
    }
    let r = env
        .whm(
            "root",
            "twofactorauth_remove_user_config",
            "user=bob&user=carol&user-7=nobody",
        )
        .await;
    assert_eq!(
        r.text,
        whm_ok(
            "twofactorauth_remove_user_config",
            json!({
                "failed": {"nobody": "You are not authorized to modify “nobody”: The user “nobody” does not exist."},
                "users_modified": ["bob", "carol"]
            })
        )
    );
    assert_eq!(env.secret("bob"), None);
    assert_eq!(env.secret("carol"), None);
    env.store.enroll("carol", SECRET, 2).unwrap();
    let r = env
        .whm(
            "res",
            "twofactorauth_remove_user_config",
            "user-0=carol&user-1=root&user-2=bob",
        )
        .await;
    assert_eq!(
        r.text,
        whm_ok(
            "twofactorauth_remove_user_config",
            json!({
                "failed": {
                    "bob": "You are not authorized to modify “bob”: You do not have access to an account named “bob”.",
                    "root": "You are not authorized to modify “root”: You do not have access to an account named “root”."
                },
                "users_modified": ["carol"]
            })
        )
    );
    assert!(env.secret("root").is_some());
    // Accounts without 2FA are still listed as modified.
    let r = env
        .whm("root", "twofactorauth_remove_user_config", "user=bob")
        .await;
    assert_eq!(
        r.text,
        whm_ok(
            "twofactorauth_remove_user_config",
            json!({"failed": {}, "users_modified": ["bob"]})
        )
    );
    let r = env
        .whm("root", "twofactorauth_remove_user_config", "")
        .await;
    assert_eq!(
        r.text,
        whm_meta("twofactorauth_remove_user_config", "No users specified.", 0)
    );
    let before = env.snapshot();
    for bad in ["..", "a%2Fb", "a%00b", &"x".repeat(256)] {
        let r = env
            .whm(
                "root",
                "twofactorauth_remove_user_config",
                &format!("user=res&user={bad}"),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.json()["metadata"]["result"], 0);
    }
    assert_eq!(env.snapshot(), before, "a bad name stops the whole call");
}

#[tokio::test]
async fn whm_issuers_resolve_reseller_owner_system_hostname() {
    let env = Env::new();
    let r = env.whm("res", "twofactorauth_get_issuer", "").await;
    assert_eq!(
        r.text,
        whm_ok(
            "twofactorauth_get_issuer",
            json!({"issuer": HOST, "system_wide_issuer": HOST})
        )
    );
    let r = env
        .whm("root", "twofactorauth_set_issuer", "issuer=%22My%20Host%22")
        .await;
    assert_eq!(r.text, whm_meta("twofactorauth_set_issuer", "OK", 1));
    let r = env
        .whm("res", "twofactorauth_set_issuer", "issuer=Res%20Brand")
        .await;
    assert_eq!(r.text, whm_meta("twofactorauth_set_issuer", "OK", 1));
    let r = env.whm("res", "twofactorauth_get_issuer", "").await;
    assert_eq!(
        r.text,
        whm_ok(
            "twofactorauth_get_issuer",
            json!({"issuer": "Res Brand", "system_wide_issuer": "My Host"})
        )
    );
    let carol = env
        .uapi("carol", "generate_user_configuration", "")
        .await
        .data_str("otpauth_str");
    assert!(
        carol.starts_with("otpauth://totp/Res%20Brand:carol?"),
        "{carol}"
    );
    assert!(carol.ends_with("&issuer=Res%20Brand"), "{carol}");
    let bob = env
        .uapi("bob", "generate_user_configuration", "")
        .await
        .data_str("otpauth_str");
    assert!(bob.starts_with("otpauth://totp/My%20Host:bob?"), "{bob}");
    let res = env
        .whm("res", "twofactorauth_generate_tfa_config", "")
        .await
        .data_str("otpauth_str");
    assert!(res.starts_with("otpauth://totp/Res%20Brand:res?"), "{res}");
    let root = env
        .whm("root", "twofactorauth_generate_tfa_config", "")
        .await
        .data_str("otpauth_str");
    assert!(root.starts_with("otpauth://totp/My%20Host:root?"), "{root}");
    let before = env.snapshot();
    let rule = "Failed to set issuer: The “issuer” parameter must be less than or equal to 32 characters in length. It can only use spaces and the following characters: a-z, A-Z, 0-9, ., _, -";
    for bad in ["a%2Cb", "a%40b", &"x".repeat(33), "caf%C3%A9"] {
        let r = env
            .whm("root", "twofactorauth_set_issuer", &format!("issuer={bad}"))
            .await;
        assert_eq!(
            r.text,
            whm_meta("twofactorauth_set_issuer", rule, 0),
            "{bad}"
        );
    }
    let r = env.whm("root", "twofactorauth_set_issuer", "").await;
    assert_eq!(r.json()["metadata"]["result"], 0);
    assert_eq!(env.snapshot(), before);
    // Empty clears: the reseller falls back to the system-wide issuer.
    let r = env.whm("res", "twofactorauth_set_issuer", "issuer=").await;
    assert_eq!(r.text, whm_meta("twofactorauth_set_issuer", "OK", 1));
    let r = env.whm("res", "twofactorauth_get_issuer", "").await;
    assert_eq!(r.json()["data"]["issuer"], "My Host");
}

#[tokio::test]
async fn whm_policy_enable_disable_status() {
    let env = Env::new();
    let status = |v: u8| whm_ok("twofactorauth_policy_status", json!({"is_enabled": v}));
    assert_eq!(
        env.whm("root", "twofactorauth_policy_status", "")
            .await
            .text,
        status(0)
    );
    let r = env.whm("root", "twofactorauth_enable_policy", "").await;
    assert_eq!(r.text, whm_meta("twofactorauth_enable_policy", "OK", 1));
    assert_eq!(
        env.whm("res", "twofactorauth_policy_status", "").await.text,
        status(1)
    );
    let r = env.whm("res", "twofactorauth_disable_policy", "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["metadata"]["result"], 0);
    assert_eq!(
        env.whm("root", "twofactorauth_policy_status", "")
            .await
            .text,
        status(1)
    );
    let r = env.whm("root", "twofactorauth_disable_policy", "").await;
    assert_eq!(r.text, whm_meta("twofactorauth_disable_policy", "OK", 1));
    assert_eq!(
        env.whm("root", "twofactorauth_policy_status", "")
            .await
            .text,
        status(0)
    );
}

#[tokio::test]
async fn whm_get_and_set_tfa_config_for_user() {
    let env = Env::new();
    let r = env
        .whm("root", "twofactorauth_get_tfa_config_for_user", "user=bob")
        .await;
    assert_eq!(
        r.text,
        whm_ok("twofactorauth_get_tfa_config_for_user", json!({"bob": {}}))
    );
    let body = json!({"bob": {
        "primary_account": {"secret": SECRET},
        "email": {"info@bob.example": {"secret": "GEZDGNBVGY3TQOJQ"}},
        "team": {"alice@bob": {"secret": "MZXW6YQ"}}
    }});
    let r = env.send(whm_set_for_user("root", body.to_string())).await;
    assert_eq!(
        r.text,
        whm_meta("twofactorauth_set_tfa_config_for_user", "OK", 1)
    );
    let r = env
        .whm("root", "twofactorauth_get_tfa_config_for_user", "user=bob")
        .await;
    assert_eq!(
        r.text,
        whm_ok(
            "twofactorauth_get_tfa_config_for_user",
            json!({"bob": body["bob"]})
        )
    );
    // Replaces everything: only the primary account is left.
    let r = env
        .send(whm_set_for_user(
            "root",
            json!({"bob": {"primary_account": {"secret": "MZXQ"}}}).to_string(),
        ))
        .await;
    assert_eq!(r.json()["metadata"]["result"], 1);
    assert_eq!(env.secret("alice@bob"), None);
    assert_eq!(env.secret("bob").as_deref(), Some("MZXQ"));

    let before = env.snapshot();
    let cmd = "twofactorauth_set_tfa_config_for_user";
    let cases: Vec<(String, String)> = vec![
        (json!({"bob": {}, "carol": {}}).to_string(), "Invalid data detected in input arguments.".into()),
        (json!({}).to_string(), "Invalid data detected in input arguments.".into()),
        (json!({"nobody": {}}).to_string(), "Invalid user: nobody".into()),
        (json!({"bob": {"primary_account": {"secret": SECRET, "x": 1}}}).to_string(),
         "Invalid data detected in input arguments:  ‘secret’ is the only valid key for ‘primary_account’".into()),
        (json!({"bob": {"primary_account": {}}}).to_string(),
         "Invalid data detected in input arguments:  No ‘secret’ given for primary_account".into()),
        (json!({"bob": {"k": {}}}).to_string(),
         "Invalid data detected in input arguments:  ‘k’ is not a valid key for ‘bob’".into()),
        (json!({"bob": {"email": {"x@carol.example": {"secret": SECRET}}}}).to_string(),
         "Invalid data detected in input arguments:  ‘bob’ does not own an email account named ‘x@carol.example’".into()),
        (json!({"bob": {"team": {"zed@bob": {"secret": SECRET}}}}).to_string(),
         "Invalid data detected in input arguments:  ‘bob’ does not own a team user named ‘zed@bob’".into()),
    ];
    for (body, reason) in cases {
        let r = env.send(whm_set_for_user("root", body.clone())).await;
        assert_eq!(r.text, whm_meta(cmd, &reason, 0), "{body}");
    }
    let r = env.send(whm_set_for_user("root", "{not json".into())).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["metadata"]["result"], 0);
    let r = env
        .send(whm_set_for_user("res", json!({"bob": {}}).to_string()))
        .await;
    assert_eq!(r.text, whm_meta(cmd, "Invalid user: bob", 0));
    let r = env.whm("root", cmd, "").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        r.json()["metadata"]["reason"],
        "This function only accepts POST requests."
    );
    assert_eq!(env.snapshot(), before);

    let r = env
        .whm("res", "twofactorauth_get_tfa_config_for_user", "user=bob")
        .await;
    assert_eq!(
        r.text,
        whm_meta(
            "twofactorauth_get_tfa_config_for_user",
            "Invalid user: bob",
            0
        )
    );
    let r = env
        .whm("res", "twofactorauth_get_tfa_config_for_user", "user=carol")
        .await;
    assert_eq!(
        r.text,
        whm_ok(
            "twofactorauth_get_tfa_config_for_user",
            json!({"carol": {}})
        )
    );
    let r = env
        .whm("root", "twofactorauth_get_tfa_config_for_user", "")
        .await;
    assert_eq!(r.json()["metadata"]["result"], 0);
}

#[tokio::test]
async fn whm_refuses_version_0_unknown_functions_and_non_whm_callers() {
    let env = Env::new();
    let auth = whm_auth("root");
    let r = env
        .get("/json-api/twofactorauth_policy_status", Some(&auth))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.text,
        whm_meta(
            "twofactorauth_policy_status",
            "This server implements WHM API 1 only: add “api.version=1” to the query string. WHM API 0 is not supported.",
            0
        )
    );
    let r = env.whm("root", "twofactorauth_nope", "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.text,
        whm_meta(
            "twofactorauth_nope",
            "Could not find function “twofactorauth_nope” in module “WHM API 1”.",
            0
        )
    );
    let r = env.whm("bob", "twofactorauth_policy_status", "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = env
        .get(
            "/json-api/twofactorauth_policy_status?api.version=1",
            Some(&cpanel_auth("root")),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.text,
        whm_meta("twofactorauth_policy_status", "Access denied", 0)
    );
    let r = env
        .get("/json-api/twofactorauth_policy_status?api.version=1", None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Team and webmail users are not WHM users either.
    let r = env
        .get(
            "/json-api/twofactorauth_policy_status?api.version=1",
            Some(&basic("alice@bob", &password("alice@bob"))),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn whm_xml_output() {
    let env = Env::new();
    let r = env
        .get(
            "/xml-api/twofactorauth_policy_status?api.version=1",
            Some(&whm_auth("root")),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/xml"));
    assert_eq!(
        r.text,
        "<result><data><is_enabled>0</is_enabled></data><metadata><command>/twofactorauth_policy_status</command><reason>OK</reason><result>1</result><version>1</version></metadata></result>"
    );
}

#[tokio::test]
async fn basic_auth_needs_x_cpanel_otp_when_policy_on_and_enrolled() {
    let env = Env::new();
    let url = "/json-api/twofactorauth_policy_status?api.version=1";
    let root_basic = basic("root", &password("root"));
    assert_eq!(env.get(url, Some(&root_basic)).await.status, StatusCode::OK);
    env.store.enroll("root", SECRET, 1).unwrap();
    // Policy off: a stored secret has no effect.
    assert_eq!(env.get(url, Some(&root_basic)).await.status, StatusCode::OK);
    env.store
        .set_setting("SecurityPolicy::TwoFactorAuth", "1")
        .unwrap();
    let r = env.get(url, Some(&root_basic)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.json()["metadata"]["reason"]
        .as_str()
        .unwrap()
        .contains("No security code specified."));
    let with_otp = |otp: String| {
        request(
            Method::GET,
            url,
            &[
                (header::AUTHORIZATION, &root_basic),
                (HeaderName::from_static("x-cpanel-otp"), &otp),
            ],
            Body::empty(),
        )
    };
    let r = env.send(with_otp("123".into())).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = env.send(with_otp(code(SECRET, T0))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Sent with every request: the same code works again within its step...
    let r = env.send(with_otp(code(SECRET, T0))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // ...but an older step is refused once a newer one was used.
    let r = env.send(with_otp(code(SECRET, T0 + 30))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = env.send(with_otp(code(SECRET, T0))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Tokens are not challenged.
    assert_eq!(
        env.whm("root", "twofactorauth_policy_status", "")
            .await
            .status,
        StatusCode::OK
    );
}

// ---------------------------------------------------------------- login and sessions

/// A form POST to `/login`.
fn login_form(body: String) -> Request<Body> {
    request(
        Method::POST,
        "/login",
        &[(header::CONTENT_TYPE, FORM)],
        body,
    )
}

async fn login(env: &Env, user: &str, pass: &str, tfa_token: Option<&str>) -> Resp {
    let mut body = form_urlencoded::Serializer::new(String::new());
    body.append_pair("user", user).append_pair("pass", pass);
    if let Some(t) = tfa_token {
        body.append_pair("tfa_token", t);
    }
    env.send(login_form(body.finish())).await
}

/// (cookie header value, cpsess) of a successful login.
fn session_of(r: &Resp) -> (String, String) {
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let location = r.headers[header::LOCATION].to_str().unwrap().to_owned();
    let cpsess = location.trim_matches('/').to_owned();
    assert!(
        cpsess.starts_with("cpsess") && cpsess.len() == 16,
        "{location}"
    );
    assert!(cpsess[6..].bytes().all(|b| b.is_ascii_digit()));
    let cookie = r.headers[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    (cookie.split(';').next().unwrap().to_owned(), cpsess)
}

/// A UAPI function through the session `cpsess`, with its cookie.
async fn session_uapi(env: &Env, cpsess: &str, function: &str, cookie: &str) -> Resp {
    with_cookie(
        env,
        &format!("/{cpsess}/execute/TwoFactorAuth/{function}"),
        cookie,
    )
    .await
}

async fn with_cookie(env: &Env, uri: &str, cookie: &str) -> Resp {
    env.send(request(
        Method::GET,
        uri,
        &[(header::COOKIE, cookie)],
        Body::empty(),
    ))
    .await
}

#[tokio::test]
async fn login_page_and_session_calls_need_the_matching_cpsess() {
    let env = Env::new();
    let r = env.get("/login", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("name=\"tfa_token\"") && r.text.contains("name=\"pass\""));
    let r = login(&env, "bob", "wrong", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text.contains("The login is invalid."));
    let r = login(&env, "bob", &password("bob"), None).await;
    let (cookie, cpsess) = session_of(&r);
    let r = session_uapi(&env, &cpsess, "get_user_configuration", &cookie).await;
    assert_eq!(r.text, uapi_ok(json!({"is_enabled": 0})));
    let r = with_cookie(
        &env,
        "/execute/TwoFactorAuth/get_user_configuration",
        &cookie,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.text, uapi_err("Token denied"));
    let r = with_cookie(
        &env,
        "/cpsess0000000000/execute/TwoFactorAuth/get_user_configuration",
        &cookie,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = with_cookie(
        &env,
        "/cpsessXYZ/execute/TwoFactorAuth/get_user_configuration",
        &cookie,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = session_uapi(&env, &cpsess, "get_user_configuration", "cpsession=forged").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = env
        .get(
            &format!("/{cpsess}/execute/TwoFactorAuth/get_user_configuration"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // A cPanel session cannot use WHM.
    let r = with_cookie(
        &env,
        &format!("/{cpsess}/json-api/twofactorauth_policy_status?api.version=1"),
        &cookie,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Sessions expire.
    env.set_time(T0 + 9 * 3600);
    let r = session_uapi(&env, &cpsess, "get_user_configuration", &cookie).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn login_asks_for_the_security_code_when_policy_on_and_refuses_replays() {
    let env = Env::new();
    env.store
        .set_setting("SecurityPolicy::TwoFactorAuth", "1")
        .unwrap();
    env.enroll("bob", SECRET).await;
    // The enrollment code's step is used up; log in one step later.
    env.set_time(T0 + 30);
    let r = login(&env, "bob", &password("bob"), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text.contains("No security code specified."), "{}", r.text);
    let r = login(&env, "bob", &password("bob"), Some("000000x")).await;
    assert!(r.text.contains("The security code is invalid."));
    let c = code(SECRET, T0 + 30);
    let r = login(&env, "bob", &password("bob"), Some(&c)).await;
    let (cookie, cpsess) = session_of(&r);
    let r = login(&env, "bob", &password("bob"), Some(&c)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text.contains("The security code is invalid."));
    assert!(r.text.contains("already been used"));
    let r = session_uapi(&env, &cpsess, "get_user_configuration", &cookie).await;
    assert_eq!(r.json()["data"]["is_enabled"], 1);
    // Wrong password never reaches the code check.
    let r = login(&env, "bob", "nope", Some(&c)).await;
    assert!(r.text.contains("The login is invalid."));
}

#[tokio::test]
async fn webmail_and_team_users_log_in_with_their_full_names() {
    let env = Env::new();
    for who in ["info@bob.example", "alice@bob"] {
        let r = login(&env, who, &password(who), None).await;
        let (cookie, cpsess) = session_of(&r);
        let r = session_uapi(&env, &cpsess, "generate_user_configuration", &cookie).await;
        let uri = r.data_str("otpauth_str");
        let account = who.replace('@', "%40");
        assert!(uri.contains(&format!(":{account}?secret=")), "{uri}");
    }
}

#[tokio::test]
async fn login_refuses_bad_names_and_empty_fields_without_5xx() {
    let env = Env::new();
    let long = "x".repeat(300);
    for (u, p) in [
        ("", "x"),
        ("bob", ""),
        ("../bob", "x"),
        ("b/ob", "x"),
        ("bo\0b", "x"),
        (long.as_str(), "x"),
    ] {
        let r = login(&env, u, p, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{u:?}");
    }
    let mut body = "user=bob&pass=".to_owned();
    body.push_str(&"a".repeat(70 * 1024));
    assert_eq!(
        env.send(login_form(body)).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn store_is_versioned_and_private() {
    let env = Env::new();
    assert_eq!(
        env.store.schema_version().unwrap(),
        tfa::store::SCHEMA_VERSION
    );
    let dir = env.store.path().parent().unwrap();
    assert_eq!(mode(dir), 0o700);
    // The database and, while it is open in WAL mode, its -wal and -shm files: all private.
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, ["tfa.sqlite3", "tfa.sqlite3-shm", "tfa.sqlite3-wal"]);
    for f in &files {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
    // Reopening applies no migration twice.
    let again = Store::open(dir).unwrap();
    assert_eq!(again.schema_version().unwrap(), tfa::store::SCHEMA_VERSION);
    assert_eq!(again.accounts().unwrap().len(), 4);
}

#[test]
fn store_tightens_wide_files_and_refuses_a_newer_schema() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let path = Store::open(&dir).unwrap().path().to_owned();
    for p in [&dir, &path] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    Store::open(&dir).unwrap();
    assert_eq!((mode(&dir), mode(&path)), (0o700, 0o600));
    // A database written by a later tfa is left alone, not migrated down or over.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let e = Store::open(&dir).unwrap_err();
    assert!(
        matches!(e, StoreError::TooNew { found: 99, known } if known == tfa::store::SCHEMA_VERSION),
        "{e}"
    );
}

#[tokio::test]
async fn cpanel_import_export_round_trip() {
    use tfa::store::cpanel;
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let tfa_file = dir.path().join("tfa_userdata.json");
    let issuer_file = dir.path().join("issuer_userdata.json");
    // Spec section 5's layout; cPanel keeps only `secret`, and keeps users it does not know.
    std::fs::write(
        &tfa_file,
        r#"{"root":{"secret":"QLLIU5WTY3UTJGNG"},"bob":{"secret":"JBSWY3DPEHPK3PXP","extra":1},"info@bob.example":{"secret":"GEZDGNBVGY3TQOJQ"},"ghost":{"secret":"MZXW6YQ"}}"#,
    )
    .unwrap();
    std::fs::write(
        &issuer_file,
        r#"{"system_wide_issuer":"My Host","res":"Res Brand"}"#,
    )
    .unwrap();
    let s = cpanel::import(&env.store, dir.path()).unwrap();
    assert_eq!((s.configs, s.issuers), (4, 2));
    assert_eq!(s.unknown, ["ghost"]);
    let once = env.snapshot();
    cpanel::import(&env.store, dir.path()).unwrap();
    assert_eq!(env.snapshot(), once, "idempotent");
    let out = tempfile::tempdir().unwrap();
    cpanel::export(&env.store, out.path()).unwrap();
    for f in ["tfa_userdata.json", "issuer_userdata.json"] {
        assert_eq!(mode(&out.path().join(f)), 0o600, "{f}");
    }
    assert_eq!(
        read_json(&out.path().join("tfa_userdata.json")),
        json!({"root":{"secret":"QLLIU5WTY3UTJGNG"},"bob":{"secret":"JBSWY3DPEHPK3PXP"},"info@bob.example":{"secret":"GEZDGNBVGY3TQOJQ"},"ghost":{"secret":"MZXW6YQ"}})
    );
    assert_eq!(
        read_json(&out.path().join("issuer_userdata.json")),
        json!({"system_wide_issuer":"My Host","res":"Res Brand"})
    );
    // Bad input in either file: nothing is written, not even the good entries of a valid
    // secrets file (here a new secret for bob and a new user).
    let good_tfa =
        r#"{"bob":{"secret":"NEWSECRETAAAAAAA"},"newbie":{"secret":"GEZDGNBVGY3TQOJQ"}}"#;
    let good_issuers = r#"{"system_wide_issuer":"Other Host"}"#;
    for (tfa, issuers) in [
        (r#"{"bob":{"secret":"JBSWY3DPEHPK3PX="}}"#, good_issuers),
        (
            r#"{"bob":{"secret":"NEWSECRETAAAAAAA"}, "../x":{"secret":"JBSWY3DPEHPK3PXP"}}"#,
            good_issuers,
        ),
        (
            r#"{"bob":{"secret":"NEWSECRETAAAAAAA"},"carol":{}}"#,
            good_issuers,
        ),
        (r#"{"bob":"#, good_issuers),
        (r#"[1]"#, good_issuers),
        (good_tfa, r#"{"res":"a,b"}"#),
        (good_tfa, r#"{"res":1}"#),
        (good_tfa, r#"{"a/b":"Brand"}"#),
        (good_tfa, r#"{"res":"Res"#),
        (good_tfa, r#"["My Host"]"#),
    ] {
        std::fs::write(&tfa_file, tfa).unwrap();
        std::fs::write(&issuer_file, issuers).unwrap();
        let e = cpanel::import(&env.store, dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("nothing was imported"), "{tfa} {issuers}: {e}");
        assert_eq!(env.snapshot(), once, "{tfa} {issuers}");
    }
    // The same files, both good, do change the store.
    std::fs::write(&tfa_file, good_tfa).unwrap();
    std::fs::write(&issuer_file, good_issuers).unwrap();
    cpanel::import(&env.store, dir.path()).unwrap();
    assert_eq!(env.secret("bob").as_deref(), Some("NEWSECRETAAAAAAA"));
    assert_eq!(env.secret("newbie").as_deref(), Some("GEZDGNBVGY3TQOJQ"));
    assert_eq!(
        env.store.issuer("system_wide_issuer").unwrap().as_deref(),
        Some("Other Host")
    );
    // No secrets file at all is an error too.
    std::fs::remove_file(&tfa_file).unwrap();
    let e = cpanel::import(&env.store, dir.path()).unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");
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

#[tokio::test]
async fn responses_carry_security_headers_and_no_store() {
    let env = Env::new();
    let r = env.uapi("bob", "get_user_configuration", "").await;
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    assert_eq!(r.headers["x-frame-options"], "DENY");
    assert_eq!(r.headers["cache-control"], "no-store");
    assert!(r.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let r = env.get("/", None).await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "no --www: nothing to serve"
    );
    assert!(r.text.contains("--www"));
}

// ---------------------------------------------------------------- bad-input sweep

/// Every endpoint, with every shape of bad input: never a 5xx, always a cPanel envelope, and the
/// store (2FA configs, issuers, policy, accounts) never changes.
#[tokio::test]
async fn bad_input_sweep_every_endpoint_never_5xx_and_leaves_the_store_alone() {
    let env = Env::new();
    env.enroll("bob", SECRET).await;
    env.set_time(T0 + 90);
    env.enroll("carol", "GEZDGNBVGY3TQOJQ").await;
    let wrong = "123456";
    for dt in [0, 30, 60, 90, 120] {
        assert_ne!(code(SECRET, T0 + dt), wrong, "pick another wrong code");
    }
    let long = "x".repeat(256);
    let bad_params: Vec<String> = vec![
        String::new(),
        "secret=&tfa_token=".into(),
        format!("secret=JBSWY3DPEHPK3PX%3D&tfa_token={wrong}"),
        format!("secret=JBSW1Y3D&tfa_token={wrong}"),
        format!("secret=%00&tfa_token={wrong}"),
        format!("secret={SECRET}&tfa_token=12345"),
        format!("secret={SECRET}&tfa_token=1234567"),
        format!("secret={SECRET}&tfa_token=12a456"),
        format!("secret={SECRET}&tfa_token=123%20456"),
        format!("secret={SECRET}&tfa_token=%20123456"),
        "user=..".into(),
        "user=a%2Fb".into(),
        "user=a%00b".into(),
        format!("user={long}"),
        "user=nobody".into(),
        "user=&user-1=".into(),
        "team_user=..".into(),
        "team_user=a%00b".into(),
        format!("team_user={long}"),
        "issuer=a%2Fb".into(),
        format!("issuer={}", "a".repeat(33)),
        "issuer=%00".into(),
        "%ZZ=1&a=%FF&&&=".into(),
    ];
    // Every function the server has, but for those that change the store when they succeed.
    let uapi_functions: Vec<&str> = tfa::server::uapi::FUNCTIONS
        .iter()
        .copied()
        .filter(|f| *f != "remove_user_configuration")
        .collect();
    let whm_functions: Vec<&str> = tfa::server::whm::FUNCTIONS
        .iter()
        .copied()
        .filter(|f| {
            !matches!(
                *f,
                "twofactorauth_enable_policy" | "twofactorauth_disable_policy"
            )
        })
        .collect();
    assert_eq!((uapi_functions.len(), whm_functions.len()), (4, 9));
    let before = env.snapshot();
    let mut calls = 0;
    for params in &bad_params {
        for &f in &uapi_functions {
            for (who, r) in [
                ("bob", env.uapi("bob", f, params).await),
                (
                    "info@bob.example",
                    env.uapi_basic("info@bob.example", f, params).await,
                ),
            ] {
                assert!(
                    r.status.as_u16() < 500,
                    "{who} {f}?{params}: {} {}",
                    r.status,
                    r.text
                );
                let j = r.json();
                assert!(
                    j["status"] == 0 || j["status"] == 1,
                    "{f}?{params}: {}",
                    r.text
                );
                if j["status"] == 0 {
                    assert!(
                        j["errors"][0].as_str().is_some_and(|e| !e.is_empty()),
                        "{}",
                        r.text
                    );
                }
                calls += 1;
            }
            // The same as a form POST.
            let r = env.send(uapi_form("bob", f, params.clone())).await;
            assert!(
                r.status.as_u16() < 500,
                "POST {f} {params}: {} {}",
                r.status,
                r.text
            );
            r.json();
            calls += 1;
        }
        for &f in &whm_functions {
            for who in ["root", "res"] {
                let r = env.whm(who, f, params).await;
                assert!(
                    r.status.as_u16() < 500,
                    "{who} {f}?{params}: {} {}",
                    r.status,
                    r.text
                );
                let j = r.json();
                assert!(
                    j["metadata"]["result"] == 0 || j["metadata"]["result"] == 1,
                    "{}",
                    r.text
                );
                assert_eq!(j["metadata"]["command"], f);
                if j["metadata"]["result"] == 0 {
                    assert_ne!(j["metadata"]["reason"], "OK", "{}", r.text);
                }
                calls += 1;
            }
        }
        assert_eq!(env.snapshot(), before, "after {params:?}");
    }
    // JSON bodies for the one POST-with-JSON function.
    let bodies: Vec<String> = vec![
        String::new(),
        "{".into(),
        "[]".into(),
        "null".into(),
        "{}".into(),
        r#"{"bob":{},"carol":{}}"#.into(),
        r#"{"bob":{"primary_account":{"nope":1}}}"#.into(),
        r#"{"bob":{"primary_account":{"secret":"JBSW1"}}}"#.into(),
        r#"{"bob":{"primary_account":{}}}"#.into(),
        r#"{"bob":{"email":{"x@elsewhere.example":{"secret":"JBSWY3DPEHPK3PXP"}}}}"#.into(),
        r#"{"bob":{"team":{"ghost@bob":{"secret":"JBSWY3DPEHPK3PXP"}}}}"#.into(),
        r#"{"bob":{"wat":{}}}"#.into(),
        r#"{"../x":{}}"#.into(),
        format!(r#"{{"{long}":{{}}}}"#),
        format!(
            r#"{{"bob":{{"primary_account":{{"secret":"{}"}}}}}}"#,
            "A".repeat(70 * 1024)
        ),
    ];
    for body in &bodies {
        for who in ["root", "res", "bob"] {
            let r = env.send(whm_set_for_user(who, body.clone())).await;
            let shown: String = body.chars().take(60).collect();
            assert!(
                r.status.as_u16() < 500,
                "{who} {shown}: {} {}",
                r.status,
                r.text
            );
            let j = r.json();
            assert_eq!(j["metadata"]["result"], 0, "{who} {shown}: {}", r.text);
            calls += 1;
        }
        assert_eq!(
            env.snapshot(),
            before,
            "after body {:?}",
            body.chars().take(60).collect::<String>()
        );
    }
    assert!(calls > 600, "{calls} calls");
}

/// A `multipart/form-data` body with these text fields, as browsers and curl -F send it.
fn multipart(fields: &[(&str, &str)]) -> (String, String) {
    let boundary = "----tfa-test-boundary-7d41";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn multipart_form_posts_work_like_url_encoded_ones() {
    let env = Env::new();
    // UAPI set with a multipart body.
    let (ct, body) = multipart(&[("secret", SECRET), ("tfa_token", &code(SECRET, T0))]);
    let req = request(
        Method::POST,
        "/execute/TwoFactorAuth/set_user_configuration",
        &[
            (header::AUTHORIZATION, &cpanel_auth("bob")),
            (header::CONTENT_TYPE, &ct),
        ],
        body,
    );
    let r = env.send(req).await;
    assert_eq!(r.text, uapi_ok(json!({"tfa_configured": 1})));
    assert_eq!(
        env.store.tfa_secret("bob").unwrap().as_deref(),
        Some(SECRET)
    );
    // WHM remove with a repeated `user` field, renamed as cPanel's legacy parser does.
    env.set_time(T0 + 60);
    env.enroll("carol", SECRET).await;
    let (ct, body) = multipart(&[("user", "bob"), ("user", "carol")]);
    let req = request(
        Method::POST,
        "/json-api/twofactorauth_remove_user_config?api.version=1",
        &[
            (header::AUTHORIZATION, &whm_auth("root")),
            (header::CONTENT_TYPE, &ct),
        ],
        body,
    );
    let r = env.send(req).await;
    let j = r.json();
    assert_eq!(j["metadata"]["result"], 1, "{}", r.text);
    let mut modified: Vec<&str> = j["data"]["users_modified"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    modified.sort();
    assert_eq!(modified, ["bob", "carol"]);
    assert_eq!(env.store.tfa_secret("bob").unwrap(), None);
    assert_eq!(env.store.tfa_secret("carol").unwrap(), None);
}

#[tokio::test]
async fn malformed_multipart_bodies_are_a_clear_400_and_change_nothing() {
    let env = Env::new();
    env.enroll("bob", SECRET).await;
    let before = env.snapshot();
    for (ct, body, want) in [
        (
            "multipart/form-data",
            "--x\r\n\r\n".to_owned(),
            "The multipart body has no boundary.",
        ),
        (
            "multipart/form-data; boundary=zzz",
            "this is not multipart at all".to_owned(),
            "The multipart body is malformed.",
        ),
        (
            "multipart/form-data; boundary=zzz",
            "--zzz\r\nContent-Disposition: form-data; name=\"secret\"\r\n\r\n\u{0}\u{ff}"
                .to_owned(),
            "The multipart body is malformed.",
        ),
    ] {
        let req = request(
            Method::POST,
            "/execute/TwoFactorAuth/remove_user_configuration",
            &[
                (header::AUTHORIZATION, &cpanel_auth("bob")),
                (header::CONTENT_TYPE, ct),
            ],
            body,
        );
        let r = env.send(req).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{ct}: {}", r.text);
        assert_eq!(r.text, uapi_err(want), "{ct}");
        assert_eq!(env.snapshot(), before, "{ct}");
    }
    // A field that is not UTF-8.
    let mut body = b"--zzz\r\nContent-Disposition: form-data; name=\"secret\"\r\n\r\n".to_vec();
    body.extend_from_slice(&[0xff, 0xfe]);
    body.extend_from_slice(b"\r\n--zzz--\r\n");
    let req = request(
        Method::POST,
        "/execute/TwoFactorAuth/remove_user_configuration",
        &[
            (header::AUTHORIZATION, &cpanel_auth("bob")),
            (header::CONTENT_TYPE, "multipart/form-data; boundary=zzz"),
        ],
        body,
    );
    let r = env.send(req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.text, uapi_err("The multipart body is not UTF-8 text."));
    assert_eq!(env.snapshot(), before);
}
