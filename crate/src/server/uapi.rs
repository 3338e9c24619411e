//! UAPI `TwoFactorAuth::*` over `/execute/` (and `/cpsessNNNNNNNNNN/execute/`): handlers named
//! after the cPanel functions they implement, answering with the flat HTTP envelope.
//!
//! Every caller acts on its own 2FA username only (spec section 3): the cPanel user, the
//! webmail address or `team@cpuser`. This module never logs parameters.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::{uapi_failure, uapi_success, Api, ApiError};
use super::{api_request, client_ip, failure_status, no_store, ops, AppState, Params};
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
    let result = async {
        let (caller, input) =
            api_request(&state, cpsess.as_deref(), req, Api::Uapi, &ip, |_| Ok(())).await?;
        call(&state, &caller, &ip, &module, &function, &input.params).await
    }
    .await;
    let (status, body) = match result {
        Ok((data, warnings)) => (StatusCode::OK, uapi_success(data, warnings)),
        Err(e) => (failure_status(&e), uapi_failure(&function, &e)),
    };
    no_store((status, Json(body)).into_response())
}

/// Runs one UAPI function for `caller`. Returns `data` and `warnings`.
pub async fn call(
    state: &AppState,
    caller: &Caller,
    ip: &str,
    module: &str,
    function: &str,
    params: &Params,
) -> Result<(Value, Vec<String>), ApiError> {
    if module != MODULE {
        return Err(ApiError::UnknownModule(module.to_owned()));
    }
    match function {
        "generate_user_configuration" => generate_user_configuration(state, caller).await,
        "set_user_configuration" => set_user_configuration(state, caller, ip, params).await,
        "get_user_configuration" => get_user_configuration(state, caller).await,
        "remove_user_configuration" => remove_user_configuration(state, caller, ip).await,
        "get_team_user_configuration" => get_team_user_configuration(state, caller, params).await,
        _ => Err(ApiError::UnknownFunction {
            module: module.to_owned(),
            function: function.to_owned(),
        }),
    }
}

async fn generate_user_configuration(
    state: &AppState,
    caller: &Caller,
) -> Result<(Value, Vec<String>), ApiError> {
    let (secret, uri) = ops::generate(state, &caller.principal).await?;
    Ok((
        json!({"otpauth_str": uri, "secret": secret.expose()}),
        Vec::new(),
    ))
}

async fn set_user_configuration(
    state: &AppState,
    caller: &Caller,
    ip: &str,
    params: &Params,
) -> Result<(Value, Vec<String>), ApiError> {
    ops::enroll(
        state,
        caller.name(),
        ip,
        params.get("secret"),
        params.get("tfa_token"),
    )
    .await?;
    Ok((json!({"tfa_configured": 1}), Vec::new()))
}

/// `{is_enabled:1, issuer}` or `{is_enabled:0}` for a 2FA username.
async fn configuration_of(
    state: &AppState,
    caller: &Caller,
    username: &str,
) -> Result<Value, ApiError> {
    let name = username.to_owned();
    let configured = state.db(move |s| s.tfa_secret(&name)).await?.is_some();
    if !configured {
        return Ok(json!({"is_enabled": 0}));
    }
    let issuer = ops::resolve_issuer(state, &caller.principal).await?;
    Ok(json!({"is_enabled": 1, "issuer": issuer}))
}

async fn get_user_configuration(
    state: &AppState,
    caller: &Caller,
) -> Result<(Value, Vec<String>), ApiError> {
    Ok((
        configuration_of(state, caller, caller.name()).await?,
        Vec::new(),
    ))
}

async fn remove_user_configuration(
    state: &AppState,
    caller: &Caller,
    ip: &str,
) -> Result<(Value, Vec<String>), ApiError> {
    // cPanel reports success even when nothing was configured.
    ops::remove(state, caller.name(), caller.name(), ip).await?;
    Ok((json!({"tfa_removed": 1}), Vec::new()))
}

async fn get_team_user_configuration(
    state: &AppState,
    caller: &Caller,
    params: &Params,
) -> Result<(Value, Vec<String>), ApiError> {
    let team_user = params
        .get("team_user")
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::MissingOrInvalid("team_user"))?;
    if !matches!(
        caller.account_kind(),
        Some(AccountKind::User | AccountKind::Reseller)
    ) {
        return Err(ApiError::Failed(
            "Only a cPanel account can look up its team users.".to_owned(),
        ));
    }
    check_name(team_user).map_err(ApiError::BadRequest)?;
    // The 2FA key uses the cPanel username, not the domain (spec section 3.5).
    let key = format!("{team_user}@{}", caller.name());
    let lookup = key.clone();
    let identity = state.db(move |s| s.identity(&lookup)).await?;
    if !identity.is_some_and(|i| i.kind == IdentityKind::Team) {
        return Err(ApiError::Failed(format!(
            "You do not own the team user account “{team_user}”."
        )));
    }
    Ok((configuration_of(state, caller, &key).await?, Vec::new()))
}
