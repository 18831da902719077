//! The template and snapshot VSSD classes: what the provider builds for each kind of VM record
//! fits the class of that kind, with the DMTF schema and with `mof/base/` alone.

mod mof_check;
use mof_check::*;
use std::path::PathBuf;
use xen_cim_providers::cache::Tables;
use xen_cim_providers::xen_computer_system_setting_data::{self as vssd, VssdKind};
use xenapi_core::rpc::Wire;
use xencim_broker::repo::Repository;

fn repositories() -> Vec<Repository> {
    let dir = std::env::var_os("CIM_SCHEMA_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("../shared/cim-schema/2.41.0"));
    let mut full = Repository::new();
    xencim_broker::mof::compile_file(&mut full, "root/cimv2", &dir.join("cim_schema_2.41.0.mof")).expect("the DMTF schema compiles");
    full.copy_schema("root/cimv2", "root/interop");
    let mut base = Repository::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(workspace().join("mof/base")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "mof")).collect();
    files.sort();
    for f in files {
        xencim_broker::mof::compile_file(&mut base, "root/cimv2", &f).unwrap_or_else(|e| panic!("{e}"));
    }
    let mut out = vec![full, base];
    for r in &mut out {
        xencim_broker::mof::compile_file(r, "root/cimv2", &workspace().join("mof/Xen.mof")).expect("mof/Xen.mof compiles");
    }
    out
}

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
    for r in repositories() {
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
