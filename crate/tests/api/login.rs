//! `/login` and the `/cpsessNNNNNNNNNN/` sessions it opens: the security code when the policy
//! is on, replays, webmail and team users, bad names, and sessions that expire.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::json;

use tfa_testkit::{code, form, uapi_err, uapi_ok, Reply};

use crate::Trips;
use crate::{password, request, Env, FORM, SECRET, T0};

/// A form POST to `/login`.
fn login_form(body: String) -> Request<Body> {
    request(
        Method::POST,
        "/login",
        &[(header::CONTENT_TYPE, FORM)],
        body,
    )
}

async fn login(env: &Env, user: &str, pass: &str, tfa_token: Option<&str>) -> Reply {
    let mut pairs = vec![("user", user), ("pass", pass)];
    if let Some(t) = tfa_token {
        pairs.push(("tfa_token", t));
    }
    env.send(login_form(form(&pairs))).await
}

/// (cookie header value, cpsess) of a successful login.
fn session_of(r: &Reply) -> (String, String) {
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text);
    let location = r.headers["location"].clone();
    let cpsess = location.trim_matches('/').to_owned();
    assert!(
        cpsess.starts_with("cpsess") && cpsess.len() == 16,
        "{location}"
    );
    assert!(cpsess[6..].bytes().all(|b| b.is_ascii_digit()));
    let cookie = r.headers["set-cookie"].clone();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    (cookie.split(';').next().unwrap().to_owned(), cpsess)
}

/// A UAPI function through the session `cpsess`, with its cookie.
async fn session_uapi(env: &Env, cpsess: &str, function: &str, cookie: &str) -> Reply {
    with_cookie(
        env,
        &format!("/{cpsess}/execute/TwoFactorAuth/{function}"),
        cookie,
    )
    .await
}

async fn with_cookie(env: &Env, uri: &str, cookie: &str) -> Reply {
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
    // The password step only: the security code is a step of its own, shown when needed.
    assert!(r.text.contains("name=\"pass\"") && !r.text.contains("name=\"tfa_token\""));
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
    // Without a code the password step answers the security-code page (a pending session).
    let r = login(&env, "bob", &password("bob"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("id=\"tfa_login_form\""), "{}", r.text);
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
