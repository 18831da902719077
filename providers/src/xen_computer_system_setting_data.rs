//! The virtual system settings (DSP1057 VSSD) of every VM record, keyed by
//! `InstanceID = "Xen:<vm uuid>"` as in xs-cim. XenAPI keeps one record that is both the state
//! and the definition, so each VM record gives exactly one instance, of the class of its kind:
//!
//! ```text
//! Xen_ComputerSystemSettingData.InstanceID="Xen:<vm uuid>"   a guest VM (a Xen_ComputerSystem)
//! Xen_ComputerSystemTemplate.InstanceID="Xen:<vm uuid>"      VM.is_a_template
//! Xen_ComputerSystemSnapshot.InstanceID="Xen:<vm uuid>"      VM.is_a_snapshot (+ SnapshotOf, SnapshotTime)
//! ```
//!
//! XenAPI marks snapshots as templates too, so a snapshot is told first; a control domain is
//! none of them. [`instance`] builds the properties all three share (`xs-cim-model.md` §2.2)
//! and adds those of the kind. Read-only (ModifySystemSettings and DefineSystem belong to the
//! management service); the automatic-action mappings and the guest-metrics properties are not
//! there yet.

use crate::backend::BackendRef;
use crate::cache::Tables;
use crate::util::*;
use crate::xen_computer_system::{self as cs, is_virtual_system};
use cmpi_shim::provider::{Context, InstanceProvider, Provider};
use cmpi_shim::{CimValue, CmpiError, Instance, ObjectPath};
use xenapi_client::ObjectRecord;

pub const CLASS: &str = "Xen_ComputerSystemSettingData";
pub const TEMPLATE_CLASS: &str = "Xen_ComputerSystemTemplate";
pub const SNAPSHOT_CLASS: &str = "Xen_ComputerSystemSnapshot";

/// Which VSSD class a VM record is served as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VssdKind {
    /// A guest VM: `Xen_ComputerSystemSettingData`.
    System,
    Template,
    Snapshot,
}

impl VssdKind {
    /// The kind of `vm`; `None` for a control domain.
    pub fn of(vm: &ObjectRecord) -> Option<VssdKind> {
        if vm.bool("is_control_domain").unwrap_or(false) {
            None
        } else if vm.bool("is_a_snapshot").unwrap_or(false) {
            Some(VssdKind::Snapshot)
        } else if vm.bool("is_a_template").unwrap_or(false) {
            Some(VssdKind::Template)
        } else {
            Some(VssdKind::System)
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            VssdKind::System => CLASS,
            VssdKind::Template => TEMPLATE_CLASS,
            VssdKind::Snapshot => SNAPSHOT_CLASS,
        }
    }

    pub fn of_class(class: &str) -> Option<VssdKind> {
        [VssdKind::System, VssdKind::Template, VssdKind::Snapshot].into_iter().find(|k| k.class().eq_ignore_ascii_case(class))
    }

    fn caption(self) -> &'static str {
        match self {
            VssdKind::System => "Active Settings of a Xen virtual machine",
            VssdKind::Template => "Template for a Xen virtual machine",
            VssdKind::Snapshot => "Settings for a Snapshot of a Xen virtual machine",
        }
    }
}

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

/// The path of the `Xen_ComputerSystemSettingData` of the guest VM `uuid`.
pub fn path(ns: &str, uuid: &str) -> ObjectPath {
    path_of(ns, VssdKind::System, uuid)
}

pub fn path_of(ns: &str, kind: VssdKind, uuid: &str) -> ObjectPath {
    ObjectPath::new(ns, kind.class()).with_key("InstanceID", system_instance_id(uuid))
}

/// The VSSD path of any VM record, in the class of its kind (`None` for a control domain).
pub fn path_for(ns: &str, vm: &ObjectRecord) -> Option<ObjectPath> {
    VssdKind::of(vm).map(|k| path_of(ns, k, vm.str("uuid")))
}

