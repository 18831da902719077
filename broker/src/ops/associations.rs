//! Association traversal: Associators, AssociatorNames, References,
//! ReferenceNames (on instances and, schema-level, on classes).
//!
//! ```text
//! <IMETHODCALL NAME="Associators">..<IPARAMVALUE NAME="ObjectName"><INSTANCENAME ..>
//!   <IPARAMVALUE NAME="AssocClass"><CLASSNAME NAME="X_Link"/></IPARAMVALUE>
//! ```

use std::sync::Arc;

use super::{prune, Broker, Params};
use crate::cimxml::{self, ObjectFilter};
use crate::error::{self, CimError, CimResult};
use crate::model::*;
use crate::provider::{guarded, Context};
use crate::xml::XmlOut;

impl Broker {
    /// Association instances of `assoc_filter` (or any association) with a
    /// reference to `target` in role `role`. Returns (assoc path, instance, name of the matching role).
    pub fn references_of(
        &self,
        ctx: &Context,
        target: &ObjectPath,
        assoc_filter: Option<&str>,
        role: Option<&str>,
    ) -> CimResult<Vec<(ObjectPath, Instance, String)>> {
        let ns = &ctx.namespace;
        let tclass = target.class_name.clone();
        let candidates: Vec<Arc<Class>> = self.with_ns(ns, |n| {
            if n.class(&tclass).is_none() {
                return Err(CimError::invalid_parameter(format!("class {tclass} does not exist")));
            }
            if let Some(a) = assoc_filter {
                if n.class(a).is_none() {
                    return Err(CimError::invalid_parameter(format!("class {a} does not exist")));
                }
            }
            // With an association class named, only its subtree can match: walking that rather
            // than the whole schema (thousands of DMTF classes) keeps one navigation step cheap.
            // Same classes, same order (the subtree is contiguous in the full depth-first walk).
            let names = match assoc_filter {
                Some(a) => {
                    // checked to exist just above; its repository spelling of the name is used
                    let mut v = n.class(a).map(|c| vec![c.name.clone()]).unwrap_or_default();
                    v.extend(n.all_subclasses(Some(a)));
                    v
                }
                None => n.all_subclasses(None),
            };
            let mut v = Vec::new();
            for name in names {
                let Some(c) = n.class(&name) else { continue };
                if !c.is_association() {
                    continue;
                }
                let relevant = c.properties.iter().any(|p| {
                    p.ty == CimType::Reference
                        && role.map(|r| r.eq_ignore_ascii_case(&p.name)).unwrap_or(true)
                        && p.reference_class.as_deref().map(|rc| n.is_subclass_of(&tclass, rc) || n.is_subclass_of(rc, &tclass)).unwrap_or(false)
                });
                if relevant {
                    v.push(c.clone());
                }
            }
            Ok(v)
        })?;
        let mut out = Vec::new();
        for c in candidates {
            let p = self.provider_exact(ns, &c.name);
            let insts = guarded("References", || match p.references(ctx, &c, target, role) {
                Some(r) => r,
                None => p.enumerate_instances(ctx, &c),
            })?;
            for i in insts {
                if self.served_elsewhere(ns, &c, &i.class_name) {
                    continue;
                }
                for pv in &i.properties {
                    if pv.ty != CimType::Reference || !role.map(|r| r.eq_ignore_ascii_case(&pv.name)).unwrap_or(true) {
                        continue;
                    }
                    if let Some(Value::Reference(r)) = &pv.value {
                        if r.same_instance(target) {
                            let mut path = i.path(&c, Some(ns));
                            path.class_name = i.class_name.clone();
                            out.push((path, i.clone(), pv.name.clone()));
                            break;
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn associations(&self, ctx: &Context, op: &str, p: &Params, o: &mut XmlOut) -> CimResult<()> {
        let is_assoc = op.starts_with("Associator");
        let names_only = op.ends_with("Names");
        let mut allowed = vec!["ObjectName", "ResultClass", "Role"];
        if is_assoc {
            allowed.extend(["AssocClass", "ResultRole"]);
        }
        if !names_only {
            allowed.extend(["IncludeQualifiers", "IncludeClassOrigin", "PropertyList"]);
        }
        p.check(&allowed)?;
        let (target, is_class) = Params::required(p.object_name("ObjectName")?, "ObjectName")?;
        let result_class = p.class_name("ResultClass")?;
        let role = p.string("Role")?;
        let assoc_class = if is_assoc { p.class_name("AssocClass")? } else { None };
        let result_role = if is_assoc { p.string("ResultRole")? } else { None };
        let plist = if names_only { None } else { p.property_list()? };
        let include_qualifiers = p.bool("IncludeQualifiers", false)?;
        let include_class_origin = p.bool("IncludeClassOrigin", false)?;
        let ns = ctx.namespace.clone();
        if let Some(rc) = &result_class {
            self.class(&ns, rc).map_err(|_| CimError::invalid_parameter(format!("ResultClass {rc} does not exist")))?;
        }
        if is_class {
            return self.class_associations(ctx, is_assoc, names_only, &target.class_name, result_class.as_deref(), role.as_deref(), assoc_class.as_deref(), result_role.as_deref(), o);
        }
        let f = ObjectFilter { local_only: false, include_qualifiers, include_class_origin, property_list: None };
        let assoc_filter = if is_assoc { assoc_class.as_deref() } else { result_class.as_deref() };
        if !is_assoc {
            for (apath, mut inst, _) in self.references_of(ctx, &target, assoc_filter, role.as_deref())? {
                prune(&mut inst, plist.as_deref(), None);
                self.write_object(o, &ns, apath, Some(inst), names_only, &f);
            }
            return Ok(());
        }
        let found = self.associators_of(ctx, &target, assoc_class.as_deref(), result_class.as_deref(), role.as_deref(), result_role.as_deref(), !names_only)?;
        for (fp, inst) in found {
            let inst = inst.map(|mut i| {
                prune(&mut i, plist.as_deref(), None);
                i
            });
            self.write_object(o, &ns, fp, inst, names_only, &f);
        }
        Ok(())
    }

    /// The objects associated with `target` (Associators semantics), with
    /// their instances when `fetch` (objects that no longer exist are skipped).
    #[allow(clippy::too_many_arguments)]
    pub fn associators_of(
        &self,
        ctx: &Context,
        target: &ObjectPath,
        assoc_class: Option<&str>,
        result_class: Option<&str>,
        role: Option<&str>,
        result_role: Option<&str>,
        fetch: bool,
    ) -> CimResult<Vec<(ObjectPath, Option<Instance>)>> {
        let ns = ctx.namespace.clone();
        let refs = self.references_of(ctx, target, assoc_class, role)?;
        let mut seen: Vec<ObjectPath> = Vec::new();
        let mut out = Vec::new();
        for (_, ainst, matched_role) in refs {
            for pv in &ainst.properties {
                if pv.ty != CimType::Reference || pv.name.eq_ignore_ascii_case(&matched_role) {
                    continue;
                }
                if let Some(rr) = result_role {
                    if !rr.eq_ignore_ascii_case(&pv.name) {
                        continue;
                    }
                }
                let Some(Value::Reference(far)) = &pv.value else { continue };
                // The far end may live in another namespace (ElementConformsToProfile links a
                // profile in root/interop to a system in root/cimv2): judge it there.
                let far_ns = far.namespace.as_deref().map(crate::repo::normalize_ns).unwrap_or_else(|| ns.clone());
                if let Some(rc) = result_class {
                    let ok = self.with_ns(&far_ns, |n| Ok(n.is_subclass_of(&far.class_name, rc))).unwrap_or(false);
                    if !ok {
                        continue;
                    }
                }
                if seen.iter().any(|s| s.same_instance(far)) {
                    continue;
                }
                seen.push(far.clone());
                let mut fp = far.clone();
                if fp.namespace.is_none() {
                    fp.namespace = Some(ns.clone());
                }
                if !fetch {
                    out.push((fp, None));
                    continue;
                }
                match self.get_instance_routed(ctx, &fp) {
                    Ok((_, inst)) => out.push((fp, Some(inst))),
                    Err(e) if e.code == error::NOT_FOUND || e.code == error::INVALID_CLASS => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(out)
    }

    /// Schema-level association traversal on a class ObjectName.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn class_associations(
        &self,
        ctx: &Context,
        is_assoc: bool,
        names_only: bool,
        class: &str,
        result_class: Option<&str>,
        role: Option<&str>,
        assoc_class: Option<&str>,
        result_role: Option<&str>,
        o: &mut XmlOut,
    ) -> CimResult<()> {
        let ns = ctx.namespace.clone();
        self.with_ns(&ns, |n| {
            n.class(class).ok_or_else(|| CimError::invalid_parameter(format!("class {class} does not exist")))?;
            let mut out: Vec<Arc<Class>> = Vec::new();
            for name in n.all_subclasses(None) {
                let Some(c) = n.class(&name) else { continue };
                if !c.is_association() {
                    continue;
                }
                let filt = if is_assoc { assoc_class } else { result_class };
                if let Some(fc) = filt {
                    if !n.is_subclass_of(&c.name, fc) {
                        continue;
                    }
                }
                for rp in c.properties.iter().filter(|p| p.ty == CimType::Reference && !p.propagated) {
                    if role.map(|r| !r.eq_ignore_ascii_case(&rp.name)).unwrap_or(false) {
                        continue;
                    }
                    let rc = rp.reference_class.as_deref().unwrap_or("");
                    if !n.is_subclass_of(class, rc) {
                        continue;
                    }
                    if !is_assoc {
                        if !out.iter().any(|x| x.name == c.name) {
                            out.push(c.clone());
                        }
                        continue;
                    }
                    for other in c.properties.iter().filter(|p| p.ty == CimType::Reference && p.name != rp.name) {
                        if result_role.map(|r| !r.eq_ignore_ascii_case(&other.name)).unwrap_or(false) {
                            continue;
                        }
                        let oc = other.reference_class.as_deref().unwrap_or("");
                        if let Some(rcl) = result_class {
                            if !n.is_subclass_of(oc, rcl) {
                                continue;
                            }
                        }
                        if let Some(k) = n.class(oc) {
                            if !out.iter().any(|x| x.name == k.name) {
                                out.push(k.clone());
                            }
                        }
                    }
                }
            }
            let f = ObjectFilter { local_only: false, include_qualifiers: true, include_class_origin: false, property_list: None };
            for c in out {
                if names_only {
                    o.open("OBJECTPATH", &[]);
                    cimxml::write_class_path(o, &self.host, &ns, &c.name);
                    o.close("OBJECTPATH");
                } else {
                    o.open("VALUE.OBJECTWITHPATH", &[]);
                    cimxml::write_class_path(o, &self.host, &ns, &c.name);
                    cimxml::write_class(o, &c, &f);
                    o.close("VALUE.OBJECTWITHPATH");
                }
            }
            Ok(())
        })
    }
}
