//! VM power operations: start, pause, shutdown, reboot, suspend, resume, and the live changes of
//! memory and vCPUs. Each runs through [`operate`]: lifecycle check and `current_operations`
//! entry in one transaction, the backend work on a blocking thread, then the entry removed.

use super::vm_state::{backend_error, int, mark_running, mark_stopped, power_state, suspend_image, update_vm, view, vm_class};
use super::Xapi;
use crate::backend::{BackendError, Cancel};
use crate::dispatch::Ctx;
use crate::error::ApiError;
use crate::generated::args::*;
use crate::generated::{VmOperations, VmPowerState};
use crate::lifecycle;
use crate::store::{new_ref, Record};
use crate::typed::Reply;
use crate::value::Value;
use std::sync::Arc;

/// What the work of an operation gets.
pub struct Op {
    pub xapi: Arc<Xapi>,
    pub vm: String,
    pub task: Option<String>,
    pub cancel: Cancel,
}

impl Op {
    pub fn record(&self) -> Result<Record, ApiError> {
        self.xapi.store.read().get("VM", &self.vm).map(|r| (**r).clone()).ok_or_else(|| ApiError::handle_invalid("VM", &self.vm))
    }
    pub fn uuid(&self) -> Result<String, ApiError> {
        Ok(self.record()?.str(vm_class(), "uuid").to_string())
    }
    pub fn fail(&self, e: BackendError) -> ApiError {
        backend_error(&self.vm, self.task.as_deref(), e)
    }
    pub fn progress(&self, p: f64) {
        super::task::set_progress(&self.xapi.store, self.task.as_deref(), p);
    }
}

/// Runs `work` as lifecycle operation `op` on `vm`.
pub async fn operate<T: Send + 'static>(
    ctx: &Ctx,
    vm: &str,
    op: VmOperations,
    cancellable: bool,
    work: impl FnOnce(&Op) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let xapi = ctx.xapi.clone();
    let op_id = ctx.task.clone().unwrap_or_else(new_ref);
    xapi.store.write(|tx| {
        update_vm(tx, vm, |rec| {
            lifecycle::check(&view(vm, rec), op)?;
            if let Value::Map(m) = &mut rec.fields[vm_class().field_pos("current_operations").unwrap()] {
                m.push((Value::str(&op_id), Value::str(op.wire_name())));
            }
            Ok(())
        })
    })?;
    if let (true, Some(t)) = (cancellable, &ctx.task) {
        super::task::allow_cancel(&xapi.store, t)?;
    }
    let o = Op { xapi: xapi.clone(), vm: vm.to_string(), task: ctx.task.clone(), cancel: xapi.tasks.cancel_flag(ctx.task.as_deref()) };
    // The operation runs to its end on a blocking thread, and takes its entry out of
    // `current_operations` there: when the caller goes away mid-operation (its connection
    // closed), this future is dropped, and the VM must not stay marked as busy forever.
    let done = CurrentOperation { xapi: xapi.clone(), vm: vm.to_string(), op_id };
    tokio::task::spawn_blocking(move || {
        let _done = done;
        work(&o)
    })
    .await
    .unwrap_or_else(|e| Err(ApiError::internal(format!("operation {op} failed: {e}"))))
}

/// Takes an operation's entry out of its VM's `current_operations` when dropped (after the
/// operation, however it ended).
struct CurrentOperation {
    xapi: Arc<Xapi>,
    vm: String,
    op_id: String,
}

impl Drop for CurrentOperation {
    fn drop(&mut self) {
        let (vm, op_id) = (&self.vm, &self.op_id);
        let cleared = self.xapi.store.write(|tx| {
            if tx.exists("VM", vm) {
                update_vm(tx, vm, |rec| {
                    if let Value::Map(m) = &mut rec.fields[vm_class().field_pos("current_operations").unwrap()] {
                        m.retain(|(k, _)| k.as_str() != Some(op_id));
                    }
                    Ok(())
                })?;
            }
            Ok(())
        });
        if let Err(e) = cleared {
            tracing::warn!(vm = %vm, error = %e, "could not clear a finished operation from current_operations");
        }
    }
}

/// `static_min ≤ dynamic_min ≤ dynamic_max ≤ static_max`.
pub fn check_memory(smin: i64, dmin: i64, dmax: i64, smax: i64) -> Result<(), ApiError> {
    if 0 <= smin && smin <= dmin && dmin <= dmax && dmax <= smax {
        Ok(())
    } else {
        Err(ApiError::new(
            "MEMORY_CONSTRAINT_VIOLATION",
            [format!(
                "memory_static_min ({smin}) <= memory_dynamic_min ({dmin}) <= memory_dynamic_max ({dmax}) <= memory_static_max ({smax})"
            )],
        ))
    }
}

