//! The 2FA operations that UAPI, WHM API 1, login and the CLI share: issuer resolution,
//! secret generation, code checks with replay refusal and throttling, enrollment.
//!
//! Every function here runs inside one store trip (a [`Reader`] or a [`Writer`]) and returns
//! typed refusals ([`ApiError`] values carrying data, never sentences). All TOTP work is the
//! core's; this module adds the store and the policy around it. It never logs a secret or a
//! code.

use crate::core::recovery;
use crate::core::secret::ChosenSecretError;
use crate::core::totp::{self, DEFAULT_WINDOW, DRIFT_SEARCH_STEPS, STEP_SECS};
use crate::core::{build_uri, Error as CoreError, Rejection, Secret, Token};
use crate::store::{AccountKind, AuditKind, Limit, Limits, Principal, Reader, StepOutcome, Writer};

use super::error::{ApiError, CodeProblem};
use super::random_bytes;

/// The issuer key that root writes: the store's key that no account name can be, so a
/// reseller's own entry (kept under its name) can never be the system-wide one.
pub const SYSTEM_ISSUER: &str = crate::store::SYSTEM_ISSUER_KEY;
/// The settings key of the security policy flag.
pub const POLICY_KEY: &str = "SecurityPolicy::TwoFactorAuth";
/// Wrong codes: 5 in 5 minutes lock an identity for 5 minutes; 50 in 5 minutes from one
/// client address, across identities, lock that address for 5 minutes.
pub const CODE_LIMITS: Limits = Limits {
    identity: Limit {
        max_failures: 5,
        window_secs: 300,
        lock_secs: 300,
    },
    ip: Limit {
        max_failures: 50,
        window_secs: 300,
        lock_secs: 300,
    },
};

/// Where a code is being checked; decides whether the last accepted step may be reused and
/// which hint a wrong code gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeUse {
    /// Enrollment: the caller supplied the secret, so a drift hint tells them nothing new.
    Enroll,
    /// Login: a step at or below the last accepted one is a replay; no drift hint.
    Login,
    /// `X-CPANEL-OTP`, sent with every request: the last accepted step may be used again
    /// (cPanel's clients send the same code on each call), earlier ones may not.
    Header,
}

/// `system_wide_issuer`, or the hostname when root has not set one.
pub fn system_wide_issuer(r: &Reader<'_>, hostname: &str) -> Result<String, ApiError> {
    Ok(r.issuer(SYSTEM_ISSUER)?
        .unwrap_or_else(|| hostname.to_owned()))
}

/// The issuer for a principal's otpauth URL (spec section 2): a reseller's own entry, then
/// the owner's entry, then `system_wide_issuer`, then the hostname.
pub fn resolve_issuer(
    r: &Reader<'_>,
    hostname: &str,
    principal: &Principal,
) -> Result<String, ApiError> {
    // The cPanel account behind the principal: itself, or a webmail/team user's account.
    let owned;
    let account = match principal {
        Principal::Account(a) => a,
        Principal::Identity(i) => {
            owned = r.account(&i.account)?.ok_or_else(|| {
                ApiError::Internal(format!("the identity “{}” has no account", i.name))
            })?;
            &owned
        }
    };
    let own = (account.kind == AccountKind::Reseller).then_some(account.name.as_str());
    let owner = (account.kind != AccountKind::Root && account.owner != "root")
        .then_some(account.owner.as_str());
    for key in [own, owner].into_iter().flatten() {
        if let Some(issuer) = r.issuer(key)? {
            return Ok(issuer);
        }
    }
    system_wide_issuer(r, hostname)
}

/// A new random 16-character secret and its otpauth URL for `principal`. Stores nothing.
pub fn generate(
    r: &Reader<'_>,
    hostname: &str,
    principal: &Principal,
) -> Result<(Secret, String), ApiError> {
    let secret =
        Secret::from_random_bytes(&random_bytes::<{ crate::core::secret::RANDOM_BYTES }>()?);
    let issuer = resolve_issuer(r, hostname, principal)?;
    let uri = build_uri(&issuer, principal.name(), &secret);
    Ok((secret, uri))
}

