//! Typing of untyped wire values under the model, and back: the one place where a parameter a
//! client sent, or a field the store read, becomes a [`Value`] of its model type.

use crate::xmlrpc::is_xml_char;
use crate::Wire;
use xenapi_model::model::{model, Type};
use xenapi_model::{time_fmt, ApiError, Value};

/// Conversions between [`Value`] and [`Wire`]. A trait because `Value` belongs to the model crate,
/// which knows no wire; with it in scope the calls read `Value::from_wire(w, ty, field)`.
pub trait WireValue: Sized {
    /// Converts an untyped wire value from a client into a value of type `ty`. `field` names the
    /// parameter or field for error messages. Strings XML 1.0 cannot carry are refused.
    fn from_wire(w: Wire, ty: &Type, field: &str) -> Result<Self, ApiError>;
    /// Like [`WireValue::from_wire`], for what the store wrote itself: strings as they are, so
    /// that a record stored before strings were checked still loads (and is then repaired).
    fn from_stored(w: Wire, ty: &Type, field: &str) -> Result<Self, ApiError>;
    /// A value with no model type to guide it (members of records of classes outside the model).
    fn from_untyped(w: Wire) -> Self;
    /// The untyped wire form, as JSON-RPC would carry it; used to persist records as JSON.
    fn to_wire(&self) -> Wire;
}

impl WireValue for Value {
    fn from_wire(w: Wire, ty: &Type, field: &str) -> Result<Value, ApiError> {
        typed(w, ty, field, Strings::XmlOnly)
    }

    fn from_stored(w: Wire, ty: &Type, field: &str) -> Result<Value, ApiError> {
        typed(w, ty, field, Strings::AsStored)
    }

    fn from_untyped(w: Wire) -> Value {
        match w {
            Wire::Str(s) => Value::String(s),
            Wire::Int(i) => Value::Int(i),
            Wire::Float(f) => Value::Float(f),
            Wire::Bool(b) => Value::Bool(b),
            Wire::DateTime(s) => time_fmt::parse(&s).map(Value::DateTime).unwrap_or(Value::String(s)),
            Wire::Array(a) => Value::Set(a.into_iter().map(Value::from_untyped).collect()),
            Wire::Struct(m) => Value::Struct(m.into_iter().map(|(k, v)| (k, Value::from_untyped(v))).collect()),
            Wire::Nil => Value::void(),
        }
    }

    fn to_wire(&self) -> Wire {
        match self {
            Value::String(s) => Wire::Str(s.clone()),
            Value::Int(i) => Wire::Int(*i),
            Value::I4(i) => Wire::Int(*i as i64),
            Value::Float(f) => Wire::Float(*f),
            Value::Bool(b) => Wire::Bool(*b),
            Value::DateTime(t) => Wire::DateTime(time_fmt::format_xapi(*t)),
            Value::Set(items) => Wire::Array(items.iter().map(Value::to_wire).collect()),
            Value::Map(m) => Wire::Struct(m.iter().map(|(k, v)| (k.key_string(), v.to_wire())).collect()),
            Value::Struct(m) => Wire::Struct(m.iter().map(|(k, v)| (k.clone(), v.to_wire())).collect()),
            Value::Record(r) => Wire::Struct(
                r.class.fields.iter().zip(&r.rec.fields).map(|(f, v)| (f.name.clone(), v.to_wire())).collect(),
            ),
            Value::Encoded(e) => e.value.to_wire(),
        }
    }
}

/// Text from a client (an untyped XML-RPC `<value>`), as a value of the scalar type `ty`: what
/// [`WireValue::from_wire`] makes of `Wire::Str(text)`, without the `String` when the value is not
/// a string (ints travel as untyped text). `None` for the other types, whose conversion needs
/// the `Wire` (a type error for most).
pub(crate) fn typed_text(text: std::borrow::Cow<'_, str>, ty: &Type, field: &str) -> Option<Result<Value, ApiError>> {
    let type_error = || ApiError::new("FIELD_TYPE_ERROR", [field]);
    Some(match ty {
        Type::String | Type::Ref(_) | Type::Void => xml_safe(text.into_owned(), field).map(Value::String),
        Type::Enum(name) => enum_value(text.into_owned(), name, field),
        Type::Int => text.trim().parse().map(Value::Int).map_err(|_| type_error()),
        Type::Float => text.trim().parse().map(Value::Float).map_err(|_| type_error()),
        Type::DateTime => time_fmt::parse(&text).map(Value::DateTime).ok_or_else(type_error),
        _ => return None,
    })
}

