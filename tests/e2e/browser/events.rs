//! The element's events and properties for host pages, in Chromium against the real server: a
//! listener on the host document hears tfa-statechange, tfa-error (a wrong code, with the
//! server's message), tfa-enabled and tfa-recovery-codes (with their details), and tfa-removed,
//! each bubbling and composed; `state` is read-only, `apiBase` reflects `api-base`, and
//! `refresh()` is a promise.

use serde_json::{json, Value};

use tfa::core::OtpAuth;

use super::i18n::EL;
use super::oracle::code_now;
use super::recovery::{codes_on_screen, pass_recovery_gate};
use super::start_setup;
use super::{login, Browser, Target};

/// Records every event of the element's on the document, from now on.
const LISTEN: &str = "
window.__events = [];
for (const type of ['tfa-statechange', 'tfa-enabled', 'tfa-removed', 'tfa-recovery-codes', 'tfa-error']) {
  document.addEventListener(type, (e) => window.__events.push({
    type: e.type, detail: e.detail, bubbles: e.bubbles, composed: e.composed,
    custom: e instanceof CustomEvent, second: e.target === window.__second,
  }));
}
return 1;";

/// The events recorded since the last call.
async fn events(b: &Browser) -> Vec<Value> {
    let v = b
        .js("const e = window.__events; window.__events = []; return e;")
        .await;
    let list = v.as_array().unwrap().clone();
    for e in &list {
        assert_eq!(
            (&e["bubbles"], &e["composed"], &e["custom"]),
            (&json!(true), &json!(true), &json!(true)),
            "{e}"
        );
    }
    list
}

/// The (type, detail) pairs of recorded events.
fn pairs(list: &[Value]) -> Vec<(String, Value)> {
    list.iter()
        .map(|e| (e["type"].as_str().unwrap().to_owned(), e["detail"].clone()))
        .collect()
}

fn statechange(state: &str, previous: Value) -> (String, Value) {
    (
        "tfa-statechange".to_owned(),
        json!({ "state": state, "previous": previous }),
    )
}

pub async fn host_events(b: &mut Browser, t: &Target<'_>) {
    let prefix = login(b, t).await;
    b.wait_state("status").await;
    b.js(LISTEN).await;

    // A second element, added now: its first views.
    b.js("window.__second = document.createElement('tfa-enrollment'); document.body.append(window.__second); return 1;")
        .await;
    b.wait_js(
        "window.__second.getAttribute('state') === 'status'",
        "the second element's status",
    )
    .await;
    let first = events(b).await;
    assert!(first.iter().all(|e| e["second"] == json!(true)));
    assert_eq!(
        pairs(&first),
        [
            statechange("loading", Value::Null),
            statechange("status", json!("loading"))
        ]
    );
    // remove() is the DOM's: it detaches the element, and removes nothing on the server.
    let left = b
        .js("window.__second.remove(); window.__second = null; \
             return document.querySelectorAll('tfa-enrollment').length;")
        .await;
    assert_eq!(left, json!(1));

    // Properties: state is read-only, apiBase reflects api-base, refresh() is a promise.
    let props = b
        .js(&format!(
            "const el = {EL}; try {{ el.state = 'done'; }} catch (e) {{}} \
             const state = [el.state, el.getAttribute('state')]; \
             el.apiBase = '/elsewhere/'; const set = [el.getAttribute('api-base'), el.apiBase]; \
             el.apiBase = null; const unset = [el.hasAttribute('api-base'), el.apiBase]; \
             return [state, set, unset];"
        ))
        .await;
    assert_eq!(
        props,
        json!([
            ["status", "status"],
            ["/elsewhere/", "/elsewhere/"],
            [false, prefix]
        ])
    );
    let refreshed = b
        .client
        .execute_async(
            &format!(
                "const done = arguments[arguments.length - 1]; const p = {EL}.refresh(); \
                 p.then(v => done([p instanceof Promise, v === undefined]), e => done(String(e)));"
            ),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(refreshed, json!([true, true]));
    assert_eq!(pairs(&events(b).await), [], "no view change, no event");

    // Set up: the state change; a wrong code: tfa-error with the server's message.
    let (otpauth, secret) = start_setup(b).await;
    assert_eq!(
        pairs(&events(b).await),
        [statechange("setup", json!("status"))]
    );
    let wrong = super::oracle::wrong_code_now(&secret);
    let field = b.shadow("#tfa-code").await;
    field.send_keys(&wrong).await.unwrap();
    b.click_shadow("[data-ref=confirm]").await;
    let alert = b.alert_with("", "the server's refusal").await;
    let got = events(b).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0]["type"], json!("tfa-error"));
    let detail = &got[0]["detail"];
    let warnings: Vec<String> = detail["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_owned())
        .collect();
    let message = detail["message"].as_str().unwrap();
    assert!(message.contains("security code is invalid"), "{detail}");
    assert_eq!(
        alert,
        std::iter::once(message.to_owned())
            .chain(warnings)
            .collect::<Vec<_>>()
            .join("\n"),
        "the event's detail is what the alert says"
    );

    // The right code: enabled (who, and how many codes were shown), the codes, the views.
    field.clear().await.unwrap();
    field.send_keys(&code_now(&secret, 0)).await.unwrap();
    b.click_shadow("[data-ref=confirm]").await;
    b.wait_state("recovery").await;
    let codes = codes_on_screen(b).await;
    let parsed = OtpAuth::parse(&otpauth).unwrap();
    let issuer = parsed
        .issuer_param
        .or(parsed.label_issuer)
        .unwrap_or_default();
    assert_eq!(
        pairs(&events(b).await),
        [
            (
                "tfa-enabled".to_owned(),
                json!({ "account": t.user, "issuer": issuer, "recoveryCodes": codes.len() })
            ),
            (
                "tfa-recovery-codes".to_owned(),
                json!({ "count": codes.len() })
            ),
            statechange("recovery", json!("setup")),
        ]
    );
    pass_recovery_gate(b).await;
    b.wait_state("done").await;
    b.click_shadow("[data-action=back]").await;
    b.wait_state("status").await;
    assert_eq!(
        pairs(&events(b).await),
        [
            statechange("done", json!("recovery")),
            statechange("status", json!("done"))
        ]
    );

    // Remove: tfa-removed, and the server agrees.
    b.click_shadow("[data-action=ask-remove]").await;
    b.click_shadow("[data-action=remove]").await;
    b.wait_js("window.__events.length > 0", "tfa-removed").await;
    b.wait_js(
        &format!("{EL}.shadowRoot.querySelector('[data-ref=removeConfirm]').hidden"),
        "the status after removal",
    )
    .await;
    assert_eq!(
        pairs(&events(b).await),
        [("tfa-removed".to_owned(), json!({}))]
    );
    let configs = (t.whm_configs)();
    assert_eq!(configs["data"][t.user]["is_enabled"], json!(0), "{configs}");
    b.assert_quiet_console().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_page_hears_the_elements_events() {
    super::on_page_server("evelyn", "evelyn-pass-c41b07", host_events).await;
}
