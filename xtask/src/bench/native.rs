//! `cargo xtask bench totp` and `cargo xtask bench size`: the two rows that need no server.
//!
//! - totp: tfa's `core::totp::verify` (±1 step) against totp-rs' `check` (skew 1), both timed
//!   by the core's bench harness (crate/benches/core.rs) in one `cargo bench` run, built
//!   with the server's profile.
//! - size: the release page's wasm + JS glue, gzipped (the `size` command's figures), against
//!   the JavaScript the page would otherwise ship for the same jobs: otpauth and lean-qr (with
//!   its SVG writer), bundled and minified by esbuild, gzipped alike.

use std::process::Stdio;

use super::{browser, Row, Table};
use crate::build::gzip_len;
use crate::{Ctx, Result};

/// The lines of crate/benches/core.rs that the totp row reads.
const TFA_LINE: &str = "verify, ±1 step window";
const PEER_LINE: &str = "totp-rs check, skew 1 (peer)";

pub(super) fn bench_totp(ctx: &Ctx, table: &mut Table) -> Result {
    println!("bench: cargo bench --profile server -p tfa --bench core (tfa's verify and totp-rs')");
    // The `server` profile: the optimisation the server binary that verifies codes is built
    // with (opt-level 3). The release profile is tuned for the wasm module's size (opt-level
    // "z") and would time both crates as no native build runs them.
    let out = ctx
        .cmd("cargo")
        .args([
            "bench",
            "--quiet",
            "--profile",
            "server",
            "-p",
            "tfa",
            "--bench",
            "core",
        ])
        .stderr(Stdio::inherit())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    if !out.status.success() {
        return Err(format!("cargo bench failed ({})", out.status).into());
    }
    table.push(Row::lower(
        "TOTP verify ±1, natively",
        "µs",
        per_op_us(&text, TFA_LINE)?,
        "totp-rs 5.7.0 check, skew 1",
        per_op_us(&text, PEER_LINE)?,
        Some(0.5),
    ));
    Ok(())
}

/// The microseconds per op of the harness line `name` (`NAME   1.02µs per op ...`, the time
/// in Duration's Debug form).
fn per_op_us(text: &str, name: &str) -> Result<f64> {
    let line = text
        .lines()
        .find(|l| l.starts_with(name))
        .ok_or_else(|| format!("the bench printed no line {name:?}"))?;
    let time = line[name.len()..]
        .split_whitespace()
        .next()
        .ok_or_else(|| format!("no time on {line:?}"))?;
    let split = time
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("no unit in {time:?}"))?;
    let (value, unit) = time.split_at(split);
    let value: f64 = value.parse()?;
    let scale = match unit {
        "ns" => 1e-3,
        "µs" | "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        _ => return Err(format!("unknown unit in {time:?}").into()),
    };
    Ok(value * scale)
}

pub(super) fn bench_size(ctx: &Ctx, table: &mut Table) -> Result {
    let tfa = ctx.size_report()?;
    let peers = browser::peer_page_js(ctx)?;
    let peers_gz = gzip_len(&peers)?;
    println!(
        "the page's JS peers (otpauth + lean-qr + its SVG writer, esbuild --minify): {} raw, {peers_gz} gzip -9",
        peers.len()
    );
    table.push(Row::lower(
        "page module: wasm + JS glue, gzip -9",
        "bytes",
        tfa as f64,
        "otpauth + lean-qr, minified",
        peers_gz as f64,
        Some(ctx.cfg.size.budget_gzip_bytes as f64),
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harness_lines_give_microseconds() {
        let text = "verify, ±1 step window                       1.02µs per op (median of 7 x 50000)\n\
                    totp-rs check, skew 1 (peer)                 512.30ns per op (median of 7 x 50000)\n\
                    qr_svg (spec example)                        1.20ms per op (median of 7 x 500)\n";
        assert_eq!(per_op_us(text, TFA_LINE).unwrap(), 1.02);
        assert!((per_op_us(text, PEER_LINE).unwrap() - 0.5123).abs() < 1e-9);
        assert_eq!(per_op_us(text, "qr_svg (spec example)").unwrap(), 1200.0);
        assert!(per_op_us(text, "nothing").is_err());
    }
}
