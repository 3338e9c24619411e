//! The command line's arguments (clap): `serve`, account and token administration, `uapi`
//! and `whmapi1`, cPanel import/export and the audit log.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A cPanel-compatible two-factor authentication server and its admin tools.
#[derive(Debug, Parser)]
#[command(name = "tfa", version, about)]
pub struct Cli {
    /// The data directory (created 0700).
    #[arg(long, global = true, env = "TFA_DATA", default_value = "tfa-data")]
    pub data: PathBuf,
    /// The server hostname (root's primary domain, the last issuer fallback). Default: the
    /// one `serve` last used, else the system's.
    #[arg(long, global = true, env = "TFA_HOSTNAME")]
    pub hostname: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (UAPI, WHM API 1, login, the enrollment page).
    Serve(ServeArgs),
    /// Manage accounts, webmail addresses and team users.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Call a UAPI function as a user, like cPanel's `uapi`.
    Uapi(UapiArgs),
    /// Call a WHM API 1 function as root, like cPanel's `whmapi1`.
    Whmapi1(WhmArgs),
    /// Import cPanel's tfa_userdata.json and issuer_userdata.json from DIR (one transaction).
    ImportCpanel { dir: PathBuf },
    /// Export the store as cPanel's tfa_userdata.json and issuer_userdata.json into DIR (mode 0600).
    ExportCpanel { dir: PathBuf },
    /// Print the audit log (enable, disable, failed codes, lockouts, logins), oldest first.
    Audit,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:2083")]
    pub listen: SocketAddr,
    /// The enrollment page's directory (default: ./www if it exists).
    #[arg(long)]
    pub www: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Add a cPanel account (or a reseller with --reseller).
    Add {
        name: String,
        /// Make it a reseller.
        #[arg(long)]
        reseller: bool,
        /// The owning reseller (default: root).
        #[arg(long, default_value = "root")]
        owner: String,
        /// The primary domain (default: NAME.example).
        #[arg(long)]
        domain: Option<String>,
        /// Read the password from the first line of stdin instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Add a webmail address user@domain; domain must be an account's primary domain.
    AddWebmail {
        address: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Add a team user of a cPanel account; it logs in as NAME@ACCOUNT.
    AddTeam {
        name: String,
        /// The cPanel account it belongs to.
        #[arg(long)]
        account: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set the password of an account, address or team user.
    SetPassword {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts, webmail addresses and team users.
    List,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for an account; printed once, on the last line.
    Create { name: String },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UapiOutput {
    Yaml,
    Json,
    Jsonpretty,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum WhmOutput {
    Yaml,
    Json,
    Jsonpretty,
    Xml,
}

#[derive(Debug, Args)]
pub struct UapiArgs {
    /// The user to act as (cPanel user, user@domain or team@cpuser).
    #[arg(long)]
    pub user: String,
    #[arg(long, value_enum, default_value = "yaml")]
    pub output: UapiOutput,
    /// The module (TwoFactorAuth).
    pub module: String,
    /// The function.
    pub function: String,
    /// Parameters as key=value (values may be URI-encoded).
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct WhmArgs {
    #[arg(long, value_enum, default_value = "yaml")]
    pub output: WhmOutput,
    /// A JSON body for functions that take one (twofactorauth_set_tfa_config_for_user); `-` reads stdin.
    #[arg(long)]
    pub json_body: Option<PathBuf>,
    /// The function.
    pub function: String,
    /// Parameters as key=value (values may be URI-encoded).
    pub args: Vec<String>,
}
