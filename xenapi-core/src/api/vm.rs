//! VM messages: creation and destruction with their metrics and devices, device slots, and the
//! assertions. Power operations are in `vm_power`, copies in `vm_copy`, runtime state in
//! `vm_state`.

use super::vm_power::operate;
use super::vm_state::{domain_spec, refresh_allowed, update_vm, view, vm_class};
use super::{vm_copy, vm_power};
use crate::dispatch::implicit::record_from_create_args;
use crate::dispatch::{Ctx, Dispatcher, Handler};
use crate::error::ApiError;
use crate::generated::args::*;
use crate::generated::handlers::{register_vm, VmMessages};
use crate::generated::{HostRecord, VmOperations, VmPowerState, VmRecord};
use crate::lifecycle;
use crate::model::model;
use crate::store::{new_ref, new_uuid, Record, Tx};
use crate::typed::{self, CreateArgs, MessageArgs, OnObject, Ref, Reply};
use crate::value::Value;

/// Creates a VM_metrics object for a new VM and returns its ref.
pub fn create_metrics(tx: &mut Tx<'_>) -> String {
    let c = model().class("VM_metrics").unwrap();
    let mut m = Record::new_default(c);
    m.set(c, "uuid", Value::str(new_uuid()));
    m.set(c, "install_time", Value::DateTime(crate::time_fmt::now()));
    m.set(c, "last_updated", Value::DateTime(crate::time_fmt::now()));
    let r = new_ref();
    tx.put("VM_metrics", &r, m);
    r
}

/// Stores a new VM record with its metrics and `allowed_operations`.
pub fn insert_vm(tx: &mut Tx<'_>, mut rec: Record) -> String {
    let c = vm_class();
    let r = new_ref();
    let metrics = create_metrics(tx);
    rec.set(c, "metrics", Value::str(metrics));
    rec.set(c, "domid", Value::Int(-1));
    refresh_allowed(&r, &mut rec);
    tx.put("VM", &r, rec);
    r
}

/// `VM.create` (implicit): also creates the VM's metrics object.
fn create(ctx: &Ctx, a: CreateArgs) -> Result<Value, ApiError> {
    let c = vm_class();
    let mut rec = record_from_create_args(c, &a.record)?;
    // A new VM has no domain yet, whatever the record says.
    rec.set(c, "power_state", Value::str(VmPowerState::Halted.wire_name()));
    let r = ctx.xapi.store.write(|tx| Ok(insert_vm(tx, rec)))?;
    Ok(Value::str(r))
}

/// Removes a VM with its metrics and device records; disks stay.
fn destroy_work(o: &super::vm_power::Op) -> Result<(), ApiError> {
    let c = vm_class();
    let vm = o.record()?;
    let uuid = vm.str(c, "uuid").to_string();
    let _ = std::fs::remove_file(super::vm_state::suspend_image(&o.xapi, &uuid));
    o.xapi.store.write(|tx| {
        for (field, class) in [("metrics", "VM_metrics"), ("guest_metrics", "VM_guest_metrics")] {
            let m = vm.str(c, field).to_string();
            if tx.exists(class, &m) {
                tx.delete(class, &m);
            }
        }
        super::vm_copy::delete_devices(tx, &vm);
        let of = vm.str(c, "snapshot_of").to_string();
        if tx.exists("VM", &of) {
            tx.remove_from_set("VM", &of, "snapshots", &o.vm)?;
        }
        if let Value::Set(snaps) = vm.get(c, "snapshots") {
            for s in snaps.iter().filter_map(Value::as_str) {
                if tx.exists("VM", s) {
                    update_vm(tx, s, |rec| {
                        rec.set(c, "snapshot_of", Value::null_ref());
                        Ok(())
                    })?;
                }
            }
        }
        tx.delete("VM", &o.vm);
        Ok(())
    })
}

/// Device numbers not taken by the VM's devices of `list` (VBDs: 0-15, VIFs: 0-6).
fn free_devices(ctx: &Ctx, vm: &str, list: &str, class: &str, field: &str, count: u32) -> Result<Vec<String>, ApiError> {
    let t = ctx.xapi.store.read();
    let rec = t.get("VM", vm).ok_or_else(|| ApiError::handle_invalid("VM", vm))?;
    let dc = model().class(class).unwrap();
    let used: Vec<String> = match rec.get(vm_class(), list) {
        Value::Set(items) => items
            .iter()
            .filter_map(|r| r.as_str().and_then(|r| t.get(class, r)))
            .map(|d| d.str(dc, field).to_string())
            .collect(),
        _ => vec![],
    };
    Ok((0..count).map(|i| i.to_string()).filter(|d| !used.contains(d)).collect())
}

