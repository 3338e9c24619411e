//! The page and the server for people: `build-www` (wasm-pack into www/pkg), `serve` (the page
//! plus `tfa serve`) and `size` (the release page's weight against its budget).

use std::io::Write;
use std::path::PathBuf;

use crate::{run, Ctx, Result};

impl Ctx {
    /// The page's wasm package, with the target, directories and profile wasm-pack.toml names
    /// (one source of truth for the build and the tools that read its output).
    pub(crate) fn build_www(&self) -> Result {
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

    /// Where wasm-pack writes the package (www/pkg, through the crate's out-dir).
    fn pkg_dir(&self) -> PathBuf {
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
}

/// The size a browser downloads from a server that gzips.
fn gzip_len(bytes: &[u8]) -> Result<u64> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes)?;
    Ok(enc.finish()?.len() as u64)
}
