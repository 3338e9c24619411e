//! `cargo xtask bench [NAME]`: benchmarks. Each one measures tfa against a peer measured in
//! the same run on the same machine, because on two shared cores the absolute numbers move
//! with whatever else is running while the ratio mostly does not. They report and never judge:
//! nothing here fails on speed, and `cargo xtask test` never runs them.
//!
//! A bare `cargo xtask bench` runs every comparison and ends with one table (table.rs) of
//! measure, tfa, peer and ratio; `cargo xtask bench NAME` runs one and prints its rows. A new
//! benchmark is one more `fn(&Ctx, &mut Table) -> Result` and one more row in [`BENCHES`].

mod attack;
mod browser;
mod import;
mod load;
mod native;
mod postgres;
mod process;
mod table;
mod writes;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::{section, Ctx, Result};
use load::{Figures, Load, CONNECTIONS, MEASURE, OHA, WARM_UP};
use process::{Server, TempDir};
use table::{Row, Table};

type Bench = fn(&Ctx, &mut Table) -> Result;

/// Every benchmark, in the order a bare `cargo xtask bench` runs them, and whether it does:
/// `attack` has no peer (it is a report of its own, figures against the issue's limits) and
/// takes a minute and a half, so it runs only by name.
const BENCHES: &[(&str, Bench, bool)] = &[
    ("server", bench_server, true),
    ("writes", writes::bench_writes, true),
    ("import", import::bench_import, true),
    ("browser", browser::bench_browser, true),
    ("totp", native::bench_totp, true),
    ("size", native::bench_size, true),
    ("pg", postgres::bench_postgres, true),
    ("attack", attack::bench_attack, false),
];

/// The second token measure's store: a busy host's worth of tokens over many accounts.
const TOKENS: u64 = 30_000;
const ACCOUNTS: u64 = 3_000;

/// The names `bench` accepts, for the usage text.
pub(crate) fn names() -> Vec<&'static str> {
    BENCHES.iter().map(|(name, _, _)| *name).collect()
}

impl Ctx {
    /// `bench` runs every comparison; `bench NAME` runs one. A benchmark that fails does not
    /// stop the others: the table says which failed, and so does the exit status.
    pub(crate) fn bench(&self, args: &[String]) -> Result {
        let chosen: Vec<&(&str, Bench, bool)> = match args {
            [] => BENCHES.iter().filter(|(_, _, all)| *all).collect(),
            [name] => vec![BENCHES.iter().find(|(n, _, _)| n == name).ok_or_else(|| {
                format!("no benchmark {name:?}; there are: {}", names().join(", "))
            })?],
            _ => return Err(format!("usage: cargo xtask bench [{}]", names().join("|")).into()),
        };
        let mut table = Table::default();
        for (name, bench, _) in chosen {
            section(&format!("bench: {name}"));
            if let Err(e) = bench(self, &mut table) {
                eprintln!("bench {name}: error: {e}");
                table.failed.push(format!("{name}: {e}"));
            }
        }
        if !table.is_empty() || !table.failed.is_empty() {
            section("bench: the table");
            println!("{}", table.render(&today()));
        }
        match table.failed.len() {
            0 => Ok(()),
            n => Err(format!("{n} benchmark(s) could not measure (see the table)").into()),
        }
    }
}

