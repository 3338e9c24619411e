//! `cargo xtask bench browser`: the page module's QR and TOTP work in headless Chromium against
//! the npm libraries a page would otherwise use, in the same page load:
//!
//! - QR SVG of the spec's UAPI URI (the first of crate/src/core/vectors.rs' `CPANEL_URIS`),
//!   ECC M: tfa's `qrSvg` against npm `qrcode` (`toString(text, {type: 'svg',
//!   errorCorrectionLevel: 'M'})`) and `lean-qr` (`toSvgSource`), with each SVG's size;
//! - TOTP verify ±1 step: tfa's `verifyCode` against otpauth's `TOTP.validate` with window 1.
//!
//! The peers are pinned in xtask/bench-js/package-lock.json and installed there by `npm ci`
//! (only by this benchmark); esbuild, pinned alike, bundles them with the timing page
//! (bench-js/bench.mjs), which imports tfa's release module from www/pkg as the page does. A
//! small static server here serves both, and Chromium runs the page under chromedriver with
//! wasm-pack.toml's flags (root's Chromium needs `--no-sandbox`), as the browser tests do; the
//! page leaves its figures in `window.benchResult`, read back over WebDriver.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{Row, Table, TempDir};
use crate::{run, Ctx, Result};

/// Where the peers and the timing page live, relative to the workspace root.
const JS_DIR: &str = "xtask/bench-js";
/// The time the verify measure checks codes at (a fixed one, as the core's bench uses).
const VERIFY_AT: u64 = 1_700_000_015;
/// How long the page may take to load and time everything.
const PAGE_TIMEOUT: Duration = Duration::from_secs(180);

pub(super) fn bench_browser(ctx: &Ctx, table: &mut Table) -> Result {
    ensure_peers(ctx)?;
    // The release page module, as `build-www` and `size` make it.
    ctx.setup_build()?;
    ctx.build_www()?;
    let js = ctx.root.join(JS_DIR);
    run(Command::new(esbuild(ctx))
        .current_dir(&js)
        .args([
            "bench.mjs",
            "--bundle",
            "--format=esm",
            "--platform=browser",
        ])
        .args([
            "--external:/pkg/*",
            "--outfile=dist/bench.js",
            "--log-level=warning",
        ]))?;

    let uri = spec_uri(ctx)?;
    let secret = uri
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("secret="))
        .ok_or("the spec URI has no secret")?
        .to_owned();
    let token = tfa_testkit::code(&secret, VERIFY_AT);
    let site = Site::start(vec![
        ("/pkg/".to_owned(), ctx.pkg_dir()),
        ("/".to_owned(), js.clone()),
    ])?;
    let url = format!(
        "http://{}/bench.html?uri={}&secret={secret}&now={VERIFY_AT}&token={token}",
        site.addr,
        query_escape(&uri)
    );
    println!("bench: Chromium runs {url}");
    let result = Driver::start(ctx)?.run_page(ctx, &url)?;
    drop(site);
    if let Some(e) = result.get("error") {
        return Err(format!("the bench page failed: {e}").into());
    }
    println!("bench: the page reported {result}");

    let num = |group: &str, key: &str| {
        result[group][key]
            .as_f64()
            .ok_or_else(|| format!("the bench page reported no {group}.{key}"))
    };
    let version = |pkg: &str| peer_version(ctx, pkg);
    let qrcode = format!("npm qrcode {}", version("qrcode")?);
    let lean = format!("lean-qr {}", version("lean-qr")?);
    table.push(Row::lower(
        "QR SVG in Chromium (spec URI, ECC M)",
        "µs",
        num("qr_us", "tfa")?,
        &qrcode,
        num("qr_us", "qrcode")?,
        Some(400.0),
    ));
    table.push(Row::lower(
        "QR SVG in Chromium (spec URI, ECC M)",
        "µs",
        num("qr_us", "tfa")?,
        &lean,
        num("qr_us", "leanqr")?,
        None,
    ));
    table.push(Row::lower(
        "QR SVG size",
        "bytes",
        num("svg_bytes", "tfa")?,
        &qrcode,
        num("svg_bytes", "qrcode")?,
        Some(7_000.0),
    ));
    table.push(Row::lower(
        "QR SVG size",
        "bytes",
        num("svg_bytes", "tfa")?,
        &lean,
        num("svg_bytes", "leanqr")?,
        None,
    ));
    table.push(Row::lower(
        "TOTP verify ±1 in Chromium",
        "µs",
        num("verify_us", "tfa")?,
        &format!("otpauth {} validate, window 1", version("otpauth")?),
        num("verify_us", "otpauth")?,
        None,
    ));
    Ok(())
}

/// `npm ci` into xtask/bench-js once: quick and quiet when the pinned packages are there.
fn ensure_peers(ctx: &Ctx) -> Result {
    ctx.ensure_npm(JS_DIR, "node_modules/.bin/esbuild")
}

fn esbuild(ctx: &Ctx) -> PathBuf {
    ctx.root.join(JS_DIR).join("node_modules/.bin/esbuild")
}

/// The pinned version of an npm peer, from bench-js/package.json.
fn peer_version(ctx: &Ctx, pkg: &str) -> Result<String> {
    let text = std::fs::read_to_string(ctx.root.join(JS_DIR).join("package.json"))?;
    let json: Value = serde_json::from_str(&text)?;
    json["dependencies"][pkg]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("bench-js/package.json pins no {pkg}").into())
}

