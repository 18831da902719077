//! The CIM-XML mapping (DSP0201): decoding requests into calls with raw
//! parameters, decoding values, paths and instances, and encoding classes,
//! instances, paths, qualifier declarations and responses.
//!
//! Written by hand over [`crate::xml`]: no maintained Rust crate implements
//! DSP0201.

use crate::error::{CimError, CimResult};
use crate::model::*;
use crate::xml::{Element, XmlOut};

/// A decoded `<MESSAGE>` with one `<SIMPLEREQ>`.
#[derive(Debug, Clone)]
pub struct Request {
    pub id: String,
    pub protocol_version: String,
    pub call: Call,
}

#[derive(Debug, Clone)]
pub enum Call {
    /// `<IMETHODCALL NAME=...>`: parameters by name (IPARAMVALUE children).
    Intrinsic { name: String, namespace: String, params: Vec<(String, Element)> },
    /// `<METHODCALL NAME=...>` on an instance or class path.
    Extrinsic { name: String, namespace: String, target: ObjectPath, is_class: bool, params: Vec<(String, Element)> },
}

impl Call {
    pub fn name(&self) -> &str {
        match self {
            Call::Intrinsic { name, .. } | Call::Extrinsic { name, .. } => name,
        }
    }
}

/// Why a body could not be turned into a request: these map to HTTP 400
/// with a CIMError header, not to CIM status codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// `request-not-well-formed`
    NotWellFormed(String),
    /// `request-not-valid`
    NotValid(String),
    /// `unsupported-cim-version` / `unsupported-dtd-version`
    UnsupportedVersion(&'static str),
    /// `multiple-requests-unsupported`
    MultipleRequests,
}

fn invalid(msg: impl Into<String>) -> RequestError {
    RequestError::NotValid(msg.into())
}

/// Decodes a request body.
pub fn decode_request(body: &[u8]) -> Result<Request, RequestError> {
    let root = crate::xml::parse(body).map_err(RequestError::NotWellFormed)?;
    if root.name != "CIM" {
        return Err(invalid(format!("root element is <{}>, expected <CIM>", root.name)));
    }
    match root.attr("CIMVERSION") {
        Some(v) if v.starts_with("2.") => {}
        Some(_) => return Err(RequestError::UnsupportedVersion("unsupported-cim-version")),
        None => return Err(invalid("CIMVERSION missing")),
    }
    match root.attr("DTDVERSION") {
        Some(v) if v.starts_with("2.") => {}
        Some(_) => return Err(RequestError::UnsupportedVersion("unsupported-dtd-version")),
        None => return Err(invalid("DTDVERSION missing")),
    }
    let msg = root.child("MESSAGE").ok_or_else(|| invalid("MESSAGE missing"))?;
    let id = msg.attr("ID").ok_or_else(|| invalid("MESSAGE ID missing"))?.to_string();
    let protocol_version = msg.attr("PROTOCOLVERSION").ok_or_else(|| invalid("PROTOCOLVERSION missing"))?.to_string();
    if msg.child("MULTIREQ").is_some() {
        return Err(RequestError::MultipleRequests);
    }
    let req = msg.child("SIMPLEREQ").ok_or_else(|| invalid("SIMPLEREQ missing"))?;
    let call = if let Some(mc) = req.child("IMETHODCALL") {
        let name = mc.attr("NAME").ok_or_else(|| invalid("IMETHODCALL NAME missing"))?.to_string();
        let nsp = mc.child("LOCALNAMESPACEPATH").ok_or_else(|| invalid("LOCALNAMESPACEPATH missing"))?;
        let namespace = decode_local_namespace(nsp).map_err(|e| invalid(e.description))?;
        let mut params = Vec::new();
        for p in mc.children_named("IPARAMVALUE") {
            let pname = p.attr("NAME").ok_or_else(|| invalid("IPARAMVALUE NAME missing"))?;
            params.push((pname.to_string(), p.clone()));
        }
        Call::Intrinsic { name, namespace, params }
    } else if let Some(mc) = req.child("METHODCALL") {
        let name = mc.attr("NAME").ok_or_else(|| invalid("METHODCALL NAME missing"))?.to_string();
        let (namespace, target, is_class) = if let Some(lip) = mc.child("LOCALINSTANCEPATH") {
            let ns = decode_local_namespace(lip.child("LOCALNAMESPACEPATH").ok_or_else(|| invalid("LOCALNAMESPACEPATH missing"))?)
                .map_err(|e| invalid(e.description))?;
            let inm = lip.child("INSTANCENAME").ok_or_else(|| invalid("INSTANCENAME missing"))?;
            (ns, decode_instance_name(inm).map_err(|e| invalid(e.description))?, false)
        } else if let Some(lcp) = mc.child("LOCALCLASSPATH") {
            let ns = decode_local_namespace(lcp.child("LOCALNAMESPACEPATH").ok_or_else(|| invalid("LOCALNAMESPACEPATH missing"))?)
                .map_err(|e| invalid(e.description))?;
            let cn = lcp.child("CLASSNAME").and_then(|c| c.attr("NAME")).ok_or_else(|| invalid("CLASSNAME missing"))?;
            (ns, ObjectPath::new(cn), true)
        } else {
            return Err(invalid("METHODCALL needs LOCALINSTANCEPATH or LOCALCLASSPATH"));
        };
        let mut params = Vec::new();
        for p in mc.children_named("PARAMVALUE") {
            let pname = p.attr("NAME").ok_or_else(|| invalid("PARAMVALUE NAME missing"))?;
            params.push((pname.to_string(), p.clone()));
        }
        Call::Extrinsic { name, namespace, target, is_class, params }
    } else {
        return Err(invalid("SIMPLEREQ holds neither IMETHODCALL nor METHODCALL"));
    };
    Ok(Request { id, protocol_version, call })
}

