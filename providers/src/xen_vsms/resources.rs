//! AddResourceSettings, ModifyResourceSettings and RemoveResourceSettings (CIM 2.41 signatures).
//!
//! ```text
//! AddResourceSettings(AffectedConfiguration REF VSSD | uuid, ResourceSettings[] embedded RASDs)
//!     → 0, ResultingResourceSettings[] (REFs of the new RASDs)
//! ModifyResourceSettings(ResourceSettings[] embedded RASDs, each with its InstanceID)
//!     → 0, ResultingResourceSettings[]
//! RemoveResourceSettings(ResourceSettings[] RASD REFs (or embedded RASDs)) → 0
//! ```
//!
//! Each method first reads every input and checks it against the cache (the VM, the device of
//! each InstanceID, the SR / VDI / network a PoolID or HostExtentName names), so bad input is
//! CIM_ERR_INVALID_PARAMETER (or CIM_ERR_NOT_FOUND) before any XenAPI call. Then it plans the
//! XenAPI calls — only for the properties that differ from what the RASD shows now, so a RASD got
//! with GetInstance, changed and sent back changes exactly what was changed — and runs them with
//! their inverses recorded ([`Undo`]): a XenAPI failure takes back what was done and is
//! CIM_ERR_FAILED with the `XenError:<code>:...` text.

use super::undo::{Step, Undo};
use xenapi_client::Call;
use super::{arg, disk, existing_vdi, mac_address, memory_unit, nic, rasd_kind, reference_uuid, Device, RasdKind, VsmsProvider, MAX_VCPUS, MIB, MIN_MEMORY};
use crate::backend::Backend;
use crate::cache::Tables;
use crate::embedded::Embedded;
use crate::util::*;
use crate::xen_computer_system::is_virtual_system;
use crate::xen_device_rasd::{self as drasd, split_instance_id};
use crate::xen_rasd::{self, mib_up};
use crate::xenapi_conn::XenError;
use cmpi_shim::{Args, CimType, CimValue, CmpiError, MethodResult, ObjectPath};
use std::time::Duration;
use xenapi_client::ObjectRecord;
use xenapi_model::Value;

pub(super) fn bad(method: &str, m: impl std::fmt::Display) -> CmpiError {
    CmpiError::invalid_parameter(format!("{method}: {m}"))
}

pub(super) fn xen_failed(method: &str, e: XenError, undo: String) -> CmpiError {
    CmpiError::failed(format!("{method}: {e}{undo}"))
}

pub(super) fn done(out_args: Vec<(String, CimValue)>) -> MethodResult {
    MethodResult { return_value: Some(CimValue::Uint32(super::rc::COMPLETED)), out_args }
}

fn refs(paths: Vec<ObjectPath>) -> CimValue {
    CimValue::Array(CimType::Reference, paths.into_iter().map(CimValue::Reference).collect())
}

/// The embedded RASDs of ResourceSettings: required, at least one.
fn embedded_rasds(method: &str, args: &Args) -> Result<Vec<Embedded>, CmpiError> {
    let v = match arg(args, "ResourceSettings") {
        None | Some(CimValue::Null { .. }) => return Err(bad(method, "ResourceSettings (embedded RASDs) is required")),
        Some(v) => v,
    };
    let rasds = Embedded::list_from_value(v).map_err(|e| bad(method, format!("ResourceSettings: {e}")))?;
    if rasds.is_empty() {
        return Err(bad(method, "ResourceSettings is empty"));
    }
    Ok(rasds)
}

/// A `(string -> string) map` field as pairs, sorted by key.
pub(super) fn string_pairs(rec: &ObjectRecord, field: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = match rec.get(field) {
        Some(Value::Map(pairs)) => pairs.iter().map(|(k, v)| (k.key_string(), v.key_string())).collect(),
        _ => Vec::new(),
    };
    v.sort();
    v
}

