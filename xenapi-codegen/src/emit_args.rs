//! `message start(vm: VM ref, start_paused: bool = false, force: bool = false)` →
//! `pub struct VmStartArgs { pub vm: Ref<VmRecord>, pub start_paused: bool, pub force: bool }`,
//! decoded once from the dispatcher's typed argument list.

use crate::names::{camel, check_unique, snake};
use crate::types::{decode_call, rust};
use crate::{signature, value_literal, Class, Message, Model};
use std::fmt::Write;

/// `VmStartArgs`.
pub fn args_struct(class: &Class, m: &Message) -> String {
    format!("{}{}Args", camel(&class.name), camel(&m.name))
}

pub fn emit(m: &Model) -> Result<String, String> {
    let mut out = String::from(
        "#![allow(clippy::all)]\n\nuse super::enums::*;\nuse super::records::*;\nuse crate::error::ApiError;\n\
         use crate::typed::{self, Decode, MessageArgs, Ref};\nuse crate::value::Value;\n\n",
    );
    let all = m.classes.iter().flat_map(|c| c.messages.iter().map(move |msg| (c, msg)));
    let names: Vec<(String, String)> = all.clone().map(|(c, msg)| (format!("{}.{}", c.name, msg.name), args_struct(c, msg))).collect();
    check_unique("argument structs", names.iter().map(|(a, b)| (a.as_str(), b.clone())))?;
    for (c, msg) in all {
        check_unique(&format!("parameters of {}.{}", c.name, msg.name), msg.params.iter().map(|p| (p.name.as_str(), snake(&p.name))))?;
        let ty = args_struct(c, msg);
        let _ = writeln!(out, "/// The arguments of {} (after the session).", signature(c, msg));
        let _ = writeln!(out, "#[derive(Debug, Clone)]\npub struct {ty} {{");
        for p in &msg.params {
            let _ = writeln!(out, "    /// `{}: {}`\n    pub {}: {},", p.name, p.ty, snake(&p.name), rust(m, &p.ty));
        }
        out.push_str("}\n\n");
        let _ = writeln!(out, "impl MessageArgs for {ty} {{");
        let _ = writeln!(out, "    const MESSAGE: &'static str = \"{}.{}\";\n}}\n", c.name, msg.name);
        let _ = writeln!(out, "impl Decode for {ty} {{");
        let unused = if msg.params.is_empty() { "_" } else { "" };
        let _ = writeln!(out, "    fn decode({unused}args: Vec<Value>) -> Result<{ty}, ApiError> {{");
        if !msg.params.is_empty() {
            out.push_str("        let mut a = args.into_iter();\n");
        }
        let _ = writeln!(out, "        Ok({ty} {{");
        for p in &msg.params {
            let default = match &p.default {
                Some(d) => format!("Some(|| {})", value_literal(d)?),
                None => "None".into(),
            };
            let input = format!("typed::next(&mut a, {:?}, {default})?", p.name);
            let _ = writeln!(out, "            {}: {}?,", snake(&p.name), decode_call(m, &p.ty, &input, &p.name));
        }
        out.push_str("        })\n    }\n}\n\n");
    }
    Ok(out)
}
