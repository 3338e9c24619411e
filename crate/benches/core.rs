//! Speed of the core, as a benchmark (never a timed test): `cargo bench -p tfa`.
//! Prints the median time per operation over several rounds. `cargo xtask bench totp` reads
//! the two verify lines (tfa's and totp-rs', the native peer, measured in the same run), so
//! their names are part of its interface.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use tfa::core::totp::{code_at, find_drift, verify, DRIFT_SEARCH_STEPS};
use tfa::core::vectors::CPANEL_URIS;
use tfa::core::{qr_svg, OtpAuth, Secret};

fn bench(name: &str, iters: u32, mut f: impl FnMut()) {
    let mut rounds: Vec<Duration> = (0..7)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed() / iters
        })
        .collect();
    rounds.sort();
    println!(
        "{name:<40} {:>10.2?} per op (median of 7 x {iters})",
        rounds[3]
    );
}

fn main() {
    let secret = Secret::parse("JBSWY3DPEHPK3PXP").unwrap();
    let now = 1_700_000_015;
    let code = code_at(&secret, now);
    bench("code_at (HMAC-SHA1 + truncation)", 100_000, || {
        black_box(code_at(black_box(&secret), black_box(now)));
    });
    bench("verify, ±1 step window", 50_000, || {
        black_box(verify(&secret, black_box(&code), now, 1, None)).ok();
    });
    // The peer: the same secret (decoded once, as tfa's `Secret` is), code and time, with one
    // step of skew either side. totp-rs refuses keys under 128 bits unless unchecked, and the
    // key here is cPanel's 80-bit size.
    let peer = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        totp_rs::Secret::Encoded("JBSWY3DPEHPK3PXP".to_owned())
            .to_bytes()
            .unwrap(),
    );
    assert!(peer.check(&code, now), "the peer must accept tfa's code");
    bench("totp-rs check, skew 1 (peer)", 50_000, || {
        black_box(peer.check(black_box(&code), now));
    });
    bench("find_drift, ±20 steps, no match", 5_000, || {
        black_box(find_drift(
            &secret,
            black_box("000000"),
            now,
            DRIFT_SEARCH_STEPS,
        ));
    });
    bench("Secret::parse (16 chars)", 200_000, || {
        black_box(Secret::parse(black_box("JBSWY3DPEHPK3PXP")).ok());
    });
    bench("OtpAuth::parse (spec example)", 100_000, || {
        black_box(OtpAuth::parse(black_box(CPANEL_URIS[0].3)).ok());
    });
    bench("qr_svg (spec example)", 500, || {
        black_box(qr_svg(black_box(CPANEL_URIS[0].3)).ok());
    });
}