fn check_vcpus(at_startup: i64, max: i64) -> Result<(), ApiError> {
    if at_startup < 1 || at_startup > max {
        return Err(ApiError::new("INVALID_VALUE", ["VCPUs_at_startup".to_string(), format!("{at_startup} (VCPUs_max is {max})")]));
    }
    Ok(())
}

/// Builds and starts the VM's domain.
fn start_work(o: &Op, paused: bool) -> Result<(), ApiError> {
    super::host::assert_enabled(&o.xapi)?;
    let rec = o.record()?;
    check_memory(int(&rec, "memory_static_min"), int(&rec, "memory_dynamic_min"), int(&rec, "memory_dynamic_max"), int(&rec, "memory_static_max"))?;
    check_vcpus(int(&rec, "VCPUs_at_startup"), int(&rec, "VCPUs_max"))?;
    super::vbd::check_start(&o.xapi, &o.vm)?;
    let spec = super::vm_devices::domain_spec(&o.xapi, &rec)?;
    let domid = o.xapi.backend.create(&spec).map_err(|e| o.fail(e))?;
    o.progress(0.5);
    if !paused {
        if let Err(e) = o.xapi.backend.unpause(&spec.vm_uuid) {
            let _ = o.xapi.backend.destroy(&spec.vm_uuid);
            return Err(o.fail(e));
        }
    }
    o.xapi.store.write(|tx| mark_running(tx, &o.xapi, &o.vm, domid, paused, true))?;
    attach_devices(o, &spec.vm_uuid)
}

/// Plugs the VM's VBDs and VIFs into its new domain; if that fails the domain goes again.
fn attach_devices(o: &Op, vm_uuid: &str) -> Result<(), ApiError> {
    let r = super::vbd::attach_all(&o.xapi, &o.vm).and_then(|_| super::vif::attach_all(&o.xapi, &o.vm));
    if let Err(e) = r {
        let _ = o.xapi.backend.destroy(vm_uuid);
        o.xapi.store.write(|tx| mark_stopped(tx, &o.xapi, &o.vm, VmPowerState::Halted))?;
        return Err(e);
    }
    Ok(())
}

fn check_this_host(o: &Op, host: &str) -> Result<(), ApiError> {
    if host != o.xapi.this_host {
        return Err(ApiError::new("HOST_OFFLINE", [host]));
    }
    Ok(())
}

fn destroy_domain_and_halt(o: &Op) -> Result<(), ApiError> {
    let rec = o.record()?;
    let uuid = rec.str(vm_class(), "uuid").to_string();
    if power_state(&rec) == VmPowerState::Suspended {
        let _ = std::fs::remove_file(suspend_image(&o.xapi, &uuid));
    } else {
        match o.xapi.backend.destroy(&uuid) {
            Ok(()) | Err(BackendError::NoSuchDomain(_)) => {}
            Err(e) => return Err(o.fail(e)),
        }
    }
    o.xapi.store.write(|tx| mark_stopped(tx, &o.xapi, &o.vm, VmPowerState::Halted))
}

fn clean_shutdown_work(o: &Op) -> Result<(), ApiError> {
    let uuid = o.uuid()?;
    o.xapi.backend.clean_shutdown(&uuid, &o.cancel).map_err(|e| o.fail(e))?;
    o.xapi.store.write(|tx| mark_stopped(tx, &o.xapi, &o.vm, VmPowerState::Halted))
}

fn reboot_into(o: &Op, domid: i64) -> Result<(), ApiError> {
    o.xapi.store.write(|tx| mark_running(tx, &o.xapi, &o.vm, domid, false, true))
}

/// Runs `work` as operation `op` of `vm`, as the handler's future.
fn op_reply(
    ctx: Ctx,
    vm: crate::typed::Ref<crate::generated::VmRecord>,
    op: VmOperations,
    cancellable: bool,
    work: impl FnOnce(&Op) -> Result<(), ApiError> + Send + 'static,
) -> Reply<()> {
    Box::pin(async move { operate(&ctx, &vm, op, cancellable, work).await })
}

pub fn start(ctx: Ctx, a: VmStartArgs) -> Reply<()> {
    op_reply(ctx, a.vm, VmOperations::Start, false, move |o| start_work(o, a.start_paused))
}

