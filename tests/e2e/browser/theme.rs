//! Dark mode, in Chromium against the real server: forced by the element's `color-scheme`
//! attribute, and followed from `prefers-color-scheme` (emulated through the DevTools
//! protocol); `color-scheme="light"` overriding a dark preference; a host's theming custom
//! property kept in dark. In every scheme the QR is dark on white with a white quiet zone
//! (pixels of the screenshot) and decoded from the screenshot by rqrr; axe-core finds no
//! serious or critical violation in light or dark.

use serde_json::{json, Value};

use super::i18n::EL;
use super::oracle::decode_qr_png;
use super::start_setup;
use super::{login, Browser, Target};

/// The relative luminance (WCAG) of the card's background and of its text, in the browser.
async fn card_luminance(b: &Browser) -> (f64, f64) {
    let v = b
        .js(&format!(
            "const lum = (c) => {{ const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => v / 255) \
               .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4); return 0.2126 * r + 0.7152 * g + 0.0722 * b; }}; \
             const s = getComputedStyle({EL}.shadowRoot.querySelector('[data-ref=card]')); \
             return [lum(s.backgroundColor), lum(s.color)];"
        ))
        .await;
    (v[0].as_f64().unwrap(), v[1].as_f64().unwrap())
}

async fn assert_dark(b: &Browser, what: &str) {
    let (bg, fg) = card_luminance(b).await;
    assert!(
        bg < 0.05 && fg > 0.5,
        "{what}: not dark (background {bg}, text {fg})"
    );
}

async fn assert_light(b: &Browser, what: &str) {
    let (bg, fg) = card_luminance(b).await;
    assert!(
        bg > 0.9 && fg < 0.05,
        "{what}: not light (background {bg}, text {fg})"
    );
}

/// The QR in a screenshot: decoded by rqrr to `otpauth`, and its quiet zone white (the pixels
/// just inside the QR's box, on each corner).
async fn assert_qr(b: &mut Browser, otpauth: &str, name: &str) {
    let png = b.screenshot("dark", name).await;
    assert_eq!(
        decode_qr_png(&png),
        vec![otpauth.to_owned()],
        "{name}: the QR on screen"
    );
    let rect: Value = b
        .js(&format!(
            "const r = {EL}.shadowRoot.querySelector('.qr svg').getBoundingClientRect(); \
             return [r.left, r.top, r.right, r.bottom, devicePixelRatio];"
        ))
        .await;
    let f = |i: usize| rect[i].as_f64().unwrap();
    let dpr = f(4);
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    // 4 CSS px in: past the 1 px border, inside the 4-module quiet zone.
    for (x, y) in [
        (f(0) + 4.0, f(1) + 4.0),
        (f(2) - 5.0, f(1) + 4.0),
        (f(0) + 4.0, f(3) - 5.0),
        (f(2) - 5.0, f(3) - 5.0),
    ] {
        let px = img.get_pixel((x * dpr) as u32, (y * dpr) as u32);
        assert_eq!(px.0, [255, 255, 255], "{name}: quiet zone at {x},{y}");
    }
}

async fn assert_accessible(b: &Browser, what: &str) {
    let violations = b.axe_serious().await;
    assert!(violations.is_empty(), "axe, {what}: {violations:#?}");
}

pub async fn dark_mode(b: &mut Browser, t: &Target<'_>) {
    login(b, t).await;
    b.wait_state("status").await;
    assert_light(b, "by default").await;
    assert_accessible(b, "light status").await;

    // Forced by the attribute.
    b.js(&format!(
        "{EL}.setAttribute('color-scheme', 'dark'); return 1;"
    ))
    .await;
    assert_dark(b, "color-scheme=dark").await;
    assert_accessible(b, "forced dark status").await;
    let (otpauth, _) = start_setup(b).await;
    b.click_shadow("[data-ref=manual] summary").await;
    assert_qr(b, &otpauth, "forced").await;
    assert_accessible(b, "forced dark set-up").await;
    // A host's custom property still themes it in dark.
    b.js(&format!(
        "{EL}.style.setProperty('--tfa-accent', '#6f2dbd'); return 1;"
    ))
    .await;
    let confirm = b.shadow("[data-ref=confirm]").await;
    assert_eq!(
        confirm.css_value("background-color").await.unwrap(),
        "rgba(111, 45, 189, 1)"
    );
    b.js(&format!(
        "{EL}.style.removeProperty('--tfa-accent'); {EL}.removeAttribute('color-scheme'); return 1;"
    ))
    .await;
    assert_light(b, "without the attribute").await;

    // Followed from prefers-color-scheme: the element and the page around it.
    b.prefer_color_scheme("dark").await;
    assert_dark(b, "prefers-color-scheme: dark").await;
    let page_bg = b
        .js("return getComputedStyle(document.body).backgroundColor;")
        .await;
    assert_ne!(page_bg, json!("rgb(246, 248, 250)"), "the page stays light");
    assert_qr(b, &otpauth, "dark").await;
    assert_accessible(b, "preferred dark set-up").await;

    // color-scheme=light wins over the preference.
    b.js(&format!(
        "{EL}.setAttribute('color-scheme', 'light'); return 1;"
    ))
    .await;
    assert_light(b, "color-scheme=light under a dark preference").await;
    assert_qr(b, &otpauth, "light").await;
    assert_accessible(b, "forced light set-up").await;
    b.js(&format!("{EL}.removeAttribute('color-scheme'); return 1;"))
        .await;

    // The status view in the preferred dark.
    b.click_shadow("[data-action=cancel-setup]").await;
    b.wait_state("status").await;
    assert_dark(b, "status, preferred dark").await;
    assert_accessible(b, "preferred dark status").await;

    // The login page follows the preference too.
    b.client
        .goto(&format!("{}/logout", t.base_url))
        .await
        .unwrap();
    b.wait_js("document.querySelector('#login_form')", "the login form")
        .await;
    let login_bg = b
        .js("return getComputedStyle(document.querySelector('main')).backgroundColor;")
        .await;
    assert_ne!(
        login_bg,
        json!("rgb(255, 255, 255)"),
        "the login stays light"
    );
    assert_accessible(b, "dark login").await;
    b.prefer_color_scheme("").await;
    b.assert_quiet_console().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dark_mode_forced_and_preferred_with_a_readable_qr() {
    super::on_page_server("noor", "noor-pass-5a8e13", dark_mode).await;
}
