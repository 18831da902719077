//! ModifySystemSettings (CIM 2.41) and CopySystem (a Xen extension, as in xs-cim).
//!
//! ```text
//! ModifySystemSettings(SystemSettings embedded VSSD with InstanceID "Xen:<vm uuid>") → 0
//! CopySystem(SourceSystem REF | uuid, SystemSettings, ResourceSettings[], StoragePool REF | uuid)
//!     → 0, ResultingSystem
//! ```
//!
//! ModifySystemSettings changes exactly the VSSD properties given whose value differs from the
//! VM's — a VSSD got with GetInstance, changed and sent back changes what was changed — and
//! refuses what it cannot do (another VirtualSystemType, an unknown host, an action XenAPI has
//! no value for) before any call. CopySystem clones (or, with StoragePool, copies) a halted VM
//! or template, then applies the settings to the copy; a failure destroys the copy.

use super::resources::{add_devices, bad, device_spec, done, memory_steps, processor_steps, string_pairs, xen_failed};
use super::undo::{Step, Undo};
use super::{arg, kv_pairs, rasd_kind, Device, RasdKind};
use crate::backend::Backend;
use crate::cache::Tables;
use crate::embedded::Embedded;
use crate::util::*;
use crate::xen_computer_system as cs;
use crate::xen_computer_system_setting_data::{uuid_of_instance_id, virtual_system_type};
use crate::xen_device_rasd::is_rasd_owner;
use cmpi_shim::{Args, CimValue, CmpiError, MethodResult, ObjectPath};
use std::time::Duration;
use xenapi_client::ObjectRecord;
use xenapi_client::Call;
use xenapi_model::generated::{OnCrashBehaviour, OnNormalExit};
use calls::vm;

/// A setter of a VM field, as a typed call: `(vm, value)`.
type Setter<V> = fn(&str, V) -> Call<()>;
/// A setter of a string field (both lifetimes free, so that a `const` table can hold it).
type StrSetter = for<'a, 'b> fn(&'a str, &'b str) -> Call<()>;

/// String VSSD properties, the VM field each stands for, and its setter.
const STRINGS: &[(&str, &str, StrSetter)] = &[
    ("ElementName", "name_label", |r, v| vm::set_name_label(r, v)),
    ("Description", "name_description", |r, v| vm::set_name_description(r, v)),
    ("HVM_Boot_Policy", "HVM_boot_policy", |r, v| vm::set_hvm_boot_policy(r, v)),
    ("PV_Bootloader", "PV_bootloader", |r, v| vm::set_pv_bootloader(r, v)),
    ("PV_Bootloader_Args", "PV_bootloader_args", |r, v| vm::set_pv_bootloader_args(r, v)),
    ("PV_Kernel", "PV_kernel", |r, v| vm::set_pv_kernel(r, v)),
    ("PV_RAMDisk", "PV_ramdisk", |r, v| vm::set_pv_ramdisk(r, v)),
    ("PV_Args", "PV_args", |r, v| vm::set_pv_args(r, v)),
    ("PV_Legacy_Args", "PV_legacy_args", |r, v| vm::set_pv_legacy_args(r, v)),
];

/// The XenAPI action of an Automatic*Action value (CIM 2.41 value maps), or why there is none.
/// Shutdown: 2 Turn Off / 4 Shutdown → destroy. Startup (after a reboot): 2 None → destroy,
/// 3 Restart if previously active / 4 Always startup → restart. Recovery (after a crash):
/// 2 None → destroy, 3 Restart → restart.
pub fn action(prop: &str, value: u64) -> Result<&'static str, String> {
    match (prop, value) {
        ("AutomaticShutdownAction", 2 | 4) => Ok("destroy"),
        ("AutomaticStartupAction", 2) | ("AutomaticRecoveryAction", 2) => Ok("destroy"),
        ("AutomaticStartupAction", 3 | 4) | ("AutomaticRecoveryAction", 3) => Ok("restart"),
        _ => Err(format!("{prop} {value} has no XenAPI equivalent")),
    }
}