fn bad(msg: impl Into<String>) -> CimError {
    CimError::invalid_parameter(msg)
}

pub fn decode_local_namespace(el: &Element) -> CimResult<String> {
    let parts: Vec<&str> = el.children_named("NAMESPACE").filter_map(|n| n.attr("NAME")).collect();
    if parts.is_empty() {
        return Err(bad("empty namespace path"));
    }
    Ok(parts.join("/"))
}

fn decode_keyvalue(kv: &Element) -> CimResult<Value> {
    let text = kv.text.as_str();
    if let Some(t) = kv.attr("TYPE").and_then(CimType::parse) {
        if t != CimType::String && t != CimType::Reference {
            return Value::parse_typed(t, text).map_err(bad);
        }
    }
    Ok(match kv.attr("VALUETYPE").unwrap_or("string") {
        "string" => Value::String(text.to_string()),
        "boolean" => Value::parse_typed(CimType::Boolean, text).map_err(bad)?,
        "numeric" => {
            let t = text.trim();
            if let Some(i) = parse_int_text(t) {
                // CIM integers are at most 64 bits: a wider key is an error, not a truncated one
                let v = if i < 0 { i64::try_from(i).map(Value::SInt).ok() } else { u64::try_from(i).map(Value::UInt).ok() };
                v.ok_or_else(|| bad(format!("numeric key '{t}' is out of the 64-bit range")))?
            } else {
                Value::Real(t.parse().map_err(|_| bad(format!("bad numeric key '{t}'")))?)
            }
        }
        other => return Err(bad(format!("unknown VALUETYPE {other}"))),
    })
}

/// `<INSTANCENAME CLASSNAME=..>` with KEYBINDINGs (or one bare KEYVALUE / VALUE.REFERENCE).
pub fn decode_instance_name(el: &Element) -> CimResult<ObjectPath> {
    if el.name != "INSTANCENAME" {
        return Err(bad(format!("expected INSTANCENAME, found {}", el.name)));
    }
    let cls = el.attr("CLASSNAME").ok_or_else(|| bad("INSTANCENAME without CLASSNAME"))?;
    let mut p = ObjectPath::new(cls);
    for kb in el.children_named("KEYBINDING") {
        let name = kb.attr("NAME").ok_or_else(|| bad("KEYBINDING without NAME"))?;
        let v = if let Some(kv) = kb.child("KEYVALUE") {
            decode_keyvalue(kv)?
        } else if let Some(r) = kb.child("VALUE.REFERENCE") {
            Value::Reference(decode_value_reference(r)?)
        } else {
            return Err(bad("KEYBINDING without value"));
        };
        p.keys.push((name.to_string(), v));
    }
    if p.keys.is_empty() {
        if let Some(kv) = el.child("KEYVALUE") {
            p.keys.push((String::new(), decode_keyvalue(kv)?));
        }
    }
    Ok(p)
}

