//! `Xen_ComputerSystemSettingData`: the virtual system settings (DSP1057 VSSD) of each guest VM,
//! keyed by `InstanceID = "Xen:<vm uuid>"` as in xs-cim. XenAPI keeps one record that is both the
//! state and the definition, so there is one VSSD per VM.
//!
//! ```text
//! Xen_ComputerSystemSettingData.InstanceID="Xen:<vm uuid>"
//! ```
//!
//! Read-only for now (ModifySystemSettings and DefineSystem belong to the management service);
//! the template and snapshot VSSD classes and the RASDs come later. Properties follow
//! `xs-cim-model.md` §2.2; the automatic-action mappings and the guest-metrics properties are not
//! there yet.

use crate::backend::BackendRef;
use crate::cache::Tables;
use crate::util::*;
use crate::xen_computer_system::is_virtual_system;
use cmpi_shim::provider::{Context, InstanceProvider, Provider};
use cmpi_shim::{CimValue, CmpiError, Instance, ObjectPath};
use xenapi_core::client::ObjectRecord;

pub const CLASS: &str = "Xen_ComputerSystemSettingData";

/// `"DMTF:Xen:HVM"` for HVM guests (a boot policy, or a boot order as xs-cim checks), else
/// `"DMTF:Xen:PV"`.
pub fn virtual_system_type(vm: &ObjectRecord) -> &'static str {
    if !vm.str("HVM_boot_policy").is_empty() || map_get(vm, "HVM_boot_params", "order").is_some() {
        "DMTF:Xen:HVM"
    } else {
        "DMTF:Xen:PV"
    }
}

/// The uuid in an InstanceID `"Xen:<uuid>"`.
pub fn uuid_of_instance_id(id: &str) -> Option<&str> {
    id.strip_prefix("Xen:").filter(|u| !u.is_empty() && !u.contains('/'))
}

pub fn path(ns: &str, uuid: &str) -> ObjectPath {
    ObjectPath::new(ns, CLASS).with_key("InstanceID", system_instance_id(uuid))
}

pub fn instance(ns: &str, vm: &ObjectRecord, tables: &Tables) -> Instance {
    let uuid = vm.str("uuid");
    let hvm = virtual_system_type(vm) == "DMTF:Xen:HVM";
    let mut i = Instance::new(path(ns, uuid))
        .with("InstanceID", system_instance_id(uuid))
        .with("Caption", "Active Settings of a Xen virtual machine")
        .with("ElementName", vm.str("name_label"))
        .with("Description", vm.str("name_description"))
        .with("VirtualSystemIdentifier", uuid)
        .with("VirtualSystemType", virtual_system_type(vm))
        .with("Platform", kv_array(vm, "platform"))
        .with("Other_Config", kv_array(vm, "other_config"));
    if hvm {
        i.set("HVM_Boot_Policy", vm.str("HVM_boot_policy"));
        i.set("HVM_Boot_Params", kv_array(vm, "HVM_boot_params"));
        if let Some(xenapi_core::Value::Float(m)) = vm.get("HVM_shadow_multiplier") {
            i.set("HVM_ShadowMultiplier", CimValue::Real64(*m));
        }
    } else {
        for (prop, field) in [
            ("PV_Bootloader", "PV_bootloader"),
            ("PV_Bootloader_Args", "PV_bootloader_args"),
            ("PV_Kernel", "PV_kernel"),
            ("PV_RAMDisk", "PV_ramdisk"),
            ("PV_Args", "PV_args"),
            ("PV_Legacy_Args", "PV_legacy_args"),
        ] {
            i.set(prop, vm.str(field));
        }
    }
    let host = vm.str("resident_on");
    if !is_null_ref(host) {
        if let Some(h) = tables.get("host", host) {
            i.set("Host", h.str("uuid"));
        }
    }
    if let Some(m) = tables.deref("vm_metrics", vm, "metrics") {
        if let Some(d) = datetime(m.get("install_time")) {
            i.set("CreationTime", d);
        }
        if let Some(d) = datetime(m.get("start_time")) {
            i.set("StartTime", d);
        }
    }
    i
}

pub struct SettingDataProvider {
    backend: BackendRef,
}

impl SettingDataProvider {
    pub fn new() -> SettingDataProvider {
        SettingDataProvider { backend: BackendRef::acquire() }
    }

