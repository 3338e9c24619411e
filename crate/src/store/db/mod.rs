//! The store's database: the embedded SQLite file (the default: nothing to run) or a shared
//! PostgreSQL server (`--database postgres://…`: several `tfa serve` on one database). The
//! server and the CLI hold a [`Store`] and never learn which one they have.
//!
//! Access is by trips, so that one request is one trip:
//! - [`Store::read`] runs a closure over a [`Reader`] inside one read transaction (a
//!   consistent snapshot);
//! - [`Store::write`] / [`Store::write_async`] run a closure over a [`Writer`] inside one write
//!   transaction, answered only after its commit (durable).
//!
//! Both databases run the same statements (`conn.rs`), from the per-concern files beside this
//! one: [`accounts`], [`tfa`], [`credentials`], [`throttle`], [`recovery`], [`audit`]. What
//! differs is how a trip gets its transaction (`sqlite.rs`: a pool of readers and one writer
//! thread with group commit; `postgres.rs`: pooled connections) and how a check-then-act on
//! security state is kept atomic:
//! - SQLite has one writer, so write jobs never interleave;
//! - on PostgreSQL, several processes write at once: a job that checks a lock or a code first
//!   takes transaction-scoped advisory locks on what it judges ([`Writer::hold`]), so jobs
//!   about the same identity or address run one after another across every instance, and
//!   everything else (replay, used recovery codes, one-time logins) is a single atomic
//!   statement whose row count decides.
//!
//! Nothing here logs.

mod accounts;
mod audit;
mod conn;
mod credentials;
#[cfg(test)]
mod plan;
mod postgres;
mod recovery;
mod schema;
mod sqlite;
mod tfa;
mod throttle;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::crypto::{KeyFiles, KeyRing, Rotation};
use super::{prepare_data_dir, StoreError};
use conn::{change, one, one_row, rows, text_pair, to_i64, to_u64, Conn};

pub use postgres::DEFAULT_POOL;
pub use schema::{PG_SCHEMA_VERSION, SCHEMA_VERSION};
pub use throttle::{Limit, Limits, NewLocks};

/// Read access inside one read transaction (or inside a write job: a [`Writer`] derefs to it).
pub struct Reader<'c> {
    conn: Conn<'c>,
    /// The key that seals and opens the TOTP secrets.
    keys: &'c KeyRing,
}

/// Write access inside one write job. Derefs to [`Reader`], so a job reads what it wrote.
pub struct Writer<'c> {
    reader: Reader<'c>,
    /// The advisory locks this job holds on PostgreSQL (statement, name): a second hold of the
    /// same one is free (see [`Writer::hold`]).
    held: std::cell::RefCell<Vec<(&'static str, String)>>,
}

impl<'c> Writer<'c> {
    fn new(conn: Conn<'c>, keys: &'c KeyRing) -> Writer<'c> {
        Writer {
            reader: Reader { conn, keys },
            held: std::cell::RefCell::new(Vec::new()),
        }
    }
}

impl<'c> std::ops::Deref for Writer<'c> {
    type Target = Reader<'c>;
    fn deref(&self) -> &Reader<'c> {
        &self.reader
    }
}

/// Decides what a write job's error does to the job's own changes.
pub trait RollsBack {
    /// True when the job's changes must be undone. A refusal that recorded something (a
    /// wrong code's failure row, an audit line) answers false so that the record commits.
    fn rolls_back(&self) -> bool;
}

impl RollsBack for StoreError {
    fn rolls_back(&self) -> bool {
        true
    }
}

/// A trip's answer from its job's result and the end of its transaction: the job's own error
/// first, else the end's.
fn settle<T, E: From<StoreError>>(
    result: Result<T, E>,
    end: Result<(), StoreError>,
) -> Result<T, E> {
    match (result, end) {
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(E::from(e)),
        (Ok(v), Ok(())) => Ok(v),
    }
}

/// Where the store keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// `tfa.sqlite3` in the data directory.
    Sqlite,
    /// A PostgreSQL database shared by any number of tfa processes.
    Postgres(postgres::Options),
}

pub use postgres::Options as PostgresOptions;

enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

struct Inner {
    backend: Backend,
    keys: Arc<KeyRing>,
    /// The data directory: the key file's default home (and the SQLite file's).
    dir: PathBuf,
}

/// The store handle. Cheap to clone; every clone shares the connections (and SQLite's writer
/// thread, which ends when the last clone is dropped).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("database", &self.location())
            .finish()
    }
}

impl Store {
    /// Opens (creating if needed) the SQLite store in `dir`: the directory gets mode 0700, the
    /// database and its WAL/SHM files 0600. Finds the secrets' key (`key_file`, or
    /// [`crypto::KEY_FILE`] in `dir`; made for a store without encrypted secrets, never over
    /// them) before anything is written, applies pending migrations, seals any plaintext
    /// secret left from an older version (one transaction), then starts the writer.
    pub fn open(dir: &Path, key_file: Option<&Path>) -> Result<Store, StoreError> {
        Store::open_database(&Database::Sqlite, dir, key_file)
    }

    /// Opens the store `database` names. `dir` (created 0700) holds the key file unless
    /// `key_file` names one. On PostgreSQL the key, the migrations and the sealing of old
    /// secrets happen under one advisory lock, so instances started together agree; an
    /// instance whose key does not match the database's key check is refused.
    pub fn open_database(
        database: &Database,
        dir: &Path,
        key_file: Option<&Path>,
    ) -> Result<Store, StoreError> {
        prepare_data_dir(dir)?;
        let files = KeyFiles::new(dir, key_file);
        let (backend, keys) = match database {
            Database::Sqlite => {
                let (db, keys) = sqlite::Sqlite::open(dir, files)?;
                (Backend::Sqlite(db), keys)
            }
            Database::Postgres(options) => {
                let (db, keys) = postgres::Postgres::open(options, files)?;
                (Backend::Postgres(db), keys)
            }
        };
        Ok(Store {
            inner: Arc::new(Inner {
                backend,
                keys,
                dir: dir.to_path_buf(),
            }),
        })
    }

