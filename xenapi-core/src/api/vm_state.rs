//! A VM's runtime state in the store, kept in step with its domain: power state, domid,
//! residence, metrics, `allowed_operations`. Also what happens at start-up (reconcile the store
//! with what the backend runs), crashed domains, and the periodic metrics refresh.

use super::Xapi;
use crate::backend::{BackendError, DomId, DomainDetail, DomainSpec, DomainState, GuestShutdown};
use crate::error::ApiError;
use crate::generated::{VmOperations, VmPowerState};
use crate::lifecycle::{self, VmView};
use crate::model::{model, Class};
use crate::store::{Record, Tx};
use crate::value::{Value, NULL_REF};
use std::path::PathBuf;

pub fn vm_class() -> &'static Class {
    model().class("VM").expect("VM in model")
}

fn string_pairs(v: &Value) -> Vec<(String, String)> {
    match v {
        Value::Map(m) => m.iter().map(|(k, v)| (k.key_string(), v.key_string())).collect(),
        _ => vec![],
    }
}

/// Pairs of a map whose keys or values are enum values, typed; pairs that do not parse are left
/// out (the store holds only values the model allows).
fn enum_pairs<K, V>(v: &Value, key: impl Fn(&str) -> Option<K>, val: impl Fn(&str) -> Option<V>) -> Vec<(K, V)> {
    string_pairs(v).iter().filter_map(|(k, v)| Some((key(k)?, val(v)?))).collect()
}

/// A VM's power state as stored.
pub fn power_state(rec: &Record) -> VmPowerState {
    let s = rec.str(vm_class(), "power_state");
    VmPowerState::from_wire(s).unwrap_or_else(|| {
        tracing::warn!(power_state = s, "a VM record holds an unknown power state; taken as Halted");
        VmPowerState::Halted
    })
}

/// Whether the VM has a domain (it runs or is paused).
pub fn has_domain(rec: &Record) -> bool {
    matches!(power_state(rec), VmPowerState::Running | VmPowerState::Paused)
}

/// The lifecycle's view of a VM record.
pub fn view(r: &str, rec: &Record) -> VmView {
    let c = vm_class();
    let flag = |f: &str| rec.get(c, f).as_bool() == Some(true);
    VmView {
        vm_ref: r.to_string(),
        power_state: power_state(rec),
        is_template: flag("is_a_template"),
        is_default_template: flag("is_default_template"),
        is_snapshot: flag("is_a_snapshot"),
        is_control_domain: flag("is_control_domain"),
        current_operations: enum_pairs(rec.get(c, "current_operations"), |k| Some(k.to_string()), VmOperations::from_wire),
        blocked_operations: enum_pairs(rec.get(c, "blocked_operations"), VmOperations::from_wire, |v| Some(v.to_string())),
    }
}

pub fn refresh_allowed(r: &str, rec: &mut Record) {
    let ops = lifecycle::allowed_operations(&view(r, rec), super::is_implemented);
    rec.set(vm_class(), "allowed_operations", Value::Set(ops.into_iter().map(|o| Value::str(o.wire_name())).collect()));
}

/// Changes a VM record and republishes its `allowed_operations`: every change of a VM goes
/// through here, so the list never goes stale.
pub fn update_vm<R>(tx: &mut Tx<'_>, r: &str, f: impl FnOnce(&mut Record) -> Result<R, ApiError>) -> Result<R, ApiError> {
    tx.update("VM", r, |rec| {
        let out = f(rec)?;
        refresh_allowed(r, rec);
        Ok(out)
    })
}

pub fn int(rec: &Record, f: &str) -> i64 {
    rec.get(vm_class(), f).as_int().unwrap_or(0)
}

