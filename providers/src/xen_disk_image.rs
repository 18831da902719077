//! `Xen_DiskImage` (CIM_StorageExtent): a VDI, the storage a virtual disk or a CD is based on
//! (xs-cim-model.md §2.3), scoped by its SR:
//!
//! ```text
//! Xen_DiskImage.SystemCreationClassName="Xen_StoragePool",SystemName="<SR uuid>",
//!               CreationClassName="Xen_DiskImage",DeviceID="Xen:<SR uuid>/<VDI uuid>"
//! ```
//!
//! Served from the cache. A GetInstance goes SR → `SR.VDIs`, never through every VDI; the
//! associations reach an image from a VBD (`VBD.VDI`) or an SR (`SR.VDIs`).

use crate::backend::BackendRef;
use crate::cache::Tables;
use crate::util::*;
use crate::xen_resource_pool::PoolKind;
use cmpi_shim::provider::{Context, InstanceProvider, Provider};
use cmpi_shim::{CimValue, CmpiError, Instance, ObjectPath};
use xenapi_client::ObjectRecord;

pub const CLASS: &str = "Xen_DiskImage";

pub fn device_id(sr_uuid: &str, vdi_uuid: &str) -> String {
    format!("Xen:{sr_uuid}/{vdi_uuid}")
}

pub fn path(ns: &str, sr_uuid: &str, vdi_uuid: &str) -> ObjectPath {
    ObjectPath::new(ns, CLASS)
        .with_key("SystemCreationClassName", PoolKind::Storage.class())
        .with_key("SystemName", sr_uuid)
        .with_key("CreationClassName", CLASS)
        .with_key("DeviceID", device_id(sr_uuid, vdi_uuid))
}

/// The image of `vdi`, which lives in `sr`.
pub fn instance(ns: &str, vdi: &ObjectRecord, sr: &ObjectRecord) -> Instance {
    let (sr_uuid, vdi_uuid) = (sr.str("uuid"), vdi.str("uuid"));
    let size = vdi.int("virtual_size").and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
    let read_only = vdi.bool("read_only").unwrap_or(false) || sr.str("content_type") == "iso";
    Instance::new(path(ns, sr_uuid, vdi_uuid))
        .with("SystemCreationClassName", PoolKind::Storage.class())
        .with("SystemName", sr_uuid)
        .with("CreationClassName", CLASS)
        .with("DeviceID", device_id(sr_uuid, vdi_uuid))
        .with("Name", vdi_uuid)
        .with("ElementName", vdi.str("name_label"))
        .with("Description", vdi.str("name_description"))
        .with("Purpose", "Xen virtual disk image (VDI)")
        .with("Access", CimValue::Uint16(if read_only { 1 } else { 3 }))
        .with("BlockSize", CimValue::Uint64(1))
        .with("NumberOfBlocks", CimValue::Uint64(size))
        .with("ConsumableBlocks", CimValue::Uint64(size))
        .with("Primordial", false)
        .with("EnabledState", CimValue::Uint16(2))
        .with("OperationalStatus", u16_array(&[2]))
        .with("HealthState", CimValue::Uint16(5))
}

/// The (VDI, SR) records of the image `vdi_ref` (a VBD's `VDI` field, say), if both are cached.
pub fn of_vdi_ref<'t>(tables: &'t Tables, vdi_ref: &str) -> Option<(&'t ObjectRecord, &'t ObjectRecord)> {
    let vdi = tables.get("vdi", vdi_ref)?;
    let sr = tables.deref("sr", vdi, "SR")?;
    Some((vdi, sr))
}

/// The images of an SR (`SR.VDIs`), by uuid.
pub fn of_sr<'t>(tables: &'t Tables, sr: &ObjectRecord) -> Vec<&'t ObjectRecord> {
    let mut v: Vec<&ObjectRecord> = string_set(sr, "VDIs").iter().filter_map(|r| tables.get("vdi", r)).collect();
    v.sort_unstable_by_key(|v| v.str("uuid"));
    v
}

