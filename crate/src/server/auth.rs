//! Who is calling: API tokens (`Authorization: cpanel|whm USER:TOKEN`), Basic auth with a
//! password (plus `X-CPANEL-OTP` when the policy demands it), and browser sessions (an HttpOnly
//! cookie plus the matching `cpsess` token in the path).
//!
//! Two phases, so that a token or session call is one store trip: [`credentials`] reads the
//! headers before the trip (and, for Basic auth, checks the password: argon2 runs on the
//! bounded hashing pool of [`super::hashing`], never inside a trip); [`resolve`] runs inside
//! the request's trip and turns the credentials into a [`Caller`].
//!
//! Passwords are throttled ([`check_password`]): wrong ones count per identity and per client
//! address ([`PASSWORD_LIMITS`] by default), counted before the hash runs; a locked identity
//! or address is refused even with the right password.
//!
//! Also the credential primitives: argon2id password hashes, SHA-256 token hashes, session
//! ids. Every comparison of a secret value is constant-time or a lookup by a hash; nothing
//! here logs a user name, password, token, cookie or code.

use std::net::SocketAddr;

use argon2::password_hash::SaltString;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::error::{Api, ApiError};
use super::hashing::{Memory, BUSY_RETRY_SECS};
use super::{ops, random_bytes, AppState, Trip};
use crate::store::{
    check_name, AccountKind, AuditKind, Limit, Limits, NewLocks, PasswordAttempt, Principal,
    Reader, Session,
};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "cpsession";
/// How long a browser session lives.
pub const SESSION_SECS: u64 = 8 * 60 * 60;
/// How long a pending session (a login that still owes its security code) lives: from the
/// password step, or from the moment 2FA became required of its login.
pub const PENDING_SECS: u64 = 5 * 60;
/// Wrong passwords: 10 in 15 minutes lock an identity for 15 minutes; 30 in 15 minutes from
/// one client address, across names (known or not), lock that address for 15 minutes.
/// `tfa serve --password-limit-user/--password-limit-ip/--password-window/--password-lock`
/// change them.
pub const PASSWORD_LIMITS: Limits = Limits {
    identity: Limit {
        max_failures: 10,
        window_secs: 15 * 60,
        lock_secs: 15 * 60,
    },
    ip: Limit {
        max_failures: 30,
        window_secs: 15 * 60,
        lock_secs: 15 * 60,
    },
};

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

/// An argon2id hash (PHC string, default parameters, random salt) of a password. For the
/// command line: it hashes on this thread, in memory of its own.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt_bytes = random_bytes::<16>()?;
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| ApiError::Internal(format!("salt: {e}")))?;
    Memory::default().hash(password.as_bytes(), &salt)
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

/// Where a password is checked; decides the audit event of a wrong one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordUse {
    /// `POST /login`.
    Login,
    /// Basic auth on an API call.
    Basic,
}

impl PasswordUse {
    fn audit_kind(self) -> AuditKind {
        match self {
            PasswordUse::Login => AuditKind::FailedLogin,
            PasswordUse::Basic => AuditKind::FailedBasicAuth,
        }
    }
}

/// What the counting job found before the hash runs.
struct Counted {
    row: i64,
    hash: Option<String>,
    principal: Option<Principal>,
}

fn password_locked(until: u64, now: u64) -> ApiError {
    ApiError::PasswordLocked {
        secs: until.saturating_sub(now),
    }
}

/// Verifies a login name and password from `ip`, throttled:
/// 1. a live lockout of the name or the address refuses it from a read (no write, no hash);
/// 2. a place in the hashing queue, or a refusal at once ([`ApiError::Busy`]);
/// 3. a hashing turn, awaited (a request dropped while it waits costs nothing more);
/// 4. one write job checks the lock again, counts the attempt (pending its verdict) and reads
///    the stored hash, so concurrent attempts never get more verdicts than the limits allow;
/// 5. argon2 on the bounded pool (a name that matches nobody is hashed all the same);
/// 6. one write job settles the attempt: a right password does not count, a wrong one is
///    audited (an unknown name as a keyed hash, never as typed) and may start a lockout.
///    This runs even if the client has gone meanwhile; if it went before the hash started,
///    the hash is skipped and the attempt does not count.
pub async fn check_password(
    state: &AppState,
    name: &str,
    password: &str,
    ip: &str,
    via: PasswordUse,
) -> Result<Option<Principal>, ApiError> {
    let now = state.now();
    let limits = state.password_limits;
    // Only a name that could be stored is looked up; any other matches nobody.
    let lookup = check_name(name).is_ok().then(|| name.to_owned());
    let locked = state.read(|r| Ok(r.password_locked_until(lookup.as_deref(), ip, now)?))?;
    if let Some(until) = locked {
        return Err(password_locked(until, now));
    }
    let turn = state.hasher.admit()?.turn().await?;
    let ip_count = ip.to_owned();
    let counted = state
        .write(move |w| {
            let (hash, principal) = match lookup.as_deref() {
                Some(n) => (w.password_hash(n)?, w.principal(n)?),
                None => (None, None),
            };
            let identity = hash.as_ref().and(principal.as_ref()).map(Principal::name);
            match w.begin_password_attempt(identity, &ip_count, now, limits)? {
                PasswordAttempt::Counted(row) => Ok(Counted {
                    row,
                    hash,
                    principal,
                }),
                PasswordAttempt::Locked { until } => Err(password_locked(until, now)),
                PasswordAttempt::Crowded => Err(ApiError::Busy {
                    retry_secs: BUSY_RETRY_SECS,
                }),
            }
        })
        .await?;
    let Counted {
        row,
        hash,
        principal,
    } = counted;
    let known = hash
        .as_ref()
        .and(principal.as_ref())
        .map(|p| p.name().to_owned());
    // The typed name may be a password typed into the wrong field: it is wiped after use and
    // reaches the store only as a keyed hash.
    let typed = Zeroizing::new(name.to_owned());
    let password = Zeroizing::new(password.as_bytes().to_vec());
    let (store, ip) = (state.store.clone(), ip.to_owned());
    let verdict = turn
        .run(
            move |memory: &mut Memory| memory.verify(hash.as_deref(), &password),
            move |verdict| {
                let locks = store.write(move |w| match verdict {
                    Some(false) => Ok::<_, ApiError>(w.password_wrong(
                        row,
                        known.as_deref(),
                        &typed,
                        &ip,
                        now,
                        via.audit_kind(),
                        "wrong user name or password",
                        limits,
                    )?),
                    Some(true) | None => {
                        w.password_right(row)?;
                        Ok(NewLocks::default())
                    }
                })?;
                if locks.identity || locks.ip {
                    tracing::warn!(
                        identity_locked = locks.identity,
                        address_locked = locks.ip,
                        "too many wrong passwords: lockout started"
                    );
                }
                Ok::<_, ApiError>(verdict)
            },
        )
        .await??;
    Ok(principal.filter(|_| verdict == Some(true)))
}