fn decode_namespace_path(el: &Element) -> CimResult<(Option<String>, String)> {
    let host = el.child("HOST").map(|h| h.text.trim().to_string());
    let lnp = el.child("LOCALNAMESPACEPATH").ok_or_else(|| bad("NAMESPACEPATH without LOCALNAMESPACEPATH"))?;
    Ok((host, decode_local_namespace(lnp)?))
}

/// Any of the reference forms inside VALUE.REFERENCE (or the element itself).
pub fn decode_value_reference(el: &Element) -> CimResult<ObjectPath> {
    let inner = if el.name == "VALUE.REFERENCE" {
        el.children.first().ok_or_else(|| bad("empty VALUE.REFERENCE"))?
    } else {
        el
    };
    match inner.name.as_str() {
        "INSTANCENAME" => decode_instance_name(inner),
        "CLASSNAME" => Ok(ObjectPath::new(inner.attr("NAME").ok_or_else(|| bad("CLASSNAME without NAME"))?)),
        "LOCALINSTANCEPATH" => {
            let ns = decode_local_namespace(inner.child("LOCALNAMESPACEPATH").ok_or_else(|| bad("no namespace"))?)?;
            let mut p = decode_instance_name(inner.child("INSTANCENAME").ok_or_else(|| bad("no INSTANCENAME"))?)?;
            p.namespace = Some(ns);
            Ok(p)
        }
        "INSTANCEPATH" => {
            let (host, ns) = decode_namespace_path(inner.child("NAMESPACEPATH").ok_or_else(|| bad("no NAMESPACEPATH"))?)?;
            let mut p = decode_instance_name(inner.child("INSTANCENAME").ok_or_else(|| bad("no INSTANCENAME"))?)?;
            p.namespace = Some(ns);
            p.host = host;
            Ok(p)
        }
        "LOCALCLASSPATH" | "CLASSPATH" => {
            let mut p = ObjectPath::new(
                inner.child("CLASSNAME").and_then(|c| c.attr("NAME")).ok_or_else(|| bad("no CLASSNAME"))?,
            );
            if let Some(l) = inner.child("LOCALNAMESPACEPATH") {
                p.namespace = Some(decode_local_namespace(l)?);
            } else if let Some(n) = inner.child("NAMESPACEPATH") {
                let (h, ns) = decode_namespace_path(n)?;
                p.host = h;
                p.namespace = Some(ns);
            }
            Ok(p)
        }
        other => Err(bad(format!("unexpected <{other}> as a reference"))),
    }
}

/// A value as sent, before it is typed against a definition.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    Null,
    Scalar(String),
    Array(Vec<Option<String>>),
    Ref(ObjectPath),
    RefArray(Vec<ObjectPath>),
}

/// Finds the value child of a PROPERTY / PARAMVALUE / IPARAMVALUE.
pub fn raw_value(el: &Element) -> CimResult<RawValue> {
    for c in &el.children {
        match c.name.as_str() {
            "VALUE" => return Ok(RawValue::Scalar(c.text.clone())),
            "VALUE.ARRAY" => {
                let mut v = Vec::new();
                for i in &c.children {
                    match i.name.as_str() {
                        "VALUE" => v.push(Some(i.text.clone())),
                        "VALUE.NULL" => v.push(None),
                        other => return Err(bad(format!("unexpected <{other}> in VALUE.ARRAY"))),
                    }
                }
                return Ok(RawValue::Array(v));
            }
            "VALUE.REFERENCE" => return Ok(RawValue::Ref(decode_value_reference(c)?)),
            "VALUE.REFARRAY" => {
                let mut v = Vec::new();
                for i in c.children_named("VALUE.REFERENCE") {
                    v.push(decode_value_reference(i)?);
                }
                return Ok(RawValue::RefArray(v));
            }
            "VALUE.NULL" => return Ok(RawValue::Null),
            _ => {}
        }
    }
    Ok(RawValue::Null)
}