fn uint_field(rec: &ObjectRecord, field: &str) -> u64 {
    rec.int(field).and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

/// The disk, CD drive or NIC an AddResourceSettings RASD asks for, checked against the cache:
/// the SR, VDI or network it names exists. Processor and memory are refused: a VM has exactly
/// one of each, changed with ModifyResourceSettings.
pub(super) fn device_spec(t: &Tables, r: &Embedded) -> Result<Device, String> {
    match rasd_kind(r)? {
        RasdKind::Processor | RasdKind::Memory => {
            Err(format!("{}: a VM has exactly one processor RASD and one memory RASD; change them with ModifyResourceSettings", r.class))
        }
        RasdKind::Disk { cd } => {
            let d = disk(r, cd)?;
            if let Some(vdi) = &d.vdi {
                t.by_uuid("vdi", vdi).ok_or_else(|| format!("HostExtentName {vdi:?} is not the uuid of a VDI"))?;
            } else if let Some(sr) = &d.sr {
                t.by_uuid("sr", sr).ok_or_else(|| format!("PoolID {sr:?} is not the uuid of an SR (the PoolID of a Xen_StoragePool)"))?;
            }
            Ok(Device::Disk(d))
        }
        RasdKind::Nic => {
            let n = nic(r)?;
            t.by_uuid("network", &n.network).ok_or_else(|| format!("PoolID {:?} is not the uuid of a network (the PoolID of a Xen_NetworkConnectionPool)", n.network))?;
            Ok(Device::Nic(n))
        }
    }
}

/// The calls that plug, unplug and destroy a VBD (a disk or CD drive) or a VIF (a NIC).
struct DeviceCalls {
    plug: Call<()>,
    unplug: Call<()>,
    destroy: Call<()>,
}

impl DeviceCalls {
    fn of(kind: drasd::Kind, r: &str) -> DeviceCalls {
        use calls::{vbd, vif};
        match kind {
            drasd::Kind::Disk => DeviceCalls { plug: vbd::plug(r), unplug: vbd::unplug(r), destroy: vbd::destroy(r) },
            _ => DeviceCalls { plug: vif::plug(r), unplug: vif::unplug(r), destroy: vif::destroy(r) },
        }
    }
}

/// Makes `devices` on `vm` (plugged when `running`), recording in `undo` how to take each back;
/// new VDIs go to `new_vdis` (destroyed by the caller after the rollback). The kind and ref of
/// each new VBD / VIF.
pub(super) fn add_devices(undo: &mut Undo, vm: &str, running: bool, devices: &[Device], new_vdis: &mut Vec<String>) -> Result<Vec<(drasd::Kind, String)>, XenError> {
    let mut out = Vec::new();
    for d in devices {
        let r = VsmsProvider::add_device(undo.backend(), vm, d, new_vdis)?;
        let kind = match d {
            Device::Disk(_) => drasd::Kind::Disk,
            Device::Nic(_) => drasd::Kind::Nic,
        };
        let c = DeviceCalls::of(kind, &r);
        undo.push(c.destroy);
        if running {
            undo.call(c.plug, Some(c.unplug))?;
        }
        out.push((kind, r));
    }
    Ok(out)
}

/// The RASD paths of new VBDs / VIFs, once the cache has them (read-your-writes).
pub(super) fn new_rasd_paths(b: &Backend, ns: &str, vm_uuid: &str, made: &[(drasd::Kind, String)]) -> Result<Vec<ObjectPath>, XenError> {
    let mut ids = Vec::new();
    for (kind, r) in made {
        let uuid = match kind {
            drasd::Kind::Disk => b.run(calls::vbd::get_uuid(r))?,
            _ => b.run(calls::vif::get_uuid(r))?,
        };
        ids.push((*kind, drasd::instance_id(vm_uuid, &uuid), uuid));
    }
    b.cache.wait_until(Duration::from_secs(5), |t| ids.iter().all(|(k, id, _)| drasd::find(t, *k, id).is_some()));
    Ok(ids.into_iter().map(|(k, _, uuid)| drasd::path(ns, k, vm_uuid, &uuid)).collect())
}

/// AddResourceSettings: new disks, CD drives and NICs for the VM of AffectedConfiguration.
pub fn add(b: &Backend, op: &ObjectPath, args: &Args) -> Result<MethodResult, CmpiError> {
    const M: &str = "AddResourceSettings";
    let rasds = embedded_rasds(M, args)?;
    let uuid = reference_uuid(arg(args, "AffectedConfiguration")).map_err(|e| bad(M, e))?.ok_or_else(|| bad(M, "AffectedConfiguration (the VM's VSSD) is required"))?;
    let t = b.tables().map_err(CmpiError::failed)?;
    let (vm_ref, vm) = t
        .by_uuid("vm", &uuid)
        .filter(|(_, vm)| drasd::is_rasd_owner(vm))
        .ok_or_else(|| CmpiError::not_found(format!("{M}: AffectedConfiguration: no VM with uuid {uuid:?}")))?;
    let mut devices = Vec::new();
    for r in &rasds {
        if let Some((owner, item)) = r.str("InstanceID").and_then(split_instance_id) {
            if t.by_uuid("vbd", item).is_some() || t.by_uuid("vif", item).is_some() {
                return Err(bad(M, format!("InstanceID Xen:{owner}/{item} names an existing device; AddResourceSettings makes new ones (leave InstanceID out)")));
            }
        }
        devices.push(device_spec(&t, r).map_err(|e| bad(M, e))?);
    }
    let running = power_state(vm) == Some(VmPowerState::Running);
    let mut undo = Undo::new(b);
    let mut new_vdis = Vec::new();
    let made = add_devices(&mut undo, vm_ref, running, &devices, &mut new_vdis).and_then(|made| new_rasd_paths(b, &namespace_of(op), &uuid, &made));
    match made {
        Ok(paths) => Ok(done(vec![("ResultingResourceSettings".into(), refs(paths))])),
        Err(e) => {
            let u = undo.rollback();
            for vdi in &new_vdis {
                let _ = b.run(calls::vdi::destroy(vdi));
            }
            Err(xen_failed(M, e, u))
        }
    }
}

/// The VM and device an InstanceID of `kind` names: NOT_FOUND when there is none,
/// INVALID_PARAMETER when the device is another VM's.
fn device_of<'t>(method: &str, t: &'t Tables, kind: drasd::Kind, id: &str) -> Result<(&'t String, &'t ObjectRecord, &'t String, &'t ObjectRecord), CmpiError> {
    if let Some(found) = drasd::find(t, kind, id) {
        return Ok(found);
    }
    let (table, _) = kind.table();
    match split_instance_id(id).and_then(|(_, item)| t.by_uuid(table, item)) {
        Some((_, dev)) => {
            let owner = t.get("vm", dev.str("VM")).map(|v| v.str("uuid")).unwrap_or("none");
            Err(bad(method, format!("InstanceID {id:?}: the device belongs to VM {owner}, not to the VM the InstanceID names")))
        }
        None => Err(CmpiError::not_found(format!("{method}: no {} with InstanceID {id:?}", kind.class()))),
    }
}

