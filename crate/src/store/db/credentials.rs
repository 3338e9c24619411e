//! API tokens and browser sessions. Only hashes of token and cookie values are stored.

use super::conn::Row;
use super::{change, one, one_row, rows, to_i64, to_u64, Reader, Writer};
use crate::store::{Account, Session, StoreError, TokenInfo};

// The account behind a token in one statement: the token check of every API call.
const TOKEN_OWNER: &str = "SELECT a.name, a.kind, a.owner, a.domain FROM api_tokens t
     JOIN accounts a ON a.name = t.account WHERE t.hash = ?1";
const INSERT_TOKEN: &str = "INSERT INTO api_tokens (account, hash, created) VALUES (?1, ?2, ?3)";
// Through `api_tokens_account`, whose entries are already in rowid (id) order.
const TOKENS_OF: &str = "SELECT id, created FROM api_tokens WHERE account = ?1 ORDER BY id";
const DELETE_TOKEN: &str = "DELETE FROM api_tokens WHERE id = ?2 AND account = ?1";
const DELETE_TOKENS_OF: &str = "DELETE FROM api_tokens WHERE account = ?1";
const DELETE_SESSIONS_OF: &str = "DELETE FROM sessions WHERE principal = ?1";
const SESSION: &str = "SELECT cpsess, principal, expires, tfa_verified FROM sessions
     WHERE cookie_hash = ?1 AND expires > ?2";
const PRUNE_SESSIONS: &str = "DELETE FROM sessions WHERE expires <= ?1";
const INSERT_SESSION: &str =
    "INSERT INTO sessions (cookie_hash, cpsess, principal, expires, tfa_verified)
     VALUES (?1, ?2, ?3, ?4, ?5)";
const DELETE_SESSION: &str = "DELETE FROM sessions WHERE cookie_hash = ?1";
// Through `sessions_principal`: the live sessions of one login that gave no code.
const PENDING_FOR: &str = "UPDATE sessions SET expires = ?2
     WHERE principal = ?1 AND tfa_verified = 0 AND expires > ?2";
// The live sessions without a code of every login that has 2FA (the policy turned on).
const PENDING_FOR_ALL: &str = "UPDATE sessions SET expires = ?1
     WHERE tfa_verified = 0 AND expires > ?1 AND principal IN (SELECT username FROM tfa)";

#[cfg(test)]
pub(super) const LOOKUPS: &[&str] = &[
    TOKEN_OWNER,
    INSERT_TOKEN,
    TOKENS_OF,
    DELETE_TOKEN,
    DELETE_TOKENS_OF,
    DELETE_SESSIONS_OF,
    SESSION,
    PRUNE_SESSIONS,
    INSERT_SESSION,
    DELETE_SESSION,
    PENDING_FOR,
    // Named tokens and one-time logins (the block at the end of this file).
    TOKEN_NAMED,
    INSERT_NAMED_TOKEN,
    NAMED_TOKENS_OF,
    DELETE_NAMED_TOKEN,
    PRUNE_ONE_TIME,
    INSERT_ONE_TIME,
    TAKE_ONE_TIME,
];
#[cfg(test)]
pub(super) const LISTINGS: &[&str] = &[
    // Once per policy change, over the sessions: not on any request's path.
    PENDING_FOR_ALL,
];

fn row_token(r: &Row<'_>) -> Result<TokenInfo, StoreError> {
    Ok(TokenInfo {
        id: r.get(0)?,
        created: to_u64(r.get(1)?),
    })
}

fn row_session(r: &Row<'_>) -> Result<Session, StoreError> {
    Ok(Session {
        cpsess: r.get(0)?,
        principal: r.get(1)?,
        expires: to_u64(r.get(2)?),
        tfa_verified: r.get::<i64>(3)? != 0,
    })
}

impl Reader<'_> {
    /// The account an API token belongs to, found by the token's SHA-256 hash. The hash of a
    /// 160-bit random token is looked up directly: an index probe whatever the number of
    /// tokens, and its timing says nothing usable about a guessed token.
    pub fn token_owner(&self, hash: &[u8]) -> Result<Option<Account>, StoreError> {
        one_row(
            self.conn,
            TOKEN_OWNER,
            &[&hash],
            super::accounts::row_account,
        )
    }

    /// An account's API tokens (number and creation time only), oldest first.
    pub fn tokens_of(&self, account: &str) -> Result<Vec<TokenInfo>, StoreError> {
        rows(self.conn, TOKENS_OF, &[&account], row_token)
    }

    /// The live session with this cookie hash, if any (an expired one is as good as none).
    pub fn session(&self, cookie_hash: &[u8], now: u64) -> Result<Option<Session>, StoreError> {
        one_row(
            self.conn,
            SESSION,
            &[&cookie_hash, &to_i64(now)],
            row_session,
        )
    }
}

