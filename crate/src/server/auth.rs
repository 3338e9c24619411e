//! Who is calling: API tokens (`Authorization: cpanel|whm USER:TOKEN`), Basic auth with a
//! password (plus `X-CPANEL-OTP` when the policy demands it), and browser sessions (an HttpOnly
//! cookie plus the matching `cpsess` token in the path).
//!
//! Two phases, so that a token or session call is one store trip: [`credentials`] reads the
//! headers before the trip (and, for Basic auth, checks the password: argon2 runs on the
//! blocking pool, never inside a trip); [`resolve`] runs inside the request's trip and turns
//! the credentials into a [`Caller`].
//!
//! Also the credential primitives: argon2id password hashes, SHA-256 token hashes, session
//! ids. Every comparison of a secret value is constant-time or a lookup by a hash; nothing
//! here logs a password, token, cookie or code.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::{header, HeaderMap};
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::{Api, ApiError};
use super::{ops, random_bytes, AppState, Trip};
use crate::store::{check_name, AccountKind, Principal};

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

/// What a request presented, read before its store trip.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// An API token: the user it names and the token's SHA-256.
    Token { user: String, hash: Vec<u8> },
    /// A session cookie's hash and the `cpsess` segment of the path, if any.
    Session {
        cookie_hash: Vec<u8>,
        cpsess: Option<String>,
    },
    /// Basic auth whose password is already checked; the second factor is checked in the
    /// trip (which is then a write trip: it records the step or the failure).
    Password { user: String, otp: String },
    /// The command line on the box, acting as a user the operator named.
    Local { user: String },
}

impl Credentials {
    /// True when resolving these writes to the store (the second factor of Basic auth).
    pub fn writes(&self) -> bool {
        matches!(self, Credentials::Password { .. })
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

/// Verifies a login name and password: one read trip for the hash and the principal, then
/// argon2 on the blocking pool. Unknown names cost the same as known ones.
pub async fn check_password(
    state: &AppState,
    name: &str,
    password: &str,
) -> Result<Option<Principal>, ApiError> {
    if check_name(name).is_err() {
        return Ok(None);
    }
    let (hash, principal) = state.read(|r| Ok((r.password_hash(name)?, r.principal(name)?)))?;
    let password = zeroize::Zeroizing::new(password.to_owned());
    let ok = state
        .blocking(move || {
            Ok(
                verify_password(hash.as_deref().unwrap_or_else(|| dummy_hash()), &password)
                    && hash.is_some(),
            )
        })
        .await?;
    Ok(principal.filter(|_| ok))
}

/// Reads a request's credentials. Header credentials win; without them the session cookie is
/// used. Basic auth's password is checked here; everything else waits for [`resolve`].
pub async fn credentials(
    state: &AppState,
    headers: &HeaderMap,
    cpsess: Option<&str>,
    api: Api,
) -> Result<Credentials, ApiError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ApiError::AccessDenied)?;
        let (scheme, rest) = value.trim().split_once(' ').ok_or(ApiError::AccessDenied)?;
        let rest = rest.trim();
        return match scheme.to_ascii_lowercase().as_str() {
            "cpanel" if api == Api::Uapi => token_credentials(rest),
            "whm" if api == Api::Whm => token_credentials(rest),
            "basic" => basic_credentials(state, headers, rest).await,
            _ => Err(ApiError::AccessDenied),
        };
    }
    let cookie = session_cookie(headers).ok_or(ApiError::AccessDenied)?;
    Ok(Credentials::Session {
        cookie_hash: sha256(&cookie),
        cpsess: cpsess.map(str::to_owned),
    })
}

fn token_credentials(text: &str) -> Result<Credentials, ApiError> {
    let (user, token) = text.split_once(':').ok_or(ApiError::AccessDenied)?;
    if check_name(user).is_err() || token.is_empty() {
        return Err(ApiError::AccessDenied);
    }
    Ok(Credentials::Token {
        user: user.to_owned(),
        hash: sha256(token),
    })
}

async fn basic_credentials(
    state: &AppState,
    headers: &HeaderMap,
    encoded: &str,
) -> Result<Credentials, ApiError> {
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
    Ok(Credentials::Password {
        user: principal.name().to_owned(),
        otp: otp.to_owned(),
    })
}

/// Turns credentials into the caller, inside the request's store trip.
pub fn resolve(
    trip: &Trip<'_, '_>,
    creds: &Credentials,
    now: u64,
    ip: &str,
) -> Result<Caller, ApiError> {
    let r = trip.reader();
    let name = match creds {
        Credentials::Token { user, hash } => {
            // Looked up by the hash of a 160-bit random token; the account must be the named one.
            let owner = r.token_account(hash)?.ok_or(ApiError::AccessDenied)?;
            if owner != *user {
                return Err(ApiError::AccessDenied);
            }
            owner
        }
        Credentials::Session {
            cookie_hash,
            cpsess,
        } => {
            let session = r.session(cookie_hash, now)?.ok_or(ApiError::AccessDenied)?;
            if !cpsess
                .as_deref()
                .is_some_and(|c| same_cpsess(c, &session.cpsess))
            {
                return Err(ApiError::TokenDenied);
            }
            session.principal
        }
        Credentials::Password { user, otp } => {
            let w = trip.writer()?;
            ops::second_factor(w, user, ip, now, otp, ops::CodeUse::Header).map_err(
                |e| match e {
                    ApiError::NoCode | ApiError::InvalidCode(_) => ApiError::OtpHeader(Box::new(e)),
                    other => other,
                },
            )?;
            user.clone()
        }
        Credentials::Local { user } => user.clone(),
    };
    let principal = r.principal(&name)?.ok_or(ApiError::AccessDenied)?;
    Ok(Caller { principal })
}

/// For the enrollment page: does the cookie's session match this `cpsess`? One read trip.
pub fn session_for_page(
    state: &AppState,
    headers: &HeaderMap,
    cpsess: &str,
) -> Result<bool, ApiError> {
    let Some(cookie) = session_cookie(headers) else {
        return Ok(false);
    };
    let (hash, now) = (sha256(&cookie), state.now());
    let session = state.read(|r| Ok::<_, ApiError>(r.session(&hash, now)?))?;
    Ok(session.is_some_and(|s| same_cpsess(cpsess, &s.cpsess)))
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
