//! What tfa's two HTTP test tiers share: the API tests (`crate/tests/api`, the router in-process)
//! and the end-to-end tests (`tests/`, the real `tfa serve` process).
//!
//! - [`code`]: TOTP codes from an implementation of RFC 6238 written here, apart from the core,
//!   so a test that says "an authenticator's code is accepted" does not take the expected code
//!   from the code under test.
//! - [`Reply`]: an HTTP answer (status, headers, text) with its JSON and `data.<key>` readers,
//!   whatever client produced it; [`basic`] and [`form`] build the requests' parts.
//! - [`uapi_ok`], [`uapi_err`], [`whm_ok`], [`whm_meta`]: cPanel's envelopes, byte for byte.
//! - [`take_recovery_codes`], [`assert_recovery_set`]: recovery codes as the issue defines
//!   them, checked apart from the server's generator.
//! - [`mode`] and [`read_json`]: what the tests check of files the server writes.
//! - [`pg`]: a throwaway PostgreSQL cluster, and `psql` against any database URL.
//!
//! It never depends on `tfa`: the kit must not agree with the server by construction, and `tfa`
//! takes it as a dev-dependency, which would otherwise be a cycle.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test support: failing loudly is the point

mod envelope;
mod files;
mod http;
pub mod pg;
mod recovery;
mod totp;

pub use envelope::{
    assert_invalid_code_without_offset, uapi_err, uapi_ok, whm_meta, whm_ok, INVALID_SET,
};
pub use files::{mode, read_json};
pub use http::{basic, form, Reply};
pub use recovery::{assert_recovery_code, assert_recovery_set, take_recovery_codes};
pub use totp::code;
