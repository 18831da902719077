//! CMPI provider libraries as broker providers: the provider manager.
//!
//! Registrations (SFCB `.reg`, see [`crate::registration`]) name a class, a
//! provider and a library `lib<location>.so`. Each (library, provider name)
//! is loaded once through cmpi-shim's broker side ([`ProviderLibrary`]) and
//! wrapped in a [`CmpiProvider`] that converts between the broker's model
//! and cmpi-shim's owned values. CMPI return codes are CIM status codes, so
//! a provider error becomes the same CIM error; a Rust panic while
//! converting is caught by the broker's `guarded`, and cmpi-shim catches
//! panics at its C boundary. (A provider that crashes the process in C code
//! is not contained: that would need out-of-process providers.)

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, PoisonError, Weak};

use anyhow::{bail, Context as _};
use cmpi_shim::broker::{IndicationFilter, ProviderLibrary};
use cmpi_shim::{CallContext, CimDateTime, CimType as CT, CimValue, CmpiError};

use crate::error::{CimError, CimResult};
use crate::model::*;
use crate::provider::{Context, MethodResult, ParamValue, Provider, ProviderRegistry};
use crate::indication::IndicationHub;
use crate::ops::Broker;
use crate::registration::Registration;

/// One loaded provider (a library and provider name) with the MI types its
/// registrations granted.
pub struct CmpiProvider {
    lib: Arc<ProviderLibrary>,
    association: bool,
    indication: bool,
}

/// Filled in once the broker exists: up-calls reach it through this.
pub type BrokerHandle = Arc<OnceLock<Weak<Broker>>>;

/// Up-calls from provider libraries: indications go to the hub, CIMOM
/// services (enumerate, get, associators, ...) are routed like client
/// operations, and `classPathIsA` asks the repository.
struct BrokerUpcalls {
    hub: Arc<IndicationHub>,
    broker: BrokerHandle,
}

fn no_broker() -> CmpiError {
    CmpiError::failed("the broker is not running yet")
}

fn cmpi_err(e: CimError) -> CmpiError {
    CmpiError::new(e.code, e.description)
}

impl BrokerUpcalls {
    fn broker(&self) -> Result<Arc<Broker>, CmpiError> {
        self.broker.get().and_then(Weak::upgrade).ok_or_else(no_broker)
    }

    /// The broker-side context of an up-call on `op`.
    fn ctx(ctx: &CallContext, op: &cmpi_shim::ObjectPath) -> Context {
        let ns = if !op.namespace.is_empty() {
            op.namespace.clone()
        } else {
            ctx.namespace.clone().unwrap_or_else(|| "root/cimv2".to_string())
        };
        Context { namespace: crate::repo::normalize_ns(&ns), principal: ctx.principal.clone(), role: ctx.role.clone() }
    }

    fn out(b: &Broker, ns: &str, i: &Instance) -> Result<cmpi_shim::Instance, CmpiError> {
        let class = b.class_in(ns, &i.class_name).map_err(cmpi_err)?;
        instance_to_cmpi(i, &class, ns).map_err(cmpi_err)
    }

    fn out_path(ns: &str, p: &ObjectPath) -> Result<cmpi_shim::ObjectPath, CmpiError> {
        path_to_cmpi(p, None, ns).map_err(cmpi_err)
    }
}

fn keep(props: Option<&[String]>, mut i: Instance) -> Instance {
    if let Some(l) = props {
        i.properties.retain(|p| l.iter().any(|n| n.eq_ignore_ascii_case(&p.name)));
    }
    i
}

impl cmpi_shim::broker::Upcalls for BrokerUpcalls {
    fn deliver_indication(&self, _ctx: &CallContext, namespace: &str, indication: cmpi_shim::Instance) -> Result<(), CmpiError> {
        let class = self.broker().ok().and_then(|b| b.class_in(namespace, &indication.path.classname).ok());
        self.hub.deliver(namespace, instance_from_cmpi(&indication, class.as_deref()));
        Ok(())
    }

