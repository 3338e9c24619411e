//! The cPanel-compatible HTTP server (feature `server`).
//!
//! HTTP <-> Rust only: TOTP maths live in [`crate::core`], persistence in [`crate::store`],
//! wording and status codes in [`error`]. The layout follows a request:
//! [`router`] (routes, log, static page) -> [`request`] (address, parameters) -> [`auth`]
//! (credentials) -> one store trip ([`state::api_trip`]) running a handler of [`uapi`] or
//! [`whm`] over [`ops`] -> an envelope from [`error`] (JSON, or XML/YAML via [`format`]).
//! [`login`] is the browser's way in, in the page's languages ([`i18n`]).
//!
//! Nothing here logs a query string, a body, a cookie or an `Authorization` header: request
//! logs carry the method, the path (with the `cpsess` token masked), the status and the time.

pub mod auth;
pub mod envelope;
pub mod error;
pub mod format;
pub mod hashing;
pub mod i18n;
pub mod listen;
mod login;
pub mod ops;
pub mod request;
pub mod router;
pub mod state;
pub mod tls;
pub mod uapi;
pub mod uapi_recovery;
pub mod uapi_tokens;
pub mod whm;

pub use error::ApiError;
pub use request::{Input, Params, BODY_LIMIT};
pub use router::router;
pub use state::{api_trip, random_bytes, system_clock, AppState, Clock, Ctx, Trip};

/// Serves the router on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish, within the timeouts and connection cap of [`listen`], over TLS when `tls` is
/// given ([`tls`]). Client addresses reach the handlers for throttling.
pub async fn run<F>(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: F,
    timeouts: listen::Timeouts,
    max_connections: usize,
    tls: Option<std::sync::Arc<tls::Tls>>,
) -> std::io::Result<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    listen::serve(
        listener,
        router(state),
        shutdown,
        timeouts,
        max_connections,
        tls,
    )
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
