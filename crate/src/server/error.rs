//! The one error type of the server, its wording and status codes, and the envelopes it
//! becomes.
//!
//! Handlers and [`super::ops`] say *what* went wrong with typed values (a user name, a drift
//! offset, a lockout's length); this module alone turns them into cPanel's words (byte for
//! byte with the spec) and HTTP status codes. Messages never carry a secret, token or password.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::core::Error as CoreError;
use crate::store::{IdentityKind, RollsBack, StoreError};

/// A refusal or failure of an API call, a login or a page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    // ----- who is calling -----
    /// No usable credentials (401 `Access denied`).
    AccessDenied,
    /// A login with a wrong name or password (401).
    LoginInvalid,
    /// Basic auth whose security code (`X-CPANEL-OTP`) is missing or refused (401).
    OtpHeader(Box<ApiError>),
    /// A session cookie without the matching `cpsess` token in the path (403 `Token denied`).
    TokenDenied,
    /// WHM API 1 called by a cPanel, webmail or team user (403).
    WhmOnly,
    /// A reseller tried to change the security policy (403).
    PolicyRootOnly,
    /// A login form posted from another site: a foreign `Origin` or `Sec-Fetch-Site:
    /// cross-site` (403); no session is started.
    CrossSiteLogin,
    /// A session-cookie API call from another origin (403): the cookie is not honoured.
    CrossOrigin,
    /// An API call in a session whose login gave no security code while 2FA is required of
    /// it (401): the session may only finish logging in.
    TfaPending,
    /// A security code posted to `/login` without a live pending session (401).
    LoginPendingGone,

    // ----- the request itself -----
    /// A WHM call without `api.version=1` (400).
    ApiVersion,
    /// Unknown UAPI module (200 with status 0, as cPanel answers it).
    UnknownModule(String),
    /// Unknown function of a known UAPI module (200 with status 0, as cPanel answers it).
    UnknownFunction { module: String, function: String },
    /// Unknown WHM API 1 function, an "app" in cPanel's words (200 with result 0, as cPanel
    /// answers it: cPanel::PublicAPI reads the reason only from a 2xx answer).
    UnknownApp(String),
    /// A method the endpoint does not take (405).
    Method { allowed: &'static str },
    /// `HEAD` on an API endpoint (405): API calls may act, and HEAD must not.
    HeadRefused,
    /// A request body over the limit (413).
    BodyTooLarge,
    /// A request body that did not arrive in time (408).
    BodyTimeout,
    /// `twofactorauth_set_tfa_config_for_user` without a JSON body (415).
    NeedsJsonBody,
    /// A body that does not parse as its content type says (400).
    BadBody(BodyProblem),
    /// A JSON body that does not parse (400).
    BadJson { line: usize, column: usize },
    /// A user-name parameter that can never be a name (400), with the store's reason.
    BadUserParam(String),
    /// A user name for the secrets functions that can never be a name (400).
    BadUserName(String),
    /// A team-user name that can never be a name (400), with the store's reason.
    BadTeamUser(String),
    /// A static path that is not a path (400).
    BadPath,
    /// No such page or asset (404).
    NotFound,
    /// The server runs without `--www` (404).
    PageNotServed,

    // ----- codes -----
    /// Too many wrong security codes: refused until a lockout ends (429).
    Locked { secs: u64 },

    // ----- passwords -----
    /// Too many wrong passwords for the identity or from the address: refused, even with the
    /// right password, until the lockout ends in `secs` (429).
    PasswordLocked { secs: u64 },
    /// Every password-hashing turn is taken and the queue is full, or the attempts being
    /// checked could take the name or the address to its limit: try again in `retry_secs`
    /// (503). Nothing was counted.
    Busy { retry_secs: u64 },
    /// `The security code is invalid.`, with a hint that depends on why.
    InvalidCode(CodeProblem),
    /// `No security code specified.`
    NoCode,

    // ----- worded cPanel failures (HTTP 200; the envelope says status 0) -----
    /// `Missing or Invalid: “<param>”`
    MissingOrInvalid(&'static str),
    /// A chosen secret that is valid base32 but has `len` characters, outside the bounds.
    SecretSize { len: usize },
    /// A team-user lookup by something other than a cPanel account.
    TeamLookupNotAccount,
    /// A team user the caller does not own.
    NotOwnTeamUser(String),
    /// A WHM account the caller may not see or change.
    NoAccess(String),
    /// A user that the secrets functions cannot act on.
    InvalidUser(String),
    /// `twofactorauth_remove_user_config` with no user.
    NoUsers,
    /// `twofactorauth_set_issuer` without `issuer`.
    IssuerMissing,
    /// An issuer that breaks WHM's rules.
    IssuerRule,
    /// The policy could not be changed (the store failed; the log has why).
    PolicyChangeFailed { on: bool },
    /// `Invalid data detected in input arguments.`, with the detail when there is one.
    InvalidData(Option<DataProblem>),
    /// `create_user_session` with a `service` other than cpaneld, whostmgrd and webmaild.
    BadService(String),
    /// `create_user_session` for a login that cannot use that service (WHM for a cPanel user).
    ServiceNotFor { user: String, service: String },
    /// An API token name outside cPanel's rule (1-50 of a-z, A-Z, 0-9, `-`, `_`).
    TokenNameRule,
    /// An API token name the account already uses.
    TokenNameTaken(String),
    /// No API token of that name.
    NoSuchToken(String),
    /// A token restriction this server does not implement (`acl`, `expires_at`,
    /// `whitelist_ip`): refused rather than ignored, since ignoring it would grant more.
    TokenRestriction(&'static str),
    /// API tokens asked for by a webmail or team user (tokens are for accounts).
    TokensForAccountsOnly,
    /// A one-time login URL that is unknown, used already or expired (401).
    OneTimeLoginInvalid,
    /// Recovery codes asked of a 2FA username with no 2FA config.
    RecoveryWithoutTfa,

    /// The store or the runtime failed (500). The text is for the log, not the client.
    Internal(String),
}

/// Why a security code was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeProblem {
    /// Not six digits (never counted as a failure).
    Malformed(CoreError),
    /// Wrong during enrollment, where the caller supplied the secret: the drift (in steps) of
    /// the nearby time it matches, if any, may be shown.
    Wrong { drift: Option<i64> },
    /// Wrong at login, with Basic auth or `X-CPANEL-OTP`: no hint that could guide a guesser.
    WrongAtLogin,
    /// A code of a step already used; the next code is due in `next_in` seconds.
    Replayed { next_in: u64 },
}

/// What is wrong with a form or multipart body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyProblem {
    FormNotUtf8,
    MultipartNoBoundary,
    MultipartMalformed,
    MultipartNotUtf8,
}

