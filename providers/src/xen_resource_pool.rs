//! The primordial resource pools (xs-cim-model.md §2.4, with the stable keys of its §6.8):
//!
//! ```text
//! Xen_ProcessorPool.InstanceID="Xen:<host uuid>/ProcessorPool"   one per host, Capacity = host_CPUs
//! Xen_MemoryPool.InstanceID="Xen:<host uuid>/MemoryPool"         one per host, "byte*2^20"
//! Xen_StoragePool.InstanceID="Xen:<sr uuid>"                     one per SR, "byte"
//! Xen_NetworkConnectionPool.InstanceID="Xen:<network uuid>"      one per network
//! ```
//!
//! xs-cim put the host uuid (or "Shared") into the storage pool key, so the key changed with the
//! PBD count; here a pool's key is derived from its own object only. PoolID is that uuid.
//!
//! AllocationUnits are DSP0004 programmatic units, those of the RASDs allocated from the pool
//! (xs-cim mixed "Bytes" pools with "byte*2^20" memory RASDs): "count" of vCPUs and of ports,
//! "byte*2^20" (MiB) of memory, "byte" of disk. Reserved is what the running guests hold: the
//! vCPUs of the VMs resident on the host, the host memory in use, the SR's utilisation.

use crate::backend::BackendRef;
use crate::cache::Tables;
use crate::util::*;
use cmpi_shim::provider::{Context, InstanceProvider, Provider};
use cmpi_shim::{CimValue, CmpiError, Instance, ObjectPath};
use xenapi_client::ObjectRecord;

/// The four pool classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    Processor,
    Memory,
    Storage,
    NetworkConnection,
}

pub const POOL_KINDS: [PoolKind; 4] = [PoolKind::Processor, PoolKind::Memory, PoolKind::Storage, PoolKind::NetworkConnection];

impl PoolKind {
    pub fn class(self) -> &'static str {
        match self {
            PoolKind::Processor => "Xen_ProcessorPool",
            PoolKind::Memory => "Xen_MemoryPool",
            PoolKind::Storage => "Xen_StoragePool",
            PoolKind::NetworkConnection => "Xen_NetworkConnectionPool",
        }
    }

    pub fn of_class(class: &str) -> Option<PoolKind> {
        POOL_KINDS.into_iter().find(|k| k.class().eq_ignore_ascii_case(class))
    }

    /// The XenAPI class a pool is made from.
    pub fn source(self) -> &'static str {
        match self {
            PoolKind::Processor | PoolKind::Memory => "host",
            PoolKind::Storage => "sr",
            PoolKind::NetworkConnection => "network",
        }
    }

    pub fn instance_id(self, uuid: &str) -> String {
        match self {
            PoolKind::Processor => format!("Xen:{uuid}/ProcessorPool"),
            PoolKind::Memory => format!("Xen:{uuid}/MemoryPool"),
            PoolKind::Storage | PoolKind::NetworkConnection => format!("Xen:{uuid}"),
        }
    }

    /// The source object's uuid in an InstanceID of this kind.
    pub fn uuid_of(self, id: &str) -> Option<&str> {
        let rest = id.strip_prefix("Xen:")?;
        let uuid = match self {
            PoolKind::Processor => rest.strip_suffix("/ProcessorPool")?,
            PoolKind::Memory => rest.strip_suffix("/MemoryPool")?,
            PoolKind::Storage | PoolKind::NetworkConnection => rest,
        };
        Some(uuid).filter(|u| !u.is_empty() && !u.contains('/'))
    }
}

pub fn path(ns: &str, kind: PoolKind, uuid: &str) -> ObjectPath {
    ObjectPath::new(ns, kind.class()).with_key("InstanceID", kind.instance_id(uuid))
}

