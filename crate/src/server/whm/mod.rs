//! WHM API 1 `twofactorauth_*` over `/json-api/` and `/xml-api/` (also under
//! `/cpsessNNNNNNNNNN/`): the `{data, metadata}` envelope, `api.version=1` only.
//!
//! Callers are root and resellers. Root sees every account plus `root`; a reseller sees the
//! accounts it owns (spec section 4). Each call is one store trip. This module never logs
//! parameters or secrets.

mod meta;
mod recovery;
mod secrets;
pub mod session;
pub mod tokens;

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::auth::Credentials;
use super::envelope::whm_envelope;
use super::error::{
    failure_status, not_authorized_to_modify, with_retry_after, AccessProblem, Api, ApiError,
};
use super::format::to_whm_xml;
use super::request::client_ip;
use super::router::{api_answer, api_request};
use super::{api_trip, ops, AppState, Ctx, Input, Trip};
use crate::core::normalize_issuer;
use crate::store::{check_name, Account, AccountKind, AuditKind, Principal, Reader};

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
    "applist",
    "version",
    "create_user_session",
    "api_token_create",
    "api_token_list",
    "api_token_revoke",
    "tfa_recovery_codes_remaining",
];

/// The functions that write (reading secrets writes its audit row).
const WRITERS: &[&str] = &[
    "twofactorauth_set_tfa_config",
    "twofactorauth_remove_user_config",
    "twofactorauth_set_issuer",
    "twofactorauth_enable_policy",
    "twofactorauth_disable_policy",
    "twofactorauth_get_tfa_config_for_user",
    "twofactorauth_set_tfa_config_for_user",
    "create_user_session",
    "api_token_create",
    "api_token_revoke",
];

/// What a WHM function answers: `data`, or `None` for metadata only.
pub type Answer = Option<Value>;

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
    let origin = request_origin(&req);
    let page_if_pending = !super::login::wants_json(req.headers());
    let result = async {
        let version_1 = |input: &Input| match input.params.get("api.version") {
            Some("1") => Ok(()),
            _ => Err(ApiError::ApiVersion),
        };
        let (creds, input) =
            api_request(&state, cpsess.as_deref(), req, Api::Whm, version_1).await?;
        dispatch(&state, creds, ip, function.clone(), method, input).await
    }
    .await
    .map(|answer| with_absolute_url(answer, &origin));
    // A session that still owes its security code gets the code page (cPanel's answer).
    if page_if_pending && matches!(result, Err(ApiError::TfaPending)) {
        return super::login::security_code_page();
    }
    let (status, allow) = match &result {
        Ok(_) => (StatusCode::OK, None),
        Err(e) => (failure_status(e), e.allow()),
    };
    let retry_after = result.as_ref().err().and_then(ApiError::retry_after);
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
    with_retry_after(api_answer(resp, allow), retry_after)
}

/// `scheme://host` of the request as its client addressed it (`X-Forwarded-Proto: https`
/// behind a TLS proxy, else `http`), for the URL `create_user_session` returns.
fn request_origin(req: &Request) -> Option<String> {
    let host = req.headers().get(header::HOST)?.to_str().ok()?;
    if host.is_empty() || host.contains(['/', '@', ' ']) {
        return None;
    }
    let https = req
        .headers()
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    Some(format!("{}://{host}", if https { "https" } else { "http" }))
}

/// Makes a relative `url` in the data (`create_user_session`'s) absolute with `origin`.
fn with_absolute_url(mut answer: Answer, origin: &Option<String>) -> Answer {
    if let (Some(Value::Object(data)), Some(origin)) = (answer.as_mut(), origin) {
        if let Some(Value::String(url)) = data.get_mut("url") {
            if url.starts_with('/') {
                *url = format!("{origin}{url}");
            }
        }
    }
    answer
}