impl Writer<'_> {
    /// Stores the hash of a new API token for an account.
    pub fn add_token(&self, account: &str, hash: &[u8], now: u64) -> Result<(), StoreError> {
        change(self.conn, INSERT_TOKEN, &[&account, &hash, &to_i64(now)])?;
        Ok(())
    }

    /// Stores a session under the hash of its cookie. Expired sessions are pruned here, at
    /// login, not on every authenticated request.
    pub fn add_session(
        &self,
        cookie_hash: &[u8],
        session: &Session,
        now: u64,
    ) -> Result<(), StoreError> {
        change(self.conn, PRUNE_SESSIONS, &[&to_i64(now)])?;
        change(
            self.conn,
            INSERT_SESSION,
            &[
                &cookie_hash,
                &session.cpsess,
                &session.principal,
                &to_i64(session.expires),
                &i64::from(session.tfa_verified),
            ],
        )?;
        Ok(())
    }

    /// Revokes one of an account's API tokens. False when the account has no token `id`.
    pub fn revoke_token(&self, account: &str, id: i64) -> Result<bool, StoreError> {
        Ok(change(self.conn, DELETE_TOKEN, &[&account, &id])? > 0)
    }

    /// Revokes every API token of an account; how many there were.
    pub fn revoke_tokens(&self, account: &str) -> Result<usize, StoreError> {
        change(self.conn, DELETE_TOKENS_OF, &[&account])
    }

    /// Ends every session of a login (after its password changed).
    pub fn end_sessions_of(&self, principal: &str) -> Result<usize, StoreError> {
        change(self.conn, DELETE_SESSIONS_OF, &[&principal])
    }

    /// Ends a session.
    pub fn delete_session(&self, cookie_hash: &[u8]) -> Result<(), StoreError> {
        change(self.conn, DELETE_SESSION, &[&cookie_hash])?;
        Ok(())
    }

    /// 2FA became required of `principal` (it enrolled under the policy): its live sessions
    /// that gave no code are pending from now on, and a pending session ends by `until`.
    /// How many there were.
    pub fn sessions_pending_for(&self, principal: &str, until: u64) -> Result<usize, StoreError> {
        change(self.conn, PENDING_FOR, &[&principal, &to_i64(until)])
    }

    /// The policy turned on: the live sessions that gave no code, of every login with 2FA, are
    /// pending from now on and end by `until`. How many there were.
    pub fn sessions_pending_for_all(&self, until: u64) -> Result<usize, StoreError> {
        change(self.conn, PENDING_FOR_ALL, &[&to_i64(until)])
    }
}

// ----- named API tokens (cPanel's `api_token_*` and `Tokens::*`) and one-time logins -----

const TOKEN_NAMED: &str = "SELECT id FROM api_tokens WHERE account = ?1 AND name = ?2";
const INSERT_NAMED_TOKEN: &str =
    "INSERT INTO api_tokens (account, name, hash, created) VALUES (?1, ?2, ?3, ?4)";
// Through `api_tokens_name`; listed by name, as cPanel's lists are keyed.
const NAMED_TOKENS_OF: &str =
    "SELECT name, created FROM api_tokens WHERE account = ?1 ORDER BY name";
const DELETE_NAMED_TOKEN: &str = "DELETE FROM api_tokens WHERE account = ?1 AND name = ?2";
const PRUNE_ONE_TIME: &str = "DELETE FROM one_time_logins WHERE expires <= ?1";
const INSERT_ONE_TIME: &str =
    "INSERT INTO one_time_logins (hash, principal, cpsess, expires) VALUES (?1, ?2, ?3, ?4)";
// Used up in the statement that reads it: of two requests racing with one URL, in one
// instance or several, only one gets the row.
const TAKE_ONE_TIME: &str = "DELETE FROM one_time_logins WHERE hash = ?1
     RETURNING principal, cpsess, expires";

/// An API token by its name, as cPanel lists it: never the token or its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedToken {
    pub name: String,
    /// Unix seconds.
    pub created: u64,
}

impl Reader<'_> {
    /// An account's API tokens by name (name and creation time only), sorted by name.
    pub fn named_tokens_of(&self, account: &str) -> Result<Vec<NamedToken>, StoreError> {
        rows(self.conn, NAMED_TOKENS_OF, &[&account], |r| {
            Ok(NamedToken {
                name: r.get(0)?,
                created: to_u64(r.get(1)?),
            })
        })
    }
}

impl Writer<'_> {
    /// Stores the hash of a new API token under a name. False (nothing stored) when the
    /// account already has a token of that name.
    pub fn add_named_token(
        &self,
        account: &str,
        name: &str,
        hash: &[u8],
        now: u64,
    ) -> Result<bool, StoreError> {
        // The name is checked, then taken: one token change per account at a time.
        self.hold(&[&format!("tokens:{account}")])?;
        let taken: Option<i64> = one(self.conn, TOKEN_NAMED, &[&account, &name])?;
        if taken.is_some() {
            return Ok(false);
        }
        change(
            self.conn,
            INSERT_NAMED_TOKEN,
            &[&account, &name, &hash, &to_i64(now)],
        )?;
        Ok(true)
    }

    /// Revokes an account's API token by name. False when it has none of that name.
    pub fn revoke_named_token(&self, account: &str, name: &str) -> Result<bool, StoreError> {
        Ok(change(self.conn, DELETE_NAMED_TOKEN, &[&account, &name])? > 0)
    }

    /// Stores a one-time login under the hash of its secret: whom it logs in, the `cpsess` of
    /// the session it opens, and until when it may be used. Expired ones are pruned here.
    pub fn add_one_time_login(
        &self,
        hash: &[u8],
        principal: &str,
        cpsess: &str,
        expires: u64,
        now: u64,
    ) -> Result<(), StoreError> {
        change(self.conn, PRUNE_ONE_TIME, &[&to_i64(now)])?;
        change(
            self.conn,
            INSERT_ONE_TIME,
            &[&hash, &principal, &cpsess, &to_i64(expires)],
        )?;
        Ok(())
    }

    /// Uses up a one-time login: removes it whatever its state and returns its principal and
    /// `cpsess` if it was still live at `now`. A second use, or a late one, finds nothing.
    pub fn take_one_time_login(
        &self,
        hash: &[u8],
        now: u64,
    ) -> Result<Option<(String, String)>, StoreError> {
        let found: Option<(String, String, i64)> =
            one_row(self.conn, TAKE_ONE_TIME, &[&hash], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        Ok(found
            .filter(|(_, _, expires)| to_u64(*expires) > now)
            .map(|(principal, cpsess, _)| (principal, cpsess)))
    }
}
