//! The client's fast path for the answers that are large: `<class>.get_all_records` and
//! `<class>.get_record`, read straight from the body into values of each field's model type,
//! without the untyped [`Wire`] tree in between: member names are borrowed from the body (a known
//! field's name is the model's own `&'static str`), ints are parsed from the borrowed text, and
//! a string is copied once, into the value it becomes.
//!
//! It reads only the usual shape (xapi's and this server's): the plain XML the [`Scanner`] reads,
//! a `{Status: "Success", Value: …}` envelope with `Status` first, every value typed as
//! [`WireValue::from_wire`] types it, and anything else (a failure, a fault, a type error, a
//! duplicate map key, other markup) is `None`, for the caller to decode the body the general
//! way (`decode_response`, then `from_wire`), which gives the authoritative answer or error. So
//! this path never accepts what the general one refuses, and gives the same values when it
//! accepts.
//!
//! [`Scanner`]: super::parse::Scanner
//! [`WireValue::from_wire`]: crate::WireValue::from_wire

use super::parse::{Parser, Tag, Tok};
use crate::typed::typed_text;
use crate::{ProtocolError, Wire, WireValue, MAX_DEPTH};
use std::borrow::Cow;
use xenapi_model::model::{Class, Type};
use xenapi_model::Value;

/// One record's members in the server's order: known fields typed and named by the model,
/// others untyped under their own name.
pub type Fields = Vec<(Cow<'static, str>, Value)>;

/// The records of a successful `<class>.get_all_records` answer, or `None` (see the module docs).
pub fn decode_all_records(body: &[u8], class: &'static Class) -> Option<Vec<(String, Fields)>> {
    success(body, |p| {
        // The map of refs to records, the envelope's `Value` at depth 1 as `decode_response` counts.
        match p.next_tag().ok()? {
            Tok::Start(Tag::Struct) => {}
            Tok::Empty(Tag::Struct) => return p.expect_end(Tag::Value).ok().map(|_| Vec::new()),
            _ => return None,
        }
        let mut out = Vec::new();
        loop {
            match p.next_tag().ok()? {
                Tok::Start(Tag::Member) => {
                    p.expect_start(Tag::Name).ok()?;
                    let r = p.text_until_end(Tag::Name).ok()?;
                    p.expect_start(Tag::Value).ok()?;
                    let fields = record(p, class, 2)?;
                    p.expect_end(Tag::Member).ok()?;
                    out.push((r, fields));
                }
                Tok::End(Tag::Struct) => break,
                _ => return None,
            }
        }
        p.expect_end(Tag::Value).ok()?;
        Some(out)
    })
}

/// The record of a successful `<class>.get_record` answer, or `None` (see the module docs).
pub fn decode_record(body: &[u8], class: &'static Class) -> Option<Fields> {
    success(body, |p| record(p, class, 1))
}

/// Reads `<methodResponse>…Status…Success…<member><name>Value</name><value>`, then `value` (which
/// reads through the value's `</value>`), then the rest of the envelope to the end of the body.
fn success<T>(body: &[u8], value: impl FnOnce(&mut Parser<'_>) -> Option<T>) -> Option<T> {
    let p = &mut Parser::plain(body);
    for tag in [Tag::MethodResponse, Tag::Params, Tag::Param, Tag::Value, Tag::Struct, Tag::Member, Tag::Name] {
        p.expect_start(tag).ok()?;
    }
    if p.borrowed_text_until_end(Tag::Name).ok()? != "Status" {
        return None;
    }
    if p.value(1, "member").ok()? != Wire::Str("Success".into()) {
        return None;
    }
    p.expect_end(Tag::Member).ok()?;
    p.expect_start(Tag::Member).ok()?;
    p.expect_start(Tag::Name).ok()?;
    if p.borrowed_text_until_end(Tag::Name).ok()? != "Value" {
        return None;
    }
    p.expect_start(Tag::Value).ok()?;
    let t = value(p)?;
    for tag in [Tag::Member, Tag::Struct, Tag::Value, Tag::Param, Tag::Params, Tag::MethodResponse] {
        p.expect_end(tag).ok()?;
    }
    p.expect_eof(Tag::MethodResponse).ok()?;
    Some(t)
}

/// A record struct whose `<value>` was read, through its `</value>`: as
/// `ObjectRecord::from_wire` of the client types it (members of the model typed, in the order
/// sent; others untyped).
fn record(p: &mut Parser<'_>, class: &'static Class, depth: usize) -> Option<Fields> {
    if depth > MAX_DEPTH {
        return None;
    }
    match p.next_tag().ok()? {
        Tok::Start(Tag::Struct) => {}
        Tok::Empty(Tag::Struct) => return p.expect_end(Tag::Value).ok().map(|_| Vec::new()),
        _ => return None,
    }
    let mut fields = Vec::with_capacity(class.fields.len());
    loop {
        // `<member><name>` as one piece where the body has it so (see `Parser::eat`).
        let member = p.eat(b"<member><name>")
            || match p.next_tag().ok()? {
                Tok::Start(Tag::Member) => {
                    p.expect_start(Tag::Name).ok()?;
                    true
                }
                Tok::End(Tag::Struct) => false,
                _ => return None,
            };
        match member {
            true => {
                let name = p.borrowed_text_until_end(Tag::Name).ok()?;
                // Servers send fields in model order, so the i-th field is almost always the one.
                let f = match class.fields.get(fields.len()) {
                    Some(f) if f.name == name => Some(f),
                    _ => class.field(&name),
                };
                let entry = match f {
                    Some(f) => (Cow::Borrowed(f.name.as_str()), member_value(p, depth + 1, &f.ty, &f.name)?),
                    None => (Cow::Owned(name.into_owned()), Value::from_untyped(p.value(depth + 1, "member").ok()?)),
                };
                if !p.eat(b"</member>") {
                    p.expect_end(Tag::Member).ok()?;
                }
                fields.push(entry);
            }
            false => break,
        }
    }
    p.expect_end(Tag::Value).ok()?;
    Some(fields)
}

/// The value of a member or an array item (`<value>…</value>` or `<value/>`), of type `ty`.
fn member_value(p: &mut Parser<'_>, depth: usize, ty: &Type, field: &str) -> Option<Value> {
    if p.eat(b"<value>") {
        return typed_value(p, depth, ty, field);
    }
    match p.next_tag().ok()? {
        Tok::Start(Tag::Value) => typed_value(p, depth, ty, field),
        Tok::Empty(Tag::Value) => typed_text(Cow::Borrowed(""), ty, field)?.ok(),
        _ => None,
    }
}

/// How a `<value>` whose start tag was read goes on.
enum Start<'a> {
    /// Untyped text, read through `</value>`.
    Text(Cow<'a, str>),
    /// `<array>` or `<struct>`, read so far.
    Array,
    Struct,
    /// Anything else, read through `</value>`.
    Other(Wire),
}

/// The inside of a `<value>` whose start tag was read, as `Parser::value_body` reads it, typed
/// by `ty` as `Value::from_wire` types it.
fn typed_value(p: &mut Parser<'_>, depth: usize, ty: &Type, field: &str) -> Option<Value> {
    if depth > MAX_DEPTH {
        return None;
    }
    let start = value_start(p, depth).ok()?;
    match (ty, start) {
        (Type::String | Type::Ref(_) | Type::Void | Type::Enum(_) | Type::Int | Type::Float | Type::DateTime, Start::Text(t)) => {
            typed_text(t, ty, field)?.ok()
        }
        (Type::Set(elem), Start::Array) => {
            let mut items = Vec::new();
            match p.next_tag().ok()? {
                Tok::Start(Tag::Data) => loop {
                    match p.next_tag().ok()? {
                        Tok::Start(Tag::Value) => items.push(typed_value(p, depth + 1, elem, field)?),
                        Tok::Empty(Tag::Value) => items.push(typed_text(Cow::Borrowed(""), elem, field)?.ok()?),
                        Tok::End(Tag::Data) => break,
                        _ => return None,
                    }
                },
                Tok::Empty(Tag::Data) => {}
                _ => return None,
            }
            p.expect_end(Tag::Array).ok()?;
            p.expect_end(Tag::Value).ok()?;
            Some(Value::Set(items))
        }
        (Type::Map(kt, vt), Start::Struct) => {
            let mut pairs: Vec<(Value, Value)> = Vec::new();
            loop {
                match p.next_tag().ok()? {
                    Tok::Start(Tag::Member) => {
                        p.expect_start(Tag::Name).ok()?;
                        let key = p.borrowed_text_until_end(Tag::Name).ok()?;
                        let key = typed_text(key, kt, field)?.ok()?;
                        let value = member_value(p, depth + 1, vt, field)?;
                        p.expect_end(Tag::Member).ok()?;
                        // A duplicate is refused by the general path, with its error.
                        if pairs.iter().any(|(k, _)| same_key(k, &key)) {
                            return None;
                        }
                        pairs.push((key, value));
                    }
                    Tok::End(Tag::Struct) => break,
                    _ => return None,
                }
            }
            p.expect_end(Tag::Value).ok()?;
            Some(Value::Map(pairs))
        }
        // Other shapes (records inside records, typed scalars, type errors): as the general path.
        (ty, start) => {
            let w = match start {
                Start::Other(w) => w,
                Start::Array | Start::Struct => {
                    let w = p.typed(if matches!(start, Start::Array) { Tag::Array } else { Tag::Struct }, depth).ok()?;
                    p.expect_end(Tag::Value).ok()?;
                    w
                }
                Start::Text(t) => Wire::Str(t.into_owned()),
            };
            Value::from_wire(w, ty, field).ok()
        }
    }
}

/// Whether two typed map keys are the same on the wire (`key_string`), as the general path's
/// duplicate check compares them. Maps in records are small; a large one is compared the same
/// way, quadratically, but only up to the size the general path would refuse anyway in time.
fn same_key(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(a), Value::String(b)) => a == b,
        (a, b) => a.key_string() == b.key_string(),
    }
}

