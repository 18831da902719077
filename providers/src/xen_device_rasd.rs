//! `Xen_DiskSettingData` (CIM_StorageAllocationSettingData) and `Xen_NetworkPortSettingData`
//! (CIM_EthernetPortAllocationSettingData): one RASD per VBD (disk or CD drive) and per VIF of
//! every VM record — guests, templates and snapshots, not control domains — so what DefineSystem
//! and AddResourceSettings made can be read back, changed and sent back (xs-cim-model.md §2.2).
//!
//! ```text
//! Xen_DiskSettingData.InstanceID="Xen:<vm uuid>/<vbd uuid>"         ResourceType 19 (disk) / 16 (CD)
//! Xen_NetworkPortSettingData.InstanceID="Xen:<vm uuid>/<vif uuid>"  ResourceType 33
//! ```
//!
//! Served from the cache: a VM's VBDs and VIFs are found through its `VBDs` / `VIFs` references,
//! the VDI, SR, network and PIF through theirs; an enumeration makes no XenAPI call. Every
//! property the VSMS methods read is output in the form they read it: PoolID = SR / network uuid,
//! HostExtentName = VDI uuid, VirtualQuantity in `AllocationUnits` (`"byte"`), Address = MAC.

use crate::backend::{Backend, BackendRef};
use crate::cache::Tables;
use crate::util::*;
use cmpi_shim::provider::{Context, InstanceProvider, Provider};
use cmpi_shim::{CimValue, CmpiError, Instance, ObjectPath};
use xenapi_client::ObjectRecord;

/// Which of the two classes a provider object serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Disk,
    Nic,
}

pub const KINDS: [Kind; 2] = [Kind::Disk, Kind::Nic];

impl Kind {
    pub fn class(self) -> &'static str {
        match self {
            Kind::Disk => "Xen_DiskSettingData",
            Kind::Nic => "Xen_NetworkPortSettingData",
        }
    }

    pub fn of_class(class: &str) -> Option<Kind> {
        KINDS.into_iter().find(|k| k.class().eq_ignore_ascii_case(class))
    }

    /// The cache table of the XenAPI object behind one RASD, and the VM field listing them.
    pub fn table(self) -> (&'static str, &'static str) {
        match self {
            Kind::Disk => ("vbd", "VBDs"),
            Kind::Nic => ("vif", "VIFs"),
        }
    }
}

/// A VM record that has device RASDs: anything but a control domain.
pub fn is_rasd_owner(vm: &ObjectRecord) -> bool {
    !vm.bool("is_control_domain").unwrap_or(false)
}

pub fn instance_id(vm_uuid: &str, device_uuid: &str) -> String {
    format!("Xen:{vm_uuid}/{device_uuid}")
}

/// The (owner, item) of a device InstanceID `Xen:<owner>/<item>`: the owner is the text between
/// `:` and the last `/`, as xs-cim parses it.
pub fn split_instance_id(id: &str) -> Option<(&str, &str)> {
    let (owner, item) = id.strip_prefix("Xen:")?.rsplit_once('/')?;
    (!owner.is_empty() && !item.is_empty()).then_some((owner, item))
}

pub fn path(ns: &str, kind: Kind, vm_uuid: &str, device_uuid: &str) -> ObjectPath {
    ObjectPath::new(ns, kind.class()).with_key("InstanceID", instance_id(vm_uuid, device_uuid))
}

/// The WBEM URI text of the `Xen_DiskImage` of a VDI, as HostResource[0] carries it (xs-cim
/// form: the storage pool is the system, DeviceID `Xen:<sr uuid>/<vdi uuid>`).
pub fn disk_image_uri(sr_uuid: &str, vdi_uuid: &str) -> String {
    format!(
        "root/cimv2:Xen_DiskImage.CreationClassName=\"Xen_DiskImage\",DeviceID=\"Xen:{sr_uuid}/{vdi_uuid}\",SystemCreationClassName=\"Xen_StoragePool\",SystemName=\"{sr_uuid}\""
    )
}

