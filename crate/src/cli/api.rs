//! `tfa uapi` and `tfa whmapi1`: API calls against the local store, as cPanel's tools make
//! them on the box. They go through the server's own dispatch and envelope building, so the
//! command line and HTTP answer alike.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use axum::http::Method;
use serde_json::Value;

use tfa::server::auth::Credentials;
use tfa::server::envelope::{uapi_envelope, uapi_wrapped, whm_envelope};
use tfa::server::format::{to_uapi_xml, to_whm_xml, to_yaml};
use tfa::server::{self, ApiError, AppState, Input, Params};
use tfa::store::check_name;

use super::args::{UapiArgs, UapiOutput, WhmArgs, WhmOutput};
use super::error::{usage, CliError};

/// What the audit log and throttling record as the address of command-line calls.
const CLI_ADDRESS: &str = "cli";

/// Parses `key=value` arguments, URI-decoding the values.
fn parse_args(args: &[String]) -> Result<Params, CliError> {
    let mut pairs = Vec::with_capacity(args.len());
    for arg in args {
        let (k, v) = arg
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| usage(format!("“{arg}” is not a key=value argument")))?;
        let value = percent_encoding::percent_decode_str(v)
            .decode_utf8()
            .map_err(|_| {
                usage(format!(
                    "the value of “{k}” is not valid UTF-8 after URI decoding"
                ))
            })?;
        pairs.push((k.to_owned(), value.into_owned()));
    }
    Ok(Params::from_pairs(pairs))
}

/// Request-level errors (unknown module/function) stop a CLI run with a message.
fn is_usage_error(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::UnknownModule(_) | ApiError::UnknownFunction { .. } | ApiError::UnknownApp(_)
    )
}

/// `tfa uapi -u U MODULE FUNCTION key=value…` (also `--user=U`, `--user U`).
pub async fn uapi(state: AppState, args: UapiArgs) -> Result<ExitCode, CliError> {
    let params = parse_args(&args.args)?;
    if check_name(&args.user).is_err() {
        return Err(usage(format!(
            "invalid user “{}”",
            args.user.escape_debug()
        )));
    }
    let creds = Credentials::Local {
        user: args.user.clone(),
    };
    let result = server::uapi::dispatch(
        &state,
        creds,
        Arc::from(CLI_ADDRESS),
        args.module.clone(),
        args.function.clone(),
        params,
    )
    .await;
    match &result {
        Err(ApiError::AccessDenied) => {
            return Err(usage(format!("no user is named “{}”", args.user)))
        }
        Err(e) if is_usage_error(e) => return Err(usage(e.reason())),
        _ => {}
    }
    let ok = result.is_ok();
    let wrapped = uapi_wrapped(
        &args.module,
        &args.function,
        uapi_envelope(&args.function, result),
    );
    let text = match args.output {
        UapiOutput::Yaml => to_yaml(&wrapped),
        UapiOutput::Json => format!("{wrapped}\n"),
        UapiOutput::Jsonpretty => pretty(&wrapped),
        UapiOutput::Xml => format!("{}\n", to_uapi_xml(&wrapped)),
    };
    emit(&text, ok)
}

/// `tfa whmapi1 FUNCTION key=value…`, as root.
pub async fn whmapi1(state: AppState, args: WhmArgs) -> Result<ExitCode, CliError> {
    let params = parse_args(&args.args)?;
    let json = args
        .json_body
        .as_deref()
        .map(read_body)
        .transpose()?
        .map(Into::into);
    let creds = Credentials::Local {
        user: "root".to_owned(),
    };
    let result = server::whm::dispatch(
        &state,
        creds,
        Arc::from(CLI_ADDRESS),
        args.function.clone(),
        Method::POST,
        Input { params, json },
    )
    .await;
    match &result {
        Err(ApiError::AccessDenied) => return Err(usage("the store has no root account")),
        Err(e) if is_usage_error(e) => {
            return Err(usage(format!(
                "Unknown function “{}”. WHM API 1 functions here: {}",
                args.function,
                server::whm::FUNCTIONS.join(", ")
            )))
        }
        _ => {}
    }
    let ok = result.is_ok();
    let envelope = whm_envelope(&args.function, result);
    let text = match args.output {
        WhmOutput::Yaml => to_yaml(&envelope),
        WhmOutput::Json => format!("{envelope}\n"),
        WhmOutput::Jsonpretty => pretty(&envelope),
        WhmOutput::Xml => format!("{}\n", to_whm_xml(&envelope)),
    };
    emit(&text, ok)
}

fn read_body(path: &Path) -> Result<Vec<u8>, CliError> {
    let mut buf = Vec::new();
    if path == Path::new("-") {
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .map_err(|e| CliError::Io(format!("cannot read stdin: {e}")))?;
    } else {
        buf = std::fs::read(path).map_err(|e| CliError::Io(format!("{}: {e}", path.display())))?;
    }
    if buf.len() > server::BODY_LIMIT {
        return Err(usage("the JSON body is larger than 64 KiB"));
    }
    Ok(buf)
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).map_or_else(|_| format!("{v}\n"), |s| format!("{s}\n"))
}

/// Prints the output; exit 0 on success, 1 when the call failed (the envelope says why).
fn emit(text: &str, ok: bool) -> Result<ExitCode, CliError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| CliError::Io(format!("cannot write the output: {e}")))?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
