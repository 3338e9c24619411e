//! `cargo xtask setup`: installs what is missing, idempotently, and checks the version pins.
//! Every step first looks for what it would install, so a second run is quick and quiet.

use std::path::Path;
use std::process::Command;

use crate::{run, Ctx, Result};

/// Debian packages the page's build needs (npm installs binaryen's wasm-opt), each with a file
/// that shows it is installed.
const APT_BUILD: &[(&str, &str)] = &[("nodejs", "/usr/bin/node"), ("npm", "/usr/bin/npm")];

/// Debian packages the tests need, likewise.
const APT: &[(&str, &str)] = &[
    ("chromium", "/usr/bin/chromium"),
    ("chromium-driver", "/usr/bin/chromedriver"),
    ("oathtool", "/usr/bin/oathtool"),
    ("firefox-esr", "/usr/bin/firefox-esr"),
    // The PostgreSQL store's tests run a throwaway cluster (tests/src/pg.rs) with whichever
    // server version the package brings; its own service is not used. The marker is
    // postgresql-common's, whatever the version.
    ("postgresql", "/usr/bin/pg_ctlcluster"),
];

/// geckodriver, for the end-to-end run in Firefox (crates.io; Debian does not package it).
const GECKODRIVER: &str = "0.37.1";

impl Ctx {
    /// Everything: what the page's build needs, then what the tests need.
    pub(crate) fn setup(&self) -> Result {
        self.setup_build()?;
        // The browser tier's runner (`wasm-pack test`); the page's build does not need it.
        self.ensure_cargo_tool("wasm-pack", "wasm-pack", &self.cfg.tools.wasm_pack)?;
        self.ensure_cargo_tool("geckodriver", "geckodriver", GECKODRIVER)?;
        self.ensure_apt(APT)?;
        self.ensure_npm("tests", "node_modules/axe-core/axe.min.js")?;
        // esbuild and TypeScript, pinned in xtask/package.json: the npm package's test bundles
        // the element and type-checks a use of its declarations.
        self.ensure_npm("xtask", "node_modules/.bin/esbuild")?;
        self.ensure_npm("xtask", "node_modules/.bin/tsc")?;
        self.ensure_webdriver_json()
    }

    /// What building the page needs (so `serve` installs no browsers).
    pub(crate) fn setup_build(&self) -> Result {
        self.check_lock_pin()?;
        self.ensure_wasm_target()?;
        self.ensure_cargo_tool(
            "wasm-bindgen",
            "wasm-bindgen-cli",
            &self.cfg.tools.wasm_bindgen,
        )?;
        self.ensure_apt(APT_BUILD)?;
        self.ensure_npm("xtask", "node_modules/.bin/wasm-opt")
    }

    /// The npm packages of `dir`/package-lock.json (binaryen's wasm-opt in xtask/, axe-core
    /// in tests/, the benchmark's browser peers in xtask/bench-js/), unless `marker` shows
    /// they are there.
    pub(crate) fn ensure_npm(&self, dir: &str, marker: &str) -> Result {
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

    /// wasm-pack.toml's wasm-bindgen pin must equal Cargo.lock's: the CLI refuses a module built
    /// by another version (and wasm-pack would try to download one).
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
    pub(crate) fn ensure_cargo_tool(&self, bin: &str, krate: &str, version: &str) -> Result {
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

    fn ensure_apt(&self, packages: &[(&str, &str)]) -> Result {
        let missing: Vec<&str> = packages
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wasm_pack_toml_parses_and_matches_the_lock() {
        let ctx = Ctx::new().unwrap();
        assert_eq!(ctx.cfg.build.target, "web");
        ctx.check_lock_pin().unwrap();
    }
}
