//! `Xen_HostPool` (CIM_SystemSpecificCollection): the XenAPI pool, the collection of its hosts
//! (xs-cim-model.md §2.1). One per `pool` record; the hosts are its members through
//! `Xen_MemberOfCollection` (a XenAPI server holds exactly one pool, so every host is a member).
//!
//! ```text
//! Xen_HostPool.InstanceID="Xen:<pool uuid>"
//! ```
//!
//! xs-cim's pool methods (Create, AddHost, RemoveHost, HA, SetDefaultStoragePool) are not
//! served: the class is read-only here.

use crate::backend::BackendRef;
use crate::cache::Tables;
use crate::util::*;
use cmpi_shim::provider::{Context, InstanceProvider, Provider};
use cmpi_shim::{CmpiError, Instance, ObjectPath};
use xenapi_client::ObjectRecord;

pub const CLASS: &str = "Xen_HostPool";

pub fn path(ns: &str, uuid: &str) -> ObjectPath {
    ObjectPath::new(ns, CLASS).with_key("InstanceID", system_instance_id(uuid))
}

pub fn instance(ns: &str, pool: &ObjectRecord, tables: &Tables) -> Instance {
    let uuid = pool.str("uuid");
    let mut i = Instance::new(path(ns, uuid))
        .with("InstanceID", system_instance_id(uuid))
        .with("Caption", "Xen Host Pool")
        .with("ElementName", pool.str("name_label"))
        .with("Description", pool.str("name_description"))
        .with("HighAvailabilityEnabled", pool.bool("ha_enabled").unwrap_or(false));
    if let Some(h) = tables.deref("host", pool, "master") {
        i.set("Master", h.str("uuid"));
    }
    if let Some(sr) = tables.deref("sr", pool, "default_SR") {
        i.set("DefaultStoragePoolID", sr.str("uuid"));
    }
    i
}

/// The pool record `op` names.
pub fn find<'t>(tables: &'t Tables, op: &ObjectPath) -> Option<&'t ObjectRecord> {
    let id = string_key(op, "InstanceID").ok()?;
    let uuid = id.strip_prefix("Xen:")?;
    tables.by_uuid("pool", uuid).map(|(_, p)| p)
}

/// Every pool record, by uuid.
pub fn pools(tables: &Tables) -> Vec<&ObjectRecord> {
    let mut v: Vec<&ObjectRecord> = tables.iter("pool").map(|(_, p)| p).collect();
    v.sort_unstable_by_key(|p| p.str("uuid"));
    v
}

pub struct HostPoolProvider {
    backend: BackendRef,
}

impl HostPoolProvider {
    pub fn new() -> HostPoolProvider {
        HostPoolProvider { backend: BackendRef::acquire() }
    }

}

impl Default for HostPoolProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl Provider for HostPoolProvider {
    fn instance(&self) -> Option<&dyn InstanceProvider> {
        Some(self)
    }
}

impl InstanceProvider for HostPoolProvider {
    fn enumerate_instances(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        let tables = self.backend.tables()?;
        let ns = namespace_of(op);
        Ok(pools(&tables).into_iter().map(|p| instance(&ns, p, &tables)).collect())
    }

    fn get_instance(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Instance, CmpiError> {
        let tables = self.backend.tables()?;
        find(&tables, op).map(|p| instance(&namespace_of(op), p, &tables)).ok_or_else(|| CmpiError::not_found(format!("no instance {op}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::test_records::{rec, s};
    use cmpi_shim::CimValue;
    use xenapi_client::Wire;

    #[test]
    fn pool_names_its_master_and_default_sr_by_uuid() {
        let mut t = Tables::default();
        t.insert("host", "H", rec("host", vec![("uuid", s("h"))]));
        t.insert("sr", "S", rec("SR", vec![("uuid", s("sr"))]));
        let p = rec("pool", vec![("uuid", s("p")), ("name_label", s("lab")), ("master", s("H")), ("default_SR", s("S")), ("ha_enabled", Wire::Bool(false))]);
        t.insert("pool", "P", p.clone());
        let i = instance("root/cimv2", &p, &t);
        assert_eq!(i.path, path("root/cimv2", "p"));
        assert_eq!(i.get("InstanceID"), Some(&CimValue::from("Xen:p")));
        assert_eq!(i.get("Master"), Some(&CimValue::from("h")));
        assert_eq!(i.get("DefaultStoragePoolID"), Some(&CimValue::from("sr")));
        assert!(find(&t, &path("root/cimv2", "p")).is_some());
        assert!(find(&t, &path("root/cimv2", "q")).is_none());
    }
}
