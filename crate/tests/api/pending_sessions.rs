//! Pending sessions on a pinned clock: a login that owes its security code lives 5 minutes,
//! and a session that becomes pending (its login enrolls under the policy) ends 5 minutes
//! later unless the code comes.

use axum::body::Body;
use axum::http::{header, Method, StatusCode};

use tfa_testkit::{code, Reply};

use crate::Trips;
use crate::{password, request, Env, SECRET, T0};

async fn session_call(env: &Env, token: &str, cookie: &str) -> Reply {
    env.send(request(
        Method::GET,
        &format!("{token}/execute/TwoFactorAuth/get_user_configuration"),
        &[(header::COOKIE, cookie)],
        Body::empty(),
    ))
    .await
}

#[tokio::test]
async fn a_pending_login_expires_after_five_minutes() {
    let env = Env::new();
    env.store
        .set_setting("SecurityPolicy::TwoFactorAuth", "1")
        .unwrap();
    env.enroll("bob", SECRET).await;
    let pass = password("bob");
    let r = env
        .login_only(&[("user", "bob"), ("pass", &pass)], None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.json()["message"], "tfa_required");
    let pending = r.cookie();
    env.set_time(T0 + 301);
    let c = code(SECRET, T0 + 301);
    let r = env.login_only(&[("tfa_token", &c)], Some(&pending)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.json()["message"], "expired_session");
    // Within the five minutes it finishes.
    let r = env
        .login_only(&[("user", "bob"), ("pass", &pass)], None)
        .await;
    let pending = r.cookie();
    env.set_time(T0 + 301 + 299);
    let r = env
        .login_only(&[("tfa_token", &code(SECRET, env.time()))], Some(&pending))
        .await;
    assert_eq!(r.json()["status"], 1, "{}", r.text);
}

#[tokio::test]
async fn a_session_made_pending_by_enrolling_ends_five_minutes_later() {
    let env = Env::new();
    env.store
        .set_setting("SecurityPolicy::TwoFactorAuth", "1")
        .unwrap();
    let pass = password("bob");
    let r = env
        .login_only(&[("user", "bob"), ("pass", &pass)], None)
        .await;
    assert_eq!(r.json()["status"], 1, "{}", r.text);
    let token = r.json()["security_token"].as_str().unwrap().to_owned();
    let cookie = r.cookie();
    assert_eq!(
        session_call(&env, &token, &cookie).await.status,
        StatusCode::OK
    );
    env.enroll("bob", SECRET).await;
    let r = session_call(&env, &token, &cookie).await;
    assert!(r.text.contains("id=\"tfa_login_form\""), "{}", r.text);
    env.set_time(T0 + 301);
    let r = session_call(&env, &token, &cookie).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    // Logging in again with the code opens a full session.
    let r = env
        .login_only(
            &[
                ("user", "bob"),
                ("pass", &pass),
                ("tfa_token", &code(SECRET, env.time())),
            ],
            None,
        )
        .await;
    assert_eq!(r.json()["status"], 1, "{}", r.text);
}
