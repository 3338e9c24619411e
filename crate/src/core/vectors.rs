//! Published test data, shared by the native unit tests and the browser tests so that both
//! targets are held to the same expected values. Every value here is copied from its source
//! document (named on each item), never from this crate's output.

/// RFC 4226 Appendix D and RFC 6238 Appendix B: the ASCII key "12345678901234567890".
pub const RFC_KEY: &[u8] = b"12345678901234567890";

/// RFC 4226 Appendix D, Table 1: HMAC-SHA-1(secret, count) in hex.
pub const RFC4226_HMAC: [&str; 10] = [
    "cc93cf18508d94934c64b65d8ba7667fb7cde4b0",
    "75a48a19d4cbe100644e8ac1397eea747a2d33ab",
    "0bacb7fa082fef30782211938bc1c5e70416ff44",
    "66c28227d03a2d5529262ff016a1e6ef76557ece",
    "a904c900a64b35909874b33e61c5938a8e15ed1c",
    "a37e783d7b7233c083d4f62926c7a25f238d0316",
    "bc9cd28561042c83f219324d3c607256c03272ae",
    "a4fb960c0bc06e1eabb804e5b397cdc4b45596fa",
    "1b3c89f65e6c9e883012052823443f048b4332db",
    "1637409809a679dc698207310c8c7fc07290d9e5",
];

/// RFC 4226 Appendix D, Table 2: (count, truncated decimal, 6-digit HOTP).
pub const RFC4226_HOTP: [(u64, u32, &str); 10] = [
    (0, 1284755224, "755224"),
    (1, 1094287082, "287082"),
    (2, 137359152, "359152"),
    (3, 1726969429, "969429"),
    (4, 1640338314, "338314"),
    (5, 868254676, "254676"),
    (6, 1918287922, "287922"),
    (7, 82162583, "162583"),
    (8, 673399871, "399871"),
    (9, 645520489, "520489"),
];

/// RFC 6238 Appendix B, the SHA1 rows: (unix time, step as hex, 8-digit TOTP).
pub const RFC6238_SHA1: [(u64, u64, &str); 6] = [
    (59, 0x1, "94287082"),
    (1111111109, 0x23523EC, "07081804"),
    (1111111111, 0x23523ED, "14050471"),
    (1234567890, 0x273EF07, "89005924"),
    (2000000000, 0x3F940AA, "69279037"),
    (20000000000, 0x27BC86AA, "65353130"),
];

/// The spec's section 2 doc examples: (issuer, account, secret, the URI cPanel builds).
pub const CPANEL_URIS: [(&str, &str, &str, &str); 2] = [
    (
        "Example cPanel L.L.C.",
        "fakedomain",
        "S3I4WUY7MTHRMMWN",
        "otpauth://totp/Example%20cPanel%20L.L.C.:fakedomain?secret=S3I4WUY7MTHRMMWN&issuer=Example%20cPanel%20L.L.C.",
    ),
    (
        "Example",
        "root",
        "CAOXW75HKYJJ6E5Y",
        "otpauth://totp/Example:root?secret=CAOXW75HKYJJ6E5Y&issuer=Example",
    ),
];
