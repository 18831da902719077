//! The associations between the Xen classes, computed from XenAPI references in the cache (never
//! by enumerating the other side, as xs-cim did: `xs-cim-model.md` §6.3).
//!
//! | association | role → class | role → class | from |
//! | --- | --- | --- | --- |
//! | `Xen_HostedComputerSystem` | Antecedent → host | Dependent → VM | `VM.resident_on`, `host.resident_VMs` |
//! | `Xen_SystemDevice` | GroupComponent → VM | PartComponent → its devices | `VM.VCPUs_max`, `VBDs`, `VIFs` |
//! | `Xen_ComputerSystemSettingsDefineState` | ManagedElement → VM | SettingData → its VSSD | the VM uuid |
//! | `Xen_ComputerSystemElementSettingData` | ManagedElement → VM | SettingData → its VSSD | the VM uuid |
//! | `Xen_HostedResourcePool` | GroupComponent → host | PartComponent → its pools | the host uuid, `host.PBDs` → SR, `host.PIFs` → network |
//! | `Xen_ElementAllocatedFromPool` | Antecedent → pool | Dependent → device | `resident_on` / `resident_VMs`, VBD → VDI → SR, VIF → network |
//! | `Xen_ElementConformsToProfile` | ConformantStandard → profile (root/interop) | ManagedElement → host (DSP1042), VM (DSP1057), pool (DSP1041 and its resource's profile) (root/cimv2) | |
//!
//! One provider type serves them all: it resolves the source object, lists the far ends, and
//! applies Role, ResultRole, ResultClass and AssocClass (class filters match the class or any of
//! its parents). The far ends of `Xen_ElementConformsToProfile` are in another namespace; the
//! reference values carry it.

use crate::backend::{Backend, BackendRef};
use crate::cache::Tables;
use crate::util::{namespace_of, string_key, NAMESPACE};
use crate::xen_computer_system::{self as cs, is_virtual_system};
use crate::xen_computer_system_setting_data as vssd;
use crate::xen_device::{self as dev, Kind};
use crate::xen_host_computer_system as host;
use crate::xen_registered_profile::{self as rp, Profile};
use crate::xen_resource_pool::{self as pool, PoolKind};
use cmpi_shim::provider::{AssociationProvider, Context, InstanceProvider, Provider};
use cmpi_shim::{CimValue, CmpiError, Instance, ObjectPath};
use std::sync::Arc;
use xenapi_core::client::ObjectRecord;

/// The association classes served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Assoc {
    HostedComputerSystem,
    SystemDevice,
    SettingsDefineState,
    ElementSettingData,
    ConformsToProfile,
    HostedResourcePool,
    AllocatedFromPool,
}

pub const ASSOCS: [Assoc; 7] = [
    Assoc::HostedComputerSystem,
    Assoc::SystemDevice,
    Assoc::SettingsDefineState,
    Assoc::ElementSettingData,
    Assoc::ConformsToProfile,
    Assoc::HostedResourcePool,
    Assoc::AllocatedFromPool,
];

impl Assoc {
    pub fn class(self) -> &'static str {
        match self {
            Assoc::HostedComputerSystem => "Xen_HostedComputerSystem",
            Assoc::SystemDevice => "Xen_SystemDevice",
            Assoc::SettingsDefineState => "Xen_ComputerSystemSettingsDefineState",
            Assoc::ElementSettingData => "Xen_ComputerSystemElementSettingData",
            Assoc::ConformsToProfile => "Xen_ElementConformsToProfile",
            Assoc::HostedResourcePool => "Xen_HostedResourcePool",
            Assoc::AllocatedFromPool => "Xen_ElementAllocatedFromPool",
        }
    }

    /// The two reference properties: (the "owning" side, the other side).
    pub fn roles(self) -> (&'static str, &'static str) {
        match self {
            Assoc::HostedComputerSystem => ("Antecedent", "Dependent"),
            Assoc::SystemDevice | Assoc::HostedResourcePool => ("GroupComponent", "PartComponent"),
            Assoc::AllocatedFromPool => ("Antecedent", "Dependent"),
            Assoc::SettingsDefineState | Assoc::ElementSettingData => ("ManagedElement", "SettingData"),
            Assoc::ConformsToProfile => ("ConformantStandard", "ManagedElement"),
        }
    }
}

