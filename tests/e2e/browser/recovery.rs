//! Recovery codes on the page: the codes shown once after set-up, Copy, Download (the real
//! file, from Chromium's download directory), Print with pop-ups blocked, the "I have saved
//! these codes" gate, the count on the status view, a login with a recovery code that works
//! once and never twice, and new codes behind a security-code prompt that retire the old ones.

use std::collections::HashSet;
use std::time::Duration;

use fantoccini::Locator;
use serde_json::json;

use tfa_e2e::now as now_secs;

use super::oracle::code_now;
use super::{login, Browser, Target, ALERT_TEXT};

/// Crockford's base32: digits and capitals without I, L, O and U.
const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// `XXXXX-XXXXX` in Crockford's alphabet (checked by hand, without a regex).
pub(super) fn is_recovery_code(s: &str) -> bool {
    s.len() == 11
        && s.char_indices().all(|(i, c)| {
            if i == 5 {
                c == '-'
            } else {
                ALPHABET.contains(c)
            }
        })
}

/// The codes the recovery view shows: ten, well formed, all different.
pub(super) async fn codes_on_screen(b: &Browser) -> Vec<String> {
    let shown = b
        .js(
            "return [...document.querySelector('tfa-enrollment').shadowRoot \
             .querySelectorAll('[data-ref=recoveryCodes] li code')].map(c => c.textContent);",
        )
        .await;
    let codes: Vec<String> = shown
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10, "{codes:?}");
    for c in &codes {
        assert!(
            is_recovery_code(c),
            "not XXXXX-XXXXX in Crockford's alphabet: {c:?}"
        );
    }
    let distinct: HashSet<&String> = codes.iter().collect();
    assert_eq!(distinct.len(), codes.len(), "repeated codes: {codes:?}");
    // Shown left to right whatever the page's direction, and selectable.
    let list = b.shadow("[data-ref=recoveryCodes]").await;
    assert_eq!(list.attr("dir").await.unwrap().as_deref(), Some("ltr"));
    let select = b
        .js(
            "return getComputedStyle(document.querySelector('tfa-enrollment').shadowRoot \
             .querySelector('[data-ref=recoveryCodes] code')).userSelect;",
        )
        .await;
    assert_ne!(select, json!("none"));
    codes
}

/// The "I have saved these codes" gate: Continue is disabled until the box is ticked, then
/// enabled; Continue is clicked. The codes leave the page with the view.
pub(super) async fn pass_recovery_gate(b: &Browser) {
    let cont = b.shadow("[data-action=continue-recovery]").await;
    let saved = b.shadow("#tfa-recovery-saved").await;
    assert_eq!(
        saved.attr("type").await.unwrap().as_deref(),
        Some("checkbox")
    );
    assert!(!saved.is_selected().await.unwrap());
    assert!(
        !cont.is_enabled().await.unwrap(),
        "Continue before “I have saved these codes”"
    );
    saved.click().await.unwrap();
    assert!(saved.is_selected().await.unwrap());
    assert!(
        cont.is_enabled().await.unwrap(),
        "Continue once the box is ticked"
    );
    cont.click().await.unwrap();
    b.wait_js(
        "document.querySelector('tfa-enrollment').getAttribute('state') !== 'recovery'",
        "leaving the recovery view",
    )
    .await;
    let left = b
        .js(
            "const r = document.querySelector('tfa-enrollment').shadowRoot; \
             return [r.querySelectorAll('[data-ref=recoveryCodes] *').length, \
                     r.querySelector('#tfa-recovery-saved').checked];",
        )
        .await;
    assert_eq!(left, json!([0, false]), "the codes stay behind in the DOM");
}

/// The status view's count sentence (the block must be showing).
async fn count_text(b: &Browser) -> String {
    let block = b.shadow("[data-ref=recoveryStatus]").await;
    assert!(
        block.is_displayed().await.unwrap(),
        "no recovery-code block"
    );
    b.shadow("[data-ref=recoveryCount]")
        .await
        .text()
        .await
        .unwrap()
}

