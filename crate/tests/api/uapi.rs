//! UAPI `TwoFactorAuth`: generate, set, get, remove and the team user's configuration, for
//! cPanel users and for webmail and team users acting on themselves; the code window, leading
//! zeros, replays, malformed tokens and invalid secrets.

use axum::http::StatusCode;
use serde_json::{json, Value};

use tfa_testkit::{code, take_recovery_codes, uapi_err, uapi_ok, INVALID_SET};

use crate::Trips;
use crate::{set_query, uapi_form, Env, HOST, SECRET, T0};

#[tokio::test]
async fn uapi_generate_returns_a_fresh_16_char_secret_and_cpanel_uri() {
    let env = Env::new();
    let before = env.snapshot();
    let r = env.uapi("bob", "generate_user_configuration", "").await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    let secret = r.data_str("secret");
    assert_eq!(secret.len(), 16);
    assert!(secret
        .chars()
        .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c)));
    let uri = format!("otpauth://totp/{HOST}:bob?secret={secret}&issuer={HOST}");
    assert_eq!(
        r.text,
        uapi_ok(json!({"otpauth_str": uri, "secret": secret}))
    );
    let again = env
        .uapi("bob", "generate_user_configuration", "")
        .await
        .json();
    assert_ne!(again["data"]["secret"], v["data"]["secret"]);
    assert_eq!(env.snapshot(), before, "generate stores nothing");
}

#[tokio::test]
async fn uapi_set_get_remove_round_trip_byte_for_byte() {
    let env = Env::new();
    let r = env.uapi("bob", "get_user_configuration", "").await;
    assert_eq!(r.text, uapi_ok(json!({"is_enabled": 0})));
    let c = code(SECRET, T0);
    let r = env.uapi_set("bob", SECRET, &c).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        take_recovery_codes(&r.text).1,
        uapi_ok(json!({"tfa_configured": 1}))
    );
    assert_eq!(env.secret("bob").as_deref(), Some(SECRET));
    let r = env.uapi("bob", "get_user_configuration", "").await;
    assert_eq!(r.text, uapi_ok(json!({"is_enabled": 1, "issuer": HOST})));
    let r = env.uapi("bob", "remove_user_configuration", "").await;
    assert_eq!(r.text, uapi_ok(json!({"tfa_removed": 1})));
    assert_eq!(env.secret("bob"), None);
    // cPanel reports success even when nothing was configured.
    let r = env.uapi("bob", "remove_user_configuration", "").await;
    assert_eq!(r.text, uapi_ok(json!({"tfa_removed": 1})));
    let events: Vec<String> = env
        .store
        .audit_events()
        .unwrap()
        .into_iter()
        .map(|e| e.event.to_string())
        .collect();
    assert_eq!(events, ["enable", "recovery_codes", "disable"]);
}

#[tokio::test]
async fn uapi_set_accepts_form_post_and_lowercase_secret_kept_as_given() {
    let env = Env::new();
    let lower = SECRET.to_lowercase();
    let body = set_query(&lower, &code(SECRET, T0));
    let r = env
        .send(uapi_form("bob", "set_user_configuration", body))
        .await;
    assert_eq!(
        take_recovery_codes(&r.text).1,
        uapi_ok(json!({"tfa_configured": 1}))
    );
    assert_eq!(env.secret("bob"), Some(lower));
}

#[tokio::test]
async fn uapi_set_refuses_wrong_code_and_leaves_store_unchanged() {
    let env = Env::new();
    let before = env.snapshot();
    let good = code(SECRET, T0);
    let wrong = if good == "000000" { "000001" } else { "000000" };
    let r = env.uapi_set("bob", SECRET, wrong).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text, uapi_err(INVALID_SET));
    // A code two steps old is outside cPanel's ±1 window.
    let old = code(SECRET, T0 - 60);
    let r = env.uapi_set("bob", SECRET, &old).await;
    assert_eq!(r.json()["errors"][0], INVALID_SET);
    assert_eq!(env.snapshot(), before);
}

#[tokio::test]
async fn uapi_set_accepts_one_step_either_side() {
    let env = Env::new();
    for (user, t) in [("bob", T0 - 30), ("carol", T0 + 30)] {
        let c = code(SECRET, t);
        let r = env.uapi_set(user, SECRET, &c).await;
        assert_eq!(
            take_recovery_codes(&r.text).1,
            uapi_ok(json!({"tfa_configured": 1})),
            "{user}"
        );
    }
}

#[tokio::test]
async fn uapi_set_accepts_codes_with_a_leading_zero() {
    let env = Env::new();
    let t = (0..100_000u64)
        .map(|i| T0 + i * 30)
        .find(|&t| code(SECRET, t).starts_with('0'))
        .unwrap();
    env.set_time(t);
    let c = code(SECRET, t);
    let r = env.uapi_set("bob", SECRET, &c).await;
    assert_eq!(
        take_recovery_codes(&r.text).1,
        uapi_ok(json!({"tfa_configured": 1}))
    );
}

