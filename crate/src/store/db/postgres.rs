//! The shared store: one PostgreSQL database for any number of `tfa serve` processes (and
//! the CLI beside them). Every piece of state that must hold across instances lives in the
//! database: the last accepted step, failure counters and locks, sessions (pending ones
//! too), API tokens, recovery codes and the audit log. Nothing correctness-relevant is kept
//! in one process's memory.
//!
//! The driver is tokio-postgres with a deadpool pool, on a small runtime of the store's own.
//! The store's trips are synchronous closures (the ops layer is plain code over [`Reader`]
//! and [`Writer`]), so a trip holds one pooled connection for its transaction and runs each
//! statement to completion on that runtime while the calling thread waits: inside the
//! server's async runtime it first steps out of the way ([`tokio::task::block_in_place`]),
//! so waiting on the database never stalls other requests.
//!
//! - A read trip is one `REPEATABLE READ, READ ONLY` transaction: one snapshot, as on SQLite.
//! - A write trip is one `READ COMMITTED` transaction, committed (or rolled back, when its
//!   error says so) before it is answered. Jobs that judge security state first take
//!   transaction-scoped advisory locks ([`HOLD`], through [`Writer::hold`]); a lock wait
//!   longer than [`LOCK_TIMEOUT_MS`] (a stuck peer) is answered "busy, try again", never a
//!   hang.
//! - Opening takes a session advisory lock for the key check, the migrations and the sealing
//!   of old secrets, so instances started together agree on one key and one schema.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::runtime::{Handle, Runtime, RuntimeFlavor};
use tokio_postgres::error::SqlState;
use tokio_postgres::IsolationLevel;

use super::conn::{Conn, Pg, PgRun};
use super::{schema, settle, tfa, Reader, RollsBack, Writer};
use crate::store::crypto::{self, KeyFiles, KeyRing};
use crate::store::StoreError;

/// A transaction-scoped advisory lock on a name (see [`Writer::hold`]).
pub(super) const HOLD: &str = "SELECT pg_advisory_xact_lock(hashtextextended(?1, 0))";
/// The lock name that sealing a secret holds shared and a key rotation holds alone, so no
/// secret is sealed under a key a concurrent rotation is replacing.
pub(super) const KEY_LOCK: &str = "/key";
pub(super) const HOLD_SHARED: &str = "SELECT pg_advisory_xact_lock_shared(hashtextextended(?1, 0))";
/// The session lock of [`Postgres::open`].
const OPEN_LOCK: &str = "SELECT pg_advisory_lock(hashtextextended('tfa:open', 0))";
const OPEN_UNLOCK: &str = "SELECT pg_advisory_unlock(hashtextextended('tfa:open', 0))";

/// Connections each process keeps at most, unless told otherwise.
pub const DEFAULT_POOL: usize = 16;
/// How long a trip waits for a pooled connection before the request is answered "busy".
const POOL_WAIT: Duration = Duration::from_secs(10);
/// How long a statement waits for a lock (another instance's job on the same identity).
pub(super) const LOCK_TIMEOUT_MS: u64 = 10_000;
/// A statement running longer than this is cancelled (a million-row import takes seconds).
const STATEMENT_TIMEOUT_MS: u64 = 120_000;
/// A connection left inside a transaction this long (a stopped peer) is closed by the
/// server, releasing its locks.
const IDLE_IN_TRANSACTION_MS: u64 = 60_000;

/// How to reach the database.
#[derive(Clone, PartialEq, Eq)]
pub struct Options {
    /// `postgres://user:password@host:port/dbname?sslmode=…` (or the key=value form).
    pub url: String,
    /// Connections this process keeps at most.
    pub pool: usize,
    /// A PEM file of CA certificates to trust for the database's TLS certificate, beside the
    /// public web roots. TLS is used as the URL's `sslmode` says (`prefer` by default).
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("url", &redacted(&self.url))
            .field("pool", &self.pool)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// The URL without its password, for messages and logs.
fn redacted(url: &str) -> String {
    match url.parse::<tokio_postgres::Config>() {
        Ok(c) => {
            let hosts: Vec<String> = c
                .get_hosts()
                .iter()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(name) => name.clone(),
                    tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
                })
                .collect();
            let port = c.get_ports().first().map_or(5432, |p| *p);
            format!(
                "postgres://{}@{}:{port}/{}",
                c.get_user().unwrap_or(""),
                hosts.join(","),
                c.get_dbname().unwrap_or("")
            )
        }
        Err(_) => "postgres://(unreadable URL)".to_owned(),
    }
}

