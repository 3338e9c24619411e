//! The command line on the shared PostgreSQL store: `--database` works for `account`,
//! `token`, `uapi`, `whmapi1`, `import-cpanel`, `export-cpanel`, `audit` and `key rotate`, each
//! seeing what the others wrote; a server started beside them follows a key rotation; a data
//! directory with another key is refused with the database unchanged; and `pg_dump` of the
//! database holds no secret in plain text.

use std::path::Path;

use serde_json::Value;
use tfa_e2e::{data_dir, now, tfa, tfa_ok, PgCluster, Server, ServerOptions};
use tfa_testkit::{code, pg, read_json, take_recovery_codes};

use crate::http::Http;

/// `tfa --database URL ARGS…` in `data` (the key file's home), asserting success.
fn on_pg(data: &Path, url: &str, args: &[&str]) -> String {
    let mut all = vec!["--database", url];
    all.extend_from_slice(args);
    tfa_ok(data, &all, None)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn every_command_works_against_the_shared_database() {
    let cluster = PgCluster::start();
    let url = cluster.url("postgres");
    let (_t, data) = data_dir();
    // Accounts and tokens.
    let mut add = vec!["--database", url.as_str()];
    add.extend_from_slice(&[
        "account",
        "add",
        "bob",
        "--domain",
        "bob.example",
        "--password-stdin",
    ]);
    tfa_ok(&data, &add, Some("bob-password\n"));
    let listed = on_pg(&data, &url, &["account", "list"]);
    assert!(listed.lines().any(|l| l.starts_with("bob")), "{listed}");
    let token_of = |name: &str| {
        let out = on_pg(&data, &url, &["token", "create", name]);
        out.lines().last().unwrap().trim().to_owned()
    };
    let token = token_of("bob");
    let tokens = on_pg(&data, &url, &["token", "list", "bob"]);
    assert_eq!(tokens.lines().count(), 1, "{tokens}");
    // dave enrolls later, through a server (bob's step is used up by then).
    let mut add = vec!["--database", url.as_str()];
    add.extend_from_slice(&["account", "add", "dave", "--domain", "dave.example"]);
    tfa_ok(&data, &add, None);
    let dave = token_of("dave");

    // Enrollment through `uapi`, on the real clock; read back through `whmapi1`.
    let secret = "JBSWY3DPEHPK3PXP";
    let out = on_pg(
        &data,
        &url,
        &[
            "uapi",
            "--user=bob",
            "--output=json",
            "TwoFactorAuth",
            "set_user_configuration",
            &format!("secret={secret}"),
            &format!("tfa_token={}", code(secret, now())),
        ],
    );
    let (codes, rest) = take_recovery_codes(out.trim());
    assert_eq!(codes.len(), 10);
    assert_eq!(json(&rest)["result"]["status"], 1, "{out}");
    let out = on_pg(
        &data,
        &url,
        &["whmapi1", "--output=json", "twofactorauth_get_user_configs"],
    );
    assert_eq!(json(&out)["data"]["bob"]["is_enabled"], 1, "{out}");
    let audit = on_pg(&data, &url, &["audit"]);
    assert!(
        audit.lines().any(|l| l.contains("\tenable\tbob\t")),
        "{audit}"
    );

    // Export, then import another user's config from cPanel's files.
    let out = tempfile::tempdir().unwrap();
    on_pg(
        &data,
        &url,
        &["export-cpanel", out.path().to_str().unwrap()],
    );
    let exported = read_json(&out.path().join("tfa_userdata.json"));
    assert_eq!(exported["bob"]["secret"], secret);
    let incoming = tempfile::tempdir().unwrap();
    std::fs::write(
        incoming.path().join("tfa_userdata.json"),
        r#"{"carol":{"secret":"GEZDGNBVGY3TQOJQ"}}"#,
    )
    .unwrap();
    on_pg(
        &data,
        &url,
        &["import-cpanel", incoming.path().to_str().unwrap()],
    );
    let again = tempfile::tempdir().unwrap();
    on_pg(
        &data,
        &url,
        &["export-cpanel", again.path().to_str().unwrap()],
    );
    let exported = read_json(&again.path().join("tfa_userdata.json"));
    assert_eq!(exported["carol"]["secret"], "GEZDGNBVGY3TQOJQ");
    assert_eq!(exported["bob"]["secret"], secret);

    // The database holds the secrets only sealed, and the recovery codes not at all.
    let dump = pg::pg_dump(&url, "public");
    assert!(dump.contains("v1:"), "no sealed secret in the dump");
    for plain in [secret, "GEZDGNBVGY3TQOJQ"] {
        assert!(!dump.contains(plain) && !dump.contains(&plain.to_lowercase()));
    }
    for c in &codes {
        assert!(!dump.contains(c.as_str()) && !dump.contains(&c.replace('-', "")));
    }

    // A server beside the CLI, then a key rotation: the server follows the new key file.
    let server = Server::start(ServerOptions {
        args: vec!["--database".into(), url.clone()],
        ..ServerOptions::with_data_dir(&data)
    });
    let http = Http::new();
    let bob_status = http.get(
        &server.url("/execute/TwoFactorAuth/get_user_configuration"),
        &format!("cpanel bob:{token}"),
    );
    assert_eq!(
        bob_status.json()["data"]["is_enabled"],
        1,
        "{}",
        bob_status.text
    );
    let key_before = std::fs::read(data.join("tfa.key")).unwrap();
    let rotated = on_pg(&data, &url, &["key", "rotate"]);
    assert!(rotated.starts_with("Re-encrypted 2 secret(s)"), "{rotated}");
    assert_ne!(std::fs::read(data.join("tfa.key")).unwrap(), key_before);
    assert!(!pg::pg_dump(&url, "public").contains(secret));
    // The running server reads with the new key, and enrolls under it.
    let r = http.send(
        "GET",
        &server.url(&format!(
            "/execute/TwoFactorAuth/set_user_configuration?secret=MZXW6YTBOI2222AA&tfa_token={}",
            code("MZXW6YTBOI2222AA", now())
        )),
        &[("Authorization", &format!("cpanel dave:{dave}"))],
        None,
    );
    assert!(
        take_recovery_codes(&r.text).1.contains("\"status\":1"),
        "{}",
        r.text
    );
    drop(server);
    let exported = tempfile::tempdir().unwrap();
    on_pg(
        &data,
        &url,
        &["export-cpanel", exported.path().to_str().unwrap()],
    );
    let exported = read_json(&exported.path().join("tfa_userdata.json"));
    assert_eq!(exported["dave"]["secret"], "MZXW6YTBOI2222AA");
    assert_eq!(exported["bob"]["secret"], secret);

    // Another data directory, without this database's key: refused, and nothing changes.
    let before = pg::pg_dump(&url, "public");
    let (_o, other) = data_dir();
    let out = tfa(&other, &["--database", &url, "account", "list"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tfa.key") && err.contains("encrypted"),
        "{err}"
    );
    assert!(
        pg::pg_dump(&url, "public") == before,
        "the database changed"
    );
    // A database URL that is not PostgreSQL's is a usage error.
    let out = tfa(
        &data,
        &["--database", "mysql://x/y", "account", "list"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("postgres://"));
}
