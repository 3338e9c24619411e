//! The page and the login pages in other languages, in Chromium against the real server:
//! Arabic (right to left, from the login page's `?locale=ar` to the page's), Japanese (from the
//! document's `lang`, changed at run time), the locale matching, and every catalog's plural
//! forms against the browser's own `Intl.PluralRules`. The expected words are read from the
//! catalog files (www/locales/*.json), the QR decoded from screenshots by rqrr.

use serde_json::{json, Value};

use tfa::core::totp::DRIFT_SEARCH_STEPS;
use tfa::core::OtpAuth;
use tfa_e2e::workspace_root;

use super::oracle::{code_now, decode_qr_png};
use super::recovery::{codes_on_screen, pass_recovery_gate};
use super::{start_setup, Browser, Target};

/// The element (a script expression).
pub(super) const EL: &str = "document.querySelector('tfa-enrollment')";

/// A catalog, read from www/locales.
pub(super) fn catalog(locale: &str) -> Value {
    let path = workspace_root().join(format!("www/locales/{locale}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// A text entry of a catalog.
pub(super) fn text(cat: &Value, key: &str) -> String {
    cat[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is no text"))
        .to_owned()
}

/// The trimmed text of the shadow root's first match of `css`.
pub(super) async fn shadow_text(b: &Browser, css: &str) -> String {
    let css = serde_json::to_string(css).unwrap();
    b.js(&format!(
        "return {EL}.shadowRoot.querySelector({css}).textContent.trim();"
    ))
    .await
    .as_str()
    .unwrap()
    .to_owned()
}

/// Waits until the element's content is in `lang` (its `lang` attribute on the card).
pub(super) async fn wait_lang(b: &Browser, lang: &str) {
    b.wait_js(
        &format!("{EL}?.shadowRoot?.querySelector('[data-ref=card]')?.getAttribute('lang') === '{lang}' && {EL}.shadowRoot.querySelector('#tfa-title').textContent !== ''"),
        &format!("the page in {lang}"),
    )
    .await;
}

/// A plural entry's form for `n` as the browser's Intl.PluralRules of `lang` picks it (an
/// explicit "zero" for 0), with {n} written by its Intl.NumberFormat.
async fn plural(b: &Browser, cat: &Value, key: &str, lang: &str, n: u64) -> String {
    let forms = serde_json::to_string(&cat[key]).unwrap();
    b.js(&format!(
        "const f = {forms}; const n = {n}; \
         const c = n === 0 && 'zero' in f ? 'zero' : new Intl.PluralRules('{lang}').select(n); \
         return (f[c] ?? f.other).replace('{{n}}', new Intl.NumberFormat('{lang}').format(n));"
    ))
    .await
    .as_str()
    .unwrap()
    .to_owned()
}

/// The enrollment flow in Arabic: the login page in Arabic (`?locale=ar`), right to left; the
/// page in Arabic, mirrored, with the QR, the key and the codes left to right; the QR decoded
/// from the screenshot; an axe-core check.
pub async fn arabic(b: &mut Browser, t: &Target<'_>) {
    const P: &str = "arabic";
    let ar = catalog("ar");

    // The login page in Arabic: lang, dir, a translated label, right-to-left text.
    b.client
        .goto(&format!("{}/login?locale=ar", t.base_url))
        .await
        .unwrap();
    let login = b
        .js("const l = document.querySelector('label[for=user]'); \
             return [document.documentElement.lang, document.documentElement.dir, l.textContent, \
                     getComputedStyle(l).direction, document.title];")
        .await;
    assert_eq!(
        login,
        json!([
            "ar",
            "rtl",
            text(&ar, "login.user"),
            "rtl",
            text(&ar, "login.title")
        ])
    );
    // Its form keeps the language and logs in.
    let form = b
        .client
        .form(fantoccini::Locator::Css("#login_form"))
        .await
        .unwrap();
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

    // The page in Arabic from its own ?locale=ar.
    b.client
        .goto(&format!("{}{prefix}index.html?locale=ar", t.base_url))
        .await
        .unwrap();
    b.wait_state("status").await;
    wait_lang(b, "ar").await;
    let head = b
        .js(&format!(
            "const r = {EL}.shadowRoot; const card = r.querySelector('[data-ref=card]'); \
             return [document.documentElement.lang, document.documentElement.dir, card.getAttribute('dir'), \
                     getComputedStyle(r.querySelector('[data-ref=stateText]')).direction, \
                     r.querySelector('#tfa-title').textContent, document.title, {EL}.locale];"
        ))
        .await;
    assert_eq!(
        head,
        json!([
            "ar",
            "rtl",
            "rtl",
            "rtl",
            text(&ar, "title"),
            text(&ar, "title"),
            "ar"
        ])
    );
    assert_eq!(
        shadow_text(b, "[data-ref=stateText]").await,
        text(&ar, "status.off")
    );
    assert_eq!(
        shadow_text(b, "[data-action=setup]").await,
        text(&ar, "status.setup")
    );
    // Right to left on screen: the title's text ends at the card's right edge, far from its left.
    let edges = b
        .js(&format!(
            "const r = {EL}.shadowRoot; const h = r.querySelector('#tfa-title'); \
             const range = document.createRange(); range.selectNodeContents(h); \
             const t = range.getBoundingClientRect(), c = r.querySelector('[data-ref=card]').getBoundingClientRect(); \
             return [t.left - c.left, c.right - t.right];"
        ))
        .await;
    let (from_left, from_right) = (edges[0].as_f64().unwrap(), edges[1].as_f64().unwrap());
    assert!(
        from_right < 40.0 && from_left > 200.0,
        "the title is not right-aligned: {from_left} px from the left, {from_right} px from the right"
    );
    let violations = b.axe_serious().await;
    assert!(violations.is_empty(), "axe, Arabic status: {violations:#?}");

    // Set up: the layout mirrors (the QR on the right of the steps), the QR and key stay ltr.
    let (otpauth, secret) = start_setup(b).await;
    assert_eq!(
        shadow_text(b, ".steps h3").await,
        text(&ar, "setup.scan_title")
    );
    let layout = b
        .js(&format!(
            "const r = {EL}.shadowRoot; const q = r.querySelector('.qr'), s = r.querySelector('.steps'); \
             return [q.getBoundingClientRect().left > s.getBoundingClientRect().left, \
                     getComputedStyle(q).direction, getComputedStyle(r.querySelector('[data-ref=key]')).direction, \
                     getComputedStyle(r.querySelector('#tfa-code')).direction, \
                     r.querySelector('[data-ref=qr]').getAttribute('aria-label')];"
        ))
        .await;
    let parsed = OtpAuth::parse(&otpauth).unwrap();
    let issuer = parsed
        .issuer_param
        .or(parsed.label_issuer)
        .unwrap_or_default();
    let qr_label = text(&ar, "setup.qr_label")
        .replace("{account}", t.user)
        .replace("{issuer}", &issuer);
    assert_eq!(layout, json!([true, "ltr", "ltr", "ltr", qr_label]));
    let countdown = shadow_text(b, "[data-ref=countdown]").await;
    let before_n = ar["setup.countdown"]["other"]
        .as_str()
        .unwrap()
        .split("{n}")
        .next()
        .unwrap()
        .to_owned();
    assert!(countdown.starts_with(&before_n), "{countdown}");
    b.click_shadow("[data-ref=manual] summary").await;
    let png = b.screenshot(P, "arabic").await;
    assert_eq!(decode_qr_png(&png), vec![otpauth], "the QR on screen");
    let violations = b.axe_serious().await;
    assert!(violations.is_empty(), "axe, Arabic set-up: {violations:#?}");

    // The code, the recovery codes (ltr), done, and the status with the codes left.
    let code = b.shadow("#tfa-code").await;
    code.send_keys(&code_now(&secret, 0)).await.unwrap();
    b.click_shadow("[data-ref=confirm]").await;
    b.wait_state("recovery").await;
    assert_eq!(
        shadow_text(b, "#tfa-recovery-title").await,
        text(&ar, "recovery.title")
    );
    let codes = codes_on_screen(b).await;
    let codes_dir = b
        .js(&format!(
            "return getComputedStyle({EL}.shadowRoot.querySelector('[data-ref=recoveryCodes]')).direction;"
        ))
        .await;
    assert_eq!(codes_dir, json!("ltr"));
    pass_recovery_gate(b).await;
    b.wait_state("done").await;
    assert_eq!(
        shadow_text(b, "[data-ref=doneText]").await,
        text(&ar, "done.enabled")
    );
    b.click_shadow("[data-action=back]").await;
    b.wait_state("status").await;
    let n = u64::try_from(codes.len()).unwrap();
    assert_eq!(
        shadow_text(b, "[data-ref=recoveryCount]").await,
        plural(b, &ar, "codes.left", "ar", n).await
    );
    let configs = (t.whm_configs)();
    assert_eq!(configs["data"][t.user]["is_enabled"], json!(1), "{configs}");
    b.assert_quiet_console().await;
}

/// The flow in Japanese, chosen by the document's `lang` at run time (the element follows
/// it), with the server's refusal left in cPanel's English, the drift hint in Japanese, and
/// the `locale` property over it; every catalog's plural forms and the locale matching.
pub async fn japanese(b: &mut Browser, t: &Target<'_>) {
    const P: &str = "japanese";
    let (ja, de) = (catalog("ja"), catalog("de"));
    let prefix = super::login(b, t).await;
    b.wait_state("status").await;
    wait_lang(b, "en").await;
    b.js("document.documentElement.lang = 'ja'; return 1;")
        .await;
    wait_lang(b, "ja").await;
    assert_eq!(shadow_text(b, "#tfa-title").await, text(&ja, "title"));
    assert_eq!(
        shadow_text(b, "[data-ref=stateText]").await,
        text(&ja, "status.off")
    );
    // The attribute and the property win over the document, and reflect.
    b.js(&format!("{EL}.locale = 'de-CH'; return 1;")).await;
    wait_lang(b, "de").await;
    let reflected = b
        .js(&format!(
            "return [{EL}.getAttribute('locale'), {EL}.locale, {EL}.shadowRoot.querySelector('#tfa-title').textContent];"
        ))
        .await;
    assert_eq!(reflected, json!(["de-CH", "de", text(&de, "title")]));
    b.js(&format!("{EL}.locale = null; return 1;")).await;
    wait_lang(b, "ja").await;

    // Set up; the QR from the screenshot.
    let (otpauth, secret) = start_setup(b).await;
    assert_eq!(
        shadow_text(b, "[data-ref=confirm]").await,
        text(&ja, "setup.verify")
    );
    let png = b.screenshot(P, "scan").await;
    assert_eq!(decode_qr_png(&png), vec![otpauth], "the QR on screen");

    // A code from 3 minutes ahead: the drift hint in Japanese, sentences run on; nothing sent.
    let sent_before = b.js("return window.__tfaCalls.length;").await;
    let field = b.shadow("#tfa-code").await;
    field.send_keys(&code_now(&secret, 180)).await.unwrap();
    b.click_shadow("[data-ref=confirm]").await;
    let drift = ja["drift.ahead_minutes"]["other"]
        .as_str()
        .unwrap()
        .replace("{n}", "3");
    let alert = b.alert_with(&drift, "the drift hint").await;
    assert_eq!(
        alert,
        format!(
            "{drift}{}{}",
            text(&ja, "drift.advice"),
            text(&ja, "drift.not_sent")
        )
    );
    assert_eq!(b.js("return window.__tfaCalls.length;").await, sent_before);
    // A wrong code: the server's own words, in English as cPanel's API says them.
    field.clear().await.unwrap();
    // A code that matches no step within the drift search (so the page sends it).
    let wrong = super::oracle::wrong_code_now(&secret);
    field.send_keys(&wrong).await.unwrap();
    b.click_shadow("[data-ref=confirm]").await;
    let alert = b
        .alert_with("security code is invalid", "the server's refusal")
        .await;
    assert!(alert.is_ascii(), "{alert}");
    // The right code: recovery codes, done, in Japanese.
    field.clear().await.unwrap();
    field.send_keys(&code_now(&secret, 0)).await.unwrap();
    b.click_shadow("[data-ref=confirm]").await;
    b.wait_state("recovery").await;
    assert_eq!(
        shadow_text(b, "[data-ref=continueRecovery]").await,
        text(&ja, "recovery.continue")
    );
    pass_recovery_gate(b).await;
    b.wait_state("done").await;
    assert_eq!(
        shadow_text(b, "[data-ref=doneText]").await,
        text(&ja, "done.enabled")
    );
    b.screenshot(P, "done").await;
    let configs = (t.whm_configs)();
    assert_eq!(configs["data"][t.user]["is_enabled"], json!(1), "{configs}");

    // The locale matching, and every catalog's plural entries against the browser's
    // Intl.PluralRules: each category the language has is there.
    let matched = b
        .js(&format!(
            "return import(new URL('{prefix}i18n.js', location.href)).then(m => \
             ['pt-BR', 'ar-EG', 'ja_JP', 'EN', 'it', ''].map(m.matchLocale).concat([m.LOCALES]));"
        ))
        .await;
    assert_eq!(
        matched,
        json!([
            null,
            "ar",
            "ja",
            "en",
            null,
            null,
            ["en", "ar", "de", "es", "fr", "ja"]
        ])
    );
    let missing = b
        .client
        .execute_async(
            &format!(
                "const done = arguments[arguments.length - 1];
                 const locales = ['en', 'ar', 'de', 'es', 'fr', 'ja'];
                 Promise.all(locales.map(l => fetch('{prefix}locales/' + l + '.json').then(r => r.json())))
                   .then(cats => done(cats.flatMap((cat, i) => {{
                     const want = new Intl.PluralRules(locales[i]).resolvedOptions().pluralCategories;
                     return Object.entries(cat).filter(([, v]) => typeof v === 'object')
                       .flatMap(([k, v]) => want.filter(c => !(c in v)).map(c => locales[i] + ' ' + k + ' ' + c));
                   }})));"
            ),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(missing, json!([]), "plural forms the language needs");
    b.assert_quiet_console().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_and_login_in_arabic_right_to_left() {
    super::on_page_server("amira", "amira-pass-61c0d4", arabic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_in_japanese_from_the_document_language() {
    super::on_page_server("kenji", "kenji-pass-0b93e7", japanese).await;
}

/// The page words the drift hint itself (in any language), from the offset the wasm search
/// gives; in English its words are the server's sentence for the same offset, word for word, for
/// every offset the search can return (the test the wasm export `driftSentence` had).
async fn english_drift_hint_is_the_servers(b: &mut Browser, t: &Target<'_>) {
    // A page of the server without the element (which would ask the API without a session).
    b.client
        .goto(&format!("{}/login", t.base_url))
        .await
        .unwrap();
    let max = i64::try_from(DRIFT_SEARCH_STEPS).unwrap();
    let offsets: Vec<i64> = (-max..=max).filter(|o| *o != 0).collect();
    let step = tfa::core::totp::STEP_SECS;
    let got = b
        .js(&format!(
            "return Promise.all([import('/element.js'), import('/i18n.js')]).then(async ([el, i18n]) => {{
                 const m = await i18n.loadMessages('en');
                 return {offsets:?}.map((o) => `${{m.t(...el.driftMessage(o, {step}))}} ${{m.t('drift.advice')}}`);
             }});"
        ))
        .await;
    let want: Vec<String> = offsets
        .iter()
        .map(|o| tfa::core::drift_sentence(*o))
        .collect();
    assert_eq!(got, json!(want));
    b.assert_quiet_console().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_english_drift_hint_is_the_servers_sentence() {
    super::on_page_server(
        "dora",
        "dora-pass-3e9a51",
        english_drift_hint_is_the_servers,
    )
    .await;
}
