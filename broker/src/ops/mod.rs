//! The CIM operations (DSP0200 1.4 section 5.3): each intrinsic method reads
//! its parameters, applies the operation to the repository or routes it to
//! providers, and writes the content of `<IRETURNVALUE>`.
//!
//! Wire form of a call this module answers (inside SIMPLEREQ):
//! ```text
//! <IMETHODCALL NAME="GetClass"><LOCALNAMESPACEPATH>..</LOCALNAMESPACEPATH>
//!   <IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="CIM_System"/></IPARAMVALUE>
//! </IMETHODCALL>
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::cimxml::{self, ObjectFilter};
use crate::error::{CimError, CimResult};
use crate::model::*;
use crate::provider::{guarded, Caller, Context, InstanceStore, Provider, ProviderRegistry};
use crate::repo::{Namespace, Repository};
use crate::xml::{Element, XmlOut};

/// What an operation returns: the content of IRETURNVALUE (None: no
/// IRETURNVALUE) and trailing output PARAMVALUEs (pull operations).
#[derive(Debug, Default)]
pub struct Output {
    pub ireturn: Option<String>,
    pub params: String,
}

mod associations;
mod classes;
mod instances;
mod methods;
mod params;
mod pull;
mod query;

pub use params::Params;

/// Most open enumeration contexts kept at once.
pub(crate) const MAX_PULL_CONTEXTS: usize = 256;

/// What a pull context returns, and which Pull operation reads it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum PullKind {
    /// VALUE.INSTANCEWITHPATH, read by PullInstancesWithPath.
    WithPath,
    /// INSTANCEPATH, read by PullInstancePaths.
    Paths,
    /// INSTANCE, read by PullInstances (OpenQueryInstances).
    NoPath,
}

pub(crate) struct PullCtx {
    namespace: String,
    items: VecDeque<(ObjectPath, Instance)>,
    kind: PullKind,
    include_class_origin: bool,
    expires: Instant,
    timeout: Duration,
}

/// The broker's state: repository, providers, own instances, pull contexts.
///
/// Its locks (and those of the providers and the indication hub) are taken with
/// `unwrap_or_else(PoisonError::into_inner)`: a panic caught while one was held (a provider bug)
/// must not make every later request that takes the lock panic too.
pub struct Broker {
    pub repo: RwLock<Repository>,
    pub providers: RwLock<ProviderRegistry>,
    pub store: Arc<InstanceStore>,
    pulls: Mutex<HashMap<String, PullCtx>>,
    next_ctx: AtomicU64,
    /// Host name written in INSTANCEPATH / CLASSPATH.
    pub host: String,
    /// Indication subscriptions and delivery.
    pub indications: Arc<crate::indication::IndicationHub>,
}

/// Keeps only the properties a PropertyList (and DeepInheritance=false) allow.
pub(crate) fn prune(inst: &mut Instance, plist: Option<&[String]>, only_of: Option<&Class>) {
    inst.properties.retain(|p| {
        plist.map(|l| l.iter().any(|n| n.eq_ignore_ascii_case(&p.name))).unwrap_or(true)
            && only_of.map(|c| c.property(&p.name).is_some()).unwrap_or(true)
    });
}

impl Broker {
    pub fn new(repo: Repository, providers: ProviderRegistry, host: &str) -> Self {
        Self::with_hub(repo, providers, host, Arc::new(crate::indication::IndicationHub::new("root/interop", None)))
    }

    /// A broker whose providers deliver indications to `hub`.
    pub fn with_hub(repo: Repository, providers: ProviderRegistry, host: &str, hub: Arc<crate::indication::IndicationHub>) -> Self {
        let store = Arc::new(InstanceStore::default());
        for ns in repo.namespace_names() {
            for inst in &repo.namespace(&ns).unwrap().instances {
                store.insert(&ns, inst.clone());
            }
        }
        Broker {
            repo: RwLock::new(repo),
            providers: RwLock::new(providers),
            store,
            pulls: Mutex::new(HashMap::new()),
            next_ctx: AtomicU64::new(1),
            host: host.to_string(),
            indications: hub,
        }
    }

    /// A class of a namespace.
    pub fn class_in(&self, ns: &str, name: &str) -> CimResult<Arc<Class>> {
        self.class(ns, name)
    }

    /// GetInstance routed to the class's provider.
    pub fn get_instance_in(&self, ctx: &Context, path: &ObjectPath) -> CimResult<Instance> {
        self.get_instance_routed(ctx, path).map(|(_, i)| i)
    }

    /// Instances of a class and its subclasses, with their paths.
    pub fn instances_of(&self, ctx: &Context, class: &str) -> CimResult<Vec<(ObjectPath, Instance)>> {
        self.enumerate(ctx, class, true)
    }

    pub(crate) fn subscription_changed(&self, ctx: &Context, class: &str) {
        if self.indications.is_subscription_class(self, &ctx.namespace, class) {
            self.indications.refresh(self);
        }
    }

