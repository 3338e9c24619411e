//! Secrets at rest: every TOTP secret is stored sealed with XChaCha20-Poly1305 under a 256-bit
//! key kept in a key file (mode 0600, beside the database unless `--key-file` says otherwise).
//!
//! - Stored form: `v1:` + base64(24-byte random nonce ‖ ciphertext ‖ tag). The 2FA username is
//!   the associated data, so a row copied to another username does not open.
//! - The store keeps a key check in its settings ([`KEY_CHECK_SETTING`]): a fixed label sealed
//!   under the key. It tells the right key from a wrong one before anything is read or written.
//! - The key file holds the key as one base64 line, so that it can be printed or copied into
//!   a password manager as a backup.
//! - Rotation ([`Rotation`]) writes the new key to `<key file>.new` before the store is
//!   re-encrypted and swaps the files only after the commit; [`resolve`] finishes a swap that
//!   a crash interrupted, so the store always starts with one of the two keys.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use super::StoreError;

/// The key file's name beside the database when no `--key-file` is given.
pub const KEY_FILE: &str = "tfa.key";
/// The settings key of the key check.
pub const KEY_CHECK_SETTING: &str = "key_check";
/// The prefix of a sealed secret (the format's version).
const SEALED_PREFIX: &str = "v1:";
/// The associated data of the key check: a slash, which no 2FA username can hold.
const CHECK_AAD: &str = "/key-check";
/// What the key check seals.
const CHECK_LABEL: &[u8] = b"tfa secrets key v1";
const NONCE_LEN: usize = 24;

/// A 256-bit key, wiped from memory when dropped.
pub struct Key {
    bytes: Zeroizing<[u8; 32]>,
}

impl Key {
    /// A new random key from the OS.
    pub fn generate() -> Key {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes.copy_from_slice(&key);
        Key { bytes }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.bytes.as_ref().into())
    }

    /// Seals `plain` for `username` (a fresh random nonce each time).
    pub fn seal(&self, username: &str, plain: &str) -> Result<String, StoreError> {
        self.seal_bytes(username, plain.as_bytes())
    }

    fn seal_bytes(&self, aad: &str, plain: &[u8]) -> Result<String, StoreError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        seal_with(&self.cipher(), &nonce, aad, plain)
    }

    /// A sealer for many secrets in a row (an import): see [`Sealer`].
    pub fn sealer(&self) -> Sealer {
        let random = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut prefix = [0u8; NONCE_LEN - 8];
        prefix.copy_from_slice(&random[..NONCE_LEN - 8]);
        Sealer {
            cipher: self.cipher(),
            prefix,
            counter: 0,
        }
    }

    /// Opens a sealed secret of `username`; `None` if this key (or this username) does not
    /// open it.
    pub fn open(&self, username: &str, stored: &str) -> Option<String> {
        let plain = self.open_bytes(username, stored)?;
        String::from_utf8(plain.to_vec()).ok()
    }

    fn open_bytes(&self, aad: &str, stored: &str) -> Option<Zeroizing<Vec<u8>>> {
        let blob = STANDARD.decode(stored.strip_prefix(SEALED_PREFIX)?).ok()?;
        if blob.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        self.cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: aad.as_bytes(),
                },
            )
            .ok()
            .map(Zeroizing::new)
    }

    /// A new key check value for this key.
    pub fn check_value(&self) -> Result<String, StoreError> {
        self.seal_bytes(CHECK_AAD, CHECK_LABEL)
    }

    /// True when `check` is a key check made with this key.
    pub fn matches(&self, check: &str) -> bool {
        self.open_bytes(CHECK_AAD, check)
            .is_some_and(|label| label.as_slice() == CHECK_LABEL)
    }

    fn file_text(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("{}\n", STANDARD.encode(self.bytes.as_ref())))
    }

    fn from_file_text(text: &str) -> Option<Key> {
        let decoded = Zeroizing::new(STANDARD.decode(text.trim()).ok()?);
        let mut bytes = Zeroizing::new([0u8; 32]);
        if decoded.len() != bytes.len() {
            return None;
        }
        bytes.copy_from_slice(&decoded);
        Some(Key { bytes })
    }
}

/// The settings key of the recovery-code pepper, stored sealed under the key with
/// [`PEPPER_AAD`] (so a key rotation re-seals it like a secret, and a copy of the database
/// without the key file cannot test guesses offline).
pub const PEPPER_SETTING: &str = "/recovery_pepper";
/// The associated data of the sealed pepper: a slash, which no 2FA username can hold.
pub const PEPPER_AAD: &str = "/recovery-pepper";