/// The client's address from a request's parts (as [`super::request::client_ip`] reads it
/// from the whole request), for throttling Basic auth.
fn parts_ip(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string())
}

/// Reads a request's credentials. Header credentials win; without them the session cookie is
/// used. Basic auth's password is checked here (throttled per name and per client address);
/// everything else waits for [`resolve`].
pub async fn credentials(
    state: &AppState,
    parts: &Parts,
    cpsess: Option<&str>,
    api: Api,
) -> Result<Credentials, ApiError> {
    let headers = &parts.headers;
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ApiError::AccessDenied)?;
        let (scheme, rest) = value.trim().split_once(' ').ok_or(ApiError::AccessDenied)?;
        let rest = rest.trim();
        return match scheme.to_ascii_lowercase().as_str() {
            "cpanel" if api == Api::Uapi => token_credentials(rest),
            "whm" if api == Api::Whm => token_credentials(rest),
            "basic" => basic_credentials(state, parts, rest).await,
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
    parts: &Parts,
    encoded: &str,
) -> Result<Credentials, ApiError> {
    let headers = &parts.headers;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| ApiError::AccessDenied)?;
    let decoded = zeroize::Zeroizing::new(decoded);
    let text = std::str::from_utf8(&decoded).map_err(|_| ApiError::AccessDenied)?;
    let (user, password) = text.split_once(':').ok_or(ApiError::AccessDenied)?;
    let principal = check_password(state, user, password, &parts_ip(parts), PasswordUse::Basic)
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
            // Looked up by the hash of a 160-bit random token; the account must be the named
            // one. Its record comes with it: the token check is one statement.
            let owner = r.token_owner(hash)?.ok_or(ApiError::AccessDenied)?;
            if owner.name != *user {
                return Err(ApiError::AccessDenied);
            }
            return Ok(Caller {
                principal: Principal::Account(owner),
            });
        }
        Credentials::Session {
            cookie_hash,
            cpsess,
        } => {
            let session = r.session(cookie_hash, now)?.ok_or(ApiError::AccessDenied)?;
            // A pending session can only finish logging in, whatever path it calls: it gets
            // the security-code step (its client may not even know its `cpsess` yet).
            if is_pending(r, &session)? {
                return Err(ApiError::TfaPending);
            }
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

/// Is a security code required of `principal`: the policy is on and it has 2FA?
pub fn code_required(r: &Reader<'_>, principal: &str) -> Result<bool, ApiError> {
    Ok(ops::policy_on(r)? && r.has_tfa(principal)?)
}

/// A session is pending while its login gave no security code and one is required of it: it
/// follows the requirement, so enrolling under the policy, or root turning the policy on,
/// makes the sessions that gave no code pending (cPanel's `tfa_verified`).
pub fn is_pending(r: &Reader<'_>, session: &Session) -> Result<bool, ApiError> {
    Ok(!session.tfa_verified && code_required(r, &session.principal)?)
}

/// For the enrollment page: does the cookie's session match this `cpsess`, and has it logged
/// in fully? A pending session is sent to `/login`, which asks for its code. One read trip.
pub fn session_for_page(
    state: &AppState,
    headers: &HeaderMap,
    cpsess: &str,
) -> Result<bool, ApiError> {
    let Some(cookie) = session_cookie(headers) else {
        return Ok(false);
    };
    let (hash, now) = (sha256(&cookie), state.now());
    state.read(|r| {
        Ok(match r.session(&hash, now)? {
            Some(s) => same_cpsess(cpsess, &s.cpsess) && !is_pending(r, &s)?,
            None => false,
        })
    })
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
