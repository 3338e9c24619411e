//! Browser and scripted login, in cPanel's two steps.
//!
//! 1. `POST /login` with `user` and `pass` (and, in one step, `tfa_token`). When a security
//!    code is required of the login (the policy is on and it has 2FA) and none came, the
//!    password step opens a *pending* session (its cookie is set; it lives
//!    [`PENDING_SECS`]) and answers the security-code page, whose form has the id
//!    `tfa_login_form` (the marker cPanel's clients look for).
//! 2. `POST /login` with `tfa_token` and the pending session's cookie finishes it: the code is
//!    checked (wrong ones count against the code limits, as at any login) and the session is
//!    replaced by a full one under a new cookie and `cpsess`.
//!
//! A login answers `302 Found` with `Location: /cpsessNNNNNNNNNN/` (a redirect that HTTP
//! clients do not follow after a POST, so scripts read the token from it); with
//! `?login_only=1` it answers JSON in cPanel's shape instead: `{"status":1,"security_token":
//! "/cpsessNNNNNNNNNN","redirect":"/cpsessNNNNNNNNNN/"}`, or `{"status":0,"message":…,
//! "reason":…}`. The session cookie is HttpOnly and SameSite=Strict.
//!
//! The page is `www/login.html` (both steps, in marked sections), built into the binary so the
//! server logs in without `--www`. Its words come from the page's catalogs ([`i18n`]), in the
//! language of `?locale=`, else of `Accept-Language`, else English; a refusal's reason stays
//! cPanel's English. Never logs the password, the code or the cookie.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Json;
use serde_json::{json, Map, Value};

pub use super::auth::PENDING_SECS;
use super::auth::{
    check_password, code_required, is_pending, new_session_ids, session_cookie, sha256,
    PasswordUse, SESSION_COOKIE, SESSION_SECS,
};
use super::error::{failure_status, with_retry_after, ApiError};
use super::i18n::{self, Catalog};
use super::request::{client_ip, read_input};
use super::router::no_store;
use super::{ops, AppState};
use crate::store::{AuditKind, Session};

/// Both steps of the login page; `<!--notice-->` is where refusals go, `{{key}}` the words.
const FORM: &str = include_str!("../../../www/login.html");

/// The language of a login page: its catalog, and whether `?locale=` chose it (the forms then
/// post back to `/login?locale=…`, so the next step speaks it too).
#[derive(Clone, Copy)]
struct Lang {
    catalog: &'static Catalog,
    from_query: bool,
}

impl Lang {
    fn of(uri: &Uri, headers: &HeaderMap) -> Lang {
        let (catalog, from_query) = i18n::for_request(uri.query(), headers);
        Lang {
            catalog,
            from_query,
        }
    }

    fn english() -> Lang {
        Lang {
            catalog: i18n::english(),
            from_query: false,
        }
    }

    /// Where the forms post.
    fn action(self) -> String {
        if self.from_query {
            format!("/login?locale={}", self.catalog.locale)
        } else {
            "/login".to_owned()
        }
    }
}

/// Which step of the login a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// User name and password.
    Password,
    /// The security code of a pending session (`tfa_login_form`), or a recovery code
    /// (`tfa_recovery_form`).
    Code,
    /// Logged in with a recovery code: how many are left, and the way on.
    Recovered,
}

impl Step {
    /// The marked section of [`FORM`] that holds this step.
    fn section(self) -> &'static str {
        match self {
            Step::Password => "password",
            Step::Code => "code",
            Step::Recovered => "recovered",
        }
    }
}

/// What a login came to.
enum Outcome {
    /// A full session: its cookie (`None` when the client already holds it) and `cpsess`.
    LoggedIn {
        cookie: Option<String>,
        cpsess: String,
        /// When a recovery code stood in for the security code: how many are left.
        recovery_left: Option<usize>,
    },
    /// The password was right and a code is owed: the pending session's cookie.
    Pending { cookie: String },
}