/// The class itself and its parents, for the ResultClass and AssocClass filters.
pub fn lineage(class: &str) -> Vec<&'static str> {
    const SYSTEM: &[&str] = &["CIM_ComputerSystem", "CIM_System", "CIM_EnabledLogicalElement", "CIM_LogicalElement", "CIM_ManagedSystemElement", "CIM_ManagedElement"];
    const DEVICE: &[&str] = &["CIM_LogicalDevice", "CIM_EnabledLogicalElement", "CIM_LogicalElement", "CIM_ManagedSystemElement", "CIM_ManagedElement"];
    const NONE: &[&str] = &[];
    let (own, parents): (&[&str], &[&str]) = match class.to_ascii_lowercase().as_str() {
        "xen_computersystem" => (&["Xen_ComputerSystem"], SYSTEM),
        "xen_hostcomputersystem" => (&["Xen_HostComputerSystem"], SYSTEM),
        "xen_computersystemsettingdata" => (&["Xen_ComputerSystemSettingData", "Xen_VirtualSystemSettingData", "CIM_VirtualSystemSettingData", "CIM_SettingData", "CIM_ManagedElement"], NONE),
        "xen_computersystemtemplate" => (&["Xen_ComputerSystemTemplate", "Xen_VirtualSystemSettingData", "CIM_VirtualSystemSettingData", "CIM_SettingData", "CIM_ManagedElement"], NONE),
        "xen_computersystemsnapshot" => (&["Xen_ComputerSystemSnapshot", "Xen_VirtualSystemSettingData", "CIM_VirtualSystemSettingData", "CIM_SettingData", "CIM_ManagedElement"], NONE),
        "xen_processor" => (&["Xen_Processor", "CIM_Processor"], DEVICE),
        "xen_memory" => (&["Xen_Memory", "CIM_Memory", "CIM_StorageExtent"], DEVICE),
        "xen_disk" => (&["Xen_Disk", "CIM_LogicalDisk", "CIM_StorageExtent"], DEVICE),
        "xen_networkport" => (&["Xen_NetworkPort", "CIM_NetworkPort", "CIM_LogicalPort"], DEVICE),
        "xen_registeredprofile" => (&["Xen_RegisteredProfile", "CIM_RegisteredProfile", "CIM_RegisteredSpecification", "CIM_ManagedElement"], NONE),
        "xen_hostedcomputersystem" => (&["Xen_HostedComputerSystem", "CIM_HostedDependency", "CIM_Dependency"], NONE),
        "xen_systemdevice" => (&["Xen_SystemDevice", "CIM_SystemDevice", "CIM_SystemComponent", "CIM_Component"], NONE),
        "xen_computersystemsettingsdefinestate" => (&["Xen_ComputerSystemSettingsDefineState", "CIM_SettingsDefineState"], NONE),
        "xen_computersystemelementsettingdata" => (&["Xen_ComputerSystemElementSettingData", "CIM_ElementSettingData"], NONE),
        "xen_processorpool" | "xen_memorypool" | "xen_storagepool" | "xen_networkconnectionpool" => {
            let own: &[&str] = match PoolKind::of_class(class) {
                Some(PoolKind::Processor) => &["Xen_ProcessorPool"],
                Some(PoolKind::Memory) => &["Xen_MemoryPool"],
                Some(PoolKind::Storage) => &["Xen_StoragePool"],
                _ => &["Xen_NetworkConnectionPool"],
            };
            (own, &["CIM_ResourcePool", "CIM_LogicalElement", "CIM_ManagedSystemElement", "CIM_ManagedElement"])
        }
        "xen_hostedresourcepool" => (&["Xen_HostedResourcePool", "CIM_HostedResourcePool", "CIM_SystemComponent", "CIM_Component"], NONE),
        "xen_elementallocatedfrompool" => (&["Xen_ElementAllocatedFromPool", "CIM_ElementAllocatedFromPool", "CIM_Dependency"], NONE),
        "xen_elementconformstoprofile" => (&["Xen_ElementConformsToProfile", "CIM_ElementConformsToProfile"], NONE),
        _ => (NONE, NONE),
    };
    own.iter().chain(parents).copied().collect()
}

/// True when `class` is `filter` or a subclass of it (case-insensitive).
pub fn is_a(class: &str, filter: &str) -> bool {
    lineage(class).iter().any(|c| c.eq_ignore_ascii_case(filter))
}

