//! The device, profile and association classes agree with their MOF, on the DMTF schema 2.41 and
//! on `mof/base/`: every property a provider sets is declared with its type, paths use exactly
//! the keys, association instances set exactly the class's references, the interop classes are
//! in root/interop, and the class lineage the association filters use is the MOF's.

mod mof_check;
use mof_check::*;
use cmpi_shim::CimValue;
use xen_cim_providers::associations::{self as assoc, Assoc};
use xen_cim_providers::cache::Tables;
use xen_cim_providers::xen_device::{self as dev, Kind};
use xen_cim_providers::xen_registered_profile::{self as rp, PROFILES};
use xen_cim_providers::xen_resource_pool::{self as pool, PoolKind, POOL_KINDS};
use xen_cim_providers::xen_capabilities::{self as caps, CAP_KINDS};
use xen_cim_providers::xen_host_device::{self as hdev, HOST_KINDS};
use xen_cim_providers::{xen_computer_system as cs, xen_disk_image as image, xen_host_computer_system as host, xen_host_pool as hpool, xen_vsms as vsms};
use xenapi_client::ObjectRecord;
use xenapi_client::Wire;
use xencim_broker::model::Class;
use xencim_broker::repo::Repository;


fn class<'a>(r: &'a Repository, ns: &str, name: &str) -> &'a Class {
    r.namespace(ns).unwrap().class(name).unwrap_or_else(|| panic!("{name} is not defined in {ns}"))
}




/// A host running a VM with every device kind, every optional field filled in.
fn tables() -> (Tables, ObjectRecord) {
    let mut t = Tables::default();
    t.insert("host", "H", rec("host", vec![("uuid", s("h")), ("name_label", s("host")), ("metrics", s("HM")), ("PBDs", Wire::Array(vec![s("P")])), ("PIFs", Wire::Array(vec![s("I")])), ("host_CPUs", Wire::Array(vec![s("C")])), ("resident_VMs", Wire::Array(vec![s("V")]))]));
    t.insert("host_cpu", "C", rec("host_cpu", vec![("uuid", s("cpu")), ("host", s("H")), ("number", s("0")), ("speed", s("2400")), ("modelname", s("Xeon")), ("vendor", s("GenuineIntel")), ("utilisation", Wire::Float(0.25))]));
    t.insert("pif_metrics", "IM", rec("PIF_metrics", vec![("speed", s("1000")), ("device_name", s("nic"))]));
    t.insert("pool", "PO", rec("pool", vec![("uuid", s("pool")), ("name_label", s("lab")), ("master", s("H")), ("default_SR", s("S"))]));
    t.insert("host_metrics", "HM", rec("host_metrics", vec![("memory_total", s("1000")), ("memory_free", s("10"))]));
    t.insert("pbd", "P", rec("PBD", vec![("uuid", s("pbd")), ("host", s("H")), ("SR", s("S"))]));
    t.insert("pif", "I", rec("PIF", vec![("uuid", s("pif")), ("host", s("H")), ("network", s("N")), ("device", s("eth0")), ("MAC", s("02:00:00:00:00:01")), ("IP", s("10.0.0.1")), ("MTU", s("1500")), ("metrics", s("IM")), ("currently_attached", Wire::Bool(true))]));
    t.insert("sr", "S", rec("SR", vec![("uuid", s("sr")), ("name_label", s("local")), ("name_description", s("d")), ("type", s("file")), ("physical_size", s("9")), ("content_type", s("user")), ("PBDs", Wire::Array(vec![s("P")])), ("VDIs", Wire::Array(vec![s("D")]))]));
    t.insert("vdi", "D", rec("VDI", vec![("uuid", s("vdi")), ("name_label", s("root")), ("name_description", s("d")), ("virtual_size", s("100")), ("SR", s("S")), ("VBDs", Wire::Array(vec![s("B"), s("CD")]))]));
    t.insert("vbd", "B", rec("VBD", vec![("uuid", s("vbd")), ("VM", s("V")), ("type", s("Disk")), ("device", s("xvda")), ("VDI", s("D")), ("currently_attached", Wire::Bool(true))]));
    t.insert("vbd", "CD", rec("VBD", vec![("uuid", s("cd")), ("VM", s("V")), ("type", s("CD")), ("userdevice", s("3")), ("device", s("xvdd")), ("VDI", s("D")), ("mode", s("RO"))]));
    t.insert("network", "N", rec("network", vec![("uuid", s("net")), ("name_label", s("n")), ("name_description", s("d")), ("VIFs", Wire::Array(vec![s("F")])), ("PIFs", Wire::Array(vec![s("I")]))]));
    t.insert("vif", "F", rec("VIF", vec![("uuid", s("vif")), ("VM", s("V")), ("device", s("0")), ("MAC", s("00:16:3e:00:00:01")), ("MTU", s("1500")), ("network", s("N"))]));
    t.insert("vm_metrics", "M", rec("VM_metrics", vec![("memory_actual", s("64")), ("VCPUs_utilisation", Wire::Struct(vec![("0".into(), Wire::Float(0.5))]))]));
    let vm = rec(
        "VM",
        vec![
            ("uuid", s("v")),
            ("power_state", s("Running")),
            ("resident_on", s("H")),
            ("VCPUs_max", s("1")),
            ("memory_dynamic_max", s("128")),
            ("metrics", s("M")),
            ("VBDs", Wire::Array(vec![s("B"), s("CD")])),
            ("allowed_operations", Wire::Array(vec![s("clean_shutdown"), s("hard_reboot")])),
            ("name_label", s("vm")),
            ("VIFs", Wire::Array(vec![s("F")])),
        ],
    );
    t.insert("vm", "V", vm.clone());
    (t, vm)
}

