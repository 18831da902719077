//! Instance providers and the routing table from (namespace, class) to
//! provider.
//!
//! A [`Provider`] serves the classes it is registered for. The broker calls
//! it once per registered class when a client enumerates a parent class,
//! merges the results, and applies PropertyList itself. Classes without a
//! registered provider are served by the broker's own [`InstanceStore`]
//! (instances declared in MOF and those created by clients), as SFCB's
//! internal provider does.
//!
//! Every call into a provider goes through [`guarded`], so a provider panic
//! becomes CIM_ERR_FAILED instead of taking the broker down.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crate::error::{self, CimError, CimResult};
use crate::model::*;

/// Who is asking, and where.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub namespace: String,
    /// The authenticated user (the CMPI principal), if any.
    pub principal: Option<String>,
    /// The principal's role as the authenticator knows it (the CMPIRole entry), if any.
    pub role: Option<String>,
}

/// Who sent a request: the authenticated user and the role the authenticator gave it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    pub principal: String,
    pub role: Option<String>,
}

impl Context {
    /// The context of a request by `caller` (None: nobody authenticated) in `namespace`.
    pub fn of(namespace: String, caller: Option<&Caller>) -> Context {
        Context { namespace, principal: caller.map(|c| c.principal.clone()), role: caller.and_then(|c| c.role.clone()) }
    }

    /// The same caller in another namespace.
    pub fn with_namespace(&self, namespace: String) -> Context {
        Context { namespace, ..self.clone() }
    }
}

/// A method parameter value (in or out).
pub type ParamValue = PropertyValue;

#[derive(Debug, Clone, Default)]
pub struct MethodResult {
    pub return_value: Option<Value>,
    pub out_params: Vec<ParamValue>,
}

/// What a provider implements. Classes are passed resolved, so a provider can
/// type its values from the definition. Defaults answer NOT_SUPPORTED, except
/// the read operations that can be derived from `enumerate_instances`.
pub trait Provider: Send + Sync {
    /// Instances of exactly `class` (the registered class being enumerated).
    fn enumerate_instances(&self, ctx: &Context, class: &Class) -> CimResult<Vec<Instance>>;

    fn enumerate_instance_names(&self, ctx: &Context, class: &Class) -> CimResult<Vec<ObjectPath>> {
        Ok(self.enumerate_instances(ctx, class)?.iter().map(|i| i.path(class, None)).collect())
    }

    fn get_instance(&self, ctx: &Context, class: &Class, path: &ObjectPath) -> CimResult<Instance> {
        self.enumerate_instances(ctx, class)?
            .into_iter()
            .find(|i| i.path(class, None).same_instance(path))
            .ok_or_else(|| CimError::not_found(format!("no instance {path}")))
    }

    fn create_instance(&self, _ctx: &Context, class: &Class, _inst: Instance) -> CimResult<ObjectPath> {
        Err(CimError::not_supported(format!("CreateInstance is not supported for {}", class.name)))
    }

    /// `inst` holds the properties to change (already filtered by PropertyList).
    fn modify_instance(&self, _ctx: &Context, class: &Class, _path: &ObjectPath, _inst: Instance) -> CimResult<()> {
        Err(CimError::not_supported(format!("ModifyInstance is not supported for {}", class.name)))
    }

    fn delete_instance(&self, _ctx: &Context, class: &Class, _path: &ObjectPath) -> CimResult<()> {
        Err(CimError::not_supported(format!("DeleteInstance is not supported for {}", class.name)))
    }

    /// Association instances of `assoc_class` (or its subclasses) that refer
    /// to `target`, in `role` when given, for providers that answer this
    /// directly (a CMPI association MI). `None`: the broker enumerates the
    /// association class and filters.
    fn references(
        &self,
        _ctx: &Context,
        _assoc_class: &Class,
        _target: &ObjectPath,
        _role: Option<&str>,
    ) -> Option<CimResult<Vec<Instance>>> {
        None
    }

    /// May `owner` subscribe to `query` on indication class `class`?
    fn authorize_filter(&self, _ctx: &Context, _class: &Class, _query: &str, _language: &str, _owner: &str) -> CimResult<()> {
        Ok(())
    }

    /// An indication filter (`query` in `language`) naming `class` (an
    /// indication class this provider is registered for) becomes active;
    /// `first` when it is the first active filter for the provider.
    fn activate_filter(&self, _ctx: &Context, _class: &Class, _query: &str, _language: &str, _first: bool) -> CimResult<()> {
        Ok(())
    }

    fn deactivate_filter(&self, _ctx: &Context, _class: &Class, _query: &str, _language: &str, _last: bool) -> CimResult<()> {
        Ok(())
    }

    /// An extrinsic method; `target` is an instance path, or a class path
    /// without keys for static methods. `params` are typed from the MOF.
    fn invoke_method(
        &self,
        _ctx: &Context,
        class: &Class,
        _target: &ObjectPath,
        method: &Method,
        _params: Vec<ParamValue>,
    ) -> CimResult<MethodResult> {
        Err(CimError::new(error::METHOD_NOT_AVAILABLE, format!("{}.{} is not implemented", class.name, method.name)))
    }
}

/// Runs a provider call, turning a panic into CIM_ERR_FAILED.
pub fn guarded<T>(what: &str, f: impl FnOnce() -> CimResult<T>) -> CimResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!("provider panicked in {what}: {msg}");
            Err(CimError::failed(format!("provider failed in {what}: panic: {msg}")))
        }
    }
}

