//! The XML-RPC encoder: answers (server) and calls (client), from typed values.

use xenapi_model::{time_fmt, ApiError};
use xenapi_model::value::{format_float, Encoded, Value};

/// The body of a `methodCall`, as xapi's own clients send it (ints as untyped strings, which every
/// XenAPI server accepts and which carry 64 bits, unlike `<i4>`). Values are written exactly as
/// answers are ([`write_value`]), so both directions share one encoder.
pub fn encode_call(method: &str, args: &[Value]) -> String {
    let mut out = String::with_capacity(96 + 48 * args.len());
    out.push_str("<?xml version=\"1.0\"?>\n<methodCall><methodName>");
    out.push_str(&quick_xml::escape::escape(method));
    out.push_str("</methodName><params>");
    for a in args {
        out.push_str("<param>");
        write_value(&mut out, a);
        out.push_str("</param>");
    }
    out.push_str("</params></methodCall>\n");
    out
}

const HEAD: &str = "<?xml version=\"1.0\"?>\n<methodResponse><params><param><value><struct>";
const TAIL: &str = "</struct></value></param></params></methodResponse>\n";

const SUCCESS_HEAD: &str = "<?xml version=\"1.0\"?>\n<methodResponse><params><param><value><struct>\
<member><name>Status</name><value>Success</value></member><member><name>Value</name>";
const SUCCESS_TAIL: &str = "</member></struct></value></param></params></methodResponse>\n";

/// What a successful answer's `<value>` is wrapped in (before, after); the streamed answer
/// (`chunked::Plan`) writes the same.
pub fn success_envelope() -> (&'static str, &'static str) {
    (SUCCESS_HEAD, SUCCESS_TAIL)
}

pub fn encode_success(v: &Value) -> String {
    encode_success_sized(v, size_hint(v))
}

/// [`encode_success`] for a caller that already has the [`size_hint`] of `v`.
pub fn encode_success_sized(v: &Value, size_hint: usize) -> String {
    let mut out = String::with_capacity(256 + size_hint);
    out.push_str(SUCCESS_HEAD);
    match v {
        Value::Map(m) if m.len() >= PARALLEL_MIN_ENTRIES => write_map_parallel(&mut out, m),
        v => write_value(&mut out, v),
    }
    out.push_str(SUCCESS_TAIL);
    out
}

pub fn encode_failure(e: &ApiError) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(HEAD);
    out.push_str("<member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name>");
    let desc = Value::Set(e.description().into_iter().map(Value::String).collect());
    write_value(&mut out, &desc);
    out.push_str("</member>");
    out.push_str(TAIL);
    out
}

/// A bare (not enveloped) result: `system.listMethods` answers this way.
pub fn encode_bare(v: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\"?>\n<methodResponse><params><param>");
    write_value(&mut out, v);
    out.push_str("</param></params></methodResponse>\n");
    out
}

/// The XML-RPC serialisation of one value (`<value>…</value>`), as task results carry it.
pub fn value_fragment(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

/// `v` with its `<value>` fragment made once, for an answer many callers share.
pub fn encode_once(value: Value) -> std::sync::Arc<Encoded> {
    let xml = value_fragment(&value);
    std::sync::Arc::new(Encoded { value, xml })
}

pub fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::String(s) => {
            out.push_str("<value>");
            escape_into(out, s);
            out.push_str("</value>");
        }
        Value::Int(i) => {
            out.push_str("<value>");
            out.push_str(itoa::Buffer::new().format(*i));
            out.push_str("</value>");
        }
        Value::I4(i) => {
            out.push_str("<value><i4>");
            out.push_str(itoa::Buffer::new().format(*i));
            out.push_str("</i4></value>");
        }
        Value::Float(f) => {
            out.push_str("<value><double>");
            out.push_str(&format_float(*f));
            out.push_str("</double></value>");
        }
        Value::Bool(b) => out.push_str(if *b { "<value><boolean>1</boolean></value>" } else { "<value><boolean>0</boolean></value>" }),
        Value::DateTime(t) => {
            out.push_str("<value><dateTime.iso8601>");
            out.push_str(&time_fmt::format_xapi(*t));
            out.push_str("</dateTime.iso8601></value>");
        }
        Value::Set(items) => {
            out.push_str("<value><array><data>");
            for i in items {
                write_value(out, i);
            }
            out.push_str("</data></array></value>");
        }
        Value::Map(m) => {
            out.push_str("<value><struct>");
            write_members(out, m);
            out.push_str("</struct></value>");
        }
        Value::Struct(m) => {
            out.push_str("<value><struct>");
            for (k, v) in m {
                write_struct_member(out, k, v);
            }
            out.push_str("</struct></value>");
        }
        Value::Encoded(e) => out.push_str(&e.xml),
        Value::Record(r) => {
            out.push_str("<value><struct>");
            for (f, v) in r.class.fields.iter().zip(&r.rec.fields) {
                // Field names are identifiers from the model: nothing to escape.
                out.push_str("<member><name>");
                out.push_str(&f.name);
                out.push_str("</name>");
                write_value(out, v);
                out.push_str("</member>");
            }
            out.push_str("</struct></value>");
        }
    }
}

