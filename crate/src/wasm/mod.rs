//! The `#[wasm_bindgen]` exports the enrollment page needs: thin glue that converts between JS
//! and the pure core. No TOTP maths here. Every export returns `Result<_, JsError>` with a
//! message a person can read; no input may panic the module.
//!
//! The exports are described in `//` comments, not `///`: wasm-bindgen copies doc comments
//! into the JS glue that every browser downloads (about 850 bytes gzipped of the page's
//! budget), and the page's code is the only caller.

mod browser;

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::core::{self, otpauth, totp, OtpAuth, Rejection, Secret};

/// The module's allocator. The page calls a few exports with short inputs, so a simple free list
/// is plenty, and it is far smaller than the default dlmalloc (the module's weight is budgeted).
/// The spin-locked form, because the unlocked one needs `unsafe` (forbidden in this crate); on
/// the single-threaded page the lock is never contended.
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

fn js_err(e: core::Error) -> JsError {
    // `message`, not `to_string`: the same words without `core::fmt` in the module.
    JsError::new(&e.message())
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        // Plain structs of strings and numbers always serialise; should it ever fail, a fixed
        // sentence keeps serde's `Display` (and `core::fmt`) out of the module.
        .map_err(|_| JsError::new("The result could not be passed to the page."))
}

/// A count for JS, as a number: JS numbers hold integers exactly up to 2^53 - 1, so a larger
/// one is refused rather than rounded. The result structs carry `f64`/`u32`, not `u64`: serde's
/// `u64` path keeps `format!` (and `core::fmt`) in the module for its own out-of-range message.
fn js_number(value: u64) -> Result<f64, JsError> {
    const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;
    if value <= MAX_SAFE_INTEGER {
        Ok(value as f64)
    } else {
        Err(JsError::new(
            "The number is too large for JavaScript to hold exactly.",
        ))
    }
}

