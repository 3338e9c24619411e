//! The enrollment page, driven in Debian's headless Chromium through chromedriver (fantoccini),
//! against the real `tfa serve` process: log in, set up, decode the QR from a screenshot with an
//! independent decoder, type the code, reload, a wrong code, a drifted code, remove; the page
//! under `/cpsessNNNNNNNNNN/` and as a custom element on a plain host page; an axe-core check;
//! and no console error anywhere. PNGs of each step are saved under `target/e2e/`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use tfa::core::totp::{find_drift, DRIFT_SEARCH_STEPS};
use tfa::core::{OtpAuth, Secret};
use tfa_e2e::{now as now_secs, workspace_root};

/// Where the run's screenshots go.
fn shots_dir() -> PathBuf {
    let dir = workspace_root().join("target/e2e");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const TAB: char = '\u{E004}';
const ENTER: char = '\u{E007}';
const SHIFT: char = '\u{E008}';
/// Markers for [`Browser::keys`]: hold and release Shift.
const SHIFT_DOWN: char = '\u{F001}';
const SHIFT_UP: char = '\u{F002}';

/// The states the README shows.
const README_SHOTS: &[&str] = &["status-off", "scan", "done"];

/// `POST /session/{id}/se/log {"type":"browser"}`: Chromium's console, through chromedriver.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

/// Which browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Chromium,
    Firefox,
}

/// The Chromium binary and flags root needs, as `cargo xtask setup` wrote them for wasm-pack
/// (one source of truth: wasm-pack.toml), plus the window size and a fresh profile.
fn chromium_caps(profile: &tempfile::TempDir) -> serde_json::Map<String, Value> {
    let webdriver_json = workspace_root().join("crate/webdriver.json");
    let caps: Value = serde_json::from_str(
        &std::fs::read_to_string(&webdriver_json).unwrap_or_else(|e| {
            panic!("{}: {e}; run `cargo xtask setup`", webdriver_json.display())
        }),
    )
    .unwrap();
    let mut chrome = caps["goog:chromeOptions"].clone();
    let args = chrome["args"].as_array_mut().unwrap();
    args.push(json!("--window-size=1280,720"));
    args.push(json!(format!(
        "--user-data-dir={}",
        profile.path().display()
    )));
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert("goog:chromeOptions".into(), chrome);
    capabilities.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    capabilities
}

/// Debian's Firefox ESR, headless, kept off the network (there is none here).
fn firefox_caps() -> serde_json::Map<String, Value> {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), json!("firefox"));
    capabilities.insert(
        "moz:firefoxOptions".into(),
        json!({
            "binary": "/usr/bin/firefox-esr",
            "args": ["-headless", "--width=1280", "--height=720"],
            "prefs": {
                "app.update.enabled": false,
                "browser.shell.checkDefaultBrowser": false,
                "datareporting.policy.dataSubmissionEnabled": false,
                "network.captive-portal-service.enabled": false,
                "network.connectivity-service.enabled": false,
                "toolkit.telemetry.enabled": false,
                "browser.safebrowsing.malware.enabled": false,
                "browser.safebrowsing.phishing.enabled": false,
            }
        }),
    );
    capabilities
}

/// geckodriver, as `cargo xtask setup` installs it (crates.io, into cargo's bin directory).
fn geckodriver() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_default();
    home.join("bin/geckodriver")
}

/// A browser under its WebDriver server, with a fresh profile, at 1280×720.
pub struct Browser {
    pub client: Client,
    pub engine: Engine,
    driver: Child,
    _profile: tempfile::TempDir,
    shot: usize,
}

impl Browser {
    /// Chromium (`chromium` + `chromium-driver` from Debian).
    pub async fn start() -> Browser {
        Browser::start_engine(Engine::Chromium).await
    }

