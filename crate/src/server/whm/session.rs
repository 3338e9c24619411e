//! `create_user_session` and the one-time login URL it returns (cPanel's single sign-on).
//!
//! The call stores only the SHA-256 of the URL's 256-bit secret, with the login it is for,
//! the `cpsess` of the session it will open and its expiry ([`ONE_TIME_LOGIN_SECS`]). A GET of
//! `/cpsessNNNNNNNNNN/login/?session=USER:SECRET` uses it up in one write job (a second visit,
//! or a late one, finds nothing) and opens a full session: the cookie and a redirect to
//! `/cpsessNNNNNNNNNN/`. Like cPanel's, that session asks for no security code: the caller
//! (root or the owning reseller) has already authenticated, with its own factor.

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::json;

use super::{access, check_user_param, Answer};
use crate::server::auth::{new_session_ids, sha256, SESSION_COOKIE, SESSION_SECS};
use crate::server::request::{client_ip, is_cpsess};
use crate::server::router::no_store;
use crate::server::{random_bytes, ApiError, AppState, Ctx, Params, Trip};
use crate::store::{Account, AccountKind, AuditKind, IdentityKind, Principal, Session};

/// How long a one-time login URL may wait for its visit: a client calls
/// `create_user_session` and follows the URL at once (cPanel documents no figure for the
/// URL itself; its sessions end after 15 minutes idle).
pub const ONE_TIME_LOGIN_SECS: u64 = 60;

/// The services cPanel's `create_user_session` takes.
const SERVICES: &[&str] = &["cpaneld", "whostmgrd", "webmaild"];

/// May `principal` use `service`? WHM is for root and resellers; cPanel for cPanel accounts
/// (resellers have one) and team users; webmail for everyone.
fn service_allows(service: &str, principal: &Principal) -> bool {
    match (service, principal) {
        ("whostmgrd", Principal::Account(a)) => {
            matches!(a.kind, AccountKind::Root | AccountKind::Reseller)
        }
        ("cpaneld", Principal::Account(a)) => a.kind != AccountKind::Root,
        ("cpaneld", Principal::Identity(i)) => i.kind == IdentityKind::Team,
        ("webmaild", _) => true,
        _ => false,
    }
}

/// `create_user_session` (`user`, `service`; `app` and `locale` are accepted and ignored):
/// `{url, session, expires, service, cp_security_token}`. The `url` is a path here;
/// [`super::handle`] makes it absolute with the request's own host.
pub fn create_user_session(
    trip: Trip<'_, '_>,
    ctx: &Ctx,
    me: &Account,
    p: &Params,
) -> Result<Answer, ApiError> {
    let user = p
        .get("user")
        .filter(|u| !u.is_empty())
        .ok_or(ApiError::MissingOrInvalid("user"))?;
    let service = p
        .get("service")
        .filter(|s| !s.is_empty())
        .ok_or(ApiError::MissingOrInvalid("service"))?;
    if !SERVICES.contains(&service) {
        return Err(ApiError::BadService(service.to_owned()));
    }
    check_user_param(user)?;
    let w = trip.writer()?;
    let principal = w
        .principal(user)?
        .ok_or_else(|| ApiError::NoAccess(user.to_owned()))?;
    // Root, or the reseller that owns the account (or the identity's account).
    let account = match &principal {
        Principal::Account(a) => a.name.clone(),
        Principal::Identity(i) => i.account.clone(),
    };
    access(w, me, &account)?.map_err(|_| ApiError::NoAccess(user.to_owned()))?;
    if !service_allows(service, &principal) {
        return Err(ApiError::ServiceNotFor {
            user: user.to_owned(),
            service: service.to_owned(),
        });
    }
    let secret = data_encoding::BASE64URL_NOPAD.encode(&random_bytes::<32>()?);
    let (_, cpsess) = new_session_ids()?;
    let expires = ctx.now.saturating_add(ONE_TIME_LOGIN_SECS);
    w.add_one_time_login(
        &sha256(&secret),
        principal.name(),
        &cpsess,
        expires,
        ctx.now,
    )?;
    let session = format!("{}:{secret}", principal.name());
    let url = format!(
        "/{cpsess}/login/?session={}",
        utf8_percent_encode(&session, NON_ALPHANUMERIC)
    );
    Ok(Some(json!({
        "url": url,
        "session": session,
        "expires": expires,
        "service": service,
        "cp_security_token": format!("/{cpsess}"),
    })))
}

/// The `session` query parameter of a one-time login URL.
fn session_param(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "session")
        .map(|(_, v)| v.into_owned())
}

/// `GET /{cpsess}/login/?session=USER:SECRET`: uses up the one-time login and opens its
/// session, or refuses (401) if it is unknown, used or expired.
pub async fn one_time_login(
    State(state): State<AppState>,
    Path(cpsess): Path<String>,
    req: Request,
) -> Response {
    match open(&state, &cpsess, req).await {
        Ok(resp) => resp,
        Err(e) => no_store((e.status(), e.reason()).into_response()),
    }
}

async fn open(state: &AppState, cpsess: &str, req: Request) -> Result<Response, ApiError> {
    if !is_cpsess(cpsess) {
        return Err(ApiError::NotFound);
    }
    let value = session_param(req.uri().query()).ok_or(ApiError::OneTimeLoginInvalid)?;
    let (user, secret) = value.split_once(':').ok_or(ApiError::OneTimeLoginInvalid)?;
    let (hash, user, path_cpsess) = (sha256(secret), user.to_owned(), cpsess.to_owned());
    let ip = client_ip(&req).to_string();
    let req_cross_site = req
        .headers()
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    let (cookie, _) = new_session_ids()?;
    let cookie_hash = sha256(&cookie);
    let now = state.now();
    let cpsess = state
        .write(move |w| {
            let Some((principal, cpsess)) = w.take_one_time_login(&hash, now)? else {
                return Err(ApiError::OneTimeLoginInvalid);
            };
            // The URL is used up either way; a mismatched one opens nothing.
            if principal != user || cpsess != path_cpsess {
                return Err(ApiError::OneTimeLoginInvalid);
            }
            let session = Session {
                cpsess: cpsess.clone(),
                principal,
                expires: now.saturating_add(SESSION_SECS),
                // A full session: the caller that made the URL gave its own factor.
                tfa_verified: true,
            };
            w.add_session(&cookie_hash, &session, now)?;
            w.audit(
                now,
                AuditKind::Login,
                &session.principal,
                &ip,
                "session started by a one-time login URL (create_user_session)",
            )?;
            Ok(cpsess)
        })
        .await?;
    let target = format!("/{cpsess}/");
    // A browser that followed the URL from another site would not send the SameSite=Strict
    // cookie on a redirect that is still part of that cross-site navigation: it gets a page
    // that moves on by itself, which is a navigation of our own site. Scripts get the 302.
    let cross_site = req_cross_site;
    let mut resp = if cross_site {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
                 <meta http-equiv=\"refresh\" content=\"0;url={target}\"><title>Logging in</title>\
                 </head><body><p><a href=\"{target}\">Continue</a></p></body></html>\n"
            ),
        )
            .into_response()
    } else {
        (StatusCode::FOUND, [(header::LOCATION, target)]).into_response()
    };
    let cookie = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECS}"
    ))
    .map_err(|_| ApiError::Internal("cookie header".to_owned()))?;
    resp.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(no_store(resp))
}
