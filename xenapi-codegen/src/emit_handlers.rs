//! Per class: `trait VmMessages` with one method per implemented custom message (typed arguments
//! in, typed result out; a waiting one returns a `Reply` future), `register_vm::<H>` binding each
//! on the dispatcher, and `UNIMPLEMENTED` (the list, which the dispatcher binds to NOT_IMPLEMENTED,
//! `dispatch::unimplemented`). A message that is neither in the trait nor on the list cannot exist: adding
//! one to the model adds a trait method, and every implementor fails to compile until it has it.

use crate::emit_args::args_struct;
use crate::names::{camel, check_unique, snake};
use crate::types::{encode_fn, rust};
use crate::{signature, Binding, Inputs, Model};
use std::fmt::Write;

pub fn emit(m: &Model, inputs: &Inputs) -> Result<String, String> {
    let mut out = String::from(
        "#![allow(clippy::all, unused_imports)]\n\nuse super::args::*;\nuse super::enums::*;\nuse super::records::*;\n\
         use crate::dispatch::{Ctx, Dispatcher};\nuse crate::error::ApiError;\n\
         use crate::typed::{self, MessageArgs, Reply, Ref};\nuse crate::value::Value;\n\n",
    );
    out.push_str("/// Declared messages this server does not implement, with the reason (`xenapi-core/model/unimplemented.txt`).\n");
    out.push_str("pub const UNIMPLEMENTED: &[(&str, &str)] = &[\n");
    for (name, reason) in inputs.unimplemented.entries() {
        let _ = writeln!(out, "    ({name:?}, {reason:?}),");
    }
    out.push_str("];\n\n");
    for c in &m.classes {
        let methods: Vec<_> = c
            .messages
            .iter()
            .filter_map(|msg| match inputs.binding(c, msg) {
                b @ (Binding::Sync | Binding::Async) => Some((msg, b)),
                _ => None,
            })
            .collect();
        if methods.is_empty() {
            continue;
        }
        check_unique(&format!("methods of {}", c.name), methods.iter().map(|(msg, _)| (msg.name.as_str(), snake(&msg.name))))?;
        let tr = format!("{}Messages", camel(&c.name));
        let _ = writeln!(out, "/// The implemented custom messages of class `{}`.", c.name);
        let _ = writeln!(out, "pub trait {tr} {{");
        for (msg, b) in &methods {
            let args = args_struct(c, msg);
            let result = rust(m, &msg.result);
            let _ = writeln!(out, "    /// {}", signature(c, msg));
            match b {
                Binding::Sync => {
                    let _ = writeln!(out, "    fn {}(ctx: &Ctx, args: {args}) -> Result<{result}, ApiError>;", snake(&msg.name));
                }
                _ => {
                    let _ = writeln!(out, "    fn {}(ctx: Ctx, args: {args}) -> Reply<{result}>;", snake(&msg.name));
                }
            }
        }
        out.push_str("}\n\n");
        let _ = writeln!(out, "/// Binds every method of [`{tr}`] on the dispatcher.");
        let _ = writeln!(out, "pub fn register_{}<H: {tr}>(d: &mut Dispatcher) {{", snake(&c.name));
        for (msg, b) in &methods {
            let adapter = if *b == Binding::Sync { "sync_handler" } else { "async_handler" };
            let _ = writeln!(
                out,
                "    d.implement({}::MESSAGE, typed::{adapter}(H::{}, {}));",
                args_struct(c, msg),
                snake(&msg.name),
                encode_fn(m, &msg.result)
            );
        }
        out.push_str("}\n\n");
    }
    Ok(out)
}
