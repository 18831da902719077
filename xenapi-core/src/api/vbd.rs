//! VBD messages: create (a disk, or a CD drive that may be empty), plug and unplug on a running
//! VM through the backend, insert and eject of CDs, destroy; and what a VM start needs: the
//! checks on its disks, plugging every VBD, and marking them detached when it stops.
//!
//! ```text
//! VBD.create(session, {VM, VDI | "OpaqueRef:NULL", userdevice: "autodetect" | "1", bootable, mode: "RW",
//!                      type: "Disk" | "CD", empty, other_config, qos_algorithm_type, qos_algorithm_params})
//! ```

use super::ops::devices::{vbd_permits, VbdView, VBD_OPERATIONS};
use super::sr::{class, locate, refs};
use super::Xapi;
use crate::backend::{BackendError, DeviceKind};
use crate::dispatch::implicit::record_from_create_args;
use crate::dispatch::{Ctx, Dispatcher};
use crate::error::ApiError;
use crate::generated::args::*;
use crate::generated::handlers::{register_vbd, VbdMessages};
use crate::generated::{VbdMode, VbdRecord, VbdType};
use crate::typed::{self, CreateArgs, MessageArgs, OnObject, Ref};
use crate::store::{new_ref, new_uuid, Record, Tables, Tx};
use crate::value::{Value, NULL_REF};

/// Device slots a VM has for VBDs.
pub const VBD_SLOTS: u32 = 16;

fn vm_running(tx: &Tx<'_>, vm: &str) -> bool {
    tx.get("VM", vm).is_some_and(|r| super::vm_state::has_domain(&r))
}

/// Whether the VBD takes removable media (a CD or floppy drive).
fn is_removable(rec: &Record) -> bool {
    matches!(VbdType::from_wire(rec.str(class("VBD"), "type")), Some(VbdType::Cd | VbdType::Floppy))
}

fn flag(rec: &Record, f: &str) -> bool {
    rec.get(class("VBD"), f).as_bool() == Some(true)
}

/// `allowed_operations` of a VBD (the rules and the op → message table: `ops::devices`).
fn ops(running: bool, rec: &Record) -> Value {
    let view = VbdView {
        vm_running: running,
        attached: flag(rec, "currently_attached"),
        removable: is_removable(rec),
        empty: flag(rec, "empty"),
        unpluggable: flag(rec, "unpluggable"),
    };
    super::ops::offered(VBD_OPERATIONS, |op| vbd_permits(&view, op))
}

/// Recomputes a VBD's `allowed_operations` and its VDI's.
pub fn refresh(tx: &mut Tx<'_>, vbd: &str) -> Result<(), ApiError> {
    let Some(rec) = tx.get("VBD", vbd) else { return Ok(()) };
    let c = class("VBD");
    let running = vm_running(tx, rec.str(c, "VM"));
    let vdi = rec.str(c, "VDI").to_string();
    super::ops::store(tx, "VBD", vbd, ops(running, &rec))?;
    super::vdi::refresh_ops(tx, &vdi)
}

/// Stores a VBD with its metrics and links it from its VM and VDI.
pub fn insert(tx: &mut Tx<'_>, mut rec: Record) -> Result<String, ApiError> {
    let c = class("VBD");
    let mc = class("VBD_metrics");
    let mut m = Record::new_default(mc);
    m.set(mc, "uuid", Value::str(new_uuid()));
    let mref = new_ref();
    tx.put("VBD_metrics", &mref, m);
    rec.set(c, "metrics", Value::str(&mref));
    rec.set(c, "uuid", Value::str(new_uuid()));
    let r = new_ref();
    let (vm, vdi) = (rec.str(c, "VM").to_string(), rec.str(c, "VDI").to_string());
    tx.put("VBD", &r, rec);
    tx.add_to_set("VM", &vm, "VBDs", &r)?;
    if tx.exists("VDI", &vdi) {
        tx.add_to_set("VDI", &vdi, "VBDs", &r)?;
    }
    refresh(tx, &r)?;
    Ok(r)
}

/// Removes a VBD record, its metrics and the links to it.
pub fn delete_record(tx: &mut Tx<'_>, vbd: &str) -> Result<(), ApiError> {
    let c = class("VBD");
    let Some(rec) = tx.get("VBD", vbd) else { return Ok(()) };
    let m = rec.str(c, "metrics").to_string();
    if tx.exists("VBD_metrics", &m) {
        tx.delete("VBD_metrics", &m);
    }
    tx.remove_from_set("VM", rec.str(c, "VM"), "VBDs", vbd)?;
    let vdi = rec.str(c, "VDI").to_string();
    tx.remove_from_set("VDI", &vdi, "VBDs", vbd)?;
    tx.delete("VBD", vbd);
    super::vdi::refresh_ops(tx, &vdi)
}

