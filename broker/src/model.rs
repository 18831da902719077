//! The CIM meta-model as the broker holds it: types, values, qualifiers,
//! classes, instances and object paths (DSP0004).
//!
//! Names of classes, properties, methods and qualifiers are case-insensitive
//! in CIM; the helpers here compare them with `eq_ignore_ascii_case` and keep
//! the spelling of the definition for output.

use std::fmt;

/// A CIM data type (DSP0004 5.2). References carry their class separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CimType {
    Boolean,
    String,
    Char16,
    DateTime,
    UInt8,
    SInt8,
    UInt16,
    SInt16,
    UInt32,
    SInt32,
    UInt64,
    SInt64,
    Real32,
    Real64,
    Reference,
}

impl CimType {
    /// Parses a MOF / CIM-XML type name (case-insensitive).
    pub fn parse(s: &str) -> Option<CimType> {
        Some(match s.to_ascii_lowercase().as_str() {
            "boolean" => CimType::Boolean,
            "string" => CimType::String,
            "char16" => CimType::Char16,
            "datetime" => CimType::DateTime,
            "uint8" => CimType::UInt8,
            "sint8" => CimType::SInt8,
            "uint16" => CimType::UInt16,
            "sint16" => CimType::SInt16,
            "uint32" => CimType::UInt32,
            "sint32" => CimType::SInt32,
            "uint64" => CimType::UInt64,
            "sint64" => CimType::SInt64,
            "real32" => CimType::Real32,
            "real64" => CimType::Real64,
            "reference" => CimType::Reference,
            _ => return None,
        })
    }

    /// The name used in MOF and in CIM-XML TYPE attributes.
    pub fn as_str(self) -> &'static str {
        match self {
            CimType::Boolean => "boolean",
            CimType::String => "string",
            CimType::Char16 => "char16",
            CimType::DateTime => "datetime",
            CimType::UInt8 => "uint8",
            CimType::SInt8 => "sint8",
            CimType::UInt16 => "uint16",
            CimType::SInt16 => "sint16",
            CimType::UInt32 => "uint32",
            CimType::SInt32 => "sint32",
            CimType::UInt64 => "uint64",
            CimType::SInt64 => "sint64",
            CimType::Real32 => "real32",
            CimType::Real64 => "real64",
            CimType::Reference => "reference",
        }
    }

    pub fn is_integer(self) -> bool {
        matches!(
            self,
            CimType::UInt8
                | CimType::SInt8
                | CimType::UInt16
                | CimType::SInt16
                | CimType::UInt32
                | CimType::SInt32
                | CimType::UInt64
                | CimType::SInt64
        )
    }

    pub fn is_signed(self) -> bool {
        matches!(self, CimType::SInt8 | CimType::SInt16 | CimType::SInt32 | CimType::SInt64)
    }

    /// Inclusive range of an integer type, as i128 so every type fits.
    pub fn int_range(self) -> Option<(i128, i128)> {
        Some(match self {
            CimType::UInt8 => (0, u8::MAX as i128),
            CimType::SInt8 => (i8::MIN as i128, i8::MAX as i128),
            CimType::UInt16 => (0, u16::MAX as i128),
            CimType::SInt16 => (i16::MIN as i128, i16::MAX as i128),
            CimType::UInt32 => (0, u32::MAX as i128),
            CimType::SInt32 => (i32::MIN as i128, i32::MAX as i128),
            CimType::UInt64 => (0, u64::MAX as i128),
            CimType::SInt64 => (i64::MIN as i128, i64::MAX as i128),
            _ => return None,
        })
    }
}

impl fmt::Display for CimType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A non-null CIM value. The CIM type is held by the element that owns the
/// value (property, qualifier, parameter); integers keep their sign class.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Boolean(bool),
    String(String),
    Char16(char),
    DateTime(String),
    UInt(u64),
    SInt(i64),
    Real(f64),
    Reference(ObjectPath),
    Array(Vec<Value>),
}

