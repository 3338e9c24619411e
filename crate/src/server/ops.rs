//! The 2FA operations that UAPI, WHM API 1, login and the CLI share: issuer resolution,
//! secret generation, code checks with replay refusal and throttling, enrollment.
//!
//! All TOTP work is the core's ([`crate::core::totp::verify`] and friends); this module adds
//! the store, the clock and the policy around it. It never logs a secret or a code.

use crate::core::totp::{self, DEFAULT_WINDOW, DRIFT_SEARCH_STEPS, STEP_SECS};
use crate::core::{build_uri, Error as CoreError, Rejection, Secret, Token};
use crate::store::{AccountKind, Limit, Principal, StepOutcome, Store, StoreError};

use super::error::ApiError;
use super::{random_bytes, AppState};

/// The issuer key that root writes.
pub const SYSTEM_ISSUER: &str = "system_wide_issuer";
/// The settings key of the security policy flag.
pub const POLICY_KEY: &str = "SecurityPolicy::TwoFactorAuth";
/// Wrong codes per identity: 5 in 5 minutes lock it for 5 minutes.
pub const IDENTITY_LIMIT: Limit = Limit {
    max_failures: 5,
    window_secs: 300,
    lock_secs: 300,
};
/// Wrong codes per client address, across identities: 50 in 5 minutes lock it for 5 minutes.
pub const IP_LIMIT: Limit = Limit {
    max_failures: 50,
    window_secs: 300,
    lock_secs: 300,
};
/// The hint sent with a refused replay.
pub const REPLAY_HINT: &str = "This security code has already been used. Wait for the next code from your authenticator app, then try again.";

/// Where a code is being checked; decides whether the last accepted step may be reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeUse {
    /// Login and enrollment: a step at or below the last accepted one is a replay.
    Strict,
    /// `X-CPANEL-OTP`, sent with every request: the last accepted step may be used again
    /// (cPanel's clients send the same code on each call), earlier ones may not.
    Header,
}

/// `system_wide_issuer`, or the hostname when root has not set one.
pub async fn system_wide_issuer(state: &AppState) -> Result<String, ApiError> {
    Ok(state
        .db(|s| s.issuer(SYSTEM_ISSUER))
        .await?
        .unwrap_or_else(|| state.hostname.to_string()))
}

/// The issuer for a principal's otpauth URL (spec section 2): a reseller's own entry, then
/// the owner's entry, then `system_wide_issuer`, then the hostname. One trip to the store.
pub async fn resolve_issuer(state: &AppState, principal: &Principal) -> Result<String, ApiError> {
    let principal = principal.clone();
    let found = state
        .db(move |s| {
            // The cPanel account behind the principal: itself, or a webmail/team user's account.
            let account = match principal {
                Principal::Account(a) => a,
                Principal::Identity(i) => s.account(&i.account)?.ok_or_else(|| {
                    StoreError::Corrupt(format!("the identity “{}” has no account", i.name))
                })?,
            };
            let own = (account.kind == AccountKind::Reseller).then_some(account.name.as_str());
            let owner = (account.kind != AccountKind::Root && account.owner != "root")
                .then_some(account.owner.as_str());
            for key in [own, owner, Some(SYSTEM_ISSUER)].into_iter().flatten() {
                if let Some(issuer) = s.issuer(key)? {
                    return Ok(Some(issuer));
                }
            }
            Ok(None)
        })
        .await?;
    Ok(found.unwrap_or_else(|| state.hostname.to_string()))
}

/// A new random 16-character secret and its otpauth URL for `principal`. Stores nothing.
pub async fn generate(
    state: &AppState,
    principal: &Principal,
) -> Result<(Secret, String), ApiError> {
    let secret =
        Secret::from_random_bytes(&random_bytes::<{ crate::core::secret::RANDOM_BYTES }>()?);
    let issuer = resolve_issuer(state, principal).await?;
    let uri = build_uri(&issuer, principal.name(), &secret);
    Ok((secret, uri))
}

/// Is the two-factor security policy on?
pub async fn policy_on(state: &AppState) -> Result<bool, ApiError> {
    state.db(policy_is_on).await
}

fn policy_is_on(store: &Store) -> Result<bool, StoreError> {
    Ok(store.setting(POLICY_KEY)?.as_deref() == Some("1"))
}

/// A code that is not six digits: `No security code specified.` when empty, else invalid
/// with the core's reason as a hint. Not counted as a failure.
fn malformed(e: CoreError) -> ApiError {
    match e {
        CoreError::TokenEmpty => ApiError::NoCode,
        e => ApiError::InvalidCode {
            hints: vec![e.to_string()],
        },
    }
}

