//! XML-RPC binding.
//!
//! Request: `<methodCall><methodName>VM.get_record</methodName><params><param><value>
//! OpaqueRef:…</value></param>…</params></methodCall>`.
//! Response: `{Status: "Success", Value: v}` or `{Status: "Failure", ErrorDescription: [code,
//! params…]}` as a struct whose first member is `Status`; ints as untyped strings, booleans `1/0`,
//! datetimes `YYYYMMDDTHH:MM:SSZ`.

use super::{Call, ProtocolError, Wire, MAX_DEPTH};
use crate::error::ApiError;
use crate::time_fmt;
use crate::value::{format_float, Encoded, Value};
use quick_xml::events::Event;
use quick_xml::Reader;
use std::fmt::Write;

// ---------------------------------------------------------------- decoding

struct Parser<'a> {
    reader: Reader<&'a [u8]>,
}

enum Tok {
    Start(String),
    End(String),
    Empty(String),
    Text(String),
    Eof,
}

fn err(msg: impl Into<String>) -> ProtocolError {
    ProtocolError(msg.into())
}

impl<'a> Parser<'a> {
    fn new(body: &'a str) -> Self {
        let mut reader = Reader::from_str(body);
        reader.config_mut().trim_text(false);
        reader.config_mut().check_end_names = true;
        Parser { reader }
    }

    fn next(&mut self) -> Result<Tok, ProtocolError> {
        loop {
            let ev = self.reader.read_event().map_err(|e| err(format!("XML: {e}")))?;
            return Ok(match ev {
                Event::Start(s) => Tok::Start(String::from_utf8_lossy(s.name().as_ref()).into_owned()),
                Event::End(e) => Tok::End(String::from_utf8_lossy(e.name().as_ref()).into_owned()),
                Event::Empty(s) => Tok::Empty(String::from_utf8_lossy(s.name().as_ref()).into_owned()),
                Event::Text(t) => Tok::Text(t.unescape().map_err(|e| err(format!("XML text: {e}")))?.into_owned()),
                Event::CData(c) => Tok::Text(
                    std::str::from_utf8(&c.into_inner()).map_err(|_| err("CDATA is not UTF-8"))?.to_string(),
                ),
                Event::Eof => Tok::Eof,
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => continue,
            });
        }
    }

    /// Next token that is not whitespace-only text.
    fn next_tag(&mut self) -> Result<Tok, ProtocolError> {
        loop {
            match self.next()? {
                Tok::Text(t) if t.trim().is_empty() => continue,
                Tok::Text(t) => return Err(err(format!("unexpected text {:?}", truncate(&t)))),
                other => return Ok(other),
            }
        }
    }

    fn expect_start(&mut self, name: &str) -> Result<(), ProtocolError> {
        match self.next_tag()? {
            Tok::Start(n) if n == name => Ok(()),
            _ => Err(err(format!("expected <{name}>"))),
        }
    }

    fn expect_end(&mut self, name: &str) -> Result<(), ProtocolError> {
        match self.next_tag()? {
            Tok::End(n) if n == name => Ok(()),
            _ => Err(err(format!("expected </{name}>"))),
        }
    }

    /// Text up to the end tag `name`.
    fn text_until_end(&mut self, name: &str) -> Result<String, ProtocolError> {
        let mut out = String::new();
        loop {
            match self.next()? {
                Tok::Text(t) => out.push_str(&t),
                Tok::End(n) if n == name => return Ok(out),
                _ => return Err(err(format!("unexpected markup inside <{name}>"))),
            }
        }
    }

    /// Parses the inside of a `<value>` whose start tag was consumed, through `</value>`.
    fn value_body(&mut self, depth: usize) -> Result<Wire, ProtocolError> {
        if depth > MAX_DEPTH {
            return Err(err("values nested too deeply"));
        }
        let mut text = String::new();
        loop {
            match self.next()? {
                Tok::Text(t) => text.push_str(&t),
                // `<value></value>` or `<value>text</value>`: an untyped string.
                Tok::End(n) if n == "value" => return Ok(Wire::Str(text)),
                Tok::Empty(n) => {
                    let v = match n.as_str() {
                        "nil" => Wire::Nil,
                        "string" => Wire::Str(String::new()),
                        "array" => Wire::Array(vec![]),
                        "struct" => Wire::Struct(vec![]),
                        other => return Err(err(format!("empty <{other}/> is not a value"))),
                    };
                    self.expect_end("value")?;
                    return Ok(v);
                }
                Tok::Start(n) => {
                    if !text.trim().is_empty() {
                        return Err(err("text before a typed value"));
                    }
                    let v = self.typed(&n, depth)?;
                    self.expect_end("value")?;
                    return Ok(v);
                }
                Tok::End(n) => return Err(err(format!("unexpected </{n}>"))),
                Tok::Eof => return Err(err("unexpected end of document")),
            }
        }
    }

