//! QR codes as SVG text, for the otpauth URI: ECC level M, a 4-module quiet zone, dark on white,
//! drawn with crisp edges at 8 px per module; the page shows it at 7, never below 6 (the
//! constants below, which the wasm module hands to the page).

use qrcode::bits::encode_auto;
use qrcode::canvas::{Canvas, MaskPattern};
use qrcode::ec::construct_codewords;
use qrcode::{Color, EcLevel};

use super::Error;

/// Pixels per module in the SVG's intrinsic size.
pub const MODULE_PX: u32 = 8;
/// Pixels per module the page shows the QR at: large enough for phone cameras at arm's length,
/// small enough that the QR and the code field fit on a 1280×720 screen together.
pub const DISPLAY_MODULE_PX: u32 = 7;
/// The page never shrinks the QR below this many pixels per module: smaller modules blur into
/// each other on the camera and scanning starts to fail.
pub const MIN_DISPLAY_MODULE_PX: u32 = 6;
/// Light modules around the symbol, as ISO/IEC 18004 requires.
const QUIET_ZONE: usize = 4;

/// The eight mask patterns of a (non-micro) QR code, in `qrcode`'s order, so that a tie goes to
/// the same mask as there.
const MASKS: [MaskPattern; 8] = [
    MaskPattern::Checkerboard,
    MaskPattern::HorizontalLines,
    MaskPattern::VerticalLines,
    MaskPattern::DiagonalLines,
    MaskPattern::LargeCheckerboard,
    MaskPattern::Fields,
    MaskPattern::Diamonds,
    MaskPattern::Meadow,
];

/// The modules of `text`'s QR code at ECC level M, row by row (`true` is dark), and its width.
///
/// `qrcode` encodes, adds the error correction and draws each masked candidate; the mask is
/// chosen here. `qrcode`'s own choice scores each candidate through a boxed closure per window
/// (about 23,000 allocations per QR): this scores the same rules over plain rows and columns,
/// with the same weights and the same tie-break, so the matrix is the one `qrcode` would make
/// (a test checks that).
pub fn qr_modules(text: &str) -> Result<(Vec<bool>, usize), Error> {
    let too_long = |_| Error::QrTooLong;
    let bits = encode_auto(text.as_bytes(), EcLevel::M).map_err(too_long)?;
    let version = bits.version();
    let (data, ec) =
        construct_codewords(&bits.into_bytes(), version, EcLevel::M).map_err(too_long)?;
    let mut canvas = Canvas::new(version, EcLevel::M);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&data, &ec);
    let width = usize::try_from(version.width()).map_err(|_| Error::QrTooLong)?;
    let mut best: Option<(u32, Vec<bool>)> = None;
    for mask in MASKS {
        let mut candidate = canvas.clone();
        candidate.apply_mask(mask);
        let modules: Vec<bool> = candidate
            .into_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect();
        let score = penalty_bits(&modules, width);
        if best.as_ref().is_none_or(|(low, _)| score < *low) {
            best = Some((score, modules));
        }
    }
    best.map(|(_, modules)| (modules, width))
        .ok_or(Error::QrTooLong)
}

/// A row or column of modules as bits, bit x being module x (dark = 1), with the operations the
/// penalty needs. Three words hold version 40's 177 modules and the 4 light ones looked at past
/// either end; in wasm a `u64` is one register, where a `u128` shift is a library call.
#[derive(Clone, Copy, Default)]
struct Line([u64; 3]);

impl Line {
    /// Bits 0..n set.
    fn first(n: usize) -> Line {
        let word = |i: usize| match n.saturating_sub(64 * i) {
            0 => 0,
            bits if bits >= 64 => u64::MAX,
            bits => (1u64 << bits) - 1,
        };
        Line([word(0), word(1), word(2)])
    }

    /// Shifts the line up by one and puts `dark` in bit 0.
    fn push(self, dark: bool) -> Line {
        (self << 1) | Line([u64::from(dark), 0, 0])
    }

    fn count(self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }
}

/// Towards higher modules, by 1 to 63.
impl std::ops::Shl<u32> for Line {
    type Output = Line;
    fn shl(self, k: u32) -> Line {
        let [a, b, c] = self.0;
        Line([
            a << k,
            (b << k) | (a >> (64 - k)),
            (c << k) | (b >> (64 - k)),
        ])
    }
}

/// Towards module 0, by 1 to 63.
impl std::ops::Shr<u32> for Line {
    type Output = Line;
    fn shr(self, k: u32) -> Line {
        let [a, b, c] = self.0;
        Line([
            (a >> k) | (b << (64 - k)),
            (b >> k) | (c << (64 - k)),
            c >> k,
        ])
    }
}

