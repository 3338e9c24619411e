//! The routes, the request log, the security headers, the static enrollment page, and the
//! common start of every API request.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::uri::Authority;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get};
use axum::Router;
use tower::ServiceExt;
use tower_http::services::ServeDir;

use super::auth::{self, Credentials};
use super::error::{Api, ApiError};
use super::request::{is_cpsess, read_input, Input};
use super::{login, uapi, whm, AppState};

/// The Content-Security-Policy of every answer. Scripts and styles come from the server's
/// own files only (no inline script or style anywhere: the login form's CSS is `/login.css`,
/// the page's are files next to it); `'wasm-unsafe-eval'` lets the page compile its wasm
/// module; images may be `data:` URLs (the favicon); same-origin frames only (a cPanel theme
/// may embed the page), matching `X-Frame-Options: SAMEORIGIN`; forms post to the server
/// itself; no `<base>`, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'";

/// The login form's stylesheet, built into the binary like the form itself, so the server
/// logs in without `--www` and the form needs no inline style.
const LOGIN_CSS: &str = include_str!("../../../www/login.css");

/// `Strict-Transport-Security` over TLS: a year, this host only (the server does not know
/// whether every subdomain speaks HTTPS).
pub const HSTS: &str = "max-age=31536000";

/// The router: UAPI, WHM API 1, login, and the enrollment page.
pub fn router(state: AppState) -> Router {
    let secure = state.secure;
    let router = Router::new()
        .route("/login", get(login::page).post(login::submit))
        .route("/login/", get(login::page).post(login::submit))
        .route("/login.css", get(login_css))
        // The one-time login URL of WHM's `create_user_session` (cPanel's own path). A visit
        // uses it up, so HEAD (which axum would route to GET) may not.
        .route(
            "/{cpsess}/login/",
            get(whm::session::one_time_login)
                .head(|| async { ApiError::Method { allowed: "GET" }.into_response() }),
        )
        // Logging out changes state, so HEAD (which axum would otherwise route to GET) may not.
        .route(
            "/logout",
            get(login::logout)
                .head(|| async { ApiError::Method { allowed: "GET" }.into_response() }),
        )
        .route("/execute/{module}/{function}", any(uapi::execute))
        .route("/{cpsess}/execute/{module}/{function}", any(uapi::execute))
        .route("/json-api/{function}", any(whm::json))
        .route("/xml-api/{function}", any(whm::xml))
        .route("/{cpsess}/json-api/{function}", any(whm::json))
        .route("/{cpsess}/xml-api/{function}", any(whm::xml))
        .fallback(static_files)
        .layer(middleware::from_fn(log_request))
        .layer(middleware::from_fn_with_state(secure, secure_transport))
        // Outermost: every layer and handler inside sees the client's own address.
        .layer(middleware::from_fn_with_state(
            state.trusted_proxies.clone(),
            forwarded,
        ));
    router.with_state(state)
}

/// Marks a request that a trusted proxy received over HTTPS (`X-Forwarded-Proto: https`).
#[derive(Clone, Copy)]
struct ForwardedHttps;

/// Behind a trusted load balancer or proxy: the client's address is the rightmost entry of
/// `X-Forwarded-For` that is not itself a trusted proxy (entries to its left are whatever the
/// client chose to send, so they are never believed), and `X-Forwarded-Proto: https` counts as
/// TLS. From any other peer both headers are ignored. Throttling, lockouts and the audit log
/// then see the real client, not the balancer that all clients would otherwise share.
async fn forwarded(
    State(proxies): State<Arc<[ipnet::IpNet]>>,
    mut req: Request,
    next: Next,
) -> Response {
    let trusted = |ip: IpAddr| proxies.iter().any(|net| net.contains(&ip));
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let Some(peer) = peer.filter(|p| trusted(p.ip())) else {
        return next.run(req).await;
    };
    let mut client = peer.ip();
    let hops: Vec<String> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|hop| hop.trim().to_owned())
        .collect();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !trusted(ip) {
                    break;
                }
            }
            // A hop that is not an address: the trusted chain ends before it.
            Err(_) => break,
        }
    }
    let https = req
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(client, peer.port())));
    if https {
        req.extensions_mut().insert(ForwardedHttps);
    }
    next.run(req).await
}

