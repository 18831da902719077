//! XML-RPC on the client side: `methodCall` out, `methodResponse` in.
//!
//! Request, as xapi's own clients send it (ints as untyped strings, which every XenAPI server
//! accepts and which carry 64 bits, unlike `<i4>`):
//!
//! ```text
//! <methodCall><methodName>VM.get_record</methodName><params>
//!   <param><value>OpaqueRef:5e1…</value></param><param><value>OpaqueRef:9a0…</value></param>
//! </params></methodCall>
//! ```
//!
//! Response envelope, decoded into `Ok(Wire)` or `Err(ApiError)`:
//!
//! ```text
//! <methodResponse><params><param><value><struct>
//!   <member><name>Status</name><value>Success</value></member>
//!   <member><name>Value</name><value>…</value></member>
//! </struct></value></param></params></methodResponse>
//!
//! … <member><name>Status</name><value>Failure</value></member>
//!   <member><name>ErrorDescription</name><value><array><data>
//!     <value>HANDLE_INVALID</value><value>VM</value><value>OpaqueRef:x</value>
//!   </data></array></value></member> …
//! ```
//!
//! The decoder is written for large answers (`VM.get_all_records` of thousands of VMs): tag
//! names are matched as bytes, and text is copied once, into the `Wire` string it becomes.

use crate::error::ApiError;
use crate::rpc::{xmlrpc::write_value, Wire, MAX_DEPTH};
use crate::value::Value;
use quick_xml::events::Event;
use quick_xml::Reader;

/// The body of a `methodCall`. Values are written exactly as the server writes them
/// (`crate::rpc::xmlrpc::write_value`: markup escaped with `quick_xml::escape`, control
/// characters XML cannot carry dropped), so both directions share one encoder.
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

/// A response that is not XML-RPC, or not a XenAPI envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

fn err(msg: impl Into<String>) -> DecodeError {
    DecodeError(msg.into())
}

/// What a `methodResponse` carries: one value, or an XML-RPC fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Value(Wire),
    Fault { code: i64, string: String },
}

/// Decodes a XenAPI answer: the `{Status, Value}` / `{Status, ErrorDescription}` envelope.
/// A `<fault>` becomes `ApiError { code: "fault", params: [faultCode, faultString] }`.
pub fn decode_response(body: &[u8]) -> Result<Result<Wire, ApiError>, DecodeError> {
    match decode_reply(body)? {
        Reply::Value(w) => unwrap_envelope(w),
        Reply::Fault { code, string } => Ok(Err(ApiError { code: "fault".into(), params: vec![code.to_string(), string] })),
    }
}

/// Splits the envelope. xapi puts `Status` first; the order is not relied on here.
pub fn unwrap_envelope(w: Wire) -> Result<Result<Wire, ApiError>, DecodeError> {
    let Wire::Struct(members) = w else { return Err(err("the response is not a {Status, ...} struct")) };
    let mut status = None;
    let mut value = None;
    let mut description = None;
    for (k, v) in members {
        match k.as_str() {
            "Status" => status = Some(v),
            "Value" => value = Some(v),
            "ErrorDescription" => description = Some(v),
            _ => {}
        }
    }
    match status {
        Some(Wire::Str(s)) if s == "Success" => value.map(Ok).ok_or_else(|| err("Success without a Value")),
        Some(Wire::Str(s)) if s == "Failure" => {
            let Some(Wire::Array(items)) = description else {
                return Err(err("Failure without an ErrorDescription array"));
            };
            let mut strings = items.into_iter().map(|i| match i {
                Wire::Str(s) => Ok(s),
                // Be lenient with servers that type numeric parameters.
                Wire::Int(n) => Ok(n.to_string()),
                other => Err(err(format!("ErrorDescription member {other:?} is not a string"))),
            });
            let code = strings.next().ok_or_else(|| err("empty ErrorDescription"))??;
            let params = strings.collect::<Result<Vec<_>, _>>()?;
            Ok(Err(ApiError { code, params }))
        }
        Some(other) => Err(err(format!("unknown Status {other:?}"))),
        None => Err(err("no Status member")),
    }
}

