//! Hostile browsers and racing clients against the real server (issue 8, points 4 to 7 and
//! 12): parallel wrong codes cannot get past the limit, a double submit locks nobody out, the
//! login names no clock offset, HEAD never acts on the API, and the page, the login form and
//! session calls hold against other sites (Content-Security-Policy, Origin).

use std::sync::Barrier;

use tfa_e2e::{
    add_account, create_token, data_dir, now, set_password, tfa_ok, workspace_root, Server,
    ServerOptions,
};
use tfa_testkit::{assert_invalid_code_without_offset, basic, code, form, Reply};

use crate::http::Http;

/// The policy every answer carries.
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'";

/// A server with `alice` (password and token) and root (password and token).
struct Site {
    server: Server,
    alice: String,
    root: String,
    _tmp: tempfile::TempDir,
}

const ALICE_PASS: &str = "alice-pass-8c1d2e";
const ROOT_PASS: &str = "root-pass-8c1d2e";

fn site(www: Option<std::path::PathBuf>) -> Site {
    let (tmp, data) = data_dir();
    add_account(&data, "alice", ALICE_PASS, &["--domain", "alice.test"]);
    set_password(&data, "root", ROOT_PASS);
    let alice = format!("cpanel alice:{}", create_token(&data, "alice"));
    let root = format!("whm root:{}", create_token(&data, "root"));
    let server = Server::start(ServerOptions {
        data_dir: Some(data),
        www,
        ..ServerOptions::default()
    });
    Site {
        server,
        alice,
        root,
        _tmp: tmp,
    }
}

impl Site {
    fn whmapi1(&self, function: &str) -> serde_json::Value {
        let out = tfa_ok(
            &self.server.data_dir,
            &["whmapi1", "--output=json", function],
            None,
        );
        serde_json::from_str(&out).unwrap()
    }

    fn policy_on(&self) -> bool {
        self.whmapi1("twofactorauth_policy_status")["data"]["is_enabled"] == 1
    }

    /// `tfa audit` rows of this kind.
    fn audit_count(&self, kind: &str) -> usize {
        tfa_ok(&self.server.data_dir, &["audit"], None)
            .lines()
            .filter(|line| line.split('\t').nth(1) == Some(kind))
            .count()
    }

    /// Enrolls alice with a new secret through her token; returns the secret.
    fn enroll_alice(&self, http: &Http) -> String {
        let r = http.get(
            &self
                .server
                .url("/execute/TwoFactorAuth/generate_user_configuration"),
            &self.alice,
        );
        let secret = r.data_str("secret");
        let r = self.set_alice(http, &secret, &code(&secret, now()));
        assert_eq!(r.json()["status"], 1, "{}", r.text);
        secret
    }

    fn set_alice(&self, http: &Http, secret: &str, tfa_token: &str) -> Reply {
        http.get(
            &self.server.url(&format!(
                "/execute/TwoFactorAuth/set_user_configuration?secret={secret}&tfa_token={tfa_token}"
            )),
            &self.alice,
        )
    }

    fn login(
        &self,
        http: &Http,
        user: &str,
        pass: &str,
        tfa_token: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut all = vec![("Content-Type", "application/x-www-form-urlencoded")];
        all.extend_from_slice(headers);
        http.send(
            "POST",
            &self.server.url("/login"),
            &all,
            Some(&form(&[
                ("user", user),
                ("pass", pass),
                ("tfa_token", tfa_token),
            ])),
        )
    }
}