/// The PostgreSQL side of a [`super::Store`].
pub(super) struct Postgres {
    /// Drives the connections. Shut down without waiting when the store goes (the store may
    /// be dropped inside an async task, where waiting is not allowed).
    runtime: Option<Runtime>,
    pool: Pool,
    location: String,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    /// Lock waits that timed out, deadlocks and serialization failures are the database
    /// asking for the job again later: "busy". Anything else is a database error.
    fn from(e: tokio_postgres::Error) -> Self {
        let busy = [
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::LOCK_NOT_AVAILABLE,
            SqlState::QUERY_CANCELED,
            SqlState::TOO_MANY_CONNECTIONS,
        ];
        match e.code() {
            Some(code) if busy.contains(code) => StoreError::Busy(e.to_string()),
            // The server went away under the connection (a restart, a failover).
            _ if e.is_closed() => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Postgres(e),
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            // No new connection: the server refused it or cannot be reached (no SQL state).
            deadpool_postgres::PoolError::Backend(e) if e.code().is_none() => {
                StoreError::Unavailable(e.to_string())
            }
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            deadpool_postgres::PoolError::Timeout(_) => {
                StoreError::Busy("every database connection is in use".to_owned())
            }
            other => StoreError::Transaction(other.to_string()),
        }
    }
}

/// Runs `f`, which waits on the database, where waiting is allowed: on a worker of a
/// multi-thread runtime it tells the runtime first (other tasks move to another thread); on
/// a current-thread runtime's own thread, which must never block, it runs on a scoped
/// thread; anywhere else, here.
fn off_runtime<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    match Handle::try_current() {
        Err(_) => f(),
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        Ok(_) => std::thread::scope(|s| match s.spawn(f).join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }),
    }
}

/// One trip's connection or transaction, as the statement layer sees it.
struct Trip<'t, C> {
    client: &'t C,
    rt: &'t Handle,
}

impl<C: GenericClient> PgRun for Trip<'_, C> {
    fn query(&self, sql: &str, params: &[&Pg<'_>]) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        Ok(self.rt.block_on(async {
            let statement = self.client.prepare_cached(sql).await?;
            self.client.query(&statement, params).await
        })?)
    }

    fn execute(&self, sql: &str, params: &[&Pg<'_>]) -> Result<u64, StoreError> {
        Ok(self.rt.block_on(async {
            let statement = self.client.prepare_cached(sql).await?;
            self.client.execute(&statement, params).await
        })?)
    }

    #[cfg(test)]
    fn prepare(&self, sql: &str) -> Result<(), StoreError> {
        self.rt.block_on(self.client.prepare_cached(sql))?;
        Ok(())
    }
}

impl Postgres {
    /// Connects, then under the open lock: finds the key (refused if it does not match the
    /// database's key check), applies migrations (refusing a newer schema) and seals any
    /// plaintext secret.
    pub(super) fn open(
        options: &Options,
        files: KeyFiles,
    ) -> Result<(Postgres, Arc<KeyRing>), StoreError> {
        off_runtime(|| Postgres::open_here(options, files))
    }