/// Types a raw value as `ty` (array when `is_array`).
pub fn type_raw(raw: &RawValue, ty: CimType, is_array: bool, what: &str) -> CimResult<Option<Value>> {
    let tm = |m: String| CimError::invalid_parameter(format!("{what}: {m}"));
    match (raw, is_array) {
        (RawValue::Null, _) => Ok(None),
        (RawValue::Scalar(s), false) => Value::parse_typed(ty, s).map(Some).map_err(tm),
        (RawValue::Array(items), true) => {
            let mut out = Vec::with_capacity(items.len());
            for it in items {
                match it {
                    Some(s) => out.push(Value::parse_typed(ty, s).map_err(tm)?),
                    None => return Err(tm("null array elements are not supported".into())),
                }
            }
            Ok(Some(Value::Array(out)))
        }
        (RawValue::Ref(p), false) if ty == CimType::Reference => Ok(Some(Value::Reference(p.clone()))),
        (RawValue::RefArray(ps), true) if ty == CimType::Reference => {
            Ok(Some(Value::Array(ps.iter().cloned().map(Value::Reference).collect())))
        }
        (_, true) => Err(tm(format!("expected an array of {ty}"))),
        (_, false) => Err(tm(format!("expected a single {ty}"))),
    }
}

/// An instance as sent: class name and raw properties with their TYPE.
#[derive(Debug, Clone)]
pub struct RawInstance {
    pub class_name: String,
    pub properties: Vec<(String, Option<CimType>, bool, RawValue)>,
}

pub fn decode_instance(el: &Element) -> CimResult<RawInstance> {
    if el.name != "INSTANCE" {
        return Err(bad(format!("expected INSTANCE, found {}", el.name)));
    }
    let class_name = el.attr("CLASSNAME").ok_or_else(|| bad("INSTANCE without CLASSNAME"))?.to_string();
    let mut properties = Vec::new();
    for p in &el.children {
        let (is_array, default_ty) = match p.name.as_str() {
            "PROPERTY" => (false, None),
            "PROPERTY.ARRAY" => (true, None),
            "PROPERTY.REFERENCE" => (false, Some(CimType::Reference)),
            _ => continue,
        };
        let name = p.attr("NAME").ok_or_else(|| bad("PROPERTY without NAME"))?.to_string();
        let ty = default_ty.or_else(|| p.attr("TYPE").and_then(CimType::parse));
        properties.push((name, ty, is_array, raw_value(p)?));
    }
    Ok(RawInstance { class_name, properties })
}

/// Types a raw instance against its class. Unknown properties and values of
/// the wrong type are INVALID_PARAMETER (DSP0200 CreateInstance/ModifyInstance).
pub fn type_instance(raw: &RawInstance, class: &Class) -> CimResult<Instance> {
    let mut inst = Instance::new(class.name.clone());
    for (name, sent_ty, sent_array, rv) in &raw.properties {
        let prop = class
            .property(name)
            .ok_or_else(|| CimError::invalid_parameter(format!("class {} has no property {name}", class.name)))?;
        if let Some(t) = sent_ty {
            if *t != prop.ty {
                return Err(CimError::invalid_parameter(format!(
                    "property {}: sent as {t}, declared {}",
                    prop.name, prop.ty
                )));
            }
        }
        if *sent_array != prop.is_array && !matches!(rv, RawValue::Null) {
            return Err(CimError::invalid_parameter(format!("property {}: array mismatch", prop.name)));
        }
        let value = type_raw(rv, prop.ty, prop.is_array, &format!("property {}", prop.name))?;
        inst.properties.push(PropertyValue {
            name: prop.name.clone(),
            ty: prop.ty,
            is_array: prop.is_array,
            reference_class: prop.reference_class.clone(),
            value,
        });
    }
    Ok(inst)
}

// ---------------------------------------------------------------- encoding