/// The VSSD's automatic action properties and the VM field each reports.
pub const AUTOMATIC_ACTIONS: [(&str, &str); 3] =
    [("AutomaticShutdownAction", "actions_after_shutdown"), ("AutomaticStartupAction", "actions_after_reboot"), ("AutomaticRecoveryAction", "actions_after_crash")];

/// The CIM 2.41 value of automatic action property `prop` for the XenAPI action `xen` (the
/// xs-cim mapping, xs-cim-model.md §2.2): destroy → 2 (Turn Off after a shutdown, None after a
/// reboot or crash); restart → 3 (Restart if previously active, Restart), as are the crash
/// actions that restart; preserve and coredump_and_destroy leave the domain down → 2 None.
/// What has no CIM value (restart after a shutdown) is 1 Other; an unknown field 0 Unknown.
pub fn action_value(prop: &str, xen: &str) -> u16 {
    match (prop, xen) {
        (_, "destroy") => 2,
        ("AutomaticShutdownAction", "restart") => 1,
        ("AutomaticStartupAction" | "AutomaticRecoveryAction", "restart") => 3,
        ("AutomaticRecoveryAction", "coredump_and_restart" | "rename_restart") => 3,
        ("AutomaticRecoveryAction", "preserve" | "coredump_and_destroy") => 2,
        (_, "") => 0,
        _ => 1,
    }
}

/// The instance of `vm`, of the class of its kind; `tables` gives its metrics, host and, for a
/// snapshot, the VM it was taken of.
pub fn instance(ns: &str, vm: &ObjectRecord, tables: &Tables) -> Instance {
    let kind = VssdKind::of(vm).unwrap_or(VssdKind::System);
    let uuid = vm.str("uuid");
    let hvm = virtual_system_type(vm) == "DMTF:Xen:HVM";
    let mut i = Instance::new(path_of(ns, kind, uuid))
        .with("InstanceID", system_instance_id(uuid))
        .with("Caption", kind.caption())
        .with("ElementName", vm.str("name_label"))
        .with("Description", vm.str("name_description"))
        .with("VirtualSystemIdentifier", uuid)
        .with("VirtualSystemType", virtual_system_type(vm))
        .with("Platform", kv_array(vm, "platform"))
        .with("Other_Config", kv_array(vm, "other_config"));
    if hvm {
        i.set("HVM_Boot_Policy", vm.str("HVM_boot_policy"));
        i.set("HVM_Boot_Params", kv_array(vm, "HVM_boot_params"));
        if let Some(xenapi_model::Value::Float(m)) = vm.get("HVM_shadow_multiplier") {
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
    for (prop, field) in AUTOMATIC_ACTIONS {
        i.set(prop, CimValue::Uint16(action_value(prop, vm.str(field))));
    }
    let metrics = tables.deref("vm_metrics", vm, "metrics");
    if let Some(d) = metrics.and_then(|m| datetime(m.get("install_time"))) {
        i.set("CreationTime", d);
    }
    match kind {
        VssdKind::System => {
            if let Some((_, h)) = cs::vm_host(tables, vm) {
                i.set("Host", h.str("uuid"));
            }
            // "" when the VM may start on any host (ModifySystemSettings takes "" to clear it).
            i.set("HostAffinity", tables.deref("host", vm, "affinity").map_or("", |h| h.str("uuid")));
            if let Some(d) = metrics.and_then(|m| datetime(m.get("start_time"))) {
                i.set("StartTime", d);
            }
        }
        VssdKind::Snapshot => {
            if let Some(of) = tables.deref("vm", vm, "snapshot_of") {
                i.set("SnapshotOf", snapshot_source(ns, of).to_string());
            }
            if let Some(d) = datetime(vm.get("snapshot_time")) {
                i.set("SnapshotTime", d);
            }
        }
        VssdKind::Template => {}
    }
    i
}

/// What a snapshot was taken of, as xs-cim names it: the `Xen_ComputerSystem` of a guest VM,
/// else the VSSD of the template (or snapshot) it has become since.
fn snapshot_source(ns: &str, of: &ObjectRecord) -> ObjectPath {
    if is_virtual_system(of) {
        cs::path(ns, of.str("uuid"))
    } else {
        path_for(ns, of).unwrap_or_else(|| cs::path(ns, of.str("uuid")))
    }
}

/// The provider of one of the three classes.
pub struct SettingDataProvider {
    kind: VssdKind,
    backend: BackendRef,
}

impl SettingDataProvider {
    pub fn new(kind: VssdKind) -> SettingDataProvider {
        SettingDataProvider { kind, backend: BackendRef::acquire() }
    }


    /// The VM records of this provider's kind, by uuid.
    fn records<'t>(&self, tables: &'t Tables) -> Vec<&'t ObjectRecord> {
        let mut vms: Vec<&ObjectRecord> = tables.iter("vm").map(|(_, v)| v).filter(|v| VssdKind::of(v) == Some(self.kind)).collect();
        vms.sort_unstable_by_key(|v| v.str("uuid"));
        vms
    }
}