/// Is the two-factor security policy on?
pub fn policy_on(r: &Reader<'_>) -> Result<bool, ApiError> {
    Ok(r.setting(POLICY_KEY)?.as_deref() == Some("1"))
}

/// A code that is not six digits: `No security code specified.` when empty, else invalid
/// with the core's reason. Never counted as a failure.
fn malformed(e: CoreError) -> ApiError {
    match e {
        CoreError::TokenEmpty => ApiError::NoCode,
        e => ApiError::InvalidCode(CodeProblem::Malformed(e)),
    }
}

/// Seconds until the step after `step` starts, as seen at `now`.
fn next_step_in(step: u64, now: u64) -> u64 {
    (step.saturating_add(1))
        .saturating_mul(STEP_SECS)
        .saturating_sub(now)
        .max(1)
}

/// Checks a code against `secret` for `identity`, inside the write trip that records the
/// outcome, so the lock check, the verdict and the failure record are one atomic step (the
/// store's single writer runs one such job at a time: parallel wrong codes cannot all pass
/// the lock check before the first is counted). Malformed codes and replays of an accepted
/// step are refused without being counted. Returns the matching step; the
/// caller records it (through `accept_step` or `enroll`) in the same trip.
pub fn check_code(
    w: &Writer<'_>,
    identity: &str,
    ip: &str,
    now: u64,
    secret: &Secret,
    code: &str,
    how: CodeUse,
) -> Result<u64, ApiError> {
    Token::parse(code).map_err(malformed)?;
    refuse_if_locked(w, identity, ip, now)?;
    let last = w.last_step(identity)?;
    let last = match how {
        CodeUse::Enroll | CodeUse::Login => last,
        CodeUse::Header => last.map(|s| s.saturating_sub(1)),
    };
    let problem = match totp::verify(secret, code, now, DEFAULT_WINDOW, last) {
        Ok(step) => return Ok(step),
        Err(Rejection::Malformed(e)) => return Err(malformed(e)),
        // A code that was right a moment ago (a double submit, a retried request) is refused
        // but not counted: it is no guess, and counting it would lock out the user whose
        // browser sent the form twice. Only a different code can be a guess.
        Err(Rejection::Replayed { .. }) => {
            return Err(ApiError::InvalidCode(CodeProblem::Replayed {
                next_in: next_step_in(last.unwrap_or(0), now),
            }))
        }
        Err(Rejection::Invalid) => match how {
            CodeUse::Enroll => CodeProblem::Wrong {
                drift: totp::find_drift(secret, code, now, DRIFT_SEARCH_STEPS),
            },
            CodeUse::Login | CodeUse::Header => CodeProblem::WrongAtLogin,
        },
    };
    count_failure(w, identity, ip, now, "invalid code")?;
    Err(ApiError::InvalidCode(problem))
}

/// A lockout of the identity or the client address, if one is running. First holds both
/// (see [`Writer::hold`]): in every instance sharing the database, the jobs judging this
/// identity's or this address's codes run one at a time, so parallel guesses cannot all pass
/// this check before the first is counted.
fn refuse_if_locked(w: &Writer<'_>, identity: &str, ip: &str, now: u64) -> Result<(), ApiError> {
    w.hold_attempts(Some(identity), ip)?;
    let locked = [
        w.locked_until(&format!("user:{identity}"), now)?,
        w.locked_until(&format!("ip:{ip}"), now)?,
    ]
    .into_iter()
    .flatten()
    .max();
    match locked {
        Some(until) => Err(ApiError::Locked {
            secs: until.saturating_sub(now),
        }),
        None => Ok(()),
    }
}

/// Counts a wrong code (a security code or a recovery code: one budget for both) against the
/// identity and the address, starting a lockout at the limit.
fn count_failure(
    w: &Writer<'_>,
    identity: &str,
    ip: &str,
    now: u64,
    detail: &str,
) -> Result<(), ApiError> {
    let locks = w.record_failure(
        identity,
        ip,
        now,
        AuditKind::FailedCode,
        detail,
        CODE_LIMITS,
    )?;
    if locks.identity || locks.ip {
        tracing::warn!(
            identity_locked = locks.identity,
            address_locked = locks.ip,
            "too many invalid security codes: lockout started"
        );
    }
    Ok(())
}