/// What the backend needs to build the VM's domain, its devices left out
/// ([`super::vm_devices::domain_spec`] adds them).
pub fn domain_spec(rec: &Record) -> DomainSpec {
    let c = vm_class();
    let s = |f: &str| rec.str(c, f).to_string();
    let detail = DomainDetail {
        domain_type: s("domain_type"),
        pv_kernel: s("PV_kernel"),
        pv_ramdisk: s("PV_ramdisk"),
        pv_args: s("PV_args"),
        pv_bootloader: s("PV_bootloader"),
        pv_bootloader_args: s("PV_bootloader_args"),
        hvm_boot_policy: s("HVM_boot_policy"),
        hvm_boot_params: string_pairs(rec.get(c, "HVM_boot_params")),
        platform: string_pairs(rec.get(c, "platform")),
        memory_static_min: int(rec, "memory_static_min"),
        memory_dynamic_min: int(rec, "memory_dynamic_min"),
        vcpus_params: string_pairs(rec.get(c, "VCPUs_params")),
        actions_after_shutdown: s("actions_after_shutdown"),
        actions_after_reboot: s("actions_after_reboot"),
        actions_after_crash: s("actions_after_crash"),
        disks: vec![],
        nics: vec![],
    };
    DomainSpec {
        vm_uuid: rec.str(c, "uuid").to_string(),
        name: rec.str(c, "name_label").to_string(),
        memory_target: int(rec, "memory_dynamic_max"),
        memory_static_max: int(rec, "memory_static_max"),
        vcpus: int(rec, "VCPUs_at_startup"),
        vcpus_max: int(rec, "VCPUs_max"),
        hvm: !rec.str(c, "HVM_boot_policy").is_empty() || rec.str(c, "domain_type") == "hvm",
        other_config: string_pairs(rec.get(c, "other_config")),
        detail,
    }
}

/// The XenAPI error for a backend failure.
pub fn backend_error(vm: &str, task: Option<&str>, e: BackendError) -> ApiError {
    match e {
        BackendError::NotEnoughMemory { needed, available } => {
            ApiError::new("HOST_NOT_ENOUGH_FREE_MEMORY", [needed.to_string(), available.to_string()])
        }
        BackendError::NotEnoughCpus { vcpus, pcpus } => {
            ApiError::new("HOST_NOT_ENOUGH_PCPUS", [vcpus.to_string(), pcpus.to_string()])
        }
        BackendError::ShutdownTimeout { timeout_secs } => {
            ApiError::new("VM_SHUTDOWN_TIMEOUT", [vm.to_string(), crate::value::format_float(timeout_secs)])
        }
        BackendError::GuestLacksFeature(_) => ApiError::new("VM_LACKS_FEATURE", [vm]),
        BackendError::DeviceAlreadyAttached(d) => ApiError::new("DEVICE_ALREADY_ATTACHED", [d]),
        BackendError::DeviceNotAttached(d) => ApiError::new("DEVICE_ALREADY_DETACHED", [d]),
        BackendError::Untranslatable { field, value, reason } => ApiError::new("INVALID_VALUE", [field, format!("{value} ({reason})")]),
        BackendError::Cancelled => ApiError::new("TASK_CANCELLED", [task.unwrap_or("")]),
        BackendError::NoSuchDomain(u) => ApiError::internal(format!("VM {vm} has no domain (uuid {u})")),
        BackendError::Failed(m) => ApiError::internal(m),
    }
}

/// Where the suspend image of a VM lives.
pub fn suspend_image(xapi: &Xapi, vm_uuid: &str) -> PathBuf {
    xapi.config.state_dir.join("suspend").join(format!("{vm_uuid}.img"))
}

fn set_host_memory_free(tx: &mut Tx<'_>, xapi: &Xapi) -> Result<(), ApiError> {
    let host = tx.must_get("host", &xapi.this_host)?;
    let metrics = host.str(model().class("host").unwrap(), "metrics").to_string();
    let free = xapi.backend.host_info().memory_free;
    let mc = model().class("host_metrics").unwrap();
    if tx.exists("host_metrics", &metrics) {
        tx.update("host_metrics", &metrics, |m| {
            m.set(mc, "memory_free", Value::Int(free));
            m.set(mc, "last_updated", Value::DateTime(crate::time_fmt::now()));
            Ok(())
        })?;
    }
    Ok(())
}

