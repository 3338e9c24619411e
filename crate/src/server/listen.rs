//! The connection loop: accepts connections, serves each with hyper (HTTP/1.1), and keeps any
//! client from holding the server's connections, file descriptors or threads.
//!
//! - **A cap on open connections**, derived from the process's file limit (the soft limit is
//!   raised to the hard one at start). At the cap the loop stops accepting (the kernel's
//!   backlog holds new clients: back-pressure, not an accept loop spinning on EMFILE) and
//!   closes the connection that has been idle longest, so a crowd of idle sockets cannot keep
//!   a real client out.
//! - **Timeouts**: the request head must arrive within [`Timeouts::header`] of the
//!   connection's start (hyper's timer, for the whole head, not per byte); a connection with no
//!   request in flight is closed after [`Timeouts::idle`]; a request body must arrive within
//!   [`Timeouts::body`] (enforced where bodies are read).
//! - **TLS** (when configured): the handshake must finish within [`Timeouts::header`] of the
//!   connection's start, and a connection still in its handshake counts as idle (eviction
//!   may close it). Each connection takes the configuration in force when it was accepted, so
//!   a reload ([`super::tls`]) reaches new connections and leaves open ones alone.
//! - **Graceful shutdown**: on the signal the loop stops accepting, asks every connection to
//!   finish its request in flight, and waits for them (at most [`DRAIN`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tower::ServiceExt;

/// How long shutdown waits for requests in flight.
pub const DRAIN: Duration = Duration::from_secs(10);
/// File descriptors kept back from the connection cap: the database and its WAL and shared
/// memory for each pooled reader and the writer, the log, the page's files.
const RESERVED_FDS: u64 = 128;
/// How long a closing connection with no request in flight may take to close by itself.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How often a connection looks at its own idleness.
const IDLE_CHECK: Duration = Duration::from_millis(500);

/// The timeouts every connection lives by.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// From the start of a connection (or the end of its last response) to a complete
    /// request head.
    pub header: Duration,
    /// A connection with no request in flight this long is closed.
    pub idle: Duration,
    /// A request body must be complete this long after its head.
    pub body: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            header: Duration::from_secs(30),
            idle: Duration::from_secs(60),
            body: Duration::from_secs(30),
        }
    }
}

/// Raises the soft limit on open files to the hard limit and returns the connection cap it
/// allows: the limit less [`RESERVED_FDS`], at least 16.
pub fn connection_cap_from_file_limit() -> usize {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read or raise the open-file limit; assuming 1024");
            1024
        }
    };
    let cap = usize::try_from(limit.saturating_sub(RESERVED_FDS).max(16)).unwrap_or(usize::MAX);
    tracing::info!(
        open_file_limit = limit,
        connection_cap = cap,
        "open-file limit raised to the hard limit"
    );
    cap
}

/// What the loop knows about each open connection: since when it has been idle (no request
/// in flight), and how to ask it to close. A request marks its connection busy and idle again
/// with atomic stores on the connection's own [`Idle`]; the registry's lock is taken only when
/// a connection opens, closes or is chosen for eviction.
struct Registry {
    /// The zero of the idle clocks.
    epoch: Instant,
    next_id: AtomicU64,
    open: Mutex<BTreeMap<u64, Conn>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            epoch: Instant::now(),
            next_id: AtomicU64::new(0),
            open: Mutex::new(BTreeMap::new()),
        }
    }
}

struct Conn {
    idle: Arc<Idle>,
    close: Arc<Notify>,
}

/// A connection's idleness: milliseconds since the registry's epoch when it last became idle,
/// or [`Idle::BUSY`] while a request is in flight.
struct Idle(AtomicU64);

impl Idle {
    const BUSY: u64 = u64::MAX;

    fn since(&self) -> Option<u64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|&t| t != Idle::BUSY)
    }
}

impl Registry {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(Idle::BUSY - 1)
    }

    fn add(&self, close: Arc<Notify>) -> (u64, Arc<Idle>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let idle = Arc::new(Idle(AtomicU64::new(self.now_ms())));
        if let Ok(mut open) = self.open.lock() {
            open.insert(
                id,
                Conn {
                    idle: Arc::clone(&idle),
                    close,
                },
            );
        }
        (id, idle)
    }

    fn remove(&self, id: u64) {
        if let Ok(mut open) = self.open.lock() {
            open.remove(&id);
        }
    }

    /// Marks a connection busy or idle from now.
    fn set_idle(&self, idle: &Idle, is_idle: bool) {
        let value = if is_idle { self.now_ms() } else { Idle::BUSY };
        idle.0.store(value, Ordering::Relaxed);
    }

    /// How long a connection has been idle, if it is.
    fn idle_for(&self, idle: &Idle) -> Option<Duration> {
        idle.since()
            .map(|t| Duration::from_millis(self.now_ms().saturating_sub(t)))
    }

    /// Asks the connection idle longest to close. False when none is idle.
    fn evict_oldest_idle(&self) -> bool {
        let Ok(open) = self.open.lock() else {
            return false;
        };
        let oldest = open
            .values()
            .filter_map(|c| c.idle.since().map(|t| (t, &c.close)))
            .min_by_key(|(t, _)| *t);
        match oldest {
            Some((_, close)) => {
                close.notify_one();
                true
            }
            None => false,
        }
    }

    fn close_all(&self) {
        if let Ok(open) = self.open.lock() {
            for c in open.values() {
                c.close.notify_one();
            }
        }
    }

    fn count(&self) -> usize {
        self.open.lock().map_or(0, |open| open.len())
    }
}

