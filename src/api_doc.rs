//! The API reference, rendered from the data model (the same description dispatch is built from).

use std::fmt::Write;
use xenapi_core::model::{model, Lifecycle, Qualifier};

pub fn render() -> String {
    let m = model();
    let mut out = String::from("# XenAPI reference (generated from the data model)\n");
    for c in &m.classes {
        let _ = writeln!(out, "\n## {}\n\n| field | type | qualifier |\n|---|---|---|", c.name);
        for f in &c.fields {
            let q = match f.qualifier {
                Qualifier::Rw => "RW",
                Qualifier::RoConstructor => "RO (constructor)",
                Qualifier::RoRuntime => "RO (runtime)",
            };
            let lc = match f.lifecycle {
                Lifecycle::Published => "",
                Lifecycle::Deprecated => " (deprecated)",
                Lifecycle::Removed => " (removed)",
            };
            let _ = writeln!(out, "| {}{lc} | {} | {q} |", f.name, f.ty);
        }
        if !c.messages.is_empty() {
            let _ = writeln!(out, "\n| message | parameters | result | role |\n|---|---|---|---|");
            for msg in &c.messages {
                let params: Vec<String> = msg.params.iter().map(|p| format!("{}: {}", p.name, p.ty)).collect();
                let _ = writeln!(out, "| {} | {} | {} | {} |", msg.name, params.join(", "), msg.result, msg.role.wire_name());
            }
        }
    }
    out
}
