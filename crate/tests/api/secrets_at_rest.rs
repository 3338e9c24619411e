//! Secrets at rest: every TOTP secret is sealed in the database (bound to its username), the
//! key file is made once and never over encrypted data, a missing or wrong key is refused
//! with the store unchanged, old plaintext stores are sealed at open, and a key rotation
//! interrupted at any point leaves a store that opens with one of the two keys.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use tfa::store::{Store, StoreError};
use tfa_testkit::mode;

use crate::db::{dump, open_store, raw_sql};
use crate::{Env, Trips};

const SECRET: &str = "JBSWY3DPEHPK3PXP";
const OTHER: &str = "GEZDGNBVGY3TQOJQ";

fn data_dir(env: &Env) -> PathBuf {
    env.dir()
}

/// The stored secrets of the store of data directory `dir`, as the database holds them.
fn raw_secrets(dir: &Path) -> Vec<(String, String)> {
    raw_sql(dir, "SELECT username, secret FROM tfa ORDER BY username")
        .unwrap()
        .lines()
        .map(|l| {
            let (user, secret) = l.split_once('|').unwrap();
            (user.to_owned(), secret.to_owned())
        })
        .collect()
}

fn enroll(store: &Store, user: &str, secret: &str) {
    store.enroll(user, secret, 1).unwrap();
}

#[tokio::test]
async fn secrets_are_sealed_and_bound_to_their_username() {
    let env = Env::new();
    let dir = data_dir(&env);
    enroll(&env.store, "bob", SECRET);
    enroll(&env.store, "carol", OTHER);
    assert_eq!(mode(&dir.join("tfa.key")), 0o600);
    let raw = raw_secrets(&dir);
    for (user, stored) in &raw {
        assert!(stored.starts_with("v1:"), "{user}: {stored}");
        assert!(!stored.contains(SECRET) && !stored.contains(OTHER));
    }
    // Callers see plaintext, as before.
    assert_eq!(
        env.store.tfa_secret("bob").unwrap().as_deref(),
        Some(SECRET)
    );
    assert_eq!(
        env.store.all_tfa().unwrap(),
        [
            ("bob".to_owned(), SECRET.to_owned()),
            ("carol".to_owned(), OTHER.to_owned())
        ]
    );
    // bob's row copied to carol does not open as carol's.
    env.sql(
        "UPDATE tfa SET secret = (SELECT secret FROM tfa WHERE username = 'bob') WHERE username = 'carol'",
    );
    let e = env.store.tfa_secret("carol").unwrap_err();
    assert!(matches!(e, StoreError::Corrupt(_)), "{e}");
    // The database itself refuses a plaintext secret, on any path.
    for sql in [
        format!("UPDATE tfa SET secret = '{SECRET}' WHERE username = 'bob'"),
        format!("INSERT INTO tfa (username, secret) VALUES ('dave', '{SECRET}')"),
    ] {
        let e = raw_sql(&dir, &sql).unwrap_err();
        assert!(e.contains("encrypted"), "{e}");
    }
    assert_eq!(raw_secrets(&dir).len(), 2);
}

#[tokio::test]
async fn a_missing_or_wrong_key_is_refused_and_nothing_changes() {
    let env = Env::new();
    let dir = data_dir(&env);
    enroll(&env.store, "bob", SECRET);
    drop(env.store);
    let key_path = dir.join("tfa.key");
    let key = std::fs::read(&key_path).unwrap();
    let before = dump(&dir);

    // A wrong key (another store's), given with --key-file or in place.
    let other = tempfile::tempdir().unwrap();
    open_store(other.path(), None).unwrap();
    let wrong = other.path().join("tfa.key");
    let wrong_bytes = std::fs::read(&wrong).unwrap();
    let e = open_store(&dir, Some(&wrong)).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, StoreError::Key { .. }), "{text}");
    assert!(text.contains(&wrong.display().to_string()), "{text}");
    assert_eq!(std::fs::read(&wrong).unwrap(), wrong_bytes);
    std::fs::write(&key_path, &wrong_bytes).unwrap();
    let e = open_store(&dir, None).unwrap_err();
    assert!(
        e.to_string().contains(&key_path.display().to_string()),
        "{e}"
    );
    assert_eq!(std::fs::read(&key_path).unwrap(), wrong_bytes);

    // No key file at all: refused, and no key is made over the encrypted secrets.
    std::fs::remove_file(&key_path).unwrap();
    let e = open_store(&dir, None).unwrap_err();
    assert!(
        e.to_string().contains(&key_path.display().to_string())
            && e.to_string().contains("does not exist"),
        "{e}"
    );
    assert!(!key_path.exists());
    // Not a key at all.
    std::fs::write(&key_path, "hello\n").unwrap();
    assert!(matches!(
        open_store(&dir, None).unwrap_err(),
        StoreError::Key { .. }
    ));
    assert!(dump(&dir) == before, "the database is unchanged");

    // The right key, again: the store opens and the secret reads.
    std::fs::write(&key_path, &key).unwrap();
    let store = open_store(&dir, None).unwrap();
    assert_eq!(store.tfa_secret("bob").unwrap().as_deref(), Some(SECRET));
}