/// Serves `app` on `listener` (over TLS when `tls` is given) until `shutdown` resolves, then
/// drains the connections.
pub async fn serve<F>(
    listener: TcpListener,
    app: Router,
    shutdown: F,
    timeouts: Timeouts,
    max_connections: usize,
    tls: Option<Arc<super::tls::Tls>>,
) -> std::io::Result<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let registry = Arc::new(Registry::default());
    let slots = Arc::new(Semaphore::new(max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    let mut last_emfile_warning: Option<Instant> = None;
    loop {
        // A slot first: at the cap the loop waits here (new clients queue in the kernel's
        // backlog) while the connection idle longest is asked to make room.
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                registry.evict_oldest_idle();
                tokio::select! {
                    slot = Arc::clone(&slots).acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    drop(slot);
                    if is_out_of_files(&e) {
                        // Out of descriptors despite the cap (another part of the process,
                        // or a lower limit than read): make room and retry shortly.
                        if last_emfile_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                            tracing::warn!(error = %e, open = registry.count(), "accept failed: out of file descriptors");
                            last_emfile_warning = Some(Instant::now());
                        }
                        registry.evict_oldest_idle();
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let close = Arc::new(Notify::new());
        let (id, idle) = registry.add(Arc::clone(&close));
        let conn = Connection {
            id,
            idle,
            registry: Arc::clone(&registry),
            close,
            stop: stop_rx.clone(),
            timeouts,
        };
        let app = app.clone();
        let acceptor = tls.as_ref().map(|t| t.acceptor());
        tokio::spawn(async move {
            conn.start(stream, addr, app, acceptor).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    registry.close_all();
    let drained = tokio::time::timeout(DRAIN, async {
        while registry.count() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = registry.count(),
            "connections still open after the drain period"
        );
    }
    Ok(())
}

fn is_out_of_files(e: &std::io::Error) -> bool {
    // EMFILE (24) and ENFILE (23) on Linux.
    matches!(e.raw_os_error(), Some(23 | 24))
}

/// One accepted connection.
struct Connection {
    id: u64,
    idle: Arc<Idle>,
    registry: Arc<Registry>,
    close: Arc<Notify>,
    stop: watch::Receiver<bool>,
    timeouts: Timeouts,
}

impl Connection {
    /// Runs the TLS handshake if there is one, then serves the connection.
    async fn start(
        mut self,
        stream: TcpStream,
        addr: SocketAddr,
        app: Router,
        acceptor: Option<tokio_rustls::TlsAcceptor>,
    ) {
        let _ = stream.set_nodelay(true);
        let Some(acceptor) = acceptor else {
            return self.run(TokioIo::new(stream), addr, app).await;
        };
        let handshake = tokio::select! {
            done = tokio::time::timeout(self.timeouts.header, acceptor.accept(stream)) => match done {
                Ok(Ok(tls)) => Some(tls),
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "TLS handshake failed");
                    None
                }
                Err(_) => {
                    tracing::debug!("TLS handshake timed out");
                    None
                }
            },
            // Evicted or shut down mid-handshake.
            () = self.close.notified() => None,
            _ = self.stop.changed() => None,
        };
        match handshake {
            Some(tls) => self.run(TokioIo::new(tls), addr, app).await,
            None => self.registry.remove(self.id),
        }
    }

    async fn run<I>(mut self, io: I, addr: SocketAddr, app: Router)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let registry = Arc::clone(&self.registry);
        let id = self.id;
        // Each request marks the connection busy until its response is produced.
        let service = app.map_request(
            move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(addr));
                req
            },
        );
        let (tracker, idle) = (Arc::clone(&registry), Arc::clone(&self.idle));
        let service = tower::service_fn(move |req| {
            let service = service.clone();
            let (tracker, idle) = (Arc::clone(&tracker), Arc::clone(&idle));
            async move {
                tracker.set_idle(&idle, false);
                let response = service.oneshot(req).await;
                tracker.set_idle(&idle, true);
                response
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.timeouts.header)
            .keep_alive(true);
        let conn = builder.serve_connection(io, TowerToHyperService::new(service));
        tokio::pin!(conn);
        let mut closing = false;
        loop {
            tokio::select! {
                _ = conn.as_mut() => break,
                // hyper closes an idle connection at once on graceful shutdown, but one halfway
                // through a request head waits for the head: with no request in flight, drop it.
                () = tokio::time::sleep(CLOSE_GRACE), if closing => {
                    if self.idle.since().is_some() {
                        break;
                    }
                }
                () = self.close.notified(), if !closing => {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
                _ = self.stop.changed(), if !closing => {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
                () = tokio::time::sleep(IDLE_CHECK), if !closing => {
                    let idle_too_long = registry
                        .idle_for(&self.idle)
                        .is_some_and(|d| d >= self.timeouts.idle);
                    if idle_too_long {
                        conn.as_mut().graceful_shutdown();
                        closing = true;
                    }
                }
            }
        }
        registry.remove(id);
    }
}
