//! `tfa serve`: binds the listener, prints where to go, and runs the server until SIGTERM.

use std::path::PathBuf;

use tfa::server::{self, AppState};
use tfa::store::Store;

use super::args::ServeArgs;
use super::error::{usage, CliError};

pub async fn serve(store: Store, hostname: &str, args: ServeArgs) -> Result<(), CliError> {
    let www = args.www.or_else(|| {
        let default = PathBuf::from("www");
        default.join("index.html").exists().then_some(default)
    });
    if let Some(dir) = &www {
        if !dir.is_dir() {
            return Err(usage(format!("--www {}: not a directory", dir.display())));
        }
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError::Io(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::Io(format!("cannot read the bound address: {e}")))?;
    println!("Listening on http://{addr}");
    println!("Log in at http://{addr}/login (root or demo), then enroll on the page it opens.");
    println!("API: curl -u demo:PASSWORD http://{addr}/execute/TwoFactorAuth/generate_user_configuration");
    match &www {
        Some(dir) => tracing::info!(%addr, www = %dir.display(), hostname, "tfa serving"),
        None => {
            tracing::info!(%addr, hostname, "tfa serving (no --www: the enrollment page is not served)")
        }
    }
    let state = AppState::new(store, hostname, www);
    server::run(listener, state, server::shutdown_signal())
        .await
        .map_err(|e| CliError::Io(format!("server error: {e}")))?;
    tracing::info!("stopped");
    Ok(())
}
