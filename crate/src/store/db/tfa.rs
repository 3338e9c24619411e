//! 2FA configs (the secret per 2FA username, sealed at rest: see [`crate::store::crypto`]),
//! the last accepted step of each (replay refusal), issuers and settings.
//!
//! Secrets are sealed here on the way in and opened on the way out: callers see plaintext.

use super::conn::{pg_sql, Conn};
use super::{change, one, rows, text_pair, to_i64, to_u64, Reader, Writer};
use crate::store::crypto::{Evidence, Key, ProvenKey, Resolved, KEY_CHECK_SETTING};
use crate::store::{StepOutcome, StoreError};

const SECRET: &str = "SELECT secret FROM tfa WHERE username = ?1";
const HAS_TFA: &str = "SELECT 1 FROM tfa WHERE username = ?1";
const ALL_TFA: &str = "SELECT username, secret FROM tfa ORDER BY username";
const LAST_STEP: &str = "SELECT step FROM last_steps WHERE username = ?1";
// One statement decides: the row count is 1 only if the step was newer. PostgreSQL locks the
// row and re-checks the condition against the latest commit, so two instances given one code
// at once accept it once.
const ACCEPT_STEP: &str = "INSERT INTO last_steps (username, step) VALUES (?1, ?2)
     ON CONFLICT(username) DO UPDATE SET step = excluded.step
     WHERE last_steps.step < excluded.step";
const UPSERT_TFA: &str = "INSERT INTO tfa (username, secret) VALUES (?1, ?2)
     ON CONFLICT(username) DO UPDATE SET secret = excluded.secret";
const DELETE_TFA: &str = "DELETE FROM tfa WHERE username = ?1";
const DELETE_IDENTITIES_TFA: &str =
    "DELETE FROM tfa WHERE username IN (SELECT name FROM identities WHERE account = ?1)";
const ISSUER: &str = "SELECT issuer FROM issuers WHERE name = ?1";
const ALL_ISSUERS: &str = "SELECT name, issuer FROM issuers ORDER BY name";
const UPSERT_ISSUER: &str = "INSERT INTO issuers (name, issuer) VALUES (?1, ?2)
     ON CONFLICT(name) DO UPDATE SET issuer = excluded.issuer";
const DELETE_ISSUER: &str = "DELETE FROM issuers WHERE name = ?1";
const SETTING: &str = "SELECT value FROM settings WHERE key = ?1";
const SET_SETTING: &str = "INSERT INTO settings (key, value) VALUES (?1, ?2)
     ON CONFLICT(key) DO UPDATE SET value = excluded.value";
const HAS_TABLE: &str = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1";
const PG_HAS_TABLE: &str = "SELECT 1 FROM information_schema.tables
     WHERE table_schema = current_schema() AND table_name = ?1";
/// PostgreSQL's import: a chunk of upserts in one statement (one round trip per chunk).
const PG_IMPORT_TFA: &str = "INSERT INTO tfa (username, secret)
     SELECT * FROM unnest(?1::text[], ?2::text[])
     ON CONFLICT (username) DO UPDATE SET secret = excluded.secret";
const ONE_SEALED: &str =
    "SELECT username, secret FROM tfa WHERE substr(secret, 1, 3) = 'v1:' LIMIT 1";
const PLAINTEXT_TFA: &str =
    "SELECT username, secret FROM tfa WHERE substr(secret, 1, 3) <> 'v1:' ORDER BY username";
const SET_SECRET: &str = "UPDATE tfa SET secret = ?2 WHERE username = ?1";

/// SQLite's default page cache, in KiB (`PRAGMA cache_size = -2000`).
const DEFAULT_CACHE_KIB: i64 = 2000;
/// Page cache an import asks for per entry, in KiB: a sealed row and its index entry take
/// about 0.13 KiB of pages; this is a ceiling, SQLite only fills what the import dirties.
const IMPORT_CACHE_KIB_PER_ENTRY: i64 = 1;
/// Secrets sealed per chunk of an import (see [`Writer::import`]).
const IMPORT_CHUNK: usize = 16_384;

#[cfg(test)]
pub(super) const LOOKUPS: &[&str] = &[
    SECRET,
    HAS_TFA,
    LAST_STEP,
    ACCEPT_STEP,
    UPSERT_TFA,
    DELETE_TFA,
    DELETE_IDENTITIES_TFA,
    ISSUER,
    UPSERT_ISSUER,
    DELETE_ISSUER,
    SETTING,
    SET_SETTING,
    SET_SECRET,
];
#[cfg(test)]
/// The exports of every config and every issuer.
pub(super) const LISTINGS: &[&str] = &[ALL_TFA, ALL_ISSUERS, ONE_SEALED, PLAINTEXT_TFA];

