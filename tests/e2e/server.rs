//! The real `tfa serve` on a free loopback port with a temp data dir: UAPI and WHM enrollment,
//! restart survival with replays still refused, 50 concurrent clients, login with a security
//! code and throttling, the CLI's outputs, cPanel import/export, and codes from Debian's
//! `oathtool`. Each test ends by grepping the server log for every secret, token and password
//! it used. Expected codes come from the core's RFC-tested `code_at` or from oathtool.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use tfa::core::totp::code_at;
use tfa::core::Secret;
use tfa_e2e::{
    add_account, assert_nothing_leaked, create_token, now, set_password, tfa, tfa_ok, Server,
    ServerOptions, HOSTNAME,
};

struct Http {
    agent: ureq::Agent,
}

struct Reply {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// `data.<key>`, which must be a string.
    fn data_str(&self, key: &str) -> String {
        self.json()["data"][key].as_str().unwrap().to_owned()
    }
}

impl Http {
    fn new() -> Http {
        Http {
            agent: ureq::AgentBuilder::new()
                .redirects(0)
                .timeout(Duration::from_secs(60))
                .build(),
        }
    }

    fn send(&self, method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Reply {
        let mut req = self.agent.request(method, url);
        for (k, v) in headers {
            req = req.set(k, v);
        }
        let result = match body {
            Some(b) => req.send_string(b),
            None => req.call(),
        };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("request to {url} failed: {e}"),
        };
        let status = resp.status();
        let headers = resp
            .headers_names()
            .into_iter()
            .filter_map(|n| {
                resp.header(&n)
                    .map(|v| (n.to_ascii_lowercase(), v.to_owned()))
            })
            .collect();
        let body = resp.into_string().unwrap_or_default();
        Reply {
            status,
            headers,
            body,
        }
    }

    fn get(&self, url: &str, auth: &str) -> Reply {
        self.send("GET", url, &[("Authorization", auth)], None)
    }
}

fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

fn code(secret: &str, t: u64) -> String {
    code_at(&Secret::parse(secret).unwrap(), t)
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// A JSON file's contents.
fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `tfa export-cpanel` of `data` into a new temp dir, returned.
fn export(data: &Path) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    tfa_ok(data, &["export-cpanel", out.path().to_str().unwrap()], None);
    out
}

fn data_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    (t, d)
}

const INVALID_SET: &str = "Failed to set user configuration: The security code is invalid.";

