//! The associations between the Xen classes, computed from XenAPI references in the cache (never
//! by enumerating the other side, as xs-cim did: `xs-cim-model.md` §6.3).
//!
//! | association | role → class | role → class | from |
//! | --- | --- | --- | --- |
//! | `Xen_HostedComputerSystem` | Antecedent → host | Dependent → VM | `VM.resident_on`, `host.resident_VMs`; a VM not running: `affinity`, else the only host or the pool master |
//! | `Xen_SystemDevice` | GroupComponent → VM | PartComponent → its devices | `VM.VCPUs_max`, `VBDs`, `VIFs` |
//! | `Xen_ComputerSystemSettingsDefineState` | ManagedElement → VM | SettingData → its VSSD | the VM uuid |
//! | `Xen_ComputerSystemElementSettingData` | ManagedElement → VM | SettingData → its VSSD | the VM uuid |
//! | `Xen_HostedResourcePool` | GroupComponent → host | PartComponent → its pools | the host uuid, `host.PBDs` → SR, `host.PIFs` → network |
//! | `Xen_ElementAllocatedFromPool` | Antecedent → pool | Dependent → device | `resident_on` / `resident_VMs`, VBD → VDI → SR, VIF → network |
//! | `Xen_VirtualSystemSettingDataComponent` | GroupComponent → VSSD | PartComponent → its RASDs | the VM uuid, `VM.VBDs`, `VM.VIFs` |
//! | `Xen_DeviceSettingsDefineState`, `Xen_DeviceElementSettingData` | ManagedElement → device | SettingData → its RASD | the device's DeviceID = the RASD's InstanceID (every vCPU → the processor RASD) |
//! | `Xen_ResourceAllocationFromPool` | Antecedent → pool | Dependent → RASD | as `Xen_ElementAllocatedFromPool` |
//! | `Xen_ElementConformsToProfile` | ConformantStandard → profile (root/interop) | ManagedElement → host (DSP1042), VM (DSP1057), pool (DSP1041 and its resource's profile) (root/cimv2) | |
//! | `Xen_SystemDevice` (hosts) | GroupComponent → host | PartComponent → its processors, memory, PIFs | `host.host_CPUs`, `metrics`, `PIFs` |
//! | `Xen_ElementCapabilities` | ManagedElement → VM, VSMS, host, pool | Capabilities → its capabilities (a host: its state capabilities and its VSMS's, DSP1042) | the source's uuid |
//! | `Xen_HostedService` | Antecedent → host | Dependent → its VSMS | the host uuid |
//! | `Xen_ServiceAffectsElement` | AffectingElement → VSMS | AffectedElement → every VM (any host's VSMS manages the pool's VMs) | |
//! | `Xen_MemberOfCollection` | Collection → Xen_HostPool | Member → every host (one pool per XenAPI server) | |
//! | `Xen_ReferencedProfile` | Dependent → DSP1042 | Antecedent → the other profiles (root/interop) | |
//! | `Xen_ConcreteComponent` | GroupComponent → pool | PartComponent → host processors, memory, PIFs; SR's disk images | `host_CPUs`, `network.PIFs`, `SR.VDIs` |
//! | `Xen_BasedOn` | Antecedent → disk image | Dependent → the Xen_Disk on it | `VBD.VDI`, `VDI.VBDs` |
//! | `Xen_SettingsDefineCapabilities` | GroupComponent → allocation capabilities | PartComponent → its four capabilities setting data (ValueRole, ValueRange) | the pool source's uuid |
//!
//! One provider type serves them all: it resolves the source object, lists the far ends, and
//! applies Role, ResultRole, ResultClass and AssocClass (class filters match the class or any of
//! its parents). The far ends of `Xen_ElementConformsToProfile` are in another namespace; the
//! reference values carry it.

use crate::backend::{Backend, BackendRef};
use crate::cache::Tables;
use crate::util::{namespace_of, string_key, vbd_type, VbdType, NAMESPACE};
use crate::xen_capabilities::{self as caps, CapKind};
use crate::xen_capabilities_setting_data::{self as capsd, Bound};
use crate::xen_computer_system::{self as cs, is_virtual_system};
use crate::xen_disk_image as image;
use crate::xen_host_device::{self as hdev, HostKind};
use crate::xen_host_pool as hpool;
use crate::xen_vsms as vsms;
use crate::xen_computer_system_setting_data as vssd;
use crate::xen_device::{self as dev, Kind};
use crate::xen_host_computer_system as host;
use crate::xen_registered_profile::{self as rp, Profile};
use crate::xen_resource_pool::{self as pool, PoolKind};
use crate::{xen_device_rasd as drasd, xen_rasd};
use cmpi_shim::provider::{AssociationProvider, Context, InstanceProvider, Provider};
use cmpi_shim::{CimValue, CmpiError, Instance, ObjectPath};
use std::sync::Arc;
use xenapi_client::ObjectRecord;

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
    ElementCapabilities,
    HostedService,
    ServiceAffectsElement,
    MemberOfCollection,
    ReferencedProfile,
    ConcreteComponent,
    BasedOn,
    VssdComponent,
    DeviceSettingsDefineState,
    DeviceElementSettingData,
    ResourceAllocationFromPool,
    SettingsDefineCapabilities,
}

pub const ASSOCS: [Assoc; 14] = [
    Assoc::HostedComputerSystem,
    Assoc::SystemDevice,
    Assoc::SettingsDefineState,
    Assoc::ElementSettingData,
    Assoc::ConformsToProfile,
    Assoc::HostedResourcePool,
    Assoc::AllocatedFromPool,
    Assoc::ElementCapabilities,
    Assoc::HostedService,
    Assoc::ServiceAffectsElement,
    Assoc::MemberOfCollection,
    Assoc::ReferencedProfile,
    Assoc::ConcreteComponent,
    Assoc::BasedOn,
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
            Assoc::ElementCapabilities => "Xen_ElementCapabilities",
            Assoc::HostedService => "Xen_HostedService",
            Assoc::ServiceAffectsElement => "Xen_ServiceAffectsElement",
            Assoc::MemberOfCollection => "Xen_MemberOfCollection",
            Assoc::ReferencedProfile => "Xen_ReferencedProfile",
            Assoc::ConcreteComponent => "Xen_ConcreteComponent",
            Assoc::BasedOn => "Xen_BasedOn",
            Assoc::VssdComponent => "Xen_VirtualSystemSettingDataComponent",
            Assoc::DeviceSettingsDefineState => "Xen_DeviceSettingsDefineState",
            Assoc::DeviceElementSettingData => "Xen_DeviceElementSettingData",
            Assoc::ResourceAllocationFromPool => "Xen_ResourceAllocationFromPool",
            Assoc::SettingsDefineCapabilities => "Xen_SettingsDefineCapabilities",
        }
    }

    /// The two reference properties: (the "owning" side, the other side).
    pub fn roles(self) -> (&'static str, &'static str) {
        match self {
            Assoc::HostedComputerSystem => ("Antecedent", "Dependent"),
            Assoc::SystemDevice | Assoc::HostedResourcePool | Assoc::VssdComponent => ("GroupComponent", "PartComponent"),
            Assoc::AllocatedFromPool | Assoc::ResourceAllocationFromPool => ("Antecedent", "Dependent"),
            Assoc::SettingsDefineState | Assoc::ElementSettingData | Assoc::DeviceSettingsDefineState | Assoc::DeviceElementSettingData => ("ManagedElement", "SettingData"),
            Assoc::ConformsToProfile => ("ConformantStandard", "ManagedElement"),
            Assoc::ElementCapabilities => ("ManagedElement", "Capabilities"),
            Assoc::HostedService | Assoc::BasedOn => ("Antecedent", "Dependent"),
            Assoc::ServiceAffectsElement => ("AffectingElement", "AffectedElement"),
            Assoc::MemberOfCollection => ("Collection", "Member"),
            // DSP1042 references the others: it is the Dependent (CIM_ReferencedProfile).
            Assoc::ReferencedProfile => ("Dependent", "Antecedent"),
            Assoc::ConcreteComponent => ("GroupComponent", "PartComponent"),
            Assoc::SettingsDefineCapabilities => ("GroupComponent", "PartComponent"),
        }
    }
}