/// Decodes any `methodResponse` (also the bare, unenveloped one of `system.listMethods`).
pub fn decode_reply(body: &[u8]) -> Result<Reply, DecodeError> {
    let mut p = Parser::new(body);
    p.expect_start(Tag::MethodResponse)?;
    let reply = match p.next_tag()? {
        Tok::Start(Tag::Params) => {
            p.expect_start(Tag::Param)?;
            p.expect_start(Tag::Value)?;
            let v = p.value_body(0)?;
            p.expect_end(Tag::Param)?;
            p.expect_end(Tag::Params)?;
            Reply::Value(v)
        }
        Tok::Start(Tag::Fault) => {
            p.expect_start(Tag::Value)?;
            let v = p.value_body(0)?;
            p.expect_end(Tag::Fault)?;
            fault(v)?
        }
        _ => return Err(err("expected <params> or <fault>")),
    };
    p.expect_end(Tag::MethodResponse)?;
    match p.next_tag()? {
        Tok::Eof => Ok(reply),
        _ => Err(err("content after </methodResponse>")),
    }
}

fn fault(v: Wire) -> Result<Reply, DecodeError> {
    let Wire::Struct(members) = v else { return Err(err("<fault> without a struct")) };
    let (mut code, mut string) = (0, String::new());
    for (k, v) in members {
        match (k.as_str(), v) {
            ("faultCode", Wire::Int(c)) => code = c,
            ("faultCode", Wire::Str(c)) => code = c.trim().parse().unwrap_or(0),
            ("faultString", Wire::Str(s)) => string = s,
            _ => {}
        }
    }
    Ok(Reply::Fault { code, string })
}

// ---------------------------------------------------------------- the parser

/// The tags of XML-RPC, recognised once per event so the grammar below compares enums, not text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    MethodResponse,
    Params,
    Param,
    Fault,
    Value,
    String,
    Int,
    I4,
    I8,
    Boolean,
    Double,
    DateTime,
    Base64,
    Nil,
    Array,
    Data,
    Struct,
    Member,
    Name,
    Other,
}

impl Tag {
    fn of(name: &[u8]) -> Tag {
        match name {
            b"value" => Tag::Value,
            b"member" => Tag::Member,
            b"name" => Tag::Name,
            b"struct" => Tag::Struct,
            b"array" => Tag::Array,
            b"data" => Tag::Data,
            b"string" => Tag::String,
            b"int" => Tag::Int,
            b"i4" => Tag::I4,
            b"i8" => Tag::I8,
            b"boolean" => Tag::Boolean,
            b"double" => Tag::Double,
            b"dateTime.iso8601" => Tag::DateTime,
            b"base64" => Tag::Base64,
            b"nil" => Tag::Nil,
            b"methodResponse" => Tag::MethodResponse,
            b"params" => Tag::Params,
            b"param" => Tag::Param,
            b"fault" => Tag::Fault,
            _ => Tag::Other,
        }
    }
}

enum Tok<'a> {
    Start(Tag),
    End(Tag),
    Empty(Tag),
    /// Raw (still escaped) text, borrowed from the body.
    Text(&'a [u8]),
    /// Already unescaped text (CDATA).
    CData(&'a [u8]),
    Eof,
}

struct Parser<'a> {
    reader: Reader<&'a [u8]>,
    /// Members of the structs and items of the arrays being parsed, innermost last: each
    /// collection is built here and moved out at its exact size, so a 90-field record costs one
    /// allocation instead of a vector growing seven times (and holds no slack afterwards).
    members: Vec<(String, Wire)>,
    items: Vec<Wire>,
}

impl<'a> Parser<'a> {
    fn new(body: &'a [u8]) -> Self {
        let mut reader = Reader::from_reader(body);
        // Whitespace inside <value> is data; whitespace between tags is skipped by `next_tag`.
        reader.config_mut().trim_text(false);
        // End tags are checked by the grammar below (each `expect_end`/`text_until_end` names the
        // tag it wants); quick-xml's own check would compare every end name a second time.
        reader.config_mut().check_end_names = false;
        Parser { reader, members: Vec::new(), items: Vec::new() }
    }

