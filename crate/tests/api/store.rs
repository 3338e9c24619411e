//! The store itself: schema version, private files, a newer schema left alone, and the import
//! from and export to cPanel's JSON files.

use serde_json::json;
use tfa::store::{Store, StoreError};

use tfa_testkit::{mode, read_json};

use crate::{Env, Trips};

#[tokio::test]
async fn the_store_is_versioned_and_reopens_without_migrating_twice() {
    let env = Env::new();
    assert_eq!(
        env.store.schema_version().unwrap(),
        crate::db::schema_version()
    );
    let again = crate::db::open_store(&env.dir(), None).unwrap();
    assert_eq!(again.schema_version().unwrap(), crate::db::schema_version());
    assert_eq!(again.accounts().unwrap().len(), 4);
}

#[tokio::test]
async fn the_sqlite_store_is_versioned_and_private() {
    let env = Env::new();
    assert_eq!(
        env.store.schema_version().unwrap(),
        tfa::store::SCHEMA_VERSION
    );
    let dir = &env.dir();
    assert_eq!(mode(dir), 0o700);
    // The database and, while it is open in WAL mode, its -wal and -shm files: all private.
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "tfa.key",
            "tfa.sqlite3",
            "tfa.sqlite3-shm",
            "tfa.sqlite3-wal"
        ]
    );
    for f in &files {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
    // Reopening applies no migration twice.
    let again = Store::open(dir, None).unwrap();
    assert_eq!(again.schema_version().unwrap(), tfa::store::SCHEMA_VERSION);
    assert_eq!(again.accounts().unwrap().len(), 4);
}

#[test]
fn a_newer_schema_is_refused_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    drop(crate::db::open_store(&dir, None).unwrap());
    // A database written by a later tfa is left alone, not migrated down or over.
    crate::db::set_schema_version(&dir, 99);
    let before = crate::db::dump(&dir);
    let e = crate::db::open_store(&dir, None).unwrap_err();
    assert!(
        matches!(e, StoreError::TooNew { found: 99, known } if known == crate::db::schema_version()),
        "{e}"
    );
    assert!(crate::db::dump(&dir) == before, "the database changed");
}

#[test]
fn the_sqlite_store_tightens_wide_files_and_refuses_a_newer_schema() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let path = Store::open(&dir, None)
        .unwrap()
        .sqlite_path()
        .unwrap()
        .to_owned();
    for p in [&dir, &path] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    Store::open(&dir, None).unwrap();
    assert_eq!((mode(&dir), mode(&path)), (0o700, 0o600));
    // A database written by a later tfa is left alone, not migrated down or over.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let e = Store::open(&dir, None).unwrap_err();
    assert!(
        matches!(e, StoreError::TooNew { found: 99, known } if known == tfa::store::SCHEMA_VERSION),
        "{e}"
    );
}