/// What is wrong with the JSON of `twofactorauth_set_tfa_config_for_user`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataProblem {
    /// An entry with a key other than `secret`.
    OnlySecretKey(String),
    /// An entry without a `secret` string.
    NoSecret(String),
    /// An entry whose secret the validator refuses.
    BadSecret(String, CoreError),
    /// An entry whose secret is base32 of `len` characters, outside the bounds.
    SecretSize { what: String, len: usize },
    /// An email or team section naming an identity the account does not own.
    NotOwned {
        user: String,
        kind: IdentityKind,
        who: String,
    },
    /// A section other than `primary_account`, `email` and `team`.
    BadKey { key: String, user: String },
}

/// Why WHM refuses an account to a caller (the detail of `failed` entries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessProblem {
    NoSuchUser(String),
    NoAccess(String),
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
        use ApiError::*;
        match self {
            AccessDenied | LoginInvalid | OtpHeader(_) | OneTimeLoginInvalid | TfaPending
            | LoginPendingGone => StatusCode::UNAUTHORIZED,
            TokenDenied | WhmOnly | PolicyRootOnly | CrossSiteLogin | CrossOrigin => {
                StatusCode::FORBIDDEN
            }
            ApiVersion
            | BadBody(_)
            | BadJson { .. }
            | BadUserParam(_)
            | BadUserName(_)
            | BadTeamUser(_)
            | BadPath => StatusCode::BAD_REQUEST,
            NotFound | PageNotServed => StatusCode::NOT_FOUND,
            Method { .. } | HeadRefused => StatusCode::METHOD_NOT_ALLOWED,
            BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            NeedsJsonBody => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Locked { .. } | PasswordLocked { .. } => StatusCode::TOO_MANY_REQUESTS,
            Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            InvalidCode(_)
            | NoCode
            | MissingOrInvalid(_)
            | SecretSize { .. }
            | TeamLookupNotAccount
            | NotOwnTeamUser(_)
            | NoAccess(_)
            | InvalidUser(_)
            | NoUsers
            | IssuerMissing
            | IssuerRule
            | PolicyChangeFailed { .. }
            | InvalidData(_)
            | BadService(_)
            | ServiceNotFor { .. }
            | TokenNameRule
            | TokenNameTaken(_)
            | NoSuchToken(_)
            | TokenRestriction(_)
            | TokensForAccountsOnly
            | RecoveryWithoutTfa
            | UnknownModule(_)
            | UnknownFunction { .. }
            | UnknownApp(_) => StatusCode::OK,
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message, without any function prefix.
    pub fn reason(&self) -> String {
        use ApiError::*;
        match self {
            AccessDenied => "Access denied".to_owned(),
            LoginInvalid => "The login is invalid.".to_owned(),
            TfaPending => "Two-factor authentication is required: this session has not given a security code. Finish logging in: POST /login with tfa_token and the session cookie.".to_owned(),
            LoginPendingGone => "The login has expired. Log in again with your user name and password.".to_owned(),
            OtpHeader(why) => format!(
                "Access denied: {} Send the current code in the X-CPANEL-OTP header.",
                why.reason()
            ),
            TokenDenied => "Token denied".to_owned(),
            WhmOnly => "Permission denied: WHM API 1 is for root and resellers; cPanel, webmail and team users use UAPI.".to_owned(),
            PolicyRootOnly => "Permission denied: only root may change the two-factor authentication security policy.".to_owned(),
            CrossSiteLogin => "Login refused: the form was sent from another site. Log in from this server's own login page.".to_owned(),
            CrossOrigin => "Permission denied: this request came from another site (its Origin header is not this server's), so the session cookie is not honoured.".to_owned(),
            ApiVersion => "This server implements WHM API 1 only: add “api.version=1” to the query string. WHM API 0 is not supported.".to_owned(),
            // Cpanel::API::_init_execute wraps Cpanel::LoadModule's ModuleLoadError, whose
            // error is Perl's "Can't locate …" (the @INC list left out).
            UnknownModule(m) => format!(
                "Failed to load module “{m}”: The system failed to load the module “Cpanel::API::{m}” because of an error: Can't locate Cpanel/API/{}.pm in @INC.",
                m.replace("::", "/")
            ),
            UnknownFunction { module, function } => format!(
                "The system could not find the function “{function}” in the module “{module}”."
            ),
            UnknownApp(name) => {
                format!("Unknown app (“{name}”) requested for this version (1) of the API.")
            }
            Method { allowed } => format!("This function only accepts {allowed} requests."),
            HeadRefused => "API calls do not take HEAD requests (a HEAD request must never change anything, and an API call may): send GET or POST.".to_owned(),
            BodyTooLarge => "The request body is larger than 64 KiB.".to_owned(),
            BodyTimeout => "The request body did not arrive in time.".to_owned(),
            NeedsJsonBody => "This function takes a JSON body: POST it with Content-Type: application/json (CLI: --json-body FILE).".to_owned(),
            BadBody(p) => match p {
                BodyProblem::FormNotUtf8 => "The form body is not valid UTF-8.",
                BodyProblem::MultipartNoBoundary => "The multipart body has no boundary.",
                BodyProblem::MultipartMalformed => "The multipart body is malformed.",
                BodyProblem::MultipartNotUtf8 => "The multipart body is not UTF-8 text.",
            }
            .to_owned(),
            BadJson { line, column } => format!(
                "The request body is not valid JSON (line {line}, column {column})."
            ),
            BadUserParam(why) => format!("Invalid user: {why}"),
            BadUserName(user) => format!("Invalid user: {}", user.escape_debug()),
            BadTeamUser(why) => why.clone(),
            BadPath => "Bad path".to_owned(),
            NotFound => "Not found".to_owned(),
            PageNotServed => "The enrollment page is not served: start `tfa serve` with --www DIR.".to_owned(),
            Locked { secs } => {
                let minutes = secs.div_ceil(60).max(1);
                let s = if minutes > 1 { "s" } else { "" };
                format!("Too many invalid security codes. Try again in {minutes} minute{s}.")
            }
            PasswordLocked { secs } => {
                let minutes = secs.div_ceil(60).max(1);
                let s = if minutes > 1 { "s" } else { "" };
                format!("Too many failed logins. Try again in {minutes} minute{s}.")
            }
            Busy { retry_secs } => {
                let s = if *retry_secs == 1 { "" } else { "s" };
                format!("The server is busy checking other passwords. Try again in {retry_secs} second{s}.")
            }
            InvalidCode(_) => "The security code is invalid.".to_owned(),
            NoCode => "No security code specified.".to_owned(),
            MissingOrInvalid(param) => format!("Missing or Invalid: “{param}”"),
            SecretSize { len } => format!("The “secret” must have {}; it has {len}.", secret_bounds()),
            TeamLookupNotAccount => "Only a cPanel account can look up its team users.".to_owned(),
            NotOwnTeamUser(t) => format!("You do not own the team user account “{t}”."),
            NoAccess(user) => format!("You do not have access to an account named “{user}”."),
            InvalidUser(user) => format!("Invalid user: {user}"),
            NoUsers => "No users specified.".to_owned(),
            IssuerMissing => "Failed to set issuer: Missing or Invalid: “issuer”".to_owned(),
            IssuerRule => "Failed to set issuer: The “issuer” parameter must be less than or equal to 32 characters in length. It can only use spaces and the following characters: a-z, A-Z, 0-9, ., _, -".to_owned(),
            PolicyChangeFailed { on: true } => "Failed to enable the Two-Factor Authentication security policy.".to_owned(),
            PolicyChangeFailed { on: false } => "Failed to disable Two-Factor Authentication security policy.".to_owned(),
            InvalidData(None) => "Invalid data detected in input arguments.".to_owned(),
            InvalidData(Some(detail)) => format!(
                "Invalid data detected in input arguments:  {}",
                data_problem(detail)
            ),
            BadService(service) => format!("Invalid service “{service}”: use “cpaneld”, “whostmgrd” or “webmaild”."),
            ServiceNotFor { user, service } => format!("The user “{user}” cannot log in to the service “{service}”."),
            TokenNameRule => "The API token name must have 1 to 50 characters, each a letter (a-z, A-Z), a digit (0-9), a dash (-) or an underscore (_).".to_owned(),
            TokenNameTaken(name) => format!("An API token named “{name}” already exists."),
            NoSuchToken(name) => format!("No API token is named “{name}”."),
            TokenRestriction(param) => format!("This server does not support the “{param}” parameter: every API token has its account's full access, without expiry or address limits."),
            TokensForAccountsOnly => "Only a cPanel or WHM account can have API tokens.".to_owned(),
            RecoveryWithoutTfa => "Two-factor authentication is not set up for this account, so it has no recovery codes: set it up first.".to_owned(),
            OneTimeLoginInvalid => "This login link is not valid: it was used already, it has expired, or it never existed. Ask for a new one.".to_owned(),
            Internal(_) => "An internal error occurred; the server log has the details.".to_owned(),
        }
    }

    /// Hints for the `warnings` array.
    pub fn warnings(&self) -> Vec<String> {
        let hint = match self {
            ApiError::InvalidCode(problem) => match problem {
                CodeProblem::Malformed(e) => Some(e.to_string()),
                CodeProblem::Wrong { drift } => drift.map(crate::core::drift_sentence),
                CodeProblem::WrongAtLogin => None,
                CodeProblem::Replayed { next_in } => Some(format!(
                    "This security code has already been used. Wait for the next code from your authenticator app (due in {next_in} seconds), then try again."
                )),
            },
            _ => None,
        };
        hint.into_iter().collect()
    }

    /// The `Allow` header of a 405 answer.
    pub fn allow(&self) -> Option<String> {
        match self {
            ApiError::HeadRefused => Some("GET, POST".to_owned()),
            ApiError::Method { allowed } => Some(allowed.replace(" and ", ", ")),
            _ => None,
        }
    }

    /// The `message` of a refused `POST /login/?login_only=1`.
    pub fn login_message(&self) -> &'static str {
        // `POST /login/?login_only=1` answers `{"status":0,"message":…}`; cPanel's own values
        // are `invalid_login` (cpaneld) and `see_login_log` (whostmgrd). The others are this
        // server's, one per refusal a script may want to tell apart.
        match self {
            ApiError::LoginInvalid => "invalid_login",
            ApiError::NoCode => "tfa_required",
            ApiError::InvalidCode(_) => "invalid_tfa_token",
            ApiError::LoginPendingGone => "expired_session",
            ApiError::Locked { .. } | ApiError::PasswordLocked { .. } => "locked",
            ApiError::Busy { .. } => "busy",
            ApiError::CrossSiteLogin => "cross_site",
            _ => "error",
        }
    }

    /// The `Retry-After` header's seconds, for refusals that end by themselves.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Locked { secs } | ApiError::PasswordLocked { secs } => Some((*secs).max(1)),
            ApiError::Busy { retry_secs } => Some((*retry_secs).max(1)),
            _ => None,
        }
    }

    /// True for refusals of the request itself (auth, routing, framing), which UAPI reports
    /// without the function's "Failed to …" prefix.
    pub(crate) fn is_request_level(&self) -> bool {
        let unknown = matches!(
            self,
            ApiError::UnknownModule(_) | ApiError::UnknownFunction { .. } | ApiError::UnknownApp(_)
        );
        unknown
            || (self.status() != StatusCode::OK
                && !matches!(self, ApiError::Locked { .. } | ApiError::Internal(_)))
    }

    /// The status and one-line text of a plain-text answer (pages, static files).
    pub fn plain(&self) -> (StatusCode, String) {
        (failure_status(self), format!("{}\n", self.reason()))
    }
}

