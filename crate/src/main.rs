//! The `tfa` binary (feature `server`): parses the command line and hands over to [`cli`].
//! Logs go to stderr through `tracing` (filter with `RUST_LOG`, default `info`), written by a
//! thread of their own so that a request never waits on the terminal or a log pipe.

mod cli;

/// The server's allocator (see crate/Cargo.toml); the bench's bare axum baseline uses it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Lossless: under a flood the workers wait for the log thread rather than drop lines. The
    // log thread flushes whenever it has written all it was sent, so lines come out in batches
    // under load and at once when the server is quiet.
    let (writer, flush_on_exit) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .init();
    let code = cli::run(cli::Cli::parse());
    drop(flush_on_exit);
    code
}
