//! The cPanel-compatible HTTP server (feature `server`): state, router, request plumbing and
//! graceful shutdown.
//!
//! HTTP <-> Rust only: TOTP maths live in [`crate::core`], persistence in [`crate::store`],
//! wording and status codes in [`error`]. Nothing here logs a query string, a body, a cookie or
//! an `Authorization` header: request logs carry the method, the path (with the `cpsess` token
//! masked), the status and the time taken.

pub mod auth;
pub mod error;
pub mod format;
mod login;
pub mod ops;
pub mod uapi;
pub mod whm;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get};
use axum::Router;
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::store::Store;
pub use error::ApiError;

/// The largest request body read, as the issue asks (64 KiB).
pub const BODY_LIMIT: usize = 64 * 1024;

/// Where the server gets "now" from, as unix seconds. Tests pin it.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The real clock: the one place on the server side that reads the system time.
#[allow(clippy::disallowed_methods)] // the server's single real clock; everything else takes time from AppState
pub fn system_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Everything a handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// The server hostname: root's `primary_domain` and the last issuer fallback.
    pub hostname: Arc<str>,
    /// The enrollment page's directory, if served.
    pub www: Option<Arc<PathBuf>>,
    pub clock: Clock,
}

impl AppState {
    /// A state over `store` with the real clock.
    pub fn new(store: Store, hostname: &str, www: Option<PathBuf>) -> AppState {
        AppState {
            store,
            hostname: Arc::from(hostname),
            www: www.map(Arc::new),
            clock: Arc::new(system_clock),
        }
    }

    /// Replaces the clock (tests pin it).
    pub fn with_clock(mut self, clock: Clock) -> AppState {
        self.clock = clock;
        self
    }

    /// Now, in unix seconds.
    pub fn now(&self) -> u64 {
        (self.clock)()
    }

    /// Runs blocking store work off the async threads.
    pub async fn db<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, crate::store::StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| ApiError::Internal(format!("store task failed: {e}")))?
            .map_err(ApiError::from)
    }
}

/// Fills a buffer from the OS's random source.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf)
        .map_err(|e| ApiError::Internal(format!("no randomness available: {e}")))?;
    Ok(buf)
}

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

/// Serves the router on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish. Client addresses reach the handlers for throttling.
pub async fn run<F>(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: F,
) -> std::io::Result<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// The caller's address, or `unknown` when the router runs without connection info (tests).
pub fn client_ip(req: &Request) -> String {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string())
}

/// True for `cpsess` followed by ten digits.
pub fn is_cpsess(segment: &str) -> bool {
    segment
        .strip_prefix("cpsess")
        .is_some_and(|d| d.len() == 10 && d.bytes().all(|b| b.is_ascii_digit()))
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

/// The enrollment page and its assets. `/cpsessNNNNNNNNNN/...` needs the matching session
/// (otherwise it sends the browser to `/login`); other paths are served as they are.
async fn static_files(State(state): State<AppState>, req: Request) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return (StatusCode::NOT_FOUND, "Not found\n").into_response();
    }
    let Some(www) = state.www.clone() else {
        return (
            StatusCode::NOT_FOUND,
            "The enrollment page is not served: start `tfa serve` with --www DIR.\n",
        )
            .into_response();
    };
    let path = req.uri().path().to_owned();
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let mut req = req;
    if is_cpsess(first) {
        let cpsess = first.to_owned();
        match auth::session_for_page(&state, req.headers(), &cpsess).await {
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
            Err(_) => return (StatusCode::BAD_REQUEST, "Bad path\n").into_response(),
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
                return (StatusCode::NOT_FOUND, "Not found\n").into_response();
            }
            resp
        }
        Err(e) => ApiError::Internal(format!("static file: {e}")).into_response(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (failure_status(&self), format!("{}\n", self.reason())).into_response()
    }
}

/// The HTTP status of a failed request; an internal error is logged here (the client only
/// gets a generic reason).
fn failure_status(e: &ApiError) -> StatusCode {
    if let ApiError::Internal(detail) = e {
        tracing::error!(%detail, "internal error");
    }
    e.status()
}

