//! The WHM calls cPanel's clients make first, against the real server: `applist`, `version`,
//! `create_user_session` and its one-time login URL (a session once, then never again), and
//! API tokens by name through WHM API 1 and UAPI (create, use, list, revoke, refused).

use tfa_e2e::{
    add_account, assert_nothing_leaked, create_token, data_dir, tfa_ok, Server, ServerOptions,
};

use crate::http::Http;

fn whm_get(
    http: &Http,
    server: &Server,
    auth: &str,
    function: &str,
    query: &str,
) -> serde_json::Value {
    let r = http.get(
        &server.url(&format!("/json-api/{function}?api.version=1&{query}")),
        auth,
    );
    assert_eq!(r.status, 200, "{function}: {}", r.text);
    let j = r.json();
    assert_eq!(j["metadata"]["result"], 1, "{function}: {}", r.text);
    j
}

#[test]
fn applist_version_and_a_one_time_login_url() {
    let (_t, data) = data_dir();
    add_account(
        &data,
        "alice",
        "alice-password-1",
        &["--domain", "alice.test"],
    );
    let root = format!("whm root:{}", create_token(&data, "root"));
    let server = Server::start(ServerOptions::with_data_dir(&data));
    let http = Http::new();

    let apps = whm_get(&http, &server, &root, "applist", "");
    let apps = apps["data"]["app"].as_array().unwrap();
    for f in [
        "applist",
        "version",
        "create_user_session",
        "api_token_create",
        "twofactorauth_policy_status",
    ] {
        assert!(apps.iter().any(|a| a == f), "{f} not in {apps:?}");
    }
    let v = whm_get(&http, &server, &root, "version", "");
    let version = v["data"]["version"].as_str().unwrap();
    assert!(
        version.starts_with("11.") && version.split('.').count() == 4,
        "{version}"
    );

    let s = whm_get(
        &http,
        &server,
        &root,
        "create_user_session",
        "user=alice&service=cpaneld",
    );
    let url = s["data"]["url"].as_str().unwrap().to_owned();
    let token = s["data"]["cp_security_token"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&format!("{}{token}/login/?session=", server.base_url)),
        "{url}"
    );

    // The visit opens the session: a cookie and the redirect, not followed here.
    let first = http.send("GET", &url, &[], None);
    assert_eq!(first.status, 302, "{}", first.text);
    assert_eq!(first.headers["location"], format!("{token}/"));
    let cookie = first.cookie();
    let call = http.send(
        "GET",
        &server.url(&format!(
            "{token}/execute/TwoFactorAuth/get_user_configuration"
        )),
        &[("Cookie", &cookie)],
        None,
    );
    assert_eq!(call.status, 200, "{}", call.text);
    assert_eq!(call.json()["status"], 1, "{}", call.text);

    // Single use.
    let second = http.send("GET", &url, &[], None);
    assert_eq!(second.status, 401, "{}", second.text);

    // A browser arriving from another site gets a page that moves on by itself (a navigation
    // of this site, so its SameSite=Strict cookie goes along), with the cookie set.
    let s2 = whm_get(
        &http,
        &server,
        &root,
        "create_user_session",
        "user=alice&service=cpaneld",
    );
    let url2 = s2["data"]["url"].as_str().unwrap().to_owned();
    let token2 = s2["data"]["cp_security_token"].as_str().unwrap().to_owned();
    let from_afar = http.send("GET", &url2, &[("Sec-Fetch-Site", "cross-site")], None);
    assert_eq!(from_afar.status, 200, "{}", from_afar.text);
    assert!(
        from_afar
            .text
            .contains(&format!("content=\"0;url={token2}/\"")),
        "{}",
        from_afar.text
    );
    assert!(from_afar.headers["set-cookie"].starts_with("cpsession="));

    let session = s["data"]["session"].as_str().unwrap().to_owned();
    let secret = session.split_once(':').unwrap().1.to_owned();
    assert_nothing_leaked(&server.log(), &[secret, cookie]);
}

#[test]
fn api_tokens_by_name_through_whm_and_uapi() {
    let (_t, data) = data_dir();
    add_account(
        &data,
        "alice",
        "alice-password-1",
        &["--domain", "alice.test"],
    );
    let root = format!("whm root:{}", create_token(&data, "root"));
    let alice = format!("cpanel alice:{}", create_token(&data, "alice"));
    let server = Server::start(ServerOptions::with_data_dir(&data));
    let http = Http::new();

    // WHM: create, use, list (never the token), revoke, refused.
    let c = whm_get(
        &http,
        &server,
        &root,
        "api_token_create",
        "token_name=e2e-ci",
    );
    let token = c["data"]["token"].as_str().unwrap().to_owned();
    let auth = format!("whm root:{token}");
    assert_eq!(
        http.get(&server.url("/json-api/version?api.version=1"), &auth)
            .status,
        200
    );
    let list = http.get(&server.url("/json-api/api_token_list?api.version=1"), &root);
    assert!(!list.text.contains(&token));
    assert_eq!(list.json()["data"]["tokens"]["e2e-ci"]["name"], "e2e-ci");
    whm_get(
        &http,
        &server,
        &root,
        "api_token_revoke",
        "token_name=e2e-ci",
    );
    assert_eq!(
        http.get(&server.url("/json-api/version?api.version=1"), &auth)
            .status,
        401
    );

    // UAPI: the same for a cPanel account.
    let r = http.get(
        &server.url("/execute/Tokens/create_full_access?name=laptop"),
        &alice,
    );
    assert_eq!(r.json()["status"], 1, "{}", r.text);
    let token = r.data_str("token");
    let auth = format!("cpanel alice:{token}");
    let call = http.get(
        &server.url("/execute/TwoFactorAuth/get_user_configuration"),
        &auth,
    );
    assert_eq!(call.status, 200, "{}", call.text);
    let list = http.get(&server.url("/execute/Tokens/list"), &alice);
    assert!(!list.text.contains(&token));
    assert!(list.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "laptop"));
    let r = http.get(&server.url("/execute/Tokens/revoke?name=laptop"), &alice);
    assert_eq!(r.json()["data"], 1, "{}", r.text);
    let call = http.get(
        &server.url("/execute/TwoFactorAuth/get_user_configuration"),
        &auth,
    );
    assert_eq!(call.status, 401);

    // The command line still lists and revokes the tokens, named or not.
    let out = tfa_ok(&data, &["token", "list", "alice"], None);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert_nothing_leaked(&server.log(), &[token]);
}
