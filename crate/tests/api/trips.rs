//! The store calls the tests make to set up and inspect state, each as one trip of its own
//! (the server makes its own trips; these only prepare and observe).

use tfa::store::{Account, AuditEvent, Identity, StepOutcome, Store, StoreError};

/// One-call setters and getters over [`Store::read`] and [`Store::write`].
pub trait Trips {
    fn add_account(&self, a: &Account, password_hash: &str) -> Result<(), StoreError>;
    fn add_token(&self, account: &str, hash: &[u8], now: u64) -> Result<(), StoreError>;
    fn add_identity(&self, i: &Identity, password_hash: &str) -> Result<(), StoreError>;
    fn enroll(&self, user: &str, secret: &str, step: u64) -> Result<StepOutcome, StoreError>;
    fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError>;
    fn tfa_secret(&self, user: &str) -> Result<Option<String>, StoreError>;
    fn all_tfa(&self) -> Result<Vec<(String, String)>, StoreError>;
    fn all_issuers(&self) -> Result<Vec<(String, String)>, StoreError>;
    fn issuer(&self, key: &str) -> Result<Option<String>, StoreError>;
    fn setting(&self, key: &str) -> Result<Option<String>, StoreError>;
    fn accounts(&self) -> Result<Vec<Account>, StoreError>;
    fn audit_events(&self) -> Result<Vec<AuditEvent>, StoreError>;
}

impl Trips for Store {
    fn add_account(&self, a: &Account, password_hash: &str) -> Result<(), StoreError> {
        let (a, h) = (a.clone(), password_hash.to_owned());
        self.write(move |w| w.add_account(&a, &h))
    }
    fn add_token(&self, account: &str, hash: &[u8], now: u64) -> Result<(), StoreError> {
        let (a, h) = (account.to_owned(), hash.to_vec());
        self.write(move |w| w.add_token(&a, &h, now))
    }
    fn add_identity(&self, i: &Identity, password_hash: &str) -> Result<(), StoreError> {
        let (i, h) = (i.clone(), password_hash.to_owned());
        self.write(move |w| w.add_identity(&i, &h))
    }
    fn enroll(&self, user: &str, secret: &str, step: u64) -> Result<StepOutcome, StoreError> {
        let (u, s) = (user.to_owned(), secret.to_owned());
        self.write(move |w| w.enroll(&u, &s, step))
    }
    fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let (k, v) = (key.to_owned(), value.to_owned());
        self.write(move |w| w.set_setting(&k, &v))
    }
    fn tfa_secret(&self, user: &str) -> Result<Option<String>, StoreError> {
        self.read(|r| r.tfa_secret(user))
    }
    fn all_tfa(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|r| r.all_tfa())
    }
    fn all_issuers(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|r| r.all_issuers())
    }
    fn issuer(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.read(|r| r.issuer(key))
    }
    fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.read(|r| r.setting(key))
    }
    fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.read(|r| r.accounts())
    }
    fn audit_events(&self) -> Result<Vec<AuditEvent>, StoreError> {
        self.read(|r| r.audit_events())
    }
}
