//! Accounts (root, resellers, cPanel users) and identities (webmail addresses, team users),
//! with their password hashes.

use super::conn::Row;
use super::{change, one, one_row, rows, Reader, Writer};
use crate::store::{check_account_name, Account, AccountKind, Identity, Principal, StoreError};

const ANY_ACCOUNT: &str = "SELECT 1 FROM accounts LIMIT 1";
const ACCOUNT: &str = "SELECT name, kind, owner, domain FROM accounts WHERE name = ?1";
// `domain <> ''` lets SQLite use the partial unique index on domains.
const ACCOUNT_BY_DOMAIN: &str =
    "SELECT name, kind, owner, domain FROM accounts WHERE domain = ?1 AND domain <> ''";
const ACCOUNTS_OWNED_BY: &str =
    "SELECT name, kind, owner, domain FROM accounts WHERE owner = ?1 ORDER BY name";
const ALL_ACCOUNTS: &str = "SELECT name, kind, owner, domain FROM accounts ORDER BY name";
const ALL_NAMES: &str = "SELECT name FROM accounts UNION ALL SELECT name FROM identities";
const ACCOUNT_KIND: &str = "SELECT kind FROM accounts WHERE name = ?1";
const IDENTITY: &str = "SELECT name, kind, account FROM identities WHERE name = ?1";
const IDENTITIES_OF: &str =
    "SELECT name, kind, account FROM identities WHERE account = ?1 ORDER BY name";
const NAME_TAKEN: &str = "SELECT 1 FROM accounts WHERE name = ?1
     UNION ALL SELECT 1 FROM identities WHERE name = ?1 LIMIT 1";
const DOMAIN_TAKEN: &str = "SELECT 1 FROM accounts WHERE domain = ?1 AND domain <> ''";
const PASSWORD_HASH: &str = "SELECT password_hash FROM accounts WHERE name = ?1
     UNION ALL SELECT password_hash FROM identities WHERE name = ?1 LIMIT 1";
const INSERT_ACCOUNT: &str =
    "INSERT INTO accounts (name, kind, owner, domain, password_hash) VALUES (?1, ?2, ?3, ?4, ?5)";
const INSERT_IDENTITY: &str =
    "INSERT INTO identities (name, kind, account, password_hash) VALUES (?1, ?2, ?3, ?4)";
const SET_ACCOUNT_PASSWORD: &str = "UPDATE accounts SET password_hash = ?2 WHERE name = ?1";
const SET_IDENTITY_PASSWORD: &str = "UPDATE identities SET password_hash = ?2 WHERE name = ?1";

/// The lock name account and identity creation holds (see [`Writer::hold`]).
const ACCOUNTS_LOCK: &str = "/accounts";

#[cfg(test)]
pub(super) const LOOKUPS: &[&str] = &[
    ACCOUNT,
    ACCOUNT_BY_DOMAIN,
    ACCOUNTS_OWNED_BY,
    ACCOUNT_KIND,
    IDENTITY,
    IDENTITIES_OF,
    NAME_TAKEN,
    DOMAIN_TAKEN,
    PASSWORD_HASH,
    INSERT_ACCOUNT,
    INSERT_IDENTITY,
    SET_ACCOUNT_PASSWORD,
    SET_IDENTITY_PASSWORD,
];
#[cfg(test)]
/// Root's list of every account, and a probe that stops at the first row.
pub(super) const LISTINGS: &[&str] = &[ALL_ACCOUNTS, ANY_ACCOUNT, ALL_NAMES];

pub(super) fn row_account(r: &Row<'_>) -> Result<Account, StoreError> {
    Ok(Account {
        name: r.get(0)?,
        kind: r.get(1)?,
        owner: r.get(2)?,
        domain: r.get(3)?,
    })
}

fn row_identity(r: &Row<'_>) -> Result<Identity, StoreError> {
    Ok(Identity {
        name: r.get(0)?,
        kind: r.get(1)?,
        account: r.get(2)?,
    })
}