/// A source or far object, resolved against the cache.
#[derive(Clone, Debug)]
pub enum Object<'t> {
    Vm(&'t ObjectRecord),
    Host(&'t String, &'t ObjectRecord),
    Vssd(&'t ObjectRecord),
    Device(Kind, &'t ObjectRecord, Instance),
    Profile(Profile),
    /// A pool, its source's ref and record (host, SR or network).
    Pool(PoolKind, &'t str, &'t ObjectRecord),
}

/// The object `op` names, if it exists.
pub fn resolve<'t>(t: &'t Tables, op: &ObjectPath) -> Option<Object<'t>> {
    let class = op.classname.as_str();
    let eq = |c: &str| class.eq_ignore_ascii_case(c);
    let key = |k: &str| string_key(op, k).ok();
    let ccn_ok = |c: &str| op.key("CreationClassName").is_none() || matches!(op.key("CreationClassName"), Some(CimValue::String(s)) if s.eq_ignore_ascii_case(c));
    if eq(cs::CLASS) && ccn_ok(cs::CLASS) {
        return t.by_uuid("vm", &key("Name")?).map(|(_, v)| v).filter(|v| is_virtual_system(v)).map(Object::Vm);
    }
    if eq(host::CLASS) && ccn_ok(host::CLASS) {
        return t.by_uuid("host", &key("Name")?).map(|(r, h)| Object::Host(r, h));
    }
    if eq(vssd::CLASS) {
        let id = key("InstanceID")?;
        let uuid = vssd::uuid_of_instance_id(&id)?;
        return t.by_uuid("vm", uuid).map(|(_, v)| v).filter(|v| is_virtual_system(v)).map(Object::Vssd);
    }
    if eq(rp::CLASS) {
        return Profile::by_instance_id(&key("InstanceID")?).map(Object::Profile);
    }
    if let Some(kind) = PoolKind::of_class(class) {
        return pool::find(t, kind, op).map(|(r, rec)| Object::Pool(kind, r.as_str(), rec));
    }
    let kind = Kind::of_class(class)?;
    if !ccn_ok(kind.class()) {
        return None;
    }
    let (_, vm) = dev::owner(t, op)?;
    let i = dev::find(NAMESPACE, kind, op, t)?;
    Some(Object::Device(kind, vm, i))
}

impl Object<'_> {
    /// The canonical path (root/cimv2 for the Xen objects, root/interop for profiles).
    pub fn path(&self) -> ObjectPath {
        match self {
            Object::Vm(v) => cs::path(NAMESPACE, v.str("uuid")),
            Object::Host(_, h) => host::path(NAMESPACE, h.str("uuid")),
            Object::Vssd(v) => vssd::path(NAMESPACE, v.str("uuid")),
            Object::Device(_, _, i) => i.path.clone(),
            Object::Profile(p) => p.path(),
            Object::Pool(k, _, r) => pool::path(NAMESPACE, *k, r.str("uuid")),
        }
    }

    pub fn instance(&self, t: &Tables, b: &Backend) -> Instance {
        match self {
            Object::Vm(v) => cs::instance(NAMESPACE, v, t, b.last_requested(v.str("uuid"))),
            Object::Host(_, h) => host::instance(NAMESPACE, h, t),
            Object::Vssd(v) => vssd::instance(NAMESPACE, v, t),
            Object::Device(_, _, i) => i.clone(),
            Object::Profile(p) => p.instance(),
            Object::Pool(k, _, r) => pool::instance(NAMESPACE, *k, r, t),
        }
    }
}

/// The far ends of `assoc` from `src`, and whether `src` plays the first role.
pub fn far_ends<'t>(assoc: Assoc, t: &'t Tables, src: &Object<'t>) -> (bool, Vec<Object<'t>>) {
    let vms = || {
        let mut v: Vec<&ObjectRecord> = t.iter("vm").map(|(_, v)| v).filter(|v| is_virtual_system(v)).collect();
        v.sort_unstable_by_key(|v| v.str("uuid"));
        v
    };
    match (assoc, src) {
        (Assoc::HostedComputerSystem, Object::Host(r, h)) => (true, resident_vms(t, r, h).into_iter().map(Object::Vm).collect()),
        (Assoc::HostedComputerSystem, Object::Vm(v)) => {
            let r = v.str("resident_on");
            (false, t.entry("host", r).map(|(k, h)| Object::Host(k, h)).into_iter().collect())
        }
        (Assoc::SystemDevice, Object::Vm(v)) => {
            let devices = dev::KINDS.into_iter().flat_map(|k| dev::devices(NAMESPACE, k, v, t).into_iter().map(move |i| Object::Device(k, v, i)));
            (true, devices.collect())
        }
        (Assoc::SystemDevice, Object::Device(_, vm, _)) => (false, vec![Object::Vm(vm)]),
        (Assoc::SettingsDefineState | Assoc::ElementSettingData, Object::Vm(v)) => (true, vec![Object::Vssd(v)]),
        (Assoc::SettingsDefineState | Assoc::ElementSettingData, Object::Vssd(v)) => (false, vec![Object::Vm(v)]),
        (Assoc::ConformsToProfile, Object::Profile(p)) if *p == rp::SYSTEM_VIRTUALIZATION => {
            let mut h: Vec<(&String, &ObjectRecord)> = t.iter("host").collect();
            h.sort_unstable_by_key(|(_, h)| h.str("uuid"));
            (true, h.into_iter().map(|(r, h)| Object::Host(r, h)).collect())
        }
        (Assoc::ConformsToProfile, Object::Profile(p)) if *p == rp::VIRTUAL_SYSTEM => (true, vms().into_iter().map(Object::Vm).collect()),
        (Assoc::ConformsToProfile, Object::Host(..)) => (false, vec![Object::Profile(rp::SYSTEM_VIRTUALIZATION)]),
        (Assoc::ConformsToProfile, Object::Vm(_)) => (false, vec![Object::Profile(rp::VIRTUAL_SYSTEM)]),
        (Assoc::ConformsToProfile, Object::Profile(p)) => {
            let mut pools = Vec::new();
            for kind in pool::POOL_KINDS.into_iter().filter(|k| rp::pool_profiles(*k).contains(&p.dsp)) {
                let mut src: Vec<(&String, &ObjectRecord)> = t.iter(kind.source()).collect();
                src.sort_unstable_by_key(|(_, r)| r.str("uuid"));
                pools.extend(src.into_iter().map(|(r, rec)| Object::Pool(kind, r.as_str(), rec)));
            }
            (true, pools)
        }
        (Assoc::ConformsToProfile, Object::Pool(kind, ..)) => {
            (false, rp::pool_profiles(*kind).iter().filter_map(|d| rp::PROFILES.into_iter().find(|p| p.dsp == *d)).map(Object::Profile).collect())
        }
        (Assoc::HostedResourcePool, Object::Host(r, h)) => (true, host_pools(t, r, h)),
        (Assoc::HostedResourcePool, Object::Pool(kind, r, rec)) => (false, pool_hosts(t, *kind, r, rec)),
        (Assoc::AllocatedFromPool, Object::Pool(kind, r, rec)) => (true, pool_devices(t, *kind, r, rec)),
        (Assoc::AllocatedFromPool, Object::Device(kind, vm, i)) => (false, device_pools(t, *kind, vm, i).into_iter().collect()),
        _ => (false, vec![]),
    }
}