/// Checks a code against `secret` for `identity`: refuses malformed codes (not counted),
/// lockouts, wrong codes and replays (counted, audited). Returns the matching step; the caller
/// records it (through `accept_step` or `enroll`).
pub async fn check_code(
    state: &AppState,
    identity: &str,
    ip: &str,
    secret: &Secret,
    code: &str,
    how: CodeUse,
) -> Result<u64, ApiError> {
    // Refused before the store is asked, so a malformed code neither counts nor waits on a lock.
    Token::parse(code).map_err(malformed)?;
    let now = state.now();
    let (id_key, ip_key, name) = (
        format!("user:{identity}"),
        format!("ip:{ip}"),
        identity.to_owned(),
    );
    let (locked, last) = state
        .db(move |s| {
            let until = [s.locked_until(&id_key, now)?, s.locked_until(&ip_key, now)?]
                .into_iter()
                .flatten()
                .max();
            Ok((until, s.last_step(&name)?))
        })
        .await?;
    if let Some(until) = locked {
        return Err(ApiError::Locked {
            secs: until.saturating_sub(now),
        });
    }
    let last = match how {
        CodeUse::Strict => last,
        CodeUse::Header => last.map(|s| s.saturating_sub(1)),
    };
    match totp::verify(secret, code, now, DEFAULT_WINDOW, last) {
        Ok(step) => Ok(step),
        Err(Rejection::Replayed { .. }) => {
            record_failure(state, identity, ip, "replayed code").await?;
            Err(ApiError::InvalidCode {
                hints: vec![REPLAY_HINT.to_owned()],
            })
        }
        Err(Rejection::Invalid) => {
            record_failure(state, identity, ip, "invalid code").await?;
            let hints = drift_hint(secret, code, now).into_iter().collect();
            Err(ApiError::InvalidCode { hints })
        }
        Err(Rejection::Malformed(e)) => Err(malformed(e)),
    }
}

async fn record_failure(
    state: &AppState,
    identity: &str,
    ip: &str,
    detail: &'static str,
) -> Result<(), ApiError> {
    let (identity, ip, now) = (identity.to_owned(), ip.to_owned(), state.now());
    let locks = state
        .db(move |s| s.record_failure(&identity, &ip, now, detail, IDENTITY_LIMIT, IP_LIMIT))
        .await?;
    if locks.identity || locks.ip {
        tracing::warn!(
            identity_locked = locks.identity,
            address_locked = locks.ip,
            "too many invalid security codes: lockout started"
        );
    }
    Ok(())
}

/// "Your device's clock is N minutes off", when the code matches a nearby step.
fn drift_hint(secret: &Secret, code: &str, now: u64) -> Option<String> {
    let offset = totp::find_drift(secret, code, now, DRIFT_SEARCH_STEPS)?;
    let secs = offset.unsigned_abs() * STEP_SECS;
    let (amount, unit) = if secs >= 120 {
        (secs / 60, "minutes")
    } else {
        (secs, "seconds")
    };
    let side = if offset > 0 { "ahead of" } else { "behind" };
    Some(format!(
        "The code matches a time about {amount} {unit} {side} the server’s clock. Check that the clock on your device is set automatically."
    ))
}

/// The second factor of a password login or a Basic-auth call: required only when the
/// policy is on and the identity has a secret. On success the step is recorded.
pub async fn second_factor(
    state: &AppState,
    identity: &str,
    code: &str,
    ip: &str,
    how: CodeUse,
) -> Result<(), ApiError> {
    let name = identity.to_owned();
    let stored = state
        .db(move |s| {
            if policy_is_on(s)? {
                s.tfa_secret(&name)
            } else {
                Ok(None)
            }
        })
        .await?;
    let Some(text) = stored else {
        return Ok(());
    };
    let secret = Secret::parse(&text).map_err(|_| {
        ApiError::Internal(format!("the stored secret of “{identity}” is unreadable"))
    })?;
    let step = check_code(state, identity, ip, &secret, code, how).await?;
    let name = identity.to_owned();
    let outcome = state.db(move |s| s.accept_step(&name, step)).await?;
    if outcome == StepOutcome::Replayed && how == CodeUse::Strict {
        return Err(ApiError::InvalidCode {
            hints: vec![REPLAY_HINT.to_owned()],
        });
    }
    Ok(())
}

/// Enrollment (UAPI `set_user_configuration`, WHM `twofactorauth_set_tfa_config`): checks the
/// code against the supplied secret and only then stores the secret for `identity`.
pub async fn enroll(
    state: &AppState,
    identity: &str,
    ip: &str,
    secret: Option<&str>,
    code: Option<&str>,
) -> Result<(), ApiError> {
    let secret = secret
        .and_then(|s| Secret::parse(s).ok())
        .ok_or(ApiError::MissingOrInvalid("secret"))?;
    let step = match check_code(
        state,
        identity,
        ip,
        &secret,
        code.unwrap_or(""),
        CodeUse::Strict,
    )
    .await
    {
        Ok(step) => step,
        Err(ApiError::NoCode) => return Err(ApiError::InvalidCode { hints: Vec::new() }),
        Err(e) => return Err(e),
    };
    let (name, text, now, ip) = (
        identity.to_owned(),
        secret.expose().to_owned(),
        state.now(),
        ip.to_owned(),
    );
    let outcome = state
        .db(move |s| {
            let outcome = s.enroll(&name, &text, step)?;
            if outcome == StepOutcome::Accepted {
                s.audit(
                    now,
                    "enable",
                    &name,
                    &ip,
                    "two-factor authentication configured",
                )?;
            }
            Ok(outcome)
        })
        .await?;
    match outcome {
        StepOutcome::Accepted => Ok(()),
        StepOutcome::Replayed => Err(ApiError::InvalidCode {
            hints: vec![REPLAY_HINT.to_owned()],
        }),
    }
}

/// Removes a 2FA config and audits it. True if one was stored.
pub async fn remove(
    state: &AppState,
    identity: &str,
    by: &str,
    ip: &str,
) -> Result<bool, ApiError> {
    let (name, by, ip, now) = (
        identity.to_owned(),
        by.to_owned(),
        ip.to_owned(),
        state.now(),
    );
    state
        .db(move |s| {
            let removed = s.remove_tfa(&name)?;
            if removed {
                s.audit(
                    now,
                    "disable",
                    &name,
                    &ip,
                    &format!("two-factor authentication removed by {by}"),
                )?;
            }
            Ok(removed)
        })
        .await
}
