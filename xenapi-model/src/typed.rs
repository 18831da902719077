//! The typed values of the model, shared by every layer: typed refs ([`Ref`]), the trait of the
//! generated enums ([`WireEnum`]) and records ([`TypedRecord`]), and the conversions between typed
//! Rust values and [`Value`]s that the generated code (`crate::generated`, and the server's and
//! the client's generated code) is built on. Nothing here knows the store, the wire or a server.
//!
//! A conversion that fails means the model and the generated code disagree (values reach it
//! already typed under the model: by the server's dispatcher, or by the client's
//! `Value::from_wire`), so it is an `INTERNAL_ERROR` naming the value, never a panic.

use crate::error::ApiError;
use crate::model::{model, Class};
use crate::value::{Record, Value, NULL_REF};
use std::fmt;
use std::marker::PhantomData;

/// A generated record struct names its class: what a [`Ref`] points at.
pub trait ClassName {
    const CLASS: &'static str;
}

/// A reference to an object of class `C` (`Ref<VmRecord>`): on the wire and in the store a plain
/// string (`OpaqueRef:...`), in Rust a type that cannot be passed where a ref of another class is
/// expected. It derefs to `&str`, so the store's and the backends' `&str` APIs take it as it is.
pub struct Ref<C> {
    r: String,
    class: PhantomData<fn() -> C>,
}

impl<C> Ref<C> {
    pub fn new(r: impl Into<String>) -> Self {
        Ref { r: r.into(), class: PhantomData }
    }
    /// `OpaqueRef:NULL`, the "none" of an optional ref.
    pub fn null() -> Self {
        Ref::new(NULL_REF)
    }
    pub fn is_null(&self) -> bool {
        self.r == NULL_REF
    }
    pub fn as_str(&self) -> &str {
        &self.r
    }
    pub fn into_string(self) -> String {
        self.r
    }
    /// The ref, or `None` for the null ref or an empty string.
    pub fn non_null(&self) -> Option<&str> {
        Some(self.r.as_str()).filter(|r| !r.is_empty() && *r != NULL_REF)
    }
}

impl<C> Clone for Ref<C> {
    fn clone(&self) -> Self {
        Ref::new(self.r.clone())
    }
}
impl<C> PartialEq for Ref<C> {
    fn eq(&self, other: &Self) -> bool {
        self.r == other.r
    }
}
impl<C> Eq for Ref<C> {}
impl<C> std::hash::Hash for Ref<C> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.r.hash(state)
    }
}
impl<C: ClassName> fmt::Debug for Ref<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", C::CLASS, self.r)
    }
}
impl<C> fmt::Display for Ref<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.r)
    }
}
impl<C> std::ops::Deref for Ref<C> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.r
    }
}
impl<C> AsRef<str> for Ref<C> {
    fn as_ref(&self) -> &str {
        &self.r
    }
}

/// A generated enum (`VmPowerState`): its wire names.
pub trait WireEnum: Sized + Copy + 'static {
    /// The enum's name in the model (`vm_power_state`).
    const MODEL_NAME: &'static str;
    fn wire_name(self) -> &'static str;
    fn from_wire(s: &str) -> Option<Self>;
}

/// A value that is not a name of the enum (`FromStr` of the generated enums).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEnumValue {
    pub enumeration: &'static str,
    pub value: String,
}

impl fmt::Display for UnknownEnumValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a value of enum {}", self.value, self.enumeration)
    }
}

impl std::error::Error for UnknownEnumValue {}

impl From<UnknownEnumValue> for ApiError {
    fn from(e: UnknownEnumValue) -> ApiError {
        ApiError::new("INVALID_VALUE", [e.enumeration, e.value.as_str()])
    }
}

fn mistyped(what: &str, v: &Value) -> ApiError {
    ApiError::internal(format!("{what}: the model's type and the generated code disagree ({v:?}); run `cargo run -p xenapi-codegen`"))
}

/// The next argument; a missing one takes `default` (the dispatcher fills defaults in already, so
/// that is for callers that build argument lists themselves).
pub fn next(args: &mut std::vec::IntoIter<Value>, what: &str, default: Option<fn() -> Value>) -> Result<Value, ApiError> {
    match (args.next(), default) {
        (Some(v), _) => Ok(v),
        (None, Some(d)) => Ok(d()),
        (None, None) => Err(ApiError::internal(format!("argument {what} missing after dispatch"))),
    }
}

pub fn string(v: Value, what: &str) -> Result<String, ApiError> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(mistyped(what, &other)),
    }
}

pub fn int(v: Value, what: &str) -> Result<i64, ApiError> {
    match v {
        Value::Int(i) => Ok(i),
        Value::I4(i) => Ok(i as i64),
        other => Err(mistyped(what, &other)),
    }
}

pub fn float(v: Value, what: &str) -> Result<f64, ApiError> {
    match v {
        Value::Float(f) => Ok(f),
        Value::Int(i) => Ok(i as f64),
        other => Err(mistyped(what, &other)),
    }
}

pub fn boolean(v: Value, what: &str) -> Result<bool, ApiError> {
    match v {
        Value::Bool(b) => Ok(b),
        other => Err(mistyped(what, &other)),
    }
}

/// Seconds since the Unix epoch, UTC.
pub fn datetime(v: Value, what: &str) -> Result<i64, ApiError> {
    match v {
        Value::DateTime(t) => Ok(t),
        other => Err(mistyped(what, &other)),
    }
}

pub fn reference<C>(v: Value, what: &str) -> Result<Ref<C>, ApiError> {
    string(v, what).map(Ref::new)
}

