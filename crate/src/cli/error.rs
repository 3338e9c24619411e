//! The command line's one error type: what went wrong, worded for the operator at the
//! terminal. cPanel's own wording stays in the server's error map; a failed API call is not
//! an error here (its envelope is printed and the exit code says it failed).

use std::fmt;

use tfa::server::ApiError;
use tfa::store::StoreError;

/// Why a command could not run.
#[derive(Debug)]
pub enum CliError {
    /// Arguments that cannot work, with the reason.
    Usage(String),
    /// The store refused or failed.
    Store(StoreError),
    /// The server's machinery failed (randomness, hashing, the runtime).
    Api(ApiError),
    /// Reading input or writing output failed.
    Io(String),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(why) | CliError::Io(why) => f.write_str(why),
            CliError::Store(e) => write!(f, "{e}"),
            CliError::Api(e) => match e {
                ApiError::Internal(detail) => f.write_str(detail),
                other => f.write_str(&other.reason()),
            },
        }
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        CliError::Store(e)
    }
}

impl From<ApiError> for CliError {
    fn from(e: ApiError) -> Self {
        CliError::Api(e)
    }
}

/// A usage error from any text.
pub fn usage(why: impl Into<String>) -> CliError {
    CliError::Usage(why.into())
}
