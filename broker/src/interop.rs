//! The broker describing itself in the interop namespace (DSP1033 Profile
//! Registration, as pywbem's `WBEMServer` expects, and DSP1054 Indications,
//! as SFCB does): the `CIM_ComputerSystem` it runs on, one
//! `CIM_ObjectManager`, a `CIM_Namespace` per namespace, the
//! `CIM_IndicationService` that delivers indications, and around them:
//!
//! | instance | what |
//! | --- | --- |
//! | `CIM_HostedService` | the system → the object manager, the indication service |
//! | `CIM_RegisteredProfile` `xencim:DSP1054` | DMTF Indications 1.2.0, implemented by the broker |
//! | `CIM_ElementConformsToProfile` | DSP1054 → the indication service |
//!
//! Each class is served only when the schema defines it (the DMTF schema
//! does; `mof/base` does not) and no other provider serves it. Only the
//! instances of exactly these classes come from here: subclasses (the
//! providers' `Xen_RegisteredProfile`, ...) keep their own providers.

use std::sync::Arc;

use crate::error::CimResult;
use crate::model::*;
use crate::provider::{Context, Provider, ProviderRegistry};
use crate::repo::Repository;

/// Name of the CIM_ObjectManager instance.
pub const OBJECT_MANAGER_NAME: &str = "xencim";
/// Name of the CIM_IndicationService instance.
pub const INDICATION_SERVICE_NAME: &str = "xencim:indications";
/// InstanceID of the DSP1054 registered profile.
pub const INDICATIONS_PROFILE_ID: &str = "xencim:DSP1054";
/// The DSP1054 version implemented: subscriptions to filters and CIM-XML
/// listener destinations, indications delivered with retries.
pub const INDICATIONS_PROFILE_VERSION: &str = "1.2.0";

/// The classes this module serves.
pub const CLASSES: [&str; 7] = [
    "CIM_ComputerSystem",
    "CIM_ObjectManager",
    "CIM_Namespace",
    "CIM_IndicationService",
    "CIM_HostedService",
    "CIM_RegisteredProfile",
    "CIM_ElementConformsToProfile",
];

pub struct InteropProvider {
    host: String,
    interop_ns: String,
    namespaces: Vec<String>,
    /// Delivery attempts after the first (the hub's retry delays).
    delivery_retries: u64,
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

/// `p` in namespace `ns`.
fn in_ns(mut p: ObjectPath, ns: &str) -> ObjectPath {
    p.namespace = Some(ns.to_string());
    p
}

fn u16s(v: &[u64]) -> Value {
    Value::Array(v.iter().map(|x| Value::UInt(*x)).collect())
}

impl InteropProvider {
    /// The system the broker runs on (what CIM_ObjectManager's System keys name).
    pub fn system_path(&self) -> ObjectPath {
        in_ns(ObjectPath::new("CIM_ComputerSystem").with_key("CreationClassName", s("CIM_ComputerSystem")).with_key("Name", s(&self.host)), &self.interop_ns)
    }

    /// A service hosted on that system.
    fn service_path(&self, class: &str, name: &str) -> ObjectPath {
        let p = ObjectPath::new(class)
            .with_key("SystemCreationClassName", s("CIM_ComputerSystem"))
            .with_key("SystemName", s(&self.host))
            .with_key("CreationClassName", s(class))
            .with_key("Name", s(name));
        in_ns(p, &self.interop_ns)
    }

    pub fn object_manager_path(&self) -> ObjectPath {
        self.service_path("CIM_ObjectManager", OBJECT_MANAGER_NAME)
    }

    pub fn indication_service_path(&self) -> ObjectPath {
        self.service_path("CIM_IndicationService", INDICATION_SERVICE_NAME)
    }

    pub fn indications_profile_path(&self) -> ObjectPath {
        in_ns(ObjectPath::new("CIM_RegisteredProfile").with_key("InstanceID", s(INDICATIONS_PROFILE_ID)), &self.interop_ns)
    }

