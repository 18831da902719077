//! Typed XenAPI values. Their conversion from and to the untyped values of the wire is the wire
//! crate's (`xenapi_wire::WireValue`); this crate knows no wire format.
//!
//! Strings, refs and enum values are all `Value::String` (they look the same on both wires);
//! the model type says which is which where it matters.

use crate::model::{model, Class, Type};
use crate::time_fmt;
use std::sync::Arc;

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
}

/// Floats as xapi prints them (`%.16g`): shortest form that reads back the same in practice.
pub fn format_float(f: f64) -> String {
    if f.is_finite() && f == f.trunc() && f.abs() < 1e16 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_xapi() {
        assert_eq!(format_float(1.0), "1");
        assert_eq!(format_float(0.25), "0.25");
    }
}
