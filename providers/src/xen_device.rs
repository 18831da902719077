//! The virtual devices of a guest VM (xs-cim-model.md §2.3): `Xen_Processor` (one per vCPU),
//! `Xen_Memory` (one per VM), `Xen_Disk` (one per VBD of type Disk), `Xen_DiskDrive` (one per
//! VBD of type CD) and `Xen_NetworkPort` (one per VIF). All five share the CIM_LogicalDevice
//! keys:
//!
//! ```text
//! Xen_Processor.SystemCreationClassName="Xen_ComputerSystem",SystemName="<vm uuid>",
//!               CreationClassName="Xen_Processor",DeviceID="Xen:<vm uuid>/VCPU0"
//! Xen_Memory    ... DeviceID="Xen:<vm uuid>/Memory"
//! Xen_Disk      ... DeviceID="Xen:<vm uuid>/<vbd uuid>"
//! Xen_DiskDrive ... DeviceID="Xen:<vm uuid>/<vbd uuid>"
//! Xen_NetworkPort ... DeviceID="Xen:<vm uuid>/<vif uuid>"
//! ```
//!
//! Served from the cache: a VM's disks and ports are found through its `VBDs` and `VIFs`
//! references, never by scanning every VBD or VIF. One provider type serves the five classes.

use crate::backend::BackendRef;
use crate::cache::Tables;
use crate::util::*;
use crate::xen_computer_system::{self as cs, is_virtual_system};
use cmpi_shim::provider::{Context, InstanceProvider, Provider};
use cmpi_shim::{CimValue, CmpiError, Instance, ObjectPath};
use xenapi_client::ObjectRecord;
use xenapi_model::Value;

/// The five device classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Processor,
    Memory,
    Disk,
    /// A CD drive (a VBD of type CD), empty or with an ISO's VDI in it.
    DiskDrive,
    NetworkPort,
}

pub const KINDS: [Kind; 5] = [Kind::Processor, Kind::Memory, Kind::Disk, Kind::DiskDrive, Kind::NetworkPort];

impl Kind {
    pub fn class(self) -> &'static str {
        match self {
            Kind::Processor => "Xen_Processor",
            Kind::Memory => "Xen_Memory",
            Kind::Disk => "Xen_Disk",
            Kind::DiskDrive => "Xen_DiskDrive",
            Kind::NetworkPort => "Xen_NetworkPort",
        }
    }

    /// The kind whose class is `class` (case-insensitive).
    pub fn of_class(class: &str) -> Option<Kind> {
        KINDS.into_iter().find(|k| k.class().eq_ignore_ascii_case(class))
    }
}

/// The `"Xen:<vm uuid>/<device>"` DeviceID form of xs-cim.
pub fn device_id(vm_uuid: &str, device: &str) -> String {
    format!("Xen:{vm_uuid}/{device}")
}

pub fn path(ns: &str, kind: Kind, vm_uuid: &str, device_id: &str) -> ObjectPath {
    ObjectPath::new(ns, kind.class())
        .with_key("SystemCreationClassName", cs::CLASS)
        .with_key("SystemName", vm_uuid)
        .with_key("CreationClassName", kind.class())
        .with_key("DeviceID", device_id)
}

/// A device instance with its keys and the state shared by every kind.
fn base(ns: &str, kind: Kind, vm_uuid: &str, id: &str, enabled: bool) -> Instance {
    let (enabled_state, op_status) = if enabled { (2u16, 2u16) } else { (3, 10) };
    Instance::new(path(ns, kind, vm_uuid, id))
        .with("SystemCreationClassName", cs::CLASS)
        .with("SystemName", vm_uuid)
        .with("CreationClassName", kind.class())
        .with("DeviceID", id)
        .with("EnabledState", CimValue::Uint16(enabled_state))
        .with("OperationalStatus", u16_array(&[op_status]))
        .with("HealthState", CimValue::Uint16(5))
}

