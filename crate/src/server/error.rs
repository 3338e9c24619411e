//! The one error type of the server, and the envelopes it becomes.
//!
//! [`ApiError`] owns every cPanel message text and every HTTP status code: handlers say *what*
//! went wrong, this module decides how UAPI and WHM API 1 spell it. Messages never carry a
//! secret, token or password.

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use crate::store::StoreError;

/// A refusal or failure of an API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// No usable credentials (401 `Access denied`).
    AccessDenied,
    /// Credentials were given but the password/OTP step failed (401, with the reason).
    Unauthorized(String),
    /// A session cookie without the matching `cpsess` token in the path (403 `Token denied`).
    TokenDenied,
    /// The caller may not use this function (403).
    PermissionDenied(String),
    /// A WHM call without `api.version=1` (400).
    ApiVersion,
    /// Unknown UAPI module (404).
    UnknownModule(String),
    /// Unknown function of a known module or API (404).
    UnknownFunction { module: String, function: String },
    /// A method the endpoint does not take (405).
    Method { allowed: &'static str },
    /// A request body over the limit (413).
    BodyTooLarge,
    /// A body in a format the endpoint does not read (415).
    MediaType(String),
    /// Malformed request syntax: bad names, bad encodings (400).
    BadRequest(String),
    /// Too many wrong security codes: refused until a lockout ends (429).
    Locked { secs: u64 },
    /// `The security code is invalid.`, with optional hints in `warnings`.
    InvalidCode { hints: Vec<String> },
    /// `No security code specified.`
    NoCode,
    /// `Missing or Invalid: “<param>”`
    MissingOrInvalid(&'static str),
    /// A worded cPanel failure (HTTP 200; the envelope says status 0).
    Failed(String),
    /// The store or the runtime failed (500). The text is for the log, not the client.
    Internal(String),
}

/// Which API a response is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Uapi,
    Whm,
}

impl ApiError {
    /// The HTTP status code.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::AccessDenied | ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::TokenDenied | ApiError::PermissionDenied(_) => StatusCode::FORBIDDEN,
            ApiError::ApiVersion | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::UnknownModule(_) | ApiError::UnknownFunction { .. } => StatusCode::NOT_FOUND,
            ApiError::Method { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::MediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::InvalidCode { .. }
            | ApiError::NoCode
            | ApiError::MissingOrInvalid(_)
            | ApiError::Failed(_) => StatusCode::OK,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message, without any function prefix.
    pub fn reason(&self) -> String {
        match self {
            ApiError::AccessDenied => "Access denied".to_owned(),
            ApiError::Unauthorized(why) => format!("Access denied: {why}"),
            ApiError::TokenDenied => "Token denied".to_owned(),
            ApiError::PermissionDenied(why) => format!("Permission denied: {why}"),
            ApiError::ApiVersion => "This server implements WHM API 1 only: add “api.version=1” to the query string. WHM API 0 is not supported.".to_owned(),
            ApiError::UnknownModule(m) => format!("Failed to load module “{m}”: no such module. The only module is “TwoFactorAuth”."),
            ApiError::UnknownFunction { module, function } => {
                format!("Could not find function “{function}” in module “{module}”.")
            }
            ApiError::Method { allowed } => format!("This function only accepts {allowed} requests."),
            ApiError::BodyTooLarge => "The request body is larger than 64 KiB.".to_owned(),
            ApiError::MediaType(why) | ApiError::BadRequest(why) | ApiError::Failed(why) => why.clone(),
            ApiError::Locked { secs } => {
                let minutes = secs.div_ceil(60).max(1);
                let s = if minutes > 1 { "s" } else { "" };
                format!("Too many invalid security codes. Try again in {minutes} minute{s}.")
            }
            ApiError::InvalidCode { .. } => "The security code is invalid.".to_owned(),
            ApiError::NoCode => "No security code specified.".to_owned(),
            ApiError::MissingOrInvalid(param) => format!("Missing or Invalid: “{param}”"),
            ApiError::Internal(_) => "An internal error occurred; the server log has the details.".to_owned(),
        }
    }

    /// Hints for the `warnings` array.
    pub fn warnings(&self) -> Vec<String> {
        match self {
            ApiError::InvalidCode { hints } => hints.clone(),
            _ => Vec::new(),
        }
    }

    /// True for refusals of the request itself (auth, routing, framing), which UAPI reports
    /// without the function's "Failed to …" prefix.
    fn is_request_level(&self) -> bool {
        !matches!(
            self,
            ApiError::InvalidCode { .. }
                | ApiError::NoCode
                | ApiError::MissingOrInvalid(_)
                | ApiError::Failed(_)
                | ApiError::Locked { .. }
                | ApiError::Internal(_)
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

/// The "Failed to …" prefix each UAPI function puts before its reason (spec section 3).
fn uapi_prefix(function: &str) -> Option<&'static str> {
    Some(match function {
        "generate_user_configuration" => {
            "Failed to generate two-factor authentication configuration"
        }
        "set_user_configuration" => "Failed to set user configuration",
        "get_user_configuration" => "Failed to get user configuration",
        "remove_user_configuration" => "Failed to remove user configuration",
        "get_team_user_configuration" => "Failed to get team user configuration",
        _ => return None,
    })
}

fn string_list(items: Vec<String>) -> Value {
    if items.is_empty() {
        Value::Null
    } else {
        Value::Array(items.into_iter().map(Value::String).collect())
    }
}

/// The flat UAPI HTTP envelope for a success.
pub fn uapi_success(data: Value, warnings: Vec<String>) -> Value {
    json!({
        "data": data,
        "errors": null,
        "messages": null,
        "metadata": {},
        "status": 1,
        "warnings": string_list(warnings),
    })
}

/// The flat UAPI HTTP envelope for a failure of `function`.
pub fn uapi_failure(function: &str, err: &ApiError) -> Value {
    let reason = err.reason();
    let message = match (err.is_request_level(), uapi_prefix(function)) {
        (false, Some(prefix)) => format!("{prefix}: {reason}"),
        _ => reason,
    };
    json!({
        "data": null,
        "errors": [message],
        "messages": null,
        "metadata": {},
        "status": 0,
        "warnings": string_list(err.warnings()),
    })
}

/// The wrapped envelope that `uapi --output=…` prints.
pub fn uapi_wrapped(module: &str, function: &str, flat: Value) -> Value {
    json!({"apiversion": 3, "func": function, "module": module, "result": flat})
}

/// The WHM API 1 envelope. `data` is left out when the function returns nothing.
pub fn whm_envelope(command: &str, result: Result<Option<Value>, ApiError>) -> Value {
    let mut out = Map::new();
    let (ok, reason, data) = match result {
        Ok(data) => (1, "OK".to_owned(), data),
        Err(e) => (0, e.reason(), None),
    };
    if let Some(data) = data {
        out.insert("data".to_owned(), data);
    }
    out.insert(
        "metadata".to_owned(),
        json!({"command": command, "reason": reason, "result": ok, "version": 1}),
    );
    Value::Object(out)
}