/// The guest VMs resident on host `r` (`host.resident_VMs`, each checked against its own
/// `resident_on`, which the host record may lag behind), by uuid.
fn resident_vms<'t>(t: &'t Tables, r: &str, h: &ObjectRecord) -> Vec<&'t ObjectRecord> {
    let mut v: Vec<&ObjectRecord> = deref_set(t, h, "resident_VMs", "vm").into_iter().map(|(_, v)| v).filter(|v| v.str("resident_on") == r && is_virtual_system(v)).collect();
    v.sort_unstable_by_key(|v| v.str("uuid"));
    v
}

/// The records `refs` (a set field of `rec`) point to in `class`, with their refs.
fn deref_set<'t>(t: &'t Tables, rec: &ObjectRecord, field: &str, class: &str) -> Vec<(&'t str, &'t ObjectRecord)> {
    crate::util::string_set(rec, field)
        .iter()
        .filter_map(|r| t.entry(class, r).map(|(k, v)| (k.as_str(), v)))
        .collect()
}

/// The `(ref, record)` the ref field `field` of `rec` points to.
fn deref_one<'t>(t: &'t Tables, rec: &ObjectRecord, field: &str, class: &str) -> Option<(&'t str, &'t ObjectRecord)> {
    t.entry(class, rec.str(field)).map(|(k, v)| (k.as_str(), v))
}

fn sorted_pools<'t>(kind: PoolKind, mut v: Vec<(&'t str, &'t ObjectRecord)>) -> Vec<Object<'t>> {
    v.sort_unstable_by_key(|(_, r)| r.str("uuid"));
    v.dedup_by_key(|(r, _)| *r);
    v.into_iter().map(|(r, rec)| Object::Pool(kind, r, rec)).collect()
}

/// A host's pools: its processors and memory, the SRs it has a PBD for, the networks it has a PIF on.
fn host_pools<'t>(t: &'t Tables, r: &'t str, h: &'t ObjectRecord) -> Vec<Object<'t>> {
    let mut out = vec![Object::Pool(PoolKind::Processor, r, h), Object::Pool(PoolKind::Memory, r, h)];
    let srs = deref_set(t, h, "PBDs", "pbd").into_iter().filter_map(|(_, pbd)| deref_one(t, pbd, "SR", "sr")).collect();
    out.extend(sorted_pools(PoolKind::Storage, srs));
    let nets = deref_set(t, h, "PIFs", "pif").into_iter().filter_map(|(_, pif)| deref_one(t, pif, "network", "network")).collect();
    out.extend(sorted_pools(PoolKind::NetworkConnection, nets));
    out
}

fn pool_hosts<'t>(t: &'t Tables, kind: PoolKind, r: &'t str, rec: &'t ObjectRecord) -> Vec<Object<'t>> {
    let hosts: Vec<(&str, &ObjectRecord)> = match kind {
        PoolKind::Processor | PoolKind::Memory => vec![(r, rec)],
        PoolKind::Storage => deref_set(t, rec, "PBDs", "pbd").into_iter().filter_map(|(_, pbd)| deref_one(t, pbd, "host", "host")).collect(),
        PoolKind::NetworkConnection => deref_set(t, rec, "PIFs", "pif").into_iter().filter_map(|(_, pif)| deref_one(t, pif, "host", "host")).collect(),
    };
    let mut hosts: Vec<(&String, &ObjectRecord)> = hosts.into_iter().filter_map(|(r, _)| t.entry("host", r)).collect();
    hosts.sort_unstable_by_key(|(_, h)| h.str("uuid"));
    hosts.dedup_by_key(|(r, _)| r.as_str());
    hosts.into_iter().map(|(r, h)| Object::Host(r, h)).collect()
}

