//! Pull operations (DSP0200 5.4): Open* gathers every result, returns the
//! first MaxObjectCount and keeps the rest in an enumeration context that
//! Pull* reads and CloseEnumeration (or OperationTimeout) ends.


use super::{prune, Broker, Params};
use crate::cimxml::{self, ObjectFilter};
use crate::error::{self, CimError, CimResult};
use crate::model::*;
use crate::provider::Context;
use crate::xml::XmlOut;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use super::{Output, PullCtx, PullKind, MAX_PULL_CONTEXTS};

impl Broker {
    pub(crate) fn expire_pulls(&self) {
        let now = Instant::now();
        self.pulls.lock().unwrap_or_else(PoisonError::into_inner).retain(|_, c| c.expires > now);
    }

    /// The Open* operations: gather every result, return the first
    /// MaxObjectCount of them and keep the rest in an enumeration context.
    pub(crate) fn open(&self, ctx: &Context, op: &str, p: &Params) -> CimResult<Output> {
        const COMMON: [&str; 5] = ["FilterQueryLanguage", "FilterQuery", "OperationTimeout", "ContinueOnError", "MaxObjectCount"];
        let mut allowed: Vec<&str> = COMMON.to_vec();
        let kind = match op {
            "OpenEnumerateInstancePaths" | "OpenAssociatorInstancePaths" | "OpenReferenceInstancePaths" => PullKind::Paths,
            "OpenQueryInstances" => PullKind::NoPath,
            _ => PullKind::WithPath,
        };
        match op {
            "OpenEnumerateInstances" | "OpenEnumerateInstancePaths" => allowed.push("ClassName"),
            "OpenAssociatorInstances" | "OpenAssociatorInstancePaths" => allowed.extend(["InstanceName", "AssocClass", "ResultClass", "Role", "ResultRole"]),
            "OpenReferenceInstances" | "OpenReferenceInstancePaths" => allowed.extend(["InstanceName", "ResultClass", "Role"]),
            _ => allowed.push("ReturnQueryResultClass"),
        }
        if kind == PullKind::WithPath {
            allowed.extend(["IncludeClassOrigin", "PropertyList", "LocalOnly", "IncludeQualifiers"]);
        }
        if op == "OpenEnumerateInstances" {
            allowed.push("DeepInheritance");
        }
        p.check(&allowed)?;
        if p.bool("ContinueOnError", false)? {
            return Err(CimError::new(error::CONTINUATION_ON_ERROR_NOT_SUPPORTED, "ContinueOnError is not supported"));
        }
        let timeout = p.u32("OperationTimeout")?.unwrap_or(60);
        if timeout == 0 || timeout > 3600 {
            return Err(CimError::new(error::INVALID_OPERATION_TIMEOUT, format!("OperationTimeout {timeout} is outside 1..3600")));
        }
        let max = p.u32("MaxObjectCount")?.unwrap_or(0);
        let include_class_origin = p.bool("IncludeClassOrigin", false)?;
        let plist = p.property_list()?;
        let (fql, fq) = (p.string("FilterQueryLanguage")?, p.string("FilterQuery")?);
        let items: Vec<(ObjectPath, Instance)> = if op == "OpenQueryInstances" {
            if p.bool("ReturnQueryResultClass", false)? {
                return Err(CimError::not_supported("ReturnQueryResultClass is not supported"));
            }
            let lang = Params::required(fql, "FilterQueryLanguage")?;
            let q = Params::required(fq, "FilterQuery")?;
            self.query(ctx, &lang, &q)?
        } else {
            if fql.is_some() || fq.is_some() {
                return Err(CimError::new(error::FILTERED_ENUMERATION_NOT_SUPPORTED, "filtered enumeration is not supported"));
            }
            if op.starts_with("OpenEnumerate") {
                let cn = Params::required(p.class_name("ClassName")?, "ClassName")?;
                let deep = p.bool("DeepInheritance", true)?;
                let requested = self.class(&ctx.namespace, &cn)?;
                let mut v = self.enumerate(ctx, &cn, true)?;
                if !deep {
                    for (_, i) in &mut v {
                        prune(i, None, Some(&requested));
                    }
                }
                v
            } else {
                let target = Params::required(p.instance_name("InstanceName")?, "InstanceName")?;
                let result_class = p.class_name("ResultClass")?;
                if let Some(rc) = &result_class {
                    self.class(&ctx.namespace, rc).map_err(|_| CimError::invalid_parameter(format!("ResultClass {rc} does not exist")))?;
                }
                let role = p.string("Role")?;
                if op.starts_with("OpenReference") {
                    self.references_of(ctx, &target, result_class.as_deref(), role.as_deref())?.into_iter().map(|(p, i, _)| (p, i)).collect()
                } else {
                    let assoc = p.class_name("AssocClass")?;
                    let rr = p.string("ResultRole")?;
                    self.associators_of(ctx, &target, assoc.as_deref(), result_class.as_deref(), role.as_deref(), rr.as_deref(), kind == PullKind::WithPath)?
                        .into_iter()
                        .map(|(p, i)| (p.clone(), i.unwrap_or_else(|| Instance::new(p.class_name.clone()))))
                        .collect()
                }
            }
        };
        let mut q = VecDeque::with_capacity(items.len());
        for (path, mut inst) in items {
            prune(&mut inst, plist.as_deref(), None);
            q.push_back((path, inst));
        }
        self.expire_pulls();
        let timeout = Duration::from_secs(timeout as u64);
        let mut pc = PullCtx { namespace: ctx.namespace.clone(), items: q, kind, include_class_origin, expires: Instant::now() + timeout, timeout };
        let out = self.page(&mut pc, max);
        if pc.items.is_empty() {
            return Ok(self.pull_output(out, None));
        }
        let mut pulls = self.pulls.lock().unwrap_or_else(PoisonError::into_inner);
        if pulls.len() >= MAX_PULL_CONTEXTS {
            return Err(CimError::new(error::SERVER_LIMITS_EXCEEDED, "too many open enumeration contexts"));
        }
        let id = format!("xencim-{}", self.next_ctx.fetch_add(1, Ordering::Relaxed));
        pulls.insert(id.clone(), pc);
        Ok(self.pull_output(out, Some(&id)))
    }

