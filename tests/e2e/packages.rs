//! The page as its packages ship it, end to end in Chromium against the real `tfa serve`:
//! - the cPanel plugin tarball (`cargo xtask plugin`), unpacked into a `frontend/jupiter/`
//!   tree and served by `tfa serve --frontend`, at `/cpsessN/frontend/jupiter/tfa/index.html`
//!   as cPanel serves an installed plugin, with no configuration;
//! - the npm tarball (`cargo xtask npm`) installed with `npm install ./tfa-enrollment-*.tgz`
//!   into a temp project, used from `node_modules/` without a bundler, and bundled by esbuild.
//!
//! `cargo xtask test` builds both tarballs before this tier.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tfa_e2e::{add_account, workspace_root, Server, ServerOptions};

use crate::{browser, whm_configs};

/// The one file in `dir` whose name starts with `prefix` and ends with `suffix`.
fn built(dir: &str, prefix: &str, suffix: &str, how: &str) -> PathBuf {
    let dir = workspace_root().join(dir);
    let found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run `{how}` (cargo xtask test does)",
                dir.display()
            )
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix))
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{found:?} in {}: run `{how}`",
        dir.display()
    );
    found.into_iter().next().unwrap()
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A server over a fresh store with one cPanel user, and `args`.
fn server_with(user: &str, pass: &str, tmp: &Path, www: Option<PathBuf>, args: &[&str]) -> Server {
    let data = tmp.join("data");
    add_account(&data, user, pass, &["--domain", &format!("{user}.example")]);
    Server::start(ServerOptions {
        data_dir: Some(data),
        www,
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        ..ServerOptions::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpanel_plugin_tarball_under_frontend_jupiter_in_chromium() {
    let tarball = built(
        "target/plugin",
        "tfa-cpanel-plugin-",
        ".tar.gz",
        "cargo xtask plugin",
    );
    let tmp = tempfile::tempdir().unwrap();
    // cPanel's base/frontend, with the tarball unpacked in its Jupiter theme's directory.
    let frontend = tmp.path().join("frontend");
    let jupiter = frontend.join("jupiter");
    std::fs::create_dir_all(&jupiter).unwrap();
    run_ok(
        Command::new("tar")
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(&jupiter),
    );
    let dirs: Vec<String> = std::fs::read_dir(&jupiter)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        dirs,
        ["tfa"],
        "the tarball holds one directory, the plugin's"
    );
    let plugin = jupiter.join("tfa");

    // install.json as cPanel's install_plugin reads it: a link in the Security group.
    let install = read_json(&plugin.join("install.json"));
    let items = install.as_array().expect("install.json is an array");
    assert_eq!(items.len(), 1, "{install}");
    let item = &items[0];
    assert_eq!(item["type"], "link", "{item}");
    assert_eq!(item["group_id"], "security", "{item}");
    for field in ["id", "name", "feature", "icon", "uri"] {
        assert!(
            item[field].as_str().is_some_and(|s| !s.is_empty()),
            "install.json lacks {field}: {item}"
        );
    }
    assert!(item["order"].is_u64(), "{item}");
    let icon = plugin.join(item["icon"].as_str().unwrap());
    let svg = std::fs::read_to_string(&icon).expect("the icon install.json names");
    assert!(svg.contains("<svg"), "{}", icon.display());
    let uri = item["uri"].as_str().unwrap();
    assert_eq!(uri, "tfa/index.html");
    assert!(jupiter.join(uri).is_file(), "the uri's page");

    // Only the plugin's tree: no --www, so every file of the page comes from the tarball.
    let (user, pass) = ("pia", "pia-pass-7d21c9");
    let frontend_arg = frontend.to_str().unwrap();
    let server = server_with(user, pass, tmp.path(), None, &["--frontend", frontend_arg]);

    // Without a session, cPanel's answer: the login page.
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let page = format!("/cpsess0123456789/frontend/jupiter/{uri}");
    let resp = agent.get(&server.url(&page)).call().unwrap();
    assert_eq!(resp.status(), 303, "no session");
    assert_eq!(resp.header("location"), Some("/login"));

    browser::in_browser(
        browser::Engine::Chromium,
        &server,
        user,
        pass,
        async |b, t| {
            let prefix = browser::login(b, t).await;
            // The login lands on /cpsessN/, which this server (no --www) does not serve: that
            // 404 is not the plugin's.
            b.console_errors().await;
            browser::packaged::flow_on_page(
                b,
                t,
                &prefix,
                &format!("frontend/jupiter/{uri}"),
                "frontend/jupiter/tfa/",
                "plugin",
            )
            .await;
            // The same static-file rules as the page: no listing, no way out of the tree, no other
            // session's prefix.
            for (path, want) in [
                (format!("{prefix}frontend/jupiter/"), 404),
                (format!("{prefix}frontend/jupiter/tfa/pkg/"), 404),
                (
                    format!("{prefix}frontend/jupiter/tfa/%2e%2e/%2e%2e/%2e%2e/data/tfa.sqlite3"),
                    404,
                ),
                (
                    format!("{prefix}frontend/jupiter/tfa/..%2f..%2f..%2fdata%2ftfa.sqlite3"),
                    404,
                ),
                (
                    "/cpsess0123456789/frontend/jupiter/tfa/index.html".to_owned(),
                    0,
                ),
            ] {
                let got = browser::packaged::status_of(b, &path).await;
                // 400 (a bad path) is as good a refusal as 404; 0 is the opaque redirect to /login.
                assert!(
                    got == want || (want == 404 && got == 400),
                    "{path}: {got}, expected {want}"
                );
            }
        },
    )
    .await;
    let stopped = server.stop();
    assert!(!stopped.log.contains(pass));
}

/// A TypeScript use of the installed package type-checks (strict, Node's ES module resolution
/// through the exports map), and a wrong use does not: the declarations are real types.
fn type_check(project: &Path) {
    let tsc = workspace_root().join("xtask/node_modules/.bin/tsc");
    assert!(
        tsc.exists(),
        "TypeScript is not installed: run `cargo xtask setup`"
    );
    std::fs::write(
        project.join("use.ts"),
        r#"import { TfaEnrollment, type TfaEnabledDetail, type TfaState } from 'tfa-enrollment';
import init, { qrSvg } from 'tfa-enrollment/pkg/tfa.js';
const el = document.querySelector('tfa-enrollment');
if (el) {
  const state: TfaState = el.state;
  el.locale = 'ja';
  el.apiBase = '/cpsess0123456789/';
  el.addEventListener('tfa-enabled', (e) => console.log(e.detail.account, e.detail.recoveryCodes));
  void el.refresh().then(() => console.log(state));
}
document.addEventListener('tfa-statechange', (e) => console.log(e.detail.state, e.detail.previous));
document.addEventListener('tfa-error', (e) => console.log(e.detail.message, e.detail.warnings.length));
document.addEventListener('tfa-recovery-codes', (e) => console.log(e.detail.count + 1));
const detail: TfaEnabledDetail = { account: 'a', issuer: 'b', recoveryCodes: 0 };
console.log(detail, TfaEnrollment, init, qrSvg);
"#,
    )
    .unwrap();
    std::fs::write(
        project.join("wrong.ts"),
        "import 'tfa-enrollment';\n\
         document.addEventListener('tfa-enabled', (e) => { const n: string = e.detail.recoveryCodes; console.log(n); });\n\
         const el = document.querySelector('tfa-enrollment');\n\
         if (el) { el.state = 'done'; }\n",
    )
    .unwrap();
    let tsc_on = |file: &str| {
        Command::new(&tsc)
            .args(["--noEmit", "--strict", "--skipLibCheck", "false"])
            .args(["--module", "nodenext", "--moduleResolution", "nodenext"])
            .args(["--target", "es2022", "--lib", "es2022,dom"])
            .arg(file)
            .current_dir(project)
            .output()
            .unwrap()
    };
    let ok = tsc_on("use.ts");
    assert!(
        ok.status.success(),
        "tsc: {}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let wrong = tsc_on("wrong.ts");
    let said = String::from_utf8_lossy(&wrong.stdout);
    assert!(!wrong.status.success(), "tsc took a wrong use");
    assert!(said.contains("TS2322") && said.contains("TS2540"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npm_tarball_installed_in_a_project_and_bundled_in_chromium() {
    let tarball = built("target/npm", "tfa-enrollment-", ".tgz", "cargo xtask npm");
    let esbuild = workspace_root().join("xtask/node_modules/.bin/esbuild");
    assert!(
        esbuild.exists(),
        "esbuild is not installed: run `cargo xtask setup`"
    );
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("package.json"),
        r#"{ "name": "host-page", "version": "1.0.0", "private": true }"#,
    )
    .unwrap();
    // The tarball has no dependencies: the install needs no registry.
    run_ok(
        Command::new("npm")
            .args([
                "install",
                "--offline",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ])
            .arg(&tarball)
            .current_dir(&project),
    );
    let pkg = project.join("node_modules/tfa-enrollment");

    // The manifest: an ES module package with types, an exports map, side effects declared.
    let manifest = read_json(&pkg.join("package.json"));
    assert_eq!(manifest["type"], "module");
    assert_eq!(manifest["license"], "MIT OR Apache-2.0");
    assert_eq!(manifest["version"], env!("CARGO_PKG_VERSION"));
    let types = manifest["types"].as_str().unwrap();
    assert!(pkg.join(types).is_file(), "types: {types}");
    let exports = manifest["exports"].as_object().unwrap();
    for key in [".", "./element.js", "./style.css", "./pkg/tfa_bg.wasm"] {
        assert!(exports.contains_key(key), "exports lacks {key}");
    }
    for (key, target) in exports {
        if key.contains('*') {
            continue;
        }
        let targets: Vec<&str> = match target {
            Value::String(s) => vec![s.as_str()],
            Value::Object(m) => m.values().filter_map(Value::as_str).collect(),
            other => panic!("exports[{key}] = {other}"),
        };
        for t in targets {
            assert!(
                pkg.join(t).is_file(),
                "exports[{key}] → {t} is not in the package"
            );
        }
    }
    let side_effects = manifest["sideEffects"].as_array().unwrap();
    assert!(
        side_effects.iter().any(|s| s == "./app.js"),
        "{side_effects:?}"
    );
    assert!(side_effects
        .iter()
        .any(|s| s.as_str().unwrap().ends_with(".css")));
    assert!(manifest["files"].is_array());
    let declared = std::fs::read_to_string(pkg.join("element.d.ts")).unwrap();
    for part in [
        "'tfa-enrollment': TfaEnrollment",
        "HTMLElementTagNameMap",
        "'tfa-statechange'",
        "'tfa-enabled'",
        "'tfa-removed'",
        "'tfa-recovery-codes'",
        "'tfa-error'",
        "--tfa-accent",
        "color-scheme",
    ] {
        assert!(declared.contains(part), "element.d.ts lacks {part}");
    }
    assert!(pkg.join("pkg/tfa.d.ts").is_file(), "the wasm glue's types");
    assert!(pkg.join("README.md").is_file());
    type_check(&project);

    // Without a bundler: the host page loads the module from node_modules.
    std::fs::write(
        project.join("index.html"),
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Host</title>\n\
         <link rel=\"icon\" href=\"data:,\">\n\
         <script type=\"module\" src=\"node_modules/tfa-enrollment/app.js\"></script></head>\n\
         <body><main><h1>Host page</h1><tfa-enrollment></tfa-enrollment></main></body></html>\n",
    )
    .unwrap();
    // Through a bundler: an entry that imports the package by name, bundled by esbuild, with
    // the files the element loads beside the bundle, as the package's README says.
    let dist = project.join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(
        project.join("entry.js"),
        "import { TfaEnrollment } from 'tfa-enrollment';\n\
         window.__bundled = customElements.get('tfa-enrollment') === TfaEnrollment;\n",
    )
    .unwrap();
    run_ok(
        Command::new(&esbuild)
            .args([
                "entry.js",
                "--bundle",
                "--format=esm",
                "--log-level=warning",
            ])
            .arg("--outfile=dist/app.js")
            .current_dir(&project),
    );
    let bundle = std::fs::read_to_string(dist.join("app.js")).unwrap();
    assert!(
        bundle.contains("tfa-enrollment"),
        "the bundle defines the element"
    );
    for file in ["pkg/tfa_bg.wasm", "style.css"] {
        let name = Path::new(file).file_name().unwrap();
        std::fs::copy(pkg.join(file), dist.join(name)).unwrap();
    }
    if pkg.join("locales").is_dir() {
        run_ok(
            Command::new("cp")
                .arg("-r")
                .arg(pkg.join("locales"))
                .arg(&dist),
        );
    }
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Bundled</title>\n\
         <link rel=\"icon\" href=\"data:,\">\n\
         <script type=\"module\" src=\"app.js\"></script></head>\n\
         <body><main><tfa-enrollment></tfa-enrollment></main></body></html>\n",
    )
    .unwrap();

    // The project served as it is, by the real server, which also answers the API.
    let (user, pass) = ("nemo", "nemo-pass-1f93b0");
    let server = server_with(user, pass, tmp.path(), Some(project.clone()), &[]);
    let configs = || whm_configs(&server);
    let target = browser::Target {
        base_url: &server.base_url,
        user,
        pass,
        whm_configs: &configs,
    };
    let mut b = browser::Browser::start().await;
    let prefix = browser::login(&b, &target).await;
    browser::packaged::flow_on_page(
        &mut b,
        &target,
        &prefix,
        "index.html",
        "node_modules/tfa-enrollment/",
        "npm",
    )
    .await;
    // The bundle, as another user (a code is good once: the first user's was just used).
    let (user2, pass2) = ("nell", "nell-pass-58a0e4");
    add_account(
        &server.data_dir,
        user2,
        pass2,
        &["--domain", "nell.example"],
    );
    let target2 = browser::Target {
        base_url: &server.base_url,
        user: user2,
        pass: pass2,
        whm_configs: &configs,
    };
    let prefix2 = browser::login(&b, &target2).await;
    b.console_errors().await;
    browser::packaged::flow_on_page(
        &mut b,
        &target2,
        &prefix2,
        "dist/index.html",
        "dist/",
        "bundle",
    )
    .await;
    assert_eq!(
        b.js("return window.__bundled;").await,
        true,
        "the bundle's class is the element's"
    );
    let from_node_modules = b
        .js("return performance.getEntriesByType('resource').filter(e => e.name.includes('node_modules')).length;")
        .await;
    assert_eq!(from_node_modules, 0, "the bundle's page used node_modules");
    b.close().await;
    let stopped = server.stop();
    assert!(!stopped.log.contains(pass) && !stopped.log.contains(pass2));
}
