//! The baseline for `cargo xtask bench server`: the smallest axum server, built with the same
//! axum, tokio, features and release profile as `tfa`, so the ratio between the two shows
//! what tfa's own work costs rather than what HTTP on this machine costs.
//!
//! `hello_axum [PORT]` binds 127.0.0.1 (port 0, any free one, by default), prints
//! `Listening on http://ADDR` as `tfa serve` does, and answers `GET /` with a short text.

use std::error::Error;
use std::net::{Ipv4Addr, SocketAddr};

use axum::routing::get;
use axum::Router;

/// The same allocator as `tfa`, so the two differ only in what the handlers do.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn Error>> {
    let port: u16 = match std::env::args().nth(1) {
        Some(arg) => arg
            .parse()
            .map_err(|e| format!("PORT {arg:?} is not a port number: {e}"))?,
        None => 0,
    };
    // The same runtime `tfa` builds (multi-threaded, one worker per core), so the baseline
    // differs from the server only in what the handlers do.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(port))
}

async fn serve(port: u16) -> Result<(), Box<dyn Error>> {
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    println!("Listening on http://{}", listener.local_addr()?);
    let app = Router::new().route("/", get(|| async { "hello\n" }));
    axum::serve(listener, app).await?;
    Ok(())
}