/// Whether the VM could start on this host now: memory and CPUs.
fn assert_can_boot(ctx: &Ctx, vm: &str) -> Result<(), ApiError> {
    let rec = ctx.xapi.store.read().get("VM", vm).cloned().ok_or_else(|| ApiError::handle_invalid("VM", vm))?;
    lifecycle::check(&view(vm, &rec), VmOperations::Start)?;
    let spec = domain_spec(&rec);
    let host = ctx.xapi.backend.host_info();
    // The same figure host.compute_free_memory answers.
    let free = super::memory::host_free(&ctx.xapi)?;
    if spec.memory_target > free {
        return Err(ApiError::new("HOST_NOT_ENOUGH_FREE_MEMORY", [spec.memory_target.to_string(), free.to_string()]));
    }
    if spec.vcpus > host.cpus {
        return Err(ApiError::new("HOST_NOT_ENOUGH_PCPUS", [spec.vcpus.to_string(), host.cpus.to_string()]));
    }
    Ok(())
}

/// Changes the VM's NVRAM map under xapi's `changing_NVRAM` operation: only while the VM is
/// halted (the guest's varstore owns it while it runs), and not on snapshots or dom0.
fn change_nvram(
    ctx: &Ctx,
    vm: &str,
    f: impl FnOnce(&str, &mut Vec<(Value, Value)>) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    ctx.xapi.store.write(|tx| {
        let rec = tx.must_get("VM", vm)?;
        lifecycle::check(&view(vm, &rec), VmOperations::ChangingNvram)?;
        update_vm(tx, vm, |rec| {
            let c = vm_class();
            let uuid = rec.str(c, "uuid").to_string();
            let mut m = match rec.get(c, "NVRAM") {
                Value::Map(m) => m.clone(),
                _ => vec![],
            };
            f(&uuid, &mut m)?;
            rec.set(c, "NVRAM", Value::Map(m));
            Ok(())
        })
    })
}

/// `VM.set_NVRAM`: the whole map, under the same operation as adding and removing a key.
fn set_nvram(ctx: &Ctx, a: VmSetNvramArgs) -> Result<(), ApiError> {
    change_nvram(ctx, &a.self_, |_, m| {
        *m = a.value.iter().map(|(k, v)| (Value::str(k), Value::str(v))).collect();
        Ok(())
    })
}

/// The VM class's custom messages; power operations are in `vm_power`, copies in `vm_copy`.
pub struct VmApi;

impl VmMessages for VmApi {
    fn assert_can_boot_here(ctx: &Ctx, a: VmAssertCanBootHereArgs) -> Result<(), ApiError> {
        if *a.host != *ctx.xapi.this_host {
            return Err(ApiError::new("HOST_OFFLINE", [a.host.as_str()]));
        }
        assert_can_boot(ctx, &a.self_)
    }

    fn assert_operation_valid(ctx: &Ctx, a: VmAssertOperationValidArgs) -> Result<(), ApiError> {
        let rec = ctx.xapi.store.read().get("VM", &a.self_).cloned().ok_or_else(|| ApiError::handle_invalid("VM", &a.self_))?;
        lifecycle::check(&view(&a.self_, &rec), a.op)
    }

    fn compute_memory_overhead(ctx: &Ctx, a: VmComputeMemoryOverheadArgs) -> Result<i64, ApiError> {
        let rec = ctx.xapi.store.read().get("VM", &a.vm).cloned().ok_or_else(|| ApiError::handle_invalid("VM", &a.vm))?;
        Ok(super::memory::vm_overhead(&rec))
    }

    fn maximise_memory(ctx: &Ctx, a: VmMaximiseMemoryArgs) -> Result<i64, ApiError> {
        let rec = ctx.xapi.store.read().get("VM", &a.self_).cloned().ok_or_else(|| ApiError::handle_invalid("VM", &a.self_))?;
        super::memory::maximise(&rec, a.total, a.approximate)
    }

    /// Deprecated in xapi, which answers true for every VM (no balloon driver is judged).
    fn get_cooperative(ctx: &Ctx, a: VmGetCooperativeArgs) -> Result<bool, ApiError> {
        ctx.xapi.store.read().get("VM", &a.self_).ok_or_else(|| ApiError::handle_invalid("VM", &a.self_))?;
        Ok(true)
    }

