//! Recovery codes at the real server: the set an enrollment answers, a new set behind a
//! security code that voids the old one, a login with a recovery code once and never twice
//! (the page says how many are left), the count for the administrator through the `tfa`
//! CLI, and the uses in the audit log. The log shows no code.

use tfa_e2e::{add_account, assert_nothing_leaked, data_dir, now, tfa_ok, Server, ServerOptions};
use tfa_testkit::{basic, code, form, take_recovery_codes};

use crate::http::Http;

#[test]
fn recovery_codes_log_in_once_and_a_new_set_voids_the_old() {
    let (_t, data) = data_dir();
    add_account(&data, "lin", "lin-password-3", &[]);
    let server = Server::start(ServerOptions::with_data_dir(&data));
    let http = Http::new();
    let auth = basic("lin", "lin-password-3");
    let (secret, first) = http.enroll(&server, "lin", "lin-password-3");
    // A new set, behind a security code (the next step's: the enrollment used this one).
    let r = http.send(
        "POST",
        &server.url("/execute/TfaRecoveryCodes/regenerate"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(&form(&[("tfa_token", &code(&secret, now() + 30))])),
    );
    let (second, _) = take_recovery_codes(&r.text);
    assert!(second.iter().all(|c| !first.contains(c)));
    tfa_ok(&data, &["whmapi1", "twofactorauth_enable_policy"], None);

    let login = |tfa_token: &str| {
        http.send(
            "POST",
            &server.url("/login"),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(&form(&[
                ("user", "lin"),
                ("pass", "lin-password-3"),
                ("tfa_token", tfa_token),
            ])),
        )
    };
    let r = login(&first[0]);
    assert_eq!(r.status, 401, "the old set is void: {}", r.text);
    let r = login(&second[0]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.contains("Recovery code accepted")
            && r.text.contains("You have 9 recovery codes left."),
        "{}",
        r.text
    );
    let cookie = r.headers["set-cookie"]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let start = r.text.find("href=\"/cpsess").unwrap() + "href=\"".len();
    let location = &r.text[start..start + "/cpsess0123456789/".len()];
    let r = http.send(
        "GET",
        &server.url(&format!("{location}execute/TfaRecoveryCodes/get_status")),
        &[("Cookie", &cookie)],
        None,
    );
    assert_eq!(r.json()["data"]["remaining"], 9, "{}", r.text);
    let r = login(&second[0]);
    assert_eq!(r.status, 401, "never twice: {}", r.text);
    assert!(r.text.contains("The security code is invalid."));

    // The administrator sees the count, never a code.
    let out = tfa_ok(
        &data,
        &[
            "whmapi1",
            "--output=json",
            "tfa_recovery_codes_remaining",
            "user=lin",
        ],
        None,
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["data"]["lin"]["primary_account"]["remaining"], 9, "{out}");
    let audit = tfa_ok(&data, &["audit"], None);
    assert!(audit.contains("recovery_code_used"), "{audit}");
    let stopped = server.stop();
    let mut never: Vec<String> = first.iter().chain(&second).cloned().collect();
    never.extend(never.clone().iter().map(|c| c.replace('-', "")));
    never.push(secret);
    assert_nothing_leaked(&stopped.log, &never);
    assert_nothing_leaked(&audit, &never);
}
