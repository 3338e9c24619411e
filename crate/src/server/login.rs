//! Browser login: `GET /login` shows a form, `POST /login` takes `user`, `pass` and
//! `tfa_token` (cPanel's scripted-login fields), and on success sets an HttpOnly,
//! SameSite=Strict session cookie and redirects (303) to `/cpsessNNNNNNNNNN/`.
//!
//! The form is `www/login.html`, built into the binary so the server logs in without `--www`.
//! Never logs the password, the code or the cookie.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::auth::{
    check_password, new_session_ids, session_cookie, sha256, PasswordUse, SESSION_COOKIE,
    SESSION_SECS,
};
use super::error::{failure_status, with_retry_after, ApiError};
use super::request::{client_ip, read_input};
use super::router::no_store;
use super::{ops, AppState};
use crate::store::{AuditKind, Session};

/// The login form; `<!--notice-->` is where refusals go.
const FORM: &str = include_str!("../../../www/login.html");

/// `GET /login`.
pub async fn page() -> Response {
    form(StatusCode::OK, None)
}

/// `GET /logout`: ends the session and goes back to the form.
pub async fn logout(State(state): State<AppState>, req: Request) -> Response {
    if let Some(cookie) = session_cookie(req.headers()) {
        let hash = sha256(&cookie);
        if let Err(e) = state.write(move |w| Ok(w.delete_session(&hash)?)).await {
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
    // A form posted from another site's page must not start a session (login CSRF): refused
    // before the body, the password or the store is looked at.
    if super::router::is_cross_site(req.headers(), req.uri()) {
        let e = ApiError::CrossSiteLogin;
        return form(e.status(), Some(&[e.reason()]));
    }
    let ip = client_ip(&req);
    match login(&state, &ip, req).await {
        Ok(resp) => resp,
        Err(e) => {
            let status = match e {
                ApiError::InvalidCode(_) | ApiError::NoCode => StatusCode::UNAUTHORIZED,
                ref other => failure_status(other),
            };
            let mut lines = vec![e.reason()];
            lines.extend(e.warnings());
            // A lockout or a full hashing queue says when to come back.
            with_retry_after(form(status, Some(&lines)), e.retry_after())
        }
    }
}

async fn login(state: &AppState, ip: &str, req: Request) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let input = read_input(&parts, body, state.body_timeout).await?;
    let p = &input.params;
    let (user, pass) = (p.get("user").unwrap_or(""), p.get("pass").unwrap_or(""));
    if user.is_empty() || pass.is_empty() {
        return Err(ApiError::LoginInvalid);
    }
    // Throttled, and a refusal is audited there (a name that matches nobody as a keyed hash:
    // it may be a password typed into the wrong field).
    let Some(principal) = check_password(state, user, pass, ip, PasswordUse::Login).await? else {
        return Err(ApiError::LoginInvalid);
    };
    let now = state.now();
    let (cookie, cpsess) = new_session_ids()?;
    let session = Session {
        cpsess: cpsess.clone(),
        principal: principal.name().to_owned(),
        expires: now.saturating_add(SESSION_SECS),
    };
    let code = p.get("tfa_token").unwrap_or("").to_owned();
    let (hash, ip) = (sha256(&cookie), ip.to_owned());
    // The second factor, the session and its audit row: one write trip.
    state
        .write(move |w| {
            ops::second_factor(w, &session.principal, &ip, now, &code, ops::CodeUse::Login)?;
            w.add_session(&hash, &session, now)?;
            Ok(w.audit(
                now,
                AuditKind::Login,
                &session.principal,
                &ip,
                "session started",
            )?)
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
    no_store((status, Html(FORM.replacen("<!--notice-->", &notice, 1))).into_response())
}
