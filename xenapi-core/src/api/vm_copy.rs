//! New VMs from old ones: clone, copy, snapshot, revert, provision, with their disks.
//!
//! Disks (VBDs of type Disk) follow the VM: `clone` and `snapshot` make fast copy-on-write
//! copies of their VDIs, `copy` full copies (into the given SR, or each disk's own), `revert`
//! gives the VM fresh clones of the snapshot's disks and destroys the disks it had. CD drives
//! keep pointing at the same ISO. `provision` makes the disks a template lists in
//! `other_config:disks`.

use super::vm_power::{operate, Op};
use super::vm_state::{mark_stopped, power_state, refresh_allowed, update_vm, vm_class};
use crate::dispatch::Ctx;
use crate::error::ApiError;
use crate::generated::args::{VmCloneArgs, VmCopyArgs, VmProvisionArgs, VmRevertArgs, VmSnapshotArgs};
use crate::generated::{VmOperations, VmPowerState, VmRecord};
use crate::model::model;
use crate::store::{new_ref, new_uuid, Record, Tx};
use crate::typed::{Ref, Reply};
use crate::value::{Value, NULL_REF};

/// Fields a copy of a VM does not inherit: identity, runtime state, relations.
const RESET_ON_COPY: &[&str] = &[
    "allowed_operations", "current_operations", "power_state", "domid", "resident_on", "scheduled_to_be_resident_on",
    "consoles", "VIFs", "VBDs", "VUSBs", "crash_dumps", "VTPMs", "metrics", "guest_metrics", "is_a_snapshot",
    "snapshot_of", "snapshots", "snapshot_time", "is_default_template", "is_control_domain", "children", "suspend_VDI",
    "blobs", "snapshot_info", "snapshot_metadata", "transportable_snapshot_id", "attached_PCIs", "VGPUs",
    "is_vmss_snapshot", "snapshot_schedule",
];

/// Configuration a revert restores from the snapshot.
const RESTORED_BY_REVERT: &[&str] = &[
    "user_version", "memory_static_max", "memory_dynamic_max", "memory_dynamic_min", "memory_static_min",
    "VCPUs_params", "VCPUs_max", "VCPUs_at_startup", "actions_after_shutdown", "actions_after_reboot",
    "actions_after_crash", "PV_bootloader", "PV_kernel", "PV_ramdisk", "PV_args", "PV_bootloader_args",
    "PV_legacy_args", "HVM_boot_policy", "HVM_boot_params", "HVM_shadow_multiplier", "platform", "PCI_bus",
    "other_config", "recommendations", "xenstore_data", "domain_type", "NVRAM", "hardware_platform_version",
];

/// A locally administered unicast MAC address (`x2:..`), random.
pub fn random_mac() -> String {
    let b: [u8; 6] = rand::random();
    format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", (b[0] & 0xfc) | 0x02, b[1], b[2], b[3], b[4], b[5])
}

/// How the disks of a new VM are made.
#[derive(Clone)]
enum Disks {
    Clone,
    Snapshot,
    /// Full copies, into this SR or each disk's own.
    Copy(Option<String>),
}

/// The VDIs behind the Disk VBDs of a VM, each once.
fn disk_vdis(tx: &crate::store::Tables, vm: &Record) -> Vec<String> {
    let bc = model().class("VBD").unwrap();
    let mut out: Vec<String> = Vec::new();
    for b in super::sr::refs(vm.get(vm_class(), "VBDs")) {
        let Some(vbd) = tx.get("VBD", &b) else { continue };
        let vdi = vbd.str(bc, "VDI").to_string();
        if vbd.str(bc, "type") == "Disk" && vdi != NULL_REF && tx.get("VDI", &vdi).is_some() && !out.contains(&vdi) {
            out.push(vdi);
        }
    }
    out
}

/// Makes the new VM's disks; returns old VDI → new VDI. On failure the disks made so far go.
fn copy_disks(o: &Op, src: &Record, how: &Disks) -> Result<Vec<(String, String)>, ApiError> {
    let vdis = disk_vdis(&o.xapi.store.read(), src);
    let sizes: Vec<i64> = {
        let t = o.xapi.store.read();
        let vc = model().class("VDI").unwrap();
        vdis.iter().map(|v| t.get("VDI", v).and_then(|r| r.get(vc, "virtual_size").as_int()).unwrap_or(0).max(1)).collect()
    };
    let total: i64 = sizes.iter().sum::<i64>().max(1);
    let mut done: Vec<(String, String)> = Vec::new();
    let mut before = 0i64;
    for (vdi, size) in vdis.iter().zip(&sizes) {
        let made = match how {
            Disks::Clone => super::vdi::fast_copy(&o.xapi, vdi, false),
            Disks::Snapshot => super::vdi::fast_copy(&o.xapi, vdi, true),
            Disks::Copy(sr) => {
                let mut p = super::vdi::task_progress(&o.xapi, o.task.as_deref(), 0.05 + 0.9 * before as f64 / total as f64, 0.9 * *size as f64 / total as f64);
                super::vdi::full_copy(&o.xapi, vdi, sr.as_deref(), None, &o.cancel, &mut p)
            }
        };
        match made {
            Ok(new) => done.push((vdi.clone(), new)),
            Err(e) => {
                for (_, new) in &done {
                    let _ = super::vdi::destroy_vdi(&o.xapi, new);
                }
                let e = if e.code == "TASK_CANCELLED" { ApiError::new("TASK_CANCELLED", [o.task.clone().unwrap_or_default()]) } else { e };
                return Err(e);
            }
        }
        before += size;
    }
    Ok(done)
}

