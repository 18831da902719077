//! JSON text straight from typed values, byte for byte what `serde_json` prints for
//! [`to_json`](crate::jsonrpc::to_json) of the same value (compact, members in order), without
//! building the `serde_json::Value` tree first: for `VM.get_all_records` of 10,000 VMs that tree
//! was several times the size of the text, and the text is now written in pieces
//! ([`crate::chunked`]) as the answer is sent.

use std::fmt::Write;
use xenapi_model::value::Value;
use xenapi_model::time_fmt;

/// Appends the JSON form of `v`.
pub fn write_json(out: &mut String, v: &Value) {
    match v {
        Value::String(s) => write_str(out, s),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::I4(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => write_float(out, *f),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::DateTime(t) => write_str(out, &time_fmt::format_xapi(*t)),
        Value::Set(items) => {
            out.push('[');
            write_items(out, items, true);
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            write_entries(out, m, true);
            out.push('}');
        }
        Value::Struct(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                write_json(out, v);
            }
            out.push('}');
        }
        Value::Encoded(e) => write_json(out, &e.value),
        Value::Record(r) => {
            out.push('{');
            for (i, (f, v)) in r.class.fields.iter().zip(&r.rec.fields).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, &f.name);
                out.push(':');
                write_json(out, v);
            }
            out.push('}');
        }
    }
}

/// The members of a map (no braces), comma-separated; `first` says whether they start the
/// object (a batch in the middle of a streamed map starts with a comma).
pub fn write_entries(out: &mut String, entries: &[(Value, Value)], first: bool) {
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 || !first {
            out.push(',');
        }
        match k {
            Value::String(s) => write_str(out, s),
            k => write_str(out, &k.key_string()),
        }
        out.push(':');
        write_json(out, v);
    }
}

/// The items of an array (no brackets), as [`write_entries`].
pub fn write_items(out: &mut String, items: &[Value], first: bool) {
    for (i, v) in items.iter().enumerate() {
        if i > 0 || !first {
            out.push(',');
        }
        write_json(out, v);
    }
}

/// A float as `serde_json` prints a `Number` (non-finite ones, which JSON cannot carry, as `null`).
fn write_float(out: &mut String, f: f64) {
    match serde_json::Number::from_f64(f) {
        Some(n) => {
            let _ = write!(out, "{n}");
        }
        None => out.push_str("null"),
    }
}

/// A JSON string literal, escaped as `serde_json` escapes: `"` and `\`, the short escapes for
/// backspace, form feed, newline, carriage return and tab, `\u00XX` (lower-case hex) for the other
/// control characters; everything else as is.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0C => "\\f",
            0..=0x1F => "",
            _ => continue,
        };
        // Only ASCII bytes are escaped, so `i` is always at a character boundary.
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xF) as usize] as char);
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::to_json;

    fn same_as_serde(v: &Value) {
        let mut out = String::new();
        write_json(&mut out, v);
        assert_eq!(out, to_json(v).to_string());
    }

    #[test]
    fn prints_what_serde_json_prints() {
        let all_controls: String = (0u8..0x20).map(char::from).collect();
        for s in ["", "plain", "quote\" back\\slash / slash", "日本語 ✓ \u{7F} \u{FFFD}", all_controls.as_str()] {
            same_as_serde(&Value::str(s));
        }
        for f in [0.0, -0.0, 1.0, 0.25, 1e20, 1.5e-7, f64::MAX, f64::NAN, f64::INFINITY] {
            same_as_serde(&Value::Float(f));
        }
        same_as_serde(&Value::Struct(vec![
            ("i".into(), Value::Int(i64::MIN)),
            ("c".into(), Value::I4(-7)),
            ("b".into(), Value::Bool(true)),
            ("d".into(), Value::DateTime(1_700_000_000)),
            ("e".into(), Value::Set(vec![])),
            ("s".into(), Value::Set(vec![Value::str("a"), Value::Int(1)])),
            ("m".into(), Value::Map(vec![(Value::Int(3), Value::Float(0.5)), (Value::str("k\n"), Value::Map(vec![]))])),
            ("z".into(), Value::Struct(vec![])),
        ]));
    }
}
