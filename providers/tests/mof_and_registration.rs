//! The MOF in `mof/`, the registrations in `registration/` and the providers agree: every class
//! compiles on top of the DMTF schema 2.41, every property a provider sets is declared with the
//! same type, instance paths use exactly the class's keys, and every registration names an
//! exported provider of a compiled class.
//!
//! The schema is read from `$CIM_SCHEMA_DIR`, else `../shared/cim-schema/2.41.0` next to the
//! workspace (the project must not copy it into its tree).

mod mof_check;
use mof_check::*;
use cmpi_shim::CimValue;
use xen_cim_providers::cache::Tables;
use xen_cim_providers::{xen_computer_system as cs, xen_computer_system_setting_data as vssd, xen_host_computer_system as host};
use xenapi_client::ObjectRecord;
use xenapi_client::Wire;
use xencim_broker::model::Class;
use xencim_broker::repo::Repository;


fn class<'a>(r: &'a Repository, name: &str) -> &'a Class {
    r.namespace("root/cimv2").unwrap().class(name).unwrap_or_else(|| panic!("{name} is not defined"))
}

/// Every property of `i` is declared by `c` with the same type and array-ness, and the path's
/// keys are exactly the class's key properties.



fn map(pairs: &[(&str, &str)]) -> Wire {
    Wire::Struct(pairs.iter().map(|(k, v)| (k.to_string(), s(v))).collect())
}

/// Records with every field the providers read filled in, so every optional property is set.
fn tables() -> (Tables, ObjectRecord, ObjectRecord, ObjectRecord) {
    let mut t = Tables::default();
    let h = rec(
        "host",
        vec![
            ("uuid", s("h")),
            ("name_label", s("host")),
            ("enabled", Wire::Bool(true)),
            ("address", s("127.0.0.1")),
            ("software_version", map(&[("product_brand", "xencim"), ("product_version", "0.1"), ("build_number", "1")])),
            ("other_config", map(&[("owner", "o"), ("ownercontact", "c"), ("role", "r"), ("boot_time", "1700000000")])),
            ("metrics", s("HM")),
        ],
    );
    t.insert("host", "H", h.clone());
    t.insert("host_metrics", "HM", rec("host_metrics", vec![("last_updated", Wire::DateTime("20250101T00:00:00Z".into()))]));
    let dt = || Wire::DateTime("20250101T00:00:00Z".into());
    t.insert("vm_metrics", "VM_M", rec("VM_metrics", vec![("install_time", dt()), ("last_updated", dt()), ("start_time", dt())]));
    t.insert("vm_guest_metrics", "VM_G", rec("VM_guest_metrics", vec![("os_version", map(&[("name", "n"), ("uname", "u"), ("major", "1"), ("minor", "2"), ("distro", "d")]))]));
    let common = |hvm: bool| {
        vec![
            ("uuid", s("v")),
            ("name_label", s("vm")),
            ("name_description", s("d")),
            ("power_state", s("Running")),
            ("allowed_operations", Wire::Array(vec![s("clean_shutdown"), s("pause")])),
            ("resident_on", s("H")),
            ("metrics", s("VM_M")),
            ("guest_metrics", s("VM_G")),
            ("other_config", map(&[("owner", "o"), ("owner_contact", "c"), ("roles", "r")])),
            ("platform", map(&[("acpi", "1")])),
            ("HVM_boot_policy", s(if hvm { "BIOS order" } else { "" })),
            ("HVM_boot_params", map(&[("order", "dc")])),
            ("HVM_shadow_multiplier", Wire::Float(1.0)),
        ]
    };
    let pv = rec("VM", common(false).into_iter().filter(|(k, _)| *k != "HVM_boot_params").collect());
    let hvm = rec("VM", common(true));
    (t, h, pv, hvm)
}

#[test]
fn provider_instances_fit_their_classes() {
    let r = schema_repository();
    let (t, h, pv, hvm) = tables();
    let c = class(&r, cs::CLASS);
    assert_eq!(c.superclass.as_deref(), Some("CIM_ComputerSystem"));
    let i = cs::instance("root/cimv2", &pv, &t, 2);
    for p in ["Host", "InstallDate", "OtherIdentifyingInfo", "PrimaryOwnerContact", "Roles", "AvailableRequestedStates"] {
        assert!(i.get(p).is_some(), "the sample sets {p}");
    }
    check_instance(c, &i);
    let c = class(&r, host::CLASS);
    let i = host::instance("root/cimv2", &h, &t);
    assert!(i.get("StartTime").is_some() && i.get("TimeOfLastStateChange").is_some());
    check_instance(c, &i);
    let c = class(&r, vssd::CLASS);
    assert!(r.namespace("root/cimv2").unwrap().is_subclass_of(vssd::CLASS, "CIM_VirtualSystemSettingData"));
    for vm in [&pv, &hvm] {
        let i = vssd::instance("root/cimv2", vm, &t);
        assert!(i.get("CreationTime").is_some() && i.get("StartTime").is_some() && i.get("Host").is_some());
        check_instance(c, &i);
    }
    assert_eq!(vssd::instance("root/cimv2", &hvm, &t).get("HVM_ShadowMultiplier"), Some(&CimValue::Real64(1.0)));
}

