//! Owned CIM values shared by the provider side and the broker side.

use crate::abi::*;
use std::fmt;

/// The CIM type of a scalar (or of the elements of an array).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CimType {
    Boolean,
    Char16,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Sint8,
    Sint16,
    Sint32,
    Sint64,
    Real32,
    Real64,
    String,
    DateTime,
    Reference,
    /// An embedded instance.
    Instance,
}

impl CimType {
    /// The CMPI type code of a scalar of this type.
    pub fn cmpi_type(self) -> CMPIType {
        match self {
            CimType::Boolean => CMPI_boolean,
            CimType::Char16 => CMPI_char16,
            CimType::Uint8 => CMPI_uint8,
            CimType::Uint16 => CMPI_uint16,
            CimType::Uint32 => CMPI_uint32,
            CimType::Uint64 => CMPI_uint64,
            CimType::Sint8 => CMPI_sint8,
            CimType::Sint16 => CMPI_sint16,
            CimType::Sint32 => CMPI_sint32,
            CimType::Sint64 => CMPI_sint64,
            CimType::Real32 => CMPI_real32,
            CimType::Real64 => CMPI_real64,
            CimType::String => CMPI_string,
            CimType::DateTime => CMPI_dateTime,
            CimType::Reference => CMPI_ref,
            CimType::Instance => CMPI_instance,
        }
    }

    /// The CIM type of a CMPI scalar type code (`CMPI_chars` maps to `String`).
    pub fn from_cmpi(t: CMPIType) -> Option<CimType> {
        Some(match t & !CMPI_ARRAY {
            CMPI_boolean => CimType::Boolean,
            CMPI_char16 => CimType::Char16,
            CMPI_uint8 => CimType::Uint8,
            CMPI_uint16 => CimType::Uint16,
            CMPI_uint32 => CimType::Uint32,
            CMPI_uint64 => CimType::Uint64,
            CMPI_sint8 => CimType::Sint8,
            CMPI_sint16 => CimType::Sint16,
            CMPI_sint32 => CimType::Sint32,
            CMPI_sint64 => CimType::Sint64,
            CMPI_real32 => CimType::Real32,
            CMPI_real64 => CimType::Real64,
            CMPI_string | CMPI_chars => CimType::String,
            CMPI_dateTime => CimType::DateTime,
            CMPI_ref => CimType::Reference,
            CMPI_instance => CimType::Instance,
            _ => return None,
        })
    }
}

/// A CIM value. Arrays hold elements of one type; an element may be `Null`.
#[derive(Clone, Debug, PartialEq)]
pub enum CimValue {
    Boolean(bool),
    Char16(u16),
    Uint8(u8),
    Uint16(u16),
    Uint32(u32),
    Uint64(u64),
    Sint8(i8),
    Sint16(i16),
    Sint32(i32),
    Sint64(i64),
    Real32(f32),
    Real64(f64),
    String(String),
    DateTime(CimDateTime),
    Reference(ObjectPath),
    Instance(Box<Instance>),
    /// An array of `ty`; every element is a scalar of `ty` or `Null { ty, array: false }`.
    Array(CimType, Vec<CimValue>),
    /// A NULL value of the given type (`array` for a NULL array).
    Null { ty: CimType, array: bool },
}

impl CimValue {
    /// The element/scalar type and whether it is an array.
    pub fn cim_type(&self) -> (CimType, bool) {
        match self {
            CimValue::Boolean(_) => (CimType::Boolean, false),
            CimValue::Char16(_) => (CimType::Char16, false),
            CimValue::Uint8(_) => (CimType::Uint8, false),
            CimValue::Uint16(_) => (CimType::Uint16, false),
            CimValue::Uint32(_) => (CimType::Uint32, false),
            CimValue::Uint64(_) => (CimType::Uint64, false),
            CimValue::Sint8(_) => (CimType::Sint8, false),
            CimValue::Sint16(_) => (CimType::Sint16, false),
            CimValue::Sint32(_) => (CimType::Sint32, false),
            CimValue::Sint64(_) => (CimType::Sint64, false),
            CimValue::Real32(_) => (CimType::Real32, false),
            CimValue::Real64(_) => (CimType::Real64, false),
            CimValue::String(_) => (CimType::String, false),
            CimValue::DateTime(_) => (CimType::DateTime, false),
            CimValue::Reference(_) => (CimType::Reference, false),
            CimValue::Instance(_) => (CimType::Instance, false),
            CimValue::Array(t, _) => (*t, true),
            CimValue::Null { ty, array } => (*ty, *array),
        }
    }

