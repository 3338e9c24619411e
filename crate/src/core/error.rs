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

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::SecretEmpty => f.write_str("The secret is empty."),
            Error::SecretChar { ch, position } => write!(
                f,
                "The secret contains “{}” at position {}; only the letters A-Z and the digits 2-7 are allowed.",
                Shown(*ch),
                position + 1
            ),
            Error::SecretPadding => {
                f.write_str("The secret must not contain “=” padding.")
            }
            Error::SecretBadPadding => f.write_str(
                "The secret’s “=” padding does not match its length.",
            ),
            Error::SecretLength { len } => write!(
                f,
                "The secret has {len} characters, which is not a valid base32 length; check for a missing or extra character."
            ),
            Error::TokenEmpty => f.write_str("The security code is empty."),
            Error::TokenLength { len } => write!(
                f,
                "The security code must be exactly 6 digits; {len} characters were given."
            ),
            Error::TokenChar { ch, position } => write!(
                f,
                "The security code must contain only digits; “{}” was found at position {}.",
                Shown(*ch),
                position + 1
            ),
            Error::TimeOutOfRange => f.write_str("The time is out of range."),
            Error::SearchTooWide { max } => {
                write!(f, "A window or search may span at most {max} steps either side.")
            }
            Error::Uri(e) => write!(f, "Invalid otpauth URI: {e}"),
            Error::IssuerTooLong { len } => write!(
                f,
                "The issuer has {len} characters; it must be at most 32."
            ),
            Error::IssuerChar { ch } => write!(
                f,
                "The issuer contains “{}”; it can only use spaces and the following characters: a-z, A-Z, 0-9, ., _, -",
                Shown(*ch)
            ),
            Error::QrTooLong => f.write_str("The text is too long to fit in a QR code."),
        }
    }
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UriError::Scheme => f.write_str("it must start with “otpauth://”."),
            UriError::Type(t) => write!(
                f,
                "the type “{}” is not supported; use “totp” or “hotp”.",
                ShownStr(t)
            ),
            UriError::NoLabel => f.write_str("the account name (label) is missing."),
            UriError::NoSecret => f.write_str("the “secret” parameter is missing."),
            UriError::Encoding => f.write_str("it contains a malformed %-escape or invalid UTF-8."),
            UriError::Param { name, value } => write!(
                f,
                "the “{name}” parameter has an unusable value “{}”.",
                ShownStr(value)
            ),
            UriError::NoCounter => f.write_str("a “hotp” URI needs a “counter” parameter."),
            UriError::Secret(e) => write!(f, "{e}"),
        }
    }
}

/// A character as a message shows it: itself when it is printable ASCII or a letter, else its
/// code point (`U+0000`), so that control characters cannot garble the message.
struct Shown(char);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_control() || (self.0.is_whitespace() && self.0 != ' ') {
            write!(f, "U+{:04X}", u32::from(self.0))
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// A string shown as [`Shown`] shows each character.
struct ShownStr<'a>(&'a str);

impl fmt::Display for ShownStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.chars().try_for_each(|c| write!(f, "{}", Shown(c)))
    }
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
    }
}