#[tokio::test]
async fn uapi_set_refuses_a_replayed_code_with_a_hint() {
    let env = Env::new();
    let c = code(SECRET, T0);
    env.enroll("bob", SECRET).await;
    let r = env.uapi_set("bob", SECRET, &c).await;
    let v = r.json();
    assert_eq!(v["status"], 0);
    assert_eq!(v["data"], Value::Null);
    assert_eq!(v["errors"], json!([INVALID_SET]));
    assert!(v["warnings"][0]
        .as_str()
        .unwrap()
        .contains("already been used"));
    // An earlier step is a replay too.
    let earlier = code(SECRET, T0 - 30);
    let r = env.uapi_set("bob", SECRET, &earlier).await;
    assert_eq!(r.json()["errors"], json!([INVALID_SET]));
    // The next step is fine.
    env.set_time(T0 + 30);
    env.enroll("bob", SECRET).await;
}

#[tokio::test]
async fn uapi_set_refuses_malformed_tokens_without_counting_them() {
    let env = Env::new();
    let before = env.snapshot();
    let c = code(SECRET, T0);
    let bad = [
        c[..5].to_owned(),
        format!("{c}1"),
        format!("{}a", &c[..5]),
        format!("%20{}", &c[..5]),
        format!("{}%20{}", &c[..3], &c[3..]),
        "abcdef".to_owned(),
        String::new(),
    ];
    for token in &bad {
        let r = env.uapi_set("bob", SECRET, token).await;
        assert_eq!(r.status, StatusCode::OK, "{token}");
        assert_eq!(r.json()["errors"], json!([INVALID_SET]), "{token}");
    }
    let r = env
        .uapi("bob", "set_user_configuration", &format!("secret={SECRET}"))
        .await;
    assert_eq!(r.text, uapi_err(INVALID_SET));
    assert_eq!(env.snapshot(), before);
    // Eight malformed attempts did not lock anything: a good code still works.
    env.enroll("bob", SECRET).await;
}

#[tokio::test]
async fn uapi_set_refuses_invalid_secrets() {
    let env = Env::new();
    let before = env.snapshot();
    let c = code(SECRET, T0);
    let msg = "Failed to set user configuration: Missing or Invalid: “secret”";
    for q in [
        format!("secret=JBSWY3DPEHPK3PX%3D&tfa_token={c}"),
        format!("secret=JBSWY3DPEHPK3PX1&tfa_token={c}"),
        format!("secret=JBSWY3DP%20EHPK3PXP&tfa_token={c}"),
        format!("secret=&tfa_token={c}"),
        format!("tfa_token={c}"),
        format!("secret=A&tfa_token={c}"),
    ] {
        let r = env.uapi("bob", "set_user_configuration", &q).await;
        assert_eq!(r.status, StatusCode::OK, "{q}");
        assert_eq!(r.text, uapi_err(msg), "{q}");
    }
    assert_eq!(env.snapshot(), before);
}

#[tokio::test]
async fn uapi_webmail_and_team_users_act_on_themselves() {
    let env = Env::new();
    let r = env
        .uapi_basic("info@bob.example", "generate_user_configuration", "")
        .await;
    let uri = r.data_str("otpauth_str");
    assert!(
        uri.starts_with(&format!("otpauth://totp/{HOST}:info%40bob.example?secret=")),
        "{uri}"
    );
    let c = code(SECRET, T0);
    for who in ["info@bob.example", "alice@bob"] {
        let r = env
            .uapi_basic(who, "set_user_configuration", &set_query(SECRET, &c))
            .await;
        assert_eq!(
            take_recovery_codes(&r.text).1,
            uapi_ok(json!({"tfa_configured": 1})),
            "{who}"
        );
        let r = env.uapi_basic(who, "get_user_configuration", "").await;
        assert_eq!(r.text, uapi_ok(json!({"is_enabled": 1, "issuer": HOST})));
    }
    assert!(env.secret("info@bob.example").is_some());
    assert!(env.secret("alice@bob").is_some());
    assert_eq!(env.secret("bob"), None, "the owner is untouched");
    let r = env
        .uapi_basic("alice@bob", "remove_user_configuration", "")
        .await;
    assert_eq!(r.text, uapi_ok(json!({"tfa_removed": 1})));
    assert_eq!(env.secret("alice@bob"), None);
    assert!(env.secret("info@bob.example").is_some());
}

#[tokio::test]
async fn uapi_get_team_user_configuration() {
    let env = Env::new();
    let r = env
        .uapi("bob", "get_team_user_configuration", "team_user=alice")
        .await;
    assert_eq!(r.text, uapi_ok(json!({"is_enabled": 0})));
    env.store.enroll("alice@bob", SECRET, 1).unwrap();
    let r = env
        .uapi("bob", "get_team_user_configuration", "team_user=alice")
        .await;
    assert_eq!(r.text, uapi_ok(json!({"is_enabled": 1, "issuer": HOST})));
    let r = env
        .uapi("bob", "get_team_user_configuration", "team_user=zed")
        .await;
    assert_eq!(
        r.text,
        uapi_err(
            "Failed to get team user configuration: You do not own the team user account “zed”."
        )
    );
    // carol owns no team user alice.
    let r = env
        .uapi("carol", "get_team_user_configuration", "team_user=alice")
        .await;
    assert_eq!(r.json()["status"], 0);
    let r = env.uapi("bob", "get_team_user_configuration", "").await;
    assert_eq!(
        r.text,
        uapi_err("Failed to get team user configuration: Missing or Invalid: “team_user”")
    );
    let r = env
        .uapi("bob", "get_team_user_configuration", "team_user=..%2Fx")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["status"], 0);
}