    /// The CMPI type code (with `CMPI_ARRAY` for arrays).
    pub fn cmpi_type(&self) -> CMPIType {
        let (t, a) = self.cim_type();
        t.cmpi_type() | if a { CMPI_ARRAY } else { 0 }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, CimValue::Null { .. })
    }

    /// The string, if this is a `String`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            CimValue::String(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for CimValue {
    fn from(s: &str) -> Self {
        CimValue::String(s.to_string())
    }
}
impl From<String> for CimValue {
    fn from(s: String) -> Self {
        CimValue::String(s)
    }
}
impl From<bool> for CimValue {
    fn from(b: bool) -> Self {
        CimValue::Boolean(b)
    }
}
impl From<u16> for CimValue {
    fn from(v: u16) -> Self {
        CimValue::Uint16(v)
    }
}
impl From<u32> for CimValue {
    fn from(v: u32) -> Self {
        CimValue::Uint32(v)
    }
}
impl From<u64> for CimValue {
    fn from(v: u64) -> Self {
        CimValue::Uint64(v)
    }
}
impl From<i64> for CimValue {
    fn from(v: i64) -> Self {
        CimValue::Sint64(v)
    }
}
impl From<ObjectPath> for CimValue {
    fn from(v: ObjectPath) -> Self {
        CimValue::Reference(v)
    }
}
impl From<Instance> for CimValue {
    fn from(v: Instance) -> Self {
        CimValue::Instance(Box::new(v))
    }
}
impl From<CimDateTime> for CimValue {
    fn from(v: CimDateTime) -> Self {
        CimValue::DateTime(v)
    }
}

/// A CIM datetime in its DMTF string form: a timestamp `yyyymmddhhmmss.mmmmmmsutc`
/// or an interval `ddddddddhhmmss.mmmmmm:000` (25 characters each).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CimDateTime(String);

impl CimDateTime {
    /// Parses and validates the 25-character DMTF form.
    pub fn parse(s: &str) -> Result<Self, CmpiError> {
        let b = s.as_bytes();
        let bad = || CmpiError::new(CMPI_RC_ERR_INVALID_PARAMETER, format!("invalid CIM datetime {s:?}"));
        if b.len() != 25 || b[14] != b'.' || !matches!(b[21], b'+' | b'-' | b':') {
            return Err(bad());
        }
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(|c| c.is_ascii_digit() || *c == b'*');
        if !(digits(0..14) && digits(15..21) && digits(22..25)) {
            return Err(bad());
        }
        Ok(CimDateTime(s.to_string()))
    }

    /// An interval of `micros` microseconds.
    pub fn interval(micros: u64) -> Self {
        let us = micros % 1_000_000;
        let secs = micros / 1_000_000;
        let (d, h, m, s) = (secs / 86400, (secs / 3600) % 24, (secs / 60) % 60, secs % 60);
        CimDateTime(format!("{d:08}{h:02}{m:02}{s:02}.{us:06}:000"))
    }

    /// A UTC timestamp `micros` microseconds after 1970-01-01T00:00:00Z.
    pub fn from_unix_micros(micros: u64) -> Self {
        let us = micros % 1_000_000;
        let secs = micros / 1_000_000;
        let (days, rem) = (secs / 86400, secs % 86400);
        let (y, mo, d) = civil_from_days(days as i64);
        let (h, mi, s) = (rem / 3600, (rem / 60) % 60, rem % 60);
        CimDateTime(format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}.{us:06}+000"))
    }

    pub fn is_interval(&self) -> bool {
        self.0.as_bytes()[21] == b':'
    }