/// The detail sentence of [`ApiError::InvalidData`].
fn data_problem(p: &DataProblem) -> String {
    match p {
        DataProblem::OnlySecretKey(what) => format!("‘secret’ is the only valid key for ‘{what}’"),
        DataProblem::NoSecret(what) => format!("No ‘secret’ given for {what}"),
        DataProblem::BadSecret(what, e) => format!("The ‘secret’ for {what} is invalid: {e}"),
        DataProblem::SecretSize { what, len } => format!(
            "The ‘secret’ for {what} must have {}; it has {len}",
            secret_bounds()
        ),
        DataProblem::NotOwned { user, kind, who } => {
            let noun = match kind {
                IdentityKind::Webmail => "an email account",
                IdentityKind::Team => "a team user",
            };
            format!("‘{user}’ does not own {noun} named ‘{who}’")
        }
        DataProblem::BadKey { key, user } => format!("‘{key}’ is not a valid key for ‘{user}’"),
    }
}

/// The sizes a chosen secret may have, for the refusals that name them.
fn secret_bounds() -> String {
    use crate::core::secret::{MAX_CHOSEN_CHARS, MIN_CHOSEN_CHARS};
    // Each base32 character carries 5 bits.
    format!(
        "{MIN_CHOSEN_CHARS} to {MAX_CHOSEN_CHARS} base32 characters ({} to {} bits)",
        MIN_CHOSEN_CHARS * 5,
        MAX_CHOSEN_CHARS * 5
    )
}

