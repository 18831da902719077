//! Model types as Rust types, and the expressions that convert between them and `Value`s.
//!
//! Choices: refs are `Ref<XRecord>` (a ref of one class cannot be passed as another's; it derefs
//! to `&str` for the store); sets are `Vec`; maps are `Vec<(K, V)>`, which keeps the order the
//! client or the store has (a `BTreeMap` would reorder a map read and written back, and clients
//! see map order in records); `datetime` is `i64` seconds since the epoch, as `Value::DateTime`;
//! records given to messages (`create`'s argument) and event batches stay `Value` (a record
//! argument may leave fields off, which a typed record cannot say).

use crate::names::camel;
use crate::{Model, Type};

/// The record struct of a class (`VmRecord`), which also marks refs to it.
pub fn record_struct(class: &str) -> String {
    format!("{}Record", camel(class))
}

fn known_class(m: &Model, c: &str) -> bool {
    m.class(c).is_some()
}

fn known_enum(m: &Model, e: &str) -> bool {
    m.enums.contains_key(e)
}

pub fn rust(m: &Model, ty: &Type) -> String {
    match ty {
        Type::String => "String".into(),
        Type::Int | Type::DateTime => "i64".into(),
        Type::Float => "f64".into(),
        Type::Bool => "bool".into(),
        Type::Void => "()".into(),
        Type::Ref(c) if known_class(m, c) => format!("Ref<{}>", record_struct(c)),
        Type::Ref(_) => "String".into(),
        Type::Enum(e) if known_enum(m, e) => camel(e),
        Type::Enum(_) => "String".into(),
        Type::Set(t) => format!("Vec<{}>", rust(m, t)),
        Type::Map(k, v) => format!("Vec<({}, {})>", rust(m, k), rust(m, v)),
        Type::Record(_) | Type::EventBatch => "Value".into(),
    }
}

/// A callable `Fn(Value, &str) -> Result<T, ApiError>` for `ty`.
pub fn decode_fn(m: &Model, ty: &Type) -> String {
    match ty {
        Type::String | Type::Void => "typed::string".into(),
        Type::Int => "typed::int".into(),
        Type::DateTime => "typed::datetime".into(),
        Type::Float => "typed::float".into(),
        Type::Bool => "typed::boolean".into(),
        Type::Ref(c) if known_class(m, c) => format!("typed::reference::<{}>", record_struct(c)),
        Type::Ref(_) => "typed::string".into(),
        Type::Enum(e) if known_enum(m, e) => format!("typed::enumeration::<{}>", camel(e)),
        Type::Enum(_) => "typed::string".into(),
        Type::Set(t) => format!("|v: Value, w: &str| typed::set(v, w, {})", decode_fn(m, t)),
        Type::Map(k, v) => format!("|v: Value, w: &str| typed::map(v, w, {}, {})", decode_fn(m, k), decode_fn(m, v)),
        Type::Record(_) | Type::EventBatch => "typed::value".into(),
    }
}

/// An expression `Result<T, ApiError>` decoding `input` (a `Value`), `what` naming it in errors.
pub fn decode_call(m: &Model, ty: &Type, input: &str, what: &str) -> String {
    match ty {
        Type::Set(t) => format!("typed::set({input}, {what:?}, {})", decode_fn(m, t)),
        Type::Map(k, v) => format!("typed::map({input}, {what:?}, {}, {})", decode_fn(m, k), decode_fn(m, v)),
        _ => format!("{}({input}, {what:?})", decode_fn(m, ty)),
    }
}

/// A callable `fn(T) -> Value` for `ty` (non-capturing, so it coerces to a fn pointer).
pub fn encode_fn(m: &Model, ty: &Type) -> String {
    match ty {
        Type::Void => "|_: ()| Value::void()".into(),
        Type::String => "Value::String".into(),
        Type::Int => "Value::Int".into(),
        Type::DateTime => "Value::DateTime".into(),
        Type::Float => "Value::Float".into(),
        Type::Bool => "Value::Bool".into(),
        Type::Ref(c) if known_class(m, c) => format!("|r: {}| Value::String(r.into_string())", rust(m, ty)),
        Type::Enum(e) if known_enum(m, e) => format!("|e: {}| Value::str(e.wire_name())", camel(e)),
        Type::Ref(_) | Type::Enum(_) => "Value::String".into(),
        Type::Set(t) => format!("|s: {}| typed::from_set(s, {})", rust(m, ty), encode_fn(m, t)),
        Type::Map(k, v) => format!("|p: {}| typed::from_map(p, {}, {})", rust(m, ty), encode_fn(m, k), encode_fn(m, v)),
        Type::Record(_) | Type::EventBatch => "|v: Value| v".into(),
    }
}
