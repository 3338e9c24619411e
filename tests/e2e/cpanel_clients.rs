//! The real `tfa serve` and `tfa` driven as cPanel's own clients drive cPanel (issue 9): form
//! bodies POSTed as `application/octet-stream` (what cPanel::PublicAPI sends through
//! HTTP::Tiny), unknown functions answered in cPanel's envelope with HTTP 200, and the `uapi`
//! command line's `-u USER`, `--user=USER` and `--output=xml`.

use tfa_e2e::{add_account, create_token, data_dir, set_password, tfa_ok, Server, ServerOptions};
use tfa_testkit::{code, take_recovery_codes, uapi_err, whm_meta};

use crate::http::Http;

const OCTET: &str = "application/octet-stream";

#[test]
fn octet_stream_form_posts_work_for_whm_and_uapi() {
    let (_t, data) = data_dir();
    add_account(
        &data,
        "alice",
        "alice-password-1",
        &["--domain", "alice.test"],
    );
    set_password(&data, "root", "root-password-1");
    let alice = format!("cpanel alice:{}", create_token(&data, "alice"));
    let root = format!("whm root:{}", create_token(&data, "root"));
    let server = Server::start(ServerOptions::with_data_dir(&data));
    let http = Http::new();

    // WHM, as cPanel::PublicAPI::whm_api_request sends it: POST, api.version in the body.
    let r = http.send(
        "POST",
        &server.url("/json-api/twofactorauth_set_issuer"),
        &[("Authorization", &root), ("Content-Type", OCTET)],
        Some("api.version=1&issuer=Octet%20Issuer"),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, whm_meta("twofactorauth_set_issuer", "OK", 1));
    let r = http.send(
        "POST",
        &server.url("/json-api/twofactorauth_get_issuer"),
        &[("Authorization", &root), ("Content-Type", OCTET)],
        Some("api.version=1"),
    );
    assert_eq!(r.json()["data"]["issuer"], "Octet Issuer", "{}", r.text);

    // UAPI: generate, then enroll with the secret and code in an octet-stream body.
    let r = http.send(
        "POST",
        &server.url("/execute/TwoFactorAuth/generate_user_configuration"),
        &[("Authorization", &alice), ("Content-Type", OCTET)],
        Some(""),
    );
    let secret = r.data_str("secret");
    let body = format!(
        "secret={secret}&tfa_token={}",
        code(&secret, tfa_e2e::now())
    );
    let r = http.send(
        "POST",
        &server.url("/execute/TwoFactorAuth/set_user_configuration"),
        &[("Authorization", &alice), ("Content-Type", OCTET)],
        Some(&body),
    );
    assert_eq!(
        take_recovery_codes(&r.text).1,
        r#"{"data":{"tfa_configured":1},"errors":null,"messages":null,"metadata":{},"status":1,"warnings":null}"#
    );
    let r = http.get(
        &server.url("/execute/TwoFactorAuth/get_user_configuration"),
        &alice,
    );
    assert_eq!(r.json()["data"]["is_enabled"], 1, "{}", r.text);

    // A body that is no form text (not UTF-8) is still a clear 4xx, and changes nothing.
    let resp = ureq::post(&server.url("/json-api/twofactorauth_set_issuer?api.version=1"))
        .set("Authorization", &root)
        .set("Content-Type", OCTET)
        .send_bytes(b"issuer=\xff\xfe");
    let resp = match resp {
        Err(ureq::Error::Status(_, r)) => r,
        other => panic!("want a 4xx, got {other:?}"),
    };
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.into_string().unwrap(),
        whm_meta(
            "twofactorauth_set_issuer",
            "The form body is not valid UTF-8.",
            0
        )
    );
    let r = http.get(
        &server.url("/json-api/twofactorauth_get_issuer?api.version=1"),
        &root,
    );
    assert_eq!(r.json()["data"]["issuer"], "Octet Issuer", "{}", r.text);
}

