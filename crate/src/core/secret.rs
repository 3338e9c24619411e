//! The shared TOTP secret: cPanel's base32 text and the key bytes it stands for.
//!
//! Owns generation (10 random bytes in, 16 characters of `A-Z2-7` out, as cPanel does), the
//! strict validator the API uses (with the length bound for secrets that clients choose), and
//! the lenient parser for keys that people type. It must never print a secret: `Debug` is
//! redacted and there is no `Display`.

use std::fmt;

use data_encoding::{Encoding, BASE32_NOPAD};
use zeroize::Zeroizing;

use super::Error;

/// How many random bytes make a cPanel secret (80 bits, 16 base32 characters).
pub const RANDOM_BYTES: usize = 10;

/// The fewest characters of a secret that a client chooses: 16, cPanel's own 80 bits.
pub const MIN_CHOSEN_CHARS: usize = 16;
/// The most characters of a secret that a client chooses: 128, 640 bits.
pub const MAX_CHOSEN_CHARS: usize = 128;

const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A TOTP secret. Keeps the text exactly as it was accepted (cPanel stores lowercase input as
/// given) and the decoded key. Both are wiped from memory on drop.
#[derive(Clone)]
pub struct Secret {
    text: Zeroizing<String>,
    key: Zeroizing<Vec<u8>>,
}

impl Secret {
    /// A new cPanel-style secret from [`RANDOM_BYTES`] bytes of randomness supplied by the caller.
    pub fn from_random_bytes(bytes: &[u8; RANDOM_BYTES]) -> Secret {
        Secret {
            text: Zeroizing::new(BASE32.encode(bytes)),
            key: Zeroizing::new(bytes.to_vec()),
        }
    }

    /// The strict validator used by the API, as cPanel's: any unpadded base32 made of
    /// `[A-Za-z2-7]` whose length base32 can produce. The text is kept exactly as given.
    pub fn parse(text: &str) -> Result<Secret, Error> {
        if text.is_empty() {
            return Err(Error::SecretEmpty);
        }
        for (position, ch) in text.chars().enumerate() {
            if ch == '=' {
                return Err(Error::SecretPadding);
            }
            if !is_base32_char(ch) {
                return Err(Error::SecretChar { ch, position });
            }
        }
        let key = decode(text)?;
        Ok(Secret {
            text: Zeroizing::new(text.to_owned()),
            key,
        })
    }

    /// The validator for a secret a client chooses (enrollment, an administrator's replacement,
    /// an import): [`Secret::parse`], then a length of [`MIN_CHOSEN_CHARS`] to
    /// [`MAX_CHOSEN_CHARS`] characters (80 to 640 bits). `parse` itself stays unbounded, as
    /// cPanel's validator is, because it also reads secrets already stored.
    pub fn parse_chosen(text: &str) -> Result<Secret, ChosenSecretError> {
        let len = text.chars().count();
        // Too long is refused before any decoding; too short only once it is valid base32,
        // so that a text that is no secret at all is called invalid, not short.
        if len > MAX_CHOSEN_CHARS {
            return Err(ChosenSecretError::Size { len });
        }
        let secret = Secret::parse(text).map_err(ChosenSecretError::Invalid)?;
        if len < MIN_CHOSEN_CHARS {
            return Err(ChosenSecretError::Size { len });
        }
        Ok(secret)
    }

    /// The lenient parser for keys that people type or paste: lowercase, spaces, tabs and
    /// hyphens are fine, and so is `=` padding of the right length. The kept text is the
    /// canonical form: uppercase, unpadded, no separators.
    pub fn parse_typed(text: &str) -> Result<Secret, Error> {
        let mut canonical = Zeroizing::new(String::with_capacity(text.len()));
        let mut padding = 0usize;
        for (position, ch) in text.chars().enumerate() {
            match ch {
                ' ' | '\t' | '-' | '\u{a0}' => {}
                '=' => padding += 1,
                _ if padding > 0 => return Err(Error::SecretBadPadding),
                _ if is_base32_char(ch) => canonical.push(ch.to_ascii_uppercase()),
                _ => return Err(Error::SecretChar { ch, position }),
            }
        }
        if canonical.is_empty() {
            return Err(Error::SecretEmpty);
        }
        if padding > 0 && padding != expected_padding(canonical.len()) {
            return Err(Error::SecretBadPadding);
        }
        let key = decode(&canonical)?;
        Ok(Secret {
            text: canonical,
            key,
        })
    }

    /// The secret's text, for storage and for the otpauth URI. Never log it.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The decoded key bytes that HMAC uses.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The text in upper case, in groups of four separated by spaces, for people to type.
    pub fn grouped(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + self.text.len() / 4);
        for (i, ch) in self.text.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push(' ');
            }
            out.push(ch.to_ascii_uppercase());
        }
        out
    }
}

