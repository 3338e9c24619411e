//! Recovery codes: one row per unused code, holding only its keyed hash
//! ([`crate::store::crypto::recovery_hash`]); the pepper that keys it is stored sealed under
//! the secrets key. A used code's row is deleted in the statement that accepts it, so a code
//! works once however many requests race with it.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{change, one, rows, Reader, Writer};
use crate::store::crypto::{recovery_hash, Key, PEPPER_AAD, PEPPER_SETTING};
use crate::store::StoreError;

const COUNT: &str = "SELECT COUNT(*) FROM recovery_codes WHERE username = ?1";
const HASHES: &str = "SELECT id, hash FROM recovery_codes WHERE username = ?1";
const INSERT: &str = "INSERT INTO recovery_codes (username, hash) VALUES (?1, ?2)";
const DELETE_ONE: &str = "DELETE FROM recovery_codes WHERE id = ?1";
const DELETE_ALL: &str = "DELETE FROM recovery_codes WHERE username = ?1";

#[cfg(test)]
pub(super) const LOOKUPS: &[&str] = &[COUNT, HASHES, INSERT, DELETE_ONE, DELETE_ALL];
#[cfg(test)]
pub(super) const LISTINGS: &[&str] = &[];

/// Pepper bytes: as long as the HMAC-SHA256 block's key needs no hashing.
const PEPPER_BYTES: usize = 32;

impl Reader<'_> {
    /// How many unused recovery codes a 2FA username has.
    pub fn recovery_codes_left(&self, username: &str) -> Result<usize, StoreError> {
        let n: i64 = one(self.conn, COUNT, &[&username])?.unwrap_or(0);
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// The pepper, opened, if one was made.
    fn pepper(&self) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let Some(stored) = self.setting(PEPPER_SETTING)? else {
            return Ok(None);
        };
        let text = Zeroizing::new(self.open_secret(PEPPER_AAD, &stored)?);
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(|_| {
                StoreError::Corrupt("the recovery-code pepper is unreadable".to_owned())
            })?;
        Ok(Some(Zeroizing::new(bytes)))
    }
}

impl Writer<'_> {
    /// Replaces the recovery codes of `username` with `codes` (canonical symbols), making the
    /// pepper on first use.
    pub fn replace_recovery_codes(
        &self,
        username: &str,
        codes: &[String],
    ) -> Result<(), StoreError> {
        let pepper = match self.pepper()? {
            Some(pepper) => pepper,
            None => {
                // One pepper for the store: a job in another instance may be making it now.
                self.hold(&[PEPPER_SETTING])?;
                match self.pepper()? {
                    Some(pepper) => pepper,
                    None => self.make_pepper()?,
                }
            }
        };
        change(self.conn, DELETE_ALL, &[&username])?;
        for code in codes {
            let hash = recovery_hash(&pepper, username, code)?;
            change(self.conn, INSERT, &[&username, &hash.as_slice()])?;
        }
        Ok(())
    }

    /// Uses up the recovery code `code` (canonical symbols) of `username`: the codes left
    /// after it, or `None` when it is not one of them. Every stored hash of the username is
    /// compared, in constant time, whichever matches.
    pub fn use_recovery_code(
        &self,
        username: &str,
        code: &str,
    ) -> Result<Option<usize>, StoreError> {
        let Some(pepper) = self.pepper()? else {
            return Ok(None);
        };
        let wanted = recovery_hash(&pepper, username, code)?;
        let stored = rows(self.conn, HASHES, &[&username], |r| {
            Ok((r.get::<i64>(0)?, r.get::<Vec<u8>>(1)?))
        })?;
        let mut found = None;
        for (id, hash) in &stored {
            if bool::from(hash.as_slice().ct_eq(wanted.as_slice())) {
                found = Some(*id);
            }
        }
        let Some(id) = found else {
            return Ok(None);
        };
        change(self.conn, DELETE_ONE, &[&id])?;
        Ok(Some(stored.len().saturating_sub(1)))
    }

    /// Re-seals the pepper under `key` (a key rotation's part); nothing if none was made.
    pub(super) fn reseal_pepper(&self, key: &Key) -> Result<(), StoreError> {
        if let Some(pepper) = self.pepper()? {
            self.store_pepper(key, &pepper)?;
        }
        Ok(())
    }

    fn make_pepper(&self) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let mut bytes = Zeroizing::new(vec![0u8; PEPPER_BYTES]);
        getrandom::getrandom(&mut bytes)
            .map_err(|e| StoreError::Corrupt(format!("no randomness available: {e}")))?;
        // Sealed under the key the store's check names, never one a rotation is replacing.
        self.hold_key(false)?;
        let key = self.proven_key()?;
        self.store_pepper(&key.key, &bytes)?;
        Ok(bytes)
    }

    fn store_pepper(&self, key: &Key, pepper: &[u8]) -> Result<(), StoreError> {
        use base64::Engine;
        let text = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(pepper));
        self.set_setting(PEPPER_SETTING, &key.seal(PEPPER_AAD, &text)?)
    }
}