/// Userdevices of the VM's VBDs.
fn used_slots(tx: &Tx<'_>, vm: &str) -> Vec<(String, String)> {
    let c = class("VBD");
    let list = tx.get("VM", vm).map(|r| refs(r.get(class("VM"), "VBDs"))).unwrap_or_default();
    list.into_iter().filter_map(|b| tx.get("VBD", &b).map(|r| (b.clone(), r.str(c, "userdevice").to_string()))).collect()
}

/// Checks and completes the record given to `VBD.create`.
fn validate(tx: &Tx<'_>, rec: &mut Record) -> Result<(), ApiError> {
    let c = class("VBD");
    let vm = rec.str(c, "VM").to_string();
    tx.must_get("VM", &vm)?;
    let vdi = rec.str(c, "VDI").to_string();
    let removable = matches!(rec.str(c, "type"), "CD" | "Floppy");
    if vdi == NULL_REF || vdi.is_empty() {
        if !removable {
            return Err(ApiError::handle_invalid("VDI", &vdi));
        }
        rec.set(c, "VDI", Value::null_ref());
        rec.set(c, "empty", Value::Bool(true));
    } else {
        let v = tx.must_get("VDI", &vdi)?;
        rec.set(c, "empty", Value::Bool(false));
        if rec.str(c, "mode") == "RW" && v.get(class("VDI"), "read_only").as_bool() == Some(true) {
            return Err(ApiError::new("VDI_READONLY", [vdi.as_str()]));
        }
    }
    let used = used_slots(tx, &vm);
    let mut dev = rec.str(c, "userdevice").to_string();
    if dev == "autodetect" || dev.is_empty() {
        dev = (0..VBD_SLOTS).map(|i| i.to_string()).find(|d| !used.iter().any(|(_, u)| u == d)).ok_or_else(|| {
            ApiError::new("INVALID_DEVICE", ["autodetect (every slot is taken)"])
        })?;
    } else if !dev.parse::<u32>().is_ok_and(|n| n < VBD_SLOTS) {
        return Err(ApiError::new("INVALID_DEVICE", [dev.as_str()]));
    }
    if let Some((other, _)) = used.iter().find(|(_, u)| *u == dev) {
        return Err(ApiError::new("VM_DUPLICATE_VBD_DEVICE", [vm.as_str(), other.as_str(), dev.as_str()]));
    }
    rec.set(c, "userdevice", Value::str(dev));
    rec.set(c, "currently_attached", Value::Bool(false));
    rec.set(c, "device", Value::str(""));
    Ok(())
}

/// Guest device name of a userdevice: `xvda`, `xvdb`, ... (`hda`..`hdd` for an HVM guest's
/// first four).
pub fn device_name(hvm: bool, userdevice: &str) -> String {
    let n: u32 = userdevice.parse().unwrap_or(0);
    let letter = |n: u32| {
        let mut s = String::new();
        let mut n = n as i64;
        loop {
            s.insert(0, (b'a' + (n % 26) as u8) as char);
            n = n / 26 - 1;
            if n < 0 {
                return s;
            }
        }
    };
    if hvm && n < 4 {
        format!("hd{}", letter(n))
    } else {
        format!("xvd{}", letter(n))
    }
}

fn is_hvm(vm: &Record) -> bool {
    let c = class("VM");
    !vm.str(c, "HVM_boot_policy").is_empty() || vm.str(c, "domain_type") == "hvm"
}

