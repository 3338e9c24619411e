//! `otpauth://` URIs: built exactly as cPanel builds them, parsed tolerantly as real
//! authenticator exports need.
//!
//! cPanel's form is `otpauth://totp/<enc(issuer)>:<enc(account)>?secret=S&issuer=<enc(issuer)>`,
//! where `enc` leaves the RFC 3986 unreserved set alone and writes uppercase hex.

use std::borrow::Cow;

use percent_encoding::{percent_decode, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::error::UriError;
use super::totp::{DIGITS, STEP_SECS};
use super::{Error, Secret};

/// Everything but the RFC 3986 unreserved set `A-Za-z0-9-._~` is escaped.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `enc()` of cPanel's encoder: percent-encode all but unreserved bytes, uppercase hex.
pub fn encode_component(text: &str) -> String {
    // Through `Cow`, not `to_string`: the same text without `core::fmt` (the wasm module's weight).
    Cow::from(utf8_percent_encode(text, NOT_UNRESERVED)).into_owned()
}

/// Builds the URI exactly as cPanel does.
pub fn build_uri(issuer: &str, account: &str, secret: &Secret) -> String {
    let issuer = encode_component(issuer);
    let account = encode_component(account);
    let secret = secret.expose();
    // Concatenated rather than `format!`ted, to keep `core::fmt` out of the wasm module.
    let mut uri = String::with_capacity(40 + 2 * issuer.len() + account.len() + secret.len());
    for part in [
        "otpauth://totp/",
        &issuer,
        ":",
        &account,
        "?secret=",
        secret,
        "&issuer=",
        &issuer,
    ] {
        uri.push_str(part);
    }
    uri
}

/// `totp` or `hotp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Totp,
    Hotp,
}

/// The HMAC hash an URI asks for. Only SHA1 is what cPanel uses; the others are read so a
/// caller can say so rather than silently compute wrong codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl Algorithm {
    /// The name as otpauth URIs spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        }
    }
}

/// A parsed `otpauth://` URI.
#[derive(Debug, Clone)]
pub struct OtpAuth {
    pub kind: Kind,
    /// The issuer prefix of the label (`Issuer:account`), if any.
    pub label_issuer: Option<String>,
    /// The account name of the label.
    pub account: String,
    /// The `issuer=` parameter, if any. It wins over the label's issuer.
    pub issuer_param: Option<String>,
    pub secret: Secret,
    pub algorithm: Algorithm,
    pub digits: u32,
    pub period: u64,
    /// `hotp` only.
    pub counter: Option<u64>,
}