pub fn start_on(ctx: Ctx, a: VmStartOnArgs) -> Reply<()> {
    op_reply(ctx, a.vm, VmOperations::StartOn, false, move |o| {
        check_this_host(o, &a.host)?;
        start_work(o, a.start_paused)
    })
}

pub fn pause(ctx: Ctx, a: VmPauseArgs) -> Reply<()> {
    op_reply(ctx, a.vm, VmOperations::Pause, false, |o| {
        let uuid = o.uuid()?;
        o.xapi.backend.pause(&uuid).map_err(|e| o.fail(e))?;
        let domid = int(&o.record()?, "domid");
        o.xapi.store.write(|tx| mark_running(tx, &o.xapi, &o.vm, domid, true, false))
    })
}

pub fn unpause(ctx: Ctx, a: VmUnpauseArgs) -> Reply<()> {
    op_reply(ctx, a.vm, VmOperations::Unpause, false, |o| {
        let uuid = o.uuid()?;
        o.xapi.backend.unpause(&uuid).map_err(|e| o.fail(e))?;
        let domid = int(&o.record()?, "domid");
        o.xapi.store.write(|tx| mark_running(tx, &o.xapi, &o.vm, domid, false, false))
    })
}

pub fn clean_shutdown(ctx: Ctx, a: VmCleanShutdownArgs) -> Reply<()> {
    op_reply(ctx, a.vm, VmOperations::CleanShutdown, true, clean_shutdown_work)
}

pub fn hard_shutdown(ctx: Ctx, a: VmHardShutdownArgs) -> Reply<()> {
    op_reply(ctx, a.vm, VmOperations::HardShutdown, false, destroy_domain_and_halt)
}

/// Clean when the guest can do it, hard otherwise or when it does not in time.
pub fn shutdown(ctx: Ctx, a: VmShutdownArgs) -> Reply<()> {
    op_reply(ctx, a.vm, VmOperations::Shutdown, false, |o| {
        if power_state(&o.record()?) == VmPowerState::Running {
            match clean_shutdown_work(o) {
                Ok(()) => return Ok(()),
                Err(e) if matches!(e.code.as_str(), "VM_SHUTDOWN_TIMEOUT" | "VM_LACKS_FEATURE") => {
                    tracing::info!(vm = %o.vm, "clean shutdown failed ({e}); shutting down hard")
                }
                Err(e) => return Err(e),
            }
        }
        destroy_domain_and_halt(o)
    })
}

pub fn clean_reboot(ctx: Ctx, a: VmCleanRebootArgs) -> Reply<()> {
    op_reply(ctx, a.vm, VmOperations::CleanReboot, true, |o| {
        let rec = o.record()?;
        if rec.str(vm_class(), "actions_after_reboot") == "destroy" {
            return clean_shutdown_work(o);
        }
        let domid = o.xapi.backend.clean_reboot(rec.str(vm_class(), "uuid"), &o.cancel).map_err(|e| o.fail(e))?;
        reboot_into(o, domid)
    })
}

pub fn hard_reboot(ctx: Ctx, a: VmHardRebootArgs) -> Reply<()> {
    op_reply(ctx, a.vm, VmOperations::HardReboot, false, |o| {
        let uuid = o.uuid()?;
        let domid = o.xapi.backend.hard_reboot(&uuid).map_err(|e| o.fail(e))?;
        reboot_into(o, domid)
    })
}

pub fn suspend(ctx: Ctx, a: VmSuspendArgs) -> Reply<()> {
    op_reply(ctx, a.vm, VmOperations::Suspend, true, |o| {
        let uuid = o.uuid()?;
        let image = suspend_image(&o.xapi, &uuid);
        o.xapi.backend.suspend(&uuid, &image, &o.cancel).map_err(|e| o.fail(e))?;
        o.xapi.store.write(|tx| mark_stopped(tx, &o.xapi, &o.vm, VmPowerState::Suspended))
    })
}

fn resume_work(o: &Op, paused: bool) -> Result<(), ApiError> {
    super::host::assert_enabled(&o.xapi)?;
    let rec = o.record()?;
    let spec = super::vm_devices::domain_spec(&o.xapi, &rec)?;
    let image = suspend_image(&o.xapi, &spec.vm_uuid);
    let domid = o.xapi.backend.resume(&spec, &image).map_err(|e| o.fail(e))?;
    if !paused {
        o.xapi.backend.unpause(&spec.vm_uuid).map_err(|e| o.fail(e))?;
    }
    let _ = std::fs::remove_file(&image);
    o.xapi.store.write(|tx| mark_running(tx, &o.xapi, &o.vm, domid, paused, true))?;
    attach_devices(o, &spec.vm_uuid)
}