/// The VM of a processor or memory RASD InstanceID (`Xen:<vm uuid>/Processor`).
fn vm_of<'t>(method: &str, t: &'t Tables, kind: xen_rasd::Kind, id: &str) -> Result<(&'t String, &'t ObjectRecord), CmpiError> {
    let uuid = xen_rasd::vm_uuid_of(kind, id).ok_or_else(|| bad(method, format!("InstanceID {id:?} is not that of a {} (Xen:<vm uuid>/...)", kind.class())))?;
    t.by_uuid("vm", uuid).filter(|(_, vm)| is_virtual_system(vm)).ok_or_else(|| CmpiError::not_found(format!("{method}: no {} with InstanceID {id:?}", kind.class())))
}

/// The steps that give VM `vm_ref` the processor settings of `r`: VirtualQuantity → VCPUs_max,
/// Reservation → VCPUs_at_startup (live, `VM.set_VCPUs_number_live`, when the VM runs), Limit →
/// VCPUs_params cap, Weight → weight. Only what differs from the record.
pub(super) fn processor_steps(vm_ref: &str, vm: &ObjectRecord, r: &Embedded) -> Result<Vec<Step>, String> {
    let cur_max = uint_field(vm, "VCPUs_max");
    let cur_start = uint_field(vm, "VCPUs_at_startup");
    let max = r.uint("VirtualQuantity")?.unwrap_or(cur_max);
    let start = r.uint("Reservation")?.filter(|n| *n > 0).unwrap_or(cur_start.min(max));
    if max == 0 || max > MAX_VCPUS {
        return Err(format!("VirtualQuantity {max}: a guest has 1 to {MAX_VCPUS} VCPUs"));
    }
    if start > max {
        return Err(format!("Reservation {start} is more than VirtualQuantity {max}"));
    }
    use calls::vm;
    let int = |n: u64| n as i64;
    let set_max = Step::new(vm::set_vcpus_max(vm_ref, int(max)), Some(vm::set_vcpus_max(vm_ref, int(cur_max))));
    let mut steps = Vec::new();
    if power_state(vm) == Some(VmPowerState::Halted) {
        let set_start = Step::new(vm::set_vcpus_at_startup(vm_ref, int(start)), Some(vm::set_vcpus_at_startup(vm_ref, int(cur_start))));
        // VCPUs_at_startup <= VCPUs_max holds after each step, whichever way the numbers move.
        match (max != cur_max, start != cur_start) {
            (true, true) if max >= cur_start => steps.extend([set_max, set_start]),
            (true, true) => steps.extend([set_start, set_max]),
            (true, false) => steps.push(set_max),
            (false, true) => steps.push(set_start),
            (false, false) => {}
        }
    } else {
        // A running VM: XenAPI decides whether VCPUs_max may change; the count changes live.
        if max != cur_max {
            steps.push(set_max);
        }
        if start != cur_start {
            steps.push(Step::new(vm::set_vcpus_number_live(vm_ref, int(start)), Some(vm::set_vcpus_number_live(vm_ref, int(cur_start)))));
        }
    }
    let old = string_pairs(vm, "VCPUs_params");
    let mut params = old.clone();
    for (prop, key) in [("Limit", "cap"), ("Weight", "weight")] {
        if let Some(n) = r.uint(prop)? {
            params.retain(|(k, _)| k != key);
            params.push((key.to_string(), n.to_string()));
        }
    }
    params.sort();
    if params != old {
        steps.push(Step::new(vm::set_vcpus_params(vm_ref, params), Some(vm::set_vcpus_params(vm_ref, old))));
    }
    Ok(steps)
}