#[test]
fn uapi_and_whm_enrollment_survive_a_restart_and_replays_stay_refused() {
    let (_t, data) = data_dir();
    add_account(
        &data,
        "alice",
        "alice-password-1",
        &["--domain", "alice.test"],
    );
    set_password(&data, "root", "root-password-1");
    let alice_token = create_token(&data, "alice");
    let root_token = create_token(&data, "root");
    let server = Server::start(ServerOptions::with_data_dir(&data));
    let http = Http::new();
    let cp = format!("cpanel alice:{alice_token}");
    let whm = format!("whm root:{root_token}");

    let r = http.get(
        &server.url("/execute/TwoFactorAuth/generate_user_configuration"),
        &cp,
    );
    assert_eq!(r.status, 200);
    let v = r.json();
    let alice_secret = r.data_str("secret");
    assert_eq!(
        v["data"]["otpauth_str"],
        format!("otpauth://totp/{HOSTNAME}:alice?secret={alice_secret}&issuer={HOSTNAME}")
    );
    let t = now();
    let alice_code = code(&alice_secret, t);
    let set_path = format!(
        "/execute/TwoFactorAuth/set_user_configuration?secret={alice_secret}&tfa_token={alice_code}"
    );
    let r = http.get(&server.url(&set_path), &cp);
    assert_eq!(
        r.body,
        r#"{"data":{"tfa_configured":1},"errors":null,"messages":null,"metadata":{},"status":1,"warnings":null}"#
    );

    let r = http.get(
        &server.url("/json-api/twofactorauth_generate_tfa_config?api.version=1"),
        &whm,
    );
    let root_secret = r.data_str("secret");
    let root_code = code(&root_secret, now());
    let r = http.send(
        "POST",
        &server.url("/json-api/twofactorauth_set_tfa_config"),
        &[
            ("Authorization", &whm),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(&form(&[
            ("api.version", "1"),
            ("secret", &root_secret),
            ("tfa_token", &root_code),
        ])),
    );
    assert_eq!(
        r.body,
        r#"{"data":{"success":1},"metadata":{"command":"twofactorauth_set_tfa_config","reason":"OK","result":1,"version":1}}"#
    );

    let stopped = server.stop();
    assert!(
        stopped.status.success(),
        "graceful exit on SIGTERM: {}",
        stopped.status
    );
    assert!(stopped.log.contains("shutting down"));

    let server = Server::start(ServerOptions::with_data_dir(&data));
    let r = http.get(
        &server.url("/json-api/twofactorauth_get_user_configs?api.version=1"),
        &whm,
    );
    assert_eq!(
        r.json()["data"],
        json!({
            "alice": {"is_enabled": 1, "primary_domain": "alice.test"},
            "demo": {"is_enabled": 0, "primary_domain": "demo.example"},
            "root": {"is_enabled": 1, "primary_domain": HOSTNAME},
        })
    );
    let r = http.get(
        &server.url("/execute/TwoFactorAuth/get_user_configuration"),
        &cp,
    );
    assert_eq!(
        r.json()["data"],
        json!({"is_enabled": 1, "issuer": HOSTNAME})
    );
    // The same code again, after the restart: refused.
    let r = http.get(&server.url(&set_path), &cp);
    let v = r.json();
    assert_eq!(v["errors"], json!([INVALID_SET]));
    if now() / 30 <= t / 30 + 1 {
        assert!(
            v["warnings"][0]
                .as_str()
                .unwrap()
                .contains("already been used"),
            "{}",
            r.body
        );
    }
    let stopped = server.stop();
    assert_nothing_leaked(
        &format!("{}{}", stopped.log, stopped.stdout),
        &[
            alice_secret,
            root_secret,
            alice_token,
            root_token,
            "alice-password-1".into(),
            "root-password-1".into(),
        ],
    );
}

#[test]
fn fifty_concurrent_clients_enroll_distinct_users() {
    let (_t, data) = data_dir();
    for i in 0..50 {
        add_account(
            &data,
            &format!("user{i:02}"),
            &format!("password-of-{i:02}"),
            &[],
        );
    }
    set_password(&data, "root", "root-password-2");
    let server = Server::start(ServerOptions::with_data_dir(&data));
    let base = server.base_url.clone();
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let base = base.clone();
            std::thread::spawn(move || {
                let http = Http::new();
                let auth = basic(&format!("user{i:02}"), &format!("password-of-{i:02}"));
                let r = http.get(
                    &format!("{base}/execute/TwoFactorAuth/generate_user_configuration"),
                    &auth,
                );
                assert_eq!(r.status, 200, "{}", r.body);
                let secret = r.data_str("secret");
                let body = form(&[("secret", &secret), ("tfa_token", &code(&secret, now()))]);
                let r = http.send(
                    "POST",
                    &format!("{base}/execute/TwoFactorAuth/set_user_configuration"),
                    &[
                        ("Authorization", &auth),
                        ("Content-Type", "application/x-www-form-urlencoded"),
                    ],
                    Some(&body),
                );
                assert_eq!(r.json()["data"]["tfa_configured"], 1, "{}", r.body);
                secret
            })
        })
        .collect();
    let secrets: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let distinct: std::collections::BTreeSet<_> = secrets.iter().collect();
    assert_eq!(distinct.len(), 50);

    let http = Http::new();
    let r = http.get(
        &server.url("/json-api/twofactorauth_get_user_configs?api.version=1"),
        &basic("root", "root-password-2"),
    );
    let data_v = r.json()["data"].clone();
    for i in 0..50 {
        assert_eq!(data_v[format!("user{i:02}")]["is_enabled"], 1, "user{i:02}");
    }
    let stopped = server.stop();
    assert!(stopped.status.success());
    // Every secret the clients saw is the one stored: nothing lost or mixed up.
    let stored = read_json(&export(&data).path().join("tfa_userdata.json"));
    for (i, secret) in secrets.iter().enumerate() {
        assert_eq!(stored[format!("user{i:02}")]["secret"], secret.as_str());
    }
    let mut leaked: Vec<String> = secrets;
    leaked.extend((0..50).map(|i| format!("password-of-{i:02}")));
    leaked.push("root-password-2".into());
    assert_nothing_leaked(&stopped.log, &leaked);
}

