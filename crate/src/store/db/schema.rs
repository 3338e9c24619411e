//! The schema of each database, one migration per version, applied in order inside a
//! transaction each: SQLite's recorded in `PRAGMA user_version`, PostgreSQL's in the
//! `tfa_schema` table. A database newer than this binary is refused.
//!
//! Both describe the same tables and columns, so that one set of statements (`conn.rs`) runs
//! on either. PostgreSQL's integers are `BIGINT` (flags too: the statements compare them with
//! 0, as SQLite stores them), its text keys `COLLATE "C"` (byte order, as SQLite sorts), and
//! its row ids identity columns.

use rusqlite::Connection;

use super::StoreError;

/// The schema, one entry per version. Never edit a released entry: add a new one.
pub(super) const MIGRATIONS: &[&str] = &[
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
    // 3: wrong passwords, counted apart from wrong codes (their own limits and lock keys).
    // A row is written (pending) before the hash runs, then removed if the password was
    // right or marked judged (pending = 0) if it was wrong. Unknown names have no identity
    // and count against the address only.
    "CREATE TABLE password_failures (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        identity TEXT,
        ip TEXT NOT NULL,
        pending INTEGER NOT NULL DEFAULT 1
     );
     CREATE INDEX password_failures_identity ON password_failures(identity, at, pending);
     CREATE INDEX password_failures_ip ON password_failures(ip, at, pending);
     CREATE INDEX password_failures_at ON password_failures(at);",
    // 4: the system-wide issuer leaves the key an account name could take.
    MOVE_SYSTEM_ISSUER,
    // 5: a session remembers whether its login gave a security code (cPanel's session file
    // keeps the same flag, `tfa_verified`). One that did not is pending whenever 2FA is
    // required of its login (the policy is on and the login has 2FA): it may only finish
    // logging in. Sessions from before this version gave no code as far as anyone knows.
    "ALTER TABLE sessions ADD COLUMN tfa_verified INTEGER NOT NULL DEFAULT 0;",
    // 6: API tokens get names, as cPanel's do (unique per account; the tokens made before
    // get `token-ID`; a token added without a name gets one the same way), and the one-time
    // login URLs of `create_user_session`, kept as the SHA-256 of their secret until used or
    // expired.
    "ALTER TABLE api_tokens ADD COLUMN name TEXT;
     UPDATE api_tokens SET name = 'token-' || id;
     CREATE UNIQUE INDEX api_tokens_name ON api_tokens(account, name);
     CREATE TRIGGER api_tokens_default_name AFTER INSERT ON api_tokens
        WHEN NEW.name IS NULL
        BEGIN UPDATE api_tokens SET name = 'token-' || NEW.id WHERE id = NEW.id; END;
     CREATE TABLE one_time_logins (
        hash BLOB PRIMARY KEY NOT NULL,
        principal TEXT NOT NULL,
        cpsess TEXT NOT NULL,
        expires INTEGER NOT NULL
     );
     CREATE INDEX one_time_logins_expires ON one_time_logins(expires);",
    // 7: TOTP secrets are stored sealed (`v1:` + base64 of nonce and ciphertext, see
    // store/crypto.rs); the plaintext ones of older stores are sealed by a one-time job at
    // open, in one transaction, right after this migration. From here on the database
    // itself refuses a plaintext secret, whatever code path tries to write one.
    "CREATE TRIGGER tfa_sealed_insert BEFORE INSERT ON tfa
        WHEN substr(NEW.secret, 1, 3) <> 'v1:'
        BEGIN SELECT RAISE(ABORT, 'a TOTP secret must be stored encrypted'); END;
     CREATE TRIGGER tfa_sealed_update BEFORE UPDATE OF secret ON tfa
        WHEN substr(NEW.secret, 1, 3) <> 'v1:'
        BEGIN SELECT RAISE(ABORT, 'a TOTP secret must be stored encrypted'); END;",
    // 8: recovery codes, one row per unused code, kept only as a keyed hash (see
    // store/db/recovery.rs); a used code's row is deleted. A code only stands in for
    // the secret it was made with, so removing the 2FA config, by whatever path, removes
    // the codes in the same statement.
    "CREATE TABLE recovery_codes (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL,
        hash BLOB NOT NULL
     );
     CREATE INDEX recovery_codes_username ON recovery_codes(username);
     CREATE TRIGGER tfa_removed_recovery_codes AFTER DELETE ON tfa
        BEGIN DELETE FROM recovery_codes WHERE username = OLD.username; END;",
];

