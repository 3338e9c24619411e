//! Accessibility: axe-core over the page's states, the whole flow by keyboard alone (focus
//! order included, through the recovery codes' gate), labels on every control and aria-live
//! messages.

use serde_json::{json, Value};

use tfa_e2e::workspace_root;

use super::driver::{ENTER, SHIFT_DOWN, SHIFT_UP, TAB};
use super::oracle::code_now;
use super::{login, Browser, Target, RECORD_FETCHES};

/// axe-core (from npm) in Chromium over the page's states: no serious or critical violation.
pub async fn accessibility(b: &mut Browser, t: &Target<'_>) {
    let axe_path = workspace_root().join("tests/node_modules/axe-core/axe.min.js");
    let axe = std::fs::read_to_string(&axe_path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `cargo xtask setup`", axe_path.display()));
    login(b, t).await;
    b.wait_state("status").await;
    axe_check(b, &axe, "status").await;
    b.js(RECORD_FETCHES).await;

    // Keyboard alone, the whole way: Tab to "Set up", Enter; focus lands in the code field.
    let mut tabs = 0;
    while b.focused().await != "setup" {
        b.keys(&[TAB]).await;
        tabs += 1;
        assert!(tabs < 10, "Tab never reached the set-up button");
    }
    b.keys(&[ENTER]).await;
    b.wait_state("setup").await;
    assert_eq!(b.focused().await, "code");
    // Shift+Tab goes back to "Can't scan it?"; Enter opens it.
    b.keys(&[SHIFT_DOWN, TAB, SHIFT_UP]).await;
    assert_eq!(b.focused().await, "summary");
    b.keys(&[ENTER]).await;
    assert!(b
        .shadow("[data-ref=manual]")
        .await
        .prop("open")
        .await
        .unwrap()
        .is_some());
    axe_check(b, &axe, "setup").await;
    // Forward again: the copy button, the otpauth link, the code field, the confirm button.
    let mut order = Vec::new();
    for _ in 0..4 {
        b.keys(&[TAB]).await;
        order.push(b.focused().await);
    }
    assert_eq!(order, ["copy", "otpauthLink", "code", "confirm"]);
    // Back to the field, type the code, Enter submits.
    b.keys(&[SHIFT_DOWN, TAB, SHIFT_UP]).await;
    b.wait_js("window.__tfaGenerated", "the generate response")
        .await;
    let secret = b.js("return window.__tfaGenerated.data.secret;").await;
    let code = code_now(secret.as_str().unwrap(), 0);
    let mut typed: Vec<char> = code.chars().collect();
    typed.push(ENTER);
    b.keys(&typed).await;
    // The recovery codes: focus on the view's heading, then Copy, Download, Print and the
    // checkbox; Continue is out of the way (disabled) until Space ticks the box.
    b.wait_state("recovery").await;
    assert_eq!(b.focused().await, "recoveryTitle");
    axe_check(b, &axe, "recovery").await;
    let mut order = Vec::new();
    for _ in 0..4 {
        b.keys(&[TAB]).await;
        order.push(b.focused().await);
    }
    assert_eq!(
        order,
        [
            "copy-codes",
            "download-codes",
            "print-codes",
            "recoverySaved"
        ]
    );
    assert!(!b
        .shadow("[data-action=continue-recovery]")
        .await
        .is_enabled()
        .await
        .unwrap());
    b.keys(&[' ']).await;
    assert!(b
        .shadow("#tfa-recovery-saved")
        .await
        .is_selected()
        .await
        .unwrap());
    b.keys(&[TAB]).await;
    assert_eq!(b.focused().await, "continue-recovery");
    b.keys(&[ENTER]).await;
    b.wait_state("done").await;
    assert_eq!(b.focused().await, "doneText");
    axe_check(b, &axe, "done").await;

    // The status view with 2FA on: the recovery codes left, and the new-codes prompt.
    b.click_shadow("[data-action=back]").await;
    b.wait_state("status").await;
    assert!(b
        .shadow("[data-ref=recoveryStatus]")
        .await
        .is_displayed()
        .await
        .unwrap());
    b.click_shadow("[data-action=ask-regenerate]").await;
    assert_eq!(b.focused().await, "regenCode");
    axe_check(b, &axe, "status, new recovery codes").await;

    // Every control has a label (an accessible name).
    let unlabeled = b
        .js("const r = document.querySelector('tfa-enrollment').shadowRoot; \
             return [...r.querySelectorAll('input, button')].filter(e => !(e.labels?.length || e.getAttribute('aria-label') || e.textContent.trim())).length;")
        .await;
    assert_eq!(unlabeled, json!(0));
    // Messages go to aria-live regions.
    let live = b
        .js("const r = document.querySelector('tfa-enrollment').shadowRoot; \
             return [r.querySelector('[data-ref=status]').getAttribute('aria-live'), r.querySelector('[data-ref=alert]').getAttribute('role')];")
        .await;
    assert_eq!(live, json!(["polite", "alert"]));
    b.assert_quiet_console().await;
}

/// Runs axe-core over the document (it enters open shadow roots) and fails on any serious or
/// critical violation. `preload: false`: axe's CSSOM preload copies each stylesheet into an
/// inline `<style>`, which the server's Content-Security-Policy (`style-src 'self'`) blocks
/// and reports on the console; the one rule that reads it (css-orientation-lock) has no media
/// query to look at in the page's CSS.
async fn axe_check(b: &Browser, axe: &str, label: &str) {
    b.js(&format!("{axe}\nreturn true;")).await;
    let result = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'], preload: false })
                .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length }))))
                .catch(e => done([{ id: 'axe-error', impact: 'critical', help: String(e) }]));",
            vec![],
        )
        .await
        .unwrap();
    let bad: Vec<&Value> = result
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .collect();
    assert!(bad.is_empty(), "axe, {label}: {bad:#?}");
}