#[test]
fn unknown_functions_answer_in_cpanels_envelope_over_http() {
    let (_t, data) = data_dir();
    add_account(
        &data,
        "alice",
        "alice-password-1",
        &["--domain", "alice.test"],
    );
    let alice = format!("cpanel alice:{}", create_token(&data, "alice"));
    let root = format!("whm root:{}", create_token(&data, "root"));
    let server = Server::start(ServerOptions::with_data_dir(&data));
    let http = Http::new();
    let reason = "Unknown app (“nope_app”) requested for this version (1) of the API.";

    let r = http.get(&server.url("/json-api/nope_app?api.version=1"), &root);
    assert_eq!(r.status, 200);
    assert_eq!(r.text, whm_meta("nope_app", reason, 0));
    let r = http.get(&server.url("/xml-api/nope_app?api.version=1"), &root);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text,
        format!("<result><metadata><version>1</version><reason>{reason}</reason><result>0</result><command>nope_app</command></metadata></result>")
    );
    let r = http.send(
        "POST",
        &server.url("/json-api/nope_app"),
        &[("Authorization", &root), ("Content-Type", OCTET)],
        Some("api.version=1"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.text, whm_meta("nope_app", reason, 0));

    let r = http.get(&server.url("/execute/Nope/get_user_configuration"), &alice);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text,
        uapi_err("Failed to load module “Nope”: The system failed to load the module “Cpanel::API::Nope” because of an error: Can't locate Cpanel/API/Nope.pm in @INC.")
    );
    let r = http.get(&server.url("/execute/TwoFactorAuth/nope"), &alice);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text,
        uapi_err("The system could not find the function “nope” in the module “TwoFactorAuth”.")
    );
}

#[test]
fn uapi_cli_takes_cpanels_user_flags_and_xml() {
    let (_t, data) = data_dir();
    let call = |user_args: &[&str], output: &str| {
        let mut args = vec!["uapi"];
        args.extend_from_slice(user_args);
        args.extend_from_slice(&[output, "TwoFactorAuth", "get_user_configuration"]);
        tfa_ok(&data, &args, None)
    };
    let want = "{\"apiversion\":3,\"func\":\"get_user_configuration\",\"module\":\"TwoFactorAuth\",\"result\":{\"data\":{\"is_enabled\":0},\"errors\":null,\"messages\":null,\"metadata\":{},\"status\":1,\"warnings\":null}}\n";
    for user_args in [
        &["-u", "demo"][..],
        &["--user=demo"][..],
        &["--user", "demo"][..],
        &["-udemo"][..],
    ] {
        assert_eq!(call(user_args, "--output=json"), want, "{user_args:?}");
    }
    let xml = "<result><apiversion>3</apiversion><func>get_user_configuration</func><module>TwoFactorAuth</module><result><data><is_enabled>0</is_enabled></data><errors/><messages/><metadata/><status>1</status><warnings/></result></result>\n";
    assert_eq!(call(&["-u", "demo"], "--output=xml"), xml);
    assert_eq!(call(&["--user=demo"], "--output=xml"), xml);
    // whmapi1's XML: metadata in cPanel's order, command without a leading slash.
    let out = tfa_ok(
        &data,
        &["whmapi1", "--output=xml", "twofactorauth_get_issuer"],
        None,
    );
    assert!(
        out.ends_with("<metadata><version>1</version><reason>OK</reason><result>1</result><command>twofactorauth_get_issuer</command></metadata></result>\n"),
        "{out}"
    );
}

/// The children of `<metadata>` in document order.
fn metadata_order(xml: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let meta = doc
        .descendants()
        .find(|n| n.has_tag_name("metadata"))
        .unwrap_or_else(|| panic!("no metadata: {xml}"));
    meta.children()
        .filter(|n| n.is_element())
        .map(|n| n.tag_name().name().to_owned())
        .collect()
}

#[test]
fn whm_xml_from_the_real_server_parses_in_the_seeds_order() {
    let (_t, data) = data_dir();
    add_account(&data, "xena", "xena-password-1", &["--domain", "xena.test"]);
    let root = format!("whm root:{}", create_token(&data, "root"));
    let server = Server::start(ServerOptions::with_data_dir(&data));
    let http = Http::new();
    // Every function the server lists, called as a client would (some refuse for want of
    // parameters: their failure envelopes are XML too).
    let apps = http.get(&server.url("/json-api/applist?api.version=1"), &root);
    let apps: Vec<String> = apps.json()["data"]["app"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    assert!(apps.len() >= 11, "{apps:?}");
    for f in &apps {
        let query = match f.as_str() {
            "twofactorauth_get_user_configs" | "twofactorauth_get_tfa_config_for_user" => {
                "&user=xena"
            }
            _ => "",
        };
        let r = http.get(
            &server.url(&format!("/xml-api/{f}?api.version=1{query}")),
            &root,
        );
        assert!(r.status < 500, "{f}: {}", r.text);
        // The order of cPanel's samples (../shared/seeds): version, reason, result, command.
        assert_eq!(
            metadata_order(&r.text),
            ["version", "reason", "result", "command"],
            "{f}: {}",
            r.text
        );
        assert!(
            r.text.contains(&format!("<command>{f}</command>")),
            "{f}: {}",
            r.text
        );
    }
}