/// Marks a response as not to be cached (API answers, the login form).
fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The common start of a UAPI or WHM API 1 request: the `cpsess` path segment's shape, the
/// query and body, `check` on them (before any credential is looked at), then the caller.
async fn api_request(
    state: &AppState,
    cpsess: Option<&str>,
    req: Request,
    api: error::Api,
    ip: &str,
    check: impl FnOnce(&Input) -> Result<(), ApiError>,
) -> Result<(auth::Caller, Input), ApiError> {
    if cpsess.is_some_and(|c| !is_cpsess(c)) {
        return Err(ApiError::TokenDenied);
    }
    let (parts, body) = req.into_parts();
    let input = read_input(&parts, body).await?;
    check(&input)?;
    let caller = auth::authenticate(state, &parts.headers, cpsess, api, ip).await?;
    Ok((caller, input))
}

/// Request parameters after cPanel's legacy renaming of repeated keys: `foo=a&foo=b&foo=c`
/// becomes `foo=a, foo-0=b, foo-1=c` (spec section 1.6).
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Builds from raw pairs (all of a request's, in order), applying the renaming.
    pub fn from_pairs<I: IntoIterator<Item = (String, String)>>(raw: I) -> Params {
        let mut seen: std::collections::HashMap<String, usize> = Default::default();
        let pairs = raw
            .into_iter()
            .map(|(key, value)| {
                let n = seen.entry(key.clone()).or_insert(0);
                let name = match *n {
                    0 => key,
                    k => format!("{key}-{}", k - 1),
                };
                *n += 1;
                (name, value)
            })
            .collect();
        Params { pairs }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every pair after renaming, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

/// The raw pairs of `application/x-www-form-urlencoded` text.
fn form_pairs(text: &str) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(text.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()))
}

/// What an API request carried besides its path: parameters and, for JSON bodies, the raw body.
pub struct Input {
    pub params: Params,
    pub json: Option<axum::body::Bytes>,
}

/// The text fields of a `multipart/form-data` body, in order, as raw pairs.
async fn multipart_pairs(
    content_type: &str,
    body: axum::body::Bytes,
) -> Result<Vec<(String, String)>, ApiError> {
    let bad = |what: &str| ApiError::BadRequest(format!("The multipart body {what}."));
    let boundary = multer::parse_boundary(content_type).map_err(|_| bad("has no boundary"))?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut pairs = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| bad("is malformed"))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(|_| bad("is malformed"))?;
        let value = String::from_utf8(bytes.into()).map_err(|_| bad("is not UTF-8 text"))?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// Reads the query string and, for POST, the form or JSON body (at most [`BODY_LIMIT`]).
pub async fn read_input(parts: &Parts, body: Body) -> Result<Input, ApiError> {
    let method = &parts.method;
    if method != Method::GET && method != Method::POST && method != Method::HEAD {
        return Err(ApiError::Method {
            allowed: "GET and POST",
        });
    }
    let full_content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let content_type = full_content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let body = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| ApiError::BodyTooLarge)?;
    let query = form_pairs(parts.uri.query().unwrap_or(""));
    if method != Method::POST || body.is_empty() {
        return Ok(Input {
            params: Params::from_pairs(query),
            json: None,
        });
    }
    let (more, json) = match content_type.as_str() {
        "application/x-www-form-urlencoded" | "" => {
            let text = std::str::from_utf8(&body)
                .map_err(|_| ApiError::BadRequest("The form body is not valid UTF-8.".to_owned()))?;
            (form_pairs(text).collect(), None)
        }
        "application/json" => (Vec::new(), Some(body)),
        // cPanel's form parser takes multipart bodies too (spec section 1.1).
        "multipart/form-data" => (multipart_pairs(full_content_type, body).await?, None),
        other => return Err(ApiError::MediaType(format!(
            "The content type “{other}” is not supported; send application/x-www-form-urlencoded or multipart/form-data (or application/json where a function takes JSON)."
        ))),
    };
    Ok(Input {
        params: Params::from_pairs(query.chain(more)),
        json,
    })
}
