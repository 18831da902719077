//! Typed XenAPI values, and their conversion from untyped wire values under a model type.
//!
//! Strings, refs and enum values are all `Value::String` (they look the same on both wires);
//! the model type says which is which where it matters.

use crate::error::ApiError;
use crate::model::{model, Class, Type};
use crate::time_fmt;
use std::sync::Arc;

/// An untyped value as it arrived on the wire; the model types it (see [`Value::from_wire`]).
///
/// It lives here, below the codecs, because typing it is the model's business: the codecs only
/// turn bytes into this tree, and the same tree is how the store persists records as JSON. It
/// knows nothing of either wire format (`DateTime` keeps the datetime's text as sent).
#[derive(Debug, Clone, PartialEq)]
pub enum Wire {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// The text of an XML-RPC `<dateTime.iso8601>`.
    DateTime(String),
    Array(Vec<Wire>),
    Struct(Vec<(String, Wire)>),
    Nil,
}

/// The fields of one stored object, in the order of its class's fields in the model. The store
/// keeps these; it lives here because [`Value::Record`] answers straight from the store's copy.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub fields: Vec<Value>,
}

impl Record {
    /// A record with every field at its default (or zero) value.
    pub fn new_default(class: &Class) -> Record {
        Record {
            fields: class
                .fields
                .iter()
                .map(|f| f.default.clone().unwrap_or_else(|| Value::zero(&f.ty)))
                .collect(),
        }
    }

    pub fn get(&self, class: &Class, field: &str) -> &Value {
        let pos = class.field_pos(field).unwrap_or_else(|| panic!("{}.{field} is not in the model", class.name));
        &self.fields[pos]
    }

    pub fn set(&mut self, class: &Class, field: &str, v: Value) {
        let pos = class.field_pos(field).unwrap_or_else(|| panic!("{}.{field} is not in the model", class.name));
        self.fields[pos] = v;
    }

    pub fn str(&self, class: &Class, field: &str) -> &str {
        self.get(class, field).as_str().unwrap_or("")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Seconds since the Unix epoch, UTC.
    DateTime(i64),
    Set(Vec<Value>),
    /// Ordered key/value pairs; keys are stringified on the wire.
    Map(Vec<(Value, Value)>),
    /// A record or other struct with named members, in order.
    Struct(Vec<(String, Value)>),
    /// An int that xapi sends as a typed `<i4>` (only `valid_ref_counts` of `event.from`).
    I4(i32),
    /// A stored record, encoded straight from the store's copy (a struct of every field by
    /// name): `get_record` and `get_all_records` answer without copying a single field.
    Record(RecordRef),
    /// A value with its XML-RPC encoding made once, for answers many callers share (one event
    /// delivered to every watcher).
    Encoded(Arc<Encoded>),
}

/// A value and its XML-RPC `<value>` fragment. Made by the XML-RPC codec, which alone knows the
/// encoding; the JSON-RPC codec encodes `value`.
pub struct Encoded {
    pub value: Value,
    pub xml: String,
}

impl PartialEq for Encoded {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl std::fmt::Debug for Encoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.value.fmt(f)
    }
}

/// A shared reference to a stored record and its class.
#[derive(Clone)]
pub struct RecordRef {
    pub class: &'static Class,
    pub rec: Arc<Record>,
}

impl PartialEq for RecordRef {
    fn eq(&self, other: &Self) -> bool {
        self.class.name == other.class.name && self.rec == other.rec
    }
}

impl std::fmt::Debug for RecordRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?}", self.class.name, self.rec.fields)
    }
}