/// Which parts of a class or instance to write.
#[derive(Debug, Clone, Default)]
pub struct ObjectFilter<'a> {
    pub local_only: bool,
    pub include_qualifiers: bool,
    pub include_class_origin: bool,
    /// None: all properties. Names compare case-insensitively.
    pub property_list: Option<&'a [String]>,
}

impl ObjectFilter<'_> {
    pub fn wants(&self, name: &str) -> bool {
        match self.property_list {
            None => true,
            Some(l) => l.iter().any(|n| n.eq_ignore_ascii_case(name)),
        }
    }
}

fn bool_attr(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

pub fn write_value(o: &mut XmlOut, v: &Value) {
    match v {
        Value::Array(items) => {
            if items.iter().any(|i| matches!(i, Value::Reference(_))) {
                o.open("VALUE.REFARRAY", &[]);
                for i in items {
                    write_value(o, i);
                }
                o.close("VALUE.REFARRAY");
            } else {
                o.open("VALUE.ARRAY", &[]);
                for i in items {
                    o.leaf("VALUE", &[], &i.to_text());
                }
                o.close("VALUE.ARRAY");
            }
        }
        Value::Reference(p) => {
            o.open("VALUE.REFERENCE", &[]);
            write_reference_path(o, p);
            o.close("VALUE.REFERENCE");
        }
        other => o.leaf("VALUE", &[], &other.to_text()),
    }
}

pub fn write_local_namespace(o: &mut XmlOut, ns: &str) {
    o.open("LOCALNAMESPACEPATH", &[]);
    for part in ns.split('/').filter(|s| !s.is_empty()) {
        o.empty("NAMESPACE", &[("NAME", part)]);
    }
    o.close("LOCALNAMESPACEPATH");
}

pub fn write_instance_name(o: &mut XmlOut, p: &ObjectPath) {
    o.open("INSTANCENAME", &[("CLASSNAME", &p.class_name)]);
    for (k, v) in &p.keys {
        o.open("KEYBINDING", &[("NAME", k)]);
        match v {
            Value::Reference(r) => {
                o.open("VALUE.REFERENCE", &[]);
                write_reference_path(o, r);
                o.close("VALUE.REFERENCE");
            }
            Value::Boolean(_) => o.leaf("KEYVALUE", &[("VALUETYPE", "boolean")], &v.to_text()),
            Value::UInt(_) | Value::SInt(_) | Value::Real(_) => o.leaf("KEYVALUE", &[("VALUETYPE", "numeric")], &v.to_text()),
            Value::DateTime(_) => o.leaf("KEYVALUE", &[("VALUETYPE", "string"), ("TYPE", "datetime")], &v.to_text()),
            _ => o.leaf("KEYVALUE", &[("VALUETYPE", "string")], &v.to_text()),
        }
        o.close("KEYBINDING");
    }
    o.close("INSTANCENAME");
}

/// The most specific path form the path's parts allow.
fn write_reference_path(o: &mut XmlOut, p: &ObjectPath) {
    match (&p.host, &p.namespace) {
        (Some(_), Some(_)) => write_instance_path(o, p, p.host.as_deref().unwrap()),
        (None, Some(ns)) => {
            o.open("LOCALINSTANCEPATH", &[]);
            write_local_namespace(o, ns);
            write_instance_name(o, p);
            o.close("LOCALINSTANCEPATH");
        }
        _ => write_instance_name(o, p),
    }
}

/// `<INSTANCEPATH>` with NAMESPACEPATH (host required there).
pub fn write_instance_path(o: &mut XmlOut, p: &ObjectPath, default_host: &str) {
    o.open("INSTANCEPATH", &[]);
    o.open("NAMESPACEPATH", &[]);
    o.leaf("HOST", &[], p.host.as_deref().unwrap_or(default_host));
    write_local_namespace(o, p.namespace.as_deref().unwrap_or("root/cimv2"));
    o.close("NAMESPACEPATH");
    write_instance_name(o, p);
    o.close("INSTANCEPATH");
}

pub fn write_class_path(o: &mut XmlOut, host: &str, ns: &str, class: &str) {
    o.open("CLASSPATH", &[]);
    o.open("NAMESPACEPATH", &[]);
    o.leaf("HOST", &[], host);
    write_local_namespace(o, ns);
    o.close("NAMESPACEPATH");
    o.empty("CLASSNAME", &[("NAME", class)]);
    o.close("CLASSPATH");
}

pub fn write_qualifier(o: &mut XmlOut, q: &Qualifier) {
    let mut attrs: Vec<(&str, &str)> = vec![("NAME", &q.name), ("TYPE", q.ty.as_str())];
    if q.propagated {
        attrs.push(("PROPAGATED", "true"));
    }
    if !q.flavor.overridable {
        attrs.push(("OVERRIDABLE", "false"));
    }
    if !q.flavor.to_subclass {
        attrs.push(("TOSUBCLASS", "false"));
    }
    if q.flavor.translatable {
        attrs.push(("TRANSLATABLE", "true"));
    }
    match &q.value {
        None => o.empty("QUALIFIER", &attrs),
        Some(v) => {
            o.open("QUALIFIER", &attrs);
            write_value(o, v);
            o.close("QUALIFIER");
        }
    }
}

pub fn write_qualifier_decl(o: &mut XmlOut, d: &QualifierDecl) {
    let size = d.array_size.map(|s| s.to_string());
    let mut attrs: Vec<(&str, &str)> = vec![("NAME", &d.name), ("TYPE", d.ty.as_str()), ("ISARRAY", bool_attr(d.is_array))];
    if let Some(s) = &size {
        attrs.push(("ARRAYSIZE", s));
    }
    attrs.push(("OVERRIDABLE", bool_attr(d.flavor.overridable)));
    attrs.push(("TOSUBCLASS", bool_attr(d.flavor.to_subclass)));
    attrs.push(("TRANSLATABLE", bool_attr(d.flavor.translatable)));
    o.open("QUALIFIER.DECLARATION", &attrs);
    let scopes: Vec<(&str, &str)> =
        scope::NAMES.iter().map(|(bit, n)| (*n, bool_attr(d.scopes & bit != 0))).collect();
    o.empty("SCOPE", &scopes);
    if let Some(v) = &d.default {
        write_value(o, v);
    }
    o.close("QUALIFIER.DECLARATION");
}

fn feature_attrs<'a>(
    name: &'a str,
    origin: &'a str,
    propagated: bool,
    f: &ObjectFilter,
) -> Vec<(&'a str, &'a str)> {
    let mut a = vec![("NAME", name)];
    if f.include_class_origin {
        a.push(("CLASSORIGIN", origin));
    }
    if propagated {
        a.push(("PROPAGATED", "true"));
    }
    a
}