/// Runs one WHM API 1 function as one store trip. The HTTP handlers and the `whmapi1`
/// command both come through here.
pub async fn dispatch(
    state: &AppState,
    creds: Credentials,
    ip: Arc<str>,
    function: String,
    method: Method,
    input: Input,
) -> Result<Answer, ApiError> {
    let writes = WRITERS.contains(&function.as_str());
    api_trip(state, creds, ip, writes, move |trip, ctx| {
        call(trip, ctx, &function, &method, &input)
    })
    .await
}

/// The caller as a WHM user (root or a reseller).
fn whm_user(ctx: &Ctx) -> Result<&Account, ApiError> {
    match &ctx.caller.principal {
        Principal::Account(a) if matches!(a.kind, AccountKind::Root | AccountKind::Reseller) => {
            Ok(a)
        }
        _ => Err(ApiError::WhmOnly),
    }
}

/// Runs one WHM API 1 function inside the request's trip, once the caller is known.
fn call(
    trip: Trip<'_, '_>,
    ctx: &Ctx,
    function: &str,
    method: &Method,
    input: &Input,
) -> Result<Answer, ApiError> {
    // An unknown function is reported before the caller's rights.
    if !FUNCTIONS.contains(&function) {
        return Err(ApiError::UnknownApp(function.to_owned()));
    }
    let me = whm_user(ctx)?;
    let p = &input.params;
    let r = trip.reader();
    match function {
        "twofactorauth_generate_tfa_config" => {
            let (secret, uri) = ops::generate(r, &ctx.hostname, &ctx.caller.principal)?;
            Ok(Some(json!({"otpauth_str": uri, "secret": secret.expose()})))
        }
        "twofactorauth_set_tfa_config" => {
            let w = trip.writer()?;
            let codes = ops::enroll(
                w,
                &me.name,
                &ctx.ip,
                ctx.now,
                p.get("secret"),
                p.get("tfa_token"),
            )?;
            // `recovery_codes` is tfa's own (cPanel has none), shown this once.
            Ok(Some(json!({"success": 1, "recovery_codes": codes})))
        }
        "twofactorauth_get_user_configs" => get_user_configs(r, ctx, me, p.get("user")),
        "twofactorauth_remove_user_config" => remove_user_config(trip, ctx, me, input),
        "twofactorauth_get_issuer" => {
            let issuer = ops::resolve_issuer(r, &ctx.hostname, &ctx.caller.principal)?;
            let system = ops::system_wide_issuer(r, &ctx.hostname)?;
            Ok(Some(
                json!({"issuer": issuer, "system_wide_issuer": system}),
            ))
        }
        "twofactorauth_set_issuer" => set_issuer(trip, me, p.get("issuer")),
        "twofactorauth_enable_policy" => set_policy(trip, ctx, me, true),
        "twofactorauth_disable_policy" => set_policy(trip, ctx, me, false),
        "twofactorauth_policy_status" => {
            Ok(Some(json!({"is_enabled": i32::from(ops::policy_on(r)?)})))
        }
        "twofactorauth_get_tfa_config_for_user" => {
            secrets::get_tfa_config_for_user(trip, ctx, me, p.get("user"))
        }
        "applist" => Ok(meta::applist()),
        "version" => Ok(meta::version()),
        "create_user_session" => session::create_user_session(trip, ctx, me, p),
        "api_token_create" => tokens::api_token_create(trip, ctx, input),
        "api_token_list" => tokens::api_token_list(trip, ctx),
        "api_token_revoke" => tokens::api_token_revoke(trip, ctx, input),
        "tfa_recovery_codes_remaining" => {
            recovery::tfa_recovery_codes_remaining(trip, me, p.get("user"))
        }
        "twofactorauth_set_tfa_config_for_user" => {
            if method != Method::POST {
                return Err(ApiError::Method { allowed: "POST" });
            }
            secrets::set_tfa_config_for_user(trip, ctx, me, input.json.as_deref())
        }
        _ => Err(ApiError::UnknownApp(function.to_owned())),
    }
}

