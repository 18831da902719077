//! `enum vm_power_state = Halted Paused Running Suspended` → `pub enum VmPowerState { ... }` with
//! `wire_name`, `from_wire`, `ALL`, `Display` and `FromStr`.

use crate::names::{camel, check_unique};
use crate::Model;
use std::fmt::Write;

pub fn emit(m: &Model) -> Result<String, String> {
    let mut names: Vec<&String> = m.enums.keys().collect();
    names.sort();
    check_unique("enums", names.iter().map(|n| (n.as_str(), camel(n))))?;
    let mut out = String::from("use crate::typed::{UnknownEnumValue, WireEnum};\nuse std::fmt;\n\n");
    for name in names {
        let values = &m.enums[name];
        check_unique(&format!("enum {name}"), values.iter().map(|v| (v.as_str(), camel(v))))?;
        let ty = camel(name);
        let _ = writeln!(out, "/// The model's `enum {name}`.");
        let _ = writeln!(out, "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\npub enum {ty} {{");
        for v in values {
            let _ = writeln!(out, "    /// `{v}`\n    {},", camel(v));
        }
        out.push_str("}\n\n");
        let _ = writeln!(out, "impl {ty} {{");
        let _ = writeln!(out, "    /// Every value, in the model's order.");
        let _ = writeln!(
            out,
            "    pub const ALL: [{ty}; {}] = [{}];",
            values.len(),
            values.iter().map(|v| format!("{ty}::{}", camel(v))).collect::<Vec<_>>().join(", ")
        );
        let _ = writeln!(out, "    /// The name on the wire and in the store.");
        let _ = writeln!(out, "    pub const fn wire_name(self) -> &'static str {{ match self {{");
        for v in values {
            let _ = writeln!(out, "        {ty}::{} => {v:?},", camel(v));
        }
        out.push_str("    } }\n");
        let _ = writeln!(out, "    pub fn from_wire(s: &str) -> Option<{ty}> {{ match s {{");
        for v in values {
            let _ = writeln!(out, "        {v:?} => Some({ty}::{}),", camel(v));
        }
        out.push_str("        _ => None,\n    } }\n}\n\n");
        let _ = writeln!(
            out,
            "impl WireEnum for {ty} {{\n    const MODEL_NAME: &'static str = {name:?};\n    \
             fn wire_name(self) -> &'static str {{ {ty}::wire_name(self) }}\n    \
             fn from_wire(s: &str) -> Option<{ty}> {{ {ty}::from_wire(s) }}\n}}\n"
        );
        let _ = writeln!(
            out,
            "impl fmt::Display for {ty} {{\n    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {{ f.write_str(self.wire_name()) }}\n}}\n"
        );
        let _ = writeln!(
            out,
            "impl std::str::FromStr for {ty} {{\n    type Err = UnknownEnumValue;\n    \
             fn from_str(s: &str) -> Result<{ty}, UnknownEnumValue> {{\n        \
             {ty}::from_wire(s).ok_or_else(|| UnknownEnumValue {{ enumeration: {name:?}, value: s.to_string() }})\n    }}\n}}\n"
        );
    }
    Ok(out)
}
