//! cPanel's response envelopes, byte for byte as the spec (`cpanel-2fa-api.md`) shows them, to
//! compare whole response bodies against.

use serde_json::{json, Value};

/// The UAPI error of a refused `set_user_configuration` code.
pub const INVALID_SET: &str = "Failed to set user configuration: The security code is invalid.";

/// A successful UAPI envelope around `data`.
pub fn uapi_ok(data: Value) -> String {
    format!(
        r#"{{"data":{data},"errors":null,"messages":null,"metadata":{{}},"status":1,"warnings":null}}"#
    )
}

/// A failed UAPI envelope with this one error.
pub fn uapi_err(message: &str) -> String {
    json!({"data":null,"errors":[message],"messages":null,"metadata":{},"status":0,"warnings":null})
        .to_string()
}

/// A WHM API 1 envelope with metadata only (a failure, or a success without data).
pub fn whm_meta(command: &str, reason: &str, result: u8) -> String {
    format!(
        r#"{{"metadata":{{"command":"{command}","reason":"{reason}","result":{result},"version":1}}}}"#
    )
}

/// A successful WHM API 1 envelope around `data`.
pub fn whm_ok(command: &str, data: Value) -> String {
    format!(
        r#"{{"data":{data},"metadata":{{"command":"{command}","reason":"OK","result":1,"version":1}}}}"#
    )
}

/// Asserts that `text`, the answer to a refused security code at login, with Basic auth or
/// with `X-CPANEL-OTP`, says the code is invalid and names no clock offset (no direction, no
/// size), which would guide a guesser. `what` names the case in the failure message.
pub fn assert_invalid_code_without_offset(text: &str, what: &str) {
    assert!(
        text.contains("The security code is invalid."),
        "{what}: {text}"
    );
    for word in ["second", "minute", "ahead", "behind"] {
        assert!(!text.contains(word), "{what} hints {word:?}: {text}");
    }
}
