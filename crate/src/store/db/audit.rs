//! The audit log: who did what to two-factor state, and every refused code or login.
//!
//! Two rules keep it safe to write from unauthenticated requests:
//! - a name that matches nobody is never stored as typed (it may be a password typed into
//!   the wrong field): [`Writer::audit_label`] stores `unknown:` and 16 hex digits of an
//!   HMAC-SHA256 keyed with a random key of this store, so the same typo still groups;
//! - the log is bounded: every insert removes, in small batches through indexes, the rows
//!   older than the retention period and the rows beyond the row limit
//!   ([`Writer::set_audit_retention`]; defaults [`Writer::AUDIT_KEEP_DAYS`] and
//!   [`Writer::AUDIT_MAX_ROWS`]).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::conn::Row;
use super::{change, one, rows, to_i64, to_u64, Reader, Writer};
use crate::store::{AuditEvent, AuditKind, StoreError};

const INSERT: &str =
    "INSERT INTO audit (at, event, identity, ip, detail) VALUES (?1, ?2, ?3, ?4, ?5)";
const ALL: &str = "SELECT at, event, identity, ip, detail FROM audit ORDER BY id";
/// The oldest rows past the retention period, a batch at a time (index `audit_at`).
const PRUNE_OLD: &str = "DELETE FROM audit WHERE id IN
     (SELECT id FROM audit WHERE at < ?1 ORDER BY at LIMIT ?2)";
/// The rows at or below an id, a batch at a time (the rowid): ids grow by one per insert, so
/// keeping the ids above `newest - max_rows` keeps at most `max_rows` rows.
const PRUNE_EXCESS: &str = "DELETE FROM audit WHERE id IN
     (SELECT id FROM audit WHERE id <= ?1 ORDER BY id LIMIT ?2)";
/// The newest row's id (the rowid's largest value: one probe).
const NEWEST: &str = "SELECT MAX(id) FROM audit";
const SETTING: &str = "SELECT value FROM settings WHERE key = ?1";
const SET_SETTING: &str = "INSERT INTO settings (key, value) VALUES (?1, ?2)
     ON CONFLICT(key) DO UPDATE SET value = excluded.value";
/// The store's name key, made once from SQLite's randomness (seeded from the OS).
// Kept if another job made one first, whichever instance it ran in: the key is read back.
const MAKE_NAME_KEY: &str =
    "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING";

#[cfg(test)]
pub(super) const LOOKUPS: &[&str] = &[
    INSERT,
    PRUNE_OLD,
    PRUNE_EXCESS,
    NEWEST,
    SETTING,
    SET_SETTING,
    MAKE_NAME_KEY,
];
#[cfg(test)]
/// `tfa audit` prints the whole log.
pub(super) const LISTINGS: &[&str] = &[ALL];

/// Settings keys (a `/` cannot start an account or cPanel setting name).
const KEEP_DAYS_KEY: &str = "/audit_keep_days";
const MAX_ROWS_KEY: &str = "/audit_max_rows";
const NAME_KEY: &str = "/audit_name_key";
/// Rows removed at most per insert: a lowered limit is caught up with over later inserts,
/// and no single insert does much work.
const PRUNE_BATCH: i64 = 256;
/// Bytes of the keyed hash kept for an unknown name, as 16 hex digits: enough to tell names
/// apart. Without the key (kept in the store, never printed) the label cannot be checked
/// against guesses.
const LABEL_BYTES: usize = 8;

fn row_event(r: &Row<'_>) -> Result<AuditEvent, StoreError> {
    Ok(AuditEvent {
        at: to_u64(r.get(0)?),
        event: r.get(1)?,
        identity: r.get(2)?,
        ip: r.get(3)?,
        detail: r.get(4)?,
    })
}

