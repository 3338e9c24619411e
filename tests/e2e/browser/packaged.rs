//! The enrollment flow on a page that a package put somewhere else than www/: the cPanel
//! plugin under `/cpsessNNNNNNNNNN/frontend/jupiter/tfa/`, the npm package under a host
//! project's `node_modules/`, or an esbuild bundle of it. Set up (the QR decoded from a
//! screenshot with rqrr, the code from the test kit's TOTP), the recovery codes' gate, the
//! server's own view, removal; every file from where the package put it, the wasm module
//! served as application/wasm, and no console error.

use std::time::{Duration, Instant};

use serde_json::json;

use super::oracle::decode_qr_png;
use super::recovery::pass_recovery_gate;
use super::{Browser, Target};

/// Runs the flow on `page` (a path under the session's `/cpsessNNNNNNNNNN/` prefix, which
/// `prefix` is), expecting the element's files under `files_at` (same form), e.g.
/// `frontend/jupiter/tfa/`. `shots` names the screenshots.
pub async fn flow_on_page(
    b: &mut Browser,
    t: &Target<'_>,
    prefix: &str,
    page: &str,
    files_at: &str,
    shots: &str,
) {
    b.client
        .goto(&format!("{}{prefix}{page}", t.base_url))
        .await
        .unwrap();
    b.wait_state("status").await;
    // No configuration: the API base is the session's prefix, found from the location.
    let base = b
        .js("return document.querySelector('tfa-enrollment').apiBase;")
        .await;
    assert_eq!(base, json!(prefix), "the element's API base on {page}");

    // Set up: the QR on screen, decoded by an independent decoder, is the server's otpauth URI.
    let (otpauth, secret) = super::start_setup(b).await;
    let png = b.screenshot(shots, "scan").await;
    assert_eq!(decode_qr_png(&png), vec![otpauth], "the QR on screen");

    // The code, from the test kit's TOTP (written apart from the core).
    let code = tfa_testkit::code(&secret, tfa_e2e::now());
    b.shadow("#tfa-code").await.send_keys(&code).await.unwrap();
    b.click_shadow("[data-ref=confirm]").await;
    b.wait_state("recovery").await;
    pass_recovery_gate(b).await;
    b.wait_state("done").await;
    b.screenshot(shots, "done").await;
    let configs = (t.whm_configs)();
    assert_eq!(configs["data"][t.user]["is_enabled"], json!(1), "{configs}");

    // Reload (the page comes back enabled), then remove.
    b.client.refresh().await.unwrap();
    b.wait_state("status").await;
    b.click_shadow("[data-action=ask-remove]").await;
    b.click_shadow("[data-action=remove]").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let configs = (t.whm_configs)();
        if configs["data"][t.user]["is_enabled"] == json!(0) {
            break;
        }
        assert!(Instant::now() < deadline, "not removed: {configs}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    b.wait_state("status").await;

    // Every file the element needs came from where the package put it, on this origin.
    let loaded = b
        .js("return performance.getEntriesByType('resource').map(e => new URL(e.name)).filter(u => u.origin === location.origin).map(u => u.pathname);")
        .await;
    let loaded: Vec<&str> = loaded
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for file in ["style.css", "tfa_bg.wasm"] {
        assert!(
            loaded
                .iter()
                .any(|p| p.starts_with(&format!("{prefix}{files_at}")) && p.ends_with(file)),
            "{file} not loaded from {prefix}{files_at}: {loaded:?}"
        );
    }
    let foreign = b
        .js("return performance.getEntriesByType('resource').map(e => e.name).filter(u => new URL(u).origin !== location.origin);")
        .await;
    assert_eq!(foreign, json!([]), "requests outside the page's origin");
    // The wasm module is served as application/wasm (streaming compilation needs it).
    let wasm = loaded
        .iter()
        .find(|p| p.ends_with("tfa_bg.wasm"))
        .unwrap()
        .to_string();
    let mime = b
        .js(&format!(
            "return fetch({}).then(r => [r.status, r.headers.get('content-type')]);",
            serde_json::to_string(&wasm).unwrap()
        ))
        .await;
    assert_eq!(mime, json!([200, "application/wasm"]), "{wasm}");
    b.assert_quiet_console().await;
}

/// The HTTP status of a same-origin GET from the page (with the session's cookie).
pub async fn status_of(b: &Browser, path: &str) -> u64 {
    b.js(&format!(
        "return fetch({}, {{ redirect: 'manual' }}).then(r => r.status);",
        serde_json::to_string(path).unwrap()
    ))
    .await
    .as_u64()
    .unwrap()
}
