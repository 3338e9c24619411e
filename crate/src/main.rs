//! The `tfa` binary (feature `server`).
fn main() {}