#[test]
fn login_with_a_security_code_then_throttling() {
    let (_t, data) = data_dir();
    add_account(&data, "lin", "lin-password-3", &[]);
    add_account(&data, "max", "max-password-3", &[]);
    let www = tempfile::tempdir().unwrap();
    std::fs::write(
        www.path().join("index.html"),
        "<!doctype html><title>enroll</title>",
    )
    .unwrap();
    std::fs::create_dir(www.path().join("pkg")).unwrap();
    std::fs::write(www.path().join("pkg/tfa_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let server = Server::start(ServerOptions {
        data_dir: Some(data.clone()),
        www: Some(www.path().to_path_buf()),
    });
    let http = Http::new();
    let mut secrets = Vec::new();
    for (user, pass) in [("lin", "lin-password-3"), ("max", "max-password-3")] {
        let auth = basic(user, pass);
        let r = http.get(
            &server.url("/execute/TwoFactorAuth/generate_user_configuration"),
            &auth,
        );
        let secret = r.data_str("secret");
        let r = http.get(
            &server.url(&format!(
                "/execute/TwoFactorAuth/set_user_configuration?secret={secret}&tfa_token={}",
                code(&secret, now())
            )),
            &auth,
        );
        assert_eq!(r.json()["status"], 1, "{}", r.body);
        secrets.push(secret);
    }
    let out = tfa_ok(
        &data,
        &["whmapi1", "--output=json", "twofactorauth_enable_policy"],
        None,
    );
    assert_eq!(
        out.trim(),
        r#"{"metadata":{"command":"twofactorauth_enable_policy","reason":"OK","result":1,"version":1}}"#
    );

    let login = |user: &str, pass: &str, code: Option<&str>| {
        let mut pairs = vec![("user", user), ("pass", pass)];
        if let Some(c) = code {
            pairs.push(("tfa_token", c));
        }
        http.send(
            "POST",
            &server.url("/login"),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(&form(&pairs)),
        )
    };
    let r = http.send("GET", &server.url("/login"), &[], None);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("tfa_token"));
    let r = login("lin", "lin-password-3", None);
    assert_eq!(r.status, 401);
    assert!(r.body.contains("No security code specified."));
    // The enrollment step is used up; the next step's code is inside the window.
    let next = code(&secrets[0], now() + 30);
    let r = login("lin", "lin-password-3", Some(&next));
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.headers["location"].clone();
    let cookie_header = r.headers["set-cookie"].clone();
    assert!(cookie_header.contains("HttpOnly") && cookie_header.contains("SameSite=Strict"));
    let cookie = cookie_header.split(';').next().unwrap().to_owned();
    let with_cookie =
        |path: &str| http.send("GET", &server.url(path), &[("Cookie", &cookie)], None);
    let page = with_cookie(&location);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("enroll"));
    let wasm = with_cookie(&format!("{location}pkg/tfa_bg.wasm"));
    assert_eq!(wasm.status, 200);
    assert_eq!(wasm.headers["content-type"], "application/wasm");
    let r = with_cookie(&format!(
        "{location}execute/TwoFactorAuth/get_user_configuration"
    ));
    assert_eq!(r.json()["data"]["is_enabled"], 1);
    let r = with_cookie("/cpsess0000000000/");
    assert_eq!(r.status, 303, "a wrong cpsess goes back to the login page");
    // Replaying the login code is refused.
    let r = login("lin", "lin-password-3", Some(&next));
    assert_eq!(r.status, 401);
    assert!(r.body.contains("The security code is invalid."));
    // Five wrong codes lock lin out, even with the right code.
    let good = code(&secrets[0], now());
    let wrong = if good == "123456" { "654321" } else { "123456" };
    for _ in 0..4 {
        let r = login("lin", "lin-password-3", Some(wrong));
        assert_eq!(r.status, 401);
        assert!(r.body.contains("The security code is invalid."));
    }
    let r = login(
        "lin",
        "lin-password-3",
        Some(&code(&secrets[0], now() + 30)),
    );
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(
        r.body
            .contains("Too many invalid security codes. Try again in 5 minutes."),
        "{}",
        r.body
    );
    // max is not locked.
    let r = login(
        "max",
        "max-password-3",
        Some(&code(&secrets[1], now() + 30)),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let stopped = server.stop();
    let mut leaked = secrets;
    leaked.extend([
        "lin-password-3".into(),
        "max-password-3".into(),
        cookie.trim_start_matches("cpsession=").to_owned(),
    ]);
    assert_nothing_leaked(&stopped.log, &leaked);
    assert!(
        !stopped.log.contains(location.trim_matches('/')),
        "the cpsess token is masked in logs"
    );
}

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
        "<result><data><is_enabled>0</is_enabled></data><metadata><command>/twofactorauth_policy_status</command><reason>OK</reason><result>1</result><version>1</version></metadata></result>\n"
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
        out.trim(),
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

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
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

