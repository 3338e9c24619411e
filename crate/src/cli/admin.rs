//! Administration on the box: opening (and seeding) the store, the hostname, accounts,
//! webmail addresses and team users with their passwords, and API tokens (create, list,
//! revoke).
//!
//! Passwords are printed only when this program made them up; tokens only once, at creation.

use std::io::BufRead;
use std::path::Path;

use tfa::server::auth::{hash_password, new_token, sha256};
use tfa::server::{self, ApiError};
use tfa::store::{
    check_account_name, check_name, Account, AccountKind, Database, Identity, IdentityKind, Store,
    StoreError,
};

use super::args::AccountCommand;
use super::error::{usage, CliError};

/// Opens the store; on an empty one creates `root` and the cPanel user `demo` and prints their
/// passwords once (stdout when serving, stderr otherwise so scripts' stdout stays clean).
pub async fn open_store(
    database: Database,
    dir: &Path,
    key_file: Option<&Path>,
    serving: bool,
) -> Result<Store, CliError> {
    let dir = dir.to_path_buf();
    let key_file = key_file.map(Path::to_path_buf);
    let store = tokio::task::spawn_blocking(move || {
        Store::open_database(&database, &dir, key_file.as_deref())
    })
    .await
    .map_err(|e| CliError::Io(e.to_string()))??;
    if store.read(|r| r.is_empty())? {
        let root = NewPassword::read(false)?;
        let demo = NewPassword::read(false)?;
        let accounts = [
            (
                Account {
                    name: "root".to_owned(),
                    kind: AccountKind::Root,
                    owner: "root".to_owned(),
                    domain: String::new(),
                },
                root.hash.clone(),
            ),
            (
                Account {
                    name: "demo".to_owned(),
                    kind: AccountKind::User,
                    owner: "root".to_owned(),
                    domain: "demo.example".to_owned(),
                },
                demo.hash.clone(),
            ),
        ];
        // One job that checks and fills: of instances started together on one new
        // database, only the first makes the accounts (and shows their passwords).
        let made = store.write(move |w| {
            w.hold_accounts()?;
            if !w.is_empty()? {
                return Ok::<_, StoreError>(false);
            }
            for (account, hash) in &accounts {
                w.add_account(account, hash)?;
            }
            Ok(true)
        })?;
        if !made {
            return Ok(store);
        }
        let (root_pw, demo_pw) = (&root.text, &demo.text);
        let text = format!(
            "Created a new store in {}.\n  root password: {root_pw}\n  demo password: {demo_pw}\nThese passwords are shown only this once.",
            store.location()
        );
        if serving {
            println!("{text}");
        } else {
            eprintln!("{text}");
        }
    }
    Ok(store)
}

pub fn resolve_hostname(
    store: &Store,
    given: Option<&str>,
    remember: bool,
) -> Result<String, CliError> {
    if let Some(h) = given {
        check_name(h).map_err(|why| usage(format!("invalid --hostname: {why}")))?;
        if remember {
            let h = h.to_owned();
            store.write(move |w| w.set_setting("hostname", &h))?;
        }
        return Ok(h.to_owned());
    }
    if let Some(h) = store.read(|r| r.setting("hostname"))? {
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
    fn read(from_stdin: bool) -> Result<NewPassword, CliError> {
        let (text, generated) = if from_stdin {
            (read_password_line()?, false)
        } else {
            (random_password()?, true)
        };
        let hash = hash_password(&text)?;
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

fn read_password_line() -> Result<String, CliError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Io(format!("cannot read the password from stdin: {e}")))?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        return Err(usage("the password read from stdin is empty"));
    }
    Ok(password)
}