    pub(crate) fn with_ns<T>(&self, ns: &str, f: impl FnOnce(&Namespace) -> CimResult<T>) -> CimResult<T> {
        let repo = self.repo.read().unwrap_or_else(PoisonError::into_inner);
        let n = repo.namespace(ns).ok_or_else(|| CimError::invalid_namespace(ns))?;
        f(n)
    }

    pub(crate) fn class(&self, ns: &str, name: &str) -> CimResult<Arc<Class>> {
        self.with_ns(ns, |n| n.class(name).cloned().ok_or_else(|| CimError::invalid_class(name)))
    }

    /// The provider of exactly `class`, or the internal store.
    pub(crate) fn provider_exact(&self, ns: &str, class: &str) -> Arc<dyn Provider> {
        match self.providers.read().unwrap_or_else(PoisonError::into_inner).get(ns, class) {
            Some(p) => p,
            None => self.store.clone(),
        }
    }

    /// The provider registered for `class` or for its nearest ancestor.
    pub(crate) fn registered_provider_for(&self, ns: &str, class: &Class) -> Option<Arc<dyn Provider>> {
        let providers = self.providers.read().unwrap_or_else(PoisonError::into_inner);
        let repo = self.repo.read().unwrap_or_else(PoisonError::into_inner);
        let n = repo.namespace(ns);
        let mut cur = Some(class.name.clone());
        while let Some(c) = cur {
            if let Some(p) = providers.get(ns, &c) {
                return Some(p);
            }
            cur = n.and_then(|n| n.class(&c)).and_then(|c| c.superclass.clone());
        }
        None
    }

    /// The provider of `class` or of its nearest ancestor, or the store.
    pub(crate) fn provider_for(&self, ns: &str, class: &Class) -> Arc<dyn Provider> {
        self.registered_provider_for(ns, class).unwrap_or_else(|| self.store.clone())
    }

    /// True when a provider asked for `asked` returned an instance of another
    /// class that has its own registered provider: that provider is asked
    /// too, so the copy is dropped to avoid duplicates.
    pub(crate) fn served_elsewhere(&self, ns: &str, asked: &Class, inst_class: &str) -> bool {
        !asked.name.eq_ignore_ascii_case(inst_class) && self.providers.read().unwrap_or_else(PoisonError::into_inner).get(ns, inst_class).is_some()
    }

    /// Instances of `class` and (when `deep`) of every subclass, each from the
    /// provider registered for it, with namespace-qualified paths.
    pub(crate) fn enumerate(&self, ctx: &Context, class: &str, deep_classes: bool) -> CimResult<Vec<(ObjectPath, Instance)>> {
        let ns = &ctx.namespace;
        let classes: Vec<Arc<Class>> = self.with_ns(ns, |n| {
            let root = n.class(class).ok_or_else(|| CimError::invalid_class(class))?;
            let mut v = vec![root.clone()];
            if deep_classes {
                v.extend(n.all_subclasses(Some(class)).iter().filter_map(|c| n.class(c).cloned()));
            }
            Ok(v)
        })?;
        let mut out = Vec::new();
        for c in classes {
            let p = self.provider_exact(ns, &c.name);
            let insts = guarded("EnumerateInstances", || p.enumerate_instances(ctx, &c))?;
            for i in insts {
                if self.served_elsewhere(ns, &c, &i.class_name) {
                    continue;
                }
                let ic = if i.class_name.eq_ignore_ascii_case(&c.name) { c.clone() } else { self.class(ns, &i.class_name).unwrap_or(c.clone()) };
                let mut path = i.path(&ic, Some(ns));
                path.class_name = ic.name.clone();
                out.push((path, i));
            }
        }
        Ok(out)
    }

    /// The paths of `class`'s instances and of every subclass's, from each provider's
    /// EnumerateInstanceNames: a provider that can name its instances without building them
    /// (CMPI `EnumInstanceNames`) is not asked for whole instances only to drop them.
    pub(crate) fn enumerate_names(&self, ctx: &Context, class: &str) -> CimResult<Vec<ObjectPath>> {
        let ns = &ctx.namespace;
        let classes: Vec<Arc<Class>> = self.with_ns(ns, |n| {
            let root = n.class(class).ok_or_else(|| CimError::invalid_class(class))?;
            let mut v = vec![root.clone()];
            v.extend(n.all_subclasses(Some(class)).iter().filter_map(|c| n.class(c).cloned()));
            Ok(v)
        })?;
        let mut out = Vec::new();
        for c in classes {
            let p = self.provider_exact(ns, &c.name);
            for mut path in guarded("EnumerateInstanceNames", || p.enumerate_instance_names(ctx, &c))? {
                if path.class_name.is_empty() {
                    path.class_name = c.name.clone();
                }
                if self.served_elsewhere(ns, &c, &path.class_name) {
                    continue;
                }
                // The class's own spelling, as `enumerate` gives it.
                path.class_name = if path.class_name.eq_ignore_ascii_case(&c.name) {
                    c.name.clone()
                } else {
                    self.class(ns, &path.class_name).map(|ic| ic.name.clone()).unwrap_or_else(|_| c.name.clone())
                };
                path.namespace = Some(ns.clone());
                out.push(path);
            }
        }
        Ok(out)
    }