/// Over TLS (ours, or a trusted proxy's): HSTS on every answer, and every cookie `Secure` (here,
/// once, rather than at each place a cookie is made, so no cookie can miss it).
async fn secure_transport(State(tls): State<bool>, req: Request, next: Next) -> Response {
    let https = tls || req.extensions().get::<ForwardedHttps>().is_some();
    let mut response = next.run(req).await;
    if !https {
        return response;
    }
    let headers = response.headers_mut();
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static(HSTS),
    );
    let cookies: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| match v.to_str() {
            Ok(text) if !text.to_ascii_lowercase().contains("; secure") => {
                HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or_else(|_| v.clone())
            }
            _ => v.clone(),
        })
        .collect();
    if !cookies.is_empty() {
        headers.remove(header::SET_COOKIE);
        for cookie in cookies {
            headers.append(header::SET_COOKIE, cookie);
        }
    }
    response
}

/// The request path with any `cpsess` token masked, for logs.
fn loggable_path(uri: &Uri) -> String {
    uri.path()
        .split('/')
        .map(|seg| {
            if is_cpsess(seg) {
                "cpsess**********"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `GET /login.css`.
async fn login_css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        LOGIN_CSS,
    )
        .into_response()
}

/// Logs each request (method, masked path, status, time) and adds the security headers.
async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = loggable_path(req.uri());
    let started = Instant::now();
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    // `same-origin`, not `no-referrer`: no other site ever sees a `/cpsessNNNNNNNNNN/` path,
    // and the page's own POSTs (the login form, its API calls) keep a real `Origin` header;
    // under `no-referrer` browsers send `Origin: null`, which the cross-site checks refuse.
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "SAMEORIGIN"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    let status = response.status();
    let ms = started.elapsed().as_millis();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        // A full hashing queue is load, which any client can cause: not an error of ours.
        tracing::warn!(%method, %path, status = status.as_u16(), ms, "request");
    } else if status.is_server_error() {
        tracing::error!(%method, %path, status = status.as_u16(), ms, "request");
    } else {
        tracing::info!(%method, %path, status = status.as_u16(), ms, "request");
    }
    response
}

/// Marks a response as not to be cached (API answers, the login form).
pub fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// An API answer: never cached, and a 405 says which methods the endpoint takes (`allow`,
/// from [`ApiError::allow`]).
pub fn api_answer(resp: Response, allow: Option<String>) -> Response {
    let mut resp = no_store(resp);
    if let Some(allow) = allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
        resp.headers_mut().insert(header::ALLOW, allow);
    }
    resp
}

/// True when a browser says the request comes from another site: `Sec-Fetch-Site:
/// cross-site`, or an `Origin` that is not the request's own. A request with neither header
/// (curl, a script, a same-origin GET) is not cross-site.
pub fn is_cross_site(headers: &HeaderMap, uri: &Uri) -> bool {
    let fetch_site_cross = headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    fetch_site_cross
        || headers
            .get(header::ORIGIN)
            .is_some_and(|origin| !is_own_origin(origin, headers.get(header::HOST), uri))
}

/// Is `origin` this request's own: `http` or `https` with the host and port the request was
/// sent to (its `Host` header, or the URI's authority over HTTP/2)? The scheme is not compared
/// with the connection's: the server speaks plain HTTP and is often behind a TLS proxy.
/// `null`, a userinfo part or anything unparsable is foreign.
fn is_own_origin(origin: &HeaderValue, host: Option<&HeaderValue>, uri: &Uri) -> bool {
    let Some(origin) = origin.to_str().ok().and_then(|o| o.parse::<Uri>().ok()) else {
        return false;
    };
    let default_port = match origin.scheme_str() {
        Some("http") => 80,
        Some("https") => 443,
        _ => return false,
    };
    let own = host
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<Authority>().ok())
        .or_else(|| uri.authority().cloned());
    match (origin.authority(), own) {
        (Some(theirs), Some(own)) => {
            !theirs.as_str().contains('@')
                && theirs.host().eq_ignore_ascii_case(own.host())
                && theirs.port_u16().unwrap_or(default_port)
                    == own.port_u16().unwrap_or(default_port)
        }
        _ => false,
    }
}

