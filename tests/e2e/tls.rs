//! TLS on the real `tfa serve`: HTTPS with a test certificate (made here with rcgen, trusted by
//! a rustls client that trusts nothing else), `--tls self-signed`, the refusal of plain HTTP on
//! a non-loopback address, `Secure` cookies and HSTS, and a SIGHUP reload that new connections
//! see while an open keep-alive connection goes on working.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use tfa_e2e::{add_account, create_token, data_dir, tfa, Server, ServerOptions};

/// A self-signed test certificate for 127.0.0.1 and localhost: (cert PEM, key PEM).
fn test_cert() -> (String, String) {
    let made =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    (made.cert.pem(), made.key_pair.serialize_pem())
}

fn der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

/// Writes a file through a rename, as an administrator's tooling replaces certificates.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn addr(server: &Server) -> SocketAddr {
    let rest = server
        .base_url
        .strip_prefix("https://")
        .expect("an https:// banner");
    rest.parse().unwrap()
}

/// One client connection over TLS, trusting only `roots`.
struct Conn(StreamOwned<ClientConnection, TcpStream>);

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Conn {
    fn open(addr: SocketAddr, roots: &[CertificateDer<'static>]) -> Result<Conn, rustls::Error> {
        let mut store = RootCertStore::empty();
        for r in roots {
            store.add(r.clone()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(store)
            .with_no_client_auth();
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let mut conn = ClientConnection::new(Arc::new(config), name).unwrap();
        let mut sock = TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut sock) {
                return Err(
                    match e.into_inner().map(|e| e.downcast::<rustls::Error>()) {
                        Some(Ok(e)) => *e,
                        _ => rustls::Error::General("handshake I/O".to_owned()),
                    },
                );
            }
        }
        Ok(Conn(StreamOwned::new(conn, sock)))
    }

    /// The certificate the server presented.
    fn peer(&self) -> CertificateDer<'static> {
        self.0.conn.peer_certificates().unwrap()[0]
            .clone()
            .into_owned()
    }

    /// One HTTP/1.1 request on this (kept-alive) connection.
    fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        self.0.write_all(req.as_bytes()).unwrap();
        self.0.flush().unwrap();
        let mut reader = BufReader::new(&mut self.0);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').unwrap();
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let mut body = Vec::new();
        if let Some(len) = get("content-length") {
            body.resize(len.parse().unwrap(), 0);
            reader.read_exact(&mut body).unwrap();
        } else if get("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let size = usize::from_str_radix(line.trim(), 16).unwrap();
                let mut chunk = vec![0; size + 2];
                reader.read_exact(&mut chunk).unwrap();
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        }
        Answer {
            status,
            headers,
            body: String::from_utf8(body).unwrap(),
        }
    }
}

/// A UAPI call with an API token: 200 and `status: 1`.
fn api_call(conn: &mut Conn, token_header: &str) -> Answer {
    let a = conn.send(
        "GET",
        "/execute/TwoFactorAuth/get_user_configuration",
        &[("Authorization", token_header)],
        "",
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["status"], 1, "{}", a.body);
    a
}

