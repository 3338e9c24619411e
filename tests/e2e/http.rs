//! A blocking HTTP client for the server tests: no redirects followed, every status read as
//! an answer (not an error), and the reply as a [`tfa_testkit::Reply`].

use std::time::Duration;

use tfa_e2e::{now, Server};
use tfa_testkit::{basic, code, take_recovery_codes, Reply};

pub struct Http {
    agent: ureq::Agent,
}

impl Http {
    pub fn new() -> Http {
        Http {
            agent: ureq::AgentBuilder::new()
                .redirects(0)
                .timeout(Duration::from_secs(60))
                .build(),
        }
    }

    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        self.try_send(method, url, headers, body)
            .unwrap_or_else(|e| panic!("request to {url} failed: {e}"))
    }

    /// As [`Http::send`], with a failure to get any answer (a reset, a refused connection) as
    /// an error instead of a panic: for the tests that kill the server under load.
    pub fn try_send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Result<Reply, Box<ureq::Error>> {
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
            Err(e) => return Err(Box::new(e)),
        };
        let status = resp.status();
        let headers: Vec<(String, String)> = resp
            .headers_names()
            .into_iter()
            .filter_map(|n| resp.header(&n).map(|v| (n.clone(), v.to_owned())))
            .collect();
        let body = resp.into_string().unwrap_or_default();
        Ok(Reply::new(status, headers, body))
    }

    pub fn get(&self, url: &str, auth: &str) -> Reply {
        self.send("GET", url, &[("Authorization", auth)], None)
    }

    /// Enrolls `user` through UAPI with Basic auth, as the page does (generate, then set with
    /// the current code): the secret the server generated and the recovery codes it answered.
    pub fn enroll(&self, server: &Server, user: &str, pass: &str) -> (String, Vec<String>) {
        let auth = basic(user, pass);
        let r = self.get(
            &server.url("/execute/TwoFactorAuth/generate_user_configuration"),
            &auth,
        );
        let secret = r.data_str("secret");
        let r = self.get(
            &server.url(&format!(
                "/execute/TwoFactorAuth/set_user_configuration?secret={secret}&tfa_token={}",
                code(&secret, now())
            )),
            &auth,
        );
        assert_eq!(r.json()["status"], 1, "{}", r.text);
        (secret, take_recovery_codes(&r.text).0)
    }
}