/// The steps that give VM `vm_ref` the VSSD properties given in `vssd` that differ from `vm`.
pub fn system_steps(t: &Tables, vm_ref: &str, vm: &ObjectRecord, vssd: &Embedded) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for (prop, field, setter) in STRINGS {
        if let Some(new) = vssd.str(prop) {
            if *prop == "ElementName" && new.is_empty() {
                return Err("ElementName may not be empty".into());
            }
            if new != vm.str(field) {
                steps.push(Step::new(setter(vm_ref, new), Some(setter(vm_ref, vm.str(field)))));
            }
        }
    }
    if let Some(t) = vssd.str("VirtualSystemType") {
        let upper = t.to_ascii_uppercase();
        let given = if upper.contains("HVM") {
            "DMTF:Xen:HVM"
        } else if upper.contains("PV") {
            "DMTF:Xen:PV"
        } else {
            return Err(format!("VirtualSystemType {t:?} is neither DMTF:Xen:PV nor DMTF:Xen:HVM"));
        };
        if given != virtual_system_type(vm) {
            return Err(format!("VirtualSystemType {t:?}: the VM is {}; the boot settings (HVM_Boot_Policy, PV_*) say which it is", virtual_system_type(vm)));
        }
    }
    // Maps: HVM_Boot_Params and Platform are replaced, Other_Config is merged.
    type MapSetter = Setter<Vec<(String, String)>>;
    let maps: [(&str, &str, MapSetter, bool); 3] = [
        ("HVM_Boot_Params", "HVM_boot_params", |r, v| vm::set_hvm_boot_params(r, v), false),
        ("Platform", "platform", |r, v| vm::set_platform(r, v), false),
        ("Other_Config", "other_config", |r, v| vm::set_other_config(r, v), true),
    ];
    for (prop, field, setter, merge) in maps {
        if !vssd.has(prop) {
            continue;
        }
        let items = vssd.list(prop);
        if let Some(bad) = items.iter().find(|i| !i.contains('=')) {
            return Err(format!("{prop} element {bad:?} is not \"key=value\""));
        }
        let old = string_pairs(vm, field);
        let mut new = if merge { old.clone() } else { Vec::new() };
        for (k, val) in kv_pairs(items) {
            new.retain(|(x, _)| *x != k);
            new.push((k, val));
        }
        new.sort();
        if new != old {
            steps.push(Step::new(setter(vm_ref, new), Some(setter(vm_ref, old))));
        }
    }
    // The setter of each action field, from the action's wire name (`None`: not a value of the
    // field's enum).
    type ActionSetter = fn(&str, &str) -> Option<Call<()>>;
    let actions: [(&str, &str, ActionSetter); 3] = [
        ("AutomaticShutdownAction", "actions_after_shutdown", |r, a| OnNormalExit::from_wire(a).map(|a| vm::set_actions_after_shutdown(r, a))),
        ("AutomaticStartupAction", "actions_after_reboot", |r, a| OnNormalExit::from_wire(a).map(|a| vm::set_actions_after_reboot(r, a))),
        ("AutomaticRecoveryAction", "actions_after_crash", |r, a| OnCrashBehaviour::from_wire(a).map(|a| vm::set_actions_after_crash(r, a))),
    ];
    for (prop, field, setter) in actions {
        if let Some(n) = vssd.uint(prop)? {
            // The value the VSSD shows leaves the action as it is (a VSSD sent back unchanged
            // changes nothing, even where XenAPI's action has no exact CIM value).
            if n == u64::from(crate::xen_computer_system_setting_data::action_value(prop, vm.str(field))) {
                continue;
            }
            let new = action(prop, n)?;
            if new != vm.str(field) {
                let set = setter(vm_ref, new).ok_or_else(|| format!("{prop}: {new:?} is not a value of VM.{field}"))?;
                steps.push(Step::new(set, setter(vm_ref, vm.str(field))));
            }
        }
    }
    if let Some(host) = vssd.str("HostAffinity") {
        let new = if host.is_empty() {
            "OpaqueRef:NULL".to_string()
        } else {
            t.by_uuid("host", host).map(|(r, _)| r.clone()).ok_or_else(|| format!("HostAffinity {host:?} is not the uuid of a host"))?
        };
        let old = if is_null_ref(vm.str("affinity")) { "OpaqueRef:NULL" } else { vm.str("affinity") };
        if new != old {
            steps.push(Step::new(vm::set_affinity(vm_ref, new.as_str()), Some(vm::set_affinity(vm_ref, old))));
        }
    }
    Ok(steps)
}