/// The optimised `tfa` server against a bare axum server under the same load: a token GET with
/// 2 and with 30,000 tokens in the store, and a password login.
fn bench_server(ctx: &Ctx, table: &mut Table) -> Result {
    // Installed here only: neither `setup` nor `test` needs a load generator.
    ctx.ensure_cargo_tool("oha", "oha", OHA)?;
    let rig = Rig {
        bins: build_servers(ctx)?,
        tmp: TempDir::new("tfa-bench")?,
    };

    // The first start creates the store and prints the passwords, once.
    let server = rig.tfa()?;
    let demo_pw = server
        .said("  demo password: ")
        .ok_or("tfa serve printed no demo password (was the data directory empty?)")?;
    rig.token("root")?;
    let few = rig.row(&Load::token_get(&server.addr, &rig.token("demo")?))?;

    // Seeded with the server stopped, so that it starts on the finished file. The token
    // measured is created last: the newest row, the one a scan in insertion order reaches last.
    drop(server);
    seed(&rig.data().join("tfa.sqlite3"), TOKENS - 3, ACCOUNTS)?;
    let newest = rig.token("demo")?;
    let server = rig.tfa()?;
    let many = rig.row(&Load::token_get(&server.addr, &newest))?;
    let logins = rig.row(&Load::login(&server.addr, &demo_pw))?;
    drop(server);

    let rows = [
        ("token GET (2 tokens)", few),
        ("token GET (30,000 tokens)", many),
        ("login POST (peer: hello)", logins),
    ];
    report(&rows);
    for (what, row) in rows {
        let odd = row.tfa.odd.iter().chain(&row.peer.odd).cloned();
        table.push(Row {
            note: odd.collect::<Vec<_>>().join("; "),
            ..Row::higher(
                &format!("server {what}, {CONNECTIONS} conn"),
                "req/s",
                row.tfa.per_sec,
                "bare axum hello GET",
                row.peer.per_sec,
                None,
            )
        });
    }
    Ok(())
}

struct Binaries {
    tfa: PathBuf,
    hello: PathBuf,
}

/// Both servers from one cargo run: the workspace's `server` profile (release settings
/// optimised for speed, with the per-package overrides) and the same resolved features, so the
/// baseline is built exactly as tfa is.
fn build_servers(ctx: &Ctx) -> Result<Binaries> {
    println!("bench: building tfa and the hello_axum baseline (server profile)");
    let out = ctx
        .cmd("cargo")
        .args([
            "build",
            "--profile",
            "server",
            "-p",
            "tfa",
            "--features",
            "server",
        ])
        .args(["--bin", "tfa", "--example", "hello_axum"])
        .args(["--message-format", "json-render-diagnostics"])
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(format!("cargo build --profile server failed ({})", out.status).into());
    }
    // Cargo names the executables it built, wherever CARGO_TARGET_DIR puts them.
    let mut built = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if let (Some(name), Some(exe)) =
            (msg["target"]["name"].as_str(), msg["executable"].as_str())
        {
            built.insert(name.to_owned(), PathBuf::from(exe));
        }
    }
    let mut take = |name: &str| {
        built
            .remove(name)
            .ok_or_else(|| format!("cargo built no executable named {name}"))
    };
    Ok(Binaries {
        tfa: take("tfa")?,
        hello: take("hello_axum")?,
    })
}

/// What the server benchmark runs: the two binaries and a scratch directory for the store and
/// the servers' logs. Declared before any [`Server`], so it is dropped after them.
struct Rig {
    bins: Binaries,
    tmp: TempDir,
}

impl Rig {
    fn data(&self) -> PathBuf {
        self.tmp.0.join("data")
    }

    /// `tfa serve` on a free port, with its log (stderr) in the scratch directory.
    fn tfa(&self) -> Result<Server> {
        let mut c = Command::new(&self.bins.tfa);
        c.arg("serve").arg("--data").arg(self.data());
        c.args(["--listen", "127.0.0.1:0"]);
        Server::start("tfa serve", c, &self.tmp.0.join("tfa.log"))
    }