fn check_all(r: &Repository) {
    let (t, vm) = tables();
    for kind in dev::KINDS {
        let devices = dev::devices("root/cimv2", kind, &vm, &t);
        assert!(!devices.is_empty(), "{kind:?}");
        for i in &devices {
            check_instance(class(r, "root/cimv2", kind.class()), i);
        }
    }
    let c = class(r, "root/interop", rp::CLASS);
    for p in PROFILES {
        check_instance(c, &p.instance());
    }
    for kind in POOL_KINDS {
        let src = t.iter(kind.source()).next().unwrap().1;
        check_instance(class(r, "root/cimv2", kind.class()), &pool::instance("root/cimv2", kind, src, &t));
    }
    for kind in HOST_KINDS {
        let h = t.get("host", "H").unwrap();
        let devices = hdev::devices("root/cimv2", kind, h, &t);
        assert_eq!(devices.len(), 1, "{kind:?}");
        check_instance(class(r, "root/cimv2", kind.class()), &devices[0]);
    }
    for kind in CAP_KINDS {
        let (_, src) = caps::sources(&t, kind).into_iter().next().unwrap();
        check_instance(class(r, "root/cimv2", kind.class()), &caps::instance("root/cimv2", kind, src));
    }
    let (vdi, sr) = image::of_vdi_ref(&t, "D").unwrap();
    check_instance(class(r, "root/cimv2", image::CLASS), &image::instance("root/cimv2", vdi, sr));
    check_instance(class(r, "root/cimv2", hpool::CLASS), &hpool::instance("root/cimv2", t.get("pool", "PO").unwrap(), &t));
    let mut sources = vec![cs::path("root/cimv2", "v"), host::path("root/cimv2", "h"), rp::VIRTUAL_SYSTEM.path(), rp::SYSTEM_VIRTUALIZATION.path()];
    sources.extend([vsms::path("root/cimv2", "h"), image::path("root/cimv2", "sr", "vdi"), hpool::path("root/cimv2", "pool")]);
    sources.extend(CAP_KINDS.iter().map(|k| caps::path("root/cimv2", *k, if *k == caps::CapKind::ComputerSystem { "v" } else { match k { caps::CapKind::Allocation(PoolKind::Storage) => "sr", caps::CapKind::Allocation(PoolKind::NetworkConnection) => "net", _ => "h" } })));
    sources.extend([(PoolKind::Processor, "h"), (PoolKind::Memory, "h"), (PoolKind::Storage, "sr"), (PoolKind::NetworkConnection, "net")].map(|(k, u)| pool::path("root/cimv2", k, u)));
    for a in assoc::ASSOCS {
        let mut n = 0;
        for src in &sources {
            for h in assoc::hops(a, &t, src, None, None, None) {
                let ns = if matches!(a, Assoc::ConformsToProfile | Assoc::ReferencedProfile) { "root/interop" } else { "root/cimv2" };
                let c = class(r, ns, a.class());
                assert!(c.is_association(), "{}", c.name);
                check_instance(c, &h.link);
                // Each reference points at an instance of the class the MOF allows.
                for (name, v) in &h.link.properties {
                    let CimValue::Reference(p) = v else { continue };
                    let want = c.property(name).unwrap().reference_class.clone().unwrap();
                    let far_ns = if p.namespace.is_empty() { "root/cimv2" } else { p.namespace.as_str() };
                    assert!(r.namespace(far_ns).unwrap().is_subclass_of(&p.classname, &want), "{}.{name}: {} is not a {want}", c.name, p.classname);
                }
                n += 1;
            }
        }
        assert!(n > 0, "the sample has a {}", a.class());
    }
}

