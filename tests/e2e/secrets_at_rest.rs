//! Secrets at rest, against the real binary and server: a SQLite dump of a store with enrolled
//! users holds no TOTP secret and no recovery code in any encoding; `tfa key rotate` beside a running server, then
//! logins with codes (before and after a restart); a wrong or missing key file refused with
//! every file of the data directory unchanged; and `kill -9` during `tfa key rotate`, again
//! and again, always leaves a store that starts with every secret readable.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use tfa_e2e::{add_account, data_dir, now, tfa, tfa_bin, tfa_ok, Server, ServerOptions, HOSTNAME};
use tfa_testkit::{code, form, mode, read_json};

use crate::http::Http;

/// Enrolls `user` over HTTP; returns the secret the server generated.
fn enroll(http: &Http, server: &Server, user: &str, pass: &str) -> String {
    http.enroll(server, user, pass).0
}

fn login(http: &Http, server: &Server, user: &str, pass: &str, code: &str) -> u16 {
    http.send(
        "POST",
        &server.url("/login"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&form(&[
            ("user", user),
            ("pass", pass),
            ("tfa_token", code),
        ])),
    )
    .status
}

fn base32_decode(text: &str) -> Vec<u8> {
    let (mut bits, mut value, mut out) = (0u32, 0u64, Vec::new());
    for c in text.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32: {text}"),
        };
        value = (value << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
        }
    }
    out
}

fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Every encoding of a secret a dump could hold it in: text forms, and the raw key bytes.
fn encodings(secret: &str) -> (Vec<String>, Vec<u8>) {
    let raw = base32_decode(secret);
    let std64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let url64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let texts = vec![
        secret.to_owned(),
        secret.to_lowercase(),
        hex.clone(),
        hex.to_uppercase(),
        base64(&raw, std64),
        base64(&raw, url64),
        base64(secret.as_bytes(), std64),
    ];
    (texts, raw)
}