#[tokio::test]
async fn a_key_file_elsewhere_is_made_and_used() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, key) = (tmp.path().join("data"), tmp.path().join("keys/tfa.key"));
    std::fs::create_dir(tmp.path().join("keys")).unwrap();
    let store = open_store(&dir, Some(&key)).unwrap();
    enroll(&store, "bob", SECRET);
    drop(store);
    assert_eq!(mode(&key), 0o600);
    assert!(!dir.join("tfa.key").exists());
    // Without --key-file the store is refused (the key is not beside it), not re-keyed.
    assert!(open_store(&dir, None).is_err());
    assert!(!dir.join("tfa.key").exists());
    let store = open_store(&dir, Some(&key)).unwrap();
    assert_eq!(store.tfa_secret("bob").unwrap().as_deref(), Some(SECRET));
}

#[tokio::test]
async fn a_plaintext_sqlite_store_is_sealed_at_open() {
    let env = Env::new();
    let dir = data_dir(&env);
    let db = env.store.sqlite_path().unwrap().to_owned();
    drop(env.store);
    // Make it a store of schema 6: plaintext secrets, no key check, no key file.
    let conn = Connection::open(&db).unwrap();
    conn.execute_batch(&format!(
        "DROP TRIGGER tfa_sealed_insert; DROP TRIGGER tfa_sealed_update;
         DROP TRIGGER tfa_removed_recovery_codes; DROP TABLE recovery_codes;
         DELETE FROM settings WHERE key = 'key_check';
         INSERT INTO tfa VALUES ('bob', '{SECRET}'), ('info@bob.example', '{OTHER}');
         PRAGMA user_version = 6;"
    ))
    .unwrap();
    drop(conn);
    std::fs::remove_file(dir.join("tfa.key")).unwrap();
    let store = Store::open(&dir, None).unwrap();
    assert_eq!(store.schema_version().unwrap(), tfa::store::SCHEMA_VERSION);
    assert!(dir.join("tfa.key").exists());
    for (user, stored) in raw_secrets(&dir) {
        assert!(stored.starts_with("v1:"), "{user}: {stored}");
    }
    assert_eq!(
        store.all_tfa().unwrap(),
        [
            ("bob".to_owned(), SECRET.to_owned()),
            ("info@bob.example".to_owned(), OTHER.to_owned())
        ]
    );
}

#[tokio::test]
async fn rotation_reseals_everything_and_replaces_the_key_file() {
    let env = Env::new();
    let dir = data_dir(&env);
    enroll(&env.store, "bob", SECRET);
    enroll(&env.store, "carol", OTHER);
    // A second handle, as a running server beside the CLI that rotates.
    let server = open_store(&dir, None).unwrap();
    assert_eq!(server.tfa_secret("bob").unwrap().as_deref(), Some(SECRET));
    let key_path = dir.join("tfa.key");
    let old_key = std::fs::read(&key_path).unwrap();
    let old_raw = raw_secrets(&dir);

    assert_eq!(env.store.rotate_key().unwrap(), 2);
    let new_key = std::fs::read(&key_path).unwrap();
    assert_ne!(new_key, old_key);
    assert_eq!(mode(&key_path), 0o600);
    assert!(!dir.join("tfa.key.new").exists() && !dir.join("tfa.key.old").exists());
    let new_raw = raw_secrets(&dir);
    for ((_, a), (_, b)) in old_raw.iter().zip(&new_raw) {
        assert_ne!(a, b);
    }
    assert_eq!(
        env.store.tfa_secret("bob").unwrap().as_deref(),
        Some(SECRET)
    );
    // The other handle follows: it reads with, and writes under, the new key.
    assert_eq!(server.tfa_secret("carol").unwrap().as_deref(), Some(OTHER));
    enroll(&server, "info@bob.example", SECRET);
    drop((server, env.store));
    let again = open_store(&dir, None).unwrap();
    assert_eq!(
        again.tfa_secret("info@bob.example").unwrap().as_deref(),
        Some(SECRET)
    );
    // The old key no longer opens the store.
    std::fs::write(&key_path, &old_key).unwrap();
    drop(again);
    assert!(open_store(&dir, None).is_err());
}