/// What the page would ship in JavaScript instead of the wasm module: otpauth's TOTP and
/// lean-qr with its SVG writer, bundled and minified (the size row's peer).
pub(super) fn peer_page_js(ctx: &Ctx) -> Result<Vec<u8>> {
    ensure_peers(ctx)?;
    let mut child = Command::new(esbuild(ctx))
        .current_dir(ctx.root.join(JS_DIR))
        .args(["--bundle", "--minify", "--format=esm", "--platform=browser"])
        .args(["--log-level=warning", "--sourcefile=peers.mjs"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start esbuild: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(
            b"export { TOTP, Secret, URI } from 'otpauth';\n\
              export { generate, correction } from 'lean-qr';\n\
              export { toSvgSource } from 'lean-qr/extras/svg';\n",
        )?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(format!("esbuild failed ({})", out.status).into());
    }
    Ok(out.stdout)
}

/// The spec's UAPI URI: the first `otpauth://` literal of `CPANEL_URIS` in the core's
/// vectors, read from the source so that the benchmark and the tests share it.
fn spec_uri(ctx: &Ctx) -> Result<String> {
    let path = ctx.root.join("crate/src/core/vectors.rs");
    let text = std::fs::read_to_string(&path)?;
    let from = text
        .find("CPANEL_URIS")
        .ok_or("vectors.rs has no CPANEL_URIS")?;
    let rest = &text[from..];
    let start = rest
        .find("\"otpauth://")
        .ok_or("CPANEL_URIS has no otpauth URI")?
        + 1;
    let len = rest[start..]
        .find('"')
        .ok_or("an unterminated URI in vectors.rs")?;
    Ok(rest[start..start + len].to_owned())
}

/// A query value, percent-encoded (the URI carries its own `%`, `&` and `?`).
fn query_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A static file server on 127.0.0.1 for the page, stopped when dropped (its thread blocks in
/// `accept`, so dropping wakes it with one last connection).
struct Site {
    addr: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Site {
    /// Serves each URL prefix from its directory (first match wins).
    fn start(mounts: Vec<(String, PathBuf)>) -> Result<Site> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?.to_string();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = std::sync::Arc::clone(&stop);
        let mounts = std::sync::Arc::new(mounts);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let mounts = std::sync::Arc::clone(&mounts);
                // A thread each: Chromium may open a connection it sends nothing on.
                std::thread::spawn(move || {
                    let _ = serve_one(conn, &mounts);
                });
            }
        });
        Ok(Site { addr, stop })
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = TcpStream::connect(&self.addr);
    }
}

/// One request, one answer, then the connection closes.
fn serve_one(conn: TcpStream, mounts: &[(String, PathBuf)]) -> Result {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line.split_whitespace().nth(1).unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/");
    let file = mounts.iter().find_map(|(prefix, dir)| {
        let rest = path.strip_prefix(prefix.as_str())?;
        (!rest.split('/').any(|part| part == "..")).then(|| dir.join(rest))
    });
    let mut conn = reader.into_inner();
    match file.and_then(|f| std::fs::read(&f).ok().map(|b| (f, b))) {
        Some((f, body)) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
                 Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                mime(&f),
                body.len()
            );
            conn.write_all(head.as_bytes())?;
            conn.write_all(&body)?;
        }
        None => conn.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?,
    }
    Ok(())
}

fn mime(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript",
        Some("wasm") => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
    profile: TempDir,
}

impl Driver {
    fn start(ctx: &Ctx) -> Result<Driver> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(&ctx.cfg.test.chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("could not start chromedriver (cargo xtask setup): {e}"))?;
        let driver = Driver {
            child,
            port,
            profile: TempDir::new("tfa-bench-chromium")?,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Err(e) = driver.call("GET", "/status", None) {
            if Instant::now() > deadline {
                return Err(format!("chromedriver did not answer in 30 s: {e}").into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(driver)
    }

    /// Opens `url` in a fresh headless Chromium and waits for `window.benchResult`.
    fn run_page(&self, ctx: &Ctx, url: &str) -> Result<Value> {
        let mut args = ctx.cfg.test.chromium_args.clone();
        args.push(format!("--user-data-dir={}", self.profile.0.display()));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": ctx.cfg.test.chromium, "args": args},
        }}});
        let session = self.call("POST", "/session", Some(&caps))?;
        let id = session["sessionId"]
            .as_str()
            .ok_or("chromedriver gave no session id")?
            .to_owned();
        let result = self.wait_for_result(&id, url);
        let _ = self.call("DELETE", &format!("/session/{id}"), None);
        result
    }

    fn wait_for_result(&self, id: &str, url: &str) -> Result<Value> {
        self.call(
            "POST",
            &format!("/session/{id}/url"),
            Some(&json!({"url": url})),
        )?;
        let probe = json!({"script": "return window.benchResult || null", "args": []});
        let deadline = Instant::now() + PAGE_TIMEOUT;
        loop {
            let v = self.call("POST", &format!("/session/{id}/execute/sync"), Some(&probe))?;
            if !v.is_null() {
                return Ok(v);
            }
            if Instant::now() > deadline {
                return Err(format!("the bench page gave no result in {PAGE_TIMEOUT:?}").into());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// One WebDriver command; its `value`, or its error. The answer is read by its
    /// Content-Length: chromedriver keeps the connection open whatever the request says.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(120)))?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let (_, json) = super::writes::exchange(&mut BufReader::new(s), request.as_bytes())?;
        let v: Value = serde_json::from_str(&json)?;
        match v["value"].get("error") {
            Some(e) => Err(format!(
                "WebDriver {method} {path}: {e}: {}",
                v["value"]["message"].as_str().unwrap_or_default()
            )
            .into()),
            None => Ok(v["value"].clone()),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_uri_is_read_and_escaped() {
        let ctx = Ctx::new().unwrap();
        let uri = spec_uri(&ctx).unwrap();
        assert!(uri.starts_with("otpauth://totp/Example%20cPanel"), "{uri}");
        assert_eq!(query_escape("a%20b&c=d"), "a%2520b%26c%3Dd");
    }
}