/// The VDI uuid of a HostResource entry written by [`disk_image_uri`] (the item of its DeviceID).
pub fn vdi_of_host_resource(uri: &str) -> Option<&str> {
    let at = uri.find("DeviceID=\"")? + "DeviceID=\"".len();
    let id = uri[at..].split('"').next()?;
    split_instance_id(id).map(|(_, vdi)| vdi)
}

fn uint(v: Option<i64>) -> u64 {
    v.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

/// The RASD of a VBD of type Disk (19) or CD (16); `None` for other VBD types (floppies).
pub fn disk(ns: &str, vm: &ObjectRecord, vbd: &ObjectRecord, tables: &Tables) -> Option<Instance> {
    let cd = match vbd_type(vbd)? {
        VbdType::Disk => false,
        VbdType::Cd => true,
        VbdType::Floppy => return None,
    };
    let vm_uuid = vm.str("uuid");
    let read_only = vbd_mode(vbd) == Some(VbdMode::Ro);
    let mut i = Instance::new(path(ns, Kind::Disk, vm_uuid, vbd.str("uuid")))
        .with("InstanceID", instance_id(vm_uuid, vbd.str("uuid")))
        .with("Caption", if cd { "CD drive of a Xen virtual machine" } else { "Disk of a Xen virtual machine" })
        .with("ResourceType", CimValue::Uint16(if cd { 16 } else { 19 }))
        .with("ResourceSubType", "DMTF:xen:vbd")
        .with("Access", CimValue::Uint16(if read_only { 1 } else { 3 }))
        .with("AddressOnParent", vbd.str("userdevice"))
        .with("Bootable", vbd.bool("bootable").unwrap_or(false))
        .with("ConsumerVisibility", CimValue::Uint16(3))
        .with("AutomaticAllocation", false)
        .with("AutomaticDeallocation", false)
        .with("VirtualResourceBlockSize", CimValue::Uint64(1))
        .with("HostResourceBlockSize", CimValue::Uint64(1));
    let vdi = tables.deref("vdi", vbd, "VDI").filter(|_| !vbd.bool("empty").unwrap_or(false));
    match vdi {
        Some(vdi) => {
            let size = uint(vdi.int("virtual_size"));
            let sharable = vdi.bool("sharable").unwrap_or(false);
            i.set("ElementName", vdi.str("name_label"));
            i.set("Description", vdi.str("name_description"));
            i.set("AllocationUnits", "byte");
            i.set("VirtualQuantityUnits", "byte");
            for p in ["VirtualQuantity", "Reservation", "Limit"] {
                i.set(p, CimValue::Uint64(size));
            }
            i.set("HostExtentName", vdi.str("uuid"));
            i.set("HostExtentNameFormat", CimValue::Uint16(1));
            i.set("OtherHostExtentNameFormat", "Xen VDI UUID");
            i.set("HostExtentNameNamespace", CimValue::Uint16(1));
            i.set("OtherHostExtentNameNamespace", "Xen UUID");
            i.set("MappingBehavior", CimValue::Uint16(if sharable { 4 } else { 2 }));
            if let Some(sr) = tables.deref("sr", vdi, "SR") {
                i.set("PoolID", sr.str("uuid"));
                i.set("HostResource", string_array(&[disk_image_uri(sr.str("uuid"), vdi.str("uuid"))]));
            }
        }
        None => {
            // An empty CD drive: no medium, nothing allocated.
            i.set("ElementName", if cd { "empty CD drive" } else { "disk without a VDI" });
            i.set("AllocationUnits", "count");
            i.set("VirtualQuantityUnits", "count");
            i.set("VirtualQuantity", CimValue::Uint64(0));
        }
    }
    Some(i)
}

/// The RASD of a VIF.
pub fn nic(ns: &str, vm: &ObjectRecord, vif: &ObjectRecord, tables: &Tables) -> Instance {
    let vm_uuid = vm.str("uuid");
    let mut i = Instance::new(path(ns, Kind::Nic, vm_uuid, vif.str("uuid")))
        .with("InstanceID", instance_id(vm_uuid, vif.str("uuid")))
        .with("Caption", "Network interface of a Xen virtual machine")
        .with("ResourceType", CimValue::Uint16(33))
        .with("ResourceSubType", "DMTF:xen:vif")
        .with("Address", vif.str("MAC"))
        .with("AutoGeneratedMAC", vif.bool("MAC_autogenerated").unwrap_or(false))
        .with("AddressOnParent", vif.str("device"))
        .with("ConsumerVisibility", CimValue::Uint16(3))
        .with("AutomaticAllocation", true)
        .with("AutomaticDeallocation", true)
        .with("AllocationUnits", "count")
        .with("VirtualQuantityUnits", "count")
        .with("VirtualQuantity", CimValue::Uint64(1))
        .with("Reservation", CimValue::Uint64(1))
        .with("Limit", CimValue::Uint64(1))
        .with("MappingBehavior", CimValue::Uint16(2));
    if let Some(mtu) = vif.int("MTU").filter(|m| *m > 0) {
        i.set("MTU", CimValue::Uint64(mtu as u64));
    }
    if let Some(net) = tables.deref("network", vif, "network") {
        i.set("PoolID", net.str("uuid"));
        i.set("ElementName", net.str("bridge"));
        i.set("Description", net.str("name_label"));
        // The physical interface behind the network (the first PIF, as xs-cim), and its VLAN.
        let mut pifs: Vec<&ObjectRecord> = string_set(net, "PIFs").iter().filter_map(|r| tables.get("pif", r)).collect();
        pifs.sort_unstable_by_key(|p| p.str("uuid"));
        if let Some(pif) = pifs.first() {
            i.set("HostResource", string_array(&[pif.str("device")]));
            if let Some(vlan) = pif.int("VLAN").filter(|v| (0..4096).contains(v)) {
                i.set("VlanTag", CimValue::Uint16(vlan as u16));
            }
        }
    }
    i
}

/// The RASDs of `kind` of one VM record, in device order.
pub fn of_vm(ns: &str, kind: Kind, vm: &ObjectRecord, tables: &Tables) -> Vec<Instance> {
    let (table, field) = kind.table();
    let order = |r: &ObjectRecord| {
        let d = if kind == Kind::Disk { r.str("userdevice") } else { r.str("device") };
        (d.parse::<u32>().unwrap_or(u32::MAX), r.str("uuid").to_string())
    };
    let mut devs: Vec<&ObjectRecord> = string_set(vm, field).iter().filter_map(|r| tables.get(table, r)).collect();
    devs.sort_unstable_by_key(|r| order(r));
    devs.into_iter()
        .filter_map(|d| match kind {
            Kind::Disk => disk(ns, vm, d, tables),
            Kind::Nic => Some(nic(ns, vm, d, tables)),
        })
        .collect()
}

/// The VM record and the VBD / VIF record an InstanceID names, checked against each other (the
/// device must be the VM's own).
pub fn find<'t>(tables: &'t Tables, kind: Kind, id: &str) -> Option<(&'t String, &'t ObjectRecord, &'t String, &'t ObjectRecord)> {
    let (vm_uuid, dev_uuid) = split_instance_id(id)?;
    let (vm_ref, vm) = tables.by_uuid("vm", vm_uuid).filter(|(_, vm)| is_rasd_owner(vm))?;
    let (table, field) = kind.table();
    let (dev_ref, dev) = string_set(vm, field).iter().filter_map(|r| tables.entry(table, r)).find(|(_, d)| d.str("uuid") == dev_uuid)?;
    (dev.str("VM") == vm_ref.as_str()).then_some((vm_ref, vm, dev_ref, dev))
}

