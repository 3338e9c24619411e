//! One kind of request and what oha measures of it. oha is the load generator for tfa and
//! its baseline alike, so the two differ only in the server.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::Result;

/// The load generator, pinned so that figures from different days come from the same client.
pub(super) const OHA: &str = "1.16.0";
/// Concurrent connections for every measure, tfa's and the baseline's alike.
pub(super) const CONNECTIONS: &str = "64";
/// Long enough to open the connections and warm the caches; its figures are thrown away.
pub(super) const WARM_UP: &str = "2s";
pub(super) const MEASURE: &str = "10s";

/// One kind of request, as oha sends it and as the one-off check before it sends it.
pub(super) struct Load {
    what: &'static str,
    addr: String,
    method: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Option<String>,
    /// The status every answer should have; others are reported under the table.
    expect: &'static str,
}

impl Load {
    pub(super) fn hello(addr: &str) -> Load {
        Load {
            what: "hello GET /",
            addr: addr.to_owned(),
            method: "GET",
            path: "/",
            headers: Vec::new(),
            body: None,
            expect: "200",
        }
    }

    /// A script's UAPI call with an API token (no session, no password hashing).
    pub(super) fn token_get(addr: &str, token: &str) -> Load {
        Load {
            what: "token GET",
            path: "/execute/TwoFactorAuth/get_user_configuration",
            headers: vec![("Authorization", format!("cpanel demo:{token}"))],
            ..Load::hello(addr)
        }
    }

    /// A login without two-factor: one password check and one session write, answered 302 with
    /// the cookie. oha follows no redirect, so each request is exactly that.
    pub(super) fn login(addr: &str, password: &str) -> Load {
        Load {
            what: "login POST",
            method: "POST",
            path: "/login",
            headers: vec![(
                "Content-Type",
                "application/x-www-form-urlencoded".to_owned(),
            )],
            body: Some(format!("user=demo&pass={}", form_escape(password))),
            expect: "302",
            ..Load::hello(addr)
        }
    }

    /// One request by hand first: a load of 401s would measure the wrong thing.
    fn check(&self) -> Result {
        let mut stream = TcpStream::connect(&self.addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let body = self.body.as_deref().unwrap_or("");
        let mut req = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.method,
            self.path,
            self.addr,
            body.len()
        );
        for (name, value) in &self.headers {
            req.push_str(&format!("{name}: {value}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        stream.write_all(req.as_bytes())?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        let answer = String::from_utf8_lossy(&answer);
        let status = answer.split_whitespace().nth(1).unwrap_or("none");
        if status == self.expect {
            Ok(())
        } else {
            let head: String = answer.chars().take(400).collect();
            Err(format!("{}: expected {}, got:\n{head}", self.what, self.expect).into())
        }
    }

    /// Checks, warms up, then measures with oha for [`MEASURE`].
    pub(super) fn measure(&self) -> Result<Figures> {
        self.check()?;
        // Only its exit status counts: a slow request (a login) may not finish in the warm-up,
        // and then oha has no percentiles to report.
        self.oha(WARM_UP)?;
        println!("bench: {} on {} for {MEASURE}", self.what, self.addr);
        Figures::from_oha(&self.oha(MEASURE)?, self)
    }

    /// oha's JSON report of `duration` under load.
    fn oha(&self, duration: &str) -> Result<Value> {
        let mut c = Command::new("oha");
        c.args(["--no-tui", "--output-format", "json", "--redirect", "0"])
            .args(["-c", CONNECTIONS, "-z", duration, "-m", self.method]);
        for (name, value) in &self.headers {
            c.arg("-H").arg(format!("{name}: {value}"));
        }
        if let Some(body) = &self.body {
            c.arg("-d").arg(body);
        }
        let out = c
            .arg(format!("http://{}{}", self.addr, self.path))
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("could not start oha: {e}"))?;
        if !out.status.success() {
            return Err(format!("oha failed ({})", out.status).into());
        }
        Ok(serde_json::from_slice(&out.stdout)?)
    }
}

/// What one oha run says.
pub(super) struct Figures {
    pub(super) per_sec: f64,
    pub(super) p50_ms: f64,
    pub(super) p99_ms: f64,
    /// Answers with another status than expected, and transport errors, with their counts.
    pub(super) odd: Vec<String>,
}

impl Figures {
    fn from_oha(json: &Value, load: &Load) -> Result<Figures> {
        let ms = |p: &str| {
            json["latencyPercentiles"][p]
                .as_f64()
                .map(|s| s * 1000.0)
                .ok_or_else(|| {
                    format!(
                        "{}: oha reports no {p} (did any request finish?)",
                        load.what
                    )
                })
        };
        let mut odd = Vec::new();
        let counts = |key: &str| json[key].as_object().cloned().unwrap_or_default();
        for (status, n) in counts("statusCodeDistribution") {
            if status != load.expect {
                odd.push(format!("{}: {n} answered {status}", load.what));
            }
        }
        for (error, n) in counts("errorDistribution") {
            // oha cuts the requests in flight when the time is up; that is not the server's.
            if error != "aborted due to deadline" {
                odd.push(format!("{}: {n} failed: {error}", load.what));
            }
        }
        Ok(Figures {
            per_sec: json["summary"]["requestsPerSec"]
                .as_f64()
                .ok_or("oha's JSON has no summary.requestsPerSec")?,
            p50_ms: ms("p50")?,
            p99_ms: ms("p99")?,
            odd,
        })
    }
}

/// `application/x-www-form-urlencoded` for a value: the generated passwords are URL-safe
/// base64, but a hand-set one may hold anything.
fn form_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_escaped() {
        assert_eq!(form_escape("aZ9-_"), "aZ9-_");
        assert_eq!(form_escape("a b&c=d+é"), "a+b%26c%3Dd%2B%C3%A9");
    }

    #[test]
    fn oha_json_gives_rate_latency_and_odd_answers() {
        let json: Value = serde_json::from_str(
            r#"{"summary":{"requestsPerSec":1234.5},
                "latencyPercentiles":{"p50":0.002,"p99":0.0105},
                "statusCodeDistribution":{"200":100,"401":3},
                "errorDistribution":{"aborted due to deadline":64,"connection reset":1}}"#,
        )
        .unwrap();
        let load = Load::hello("127.0.0.1:1");
        let f = Figures::from_oha(&json, &load).unwrap();
        assert_eq!(f.per_sec, 1234.5);
        assert_eq!((f.p50_ms, f.p99_ms), (2.0, 10.5));
        assert_eq!(
            f.odd,
            [
                "hello GET /: 3 answered 401",
                "hello GET /: 1 failed: connection reset"
            ]
        );
    }
}
