//! The MOF of the job and VSMS classes fits what their providers produce and read: compiled on
//! the DMTF schema 2.41 and on `mof/base/` alone, every property a provider sets is declared
//! with the same type, paths use exactly the class keys, and the methods take the parameters
//! the providers read.

mod mof_check;
use mof_check::*;
use std::path::PathBuf;
use xen_cim_providers::cache::Tables;
use xen_cim_providers::{xen_job as job, xen_rasd as rasd, xen_vsms as vsms};
use xenapi_client::ObjectRecord;
use xenapi_model::model::model;
use xenapi_client::Wire;
use xencim_broker::model::Class;
use xencim_broker::repo::Repository;


/// The class files of this slice, after their Xen parents.
const FILES: &[&str] = &["Xen_ComputerSystem.mof", "Xen_VirtualSystemSettingData.mof", "Xen_Job.mof", "Xen_VirtualSystemManagementService.mof", "Xen_ResourceAllocationSettingData.mof"];

fn compile_ours(r: &mut Repository) {
    for f in FILES {
        xencim_broker::mof::compile_file(r, "root/cimv2", &workspace().join("mof").join(f)).unwrap_or_else(|e| panic!("{f}: {e:?}"));
    }
}

fn on_schema() -> Repository {
    let dir = std::env::var_os("CIM_SCHEMA_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("../shared/cim-schema/2.41.0"));
    let mut r = Repository::new();
    xencim_broker::mof::compile_file(&mut r, "root/cimv2", &dir.join("cim_schema_2.41.0.mof")).expect("the DMTF schema compiles");
    compile_ours(&mut r);
    r
}

fn on_base() -> Repository {
    let mut r = Repository::new();
    xencim_broker::mof::compile_file(&mut r, "root/cimv2", &workspace().join("mof/base/CIM_Base.mof")).expect("CIM_Base.mof compiles");
    compile_ours(&mut r);
    r
}

fn class<'a>(r: &'a Repository, name: &str) -> &'a Class {
    r.namespace("root/cimv2").unwrap().class(name).unwrap_or_else(|| panic!("{name} is not defined"))
}


fn failed_task() -> ObjectRecord {
    let s = |x: &str| Wire::Str(x.into());
    let members = vec![
        ("uuid", s("t")),
        ("name_label", s("Async.VM.clean_shutdown")),
        ("status", s("failure")),
        ("progress", Wire::Float(1.0)),
        ("created", Wire::DateTime("20250101T00:00:00Z".into())),
        ("finished", Wire::DateTime("20250101T00:00:09Z".into())),
        ("error_info", Wire::Array(vec![s("VM_BAD_POWER_STATE"), s("x")])),
        ("other_config", Wire::Struct(vec![(job::JOB_CLASS_KEY.into(), s(job::STATE_CHANGE_JOB)), (job::JOB_VM_KEY.into(), s("v"))])),
    ];
    ObjectRecord::from_wire(model().class("task").unwrap(), members.into_iter().map(|(k, v)| (k.to_string(), v)).collect()).unwrap()
}

#[test]
fn job_and_service_instances_fit_their_classes() {
    for r in [on_schema(), on_base()] {
        let c = class(&r, job::STATE_CHANGE_JOB);
        let i = job::instance("root/cimv2", job::STATE_CHANGE_JOB, &failed_task(), 0);
        assert!(i.get("ErrorDescription").is_some() && i.get("TimeOfLastStateChange").is_some() && i.get("Description").is_some());
        check_instance(c, &i);
        check_instance(class(&r, "CIM_Error"), &job::cim_error("root/cimv2", &failed_task()).unwrap());
        check_instance(class(&r, vsms::CLASS), &vsms::instance("root/cimv2", "h"));
        let mut t = Tables::default();
        let rec = |c: &str, m: Vec<(&str, Wire)>| ObjectRecord::from_wire(model().class(c).unwrap(), m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()).unwrap();
        t.insert("host", "H", rec("host", vec![("uuid", Wire::Str("h".into()))]));
        let vm = rec(
            "VM",
            vec![
                ("uuid", Wire::Str("v".into())),
                ("resident_on", Wire::Str("H".into())),
                ("VCPUs_params", Wire::Struct(vec![("cap".into(), Wire::Str("50".into())), ("weight".into(), Wire::Str("9".into()))])),
            ],
        );
        for kind in [rasd::Kind::Processor, rasd::Kind::Memory] {
            let i = rasd::instance("root/cimv2", kind, &vm, &t);
            assert!(i.get("PoolID").is_some() && i.get("Limit").is_some());
            check_instance(class(&r, kind.class()), &i);
        }
    }
}

#[test]
fn methods_are_declared_as_the_providers_read_them() {
    for r in [on_schema(), on_base()] {
        let ns = r.namespace("root/cimv2").unwrap();
        assert!(ns.is_subclass_of(job::STATE_CHANGE_JOB, "CIM_ConcreteJob"));
        let c = class(&r, job::STATE_CHANGE_JOB);
        let kill = c.method("KillJob").expect("KillJob");
        assert_eq!(kill.parameters.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), vec!["DeleteOnKill"]);
        assert!(c.method("RequestStateChange").is_some());
        assert!(c.method("GetError").expect("GetError").parameters.iter().any(|p| p.name == "Error"));
        let c = class(&r, vsms::CLASS);
        let define = c.method("DefineSystem").expect("DefineSystem");
        for p in ["SystemSettings", "ResourceSettings", "ReferenceConfiguration", "ResultingSystem", "Job"] {
            assert!(define.parameters.iter().any(|q| q.name == p), "DefineSystem.{p}");
        }
        assert!(c.method("DestroySystem").expect("DestroySystem").parameters.iter().any(|p| p.name == "AffectedSystem"));
    }
}

#[test]
fn registrations_exist_for_the_new_providers() {
    let regs = xencim_broker::registration::read_all(&[workspace().join("registration")]).expect("registration/ parses");
    for (name, method) in [(job::STATE_CHANGE_JOB, true), (vsms::CLASS, true), (rasd::Kind::Processor.class(), false), (rasd::Kind::Memory.class(), false)] {
        let g = regs.iter().find(|g| g.class == name).unwrap_or_else(|| panic!("{name} is not registered"));
        assert!(g.has_type("instance") && g.has_type("method") == method, "{name}");
        assert!(xen_cim_providers::PROVIDER_NAMES.contains(&name), "{name} is exported");
    }
}
