//! RFC 4226 HOTP and RFC 6238 TOTP with HMAC-SHA1, and verification of typed codes.
//!
//! Time comes in as unix seconds; this module never reads a clock. Tokens are strings: a
//! security code is exactly six ASCII digits, compared in constant time with the zero-padded
//! code and never parsed to an integer, so `012345` works.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::{Error, Secret};

/// The TOTP time step in seconds (RFC 6238 X), as cPanel.
pub const STEP_SECS: u64 = 30;
/// The number of digits in a cPanel security code.
pub const DIGITS: u32 = 6;
/// cPanel's verification window: one step either side of now.
pub const DEFAULT_WINDOW: u64 = 1;
/// How far two clocks may disagree before codes start to fail: the window's reach on one side.
/// The page warns when the browser's clock and the server's `Date` differ by more than this.
pub const CLOCK_TOLERANCE_SECS: u64 = STEP_SECS * DEFAULT_WINDOW;
/// How far the drift search looks either side of now, in steps (±10 minutes).
pub const DRIFT_SEARCH_STEPS: u64 = 20;
/// The widest window or drift search a caller may ask for (±1 hour): each step costs an HMAC.
pub const MAX_SEARCH_STEPS: u64 = 120;

/// The RFC 4226 "dynamic truncation" of HMAC-SHA-1(key, counter): a 31-bit number.
pub fn truncated(key: &[u8], counter: u64) -> u32 {
    dynamic_truncation(&hmac_sha1(key, counter))
}

/// RFC 4226 section 5.3: 31 bits of the digest, from the offset its last nibble names.
fn dynamic_truncation(digest: &[u8; 20]) -> u32 {
    let offset = usize::from(digest[19] & 0x0f);
    u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ])
}

/// HMAC-SHA-1 of the counter as an 8-byte big-endian value.
pub fn hmac_sha1(key: &[u8], counter: u64) -> [u8; 20] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail; the fallback keeps
    // this total without a panic path.
    match <Hmac<Sha1> as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(&counter.to_be_bytes());
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0; 20],
    }
}

/// The HOTP value for `counter` as a zero-padded string of `digits` digits (1 to 9).
pub fn hotp(key: &[u8], counter: u64, digits: u32) -> String {
    let digits = digits.clamp(1, 9);
    let code = truncated(key, counter) % 10u32.pow(digits);
    format!("{code:0width$}", width = digits as usize)
}

/// The TOTP step that contains `unix_secs` (T0 = 0).
pub fn step_at(unix_secs: u64) -> u64 {
    unix_secs / STEP_SECS
}

/// Seconds until the step containing `unix_secs` ends (1 to 30).
pub fn seconds_left(unix_secs: u64) -> u64 {
    STEP_SECS - unix_secs % STEP_SECS
}

/// The TOTP code of `digits` digits at `unix_secs`.
pub fn totp(key: &[u8], unix_secs: u64, digits: u32) -> String {
    hotp(key, step_at(unix_secs), digits)
}

/// The six-digit cPanel security code for `secret` at `unix_secs`.
pub fn code_at(secret: &Secret, unix_secs: u64) -> String {
    // Through `Codes`, not `hotp`: no `format!` (and so no `core::fmt`) on the page's path.
    Codes::new(secret.key())
        .map(|codes| {
            codes
                .at(step_at(unix_secs))
                .iter()
                .copied()
                .map(char::from)
                .collect()
        })
        .unwrap_or_default()
}

/// A well-formed security code: exactly six ASCII digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Token<'a>(&'a str);

impl<'a> Token<'a> {
    /// Accepts exactly six ASCII digits and nothing else (no spaces, signs or other digits).
    pub fn parse(text: &'a str) -> Result<Token<'a>, Error> {
        if text.is_empty() {
            return Err(Error::TokenEmpty);
        }
        if let Some((position, ch)) = text.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
            return Err(Error::TokenChar { ch, position });
        }
        if text.len() != DIGITS as usize {
            return Err(Error::TokenLength { len: text.len() });
        }
        Ok(Token(text))
    }

    /// The code's text.
    pub fn as_str(&self) -> &'a str {
        self.0
    }

    /// Is this the code of `step`? Compared in constant time with the zero-padded code.
    pub fn matches(&self, secret: &Secret, step: u64) -> bool {
        Codes::new(secret.key()).is_some_and(|codes| self.is_code(&codes, step))
    }

    /// [`Token::matches`] with a key already set up: what the window loops use.
    fn is_code(&self, codes: &Codes, step: u64) -> bool {
        codes.at(step).ct_eq(self.0.as_bytes()).into()
    }
}

/// The six-digit codes of one key. HMAC-SHA-1 is keyed once (the key's inner and outer pad
/// blocks hashed once) and its state reused for every step, so each further step costs two
/// SHA-1 compressions instead of four, and a code is written into a fixed buffer, not a
/// `String`: a ±1 window is 3 codes for the price of about 8 compressions.
struct Codes(Hmac<Sha1>);

