//! WHM API 1 `twofactorauth_get_tfa_config_for_user` and `twofactorauth_set_tfa_config_for_user`:
//! a user's whole set of secrets (account, email, team), replaced at once, and every way the JSON
//! body can be wrong.

use axum::http::StatusCode;
use serde_json::json;

use tfa_testkit::{whm_meta, whm_ok};

use crate::{whm_set_for_user, Env, SECRET};

#[tokio::test]
async fn whm_get_and_set_tfa_config_for_user() {
    let env = Env::new();
    let r = env
        .whm("root", "twofactorauth_get_tfa_config_for_user", "user=bob")
        .await;
    assert_eq!(
        r.text,
        whm_ok("twofactorauth_get_tfa_config_for_user", json!({"bob": {}}))
    );
    let body = json!({"bob": {
        "primary_account": {"secret": SECRET},
        "email": {"info@bob.example": {"secret": "GEZDGNBVGY3TQOJQ"}},
        "team": {"alice@bob": {"secret": "MZXW6YTBOIAAAAAAAAAAAAAA"}}
    }});
    let r = env.send(whm_set_for_user("root", body.to_string())).await;
    assert_eq!(
        r.text,
        whm_meta("twofactorauth_set_tfa_config_for_user", "OK", 1)
    );
    let r = env
        .whm("root", "twofactorauth_get_tfa_config_for_user", "user=bob")
        .await;
    assert_eq!(
        r.text,
        whm_ok(
            "twofactorauth_get_tfa_config_for_user",
            json!({"bob": body["bob"]})
        )
    );
    // Replaces everything: only the primary account is left.
    let r = env
        .send(whm_set_for_user(
            "root",
            json!({"bob": {"primary_account": {"secret": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"}}})
                .to_string(),
        ))
        .await;
    assert_eq!(r.json()["metadata"]["result"], 1);
    assert_eq!(env.secret("alice@bob"), None);
    assert_eq!(
        env.secret("bob").as_deref(),
        Some("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
    );

    let before = env.snapshot();
    let cmd = "twofactorauth_set_tfa_config_for_user";
    let cases: Vec<(String, String)> = vec![
        (json!({"bob": {}, "carol": {}}).to_string(), "Invalid data detected in input arguments.".into()),
        (json!({}).to_string(), "Invalid data detected in input arguments.".into()),
        (json!({"nobody": {}}).to_string(), "Invalid user: nobody".into()),
        (json!({"bob": {"primary_account": {"secret": SECRET, "x": 1}}}).to_string(),
         "Invalid data detected in input arguments:  ‘secret’ is the only valid key for ‘primary_account’".into()),
        (json!({"bob": {"primary_account": {}}}).to_string(),
         "Invalid data detected in input arguments:  No ‘secret’ given for primary_account".into()),
        (json!({"bob": {"k": {}}}).to_string(),
         "Invalid data detected in input arguments:  ‘k’ is not a valid key for ‘bob’".into()),
        (json!({"bob": {"email": {"x@carol.example": {"secret": SECRET}}}}).to_string(),
         "Invalid data detected in input arguments:  ‘bob’ does not own an email account named ‘x@carol.example’".into()),
        (json!({"bob": {"team": {"zed@bob": {"secret": SECRET}}}}).to_string(),
         "Invalid data detected in input arguments:  ‘bob’ does not own a team user named ‘zed@bob’".into()),
    ];
    for (body, reason) in cases {
        let r = env.send(whm_set_for_user("root", body.clone())).await;
        assert_eq!(r.text, whm_meta(cmd, &reason, 0), "{body}");
    }
    let r = env.send(whm_set_for_user("root", "{not json".into())).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["metadata"]["result"], 0);
    let r = env
        .send(whm_set_for_user("res", json!({"bob": {}}).to_string()))
        .await;
    assert_eq!(r.text, whm_meta(cmd, "Invalid user: bob", 0));
    let r = env.whm("root", cmd, "").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        r.json()["metadata"]["reason"],
        "This function only accepts POST requests."
    );
    assert_eq!(env.snapshot(), before);

    let r = env
        .whm("res", "twofactorauth_get_tfa_config_for_user", "user=bob")
        .await;
    assert_eq!(
        r.text,
        whm_meta(
            "twofactorauth_get_tfa_config_for_user",
            "Invalid user: bob",
            0
        )
    );
    let r = env
        .whm("res", "twofactorauth_get_tfa_config_for_user", "user=carol")
        .await;
    assert_eq!(
        r.text,
        whm_ok(
            "twofactorauth_get_tfa_config_for_user",
            json!({"carol": {}})
        )
    );
    let r = env
        .whm("root", "twofactorauth_get_tfa_config_for_user", "")
        .await;
    assert_eq!(r.json()["metadata"]["result"], 0);
}