/// The association of the capabilities setting data (DSP1043), kept apart like [`RASD_ASSOCS`].
pub const CAPABILITIES_SETTING_ASSOCS: [Assoc; 1] = [Assoc::SettingsDefineCapabilities];

/// The associations of the RASDs (kept apart from [`ASSOCS`], whose test sample has no RASD).
pub const RASD_ASSOCS: [Assoc; 4] = [Assoc::VssdComponent, Assoc::DeviceSettingsDefineState, Assoc::DeviceElementSettingData, Assoc::ResourceAllocationFromPool];

/// The class itself and its parents, for the ResultClass and AssocClass filters.
pub fn lineage(class: &str) -> Vec<&'static str> {
    const SYSTEM: &[&str] = &["CIM_ComputerSystem", "CIM_System", "CIM_EnabledLogicalElement", "CIM_LogicalElement", "CIM_ManagedSystemElement", "CIM_ManagedElement"];
    const DEVICE: &[&str] = &["CIM_LogicalDevice", "CIM_EnabledLogicalElement", "CIM_LogicalElement", "CIM_ManagedSystemElement", "CIM_ManagedElement"];
    const NONE: &[&str] = &[];
    const RASD: &[&str] = &["CIM_ResourceAllocationSettingData", "CIM_SettingData", "CIM_ManagedElement"];
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
        "xen_diskdrive" => (&["Xen_DiskDrive", "CIM_DiskDrive", "CIM_MediaAccessDevice"], DEVICE),
        "xen_diskimage" => (&["Xen_DiskImage", "CIM_StorageExtent"], DEVICE),
        "xen_hostprocessor" => (&["Xen_HostProcessor", "CIM_Processor"], DEVICE),
        "xen_hostmemory" => (&["Xen_HostMemory", "CIM_Memory", "CIM_StorageExtent"], DEVICE),
        "xen_hostnetworkport" => (&["Xen_HostNetworkPort", "CIM_NetworkPort", "CIM_LogicalPort"], DEVICE),
        "xen_virtualsystemmanagementservice" => (&["Xen_VirtualSystemManagementService", "CIM_VirtualSystemManagementService", "CIM_Service"], &["CIM_EnabledLogicalElement", "CIM_LogicalElement", "CIM_ManagedSystemElement", "CIM_ManagedElement"]),
        "xen_hostpool" => (&["Xen_HostPool", "CIM_SystemSpecificCollection", "CIM_Collection", "CIM_ManagedElement"], NONE),
        "xen_virtualsystemmanagementcapabilities" => (&["Xen_VirtualSystemManagementCapabilities", "CIM_VirtualSystemManagementCapabilities", "CIM_EnabledLogicalElementCapabilities", "CIM_Capabilities", "CIM_ManagedElement"], NONE),
        "xen_computersystemcapabilities" => (&["Xen_ComputerSystemCapabilities", "CIM_EnabledLogicalElementCapabilities", "CIM_Capabilities", "CIM_ManagedElement"], NONE),
        "xen_hostcomputersystemcapabilities" => (&["Xen_HostComputerSystemCapabilities", "CIM_EnabledLogicalElementCapabilities", "CIM_Capabilities", "CIM_ManagedElement"], NONE),
        "xen_processorallocationcapabilities" | "xen_memoryallocationcapabilities" | "xen_storageallocationcapabilities" | "xen_networkconnectionallocationcapabilities" => {
            let own: &[&str] = match CapKind::of_class(class) {
                Some(CapKind::Allocation(PoolKind::Processor)) => &["Xen_ProcessorAllocationCapabilities"],
                Some(CapKind::Allocation(PoolKind::Memory)) => &["Xen_MemoryAllocationCapabilities"],
                Some(CapKind::Allocation(PoolKind::Storage)) => &["Xen_StorageAllocationCapabilities"],
                _ => &["Xen_NetworkConnectionAllocationCapabilities"],
            };
            (own, &["CIM_AllocationCapabilities", "CIM_Capabilities", "CIM_ManagedElement"])
        }
        "xen_elementcapabilities" => (&["Xen_ElementCapabilities", "CIM_ElementCapabilities"], NONE),
        "xen_hostedservice" => (&["Xen_HostedService", "CIM_HostedService", "CIM_HostedDependency", "CIM_Dependency"], NONE),
        "xen_serviceaffectselement" => (&["Xen_ServiceAffectsElement", "CIM_ServiceAffectsElement"], NONE),
        "xen_memberofcollection" => (&["Xen_MemberOfCollection", "CIM_MemberOfCollection"], NONE),
        "xen_referencedprofile" => (&["Xen_ReferencedProfile", "CIM_ReferencedProfile", "CIM_ReferencedSpecification", "CIM_Dependency"], NONE),
        "xen_concretecomponent" => (&["Xen_ConcreteComponent", "CIM_ConcreteComponent", "CIM_Component"], NONE),
        "xen_basedon" => (&["Xen_BasedOn", "CIM_BasedOn", "CIM_Dependency"], NONE),
        "xen_processorsettingdata" => (&["Xen_ProcessorSettingData"], RASD),
        "xen_memorysettingdata" => (&["Xen_MemorySettingData"], RASD),
        "xen_disksettingdata" => (&["Xen_DiskSettingData", "CIM_StorageAllocationSettingData"], RASD),
        "xen_networkportsettingdata" => (&["Xen_NetworkPortSettingData", "CIM_EthernetPortAllocationSettingData"], RASD),
        "xen_virtualsystemsettingdatacomponent" => (&["Xen_VirtualSystemSettingDataComponent", "CIM_VirtualSystemSettingDataComponent", "CIM_Component"], NONE),
        "xen_devicesettingsdefinestate" => (&["Xen_DeviceSettingsDefineState", "CIM_SettingsDefineState"], NONE),
        "xen_deviceelementsettingdata" => (&["Xen_DeviceElementSettingData", "CIM_ElementSettingData"], NONE),
        "xen_resourceallocationfrompool" => (&["Xen_ResourceAllocationFromPool", "CIM_ResourceAllocationFromPool", "CIM_Dependency"], NONE),
        "xen_processorcapabilitiessettingdata" => (&["Xen_ProcessorCapabilitiesSettingData"], RASD),
        "xen_memorycapabilitiessettingdata" => (&["Xen_MemoryCapabilitiesSettingData"], RASD),
        "xen_storagecapabilitiessettingdata" => (&["Xen_StorageCapabilitiesSettingData"], RASD),
        "xen_networkconnectioncapabilitiessettingdata" => (&["Xen_NetworkConnectionCapabilitiesSettingData"], RASD),
        "xen_settingsdefinecapabilities" => (&["Xen_SettingsDefineCapabilities", "CIM_SettingsDefineCapabilities", "CIM_Component"], NONE),
        // Jobs and their associations (xen_job_links.rs).
        "xen_systemstatechangejob" => (&["Xen_SystemStateChangeJob", "Xen_Job", "CIM_ConcreteJob", "CIM_Job"], &["CIM_LogicalElement", "CIM_ManagedSystemElement", "CIM_ManagedElement"]),
        "xen_affectedjobelement" => (&["Xen_AffectedJobElement", "CIM_AffectedJobElement"], NONE),
        "xen_owningjobelement" => (&["Xen_OwningJobElement", "CIM_OwningJobElement"], NONE),
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
    /// A host device: the host's ref and record, and the device.
    HostDevice(HostKind, &'t String, &'t ObjectRecord, Instance),
    /// A disk image: the VDI, and the ref and record of its SR.
    DiskImage(&'t ObjectRecord, &'t String, &'t ObjectRecord),
    /// Capabilities, with their source's ref and record (host, VM, SR or network). The ref of a
    /// VM is not kept (nothing needs it, and finding it from the uuid would scan every VM): "".
    Caps(CapKind, &'t str, &'t ObjectRecord),
    /// The VSMS of a host (its ref and record).
    Vsms(&'t String, &'t ObjectRecord),
    HostPool(&'t ObjectRecord),
    /// A RASD: its VM record and instance.
    Rasd(&'t ObjectRecord, Instance),
    /// A capabilities setting data: the pool kind, which of the four, its source's ref and record.
    CapsSetting(PoolKind, Bound, &'t str, &'t ObjectRecord),
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
    if let Some(kind) = vssd::VssdKind::of_class(class) {
        // a VSSD is in the class of its record's kind only (guest VM, template, snapshot)
        let id = key("InstanceID")?;
        let uuid = vssd::uuid_of_instance_id(&id)?;
        return t.by_uuid("vm", uuid).map(|(_, v)| v).filter(|v| vssd::VssdKind::of(v) == Some(kind)).map(Object::Vssd);
    }
    if eq(rp::CLASS) {
        return Profile::by_instance_id(&key("InstanceID")?).map(Object::Profile);
    }
    if let Some(r) = resolve_rasd(t, class, op) {
        return r;
    }
    if let Some(kind) = PoolKind::of_class(class) {
        return pool::find(t, kind, op).map(|(r, rec)| Object::Pool(kind, r.as_str(), rec));
    }
    if let Some(kind) = CapKind::of_class(class) {
        return caps::find(t, kind, op).map(|(r, rec)| Object::Caps(kind, r.as_str(), rec));
    }
    if let Some(kind) = capsd::of_class(class) {
        return capsd::find(t, kind, op).map(|(r, rec, b)| Object::CapsSetting(kind, b, r.as_str(), rec));
    }
    if let Some(kind) = HostKind::of_class(class) {
        if !ccn_ok(kind.class()) {
            return None;
        }
        let (r, h) = hdev::owner(t, op)?;
        return hdev::find(NAMESPACE, kind, op, t).map(|i| Object::HostDevice(kind, r, h, i));
    }
    if eq(image::CLASS) && ccn_ok(image::CLASS) {
        let (vdi, sr) = image::find(t, op)?;
        let (r, _) = t.entry("sr", vdi.str("SR"))?;
        return Some(Object::DiskImage(vdi, r, sr));
    }
    if eq(vsms::CLASS) && ccn_ok(vsms::CLASS) {
        if key("Name")? != vsms::SERVICE_NAME || op.key("SystemCreationClassName").is_some_and(|v| v.as_str().is_none_or(|s| !s.eq_ignore_ascii_case(host::CLASS))) {
            return None;
        }
        return t.by_uuid("host", &key("SystemName")?).map(|(r, h)| Object::Vsms(r, h));
    }
    if eq(hpool::CLASS) {
        return hpool::find(t, op).map(Object::HostPool);
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
            Object::Vssd(v) => vssd::path_for(NAMESPACE, v).expect("control domains have no VSSD object"),
            Object::Device(_, _, i) => i.path.clone(),
            Object::Profile(p) => p.path(),
            Object::Pool(k, _, r) => pool::path(NAMESPACE, *k, r.str("uuid")),
            Object::HostDevice(_, _, _, i) => i.path.clone(),
            Object::DiskImage(v, _, sr) => image::path(NAMESPACE, sr.str("uuid"), v.str("uuid")),
            Object::Caps(k, _, r) => caps::path(NAMESPACE, *k, r.str("uuid")),
            Object::Vsms(_, h) => vsms::path(NAMESPACE, h.str("uuid")),
            Object::HostPool(p) => hpool::path(NAMESPACE, p.str("uuid")),
            Object::Rasd(_, i) => i.path.clone(),
            Object::CapsSetting(k, b, _, r) => capsd::path(NAMESPACE, *k, r.str("uuid"), *b),
        }
    }

    pub fn instance(&self, t: &Tables, b: &Backend) -> Instance {
        match self {
            Object::Vm(v) => cs::instance(NAMESPACE, v, t, b.requested_state(v)),
            Object::Host(_, h) => host::instance(NAMESPACE, h, t),
            Object::Vssd(v) => vssd::instance(NAMESPACE, v, t),
            Object::Device(_, _, i) => i.clone(),
            Object::Profile(p) => p.instance(),
            Object::Pool(k, _, r) => pool::instance(NAMESPACE, *k, r, t),
            Object::HostDevice(_, _, _, i) => i.clone(),
            Object::DiskImage(v, _, sr) => image::instance(NAMESPACE, v, sr),
            Object::Caps(k, _, r) => caps::instance(NAMESPACE, *k, r),
            Object::Vsms(_, h) => vsms::instance(NAMESPACE, h.str("uuid")),
            Object::HostPool(p) => hpool::instance(NAMESPACE, p, t),
            Object::Rasd(_, i) => i.clone(),
            Object::CapsSetting(k, b, _, r) => capsd::instance(NAMESPACE, *k, *b, r, t),
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
        (Assoc::HostedComputerSystem, Object::Host(r, h)) => (true, hosted_vms(t, r, h, is_virtual_system).into_iter().map(Object::Vm).collect()),
        (Assoc::HostedComputerSystem, Object::Vm(v)) => (false, cs::vm_host(t, v).map(|(k, h)| Object::Host(k, h)).into_iter().collect()),
        (Assoc::SystemDevice, Object::Vm(v)) => {
            let devices = dev::KINDS.into_iter().flat_map(|k| dev::devices(NAMESPACE, k, v, t).into_iter().map(move |i| Object::Device(k, v, i)));
            (true, devices.collect())
        }
        (Assoc::SystemDevice, Object::Device(_, vm, _)) => (false, vec![Object::Vm(vm)]),
        (Assoc::SettingsDefineState | Assoc::ElementSettingData, Object::Vm(v)) => (true, vec![Object::Vssd(v)]),
        (Assoc::SettingsDefineState | Assoc::ElementSettingData, Object::Vssd(v)) => (false, Some(*v).filter(|v| is_virtual_system(v)).map(Object::Vm).into_iter().collect()),
        (Assoc::ConformsToProfile, Object::Profile(p)) if *p == rp::SYSTEM_VIRTUALIZATION => {
            let mut h: Vec<(&String, &ObjectRecord)> = t.iter("host").collect();
            h.sort_unstable_by_key(|(_, h)| h.str("uuid"));
            (true, h.into_iter().map(|(r, h)| Object::Host(r, h)).collect())
        }
        (Assoc::ConformsToProfile, Object::Profile(p)) if *p == rp::VIRTUAL_SYSTEM => (true, vms().into_iter().map(Object::Vm).collect()),
        (Assoc::ConformsToProfile, Object::Host(..)) => (false, vec![Object::Profile(rp::SYSTEM_VIRTUALIZATION)]),
        (Assoc::ConformsToProfile, Object::Vm(_)) => (false, vec![Object::Profile(rp::VIRTUAL_SYSTEM)]),
        (Assoc::ConformsToProfile, Object::Profile(p)) if p.dsp == rp::ALLOCATION_CAPABILITIES_DSP => {
            let all = caps::allocation_kinds().flat_map(|k| caps::sources(t, k).into_iter().map(move |(r, rec)| Object::Caps(k, r.as_str(), rec)));
            (true, all.collect())
        }
        (Assoc::ConformsToProfile, Object::Caps(CapKind::Allocation(_), ..)) => {
            (false, rp::PROFILES.into_iter().filter(|p| p.dsp == rp::ALLOCATION_CAPABILITIES_DSP).map(Object::Profile).collect())
        }
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
        (Assoc::SystemDevice, Object::Host(r, h)) => {
            let devices = hdev::HOST_KINDS.into_iter().flat_map(|k| hdev::devices(NAMESPACE, k, h, t).into_iter().map(move |i| Object::HostDevice(k, r, h, i)));
            (true, devices.collect())
        }
        (Assoc::SystemDevice, Object::HostDevice(_, r, h, _)) => (false, vec![Object::Host(r, h)]),
        (Assoc::ElementCapabilities, Object::Vm(v)) => (true, vec![Object::Caps(CapKind::ComputerSystem, "", v)]),
        (Assoc::ElementCapabilities, Object::Host(r, h)) => (true, vec![Object::Caps(CapKind::HostComputerSystem, r.as_str(), h), Object::Caps(CapKind::Vsms, r.as_str(), h)]),
        (Assoc::ElementCapabilities, Object::Vsms(r, h)) => (true, vec![Object::Caps(CapKind::Vsms, r.as_str(), h)]),
        (Assoc::ElementCapabilities, Object::Pool(kind, r, rec)) => (true, vec![Object::Caps(CapKind::Allocation(*kind), r, rec)]),
        (Assoc::ElementCapabilities, Object::Caps(kind, r, rec)) => match kind {
            CapKind::ComputerSystem => (false, vec![Object::Vm(rec)]),
            CapKind::Vsms => match t.entry("host", r) {
                Some((r, h)) => (false, vec![Object::Host(r, h), Object::Vsms(r, h)]),
                None => (false, vec![]),
            },
            CapKind::HostComputerSystem => (false, t.entry("host", r).map(|(r, h)| Object::Host(r, h)).into_iter().collect()),
            CapKind::Allocation(pk) => (false, vec![Object::Pool(*pk, r, rec)]),
        },
        (Assoc::HostedService, Object::Host(r, h)) => (true, vec![Object::Vsms(r, h)]),
        (Assoc::HostedService, Object::Vsms(r, h)) => (false, vec![Object::Host(r, h)]),
        (Assoc::ServiceAffectsElement, Object::Vsms(..)) => (true, vms().into_iter().map(Object::Vm).collect()),
        (Assoc::ServiceAffectsElement, Object::Vm(_)) => (false, hosts(t).into_iter().map(|(r, h)| Object::Vsms(r, h)).collect()),
        (Assoc::MemberOfCollection, Object::HostPool(_)) => (true, hosts(t).into_iter().map(|(r, h)| Object::Host(r, h)).collect()),
        (Assoc::MemberOfCollection, Object::Host(..)) => (false, hpool::pools(t).into_iter().map(Object::HostPool).collect()),
        (Assoc::ReferencedProfile, Object::Profile(p)) if *p == rp::SYSTEM_VIRTUALIZATION => {
            (true, rp::PROFILES.into_iter().filter(|q| *q != rp::SYSTEM_VIRTUALIZATION).map(Object::Profile).collect())
        }
        (Assoc::ReferencedProfile, Object::Profile(_)) => (false, vec![Object::Profile(rp::SYSTEM_VIRTUALIZATION)]),
        (Assoc::ConcreteComponent, Object::Pool(kind, r, rec)) => (true, pool_components(t, *kind, r, rec)),
        (Assoc::ConcreteComponent, Object::HostDevice(kind, r, h, i)) => (false, host_device_pool(t, *kind, r, h, i).into_iter().collect()),
        (Assoc::ConcreteComponent, Object::DiskImage(_, r, sr)) => (false, vec![Object::Pool(PoolKind::Storage, r.as_str(), sr)]),
        (Assoc::BasedOn, Object::DiskImage(vdi, ..)) => {
            let vm_of = |x: &'t ObjectRecord| t.get("vm", x.str("VM")).filter(|v| is_virtual_system(v));
            let mut disks: Vec<Object> = deref_set(t, vdi, "VBDs", "vbd")
                .into_iter()
                .filter(|(_, vbd)| vbd_type(vbd) == Some(VbdType::Disk))
                .filter_map(|(_, vbd)| device_of(t, Kind::Disk, vm_of(vbd)?, vbd.str("uuid")))
                .collect();
            disks.sort_unstable_by_key(|o| o.path().to_string());
            (true, disks)
        }
        (Assoc::BasedOn, Object::Device(Kind::Disk, vm, i)) => (false, device_image(t, vm, i).into_iter().collect()),
        (Assoc::VssdComponent, Object::Vssd(vm)) => (true, vm_rasds(t, vm)),
        (Assoc::VssdComponent, Object::Rasd(vm, _)) => (false, vec![Object::Vssd(vm)]),
        (Assoc::DeviceSettingsDefineState | Assoc::DeviceElementSettingData, Object::Device(kind, vm, i)) => (true, device_rasd(t, *kind, vm, i).into_iter().collect()),
        (Assoc::DeviceSettingsDefineState | Assoc::DeviceElementSettingData, Object::Rasd(vm, i)) => (false, rasd_devices(t, vm, i)),
        (Assoc::ResourceAllocationFromPool, Object::Pool(kind, r, rec)) => (true, pool_rasds(t, *kind, r, rec)),
        (Assoc::ResourceAllocationFromPool, Object::Rasd(vm, i)) => (false, rasd_pool(t, vm, i).into_iter().collect()),
        (Assoc::SettingsDefineCapabilities, Object::Caps(CapKind::Allocation(pk), r, rec)) => {
            (true, capsd::BOUNDS.into_iter().map(|b| Object::CapsSetting(*pk, b, r, rec)).collect())
        }
        (Assoc::SettingsDefineCapabilities, Object::CapsSetting(pk, _, r, rec)) => (false, vec![Object::Caps(CapKind::Allocation(*pk), r, rec)]),
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

/// The VMs (those `keep` accepts) whose host ([`cs::vm_host`]) is host `r`: those resident on it,
/// and those not running that would start on it. By uuid.
fn hosted_vms<'t>(t: &'t Tables, r: &str, h: &ObjectRecord, keep: fn(&ObjectRecord) -> bool) -> Vec<&'t ObjectRecord> {
    let resident = deref_set(t, h, "resident_VMs", "vm").into_iter().map(|(_, v)| v).filter(|v| v.str("resident_on") == r);
    let elsewhere = t.iter("vm").map(|(_, v)| v).filter(|v| t.get("host", v.str("resident_on")).is_none() && cs::vm_host(t, v).is_some_and(|(k, _)| k == r));
    let mut v: Vec<&ObjectRecord> = resident.chain(elsewhere).filter(|v| keep(v)).collect();
    v.sort_unstable_by_key(|v| v.str("uuid"));
    v.dedup_by_key(|v| v.str("uuid"));
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
            .filter_map(|(_, vbd)| device_of(t, if vbd_type(vbd) == Some(VbdType::Cd) { Kind::DiskDrive } else { Kind::Disk }, vm_of(vbd)?, vbd.str("uuid")))
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
        Kind::Disk | Kind::DiskDrive => {
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

/// Every host (ref, record), by uuid.
fn hosts(t: &Tables) -> Vec<(&String, &ObjectRecord)> {
    let mut h: Vec<(&String, &ObjectRecord)> = t.iter("host").collect();
    h.sort_unstable_by_key(|(_, h)| h.str("uuid"));
    h
}

/// The members of a primordial pool: the host's processors or its memory, the PIFs of a
/// network (on every host), the disk images of an SR.
fn pool_components<'t>(t: &'t Tables, kind: PoolKind, r: &'t str, rec: &'t ObjectRecord) -> Vec<Object<'t>> {
    match kind {
        PoolKind::Processor | PoolKind::Memory => {
            let Some((r, h)) = t.entry("host", r) else { return vec![] };
            let hk = if kind == PoolKind::Processor { HostKind::Processor } else { HostKind::Memory };
            hdev::devices(NAMESPACE, hk, h, t).into_iter().map(|i| Object::HostDevice(hk, r, h, i)).collect()
        }
        PoolKind::NetworkConnection => {
            let mut out: Vec<Object> = deref_set(t, rec, "PIFs", "pif")
                .into_iter()
                .filter_map(|(_, pif)| {
                    let (hr, h) = t.entry("host", pif.str("host"))?;
                    Some(Object::HostDevice(HostKind::NetworkPort, hr, h, hdev::network_port(NAMESPACE, h.str("uuid"), pif, t)))
                })
                .collect();
            out.sort_unstable_by_key(|o| o.path().to_string());
            out
        }
        PoolKind::Storage => {
            let Some((r, sr)) = t.entry("sr", r) else { return vec![] };
            image::of_sr(t, sr).into_iter().map(|v| Object::DiskImage(v, r, sr)).collect()
        }
    }
}

/// The RASD `op` names (a processor, memory, disk or NIC RASD), if it exists.
fn resolve_rasd<'t>(t: &'t Tables, class: &str, op: &ObjectPath) -> Option<Option<Object<'t>>> {
    let cpu_mem = [xen_rasd::Kind::Processor, xen_rasd::Kind::Memory].into_iter().find(|k| k.class().eq_ignore_ascii_case(class));
    let device = drasd::Kind::of_class(class);
    if cpu_mem.is_none() && device.is_none() {
        return None;
    }
    let Ok(id) = string_key(op, "InstanceID") else { return Some(None) };
    Some(match (cpu_mem, device) {
        (Some(k), _) => xen_rasd::vm_uuid_of(k, &id)
            .and_then(|u| t.by_uuid("vm", u))
            .map(|(_, vm)| vm)
            .filter(|vm| drasd::is_rasd_owner(vm))
            .map(|vm| Object::Rasd(vm, xen_rasd::instance(NAMESPACE, k, vm, t))),
        (None, Some(k)) => drasd::find(t, k, &id).and_then(|(_, vm, _, d)| {
            let i = match k {
                drasd::Kind::Disk => drasd::disk(NAMESPACE, vm, d, t)?,
                drasd::Kind::Nic => drasd::nic(NAMESPACE, vm, d, t),
            };
            Some(Object::Rasd(vm, i))
        }),
        (None, None) => None,
    })
}

