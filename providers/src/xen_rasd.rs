//! `Xen_ProcessorSettingData` and `Xen_MemorySettingData` (CIM_ResourceAllocationSettingData):
//! the processor and memory allocation of each guest VM, one instance of each per VM, so what
//! DefineSystem made can be read back (xs-cim-model.md §2.2, RASDs).
//!
//! ```text
//! Xen_ProcessorSettingData.InstanceID="Xen:<vm uuid>/Processor"
//! Xen_MemorySettingData.InstanceID="Xen:<vm uuid>/Memory"
//! ```
//!
//! Served from the cache, for every VM record but control domains: the guest VMs, and the
//! templates and snapshots, whose settings DefineSystem and CopySystem start from. Memory is in MiB, rounded up, with AllocationUnits = VirtualQuantityUnits
//! = `"byte*2^20"` — the units DefineSystem takes by default.

use crate::backend::{Backend, BackendRef};
use crate::cache::Tables;
use crate::util::*;
use cmpi_shim::provider::{Context, InstanceProvider, Provider};
use cmpi_shim::{CimValue, CmpiError, Instance, ObjectPath};
use xenapi_client::ObjectRecord;

/// Which of the two classes a provider object serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Processor,
    Memory,
}

impl Kind {
    pub fn class(self) -> &'static str {
        match self {
            Kind::Processor => "Xen_ProcessorSettingData",
            Kind::Memory => "Xen_MemorySettingData",
        }
    }
    fn suffix(self) -> &'static str {
        match self {
            Kind::Processor => "Processor",
            Kind::Memory => "Memory",
        }
    }
}

pub fn instance_id(kind: Kind, vm_uuid: &str) -> String {
    format!("Xen:{vm_uuid}/{}", kind.suffix())
}

pub fn path(ns: &str, kind: Kind, vm_uuid: &str) -> ObjectPath {
    ObjectPath::new(ns, kind.class()).with_key("InstanceID", instance_id(kind, vm_uuid))
}

/// The VM uuid of an InstanceID of `kind`.
pub fn vm_uuid_of(kind: Kind, id: &str) -> Option<&str> {
    id.strip_prefix("Xen:")?.strip_suffix(kind.suffix())?.strip_suffix('/')
}

/// The programmatic units of the memory RASDs (MiB), also those of the memory pools.
pub const MEMORY_UNITS: &str = "byte*2^20";

/// Bytes as MiB, rounded up.
pub fn mib_up(bytes: i64) -> u64 {
    (bytes.max(0) as u64).div_ceil(1 << 20)
}

pub fn instance(ns: &str, kind: Kind, vm: &ObjectRecord, tables: &Tables) -> Instance {
    let uuid = vm.str("uuid");
    let mut i = Instance::new(path(ns, kind, uuid))
        .with("InstanceID", instance_id(kind, uuid))
        .with("ElementName", vm.str("name_label"))
        .with("AutomaticAllocation", true)
        .with("AutomaticDeallocation", true);
    // The pool of the VM's host, running or not: a halted VM allocates from it when it starts.
    // Templates and snapshots never run, so allocate from no host.
    let host = Some(vm).filter(|vm| crate::xen_computer_system::is_virtual_system(vm)).and_then(|vm| crate::xen_computer_system::vm_host(tables, vm));
    if let Some((_, h)) = host {
        i.set("PoolID", h.str("uuid"));
    }
    match kind {
        Kind::Processor => {
            i.set("Caption", "Processor settings of a Xen virtual machine");
            i.set("ResourceType", CimValue::Uint16(3));
            i.set("ConsumerVisibility", CimValue::Uint16(3));
            i.set("AllocationUnits", "count");
            i.set("VirtualQuantityUnits", "count");
            i.set("VirtualQuantity", CimValue::Uint64(vm.int("VCPUs_max").unwrap_or(0).max(0) as u64));
            i.set("Reservation", CimValue::Uint64(vm.int("VCPUs_at_startup").unwrap_or(0).max(0) as u64));
            if let Some(cap) = map_get(vm, "VCPUs_params", "cap").and_then(|v| v.parse::<u64>().ok()) {
                i.set("Limit", CimValue::Uint64(cap));
            }
            if let Some(w) = map_get(vm, "VCPUs_params", "weight").and_then(|v| v.parse::<u32>().ok()) {
                i.set("Weight", CimValue::Uint32(w));
            }
        }
        Kind::Memory => {
            let actual = tables.deref("vm_metrics", vm, "metrics").and_then(|m| m.int("memory_actual")).unwrap_or(0);
            let quantity = if actual > 0 { actual } else { vm.int("memory_static_max").unwrap_or(0) };
            i.set("Caption", "Memory settings of a Xen virtual machine");
            i.set("ResourceType", CimValue::Uint16(4));
            i.set("ConsumerVisibility", CimValue::Uint16(2));
            i.set("AllocationUnits", MEMORY_UNITS);
            i.set("VirtualQuantityUnits", MEMORY_UNITS);
            i.set("VirtualQuantity", CimValue::Uint64(mib_up(quantity)));
            i.set("Reservation", CimValue::Uint64(mib_up(vm.int("memory_dynamic_min").unwrap_or(0))));
            i.set("Limit", CimValue::Uint64(mib_up(vm.int("memory_dynamic_max").unwrap_or(0))));
        }
    }
    i
}