impl Value {
    /// Text form used in CIM-XML `<VALUE>` and in key bindings.
    pub fn to_text(&self) -> String {
        match self {
            Value::Boolean(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
            Value::String(s) | Value::DateTime(s) => s.clone(),
            Value::Char16(c) => c.to_string(),
            Value::UInt(u) => u.to_string(),
            Value::SInt(i) => i.to_string(),
            Value::Real(r) => {
                let s = format!("{r:?}");
                s
            }
            Value::Reference(p) => p.to_string(),
            Value::Array(a) => a.iter().map(|v| v.to_text()).collect::<Vec<_>>().join(","),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) | Value::DateTime(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// Parses the text of a CIM-XML `<VALUE>` into a value of type `ty`.
    pub fn parse_typed(ty: CimType, text: &str) -> Result<Value, String> {
        let t = text.trim();
        Ok(match ty {
            CimType::Boolean => match t.to_ascii_lowercase().as_str() {
                "true" => Value::Boolean(true),
                "false" => Value::Boolean(false),
                _ => return Err(format!("'{text}' is not a boolean")),
            },
            CimType::String => Value::String(text.to_string()),
            CimType::DateTime => Value::DateTime(t.to_string()),
            CimType::Char16 => {
                let mut it = text.chars();
                match (it.next(), it.next()) {
                    (Some(c), None) => Value::Char16(c),
                    _ => return Err(format!("'{text}' is not a char16")),
                }
            }
            CimType::Real32 | CimType::Real64 => {
                Value::Real(t.parse::<f64>().map_err(|_| format!("'{text}' is not a real"))?)
            }
            CimType::Reference => {
                Value::Reference(ObjectPath::parse(t).map_err(|e| format!("bad reference: {e}"))?)
            }
            int => {
                let v = parse_int_text(t).ok_or_else(|| format!("'{text}' is not an integer"))?;
                let (lo, hi) = int.int_range().unwrap();
                if v < lo || v > hi {
                    return Err(format!("{v} is out of range for {int}"));
                }
                if int.is_signed() {
                    Value::SInt(v as i64)
                } else {
                    Value::UInt(v as u64)
                }
            }
        })
    }
}

/// Parses a decimal (optionally signed) or 0x-hex integer.
pub fn parse_int_text(t: &str) -> Option<i128> {
    let (neg, body) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    // one sign only: `--5` or `-0x-5` is no number (and `-i128::MIN` would overflow)
    let digits = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X"));
    if digits.unwrap_or(body).starts_with(['+', '-']) {
        return None;
    }
    let v = match digits {
        Some(h) => i128::from_str_radix(h, 16).ok()?,
        None => body.parse::<i128>().ok()?,
    };
    if neg {
        v.checked_neg()
    } else {
        Some(v)
    }
}

/// Qualifier flavors (DSP0004 5.6.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flavor {
    pub overridable: bool,
    pub to_subclass: bool,
    pub translatable: bool,
}

impl Default for Flavor {
    /// EnableOverride, ToSubclass, not Translatable.
    fn default() -> Self {
        Flavor { overridable: true, to_subclass: true, translatable: false }
    }
}

/// Where a qualifier may be used.
pub mod scope {
    pub const CLASS: u16 = 1;
    pub const ASSOCIATION: u16 = 2;
    pub const INDICATION: u16 = 4;
    pub const PROPERTY: u16 = 8;
    pub const REFERENCE: u16 = 16;
    pub const METHOD: u16 = 32;
    pub const PARAMETER: u16 = 64;
    pub const ANY: u16 = 127;

    pub fn parse(s: &str) -> Option<u16> {
        Some(match s.to_ascii_lowercase().as_str() {
            "class" => CLASS,
            "association" => ASSOCIATION,
            "indication" => INDICATION,
            "property" => PROPERTY,
            "reference" => REFERENCE,
            "method" => METHOD,
            "parameter" => PARAMETER,
            "any" => ANY,
            _ => return None,
        })
    }

    /// (bit, CIM-XML attribute name) pairs.
    pub const NAMES: [(u16, &str); 7] = [
        (CLASS, "CLASS"),
        (ASSOCIATION, "ASSOCIATION"),
        (INDICATION, "INDICATION"),
        (PROPERTY, "PROPERTY"),
        (REFERENCE, "REFERENCE"),
        (METHOD, "METHOD"),
        (PARAMETER, "PARAMETER"),
    ];
}

/// A qualifier type declaration (`Qualifier Key : boolean = false, ...;`).
#[derive(Debug, Clone, PartialEq)]
pub struct QualifierDecl {
    pub name: String,
    pub ty: CimType,
    pub is_array: bool,
    pub array_size: Option<u32>,
    pub default: Option<Value>,
    pub scopes: u16,
    pub flavor: Flavor,
}

/// A qualifier applied to an element.
#[derive(Debug, Clone, PartialEq)]
pub struct Qualifier {
    pub name: String,
    pub ty: CimType,
    pub is_array: bool,
    pub value: Option<Value>,
    pub flavor: Flavor,
    /// Inherited from the superclass / overridden element rather than given here.
    pub propagated: bool,
}

/// Finds a qualifier by name (case-insensitive).
pub fn find_qualifier<'a>(qs: &'a [Qualifier], name: &str) -> Option<&'a Qualifier> {
    qs.iter().find(|q| q.name.eq_ignore_ascii_case(name))
}

