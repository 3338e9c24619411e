//! TOTP (RFC 6238 over RFC 4226's HMAC-SHA1 truncation; 6 digits, 30 s steps), written apart
//! from `tfa::core` and checked here against the RFC's own vectors. The end-to-end tier also
//! checks it against Debian's `oathtool`.

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The six-digit code of `secret` (unpadded base32, either case, spaces ignored) at
/// `unix_secs`, zero-padded: what an authenticator app shows at that time.
pub fn code(secret: &str, unix_secs: u64) -> String {
    let key = base32(secret);
    let mut mac = Hmac::<Sha1>::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(&(unix_secs / 30).to_be_bytes());
    let hash = mac.finalize().into_bytes();
    // RFC 4226 section 5.3: the low nibble of the last byte picks four bytes; drop the top bit.
    let at = usize::from(hash[19] & 0x0f);
    let bin = u32::from_be_bytes([hash[at] & 0x7f, hash[at + 1], hash[at + 2], hash[at + 3]]);
    format!("{:06}", bin % 1_000_000)
}

/// RFC 4648 base32 without padding; leftover bits at the end are dropped.
fn base32(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.chars().filter(|c| *c != ' ') {
        let value = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => u32::from(c) - u32::from('A'),
            c @ '2'..='7' => u32::from(c) - u32::from('2') + 26,
            _ => panic!("{c:?} is not a base32 character (in {text:?})"),
        };
        acc = (acc << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B (SHA-1), the last six of the eight digits. The key is the ASCII
    /// "12345678901234567890".
    #[test]
    fn rfc_6238_appendix_b() {
        let key = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        assert_eq!(base32(key), b"12345678901234567890");
        for (t, want) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(code(key, t), want, "t={t}");
        }
    }

    #[test]
    fn base32_is_lenient_on_case_and_spaces_only() {
        // RFC 4648 section 10, unpadded.
        assert_eq!(base32("mzxw 6yq"), b"foob");
        assert_eq!(base32("MZXW6YTBOI"), b"foobar");
        assert_eq!(
            code("jbsw y3dp ehpk 3pxp", 59),
            code("JBSWY3DPEHPK3PXP", 59)
        );
        assert!(std::panic::catch_unwind(|| base32("JBSWY3DPEHPK3PX1")).is_err());
    }
}