    fn next(&mut self) -> Result<Tok<'a>, DecodeError> {
        loop {
            let ev = self.reader.read_event().map_err(|e| err(format!("XML: {e}")))?;
            return Ok(match ev {
                Event::Start(s) => Tok::Start(Tag::of(s.local_name().as_ref())),
                Event::End(e) => Tok::End(Tag::of(e.local_name().as_ref())),
                Event::Empty(s) => Tok::Empty(Tag::of(s.local_name().as_ref())),
                Event::Text(t) => match t.into_inner() {
                    std::borrow::Cow::Borrowed(b) => Tok::Text(b),
                    // A slice reader always borrows; anything else is a quick-xml change.
                    std::borrow::Cow::Owned(_) => return Err(err("XML text not borrowed from the body")),
                },
                Event::CData(c) => match c.into_inner() {
                    std::borrow::Cow::Borrowed(b) => Tok::CData(b),
                    std::borrow::Cow::Owned(_) => return Err(err("CDATA not borrowed from the body")),
                },
                Event::Eof => Tok::Eof,
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => continue,
            });
        }
    }

    /// Next token that is not whitespace-only text.
    fn next_tag(&mut self) -> Result<Tok<'a>, DecodeError> {
        loop {
            match self.next()? {
                Tok::Text(t) if t.iter().all(u8::is_ascii_whitespace) => continue,
                Tok::Text(_) | Tok::CData(_) => return Err(err("unexpected text between tags")),
                other => return Ok(other),
            }
        }
    }

    fn expect_start(&mut self, tag: Tag) -> Result<(), DecodeError> {
        match self.next_tag()? {
            Tok::Start(t) if t == tag => Ok(()),
            _ => Err(err(format!("expected <{tag:?}>"))),
        }
    }

    fn expect_end(&mut self, tag: Tag) -> Result<(), DecodeError> {
        match self.next_tag()? {
            Tok::End(t) if t == tag => Ok(()),
            _ => Err(err(format!("expected </{tag:?}>"))),
        }
    }

    /// Text up to the end tag `tag`, unescaped.
    fn text_until_end(&mut self, tag: Tag) -> Result<String, DecodeError> {
        let mut out = String::new();
        loop {
            match self.next()? {
                Tok::Text(t) => push_text(&mut out, t)?,
                Tok::CData(t) => out.push_str(std::str::from_utf8(t).map_err(|_| err("CDATA is not UTF-8"))?),
                Tok::End(t) if t == tag => return Ok(out),
                _ => return Err(err(format!("unexpected markup inside <{tag:?}>"))),
            }
        }
    }

    /// The inside of a `<value>` whose start tag was consumed, through `</value>`.
    fn value_body(&mut self, depth: usize) -> Result<Wire, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(err("values nested too deeply"));
        }
        let mut text = String::new();
        loop {
            match self.next()? {
                Tok::Text(t) => push_text(&mut text, t)?,
                Tok::CData(t) => text.push_str(std::str::from_utf8(t).map_err(|_| err("CDATA is not UTF-8"))?),
                // `<value>text</value>`: an untyped string, which is how xapi sends strings and ints.
                Tok::End(Tag::Value) => return Ok(Wire::Str(text)),
                Tok::Empty(tag) => {
                    let v = match tag {
                        Tag::Nil => Wire::Nil,
                        Tag::String | Tag::Base64 => Wire::Str(String::new()),
                        Tag::Array => Wire::Array(vec![]),
                        Tag::Struct => Wire::Struct(vec![]),
                        other => return Err(err(format!("empty <{other:?}/> is not a value"))),
                    };
                    self.expect_end(Tag::Value)?;
                    return Ok(v);
                }
                Tok::Start(tag) => {
                    if !text.trim().is_empty() {
                        return Err(err("text before a typed value"));
                    }
                    let v = self.typed(tag, depth)?;
                    self.expect_end(Tag::Value)?;
                    return Ok(v);
                }
                Tok::End(t) => return Err(err(format!("unexpected </{t:?}>"))),
                Tok::Eof => return Err(err("unexpected end of document")),
            }
        }
    }

    fn typed(&mut self, tag: Tag, depth: usize) -> Result<Wire, DecodeError> {
        Ok(match tag {
            Tag::String | Tag::Base64 => Wire::Str(self.text_until_end(tag)?),
            Tag::Int | Tag::I4 | Tag::I8 => {
                let t = self.text_until_end(tag)?;
                Wire::Int(t.trim().parse().map_err(|_| err(format!("bad integer {t:?}")))?)
            }
            Tag::Boolean => match self.text_until_end(tag)?.trim() {
                "1" => Wire::Bool(true),
                "0" => Wire::Bool(false),
                other => return Err(err(format!("bad boolean {other:?}"))),
            },
            Tag::Double => {
                let t = self.text_until_end(tag)?;
                Wire::Float(t.trim().parse().map_err(|_| err(format!("bad double {t:?}")))?)
            }
            Tag::DateTime => Wire::DateTime(self.text_until_end(tag)?.trim().to_string()),
            Tag::Nil => {
                self.expect_end(Tag::Nil)?;
                Wire::Nil
            }
            Tag::Array => {
                let start = self.items.len();
                match self.next_tag()? {
                    Tok::Start(Tag::Data) => loop {
                        match self.next_tag()? {
                            Tok::Start(Tag::Value) => {
                                let v = self.value_body(depth + 1)?;
                                self.items.push(v);
                            }
                            Tok::Empty(Tag::Value) => self.items.push(Wire::Str(String::new())),
                            Tok::End(Tag::Data) => break,
                            _ => return Err(err("expected <value> in <data>")),
                        }
                    },
                    Tok::Empty(Tag::Data) => {}
                    _ => return Err(err("expected <data> in <array>")),
                }
                self.expect_end(Tag::Array)?;
                Wire::Array(self.items.drain(start..).collect())
            }
            Tag::Struct => {
                let start = self.members.len();
                loop {
                    match self.next_tag()? {
                        Tok::Start(Tag::Member) => {
                            self.expect_start(Tag::Name)?;
                            let name = self.text_until_end(Tag::Name)?;
                            let value = match self.next_tag()? {
                                Tok::Start(Tag::Value) => self.value_body(depth + 1)?,
                                Tok::Empty(Tag::Value) => Wire::Str(String::new()),
                                _ => return Err(err("expected <value> in <member>")),
                            };
                            self.expect_end(Tag::Member)?;
                            self.members.push((name, value));
                        }
                        Tok::End(Tag::Struct) => break,
                        _ => return Err(err("expected <member> in <struct>")),
                    }
                }
                Wire::Struct(self.members.drain(start..).collect())
            }
            other => return Err(err(format!("unknown value type <{other:?}>"))),
        })
    }
}