/// Copies the VBD and VIF records of `src` onto `dst`, Disk VBDs onto the VDIs of `disks`;
/// new MACs unless `keep_mac`.
fn copy_devices(tx: &mut Tx<'_>, src: &Record, dst: &str, keep_mac: bool, disks: &[(String, String)]) -> Result<(), ApiError> {
    let c = vm_class();
    let bc = model().class("VBD").unwrap();
    for b in super::sr::refs(src.get(c, "VBDs")) {
        let Some(dev) = tx.get("VBD", &b) else { continue };
        let mut d = (*dev).clone();
        d.set(bc, "VM", Value::str(dst));
        d.set(bc, "currently_attached", Value::Bool(false));
        d.set(bc, "current_operations", Value::Map(vec![]));
        if let Some((_, new)) = disks.iter().find(|(old, _)| old == dev.str(bc, "VDI")) {
            d.set(bc, "VDI", Value::str(new));
        }
        super::vbd::insert(tx, d)?;
    }
    let fc = model().class("VIF").unwrap();
    for v in super::sr::refs(src.get(c, "VIFs")) {
        let Some(dev) = tx.get("VIF", &v) else { continue };
        let mut d = (*dev).clone();
        d.set(fc, "VM", Value::str(dst));
        d.set(fc, "currently_attached", Value::Bool(false));
        d.set(fc, "current_operations", Value::Map(vec![]));
        if !keep_mac {
            d.set(fc, "MAC", Value::str(super::vif::unique_mac(tx)));
            d.set(fc, "MAC_autogenerated", Value::Bool(true));
        }
        super::vif::insert(tx, d)?;
    }
    Ok(())
}

/// Deletes the VBD and VIF records of a VM (not the disks behind them).
pub fn delete_devices(tx: &mut Tx<'_>, vm: &Record) {
    let c = vm_class();
    for b in super::sr::refs(vm.get(c, "VBDs")) {
        let _ = super::vbd::delete_record(tx, &b);
    }
    for v in super::sr::refs(vm.get(c, "VIFs")) {
        let _ = super::vif::delete_record(tx, &v);
    }
}

/// A new halted VM from `src`, named `name`, with disks made as `how` says; returns its ref.
fn copy_vm(o: &Op, name: &str, how: Disks) -> Result<Ref<VmRecord>, ApiError> {
    let c = vm_class();
    let snapshot = matches!(how, Disks::Snapshot);
    let src = o.record()?;
    if let Disks::Copy(_) = how {
        if let Some(t) = &o.task {
            super::task::allow_cancel(&o.xapi.store, t)?;
        }
    }
    o.progress(0.05);
    let disks = copy_disks(o, &src, &how)?;
    let mut rec = src.clone();
    let blank = Record::new_default(c);
    for f in RESET_ON_COPY {
        rec.set(c, f, blank.get(c, f).clone());
    }
    rec.set(c, "uuid", Value::str(new_uuid()));
    rec.set(c, "name_label", Value::str(name));
    rec.set(c, "power_state", Value::str(VmPowerState::Halted.wire_name()));
    rec.set(c, "domid", Value::Int(-1));
    rec.set(c, "parent", Value::str(&o.vm));
    if snapshot {
        rec.set(c, "is_a_snapshot", Value::Bool(true));
        rec.set(c, "is_a_template", Value::Bool(true));
        rec.set(c, "snapshot_of", Value::str(&o.vm));
        rec.set(c, "snapshot_time", Value::DateTime(crate::time_fmt::now()));
    }
    let r = new_ref();
    let out = o.xapi.store.write(|tx| {
        let metrics = super::vm::create_metrics(tx);
        rec.set(c, "metrics", Value::str(metrics));
        refresh_allowed(&r, &mut rec);
        tx.put("VM", &r, rec);
        copy_devices(tx, &src, &r, snapshot, &disks)?;
        update_vm(tx, &o.vm, |s| {
            let field = if snapshot { "snapshots" } else { "children" };
            if let Value::Set(list) = &mut s.fields[c.field_pos(field).unwrap()] {
                list.push(Value::str(&r));
            }
            Ok(())
        })
    });
    if let Err(e) = out {
        for (_, new) in &disks {
            let _ = super::vdi::destroy_vdi(&o.xapi, new);
        }
        return Err(e);
    }
    Ok(Ref::new(r))
}

