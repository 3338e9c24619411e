//! What cPanel's own clients need of the protocol (issue 9): form bodies under any content
//! type (cPanel::PublicAPI posts `application/octet-stream`), unknown functions and modules in
//! cPanel's words and envelopes (HTTP 200, as cPanel answers them), and WHM XML that a real XML
//! parser reads, with `metadata` in the order of cPanel's samples.

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use serde_json::json;

use tfa::server::whm::FUNCTIONS;
use tfa_testkit::{code, uapi_err, whm_meta};

use crate::{cpanel_auth, request, whm_auth, Env, SECRET, T0};

/// A POST of `body` with this `Content-Type` (none when `None`) and `Authorization`.
fn post(
    uri: &str,
    auth: &str,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> axum::http::Request<Body> {
    let mut headers = vec![(header::AUTHORIZATION, auth)];
    if let Some(ct) = content_type {
        headers.push((header::CONTENT_TYPE, ct));
    }
    request(Method::POST, uri, &headers, body)
}

#[tokio::test]
async fn bodies_of_any_type_but_json_and_multipart_are_read_as_forms() {
    let env = Env::new();
    let c = code(SECRET, T0);
    // UAPI, as HTTP::Tiny sends a string body: application/octet-stream.
    let r = env
        .send(post(
            "/execute/TwoFactorAuth/set_user_configuration",
            &cpanel_auth("bob"),
            Some("application/octet-stream"),
            format!("secret={SECRET}&tfa_token={c}"),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["status"], 1, "{}", r.text);
    assert_eq!(env.secret("bob").as_deref(), Some(SECRET));
    // WHM with text/plain, with a charset, with an unheard-of type, and with none at all.
    for (ct, issuer) in [
        (Some("text/plain"), "Plain"),
        (Some("text/plain; charset=utf-8"), "Charset"),
        (Some("application/x-anything"), "Anything"),
        (Some("APPLICATION/OCTET-STREAM"), "Upper"),
        (None, "Untyped"),
    ] {
        let r = env
            .send(post(
                "/json-api/twofactorauth_set_issuer?api.version=1",
                &whm_auth("root"),
                ct,
                format!("issuer={issuer}"),
            ))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{ct:?}: {}", r.text);
        assert_eq!(
            r.text,
            whm_meta("twofactorauth_set_issuer", "OK", 1),
            "{ct:?}"
        );
        let r = env.whm("root", "twofactorauth_get_issuer", "").await;
        assert_eq!(r.json()["data"]["issuer"], issuer, "{ct:?}");
    }
    // Query and body parameters still merge as cPanel's parser does (repeats renamed).
    env.set_time(T0 + 60);
    env.enroll("carol", SECRET).await;
    let r = env
        .send(post(
            "/json-api/twofactorauth_remove_user_config?api.version=1&user=bob",
            &whm_auth("root"),
            Some("application/octet-stream"),
            "user=carol",
        ))
        .await;
    let mut modified: Vec<String> = r.json()["data"]["users_modified"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    modified.sort();
    assert_eq!(modified, ["bob", "carol"], "{}", r.text);
}

#[tokio::test]
async fn a_body_that_is_no_form_is_a_clear_400_and_changes_nothing() {
    let env = Env::new();
    let before = env.snapshot();
    for ct in [Some("application/octet-stream"), Some("text/plain"), None] {
        let r = env
            .send(post(
                "/json-api/twofactorauth_set_issuer?api.version=1",
                &whm_auth("root"),
                ct,
                vec![b'i', b's', b's', b'u', b'e', b'r', b'=', 0xff, 0xfe],
            ))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{ct:?}");
        assert_eq!(
            r.text,
            whm_meta(
                "twofactorauth_set_issuer",
                "The form body is not valid UTF-8.",
                0
            ),
            "{ct:?}"
        );
        let r = env
            .send(post(
                "/execute/TwoFactorAuth/set_user_configuration",
                &cpanel_auth("bob"),
                ct,
                vec![0xc3, 0x28],
            ))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{ct:?}");
        assert_eq!(
            r.text,
            uapi_err("The form body is not valid UTF-8."),
            "{ct:?}"
        );
    }
    assert_eq!(env.snapshot(), before);
}

#[tokio::test]
async fn only_set_tfa_config_for_user_takes_json() {
    let env = Env::new();
    let before = env.snapshot();
    // A form body, even one that looks like JSON, under a non-JSON type: still refused.
    let body = json!({"bob": {"primary_account": {"secret": SECRET}}}).to_string();
    for ct in ["application/octet-stream", "text/plain"] {
        let r = env
            .send(post(
                "/json-api/twofactorauth_set_tfa_config_for_user?api.version=1",
                &whm_auth("root"),
                Some(ct),
                body.clone(),
            ))
            .await;
        assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}");
        assert_eq!(r.json()["metadata"]["result"], 0, "{ct}");
    }
    assert_eq!(env.snapshot(), before);
}

#[tokio::test]
async fn unknown_whm_apps_get_cpanels_reason_with_http_200() {
    let env = Env::new();
    let reason = "Unknown app (“twofactorauth_nope”) requested for this version (1) of the API.";
    let r = env.whm("root", "twofactorauth_nope", "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text, whm_meta("twofactorauth_nope", reason, 0));
    // The same in XML, metadata in cPanel's order.
    let r = env
        .get(
            "/xml-api/twofactorauth_nope?api.version=1",
            Some(&whm_auth("root")),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.text,
        format!("<result><metadata><version>1</version><reason>{reason}</reason><result>0</result><command>twofactorauth_nope</command></metadata></result>")
    );
    // POSTed as cPanel::PublicAPI does it.
    let r = env
        .send(post(
            "/json-api/listaccts_nope",
            &whm_auth("root"),
            Some("application/octet-stream"),
            "api.version=1",
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json()["metadata"]["reason"],
        "Unknown app (“listaccts_nope”) requested for this version (1) of the API."
    );
}

/// The XML samples of cPanel's documentation (../shared/seeds/, cPanel's WHM API 1 pages for
/// these functions), whitespace between elements taken out.
const SEEDS: [(&str, &str); 3] = [
    (
        "twofactorauth_remove_user_config",
        "<result><data><users_modified>example</users_modified><failed/></data><metadata><version>1</version><reason>OK</reason><result>1</result><command>twofactorauth_remove_user_config</command></metadata></result>",
    ),
    (
        "twofactorauth_get_user_configs",
        "<result><data><example><is_enabled>0</is_enabled><primary_domain>example.tld</primary_domain></example></data><metadata><version>1</version><reason>OK</reason><result>1</result><command>twofactorauth_get_user_configs</command></metadata></result>",
    ),
    (
        "twofactorauth_set_tfa_config",
        "<result><metadata><version>1</version><reason>OK</reason><result>1</result><command>twofactorauth_set_tfa_config</command></metadata><data><success>1</success></data></result>",
    ),
];

/// The element names of a node's element children, in order.
fn children(node: roxmltree::Node<'_, '_>) -> Vec<String> {
    node.children()
        .filter(|n| n.is_element())
        .map(|n| n.tag_name().name().to_owned())
        .collect()
}

/// The tree's shape: each element as `path/name`, children sorted (cPanel's serializer writes
/// a hash's keys in Perl's hash order, so only `metadata`'s order is fixed), plus `metadata`'s
/// children in order.
fn shape(xml: &str) -> (Vec<String>, Vec<String>) {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "result", "{xml}");
    let mut paths: Vec<String> = root
        .descendants()
        .filter(|n| n.is_element())
        .map(|n| {
            let mut names: Vec<&str> = n
                .ancestors()
                .filter(|a| a.is_element())
                .map(|a| a.tag_name().name())
                .collect();
            names.reverse();
            names.join("/")
        })
        .collect();
    paths.sort();
    paths.dedup();
    let meta = root
        .children()
        .find(|n| n.has_tag_name("metadata"))
        .map(children)
        .unwrap_or_default();
    (paths, meta)
}

/// Parameters that make each function answer with data (the session's secret or code where
/// needed); functions added later are called bare and must still be valid XML.
fn xml_call(env: &Env, function: &str) -> (Method, String, Option<String>) {
    let c = code(SECRET, env.time());
    match function {
        "twofactorauth_set_tfa_config" => (
            Method::GET,
            format!("secret={SECRET}&tfa_token={c}"),
            None,
        ),
        "twofactorauth_remove_user_config" => (Method::GET, "user=bob&user=nobody".into(), None),
        "twofactorauth_set_issuer" => (Method::GET, "issuer=Example".into(), None),
        "twofactorauth_get_tfa_config_for_user" => (Method::GET, "user=bob".into(), None),
        "twofactorauth_set_tfa_config_for_user" => (
            Method::POST,
            String::new(),
            Some(json!({"bob": {"primary_account": {"secret": SECRET}, "email": {"info@bob.example": {"secret": "GEZDGNBVGY3TQOJQ"}}}}).to_string()),
        ),
        _ => (Method::GET, String::new(), None),
    }
}

#[tokio::test]
async fn whm_xml_of_every_function_parses_and_keeps_cpanels_order() {
    let env = Env::new();
    // Data for every shape: an account with 2FA, an email address with a secret (a key that is
    // no XML name), an empty hash and an empty list.
    env.enroll("bob", SECRET).await;
    env.set_time(T0 + 60);
    let want_meta = ["version", "reason", "result", "command"];
    let mut seen = Vec::new();
    for &function in FUNCTIONS {
        let (method, query, json) = xml_call(&env, function);
        let uri = format!("/xml-api/{function}?api.version=1&{query}");
        let auth = whm_auth("root");
        let req = match json {
            Some(body) => request(
                method,
                &uri,
                &[
                    (header::AUTHORIZATION, &auth),
                    (header::CONTENT_TYPE, "application/json"),
                ],
                body,
            ),
            None => request(
                method,
                &uri,
                &[(header::AUTHORIZATION, &auth)],
                Body::empty(),
            ),
        };
        let r = env.send(req).await;
        assert!(
            r.headers["content-type"].starts_with("text/xml"),
            "{function}"
        );
        let (paths, meta) = shape(&r.text);
        assert_eq!(meta, want_meta, "{function}: {}", r.text);
        let doc = roxmltree::Document::parse(&r.text).unwrap();
        let command = doc
            .descendants()
            .find(|n| n.has_tag_name("command"))
            .and_then(|n| n.text())
            .unwrap();
        assert_eq!(command, function, "no leading /");
        if let Some((_, seed)) = SEEDS.iter().find(|(f, _)| *f == function) {
            let (seed_paths, seed_meta) = shape(seed);
            assert_eq!(meta, seed_meta, "{function}");
            // The seeds' data elements all appear (the seeds' account is "example", ours bob).
            for p in seed_paths {
                let p = p.replace("/example", "/bob");
                assert!(
                    paths.contains(&p),
                    "{function}: {p} missing from {}",
                    r.text
                );
            }
        }
        seen.push((function, r.text));
    }
    let text = |f: &str| &seen.iter().find(|(g, _)| *g == f).unwrap().1;
    // Empty hash and empty list, as cPanel's serializer writes them.
    let removed = text("twofactorauth_remove_user_config");
    assert!(
        removed.contains("<users_modified>bob</users_modified>"),
        "{removed}"
    );
    let r = env
        .get(
            "/xml-api/twofactorauth_remove_user_config?api.version=1&user=nobody",
            Some(&whm_auth("root")),
        )
        .await;
    assert!(r.text.contains("<users_modified/>"), "{}", r.text);
    assert!(roxmltree::Document::parse(&r.text).is_ok());
    let r = env
        .get(
            "/xml-api/twofactorauth_remove_user_config?api.version=1&user=carol",
            Some(&whm_auth("root")),
        )
        .await;
    assert!(r.text.contains("<failed/>"), "{}", r.text);
    // The user@domain key, escaped as an XML name and read back as such.
    let r = env
        .get(
            "/xml-api/twofactorauth_get_tfa_config_for_user?api.version=1&user=bob",
            Some(&whm_auth("root")),
        )
        .await;
    let doc = roxmltree::Document::parse(&r.text).unwrap_or_else(|e| panic!("{e}: {}", r.text));
    let email = doc
        .descendants()
        .find(|n| n.has_tag_name("info_x0040_bob.example"))
        .unwrap_or_else(|| panic!("{}", r.text));
    assert_eq!(
        email
            .descendants()
            .find(|n| n.has_tag_name("secret"))
            .and_then(|n| n.text()),
        Some("GEZDGNBVGY3TQOJQ")
    );
}