    fn typed(&mut self, tag: &str, depth: usize) -> Result<Wire, ProtocolError> {
        Ok(match tag {
            "string" => Wire::Str(self.text_until_end("string")?),
            "int" | "i4" | "i8" => {
                let t = self.text_until_end(tag)?;
                Wire::Int(t.trim().parse().map_err(|_| err(format!("bad <{tag}> {:?}", truncate(&t))))?)
            }
            "boolean" => match self.text_until_end("boolean")?.trim() {
                "1" => Wire::Bool(true),
                "0" => Wire::Bool(false),
                other => return Err(err(format!("bad <boolean> {:?}", truncate(other)))),
            },
            "double" => {
                let t = self.text_until_end("double")?;
                Wire::Float(t.trim().parse().map_err(|_| err(format!("bad <double> {:?}", truncate(&t))))?)
            }
            "dateTime.iso8601" => Wire::DateTime(self.text_until_end(tag)?.trim().to_string()),
            // Carried as its text; no XenAPI message takes binary data.
            "base64" => Wire::Str(self.text_until_end("base64")?),
            "nil" => {
                self.expect_end("nil")?;
                Wire::Nil
            }
            "array" => {
                let mut items = Vec::new();
                match self.next_tag()? {
                    Tok::Start(n) if n == "data" => loop {
                        match self.next_tag()? {
                            Tok::Start(n) if n == "value" => items.push(self.value_body(depth + 1)?),
                            Tok::Empty(n) if n == "value" => items.push(Wire::Str(String::new())),
                            Tok::End(n) if n == "data" => break,
                            _ => return Err(err("expected <value> in <data>")),
                        }
                    },
                    Tok::Empty(n) if n == "data" => {}
                    _ => return Err(err("expected <data> in <array>")),
                }
                self.expect_end("array")?;
                Wire::Array(items)
            }
            "struct" => {
                let mut members = Vec::new();
                loop {
                    match self.next_tag()? {
                        Tok::Start(n) if n == "member" => {
                            self.expect_start("name")?;
                            let name = self.text_until_end("name")?;
                            let value = match self.next_tag()? {
                                Tok::Start(n) if n == "value" => self.value_body(depth + 1)?,
                                Tok::Empty(n) if n == "value" => Wire::Str(String::new()),
                                _ => return Err(err("expected <value> in <member>")),
                            };
                            self.expect_end("member")?;
                            members.push((name, value));
                        }
                        Tok::End(n) if n == "struct" => break,
                        _ => return Err(err("expected <member> in <struct>")),
                    }
                }
                Wire::Struct(members)
            }
            other => return Err(err(format!("unknown value type <{other}>"))),
        })
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Decodes a `methodCall`.
pub fn decode_call(body: &[u8]) -> Result<Call, ProtocolError> {
    let body = std::str::from_utf8(body).map_err(|_| err("body is not valid UTF-8"))?;
    let mut p = Parser::new(body);
    p.expect_start("methodCall")?;
    p.expect_start("methodName")?;
    let method = p.text_until_end("methodName")?.trim().to_string();
    if method.is_empty() {
        return Err(err("empty methodName"));
    }
    let mut params = Vec::new();
    match p.next_tag()? {
        Tok::Start(n) if n == "params" => loop {
            match p.next_tag()? {
                Tok::Start(n) if n == "param" => {
                    match p.next_tag()? {
                        Tok::Start(n) if n == "value" => params.push(p.value_body(0)?),
                        Tok::Empty(n) if n == "value" => params.push(Wire::Str(String::new())),
                        _ => return Err(err("expected <value> in <param>")),
                    }
                    p.expect_end("param")?;
                }
                Tok::End(n) if n == "params" => break,
                _ => return Err(err("expected <param>")),
            }
        },
        Tok::Empty(n) if n == "params" => {}
        Tok::End(n) if n == "methodCall" => return expect_eof(&mut p).map(|_| Call { method, params }),
        _ => return Err(err("expected <params>")),
    }
    p.expect_end("methodCall")?;
    expect_eof(&mut p)?;
    Ok(Call { method, params })
}

fn expect_eof(p: &mut Parser<'_>) -> Result<(), ProtocolError> {
    match p.next_tag()? {
        Tok::Eof => Ok(()),
        _ => Err(err("content after </methodCall>")),
    }
}

// ---------------------------------------------------------------- encoding

const HEAD: &str = "<?xml version=\"1.0\"?>\n<methodResponse><params><param><value><struct>";
const TAIL: &str = "</struct></value></param></params></methodResponse>\n";

pub fn encode_success(v: &Value) -> String {
    let mut out = String::with_capacity(256 + size_hint(v));
    out.push_str(HEAD);
    out.push_str("<member><name>Status</name><value>Success</value></member><member><name>Value</name>");
    match v {
        Value::Map(m) if m.len() >= PARALLEL_MIN_ENTRIES => write_map_parallel(&mut out, m),
        v => write_value(&mut out, v),
    }
    out.push_str("</member>");
    out.push_str(TAIL);
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
            let _ = write!(out, "{i}");
            out.push_str("</value>");
        }
        Value::I4(i) => {
            out.push_str("<value><i4>");
            out.push_str(&i.to_string());
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
            for (k, v) in m {
                out.push_str("<member><name>");
                escape_into(out, &k.key_string());
                out.push_str("</name>");
                write_value(out, v);
                out.push_str("</member>");
            }
            out.push_str("</struct></value>");
        }
        Value::Struct(m) => {
            out.push_str("<value><struct>");
            for (k, v) in m {
                out.push_str("<member><name>");
                escape_into(out, k);
                out.push_str("</name>");
                write_value(out, v);
                out.push_str("</member>");
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
                    for (k, v) in part {
                        s.push_str("<member><name>");
                        escape_into(&mut s, &k.key_string());
                        s.push_str("</name>");
                        write_value(&mut s, v);
                        s.push_str("</member>");
                    }
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
        Value::Map(m) => sampled(m.len(), &mut m.iter().map(|(k, v)| 40 + k.key_string().len() + size_hint(v))),
        Value::Struct(m) => m.iter().map(|(k, v)| 40 + k.len() + size_hint(v)).sum(),
        Value::Record(r) => r.class.fields.iter().zip(&r.rec.fields).map(|(f, v)| 40 + f.name.len() + size_hint(v)).sum(),
        Value::Encoded(e) => e.xml.len(),
        _ => 32,
    }
}

/// Escapes markup characters (through `quick_xml::escape`) and drops characters XML 1.0 cannot
/// carry (control characters other than TAB, LF and CR, U+FFFE, U+FFFF), as xapi does: arguments
/// holding them are refused (`value::is_xml_char`), but an error may echo what a client sent (a
/// method name, a session ref), and no answer may ever be malformed.
fn escape_into(out: &mut String, s: &str) {
    // Fast path: no control byte, and no 0xEF, the lead byte of U+F000..U+FFFF (so of U+FFFE/F).
    if s.bytes().all(|b| (b >= 0x20 && b != 0xEF) || b == b'\t' || b == b'\n' || b == b'\r') {
        out.push_str(&quick_xml::escape::escape(s));
    } else {
        let cleaned: String = s.chars().filter(|c| crate::value::is_xml_char(*c)).collect();
        out.push_str(&quick_xml::escape::escape(cleaned.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_value_type() {
        let body = br#"<?xml version='1.0'?>
<methodCall><methodName>VM.create</methodName><params>
<param><value><string>OpaqueRef:abc</string></value></param>
<param><value>untyped &amp; text</value></param>
<param><value><int>42</int></value></param>
<param><value><i8>8589934592</i8></value></param>
<param><value><boolean>1</boolean></value></param>
<param><value><double>0.5</double></value></param>
<param><value><dateTime.iso8601>20250319T04:16:24Z</dateTime.iso8601></value></param>
<param><value><array><data><value>a</value><value><int>1</int></value></data></array></value></param>
<param><value><struct><member><name>k</name><value><string>v</string></value></member></struct></value></param>
<param><value><nil/></value></param>
<param><value></value></param>
</params></methodCall>"#;
        let c = decode_call(body).unwrap();
        assert_eq!(c.method, "VM.create");
        assert_eq!(
            c.params,
            vec![
                Wire::Str("OpaqueRef:abc".into()),
                Wire::Str("untyped & text".into()),
                Wire::Int(42),
                Wire::Int(8589934592),
                Wire::Bool(true),
                Wire::Float(0.5),
                Wire::DateTime("20250319T04:16:24Z".into()),
                Wire::Array(vec![Wire::Str("a".into()), Wire::Int(1)]),
                Wire::Struct(vec![("k".into(), Wire::Str("v".into()))]),
                Wire::Nil,
                Wire::Str("".into()),
            ]
        );
    }

    #[test]
    fn rejects_malformed_bodies() {
        for bad in [
            &b"<methodCall><methodName>x</methodName><params><param><value><int>x</int></value></param></params></methodCall>"[..],
            b"<methodCall><methodName>x</methodName><params>",
            b"not xml at all",
            b"<methodCall><methodName></methodName></methodCall>",
            b"<methodCall><methodName>x</methodName><params><param><value><foo>1</foo></value></param></params></methodCall>",
            b"\xff\xfe",
            b"<methodCall><methodName>x</methodName></methodCall><extra/>",
        ] {
            assert!(decode_call(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn refuses_deep_nesting_without_overflowing() {
        let mut body = String::from("<methodCall><methodName>x</methodName><params><param><value>");
        for _ in 0..100_000 {
            body.push_str("<array><data><value>");
        }
        let e = decode_call(body.as_bytes()).unwrap_err();
        assert!(e.0.contains("deeply"), "{e}");
    }

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
    fn escapes_and_drops_control_characters() {
        let mut out = String::new();
        write_value(&mut out, &Value::str("a<b>&\"c\u{1}d\te"));
        assert_eq!(out, "<value>a&lt;b&gt;&amp;&quot;cd\te</value>");
        let mut out = String::new();
        write_value(&mut out, &Value::str("x\u{FFFF}y\u{FFFE}z\u{FFFD}\u{F900}"));
        assert_eq!(out, "<value>xyz\u{FFFD}\u{F900}</value>");
    }
}