    fn class_is_a(&self, namespace: &str, class: &str, parent: &str) -> bool {
        match self.broker() {
            Ok(b) => b.repo.read().unwrap_or_else(PoisonError::into_inner).namespace(namespace).map(|n| n.is_subclass_of(class, parent)).unwrap_or(false),
            Err(_) => class.eq_ignore_ascii_case(parent),
        }
    }

    fn log(&self, level: i32, component: &str, text: &str) {
        tracing::info!(target: "provider", "[{level}] {component}: {text}");
    }

    fn enumerate_instance_names(&self, ctx: &CallContext, op: &cmpi_shim::ObjectPath) -> Result<Vec<cmpi_shim::ObjectPath>, CmpiError> {
        let b = self.broker()?;
        let c = Self::ctx(ctx, op);
        let v = b.instances_of(&c, &op.classname).map_err(cmpi_err)?;
        v.iter().map(|(p, _)| Self::out_path(&c.namespace, p)).collect()
    }

    fn enumerate_instances(&self, ctx: &CallContext, op: &cmpi_shim::ObjectPath, properties: Option<&[String]>) -> Result<Vec<cmpi_shim::Instance>, CmpiError> {
        let b = self.broker()?;
        let c = Self::ctx(ctx, op);
        let v = b.instances_of(&c, &op.classname).map_err(cmpi_err)?;
        v.into_iter().map(|(_, i)| Self::out(&b, &c.namespace, &keep(properties, i))).collect()
    }

    fn get_instance(&self, ctx: &CallContext, op: &cmpi_shim::ObjectPath, properties: Option<&[String]>) -> Result<cmpi_shim::Instance, CmpiError> {
        let b = self.broker()?;
        let c = Self::ctx(ctx, op);
        let i = b.get_instance_in(&c, &path_from_cmpi(op)).map_err(cmpi_err)?;
        Self::out(&b, &c.namespace, &keep(properties, i))
    }

    fn associators(
        &self,
        ctx: &CallContext,
        op: &cmpi_shim::ObjectPath,
        assoc_class: Option<&str>,
        result_class: Option<&str>,
        role: Option<&str>,
        result_role: Option<&str>,
        properties: Option<&[String]>,
    ) -> Result<Vec<cmpi_shim::Instance>, CmpiError> {
        let b = self.broker()?;
        let c = Self::ctx(ctx, op);
        let v = b.associators_of(&c, &path_from_cmpi(op), assoc_class, result_class, role, result_role, true).map_err(cmpi_err)?;
        v.into_iter().filter_map(|(_, i)| i).map(|i| Self::out(&b, &c.namespace, &keep(properties, i))).collect()
    }

    fn associator_names(
        &self,
        ctx: &CallContext,
        op: &cmpi_shim::ObjectPath,
        assoc_class: Option<&str>,
        result_class: Option<&str>,
        role: Option<&str>,
        result_role: Option<&str>,
    ) -> Result<Vec<cmpi_shim::ObjectPath>, CmpiError> {
        let b = self.broker()?;
        let c = Self::ctx(ctx, op);
        let v = b.associators_of(&c, &path_from_cmpi(op), assoc_class, result_class, role, result_role, false).map_err(cmpi_err)?;
        v.iter().map(|(p, _)| Self::out_path(&c.namespace, p)).collect()
    }

    fn references(
        &self,
        ctx: &CallContext,
        op: &cmpi_shim::ObjectPath,
        result_class: Option<&str>,
        role: Option<&str>,
        properties: Option<&[String]>,
    ) -> Result<Vec<cmpi_shim::Instance>, CmpiError> {
        let b = self.broker()?;
        let c = Self::ctx(ctx, op);
        let v = b.references_of(&c, &path_from_cmpi(op), result_class, role).map_err(cmpi_err)?;
        v.into_iter().map(|(_, i, _)| Self::out(&b, &c.namespace, &keep(properties, i))).collect()
    }