/// The text of a `failed` entry of `twofactorauth_remove_user_config`.
pub fn not_authorized_to_modify(user: &str, why: &AccessProblem) -> String {
    let detail = match why {
        AccessProblem::NoSuchUser(u) => format!("The user “{u}” does not exist."),
        AccessProblem::NoAccess(u) => format!("You do not have access to an account named “{u}”."),
    };
    format!("You are not authorized to modify “{user}”: {detail}")
}

impl From<StoreError> for ApiError {
    /// A busy database (every connection in use, a lock wait that timed out) or one that cannot
    /// be reached (PostgreSQL restarting) is a refusal to try again shortly, as a full password
    /// queue is; any other store failure is internal.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Busy(_) => ApiError::Busy {
                retry_secs: super::hashing::BUSY_RETRY_SECS,
            },
            StoreError::Unavailable(why) => {
                // The client is told to come back; the administrator needs to know why.
                tracing::warn!(%why, "the database is unavailable");
                ApiError::Busy {
                    retry_secs: super::hashing::BUSY_RETRY_SECS,
                }
            }
            e => ApiError::Internal(e.to_string()),
        }
    }
}

impl RollsBack for ApiError {
    /// A refusal keeps what the job recorded (a failure row, an audit line); only a failure
    /// of the store or the runtime undoes it.
    fn rolls_back(&self) -> bool {
        matches!(self, ApiError::Internal(_))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.plain().into_response()
    }
}

