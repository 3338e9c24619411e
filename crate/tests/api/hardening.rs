//! Hostile browsers and clients (issue 8, points 4 to 7 and 12), in-process: HEAD never acts
//! on an API endpoint; every answer carries the Content-Security-Policy and the login form
//! needs no inline script or style; a login or a session call from another site is refused;
//! a replayed code is refused without counting as a guess; parallel wrong codes cannot get
//! past the limit; and the clock-drift hint names an offset only at enrollment.

use axum::body::Body;
use axum::http::{header, HeaderName, Method, StatusCode};
use futures_util::future::join_all;
use serde_json::json;

use tfa::server::{router, AppState};
use tfa_testkit::{
    assert_invalid_code_without_offset, basic, code, form, uapi_err, whm_meta, Reply, INVALID_SET,
};

use crate::Trips;
use crate::{cpanel_auth, password, request, set_query, whm_auth, Env, FORM, HOST, SECRET, T0};

/// The policy every answer carries.
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'";

const POLICY: &str = "SecurityPolicy::TwoFactorAuth";

/// `POST /login` with these extra headers.
async fn login_with(
    env: &Env,
    user: &str,
    tfa_token: Option<&str>,
    headers: &[(HeaderName, &str)],
) -> Reply {
    let pass = password(user);
    let mut pairs = vec![("user", user), ("pass", pass.as_str())];
    if let Some(t) = tfa_token {
        pairs.push(("tfa_token", t));
    }
    let mut all = vec![(header::CONTENT_TYPE, FORM)];
    all.extend(headers.iter().cloned());
    env.send(request(Method::POST, "/login", &all, form(&pairs)))
        .await
}

/// (cookie, cpsess) of a successful login.
fn session_of(r: &Reply) -> (String, String) {
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text);
    let cpsess = r.headers["location"].trim_matches('/').to_owned();
    let cookie = r.cookie();
    (cookie, cpsess)
}

fn failed_codes(env: &Env) -> usize {
    env.store
        .audit_events()
        .unwrap()
        .iter()
        .filter(|e| e.event.as_str() == "failed_code")
        .count()
}

/// A code of `secret` that is not valid at `t` (so it counts as a wrong guess).
fn wrong_code(t: u64) -> &'static str {
    let window = [code(SECRET, t - 30), code(SECRET, t), code(SECRET, t + 30)];
    ["111111", "222222", "333333", "444444"]
        .into_iter()
        .find(|c| !window.iter().any(|w| w == c))
        .unwrap()
}

#[tokio::test]
async fn head_on_api_endpoints_is_refused_before_anything_else() {
    let env = Env::new();
    env.store.set_setting(POLICY, "1").unwrap();
    env.enroll("bob", SECRET).await;
    let before = (env.snapshot(), env.store.audit_events().unwrap().len());
    let (cpanel, whm) = (cpanel_auth("bob"), whm_auth("root"));
    let root_basic = basic("root", &password("root"));
    let (cpanel, whm, root_basic) = (cpanel.as_str(), whm.as_str(), root_basic.as_str());
    let calls: [(&str, Option<&str>); 10] = [
        (
            "/json-api/twofactorauth_disable_policy?api.version=1",
            Some(whm),
        ),
        (
            "/xml-api/twofactorauth_disable_policy?api.version=1",
            Some(whm),
        ),
        (
            "/json-api/twofactorauth_disable_policy?api.version=1",
            Some(root_basic),
        ),
        (
            "/json-api/twofactorauth_remove_user_config?api.version=1&user=bob",
            Some(whm),
        ),
        (
            "/cpsess0123456789/json-api/twofactorauth_disable_policy?api.version=1",
            None,
        ),
        (
            "/execute/TwoFactorAuth/remove_user_configuration",
            Some(cpanel),
        ),
        (
            "/cpsess0123456789/execute/TwoFactorAuth/remove_user_configuration",
            None,
        ),
        // Refused before the query, the path's token or the credentials are looked at.
        ("/json-api/twofactorauth_disable_policy", Some(whm)),
        (
            "/cpsessXX/execute/TwoFactorAuth/remove_user_configuration",
            None,
        ),
        (
            "/execute/TwoFactorAuth/remove_user_configuration",
            Some("Basic !!!"),
        ),
    ];
    for (uri, auth) in calls {
        let headers: Vec<_> = auth
            .map(|a| (header::AUTHORIZATION, a))
            .into_iter()
            .collect();
        let r = env
            .send(request(Method::HEAD, uri, &headers, Body::empty()))
            .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{uri}");
        assert_eq!(r.headers["allow"], "GET, POST", "{uri}");
        assert_eq!(r.headers["cache-control"], "no-store", "{uri}");
    }
    assert_eq!(
        (env.snapshot(), env.store.audit_events().unwrap().len()),
        before,
        "HEAD changed nothing"
    );
    assert_eq!(env.store.setting(POLICY).unwrap().as_deref(), Some("1"));
    // The same refusal through GET's envelope says why (HEAD answers carry no body).
    let r = env
        .send(request(
            Method::PUT,
            "/json-api/twofactorauth_policy_status?api.version=1",
            &[(header::AUTHORIZATION, whm)],
            Body::empty(),
        ))
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers["allow"], "GET, POST");
    let r = env
        .whm("root", "twofactorauth_set_tfa_config_for_user", "")
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers["allow"], "POST");
    // GET still acts.
    let r = env.whm("root", "twofactorauth_disable_policy", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(env.store.setting(POLICY).unwrap().as_deref(), Some("0"));
}

