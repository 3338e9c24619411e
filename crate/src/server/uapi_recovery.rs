//! UAPI `TfaRecoveryCodes::*`: tfa's own module (cPanel has no recovery codes), named so that
//! no function cPanel adds to `TwoFactorAuth` can collide with it.
//!
//! - `get_status`: `{remaining, total}`: how many unused codes the caller has of a set's
//!   [`CODES_PER_SET`]; never a code.
//! - `regenerate` (POST, `tfa_token`): a current security code, then a new set that replaces
//!   the old: `{recovery_codes: [...], remaining}`, the codes shown this once.
//!
//! The set made at enrollment comes with `set_user_configuration`'s answer. Codes are used at
//! `/login` (see [`super::ops::second_factor`]).

use serde_json::json;

use super::uapi::Answer;
use super::{ops, ApiError, Ctx, Params, Trip};
use crate::core::recovery::CODES_PER_SET;

/// The module.
pub const MODULE: &str = "TfaRecoveryCodes";
/// Its functions.
pub const FUNCTIONS: &[&str] = &["get_status", "regenerate"];
/// Those that write.
pub const WRITERS: &[&str] = &["regenerate"];

/// Runs one `TfaRecoveryCodes` function inside the request's trip, for the caller's own 2FA
/// username.
pub fn call(
    trip: Trip<'_, '_>,
    ctx: &Ctx,
    function: &str,
    params: &Params,
) -> Result<Answer, ApiError> {
    let me = ctx.caller.name();
    match function {
        "get_status" => {
            let remaining = trip.reader().recovery_codes_left(me)?;
            Ok((
                json!({"remaining": remaining, "total": CODES_PER_SET}),
                Vec::new(),
            ))
        }
        "regenerate" => {
            let codes = ops::regenerate_recovery_codes(
                trip.writer()?,
                me,
                &ctx.ip,
                ctx.now,
                params.get("tfa_token"),
            )?;
            Ok((
                json!({"recovery_codes": codes, "remaining": codes.len()}),
                Vec::new(),
            ))
        }
        _ => Err(ApiError::UnknownFunction {
            module: MODULE.to_owned(),
            function: function.to_owned(),
        }),
    }
}
