//! The broker describing itself in the interop namespace (DSP1033 Profile
//! Registration, as pywbem's `WBEMServer` expects): one `CIM_ObjectManager`
//! and a `CIM_Namespace` per namespace. Registered only when the classes
//! are defined (they come with the DMTF schema).

use std::sync::Arc;

use crate::error::CimResult;
use crate::model::*;
use crate::provider::{Context, Provider, ProviderRegistry};
use crate::repo::Repository;

/// Name of the CIM_ObjectManager instance.
pub const OBJECT_MANAGER_NAME: &str = "xencim";

pub struct InteropProvider {
    host: String,
    namespaces: Vec<String>,
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
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
            }
            i
        };
        if class.name.eq_ignore_ascii_case("CIM_ObjectManager") {
            let i = Instance::new(class.name.clone())
                .with("SystemCreationClassName", CimType::String, s("CIM_ComputerSystem"))
                .with("SystemName", CimType::String, s(&self.host))
                .with("CreationClassName", CimType::String, s(&class.name))
                .with("Name", CimType::String, s(OBJECT_MANAGER_NAME))
                .with("ElementName", CimType::String, s("xencim"))
                .with("Description", CimType::String, s(concat!("xencim embedded CIM-XML broker ", env!("CARGO_PKG_VERSION"))));
            return Ok(vec![typed(i)]);
        }
        if class.name.eq_ignore_ascii_case("CIM_Namespace") {
            return Ok(self
                .namespaces
                .iter()
                .map(|ns| {
                    typed(
                        Instance::new(class.name.clone())
                            .with("SystemCreationClassName", CimType::String, s("CIM_ComputerSystem"))
                            .with("SystemName", CimType::String, s(&self.host))
                            .with("ObjectManagerCreationClassName", CimType::String, s("CIM_ObjectManager"))
                            .with("ObjectManagerName", CimType::String, s(OBJECT_MANAGER_NAME))
                            .with("CreationClassName", CimType::String, s(&class.name))
                            .with("Name", CimType::String, s(ns))
                            .with("ClassInfo", CimType::UInt16, Value::UInt(0)),
                    )
                })
                .collect());
        }
        Ok(vec![])
    }
}

/// Registers the provider in `interop_ns` when the schema defines its classes.
pub fn register(repo: &Repository, interop_ns: &str, host: &str, reg: &mut ProviderRegistry) {
    let Some(n) = repo.namespace(interop_ns) else { return };
    let p = Arc::new(InteropProvider { host: host.to_string(), namespaces: repo.namespace_names() });
    for c in ["CIM_ObjectManager", "CIM_Namespace"] {
        if n.class(c).is_some() && reg.get(interop_ns, c).is_none() {
            reg.register(interop_ns, c, p.clone());
        }
    }
}
