//! Logging in as cPanel's scripted clients do, against the real server: the redirect read
//! without following it (302 + `Location: /cpsessNNNNNNNNNN/`), `login_only=1` JSON, and the
//! two-step flow of a login that owes a security code (pending session, the `tfa_login_form`
//! page for every call, the code with the cookie, calls allowed), including sessions that
//! become pending when the identity enrolls under the policy or root turns the policy on.

use serde_json::Value;
use tfa_e2e::{add_account, data_dir, now, tfa_ok, Server, ServerOptions};
use tfa_testkit::{basic, code, form, Reply};

use crate::http::Http;

const FORM: &str = "application/x-www-form-urlencoded";

struct Site {
    server: Server,
    http: Http,
    _tmp: tempfile::TempDir,
}

fn site(accounts: &[(&str, &str)]) -> Site {
    let (tmp, data) = data_dir();
    for (user, pass) in accounts {
        add_account(&data, user, pass, &[]);
    }
    let server = Server::start(ServerOptions {
        data_dir: Some(data),
        ..ServerOptions::default()
    });
    Site {
        server,
        http: Http::new(),
        _tmp: tmp,
    }
}

impl Site {
    /// `POST /login` (`?login_only=1` when `json`) with these fields and headers.
    fn login(&self, json: bool, pairs: &[(&str, &str)], headers: &[(&str, &str)]) -> Reply {
        let path = if json {
            "/login/?login_only=1"
        } else {
            "/login"
        };
        let mut all = vec![("Content-Type", FORM)];
        all.extend_from_slice(headers);
        self.http
            .send("POST", &self.server.url(path), &all, Some(&form(pairs)))
    }

    /// A GET with the session cookie (and any other headers).
    fn get(&self, path: &str, cookie: &str, headers: &[(&str, &str)]) -> Reply {
        let mut all = vec![("Cookie", cookie)];
        all.extend_from_slice(headers);
        self.http.send("GET", &self.server.url(path), &all, None)
    }

    fn whmapi1(&self, function: &str) {
        let out = tfa_ok(
            &self.server.data_dir,
            &["whmapi1", "--output=json", function],
            None,
        );
        assert!(out.contains("\"result\":1"), "{out}");
    }

    /// Enrolls `user` with Basic auth (policy off); returns the secret.
    fn enroll(&self, user: &str, pass: &str) -> String {
        let auth = basic(user, pass);
        let r = self.http.get(
            &self
                .server
                .url("/execute/TwoFactorAuth/generate_user_configuration"),
            &auth,
        );
        let secret = r.data_str("secret");
        let r = self.http.get(
            &self.server.url(&format!(
                "/execute/TwoFactorAuth/set_user_configuration?secret={secret}&tfa_token={}",
                code(&secret, now())
            )),
            &auth,
        );
        assert_eq!(r.json()["status"], 1, "{}", r.text);
        secret
    }
}

/// The `name=value` of a reply's session cookie.
fn cookie_of(r: &Reply) -> String {
    let header = r.headers["set-cookie"].clone();
    assert!(
        header.contains("HttpOnly") && header.contains("SameSite=Strict"),
        "{header}"
    );
    header.split(';').next().unwrap().to_owned()
}

/// The `cpsessNNNNNNNNNN` of a `/cpsessNNNNNNNNNN/` path.
fn cpsess_of(path: &str) -> String {
    let cpsess = path.trim_matches('/').to_owned();
    assert!(
        cpsess.len() == 16
            && cpsess.starts_with("cpsess")
            && cpsess[6..].bytes().all(|b| b.is_ascii_digit()),
        "{path}"
    );
    cpsess
}

/// (cookie, cpsess) of a login answered with the redirect.
fn redirected(r: &Reply) -> (String, String) {
    assert_eq!(r.status, 302, "{}", r.text);
    (cookie_of(r), cpsess_of(&r.headers["location"]))
}

fn is_code_page(r: &Reply) -> bool {
    r.status == 200
        && r.headers["content-type"].starts_with("text/html")
        && r.text.contains("id=\"tfa_login_form\"")
        && r.text.contains("name=\"tfa_token\"")
        && !r.text.contains("name=\"pass\"")
}

fn config_path(cpsess: &str) -> String {
    format!("/{cpsess}/execute/TwoFactorAuth/get_user_configuration")
}