    fn tables(&self) -> Result<std::sync::Arc<Tables>, CmpiError> {
        self.backend.get().and_then(|b| b.tables()).map_err(CmpiError::failed)
    }
}

impl Default for SettingDataProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl Provider for SettingDataProvider {
    fn instance(&self) -> Option<&dyn InstanceProvider> {
        Some(self)
    }
}

impl InstanceProvider for SettingDataProvider {
    fn enumerate_instances(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        let tables = self.tables()?;
        let ns = namespace_of(op);
        let mut vms: Vec<&ObjectRecord> = tables.iter("vm").map(|(_, v)| v).filter(|v| is_virtual_system(v)).collect();
        vms.sort_unstable_by_key(|v| v.str("uuid"));
        Ok(vms.into_iter().map(|v| instance(&ns, v, &tables)).collect())
    }

    fn enumerate_instance_names(&self, _ctx: &Context, op: &ObjectPath) -> Result<Vec<ObjectPath>, CmpiError> {
        let tables = self.tables()?;
        let ns = namespace_of(op);
        let mut uuids: Vec<&str> = tables.iter("vm").map(|(_, v)| v).filter(|v| is_virtual_system(v)).map(|v| v.str("uuid")).collect();
        uuids.sort_unstable();
        Ok(uuids.into_iter().map(|u| path(&ns, u)).collect())
    }

    fn get_instance(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Instance, CmpiError> {
        let id = string_key(op, "InstanceID")?;
        let not_found = || CmpiError::not_found(format!("no {CLASS} with InstanceID {id:?}"));
        let uuid = uuid_of_instance_id(&id).ok_or_else(not_found)?;
        let tables = self.tables()?;
        match tables.by_uuid("vm", uuid) {
            Some((_, v)) if is_virtual_system(v) => Ok(instance(&namespace_of(op), v, &tables)),
            _ => Err(not_found()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::test_records::{rec, s};
    use xenapi_core::rpc::Wire;

    fn vm(members: Vec<(&str, Wire)>) -> ObjectRecord {
        rec("VM", members)
    }

    #[test]
    fn hvm_is_told_by_boot_policy_or_boot_order() {
        assert_eq!(virtual_system_type(&vm(vec![("HVM_boot_policy", s(""))])), "DMTF:Xen:PV");
        assert_eq!(virtual_system_type(&vm(vec![("HVM_boot_policy", s("BIOS order"))])), "DMTF:Xen:HVM");
        assert_eq!(virtual_system_type(&vm(vec![("HVM_boot_params", Wire::Struct(vec![("order".into(), s("dc"))]))])), "DMTF:Xen:HVM");
    }

    #[test]
    fn instance_ids_carry_the_vm_uuid() {
        assert_eq!(uuid_of_instance_id("Xen:abc"), Some("abc"));
        assert_eq!(uuid_of_instance_id("Xen:"), None);
        assert_eq!(uuid_of_instance_id("Xen:abc/vbd"), None, "a device id is not a system id");
        assert_eq!(uuid_of_instance_id("abc"), None);
    }

    #[test]
    fn pv_and_hvm_settings_are_reported_for_their_kind_only() {
        let t = Tables::default();
        let pv = vm(vec![("uuid", s("u")), ("name_label", s("n")), ("PV_bootloader", s("pygrub")), ("HVM_boot_policy", s(""))]);
        let i = instance("root/cimv2", &pv, &t);
        assert_eq!(i.path, path("root/cimv2", "u"));
        assert_eq!(i.get("InstanceID"), Some(&CimValue::from("Xen:u")));
        assert_eq!(i.get("VirtualSystemIdentifier"), Some(&CimValue::from("u")));
        assert_eq!(i.get("PV_Bootloader"), Some(&CimValue::from("pygrub")));
        assert_eq!(i.get("HVM_Boot_Policy"), None);
        let hvm = vm(vec![("uuid", s("h")), ("HVM_boot_policy", s("BIOS order")), ("HVM_shadow_multiplier", Wire::Float(1.5))]);
        let i = instance("root/cimv2", &hvm, &t);
        assert_eq!(i.get("VirtualSystemType"), Some(&CimValue::from("DMTF:Xen:HVM")));
        assert_eq!(i.get("HVM_ShadowMultiplier"), Some(&CimValue::Real64(1.5)));
        assert_eq!(i.get("PV_Bootloader"), None);
    }
}