fn uint(v: Option<i64>) -> u64 {
    v.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

/// `VM_metrics.VCPUs_utilisation[n]` (a fraction) as a percentage.
pub fn vcpu_load(metrics: Option<&ObjectRecord>, n: i64) -> Option<u16> {
    let Some(Value::Map(pairs)) = metrics?.get("VCPUs_utilisation") else { return None };
    pairs.iter().find(|(k, _)| k.as_int() == Some(n) || k.key_string() == n.to_string()).and_then(|(_, v)| match v {
        Value::Float(f) => Some((f * 100.0).round().clamp(0.0, 100.0) as u16),
        _ => None,
    })
}

/// A MAC address as CIM_NetworkPort.PermanentAddress wants it: 12 hex digits, no separators.
pub fn permanent_address(mac: &str) -> String {
    mac.chars().filter(|c| c.is_ascii_hexdigit()).collect::<String>().to_ascii_uppercase()
}

/// The devices of `kind` of the VM `vm`, in a stable order.
pub fn devices(ns: &str, kind: Kind, vm: &ObjectRecord, tables: &Tables) -> Vec<Instance> {
    let uuid = vm.str("uuid");
    let running = power_state(vm) == Some(VmPowerState::Running);
    let metrics = tables.deref("vm_metrics", vm, "metrics");
    match kind {
        Kind::Processor => (0..vm.int("VCPUs_max").unwrap_or(0).max(0))
            .map(|n| {
                let mut i = base(ns, kind, uuid, &device_id(uuid, &format!("VCPU{n}")), running)
                    .with("Name", uuid)
                    .with("ElementName", format!("VCPU{n}"))
                    .with("Role", "Virtual Processor");
                if let Some(load) = vcpu_load(metrics, n) {
                    i.set("LoadPercentage", CimValue::Uint16(load));
                }
                i
            })
            .collect(),
        Kind::Memory => {
            let size = uint(vm.int("memory_dynamic_max"));
            let mut i = base(ns, kind, uuid, &device_id(uuid, "Memory"), running)
                .with("Name", uuid)
                .with("ElementName", "Memory")
                .with("BlockSize", CimValue::Uint64(1))
                .with("NumberOfBlocks", CimValue::Uint64(size))
                .with("StartingAddress", CimValue::Uint64(0))
                .with("EndingAddress", CimValue::Uint64(size.saturating_sub(1)))
                .with("Primordial", false);
            if let Some(m) = metrics {
                i.set("ConsumableBlocks", CimValue::Uint64(uint(m.int("memory_actual"))));
            }
            vec![i]
        }
        Kind::Disk | Kind::DiskDrive => {
            let ty = if kind == Kind::Disk { VbdType::Disk } else { VbdType::Cd };
            let mut vbds: Vec<&ObjectRecord> = string_set(vm, "VBDs").iter().filter_map(|r| tables.get("vbd", r)).filter(|v| vbd_type(v) == Some(ty)).collect();
            vbds.sort_unstable_by_key(|v| (v.str("userdevice").parse::<u32>().unwrap_or(u32::MAX), v.str("uuid")));
            if kind == Kind::Disk {
                vbds.into_iter().map(|vbd| disk(ns, uuid, vbd, tables)).collect()
            } else {
                vbds.into_iter().map(|vbd| disk_drive(ns, uuid, vbd, tables)).collect()
            }
        }
        Kind::NetworkPort => {
            let mut vifs: Vec<&ObjectRecord> = string_set(vm, "VIFs").iter().filter_map(|r| tables.get("vif", r)).collect();
            vifs.sort_unstable_by_key(|v| (v.str("device").parse::<u32>().unwrap_or(u32::MAX), v.str("uuid")));
            vifs.into_iter().map(|vif| network_port(ns, uuid, vif, tables)).collect()
        }
    }
}

fn disk(ns: &str, vm_uuid: &str, vbd: &ObjectRecord, tables: &Tables) -> Instance {
    let name = if vbd.str("device").is_empty() { vbd.str("userdevice") } else { vbd.str("device") };
    let mut i = base(ns, Kind::Disk, vm_uuid, &device_id(vm_uuid, vbd.str("uuid")), vbd.bool("currently_attached").unwrap_or(false))
        .with("Name", name)
        .with("VBDType", vbd.str("type"))
        .with("Purpose", "Virtual Disk for a Xen Domain")
        .with("Access", CimValue::Uint16(if vbd_mode(vbd) == Some(VbdMode::Ro) { 1 } else { 3 }))
        .with("BlockSize", CimValue::Uint64(1))
        .with("Primordial", false);
    if let Some(vdi) = tables.deref("vdi", vbd, "VDI") {
        let size = uint(vdi.int("virtual_size"));
        i.set("ElementName", vdi.str("name_label"));
        i.set("Description", vdi.str("name_description"));
        i.set("VDIUuid", vdi.str("uuid"));
        i.set("NumberOfBlocks", CimValue::Uint64(size));
        i.set("ConsumableBlocks", CimValue::Uint64(size));
    } else {
        i.set("NumberOfBlocks", CimValue::Uint64(0));
    }
    i
}

/// A CD drive (CIM_DiskDrive): Capabilities 3 Random Access and 7 Supports Removable Media;
/// the VDI in it, if any, is named like a disk's.
fn disk_drive(ns: &str, vm_uuid: &str, vbd: &ObjectRecord, tables: &Tables) -> Instance {
    let name = if vbd.str("device").is_empty() { vbd.str("userdevice") } else { vbd.str("device") };
    let mut i = base(ns, Kind::DiskDrive, vm_uuid, &device_id(vm_uuid, vbd.str("uuid")), vbd.bool("currently_attached").unwrap_or(false))
        .with("Name", name)
        .with("ElementName", format!("CD drive {}", vbd.str("userdevice")))
        .with("Capabilities", u16_array(&[3, 7]))
        .with("CapabilityDescriptions", string_array(&["Random Access", "Supports Removable Media"]));
    if let Some(vdi) = tables.deref("vdi", vbd, "VDI") {
        i.set("VDIUuid", vdi.str("uuid"));
        i.set("Description", vdi.str("name_label"));
        i.set("MaxMediaSize", CimValue::Uint64(uint(vdi.int("virtual_size")) / 1024));
    }
    i
}

fn network_port(ns: &str, vm_uuid: &str, vif: &ObjectRecord, tables: &Tables) -> Instance {
    let mut i = base(ns, Kind::NetworkPort, vm_uuid, &device_id(vm_uuid, vif.str("uuid")), vif.bool("currently_attached").unwrap_or(false))
        .with("Name", vif.str("uuid"))
        .with("ElementName", format!("eth{}", vif.str("device")))
        .with("PermanentAddress", permanent_address(vif.str("MAC")))
        .with("NetworkAddresses", string_array(&[vif.str("MAC")]));
    if let Some(mtu) = vif.int("MTU").filter(|m| *m > 0) {
        i.set("ActiveMaximumTransmissionUnit", CimValue::Uint64(mtu as u64));
    }
    if let Some(net) = tables.deref("network", vif, "network") {
        i.set("NetworkUuid", net.str("uuid"));
        i.set("Description", net.str("name_label"));
    }
    i
}

/// The VM a device path names (its `SystemName`), if it is a virtual system.
pub fn owner<'t>(tables: &'t Tables, op: &ObjectPath) -> Option<(&'t String, &'t ObjectRecord)> {
    match op.key("SystemCreationClassName") {
        None => {}
        Some(CimValue::String(s)) if s.eq_ignore_ascii_case(cs::CLASS) => {}
        Some(_) => return None,
    }
    let uuid = match op.key("SystemName") {
        Some(CimValue::String(s)) => s,
        _ => return None,
    };
    tables.by_uuid("vm", uuid).filter(|(_, vm)| is_virtual_system(vm))
}

