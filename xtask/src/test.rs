//! `cargo xtask test`: every tier in order (hygiene, page build, native tests, end to end,
//! browser), echoing each runner's output and adding up its `test result:` lines, so the run
//! ends with one `total: N passed, N failed` line that CI can read.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::{run, section, Ctx, Result};

/// Crates that must never reach the wasm build.
const BANNED_IN_WASM: &[&str] = &[
    "tokio",
    "axum",
    "hyper",
    "rusqlite",
    "url",
    "regex",
    "serde_json",
];

impl Ctx {
    /// Set-up first (so a fresh machine needs nothing else), then the tiers cheapest first:
    /// a formatting slip fails in seconds, not after the browser run.
    pub(crate) fn test(&self) -> Result {
        self.setup()?;
        let mut tally = Tally::default();
        let krate = self.cfg.build.krate.clone();

        section("hygiene: rustfmt");
        run(self.cmd("cargo").args(["fmt", "--all", "--check"]))?;
        section("hygiene: clippy (native, all targets, all features)");
        run(self.cmd("cargo").args([
            "clippy",
            "--quiet",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]))?;
        section("hygiene: clippy (wasm32: the lib and the browser tests)");
        run(self.cmd("cargo").args([
            "clippy",
            "--quiet",
            "-p",
            "tfa",
            "--lib",
            "--tests",
            "--target",
            "wasm32-unknown-unknown",
            "--",
            "-D",
            "warnings",
        ]))?;
        section("hygiene: the wasm dependency tree");
        self.check_wasm_tree()?;
        println!("no {} in the wasm build", BANNED_IN_WASM.join(", "));

        section("page: build www/pkg (release)");
        self.build_www()?;
        section(
            "packages: the cPanel plugin and the npm package (the end-to-end tier installs both)",
        );
        self.packages()?;

        section("tier: unit, QR and API tests (native)");
        tally.add(
            "unit + QR + API",
            run_counting(
                self.cmd("cargo")
                    .args(["test", "-p", "tfa", "--all-features"]),
            )?,
        );
        section("tier: the same API tests on PostgreSQL (a throwaway cluster)");
        tally.add("API on PostgreSQL", self.api_on_postgres()?);
        tally.add(
            "xtask",
            run_counting(self.cmd("cargo").args(["test", "-p", "xtask"]))?,
        );
        tally.add(
            "test kit",
            run_counting(self.cmd("cargo").args(["test", "-p", "tfa-testkit"]))?,
        );
        section("tier: end to end (real server; Chromium and Firefox over WebDriver)");
        tally.add(
            "end to end",
            run_counting(self.cmd("cargo").args(["test", "-p", "tfa-e2e"]))?,
        );
        section("tier: browser (wasm-pack test, headless Chromium)");
        tally.add(
            "browser",
            run_counting(self.cmd("wasm-pack").args([
                "test",
                "--headless",
                "--chrome",
                "--chromedriver",
                self.cfg.test.chromedriver.as_str(),
                krate.as_str(),
            ]))?,
        );
        tally.report()
    }

    /// The API tier again, on PostgreSQL: `initdb` of a throwaway cluster (as the unprivileged
    /// `postgres` user, on a free loopback port), the tests with `TFA_TEST_POSTGRES` naming it
    /// (each test's data directory gets a schema of its own), then the cluster stopped and
    /// deleted. The tests about the SQLite file itself (`_sqlite_` in their names) are left out.
    fn api_on_postgres(&self) -> Result<Counts> {
        let cluster = tfa_testkit::pg::PgCluster::start();
        let url = cluster.url("postgres");
        let api = run_counting(
            self.cmd("cargo")
                .args(["test", "-p", "tfa", "--all-features", "--test", "api"])
                .args(["--", "--skip", "_sqlite_"])
                .env("TFA_TEST_POSTGRES", &url),
        );
        // And every statement the store has, prepared on PostgreSQL (not only those the API
        // tests happen to run).
        let statements = run_counting(
            self.cmd("cargo")
                .args(["test", "-p", "tfa", "--all-features", "--lib"])
                .arg("every_statement_prepares_on_postgres")
                .env("TFA_TEST_POSTGRES", &url),
        );
        drop(cluster);
        let (api, statements) = (api?, statements?);
        Ok(Counts {
            passed: api.passed + statements.passed,
            failed: api.failed + statements.failed,
        })
    }

    /// Server-side crates in the wasm build would bloat the page or fail at run time in the
    /// browser; `cargo tree` for wasm32 shows them before any build does.
    fn check_wasm_tree(&self) -> Result {
        let out = self
            .cmd("cargo")
            .args([
                "tree",
                "-p",
                "tfa",
                "--target",
                "wasm32-unknown-unknown",
                "-e",
                "normal",
                "--prefix",
                "none",
                "--format",
                "{p}",
            ])
            .output()?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
        }
        let tree = String::from_utf8_lossy(&out.stdout);
        let found: Vec<&str> = tree
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|name| BANNED_IN_WASM.contains(name))
            .collect();
        if found.is_empty() {
            Ok(())
        } else {
            Err(format!("the wasm build depends on {}", found.join(", ")).into())
        }
    }
}

/// Passed and failed counts, from the runners' `test result:` lines.
#[derive(Default, Clone, Copy)]
struct Counts {
    passed: u64,
    failed: u64,
}

/// Runs a test command with its output echoed, and sums its `test result:` lines.
fn run_counting(cmd: &mut Command) -> Result<Counts> {
    // Both streams, in order, through one pipe.
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let mut sh = Command::new("bash");
    sh.arg("-c")
        .arg("exec \"$0\" \"$@\" 2>&1")
        .arg(&program)
        .args(&args)
        .stdout(Stdio::piped());
    if let Some(dir) = cmd.get_current_dir() {
        sh.current_dir(dir);
    }
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => sh.env(key, v),
            None => sh.env_remove(key),
        };
    }
    let mut child = sh.spawn()?;
    let mut counts = Counts::default();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line?;
            println!("{line}");
            if let Some(rest) = line.trim().strip_prefix("test result:") {
                counts.passed += number_before(rest, " passed");
                counts.failed += number_before(rest, " failed");
            }
        }
    }
    let status = child.wait()?;
    if !status.success() || counts.failed > 0 {
        return Err(format!("{program:?} failed ({status})").into());
    }
    Ok(counts)
}

/// The number just before `word` in `text` (`26` in `26 passed`), or 0.
fn number_before(text: &str, word: &str) -> u64 {
    text.find(word)
        .and_then(|i| text[..i].rsplit(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Counts per tier, reported in a stable (alphabetical) order.
#[derive(Default)]
struct Tally(BTreeMap<&'static str, Counts>);

impl Tally {
    fn add(&mut self, tier: &'static str, c: Counts) {
        self.0.insert(tier, c);
    }

    /// The summary; a run in which no test ran is an error, not a silent success.
    fn report(&self) -> Result {
        section("summary");
        let mut total = Counts::default();
        for (tier, c) in &self.0 {
            println!("{tier:<18} {:>4} passed, {} failed", c.passed, c.failed);
            total.passed += c.passed;
            total.failed += c.failed;
        }
        if total.passed == 0 {
            return Err("no test ran".into());
        }
        println!("total: {} passed, {} failed", total.passed, total.failed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cargo_test_result_lines() {
        let line = " ok. 26 passed; 3 failed; 0 ignored; 0 measured; 0 filtered out";
        assert_eq!(number_before(line, " passed"), 26);
        assert_eq!(number_before(line, " failed"), 3);
        assert_eq!(number_before("nothing here", " passed"), 0);
    }
}
