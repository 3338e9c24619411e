//! `applist` and `version`: what cPanel's clients ask a WHM server before anything else.

use serde_json::json;

use super::{Answer, FUNCTIONS};

/// The cPanel & WHM version this server answers to `version`. cPanel's form is
/// `11.MAJOR.MINOR.BUILD` (the leading 11 never changes). Clients compare it to the version
/// that brought the features they use: API tokens came with 64, `create_user_session` and
/// WHM API 1 long before, UAPI `Tokens` with 82. A current release number makes those checks
/// pass; 130 is a release whose WHM API 1 and UAPI functions this server follows.
pub const WHM_VERSION: &str = "11.130.0.0";

/// `applist`: `{app: [...]}`, the functions this server implements, sorted as cPanel's list is.
pub fn applist() -> Answer {
    let mut apps: Vec<&str> = FUNCTIONS.to_vec();
    apps.sort_unstable();
    Some(json!({ "app": apps }))
}

/// `version`: `{version: "11.x.y.z"}`.
pub fn version() -> Answer {
    Some(json!({ "version": WHM_VERSION }))
}