/// What stands in the way of attaching a VBD now: the SR, the image, another VM using the VDI.
pub fn assert_attachable(t: &Tables, xapi: &Xapi, vbd: &str, op: &str) -> Result<(), ApiError> {
    let c = class("VBD");
    let rec = t.get("VBD", vbd).ok_or_else(|| ApiError::handle_invalid("VBD", vbd))?;
    if flag(rec, "empty") {
        return Ok(());
    }
    let vdi = rec.str(c, "VDI");
    let vc = class("VDI");
    let v = t.get("VDI", vdi).ok_or_else(|| ApiError::new("VDI_MISSING", [NULL_REF, vdi]))?;
    let sr = v.str(vc, "SR");
    let loc = match locate(xapi, sr) {
        Ok(l) => l,
        Err(e) if matches!(e.code.as_str(), "SR_NOT_ATTACHED" | "SR_HAS_NO_PBDS") => return Err(ApiError::new("SR_NOT_ATTACHED", [sr])),
        Err(e) => return Err(e),
    };
    if v.get(vc, "missing").as_bool() == Some(true) || !loc.driver.exists(&loc.dir, v.str(vc, "location")) {
        return Err(ApiError::new("VDI_MISSING", [sr, vdi]));
    }
    if v.get(vc, "sharable").as_bool() == Some(true) {
        return Ok(());
    }
    let vm = rec.str(c, "VM");
    let rw = rec.str(c, "mode") == "RW";
    for other in refs(v.get(vc, "VBDs")) {
        let Some(o) = t.get("VBD", &other) else { continue };
        let owner = o.str(c, "VM");
        let owner_runs = t.get("VM", owner).is_some_and(|r| super::vm_state::has_domain(r));
        if other != vbd && owner != vm && owner_runs && flag(o, "currently_attached") && (rw || o.str(c, "mode") == "RW") {
            return Err(ApiError::new("VDI_IN_USE", [vdi, op]));
        }
    }
    Ok(())
}

/// Checks every VBD of a VM before it starts: `SR_NOT_ATTACHED [sr]`, `VDI_MISSING [sr, vdi]`,
/// `VDI_IN_USE [vdi, "start"]`.
pub fn check_start(xapi: &Xapi, vm: &str) -> Result<(), ApiError> {
    let t = xapi.store.read();
    let rec = t.get("VM", vm).ok_or_else(|| ApiError::handle_invalid("VM", vm))?;
    for vbd in refs(rec.get(class("VM"), "VBDs")) {
        assert_attachable(&t, xapi, &vbd, "start")?;
    }
    Ok(())
}

