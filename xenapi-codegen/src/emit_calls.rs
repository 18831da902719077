//! The client's typed calls: per class a module (`calls::vm`), per message a function that
//! encodes the call and knows how to decode its answer:
//!
//! ```text
//! message start(vm: VM ref, start_paused: bool = false, force: bool = false) -> void
//!   → pub fn start(vm: impl RefArg<VmRecord>, start_paused: bool, force: bool) -> Call<()>
//!   → pub fn async_start(...) -> Call<Ref<TaskRecord>>      (the model says it has Async.)
//! ```
//!
//! Every declared message that takes a session, and the implicit messages of every stored class
//! as the server's dispatcher (`xenapi-core/src/dispatch/implicit.rs`) makes them: lookups,
//! `get_<field>`, `set_<field>` of settable fields, map and set operations, `create`, `destroy`.
//! A declared message of the same name replaces the implicit one.

use crate::names::{check_unique, snake};
use crate::types::{encode_fn, record_struct, rust};
use crate::{signature, Class, Message, Model, Type};
use std::fmt::Write;
use xenapi_model::model::{Lifecycle, Param, Role};

pub const HEADER: &str = "Typed calls of every XenAPI message of the data model, for the async `Session` and for blocking callers alike.\n\
//!\n\
//! One definition per message: `calls::vm::start(&vm, false, false)` builds a [`Call`] (the method\n\
//! name, the encoded arguments and the decoder of the answer, typed by the model); the caller runs\n\
//! it: `session.run(call).await` on the async client, `caller.run(call)` on anything that implements\n\
//! the blocking [`Caller`] trait (the CIM providers' `Backend`). Messages the model marks as having\n\
//! an async form also get `async_<name>`, which calls `Async.<class>.<name>` and answers a task ref.\n\
//! Arguments of type `C ref` take `impl RefArg<CRecord>`: a `Ref<CRecord>` (of that class only) or a\n\
//! plain `&str`/`String`.";

/// The implicit messages of `class`, as the dispatcher registers them.
fn implicit(class: &Class) -> Vec<Message> {
    if !class.is_stored() {
        return vec![];
    }
    let me = Type::Ref(class.name.clone());
    let record = Type::Record(class.name.clone());
    let p = |name: &str, ty: Type| Param { name: name.to_string(), ty, default: None };
    let this = || p("self", me.clone());
    let msg = |name: String, params: Vec<Param>, result: Type, has_async: bool| Message {
        name,
        params,
        result,
        has_async,
        needs_session: true,
        role: Role::ReadOnly,
        lifecycle: Lifecycle::Published,
        errors: vec![],
    };
    let lookup = |n: &str| class.has_implicit(n) || class.name == "message";
    let set_of_me = Type::Set(Box::new(me.clone()));
    let all_records = Type::Map(Box::new(me.clone()), Box::new(record.clone()));
    let mut out = vec![];
    if lookup("get_record") {
        out.push(msg("get_record".into(), vec![this()], record.clone(), false));
    }
    if lookup("get_by_uuid") {
        out.push(msg("get_by_uuid".into(), vec![p("uuid", Type::String)], me.clone(), false));
    }
    if class.has_implicit("get_by_name_label") {
        out.push(msg("get_by_name_label".into(), vec![p("label", Type::String)], set_of_me.clone(), false));
    }
    if lookup("get_all") {
        out.push(msg("get_all".into(), vec![], set_of_me.clone(), false));
    }
    if lookup("get_all_records") {
        out.push(msg("get_all_records".into(), vec![], all_records.clone(), false));
    }
    if lookup("get_all_records_where") {
        out.push(msg("get_all_records_where".into(), vec![p("expr", Type::String)], all_records, false));
        out.push(msg("get_all_where".into(), vec![p("expr", Type::String)], set_of_me, false));
    }
    if class.name != "message" {
        // A removed field keeps its getter on the server (it answers MESSAGE_REMOVED), so it
        // keeps its call too, marked removed (`#[deprecated]`).
        for f in &class.fields {
            let mut getter = msg(format!("get_{}", f.name), vec![this()], f.ty.clone(), false);
            getter.lifecycle = f.lifecycle;
            out.push(getter);
        }
        for name in &class.setters {
            let Some(f) = class.field(name) else { continue };
            out.push(msg(format!("set_{name}"), vec![this(), p("value", f.ty.clone())], Type::Void, false));
        }
        for name in &class.map_ops {
            let Some(Type::Map(k, v)) = class.field(name).map(|f| f.ty.clone()) else { continue };
            out.push(msg(format!("add_to_{name}"), vec![this(), p("key", *k.clone()), p("value", *v)], Type::Void, false));
            out.push(msg(format!("remove_from_{name}"), vec![this(), p("key", *k)], Type::Void, false));
        }
        for name in &class.set_ops {
            let Some(Type::Set(e)) = class.field(name).map(|f| f.ty.clone()) else { continue };
            for verb in ["add", "remove"] {
                out.push(msg(format!("{verb}_{name}"), vec![this(), p("value", *e.clone())], Type::Void, false));
            }
        }
    }
    if class.has_implicit("create") {
        out.push(msg("create".into(), vec![p("args", record)], me.clone(), true));
    }
    if class.has_implicit("destroy") {
        out.push(msg("destroy".into(), vec![this()], Type::Void, true));
    }
    out
}

