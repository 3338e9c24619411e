//! The WHM calls cPanel's clients make first: `applist`, `version`, `create_user_session` and
//! its one-time login URL (once, not twice, not after 60 s), and API tokens by name (WHM
//! `api_token_*`, UAPI `Tokens::*`): create, use, list (never the token), revoke, refused.

use axum::http::{header, Method};
use serde_json::Value;
use tfa_testkit::Reply;

use crate::{cpanel_auth, request, whm_auth, Env, T0};

/// A WHM API 1 GET as `user` (its WHM token), with a `Host` header.
async fn whm(env: &Env, user: &str, function: &str, query: &str) -> Reply {
    let auth = whm_auth(user);
    env.send(request(
        Method::GET,
        &format!("/json-api/{function}?api.version=1&{query}"),
        &[
            (header::AUTHORIZATION, auth.as_str()),
            (header::HOST, "host.example:2087"),
        ],
        "",
    ))
    .await
}

/// A WHM API 1 GET with this `Authorization`.
async fn whm_with(env: &Env, auth: &str, function: &str) -> Reply {
    env.send(request(
        Method::GET,
        &format!("/json-api/{function}?api.version=1"),
        &[(header::AUTHORIZATION, auth)],
        "",
    ))
    .await
}

/// A UAPI GET with this `Authorization`.
async fn uapi_with(env: &Env, auth: &str, module: &str, function: &str, query: &str) -> Reply {
    env.send(request(
        Method::GET,
        &format!("/execute/{module}/{function}?{query}"),
        &[(header::AUTHORIZATION, auth)],
        "",
    ))
    .await
}

fn result(r: &Reply) -> i64 {
    r.json()["metadata"]["result"].as_i64().unwrap()
}

fn reason(r: &Reply) -> String {
    r.json()["metadata"]["reason"].as_str().unwrap().to_owned()
}

/// A GET of a one-time login URL (its path and query).
async fn visit(env: &Env, path: &str) -> Reply {
    env.send(request(Method::GET, path, &[], "")).await
}

/// The path and query of an absolute URL.
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").unwrap().1;
    &rest[rest.find('/').unwrap()..]
}