fn update_metrics(tx: &mut Tx<'_>, metrics: &str, f: impl FnOnce(&Class, &mut Record)) -> Result<(), ApiError> {
    if !tx.exists("VM_metrics", metrics) {
        return Ok(());
    }
    let mc = model().class("VM_metrics").unwrap();
    tx.update("VM_metrics", metrics, |m| {
        f(mc, m);
        m.set(mc, "last_updated", Value::DateTime(crate::time_fmt::now()));
        Ok(())
    })
}

/// Records that the VM's domain runs (or is paused). `fresh` when the domain was just built
/// (a start, reboot or resume), which resets the start time.
pub fn mark_running(tx: &mut Tx<'_>, xapi: &Xapi, vm: &str, domid: DomId, paused: bool, fresh: bool) -> Result<(), ApiError> {
    let c = vm_class();
    let host = xapi.this_host.clone();
    let metrics = update_vm(tx, vm, |rec| {
        let state = if paused { VmPowerState::Paused } else { VmPowerState::Running };
        rec.set(c, "power_state", Value::str(state.wire_name()));
        rec.set(c, "domid", Value::Int(domid));
        rec.set(c, "resident_on", Value::str(&host));
        rec.set(c, "scheduled_to_be_resident_on", Value::null_ref());
        Ok(rec.str(c, "metrics").to_string())
    })?;
    tx.add_to_set("host", &host, "resident_VMs", vm)?;
    let uuid = tx.must_get("VM", vm)?.str(c, "uuid").to_string();
    let dom = xapi.backend.domain(&uuid);
    let domain_type = tx.must_get("VM", vm)?.str(c, "domain_type").to_string();
    update_metrics(tx, &metrics, |mc, m| {
        if let Some(d) = &dom {
            m.set(mc, "memory_actual", Value::Int(d.memory_actual));
            m.set(mc, "VCPUs_number", Value::Int(d.vcpus));
            if fresh {
                m.set(mc, "start_time", Value::DateTime(d.started));
            }
        }
        m.set(mc, "state", Value::Set(vec![Value::str(if paused { "paused" } else { "running" })]));
        m.set(mc, "current_domain_type", Value::str(if domain_type.is_empty() { "unspecified" } else { &domain_type }));
    })?;
    // A guest boots when its domain first runs (a start, a reboot, or the unpause of a VM that
    // was started paused); then its agent reports.
    if !paused && (fresh || !super::guest_agent::is_live(tx, vm)) {
        super::guest_agent::report_boot(tx, vm)?;
    }
    set_host_memory_free(tx, xapi)
}

/// Records that the VM has no domain: `Halted` or `Suspended`; its disks and NICs are no longer
/// attached, whatever stopped it (an operation, a crash, or a domain gone while the server was down).
pub fn mark_stopped(tx: &mut Tx<'_>, xapi: &Xapi, vm: &str, power_state: VmPowerState) -> Result<(), ApiError> {
    super::vbd::detach_all(tx, vm)?;
    super::vif::detach_all(tx, vm)?;
    super::guest_agent::report_gone(tx, vm)?;
    let c = vm_class();
    let metrics = update_vm(tx, vm, |rec| {
        rec.set(c, "power_state", Value::str(power_state.wire_name()));
        rec.set(c, "domid", Value::Int(-1));
        rec.set(c, "resident_on", Value::null_ref());
        Ok(rec.str(c, "metrics").to_string())
    })?;
    tx.remove_from_set("host", &xapi.this_host, "resident_VMs", vm)?;
    update_metrics(tx, &metrics, |mc, m| {
        m.set(mc, "memory_actual", Value::Int(0));
        m.set(mc, "VCPUs_number", Value::Int(0));
        m.set(mc, "VCPUs_utilisation", Value::Map(vec![]));
        m.set(mc, "state", Value::Set(vec![]));
    })?;
    set_host_memory_free(tx, xapi)
}

fn vm_by_uuid(xapi: &Xapi, uuid: &str) -> Option<String> {
    xapi.store.read().table("VM").by_uuid(uuid).map(str::to_string)
}

