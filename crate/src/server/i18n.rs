//! The login pages' words, from the page's own message catalogs (`www/locales/*.json`, built
//! into the binary and parsed once): one JSON object per locale, a key to a string with
//! `{name}` placeholders, or to an object of plural forms (CLDR categories `zero`, `one`,
//! `two`, `few`, `many`, `other`) for a sentence with a count. `en.json` is the reference: any
//! key a catalog lacks is said in English. `meta.dir` is the locale's direction.
//!
//! The language of a login page: `?locale=` (a cPanel locale name such as `pt_br`, or a
//! language tag such as `pt-BR`), then the `Accept-Language` header, then English. Server
//! messages (a refused login's reason) are not translated: they stay cPanel's English, as
//! cPanel's API says them.

use std::sync::OnceLock;

use axum::http::{header, HeaderMap};
use serde_json::{Map, Value};

/// The catalogs, by cPanel's locale names; `www/i18n.js` lists the same locales.
const SOURCES: &[(&str, &str)] = &[
    ("en", include_str!("../../../www/locales/en.json")),
    ("ar", include_str!("../../../www/locales/ar.json")),
    ("de", include_str!("../../../www/locales/de.json")),
    ("es", include_str!("../../../www/locales/es.json")),
    ("fr", include_str!("../../../www/locales/fr.json")),
    ("ja", include_str!("../../../www/locales/ja.json")),
];

/// The reference locale, and the fallback of every choice.
pub const DEFAULT_LOCALE: &str = "en";

/// One locale's words.
#[derive(Debug)]
pub struct Catalog {
    /// cPanel's name of the locale (`en`, `pt_br`).
    pub locale: &'static str,
    entries: Map<String, Value>,
}

/// Every catalog, English first (an unparsable one is empty: English stands in for it).
struct Catalogs {
    english: Catalog,
    others: Vec<Catalog>,
}

fn parse(locale: &'static str, json: &str) -> Catalog {
    let entries = match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(map)) => map,
        _ => {
            tracing::warn!(
                locale,
                "message catalog is not a JSON object; English is used"
            );
            Map::new()
        }
    };
    Catalog { locale, entries }
}

fn catalogs() -> &'static Catalogs {
    static CATALOGS: OnceLock<Catalogs> = OnceLock::new();
    CATALOGS.get_or_init(|| Catalogs {
        english: parse(DEFAULT_LOCALE, SOURCES[0].1),
        others: SOURCES[1..]
            .iter()
            .map(|(locale, json)| parse(locale, json))
            .collect(),
    })
}

/// The English catalog.
pub fn english() -> &'static Catalog {
    &catalogs().english
}

/// The catalog of a locale that has one (a name from [`match_locale`]), else English.
pub fn catalog(locale: &str) -> &'static Catalog {
    let all = catalogs();
    all.others
        .iter()
        .find(|c| c.locale == locale)
        .unwrap_or(&all.english)
}

/// The catalog locale for a language tag or a cPanel locale name: `pt-BR` and `pt_br` give
/// `pt_br` when there is such a catalog, `ar-EG` gives `ar`; `None` when none fits.
pub fn match_locale(tag: &str) -> Option<&'static str> {
    let name = tag.trim().to_ascii_lowercase().replace('-', "_");
    if name.is_empty() {
        return None;
    }
    let base = name.split('_').next().unwrap_or("");
    let known = |want: &str| {
        SOURCES
            .iter()
            .map(|(locale, _)| *locale)
            .find(|locale| *locale == want)
    };
    known(&name).or_else(|| known(base))
}

