//! `Xen_ReferencedProfile`: DSP1042 System Virtualization (Dependent) → the profiles it uses as
//! components (Antecedent). The Xen profiles come from the association table
//! ([`associations`], `Assoc::ReferencedProfile`); this adds the component profiles the CIM
//! broker implements on behalf of the Xen classes: DSP1054 Indications, whose indication service
//! delivers the VMs' lifecycle indications.
//!
//! The broker's profile is found through the broker (`CIM_RegisteredProfile` in root/interop,
//! RegisteredOrganization 2 DMTF, RegisteredName "Indications", not a `Xen_RegisteredProfile`),
//! so the link names whatever instance the broker publishes (xencim's `xencim:DSP1054`, SFCB's
//! `SFCB_RegisteredProfile`, ...), and there is no link when the broker publishes none.

use crate::associations::{self as assoc, Assoc, AssocProvider};
use crate::util::namespace_of;
use crate::xen_registered_profile::{self as rp, INTEROP_NAMESPACE};
use cmpi_shim::provider::{AssociationProvider, Broker, Context, InstanceProvider, Provider};
use cmpi_shim::{CimValue, CmpiError, Instance, ObjectPath};

/// RegisteredName of the DMTF profiles the broker implements for the Xen classes.
pub const BROKER_COMPONENTS: &[&str] = &["Indications"];

/// The classes every registered profile is (a result-class filter on a broker's profile).
const PROFILE_LINEAGE: &[&str] = &["CIM_RegisteredProfile", "CIM_RegisteredSpecification", "CIM_ManagedElement"];

/// True when `i` is a broker's registered profile that DSP1042 references.
pub fn is_broker_component(i: &Instance) -> bool {
    !i.path.classname.eq_ignore_ascii_case(rp::CLASS)
        && i.get("RegisteredOrganization") == Some(&CimValue::Uint16(2))
        && i.get("RegisteredName").and_then(|v| v.as_str()).is_some_and(|n| BROKER_COMPONENTS.contains(&n))
}

/// True when `a` and `b` name the same instance (class and keys; namespace aside).
fn same(a: &ObjectPath, b: &ObjectPath) -> bool {
    a.classname.eq_ignore_ascii_case(&b.classname) && a.keys.len() == b.keys.len() && a.keys.iter().all(|(k, v)| b.key(k) == Some(v))
}

/// The links from `op` to or from the broker's `components`, with the far instance, that pass
/// Role, ResultRole and ResultClass.
pub fn component_hops(op: &ObjectPath, components: &[Instance], role: Option<&str>, result_role: Option<&str>, result_class: Option<&str>) -> Vec<(Instance, Instance)> {
    let (dependent, antecedent) = Assoc::ReferencedProfile.roles();
    let ns = namespace_of(op);
    let sv = rp::SYSTEM_VIRTUALIZATION.path();
    let at = |mut p: ObjectPath| {
        p.namespace = INTEROP_NAMESPACE.to_string();
        p
    };
    let passes = |src_role: &str, far_role: &str, far_class: &str, far_lineage: &[&str]| {
        role.is_none_or(|r| r.eq_ignore_ascii_case(src_role))
            && result_role.is_none_or(|r| r.eq_ignore_ascii_case(far_role))
            && result_class.is_none_or(|rc| rc.eq_ignore_ascii_case(far_class) || far_lineage.iter().any(|c| c.eq_ignore_ascii_case(rc)))
    };
    let mut out = Vec::new();
    for c in components {
        let cp = at(c.path.clone());
        if same(op, &sv) {
            if passes(dependent, antecedent, &cp.classname, PROFILE_LINEAGE) {
                out.push((assoc::link(Assoc::ReferencedProfile, &ns, sv.clone(), cp), c.clone()));
            }
        } else if same(op, &cp) && passes(antecedent, dependent, rp::CLASS, &assoc::lineage(rp::CLASS)) {
            out.push((assoc::link(Assoc::ReferencedProfile, &ns, sv.clone(), cp), rp::SYSTEM_VIRTUALIZATION.instance()));
        }
    }
    out
}

/// The provider: the association table's links, and those to the broker's components.
pub struct ReferencedProfileProvider {
    table: AssocProvider,
    broker: Broker,
}

impl ReferencedProfileProvider {
    pub fn new(broker: Broker) -> ReferencedProfileProvider {
        ReferencedProfileProvider { table: AssocProvider::new(Assoc::ReferencedProfile), broker }
    }

