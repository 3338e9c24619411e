//! tfa: a two-factor enrollment kit for hosting control panels.
//!
//! This file is the module map and the target gates, nothing else:
//! - [`core`] is pure Rust (no I/O, no clock, no randomness) and builds everywhere;
//! - `wasm` is the browser glue, compiled only for `wasm32`;
//! - `server` and `store` are the native cPanel-compatible server, behind feature `server`.

pub mod core;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

#[cfg(all(feature = "server", not(target_arch = "wasm32")))]
pub mod server;
#[cfg(all(feature = "server", not(target_arch = "wasm32")))]
pub mod store;