/// The steps that give VM `vm_ref` the memory settings of `r`, in AllocationUnits (or
/// VirtualQuantityUnits; MiB when neither is given, as the RASD shows it): VirtualQuantity →
/// memory_static_max, Reservation → memory_dynamic_min (memory_static_min follows it down),
/// Limit → memory_dynamic_max. A value equal to what the RASD shows is no change. Only the
/// dynamic range changes: `VM.set_memory_dynamic_range` (live); else `VM.set_memory_limits`.
pub(super) fn memory_steps(vm_ref: &str, vm: &ObjectRecord, t: &Tables, r: &Embedded) -> Result<Vec<Step>, String> {
    let unit = match r.str("AllocationUnits").or_else(|| r.str("VirtualQuantityUnits")) {
        None => MIB,
        Some(u) => memory_unit(u).ok_or_else(|| format!("memory units {u:?} are not understood (e.g. \"byte*2^20\", \"MB\", \"GiB\")"))?,
    };
    let (smin, smax, dmin, dmax) = (uint_field(vm, "memory_static_min"), uint_field(vm, "memory_static_max"), uint_field(vm, "memory_dynamic_min"), uint_field(vm, "memory_dynamic_max"));
    let actual = t.deref("vm_metrics", vm, "metrics").map(|m| uint_field(m, "memory_actual")).unwrap_or(0);
    let shown_quantity = mib_up(if actual > 0 { actual } else { smax } as i64);
    let given = |prop: &str, shown_mib: u64| -> Result<Option<u64>, String> {
        match r.uint(prop)? {
            None => Ok(None),
            Some(n) => {
                // XenAPI memory fields are int64: a product past that would reach it negative
                let bytes = n.checked_mul(unit).filter(|b| *b <= i64::MAX as u64).ok_or_else(|| format!("{prop} {n} is too large"))?;
                Ok((Some(bytes) != shown_mib.checked_mul(MIB)).then_some(bytes))
            }
        }
    };
    let new_smax = given("VirtualQuantity", shown_quantity)?.unwrap_or(smax);
    let new_dmin = given("Reservation", mib_up(dmin as i64))?.unwrap_or(dmin);
    let new_dmax = given("Limit", mib_up(dmax as i64))?.unwrap_or(dmax);
    let new_smin = smin.min(new_dmin);
    if new_smax < MIN_MEMORY {
        return Err(format!("VirtualQuantity is {new_smax} bytes: a guest needs at least {} MiB", MIN_MEMORY / MIB));
    }
    if !(new_smin <= new_dmin && new_dmin <= new_dmax && new_dmax <= new_smax) {
        return Err(format!(
            "memory_static_min ({new_smin}) <= memory_dynamic_min = Reservation ({new_dmin}) <= memory_dynamic_max = Limit ({new_dmax}) <= memory_static_max = VirtualQuantity ({new_smax}) bytes does not hold (XenAPI refuses it with MEMORY_CONSTRAINT_VIOLATION)"
        ));
    }
    use calls::vm;
    let int = |n: u64| n as i64;
    let limits = |a: u64, b: u64, c: u64, d: u64| vm::set_memory_limits(vm_ref, int(a), int(b), int(c), int(d));
    Ok(if (new_smin, new_smax) != (smin, smax) {
        vec![Step::new(limits(new_smin, new_smax, new_dmin, new_dmax), Some(limits(smin, smax, dmin, dmax)))]
    } else if (new_dmin, new_dmax) != (dmin, dmax) {
        vec![Step::new(vm::set_memory_dynamic_range(vm_ref, int(new_dmin), int(new_dmax)), Some(vm::set_memory_dynamic_range(vm_ref, int(dmin), int(dmax))))]
    } else {
        vec![]
    })
}

fn boolean(r: &Embedded, prop: &str) -> Result<Option<bool>, String> {
    match r.str(prop).map(str::to_ascii_lowercase).as_deref() {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(format!("{prop} = {other:?} is not a boolean")),
    }
}

