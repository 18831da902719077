//! Rust names for the model's names: `vm_power_state` → `VmPowerState`, `VM_metrics` →
//! `VmMetrics`, `set_VCPUs_max` → `set_vcpus_max`, `type` → `type_`.

/// `UpperCamelCase` of a model name: each `_`-separated part capitalised, the rest lower case
/// (`VCPUs` → `Vcpus`, `IPv4` → `Ipv4`, `CD` → `Cd`). A name that would start with a digit gets a
/// leading `V`.
pub fn camel(name: &str) -> String {
    let mut out = String::new();
    for part in name.split(['_', '-', '.']).filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.extend(chars.flat_map(char::to_lowercase));
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

/// `snake_case` of a model name, with Rust's keywords (and `self`) escaped by a trailing `_`.
pub fn snake(name: &str) -> String {
    let mut out: String = name.replace(['-', '.'], "_").to_lowercase();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    if is_keyword(&out) {
        out.push('_');
    }
    out
}

fn is_keyword(s: &str) -> bool {
    matches!(
        s,
        "as" | "break" | "const" | "continue" | "crate" | "else" | "enum" | "extern" | "false" | "fn" | "for" | "if"
            | "impl" | "in" | "let" | "loop" | "match" | "mod" | "move" | "mut" | "pub" | "ref" | "return" | "self"
            | "Self" | "static" | "struct" | "super" | "trait" | "true" | "type" | "unsafe" | "use" | "where"
            | "while" | "async" | "await" | "dyn" | "abstract" | "become" | "box" | "do" | "final" | "macro"
            | "override" | "priv" | "typeof" | "unsized" | "virtual" | "yield" | "try" | "gen"
    )
}

/// Fails when two model names map to the same Rust name in one scope.
pub fn check_unique<'a>(scope: &str, pairs: impl IntoIterator<Item = (&'a str, String)>) -> Result<(), String> {
    let mut seen: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for (model_name, rust_name) in pairs {
        if let Some(other) = seen.insert(rust_name.clone(), model_name) {
            if other != model_name {
                return Err(format!("{scope}: {other} and {model_name} both become `{rust_name}` in Rust"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_rust_conventions() {
        assert_eq!(camel("vm_power_state"), "VmPowerState");
        assert_eq!(camel("VM_metrics"), "VmMetrics");
        assert_eq!(camel("changing_VCPUs_live"), "ChangingVcpusLive");
        assert_eq!(camel("IPv4"), "Ipv4");
        assert_eq!(camel("None"), "None");
        assert_eq!(camel("3d"), "V3d");
        assert_eq!(snake("set_VCPUs_max"), "set_vcpus_max");
        assert_eq!(snake("self"), "self_");
        assert_eq!(snake("type"), "type_");
        assert!(check_unique("t", [("a_b", "AB".to_string()), ("A_B", "AB".to_string())]).is_err());
    }
}
