//! The audit log: who did what to two-factor state, and every refused code or login.

use super::{change, rows, to_i64, to_u64, Reader, Writer};
use crate::store::{AuditEvent, AuditKind, StoreError};

const INSERT: &str =
    "INSERT INTO audit (at, event, identity, ip, detail) VALUES (?1, ?2, ?3, ?4, ?5)";
const ALL: &str = "SELECT at, event, identity, ip, detail FROM audit ORDER BY id";

#[cfg(test)]
pub(super) const LOOKUPS: &[&str] = &[INSERT];
#[cfg(test)]
/// `tfa audit` prints the whole log.
pub(super) const LISTINGS: &[&str] = &[ALL];

fn row_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEvent> {
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
}

impl Writer<'_> {
    /// Appends an audit event.
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
        Ok(())
    }
}