/// The device of `kind` of `vm` whose DeviceID ends in `/<suffix>`.
fn device_of<'t>(t: &'t Tables, kind: Kind, vm: &'t ObjectRecord, suffix: &str) -> Option<Object<'t>> {
    let id = dev::device_id(vm.str("uuid"), suffix);
    dev::devices(NAMESPACE, kind, vm, t).into_iter().find(|i| i.get("DeviceID").and_then(|d| d.as_str()) == Some(id.as_str())).map(|i| Object::Device(kind, vm, i))
}

/// The devices allocated from a pool: the vCPUs and memory of the VMs resident on the host, the
/// disks of the SR's VDIs, the ports on the network.
fn pool_devices<'t>(t: &'t Tables, kind: PoolKind, r: &'t str, rec: &'t ObjectRecord) -> Vec<Object<'t>> {
    let vm_of = |x: &'t ObjectRecord| t.get("vm", x.str("VM")).filter(|v| is_virtual_system(v));
    match kind {
        PoolKind::Processor | PoolKind::Memory => {
            let dk = if kind == PoolKind::Processor { Kind::Processor } else { Kind::Memory };
            resident_vms(t, r, rec)
                .into_iter().flat_map(|vm| dev::devices(NAMESPACE, dk, vm, t).into_iter().map(move |i| Object::Device(dk, vm, i))).collect()
        }
        PoolKind::Storage => deref_set(t, rec, "VDIs", "vdi")
            .into_iter()
            .flat_map(|(_, vdi)| deref_set(t, vdi, "VBDs", "vbd"))
            .filter_map(|(_, vbd)| device_of(t, Kind::Disk, vm_of(vbd)?, vbd.str("uuid")))
            .collect(),
        PoolKind::NetworkConnection => {
            deref_set(t, rec, "VIFs", "vif").into_iter().filter_map(|(_, vif)| device_of(t, Kind::NetworkPort, vm_of(vif)?, vif.str("uuid"))).collect()
        }
    }
}

/// The pool a device is allocated from.
fn device_pools<'t>(t: &'t Tables, kind: Kind, vm: &'t ObjectRecord, i: &Instance) -> Option<Object<'t>> {
    let suffix = i.get("DeviceID").and_then(|d| d.as_str()).and_then(|d| d.rsplit_once('/')).map(|(_, s)| s.to_string())?;
    match kind {
        Kind::Processor | Kind::Memory => {
            let (r, h) = deref_one(t, vm, "resident_on", "host")?;
            Some(Object::Pool(if kind == Kind::Processor { PoolKind::Processor } else { PoolKind::Memory }, r, h))
        }
        Kind::Disk => {
            let (_, vbd) = deref_set(t, vm, "VBDs", "vbd").into_iter().find(|(_, v)| v.str("uuid") == suffix)?;
            let (_, vdi) = deref_one(t, vbd, "VDI", "vdi")?;
            let (r, sr) = deref_one(t, vdi, "SR", "sr")?;
            Some(Object::Pool(PoolKind::Storage, r, sr))
        }
        Kind::NetworkPort => {
            let (_, vif) = deref_set(t, vm, "VIFs", "vif").into_iter().find(|(_, v)| v.str("uuid") == suffix)?;
            let (r, net) = deref_one(t, vif, "network", "network")?;
            Some(Object::Pool(PoolKind::NetworkConnection, r, net))
        }
    }
}

/// The association instance between `first` (first role) and `second`, in namespace `ns`.
pub fn link(assoc: Assoc, ns: &str, first: ObjectPath, second: ObjectPath) -> Instance {
    let (r1, r2) = assoc.roles();
    let path = ObjectPath::new(ns, assoc.class()).with_key(r1, first.clone()).with_key(r2, second.clone());
    let mut i = Instance::new(path).with(r1, first).with(r2, second);
    if assoc == Assoc::ElementSettingData {
        i.set("IsDefault", CimValue::Uint16(1));
        i.set("IsCurrent", CimValue::Uint16(1));
    }
    i
}

/// One link from a source: the association instance and the far object.
pub struct Hop<'t> {
    pub link: Instance,
    pub far: Object<'t>,
}