/// The steps that give a VBD (and its VDI) the settings of a disk RASD: Access → VBD mode,
/// Bootable, AddressOnParent → userdevice; a CD drive's medium (HostExtentName or HostResource;
/// empty ejects); a disk's VDI ElementName / Description, and a larger VirtualQuantity ×
/// AllocationUnits (VDI.resize, which cannot be taken back, so it runs last).
fn disk_steps(t: &Tables, vbd_ref: &str, vbd: &ObjectRecord, r: &Embedded) -> Result<Vec<Step>, String> {
    use calls::{vbd as d, vdi as v};
    let cd = vbd_type(vbd) == Some(VbdType::Cd);
    let mut steps = Vec::new();
    let mode = match r.uint("Access")? {
        None => None,
        Some(1) => Some(VbdMode::Ro),
        Some(2 | 3) => Some(VbdMode::Rw),
        Some(a) => return Err(format!("Access {a}: 1 (read-only) or 3 (read/write)")),
    };
    let current_mode = vbd_mode(vbd);
    if let Some(m) = mode.filter(|m| Some(*m) != current_mode) {
        steps.push(Step::new(d::set_mode(vbd_ref, m), current_mode.map(|c| d::set_mode(vbd_ref, c))));
    }
    if let Some(bootable) = boolean(r, "Bootable")?.filter(|b| Some(*b) != vbd.bool("bootable")) {
        steps.push(Step::new(d::set_bootable(vbd_ref, bootable), Some(d::set_bootable(vbd_ref, !bootable))));
    }
    if let Some(u) = r.str("AddressOnParent").filter(|u| !u.is_empty() && *u != vbd.str("userdevice")) {
        steps.push(Step::new(d::set_userdevice(vbd_ref, u), Some(d::set_userdevice(vbd_ref, vbd.str("userdevice")))));
    }
    let vdi = t.entry("vdi", vbd.str("VDI")).filter(|_| !vbd.bool("empty").unwrap_or(false));
    let current = vdi.map(|(_, v)| v.str("uuid")).unwrap_or("");
    if let Some(wanted) = existing_vdi(r)?.filter(|w| w != current) {
        if !cd {
            return Err(format!("the VDI of disk {} cannot be changed (HostExtentName {wanted:?}): remove the disk and add another", vbd.str("uuid")));
        }
        if let Some((old_ref, _)) = vdi {
            steps.push(Step::new(d::eject(vbd_ref), Some(d::insert(vbd_ref, old_ref))));
        }
        if !wanted.is_empty() {
            let (new_ref, _) = t.by_uuid("vdi", &wanted).ok_or_else(|| format!("HostExtentName {wanted:?} is not the uuid of a VDI"))?;
            steps.push(Step::new(d::insert(vbd_ref, new_ref), Some(d::eject(vbd_ref))));
        }
        return Ok(steps);
    }
    let Some((vdi_ref, vdi)) = vdi.filter(|_| !cd) else { return Ok(steps) };
    let sr = t.get("sr", vdi.str("SR")).map(|s| s.str("uuid")).unwrap_or("");
    if let Some(pool) = r.str("PoolID").filter(|p| !p.is_empty() && *p != sr) {
        return Err(format!("PoolID {pool:?}: moving disk {} to another SR is not supported", vbd.str("uuid")));
    }
    type Setter = fn(&str, &str) -> Call<()>;
    let setters: [(&str, &str, Setter); 2] = [
        ("ElementName", "name_label", |r, x| v::set_name_label(r, x)),
        ("Description", "name_description", |r, x| v::set_name_description(r, x)),
    ];
    for (prop, field, setter) in setters {
        if let Some(new) = r.str(prop).filter(|n| *n != vdi.str(field)) {
            steps.push(Step::new(setter(vdi_ref, new), Some(setter(vdi_ref, vdi.str(field)))));
        }
    }
    if let Some(n) = r.uint("VirtualQuantity")? {
        let unit = match r.str("AllocationUnits").or_else(|| r.str("VirtualQuantityUnits")) {
            None => 1,
            Some(u) => memory_unit(u).ok_or_else(|| format!("disk units {u:?} are not understood (e.g. \"byte*2^30\", \"GB\")"))?,
        };
        let size = n.checked_mul(unit).filter(|s| *s <= i64::MAX as u64).ok_or_else(|| format!("disk size {n} × {unit} bytes is impossible"))?;
        let cur = uint_field(vdi, "virtual_size");
        if size < cur {
            return Err(format!("VirtualQuantity {size} bytes is less than the disk's {cur}: disks do not shrink"));
        }
        if size > cur {
            let online = vbd.bool("currently_attached").unwrap_or(false);
            let size = size as i64;
            steps.push(Step::new(if online { v::resize_online(vdi_ref, size) } else { v::resize(vdi_ref, size) }, None));
        }
    }
    Ok(steps)
}

/// The steps that give a VIF the settings of a NIC RASD: PoolID → its network (`VIF.move`,
/// live). The MAC and the device are fixed once the VIF exists (XenAPI fields MAC and device
/// are read-only): a different Address or AddressOnParent is refused.
fn nic_steps(t: &Tables, vif_ref: &str, vif: &ObjectRecord, r: &Embedded) -> Result<Vec<Step>, String> {
    if let Some(a) = r.str("Address").filter(|a| !a.trim().is_empty()) {
        if mac_address(a)? != vif.str("MAC").to_ascii_lowercase() {
            return Err(format!("Address {a:?}: the MAC of a NIC cannot change (XenAPI VIF.MAC is read-only); remove the NIC and add one with this Address"));
        }
    }
    if let Some(dev) = r.str("AddressOnParent").filter(|d| !d.is_empty() && *d != vif.str("device")) {
        return Err(format!("AddressOnParent {dev:?}: the device of a NIC cannot change (XenAPI VIF.device is read-only)"));
    }
    let current = t.get("network", vif.str("network")).map(|n| n.str("uuid")).unwrap_or("");
    match r.str("PoolID").filter(|p| !p.is_empty() && *p != current) {
        None => Ok(vec![]),
        Some(net) => {
            let (net_ref, _) = t.by_uuid("network", net).ok_or_else(|| format!("PoolID {net:?} is not the uuid of a network"))?;
            let move_to = |net: &str| calls::vif::move_(vif_ref, net);
            Ok(vec![Step::new(move_to(net_ref), Some(move_to(vif.str("network"))))])
        }
    }
}

