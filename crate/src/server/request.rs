//! Reading a request: the client's address, the `cpsess` path segment, and the parameters of
//! the query string and the body (form, multipart or JSON) as cPanel's form parser reads them.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::request::Parts;
use axum::http::{header, Method};

use super::error::{ApiError, BodyProblem};

/// The largest request body read (64 KiB).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The caller's address, or `unknown` when the router runs without connection info (tests).
pub fn client_ip(req: &Request) -> Arc<str> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| Arc::from("unknown"), |c| Arc::from(c.0.ip().to_string()))
}

/// True for `cpsess` followed by ten digits.
pub fn is_cpsess(segment: &str) -> bool {
    segment
        .strip_prefix("cpsess")
        .is_some_and(|d| d.len() == 10 && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Request parameters after cPanel's legacy renaming of repeated keys: `foo=a&foo=b&foo=c`
/// becomes `foo=a, foo-0=b, foo-1=c` (spec section 1.6).
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Builds from raw pairs (all of a request's, in order), applying the renaming.
    pub fn from_pairs<I: IntoIterator<Item = (String, String)>>(raw: I) -> Params {
        let mut seen: std::collections::HashMap<String, usize> = Default::default();
        let pairs = raw
            .into_iter()
            .map(|(key, value)| {
                let n = seen.entry(key.clone()).or_insert(0);
                let name = match *n {
                    0 => key,
                    k => format!("{key}-{}", k - 1),
                };
                *n += 1;
                (name, value)
            })
            .collect();
        Params { pairs }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every pair after renaming, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

/// The raw pairs of `application/x-www-form-urlencoded` text.
fn form_pairs(text: &str) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(text.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()))
}

/// What an API request carried besides its path: parameters and, for JSON bodies, the raw body.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub params: Params,
    pub json: Option<axum::body::Bytes>,
}

/// The text fields of a `multipart/form-data` body, in order, as raw pairs.
async fn multipart_pairs(
    content_type: &str,
    body: axum::body::Bytes,
) -> Result<Vec<(String, String)>, ApiError> {
    let bad = ApiError::BadBody;
    let boundary =
        multer::parse_boundary(content_type).map_err(|_| bad(BodyProblem::MultipartNoBoundary))?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut pairs = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| bad(BodyProblem::MultipartMalformed))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field
            .bytes()
            .await
            .map_err(|_| bad(BodyProblem::MultipartMalformed))?;
        let value =
            String::from_utf8(bytes.into()).map_err(|_| bad(BodyProblem::MultipartNotUtf8))?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// Reads the query string and, for POST, the form or JSON body (at most [`BODY_LIMIT`],
/// complete within `body_timeout`).
pub async fn read_input(
    parts: &Parts,
    body: Body,
    body_timeout: std::time::Duration,
) -> Result<Input, ApiError> {
    let method = &parts.method;
    if method != Method::GET && method != Method::POST && method != Method::HEAD {
        return Err(ApiError::Method {
            allowed: "GET and POST",
        });
    }
    let full_content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let content_type = full_content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let body = tokio::time::timeout(body_timeout, axum::body::to_bytes(body, BODY_LIMIT))
        .await
        .map_err(|_| ApiError::BodyTimeout)?
        .map_err(|_| ApiError::BodyTooLarge)?;
    let query = form_pairs(parts.uri.query().unwrap_or(""));
    if method != Method::POST || body.is_empty() {
        return Ok(Input {
            params: Params::from_pairs(query),
            json: None,
        });
    }
    let (more, json) = match content_type.as_str() {
        "application/json" => (Vec::new(), Some(body)),
        // cPanel's form parser takes multipart bodies too (spec section 1.1).
        "multipart/form-data" => (multipart_pairs(full_content_type, body).await?, None),
        // Any other type, or none, is read as a url-encoded form, as cPanel's server reads
        // it: cPanel::PublicAPI (through HTTP::Tiny) posts its WHM calls' forms as
        // `application/octet-stream` (docs/cpanel-notes.md).
        _ => {
            let text = std::str::from_utf8(&body)
                .map_err(|_| ApiError::BadBody(BodyProblem::FormNotUtf8))?;
            (form_pairs(text).collect(), None)
        }
    };
    Ok(Input {
        params: Params::from_pairs(query.chain(more)),
        json,
    })
}
