//! The physical devices of a host (xs-cim-model.md §2.3, host-side): `Xen_HostProcessor` (one
//! per `host_cpu`), `Xen_HostMemory` (one per host, from `host_metrics`) and
//! `Xen_HostNetworkPort` (one per PIF). Keys as every CIM_LogicalDevice:
//!
//! ```text
//! Xen_HostProcessor.SystemCreationClassName="Xen_HostComputerSystem",SystemName="<host uuid>",
//!                   CreationClassName="Xen_HostProcessor",DeviceID="Xen:<host uuid>/<host_cpu uuid>"
//! Xen_HostMemory      ... DeviceID="Xen:<host uuid>/Memory"
//! Xen_HostNetworkPort ... DeviceID="Xen:<host uuid>/<PIF uuid>"
//! ```
//!
//! Served from the cache, through the host's own references (`host_CPUs`, `metrics`, `PIFs`).
//! They are the members of the primordial pools (`Xen_ConcreteComponent`).

use crate::backend::BackendRef;
use crate::cache::Tables;
use crate::util::*;
use crate::xen_device::permanent_address;
use crate::xen_host_computer_system as host;
use cmpi_shim::provider::{Context, InstanceProvider, Provider};
use cmpi_shim::{CimValue, CmpiError, Instance, ObjectPath};
use xenapi_client::ObjectRecord;

/// The three host device classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostKind {
    Processor,
    Memory,
    NetworkPort,
}

pub const HOST_KINDS: [HostKind; 3] = [HostKind::Processor, HostKind::Memory, HostKind::NetworkPort];

impl HostKind {
    pub fn class(self) -> &'static str {
        match self {
            HostKind::Processor => "Xen_HostProcessor",
            HostKind::Memory => "Xen_HostMemory",
            HostKind::NetworkPort => "Xen_HostNetworkPort",
        }
    }

    pub fn of_class(class: &str) -> Option<HostKind> {
        HOST_KINDS.into_iter().find(|k| k.class().eq_ignore_ascii_case(class))
    }
}

pub fn path(ns: &str, kind: HostKind, host_uuid: &str, device_id: &str) -> ObjectPath {
    ObjectPath::new(ns, kind.class())
        .with_key("SystemCreationClassName", host::CLASS)
        .with_key("SystemName", host_uuid)
        .with_key("CreationClassName", kind.class())
        .with_key("DeviceID", device_id)
}

fn base(ns: &str, kind: HostKind, host_uuid: &str, item: &str, enabled: bool) -> Instance {
    let id = format!("Xen:{host_uuid}/{item}");
    let (enabled_state, op_status) = if enabled { (2u16, 2u16) } else { (3, 10) };
    Instance::new(path(ns, kind, host_uuid, &id))
        .with("SystemCreationClassName", host::CLASS)
        .with("SystemName", host_uuid)
        .with("CreationClassName", kind.class())
        .with("DeviceID", id)
        .with("EnabledState", CimValue::Uint16(enabled_state))
        .with("OperationalStatus", u16_array(&[op_status]))
        .with("HealthState", CimValue::Uint16(5))
}

fn uint(v: Option<i64>) -> u64 {
    v.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

/// The `host_cpu` records of a host, by number.
pub fn host_cpus<'t>(tables: &'t Tables, h: &ObjectRecord) -> Vec<&'t ObjectRecord> {
    let mut v: Vec<&ObjectRecord> = string_set(h, "host_CPUs").iter().filter_map(|r| tables.get("host_cpu", r)).collect();
    v.sort_unstable_by_key(|c| (c.int("number").unwrap_or(i64::MAX), c.str("uuid")));
    v
}

/// The PIF (ref, record)s of a host, by device name.
pub fn host_pifs<'t>(tables: &'t Tables, h: &ObjectRecord) -> Vec<(&'t String, &'t ObjectRecord)> {
    let mut v: Vec<(&String, &ObjectRecord)> = string_set(h, "PIFs").iter().filter_map(|r| tables.entry("pif", r)).collect();
    v.sort_unstable_by_key(|(_, p)| (p.str("device"), p.str("uuid")));
    v
}

pub fn processor(ns: &str, host_uuid: &str, cpu: &ObjectRecord) -> Instance {
    let speed = u32::try_from(cpu.int("speed").unwrap_or(0)).unwrap_or(0);
    let mut i = base(ns, HostKind::Processor, host_uuid, cpu.str("uuid"), true)
        .with("Name", cpu.str("modelname"))
        .with("ElementName", format!("CPU{}", cpu.int("number").unwrap_or(0)))
        .with("Description", format!("{} {}", cpu.str("vendor"), cpu.str("modelname")))
        .with("Role", "Central Processor")
        .with("CurrentClockSpeed", CimValue::Uint32(speed))
        .with("MaxClockSpeed", CimValue::Uint32(speed));
    if let Some(xenapi_model::Value::Float(u)) = cpu.get("utilisation") {
        i.set("LoadPercentage", CimValue::Uint16((u * 100.0).round().clamp(0.0, 100.0) as u16));
    }
    i
}

