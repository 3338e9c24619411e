//! Throttling: wrong codes and wrong passwords, per identity and per client address, and the
//! lockouts they start. A job that checks a lock, judges a code and records the failure runs
//! in one write transaction, so concurrent attempts cannot slip between the check and the
//! record.
//!
//! Passwords are judged outside the store (argon2 runs off the writer), so they are counted
//! before the hash runs: [`Writer::begin_password_attempt`] checks the lock and writes a
//! pending row in one job; the verdict then settles it ([`Writer::password_right`] removes
//! it, [`Writer::password_wrong`] marks it judged and may start a lockout). While the
//! pending rows could take a name or an address to its limit, a new attempt waits for their
//! verdicts ([`PasswordAttempt::Crowded`]), so concurrent guesses never get more verdicts than
//! the limit. A row left pending longer than [`STALE_PENDING_SECS`] (the server stopped
//! mid-check) counts as a wrong password. Their rows (`password_failures`) and lock keys
//! (`pw-user:`, `pw-ip:`) are apart from the codes' (`failures`, `user:`, `ip:`).

use super::{change, one, one_row, to_i64, to_u64, Reader, Writer};
use crate::store::{AuditKind, PasswordAttempt, StoreError};

const LIVE_LOCK: &str = "SELECT until FROM lockouts WHERE key = ?1 AND until > ?2";
const INSERT_FAILURE: &str = "INSERT INTO failures (at, identity, ip) VALUES (?1, ?2, ?3)";
const COUNT_IDENTITY: &str = "SELECT COUNT(*) FROM failures WHERE identity = ?1 AND at > ?2";
const COUNT_IP: &str = "SELECT COUNT(*) FROM failures WHERE ip = ?1 AND at > ?2";
const LOCK: &str = "INSERT INTO lockouts (key, until) VALUES (?1, ?2)
     ON CONFLICT(key) DO UPDATE SET until = excluded.until";
const PRUNE_FAILURES: &str = "DELETE FROM failures WHERE at <= ?1";
const INSERT_PASSWORD_FAILURE: &str =
    "INSERT INTO password_failures (at, identity, ip) VALUES (?1, ?2, ?3) RETURNING id";
const PASSWORD_RIGHT: &str = "DELETE FROM password_failures WHERE id = ?1";
const PASSWORD_WRONG: &str = "UPDATE password_failures SET pending = 0 WHERE id = ?1";
/// (rows since ?2, of which pending since ?3): judged and stale rows are failures, recent
/// pending ones await their verdict.
const COUNT_PASSWORD_IDENTITY: &str = "SELECT COUNT(*),
     COALESCE(SUM(CASE WHEN pending <> 0 AND at > ?3 THEN 1 ELSE 0 END), 0)
     FROM password_failures WHERE identity = ?1 AND at > ?2";
const COUNT_PASSWORD_IP: &str = "SELECT COUNT(*),
     COALESCE(SUM(CASE WHEN pending <> 0 AND at > ?3 THEN 1 ELSE 0 END), 0)
     FROM password_failures WHERE ip = ?1 AND at > ?2";
const PRUNE_PASSWORD_FAILURES: &str = "DELETE FROM password_failures WHERE at <= ?1";

/// Seconds after which a password attempt still pending counts as a wrong password: a check
/// takes well under a second, so such a row was left by a server that stopped mid-check.
pub const STALE_PENDING_SECS: u64 = 60;

#[cfg(test)]
pub(super) const LOOKUPS: &[&str] = &[
    LIVE_LOCK,
    INSERT_FAILURE,
    COUNT_IDENTITY,
    COUNT_IP,
    LOCK,
    PRUNE_FAILURES,
    INSERT_PASSWORD_FAILURE,
    PASSWORD_RIGHT,
    PASSWORD_WRONG,
    COUNT_PASSWORD_IDENTITY,
    COUNT_PASSWORD_IP,
    PRUNE_PASSWORD_FAILURES,
];
#[cfg(test)]
pub(super) const LISTINGS: &[&str] = &[];

/// How many failures, in how many seconds, lock a key, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub max_failures: u64,
    pub window_secs: u64,
    pub lock_secs: u64,
}

/// The limits that one kind of failure counts against.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Per identity (key `user:<identity>`).
    pub identity: Limit,
    /// Per client address, across identities (key `ip:<ip>`).
    pub ip: Limit,
}

/// Which keys a failure has just locked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NewLocks {
    pub identity: bool,
    pub ip: bool,
}

