//! Import from and export to cPanel's on-disk layout (spec section 5): `tfa_userdata.json`
//! (`{"<2fa user>":{"secret":"…"}}`) and `issuer_userdata.json`
//! (`{"system_wide_issuer":"…","<reseller>":"…"}`).
//!
//! Import validates everything before writing anything and then writes in one transaction;
//! it is idempotent. Secrets must have 16 to 128 base32 characters, as the API requires of
//! chosen secrets. Export writes both files with mode 0600, atomically (temp file + rename).
//! Secrets are never printed.
//!
//! The file's `system_wide_issuer` key is the store's [`SYSTEM_ISSUER_KEY`], both ways; any
//! other key is a reseller's name.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde_json::{Map, Value};

use super::{check_name, Store, StoreError, SYSTEM_ISSUER_KEY};
use crate::core::{normalize_issuer, Secret};

/// cPanel's key of the system-wide issuer in `issuer_userdata.json`.
pub const CPANEL_SYSTEM_ISSUER: &str = "system_wide_issuer";

/// The secrets file.
pub const TFA_FILE: &str = "tfa_userdata.json";
/// The issuers file.
pub const ISSUER_FILE: &str = "issuer_userdata.json";

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// How many 2FA configs were read.
    pub configs: usize,
    /// How many issuer entries were read.
    pub issuers: usize,
    /// 2FA usernames that match no account, address or team user in the store (imported anyway,
    /// as cPanel keeps them too).
    pub unknown: Vec<String>,
}

/// Reads `dir/tfa_userdata.json` (required) and `dir/issuer_userdata.json` (optional), checks
/// every entry, and upserts them all in one transaction.
pub fn import(store: &Store, dir: &Path) -> Result<ImportSummary, StoreError> {
    let tfa_path = dir.join(TFA_FILE);
    let tfa_value = read_json(&tfa_path)?
        .ok_or_else(|| StoreError::Invalid(format!("{} does not exist.", tfa_path.display())))?;
    let issuer_value = read_json(&dir.join(ISSUER_FILE))?.unwrap_or(Value::Object(Map::new()));
    let tfa = parse_tfa(&tfa_value)?;
    let issuers = parse_issuers(&issuer_value)?;
    let (configs, issuer_count) = (tfa.len(), issuers.len());
    // One job: the names the store does not know are those it did not know when importing.
    let unknown = store.write(move |w| {
        let mut unknown = Vec::new();
        for (name, _) in &tfa {
            if w.principal(name)?.is_none() {
                unknown.push(name.clone());
            }
        }
        w.import(&tfa, &issuers)?;
        Ok::<_, StoreError>(unknown)
    })?;
    Ok(ImportSummary {
        configs,
        issuers: issuer_count,
        unknown,
    })
}

/// Writes both files into `dir` (created 0700 if missing), each with mode 0600.
pub fn export(store: &Store, dir: &Path) -> Result<(), StoreError> {
    if !dir.exists() {
        // A new directory is private; an existing one keeps its mode (the files are 0600).
        super::prepare_data_dir(dir)?;
    }
    let (all_tfa, all_issuers) =
        store.read(|r| Ok::<_, StoreError>((r.all_tfa()?, r.all_issuers()?)))?;
    let mut tfa = Map::new();
    for (user, secret) in all_tfa {
        let mut entry = Map::new();
        entry.insert("secret".to_owned(), Value::String(secret));
        tfa.insert(user, Value::Object(entry));
    }
    let mut issuers = Map::new();
    for (key, issuer) in all_issuers {
        let key = if key == SYSTEM_ISSUER_KEY {
            CPANEL_SYSTEM_ISSUER.to_owned()
        } else if key == CPANEL_SYSTEM_ISSUER {
            // The own entry of an account named `system_wide_issuer` (an old store: the name
            // is refused now). cPanel would read it as the system-wide issuer: left out.
            continue;
        } else {
            key
        };
        issuers.insert(key, Value::String(issuer));
    }
    write_private(&dir.join(TFA_FILE), &Value::Object(tfa))?;
    write_private(&dir.join(ISSUER_FILE), &Value::Object(issuers))?;
    Ok(())
}

fn read_json(path: &Path) -> Result<Option<Value>, StoreError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(StoreError::Io {
                path: path.to_path_buf(),
                error,
            })
        }
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        StoreError::Invalid(format!(
            "{} is not valid JSON (line {}, column {}); nothing was imported.",
            path.display(),
            e.line(),
            e.column()
        ))
    })
}

/// `{"<2fa user>":{"secret":"…"}}`: every secret must pass the validator of chosen secrets
/// (base32, 16 to 128 characters); any other key of an entry is dropped, as cPanel does.
fn parse_tfa(value: &Value) -> Result<Vec<(String, String)>, StoreError> {
    parse_object(TFA_FILE, "user", value, |user, entry| {
        let secret = entry
            .get("secret")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("the entry for “{user}” has no “secret” string"))?;
        let secret = Secret::parse_chosen(secret)
            .map_err(|e| format!("the secret for “{user}” is refused: {e}"))?;
        Ok(Some(secret.expose().to_owned()))
    })
}

/// `{"system_wide_issuer":"…","<reseller>":"…"}`, normalised as `twofactorauth_set_issuer`
/// does; an empty issuer is skipped. `system_wide_issuer` becomes [`SYSTEM_ISSUER_KEY`].
fn parse_issuers(value: &Value) -> Result<Vec<(String, String)>, StoreError> {
    let entries = parse_object(ISSUER_FILE, "key", value, |key, issuer| {
        let text = issuer
            .as_str()
            .ok_or_else(|| format!("the issuer for “{key}” is not a string"))?;
        normalize_issuer(text).map_err(|e| format!("the issuer for “{key}”: {e}"))
    })?;
    Ok(entries
        .into_iter()
        .map(|(key, issuer)| {
            if key == CPANEL_SYSTEM_ISSUER {
                (SYSTEM_ISSUER_KEY.to_owned(), issuer)
            } else {
                (key, issuer)
            }
        })
        .collect())
}

/// Reads one of cPanel's files: a top-level object whose keys (each a `what`) pass
/// [`check_name`] and whose entries `read` turns into the stored text (`None` skips one). Any
/// refusal names `file` and says that nothing was imported.
fn parse_object(
    file: &str,
    what: &str,
    value: &Value,
    read: impl Fn(&str, &Value) -> Result<Option<String>, String>,
) -> Result<Vec<(String, String)>, StoreError> {
    let bad = |why: String| StoreError::Invalid(format!("{file}: {why}; nothing was imported."));
    let map = value
        .as_object()
        .ok_or_else(|| bad("the top level must be an object".to_owned()))?;
    let mut out = Vec::with_capacity(map.len());
    for (key, entry) in map {
        check_name(key)
            .map_err(|why| bad(format!("the {what} “{}”: {why}", key.escape_debug())))?;
        if let Some(text) = read(key, entry).map_err(bad)? {
            out.push((key.clone(), text));
        }
    }
    Ok(out)
}

/// Writes JSON to `path` with mode 0600 through a temp file and a rename.
fn write_private(path: &Path, value: &Value) -> Result<(), StoreError> {
    let tmp = path.with_extension("json.tmp");
    let io = |error| StoreError::Io {
        path: path.to_path_buf(),
        error,
    };
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    let text = serde_json::to_string(value)
        .map_err(|e| StoreError::Invalid(format!("cannot encode JSON: {e}")))?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}