/// Waits (at most 20 s) for `needle` in the server log.
fn wait_for_log(server: &Server, needle: &str, times: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.log().matches(needle).count() < times {
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the log: {}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn hangup(server: &Server) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn https_with_a_test_certificate_serves_the_api_with_hsts_and_a_secure_cookie() {
    let (_t, data) = data_dir();
    add_account(&data, "alice", "alice-password-7", &[]);
    let token = create_token(&data, "alice");
    let files = tempfile::tempdir().unwrap();
    let (cert, key) = test_cert();
    let (cert_path, key_path) = (files.path().join("c.pem"), files.path().join("k.pem"));
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &key).unwrap();
    let server = Server::start(ServerOptions {
        data_dir: Some(data.clone()),
        args: vec![
            "--tls-cert".into(),
            cert_path.display().to_string(),
            "--tls-key".into(),
            key_path.display().to_string(),
        ],
        ..ServerOptions::default()
    });
    assert!(
        server.base_url.starts_with("https://"),
        "{}",
        server.stdout()
    );
    assert!(server.stdout().contains("/login"));
    let addr = addr(&server);

    let mut conn = Conn::open(addr, &[der(&cert)]).unwrap();
    assert_eq!(conn.peer(), der(&cert));
    let a = api_call(&mut conn, &format!("cpanel alice:{token}"));
    assert_eq!(
        a.header("strict-transport-security"),
        Some("max-age=31536000")
    );

    // The session cookie of a login over TLS is Secure (and still HttpOnly, SameSite=Strict).
    let a = conn.send(
        "POST",
        "/login/?login_only=1",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "user=alice&pass=alice-password-7",
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let cookie = a.header("set-cookie").expect("a session cookie");
    for attr in ["; Secure", "; HttpOnly", "; SameSite=Strict"] {
        assert!(cookie.contains(attr), "{attr} missing: {cookie}");
    }
    assert_eq!(
        a.header("strict-transport-security"),
        Some("max-age=31536000")
    );

    // A client that does not trust this certificate is refused by its own check; one that
    // speaks plain HTTP to the port gets no HTTP answer.
    let (other, _) = test_cert();
    assert!(Conn::open(addr, &[der(&other)]).is_err());
    let mut plain = TcpStream::connect(addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    plain
        .write_all(b"GET /login HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(
        !got.starts_with(b"HTTP/"),
        "plain HTTP answered over the TLS port"
    );

    let stopped = server.stop();
    assert!(stopped.status.success(), "{}", stopped.log);
}

#[test]
fn self_signed_is_made_0600_kept_across_restarts_and_serves_https() {
    let (_t, data) = data_dir();
    add_account(&data, "bob", "bob-password-7", &[]);
    let token = create_token(&data, "bob");
    let opts = ServerOptions {
        data_dir: Some(data.clone()),
        args: vec!["--tls".into(), "self-signed".into()],
        ..ServerOptions::default()
    };
    let server = Server::start(opts.clone());
    let (cert_path, key_path) = (
        data.join("tls-self-signed.crt"),
        data.join("tls-self-signed.key"),
    );
    for p in [&cert_path, &key_path] {
        let mode = std::fs::metadata(p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", p.display());
    }
    let cert = std::fs::read_to_string(&cert_path).unwrap();
    assert!(server.stdout().contains(&cert_path.display().to_string()));
    let mut conn = Conn::open(addr(&server), &[der(&cert)]).unwrap();
    assert_eq!(conn.peer(), der(&cert));
    let a = api_call(&mut conn, &format!("cpanel bob:{token}"));
    assert_eq!(
        a.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    drop(conn);
    assert!(server.stop().status.success());

    // A restart keeps the same certificate, so clients that trusted it still do.
    let server = Server::start(opts);
    assert_eq!(std::fs::read_to_string(&cert_path).unwrap(), cert);
    let mut conn = Conn::open(addr(&server), &[der(&cert)]).unwrap();
    api_call(&mut conn, &format!("cpanel bob:{token}"));
}

#[test]
fn plain_http_on_a_non_loopback_address_is_refused_unless_insecure_http() {
    let (_t, data) = data_dir();
    let out = tfa(&data, &["serve", "--listen", "0.0.0.0:0"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to serve plain HTTP on 0.0.0.0:0"),
        "{err}"
    );
    for option in ["--tls-cert", "--tls self-signed", "--insecure-http"] {
        assert!(err.contains(option), "{option} not named: {err}");
    }
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("Listening on"),
        "it listened before refusing"
    );

    // Said on purpose (TLS terminated in front), plain HTTP is served there.
    let server = Server::start(ServerOptions {
        data_dir: Some(data.clone()),
        listen: Some("0.0.0.0:0".into()),
        args: vec!["--insecure-http".into()],
        ..ServerOptions::default()
    });
    let port = server
        .base_url
        .strip_prefix("http://0.0.0.0:")
        .expect("a plain http banner on 0.0.0.0");
    let mut s = TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut got = String::new();
    s.read_to_string(&mut got).unwrap();
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    // No HSTS and no Secure cookie without TLS of our own.
    assert!(!got
        .to_ascii_lowercase()
        .contains("strict-transport-security"));
    drop(server);

    // Loopback stays plain HTTP without any option (the README's main command).
    let server = Server::start(ServerOptions::with_data_dir(&data));
    assert!(server.base_url.starts_with("http://127.0.0.1:"));
}

#[test]
fn sighup_reloads_the_certificate_for_new_connections_and_keeps_open_ones() {
    let (_t, data) = data_dir();
    add_account(&data, "carol", "carol-password-7", &[]);
    let auth = format!("cpanel carol:{}", create_token(&data, "carol"));
    let files = tempfile::tempdir().unwrap();
    let (cert_a, key_a) = test_cert();
    let (cert_b, key_b) = test_cert();
    let (cert_path, key_path) = (files.path().join("c.pem"), files.path().join("k.pem"));
    std::fs::write(&cert_path, &cert_a).unwrap();
    std::fs::write(&key_path, &key_a).unwrap();
    let server = Server::start(ServerOptions {
        data_dir: Some(data.clone()),
        args: vec![
            "--tls-cert".into(),
            cert_path.display().to_string(),
            "--tls-key".into(),
            key_path.display().to_string(),
        ],
        ..ServerOptions::default()
    });
    let addr = addr(&server);
    let roots = [der(&cert_a), der(&cert_b)];
    let mut open = Conn::open(addr, &roots).unwrap();
    assert_eq!(open.peer(), der(&cert_a));
    api_call(&mut open, &auth);

    // New files, then SIGHUP: new connections get B; the open one goes on working.
    replace(&key_path, &key_b);
    replace(&cert_path, &cert_b);
    hangup(&server);
    wait_for_log(&server, "TLS certificate reloaded", 1);
    let mut fresh = Conn::open(addr, &roots).unwrap();
    assert_eq!(fresh.peer(), der(&cert_b));
    api_call(&mut fresh, &auth);
    api_call(&mut open, &auth);
    assert_eq!(open.peer(), der(&cert_a));

    // A broken file: the reload fails, is logged, and B stays in use.
    replace(&cert_path, "not a certificate\n");
    hangup(&server);
    wait_for_log(&server, "TLS certificate reload failed", 1);
    let mut after = Conn::open(addr, &roots).unwrap();
    assert_eq!(after.peer(), der(&cert_b));
    api_call(&mut after, &auth);
    api_call(&mut open, &auth);

    let stopped = server.stop();
    assert!(stopped.status.success(), "{}", stopped.log);
}

#[test]
fn silent_handshakes_time_out_and_cannot_keep_a_tls_client_out() {
    let (_t, data) = data_dir();
    add_account(&data, "dave", "dave-password-7", &[]);
    let auth = format!("cpanel dave:{}", create_token(&data, "dave"));
    let files = tempfile::tempdir().unwrap();
    let (cert, key) = test_cert();
    let (cert_path, key_path) = (files.path().join("c.pem"), files.path().join("k.pem"));
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &key).unwrap();
    let server = Server::start(ServerOptions {
        data_dir: Some(data.clone()),
        args: vec![
            "--tls-cert".into(),
            cert_path.display().to_string(),
            "--tls-key".into(),
            key_path.display().to_string(),
            "--max-connections".into(),
            "4".into(),
            "--header-timeout".into(),
            "3".into(),
        ],
        ..ServerOptions::default()
    });
    let addr = addr(&server);
    // Every slot held by a socket that never starts its handshake: a real client still gets
    // in at once, well before the header timeout could free a slot (the one idle longest is
    // closed to make room).
    let silent: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let mut conn = Conn::open(addr, &[der(&cert)]).unwrap();
    api_call(&mut conn, &auth);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop(conn);
    // A silent handshake is closed after the header timeout.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let n = s.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the server sent bytes to a client that said nothing");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(2500) && waited < Duration::from_secs(10),
        "closed after {waited:?}"
    );
    drop(silent);
}