/// What the database says about its key, read before any migration or write (a fresh
/// database has no tables yet).
pub(super) fn key_evidence(conn: Conn<'_>) -> Result<Evidence, StoreError> {
    let has_table = match conn {
        Conn::Sqlite(_) => HAS_TABLE,
        Conn::Postgres(_) => PG_HAS_TABLE,
    };
    let has = |table: &str| -> Result<bool, StoreError> {
        Ok(one::<i64>(conn, has_table, &[&table])?.is_some())
    };
    let check = if has("settings")? {
        one(conn, SETTING, &[&KEY_CHECK_SETTING])?
    } else {
        None
    };
    let sealed = if has("tfa")? {
        rows(conn, ONE_SEALED, &[], text_pair)?.into_iter().next()
    } else {
        None
    };
    Ok(Evidence { check, sealed })
}

/// At open, inside the caller's transaction: records the key check if the store has none yet
/// and seals every plaintext secret (a store from before secrets were encrypted). Returns
/// the check.
pub(super) fn seal_at_rest(conn: Conn<'_>, resolved: &Resolved) -> Result<String, StoreError> {
    let check = match one::<String>(conn, SETTING, &[&KEY_CHECK_SETTING])? {
        Some(check) if !resolved.record_check => check,
        _ => {
            let check = resolved.key.check_value()?;
            change(conn, SET_SETTING, &[&KEY_CHECK_SETTING, &check])?;
            check
        }
    };
    for (username, plain) in rows(conn, PLAINTEXT_TFA, &[], text_pair)? {
        let plain = zeroize::Zeroizing::new(plain);
        let sealed = resolved.key.seal(&username, &plain)?;
        change(conn, SET_SECRET, &[&username, &sealed])?;
    }
    Ok(check)
}

impl Reader<'_> {
    /// Whether a 2FA username has a config, without opening its secret.
    pub fn has_tfa(&self, username: &str) -> Result<bool, StoreError> {
        Ok(one::<i64>(self.conn, HAS_TFA, &[&username])?.is_some())
    }

    /// The secret of a 2FA username (opened: plaintext).
    pub fn tfa_secret(&self, username: &str) -> Result<Option<String>, StoreError> {
        match one::<String>(self.conn, SECRET, &[&username])? {
            Some(stored) => self.open_secret(username, &stored).map(Some),
            None => Ok(None),
        }
    }

    /// Every 2FA config (opened: plaintext), sorted by username.
    pub fn all_tfa(&self) -> Result<Vec<(String, String)>, StoreError> {
        rows(self.conn, ALL_TFA, &[], text_pair)?
            .into_iter()
            .map(|(username, stored)| {
                let plain = self.open_secret(&username, &stored)?;
                Ok((username, plain))
            })
            .collect()
    }

    /// Opens a stored secret with the key in use, or, if another process rotated the key
    /// since, with the key that matches the store's key check in this snapshot.
    pub(super) fn open_secret(&self, username: &str, stored: &str) -> Result<String, StoreError> {
        let unreadable =
            || StoreError::Corrupt(format!("the secret of “{username}” does not decrypt"));
        let current = self.keys.current()?;
        if let Some(plain) = current.key.open(username, stored) {
            return Ok(plain);
        }
        let key = self.proven_key()?;
        if std::sync::Arc::ptr_eq(&key, &current) {
            return Err(unreadable());
        }
        key.key.open(username, stored).ok_or_else(unreadable)
    }

    /// The key that matches the store's key check as this transaction sees it.
    pub(super) fn proven_key(&self) -> Result<std::sync::Arc<ProvenKey>, StoreError> {
        let check: Option<String> = one(self.conn, SETTING, &[&KEY_CHECK_SETTING])?;
        let check = check.ok_or_else(|| StoreError::Corrupt("the key check is gone".to_owned()))?;
        self.keys.for_check(&check)
    }

    /// The last accepted step of a 2FA username.
    pub fn last_step(&self, username: &str) -> Result<Option<u64>, StoreError> {
        Ok(one::<i64>(self.conn, LAST_STEP, &[&username])?.map(to_u64))
    }

    /// The issuer entry under `key` (the system-wide key or a reseller's name).
    pub fn issuer(&self, key: &str) -> Result<Option<String>, StoreError> {
        one(self.conn, ISSUER, &[&key])
    }

    /// Every issuer entry, sorted by key.
    pub fn all_issuers(&self) -> Result<Vec<(String, String)>, StoreError> {
        rows(self.conn, ALL_ISSUERS, &[], text_pair)
    }

    /// A setting's value.
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        one(self.conn, SETTING, &[&key])
    }
}