    /// Gets an instance from the provider of its class, in the namespace its path names (the
    /// request's when the path names none).
    pub(crate) fn get_instance_routed(&self, ctx: &Context, path: &ObjectPath) -> CimResult<(Arc<Class>, Instance)> {
        let ns = path.namespace.as_deref().map(crate::repo::normalize_ns).unwrap_or_else(|| ctx.namespace.clone());
        let here = ctx.with_namespace(ns);
        let class = self.class(&here.namespace, &path.class_name)?;
        let p = self.provider_for(&here.namespace, &class);
        let inst = guarded("GetInstance", || p.get_instance(&here, &class, path))?;
        Ok((class, inst))
    }

    /// Runs one intrinsic method, returning the IRETURNVALUE content.
    pub fn intrinsic(&self, name: &str, namespace: &str, params: &[(String, Element)], caller: Option<&Caller>) -> CimResult<Output> {
        let ctx = Context::of(crate::repo::normalize_ns(namespace), caller);
        // every operation needs an existing namespace
        self.with_ns(&ctx.namespace, |_| Ok(()))?;
        let p = Params::new(params);
        let mut o = XmlOut::new();
        match name {
            "GetClass" => self.get_class(&ctx, &p, &mut o)?,
            "EnumerateClasses" => self.enumerate_classes(&ctx, &p, &mut o, false)?,
            "EnumerateClassNames" => self.enumerate_classes(&ctx, &p, &mut o, true)?,
            "EnumerateQualifiers" => self.enumerate_qualifiers(&ctx, &p, &mut o)?,
            "GetQualifier" => self.get_qualifier(&ctx, &p, &mut o)?,
            "GetInstance" => self.get_instance(&ctx, &p, &mut o)?,
            "EnumerateInstances" => self.enumerate_instances(&ctx, &p, &mut o, false)?,
            "EnumerateInstanceNames" => self.enumerate_instances(&ctx, &p, &mut o, true)?,
            "CreateInstance" => self.create_instance(&ctx, &p, &mut o)?,
            "ModifyInstance" => {
                self.modify_instance(&ctx, &p)?;
                return Ok(Output::default());
            }
            "DeleteInstance" => {
                self.delete_instance(&ctx, &p)?;
                return Ok(Output::default());
            }
            "GetProperty" => self.get_property(&ctx, &p, &mut o)?,
            "SetProperty" => {
                self.set_property(&ctx, &p)?;
                return Ok(Output::default());
            }
            "Associators" | "AssociatorNames" | "References" | "ReferenceNames" => self.associations(&ctx, name, &p, &mut o)?,
            "ExecQuery" => self.exec_query(&ctx, &p, &mut o)?,
            "OpenEnumerateInstances" | "OpenEnumerateInstancePaths" | "OpenAssociatorInstances" | "OpenAssociatorInstancePaths"
            | "OpenReferenceInstances" | "OpenReferenceInstancePaths" | "OpenQueryInstances" => return self.open(&ctx, name, &p),
            "PullInstancesWithPath" | "PullInstancePaths" | "PullInstances" => return self.pull(&ctx, name, &p),
            "CloseEnumeration" => {
                self.close_enumeration(&ctx, &p)?;
                return Ok(Output::default());
            }
            "CreateClass" | "ModifyClass" | "DeleteClass" | "SetQualifier" | "DeleteQualifier" | "EnumerationCount" => {
                return Err(CimError::not_supported(format!("{name} is not supported by this broker")))
            }
            other => return Err(CimError::not_supported(format!("unknown intrinsic method {other}"))),
        }
        Ok(Output { ireturn: Some(o.buf), params: String::new() })
    }

    /// Writes OBJECTPATH (names) or VALUE.OBJECTWITHPATH.
    pub(crate) fn write_object(&self, o: &mut XmlOut, ns: &str, mut path: ObjectPath, inst: Option<Instance>, names_only: bool, f: &ObjectFilter) {
        if path.namespace.is_none() {
            path.namespace = Some(ns.to_string());
        }
        if names_only {
            o.open("OBJECTPATH", &[]);
            cimxml::write_instance_path(o, &path, &self.host);
            o.close("OBJECTPATH");
        } else if let Some(inst) = inst {
            let ic = self.class(ns, &inst.class_name).ok();
            o.open("VALUE.OBJECTWITHPATH", &[]);
            cimxml::write_instance_path(o, &path, &self.host);
            cimxml::write_instance(o, &inst, ic.as_deref(), f);
            o.close("VALUE.OBJECTWITHPATH");
        }
    }
}
