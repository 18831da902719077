//! JSON-RPC binding (`POST /jsonrpc`), versions 1.0 and 2.0 chosen per request.
//!
//! Request: `{"jsonrpc": "2.0", "method": "VM.get_all", "params": [session], "id": 1}` (v1 has no
//! `jsonrpc` member). `id` is mandatory.
//! v1 response: `{"result": …, "error": null, "id": …}` or `{"result": null, "error": [code, …]}`.
//! v2 response: `{"jsonrpc": "2.0", "result": …, "id": …}` or
//! `{"jsonrpc": "2.0", "error": {"code": 1, "message": CODE, "data": [params…]}, "id": …}`.

use crate::{Call, ProtocolError, Wire, MAX_DEPTH};
use xenapi_model::{time_fmt, ApiError, Value};
use serde_json::{json, Map, Number, Value as Json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// A decoded JSON-RPC request: the call, its id and protocol version.
#[derive(Debug)]
pub struct Request {
    pub call: Call,
    pub id: Json,
    pub version: Version,
}

pub fn decode_request(body: &[u8]) -> Result<Request, ProtocolError> {
    let err = |m: &str| ProtocolError(m.to_string());
    let body = std::str::from_utf8(body).map_err(|_| err("body is not valid UTF-8"))?;
    // serde_json limits recursion depth itself (128), so hostile nesting fails cleanly.
    let j: Json = serde_json::from_str(body).map_err(|e| ProtocolError(format!("JSON: {e}")))?;
    let obj = j.as_object().ok_or_else(|| err("request is not a JSON object"))?;
    let method = obj.get("method").and_then(Json::as_str).ok_or_else(|| err("missing method"))?;
    let id = obj.get("id").cloned().ok_or_else(|| err("missing id (notifications are not supported)"))?;
    if !(id.is_string() || id.is_number()) {
        return Err(err("id must be a string or a number"));
    }
    let version = match obj.get("jsonrpc") {
        None => Version::V1,
        Some(Json::String(v)) if v == "2.0" => Version::V2,
        Some(_) => return Err(err("unsupported jsonrpc version")),
    };
    let params = match obj.get("params") {
        None => vec![],
        Some(Json::Array(items)) => {
            items.iter().map(|p| to_wire(p, 0)).collect::<Result<Vec<_>, _>>()?
        }
        Some(_) => return Err(err("params must be an array")),
    };
    Ok(Request { call: Call { method: method.to_string(), params }, id, version })
}

/// The untyped form of a JSON value (also how the store reads back the records it wrote as JSON).
pub fn to_wire(j: &Json, depth: usize) -> Result<Wire, ProtocolError> {
    if depth > MAX_DEPTH {
        return Err(ProtocolError("values nested too deeply".into()));
    }
    Ok(match j {
        Json::Null => Wire::Nil,
        Json::Bool(b) => Wire::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Wire::Int(i),
            None => Wire::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Wire::Str(s.clone()),
        Json::Array(a) => Wire::Array(a.iter().map(|x| to_wire(x, depth + 1)).collect::<Result<_, _>>()?),
        Json::Object(o) => {
            Wire::Struct(o.iter().map(|(k, v)| Ok((k.clone(), to_wire(v, depth + 1)?))).collect::<Result<_, _>>()?)
        }
    })
}

/// The JSON form of a value: ints as integer literals, datetimes as xapi strings.
pub fn to_json(v: &Value) -> Json {
    match v {
        Value::String(s) => Json::String(s.clone()),
        Value::Int(i) => Json::Number((*i).into()),
        Value::I4(i) => Json::Number((*i).into()),
        Value::Float(f) => Number::from_f64(*f).map(Json::Number).unwrap_or(Json::Null),
        Value::Bool(b) => Json::Bool(*b),
        Value::DateTime(t) => Json::String(time_fmt::format_xapi(*t)),
        Value::Set(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(m) => Json::Object(m.iter().map(|(k, v)| (k.key_string(), to_json(v))).collect::<Map<_, _>>()),
        Value::Struct(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect::<Map<_, _>>()),
        Value::Encoded(e) => to_json(&e.value),
        Value::Record(r) => Json::Object(
            r.class.fields.iter().zip(&r.rec.fields).map(|(f, v)| (f.name.clone(), to_json(v))).collect::<Map<_, _>>(),
        ),
    }
}

/// What a successful answer's result is wrapped in (before, after), as `encode_response` writes
/// it; the streamed answer (`chunked::Plan`) writes the same.
pub fn success_envelope(version: Version, id: &Json) -> (String, String) {
    let before = match version {
        Version::V1 => "{\"result\":",
        Version::V2 => "{\"jsonrpc\":\"2.0\",\"result\":",
    };
    let mut after = String::from(if version == Version::V1 { ",\"error\":null,\"id\":" } else { ",\"id\":" });
    after.push_str(&id.to_string());
    after.push('}');
    (before.to_string(), after)
}

/// The answer, compact, members in the order xapi writes them (`json_write` prints the result
/// straight from the typed value, as `serde_json` would print `to_json` of it).
pub fn encode_response(version: Version, id: &Json, result: &Result<Value, ApiError>) -> String {
    match result {
        Ok(v) => {
            let (before, after) = success_envelope(version, id);
            let mut out = String::with_capacity(before.len() + after.len() + crate::xmlrpc::size_hint(v));
            out.push_str(&before);
            crate::json_write::write_json(&mut out, v);
            out.push_str(&after);
            out
        }
        Err(e) => {
            let j = match version {
                Version::V1 => json!({"result": null, "error": e.description(), "id": id}),
                Version::V2 => json!({
                    "jsonrpc": "2.0",
                    "error": {"code": 1, "message": e.code, "data": e.params},
                    "id": id
                }),
            };
            j.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_v1_and_v2() {
        let r = decode_request(br#"{"method":"VM.get_all","params":["OpaqueRef:s"],"id":7}"#).unwrap();
        assert_eq!(r.version, Version::V1);
        assert_eq!(r.call.params, vec![Wire::Str("OpaqueRef:s".into())]);
        let r = decode_request(br#"{"jsonrpc":"2.0","method":"m","params":[1,2.5,true,{"a":[null]}],"id":"x"}"#).unwrap();
        assert_eq!(r.version, Version::V2);
        assert_eq!(
            r.call.params,
            vec![Wire::Int(1), Wire::Float(2.5), Wire::Bool(true), Wire::Struct(vec![("a".into(), Wire::Array(vec![Wire::Nil]))])]
        );
    }

    #[test]
    fn rejects_notifications_and_garbage() {
        assert!(decode_request(br#"{"method":"m","params":[]}"#).is_err());
        assert!(decode_request(br#"[1,2]"#).is_err());
        assert!(decode_request(br#"{"method":"m","params":{},"id":1}"#).is_err());
        assert!(decode_request(b"{").is_err());
    }

    #[test]
    fn encodes_both_error_shapes() {
        let e: Result<Value, ApiError> = Err(ApiError::new("HANDLE_INVALID", ["VM", "OpaqueRef:x"]));
        let v1: Json = serde_json::from_str(&encode_response(Version::V1, &json!(1), &e)).unwrap();
        assert_eq!(v1["error"], json!(["HANDLE_INVALID", "VM", "OpaqueRef:x"]));
        let v2: Json = serde_json::from_str(&encode_response(Version::V2, &json!(1), &e)).unwrap();
        assert_eq!(v2["error"], json!({"code": 1, "message": "HANDLE_INVALID", "data": ["VM", "OpaqueRef:x"]}));
        let ok: Json = serde_json::from_str(&encode_response(Version::V2, &json!(1), &Ok(Value::Int(1 << 40)))).unwrap();
        assert_eq!(ok["result"], json!(1099511627776i64));
    }
}