pub fn resume(ctx: Ctx, a: VmResumeArgs) -> Reply<()> {
    op_reply(ctx, a.vm, VmOperations::Resume, false, move |o| resume_work(o, a.start_paused))
}

pub fn resume_on(ctx: Ctx, a: VmResumeOnArgs) -> Reply<()> {
    op_reply(ctx, a.vm, VmOperations::ResumeOn, false, move |o| {
        check_this_host(o, &a.host)?;
        resume_work(o, a.start_paused)
    })
}

pub fn send_sysrq(ctx: Ctx, a: VmSendSysrqArgs) -> Reply<()> {
    Box::pin(async move {
        let key = a.key;
        operate(&ctx, &a.vm, VmOperations::SendSysrq, false, move |o| {
            let uuid = o.uuid()?;
            o.xapi.backend.send_sysrq(&uuid, &key).map_err(|e| o.fail(e))
        })
        .await?;
        // A crash or a guest's own power-off shows at once rather than at the next
        // housekeeping round.
        let xapi = ctx.xapi.clone();
        tokio::task::spawn_blocking(move || {
            super::vm_state::handle_crashes(&xapi);
            super::vm_state::handle_guest_shutdowns(&xapi);
        })
        .await
        .ok();
        Ok(())
    })
}

pub fn send_trigger(ctx: Ctx, a: VmSendTriggerArgs) -> Reply<()> {
    op_reply(ctx, a.vm, VmOperations::SendTrigger, false, |_| Ok(()))
}

pub fn power_state_reset(ctx: Ctx, a: VmPowerStateResetArgs) -> Reply<()> {
    op_reply(ctx, a.vm, VmOperations::PowerStateReset, false, |o| {
        o.xapi.store.write(|tx| mark_stopped(tx, &o.xapi, &o.vm, VmPowerState::Halted))
    })
}

pub fn set_memory_dynamic_range(ctx: Ctx, a: VmSetMemoryDynamicRangeArgs) -> Reply<()> {
    let (min, max) = (a.min, a.max);
    op_reply(ctx, a.self_, VmOperations::ChangingDynamicRange, false, move |o| {
        let rec = o.record()?;
        check_memory(int(&rec, "memory_static_min"), min, max, int(&rec, "memory_static_max"))?;
        if power_state(&rec) == VmPowerState::Running {
            o.xapi.backend.set_memory_target(rec.str(vm_class(), "uuid"), max).map_err(|e| o.fail(e))?;
        }
        set_fields(o, &[("memory_dynamic_min", min), ("memory_dynamic_max", max)])
    })
}

// The single-value memory setters (declared plain setters, bound in `vm::register` over the
// generic setter) keep the same invariant as the range setters.
pub fn set_memory_static_max(ctx: Ctx, a: VmSetMemoryStaticMaxArgs) -> Reply<()> {
    set_memory_one(ctx, a.self_, a.value, VmOperations::ChangingStaticRange, "memory_static_max")
}

pub fn set_memory_static_min(ctx: Ctx, a: VmSetMemoryStaticMinArgs) -> Reply<()> {
    set_memory_one(ctx, a.self_, a.value, VmOperations::ChangingStaticRange, "memory_static_min")
}

pub fn set_memory_dynamic_max(ctx: Ctx, a: VmSetMemoryDynamicMaxArgs) -> Reply<()> {
    set_memory_one(ctx, a.self_, a.value, VmOperations::ChangingDynamicRange, "memory_dynamic_max")
}

pub fn set_memory_dynamic_min(ctx: Ctx, a: VmSetMemoryDynamicMinArgs) -> Reply<()> {
    set_memory_one(ctx, a.self_, a.value, VmOperations::ChangingDynamicRange, "memory_dynamic_min")
}

pub fn set_memory_limits(ctx: Ctx, a: VmSetMemoryLimitsArgs) -> Reply<()> {
    let v = [a.static_min, a.static_max, a.dynamic_min, a.dynamic_max];
    op_reply(ctx, a.self_, VmOperations::ChangingMemoryLimits, false, move |o| {
        check_memory(v[0], v[2], v[3], v[1])?;
        set_fields(o, &[("memory_static_min", v[0]), ("memory_static_max", v[1]), ("memory_dynamic_min", v[2]), ("memory_dynamic_max", v[3])])
    })
}