/// A small count (at most `u32::MAX` by the core's own bounds) for JS.
fn js_small(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// Unix seconds from JS: a finite, non-negative number of seconds (fractions are dropped).
fn unix_secs(value: f64) -> Result<u64, JsError> {
    if value.is_finite() && (0.0..1.0e15).contains(&value) {
        Ok(value as u64)
    } else {
        Err(js_err(core::Error::TimeOutOfRange))
    }
}

/// A window or search width from JS, refused past [`totp::MAX_SEARCH_STEPS`] (each step is an
/// HMAC: four billion of them would freeze the page).
fn search_steps(value: Option<u32>, default: u64) -> Result<u64, JsError> {
    let steps = value.map_or(default, u64::from);
    if steps > totp::MAX_SEARCH_STEPS {
        return Err(js_err(core::Error::SearchTooWide {
            max: totp::MAX_SEARCH_STEPS,
        }));
    }
    Ok(steps)
}

fn strict_secret(secret: &str) -> Result<Secret, JsError> {
    Secret::parse(secret).map_err(js_err)
}

// The browser clock, in unix seconds.
#[wasm_bindgen(js_name = nowSecs)]
pub fn now_secs() -> f64 {
    browser::now_secs()
}

// A new 16-character cPanel-style secret from `crypto.getRandomValues`.
#[wasm_bindgen(js_name = newSecret)]
pub fn new_secret() -> Result<String, JsError> {
    let mut bytes = zeroize::Zeroizing::new([0u8; core::secret::RANDOM_BYTES]);
    browser::random_bytes(bytes.as_mut())
        .map_err(|_| JsError::new("The browser could not provide random numbers."))?;
    Ok(Secret::from_random_bytes(&bytes).expose().to_owned())
}

// Builds the otpauth URI exactly as cPanel does.
#[wasm_bindgen(js_name = buildOtpauth)]
pub fn build_otpauth(issuer: &str, account: &str, secret: &str) -> Result<String, JsError> {
    Ok(otpauth::build_uri(issuer, account, &strict_secret(secret)?))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ParsedUri {
    kind: &'static str,
    issuer: Option<String>,
    label_issuer: Option<String>,
    issuer_param: Option<String>,
    account: String,
    secret: String,
    algorithm: &'static str,
    digits: u32,
    period: u32,
    counter: Option<f64>,
}

// Parses an otpauth URI tolerantly into
// `{kind, issuer, labelIssuer, issuerParam, account, secret, algorithm, digits, period, counter}`.
#[wasm_bindgen(js_name = parseOtpauth)]
pub fn parse_otpauth(uri: &str) -> Result<JsValue, JsError> {
    let p = OtpAuth::parse(uri).map_err(js_err)?;
    to_js(&ParsedUri {
        kind: match p.kind {
            otpauth::Kind::Totp => "totp",
            otpauth::Kind::Hotp => "hotp",
        },
        issuer: p.issuer().map(str::to_owned),
        label_issuer: p.label_issuer.clone(),
        issuer_param: p.issuer_param.clone(),
        account: p.account.clone(),
        secret: p.secret.expose().to_owned(),
        algorithm: p.algorithm.as_str(),
        digits: p.digits,
        // At most 86,400 (the parser's bound).
        period: js_small(p.period),
        counter: p.counter.map(js_number).transpose()?,
    })
}

// The QR code of `text` as an SVG string.
#[wasm_bindgen(js_name = qrSvg)]
pub fn qr_svg(text: &str) -> Result<String, JsError> {
    core::qr_svg(text).map_err(js_err)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CurrentCode {
    code: String,
    seconds_left: u32,
    step: f64,
}

// `{code, secondsLeft, step}` for `secret` at `unix_secs`.
#[wasm_bindgen(js_name = currentCode)]
pub fn current_code(secret: &str, unix_secs_now: f64) -> Result<JsValue, JsError> {
    let secret = strict_secret(secret)?;
    let now = unix_secs(unix_secs_now)?;
    to_js(&CurrentCode {
        code: totp::code_at(&secret, now),
        seconds_left: js_small(totp::seconds_left(now)),
        step: js_number(totp::step_at(now))?,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Verdict {
    ok: bool,
    step: Option<f64>,
    reason: Option<&'static str>,
    message: Option<String>,
}

// Checks a code. Returns `{ok, step, reason, message}` where `reason` is `"invalid"`,
// `"replayed"` or `"malformed"`. A bad secret or time is a `JsError`.
// `window` defaults to ±1 step; `last_step` is the last accepted step, if any.
#[wasm_bindgen(js_name = verifyCode)]
pub fn verify_code(
    secret: &str,
    token: &str,
    unix_secs_now: f64,
    window: Option<u32>,
    last_step: Option<f64>,
) -> Result<JsValue, JsError> {
    let secret = strict_secret(secret)?;
    let now = unix_secs(unix_secs_now)?;
    let last = last_step.map(unix_secs).transpose()?;
    let window = search_steps(window, totp::DEFAULT_WINDOW)?;
    let verdict = match totp::verify(&secret, token, now, window, last) {
        Ok(step) => Verdict {
            ok: true,
            step: Some(js_number(step)?),
            reason: None,
            message: None,
        },
        Err(Rejection::Invalid) => Verdict {
            ok: false,
            step: None,
            reason: Some("invalid"),
            // The page's own words: cPanel's wording belongs to the server's error map.
            message: Some("That code does not match this key at the current time.".to_owned()),
        },
        Err(Rejection::Replayed { step }) => Verdict {
            ok: false,
            step: Some(js_number(step)?),
            reason: Some("replayed"),
            message: Some("This code was already used; wait for the next one.".to_owned()),
        },
        Err(Rejection::Malformed(e)) => Verdict {
            ok: false,
            step: None,
            reason: Some("malformed"),
            message: Some(e.message()),
        },
    };
    to_js(&verdict)
}

// The step offset (positive: the phone is ahead) at which `token` would match within
// ±`max_steps` (default 20, ±10 minutes), or `undefined`.
#[wasm_bindgen(js_name = findDrift)]
pub fn find_drift(
    secret: &str,
    token: &str,
    unix_secs_now: f64,
    max_steps: Option<u32>,
) -> Result<Option<i32>, JsError> {
    let secret = strict_secret(secret)?;
    let now = unix_secs(unix_secs_now)?;
    let max = search_steps(max_steps, totp::DRIFT_SEARCH_STEPS)?;
    Ok(totp::find_drift(&secret, token, now, max).and_then(|d| i32::try_from(d).ok()))
}

// The core's facts the page needs, so no number is written twice. Functions, because
// wasm-bindgen exports no constants.

// The TOTP step in seconds (the countdown's length).
#[wasm_bindgen(js_name = stepSecs)]
pub fn step_secs() -> u32 {
    // 30 fits; a failed conversion cannot happen and would still not panic.
    u32::try_from(totp::STEP_SECS).unwrap_or(u32::MAX)
}

// The verification window in steps either side of now: a drift within it is no drift.
#[wasm_bindgen(js_name = windowSteps)]
pub fn window_steps() -> u32 {
    u32::try_from(totp::DEFAULT_WINDOW).unwrap_or(u32::MAX)
}

// How many seconds the browser's and the server's clocks may differ before the page warns.
#[wasm_bindgen(js_name = clockToleranceSecs)]
pub fn clock_tolerance_secs() -> u32 {
    u32::try_from(totp::CLOCK_TOLERANCE_SECS).unwrap_or(u32::MAX)
}

// Pixels per module in the SVG from [`qr_svg`]: its width divided by this is its module count.
#[wasm_bindgen(js_name = qrSvgModulePx)]
pub fn qr_svg_module_px() -> u32 {
    core::qr::MODULE_PX
}

// Pixels per module the page shows the QR at.
#[wasm_bindgen(js_name = qrModulePx)]
pub fn qr_module_px() -> u32 {
    core::qr::DISPLAY_MODULE_PX
}

// The fewest pixels per module the page may shrink the QR to.
#[wasm_bindgen(js_name = qrMinModulePx)]
pub fn qr_min_module_px() -> u32 {
    core::qr::MIN_DISPLAY_MODULE_PX
}

// Removes spaces and hyphens from a typed or pasted code ("123 456" becomes "123456").
#[wasm_bindgen(js_name = cleanToken)]
pub fn clean_token(typed: &str) -> String {
    totp::clean_typed_token(typed)
}

// The key in groups of four, upper case, for people to read and type.
#[wasm_bindgen(js_name = groupSecret)]
pub fn group_secret(secret: &str) -> Result<String, JsError> {
    Ok(Secret::parse_typed(secret).map_err(js_err)?.grouped())
}

// Normalises an issuer by WHM's rules; `undefined` means "clear it".
#[wasm_bindgen(js_name = normalizeIssuer)]
pub fn normalize_issuer(issuer: &str) -> Result<Option<String>, JsError> {
    core::normalize_issuer(issuer).map_err(js_err)
}