impl Reader<'_> {
    /// The audit log, oldest first.
    pub fn audit_events(&self) -> Result<Vec<AuditEvent>, StoreError> {
        rows(self.conn, ALL, &[], row_event)
    }

    /// The retention in force: (days, rows); 0 means no limit of that kind.
    pub fn audit_retention(&self) -> Result<(u64, u64), StoreError> {
        let read = |key: &str, default: u64| -> Result<u64, StoreError> {
            Ok(one::<String>(self.conn, SETTING, &[&key])?
                .and_then(|v| v.parse().ok())
                .unwrap_or(default))
        };
        Ok((
            read(KEEP_DAYS_KEY, Writer::AUDIT_KEEP_DAYS)?,
            read(MAX_ROWS_KEY, Writer::AUDIT_MAX_ROWS)?,
        ))
    }
}

impl Writer<'_> {
    /// Days an audit row is kept by default.
    pub const AUDIT_KEEP_DAYS: u64 = 90;
    /// Audit rows kept at most by default.
    pub const AUDIT_MAX_ROWS: u64 = 1_000_000;

    /// Appends an audit event, then prunes a batch of rows past the retention.
    pub fn audit(
        &self,
        now: u64,
        kind: AuditKind,
        identity: &str,
        ip: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        change(
            self.conn,
            INSERT,
            &[&to_i64(now), &kind.as_str(), &identity, &ip, &detail],
        )?;
        self.prune_audit(now, PRUNE_BATCH)?;
        Ok(())
    }

    /// Sets the audit log's retention: rows older than `keep_days` days and rows beyond the
    /// newest `max_rows` are removed as new rows come in (0: no limit of that kind).
    pub fn set_audit_retention(&self, keep_days: u64, max_rows: u64) -> Result<(), StoreError> {
        change(
            self.conn,
            SET_SETTING,
            &[&KEEP_DAYS_KEY, &keep_days.to_string()],
        )?;
        change(
            self.conn,
            SET_SETTING,
            &[&MAX_ROWS_KEY, &max_rows.to_string()],
        )?;
        Ok(())
    }

    /// Removes up to `batch` rows past the retention by age and up to `batch` beyond the row
    /// limit. The number removed; call again while it is not 0 to catch up at once.
    pub fn prune_audit(&self, now: u64, batch: i64) -> Result<usize, StoreError> {
        let (keep_days, max_rows) = self.audit_retention()?;
        let mut removed = 0;
        if keep_days > 0 {
            let cutoff = now.saturating_sub(keep_days.saturating_mul(86_400));
            removed += change(self.conn, PRUNE_OLD, &[&to_i64(cutoff), &batch])?;
        }
        if max_rows > 0 {
            // NULL when the log is empty.
            let newest: Option<Option<i64>> = one(self.conn, NEWEST, &[])?;
            let last = newest
                .flatten()
                .unwrap_or(0)
                .saturating_sub(to_i64(max_rows));
            if last > 0 {
                removed += change(self.conn, PRUNE_EXCESS, &[&last, &batch])?;
            }
        }
        Ok(removed)
    }

    /// How the audit log names whoever typed `typed`: the identity if it is a known one,
    /// else `unknown:` and a keyed hash of the text, never the text itself.
    pub fn audit_label(&self, identity: Option<&str>, typed: &str) -> Result<String, StoreError> {
        if let Some(name) = identity {
            return Ok(name.to_owned());
        }
        let key = match one::<String>(self.conn, SETTING, &[&NAME_KEY])? {
            Some(key) => key,
            None => {
                let mut random = [0u8; 32];
                getrandom::getrandom(&mut random)
                    .map_err(|e| StoreError::Corrupt(format!("no randomness available: {e}")))?;
                let made: String = random.iter().map(|b| format!("{b:02x}")).collect();
                change(self.conn, MAKE_NAME_KEY, &[&NAME_KEY, &made])?;
                one::<String>(self.conn, SETTING, &[&NAME_KEY])?.ok_or_else(|| {
                    StoreError::Corrupt("the audit name key was not stored".to_owned())
                })?
            }
        };
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
            .map_err(|e| StoreError::Corrupt(format!("the audit name key: {e}")))?;
        mac.update(typed.as_bytes());
        let digest = mac.finalize().into_bytes();
        let hex: String = digest
            .iter()
            .take(LABEL_BYTES)
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(format!("unknown:{hex}"))
    }
}
