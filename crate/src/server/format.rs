//! Output formats besides JSON: cPanel's CLI YAML and WHM's XML.
//!
//! Both walk a `serde_json::Value` whose maps are already sorted by key (serde_json's default
//! `BTreeMap`), so keys come out sorted as cPanel prints them.

use std::fmt::Write;

use serde_json::Value;

/// YAML as `uapi`/`whmapi1` print it: a `---` header, two-space indent, `~` for null, `{}` and
/// `[]` for empty collections, and quotes only where a plain scalar would be misread.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::from("---");
    yaml_child(&mut out, value, 0);
    out
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn yaml_map(out: &mut String, map: &serde_json::Map<String, Value>, level: usize) {
    for (key, value) in map {
        indent(out, level);
        out.push_str(&yaml_string(key));
        out.push(':');
        yaml_child(out, value, level + 1);
    }
}

fn yaml_seq(out: &mut String, items: &[Value], level: usize) {
    for value in items {
        indent(out, level);
        out.push('-');
        yaml_child(out, value, level + 1);
    }
}

/// Writes what follows `---`, `key:` or `-`: a scalar on the same line, or a block nested
/// at `level`.
fn yaml_child(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            yaml_map(out, m, level);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            yaml_seq(out, a, level);
        }
        other => {
            out.push(' ');
            out.push_str(&yaml_scalar(other));
            out.push('\n');
        }
    }
}