impl Reader<'_> {
    /// The end of a live lockout of `key`, if any.
    pub fn locked_until(&self, key: &str, now: u64) -> Result<Option<u64>, StoreError> {
        Ok(one::<i64>(self.conn, LIVE_LOCK, &[&key, &to_i64(now)])?.map(to_u64))
    }

    fn failures_since(&self, sql: &str, value: &str, since: u64) -> Result<u64, StoreError> {
        Ok(one::<i64>(self.conn, sql, &[&value, &to_i64(since)])?.map_or(0, to_u64))
    }

    /// The end of a live password lockout of `identity` (if given) or of `ip`, whichever is
    /// later. Read before anything is counted, so a locked caller costs no write.
    pub fn password_locked_until(
        &self,
        identity: Option<&str>,
        ip: &str,
        now: u64,
    ) -> Result<Option<u64>, StoreError> {
        let user = match identity {
            Some(name) => self.locked_until(&password_user_key(name), now)?,
            None => None,
        };
        Ok(user.max(self.locked_until(&password_ip_key(ip), now)?))
    }
}

/// Password attempts of one key in its window: failures (judged wrong, or pending too long)
/// and attempts awaiting their verdict.
#[derive(Debug, Clone, Copy)]
struct PasswordCounts {
    failures: u64,
    pending: u64,
}

impl Reader<'_> {
    fn password_counts(
        &self,
        sql: &str,
        value: &str,
        now: u64,
        limit: Limit,
    ) -> Result<PasswordCounts, StoreError> {
        let since = to_i64(now.saturating_sub(limit.window_secs));
        let fresh = to_i64(now.saturating_sub(STALE_PENDING_SECS));
        let (rows, pending) = one_row(self.conn, sql, &[&value, &since, &fresh], |r| {
            Ok((r.get::<i64>(0)?, r.get::<i64>(1)?))
        })?
        .unwrap_or((0, 0));
        let (rows, pending) = (to_u64(rows), to_u64(pending));
        Ok(PasswordCounts {
            failures: rows.saturating_sub(pending),
            pending,
        })
    }
}

/// The lock key of wrong passwords for an identity.
fn password_user_key(identity: &str) -> String {
    format!("pw-user:{identity}")
}

/// The lock key of wrong passwords from an address.
fn password_ip_key(ip: &str) -> String {
    format!("pw-ip:{ip}")
}

