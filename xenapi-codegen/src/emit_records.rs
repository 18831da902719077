//! `class VM` → `pub struct VmRecord { ... }`, one typed field per model field, read from a
//! stored record or a record value.

use crate::names::{check_unique, snake};
use crate::types::{decode_call, record_struct, rust};
use crate::Model;
use std::fmt::Write;

pub fn emit(m: &Model) -> Result<String, String> {
    check_unique("classes", m.classes.iter().map(|c| (c.name.as_str(), record_struct(&c.name))))?;
    let mut out = String::from(
        "#![allow(clippy::all)]\n\nuse super::enums::*;\nuse crate::error::ApiError;\n\
         use crate::typed::{self, ClassName, Ref, TypedRecord};\nuse crate::value::{Record, Value};\n\n",
    );
    for c in &m.classes {
        check_unique(&format!("fields of {}", c.name), c.fields.iter().map(|f| (f.name.as_str(), snake(&f.name))))?;
        let ty = record_struct(&c.name);
        let _ = writeln!(out, "/// A record of class `{}`, each field typed as the model declares it.", c.name);
        let _ = writeln!(out, "#[derive(Debug, Clone, PartialEq)]\npub struct {ty} {{");
        for f in &c.fields {
            let _ = writeln!(out, "    /// `{}: {}`\n    pub {}: {},", f.name, f.ty, snake(&f.name), rust(m, &f.ty));
        }
        out.push_str("}\n\n");
        let _ = writeln!(out, "impl ClassName for {ty} {{ const CLASS: &'static str = {:?}; }}\n", c.name);
        let _ = writeln!(out, "impl {ty} {{");
        let _ = writeln!(out, "    /// Reads every field by name through `get`.");
        let _ = writeln!(out, "    fn from_fields(get: impl Fn(&str) -> Result<Value, ApiError>) -> Result<{ty}, ApiError> {{");
        let _ = writeln!(out, "        Ok({ty} {{");
        for f in &c.fields {
            let input = format!("get({:?})?", f.name);
            let _ = writeln!(out, "            {}: {}?,", snake(&f.name), decode_call(m, &f.ty, &input, &f.name));
        }
        out.push_str("        })\n    }\n\n");
        let _ = writeln!(out, "    /// From the store's record of a `{}`.", c.name);
        let _ = writeln!(
            out,
            "    pub fn from_record(rec: &Record) -> Result<{ty}, ApiError> {{\n        \
             let c = typed::class({:?})?;\n        {ty}::from_fields(|f| typed::field(c, rec, f))\n    }}\n",
            c.name
        );
        let _ = writeln!(out, "    /// From a record value: a stored record, or a struct (members left off take their zero value).");
        let _ = writeln!(
            out,
            "    pub fn from_value(v: &Value) -> Result<{ty}, ApiError> {{\n        let c = typed::class({:?})?;\n        match v {{\n            \
             Value::Record(r) if r.class.name == c.name => {ty}::from_record(&r.rec),\n            \
             Value::Struct(members) => {ty}::from_fields(|f| typed::member(c, members, f)),\n            \
             other => Err(ApiError::internal(format!(\"not a {} record: {{other:?}}\"))),\n        }}\n    }}\n}}\n",
            c.name, c.name
        );
        let _ = writeln!(
            out,
            "impl TypedRecord for {ty} {{\n    fn from_record(rec: &Record) -> Result<{ty}, ApiError> {{ {ty}::from_record(rec) }}\n    \
             fn from_value(v: &Value) -> Result<{ty}, ApiError> {{ {ty}::from_value(v) }}\n}}\n"
        );
    }
    Ok(out)
}