pub fn enumeration<E: WireEnum>(v: Value, what: &str) -> Result<E, ApiError> {
    let s = string(v, what)?;
    E::from_wire(&s).ok_or_else(|| ApiError::new("INVALID_VALUE", [what, s.as_str()]))
}

/// Any value as it is (records given to `create`, event batches).
pub fn value(v: Value, _what: &str) -> Result<Value, ApiError> {
    Ok(v)
}

pub fn set<T>(v: Value, what: &str, item: impl Fn(Value, &str) -> Result<T, ApiError>) -> Result<Vec<T>, ApiError> {
    match v {
        Value::Set(items) => items.into_iter().map(|i| item(i, what)).collect(),
        other => Err(mistyped(what, &other)),
    }
}

/// A map as its pairs, in the order the client or the store has them.
pub fn map<K, V>(
    v: Value,
    what: &str,
    key: impl Fn(Value, &str) -> Result<K, ApiError>,
    val: impl Fn(Value, &str) -> Result<V, ApiError>,
) -> Result<Vec<(K, V)>, ApiError> {
    match v {
        Value::Map(pairs) => pairs.into_iter().map(|(k, x)| Ok((key(k, what)?, val(x, what)?))).collect(),
        other => Err(mistyped(what, &other)),
    }
}

pub fn from_set<T>(items: Vec<T>, item: impl Fn(T) -> Value) -> Value {
    Value::Set(items.into_iter().map(item).collect())
}

pub fn from_map<K, V>(pairs: Vec<(K, V)>, key: impl Fn(K) -> Value, val: impl Fn(V) -> Value) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (key(k), val(v))).collect())
}

/// The class named `name`, which the generated code knows is in the model.
pub fn class(name: &str) -> Result<&'static Class, ApiError> {
    model().class(name).ok_or_else(|| ApiError::internal(format!("class {name} is not in the model; run `cargo run -p xenapi-codegen`")))
}

/// A field of a stored record, by name.
pub fn field(c: &Class, rec: &Record, name: &str) -> Result<Value, ApiError> {
    c.field_pos(name)
        .and_then(|i| rec.fields.get(i))
        .cloned()
        .ok_or_else(|| ApiError::internal(format!("{}.{name} is not in the model; run `cargo run -p xenapi-codegen`", c.name)))
}

/// A member of a struct value by name; a record given by a client may leave members off, which
/// then take their zero value.
pub fn member(c: &Class, members: &[(String, Value)], name: &str) -> Result<Value, ApiError> {
    match members.iter().find(|(k, _)| k == name) {
        Some((_, v)) => Ok(v.clone()),
        None => {
            let f = c.field(name).ok_or_else(|| ApiError::internal(format!("{}.{name} is not in the model", c.name)))?;
            Ok(f.default.clone().unwrap_or_else(|| Value::zero(&f.ty)))
        }
    }
}


/// A generated record struct (`VmRecord`): read from a stored record or a record value.
pub trait TypedRecord: ClassName + Sized {
    fn from_record(rec: &Record) -> Result<Self, ApiError>;
    fn from_value(v: &Value) -> Result<Self, ApiError>;
}

/// A record value as its generated struct (records in answers: `get_record`, `get_all_records`).
pub fn record<R: TypedRecord>(v: Value, _what: &str) -> Result<R, ApiError> {
    R::from_value(&v)
}

/// What a typed call takes where the model says `C ref`: a [`Ref<C>`] (of that class only), or a
/// plain `&str`/`String` for callers that hold refs untyped (the CIM providers' cache).
pub trait RefArg<C> {
    fn ref_str(&self) -> &str;
}

impl<C> RefArg<C> for Ref<C> {
    fn ref_str(&self) -> &str {
        &self.r
    }
}
impl<C> RefArg<C> for &Ref<C> {
    fn ref_str(&self) -> &str {
        &self.r
    }
}
impl<C> RefArg<C> for &str {
    fn ref_str(&self) -> &str {
        self
    }
}
impl<C> RefArg<C> for String {
    fn ref_str(&self) -> &str {
        self
    }
}
impl<C> RefArg<C> for &String {
    fn ref_str(&self) -> &str {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Thing;
    impl ClassName for Thing {
        const CLASS: &'static str = "thing";
    }

    #[test]
    fn refs_deref_to_their_string_and_know_null() {
        let r: Ref<Thing> = Ref::new("OpaqueRef:1");
        let s: &str = &r;
        assert_eq!(s, "OpaqueRef:1");
        assert_eq!(format!("{r:?}"), "thing OpaqueRef:1");
        assert!(Ref::<Thing>::null().is_null() && Ref::<Thing>::null().non_null().is_none());
        assert_eq!(r.non_null(), Some("OpaqueRef:1"));
        fn takes(r: impl RefArg<Thing>) -> String {
            r.ref_str().to_string()
        }
        assert_eq!(takes(&r), "OpaqueRef:1");
        assert_eq!(takes("OpaqueRef:2"), "OpaqueRef:2");
    }

    #[test]
    fn conversions_fail_with_an_internal_error_not_a_panic() {
        let e = string(Value::Int(1), "label").unwrap_err();
        assert_eq!(e.code, "INTERNAL_ERROR");
        assert!(e.params[0].starts_with("label:"));
        let m = map(Value::Map(vec![(Value::str("k"), Value::Int(2))]), "m", string, int).unwrap();
        assert_eq!(m, vec![("k".to_string(), 2)]);
        assert_eq!(set(Value::Set(vec![Value::Bool(true)]), "s", boolean).unwrap(), vec![true]);
        let mut none = Vec::new().into_iter();
        assert_eq!(next(&mut none, "x", Some(|| Value::Bool(false))).unwrap(), Value::Bool(false));
        assert_eq!(next(&mut none, "x", None).unwrap_err().code, "INTERNAL_ERROR");
    }
}