/// At start-up the backend is the truth for what runs: VMs the store thinks run but that have
/// no domain are halted, domains without a running VM are destroyed, interrupted operations are
/// forgotten, and every VM's `allowed_operations` is recomputed.
pub fn reconcile(xapi: &Xapi) -> Result<(), ApiError> {
    let c = vm_class();
    let domains = xapi.backend.domains();
    let vms: Vec<(String, Record)> =
        xapi.store.read().table("VM").objects.iter().map(|(r, rec)| (r.clone(), (**rec).clone())).collect();
    let mut keep = Vec::new();
    xapi.store.write(|tx| {
        for (r, rec) in &vms {
            if rec.get(c, "is_control_domain").as_bool() == Some(true) {
                continue;
            }
            let uuid = rec.str(c, "uuid");
            let dom = domains.iter().find(|d| d.vm_uuid == uuid);
            let state = power_state(rec);
            update_vm(tx, r, |rec| {
                rec.set(c, "current_operations", Value::Map(vec![]));
                Ok(())
            })?;
            match (state, dom) {
                (VmPowerState::Running | VmPowerState::Paused, Some(d)) => {
                    keep.push(uuid.to_string());
                    let paused = d.state != DomainState::Running;
                    mark_running(tx, xapi, r, d.domid, paused, false)?;
                }
                (VmPowerState::Running | VmPowerState::Paused, None) => {
                    tracing::warn!(vm = %r, "VM was {state} but its domain is gone: now Halted");
                    mark_stopped(tx, xapi, r, VmPowerState::Halted)?;
                }
                (VmPowerState::Suspended, _) if !suspend_image(xapi, uuid).exists() => {
                    tracing::warn!(vm = %r, "suspend image missing: now Halted");
                    mark_stopped(tx, xapi, r, VmPowerState::Halted)?;
                }
                _ => {}
            }
        }
        Ok(())
    })?;
    for d in domains.iter().filter(|d| !keep.contains(&d.vm_uuid)) {
        tracing::warn!(domid = d.domid, vm_uuid = %d.vm_uuid, "destroying a domain no running VM owns");
        let _ = xapi.backend.destroy(&d.vm_uuid);
    }
    xapi.store.write(|tx| set_host_memory_free(tx, xapi))
}

/// Held while guests that stopped by themselves are taken from the backend and their actions
/// applied: a caller that finds nothing left to take (housekeeping took it) waits until the
/// actions are applied, so `VM.send_sysrq` answers after the record shows the outcome.
static STOPPED_GUESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn stopped_guests() -> std::sync::MutexGuard<'static, ()> {
    STOPPED_GUESTS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Applies `actions_after_crash` to every VM whose domain crashed.
pub fn handle_crashes(xapi: &Xapi) {
    let _one_at_a_time = stopped_guests();
    for uuid in xapi.backend.take_crashed() {
        let Some(vm) = vm_by_uuid(xapi, &uuid) else {
            let _ = xapi.backend.destroy(&uuid);
            continue;
        };
        if let Err(e) = apply_crash_action(xapi, &vm, &uuid) {
            tracing::error!(vm = %vm, error = %e, "could not apply actions_after_crash");
        }
    }
}

