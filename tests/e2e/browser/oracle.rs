//! What the page is checked against, written apart from it: an independent QR decoder for the
//! screenshots, and the current TOTP code from `oathtool` (or the test kit).

use std::process::Command;

use tfa::core::totp::{find_drift, DRIFT_SEARCH_STEPS};
use tfa::core::Secret;
use tfa_e2e::now as now_secs;

/// Decodes every QR code in a PNG with rqrr (an implementation we did not write).
pub fn decode_qr_png(png: &[u8]) -> Vec<String> {
    let img = image::load_from_memory(png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    prepared
        .detect_grids()
        .into_iter()
        .filter_map(|g| g.decode().ok().map(|(_, content)| content))
        .collect()
}

/// The current code, computed by Debian's `oathtool` when present, else by the test kit's
/// TOTP (written apart from the core).
pub(super) fn code_now(secret: &str, offset_secs: i64) -> String {
    let now = now_secs();
    let at = now.checked_add_signed(offset_secs).unwrap();
    let out = Command::new("oathtool")
        .args(["--totp", "-b", "--now"])
        .arg(format!("@{at}"))
        .arg(secret)
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8(o.stdout).unwrap().trim().to_owned(),
        _ => tfa_testkit::code(secret, at),
    }
}

/// A six-digit code that matches `secret` at no step within reach of the page's drift search
/// now (and two steps more), so the page sends it and the server judges it wrong.
pub(super) fn wrong_code_now(secret: &str) -> String {
    let s = Secret::parse(secret).unwrap();
    let now = now_secs();
    (0..1_000_000u64)
        .map(|n| format!("{:06}", (n * 7919 + 123_457) % 1_000_000))
        .find(|c| find_drift(&s, c, now, DRIFT_SEARCH_STEPS + 2).is_none())
        .unwrap()
}