/// Why [`Secret::parse_chosen`] refused a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChosenSecretError {
    /// Not base32 as the strict validator reads it.
    Invalid(Error),
    /// Base32, but with `len` characters: fewer than [`MIN_CHOSEN_CHARS`] or more than
    /// [`MAX_CHOSEN_CHARS`].
    Size { len: usize },
}

impl fmt::Display for ChosenSecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChosenSecretError::Invalid(e) => e.fmt(f),
            ChosenSecretError::Size { len } => write!(
                f,
                "The secret has {len} characters; it must have {MIN_CHOSEN_CHARS} to {MAX_CHOSEN_CHARS} base32 characters ({} to {} bits).",
                MIN_CHOSEN_CHARS * 5,
                MAX_CHOSEN_CHARS * 5
            ),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

fn is_base32_char(ch: char) -> bool {
    ch.is_ascii_alphabetic() || ('2'..='7').contains(&ch)
}

/// The `=` count that RFC 4648 padding adds to an unpadded text of this length.
fn expected_padding(len: usize) -> usize {
    match len % 8 {
        2 => 6,
        4 => 4,
        5 => 3,
        7 => 1,
        _ => 0,
    }
}

/// RFC 4648 base32 without padding, as a `static`: every use passes data-encoding the one
/// address of constant data, so LTO sees its runtime dispatch (bit width, bit order, padding)
/// as constant and keeps only the base32 path in the wasm module. An encoding built at run time
/// from a `Specification` (as this was) keeps every bit width: 32 KB more raw, 6.9 KB gzipped.
static BASE32: Encoding = BASE32_NOPAD;

/// Base32 as cPanel reads it: either case, and the unused low bits of the last character are
/// ignored rather than refused (authenticator apps do the same). `text` holds only base32
/// characters (both parsers check them first).
fn decode(text: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    let length = || Error::SecretLength { len: text.len() };
    if matches!(text.len() % 8, 1 | 3 | 6) {
        return Err(length());
    }
    // The standard encoding reads upper case and refuses unused bits that are set, so both are
    // normalised here: upper case, and the last character's unused low bits cleared.
    let mut canonical = Zeroizing::new(text.as_bytes().to_ascii_uppercase());
    let unused = (text.len() * 5) % 8;
    if let Some(last) = canonical.last_mut() {
        if let Some(value) = ALPHABET.bytes().position(|c| c == *last) {
            let cleared = value & !((1usize << unused) - 1);
            *last = ALPHABET.as_bytes().get(cleared).copied().unwrap_or(*last);
        }
    }
    BASE32
        .decode(&canonical)
        .map(Zeroizing::new)
        .map_err(|_| length())
}

