//! The command line's arguments (clap): `serve`, account and token administration, `uapi`
//! and `whmapi1`, cPanel import/export and the audit log.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tfa::server::auth::PASSWORD_LIMITS;
use tfa::store::{Database, PostgresOptions, Writer, DEFAULT_POOL};

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
    /// The key file that encrypts the TOTP secrets at rest (256-bit, mode 0600; made on the
    /// first start of a store without encrypted secrets). Default: tfa.key in the data
    /// directory. Back it up: without it the secrets cannot be read.
    #[arg(long, global = true, env = "TFA_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Keep the data in this PostgreSQL database (`postgres://user:password@host:port/db`,
    /// `?sslmode=require` for TLS) instead of tfa.sqlite3 in the data directory: any number
    /// of `tfa serve` on other machines can share it, with the same key file.
    #[arg(long, global = true, env = "TFA_DATABASE_URL", hide_env_values = true)]
    pub database: Option<String>,
    /// Connections to PostgreSQL this process keeps at most.
    #[arg(long, global = true, env = "TFA_DATABASE_POOL", default_value_t = DEFAULT_POOL, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1000))]
    pub database_pool: usize,
    /// A PEM file of CA certificates that may sign PostgreSQL's TLS certificate (beside the
    /// public web roots).
    #[arg(long, global = true, env = "TFA_DATABASE_CA")]
    pub database_ca: Option<PathBuf>,
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
    /// Export the store as cPanel's tfa_userdata.json and issuer_userdata.json into DIR (mode
    /// 0600). cPanel's format is plaintext: the exported secrets are NOT encrypted.
    ExportCpanel { dir: PathBuf },
    /// Manage the key that encrypts the TOTP secrets at rest.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Print the audit log (enable, disable, failed codes, lockouts, logins), oldest first.
    Audit,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Re-encrypt every secret under a new key (one transaction), then replace the key file
    /// (the new key is written to KEY.new first; the old one is kept as KEY.old until the
    /// swap is done). A crash at any point leaves a store that starts with one of the two.
    Rotate,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one). A non-loopback address needs TLS
    /// (--tls-cert/--tls-key or --tls self-signed) or --insecure-http.
    #[arg(long, default_value = "127.0.0.1:2083")]
    pub listen: SocketAddr,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key. Reloaded
    /// on SIGHUP.
    #[arg(
        long,
        env = "TFA_TLS_CERT",
        requires = "tls_key",
        conflicts_with = "tls"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "TFA_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// `self-signed`: serve HTTPS with a certificate made on first start and kept in the data
    /// directory (tls-self-signed.crt and .key, mode 0600).
    #[arg(long, value_enum, conflicts_with = "tls_cert")]
    pub tls: Option<TlsMode>,
    /// Serve plain HTTP on a non-loopback address: only when TLS is terminated in front
    /// of tfa (a proxy or load balancer).
    #[arg(long, conflicts_with_all = ["tls", "tls_cert"])]
    pub insecure_http: bool,
    /// A load balancer or proxy in front of tfa (an address or a network, e.g. 10.0.0.0/24;
    /// repeat for more): from it, and only from it, `X-Forwarded-For` gives the client's
    /// address (for throttling, lockouts and the audit log) and `X-Forwarded-Proto: https`
    /// counts as TLS (Secure cookies, HSTS).
    #[arg(long = "trusted-proxy", env = "TFA_TRUSTED_PROXIES", value_delimiter = ',', value_parser = proxy)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The enrollment page's directory (default: ./www if it exists).
    #[arg(long)]
    pub www: Option<PathBuf>,
    /// A directory laid out as cPanel's `base/frontend` (DIR/jupiter/<plugin dir>/…, e.g. the
    /// unpacked `cargo xtask plugin` tarball), served at `/cpsessNNNNNNNNNN/frontend/…` only
    /// to the logged-in session whose cpsess it is, as cPanel serves an installed plugin.
    #[arg(long, env = "TFA_FRONTEND")]
    pub frontend: Option<PathBuf>,
    /// Seconds a client has to send a complete request head, from connecting (or from the
    /// end of its last response).
    #[arg(long, env = "TFA_HEADER_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Seconds a connection with no request in flight stays open.
    #[arg(long, env = "TFA_IDLE_TIMEOUT", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub idle_timeout: u64,
    /// Seconds a client has to send a request body after its head.
    #[arg(long, env = "TFA_BODY_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout: u64,
    /// Open connections at most (default: the open-file limit, raised to its hard limit, less
    /// 128 kept for the database and logs).
    #[arg(long, env = "TFA_MAX_CONNECTIONS", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: Option<u64>,
    /// Wrong passwords for one login name, within --password-window, that lock the name
    /// (even the right password is then refused until the lock ends).
    #[arg(long, env = "TFA_PASSWORD_LIMIT_USER", default_value_t = PASSWORD_LIMITS.identity.max_failures, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub password_limit_user: u64,
    /// Wrong passwords from one client address, for any names (known or not), within
    /// --password-window, that lock the address.
    #[arg(long, env = "TFA_PASSWORD_LIMIT_IP", default_value_t = PASSWORD_LIMITS.ip.max_failures, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub password_limit_ip: u64,
    /// Seconds over which wrong passwords are counted.
    #[arg(long, env = "TFA_PASSWORD_WINDOW", default_value_t = PASSWORD_LIMITS.identity.window_secs, value_parser = clap::value_parser!(u64).range(1..=30 * 86_400))]
    pub password_window: u64,
    /// Seconds a password lockout lasts.
    #[arg(long, env = "TFA_PASSWORD_LOCK", default_value_t = PASSWORD_LIMITS.identity.lock_secs, value_parser = clap::value_parser!(u64).range(1..=30 * 86_400))]
    pub password_lock: u64,
    /// Password hashes (argon2id, 19 MiB each) run at a time (default: one per core, at
    /// most 16).
    #[arg(long, env = "TFA_HASH_WORKERS", value_parser = clap::value_parser!(u64).range(1..=16))]
    pub hash_workers: Option<u64>,
    /// Password checks that may wait for a hashing turn; beyond them a request is refused at
    /// once with 503 and Retry-After (default: 32 per worker, at least 64).
    #[arg(long, env = "TFA_HASH_QUEUE", value_parser = clap::value_parser!(u64).range(0..=4096))]
    pub hash_queue: Option<u64>,
    /// Days an audit row is kept (0: no age limit).
    #[arg(long, env = "TFA_AUDIT_KEEP_DAYS", default_value_t = Writer::AUDIT_KEEP_DAYS, value_parser = clap::value_parser!(u64).range(0..=100_000))]
    pub audit_keep_days: u64,
    /// Audit rows kept at most, the oldest removed first (0: no row limit).
    #[arg(long, env = "TFA_AUDIT_MAX_ROWS", default_value_t = Writer::AUDIT_MAX_ROWS)]
    pub audit_max_rows: u64,
}

