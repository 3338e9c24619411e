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
    /// How many 2FA usernames match no account, address or team user in the store (imported
    /// anyway, as cPanel keeps them too).
    pub unknown: usize,
    /// The first [`UNKNOWN_SHOWN`] of them, in the file's order: enough to see what is wrong,
    /// never a list of a million names.
    pub unknown_first: Vec<String>,
}

/// How many unknown names an import reports by name.
pub const UNKNOWN_SHOWN: usize = 10;

/// Reads `dir/tfa_userdata.json` (required) and `dir/issuer_userdata.json` (optional), checks
/// every entry, and upserts them all in one transaction.
///
/// Built for a million users: each file is parsed entry by entry from its bytes (no tree of
/// values), the names the store knows are read once, and the store seals and writes every
/// entry in one job with cached statements.
pub fn import(store: &Store, dir: &Path) -> Result<ImportSummary, StoreError> {
    let tfa_path = dir.join(TFA_FILE);
    let tfa = read_entries(&tfa_path, "user", EntryReader::Secret)?
        .ok_or_else(|| StoreError::Invalid(format!("{} does not exist.", tfa_path.display())))?;
    let issuers = parse_issuers(
        read_entries(
            &dir.join(ISSUER_FILE),
            "key",
            EntryReader::Value(read_issuer_entry),
        )?
        .unwrap_or_default(),
    );
    let (configs, issuer_count) = (tfa.len(), issuers.len());
    // One job: the names the store does not know are those it did not know when importing.
    let unknown = store.write(move |w| {
        let known = w.principal_names()?;
        let mut unknown = tfa
            .iter()
            .filter(|(name, _)| !known.contains(name.as_str()))
            .map(|(name, _)| name);
        let first: Vec<String> = unknown.by_ref().take(UNKNOWN_SHOWN).cloned().collect();
        let count = first.len() + unknown.count();
        w.import(&tfa, &issuers)?;
        Ok::<_, StoreError>((count, first))
    })?;
    Ok(ImportSummary {
        configs,
        issuers: issuer_count,
        unknown: unknown.0,
        unknown_first: unknown.1,
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

/// An `issuer_userdata.json` entry, normalised as `twofactorauth_set_issuer` does.
fn read_issuer_entry(key: &str, issuer: &Value) -> Result<Option<String>, String> {
    let text = issuer
        .as_str()
        .ok_or_else(|| format!("the issuer for “{key}” is not a string"))?;
    normalize_issuer(text).map_err(|e| format!("the issuer for “{key}”: {e}"))
}

/// `system_wide_issuer` becomes [`SYSTEM_ISSUER_KEY`]; an empty issuer was skipped already.
fn parse_issuers(entries: Vec<(String, String)>) -> Vec<(String, String)> {
    entries
        .into_iter()
        .map(|(key, issuer)| {
            if key == CPANEL_SYSTEM_ISSUER {
                (SYSTEM_ISSUER_KEY.to_owned(), issuer)
            } else {
                (key, issuer)
            }
        })
        .collect()
}

/// What reads one entry of a file into its stored text (`None` skips it).
type ReadEntry = fn(&str, &Value) -> Result<Option<String>, String>;

/// How a file's entries are read: a secrets entry straight from the parser (a million of
/// them: no `Value` tree each), an issuer through a `Value` (a handful).
#[derive(Clone, Copy)]
enum EntryReader {
    Secret,
    Value(ReadEntry),
}

/// One `{"secret": …}` entry as the parser meets it: the `secret` string if there is one
/// (`Ok(None)` when the entry is no object or its `secret` is no string); other keys skipped
/// unread.
struct SecretEntry;

impl<'de> serde::de::DeserializeSeed<'de> for SecretEntry {
    type Value = Option<String>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for SecretEntry {
    type Value = Option<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an entry")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut secret = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "secret" {
                // The last `secret` wins, as in a JSON object read whole.
                secret = match map.next_value::<Value>()? {
                    Value::String(text) => Some(text),
                    _ => None,
                };
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(secret)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A secrets entry's stored text: the secret must pass the validator of chosen secrets
/// (base32, 16 to 128 characters).
fn check_secret(user: &str, secret: Option<String>) -> Result<Option<String>, String> {
    let secret = secret.ok_or_else(|| format!("the entry for “{user}” has no “secret” string"))?;
    let secret = Secret::parse_chosen(&secret)
        .map_err(|e| format!("the secret for “{user}” is refused: {e}"))?;
    Ok(Some(secret.expose().to_owned()))
}

/// Reads one of cPanel's files (`None` when it does not exist): a top-level object whose keys
/// (each a `what`) pass [`check_name`] and whose entries `read` turns into the stored text.
/// Parsed entry by entry from the bytes. Any refusal names the file and says that nothing was
/// imported.
fn read_entries(
    path: &Path,
    what: &'static str,
    read: EntryReader,
) -> Result<Option<Vec<(String, String)>>, StoreError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(StoreError::Io {
                path: path.to_path_buf(),
                error,
            })
        }
    };
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let bad = |why: String| StoreError::Invalid(format!("{file}: {why}; nothing was imported."));
    let not_json = |e: serde_json::Error| {
        StoreError::Invalid(format!(
            "{} is not valid JSON (line {}, column {}); nothing was imported.",
            path.display(),
            e.line(),
            e.column()
        ))
    };
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        // Still a JSON syntax error first, as before: only valid JSON is "not an object".
        serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).map_err(not_json)?;
        return Err(bad("the top level must be an object".to_owned()));
    }
    let refusal = std::cell::RefCell::new(None);
    let seed = Entries {
        what,
        size_hint: bytes.len() / 40,
        read,
        refusal: &refusal,
    };
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let parsed = serde::de::DeserializeSeed::deserialize(seed, &mut de).and_then(|v| {
        de.end()?;
        Ok(v)
    });
    match (parsed, refusal.into_inner()) {
        (_, Some(why)) => Err(bad(why)),
        (Ok(entries), None) => Ok(Some(entries)),
        (Err(e), None) => Err(not_json(e)),
    }
}

/// The streaming reader of [`read_entries`]: checks each key and reads each entry as it comes;
/// the first refusal is kept in `refusal` (its words, without serde's position suffix).
struct Entries<'a> {
    what: &'static str,
    /// About how many entries the file holds.
    size_hint: usize,
    read: EntryReader,
    refusal: &'a std::cell::RefCell<Option<String>>,
}

impl<'de> serde::de::DeserializeSeed<'de> for Entries<'_> {
    type Value = Vec<(String, String)>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Entries<'_> {
    type Value = Vec<(String, String)>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error as _;
        // The parser cannot say how many entries follow; the file's size can, roughly (an
        // entry of cPanel's file takes 40 bytes or more), so the list is not regrown and
        // copied twenty times on the way to a million.
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(self.size_hint));
        while let Some(key) = map.next_key::<String>()? {
            let named = check_name(&key)
                .map_err(|why| format!("the {} “{}”: {why}", self.what, key.escape_debug()));
            let outcome = match self.read {
                EntryReader::Secret => {
                    let secret = map.next_value_seed(SecretEntry)?;
                    named.and_then(|()| check_secret(&key, secret))
                }
                EntryReader::Value(read) => {
                    let entry: Value = map.next_value()?;
                    named.and_then(|()| read(&key, &entry))
                }
            };
            match outcome {
                Ok(Some(text)) => out.push((key, text)),
                Ok(None) => {}
                Err(why) => {
                    *self.refusal.borrow_mut() = Some(why);
                    return Err(A::Error::custom("refused"));
                }
            }
        }
        Ok(out)
    }
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