    fn add_to_nvram(ctx: &Ctx, a: VmAddToNvramArgs) -> Result<(), ApiError> {
        change_nvram(ctx, &a.self_, |uuid, m| {
            if m.iter().any(|(k, _)| k.as_str() == Some(a.key.as_str())) {
                return Err(ApiError::new("MAP_DUPLICATE_KEY", ["VM", "NVRAM", uuid, a.key.as_str()]));
            }
            m.push((Value::str(&a.key), Value::str(&a.value)));
            Ok(())
        })
    }

    fn remove_from_nvram(ctx: &Ctx, a: VmRemoveFromNvramArgs) -> Result<(), ApiError> {
        // As xapi's database: removing a key that is not there changes nothing.
        change_nvram(ctx, &a.self_, |_, m| {
            m.retain(|(k, _)| k.as_str() != Some(a.key.as_str()));
            Ok(())
        })
    }

    fn get_allowed_vbd_devices(ctx: &Ctx, a: VmGetAllowedVbdDevicesArgs) -> Result<Vec<String>, ApiError> {
        free_devices(ctx, &a.vm, "VBDs", "VBD", "userdevice", 16)
    }

    fn get_allowed_vif_devices(ctx: &Ctx, a: VmGetAllowedVifDevicesArgs) -> Result<Vec<String>, ApiError> {
        free_devices(ctx, &a.vm, "VIFs", "VIF", "device", 7)
    }

    fn get_possible_hosts(ctx: &Ctx, a: VmGetPossibleHostsArgs) -> Result<Vec<Ref<HostRecord>>, ApiError> {
        Ok(match assert_can_boot(ctx, &a.vm) {
            Ok(()) => vec![Ref::new(ctx.xapi.this_host.as_str())],
            Err(_) => vec![],
        })
    }

    fn update_allowed_operations(ctx: &Ctx, a: VmUpdateAllowedOperationsArgs) -> Result<(), ApiError> {
        ctx.xapi.store.write(|tx| update_vm(tx, &a.self_, |_| Ok(())))
    }

    fn start(ctx: Ctx, a: VmStartArgs) -> Reply<()> {
        vm_power::start(ctx, a)
    }
    fn start_on(ctx: Ctx, a: VmStartOnArgs) -> Reply<()> {
        vm_power::start_on(ctx, a)
    }
    fn pause(ctx: Ctx, a: VmPauseArgs) -> Reply<()> {
        vm_power::pause(ctx, a)
    }
    fn unpause(ctx: Ctx, a: VmUnpauseArgs) -> Reply<()> {
        vm_power::unpause(ctx, a)
    }
    fn clean_shutdown(ctx: Ctx, a: VmCleanShutdownArgs) -> Reply<()> {
        vm_power::clean_shutdown(ctx, a)
    }
    fn hard_shutdown(ctx: Ctx, a: VmHardShutdownArgs) -> Reply<()> {
        vm_power::hard_shutdown(ctx, a)
    }
    fn shutdown(ctx: Ctx, a: VmShutdownArgs) -> Reply<()> {
        vm_power::shutdown(ctx, a)
    }
    fn clean_reboot(ctx: Ctx, a: VmCleanRebootArgs) -> Reply<()> {
        vm_power::clean_reboot(ctx, a)
    }
    fn hard_reboot(ctx: Ctx, a: VmHardRebootArgs) -> Reply<()> {
        vm_power::hard_reboot(ctx, a)
    }
    fn suspend(ctx: Ctx, a: VmSuspendArgs) -> Reply<()> {
        vm_power::suspend(ctx, a)
    }
    fn resume(ctx: Ctx, a: VmResumeArgs) -> Reply<()> {
        vm_power::resume(ctx, a)
    }
    fn resume_on(ctx: Ctx, a: VmResumeOnArgs) -> Reply<()> {
        vm_power::resume_on(ctx, a)
    }
    fn send_sysrq(ctx: Ctx, a: VmSendSysrqArgs) -> Reply<()> {
        vm_power::send_sysrq(ctx, a)
    }
    fn send_trigger(ctx: Ctx, a: VmSendTriggerArgs) -> Reply<()> {
        vm_power::send_trigger(ctx, a)
    }
    fn power_state_reset(ctx: Ctx, a: VmPowerStateResetArgs) -> Reply<()> {
        vm_power::power_state_reset(ctx, a)
    }
    fn set_memory(ctx: Ctx, a: VmSetMemoryArgs) -> Reply<()> {
        vm_power::set_memory(ctx, a)
    }
    fn set_memory_dynamic_range(ctx: Ctx, a: VmSetMemoryDynamicRangeArgs) -> Reply<()> {
        vm_power::set_memory_dynamic_range(ctx, a)
    }
    fn set_memory_static_range(ctx: Ctx, a: VmSetMemoryStaticRangeArgs) -> Reply<()> {
        vm_power::set_memory_static_range(ctx, a)
    }
    fn set_memory_limits(ctx: Ctx, a: VmSetMemoryLimitsArgs) -> Reply<()> {
        vm_power::set_memory_limits(ctx, a)
    }
    fn set_vcpus_number_live(ctx: Ctx, a: VmSetVcpusNumberLiveArgs) -> Reply<()> {
        vm_power::set_vcpus_number_live(ctx, a)
    }
    fn clone(ctx: Ctx, a: VmCloneArgs) -> Reply<Ref<VmRecord>> {
        vm_copy::clone(ctx, a)
    }
    fn copy(ctx: Ctx, a: VmCopyArgs) -> Reply<Ref<VmRecord>> {
        vm_copy::copy(ctx, a)
    }
    fn snapshot(ctx: Ctx, a: VmSnapshotArgs) -> Reply<Ref<VmRecord>> {
        vm_copy::snapshot(ctx, a)
    }
    fn revert(ctx: Ctx, a: VmRevertArgs) -> Reply<()> {
        vm_copy::revert(ctx, a)
    }
    fn provision(ctx: Ctx, a: VmProvisionArgs) -> Reply<()> {
        vm_copy::provision(ctx, a)
    }
}

