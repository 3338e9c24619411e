//! Hostile connections against the real server: sockets that send nothing, idle keep-alive
//! connections, slow bodies, a bare `\r\n\r\n\r\n`, more idle sockets than the process has
//! file descriptors, and paths that used to answer 500. Every wait is bounded; timeouts are
//! shortened with `tfa serve` options so the tests stay quick.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use tfa_e2e::{add_account, create_token, data_dir, Server, ServerOptions};

use crate::http::Http;

/// A server with `secs`-second header, idle and body timeouts.
fn quick_server(secs: u64, prlimit: &[&str]) -> (tempfile::TempDir, Server, String) {
    let (tmp, data) = data_dir();
    add_account(&data, "nina", "nina-password-8", &[]);
    let token = create_token(&data, "nina");
    let args: Vec<String> = ["--header-timeout", "--idle-timeout", "--body-timeout"]
        .iter()
        .flat_map(|o| [o.to_string(), secs.to_string()])
        .collect();
    let server = Server::start(ServerOptions {
        data_dir: Some(data),
        args,
        prlimit: prlimit.iter().map(|s| s.to_string()).collect(),
        ..ServerOptions::default()
    });
    (tmp, server, token)
}

fn addr(server: &Server) -> SocketAddr {
    server
        .base_url
        .trim_start_matches("http://")
        .parse()
        .unwrap()
}

/// Reads until the server closes the connection (or `limit` passes); what it sent, and
/// whether it closed.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < limit {
        match stream.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&got).into_owned(), true)
            }
            Err(_) => {}
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), false)
}

fn api_get(server: &Server, token: &str) -> (u16, Duration) {
    let started = Instant::now();
    let r = Http::new().get(
        &server.url("/execute/TwoFactorAuth/get_user_configuration"),
        &format!("cpanel nina:{token}"),
    );
    (r.status, started.elapsed())
}

#[test]
fn silent_idle_slow_and_empty_connections_are_closed() {
    let (_t, server, token) = quick_server(2, &[]);
    let started = Instant::now();
    // A socket that never sends a byte.
    let mut silent = TcpStream::connect(addr(&server)).unwrap();
    // A bare run of empty lines, which is not a request.
    let mut empty = TcpStream::connect(addr(&server)).unwrap();
    empty.write_all(b"\r\n\r\n\r\n").unwrap();
    // A request head that never ends.
    let mut dribble = TcpStream::connect(addr(&server)).unwrap();
    dribble
        .write_all(b"GET /login HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    for (name, stream) in [
        ("silent", &mut silent),
        ("empty lines", &mut empty),
        ("unfinished head", &mut dribble),
    ] {
        let (_, closed) = read_until_closed(stream, Duration::from_secs(10));
        assert!(closed, "the {name} connection was still open after 10 s");
    }
    assert!(started.elapsed() < Duration::from_secs(10));

    // A keep-alive connection that answered once and then went quiet.
    let mut idle = TcpStream::connect(addr(&server)).unwrap();
    idle.write_all(b"GET /login HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (text, closed) = read_until_closed(&mut idle, Duration::from_secs(10));
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(closed, "the idle keep-alive connection was not closed");

    // A body that stops halfway: 408, and the connection ends.
    let mut slow = TcpStream::connect(addr(&server)).unwrap();
    slow.write_all(
        format!(
            "POST /execute/TwoFactorAuth/get_user_configuration HTTP/1.1\r\nHost: x\r\n\
             Authorization: cpanel nina:{token}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: 100\r\n\r\nsecret=AAAA"
        )
        .as_bytes(),
    )
    .unwrap();
    let (text, _) = read_until_closed(&mut slow, Duration::from_secs(10));
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");

    // The server still answers at once.
    let (status, took) = api_get(&server, &token);
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(5), "{took:?}");
    let log = server.stop().log;
    assert!(!log.contains("status=5"), "{log}");
}

#[test]
fn more_idle_sockets_than_file_descriptors_do_not_keep_a_client_out() {
    // Soft and hard limit 256: the server keeps 128 for itself, so 128 connections at most.
    let (_t, server, token) = quick_server(60, &["--nofile=256:256"]);
    let mut held = Vec::new();
    for _ in 0..300 {
        if let Ok(s) = TcpStream::connect_timeout(&addr(&server), Duration::from_secs(2)) {
            held.push(s);
        }
    }
    assert!(held.len() >= 200, "only {} sockets connected", held.len());
    // Every socket the server accepted is idle: the ones beyond the cap wait in the backlog,
    // and the oldest idle ones make room for new clients.
    for attempt in 0..3 {
        let (status, took) = api_get(&server, &token);
        assert_eq!(status, 200, "attempt {attempt}");
        assert!(took < Duration::from_secs(5), "attempt {attempt}: {took:?}");
    }
    drop(held);
    let log = server.stop().log;
    assert!(log.contains("connection_cap=128"), "{log}");
    // Back-pressure at the cap: the accept loop never ran out of descriptors.
    assert!(!log.contains("out of file descriptors"), "{log}");
}

#[test]
fn the_soft_file_limit_is_raised_to_the_hard_one() {
    let (_t, server, _token) = quick_server(2, &["--nofile=256:4096"]);
    let log = server.stop().log;
    assert!(log.contains("open_file_limit=4096"), "{log}");
    assert!(log.contains("connection_cap=3968"), "{log}");
}

#[test]
fn odd_static_paths_are_4xx_never_5xx() {
    let www = tempfile::tempdir().unwrap();
    std::fs::write(
        www.path().join("index.html"),
        "<!doctype html><title>x</title>",
    )
    .unwrap();
    let server = Server::start(ServerOptions {
        www: Some(www.path().to_path_buf()),
        ..ServerOptions::default()
    });
    let http = Http::new();
    let long = "a".repeat(256);
    for (method, path, want) in [
        ("GET", format!("/{long}"), 400),
        ("HEAD", format!("/{long}"), 400),
        ("GET", format!("/{}", "b".repeat(255)), 404),
        ("HEAD", "/%00".to_owned(), 400),
        ("GET", "/%00".to_owned(), 400),
        ("GET", "/a%01b".to_owned(), 400),
        ("GET", "/%ff".to_owned(), 400),
        ("GET", "/index.html".to_owned(), 200),
        ("GET", "/no/such/file".to_owned(), 404),
    ] {
        let r = http.send(method, &server.url(&path), &[], None);
        assert_eq!(r.status, want, "{method} {}", &path[..path.len().min(40)]);
    }
    let log = server.stop().log;
    assert!(!log.contains("ERROR"), "{log}");
}
