//! UAPI `Tokens::create_full_access`, `Tokens::list` and `Tokens::revoke`: a cPanel account's
//! own API tokens, named, shown once and stored hashed (the core is
//! [`super::whm::tokens`], shared with WHM API 1's `api_token_*`).

use serde_json::{json, Value};

use super::uapi::Answer;
use super::whm::tokens::{create, refuse_restrictions, revoke, token_owner};
use super::{ApiError, Ctx, Params, Trip};

/// The module.
pub const MODULE: &str = "Tokens";
/// Its functions.
pub const FUNCTIONS: &[&str] = &["create_full_access", "list", "revoke"];
/// Those that write.
pub const WRITERS: &[&str] = &["create_full_access", "revoke"];

/// Runs one `Tokens` function inside the request's trip.
pub fn call(
    trip: Trip<'_, '_>,
    ctx: &Ctx,
    function: &str,
    params: &Params,
) -> Result<Answer, ApiError> {
    match function {
        // `{token, create_time}`.
        "create_full_access" => {
            refuse_restrictions(params)?;
            let token = create(trip, ctx, params.get("name"))?;
            Ok((json!({"token": token, "create_time": ctx.now}), Vec::new()))
        }
        // `[{name, create_time, expires_at, has_full_access, features}]`: never a token.
        "list" => {
            let owner = token_owner(ctx)?;
            let list: Vec<Value> = trip
                .reader()
                .named_tokens_of(owner)?
                .into_iter()
                .map(|t| {
                    json!({
                        "name": t.name,
                        "create_time": t.created,
                        "expires_at": Value::Null,
                        "has_full_access": 1,
                        "features": [],
                    })
                })
                .collect();
            Ok((Value::Array(list), Vec::new()))
        }
        // `1`, also when no token had that name (cPanel documents it so).
        "revoke" => {
            let name = params
                .get("name")
                .filter(|n| !n.is_empty())
                .ok_or(ApiError::MissingOrInvalid("name"))?;
            revoke(trip, ctx, name)?;
            Ok((json!(1), Vec::new()))
        }
        _ => Err(ApiError::UnknownFunction {
            module: MODULE.to_owned(),
            function: function.to_owned(),
        }),
    }
}