/// The stored form of a recovery code: HMAC-SHA256 under the store's pepper of the 2FA
/// username and the code's canonical symbols. A code has 50 random bits, too few for an
/// unkeyed fast hash to resist a stolen database; keyed by a secret that lives only in the
/// key file's domain, a dump alone tests nothing. The username binds a hash to its owner.
pub fn recovery_hash(
    pepper: &[u8],
    username: &str,
    canonical: &str,
) -> Result<[u8; 32], StoreError> {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(pepper)
        .map_err(|_| StoreError::Corrupt("the recovery-code pepper is unusable".to_owned()))?;
    mac.update(username.as_bytes());
    mac.update(&[0]);
    mac.update(canonical.as_bytes());
    Ok(mac.finalize().into_bytes().into())
}

/// Seals `plain` under `nonce` with `aad`: the stored form, `v1:` + base64(nonce ‖ sealed).
fn seal_with(
    cipher: &XChaCha20Poly1305,
    nonce: &XNonce,
    aad: &str,
    plain: &[u8],
) -> Result<String, StoreError> {
    let sealed = cipher
        .encrypt(
            nonce,
            Payload {
                msg: plain,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| StoreError::Corrupt("a secret could not be encrypted".to_owned()))?;
    let mut blob = Vec::with_capacity(NONCE_LEN + sealed.len());
    blob.extend_from_slice(nonce);
    blob.extend_from_slice(&sealed);
    let mut out = String::with_capacity(SEALED_PREFIX.len() + blob.len().div_ceil(3) * 4);
    out.push_str(SEALED_PREFIX);
    STANDARD.encode_string(blob, &mut out);
    Ok(out)
}

/// Seals a run of secrets under one key: the nonce is 16 random bytes drawn once, then an
/// 8-byte counter. XChaCha20-Poly1305 needs only that no nonce repeats under a key; a fresh
/// random prefix per sealer (2^128 of them) and a counter within it guarantee that, and a
/// million secrets cost one call for randomness instead of a million.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    prefix: [u8; NONCE_LEN - 8],
    counter: u64,
}

impl Sealer {
    /// Seals `plain` for `username`, as [`Key::seal`] does.
    pub fn seal(&mut self, username: &str, plain: &str) -> Result<String, StoreError> {
        let mut nonce = XNonce::default();
        nonce[..NONCE_LEN - 8].copy_from_slice(&self.prefix);
        nonce[NONCE_LEN - 8..].copy_from_slice(&self.counter.to_be_bytes());
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or_else(|| StoreError::Corrupt("a sealer ran out of nonces".to_owned()))?;
        seal_with(&self.cipher, &nonce, username, plain.as_bytes())
    }
}

/// True when a stored secret is in the sealed form (otherwise it is plaintext from before
/// secrets were encrypted).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED_PREFIX)
}

/// The key file and its two rotation companions.
#[derive(Debug, Clone)]
pub struct KeyFiles {
    /// The key file itself.
    pub path: PathBuf,
}

impl KeyFiles {
    /// `key_file`, or [`KEY_FILE`] in the data directory.
    pub fn new(dir: &Path, key_file: Option<&Path>) -> KeyFiles {
        KeyFiles {
            path: key_file.map_or_else(|| dir.join(KEY_FILE), Path::to_path_buf),
        }
    }

    /// `<key file>.new`: the next key, written before a rotation commits.
    pub fn new_path(&self) -> PathBuf {
        suffixed(&self.path, ".new")
    }

    /// `<key file>.old`: the previous key, kept until the new one is in place.
    pub fn old_path(&self) -> PathBuf {
        suffixed(&self.path, ".old")
    }

    fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut text = path.as_os_str().to_owned();
    text.push(suffix);
    PathBuf::from(text)
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |error| StoreError::Io {
        path: path.to_path_buf(),
        error,
    }
}

fn refuse(path: &Path, why: impl Into<String>) -> StoreError {
    StoreError::Key {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

/// Reads a key file: `None` if it does not exist. A file that is not a key is refused (it is
/// never replaced).
fn read_key(path: &Path) -> Result<Option<Key>, StoreError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => Zeroizing::new(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    let key = Key::from_file_text(&text)
        .ok_or_else(|| refuse(path, "is not a tfa key file (one base64 line of 32 bytes)"))?;
    Ok(Some(key))
}

/// The key file in use, if readable by others (copied in, restored from a backup), is
/// tightened to 0600; only once it has proven to be this store's key, so that a refused file
/// is left as it was.
fn tighten(path: &Path) -> Result<(), StoreError> {
    let mode = std::fs::metadata(path)
        .map_err(io(path))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io(path))?;
    }
    Ok(())
}