/// `GET /login`: the password step, or the code step for a live pending session's cookie.
pub async fn page(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let step = match pending_cookie(&state, &headers) {
        Ok(true) => Step::Code,
        Ok(false) => Step::Password,
        Err(e) => return e.into_response(),
    };
    form(Lang::of(&uri, &headers), step, StatusCode::OK, None)
}

/// Does the request carry the cookie of a live pending session? One read trip.
fn pending_cookie(state: &AppState, headers: &HeaderMap) -> Result<bool, ApiError> {
    let Some(cookie) = session_cookie(headers) else {
        return Ok(false);
    };
    let (hash, now) = (sha256(&cookie), state.now());
    state.read(|r| match r.session(&hash, now)? {
        Some(s) => is_pending(r, &s),
        None => Ok(false),
    })
}

/// True when a client asks for JSON only (`Accept: application/json`): an API call in a
/// pending session then gets the API's own refusal rather than the security-code page.
pub fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            t.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        })
}

/// What an API call in a pending session gets (unless it asks for JSON only): the
/// security-code page, `200 OK` as cPanel serves it, whose `tfa_login_form` is what
/// cPanel's clients (cPanel::PublicAPI among them) look for in an answer. In English, like
/// the API's own answers.
pub fn security_code_page() -> Response {
    form(Lang::english(), Step::Code, StatusCode::OK, None)
}

/// `GET /logout`: ends the session and goes back to the form.
pub async fn logout(State(state): State<AppState>, req: Request) -> Response {
    if let Some(cookie) = session_cookie(req.headers()) {
        let hash = sha256(&cookie);
        if let Err(e) = state.write(move |w| Ok(w.delete_session(&hash)?)).await {
            return e.into_response();
        }
    }
    let mut resp = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
    )) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// True for `?login_only=1`: cPanel's scripted login, answered in JSON.
fn login_only(req: &Request) -> bool {
    form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .any(|(k, v)| k == "login_only" && !v.is_empty() && v != "0")
}

/// `POST /login` (and `/login/`).
pub async fn submit(State(state): State<AppState>, req: Request) -> Response {
    let json = login_only(&req);
    let lang = Lang::of(req.uri(), req.headers());
    // A form posted from another site's page must not start a session (login CSRF): refused
    // before the body, the password or the store is looked at.
    if super::router::is_cross_site(req.headers(), req.uri()) {
        return refusal(lang, json, Step::Password, ApiError::CrossSiteLogin);
    }
    let ip = client_ip(&req);
    match login(&state, &ip, req).await {
        Ok(outcome) => {
            answer(lang, json, outcome).unwrap_or_else(|e| refusal(lang, json, Step::Password, e))
        }
        Err((step, e)) => refusal(lang, json, step, e),
    }
}

/// The answer to a login that went through.
fn answer(lang: Lang, json: bool, outcome: Outcome) -> Result<Response, ApiError> {
    let (resp, cookie, max_age) = match outcome {
        Outcome::LoggedIn {
            cookie,
            cpsess,
            recovery_left,
        } => {
            let resp = if json {
                let mut body = json!({
                    "status": 1,
                    "security_token": format!("/{cpsess}"),
                    "redirect": format!("/{cpsess}/"),
                });
                // tfa's own field: a recovery code was used, this many are left.
                if let (Some(left), Some(map)) = (recovery_left, body.as_object_mut()) {
                    map.insert("recovery_codes_remaining".to_owned(), json!(left));
                }
                Json(body).into_response()
            } else if let Some(left) = recovery_left {
                // The person must learn that a code is gone (and how many are left) before
                // going on, so not a bare redirect.
                recovered_page(lang, left, &cpsess)
            } else {
                // 302, not 303: clients (HTTP::Tiny, LWP) do not follow a 302 after a POST,
                // so a script reads the token from `Location`, as cPanel's clients do.
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, format!("/{cpsess}/"))],
                )
                    .into_response()
            };
            (resp, cookie, SESSION_SECS)
        }
        Outcome::Pending { cookie } => {
            let resp = if json {
                let e = ApiError::NoCode;
                (status_at_login(&e), Json(login_json(&e))).into_response()
            } else {
                form(lang, Step::Code, StatusCode::OK, None)
            };
            (resp, Some(cookie), PENDING_SECS)
        }
    };
    let mut resp = no_store(resp);
    if let Some(cookie) = cookie {
        let value = HeaderValue::from_str(&format!(
            "{SESSION_COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}"
        ))
        .map_err(|_| ApiError::Internal("cookie header".to_owned()))?;
        resp.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(resp)
}

