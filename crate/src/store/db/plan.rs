//! The query-plan test: every statement the store prepares finds its rows through an index,
//! except the listings that read whole tables on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::sqlite::connect;
use super::{accounts, audit, credentials, recovery, tfa, throttle, Store};

/// Every statement the store prepares, for the query-plan test: `lookups` must find their
/// rows through an index; `listings` read whole tables on purpose (exports, admin lists).
fn statements() -> (Vec<&'static str>, Vec<&'static str>) {
    let mut lookups = Vec::new();
    let mut listings = Vec::new();
    for (l, w) in [
        (accounts::LOOKUPS, accounts::LISTINGS),
        (tfa::LOOKUPS, tfa::LISTINGS),
        (credentials::LOOKUPS, credentials::LISTINGS),
        (throttle::LOOKUPS, throttle::LISTINGS),
        (audit::LOOKUPS, audit::LISTINGS),
        (recovery::LOOKUPS, recovery::LISTINGS),
    ] {
        lookups.extend_from_slice(l);
        listings.extend_from_slice(w);
    }
    (lookups, listings)
}

/// Tables whose size grows with users, logins or attacks.
const GROWING: &[&str] = &[
    "accounts",
    "identities",
    "tfa",
    "last_steps",
    "api_tokens",
    "sessions",
    "failures",
    "password_failures",
    "lockouts",
    "audit",
    "recovery_codes",
];

#[test]
fn every_lookup_uses_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).unwrap();
    let conn = connect(store.sqlite_path().unwrap()).unwrap();
    let (lookups, listings) = statements();
    assert!(lookups.len() > 30, "{} lookups", lookups.len());
    let mut bad = Vec::new();
    for sql in lookups.iter().chain(&listings) {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let n = stmt.parameter_count();
        let params: Vec<rusqlite::types::Value> =
            (0..n).map(|_| rusqlite::types::Value::Null).collect();
        let plan: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(params), |r| {
                r.get::<_, String>(3)
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        if listings.contains(sql) {
            continue;
        }
        for line in plan {
            let scanned = line
                .strip_prefix("SCAN ")
                .map(|rest| rest.split_whitespace().next().unwrap_or(""));
            if let Some(table) = scanned {
                if GROWING.contains(&table) {
                    bad.push(format!("{sql}\n    -> {line}"));
                }
            }
        }
    }
    assert!(bad.is_empty(), "full scans:\n{}", bad.join("\n"));
}

#[test]
fn a_full_scan_is_caught() {
    // The check above would see a lookup without an index: prove the plan text it reads.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).unwrap();
    let conn = connect(store.sqlite_path().unwrap()).unwrap();
    let plan: String = conn
        .query_row(
            "EXPLAIN QUERY PLAN SELECT name FROM accounts WHERE domain LIKE ?1",
            ["x"],
            |r| r.get(3),
        )
        .unwrap();
    assert!(plan.starts_with("SCAN accounts"), "{plan}");
}

/// Every statement the store prepares is valid PostgreSQL too (with `TFA_TEST_POSTGRES` set, as
/// `cargo xtask test` sets it for its PostgreSQL run; without it there is nothing to check).
#[test]
fn every_statement_prepares_on_postgres() {
    let Some(url) = std::env::var("TFA_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let schema = format!("plan_{}", std::process::id());
    tfa_testkit::pg::psql(&url, &[&format!("CREATE SCHEMA IF NOT EXISTS {schema}")]);
    let sep = if url.contains('?') { '&' } else { '?' };
    let options = super::postgres::Options {
        url: format!("{url}{sep}options=-c%20search_path%3D{schema}"),
        pool: 1,
        ca_file: None,
    };
    let store =
        Store::open_database(&super::Database::Postgres(options), dir.path(), None).unwrap();
    let (lookups, listings) = statements();
    let bad: Vec<String> = store
        .read(|r| {
            let super::Conn::Postgres(pg) = r.conn else {
                panic!("not PostgreSQL");
            };
            Ok::<_, crate::store::StoreError>(
                lookups
                    .iter()
                    .chain(&listings)
                    .filter_map(|sql| {
                        pg.prepare(&super::conn::pg_sql(sql))
                            .err()
                            .map(|e| format!("{sql}\n    -> {e}"))
                    })
                    .collect(),
            )
        })
        .unwrap();
    assert!(bad.is_empty(), "not PostgreSQL:\n{}", bad.join("\n"));
    tfa_testkit::pg::psql(&url, &[&format!("DROP SCHEMA {schema} CASCADE")]);
}