impl Codes {
    /// `None` cannot happen (HMAC takes keys of any length); it keeps this total without a
    /// panic path.
    fn new(key: &[u8]) -> Option<Codes> {
        <Hmac<Sha1> as Mac>::new_from_slice(key).ok().map(Codes)
    }

    /// The zero-padded ASCII code of `step`.
    fn at(&self, step: u64) -> [u8; DIGITS as usize] {
        let mut mac = self.0.clone();
        mac.update(&step.to_be_bytes());
        let mut value = dynamic_truncation(&mac.finalize().into_bytes().into());
        let mut out = [b'0'; DIGITS as usize];
        for digit in out.iter_mut().rev() {
            // Always all six digits: the time does not depend on the code's value.
            *digit = b'0' + (value % 10) as u8;
            value /= 10;
        }
        out
    }
}

impl std::fmt::Debug for Token<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Removes the separators people type or paste into a code ("123 456", "123-456"), leaving
/// anything else for [`Token::parse`] to judge.
pub fn clean_typed_token(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '\t' | '\u{a0}' | '\u{2009}' | '\u{202f}'))
        .collect()
}

/// Why a security code was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The text is not six ASCII digits.
    Malformed(Error),
    /// No step inside the window has this code.
    Invalid,
    /// The code matches, but only at a step at or below the last accepted one.
    Replayed {
        /// The step the code belongs to.
        step: u64,
    },
}

/// Checks `token` against `secret` at `unix_secs`, accepting steps within `window` of now.
/// A step at or below `last_step` is refused as a replay. Returns the step that matched.
///
/// Every step in the window is compared, in constant time, whatever the outcome, so the time
/// taken does not reveal which step (if any) matched.
pub fn verify(
    secret: &Secret,
    token: &str,
    unix_secs: u64,
    window: u64,
    last_step: Option<u64>,
) -> Result<u64, Rejection> {
    let token = Token::parse(token).map_err(Rejection::Malformed)?;
    let codes = Codes::new(secret.key()).ok_or(Rejection::Invalid)?;
    let now = step_at(unix_secs);
    let mut fresh: Option<u64> = None;
    let mut replayed: Option<u64> = None;
    for step in now.saturating_sub(window)..=now.saturating_add(window) {
        if token.is_code(&codes, step) {
            if last_step.is_some_and(|last| step <= last) {
                replayed = Some(step);
            } else {
                fresh = Some(step);
            }
        }
    }
    match (fresh, replayed) {
        (Some(step), _) => Ok(step),
        (None, Some(step)) => Err(Rejection::Replayed { step }),
        (None, None) => Err(Rejection::Invalid),
    }
}