    fn reference_names(
        &self,
        ctx: &CallContext,
        op: &cmpi_shim::ObjectPath,
        result_class: Option<&str>,
        role: Option<&str>,
    ) -> Result<Vec<cmpi_shim::ObjectPath>, CmpiError> {
        let b = self.broker()?;
        let c = Self::ctx(ctx, op);
        let v = b.references_of(&c, &path_from_cmpi(op), result_class, role).map_err(cmpi_err)?;
        v.iter().map(|(p, _, _)| Self::out_path(&c.namespace, p)).collect()
    }
}

fn cim_err(e: CmpiError) -> CimError {
    let code = if e.rc == 0 { crate::error::FAILED } else { e.rc };
    CimError::new(code, if e.message.is_empty() { e.rc_name().to_string() } else { e.message })
}

fn call_ctx(ctx: &Context) -> CallContext {
    CallContext { namespace: Some(ctx.namespace.clone()), principal: ctx.principal.clone(), role: ctx.role.clone(), ..Default::default() }
}

fn to_ct(t: CimType) -> CT {
    match t {
        CimType::Boolean => CT::Boolean,
        CimType::String => CT::String,
        CimType::Char16 => CT::Char16,
        CimType::DateTime => CT::DateTime,
        CimType::UInt8 => CT::Uint8,
        CimType::SInt8 => CT::Sint8,
        CimType::UInt16 => CT::Uint16,
        CimType::SInt16 => CT::Sint16,
        CimType::UInt32 => CT::Uint32,
        CimType::SInt32 => CT::Sint32,
        CimType::UInt64 => CT::Uint64,
        CimType::SInt64 => CT::Sint64,
        CimType::Real32 => CT::Real32,
        CimType::Real64 => CT::Real64,
        CimType::Reference => CT::Reference,
    }
}

fn from_ct(t: CT) -> CimType {
    match t {
        CT::Boolean => CimType::Boolean,
        CT::Char16 => CimType::Char16,
        CT::Uint8 => CimType::UInt8,
        CT::Uint16 => CimType::UInt16,
        CT::Uint32 => CimType::UInt32,
        CT::Uint64 => CimType::UInt64,
        CT::Sint8 => CimType::SInt8,
        CT::Sint16 => CimType::SInt16,
        CT::Sint32 => CimType::SInt32,
        CT::Sint64 => CimType::SInt64,
        CT::Real32 => CimType::Real32,
        CT::Real64 => CimType::Real64,
        CT::String | CT::Instance => CimType::String,
        CT::DateTime => CimType::DateTime,
        CT::Reference => CimType::Reference,
    }
}

/// A scalar model value as a CMPI value of type `t`.
fn scalar_to_cmpi(v: &Value, t: CimType, ns: &str) -> CimResult<CimValue> {
    let bad = || CimError::invalid_parameter(format!("value {} is not a {t}", v.to_text()));
    let int = |lo: i128, hi: i128| -> CimResult<i128> {
        let i = match v {
            Value::UInt(u) => *u as i128,
            Value::SInt(s) => *s as i128,
            _ => return Err(bad()),
        };
        if i < lo || i > hi {
            return Err(bad());
        }
        Ok(i)
    };
    Ok(match t {
        CimType::Boolean => CimValue::Boolean(v.as_bool().ok_or_else(bad)?),
        CimType::String => CimValue::String(v.to_text()),
        CimType::Char16 => match v {
            Value::Char16(c) => CimValue::Char16(*c as u32 as u16),
            _ => return Err(bad()),
        },
        CimType::DateTime => CimValue::DateTime(
            CimDateTime::parse(v.as_str().ok_or_else(bad)?).map_err(|e| CimError::invalid_parameter(e.message))?,
        ),
        CimType::UInt8 => CimValue::Uint8(int(0, u8::MAX as i128)? as u8),
        CimType::SInt8 => CimValue::Sint8(int(i8::MIN as i128, i8::MAX as i128)? as i8),
        CimType::UInt16 => CimValue::Uint16(int(0, u16::MAX as i128)? as u16),
        CimType::SInt16 => CimValue::Sint16(int(i16::MIN as i128, i16::MAX as i128)? as i16),
        CimType::UInt32 => CimValue::Uint32(int(0, u32::MAX as i128)? as u32),
        CimType::SInt32 => CimValue::Sint32(int(i32::MIN as i128, i32::MAX as i128)? as i32),
        CimType::UInt64 => CimValue::Uint64(int(0, u64::MAX as i128)? as u64),
        CimType::SInt64 => CimValue::Sint64(int(i64::MIN as i128, i64::MAX as i128)? as i64),
        CimType::Real32 => match v {
            Value::Real(r) => CimValue::Real32(*r as f32),
            _ => return Err(bad()),
        },
        CimType::Real64 => match v {
            Value::Real(r) => CimValue::Real64(*r),
            _ => return Err(bad()),
        },
        CimType::Reference => match v {
            Value::Reference(p) => CimValue::Reference(path_to_cmpi(p, None, ns)?),
            Value::String(s) => CimValue::Reference(path_to_cmpi(&ObjectPath::parse(s).map_err(CimError::invalid_parameter)?, None, ns)?),
            _ => return Err(bad()),
        },
    })
}