/// Waits until the current TOTP step is later than `used_step` and has at least 8 s left, so
/// that a code computed now is neither a replay nor judged in the next step.
async fn fresh_step_after(used_step: u64) {
    loop {
        let now = now_secs();
        if now / 30 > used_step && 30 - now % 30 >= 8 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Logs out, logs in with the password, and gives `code` in the security-code step's "Use a
/// recovery code" form (typed, as a person would). Ok(the page's "codes left" sentence) once
/// "Continue" has led to the page under /cpsessNNNNNNNNNN/; Err(the login page's refusal) when
/// the code was refused, with the security-code step still showing.
async fn login_with_code(b: &Browser, t: &Target<'_>, code: &str) -> Result<String, String> {
    b.client
        .goto(&format!("{}/logout", t.base_url))
        .await
        .unwrap();
    b.client
        .goto(&format!("{}/login", t.base_url))
        .await
        .unwrap();
    let form = b.client.form(Locator::Css("#login_form")).await.unwrap();
    form.set_by_name("user", t.user).await.unwrap();
    form.set_by_name("pass", t.pass).await.unwrap();
    form.submit().await.unwrap();
    b.wait_js(
        "document.getElementById('tfa_recovery_form') && !document.getElementById('login_form')",
        "the security-code step (is the policy on?)",
    )
    .await;
    b.click_css("details.recovery summary").await;
    let field = b.client.find(Locator::Css("#recovery_code")).await.unwrap();
    field.send_keys(code).await.unwrap();
    b.click_css("#tfa_recovery_form button[type=submit]").await;
    b.wait_js(
        "document.getElementById('continue') || document.querySelector('p.error')",
        "the verdict on a recovery code at the security-code step",
    )
    .await;
    let refusal = b
        .js("const e = document.querySelector('p.error'); return e ? e.textContent : null;")
        .await;
    if let Some(text) = refusal.as_str() {
        let still_code_step = b
            .js("return !!document.getElementById('tfa_recovery_form');")
            .await;
        assert_eq!(still_code_step, json!(true), "{text}");
        return Err(text.to_owned());
    }
    let left = b
        .client
        .find(Locator::Css("#recovery_left"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    b.click_css("#continue").await;
    b.wait_js(
        "/\\/cpsess\\d{10}\\//.test(location.pathname)",
        "the cpsess page after Continue",
    )
    .await;
    Ok(left)
}

/// The whole recovery-code story on the page; returns every code it saw (for the log check).
/// `whmapi1` runs a WHM API 1 function on the server's store.
pub async fn recovery_codes(
    b: &mut Browser,
    t: &Target<'_>,
    whmapi1: &dyn Fn(&str),
) -> Vec<String> {
    const P: &str = "recovery";
    // 1. Set up (policy off: the password alone logs in).
    login(b, t).await;
    b.wait_state("status").await;
    // 2FA off: no recovery-code block.
    assert!(!b
        .shadow("[data-ref=recoveryStatus]")
        .await
        .is_displayed()
        .await
        .unwrap());
    let (_, secret) = super::start_setup(b).await;
    let enrolled_step = now_secs() / 30;
    let code = code_now(&secret, 0);
    b.shadow("#tfa-code").await.send_keys(&code).await.unwrap();
    b.click_shadow("[data-ref=confirm]").await;

    // 2. The recovery view, focus on its heading, ten codes.
    b.wait_state("recovery").await;
    assert_eq!(b.focused().await, "recoveryTitle");
    let codes = codes_on_screen(b).await;
    b.screenshot(P, "recovery-codes").await;

    // Copy: the codes, one a line.
    assert_eq!(
        b.copied_by("[data-action=copy-codes]").await,
        json!(codes.join("\n"))
    );

    // Download: the real file, saved by Chromium into the browser's download directory (the
    // driver sets it in goog:chromeOptions' prefs), read back from disk.
    b.click_shadow("[data-action=download-codes]").await;
    let name = format!("recovery-codes-{}.txt", t.user);
    let file = String::from_utf8(b.downloaded(&name).await).unwrap();
    let in_file: Vec<&str> = file
        .lines()
        .map(str::trim)
        .filter(|l| is_recovery_code(l))
        .collect();
    assert_eq!(in_file, codes, "the codes in {name}:\n{file}");
    assert!(file.lines().next().unwrap().contains(t.user), "{file}");
    assert!(file.contains("once"), "{file}");
    let said = b.shadow("[data-ref=status]").await.text().await.unwrap();
    assert!(said.contains(&name), "{said}");

    // Print with pop-ups blocked: said in the alert, nothing thrown.
    b.js("window.open = () => null; return 1;").await;
    b.click_shadow("[data-action=print-codes]").await;
    b.alert_with("blocked the print window", "the blocked pop-up's message")
        .await;
    assert_eq!(
        b.js("return document.querySelector('tfa-enrollment').getAttribute('state');")
            .await,
        json!("recovery")
    );

    // 3. The gate, then done, which no longer says there are no backup codes.
    pass_recovery_gate(b).await;
    b.wait_state("done").await;
    let done = b
        .js("return document.querySelector('tfa-enrollment').shadowRoot.querySelector('[data-view=done]').innerText;")
        .await;
    let done = done.as_str().unwrap();
    assert!(!done.contains("no backup codes"), "{done}");
    assert!(done.contains("recovery codes"), "{done}");
    assert!(b.js(ALERT_TEXT).await.is_null(), "no alert left on done");
    b.assert_quiet_console().await;

    // 4. Status: all ten left, no warning.
    b.click_shadow("[data-action=back]").await;
    b.wait_state("status").await;
    assert_eq!(count_text(b).await, "10 recovery codes left.");
    assert!(!b
        .shadow("[data-ref=recoveryLow]")
        .await
        .is_displayed()
        .await
        .unwrap());

    // 5. With the policy on, the login's security-code step takes a recovery code, once.
    whmapi1("twofactorauth_enable_policy");
    let left = login_with_code(b, t, &codes[0])
        .await
        .unwrap_or_else(|e| panic!("a fresh recovery code refused: {e}"));
    assert!(left.contains("9 recovery codes left"), "{left}");
    b.wait_state("status").await;
    assert_eq!(count_text(b).await, "9 recovery codes left.");
    let again = login_with_code(b, t, &codes[0]).await;
    assert!(again.is_err(), "a used recovery code logged in again");
    // The next login takes another code of the set.
    login_with_code(b, t, &codes[1])
        .await
        .unwrap_or_else(|e| panic!("a second recovery code refused: {e}"));
    b.wait_state("status").await;
    assert_eq!(count_text(b).await, "8 recovery codes left.");

    // 6. New codes, behind the current security code: a wrong one is refused by the server...
    b.click_shadow("[data-action=ask-regenerate]").await;
    assert!(b
        .shadow("[data-ref=regenForm]")
        .await
        .is_displayed()
        .await
        .unwrap());
    assert_eq!(b.focused().await, "regenCode");
    let wrong = super::oracle::wrong_code_now(&secret);
    let field = b.shadow("#tfa-regen-code").await;
    field.send_keys(&wrong).await.unwrap();
    b.click_shadow("[data-ref=regenSubmit]").await;
    let alert = b.alert_with("", "the server's refusal").await;
    assert!(alert.contains("security code is invalid"), "{alert}");
    assert_eq!(
        b.js("return document.querySelector('tfa-enrollment').getAttribute('state');")
            .await,
        json!("status")
    );
    // ...a fresh one (a step after the enrollment's, which is used up) makes a new set.
    fresh_step_after(enrolled_step).await;
    field.clear().await.unwrap();
    let fresh = code_now(&secret, 0);
    field
        .send_keys(&format!("{} {}", &fresh[..3], &fresh[3..]))
        .await
        .unwrap();
    b.click_shadow("[data-ref=regenSubmit]").await;
    b.wait_state("recovery").await;
    let new_codes = codes_on_screen(b).await;
    assert!(
        new_codes.iter().all(|c| !codes.contains(c)),
        "an old code in the new set"
    );
    pass_recovery_gate(b).await;
    b.wait_state("status").await;
    let said = b.shadow("[data-ref=status]").await.text().await.unwrap();
    assert_eq!(
        said,
        "New recovery codes were made; the old ones no longer work."
    );
    assert_eq!(count_text(b).await, "10 recovery codes left.");
    assert_eq!(b.focused().await, "tfa-title");

    // 7. An old, unused code no longer logs in; a new one does.
    let old = login_with_code(b, t, &codes[2]).await;
    assert!(
        old.is_err(),
        "an old recovery code logged in after regeneration"
    );
    login_with_code(b, t, &new_codes[0])
        .await
        .unwrap_or_else(|e| panic!("a new recovery code refused: {e}"));
    b.wait_state("status").await;
    assert_eq!(count_text(b).await, "9 recovery codes left.");

    // The refused logins answer 401, which Chromium logs; nothing else may.
    let errors = b.console_errors().await;
    assert!(
        errors.iter().all(|e| e.contains("status of 401")),
        "console errors: {errors:#?}"
    );
    codes.into_iter().chain(new_codes).collect()
}