fn write_property_def(o: &mut XmlOut, p: &Property, f: &ObjectFilter, value: Option<&Value>, with_quals: &[Qualifier]) {
    let mut attrs = feature_attrs(&p.name, &p.class_origin, p.propagated, f);
    let size;
    let tag = if p.ty == CimType::Reference {
        attrs.insert(1, ("REFERENCECLASS", p.reference_class.as_deref().unwrap_or("")));
        "PROPERTY.REFERENCE"
    } else if p.is_array {
        attrs.insert(1, ("TYPE", p.ty.as_str()));
        if let Some(s) = p.array_size {
            size = s.to_string();
            attrs.push(("ARRAYSIZE", &size));
        }
        "PROPERTY.ARRAY"
    } else {
        attrs.insert(1, ("TYPE", p.ty.as_str()));
        "PROPERTY"
    };
    if let Some(kind) = embedded_kind(with_quals) {
        attrs.push(("EmbeddedObject", kind));
    }
    o.open(tag, &attrs);
    for q in with_quals {
        write_qualifier(o, q);
    }
    if let Some(v) = value {
        write_value(o, v);
    }
    o.close(tag);
}

/// DSP0201: EmbeddedObject="instance" for EmbeddedInstance properties,
/// "object" for EmbeddedObject ones.
fn embedded_kind(qs: &[Qualifier]) -> Option<&'static str> {
    if find_qualifier(qs, "EmbeddedInstance").is_some() {
        Some("instance")
    } else if has_true_qualifier(qs, "EmbeddedObject") {
        Some("object")
    } else {
        None
    }
}

