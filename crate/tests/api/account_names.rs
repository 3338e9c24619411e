//! Account names follow cPanel's username rules in the store itself, and the system-wide
//! issuer lives under a key no account name can be: not even an old store's reseller named
//! `system_wide_issuer` (written straight into the database, as an older tfa allowed) can set
//! it, and cPanel's files still call it `system_wide_issuer`.

use serde_json::json;

use tfa::server::auth::{hash_password, sha256};
use tfa::store::{cpanel, AccountKind, StoreError, SYSTEM_ISSUER_KEY};
use tfa_testkit::{read_json, whm_meta, whm_ok};

use crate::{account, token, Env, Trips, HOST};

#[tokio::test]
async fn the_store_refuses_account_names_outside_cpanels_rules() {
    let env = Env::new();
    let before = env.snapshot();
    let hash = hash_password("pw").unwrap();
    for (i, (name, kind)) in [
        ("Dave", AccountKind::User),
        ("1dave", AccountKind::User),
        ("abcdefghijklmnopq", AccountKind::User),
        ("da_ve", AccountKind::User),
        ("system_wide_issuer", AccountKind::Reseller),
        ("all", AccountKind::Reseller),
        ("cpanel", AccountKind::User),
        ("whm", AccountKind::Reseller),
        ("admin", AccountKind::User),
        ("testdave", AccountKind::User),
        ("root", AccountKind::Reseller),
        ("boss", AccountKind::Root),
    ]
    .into_iter()
    .enumerate()
    {
        let a = account(name, kind, "root", &format!("new{i}.example"));
        let e = env.store.add_account(&a, &hash).unwrap_err();
        assert!(matches!(e, StoreError::Invalid(_)), "{name}: {e}");
    }
    assert_eq!(env.snapshot(), before);
    // At the limits: 16 characters, a letter then digits.
    for name in ["abcdefghijklmnop", "d1"] {
        let a = account(name, AccountKind::User, "root", &format!("{name}.example"));
        env.store.add_account(&a, &hash).unwrap();
    }
}

/// Adds, straight into the database, a reseller named `system_wide_issuer` with the API token
/// [`token`] gives its name: what an older tfa let `tfa account add --reseller` create.
fn insert_old_reseller(env: &Env) {
    let hash = hash_password("pw").unwrap();
    env.sql(&format!(
        "INSERT INTO accounts (name, kind, owner, domain, password_hash)
         VALUES ('system_wide_issuer', 'reseller', 'root', 'swi.example', '{hash}')"
    ));
    env.sql(&format!(
        "INSERT INTO api_tokens (account, hash, created) VALUES ('system_wide_issuer', {}, 0)",
        crate::db::bytes_literal(&sha256(&token("system_wide_issuer")))
    ));
}

#[tokio::test]
async fn an_old_reseller_named_system_wide_issuer_cannot_set_the_system_issuer() {
    let env = Env::new();
    insert_old_reseller(&env);
    let evil = "system_wide_issuer";
    let r = env
        .whm(evil, "twofactorauth_set_issuer", "issuer=Evil%20Brand")
        .await;
    assert_eq!(r.text, whm_meta("twofactorauth_set_issuer", "OK", 1));
    // It set its own entry only: root, its customers and everyone else still see the hostname.
    let get = "twofactorauth_get_issuer";
    let r = env.whm("root", get, "").await;
    assert_eq!(
        r.text,
        whm_ok(get, json!({"issuer": HOST, "system_wide_issuer": HOST}))
    );
    let r = env.whm(evil, get, "").await;
    assert_eq!(
        r.text,
        whm_ok(
            get,
            json!({"issuer": "Evil Brand", "system_wide_issuer": HOST})
        )
    );
    let r = env.uapi("bob", "generate_user_configuration", "").await;
    let uri = r.data_str("otpauth_str");
    assert!(uri.contains(&format!("&issuer={HOST}")), "{uri}");
    assert_eq!(env.store.issuer(SYSTEM_ISSUER_KEY).unwrap(), None);
    // Root's own setting goes under the system key, which the reseller cannot overwrite.
    let r = env
        .whm("root", "twofactorauth_set_issuer", "issuer=My%20Host")
        .await;
    assert_eq!(r.text, whm_meta("twofactorauth_set_issuer", "OK", 1));
    let r = env
        .whm(evil, "twofactorauth_set_issuer", "issuer=Evil%20Again")
        .await;
    assert_eq!(r.json()["metadata"]["result"], 1);
    let r = env.whm("root", get, "").await;
    assert_eq!(
        r.text,
        whm_ok(
            get,
            json!({"issuer": "My Host", "system_wide_issuer": "My Host"})
        )
    );
    assert_eq!(
        env.store.all_issuers().unwrap(),
        [
            (SYSTEM_ISSUER_KEY.to_owned(), "My Host".to_owned()),
            ("system_wide_issuer".to_owned(), "Evil Again".to_owned()),
        ]
    );
    // cPanel's file names the system-wide issuer `system_wide_issuer`; the old reseller's own
    // entry cannot be told apart from it there, so the export leaves it out.
    let out = tempfile::tempdir().unwrap();
    cpanel::export(&env.store, out.path()).unwrap();
    assert_eq!(
        read_json(&out.path().join(cpanel::ISSUER_FILE)),
        json!({"system_wide_issuer": "My Host"})
    );
    // And an import of that file sets the system-wide issuer, not the reseller's entry.
    std::fs::write(out.path().join(cpanel::TFA_FILE), "{}").unwrap();
    std::fs::write(
        out.path().join(cpanel::ISSUER_FILE),
        r#"{"system_wide_issuer":"Imported Host"}"#,
    )
    .unwrap();
    cpanel::import(&env.store, out.path()).unwrap();
    assert_eq!(
        env.store.issuer(SYSTEM_ISSUER_KEY).unwrap().as_deref(),
        Some("Imported Host")
    );
    assert_eq!(
        env.store.issuer("system_wide_issuer").unwrap().as_deref(),
        Some("Evil Again")
    );
}