pub fn set_memory_static_range(ctx: Ctx, a: VmSetMemoryStaticRangeArgs) -> Reply<()> {
    let (min, max) = (a.min, a.max);
    op_reply(ctx, a.self_, VmOperations::ChangingStaticRange, false, move |o| {
        let rec = o.record()?;
        check_memory(min, int(&rec, "memory_dynamic_min"), int(&rec, "memory_dynamic_max"), max)?;
        set_fields(o, &[("memory_static_min", min), ("memory_static_max", max)])
    })
}

pub fn set_memory(ctx: Ctx, a: VmSetMemoryArgs) -> Reply<()> {
    let value = a.value;
    op_reply(ctx, a.self_, VmOperations::ChangingMemoryLimits, false, move |o| {
        let rec = o.record()?;
        check_memory(int(&rec, "memory_static_min"), value, value, value)?;
        set_fields(o, &[("memory_dynamic_min", value), ("memory_dynamic_max", value), ("memory_static_max", value)])
    })
}

pub fn set_vcpus_number_live(ctx: Ctx, a: VmSetVcpusNumberLiveArgs) -> Reply<()> {
    let n = a.nvcpu;
    op_reply(ctx, a.self_, VmOperations::ChangingVcpusLive, false, move |o| {
        let rec = o.record()?;
        let max = int(&rec, "VCPUs_max");
        if n < 1 || n > max {
            return Err(ApiError::new("INVALID_VALUE", ["nvcpu".to_string(), format!("{n} (VCPUs_max is {max})")]));
        }
        o.xapi.backend.set_vcpus(rec.str(vm_class(), "uuid"), n).map_err(|e| o.fail(e))?;
        let domid = int(&rec, "domid");
        o.xapi.store.write(|tx| mark_running(tx, &o.xapi, &o.vm, domid, false, false))
    })
}

pub fn set_vcpus_max(ctx: Ctx, a: VmSetVcpusMaxArgs) -> Reply<()> {
    let n = a.value;
    op_reply(ctx, a.self_, VmOperations::ChangingVcpus, false, move |o| {
        check_vcpus(int(&o.record()?, "VCPUs_at_startup"), n)?;
        set_fields(o, &[("VCPUs_max", n)])
    })
}

pub fn set_vcpus_at_startup(ctx: Ctx, a: VmSetVcpusAtStartupArgs) -> Reply<()> {
    let n = a.value;
    op_reply(ctx, a.self_, VmOperations::ChangingVcpus, false, move |o| {
        check_vcpus(n, int(&o.record()?, "VCPUs_max"))?;
        set_fields(o, &[("VCPUs_at_startup", n)])
    })
}

/// Sets one of the four memory fields, checking the invariant with the other three; a running
/// VM's new dynamic maximum becomes its domain's memory target.
fn set_memory_one(
    ctx: Ctx,
    vm: crate::typed::Ref<crate::generated::VmRecord>,
    value: i64,
    op: VmOperations,
    field: &'static str,
) -> Reply<()> {
    op_reply(ctx, vm, op, false, move |o| {
        const ORDER: [&str; 4] = ["memory_static_min", "memory_dynamic_min", "memory_dynamic_max", "memory_static_max"];
        let rec = o.record()?;
        let m = ORDER.map(|f| if f == field { value } else { int(&rec, f) });
        check_memory(m[0], m[1], m[2], m[3])?;
        if field == "memory_dynamic_max" && power_state(&rec) == VmPowerState::Running {
            o.xapi.backend.set_memory_target(rec.str(vm_class(), "uuid"), value).map_err(|e| o.fail(e))?;
        }
        set_fields(o, &[(field, value)])
    })
}

fn set_fields(o: &Op, fields: &[(&str, i64)]) -> Result<(), ApiError> {
    o.xapi.store.write(|tx| {
        let state = update_vm(tx, &o.vm, |rec| {
            for (f, v) in fields {
                rec.set(vm_class(), f, Value::Int(*v));
            }
            Ok(power_state(rec))
        })?;
        // A live change shows in the VM's metrics at once, not at the next refresh.
        if matches!(state, VmPowerState::Running | VmPowerState::Paused) {
            let domid = int(&*tx.must_get("VM", &o.vm)?, "domid");
            mark_running(tx, &o.xapi, &o.vm, domid, state == VmPowerState::Paused, false)?;
        }
        Ok(())
    })
}