/// Reads the start of a `<value>`'s inside, as `Parser::value_body` does.
fn value_start<'a>(p: &mut Parser<'a>, depth: usize) -> Result<Start<'a>, ProtocolError> {
    let mut text: Cow<'a, str> = Cow::Borrowed("");
    loop {
        match p.next()? {
            Tok::Text(t) => {
                let s = std::str::from_utf8(t).map_err(|_| ProtocolError("text is not UTF-8".into()))?;
                if text.is_empty() && !s.contains('&') {
                    text = Cow::Borrowed(s);
                    if p.eat(b"</value>") {
                        return Ok(Start::Text(text));
                    }
                } else {
                    let unescaped =
                        quick_xml::escape::unescape(s).map_err(|e| ProtocolError(format!("XML text: {e}")))?;
                    text.to_mut().push_str(&unescaped);
                }
            }
            Tok::End(Tag::Value) => return Ok(Start::Text(text)),
            Tok::Empty(tag) => {
                let w = match tag {
                    Tag::Nil => Wire::Nil,
                    Tag::String | Tag::Base64 => Wire::Str(String::new()),
                    Tag::Array => Wire::Array(vec![]),
                    Tag::Struct => Wire::Struct(vec![]),
                    _ => return Err(ProtocolError("not a value".into())),
                };
                p.expect_end(Tag::Value)?;
                return Ok(Start::Other(w));
            }
            Tok::Start(tag) => {
                if !text.trim().is_empty() {
                    return Err(ProtocolError("text before a typed value".into()));
                }
                return Ok(match tag {
                    Tag::Array => Start::Array,
                    Tag::Struct => Start::Struct,
                    tag => {
                        let w = p.typed(tag, depth)?;
                        p.expect_end(Tag::Value)?;
                        Start::Other(w)
                    }
                });
            }
            _ => return Err(ProtocolError("unexpected markup in <value>".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmlrpc::{decode_response, encode_success};
    use xenapi_model::model::model;
    use xenapi_model::value::Record;

    /// What the general path makes of a `get_all_records` body (as the client's `from_wire`).
    fn general(body: &[u8], class: &'static Class) -> Result<Vec<(String, Fields)>, String> {
        let Wire::Struct(members) = decode_response(body).map_err(|e| e.0)?.map_err(|e| e.code)? else {
            return Err("not a struct".into());
        };
        members
            .into_iter()
            .map(|(r, rec)| {
                let Wire::Struct(fields) = rec else { return Err("not a record".into()) };
                let fields = fields
                    .into_iter()
                    .map(|(k, w)| match class.field(&k) {
                        Some(f) => Value::from_wire(w, &f.ty, &k).map(|v| (Cow::Owned(k), v)).map_err(|e| e.code),
                        None => Ok((Cow::Owned(k), Value::from_untyped(w))),
                    })
                    .collect::<Result<Fields, String>>()?;
                Ok((r, fields))
            })
            .collect()
    }

    fn vm_record(name: &str) -> Record {
        let vm = model().class("VM").unwrap();
        let mut rec = Record::new_default(vm);
        rec.set(vm, "name_label", Value::str(name));
        rec.set(vm, "memory_static_max", Value::Int(1 << 32));
        rec.set(vm, "other_config", Value::Map(vec![(Value::str("a&b"), Value::str("<c>")), (Value::str("d"), Value::str(""))]));
        rec.set(vm, "tags", Value::Set(vec![Value::str("t1"), Value::str("")]));
        rec
    }

    #[test]
    fn reads_what_the_general_path_reads() {
        let vm = model().class("VM").unwrap();
        let v = Value::Map(
            ["web", "a &amp; b", "", "日本語"]
                .iter()
                .enumerate()
                .map(|(i, n)| (Value::str(format!("OpaqueRef:{i}")), Value::record(vm, std::sync::Arc::new(vm_record(n)))))
                .collect(),
        );
        let body = encode_success(&v);
        let fast = decode_all_records(body.as_bytes(), vm).expect("the fast path reads the server's answer");
        assert_eq!(Ok(fast.clone()), general(body.as_bytes(), vm));
        assert_eq!(fast[1].1.iter().find(|(k, _)| k == "name_label").unwrap().1, Value::str("a &amp; b"));
        assert!(matches!(fast[0].1[0].0, Cow::Borrowed(_)), "model names are not copied");
        let one = encode_success(&Value::record(vm, std::sync::Arc::new(vm_record("web"))));
        assert_eq!(decode_record(one.as_bytes(), vm).unwrap(), fast[0].1);
        assert_eq!(decode_all_records(encode_success(&Value::Map(vec![])).as_bytes(), vm), Some(vec![]));
    }

    #[test]
    fn leaves_anything_unusual_to_the_general_path() {
        let vm = model().class("VM").unwrap();
        let rec = |fields: &str| {
            format!(
                "<?xml version=\"1.0\"?>\n<methodResponse><params><param><value><struct><member><name>Status</name>\
                 <value>Success</value></member><member><name>Value</name><value><struct><member><name>OpaqueRef:1</name>\
                 <value><struct>{fields}</struct></value></member></struct></value></member></struct></value></param>\
                 </params></methodResponse>\n"
            )
        };
        let field = |n: &str, v: &str| format!("<member><name>{n}</name><value>{v}</value></member>");
        // Read by the fast path, as the general one reads them.
        for good in [
            field("memory_static_max", "4294967296"),
            field("memory_static_max", "<i8>4294967296</i8>"),
            field("name_label", "<string>x</string>"),
            field("is_a_template", "<boolean>1</boolean>"),
            field("unknown_to_the_model", "<int>3</int>"),
            field("other_config", "<struct><member><name>k</name><value/></member></struct>"),
            field("tags", "<array><data><value>a</value><value/></data></array>"),
            field("tags", "<array><data/></array>"),
            field("power_state", "Running"),
            format!("{}{}", field("name_label", "a"), field("uuid", "u")),
        ] {
            let body = rec(&good);
            let fast = decode_all_records(body.as_bytes(), vm);
            assert_eq!(fast.clone().ok_or(String::new()), general(body.as_bytes(), vm), "{good}");
        }
        // Refused by the general path (and so left to it), or written in a way only it reads.
        for other in [
            field("memory_static_max", "lots"),
            field("power_state", "running"),
            field("is_a_template", "1"),
            field("name_label", "a\u{1}b"),
            field("other_config", "<struct><member><name>k</name><value>1</value></member><member><name>k</name><value>2</value></member></struct>"),
            field("name_label", "<![CDATA[x]]>"),
            "<!-- a comment -->".to_string(),
            "<member ><name>name_label</name><value>x</value></member>".to_string(),
        ] {
            assert_eq!(decode_all_records(rec(&other).as_bytes(), vm), None, "{other}");
        }
        let failure = crate::xmlrpc::encode_failure(&xenapi_model::ApiError::new("SESSION_INVALID", ["x"]));
        assert_eq!(decode_all_records(failure.as_bytes(), vm), None);
    }
}
