//! The routes, the request log, the security headers, the static enrollment page, and the
//! common start of every API request.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
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

/// The router: UAPI, WHM API 1, login, and the enrollment page.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/login", get(login::page).post(login::submit))
        .route("/login/", get(login::page).post(login::submit))
        .route("/logout", get(login::logout))
        .route("/execute/{module}/{function}", any(uapi::execute))
        .route("/{cpsess}/execute/{module}/{function}", any(uapi::execute))
        .route("/json-api/{function}", any(whm::json))
        .route("/xml-api/{function}", any(whm::xml))
        .route("/{cpsess}/json-api/{function}", any(whm::json))
        .route("/{cpsess}/xml-api/{function}", any(whm::xml))
        .fallback(static_files)
        .layer(middleware::from_fn(log_request))
        .with_state(state)
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

/// Logs each request (method, masked path, status, time) and adds the security headers.
async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = loggable_path(req.uri());
    let started = Instant::now();
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    let status = response.status();
    let ms = started.elapsed().as_millis();
    if status.is_server_error() {
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

/// The common start of a UAPI or WHM API 1 request: the `cpsess` path segment's shape, the
/// query and body, `check` on them (before any credential is looked at), then the
/// credentials. The caller is resolved later, inside the call's store trip.
pub async fn api_request(
    state: &AppState,
    cpsess: Option<&str>,
    req: Request,
    api: Api,
    check: impl FnOnce(&Input) -> Result<(), ApiError>,
) -> Result<(Credentials, Input), ApiError> {
    if cpsess.is_some_and(|c| !is_cpsess(c)) {
        return Err(ApiError::TokenDenied);
    }
    let (parts, body) = req.into_parts();
    let input = read_input(&parts, body).await?;
    check(&input)?;
    let creds = auth::credentials(state, &parts.headers, cpsess, api).await?;
    Ok((creds, input))
}

/// The enrollment page and its assets. `/cpsessNNNNNNNNNN/...` needs the matching session
/// (otherwise it sends the browser to `/login`); other paths are served as they are.
async fn static_files(State(state): State<AppState>, req: Request) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return ApiError::NotFound.into_response();
    }
    let Some(www) = state.www.clone() else {
        return ApiError::PageNotServed.into_response();
    };
    let path = req.uri().path().to_owned();
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let mut req = req;
    if is_cpsess(first) {
        let cpsess = first.to_owned();
        match auth::session_for_page(&state, req.headers(), &cpsess) {
            Ok(true) => {}
            Ok(false) => return Redirect::to("/login").into_response(),
            Err(e) => return e.into_response(),
        }
        let rest = path.get(1 + cpsess.len()..).unwrap_or("");
        if rest.is_empty() {
            return Redirect::permanent(&format!("/{cpsess}/")).into_response();
        }
        match rest.parse::<Uri>() {
            Ok(uri) => *req.uri_mut() = uri,
            Err(_) => return ApiError::BadPath.into_response(),
        }
    }
    match ServeDir::new(www.as_path())
        .append_index_html_on_directories(true)
        .oneshot(req)
        .await
    {
        Ok(resp) => {
            let resp = resp.map(Body::new);
            if resp.status() == StatusCode::NOT_FOUND {
                return ApiError::NotFound.into_response();
            }
            resp
        }
        Err(e) => ApiError::Internal(format!("static file: {e}")).into_response(),
    }
}
