//! Persistence for the server (feature `server`): accounts, identities, 2FA configs, issuers,
//! settings, API tokens, sessions, throttling and the audit log.
//!
//! Owns the records and the [`Store`] interface the server uses. It never speaks HTTP, never
//! reads a clock (times come in as unix seconds) and never logs a secret, token or password.
//! Access is by trips ([`Store::read`], [`Store::write`]): one request is one trip.

pub mod cpanel;
pub mod crypto;
mod db;
mod names;

use std::fmt;
use std::path::{Path, PathBuf};

pub use db::{
    Database, Limit, Limits, NewLocks, PostgresOptions, Reader, RollsBack, Store, Writer,
    DEFAULT_POOL, PG_SCHEMA_VERSION, SCHEMA_VERSION,
};
pub use names::{check_account_name, check_name, ACCOUNT_NAME_MAX};

/// The file name of the database inside the data directory.
pub const DB_FILE: &str = "tfa.sqlite3";

/// The `issuers` key of the system-wide issuer. A reseller's own issuer is kept under its
/// name, so this key holds a `/`, which no account name has ever been allowed to contain
/// ([`check_name`] refused it from the first release): no account can write it. cPanel's file
/// calls it `system_wide_issuer` ([`cpanel`] maps the two).
pub const SYSTEM_ISSUER_KEY: &str = "/system_wide_issuer";

/// What an account is, in WHM's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    Root,
    Reseller,
    User,
}

impl AccountKind {
    /// The text stored in the `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Root => "root",
            AccountKind::Reseller => "reseller",
            AccountKind::User => "user",
        }
    }

    fn parse(text: &str) -> Option<AccountKind> {
        match text {
            "root" => Some(AccountKind::Root),
            "reseller" => Some(AccountKind::Reseller),
            "user" => Some(AccountKind::User),
            _ => None,
        }
    }
}

/// root, a reseller or a cPanel user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub kind: AccountKind,
    /// The reseller or root that owns the account (root owns itself).
    pub owner: String,
    /// The primary domain; empty for root (its "domain" is the hostname).
    pub domain: String,
}

/// A webmail address or a team user of a cPanel account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityKind {
    Webmail,
    Team,
}

impl IdentityKind {
    /// The text stored in the `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Webmail => "webmail",
            IdentityKind::Team => "team",
        }
    }

    fn parse(text: &str) -> Option<IdentityKind> {
        match text {
            "webmail" => Some(IdentityKind::Webmail),
            "team" => Some(IdentityKind::Team),
            _ => None,
        }
    }
}

/// A login that is not an account: `user@domain` (webmail) or `team@cpuser` (team user).
/// `name` is also its 2FA username, as cPanel keys it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub kind: IdentityKind,
    /// The cPanel account it belongs to.
    pub account: String,
}

/// Whoever can log in: an account or an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Account(Account),
    Identity(Identity),
}

impl Principal {
    /// The login name, which is also the 2FA username.
    pub fn name(&self) -> &str {
        match self {
            Principal::Account(a) => &a.name,
            Principal::Identity(i) => &i.name,
        }
    }
}

/// A stored session: the cpsess number in the URL and the account it is for. The cookie value
/// itself is never stored, only its hash. `Debug` leaves the cpsess out, as the logs do.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    pub cpsess: String,
    pub principal: String,
    pub expires: u64,
    /// The login gave a valid security code (cPanel's `tfa_verified`). A session without one
    /// is pending while 2FA is required of its login: it may only finish logging in.
    pub tfa_verified: bool,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("cpsess", &"<redacted>")
            .field("principal", &self.principal)
            .field("expires", &self.expires)
            .field("tfa_verified", &self.tfa_verified)
            .finish()
    }
}

/// An API token as an administrator sees it: its number and when it was made. Neither the
/// token nor its hash is ever shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: i64,
    /// Unix seconds.
    pub created: u64,
}

/// What happened to a 2FA enrollment write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// The step was newer than any accepted before; it is now the last accepted step.
    Accepted,
    /// A step at or below the last accepted one: a replay; nothing was written.
    Replayed,
}

/// What an audit row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    /// Two-factor authentication configured (enrollment).
    Enable,
    /// A 2FA config removed.
    Disable,
    /// A wrong security code (a replay is refused but neither counted nor audited).
    FailedCode,
    /// A lockout started.
    Lockout,
    /// A wrong user name or password at `/login`.
    FailedLogin,
    /// A wrong user name or password in a Basic-auth API call.
    FailedBasicAuth,
    /// A session started.
    Login,
    /// The security policy turned on.
    PolicyEnable,
    /// The security policy turned off.
    PolicyDisable,
    /// An administrator read an account's secrets.
    ReadSecrets,
    /// An administrator replaced an account's 2FA entries.
    Replace,
    /// A new set of recovery codes was made (at enrollment or on request).
    RecoveryCodes,
    /// A recovery code was used in place of a security code.
    RecoveryCodeUsed,
}