impl Writer<'_> {
    /// Records `step` as accepted for `username` unless a step at or above it was accepted
    /// already (a replay). Atomic: of two concurrent uses of one code only one is accepted.
    pub fn accept_step(&self, username: &str, step: u64) -> Result<StepOutcome, StoreError> {
        let changed = change(self.conn, ACCEPT_STEP, &[&username, &to_i64(step)])?;
        Ok(if changed == 1 {
            StepOutcome::Accepted
        } else {
            StepOutcome::Replayed
        })
    }

    /// Enrollment: accepts `step` (as [`Writer::accept_step`]) and, only if it is fresh,
    /// stores `secret` for `username`, replacing any previous one.
    pub fn enroll(
        &self,
        username: &str,
        secret: &str,
        step: u64,
    ) -> Result<StepOutcome, StoreError> {
        let outcome = self.accept_step(username, step)?;
        if outcome == StepOutcome::Accepted {
            self.set_tfa(username, secret)?;
        }
        Ok(outcome)
    }

    /// Stores `secret` for `username` (sealed), replacing any previous one.
    pub fn set_tfa(&self, username: &str, secret: &str) -> Result<(), StoreError> {
        // The key the store's check names in this transaction: never a key another process
        // has rotated away (or, on PostgreSQL, is rotating away now: see `hold_key`).
        self.hold_key(false)?;
        let sealed = self.proven_key()?.key.seal(username, secret)?;
        change(self.conn, UPSERT_TFA, &[&username, &sealed])?;
        Ok(())
    }

    /// Re-seals every secret under `key` and makes it the store's key check; returns how
    /// many secrets and the new check. The key rotation's one job.
    pub fn reseal_all(&self, key: &Key) -> Result<(usize, String), StoreError> {
        self.hold_key(true)?;
        let all = self.all_tfa()?;
        let mut sealer = key.sealer();
        for (username, plain) in &all {
            let plain = zeroize::Zeroizing::new(plain.clone());
            change(
                self.conn,
                SET_SECRET,
                &[username, &sealer.seal(username, &plain)?],
            )?;
        }
        self.reseal_pepper(key)?;
        let check = key.check_value()?;
        self.set_setting(KEY_CHECK_SETTING, &check)?;
        Ok((all.len(), check))
    }

    /// Removes a 2FA config. True if one was stored. The last accepted step is kept, so an old
    /// code stays refused after re-enrolling.
    pub fn remove_tfa(&self, username: &str) -> Result<bool, StoreError> {
        Ok(change(self.conn, DELETE_TFA, &[&username])? > 0)
    }

    /// Replaces every 2FA entry of an account (its own, its webmail addresses', its team
    /// users') with the given ones.
    pub fn replace_account_tfa(
        &self,
        account: &str,
        entries: &[(String, String)],
    ) -> Result<(), StoreError> {
        change(self.conn, DELETE_TFA, &[&account])?;
        change(self.conn, DELETE_IDENTITIES_TFA, &[&account])?;
        for (username, secret) in entries {
            self.set_tfa(username, secret)?;
        }
        Ok(())
    }

    /// Sets (`Some`) or clears (`None`) an issuer entry.
    pub fn set_issuer(&self, key: &str, issuer: Option<&str>) -> Result<(), StoreError> {
        match issuer {
            Some(value) => change(self.conn, UPSERT_ISSUER, &[&key, &value])?,
            None => change(self.conn, DELETE_ISSUER, &[&key])?,
        };
        Ok(())
    }

    /// Sets a setting.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        change(self.conn, SET_SETTING, &[&key, &value])?;
        Ok(())
    }

    /// Upserts 2FA configs and issuer entries (the caller's job is all of them or none).
    ///
    /// Built for a million entries: a page cache sized to the import (SQLite's default 2 MB
    /// would spill dirty pages to the WAL and then write the same interior pages again and
    /// again), and the secrets sealed a chunk ahead on another thread while this one writes
    /// the chunk before, so encryption and SQLite overlap on two cores and only one chunk of
    /// sealed text is in memory at a time.
    pub fn import(
        &self,
        tfa: &[(String, String)],
        issuers: &[(String, String)],
    ) -> Result<(), StoreError> {
        let Conn::Sqlite(conn) = self.conn else {
            return self.write_imported(tfa, issuers);
        };
        let kib = IMPORT_CACHE_KIB_PER_ENTRY.saturating_mul(tfa.len() as i64);
        if kib > DEFAULT_CACHE_KIB {
            conn.pragma_update(None, "cache_size", -kib)?;
        }
        let result = self.write_imported(tfa, issuers);
        if kib > DEFAULT_CACHE_KIB {
            conn.pragma_update(None, "cache_size", -DEFAULT_CACHE_KIB)?;
        }
        result
    }

    /// Writes one sealed chunk of an import: row by row through SQLite's cached statement,
    /// or as one statement over arrays on PostgreSQL (a round trip per chunk, not per row).
    fn write_chunk(&self, part: &[(String, String)], sealed: &[String]) -> Result<(), StoreError> {
        match self.conn {
            Conn::Sqlite(conn) => {
                let mut upsert = conn.prepare_cached(UPSERT_TFA)?;
                for ((username, _), stored) in part.iter().zip(sealed) {
                    upsert.execute([username, stored])?;
                }
            }
            Conn::Postgres(pg) => {
                // A name twice in one statement would be an error: the last one wins, as it
                // does row by row.
                let mut last = std::collections::HashMap::with_capacity(part.len());
                for (i, (username, _)) in part.iter().enumerate() {
                    last.insert(username.as_str(), i);
                }
                let (mut users, mut secrets) = (Vec::new(), Vec::new());
                for (i, ((username, _), stored)) in part.iter().zip(sealed).enumerate() {
                    if last.get(username.as_str()) == Some(&i) {
                        users.push(username.as_str());
                        secrets.push(stored.as_str());
                    }
                }
                pg.execute(&pg_sql(PG_IMPORT_TFA), &[&users, &secrets])?;
            }
        }
        Ok(())
    }

    fn write_imported(
        &self,
        tfa: &[(String, String)],
        issuers: &[(String, String)],
    ) -> Result<(), StoreError> {
        // The key the store's check names in this transaction, looked up once.
        self.hold_key(false)?;
        let key = self.proven_key()?;
        let key = &key.key;
        // Each chunk its own sealer: its own random nonce prefix.
        let seal = |part: &[(String, String)]| -> Result<Vec<String>, StoreError> {
            let mut sealer = key.sealer();
            part.iter()
                .map(|(user, secret)| sealer.seal(user, secret))
                .collect()
        };
        std::thread::scope(|scope| -> Result<(), StoreError> {
            let mut chunks = tfa.chunks(IMPORT_CHUNK);
            let mut ahead = chunks
                .next()
                .map(|part| (part, scope.spawn(move || seal(part))));
            while let Some((part, sealing)) = ahead {
                ahead = chunks
                    .next()
                    .map(|next| (next, scope.spawn(move || seal(next))));
                let sealed = sealing.join().map_err(|_| StoreError::Poisoned)??;
                self.write_chunk(part, &sealed)?;
            }
            Ok(())
        })?;
        for (key, issuer) in issuers {
            self.set_issuer(key, Some(issuer))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use rusqlite::Connection;

    use super::super::schema::{MIGRATIONS, MOVE_SYSTEM_ISSUER};
    use crate::store::SYSTEM_ISSUER_KEY;

    /// A database with every migration before the one that moves the system-wide issuer.
    fn before_the_move() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        let at = MIGRATIONS
            .iter()
            .position(|m| *m == MOVE_SYSTEM_ISSUER)
            .unwrap();
        for sql in &MIGRATIONS[..at] {
            conn.execute_batch(sql).unwrap();
        }
        conn
    }

    fn issuers(conn: &Connection) -> Vec<(String, String)> {
        let mut stmt = conn
            .prepare("SELECT name, issuer FROM issuers ORDER BY name")
            .unwrap();
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn the_system_issuer_moves_to_a_key_no_account_can_have() {
        assert!(MOVE_SYSTEM_ISSUER.contains(&format!("'{SYSTEM_ISSUER_KEY}'")));
        let conn = before_the_move();
        conn.execute_batch(
            "INSERT INTO issuers VALUES ('system_wide_issuer', 'My Host'), ('res', 'Res Brand');",
        )
        .unwrap();
        conn.execute_batch(MOVE_SYSTEM_ISSUER).unwrap();
        assert_eq!(
            issuers(&conn),
            pairs(&[(SYSTEM_ISSUER_KEY, "My Host"), ("res", "Res Brand")])
        );
    }

    #[test]
    fn an_account_named_system_wide_issuer_keeps_its_row_and_gets_no_system_issuer() {
        // An old store where a reseller of that name may have written the row itself.
        let conn = before_the_move();
        conn.execute_batch(
            "INSERT INTO accounts (name, kind, owner, domain, password_hash)
                 VALUES ('root', 'root', 'root', '', 'x'),
                        ('system_wide_issuer', 'reseller', 'root', 'swi.example', 'x');
             INSERT INTO issuers VALUES ('system_wide_issuer', 'Evil Brand');",
        )
        .unwrap();
        conn.execute_batch(MOVE_SYSTEM_ISSUER).unwrap();
        assert_eq!(
            issuers(&conn),
            pairs(&[("system_wide_issuer", "Evil Brand")])
        );
    }
}