/// Every RASD of a VM: processor, memory, disks and CD drives, NICs.
fn vm_rasds<'t>(t: &'t Tables, vm: &'t ObjectRecord) -> Vec<Object<'t>> {
    let mut out = Vec::new();
    if drasd::is_rasd_owner(vm) {
        out.extend([xen_rasd::Kind::Processor, xen_rasd::Kind::Memory].map(|k| Object::Rasd(vm, xen_rasd::instance(NAMESPACE, k, vm, t))));
    }
    for k in drasd::KINDS {
        out.extend(drasd::of_vm(NAMESPACE, k, vm, t).into_iter().map(|i| Object::Rasd(vm, i)));
    }
    out
}

fn id_of(i: &Instance, key: &str) -> String {
    i.get(key).and_then(|v| v.as_str()).unwrap_or("").to_string()
}

/// The RASD of a device: every vCPU has the VM's processor RASD; memory, disks and NICs the RASD
/// whose InstanceID is their DeviceID.
fn device_rasd<'t>(t: &'t Tables, kind: Kind, vm: &'t ObjectRecord, i: &Instance) -> Option<Object<'t>> {
    let id = id_of(i, "DeviceID");
    let rasd = match kind {
        Kind::Processor => xen_rasd::instance(NAMESPACE, xen_rasd::Kind::Processor, vm, t),
        Kind::Memory => xen_rasd::instance(NAMESPACE, xen_rasd::Kind::Memory, vm, t),
        Kind::Disk | Kind::DiskDrive => drasd::get(NAMESPACE, drasd::Kind::Disk, &id, t)?,
        Kind::NetworkPort => drasd::get(NAMESPACE, drasd::Kind::Nic, &id, t)?,
    };
    Some(Object::Rasd(vm, rasd))
}