impl Default for SettingDataProvider {
    fn default() -> Self {
        Self::new(VssdKind::System)
    }
}

impl Provider for SettingDataProvider {
    fn instance(&self) -> Option<&dyn InstanceProvider> {
        Some(self)
    }
}

impl InstanceProvider for SettingDataProvider {
    fn enumerate_instances(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        let tables = self.backend.tables()?;
        let ns = namespace_of(op);
        Ok(self.records(&tables).into_iter().map(|v| instance(&ns, v, &tables)).collect())
    }

    fn enumerate_instance_names(&self, _ctx: &Context, op: &ObjectPath) -> Result<Vec<ObjectPath>, CmpiError> {
        let tables = self.backend.tables()?;
        let ns = namespace_of(op);
        Ok(self.records(&tables).into_iter().map(|v| path_of(&ns, self.kind, v.str("uuid"))).collect())
    }

    fn get_instance(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Instance, CmpiError> {
        let id = string_key(op, "InstanceID")?;
        let not_found = || CmpiError::not_found(format!("no {} with InstanceID {id:?}", self.kind.class()));
        let uuid = uuid_of_instance_id(&id).ok_or_else(not_found)?;
        let tables = self.backend.tables()?;
        match tables.by_uuid("vm", uuid) {
            Some((_, v)) if VssdKind::of(v) == Some(self.kind) => Ok(instance(&namespace_of(op), v, &tables)),
            _ => Err(not_found()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::test_records::{rec, s};
    use xenapi_client::Wire;

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

    #[test]
    fn each_record_is_one_kind_and_snapshots_are_told_first() {
        let kind = |m: Vec<(&str, Wire)>| VssdKind::of(&vm(m));
        assert_eq!(kind(vec![]), Some(VssdKind::System));
        assert_eq!(kind(vec![("is_a_template", Wire::Bool(true))]), Some(VssdKind::Template));
        assert_eq!(kind(vec![("is_a_template", Wire::Bool(true)), ("is_a_snapshot", Wire::Bool(true))]), Some(VssdKind::Snapshot));
        assert_eq!(kind(vec![("is_control_domain", Wire::Bool(true))]), None);
        for k in [VssdKind::System, VssdKind::Template, VssdKind::Snapshot] {
            assert_eq!(VssdKind::of_class(&k.class().to_ascii_lowercase()), Some(k));
        }
        // The guest VMs of Xen_ComputerSystem are exactly the System kind.
        for m in [vec![], vec![("is_a_template", Wire::Bool(true))], vec![("is_a_snapshot", Wire::Bool(true))], vec![("is_control_domain", Wire::Bool(true))]] {
            let v = vm(m);
            assert_eq!(is_virtual_system(&v), VssdKind::of(&v) == Some(VssdKind::System));
        }
    }

    #[test]
    fn templates_and_snapshots_share_the_common_properties() {
        let mut t = Tables::default();
        let source = vm(vec![("uuid", s("src")), ("name_label", s("web"))]);
        t.insert("vm", "SRC", source);
        let tpl = vm(vec![("uuid", s("t")), ("name_label", s("tpl")), ("is_a_template", Wire::Bool(true)), ("PV_bootloader", s("pygrub")), ("resident_on", s("H"))]);
        let i = instance("root/cimv2", &tpl, &t);
        assert_eq!(i.path, path_of("root/cimv2", VssdKind::Template, "t"));
        assert_eq!(i.get("Caption"), Some(&CimValue::from("Template for a Xen virtual machine")));
        assert_eq!(i.get("PV_Bootloader"), Some(&CimValue::from("pygrub")));
        assert_eq!(i.get("Host"), None, "Host is a property of the guest VM settings only");
        let snap = vm(vec![
            ("uuid", s("sn")),
            ("is_a_template", Wire::Bool(true)),
            ("is_a_snapshot", Wire::Bool(true)),
            ("snapshot_of", s("SRC")),
            ("snapshot_time", Wire::DateTime("19700102T00:00:00Z".into())),
        ]);
        let i = instance("root/cimv2", &snap, &t);
        assert_eq!(i.path.classname, SNAPSHOT_CLASS);
        assert_eq!(i.get("InstanceID"), Some(&CimValue::from("Xen:sn")));
        assert_eq!(i.get("SnapshotOf"), Some(&CimValue::from(cs::path("root/cimv2", "src").to_string().as_str())));
        assert_eq!(i.get("SnapshotTime").map(|d| format!("{d:?}")), Some(format!("{:?}", CimValue::DateTime(cmpi_shim::CimDateTime::from_unix_micros(86_400_000_000)))));
        // Once the source is gone, SnapshotOf is not set.
        assert_eq!(instance("root/cimv2", &snap, &Tables::default()).get("SnapshotOf"), None);
    }

    #[test]
    fn automatic_actions_are_output_with_the_cim_values() {
        assert_eq!(action_value("AutomaticShutdownAction", "destroy"), 2);
        assert_eq!(action_value("AutomaticShutdownAction", "restart"), 1, "no CIM value: Other");
        assert_eq!(action_value("AutomaticStartupAction", "restart"), 3);
        assert_eq!(action_value("AutomaticRecoveryAction", "coredump_and_restart"), 3);
        assert_eq!(action_value("AutomaticRecoveryAction", "preserve"), 2);
        assert_eq!(action_value("AutomaticRecoveryAction", ""), 0);
        // what ModifySystemSettings maps a shown value to is the action shown
        for (prop, xen) in [("AutomaticShutdownAction", "destroy"), ("AutomaticStartupAction", "destroy"), ("AutomaticStartupAction", "restart"), ("AutomaticRecoveryAction", "restart")] {
            assert_eq!(crate::xen_vsms::automatic_action(prop, action_value(prop, xen).into()), Ok(xen), "{prop} {xen}");
        }
        let mut t = Tables::default();
        t.insert("host", "H", rec("host", vec![("uuid", s("h"))]));
        let v = vm(vec![("uuid", s("v")), ("actions_after_shutdown", s("destroy")), ("actions_after_reboot", s("restart")), ("actions_after_crash", s("restart")), ("affinity", s("H"))]);
        let i = instance("root/cimv2", &v, &t);
        assert_eq!(i.get("AutomaticShutdownAction"), Some(&CimValue::Uint16(2)));
        assert_eq!(i.get("AutomaticStartupAction"), Some(&CimValue::Uint16(3)));
        assert_eq!(i.get("AutomaticRecoveryAction"), Some(&CimValue::Uint16(3)));
        assert_eq!(i.get("HostAffinity"), Some(&CimValue::from("h")));
        assert_eq!(i.get("Host"), Some(&CimValue::from("h")), "halted, affinity h");
        let free = instance("root/cimv2", &vm(vec![("uuid", s("w")), ("affinity", s("OpaqueRef:NULL"))]), &t);
        assert_eq!(free.get("HostAffinity"), Some(&CimValue::from("")));
    }
}
