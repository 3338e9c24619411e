//! The enrollment flow, step by step as a person would go through it: log in, set up, the
//! layout on a 1280×720 screen, the QR decoded from a screenshot, the manual key and copy, the
//! code, the recovery codes' gate, reload, reconfigure with a wrong code, a drifted code,
//! remove; and no foreign origin.

use serde_json::json;

use tfa::core::OtpAuth;

use super::oracle::{code_now, decode_qr_png};
use super::recovery::{codes_on_screen, pass_recovery_gate};
use super::{login, Browser, Target, RECORD_FETCHES};

/// The whole flow, as a person would go through it.
pub async fn enrollment_flow(b: &mut Browser, t: &Target<'_>) {
    const P: &str = "flow";
    // 1. Log in; the page under /cpsessNNNNNNNNNN/ shows the status.
    let prefix = login(b, t).await;
    b.wait_state("status").await;
    let state = b.shadow("[data-ref=stateText]").await.text().await.unwrap();
    assert!(state.contains("not set up"), "{state}");
    b.screenshot(P, "status-off").await;

    // The API base comes from the location's cpsess prefix.
    let base = b
        .js("return document.querySelector('tfa-enrollment').apiBase;")
        .await;
    assert_eq!(base, json!(prefix));

    // 2. Set up.
    let (otpauth, secret) = super::start_setup(b).await;
    assert_eq!(secret.len(), 16);

    // Layout: the QR and the code field both fit on a 1280×720 screen, at ≥ 6 px per module.
    let (vw, vh) = (
        b.js("return innerWidth;").await.as_f64().unwrap(),
        b.js("return innerHeight;").await.as_f64().unwrap(),
    );
    assert!(vw <= 1280.0 && vh <= 720.0, "viewport {vw}×{vh}");
    let qr = b.shadow(".qr svg").await;
    let (qx, qy, qw, qh) = qr.rectangle().await.unwrap();
    let modules = b
        .js("return Number(document.querySelector('tfa-enrollment').shadowRoot.querySelector('.qr svg').getAttribute('width')) / 8;")
        .await
        .as_f64()
        .unwrap();
    assert!(qw / modules >= 6.0, "{} px per module", qw / modules);
    let code_field = b.shadow("#tfa-code").await;
    let (cx, cy, cw, ch) = code_field.rectangle().await.unwrap();
    for (what, x, y, w, h) in [("QR", qx, qy, qw, qh), ("code field", cx, cy, cw, ch)] {
        assert!(
            x >= 0.0 && y >= 0.0 && x + w <= vw && y + h <= vh,
            "{what} at {x},{y} {w}×{h} is off a {vw}×{vh} screen"
        );
    }
    assert_eq!(
        code_field.attr("inputmode").await.unwrap().as_deref(),
        Some("numeric")
    );
    assert_eq!(
        code_field.attr("autocomplete").await.unwrap().as_deref(),
        Some("one-time-code")
    );

    // 3. Decode the QR in a screenshot with an independent decoder.
    let png = b.screenshot(P, "scan").await;
    assert_eq!(
        decode_qr_png(&png),
        vec![otpauth.clone()],
        "the QR on screen"
    );
    let decoded = OtpAuth::parse(&otpauth).unwrap();
    assert_eq!(decoded.secret.expose(), secret);

    // The manual key: account, issuer, key in groups of four.
    b.click_shadow("[data-ref=manual] summary").await;
    let key = b.shadow("[data-ref=key]").await.text().await.unwrap();
    assert_eq!(key.replace(' ', ""), secret);
    assert!(key.split(' ').all(|g| g.len() == 4), "{key}");
    let account = b.shadow("[data-ref=account]").await.text().await.unwrap();
    assert_eq!(account, t.user);
    let link = b
        .shadow("[data-ref=otpauthLink]")
        .await
        .attr("href")
        .await
        .unwrap();
    assert_eq!(link.as_deref(), Some(otpauth.as_str()));
    b.screenshot(P, "manual-key").await;

    // Copy: the unspaced key goes to the clipboard, and the page says so...
    assert_eq!(b.copied_by("[data-action=copy]").await, json!(secret));
    let said = b.shadow("[data-ref=status]").await.text().await.unwrap();
    assert!(said.contains("copied"), "{said}");
    // ...and when the browser refuses, the page says that and selects the key for Ctrl+C.
    b.js("Object.defineProperty(navigator, 'clipboard', { configurable: true, value: \
            { writeText: () => Promise.reject(new DOMException('denied', 'NotAllowedError')) } }); return 1;")
        .await;
    b.click_shadow("[data-action=copy]").await;
    b.alert_with("did not allow copying", "the refusal").await;
    let selected = b
        .js(
            "const r = document.querySelector('tfa-enrollment').shadowRoot; \
             return (r.getSelection ? r.getSelection() : getSelection()).toString();",
        )
        .await;
    assert_eq!(
        selected.as_str().unwrap().replace(' ', ""),
        secret,
        "the key is selected"
    );

    // 4. Type the current code, pasted with a space; the recovery codes, shown once, and
    // their gate; then the success state, which no longer says there are no backup codes.
    let code = code_now(&secret, 0);
    let typed = format!("{} {}", &code[..3], &code[3..]);
    code_field.send_keys(&typed).await.unwrap();
    b.click_shadow("[data-ref=confirm]").await;
    b.wait_state("recovery").await;
    codes_on_screen(b).await;
    pass_recovery_gate(b).await;
    b.wait_state("done").await;
    let done = b
        .js("return document.querySelector('tfa-enrollment').shadowRoot.querySelector('[data-view=done]').innerText;")
        .await;
    assert!(
        !done.as_str().unwrap().contains("no backup codes"),
        "{done}"
    );
    b.screenshot(P, "done").await;

    // 5. Reload: enabled, and the server's own CLI agrees.
    b.client.refresh().await.unwrap();
    b.wait_state("status").await;
    let state = b.shadow("[data-ref=stateText]").await.text().await.unwrap();
    assert!(state.contains("is enabled"), "{state}");
    let configs = (t.whm_configs)();
    assert_eq!(configs["data"][t.user]["is_enabled"], json!(1), "{configs}");

    // 6. Reconfigure (with its warning), then a wrong code: the server's message, verbatim.
    b.js(RECORD_FETCHES).await;
    b.js("window.__tfaGenerated = null; return 1;").await;
    b.click_shadow("[data-action=reconfigure]").await;
    b.wait_state("setup").await;
    b.wait_js("window.__tfaGenerated", "the generate response")
        .await;
    assert!(b
        .shadow("[data-ref=reconfigureWarning]")
        .await
        .is_displayed()
        .await
        .unwrap());
    let generated = b.js("return window.__tfaGenerated;").await;
    let secret2 = generated["data"]["secret"].as_str().unwrap().to_owned();
    let wrong = super::oracle::wrong_code_now(&secret2);
    let field = b.shadow("#tfa-code").await;
    field.send_keys(&wrong).await.unwrap();
    b.click_shadow("[data-ref=confirm]").await;
    let alert = b.alert_with("", "the server's error").await;
    assert_eq!(
        alert.lines().next(),
        Some("Failed to set user configuration: The security code is invalid."),
    );
    b.screenshot(P, "wrong-code").await;

    // 7. A code from 3 minutes ahead: the drift hint, and nothing is sent.
    let sent_before = b.js("return window.__tfaCalls.length;").await;
    let ahead = code_now(&secret2, 180);
    field.clear().await.unwrap();
    field.send_keys(&ahead).await.unwrap();
    b.click_shadow("[data-ref=confirm]").await;
    let alert = b.alert_with("ahead", "the drift hint").await;
    assert!(alert.contains("about 3 minutes ahead"), "{alert}");
    assert_eq!(
        b.js("return window.__tfaCalls.length;").await,
        sent_before,
        "no request for a drifted code"
    );
    b.screenshot(P, "drift").await;

    // 8. Remove, after a confirmation.
    b.click_shadow("[data-action=cancel-setup]").await;
    b.wait_state("status").await;
    b.click_shadow("[data-action=ask-remove]").await;
    assert!(b
        .shadow("[data-ref=removeConfirm]")
        .await
        .is_displayed()
        .await
        .unwrap());
    b.screenshot(P, "confirm-remove").await;
    b.click_shadow("[data-action=remove]").await;
    b.wait_js(
        "document.querySelector('tfa-enrollment').shadowRoot.querySelector('[data-ref=stateText]').textContent.includes('not set up')",
        "the removed state",
    )
    .await;
    let configs = (t.whm_configs)();
    assert_eq!(configs["data"][t.user]["is_enabled"], json!(0), "{configs}");

    // No bundler, no CDN: every resource the page loaded came from its own origin.
    let foreign = b
        .js("return performance.getEntriesByType('resource').map(e => e.name).filter(u => new URL(u).origin !== location.origin);")
        .await;
    assert_eq!(foreign, json!([]), "requests outside the page's origin");
    let loaded = b
        .js("return performance.getEntriesByType('resource').map(e => new URL(e.name).pathname.split('/').pop());")
        .await;
    for file in ["app.js", "style.css", "tfa.js", "tfa_bg.wasm"] {
        assert!(
            loaded.as_array().unwrap().iter().any(|f| f == file),
            "{file} not loaded: {loaded}"
        );
    }

    b.assert_quiet_console().await;
}