/// The device `op` names, from the cache.
pub fn find(ns: &str, kind: Kind, op: &ObjectPath, tables: &Tables) -> Option<Instance> {
    let id = match op.key("DeviceID") {
        Some(CimValue::String(s)) => s.clone(),
        _ => return None,
    };
    let (_, vm) = owner(tables, op)?;
    devices(ns, kind, vm, tables).into_iter().find(|i| i.get("DeviceID") == Some(&CimValue::String(id.clone())))
}

/// The instance provider of one device class.
pub struct DeviceProvider {
    kind: Kind,
    backend: BackendRef,
}

impl DeviceProvider {
    pub fn new(kind: Kind) -> DeviceProvider {
        DeviceProvider { kind, backend: BackendRef::acquire() }
    }

}

impl Provider for DeviceProvider {
    fn instance(&self) -> Option<&dyn InstanceProvider> {
        Some(self)
    }
}

impl InstanceProvider for DeviceProvider {
    fn enumerate_instances(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        let tables = self.backend.tables()?;
        let ns = namespace_of(op);
        let mut vms: Vec<&ObjectRecord> = tables.iter("vm").map(|(_, v)| v).filter(|v| is_virtual_system(v)).collect();
        vms.sort_unstable_by_key(|v| v.str("uuid"));
        Ok(vms.into_iter().flat_map(|vm| devices(&ns, self.kind, vm, &tables)).collect())
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


    /// A running VM with 2 vCPUs, a disk, a CD drive, a floppy (left out) and a NIC.
    pub(crate) fn sample() -> (Tables, ObjectRecord) {
        let mut t = Tables::default();
        t.insert("vdi", "VDI1", rec("VDI", vec![("uuid", s("vdi-1")), ("name_label", s("root")), ("virtual_size", s("1073741824"))]));
        t.insert("vbd", "B1", rec("VBD", vec![("uuid", s("vbd-1")), ("type", s("Disk")), ("userdevice", s("0")), ("device", s("xvda")), ("mode", s("RW")), ("VDI", s("VDI1")), ("currently_attached", Wire::Bool(true))]));
        t.insert("vbd", "B2", rec("VBD", vec![("uuid", s("vbd-2")), ("type", s("CD")), ("userdevice", s("3")), ("mode", s("RO")), ("VDI", s("OpaqueRef:NULL"))]));
        t.insert("vbd", "B3", rec("VBD", vec![("uuid", s("vbd-3")), ("type", s("Floppy")), ("userdevice", s("4"))]));
        t.insert("network", "N1", rec("network", vec![("uuid", s("net-1")), ("name_label", s("Pool-wide network"))]));
        t.insert("vif", "F1", rec("VIF", vec![("uuid", s("vif-1")), ("device", s("0")), ("MAC", s("aa:bb:cc:00:11:22")), ("MTU", s("1500")), ("network", s("N1"))]));
        t.insert("vm_metrics", "M", rec("VM_metrics", vec![("memory_actual", s("536870912")), ("VCPUs_utilisation", Wire::Struct(vec![("1".into(), Wire::Float(0.25))]))]));
        let vm = rec(
            "VM",
            vec![
                ("uuid", s("vm-1")),
                ("power_state", s("Running")),
                ("VCPUs_max", s("2")),
                ("memory_dynamic_max", s("1073741824")),
                ("metrics", s("M")),
                ("VBDs", Wire::Array(vec![s("B3"), s("B2"), s("B1"), s("OpaqueRef:gone")])),
                ("VIFs", Wire::Array(vec![s("F1")])),
            ],
        );
        t.insert("vm", "V1", vm.clone());
        (t, vm)
    }

    fn ids(v: &[Instance]) -> Vec<String> {
        v.iter().map(|i| i.get("DeviceID").and_then(|d| d.as_str()).unwrap().to_string()).collect()
    }

    #[test]
    fn processors_one_per_vcpu_with_their_load() {
        let (t, vm) = sample();
        let p = devices("root/cimv2", Kind::Processor, &vm, &t);
        assert_eq!(ids(&p), ["Xen:vm-1/VCPU0", "Xen:vm-1/VCPU1"]);
        assert_eq!(p[0].get("LoadPercentage"), None);
        assert_eq!(p[1].get("LoadPercentage"), Some(&CimValue::Uint16(25)));
        assert_eq!(p[0].path, path("root/cimv2", Kind::Processor, "vm-1", "Xen:vm-1/VCPU0"));
        assert_eq!(p[0].get("EnabledState"), Some(&CimValue::Uint16(2)));
    }

    #[test]
    fn memory_counts_bytes() {
        let (t, vm) = sample();
        let m = devices("root/cimv2", Kind::Memory, &vm, &t);
        assert_eq!(ids(&m), ["Xen:vm-1/Memory"]);
        assert_eq!(m[0].get("NumberOfBlocks"), Some(&CimValue::Uint64(1 << 30)));
        assert_eq!(m[0].get("ConsumableBlocks"), Some(&CimValue::Uint64(1 << 29)));
    }

    #[test]
    fn disks_follow_the_vms_vbds_of_type_disk_and_cd() {
        let (t, vm) = sample();
        let d = devices("root/cimv2", Kind::Disk, &vm, &t);
        assert_eq!(ids(&d), ["Xen:vm-1/vbd-1"], "floppy and dangling refs left out");
        let cd = devices("root/cimv2", Kind::DiskDrive, &vm, &t);
        assert_eq!(ids(&cd), ["Xen:vm-1/vbd-2"]);
        assert_eq!(cd[0].path.classname, "Xen_DiskDrive");
        assert_eq!(cd[0].get("VDIUuid"), None, "an empty CD drive");
        assert_eq!(cd[0].get("EnabledState"), Some(&CimValue::Uint16(3)));
        assert_eq!(d[0].get("Name"), Some(&CimValue::from("xvda")));
        assert_eq!(d[0].get("NumberOfBlocks"), Some(&CimValue::Uint64(1 << 30)));
        assert_eq!(d[0].get("VDIUuid"), Some(&CimValue::from("vdi-1")));
        assert_eq!(d[0].get("Access"), Some(&CimValue::Uint16(3)));
    }

    #[test]
    fn network_ports_follow_the_vms_vifs() {
        let (t, vm) = sample();
        let n = devices("root/cimv2", Kind::NetworkPort, &vm, &t);
        assert_eq!(ids(&n), ["Xen:vm-1/vif-1"]);
        assert_eq!(n[0].get("PermanentAddress"), Some(&CimValue::from("AABBCC001122")));
        assert_eq!(n[0].get("NetworkUuid"), Some(&CimValue::from("net-1")));
        assert_eq!(n[0].get("ActiveMaximumTransmissionUnit"), Some(&CimValue::Uint64(1500)));
    }

    #[test]
    fn find_checks_the_owner_and_the_device_id() {
        let (t, _) = sample();
        let p = path("root/cimv2", Kind::Disk, "vm-1", "Xen:vm-1/vbd-1");
        assert!(find("root/cimv2", Kind::Disk, &p, &t).is_some());
        assert!(find("root/cimv2", Kind::Disk, &path("root/cimv2", Kind::Disk, "vm-1", "Xen:vm-1/vbd-2"), &t).is_none(), "a CD drive");
        assert!(find("root/cimv2", Kind::DiskDrive, &path("root/cimv2", Kind::DiskDrive, "vm-1", "Xen:vm-1/vbd-2"), &t).is_some());
        assert!(find("root/cimv2", Kind::Disk, &path("root/cimv2", Kind::Disk, "vm-1", "Xen:vm-1/vbd-3"), &t).is_none());
        assert!(find("root/cimv2", Kind::Disk, &path("root/cimv2", Kind::Disk, "vm-2", "Xen:vm-1/vbd-1"), &t).is_none());
        let wrong_system = p.clone().with_key("SystemCreationClassName", "Xen_HostComputerSystem");
        let mut q = p;
        q.keys[0] = wrong_system.keys.last().unwrap().clone();
        assert!(find("root/cimv2", Kind::Disk, &q, &t).is_none());
        assert_eq!(Kind::of_class("xen_disk"), Some(Kind::Disk));
    }
}