    pub(crate) fn page(&self, pc: &mut PullCtx, max: u32) -> String {
        let mut o = XmlOut::new();
        let f = ObjectFilter { include_class_origin: pc.include_class_origin, ..Default::default() };
        for _ in 0..max {
            let Some((mut path, inst)) = pc.items.pop_front() else { break };
            if path.namespace.is_none() {
                path.namespace = Some(pc.namespace.clone());
            }
            match pc.kind {
                PullKind::Paths => cimxml::write_instance_path(&mut o, &path, &self.host),
                PullKind::NoPath => {
                    let ic = self.class(&pc.namespace, &inst.class_name).ok();
                    cimxml::write_instance(&mut o, &inst, ic.as_deref(), &f);
                }
                PullKind::WithPath => {
                    let ic = self.class(&pc.namespace, &inst.class_name).ok();
                    o.open("VALUE.INSTANCEWITHPATH", &[]);
                    cimxml::write_instance_path(&mut o, &path, &self.host);
                    cimxml::write_instance(&mut o, &inst, ic.as_deref(), &f);
                    o.close("VALUE.INSTANCEWITHPATH");
                }
            }
        }
        o.buf
    }

    pub(crate) fn pull_output(&self, items: String, ctx_id: Option<&str>) -> Output {
        let mut o = XmlOut::new();
        o.open("PARAMVALUE", &[("NAME", "EnumerationContext"), ("PARAMTYPE", "string")]);
        if let Some(id) = ctx_id {
            o.leaf("VALUE", &[], id);
        }
        o.close("PARAMVALUE");
        o.open("PARAMVALUE", &[("NAME", "EndOfSequence"), ("PARAMTYPE", "boolean")]);
        o.leaf("VALUE", &[], if ctx_id.is_none() { "TRUE" } else { "FALSE" });
        o.close("PARAMVALUE");
        Output { ireturn: Some(items), params: o.buf }
    }

    pub(crate) fn pull(&self, ctx: &Context, op: &str, p: &Params) -> CimResult<Output> {
        p.check(&["EnumerationContext", "MaxObjectCount"])?;
        let id = Params::required(p.string("EnumerationContext")?, "EnumerationContext")?;
        let max = Params::required(p.u32("MaxObjectCount")?, "MaxObjectCount")?;
        self.expire_pulls();
        let mut pulls = self.pulls.lock().unwrap_or_else(PoisonError::into_inner);
        let pc = match pulls.get_mut(&id) {
            Some(c) if c.namespace.eq_ignore_ascii_case(&ctx.namespace) => c,
            _ => return Err(CimError::new(error::INVALID_ENUMERATION_CONTEXT, format!("no enumeration context {id}"))),
        };
        let wanted = match op {
            "PullInstancePaths" => PullKind::Paths,
            "PullInstances" => PullKind::NoPath,
            _ => PullKind::WithPath,
        };
        if pc.kind != wanted {
            return Err(CimError::new(error::INVALID_ENUMERATION_CONTEXT, format!("context {id} was not opened for {op}")));
        }
        pc.expires = Instant::now() + pc.timeout;
        let items = self.page(pc, max);
        if pc.items.is_empty() {
            pulls.remove(&id);
            return Ok(self.pull_output(items, None));
        }
        Ok(self.pull_output(items, Some(&id)))
    }

    /// CloseEnumeration(EnumerationContext)
    pub(crate) fn close_enumeration(&self, ctx: &Context, p: &Params) -> CimResult<()> {
        p.check(&["EnumerationContext"])?;
        let id = Params::required(p.string("EnumerationContext")?, "EnumerationContext")?;
        let mut pulls = self.pulls.lock().unwrap_or_else(PoisonError::into_inner);
        match pulls.get(&id) {
            Some(c) if c.namespace.eq_ignore_ascii_case(&ctx.namespace) => {
                pulls.remove(&id);
                Ok(())
            }
            _ => Err(CimError::new(error::INVALID_ENUMERATION_CONTEXT, format!("no enumeration context {id}"))),
        }
    }
}