/// `n` copies of `call` at once (one thread each, released together); their replies.
fn at_once(n: usize, call: impl Fn() -> Reply + Sync) -> Vec<Reply> {
    let barrier = Barrier::new(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    call()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Waits, if needed, until the current 30 s step has at least 8 s left, so that a code
/// computed now is judged by the server in the same step.
fn early_in_a_step() {
    let left = 30 - now() % 30;
    if left < 8 {
        std::thread::sleep(std::time::Duration::from_secs(left + 1));
    }
}

/// A code of `secret` that is not valid now or in the neighbouring steps.
fn wrong_code(secret: &str) -> &'static str {
    let t = now();
    let near: Vec<String> = (0..5).map(|i| code(secret, t + i * 30 - 60)).collect();
    ["111111", "222222", "333333", "444444", "555555", "666666"]
        .into_iter()
        .find(|c| !near.iter().any(|n| n == c))
        .unwrap()
}

#[test]
fn sixty_four_parallel_wrong_codes_get_five_evaluated_and_the_rest_refused() {
    let site = site(None);
    let http = Http::new();
    let r = http.get(
        &site
            .server
            .url("/execute/TwoFactorAuth/generate_user_configuration"),
        &site.alice,
    );
    let secret = r.data_str("secret");
    let wrong = wrong_code(&secret);
    let replies = at_once(64, || site.set_alice(&http, &secret, wrong));
    let evaluated = replies.iter().filter(|r| r.status == 200).count();
    let locked: Vec<_> = replies.iter().filter(|r| r.status == 429).collect();
    assert_eq!(evaluated, 5, "wrong codes evaluated, against a limit of 5");
    assert_eq!(locked.len(), 59, "the rest are refused as locked");
    for r in &replies {
        if r.status == 200 {
            assert_eq!(r.json()["status"], 0, "{}", r.text);
        } else {
            assert!(
                r.text.contains("Too many invalid security codes."),
                "{}",
                r.text
            );
        }
    }
    assert_eq!(site.audit_count("failed_code"), 5);
    assert_eq!(site.audit_count("lockout"), 1);
    // Even the right code waits for the lockout to end.
    let r = site.set_alice(&http, &secret, &code(&secret, now()));
    assert_eq!(r.status, 429, "{}", r.text);
    site.server.stop();
}

#[test]
fn a_code_submitted_thirty_two_times_at_once_is_one_success_and_no_lockout() {
    let site = site(None);
    let http = Http::new();
    let r = http.get(
        &site
            .server
            .url("/execute/TwoFactorAuth/generate_user_configuration"),
        &site.alice,
    );
    let secret = r.data_str("secret");
    let c = code(&secret, now());
    let replies = at_once(32, || site.set_alice(&http, &secret, &c));
    let ok = replies.iter().filter(|r| r.json()["status"] == 1).count();
    assert_eq!(ok, 1, "exactly one enrollment");
    for r in replies.iter().filter(|r| r.json()["status"] != 1) {
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.text.contains("already been used"), "a replay: {}", r.text);
    }
    assert_eq!(
        site.audit_count("failed_code"),
        0,
        "replays are not guesses"
    );
    assert_eq!(site.audit_count("lockout"), 0);
    // Not locked out: a login form sent twice with the next step's code logs in once...
    site.whmapi1("twofactorauth_enable_policy");
    let next = code(&secret, now() + 30);
    let replies = at_once(2, || site.login(&http, "alice", ALICE_PASS, &next, &[]));
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert!(
        statuses.contains(&302) && statuses.iter().filter(|s| **s == 302).count() == 1,
        "{statuses:?}"
    );
    let refused = replies.iter().find(|r| r.status != 302).unwrap();
    assert_eq!(refused.status, 401);
    assert!(
        refused.text.contains("already been used"),
        "{}",
        refused.text
    );
    // ...and still nothing counted.
    assert_eq!(site.audit_count("failed_code"), 0);
    assert_eq!(site.audit_count("lockout"), 0);
    site.server.stop();
}

#[test]
fn the_login_names_no_clock_offset_but_enrollment_does() {
    let site = site(None);
    let http = Http::new();
    let secret = site.enroll_alice(&http);
    site.whmapi1("twofactorauth_enable_policy");
    early_in_a_step();
    let ahead = code(&secret, now() + 60);
    let r = site.login(&http, "alice", ALICE_PASS, &ahead, &[]);
    assert_eq!(r.status, 401, "{}", r.text);
    assert_invalid_code_without_offset(&r.text, "the login");
    let r = http.send(
        "GET",
        &site
            .server
            .url("/execute/TwoFactorAuth/get_user_configuration"),
        &[
            ("Authorization", &basic("alice", ALICE_PASS)),
            ("X-CPANEL-OTP", &ahead),
        ],
        None,
    );
    assert_eq!(r.status, 401, "{}", r.text);
    assert_invalid_code_without_offset(&r.text, "X-CPANEL-OTP");
    // Enrollment: the caller supplied the secret, so the offset is worth saying.
    let r = site.set_alice(&http, &secret, &code(&secret, now() + 180));
    assert_eq!(r.json()["status"], 0, "{}", r.text);
    let hint = r.json()["warnings"][0].as_str().unwrap().to_owned();
    assert!(
        hint.starts_with("The code matches a time about 3 minutes ahead of the current time."),
        "{hint}"
    );
    site.server.stop();
}

