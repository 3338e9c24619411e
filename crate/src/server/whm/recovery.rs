//! `tfa_recovery_codes_remaining`: tfa's own WHM API 1 function (cPanel has no recovery
//! codes, hence no `twofactorauth_` prefix). How many unused recovery codes each 2FA user of
//! an account has, for the administrators who control the account; never a code, which the
//! store does not have anyway.
//!
//! `user=NAME` answers `{NAME: {primary_account: {remaining}, email: {ADDR: {remaining}},
//! team: {TEAM: {remaining}}}}`, the layout of `twofactorauth_get_tfa_config_for_user`, with
//! only the users that have 2FA set up.

use serde_json::{json, Map, Value};

use super::{access, check_user_param, Answer};
use crate::server::error::ApiError;
use crate::server::Trip;
use crate::store::{Account, IdentityKind};

pub(super) fn tfa_recovery_codes_remaining(
    trip: Trip<'_, '_>,
    me: &Account,
    user: Option<&str>,
) -> Result<Answer, ApiError> {
    let user = user.filter(|u| !u.is_empty()).ok_or(ApiError::NoUsers)?;
    check_user_param(user)?;
    let r = trip.reader();
    let account = match access(r, me, user)? {
        Ok(account) => account,
        Err(_) => return Err(ApiError::InvalidUser(user.to_owned())),
    };
    let left = |name: &str| -> Result<Value, ApiError> {
        Ok(json!({"remaining": r.recovery_codes_left(name)?}))
    };
    let mut out = Map::new();
    if r.has_tfa(&account.name)? {
        out.insert("primary_account".to_owned(), left(&account.name)?);
    }
    let (mut email, mut team) = (Map::new(), Map::new());
    for identity in r.identities_of(&account.name)? {
        if !r.has_tfa(&identity.name)? {
            continue;
        }
        let section = match identity.kind {
            IdentityKind::Webmail => &mut email,
            IdentityKind::Team => &mut team,
        };
        section.insert(identity.name.clone(), left(&identity.name)?);
    }
    for (key, section) in [("email", email), ("team", team)] {
        if !section.is_empty() {
            out.insert(key.to_owned(), Value::Object(section));
        }
    }
    Ok(Some(json!({ account.name: out })))
}