/// Brings the snapshot's VM back to the snapshot's configuration and disks, halted.
fn revert_work(o: &Op) -> Result<(), ApiError> {
    let c = vm_class();
    let snap = o.record()?;
    if snap.get(c, "is_a_snapshot").as_bool() != Some(true) {
        return Err(ApiError::new("OPERATION_NOT_ALLOWED", [format!("{} is not a snapshot", o.vm)]));
    }
    let vm = snap.str(c, "snapshot_of").to_string();
    let target = o.xapi.store.read().get("VM", &vm).map(|r| (**r).clone());
    let Some(target) = target else {
        return Err(ApiError::new("VM_REVERT_FAILED", [vm.as_str(), o.vm.as_str()]));
    };
    let uuid = target.str(c, "uuid").to_string();
    let disks = copy_disks(o, &snap, &Disks::Clone).map_err(|e| {
        tracing::warn!(snapshot = %o.vm, error = %e, "revert: cannot clone the snapshot's disks");
        ApiError::new("VM_REVERT_FAILED", [vm.as_str(), o.vm.as_str()])
    })?;
    let old_disks = disk_vdis(&o.xapi.store.read(), &target);
    let state = power_state(&target);
    match state {
        VmPowerState::Running | VmPowerState::Paused => {
            o.xapi.backend.destroy(&uuid).map_err(|e| o.fail(e))?;
        }
        VmPowerState::Suspended => {
            let _ = std::fs::remove_file(super::vm_state::suspend_image(&o.xapi, &uuid));
        }
        _ => {}
    }
    o.xapi.store.write(|tx| {
        if state != VmPowerState::Halted {
            mark_stopped(tx, &o.xapi, &vm, VmPowerState::Halted)?;
        }
        let current = tx.must_get("VM", &vm)?;
        delete_devices(tx, &current);
        update_vm(tx, &vm, |rec| {
            for f in RESTORED_BY_REVERT {
                rec.set(c, f, snap.get(c, f).clone());
            }
            Ok(())
        })?;
        copy_devices(tx, &snap, &vm, true, &disks)
    })?;
    // The disks the VM had are replaced: they go unless something else still uses them.
    let vc = model().class("VDI").unwrap();
    for old in old_disks {
        let unused = o.xapi.store.read().get("VDI", &old).is_some_and(|r| super::sr::refs(r.get(vc, "VBDs")).is_empty() && r.get(vc, "is_a_snapshot").as_bool() != Some(true));
        if unused {
            if let Err(e) = super::vdi::destroy_vdi(&o.xapi, &old) {
                tracing::warn!(vdi = %old, error = %e, "revert: the replaced disk could not be destroyed");
            }
        }
    }
    Ok(())
}

/// One `<disk .../>` of `other_config:disks`.
#[derive(Debug, PartialEq)]
struct DiskSpec {
    device: String,
    size: i64,
    sr: String,
    bootable: bool,
    ty: String,
}

/// Parses `<provision><disk device="0" size="8589934592" sr="" bootable="true" type="system"/></provision>`.
fn parse_disks(xml: &str) -> Result<Vec<DiskSpec>, ApiError> {
    let bad = |why: &str| ApiError::new("INVALID_VALUE", ["other_config:disks".to_string(), format!("{why}: {xml}")]);
    let mut out = Vec::new();
    for chunk in xml.split("<disk").skip(1) {
        let end = chunk.find('>').ok_or_else(|| bad("unterminated <disk"))?;
        let attrs = &chunk[..end];
        let attr = |name: &str| -> Option<String> {
            let key = format!("{name}=\"");
            let i = attrs.find(&key)? + key.len();
            Some(attrs[i..].split('"').next()?.to_string())
        };
        out.push(DiskSpec {
            device: attr("device").ok_or_else(|| bad("a disk without device"))?,
            size: attr("size").and_then(|s| s.parse().ok()).ok_or_else(|| bad("a disk without a numeric size"))?,
            sr: attr("sr").unwrap_or_default(),
            bootable: attr("bootable").as_deref() == Some("true"),
            ty: attr("type").unwrap_or_else(|| "system".into()),
        });
    }
    Ok(out)
}