/// The (VDI, SR) records `op` names: its SR by uuid, then the VDI among that SR's VDIs.
pub fn find<'t>(tables: &'t Tables, op: &ObjectPath) -> Option<(&'t ObjectRecord, &'t ObjectRecord)> {
    match op.key("SystemCreationClassName") {
        None => {}
        Some(CimValue::String(s)) if s.eq_ignore_ascii_case(PoolKind::Storage.class()) => {}
        Some(_) => return None,
    }
    let sr_uuid = string_key(op, "SystemName").ok()?;
    let id = string_key(op, "DeviceID").ok()?;
    let vdi_uuid = id.strip_prefix(&format!("Xen:{sr_uuid}/"))?;
    let (_, sr) = tables.by_uuid("sr", &sr_uuid)?;
    let vdi = of_sr(tables, sr).into_iter().find(|v| v.str("uuid") == vdi_uuid)?;
    Some((vdi, sr))
}

pub struct DiskImageProvider {
    backend: BackendRef,
}

impl DiskImageProvider {
    pub fn new() -> DiskImageProvider {
        DiskImageProvider { backend: BackendRef::acquire() }
    }

}

impl Default for DiskImageProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl Provider for DiskImageProvider {
    fn instance(&self) -> Option<&dyn InstanceProvider> {
        Some(self)
    }
}

impl InstanceProvider for DiskImageProvider {
    fn enumerate_instances(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        let tables = self.backend.tables()?;
        let ns = namespace_of(op);
        let mut srs: Vec<&ObjectRecord> = tables.iter("sr").map(|(_, r)| r).collect();
        srs.sort_unstable_by_key(|r| r.str("uuid"));
        Ok(srs.into_iter().flat_map(|sr| of_sr(&tables, sr).into_iter().map(|v| instance(&ns, v, sr)).collect::<Vec<_>>()).collect())
    }

    fn get_instance(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Instance, CmpiError> {
        check_creation_class(op, CLASS)?;
        let tables = self.backend.tables()?;
        find(&tables, op).map(|(v, sr)| instance(&namespace_of(op), v, sr)).ok_or_else(|| CmpiError::not_found(format!("no instance {op}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::test_records::{rec, s};
    use xenapi_client::Wire;

    #[test]
    fn images_are_found_through_their_sr() {
        let mut t = Tables::default();
        t.insert("sr", "S", rec("SR", vec![("uuid", s("sr")), ("VDIs", Wire::Array(vec![s("D2"), s("D1")]))]));
        t.insert("sr", "ISO", rec("SR", vec![("uuid", s("iso")), ("content_type", s("iso")), ("VDIs", Wire::Array(vec![s("D3")]))]));
        t.insert("vdi", "D1", rec("VDI", vec![("uuid", s("a")), ("SR", s("S")), ("virtual_size", s("100")), ("name_label", s("root"))]));
        t.insert("vdi", "D2", rec("VDI", vec![("uuid", s("b")), ("SR", s("S"))]));
        t.insert("vdi", "D3", rec("VDI", vec![("uuid", s("c")), ("SR", s("ISO"))]));
        let sr = t.get("sr", "S").unwrap();
        assert_eq!(of_sr(&t, sr).iter().map(|v| v.str("uuid")).collect::<Vec<_>>(), ["a", "b"]);
        let (vdi, sr) = find(&t, &path("root/cimv2", "sr", "a")).unwrap();
        let i = instance("root/cimv2", vdi, sr);
        assert_eq!(i.path, path("root/cimv2", "sr", "a"));
        assert_eq!(i.get("DeviceID"), Some(&CimValue::from("Xen:sr/a")));
        assert_eq!(i.get("NumberOfBlocks"), Some(&CimValue::Uint64(100)));
        assert_eq!(i.get("Access"), Some(&CimValue::Uint16(3)));
        assert!(find(&t, &path("root/cimv2", "iso", "a")).is_none(), "a is not in the ISO SR");
        let (vdi, sr) = of_vdi_ref(&t, "D3").unwrap();
        assert_eq!(instance("root/cimv2", vdi, sr).get("Access"), Some(&CimValue::Uint16(1)));
        assert!(of_vdi_ref(&t, "OpaqueRef:NULL").is_none());
    }
}