#[tokio::test]
async fn every_answer_carries_the_content_security_policy() {
    let env = Env::new();
    let www = tempfile::tempdir().unwrap();
    std::fs::write(
        www.path().join("index.html"),
        "<!doctype html><title>x</title>",
    )
    .unwrap();
    let with_www = Env {
        _dir: tempfile::tempdir().unwrap(),
        store: env.store.clone(),
        app: router(AppState::new(
            env.store.clone(),
            HOST,
            Some(www.path().to_path_buf()),
        )),
        now: env.now.clone(),
    };
    let page = with_www.get("/", None).await;
    assert_eq!(page.status, StatusCode::OK);
    let login = env.get("/login", None).await;
    let css = env.get("/login.css", None).await;
    let api = env.uapi("bob", "get_user_configuration", "").await;
    let missing = env.get("/nothing-here", None).await;
    for r in [&page, &login, &css, &api, &missing] {
        assert_eq!(r.headers["content-security-policy"], CSP, "{}", r.text);
        assert_eq!(r.headers["x-frame-options"], "SAMEORIGIN");
        // Not `no-referrer`: under it, browsers send the page's own POSTs with `Origin: null`.
        assert_eq!(r.headers["referrer-policy"], "same-origin");
    }
    // The form needs nothing the policy forbids: no inline script or style.
    assert_eq!(login.status, StatusCode::OK);
    for inline in ["<script", "<style", "style=", "javascript:"] {
        assert!(!login.text.contains(inline), "{inline} in the login form");
    }
    // No event-handler attribute (` onload=`, ` onclick=`, …) either.
    let handler = login.text.match_indices(" on").any(|(i, _)| {
        let name: String = login.text[i + 3..]
            .chars()
            .take_while(char::is_ascii_lowercase)
            .collect();
        login.text[i + 3 + name.len()..].starts_with('=')
    });
    assert!(!handler, "an inline event handler in the login form");
    assert!(login
        .text
        .contains(r#"<link rel="stylesheet" href="/login.css">"#));
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.headers["content-type"].starts_with("text/css"));
    assert!(css.text.contains("button{"));
    // A refused login renders the same form, under the same policy.
    let r = login_with(&env, "bob", None, &[]).await;
    assert_eq!(r.status, StatusCode::FOUND);
    let r = env
        .send(request(
            Method::POST,
            "/login",
            &[(header::CONTENT_TYPE, FORM)],
            "user=bob&pass=wrong",
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers["content-security-policy"], CSP);
    assert!(!r.text.contains("<script"));
}

#[tokio::test]
async fn a_login_posted_from_another_site_starts_no_session() {
    let env = Env::new();
    let host = (header::HOST, HOST);
    let origin = |o| (header::ORIGIN, o);
    let cross = (HeaderName::from_static("sec-fetch-site"), "cross-site");
    for headers in [
        vec![host.clone(), origin("http://evil.example")],
        vec![host.clone(), origin("https://evil.example")],
        vec![host.clone(), origin("http://host.example:8080")],
        vec![host.clone(), origin("http://host.example.evil.example")],
        vec![host.clone(), origin("null")],
        vec![host.clone(), origin("http://user@host.example")],
        vec![origin("http://host.example")],
        vec![host.clone(), cross.clone()],
        vec![host.clone(), origin("http://host.example"), cross.clone()],
    ] {
        let r = login_with(&env, "bob", None, &headers).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(!r.headers.contains_key("set-cookie"), "{headers:?}");
        assert!(
            r.text
                .contains("Login refused: the form was sent from another site."),
            "{}",
            r.text
        );
        assert_eq!(r.headers["content-security-policy"], CSP);
    }
    assert!(
        env.store.audit_events().unwrap().is_empty(),
        "no session started, no password checked"
    );
    // The server's own form (same origin, either scheme: a TLS proxy may front it), and
    // clients that send no Origin, log in.
    for headers in [
        vec![host.clone(), origin("http://host.example")],
        vec![host.clone(), origin("https://HOST.example")],
        vec![
            (header::HOST, "host.example:2083"),
            origin("http://host.example:2083"),
        ],
        vec![
            (header::HOST, "host.example:443"),
            origin("https://host.example"),
        ],
        vec![
            host.clone(),
            (HeaderName::from_static("sec-fetch-site"), "same-origin"),
        ],
        vec![],
    ] {
        let r = login_with(&env, "bob", None, &headers).await;
        assert_eq!(r.status, StatusCode::FOUND, "{headers:?}: {}", r.text);
    }
}

#[tokio::test]
async fn session_calls_from_another_origin_are_refused() {
    let env = Env::new();
    env.enroll("bob", SECRET).await;
    let (cookie, cpsess) = session_of(&login_with(&env, "bob", None, &[]).await);
    let (root_cookie, root_cpsess) = session_of(&login_with(&env, "root", None, &[]).await);
    env.store.set_setting(POLICY, "1").unwrap();
    let call = |uri: String, cookie: String, extra: Vec<(HeaderName, &'static str)>| {
        let mut headers = vec![(header::COOKIE, cookie.as_str()), (header::HOST, HOST)];
        headers.extend(extra);
        env.send(request(Method::POST, &uri, &headers, Body::empty()))
    };
    let remove = format!("/{cpsess}/execute/TwoFactorAuth/remove_user_configuration");
    let disable = format!("/{root_cpsess}/json-api/twofactorauth_disable_policy?api.version=1");
    let generate = format!("/{cpsess}/execute/TwoFactorAuth/generate_user_configuration");
    let evil = (header::ORIGIN, "http://evil.example");
    let cross = (HeaderName::from_static("sec-fetch-site"), "cross-site");
    let refusal = "Permission denied: this request came from another site (its Origin header is not this server's), so the session cookie is not honoured.";
    for extra in [vec![evil.clone()], vec![cross.clone()]] {
        let r = call(remove.clone(), cookie.clone(), extra.clone()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(r.text, uapi_err(refusal));
        let r = call(generate.clone(), cookie.clone(), extra.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "reads too: a read may return a secret"
        );
        let r = call(disable.clone(), root_cookie.clone(), extra.clone()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(r.text, whm_meta("twofactorauth_disable_policy", refusal, 0));
    }
    assert_eq!(env.secret("bob").as_deref(), Some(SECRET));
    assert_eq!(env.store.setting(POLICY).unwrap().as_deref(), Some("1"));
    // Tokens are not ambient credentials: their calls do not depend on Origin.
    let r = env
        .send(request(
            Method::GET,
            "/execute/TwoFactorAuth/get_user_configuration",
            &[(header::AUTHORIZATION, &cpanel_auth("bob")), evil.clone()],
            Body::empty(),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The page's own calls (same origin, or no Origin at all) act.
    let own = (header::ORIGIN, "http://host.example");
    let r = call(disable, root_cookie, vec![own.clone()]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(env.store.setting(POLICY).unwrap().as_deref(), Some("0"));
    let r = call(remove, cookie, vec![]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(env.secret("bob"), None);
}

#[tokio::test]
async fn a_replayed_code_is_refused_without_counting_as_a_wrong_one() {
    let env = Env::new();
    let c = code(SECRET, T0);
    env.enroll("bob", SECRET).await;
    // Far more replays than the limit of five: none counts.
    for _ in 0..8 {
        let r = env.uapi_set("bob", SECRET, &c).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["errors"], json!([INVALID_SET]));
        assert!(r.text.contains("already been used"), "{}", r.text);
    }
    assert_eq!(failed_codes(&env), 0);
    // The same at login, where the policy asks for the code.
    env.store.set_setting(POLICY, "1").unwrap();
    env.set_time(T0 + 30);
    let next = code(SECRET, T0 + 30);
    session_of(&login_with(&env, "bob", Some(&next), &[]).await);
    for _ in 0..8 {
        let r = login_with(&env, "bob", Some(&next), &[]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.text.contains("already been used"), "{}", r.text);
    }
    assert_eq!(failed_codes(&env), 0);
    // No lockout: the next step's code logs in at once.
    env.set_time(T0 + 60);
    session_of(&login_with(&env, "bob", Some(&code(SECRET, T0 + 60)), &[]).await);
    // A wrong code still counts.
    let r = login_with(&env, "bob", Some(wrong_code(T0 + 60)), &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(failed_codes(&env), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_uses_of_one_code_let_one_through_and_lock_nobody_out() {
    let env = Env::new();
    let c = code(SECRET, T0);
    let q = set_query(SECRET, &c);
    let replies = join_all((0..32).map(|_| env.uapi("bob", "set_user_configuration", &q))).await;
    let ok = replies.iter().filter(|r| r.json()["status"] == 1).count();
    assert_eq!(ok, 1);
    for r in replies.iter().filter(|r| r.json()["status"] != 1) {
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(r.text.contains("already been used"), "{}", r.text);
    }
    assert_eq!(failed_codes(&env), 0);
    env.set_time(T0 + 30);
    env.enroll("bob", SECRET).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_wrong_codes_are_evaluated_at_most_up_to_the_limit() {
    let env = Env::new();
    let q = set_query(SECRET, wrong_code(T0));
    let replies = join_all((0..64).map(|_| env.uapi("bob", "set_user_configuration", &q))).await;
    let evaluated = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    let locked = replies
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((evaluated, locked), (5, 59));
    assert_eq!(failed_codes(&env), 5);
    let lockouts = env
        .store
        .audit_events()
        .unwrap()
        .iter()
        .filter(|e| e.event.as_str() == "lockout")
        .count();
    assert_eq!(lockouts, 1);
}

#[tokio::test]
async fn the_drift_hint_names_an_offset_only_where_the_caller_gave_the_secret() {
    let env = Env::new();
    env.enroll("bob", SECRET).await;
    env.store.set_setting(POLICY, "1").unwrap();
    env.set_time(T0 + 30);
    let ahead = code(SECRET, T0 + 30 + 60);
    // Login: a code from a minute ahead is just invalid.
    let r = login_with(&env, "bob", Some(&ahead), &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_invalid_code_without_offset(&r.text, "login");
    // Basic auth with X-CPANEL-OTP: the same.
    let r = env
        .send(request(
            Method::GET,
            "/execute/TwoFactorAuth/get_user_configuration",
            &[
                (header::AUTHORIZATION, &basic("bob", &password("bob"))),
                (HeaderName::from_static("x-cpanel-otp"), &ahead),
            ],
            Body::empty(),
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_invalid_code_without_offset(&r.text, "X-CPANEL-OTP");
    // Enrollment, where the caller supplied the secret: the offset helps and tells nothing.
    let r = env
        .uapi_set("bob", SECRET, &code(SECRET, T0 + 30 + 180))
        .await;
    let hint = r.json()["warnings"][0].as_str().unwrap().to_owned();
    assert!(
        hint.starts_with("The code matches a time about 3 minutes ahead of the current time."),
        "{hint}"
    );
}
