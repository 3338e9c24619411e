//! The database the API tier runs on. `cargo xtask test` runs the tier twice, the same tests:
//! on SQLite (each test's temp directory), then with `TFA_TEST_POSTGRES` set to a throwaway
//! cluster's URL, on PostgreSQL, where each data directory gets a schema of its own (so that
//! opening the same directory twice opens the same data, as on SQLite, and tests running in
//! parallel never see each other's rows).
//!
//! Tests about the SQLite file itself (its modes, its WAL, copies of it) carry `_sqlite_` in
//! their names and are left out of the PostgreSQL run.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;

use tfa::store::{Database, PostgresOptions, Store, StoreError};

/// The PostgreSQL server this run uses, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("TFA_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
}

/// The schema that stands for data directory `dir` on PostgreSQL.
fn schema_of(dir: &Path) -> String {
    // FNV-1a over the path: short, stable, a valid identifier.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in dir.as_os_str().as_encoded_bytes() {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("t_{h:016x}")
}

/// Makes `schema` once per process.
fn make_schema(url: &str, schema: &str) {
    static MADE: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let mut made = MADE.lock().unwrap();
    let made = made.get_or_insert_with(HashSet::new);
    if made.insert(schema.to_owned()) {
        tfa_testkit::pg::psql(url, &[&format!("CREATE SCHEMA IF NOT EXISTS {schema}")]);
    }
}

/// The database of data directory `dir`, for this run.
pub fn database_for(dir: &Path) -> Database {
    match postgres_url() {
        None => Database::Sqlite,
        Some(url) => {
            let schema = schema_of(dir);
            make_schema(&url, &schema);
            let sep = if url.contains('?') { '&' } else { '?' };
            Database::Postgres(PostgresOptions {
                url: format!("{url}{sep}options=-c%20search_path%3D{schema}"),
                // Enough for the parallel tests, few enough for many stores in one run.
                pool: 8,
                ca_file: None,
            })
        }
    }
}

/// Opens the store of data directory `dir` on this run's database, as `tfa --data dir` would.
pub fn open_store(dir: &Path, key_file: Option<&Path>) -> Result<Store, StoreError> {
    Store::open_database(&database_for(dir), dir, key_file)
}

/// Runs raw SQL on the database of `dir` (one statement), bypassing the store, as an
/// administrator with a database shell could: rows on lines, columns split by `|`, bytes as
/// `\x` and hex. An error comes back as its message.
pub fn raw_sql(dir: &Path, sql: &str) -> Result<String, String> {
    match postgres_url() {
        Some(url) => {
            let schema = schema_of(dir);
            let set = format!("SET search_path TO {schema}");
            tfa_testkit::pg::try_psql(&url, &[&set, sql])
        }
        None => sqlite_sql(&dir.join(tfa::store::DB_FILE), sql),
    }
}

fn sqlite_sql(db: &Path, sql: &str) -> Result<String, String> {
    use rusqlite::types::ValueRef;
    let conn = rusqlite::Connection::open(db).map_err(|e| e.to_string())?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let mut stmt = conn.prepare(sql).map_err(|e| e.to_string())?;
    let n = stmt.column_count();
    let mut rows = stmt.query([]).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let cols: Vec<String> = (0..n)
            .map(|i| match row.get_ref(i).unwrap() {
                ValueRef::Null => String::new(),
                ValueRef::Integer(v) => v.to_string(),
                ValueRef::Real(v) => v.to_string(),
                ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                ValueRef::Blob(b) => {
                    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
                    format!("\\x{hex}")
                }
            })
            .collect();
        out.push(cols.join("|"));
    }
    Ok(out.join("\n"))
}

/// A bytes literal in this run's SQL.
pub fn bytes_literal(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|x| format!("{x:02x}")).collect();
    match postgres_url() {
        Some(_) => format!("'\\x{hex}'::bytea"),
        None => format!("X'{hex}'"),
    }
}

/// Everything the database of `dir` holds, to compare before and after a refusal: SQLite's
/// file after a checkpoint, or `pg_dump` of the schema.
pub fn dump(dir: &Path) -> Vec<u8> {
    match postgres_url() {
        Some(url) => tfa_testkit::pg::pg_dump(&url, &schema_of(dir)).into_bytes(),
        None => {
            let db = dir.join(tfa::store::DB_FILE);
            rusqlite::Connection::open(&db)
                .unwrap()
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .unwrap();
            std::fs::read(&db).unwrap()
        }
    }
}

/// Records schema version `v` in the database of `dir`, as a later tfa would.
pub fn set_schema_version(dir: &Path, v: i64) {
    let sql = match postgres_url() {
        Some(_) => format!("UPDATE tfa_schema SET version = {v}"),
        None => format!("PRAGMA user_version = {v}"),
    };
    raw_sql(dir, &sql).unwrap();
}

/// The schema version this tfa writes on this run's database.
pub fn schema_version() -> i64 {
    match postgres_url() {
        Some(_) => tfa::store::PG_SCHEMA_VERSION,
        None => tfa::store::SCHEMA_VERSION,
    }
}
