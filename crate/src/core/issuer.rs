//! Issuer rules, as WHM's `twofactorauth_set_issuer` applies them: one leading and one trailing
//! quote are stripped, an empty value clears the entry, and what is left must be 1 to 32
//! characters from `[ a-zA-Z0-9._-]`.

use super::Error;

/// The longest issuer WHM accepts.
pub const MAX_ISSUER_LEN: usize = 32;

/// Normalises an issuer as `twofactorauth_set_issuer` does. `Ok(None)` means "clear it".
pub fn normalize_issuer(input: &str) -> Result<Option<String>, Error> {
    let mut value = input;
    if let Some(rest) = value.strip_prefix(['\'', '"']) {
        value = rest;
    }
    if let Some(rest) = value.strip_suffix(['\'', '"']) {
        value = rest;
    }
    if value.is_empty() {
        return Ok(None);
    }
    if let Some(ch) = value.chars().find(|&c| !is_issuer_char(c)) {
        return Err(Error::IssuerChar { ch });
    }
    if value.len() > MAX_ISSUER_LEN {
        return Err(Error::IssuerTooLong { len: value.len() });
    }
    Ok(Some(value.to_owned()))
}

fn is_issuer_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;
    // The same tests run in the browser under `wasm-pack test`.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn accepts_whm_issuers() {
        for ok in [
            "Example",
            "Example cPanel L.L.C.",
            "hostname.example.com",
            "a_b-c.d",
            "x",
            "12345678901234567890123456789012",
        ] {
            assert_eq!(normalize_issuer(ok), Ok(Some(ok.to_owned())), "{ok}");
        }
    }

    #[test]
    fn strips_one_outer_quote_each_side() {
        assert_eq!(normalize_issuer("\"My Host\""), Ok(Some("My Host".into())));
        assert_eq!(normalize_issuer("'My Host'"), Ok(Some("My Host".into())));
        assert_eq!(normalize_issuer("'My Host"), Ok(Some("My Host".into())));
        // Only one each side: the inner quote is then refused.
        assert_eq!(
            normalize_issuer("''x''"),
            Err(Error::IssuerChar { ch: '\'' })
        );
    }

    #[test]
    fn empty_clears() {
        assert_eq!(normalize_issuer(""), Ok(None));
        assert_eq!(normalize_issuer("\"\""), Ok(None));
        assert_eq!(normalize_issuer("'"), Ok(None));
    }

    #[test]
    fn refuses_what_whm_refuses() {
        assert_eq!(
            normalize_issuer("Example WebPros International, LLC"),
            Err(Error::IssuerChar { ch: ',' })
        );
        for (bad, ch) in [
            ("a@b", '@'),
            ("a&b", '&'),
            ("a:b", ':'),
            ("Bücher", 'ü'),
            ("a\tb", '\t'),
            ("a\0b", '\0'),
        ] {
            assert_eq!(
                normalize_issuer(bad),
                Err(Error::IssuerChar { ch }),
                "{bad:?}"
            );
        }
        assert_eq!(
            normalize_issuer("123456789012345678901234567890123"),
            Err(Error::IssuerTooLong { len: 33 })
        );
    }
}
