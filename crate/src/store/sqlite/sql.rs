//! The statement helpers every concern module uses (each statement is prepared once per
//! connection and cached), and the conversions between SQLite values and the store's types.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row};

use crate::store::{AccountKind, AuditKind, IdentityKind, StoreError};

/// The first column of the one row `sql` finds, if any.
pub(super) fn one<T: FromSql>(
    conn: &Connection,
    sql: &str,
    params: &[&dyn ToSql],
) -> Result<Option<T>, StoreError> {
    Ok(conn
        .prepare_cached(sql)?
        .query_row(params, |r| r.get(0))
        .optional()?)
}

/// The one row `sql` finds, read by `read`.
pub(super) fn one_row<T>(
    conn: &Connection,
    sql: &str,
    params: &[&dyn ToSql],
    read: fn(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>, StoreError> {
    Ok(conn
        .prepare_cached(sql)?
        .query_row(params, read)
        .optional()?)
}

/// Every row `sql` finds, read by `read`.
pub(super) fn rows<T>(
    conn: &Connection,
    sql: &str,
    params: &[&dyn ToSql],
    read: fn(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let found = stmt.query_map(params, read)?;
    Ok(found.collect::<Result<_, _>>()?)
}

/// Runs a change; the number of rows it touched.
pub(super) fn change(
    conn: &Connection,
    sql: &str,
    params: &[&dyn ToSql],
) -> Result<usize, StoreError> {
    Ok(conn.prepare_cached(sql)?.execute(params)?)
}

/// A (text, text) row.
pub(super) fn text_pair(r: &Row<'_>) -> rusqlite::Result<(String, String)> {
    Ok((r.get(0)?, r.get(1)?))
}

/// Unix seconds fit an i64 until the year 292 billion; saturate rather than wrap.
pub(super) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A stored time or step back to u64 (a negative one, which tfa never writes, reads as 0).
pub(super) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Reads a `kind` column through `parse`; text it does not know is [`StoreError::Corrupt`].
pub(super) fn kind_from_sql<T>(
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

impl FromSql for AuditKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        kind_from_sql(value, "audit event", AuditKind::parse)
    }
}

impl FromSql for IdentityKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        kind_from_sql(value, "identity", IdentityKind::parse)
    }
}