#[tokio::test]
async fn applist_lists_every_function_this_server_implements() {
    let env = Env::new();
    for user in ["root", "res"] {
        let r = whm(&env, user, "applist", "").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(result(&r), 1);
        assert_eq!(r.json()["metadata"]["command"], "applist");
        let apps: Vec<String> = r.json()["data"]["app"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect();
        for f in [
            "applist",
            "version",
            "create_user_session",
            "api_token_create",
            "api_token_list",
            "api_token_revoke",
            "twofactorauth_get_issuer",
            "twofactorauth_set_tfa_config_for_user",
        ] {
            assert!(apps.iter().any(|a| a == f), "{f} missing from {apps:?}");
        }
        let mut sorted = apps.clone();
        sorted.sort();
        assert_eq!(apps, sorted, "alphabetical, as cPanel's");
    }
    // WHM only.
    assert_eq!(whm(&env, "bob", "applist", "").await.status, 403);
}

#[tokio::test]
async fn version_is_a_cpanel_version_string() {
    let env = Env::new();
    let r = whm(&env, "root", "version", "").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.data_str("version");
    let parts: Vec<&str> = v.split('.').collect();
    assert_eq!(parts.len(), 4, "{v}");
    assert_eq!(parts[0], "11");
    assert!(parts.iter().all(|p| p.parse::<u32>().is_ok()), "{v}");
    assert!(
        parts[1].parse::<u32>().unwrap() >= 82,
        "new enough for API tokens: {v}"
    );
}

#[tokio::test]
async fn a_one_time_login_url_opens_a_session_once() {
    let env = Env::new();
    let r = whm(
        &env,
        "root",
        "create_user_session",
        "user=bob&service=cpaneld",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(result(&r), 1, "{}", r.text);
    let data = r.json()["data"].clone();
    let url = data["url"].as_str().unwrap().to_owned();
    let token = data["cp_security_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("/cpsess") && token.len() == 17, "{token}");
    assert!(
        url.starts_with(&format!("http://host.example:2087{token}/login/?session=")),
        "{url}"
    );
    assert_eq!(data["service"], "cpaneld");
    assert_eq!(data["expires"], T0 + 60);
    assert!(data["session"].as_str().unwrap().starts_with("bob:"));

    // HEAD does not use it up.
    let head = env
        .send(request(Method::HEAD, path_of(&url), &[], ""))
        .await;
    assert_eq!(head.status, 405);

    let first = visit(&env, path_of(&url)).await;
    assert_eq!(first.status, 302, "{}", first.text);
    assert_eq!(first.headers["location"], format!("{token}/"));
    let cookie = first.cookie();
    assert!(cookie.starts_with("cpsession="), "{cookie}");

    // A full session for bob: no security code asked.
    let call = env
        .send(request(
            Method::GET,
            &format!("{token}/execute/TwoFactorAuth/get_user_configuration"),
            &[(header::COOKIE, cookie.as_str())],
            "",
        ))
        .await;
    assert_eq!(call.status, 200, "{}", call.text);
    assert_eq!(call.json()["status"], 1, "{}", call.text);

    // Single use.
    let second = visit(&env, path_of(&url)).await;
    assert_eq!(second.status, 401, "{}", second.text);
    assert!(!second.headers.contains_key("set-cookie"));
}

#[tokio::test]
async fn a_one_time_login_url_expires_after_60_seconds() {
    let env = Env::new();
    let r = whm(
        &env,
        "root",
        "create_user_session",
        "user=bob&service=webmaild",
    )
    .await;
    let url = r.data_str("url");
    env.set_time(T0 + 60);
    assert_eq!(visit(&env, path_of(&url)).await.status, 401);

    // Within the minute it works; a forged or altered one never does.
    let r = whm(
        &env,
        "root",
        "create_user_session",
        "user=bob&service=cpaneld",
    )
    .await;
    let url = r.data_str("url");
    let forged = format!("{}x", path_of(&url));
    assert_eq!(visit(&env, &forged).await.status, 401);
    assert_eq!(
        visit(&env, "/cpsess0000000000/login/?session=bob:nothing")
            .await
            .status,
        401
    );
    env.set_time(T0 + 119);
    assert_eq!(visit(&env, path_of(&url)).await.status, 302);
}

#[tokio::test]
async fn create_user_session_is_for_root_and_owning_resellers() {
    let env = Env::new();
    // The reseller for its own customer, and for itself in WHM.
    let r = whm(
        &env,
        "res",
        "create_user_session",
        "user=carol&service=cpaneld",
    )
    .await;
    assert_eq!(result(&r), 1, "{}", r.text);
    let r = whm(
        &env,
        "res",
        "create_user_session",
        "user=res&service=whostmgrd",
    )
    .await;
    assert_eq!(result(&r), 1, "{}", r.text);
    // Not for another's customer; nor for someone nobody has.
    for user in ["bob", "nobody", "root"] {
        let r = whm(
            &env,
            "res",
            "create_user_session",
            &format!("user={user}&service=cpaneld"),
        )
        .await;
        assert_eq!(result(&r), 0, "{user}: {}", r.text);
        assert_eq!(
            reason(&r),
            format!("You do not have access to an account named “{user}”.")
        );
    }
    // Root for a webmail address of bob's.
    let r = whm(
        &env,
        "root",
        "create_user_session",
        "user=info@bob.example&service=webmaild",
    )
    .await;
    assert_eq!(result(&r), 1, "{}", r.text);
    // WHM is not for a cPanel user.
    let r = whm(
        &env,
        "root",
        "create_user_session",
        "user=bob&service=whostmgrd",
    )
    .await;
    assert_eq!(
        reason(&r),
        "The user “bob” cannot log in to the service “whostmgrd”."
    );
    let r = whm(&env, "root", "create_user_session", "user=bob&service=ftpd").await;
    assert_eq!(
        reason(&r),
        "Invalid service “ftpd”: use “cpaneld”, “whostmgrd” or “webmaild”."
    );
    let r = whm(&env, "root", "create_user_session", "service=cpaneld").await;
    assert_eq!(reason(&r), "Missing or Invalid: “user”");
    // cPanel users have no WHM.
    assert_eq!(
        whm(
            &env,
            "bob",
            "create_user_session",
            "user=bob&service=cpaneld"
        )
        .await
        .status,
        403
    );
}

#[tokio::test]
async fn whm_api_tokens_are_created_used_listed_and_revoked_by_name() {
    let env = Env::new();
    // The token made before names existed got one.
    let list = whm(&env, "root", "api_token_list", "").await;
    let tokens = list.json()["data"]["tokens"].as_object().unwrap().clone();
    assert_eq!(tokens.len(), 1, "{}", list.text);
    assert!(tokens.keys().all(|k| k.starts_with("token-")), "{tokens:?}");

    let r = whm(&env, "root", "api_token_create", "token_name=ci-bot_1").await;
    assert_eq!(result(&r), 1, "{}", r.text);
    let token = r.data_str("token");
    assert_eq!(token.len(), 32);
    assert_eq!(r.json()["data"]["name"], "ci-bot_1");
    assert_eq!(r.json()["data"]["create_time"], T0);

    let auth = format!("whm root:{token}");
    assert_eq!(whm_with(&env, &auth, "version").await.status, 200);

    let list = whm(&env, "root", "api_token_list", "").await;
    assert!(!list.text.contains(&token), "the list never shows a token");
    let entry = &list.json()["data"]["tokens"]["ci-bot_1"];
    assert_eq!(entry["name"], "ci-bot_1");
    assert_eq!(entry["create_time"], T0);
    assert!(entry.get("token").is_none());

    // Names: unique per account, cPanel's characters, restrictions refused.
    let again = whm(&env, "root", "api_token_create", "token_name=ci-bot_1").await;
    assert_eq!(
        reason(&again),
        "An API token named “ci-bot_1” already exists."
    );
    let same_name_elsewhere = whm(&env, "res", "api_token_create", "token_name=ci-bot_1").await;
    assert_eq!(
        result(&same_name_elsewhere),
        1,
        "{}",
        same_name_elsewhere.text
    );
    for bad in ["", "a%20b", "x.y", &"a".repeat(51)] {
        let r = whm(
            &env,
            "root",
            "api_token_create",
            &format!("token_name={bad}"),
        )
        .await;
        assert_eq!(result(&r), 0, "{bad:?}: {}", r.text);
    }
    let r = whm(
        &env,
        "root",
        "api_token_create",
        "token_name=limited&acl=list-accts",
    )
    .await;
    assert_eq!(result(&r), 0);
    assert!(reason(&r).contains("“acl”"), "{}", r.text);
    assert!(
        whm(&env, "root", "api_token_list", "").await.json()["data"]["tokens"]
            .get("limited")
            .is_none()
    );

    // Revoke: the next call with it is refused.
    let r = whm(&env, "root", "api_token_revoke", "token_name=ci-bot_1").await;
    assert_eq!(result(&r), 1, "{}", r.text);
    assert_eq!(whm_with(&env, &auth, "version").await.status, 401);
    let r = whm(&env, "root", "api_token_revoke", "token_name=ci-bot_1").await;
    assert_eq!(reason(&r), "No API token is named “ci-bot_1”.");
    // The reseller's token of the same name is untouched.
    assert!(
        whm(&env, "res", "api_token_list", "").await.json()["data"]["tokens"]
            .get("ci-bot_1")
            .is_some()
    );
}

#[tokio::test]
async fn uapi_tokens_are_created_used_listed_and_revoked_by_name() {
    let env = Env::new();
    let bob = cpanel_auth("bob");
    let r = uapi_with(&env, &bob, "Tokens", "create_full_access", "name=laptop").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], 1, "{}", r.text);
    let token = r.data_str("token");
    assert_eq!(r.json()["data"]["create_time"], T0);

    let auth = format!("cpanel bob:{token}");
    let call = uapi_with(&env, &auth, "TwoFactorAuth", "get_user_configuration", "").await;
    assert_eq!(call.status, 200, "{}", call.text);

    let list = uapi_with(&env, &bob, "Tokens", "list", "").await;
    assert!(!list.text.contains(&token));
    let names: Vec<Value> = list.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert!(names.contains(&Value::from("laptop")), "{}", list.text);
    let laptop = list.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "laptop")
        .unwrap()
        .clone();
    assert_eq!(laptop["has_full_access"], 1);
    assert_eq!(laptop["create_time"], T0);

    let dup = uapi_with(&env, &bob, "Tokens", "create_full_access", "name=laptop").await;
    assert_eq!(dup.json()["status"], 0);

    let r = uapi_with(&env, &bob, "Tokens", "revoke", "name=laptop").await;
    assert_eq!(r.json()["data"], 1, "{}", r.text);
    let call = uapi_with(&env, &auth, "TwoFactorAuth", "get_user_configuration", "").await;
    assert_eq!(call.status, 401);
    // Revoking a name that is not there still answers 1, as cPanel documents.
    let r = uapi_with(&env, &bob, "Tokens", "revoke", "name=laptop").await;
    assert_eq!(r.json()["data"], 1, "{}", r.text);
}