/// True when a boolean qualifier is present with value true.
pub fn has_true_qualifier(qs: &[Qualifier], name: &str) -> bool {
    matches!(find_qualifier(qs, name).and_then(|q| q.value.as_ref()), Some(Value::Boolean(true)))
}

#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub name: String,
    pub ty: CimType,
    pub is_array: bool,
    pub array_size: Option<u32>,
    /// For references: the class referenced.
    pub reference_class: Option<String>,
    pub default: Option<Value>,
    pub qualifiers: Vec<Qualifier>,
    /// The class in which the property was last defined or overridden.
    pub class_origin: String,
    pub propagated: bool,
}

impl Property {
    pub fn is_key(&self) -> bool {
        has_true_qualifier(&self.qualifiers, "Key")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub name: String,
    pub ty: CimType,
    pub is_array: bool,
    pub array_size: Option<u32>,
    pub reference_class: Option<String>,
    pub qualifiers: Vec<Qualifier>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Method {
    pub name: String,
    pub return_type: CimType,
    pub qualifiers: Vec<Qualifier>,
    pub parameters: Vec<Parameter>,
    pub class_origin: String,
    pub propagated: bool,
}

/// A class as held by the repository: fully resolved, so `properties` and
/// `methods` include inherited features (marked `propagated`).
#[derive(Debug, Clone, PartialEq)]
pub struct Class {
    pub name: String,
    pub superclass: Option<String>,
    pub qualifiers: Vec<Qualifier>,
    pub properties: Vec<Property>,
    pub methods: Vec<Method>,
}

impl Class {
    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }
    pub fn method(&self, name: &str) -> Option<&Method> {
        self.methods.iter().find(|m| m.name.eq_ignore_ascii_case(name))
    }
    pub fn is_association(&self) -> bool {
        has_true_qualifier(&self.qualifiers, "Association")
    }
    pub fn is_indication(&self) -> bool {
        has_true_qualifier(&self.qualifiers, "Indication")
    }
    pub fn is_abstract(&self) -> bool {
        has_true_qualifier(&self.qualifiers, "Abstract")
    }
    pub fn key_properties(&self) -> impl Iterator<Item = &Property> {
        self.properties.iter().filter(|p| p.is_key())
    }
}

/// A property value inside an instance.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyValue {
    pub name: String,
    pub ty: CimType,
    pub is_array: bool,
    pub reference_class: Option<String>,
    pub value: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub class_name: String,
    pub properties: Vec<PropertyValue>,
}

impl Instance {
    pub fn new(class_name: impl Into<String>) -> Self {
        Instance { class_name: class_name.into(), properties: Vec::new() }
    }
    pub fn get(&self, name: &str) -> Option<&PropertyValue> {
        self.properties.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }
    pub fn get_value(&self, name: &str) -> Option<&Value> {
        self.get(name).and_then(|p| p.value.as_ref())
    }
    /// Sets (or adds) a property.
    pub fn set(&mut self, name: &str, ty: CimType, value: Option<Value>) -> &mut Self {
        let is_array = matches!(value, Some(Value::Array(_)));
        if let Some(p) = self.properties.iter_mut().find(|p| p.name.eq_ignore_ascii_case(name)) {
            p.value = value;
            p.ty = ty;
            p.is_array = is_array;
        } else {
            self.properties.push(PropertyValue {
                name: name.to_string(),
                ty,
                is_array,
                reference_class: None,
                value,
            });
        }
        self
    }
    pub fn with(mut self, name: &str, ty: CimType, value: Value) -> Self {
        self.set(name, ty, Some(value));
        self
    }
    /// Builds the instance path from the key properties of `class`.
    pub fn path(&self, class: &Class, namespace: Option<&str>) -> ObjectPath {
        let mut keys = Vec::new();
        for kp in class.key_properties() {
            if let Some(v) = self.get_value(&kp.name) {
                keys.push((kp.name.clone(), v.clone()));
            }
        }
        ObjectPath {
            host: None,
            namespace: namespace.map(str::to_string),
            class_name: self.class_name.clone(),
            keys,
        }
    }
}

/// A CIM object path: `//host/namespace:Class.key="value",...`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObjectPath {
    pub host: Option<String>,
    pub namespace: Option<String>,
    pub class_name: String,
    /// Key bindings in order. Values are strings, booleans, numbers or references.
    pub keys: Vec<(String, Value)>,
}

