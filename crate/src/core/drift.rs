//! The one sentence that tells a person their device's clock is off, built from the step offset
//! [`totp::find_drift`](super::totp::find_drift) returns.
//!
//! It lives in the core so the page (through the wasm module) and the server say the same words
//! at the same thresholds. It names no side ("the server's clock", "this computer's clock"): the
//! code is compared with whichever clock the caller holds, so "the current time" is true on both.
//! Pure: no clock, no I/O, and no panic for any `i64`.

use super::error::push_decimal;
use super::totp::STEP_SECS;

/// Below this many seconds the amount is said in seconds (30, 60, 90); from here on in whole
/// minutes, where "about 150 seconds" would be harder to act on than "about 3 minutes".
pub const MINUTES_FROM_SECS: u64 = 120;

const ADVICE: &str = " Check that the clock on your device is set automatically.";

/// The sentence for a code that matches `offset_steps` steps of [`STEP_SECS`] away from now
/// (positive: the code is for a later time, so the authenticator's clock is ahead).
///
/// - under 2 minutes: "The code matches a time about 90 seconds ahead of the current time.
///   Check that the clock on your device is set automatically."
/// - from 2 minutes: whole minutes, rounded to the nearest (half a minute rounds up):
///   "… about 3 minutes behind the current time. …"
/// - `0` (the code matches now, so no clock is off): "The code matches the current time.",
///   without advice; callers only ask past the verification window, so this is a fallback.
pub fn drift_sentence(offset_steps: i64) -> String {
    let mut s = String::from("The code matches ");
    if offset_steps == 0 {
        s.push_str("the current time.");
        return s;
    }
    // Saturating: an absurd offset still gives a sentence, never an overflow panic.
    let secs = offset_steps.unsigned_abs().saturating_mul(STEP_SECS);
    let (amount, unit) = if secs < MINUTES_FROM_SECS {
        (secs, "second")
    } else {
        // Nearest minute without `secs + 30` (which could overflow at the saturated maximum).
        (secs / 60 + u64::from(secs % 60 >= 30), "minute")
    };
    s.push_str("a time about ");
    push_decimal(&mut s, amount);
    s.push(' ');
    s.push_str(unit);
    if amount != 1 {
        s.push('s');
    }
    s.push_str(if offset_steps > 0 {
        " ahead of the current time."
    } else {
        " behind the current time."
    });
    s.push_str(ADVICE);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    // The same tests run in the browser under `wasm-pack test`.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn sentence(amount: &str, side: &str) -> String {
        format!(
            "The code matches a time about {amount} {side} the current time. \
             Check that the clock on your device is set automatically."
        )
    }

    #[test]
    fn under_two_minutes_in_seconds() {
        assert_eq!(drift_sentence(1), sentence("30 seconds", "ahead of"));
        assert_eq!(drift_sentence(2), sentence("60 seconds", "ahead of"));
        // 90 s is still seconds (the page used to switch to minutes here; the server did not).
        assert_eq!(drift_sentence(3), sentence("90 seconds", "ahead of"));
        assert_eq!(drift_sentence(-3), sentence("90 seconds", "behind"));
    }

    #[test]
    fn from_two_minutes_in_minutes() {
        assert_eq!(drift_sentence(4), sentence("2 minutes", "ahead of"));
        assert_eq!(drift_sentence(-4), sentence("2 minutes", "behind"));
        assert_eq!(drift_sentence(6), sentence("3 minutes", "ahead of"));
        // 150 s is two and a half minutes: half rounds up.
        assert_eq!(drift_sentence(5), sentence("3 minutes", "ahead of"));
        assert_eq!(drift_sentence(-7), sentence("4 minutes", "behind"));
    }

    #[test]
    fn ten_minutes_the_edge_of_the_drift_search() {
        assert_eq!(drift_sentence(20), sentence("10 minutes", "ahead of"));
        assert_eq!(drift_sentence(-20), sentence("10 minutes", "behind"));
    }

    #[test]
    fn zero_offset_says_the_code_is_current() {
        assert_eq!(drift_sentence(0), "The code matches the current time.");
    }

    #[test]
    fn never_panics_and_never_says_one_minutes() {
        for offset in [i64::MIN, i64::MIN + 1, i64::MAX, -1_000_000, 1_000_000] {
            let s = drift_sentence(offset);
            assert!(s.contains(" minutes "), "{s}");
        }
        for offset in -40..=40 {
            let s = drift_sentence(offset);
            assert!(
                !s.contains(" 1 minutes") && !s.contains(" 1 seconds"),
                "{s}"
            );
        }
    }
}
