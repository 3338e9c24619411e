//! The browsers under their WebDriver servers: chromedriver for Debian's Chromium, geckodriver
//! for Firefox ESR, each with a fresh profile and download directory at 1280×720; the session,
//! and the helpers the checks use (screenshots, console errors, keys, focus, JS, shadow-root
//! lookups, waits, downloaded files).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use tfa_e2e::workspace_root;

use super::{ALERT_TEXT, ALERT_TEXT_EXPR};

/// Where the run's screenshots go.
fn shots_dir() -> PathBuf {
    let dir = workspace_root().join("target/e2e");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(super) const TAB: char = '\u{E004}';
pub(super) const ENTER: char = '\u{E007}';
const SHIFT: char = '\u{E008}';
/// Markers for [`Browser::keys`]: hold and release Shift.
pub(super) const SHIFT_DOWN: char = '\u{F001}';
pub(super) const SHIFT_UP: char = '\u{F002}';

/// The states the README shows: (the test's prefix, the step's name).
const README_SHOTS: &[(&str, &str)] = &[
    ("flow", "status-off"),
    ("flow", "scan"),
    ("flow", "done"),
    ("recovery", "recovery-codes"),
    ("dark", "dark"),
    ("arabic", "arabic"),
];

/// A POST to one of chromedriver's own session endpoints: `se/log` with `{"type":"browser"}`
/// (Chromium's console), or `goog/cdp/execute` (a Chrome DevTools Protocol command, such as
/// Emulation.setEmulatedMedia).
#[derive(Debug)]
struct SessionPost {
    path: &'static str,
    body: String,
}

impl WebDriverCompatibleCommand for SessionPost {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.clone()))
    }
}

/// Which browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Chromium,
    Firefox,
}

/// The Chromium binary and flags root needs, as `cargo xtask setup` wrote them for wasm-pack
/// (one source of truth: wasm-pack.toml), plus the window size, a fresh profile, and downloads
/// saved without asking into `downloads` (chromedriver passes the directory on to headless
/// Chromium's download behaviour).
fn chromium_caps(
    profile: &tempfile::TempDir,
    downloads: &tempfile::TempDir,
) -> serde_json::Map<String, Value> {
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
    chrome["prefs"] = json!({
        "download.default_directory": downloads.path().display().to_string(),
        "download.prompt_for_download": false,
        "download.directory_upgrade": true,
    });
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert("goog:chromeOptions".into(), chrome);
    capabilities.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    capabilities
}

/// Debian's Firefox ESR, headless, kept off the network (there is none here), saving downloads
/// without asking into `downloads`.
fn firefox_caps(downloads: &tempfile::TempDir) -> serde_json::Map<String, Value> {
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
                "browser.download.folderList": 2,
                "browser.download.dir": downloads.path().display().to_string(),
                "browser.download.useDownloadDir": true,
                "browser.helperApps.neverAsk.saveToDisk": "text/plain",
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
    downloads: tempfile::TempDir,
    shot: usize,
}

impl Browser {
    /// Chromium (`chromium` + `chromium-driver` from Debian).
    pub async fn start() -> Browser {
        Browser::start_engine(Engine::Chromium).await
    }