fn plug_one(xapi: &Xapi, vm_uuid: &str, device: &str) -> Result<(), BackendError> {
    match xapi.backend.plug(vm_uuid, DeviceKind::Block, device) {
        Ok(()) | Err(BackendError::DeviceAlreadyAttached(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Plugs every VBD of a VM whose domain was just built (or resumed); marks them attached.
pub fn attach_all(xapi: &Xapi, vm: &str) -> Result<(), ApiError> {
    let c = class("VBD");
    let (uuid, hvm, vbds) = {
        let t = xapi.store.read();
        let rec = t.get("VM", vm).ok_or_else(|| ApiError::handle_invalid("VM", vm))?;
        let list: Vec<(String, String)> =
            refs(rec.get(class("VM"), "VBDs")).into_iter().filter_map(|b| t.get("VBD", &b).map(|r| (b.clone(), r.str(c, "userdevice").to_string()))).collect();
        (rec.str(class("VM"), "uuid").to_string(), is_hvm(rec), list)
    };
    let mut done = Vec::new();
    for (vbd, userdevice) in &vbds {
        let dev = device_name(hvm, userdevice);
        plug_one(xapi, &uuid, &dev).map_err(|e| super::vm_state::backend_error(vm, None, e))?;
        done.push((vbd.clone(), dev));
    }
    xapi.store.write(|tx| {
        for (vbd, dev) in &done {
            if tx.exists("VBD", vbd) {
                tx.update("VBD", vbd, |r| {
                    r.set(c, "device", Value::str(dev));
                    r.set(c, "currently_attached", Value::Bool(true));
                    Ok(())
                })?;
                refresh(tx, vbd)?;
            }
        }
        Ok(())
    })
}

/// Marks every VBD of a VM detached (its domain is gone).
pub fn detach_all(tx: &mut Tx<'_>, vm: &str) -> Result<(), ApiError> {
    let c = class("VBD");
    let list = tx.get("VM", vm).map(|r| refs(r.get(class("VM"), "VBDs"))).unwrap_or_default();
    for vbd in list {
        if tx.exists("VBD", &vbd) {
            tx.update("VBD", &vbd, |r| {
                r.set(c, "currently_attached", Value::Bool(false));
                Ok(())
            })?;
            refresh(tx, &vbd)?;
        }
    }
    Ok(())
}

fn vbd_vm(xapi: &Xapi, vbd: &str) -> Result<(Record, Record), ApiError> {
    let t = xapi.store.read();
    let rec = t.get("VBD", vbd).ok_or_else(|| ApiError::handle_invalid("VBD", vbd))?;
    let vm = t.get("VM", rec.str(class("VBD"), "VM")).ok_or_else(|| ApiError::handle_invalid("VM", rec.str(class("VBD"), "VM")))?;
    Ok(((**rec).clone(), (**vm).clone()))
}

fn assert_running(vm_ref: &str, vm: &Record) -> Result<(), ApiError> {
    if !super::vm_state::has_domain(vm) {
        let state = super::vm_state::power_state(vm).wire_name().to_ascii_lowercase();
        return Err(ApiError::new("VM_BAD_POWER_STATE", [vm_ref, "running", &state]));
    }
    Ok(())
}

fn plug(ctx: &Ctx, vbd: &str) -> Result<(), ApiError> {
    let c = class("VBD");
    let (rec, vm) = vbd_vm(&ctx.xapi, vbd)?;
    let vm_ref = rec.str(c, "VM").to_string();
    assert_running(&vm_ref, &vm)?;
    if flag(&rec, "currently_attached") {
        return Err(ApiError::new("DEVICE_ALREADY_ATTACHED", [vbd]));
    }
    assert_attachable(&ctx.xapi.store.read(), &ctx.xapi, vbd, "plug")?;
    let dev = device_name(is_hvm(&vm), rec.str(c, "userdevice"));
    ctx.xapi.backend.plug(vm.str(class("VM"), "uuid"), DeviceKind::Block, &dev).map_err(|e| super::vm_state::backend_error(&vm_ref, ctx.task.as_deref(), e))?;
    ctx.xapi.store.write(|tx| {
        tx.update("VBD", vbd, |r| {
            r.set(c, "device", Value::str(&dev));
            r.set(c, "currently_attached", Value::Bool(true));
            Ok(())
        })?;
        refresh(tx, vbd)
    })
}

fn unplug(ctx: &Ctx, vbd: &str, force: bool) -> Result<(), ApiError> {
    let c = class("VBD");
    let (rec, vm) = vbd_vm(&ctx.xapi, vbd)?;
    let vm_ref = rec.str(c, "VM").to_string();
    assert_running(&vm_ref, &vm)?;
    if !flag(&rec, "currently_attached") {
        return Err(ApiError::new("DEVICE_ALREADY_DETACHED", [vbd]));
    }
    if !force && !flag(&rec, "unpluggable") {
        return Err(ApiError::new("DEVICE_DETACH_REJECTED", ["VBD", vbd, "VBD.unpluggable is false"]));
    }
    match ctx.xapi.backend.unplug(vm.str(class("VM"), "uuid"), DeviceKind::Block, rec.str(c, "device")) {
        Ok(()) | Err(BackendError::DeviceNotAttached(_)) => {}
        Err(e) => return Err(super::vm_state::backend_error(&vm_ref, ctx.task.as_deref(), e)),
    }
    ctx.xapi.store.write(|tx| {
        tx.update("VBD", vbd, |r| {
            r.set(c, "currently_attached", Value::Bool(false));
            Ok(())
        })?;
        refresh(tx, vbd)
    })
}

fn removable(rec: &Record, vbd: &str) -> Result<(), ApiError> {
    if is_removable(&rec) {
        Ok(())
    } else {
        Err(ApiError::new("VBD_NOT_REMOVABLE_MEDIA", [vbd]))
    }
}

fn insert_media(ctx: &Ctx, vbd: &str, vdi: &str) -> Result<(), ApiError> {
    let c = class("VBD");
    ctx.xapi.store.write(|tx| {
        let rec = tx.must_get("VBD", vbd)?;
        removable(&rec, vbd)?;
        if !flag(&rec, "empty") {
            return Err(ApiError::new("VBD_NOT_EMPTY", [vbd]));
        }
        let v = tx.must_get("VDI", vdi)?;
        if rec.str(c, "mode") == VbdMode::Rw.wire_name() && v.get(class("VDI"), "read_only").as_bool() == Some(true) {
            return Err(ApiError::new("VDI_READONLY", [vdi]));
        }
        tx.update("VBD", vbd, |r| {
            r.set(c, "VDI", Value::str(vdi));
            r.set(c, "empty", Value::Bool(false));
            Ok(())
        })?;
        tx.add_to_set("VDI", vdi, "VBDs", vbd)?;
        refresh(tx, vbd)
    })
}

fn eject(ctx: &Ctx, vbd: &str) -> Result<(), ApiError> {
    let c = class("VBD");
    ctx.xapi.store.write(|tx| {
        let rec = tx.must_get("VBD", vbd)?;
        removable(&rec, vbd)?;
        if flag(&rec, "empty") {
            return Err(ApiError::new("VBD_IS_EMPTY", [vbd]));
        }
        let vdi = rec.str(c, "VDI").to_string();
        tx.update("VBD", vbd, |r| {
            r.set(c, "VDI", Value::null_ref());
            r.set(c, "empty", Value::Bool(true));
            Ok(())
        })?;
        tx.remove_from_set("VDI", &vdi, "VBDs", vbd)?;
        super::vdi::refresh_ops(tx, &vdi)?;
        refresh(tx, vbd)
    })
}

/// `VBD.create` inside a transaction: checks, completes and stores the record.
pub fn create(tx: &mut Tx<'_>, mut rec: Record) -> Result<String, ApiError> {
    validate(tx, &mut rec)?;
    insert(tx, rec)
}

pub struct VbdApi;

impl VbdMessages for VbdApi {
    fn plug(ctx: &Ctx, a: VbdPlugArgs) -> Result<(), ApiError> {
        plug(ctx, &a.self_)
    }
    fn unplug(ctx: &Ctx, a: VbdUnplugArgs) -> Result<(), ApiError> {
        unplug(ctx, &a.self_, false)
    }
    fn unplug_force(ctx: &Ctx, a: VbdUnplugForceArgs) -> Result<(), ApiError> {
        unplug(ctx, &a.self_, true)
    }
    fn insert(ctx: &Ctx, a: VbdInsertArgs) -> Result<(), ApiError> {
        insert_media(ctx, &a.vbd, &a.vdi)
    }
    fn eject(ctx: &Ctx, a: VbdEjectArgs) -> Result<(), ApiError> {
        eject(ctx, &a.vbd)
    }
    fn assert_attachable(ctx: &Ctx, a: VbdAssertAttachableArgs) -> Result<(), ApiError> {
        assert_attachable(&ctx.xapi.store.read(), &ctx.xapi, &a.self_, "attach")
    }
}

fn create_handler(ctx: &Ctx, a: CreateArgs) -> Result<Ref<VbdRecord>, ApiError> {
    let rec = record_from_create_args(class("VBD"), &a.record)?;
    ctx.xapi.store.write(|tx| create(tx, rec)).map(Ref::new)
}

fn destroy(ctx: &Ctx, a: OnObject<VbdRecord>) -> Result<(), ApiError> {
    let vbd = a.this.as_str();
    ctx.xapi.store.write(|tx| {
        let rec = tx.must_get("VBD", vbd)?;
        if flag(&rec, "currently_attached") && vm_running(tx, rec.str(class("VBD"), "VM")) {
            return Err(ApiError::new("OPERATION_NOT_ALLOWED", [format!("VBD {vbd} is plugged into a running VM; unplug it first")]));
        }
        delete_record(tx, vbd)
    })
}

/// `VBD.set_mode` (a declared plain setter): a read-only VDI cannot be attached read-write.
fn set_mode(ctx: &Ctx, a: VbdSetModeArgs) -> Result<(), ApiError> {
    let vbd = a.self_.as_str();
    ctx.xapi.store.write(|tx| {
        let rec = tx.must_get("VBD", vbd)?;
        let vdi = rec.str(class("VBD"), "VDI").to_string();
        if a.value == VbdMode::Rw && tx.get("VDI", &vdi).is_some_and(|v| v.get(class("VDI"), "read_only").as_bool() == Some(true)) {
            return Err(ApiError::new("VDI_READONLY", [vdi.as_str()]));
        }
        tx.update("VBD", vbd, |r| Ok(r.set(class("VBD"), "mode", Value::str(a.value.wire_name()))))
    })
}

pub fn register(d: &mut Dispatcher) {
    register_vbd::<VbdApi>(d);
    let void = |_: ()| Value::void();
    d.override_implicit_with("VBD.create", typed::sync_handler(create_handler, |r: Ref<VbdRecord>| Value::String(r.into_string())));
    d.override_implicit_with("VBD.destroy", typed::sync_handler(destroy, void));
    d.implement(VbdSetModeArgs::MESSAGE, typed::sync_handler(set_mode, void));
}

#[cfg(test)]
mod tests {
    #[test]
    fn device_names() {
        assert_eq!(super::device_name(false, "0"), "xvda");
        assert_eq!(super::device_name(false, "3"), "xvdd");
        assert_eq!(super::device_name(true, "1"), "hdb");
        assert_eq!(super::device_name(true, "5"), "xvdf");
        assert_eq!(super::device_name(false, "26"), "xvdaa");
    }
}