/// True when every string of a value is CIM-XML (an embedded object); a
/// provider that puts anything else there gets a plain string property, so
/// clients do not fail parsing it.
fn holds_xml(v: Option<&Value>) -> bool {
    match v {
        None => true,
        Some(Value::String(s)) => s.trim_start().starts_with('<'),
        Some(Value::Array(a)) => a.iter().all(|i| holds_xml(Some(i))),
        Some(_) => false,
    }
}

/// `<CLASS>` honouring LocalOnly, IncludeQualifiers, IncludeClassOrigin, PropertyList.
pub fn write_class(o: &mut XmlOut, c: &Class, f: &ObjectFilter) {
    let mut attrs = vec![("NAME", c.name.as_str())];
    if let Some(s) = &c.superclass {
        attrs.push(("SUPERCLASS", s));
    }
    o.open("CLASS", &attrs);
    let none: &[Qualifier] = &[];
    if f.include_qualifiers {
        for q in c.qualifiers.iter().filter(|q| !(f.local_only && q.propagated)) {
            write_qualifier(o, q);
        }
    }
    for p in &c.properties {
        if (f.local_only && p.propagated) || !f.wants(&p.name) {
            continue;
        }
        let qs = if f.include_qualifiers { p.qualifiers.as_slice() } else { none };
        write_property_def(o, p, f, p.default.as_ref(), qs);
    }
    for m in &c.methods {
        if f.local_only && m.propagated {
            continue;
        }
        let mut attrs = feature_attrs(&m.name, &m.class_origin, m.propagated, f);
        attrs.insert(1, ("TYPE", m.return_type.as_str()));
        o.open("METHOD", &attrs);
        if f.include_qualifiers {
            for q in &m.qualifiers {
                write_qualifier(o, q);
            }
        }
        for p in &m.parameters {
            let size = p.array_size.map(|s| s.to_string());
            let (tag, mut a): (&str, Vec<(&str, &str)>) = match (p.ty == CimType::Reference, p.is_array) {
                (true, false) => ("PARAMETER.REFERENCE", vec![("NAME", &p.name), ("REFERENCECLASS", p.reference_class.as_deref().unwrap_or(""))]),
                (true, true) => ("PARAMETER.REFARRAY", vec![("NAME", &p.name), ("REFERENCECLASS", p.reference_class.as_deref().unwrap_or(""))]),
                (false, true) => ("PARAMETER.ARRAY", vec![("NAME", &p.name), ("TYPE", p.ty.as_str())]),
                (false, false) => ("PARAMETER", vec![("NAME", &p.name), ("TYPE", p.ty.as_str())]),
            };
            if p.is_array {
                if let Some(s) = &size {
                    a.push(("ARRAYSIZE", s));
                }
            }
            o.open(tag, &a);
            if f.include_qualifiers {
                for q in &p.qualifiers {
                    write_qualifier(o, q);
                }
            }
            o.close(tag);
        }
        o.close("METHOD");
    }
    o.close("CLASS");
}

/// `<INSTANCE>`; the class (when known) supplies class origin and qualifiers.
pub fn write_instance(o: &mut XmlOut, inst: &Instance, class: Option<&Class>, f: &ObjectFilter) {
    o.open("INSTANCE", &[("CLASSNAME", &inst.class_name)]);
    for pv in &inst.properties {
        if !f.wants(&pv.name) {
            continue;
        }
        let def = class.and_then(|c| c.property(&pv.name));
        let origin = def.map(|d| d.class_origin.as_str()).unwrap_or(&inst.class_name);
        let mut attrs = vec![("NAME", pv.name.as_str())];
        if f.include_class_origin {
            attrs.push(("CLASSORIGIN", origin));
        }
        let tag = if pv.ty == CimType::Reference {
            let rc = pv
                .reference_class
                .as_deref()
                .or_else(|| def.and_then(|d| d.reference_class.as_deref()))
                .unwrap_or("");
            if !rc.is_empty() {
                attrs.insert(1, ("REFERENCECLASS", rc));
            }
            "PROPERTY.REFERENCE"
        } else if pv.is_array {
            attrs.insert(1, ("TYPE", pv.ty.as_str()));
            "PROPERTY.ARRAY"
        } else {
            attrs.insert(1, ("TYPE", pv.ty.as_str()));
            "PROPERTY"
        };
        if let Some(kind) = def.and_then(|d| embedded_kind(&d.qualifiers)) {
            if holds_xml(pv.value.as_ref()) {
                attrs.push(("EmbeddedObject", kind));
            }
        }
        o.open(tag, &attrs);
        if f.include_qualifiers {
            if let Some(d) = def {
                for q in &d.qualifiers {
                    write_qualifier(o, q);
                }
            }
        }
        if let Some(v) = &pv.value {
            write_value(o, v);
        }
        o.close(tag);
    }
    o.close("INSTANCE");
}

