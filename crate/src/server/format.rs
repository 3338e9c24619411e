//! Output formats besides JSON: cPanel's CLI YAML and WHM's (non-conforming) XML.
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

/// WHM API 1 XML: `<result>` around the envelope, one element per key, arrays as repeated
/// elements. As cPanel's own, this is not strictly XML (keys are used as element names).
/// `command` gets the leading `/` that cPanel's XML samples show.
pub fn to_whm_xml(envelope: &Value) -> String {
    let mut out = String::from("<result>");
    if let Value::Object(map) = envelope {
        for (key, value) in map {
            if key == "metadata" {
                xml_metadata(&mut out, value);
            } else {
                xml_element(&mut out, key, value);
            }
        }
    }
    out.push_str("</result>");
    out
}

fn xml_metadata(out: &mut String, value: &Value) {
    out.push_str("<metadata>");
    if let Value::Object(map) = value {
        for (key, v) in map {
            match (key.as_str(), v) {
                ("command", Value::String(c)) => {
                    xml_element(out, key, &Value::String(format!("/{c}")))
                }
                _ => xml_element(out, key, v),
            }
        }
    }
    out.push_str("</metadata>");
}

fn xml_element(out: &mut String, key: &str, value: &Value) {
    let name = xml_escape(key);
    match value {
        Value::Array(items) => {
            for item in items {
                xml_element(out, key, item);
            }
        }
        Value::Object(map) => {
            let _ = write!(out, "<{name}>");
            for (k, v) in map {
                xml_element(out, k, v);
            }
            let _ = write!(out, "</{name}>");
        }
        Value::Null => {
            let _ = write!(out, "<{name} />");
        }
        Value::String(s) => {
            let _ = write!(out, "<{name}>{}</{name}>", xml_escape(s));
        }
        other => {
            let _ = write!(out, "<{name}>{other}</{name}>");
        }
    }
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
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
            "<result><data><users_modified>a</users_modified><users_modified>b</users_modified></data><metadata><command>/c</command><reason>OK</reason><result>1</result><version>1</version></metadata></result>"
        );
    }
}
