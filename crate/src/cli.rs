//! The `tfa` command line: `serve`, account and token administration, `uapi` and `whmapi1`
//! against the local store (as cPanel's tools do on the box), and cPanel import/export.
//!
//! Output that a person or script reads goes to stdout; logs and notices go to stderr.
//! Passwords are printed only when this program made them up; tokens only once, at creation.

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use axum::http::Method;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::Value;

use tfa::server::auth::{hash_password, new_token, sha256, Caller};
use tfa::server::error::{uapi_failure, uapi_success, uapi_wrapped, whm_envelope, ApiError};
use tfa::server::format::{to_whm_xml, to_yaml};
use tfa::server::{self, AppState, Input, Params};
use tfa::store::{
    check_name, cpanel, Account, AccountKind, Identity, IdentityKind, Principal, Store,
};

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

/// Runs the parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    runtime.block_on(dispatch(cli))
}

fn fail(message: &str) -> ExitCode {
    eprintln!("tfa: {message}");
    ExitCode::from(2)
}

/// Success, or [`fail`] with the error's message.
fn exit_code<E: std::fmt::Display>(result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

async fn dispatch(cli: Cli) -> ExitCode {
    let serving = matches!(cli.command, Command::Serve(_));
    let store = match open_store(&cli.data, serving).await {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let hostname = match resolve_hostname(&store, cli.hostname.as_deref(), serving) {
        Ok(h) => h,
        Err(e) => return fail(&e),
    };
    match cli.command {
        Command::Serve(args) => serve(store, &hostname, args).await,
        Command::Account(cmd) => exit_code(account(&store, cmd)),
        Command::Token(TokenCommand::Create { name }) => exit_code(token_create(&store, &name)),
        Command::Uapi(args) => uapi(AppState::new(store, &hostname, None), args).await,
        Command::Whmapi1(args) => whmapi1(AppState::new(store, &hostname, None), args).await,
        Command::ImportCpanel { dir } => exit_code(cpanel::import(&store, &dir).map(|summary| {
            println!(
                "Imported {} two-factor configuration(s) and {} issuer(s) from {}.",
                summary.configs,
                summary.issuers,
                dir.display()
            );
            if !summary.unknown.is_empty() {
                eprintln!(
                    "tfa: note: no account, address or team user exists yet for: {}",
                    summary.unknown.join(", ")
                );
            }
        })),
        Command::Audit => exit_code(store.audit_events().map(|events| {
            for e in events {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    e.at, e.event, e.identity, e.ip, e.detail
                );
            }
        })),
        Command::ExportCpanel { dir } => exit_code(cpanel::export(&store, &dir).map(|()| {
            println!(
                "Wrote {} and {} (mode 0600) in {}.",
                cpanel::TFA_FILE,
                cpanel::ISSUER_FILE,
                dir.display()
            );
        })),
    }
}

/// Opens the store; on an empty one creates `root` and the cPanel user `demo` and prints their
/// passwords once (stdout when serving, stderr otherwise so scripts' stdout stays clean).
async fn open_store(dir: &Path, serving: bool) -> Result<Store, String> {
    let dir = dir.to_path_buf();
    let store = tokio::task::spawn_blocking(move || Store::open(&dir))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    if store.is_empty().map_err(|e| e.to_string())? {
        let root = NewPassword::read(false)?;
        let demo = NewPassword::read(false)?;
        for (account, password) in [
            (
                Account {
                    name: "root".to_owned(),
                    kind: AccountKind::Root,
                    owner: "root".to_owned(),
                    domain: String::new(),
                },
                &root,
            ),
            (
                Account {
                    name: "demo".to_owned(),
                    kind: AccountKind::User,
                    owner: "root".to_owned(),
                    domain: "demo.example".to_owned(),
                },
                &demo,
            ),
        ] {
            store
                .add_account(&account, &password.hash)
                .map_err(|e| e.to_string())?;
        }
        let (root_pw, demo_pw) = (&root.text, &demo.text);
        let text = format!(
            "Created a new store in {}.\n  root password: {root_pw}\n  demo password: {demo_pw}\nThese passwords are shown only this once.",
            store.path().display()
        );
        if serving {
            println!("{text}");
        } else {
            eprintln!("{text}");
        }
    }
    Ok(store)
}

fn resolve_hostname(store: &Store, given: Option<&str>, remember: bool) -> Result<String, String> {
    if let Some(h) = given {
        check_name(h).map_err(|why| format!("invalid --hostname: {why}"))?;
        if remember {
            store
                .set_setting("hostname", h)
                .map_err(|e| e.to_string())?;
        }
        return Ok(h.to_owned());
    }
    if let Some(h) = store.setting("hostname").map_err(|e| e.to_string())? {
        return Ok(h);
    }
    let system = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    Ok(if system.is_empty() {
        "localhost".to_owned()
    } else {
        system
    })
}

/// A made-up password: 12 random bytes as 16 URL-safe characters.
fn random_password() -> Result<String, ApiError> {
    use base64::Engine;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(server::random_bytes::<12>()?))
}

