//! The schema, one migration per version, applied in order inside a transaction each and
//! recorded in `PRAGMA user_version`. A database newer than this binary is refused.

use rusqlite::Connection;

use super::StoreError;

/// The schema, one entry per version. Never edit a released entry: add a new one.
const MIGRATIONS: &[&str] = &[
    // 1: the first release.
    "CREATE TABLE accounts (
        name TEXT PRIMARY KEY NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('root', 'reseller', 'user')),
        owner TEXT NOT NULL,
        domain TEXT NOT NULL DEFAULT '',
        password_hash TEXT NOT NULL
     );
     CREATE UNIQUE INDEX accounts_domain ON accounts(domain) WHERE domain <> '';
     CREATE TABLE identities (
        name TEXT PRIMARY KEY NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('webmail', 'team')),
        account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
        password_hash TEXT NOT NULL
     );
     CREATE TABLE tfa (
        username TEXT PRIMARY KEY NOT NULL,
        secret TEXT NOT NULL
     );
     CREATE TABLE last_steps (
        username TEXT PRIMARY KEY NOT NULL,
        step INTEGER NOT NULL
     );
     CREATE TABLE issuers (
        name TEXT PRIMARY KEY NOT NULL,
        issuer TEXT NOT NULL
     );
     CREATE TABLE settings (
        key TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
     );
     CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
        hash BLOB NOT NULL,
        created INTEGER NOT NULL
     );
     CREATE TABLE sessions (
        cookie_hash BLOB PRIMARY KEY NOT NULL,
        cpsess TEXT NOT NULL,
        principal TEXT NOT NULL,
        expires INTEGER NOT NULL
     );
     CREATE TABLE failures (
        at INTEGER NOT NULL,
        identity TEXT NOT NULL,
        ip TEXT NOT NULL
     );
     CREATE INDEX failures_identity ON failures(identity, at);
     CREATE INDEX failures_ip ON failures(ip, at);
     CREATE TABLE lockouts (
        key TEXT PRIMARY KEY NOT NULL,
        until INTEGER NOT NULL
     );
     CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        event TEXT NOT NULL,
        identity TEXT NOT NULL,
        ip TEXT NOT NULL,
        detail TEXT NOT NULL
     );",
    // 2: an index for every lookup the server makes (the query-plan test holds them to it).
    // Tokens are found by their hash, so a token check costs one index probe however many
    // tokens the store holds.
    "CREATE INDEX api_tokens_hash ON api_tokens(hash);
     CREATE INDEX api_tokens_account ON api_tokens(account);
     CREATE INDEX sessions_expires ON sessions(expires);
     CREATE INDEX sessions_principal ON sessions(principal);
     CREATE INDEX identities_account ON identities(account, name);
     CREATE INDEX accounts_owner ON accounts(owner, name);
     CREATE INDEX failures_at ON failures(at);
     CREATE INDEX audit_at ON audit(at);",
];

/// The current schema version.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The schema version of a database.
pub(super) fn user_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Applies the migrations `conn`'s database lacks, each in its own transaction.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version = user_version(conn)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    for (target, sql) in (1..=SCHEMA_VERSION).zip(MIGRATIONS) {
        if target <= version {
            continue;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", target)?;
        tx.commit()?;
    }
    Ok(())
}
