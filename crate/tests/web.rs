//! The wasm exports in a real browser (`wasm-pack test --headless --chrome`). The expected
//! values are the published ones in `tfa::core::vectors`, the same the native unit tests use,
//! so both targets must give the same answers.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use js_sys::Reflect;
use tfa::core::vectors::{CPANEL_URIS, RFC4226_HOTP, RFC6238_SHA1};
use tfa::wasm;
use wasm_bindgen::{JsError, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// "12345678901234567890" in base32: the RFC test key.
const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap()
}

fn message(err: JsError) -> String {
    let v = JsValue::from(err);
    js_sys::Error::from(v).message().into()
}

#[wasm_bindgen_test]
fn rfc6238_sha1_rows_six_digits() {
    for (time, step, code8) in RFC6238_SHA1 {
        let got = wasm::current_code(RFC_SECRET, time as f64).unwrap();
        assert_eq!(get(&got, "code").as_string().unwrap(), code8[2..]);
        assert_eq!(get(&got, "step").as_f64().unwrap(), step as f64);
        assert_eq!(
            get(&got, "secondsLeft").as_f64().unwrap(),
            (30 - time % 30) as f64
        );
    }
}

#[wasm_bindgen_test]
fn rfc4226_counters_via_totp_steps() {
    // TOTP at step N is HOTP with counter N: the RFC 4226 values at t = 30 * count.
    for (count, _, code) in RFC4226_HOTP {
        let got = wasm::current_code(RFC_SECRET, (count * 30) as f64).unwrap();
        assert_eq!(
            get(&got, "code").as_string().unwrap(),
            code,
            "count {count}"
        );
    }
}

#[wasm_bindgen_test]
fn verify_window_replay_and_malformed() {
    let t = 1111111109.0; // RFC row: 6-digit code "081804" (leading zero)
    let ok = wasm::verify_code(RFC_SECRET, "081804", t, None, None).unwrap();
    assert_eq!(get(&ok, "ok"), JsValue::TRUE);
    assert_eq!(get(&ok, "step").as_f64().unwrap(), 0x23523EC as f64);
    // One step later is still inside the ±1 window; two is not.
    let ok = wasm::verify_code(RFC_SECRET, "081804", t + 30.0, None, None).unwrap();
    assert_eq!(get(&ok, "ok"), JsValue::TRUE);
    let bad = wasm::verify_code(RFC_SECRET, "081804", t + 60.0, None, None).unwrap();
    assert_eq!(get(&bad, "reason").as_string().unwrap(), "invalid");
    assert_eq!(
        get(&bad, "message").as_string().unwrap(),
        "That code does not match this key at the current time."
    );
    let replay = wasm::verify_code(RFC_SECRET, "081804", t, None, Some(0x23523EC as f64)).unwrap();
    assert_eq!(get(&replay, "reason").as_string().unwrap(), "replayed");
    for malformed in ["81804", " 081804", "0818045", "08180a", ""] {
        let v = wasm::verify_code(RFC_SECRET, malformed, t, None, None).unwrap();
        assert_eq!(
            get(&v, "reason").as_string().unwrap(),
            "malformed",
            "{malformed:?}"
        );
    }
}

#[wasm_bindgen_test]
fn drift_search() {
    let t = 1111111109.0;
    // The code of 6 steps later, typed now: the phone is 3 minutes ahead.
    let ahead = get(&wasm::current_code(RFC_SECRET, t + 180.0).unwrap(), "code")
        .as_string()
        .unwrap();
    assert_eq!(
        wasm::find_drift(RFC_SECRET, &ahead, t, None).unwrap(),
        Some(6)
    );
    let behind = get(&wasm::current_code(RFC_SECRET, t - 300.0).unwrap(), "code")
        .as_string()
        .unwrap();
    assert_eq!(
        wasm::find_drift(RFC_SECRET, &behind, t, None).unwrap(),
        Some(-10)
    );
    let far = get(&wasm::current_code(RFC_SECRET, t + 3600.0).unwrap(), "code")
        .as_string()
        .unwrap();
    assert_eq!(wasm::find_drift(RFC_SECRET, &far, t, None).unwrap(), None);
}

#[wasm_bindgen_test]
fn the_pages_numbers_are_the_cores() {
    assert_eq!(wasm::step_secs(), 30);
    assert_eq!(wasm::window_steps(), 1);
    assert_eq!(wasm::clock_tolerance_secs(), 30);
    assert_eq!(wasm::qr_svg_module_px(), 8);
    assert_eq!(wasm::qr_module_px(), 7);
    assert_eq!(wasm::qr_min_module_px(), 6);
}

