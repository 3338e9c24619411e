//! Recovery codes: the single-use codes that stand in for a security code when the phone is
//! lost. cPanel has none; they are tfa's own.
//!
//! A code is 10 symbols of Crockford's base32 (`0-9 A-Z` without `I L O U`), 50 bits, shown
//! as `XXXXX-XXXXX`. Crockford's alphabet is made for people: reading it back is tolerant of
//! case, of `O` for `0` and of `I`/`L` for `1`, so a code copied from paper by eye still
//! works. Randomness comes in as bytes (the core draws none); the hashing and the store are the
//! server's.

/// Codes in a set.
pub const CODES_PER_SET: usize = 10;
/// Symbols in a code (5 bits each: 50 bits of randomness).
pub const SYMBOLS: usize = 10;
/// Random bytes that make one code (the first 50 of their 56 bits are used).
pub const RANDOM_BYTES: usize = 7;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A code for display, `XXXXX-XXXXX`, from [`RANDOM_BYTES`] random bytes.
pub fn code_from_random(bytes: &[u8; RANDOM_BYTES]) -> String {
    let mut bits = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    bits >>= 56 - 5 * SYMBOLS as u32;
    let mut out = String::with_capacity(SYMBOLS + 1);
    for i in (0..SYMBOLS).rev() {
        let index = ((bits >> (5 * i)) & 31) as usize;
        out.push(char::from(ALPHABET[index]));
        if i == SYMBOLS / 2 {
            out.push('-');
        }
    }
    out
}

/// The canonical form of a typed recovery code (its 10 symbols, upper case, no separators),
/// or `None` when the text is not one. Spaces and hyphens anywhere are ignored; `o` reads as
/// `0`, `i` and `l` as `1`.
pub fn normalize(typed: &str) -> Option<String> {
    let mut out = String::with_capacity(SYMBOLS);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            ' ' | '-' | '\t' | '\u{a0}' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
            _ => return None,
        };
        if out.len() == SYMBOLS {
            return None;
        }
        out.push(c);
    }
    (out.len() == SYMBOLS).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_has_ten_symbols_of_the_alphabet_around_a_hyphen() {
        let code = code_from_random(&[0xff; RANDOM_BYTES]);
        assert_eq!(code, "ZZZZZ-ZZZZZ");
        assert_eq!(code_from_random(&[0; RANDOM_BYTES]), "00000-00000");
        // The first 50 bits are used: 0x80 in the first byte is the top bit of symbol one.
        assert_eq!(code_from_random(&[0x80, 0, 0, 0, 0, 0, 0]), "G0000-00000");
        // The last 6 bits are dropped.
        assert_eq!(code_from_random(&[0, 0, 0, 0, 0, 0, 0x3f]), "00000-00000");
        assert_eq!(code_from_random(&[0, 0, 0, 0, 0, 0, 0x40]), "00000-00001");
    }

    #[test]
    fn every_symbol_is_unambiguous() {
        for c in "ILOU".chars() {
            assert!(!ALPHABET.contains(&(c as u8)));
        }
        let mut sorted = ALPHABET.to_vec();
        sorted.dedup();
        assert_eq!(sorted.len(), 32);
    }

    #[test]
    fn typed_codes_read_back_tolerantly() {
        assert_eq!(normalize("ABCDE-FGH23").as_deref(), Some("ABCDEFGH23"));
        assert_eq!(normalize(" abcde fgh23 ").as_deref(), Some("ABCDEFGH23"));
        assert_eq!(normalize("o1il0-00000").as_deref(), Some("0111000000"));
        assert_eq!(normalize("ABCDE-FGH2"), None);
        assert_eq!(normalize("ABCDE-FGH234"), None);
        assert_eq!(normalize("ABCDE-FGH2U"), None);
        assert_eq!(normalize("ÄBCDE-FGH23"), None);
        assert_eq!(normalize("123456"), None);
        assert_eq!(normalize(""), None);
    }

    #[test]
    fn a_displayed_code_reads_back_as_itself() {
        let code = code_from_random(&[0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde]);
        assert_eq!(normalize(&code), Some(code.replace('-', "")));
    }
}