#[test]
fn pools_link_hosts_and_devices_through_xenapi_references() {
    let (t, _) = tables();
    let far = |a: Assoc, src: cmpi_shim::ObjectPath| -> Vec<String> { assoc::hops(a, &t, &src, None, None, None).iter().map(|h| h.far.path().classname.clone()).collect() };
    assert_eq!(far(Assoc::HostedResourcePool, host::path("root/cimv2", "h")), ["Xen_ProcessorPool", "Xen_MemoryPool", "Xen_StoragePool", "Xen_NetworkConnectionPool"]);
    assert_eq!(far(Assoc::HostedResourcePool, pool::path("root/cimv2", PoolKind::Storage, "sr")), ["Xen_HostComputerSystem"]);
    assert_eq!(far(Assoc::AllocatedFromPool, pool::path("root/cimv2", PoolKind::Storage, "sr")), ["Xen_Disk", "Xen_DiskDrive"]);
    assert_eq!(far(Assoc::AllocatedFromPool, pool::path("root/cimv2", PoolKind::NetworkConnection, "net")), ["Xen_NetworkPort"]);
    assert_eq!(far(Assoc::AllocatedFromPool, pool::path("root/cimv2", PoolKind::Processor, "h")), ["Xen_Processor"]);
    assert_eq!(far(Assoc::AllocatedFromPool, pool::path("root/cimv2", PoolKind::Memory, "h")), ["Xen_Memory"]);
    let disk = dev::path("root/cimv2", Kind::Disk, "v", "Xen:v/vbd");
    let up = assoc::hops(Assoc::AllocatedFromPool, &t, &disk, Some("Dependent"), Some("Antecedent"), Some("CIM_ResourcePool"));
    assert_eq!(up.iter().map(|h| h.far.path()).collect::<Vec<_>>(), [pool::path("root/cimv2", PoolKind::Storage, "sr")]);
    assert!(assoc::hops(Assoc::AllocatedFromPool, &t, &disk, Some("Antecedent"), None, None).is_empty());
    let port = dev::path("root/cimv2", Kind::NetworkPort, "v", "Xen:v/vif");
    assert_eq!(far(Assoc::AllocatedFromPool, port), ["Xen_NetworkConnectionPool"]);
}

#[test]
fn instances_fit_the_dmtf_schema() {
    check_all(&schema_repository());
}

#[test]
fn instances_fit_the_base_classes() {
    check_all(&base_repository());
}