fn uint(v: Option<i64>) -> u64 {
    v.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

/// The pool of `kind` made from `src` (a host, SR or network record).
pub fn instance(ns: &str, kind: PoolKind, src: &ObjectRecord, tables: &Tables) -> Instance {
    let uuid = src.str("uuid");
    let mut i = Instance::new(path(ns, kind, uuid))
        .with("InstanceID", kind.instance_id(uuid))
        .with("PoolID", uuid)
        .with("Primordial", true)
        .with("HealthState", CimValue::Uint16(5))
        .with("OperationalStatus", u16_array(&[2]));
    let (ty, sub, capacity, reserved, units, name): (u16, String, u64, u64, &str, String) = match kind {
        PoolKind::Processor => {
            (3, "xen:vcpu".into(), string_set(src, "host_CPUs").len() as u64, running_vcpus(tables, src), "count", "Xen Virtual Processor Pool".into())
        }
        PoolKind::Memory => {
            let (total, free) = tables.deref("host_metrics", src, "metrics").map(|m| (uint(m.int("memory_total")), uint(m.int("memory_free")))).unwrap_or((0, 0));
            // MiB as the memory RASDs: what exists rounded down, what is used rounded up.
            (4, "Xen Memory".into(), total >> 20, total.saturating_sub(free).div_ceil(1 << 20), crate::xen_rasd::MEMORY_UNITS, "Xen Memory Pool".into())
        }
        PoolKind::Storage => {
            let ty = if src.str("content_type") == "iso" { 16 } else { 19 };
            (ty, src.str("type").to_string(), uint(src.int("physical_size")), uint(src.int("physical_utilisation")), "byte", src.str("name_label").to_string())
        }
        PoolKind::NetworkConnection => (33, String::new(), u32::MAX as u64, 0, "count", src.str("name_label").to_string()),
    };
    i.set("ResourceType", CimValue::Uint16(ty));
    if !sub.is_empty() {
        i.set("ResourceSubType", sub);
    }
    i.set("Capacity", CimValue::Uint64(capacity));
    i.set("Reserved", CimValue::Uint64(reserved));
    i.set("AllocationUnits", units);
    i.set("ElementName", name);
    if matches!(kind, PoolKind::Storage | PoolKind::NetworkConnection) {
        i.set("Description", src.str("name_description"));
    }
    i
}

/// The vCPUs the guest VMs resident on `host` have now (VM_metrics.VCPUs_number, else
/// VCPUs_at_startup): the processor pool's Reserved.
fn running_vcpus(tables: &Tables, host: &ObjectRecord) -> u64 {
    string_set(host, "resident_VMs")
        .iter()
        .filter_map(|r| tables.get("vm", r))
        .filter(|vm| resident_on_host(tables, vm, host) && crate::xen_computer_system::is_virtual_system(vm))
        .map(|vm| {
            let now = tables.deref("vm_metrics", vm, "metrics").and_then(|m| m.int("VCPUs_number")).filter(|n| *n > 0);
            uint(now.or_else(|| vm.int("VCPUs_at_startup")))
        })
        .sum()
}

/// True when `vm.resident_on` is `host` (the host's resident_VMs may lag behind).
fn resident_on_host(tables: &Tables, vm: &ObjectRecord, host: &ObjectRecord) -> bool {
    tables.deref("host", vm, "resident_on").is_some_and(|h| h.str("uuid") == host.str("uuid"))
}

/// The (ref, source record) of the pool `op` names.
pub fn find<'t>(tables: &'t Tables, kind: PoolKind, op: &ObjectPath) -> Option<(&'t String, &'t ObjectRecord)> {
    let id = string_key(op, "InstanceID").ok()?;
    tables.by_uuid(kind.source(), kind.uuid_of(&id)?)
}

/// The instance provider of one pool class.
pub struct PoolProvider {
    kind: PoolKind,
    backend: BackendRef,
}

impl PoolProvider {
    pub fn new(kind: PoolKind) -> PoolProvider {
        PoolProvider { kind, backend: BackendRef::acquire() }
    }

}

impl Provider for PoolProvider {
    fn instance(&self) -> Option<&dyn InstanceProvider> {
        Some(self)
    }
}

impl InstanceProvider for PoolProvider {
    fn enumerate_instances(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        let tables = self.backend.tables()?;
        let ns = namespace_of(op);
        let mut src: Vec<&ObjectRecord> = tables.iter(self.kind.source()).map(|(_, r)| r).collect();
        src.sort_unstable_by_key(|r| r.str("uuid"));
        Ok(src.into_iter().map(|r| instance(&ns, self.kind, r, &tables)).collect())
    }