impl OtpAuth {
    /// The issuer to show: the `issuer=` parameter if present, else the label's prefix.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer_param
            .as_deref()
            .or(self.label_issuer.as_deref())
    }

    /// Parses an URI tolerantly: either case for scheme and type, `:` or `%3A` between issuer
    /// and account, `+` or `%20` for a space, lowercase or padded secrets, `algorithm`,
    /// `digits`, `period` and unknown parameters, and `hotp` with `counter`. Never panics.
    pub fn parse(uri: &str) -> Result<OtpAuth, Error> {
        let uri = uri.trim();
        let rest = strip_prefix_ignore_case(uri, "otpauth://").ok_or(UriError::Scheme)?;
        let (kind_text, rest) = rest.split_once('/').ok_or(UriError::NoLabel)?;
        let kind = if kind_text.eq_ignore_ascii_case("totp") {
            Kind::Totp
        } else if kind_text.eq_ignore_ascii_case("hotp") {
            Kind::Hotp
        } else {
            return Err(UriError::Type(kind_text.chars().take(32).collect()).into());
        };
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (label, query) = rest.split_once('?').unwrap_or((rest, ""));
        let label = decode_component(label)?;
        let (label_issuer, account) = match label.split_once(':') {
            Some((issuer, account)) => (Some(issuer.trim().to_owned()), account.trim()),
            None => (None, label.trim()),
        };
        if account.is_empty() {
            return Err(UriError::NoLabel.into());
        }
        let label_issuer = label_issuer.filter(|i| !i.is_empty());

        let mut secret = None;
        let mut issuer_param = None;
        let mut algorithm = Algorithm::Sha1;
        let mut digits = DIGITS;
        let mut period = STEP_SECS;
        let mut counter = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode_component(key)?.to_ascii_lowercase();
            let value = decode_component(value)?;
            match key.as_str() {
                "secret" if secret.is_none() => {
                    secret = Some(
                        Secret::parse_typed(&value).map_err(|e| UriError::Secret(Box::new(e)))?,
                    );
                }
                "issuer" if issuer_param.is_none() => {
                    issuer_param = Some(value.trim().to_owned()).filter(|i| !i.is_empty());
                }
                "algorithm" => {
                    // "sha-256" reads as "SHA256". Filtered by hand: `str::replace` brings a
                    // pattern searcher into the wasm module for this one use.
                    let name: String = value
                        .chars()
                        .filter(|&c| c != '-')
                        .map(|c| c.to_ascii_uppercase())
                        .collect();
                    algorithm = match name.as_str() {
                        "SHA1" => Algorithm::Sha1,
                        "SHA256" => Algorithm::Sha256,
                        "SHA512" => Algorithm::Sha512,
                        _ => return Err(param("algorithm", &value)),
                    }
                }
                "digits" => {
                    digits = parse_number(&value)
                        .and_then(|d| u32::try_from(d).ok())
                        .filter(|d| (6..=8).contains(d))
                        .ok_or_else(|| param("digits", &value))?;
                }
                "period" => {
                    period = parse_number(&value)
                        .filter(|p| (1..=86_400).contains(p))
                        .ok_or_else(|| param("period", &value))?;
                }
                "counter" => {
                    counter = Some(parse_number(&value).ok_or_else(|| param("counter", &value))?);
                }
                _ => {} // unknown parameters (image, color, ...) are ignored
            }
        }
        let secret = secret.ok_or(UriError::NoSecret)?;
        if kind == Kind::Hotp && counter.is_none() {
            return Err(UriError::NoCounter.into());
        }
        Ok(OtpAuth {
            kind,
            label_issuer,
            account: account.to_owned(),
            issuer_param,
            secret,
            algorithm,
            digits,
            period,
            counter: if kind == Kind::Hotp { counter } else { None },
        })
    }
}

/// A parameter's number as `str::parse::<u64>` reads it after `trim`: an optional `+`, then
/// ASCII digits, refused past `u64::MAX`. By hand, because the standard parser's generic code
/// weighs on the wasm module.
fn parse_number(value: &str) -> Option<u64> {
    let text = value.trim();
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() {
        return None;
    }
    digits.bytes().try_fold(0u64, |n, b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

fn param(name: &'static str, value: &str) -> Error {
    UriError::Param {
        name,
        value: value.chars().take(64).collect(),
    }
    .into()
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

/// Percent-decodes one URI component, reading a raw `+` as a space. A `%` that is not followed
/// by two hex digits, or bytes that are not UTF-8, are refused rather than guessed at.
fn decode_component(raw: &str) -> Result<String, UriError> {
    let bytes = raw.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let ok = bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            if !ok {
                return Err(UriError::Encoding);
            }
        }
    }
    // Byte by byte (`+` is ASCII, so never part of a longer UTF-8 sequence), not `str::replace`,
    // whose pattern searcher would weigh on the wasm module.
    let spaced: Vec<u8> = bytes
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&spaced)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| UriError::Encoding)
}

#[cfg(test)]
mod tests {
    use super::*;
    // The same tests run in the browser under `wasm-pack test`.
    use crate::core::vectors::CPANEL_URIS;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn builds_the_spec_examples_byte_for_byte() {
        for (issuer, account, secret, want) in CPANEL_URIS {
            let secret = Secret::parse(secret).unwrap();
            assert_eq!(build_uri(issuer, account, &secret), want);
        }
    }

