//! What can be wrong with an input to the core. Every variant names the problem in words a
//! person can act on; the server maps these onto cPanel's wording, the wasm glue onto `JsError`.

use std::fmt;

/// A refusal by the core, naming what is wrong with the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The secret was empty (after removing spaces, for typed keys).
    SecretEmpty,
    /// The secret holds a character outside the base32 alphabet.
    SecretChar { ch: char, position: usize },
    /// The strict validator saw `=` padding, which cPanel refuses.
    SecretPadding,
    /// Padding that does not fit the key's length (typed keys only).
    SecretBadPadding,
    /// A length that no base32 encoding produces.
    SecretLength { len: usize },
    /// The token was empty.
    TokenEmpty,
    /// The token was not exactly six characters long.
    TokenLength { len: usize },
    /// The token held something other than an ASCII digit.
    TokenChar { ch: char, position: usize },
    /// A time before the unix epoch or beyond what a step counter can hold.
    TimeOutOfRange,
    /// A verification window or drift search wider than the core allows.
    SearchTooWide { max: u64 },
    /// An `otpauth://` URI that cannot be read.
    Uri(UriError),
    /// An issuer that breaks WHM's issuer rules.
    IssuerTooLong { len: usize },
    /// An issuer character outside `[ a-zA-Z0-9._-]`.
    IssuerChar { ch: char },
    /// The data is too long to fit in a QR code.
    QrTooLong,
}

/// What is wrong with an `otpauth://` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UriError {
    /// It does not start with `otpauth://`.
    Scheme,
    /// The type is neither `totp` nor `hotp`.
    Type(String),
    /// There is no label (account name) after the type.
    NoLabel,
    /// The `secret` parameter is missing.
    NoSecret,
    /// A `%` escape that is not two hex digits, or bytes that are not UTF-8.
    Encoding,
    /// A parameter with a value that cannot be used.
    Param { name: &'static str, value: String },
    /// A `hotp` URI without its `counter`.
    NoCounter,
    /// The secret parameter is not a valid key.
    Secret(Box<Error>),
}

// The messages are built with `push_str` and [`push_decimal`], not `write!`: the wasm module
// shows them too, and `core::fmt`'s machinery is a weight the page's module is budgeted against.
// `Display` writes the same text.

impl Error {
    /// The message, as [`Display`](fmt::Display) writes it.
    pub fn message(&self) -> String {
        let mut s = String::new();
        self.push_message(&mut s);
        s
    }

    fn push_message(&self, s: &mut String) {
        match self {
            Error::SecretEmpty => s.push_str("The secret is empty."),
            Error::SecretChar { ch, position } => {
                s.push_str("The secret contains “");
                push_shown(s, *ch);
                s.push_str("” at position ");
                push_decimal(s, position.saturating_add(1) as u64);
                s.push_str("; only the letters A-Z and the digits 2-7 are allowed.");
            }
            Error::SecretPadding => s.push_str("The secret must not contain “=” padding."),
            Error::SecretBadPadding => {
                s.push_str("The secret’s “=” padding does not match its length.")
            }
            Error::SecretLength { len } => {
                s.push_str("The secret has ");
                push_decimal(s, *len as u64);
                s.push_str(" characters, which is not a valid base32 length; check for a missing or extra character.");
            }
            Error::TokenEmpty => s.push_str("The security code is empty."),
            Error::TokenLength { len } => {
                s.push_str("The security code must be exactly 6 digits; ");
                push_decimal(s, *len as u64);
                s.push_str(" characters were given.");
            }
            Error::TokenChar { ch, position } => {
                s.push_str("The security code must contain only digits; “");
                push_shown(s, *ch);
                s.push_str("” was found at position ");
                push_decimal(s, position.saturating_add(1) as u64);
                s.push('.');
            }
            Error::TimeOutOfRange => s.push_str("The time is out of range."),
            Error::SearchTooWide { max } => {
                s.push_str("A window or search may span at most ");
                push_decimal(s, *max);
                s.push_str(" steps either side.");
            }
            Error::Uri(e) => {
                s.push_str("Invalid otpauth URI: ");
                e.push_message(s);
            }
            Error::IssuerTooLong { len } => {
                s.push_str("The issuer has ");
                push_decimal(s, *len as u64);
                s.push_str(" characters; it must be at most 32.");
            }
            Error::IssuerChar { ch } => {
                s.push_str("The issuer contains “");
                push_shown(s, *ch);
                s.push_str("”; it can only use spaces and the following characters: a-z, A-Z, 0-9, ., _, -");
            }
            Error::QrTooLong => s.push_str("The text is too long to fit in a QR code."),
        }
    }
}