fn destroy(ctx: Ctx, a: OnObject<VmRecord>) -> Reply<()> {
    Box::pin(async move { operate(&ctx, &a.this, VmOperations::Destroy, false, destroy_work).await })
}

/// Turning a VM into a template is a lifecycle operation (halted VMs only).
fn set_is_a_template(ctx: &Ctx, a: OnObject<VmRecord>) -> Result<(), ApiError> {
    let value = a.value(typed::boolean)?;
    ctx.xapi.store.write(|tx| {
        update_vm(tx, &a.this, |rec| {
            if value {
                lifecycle::check(&view(&a.this, rec), VmOperations::MakeIntoTemplate)?;
            }
            rec.set(vm_class(), "is_a_template", Value::Bool(value));
            Ok(())
        })
    })
}

/// Binds the VM class: the generated trait's messages, and the checked versions of implicit
/// messages and declared plain setters (typed through `OnObject` and their argument structs).
pub fn register(d: &mut Dispatcher) {
    register_vm::<VmApi>(d);
    let void = |_: ()| Value::void();
    d.override_implicit_with("VM.create", typed::sync_handler(create, |v: Value| v));
    d.override_implicit_with("VM.destroy", typed::async_handler(destroy, void));
    d.override_implicit_with("VM.set_is_a_template", typed::sync_handler(set_is_a_template, void));
    // Changing blocked_operations changes what is allowed.
    for name in ["VM.set_blocked_operations", "VM.add_to_blocked_operations", "VM.remove_from_blocked_operations"] {
        let generic = d.get(name).expect("implicit map op").handler.clone();
        d.override_implicit_with(
            name,
            Handler::Async(std::sync::Arc::new(move |ctx: Ctx, a: Vec<Value>| {
                let generic = generic.clone();
                Box::pin(async move {
                    let call = <OnObject<VmRecord> as typed::Decode>::decode(a)?;
                    let vm = call.this.clone();
                    let out = crate::dispatch::run(&generic, ctx.clone(), call.into_args()).await?;
                    ctx.xapi.store.write(|tx| update_vm(tx, &vm, |_| Ok(())))?;
                    Ok(out)
                })
            })),
        );
    }
    // Declared plain setters whose change is a lifecycle operation with checks.
    d.implement(VmSetMemoryStaticMaxArgs::MESSAGE, typed::async_handler(vm_power::set_memory_static_max, void));
    d.implement(VmSetMemoryStaticMinArgs::MESSAGE, typed::async_handler(vm_power::set_memory_static_min, void));
    d.implement(VmSetMemoryDynamicMaxArgs::MESSAGE, typed::async_handler(vm_power::set_memory_dynamic_max, void));
    d.implement(VmSetMemoryDynamicMinArgs::MESSAGE, typed::async_handler(vm_power::set_memory_dynamic_min, void));
    d.implement(VmSetVcpusMaxArgs::MESSAGE, typed::async_handler(vm_power::set_vcpus_max, void));
    d.implement(VmSetVcpusAtStartupArgs::MESSAGE, typed::async_handler(vm_power::set_vcpus_at_startup, void));
    d.implement(VmSetNvramArgs::MESSAGE, typed::sync_handler(set_nvram, void));
}