/// The links of `assoc` from `op` that pass Role (the source's role), ResultRole (the far role)
/// and ResultClass (the far class); empty when `op` names nothing this association knows.
pub fn hops<'t>(assoc: Assoc, t: &'t Tables, op: &ObjectPath, role: Option<&str>, result_role: Option<&str>, result_class: Option<&str>) -> Vec<Hop<'t>> {
    let Some(src) = resolve(t, op) else { return vec![] };
    let (src_first, far) = far_ends(assoc, t, &src);
    let (r1, r2) = assoc.roles();
    let (src_role, far_role) = if src_first { (r1, r2) } else { (r2, r1) };
    if role.is_some_and(|r| !r.eq_ignore_ascii_case(src_role)) || result_role.is_some_and(|r| !r.eq_ignore_ascii_case(far_role)) {
        return vec![];
    }
    let ns = namespace_of(op);
    let src_path = src.path();
    far.into_iter()
        .filter(|f| result_class.is_none_or(|rc| is_a(&f.path().classname, rc)))
        .map(|f| {
            let fp = f.path();
            let link = if src_first { link(assoc, &ns, src_path.clone(), fp) } else { link(assoc, &ns, fp, src_path.clone()) };
            Hop { link, far: f }
        })
        .collect()
}

/// Every instance of `assoc` (for EnumerateInstances of the class), from the first-role side.
pub fn all_links(assoc: Assoc, t: &Tables, ns: &str) -> Vec<Instance> {
    let sources: Vec<ObjectPath> = match assoc {
        Assoc::HostedComputerSystem | Assoc::HostedResourcePool => {
            let mut h: Vec<&str> = t.iter("host").map(|(_, h)| h.str("uuid")).collect();
            h.sort_unstable();
            h.into_iter().map(|u| host::path(NAMESPACE, u)).collect()
        }
        Assoc::ConformsToProfile => rp::PROFILES.iter().map(Profile::path).collect(),
        Assoc::AllocatedFromPool => pool::POOL_KINDS
            .iter()
            .flat_map(|k| {
                let mut u: Vec<&str> = t.iter(k.source()).map(|(_, r)| r.str("uuid")).collect();
                u.sort_unstable();
                u.into_iter().map(move |u| pool::path(NAMESPACE, *k, u))
            })
            .collect(),
        _ => {
            let mut v: Vec<&str> = t.iter("vm").map(|(_, v)| v).filter(|v| is_virtual_system(v)).map(|v| v.str("uuid")).collect();
            v.sort_unstable();
            v.into_iter().map(|u| cs::path(NAMESPACE, u)).collect()
        }
    };
    sources
        .iter()
        .flat_map(|src| {
            let mut op = src.clone();
            op.namespace = ns.to_string();
            hops(assoc, t, &op, None, None, None).into_iter().map(|h| h.link)
        })
        .collect()
}

/// The provider of one association class.
pub struct AssocProvider {
    assoc: Assoc,
    backend: BackendRef,
}

impl AssocProvider {
    pub fn new(assoc: Assoc) -> AssocProvider {
        AssocProvider { assoc, backend: BackendRef::acquire() }
    }

    fn backend(&self) -> Result<(Arc<Backend>, Arc<Tables>), CmpiError> {
        let b = self.backend.get().map_err(CmpiError::failed)?;
        let t = b.tables().map_err(CmpiError::failed)?;
        Ok((b, t))
    }

    /// False when the AssocClass (or References' ResultClass) filter leaves this class out.
    fn wanted(&self, assoc_class: Option<&str>) -> bool {
        assoc_class.is_none_or(|c| is_a(self.assoc.class(), c))
    }
}

impl Provider for AssocProvider {
    fn instance(&self) -> Option<&dyn InstanceProvider> {
        Some(self)
    }
    fn association(&self) -> Option<&dyn AssociationProvider> {
        Some(self)
    }
}

impl InstanceProvider for AssocProvider {
    fn enumerate_instances(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        let (_, t) = self.backend()?;
        Ok(all_links(self.assoc, &t, &namespace_of(op)))
    }

    fn get_instance(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Instance, CmpiError> {
        let (r1, r2) = self.assoc.roles();
        let (Some(CimValue::Reference(a)), Some(CimValue::Reference(b))) = (op.key(r1), op.key(r2)) else {
            return Err(CmpiError::invalid_parameter(format!("{op} lacks the {r1} and {r2} references")));
        };
        let (_, t) = self.backend()?;
        let target = resolve(&t, b).map(|o| o.path());
        hops(self.assoc, &t, a, Some(r1), None, None)
            .into_iter()
            .find(|h| Some(h.far.path()) == target)
            .map(|h| h.link)
            .ok_or_else(|| CmpiError::not_found(format!("no instance {op}")))
    }
}

impl AssociationProvider for AssocProvider {
    fn associators(
        &self,
        _ctx: &Context,
        op: &ObjectPath,
        assoc_class: Option<&str>,
        result_class: Option<&str>,
        role: Option<&str>,
        result_role: Option<&str>,
        _properties: Option<&[String]>,
    ) -> Result<Vec<Instance>, CmpiError> {
        if !self.wanted(assoc_class) {
            return Ok(vec![]);
        }
        let (b, t) = self.backend()?;
        Ok(hops(self.assoc, &t, op, role, result_role, result_class).into_iter().map(|h| h.far.instance(&t, &b)).collect())
    }