    /// The instances of exactly `class` (untyped: see [`enumerate_instances`]).
    fn instances_of(&self, class: &str) -> Vec<Instance> {
        let with_keys = |p: ObjectPath| {
            let mut i = Instance::new(p.class_name.clone());
            for (k, v) in p.keys {
                i = i.with(&k, CimType::String, v);
            }
            i
        };
        let link = |class: &str, (r1, p1): (&str, ObjectPath), (r2, p2): (&str, ObjectPath)| {
            Instance::new(class).with(r1, CimType::Reference, Value::Reference(p1)).with(r2, CimType::Reference, Value::Reference(p2))
        };
        match class.to_ascii_lowercase().as_str() {
            "cim_computersystem" => vec![with_keys(self.system_path())
                .with("ElementName", CimType::String, s(&self.host))
                .with("Description", CimType::String, s("The system the xencim CIM broker runs on"))],
            "cim_objectmanager" => vec![with_keys(self.object_manager_path())
                .with("ElementName", CimType::String, s("xencim"))
                .with("Description", CimType::String, s(concat!("xencim embedded CIM-XML broker ", env!("CARGO_PKG_VERSION"))))],
            "cim_namespace" => self
                .namespaces
                .iter()
                .map(|ns| {
                    Instance::new(class)
                        .with("SystemCreationClassName", CimType::String, s("CIM_ComputerSystem"))
                        .with("SystemName", CimType::String, s(&self.host))
                        .with("ObjectManagerCreationClassName", CimType::String, s("CIM_ObjectManager"))
                        .with("ObjectManagerName", CimType::String, s(OBJECT_MANAGER_NAME))
                        .with("CreationClassName", CimType::String, s(class))
                        .with("Name", CimType::String, s(ns))
                        .with("ClassInfo", CimType::UInt16, Value::UInt(0))
                })
                .collect(),
            "cim_indicationservice" => vec![with_keys(self.indication_service_path())
                .with("ElementName", CimType::String, s("xencim indication service"))
                .with("Description", CimType::String, s("Delivers the indications of the providers to the CIM-XML listeners of the subscriptions in this namespace"))
                // clients create their own CIM_IndicationFilter instances
                .with("FilterCreationEnabled", CimType::Boolean, Value::Boolean(true))
                .with("DeliveryRetryAttempts", CimType::UInt16, Value::UInt(self.delivery_retries))
                // 2 Enabled, 5 OK, [2] OK: it runs whenever the broker does
                .with("EnabledState", CimType::UInt16, Value::UInt(2))
                .with("HealthState", CimType::UInt16, Value::UInt(5))
                .with("OperationalStatus", CimType::UInt16, u16s(&[2]))],
            "cim_hostedservice" => [self.object_manager_path(), self.indication_service_path()]
                .into_iter()
                .map(|svc| link(class, ("Antecedent", self.system_path()), ("Dependent", svc)))
                .collect(),
            "cim_registeredprofile" => vec![Instance::new(class)
                .with("InstanceID", CimType::String, s(INDICATIONS_PROFILE_ID))
                .with("ElementName", CimType::String, s("DSP1054 Indications"))
                .with("RegisteredOrganization", CimType::UInt16, Value::UInt(2)) // DMTF
                .with("RegisteredName", CimType::String, s("Indications"))
                .with("RegisteredVersion", CimType::String, s(INDICATIONS_PROFILE_VERSION))
                .with("AdvertiseTypes", CimType::UInt16, u16s(&[2]))], // Not Advertised
            "cim_elementconformstoprofile" => {
                vec![link(class, ("ConformantStandard", self.indications_profile_path()), ("ManagedElement", self.indication_service_path()))]
            }
            _ => vec![],
        }
    }
}

impl Provider for InteropProvider {
    fn enumerate_instances(&self, _ctx: &Context, class: &Class) -> CimResult<Vec<Instance>> {
        let typed = |mut i: Instance| {
            // type every property from the class; drop what it does not define
            i.properties.retain(|p| class.property(&p.name).is_some());
            for p in &mut i.properties {
                let d = class.property(&p.name).unwrap();
                p.name = d.name.clone();
                p.ty = d.ty;
                p.is_array = d.is_array;
                p.reference_class = d.reference_class.clone();
            }
            i.class_name = class.name.clone();
            i
        };
        Ok(self.instances_of(&class.name).into_iter().map(typed).collect())
    }
}

/// Registers the provider in `interop_ns` for the classes the schema defines
/// there. `delivery_retries`: how often the indication hub retries a delivery.
pub fn register(repo: &Repository, interop_ns: &str, host: &str, delivery_retries: usize, reg: &mut ProviderRegistry) {
    let Some(n) = repo.namespace(interop_ns) else { return };
    let p = Arc::new(InteropProvider {
        host: host.to_string(),
        interop_ns: interop_ns.to_string(),
        namespaces: repo.namespace_names(),
        delivery_retries: delivery_retries as u64,
    });
    for c in CLASSES {
        if n.class(c).is_some() && reg.get(interop_ns, c).is_none() {
            reg.register(interop_ns, c, p.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> InteropProvider {
        InteropProvider { host: "h".into(), interop_ns: "root/interop".into(), namespaces: vec!["root/cimv2".into(), "root/interop".into()], delivery_retries: 3 }
    }

    fn reference(i: &Instance, name: &str) -> ObjectPath {
        match i.get_value(name) {
            Some(Value::Reference(p)) => p.clone(),
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn the_indication_service_is_hosted_and_conforms_to_dsp1054() {
        let p = provider();
        let svc = &p.instances_of("CIM_IndicationService")[0];
        assert_eq!(svc.get_value("Name"), Some(&s(INDICATION_SERVICE_NAME)));
        assert_eq!(svc.get_value("DeliveryRetryAttempts"), Some(&Value::UInt(3)));
        let hosted = p.instances_of("CIM_HostedService");
        let deps: Vec<ObjectPath> = hosted.iter().map(|h| reference(h, "Dependent")).collect();
        assert!(deps.iter().any(|d| d.same_instance(&p.indication_service_path())) && deps.iter().any(|d| d.same_instance(&p.object_manager_path())));
        assert!(hosted.iter().all(|h| reference(h, "Antecedent").same_instance(&p.system_path())));
        // the system the services name in their keys exists
        let sys = &p.instances_of("CIM_ComputerSystem")[0];
        assert_eq!(sys.get_value("Name"), svc.get_value("SystemName"));
        let profile = &p.instances_of("CIM_RegisteredProfile")[0];
        assert_eq!(profile.get_value("RegisteredName"), Some(&s("Indications")));
        let ecp = &p.instances_of("CIM_ElementConformsToProfile")[0];
        assert!(reference(ecp, "ConformantStandard").same_instance(&p.indications_profile_path()));
        assert!(reference(ecp, "ManagedElement").same_instance(&p.indication_service_path()));
        assert!(p.instances_of("Xen_RegisteredProfile").is_empty(), "subclasses are served by their own providers");
    }
}