impl ObjectPath {
    pub fn new(class_name: impl Into<String>) -> Self {
        ObjectPath { class_name: class_name.into(), ..Default::default() }
    }
    pub fn key(&self, name: &str) -> Option<&Value> {
        self.keys.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }
    pub fn with_key(mut self, name: &str, v: Value) -> Self {
        self.keys.push((name.to_string(), v));
        self
    }

    /// Compares class and keys (case-insensitive names, order-independent);
    /// host and namespace are ignored. String keys compare exactly.
    pub fn same_instance(&self, other: &ObjectPath) -> bool {
        if !self.class_name.eq_ignore_ascii_case(&other.class_name) || self.keys.len() != other.keys.len() {
            return false;
        }
        self.keys.iter().all(|(k, v)| match other.key(k) {
            Some(ov) => key_values_equal(v, ov),
            None => false,
        })
    }

    /// Parses the textual form (`ns:Class.k1="v",k2=3` or `Class.k=ref`).
    /// Reference-valued keys are written quoted and parsed back as strings
    /// unless they look like object paths.
    pub fn parse(s: &str) -> Result<ObjectPath, String> {
        let mut rest = s.trim();
        let mut host = None;
        if let Some(r) = rest.strip_prefix("//") {
            let end = r.find('/').ok_or("missing namespace after host")?;
            host = Some(r[..end].to_string());
            rest = &r[end + 1..];
        }
        // namespace is everything before the first ':' that comes before any '.' or '='
        let mut namespace = None;
        let cut = rest.find(['.', '=', '"']).unwrap_or(rest.len());
        if let Some(colon) = rest[..cut].find(':') {
            namespace = Some(rest[..colon].trim_start_matches('/').to_string());
            rest = &rest[colon + 1..];
        }
        let (class_name, mut keystr) = match rest.find('.') {
            Some(d) => (&rest[..d], &rest[d + 1..]),
            None => match rest.find("=@") {
                Some(d) => (&rest[..d], ""),
                None => (rest, ""),
            },
        };
        if class_name.is_empty() {
            return Err(format!("no class name in object path '{s}'"));
        }
        let mut keys = Vec::new();
        while !keystr.is_empty() {
            let eq = keystr.find('=').ok_or_else(|| format!("key without value in '{s}'"))?;
            let name = keystr[..eq].trim().to_string();
            let after = &keystr[eq + 1..];
            let (val, rem) = if let Some(body) = after.strip_prefix('"') {
                // quoted string with backslash escapes
                let mut out = String::new();
                let mut chars = body.char_indices();
                let mut end = None;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, n)) = chars.next() {
                                out.push(n);
                            }
                        }
                        '"' => {
                            end = Some(i);
                            break;
                        }
                        _ => out.push(c),
                    }
                }
                let end = end.ok_or_else(|| format!("unterminated string in '{s}'"))?;
                let v = if looks_like_path(&out) {
                    match ObjectPath::parse(&out) {
                        Ok(p) => Value::Reference(p),
                        Err(_) => Value::String(out),
                    }
                } else {
                    Value::String(out)
                };
                (v, &body[end + 1..])
            } else {
                let end = after.find(',').unwrap_or(after.len());
                let tok = after[..end].trim();
                let v = if tok.eq_ignore_ascii_case("true") {
                    Value::Boolean(true)
                } else if tok.eq_ignore_ascii_case("false") {
                    Value::Boolean(false)
                } else if let Some(i) = parse_int_text(tok) {
                    // CIM integers are at most 64 bits: a wider key is an error, not a truncated one
                    let v = if i < 0 { i64::try_from(i).map(Value::SInt).ok() } else { u64::try_from(i).map(Value::UInt).ok() };
                    v.ok_or_else(|| format!("key value '{tok}' is out of the 64-bit range in '{s}'"))?
                } else if let Ok(r) = tok.parse::<f64>() {
                    Value::Real(r)
                } else {
                    return Err(format!("bad key value '{tok}' in '{s}'"));
                };
                (v, &after[end..])
            };
            keys.push((name, val));
            keystr = rem.trim_start().strip_prefix(',').unwrap_or(rem.trim_start());
            if !rem.trim_start().is_empty() && !rem.trim_start().starts_with(',') {
                return Err(format!("junk after key value in '{s}'"));
            }
        }
        Ok(ObjectPath { host, namespace, class_name: class_name.trim().to_string(), keys })
    }
}

fn looks_like_path(s: &str) -> bool {
    let dot = match s.find('.') {
        Some(d) => d,
        None => return false,
    };
    let head = &s[..dot];
    let cls = head.rsplit(':').next().unwrap_or(head);
    !cls.is_empty()
        && cls.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s[dot..].contains('=')
}

