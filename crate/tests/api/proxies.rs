//! Behind a load balancer (`--trusted-proxy`): from a trusted proxy, and only from one, the
//! client's address comes from `X-Forwarded-For` (the rightmost hop that is not a trusted proxy)
//! and `X-Forwarded-Proto: https` counts as TLS. Throttling and the audit log then see clients,
//! not the balancer they all share; a client cannot pick its own address by sending the header.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderName, Method, StatusCode};
use axum::Router;
use tfa::server::{router, AppState};
use tfa::store::AuditKind;
use tfa_testkit::code;

use crate::{cpanel_auth, request, send_to, set_query, Env, FORM, HOST, SECRET};

/// The balancer, a second proxy hop behind it, and a client that talks to tfa directly.
const BALANCER: &str = "10.0.0.1:40000";
const INNER: &str = "10.0.0.2";
const DIRECT: &str = "198.51.100.9:40000";

/// A router over `env`'s store that trusts 10.0.0.0/30.
fn behind_balancer(env: &Env) -> Router {
    let now = env.now.clone();
    router(
        AppState::new(env.store.clone(), HOST, None)
            .with_clock(Arc::new(move || now.load(Ordering::SeqCst)))
            .with_trusted_proxies(vec!["10.0.0.0/30".parse().unwrap()]),
    )
}

/// A wrong code for bob's enrollment from `peer`, with these extra headers; returns the address
/// the audit log recorded for it.
async fn wrong_code_from(
    env: &Env,
    app: &Router,
    peer: &str,
    headers: &[(HeaderName, &str)],
) -> String {
    // An hour on for each call, so that bob's earlier wrong codes have left the window and
    // never lock him: each call is judged, and audited.
    env.set_time(env.time() + 3600);
    let good = code(SECRET, env.time());
    let wrong = if good == "111111" { "222222" } else { "111111" };
    let auth = cpanel_auth("bob");
    let mut all = vec![(header::AUTHORIZATION, auth.as_str())];
    all.extend(headers.iter().cloned());
    let mut req = request(
        Method::GET,
        &format!(
            "/execute/TwoFactorAuth/set_user_configuration?{}",
            set_query(SECRET, wrong)
        ),
        &all,
        Body::empty(),
    );
    req.extensions_mut()
        .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
    let r = send_to(app, req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let events = env.store.read(|r| r.audit_events()).unwrap();
    let last = events
        .iter()
        .rev()
        .find(|e| e.event == AuditKind::FailedCode)
        .unwrap();
    last.ip.clone()
}

#[tokio::test]
async fn the_client_address_comes_from_a_trusted_proxy_only() {
    let env = Env::new();
    let app = behind_balancer(&env);
    let xff = HeaderName::from_static("x-forwarded-for");
    // Through the balancer: the client it names.
    let ip = wrong_code_from(&env, &app, BALANCER, &[(xff.clone(), "203.0.113.7")]).await;
    assert_eq!(ip, "203.0.113.7");
    // A client's own entries to the left are not believed: the balancer appended the real one.
    let ip = wrong_code_from(
        &env,
        &app,
        BALANCER,
        &[(xff.clone(), "1.2.3.4, 203.0.113.8")],
    )
    .await;
    assert_eq!(ip, "203.0.113.8");
    // Two trusted hops: the address before the first of them.
    let chain = format!("203.0.113.9, {INNER}");
    let ip = wrong_code_from(&env, &app, BALANCER, &[(xff.clone(), &chain)]).await;
    assert_eq!(ip, "203.0.113.9");
    // Garbage where an address should be ends the trusted chain at the hop after it.
    let ip = wrong_code_from(&env, &app, BALANCER, &[(xff.clone(), "nonsense")]).await;
    assert_eq!(ip, "10.0.0.1");
    // No header: the balancer itself.
    let ip = wrong_code_from(&env, &app, BALANCER, &[]).await;
    assert_eq!(ip, "10.0.0.1");
    // Straight from a client: its header is ignored, whatever it claims.
    let ip = wrong_code_from(&env, &app, DIRECT, &[(xff, "203.0.113.7")]).await;
    assert_eq!(ip, "198.51.100.9");
    // And a server that trusts no proxy believes no header.
    let ip = wrong_code_from(
        &env,
        &env.app,
        BALANCER,
        &[(HeaderName::from_static("x-forwarded-for"), "203.0.113.7")],
    )
    .await;
    assert_eq!(ip, "10.0.0.1");
}

/// A password login from `peer` with these headers: (Set-Cookie values, HSTS header).
async fn login_from(
    app: &Router,
    peer: &str,
    headers: &[(HeaderName, &str)],
) -> (Vec<String>, bool) {
    let mut all = vec![(header::CONTENT_TYPE, FORM)];
    all.extend(headers.iter().cloned());
    let mut req = request(
        Method::POST,
        "/login/?login_only=1",
        &all,
        tfa_testkit::form(&[("user", "bob"), ("pass", &crate::password("bob"))]),
    );
    req.extensions_mut()
        .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
    let r = send_to(app, req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The session cookie (the first Set-Cookie: the only one a login sets).
    let cookie = r.headers.get("set-cookie").cloned();
    let cookies: Vec<String> = cookie.into_iter().collect();
    assert!(!cookies.is_empty(), "no cookie: {:?}", r.headers);
    let hsts = r.headers.contains_key("strict-transport-security");
    (cookies, hsts)
}

#[tokio::test]
async fn https_at_a_trusted_balancer_makes_cookies_secure() {
    let env = Env::new();
    let app = behind_balancer(&env);
    let proto = HeaderName::from_static("x-forwarded-proto");
    let (cookies, hsts) = login_from(&app, BALANCER, &[(proto.clone(), "https")]).await;
    assert!(
        hsts && cookies.iter().all(|c| c.contains("; Secure")),
        "{cookies:?}"
    );
    // Plain HTTP at the balancer, or the header from anyone else: not TLS.
    let (cookies, hsts) = login_from(&app, BALANCER, &[(proto.clone(), "http")]).await;
    assert!(
        !hsts && cookies.iter().all(|c| !c.contains("Secure")),
        "{cookies:?}"
    );
    let (cookies, hsts) = login_from(&app, DIRECT, &[(proto, "https")]).await;
    assert!(
        !hsts && cookies.iter().all(|c| !c.contains("Secure")),
        "{cookies:?}"
    );
}