/// `<member><name>name</name>`, the start of a struct member up to its value.
pub fn write_member_name(out: &mut String, name: &str) {
    out.push_str("<member><name>");
    escape_into(out, name);
    out.push_str("</name>");
}

/// One member of a struct.
pub fn write_struct_member(out: &mut String, name: &str, v: &Value) {
    write_member_name(out, name);
    write_value(out, v);
    out.push_str("</member>");
}

/// The `<member>`s of a map (the inside of its `<struct>`).
pub fn write_members(out: &mut String, m: &[(Value, Value)]) {
    for (k, v) in m {
        out.push_str("<member><name>");
        match k {
            Value::String(s) => escape_into(out, s),
            k => escape_into(out, &k.key_string()),
        }
        out.push_str("</name>");
        write_value(out, v);
        out.push_str("</member>");
    }
}

/// Maps at least this large (`get_all_records` of a big pool) are encoded on every core.
const PARALLEL_MIN_ENTRIES: usize = 2048;

/// `write_value` of a map, its members split across threads and joined in order.
fn write_map_parallel(out: &mut String, m: &[(Value, Value)]) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let chunk = m.len().div_ceil(threads);
    let parts: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = m
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut s = String::with_capacity(part.iter().map(|(_, v)| size_hint(v) + 64).sum());
                    write_members(&mut s, part);
                    s
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    });
    out.reserve(parts.iter().map(String::len).sum::<usize>() + 64);
    out.push_str("<value><struct>");
    for p in &parts {
        out.push_str(p);
    }
    out.push_str("</struct></value>");
}

/// A rough size of the encoding of `v`, from a sample of its elements, so that a large answer
/// is written into one buffer instead of one that doubles (and copies) a dozen times.
pub fn size_hint(v: &Value) -> usize {
    const SAMPLE: usize = 8;
    let sampled = |n: usize, first: &mut dyn Iterator<Item = usize>| {
        let taken: Vec<usize> = first.take(SAMPLE).collect();
        if taken.is_empty() {
            0
        } else {
            taken.iter().sum::<usize>() * n / taken.len()
        }
    };
    64 + match v {
        Value::String(s) => s.len(),
        Value::Set(items) => sampled(items.len(), &mut items.iter().map(size_hint)),
        Value::Map(m) => sampled(m.len(), &mut m.iter().map(|(k, v)| 40 + key_len(k) + size_hint(v))),
        Value::Struct(m) => m.iter().map(|(k, v)| 40 + k.len() + size_hint(v)).sum(),
        Value::Record(r) => r.class.fields.iter().zip(&r.rec.fields).map(|(f, v)| 40 + f.name.len() + size_hint(v)).sum(),
        Value::Encoded(e) => e.xml.len(),
        _ => 32,
    }
}

/// About the length of a map key on the wire, without making the string of a non-string key.
fn key_len(k: &Value) -> usize {
    match k {
        Value::String(s) => s.len(),
        _ => 20,
    }
}