/// Migration 4: the system-wide issuer moves from `system_wide_issuer`, which a reseller of
/// that name also wrote, to [`crate::store::SYSTEM_ISSUER_KEY`]. If such an account exists
/// the old row may be its own entry, so it stays that account's and the system-wide issuer
/// falls back to the hostname until root sets it again.
pub(super) const MOVE_SYSTEM_ISSUER: &str = "UPDATE issuers SET name = '/system_wide_issuer'
     WHERE name = 'system_wide_issuer'
       AND NOT EXISTS (SELECT 1 FROM accounts WHERE name = 'system_wide_issuer');";

/// The current schema version.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// PostgreSQL's schema, one entry per version. Never edit a released entry: add a new one
/// (and SQLite's counterpart to [`MIGRATIONS`]).
pub(super) const PG_MIGRATIONS: &[&str] = &[
    // 1: the schema of SQLite's version 8, whole.
    r#"CREATE TABLE tfa_schema (version BIGINT NOT NULL);
     INSERT INTO tfa_schema (version) VALUES (0);
     CREATE TABLE accounts (
        name TEXT COLLATE "C" PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('root', 'reseller', 'user')),
        owner TEXT COLLATE "C" NOT NULL,
        domain TEXT COLLATE "C" NOT NULL DEFAULT '',
        password_hash TEXT NOT NULL
     );
     CREATE UNIQUE INDEX accounts_domain ON accounts(domain) WHERE domain <> '';
     CREATE INDEX accounts_owner ON accounts(owner, name);
     CREATE TABLE identities (
        name TEXT COLLATE "C" PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('webmail', 'team')),
        account TEXT COLLATE "C" NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
        password_hash TEXT NOT NULL
     );
     CREATE INDEX identities_account ON identities(account, name);
     -- The database itself refuses a plaintext secret, whatever code path tries to write one.
     CREATE TABLE tfa (
        username TEXT COLLATE "C" PRIMARY KEY,
        secret TEXT NOT NULL CONSTRAINT tfa_secret_must_be_encrypted CHECK (substr(secret, 1, 3) = 'v1:')
     );
     CREATE TABLE last_steps (
        username TEXT COLLATE "C" PRIMARY KEY,
        step BIGINT NOT NULL
     );
     CREATE TABLE issuers (
        name TEXT COLLATE "C" PRIMARY KEY,
        issuer TEXT NOT NULL
     );
     CREATE TABLE settings (
        key TEXT COLLATE "C" PRIMARY KEY,
        value TEXT NOT NULL
     );
     CREATE TABLE api_tokens (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        account TEXT COLLATE "C" NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
        hash BYTEA NOT NULL,
        created BIGINT NOT NULL,
        name TEXT COLLATE "C"
     );
     CREATE INDEX api_tokens_hash ON api_tokens(hash);
     CREATE INDEX api_tokens_account ON api_tokens(account);
     CREATE UNIQUE INDEX api_tokens_name ON api_tokens(account, name);
     -- A token added without a name gets `token-ID`, as on SQLite.
     CREATE FUNCTION tfa_api_token_default_name() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.name IS NULL THEN NEW.name := 'token-' || NEW.id; END IF;
            RETURN NEW;
        END $$;
     CREATE TRIGGER api_tokens_default_name BEFORE INSERT ON api_tokens
        FOR EACH ROW EXECUTE FUNCTION tfa_api_token_default_name();
     CREATE TABLE sessions (
        cookie_hash BYTEA PRIMARY KEY,
        cpsess TEXT NOT NULL,
        principal TEXT COLLATE "C" NOT NULL,
        expires BIGINT NOT NULL,
        tfa_verified BIGINT NOT NULL DEFAULT 0
     );
     CREATE INDEX sessions_expires ON sessions(expires);
     CREATE INDEX sessions_principal ON sessions(principal);
     CREATE TABLE one_time_logins (
        hash BYTEA PRIMARY KEY,
        principal TEXT COLLATE "C" NOT NULL,
        cpsess TEXT NOT NULL,
        expires BIGINT NOT NULL
     );
     CREATE INDEX one_time_logins_expires ON one_time_logins(expires);
     CREATE TABLE failures (
        at BIGINT NOT NULL,
        identity TEXT COLLATE "C" NOT NULL,
        ip TEXT COLLATE "C" NOT NULL
     );
     CREATE INDEX failures_identity ON failures(identity, at);
     CREATE INDEX failures_ip ON failures(ip, at);
     CREATE INDEX failures_at ON failures(at);
     CREATE TABLE lockouts (
        key TEXT COLLATE "C" PRIMARY KEY,
        until BIGINT NOT NULL
     );
     CREATE TABLE password_failures (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        at BIGINT NOT NULL,
        identity TEXT COLLATE "C",
        ip TEXT COLLATE "C" NOT NULL,
        pending BIGINT NOT NULL DEFAULT 1
     );
     CREATE INDEX password_failures_identity ON password_failures(identity, at, pending);
     CREATE INDEX password_failures_ip ON password_failures(ip, at, pending);
     CREATE INDEX password_failures_at ON password_failures(at);
     CREATE TABLE audit (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        at BIGINT NOT NULL,
        event TEXT NOT NULL,
        identity TEXT NOT NULL,
        ip TEXT NOT NULL,
        detail TEXT NOT NULL
     );
     CREATE INDEX audit_at ON audit(at);
     CREATE TABLE recovery_codes (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        username TEXT COLLATE "C" NOT NULL,
        hash BYTEA NOT NULL
     );
     CREATE INDEX recovery_codes_username ON recovery_codes(username);
     -- A code only stands in for the secret it was made with: removing the 2FA config, by
     -- whatever path, removes the codes in the same statement.
     CREATE FUNCTION tfa_removed_recovery_codes() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM recovery_codes WHERE username = OLD.username;
            RETURN OLD;
        END $$;
     CREATE TRIGGER tfa_removed_recovery_codes AFTER DELETE ON tfa
        FOR EACH ROW EXECUTE FUNCTION tfa_removed_recovery_codes();"#,
];

/// PostgreSQL's current schema version.
pub const PG_SCHEMA_VERSION: i64 = PG_MIGRATIONS.len() as i64;

/// Whether the version table exists (NULL if not), in the connection's schema.
pub(super) const PG_HAS_VERSION: &str = "SELECT to_regclass('tfa_schema')::text";
pub(super) const PG_VERSION: &str = "SELECT version FROM tfa_schema";
pub(super) const PG_SET_VERSION: &str = "UPDATE tfa_schema SET version = $1";

/// Applies the PostgreSQL migrations a database at `version` lacks, each through `apply`
/// (one transaction: the migration and its version). The caller holds the open lock.
pub(super) fn migrate_postgres(
    version: i64,
    mut apply: impl FnMut(&str, i64) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    if version > PG_SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found: version,
            known: PG_SCHEMA_VERSION,
        });
    }
    for (target, sql) in (1..=PG_SCHEMA_VERSION).zip(PG_MIGRATIONS) {
        if target > version {
            apply(sql, target)?;
        }
    }
    Ok(())
}

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
