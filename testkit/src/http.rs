//! The parts of HTTP both tiers build and read, independent of the client that sends them
//! (`tower::ServiceExt::oneshot` in-process, ureq against the real server).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value;

/// `Authorization: Basic` for `user:pass`.
pub fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

/// An `application/x-www-form-urlencoded` body (or query string) of these pairs, in order.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// An HTTP answer, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// Lowercase names; the first value of a repeated header.
    pub headers: BTreeMap<String, String>,
    /// The body, as text.
    pub text: String,
}

impl Reply {
    /// The `name=value` of the `Set-Cookie` header, as a client sends it back.
    pub fn cookie(&self) -> String {
        self.headers["set-cookie"]
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }

    /// A reply from its parts, the header names in any case.
    pub fn new(
        status: u16,
        headers: impl IntoIterator<Item = (String, String)>,
        text: String,
    ) -> Reply {
        let mut map = BTreeMap::new();
        for (name, value) in headers {
            map.entry(name.to_ascii_lowercase()).or_insert(value);
        }
        Reply {
            status,
            headers: map,
            text,
        }
    }

    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// `data.<key>`, which must be a string.
    pub fn data_str(&self, key: &str) -> String {
        self.json()["data"][key].as_str().unwrap().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts() {
        assert_eq!(basic("bob", "pw"), "Basic Ym9iOnB3");
        assert_eq!(form(&[("a b", "1&2"), ("c", "")]), "a+b=1%262&c=");
        let r = Reply::new(
            200,
            [
                ("Set-Cookie".to_owned(), "a=1".to_owned()),
                ("set-cookie".to_owned(), "b=2".to_owned()),
            ],
            r#"{"data":{"secret":"X"}}"#.to_owned(),
        );
        assert_eq!(r.headers["set-cookie"], "a=1");
        assert_eq!(r.data_str("secret"), "X");
    }
}
