//! WHM API 1 `twofactorauth_*` over `/json-api/` and `/xml-api/` (also under
//! `/cpsessNNNNNNNNNN/`): the `{data, metadata}` envelope, `api.version=1` only.
//!
//! Callers are root and resellers. Root sees every account plus `root`; a reseller sees the
//! accounts it owns (spec section 4). This module never logs parameters or secrets.

use std::collections::BTreeSet;

use axum::extract::{Path, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::auth::Caller;
use super::error::{whm_envelope, Api, ApiError};
use super::format::to_whm_xml;
use super::{api_request, client_ip, failure_status, no_store, ops, AppState, Input};
use crate::core::{normalize_issuer, Secret};
use crate::store::{check_name, Account, AccountKind, IdentityKind, Principal};

/// The functions this server implements.
pub const FUNCTIONS: &[&str] = &[
    "twofactorauth_generate_tfa_config",
    "twofactorauth_set_tfa_config",
    "twofactorauth_get_user_configs",
    "twofactorauth_remove_user_config",
    "twofactorauth_get_issuer",
    "twofactorauth_set_issuer",
    "twofactorauth_enable_policy",
    "twofactorauth_disable_policy",
    "twofactorauth_policy_status",
    "twofactorauth_get_tfa_config_for_user",
    "twofactorauth_set_tfa_config_for_user",
];

const ISSUER_RULE: &str = "Failed to set issuer: The “issuer” parameter must be less than or equal to 32 characters in length. It can only use spaces and the following characters: a-z, A-Z, 0-9, ., _, -";
const INVALID_DATA: &str = "Invalid data detected in input arguments.";

/// The path of a WHM API 1 call; `cpsess` only under `/cpsessNNNNNNNNNN/`.
#[derive(Deserialize)]
pub struct WhmPath {
    cpsess: Option<String>,
    function: String,
}

/// `/json-api/{function}` and `/{cpsess}/json-api/{function}`.
pub async fn json(State(s): State<AppState>, Path(path): Path<WhmPath>, req: Request) -> Response {
    handle(s, path, false, req).await
}

/// `/xml-api/{function}` and `/{cpsess}/xml-api/{function}`.
pub async fn xml(State(s): State<AppState>, Path(path): Path<WhmPath>, req: Request) -> Response {
    handle(s, path, true, req).await
}

async fn handle(state: AppState, path: WhmPath, xml: bool, req: Request) -> Response {
    let WhmPath { cpsess, function } = path;
    let ip = client_ip(&req);
    let method = req.method().clone();
    let result = async {
        let version_1 = |input: &Input| match input.params.get("api.version") {
            Some("1") => Ok(()),
            _ => Err(ApiError::ApiVersion),
        };
        let (caller, input) =
            api_request(&state, cpsess.as_deref(), req, Api::Whm, &ip, version_1).await?;
        call(&state, &caller, &ip, &function, &method, &input).await
    }
    .await;
    let status = match &result {
        Ok(_) => StatusCode::OK,
        Err(e) => failure_status(e),
    };
    let envelope = whm_envelope(&function, result);
    let resp = if xml {
        (
            status,
            [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
            to_whm_xml(&envelope),
        )
            .into_response()
    } else {
        (status, axum::Json(envelope)).into_response()
    };
    no_store(resp)
}

/// The caller as a WHM user (root or a reseller).
fn whm_user(caller: &Caller) -> Result<&Account, ApiError> {
    match &caller.principal {
        Principal::Account(a) if matches!(a.kind, AccountKind::Root | AccountKind::Reseller) => {
            Ok(a)
        }
        _ => Err(ApiError::PermissionDenied(
            "WHM API 1 is for root and resellers; cPanel, webmail and team users use UAPI."
                .to_owned(),
        )),
    }
}

/// Runs one WHM API 1 function. `Ok(None)` means "no data" (metadata only).
pub async fn call(
    state: &AppState,
    caller: &Caller,
    ip: &str,
    function: &str,
    method: &Method,
    input: &Input,
) -> Result<Option<Value>, ApiError> {
    let unknown = || ApiError::UnknownFunction {
        module: "WHM API 1".to_owned(),
        function: function.to_owned(),
    };
    // An unknown function is reported before the caller's rights.
    if !FUNCTIONS.contains(&function) {
        return Err(unknown());
    }
    let me = whm_user(caller)?;
    let p = &input.params;
    match function {
        "twofactorauth_generate_tfa_config" => {
            let (secret, uri) = ops::generate(state, &caller.principal).await?;
            Ok(Some(json!({"otpauth_str": uri, "secret": secret.expose()})))
        }
        "twofactorauth_set_tfa_config" => {
            ops::enroll(state, &me.name, ip, p.get("secret"), p.get("tfa_token")).await?;
            Ok(Some(json!({"success": 1})))
        }
        "twofactorauth_get_user_configs" => get_user_configs(state, me, p.get("user")).await,
        "twofactorauth_remove_user_config" => remove_user_config(state, me, ip, input).await,
        "twofactorauth_get_issuer" => {
            let issuer = ops::resolve_issuer(state, &caller.principal).await?;
            let system = ops::system_wide_issuer(state).await?;
            Ok(Some(
                json!({"issuer": issuer, "system_wide_issuer": system}),
            ))
        }
        "twofactorauth_set_issuer" => set_issuer(state, me, p.get("issuer")).await,
        "twofactorauth_enable_policy" => set_policy(state, me, ip, true).await,
        "twofactorauth_disable_policy" => set_policy(state, me, ip, false).await,
        "twofactorauth_policy_status" => {
            let on = ops::policy_on(state).await?;
            Ok(Some(json!({"is_enabled": i32::from(on)})))
        }
        "twofactorauth_get_tfa_config_for_user" => {
            get_tfa_config_for_user(state, me, ip, p.get("user")).await
        }
        "twofactorauth_set_tfa_config_for_user" => {
            if method != Method::POST {
                return Err(ApiError::Method { allowed: "POST" });
            }
            set_tfa_config_for_user(state, me, ip, input.json.as_deref()).await
        }
        _ => Err(unknown()),
    }
}

/// The account-access check of WHM: `Ok(account)` if `me` may act on `target`, else the
/// detail for "You are not authorized to modify …". A store failure is the outer error.
async fn access(
    state: &AppState,
    me: &Account,
    target: &str,
) -> Result<Result<Account, String>, ApiError> {
    let name = target.to_owned();
    let found = state.db(move |s| s.account(&name)).await?;
    Ok(match (me.kind, found) {
        (AccountKind::Root, Some(a)) => Ok(a),
        (AccountKind::Root, None) => Err(format!("The user “{target}” does not exist.")),
        (_, Some(a)) if a.name == me.name || a.owner == me.name => Ok(a),
        _ => Err(format!(
            "You do not have access to an account named “{target}”."
        )),
    })
}

fn check_user_param(user: &str) -> Result<(), ApiError> {
    check_name(user).map_err(|why| ApiError::BadRequest(format!("Invalid user: {why}")))
}

async fn get_user_configs(
    state: &AppState,
    me: &Account,
    user: Option<&str>,
) -> Result<Option<Value>, ApiError> {
    let accounts: Vec<Account> = match user.filter(|u| !u.is_empty()) {
        Some(user) => {
            check_user_param(user)?;
            match access(state, me, user).await? {
                Ok(a) => vec![a],
                Err(_) => {
                    return Err(ApiError::Failed(format!(
                        "You do not have access to an account named “{user}”."
                    )))
                }
            }
        }
        None => {
            let all = state.db(|s| s.accounts()).await?;
            all.into_iter()
                .filter(|a| {
                    me.kind == AccountKind::Root || (a.owner == me.name && a.name != me.name)
                })
                .collect()
        }
    };
    // Only the listed accounts' configs are looked up (no other secret is read).
    let rows = state
        .db(move |s| {
            accounts
                .into_iter()
                .map(|a| Ok((s.tfa_secret(&a.name)?.is_some(), a)))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    let mut data = Map::new();
    for (enabled, a) in rows {
        let domain = if a.kind == AccountKind::Root {
            state.hostname.to_string()
        } else {
            a.domain
        };
        data.insert(
            a.name,
            json!({"is_enabled": i32::from(enabled), "primary_domain": domain}),
        );
    }
    Ok(Some(Value::Object(data)))
}

/// `user`, `user-N` (any N) and repeated `user` (already renamed `user-0`, `user-1`, …).
fn requested_users(input: &Input) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (key, value) in input.params.pairs() {
        let is_user = key == "user"
            || key
                .strip_prefix("user-")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if is_user && !value.is_empty() && seen.insert(value.clone()) {
            out.push(value.clone());
        }
    }
    out
}

async fn remove_user_config(
    state: &AppState,
    me: &Account,
    ip: &str,
    input: &Input,
) -> Result<Option<Value>, ApiError> {
    let users = requested_users(input);
    if users.is_empty() {
        return Err(ApiError::Failed("No users specified.".to_owned()));
    }
    for user in &users {
        check_user_param(user)?;
    }
    let mut failed = Map::new();
    let mut modified = Vec::new();
    for user in users {
        match access(state, me, &user).await? {
            Ok(_) => {
                ops::remove(state, &user, &me.name, ip).await?;
                modified.push(Value::String(user));
            }
            Err(detail) => {
                failed.insert(
                    user.clone(),
                    Value::String(format!(
                        "You are not authorized to modify “{user}”: {detail}"
                    )),
                );
            }
        }
    }
    Ok(Some(json!({"failed": failed, "users_modified": modified})))
}

async fn set_issuer(
    state: &AppState,
    me: &Account,
    issuer: Option<&str>,
) -> Result<Option<Value>, ApiError> {
    let raw = issuer.ok_or_else(|| {
        ApiError::Failed("Failed to set issuer: Missing or Invalid: “issuer”".to_owned())
    })?;
    let value = normalize_issuer(raw).map_err(|_| ApiError::Failed(ISSUER_RULE.to_owned()))?;
    let key = if me.kind == AccountKind::Root {
        ops::SYSTEM_ISSUER.to_owned()
    } else {
        me.name.clone()
    };
    state
        .db(move |s| s.set_issuer(&key, value.as_deref()))
        .await?;
    Ok(None)
}

async fn set_policy(
    state: &AppState,
    me: &Account,
    ip: &str,
    on: bool,
) -> Result<Option<Value>, ApiError> {
    if me.kind != AccountKind::Root {
        return Err(ApiError::PermissionDenied(
            "only root may change the two-factor authentication security policy.".to_owned(),
        ));
    }
    let (ip, now, by) = (ip.to_owned(), state.now(), me.name.clone());
    state
        .db(move |s| {
            s.set_setting(ops::POLICY_KEY, if on { "1" } else { "0" })?;
            let event = if on {
                "policy_enable"
            } else {
                "policy_disable"
            };
            s.audit(
                now,
                event,
                &by,
                &ip,
                "two-factor authentication security policy",
            )
        })
        .await
        .map_err(|e| match e {
            ApiError::Internal(d) => {
                tracing::error!(detail = %d, "policy change failed");
                ApiError::Failed(if on {
                    "Failed to enable the Two-Factor Authentication security policy.".to_owned()
                } else {
                    "Failed to disable Two-Factor Authentication security policy.".to_owned()
                })
            }
            other => other,
        })?;
    Ok(None)
}

/// Access check for the two `*_tfa_config_for_user` functions: a cPanel account the caller
/// controls, else `Invalid user: X`.
async fn account_for_secrets(
    state: &AppState,
    me: &Account,
    user: &str,
) -> Result<Account, ApiError> {
    if check_name(user).is_err() {
        return Err(ApiError::BadRequest(format!(
            "Invalid user: {}",
            user.escape_debug()
        )));
    }
    match access(state, me, user).await? {
        Ok(a) if a.kind != AccountKind::Root => Ok(a),
        _ => Err(ApiError::Failed(format!("Invalid user: {user}"))),
    }
}

async fn get_tfa_config_for_user(
    state: &AppState,
    me: &Account,
    ip: &str,
    user: Option<&str>,
) -> Result<Option<Value>, ApiError> {
    let user = user.unwrap_or("");
    if user.is_empty() {
        return Err(ApiError::Failed("Invalid user: ".to_owned()));
    }
    let account = account_for_secrets(state, me, user).await?;
    let (name, by, ip, now) = (
        account.name.clone(),
        me.name.clone(),
        ip.to_owned(),
        state.now(),
    );
    let (primary, identities) = state
        .db(move |s| {
            let primary = s.tfa_secret(&name)?;
            let mut identities = Vec::new();
            for i in s.identities_of(&name)? {
                if let Some(secret) = s.tfa_secret(&i.name)? {
                    identities.push((i, secret));
                }
            }
            s.audit(
                now,
                "read_secrets",
                &name,
                &ip,
                &format!("2FA secrets read by {by}"),
            )?;
            Ok((primary, identities))
        })
        .await?;
    let mut out = Map::new();
    if let Some(secret) = primary {
        out.insert("primary_account".to_owned(), json!({"secret": secret}));
    }
    let mut email = Map::new();
    let mut team = Map::new();
    for (identity, secret) in identities {
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
    Ok(Some(json!({ account.name: out })))
}

fn invalid_detail(detail: String) -> ApiError {
    ApiError::Failed(format!(
        "Invalid data detected in input arguments:  {detail}"
    ))
}

/// Reads `{"secret": "…"}` for one entry.
fn entry_secret(entry: &Value, what: &str) -> Result<String, ApiError> {
    let obj = entry
        .as_object()
        .filter(|o| o.keys().all(|k| k == "secret"))
        .ok_or_else(|| invalid_detail(format!("‘secret’ is the only valid key for ‘{what}’")))?;
    let secret = obj
        .get("secret")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_detail(format!("No ‘secret’ given for {what}")))?;
    Secret::parse(secret)
        .map_err(|e| invalid_detail(format!("The ‘secret’ for {what} is invalid: {e}")))?;
    Ok(secret.to_owned())
}

async fn set_tfa_config_for_user(
    state: &AppState,
    me: &Account,
    ip: &str,
    body: Option<&[u8]>,
) -> Result<Option<Value>, ApiError> {
    let body = body.ok_or_else(|| {
        ApiError::MediaType(
            "This function takes a JSON body: POST it with Content-Type: application/json (CLI: --json-body FILE)."
                .to_owned(),
        )
    })?;
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::BadRequest(format!(
            "The request body is not valid JSON (line {}, column {}).",
            e.line(),
            e.column()
        ))
    })?;
    let Some((user, config)) = value
        .as_object()
        .filter(|m| m.len() == 1)
        .and_then(|m| m.iter().next())
    else {
        return Err(ApiError::Failed(INVALID_DATA.to_owned()));
    };
    let account = account_for_secrets(state, me, user).await?;
    let config = config
        .as_object()
        .ok_or_else(|| ApiError::Failed(INVALID_DATA.to_owned()))?;
    let name = account.name.clone();
    let identities = state.db(move |s| s.identities_of(&name)).await?;
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
                let (kind, noun) = if key == "email" {
                    (IdentityKind::Webmail, "an email account")
                } else {
                    (IdentityKind::Team, "a team user")
                };
                let items = section
                    .as_object()
                    .ok_or_else(|| ApiError::Failed(INVALID_DATA.to_owned()))?;
                for (who, entry) in items {
                    if !owns(kind, who) {
                        return Err(invalid_detail(format!(
                            "‘{user}’ does not own {noun} named ‘{who}’"
                        )));
                    }
                    entries.push((who.clone(), entry_secret(entry, who)?));
                }
            }
            other => {
                return Err(invalid_detail(format!(
                    "‘{other}’ is not a valid key for ‘{user}’"
                )))
            }
        }
    }
    let (name, by, ip, now) = (
        account.name.clone(),
        me.name.clone(),
        ip.to_owned(),
        state.now(),
    );
    state
        .db(move |s| {
            s.replace_account_tfa(&name, &entries)?;
            s.audit(
                now,
                "replace",
                &name,
                &ip,
                &format!("2FA entries replaced by {by}"),
            )
        })
        .await?;
    Ok(None)
}
