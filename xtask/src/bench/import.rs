//! `cargo xtask bench import`: `tfa import-cpanel` of 1,000,000 cPanel users against a Python
//! peer (`json` + `sqlite3`, one transaction, WAL and `synchronous=FULL`) on the same file, in
//! the same run: wall time and each process's own peak RSS, twice each. The harness is
//! `import.py` beside this file (Python reads a child's peak RSS from `wait4`).

use std::process::Command;

use super::{build_servers, TempDir};
use crate::{Ctx, Result};

/// Users in the generated `tfa_userdata.json`.
const USERS: u64 = 1_000_000;

pub(super) fn bench_import(ctx: &Ctx) -> Result {
    let bins = build_servers(ctx)?;
    let tmp = TempDir::new("tfa-bench-import")?;
    let script = ctx.root.join("xtask/src/bench/import.py");
    println!("bench: import of {USERS} users (the file is made on the first run)");
    println!("run\tseconds\tpeak RSS MB");
    let status = Command::new("python3")
        .arg(&script)
        .arg(&bins.tfa)
        .arg(&tmp.0)
        .arg(USERS.to_string())
        .status()?;
    if !status.success() {
        return Err(format!("the import benchmark failed ({status})").into());
    }
    Ok(())
}