    fn associator_names(
        &self,
        _ctx: &Context,
        op: &ObjectPath,
        assoc_class: Option<&str>,
        result_class: Option<&str>,
        role: Option<&str>,
        result_role: Option<&str>,
    ) -> Result<Vec<ObjectPath>, CmpiError> {
        if !self.wanted(assoc_class) {
            return Ok(vec![]);
        }
        let (_, t) = self.backend()?;
        Ok(hops(self.assoc, &t, op, role, result_role, result_class).into_iter().map(|h| h.far.path()).collect())
    }

    fn references(&self, _ctx: &Context, op: &ObjectPath, result_class: Option<&str>, role: Option<&str>, _p: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        if !self.wanted(result_class) {
            return Ok(vec![]);
        }
        let (_, t) = self.backend()?;
        Ok(hops(self.assoc, &t, op, role, None, None).into_iter().map(|h| h.link).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::test_records::{rec, s};
    use xenapi_core::rpc::Wire;


    /// Host H1 runs VM v1 (1 vCPU, one disk, one NIC); v2 is halted; dom0 and a template exist.
    fn tables() -> Tables {
        let mut t = Tables::default();
        t.insert("host", "H1", rec("host", vec![("uuid", s("h1")), ("resident_VMs", Wire::Array(vec![s("V1"), s("DOM0")]))]));
        t.insert("host", "H2", rec("host", vec![("uuid", s("h2"))]));
        t.insert("vdi", "D1", rec("VDI", vec![("uuid", s("vdi-1")), ("virtual_size", s("10"))]));
        t.insert("vbd", "B1", rec("VBD", vec![("uuid", s("vbd-1")), ("type", s("Disk")), ("VDI", s("D1"))]));
        t.insert("vif", "F1", rec("VIF", vec![("uuid", s("vif-1")), ("MAC", s("00:11:22:33:44:55"))]));
        let vm = |u: &str, res: &str, extra: Vec<(&'static str, Wire)>| {
            let mut m = vec![("uuid", s(u)), ("power_state", s(if res.is_empty() { "Halted" } else { "Running" })), ("resident_on", s(if res.is_empty() { "OpaqueRef:NULL" } else { res })), ("VCPUs_max", s("1"))];
            m.extend(extra);
            rec("VM", m)
        };
        t.insert("vm", "V1", vm("v1", "H1", vec![("VBDs", Wire::Array(vec![s("B1")])), ("VIFs", Wire::Array(vec![s("F1")]))]));
        t.insert("vm", "V2", vm("v2", "", vec![]));
        t.insert("vm", "DOM0", vm("dom0", "H1", vec![("is_control_domain", Wire::Bool(true))]));
        t.insert("vm", "T", vm("tpl", "", vec![("is_a_template", Wire::Bool(true))]));
        t
    }

    fn far_paths(h: &[Hop]) -> Vec<String> {
        h.iter().map(|h| h.far.path().to_string()).collect()
    }

    #[test]
    fn hosted_computer_system_follows_resident_on() {
        let t = tables();
        let h = hops(Assoc::HostedComputerSystem, &t, &host::path("root/cimv2", "h1"), None, None, None);
        assert_eq!(far_paths(&h), [cs::path(NAMESPACE, "v1").to_string()], "not dom0, not halted VMs");
        assert_eq!(h[0].link.get("Antecedent"), Some(&CimValue::Reference(host::path(NAMESPACE, "h1"))));
        assert_eq!(h[0].link.get("Dependent"), Some(&CimValue::Reference(cs::path(NAMESPACE, "v1"))));
        let back = hops(Assoc::HostedComputerSystem, &t, &cs::path("root/cimv2", "v1"), None, None, None);
        assert_eq!(far_paths(&back), [host::path(NAMESPACE, "h1").to_string()]);
        assert!(hops(Assoc::HostedComputerSystem, &t, &cs::path("root/cimv2", "v2"), None, None, None).is_empty());
        assert!(hops(Assoc::HostedComputerSystem, &t, &host::path("root/cimv2", "h2"), None, None, None).is_empty());
    }

    #[test]
    fn roles_and_classes_filter() {
        let t = tables();
        let vm = cs::path("root/cimv2", "v1");
        assert_eq!(hops(Assoc::SystemDevice, &t, &vm, None, None, None).len(), 4, "vCPU, memory, disk, NIC");
        assert_eq!(hops(Assoc::SystemDevice, &t, &vm, Some("groupcomponent"), Some("PartComponent"), None).len(), 4);
        assert!(hops(Assoc::SystemDevice, &t, &vm, Some("PartComponent"), None, None).is_empty());
        assert!(hops(Assoc::SystemDevice, &t, &vm, None, Some("GroupComponent"), None).is_empty());
        assert_eq!(hops(Assoc::SystemDevice, &t, &vm, None, None, Some("CIM_StorageExtent")).len(), 2, "memory and disk");
        assert_eq!(far_paths(&hops(Assoc::SystemDevice, &t, &vm, None, None, Some("Xen_NetworkPort"))), [dev::path(NAMESPACE, Kind::NetworkPort, "v1", "Xen:v1/vif-1").to_string()]);
        assert!(hops(Assoc::SystemDevice, &t, &vm, None, None, Some("CIM_Processor")).len() == 1);
        let disk = dev::path("root/cimv2", Kind::Disk, "v1", "Xen:v1/vbd-1");
        assert_eq!(far_paths(&hops(Assoc::SystemDevice, &t, &disk, None, None, None)), [cs::path(NAMESPACE, "v1").to_string()]);
        assert!(hops(Assoc::SystemDevice, &t, &dev::path("root/cimv2", Kind::Disk, "v1", "Xen:v1/vbd-9"), None, None, None).is_empty());
        assert!(is_a("Xen_SystemDevice", "cim_component") && !is_a("Xen_SystemDevice", "CIM_Dependency"));
        assert!(is_a("Xen_ComputerSystemSettingData", "CIM_VirtualSystemSettingData"));
    }

    #[test]
    fn settings_link_each_vm_to_its_vssd() {
        let t = tables();
        let h = hops(Assoc::SettingsDefineState, &t, &cs::path("root/cimv2", "v2"), None, None, None);
        assert_eq!(far_paths(&h), [vssd::path(NAMESPACE, "v2").to_string()]);
        let back = hops(Assoc::ElementSettingData, &t, &vssd::path("root/cimv2", "v2"), Some("SettingData"), None, None);
        assert_eq!(far_paths(&back), [cs::path(NAMESPACE, "v2").to_string()]);
        assert_eq!(back[0].link.get("IsDefault"), Some(&CimValue::Uint16(1)));
        assert!(hops(Assoc::SettingsDefineState, &t, &cs::path("root/cimv2", "dom0"), None, None, None).is_empty());
        assert!(hops(Assoc::SettingsDefineState, &t, &cs::path("root/cimv2", "tpl"), None, None, None).is_empty());
    }

    #[test]
    fn profiles_conform_across_namespaces() {
        let t = tables();
        let vs = hops(Assoc::ConformsToProfile, &t, &rp::VIRTUAL_SYSTEM.path(), None, None, None);
        assert_eq!(far_paths(&vs), [cs::path(NAMESPACE, "v1").to_string(), cs::path(NAMESPACE, "v2").to_string()]);
        assert_eq!(vs[0].link.path.namespace, "root/interop");
        let sv = hops(Assoc::ConformsToProfile, &t, &rp::SYSTEM_VIRTUALIZATION.path(), None, None, None);
        assert_eq!(sv.len(), 2, "both hosts");
        let mut from_vm = cs::path("root/cimv2", "v1");
        from_vm.namespace = "root/cimv2".into();
        let back = hops(Assoc::ConformsToProfile, &t, &from_vm, None, None, None);
        assert_eq!(far_paths(&back), [rp::VIRTUAL_SYSTEM.path().to_string()]);
        assert_eq!(back[0].link.get("ConformantStandard"), Some(&CimValue::Reference(rp::VIRTUAL_SYSTEM.path())));
        let other = Profile::by_instance_id("Xen:DSP1043").unwrap();
        assert!(hops(Assoc::ConformsToProfile, &t, &other.path(), None, None, None).is_empty(), "no allocation capabilities yet");
        let memory = Profile::by_instance_id("Xen:DSP1045").unwrap();
        let pools = hops(Assoc::ConformsToProfile, &t, &memory.path(), None, None, None);
        assert_eq!(far_paths(&pools), [pool::path(NAMESPACE, PoolKind::Memory, "h1").to_string(), pool::path(NAMESPACE, PoolKind::Memory, "h2").to_string()]);
        let back = hops(Assoc::ConformsToProfile, &t, &pool::path("root/cimv2", PoolKind::Memory, "h1"), None, None, None);
        let dsps: Vec<String> = back.iter().map(|h| h.far.path().to_string()).collect();
        assert_eq!(dsps, [Profile::by_instance_id("Xen:DSP1041").unwrap().path().to_string(), memory.path().to_string()]);
    }

    #[test]
    fn every_link_is_listed_once_from_its_first_role() {
        let t = tables();
        assert_eq!(all_links(Assoc::SystemDevice, &t, "root/cimv2").len(), 4 + 2);
        assert_eq!(all_links(Assoc::HostedComputerSystem, &t, "root/cimv2").len(), 1);
        // 2 hosts, 2 VMs, and for 2 hosts: DSP1041 and DSP1044 (processor) and DSP1045 (memory) pools.
        assert_eq!(all_links(Assoc::ConformsToProfile, &t, "root/interop").len(), 2 + 2 + 4 + 2 + 2);
        assert_eq!(all_links(Assoc::SettingsDefineState, &t, "root/cimv2").len(), 2);
    }
}