/// The RASD `id` names, from the cache.
pub fn get(ns: &str, kind: Kind, id: &str, tables: &Tables) -> Option<Instance> {
    let (_, vm, _, dev) = find(tables, kind, id)?;
    match kind {
        Kind::Disk => disk(ns, vm, dev, tables),
        Kind::Nic => Some(nic(ns, vm, dev, tables)),
    }
}

/// Every VM record with RASDs, by uuid.
pub fn owners(tables: &Tables) -> Vec<&ObjectRecord> {
    let mut vms: Vec<&ObjectRecord> = tables.iter("vm").map(|(_, vm)| vm).filter(|vm| is_rasd_owner(vm)).collect();
    vms.sort_unstable_by_key(|vm| vm.str("uuid"));
    vms
}

pub struct DeviceRasdProvider {
    kind: Kind,
    backend: BackendRef,
}

impl DeviceRasdProvider {
    pub fn new(kind: Kind) -> DeviceRasdProvider {
        DeviceRasdProvider { kind, backend: BackendRef::acquire() }
    }

    fn backend(&self) -> Result<std::sync::Arc<Backend>, CmpiError> {
        self.backend.get().map_err(CmpiError::failed)
    }
}

impl Provider for DeviceRasdProvider {
    fn instance(&self) -> Option<&dyn InstanceProvider> {
        Some(self)
    }
}