pub fn memory(ns: &str, host_uuid: &str, metrics: Option<&ObjectRecord>) -> Instance {
    let (total, free) = metrics.map(|m| (uint(m.int("memory_total")), uint(m.int("memory_free")))).unwrap_or((0, 0));
    base(ns, HostKind::Memory, host_uuid, "Memory", true)
        .with("Name", "Memory")
        .with("ElementName", "Host memory")
        .with("BlockSize", CimValue::Uint64(1))
        .with("NumberOfBlocks", CimValue::Uint64(total))
        .with("ConsumableBlocks", CimValue::Uint64(free))
        .with("StartingAddress", CimValue::Uint64(0))
        .with("EndingAddress", CimValue::Uint64(total.saturating_sub(1)))
        .with("Primordial", true)
}

pub fn network_port(ns: &str, host_uuid: &str, pif: &ObjectRecord, tables: &Tables) -> Instance {
    let mut i = base(ns, HostKind::NetworkPort, host_uuid, pif.str("uuid"), pif.bool("currently_attached").unwrap_or(false))
        .with("Name", pif.str("device"))
        .with("ElementName", pif.str("device"))
        .with("PermanentAddress", permanent_address(pif.str("MAC")));
    let mut addresses = vec![pif.str("MAC").to_string()];
    if !pif.str("IP").is_empty() {
        addresses.push(pif.str("IP").to_string());
    }
    i.set("NetworkAddresses", string_array(&addresses));
    if let Some(mtu) = pif.int("MTU").filter(|m| *m > 0) {
        i.set("ActiveMaximumTransmissionUnit", CimValue::Uint64(mtu as u64));
    }
    if let Some(m) = tables.deref("pif_metrics", pif, "metrics") {
        i.set("Description", m.str("device_name"));
        // PIF_metrics.speed is in Mbit/s; CIM speeds are bits per second.
        if let Some(mbps) = m.int("speed").filter(|s| *s > 0) {
            i.set("Speed", CimValue::Uint64(mbps as u64 * 1_000_000));
        }
    }
    i
}

/// The devices of `kind` of host `h`, in a stable order.
pub fn devices(ns: &str, kind: HostKind, h: &ObjectRecord, tables: &Tables) -> Vec<Instance> {
    let uuid = h.str("uuid");
    match kind {
        HostKind::Processor => host_cpus(tables, h).into_iter().map(|c| processor(ns, uuid, c)).collect(),
        HostKind::Memory => vec![memory(ns, uuid, tables.deref("host_metrics", h, "metrics"))],
        HostKind::NetworkPort => host_pifs(tables, h).into_iter().map(|(_, p)| network_port(ns, uuid, p, tables)).collect(),
    }
}

/// The host (ref, record) a device path names.
pub fn owner<'t>(tables: &'t Tables, op: &ObjectPath) -> Option<(&'t String, &'t ObjectRecord)> {
    match op.key("SystemCreationClassName") {
        None => {}
        Some(CimValue::String(s)) if s.eq_ignore_ascii_case(host::CLASS) => {}
        Some(_) => return None,
    }
    tables.by_uuid("host", &string_key(op, "SystemName").ok()?)
}

/// The device `op` names, from the cache.
pub fn find(ns: &str, kind: HostKind, op: &ObjectPath, tables: &Tables) -> Option<Instance> {
    let id = string_key(op, "DeviceID").ok()?;
    let (_, h) = owner(tables, op)?;
    devices(ns, kind, h, tables).into_iter().find(|i| i.get("DeviceID").and_then(|d| d.as_str()) == Some(id.as_str()))
}

/// The instance provider of one host device class.
pub struct HostDeviceProvider {
    kind: HostKind,
    backend: BackendRef,
}

impl HostDeviceProvider {
    pub fn new(kind: HostKind) -> HostDeviceProvider {
        HostDeviceProvider { kind, backend: BackendRef::acquire() }
    }

}

impl Provider for HostDeviceProvider {
    fn instance(&self) -> Option<&dyn InstanceProvider> {
        Some(self)
    }
}

impl InstanceProvider for HostDeviceProvider {
    fn enumerate_instances(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        let tables = self.backend.tables()?;
        let ns = namespace_of(op);
        let mut hosts: Vec<&ObjectRecord> = tables.iter("host").map(|(_, h)| h).collect();
        hosts.sort_unstable_by_key(|h| h.str("uuid"));
        Ok(hosts.into_iter().flat_map(|h| devices(&ns, self.kind, h, &tables)).collect())
    }

