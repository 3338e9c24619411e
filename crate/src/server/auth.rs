//! Who is calling: API tokens (`Authorization: cpanel|whm USER:TOKEN`), Basic auth with a
//! password (plus `X-CPANEL-OTP` when the policy demands it), and browser sessions (an HttpOnly
//! cookie plus the matching `cpsess` token in the path).
//!
//! Also the credential primitives: argon2id password hashes, SHA-256 token hashes, session
//! cookies. Every comparison of a secret value is constant-time; nothing here logs a password,
//! token, cookie or code.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::{header, HeaderMap};
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::{Api, ApiError};
use super::{ops, random_bytes, AppState};
use crate::store::{check_name, AccountKind, Principal, Session, Store, StoreError};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "cpsession";
/// How long a browser session lives.
pub const SESSION_SECS: u64 = 8 * 60 * 60;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub principal: Principal,
}

impl Caller {
    /// The login name, which is also the caller's 2FA username.
    pub fn name(&self) -> &str {
        self.principal.name()
    }

    /// The account kind, for accounts (root, reseller, user); `None` for webmail/team users.
    pub fn account_kind(&self) -> Option<AccountKind> {
        match &self.principal {
            Principal::Account(a) => Some(a.kind),
            Principal::Identity(_) => None,
        }
    }
}

/// An argon2id hash (PHC string) of a password.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt_bytes = random_bytes::<16>()?;
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| ApiError::Internal(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("password hash: {e}")))
}

/// Checks a password against a stored hash (argon2 compares in constant time).
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so that both cases cost the same.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        SaltString::encode_b64(b"tfa-dummy-salt!!")
            .ok()
            .and_then(|salt| {
                Argon2::default()
                    .hash_password(b"not a password", &salt)
                    .ok()
                    .map(|h| h.to_string())
            })
            .unwrap_or_default()
    })
}

/// SHA-256 of a token or cookie: what the store keeps instead of the value.
pub fn sha256(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}

/// A new API token: 20 random bytes as 32 characters of base32 (cPanel's token length).
pub fn new_token() -> Result<String, ApiError> {
    Ok(data_encoding::BASE32_NOPAD.encode(&random_bytes::<20>()?))
}

/// A new session: the cookie value and its `cpsess` number.
pub fn new_session_ids() -> Result<(String, String), ApiError> {
    let cookie = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
    let mut cpsess = String::from("cpsess");
    cpsess.extend(
        random_bytes::<10>()?
            .iter()
            .map(|b| char::from(b'0' + b % 10)),
    );
    Ok((cookie, cpsess))
}

/// Verifies a login name and password, off the async threads. Unknown names cost the same.
pub async fn check_password(
    state: &AppState,
    name: &str,
    password: &str,
) -> Result<Option<Principal>, ApiError> {
    if check_name(name).is_err() {
        return Ok(None);
    }
    let name = name.to_owned();
    let password = zeroize::Zeroizing::new(password.to_owned());
    state
        .db(move |store| {
            let hash = store.password_hash(&name)?;
            let ok = verify_password(hash.as_deref().unwrap_or_else(|| dummy_hash()), &password)
                && hash.is_some();
            if ok {
                store.principal(&name)
            } else {
                Ok(None)
            }
        })
        .await
}

/// Finds the caller of an API request. Header credentials win; without them the session
/// cookie is used, and then the path must carry that session's `cpsess` token.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    cpsess: Option<&str>,
    api: Api,
    ip: &str,
) -> Result<Caller, ApiError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ApiError::AccessDenied)?;
        let (scheme, rest) = value.trim().split_once(' ').ok_or(ApiError::AccessDenied)?;
        let rest = rest.trim();
        return match scheme.to_ascii_lowercase().as_str() {
            "cpanel" if api == Api::Uapi => token_caller(state, rest).await,
            "whm" if api == Api::Whm => token_caller(state, rest).await,
            "basic" => basic_caller(state, headers, rest, ip).await,
            _ => Err(ApiError::AccessDenied),
        };
    }
    // The session and its principal in one trip to the store.
    let found = cookie_session(state, headers, |store, session| {
        Ok((session.cpsess, store.principal(&session.principal)?))
    })
    .await?;
    let (session_cpsess, principal) = found.ok_or(ApiError::AccessDenied)?;
    if !cpsess.is_some_and(|c| same_cpsess(c, &session_cpsess)) {
        return Err(ApiError::TokenDenied);
    }
    let principal = principal.ok_or(ApiError::AccessDenied)?;
    Ok(Caller { principal })
}

/// For the enrollment page: does the cookie's session match this `cpsess`?
pub async fn session_for_page(
    state: &AppState,
    headers: &HeaderMap,
    cpsess: &str,
) -> Result<bool, ApiError> {
    let found = cookie_session(state, headers, |_, session| Ok(session.cpsess)).await?;
    Ok(found.is_some_and(|s| same_cpsess(cpsess, &s)))
}

/// The live session of the request's cookie, if any, passed through `then` in the same store
/// call.
async fn cookie_session<T: Send + 'static>(
    state: &AppState,
    headers: &HeaderMap,
    then: impl FnOnce(&Store, Session) -> Result<T, StoreError> + Send + 'static,
) -> Result<Option<T>, ApiError> {
    let Some(cookie) = session_cookie(headers) else {
        return Ok(None);
    };
    let (hash, now) = (sha256(&cookie), state.now());
    state
        .db(move |store| {
            store
                .session(&hash, now)?
                .map(|s| then(store, s))
                .transpose()
        })
        .await
}

/// Compares a path's `cpsess` with a session's, in constant time.
fn same_cpsess(given: &str, stored: &str) -> bool {
    given.as_bytes().ct_eq(stored.as_bytes()).into()
}

/// The value of the session cookie, if sent.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_owned())
}

async fn token_caller(state: &AppState, credentials: &str) -> Result<Caller, ApiError> {
    let (user, token) = credentials.split_once(':').ok_or(ApiError::AccessDenied)?;
    if check_name(user).is_err() || token.is_empty() {
        return Err(ApiError::AccessDenied);
    }
    let user = user.to_owned();
    let presented = sha256(token);
    state
        .db(move |store| {
            let mut found = subtle::Choice::from(0u8);
            for stored in store.token_hashes(&user)? {
                found |= stored.ct_eq(&presented);
            }
            if bool::from(found) {
                store.principal(&user)
            } else {
                Ok(None)
            }
        })
        .await?
        .map(|principal| Caller { principal })
        .ok_or(ApiError::AccessDenied)
}

async fn basic_caller(
    state: &AppState,
    headers: &HeaderMap,
    encoded: &str,
    ip: &str,
) -> Result<Caller, ApiError> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| ApiError::AccessDenied)?;
    let decoded = zeroize::Zeroizing::new(decoded);
    let text = std::str::from_utf8(&decoded).map_err(|_| ApiError::AccessDenied)?;
    let (user, password) = text.split_once(':').ok_or(ApiError::AccessDenied)?;
    let principal = check_password(state, user, password)
        .await?
        .ok_or(ApiError::AccessDenied)?;
    let otp = headers
        .get("x-cpanel-otp")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    ops::second_factor(state, principal.name(), otp, ip, ops::CodeUse::Header)
        .await
        .map_err(|e| match e {
            ApiError::NoCode | ApiError::InvalidCode { .. } => ApiError::Unauthorized(format!(
                "{} Send the current code in the X-CPANEL-OTP header.",
                e.reason()
            )),
            other => other,
        })?;
    Ok(Caller { principal })
}