/// The account-access check of WHM: `Ok(account)` if `me` may act on `target`, else why not.
/// A store failure is the outer error.
fn access(
    r: &Reader<'_>,
    me: &Account,
    target: &str,
) -> Result<Result<Account, AccessProblem>, ApiError> {
    Ok(match (me.kind, r.account(target)?) {
        (AccountKind::Root, Some(a)) => Ok(a),
        (AccountKind::Root, None) => Err(AccessProblem::NoSuchUser(target.to_owned())),
        (_, Some(a)) if a.name == me.name || a.owner == me.name => Ok(a),
        _ => Err(AccessProblem::NoAccess(target.to_owned())),
    })
}

fn check_user_param(user: &str) -> Result<(), ApiError> {
    check_name(user).map_err(ApiError::BadUserParam)
}

fn get_user_configs(
    r: &Reader<'_>,
    ctx: &Ctx,
    me: &Account,
    user: Option<&str>,
) -> Result<Answer, ApiError> {
    let accounts: Vec<Account> = match user.filter(|u| !u.is_empty()) {
        Some(user) => {
            check_user_param(user)?;
            vec![access(r, me, user)?.map_err(|_| ApiError::NoAccess(user.to_owned()))?]
        }
        None if me.kind == AccountKind::Root => r.accounts()?,
        // A reseller lists its customers, not itself.
        None => r
            .accounts_owned_by(&me.name)?
            .into_iter()
            .filter(|a| a.name != me.name)
            .collect(),
    };
    // Only the listed accounts' configs are looked up (no other secret is read).
    let mut data = Map::new();
    for a in accounts {
        let enabled = r.has_tfa(&a.name)?;
        let domain = if a.kind == AccountKind::Root {
            ctx.hostname.to_string()
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

fn remove_user_config(
    trip: Trip<'_, '_>,
    ctx: &Ctx,
    me: &Account,
    input: &Input,
) -> Result<Answer, ApiError> {
    let users = requested_users(input);
    if users.is_empty() {
        return Err(ApiError::NoUsers);
    }
    for user in &users {
        check_user_param(user)?;
    }
    let w = trip.writer()?;
    let mut failed = Map::new();
    let mut modified = Vec::new();
    for user in users {
        match access(w, me, &user)? {
            Ok(_) => {
                ops::remove(w, &user, &me.name, &ctx.ip, ctx.now)?;
                modified.push(Value::String(user));
            }
            Err(why) => {
                let text = not_authorized_to_modify(&user, &why);
                failed.insert(user, Value::String(text));
            }
        }
    }
    Ok(Some(json!({"failed": failed, "users_modified": modified})))
}

fn set_issuer(trip: Trip<'_, '_>, me: &Account, issuer: Option<&str>) -> Result<Answer, ApiError> {
    let raw = issuer.ok_or(ApiError::IssuerMissing)?;
    let value = normalize_issuer(raw).map_err(|_| ApiError::IssuerRule)?;
    let key = if me.kind == AccountKind::Root {
        ops::SYSTEM_ISSUER
    } else {
        me.name.as_str()
    };
    trip.writer()?.set_issuer(key, value.as_deref())?;
    Ok(None)
}

fn set_policy(trip: Trip<'_, '_>, ctx: &Ctx, me: &Account, on: bool) -> Result<Answer, ApiError> {
    if me.kind != AccountKind::Root {
        return Err(ApiError::PolicyRootOnly);
    }
    let w = trip.writer()?;
    let (kind, value) = if on {
        (AuditKind::PolicyEnable, "1")
    } else {
        (AuditKind::PolicyDisable, "0")
    };
    w.set_setting(ops::POLICY_KEY, value)
        .and_then(|()| {
            w.audit(
                ctx.now,
                kind,
                &me.name,
                &ctx.ip,
                "two-factor authentication security policy",
            )
        })
        // The sessions that gave no code are pending from now on where 2FA is required.
        .and_then(|()| match on {
            true => w
                .sessions_pending_for_all(ctx.now.saturating_add(super::auth::PENDING_SECS))
                .map(drop),
            false => Ok(()),
        })
        .map_err(|e| {
            tracing::error!(detail = %e, "policy change failed");
            ApiError::PolicyChangeFailed { on }
        })?;
    Ok(None)
}