#[test]
fn a_login_redirect_is_read_without_following_it() {
    let s = site(&[("rita", "rita-password-1")]);
    let r = s.login(false, &[("user", "rita"), ("pass", "rita-password-1")], &[]);
    // 302 Found: a client does not follow it after a POST, so the token stays readable.
    let (cookie, cpsess) = redirected(&r);
    let r = s.get(&config_path(&cpsess), &cookie, &[]);
    assert_eq!(r.json()["data"]["is_enabled"], 0, "{}", r.text);
    s.server.stop();
}

#[test]
fn login_only_answers_json_in_cpanels_shape() {
    let s = site(&[("rita", "rita-password-1")]);
    let r = s.login(true, &[("user", "rita"), ("pass", "rita-password-1")], &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.headers["content-type"].starts_with("application/json"));
    let j = r.json();
    assert_eq!(j["status"], 1, "{j}");
    let token = j["security_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with('/'), "{token}");
    let cpsess = cpsess_of(&token);
    assert_eq!(j["redirect"], format!("{token}/"));
    let cookie = cookie_of(&r);
    let r = s.get(
        &format!("{token}/execute/TwoFactorAuth/get_user_configuration"),
        &cookie,
        &[],
    );
    assert_eq!(r.json()["status"], 1, "{}", r.text);
    assert!(!cpsess.is_empty());
    // A failure is JSON too, with cPanel's message token and the reason in words.
    let r = s.login(true, &[("user", "rita"), ("pass", "wrong-password")], &[]);
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(!r.headers.contains_key("set-cookie"));
    let j: Value = r.json();
    assert_eq!(j["status"], 0);
    assert_eq!(j["message"], "invalid_login");
    assert_eq!(j["reason"], "The login is invalid.");
    assert!(j.get("security_token").is_none());
    s.server.stop();
}

#[test]
fn a_pending_session_gets_the_code_page_until_its_code_comes() {
    let s = site(&[("lena", "lena-password-2"), ("otto", "otto-password-2")]);
    let secret = s.enroll("lena", "lena-password-2");
    let otto_secret = s.enroll("otto", "otto-password-2");
    s.whmapi1("twofactorauth_enable_policy");
    // Password only: a pending session and the security-code page, no redirect.
    let r = s.login(false, &[("user", "lena"), ("pass", "lena-password-2")], &[]);
    assert!(is_code_page(&r), "{} {}", r.status, r.text);
    assert!(!r.headers.contains_key("location"));
    assert!(r.headers["set-cookie"].contains("Max-Age=300"));
    let pending = cookie_of(&r);
    // Every call in it gets the page (HTML), whatever the path; JSON-only clients a refusal.
    for path in [
        "/execute/TwoFactorAuth/get_user_configuration",
        "/cpsess0123456789/execute/TwoFactorAuth/get_user_configuration",
        "/cpsess0123456789/json-api/twofactorauth_policy_status?api.version=1",
    ] {
        let r = s.get(path, &pending, &[]);
        assert!(is_code_page(&r), "{path}: {} {}", r.status, r.text);
    }
    let r = s.get(
        "/execute/TwoFactorAuth/get_user_configuration",
        &pending,
        &[("Accept", "application/json")],
    );
    assert_eq!(r.status, 401, "{}", r.text);
    let j = r.json();
    assert_eq!(j["status"], 0);
    assert!(
        j["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("Two-factor authentication is required"),
        "{j}"
    );
    // The login page shows the code step to the pending cookie.
    let r = s.get("/login", &pending, &[]);
    assert!(is_code_page(&r), "{}", r.text);
    // A wrong code: refused (and counted), the session still pending.
    let right = code(&secret, now() + 30);
    let wrong = if right == "123456" {
        "654321"
    } else {
        "123456"
    };
    let r = s.login(false, &[("tfa_token", wrong)], &[("Cookie", &pending)]);
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(r.text.contains("id=\"tfa_login_form\""));
    assert!(r.text.contains("The security code is invalid."));
    let audit = tfa_ok(&s.server.data_dir, &["audit"], None);
    assert!(audit.contains("failed_code"), "{audit}");
    // The right code (the enrollment's step is used up: the next one) finishes the login.
    let r = s.login(false, &[("tfa_token", &right)], &[("Cookie", &pending)]);
    let (cookie, cpsess) = redirected(&r);
    assert_ne!(cookie, pending, "a new cookie once the code is given");
    let r = s.get(&config_path(&cpsess), &cookie, &[]);
    assert_eq!(r.json()["data"]["is_enabled"], 1, "{}", r.text);
    // The pending cookie opens nothing any more.
    let r = s.get(&config_path(&cpsess), &pending, &[]);
    assert_eq!(r.status, 401, "{}", r.text);
    // Replaying that code in one step is refused, and the hint says when the next is due.
    let r = s.login(
        true,
        &[
            ("user", "lena"),
            ("pass", "lena-password-2"),
            ("tfa_token", &right),
        ],
        &[],
    );
    assert_eq!(r.status, 401, "{}", r.text);
    let j = r.json();
    assert_eq!(j["message"], "invalid_tfa_token");
    let hint = j["warnings"][0].as_str().unwrap().to_owned();
    let due: u64 = hint
        .split("due in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{hint}"));
    assert!((1..=60).contains(&due), "{hint}");

    // The same in JSON (login_only=1), for otto.
    let r = s.login(true, &[("user", "otto"), ("pass", "otto-password-2")], &[]);
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.json()["message"], "tfa_required");
    let pending = cookie_of(&r);
    let r = s.login(
        true,
        &[("tfa_token", &code(&otto_secret, now() + 30))],
        &[("Cookie", &pending)],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let j = r.json();
    assert_eq!(j["status"], 1, "{j}");
    let token = j["security_token"].as_str().unwrap().to_owned();
    let r = s.get(
        &format!("{token}/execute/TwoFactorAuth/get_user_configuration"),
        &cookie_of(&r),
        &[],
    );
    assert_eq!(r.json()["data"]["is_enabled"], 1, "{}", r.text);
    // A code without a pending session: log in again.
    let r = s.login(
        true,
        &[("tfa_token", "123456")],
        &[("Cookie", "cpsession=gone")],
    );
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.json()["message"], "expired_session");
    s.server.stop();
}

