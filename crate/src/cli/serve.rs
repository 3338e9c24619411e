//! `tfa serve`: binds the listener, prints where to go, and runs the server until SIGTERM.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tfa::server::hashing::Hasher;
use tfa::server::listen::{connection_cap_from_file_limit, Timeouts};
use tfa::server::tls::Tls;
use tfa::server::{self, AppState};
use tfa::store::{Limit, Limits, Store};

use super::args::{ServeArgs, TlsMode};
use super::error::{usage, CliError};

pub async fn serve(store: Store, hostname: &str, args: ServeArgs) -> Result<(), CliError> {
    let (password_limits, hasher) = password_settings(&args);
    let tls = tls_settings(&store, hostname, &args)?;
    let www = args.www.or_else(|| {
        let default = PathBuf::from("www");
        default.join("index.html").exists().then_some(default)
    });
    for (flag, dir) in [("--www", &www), ("--frontend", &args.frontend)] {
        if let Some(dir) = dir.as_ref().filter(|d| !d.is_dir()) {
            return Err(usage(format!("{flag} {}: not a directory", dir.display())));
        }
    }
    if let Some(dir) = &args.frontend {
        tracing::info!(frontend = %dir.display(), "serving cPanel theme files at /cpsess…/frontend/");
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError::Io(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::Io(format!("cannot read the bound address: {e}")))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("Listening on {scheme}://{addr}");
    println!("Log in at {scheme}://{addr}/login (root or demo), then enroll on the page it opens.");
    let curl = match (&tls, args.tls) {
        (Some(t), Some(TlsMode::SelfSigned)) => {
            println!(
                "Self-signed certificate: {} (clients must trust it)",
                t.cert_path().display()
            );
            format!("curl --cacert {} ", t.cert_path().display())
        }
        _ => "curl ".to_owned(),
    };
    println!("API: {curl}-u demo:PASSWORD {scheme}://{addr}/execute/TwoFactorAuth/generate_user_configuration");
    // Where the data is (the SQLite file, or the PostgreSQL URL without its password).
    let database = store.location();
    match &www {
        Some(dir) => {
            tracing::info!(%addr, www = %dir.display(), hostname, database, "tfa serving")
        }
        None => tracing::info!(
            %addr,
            hostname,
            database,
            "tfa serving (no --www: the enrollment page is not served)"
        ),
    }
    let timeouts = Timeouts {
        header: Duration::from_secs(args.header_timeout),
        idle: Duration::from_secs(args.idle_timeout),
        body: Duration::from_secs(args.body_timeout),
    };
    let from_files = connection_cap_from_file_limit();
    let max_connections = args.max_connections.map_or(from_files, |n| {
        usize::try_from(n).unwrap_or(from_files).min(from_files)
    });
    audit_retention(&store, args.audit_keep_days, args.audit_max_rows)?;
    let state = AppState::new(store, hostname, www)
        .with_body_timeout(timeouts.body)
        .with_password_limits(password_limits)
        .with_hasher(hasher)
        .with_secure(tls.is_some())
        .with_trusted_proxies(args.trusted_proxies.clone())
        .with_frontend(args.frontend.clone());
    server::run(
        listener,
        state,
        server::shutdown_signal(),
        timeouts,
        max_connections,
        tls,
    )
    .await
    .map_err(|e| CliError::Io(format!("server error: {e}")))?;
    tracing::info!("stopped");
    Ok(())
}

/// The TLS configuration the options ask for (with its SIGHUP reload installed), or none;
/// refuses plain HTTP on an address other machines can reach unless --insecure-http says TLS
/// is terminated in front.
fn tls_settings(
    store: &Store,
    hostname: &str,
    args: &ServeArgs,
) -> Result<Option<Arc<Tls>>, CliError> {
    let tls = match (&args.tls_cert, &args.tls_key, args.tls) {
        (Some(cert), Some(key), _) => Tls::from_files(cert, key),
        (_, _, Some(TlsMode::SelfSigned)) => Tls::self_signed(store.data_dir(), hostname),
        _ => {
            if !args.listen.ip().is_loopback() && !args.insecure_http {
                return Err(usage(format!(
                    "refusing to serve plain HTTP on {}, an address other machines can reach: \
                     passwords, security codes and session cookies would cross the network \
                     unencrypted. Serve HTTPS with --tls-cert FILE --tls-key FILE or \
                     --tls self-signed, or pass --insecure-http if TLS is terminated in front \
                     of tfa.",
                    args.listen
                )));
            }
            return Ok(None);
        }
    };
    let tls = Arc::new(tls.map_err(|e| usage(e.to_string()))?);
    tfa::server::tls::reload_on_hangup(Arc::clone(&tls))
        .map_err(|e| CliError::Io(e.to_string()))?;
    tracing::info!(cert = %tls.cert_path().display(), "TLS on (SIGHUP reloads the certificate)");
    Ok(Some(tls))
}

/// The wrong-password limits and the hashing pool the options ask for, logged once.
fn password_settings(args: &ServeArgs) -> (Limits, Hasher) {
    let limit = |max_failures| Limit {
        max_failures,
        window_secs: args.password_window,
        lock_secs: args.password_lock,
    };
    let limits = Limits {
        identity: limit(args.password_limit_user),
        ip: limit(args.password_limit_ip),
    };
    let workers = args
        .hash_workers
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or_else(Hasher::default_workers);
    let queue = args
        .hash_queue
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or_else(|| Hasher::default_queue(workers));
    let hasher = Hasher::new(workers, queue);
    tracing::info!(
        per_name = args.password_limit_user,
        per_address = args.password_limit_ip,
        window_secs = args.password_window,
        lock_secs = args.password_lock,
        hash_workers = hasher.workers(),
        hash_queue = hasher.queue(),
        "password limits"
    );
    (limits, hasher)
}

/// Stores the audit log's retention and applies it now, in batches (a lowered limit may
/// leave many rows to remove); from then on each new row prunes a few.
fn audit_retention(store: &Store, keep_days: u64, max_rows: u64) -> Result<(), CliError> {
    store.write(move |w| w.set_audit_retention(keep_days, max_rows))?;
    let now = server::system_clock();
    let mut removed = 0;
    loop {
        let batch = store.write(move |w| w.prune_audit(now, 10_000))?;
        if batch == 0 {
            break;
        }
        removed += batch;
    }
    tracing::info!(keep_days, max_rows, removed, "audit retention");
    Ok(())
}
