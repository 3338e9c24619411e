//! The QR SVG, checked two ways: against a golden file (so a change in rendering is a
//! deliberate one), and by decoding the rendered picture with an independent decoder (rqrr,
//! after rasterising with resvg) back to the exact URI.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use resvg::{tiny_skia, usvg};
use tfa::core::vectors::CPANEL_URIS;
use tfa::core::{build_uri, qr_svg, Secret};

/// Rasterises an SVG string and decodes every QR code found in it.
fn decode_svg(svg: &str) -> Vec<String> {
    let tree = usvg::Tree::from_str(svg, &usvg::Options::default()).expect("valid SVG");
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    let (w, h) = (pixmap.width() as usize, pixmap.height() as usize);
    let data = pixmap.data();
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        let i = (y * w + x) * 4;
        // Transparent pixels would read as black: composite over white.
        let a = u32::from(data[i + 3]);
        let lum = (u32::from(data[i]) * 299
            + u32::from(data[i + 1]) * 587
            + u32::from(data[i + 2]) * 114)
            / 1000;
        (lum * a / 255 + (255 - a)) as u8
    });
    img.detect_grids()
        .into_iter()
        .map(|g| g.decode().expect("decodable grid").1)
        .collect()
}

#[test]
fn rendered_qr_decodes_back_to_the_exact_uri() {
    let mut uris: Vec<String> = CPANEL_URIS
        .iter()
        .map(|(_, _, _, uri)| uri.to_string())
        .collect();
    let s = Secret::parse("JBSWY3DPEHPK3PXP").unwrap();
    uris.push(build_uri("My Host", "info@example.com", &s));
    uris.push(build_uri("Reseller Brand 2024", "alice@bob", &s));
    for uri in uris {
        let svg = qr_svg(&uri).unwrap();
        assert_eq!(decode_svg(&svg), vec![uri.clone()], "{uri}");
    }
}

#[test]
fn qr_has_ecc_m_and_a_four_module_quiet_zone() {
    let uri = CPANEL_URIS[1].3;
    let svg = qr_svg(uri).unwrap();
    let tree = usvg::Tree::from_str(&svg, &usvg::Options::default()).unwrap();
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    let w = pixmap.width() as usize;
    let px = tfa::core::qr::MODULE_PX as usize;
    // The first 4 modules on every side are white; module 4 on the diagonal is the finder's black corner.
    let dark =
        |mx: usize, my: usize| pixmap.data()[((my * px + px / 2) * w + mx * px + px / 2) * 4] < 128;
    let modules = w / px;
    for i in 0..modules {
        for q in 0..4 {
            assert!(
                !dark(i, q)
                    && !dark(q, i)
                    && !dark(i, modules - 1 - q)
                    && !dark(modules - 1 - q, i)
            );
        }
    }
    assert!(dark(4, 4) && dark(modules - 5, 4) && dark(4, modules - 5));
    // And the decoder reports ECC level M (rqrr: 0 = M in the format bits' order M, L, H, Q).
    let mut img = {
        let data = pixmap.data().to_vec();
        let h = pixmap.height() as usize;
        rqrr::PreparedImage::prepare_from_greyscale(w, h, move |x, y| data[(y * w + x) * 4])
    };
    let grid = img.detect_grids().remove(0);
    let (meta, content) = grid.decode().unwrap();
    assert_eq!(content, uri);
    assert_eq!(meta.ecc_level, 0, "ECC level M");
}

#[test]
fn qr_svg_matches_the_golden_file() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/cpanel-uapi-example.svg"
    );
    let svg = qr_svg(CPANEL_URIS[0].3).unwrap();
    if std::env::var_os("TFA_UPDATE_GOLDEN").is_some() {
        std::fs::write(path, &svg).unwrap();
    }
    let golden = std::fs::read_to_string(path)
        .expect("golden file; run with TFA_UPDATE_GOLDEN=1 once, then review it");
    assert_eq!(
        svg, golden,
        "QR rendering changed; review, then regenerate with TFA_UPDATE_GOLDEN=1"
    );
    // The golden file itself must decode to the URI, so it cannot have been blessed broken.
    assert_eq!(decode_svg(&golden), vec![CPANEL_URIS[0].3.to_owned()]);
}

/// The mask is chosen by the core, not by `qrcode`: the matrix must still be the one `qrcode`
/// makes on its own (same rules, weights and tie-break), for every URI shape and size.
#[test]
fn the_core_picks_the_mask_qrcode_would() {
    let mut texts: Vec<String> = CPANEL_URIS
        .iter()
        .map(|(_, _, _, uri)| uri.to_string())
        .collect();
    let s = Secret::parse("JBSWY3DPEHPK3PXP").unwrap();
    for i in 0..60 {
        let name = "n".repeat(i * 3);
        texts.push(build_uri(
            &format!("Issuer {i}"),
            &format!("{name}@example.com"),
            &s,
        ));
        texts.push(format!("{i}").repeat(i * 5 + 1));
    }
    // Wider than the fast path (version 26 and up): qrcode's own choice, still the same.
    for len in [1_300usize, 1_700, 2_300] {
        texts.push("otpauth://totp/".chars().cycle().take(len).collect());
    }
    for text in texts {
        let (ours, width) = tfa::core::qr::qr_modules(&text).unwrap();
        let theirs =
            qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
                .unwrap();
        assert_eq!(width, theirs.width(), "{text}");
        let theirs: Vec<bool> = theirs
            .to_colors()
            .into_iter()
            .map(|c| c == qrcode::Color::Dark)
            .collect();
        assert!(ours == theirs, "a different matrix for {text}");
    }
}