/// (database, key file, `.new`, `.old`, the key file's bytes expected after the open)
type Case<'a> = (
    &'a [u8],
    Option<&'a [u8]>,
    Option<&'a [u8]>,
    Option<&'a [u8]>,
    &'a [u8],
);

/// The files a crash can leave at each point of a rotation from key A to key B, and the
/// database's state (committed to B or not): the store opens with the key that matches and
/// the files end as one key file.
#[tokio::test]
async fn a_rotation_interrupted_anywhere_leaves_a_sqlite_store_that_opens() {
    let env = Env::new();
    let dir = data_dir(&env);
    enroll(&env.store, "bob", SECRET);
    let key_path = dir.join("tfa.key");
    let (new, old) = (dir.join("tfa.key.new"), dir.join("tfa.key.old"));
    let a = std::fs::read(&key_path).unwrap();
    let db = env.store.sqlite_path().unwrap().to_owned();
    let conn = Connection::open(&db).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    let db_a = std::fs::read(&db).unwrap();
    env.store.rotate_key().unwrap();
    drop(env.store);
    let conn = Connection::open(&db).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    let db_b = std::fs::read(&db).unwrap();
    let b = std::fs::read(&key_path).unwrap();

    let half = b"c29tZSBoYWxmLXdyaXR0ZW4=".to_vec();
    let cases: Vec<Case<'_>> = vec![
        // .new half written, or written and synced: the commit has not happened.
        (&db_a, Some(&a), Some(&half), None, &a),
        (&db_a, Some(&a), Some(&b), None, &a),
        // Committed, the swap not begun; then with .old linked.
        (&db_b, Some(&a), Some(&b), None, &b),
        (&db_b, Some(&a), Some(&b), Some(&a), &b),
        // Renamed, .old not yet removed.
        (&db_b, Some(&b), None, Some(&a), &b),
    ];
    for (i, (database, key, next, previous, expect)) in cases.into_iter().enumerate() {
        for f in [&key_path, &new, &old] {
            let _ = std::fs::remove_file(f);
        }
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        std::fs::write(&db, database).unwrap();
        for (path, bytes) in [(&key_path, key), (&new, next), (&old, previous)] {
            if let Some(bytes) = bytes {
                std::fs::write(path, bytes).unwrap();
            }
        }
        let store = Store::open(&dir, None).unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert_eq!(
            store.tfa_secret("bob").unwrap().as_deref(),
            Some(SECRET),
            "case {i}"
        );
        assert_eq!(std::fs::read(&key_path).unwrap(), expect, "case {i}");
        assert!(!new.exists() && !old.exists(), "case {i}");
    }
}

#[tokio::test]
async fn import_seals_and_export_writes_plaintext() {
    use tfa::store::cpanel;
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(cpanel::TFA_FILE),
        format!(r#"{{"bob":{{"secret":"{SECRET}"}}}}"#),
    )
    .unwrap();
    cpanel::import(&env.store, dir.path()).unwrap();
    let raw = raw_secrets(&env.dir());
    assert!(raw[0].1.starts_with("v1:") && !raw[0].1.contains(SECRET));
    let out = tempfile::tempdir().unwrap();
    cpanel::export(&env.store, out.path()).unwrap();
    let file = out.path().join(cpanel::TFA_FILE);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(
        std::fs::read_to_string(file).unwrap(),
        format!(r#"{{"bob":{{"secret":"{SECRET}"}}}}"#)
    );
}