#[wasm_bindgen_test]
fn spec_otpauth_examples_byte_for_byte() {
    for (issuer, account, secret, uri) in CPANEL_URIS {
        assert_eq!(wasm::build_otpauth(issuer, account, secret).unwrap(), uri);
        let p = wasm::parse_otpauth(uri).unwrap();
        assert_eq!(get(&p, "issuer").as_string().unwrap(), issuer);
        assert_eq!(get(&p, "account").as_string().unwrap(), account);
        assert_eq!(get(&p, "secret").as_string().unwrap(), secret);
        assert_eq!(get(&p, "digits").as_f64().unwrap(), 6.0);
        assert_eq!(get(&p, "kind").as_string().unwrap(), "totp");
    }
    let p =
        wasm::parse_otpauth("otpauth://hotp/A%3Ab?secret=mzxw6yq%3D&counter=7&issuer=C+D").unwrap();
    assert_eq!(get(&p, "issuer").as_string().unwrap(), "C D");
    assert_eq!(get(&p, "labelIssuer").as_string().unwrap(), "A");
    assert_eq!(get(&p, "secret").as_string().unwrap(), "MZXW6YQ");
    assert_eq!(get(&p, "counter").as_f64().unwrap(), 7.0);
}

#[wasm_bindgen_test]
fn qr_svg_is_an_svg_and_renders_in_the_dom() {
    let svg = wasm::qr_svg(CPANEL_URIS[0].3).unwrap();
    assert!(svg.contains("<svg") && svg.contains("crispEdges"));
    // Parse it as the browser would and check its intrinsic size: the modules plus 2 x 4 quiet
    // modules, at 8 px each, so a multiple of 8.
    let doc = web_sys::window().unwrap().document().unwrap();
    let div = doc.create_element("div").unwrap();
    div.set_inner_html(&svg);
    let el = div
        .query_selector("svg")
        .unwrap()
        .expect("an <svg> element");
    let width: u32 = el.get_attribute("width").unwrap().parse().unwrap();
    assert_eq!(width % 8, 0);
    assert!(
        width / 8 >= 21 + 8,
        "at least a version-1 code plus the quiet zone"
    );
    // Same output as the native build (golden file).
    assert_eq!(svg, include_str!("golden/cpanel-uapi-example.svg"));
}

#[wasm_bindgen_test]
fn new_secrets_are_random_cpanel_secrets() {
    let a = wasm::new_secret().unwrap();
    let b = wasm::new_secret().unwrap();
    assert_eq!(a.len(), 16);
    assert!(
        a.chars()
            .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c)),
        "{a}"
    );
    assert_ne!(a, b);
    let now = wasm::now_secs();
    assert!(now > 1.6e9, "browser clock {now}");
}

#[wasm_bindgen_test]
fn errors_are_readable_and_never_panic() {
    let e = message(wasm::current_code("JBSWY3DPEHPK3PX1", 0.0).unwrap_err());
    assert!(e.contains("“1”") && e.contains("position 16"), "{e}");
    let e = message(wasm::current_code("", 0.0).unwrap_err());
    assert_eq!(e, "The secret is empty.");
    let e = message(wasm::current_code("JBSWY3DPEHPK3PXP", f64::NAN).unwrap_err());
    assert_eq!(e, "The time is out of range.");
    assert!(wasm::current_code("JBSWY3DPEHPK3PXP", -1.0).is_err());
    assert!(wasm::current_code("JBSWY3DPEHPK3PXP", f64::INFINITY).is_err());
    let e = message(wasm::build_otpauth("X", "a", "JBSW=").unwrap_err());
    assert!(e.contains("padding"), "{e}");
    let e = message(wasm::parse_otpauth("https://example.com").unwrap_err());
    assert!(e.starts_with("Invalid otpauth URI"), "{e}");
    let e = message(wasm::qr_svg(&"A".repeat(5000)).unwrap_err());
    assert!(e.contains("too long"), "{e}");
    let e = message(wasm::normalize_issuer("Example WebPros International, LLC").unwrap_err());
    assert!(e.contains("“,”"), "{e}");
    assert_eq!(
        wasm::normalize_issuer("'My Host'").unwrap().as_deref(),
        Some("My Host")
    );
    assert_eq!(wasm::normalize_issuer("").unwrap(), None);
    assert_eq!(wasm::clean_token("123 456"), "123456");
    // A window or search that would hash for minutes is refused, not run.
    let e =
        message(wasm::verify_code(RFC_SECRET, "123456", 0.0, Some(u32::MAX), None).unwrap_err());
    assert_eq!(
        e,
        "A window or search may span at most 120 steps either side."
    );
    assert!(wasm::find_drift(RFC_SECRET, "123456", 0.0, Some(121)).is_err());
    assert!(wasm::find_drift(RFC_SECRET, "123456", 0.0, Some(120)).is_ok());
    assert_eq!(
        wasm::group_secret("jbswy3dpehpk3pxp").unwrap(),
        "JBSW Y3DP EHPK 3PXP"
    );
}
