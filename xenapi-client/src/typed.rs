//! The typed layer, for every class of the data model at once (no per-class code): the model
//! says which messages a class has and what type each field is, so answers come back as
//! [`Value`]s of the right type (ints as `Value::Int` although they travel as strings, enums
//! checked against their values, datetimes parsed, maps with typed keys) and mistakes such as a
//! misspelt field are caught before anything is sent.
//!
//! ```text
//! session.get_record("VM", vm)   →  VM.get_record(s, vm)
//!   <member><name>memory_static_max</name><value>4294967296</value></member>
//!   → rec.get("memory_static_max") == Some(&Value::Int(4294967296))
//! session.set_field("VM", vm, "name_label", Value::str("web"))  →  VM.set_name_label(s, vm, "web")
//! session.create("VM", fields)   →  VM.create(s, {name_label: …, memory_static_max: …, …})
//! ```

use super::error::{ClientError, Result};
use super::Session;
use std::borrow::Cow;
use xenapi_wire::xmlrpc::records;
use xenapi_model::model::{model, Class, Qualifier, Type};
use xenapi_wire::{Wire, WireValue};
use xenapi_model::typed::ClassName;
use xenapi_model::value::Value;

/// One object's fields as the server sent them (every field, in the server's order), typed by
/// the model; members the model does not know (a newer server) are kept untyped.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectRecord {
    class: &'static str,
    /// The model's own name for a field of the model (10,000 records of 90 fields are not
    /// 900,000 copies of the same names), the name sent for any other member.
    fields: Vec<(Cow<'static, str>, Value)>,
}

impl ObjectRecord {
    /// Types a record struct of `class`.
    pub fn from_wire(class: &'static Class, members: Vec<(String, Wire)>) -> Result<ObjectRecord> {
        let mut fields = Vec::with_capacity(members.len());
        for (i, (name, w)) in members.into_iter().enumerate() {
            // Servers send fields in model order, so the i-th field is almost always the one.
            let f = match class.fields.get(i) {
                Some(f) if f.name == name => Some(f),
                _ => class.field(&name),
            };
            let field = match f {
                Some(f) => (Cow::Borrowed(f.name.as_str()), typed(w, &f.ty, &class.name, &name)?),
                None => (Cow::Owned(name), Value::from_untyped(w)),
            };
            fields.push(field);
        }
        Ok(ObjectRecord { class: &class.name, fields })
    }

    pub fn class(&self) -> &'static str {
        self.class
    }

    pub fn get(&self, field: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| k == field).map(|(_, v)| v)
    }

    /// A string, ref or enum field; `""` if absent or of another type.
    pub fn str(&self, field: &str) -> &str {
        self.get(field).and_then(Value::as_str).unwrap_or("")
    }

    pub fn int(&self, field: &str) -> Option<i64> {
        self.get(field).and_then(Value::as_int)
    }

    pub fn bool(&self, field: &str) -> Option<bool> {
        self.get(field).and_then(Value::as_bool)
    }

    pub fn fields(&self) -> &[(Cow<'static, str>, Value)] {
        &self.fields
    }

    pub fn into_fields(self) -> Vec<(String, Value)> {
        self.fields.into_iter().map(|(k, v)| (k.into_owned(), v)).collect()
    }
}

/// The records of a `<class>.get_all_records` answer body (the whole `methodResponse`), typed:
/// what [`Session::get_all_records`] does with the bytes it received.
pub fn decode_all_records(class: &str, body: &[u8]) -> Result<Vec<(String, ObjectRecord)>> {
    all_records_body(stored_class(class)?, body)
}

/// Through the fast path for the usual answer (`records`: straight from the body into typed
/// fields), else the general one, which also gives the error of a failure or an unexpected body.
fn all_records_body(c: &'static Class, body: &[u8]) -> Result<Vec<(String, ObjectRecord)>> {
    if let Some(all) = records::decode_all_records(body, c) {
        return Ok(all.into_iter().map(|(r, fields)| (r, ObjectRecord { class: &c.name, fields })).collect());
    }
    all_records(c, crate::decode_answer(body)?)
}

fn all_records(c: &'static Class, w: Wire) -> Result<Vec<(String, ObjectRecord)>> {
    match w {
        Wire::Struct(members) => members
            .into_iter()
            .map(|(r, rec)| match rec {
                Wire::Struct(fields) => Ok((r, ObjectRecord::from_wire(c, fields)?)),
                other => Err(ClientError::Protocol(format!("record of {r} is {other:?}"))),
            })
            .collect(),
        other => Err(ClientError::Protocol(format!("{}.get_all_records answered {other:?}", c.name))),
    }
}

fn typed(w: Wire, ty: &Type, class: &str, what: &str) -> Result<Value> {
    Value::from_wire(w, ty, what).map_err(|e| ClientError::Protocol(format!("{class}.{what} does not fit its model type {ty}: {e}")))
}

/// The class, if the model has it and it is a stored class (every class but `event`).
fn stored_class(name: &str) -> Result<&'static Class> {
    model()
        .class(name)
        .filter(|c| c.is_stored())
        .ok_or_else(|| ClientError::Model(format!("{name} is not a class of the data model")))
}

fn field<'c>(class: &'c Class, name: &str) -> Result<&'c xenapi_model::model::Field> {
    class.field(name).ok_or_else(|| ClientError::Model(format!("{} has no field {name}", class.name)))
}

fn expect_string(w: Wire, what: &str) -> Result<String> {
    match w {
        Wire::Str(s) => Ok(s),
        other => Err(ClientError::Protocol(format!("{what} answered {other:?}, not a string"))),
    }
}

