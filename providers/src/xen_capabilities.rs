//! The capabilities classes (xs-cim-model.md §2.6, with the CIM 2.41 numbering of its §6.7):
//!
//! ```text
//! Xen_VirtualSystemManagementCapabilities.InstanceID="Xen:<host uuid>/VirtualSystemManagementCapabilities"
//! Xen_HostComputerSystemCapabilities.InstanceID="Xen:<host uuid>/HostComputerSystemCapabilities"
//! Xen_ComputerSystemCapabilities.InstanceID="Xen:<vm uuid>/ComputerSystemCapabilities"
//! Xen_ProcessorAllocationCapabilities.InstanceID="Xen:<host uuid>/ProcessorAllocationCapabilities"
//! Xen_MemoryAllocationCapabilities.InstanceID="Xen:<host uuid>/MemoryAllocationCapabilities"
//! Xen_StorageAllocationCapabilities.InstanceID="Xen:<sr uuid>/StorageAllocationCapabilities"
//! Xen_NetworkConnectionAllocationCapabilities.InstanceID="Xen:<network uuid>/NetworkConnectionAllocationCapabilities"
//! ```
//!
//! Each is made from one cached record (host, VM, SR or network) and keyed by that record's uuid
//! and its kind, so that no two instances share an InstanceID with each other or with the
//! element they describe (`Xen:<uuid>` is the InstanceID of the VM, the host and the VSSD;
//! xs-cim-model.md §6.8).
//!
//! The state capabilities (CIM_EnabledLogicalElementCapabilities) of the systems list in
//! RequestedStatesSupported the fixed set of states their RequestStateChange supports, whatever
//! the state they are in: [`cs::SUPPORTED_STATES`] for a VM, [`host::SUPPORTED_STATES`] for a
//! host. What is accepted now is the system's own AvailableRequestedStates, a subset of it. The
//! VSMS capabilities, which describe the service, list none (the service has no
//! RequestStateChange). The allocation capabilities describe the primordial pool of the same
//! kind and source (DSP1043): one per pool.

use crate::backend::BackendRef;
use crate::cache::Tables;
use crate::util::*;
use crate::xen_computer_system::{self as cs, is_virtual_system};
use crate::xen_host_computer_system as host;
use crate::xen_resource_pool::{PoolKind, POOL_KINDS};
use cmpi_shim::provider::{Context, InstanceProvider, Provider};
use cmpi_shim::{CimValue, CmpiError, Instance, ObjectPath};
use xenapi_client::ObjectRecord;

/// The capabilities classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapKind {
    /// Of the VSMS of a host.
    Vsms,
    /// Of a guest VM (its state changes).
    ComputerSystem,
    /// Of a host (its state changes: maintenance).
    HostComputerSystem,
    /// Of the primordial pool of a kind.
    Allocation(PoolKind),
}

pub const CAP_KINDS: [CapKind; 7] = [
    CapKind::Vsms,
    CapKind::ComputerSystem,
    CapKind::HostComputerSystem,
    CapKind::Allocation(PoolKind::Processor),
    CapKind::Allocation(PoolKind::Memory),
    CapKind::Allocation(PoolKind::Storage),
    CapKind::Allocation(PoolKind::NetworkConnection),
];

/// `CIM_VirtualSystemManagementCapabilities.SynchronousMethodsSupported` values (CIM 2.41):
/// DefineSystem, DestroySystem, ModifyResourceSettings, ModifySystemSettings,
/// RemoveResourceSettings ("RemoveResourcesSupported"), AddResourceSettings
/// ("AddResourcesSupported"), and 32768 for the Xen extension CopySystem (the vendor range
/// 32767..65535 of the ValueMap). Every one of them completes before it returns.
pub const VSMS_SYNC_METHODS: [u16; 7] = [2, 3, 5, 6, 7, 10, 32768];
/// None of the VSMS methods answers 4096 with a job.
pub const VSMS_ASYNC_METHODS: [u16; 0] = [];
/// `IndicationsSupported`: 4 VirtualSystemStateChangeIndicationsSupported (the
/// Xen_ComputerSystemCreation / Deletion / Modification indications).
pub const VSMS_INDICATIONS: [u16; 1] = [4];
/// The VirtualSystemType values DefineSystem accepts and the VSSDs report.
pub const VIRTUAL_SYSTEM_TYPES: [&str; 2] = ["DMTF:Xen:PV", "DMTF:Xen:HVM"];