#[cfg(test)]
mod tests {
    use super::*;
    // The same tests run in the browser under `wasm-pack test`.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn generates_sixteen_base32_characters_from_ten_bytes() {
        let s = Secret::from_random_bytes(&[0u8; 10]);
        assert_eq!(s.expose(), "AAAAAAAAAAAAAAAA");
        let s = Secret::from_random_bytes(&[0xff; 10]);
        assert_eq!(s.expose(), "7777777777777777");
        // "Hello!\xde\xad\xbe\xef" is RFC 6238's classic JBSWY3DPEHPK3PXP.
        let s = Secret::from_random_bytes(b"Hello!\xde\xad\xbe\xef");
        assert_eq!(s.expose(), "JBSWY3DPEHPK3PXP");
        assert_eq!(s.key(), b"Hello!\xde\xad\xbe\xef");
        for b in 0..=255u8 {
            let s = Secret::from_random_bytes(&[b; 10]);
            assert_eq!(s.expose().len(), 16);
            assert!(s.expose().chars().all(|c| ALPHABET.contains(c)));
        }
    }

    #[test]
    fn strict_parser_accepts_cpanel_secrets_and_keeps_case() {
        for ok in [
            "JBSWY3DPEHPK3PXP",
            "S3I4WUY7MTHRMMWN",
            "WJ73QJSKZBXCFIPZ",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        ] {
            assert_eq!(
                Secret::parse(ok).map(|s| s.expose().to_owned()),
                Ok(ok.to_owned())
            );
        }
        let lower = Secret::parse("jbswy3dpehpk3pxp").unwrap();
        assert_eq!(lower.expose(), "jbswy3dpehpk3pxp");
        assert_eq!(
            lower.key(),
            Secret::parse("JBSWY3DPEHPK3PXP").unwrap().key()
        );
        // Lengths other than 16 are valid base32 too (cPanel does not enforce 16).
        assert_eq!(Secret::parse("MZXQ").unwrap().key(), b"fo");
        assert_eq!(Secret::parse("MZXW6YQ").unwrap().key(), b"foob");
        // Set unused low bits of the last character are ignored, in either case.
        assert_eq!(Secret::parse("MZXR").unwrap().key(), b"fo");
        assert_eq!(Secret::parse("mzxr").unwrap().key(), b"fo");
        assert_eq!(Secret::parse("MZXW6YR").unwrap().key(), b"foob");
        assert_eq!(Secret::parse_typed("mzx7====").unwrap().key(), b"fo");
    }

    #[test]
    fn strict_parser_names_what_is_wrong() {
        assert_eq!(Secret::parse("").unwrap_err(), Error::SecretEmpty);
        assert_eq!(
            Secret::parse("JBSWY3DPEHPK3PX=").unwrap_err(),
            Error::SecretPadding
        );
        assert_eq!(
            Secret::parse("JBSWY3DPEHPK3PX1").unwrap_err(),
            Error::SecretChar {
                ch: '1',
                position: 15
            }
        );
        assert_eq!(
            Secret::parse("JBSW Y3DP").unwrap_err(),
            Error::SecretChar {
                ch: ' ',
                position: 4
            }
        );
        assert_eq!(
            Secret::parse("ÄBSWY3DPEHPK3PXP").unwrap_err(),
            Error::SecretChar {
                ch: 'Ä',
                position: 0
            }
        );
        assert_eq!(
            Secret::parse("ABC").unwrap_err(),
            Error::SecretLength { len: 3 }
        );
        assert_eq!(
            Secret::parse("A").unwrap_err(),
            Error::SecretLength { len: 1 }
        );
        let msg = Secret::parse("JBSWY3DPEHPK3PX1").unwrap_err().to_string();
        assert!(msg.contains("“1”") && msg.contains("position 16"), "{msg}");
    }

    #[test]
    fn chosen_secrets_have_16_to_128_characters() {
        for len in [16, 18, 20, 24, 64, 127, 128] {
            let text = "A".repeat(len);
            let s = Secret::parse_chosen(&text).unwrap();
            assert_eq!(s.expose(), text);
        }
        assert_eq!(
            Secret::parse_chosen("jbswy3dpehpk3pxp").unwrap().key(),
            Secret::parse("JBSWY3DPEHPK3PXP").unwrap().key()
        );
        for len in [2, 4, 5, 7, 8, 15, 129, 136, 40_000] {
            assert_eq!(
                Secret::parse_chosen(&"A".repeat(len)).unwrap_err(),
                ChosenSecretError::Size { len },
                "{len}"
            );
        }
        // Not base32 at all: invalid, whatever the length (unless far too long).
        assert_eq!(
            Secret::parse_chosen("A").unwrap_err(),
            ChosenSecretError::Invalid(Error::SecretLength { len: 1 })
        );
        assert_eq!(
            Secret::parse_chosen("JBSWY3DPEHPK3PX1").unwrap_err(),
            ChosenSecretError::Invalid(Error::SecretChar {
                ch: '1',
                position: 15
            })
        );
        assert_eq!(
            Secret::parse_chosen("").unwrap_err(),
            ChosenSecretError::Invalid(Error::SecretEmpty)
        );
        let msg = Secret::parse_chosen("AA").unwrap_err().to_string();
        assert!(
            msg.contains("2 characters") && msg.contains("16 to 128"),
            "{msg}"
        );
    }

    #[test]
    fn typed_parser_tolerates_what_people_type() {
        let want = Secret::parse("JBSWY3DPEHPK3PXP").unwrap();
        for typed in [
            "jbsw y3dp ehpk 3pxp",
            "JBSW-Y3DP-EHPK-3PXP",
            " JBSWY3DPEHPK3PXP\t",
            "jbswy3dpehpk3pxp",
        ] {
            let got = Secret::parse_typed(typed).unwrap();
            assert_eq!(got.expose(), "JBSWY3DPEHPK3PXP", "{typed}");
            assert_eq!(got.key(), want.key(), "{typed}");
        }
        // Correct padding: "MZXW6YQ" (7 chars) takes one "=".
        assert_eq!(Secret::parse_typed("MZXW6YQ=").unwrap().key(), b"foob");
        assert_eq!(Secret::parse_typed("mzxq====").unwrap().key(), b"fo");
        assert_eq!(
            Secret::parse_typed("MZXW6YQ==").unwrap_err(),
            Error::SecretBadPadding
        );
        assert_eq!(
            Secret::parse_typed("MZ=XW6YQ").unwrap_err(),
            Error::SecretBadPadding
        );
        assert_eq!(Secret::parse_typed("  - ").unwrap_err(), Error::SecretEmpty);
        assert_eq!(
            Secret::parse_typed("JBSW 8DP").unwrap_err(),
            Error::SecretChar {
                ch: '8',
                position: 5
            }
        );
    }

    #[test]
    fn grouped_and_debug() {
        let s = Secret::parse("jbswy3dpehpk3pxp").unwrap();
        assert_eq!(s.grouped(), "JBSW Y3DP EHPK 3PXP");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert!(!format!("{s:?}").contains("JBSW"));
    }
}