/// A candidate that does not parse counts as absent (a half-written `.new` after a crash).
fn read_candidate(path: &Path) -> Option<Key> {
    read_key(path).ok().flatten()
}

/// Writes `key` to a new file at `path` (mode 0600 from the first byte), syncs it and its
/// directory. Fails if the file exists.
fn write_key_file(path: &Path, dir: &Path, key: &Key) -> Result<(), StoreError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    file.write_all(key.file_text().as_bytes())
        .map_err(io(path))?;
    file.sync_all().map_err(io(path))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(path)(e)),
    }
}

/// What the database says about its key before it is opened for use.
pub struct Evidence {
    /// The stored key check, if any.
    pub check: Option<String>,
    /// One sealed secret (username, stored form), if any: the proof of a key for a store
    /// that has sealed secrets but lost its key check.
    pub sealed: Option<(String, String)>,
}

/// The key of a store, and whether its key check must (still) be recorded.
pub struct Resolved {
    pub key: Key,
    pub record_check: bool,
}

/// Finds the store's key among the key file, `.new` and `.old`, finishing an interrupted
/// rotation; makes the key file for a store without encrypted secrets that has none. Refuses,
/// naming the key file, when the store has encrypted secrets and no key opens them. Changes
/// no file when it refuses.
pub fn resolve(files: &KeyFiles, evidence: &Evidence) -> Result<Resolved, StoreError> {
    let proves = |key: &Key| match (&evidence.check, &evidence.sealed) {
        (Some(check), _) => key.matches(check),
        (None, Some((user, stored))) => key.open(user, stored).is_some(),
        (None, None) => true,
    };
    let record_check = evidence.check.is_none();
    let main = read_key(&files.path)?;
    if let Some(key) = main {
        if proves(&key) {
            // Leftovers of a rotation that either never committed (`.new`) or finished
            // (`.old`): the store does not need them.
            remove_if_present(&files.new_path())?;
            remove_if_present(&files.old_path())?;
            tighten(&files.path)?;
            return Ok(Resolved { key, record_check });
        }
        if let Some(key) = read_candidate(&files.new_path()).filter(|k| proves(k)) {
            // A rotation committed and crashed before the swap: finish it.
            let old = files.old_path();
            remove_if_present(&old)?;
            std::fs::hard_link(&files.path, &old).map_err(io(&old))?;
            std::fs::rename(files.new_path(), &files.path).map_err(io(&files.path))?;
            sync_dir(&files.dir())?;
            remove_if_present(&old)?;
            sync_dir(&files.dir())?;
            return Ok(Resolved { key, record_check });
        }
        if let Some(key) = read_candidate(&files.old_path()).filter(|k| proves(k)) {
            // The store is older than its key file (restored from a backup?): use the old
            // key and leave the files as they are for the administrator.
            return Ok(Resolved { key, record_check });
        }
        return Err(refuse(
            &files.path,
            "is not the key of this store's encrypted secrets; tfa will not start with it \
             (restore the right key file, or give it with --key-file / TFA_KEY_FILE)",
        ));
    }
    if evidence.check.is_some() || evidence.sealed.is_some() {
        for candidate in [files.new_path(), files.old_path()] {
            if let Some(key) = read_candidate(&candidate).filter(|k| proves(k)) {
                std::fs::rename(&candidate, &files.path).map_err(io(&files.path))?;
                sync_dir(&files.dir())?;
                return Ok(Resolved { key, record_check });
            }
        }
        return Err(refuse(
            &files.path,
            "does not exist, and this store's secrets are encrypted: tfa will not start \
             without its key (restore the key file from your backup, or give it with \
             --key-file / TFA_KEY_FILE)",
        ));
    }
    // No encrypted secret yet: a new key, on disk before anything is sealed with it.
    let key = Key::generate();
    write_key_file(&files.path, &files.dir(), &key)?;
    Ok(Resolved {
        key,
        record_check: true,
    })
}

/// The key a store uses now, with the key check it was proven against. A rotation made by
/// another process (the CLI beside a running server) changes the stored check: the holder
/// notices and loads the new key from the files.
pub struct KeyRing {
    files: KeyFiles,
    current: RwLock<Arc<ProvenKey>>,
}

/// A key and the stored key check it matches.
pub struct ProvenKey {
    pub key: Key,
    pub check: String,
}

impl KeyRing {
    pub fn new(files: KeyFiles, key: Key, check: String) -> KeyRing {
        KeyRing {
            files,
            current: RwLock::new(Arc::new(ProvenKey { key, check })),
        }
    }

    pub fn files(&self) -> &KeyFiles {
        &self.files
    }