impl Reader<'_> {
    /// True when no account exists yet (a fresh store).
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(one::<i64>(self.conn, ANY_ACCOUNT, &[])?.is_none())
    }

    /// One account by name.
    pub fn account(&self, name: &str) -> Result<Option<Account>, StoreError> {
        one_row(self.conn, ACCOUNT, &[&name], row_account)
    }

    /// Every account, root included, sorted by name.
    pub fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        rows(self.conn, ALL_ACCOUNTS, &[], row_account)
    }

    /// The accounts `owner` owns (a reseller's customers; root's own entry for root), by name.
    pub fn accounts_owned_by(&self, owner: &str) -> Result<Vec<Account>, StoreError> {
        rows(self.conn, ACCOUNTS_OWNED_BY, &[&owner], row_account)
    }

    /// The account whose primary domain is `domain`.
    pub fn account_by_domain(&self, domain: &str) -> Result<Option<Account>, StoreError> {
        one_row(self.conn, ACCOUNT_BY_DOMAIN, &[&domain], row_account)
    }

    /// The kind of an account, if it exists.
    pub fn account_kind(&self, name: &str) -> Result<Option<AccountKind>, StoreError> {
        one(self.conn, ACCOUNT_KIND, &[&name])
    }

    /// One webmail address or team user by its full name.
    pub fn identity(&self, name: &str) -> Result<Option<Identity>, StoreError> {
        one_row(self.conn, IDENTITY, &[&name], row_identity)
    }

    /// The webmail addresses and team users of an account, sorted by name.
    pub fn identities_of(&self, account: &str) -> Result<Vec<Identity>, StoreError> {
        rows(self.conn, IDENTITIES_OF, &[&account], row_identity)
    }

    /// An account or identity by login name.
    pub fn principal(&self, name: &str) -> Result<Option<Principal>, StoreError> {
        if let Some(a) = self.account(name)? {
            return Ok(Some(Principal::Account(a)));
        }
        Ok(self.identity(name)?.map(Principal::Identity))
    }

    /// Every login name the store knows (accounts, webmail and team users), read once by an
    /// import that checks a million names.
    pub fn principal_names(&self) -> Result<std::collections::HashSet<String>, StoreError> {
        Ok(rows(self.conn, ALL_NAMES, &[], |r| r.get::<String>(0))?
            .into_iter()
            .collect())
    }

    /// The stored argon2 hash of a login's password.
    pub fn password_hash(&self, name: &str) -> Result<Option<String>, StoreError> {
        one(self.conn, PASSWORD_HASH, &[&name])
    }

    /// True when an account or an identity already has this login name.
    fn name_taken(&self, name: &str) -> Result<bool, StoreError> {
        Ok(one::<i64>(self.conn, NAME_TAKEN, &[&name])?.is_some())
    }
}

impl Writer<'_> {
    /// Names are checked, then taken: one account change at a time in every instance (see
    /// [`Writer::hold`]).
    pub fn hold_accounts(&self) -> Result<(), StoreError> {
        self.hold(&[ACCOUNTS_LOCK])
    }

    /// Adds an account. Refuses a name outside cPanel's username rules
    /// ([`check_account_name`]; root is only ever `root`), a duplicate name or domain, or an
    /// unknown owner.
    pub fn add_account(&self, account: &Account, password_hash: &str) -> Result<(), StoreError> {
        let root = account.kind == AccountKind::Root;
        if root != (account.name == "root") {
            return Err(StoreError::Invalid(
                "Only the account “root” is root, and it can only be root.".to_owned(),
            ));
        }
        if !root {
            check_account_name(&account.name).map_err(StoreError::Invalid)?;
        }
        self.hold_accounts()?;
        if self.name_taken(&account.name)? {
            return Err(StoreError::Invalid(format!(
                "An account named “{}” already exists.",
                account.name
            )));
        }
        if !account.domain.is_empty()
            && one::<i64>(self.conn, DOMAIN_TAKEN, &[&account.domain])?.is_some()
        {
            return Err(StoreError::Invalid(format!(
                "The domain “{}” already belongs to another account.",
                account.domain
            )));
        }
        if account.kind != AccountKind::Root
            && !matches!(
                self.account_kind(&account.owner)?,
                Some(AccountKind::Root | AccountKind::Reseller)
            )
        {
            return Err(StoreError::Invalid(format!(
                "The owner “{}” is neither root nor a reseller.",
                account.owner
            )));
        }
        change(
            self.conn,
            INSERT_ACCOUNT,
            &[
                &account.name,
                &account.kind.as_str(),
                &account.owner,
                &account.domain,
                &password_hash,
            ],
        )?;
        Ok(())
    }

    /// Adds a webmail address or team user. The account must be a cPanel account (user or
    /// reseller) and the name must not exist yet.
    pub fn add_identity(&self, identity: &Identity, password_hash: &str) -> Result<(), StoreError> {
        self.hold_accounts()?;
        if self.name_taken(&identity.name)? {
            return Err(StoreError::Invalid(format!(
                "“{}” already exists.",
                identity.name
            )));
        }
        if !matches!(
            self.account_kind(&identity.account)?,
            Some(AccountKind::User | AccountKind::Reseller)
        ) {
            return Err(StoreError::Invalid(format!(
                "“{}” is not a cPanel account.",
                identity.account
            )));
        }
        change(
            self.conn,
            INSERT_IDENTITY,
            &[
                &identity.name,
                &identity.kind.as_str(),
                &identity.account,
                &password_hash,
            ],
        )?;
        Ok(())
    }

    /// Replaces the password hash of an account or identity and ends every session it has, in
    /// this one job: a cookie from before the change stops working at the commit, on every
    /// server that shares the store.
    pub fn set_password(&self, name: &str, password_hash: &str) -> Result<(), StoreError> {
        let n = change(self.conn, SET_ACCOUNT_PASSWORD, &[&name, &password_hash])?
            + change(self.conn, SET_IDENTITY_PASSWORD, &[&name, &password_hash])?;
        if n == 0 {
            return Err(StoreError::Invalid(format!("“{name}” does not exist.")));
        }
        self.end_sessions_of(name)?;
        Ok(())
    }
}
