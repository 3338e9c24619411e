//! The pure core: TOTP/HOTP maths, cPanel secrets, `otpauth://` URIs, issuer rules, QR SVG and
//! the clock-drift sentence.
//!
//! Nothing in here may read a clock, draw randomness or touch I/O: time comes in as unix seconds
//! and randomness as bytes, so every function is deterministic and the same tests run natively
//! and in the browser.

pub mod drift;
mod error;
pub mod issuer;
pub mod otpauth;
pub mod qr;
pub mod recovery;
pub mod secret;
pub mod totp;
#[doc(hidden)]
pub mod vectors;

pub use drift::drift_sentence;
pub use error::Error;
pub use issuer::normalize_issuer;
pub use otpauth::{build_uri, OtpAuth};
pub use qr::qr_svg;
pub use secret::Secret;
pub use totp::{Rejection, Token};

#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