/// The common start of a UAPI or WHM API 1 request: HEAD refused (before anything else: an
/// API call may act, and HEAD must not), the `cpsess` path segment's shape, the query and
/// body, `check` on them (before any credential is looked at), then the credentials; a
/// session cookie sent from another site is not honoured. The caller is resolved later,
/// inside the call's store trip.
pub async fn api_request(
    state: &AppState,
    cpsess: Option<&str>,
    req: Request,
    api: Api,
    check: impl FnOnce(&Input) -> Result<(), ApiError>,
) -> Result<(Credentials, Input), ApiError> {
    if req.method() == Method::HEAD {
        return Err(ApiError::HeadRefused);
    }
    if cpsess.is_some_and(|c| !is_cpsess(c)) {
        return Err(ApiError::TokenDenied);
    }
    let (parts, body) = req.into_parts();
    let input = read_input(&parts, body, state.body_timeout).await?;
    check(&input)?;
    let creds = auth::credentials(state, &parts, cpsess, api).await?;
    // The cookie is the one credential a browser adds by itself: a call that rides on it
    // from another site's page (cross-site request forgery) is refused, reads included (a
    // read may return a new secret).
    if matches!(creds, Credentials::Session { .. }) && is_cross_site(&parts.headers, &parts.uri) {
        return Err(ApiError::CrossOrigin);
    }
    Ok((creds, input))
}

/// The enrollment page and its assets. `/cpsessNNNNNNNNNN/...` needs the matching session
/// (otherwise it sends the browser to `/login`); other paths are served as they are. With
/// `--frontend DIR`, `/cpsessNNNNNNNNNN/frontend/...` comes from DIR (cPanel's
/// `base/frontend`: an installed plugin's files), under the same session rule and file rules.
async fn static_files(State(state): State<AppState>, req: Request) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return ApiError::NotFound.into_response();
    }
    if state.www.is_none() && state.frontend.is_none() {
        return ApiError::PageNotServed.into_response();
    }
    let path = req.uri().path().to_owned();
    if !is_servable_path(&path) {
        return ApiError::BadPath.into_response();
    }
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let mut req = req;
    let mut root = state.www.clone();
    if is_cpsess(first) {
        let cpsess = first.to_owned();
        match auth::session_for_page(&state, req.headers(), &cpsess) {
            Ok(true) => {}
            Ok(false) => return Redirect::to("/login").into_response(),
            Err(e) => return e.into_response(),
        }
        let mut rest = path.get(1 + cpsess.len()..).unwrap_or("");
        if rest.is_empty() {
            return Redirect::permanent(&format!("/{cpsess}/")).into_response();
        }
        // cPanel's theme files, where an installed plugin lives: /cpsessN/frontend/jupiter/...
        if let Some(frontend) = &state.frontend {
            if let Some(inside) = rest
                .strip_prefix("/frontend")
                .filter(|r| r.starts_with('/'))
            {
                root = Some(Arc::clone(frontend));
                rest = inside;
            }
        }
        match rest.parse::<Uri>() {
            Ok(uri) => *req.uri_mut() = uri,
            Err(_) => return ApiError::BadPath.into_response(),
        }
    }
    let Some(root) = root else {
        return ApiError::PageNotServed.into_response();
    };
    match ServeDir::new(root.as_path())
        .append_index_html_on_directories(true)
        .oneshot(req)
        .await
    {
        Ok(resp) => {
            let resp = resp.map(Body::new);
            if resp.status().is_server_error() {
                // ServeDir answers 500 to file-system errors a path can provoke (a name too
                // long for the file system, say): the page has no such file.
                tracing::debug!(status = resp.status().as_u16(), "static file refused");
                return ApiError::NotFound.into_response();
            }
            if resp.status() == StatusCode::NOT_FOUND {
                return ApiError::NotFound.into_response();
            }
            resp
        }
        Err(e) => ApiError::Internal(format!("static file: {e}")).into_response(),
    }
}

/// A path the page could hold: every segment, percent-decoded, is UTF-8 without control
/// characters (NUL included) and fits a file name (255 bytes).
fn is_servable_path(path: &str) -> bool {
    path.split('/').all(|segment| {
        percent_encoding::percent_decode_str(segment)
            .decode_utf8()
            .is_ok_and(|s| s.len() <= 255 && !s.chars().any(char::is_control))
    })
}