#[tokio::test]
async fn cpanel_import_export_round_trip() {
    use tfa::store::cpanel;
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let tfa_file = dir.path().join("tfa_userdata.json");
    let issuer_file = dir.path().join("issuer_userdata.json");
    // Spec section 5's layout; cPanel keeps only `secret`, and keeps users it does not know.
    std::fs::write(
        &tfa_file,
        r#"{"root":{"secret":"QLLIU5WTY3UTJGNG"},"bob":{"secret":"JBSWY3DPEHPK3PXP","extra":1},"info@bob.example":{"secret":"GEZDGNBVGY3TQOJQ"},"ghost":{"secret":"MZXW6YTBOIAAAAAAAAAAAAAA"}}"#,
    )
    .unwrap();
    std::fs::write(
        &issuer_file,
        r#"{"system_wide_issuer":"My Host","res":"Res Brand"}"#,
    )
    .unwrap();
    let s = cpanel::import(&env.store, dir.path()).unwrap();
    assert_eq!((s.configs, s.issuers), (4, 2));
    assert_eq!(
        (s.unknown, s.unknown_first.as_slice()),
        (1, ["ghost".to_owned()].as_slice())
    );
    let once = env.snapshot();
    cpanel::import(&env.store, dir.path()).unwrap();
    assert_eq!(env.snapshot(), once, "idempotent");
    let out = tempfile::tempdir().unwrap();
    cpanel::export(&env.store, out.path()).unwrap();
    for f in ["tfa_userdata.json", "issuer_userdata.json"] {
        assert_eq!(mode(&out.path().join(f)), 0o600, "{f}");
    }
    assert_eq!(
        read_json(&out.path().join("tfa_userdata.json")),
        json!({"root":{"secret":"QLLIU5WTY3UTJGNG"},"bob":{"secret":"JBSWY3DPEHPK3PXP"},"info@bob.example":{"secret":"GEZDGNBVGY3TQOJQ"},"ghost":{"secret":"MZXW6YTBOIAAAAAAAAAAAAAA"}})
    );
    assert_eq!(
        read_json(&out.path().join("issuer_userdata.json")),
        json!({"system_wide_issuer":"My Host","res":"Res Brand"})
    );
    // Bad input in either file: nothing is written, not even the good entries of a valid
    // secrets file (here a new secret for bob and a new user).
    let good_tfa =
        r#"{"bob":{"secret":"NEWSECRETAAAAAAA"},"newbie":{"secret":"GEZDGNBVGY3TQOJQ"}}"#;
    let good_issuers = r#"{"system_wide_issuer":"Other Host"}"#;
    for (tfa, issuers) in [
        (r#"{"bob":{"secret":"JBSWY3DPEHPK3PX="}}"#, good_issuers),
        (
            r#"{"bob":{"secret":"NEWSECRETAAAAAAA"}, "../x":{"secret":"JBSWY3DPEHPK3PXP"}}"#,
            good_issuers,
        ),
        (
            r#"{"bob":{"secret":"NEWSECRETAAAAAAA"},"carol":{}}"#,
            good_issuers,
        ),
        (r#"{"bob":"#, good_issuers),
        (r#"[1]"#, good_issuers),
        (good_tfa, r#"{"res":"a,b"}"#),
        (good_tfa, r#"{"res":1}"#),
        (good_tfa, r#"{"a/b":"Brand"}"#),
        (good_tfa, r#"{"res":"Res"#),
        (good_tfa, r#"["My Host"]"#),
    ] {
        std::fs::write(&tfa_file, tfa).unwrap();
        std::fs::write(&issuer_file, issuers).unwrap();
        let e = cpanel::import(&env.store, dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("nothing was imported"), "{tfa} {issuers}: {e}");
        assert_eq!(env.snapshot(), once, "{tfa} {issuers}");
    }
    // The same files, both good, do change the store.
    std::fs::write(&tfa_file, good_tfa).unwrap();
    std::fs::write(&issuer_file, good_issuers).unwrap();
    cpanel::import(&env.store, dir.path()).unwrap();
    assert_eq!(env.secret("bob").as_deref(), Some("NEWSECRETAAAAAAA"));
    assert_eq!(env.secret("newbie").as_deref(), Some("GEZDGNBVGY3TQOJQ"));
    assert_eq!(
        env.store
            .issuer(tfa::store::SYSTEM_ISSUER_KEY)
            .unwrap()
            .as_deref(),
        Some("Other Host")
    );
    // No secrets file at all is an error too.
    std::fs::remove_file(&tfa_file).unwrap();
    let e = cpanel::import(&env.store, dir.path()).unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");
}

#[tokio::test]
async fn an_import_names_the_first_ten_unknown_users_and_counts_the_rest() {
    use tfa::store::cpanel;
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let entries: Vec<String> = (0..25)
        .map(|i| format!(r#""ghost{i:02}":{{"secret":"JBSWY3DPEHPK3PXP"}}"#))
        .chain([r#""bob":{"secret":"GEZDGNBVGY3TQOJQ"}"#.to_owned()])
        .collect();
    std::fs::write(
        dir.path().join("tfa_userdata.json"),
        format!("{{{}}}", entries.join(",")),
    )
    .unwrap();
    let s = cpanel::import(&env.store, dir.path()).unwrap();
    assert_eq!((s.configs, s.unknown), (26, 25));
    let first: Vec<String> = (0..10).map(|i| format!("ghost{i:02}")).collect();
    assert_eq!(s.unknown_first, first);
    assert_eq!(env.secret("ghost24").as_deref(), Some("JBSWY3DPEHPK3PXP"));
}