    pub async fn start_engine(engine: Engine) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let downloads = tempfile::tempdir().unwrap();
        let (driver_bin, capabilities) = match engine {
            Engine::Chromium => (
                "/usr/bin/chromedriver".into(),
                chromium_caps(&profile, &downloads),
            ),
            Engine::Firefox => (geckodriver(), firefox_caps(&downloads)),
        };
        let port = tfa_e2e::free_port();
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
            downloads,
            shot: 0,
        }
    }

    /// Where the browser saves downloads.
    pub fn downloads(&self) -> &Path {
        self.downloads.path()
    }

    /// Waits for the download `name` to be complete in [`Browser::downloads`] and returns its
    /// bytes. Chromium writes `<name>.crdownload` (Firefox `<name>.part`) first and renames it
    /// when done, so the final name appearing means the whole file is there.
    pub async fn downloaded(&self, name: &str) -> Vec<u8> {
        let path = self.downloads().join(name);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(bytes) = std::fs::read(&path) {
                if !bytes.is_empty() {
                    return bytes;
                }
            }
            if Instant::now() > deadline {
                let present: Vec<String> = std::fs::read_dir(self.downloads())
                    .map(|d| {
                        d.filter_map(Result::ok)
                            .map(|e| e.file_name().to_string_lossy().into_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                panic!("no download {name} after 30 s; the directory holds {present:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
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
            && README_SHOTS.contains(&(prefix, name))
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
        let log = self
            .client
            .issue_cmd(SessionPost {
                path: "se/log",
                body: r#"{"type":"browser"}"#.to_owned(),
            })
            .await
            .unwrap();
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

    /// Runs a Chrome DevTools Protocol command (Chromium only).
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        assert_eq!(self.engine, Engine::Chromium, "CDP is Chromium's");
        let body = json!({ "cmd": cmd, "params": params }).to_string();
        self.client
            .issue_cmd(SessionPost {
                path: "goog/cdp/execute",
                body,
            })
            .await
            .unwrap()
    }

    /// Emulates `prefers-color-scheme` (`light`, `dark`, or `""` for the browser's own).
    pub async fn prefer_color_scheme(&self, scheme: &str) {
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] }),
        )
        .await;
        if !scheme.is_empty() {
            self.wait_js(
                &format!("matchMedia('(prefers-color-scheme: {scheme})').matches"),
                &format!("prefers-color-scheme: {scheme}"),
            )
            .await;
        }
    }

    /// axe-core (tests/node_modules, from npm) over the document, open shadow roots included:
    /// the serious and critical violations, as `{id, impact, help, nodes}`. `preload: false`
    /// as in a11y.rs (axe's CSSOM preload trips the Content-Security-Policy).
    pub async fn axe_serious(&self) -> Vec<Value> {
        let axe_path = workspace_root().join("tests/node_modules/axe-core/axe.min.js");
        let axe = std::fs::read_to_string(&axe_path)
            .unwrap_or_else(|e| panic!("{}: {e}; run `cargo xtask setup`", axe_path.display()));
        self.js(&format!("{axe}\nreturn true;")).await;
        let result = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'], preload: false })
                    .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')) }))))
                    .catch(e => done([{ id: 'axe-error', impact: 'critical', help: String(e) }]));",
                vec![],
            )
            .await
            .unwrap();
        result
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .cloned()
            .collect()
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

    /// Waits until the page's alert shows and holds `part` (any text when `part` is empty);
    /// returns its text.
    pub async fn alert_with(&self, part: &str, what: &str) -> String {
        let part = serde_json::to_string(part).unwrap();
        self.wait_js(
            &format!(
                "(({ALERT_TEXT_EXPR}) ?? null) !== null && ({ALERT_TEXT_EXPR}).includes({part})"
            ),
            what,
        )
        .await;
        self.js(ALERT_TEXT)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Clicks the shadow-root button `css` with the clipboard replaced by one that records
    /// what is written, and returns the text the page copied.
    pub async fn copied_by(&self, css: &str) -> Value {
        self.js("window.__copied = null; \
             Object.defineProperty(navigator, 'clipboard', { configurable: true, value: \
               { writeText: (t) => { window.__copied = t; return Promise.resolve(); } } }); \
             return 1;")
            .await;
        self.shadow(css).await.click().await.unwrap();
        self.wait_js("window.__copied !== null", "the clipboard write")
            .await;
        self.js("return window.__copied;").await
    }

    /// Clicks the first element of the page itself (not the shadow root) that `css` finds.
    pub async fn click_css(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
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

    /// Clicks an element inside the `<tfa-enrollment>` shadow root.
    pub async fn click_shadow(&self, css: &str) {
        self.shadow(css).await.click().await.unwrap();
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
