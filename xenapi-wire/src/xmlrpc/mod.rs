//! The XML-RPC binding, both directions, with one value reader (`parse`) and one writer
//! (`encode`).
//!
//! Call: `<methodCall><methodName>VM.get_record</methodName><params><param><value>
//! OpaqueRef:…</value></param>…</params></methodCall>`.
//!
//! Answer: `{Status: "Success", Value: v}` or `{Status: "Failure", ErrorDescription: [code,
//! params…]}` as a struct whose first member is `Status`; ints as untyped strings, booleans `1/0`,
//! datetimes `YYYYMMDDTHH:MM:SSZ`:
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

mod encode;
mod parse;
pub mod records;

pub use encode::{
    encode_bare, encode_call, encode_failure, encode_once, encode_success, encode_success_sized, first_non_xml_char, is_xml_char, size_hint,
    success_envelope, value_fragment, write_member_name, write_members, write_struct_member, write_value,
};

use crate::{Call, ProtocolError, Wire};
use parse::{err, Parser, Tag, Tok};
use xenapi_model::ApiError;

/// Decodes a `methodCall` (server side).
pub fn decode_call(body: &[u8]) -> Result<Call, ProtocolError> {
    std::str::from_utf8(body).map_err(|_| err("body is not valid UTF-8"))?;
    parse::with_fallback(body, read_call)
}

fn read_call(p: &mut Parser<'_>) -> Result<Call, ProtocolError> {
    p.expect_start(Tag::MethodCall)?;
    p.expect_start(Tag::MethodName)?;
    let method = p.text_until_end(Tag::MethodName)?.trim().to_string();
    if method.is_empty() {
        return Err(err("empty methodName"));
    }
    let mut params = Vec::new();
    match p.next_tag()? {
        Tok::Start(Tag::Params) => loop {
            match p.next_tag()? {
                Tok::Start(Tag::Param) => {
                    params.push(p.value(0, "param")?);
                    p.expect_end(Tag::Param)?;
                }
                Tok::End(Tag::Params) => break,
                _ => return Err(err("expected <param>")),
            }
        },
        Tok::Empty(Tag::Params) => {}
        Tok::End(Tag::MethodCall) => return p.expect_eof(Tag::MethodCall).map(|_| Call { method, params }),
        _ => return Err(err("expected <params>")),
    }
    p.expect_end(Tag::MethodCall)?;
    p.expect_eof(Tag::MethodCall)?;
    Ok(Call { method, params })
}

/// What a `methodResponse` carries: one value, or an XML-RPC fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Value(Wire),
    Fault { code: i64, string: String },
}

/// Decodes a XenAPI answer (client side): the `{Status, Value}` / `{Status, ErrorDescription}` envelope.
/// A `<fault>` becomes `ApiError { code: "fault", params: [faultCode, faultString] }`.
pub fn decode_response(body: &[u8]) -> Result<Result<Wire, ApiError>, ProtocolError> {
    match decode_reply(body)? {
        Reply::Value(w) => unwrap_envelope(w),
        Reply::Fault { code, string } => Ok(Err(ApiError { code: "fault".into(), params: vec![code.to_string(), string] })),
    }
}

/// Splits the envelope. xapi puts `Status` first; the order is not relied on here.
pub fn unwrap_envelope(w: Wire) -> Result<Result<Wire, ApiError>, ProtocolError> {
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
pub fn decode_reply(body: &[u8]) -> Result<Reply, ProtocolError> {
    parse::with_fallback(body, read_reply)
}

fn read_reply(p: &mut Parser<'_>) -> Result<Reply, ProtocolError> {
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
    p.expect_eof(Tag::MethodResponse)?;
    Ok(reply)
}

fn fault(v: Wire) -> Result<Reply, ProtocolError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use xenapi_model::Value;

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

    /// Calls and answers are read by the same value reader: a value reads the same in both, and
    /// what one refuses the other refuses too.
    #[test]
    fn calls_and_answers_read_values_alike() {
        let as_call = |v: &str| decode_call(format!("<methodCall><methodName>m</methodName><params><param>{v}</param></params></methodCall>").as_bytes()).map(|c| c.params[0].clone());
        let as_reply = |v: &str| match decode_reply(format!("<methodResponse><params><param>{v}</param></params></methodResponse>").as_bytes()) {
            Ok(Reply::Value(w)) => Ok(w),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        for good in [
            "<value> padded </value>",
            "<value><i4>-7</i4></value>",
            "<value><base64/></value>",
            "<value><![CDATA[<raw>]]></value>",
            "<value><struct><member><name>a&amp;b</name><value/></member></struct></value>",
            "<value><array><data><value><ex:nil/></value></data></array></value>",
        ] {
            let (c, r) = (as_call(good).unwrap(), as_reply(good).unwrap());
            assert_eq!(c, r, "{good}");
        }
        for bad in [
            "<value><string>x</strin></value>",
            "<value><int>1</int></valu>",
            "<value><foo>1</foo></value>",
            "<value>text<int>1</int></value>",
            "<value><boolean>2</boolean></value>",
            "<value><struct><member><value>1</value></member></struct></value>",
            "<value><array><value>1</value></array></value>",
            "<value>&bogus;</value>",
        ] {
            let (c, r) = (as_call(bad).unwrap_err(), as_reply(bad).unwrap_err());
            assert_eq!(c, r, "{bad}");
        }
        assert_eq!(as_call("<value><foo>1</foo></value>").unwrap_err().0, "unknown value type <foo>");
    }
}