pub const NULL_REF: &str = "OpaqueRef:NULL";

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }
    pub fn record(class: &'static Class, rec: Arc<Record>) -> Value {
        Value::Record(RecordRef { class, rec })
    }
    pub fn void() -> Value {
        Value::String(String::new())
    }
    pub fn null_ref() -> Value {
        Value::String(NULL_REF.to_string())
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The value a field of this type has when nobody set it.
    pub fn zero(ty: &Type) -> Value {
        match ty {
            Type::String | Type::Void => Value::void(),
            // The first value of the enumeration: every enum field then always holds a valid value.
            Type::Enum(name) => Value::String(model().enums.get(name).and_then(|v| v.first()).cloned().unwrap_or_default()),
            Type::Ref(_) => Value::null_ref(),
            Type::Int => Value::Int(0),
            Type::Float => Value::Float(0.0),
            Type::Bool => Value::Bool(false),
            Type::DateTime => Value::DateTime(0),
            Type::Set(_) => Value::Set(vec![]),
            Type::Map(..) => Value::Map(vec![]),
            Type::Record(_) | Type::EventBatch => Value::Struct(vec![]),
        }
    }

    /// Key of a map entry as it appears on the wire (XML-RPC struct member name, JSON key).
    pub fn key_string(&self) -> String {
        match self {
            Value::String(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::I4(i) => i.to_string(),
            Value::Float(f) => format_float(*f),
            Value::Bool(b) => b.to_string(),
            Value::DateTime(t) => time_fmt::format_xapi(*t),
            other => format!("{other:?}"),
        }
    }

    /// Converts an untyped wire value from a client into a value of type `ty`. `field` names the
    /// parameter or field for error messages. Strings XML 1.0 cannot carry are refused.
    pub fn from_wire(w: Wire, ty: &Type, field: &str) -> Result<Value, ApiError> {
        Self::typed(w, ty, field, Strings::XmlOnly)
    }

    /// Like [`Value::from_wire`], for what the store wrote itself: strings as they are, so that a
    /// record stored before strings were checked still loads (and is then repaired,
    /// `store::repair_unreadable_strings`).
    pub fn from_stored(w: Wire, ty: &Type, field: &str) -> Result<Value, ApiError> {
        Self::typed(w, ty, field, Strings::AsStored)
    }

    fn typed(w: Wire, ty: &Type, field: &str, strings: Strings) -> Result<Value, ApiError> {
        let type_error = || ApiError::new("FIELD_TYPE_ERROR", [field]);
        Ok(match ty {
            Type::String | Type::Ref(_) | Type::Void => match w {
                Wire::Str(s) if strings == Strings::AsStored => Value::String(s),
                Wire::Str(s) => Value::String(xml_safe(s, field)?),
                _ => return Err(type_error()),
            },
            Type::Enum(name) => match w {
                Wire::Str(s) => {
                    if let Some(values) = model().enums.get(name) {
                        if !values.iter().any(|v| *v == s) {
                            return Err(ApiError::new("INVALID_VALUE", [field, &s]));
                        }
                    }
                    Value::String(s)
                }
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
                    items.into_iter().map(|i| Value::typed(i, elem, field, strings)).collect::<Result<_, _>>()?,
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
                        let key = Value::typed(Wire::Str(k), kt, field, strings)?;
                        if !seen.insert(key.key_string()) {
                            return Err(ApiError::new("MAP_DUPLICATE_KEY", ["map", field, "", &key.key_string()]));
                        }
                        out.push((key, Value::typed(v, vt, field, strings)?));
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
                            Some(f) => out.push((k.clone(), Value::typed(v, &f.ty, &k, strings)?)),
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

    /// A value with no model type to guide it (members of records of classes outside the model).
    pub fn from_untyped(w: Wire) -> Value {
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

    /// The untyped wire form, as JSON-RPC would carry it; used to persist records as JSON.
    pub fn to_wire(&self) -> Wire {
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

/// Floats as xapi prints them (`%.16g`): shortest form that reads back the same in practice.
pub fn format_float(f: f64) -> String {
    if f.is_finite() && f == f.trunc() && f.abs() < 1e16 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// Which strings [`Value::typed`] accepts.
#[derive(Clone, Copy, PartialEq)]
enum Strings {
    /// From a client: only what XML 1.0 can carry.
    XmlOnly,
    /// From the store: as written.
    AsStored,
}

/// Whether XML 1.0 can carry `c` (its `Char` production): every stored string must be, or each
/// XML-RPC answer holding it would be malformed for every client (JSON-RPC can carry anything, so
/// the check is made here, on the typed value, for both protocols).
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

    #[test]
    fn floats_print_like_xapi() {
        assert_eq!(format_float(1.0), "1");
        assert_eq!(format_float(0.25), "0.25");
    }
}