impl std::ops::BitAnd for Line {
    type Output = Line;
    fn bitand(self, o: Line) -> Line {
        Line([self.0[0] & o.0[0], self.0[1] & o.0[1], self.0[2] & o.0[2]])
    }
}

impl std::ops::BitOr for Line {
    type Output = Line;
    fn bitor(self, o: Line) -> Line {
        Line([self.0[0] | o.0[0], self.0[1] | o.0[1], self.0[2] | o.0[2]])
    }
}

impl std::ops::BitXor for Line {
    type Output = Line;
    fn bitxor(self, o: Line) -> Line {
        Line([self.0[0] ^ o.0[0], self.0[1] ^ o.0[1], self.0[2] ^ o.0[2]])
    }
}

impl std::ops::Not for Line {
    type Output = Line;
    fn not(self) -> Line {
        Line([!self.0[0], !self.0[1], !self.0[2]])
    }
}

/// ISO/IEC 18004's mask penalty (rules N1 to N4), as `qrcode` weighs it: runs of 5 or more
/// (3 + the excess), 2×2 blocks (3 each), finder look-alikes with 4 light modules on one side
/// (40 each) and the distance of the dark share from half. Each row and column is a [`Line`],
/// every rule a few shifts and a popcount per line: the QR is drawn on every set-up, and this
/// keeps the mask choice a small share of it in the page's size-optimised wasm.
fn penalty_bits(m: &[bool], n: usize) -> u32 {
    // Built by shifting in one module at a time from the far end, so module 0 lands in bit 0.
    let mut rows = vec![Line::default(); n];
    let mut columns = vec![Line::default(); n];
    for (y, row) in m.chunks(n).enumerate().rev() {
        rows[y] = row.iter().rev().fold(Line::default(), |l, d| l.push(*d));
        for (column, dark) in columns.iter_mut().zip(row) {
            *column = column.push(*dark);
        }
    }
    let full = Line::first(n);
    let mut score: u32 = rows
        .iter()
        .chain(&columns)
        .map(|line| line_penalty_bits(*line, full))
        .sum();
    // N2: bit x of `pairs` is a block at x, x + 1 of two neighbouring rows.
    let pairs = full >> 1;
    for two in rows.windows(2) {
        let (a, b) = (two[0], two[1]);
        let dark = a & (a >> 1) & b & (b >> 1);
        let light = !(a | (a >> 1) | b | (b >> 1));
        score += 3 * ((dark | light) & pairs).count();
    }
    // N4: balance.
    let dark: usize = rows.iter().map(|r| r.count() as usize).sum();
    let ratio = dark * 200 / m.len().max(1);
    score + u32::try_from(ratio.abs_diff(100)).unwrap_or(u32::MAX / 2)
}

/// N1 and N3 along one line (`full`: the line's bits).
fn line_penalty_bits(r: Line, full: Line) -> u32 {
    // N1. `same` bit x: module x has module x - 1's colour, so a run of L modules is L - 1
    // consecutive bits, and `four` marks each place 4 of them start: a run of L >= 5 gives
    // L - 4 marks in one block, and scores L - 2 = marks + 2 per block.
    let same = !(r ^ (r << 1)) & full & !Line::first(1);
    let four = same & (same >> 1) & (same >> 2) & (same >> 3);
    let n1 = four.count() + 2 * (four & !(four << 1)).count();
    // N3. `at` bit x: modules x..x+6 are dark, light, dark ×3, light, dark; outside the line
    // counts as light (the shifts bring in zeros).
    let at = r & !(r >> 1) & (r >> 2) & (r >> 3) & (r >> 4) & !(r >> 5) & (r >> 6) & (full >> 6);
    let light_before = !((r << 1) | (r << 2) | (r << 3) | (r << 4));
    let light_after = !((r >> 7) | (r >> 8) | (r >> 9) | (r >> 10));
    n1 + 40 * (at & (light_before | light_after)).count()
}

