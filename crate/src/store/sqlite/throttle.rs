//! Throttling: wrong codes per identity and per client address, and the lockouts they start.
//! A job that checks a lock, judges a code and records the failure runs in one write
//! transaction, so concurrent attempts cannot slip between the check and the record.

use super::{change, one, to_i64, to_u64, Reader, Writer};
use crate::store::{AuditKind, StoreError};

const LIVE_LOCK: &str = "SELECT until FROM lockouts WHERE key = ?1 AND until > ?2";
const INSERT_FAILURE: &str = "INSERT INTO failures (at, identity, ip) VALUES (?1, ?2, ?3)";
const COUNT_IDENTITY: &str = "SELECT COUNT(*) FROM failures WHERE identity = ?1 AND at > ?2";
const COUNT_IP: &str = "SELECT COUNT(*) FROM failures WHERE ip = ?1 AND at > ?2";
const LOCK: &str = "INSERT INTO lockouts (key, until) VALUES (?1, ?2)
     ON CONFLICT(key) DO UPDATE SET until = excluded.until";
const PRUNE_FAILURES: &str = "DELETE FROM failures WHERE at <= ?1";

#[cfg(test)]
pub(super) const LOOKUPS: &[&str] = &[
    LIVE_LOCK,
    INSERT_FAILURE,
    COUNT_IDENTITY,
    COUNT_IP,
    LOCK,
    PRUNE_FAILURES,
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
}

impl Writer<'_> {
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
        if self.failures_since(count_sql, value, since)? < limit.max_failures
            || self.locked_until(key, now)?.is_some()
        {
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
