//! The lifecycle indication classes in `mof/` are indications under the DMTF classes the
//! provider says they are, and an indication the provider builds fits its class (with the DMTF
//! schema and with `mof/base/` alone).

mod mof_check;
use cmpi_shim::{CimDateTime, CimValue};
use mof_check::*;
use xen_cim_providers::cache::Tables;
use xen_cim_providers::xen_computer_system_indication::{self as ind, Change};
#[test]
fn indications_fit_their_classes() {
    let mut t = Tables::default();
    t.insert("vm", "R", rec("VM", vec![("uuid", s("v")), ("name_label", s("web")), ("power_state", s("Running")), ("resident_on", s("H"))]));
    t.insert("host", "H", rec("host", vec![("uuid", s("h")), ("hostname", s("xenhost"))]));
    let system = ind::systems("root/cimv2", &t, |_| 2).remove("v").unwrap();
    let changes = [Change::Created(system.clone()), Change::Deleted(system.clone()), Change::Modified { new: system.clone(), old: system }];
    for r in [schema_repository(), base_repository()] {
        let ns = r.namespace("root/cimv2").unwrap();
        for (c, parent) in changes.iter().zip(["CIM_InstCreation", "CIM_InstDeletion", "CIM_InstModification"]) {
            let i = ind::indication("root/cimv2", c, CimDateTime::from_unix_micros(1), "Xen:0:1", ind::source_host(c.source(), &t).as_deref());
            let class = ns.class(&i.path.classname).unwrap_or_else(|| panic!("{} is not defined", i.path.classname));
            assert_eq!(class.superclass.as_deref(), Some(parent));
            assert!(ns.is_subclass_of(&class.name, "CIM_Indication"));
            assert!(class.qualifiers.iter().any(|q| q.name.eq_ignore_ascii_case("Indication")), "{} is an indication class", class.name);
            for (name, v) in &i.properties {
                let p = class.property(name).unwrap_or_else(|| panic!("{}.{name} is not declared", class.name));
                assert_eq!(&p.name, name);
                let want = match v {
                    // Embedded instances travel in string properties qualified EmbeddedObject.
                    CimValue::Instance(_) => {
                        assert!(p.qualifiers.iter().any(|q| q.name.eq_ignore_ascii_case("EmbeddedObject")), "{name}");
                        "string".to_string()
                    }
                    other => format!("{:?}", other.cim_type().0).to_ascii_lowercase(),
                };
                assert_eq!(p.ty.as_str(), want, "{}.{name}", class.name);
            }
        }
    }
}