#[test]
fn head_never_acts_on_an_api_endpoint() {
    let site = site(None);
    let http = Http::new();
    site.enroll_alice(&http);
    site.whmapi1("twofactorauth_enable_policy");
    // root has no 2FA, so its password alone opens a session.
    let r = site.login(&http, "root", ROOT_PASS, "", &[]);
    assert_eq!(r.status, 302, "{}", r.text);
    let cpsess = r.headers["location"].trim_matches('/').to_owned();
    let cookie = r.cookie();
    let session = format!("/{cpsess}/json-api/twofactorauth_disable_policy?api.version=1");
    let calls: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/json-api/twofactorauth_disable_policy?api.version=1".into(),
            vec![("Authorization", site.root.as_str())],
        ),
        (
            "/xml-api/twofactorauth_disable_policy?api.version=1".into(),
            vec![("Authorization", site.root.as_str())],
        ),
        (session, vec![("Cookie", cookie.as_str())]),
        (
            "/execute/TwoFactorAuth/remove_user_configuration".into(),
            vec![("Authorization", site.alice.as_str())],
        ),
        (
            "/json-api/twofactorauth_remove_user_config?api.version=1&user=alice".into(),
            vec![("Authorization", site.root.as_str())],
        ),
        // No credentials at all: refused for the method first.
        (
            "/json-api/twofactorauth_disable_policy?api.version=1".into(),
            vec![],
        ),
    ];
    for (path, headers) in &calls {
        let r = http.send("HEAD", &site.server.url(path), headers, None);
        assert_eq!(r.status, 405, "HEAD {path}");
        assert_eq!(r.headers["allow"], "GET, POST", "HEAD {path}");
    }
    assert!(site.policy_on(), "HEAD left the policy on");
    let configs = site.whmapi1("twofactorauth_get_user_configs");
    assert_eq!(configs["data"]["alice"]["is_enabled"], 1, "{configs}");
    // GET with the same session does act.
    let r = http.send("GET", &site.server.url(&calls[2].0), &calls[2].1, None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!site.policy_on());
    site.server.stop();
}

#[test]
fn the_page_and_login_carry_a_strict_csp_and_other_sites_are_refused() {
    let site = site(Some(workspace_root().join("www")));
    let http = Http::new();
    let origin = site.server.base_url.clone();
    // The policy on the form, its stylesheet, the page's files and API answers.
    for path in [
        "/login",
        "/login.css",
        "/",
        "/index.html",
        "/app.js",
        "/page.css",
        "/nothing",
    ] {
        let r = http.send("GET", &site.server.url(path), &[], None);
        assert_eq!(r.headers["content-security-policy"], CSP, "{path}");
        assert_eq!(r.headers["x-frame-options"], "SAMEORIGIN", "{path}");
    }
    let form_page = http.send("GET", &site.server.url("/login"), &[], None);
    assert!(!form_page.text.contains("<script") && !form_page.text.contains("<style"));
    for page in ["/index.html", "/embed.html"] {
        let r = http.send("GET", &site.server.url(page), &[], None);
        assert_eq!(r.status, 200, "{page}");
        assert!(
            !r.text.contains("<style") && !r.text.contains(" style="),
            "{page} needs inline style"
        );
        let inline_script = r
            .text
            .split("<script")
            .skip(1)
            .any(|tag| !tag.split('>').next().unwrap_or("").contains("src="));
        assert!(!inline_script, "{page} has an inline script");
    }
    let r = http.send(
        "GET",
        &site
            .server
            .url("/execute/TwoFactorAuth/get_user_configuration"),
        &[("Authorization", &site.alice)],
        None,
    );
    assert_eq!(r.headers["content-security-policy"], CSP);

    // A login posted from another site's page starts no session.
    for headers in [
        vec![("Origin", "http://evil.example")],
        vec![("Origin", "null")],
        vec![("Sec-Fetch-Site", "cross-site")],
    ] {
        let r = site.login(&http, "alice", ALICE_PASS, "", &headers);
        assert_eq!(r.status, 403, "{headers:?}");
        assert!(!r.headers.contains_key("set-cookie"), "{headers:?}");
        assert!(
            r.text
                .contains("Login refused: the form was sent from another site."),
            "{}",
            r.text
        );
    }
    assert_eq!(site.audit_count("login"), 0);
    // The server's own form logs in.
    let r = site.login(
        &http,
        "alice",
        ALICE_PASS,
        "",
        &[("Origin", &origin), ("Sec-Fetch-Site", "same-origin")],
    );
    assert_eq!(r.status, 302, "{}", r.text);
    let cpsess = r.headers["location"].trim_matches('/').to_owned();
    let cookie = r.cookie();

    // A session-cookie write from another origin is refused; from the page's own, it acts.
    let secret = {
        let r = http.send(
            "POST",
            &site.server.url(&format!(
                "/{cpsess}/execute/TwoFactorAuth/generate_user_configuration"
            )),
            &[("Cookie", &cookie), ("Origin", &origin)],
            None,
        );
        r.data_str("secret")
    };
    let set = |origin: &str| {
        http.send(
            "POST",
            &site.server.url(&format!(
                "/{cpsess}/execute/TwoFactorAuth/set_user_configuration"
            )),
            &[
                ("Cookie", &cookie),
                ("Origin", origin),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            Some(&form(&[
                ("secret", &secret),
                ("tfa_token", &code(&secret, now())),
            ])),
        )
    };
    let r = set("http://evil.example");
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.json()["status"], 0);
    assert_eq!(
        r.json()["errors"][0],
        "Permission denied: this request came from another site (its Origin header is not this server's), so the session cookie is not honoured."
    );
    let configs = site.whmapi1("twofactorauth_get_user_configs");
    assert_eq!(configs["data"]["alice"]["is_enabled"], 0, "{configs}");
    let r = set(&origin);
    assert_eq!(r.json()["status"], 1, "{}", r.text);
    site.server.stop();
}