/// Opens `<CIM><MESSAGE><SIMPLERSP>`.
pub fn begin_response(o: &mut XmlOut, id: &str) {
    o.buf.push_str("<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n");
    o.open("CIM", &[("CIMVERSION", "2.0"), ("DTDVERSION", "2.0")]);
    o.open("MESSAGE", &[("ID", id), ("PROTOCOLVERSION", "1.0")]);
    o.open("SIMPLERSP", &[]);
}

pub fn end_response(o: &mut XmlOut) {
    o.close("SIMPLERSP");
    o.close("MESSAGE");
    o.close("CIM");
}

pub fn write_error(o: &mut XmlOut, e: &CimError) {
    let code = e.code.to_string();
    o.empty("ERROR", &[("CODE", &code), ("DESCRIPTION", &e.description)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_intrinsic_call() {
        let body = br#"<?xml version="1.0" encoding="utf-8"?>
<CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="7" PROTOCOLVERSION="1.0"><SIMPLEREQ>
<IMETHODCALL NAME="GetInstance"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="cimv2"/></LOCALNAMESPACEPATH>
<IPARAMVALUE NAME="InstanceName"><INSTANCENAME CLASSNAME="X_A"><KEYBINDING NAME="Id"><KEYVALUE VALUETYPE="numeric">12</KEYVALUE></KEYBINDING>
<KEYBINDING NAME="R"><VALUE.REFERENCE><INSTANCENAME CLASSNAME="X_B"><KEYBINDING NAME="K"><KEYVALUE>s</KEYVALUE></KEYBINDING></INSTANCENAME></VALUE.REFERENCE></KEYBINDING>
</INSTANCENAME></IPARAMVALUE></IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>"#;
        let r = decode_request(body).unwrap();
        assert_eq!(r.id, "7");
        let Call::Intrinsic { name, namespace, params } = r.call else { panic!() };
        assert_eq!((name.as_str(), namespace.as_str()), ("GetInstance", "root/cimv2"));
        let p = decode_instance_name(&params[0].1.children[0]).unwrap();
        assert_eq!(p.key("id"), Some(&Value::UInt(12)));
        assert_eq!(
            p.key("R"),
            Some(&Value::Reference(ObjectPath::new("X_B").with_key("K", Value::String("s".into()))))
        );
    }

    #[test]
    fn request_errors() {
        assert!(matches!(decode_request(b"<CIM"), Err(RequestError::NotWellFormed(_))));
        assert!(matches!(decode_request(b"<FOO/>"), Err(RequestError::NotValid(_))));
        assert!(matches!(
            decode_request(br#"<CIM CIMVERSION="3.0" DTDVERSION="2.0"/>"#),
            Err(RequestError::UnsupportedVersion("unsupported-cim-version"))
        ));
        assert!(matches!(decode_request(br#"<CIM CIMVERSION="2.0" DTDVERSION="2.0"/>"#), Err(RequestError::NotValid(_))));
    }

    #[test]
    fn instance_name_round_trip() {
        let p = ObjectPath::new("X_A")
            .with_key("Name", Value::String("a<b".into()))
            .with_key("On", Value::Boolean(true))
            .with_key("N", Value::UInt(3));
        let mut o = XmlOut::new();
        write_instance_name(&mut o, &p);
        let el = crate::xml::parse(o.buf.as_bytes()).unwrap();
        assert_eq!(decode_instance_name(&el).unwrap(), p);
    }
}