/// Escapes markup characters (through `quick_xml::escape`) and drops characters XML 1.0 cannot
/// carry (control characters other than TAB, LF and CR, U+FFFE, U+FFFF), as xapi does: arguments
/// holding them are refused (`value::is_xml_char`), but an error may echo what a client sent (a
/// method name, a session ref), and no answer may ever be malformed.
fn escape_into(out: &mut String, s: &str) {
    // One pass over the bytes for the usual string: markup characters replaced as they come;
    // a control byte, or 0xEF (the lead byte of U+F000..U+FFFF, so of U+FFFE/F), starts over on
    // the cleaned string.
    let mark = out.len();
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        if matches!(b, 0..=0x08 | 0x0B | 0x0C | 0x0E..=0x1F | 0xEF) {
            out.truncate(mark);
            let cleaned: String = s.chars().filter(|c| is_xml_char(*c)).collect();
            return push_escaped(out, &cleaned);
        }
        let Some(replacement) = entity(b) else { continue };
        out.push_str(&s[start..i]);
        out.push_str(replacement);
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// The entity of one of the five markup characters.
fn entity(b: u8) -> Option<&'static str> {
    Some(match b {
        b'<' => "&lt;",
        b'>' => "&gt;",
        b'&' => "&amp;",
        b'\'' => "&apos;",
        b'"' => "&quot;",
        _ => return None,
    })
}

/// `s` with the five markup characters replaced by their entities.
fn push_escaped(out: &mut String, s: &str) {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let Some(replacement) = entity(b) else { continue };
        out.push_str(&s[start..i]);
        out.push_str(replacement);
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// Whether XML 1.0 can carry `c` (its `Char` production): every stored string must be, or each
/// XML-RPC answer holding it would be malformed for every client (JSON-RPC can carry anything, so
/// the check is made on the typed value, `WireValue::from_wire`, for both protocols).
pub fn is_xml_char(c: char) -> bool {
    matches!(c as u32, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// The first character XML 1.0 cannot carry anywhere in `v` (strings, map keys, members).
pub fn first_non_xml_char(v: &Value) -> Option<char> {
    match v {
        Value::String(s) => s.chars().find(|c| !is_xml_char(*c)),
        Value::Set(items) => items.iter().find_map(first_non_xml_char),
        Value::Map(pairs) => pairs.iter().find_map(|(k, v)| first_non_xml_char(k).or_else(|| first_non_xml_char(v))),
        Value::Struct(members) => {
            members.iter().find_map(|(k, v)| k.chars().find(|c| !is_xml_char(*c)).or_else(|| first_non_xml_char(v)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_status_first_and_ints_untyped() {
        let s = encode_success(&Value::Int(1073741824));
        assert!(s.contains("<struct><member><name>Status</name><value>Success</value></member><member><name>Value</name><value>1073741824</value></member></struct>"));
        let f = encode_failure(&ApiError::new("SESSION_INVALID", ["OpaqueRef:x"]));
        assert!(f.contains("<name>ErrorDescription</name><value><array><data><value>SESSION_INVALID</value><value>OpaqueRef:x</value></data></array></value>"));
    }

    #[test]
    fn large_maps_encode_the_same_in_parallel() {
        let m: Vec<(Value, Value)> = (0..5000).map(|i| (Value::str(format!("k{i}")), Value::Int(i))).collect();
        let mut serial = String::new();
        write_value(&mut serial, &Value::Map(m.clone()));
        let mut parallel = String::new();
        write_map_parallel(&mut parallel, &m);
        assert_eq!(serial, parallel);
    }

    #[test]
    fn escapes_as_quick_xml_does() {
        for s in ["", "plain", "<a href='x'>&amp; \"q\"</a>", "日本語 > ✓ &", "\t\n\r", "trailing<"] {
            let mut out = String::new();
            escape_into(&mut out, s);
            assert_eq!(out, quick_xml::escape::escape(s));
        }
    }

    #[test]
    fn escapes_and_drops_control_characters() {
        let mut out = String::new();
        write_value(&mut out, &Value::str("a<b>&\"c\u{1}d\te"));
        assert_eq!(out, "<value>a&lt;b&gt;&amp;&quot;cd\te</value>");
        let mut out = String::new();
        write_value(&mut out, &Value::str("x\u{FFFF}y\u{FFFE}z\u{FFFD}\u{F900}"));
        assert_eq!(out, "<value>xyz\u{FFFD}\u{F900}</value>");
    }
}
