//! The embedded store: one SQLite file (bundled SQLite, WAL mode, busy timeout) with a schema
//! versioned through `PRAGMA user_version` and applied by ordered migrations.
//!
//! One connection behind a mutex: every method blocks, so async code calls them from
//! `spawn_blocking`. Multi-row changes run in one transaction. Nothing here logs.

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};

use super::{
    prepare_data_dir, Account, AccountKind, AuditEvent, Identity, IdentityKind, Principal, Session,
    StepOutcome, StoreError, DB_FILE,
};

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
];

/// The current schema version.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How many wrong codes, in how many seconds, lock a key, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub max_failures: u64,
    pub window_secs: u64,
    pub lock_secs: u64,
}

/// Which keys a failure has just locked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NewLocks {
    pub identity: bool,
    pub ip: bool,
}

/// The store handle. Cheap to clone; all clones share one connection.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the store in `dir`: the directory gets mode 0700, the
    /// database and its WAL/SHM files 0600. Applies pending migrations.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        prepare_data_dir(dir)?;
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
        let mut conn = Connection::open(&path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)?;
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
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Poisoned)
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let conn = self.conn()?;
        user_version(&conn)
    }

    // ----- accounts and identities -----

    /// True when no account exists yet (a fresh store).
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        let n: i64 = self
            .conn()?
            .query_row("SELECT COUNT(*) FROM accounts", [], |r| r.get(0))?;
        Ok(n == 0)
    }

    /// Adds an account. Refuses a duplicate name or domain, or an unknown owner.
    pub fn add_account(&self, account: &Account, password_hash: &str) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        // Immediate: the checks and the insert see one state even with another process writing.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if name_taken(&tx, &account.name)? {
            return Err(StoreError::Invalid(format!(
                "An account named “{}” already exists.",
                account.name
            )));
        }
        if !account.domain.is_empty()
            && exists(
                &tx,
                "SELECT 1 FROM accounts WHERE domain = ?1",
                &account.domain,
            )?
        {
            return Err(StoreError::Invalid(format!(
                "The domain “{}” already belongs to another account.",
                account.domain
            )));
        }
        if account.kind != AccountKind::Root {
            let owner_kind = account_kind(&tx, &account.owner)?;
            if !matches!(owner_kind, Some(AccountKind::Root | AccountKind::Reseller)) {
                return Err(StoreError::Invalid(format!(
                    "The owner “{}” is neither root nor a reseller.",
                    account.owner
                )));
            }
        }
        tx.execute(
            "INSERT INTO accounts (name, kind, owner, domain, password_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![account.name, account.kind.as_str(), account.owner, account.domain, password_hash],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// One account by name.
    pub fn account(&self, name: &str) -> Result<Option<Account>, StoreError> {
        let conn = self.conn()?;
        one_row(
            &conn,
            "SELECT name, kind, owner, domain FROM accounts WHERE name = ?1",
            name,
            row_account,
        )
    }

    /// Every account, root included, sorted by name.
    pub fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let conn = self.conn()?;
        let mut stmt =
            conn.prepare("SELECT name, kind, owner, domain FROM accounts ORDER BY name")?;
        let rows = stmt.query_map([], row_account)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The account whose primary domain is `domain`.
    pub fn account_by_domain(&self, domain: &str) -> Result<Option<Account>, StoreError> {
        let conn = self.conn()?;
        one_row(
            &conn,
            "SELECT name, kind, owner, domain FROM accounts WHERE domain = ?1",
            domain,
            row_account,
        )
    }

    /// Adds a webmail address or team user. The account must be a cPanel account (user or
    /// reseller) and the name must not exist yet.
    pub fn add_identity(&self, identity: &Identity, password_hash: &str) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if name_taken(&tx, &identity.name)? {
            return Err(StoreError::Invalid(format!(
                "“{}” already exists.",
                identity.name
            )));
        }
        let kind = account_kind(&tx, &identity.account)?;
        if !matches!(kind, Some(AccountKind::User | AccountKind::Reseller)) {
            return Err(StoreError::Invalid(format!(
                "“{}” is not a cPanel account.",
                identity.account
            )));
        }
        tx.execute(
            "INSERT INTO identities (name, kind, account, password_hash) VALUES (?1, ?2, ?3, ?4)",
            params![
                identity.name,
                identity.kind.as_str(),
                identity.account,
                password_hash
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// One webmail address or team user by its full name.
    pub fn identity(&self, name: &str) -> Result<Option<Identity>, StoreError> {
        let conn = self.conn()?;
        one_row(
            &conn,
            "SELECT name, kind, account FROM identities WHERE name = ?1",
            name,
            row_identity,
        )
    }

    /// The webmail addresses and team users of an account, sorted by name.
    pub fn identities_of(&self, account: &str) -> Result<Vec<Identity>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT name, kind, account FROM identities WHERE account = ?1 ORDER BY name",
        )?;
        let rows = stmt.query_map([account], row_identity)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// An account or identity by login name.
    pub fn principal(&self, name: &str) -> Result<Option<Principal>, StoreError> {
        if let Some(a) = self.account(name)? {
            return Ok(Some(Principal::Account(a)));
        }
        Ok(self.identity(name)?.map(Principal::Identity))
    }

    /// The stored argon2 hash of a login's password.
    pub fn password_hash(&self, name: &str) -> Result<Option<String>, StoreError> {
        let conn = self.conn()?;
        one_value(
            &conn,
            "SELECT password_hash FROM accounts WHERE name = ?1
             UNION ALL SELECT password_hash FROM identities WHERE name = ?1 LIMIT 1",
            name,
        )
    }

    /// Replaces the password hash of an account or identity.
    pub fn set_password(&self, name: &str, password_hash: &str) -> Result<(), StoreError> {
        let conn = self.conn()?;
        let n = conn.execute(
            "UPDATE accounts SET password_hash = ?2 WHERE name = ?1",
            params![name, password_hash],
        )? + conn.execute(
            "UPDATE identities SET password_hash = ?2 WHERE name = ?1",
            params![name, password_hash],
        )?;
        if n == 0 {
            return Err(StoreError::Invalid(format!("“{name}” does not exist.")));
        }
        Ok(())
    }

    // ----- 2FA configs -----

    /// The stored secret of a 2FA username.
    pub fn tfa_secret(&self, username: &str) -> Result<Option<String>, StoreError> {
        let conn = self.conn()?;
        one_value(
            &conn,
            "SELECT secret FROM tfa WHERE username = ?1",
            username,
        )
    }

    /// Every stored 2FA config, sorted by username.
    pub fn all_tfa(&self) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.conn()?;
        string_pairs(&conn, "SELECT username, secret FROM tfa ORDER BY username")
    }

    /// The last accepted step of a 2FA username.
    pub fn last_step(&self, username: &str) -> Result<Option<u64>, StoreError> {
        let conn = self.conn()?;
        let step: Option<i64> = one_value(
            &conn,
            "SELECT step FROM last_steps WHERE username = ?1",
            username,
        )?;
        Ok(step.and_then(|s| u64::try_from(s).ok()))
    }

    /// Records `step` as accepted for `username` unless a step at or above it was accepted
    /// already (a replay). Atomic: of two concurrent uses of one code only one is accepted.
    pub fn accept_step(&self, username: &str, step: u64) -> Result<StepOutcome, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let outcome = accept_step_tx(&tx, username, step)?;
        tx.commit()?;
        Ok(outcome)
    }

    /// Enrollment: accepts `step` (as [`Store::accept_step`]) and, only if it is fresh, stores
    /// `secret` for `username`, replacing any previous one. One transaction.
    pub fn enroll(
        &self,
        username: &str,
        secret: &str,
        step: u64,
    ) -> Result<StepOutcome, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let outcome = accept_step_tx(&tx, username, step)?;
        if outcome == StepOutcome::Accepted {
            upsert_tfa(&tx, username, secret)?;
        }
        tx.commit()?;
        Ok(outcome)
    }

    /// Removes a 2FA config. True if one was stored. The last accepted step is kept, so an old
    /// code stays refused after re-enrolling.
    pub fn remove_tfa(&self, username: &str) -> Result<bool, StoreError> {
        let conn = self.conn()?;
        Ok(conn.execute("DELETE FROM tfa WHERE username = ?1", [username])? > 0)
    }

    /// Replaces every 2FA entry of an account (its own, its webmail addresses', its team
    /// users') with the given ones, in one transaction.
    pub fn replace_account_tfa(
        &self,
        account: &str,
        entries: &[(String, String)],
    ) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM tfa WHERE username = ?1
             OR username IN (SELECT name FROM identities WHERE account = ?1)",
            [account],
        )?;
        for (username, secret) in entries {
            upsert_tfa(&tx, username, secret)?;
        }
        tx.commit()?;
        Ok(())
    }

    // ----- issuers and settings -----

    /// The issuer entry under `key` (`system_wide_issuer` or a reseller's name).
    pub fn issuer(&self, key: &str) -> Result<Option<String>, StoreError> {
        let conn = self.conn()?;
        one_value(&conn, "SELECT issuer FROM issuers WHERE name = ?1", key)
    }

    /// Sets (`Some`) or clears (`None`) an issuer entry.
    pub fn set_issuer(&self, key: &str, issuer: Option<&str>) -> Result<(), StoreError> {
        let conn = self.conn()?;
        match issuer {
            Some(value) => upsert_issuer(&conn, key, value)?,
            None => {
                conn.execute("DELETE FROM issuers WHERE name = ?1", [key])?;
            }
        }
        Ok(())
    }

    /// Every issuer entry, sorted by key.
    pub fn all_issuers(&self) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.conn()?;
        string_pairs(&conn, "SELECT name, issuer FROM issuers ORDER BY name")
    }

    /// A setting's value.
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let conn = self.conn()?;
        one_value(&conn, "SELECT value FROM settings WHERE key = ?1", key)
    }

    /// Sets a setting.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let conn = self.conn()?;
        conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    // ----- credentials -----

    /// Stores the hash of a new API token for an account.
    pub fn add_token(&self, account: &str, hash: &[u8], now: u64) -> Result<(), StoreError> {
        let conn = self.conn()?;
        conn.execute(
            "INSERT INTO api_tokens (account, hash, created) VALUES (?1, ?2, ?3)",
            params![account, hash, to_i64(now)],
        )?;
        Ok(())
    }

    /// The token hashes of an account.
    pub fn token_hashes(&self, account: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare("SELECT hash FROM api_tokens WHERE account = ?1")?;
        let rows = stmt.query_map([account], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Stores a session under the hash of its cookie.
    pub fn add_session(
        &self,
        cookie_hash: &[u8],
        session: &Session,
        now: u64,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Expired sessions are pruned here, at login, not on every authenticated request.
        tx.execute(
            "DELETE FROM sessions WHERE expires <= ?1",
            params![to_i64(now)],
        )?;
        tx.execute(
            "INSERT INTO sessions (cookie_hash, cpsess, principal, expires) VALUES (?1, ?2, ?3, ?4)",
            params![cookie_hash, session.cpsess, session.principal, to_i64(session.expires)],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The live session with this cookie hash, if any (an expired one is as good as none).
    pub fn session(&self, cookie_hash: &[u8], now: u64) -> Result<Option<Session>, StoreError> {
        let conn = self.conn()?;
        let row: Option<(String, String, i64)> = conn
            .query_row(
                "SELECT cpsess, principal, expires FROM sessions WHERE cookie_hash = ?1 AND expires > ?2",
                params![cookie_hash, to_i64(now)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        Ok(row.map(|(cpsess, principal, expires)| Session {
            cpsess,
            principal,
            expires: u64::try_from(expires).unwrap_or(0),
        }))
    }

    /// Ends a session.
    pub fn delete_session(&self, cookie_hash: &[u8]) -> Result<(), StoreError> {
        let conn = self.conn()?;
        conn.execute("DELETE FROM sessions WHERE cookie_hash = ?1", [cookie_hash])?;
        Ok(())
    }

    // ----- throttling and audit -----

    /// The end of a live lockout of `key`, if any.
    pub fn locked_until(&self, key: &str, now: u64) -> Result<Option<u64>, StoreError> {
        let conn = self.conn()?;
        let until = live_lock(&conn, key, now)?;
        Ok(until.and_then(|u| u64::try_from(u).ok()))
    }

    /// Records a wrong code for `identity` from `ip`, writes the audit row, and locks the
    /// identity (key `user:<identity>`) or the address (key `ip:<ip>`) once its limit is reached.
    pub fn record_failure(
        &self,
        identity: &str,
        ip: &str,
        now: u64,
        detail: &str,
        per_identity: Limit,
        per_ip: Limit,
    ) -> Result<NewLocks, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let at = to_i64(now);
        tx.execute(
            "INSERT INTO failures (at, identity, ip) VALUES (?1, ?2, ?3)",
            params![at, identity, ip],
        )?;
        insert_audit(&tx, now, "failed_code", identity, ip, detail)?;
        // Counts the failures of `value` (in `count_sql`) within the limit's window and, at the
        // limit, locks `key`; a new lockout is audited. True when it locked.
        let lock_at_limit = |count_sql: &str, value: &str, key: &str, limit: Limit, why: &str| {
            let since = to_i64(now.saturating_sub(limit.window_secs));
            let n: i64 = tx.query_row(count_sql, params![value, since], |r| r.get(0))?;
            if u64::try_from(n).unwrap_or(0) < limit.max_failures {
                return Ok::<bool, StoreError>(false);
            }
            let locked = lock_tx(&tx, key, now, limit)?;
            if locked {
                insert_audit(&tx, now, "lockout", identity, ip, why)?;
            }
            Ok(locked)
        };
        let locks = NewLocks {
            identity: lock_at_limit(
                "SELECT COUNT(*) FROM failures WHERE identity = ?1 AND at > ?2",
                identity,
                &format!("user:{identity}"),
                per_identity,
                "too many invalid security codes for this identity",
            )?,
            ip: lock_at_limit(
                "SELECT COUNT(*) FROM failures WHERE ip = ?1 AND at > ?2",
                ip,
                &format!("ip:{ip}"),
                per_ip,
                "too many invalid security codes from this address",
            )?,
        };
        tx.execute(
            "DELETE FROM failures WHERE at <= ?1",
            params![to_i64(now.saturating_sub(
                per_identity.window_secs.max(per_ip.window_secs)
            ))],
        )?;
        tx.commit()?;
        Ok(locks)
    }

    /// Appends an audit event.
    pub fn audit(
        &self,
        now: u64,
        event: &str,
        identity: &str,
        ip: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        let conn = self.conn()?;
        insert_audit(&conn, now, event, identity, ip, detail)
    }

    /// The audit log, oldest first.
    pub fn audit_events(&self) -> Result<Vec<AuditEvent>, StoreError> {
        let conn = self.conn()?;
        let mut stmt =
            conn.prepare("SELECT at, event, identity, ip, detail FROM audit ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            let at: i64 = r.get(0)?;
            Ok(AuditEvent {
                at: u64::try_from(at).unwrap_or(0),
                event: r.get(1)?,
                identity: r.get(2)?,
                ip: r.get(3)?,
                detail: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ----- cPanel import -----

    /// Upserts 2FA configs and issuer entries in one transaction: all of them or none.
    pub fn import(
        &self,
        tfa: &[(String, String)],
        issuers: &[(String, String)],
    ) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        for (username, secret) in tfa {
            upsert_tfa(&tx, username, secret)?;
        }
        for (key, issuer) in issuers {
            upsert_issuer(&tx, key, issuer)?;
        }
        tx.commit()?;
        Ok(())
    }
}

fn user_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
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

fn accept_step_tx(
    tx: &Transaction<'_>,
    username: &str,
    step: u64,
) -> Result<StepOutcome, StoreError> {
    let changed = tx.execute(
        "INSERT INTO last_steps (username, step) VALUES (?1, ?2)
         ON CONFLICT(username) DO UPDATE SET step = excluded.step WHERE step < excluded.step",
        params![username, to_i64(step)],
    )?;
    Ok(if changed == 1 {
        StepOutcome::Accepted
    } else {
        StepOutcome::Replayed
    })
}

fn lock_tx(tx: &Transaction<'_>, key: &str, now: u64, limit: Limit) -> Result<bool, StoreError> {
    if live_lock(tx, key, now)?.is_some() {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO lockouts (key, until) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET until = excluded.until",
        params![key, to_i64(now.saturating_add(limit.lock_secs))],
    )?;
    Ok(true)
}

/// Appends an audit row (inside a transaction or not).
fn insert_audit(
    conn: &Connection,
    now: u64,
    event: &str,
    identity: &str,
    ip: &str,
    detail: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO audit (at, event, identity, ip, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![to_i64(now), event, identity, ip, detail],
    )?;
    Ok(())
}

fn exists(conn: &Connection, sql: &str, key: &str) -> Result<bool, StoreError> {
    Ok(conn.query_row(sql, [key], |_| Ok(())).optional()?.is_some())
}

/// True when an account or an identity already has this login name.
fn name_taken(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    Ok(
        exists(conn, "SELECT 1 FROM accounts WHERE name = ?1", name)?
            || exists(conn, "SELECT 1 FROM identities WHERE name = ?1", name)?,
    )
}

/// The kind of an account, if it exists.
fn account_kind(conn: &Connection, name: &str) -> Result<Option<AccountKind>, StoreError> {
    one_value(conn, "SELECT kind FROM accounts WHERE name = ?1", name)
}

/// The one column `sql` selects for `key`, if a row matches.
fn one_value<T: FromSql>(conn: &Connection, sql: &str, key: &str) -> Result<Option<T>, StoreError> {
    Ok(conn.query_row(sql, [key], |r| r.get(0)).optional()?)
}

/// Every (text, text) row of `sql`.
fn string_pairs(conn: &Connection, sql: &str) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The one row `sql` finds for `key`, read by `read`.
fn one_row<T>(
    conn: &Connection,
    sql: &str,
    key: &str,
    read: fn(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>, StoreError> {
    Ok(conn.query_row(sql, [key], read).optional()?)
}

/// Stores `secret` for `username`, replacing any previous one.
fn upsert_tfa(conn: &Connection, username: &str, secret: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO tfa (username, secret) VALUES (?1, ?2)
         ON CONFLICT(username) DO UPDATE SET secret = excluded.secret",
        params![username, secret],
    )?;
    Ok(())
}

/// Sets the issuer entry under `key`.
fn upsert_issuer(conn: &Connection, key: &str, issuer: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO issuers (name, issuer) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET issuer = excluded.issuer",
        params![key, issuer],
    )?;
    Ok(())
}

/// The end (unix seconds, as stored) of a lockout of `key` still live at `now`.
fn live_lock(conn: &Connection, key: &str, now: u64) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT until FROM lockouts WHERE key = ?1 AND until > ?2",
            params![key, to_i64(now)],
            |r| r.get(0),
        )
        .optional()?)
}

fn row_account(r: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        name: r.get(0)?,
        kind: r.get(1)?,
        owner: r.get(2)?,
        domain: r.get(3)?,
    })
}

fn row_identity(r: &Row<'_>) -> rusqlite::Result<Identity> {
    Ok(Identity {
        name: r.get(0)?,
        kind: r.get(1)?,
        account: r.get(2)?,
    })
}

/// Reads a `kind` column through `parse`; text it does not know is [`StoreError::Corrupt`].
fn kind_from_sql<T>(
    value: ValueRef<'_>,
    what: &str,
    parse: fn(&str) -> Option<T>,
) -> FromSqlResult<T> {
    let text = value.as_str()?;
    parse(text).ok_or_else(|| {
        FromSqlError::Other(Box::new(StoreError::Corrupt(format!(
            "{what} kind “{text}”"
        ))))
    })
}

impl FromSql for AccountKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        kind_from_sql(value, "account", AccountKind::parse)
    }
}

impl FromSql for IdentityKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        kind_from_sql(value, "identity", IdentityKind::parse)
    }
}

/// Unix seconds fit an i64 until the year 292 billion; saturate rather than wrap.
fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