/// Checks `code` against `secret` and records its step as accepted; a step accepted before is
/// a replay, except for `Header`, which may reuse the last one.
fn prove_code(
    w: &Writer<'_>,
    identity: &str,
    ip: &str,
    now: u64,
    secret: &Secret,
    code: &str,
    how: CodeUse,
) -> Result<(), ApiError> {
    let step = check_code(w, identity, ip, now, secret, code, how)?;
    if w.accept_step(identity, step)? == StepOutcome::Replayed && how != CodeUse::Header {
        return Err(ApiError::InvalidCode(CodeProblem::Replayed {
            next_in: next_step_in(step, now),
        }));
    }
    Ok(())
}

/// The stored secret of `identity`, opened and parsed.
fn stored_secret(w: &Writer<'_>, identity: &str) -> Result<Option<Secret>, ApiError> {
    let Some(text) = w.tfa_secret(identity)? else {
        return Ok(None);
    };
    let secret = Secret::parse(&text).map_err(|_| {
        ApiError::Internal(format!("the stored secret of “{identity}” is unreadable"))
    })?;
    Ok(Some(secret))
}

/// The second factor of a password login or a Basic-auth call: required only when the
/// policy is on and the identity has a secret. On success the step is recorded. At a login
/// (and only there: never in `X-CPANEL-OTP`) a recovery code may stand in for the security
/// code; it is used up, and the answer is how many are left.
pub fn second_factor(
    w: &Writer<'_>,
    identity: &str,
    ip: &str,
    now: u64,
    code: &str,
    how: CodeUse,
) -> Result<Option<usize>, ApiError> {
    if !policy_on(w)? {
        return Ok(None);
    }
    // Held before the secret is read, so a concurrent enrollment in another instance is
    // either wholly before this check or wholly after it.
    w.hold_attempts(Some(identity), ip)?;
    let Some(secret) = stored_secret(w, identity)? else {
        return Ok(None);
    };
    if how == CodeUse::Login {
        if let Some(canonical) = recovery::normalize(code) {
            return use_recovery_code(w, identity, ip, now, &canonical).map(Some);
        }
    }
    prove_code(w, identity, ip, now, &secret, code, how)?;
    Ok(None)
}

/// A login's recovery code: used up if it is one of the identity's, else counted as a wrong
/// code (the same lockout budget, so recovery codes are no side door for guessing).
fn use_recovery_code(
    w: &Writer<'_>,
    identity: &str,
    ip: &str,
    now: u64,
    canonical: &str,
) -> Result<usize, ApiError> {
    refuse_if_locked(w, identity, ip, now)?;
    match w.use_recovery_code(identity, canonical)? {
        Some(left) => {
            w.audit(
                now,
                AuditKind::RecoveryCodeUsed,
                identity,
                ip,
                &format!("recovery code used in place of a security code; {left} left"),
            )?;
            Ok(left)
        }
        None => {
            count_failure(w, identity, ip, now, "invalid recovery code")?;
            Err(ApiError::InvalidCode(CodeProblem::WrongAtLogin))
        }
    }
}

/// A new set of recovery codes for `identity`, replacing its old set; the codes as shown,
/// `XXXXX-XXXXX`. Only their keyed hashes are stored.
pub fn new_recovery_codes(
    w: &Writer<'_>,
    identity: &str,
    ip: &str,
    now: u64,
) -> Result<Vec<String>, ApiError> {
    // One draw of randomness for the set (this runs in the store's writer).
    let random = random_bytes::<{ recovery::RANDOM_BYTES * recovery::CODES_PER_SET }>()?;
    let mut shown = Vec::with_capacity(recovery::CODES_PER_SET);
    for bytes in random.chunks_exact(recovery::RANDOM_BYTES) {
        let mut one = [0u8; recovery::RANDOM_BYTES];
        one.copy_from_slice(bytes);
        shown.push(recovery::code_from_random(&one));
    }
    // Stored in the form a login's code is read into, by the same function.
    let canonical: Vec<String> = shown
        .iter()
        .filter_map(|c| recovery::normalize(c))
        .collect();
    if canonical.len() != shown.len() {
        return Err(ApiError::Internal(
            "a recovery code does not read back".to_owned(),
        ));
    }
    w.replace_recovery_codes(identity, &canonical)?;
    w.audit(
        now,
        AuditKind::RecoveryCodes,
        identity,
        ip,
        &format!(
            "{} new recovery codes made; any older ones no longer work",
            shown.len()
        ),
    )?;
    Ok(shown)
}