/// The messages a class gets calls for: the declared ones (taking a session, not removed), then
/// the implicit ones the declared ones do not replace.
fn messages(class: &Class) -> Vec<(Message, bool)> {
    let declared: Vec<(Message, bool)> = class
        .messages
        .iter()
        .filter(|m| m.needs_session && m.lifecycle != Lifecycle::Removed)
        .map(|m| (m.clone(), true))
        .collect();
    let implicit = implicit(class).into_iter().filter(|m| class.message(&m.name).is_none()).map(|m| (m, false));
    declared.into_iter().chain(implicit).collect()
}

/// The type of a parameter in a call's signature.
fn param_type(m: &Model, ty: &Type) -> String {
    match ty {
        Type::Ref(c) if m.class(c).is_some() => format!("impl RefArg<{}>", record_struct(c)),
        Type::String | Type::Ref(_) => "&str".into(),
        Type::Enum(e) if !m.enums.contains_key(e) => "&str".into(),
        _ => rust(m, ty),
    }
}

/// The expression that makes parameter `name` of type `ty` a `Value`.
fn encode_param(m: &Model, ty: &Type, name: &str) -> String {
    match ty {
        Type::Ref(c) if m.class(c).is_some() => format!("Value::str({name}.ref_str())"),
        Type::String | Type::Ref(_) => format!("Value::str({name})"),
        Type::Enum(e) if !m.enums.contains_key(e) => format!("Value::str({name})"),
        Type::Record(_) | Type::EventBatch => name.to_string(),
        Type::Bool => format!("Value::Bool({name})"),
        Type::Int => format!("Value::Int({name})"),
        Type::Float => format!("Value::Float({name})"),
        Type::DateTime => format!("Value::DateTime({name})"),
        Type::Enum(_) => format!("Value::str({name}.wire_name())"),
        _ => format!("({})({name})", encode_fn(m, ty)),
    }
}

/// A callable `Fn(Value, &str) -> Result<T, ApiError>` decoding an answer of type `ty`: as the
/// server's argument decoding, but records of model classes become their record structs.
fn decode_fn(m: &Model, ty: &Type) -> String {
    match ty {
        Type::Record(c) if m.class(c).is_some() => format!("typed::record::<{}>", record_struct(c)),
        Type::Set(t) => format!("|v: Value, w: &str| typed::set(v, w, {})", decode_fn(m, t)),
        Type::Map(k, v) => format!("|v: Value, w: &str| typed::map(v, w, {}, {})", decode_fn(m, k), decode_fn(m, v)),
        _ => crate::types::decode_fn(m, ty),
    }
}

/// The Rust type of an answer of type `ty`.
fn result_type(m: &Model, ty: &Type) -> String {
    match ty {
        Type::Record(c) if m.class(c).is_some() => record_struct(c),
        Type::Set(t) => format!("Vec<{}>", result_type(m, t)),
        Type::Map(k, v) => format!("Vec<({}, {})>", result_type(m, k), result_type(m, v)),
        _ => rust(m, ty),
    }
}

/// A model type as a Rust expression building it (what the answer is typed under).
fn type_expr(ty: &Type) -> String {
    match ty {
        Type::String => "Type::String".into(),
        Type::Int => "Type::Int".into(),
        Type::Float => "Type::Float".into(),
        Type::Bool => "Type::Bool".into(),
        Type::DateTime => "Type::DateTime".into(),
        Type::Void => "Type::Void".into(),
        Type::EventBatch => "Type::EventBatch".into(),
        Type::Ref(c) => format!("Type::Ref({c:?}.into())"),
        Type::Enum(e) => format!("Type::Enum({e:?}.into())"),
        Type::Record(c) => format!("Type::Record({c:?}.into())"),
        Type::Set(t) => format!("Type::Set(Box::new({}))", type_expr(t)),
        Type::Map(k, v) => format!("Type::Map(Box::new({}), Box::new({}))", type_expr(k), type_expr(v)),
    }
}