/// The status of a refused login: a code that is missing or wrong is 401, as a wrong
/// password is; the rest as anywhere else.
fn status_at_login(e: &ApiError) -> StatusCode {
    match e {
        ApiError::InvalidCode(_) | ApiError::NoCode => StatusCode::UNAUTHORIZED,
        other => failure_status(other),
    }
}

/// The JSON of a refused `login_only=1`: `status` 0, cPanel's `message` token, the reason in
/// words and any hint (a replayed code's says when the next one is due).
fn login_json(e: &ApiError) -> Value {
    let mut out = Map::new();
    out.insert("status".to_owned(), json!(0));
    out.insert("message".to_owned(), json!(e.login_message()));
    out.insert("reason".to_owned(), json!(e.reason()));
    let warnings = e.warnings();
    if !warnings.is_empty() {
        out.insert("warnings".to_owned(), json!(warnings));
    }
    Value::Object(out)
}

/// A refused login: the page at `step` with the reason (and hints), or the JSON of
/// `login_only=1`. A lockout or a full hashing queue says when to come back.
fn refusal(lang: Lang, json: bool, step: Step, e: ApiError) -> Response {
    let status = status_at_login(&e);
    let resp = if json {
        no_store((status, Json(login_json(&e))).into_response())
    } else {
        let mut lines = vec![e.reason()];
        lines.extend(e.warnings());
        form(lang, step, status, Some(&lines))
    };
    with_retry_after(resp, e.retry_after())
}

async fn login(state: &AppState, ip: &str, req: Request) -> Result<Outcome, (Step, ApiError)> {
    let at_password = |e| (Step::Password, e);
    let cookie = session_cookie(req.headers());
    let (parts, body) = req.into_parts();
    let input = read_input(&parts, body, state.body_timeout)
        .await
        .map_err(at_password)?;
    let p = &input.params;
    let (user, pass) = (p.get("user").unwrap_or(""), p.get("pass").unwrap_or(""));
    let code = p.get("tfa_token").unwrap_or("").to_owned();
    if user.is_empty() && pass.is_empty() {
        // The second step: a code for the pending session of the cookie.
        return match cookie {
            Some(cookie) if p.get("tfa_token").is_some() => finish(state, ip, &cookie, code).await,
            _ => Err(at_password(ApiError::LoginInvalid)),
        };
    }
    if user.is_empty() || pass.is_empty() {
        return Err(at_password(ApiError::LoginInvalid));
    }
    // Throttled, and a refusal is audited there (a name that matches nobody as a keyed hash:
    // it may be a password typed into the wrong field).
    let principal = check_password(state, user, pass, ip, PasswordUse::Login)
        .await
        .map_err(at_password)?
        .ok_or(at_password(ApiError::LoginInvalid))?;
    let now = state.now();
    let (new_cookie, cpsess) = new_session_ids().map_err(at_password)?;
    let name = principal.name().to_owned();
    let (hash, ip) = (sha256(&new_cookie), ip.to_owned());
    // The second factor (when a code came or none is required), the session and its audit
    // row: one write trip.
    let pending = state
        .write(move |w| {
            let required = code_required(w, &name)?;
            let pending = required && code.is_empty();
            let recovery_left = if required && !pending {
                ops::second_factor(w, &name, &ip, now, &code, ops::CodeUse::Login)?
            } else {
                None
            };
            let session = Session {
                cpsess,
                principal: name,
                expires: now.saturating_add(if pending { PENDING_SECS } else { SESSION_SECS }),
                tfa_verified: required && !pending,
            };
            w.add_session(&hash, &session, now)?;
            let detail = if pending {
                "password accepted; security code pending"
            } else {
                "session started"
            };
            w.audit(now, AuditKind::Login, &session.principal, &ip, detail)?;
            Ok((pending, session.cpsess, recovery_left))
        })
        .await
        .map_err(at_password)?;
    Ok(match pending {
        (true, _, _) => Outcome::Pending { cookie: new_cookie },
        (false, cpsess, recovery_left) => Outcome::LoggedIn {
            cookie: Some(new_cookie),
            cpsess,
            recovery_left,
        },
    })
}