/// Renders `text` as a QR code in SVG: dark on a white square that includes the quiet zone,
/// `MODULE_PX` pixels per module, crisp edges. The dark modules are one `<path>` of horizontal
/// run-length strokes (one `m`/`h` pair per run of dark modules), which keeps the SVG small and
/// quick to write and to parse.
pub fn qr_svg(text: &str) -> Result<String, Error> {
    let (modules, n) = qr_modules(text)?;
    let size = n + 2 * QUIET_ZONE;
    let px = size * MODULE_PX as usize;
    let mut out = String::with_capacity(4096);
    out.push_str("<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"");
    push_num(&mut out, px);
    out.push_str("\" height=\"");
    push_num(&mut out, px);
    out.push_str("\" viewBox=\"0 0 ");
    push_num(&mut out, size);
    out.push(' ');
    push_num(&mut out, size);
    out.push_str("\" shape-rendering=\"crispEdges\"><rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/><path stroke=\"#000000\" d=\"");
    for (y, row) in modules.chunks(n).enumerate() {
        // The pen is at the row's start; each run moves right from where the last one ended.
        let mut pen: Option<usize> = None;
        let mut x = 0;
        while x < n {
            if !row[x] {
                x += 1;
                continue;
            }
            let start = x;
            while x < n && row[x] {
                x += 1;
            }
            match pen {
                // A stroke one module wide along the row's middle covers the row exactly.
                None => {
                    out.push('M');
                    push_num(&mut out, start + QUIET_ZONE);
                    out.push(' ');
                    push_num(&mut out, y + QUIET_ZONE);
                    out.push_str(".5");
                }
                Some(end) => {
                    out.push('m');
                    push_num(&mut out, start - end);
                    out.push_str(" 0");
                }
            }
            out.push('h');
            push_num(&mut out, x - start);
            pen = Some(x);
        }
    }
    out.push_str("\"/></svg>");
    Ok(out)
}

/// Appends `n` in decimal, without `core::fmt` (the core's one number writer).
fn push_num(out: &mut String, n: usize) {
    super::error::push_decimal(out, n as u64);
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

    /// The penalty written plainly over the rows and the transposed matrix's rows as slices: the
    /// reference the bit version is checked against.
    fn penalty_slices(m: &[bool], n: usize) -> u32 {
        let mut columns = vec![false; m.len()];
        for (y, row) in m.chunks(n).enumerate() {
            for (x, dark) in row.iter().enumerate() {
                columns[x * n + y] = *dark;
            }
        }
        let mut score: u32 = m.chunks(n).chain(columns.chunks(n)).map(line_penalty).sum();
        // N2: 2×2 blocks of one colour.
        for (row, next) in m.chunks(n).zip(m.chunks(n).skip(1)) {
            for x in 0..n.saturating_sub(1) {
                let c = row[x];
                if row[x + 1] == c && next[x] == c && next[x + 1] == c {
                    score += 3;
                }
            }
        }
        // N4: balance.
        let dark = m.iter().filter(|d| **d).count();
        let ratio = dark * 200 / m.len().max(1);
        score + u32::try_from(ratio.abs_diff(100)).unwrap_or(u32::MAX / 2)
    }

    /// N1 and N3 along one row (or column).
    fn line_penalty(line: &[bool]) -> u32 {
        const FINDER: [bool; 7] = [true, false, true, true, true, false, true];
        let n = line.len();
        let mut score = 0;
        // N1: runs.
        let mut run = 1u32;
        for k in 1..=n {
            if k < n && line[k] == line[k - 1] {
                run += 1;
            } else {
                if run >= 5 {
                    score += run - 2;
                }
                run = 1;
            }
        }
        // N3: 1:1:3:1:1 with 4 light modules before or after (outside counts as light).
        for (j, window) in line.windows(7).enumerate() {
            if window != FINDER {
                continue;
            }
            let before = &line[j.saturating_sub(4)..j];
            let after = &line[(j + 7).min(n)..(j + 11).min(n)];
            if !before.contains(&true) || !after.contains(&true) {
                score += 40;
            }
        }
        score
    }

    #[test]
    fn both_penalties_agree_on_any_matrix() {
        // A fixed pseudo-random sequence (the core draws no randomness), many sizes and
        // densities, plus the all-light and all-dark extremes.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for n in [
            1usize, 7, 11, 21, 25, 45, 63, 64, 65, 101, 127, 128, 129, 177,
        ] {
            for density in [0u64, 1, 3, 5, 7, 8] {
                let m: Vec<bool> = (0..n * n).map(|_| next() % 8 < density).collect();
                assert_eq!(
                    penalty_bits(&m, n),
                    penalty_slices(&m, n),
                    "n {n}, {density}/8"
                );
            }
        }
        // Finder look-alikes and long runs where the bit version shifts past a line's ends.
        let n = 21;
        let mut m = vec![false; n * n];
        for (x, dark) in [true, false, true, true, true, false, true]
            .iter()
            .enumerate()
        {
            m[x] = *dark;
            m[n * n - 7 + x] = *dark;
            m[(n - 7 + x) * n] = *dark;
        }
        assert_eq!(penalty_bits(&m, n), penalty_slices(&m, n));
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0usize, 7, 10, 45, 360, 1234567] {
            let mut s = String::new();
            push_num(&mut s, n);
            assert_eq!(s, n.to_string());
        }
    }
}
