//! `plugin` and `npm`: the enrollment page packaged for cPanel's Jupiter theme and for npm,
//! from the page's own files in www/ (with its release build in www/pkg) and the packaging
//! sources in packaging/.
//!
//! The cPanel plugin. cPanel's documentation ("Guide to cPanel Plugins - Add Plugins",
//! https://api.docs.cpanel.net/guides/guide-to-cpanel-plugins/guide-to-cpanel-plugins-add-plugins,
//! and "The install_plugin Script", https://docs.cpanel.net/whm/scripts/the-install_plugin-script/):
//! `/usr/local/cpanel/scripts/install_plugin PATH [--theme=jupiter]` takes a `.tar.gz` (or an
//! uncompressed directory) holding an `install.json` (a JSON array of entries: a `link` item
//! with `id`, `name`, `type`, `group_id`, `order`, `icon`, `uri` relative to the theme's
//! directory and a `feature` name for the Feature Manager) and the icon files it names; it
//! registers the item in the theme's dynamicui files but does not extract the plugin's files.
//! Interface files live in `/usr/local/cpanel/base/frontend/<theme>/<plugin dir>/`. So the
//! tarball holds one directory, `tfa/`, with install.json, the icon and the page: unpacked in
//! `base/frontend/jupiter/` it puts the page where `uri` points, and `install_plugin` on that
//! directory registers it in the Security group.

use std::path::{Path, PathBuf};

use crate::{run, section, Ctx, Result};

/// The plugin's directory under `frontend/jupiter/` (the install.json `uri` starts with it).
pub(crate) const PLUGIN_DIR: &str = "tfa";

impl Ctx {
    /// `cargo xtask plugin`: target/plugin/tfa-cpanel-plugin-VERSION.tar.gz.
    pub(crate) fn plugin(&self) -> Result {
        self.setup_build()?;
        section("page: build www/pkg (release)");
        self.build_www()?;
        let tarball = self.package_plugin()?;
        println!("cPanel plugin: {}", tarball.display());
        Ok(())
    }

    /// `cargo xtask npm`: target/npm/package/ and target/npm/tfa-enrollment-VERSION.tgz.
    pub(crate) fn npm(&self) -> Result {
        self.setup_build()?;
        section("page: build www/pkg (release)");
        self.build_www()?;
        let tarball = self.package_npm()?;
        println!("npm package: {}", tarball.display());
        Ok(())
    }

    /// Both packages from the page already built in www/pkg (the test run builds it first).
    pub(crate) fn packages(&self) -> Result {
        let plugin = self.package_plugin()?;
        println!("cPanel plugin: {}", plugin.display());
        let npm = self.package_npm()?;
        println!("npm package: {}", npm.display());
        Ok(())
    }