/// The database as text: `sqlite3 .dump` when the CLI is there, else every row of every table
/// through python3's sqlite3 module.
fn dump(db: &Path) -> String {
    let have_cli = Command::new("sqlite3")
        .arg("-version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let out = if have_cli {
        Command::new("sqlite3")
            .arg(db)
            .arg(".dump")
            .output()
            .unwrap()
    } else {
        let script = "import sqlite3, sys\n\
            c = sqlite3.connect(sys.argv[1])\n\
            for (t,) in c.execute(\"SELECT name FROM sqlite_master WHERE type='table'\"):\n\
            \x20   for row in c.execute('SELECT * FROM \"%s\"' % t):\n\
            \x20       print(t, repr(row))\n";
        Command::new("python3")
            .args(["-c", script])
            .arg(db)
            .output()
            .unwrap()
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every encoding of a recovery code a dump could hold it in: as shown and as typed, in hex and
/// base64, and as an unkeyed SHA-256 (which 50 bits could not protect).
fn code_encodings(code: &str) -> (Vec<String>, Vec<Vec<u8>>) {
    use sha2::{Digest, Sha256};
    let std64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut texts, mut raws) = (Vec::new(), Vec::new());
    for form in [code.to_owned(), code.replace('-', "")] {
        for form in [form.clone(), form.to_lowercase()] {
            let hex: String = form.bytes().map(|b| format!("{b:02x}")).collect();
            let digest = Sha256::digest(form.as_bytes()).to_vec();
            let digest_hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            texts.extend([
                form.clone(),
                hex.clone(),
                hex.to_uppercase(),
                base64(form.as_bytes(), std64),
                digest_hex.clone(),
                digest_hex.to_uppercase(),
                base64(&digest, std64),
            ]);
            raws.push(digest);
        }
    }
    (texts, raws)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_sqlite_dump_of_enrolled_users_holds_no_secret_and_no_recovery_code() {
    let (_t, data) = data_dir();
    let users = [
        ("ana", "ana-password-3"),
        ("ben", "ben-password-3"),
        ("cy", "cy-password-33"),
    ];
    for (user, pass) in users {
        add_account(&data, user, pass, &[]);
    }
    let server = Server::start(ServerOptions::with_data_dir(&data));
    let http = Http::new();
    let (secrets, codes): (Vec<String>, Vec<Vec<String>>) = users
        .iter()
        .map(|(u, p)| http.enroll(&server, u, p))
        .unzip();
    // An import too: those are sealed as well.
    let import = tempfile::tempdir().unwrap();
    std::fs::write(
        import.path().join("tfa_userdata.json"),
        r#"{"dee":{"secret":"MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U"}}"#,
    )
    .unwrap();
    tfa_ok(
        &data,
        &["import-cpanel", import.path().to_str().unwrap()],
        None,
    );
    let db = data.join("tfa.sqlite3");
    // While the server runs (the WAL holds recent pages) and after it stopped.
    let mut dumps = vec![(dump(&db), std::fs::read(&db).unwrap())];
    let wal = data.join("tfa.sqlite3-wal");
    if let Ok(bytes) = std::fs::read(&wal) {
        dumps.push((String::new(), bytes));
    }
    server.stop();
    dumps.push((dump(&db), std::fs::read(&db).unwrap()));
    assert!(
        dumps[0].0.contains("v1:"),
        "the secrets are in the sealed form"
    );
    let mut all = secrets.clone();
    all.push("MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U".to_owned());
    for secret in &all {
        let (texts, raw) = encodings(secret);
        for (text, bytes) in &dumps {
            for t in &texts {
                assert!(!text.contains(t.as_str()), "{t} in the dump");
                assert!(!contains(bytes, t.as_bytes()), "{t} in the database file");
            }
            assert!(
                !contains(bytes, &raw),
                "the raw key of {secret} in the file"
            );
        }
    }
    for code in codes.iter().flatten() {
        let (texts, raws) = code_encodings(code);
        for (text, bytes) in &dumps {
            for t in &texts {
                assert!(!text.contains(t.as_str()), "{t} in the dump");
                assert!(!contains(bytes, t.as_bytes()), "{t} in the database file");
            }
            for raw in &raws {
                assert!(
                    !contains(bytes, raw),
                    "an unkeyed hash of {code} in the file"
                );
            }
        }
    }
    assert!(
        dumps[0].0.contains("recovery_codes"),
        "the codes' table is dumped"
    );
    // The secrets are all there for those who may read them.
    let exported = tfa_e2e::export(&data);
    let v = read_json(&exported.path().join("tfa_userdata.json"));
    for ((user, _), secret) in users.iter().zip(&secrets) {
        assert_eq!(v[user]["secret"], json!(secret));
    }
}

#[test]
fn key_rotate_beside_a_running_server_then_logins_with_codes() {
    let (_t, data) = data_dir();
    add_account(&data, "lin", "lin-password-3", &[]);
    add_account(&data, "max", "max-password-3", &[]);
    let server = Server::start(ServerOptions::with_data_dir(&data));
    let http = Http::new();
    let lin = enroll(&http, &server, "lin", "lin-password-3");
    let max = enroll(&http, &server, "max", "max-password-3");
    tfa_ok(&data, &["whmapi1", "twofactorauth_enable_policy"], None);
    let key_path = data.join("tfa.key");
    let old_key = std::fs::read(&key_path).unwrap();

    let out = tfa_ok(&data, &["key", "rotate"], None);
    assert!(out.contains("Re-encrypted 2 secret(s)"), "{out}");
    assert!(out.contains(&key_path.display().to_string()), "{out}");
    assert_ne!(std::fs::read(&key_path).unwrap(), old_key);
    assert_eq!(mode(&key_path), 0o600);
    assert!(!data.join("tfa.key.new").exists() && !data.join("tfa.key.old").exists());

    // The running server follows the rotation.
    let status = login(
        &http,
        &server,
        "lin",
        "lin-password-3",
        &code(&lin, now() + 30),
    );
    assert_eq!(status, 302);
    let stopped = server.stop();
    tfa_e2e::assert_nothing_leaked(&stopped.log, &[lin.clone(), max.clone()]);
    // And a restarted one starts with the new key.
    let server = Server::start(ServerOptions::with_data_dir(&data));
    let status = login(
        &http,
        &server,
        "max",
        "max-password-3",
        &code(&max, now() + 30),
    );
    assert_eq!(status, 302);
    // A wrong code is still wrong: the secret is the secret, not something else that opens.
    let wrong = if code(&lin, now()) == "123456" {
        "654321"
    } else {
        "123456"
    };
    assert_eq!(login(&http, &server, "lin", "lin-password-3", wrong), 401);
}

/// Every file in the data directory and its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_wrong_or_missing_key_file_is_refused_with_nothing_changed() {
    let (_t, data) = data_dir();
    let secret = "JBSWY3DPEHPK3PXP";
    tfa_ok(
        &data,
        &[
            "uapi",
            "--user=demo",
            "TwoFactorAuth",
            "set_user_configuration",
            &format!("secret={secret}"),
            &format!("tfa_token={}", code(secret, now())),
        ],
        None,
    );
    let other = tempfile::tempdir().unwrap();
    let other_data = other.path().join("data");
    tfa_ok(
        &other_data,
        &["whmapi1", "twofactorauth_policy_status"],
        None,
    );
    let wrong_key = other_data.join("tfa.key");
    let before = files(&data);
    let key_path = data.join("tfa.key");
    let refused = |args: &[&str], named: &Path| {
        let out = tfa(&data, args, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} started: {stderr}");
        assert!(stderr.contains(&named.display().to_string()), "{stderr}");
        assert!(stderr.contains("key file"), "{stderr}");
        assert_eq!(files(&data), before, "{args:?} changed the data directory");
    };
    let wrong = wrong_key.to_str().unwrap();
    refused(
        &["--key-file", wrong, "serve", "--listen", "127.0.0.1:0"],
        &wrong_key,
    );
    refused(
        &["--key-file", wrong, "export-cpanel", "/nonexistent"],
        &wrong_key,
    );
    refused(&["--key-file", wrong, "key", "rotate"], &wrong_key);
    // The same through TFA_KEY_FILE, against the real server command.
    let out = Command::new(tfa_bin())
        .args(["--data", data.to_str().unwrap(), "--hostname", HOSTNAME])
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("TFA_KEY_FILE", &wrong_key)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(wrong));
    assert_eq!(files(&data), before);
    // The key file gone: refused, and no new key is made over the encrypted secrets.
    let key = std::fs::read(&key_path).unwrap();
    std::fs::remove_file(&key_path).unwrap();
    let before_missing = files(&data);
    let out = tfa(&data, &["serve", "--listen", "127.0.0.1:0"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("does not exist"),
        "{stderr}"
    );
    assert!(stderr.contains(&key_path.display().to_string()), "{stderr}");
    assert_eq!(files(&data), before_missing);
    // Back in place: the store starts and the secret works.
    std::fs::write(&key_path, key).unwrap();
    let out = tfa_ok(
        &data,
        &["whmapi1", "--output=json", "twofactorauth_get_user_configs"],
        None,
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["metadata"]["result"], 1, "{out}");
    let exported = tfa_e2e::export(&data);
    assert_eq!(
        read_json(&exported.path().join("tfa_userdata.json"))["demo"]["secret"],
        json!(secret)
    );
}

#[test]
fn kill_9_during_key_rotate_leaves_a_store_that_starts() {
    let (_t, data) = data_dir();
    // Many secrets, so that a rotation takes long enough to be cut at different points.
    let count = 3000;
    let mut expected = serde_json::Map::new();
    for i in 0..count {
        let raw: Vec<u8> = (0..20).map(|j| ((i * 31 + j * 7) % 251) as u8).collect();
        expected.insert(
            format!("user{i:04}"),
            json!({"secret": base32_encode(&raw)}),
        );
    }
    let import = tempfile::tempdir().unwrap();
    std::fs::write(
        import.path().join("tfa_userdata.json"),
        Value::Object(expected.clone()).to_string(),
    )
    .unwrap();
    tfa_ok(
        &data,
        &["import-cpanel", import.path().to_str().unwrap()],
        None,
    );
    let expected = Value::Object(expected);
    // One whole rotation, timed, so that the kills below land across its length whatever
    // the build's speed.
    let started = std::time::Instant::now();
    tfa_ok(&data, &["key", "rotate"], None);
    let whole = started.elapsed();
    let mut keys_seen = std::collections::HashSet::new();
    // Kills across the whole length of a rotation (tenths of the timed one), then well past it:
    // on a busy machine one rotation can take twice as long as another, and the check below
    // needs some kills to land after a commit.
    for tenth in [1u32, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 30] {
        let delay = whole * tenth / 10;
        keys_seen.insert(std::fs::read(data.join("tfa.key")).unwrap());
        let mut child = Command::new(tfa_bin())
            .args(["--data", data.to_str().unwrap(), "--hostname", HOSTNAME])
            .args(["key", "rotate"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        // SIGKILL: no destructor, no cleanup.
        let _ = child.kill();
        child.wait().unwrap();
        // The store starts, and every secret opens.
        let exported = tfa_e2e::export(&data);
        assert_eq!(
            read_json(&exported.path().join("tfa_userdata.json")),
            expected,
            "after a kill at {delay:?}"
        );
        assert!(!data.join("tfa.key.new").exists() && !data.join("tfa.key.old").exists());
        assert_eq!(mode(&data.join("tfa.key")), 0o600);
    }
    keys_seen.insert(std::fs::read(data.join("tfa.key")).unwrap());
    // Some kills came after a commit: the loop did cut rotations at different points.
    assert!(keys_seen.len() > 1, "no rotation ever committed");
    // And the server starts on it.
    let server = Server::start(ServerOptions::with_data_dir(&data));
    server.stop();
}

fn base32_encode(bytes: &[u8]) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u64, String::new());
    for b in bytes {
        value = (value << 8) | u64::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(alphabet[(value >> bits & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(alphabet[(value << (5 - bits) & 31) as usize] as char);
    }
    out
}