/// Applies `actions_after_shutdown` or `actions_after_reboot` to every VM whose guest shut
/// down or rebooted by itself (a real guest can; the simulated one cannot).
pub fn handle_guest_shutdowns(xapi: &Xapi) {
    let _one_at_a_time = stopped_guests();
    let c = vm_class();
    for (uuid, why) in xapi.backend.take_guest_shutdowns() {
        let Some(vm) = vm_by_uuid(xapi, &uuid) else {
            let _ = xapi.backend.destroy(&uuid);
            continue;
        };
        let field = match why {
            GuestShutdown::Poweroff => "actions_after_shutdown",
            GuestShutdown::Reboot => "actions_after_reboot",
        };
        let action = xapi.store.read().get("VM", &vm).map(|r| r.str(c, field).to_string()).unwrap_or_default();
        tracing::info!(vm = %vm, ?why, action = %action, "the guest stopped by itself");
        let r = if action == "restart" {
            xapi.backend.hard_reboot(&uuid).map_err(|e| backend_error(&vm, None, e)).and_then(|domid| {
                xapi.store.write(|tx| mark_running(tx, xapi, &vm, domid, false, true))
            })
        } else {
            match xapi.backend.destroy(&uuid) {
                Ok(()) | Err(BackendError::NoSuchDomain(_)) => xapi.store.write(|tx| mark_stopped(tx, xapi, &vm, VmPowerState::Halted)),
                Err(e) => Err(backend_error(&vm, None, e)),
            }
        };
        if let Err(e) = r {
            tracing::error!(vm = %vm, error = %e, "could not apply {field}");
        }
    }
}

fn apply_crash_action(xapi: &Xapi, vm: &str, uuid: &str) -> Result<(), ApiError> {
    let c = vm_class();
    let action = xapi.store.read().get("VM", vm).map(|r| r.str(c, "actions_after_crash").to_string()).unwrap_or_default();
    tracing::info!(vm = %vm, action = %action, "domain crashed");
    if action.starts_with("coredump") {
        write_core_dump(xapi, uuid);
    }
    match action.as_str() {
        "restart" | "coredump_and_restart" | "rename_restart" => {
            let domid = xapi.backend.hard_reboot(uuid).map_err(|e| backend_error(vm, None, e))?;
            xapi.store.write(|tx| mark_running(tx, xapi, vm, domid, false, true))
        }
        // The crashed domain stays for inspection; it no longer runs.
        "preserve" => xapi.store.write(|tx| {
            let domid = xapi.backend.domain(uuid).map(|d| d.domid).unwrap_or(-1);
            mark_running(tx, xapi, vm, domid, true, false)
        }),
        _ => {
            xapi.backend.destroy(uuid).map_err(|e| backend_error(vm, None, e))?;
            xapi.store.write(|tx| mark_stopped(tx, xapi, vm, VmPowerState::Halted))
        }
    }
}

/// A core file for `coredump_*` actions, in `<state-dir>/crashdumps/`.
fn write_core_dump(xapi: &Xapi, uuid: &str) {
    let dir = xapi.config.state_dir.join("crashdumps");
    let path = dir.join(format!("{uuid}-{}.core", crate::time_fmt::now()));
    let body = format!("xencim simulated core dump of VM {uuid}\n{:?}\n", xapi.backend.domain(uuid));
    if let Err(e) = crate::state_dir::create_private_dir(&dir).and_then(|_| crate::state_dir::write_private(&path, body.as_bytes())) {
        tracing::warn!(error = %e, "cannot write core dump");
    }
}

/// Copies the backend's live figures into VM_metrics and host_metrics.
pub fn refresh_metrics(xapi: &Xapi) {
    let c = vm_class();
    let domains = xapi.backend.domains();
    if domains.is_empty() {
        return;
    }
    let targets: Vec<(String, crate::backend::DomainInfo)> = {
        let t = xapi.store.read();
        let vms = t.table("VM");
        domains
            .into_iter()
            .filter_map(|d| {
                let vm = vms.by_uuid(&d.vm_uuid)?;
                let metrics = t.get("VM", vm)?.str(c, "metrics").to_string();
                (metrics != NULL_REF).then_some((metrics, d))
            })
            .collect()
    };
    let _ = xapi.store.write(|tx| {
        for (metrics, d) in &targets {
            update_metrics(tx, metrics, |mc, m| {
                m.set(mc, "memory_actual", Value::Int(d.memory_actual));
                m.set(mc, "VCPUs_number", Value::Int(d.vcpus));
                m.set(
                    mc,
                    "VCPUs_utilisation",
                    Value::Map(d.vcpu_utilisation.iter().enumerate().map(|(i, u)| (Value::Int(i as i64), Value::Float(*u))).collect()),
                );
            })?;
        }
        set_host_memory_free(tx, xapi)
    });
}