impl Writer<'_> {
    /// Holds the identity (if any) and then the address (see [`Writer::hold`]): every job
    /// that judges an attempt calls this first, in this order.
    pub fn hold_attempts(&self, identity: Option<&str>, ip: &str) -> Result<(), StoreError> {
        let address = format!("ip:{ip}");
        match identity {
            Some(name) => self.hold(&[&format!("user:{name}"), &address]),
            None => self.hold(&[&address]),
        }
    }

    /// Records a failure for `identity` from `ip`, writes its audit row, and locks the
    /// identity (key `user:<identity>`) or the address (key `ip:<ip>`) once its limit is
    /// reached; a new lockout is audited too.
    pub fn record_failure(
        &self,
        identity: &str,
        ip: &str,
        now: u64,
        kind: AuditKind,
        detail: &str,
        limits: Limits,
    ) -> Result<NewLocks, StoreError> {
        change(self.conn, INSERT_FAILURE, &[&to_i64(now), &identity, &ip])?;
        self.audit(now, kind, identity, ip, detail)?;
        let locks = NewLocks {
            identity: self.lock_at_limit(
                COUNT_IDENTITY,
                identity,
                &format!("user:{identity}"),
                now,
                limits.identity,
            )?,
            ip: self.lock_at_limit(COUNT_IP, ip, &format!("ip:{ip}"), now, limits.ip)?,
        };
        for (locked, why) in [
            (locks.identity, "too many failures for this identity"),
            (locks.ip, "too many failures from this address"),
        ] {
            if locked {
                self.audit(now, AuditKind::Lockout, identity, ip, why)?;
            }
        }
        let horizon = limits.identity.window_secs.max(limits.ip.window_secs);
        change(
            self.conn,
            PRUNE_FAILURES,
            &[&to_i64(now.saturating_sub(horizon))],
        )?;
        Ok(locks)
    }

    /// Counts a password attempt before its hash runs, in one job with the lock check.
    /// `identity` is the known login name (`None` for a name that matches nobody, which
    /// counts against the address only). Refused when the identity or `ip` is locked, or
    /// ([`PasswordAttempt::Crowded`]) when the failures and the attempts awaiting their
    /// verdict already reach a limit; otherwise a pending row is written.
    pub fn begin_password_attempt(
        &self,
        identity: Option<&str>,
        ip: &str,
        now: u64,
        limits: Limits,
    ) -> Result<PasswordAttempt, StoreError> {
        self.hold_attempts(identity, ip)?;
        if let Some(until) = self.password_locked_until(identity, ip, now)? {
            return Ok(PasswordAttempt::Locked { until });
        }
        let mut keys = vec![(COUNT_PASSWORD_IP, ip, limits.ip)];
        if let Some(name) = identity {
            keys.push((COUNT_PASSWORD_IDENTITY, name, limits.identity));
        }
        for (sql, value, limit) in keys {
            let counts = self.password_counts(sql, value, now, limit)?;
            // With nothing pending, failures at the limit mean a lockout has ended while
            // they are still in the window: one attempt at a time is judged (a wrong one
            // locks again).
            if counts.pending > 0
                && counts.failures.saturating_add(counts.pending) >= limit.max_failures
            {
                return Ok(PasswordAttempt::Crowded);
            }
        }
        let row: Option<i64> = one(
            self.conn,
            INSERT_PASSWORD_FAILURE,
            &[&to_i64(now), &identity, &ip],
        )?;
        row.map(PasswordAttempt::Counted)
            .ok_or_else(|| StoreError::Corrupt("a counted attempt has no row".to_owned()))
    }

    /// The password of the attempt `row` was right (or never judged: its client left before
    /// the hash ran): it does not count.
    pub fn password_right(&self, row: i64) -> Result<(), StoreError> {
        change(self.conn, PASSWORD_RIGHT, &[&row])?;
        Ok(())
    }

    /// The password of the attempt `row` was wrong: the row counts as a failure, the failure
    /// is audited (`kind`, with `typed` stored as the identity if it is one, else as a keyed
    /// hash), and the identity or the address is locked once its limit is reached (audited
    /// too). Old rows are pruned.
    #[allow(clippy::too_many_arguments)] // one failure's facts, as record_failure takes them
    pub fn password_wrong(
        &self,
        row: i64,
        identity: Option<&str>,
        typed: &str,
        ip: &str,
        now: u64,
        kind: AuditKind,
        detail: &str,
        limits: Limits,
    ) -> Result<NewLocks, StoreError> {
        self.hold_attempts(identity, ip)?;
        change(self.conn, PASSWORD_WRONG, &[&row])?;
        let label = self.audit_label(identity, typed)?;
        self.audit(now, kind, &label, ip, detail)?;
        let mut locks = NewLocks::default();
        if let Some(name) = identity {
            locks.identity = self.password_lock_at_limit(
                COUNT_PASSWORD_IDENTITY,
                name,
                &password_user_key(name),
                now,
                limits.identity,
            )?;
        }
        locks.ip = self.password_lock_at_limit(
            COUNT_PASSWORD_IP,
            ip,
            &password_ip_key(ip),
            now,
            limits.ip,
        )?;
        for (locked, why) in [
            (locks.identity, "too many wrong passwords for this identity"),
            (locks.ip, "too many wrong passwords from this address"),
        ] {
            if locked {
                self.audit(now, AuditKind::Lockout, &label, ip, why)?;
            }
        }
        let horizon = limits.identity.window_secs.max(limits.ip.window_secs);
        change(
            self.conn,
            PRUNE_PASSWORD_FAILURES,
            &[&to_i64(now.saturating_sub(horizon))],
        )?;
        Ok(locks)
    }

    /// Locks `key` once its password failures reach the limit, unless it is locked already.
    /// True when it locked.
    fn password_lock_at_limit(
        &self,
        count_sql: &str,
        value: &str,
        key: &str,
        now: u64,
        limit: Limit,
    ) -> Result<bool, StoreError> {
        let counts = self.password_counts(count_sql, value, now, limit)?;
        self.lock_if_reached(counts.failures, key, now, limit)
    }

    /// At the limit, locks `key` unless it is locked already. True when it locked.
    fn lock_at_limit(
        &self,
        count_sql: &str,
        value: &str,
        key: &str,
        now: u64,
        limit: Limit,
    ) -> Result<bool, StoreError> {
        let since = now.saturating_sub(limit.window_secs);
        let failures = self.failures_since(count_sql, value, since)?;
        self.lock_if_reached(failures, key, now, limit)
    }

    /// Locks `key` for the limit's lock time when `failures` reached the limit, unless it is
    /// locked already. True when it locked.
    fn lock_if_reached(
        &self,
        failures: u64,
        key: &str,
        now: u64,
        limit: Limit,
    ) -> Result<bool, StoreError> {
        if failures < limit.max_failures || self.locked_until(key, now)?.is_some() {
            return Ok(false);
        }
        change(
            self.conn,
            LOCK,
            &[&key, &to_i64(now.saturating_add(limit.lock_secs))],
        )?;
        Ok(true)
    }
}