/// Looks for `token` within ±`max_steps` of now and returns the step offset of the nearest
/// match (positive: the phone's clock is ahead), so a caller can say "your phone's clock is
/// about 3 minutes ahead". `None` when the token is malformed or matches nowhere.
pub fn find_drift(secret: &Secret, token: &str, unix_secs: u64, max_steps: u64) -> Option<i64> {
    let token = Token::parse(token).ok()?;
    let codes = Codes::new(secret.key())?;
    let now = step_at(unix_secs);
    let max = i64::try_from(max_steps).ok()?;
    let matches = |offset: i64| {
        now.checked_add_signed(offset)
            .is_some_and(|step| token.is_code(&codes, step))
    };
    (0..=max).find_map(|d| {
        if matches(d) {
            Some(d)
        } else if d > 0 && matches(-d) {
            Some(-d)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    // The same tests run in the browser under `wasm-pack test`.
    use crate::core::vectors::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn rfc_secret() -> Secret {
        // "12345678901234567890" in base32.
        Secret::parse("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap()
    }

    #[test]
    fn rfc4226_appendix_d() {
        for (count, want) in RFC4226_HMAC.iter().enumerate() {
            assert_eq!(
                &hex(&hmac_sha1(RFC_KEY, count as u64)),
                want,
                "count {count}"
            );
        }
        for (count, trunc, code) in RFC4226_HOTP {
            assert_eq!(truncated(RFC_KEY, count), trunc, "count {count}");
            assert_eq!(hotp(RFC_KEY, count, 6), code, "count {count}");
        }
    }

    #[test]
    fn the_keyed_codes_are_the_hotp_codes() {
        let codes = Codes::new(RFC_KEY).unwrap();
        for step in (0..3000).chain([u64::MAX - 1, u64::MAX]) {
            assert_eq!(
                codes.at(step).as_slice(),
                hotp(RFC_KEY, step, DIGITS).as_bytes(),
                "step {step}"
            );
        }
    }

    #[test]
    fn rfc6238_appendix_b_sha1() {
        assert_eq!(rfc_secret().key(), RFC_KEY);
        for (time, step, code) in RFC6238_SHA1 {
            assert_eq!(step_at(time), step, "time {time}");
            assert_eq!(totp(RFC_KEY, time, 8), code, "time {time}");
            // The 6-digit code is the last six digits of the 8-digit one.
            assert_eq!(code_at(&rfc_secret(), time), code[2..], "time {time}");
        }
    }

    #[test]
    fn steps_and_seconds_left() {
        assert_eq!(step_at(0), 0);
        assert_eq!(step_at(29), 0);
        assert_eq!(step_at(30), 1);
        assert_eq!(seconds_left(0), 30);
        assert_eq!(seconds_left(29), 1);
        assert_eq!(seconds_left(31), 29);
    }

    #[test]
    fn token_shape() {
        assert!(Token::parse("012345").is_ok());
        assert_eq!(Token::parse("").unwrap_err(), Error::TokenEmpty);
        assert_eq!(
            Token::parse("12345").unwrap_err(),
            Error::TokenLength { len: 5 }
        );
        assert_eq!(
            Token::parse("1234567").unwrap_err(),
            Error::TokenLength { len: 7 }
        );
        assert_eq!(
            Token::parse(" 123456").unwrap_err(),
            Error::TokenChar {
                ch: ' ',
                position: 0
            }
        );
        assert_eq!(
            Token::parse("12345a").unwrap_err(),
            Error::TokenChar {
                ch: 'a',
                position: 5
            }
        );
        // Non-ASCII digits are not digits here.
        assert!(Token::parse("１２３４５６").is_err());
        assert!(Token::parse("+12345").is_err());
        assert_eq!(clean_typed_token("123 456"), "123456");
        assert_eq!(clean_typed_token(" 123-456\u{a0}"), "123456");
    }

    #[test]
    fn leading_zero_code_verifies_as_a_string() {
        // RFC 6238 row 2 ends in ...081804: its 6-digit code is "081804".
        let s = rfc_secret();
        assert_eq!(code_at(&s, 1111111109), "081804");
        assert_eq!(verify(&s, "081804", 1111111109, 1, None), Ok(0x23523EC));
        assert!(matches!(
            verify(&s, "81804", 1111111109, 1, None),
            Err(Rejection::Malformed(_))
        ));
    }

    #[test]
    fn window_edges() {
        let s = rfc_secret();
        let now = 1_700_000_015; // mid-step
        let step = step_at(now);
        let code = |st: u64| hotp(s.key(), st, 6);
        assert_eq!(verify(&s, &code(step), now, 1, None), Ok(step));
        assert_eq!(verify(&s, &code(step - 1), now, 1, None), Ok(step - 1));
        assert_eq!(verify(&s, &code(step + 1), now, 1, None), Ok(step + 1));
        assert_eq!(
            verify(&s, &code(step - 2), now, 1, None),
            Err(Rejection::Invalid)
        );
        assert_eq!(
            verify(&s, &code(step + 2), now, 1, None),
            Err(Rejection::Invalid)
        );
        assert_eq!(
            verify(&s, &code(step + 1), now, 0, None),
            Err(Rejection::Invalid)
        );
        assert_eq!(verify(&s, &code(step - 2), now, 2, None), Ok(step - 2));
        // The first and last second of a step belong to it.
        let start = step * 30;
        assert_eq!(verify(&s, &code(step), start, 0, None), Ok(step));
        assert_eq!(verify(&s, &code(step), start + 29, 0, None), Ok(step));
        assert_eq!(
            verify(&s, &code(step), start + 30, 0, None),
            Err(Rejection::Invalid)
        );
        // Time zero does not underflow.
        assert_eq!(verify(&s, &hotp(s.key(), 0, 6), 0, 1, None), Ok(0));
    }

    #[test]
    fn replay_is_refused() {
        let s = rfc_secret();
        let now = 1_700_000_015;
        let step = step_at(now);
        let c = hotp(s.key(), step, 6);
        assert_eq!(verify(&s, &c, now, 1, Some(step - 1)), Ok(step));
        assert_eq!(
            verify(&s, &c, now, 1, Some(step)),
            Err(Rejection::Replayed { step })
        );
        assert_eq!(
            verify(&s, &c, now, 1, Some(step + 1)),
            Err(Rejection::Replayed { step })
        );
        let prev = hotp(s.key(), step - 1, 6);
        assert_eq!(
            verify(&s, &prev, now, 1, Some(step - 1)),
            Err(Rejection::Replayed { step: step - 1 })
        );
        let next = hotp(s.key(), step + 1, 6);
        assert_eq!(verify(&s, &next, now, 1, Some(step)), Ok(step + 1));
    }

    #[test]
    fn drift_search_reports_offset() {
        let s = rfc_secret();
        let now = 1_700_000_015;
        let step = step_at(now);
        // A phone 3 minutes ahead shows the code of step + 6.
        assert_eq!(
            find_drift(&s, &hotp(s.key(), step + 6, 6), now, 20),
            Some(6)
        );
        assert_eq!(
            find_drift(&s, &hotp(s.key(), step - 20, 6), now, 20),
            Some(-20)
        );
        assert_eq!(find_drift(&s, &hotp(s.key(), step, 6), now, 20), Some(0));
        assert_eq!(find_drift(&s, &hotp(s.key(), step + 21, 6), now, 20), None);
        assert_eq!(find_drift(&s, "12345", now, 20), None);
        assert_eq!(find_drift(&s, &hotp(s.key(), 0, 6), 0, 20), Some(0));
    }
}