/// `--tls` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TlsMode {
    /// A self-signed certificate kept in the data directory.
    SelfSigned,
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
    /// List an account's API tokens: number and creation time (never the token or its hash).
    List { name: String },
    /// Revoke one of an account's API tokens by its number (see `token list`), or all of them.
    Revoke {
        name: String,
        /// The token's number, as `token list` prints it.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// Revoke every token of the account.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UapiOutput {
    Yaml,
    Json,
    Jsonpretty,
    Xml,
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
    /// The user to act as (cPanel user, user@domain or team@cpuser): `-u USER`,
    /// `--user=USER` or `--user USER`, as cPanel's `uapi` takes it.
    #[arg(short = 'u', long)]
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

impl Cli {
    /// The database the options name: PostgreSQL for a `postgres://` or `postgresql://` URL,
    /// else the SQLite file in the data directory.
    pub fn database(&self) -> Result<Database, String> {
        let Some(url) = &self.database else {
            return Ok(Database::Sqlite);
        };
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(
                "--database takes a postgres:// URL (without it, the data stays in tfa.sqlite3 in the data directory)"
                    .to_owned(),
            );
        }
        Ok(Database::Postgres(PostgresOptions {
            url: url.clone(),
            pool: self.database_pool,
            ca_file: self.database_ca.clone(),
        }))
    }
}

/// An address (one host) or a network in CIDR form.
fn proxy(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("“{text}” is neither an IP address nor a network like 10.0.0.0/24"))
}
