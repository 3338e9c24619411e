//! Recovery codes as the issue defines them, checked here apart from the server's own
//! generator: `XXXXX-XXXXX` in an alphabet without look-alikes, 10 to a set, all different.

use serde_json::Value;

/// Crockford's base32: the digits and the capitals without I, L, O and U.
const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Asserts that `code` has the shown form: 5 symbols, a hyphen, 5 symbols.
pub fn assert_recovery_code(code: &str) {
    let chars: Vec<char> = code.chars().collect();
    assert_eq!(chars.len(), 11, "{code}");
    for (i, c) in chars.iter().enumerate() {
        if i == 5 {
            assert_eq!(*c, '-', "{code}");
        } else {
            assert!(ALPHABET.contains(*c), "{code}: {c} is not in {ALPHABET}");
        }
    }
}

/// Asserts that `set` is a fresh set: 10 codes of the shown form, all different.
pub fn assert_recovery_set(set: &[String]) {
    assert_eq!(set.len(), 10, "{set:?}");
    for code in set {
        assert_recovery_code(code);
    }
    let mut sorted = set.to_vec();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 10, "{set:?}");
}

/// Takes the `recovery_codes` out of a successful envelope's `data` (UAPI's flat one, the
/// CLI's wrapped one or WHM's)
/// after checking them with [`assert_recovery_set`]: the codes, and the envelope's text
/// without them, to compare byte for byte with cPanel's.
pub fn take_recovery_codes(text: &str) -> (Vec<String>, String) {
    let mut v: Value = serde_json::from_str(text).unwrap();
    // The flat envelope, or the CLI's, which wraps it in `result`.
    let data = if v.get("result").is_some() {
        &mut v["result"]["data"]
    } else {
        &mut v["data"]
    };
    let codes = data
        .as_object_mut()
        .and_then(|d| d.remove("recovery_codes"))
        .unwrap_or_else(|| panic!("no recovery_codes in {text}"));
    let codes: Vec<String> = serde_json::from_value(codes).unwrap();
    assert_recovery_set(&codes);
    (codes, v.to_string())
}
