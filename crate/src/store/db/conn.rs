//! One statement layer for both databases. The concern files (`accounts`, `tfa`, …) write each
//! statement once, in the SQL both SQLite and PostgreSQL take (`?N` placeholders, upserts with
//! `ON CONFLICT`, `RETURNING`, integers as 64-bit), and run it through [`one`], [`one_row`],
//! [`rows`] and [`change`] on a [`Conn`]: a SQLite connection of this process, or a
//! PostgreSQL transaction. Each statement is prepared once per connection and cached.
//!
//! Values go in as [`Param`]s (anything both drivers can bind) and come out through [`Col`]
//! (read the same from either). So the logic above this layer (throttling, replay refusal,
//! recovery codes, …) exists once, and the two stores behave the same by construction.

use rusqlite::types::ValueRef;

use crate::store::{AccountKind, AuditKind, IdentityKind, StoreError};

/// The database a trip runs on.
#[derive(Clone, Copy)]
pub(super) enum Conn<'c> {
    Sqlite(&'c rusqlite::Connection),
    Postgres(&'c dyn PgRun),
}

/// What a PostgreSQL trip offers the statement layer: its transaction, run to completion on
/// the store's runtime (see `postgres.rs`). `sql` is already in PostgreSQL's `$N` form.
pub(super) trait PgRun {
    fn query(&self, sql: &str, params: &[&Pg<'_>]) -> Result<Vec<tokio_postgres::Row>, StoreError>;
    fn execute(&self, sql: &str, params: &[&Pg<'_>]) -> Result<u64, StoreError>;
    /// Prepares `sql` without running it (the statement check of `plan.rs`).
    #[cfg(test)]
    fn prepare(&self, sql: &str) -> Result<(), StoreError>;
}

/// A PostgreSQL parameter.
pub(super) type Pg<'a> = dyn tokio_postgres::types::ToSql + Sync + 'a;

/// A value both drivers can bind: text, 64-bit integers, bytes, and `Option`s of them.
pub(super) trait Param: Sync {
    fn sqlite(&self) -> &dyn rusqlite::ToSql;
    fn pg(&self) -> &Pg<'_>;
}

impl<T: rusqlite::ToSql + tokio_postgres::types::ToSql + Sync> Param for T {
    fn sqlite(&self) -> &dyn rusqlite::ToSql {
        self
    }
    fn pg(&self) -> &Pg<'_> {
        self
    }
}

/// One result row, from either database.
pub(super) enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Pg(&'r tokio_postgres::Row),
}

impl Row<'_> {
    /// Column `i` (from 0) as `T`.
    pub(super) fn get<T: Col>(&self, i: usize) -> Result<T, StoreError> {
        match self {
            Row::Sqlite(r) => T::sqlite(r.get_ref(i)?),
            Row::Pg(r) => T::pg(r, i),
        }
    }
}

/// A type a column is read as, the same from either database.
pub(super) trait Col: Sized {
    fn sqlite(value: ValueRef<'_>) -> Result<Self, StoreError>;
    fn pg(row: &tokio_postgres::Row, i: usize) -> Result<Self, StoreError>;
}

fn wrong_type(what: &str) -> StoreError {
    StoreError::Corrupt(format!("a column is not {what}"))
}

impl Col for i64 {
    fn sqlite(value: ValueRef<'_>) -> Result<Self, StoreError> {
        value.as_i64().map_err(|_| wrong_type("an integer"))
    }
    /// Any integer width: `SELECT 1` is an `int4` in PostgreSQL, `COUNT(*)` an `int8`.
    fn pg(row: &tokio_postgres::Row, i: usize) -> Result<Self, StoreError> {
        use tokio_postgres::types::Type;
        let ty = row.columns().get(i).map(|c| c.type_().clone());
        Ok(match ty {
            Some(Type::INT2) => i64::from(row.try_get::<_, i16>(i)?),
            Some(Type::INT4) => i64::from(row.try_get::<_, i32>(i)?),
            _ => row.try_get::<_, i64>(i)?,
        })
    }
}

impl Col for String {
    fn sqlite(value: ValueRef<'_>) -> Result<Self, StoreError> {
        Ok(value.as_str().map_err(|_| wrong_type("text"))?.to_owned())
    }
    fn pg(row: &tokio_postgres::Row, i: usize) -> Result<Self, StoreError> {
        Ok(row.try_get(i)?)
    }
}

impl Col for Vec<u8> {
    fn sqlite(value: ValueRef<'_>) -> Result<Self, StoreError> {
        Ok(value.as_blob().map_err(|_| wrong_type("bytes"))?.to_vec())
    }
    fn pg(row: &tokio_postgres::Row, i: usize) -> Result<Self, StoreError> {
        Ok(row.try_get(i)?)
    }
}

/// Accepts any column type, to tell NULL from a value without reading it.
struct Present;

impl<'a> tokio_postgres::types::FromSql<'a> for Present {
    fn from_sql(
        _: &tokio_postgres::types::Type,
        _: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Present)
    }
    fn accepts(_: &tokio_postgres::types::Type) -> bool {
        true
    }
}

impl<T: Col> Col for Option<T> {
    fn sqlite(value: ValueRef<'_>) -> Result<Self, StoreError> {
        match value {
            ValueRef::Null => Ok(None),
            v => T::sqlite(v).map(Some),
        }
    }
    fn pg(row: &tokio_postgres::Row, i: usize) -> Result<Self, StoreError> {
        match row.try_get::<_, Option<Present>>(i)? {
            None => Ok(None),
            Some(Present) => T::pg(row, i).map(Some),
        }
    }
}

/// A `kind` column read through `parse`; text it does not know is [`StoreError::Corrupt`].
fn kind<T>(text: String, what: &str, parse: fn(&str) -> Option<T>) -> Result<T, StoreError> {
    parse(&text).ok_or_else(|| StoreError::Corrupt(format!("{what} kind “{text}”")))
}

macro_rules! kind_col {
    ($ty:ty, $what:literal) => {
        impl Col for $ty {
            fn sqlite(value: ValueRef<'_>) -> Result<Self, StoreError> {
                kind(<String as Col>::sqlite(value)?, $what, <$ty>::parse)
            }
            fn pg(row: &tokio_postgres::Row, i: usize) -> Result<Self, StoreError> {
                kind(<String as Col>::pg(row, i)?, $what, <$ty>::parse)
            }
        }
    };
}

kind_col!(AccountKind, "account");
kind_col!(AuditKind, "audit event");
kind_col!(IdentityKind, "identity");

/// `?N` placeholders as PostgreSQL's `$N`. The store's statements hold no `?` elsewhere (no
/// string literal in them has one), which `every_statement_prepares_on_both` checks.
pub(super) fn pg_sql(sql: &str) -> String {
    sql.replace('?', "$")
}

fn sqlite_params<'p>(params: &'p [&'p dyn Param]) -> Vec<&'p dyn rusqlite::ToSql> {
    params.iter().map(|p| p.sqlite()).collect()
}

fn pg_params<'p>(params: &'p [&'p dyn Param]) -> Vec<&'p Pg<'p>> {
    params.iter().map(|p| p.pg()).collect()
}

/// Every row `sql` finds, read by `read`.
pub(super) fn rows<T>(
    conn: Conn<'_>,
    sql: &str,
    params: &[&dyn Param],
    read: fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    match conn {
        Conn::Sqlite(c) => {
            let mut stmt = c.prepare_cached(sql)?;
            let mut found = stmt.query(sqlite_params(params).as_slice())?;
            let mut out = Vec::new();
            while let Some(row) = found.next()? {
                out.push(read(&Row::Sqlite(row))?);
            }
            Ok(out)
        }
        Conn::Postgres(pg) => pg
            .query(&pg_sql(sql), &pg_params(params))?
            .iter()
            .map(|r| read(&Row::Pg(r)))
            .collect(),
    }
}

/// The one row `sql` finds (the first, if several), read by `read`.
pub(super) fn one_row<T>(
    conn: Conn<'_>,
    sql: &str,
    params: &[&dyn Param],
    read: fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    match conn {
        Conn::Sqlite(c) => {
            let mut stmt = c.prepare_cached(sql)?;
            let mut found = stmt.query(sqlite_params(params).as_slice())?;
            match found.next()? {
                Some(row) => read(&Row::Sqlite(row)).map(Some),
                None => Ok(None),
            }
        }
        Conn::Postgres(pg) => pg
            .query(&pg_sql(sql), &pg_params(params))?
            .first()
            .map(|r| read(&Row::Pg(r)))
            .transpose(),
    }
}

/// The first column of the one row `sql` finds, if any.
pub(super) fn one<T: Col>(
    conn: Conn<'_>,
    sql: &str,
    params: &[&dyn Param],
) -> Result<Option<T>, StoreError> {
    one_row(conn, sql, params, |r| r.get(0))
}

/// Runs a change; the number of rows it touched.
pub(super) fn change(
    conn: Conn<'_>,
    sql: &str,
    params: &[&dyn Param],
) -> Result<usize, StoreError> {
    match conn {
        Conn::Sqlite(c) => Ok(c
            .prepare_cached(sql)?
            .execute(sqlite_params(params).as_slice())?),
        Conn::Postgres(pg) => {
            let n = pg.execute(&pg_sql(sql), &pg_params(params))?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        }
    }
}

/// A (text, text) row.
pub(super) fn text_pair(r: &Row<'_>) -> Result<(String, String), StoreError> {
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