/// A typed model value (or null) as a CMPI value.
pub fn value_to_cmpi(v: Option<&Value>, t: CimType, is_array: bool, ns: &str) -> CimResult<CimValue> {
    match v {
        None => Ok(CimValue::Null { ty: to_ct(t), array: is_array }),
        Some(Value::Array(items)) => {
            Ok(CimValue::Array(to_ct(t), items.iter().map(|i| scalar_to_cmpi(i, t, ns)).collect::<CimResult<_>>()?))
        }
        Some(s) => scalar_to_cmpi(s, t, ns),
    }
}

/// The CIM type a key value most likely has when no class says.
fn guess_type(v: &Value) -> CimType {
    match v {
        Value::Boolean(_) => CimType::Boolean,
        Value::UInt(_) => CimType::UInt64,
        Value::SInt(_) => CimType::SInt64,
        Value::Real(_) => CimType::Real64,
        Value::Reference(_) => CimType::Reference,
        Value::DateTime(_) => CimType::DateTime,
        Value::Char16(_) => CimType::Char16,
        _ => CimType::String,
    }
}

/// An object path as cmpi-shim's; key types come from `class` when given.
pub fn path_to_cmpi(p: &ObjectPath, class: Option<&Class>, ns: &str) -> CimResult<cmpi_shim::ObjectPath> {
    let mut out = cmpi_shim::ObjectPath::new(p.namespace.clone().unwrap_or_else(|| ns.to_string()), p.class_name.clone());
    out.host = p.host.clone();
    for (k, v) in &p.keys {
        let t = class.and_then(|c| c.property(k)).map(|d| d.ty).unwrap_or_else(|| guess_type(v));
        // a key sent as a string for a numeric key is re-read with the declared type
        let v2 = match (v, t) {
            (Value::String(s), t) if t != CimType::String && t != CimType::Reference => {
                Value::parse_typed(t, s).map_err(CimError::invalid_parameter)?
            }
            _ => v.clone(),
        };
        out.keys.push((k.clone(), scalar_to_cmpi(&v2, t, ns)?));
    }
    Ok(out)
}

pub fn path_from_cmpi(p: &cmpi_shim::ObjectPath) -> ObjectPath {
    ObjectPath {
        host: p.host.clone(),
        namespace: if p.namespace.is_empty() { None } else { Some(p.namespace.clone()) },
        class_name: p.classname.clone(),
        keys: p.keys.iter().filter_map(|(k, v)| value_from_cmpi(v).map(|v| (k.clone(), v))).collect(),
    }
}