/// The devices a RASD defines (none for a template's or a snapshot's).
fn rasd_devices<'t>(t: &'t Tables, vm: &'t ObjectRecord, i: &Instance) -> Vec<Object<'t>> {
    if !is_virtual_system(vm) {
        return vec![];
    }
    let class = i.path.classname.as_str();
    let id = id_of(i, "InstanceID");
    let kind = if class.eq_ignore_ascii_case(xen_rasd::Kind::Processor.class()) {
        Kind::Processor
    } else if class.eq_ignore_ascii_case(xen_rasd::Kind::Memory.class()) {
        Kind::Memory
    } else if class.eq_ignore_ascii_case(drasd::Kind::Disk.class()) {
        // a CD's RASD (ResourceType 16) defines a Xen_DiskDrive, a disk's a Xen_Disk
        if i.get("ResourceType") == Some(&CimValue::Uint16(16)) {
            Kind::DiskDrive
        } else {
            Kind::Disk
        }
    } else {
        Kind::NetworkPort
    };
    dev::devices(NAMESPACE, kind, vm, t)
        .into_iter()
        .filter(|d| kind == Kind::Processor || id_of(d, "DeviceID") == id)
        .map(|d| Object::Device(kind, vm, d))
        .collect()
}

/// The RASDs allocated from a pool: the processor and memory RASDs of the VMs resident on the
/// host, the disk RASDs of the SR's VDIs' VBDs, the NIC RASDs of the network's VIFs.
fn pool_rasds<'t>(t: &'t Tables, kind: PoolKind, r: &'t str, rec: &'t ObjectRecord) -> Vec<Object<'t>> {
    let vm_of = |x: &'t ObjectRecord| t.get("vm", x.str("VM")).filter(|v| drasd::is_rasd_owner(v));
    match kind {
        PoolKind::Processor | PoolKind::Memory => {
            let k = if kind == PoolKind::Processor { xen_rasd::Kind::Processor } else { xen_rasd::Kind::Memory };
            hosted_vms(t, r, rec, is_virtual_system).into_iter().map(|vm| Object::Rasd(vm, xen_rasd::instance(NAMESPACE, k, vm, t))).collect()
        }
        PoolKind::Storage => {
            let mut v: Vec<Object<'t>> = deref_set(t, rec, "VDIs", "vdi")
                .into_iter()
                .flat_map(|(_, vdi)| deref_set(t, vdi, "VBDs", "vbd"))
                .filter_map(|(_, vbd)| {
                    let vm = vm_of(vbd)?;
                    Some(Object::Rasd(vm, drasd::disk(NAMESPACE, vm, vbd, t)?))
                })
                .collect();
            v.sort_by_key(|o| o.path().to_string());
            v
        }
        PoolKind::NetworkConnection => {
            let mut v: Vec<Object<'t>> = deref_set(t, rec, "VIFs", "vif")
                .into_iter()
                .filter_map(|(_, vif)| {
                    let vm = vm_of(vif)?;
                    Some(Object::Rasd(vm, drasd::nic(NAMESPACE, vm, vif, t)))
                })
                .collect();
            v.sort_by_key(|o| o.path().to_string());
            v
        }
    }
}

