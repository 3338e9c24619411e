//! QR codes as SVG text, for the otpauth URI: ECC level M, a 4-module quiet zone, dark on white,
//! drawn with crisp edges at 8 px per module; the page shows it at 7, never below 6 (the
//! constants below, which the wasm module hands to the page).

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use super::Error;

/// Pixels per module in the SVG's intrinsic size.
pub const MODULE_PX: u32 = 8;
/// Pixels per module the page shows the QR at: large enough for phone cameras at arm's length,
/// small enough that the QR and the code field fit on a 1280×720 screen together.
pub const DISPLAY_MODULE_PX: u32 = 7;
/// The page never shrinks the QR below this many pixels per module: smaller modules blur into
/// each other on the camera and scanning starts to fail.
pub const MIN_DISPLAY_MODULE_PX: u32 = 6;

/// Renders `text` as a QR code in SVG.
pub fn qr_svg(text: &str) -> Result<String, Error> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|_| Error::QrTooLong)?;
    Ok(code
        .render::<svg::Color<'_>>()
        .quiet_zone(true)
        .module_dimensions(MODULE_PX, MODULE_PX)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;
    // The same tests run in the browser under `wasm-pack test`.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn too_long_is_an_error_not_a_panic() {
        assert_eq!(qr_svg(&"A".repeat(5000)), Err(Error::QrTooLong));
    }

    // The quiet zone and ECC level are checked on the rendered picture in tests/qr.rs.
    #[test]
    fn svg_is_dark_on_white_with_crisp_edges() {
        let svg =
            qr_svg("otpauth://totp/Example:root?secret=CAOXW75HKYJJ6E5Y&issuer=Example").unwrap();
        assert!(svg.contains("<svg"));
        assert!(svg.contains("#000000") && svg.contains("#ffffff"));
        assert!(svg.contains("crispEdges"));
    }
}