/// A CMPI value as a model value; embedded instances become their CIM-XML text.
pub fn value_from_cmpi(v: &CimValue) -> Option<Value> {
    Some(match v {
        CimValue::Boolean(b) => Value::Boolean(*b),
        CimValue::Char16(c) => Value::Char16(char::from_u32(*c as u32).unwrap_or('\u{fffd}')),
        CimValue::Uint8(x) => Value::UInt(*x as u64),
        CimValue::Uint16(x) => Value::UInt(*x as u64),
        CimValue::Uint32(x) => Value::UInt(*x as u64),
        CimValue::Uint64(x) => Value::UInt(*x),
        CimValue::Sint8(x) => Value::SInt(*x as i64),
        CimValue::Sint16(x) => Value::SInt(*x as i64),
        CimValue::Sint32(x) => Value::SInt(*x as i64),
        CimValue::Sint64(x) => Value::SInt(*x),
        CimValue::Real32(x) => Value::Real(*x as f64),
        CimValue::Real64(x) => Value::Real(*x),
        CimValue::String(s) => Value::String(s.clone()),
        CimValue::DateTime(d) => Value::DateTime(d.as_str().to_string()),
        CimValue::Reference(p) => Value::Reference(path_from_cmpi(p)),
        CimValue::Instance(i) => {
            let mut o = crate::xml::XmlOut::new();
            crate::cimxml::write_instance(&mut o, &instance_from_cmpi(i, None), None, &Default::default());
            Value::String(o.buf)
        }
        CimValue::Array(_, items) => Value::Array(items.iter().filter_map(value_from_cmpi).collect()),
        CimValue::Null { .. } => return None,
    })
}

/// A provider's instance as a model instance, typed from `class` when it
/// declares the property.
pub fn instance_from_cmpi(i: &cmpi_shim::Instance, class: Option<&Class>) -> Instance {
    let mut out = Instance::new(i.path.classname.clone());
    for (name, v) in &i.properties {
        let (ct, arr) = v.cim_type();
        let def = class.and_then(|c| c.property(name));
        out.properties.push(PropertyValue {
            name: def.map(|d| d.name.clone()).unwrap_or_else(|| name.clone()),
            ty: def.map(|d| d.ty).unwrap_or(from_ct(ct)),
            is_array: def.map(|d| d.is_array).unwrap_or(arr),
            reference_class: def.and_then(|d| d.reference_class.clone()),
            value: value_from_cmpi(v),
        });
    }
    // keys given only in the path
    for (k, v) in &i.path.keys {
        if out.get(k).is_none() {
            let def = class.and_then(|c| c.property(k));
            let (ct, _) = v.cim_type();
            out.properties.push(PropertyValue {
                name: k.clone(),
                ty: def.map(|d| d.ty).unwrap_or(from_ct(ct)),
                is_array: false,
                reference_class: def.and_then(|d| d.reference_class.clone()),
                value: value_from_cmpi(v),
            });
        }
    }
    out
}

pub fn instance_to_cmpi(i: &Instance, class: &Class, ns: &str) -> CimResult<cmpi_shim::Instance> {
    let path = path_to_cmpi(&i.path(class, Some(ns)), Some(class), ns)?;
    let mut out = cmpi_shim::Instance::new(path);
    for p in &i.properties {
        out.properties.push((p.name.clone(), value_to_cmpi(p.value.as_ref(), p.ty, p.is_array, ns)?));
    }
    Ok(out)
}

impl CmpiProvider {
    fn class_path(&self, ctx: &Context, class: &Class) -> cmpi_shim::ObjectPath {
        cmpi_shim::ObjectPath::new(ctx.namespace.clone(), class.name.clone())
    }
}

impl Provider for CmpiProvider {
    fn enumerate_instances(&self, ctx: &Context, class: &Class) -> CimResult<Vec<Instance>> {
        let r = self.lib.enumerate_instances(&call_ctx(ctx), &self.class_path(ctx, class), None).map_err(cim_err)?;
        Ok(r.iter().map(|i| instance_from_cmpi(i, Some(class))).collect())
    }

    fn enumerate_instance_names(&self, ctx: &Context, class: &Class) -> CimResult<Vec<ObjectPath>> {
        let r = self.lib.enumerate_instance_names(&call_ctx(ctx), &self.class_path(ctx, class)).map_err(cim_err)?;
        Ok(r.iter().map(path_from_cmpi).collect())
    }