/// The pool a host device is a member of (its network's, for a PIF).
fn host_device_pool<'t>(t: &'t Tables, kind: HostKind, r: &'t str, h: &'t ObjectRecord, i: &Instance) -> Option<Object<'t>> {
    match kind {
        HostKind::Processor => Some(Object::Pool(PoolKind::Processor, r, h)),
        HostKind::Memory => Some(Object::Pool(PoolKind::Memory, r, h)),
        HostKind::NetworkPort => {
            let suffix = i.get("DeviceID").and_then(|d| d.as_str()).and_then(|d| d.rsplit_once('/')).map(|(_, s)| s.to_string())?;
            let (_, pif) = hdev::host_pifs(t, h).into_iter().find(|(_, p)| p.str("uuid") == suffix)?;
            let (nr, net) = deref_one(t, pif, "network", "network")?;
            Some(Object::Pool(PoolKind::NetworkConnection, nr, net))
        }
    }
}

/// The pool a RASD allocates from: the processor or memory pool of the VM's host
/// ([`cs::vm_host`], which for a halted VM is where it would start; none for a template or
/// snapshot, which never runs), the SR of a disk's VDI, the network of a NIC.
fn rasd_pool<'t>(t: &'t Tables, vm: &'t ObjectRecord, i: &Instance) -> Option<Object<'t>> {
    let class = i.path.classname.as_str();
    if let Some(k) = [xen_rasd::Kind::Processor, xen_rasd::Kind::Memory].into_iter().find(|k| k.class().eq_ignore_ascii_case(class)) {
        let (r, h) = cs::vm_host(t, vm).filter(|_| is_virtual_system(vm))?;
        return Some(Object::Pool(if k == xen_rasd::Kind::Processor { PoolKind::Processor } else { PoolKind::Memory }, r, h));
    }
    let kind = drasd::Kind::of_class(class)?;
    let (_, _, _, d) = drasd::find(t, kind, &id_of(i, "InstanceID"))?;
    match kind {
        drasd::Kind::Disk => {
            let (_, vdi) = deref_one(t, d, "VDI", "vdi")?;
            let (r, sr) = deref_one(t, vdi, "SR", "sr")?;
            Some(Object::Pool(PoolKind::Storage, r, sr))
        }
        drasd::Kind::Nic => {
            let (r, net) = deref_one(t, d, "network", "network")?;
            Some(Object::Pool(PoolKind::NetworkConnection, r, net))
        }
    }
}