fn embedded_vssd(method: &str, args: &Args) -> Result<Embedded, CmpiError> {
    match arg(args, "SystemSettings") {
        None | Some(CimValue::Null { .. }) => Err(bad(method, "SystemSettings (an embedded VSSD) is required")),
        Some(v) => Embedded::from_value(v).map_err(|e| bad(method, format!("SystemSettings: {e}"))),
    }
}

/// ModifySystemSettings: the VM of the VSSD's InstanceID gets the properties given.
pub fn modify(b: &Backend, args: &Args) -> Result<MethodResult, CmpiError> {
    const M: &str = "ModifySystemSettings";
    let vssd = embedded_vssd(M, args)?;
    let id = vssd.str("InstanceID").filter(|i| !i.is_empty()).ok_or_else(|| bad(M, "SystemSettings needs the InstanceID (\"Xen:<vm uuid>\") of the VSSD it changes"))?;
    let uuid = uuid_of_instance_id(id).ok_or_else(|| bad(M, format!("InstanceID {id:?} is not that of a VSSD (\"Xen:<vm uuid>\")")))?;
    let t = b.tables().map_err(CmpiError::failed)?;
    let (vm_ref, vm) = t.by_uuid("vm", uuid).filter(|(_, vm)| is_rasd_owner(vm)).ok_or_else(|| CmpiError::not_found(format!("{M}: no VSSD with InstanceID {id:?}")))?;
    let steps = system_steps(&t, vm_ref, vm, &vssd).map_err(|e| bad(M, e))?;
    let mut undo = Undo::new(b);
    if let Err(e) = undo.run(steps) {
        return Err(xen_failed(M, e, undo.rollback()));
    }
    Ok(done(vec![]))
}

/// The uuid a SourceSystem or StoragePool value names: a REF (its Name, else its InstanceID
/// without `Xen:`) or a uuid string.
fn named_uuid(v: Option<&CimValue>) -> Result<Option<String>, String> {
    match v {
        None | Some(CimValue::Null { .. }) => Ok(None),
        Some(CimValue::String(s)) if s.is_empty() => Ok(None),
        Some(CimValue::String(s)) => Ok(Some(s.strip_prefix("Xen:").unwrap_or(s).to_string())),
        Some(CimValue::Reference(p)) => match (p.key("Name"), p.key("InstanceID")) {
            (Some(CimValue::String(n)), _) => Ok(Some(n.clone())),
            (_, Some(CimValue::String(id))) => Ok(Some(id.strip_prefix("Xen:").unwrap_or(id).to_string())),
            _ => Err(format!("{p} has neither a Name nor an InstanceID key")),
        },
        Some(other) => Err(format!("{other:?} is neither a reference nor a uuid")),
    }
}

/// What CopySystem applies to the copy, read and checked before anything is made.
struct CopyPlan {
    vssd: Embedded,
    processor: Option<Embedded>,
    memory: Option<Embedded>,
    devices: Vec<Device>,
}

fn copy_plan(t: &Tables, src_ref: &str, src: &ObjectRecord, vssd: Embedded, rasds: Vec<Embedded>) -> Result<CopyPlan, String> {
    // Checked against the source: the copy starts as its twin.
    system_steps(t, src_ref, src, &vssd)?;
    let mut plan = CopyPlan { vssd, processor: None, memory: None, devices: Vec::new() };
    for r in rasds {
        match rasd_kind(&r)? {
            RasdKind::Processor => {
                processor_steps(src_ref, src, &r)?;
                plan.processor = Some(r);
            }
            RasdKind::Memory => {
                memory_steps(src_ref, src, t, &r)?;
                plan.memory = Some(r);
            }
            RasdKind::Disk { .. } | RasdKind::Nic => plan.devices.push(device_spec(t, &r)?),
        }
    }
    Ok(plan)
}