    fn get_instance(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Instance, CmpiError> {
        let tables = self.backend.tables()?;
        find(&tables, self.kind, op).map(|(_, r)| instance(&namespace_of(op), self.kind, r, &tables)).ok_or_else(|| CmpiError::not_found(format!("no instance {op}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::test_records::{rec, s};
    use xenapi_client::Wire;


    #[test]
    fn ids_round_trip_and_do_not_mix_kinds() {
        for k in POOL_KINDS {
            assert_eq!(k.uuid_of(&k.instance_id("u")), Some("u"));
        }
        assert_eq!(PoolKind::Processor.uuid_of("Xen:u/MemoryPool"), None);
        assert_eq!(PoolKind::Storage.uuid_of("Xen:u/MemoryPool"), None);
        assert_eq!(PoolKind::Storage.uuid_of("Xen:"), None);
    }

    #[test]
    fn capacities_come_from_the_source_records() {
        let mut t = Tables::default();
        t.insert("host_metrics", "HM", rec("host_metrics", vec![("memory_total", s(&(1000u64 << 20).to_string())), ("memory_free", s(&((400u64 << 20) - 1).to_string()))]));
        let h = rec("host", vec![("uuid", s("h")), ("metrics", s("HM")), ("host_CPUs", Wire::Array(vec![s("C1"), s("C2")])), ("resident_VMs", Wire::Array(vec![s("V1"), s("V2"), s("DOM0")]))]);
        t.insert("host", "H", h.clone());
        t.insert("vm_metrics", "M1", rec("VM_metrics", vec![("VCPUs_number", s("3"))]));
        t.insert("vm", "V1", rec("VM", vec![("uuid", s("v1")), ("resident_on", s("H")), ("VCPUs_at_startup", s("1")), ("metrics", s("M1"))]));
        t.insert("vm", "V2", rec("VM", vec![("uuid", s("v2")), ("resident_on", s("H")), ("VCPUs_at_startup", s("2"))]));
        t.insert("vm", "DOM0", rec("VM", vec![("uuid", s("d")), ("resident_on", s("H")), ("VCPUs_at_startup", s("8")), ("is_control_domain", Wire::Bool(true))]));
        let p = instance("root/cimv2", PoolKind::Processor, &h, &t);
        assert_eq!(p.get("Capacity"), Some(&CimValue::Uint64(2)));
        assert_eq!(p.get("Reserved"), Some(&CimValue::Uint64(5)), "3 now running + 2 at startup; not dom0's");
        assert_eq!((p.get("ResourceType"), p.get("AllocationUnits")), (Some(&CimValue::Uint16(3)), Some(&CimValue::from("count"))));
        let m = instance("root/cimv2", PoolKind::Memory, &h, &t);
        assert_eq!((m.get("Capacity"), m.get("Reserved")), (Some(&CimValue::Uint64(1000)), Some(&CimValue::Uint64(601))), "MiB, used rounded up");
        assert_eq!(m.get("AllocationUnits"), Some(&CimValue::from(crate::xen_rasd::MEMORY_UNITS)), "the memory RASDs' units");
        let sr = rec("SR", vec![("uuid", s("sr")), ("name_label", s("Local")), ("type", s("file")), ("physical_size", s("50")), ("physical_utilisation", s("5"))]);
        let st = instance("root/cimv2", PoolKind::Storage, &sr, &t);
        assert_eq!(st.path, path("root/cimv2", PoolKind::Storage, "sr"));
        assert_eq!(st.get("InstanceID"), Some(&CimValue::from("Xen:sr")));
        assert_eq!(st.get("ResourceType"), Some(&CimValue::Uint16(19)));
        assert_eq!(st.get("Primordial"), Some(&CimValue::Boolean(true)));
        assert_eq!(st.get("AllocationUnits"), Some(&CimValue::from("byte")), "the disk RASDs' units");
        let iso = rec("SR", vec![("uuid", s("iso")), ("content_type", s("iso"))]);
        assert_eq!(instance("root/cimv2", PoolKind::Storage, &iso, &t).get("ResourceType"), Some(&CimValue::Uint16(16)));
    }
}