#[test]
fn association_filters_know_the_mof_lineage() {
    let r = schema_repository();
    let n = r.namespace("root/cimv2").unwrap();
    let mut classes: Vec<&str> = dev::KINDS.iter().map(|k| k.class()).collect();
    classes.extend([cs::CLASS, host::CLASS, "Xen_ComputerSystemSettingData", rp::CLASS]);
    classes.extend(POOL_KINDS.iter().map(|k| k.class()));
    classes.extend(assoc::ASSOCS.iter().map(|a| a.class()));
    classes.extend(CAP_KINDS.iter().map(|k| k.class()));
    classes.extend(HOST_KINDS.iter().map(|k| k.class()));
    classes.extend([image::CLASS, hpool::CLASS, vsms::CLASS]);
    for c in classes {
        let mut want = vec![c.to_string()];
        let mut cur = class(&r, "root/cimv2", c);
        while let Some(p) = &cur.superclass {
            want.push(p.clone());
            cur = class(&r, "root/cimv2", p);
        }
        let got: Vec<String> = assoc::lineage(c).iter().map(|s| s.to_string()).collect();
        assert_eq!(got, want, "{c}");
        assert!(want.iter().all(|w| n.is_subclass_of(c, w)));
    }
    assert_eq!(Kind::of_class("XEN_MEMORY"), Some(Kind::Memory));
}

#[test]
fn host_devices_images_and_pools_link_through_xenapi_references() {
    let (t, _) = tables();
    let far = |a: Assoc, src: cmpi_shim::ObjectPath| -> Vec<String> { assoc::hops(a, &t, &src, None, None, None).iter().map(|h| h.far.path().to_string()).collect() };
    let cpu = hdev::path("root/cimv2", hdev::HostKind::Processor, "h", "Xen:h/cpu");
    let pif = hdev::path("root/cimv2", hdev::HostKind::NetworkPort, "h", "Xen:h/pif");
    let mem = hdev::path("root/cimv2", hdev::HostKind::Memory, "h", "Xen:h/Memory");
    let mut host_devices = far(Assoc::SystemDevice, host::path("root/cimv2", "h"));
    host_devices.sort();
    let mut want = vec![cpu.to_string(), pif.to_string(), mem.to_string()];
    want.sort();
    assert_eq!(host_devices, want);
    assert_eq!(far(Assoc::SystemDevice, pif.clone()), [host::path("root/cimv2", "h").to_string()]);
    assert_eq!(far(Assoc::ConcreteComponent, pool::path("root/cimv2", PoolKind::Processor, "h")), [cpu.to_string()]);
    assert_eq!(far(Assoc::ConcreteComponent, pool::path("root/cimv2", PoolKind::Memory, "h")), [mem.to_string()]);
    assert_eq!(far(Assoc::ConcreteComponent, pool::path("root/cimv2", PoolKind::NetworkConnection, "net")), [pif.to_string()]);
    assert_eq!(far(Assoc::ConcreteComponent, pif), [pool::path("root/cimv2", PoolKind::NetworkConnection, "net").to_string()]);
    let img = image::path("root/cimv2", "sr", "vdi");
    assert_eq!(far(Assoc::ConcreteComponent, pool::path("root/cimv2", PoolKind::Storage, "sr")), [img.to_string()]);
    assert_eq!(far(Assoc::ConcreteComponent, img.clone()), [pool::path("root/cimv2", PoolKind::Storage, "sr").to_string()]);
    // The disk is based on its VDI; the CD drive is not a storage extent, but is allocated from the SR.
    let disk = dev::path("root/cimv2", Kind::Disk, "v", "Xen:v/vbd");
    let cd = dev::path("root/cimv2", Kind::DiskDrive, "v", "Xen:v/cd");
    assert_eq!(far(Assoc::BasedOn, img), [disk.to_string()]);
    assert_eq!(far(Assoc::BasedOn, disk), [image::path("root/cimv2", "sr", "vdi").to_string()]);
    assert!(far(Assoc::BasedOn, cd.clone()).is_empty());
    assert_eq!(far(Assoc::AllocatedFromPool, cd.clone()), [pool::path("root/cimv2", PoolKind::Storage, "sr").to_string()]);
    assert_eq!(far(Assoc::SystemDevice, cd), [cs::path("root/cimv2", "v").to_string()]);
    // The host pool has the host as its member.
    assert_eq!(far(Assoc::MemberOfCollection, hpool::path("root/cimv2", "pool")), [host::path("root/cimv2", "h").to_string()]);
    assert_eq!(far(Assoc::MemberOfCollection, host::path("root/cimv2", "h")), [hpool::path("root/cimv2", "pool").to_string()]);
}
