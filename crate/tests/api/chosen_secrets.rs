//! Secrets a client chooses have 16 to 128 base32 characters (80 to 640 bits), at every door:
//! UAPI `set_user_configuration`, WHM `twofactorauth_set_tfa_config` and
//! `twofactorauth_set_tfa_config_for_user`, and the cPanel import. A refusal comes with a
//! matching code too, so it is the size that is refused; nothing is written or counted.

use axum::http::{header, Method, StatusCode};
use serde_json::json;

use tfa::store::cpanel;
use tfa_testkit::{code, form, uapi_err, whm_meta};

use crate::{request, set_query, uapi_form, whm_auth, whm_set_for_user, Env, FORM, SECRET, T0};

/// The reason a chosen secret of `len` characters gets.
fn size_reason(len: usize) -> String {
    format!("The “secret” must have 16 to 128 base32 characters (80 to 640 bits); it has {len}.")
}

/// Base32 text of `len` characters that is not all one letter.
fn secret_of(len: usize) -> String {
    "JBSWY3DPEHPK3PXP".chars().cycle().take(len).collect()
}

#[tokio::test]
async fn uapi_and_whm_refuse_secrets_outside_16_to_128_characters() {
    let env = Env::new();
    let before = env.snapshot();
    for secret in [
        "AA".to_owned(),
        secret_of(8),
        secret_of(15),
        secret_of(129),
        secret_of(136),
        secret_of(40_000),
    ] {
        let len = secret.len();
        let c = code(&secret, T0);
        // UAPI, as a form body: 40,000 characters do not fit a sensible URL.
        let r = env
            .send(uapi_form(
                "bob",
                "set_user_configuration",
                form(&[("secret", &secret), ("tfa_token", &c)]),
            ))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{len}");
        assert_eq!(
            r.text,
            uapi_err(&format!(
                "Failed to set user configuration: {}",
                size_reason(len)
            )),
            "{len}"
        );
        let r = env
            .send(request(
                Method::POST,
                "/json-api/twofactorauth_set_tfa_config?api.version=1",
                &[
                    (header::AUTHORIZATION, &whm_auth("res")),
                    (header::CONTENT_TYPE, FORM),
                ],
                form(&[("secret", &secret), ("tfa_token", &c)]),
            ))
            .await;
        assert_eq!(
            r.text,
            whm_meta("twofactorauth_set_tfa_config", &size_reason(len), 0),
            "{len}"
        );
    }
    // Not base32 at all is still cPanel's "Missing or Invalid".
    let r = env
        .uapi(
            "bob",
            "set_user_configuration",
            &set_query("A", &code(SECRET, T0)),
        )
        .await;
    assert_eq!(
        r.text,
        uapi_err("Failed to set user configuration: Missing or Invalid: “secret”")
    );
    assert_eq!(env.snapshot(), before);
    // Nothing was counted as a wrong code, and the bounds themselves are accepted.
    for (user, len) in [("bob", 16), ("carol", 128)] {
        env.enroll(user, &secret_of(len)).await;
    }
    let secret = secret_of(24);
    let r = env
        .whm(
            "res",
            "twofactorauth_set_tfa_config",
            &set_query(&secret, &code(&secret, T0)),
        )
        .await;
    assert_eq!(r.json()["metadata"]["result"], 1, "{}", r.text);
    assert_eq!(env.secret("res"), Some(secret));
}

#[tokio::test]
async fn set_tfa_config_for_user_refuses_secrets_outside_16_to_128_characters() {
    let env = Env::new();
    let before = env.snapshot();
    let cmd = "twofactorauth_set_tfa_config_for_user";
    let bounds = "must have 16 to 128 base32 characters (80 to 640 bits)";
    for (body, what, len) in [
        (
            json!({"bob": {"primary_account": {"secret": "AA"}}}),
            "primary_account",
            2,
        ),
        (
            json!({"bob": {
                "primary_account": {"secret": SECRET},
                "team": {"alice@bob": {"secret": secret_of(200)}}
            }}),
            "alice@bob",
            200,
        ),
    ] {
        let r = env.send(whm_set_for_user("root", body.to_string())).await;
        let reason = format!(
            "Invalid data detected in input arguments:  The ‘secret’ for {what} {bounds}; it has {len}"
        );
        assert_eq!(r.text, whm_meta(cmd, &reason, 0), "{body}");
    }
    assert_eq!(env.snapshot(), before);
}

#[tokio::test]
async fn import_refuses_a_file_with_a_secret_outside_16_to_128_characters() {
    let env = Env::new();
    let before = env.snapshot();
    let dir = tempfile::tempdir().unwrap();
    for (bad, len) in [("AA".to_owned(), 2), (secret_of(129), 129)] {
        let file = json!({
            "bob": {"secret": "NEWSECRETAAAAAAA"},
            "carol": {"secret": bad},
        });
        std::fs::write(dir.path().join(cpanel::TFA_FILE), file.to_string()).unwrap();
        let e = cpanel::import(&env.store, dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("“carol”")
                && e.contains(&format!("{len} characters"))
                && e.contains("16 to 128")
                && e.contains("nothing was imported"),
            "{e}"
        );
        assert_eq!(env.snapshot(), before);
    }
}