    fn open_here(
        options: &Options,
        files: KeyFiles,
    ) -> Result<(Postgres, Arc<KeyRing>), StoreError> {
        let mut config: tokio_postgres::Config = options
            .url
            .parse()
            .map_err(|e| StoreError::Invalid(format!("the database URL: {e}")))?;
        // Bounds every connection's waits, whatever the URL set (its own options are kept).
        let bounds = format!(
            "-c lock_timeout={LOCK_TIMEOUT_MS} -c statement_timeout={STATEMENT_TIMEOUT_MS} \
             -c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}"
        );
        let merged = match config.get_options() {
            Some(own) if !own.is_empty() => format!("{bounds} {own}"),
            _ => bounds,
        };
        config.options(merged.as_str());
        if config.get_application_name().is_none() {
            config.application_name("tfa");
        }
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(client_tls(options)?);
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tfa-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Transaction(format!("no runtime for the database: {e}")))?;
        let pool = Pool::builder(manager)
            .max_size(options.pool.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .recycle_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| StoreError::Transaction(e.to_string()))?;
        let location = redacted(&options.url);
        let rt = runtime.handle().clone();
        let mut client = rt
            .block_on(pool.get())
            .map_err(|e| match StoreError::from(e) {
                StoreError::Postgres(e) => {
                    StoreError::Invalid(format!("cannot connect to the database {location}: {e}"))
                }
                StoreError::Unavailable(why) => {
                    StoreError::Invalid(format!("cannot connect to the database {location}: {why}"))
                }
                other => other,
            })?;
        let trip = Trip {
            client: &client,
            rt: &rt,
        };
        trip.execute(OPEN_LOCK, &[])?;
        let opened = Postgres::prepare(&mut client, &rt, files);
        let trip = Trip {
            client: &client,
            rt: &rt,
        };
        let unlocked = trip.execute(OPEN_UNLOCK, &[]);
        let keys = opened?;
        unlocked?;
        drop(client);
        Ok((
            Postgres {
                runtime: Some(runtime),
                pool,
                location,
            },
            keys,
        ))
    }

    /// The key, the migrations and the sealing, on the connection holding the open lock.
    fn prepare(
        client: &mut deadpool_postgres::Client,
        rt: &Handle,
        files: KeyFiles,
    ) -> Result<Arc<KeyRing>, StoreError> {
        let evidence = tfa::key_evidence(Conn::Postgres(&Trip {
            client: &*client,
            rt,
        }))?;
        let resolved = crypto::resolve(&files, &evidence)?;
        let version = Trip {
            client: &*client,
            rt,
        }
        .version()?;
        schema::migrate_postgres(version, |sql: &str, target: i64| {
            rt.block_on(async {
                let tx = client.transaction().await?;
                tx.batch_execute(sql).await?;
                tx.execute(schema::PG_SET_VERSION, &[&target]).await?;
                tx.commit().await
            })
            .map_err(StoreError::from)
        })?;
        let tx = rt.block_on(client.transaction())?;
        let check = tfa::seal_at_rest(Conn::Postgres(&Trip { client: &tx, rt }), &resolved)?;
        rt.block_on(tx.commit())?;
        Ok(Arc::new(KeyRing::new(files, resolved.key, check)))
    }

    /// The database as messages name it (no password).
    pub(super) fn location(&self) -> String {
        self.location.clone()
    }

    fn handle(&self) -> Result<Handle, StoreError> {
        self.runtime
            .as_ref()
            .map(|rt| rt.handle().clone())
            .ok_or(StoreError::WriterGone)
    }

    /// One read trip: a read-only snapshot transaction on a pooled connection.
    pub(super) fn read<T, E>(
        &self,
        keys: &KeyRing,
        f: impl FnOnce(&Reader<'_>) -> Result<T, E> + Send,
    ) -> Result<T, E>
    where
        T: Send,
        E: From<StoreError> + Send,
    {
        off_runtime(|| {
            let rt = self.handle()?;
            let mut client = rt.block_on(self.pool.get()).map_err(StoreError::from)?;
            let tx = rt
                .block_on(
                    client
                        .build_transaction()
                        .isolation_level(IsolationLevel::RepeatableRead)
                        .read_only(true)
                        .start(),
                )
                .map_err(StoreError::from)?;
            let result = f(&Reader {
                conn: Conn::Postgres(&Trip {
                    client: &tx,
                    rt: &rt,
                }),
                keys,
            });
            // Nothing was written: ending the snapshot cannot lose anything.
            settle(result, rt.block_on(tx.commit()).map_err(StoreError::from))
        })
    }

    /// One write trip: a transaction, committed before the answer unless its error rolls it
    /// back.
    pub(super) fn write<T, E>(
        &self,
        keys: &KeyRing,
        f: impl FnOnce(&Writer<'_>) -> Result<T, E> + Send,
    ) -> Result<T, E>
    where
        T: Send,
        E: From<StoreError> + RollsBack + Send,
    {
        off_runtime(|| {
            let rt = self.handle()?;
            let mut client = rt.block_on(self.pool.get()).map_err(StoreError::from)?;
            let tx = rt
                .block_on(client.transaction())
                .map_err(StoreError::from)?;
            let result = f(&Writer::new(
                Conn::Postgres(&Trip {
                    client: &tx,
                    rt: &rt,
                }),
                keys,
            ));
            let undo = matches!(&result, Err(e) if e.rolls_back());
            let end = if undo {
                rt.block_on(tx.rollback())
            } else {
                rt.block_on(tx.commit())
            }
            .map_err(|e| StoreError::Transaction(e.to_string()));
            settle(result, end)
        })
    }
}

impl<C: GenericClient> Trip<'_, C> {
    /// The recorded schema version (0 for a database tfa never touched).
    fn version(&self) -> Result<i64, StoreError> {
        let exists = self.query(schema::PG_HAS_VERSION, &[])?;
        if exists
            .first()
            .and_then(|r| r.get::<_, Option<String>>(0))
            .is_none()
        {
            return Ok(0);
        }
        let rows = self.query(schema::PG_VERSION, &[])?;
        Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0)))
    }
}

/// The TLS settings for the database connection: the public web roots and, if given, the
/// CA file's certificates.
fn client_tls(options: &Options) -> Result<rustls::ClientConfig, StoreError> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &options.ca_file {
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| StoreError::Invalid(format!("{}: {e}", path.display())))?;
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| StoreError::Invalid(format!("{}: {e}", path.display())))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Transaction(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