/// Appends escaped XML text, unescaped. Most text has no `&`, and is copied straight.
fn push_text(out: &mut String, raw: &[u8]) -> Result<(), DecodeError> {
    let s = std::str::from_utf8(raw).map_err(|_| err("text is not UTF-8"))?;
    if s.contains('&') {
        out.push_str(&quick_xml::escape::unescape(s).map_err(|e| err(format!("XML text: {e}")))?);
    } else {
        out.push_str(s);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::xmlrpc::{decode_call, encode_bare, encode_failure, encode_success};

    #[test]
    fn encode_call_is_what_the_server_decodes() {
        let args = [
            Value::str("OpaqueRef:s"),
            Value::str("a<b>&\"c"),
            Value::Int(1 << 40),
            Value::Float(1.5),
            Value::Bool(true),
            Value::Set(vec![Value::str("x")]),
            Value::Map(vec![(Value::str("k&"), Value::str("v"))]),
        ];
        let body = encode_call("VM.set_other_config", &args);
        let call = decode_call(body.as_bytes()).unwrap();
        assert_eq!(call.method, "VM.set_other_config");
        assert_eq!(call.params[1], Wire::Str("a<b>&\"c".into()));
        assert_eq!(call.params[2], Wire::Str("1099511627776".into()), "ints travel as untyped strings");
        assert_eq!(call.params[3], Wire::Float(1.5));
        assert_eq!(call.params[6], Wire::Struct(vec![("k&".into(), Wire::Str("v".into()))]));
    }

    #[test]
    fn decodes_what_the_server_encodes() {
        let v = Value::Struct(vec![
            ("s".into(), Value::str("x &amp; <y>")),
            ("i".into(), Value::Int(-3)),
            ("f".into(), Value::Float(0.25)),
            ("b".into(), Value::Bool(false)),
            ("d".into(), Value::DateTime(0)),
            ("e".into(), Value::Set(vec![])),
            ("m".into(), Value::Map(vec![])),
            ("c".into(), Value::I4(7)),
        ]);
        let w = decode_response(encode_success(&v).as_bytes()).unwrap().unwrap();
        assert_eq!(
            w,
            Wire::Struct(vec![
                ("s".into(), Wire::Str("x &amp; <y>".into())),
                ("i".into(), Wire::Str("-3".into())),
                ("f".into(), Wire::Float(0.25)),
                ("b".into(), Wire::Bool(false)),
                ("d".into(), Wire::DateTime("19700101T00:00:00Z".into())),
                ("e".into(), Wire::Array(vec![])),
                ("m".into(), Wire::Struct(vec![])),
                ("c".into(), Wire::Int(7)),
            ])
        );
        let f = decode_response(encode_failure(&ApiError::handle_invalid("VM", "OpaqueRef:x")).as_bytes()).unwrap();
        assert_eq!(f, Err(ApiError { code: "HANDLE_INVALID".into(), params: vec!["VM".into(), "OpaqueRef:x".into()] }));
        let bare = decode_reply(encode_bare(&Value::Set(vec![Value::str("a")])).as_bytes()).unwrap();
        assert_eq!(bare, Reply::Value(Wire::Array(vec![Wire::Str("a".into())])));
    }

    #[test]
    fn decodes_other_servers_spellings_and_faults() {
        let body = br#"<?xml version='1.0'?>
<methodResponse>
<params>
<param>
<value><struct>
<member><name>Value</name><value><array><data><value><string> padded </string></value><value/><value><i8>9</i8></value></data></array></value></member>
<member><name>Status</name><value><string>Success</string></value></member>
</struct></value>
</param>
</params>
</methodResponse>
"#;
        let w = decode_response(body).unwrap().unwrap();
        assert_eq!(w, Wire::Array(vec![Wire::Str(" padded ".into()), Wire::Str("".into()), Wire::Int(9)]));
        let fault = br#"<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>-1</int></value></member><member><name>faultString</name><value>Malformed request</value></member></struct></value></fault></methodResponse>"#;
        let e = decode_response(fault).unwrap().unwrap_err();
        assert_eq!((e.code.as_str(), e.params.clone()), ("fault", vec!["-1".to_string(), "Malformed request".to_string()]));
    }

    #[test]
    fn rejects_what_is_not_a_response() {
        for bad in [
            &b"<html>500</html>"[..],
            b"<methodResponse><params><param><value><struct></struct></value></param></params></methodResponse>",
            b"<methodResponse><params><param><value><struct><member><name>Status</name><value>Failure</value></member></struct></value></param></params></methodResponse>",
            b"<methodResponse><params><param><value><int>x</int></value></param></params></methodResponse>",
            b"<methodResponse><params><param><value>1</value></param></params></methodResponse><x/>",
            b"<methodResponse><params><param><value>",
            b"\xff",
        ] {
            let r = decode_reply(bad).and_then(|r| match r {
                Reply::Value(w) => unwrap_envelope(w).map(|_| ()),
                Reply::Fault { .. } => Ok(()),
            });
            assert!(r.is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let mut deep = String::from("<methodResponse><params><param><value>");
        for _ in 0..10_000 {
            deep.push_str("<array><data><value>");
        }
        assert!(decode_reply(deep.as_bytes()).unwrap_err().0.contains("deeply"));
    }
}