impl CapKind {
    pub fn class(self) -> &'static str {
        match self {
            CapKind::Vsms => "Xen_VirtualSystemManagementCapabilities",
            CapKind::ComputerSystem => "Xen_ComputerSystemCapabilities",
            CapKind::HostComputerSystem => "Xen_HostComputerSystemCapabilities",
            CapKind::Allocation(PoolKind::Processor) => "Xen_ProcessorAllocationCapabilities",
            CapKind::Allocation(PoolKind::Memory) => "Xen_MemoryAllocationCapabilities",
            CapKind::Allocation(PoolKind::Storage) => "Xen_StorageAllocationCapabilities",
            CapKind::Allocation(PoolKind::NetworkConnection) => "Xen_NetworkConnectionAllocationCapabilities",
        }
    }

    pub fn of_class(class: &str) -> Option<CapKind> {
        CAP_KINDS.into_iter().find(|k| k.class().eq_ignore_ascii_case(class))
    }

    /// The XenAPI class an instance is made from.
    pub fn source(self) -> &'static str {
        match self {
            CapKind::Vsms | CapKind::HostComputerSystem => "host",
            CapKind::ComputerSystem => "vm",
            CapKind::Allocation(k) => k.source(),
        }
    }

    /// The suffix after `Xen:<uuid>` in the InstanceID: `/` and the class name without `Xen_`.
    fn suffix(self) -> &'static str {
        match self {
            CapKind::Vsms => "/VirtualSystemManagementCapabilities",
            CapKind::ComputerSystem => "/ComputerSystemCapabilities",
            CapKind::HostComputerSystem => "/HostComputerSystemCapabilities",
            CapKind::Allocation(PoolKind::Processor) => "/ProcessorAllocationCapabilities",
            CapKind::Allocation(PoolKind::Memory) => "/MemoryAllocationCapabilities",
            CapKind::Allocation(PoolKind::Storage) => "/StorageAllocationCapabilities",
            CapKind::Allocation(PoolKind::NetworkConnection) => "/NetworkConnectionAllocationCapabilities",
        }
    }

    pub fn instance_id(self, uuid: &str) -> String {
        format!("Xen:{uuid}{}", self.suffix())
    }

    /// The source uuid in an InstanceID of this kind.
    pub fn uuid_of(self, id: &str) -> Option<&str> {
        let uuid = id.strip_prefix("Xen:")?.strip_suffix(self.suffix())?;
        Some(uuid).filter(|u| !u.is_empty() && !u.contains('/'))
    }

    /// True when `src` (a record of [`CapKind::source`]) has capabilities of this kind.
    pub fn serves(self, src: &ObjectRecord) -> bool {
        self != CapKind::ComputerSystem || is_virtual_system(src)
    }
}

pub fn path(ns: &str, kind: CapKind, uuid: &str) -> ObjectPath {
    ObjectPath::new(ns, kind.class()).with_key("InstanceID", kind.instance_id(uuid))
}