    fn get_instance(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Instance, CmpiError> {
        check_creation_class(op, self.kind.class())?;
        let tables = self.backend.tables()?;
        find(&namespace_of(op), self.kind, op, &tables).ok_or_else(|| CmpiError::not_found(format!("no instance {op}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::test_records::{rec, s};
    use xenapi_client::Wire;

    fn sample() -> (Tables, ObjectRecord) {
        let mut t = Tables::default();
        t.insert("host_cpu", "C1", rec("host_cpu", vec![("uuid", s("cpu-1")), ("number", s("1")), ("speed", s("2400")), ("modelname", s("Xeon")), ("vendor", s("GenuineIntel"))]));
        t.insert("host_cpu", "C0", rec("host_cpu", vec![("uuid", s("cpu-0")), ("number", s("0")), ("speed", s("2400")), ("utilisation", Wire::Float(0.5))]));
        t.insert("host_metrics", "HM", rec("host_metrics", vec![("memory_total", s("1000")), ("memory_free", s("400"))]));
        t.insert("pif_metrics", "PM", rec("PIF_metrics", vec![("speed", s("10000")), ("device_name", s("82599ES"))]));
        t.insert("pif", "P1", rec("PIF", vec![("uuid", s("pif-1")), ("device", s("eth1")), ("MAC", s("02:16:3e:00:00:02"))]));
        t.insert("pif", "P0", rec("PIF", vec![("uuid", s("pif-0")), ("device", s("eth0")), ("MAC", s("02:16:3e:00:00:01")), ("IP", s("10.0.0.1")), ("MTU", s("1500")), ("metrics", s("PM")), ("currently_attached", Wire::Bool(true))]));
        let h = rec("host", vec![("uuid", s("h")), ("host_CPUs", Wire::Array(vec![s("C1"), s("C0")])), ("metrics", s("HM")), ("PIFs", Wire::Array(vec![s("P1"), s("P0"), s("OpaqueRef:gone")]))]);
        t.insert("host", "H", h.clone());
        (t, h)
    }

    fn ids(v: &[Instance]) -> Vec<&str> {
        v.iter().map(|i| i.get("DeviceID").and_then(|d| d.as_str()).unwrap()).collect()
    }

    #[test]
    fn processors_follow_host_cpus_by_number() {
        let (t, h) = sample();
        let p = devices("root/cimv2", HostKind::Processor, &h, &t);
        assert_eq!(ids(&p), ["Xen:h/cpu-0", "Xen:h/cpu-1"]);
        assert_eq!(p[0].get("LoadPercentage"), Some(&CimValue::Uint16(50)));
        assert_eq!(p[1].get("MaxClockSpeed"), Some(&CimValue::Uint32(2400)));
        assert_eq!(p[0].path, path("root/cimv2", HostKind::Processor, "h", "Xen:h/cpu-0"));
    }

    #[test]
    fn memory_and_ports_come_from_metrics_and_pifs() {
        let (t, h) = sample();
        let m = devices("root/cimv2", HostKind::Memory, &h, &t);
        assert_eq!(ids(&m), ["Xen:h/Memory"]);
        assert_eq!((m[0].get("NumberOfBlocks"), m[0].get("ConsumableBlocks")), (Some(&CimValue::Uint64(1000)), Some(&CimValue::Uint64(400))));
        let n = devices("root/cimv2", HostKind::NetworkPort, &h, &t);
        assert_eq!(ids(&n), ["Xen:h/pif-0", "Xen:h/pif-1"], "by device; dangling refs left out");
        assert_eq!(n[0].get("Speed"), Some(&CimValue::Uint64(10_000_000_000)));
        assert_eq!(n[0].get("NetworkAddresses"), Some(&string_array(&["02:16:3e:00:00:01", "10.0.0.1"])));
        assert_eq!(n[0].get("EnabledState"), Some(&CimValue::Uint16(2)));
        assert_eq!(n[1].get("EnabledState"), Some(&CimValue::Uint16(3)));
    }

    #[test]
    fn find_checks_the_owner() {
        let (t, _) = sample();
        assert!(find("root/cimv2", HostKind::NetworkPort, &path("root/cimv2", HostKind::NetworkPort, "h", "Xen:h/pif-1"), &t).is_some());
        assert!(find("root/cimv2", HostKind::NetworkPort, &path("root/cimv2", HostKind::NetworkPort, "x", "Xen:h/pif-1"), &t).is_none());
        assert!(find("root/cimv2", HostKind::Processor, &path("root/cimv2", HostKind::Processor, "h", "Xen:h/pif-1"), &t).is_none());
    }
}
