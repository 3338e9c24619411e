//! The page and the server for people: `build-www` (the page's wasm into www/pkg: a cdylib
//! with LTO, wasm-bindgen, wasm-opt), `serve` (the page
//! plus `tfa serve`) and `size` (the release page's weight against its budget).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{run, Ctx, Result};

impl Ctx {
    /// The page's wasm package, with the target, directories and profile wasm-pack.toml names
    /// (one source of truth for the build and the tools that read its output). The steps are
    /// wasm-pack's (build, wasm-bindgen, wasm-opt) but the build is the cdylib alone.
    pub(crate) fn build_www(&self) -> Result {
        let b = &self.cfg.build;
        let manifest = self.root.join(&b.krate).join("Cargo.toml");
        // The lib alone, as a cdylib. The crate is `cdylib` + `rlib` (the server and the tests
        // link the rlib), and rustc refuses `-C lto` for a unit that also emits an rlib, so a
        // plain `cargo build --lib` (what wasm-pack runs) silently builds without LTO
        // (rust-lang/cargo#9672): about 16 KB gzipped more, data-encoding's every bit width
        // kept. `cargo rustc --crate-type cdylib` builds only the cdylib, with the profile's LTO.
        let out = self
            .cmd("cargo")
            .arg("rustc")
            .arg("--quiet")
            .arg("--lib")
            .arg("--manifest-path")
            .arg(&manifest)
            .args(["--profile", b.profile.as_str()])
            .args([
                "--target",
                "wasm32-unknown-unknown",
                "--crate-type",
                "cdylib",
            ])
            .args(["--message-format", "json-render-diagnostics"])
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("could not start cargo: {e}"))?;
        if !out.status.success() {
            return Err(format!("cargo rustc (the page's wasm) failed ({})", out.status).into());
        }
        let wasm = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|msg| msg["reason"] == "compiler-artifact")
            .flat_map(|msg| msg["filenames"].as_array().cloned().unwrap_or_default())
            .filter_map(|f| f.as_str().map(PathBuf::from))
            .find(|f| f.extension().is_some_and(|e| e == "wasm"))
            .ok_or("cargo built no .wasm for the page")?;
        // Then the two tools wasm-pack runs: the bindings (the CLI setup installed, matching
        // Cargo.lock) and binaryen's optimiser with the crate's own wasm-opt flags.
        let pkg = self.pkg_dir();
        run(self
            .cmd("wasm-bindgen")
            .arg(&wasm)
            .args([
                "--target",
                b.target.as_str(),
                "--out-name",
                b.out_name.as_str(),
            ])
            .arg("--out-dir")
            .arg(&pkg))?;
        let bg = pkg.join(format!("{}_bg.wasm", b.out_name));
        // binaryen's current wasm-opt from npm, by its path: Debian's binaryen 108 exports the
        // wrong table for wasm-bindgen's externref table (`table[0]` instead of `table[1]`),
        // and the page's module then fails to start.
        run(self
            .cmd(self.root.join("xtask/node_modules/.bin/wasm-opt"))
            .args(self.wasm_opt_flags(&manifest)?)
            .arg(&bg)
            .arg("-o")
            .arg(&bg))
    }

    /// wasm-opt's flags from the crate's `[package.metadata.wasm-pack.profile.<profile>]`,
    /// where wasm-pack reads them too (`wasm-pack test` still builds through wasm-pack).
    fn wasm_opt_flags(&self, manifest: &Path) -> Result<Vec<String>> {
        let text = std::fs::read_to_string(manifest)
            .map_err(|e| format!("reading {}: {e}", manifest.display()))?;
        let toml: toml::Value =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
        let flags = toml
            .get("package")
            .and_then(|p| p.get("metadata"))
            .and_then(|m| m.get("wasm-pack"))
            .and_then(|w| w.get("profile"))
            .and_then(|p| p.get(self.cfg.build.profile.as_str()))
            .and_then(|p| p.get("wasm-opt"))
            .and_then(toml::Value::as_array)
            .ok_or("crate/Cargo.toml has no wasm-opt flags for the profile")?;
        Ok(flags
            .iter()
            .filter_map(|f| f.as_str().map(str::to_owned))
            .collect())
    }

    /// Where the page's package goes (www/pkg: wasm-pack.toml's out-dir, relative to the crate).
    pub(crate) fn pkg_dir(&self) -> PathBuf {
        self.root
            .join(&self.cfg.build.krate)
            .join(&self.cfg.build.out_dir)
    }

    pub(crate) fn serve(&self, extra: &[String]) -> Result {
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

    /// A report, never a failure: the budget line says within or OVER.
    pub(crate) fn size(&self) -> Result {
        self.size_report().map(|_| ())
    }

    /// Builds the release page, prints its files' sizes against the budget, and returns the
    /// gzipped total (the figure `cargo xtask bench size` puts in its table).
    pub(crate) fn size_report(&self) -> Result<u64> {
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
        Ok(total_gz)
    }
}

/// The size a browser downloads from a server that gzips.
pub(crate) fn gzip_len(bytes: &[u8]) -> Result<u64> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes)?;
    Ok(enc.finish()?.len() as u64)
}