    /// The key in use.
    pub fn current(&self) -> Result<Arc<ProvenKey>, StoreError> {
        Ok(Arc::clone(
            &*self.current.read().map_err(|_| StoreError::Poisoned)?,
        ))
    }

    /// The key that matches `check` (the store's key check now): the one in use, or one
    /// loaded from the key file or its `.new` (a rotation by another process).
    pub fn for_check(&self, check: &str) -> Result<Arc<ProvenKey>, StoreError> {
        let current = self.current()?;
        if current.check == check || current.key.matches(check) {
            return Ok(current);
        }
        for path in [self.files.path.clone(), self.files.new_path()] {
            if let Some(key) = read_candidate(&path).filter(|k| k.matches(check)) {
                let proven = Arc::new(ProvenKey {
                    key,
                    check: check.to_owned(),
                });
                *self.current.write().map_err(|_| StoreError::Poisoned)? = Arc::clone(&proven);
                return Ok(proven);
            }
        }
        Err(refuse(
            &self.files.path,
            "no longer matches this store's key check (was the key rotated or replaced?)",
        ))
    }

    /// Puts a key in use (after this process rotated the store to it).
    pub fn replace(&self, key: Key, check: String) -> Result<(), StoreError> {
        *self.current.write().map_err(|_| StoreError::Poisoned)? =
            Arc::new(ProvenKey { key, check });
        Ok(())
    }
}

/// One key rotation: the new key is on disk as `.new` (synced) before the store is
/// re-encrypted; [`Rotation::finish`] swaps the files once that has committed.
pub struct Rotation {
    files: KeyFiles,
}

impl Rotation {
    /// Writes a new key to `<key file>.new` (0600, synced) and returns it.
    pub fn begin(files: &KeyFiles) -> Result<(Rotation, Key), StoreError> {
        let key = Key::generate();
        let new = files.new_path();
        remove_if_present(&new)?;
        write_key_file(&new, &files.dir(), &key)?;
        Ok((
            Rotation {
                files: files.clone(),
            },
            key,
        ))
    }

    /// After the commit: the old key file is kept as `.old` (a hard link) while `.new` is
    /// renamed over the key file, then `.old` is removed.
    pub fn finish(self) -> Result<(), StoreError> {
        let (path, old, dir) = (&self.files.path, self.files.old_path(), self.files.dir());
        remove_if_present(&old)?;
        std::fs::hard_link(path, &old).map_err(io(&old))?;
        sync_dir(&dir)?;
        std::fs::rename(self.files.new_path(), path).map_err(io(path))?;
        sync_dir(&dir)?;
        remove_if_present(&old)?;
        sync_dir(&dir)
    }

    /// The rotation did not commit: the store keeps the old key, `.new` goes.
    pub fn abandon(self) -> Result<(), StoreError> {
        remove_if_present(&self.files.new_path())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_sealed_secret_opens_for_its_username_only() {
        let key = Key::generate();
        let sealed = key.seal("alice", "JBSWY3DPEHPK3PXP").unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_eq!(key.open("alice", &sealed).unwrap(), "JBSWY3DPEHPK3PXP");
        assert_eq!(key.open("bob", &sealed), None);
        assert_eq!(Key::generate().open("alice", &sealed), None);
        // A fresh nonce each time.
        assert_ne!(sealed, key.seal("alice", "JBSWY3DPEHPK3PXP").unwrap());
        // A sealer's output opens like any other, and never repeats a nonce.
        let mut sealer = key.sealer();
        let (a, b) = (
            sealer.seal("alice", "JBSWY3DPEHPK3PXP").unwrap(),
            sealer.seal("alice", "JBSWY3DPEHPK3PXP").unwrap(),
        );
        assert_ne!(a, b);
        assert_eq!(key.open("alice", &a).as_deref(), Some("JBSWY3DPEHPK3PXP"));
        assert_eq!(key.open("alice", &b).as_deref(), Some("JBSWY3DPEHPK3PXP"));
        assert_eq!(key.open("bob", &a), None);
    }

    #[test]
    fn the_key_check_tells_the_right_key() {
        let key = Key::generate();
        let check = key.check_value().unwrap();
        assert!(key.matches(&check));
        assert!(!Key::generate().matches(&check));
        // A check is not a secret of any username.
        assert_eq!(key.open("alice", &check), None);
    }

    #[test]
    fn a_key_file_round_trips() {
        let key = Key::generate();
        let back = Key::from_file_text(&key.file_text()).unwrap();
        assert_eq!(*back.bytes, *key.bytes);
        assert!(Key::from_file_text("not a key").is_none());
    }
}
