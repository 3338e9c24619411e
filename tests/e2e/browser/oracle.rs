//! What the page is checked against, written apart from it: an independent QR decoder for the
//! screenshots, and the current TOTP code from `oathtool` (or the test kit).

use std::process::Command;

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
