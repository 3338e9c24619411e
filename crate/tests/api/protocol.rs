//! What every call goes through before a function runs: unknown modules and functions,
//! credentials (tokens, Basic, `X-CPANEL-OTP`), WHM API 1's version and callers, body size,
//! methods and media types, XML output and the security headers.

use axum::body::Body;
use axum::http::{header, HeaderName, Method, StatusCode};

use tfa_testkit::{basic, code, uapi_err, whm_meta};

use crate::Trips;
use crate::{cpanel_auth, password, request, token, uapi_form, whm_auth, Env, SECRET, T0};

#[tokio::test]
async fn uapi_unknown_module_and_function_in_cpanels_envelope() {
    // cPanel answers these with HTTP 200 and status 0 (Cpanel::API; issue 9).
    let env = Env::new();
    let auth = cpanel_auth("bob");
    let r = env
        .get("/execute/Nope/get_user_configuration", Some(&auth))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.text,
        uapi_err(
            "Failed to load module “Nope”: The system failed to load the module “Cpanel::API::Nope” because of an error: Can't locate Cpanel/API/Nope.pm in @INC."
        )
    );
    let r = env.get("/execute/TwoFactorAuth/nope", Some(&auth)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.text,
        uapi_err("The system could not find the function “nope” in the module “TwoFactorAuth”.")
    );
}

#[tokio::test]
async fn uapi_refuses_missing_and_wrong_credentials() {
    let env = Env::new();
    let url = "/execute/TwoFactorAuth/get_user_configuration";
    let denied = uapi_err("Access denied");
    let long = "x".repeat(300);
    let cases = [
        None,
        Some("cpanel bob:WRONG".to_owned()),
        Some(whm_auth("bob")),
        Some(format!("cpanel carol:{}", token("bob"))),
        Some("cpanel nobody:XYZ".to_owned()),
        Some(format!("cpanel ../bob:{}", token("bob"))),
        Some(format!("cpanel b/ob:{}", token("bob"))),
        Some(format!("cpanel {long}:{}", token("bob"))),
        Some("cpanel bob".to_owned()),
        Some("Bearer abc".to_owned()),
        Some(basic("bob", "wrong")),
        Some("Basic !!!".to_owned()),
    ];
    for auth in &cases {
        let r = env.get(url, auth.as_deref()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(r.text, denied, "{auth:?}");
    }
    // NUL cannot travel in a header; in a Basic user name it is refused.
    let r = env.get(url, Some(&basic("bo\0b", &password("bob")))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = env.get(url, Some(&basic("bob", &password("bob")))).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn uapi_refuses_big_bodies_and_odd_methods() {
    let env = Env::new();
    let before = env.snapshot();
    let c = code(SECRET, T0);
    let mut body = format!("secret={SECRET}&tfa_token={c}&pad=");
    body.push_str(&"a".repeat(70 * 1024));
    let r = env
        .send(uapi_form("bob", "set_user_configuration", body))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.text, uapi_err("The request body is larger than 64 KiB."));
    let req = request(
        Method::DELETE,
        "/execute/TwoFactorAuth/remove_user_configuration",
        &[(header::AUTHORIZATION, &cpanel_auth("bob"))],
        Body::empty(),
    );
    let r = env.send(req).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.json()["status"], 0);
    let req = request(
        Method::POST,
        "/execute/TwoFactorAuth/set_user_configuration",
        &[
            (header::AUTHORIZATION, &cpanel_auth("bob")),
            (header::CONTENT_TYPE, "text/plain"),
        ],
        "secret=x",
    );
    // A text/plain body is read as a form, as cPanel reads it (issue 9): the function runs
    // and refuses the missing code.
    let r = env.send(req).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["status"], 0, "{}", r.text);
    assert_eq!(env.snapshot(), before);
}

#[tokio::test]
async fn whm_refuses_version_0_unknown_functions_and_non_whm_callers() {
    let env = Env::new();
    let auth = whm_auth("root");
    let r = env
        .get("/json-api/twofactorauth_policy_status", Some(&auth))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.text,
        whm_meta(
            "twofactorauth_policy_status",
            "This server implements WHM API 1 only: add “api.version=1” to the query string. WHM API 0 is not supported.",
            0
        )
    );
    // cPanel's wording and HTTP 200, as cPanel::PublicAPI reads it (issue 9).
    let r = env.whm("root", "twofactorauth_nope", "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.text,
        whm_meta(
            "twofactorauth_nope",
            "Unknown app (“twofactorauth_nope”) requested for this version (1) of the API.",
            0
        )
    );
    let r = env.whm("bob", "twofactorauth_policy_status", "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = env
        .get(
            "/json-api/twofactorauth_policy_status?api.version=1",
            Some(&cpanel_auth("root")),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.text,
        whm_meta("twofactorauth_policy_status", "Access denied", 0)
    );
    let r = env
        .get("/json-api/twofactorauth_policy_status?api.version=1", None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Team and webmail users are not WHM users either.
    let r = env
        .get(
            "/json-api/twofactorauth_policy_status?api.version=1",
            Some(&basic("alice@bob", &password("alice@bob"))),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn whm_xml_output() {
    let env = Env::new();
    let r = env
        .get(
            "/xml-api/twofactorauth_policy_status?api.version=1",
            Some(&whm_auth("root")),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers["content-type"].starts_with("text/xml"));
    assert_eq!(
        r.text,
        "<result><data><is_enabled>0</is_enabled></data><metadata><version>1</version><reason>OK</reason><result>1</result><command>twofactorauth_policy_status</command></metadata></result>"
    );
}

#[tokio::test]
async fn basic_auth_needs_x_cpanel_otp_when_policy_on_and_enrolled() {
    let env = Env::new();
    let url = "/json-api/twofactorauth_policy_status?api.version=1";
    let root_basic = basic("root", &password("root"));
    assert_eq!(env.get(url, Some(&root_basic)).await.status, StatusCode::OK);
    env.store.enroll("root", SECRET, 1).unwrap();
    // Policy off: a stored secret has no effect.
    assert_eq!(env.get(url, Some(&root_basic)).await.status, StatusCode::OK);
    env.store
        .set_setting("SecurityPolicy::TwoFactorAuth", "1")
        .unwrap();
    let r = env.get(url, Some(&root_basic)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.json()["metadata"]["reason"]
        .as_str()
        .unwrap()
        .contains("No security code specified."));
    let with_otp = |otp: String| {
        request(
            Method::GET,
            url,
            &[
                (header::AUTHORIZATION, &root_basic),
                (HeaderName::from_static("x-cpanel-otp"), &otp),
            ],
            Body::empty(),
        )
    };
    let r = env.send(with_otp("123".into())).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = env.send(with_otp(code(SECRET, T0))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Sent with every request: the same code works again within its step...
    let r = env.send(with_otp(code(SECRET, T0))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // ...but an older step is refused once a newer one was used.
    let r = env.send(with_otp(code(SECRET, T0 + 30))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = env.send(with_otp(code(SECRET, T0))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Tokens are not challenged.
    assert_eq!(
        env.whm("root", "twofactorauth_policy_status", "")
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn responses_carry_security_headers_and_no_store() {
    let env = Env::new();
    let r = env.uapi("bob", "get_user_configuration", "").await;
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    assert_eq!(r.headers["x-frame-options"], "SAMEORIGIN");
    assert_eq!(r.headers["cache-control"], "no-store");
    assert!(r.headers["content-type"].starts_with("application/json"));
    let r = env.get("/", None).await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "no --www: nothing to serve"
    );
    assert!(r.text.contains("--www"));
}
