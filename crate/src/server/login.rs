//! Browser login: `GET /login` shows a form, `POST /login` takes `user`, `pass` and
//! `tfa_token` (cPanel's scripted-login fields), and on success sets an HttpOnly,
//! SameSite=Strict session cookie and redirects (303) to `/cpsessNNNNNNNNNN/`.
//!
//! Never logs the password, the code or the cookie.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::auth::{
    check_password, new_session_ids, session_cookie, sha256, SESSION_COOKIE, SESSION_SECS,
};
use super::error::ApiError;
use super::{client_ip, failure_status, no_store, ops, read_input, AppState};
use crate::store::Session;

/// `GET /login`.
pub async fn page() -> Response {
    form(StatusCode::OK, None)
}

/// `GET /logout`: ends the session and goes back to the form.
pub async fn logout(State(state): State<AppState>, req: Request) -> Response {
    if let Some(cookie) = session_cookie(req.headers()) {
        let hash = sha256(&cookie);
        if let Err(e) = state.db(move |s| s.delete_session(&hash)).await {
            return e.into_response();
        }
    }
    let mut resp = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
    )) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// `POST /login`.
pub async fn submit(State(state): State<AppState>, req: Request) -> Response {
    let ip = client_ip(&req);
    match login(&state, &ip, req).await {
        Ok(resp) => resp,
        Err(e) => {
            let status = match e {
                ApiError::InvalidCode { .. } | ApiError::NoCode => StatusCode::UNAUTHORIZED,
                ref other => failure_status(other),
            };
            let mut lines = vec![match &e {
                ApiError::Unauthorized(why) => why.clone(),
                other => other.reason(),
            }];
            lines.extend(e.warnings());
            form(status, Some(&lines))
        }
    }
}

async fn login(state: &AppState, ip: &str, req: Request) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let input = read_input(&parts, body).await?;
    let p = &input.params;
    let (user, pass) = (p.get("user").unwrap_or(""), p.get("pass").unwrap_or(""));
    let invalid = || ApiError::Unauthorized("The login is invalid.".to_owned());
    if user.is_empty() || pass.is_empty() {
        return Err(invalid());
    }
    let Some(principal) = check_password(state, user, pass).await? else {
        // The name failed to log in, so it may be anything: keep the audit log one line a row.
        let (name, ip, now) = (
            user.escape_debug().take(64).collect::<String>(),
            ip.to_owned(),
            state.now(),
        );
        state
            .db(move |s| {
                s.audit(
                    now,
                    "failed_login",
                    &name,
                    &ip,
                    "wrong user name or password",
                )
            })
            .await?;
        return Err(invalid());
    };
    let code = p.get("tfa_token").unwrap_or("");
    ops::second_factor(state, principal.name(), code, ip, ops::CodeUse::Strict).await?;
    let (cookie, cpsess) = new_session_ids()?;
    let now = state.now();
    let session = Session {
        cpsess: cpsess.clone(),
        principal: principal.name().to_owned(),
        expires: now.saturating_add(SESSION_SECS),
    };
    let (hash, ip) = (sha256(&cookie), ip.to_owned());
    state
        .db(move |s| {
            s.add_session(&hash, &session, now)?;
            s.audit(now, "login", &session.principal, &ip, "session started")
        })
        .await?;
    let mut resp = Redirect::to(&format!("/{cpsess}/")).into_response();
    let cookie = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECS}"
    ))
    .map_err(|_| ApiError::Internal("cookie header".to_owned()))?;
    resp.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(resp)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn form(status: StatusCode, messages: Option<&[String]>) -> Response {
    let notice = messages
        .map(|lines| {
            let items: String = lines
                .iter()
                .map(|l| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(l)))
                .collect();
            format!("<div id=\"login-status\">{items}</div>")
        })
        .unwrap_or_default();
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in</title><link rel="icon" href="data:,">
<style>
body{{margin:0;background:#f6f8fa;color:#1f2328;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}}
main{{max-width:22rem;margin:4rem auto;padding:1.5rem 1.75rem;background:#fff;border:1px solid #d0d7de;border-radius:8px}}
h1{{margin:0 0 .5rem;font-size:1.5rem}}
label{{display:block;margin-top:1rem;font-weight:600}}
.hint{{font-weight:400;color:#57606a;font-size:.875rem}}
input{{width:100%;padding:.5rem .6rem;box-sizing:border-box;border:1px solid #57606a;border-radius:8px;font:inherit}}
input:focus-visible,button:focus-visible{{outline:3px solid #0b57d0;outline-offset:2px}}
button{{margin-top:1.25rem;width:100%;padding:.6rem 1rem;border:0;border-radius:8px;background:#0b57d0;color:#fff;font:inherit;font-weight:600;cursor:pointer}}
.error{{color:#b3261e;font-weight:600;border:1px solid #b3261e;background:#fff5f5;border-radius:8px;padding:.5rem .75rem}}
</style>
</head>
<body>
<main>
<h1>Log in</h1>
{notice}
<form method="post" action="/login">
<label for="user">Username</label><input id="user" name="user" autocomplete="username" autofocus required>
<label for="pass">Password</label><input id="pass" name="pass" type="password" autocomplete="current-password" required>
<label for="tfa_token">Security code <span class="hint">(if two-factor authentication is on)</span></label><input id="tfa_token" name="tfa_token" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{{6}}" maxlength="6">
<button type="submit">Log in</button>
</form>
</main>
</body>
</html>
"#
    );
    no_store((status, Html(html)).into_response())
}