/// `s` if the enumeration `name` has it (or the model does not know the enumeration).
fn enum_value(s: String, name: &str, field: &str) -> Result<Value, ApiError> {
    if let Some(values) = model().enums.get(name) {
        if !values.iter().any(|v| *v == s) {
            return Err(ApiError::new("INVALID_VALUE", [field, &s]));
        }
    }
    Ok(Value::String(s))
}

/// `w` as a value of type `ty`, strings accepted as `strings` says.
fn typed(w: Wire, ty: &Type, field: &str, strings: Strings) -> Result<Value, ApiError> {
    let type_error = || ApiError::new("FIELD_TYPE_ERROR", [field]);
    Ok(match ty {
        Type::String | Type::Ref(_) | Type::Void => match w {
            Wire::Str(s) if strings == Strings::AsStored => Value::String(s),
            Wire::Str(s) => Value::String(xml_safe(s, field)?),
            _ => return Err(type_error()),
        },
        Type::Enum(name) => match w {
            Wire::Str(s) => enum_value(s, name, field)?,
            _ => return Err(type_error()),
        },
        Type::Int => match w {
            Wire::Int(i) => Value::Int(i),
            Wire::Str(s) => Value::Int(s.trim().parse().map_err(|_| type_error())?),
            _ => return Err(type_error()),
        },
        Type::Float => match w {
            Wire::Float(f) => Value::Float(f),
            Wire::Int(i) => Value::Float(i as f64),
            Wire::Str(s) => Value::Float(s.trim().parse().map_err(|_| type_error())?),
            _ => return Err(type_error()),
        },
        Type::Bool => match w {
            Wire::Bool(b) => Value::Bool(b),
            _ => return Err(type_error()),
        },
        Type::DateTime => match w {
            Wire::DateTime(s) | Wire::Str(s) => {
                Value::DateTime(time_fmt::parse(&s).ok_or_else(type_error)?)
            }
            _ => return Err(type_error()),
        },
        Type::Set(elem) => match w {
            Wire::Array(items) => Value::Set(
                items.into_iter().map(|i| typed(i, elem, field, strings)).collect::<Result<_, _>>()?,
            ),
            _ => return Err(type_error()),
        },
        Type::Map(kt, vt) => match w {
            Wire::Struct(members) => {
                let mut out = Vec::with_capacity(members.len());
                // Keys seen so far, by their wire spelling: linear, where comparing each key
                // with every earlier one made a 60k-key map cost seconds of a worker thread.
                let mut seen = std::collections::HashSet::with_capacity(members.len());
                for (k, v) in members {
                    let key = typed(Wire::Str(k), kt, field, strings)?;
                    if !seen.insert(key.key_string()) {
                        return Err(ApiError::new("MAP_DUPLICATE_KEY", ["map", field, "", &key.key_string()]));
                    }
                    out.push((key, typed(v, vt, field, strings)?));
                }
                Value::Map(out)
            }
            _ => return Err(type_error()),
        },
        Type::Record(class) => match (w, model().class(class)) {
            (Wire::Struct(members), Some(c)) => {
                let mut out = Vec::new();
                for (k, v) in members {
                    match c.field(&k) {
                        Some(f) => out.push((k.clone(), typed(v, &f.ty, &k, strings)?)),
                        // xapi ignores struct members it does not know.
                        None => continue,
                    }
                }
                Value::Struct(out)
            }
            (Wire::Struct(members), None) => Value::Struct(
                members.into_iter().map(|(k, v)| (k, Value::from_untyped(v))).collect(),
            ),
            _ => return Err(type_error()),
        },
        Type::EventBatch => return Err(type_error()),
    })
}

