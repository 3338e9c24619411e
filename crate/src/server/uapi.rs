//! UAPI `TwoFactorAuth::*` over `/execute/` (and `/cpsessNNNNNNNNNN/execute/`): handlers named
//! after the cPanel functions they implement, answering with the flat HTTP envelope.
//!
//! Every caller acts on its own 2FA username only (spec section 3): the cPanel user, the
//! webmail address or `team@cpuser`. Each call is one store trip. This module never logs
//! parameters.

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Credentials;
use super::envelope::uapi_envelope;
use super::error::{failure_status, with_retry_after, Api, ApiError};
use super::request::client_ip;
use super::router::{api_answer, api_request};
use super::{api_trip, ops, AppState, Ctx, Params, Trip};
use crate::store::{check_name, AccountKind, IdentityKind};

/// The one module.
pub const MODULE: &str = "TwoFactorAuth";
/// The functions of the module.
pub const FUNCTIONS: &[&str] = &[
    "generate_user_configuration",
    "set_user_configuration",
    "get_user_configuration",
    "remove_user_configuration",
    "get_team_user_configuration",
];

/// What a UAPI function answers: `data` and `warnings`.
pub type Answer = (Value, Vec<String>);

/// The path of a UAPI call; `cpsess` only under `/cpsessNNNNNNNNNN/`.
#[derive(Deserialize)]
pub struct UapiPath {
    cpsess: Option<String>,
    module: String,
    function: String,
}

/// `/execute/{module}/{function}` (header credentials) and
/// `/{cpsess}/execute/{module}/{function}` (a session).
pub async fn execute(
    State(state): State<AppState>,
    Path(path): Path<UapiPath>,
    req: Request,
) -> Response {
    let UapiPath {
        cpsess,
        module,
        function,
    } = path;
    let ip = client_ip(&req);
    let page_if_pending = !super::login::wants_json(req.headers());
    let result = async {
        let (creds, input) =
            api_request(&state, cpsess.as_deref(), req, Api::Uapi, |_| Ok(())).await?;
        dispatch(&state, creds, ip, module, function.clone(), input.params).await
    }
    .await;
    // A session that still owes its security code gets the code page (cPanel's answer).
    if page_if_pending && matches!(result, Err(ApiError::TfaPending)) {
        return super::login::security_code_page();
    }
    let (status, allow) = match &result {
        Ok(_) => (axum::http::StatusCode::OK, None),
        Err(e) => (failure_status(e), e.allow()),
    };
    let retry_after = result.as_ref().err().and_then(ApiError::retry_after);
    let resp = (status, Json(uapi_envelope(&function, result))).into_response();
    with_retry_after(api_answer(resp, allow), retry_after)
}

/// Runs one UAPI function for the caller `creds` name, as one store trip. The HTTP handler
/// and the `uapi` command both come through here.
pub async fn dispatch(
    state: &AppState,
    creds: Credentials,
    ip: std::sync::Arc<str>,
    module: String,
    function: String,
    params: Params,
) -> Result<Answer, ApiError> {
    let writes = (module == MODULE
        && matches!(
            function.as_str(),
            "set_user_configuration" | "remove_user_configuration"
        ))
        || (module == super::uapi_tokens::MODULE
            && super::uapi_tokens::WRITERS.contains(&function.as_str()))
        || (module == super::uapi_recovery::MODULE
            && super::uapi_recovery::WRITERS.contains(&function.as_str()));
    api_trip(state, creds, ip, writes, move |trip, ctx| {
        call(trip, ctx, &module, &function, &params)
    })
    .await
}