/// Adds `Retry-After: secs` ([`ApiError::retry_after`]) to the answer of a refusal that ends
/// by itself: a lockout, a full password-hashing queue.
pub fn with_retry_after(mut resp: Response, secs: Option<u64>) -> Response {
    if let Some(secs) = secs {
        resp.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(secs),
        );
    }
    resp
}

/// The HTTP status of a failed request; an internal error is logged here (the client only
/// gets a generic reason).
pub fn failure_status(e: &ApiError) -> StatusCode {
    if let ApiError::Internal(detail) = e {
        tracing::error!(%detail, "internal error");
    }
    e.status()
}

/// The "Failed to …" prefix each UAPI function puts before its reason (spec section 3).
pub(crate) fn uapi_prefix(function: &str) -> Option<&'static str> {
    Some(match function {
        "generate_user_configuration" => {
            "Failed to generate two-factor authentication configuration"
        }
        "set_user_configuration" => "Failed to set user configuration",
        "get_user_configuration" => "Failed to get user configuration",
        "remove_user_configuration" => "Failed to remove user configuration",
        "get_team_user_configuration" => "Failed to get team user configuration",
        // tfa's own `TfaRecoveryCodes` module.
        "regenerate" => "Failed to make new recovery codes",
        _ => return None,
    })
}