    fn get_instance(&self, ctx: &Context, class: &Class, path: &ObjectPath) -> CimResult<Instance> {
        let op = path_to_cmpi(path, Some(class), &ctx.namespace)?;
        let i = self.lib.get_instance(&call_ctx(ctx), &op, None).map_err(cim_err)?;
        Ok(instance_from_cmpi(&i, Some(class)))
    }

    fn create_instance(&self, ctx: &Context, class: &Class, inst: Instance) -> CimResult<ObjectPath> {
        let ci = instance_to_cmpi(&inst, class, &ctx.namespace)?;
        let p = self.lib.create_instance(&call_ctx(ctx), &ci.path, &ci).map_err(cim_err)?;
        Ok(path_from_cmpi(&p))
    }

    fn modify_instance(&self, ctx: &Context, class: &Class, path: &ObjectPath, inst: Instance) -> CimResult<()> {
        let op = path_to_cmpi(path, Some(class), &ctx.namespace)?;
        let mut ci = cmpi_shim::Instance::new(op.clone());
        for p in &inst.properties {
            ci.properties.push((p.name.clone(), value_to_cmpi(p.value.as_ref(), p.ty, p.is_array, &ctx.namespace)?));
        }
        let names: Vec<&str> = inst.properties.iter().map(|p| p.name.as_str()).collect();
        self.lib.modify_instance(&call_ctx(ctx), &op, &ci, Some(&names)).map_err(cim_err)
    }

    fn delete_instance(&self, ctx: &Context, class: &Class, path: &ObjectPath) -> CimResult<()> {
        let op = path_to_cmpi(path, Some(class), &ctx.namespace)?;
        self.lib.delete_instance(&call_ctx(ctx), &op).map_err(cim_err)
    }

    fn references(&self, ctx: &Context, assoc_class: &Class, target: &ObjectPath, role: Option<&str>) -> Option<CimResult<Vec<Instance>>> {
        if !self.association {
            return None;
        }
        Some((|| {
            let op = path_to_cmpi(target, None, &ctx.namespace)?;
            let r = self.lib.references(&call_ctx(ctx), &op, Some(&assoc_class.name), role, None).map_err(cim_err)?;
            Ok(r.iter().map(|i| instance_from_cmpi(i, Some(assoc_class))).collect())
        })())
    }

    fn authorize_filter(&self, ctx: &Context, class: &Class, query: &str, language: &str, owner: &str) -> CimResult<()> {
        if !self.indication {
            return Ok(());
        }
        let f = IndicationFilter { query: query.to_string(), language: language.to_string() };
        match self.lib.authorize_filter(&call_ctx(ctx), &f, &class.name, &self.class_path(ctx, class), owner) {
            Ok(()) => Ok(()),
            // a provider without authorizeFilter accepts every subscriber
            Err(e) if e.rc == crate::error::NOT_SUPPORTED => Ok(()),
            Err(e) => Err(cim_err(e)),
        }
    }

    fn activate_filter(&self, ctx: &Context, class: &Class, query: &str, language: &str, first: bool) -> CimResult<()> {
        if !self.indication {
            return Ok(());
        }
        let f = IndicationFilter { query: query.to_string(), language: language.to_string() };
        self.lib.activate_filter(&call_ctx(ctx), &f, &class.name, &self.class_path(ctx, class), first).map_err(cim_err)
    }

    fn deactivate_filter(&self, ctx: &Context, class: &Class, query: &str, language: &str, last: bool) -> CimResult<()> {
        if !self.indication {
            return Ok(());
        }
        let f = IndicationFilter { query: query.to_string(), language: language.to_string() };
        self.lib.deactivate_filter(&call_ctx(ctx), &f, &class.name, &self.class_path(ctx, class), last).map_err(cim_err)
    }