/// The languages of an `Accept-Language` header, most wanted first (`q=0` ones left out).
fn accepted(headers: &HeaderMap) -> Vec<String> {
    let mut tags: Vec<(u16, usize, String)> = headers
        .get_all(header::ACCEPT_LANGUAGE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .enumerate()
        .filter_map(|(i, item)| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
                .map_or(Some(1000), |q| {
                    q.trim()
                        .parse::<f32>()
                        .ok()
                        .filter(|q| (0.0..=1.0).contains(q))
                        // Thousandths: q has at most three decimals.
                        .map(|q| (q * 1000.0).round() as u16)
                })?;
            (q > 0 && !tag.is_empty() && tag != "*").then(|| (q, i, tag.to_owned()))
        })
        .collect();
    tags.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    tags.into_iter().map(|(_, _, tag)| tag).collect()
}

/// The `locale` parameter of a query string, if any.
pub fn query_locale(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "locale")
        .map(|(_, v)| v.into_owned())
}

/// The catalog for a request: `?locale=`, then `Accept-Language`, then English; and whether
/// it came from the query (the pages' forms then keep it in their action).
pub fn for_request(query: Option<&str>, headers: &HeaderMap) -> (&'static Catalog, bool) {
    if let Some(locale) = query_locale(query).as_deref().and_then(match_locale) {
        return (catalog(locale), true);
    }
    let locale = accepted(headers)
        .iter()
        .find_map(|tag| match_locale(tag))
        .unwrap_or(DEFAULT_LOCALE);
    (catalog(locale), false)
}

/// The CLDR plural category of a whole number `n` in `locale` (the rules of the locales with
/// a catalog; `other` for any else), as `Intl.PluralRules` gives it in the browser.
pub fn plural_category(locale: &str, n: u64) -> &'static str {
    let lang = locale.split(['_', '-']).next().unwrap_or("");
    match lang {
        "ja" | "zh" | "ko" => "other",
        "fr" if n <= 1 => "one",
        "fr" | "es" if n != 0 && n % 1_000_000 == 0 => "many",
        "es" | "en" | "de" if n == 1 => "one",
        "ar" => match (n, n % 100) {
            (0, _) => "zero",
            (1, _) => "one",
            (2, _) => "two",
            (_, 3..=10) => "few",
            (_, 11..=99) => "many",
            _ => "other",
        },
        _ => "other",
    }
}

impl Catalog {
    /// The BCP 47 tag of the locale, for `lang`: `pt_br` gives `pt-BR`.
    pub fn lang(&self) -> String {
        match self.locale.split_once('_') {
            Some((lang, region)) => format!("{lang}-{}", region.to_ascii_uppercase()),
            None => self.locale.to_owned(),
        }
    }

