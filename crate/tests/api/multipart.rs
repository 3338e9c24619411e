//! `multipart/form-data` bodies: accepted like url-encoded ones, and a clear 400 when malformed.

use axum::http::{header, Method, StatusCode};
use serde_json::json;

use tfa_testkit::{code, take_recovery_codes, uapi_err, uapi_ok};

use crate::Trips;
use crate::{cpanel_auth, request, whm_auth, Env, SECRET, T0};

/// A `multipart/form-data` body with these text fields, as browsers and curl -F send it.
fn multipart(fields: &[(&str, &str)]) -> (String, String) {
    let boundary = "----tfa-test-boundary-7d41";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn multipart_form_posts_work_like_url_encoded_ones() {
    let env = Env::new();
    // UAPI set with a multipart body.
    let (ct, body) = multipart(&[("secret", SECRET), ("tfa_token", &code(SECRET, T0))]);
    let req = request(
        Method::POST,
        "/execute/TwoFactorAuth/set_user_configuration",
        &[
            (header::AUTHORIZATION, &cpanel_auth("bob")),
            (header::CONTENT_TYPE, &ct),
        ],
        body,
    );
    let r = env.send(req).await;
    assert_eq!(
        take_recovery_codes(&r.text).1,
        uapi_ok(json!({"tfa_configured": 1}))
    );
    assert_eq!(
        env.store.tfa_secret("bob").unwrap().as_deref(),
        Some(SECRET)
    );
    // WHM remove with a repeated `user` field, renamed as cPanel's legacy parser does.
    env.set_time(T0 + 60);
    env.enroll("carol", SECRET).await;
    let (ct, body) = multipart(&[("user", "bob"), ("user", "carol")]);
    let req = request(
        Method::POST,
        "/json-api/twofactorauth_remove_user_config?api.version=1",
        &[
            (header::AUTHORIZATION, &whm_auth("root")),
            (header::CONTENT_TYPE, &ct),
        ],
        body,
    );
    let r = env.send(req).await;
    let j = r.json();
    assert_eq!(j["metadata"]["result"], 1, "{}", r.text);
    let mut modified: Vec<&str> = j["data"]["users_modified"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    modified.sort();
    assert_eq!(modified, ["bob", "carol"]);
    assert_eq!(env.store.tfa_secret("bob").unwrap(), None);
    assert_eq!(env.store.tfa_secret("carol").unwrap(), None);
}

#[tokio::test]
async fn malformed_multipart_bodies_are_a_clear_400_and_change_nothing() {
    let env = Env::new();
    env.enroll("bob", SECRET).await;
    let before = env.snapshot();
    for (ct, body, want) in [
        (
            "multipart/form-data",
            "--x\r\n\r\n".to_owned(),
            "The multipart body has no boundary.",
        ),
        (
            "multipart/form-data; boundary=zzz",
            "this is not multipart at all".to_owned(),
            "The multipart body is malformed.",
        ),
        (
            "multipart/form-data; boundary=zzz",
            "--zzz\r\nContent-Disposition: form-data; name=\"secret\"\r\n\r\n\u{0}\u{ff}"
                .to_owned(),
            "The multipart body is malformed.",
        ),
    ] {
        let req = request(
            Method::POST,
            "/execute/TwoFactorAuth/remove_user_configuration",
            &[
                (header::AUTHORIZATION, &cpanel_auth("bob")),
                (header::CONTENT_TYPE, ct),
            ],
            body,
        );
        let r = env.send(req).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{ct}: {}", r.text);
        assert_eq!(r.text, uapi_err(want), "{ct}");
        assert_eq!(env.snapshot(), before, "{ct}");
    }
    // A field that is not UTF-8.
    let mut body = b"--zzz\r\nContent-Disposition: form-data; name=\"secret\"\r\n\r\n".to_vec();
    body.extend_from_slice(&[0xff, 0xfe]);
    body.extend_from_slice(b"\r\n--zzz--\r\n");
    let req = request(
        Method::POST,
        "/execute/TwoFactorAuth/remove_user_configuration",
        &[
            (header::AUTHORIZATION, &cpanel_auth("bob")),
            (header::CONTENT_TYPE, "multipart/form-data; boundary=zzz"),
        ],
        body,
    );
    let r = env.send(req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.text, uapi_err("The multipart body is not UTF-8 text."));
    assert_eq!(env.snapshot(), before);
}
