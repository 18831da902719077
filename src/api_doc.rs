//! The API reference, rendered from the data model (the same description dispatch is built from),
//! with what this server refuses and why (`model/unimplemented.txt`, as the dispatch table binds it).

use std::fmt::Write;
use xenapi_core::dispatch::unimplemented::{coverage, reason};
use xenapi_core::model::{model, Lifecycle, Qualifier};

pub fn render() -> String {
    let m = model();
    let table = xenapi_core::api::dispatcher();
    let cov = coverage(&table);
    let declared = cov.implemented.len() + cov.refused.len() + cov.unlisted.len() + cov.stale.len();
    let mut out = String::from("# XenAPI reference (generated from the data model)\n");
    let _ = writeln!(
        out,
        "\n{} of {declared} declared messages are implemented; {} are refused with NOT_IMPLEMENTED, each \
         marked below with its reason. Every class also has its implicit accessors (get_record, \
         get_<field>, ...), all implemented.",
        cov.implemented.len() + cov.stale.len(),
        cov.refused.len()
    );
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
            let _ = writeln!(out, "\n| message | parameters | result | role | status |\n|---|---|---|---|---|");
            for msg in &c.messages {
                let params: Vec<String> = msg.params.iter().map(|p| format!("{}: {}", p.name, p.ty)).collect();
                let name = format!("{}.{}", c.name, msg.name);
                let status = match (table.get(&name).is_some_and(|x| x.implemented), reason(&name)) {
                    (true, _) => String::new(),
                    (false, Some(why)) => format!("not implemented: {why}"),
                    (false, None) => "not implemented".into(),
                };
                let _ = writeln!(out, "| {} | {} | {} | {} | {status} |", msg.name, params.join(", "), msg.result, msg.role.wire_name());
            }
        }
    }
    out
}