/// The capabilities of `kind` made from `src` (a host, VM, SR or network record).
pub fn instance(ns: &str, kind: CapKind, src: &ObjectRecord) -> Instance {
    let uuid = src.str("uuid");
    let i = Instance::new(path(ns, kind, uuid)).with("InstanceID", kind.instance_id(uuid));
    match kind {
        CapKind::Vsms => i
            .with("ElementName", format!("Xen VSMS capabilities of {}", src.str("name_label")))
            .with("Caption", "Xen Virtual System Management Capabilities")
            .with("VirtualSystemTypesSupported", string_array(&VIRTUAL_SYSTEM_TYPES))
            .with("SynchronousMethodsSupported", u16_array(&VSMS_SYNC_METHODS))
            .with("AsynchronousMethodsSupported", u16_array(&VSMS_ASYNC_METHODS))
            .with("IndicationsSupported", u16_array(&VSMS_INDICATIONS))
            // The service itself has no RequestStateChange, and its name is fixed.
            .with("RequestedStatesSupported", u16_array(&[]))
            .with("ElementNameEditSupported", false),
        // Names are changed through XenAPI (or ModifySystemSettings), not through these.
        CapKind::ComputerSystem => i
            .with("ElementName", src.str("name_label"))
            .with("Caption", "Xen virtual machine state capabilities")
            .with("RequestedStatesSupported", u16_array(&cs::SUPPORTED_STATES))
            .with("ElementNameEditSupported", false),
        CapKind::HostComputerSystem => i
            .with("ElementName", src.str("name_label"))
            .with("Caption", "Xen host state capabilities")
            .with("RequestedStatesSupported", u16_array(&host::SUPPORTED_STATES))
            .with("ElementNameEditSupported", false),
        CapKind::Allocation(pk) => allocation(i, pk, src),
    }
}

/// CIM_AllocationCapabilities of the pool of kind `pk` made from `src` (DSP1043): its resource
/// type, how allocations name it (RequestTypesSupported: 2 Specific = a PoolID is given, 3
/// General = the system's host decides), SharingMode (2 Dedicated, 3 Shared), and the VM states
/// (EnabledState values) in which a resource may be added or removed.
fn allocation(i: Instance, pk: PoolKind, src: &ObjectRecord) -> Instance {
    let (ty, sub, request, sharing, states): (u16, &str, u16, u16, &[u16]) = match pk {
        // vCPUs share the host's processors; VCPUs_max changes only while halted.
        PoolKind::Processor => (3, "xen:vcpu", 3, 3, &[3]),
        // Memory is reserved for one VM; its static range changes only while halted.
        PoolKind::Memory => (4, "Xen Memory", 3, 2, &[3]),
        // A VDI belongs to its VM; a disk names its SR (PoolID); VBDs plug while running.
        PoolKind::Storage => (if src.str("content_type") == "iso" { 16 } else { 19 }, src.str("type"), 2, 2, &[2, 3]),
        // Many VIFs share a network; a NIC names its network (PoolID).
        PoolKind::NetworkConnection => (33, "", 2, 3, &[2, 3]),
    };
    let mut i = i
        .with("ElementName", format!("Allocation capabilities of {}", pk.instance_id(src.str("uuid"))))
        .with("ResourceType", CimValue::Uint16(ty))
        .with("RequestTypesSupported", CimValue::Uint16(request))
        .with("SharingMode", CimValue::Uint16(sharing))
        .with("SupportedAddStates", u16_array(states))
        .with("SupportedRemoveStates", u16_array(states));
    if !sub.is_empty() {
        i.set("ResourceSubType", sub);
    }
    if pk == PoolKind::Storage && !src.str("content_type").is_empty() {
        i.set("OtherResourceType", src.str("content_type"));
    }
    i
}

/// The (ref, source record) of the capabilities `op` names.
pub fn find<'t>(tables: &'t Tables, kind: CapKind, op: &ObjectPath) -> Option<(&'t String, &'t ObjectRecord)> {
    let id = string_key(op, "InstanceID").ok()?;
    tables.by_uuid(kind.source(), kind.uuid_of(&id)?).filter(|(_, r)| kind.serves(r))
}

