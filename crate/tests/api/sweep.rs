//! The bad-input sweep: every endpoint with every shape of bad input.

use tfa_testkit::code;

use crate::{uapi_form, whm_set_for_user, Env, SECRET, T0};

/// Every endpoint, with every shape of bad input: never a 5xx, always a cPanel envelope, and the
/// store (2FA configs, issuers, policy, accounts) never changes.
#[tokio::test]
async fn bad_input_sweep_every_endpoint_never_5xx_and_leaves_the_store_alone() {
    let env = Env::new();
    env.enroll("bob", SECRET).await;
    env.set_time(T0 + 90);
    env.enroll("carol", "GEZDGNBVGY3TQOJQ").await;
    let wrong = "123456";
    for dt in [0, 30, 60, 90, 120] {
        assert_ne!(code(SECRET, T0 + dt), wrong, "pick another wrong code");
    }
    let long = "x".repeat(256);
    let bad_params: Vec<String> = vec![
        String::new(),
        "secret=&tfa_token=".into(),
        format!("secret=JBSWY3DPEHPK3PX%3D&tfa_token={wrong}"),
        format!("secret=JBSW1Y3D&tfa_token={wrong}"),
        format!("secret=%00&tfa_token={wrong}"),
        format!("secret={SECRET}&tfa_token=12345"),
        format!("secret={SECRET}&tfa_token=1234567"),
        format!("secret={SECRET}&tfa_token=12a456"),
        format!("secret={SECRET}&tfa_token=123%20456"),
        format!("secret={SECRET}&tfa_token=%20123456"),
        "user=..".into(),
        "user=a%2Fb".into(),
        "user=a%00b".into(),
        format!("user={long}"),
        "user=nobody".into(),
        "user=&user-1=".into(),
        "team_user=..".into(),
        "team_user=a%00b".into(),
        format!("team_user={long}"),
        "issuer=a%2Fb".into(),
        format!("issuer={}", "a".repeat(33)),
        "issuer=%00".into(),
        "%ZZ=1&a=%FF&&&=".into(),
    ];
    // Every function the server has, but for those that change the store when they succeed.
    let uapi_functions: Vec<&str> = tfa::server::uapi::FUNCTIONS
        .iter()
        .copied()
        .filter(|f| *f != "remove_user_configuration")
        .collect();
    let whm_functions: Vec<&str> = tfa::server::whm::FUNCTIONS
        .iter()
        .copied()
        .filter(|f| {
            !matches!(
                *f,
                "twofactorauth_enable_policy" | "twofactorauth_disable_policy"
            )
        })
        .collect();
    // 9 twofactorauth_* functions, plus applist, version, create_user_session, api_token_*
    // and tfa_recovery_codes_remaining.
    assert_eq!((uapi_functions.len(), whm_functions.len()), (4, 16));
    let before = env.snapshot();
    let mut calls = 0;
    for params in &bad_params {
        for &f in &uapi_functions {
            for (who, r) in [
                ("bob", env.uapi("bob", f, params).await),
                (
                    "info@bob.example",
                    env.uapi_basic("info@bob.example", f, params).await,
                ),
            ] {
                assert!(
                    r.status < 500,
                    "{who} {f}?{params}: {} {}",
                    r.status,
                    r.text
                );
                let j = r.json();
                assert!(
                    j["status"] == 0 || j["status"] == 1,
                    "{f}?{params}: {}",
                    r.text
                );
                if j["status"] == 0 {
                    assert!(
                        j["errors"][0].as_str().is_some_and(|e| !e.is_empty()),
                        "{}",
                        r.text
                    );
                }
                calls += 1;
            }
            // The same as a form POST.
            let r = env.send(uapi_form("bob", f, params.clone())).await;
            assert!(r.status < 500, "POST {f} {params}: {} {}", r.status, r.text);
            r.json();
            calls += 1;
        }
        for &f in &whm_functions {
            for who in ["root", "res"] {
                let r = env.whm(who, f, params).await;
                assert!(
                    r.status < 500,
                    "{who} {f}?{params}: {} {}",
                    r.status,
                    r.text
                );
                let j = r.json();
                assert!(
                    j["metadata"]["result"] == 0 || j["metadata"]["result"] == 1,
                    "{}",
                    r.text
                );
                assert_eq!(j["metadata"]["command"], f);
                if j["metadata"]["result"] == 0 {
                    assert_ne!(j["metadata"]["reason"], "OK", "{}", r.text);
                }
                calls += 1;
            }
        }
        assert_eq!(env.snapshot(), before, "after {params:?}");
    }
    // JSON bodies for the one POST-with-JSON function.
    let bodies: Vec<String> = vec![
        String::new(),
        "{".into(),
        "[]".into(),
        "null".into(),
        "{}".into(),
        r#"{"bob":{},"carol":{}}"#.into(),
        r#"{"bob":{"primary_account":{"nope":1}}}"#.into(),
        r#"{"bob":{"primary_account":{"secret":"JBSW1"}}}"#.into(),
        r#"{"bob":{"primary_account":{}}}"#.into(),
        r#"{"bob":{"email":{"x@elsewhere.example":{"secret":"JBSWY3DPEHPK3PXP"}}}}"#.into(),
        r#"{"bob":{"team":{"ghost@bob":{"secret":"JBSWY3DPEHPK3PXP"}}}}"#.into(),
        r#"{"bob":{"wat":{}}}"#.into(),
        r#"{"../x":{}}"#.into(),
        format!(r#"{{"{long}":{{}}}}"#),
        format!(
            r#"{{"bob":{{"primary_account":{{"secret":"{}"}}}}}}"#,
            "A".repeat(70 * 1024)
        ),
    ];
    for body in &bodies {
        for who in ["root", "res", "bob"] {
            let r = env.send(whm_set_for_user(who, body.clone())).await;
            let shown: String = body.chars().take(60).collect();
            assert!(r.status < 500, "{who} {shown}: {} {}", r.status, r.text);
            let j = r.json();
            assert_eq!(j["metadata"]["result"], 0, "{who} {shown}: {}", r.text);
            calls += 1;
        }
        assert_eq!(
            env.snapshot(),
            before,
            "after body {:?}",
            body.chars().take(60).collect::<String>()
        );
    }
    assert!(calls > 600, "{calls} calls");
}