#[test]
fn codes_from_debians_oathtool_are_accepted() {
    let oathtool = Path::new("/usr/bin/oathtool");
    assert!(
        oathtool.exists(),
        "/usr/bin/oathtool is missing: `cargo xtask setup` installs Debian's oathtool"
    );
    let oath = |args: &[&str]| -> String {
        let out = std::process::Command::new(oathtool)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "oathtool {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    // The core agrees with oathtool at fixed times...
    for t in [59u64, 1_111_111_109, 1_234_567_890, 2_000_000_000] {
        assert_eq!(
            code("JBSWY3DPEHPK3PXP", t),
            oath(&[
                "--totp",
                "-b",
                "--now",
                &format!("@{t}"),
                "JBSWY3DPEHPK3PXP"
            ]),
            "t={t}"
        );
    }
    // ...and the server accepts oathtool's code for a secret it generated.
    let (_t, data) = data_dir();
    add_account(&data, "olga", "olga-password-6", &[]);
    let server = Server::start(ServerOptions::with_data_dir(&data));
    let http = Http::new();
    let auth = basic("olga", "olga-password-6");
    let r = http.get(
        &server.url("/execute/TwoFactorAuth/generate_user_configuration"),
        &auth,
    );
    let secret = r.data_str("secret");
    let c = oath(&["--totp", "-b", &secret]);
    let r = http.get(
        &server.url(&format!(
            "/execute/TwoFactorAuth/set_user_configuration?secret={secret}&tfa_token={c}"
        )),
        &auth,
    );
    assert_eq!(r.json()["data"]["tfa_configured"], 1, "{}", r.body);
    let stopped = server.stop();
    assert_nothing_leaked(&stopped.log, &[secret, "olga-password-6".into()]);
}

#[test]
fn bad_requests_get_4xx_never_5xx() {
    let server = Server::start(ServerOptions::default());
    let http = Http::new();
    let big = "a".repeat(70 * 1024);
    let cases: Vec<(&str, String, Option<String>, u16)> = vec![
        (
            "GET",
            "/execute/TwoFactorAuth/get_user_configuration".into(),
            None,
            401,
        ),
        ("GET", "/execute/Nope/x".into(), None, 401),
        (
            "POST",
            "/execute/TwoFactorAuth/set_user_configuration".into(),
            Some(big.clone()),
            413,
        ),
        (
            "POST",
            "/json-api/twofactorauth_set_tfa_config_for_user?api.version=1".into(),
            Some(big),
            413,
        ),
        (
            "GET",
            "/json-api/twofactorauth_policy_status".into(),
            None,
            400,
        ),
        (
            "GET",
            "/cpsess123/execute/TwoFactorAuth/get_user_configuration".into(),
            None,
            403,
        ),
        (
            "PUT",
            "/execute/TwoFactorAuth/get_user_configuration".into(),
            None,
            405,
        ),
        ("GET", "/no/such/page".into(), None, 404),
        ("GET", "/..%2F..%2Fetc%2Fpasswd".into(), None, 404),
    ];
    for (method, path, body, want) in &cases {
        let r = http.send(
            method,
            &server.url(path),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.as_deref(),
        );
        assert_eq!(r.status, *want, "{method} {path}: {}", r.body);
    }
    let stopped = server.stop();
    // The log records every status, so the absence of a 5xx below means something.
    for (_, _, _, want) in &cases {
        assert!(
            stopped.log.contains(&format!("status={want}")),
            "{}",
            stopped.log
        );
    }
    assert!(!stopped.log.contains("status=5"), "{}", stopped.log);
}