    /// The plugin's tarball from www/ and www/pkg as they are.
    fn package_plugin(&self) -> Result<PathBuf> {
        let out = self.root.join("target/plugin");
        let stage = out.join(PLUGIN_DIR);
        fresh_dir(&stage)?;
        let www = self.root.join("www");
        // The page (index.html) and everything it loads.
        let files = self.page_files(&["index.html"], false)?;
        copy_files(&www, &stage, &files)?;
        let cpanel = self.root.join("packaging/cpanel");
        let install: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(cpanel.join("install.json"))
                .map_err(|e| format!("reading packaging/cpanel/install.json: {e}"))?,
        )
        .map_err(|e| format!("packaging/cpanel/install.json: {e}"))?;
        // Whatever install.json names must be in the tarball: its icons, and its page.
        for item in install.as_array().ok_or("install.json is not an array")? {
            if let Some(icon) = item["icon"].as_str() {
                copy_file(&cpanel.join(icon), &stage.join(icon))?;
            }
            if let Some(uri) = item["uri"].as_str() {
                let page = uri
                    .strip_prefix(&format!("{PLUGIN_DIR}/"))
                    .ok_or_else(|| format!("install.json uri {uri} is not under {PLUGIN_DIR}/"))?;
                if !stage.join(page).is_file() {
                    return Err(
                        format!("install.json uri {uri}: no such file in the plugin").into(),
                    );
                }
            }
        }
        copy_file(&cpanel.join("install.json"), &stage.join("install.json"))?;
        let tarball = out.join(format!("tfa-cpanel-plugin-{}.tar.gz", self.version()?));
        // Reproducible: sorted names, root-owned, one fixed time.
        run(self
            .cmd("tar")
            .args([
                "--sort=name",
                "--owner=0",
                "--group=0",
                "--numeric-owner",
                "--mode=u+rwX,go+rX,go-w",
                "--mtime=@0",
                "--use-compress-program=gzip -n",
                "-cf",
            ])
            .arg(&tarball)
            .arg("-C")
            .arg(&out)
            .arg(PLUGIN_DIR))?;
        Ok(tarball)
    }

    /// The npm package directory and its `npm pack` tarball.
    fn package_npm(&self) -> Result<PathBuf> {
        let out = self.root.join("target/npm");
        let stage = out.join("package");
        fresh_dir(&stage)?;
        // The element: app.js (which defines it) and everything it loads.
        copy_files(
            &self.root.join("www"),
            &stage,
            &self.page_files(&["app.js"], true)?,
        )?;
        let npm = self.root.join("packaging/npm");
        for file in ["app.d.ts", "element.d.ts", "api.d.ts", "README.md"] {
            copy_file(&npm.join(file), &stage.join(file))?;
        }
        // The template's placeholder version becomes the workspace's (a text replacement, so
        // the file keeps its order and layout).
        let template = std::fs::read_to_string(npm.join("package.json"))
            .map_err(|e| format!("reading packaging/npm/package.json: {e}"))?;
        let version = self.version()?;
        let manifest = template.replace("\"0.0.0-set-by-xtask\"", &format!("\"{version}\""));
        let parsed: serde_json::Value = serde_json::from_str(&manifest)
            .map_err(|e| format!("packaging/npm/package.json: {e}"))?;
        if parsed["version"].as_str() != Some(version.as_str()) {
            return Err("packaging/npm/package.json lacks the version placeholder".into());
        }
        std::fs::write(stage.join("package.json"), manifest)?;
        // Remove older tarballs so that `tfa-enrollment-*.tgz` names one file.
        for entry in std::fs::read_dir(&out)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "tgz") {
                std::fs::remove_file(&path)?;
            }
        }
        let packed = self
            .cmd("npm")
            .args(["pack", "--silent", "--pack-destination"])
            .arg(&out)
            .current_dir(&stage)
            .output()
            .map_err(|e| format!("could not start npm: {e}"))?;
        if !packed.status.success() {
            return Err(format!(
                "npm pack failed: {}",
                String::from_utf8_lossy(&packed.stderr)
            )
            .into());
        }
        let name = String::from_utf8_lossy(&packed.stdout)
            .lines()
            .last()
            .map(|l| l.trim().to_owned())
            .filter(|l| l.ends_with(".tgz"))
            .ok_or("npm pack named no tarball")?;
        Ok(out.join(name))
    }

    /// The files a page or the element needs, relative to www/: `entries` and every module
    /// they import (relative `import`s, followed through), style.css, the translations
    /// (locales/, when there; the element fetches them relative to its modules), and the wasm
    /// module (which the glue fetches the same way), with, for npm, the glue's declarations.
    fn page_files(&self, entries: &[&str], with_types: bool) -> Result<Vec<PathBuf>> {
        let www = self.root.join("www");
        let mut files: Vec<PathBuf> = vec![PathBuf::from("style.css")];
        let mut queue: Vec<PathBuf> = entries.iter().map(PathBuf::from).collect();
        while let Some(file) = queue.pop() {
            if files.contains(&file) {
                continue;
            }
            let path = www.join(&file);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                format!(
                    "www/{}: {e} (cargo xtask build-www builds www/pkg)",
                    file.display()
                )
            })?;
            let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
            let refs = match file.extension().and_then(|e| e.to_str()) {
                Some("js") => js_imports(&text),
                Some("html") => html_refs(&text),
                _ => Vec::new(),
            };
            for r in refs {
                let target = normalize(&dir.join(r.trim_start_matches("./")))
                    .ok_or_else(|| format!("www/{}: {r} leaves www/", file.display()))?;
                queue.push(target);
            }
            files.push(file);
        }
        let locales = www.join("locales");
        if locales.is_dir() {
            for entry in std::fs::read_dir(&locales)? {
                let name = entry?.file_name().to_string_lossy().into_owned();
                if name.ends_with(".json") {
                    files.push(Path::new("locales").join(name));
                }
            }
        }
        let name = &self.cfg.build.out_name;
        files.push(Path::new("pkg").join(format!("{name}_bg.wasm")));
        if with_types {
            files.push(Path::new("pkg").join(format!("{name}.d.ts")));
        }
        for f in &files {
            if !www.join(f).is_file() {
                return Err(format!(
                    "www/{} is missing (cargo xtask build-www builds www/pkg)",
                    f.display()
                )
                .into());
            }
        }
        files.sort();
        files.dedup();
        Ok(files)
    }

    /// The workspace's version (Cargo.toml's `[workspace.package]`).
    fn version(&self) -> Result<String> {
        let text = std::fs::read_to_string(self.root.join("Cargo.toml"))?;
        let toml: toml::Value = toml::from_str(&text)?;
        toml.get("workspace")
            .and_then(|w| w.get("package"))
            .and_then(|p| p.get("version"))
            .and_then(toml::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| "Cargo.toml has no [workspace.package] version".into())
    }
}