/// A password for a login, read from stdin or made up, with its hash.
struct NewPassword {
    text: String,
    generated: bool,
    hash: String,
}

impl NewPassword {
    /// The first line of stdin (`--password-stdin`), else a random password.
    fn read(from_stdin: bool) -> Result<NewPassword, String> {
        let (text, generated) = if from_stdin {
            (read_password_line()?, false)
        } else {
            (random_password().map_err(|e| e.reason())?, true)
        };
        let hash = hash_password(&text).map_err(|e| e.reason())?;
        Ok(NewPassword {
            text,
            generated,
            hash,
        })
    }

    /// Prints a made-up password: the only time anyone sees it.
    fn show_if_generated(&self) {
        if self.generated {
            println!("Password: {}", self.text);
        }
    }
}

fn read_password_line() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        return Err("the password read from stdin is empty".to_owned());
    }
    Ok(password)
}

fn account(store: &Store, cmd: AccountCommand) -> Result<(), String> {
    let e = |e: tfa::store::StoreError| e.to_string();
    match cmd {
        AccountCommand::Add {
            name,
            reseller,
            owner,
            domain,
            password_stdin,
        } => {
            check_name(&name).map_err(|why| format!("invalid account name: {why}"))?;
            if name.contains('@') {
                return Err("an account name cannot contain “@”; use `account add-webmail` or `account add-team`".to_owned());
            }
            let domain = domain.unwrap_or_else(|| format!("{name}.example"));
            check_name(&domain).map_err(|why| format!("invalid domain: {why}"))?;
            let password = NewPassword::read(password_stdin)?;
            let kind = if reseller {
                AccountKind::Reseller
            } else {
                AccountKind::User
            };
            store
                .add_account(
                    &Account {
                        name: name.clone(),
                        kind,
                        owner,
                        domain,
                    },
                    &password.hash,
                )
                .map_err(e)?;
            println!(
                "Added {} “{name}”.",
                if reseller {
                    "reseller"
                } else {
                    "cPanel account"
                }
            );
            password.show_if_generated();
        }
        AccountCommand::AddWebmail {
            address,
            password_stdin,
        } => {
            check_name(&address).map_err(|why| format!("invalid address: {why}"))?;
            let Some((local, domain)) = address
                .split_once('@')
                .filter(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'))
            else {
                return Err("a webmail address looks like user@domain".to_owned());
            };
            let owner = store
                .account_by_domain(domain)
                .map_err(e)?
                .ok_or_else(|| format!("no account has the primary domain “{domain}”"))?;
            let password = NewPassword::read(password_stdin)?;
            let identity = Identity {
                name: format!("{local}@{domain}"),
                kind: IdentityKind::Webmail,
                account: owner.name.clone(),
            };
            store.add_identity(&identity, &password.hash).map_err(e)?;
            println!(
                "Added webmail user “{}” of account “{}”.",
                identity.name, owner.name
            );
            password.show_if_generated();
        }
        AccountCommand::AddTeam {
            name,
            account,
            password_stdin,
        } => {
            check_name(&name).map_err(|why| format!("invalid team user name: {why}"))?;
            if name.contains('@') {
                return Err("give the bare team user name; it logs in as NAME@ACCOUNT".to_owned());
            }
            let password = NewPassword::read(password_stdin)?;
            let identity = Identity {
                name: format!("{name}@{account}"),
                kind: IdentityKind::Team,
                account,
            };
            store.add_identity(&identity, &password.hash).map_err(e)?;
            println!("Added team user “{}”.", identity.name);
            password.show_if_generated();
        }
        AccountCommand::SetPassword {
            name,
            password_stdin,
        } => {
            check_name(&name).map_err(|why| format!("invalid name: {why}"))?;
            if store.principal(&name).map_err(e)?.is_none() {
                return Err(format!(
                    "no account, address or team user is named “{name}”"
                ));
            }
            let password = NewPassword::read(password_stdin)?;
            store.set_password(&name, &password.hash).map_err(e)?;
            println!("Set the password of “{name}”.");
            password.show_if_generated();
        }
        AccountCommand::List => {
            for a in store.accounts().map_err(e)? {
                println!(
                    "{}\t{}\towner={}\tdomain={}",
                    a.name,
                    a.kind.as_str(),
                    a.owner,
                    a.domain
                );
                for i in store.identities_of(&a.name).map_err(e)? {
                    println!("  {}\t{}", i.name, i.kind.as_str());
                }
            }
        }
    }
    Ok(())
}

fn token_create(store: &Store, name: &str) -> Result<(), String> {
    check_name(name).map_err(|why| format!("invalid name: {why}"))?;
    if store.account(name).map_err(|e| e.to_string())?.is_none() {
        return Err(format!(
            "no account is named “{name}” (tokens are for accounts)"
        ));
    }
    let token = new_token().map_err(|e| e.reason())?;
    let now = server::system_clock();
    store
        .add_token(name, &sha256(&token), now)
        .map_err(|e| e.to_string())?;
    println!(
        "Created an API token for “{name}”. It is shown only once; the server keeps only its hash:"
    );
    println!("{token}");
    Ok(())
}

/// Parses `key=value` arguments, URI-decoding the values.
fn parse_args(args: &[String]) -> Result<Params, String> {
    let mut pairs = Vec::with_capacity(args.len());
    for arg in args {
        let (k, v) = arg
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| format!("“{arg}” is not a key=value argument"))?;
        let value = percent_encoding::percent_decode_str(v)
            .decode_utf8()
            .map_err(|_| format!("the value of “{k}” is not valid UTF-8 after URI decoding"))?;
        pairs.push((k.to_owned(), value.into_owned()));
    }
    Ok(Params::from_pairs(pairs))
}