/// The path of the RASD `r` names and the steps that apply it.
fn plan_modify(method: &str, ns: &str, t: &Tables, r: &Embedded) -> Result<(ObjectPath, Vec<Step>), CmpiError> {
    let id = r.str("InstanceID").filter(|i| !i.is_empty()).ok_or_else(|| bad(method, format!("a {} without InstanceID: each RASD names what it changes", r.class)))?;
    let with = |e: String| bad(method, format!("{id}: {e}"));
    match rasd_kind(r).map_err(|e| bad(method, e))? {
        RasdKind::Processor => {
            let (vm_ref, vm) = vm_of(method, t, xen_rasd::Kind::Processor, id)?;
            Ok((xen_rasd::path(ns, xen_rasd::Kind::Processor, vm.str("uuid")), processor_steps(vm_ref, vm, r).map_err(with)?))
        }
        RasdKind::Memory => {
            let (vm_ref, vm) = vm_of(method, t, xen_rasd::Kind::Memory, id)?;
            Ok((xen_rasd::path(ns, xen_rasd::Kind::Memory, vm.str("uuid")), memory_steps(vm_ref, vm, t, r).map_err(with)?))
        }
        RasdKind::Disk { .. } => {
            let (_, vm, vbd_ref, vbd) = device_of(method, t, drasd::Kind::Disk, id)?;
            Ok((drasd::path(ns, drasd::Kind::Disk, vm.str("uuid"), vbd.str("uuid")), disk_steps(t, vbd_ref, vbd, r).map_err(with)?))
        }
        RasdKind::Nic => {
            let (_, vm, vif_ref, vif) = device_of(method, t, drasd::Kind::Nic, id)?;
            Ok((drasd::path(ns, drasd::Kind::Nic, vm.str("uuid"), vif.str("uuid")), nic_steps(t, vif_ref, vif, r).map_err(with)?))
        }
    }
}

/// ModifyResourceSettings: each RASD (named by its InstanceID) changes what differs.
pub fn modify(b: &Backend, op: &ObjectPath, args: &Args) -> Result<MethodResult, CmpiError> {
    const M: &str = "ModifyResourceSettings";
    let rasds = embedded_rasds(M, args)?;
    let t = b.tables().map_err(CmpiError::failed)?;
    let ns = namespace_of(op);
    let mut paths = Vec::new();
    let mut steps = Vec::new();
    for r in &rasds {
        let (p, s) = plan_modify(M, &ns, &t, r)?;
        paths.push(p);
        steps.extend(s);
    }
    let mut undo = Undo::new(b);
    if let Err(e) = undo.run(steps) {
        return Err(xen_failed(M, e, undo.rollback()));
    }
    Ok(done(vec![("ResultingResourceSettings".into(), refs(paths))]))
}

/// The class and InstanceID of one RemoveResourceSettings element: a RASD REF or an embedded RASD.
fn removal_target(method: &str, v: &CimValue) -> Result<(String, String), CmpiError> {
    match v {
        CimValue::Reference(p) => Ok((p.classname.clone(), string_key(p, "InstanceID").map_err(|e| bad(method, e.message))?)),
        other => {
            let e = Embedded::from_value(other).map_err(|e| bad(method, format!("ResourceSettings: {e}")))?;
            let class = match rasd_kind(&e).map_err(|m| bad(method, m))? {
                RasdKind::Disk { .. } => drasd::Kind::Disk.class().to_string(),
                RasdKind::Nic => drasd::Kind::Nic.class().to_string(),
                _ => e.class.clone(),
            };
            let id = e.str("InstanceID").filter(|i| !i.is_empty()).ok_or_else(|| bad(method, format!("a {} without InstanceID", e.class)))?;
            Ok((class, id.to_string()))
        }
    }
}