/// Makes the disks listed in `other_config:disks`, then drops the key (as xapi does).
fn provision_work(o: &Op) -> Result<(), ApiError> {
    let c = vm_class();
    let rec = o.record()?;
    let Some(xml) = super::sr::map_get(rec.get(c, "other_config"), "disks") else { return Ok(()) };
    let specs = parse_disks(&xml)?;
    let vc = model().class("VDI").unwrap();
    let bc = model().class("VBD").unwrap();
    let mut made = Vec::new();
    let result = (|| {
        for (i, d) in specs.iter().enumerate() {
            let sr = {
                let t = o.xapi.store.read();
                if d.sr.is_empty() {
                    let pc = model().class("pool").unwrap();
                    t.table("pool").objects.values().next().map(|p| p.str(pc, "default_SR").to_string()).unwrap_or_default()
                } else {
                    t.table("SR").by_uuid(&d.sr).map(str::to_string).ok_or_else(|| ApiError::new("UUID_INVALID", ["SR", d.sr.as_str()]))?
                }
            };
            let mut v = Record::new_default(vc);
            v.set(vc, "SR", Value::str(&sr));
            v.set(vc, "name_label", Value::str(format!("{} {}", rec.str(c, "name_label"), d.device)));
            v.set(vc, "name_description", Value::str("Created by VM.provision"));
            v.set(vc, "virtual_size", Value::Int(d.size));
            v.set(vc, "type", Value::str(if d.ty == "system" || d.ty == "user" { d.ty.as_str() } else { "user" }));
            let vdi = super::vdi::create_vdi(&o.xapi, v)?;
            made.push(vdi.clone());
            let mut b = Record::new_default(bc);
            b.set(bc, "VM", Value::str(&o.vm));
            b.set(bc, "VDI", Value::str(&vdi));
            b.set(bc, "userdevice", Value::str(&d.device));
            b.set(bc, "bootable", Value::Bool(d.bootable));
            b.set(bc, "mode", Value::str("RW"));
            b.set(bc, "type", Value::str("Disk"));
            o.xapi.store.write(|tx| super::vbd::create(tx, b))?;
            o.progress((i + 1) as f64 / specs.len().max(1) as f64);
        }
        o.xapi.store.write(|tx| {
            update_vm(tx, &o.vm, |r| {
                if let Value::Map(m) = &mut r.fields[c.field_pos("other_config").unwrap()] {
                    m.retain(|(k, _)| k.as_str() != Some("disks"));
                }
                Ok(())
            })
        })
    })();
    if let Err(e) = result {
        for v in made {
            let _ = super::vdi::destroy_vdi(&o.xapi, &v);
        }
        return Err(e);
    }
    Ok(())
}

pub fn clone(ctx: Ctx, a: VmCloneArgs) -> Reply<Ref<VmRecord>> {
    Box::pin(async move { operate(&ctx, &a.vm, VmOperations::Clone, false, move |o| copy_vm(o, &a.new_name, Disks::Clone)).await })
}

pub fn copy(ctx: Ctx, a: VmCopyArgs) -> Reply<Ref<VmRecord>> {
    let sr = a.sr.non_null().map(str::to_string);
    Box::pin(async move { operate(&ctx, &a.vm, VmOperations::Copy, false, move |o| copy_vm(o, &a.new_name, Disks::Copy(sr))).await })
}

/// `ignore_vdis` is accepted and not used: every disk of the VM is snapshotted.
pub fn snapshot(ctx: Ctx, a: VmSnapshotArgs) -> Reply<Ref<VmRecord>> {
    Box::pin(async move { operate(&ctx, &a.vm, VmOperations::Snapshot, false, move |o| copy_vm(o, &a.new_name, Disks::Snapshot)).await })
}

pub fn revert(ctx: Ctx, a: VmRevertArgs) -> Reply<()> {
    Box::pin(async move { operate(&ctx, &a.snapshot, VmOperations::Revert, false, revert_work).await })
}

pub fn provision(ctx: Ctx, a: VmProvisionArgs) -> Reply<()> {
    Box::pin(async move { operate(&ctx, &a.vm, VmOperations::Provision, false, provision_work).await })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_provision_disks() {
        let d = parse_disks(r#"<provision><disk device="0" size="8589934592" sr="" bootable="true" type="system"/><disk device="1" size="1024" sr="abc" bootable="false" type="user"/></provision>"#).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0], DiskSpec { device: "0".into(), size: 8 << 30, sr: "".into(), bootable: true, ty: "system".into() });
        assert_eq!((d[1].sr.as_str(), d[1].bootable), ("abc", false));
        assert_eq!(parse_disks(r#"<provision><disk device="0"/></provision>"#).unwrap_err().code, "INVALID_VALUE");
        assert!(parse_disks("<provision/>").unwrap().is_empty());
    }
}