/// (namespace, class) -> provider, names compared case-insensitively.
#[derive(Default, Clone)]
pub struct ProviderRegistry {
    map: HashMap<(String, String), Arc<dyn Provider>>,
    indication: Vec<(String, String, Arc<dyn Provider>)>,
}

impl ProviderRegistry {
    pub fn register(&mut self, namespace: &str, class: &str, p: Arc<dyn Provider>) {
        let ns = crate::repo::normalize_ns(namespace).to_ascii_lowercase();
        self.map.insert((ns, class.to_ascii_lowercase()), p);
    }
    pub fn get(&self, namespace: &str, class: &str) -> Option<Arc<dyn Provider>> {
        let ns = crate::repo::normalize_ns(namespace).to_ascii_lowercase();
        self.map.get(&(ns, class.to_ascii_lowercase())).cloned()
    }
    /// Registers an indication provider for indication class `class`.
    pub fn register_indication(&mut self, namespace: &str, class: &str, p: Arc<dyn Provider>) {
        let ns = crate::repo::normalize_ns(namespace).to_ascii_lowercase();
        self.indication.push((ns, class.to_string(), p));
    }
    /// (class, provider) of the indication providers of a namespace.
    pub fn indication_providers(&self, namespace: &str) -> Vec<(String, Arc<dyn Provider>)> {
        let ns = crate::repo::normalize_ns(namespace).to_ascii_lowercase();
        self.indication.iter().filter(|(n, _, _)| *n == ns).map(|(_, c, p)| (c.clone(), p.clone())).collect()
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// The broker's own instances: MOF-declared and client-created, for classes
/// no provider serves. Kept in memory.
#[derive(Default)]
pub struct InstanceStore {
    // (namespace lc, class lc) -> instances of exactly that class
    data: RwLock<HashMap<(String, String), Vec<Instance>>>,
    // serialises read-modify-write sequences
    write: Mutex<()>,
}

fn key(ctx: &Context, class: &str) -> (String, String) {
    (crate::repo::normalize_ns(&ctx.namespace).to_ascii_lowercase(), class.to_ascii_lowercase())
}

impl InstanceStore {
    pub fn insert(&self, namespace: &str, inst: Instance) {
        let ctx = Context { namespace: namespace.into(), ..Context::default() };
        self.data.write().unwrap_or_else(PoisonError::into_inner).entry(key(&ctx, &inst.class_name)).or_default().push(inst);
    }
    pub fn count(&self, namespace: &str, class: &str) -> usize {
        let ctx = Context { namespace: namespace.into(), ..Context::default() };
        self.data.read().unwrap_or_else(PoisonError::into_inner).get(&key(&ctx, class)).map(Vec::len).unwrap_or(0)
    }
}

impl Provider for InstanceStore {
    fn enumerate_instances(&self, ctx: &Context, class: &Class) -> CimResult<Vec<Instance>> {
        Ok(self.data.read().unwrap_or_else(PoisonError::into_inner).get(&key(ctx, &class.name)).cloned().unwrap_or_default())
    }

    fn create_instance(&self, ctx: &Context, class: &Class, mut inst: Instance) -> CimResult<ObjectPath> {
        let _w = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        for k in class.key_properties() {
            if inst.get_value(&k.name).is_none() {
                return Err(CimError::invalid_parameter(format!("key property {} has no value", k.name)));
            }
        }
        // fill in defaults of properties not given
        for p in &class.properties {
            if inst.get(&p.name).is_none() {
                inst.properties.push(PropertyValue {
                    name: p.name.clone(),
                    ty: p.ty,
                    is_array: p.is_array,
                    reference_class: p.reference_class.clone(),
                    value: p.default.clone(),
                });
            }
        }
        let path = inst.path(class, None);
        let mut data = self.data.write().unwrap_or_else(PoisonError::into_inner);
        let v = data.entry(key(ctx, &class.name)).or_default();
        if v.iter().any(|i| i.path(class, None).same_instance(&path)) {
            return Err(CimError::new(error::ALREADY_EXISTS, format!("instance {path} already exists")));
        }
        v.push(inst);
        Ok(path)
    }

    fn modify_instance(&self, ctx: &Context, class: &Class, path: &ObjectPath, inst: Instance) -> CimResult<()> {
        let _w = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let mut data = self.data.write().unwrap_or_else(PoisonError::into_inner);
        let v = data.entry(key(ctx, &class.name)).or_default();
        let target = v
            .iter_mut()
            .find(|i| i.path(class, None).same_instance(path))
            .ok_or_else(|| CimError::not_found(format!("no instance {path}")))?;
        for pv in inst.properties {
            if class.property(&pv.name).map(|p| p.is_key()).unwrap_or(false) {
                if target.get_value(&pv.name) != pv.value.as_ref() {
                    return Err(CimError::invalid_parameter(format!("key property {} cannot change", pv.name)));
                }
                continue;
            }
            target.set(&pv.name, pv.ty, pv.value);
        }
        Ok(())
    }

    fn delete_instance(&self, ctx: &Context, class: &Class, path: &ObjectPath) -> CimResult<()> {
        let _w = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let mut data = self.data.write().unwrap_or_else(PoisonError::into_inner);
        let v = data.entry(key(ctx, &class.name)).or_default();
        let before = v.len();
        v.retain(|i| !i.path(class, None).same_instance(path));
        if v.len() == before {
            return Err(CimError::not_found(format!("no instance {path}")));
        }
        Ok(())
    }
}