/// CopySystem: a new halted VM from a halted VM or template, with the given settings.
pub fn copy(b: &Backend, op: &ObjectPath, args: &Args) -> Result<MethodResult, CmpiError> {
    const M: &str = "CopySystem";
    let src_uuid = named_uuid(arg(args, "SourceSystem")).map_err(|e| bad(M, format!("SourceSystem: {e}")))?.ok_or_else(|| bad(M, "SourceSystem (the VM or template to copy) is required"))?;
    let vssd = embedded_vssd(M, args)?;
    let name = vssd.str("ElementName").filter(|n| !n.is_empty()).ok_or_else(|| bad(M, "SystemSettings needs an ElementName, the name of the copy"))?.to_string();
    let rasds = match arg(args, "ResourceSettings") {
        None => Vec::new(),
        Some(v) => Embedded::list_from_value(v).map_err(|e| bad(M, format!("ResourceSettings: {e}")))?,
    };
    let sr_uuid = named_uuid(arg(args, "StoragePool")).map_err(|e| bad(M, format!("StoragePool: {e}")))?;
    let t = b.tables().map_err(CmpiError::failed)?;
    let (src_ref, src) = t.by_uuid("vm", &src_uuid).filter(|(_, vm)| is_rasd_owner(vm)).ok_or_else(|| CmpiError::not_found(format!("{M}: SourceSystem: no VM or template with uuid {src_uuid:?}")))?;
    let sr_ref = match &sr_uuid {
        None => None,
        Some(u) => Some(t.by_uuid("sr", u).map(|(r, _)| r.clone()).ok_or_else(|| bad(M, format!("StoragePool {u:?} is not the uuid of an SR")))?),
    };
    let plan = copy_plan(&t, src_ref, src, vssd, rasds).map_err(|e| bad(M, e))?;
    let made = match &sr_ref {
        None => b.run(vm::clone(src_ref, &name)),
        Some(sr) => b.run(vm::copy(src_ref, &name, sr)),
    };
    let vm = made.map_err(|e| xen_failed(M, e, String::new()))?.into_string();
    // From here on, a failure destroys the copy with the disks made for it: those of the clone
    // or copy, and the new ones of ResourceSettings (never a VDI that existed before).
    let mut new_vdis = Vec::new();
    let applied = disk_vdis(b, &vm).and_then(|cloned| {
        new_vdis.extend(cloned);
        apply_to_copy(b, &vm, src, &plan, &mut new_vdis)
    });
    match applied {
        Ok(uuid) => Ok(done(vec![("ResultingSystem".into(), CimValue::Reference(cs::path(&namespace_of(op), &uuid)))])),
        Err(e) => {
            // VM.destroy takes the VBDs and VIFs along.
            let mut failed: Vec<String> = b.run(vm::destroy(&vm)).err().map(|d| format!("VM.destroy: {d}")).into_iter().collect();
            for vdi in &new_vdis {
                if let Err(d) = b.run(calls::vdi::destroy(vdi)) {
                    failed.push(format!("VDI.destroy: {d}"));
                }
            }
            let cleanup = if failed.is_empty() { String::new() } else { format!(" (and removing the copy failed: {})", failed.join("; ")) };
            Err(xen_failed(M, e, cleanup))
        }
    }
}

/// The VDIs of the Disk VBDs of `vm` (a fresh clone or copy: its own).
fn disk_vdis(b: &Backend, vm: &str) -> Result<Vec<String>, crate::xenapi_conn::XenError> {
    let mut out = Vec::new();
    for vbd in b.run(vm::get_vbds(vm))? {
        if b.run(calls::vbd::get_type(&vbd))? == VbdType::Disk {
            let vdi = b.run(calls::vbd::get_vdi(&vbd))?;
            if !is_null_ref(&vdi) {
                out.push(vdi.into_string());
            }
        }
    }
    Ok(out)
}

