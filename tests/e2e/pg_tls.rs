//! TLS to the database: with `sslmode=require` and the database's CA given (`--database-ca`),
//! tfa's connections are encrypted (PostgreSQL's own `pg_stat_ssl` says so); a certificate
//! signed by nobody tfa trusts is refused with `sslmode=require`, and nothing is written.

use tfa_e2e::{data_dir, tfa, PgCluster};

#[test]
fn tls_to_the_database_is_used_when_asked_and_verified() {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let (pem, key) = (cert.cert.pem(), cert.key_pair.serialize_pem());
    let cluster = PgCluster::start_with_tls(Some((&pem, &key)));
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("db-ca.pem");
    std::fs::write(&ca, &pem).unwrap();
    let url = format!(
        "{}?sslmode=require&application_name=tfa-tls-test",
        cluster.url("postgres")
    );
    let (_t, data) = data_dir();

    // Without the CA, the self-signed certificate is not trusted: refused, nothing made.
    let out = tfa(&data, &["--database", &url, "account", "list"], None);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot connect to the database"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        cluster.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
        "0"
    );

    // With it: the store is made over TLS. A session that stays open while we look: a server.
    let ca = ca.to_str().unwrap();
    let listed = tfa(
        &data,
        &["--database", &url, "--database-ca", ca, "account", "list"],
        None,
    );
    assert!(listed.status.success(), "{listed:?}");
    assert!(String::from_utf8_lossy(&listed.stdout).contains("root"));
    let server = tfa_e2e::Server::start(tfa_e2e::ServerOptions {
        args: vec![
            "--database".into(),
            url.clone(),
            "--database-ca".into(),
            ca.into(),
        ],
        ..tfa_e2e::ServerOptions::with_data_dir(&data)
    });
    // A request, so that the server holds a pooled connection.
    let status = ureq::get(&server.url("/login")).call().map(|r| r.status());
    assert_eq!(status.ok(), Some(200));
    let ssl = cluster.psql(
        "SELECT bool_and(s.ssl), count(*) FROM pg_stat_ssl s
         JOIN pg_stat_activity a ON a.pid = s.pid WHERE a.application_name = 'tfa-tls-test'",
    );
    assert_eq!(ssl.split('|').next(), Some("t"), "{ssl}");
    assert_ne!(ssl.split('|').nth(1), Some("0"), "{ssl}");
}