/// A record answer (`get_record`) as an [`ObjectRecord`] of the class of `C` (a generated record
/// struct): `calls::task::get_record(r).decode_with(object_record::<TaskRecord>)`.
pub fn object_record<C: ClassName>(w: Wire) -> Result<ObjectRecord> {
    let c = stored_class(C::CLASS)?;
    match w {
        Wire::Struct(fields) => ObjectRecord::from_wire(c, fields),
        other => Err(ClientError::Protocol(format!("{}.get_record answered {other:?}", c.name))),
    }
}

/// A `get_all_records` answer as refs and [`ObjectRecord`]s of the class of `C`, in the
/// server's order.
pub fn object_records<C: ClassName>(w: Wire) -> Result<Vec<(String, ObjectRecord)>> {
    all_records(stored_class(C::CLASS)?, w)
}

impl Session {
    /// `<class>.get_all`: every ref.
    pub async fn get_all(&self, class: &str) -> Result<Vec<String>> {
        let c = stored_class(class)?;
        match self.call(&format!("{}.get_all", c.name), vec![]).await? {
            Wire::Array(items) => items.into_iter().map(|i| expect_string(i, "get_all")).collect(),
            other => Err(ClientError::Protocol(format!("{class}.get_all answered {other:?}"))),
        }
    }

    /// `<class>.get_all_records`: every object with its typed record, in the server's order.
    pub async fn get_all_records(&self, class: &str) -> Result<Vec<(String, ObjectRecord)>> {
        let c = stored_class(class)?;
        self.call_with(&format!("{}.get_all_records", c.name), vec![], |body| all_records_body(c, body)).await
    }

    /// `<class>.get_record(ref)`.
    pub async fn get_record(&self, class: &str, r: &str) -> Result<ObjectRecord> {
        let c = stored_class(class)?;
        self.call_with(&format!("{}.get_record", c.name), vec![Value::str(r)], |body| {
            if let Some(fields) = records::decode_record(body, c) {
                return Ok(ObjectRecord { class: &c.name, fields });
            }
            match crate::decode_answer(body)? {
                Wire::Struct(fields) => ObjectRecord::from_wire(c, fields),
                other => Err(ClientError::Protocol(format!("{class}.get_record answered {other:?}"))),
            }
        })
        .await
    }

    /// `<class>.get_<field>(ref)`, typed by the field's model type.
    pub async fn get_field(&self, class: &str, r: &str, name: &str) -> Result<Value> {
        let c = stored_class(class)?;
        let f = field(c, name)?;
        let w = self.call(&format!("{}.get_{name}", c.name), vec![Value::str(r)]).await?;
        typed(w, &f.ty, &c.name, name)
    }

    /// `<class>.set_<field>(ref, value)`; only fields the model declares settable.
    pub async fn set_field(&self, class: &str, r: &str, name: &str, value: Value) -> Result<()> {
        let c = stored_class(class)?;
        field(c, name)?;
        if !c.setters.iter().any(|s| s == name) {
            return Err(ClientError::Model(format!("{}.{name} has no setter", c.name)));
        }
        self.call(&format!("{}.set_{name}", c.name), vec![Value::str(r), value]).await?;
        Ok(())
    }

    /// `<class>.create({field: value, …})` → the new object's ref. Every field given must be one
    /// the constructor takes (RW or RO_c); fields left out take their model defaults on the
    /// server, which answers `INTERNAL_ERROR` for a missing required one.
    pub async fn create(&self, class: &str, fields: Vec<(String, Value)>) -> Result<String> {
        let c = stored_class(class)?;
        if !c.has_implicit("create") {
            return Err(ClientError::Model(format!("{} has no create message", c.name)));
        }
        for (name, _) in &fields {
            if field(c, name)?.qualifier == Qualifier::RoRuntime {
                return Err(ClientError::Model(format!("{}.{name} is kept by the server; create does not take it", c.name)));
            }
        }
        let w = self.call(&format!("{}.create", c.name), vec![Value::Struct(fields)]).await?;
        expect_string(w, "create")
    }

    /// `<class>.destroy(ref)`.
    pub async fn destroy(&self, class: &str, r: &str) -> Result<()> {
        let c = stored_class(class)?;
        self.call(&format!("{}.destroy", c.name), vec![Value::str(r)]).await?;
        Ok(())
    }

    /// A custom message of the model (`VM.start`, `host.get_servertime`, …), its result typed by
    /// the message's declared result type. Arguments are not checked here; the server does it.
    pub async fn call_message(&self, class: &str, message: &str, args: Vec<Value>) -> Result<Value> {
        let c = model().class(class).ok_or_else(|| ClientError::Model(format!("{class} is not a class of the data model")))?;
        let m = c.message(message).ok_or_else(|| ClientError::Model(format!("{class}.{message} is not in the data model")))?;
        let w = self.call(&format!("{class}.{message}"), args).await?;
        match &m.result {
            Type::EventBatch => Ok(Value::from_untyped(w)),
            ty => typed(w, ty, class, message),
        }
    }

    /// `event.from(classes, token, timeout)`, the answer as sent
    /// (`{events: [...], valid_ref_counts: {...}, token: "..."}`); the server may block up to
    /// `timeout` seconds, so keep any client request timeout above it.
    pub async fn event_from(&self, classes: &[&str], token: &str, timeout: f64) -> Result<Wire> {
        let classes = Value::Set(classes.iter().map(|c| Value::str(*c)).collect());
        self.call("event.from", vec![classes, Value::str(token), Value::Float(timeout)]).await
    }
}
