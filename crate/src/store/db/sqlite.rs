//! The embedded store: one SQLite file (bundled SQLite, WAL mode) with a schema versioned
//! through `PRAGMA user_version` and applied by ordered migrations ([`super::schema`]).
//!
//! - Reads run on the caller's thread: one read transaction on a connection from a small pool
//!   of query-only connections. WAL lets readers run beside the writer without waiting for
//!   it, so a read is a few microseconds of CPU, less than a thread hand-off would cost.
//! - Writes go to the one writer thread. The writer batches the jobs waiting at that moment
//!   into one IMMEDIATE transaction (group commit: one fsync for the batch), each job inside
//!   its own savepoint, and answers each job only after the commit. A job whose error says so
//!   ([`RollsBack`]) is rolled back to its savepoint; the others' changes commit.

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;

use super::conn::Conn;
use super::{schema, settle, tfa, Reader, RollsBack, Writer};
use crate::store::crypto::{self, KeyFiles, KeyRing};
use crate::store::{StoreError, DB_FILE};

/// Idle read connections kept for reuse; more are opened under load and closed after.
const READ_POOL: usize = 16;
/// How much of the database file a reader maps into memory.
const MMAP_BYTES: i64 = 256 * 1024 * 1024;
/// Jobs the writer takes into one transaction at most.
const MAX_BATCH: usize = 256;
/// Room in the statement cache of each connection: more than the store's statements.
const STATEMENT_CACHE: usize = 128;

/// One job for the writer thread: runs inside its savepoint of the open transaction (or is
/// told that the transaction could not begin) and returns what to do once the batch's commit
/// is known.
type Job = Box<dyn FnOnce(Result<(&Connection, &KeyRing), &StoreError>) -> Deliver + Send>;
/// Hands a job's result to its caller, given the outcome of the batch's commit.
type Deliver = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;

/// The SQLite side of a [`super::Store`].
pub(super) struct Sqlite {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    jobs: mpsc::Sender<Job>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Drop for Sqlite {
    /// Ends the writer and waits for it, so that its connection closes (checkpointing the WAL
    /// into the database file) before the process can exit: a command that wrote leaves a
    /// closed, complete database behind, not a WAL the next process must recover.
    fn drop(&mut self) {
        drop(std::mem::replace(&mut self.jobs, mpsc::channel().0));
        if let Some(writer) = self.writer.get_mut().ok().and_then(Option::take) {
            let _ = writer.join();
        }
    }
}

impl Sqlite {
    /// Opens the database in `dir` (made private from its first byte), finds the key, applies
    /// migrations, seals leftover plaintext secrets and starts the writer.
    pub(super) fn open(dir: &Path, files: KeyFiles) -> Result<(Sqlite, Arc<KeyRing>), StoreError> {
        let path = dir.join(DB_FILE);
        // A new database file is private from its first byte, and SQLite gives the -wal and
        // -shm files it creates the database file's mode.
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .map_err(|error| StoreError::Io {
                path: path.clone(),
                error,
            })?;
        let mut conn = connect(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Durability: an acknowledged write survives a crash or power loss.
        conn.pragma_update(None, "synchronous", "FULL")?;
        // The key first: a store whose key is missing or wrong is refused unchanged.
        let resolved = crypto::resolve(&files, &tfa::key_evidence(Conn::Sqlite(&conn))?)?;
        schema::migrate(&mut conn)?;
        let check = {
            let tx = conn.transaction()?;
            let check = tfa::seal_at_rest(Conn::Sqlite(&tx), &resolved)?;
            tx.commit()?;
            check
        };
        let keys = Arc::new(KeyRing::new(files, resolved.key, check));
        // Files left by an older tfa or copied in may be wider: tighten them.
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", path.display()));
            if file.exists() {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).map_err(
                    |error| StoreError::Io {
                        path: file.clone(),
                        error,
                    },
                )?;
            }
        }
        let (jobs, queue) = mpsc::channel::<Job>();
        let writer = std::thread::Builder::new()
            .name("tfa-store-writer".to_owned())
            .spawn({
                let keys = Arc::clone(&keys);
                move || writer_loop(conn, &keys, queue)
            })
            .map_err(|error| StoreError::Io {
                path: path.clone(),
                error,
            })?;
        Ok((
            Sqlite {
                path,
                readers: Mutex::new(Vec::new()),
                jobs,
                writer: Mutex::new(Some(writer)),
            },
            keys,
        ))
    }