    /// A new API token for `account`: the last line `tfa token create` prints.
    fn token(&self, account: &str) -> Result<String> {
        let out = Command::new(&self.bins.tfa)
            .arg("--data")
            .arg(self.data())
            .args(["token", "create", account])
            .output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        match stdout.lines().last().map(str::trim) {
            Some(token) if out.status.success() && !token.is_empty() => Ok(token.to_owned()),
            _ => Err(format!(
                "tfa token create {account} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into()),
        }
    }

    /// One row: tfa under `load`, and the baseline's `GET /` measured right before it, so that
    /// both see the same background load from the rest of the machine.
    fn row(&self, load: &Load) -> Result<ServerRow> {
        let hello = Server::start(
            "hello_axum",
            Command::new(&self.bins.hello),
            &self.tmp.0.join("hello.log"),
        )?;
        let peer = Load::hello(&hello.addr).measure()?;
        drop(hello);
        Ok(ServerRow {
            tfa: load.measure()?,
            peer,
        })
    }
}

struct ServerRow {
    tfa: Figures,
    peer: Figures,
}

fn report(rows: &[(&str, ServerRow)]) {
    section(&format!(
        "tfa server vs bare axum, {} (oha {OHA}, {CONNECTIONS} connections, {MEASURE} each after a \
         {WARM_UP} warm-up, server profile)",
        today()
    ));
    println!(
        "{:<26} {:>10} {:>10} {:>8} {:>17} {:>17}",
        "measure", "tfa req/s", "peer req/s", "ratio", "tfa p50/p99", "peer p50/p99"
    );
    let lat = |f: &Figures| format!("{}/{} ms", millis(f.p50_ms), millis(f.p99_ms));
    for (what, row) in rows {
        println!(
            "{what:<26} {:>10.0} {:>10.0} {:>7}x {:>17} {:>17}",
            row.tfa.per_sec,
            row.peer.per_sec,
            ratio(row.tfa.per_sec / row.peer.per_sec.max(f64::MIN_POSITIVE)),
            lat(&row.tfa),
            lat(&row.peer)
        );
    }
    for note in rows
        .iter()
        .flat_map(|(_, r)| r.tfa.odd.iter().chain(&r.peer.odd))
    {
        println!("note: {note}");
    }
}

/// Two decimals, or as many as it takes to show two digits of a small ratio (a login is
/// thousands of times slower than a hello, and `0.00x` would say nothing).
fn ratio(r: f64) -> String {
    let decimals = if r >= 0.1 {
        2
    } else {
        (-r.log10()).ceil().clamp(0.0, 5.0) as usize + 1
    };
    format!("{r:.decimals$}")
}

/// Milliseconds to a tenth below 100 ms; above that the tenth is noise.
fn millis(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else {
        format!("{ms:.1}")
    }
}

/// Adds `accounts` user accounts and `tokens` API tokens (random 32-byte hashes, spread over
/// those accounts) straight into the store: through the CLI, 30,000 tokens would take minutes.
fn seed(db: &Path, tokens: u64, accounts: u64) -> Result {
    println!("bench: seeding {tokens} API tokens over {accounts} accounts");
    const SEED: &str = r#"
import os, sqlite3, sys, time
db, tokens, accounts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
con = sqlite3.connect(db)
now = int(time.time())
names = ["bench%05d" % i for i in range(accounts)]
with con:
    con.executemany(
        "INSERT INTO accounts (name, kind, owner, domain, password_hash)"
        " VALUES (?, 'user', 'root', ?, 'seeded: no password')",
        ((n, n + ".example") for n in names))
    con.executemany(
        "INSERT INTO api_tokens (account, hash, created) VALUES (?, ?, ?)",
        ((names[i % accounts], os.urandom(32), now) for i in range(tokens)))
con.close()
"#;
    let status = Command::new("python3")
        .args(["-c", SEED])
        .arg(db)
        .args([tokens.to_string(), accounts.to_string()])
        .status()
        .map_err(|e| format!("could not start python3: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("seeding {} failed ({status})", db.display()).into())
    }
}

/// Today's date (UTC) for the report, as YYYY-MM-DD.
fn today() -> String {
    // The report's date is the one clock read in xtask; the clock ban is for the pure core.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now();
    let secs = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days(secs / 86_400);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_from_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_415), (2025, 11, 23));
    }

    #[test]
    fn small_ratios_keep_two_digits() {
        assert_eq!(ratio(0.3), "0.30");
        assert_eq!(ratio(1.234), "1.23");
        assert_eq!(ratio(0.05), "0.050");
        assert_eq!(ratio(0.00025), "0.00025");
        assert_eq!(ratio(0.0), "0.000000");
        assert_eq!(
            (millis(2.54), millis(4103.4)),
            ("2.5".to_owned(), "4103".to_owned())
        );
    }

    #[test]
    fn every_bench_has_a_unique_name() {
        let mut n = names();
        n.sort_unstable();
        n.dedup();
        assert_eq!(n.len(), BENCHES.len());
        assert!(n.contains(&"server"));
        // The bare run is the comparisons; `attack` runs by name only.
        assert!(BENCHES.iter().all(|(n, _, all)| *all != (*n == "attack")));
    }
}
