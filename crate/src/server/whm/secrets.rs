//! The two functions that move secrets: `twofactorauth_get_tfa_config_for_user` (every
//! secret of an account, audited) and `twofactorauth_set_tfa_config_for_user` (replaces them
//! from a JSON body). Only for the accounts a caller controls, never root's.

use serde_json::{json, Map, Value};

use super::{access, Answer};
use crate::core::secret::ChosenSecretError;
use crate::core::Secret;
use crate::server::error::{ApiError, DataProblem};
use crate::server::{Ctx, Trip};
use crate::store::{check_name, Account, AccountKind, AuditKind, IdentityKind, Reader};

/// Access check for the two `*_tfa_config_for_user` functions: a cPanel account the caller
/// controls, else `Invalid user: X`.
fn account_for_secrets(r: &Reader<'_>, me: &Account, user: &str) -> Result<Account, ApiError> {
    if check_name(user).is_err() {
        return Err(ApiError::BadUserName(user.to_owned()));
    }
    match access(r, me, user)? {
        Ok(a) if a.kind != AccountKind::Root => Ok(a),
        _ => Err(ApiError::InvalidUser(user.to_owned())),
    }
}

pub(super) fn get_tfa_config_for_user(
    trip: Trip<'_, '_>,
    ctx: &Ctx,
    me: &Account,
    user: Option<&str>,
) -> Result<Answer, ApiError> {
    let user = user.unwrap_or("");
    if user.is_empty() {
        return Err(ApiError::InvalidUser(String::new()));
    }
    let w = trip.writer()?;
    let account = account_for_secrets(w, me, user)?;
    let mut out = Map::new();
    if let Some(secret) = w.tfa_secret(&account.name)? {
        out.insert("primary_account".to_owned(), json!({"secret": secret}));
    }
    let mut email = Map::new();
    let mut team = Map::new();
    for identity in w.identities_of(&account.name)? {
        let Some(secret) = w.tfa_secret(&identity.name)? else {
            continue;
        };
        let section = match identity.kind {
            IdentityKind::Webmail => &mut email,
            IdentityKind::Team => &mut team,
        };
        section.insert(identity.name, json!({"secret": secret}));
    }
    if !email.is_empty() {
        out.insert("email".to_owned(), Value::Object(email));
    }
    if !team.is_empty() {
        out.insert("team".to_owned(), Value::Object(team));
    }
    w.audit(
        ctx.now,
        AuditKind::ReadSecrets,
        &account.name,
        &ctx.ip,
        &format!("2FA secrets read by {}", me.name),
    )?;
    Ok(Some(json!({ account.name: out })))
}

/// Reads `{"secret": "…"}` for one entry; the secret must be one a client may choose.
fn entry_secret(entry: &Value, what: &str) -> Result<String, ApiError> {
    let invalid = |p| ApiError::InvalidData(Some(p));
    let obj = entry
        .as_object()
        .filter(|o| o.keys().all(|k| k == "secret"))
        .ok_or_else(|| invalid(DataProblem::OnlySecretKey(what.to_owned())))?;
    let secret = obj
        .get("secret")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(DataProblem::NoSecret(what.to_owned())))?;
    // An administrator chooses these secrets: 16 to 128 base32 characters, as at enrollment.
    Secret::parse_chosen(secret).map_err(|e| {
        invalid(match e {
            ChosenSecretError::Invalid(e) => DataProblem::BadSecret(what.to_owned(), e),
            ChosenSecretError::Size { len } => DataProblem::SecretSize {
                what: what.to_owned(),
                len,
            },
        })
    })?;
    Ok(secret.to_owned())
}

pub(super) fn set_tfa_config_for_user(
    trip: Trip<'_, '_>,
    ctx: &Ctx,
    me: &Account,
    body: Option<&[u8]>,
) -> Result<Answer, ApiError> {
    let body = body.ok_or(ApiError::NeedsJsonBody)?;
    let value: Value = serde_json::from_slice(body).map_err(|e| ApiError::BadJson {
        line: e.line(),
        column: e.column(),
    })?;
    let Some((user, config)) = value
        .as_object()
        .filter(|m| m.len() == 1)
        .and_then(|m| m.iter().next())
    else {
        return Err(ApiError::InvalidData(None));
    };
    let w = trip.writer()?;
    let account = account_for_secrets(w, me, user)?;
    let config = config.as_object().ok_or(ApiError::InvalidData(None))?;
    let identities = w.identities_of(&account.name)?;
    let owns =
        |kind: IdentityKind, n: &str| identities.iter().any(|i| i.kind == kind && i.name == n);
    let mut entries = Vec::new();
    for (key, section) in config {
        match key.as_str() {
            "primary_account" => {
                entries.push((
                    account.name.clone(),
                    entry_secret(section, "primary_account")?,
                ));
            }
            "email" | "team" => {
                let kind = if key == "email" {
                    IdentityKind::Webmail
                } else {
                    IdentityKind::Team
                };
                let items = section.as_object().ok_or(ApiError::InvalidData(None))?;
                for (who, entry) in items {
                    if !owns(kind, who) {
                        return Err(ApiError::InvalidData(Some(DataProblem::NotOwned {
                            user: user.clone(),
                            kind,
                            who: who.clone(),
                        })));
                    }
                    entries.push((who.clone(), entry_secret(entry, who)?));
                }
            }
            other => {
                return Err(ApiError::InvalidData(Some(DataProblem::BadKey {
                    key: other.to_owned(),
                    user: user.clone(),
                })))
            }
        }
    }
    w.replace_account_tfa(&account.name, &entries)?;
    w.audit(
        ctx.now,
        AuditKind::Replace,
        &account.name,
        &ctx.ip,
        &format!("2FA entries replaced by {}", me.name),
    )?;
    Ok(None)
}
