//! The enrollment page, driven in Debian's headless Chromium through chromedriver (fantoccini),
//! against the real `tfa serve` process: log in, set up, decode the QR from a screenshot with an
//! independent decoder, type the code, reload, a wrong code, a drifted code, remove; the page
//! under `/cpsessNNNNNNNNNN/` and as a custom element on a plain host page; recovery codes
//! (shown once, downloaded, used at login); an axe-core check; and no console error anywhere.
//! PNGs of each step are saved under `target/e2e/`.
//!
//! - `driver`: chromedriver / geckodriver, the WebDriver session, and the page helpers;
//! - `oracle`: the independent QR decoder and TOTP code the page is checked against;
//! - `flow`: the enrollment flow, step by step, with its layout checks;
//! - `recovery`: the recovery codes, from the page to the login and back;
//! - `embed`: the custom element on a plain host page;
//! - `i18n`: the page and the login in Arabic (right to left) and Japanese, and the catalogs;
//! - `theme`: dark mode, forced and preferred, with the QR still readable;
//! - `events`: the element's events and properties, heard by a host page;
//! - `a11y`: axe-core and the keyboard-only flow;
//! - `packaged`: the flow on a page a package put elsewhere (the cPanel plugin, npm, a bundle).

mod a11y;
mod driver;
mod embed;
mod events;
mod flow;
mod i18n;
mod oracle;
pub mod packaged;
mod recovery;
mod theme;

use fantoccini::Locator;
use serde_json::Value;

pub use a11y::accessibility;
pub use driver::{Browser, Engine};
pub use embed::custom_element;
pub use flow::enrollment_flow;
pub use recovery::recovery_codes;

/// What a test needs of the running server.
pub struct Target<'a> {
    pub base_url: &'a str,
    pub user: &'a str,
    pub pass: &'a str,
    /// Runs `tfa whmapi1 twofactorauth_get_user_configs --output=json` on the server's store.
    pub whm_configs: &'a dyn Fn() -> Value,
}

/// Runs `body` in a new browser of `engine` against `server` for its cPanel user (`user`,
/// `pass`), then closes the browser; `body`'s answer is returned.
pub async fn in_browser<R>(
    engine: Engine,
    server: &tfa_e2e::Server,
    user: &str,
    pass: &str,
    body: impl AsyncFnOnce(&mut Browser, &Target<'_>) -> R,
) -> R {
    let configs = || crate::whm_configs(server);
    let target = Target {
        base_url: &server.base_url,
        user,
        pass,
        whm_configs: &configs,
    };
    let mut b = Browser::start_engine(engine).await;
    let answer = body(&mut b, &target).await;
    b.close().await;
    answer
}

/// Runs `body` in Chromium against a new page server with one cPanel user (`user`, `pass`),
/// then stops both: the frame of every test that needs only that.
pub async fn on_page_server(
    user: &str,
    pass: &str,
    body: impl AsyncFnOnce(&mut Browser, &Target<'_>),
) {
    let (server, _tmp) = crate::page_server(user, pass);
    in_browser(Engine::Chromium, &server, user, pass, body).await;
    server.stop();
}

/// Sets up 2FA from the status view: returns (otpauth URI, secret) of the generated set-up
/// (which must have succeeded), once the setup view shows.
pub async fn start_setup(b: &Browser) -> (String, String) {
    b.js(RECORD_FETCHES).await;
    b.js("window.__tfaGenerated = null; return 1;").await;
    b.click_shadow("[data-action=setup]").await;
    b.wait_state("setup").await;
    b.wait_js("window.__tfaGenerated", "the generate response")
        .await;
    let generated = b.js("return window.__tfaGenerated;").await;
    assert_eq!(generated["status"], serde_json::json!(1), "{generated}");
    (
        generated["data"]["otpauth_str"]
            .as_str()
            .unwrap()
            .to_owned(),
        generated["data"]["secret"].as_str().unwrap().to_owned(),
    )
}

/// Logs in through `/login` and returns the `/cpsessNNNNNNNNNN/` prefix the server redirected to.
pub async fn login(b: &Browser, t: &Target<'_>) -> String {
    b.client
        .goto(&format!("{}/login", t.base_url))
        .await
        .unwrap();
    let form = b.client.form(Locator::Css("form")).await.unwrap();
    form.set_by_name("user", t.user).await.unwrap();
    form.set_by_name("pass", t.pass).await.unwrap();
    form.submit().await.unwrap();
    b.wait_js(
        "/\\/cpsess\\d{10}\\//.test(location.pathname)",
        "the cpsess redirect",
    )
    .await;
    let path = b.client.current_url().await.unwrap().path().to_owned();
    let prefix: String = path.chars().take("/cpsess0123456789/".len()).collect();
    assert!(
        prefix.starts_with("/cpsess") && prefix.ends_with('/'),
        "{path}"
    );
    prefix
}

/// The text of the page's alert, or null when it is hidden (a script body).
const ALERT_TEXT: &str =
    "const a = document.querySelector('tfa-enrollment')?.shadowRoot?.querySelector('[data-ref=alert]'); return a && !a.hidden ? a.textContent : null;";

/// The same, as an expression.
const ALERT_TEXT_EXPR: &str =
    "(() => { const a = document.querySelector('tfa-enrollment')?.shadowRoot?.querySelector('[data-ref=alert]'); return a && !a.hidden ? a.textContent : null; })()";

/// Records every fetch the page makes, and the JSON of generate_user_configuration.
const RECORD_FETCHES: &str = r#"
if (!window.__tfaCalls) {
  window.__tfaCalls = [];
  const orig = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const url = String(input);
    window.__tfaCalls.push(url);
    const res = await orig(input, init);
    if (url.includes('generate_user_configuration')) {
      res.clone().json().then((j) => { window.__tfaGenerated = j; });
    }
    return res;
  };
}
return true;"#;