    #[test]
    fn encodes_like_cpanel() {
        assert_eq!(encode_component("user@domain"), "user%40domain");
        assert_eq!(encode_component("a b,c"), "a%20b%2Cc");
        assert_eq!(encode_component("A-Z_a.z~09"), "A-Z_a.z~09");
        assert_eq!(encode_component("é"), "%C3%A9");
        let s = Secret::parse("JBSWY3DPEHPK3PXP").unwrap();
        assert_eq!(
            build_uri("My Host", "team@cpuser", &s),
            "otpauth://totp/My%20Host:team%40cpuser?secret=JBSWY3DPEHPK3PXP&issuer=My%20Host"
        );
    }

    #[test]
    fn round_trips_what_it_builds() {
        for (issuer, account, secret, uri) in CPANEL_URIS {
            let p = OtpAuth::parse(uri).unwrap();
            assert_eq!(p.kind, Kind::Totp);
            assert_eq!(p.issuer(), Some(issuer));
            assert_eq!(p.label_issuer.as_deref(), Some(issuer));
            assert_eq!(p.account, account);
            assert_eq!(p.secret.expose(), secret);
            assert_eq!((p.algorithm, p.digits, p.period), (Algorithm::Sha1, 6, 30));
        }
    }

    /// Shapes seen in real authenticator exports and provider QR codes. Each row:
    /// (uri, Some((issuer, account, secret, digits, period, counter)) or None for a refusal).
    type Want = Option<(
        Option<&'static str>,
        &'static str,
        &'static str,
        u32,
        u64,
        Option<u64>,
    )>;
    const CORPUS: &[(&str, Want)] = &[
        // Google Authenticator key-uri-format examples.
        ("otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example",
            Some((Some("Example"), "alice@google.com", "JBSWY3DPEHPK3PXP", 6, 30, None))),
        ("otpauth://totp/ACME%20Co:john.doe@email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30",
            Some((Some("ACME Co"), "john.doe@email.com", "HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ", 6, 30, None))),
        // Encoded colon as the separator.
        ("otpauth://totp/Example%3Aalice%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example",
            Some((Some("Example"), "alice@example.com", "JBSWY3DPEHPK3PXP", 6, 30, None))),
        // '+' for a space, in label and parameter.
        ("otpauth://totp/My+Host:bob?secret=JBSWY3DPEHPK3PXP&issuer=My+Host",
            Some((Some("My Host"), "bob", "JBSWY3DPEHPK3PXP", 6, 30, None))),
        // "%2B" is a literal plus.
        ("otpauth://totp/Mail:bob%2Btag%40example.com?secret=JBSWY3DPEHPK3PXP",
            Some((Some("Mail"), "bob+tag@example.com", "JBSWY3DPEHPK3PXP", 6, 30, None))),
        // Label issuer differs from issuer=: the parameter wins.
        ("otpauth://totp/OldName:carol?secret=JBSWY3DPEHPK3PXP&issuer=NewName",
            Some((Some("NewName"), "carol", "JBSWY3DPEHPK3PXP", 6, 30, None))),
        // No issuer anywhere.
        ("otpauth://totp/dave?secret=JBSWY3DPEHPK3PXP",
            Some((None, "dave", "JBSWY3DPEHPK3PXP", 6, 30, None))),
        // Issuer only as a parameter.
        ("otpauth://totp/erin@example.com?secret=JBSWY3DPEHPK3PXP&issuer=GitLab",
            Some((Some("GitLab"), "erin@example.com", "JBSWY3DPEHPK3PXP", 6, 30, None))),
        // Lowercase secret, padded secret, spaced secret.
        ("otpauth://totp/X:a?secret=jbswy3dpehpk3pxp",
            Some((Some("X"), "a", "JBSWY3DPEHPK3PXP", 6, 30, None))),
        ("otpauth://totp/X:a?secret=MZXW6YQ%3D",
            Some((Some("X"), "a", "MZXW6YQ", 6, 30, None))),
        ("otpauth://totp/X:a?secret=MZXW6YQ=",
            Some((Some("X"), "a", "MZXW6YQ", 6, 30, None))),
        ("otpauth://totp/X:a?secret=JBSW%20Y3DP%20EHPK%203PXP",
            Some((Some("X"), "a", "JBSWY3DPEHPK3PXP", 6, 30, None))),
        // Upper-case scheme and type (some QR generators), trailing whitespace.
        ("OTPAUTH://TOTP/X:a?SECRET=JBSWY3DPEHPK3PXP&ISSUER=X  ",
            Some((Some("X"), "a", "JBSWY3DPEHPK3PXP", 6, 30, None))),
        // Parameters in another order, 8 digits, 60 s period (Microsoft, Steam-like exports).
        ("otpauth://totp/Corp:u?period=60&digits=8&secret=JBSWY3DPEHPK3PXP&issuer=Corp",
            Some((Some("Corp"), "u", "JBSWY3DPEHPK3PXP", 8, 60, None))),
        // Unknown parameters (FreeOTP image, Aegis color) are ignored.
        ("otpauth://totp/FreeOTP:u?secret=JBSWY3DPEHPK3PXP&image=https%3A%2F%2Fexample.com%2Fi.png&color=ff0000",
            Some((Some("FreeOTP"), "u", "JBSWY3DPEHPK3PXP", 6, 30, None))),
        // Space after the colon (allowed by Google's format).
        ("otpauth://totp/Big%20Corp:%20john@example.com?secret=JBSWY3DPEHPK3PXP",
            Some((Some("Big Corp"), "john@example.com", "JBSWY3DPEHPK3PXP", 6, 30, None))),
        // HOTP with a counter.
        ("otpauth://hotp/Example:alice?secret=JBSWY3DPEHPK3PXP&counter=42&issuer=Example",
            Some((Some("Example"), "alice", "JBSWY3DPEHPK3PXP", 6, 30, Some(42)))),
        // Algorithm named in lowercase or with a hyphen.
        ("otpauth://totp/X:a?secret=JBSWY3DPEHPK3PXP&algorithm=sha-256",
            Some((Some("X"), "a", "JBSWY3DPEHPK3PXP", 6, 30, None))),
        // A fragment is not part of the URI.
        ("otpauth://totp/X:a?secret=JBSWY3DPEHPK3PXP#frag",
            Some((Some("X"), "a", "JBSWY3DPEHPK3PXP", 6, 30, None))),
        // Unicode issuer, percent-encoded.
        ("otpauth://totp/B%C3%BCcher:a?secret=JBSWY3DPEHPK3PXP&issuer=B%C3%BCcher",
            Some((Some("Bücher"), "a", "JBSWY3DPEHPK3PXP", 6, 30, None))),
        // Duplicate secret: the first wins.
        ("otpauth://totp/X:a?secret=JBSWY3DPEHPK3PXP&secret=AAAAAAAAAAAAAAAA",
            Some((Some("X"), "a", "JBSWY3DPEHPK3PXP", 6, 30, None))),
        // Malformed shapes.
        ("https://example.com/totp/X:a?secret=JBSWY3DPEHPK3PXP", None),
        ("otpauth://totp/X:a", None),
        ("otpauth://totp/X:a?issuer=X", None),
        ("otpauth://totp/?secret=JBSWY3DPEHPK3PXP", None),
        ("otpauth://totp/X:?secret=JBSWY3DPEHPK3PXP", None),
        ("otpauth://motp/X:a?secret=JBSWY3DPEHPK3PXP", None),
        ("otpauth://totp", None),
        ("otpauth://", None),
        ("", None),
        ("otpauth://totp/X:a?secret=JBSWY3DPEHPK3PX1", None),
        ("otpauth://totp/X:a?secret=", None),
        ("otpauth://totp/X%ZZ:a?secret=JBSWY3DPEHPK3PXP", None),
        ("otpauth://totp/X:a?secret=JBSWY3DPEHPK3PXP%", None),
        ("otpauth://totp/X%FF:a?secret=JBSWY3DPEHPK3PXP", None),
        ("otpauth://totp/X:a?secret=JBSWY3DPEHPK3PXP&digits=abc", None),
        ("otpauth://totp/X:a?secret=JBSWY3DPEHPK3PXP&digits=12", None),
        ("otpauth://totp/X:a?secret=JBSWY3DPEHPK3PXP&period=0", None),
        ("otpauth://totp/X:a?secret=JBSWY3DPEHPK3PXP&algorithm=MD5", None),
        ("otpauth://hotp/X:a?secret=JBSWY3DPEHPK3PXP", None),
        ("otpauth://hotp/X:a?secret=JBSWY3DPEHPK3PXP&counter=-1", None),
        ("otpauth://tötp/X:a?secret=JBSWY3DPEHPK3PXP", None),
        ("otpauth://totp/X:a?secret=MZXW6YQ==", None),
    ];