/// The second step: checks `code` for the pending session of `cookie` and, if right, replaces
/// it with a full session under a new cookie and `cpsess` (the pending cookie opens nothing
/// more). A wrong code counts against the code limits and leaves the session pending.
async fn finish(
    state: &AppState,
    ip: &str,
    cookie: &str,
    code: String,
) -> Result<Outcome, (Step, ApiError)> {
    let now = state.now();
    let old_hash = sha256(cookie);
    let (new_cookie, cpsess) = new_session_ids().map_err(|e| (Step::Code, e))?;
    let new_hash = sha256(&new_cookie);
    let ip = ip.to_owned();
    let done = state
        .write(move |w| {
            let Some(old) = w.session(&old_hash, now)? else {
                return Ok(Err(ApiError::LoginPendingGone));
            };
            if !is_pending(w, &old)? {
                // Nothing is owed (the policy went off meanwhile, or a code was given): the
                // session stands as it is.
                return Ok(Ok(None));
            }
            let recovery_left =
                match ops::second_factor(w, &old.principal, &ip, now, &code, ops::CodeUse::Login) {
                    Ok(left) => left,
                    // Committed all the same: a wrong code's failure row must stay.
                    Err(e) => return Ok(Err(e)),
                };
            w.delete_session(&old_hash)?;
            let session = Session {
                cpsess,
                principal: old.principal,
                expires: now.saturating_add(SESSION_SECS),
                tfa_verified: true,
            };
            w.add_session(&new_hash, &session, now)?;
            let detail = if recovery_left.is_some() {
                "recovery code accepted; session started"
            } else {
                "security code accepted; session started"
            };
            w.audit(now, AuditKind::Login, &session.principal, &ip, detail)?;
            Ok(Ok(Some((session.cpsess, recovery_left))))
        })
        .await
        .map_err(|e| (Step::Code, e))?;
    match done {
        Ok(Some((cpsess, recovery_left))) => Ok(Outcome::LoggedIn {
            cookie: Some(new_cookie),
            cpsess,
            recovery_left,
        }),
        Ok(None) => {
            let hash = sha256(cookie);
            let session = state
                .read(|r| Ok(r.session(&hash, now)?))
                .map_err(|e| (Step::Password, e))?
                .ok_or((Step::Password, ApiError::LoginPendingGone))?;
            Ok(Outcome::LoggedIn {
                cookie: None,
                cpsess: session.cpsess,
                recovery_left: None,
            })
        }
        Err(e @ ApiError::LoginPendingGone) => Err((Step::Password, e)),
        Err(e) => Err((Step::Code, e)),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// [`FORM`] without the section of the step not shown: `<!--step:NAME-->` to
/// `<!--/step:NAME-->`, markers included.
fn without_section(html: &str, name: &str) -> String {
    let (open, close) = (
        format!("<!--step:{name}-->"),
        format!("<!--/step:{name}-->"),
    );
    match (html.find(&open), html.find(&close)) {
        (Some(start), Some(end)) if end > start => {
            format!("{}{}", &html[..start], &html[end + close.len()..])
        }
        _ => html.to_owned(),
    }
}

fn form(lang: Lang, step: Step, status: StatusCode, messages: Option<&[String]>) -> Response {
    let notice = messages
        .map(|lines| {
            let items: String = lines
                .iter()
                .map(|l| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(l)))
                .collect();
            format!("<div id=\"login-status\">{items}</div>")
        })
        .unwrap_or_default();
    no_store(
        (
            status,
            Html(page_for(lang, step).replacen("<!--notice-->", &notice, 1)),
        )
            .into_response(),
    )
}

/// [`FORM`] with only the section of `step`, in `lang`'s words.
fn page_for(lang: Lang, step: Step) -> String {
    let page = [Step::Password, Step::Code, Step::Recovered]
        .into_iter()
        .filter(|s| *s != step)
        .fold(FORM.to_owned(), |page, other| {
            without_section(&page, other.section())
        });
    localize(&page, lang)
}

/// Replaces each `{{key}}` of `html` with the catalog's text (escaped), and `{{lang}}`,
/// `{{dir}}`, `{{action}}` with the page's language, direction and form target.
fn localize(html: &str, lang: Lang) -> String {
    let mut out = String::with_capacity(html.len() + html.len() / 2);
    let mut rest = html;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let key = &after[..end];
        let text = match key {
            "lang" => lang.catalog.lang(),
            "dir" => lang.catalog.dir().to_owned(),
            "action" => lang.action(),
            key => lang.catalog.t(key),
        };
        out.push_str(&escape(&text));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// At this many recovery codes left or fewer, the page after a recovery-code login warns
/// (as the enrollment page's status does).
const RECOVERY_LOW: usize = 2;

/// The page after a login with a recovery code: how many codes are left (a warning when few
/// are) and the link on to the session, `200 OK`.
fn recovered_page(lang: Lang, left: usize, cpsess: &str) -> Response {
    let words = lang.catalog;
    let n = u64::try_from(left).unwrap_or(u64::MAX);
    let count = match left {
        0 => words.t("login.recovered_none"),
        n_left if n_left <= RECOVERY_LOW => words.t_n("login.recovered_low", n),
        _ => words.t_n("login.recovered_left", n),
    };
    // Japanese runs its sentences on without a space.
    let sep = if words.locale == "ja" { "" } else { " " };
    let text = format!("{}{sep}{count}", words.t("login.recovered"));
    let page = page_for(lang, Step::Recovered)
        .replacen("<!--notice-->", "", 1)
        .replacen("<!--recovery-left-->", &escape(&text), 1)
        .replacen("<!--continue-->", &format!("/{cpsess}/"), 1);
    no_store((StatusCode::OK, Html(page)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_shows_only_its_form() {
        let page_for = |step| page_for(Lang::english(), step);
        let password = page_for(Step::Password);
        assert!(password.contains("name=\"pass\"") && !password.contains("tfa_login_form"));
        assert!(!password.contains("name=\"tfa_token\"") && !password.contains("id=\"continue\""));
        let code = page_for(Step::Code);
        assert!(code.contains("id=\"tfa_login_form\"") && code.contains("name=\"tfa_token\""));
        assert!(code.contains("id=\"tfa_recovery_form\""));
        assert!(!code.contains("name=\"pass\"") && !code.contains("id=\"continue\""));
        let recovered = page_for(Step::Recovered);
        assert!(recovered.contains("id=\"continue\"") && !recovered.contains("<form"));
    }

    #[test]
    fn pages_speak_the_chosen_language() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("ar-EG, en;q=0.5"),
        );
        let uri: Uri = "/login".parse().unwrap();
        let ar = Lang::of(&uri, &h);
        let page = page_for(ar, Step::Password);
        assert!(page.contains("<html lang=\"ar\" dir=\"rtl\">"), "{page}");
        let label = i18n::catalog("ar").t("login.user");
        assert!(page.contains(&format!("<label for=\"user\">{label}</label>")));
        assert!(!page.contains("{{") && page.contains("action=\"/login\""));
        let uri: Uri = "/login?locale=ja".parse().unwrap();
        let ja = page_for(Lang::of(&uri, &h), Step::Code);
        assert!(
            ja.contains("lang=\"ja\" dir=\"ltr\"") && ja.contains("action=\"/login?locale=ja\"")
        );
        let en = page_for(Lang::english(), Step::Password);
        assert!(en.contains("<html lang=\"en\" dir=\"ltr\">") && en.contains(">Username</label>"));
    }

    #[test]
    fn accept_json_is_read_from_any_listed_type() {
        let mut h = HeaderMap::new();
        assert!(!wants_json(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        assert!(!wants_json(&h));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html, Application/JSON;q=0.9"),
        );
        assert!(wants_json(&h));
    }
}