    pub async fn start_engine(engine: Engine) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let (driver_bin, capabilities) = match engine {
            Engine::Chromium => ("/usr/bin/chromedriver".into(), chromium_caps(&profile)),
            Engine::Firefox => (geckodriver(), firefox_caps()),
        };
        let port = free_port();
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (`cargo xtask setup` installs it)",
                    driver_bin.display()
                )
            });
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = loop {
            match ClientBuilder::new(connector.clone())
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() > deadline => panic!("{}: {e}", driver_bin.display()),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        if engine == Engine::Firefox {
            // Firefox's --width/--height size the window; make the viewport 1280×720 at most.
            client.set_window_size(1280, 720).await.unwrap();
        }
        Browser {
            client,
            driver,
            engine,
            _profile: profile,
            shot: 0,
        }
    }

    /// Saves a PNG of the viewport as `target/e2e/<prefix>-NN-<name>.png` and returns its bytes.
    /// With `TFA_UPDATE_SCREENSHOTS=1`, the README's pictures (tests/screenshots/<name>.png) are
    /// refreshed too, for the states the README shows.
    pub async fn screenshot(&mut self, prefix: &str, name: &str) -> Vec<u8> {
        self.shot += 1;
        let png = self.client.screenshot().await.unwrap();
        let engine = match self.engine {
            Engine::Chromium => "",
            Engine::Firefox => "firefox-",
        };
        let path = shots_dir().join(format!("{engine}{prefix}-{:02}-{name}.png", self.shot));
        std::fs::write(&path, &png).unwrap();
        if std::env::var_os("TFA_UPDATE_SCREENSHOTS").is_some()
            && README_SHOTS.contains(&name)
            && prefix == "flow"
            && self.engine == Engine::Chromium
        {
            let dir = workspace_root().join("tests/screenshots");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
        }
        png
    }

    /// Console messages at level SEVERE since the last call (Chromium's console errors,
    /// uncaught exceptions and failed loads). geckodriver has no such log (only WebDriver
    /// BiDi), so under Firefox this is always empty: the console is checked in Chromium.
    pub async fn console_errors(&self) -> Vec<String> {
        if self.engine == Engine::Firefox {
            return Vec::new();
        }
        let log = self.client.issue_cmd(BrowserLog).await.unwrap();
        log.as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Presses keys (WebDriver key codes for Tab, Enter, Shift) on whatever has focus.
    pub async fn keys(&self, keys: &[char]) {
        let mut seq = KeyActions::new("keyboard".into());
        for &k in keys {
            seq = match k {
                SHIFT_DOWN => seq.then(KeyAction::Down { value: SHIFT }),
                SHIFT_UP => seq.then(KeyAction::Up { value: SHIFT }),
                _ => seq
                    .then(KeyAction::Down { value: k })
                    .then(KeyAction::Up { value: k }),
            };
        }
        self.client.perform_actions(seq).await.unwrap();
    }

    /// What has focus inside the element: its `data-action`, `data-ref`, id or tag name.
    pub async fn focused(&self) -> String {
        self.js(
            "const e = document.querySelector('tfa-enrollment').shadowRoot.activeElement; \
             return e ? (e.dataset.action || e.dataset.ref || e.id || e.tagName.toLowerCase()) : 'none';",
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Fails on any console error since the last look.
    pub async fn assert_quiet_console(&self) {
        let errors = self.console_errors().await;
        assert!(errors.is_empty(), "console errors: {errors:#?}");
    }

    pub async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Waits until `script` (an expression) is truthy.
    pub async fn wait_js(&self, script: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = self.js(&format!("return !!({script});")).await;
            if v == json!(true) {
                return;
            }
            if Instant::now() > deadline {
                let alert = self.js(ALERT_TEXT).await;
                panic!("timed out waiting for {what} ({script}); page alert: {alert}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An element inside the `<tfa-enrollment>` shadow root.
    pub async fn shadow(&self, css: &str) -> Element {
        let host = self
            .client
            .find(Locator::Css("tfa-enrollment"))
            .await
            .unwrap();
        host.shadow_root()
            .await
            .unwrap()
            .find(Locator::Css(css))
            .await
            .unwrap()
    }

    pub async fn wait_state(&self, state: &str) {
        self.wait_js(
            &format!(
                "document.querySelector('tfa-enrollment')?.getAttribute('state') === '{state}'"
            ),
            &format!("the page's “{state}” state"),
        )
        .await;
    }

    /// Ends the WebDriver session (the browser quits); dropping then stops the driver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

/// The driver process goes with the `Browser`, also when a failed assertion unwinds past
/// `close`, so that no chromedriver or geckodriver outlives its test.
impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

const ALERT_TEXT: &str =
    "const a = document.querySelector('tfa-enrollment')?.shadowRoot?.querySelector('[data-ref=alert]'); return a && !a.hidden ? a.textContent : null;";

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

/// Decodes every QR code in a PNG with rqrr (an implementation we did not write).
pub fn decode_qr_png(png: &[u8]) -> Vec<String> {
    let img = image::load_from_memory(png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    prepared
        .detect_grids()
        .into_iter()
        .filter_map(|g| g.decode().ok().map(|(_, content)| content))
        .collect()
}

/// The current code, computed by Debian's `oathtool` when present, else by the test kit's
/// TOTP (written apart from the core).
fn code_now(secret: &str, offset_secs: i64) -> String {
    let now = now_secs();
    let at = now.checked_add_signed(offset_secs).unwrap();
    let out = Command::new("oathtool")
        .args(["--totp", "-b", "--now"])
        .arg(format!("@{at}"))
        .arg(secret)
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8(o.stdout).unwrap().trim().to_owned(),
        _ => tfa_testkit::code(secret, at),
    }
}

/// What a test needs of the running server.
pub struct Target<'a> {
    pub base_url: &'a str,
    pub user: &'a str,
    pub pass: &'a str,
    /// Runs `tfa whmapi1 twofactorauth_get_user_configs --output=json` on the server's store.
    pub whm_configs: &'a dyn Fn() -> Value,
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
    b.js(RECORD_FETCHES).await;
    b.shadow("[data-action=setup]").await.click().await.unwrap();
    b.wait_state("setup").await;
    b.wait_js("window.__tfaGenerated", "the generate response")
        .await;
    let generated = b.js("return window.__tfaGenerated;").await;
    assert_eq!(generated["status"], json!(1), "{generated}");
    let otpauth = generated["data"]["otpauth_str"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = generated["data"]["secret"].as_str().unwrap().to_owned();
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
    b.shadow("[data-ref=manual] summary")
        .await
        .click()
        .await
        .unwrap();
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
    b.js(
        "window.__copied = null; \
          Object.defineProperty(navigator, 'clipboard', { configurable: true, value: \
            { writeText: (t) => { window.__copied = t; return Promise.resolve(); } } }); return 1;",
    )
    .await;
    b.shadow("[data-action=copy]").await.click().await.unwrap();
    b.wait_js("window.__copied !== null", "the clipboard write")
        .await;
    assert_eq!(b.js("return window.__copied;").await, json!(secret));
    let said = b.shadow("[data-ref=status]").await.text().await.unwrap();
    assert!(said.contains("copied"), "{said}");
    // ...and when the browser refuses, the page says that and selects the key for Ctrl+C.
    b.js("Object.defineProperty(navigator, 'clipboard', { configurable: true, value: \
            { writeText: () => Promise.reject(new DOMException('denied', 'NotAllowedError')) } }); return 1;")
        .await;
    b.shadow("[data-action=copy]").await.click().await.unwrap();
    b.wait_js(
        &format!("(({ALERT_TEXT_EXPR}) || '').includes('did not allow copying')"),
        "the refusal",
    )
    .await;
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

    // 4. Type the current code, pasted with a space, and see the success state.
    let code = code_now(&secret, 0);
    let typed = format!("{} {}", &code[..3], &code[3..]);
    code_field.send_keys(&typed).await.unwrap();
    b.shadow("[data-ref=confirm]").await.click().await.unwrap();
    b.wait_state("done").await;
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
    b.shadow("[data-action=reconfigure]")
        .await
        .click()
        .await
        .unwrap();
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
    let s2 = Secret::parse(&secret2).unwrap();
    let now = now_secs();
    let wrong = (0..1_000_000u64)
        .map(|n| format!("{:06}", (n * 7919 + 123_457) % 1_000_000))
        .find(|c| find_drift(&s2, c, now, DRIFT_SEARCH_STEPS + 2).is_none())
        .unwrap();
    let field = b.shadow("#tfa-code").await;
    field.send_keys(&wrong).await.unwrap();
    b.shadow("[data-ref=confirm]").await.click().await.unwrap();
    b.wait_js(
        &format!("({ALERT_TEXT_EXPR}) !== null"),
        "the server's error",
    )
    .await;
    let alert = b.js(ALERT_TEXT).await;
    assert_eq!(
        alert.as_str().unwrap().lines().next(),
        Some("Failed to set user configuration: The security code is invalid."),
    );
    b.screenshot(P, "wrong-code").await;

    // 7. A code from 3 minutes ahead: the drift hint, and nothing is sent.
    let sent_before = b.js("return window.__tfaCalls.length;").await;
    let ahead = code_now(&secret2, 180);
    field.clear().await.unwrap();
    field.send_keys(&ahead).await.unwrap();
    b.shadow("[data-ref=confirm]").await.click().await.unwrap();
    b.wait_js(
        &format!("(({ALERT_TEXT_EXPR}) || '').includes('ahead')"),
        "the drift hint",
    )
    .await;
    let alert = b.js(ALERT_TEXT).await;
    assert!(
        alert.as_str().unwrap().contains("about 3 minutes ahead"),
        "{alert}"
    );
    assert_eq!(
        b.js("return window.__tfaCalls.length;").await,
        sent_before,
        "no request for a drifted code"
    );
    b.screenshot(P, "drift").await;

    // 8. Remove, after a confirmation.
    b.shadow("[data-action=cancel-setup]")
        .await
        .click()
        .await
        .unwrap();
    b.wait_state("status").await;
    b.shadow("[data-action=ask-remove]")
        .await
        .click()
        .await
        .unwrap();
    assert!(b
        .shadow("[data-ref=removeConfirm]")
        .await
        .is_displayed()
        .await
        .unwrap());
    b.screenshot(P, "confirm-remove").await;
    b.shadow("[data-action=remove]")
        .await
        .click()
        .await
        .unwrap();
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

const ALERT_TEXT_EXPR: &str =
    "(() => { const a = document.querySelector('tfa-enrollment')?.shadowRoot?.querySelector('[data-ref=alert]'); return a && !a.hidden ? a.textContent : null; })()";

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
    b.shadow("[data-action=setup]").await.click().await.unwrap();
    b.wait_state("setup").await;
    let warning = b.shadow("[data-ref=clockWarning]").await;
    assert!(warning.is_displayed().await.unwrap());
    let text = warning.text().await.unwrap();
    assert!(text.contains("seconds ahead of the server"), "{text}");
    b.screenshot("embed", "clock-warning").await;

    // A server whose otpauth URI and `secret` disagree (as in cPanel's own doc sample) would
    // make set-up impossible: the page refuses to show that QR and says why.
    b.shadow("[data-action=cancel-setup]")
        .await
        .click()
        .await
        .unwrap();
    b.wait_state("status").await;
    b.js("const orig = window.fetch.bind(window); \
          window.fetch = async (input, init) => { \
            const res = await orig(input, init); \
            if (!String(input).includes('generate_user_configuration')) return res; \
            const j = await res.json(); j.data.secret = 'AAAAAAAAAAAAAAAA'; \
            return new Response(JSON.stringify(j), { status: res.status, headers: res.headers }); }; \
          return 1;")
        .await;
    b.shadow("[data-action=setup]").await.click().await.unwrap();
    b.wait_js(
        &format!("(({ALERT_TEXT_EXPR}) || '').includes('differs')"),
        "the mismatch refusal",
    )
    .await;
    assert_eq!(
        b.js("return document.querySelector('tfa-enrollment').getAttribute('state');")
            .await,
        json!("status")
    );
    b.assert_quiet_console().await;
}

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
    b.wait_state("done").await;
    assert_eq!(b.focused().await, "doneText");
    axe_check(b, &axe, "done").await;

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
/// critical violation.
async fn axe_check(b: &Browser, axe: &str, label: &str) {
    b.js(&format!("{axe}\nreturn true;")).await;
    let result = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
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