    /// `rtl` or `ltr`, from the catalog's `meta.dir`.
    pub fn dir(&self) -> &'static str {
        match self.entries.get("meta.dir").and_then(Value::as_str) {
            Some("rtl") => "rtl",
            _ => "ltr",
        }
    }

    fn entry(&self, key: &str) -> Option<&Value> {
        self.entries.get(key).or_else(|| english().entries.get(key))
    }

    /// The text of `key` (English when this catalog lacks it; the key itself when English
    /// does too), placeholders left as they are.
    pub fn t(&self, key: &str) -> String {
        match self.entry(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Object(forms)) => forms
                .get("other")
                .and_then(Value::as_str)
                .unwrap_or(key)
                .to_owned(),
            _ => key.to_owned(),
        }
    }

    /// The text of `key` for the count `n`: its plural form (an explicit `zero` for 0), with
    /// `{n}` filled in.
    pub fn t_n(&self, key: &str, n: u64) -> String {
        let text = match self.entry(key) {
            Some(Value::Object(forms)) => {
                let category = if n == 0 && forms.contains_key("zero") {
                    "zero"
                } else {
                    plural_category(self.locale, n)
                };
                forms
                    .get(category)
                    .or_else(|| forms.get("other"))
                    .and_then(Value::as_str)
                    .unwrap_or(key)
                    .to_owned()
            }
            Some(Value::String(s)) => s.clone(),
            _ => key.to_owned(),
        };
        text.replace("{n}", &n.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use axum::http::HeaderValue;

    use super::*;

    const CATEGORIES: &[&str] = &["zero", "one", "two", "few", "many", "other"];

    /// The `{name}` placeholders of a text.
    fn placeholders(text: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            rest = &rest[start + 1..];
            match rest.find('}') {
                Some(end) => {
                    let name = &rest[..end];
                    if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                        out.insert(name.to_owned());
                    }
                    rest = &rest[end + 1..];
                }
                None => break,
            }
        }
        out
    }

    /// Every catalog's problems against English: missing or extra keys, a string where a
    /// plural is wanted (or the reverse), a placeholder English has missing or one it lacks.
    fn problems(locale: &str, json: &str, english: &Map<String, Value>) -> Vec<String> {
        let mut out = Vec::new();
        let map = match serde_json::from_str::<Value>(json) {
            Ok(Value::Object(map)) => map,
            other => return vec![format!("{locale}: not a JSON object: {other:?}")],
        };
        for key in english.keys().filter(|k| !map.contains_key(*k)) {
            out.push(format!("{locale}: lacks {key}"));
        }
        for key in map.keys().filter(|k| !english.contains_key(*k)) {
            out.push(format!("{locale}: has {key}, which English lacks"));
        }
        for (key, en) in english {
            let Some(value) = map.get(key) else { continue };
            match (en, value) {
                (Value::String(en), Value::String(text)) => {
                    let (want, have) = (placeholders(en), placeholders(text));
                    if want != have {
                        out.push(format!(
                            "{locale}: {key} has placeholders {have:?}, English {want:?}"
                        ));
                    }
                    if text.trim().is_empty() {
                        out.push(format!("{locale}: {key} is empty"));
                    }
                }
                (Value::Object(en_forms), Value::Object(forms)) => {
                    let want: BTreeSet<String> = en_forms
                        .values()
                        .filter_map(Value::as_str)
                        .flat_map(placeholders)
                        .collect();
                    if !forms.contains_key("other") {
                        out.push(format!("{locale}: {key} has no \"other\" form"));
                    }
                    for (category, form) in forms {
                        let Some(text) = form.as_str().filter(|t| !t.trim().is_empty()) else {
                            out.push(format!("{locale}: {key}.{category} is not a text"));
                            continue;
                        };
                        if !CATEGORIES.contains(&category.as_str()) {
                            out.push(format!("{locale}: {key}.{category} is no plural category"));
                        }
                        let have = placeholders(text);
                        // {n} may be spelled out in a form ("one code"), not in "other"; any
                        // other placeholder must be in every form.
                        for name in &want {
                            if !have.contains(name) && (name != "n" || category == "other") {
                                out.push(format!("{locale}: {key}.{category} lacks {{{name}}}"));
                            }
                        }
                        for name in have.difference(&want) {
                            out.push(format!(
                                "{locale}: {key}.{category} has {{{name}}}, which English lacks"
                            ));
                        }
                    }
                }
                _ => out.push(format!(
                    "{locale}: {key} is not of the same shape as English's (text or plural forms)"
                )),
            }
        }
        out
    }

    #[test]
    fn every_catalog_has_exactly_the_keys_and_placeholders_of_english() {
        let english = match serde_json::from_str::<Value>(SOURCES[0].1) {
            Ok(Value::Object(map)) => map,
            other => panic!("en.json: {other:?}"),
        };
        assert!(english.len() > 50, "en.json holds {} keys", english.len());
        let mut all = Vec::new();
        for (locale, json) in SOURCES {
            all.extend(problems(locale, json, &english));
        }
        assert!(all.is_empty(), "catalog problems:\n{}", all.join("\n"));
    }

    #[test]
    fn the_check_catches_a_missing_key_an_extra_key_and_a_lost_placeholder() {
        let english = match serde_json::from_str::<Value>(
            r#"{"a": "x {issuer}", "b": "y", "c": {"one": "1 code", "other": "{n} codes"}}"#,
        ) {
            Ok(Value::Object(map)) => map,
            other => panic!("{other:?}"),
        };
        let bad = r#"{"a": "x", "z": "y", "c": {"one": "un code", "other": "des codes"}}"#;
        let found = problems("xx", bad, &english);
        for want in [
            "xx: lacks b",
            "xx: has z, which English lacks",
            "xx: a has placeholders {}, English {\"issuer\"}",
            "xx: c.other lacks {n}",
        ] {
            assert!(found.iter().any(|p| p == want), "{want} not in {found:#?}");
        }
        let good =
            r#"{"a": "{issuer} x", "b": "y", "c": {"one": "un code", "other": "{n} codes"}}"#;
        assert_eq!(problems("xx", good, &english), Vec::<String>::new());
    }

    #[test]
    fn every_catalog_file_is_built_in_and_listed_in_the_page() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../www/locales");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".json"))
                    .map(str::to_owned)
            })
            .collect();
        files.sort();
        let mut built: Vec<String> = SOURCES.iter().map(|(l, _)| (*l).to_owned()).collect();
        built.sort();
        assert_eq!(files, built, "www/locales against SOURCES");
        // www/i18n.js: `export const LOCALES = ['en', 'ar', …];`
        let js_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../www/i18n.js");
        let js = std::fs::read_to_string(&js_path).unwrap_or_default();
        let line = js
            .lines()
            .find(|l| l.starts_with("export const LOCALES = ["))
            .unwrap_or_else(|| panic!("no LOCALES line in {}", js_path.display()));
        let mut listed: Vec<String> = line
            .split('[')
            .nth(1)
            .and_then(|l| l.split(']').next())
            .unwrap_or("")
            .split(',')
            .map(|s| s.trim().trim_matches('\'').to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        listed.sort();
        assert_eq!(listed, built, "i18n.js LOCALES against SOURCES");
        for (locale, _) in SOURCES {
            assert!(
                !catalog(locale).entries.is_empty(),
                "{locale} did not parse"
            );
        }
    }

    #[test]
    fn locales_are_matched_from_tags_and_headers() {
        assert_eq!(match_locale("ar-EG"), Some("ar"));
        assert_eq!(match_locale("JA"), Some("ja"));
        assert_eq!(match_locale("pt-BR"), None);
        assert_eq!(match_locale("de_CH"), Some("de"));
        assert_eq!(match_locale(""), None);
        let mut h = HeaderMap::new();
        assert_eq!(for_request(None, &h).0.locale, "en");
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("it;q=0.9, fr-CA;q=0.8, ar;q=0.85, *;q=0.1"),
        );
        assert_eq!(for_request(None, &h).0.locale, "ar");
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("ja;q=0, de"),
        );
        assert_eq!(for_request(None, &h).0.locale, "de");
        let (c, from_query) = for_request(Some("login_only=0&locale=ja_JP"), &h);
        assert_eq!((c.locale, from_query), ("ja", true));
        assert_eq!((c.lang(), c.dir()), ("ja".to_owned(), "ltr"));
        assert_eq!(catalog("ar").dir(), "rtl");
    }

    #[test]
    fn plurals_follow_cldr() {
        let ar: Vec<&str> = [0, 1, 2, 3, 10, 11, 99, 100, 102, 103]
            .iter()
            .map(|n| plural_category("ar", *n))
            .collect();
        assert_eq!(
            ar,
            ["zero", "one", "two", "few", "few", "many", "many", "other", "other", "few"]
        );
        assert_eq!(plural_category("fr", 0), "one");
        assert_eq!(plural_category("en", 0), "other");
        assert_eq!(plural_category("es", 2_000_000), "many");
        assert_eq!(plural_category("ja", 1), "other");
        let en = english();
        assert_eq!(
            en.t_n("login.recovered_left", 1),
            "You have 1 recovery code left. Each works once."
        );
        assert_eq!(
            catalog("ar").t_n("login.recovered_left", 2),
            "تبقّى لديك رمزا استرداد. كل رمز يصلح مرة واحدة."
        );
        assert_eq!(en.t("no.such.key"), "no.such.key");
    }
}