#[test]
fn request_state_change_is_declared_as_the_provider_reads_it() {
    let r = schema_repository();
    let m = class(&r, cs::CLASS).method("RequestStateChange").expect("RequestStateChange is inherited");
    assert_eq!(m.return_type.as_str(), "uint32");
    let param = |n: &str| m.parameters.iter().find(|p| p.name == n).unwrap_or_else(|| panic!("no parameter {n}"));
    assert_eq!(param("RequestedState").ty.as_str(), "uint16");
    assert_eq!(param("TimeoutPeriod").ty.as_str(), "datetime");
}

#[test]
fn registrations_name_exported_providers_of_compiled_classes() {
    let r = schema_repository();
    let regs = xencim_broker::registration::read_all(&[workspace().join("registration")]).expect("registration/ parses");
    let mut registered: Vec<&str> = regs.iter().map(|g| g.provider.as_str()).collect();
    registered.sort_unstable();
    let mut exported = xen_cim_providers::PROVIDER_NAMES.to_vec();
    exported.sort_unstable();
    assert_eq!(registered, exported, "one registration per exported provider");
    for g in &regs {
        assert_eq!(g.location, "xen_cim_providers", "{}", g.class);
        let interop = ["Xen_RegisteredProfile", "Xen_ElementConformsToProfile", "Xen_ReferencedProfile"].contains(&g.class.as_str());
        if !interop {
            assert_eq!(g.namespaces, vec!["root/cimv2".to_string()], "{}", g.class);
        }
        for ns in &g.namespaces {
            assert!(r.namespace(ns).and_then(|n| n.class(&g.class)).is_some(), "{} is not compiled into {ns}", g.class);
        }
        assert_eq!(g.provider, g.class, "provider names are the class names");
        class(&r, &g.class);
        let indication = r.namespace("root/cimv2").unwrap().is_subclass_of(&g.class, "CIM_Indication");
        assert!(if indication { g.has_type("indication") } else { g.has_type("instance") }, "{}", g.class);
    }
    let cs_reg = regs.iter().find(|g| g.class == cs::CLASS).unwrap();
    assert!(cs_reg.has_type("method"), "RequestStateChange needs the method MI");
}

#[test]
fn base_classes_are_a_faithful_subset_of_the_dmtf_schema() {
    let (base, full) = (base_repository(), schema_repository());
    let ns = base.namespace("root/cimv2").unwrap();
    let names = ns.all_subclasses(None);
    assert!(names.iter().any(|n| n == "CIM_ComputerSystem"), "{names:?}");
    for name in &names {
        let b = class(&base, name);
        let f = class(&full, name);
        assert_eq!(b.superclass, f.superclass, "{name} superclass");
        assert_eq!(b.is_abstract(), f.is_abstract(), "{name} Abstract");
        for p in &b.properties {
            let q = f.property(&p.name).unwrap_or_else(|| panic!("{name}.{} is not in the DMTF schema", p.name));
            assert_eq!((p.name.as_str(), p.ty.as_str(), p.is_array, p.is_key()), (q.name.as_str(), q.ty.as_str(), q.is_array, q.is_key()), "{name}.{}", p.name);
            assert_eq!(p.reference_class, q.reference_class, "{name}.{}", p.name);
        }
        let bk: Vec<_> = b.key_properties().map(|p| p.name.clone()).collect();
        let fk: Vec<_> = f.key_properties().map(|p| p.name.clone()).collect();
        assert_eq!(bk, fk, "{name} keys");
        for m in &b.methods {
            let n = f.method(&m.name).unwrap_or_else(|| panic!("{name}.{}() is not in the DMTF schema", m.name));
            assert_eq!(m.return_type.as_str(), n.return_type.as_str(), "{name}.{}()", m.name);
            let sig = |m: &xencim_broker::model::Method| -> Vec<(String, String, bool, Option<String>)> {
                m.parameters.iter().map(|p| (p.name.clone(), p.ty.as_str().to_string(), p.is_array, p.reference_class.clone())).collect()
            };
            assert_eq!(sig(m), sig(n), "{name}.{}() parameters", m.name);
        }
    }
}

#[test]
fn provider_instances_fit_the_base_classes_too() {
    let r = base_repository();
    let (t, h, pv, hvm) = tables();
    check_instance(class(&r, cs::CLASS), &cs::instance("root/cimv2", &pv, &t, 2));
    check_instance(class(&r, host::CLASS), &host::instance("root/cimv2", &h, &t));
    check_instance(class(&r, vssd::CLASS), &vssd::instance("root/cimv2", &hvm, &t));
    check_instance(class(&r, vssd::CLASS), &vssd::instance("root/cimv2", &pv, &t));
}