/// Every source record of `kind`, by uuid.
pub fn sources(tables: &Tables, kind: CapKind) -> Vec<(&String, &ObjectRecord)> {
    let mut v: Vec<(&String, &ObjectRecord)> = tables.iter(kind.source()).filter(|(_, r)| kind.serves(r)).collect();
    v.sort_unstable_by_key(|(_, r)| r.str("uuid"));
    v
}

/// The allocation capabilities kinds, one per pool kind.
pub fn allocation_kinds() -> impl Iterator<Item = CapKind> {
    POOL_KINDS.into_iter().map(CapKind::Allocation)
}

/// The instance provider of one capabilities class.
pub struct CapabilitiesProvider {
    kind: CapKind,
    backend: BackendRef,
}

impl CapabilitiesProvider {
    pub fn new(kind: CapKind) -> CapabilitiesProvider {
        CapabilitiesProvider { kind, backend: BackendRef::acquire() }
    }

}

impl Provider for CapabilitiesProvider {
    fn instance(&self) -> Option<&dyn InstanceProvider> {
        Some(self)
    }
}

impl InstanceProvider for CapabilitiesProvider {
    fn enumerate_instances(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        let tables = self.backend.tables()?;
        let ns = namespace_of(op);
        Ok(sources(&tables, self.kind).into_iter().map(|(_, r)| instance(&ns, self.kind, r)).collect())
    }

