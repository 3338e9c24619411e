//! What every handler shares ([`AppState`]) and what one request knows about itself
//! ([`Ctx`]), plus the bridges from async handlers to the store's trips.

use std::path::PathBuf;
use std::sync::Arc;

use super::auth::{self, Caller, Credentials};
use super::error::ApiError;
use crate::store::{Reader, Store, Writer};

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
    /// A directory laid out as cPanel's `base/frontend` (`jupiter/<plugin>/…`), served at
    /// `/cpsessNNNNNNNNNN/frontend/…` to the session whose `cpsess` it is, if served.
    pub frontend: Option<Arc<PathBuf>>,
    pub clock: Clock,
    /// How long a request body may take to arrive after its head.
    pub body_timeout: std::time::Duration,
    /// Password hashing: a few at a time, a short queue, refusals beyond it.
    pub hasher: super::hashing::Hasher,
    /// Wrong passwords per identity and per address before a lockout.
    pub password_limits: crate::store::Limits,
    /// Served over TLS: cookies are `Secure` and HSTS is sent.
    pub secure: bool,
    /// Load balancers and proxies whose `X-Forwarded-For` (the client's address) and
    /// `X-Forwarded-Proto` are believed; nobody else's are.
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
}

impl AppState {
    /// A state over `store` with the real clock.
    pub fn new(store: Store, hostname: &str, www: Option<PathBuf>) -> AppState {
        AppState {
            store,
            hostname: Arc::from(hostname),
            www: www.map(Arc::new),
            frontend: None,
            clock: Arc::new(system_clock),
            body_timeout: super::listen::Timeouts::default().body,
            hasher: super::hashing::Hasher::for_this_machine(),
            password_limits: super::auth::PASSWORD_LIMITS,
            secure: false,
            trusted_proxies: Arc::from([]),
        }
    }

    /// Believes `X-Forwarded-For` and `X-Forwarded-Proto` from these addresses and networks.
    pub fn with_trusted_proxies(mut self, proxies: Vec<ipnet::IpNet>) -> AppState {
        self.trusted_proxies = Arc::from(proxies);
        self
    }

    /// Serves `dir` (cPanel's `base/frontend` layout) at `/cpsessNNNNNNNNNN/frontend/…`.
    pub fn with_frontend(mut self, dir: Option<PathBuf>) -> AppState {
        self.frontend = dir.map(Arc::new);
        self
    }

    /// Marks the server as served over TLS.
    pub fn with_secure(mut self, secure: bool) -> AppState {
        self.secure = secure;
        self
    }

    /// Replaces the password hashing service (its workers and queue).
    pub fn with_hasher(mut self, hasher: super::hashing::Hasher) -> AppState {
        self.hasher = hasher;
        self
    }

    /// Sets the wrong-password limits.
    pub fn with_password_limits(mut self, limits: crate::store::Limits) -> AppState {
        self.password_limits = limits;
        self
    }

    /// Sets how long a request body may take to arrive.
    pub fn with_body_timeout(mut self, timeout: std::time::Duration) -> AppState {
        self.body_timeout = timeout;
        self
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

    /// One read trip, on this thread: on SQLite a WAL snapshot read never waits for the writer
    /// and costs less than handing the work to another thread and back; on PostgreSQL this
    /// worker steps aside for the wait (see `store/db/postgres.rs`).
    pub fn read<T: Send>(
        &self,
        f: impl FnOnce(&Reader<'_>) -> Result<T, ApiError> + Send,
    ) -> Result<T, ApiError> {
        self.store.read(f)
    }

    /// One write trip: a job of the writer's next group commit, answered after the commit.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Writer<'_>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.store.write_async(f).await
    }
}

/// What one API request knows about itself once its caller is known: built once inside the
/// request's store trip and handed to the function that implements the call.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The request's time, unix seconds (read once).
    pub now: u64,
    /// The client's address (`cli` for the command line), for throttling and the audit log.
    pub ip: Arc<str>,
    /// The server hostname (the issuer of last resort, root's primary domain).
    pub hostname: Arc<str>,
    /// Who is calling.
    pub caller: Caller,
}

/// The store access of one request's trip: read-only, or one job of a write transaction.
#[derive(Clone, Copy)]
pub enum Trip<'a, 'c> {
    Read(&'a Reader<'c>),
    Write(&'a Writer<'c>),
}

impl<'a, 'c> Trip<'a, 'c> {
    /// Read access (a write trip reads too).
    pub fn reader(&self) -> &'a Reader<'c> {
        match *self {
            Trip::Read(r) => r,
            Trip::Write(w) => w,
        }
    }

    /// Write access; a function that writes was dispatched to a read trip only by a bug.
    pub fn writer(&self) -> Result<&'a Writer<'c>, ApiError> {
        match *self {
            Trip::Write(w) => Ok(w),
            Trip::Read(_) => Err(ApiError::Internal(
                "a write was attempted in a read trip".to_owned(),
            )),
        }
    }
}

/// Runs one API call as one store trip: resolves `creds` to the caller, builds the request's
/// [`Ctx`] and hands both to `call`. A write trip when the call writes (or when resolving the
/// credentials does), else a read trip on this thread.
pub async fn api_trip<T: Send + 'static>(
    state: &AppState,
    creds: Credentials,
    ip: Arc<str>,
    writes: bool,
    call: impl FnOnce(Trip<'_, '_>, &Ctx) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let (now, hostname) = (state.now(), state.hostname.clone());
    let writes = writes || creds.writes();
    let job = move |trip: Trip<'_, '_>| {
        let caller = auth::resolve(&trip, &creds, now, &ip)?;
        let ctx = Ctx {
            now,
            ip,
            hostname,
            caller,
        };
        call(trip, &ctx)
    };
    if writes {
        state.write(move |w| job(Trip::Write(w))).await
    } else {
        state.read(|r| job(Trip::Read(r)))
    }
}

/// Fills a buffer from the OS's random source.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf)
        .map_err(|e| ApiError::Internal(format!("no randomness available: {e}")))?;
    Ok(buf)
}
