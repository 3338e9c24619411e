//! WHM API 1 `twofactorauth_*`: root's own config, listing and removing users' configs within
//! root's and a reseller's scope, issuers, and the policy switch.

use axum::http::StatusCode;
use serde_json::json;

use tfa_testkit::{code, take_recovery_codes, whm_meta, whm_ok};

use crate::Trips;
use crate::{set_query, Env, HOST, SECRET, T0};

#[tokio::test]
async fn whm_generate_and_set_tfa_config_for_root() {
    let env = Env::new();
    let r = env
        .whm("root", "twofactorauth_generate_tfa_config", "")
        .await;
    let secret = r.data_str("secret");
    assert_eq!(secret.len(), 16);
    let uri = format!("otpauth://totp/{HOST}:root?secret={secret}&issuer={HOST}");
    assert_eq!(
        r.text,
        whm_ok(
            "twofactorauth_generate_tfa_config",
            json!({"otpauth_str": uri, "secret": secret})
        )
    );
    let c = code(&secret, T0);
    let r = env
        .whm(
            "root",
            "twofactorauth_set_tfa_config",
            &set_query(&secret, &c),
        )
        .await;
    assert_eq!(
        take_recovery_codes(&r.text).1,
        whm_ok("twofactorauth_set_tfa_config", json!({"success": 1}))
    );
    assert_eq!(env.secret("root"), Some(secret.clone()));
    let r = env
        .whm(
            "root",
            "twofactorauth_set_tfa_config",
            &set_query(&secret, &c),
        )
        .await;
    assert_eq!(
        r.text,
        whm_meta(
            "twofactorauth_set_tfa_config",
            "The security code is invalid.",
            0
        )
    );
    let r = env
        .whm(
            "res",
            "twofactorauth_set_tfa_config",
            &format!("secret=ABC%3D&tfa_token={c}"),
        )
        .await;
    assert_eq!(
        r.text,
        whm_meta(
            "twofactorauth_set_tfa_config",
            "Missing or Invalid: “secret”",
            0
        )
    );
    let r = env
        .whm(
            "res",
            "twofactorauth_set_tfa_config",
            &format!("secret={SECRET}&tfa_token=12345"),
        )
        .await;
    assert_eq!(
        r.text,
        whm_meta(
            "twofactorauth_set_tfa_config",
            "The security code is invalid.",
            0
        )
    );
    assert_eq!(env.secret("res"), None);
}

#[tokio::test]
async fn whm_get_user_configs_scopes_root_and_reseller() {
    let env = Env::new();
    env.store.enroll("bob", SECRET, 1).unwrap();
    let r = env.whm("root", "twofactorauth_get_user_configs", "").await;
    assert_eq!(
        r.text,
        whm_ok(
            "twofactorauth_get_user_configs",
            json!({
                "bob": {"is_enabled": 1, "primary_domain": "bob.example"},
                "carol": {"is_enabled": 0, "primary_domain": "carol.example"},
                "res": {"is_enabled": 0, "primary_domain": "res.example"},
                "root": {"is_enabled": 0, "primary_domain": HOST},
            })
        )
    );
    let r = env.whm("res", "twofactorauth_get_user_configs", "").await;
    assert_eq!(
        r.text,
        whm_ok(
            "twofactorauth_get_user_configs",
            json!({"carol": {"is_enabled": 0, "primary_domain": "carol.example"}})
        )
    );
    let r = env
        .whm("res", "twofactorauth_get_user_configs", "user=res")
        .await;
    assert_eq!(r.json()["data"]["res"]["is_enabled"], 0);
    for who in ["bob", "root", "nobody"] {
        let r = env
            .whm(
                "res",
                "twofactorauth_get_user_configs",
                &format!("user={who}"),
            )
            .await;
        assert_eq!(
            r.text,
            whm_meta(
                "twofactorauth_get_user_configs",
                &format!("You do not have access to an account named “{who}”."),
                0
            )
        );
    }
    let r = env
        .whm("root", "twofactorauth_get_user_configs", "user=bob")
        .await;
    assert_eq!(
        r.text,
        whm_ok(
            "twofactorauth_get_user_configs",
            json!({"bob": {"is_enabled": 1, "primary_domain": "bob.example"}})
        )
    );
}

#[tokio::test]
async fn whm_remove_user_config_takes_numbered_and_repeated_users() {
    let env = Env::new();
    for u in ["root", "res", "bob", "carol"] {
        env.store.enroll(u, SECRET, 1).unwrap();
    }
    let r = env
        .whm(
            "root",
            "twofactorauth_remove_user_config",
            "user=bob&user=carol&user-7=nobody",
        )
        .await;
    assert_eq!(
        r.text,
        whm_ok(
            "twofactorauth_remove_user_config",
            json!({
                "failed": {"nobody": "You are not authorized to modify “nobody”: The user “nobody” does not exist."},
                "users_modified": ["bob", "carol"]
            })
        )
    );
    assert_eq!(env.secret("bob"), None);
    assert_eq!(env.secret("carol"), None);
    env.store.enroll("carol", SECRET, 2).unwrap();
    let r = env
        .whm(
            "res",
            "twofactorauth_remove_user_config",
            "user-0=carol&user-1=root&user-2=bob",
        )
        .await;
    assert_eq!(
        r.text,
        whm_ok(
            "twofactorauth_remove_user_config",
            json!({
                "failed": {
                    "bob": "You are not authorized to modify “bob”: You do not have access to an account named “bob”.",
                    "root": "You are not authorized to modify “root”: You do not have access to an account named “root”."
                },
                "users_modified": ["carol"]
            })
        )
    );
    assert!(env.secret("root").is_some());
    // Accounts without 2FA are still listed as modified.
    let r = env
        .whm("root", "twofactorauth_remove_user_config", "user=bob")
        .await;
    assert_eq!(
        r.text,
        whm_ok(
            "twofactorauth_remove_user_config",
            json!({"failed": {}, "users_modified": ["bob"]})
        )
    );
    let r = env
        .whm("root", "twofactorauth_remove_user_config", "")
        .await;
    assert_eq!(
        r.text,
        whm_meta("twofactorauth_remove_user_config", "No users specified.", 0)
    );
    let before = env.snapshot();
    for bad in ["..", "a%2Fb", "a%00b", &"x".repeat(256)] {
        let r = env
            .whm(
                "root",
                "twofactorauth_remove_user_config",
                &format!("user=res&user={bad}"),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.json()["metadata"]["result"], 0);
    }
    assert_eq!(env.snapshot(), before, "a bad name stops the whole call");
}