/// The decoder of an answer: `fn(Wire) -> Result<T, ClientError>`.
fn decoder(m: &Model, ty: &Type, method: &str) -> String {
    match ty {
        Type::Void => "|_| Ok(())".into(),
        Type::EventBatch => "|w| Ok(Value::from_untyped(w))".into(),
        Type::Record(c) if m.class(c).is_none() => "|w| Ok(Value::from_untyped(w))".into(),
        _ => format!("|w| answer(w, &{}, {method:?}, {})", type_expr(ty), decode_fn(m, ty)),
    }
}

fn emit_fn(out: &mut String, m: &Model, class: &Class, msg: &Message, declared: bool, asynchronous: bool) {
    let method = format!("{}{}.{}", if asynchronous { "Async." } else { "" }, class.name, msg.name);
    let doc = if declared { signature(class, msg) } else { format!("`{}.{}`, implicit", class.name, msg.name) };
    let (name, result, dec) = if asynchronous {
        (format!("async_{}", snake(&msg.name)), "Ref<TaskRecord>".to_string(), decoder(m, &Type::Ref("task".into()), &method))
    } else {
        (snake(&msg.name), result_type(m, &msg.result), decoder(m, &msg.result, &method))
    };
    let params: Vec<String> =
        msg.params.iter().map(|p| format!("{}: {}", snake(&p.name), param_type(m, &p.ty))).collect();
    let args: Vec<String> = msg.params.iter().map(|p| encode_param(m, &p.ty, &snake(&p.name))).collect();
    if asynchronous {
        let _ = writeln!(out, "/// {doc}, as `{method}`: answers the task that runs it.");
    } else {
        let _ = writeln!(out, "/// {doc}");
    }
    if msg.lifecycle == Lifecycle::Removed {
        let _ = writeln!(out, "#[deprecated(note = \"removed from the XenAPI: the server answers MESSAGE_REMOVED\")]");
    }
    let _ = writeln!(
        out,
        "pub fn {name}({}) -> Call<{result}> {{\n    Call::new({method:?}, vec![{}], {dec})\n}}\n",
        params.join(", "),
        args.join(", ")
    );
}

pub fn emit(m: &Model) -> Result<String, String> {
    let mut out = String::from(
        "#![allow(clippy::all, unused_imports, deprecated)]\n\nuse crate::call::{answer, Call};\n\
         pub use crate::call::Caller;\n",
    );
    check_unique("class modules", m.classes.iter().map(|c| (c.name.as_str(), snake(&c.name))))?;
    // Every method name a call sends, so that a test can hold them against the server's
    // dispatch table (the implicit messages here mirror it).
    out.push_str("\n/// Every method a generated call sends (`Async.` forms included), in the model's order.\npub const METHODS: &[&str] = &[\n");
    for c in &m.classes {
        for (msg, _) in messages(c) {
            let _ = writeln!(out, "    \"{}.{}\",", c.name, msg.name);
            if msg.has_async {
                let _ = writeln!(out, "    \"Async.{}.{}\",", c.name, msg.name);
            }
        }
    }
    out.push_str("];\n");
    for c in &m.classes {
        let msgs = messages(c);
        let names = msgs.iter().flat_map(|(msg, _)| {
            let plain = (msg.name.as_str(), snake(&msg.name));
            let asynchronous = msg.has_async.then(|| (msg.name.as_str(), format!("async_{}", snake(&msg.name))));
            std::iter::once(plain).chain(asynchronous)
        });
        check_unique(&format!("calls of {}", c.name), names)?;
        let _ = writeln!(out, "\n/// The calls of class `{}`.\npub mod {} {{", c.name, snake(&c.name));
        out.push_str(
            "use super::*;\nuse xenapi_model::generated::*;\nuse xenapi_model::model::Type;\n\
             use xenapi_model::typed::{self, RefArg, Ref};\nuse xenapi_model::Value;\nuse xenapi_wire::WireValue;\n\n",
        );
        for (msg, declared) in &msgs {
            emit_fn(&mut out, m, c, msg, *declared, false);
            if msg.has_async {
                emit_fn(&mut out, m, c, msg, *declared, true);
            }
        }
        out.push_str("}\n");
    }
    Ok(out)
}