/// Runs one UAPI function inside the request's trip, once the caller is known.
fn call(
    trip: Trip<'_, '_>,
    ctx: &Ctx,
    module: &str,
    function: &str,
    params: &Params,
) -> Result<Answer, ApiError> {
    if module == super::uapi_tokens::MODULE {
        return super::uapi_tokens::call(trip, ctx, function, params);
    }
    if module == super::uapi_recovery::MODULE {
        return super::uapi_recovery::call(trip, ctx, function, params);
    }
    if module != MODULE {
        return Err(ApiError::UnknownModule(module.to_owned()));
    }
    match function {
        "generate_user_configuration" => generate_user_configuration(trip, ctx),
        "set_user_configuration" => set_user_configuration(trip, ctx, params),
        "get_user_configuration" => get_user_configuration(trip, ctx),
        "remove_user_configuration" => remove_user_configuration(trip, ctx),
        "get_team_user_configuration" => get_team_user_configuration(trip, ctx, params),
        _ => Err(ApiError::UnknownFunction {
            module: module.to_owned(),
            function: function.to_owned(),
        }),
    }
}

fn generate_user_configuration(trip: Trip<'_, '_>, ctx: &Ctx) -> Result<Answer, ApiError> {
    let (secret, uri) = ops::generate(trip.reader(), &ctx.hostname, &ctx.caller.principal)?;
    Ok((
        json!({"otpauth_str": uri, "secret": secret.expose()}),
        Vec::new(),
    ))
}

fn set_user_configuration(
    trip: Trip<'_, '_>,
    ctx: &Ctx,
    params: &Params,
) -> Result<Answer, ApiError> {
    let codes = ops::enroll(
        trip.writer()?,
        ctx.caller.name(),
        &ctx.ip,
        ctx.now,
        params.get("secret"),
        params.get("tfa_token"),
    )?;
    // cPanel answers `{tfa_configured: 1}`; `recovery_codes` is tfa's own, shown this once
    // (cPanel's clients read `tfa_configured` and pass over a field they do not know).
    Ok((
        json!({"tfa_configured": 1, "recovery_codes": codes}),
        Vec::new(),
    ))
}

/// `{is_enabled:1, issuer}` or `{is_enabled:0}` for a 2FA username.
fn configuration_of(trip: Trip<'_, '_>, ctx: &Ctx, username: &str) -> Result<Value, ApiError> {
    let r = trip.reader();
    if !r.has_tfa(username)? {
        return Ok(json!({"is_enabled": 0}));
    }
    let issuer = ops::resolve_issuer(r, &ctx.hostname, &ctx.caller.principal)?;
    Ok(json!({"is_enabled": 1, "issuer": issuer}))
}

fn get_user_configuration(trip: Trip<'_, '_>, ctx: &Ctx) -> Result<Answer, ApiError> {
    Ok((configuration_of(trip, ctx, ctx.caller.name())?, Vec::new()))
}

fn remove_user_configuration(trip: Trip<'_, '_>, ctx: &Ctx) -> Result<Answer, ApiError> {
    // cPanel reports success even when nothing was configured.
    let me = ctx.caller.name();
    ops::remove(trip.writer()?, me, me, &ctx.ip, ctx.now)?;
    Ok((json!({"tfa_removed": 1}), Vec::new()))
}

fn get_team_user_configuration(
    trip: Trip<'_, '_>,
    ctx: &Ctx,
    params: &Params,
) -> Result<Answer, ApiError> {
    let team_user = params
        .get("team_user")
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::MissingOrInvalid("team_user"))?;
    if !matches!(
        ctx.caller.account_kind(),
        Some(AccountKind::User | AccountKind::Reseller)
    ) {
        return Err(ApiError::TeamLookupNotAccount);
    }
    check_name(team_user).map_err(ApiError::BadTeamUser)?;
    // The 2FA key uses the cPanel username, not the domain (spec section 3.5).
    let key = format!("{team_user}@{}", ctx.caller.name());
    let identity = trip.reader().identity(&key)?;
    if !identity.is_some_and(|i| i.kind == IdentityKind::Team) {
        return Err(ApiError::NotOwnTeamUser(team_user.to_owned()));
    }
    Ok((configuration_of(trip, ctx, &key)?, Vec::new()))
}
