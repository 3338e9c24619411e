//! API tokens as cPanel manages them: named, unique per account, shown once at creation and
//! stored as a SHA-256 hash. WHM API 1 `api_token_create`, `api_token_list` and
//! `api_token_revoke` here; UAPI `Tokens::*` ([`crate::server::uapi_tokens`]) share the core.
//!
//! Every token has its account's full access: the restrictions cPanel can add (`acl`,
//! `expires_at`, `whitelist_ip`) are refused rather than ignored, since ignoring one would
//! grant more than the caller asked for.

use serde_json::{json, Map, Value};

use super::Answer;
use crate::server::auth::{new_token, sha256};
use crate::server::{ApiError, Ctx, Input, Params, Trip};
use crate::store::Principal;

/// The longest token name cPanel takes.
pub const TOKEN_NAME_MAX: usize = 50;

/// cPanel's rule for token names: 1 to 50 letters, digits, dashes and underscores.
pub fn check_token_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= TOKEN_NAME_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::TokenNameRule)
    }
}

/// The account whose tokens the caller manages: its own (webmail and team users have none).
pub fn token_owner(ctx: &Ctx) -> Result<&str, ApiError> {
    match &ctx.caller.principal {
        Principal::Account(a) => Ok(&a.name),
        Principal::Identity(_) => Err(ApiError::TokensForAccountsOnly),
    }
}

/// Refuses the restrictions this server does not implement (any `acl` other than `all`, a
/// non-zero `expires_at`, any `whitelist_ip`), each also in its `-N` form.
pub fn refuse_restrictions(params: &Params) -> Result<(), ApiError> {
    for (key, value) in params.pairs() {
        let base = key.split_once('-').map_or(key.as_str(), |(b, _)| b);
        match base {
            "acl" if !value.is_empty() && value != "all" => {
                return Err(ApiError::TokenRestriction("acl"))
            }
            "expires_at" if !value.is_empty() && value != "0" => {
                return Err(ApiError::TokenRestriction("expires_at"))
            }
            "whitelist_ip" if !value.is_empty() => {
                return Err(ApiError::TokenRestriction("whitelist_ip"))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Creates a token named `name` for the caller's account: the token, shown this once.
pub fn create(trip: Trip<'_, '_>, ctx: &Ctx, name: Option<&str>) -> Result<String, ApiError> {
    let owner = token_owner(ctx)?.to_owned();
    let name = name.unwrap_or("");
    check_token_name(name)?;
    let token = new_token()?;
    let w = trip.writer()?;
    if !w.add_named_token(&owner, name, &sha256(&token), ctx.now)? {
        return Err(ApiError::TokenNameTaken(name.to_owned()));
    }
    Ok(token)
}

/// Revokes the caller's token `name`; false when there was none of that name.
pub fn revoke(trip: Trip<'_, '_>, ctx: &Ctx, name: &str) -> Result<bool, ApiError> {
    let owner = token_owner(ctx)?.to_owned();
    Ok(trip.writer()?.revoke_named_token(&owner, name)?)
}

/// `api_token_create` (`token_name`): `{name, token, create_time, acls, expires_at}`.
pub fn api_token_create(trip: Trip<'_, '_>, ctx: &Ctx, input: &Input) -> Result<Answer, ApiError> {
    let p = &input.params;
    refuse_restrictions(p)?;
    let name = p
        .get("token_name")
        .ok_or(ApiError::MissingOrInvalid("token_name"))?;
    let token = create(trip, ctx, Some(name))?;
    Ok(Some(json!({
        "name": name,
        "token": token,
        "create_time": ctx.now,
        "acls": ["all"],
        "expires_at": Value::Null,
    })))
}

/// `api_token_list`: `{tokens: {NAME: {name, create_time, acls, expires_at, whitelist_ips}}}`;
/// never a token or its hash.
pub fn api_token_list(trip: Trip<'_, '_>, ctx: &Ctx) -> Result<Answer, ApiError> {
    let owner = token_owner(ctx)?;
    let mut tokens = Map::new();
    for t in trip.reader().named_tokens_of(owner)? {
        tokens.insert(
            t.name.clone(),
            json!({
                "name": t.name,
                "create_time": t.created,
                "acls": {"all": 1},
                "expires_at": Value::Null,
                "whitelist_ips": Value::Null,
            }),
        );
    }
    Ok(Some(json!({ "tokens": tokens })))
}

/// `api_token_revoke` (`token_name`, or `token_name-N` for several): metadata only. Every
/// name must be the caller's; none is revoked otherwise.
pub fn api_token_revoke(trip: Trip<'_, '_>, ctx: &Ctx, input: &Input) -> Result<Answer, ApiError> {
    let names: Vec<&String> = input
        .params
        .pairs()
        .iter()
        .filter(|(k, _)| {
            k == "token_name"
                || k.strip_prefix("token_name-")
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
        .collect();
    if names.is_empty() {
        return Err(ApiError::MissingOrInvalid("token_name"));
    }
    let owner = token_owner(ctx)?;
    let have: Vec<String> = trip
        .reader()
        .named_tokens_of(owner)?
        .into_iter()
        .map(|t| t.name)
        .collect();
    if let Some(missing) = names.iter().find(|n| !have.contains(n)) {
        return Err(ApiError::NoSuchToken((*missing).clone()));
    }
    for name in names {
        revoke(trip, ctx, name)?;
    }
    Ok(None)
}