    /// The broker's component profiles. A broker without registered profiles (no DMTF schema,
    /// no up-calls) has none.
    fn components(&self, ctx: &Context) -> Vec<Instance> {
        let op = ObjectPath::new(INTEROP_NAMESPACE, "CIM_RegisteredProfile");
        // an error (CIM_RegisteredProfile undefined without the DMTF schema) means none
        self.broker.enumerate_instances(ctx, &op).map(|all| all.into_iter().filter(is_broker_component).collect()).unwrap_or_default()
    }

    /// False when the AssocClass (or References' ResultClass) filter leaves this class out.
    fn wanted(assoc_class: Option<&str>) -> bool {
        assoc_class.is_none_or(|c| assoc::is_a(Assoc::ReferencedProfile.class(), c))
    }
}

impl Provider for ReferencedProfileProvider {
    fn instance(&self) -> Option<&dyn InstanceProvider> {
        Some(self)
    }
    fn association(&self) -> Option<&dyn AssociationProvider> {
        Some(self)
    }
}

impl InstanceProvider for ReferencedProfileProvider {
    fn enumerate_instances(&self, ctx: &Context, op: &ObjectPath, p: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        let mut v = self.table.enumerate_instances(ctx, op, p)?;
        let mut sv = rp::SYSTEM_VIRTUALIZATION.path();
        sv.namespace = namespace_of(op);
        v.extend(component_hops(&sv, &self.components(ctx), None, None, None).into_iter().map(|(l, _)| l));
        Ok(v)
    }
}

impl AssociationProvider for ReferencedProfileProvider {
    fn associators(
        &self,
        ctx: &Context,
        op: &ObjectPath,
        assoc_class: Option<&str>,
        result_class: Option<&str>,
        role: Option<&str>,
        result_role: Option<&str>,
        properties: Option<&[String]>,
    ) -> Result<Vec<Instance>, CmpiError> {
        let mut v = self.table.associators(ctx, op, assoc_class, result_class, role, result_role, properties)?;
        if Self::wanted(assoc_class) {
            v.extend(component_hops(op, &self.components(ctx), role, result_role, result_class).into_iter().map(|(_, far)| far));
        }
        Ok(v)
    }

    fn associator_names(
        &self,
        ctx: &Context,
        op: &ObjectPath,
        assoc_class: Option<&str>,
        result_class: Option<&str>,
        role: Option<&str>,
        result_role: Option<&str>,
    ) -> Result<Vec<ObjectPath>, CmpiError> {
        let mut v = self.table.associator_names(ctx, op, assoc_class, result_class, role, result_role)?;
        if Self::wanted(assoc_class) {
            v.extend(component_hops(op, &self.components(ctx), role, result_role, result_class).into_iter().map(|(_, far)| far.path));
        }
        Ok(v)
    }

    fn references(&self, ctx: &Context, op: &ObjectPath, result_class: Option<&str>, role: Option<&str>, p: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        let mut v = self.table.references(ctx, op, result_class, role, p)?;
        if Self::wanted(result_class) {
            v.extend(component_hops(op, &self.components(ctx), role, None, None).into_iter().map(|(l, _)| l));
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker_profile(class: &str, id: &str, name: &str) -> Instance {
        Instance::new(ObjectPath::new("root/interop", class).with_key("InstanceID", id))
            .with("InstanceID", id)
            .with("RegisteredOrganization", CimValue::Uint16(2))
            .with("RegisteredName", name)
    }

    #[test]
    fn dsp1042_references_the_brokers_indications_profile() {
        let all = [broker_profile("CIM_RegisteredProfile", "xencim:DSP1054", "Indications"), broker_profile("CIM_RegisteredProfile", "x:other", "Profile Registration"), rp::VIRTUAL_SYSTEM.instance()];
        let components: Vec<Instance> = all.iter().filter(|i| is_broker_component(i)).cloned().collect();
        assert_eq!(components.len(), 1, "not other broker profiles, not the Xen ones");
        let sv = rp::SYSTEM_VIRTUALIZATION.path();
        let h = component_hops(&sv, &components, Some("Dependent"), Some("Antecedent"), Some("CIM_RegisteredProfile"));
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].0.get("Antecedent"), Some(&CimValue::Reference(components[0].path.clone())));
        assert_eq!(h[0].0.get("Dependent"), Some(&CimValue::Reference(sv.clone())));
        assert!(component_hops(&sv, &components, Some("Antecedent"), None, None).is_empty());
        assert!(component_hops(&sv, &components, None, None, Some("Xen_RegisteredProfile")).is_empty());
        let back = component_hops(&components[0].path, &components, None, None, Some("CIM_RegisteredProfile"));
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].1.path, sv);
        assert!(component_hops(&rp::VIRTUAL_SYSTEM.path(), &components, None, None, None).is_empty());
    }
}