/// `TfaRecoveryCodes::regenerate`: a current security code (never a recovery code), checked
/// and counted as at a login, then a new set replacing the old.
pub fn regenerate_recovery_codes(
    w: &Writer<'_>,
    identity: &str,
    ip: &str,
    now: u64,
    code: Option<&str>,
) -> Result<Vec<String>, ApiError> {
    w.hold_attempts(Some(identity), ip)?;
    let Some(secret) = stored_secret(w, identity)? else {
        return Err(ApiError::RecoveryWithoutTfa);
    };
    prove_code(
        w,
        identity,
        ip,
        now,
        &secret,
        code.unwrap_or(""),
        CodeUse::Login,
    )?;
    new_recovery_codes(w, identity, ip, now)
}

/// Enrollment (UAPI `set_user_configuration`, WHM `twofactorauth_set_tfa_config`): checks the
/// code against the supplied secret and only then stores the secret for `identity`, with a
/// new set of recovery codes (returned, to be shown once).
pub fn enroll(
    w: &Writer<'_>,
    identity: &str,
    ip: &str,
    now: u64,
    secret: Option<&str>,
    code: Option<&str>,
) -> Result<Vec<String>, ApiError> {
    // The client chose this secret: 16 to 128 base32 characters, refused before any code is
    // checked or counted.
    let secret = match secret.map(Secret::parse_chosen) {
        Some(Ok(secret)) => secret,
        Some(Err(ChosenSecretError::Size { len })) => return Err(ApiError::SecretSize { len }),
        Some(Err(ChosenSecretError::Invalid(_))) | None => {
            return Err(ApiError::MissingOrInvalid("secret"))
        }
    };
    let step = match check_code(
        w,
        identity,
        ip,
        now,
        &secret,
        code.unwrap_or(""),
        CodeUse::Enroll,
    ) {
        Ok(step) => step,
        // cPanel answers a missing code at enrollment as an invalid one, with no hint.
        Err(ApiError::NoCode) => return Err(ApiError::InvalidCode(CodeProblem::WrongAtLogin)),
        Err(e) => return Err(e),
    };
    match w.enroll(identity, secret.expose(), step)? {
        StepOutcome::Accepted => {
            w.audit(
                now,
                AuditKind::Enable,
                identity,
                ip,
                "two-factor authentication configured",
            )?;
            // Under the policy a code is now required of this login: its sessions that gave
            // none (this one included) are pending from now on.
            if policy_on(w)? {
                w.sessions_pending_for(identity, now.saturating_add(super::auth::PENDING_SECS))?;
            }
            new_recovery_codes(w, identity, ip, now)
        }
        StepOutcome::Replayed => Err(ApiError::InvalidCode(CodeProblem::Replayed {
            next_in: next_step_in(step, now),
        })),
    }
}

/// Removes a 2FA config and audits it. True if one was stored. Its recovery codes go with it
/// (the store deletes them with the config, whatever path removes it).
pub fn remove(
    w: &Writer<'_>,
    identity: &str,
    by: &str,
    ip: &str,
    now: u64,
) -> Result<bool, ApiError> {
    let removed = w.remove_tfa(identity)?;
    if removed {
        w.audit(
            now,
            AuditKind::Disable,
            identity,
            ip,
            &format!("two-factor authentication removed by {by}"),
        )?;
    }
    Ok(removed)
}
