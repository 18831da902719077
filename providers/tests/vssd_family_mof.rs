//! The template and snapshot VSSD classes: what the provider builds for each kind of VM record
//! fits the class of that kind, with the DMTF schema and with `mof/base/` alone.

mod mof_check;
use mof_check::*;
use xen_cim_providers::cache::Tables;
use xen_cim_providers::xen_computer_system_setting_data::{self as vssd, VssdKind};
use xenapi_client::Wire;
#[test]
fn each_kind_fits_its_class() {
    let dt = || Wire::DateTime("20250101T00:00:00Z".into());
    let mut t = Tables::default();
    t.insert("vm_metrics", "M", rec("VM_metrics", vec![("install_time", dt()), ("start_time", dt())]));
    t.insert("vm", "SRC", rec("VM", vec![("uuid", s("src"))]));
    let common = |uuid: &str, hvm: bool| {
        vec![("uuid", s(uuid)), ("name_label", s("n")), ("metrics", s("M")), ("HVM_boot_policy", s(if hvm { "BIOS order" } else { "" })), ("HVM_shadow_multiplier", Wire::Float(1.0))]
    };
    let with = |mut v: Vec<(&'static str, Wire)>, extra: Vec<(&'static str, Wire)>| {
        v.extend(extra);
        v
    };
    let template = rec("VM", with(common("t", true), vec![("is_a_template", Wire::Bool(true))]));
    let snapshot = rec(
        "VM",
        with(common("sn", false), vec![("is_a_template", Wire::Bool(true)), ("is_a_snapshot", Wire::Bool(true)), ("snapshot_of", s("SRC")), ("snapshot_time", dt())]),
    );
    for r in [schema_repository(), base_repository()] {
        let ns = r.namespace("root/cimv2").unwrap();
        for (vm, kind) in [(&template, VssdKind::Template), (&snapshot, VssdKind::Snapshot)] {
            let i = vssd::instance("root/cimv2", vm, &t);
            assert_eq!(i.path.classname, kind.class());
            assert!(i.get("CreationTime").is_some());
            if kind == VssdKind::Snapshot {
                assert!(i.get("SnapshotOf").is_some() && i.get("SnapshotTime").is_some());
            }
            let c = ns.class(kind.class()).unwrap_or_else(|| panic!("{} is not defined", kind.class()));
            assert!(ns.is_subclass_of(kind.class(), "Xen_VirtualSystemSettingData") && ns.is_subclass_of(kind.class(), "CIM_VirtualSystemSettingData"));
            check_instance(c, &i);
        }
    }
}