/// Key values compare by value, with numbers compared numerically and
/// strings exactly.
pub fn key_values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::UInt(x), Value::SInt(y)) | (Value::SInt(y), Value::UInt(x)) => *y >= 0 && *x == *y as u64,
        (Value::Reference(x), Value::Reference(y)) => x.same_instance(y),
        (Value::Reference(x), Value::String(s)) | (Value::String(s), Value::Reference(x)) => {
            ObjectPath::parse(s).map(|p| p.same_instance(x)).unwrap_or(false)
        }
        (Value::String(x), Value::DateTime(y)) | (Value::DateTime(y), Value::String(x)) => x == y,
        _ => a == b,
    }
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(h) = &self.host {
            write!(f, "//{h}/")?;
        }
        if let Some(ns) = &self.namespace {
            write!(f, "{ns}:")?;
        }
        f.write_str(&self.class_name)?;
        for (i, (k, v)) in self.keys.iter().enumerate() {
            f.write_str(if i == 0 { "." } else { "," })?;
            match v {
                Value::String(s) | Value::DateTime(s) => {
                    write!(f, "{k}=\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))?
                }
                Value::Char16(c) => write!(f, "{k}=\"{c}\"")?,
                Value::Reference(p) => {
                    let s = p.to_string();
                    write!(f, "{k}=\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))?
                }
                Value::Boolean(b) => write!(f, "{k}={}", if *b { "TRUE" } else { "FALSE" })?,
                other => write!(f, "{k}={}", other.to_text())?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_path_round_trip() {
        let p = ObjectPath::parse(r#"root/cimv2:CIM_Foo.Name="a\"b",Id=42,On=TRUE"#).unwrap();
        assert_eq!(p.namespace.as_deref(), Some("root/cimv2"));
        assert_eq!(p.class_name, "CIM_Foo");
        assert_eq!(p.key("name"), Some(&Value::String("a\"b".into())));
        assert_eq!(p.key("ID"), Some(&Value::UInt(42)));
        assert_eq!(p.key("on"), Some(&Value::Boolean(true)));
        let again = ObjectPath::parse(&p.to_string()).unwrap();
        assert_eq!(again, p);
    }

    #[test]
    fn nested_reference_key() {
        let inner = ObjectPath::new("A").with_key("K", Value::String("x".into()));
        let outer = ObjectPath::new("Assoc").with_key("Ref", Value::Reference(inner.clone()));
        let parsed = ObjectPath::parse(&outer.to_string()).unwrap();
        assert_eq!(parsed.key("Ref"), Some(&Value::Reference(inner)));
        assert!(ObjectPath::parse("").is_err());
        assert!(ObjectPath::parse("A.K=\"x").is_err());
    }

    #[test]
    fn typed_values() {
        assert_eq!(Value::parse_typed(CimType::UInt8, "255"), Ok(Value::UInt(255)));
        assert!(Value::parse_typed(CimType::UInt8, "256").is_err());
        assert!(Value::parse_typed(CimType::UInt32, "-1").is_err());
        assert_eq!(Value::parse_typed(CimType::SInt16, "-5"), Ok(Value::SInt(-5)));
        assert!(Value::parse_typed(CimType::Boolean, "yes").is_err());
    }

    /// Numbers from clients: one sign only, no overflow when negated, no silent truncation.
    #[test]
    fn hostile_integers_are_errors() {
        assert_eq!(parse_int_text("-0x10"), Some(-16));
        assert_eq!(parse_int_text("+7"), Some(7));
        for bad in ["--5", "+-5", "-+5", "-0x-5", "0x+5", "--170141183460469231731687303768211456", "-", "0x", "1e3", "٣"] {
            assert_eq!(parse_int_text(bad), None, "{bad}");
        }
        assert!(Value::parse_typed(CimType::SInt64, "-9223372036854775809").is_err());
        assert!(Value::parse_typed(CimType::UInt64, "18446744073709551616").is_err());
        assert!(ObjectPath::parse("A.K=18446744073709551616").unwrap_err().contains("64-bit"));
        assert!(ObjectPath::parse("A.K=-9223372036854775809").unwrap_err().contains("64-bit"));
        assert_eq!(ObjectPath::parse("A.K=18446744073709551615").unwrap().key("K"), Some(&Value::UInt(u64::MAX)));
        // multibyte text around the separators
        for odd in ["é:é.é=\"é\"", "//é/é:A.K=\"\\", "A.=", "A.K=\"x\"é", ":.=\""] {
            let _ = ObjectPath::parse(odd);
        }
    }
}
