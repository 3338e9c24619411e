//! The custom element on a plain host page (`embed.html`): refused outside the cpsess path,
//! styles scoped but themable, `apiBaseFor`, the clock-skew warning, the refusal of a QR
//! whose otpauth URI and secret disagree, and a real cPanel's answers (no recovery codes).

use serde_json::json;

use super::oracle::code_now;
use super::{login, Browser, Target, ALERT_TEXT};

/// A real cPanel, faked in the page: `set_user_configuration` answers without recovery codes
/// (and is not sent, so the server's store does not change), `get_user_configuration` then says
/// enabled, and the `TfaRecoveryCodes` module does not exist.
const FAKE_CPANEL: &str = r#"
const orig = window.fetch.bind(window);
const answer = (j) => new Response(JSON.stringify(j), { status: 200, headers: { 'Content-Type': 'application/json' } });
const ok = (data) => answer({ status: 1, errors: null, data, messages: null, warnings: null, metadata: {} });
window.__recoveryAsked = 0;
window.fetch = async (input, init) => {
  const url = String(input);
  if (url.includes('/execute/TfaRecoveryCodes/')) {
    window.__recoveryAsked += 1;
    return answer({ status: 0, errors: ['Failed to load module “TfaRecoveryCodes”.'], data: null, messages: null, warnings: null, metadata: {} });
  }
  if (url.includes('/set_user_configuration')) { window.__cpanelEnabled = true; return ok({ tfa_configured: 1 }); }
  if (url.includes('/get_user_configuration') && window.__cpanelEnabled) return ok({ is_enabled: 1, issuer: 'cPanel' });
  return orig(input, init);
};
return 1;"#;

/// The custom element on a plain host page: styles scoped, themable, and working.
pub async fn custom_element(b: &mut Browser, t: &Target<'_>) {
    let prefix = login(b, t).await;
    // Outside the session's cpsess path the server refuses the cookie alone ("Token denied");
    // the element says so and offers to try again instead of hanging on "Loading…".
    b.client
        .goto(&format!("{}/embed.html", t.base_url))
        .await
        .unwrap();
    b.wait_state("error").await;
    let alert = b.js(ALERT_TEXT).await;
    assert_eq!(alert, json!("Token denied"));
    assert!(b
        .shadow("[data-action=retry]")
        .await
        .is_displayed()
        .await
        .unwrap());
    let errors = b.console_errors().await;
    assert!(
        errors.iter().all(|e| e.contains("status of 403")),
        "only the refused API call may log: {errors:#?}"
    );
    b.client
        .goto(&format!("{}{prefix}embed.html", t.base_url))
        .await
        .unwrap();
    b.wait_state("status").await;
    // The host page's `button { background: hotpink }` does not leak in; its custom property does.
    let setup = b.shadow("[data-action=setup]").await;
    let bg = setup.css_value("background-color").await.unwrap();
    // WebDriver reports colours as rgba().
    assert_eq!(bg, "rgba(111, 45, 189, 1)", "themed by --tfa-accent");
    let host_h1 = b
        .js("return getComputedStyle(document.querySelector('h1')).fontFamily;")
        .await;
    assert!(host_h1.as_str().unwrap().contains("Georgia"));
    // apiBaseFor honours an explicit attribute over the location.
    let api = b
        .js("const el = document.createElement('div'); el.setAttribute('api-base', '/custom'); \
             return import(new URL('app.js', location.href)).then(m => [m.apiBaseFor(el), \
             m.apiBaseFor(document.createElement('div'), {pathname: '/cpsess0123456789/frontend/jupiter/tfa/index.html'}), \
             m.apiBaseFor(document.createElement('div'), {pathname: '/tfa/index.html'})]);")
        .await;
    assert_eq!(api, json!(["/custom/", "/cpsess0123456789/", "/"]));
    b.screenshot("embed", "custom-element").await;

    // A browser clock 2 minutes fast: the page compares it with the server's Date header.
    b.js("const real = Date.now; Date.now = () => real.call(Date) + 120000; return 1;")
        .await;
    b.click_shadow("[data-action=setup]").await;
    b.wait_state("setup").await;
    let warning = b.shadow("[data-ref=clockWarning]").await;
    assert!(warning.is_displayed().await.unwrap());
    let text = warning.text().await.unwrap();
    assert!(text.contains("seconds ahead of the server"), "{text}");
    b.screenshot("embed", "clock-warning").await;

    // A server whose otpauth URI and `secret` disagree (as in cPanel's own doc sample) would
    // make set-up impossible: the page refuses to show that QR and says why.
    b.click_shadow("[data-action=cancel-setup]").await;
    b.wait_state("status").await;
    b.js("const orig = window.fetch.bind(window); \
          window.fetch = async (input, init) => { \
            const res = await orig(input, init); \
            if (!String(input).includes('generate_user_configuration')) return res; \
            const j = await res.json(); j.data.secret = 'AAAAAAAAAAAAAAAA'; \
            return new Response(JSON.stringify(j), { status: res.status, headers: res.headers }); }; \
          return 1;")
        .await;
    b.click_shadow("[data-action=setup]").await;
    b.alert_with("differs", "the mismatch refusal").await;
    assert_eq!(
        b.js("return document.querySelector('tfa-enrollment').getAttribute('state');")
            .await,
        json!("status")
    );

    // On a real cPanel there are no recovery codes: done comes straight after the code and
    // sends the person to the administrator, and the status view shows no recovery block and
    // no error.
    b.client.refresh().await.unwrap();
    b.wait_state("status").await;
    b.js(FAKE_CPANEL).await;
    b.click_shadow("[data-action=setup]").await;
    b.wait_state("setup").await;
    let key = b
        .js("return document.querySelector('tfa-enrollment').shadowRoot.querySelector('[data-ref=key]').textContent;")
        .await;
    let secret = key.as_str().unwrap().replace(' ', "");
    b.shadow("#tfa-code")
        .await
        .send_keys(&code_now(&secret, 0))
        .await
        .unwrap();
    b.click_shadow("[data-ref=confirm]").await;
    b.wait_state("done").await;
    let done = b
        .js("return document.querySelector('tfa-enrollment').shadowRoot.querySelector('[data-view=done]').innerText;")
        .await;
    let done = done.as_str().unwrap();
    assert!(done.contains("ask your administrator"), "{done}");
    assert!(!done.contains("recovery code"), "{done}");
    assert!(!done.contains("no backup codes"), "{done}");
    b.click_shadow("[data-action=back]").await;
    b.wait_state("status").await;
    let state = b.shadow("[data-ref=stateText]").await.text().await.unwrap();
    assert!(state.contains("is enabled"), "{state}");
    assert_eq!(b.js("return window.__recoveryAsked;").await, json!(1));
    assert!(!b
        .shadow("[data-ref=recoveryStatus]")
        .await
        .is_displayed()
        .await
        .unwrap());
    assert!(
        b.js(ALERT_TEXT).await.is_null(),
        "no error for a missing module"
    );
    // The server was never told: a reload shows 2FA off again (the accessibility test that
    // follows starts from there).
    b.client.refresh().await.unwrap();
    b.wait_state("status").await;
    let state = b.shadow("[data-ref=stateText]").await.text().await.unwrap();
    assert!(state.contains("not set up"), "{state}");
    b.assert_quiet_console().await;
}