    /// The SQLite database file, if this store is SQLite.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.inner.backend {
            Backend::Sqlite(db) => Some(db.path()),
            Backend::Postgres(_) => None,
        }
    }

    /// Where the data is, for messages: the SQLite file, or the PostgreSQL URL without its
    /// password.
    pub fn location(&self) -> String {
        match &self.inner.backend {
            Backend::Sqlite(db) => db.path().display().to_string(),
            Backend::Postgres(db) => db.location(),
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The key file this store uses.
    pub fn key_file(&self) -> &Path {
        &self.inner.keys.files().path
    }

    /// Re-encrypts every secret under a new key in one transaction. The new key is written
    /// to `<key file>.new` (0600, synced) first; after the commit it is renamed over the key
    /// file, the old one kept as `<key file>.old` until the rename is done. A crash at any
    /// point leaves the store with one of the two keys, which [`Store::open`] finds. Returns
    /// how many secrets were re-encrypted.
    pub fn rotate_key(&self) -> Result<usize, StoreError> {
        let (rotation, key) = Rotation::begin(self.inner.keys.files())?;
        // The job hands the key back with what it did, so that it is put in use after.
        let done =
            self.write(move |w| w.reseal_all(&key).map(|(count, check)| (count, check, key)));
        let (count, check, key) = match done {
            Ok(v) => v,
            Err(e) => {
                // Nothing committed: the old key stays the key.
                let _ = rotation.abandon();
                return Err(e);
            }
        };
        rotation.finish()?;
        self.inner.keys.replace(key, check)?;
        Ok(count)
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.read(|r| match r.conn {
            Conn::Sqlite(c) => schema::user_version(c),
            Conn::Postgres(_) => Ok(one::<i64>(r.conn, schema::PG_VERSION, &[])?.unwrap_or(0)),
        })
    }

    /// Runs `f` in one read transaction. On SQLite it runs on this thread (a WAL snapshot
    /// read never waits for the writer); on PostgreSQL this thread waits for the database
    /// without holding up the async runtime (see `postgres.rs`).
    pub fn read<T, E>(&self, f: impl FnOnce(&Reader<'_>) -> Result<T, E> + Send) -> Result<T, E>
    where
        T: Send,
        E: From<StoreError> + Send,
    {
        match &self.inner.backend {
            Backend::Sqlite(db) => db.read(&self.inner.keys, f),
            Backend::Postgres(db) => db.read(&self.inner.keys, f),
        }
    }

    /// Runs `f` as one write job and waits, blocking this thread, until it commits. For the
    /// CLI and other synchronous callers.
    pub fn write<T, E>(
        &self,
        f: impl FnOnce(&Writer<'_>) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + RollsBack + Send + 'static,
    {
        match &self.inner.backend {
            Backend::Sqlite(db) => db.write(f),
            Backend::Postgres(db) => db.write(&self.inner.keys, f),
        }
    }

    /// As [`Store::write`], awaiting the commit instead of blocking the thread.
    pub async fn write_async<T, E>(
        &self,
        f: impl FnOnce(&Writer<'_>) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + RollsBack + Send + 'static,
    {
        match &self.inner.backend {
            Backend::Sqlite(db) => db.write_async(f).await,
            Backend::Postgres(_) => {
                let store = self.clone();
                tokio::task::spawn_blocking(move || store.write(f))
                    .await
                    .map_err(|_| E::from(StoreError::WriterGone))?
            }
        }
    }
}

impl Writer<'_> {
    /// Makes the rest of this job run alone among the jobs that hold any of `keys` (lock
    /// names such as `user:<identity>` and `ip:<address>`), in every process sharing the
    /// database, until the job commits or rolls back. Called first by every job that checks
    /// a lock, a code or a password, so that the check, the verdict and its record are one
    /// step. Give the keys in the same order everywhere (identity before address) so that
    /// two jobs never wait for each other; holding a key twice is harmless.
    ///
    /// SQLite needs nothing: its single writer already runs one job at a time.
    pub fn hold(&self, keys: &[&str]) -> Result<(), StoreError> {
        for key in keys {
            self.advisory(postgres::HOLD, key)?;
        }
        Ok(())
    }

    /// Holds the key lock: shared while sealing a secret, alone while re-sealing every one, so
    /// no secret is sealed under a key a concurrent rotation is replacing.
    pub(super) fn hold_key(&self, alone: bool) -> Result<(), StoreError> {
        let sql = if alone {
            postgres::HOLD
        } else {
            postgres::HOLD_SHARED
        };
        self.advisory(sql, postgres::KEY_LOCK)
    }

    /// Takes the advisory lock `name` with `sql` on PostgreSQL, unless this job already holds
    /// it (a job that checks a code may pass several checks that each hold the identity).
    fn advisory(&self, sql: &'static str, name: &str) -> Result<(), StoreError> {
        if matches!(self.conn, Conn::Sqlite(_)) {
            return Ok(());
        }
        let mut held = self.held.borrow_mut();
        if held.iter().any(|(s, n)| *s == sql && n == name) {
            return Ok(());
        }
        change(self.conn, sql, &[&name])?;
        held.push((sql, name.to_owned()));
        Ok(())
    }
}
