//! cPanel's response envelopes, built from a call's result: UAPI's flat HTTP envelope (and the
//! wrapped one `uapi` prints) and WHM API 1's `{data, metadata}`. The words inside come from
//! [`super::error`]; this module only arranges them.

use serde_json::{json, Map, Value};

use super::error::{uapi_prefix, ApiError};

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

/// The flat UAPI envelope of a call's result.
pub fn uapi_envelope(function: &str, result: Result<(Value, Vec<String>), ApiError>) -> Value {
    match result {
        Ok((data, warnings)) => uapi_success(data, warnings),
        Err(e) => uapi_failure(function, &e),
    }
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