/// RemoveResourceSettings: the disks, CD drives and NICs named go (unplugged first when the VM
/// runs); a removed disk's VDI goes too when no other VBD uses it and it is neither read-only nor
/// sharable, as with DestroySystem. A VM keeps its processor and memory.
pub fn remove(b: &Backend, args: &Args) -> Result<MethodResult, CmpiError> {
    const M: &str = "RemoveResourceSettings";
    let items: Vec<&CimValue> = match arg(args, "ResourceSettings") {
        None | Some(CimValue::Null { .. }) => return Err(bad(M, "ResourceSettings (RASD references) is required")),
        Some(CimValue::Array(_, items)) => items.iter().filter(|i| !i.is_null()).collect(),
        Some(single) => vec![single],
    };
    if items.is_empty() {
        return Err(bad(M, "ResourceSettings is empty"));
    }
    let t = b.tables().map_err(CmpiError::failed)?;
    // (kind, device ref, attached to a running VM, VDI ref, InstanceID)
    let mut targets: Vec<(drasd::Kind, String, bool, Option<String>, String)> = Vec::new();
    for v in items {
        let (class, id) = removal_target(M, v)?;
        let kind = drasd::Kind::of_class(&class).ok_or_else(|| {
            bad(M, format!("{class} {id:?}: only disk, CD drive and NIC RASDs can be removed (a VM keeps its processor and memory: change them with ModifyResourceSettings)"))
        })?;
        let (_, vm, dev_ref, dev) = device_of(M, &t, kind, &id)?;
        let live = dev.bool("currently_attached").unwrap_or(false) && power_state(vm) == Some(VmPowerState::Running);
        let vdi = (kind == drasd::Kind::Disk).then(|| dev.str("VDI").to_string()).filter(|r| !is_null_ref(r));
        if !targets.iter().any(|(_, r, ..)| r == dev_ref) {
            targets.push((kind, dev_ref.clone(), live, vdi, id));
        }
    }
    let mut undo = Undo::new(b);
    let unplugged = targets.iter().filter(|(_, _, live, ..)| *live).try_for_each(|(kind, r, ..)| {
        let c = DeviceCalls::of(*kind, r);
        undo.call(c.unplug, Some(c.plug))
    });
    let destroyed = unplugged.and_then(|_| targets.iter().try_for_each(|(kind, r, ..)| b.run(DeviceCalls::of(*kind, r).destroy)));
    if let Err(e) = destroyed {
        return Err(xen_failed(M, e, undo.rollback()));
    }
    for vdi in targets.iter().filter_map(|(_, _, _, vdi, _)| vdi.as_deref()) {
        VsmsProvider::destroy_if_unused(b, vdi).map_err(|e| xen_failed(M, e, " (the devices are removed; their VDI stays)".into()))?;
    }
    b.cache.wait_until(Duration::from_secs(5), |t| targets.iter().all(|(kind, _, _, _, id)| drasd::find(t, *kind, id).is_none()));
    Ok(done(vec![]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::parse_mof;
    use crate::util::test_records::{rec, s};
    use xenapi_client::Wire;

    fn mof(x: &str) -> Embedded {
        parse_mof(x).unwrap()
    }

    fn methods(steps: &[Step]) -> Vec<&str> {
        steps.iter().map(|s| s.method).collect()
    }

    fn vm(power: &str) -> ObjectRecord {
        let gib = (1u64 << 30).to_string();
        rec(
            "VM",
            vec![
                ("uuid", s("v")),
                ("power_state", s(power)),
                ("VCPUs_max", s("4")),
                ("VCPUs_at_startup", s("4")),
                ("VCPUs_params", Wire::Struct(vec![("weight".into(), s("256"))])),
                ("memory_static_min", s(&(256u64 << 20).to_string())),
                ("memory_static_max", s(&gib)),
                ("memory_dynamic_min", s(&(512u64 << 20).to_string())),
                ("memory_dynamic_max", s(&gib)),
            ],
        )
    }

    #[test]
    fn processor_changes_keep_at_startup_within_max() {
        let down = processor_steps("V", &vm("Halted"), &mof("instance of Xen_ProcessorSettingData { VirtualQuantity = 2; Reservation = 1; Weight = 256; };")).unwrap();
        assert_eq!(methods(&down), ["VM.set_VCPUs_at_startup", "VM.set_VCPUs_max"], "at_startup first when max goes below it; weight unchanged");
        let up = processor_steps("V", &vm("Halted"), &mof("instance of Xen_ProcessorSettingData { VirtualQuantity = 8; Reservation = 6; Limit = 50; };")).unwrap();
        assert_eq!(methods(&up), ["VM.set_VCPUs_max", "VM.set_VCPUs_at_startup", "VM.set_VCPUs_params"]);
        let live = processor_steps("V", &vm("Running"), &mof("instance of Xen_ProcessorSettingData { VirtualQuantity = 4; Reservation = 2; };")).unwrap();
        assert_eq!(methods(&live), ["VM.set_VCPUs_number_live"]);
        assert_eq!(live[0].inverse, Some(("VM.set_VCPUs_number_live", vec![Value::str("V"), Value::Int(4)])));
        assert!(processor_steps("V", &vm("Halted"), &mof("instance of Xen_ProcessorSettingData { VirtualQuantity = 4; Reservation = 4; Weight = 256; };")).unwrap().is_empty());
        assert!(processor_steps("V", &vm("Halted"), &mof("instance of Xen_ProcessorSettingData { VirtualQuantity = 2; Reservation = 3; };")).is_err());
        assert!(processor_steps("V", &vm("Halted"), &mof("instance of Xen_ProcessorSettingData { VirtualQuantity = 0; };")).is_err());
    }

    #[test]
    fn memory_changes_the_range_or_the_limits() {
        let t = Tables::default();
        let same = mof("instance of Xen_MemorySettingData { VirtualQuantity = 1024; Reservation = 512; Limit = 1024; AllocationUnits = \"byte*2^20\"; };");
        assert!(memory_steps("V", &vm("Running"), &t, &same).unwrap().is_empty(), "the values shown change nothing");
        let dynamic = memory_steps("V", &vm("Running"), &t, &mof("instance of Xen_MemorySettingData { Limit = 768; };")).unwrap();
        assert_eq!(methods(&dynamic), ["VM.set_memory_dynamic_range"]);
        assert_eq!(dynamic[0].args[2], Value::Int(768 << 20));
        let limits = memory_steps("V", &vm("Halted"), &t, &mof("instance of Xen_MemorySettingData { VirtualQuantity = 2; Reservation = 128; AllocationUnits = \"GiB\"; };"));
        assert!(limits.unwrap_err().contains("MEMORY_CONSTRAINT_VIOLATION"), "128 GiB reservation > 2 GiB");
        let limits = memory_steps("V", &vm("Halted"), &t, &mof("instance of Xen_MemorySettingData { VirtualQuantity = 2048; Reservation = 128; };")).unwrap();
        assert_eq!(methods(&limits), ["VM.set_memory_limits"]);
        assert_eq!(limits[0].args[1..].to_vec(), [128 << 20, 2048 << 20, 128 << 20, 1 << 30].map(Value::Int).to_vec(), "static min follows the reservation down");
        let e = memory_steps("V", &vm("Halted"), &t, &mof("instance of Xen_MemorySettingData { Limit = 4096; };")).unwrap_err();
        assert!(e.contains("MEMORY_CONSTRAINT_VIOLATION"), "{e}");
    }

    #[test]
    fn disk_and_nic_changes() {
        let mut t = Tables::default();
        t.insert("sr", "S", rec("SR", vec![("uuid", s("sr"))]));
        t.insert("vdi", "D", rec("VDI", vec![("uuid", s("vdi")), ("name_label", s("root")), ("virtual_size", s("1024")), ("SR", s("S"))]));
        t.insert("vdi", "ISO", rec("VDI", vec![("uuid", s("iso")), ("SR", s("S"))]));
        let vbd = rec("VBD", vec![("uuid", s("vbd")), ("VDI", s("D")), ("type", s("Disk")), ("mode", s("RW")), ("userdevice", s("0"))]);
        let steps = disk_steps(&t, "B", &vbd, &mof("instance of Xen_DiskSettingData { VirtualQuantity = 2048; ElementName = \"boot\"; Bootable = true; Access = 3; PoolID = \"sr\"; };")).unwrap();
        assert_eq!(methods(&steps), ["VBD.set_bootable", "VDI.set_name_label", "VDI.resize"]);
        assert_eq!(steps[2].inverse, None, "a resize cannot be taken back");
        assert!(disk_steps(&t, "B", &vbd, &mof("instance of Xen_DiskSettingData { VirtualQuantity = 10; };")).unwrap_err().contains("shrink"));
        assert!(disk_steps(&t, "B", &vbd, &mof("instance of Xen_DiskSettingData { HostExtentName = \"iso\"; };")).unwrap_err().contains("cannot be changed"));
        assert!(disk_steps(&t, "B", &vbd, &mof("instance of Xen_DiskSettingData { PoolID = \"other\"; };")).unwrap_err().contains("another SR"));
        let cd = rec("VBD", vec![("uuid", s("cd")), ("VDI", s("OpaqueRef:NULL")), ("empty", Wire::Bool(true)), ("type", s("CD")), ("mode", s("RO")), ("userdevice", s("3"))]);
        let insert = disk_steps(&t, "C", &cd, &mof("instance of Xen_DiskSettingData { HostExtentName = \"iso\"; };")).unwrap();
        assert_eq!(methods(&insert), ["VBD.insert"]);
        t.insert("network", "N", rec("network", vec![("uuid", s("net"))]));
        t.insert("network", "N2", rec("network", vec![("uuid", s("net2"))]));
        let vif = rec("VIF", vec![("uuid", s("vif")), ("MAC", s("02:00:00:00:00:01")), ("device", s("0")), ("network", s("N"))]);
        assert_eq!(methods(&nic_steps(&t, "F", &vif, &mof("instance of Xen_NetworkPortSettingData { PoolID = \"net2\"; Address = \"02-00-00-00-00-01\"; };")).unwrap()), ["VIF.move"]);
        assert!(nic_steps(&t, "F", &vif, &mof("instance of Xen_NetworkPortSettingData { Address = \"02:00:00:00:00:02\"; };")).unwrap_err().contains("read-only"));
        assert!(nic_steps(&t, "F", &vif, &mof("instance of Xen_NetworkPortSettingData { PoolID = \"nope\"; };")).is_err());
    }
}