/// The relative module specifiers of a JS module's static and dynamic imports
/// (`from './x.js'`, `import './x.js'`, `import('./x.js')`).
fn js_imports(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for needle in ["from ", "import ", "import("] {
        for (at, _) in text.match_indices(needle) {
            let rest = &text[at + needle.len()..];
            let Some(quote) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') else {
                continue;
            };
            let Some(end) = rest[1..].find(quote) else {
                continue;
            };
            let spec = &rest[1..1 + end];
            if spec.starts_with("./") || spec.starts_with("../") {
                found.push(spec.to_owned());
            }
        }
    }
    found
}

/// The local files an HTML page loads (`src="..."` and `href="..."` without a scheme or a
/// leading `/`).
fn html_refs(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for needle in ["src=\"", "href=\""] {
        for (at, _) in text.match_indices(needle) {
            let rest = &text[at + needle.len()..];
            let Some(end) = rest.find('"') else { continue };
            let url = &rest[..end];
            if !url.is_empty() && !url.contains(':') && !url.starts_with(['/', '#', '?']) {
                found.push(url.to_owned());
            }
        }
    }
    found
}

/// `path` with `.` and `..` resolved, or None when it climbs above its start.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::Normal(p) => out.push(p),
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

/// An empty directory at `dir` (what was there removed).
fn fresh_dir(dir: &Path) -> Result {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    Ok(())
}

fn copy_files(from: &Path, to: &Path, files: &[PathBuf]) -> Result {
    for f in files {
        copy_file(&from.join(f), &to.join(f))?;
    }
    Ok(())
}

fn copy_file(from: &Path, to: &Path) -> Result {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::copy(from, to).map_err(|e| format!("copying {}: {e}", from.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(path: &Path) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn finds_imports_and_page_references() {
        let js = "import init, * as tfa from './pkg/tfa.js';\nimport { A } from \"./api.js\";\n\
                  import './side.js';\nconst m = import('./lazy.js');\nimport x from 'bare';\n\
                  // a word from the text\n";
        assert_eq!(
            js_imports(js),
            ["./pkg/tfa.js", "./api.js", "./side.js", "./lazy.js"]
        );
        let html = "<link rel=\"icon\" href=\"data:,\"><link href=\"page.css\">\
                    <script src=\"app.js\"></script><a href=\"/login\"></a><a href=\"#x\"></a>";
        assert_eq!(html_refs(html), ["app.js", "page.css"]);
        assert_eq!(
            normalize(Path::new("pkg/../app.js")),
            Some(PathBuf::from("app.js"))
        );
        assert_eq!(normalize(Path::new("../secret")), None);
    }

    #[test]
    fn install_json_registers_a_security_link_to_the_page() {
        let ctx = Ctx::new().unwrap();
        let cpanel = ctx.root.join("packaging/cpanel");
        let install = json(&cpanel.join("install.json"));
        for item in install.as_array().unwrap() {
            assert_eq!(item["type"], "link");
            assert_eq!(item["group_id"], "security");
            assert!(cpanel.join(item["icon"].as_str().unwrap()).is_file());
            let uri = item["uri"].as_str().unwrap();
            let page = uri.strip_prefix(&format!("{PLUGIN_DIR}/")).unwrap();
            assert!(ctx.root.join("www").join(page).is_file(), "{uri}");
            for field in ["id", "name", "feature"] {
                assert!(item[field].as_str().is_some_and(|s| !s.is_empty()));
            }
        }
    }

    #[test]
    fn npm_manifest_matches_the_workspace_and_its_files() {
        let ctx = Ctx::new().unwrap();
        let npm = ctx.root.join("packaging/npm");
        let manifest = json(&npm.join("package.json"));
        assert_eq!(manifest["version"], "0.0.0-set-by-xtask");
        let cargo: toml::Value =
            toml::from_str(&std::fs::read_to_string(ctx.root.join("Cargo.toml")).unwrap()).unwrap();
        assert_eq!(
            manifest["license"].as_str(),
            cargo["workspace"]["package"]["license"].as_str()
        );
        assert_eq!(manifest["type"], "module");
        // Every declaration file the manifest names is in packaging/npm (or generated in pkg/).
        let exports = manifest["exports"].as_object().unwrap();
        for target in exports.values() {
            if let Some(types) = target.get("types").and_then(|t| t.as_str()) {
                let file = types.trim_start_matches("./");
                assert!(
                    file.starts_with("pkg/") || npm.join(file).is_file(),
                    "{types}"
                );
            }
        }
        assert!(npm.join(manifest["types"].as_str().unwrap()).is_file());
    }
}
