//! Build orchestration for tfa (the cargo `xtask` pattern): `cargo xtask <command>`.
//!
//! - `setup`: installs what is missing, idempotently (wasm32 target, wasm-bindgen-cli and, for
//!   the browser tier, wasm-pack at the versions pinned in wasm-pack.toml, geckodriver, Debian's
//!   nodejs, npm, chromium, chromium-driver, firefox-esr, oathtool and postgresql, binaryen's
//!   wasm-opt and axe-core from npm, and the webdriver.json root's Chromium needs). Quiet and
//!   quick when nothing is missing.
//! - `build-www`: builds the wasm package into www/pkg (installing only the build's tools, as
//!   `serve` and `size` do).
//! - `plugin`: the page as a cPanel plugin for the Jupiter theme, target/plugin/*.tar.gz.
//! - `npm`: the element as an npm package, target/npm/package/ and target/npm/*.tgz.
//! - `serve [ARGS...]`: the main job: set-up, page, then `tfa serve` on 127.0.0.1.
//! - `test`: every tier: hygiene (fmt, clippy on both targets, the wasm dependency tree),
//!   unit, API, end to end, and the browser tests in headless Chromium.
//! - `size`: the release page's wasm and JS glue, raw and gzipped (a benchmark).
//! - `bench [NAME]`: timed comparisons against a peer measured in the same run, ending in one
//!   table of measure, tfa, peer and ratio (see bench.rs); never part of `test`.
//!
//! One module per job: setup.rs (installs), build.rs (page, serve, size), test.rs (the tiers
//! and their tally), bench.rs (benchmarks),
//! package.rs (the cPanel plugin and the npm package). This file only dispatches and holds [`Ctx`].

mod bench;
mod build;
mod package;
mod setup;
mod test;

use std::error::Error;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

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

const USAGE: &str =
    "usage: cargo xtask <setup|build-www|plugin|npm|serve [tfa serve args]|test|size|bench [NAME]>\n\
    \n  plugin  the page as a cPanel (Jupiter) plugin: target/plugin/tfa-cpanel-plugin-*.tar.gz\
    \n  npm     the element as an npm package: target/npm/package/ and target/npm/tfa-enrollment-*.tgz\
    \n  serve   build the page and run the tfa server on 127.0.0.1\
    \n  test    run every test tier (installs what is missing first)\
    \n  size    the release wasm + JS glue, raw and gzipped\
    \n  bench   benchmarks against a baseline (all, or one of: ";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = match args.split_first() {
        Some((c, r)) => (c.as_str(), r),
        None => ("help", &[][..]),
    };
    let result = match cmd {
        "setup" => Ctx::new().and_then(|c| c.setup()),
        "build-www" => Ctx::new().and_then(|c| c.setup_build().and_then(|_| c.build_www())),
        "plugin" => Ctx::new().and_then(|c| c.plugin()),
        "npm" => Ctx::new().and_then(|c| c.npm()),
        "serve" => Ctx::new().and_then(|c| c.serve(rest)),
        "test" => Ctx::new().and_then(|c| c.test()),
        "size" => Ctx::new().and_then(|c| c.size()),
        "bench" => Ctx::new().and_then(|c| c.bench(rest)),
        _ => {
            eprintln!("{USAGE}{})", bench::names().join(", "));
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

/// What every command needs: the workspace root and wasm-pack.toml's settings.
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

    /// A command run from the workspace root, so relative paths mean the same from anywhere.
    fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.current_dir(&self.root);
        c
    }
}

/// A heading in the output, flushed so it lands before the child's own output.
fn section(title: &str) {
    println!("\n==> {title}");
    let _ = std::io::stdout().flush();
}

/// Runs `cmd` with inherited stdio; an error names the command when it fails.
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
