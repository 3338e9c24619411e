//! The `tfa` command line: `serve`, account and token administration, `uapi` and `whmapi1`
//! against the local store (as cPanel's tools do on the box), and cPanel import/export.
//!
//! [`args`] is the command line's shape, [`admin`] the store administration, [`api`] the API
//! calls (through the server's own dispatch), [`serve`] the server; [`error`] is the one
//! error type. Output that a person or script reads goes to stdout; logs and notices to stderr.

mod admin;
mod api;
mod args;
mod error;
mod serve;

use std::process::ExitCode;

use tfa::server::AppState;
use tfa::store::cpanel;

pub use args::Cli;
use args::{Command, KeyCommand, TokenCommand};
use error::CliError;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&CliError::Io(format!("cannot start the runtime: {e}"))),
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

fn fail(e: &CliError) -> ExitCode {
    eprintln!("tfa: {e}");
    ExitCode::from(2)
}

async fn dispatch(cli: Cli) -> Result<ExitCode, CliError> {
    let serving = matches!(cli.command, Command::Serve(_));
    let database = cli.database().map_err(error::usage)?;
    let store = admin::open_store(database, &cli.data, cli.key_file.as_deref(), serving).await?;
    let cli_key_file = store.key_file().to_path_buf();
    let hostname = admin::resolve_hostname(&store, cli.hostname.as_deref(), serving)?;
    match cli.command {
        Command::Serve(args) => serve::serve(store, &hostname, args).await?,
        Command::Account(cmd) => admin::account(&store, cmd)?,
        Command::Token(TokenCommand::Create { name }) => admin::token_create(&store, &name)?,
        Command::Token(TokenCommand::List { name }) => admin::token_list(&store, &name)?,
        Command::Token(TokenCommand::Revoke { name, id, all }) => {
            admin::token_revoke(&store, &name, if all { None } else { id })?
        }
        Command::Uapi(args) => return api::uapi(AppState::new(store, &hostname, None), args).await,
        Command::Whmapi1(args) => {
            return api::whmapi1(AppState::new(store, &hostname, None), args).await
        }
        Command::ImportCpanel { dir } => {
            let summary = cpanel::import(&store, &dir)?;
            println!(
                "Imported {} two-factor configuration(s) and {} issuer(s) from {}.",
                summary.configs,
                summary.issuers,
                dir.display()
            );
            if summary.unknown > 0 {
                let more = summary.unknown - summary.unknown_first.len();
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                eprintln!(
                    "tfa: note: {} imported name(s) match no account, address or team user yet: {}{more}",
                    summary.unknown,
                    summary.unknown_first.join(", ")
                );
            }
        }
        Command::Audit => {
            for e in store.read(|r| r.audit_events())? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    e.at, e.event, e.identity, e.ip, e.detail
                );
            }
        }
        Command::ExportCpanel { dir } => {
            cpanel::export(&store, &dir)?;
            println!(
                "Wrote {} and {} (mode 0600) in {}. cPanel's format is plaintext: these \
                 files hold the TOTP secrets unencrypted; keep them private and delete them \
                 when done.",
                cpanel::TFA_FILE,
                cpanel::ISSUER_FILE,
                dir.display()
            );
        }
        Command::Key(KeyCommand::Rotate) => {
            let count = tokio::task::spawn_blocking(move || store.rotate_key())
                .await
                .map_err(|e| CliError::Io(e.to_string()))??;
            println!(
                "Re-encrypted {count} secret(s) under a new key, now in {}. Back up the new key file: the old one no longer opens this store.",
                cli_key_file.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