/// The disk image under a `Xen_Disk`: its VBD's VDI.
fn device_image<'t>(t: &'t Tables, vm: &'t ObjectRecord, i: &Instance) -> Option<Object<'t>> {
    let suffix = i.get("DeviceID").and_then(|d| d.as_str()).and_then(|d| d.rsplit_once('/')).map(|(_, s)| s.to_string())?;
    let (_, vbd) = deref_set(t, vm, "VBDs", "vbd").into_iter().find(|(_, v)| v.str("uuid") == suffix)?;
    let (vdi, _) = image::of_vdi_ref(t, vbd.str("VDI"))?;
    let (r, sr) = t.entry("sr", vdi.str("SR"))?;
    Some(Object::DiskImage(vdi, r, sr))
}

/// The association instance between `first` (first role) and `second`, in namespace `ns`.
pub fn link(assoc: Assoc, ns: &str, first: ObjectPath, second: ObjectPath) -> Instance {
    let (r1, r2) = assoc.roles();
    let bound = if assoc == Assoc::SettingsDefineCapabilities { capsd::bound_of(&second) } else { None };
    let path = ObjectPath::new(ns, assoc.class()).with_key(r1, first.clone()).with_key(r2, second.clone());
    let mut i = Instance::new(path).with(r1, first).with(r2, second);
    if matches!(assoc, Assoc::ElementSettingData | Assoc::DeviceElementSettingData) {
        // 1 = Is Default / Is Current / Is Next: a VM or device has one setting, which it
        // uses now and will use at its next start.
        i.set("IsDefault", CimValue::Uint16(1));
        i.set("IsCurrent", CimValue::Uint16(1));
        i.set("IsNext", CimValue::Uint16(1));
    }
    if assoc == Assoc::ElementCapabilities {
        // 2 Default, 3 Current: the only capabilities of their element, and its current ones.
        i.set("Characteristics", crate::util::u16_array(&[2, 3]));
    }
    if assoc == Assoc::SettingsDefineCapabilities {
        // DSP1043: which value the setting data gives (Default point, or the Minimums,
        // Maximums or Increments of what is supported); its properties vary independently.
        if let Some(b) = bound {
            i.set("ValueRole", CimValue::Uint16(b.value_role()));
            i.set("ValueRange", CimValue::Uint16(b.value_range()));
        }
        i.set("PropertyPolicy", CimValue::Uint16(0));
    }
    if assoc == Assoc::ServiceAffectsElement {
        // 5 Manages: the VSMS starts, stops, modifies and destroys the VM.
        i.set("ElementEffects", crate::util::u16_array(&[5]));
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
        Assoc::HostedComputerSystem | Assoc::HostedResourcePool | Assoc::HostedService => {
            let mut h: Vec<&str> = t.iter("host").map(|(_, h)| h.str("uuid")).collect();
            h.sort_unstable();
            h.into_iter().map(|u| host::path(NAMESPACE, u)).collect()
        }
        Assoc::ConformsToProfile => rp::PROFILES.iter().map(Profile::path).collect(),
        Assoc::ReferencedProfile => vec![rp::SYSTEM_VIRTUALIZATION.path()],
        Assoc::ServiceAffectsElement => hosts(t).into_iter().map(|(_, h)| vsms::path(NAMESPACE, h.str("uuid"))).collect(),
        Assoc::MemberOfCollection => hpool::pools(t).into_iter().map(|p| hpool::path(NAMESPACE, p.str("uuid"))).collect(),
        Assoc::BasedOn => {
            let mut srs: Vec<&ObjectRecord> = t.iter("sr").map(|(_, r)| r).collect();
            srs.sort_unstable_by_key(|r| r.str("uuid"));
            srs.into_iter().flat_map(|sr| image::of_sr(t, sr).into_iter().map(move |v| image::path(NAMESPACE, sr.str("uuid"), v.str("uuid")))).collect()
        }
        Assoc::ElementCapabilities => {
            // From each element that has capabilities: VMs, hosts, VSMSs, pools.
            let mut uuids: Vec<&str> = t.iter("vm").map(|(_, v)| v).filter(|v| is_virtual_system(v)).map(|v| v.str("uuid")).collect();
            uuids.sort_unstable();
            let mut v: Vec<ObjectPath> = uuids.into_iter().map(|u| cs::path(NAMESPACE, u)).collect();
            for (_, h) in hosts(t) {
                v.push(host::path(NAMESPACE, h.str("uuid")));
                v.push(vsms::path(NAMESPACE, h.str("uuid")));
            }
            v.extend(pool_paths(t));
            v
        }
        Assoc::AllocatedFromPool | Assoc::ConcreteComponent => pool_paths(t),
        Assoc::VssdComponent => {
            let mut v: Vec<&ObjectRecord> = t.iter("vm").map(|(_, v)| v).filter(|v| drasd::is_rasd_owner(v)).collect();
            v.sort_unstable_by_key(|v| v.str("uuid"));
            v.into_iter().filter_map(|v| vssd::path_for(NAMESPACE, v)).collect()
        }
        Assoc::DeviceSettingsDefineState | Assoc::DeviceElementSettingData => {
            let mut v: Vec<&ObjectRecord> = t.iter("vm").map(|(_, v)| v).filter(|v| is_virtual_system(v)).collect();
            v.sort_unstable_by_key(|v| v.str("uuid"));
            v.into_iter().flat_map(|vm| dev::KINDS.into_iter().flat_map(move |k| dev::devices(NAMESPACE, k, vm, t)).map(|i| i.path)).collect()
        }
        Assoc::ResourceAllocationFromPool => pool_paths(t),
        Assoc::SettingsDefineCapabilities => caps::allocation_kinds().flat_map(|k| caps::sources(t, k).into_iter().map(move |(_, r)| caps::path(NAMESPACE, k, r.str("uuid")))).collect(),
        _ => {
            let mut v: Vec<&str> = t.iter("vm").map(|(_, v)| v).filter(|v| is_virtual_system(v)).map(|v| v.str("uuid")).collect();
            v.sort_unstable();
            let mut paths: Vec<ObjectPath> = v.into_iter().map(|u| cs::path(NAMESPACE, u)).collect();
            if assoc == Assoc::SystemDevice {
                paths.extend(hosts(t).into_iter().map(|(_, h)| host::path(NAMESPACE, h.str("uuid"))));
            }
            paths
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

/// Every pool's path, kind by kind, by uuid.
fn pool_paths(t: &Tables) -> Vec<ObjectPath> {
    pool::POOL_KINDS
        .iter()
        .flat_map(|k| {
            let mut u: Vec<&str> = t.iter(k.source()).map(|(_, r)| r.str("uuid")).collect();
            u.sort_unstable();
            u.into_iter().map(move |u| pool::path(NAMESPACE, *k, u))
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
        self.backend.with_tables()
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
    use xenapi_client::Wire;


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
    fn hosted_computer_system_follows_resident_on_else_the_host_a_vm_would_start_on() {
        let t = tables();
        let h = hops(Assoc::HostedComputerSystem, &t, &host::path("root/cimv2", "h1"), None, None, None);
        assert_eq!(far_paths(&h), [cs::path(NAMESPACE, "v1").to_string()], "not dom0, not halted VMs");
        assert_eq!(h[0].link.get("Antecedent"), Some(&CimValue::Reference(host::path(NAMESPACE, "h1"))));
        assert_eq!(h[0].link.get("Dependent"), Some(&CimValue::Reference(cs::path(NAMESPACE, "v1"))));
        let back = hops(Assoc::HostedComputerSystem, &t, &cs::path("root/cimv2", "v1"), None, None, None);
        assert_eq!(far_paths(&back), [host::path(NAMESPACE, "h1").to_string()]);
        assert!(hops(Assoc::HostedComputerSystem, &t, &cs::path("root/cimv2", "v2"), None, None, None).is_empty());
        assert!(hops(Assoc::HostedComputerSystem, &t, &host::path("root/cimv2", "h2"), None, None, None).is_empty());
        // A halted VM belongs to the host it would start on: its affinity, else the pool master.
        let mut t = tables();
        t.insert("pool", "P", rec("pool", vec![("uuid", s("p")), ("master", s("H2"))]));
        let h2 = hops(Assoc::HostedComputerSystem, &t, &host::path("root/cimv2", "h2"), None, None, None);
        assert_eq!(far_paths(&h2), [cs::path(NAMESPACE, "v2").to_string()], "not the template");
        let back = hops(Assoc::HostedComputerSystem, &t, &cs::path("root/cimv2", "v2"), None, None, None);
        assert_eq!(far_paths(&back), [host::path(NAMESPACE, "h2").to_string()]);
        t.insert("vm", "V2", rec("VM", vec![("uuid", s("v2")), ("power_state", s("Halted")), ("resident_on", s("OpaqueRef:NULL")), ("affinity", s("H1"))]));
        let h1 = hops(Assoc::HostedComputerSystem, &t, &host::path("root/cimv2", "h1"), None, None, None);
        assert_eq!(far_paths(&h1), [cs::path(NAMESPACE, "v1").to_string(), cs::path(NAMESPACE, "v2").to_string()]);
        assert_eq!(all_links(Assoc::HostedComputerSystem, &t, "root/cimv2").len(), 2, "each VM once");
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
        assert_eq!(back[0].link.get("IsNext"), Some(&CimValue::Uint16(1)));
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
        let alloc = hops(Assoc::ConformsToProfile, &t, &other.path(), None, None, None);
        assert_eq!(alloc.len(), 4, "processor and memory allocation capabilities of 2 hosts");
        let back = hops(Assoc::ConformsToProfile, &t, &alloc[0].far.path(), None, None, None);
        assert_eq!(far_paths(&back), [other.path().to_string()]);
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
        // v1: vCPU, memory, disk, NIC; v2: vCPU, memory; each host: its memory.
        assert_eq!(all_links(Assoc::SystemDevice, &t, "root/cimv2").len(), 4 + 2 + 2);
        assert_eq!(all_links(Assoc::HostedComputerSystem, &t, "root/cimv2").len(), 1);
        // 2 hosts, 2 VMs, for 2 hosts: DSP1041 and DSP1044 (processor) and DSP1045 (memory) pools,
        // and DSP1043 for their 4 allocation capabilities.
        assert_eq!(all_links(Assoc::ConformsToProfile, &t, "root/interop").len(), 2 + 2 + 4 + 2 + 2 + 4);
        assert_eq!(all_links(Assoc::SettingsDefineState, &t, "root/cimv2").len(), 2);
        // VM, host, VSMS and pool capabilities: 2 VMs, 2 × (host → its own and its VSMS's,
        // VSMS → its own), 2 × 2 host pools.
        assert_eq!(all_links(Assoc::ElementCapabilities, &t, "root/cimv2").len(), 2 + 6 + 4);
        assert_eq!(all_links(Assoc::HostedService, &t, "root/cimv2").len(), 2);
        assert_eq!(all_links(Assoc::ServiceAffectsElement, &t, "root/cimv2").len(), 2 * 2);
        assert_eq!(all_links(Assoc::ReferencedProfile, &t, "root/interop").len(), rp::PROFILES.len() - 1);
    }

    #[test]
    fn capabilities_services_and_profile_references() {
        let t = tables();
        let caps_of = |p: ObjectPath| far_paths(&hops(Assoc::ElementCapabilities, &t, &p, None, None, None));
        assert_eq!(caps_of(cs::path("root/cimv2", "v1")), [caps::path(NAMESPACE, CapKind::ComputerSystem, "v1").to_string()]);
        assert!(caps_of(cs::path("root/cimv2", "tpl")).is_empty());
        let vsmc = caps::path(NAMESPACE, CapKind::Vsms, "h1").to_string();
        let host_caps = caps::path(NAMESPACE, CapKind::HostComputerSystem, "h1").to_string();
        assert_eq!(caps_of(host::path("root/cimv2", "h1")), [host_caps.clone(), vsmc.clone()]);
        assert_eq!(caps_of(vsms::path("root/cimv2", "h1")), [vsmc]);
        assert_eq!(caps_of(caps::path("root/cimv2", CapKind::HostComputerSystem, "h1")), [host::path(NAMESPACE, "h1").to_string()]);
        let state_caps = hops(Assoc::ElementCapabilities, &t, &host::path("root/cimv2", "h1"), None, None, Some("Xen_HostComputerSystemCapabilities"));
        assert_eq!(far_paths(&state_caps), [host_caps]);
        assert_eq!(caps_of(pool::path("root/cimv2", PoolKind::Memory, "h2")), [caps::path(NAMESPACE, CapKind::Allocation(PoolKind::Memory), "h2").to_string()]);
        let back = caps_of(caps::path("root/cimv2", CapKind::Vsms, "h2"));
        assert_eq!(back, [host::path(NAMESPACE, "h2").to_string(), vsms::path(NAMESPACE, "h2").to_string()]);
        let e = hops(Assoc::ElementCapabilities, &t, &cs::path("root/cimv2", "v2"), None, None, None);
        assert_eq!(e[0].link.get("Characteristics"), Some(&crate::util::u16_array(&[2, 3])));
        // The VSMS is hosted by its host and affects every VM.
        let hs = hops(Assoc::HostedService, &t, &vsms::path("root/cimv2", "h1"), Some("Dependent"), None, None);
        assert_eq!(far_paths(&hs), [host::path(NAMESPACE, "h1").to_string()]);
        let affected = hops(Assoc::ServiceAffectsElement, &t, &vsms::path("root/cimv2", "h2"), None, None, None);
        assert_eq!(far_paths(&affected), [cs::path(NAMESPACE, "v1").to_string(), cs::path(NAMESPACE, "v2").to_string()]);
        // DSP1042 references every other profile; each of them points back to it only.
        let refs = hops(Assoc::ReferencedProfile, &t, &rp::SYSTEM_VIRTUALIZATION.path(), Some("Dependent"), Some("Antecedent"), None);
        assert_eq!(refs.len(), 7);
        assert!(far_paths(&refs).contains(&rp::VIRTUAL_SYSTEM.path().to_string()));
        assert_eq!(refs[0].link.path.namespace, "root/interop");
        let up = hops(Assoc::ReferencedProfile, &t, &rp::VIRTUAL_SYSTEM.path(), None, None, None);
        assert_eq!(far_paths(&up), [rp::SYSTEM_VIRTUALIZATION.path().to_string()]);
        assert_eq!(up[0].link.get("Dependent"), Some(&CimValue::Reference(rp::SYSTEM_VIRTUALIZATION.path())));
    }

    /// Running VM v on host h with disk vbd on VDI vdi in SR sr, and NIC vif on network net; a
    /// template tpl with a disk on the same VDI.
    fn rasd_tables() -> Tables {
        let mut t = Tables::default();
        t.insert("host", "H", rec("host", vec![("uuid", s("h")), ("resident_VMs", Wire::Array(vec![s("V")]))]));
        t.insert("sr", "S", rec("SR", vec![("uuid", s("sr")), ("VDIs", Wire::Array(vec![s("D")]))]));
        t.insert("vdi", "D", rec("VDI", vec![("uuid", s("vdi")), ("SR", s("S")), ("virtual_size", s("100")), ("VBDs", Wire::Array(vec![s("B"), s("TB")]))]));
        t.insert("vbd", "B", rec("VBD", vec![("uuid", s("vbd")), ("VM", s("V")), ("VDI", s("D")), ("type", s("Disk"))]));
        t.insert("vbd", "TB", rec("VBD", vec![("uuid", s("tvbd")), ("VM", s("T")), ("VDI", s("D")), ("type", s("Disk"))]));
        t.insert("network", "N", rec("network", vec![("uuid", s("net")), ("VIFs", Wire::Array(vec![s("F")]))]));
        t.insert("vif", "F", rec("VIF", vec![("uuid", s("vif")), ("VM", s("V")), ("network", s("N")), ("device", s("0"))]));
        t.insert("vm", "V", rec("VM", vec![("uuid", s("v")), ("power_state", s("Running")), ("resident_on", s("H")), ("VCPUs_max", s("2")), ("VBDs", Wire::Array(vec![s("B")])), ("VIFs", Wire::Array(vec![s("F")]))]));
        t.insert("vm", "T", rec("VM", vec![("uuid", s("tpl")), ("is_a_template", Wire::Bool(true)), ("VBDs", Wire::Array(vec![s("TB")]))]));
        t
    }

    fn rasd(class: &str, id: &str) -> ObjectPath {
        ObjectPath::new("root/cimv2", class).with_key("InstanceID", id)
    }

    #[test]
    fn vssd_component_reaches_every_rasd_of_the_vm() {
        let t = rasd_tables();
        let h = hops(Assoc::VssdComponent, &t, &vssd::path("root/cimv2", "v"), None, None, None);
        let ids: Vec<String> = h.iter().map(|h| h.far.path().to_string()).collect();
        assert_eq!(
            ids,
            [rasd("Xen_ProcessorSettingData", "Xen:v/Processor"), rasd("Xen_MemorySettingData", "Xen:v/Memory"), rasd("Xen_DiskSettingData", "Xen:v/vbd"), rasd("Xen_NetworkPortSettingData", "Xen:v/vif")]
                .map(|p| p.to_string())
        );
        assert_eq!(hops(Assoc::VssdComponent, &t, &vssd::path("root/cimv2", "v"), None, None, Some("CIM_StorageAllocationSettingData")).len(), 1);
        let back = hops(Assoc::VssdComponent, &t, &rasd("Xen_NetworkPortSettingData", "Xen:v/vif"), None, None, None);
        assert_eq!(far_paths(&back), [vssd::path(NAMESPACE, "v").to_string()]);
        assert!(hops(Assoc::VssdComponent, &t, &rasd("Xen_DiskSettingData", "Xen:tpl/vbd"), None, None, None).is_empty(), "not the template's VBD");
        // a template's RASDs are parts of its Xen_ComputerSystemTemplate
        let tpl = hops(Assoc::VssdComponent, &t, &rasd("Xen_DiskSettingData", "Xen:tpl/tvbd"), None, None, None);
        assert_eq!(far_paths(&tpl), [vssd::path_of(NAMESPACE, vssd::VssdKind::Template, "tpl").to_string()]);
        assert!(hops(Assoc::VssdComponent, &t, &vssd::path("root/cimv2", "tpl"), None, None, None).is_empty(), "not as a guest VM's VSSD");
        let parts = hops(Assoc::VssdComponent, &t, &vssd::path_of("root/cimv2", vssd::VssdKind::Template, "tpl"), None, None, None);
        assert_eq!(parts.len(), 3, "processor, memory and the disk of the template");
        assert_eq!(all_links(Assoc::VssdComponent, &t, "root/cimv2").len(), 7);
    }

    #[test]
    fn devices_and_their_rasds() {
        let t = rasd_tables();
        let disk = dev::path("root/cimv2", Kind::Disk, "v", "Xen:v/vbd");
        let h = hops(Assoc::DeviceSettingsDefineState, &t, &disk, None, None, None);
        assert_eq!(far_paths(&h), [rasd("Xen_DiskSettingData", "Xen:v/vbd").to_string()]);
        let cpu = rasd("Xen_ProcessorSettingData", "Xen:v/Processor");
        let h = hops(Assoc::DeviceElementSettingData, &t, &cpu, Some("SettingData"), None, None);
        assert_eq!(far_paths(&h), [dev::path(NAMESPACE, Kind::Processor, "v", "Xen:v/VCPU0").to_string(), dev::path(NAMESPACE, Kind::Processor, "v", "Xen:v/VCPU1").to_string()]);
        assert_eq!(h[0].link.get("IsCurrent"), Some(&CimValue::Uint16(1)));
        assert_eq!(h[0].link.get("IsNext"), Some(&CimValue::Uint16(1)));
        assert_eq!(all_links(Assoc::DeviceSettingsDefineState, &t, "root/cimv2").len(), 2 + 1 + 1 + 1);
    }

    #[test]
    fn rasds_are_allocated_from_pools() {
        let t = rasd_tables();
        let sr = pool::path("root/cimv2", PoolKind::Storage, "sr");
        let h = hops(Assoc::ResourceAllocationFromPool, &t, &sr, None, None, None);
        assert_eq!(far_paths(&h), [rasd("Xen_DiskSettingData", "Xen:tpl/tvbd").to_string(), rasd("Xen_DiskSettingData", "Xen:v/vbd").to_string()], "a template's disk too");
        let up = hops(Assoc::ResourceAllocationFromPool, &t, &rasd("Xen_NetworkPortSettingData", "Xen:v/vif"), None, Some("Antecedent"), None);
        assert_eq!(far_paths(&up), [pool::path(NAMESPACE, PoolKind::NetworkConnection, "net").to_string()]);
        let up = hops(Assoc::ResourceAllocationFromPool, &t, &rasd("Xen_MemorySettingData", "Xen:v/Memory"), None, None, None);
        assert_eq!(far_paths(&up), [pool::path(NAMESPACE, PoolKind::Memory, "h").to_string()]);
        let cpu = hops(Assoc::ResourceAllocationFromPool, &t, &pool::path("root/cimv2", PoolKind::Processor, "h"), None, None, None);
        assert_eq!(far_paths(&cpu), [rasd("Xen_ProcessorSettingData", "Xen:v/Processor").to_string()]);
    }

    #[test]
    fn allocation_capabilities_define_their_four_settings() {
        let t = rasd_tables();
        let mem = caps::path("root/cimv2", CapKind::Allocation(PoolKind::Memory), "h");
        let h = hops(Assoc::SettingsDefineCapabilities, &t, &mem, None, None, None);
        let ids: Vec<String> = h.iter().map(|h| string_key(&h.far.path(), "InstanceID").unwrap()).collect();
        assert_eq!(ids, ["Xen:h/MemoryMinimum", "Xen:h/MemoryMaximum", "Xen:h/MemoryIncrement", "Xen:h/MemoryDefault"]);
        let roles: Vec<(Option<CimValue>, Option<CimValue>)> = h.iter().map(|h| (h.link.get("ValueRole").cloned(), h.link.get("ValueRange").cloned())).collect();
        let u = |n| Some(CimValue::Uint16(n));
        assert_eq!(roles, [(u(3), u(1)), (u(3), u(2)), (u(3), u(3)), (u(0), u(0))]);
        assert_eq!(h[0].link.get("PropertyPolicy").cloned(), u(0));
        let back = hops(Assoc::SettingsDefineCapabilities, &t, &capsd::path("root/cimv2", PoolKind::Memory, "h", Bound::Default), None, Some("GroupComponent"), None);
        assert_eq!(far_paths(&back), [caps::path(NAMESPACE, CapKind::Allocation(PoolKind::Memory), "h").to_string()]);
        assert_eq!(back[0].link.get("ValueRole").cloned(), u(0), "the same link from either end");
        assert!(hops(Assoc::SettingsDefineCapabilities, &t, &capsd::path("root/cimv2", PoolKind::Memory, "nohost", Bound::Default), None, None, None).is_empty());
        assert!(hops(Assoc::SettingsDefineCapabilities, &t, &caps::path("root/cimv2", CapKind::Vsms, "h"), None, None, None).is_empty(), "VSMS capabilities define none");
        let all = all_links(Assoc::SettingsDefineCapabilities, &t, "root/cimv2");
        let pools = pool::POOL_KINDS.iter().map(|k| t.iter(k.source()).count()).sum::<usize>();
        assert_eq!(all.len(), 4 * pools);
        assert!(is_a("Xen_StorageCapabilitiesSettingData", "CIM_ResourceAllocationSettingData") && is_a("Xen_SettingsDefineCapabilities", "CIM_Component"));
    }
}