    #[test]
    fn parses_a_corpus_of_real_world_shapes() {
        assert!(CORPUS.len() >= 25);
        for (uri, want) in CORPUS {
            let got = OtpAuth::parse(uri);
            match (want, got) {
                (Some((issuer, account, secret, digits, period, counter)), Ok(p)) => {
                    assert_eq!(p.issuer(), *issuer, "{uri}");
                    assert_eq!(p.account, *account, "{uri}");
                    assert_eq!(p.secret.expose(), *secret, "{uri}");
                    assert_eq!(p.digits, *digits, "{uri}");
                    assert_eq!(p.period, *period, "{uri}");
                    assert_eq!(p.counter, *counter, "{uri}");
                }
                (None, Err(e)) => assert!(!e.to_string().is_empty(), "{uri}"),
                (want, got) => panic!("{uri}: wanted {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn keeps_both_issuers_when_they_differ() {
        let p =
            OtpAuth::parse("otpauth://totp/OldName:carol?secret=JBSWY3DPEHPK3PXP&issuer=NewName")
                .unwrap();
        assert_eq!(p.label_issuer.as_deref(), Some("OldName"));
        assert_eq!(p.issuer_param.as_deref(), Some("NewName"));
        let p =
            OtpAuth::parse("otpauth://totp/X:a?secret=JBSWY3DPEHPK3PXP&algorithm=SHA512").unwrap();
        assert_eq!(p.algorithm, Algorithm::Sha512);
    }

    #[test]
    fn refusals_name_the_problem() {
        let msg = |u: &str| OtpAuth::parse(u).unwrap_err().to_string();
        assert!(msg("http://x").contains("otpauth://"));
        assert!(msg("otpauth://totp/X:a").contains("secret"));
        assert!(msg("otpauth://hotp/X:a?secret=JBSWY3DPEHPK3PXP").contains("counter"));
        assert!(msg("otpauth://totp/X:a?secret=JBSWY3DPEHPK3PXP&digits=12").contains("digits"));
        assert!(msg("otpauth://totp/X:a?secret=JBSWY3DPEHPK3PX1").contains("position 16"));
    }

    #[test]
    fn numbers_read_as_the_standard_parser_reads_them() {
        for text in [
            "0",
            "6",
            " 8 ",
            "+30",
            "++1",
            "-1",
            "",
            " ",
            "+",
            "1 2",
            "12a",
            "007",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999999",
            "٣",
        ] {
            assert_eq!(
                parse_number(text),
                text.trim().parse::<u64>().ok(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn never_panics_on_arbitrary_input() {
        // Every prefix and every single-byte corruption of a valid URI.
        let base = "otpauth://totp/Ex%20a:m%40p?secret=JBSWY3DPEHPK3PXP&issuer=Ex+a&digits=6&period=30&counter=1";
        for i in 0..=base.len() {
            if let Some(prefix) = base.get(..i) {
                let _ = OtpAuth::parse(prefix);
            }
        }
        for i in 0..base.len() {
            for b in [b'%', b'?', b'&', b'=', b':', b'/', b'#', b'+', 0u8, 0xff] {
                let mut bytes = base.as_bytes().to_vec();
                bytes[i] = b;
                let text = String::from_utf8_lossy(&bytes);
                let _ = OtpAuth::parse(&text);
            }
        }
    }
}