impl UriError {
    fn push_message(&self, s: &mut String) {
        match self {
            UriError::Scheme => s.push_str("it must start with “otpauth://”."),
            UriError::Type(t) => {
                s.push_str("the type “");
                t.chars().for_each(|c| push_shown(s, c));
                s.push_str("” is not supported; use “totp” or “hotp”.");
            }
            UriError::NoLabel => s.push_str("the account name (label) is missing."),
            UriError::NoSecret => s.push_str("the “secret” parameter is missing."),
            UriError::Encoding => s.push_str("it contains a malformed %-escape or invalid UTF-8."),
            UriError::Param { name, value } => {
                s.push_str("the “");
                s.push_str(name);
                s.push_str("” parameter has an unusable value “");
                value.chars().for_each(|c| push_shown(s, c));
                s.push_str("”.");
            }
            UriError::NoCounter => s.push_str("a “hotp” URI needs a “counter” parameter."),
            UriError::Secret(e) => e.push_message(s),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.push_message(&mut s);
        f.write_str(&s)
    }
}

/// A character as a message shows it: itself when it is printable ASCII or a letter, else its
/// code point (`U+0000`, at least four upper-case hex digits), so that control characters cannot
/// garble the message.
fn push_shown(s: &mut String, ch: char) {
    if ch.is_control() || (ch.is_whitespace() && ch != ' ') {
        s.push_str("U+");
        let code = u32::from(ch);
        // A code point has at most 6 hex digits; at least 4 are written.
        let digits = (1..=6u32)
            .rev()
            .find(|d| code >> (4 * (d - 1)) != 0)
            .unwrap_or(1)
            .max(4);
        for d in (0..digits).rev() {
            let nibble = (code >> (4 * d)) & 0xf;
            s.push(char::from_digit(nibble, 16).map_or('0', |c| c.to_ascii_uppercase()));
        }
    } else {
        s.push(ch);
    }
}

/// Appends `n` in decimal: the small number writer of the core's messages (no `core::fmt`).
pub fn push_decimal(s: &mut String, n: u64) {
    // u64::MAX has 20 digits.
    let mut digits = [0u8; 20];
    let mut rest = n;
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 || start == 0 {
            break;
        }
    }
    digits[start..].iter().for_each(|d| s.push(char::from(*d)));
}

impl std::error::Error for Error {}

impl From<UriError> for Error {
    fn from(e: UriError) -> Self {
        Error::Uri(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn messages_show_control_characters_as_code_points() {
        let e = Error::SecretChar {
            ch: '\0',
            position: 2,
        };
        assert_eq!(
            e.to_string(),
            "The secret contains “U+0000” at position 3; only the letters A-Z and the digits 2-7 are allowed."
        );
        let e = Error::TokenChar {
            ch: '\t',
            position: 0,
        };
        assert!(e.to_string().contains("“U+0009”"), "{e}");
        let e = Error::TokenChar {
            ch: 'x',
            position: 0,
        };
        assert!(e.to_string().contains("“x”"), "{e}");
        let e = Error::Uri(UriError::Type("to\ntp".into()));
        assert!(e.to_string().contains("“toU+000Atp”"), "{e}");
        // Past four hex digits, all of them.
        let e = Error::IssuerChar { ch: '\u{e0001}' };
        assert!(e.to_string().contains("“\u{e0001}”"), "{e}");
        let e = Error::IssuerChar { ch: '\u{2028}' };
        assert!(e.to_string().contains("“U+2028”"), "{e}");
        let e = Error::IssuerChar { ch: '\u{9f}' };
        assert!(e.to_string().contains("“U+009F”"), "{e}");
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            12_345,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut s = String::from("x");
            push_decimal(&mut s, n);
            assert_eq!(s, format!("x{n}"));
        }
    }

    #[test]
    fn every_message_reads_as_before() {
        let cases: Vec<(Error, &str)> = vec![
            (Error::SecretEmpty, "The secret is empty."),
            (Error::SecretChar { ch: '1', position: 15 }, "The secret contains “1” at position 16; only the letters A-Z and the digits 2-7 are allowed."),
            (Error::SecretPadding, "The secret must not contain “=” padding."),
            (Error::SecretBadPadding, "The secret’s “=” padding does not match its length."),
            (Error::SecretLength { len: 3 }, "The secret has 3 characters, which is not a valid base32 length; check for a missing or extra character."),
            (Error::TokenEmpty, "The security code is empty."),
            (Error::TokenLength { len: 7 }, "The security code must be exactly 6 digits; 7 characters were given."),
            (Error::TokenChar { ch: 'x', position: 2 }, "The security code must contain only digits; “x” was found at position 3."),
            (Error::TimeOutOfRange, "The time is out of range."),
            (Error::SearchTooWide { max: 120 }, "A window or search may span at most 120 steps either side."),
            (Error::Uri(UriError::Scheme), "Invalid otpauth URI: it must start with “otpauth://”."),
            (Error::Uri(UriError::Type("motp".into())), "Invalid otpauth URI: the type “motp” is not supported; use “totp” or “hotp”."),
            (Error::Uri(UriError::NoLabel), "Invalid otpauth URI: the account name (label) is missing."),
            (Error::Uri(UriError::NoSecret), "Invalid otpauth URI: the “secret” parameter is missing."),
            (Error::Uri(UriError::Encoding), "Invalid otpauth URI: it contains a malformed %-escape or invalid UTF-8."),
            (Error::Uri(UriError::Param { name: "digits", value: "12".into() }), "Invalid otpauth URI: the “digits” parameter has an unusable value “12”."),
            (Error::Uri(UriError::NoCounter), "Invalid otpauth URI: a “hotp” URI needs a “counter” parameter."),
            (Error::Uri(UriError::Secret(Box::new(Error::SecretEmpty))), "Invalid otpauth URI: The secret is empty."),
            (Error::IssuerTooLong { len: 33 }, "The issuer has 33 characters; it must be at most 32."),
            (Error::IssuerChar { ch: ',' }, "The issuer contains “,”; it can only use spaces and the following characters: a-z, A-Z, 0-9, ., _, -"),
            (Error::QrTooLong, "The text is too long to fit in a QR code."),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
            assert_eq!(e.message(), want);
        }
    }
}
