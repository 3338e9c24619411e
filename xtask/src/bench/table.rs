//! The one table a `cargo xtask bench` run ends with: every measure beside its peer from the
//! same run, and the ratio. The ratio is always "times better than the peer" (above 1: tfa is
//! ahead), whichever way the unit counts, so a column of ratios reads one way.

/// One measure: tfa's figure, its peer's, and the target for tfa, if it has one.
pub(crate) struct Row {
    pub(crate) measure: String,
    pub(crate) unit: &'static str,
    pub(crate) tfa: f64,
    pub(crate) peer_name: String,
    pub(crate) peer: f64,
    /// True for rates (more is better), false for times and sizes.
    pub(crate) higher_is_better: bool,
    pub(crate) target: Option<f64>,
    /// Anything odd the run saw (failed requests, ...), printed under the table.
    pub(crate) note: String,
}

impl Row {
    pub(crate) fn higher(
        measure: &str,
        unit: &'static str,
        tfa: f64,
        peer_name: &str,
        peer: f64,
        target: Option<f64>,
    ) -> Row {
        Row {
            measure: measure.to_owned(),
            unit,
            tfa,
            peer_name: peer_name.to_owned(),
            peer,
            higher_is_better: true,
            target,
            note: String::new(),
        }
    }

    pub(crate) fn lower(
        measure: &str,
        unit: &'static str,
        tfa: f64,
        peer_name: &str,
        peer: f64,
        target: Option<f64>,
    ) -> Row {
        Row {
            higher_is_better: false,
            ..Row::higher(measure, unit, tfa, peer_name, peer, target)
        }
    }

    /// Times better than the peer.
    fn ratio(&self) -> f64 {
        let (a, b) = if self.higher_is_better {
            (self.tfa, self.peer)
        } else {
            (self.peer, self.tfa)
        };
        a / b.max(f64::MIN_POSITIVE)
    }

    /// "≥ 5000: met" and the like; empty without a target.
    fn target_text(&self) -> String {
        let Some(t) = self.target else {
            return String::new();
        };
        let (sign, met) = if self.higher_is_better {
            (">=", self.tfa >= t)
        } else {
            ("<=", self.tfa <= t)
        };
        format!(
            "{sign} {}: {}",
            figure(t),
            if met { "met" } else { "NOT met" }
        )
    }
}

/// The rows a run collected, and the benchmarks that failed to produce theirs.
#[derive(Default)]
pub(crate) struct Table {
    rows: Vec<Row>,
    pub(crate) failed: Vec<String>,
}

impl Table {
    pub(crate) fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as plain text (also a Markdown table: the README's performance section is
    /// pasted from it).
    pub(crate) fn render(&self, date: &str) -> String {
        let mut out = format!(
            "tfa against its peers, {date}, one run on this machine (ratio: times better than \
             the peer; above 1, tfa is ahead)\n\n"
        );
        out.push_str("| measure | unit | tfa | peer | peer's figure | ratio | target |\n");
        out.push_str("|---|---|---:|---|---:|---:|---|\n");
        for r in &self.rows {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {}x | {} |\n",
                r.measure,
                r.unit,
                figure(r.tfa),
                r.peer_name,
                figure(r.peer),
                super::ratio(r.ratio()),
                r.target_text()
            ));
        }
        for r in self.rows.iter().filter(|r| !r.note.is_empty()) {
            out.push_str(&format!("\nnote ({}): {}", r.measure, r.note));
        }
        for f in &self.failed {
            out.push_str(&format!("\nFAILED to measure: {f}"));
        }
        out
    }
}

/// Three significant digits, at least, without exponent: 0.412, 5.06, 12,345.
fn figure(x: f64) -> String {
    let a = x.abs();
    let decimals = if a == 0.0 || a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        (2.0 - a.log10().floor()).clamp(3.0, 6.0) as usize
    };
    let text = format!("{x:.decimals$}");
    // Thousands separators on the integer part, for the big rates and byte counts.
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_keep_three_digits() {
        assert_eq!(figure(12_345.6), "12,346");
        assert_eq!(figure(5.061), "5.06");
        assert_eq!(figure(0.4123), "0.412");
        assert_eq!(figure(0.0123), "0.0123");
        assert_eq!(figure(40_000.0), "40,000");
        assert_eq!(figure(0.0), "0");
    }

    #[test]
    fn ratios_read_one_way_and_targets_say_met() {
        let rate = Row::higher("w", "writes/s", 6000.0, "p", 3000.0, Some(5000.0));
        assert_eq!(rate.ratio(), 2.0);
        assert_eq!(rate.target_text(), ">= 5,000: met");
        let time = Row::lower("q", "ms", 0.5, "p", 0.25, Some(0.4));
        assert_eq!(time.ratio(), 0.5);
        assert_eq!(time.target_text(), "<= 0.400: NOT met");
        let mut t = Table::default();
        t.push(time);
        assert!(t
            .render("2026-01-01")
            .contains("| q | ms | 0.500 | p | 0.250 | 0.50x |"));
    }
}
