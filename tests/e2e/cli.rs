//! The `tfa` command line on a data directory, no server: `whmapi1` and `uapi` output in YAML,
//! JSON and XML as cPanel prints them, their errors, and import/export of cPanel's JSON files
//! (private modes, and nothing written when the input is bad).

use serde_json::{json, Value};
use tfa_e2e::{data_dir, export, now, tfa, tfa_ok, HOSTNAME};
use tfa_testkit::{code, mode, read_json, take_recovery_codes};

#[test]
fn cli_prints_yaml_json_and_xml_like_cpanel() {
    let (_t, data) = data_dir();
    let out = tfa_ok(&data, &["whmapi1", "twofactorauth_policy_status"], None);
    assert_eq!(
        out,
        "---\ndata:\n  is_enabled: 0\nmetadata:\n  command: twofactorauth_policy_status\n  reason: OK\n  result: 1\n  version: 1\n"
    );
    let out = tfa_ok(
        &data,
        &["whmapi1", "--output=json", "twofactorauth_policy_status"],
        None,
    );
    assert_eq!(
        out,
        "{\"data\":{\"is_enabled\":0},\"metadata\":{\"command\":\"twofactorauth_policy_status\",\"reason\":\"OK\",\"result\":1,\"version\":1}}\n"
    );
    let out = tfa_ok(
        &data,
        &["whmapi1", "--output=xml", "twofactorauth_policy_status"],
        None,
    );
    assert_eq!(
        out,
        "<result><data><is_enabled>0</is_enabled></data><metadata><version>1</version><reason>OK</reason><result>1</result><command>twofactorauth_policy_status</command></metadata></result>\n"
    );
    let out = tfa_ok(
        &data,
        &["whmapi1", "--output=jsonpretty", "twofactorauth_get_issuer"],
        None,
    );
    assert!(out.contains("\n  \"data\": {\n"), "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["data"],
        json!({"issuer": HOSTNAME, "system_wide_issuer": HOSTNAME})
    );
    let out = tfa_ok(
        &data,
        &[
            "uapi",
            "--user=demo",
            "TwoFactorAuth",
            "get_user_configuration",
        ],
        None,
    );
    assert_eq!(
        out,
        "---\napiversion: 3\nfunc: get_user_configuration\nmodule: TwoFactorAuth\nresult:\n  data:\n    is_enabled: 0\n  errors: ~\n  messages: ~\n  metadata: {}\n  status: 1\n  warnings: ~\n"
    );
    // Enrollment from the CLI runs on the real clock.
    let secret = "JBSWY3DPEHPK3PXP";
    let c = code(secret, now());
    let out = tfa_ok(
        &data,
        &[
            "uapi",
            "--user=demo",
            "--output=json",
            "TwoFactorAuth",
            "set_user_configuration",
            &format!("secret={secret}"),
            &format!("tfa_token={c}"),
        ],
        None,
    );
    assert_eq!(
        take_recovery_codes(out.trim()).1,
        r#"{"apiversion":3,"func":"set_user_configuration","module":"TwoFactorAuth","result":{"data":{"tfa_configured":1},"errors":null,"messages":null,"metadata":{},"status":1,"warnings":null}}"#
    );
    let out = tfa(
        &data,
        &[
            "uapi",
            "--user=demo",
            "TwoFactorAuth",
            "set_user_configuration",
            "secret=JBSWY3DPEHPK3PX1",
            "tfa_token=123456",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Missing or Invalid: “secret”"));
    let out = tfa_ok(
        &data,
        &[
            "whmapi1",
            "twofactorauth_remove_user_config",
            "user=demo",
            "user=nobody",
        ],
        None,
    );
    assert!(out.contains("users_modified:\n    - demo\n"), "{out}");
    assert!(out.contains("    nobody: 'You are not authorized to modify “nobody”: The user “nobody” does not exist.'\n"), "{out}");
    for (args, needle) in [
        (vec!["whmapi1", "twofactorauth_nope"], "twofactorauth_nope"),
        (vec!["uapi", "--user=demo", "TwoFactorAuth", "nope"], "nope"),
        (
            vec!["uapi", "--user=demo", "Nope", "get_user_configuration"],
            "Nope",
        ),
        (
            vec![
                "uapi",
                "--user=nobody",
                "TwoFactorAuth",
                "get_user_configuration",
            ],
            "nobody",
        ),
        (
            vec!["whmapi1", "twofactorauth_set_issuer", "issuer"],
            "key=value",
        ),
        (
            vec!["whmapi1", "--output=toml", "twofactorauth_policy_status"],
            "toml",
        ),
    ] {
        let out = tfa(&data, &args, None);
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn import_export_round_trip_with_cpanels_layout() {
    let (_t, data) = data_dir();
    let src = tempfile::tempdir().unwrap();
    let tfa_json = r#"{"root":{"secret":"QLLIU5WTY3UTJGNG"},"demo":{"secret":"S3I4WUY7MTHRMMWN"},"info@demo.example":{"secret":"WJ73QJSKZBXCFIPZ"}}"#;
    std::fs::write(src.path().join("tfa_userdata.json"), tfa_json).unwrap();
    std::fs::write(
        src.path().join("issuer_userdata.json"),
        r#"{"system_wide_issuer":"My Host"}"#,
    )
    .unwrap();
    tfa_ok(
        &data,
        &[
            "account",
            "add-webmail",
            "info@demo.example",
            "--password-stdin",
        ],
        Some("mail-password-5\n"),
    );
    let out = tfa_ok(
        &data,
        &["import-cpanel", src.path().to_str().unwrap()],
        None,
    );
    assert!(out.contains("Imported 3"), "{out}");
    tfa_ok(
        &data,
        &["import-cpanel", src.path().to_str().unwrap()],
        None,
    );
    let dst = export(&data);
    assert_eq!(
        read_json(&dst.path().join("tfa_userdata.json")),
        serde_json::from_str::<Value>(tfa_json).unwrap()
    );
    assert_eq!(
        read_json(&dst.path().join("issuer_userdata.json")),
        json!({"system_wide_issuer": "My Host"})
    );
    assert_eq!(mode(&dst.path().join("tfa_userdata.json")), 0o600);
    assert_eq!(mode(&dst.path().join("issuer_userdata.json")), 0o600);
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("tfa.sqlite3")), 0o600);
    let out = tfa_ok(
        &data,
        &["whmapi1", "--output=json", "twofactorauth_get_user_configs"],
        None,
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["data"]["demo"]["is_enabled"], 1);
    assert_eq!(v["data"]["root"]["is_enabled"], 1);
    let out = tfa_ok(
        &data,
        &[
            "whmapi1",
            "--output=json",
            "twofactorauth_get_tfa_config_for_user",
            "user=demo",
        ],
        None,
    );
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["data"],
        json!({"demo": {"primary_account": {"secret": "S3I4WUY7MTHRMMWN"}, "email": {"info@demo.example": {"secret": "WJ73QJSKZBXCFIPZ"}}}})
    );
    // Bad JSON: a clear error, and nothing is written.
    std::fs::write(
        src.path().join("tfa_userdata.json"),
        r#"{"demo":{"secret":"AAAAAAAAAAAAAAAA"},"#,
    )
    .unwrap();
    let out = tfa(
        &data,
        &["import-cpanel", src.path().to_str().unwrap()],
        None,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not valid JSON") && err.contains("nothing was imported"),
        "{err}"
    );
    assert_eq!(
        read_json(&export(&data).path().join("tfa_userdata.json")),
        serde_json::from_str::<Value>(tfa_json).unwrap()
    );
}