impl AuditKind {
    const ALL: [AuditKind; 13] = [
        AuditKind::Enable,
        AuditKind::Disable,
        AuditKind::FailedCode,
        AuditKind::Lockout,
        AuditKind::FailedLogin,
        AuditKind::FailedBasicAuth,
        AuditKind::Login,
        AuditKind::PolicyEnable,
        AuditKind::PolicyDisable,
        AuditKind::ReadSecrets,
        AuditKind::Replace,
        AuditKind::RecoveryCodes,
        AuditKind::RecoveryCodeUsed,
    ];

    /// The text stored in the `event` column and printed by `tfa audit`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::Enable => "enable",
            AuditKind::Disable => "disable",
            AuditKind::FailedCode => "failed_code",
            AuditKind::Lockout => "lockout",
            AuditKind::FailedLogin => "failed_login",
            AuditKind::FailedBasicAuth => "failed_basic_auth",
            AuditKind::Login => "login",
            AuditKind::PolicyEnable => "policy_enable",
            AuditKind::PolicyDisable => "policy_disable",
            AuditKind::ReadSecrets => "read_secrets",
            AuditKind::Replace => "replace",
            AuditKind::RecoveryCodes => "recovery_codes",
            AuditKind::RecoveryCodeUsed => "recovery_code_used",
        }
    }

    fn parse(text: &str) -> Option<AuditKind> {
        AuditKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A password attempt, as the store answers it before the hash runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordAttempt {
    /// Counted, pending its verdict: the row to settle once the hash has run.
    Counted(i64),
    /// The identity or the address is locked until then (unix seconds); nothing was counted.
    Locked { until: u64 },
    /// Attempts still being checked could reach the limit: this one waits for their
    /// verdicts (try again shortly); nothing was counted.
    Crowded,
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub at: u64,
    pub event: AuditKind,
    pub identity: String,
    pub ip: String,
    pub detail: String,
}

/// A store failure, worded for an administrator. Never carries a secret.
#[derive(Debug)]
pub enum StoreError {
    /// SQLite refused or failed.
    Sqlite(rusqlite::Error),
    /// PostgreSQL refused or failed.
    Postgres(tokio_postgres::Error),
    /// The database asks for the job again later: every connection is in use, a lock wait
    /// timed out (another instance's job on the same identity), or a deadlock was broken.
    Busy(String),
    /// The database cannot be reached now (refused, gone, the connection lost): the server
    /// answers "try again later" rather than failing.
    Unavailable(String),
    /// A file-system problem with the data directory or the export files.
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The database holds data this version cannot read.
    Corrupt(String),
    /// The database was written by a newer version of tfa.
    TooNew { found: i64, known: i64 },
    /// Refused input (import or account creation), with the reason.
    Invalid(String),
    /// The read pool's lock was poisoned by a panic in another thread.
    Poisoned,
    /// The write transaction a job was part of could not begin or commit.
    Transaction(String),
    /// The writer thread has stopped, so nothing can be written.
    WriterGone,
    /// The key file is missing, unreadable or not this store's key.
    Key { path: PathBuf, why: String },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Sqlite(e) => write!(f, "database error: {e}"),
            StoreError::Postgres(e) => match e.as_db_error() {
                Some(db) => write!(f, "database error: {}", db.message()),
                None => write!(f, "database error: {e}"),
            },
            StoreError::Busy(why) => write!(f, "the database is busy: {why}"),
            StoreError::Unavailable(why) => write!(f, "the database is unavailable: {why}"),
            StoreError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            StoreError::Corrupt(what) => write!(f, "the database holds unreadable data: {what}"),
            StoreError::TooNew { found, known } => write!(
                f,
                "the database schema version {found} is newer than this tfa knows ({known}); upgrade tfa"
            ),
            StoreError::Invalid(why) => f.write_str(why),
            StoreError::Poisoned => f.write_str("the database connection pool is unusable after a crash in another thread"),
            StoreError::Transaction(why) => write!(f, "the write transaction failed: {why}"),
            StoreError::WriterGone => f.write_str("the database writer has stopped"),
            StoreError::Key { path, why } => write!(f, "the key file {} {why}", path.display()),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

/// Creates the data directory with mode 0700 (and tightens it if it already exists).
pub fn prepare_data_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let io = |error| StoreError::Io {
        path: dir.to_path_buf(),
        error,
    };
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    Ok(())
}