    /// Microseconds: the interval length, or the time since the epoch (UTC) of a timestamp.
    /// Wildcard (`*`) digits count as zero.
    pub fn micros(&self) -> u64 {
        let b = self.0.as_bytes();
        let num = |r: std::ops::Range<usize>| {
            b[r].iter().fold(0u64, |a, c| a * 10 + if c.is_ascii_digit() { (c - b'0') as u64 } else { 0 })
        };
        let us = num(15..21);
        if self.is_interval() {
            let secs = num(0..8) * 86400 + num(8..10) * 3600 + num(10..12) * 60 + num(12..14);
            return secs * 1_000_000 + us;
        }
        let days = days_from_civil(num(0..4) as i64, num(4..6) as u32, num(6..8) as u32);
        let mut secs = days * 86400 + (num(8..10) * 3600 + num(10..12) * 60 + num(12..14)) as i64;
        let off = num(22..25) as i64 * 60;
        secs -= if b[21] == b'-' { -off } else { off };
        (secs.max(0) as u64) * 1_000_000 + us
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CimDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// Howard Hinnant's civil calendar algorithms.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A CIM object path: namespace, class name and key bindings (host optional).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ObjectPath {
    pub host: Option<String>,
    pub namespace: String,
    pub classname: String,
    /// Key bindings in order.
    pub keys: Vec<(String, CimValue)>,
}

impl ObjectPath {
    pub fn new(namespace: impl Into<String>, classname: impl Into<String>) -> Self {
        ObjectPath { host: None, namespace: namespace.into(), classname: classname.into(), keys: Vec::new() }
    }
    /// Builder: adds a key binding.
    pub fn with_key(mut self, name: impl Into<String>, value: impl Into<CimValue>) -> Self {
        self.keys.push((name.into(), value.into()));
        self
    }
    /// The key named `name` (case-insensitive, as in CIM).
    pub fn key(&self, name: &str) -> Option<&CimValue> {
        self.keys.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.namespace, self.classname)?;
        for (i, (k, v)) in self.keys.iter().enumerate() {
            let sep = if i == 0 { '.' } else { ',' };
            match v {
                CimValue::String(s) => write!(f, "{sep}{k}=\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))?,
                CimValue::Boolean(b) => write!(f, "{sep}{k}={}", if *b { "TRUE" } else { "FALSE" })?,
                CimValue::Reference(r) => write!(f, "{sep}{k}=\"{}\"", r.to_string().replace('"', "\\\""))?,
                other => write!(f, "{sep}{k}={}", scalar_text(other))?,
            }
        }
        Ok(())
    }
}

fn scalar_text(v: &CimValue) -> String {
    match v {
        CimValue::Char16(c) => c.to_string(),
        CimValue::Uint8(x) => x.to_string(),
        CimValue::Uint16(x) => x.to_string(),
        CimValue::Uint32(x) => x.to_string(),
        CimValue::Uint64(x) => x.to_string(),
        CimValue::Sint8(x) => x.to_string(),
        CimValue::Sint16(x) => x.to_string(),
        CimValue::Sint32(x) => x.to_string(),
        CimValue::Sint64(x) => x.to_string(),
        CimValue::Real32(x) => x.to_string(),
        CimValue::Real64(x) => x.to_string(),
        CimValue::DateTime(d) => d.to_string(),
        other => format!("{other:?}"),
    }
}

/// A CIM instance: its object path (namespace, class name, keys) and its properties in order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Instance {
    pub path: ObjectPath,
    pub properties: Vec<(String, CimValue)>,
}

impl Instance {
    /// An instance of the class named by `path` (keys of `path` are kept).
    pub fn new(path: ObjectPath) -> Self {
        Instance { path, properties: Vec::new() }
    }
    pub fn classname(&self) -> &str {
        &self.path.classname
    }
    /// Builder: sets a property (replacing one of the same name).
    pub fn with(mut self, name: impl Into<String>, value: impl Into<CimValue>) -> Self {
        self.set(name, value);
        self
    }
    /// Sets a property (replacing one of the same name, case-insensitively).
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<CimValue>) {
        let (name, value) = (name.into(), value.into());
        match self.properties.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(&name)) {
            Some(slot) => slot.1 = value,
            None => self.properties.push((name, value)),
        }
    }
    /// The property named `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&CimValue> {
        self.properties.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }
}

/// Method parameters: (name, value) pairs in order.
pub type Args = Vec<(String, CimValue)>;