impl InstanceProvider for DeviceRasdProvider {
    fn enumerate_instances(&self, _ctx: &Context, op: &ObjectPath, _properties: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        let tables = self.backend()?.tables().map_err(CmpiError::failed)?;
        let ns = namespace_of(op);
        Ok(owners(&tables).into_iter().flat_map(|vm| of_vm(&ns, self.kind, vm, &tables)).collect())
    }

    fn enumerate_instance_names(&self, ctx: &Context, op: &ObjectPath) -> Result<Vec<ObjectPath>, CmpiError> {
        Ok(self.enumerate_instances(ctx, op, None)?.into_iter().map(|i| i.path).collect())
    }

    fn get_instance(&self, _ctx: &Context, op: &ObjectPath, _properties: Option<&[String]>) -> Result<Instance, CmpiError> {
        let id = string_key(op, "InstanceID")?;
        let tables = self.backend()?.tables().map_err(CmpiError::failed)?;
        get(&namespace_of(op), self.kind, &id, &tables).ok_or_else(|| CmpiError::not_found(format!("no {} with InstanceID {id:?}", self.kind.class())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::test_records::{rec, s};
    use xenapi_client::Wire;

    /// VM V (uuid v) with disk B1 on VDI D1 in SR S, an empty CD B2, and VIF F1 on network N.
    pub(crate) fn tables() -> Tables {
        let mut t = Tables::default();
        t.insert("sr", "S", rec("SR", vec![("uuid", s("sr-u"))]));
        t.insert("vdi", "D1", rec("VDI", vec![("uuid", s("vdi-u")), ("name_label", s("root")), ("virtual_size", s("1073741824")), ("SR", s("S"))]));
        t.insert("vbd", "B1", rec("VBD", vec![("uuid", s("vbd-1")), ("VM", s("V")), ("VDI", s("D1")), ("type", s("Disk")), ("mode", s("RW")), ("userdevice", s("0")), ("bootable", Wire::Bool(true))]));
        t.insert("vbd", "B2", rec("VBD", vec![("uuid", s("vbd-2")), ("VM", s("V")), ("VDI", s("OpaqueRef:NULL")), ("type", s("CD")), ("mode", s("RO")), ("userdevice", s("3")), ("empty", Wire::Bool(true))]));
        t.insert("pif", "P", rec("PIF", vec![("uuid", s("pif-u")), ("device", s("eth0")), ("VLAN", s("-1"))]));
        t.insert("network", "N", rec("network", vec![("uuid", s("net-u")), ("bridge", s("xenbr0")), ("name_label", s("Pool-wide")), ("PIFs", Wire::Array(vec![s("P")]))]));
        t.insert("vif", "F1", rec("VIF", vec![("uuid", s("vif-1")), ("VM", s("V")), ("network", s("N")), ("MAC", s("02:00:00:00:00:01")), ("device", s("0")), ("MTU", s("1500"))]));
        t.insert("vm", "V", rec("VM", vec![("uuid", s("v")), ("VBDs", Wire::Array(vec![s("B2"), s("B1")])), ("VIFs", Wire::Array(vec![s("F1")])), ("is_a_template", Wire::Bool(true))]));
        t.insert("vm", "DOM0", rec("VM", vec![("uuid", s("dom0")), ("is_control_domain", Wire::Bool(true))]));
        t
    }

    #[test]
    fn instance_ids_and_host_resources_round_trip() {
        assert_eq!(split_instance_id("Xen:v/vbd-1"), Some(("v", "vbd-1")));
        assert_eq!(split_instance_id("Xen:a/b/c"), Some(("a/b", "c")));
        assert_eq!(split_instance_id("Xen:v"), None);
        assert_eq!(split_instance_id("v/x"), None);
        assert_eq!(vdi_of_host_resource(&disk_image_uri("sr", "vdi")), Some("vdi"));
        assert_eq!(vdi_of_host_resource("Xen_DiskImage.DeviceID=\"Xen:sr/vdi2\""), Some("vdi2"));
        assert_eq!(vdi_of_host_resource("nonsense"), None);
    }

    #[test]
    fn disks_cds_and_nics_of_a_template() {
        let t = tables();
        let vm = t.get("vm", "V").unwrap();
        let disks = of_vm("root/cimv2", Kind::Disk, vm, &t);
        assert_eq!(disks.len(), 2);
        let d = &disks[0];
        assert_eq!(d.get("InstanceID"), Some(&CimValue::from("Xen:v/vbd-1")), "ordered by userdevice");
        assert_eq!(d.get("ResourceType"), Some(&CimValue::Uint16(19)));
        assert_eq!(d.get("VirtualQuantity"), Some(&CimValue::Uint64(1 << 30)));
        assert_eq!(d.get("PoolID"), Some(&CimValue::from("sr-u")));
        assert_eq!(d.get("HostExtentName"), Some(&CimValue::from("vdi-u")));
        assert_eq!(d.get("Access"), Some(&CimValue::Uint16(3)));
        assert_eq!(d.get("Bootable"), Some(&CimValue::Boolean(true)));
        let cd = &disks[1];
        assert_eq!(cd.get("ResourceType"), Some(&CimValue::Uint16(16)));
        assert_eq!(cd.get("PoolID"), None);
        assert_eq!(cd.get("Access"), Some(&CimValue::Uint16(1)));
        let nics = of_vm("root/cimv2", Kind::Nic, vm, &t);
        assert_eq!(nics.len(), 1);
        assert_eq!(nics[0].get("Address"), Some(&CimValue::from("02:00:00:00:00:01")));
        assert_eq!(nics[0].get("PoolID"), Some(&CimValue::from("net-u")));
        assert_eq!(nics[0].get("HostResource"), Some(&string_array(&["eth0"])));
        assert_eq!(nics[0].get("VlanTag"), None, "VLAN -1: none");
        assert!(get("root/cimv2", Kind::Nic, "Xen:v/vif-1", &t).is_some());
        assert!(get("root/cimv2", Kind::Nic, "Xen:v/vbd-1", &t).is_none(), "a VBD is not a NIC");
        assert!(get("root/cimv2", Kind::Disk, "Xen:dom0/vbd-1", &t).is_none(), "another VM's device");
        assert_eq!(owners(&t).len(), 1, "not the control domain");
    }
}