fn apply_to_copy(b: &Backend, vm: &str, src: &ObjectRecord, plan: &CopyPlan, new_vdis: &mut Vec<String>) -> Result<String, crate::xenapi_conn::XenError> {
    if src.bool("is_a_template").unwrap_or(false) || src.bool("is_a_snapshot").unwrap_or(false) {
        b.run(vm::set_is_a_template(vm, false))?;
    }
    b.cache.wait_until(Duration::from_secs(5), |t| t.get("vm", vm).is_some_and(|r| !r.bool("is_a_template").unwrap_or(false)));
    let t = b.tables().map_err(crate::xenapi_conn::XenError::Other)?;
    let rec = t.get("vm", vm).ok_or_else(|| crate::xenapi_conn::XenError::Other("the copy is not in the cache".into()))?;
    let bad = |e: String| crate::xenapi_conn::XenError::Other(e);
    let mut steps = system_steps(&t, vm, rec, &plan.vssd).map_err(bad)?;
    if let Some(p) = &plan.processor {
        steps.extend(processor_steps(vm, rec, p).map_err(bad)?);
    }
    if let Some(m) = &plan.memory {
        steps.extend(memory_steps(vm, rec, &t, m).map_err(bad)?);
    }
    let uuid = rec.str("uuid").to_string();
    // The copy is destroyed on failure, so nothing here needs taking back one step at a time.
    let mut undo = Undo::new(b);
    undo.run(steps)?;
    add_devices(&mut undo, vm, false, &plan.devices, new_vdis)?;
    b.cache.wait_until(Duration::from_secs(5), |t| t.get("vm", vm).is_some());
    Ok(uuid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xen_vsms::map_value;
    use xenapi_model::Value;
    use crate::embedded::parse_mof;
    use crate::util::test_records::{rec, s};
    use xenapi_client::Wire;

    fn vm() -> ObjectRecord {
        rec(
            "VM",
            vec![
                ("uuid", s("v")),
                ("name_label", s("old")),
                ("name_description", s("d")),
                ("PV_args", s("quiet")),
                ("other_config", Wire::Struct(vec![("a".into(), s("1")), ("b".into(), s("2"))])),
                ("platform", Wire::Struct(vec![("acpi".into(), s("1"))])),
                ("actions_after_reboot", s("restart")),
                ("actions_after_shutdown", s("destroy")),
                ("affinity", s("OpaqueRef:NULL")),
            ],
        )
    }

    fn methods(steps: &[Step]) -> Vec<&str> {
        steps.iter().map(|s| s.method).collect()
    }

    #[test]
    fn only_what_differs_is_set() {
        let mut t = Tables::default();
        t.insert("host", "H", rec("host", vec![("uuid", s("h"))]));
        let same = parse_mof("instance of Xen_ComputerSystemSettingData { InstanceID = \"Xen:v\"; ElementName = \"old\"; Description = \"d\"; VirtualSystemType = \"DMTF:Xen:PV\"; PV_Args = \"quiet\"; Platform = {\"acpi=1\"}; Other_Config = {\"a=1\"}; };").unwrap();
        assert!(system_steps(&t, "V", &vm(), &same).unwrap().is_empty(), "a VSSD sent back unchanged changes nothing");
        // The automatic actions as the VSSD shows them: 2 for destroy, 3 for restart after a reboot.
        let shown = parse_mof("instance of Xen_ComputerSystemSettingData { AutomaticShutdownAction = 2; AutomaticStartupAction = 3; AutomaticRecoveryAction = 0; HostAffinity = \"\"; };").unwrap();
        assert!(system_steps(&t, "V", &vm(), &shown).unwrap().is_empty(), "the actions as output change nothing");
        let changed = parse_mof("instance of Xen_ComputerSystemSettingData { ElementName = \"new\"; Other_Config = {\"c=3\", \"a=9\"}; AutomaticStartupAction = 2; HostAffinity = \"h\"; };").unwrap();
        let steps = system_steps(&t, "V", &vm(), &changed).unwrap();
        assert_eq!(methods(&steps), ["VM.set_name_label", "VM.set_other_config", "VM.set_actions_after_reboot", "VM.set_affinity"]);
        let merged = map_value(&[("a".into(), "9".into()), ("b".into(), "2".into()), ("c".into(), "3".into())]);
        assert_eq!(steps[1].args[1], merged, "merged, not replaced");
        assert_eq!(steps[2].args[1], Value::str("destroy"));
        assert_eq!(steps[3].args[1], Value::str("H"));
        assert_eq!(steps[0].inverse, Some(("VM.set_name_label", vec![Value::str("V"), Value::str("old")])));
    }

    #[test]
    fn what_cannot_be_done_is_refused() {
        let t = Tables::default();
        for (mof, want) in [
            ("VirtualSystemType = \"DMTF:Xen:HVM\";", "VirtualSystemType"),
            ("ElementName = \"\";", "empty"),
            ("HostAffinity = \"nope\";", "not the uuid of a host"),
            ("AutomaticShutdownAction = 3;", "no XenAPI equivalent"),
            ("Platform = {\"novalue\"};", "key=value"),
        ] {
            let e = parse_mof(&format!("instance of Xen_ComputerSystemSettingData {{ {mof} }};")).unwrap();
            let err = system_steps(&t, "V", &vm(), &e).unwrap_err();
            assert!(err.contains(want), "{mof}: {err}");
        }
    }
}