/// Request-level errors (unknown module/function) stop a CLI run with a message.
fn is_usage_error(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::UnknownModule(_) | ApiError::UnknownFunction { .. }
    )
}

async fn uapi(state: AppState, args: UapiArgs) -> ExitCode {
    let params = match parse_args(&args.args) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    if check_name(&args.user).is_err() {
        return fail(&format!("invalid user “{}”", args.user.escape_debug()));
    }
    let name = args.user.clone();
    let principal = match state.db(move |s| s.principal(&name)).await {
        Ok(Some(p)) => p,
        Ok(None) => return fail(&format!("no user is named “{}”", args.user)),
        Err(e) => return fail(&e.reason()),
    };
    let caller = Caller { principal };
    let result = server::uapi::call(
        &state,
        &caller,
        "cli",
        &args.module,
        &args.function,
        &params,
    )
    .await;
    let (flat, ok) = match result {
        Ok((data, warnings)) => (uapi_success(data, warnings), true),
        Err(e) if is_usage_error(&e) => return fail(&e.reason()),
        Err(e) => (uapi_failure(&args.function, &e), false),
    };
    let wrapped = uapi_wrapped(&args.module, &args.function, flat);
    let text = match args.output {
        UapiOutput::Yaml => to_yaml(&wrapped),
        UapiOutput::Json => format!("{wrapped}\n"),
        UapiOutput::Jsonpretty => pretty(&wrapped),
    };
    emit(&text, ok)
}

async fn whmapi1(state: AppState, args: WhmArgs) -> ExitCode {
    let params = match parse_args(&args.args) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let json = match &args.json_body {
        None => None,
        Some(path) => match read_body(path) {
            Ok(b) => Some(b.into()),
            Err(e) => return fail(&e),
        },
    };
    let root = match state.db(|s| s.account("root")).await {
        Ok(Some(a)) => a,
        Ok(None) => return fail("the store has no root account"),
        Err(e) => return fail(&e.reason()),
    };
    let caller = Caller {
        principal: Principal::Account(root),
    };
    let input = Input { params, json };
    let result = server::whm::call(
        &state,
        &caller,
        "cli",
        &args.function,
        &Method::POST,
        &input,
    )
    .await;
    if let Err(e) = &result {
        if is_usage_error(e) {
            return fail(&format!(
                "Unknown function “{}”. WHM API 1 functions here: {}",
                args.function,
                server::whm::FUNCTIONS.join(", ")
            ));
        }
    }
    let ok = result.is_ok();
    let envelope = whm_envelope(&args.function, result);
    let text = match args.output {
        WhmOutput::Yaml => to_yaml(&envelope),
        WhmOutput::Json => format!("{envelope}\n"),
        WhmOutput::Jsonpretty => pretty(&envelope),
        WhmOutput::Xml => format!("{}\n", to_whm_xml(&envelope)),
    };
    emit(&text, ok)
}

fn read_body(path: &Path) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    if path == Path::new("-") {
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
    } else {
        buf = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if buf.len() > server::BODY_LIMIT {
        return Err("the JSON body is larger than 64 KiB".to_owned());
    }
    Ok(buf)
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).map_or_else(|_| format!("{v}\n"), |s| format!("{s}\n"))
}

/// Prints the output; exit 0 on success, 1 when the call failed (the envelope says why).
fn emit(text: &str, ok: bool) -> ExitCode {
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return ExitCode::from(2);
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

async fn serve(store: Store, hostname: &str, args: ServeArgs) -> ExitCode {
    let www = args.www.or_else(|| {
        let default = PathBuf::from("www");
        default.join("index.html").exists().then_some(default)
    });
    if let Some(dir) = &www {
        if !dir.is_dir() {
            return fail(&format!("--www {}: not a directory", dir.display()));
        }
    }
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => return fail(&format!("cannot listen on {}: {e}", args.listen)),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => return fail(&format!("cannot read the bound address: {e}")),
    };
    println!("Listening on http://{addr}");
    println!("Log in at http://{addr}/login (root or demo), then enroll on the page it opens.");
    println!("API: curl -u demo:PASSWORD http://{addr}/execute/TwoFactorAuth/generate_user_configuration");
    match &www {
        Some(dir) => tracing::info!(%addr, www = %dir.display(), hostname, "tfa serving"),
        None => {
            tracing::info!(%addr, hostname, "tfa serving (no --www: the enrollment page is not served)")
        }
    }
    let state = AppState::new(store, hostname, www);
    match server::run(listener, state, server::shutdown_signal()).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("server error: {e}")),
    }
}