#[test]
fn enrolling_under_the_policy_makes_the_session_pending() {
    let s = site(&[("ines", "ines-password-3")]);
    s.whmapi1("twofactorauth_enable_policy");
    // No 2FA yet: the password alone opens a session.
    let r = s.login(false, &[("user", "ines"), ("pass", "ines-password-3")], &[]);
    let (cookie, cpsess) = redirected(&r);
    let base = format!("/{cpsess}/execute/TwoFactorAuth");
    let r = s.get(&format!("{base}/generate_user_configuration"), &cookie, &[]);
    let secret = r.data_str("secret");
    let r = s.get(
        &format!(
            "{base}/set_user_configuration?secret={secret}&tfa_token={}",
            code(&secret, now())
        ),
        &cookie,
        &[],
    );
    assert_eq!(r.json()["status"], 1, "{}", r.text);
    // The session never gave a code at login: it is pending from now on.
    let r = s.get(&config_path(&cpsess), &cookie, &[]);
    assert!(is_code_page(&r), "{} {}", r.status, r.text);
    let r = s.login(
        false,
        &[("tfa_token", &code(&secret, now() + 30))],
        &[("Cookie", &cookie)],
    );
    let (cookie, cpsess) = redirected(&r);
    let r = s.get(&config_path(&cpsess), &cookie, &[]);
    assert_eq!(r.json()["data"]["is_enabled"], 1, "{}", r.text);
    s.server.stop();
}

#[test]
fn turning_the_policy_on_makes_sessions_without_a_code_pending() {
    let s = site(&[("hugo", "hugo-password-4"), ("vera", "vera-password-4")]);
    let secret = s.enroll("hugo", "hugo-password-4");
    // Policy off: the password alone opens both sessions.
    let (hugo, hugo_cpsess) =
        redirected(&s.login(false, &[("user", "hugo"), ("pass", "hugo-password-4")], &[]));
    let (vera, vera_cpsess) =
        redirected(&s.login(false, &[("user", "vera"), ("pass", "vera-password-4")], &[]));
    let r = s.get(&config_path(&hugo_cpsess), &hugo, &[]);
    assert_eq!(r.json()["data"]["is_enabled"], 1, "{}", r.text);
    s.whmapi1("twofactorauth_enable_policy");
    // hugo has 2FA and gave no code: pending. vera has no 2FA: nothing owed.
    let r = s.get(&config_path(&hugo_cpsess), &hugo, &[]);
    assert!(is_code_page(&r), "{} {}", r.status, r.text);
    let r = s.get(&config_path(&vera_cpsess), &vera, &[]);
    assert_eq!(r.json()["data"]["is_enabled"], 0, "{}", r.text);
    let r = s.login(
        false,
        &[("tfa_token", &code(&secret, now() + 30))],
        &[("Cookie", &hugo)],
    );
    let (hugo, hugo_cpsess) = redirected(&r);
    let r = s.get(&config_path(&hugo_cpsess), &hugo, &[]);
    assert_eq!(r.json()["data"]["is_enabled"], 1, "{}", r.text);
    s.server.stop();
}