    /// The database file.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// One read transaction on a pooled query-only connection, on this thread.
    pub(super) fn read<T, E>(
        &self,
        keys: &KeyRing,
        f: impl FnOnce(&Reader<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let conn = self.take_reader()?;
        let result = in_read_transaction(&conn, keys, f);
        if let Ok(mut pool) = self.readers.lock() {
            if pool.len() < READ_POOL {
                pool.push(conn);
            }
        }
        result
    }

    fn take_reader(&self) -> Result<Connection, StoreError> {
        let pooled = self.readers.lock().map_err(|_| StoreError::Poisoned)?.pop();
        match pooled {
            Some(conn) => Ok(conn),
            None => {
                let conn = connect(&self.path)?;
                // A reader that tries to write fails instead of waiting for the writer's lock.
                conn.pragma_update(None, "query_only", "ON")?;
                // Reads straight from the OS's page cache, without a read syscall per page.
                conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
                Ok(conn)
            }
        }
    }

    /// One job of the writer's next transaction, waited for on this thread.
    pub(super) fn write<T, E>(
        &self,
        f: impl FnOnce(&Writer<'_>) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + RollsBack + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit(f, move |r| {
            let _ = tx.send(r);
        })?;
        rx.recv().map_err(|_| E::from(StoreError::WriterGone))?
    }

    /// One job of the writer's next transaction, awaited.
    pub(super) async fn write_async<T, E>(
        &self,
        f: impl FnOnce(&Writer<'_>) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + RollsBack + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(f, move |r| {
            let _ = tx.send(r);
        })?;
        rx.await.map_err(|_| E::from(StoreError::WriterGone))?
    }

    fn submit<T, E>(
        &self,
        f: impl FnOnce(&Writer<'_>) -> Result<T, E> + Send + 'static,
        reply: impl FnOnce(Result<T, E>) + Send + 'static,
    ) -> Result<(), StoreError>
    where
        T: Send + 'static,
        E: From<StoreError> + RollsBack + Send + 'static,
    {
        let job: Job = Box::new(
            move |conn: Result<(&Connection, &KeyRing), &StoreError>| -> Deliver {
                let (conn, keys) = match conn {
                    Ok(pair) => pair,
                    Err(e) => {
                        reply(Err(E::from(StoreError::Transaction(e.to_string()))));
                        return Box::new(|_| {});
                    }
                };
                let result = run_in_savepoint(conn, keys, f);
                Box::new(move |commit: Result<(), &StoreError>| {
                    let commit = commit.map_err(|e| StoreError::Transaction(e.to_string()));
                    reply(settle(result, commit))
                })
            },
        );
        self.jobs.send(job).map_err(|_| StoreError::WriterGone)
    }
}

/// Opens a connection with the settings every connection shares.
pub(super) fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

fn in_read_transaction<T, E>(
    conn: &Connection,
    keys: &KeyRing,
    f: impl FnOnce(&Reader<'_>) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<StoreError>,
{
    exec(conn, "BEGIN DEFERRED").map_err(E::from)?;
    let result = f(&Reader {
        conn: Conn::Sqlite(conn),
        keys,
    });
    // Nothing was written: ending the snapshot cannot lose anything, whatever `f` returned.
    settle(result, exec(conn, "COMMIT"))
}

/// Runs one job inside a savepoint of the writer's open transaction.
fn run_in_savepoint<T, E>(
    conn: &Connection,
    keys: &KeyRing,
    f: impl FnOnce(&Writer<'_>) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<StoreError> + RollsBack,
{
    exec(conn, "SAVEPOINT job").map_err(E::from)?;
    let result = f(&Writer::new(Conn::Sqlite(conn), keys));
    let undo = matches!(&result, Err(e) if e.rolls_back());
    let end = if undo {
        exec(conn, "ROLLBACK TO job").and_then(|()| exec(conn, "RELEASE job"))
    } else {
        exec(conn, "RELEASE job")
    };
    settle(result, end)
}

fn exec(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// The writer thread: waits for a job, takes every job already waiting (up to
/// [`MAX_BATCH`]) into one transaction, commits once, then answers them all.
fn writer_loop(conn: Connection, keys: &KeyRing, queue: mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = exec(&conn, "BEGIN IMMEDIATE") {
            // Each job is told the transaction could not begin, without running.
            for job in batch {
                drop(job(Err(&e)));
            }
            continue;
        }
        let deliveries: Vec<Deliver> = batch
            .into_iter()
            .map(|job| job(Ok((&conn, keys))))
            .collect();
        let committed = exec(&conn, "COMMIT");
        if committed.is_err() {
            let _ = exec(&conn, "ROLLBACK");
        }
        for deliver in deliveries {
            deliver(committed.as_ref().map(|_| ()));
        }
    }
}
