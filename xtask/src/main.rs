//! Build orchestration for tfa (the cargo `xtask` pattern): `cargo xtask <command>`.
//!
//! - `setup`: installs what is missing, idempotently (wasm32 target, wasm-pack and
//!   wasm-bindgen-cli at the versions pinned in wasm-pack.toml, geckodriver, Debian's chromium,
//!   chromium-driver, firefox-esr and oathtool, binaryen's wasm-opt and axe-core from npm, and the
//!   webdriver.json root's Chromium needs). Quiet and quick when nothing is missing.
//! - `build-www`: builds the wasm package into www/pkg (installing only the build's tools, as
//!   `serve` and `size` do).
//! - `serve [ARGS...]`: the main job: set-up, page, then `tfa serve` on 127.0.0.1.
//! - `test`: every tier: hygiene (fmt, clippy on both targets, the wasm dependency tree),
//!   unit, API, end to end, and the browser tests in headless Chromium.
//! - `size`: the release page's wasm and JS glue, raw and gzipped (a benchmark).

use std::collections::BTreeMap;
use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use serde::Deserialize;

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

/// wasm-pack.toml, the wasm build's settings.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct WasmPackToml {
    tools: Tools,
    build: Build,
    test: TestCfg,
    size: SizeCfg,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Tools {
    wasm_pack: String,
    wasm_bindgen: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Build {
    #[serde(rename = "crate")]
    krate: String,
    out_dir: String,
    out_name: String,
    target: String,
    profile: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct TestCfg {
    chromium: String,
    chromedriver: String,
    chromium_args: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct SizeCfg {
    budget_gzip_bytes: u64,
}

/// Debian packages the project needs, each with a file that shows it is installed.
const APT: &[(&str, &str)] = &[
    ("chromium", "/usr/bin/chromium"),
    ("chromium-driver", "/usr/bin/chromedriver"),
    ("oathtool", "/usr/bin/oathtool"),
    ("firefox-esr", "/usr/bin/firefox-esr"),
];

/// geckodriver, for the end-to-end run in Firefox (crates.io; Debian does not package it).
const GECKODRIVER: &str = "0.37.1";

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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = match args.split_first() {
        Some((c, r)) => (c.as_str(), r),
        None => ("help", &[][..]),
    };
    let result = match cmd {
        "setup" => Ctx::new().and_then(|c| c.setup()),
        "build-www" => Ctx::new().and_then(|c| c.setup_build().and_then(|_| c.build_www())),
        "serve" => Ctx::new().and_then(|c| c.serve(rest)),
        "test" => Ctx::new().and_then(|c| c.test()),
        "size" => Ctx::new().and_then(|c| c.size()),
        _ => {
            eprintln!(
                "usage: cargo xtask <setup|build-www|serve [tfa serve args]|test|size>\n\
                 \n  serve   build the page and run the tfa server on 127.0.0.1\
                 \n  test    run every test tier (installs what is missing first)\
                 \n  size    the release wasm + JS glue, raw and gzipped"
            );
            return if cmd == "help" {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {cmd}: error: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Ctx {
    root: PathBuf,
    cfg: WasmPackToml,
}

impl Ctx {
    fn new() -> Result<Ctx> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .ok_or("xtask has no parent directory")?
            .to_path_buf();
        let text = std::fs::read_to_string(root.join("wasm-pack.toml"))
            .map_err(|e| format!("reading wasm-pack.toml: {e}"))?;
        let cfg: WasmPackToml =
            toml::from_str(&text).map_err(|e| format!("wasm-pack.toml: {e}"))?;
        Ok(Ctx { root, cfg })
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.current_dir(&self.root);
        c
    }

    // ---------------------------------------------------------------- setup

    /// Everything: what the page's build needs, then what the tests need.
    fn setup(&self) -> Result {
        self.setup_build()?;
        self.ensure_cargo_tool("geckodriver", "geckodriver", GECKODRIVER)?;
        self.ensure_apt()?;
        self.ensure_npm("tests", "node_modules/axe-core/axe.min.js")?;
        self.ensure_webdriver_json()
    }

    /// What building the page needs (so `serve` installs no browsers).
    fn setup_build(&self) -> Result {
        self.check_lock_pin()?;
        self.ensure_wasm_target()?;
        self.ensure_cargo_tool("wasm-pack", "wasm-pack", &self.cfg.tools.wasm_pack)?;
        self.ensure_cargo_tool(
            "wasm-bindgen",
            "wasm-bindgen-cli",
            &self.cfg.tools.wasm_bindgen,
        )?;
        self.ensure_npm("xtask", "node_modules/.bin/wasm-opt")
    }

    /// The npm packages of `dir`/package-lock.json (binaryen's wasm-opt in xtask/, axe-core
    /// in tests/), unless `marker` shows they are there.
    fn ensure_npm(&self, dir: &str, marker: &str) -> Result {
        if self.root.join(dir).join(marker).exists() {
            return Ok(());
        }
        println!("setup: installing {dir}/package-lock.json from npm");
        run(self.cmd("npm").args([
            "ci",
            "--prefix",
            dir,
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]))
    }

    /// PATH with xtask/node_modules/.bin first, so wasm-pack runs binaryen's current wasm-opt.
    /// Debian's binaryen 108 exports the wrong table for wasm-bindgen's externref table
    /// (`table[0]` instead of `table[1]`), and the page's module then fails to start.
    fn tool_path(&self) -> std::ffi::OsString {
        let mut paths = vec![self.root.join("xtask/node_modules/.bin")];
        if let Some(p) = std::env::var_os("PATH") {
            paths.extend(std::env::split_paths(&p));
        }
        std::env::join_paths(paths).unwrap_or_default()
    }

    /// wasm-pack.toml's wasm-bindgen pin must equal Cargo.lock's, or wasm-pack would refuse
    /// (or worse, try to download) the CLI.
    fn check_lock_pin(&self) -> Result {
        let lock = std::fs::read_to_string(self.root.join("Cargo.lock"))
            .map_err(|e| format!("reading Cargo.lock: {e}"))?;
        let lock: toml::Value = toml::from_str(&lock)?;
        let locked = lock
            .get("package")
            .and_then(|p| p.as_array())
            .into_iter()
            .flatten()
            .find(|p| p.get("name").and_then(|n| n.as_str()) == Some("wasm-bindgen"))
            .and_then(|p| p.get("version"))
            .and_then(|v| v.as_str())
            .ok_or("Cargo.lock has no wasm-bindgen package")?;
        if locked != self.cfg.tools.wasm_bindgen {
            return Err(format!(
                "Cargo.lock locks wasm-bindgen {locked} but wasm-pack.toml pins {}; make them equal",
                self.cfg.tools.wasm_bindgen
            )
            .into());
        }
        Ok(())
    }

    fn ensure_wasm_target(&self) -> Result {
        let out = self
            .cmd("rustup")
            .args(["target", "list", "--installed"])
            .output()?;
        if String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.trim() == "wasm32-unknown-unknown")
        {
            return Ok(());
        }
        println!("setup: adding the wasm32-unknown-unknown target");
        run(self
            .cmd("rustup")
            .args(["target", "add", "wasm32-unknown-unknown"]))
    }

    /// Installs `krate` at exactly `version` unless `bin --version` already says so.
    fn ensure_cargo_tool(&self, bin: &str, krate: &str, version: &str) -> Result {
        let have = Command::new(bin)
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        if have.split_whitespace().nth(1) == Some(version) {
            return Ok(());
        }
        println!("setup: installing {krate} {version} (a few minutes, once)");
        let locked = run(self.cmd("cargo").args([
            "install",
            "--locked",
            "--force",
            krate,
            "--version",
            version,
        ]));
        if locked.is_ok() {
            return Ok(());
        }
        // A crate's published lockfile can name a version the registry no longer serves
        // (wasm-bindgen-cli 0.2.130's does); then resolve afresh, same crate version.
        println!("setup: the locked install of {krate} failed; retrying with fresh resolution");
        run(self
            .cmd("cargo")
            .args(["install", "--force", krate, "--version", version]))
    }

    fn ensure_apt(&self) -> Result {
        let missing: Vec<&str> = APT
            .iter()
            .filter(|(_, file)| !Path::new(file).exists())
            .map(|(pkg, _)| *pkg)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        println!("setup: installing Debian packages: {}", missing.join(" "));
        let as_root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout.starts_with(b"0"))
            .unwrap_or(false);
        let apt = |args: &[&str]| -> Result {
            let mut c = if as_root {
                Command::new("apt-get")
            } else {
                let mut c = Command::new("sudo");
                c.arg("apt-get");
                c
            };
            c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
            run(&mut c)
        };
        apt(&["update", "-qq"])?;
        let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
        args.extend(&missing);
        apt(&args)
    }

    /// Chromium as root needs --no-sandbox and friends; wasm-pack's runner reads them from a
    /// webdriver.json beside the crate's Cargo.toml.
    fn ensure_webdriver_json(&self) -> Result {
        let want = serde_json::to_string_pretty(&serde_json::json!({
            "goog:chromeOptions": {
                "binary": self.cfg.test.chromium,
                "args": self.cfg.test.chromium_args,
            }
        }))? + "\n";
        let path = self.root.join(&self.cfg.build.krate).join("webdriver.json");
        if std::fs::read_to_string(&path).ok().as_deref() != Some(want.as_str()) {
            std::fs::write(&path, want)?;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- build

    fn build_www(&self) -> Result {
        let b = &self.cfg.build;
        run(self.cmd("wasm-pack").env("PATH", self.tool_path()).args([
            "--quiet",
            "build",
            b.krate.as_str(),
            "--target",
            b.target.as_str(),
            "--out-dir",
            b.out_dir.as_str(),
            "--out-name",
            b.out_name.as_str(),
            &format!("--{}", b.profile),
            "--no-pack",
        ]))
    }

    fn pkg_dir(&self) -> PathBuf {
        self.root
            .join(&self.cfg.build.krate)
            .join(&self.cfg.build.out_dir)
    }

    fn serve(&self, extra: &[String]) -> Result {
        // `cargo xtask serve -- --listen ...` and `cargo xtask serve --listen ...` alike.
        let extra = extra.strip_prefix(&["--".to_owned()]).unwrap_or(extra);
        self.setup_build()?;
        self.build_www()?;
        let www = self.root.join("www");
        let mut c = self.cmd("cargo");
        c.args([
            "run",
            "--quiet",
            "-p",
            "tfa",
            "--features",
            "server",
            "--bin",
            "tfa",
            "--",
        ])
        .arg("serve")
        .arg("--www")
        .arg(&www);
        if !extra.iter().any(|a| a.starts_with("--listen")) {
            c.args(["--listen", "127.0.0.1:2083"]);
        }
        c.args(extra);
        run(&mut c)
    }

    // ---------------------------------------------------------------- size

    fn size(&self) -> Result {
        self.setup_build()?;
        self.build_www()?;
        let name = &self.cfg.build.out_name;
        let mut total_gz = 0u64;
        println!("{:<16} {:>10} {:>10}", "file", "raw", "gzip -9");
        for file in [format!("{name}_bg.wasm"), format!("{name}.js")] {
            let bytes = std::fs::read(self.pkg_dir().join(&file))?;
            let gz = gzip_len(&bytes)?;
            total_gz += gz;
            println!("{file:<16} {:>10} {gz:>10}", bytes.len());
        }
        let budget = self.cfg.size.budget_gzip_bytes;
        println!(
            "{:<16} {:>10} {total_gz:>10}  (budget {budget}: {})",
            "wasm + glue",
            "",
            if total_gz <= budget { "within" } else { "OVER" }
        );
        Ok(())
    }

    // ---------------------------------------------------------------- test

    fn test(&self) -> Result {
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

        section("tier: unit, QR and API tests (native)");
        tally.add(
            "unit + QR + API",
            run_counting(
                self.cmd("cargo")
                    .args(["test", "-p", "tfa", "--all-features"]),
            )?,
        );
        tally.add(
            "xtask",
            run_counting(self.cmd("cargo").args(["test", "-p", "xtask"]))?,
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

fn section(title: &str) {
    println!("\n==> {title}");
    let _ = std::io::stdout().flush();
}

fn run(cmd: &mut Command) -> Result {
    let status = cmd
        .status()
        .map_err(|e| format!("could not start {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed ({status})").into())
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

fn number_before(text: &str, word: &str) -> u64 {
    text.find(word)
        .and_then(|i| text[..i].rsplit(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[derive(Default)]
struct Tally(BTreeMap<&'static str, Counts>);

impl Tally {
    fn add(&mut self, tier: &'static str, c: Counts) {
        self.0.insert(tier, c);
    }

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

fn gzip_len(bytes: &[u8]) -> Result<u64> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes)?;
    Ok(enc.finish()?.len() as u64)
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

    #[test]
    fn wasm_pack_toml_parses_and_matches_the_lock() {
        let ctx = Ctx::new().unwrap();
        assert_eq!(ctx.cfg.build.target, "web");
        ctx.check_lock_pin().unwrap();
    }
}