#[tokio::test]
async fn whm_issuers_resolve_reseller_owner_system_hostname() {
    let env = Env::new();
    let r = env.whm("res", "twofactorauth_get_issuer", "").await;
    assert_eq!(
        r.text,
        whm_ok(
            "twofactorauth_get_issuer",
            json!({"issuer": HOST, "system_wide_issuer": HOST})
        )
    );
    let r = env
        .whm("root", "twofactorauth_set_issuer", "issuer=%22My%20Host%22")
        .await;
    assert_eq!(r.text, whm_meta("twofactorauth_set_issuer", "OK", 1));
    let r = env
        .whm("res", "twofactorauth_set_issuer", "issuer=Res%20Brand")
        .await;
    assert_eq!(r.text, whm_meta("twofactorauth_set_issuer", "OK", 1));
    let r = env.whm("res", "twofactorauth_get_issuer", "").await;
    assert_eq!(
        r.text,
        whm_ok(
            "twofactorauth_get_issuer",
            json!({"issuer": "Res Brand", "system_wide_issuer": "My Host"})
        )
    );
    let carol = env
        .uapi("carol", "generate_user_configuration", "")
        .await
        .data_str("otpauth_str");
    assert!(
        carol.starts_with("otpauth://totp/Res%20Brand:carol?"),
        "{carol}"
    );
    assert!(carol.ends_with("&issuer=Res%20Brand"), "{carol}");
    let bob = env
        .uapi("bob", "generate_user_configuration", "")
        .await
        .data_str("otpauth_str");
    assert!(bob.starts_with("otpauth://totp/My%20Host:bob?"), "{bob}");
    let res = env
        .whm("res", "twofactorauth_generate_tfa_config", "")
        .await
        .data_str("otpauth_str");
    assert!(res.starts_with("otpauth://totp/Res%20Brand:res?"), "{res}");
    let root = env
        .whm("root", "twofactorauth_generate_tfa_config", "")
        .await
        .data_str("otpauth_str");
    assert!(root.starts_with("otpauth://totp/My%20Host:root?"), "{root}");
    let before = env.snapshot();
    let rule = "Failed to set issuer: The “issuer” parameter must be less than or equal to 32 characters in length. It can only use spaces and the following characters: a-z, A-Z, 0-9, ., _, -";
    for bad in ["a%2Cb", "a%40b", &"x".repeat(33), "caf%C3%A9"] {
        let r = env
            .whm("root", "twofactorauth_set_issuer", &format!("issuer={bad}"))
            .await;
        assert_eq!(
            r.text,
            whm_meta("twofactorauth_set_issuer", rule, 0),
            "{bad}"
        );
    }
    let r = env.whm("root", "twofactorauth_set_issuer", "").await;
    assert_eq!(r.json()["metadata"]["result"], 0);
    assert_eq!(env.snapshot(), before);
    // Empty clears: the reseller falls back to the system-wide issuer.
    let r = env.whm("res", "twofactorauth_set_issuer", "issuer=").await;
    assert_eq!(r.text, whm_meta("twofactorauth_set_issuer", "OK", 1));
    let r = env.whm("res", "twofactorauth_get_issuer", "").await;
    assert_eq!(r.json()["data"]["issuer"], "My Host");
}

#[tokio::test]
async fn whm_policy_enable_disable_status() {
    let env = Env::new();
    let status = |v: u8| whm_ok("twofactorauth_policy_status", json!({"is_enabled": v}));
    assert_eq!(
        env.whm("root", "twofactorauth_policy_status", "")
            .await
            .text,
        status(0)
    );
    let r = env.whm("root", "twofactorauth_enable_policy", "").await;
    assert_eq!(r.text, whm_meta("twofactorauth_enable_policy", "OK", 1));
    assert_eq!(
        env.whm("res", "twofactorauth_policy_status", "").await.text,
        status(1)
    );
    let r = env.whm("res", "twofactorauth_disable_policy", "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["metadata"]["result"], 0);
    assert_eq!(
        env.whm("root", "twofactorauth_policy_status", "")
            .await
            .text,
        status(1)
    );
    let r = env.whm("root", "twofactorauth_disable_policy", "").await;
    assert_eq!(r.text, whm_meta("twofactorauth_disable_policy", "OK", 1));
    assert_eq!(
        env.whm("root", "twofactorauth_policy_status", "")
            .await
            .text,
        status(0)
    );
}