fn yaml_scalar(value: &Value) -> String {
    match value {
        Value::Null => "~".to_owned(),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_owned(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => yaml_string(s),
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
    }
}

/// A string as a plain scalar when that reads back as the same string, else quoted.
fn yaml_string(s: &str) -> String {
    if s.chars().any(|c| c.is_control()) {
        return double_quoted(s);
    }
    if needs_quotes(s) {
        return format!("'{}'", s.replace('\'', "''"));
    }
    s.to_owned()
}

fn needs_quotes(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return true;
    };
    let reserved = [
        "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "yes",
        "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N",
    ];
    reserved.contains(&s)
        || s.parse::<f64>().is_ok()
        || "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || s.starts_with(' ')
        || s.ends_with(' ')
        || s.ends_with(':')
        || s.contains(": ")
        || s.contains(" #")
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// WHM API 1 XML as cPanel's samples show it: `<result>` around the envelope, one element
/// per key, arrays as repeated elements, an empty hash or list as one empty element
/// (`<failed/>`), booleans as 1 and 0, and `metadata`'s children in cPanel's order
/// (`version`, `reason`, `result`, `command`). Keys that are not XML names (`user@domain`) are
/// escaped as [`xml_name`] says, so every XML parser reads the document.
pub fn to_whm_xml(envelope: &Value) -> String {
    let mut out = String::from("<result>");
    if let Value::Object(map) = envelope {
        for (key, value) in map {
            match (key.as_str(), value) {
                ("metadata", Value::Object(meta)) => xml_metadata(&mut out, meta),
                _ => xml_element(&mut out, key, value),
            }
        }
    }
    out.push_str("</result>");
    out
}

/// `uapi --output=xml`: cPanel documents no XML shape for UAPI, so this is the wrapped
/// envelope (`apiversion`, `func`, `module`, `result`) under the WHM conventions above.
pub fn to_uapi_xml(wrapped: &Value) -> String {
    let mut out = String::from("<result>");
    if let Value::Object(map) = wrapped {
        for (key, value) in map {
            xml_element(&mut out, key, value);
        }
    }
    out.push_str("</result>");
    out
}

/// The order of `metadata`'s children in cPanel's XML samples; other keys follow, sorted.
const METADATA_ORDER: [&str; 4] = ["version", "reason", "result", "command"];

fn xml_metadata(out: &mut String, meta: &serde_json::Map<String, Value>) {
    out.push_str("<metadata>");
    for key in METADATA_ORDER {
        if let Some(v) = meta.get(key) {
            xml_element(out, key, v);
        }
    }
    for (key, v) in meta {
        if !METADATA_ORDER.contains(&key.as_str()) {
            xml_element(out, key, v);
        }
    }
    out.push_str("</metadata>");
}

fn xml_element(out: &mut String, key: &str, value: &Value) {
    let name = xml_name(key);
    match value {
        Value::Array(items) if items.is_empty() => {
            let _ = write!(out, "<{name}/>");
        }
        Value::Array(items) => {
            for item in items {
                xml_element(out, key, item);
            }
        }
        Value::Object(map) if map.is_empty() => {
            let _ = write!(out, "<{name}/>");
        }
        Value::Object(map) => {
            let _ = write!(out, "<{name}>");
            for (k, v) in map {
                xml_element(out, k, v);
            }
            let _ = write!(out, "</{name}>");
        }
        Value::Null => {
            let _ = write!(out, "<{name}/>");
        }
        Value::String(s) => {
            let _ = write!(out, "<{name}>{}</{name}>", xml_escape(s));
        }
        Value::Bool(b) => {
            let _ = write!(out, "<{name}>{}</{name}>", u8::from(*b));
        }
        Value::Number(n) => {
            let _ = write!(out, "<{name}>{n}</{name}>");
        }
    }
}

/// True for a character XML 1.0 (fifth edition) allows at the start of a name, colon left
/// out (namespace-aware parsers give it a meaning).
fn is_name_start(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

/// True for a character XML 1.0 allows inside a name (colon left out).
fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// A key as an XML element name. cPanel's serializer writes keys as they are, which makes
/// `user@domain` an invalid document; this uses the standard escape of names instead (ISO/IEC
/// 9075-14 SQL/XML, .NET's `XmlConvert.EncodeName`): a character that may not stand where it
/// is becomes `_xHHHH_` (`_xHHHHHHHH_` above U+FFFF), and a `_` that would read as the start of
/// such an escape is itself escaped (`_x005F_`). `user@example.com` is written
/// `user_x0040_example.com`; valid names are unchanged.
pub fn xml_name(key: &str) -> String {
    if key.is_empty() {
        // An element needs a name; the escape of nothing is an escaped-looking underscore.
        return "_x005F_".to_owned();
    }
    let chars: Vec<char> = key.chars().collect();
    let mut out = String::with_capacity(key.len());
    for (i, &c) in chars.iter().enumerate() {
        let allowed = if i == 0 {
            is_name_start(c)
        } else {
            is_name_char(c)
        };
        let looks_escaped = c == '_' && looks_like_escape(&chars[i + 1..]);
        if allowed && !looks_escaped {
            out.push(c);
        } else if u32::from(c) > 0xFFFF {
            let _ = write!(out, "_x{:08X}_", u32::from(c));
        } else {
            let _ = write!(out, "_x{:04X}_", u32::from(c));
        }
    }
    out
}

/// True when `rest` (what follows a `_`) is `xHHHH_` or `xHHHHHHHH_`.
fn looks_like_escape(rest: &[char]) -> bool {
    let hex_run = |n: usize| {
        rest.len() > n + 1
            && rest[0] == 'x'
            && rest[1..=n].iter().all(char::is_ascii_hexdigit)
            && rest[n + 1] == '_'
    };
    hex_run(4) || hex_run(8)
}

/// Text content: markup characters as entities; characters XML 1.0 cannot carry at all
/// (most C0 controls, U+FFFE/U+FFFF) as U+FFFD, so the document stays well-formed.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if u32::from(c) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_matches_cpanel_shapes() {
        let v = json!({"metadata":{"command":"twofactorauth_disable_policy","reason":"OK","result":1,"version":1}});
        assert_eq!(
            to_yaml(&v),
            "---\nmetadata:\n  command: twofactorauth_disable_policy\n  reason: OK\n  result: 1\n  version: 1\n"
        );
        let v = json!({"apiversion":3,"func":"f","module":"M","result":{"data":{"a":[1,"x"]},"errors":null,"metadata":{},"status":1,"warnings":null,"s":"21.5","e":""}});
        assert_eq!(
            to_yaml(&v),
            "---\napiversion: 3\nfunc: f\nmodule: M\nresult:\n  data:\n    a:\n      - 1\n      - x\n  e: ''\n  errors: ~\n  metadata: {}\n  s: '21.5'\n  status: 1\n  warnings: ~\n"
        );
    }

    #[test]
    fn xml_wraps_in_result() {
        let v = json!({"data":{"users_modified":["a","b"]},"metadata":{"command":"c","reason":"OK","result":1,"version":1}});
        assert_eq!(
            to_whm_xml(&v),
            "<result><data><users_modified>a</users_modified><users_modified>b</users_modified></data><metadata><version>1</version><reason>OK</reason><result>1</result><command>c</command></metadata></result>"
        );
    }

    #[test]
    fn xml_empty_collections_and_booleans() {
        let v = json!({"data":{"failed":{},"users_modified":[],"ok":true,"n":null}});
        assert_eq!(
            to_whm_xml(&v),
            "<result><data><failed/><n/><ok>1</ok><users_modified/></data></result>"
        );
    }

    #[test]
    fn xml_names_are_escaped_only_when_needed() {
        assert_eq!(xml_name("users_modified"), "users_modified");
        assert_eq!(xml_name("bob@example.com"), "bob_x0040_example.com");
        assert_eq!(xml_name("alice@bob"), "alice_x0040_bob");
        assert_eq!(xml_name("1abc"), "_x0031_abc");
        assert_eq!(xml_name("a:b"), "a_x003A_b");
        assert_eq!(xml_name("a_x0040_b"), "a_x005F_x0040_b");
        assert_eq!(xml_name("a b"), "a_x0020_b");
        assert_eq!(xml_name("\u{1F600}"), "\u{1F600}");
        assert_eq!(xml_name("\u{F0000}"), "_x000F0000_");
        assert_eq!(xml_name(""), "_x005F_");
    }

    #[test]
    fn xml_text_drops_what_xml_cannot_carry() {
        assert_eq!(xml_escape("a<b&\u{1}c"), "a&lt;b&amp;\u{FFFD}c");
    }
}
