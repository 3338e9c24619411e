//! `cargo xtask bench import`: `tfa import-cpanel` of 1,000,000 cPanel users against a Python
//! peer (`json` + `sqlite3`, one transaction, WAL and `synchronous=FULL`) on the same file, in
//! the same run: wall time and each process's own peak RSS, twice each. The harness is
//! `import.py` beside this file (Python reads a child's peak RSS from `wait4`); the table takes
//! each side's better run of the two.

use std::process::{Command, Stdio};

use super::{build_servers, Row, Table, TempDir};
use crate::{Ctx, Result};

/// Users in the generated `tfa_userdata.json`.
const USERS: u64 = 1_000_000;

pub(super) fn bench_import(ctx: &Ctx, table: &mut Table) -> Result {
    let bins = build_servers(ctx)?;
    let tmp = TempDir::new("tfa-bench-import")?;
    let script = ctx.root.join("xtask/src/bench/import.py");
    println!("bench: import of {USERS} users (the file is made on the first run)");
    println!("run\tseconds\tpeak RSS MB");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&bins.tfa)
        .arg(&tmp.0)
        .arg(USERS.to_string())
        .stderr(Stdio::inherit())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    if !out.status.success() {
        return Err(format!("the import benchmark failed ({})", out.status).into());
    }
    let (tfa, peer) = (best(&text, "tfa")?, best(&text, "python")?);
    let peer_name = "Python json + sqlite3";
    table.push(Row::lower(
        "import of 1,000,000 users: time",
        "s",
        tfa.0,
        peer_name,
        peer.0,
        Some(3.0),
    ));
    table.push(Row::lower(
        "import of 1,000,000 users: peak RSS",
        "MB",
        tfa.1,
        peer_name,
        peer.1,
        Some(300.0),
    ));
    Ok(())
}

/// The fastest of `name`'s runs (`name<TAB>seconds<TAB>MB` lines), and the least peak memory.
fn best(text: &str, name: &str) -> Result<(f64, f64)> {
    let runs: Vec<(f64, f64)> = text
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            (f.next() == Some(name)).then_some(())?;
            Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
        })
        .collect();
    let secs = runs.iter().map(|r| r.0).reduce(f64::min);
    let mb = runs.iter().map(|r| r.1).reduce(f64::min);
    secs.zip(mb)
        .ok_or_else(|| format!("import.py printed no {name} run").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_runs_are_read_from_the_report() {
        let text = "tfa\t2.50\t280\npython\t3.20\t456\nstderr\t0 bytes: \ntfa\t2.40\t290\n";
        assert_eq!(best(text, "tfa").unwrap(), (2.4, 280.0));
        assert_eq!(best(text, "python").unwrap(), (3.2, 456.0));
        assert!(best(text, "go").is_err());
    }
}