pub struct RasdProvider {
    kind: Kind,
    backend: BackendRef,
}

impl RasdProvider {
    pub fn new(kind: Kind) -> RasdProvider {
        RasdProvider { kind, backend: BackendRef::acquire() }
    }

    fn backend(&self) -> Result<std::sync::Arc<Backend>, CmpiError> {
        self.backend.get().map_err(CmpiError::failed)
    }

    fn vms(tables: &Tables) -> Vec<&ObjectRecord> {
        let mut vms: Vec<&ObjectRecord> = tables.iter("vm").map(|(_, vm)| vm).filter(|vm| crate::xen_device_rasd::is_rasd_owner(vm)).collect();
        vms.sort_unstable_by_key(|vm| vm.str("uuid"));
        vms
    }
}

impl Provider for RasdProvider {
    fn instance(&self) -> Option<&dyn InstanceProvider> {
        Some(self)
    }
}

impl InstanceProvider for RasdProvider {
    fn enumerate_instances(&self, _ctx: &Context, op: &ObjectPath, _properties: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        let tables = self.backend()?.tables().map_err(CmpiError::failed)?;
        let ns = namespace_of(op);
        Ok(Self::vms(&tables).into_iter().map(|vm| instance(&ns, self.kind, vm, &tables)).collect())
    }

    fn enumerate_instance_names(&self, _ctx: &Context, op: &ObjectPath) -> Result<Vec<ObjectPath>, CmpiError> {
        let tables = self.backend()?.tables().map_err(CmpiError::failed)?;
        let ns = namespace_of(op);
        Ok(Self::vms(&tables).into_iter().map(|vm| path(&ns, self.kind, vm.str("uuid"))).collect())
    }

    fn get_instance(&self, _ctx: &Context, op: &ObjectPath, _properties: Option<&[String]>) -> Result<Instance, CmpiError> {
        let id = string_key(op, "InstanceID")?;
        let not_found = || CmpiError::not_found(format!("no {} with InstanceID {id:?}", self.kind.class()));
        let uuid = vm_uuid_of(self.kind, &id).ok_or_else(not_found)?;
        let tables = self.backend()?.tables().map_err(CmpiError::failed)?;
        match tables.by_uuid("vm", uuid) {
            Some((_, vm)) if crate::xen_device_rasd::is_rasd_owner(vm) => Ok(instance(&namespace_of(op), self.kind, vm, &tables)),
            _ => Err(not_found()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::test_records::{rec, s};
    use xenapi_client::Wire;


    #[test]
    fn instance_ids_round_trip() {
        assert_eq!(instance_id(Kind::Memory, "u"), "Xen:u/Memory");
        assert_eq!(vm_uuid_of(Kind::Memory, "Xen:u/Memory"), Some("u"));
        assert_eq!(vm_uuid_of(Kind::Processor, "Xen:u/Memory"), None);
        assert_eq!(vm_uuid_of(Kind::Processor, "u/Processor"), None);
        assert_eq!(mib_up((1 << 20) + 1), 2);
        assert_eq!(mib_up(0), 0);
    }

    #[test]
    fn processor_and_memory_from_the_vm_record() {
        let mut t = Tables::default();
        t.insert("host", "H", rec("host", vec![("uuid", s("h"))]));
        t.insert("vm_metrics", "M", rec("VM_metrics", vec![("memory_actual", s("0"))]));
        let vm = rec(
            "VM",
            vec![
                ("uuid", s("v")),
                ("name_label", s("web")),
                ("VCPUs_max", s("4")),
                ("VCPUs_at_startup", s("2")),
                ("VCPUs_params", Wire::Struct(vec![("weight".into(), s("256"))])),
                ("memory_static_max", s(&(1u64 << 30).to_string())),
                ("memory_dynamic_min", s(&(512u64 << 20).to_string())),
                ("memory_dynamic_max", s(&(1u64 << 30).to_string())),
                ("metrics", s("M")),
                ("resident_on", s("H")),
            ],
        );
        let p = instance("root/cimv2", Kind::Processor, &vm, &t);
        assert_eq!(p.get("InstanceID"), Some(&CimValue::from("Xen:v/Processor")));
        assert_eq!(p.get("VirtualQuantity"), Some(&CimValue::Uint64(4)));
        assert_eq!(p.get("Reservation"), Some(&CimValue::Uint64(2)));
        assert_eq!(p.get("Weight"), Some(&CimValue::Uint32(256)));
        assert_eq!(p.get("Limit"), None);
        assert_eq!(p.get("PoolID"), Some(&CimValue::from("h")));
        let m = instance("root/cimv2", Kind::Memory, &vm, &t);
        assert_eq!(m.get("VirtualQuantity"), Some(&CimValue::Uint64(1024)), "static max when memory_actual is 0");
        assert_eq!(m.get("Reservation"), Some(&CimValue::Uint64(512)));
        assert_eq!(m.get("Limit"), Some(&CimValue::Uint64(1024)));
        assert_eq!(m.get("AllocationUnits"), Some(&CimValue::from("byte*2^20")));
    }
}