    fn get_instance(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Instance, CmpiError> {
        let tables = self.backend.tables()?;
        find(&tables, self.kind, op).map(|(_, r)| instance(&namespace_of(op), self.kind, r)).ok_or_else(|| CmpiError::not_found(format!("no instance {op}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::test_records::{rec, s};
    use crate::xen_computer_system::PowerState;
    use xenapi_client::Wire;

    #[test]
    fn ids_round_trip_and_do_not_mix_kinds() {
        for k in CAP_KINDS {
            assert_eq!(k.uuid_of(&k.instance_id("u")), Some("u"), "{k:?}");
            assert_eq!(CapKind::of_class(&k.class().to_ascii_uppercase()), Some(k));
        }
        assert_eq!(CapKind::Vsms.uuid_of("Xen:u/MemoryAllocationCapabilities"), None);
        assert_eq!(CapKind::Allocation(PoolKind::Memory).uuid_of("Xen:u"), None);
        assert_eq!(CapKind::Vsms.uuid_of("u"), None);
        // None is the InstanceID of the system it describes, nor of another kind's source.
        for k in CAP_KINDS {
            assert_eq!(k.uuid_of("Xen:u"), None, "{k:?}");
            for other in CAP_KINDS.into_iter().filter(|o| *o != k) {
                assert_ne!(k.instance_id("u"), other.instance_id("u"));
            }
        }
        assert_eq!(CapKind::ComputerSystem.instance_id("v"), "Xen:v/ComputerSystemCapabilities");
    }

    #[test]
    fn vsms_capabilities_use_the_cim_2_41_numbering() {
        let h = rec("host", vec![("uuid", s("h")), ("name_label", s("host1"))]);
        let i = instance("root/cimv2", CapKind::Vsms, &h);
        assert_eq!(i.path, path("root/cimv2", CapKind::Vsms, "h"));
        // 2 DefineSystem, 3 DestroySystem, 5 ModifyResourceSettings, 6 ModifySystemSettings,
        // 7 RemoveResources, 10 AddResources; not xs-cim's 1..10 of its pre-final ValueMap.
        assert_eq!(i.get("SynchronousMethodsSupported"), Some(&u16_array(&[2, 3, 5, 6, 7, 10, 32768])));
        assert_eq!(i.get("AsynchronousMethodsSupported"), Some(&u16_array(&[])));
        assert_eq!(i.get("IndicationsSupported"), Some(&u16_array(&[4])));
        assert_eq!(i.get("VirtualSystemTypesSupported"), Some(&string_array(&["DMTF:Xen:PV", "DMTF:Xen:HVM"])));
    }

    #[test]
    fn state_capabilities_list_every_state_the_class_supports_whatever_the_state() {
        let vm = |state: &str, ops: &[&str]| {
            rec("VM", vec![("uuid", s("v")), ("name_label", s("web")), ("power_state", s(state)), ("allowed_operations", Wire::Array(ops.iter().map(|o| s(o)).collect()))])
        };
        for (state, ops) in [("Paused", &["unpause", "hard_shutdown", "hard_reboot"][..]), ("Halted", &["start"]), ("Halted", &[])] {
            let i = instance("root/cimv2", CapKind::ComputerSystem, &vm(state, ops));
            assert_eq!(i.get("InstanceID"), Some(&CimValue::from("Xen:v/ComputerSystemCapabilities")));
            assert_eq!(i.get("RequestedStatesSupported"), Some(&u16_array(&[2, 3, 4, 6, 9, 10, 11])), "{state} {ops:?}");
            // What the VM accepts now is within it.
            let now = cs::available_requested_states(PowerState::parse(state), &ops.iter().map(|o| o.to_string()).collect::<Vec<_>>());
            assert!(now.iter().all(|s| cs::SUPPORTED_STATES.contains(s)));
        }
        let tpl = rec("VM", vec![("uuid", s("t")), ("is_a_template", Wire::Bool(true))]);
        assert!(!CapKind::ComputerSystem.serves(&tpl));
        for enabled in [true, false] {
            let h = rec("host", vec![("uuid", s("h")), ("name_label", s("host1")), ("enabled", Wire::Bool(enabled))]);
            let i = instance("root/cimv2", CapKind::HostComputerSystem, &h);
            assert_eq!(i.path, path("root/cimv2", CapKind::HostComputerSystem, "h"));
            assert_eq!(i.get("InstanceID"), Some(&CimValue::from("Xen:h/HostComputerSystemCapabilities")));
            assert_eq!(i.get("RequestedStatesSupported"), Some(&u16_array(&[2, 6])));
            assert!(host::available_requested_states(enabled).iter().all(|s| host::SUPPORTED_STATES.contains(s)));
            assert_eq!(i.get("ElementNameEditSupported"), Some(&CimValue::Boolean(false)));
        }
    }

    #[test]
    fn allocation_capabilities_describe_their_pool() {
        let h = rec("host", vec![("uuid", s("h"))]);
        let p = instance("root/cimv2", CapKind::Allocation(PoolKind::Processor), &h);
        assert_eq!(p.get("InstanceID"), Some(&CimValue::from("Xen:h/ProcessorAllocationCapabilities")));
        assert_eq!((p.get("ResourceType"), p.get("SharingMode")), (Some(&CimValue::Uint16(3)), Some(&CimValue::Uint16(3))));
        let m = instance("root/cimv2", CapKind::Allocation(PoolKind::Memory), &h);
        assert_eq!((m.get("ResourceType"), m.get("SharingMode")), (Some(&CimValue::Uint16(4)), Some(&CimValue::Uint16(2))));
        let iso = rec("SR", vec![("uuid", s("iso")), ("type", s("iso")), ("content_type", s("iso"))]);
        let st = instance("root/cimv2", CapKind::Allocation(PoolKind::Storage), &iso);
        assert_eq!(st.get("ResourceType"), Some(&CimValue::Uint16(16)));
        assert_eq!(st.get("RequestTypesSupported"), Some(&CimValue::Uint16(2)));
        assert_eq!(st.get("OtherResourceType"), Some(&CimValue::from("iso")));
        let net = rec("network", vec![("uuid", s("n"))]);
        let n = instance("root/cimv2", CapKind::Allocation(PoolKind::NetworkConnection), &net);
        assert_eq!(n.path, path("root/cimv2", CapKind::Allocation(PoolKind::NetworkConnection), "n"));
        assert_eq!(n.get("ResourceType"), Some(&CimValue::Uint16(33)));
    }
}
