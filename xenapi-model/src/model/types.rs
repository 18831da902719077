//! Data model types, as spelled in the model file: `string`, `int`, `VM ref`, `string set`,
//! `(string -> string) map`, `enum vm_power_state`, `VM record`, ...

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    String,
    Int,
    Float,
    Bool,
    DateTime,
    Void,
    /// Reference to an object of the named class.
    Ref(String),
    /// Enumeration by name; values are in `Model::enums` (an enum the model does not list accepts
    /// any string).
    Enum(String),
    Set(Box<Type>),
    Map(Box<Type>, Box<Type>),
    /// The record of the named class (`get_record`, `create`); for records of classes outside the
    /// model, any struct.
    Record(String),
    /// The result of `event.from`: `{events, valid_ref_counts, token}`.
    EventBatch,
}

impl Type {
    /// Parses a type expression. `is_enum` tells whether a bare name is a known enumeration
    /// (messages spell enum parameters without the `enum` keyword).
    pub fn parse(s: &str, is_enum: &dyn Fn(&str) -> bool) -> Result<Type, String> {
        let s = s.trim();
        if let Some(inner) = s.strip_suffix(" map") {
            let inner = inner.trim();
            let inner = inner
                .strip_prefix('(')
                .and_then(|x| x.strip_suffix(')'))
                .ok_or_else(|| format!("map type without parentheses: {s}"))?;
            let (k, v) = split_arrow(inner).ok_or_else(|| format!("map type without ->: {s}"))?;
            return Ok(Type::Map(Box::new(Type::parse(k, is_enum)?), Box::new(Type::parse(v, is_enum)?)));
        }
        if let Some(inner) = s.strip_suffix(" set") {
            return Ok(Type::Set(Box::new(Type::parse(inner, is_enum)?)));
        }
        if let Some(class) = s.strip_suffix(" ref") {
            return Ok(Type::Ref(class.trim().to_string()));
        }
        if let Some(class) = s.strip_suffix(" record") {
            return Ok(Type::Record(class.trim().to_string()));
        }
        if let Some(name) = s.strip_prefix("enum ") {
            return Ok(Type::Enum(name.trim().to_string()));
        }
        Ok(match s {
            "string" => Type::String,
            "int" => Type::Int,
            "float" => Type::Float,
            "bool" => Type::Bool,
            "datetime" => Type::DateTime,
            "void" => Type::Void,
            "event_batch" => Type::EventBatch,
            name if !name.contains(' ') && is_enum(name) => Type::Enum(name.to_string()),
            name if !name.contains(' ') && !name.is_empty() => Type::Enum(name.to_string()),
            other => return Err(format!("unknown type: {other}")),
        })
    }
}

/// Splits `K -> V` at the top-level arrow (V may itself be a parenthesised map).
fn split_arrow(s: &str) -> Option<(&str, &str)> {
    let mut depth = 0;
    let bytes = s.as_bytes();
    for i in 0..bytes.len() {
        match bytes[i] {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b'-' if depth == 0 && bytes.get(i + 1) == Some(&b'>') => {
                return Some((&s[..i], &s[i + 2..]));
            }
            _ => {}
        }
    }
    None
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::String => write!(f, "string"),
            Type::Int => write!(f, "int"),
            Type::Float => write!(f, "float"),
            Type::Bool => write!(f, "bool"),
            Type::DateTime => write!(f, "datetime"),
            Type::Void => write!(f, "void"),
            Type::Ref(c) => write!(f, "{c} ref"),
            Type::Enum(e) => write!(f, "enum {e}"),
            Type::Set(t) => write!(f, "{t} set"),
            Type::Map(k, v) => write!(f, "({k} -> {v}) map"),
            Type::Record(c) => write!(f, "{c} record"),
            Type::EventBatch => write!(f, "event batch"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Type {
        Type::parse(s, &|_| true).unwrap()
    }

    #[test]
    fn parses_nested_types() {
        assert_eq!(p("VM ref set"), Type::Set(Box::new(Type::Ref("VM".into()))));
        assert_eq!(
            p("(VM ref -> (string -> string) map) map"),
            Type::Map(
                Box::new(Type::Ref("VM".into())),
                Box::new(Type::Map(Box::new(Type::String), Box::new(Type::String)))
            )
        );
        assert_eq!(p("(int -> string set) map").to_string(), "(int -> string set) map");
        assert_eq!(p("enum vm_operations set"), Type::Set(Box::new(Type::Enum("vm_operations".into()))));
        assert_eq!(p("vbd_mode"), Type::Enum("vbd_mode".into()));
    }
}