    fn invoke_method(&self, ctx: &Context, class: &Class, target: &ObjectPath, method: &Method, params: Vec<ParamValue>) -> CimResult<MethodResult> {
        let op = path_to_cmpi(target, Some(class), &ctx.namespace)?;
        let mut args = Vec::with_capacity(params.len());
        for p in &params {
            args.push((p.name.clone(), value_to_cmpi(p.value.as_ref(), p.ty, p.is_array, &ctx.namespace)?));
        }
        let r = self.lib.invoke_method(&call_ctx(ctx), &op, &method.name, &args).map_err(cim_err)?;
        let out_params = r
            .out_args
            .iter()
            .map(|(n, v)| {
                let def = method.parameters.iter().find(|p| p.name.eq_ignore_ascii_case(n));
                let (ct, arr) = v.cim_type();
                PropertyValue {
                    name: def.map(|d| d.name.clone()).unwrap_or_else(|| n.clone()),
                    ty: def.map(|d| d.ty).unwrap_or(from_ct(ct)),
                    is_array: def.map(|d| d.is_array).unwrap_or(arr),
                    reference_class: def.and_then(|d| d.reference_class.clone()),
                    value: value_from_cmpi(v),
                }
            })
            .collect();
        Ok(MethodResult { return_value: r.return_value.as_ref().and_then(value_from_cmpi), out_params })
    }
}

fn find_library(reg: &Registration, dirs: &[PathBuf]) -> anyhow::Result<PathBuf> {
    let name = reg.library_file_name();
    let mut tried = Vec::new();
    let reg_dir = reg.file.parent().map(Path::to_path_buf);
    for d in dirs.iter().chain(reg_dir.iter()) {
        let p = d.join(&name);
        if p.is_file() {
            return Ok(p);
        }
        tried.push(d.display().to_string());
    }
    bail!(
        "{}:{}: [{}] library {name} not found (looked in {})",
        reg.file.display(),
        reg.line,
        reg.class,
        tried.join(", ")
    )
}

/// Loads every registration's library (once per library and provider name)
/// and registers the providers for their classes and namespaces. Returns what
/// was loaded, for the start-up summary.
pub fn load_registrations(
    regs: &[Registration],
    lib_dirs: &[PathBuf],
    registry: &mut ProviderRegistry,
    hub: Arc<IndicationHub>,
    broker: BrokerHandle,
) -> anyhow::Result<Loaded> {
    let upcalls: Arc<dyn cmpi_shim::broker::Upcalls> = Arc::new(BrokerUpcalls { hub, broker });
    let mut libs: HashMap<(PathBuf, String), Arc<ProviderLibrary>> = HashMap::new();
    let mut n = 0;
    for r in regs {
        let path = find_library(r, lib_dirs)?;
        let key = (path.clone(), r.provider.clone());
        let lib = match libs.get(&key) {
            Some(l) => l.clone(),
            None => {
                let l = Arc::new(
                    ProviderLibrary::load_with(&path, &r.provider, upcalls.clone())
                        .map_err(|e| anyhow::anyhow!("{e}"))
                        .with_context(|| format!("{}:{}: loading provider {} from {}", r.file.display(), r.line, r.provider, path.display()))?,
                );
                // One line per provider is detail: `xencim serve` sums them up in one line at info.
                tracing::debug!("loaded provider {} from {} ({:?})", r.provider, path.display(), l.mi_types());
                libs.insert(key, l.clone());
                l
            }
        };
        let p: Arc<dyn Provider> =
            Arc::new(CmpiProvider { lib, association: r.has_type("association"), indication: r.has_type("indication") });
        for ns in &r.namespaces {
            if r.has_type("instance") || r.has_type("association") || r.has_type("method") {
                registry.register(ns, &r.class, p.clone());
            }
            if r.has_type("indication") {
                registry.register_indication(ns, &r.class, p.clone());
            }
            n += 1;
        }
    }
    let mut libraries: Vec<PathBuf> = libs.keys().map(|(p, _)| p.clone()).collect();
    libraries.sort();
    libraries.dedup();
    Ok(Loaded { registrations: n, providers: libs.len(), libraries })
}

/// What [`load_registrations`] loaded.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// (class, namespace) pairs registered.
    pub registrations: usize,
    /// Distinct (library, provider name) pairs, each initialised once.
    pub providers: usize,
    /// The provider libraries, each once.
    pub libraries: Vec<PathBuf>,
}