pub fn account(store: &Store, cmd: AccountCommand) -> Result<(), CliError> {
    match cmd {
        AccountCommand::Add {
            name,
            reseller,
            owner,
            domain,
            password_stdin,
        } => {
            if name.contains('@') {
                return Err(usage("an account name cannot contain “@”; use `account add-webmail` or `account add-team`"));
            }
            // cPanel's username rules, for resellers as for cPanel users (the store checks
            // again).
            check_account_name(&name)
                .map_err(|why| usage(format!("invalid account name: {why}")))?;
            let domain = domain.unwrap_or_else(|| format!("{name}.example"));
            check_name(&domain).map_err(|why| usage(format!("invalid domain: {why}")))?;
            let password = NewPassword::read(password_stdin)?;
            let kind = if reseller {
                AccountKind::Reseller
            } else {
                AccountKind::User
            };
            let account = Account {
                name: name.clone(),
                kind,
                owner,
                domain,
            };
            let hash = password.hash.clone();
            store.write(move |w| w.add_account(&account, &hash))?;
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
            check_name(&address).map_err(|why| usage(format!("invalid address: {why}")))?;
            let Some((local, domain)) = address
                .split_once('@')
                .filter(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'))
            else {
                return Err(usage("a webmail address looks like user@domain"));
            };
            let owner = store
                .read(|r| r.account_by_domain(domain))?
                .ok_or_else(|| usage(format!("no account has the primary domain “{domain}”")))?;
            let password = NewPassword::read(password_stdin)?;
            let identity = Identity {
                name: format!("{local}@{domain}"),
                kind: IdentityKind::Webmail,
                account: owner.name.clone(),
            };
            add_identity(store, &identity, &password)?;
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
            check_name(&name).map_err(|why| usage(format!("invalid team user name: {why}")))?;
            if name.contains('@') {
                return Err(usage(
                    "give the bare team user name; it logs in as NAME@ACCOUNT",
                ));
            }
            let password = NewPassword::read(password_stdin)?;
            let identity = Identity {
                name: format!("{name}@{account}"),
                kind: IdentityKind::Team,
                account,
            };
            add_identity(store, &identity, &password)?;
            println!("Added team user “{}”.", identity.name);
            password.show_if_generated();
        }
        AccountCommand::SetPassword {
            name,
            password_stdin,
        } => {
            check_name(&name).map_err(|why| usage(format!("invalid name: {why}")))?;
            if store.read(|r| r.principal(&name))?.is_none() {
                return Err(usage(format!(
                    "no account, address or team user is named “{name}”"
                )));
            }
            let password = NewPassword::read(password_stdin)?;
            let (who, hash) = (name.clone(), password.hash.clone());
            store.write(move |w| w.set_password(&who, &hash))?;
            println!("Set the password of “{name}”; its browser sessions have ended.");
            password.show_if_generated();
        }
        AccountCommand::List => {
            let listing = store.read(|r| {
                r.accounts()?
                    .into_iter()
                    .map(|a| Ok((r.identities_of(&a.name)?, a)))
                    .collect::<Result<Vec<_>, StoreError>>()
            })?;
            for (identities, a) in listing {
                println!(
                    "{}\t{}\towner={}\tdomain={}",
                    a.name,
                    a.kind.as_str(),
                    a.owner,
                    a.domain
                );
                for i in identities {
                    println!("  {}\t{}", i.name, i.kind.as_str());
                }
            }
        }
    }
    Ok(())
}

pub fn token_create(store: &Store, name: &str) -> Result<(), CliError> {
    token_account(store, name)?;
    let token = new_token()?;
    let (now, owner, hash) = (server::system_clock(), name.to_owned(), sha256(&token));
    store.write(move |w| w.add_token(&owner, &hash, now))?;
    println!(
        "Created an API token for “{name}”. It is shown only once; the server keeps only its hash:"
    );
    println!("{token}");
    Ok(())
}

/// The account a token command is about: it must exist (tokens are for accounts).
fn token_account(store: &Store, name: &str) -> Result<(), CliError> {
    check_name(name).map_err(|why| usage(format!("invalid name: {why}")))?;
    if store.read(|r| r.account(name))?.is_none() {
        return Err(usage(format!(
            "no account is named “{name}” (tokens are for accounts)"
        )));
    }
    Ok(())
}

/// `token list NAME`: one line per token, `ID<TAB>CREATED_UNIX<TAB>CREATED_UTC`, oldest first.
pub fn token_list(store: &Store, name: &str) -> Result<(), CliError> {
    token_account(store, name)?;
    for t in store.read(|r| r.tokens_of(name))? {
        println!("{}\t{}\t{}", t.id, t.created, utc(t.created));
    }
    Ok(())
}

/// `token revoke NAME ID` (`id` given) or `token revoke NAME --all` (`id` is `None`). The
/// next request with a revoked token is refused.
pub fn token_revoke(store: &Store, name: &str, id: Option<i64>) -> Result<(), CliError> {
    token_account(store, name)?;
    let owner = name.to_owned();
    match id {
        Some(id) => {
            if !store.write(move |w| w.revoke_token(&owner, id))? {
                return Err(usage(format!(
                    "“{name}” has no token {id} (see `tfa token list {name}`)"
                )));
            }
            println!("Revoked token {id} of “{name}”.");
        }
        None => {
            let n = store.write(move |w| w.revoke_tokens(&owner))?;
            println!("Revoked {n} token(s) of “{name}”.");
        }
    }
    Ok(())
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
fn utc(secs: u64) -> String {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil, on days since 1970-01-01 shifted to an era of 0000-03-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

fn add_identity(
    store: &Store,
    identity: &Identity,
    password: &NewPassword,
) -> Result<(), CliError> {
    let (identity, hash) = (identity.clone(), password.hash.clone());
    Ok(store.write(move |w| w.add_identity(&identity, &hash))?)
}