/// The result of a method invocation.
#[derive(Clone, Debug, PartialEq)]
pub struct MethodResult {
    /// `None` when the provider returned no value.
    pub return_value: Option<CimValue>,
    pub out_args: Args,
}

/// An error carrying a CMPI return code (`CMPI_RC_*`) and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CmpiError {
    pub rc: CMPIrc,
    pub message: String,
}

impl CmpiError {
    pub fn new(rc: CMPIrc, message: impl Into<String>) -> Self {
        CmpiError { rc, message: message.into() }
    }
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(CMPI_RC_ERR_FAILED, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(CMPI_RC_ERR_NOT_FOUND, message)
    }
    pub fn not_supported(message: impl Into<String>) -> Self {
        Self::new(CMPI_RC_ERR_NOT_SUPPORTED, message)
    }
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(CMPI_RC_ERR_INVALID_PARAMETER, message)
    }
    /// The symbolic name of the rc, e.g. `CIM_ERR_NOT_FOUND`.
    pub fn rc_name(&self) -> &'static str {
        match self.rc {
            0 => "CIM_ERR_OK",
            1 => "CIM_ERR_FAILED",
            2 => "CIM_ERR_ACCESS_DENIED",
            3 => "CIM_ERR_INVALID_NAMESPACE",
            4 => "CIM_ERR_INVALID_PARAMETER",
            5 => "CIM_ERR_INVALID_CLASS",
            6 => "CIM_ERR_NOT_FOUND",
            7 => "CIM_ERR_NOT_SUPPORTED",
            8 => "CIM_ERR_CLASS_HAS_CHILDREN",
            9 => "CIM_ERR_CLASS_HAS_INSTANCES",
            10 => "CIM_ERR_INVALID_SUPERCLASS",
            11 => "CIM_ERR_ALREADY_EXISTS",
            12 => "CIM_ERR_NO_SUCH_PROPERTY",
            13 => "CIM_ERR_TYPE_MISMATCH",
            14 => "CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED",
            15 => "CIM_ERR_INVALID_QUERY",
            16 => "CIM_ERR_METHOD_NOT_AVAILABLE",
            17 => "CIM_ERR_METHOD_NOT_FOUND",
            _ => "CMPI_RC_OTHER",
        }
    }
}

impl fmt::Display for CmpiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.rc_name(), self.rc, self.message)
    }
}

impl std::error::Error for CmpiError {}

/// Per-call context the broker passes to a provider (the CMPIContext entries).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct CallContext {
    /// `CMPIInitNameSpace`.
    pub namespace: Option<String>,
    /// `CMPIPrincipal`.
    pub principal: Option<String>,
    /// `CMPIInvocationFlags` (`CMPI_FLAG_*`).
    pub invocation_flags: u32,
    /// `CMPIRole`.
    pub role: Option<String>,
    /// Other entries, by name.
    pub other: Vec<(String, CimValue)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_roundtrips() {
        let t = CimDateTime::from_unix_micros(1_700_000_000_123_456);
        assert_eq!(t.as_str(), "20231114221320.123456+000");
        assert_eq!(t.micros(), 1_700_000_000_123_456);
        assert!(!t.is_interval());
        let i = CimDateTime::interval(3 * 86_400_000_000 + 4_000_007);
        assert_eq!(i.as_str(), "00000003000004.000007:000");
        assert_eq!(i.micros(), 3 * 86_400_000_000 + 4_000_007);
        assert!(i.is_interval());
        let off = CimDateTime::parse("20231114231320.123456+060").unwrap();
        assert_eq!(off.micros(), 1_700_000_000_123_456);
        assert!(CimDateTime::parse("2023").is_err());
        assert!(CimDateTime::parse("20231114231320x123456+060").is_err());
    }

    #[test]
    fn type_codes_map_both_ways() {
        for t in [CimType::Boolean, CimType::Uint64, CimType::Reference, CimType::Instance, CimType::DateTime] {
            assert_eq!(CimType::from_cmpi(t.cmpi_type()), Some(t));
        }
        assert_eq!(CimValue::Array(CimType::Sint8, vec![]).cmpi_type(), CMPI_sint8A);
        assert_eq!(CimType::from_cmpi(CMPI_chars), Some(CimType::String));
    }
}
