//! API tokens and browser sessions. Only hashes of token and cookie values are stored.

use super::{change, one, one_row, rows, to_i64, to_u64, Reader, Writer};
use crate::store::{Session, StoreError, TokenInfo};

const TOKEN_ACCOUNT: &str = "SELECT account FROM api_tokens WHERE hash = ?1";
const INSERT_TOKEN: &str = "INSERT INTO api_tokens (account, hash, created) VALUES (?1, ?2, ?3)";
// Through `api_tokens_account`, whose entries are already in rowid (id) order.
const TOKENS_OF: &str = "SELECT id, created FROM api_tokens WHERE account = ?1 ORDER BY id";
const DELETE_TOKEN: &str = "DELETE FROM api_tokens WHERE id = ?2 AND account = ?1";
const DELETE_TOKENS_OF: &str = "DELETE FROM api_tokens WHERE account = ?1";
const DELETE_SESSIONS_OF: &str = "DELETE FROM sessions WHERE principal = ?1";
const SESSION: &str = "SELECT cpsess, principal, expires FROM sessions
     WHERE cookie_hash = ?1 AND expires > ?2";
const PRUNE_SESSIONS: &str = "DELETE FROM sessions WHERE expires <= ?1";
const INSERT_SESSION: &str =
    "INSERT INTO sessions (cookie_hash, cpsess, principal, expires) VALUES (?1, ?2, ?3, ?4)";
const DELETE_SESSION: &str = "DELETE FROM sessions WHERE cookie_hash = ?1";

#[cfg(test)]
pub(super) const LOOKUPS: &[&str] = &[
    TOKEN_ACCOUNT,
    INSERT_TOKEN,
    TOKENS_OF,
    DELETE_TOKEN,
    DELETE_TOKENS_OF,
    DELETE_SESSIONS_OF,
    SESSION,
    PRUNE_SESSIONS,
    INSERT_SESSION,
    DELETE_SESSION,
];
#[cfg(test)]
pub(super) const LISTINGS: &[&str] = &[];

fn row_token(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenInfo> {
    Ok(TokenInfo {
        id: r.get(0)?,
        created: to_u64(r.get(1)?),
    })
}

fn row_session(r: &rusqlite::Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        cpsess: r.get(0)?,
        principal: r.get(1)?,
        expires: to_u64(r.get(2)?),
    })
}

impl Reader<'_> {
    /// The account an API token belongs to, found by the token's SHA-256 hash. The hash of a
    /// 160-bit random token is looked up directly: an index probe whatever the number of
    /// tokens, and its timing says nothing usable about a guessed token.
    pub fn token_account(&self, hash: &[u8]) -> Result<Option<String>, StoreError> {
        one(self.conn, TOKEN_ACCOUNT, &[&hash])
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
}