/// Which strings [`typed`] accepts.
#[derive(Clone, Copy, PartialEq)]
enum Strings {
    /// From a client: only what XML 1.0 can carry.
    XmlOnly,
    /// From the store: as written.
    AsStored,
}

/// `s`, or `INVALID_VALUE [field, why]` when it holds a character XML 1.0 cannot carry. The
/// character itself is not echoed, so the refusal is well-formed too.
fn xml_safe(s: String, field: &str) -> Result<String, ApiError> {
    match s.chars().enumerate().find(|(_, c)| !is_xml_char(*c)) {
        None => Ok(s),
        Some((at, c)) => Err(ApiError::new(
            "INVALID_VALUE",
            [field.to_string(), format!("character U+{:04X} at position {at} cannot be carried by XML 1.0", c as u32)],
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_xml_cannot_carry_are_refused_without_being_echoed() {
        for bad in ["a\u{FFFF}b", "\u{FFFE}", "x\u{1}", "\u{1F}"] {
            let e = Value::from_wire(Wire::Str(bad.into()), &Type::String, "name_label").unwrap_err();
            assert_eq!((e.code.as_str(), e.params[0].as_str()), ("INVALID_VALUE", "name_label"));
            assert!(e.params[1].chars().all(is_xml_char), "{:?}", e.params[1]);
        }
        let map = Type::Map(Box::new(Type::String), Box::new(Type::String));
        let e = Value::from_wire(Wire::Struct(vec![("k\u{FFFF}".into(), Wire::Str("v".into()))]), &map, "other_config");
        assert_eq!(e.unwrap_err().code, "INVALID_VALUE");
        for good in ["tab\there\nand\r", "\u{D7FF}\u{E000}\u{FFFD}\u{10000}\u{10FFFF}", "日本語 ✓"] {
            assert!(Value::from_wire(Wire::Str(good.into()), &Type::String, "x").is_ok(), "{good:?}");
        }
    }

    #[test]
    fn a_large_map_is_read_and_its_duplicate_key_found() {
        let ty = Type::Map(Box::new(Type::String), Box::new(Type::String));
        let mut members: Vec<(String, Wire)> = (0..60_000).map(|i| (format!("k{i}"), Wire::Str("v".into()))).collect();
        match Value::from_wire(Wire::Struct(members.clone()), &ty, "other_config").unwrap() {
            Value::Map(m) => assert_eq!(m.len(), 60_000),
            other => panic!("{other:?}"),
        }
        members.push(("k59999".into(), Wire::Str("again".into())));
        let e = Value::from_wire(Wire::Struct(members), &ty, "other_config").unwrap_err();
        assert_eq!((e.code.as_str(), e.params[3].as_str()), ("MAP_DUPLICATE_KEY", "k59999"));
    }

    #[test]
    fn ints_accept_strings_and_typed_ints() {
        assert_eq!(Value::from_wire(Wire::Str("4294967296".into()), &Type::Int, "x").unwrap(), Value::Int(1 << 32));
        assert_eq!(Value::from_wire(Wire::Int(5), &Type::Int, "x").unwrap(), Value::Int(5));
        let e = Value::from_wire(Wire::Str("five".into()), &Type::Int, "x").unwrap_err();
        assert_eq!(e.code, "FIELD_TYPE_ERROR");
        assert_eq!(e.params, ["x"]);
    }

    #[test]
    fn enums_are_checked_against_the_model() {
        let ty = Type::Enum("vm_power_state".into());
        assert!(Value::from_wire(Wire::Str("Running".into()), &ty, "p").is_ok());
        let e = Value::from_wire(Wire::Str("running".into()), &ty, "p").unwrap_err();
        assert_eq!((e.code.as_str(), e.params.clone()), ("INVALID_VALUE", vec!["p".into(), "running".into()]));
    }

    #[test]
    fn map_keys_take_their_type() {
        let ty = Type::Map(Box::new(Type::Int), Box::new(Type::Float));
        let v = Value::from_wire(Wire::Struct(vec![("0".into(), Wire::Float(0.5))]), &ty, "m").unwrap();
        assert_eq!(v, Value::Map(vec![(Value::Int(0), Value::Float(0.5))]));
    }
}
