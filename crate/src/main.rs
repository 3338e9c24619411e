//! The `tfa` binary (feature `server`): parses the command line and hands over to [`cli`].
//! Logs go to stderr through `tracing` (filter with `RUST_LOG`, default `info`).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    cli::run(cli::Cli::parse())
}
