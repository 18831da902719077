//! VM power operations: start, pause, shutdown, reboot, suspend, resume, and the live changes of
//! memory and vCPUs. Each runs through [`operate`]: lifecycle check and `current_operations`
//! entry in one transaction, the backend work on a blocking thread, then the entry removed.

use super::vm_state::{backend_error, int, mark_running, mark_stopped, suspend_image, update_vm, view, vm_class};
use super::Xapi;
use crate::backend::{BackendError, Cancel};
use crate::dispatch::{Ctx, Dispatcher, Handler};
use crate::error::ApiError;
use crate::lifecycle;
use crate::store::{new_ref, Record};
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
pub async fn operate(
    ctx: &Ctx,
    vm: &str,
    op: &'static str,
    cancellable: bool,
    work: impl FnOnce(&Op) -> Result<Value, ApiError> + Send + 'static,
) -> Result<Value, ApiError> {
    let xapi = ctx.xapi.clone();
    let op_id = ctx.task.clone().unwrap_or_else(new_ref);
    xapi.store.write(|tx| {
        update_vm(tx, vm, |rec| {
            lifecycle::check(&view(vm, rec), op)?;
            if let Value::Map(m) = &mut rec.fields[vm_class().field_pos("current_operations").unwrap()] {
                m.push((Value::str(&op_id), Value::str(op)));
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

fn arg(a: &[Value], i: usize) -> String {
    a[i].as_str().unwrap_or("").to_string()
}

fn flag(a: &[Value], i: usize) -> bool {
    a.get(i).and_then(Value::as_bool).unwrap_or(false)
}

/// Registers an operation handler: `f(ctx, args)` returns the future of the operation.
fn op_handler(d: &mut Dispatcher, name: &str, f: fn(Ctx, Vec<Value>) -> crate::dispatch::BoxFuture) {
    d.implement(name, Handler::Async(Arc::new(f)));
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
fn start_work(o: &Op, paused: bool) -> Result<Value, ApiError> {
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
    attach_devices(o, &spec.vm_uuid)?;
    Ok(Value::void())
}

/// Plugs the VM's VBDs and VIFs into its new domain; if that fails the domain goes again.
fn attach_devices(o: &Op, vm_uuid: &str) -> Result<(), ApiError> {
    let r = super::vbd::attach_all(&o.xapi, &o.vm).and_then(|_| super::vif::attach_all(&o.xapi, &o.vm));
    if let Err(e) = r {
        let _ = o.xapi.backend.destroy(vm_uuid);
        o.xapi.store.write(|tx| mark_stopped(tx, &o.xapi, &o.vm, "Halted"))?;
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

fn destroy_domain_and_halt(o: &Op) -> Result<Value, ApiError> {
    let rec = o.record()?;
    let uuid = rec.str(vm_class(), "uuid").to_string();
    if rec.str(vm_class(), "power_state") == "Suspended" {
        let _ = std::fs::remove_file(suspend_image(&o.xapi, &uuid));
    } else {
        match o.xapi.backend.destroy(&uuid) {
            Ok(()) | Err(BackendError::NoSuchDomain(_)) => {}
            Err(e) => return Err(o.fail(e)),
        }
    }
    o.xapi.store.write(|tx| mark_stopped(tx, &o.xapi, &o.vm, "Halted"))?;
    Ok(Value::void())
}

fn clean_shutdown_work(o: &Op) -> Result<Value, ApiError> {
    let uuid = o.uuid()?;
    o.xapi.backend.clean_shutdown(&uuid, &o.cancel).map_err(|e| o.fail(e))?;
    o.xapi.store.write(|tx| mark_stopped(tx, &o.xapi, &o.vm, "Halted"))?;
    Ok(Value::void())
}

fn reboot_into(o: &Op, domid: i64) -> Result<Value, ApiError> {
    o.xapi.store.write(|tx| mark_running(tx, &o.xapi, &o.vm, domid, false, true))?;
    Ok(Value::void())
}

pub fn register(d: &mut Dispatcher) {
    op_handler(d, "VM.start", |ctx, a| {
        Box::pin(async move {
            let paused = flag(&a, 1);
            operate(&ctx, &arg(&a, 0), "start", false, move |o| start_work(o, paused)).await
        })
    });
    op_handler(d, "VM.start_on", |ctx, a| {
        Box::pin(async move {
            let (host, paused) = (arg(&a, 1), flag(&a, 2));
            operate(&ctx, &arg(&a, 0), "start_on", false, move |o| {
                check_this_host(o, &host)?;
                start_work(o, paused)
            })
            .await
        })
    });
    op_handler(d, "VM.pause", |ctx, a| {
        Box::pin(async move {
            operate(&ctx, &arg(&a, 0), "pause", false, |o| {
                let uuid = o.uuid()?;
                o.xapi.backend.pause(&uuid).map_err(|e| o.fail(e))?;
                let domid = int(&o.record()?, "domid");
                o.xapi.store.write(|tx| mark_running(tx, &o.xapi, &o.vm, domid, true, false))?;
                Ok(Value::void())
            })
            .await
        })
    });
    op_handler(d, "VM.unpause", |ctx, a| {
        Box::pin(async move {
            operate(&ctx, &arg(&a, 0), "unpause", false, |o| {
                let uuid = o.uuid()?;
                o.xapi.backend.unpause(&uuid).map_err(|e| o.fail(e))?;
                let domid = int(&o.record()?, "domid");
                o.xapi.store.write(|tx| mark_running(tx, &o.xapi, &o.vm, domid, false, false))?;
                Ok(Value::void())
            })
            .await
        })
    });
    op_handler(d, "VM.clean_shutdown", |ctx, a| {
        Box::pin(async move { operate(&ctx, &arg(&a, 0), "clean_shutdown", true, clean_shutdown_work).await })
    });
    op_handler(d, "VM.hard_shutdown", |ctx, a| {
        Box::pin(async move { operate(&ctx, &arg(&a, 0), "hard_shutdown", false, destroy_domain_and_halt).await })
    });
    // shutdown: clean when the guest can do it, hard otherwise or when it does not in time.
    op_handler(d, "VM.shutdown", |ctx, a| {
        Box::pin(async move {
            operate(&ctx, &arg(&a, 0), "shutdown", false, |o| {
                if o.record()?.str(vm_class(), "power_state") == "Running" {
                    match clean_shutdown_work(o) {
                        Ok(v) => return Ok(v),
                        Err(e) if matches!(e.code.as_str(), "VM_SHUTDOWN_TIMEOUT" | "VM_LACKS_FEATURE") => {
                            tracing::info!(vm = %o.vm, "clean shutdown failed ({e}); shutting down hard")
                        }
                        Err(e) => return Err(e),
                    }
                }
                destroy_domain_and_halt(o)
            })
            .await
        })
    });
    op_handler(d, "VM.clean_reboot", |ctx, a| {
        Box::pin(async move {
            operate(&ctx, &arg(&a, 0), "clean_reboot", true, |o| {
                let rec = o.record()?;
                if rec.str(vm_class(), "actions_after_reboot") == "destroy" {
                    return clean_shutdown_work(o);
                }
                let domid = o.xapi.backend.clean_reboot(rec.str(vm_class(), "uuid"), &o.cancel).map_err(|e| o.fail(e))?;
                reboot_into(o, domid)
            })
            .await
        })
    });
    op_handler(d, "VM.hard_reboot", |ctx, a| {
        Box::pin(async move {
            operate(&ctx, &arg(&a, 0), "hard_reboot", false, |o| {
                let uuid = o.uuid()?;
                let domid = o.xapi.backend.hard_reboot(&uuid).map_err(|e| o.fail(e))?;
                reboot_into(o, domid)
            })
            .await
        })
    });
    op_handler(d, "VM.suspend", |ctx, a| {
        Box::pin(async move {
            operate(&ctx, &arg(&a, 0), "suspend", true, |o| {
                let uuid = o.uuid()?;
                let image = suspend_image(&o.xapi, &uuid);
                o.xapi.backend.suspend(&uuid, &image, &o.cancel).map_err(|e| o.fail(e))?;
                o.xapi.store.write(|tx| mark_stopped(tx, &o.xapi, &o.vm, "Suspended"))?;
                Ok(Value::void())
            })
            .await
        })
    });
    fn resume_work(o: &Op, paused: bool) -> Result<Value, ApiError> {
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
        attach_devices(o, &spec.vm_uuid)?;
        Ok(Value::void())
    }
    op_handler(d, "VM.resume", |ctx, a| {
        Box::pin(async move {
            let paused = flag(&a, 1);
            operate(&ctx, &arg(&a, 0), "resume", false, move |o| resume_work(o, paused)).await
        })
    });
    op_handler(d, "VM.resume_on", |ctx, a| {
        Box::pin(async move {
            let (host, paused) = (arg(&a, 1), flag(&a, 2));
            operate(&ctx, &arg(&a, 0), "resume_on", false, move |o| {
                check_this_host(o, &host)?;
                resume_work(o, paused)
            })
            .await
        })
    });
    op_handler(d, "VM.send_sysrq", |ctx, a| {
        Box::pin(async move {
            let key = arg(&a, 1);
            operate(&ctx, &arg(&a, 0), "send_sysrq", false, move |o| {
                let uuid = o.uuid()?;
                o.xapi.backend.send_sysrq(&uuid, &key).map_err(|e| o.fail(e))?;
                Ok(Value::void())
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
            Ok(Value::void())
        })
    });
    op_handler(d, "VM.send_trigger", |ctx, a| {
        Box::pin(async move { operate(&ctx, &arg(&a, 0), "send_trigger", false, |_| Ok(Value::void())).await })
    });
    op_handler(d, "VM.power_state_reset", |ctx, a| {
        Box::pin(async move {
            operate(&ctx, &arg(&a, 0), "power_state_reset", false, |o| {
                o.xapi.store.write(|tx| mark_stopped(tx, &o.xapi, &o.vm, "Halted"))?;
                Ok(Value::void())
            })
            .await
        })
    });
    op_handler(d, "VM.set_memory_dynamic_range", |ctx, a| {
        Box::pin(async move {
            let (min, max) = (a[1].as_int().unwrap_or(0), a[2].as_int().unwrap_or(0));
            operate(&ctx, &arg(&a, 0), "changing_dynamic_range", false, move |o| {
                let rec = o.record()?;
                check_memory(int(&rec, "memory_static_min"), min, max, int(&rec, "memory_static_max"))?;
                if rec.str(vm_class(), "power_state") == "Running" {
                    o.xapi.backend.set_memory_target(rec.str(vm_class(), "uuid"), max).map_err(|e| o.fail(e))?;
                }
                set_fields(o, &[("memory_dynamic_min", min), ("memory_dynamic_max", max)])
            })
            .await
        })
    });
    // The single-value memory setters keep the same invariant as the range setters.
    op_handler(d, "VM.set_memory_static_max", |ctx, a| {
        Box::pin(async move { set_memory_one(ctx, a, "changing_static_range", "memory_static_max").await })
    });
    op_handler(d, "VM.set_memory_static_min", |ctx, a| {
        Box::pin(async move { set_memory_one(ctx, a, "changing_static_range", "memory_static_min").await })
    });
    op_handler(d, "VM.set_memory_dynamic_max", |ctx, a| {
        Box::pin(async move { set_memory_one(ctx, a, "changing_dynamic_range", "memory_dynamic_max").await })
    });
    op_handler(d, "VM.set_memory_dynamic_min", |ctx, a| {
        Box::pin(async move { set_memory_one(ctx, a, "changing_dynamic_range", "memory_dynamic_min").await })
    });
    op_handler(d, "VM.set_memory_limits", |ctx, a| {
        Box::pin(async move {
            let v: Vec<i64> = a[1..5].iter().map(|x| x.as_int().unwrap_or(0)).collect();
            operate(&ctx, &arg(&a, 0), "changing_memory_limits", false, move |o| {
                check_memory(v[0], v[2], v[3], v[1])?;
                set_fields(o, &[("memory_static_min", v[0]), ("memory_static_max", v[1]), ("memory_dynamic_min", v[2]), ("memory_dynamic_max", v[3])])
            })
            .await
        })
    });
    op_handler(d, "VM.set_memory_static_range", |ctx, a| {
        Box::pin(async move {
            let (min, max) = (a[1].as_int().unwrap_or(0), a[2].as_int().unwrap_or(0));
            operate(&ctx, &arg(&a, 0), "changing_static_range", false, move |o| {
                let rec = o.record()?;
                check_memory(min, int(&rec, "memory_dynamic_min"), int(&rec, "memory_dynamic_max"), max)?;
                set_fields(o, &[("memory_static_min", min), ("memory_static_max", max)])
            })
            .await
        })
    });
    op_handler(d, "VM.set_memory", |ctx, a| {
        Box::pin(async move {
            let value = a[1].as_int().unwrap_or(0);
            operate(&ctx, &arg(&a, 0), "changing_memory_limits", false, move |o| {
                let rec = o.record()?;
                check_memory(int(&rec, "memory_static_min"), value, value, value)?;
                set_fields(o, &[("memory_dynamic_min", value), ("memory_dynamic_max", value), ("memory_static_max", value)])
            })
            .await
        })
    });
    op_handler(d, "VM.set_VCPUs_number_live", |ctx, a| {
        Box::pin(async move {
            let n = a[1].as_int().unwrap_or(0);
            operate(&ctx, &arg(&a, 0), "changing_VCPUs_live", false, move |o| {
                let rec = o.record()?;
                let max = int(&rec, "VCPUs_max");
                if n < 1 || n > max {
                    return Err(ApiError::new("INVALID_VALUE", ["nvcpu".to_string(), format!("{n} (VCPUs_max is {max})")]));
                }
                o.xapi.backend.set_vcpus(rec.str(vm_class(), "uuid"), n).map_err(|e| o.fail(e))?;
                let domid = int(&rec, "domid");
                o.xapi.store.write(|tx| mark_running(tx, &o.xapi, &o.vm, domid, false, false))?;
                Ok(Value::void())
            })
            .await
        })
    });
    op_handler(d, "VM.set_VCPUs_max", |ctx, a| {
        Box::pin(async move {
            let n = a[1].as_int().unwrap_or(0);
            operate(&ctx, &arg(&a, 0), "changing_VCPUs", false, move |o| {
                check_vcpus(int(&o.record()?, "VCPUs_at_startup"), n)?;
                set_fields(o, &[("VCPUs_max", n)])
            })
            .await
        })
    });
    op_handler(d, "VM.set_VCPUs_at_startup", |ctx, a| {
        Box::pin(async move {
            let n = a[1].as_int().unwrap_or(0);
            operate(&ctx, &arg(&a, 0), "changing_VCPUs", false, move |o| {
                check_vcpus(n, int(&o.record()?, "VCPUs_max"))?;
                set_fields(o, &[("VCPUs_at_startup", n)])
            })
            .await
        })
    });
}

/// Sets one of the four memory fields, checking the invariant with the other three; a running
/// VM's new dynamic maximum becomes its domain's memory target.
async fn set_memory_one(ctx: Ctx, a: Vec<Value>, op: &'static str, field: &'static str) -> Result<Value, ApiError> {
    let value = a[1].as_int().unwrap_or(0);
    operate(&ctx, &arg(&a, 0), op, false, move |o| {
        const ORDER: [&str; 4] = ["memory_static_min", "memory_dynamic_min", "memory_dynamic_max", "memory_static_max"];
        let rec = o.record()?;
        let m = ORDER.map(|f| if f == field { value } else { int(&rec, f) });
        check_memory(m[0], m[1], m[2], m[3])?;
        if field == "memory_dynamic_max" && rec.str(vm_class(), "power_state") == "Running" {
            o.xapi.backend.set_memory_target(rec.str(vm_class(), "uuid"), value).map_err(|e| o.fail(e))?;
        }
        set_fields(o, &[(field, value)])
    })
    .await
}

fn set_fields(o: &Op, fields: &[(&str, i64)]) -> Result<Value, ApiError> {
    o.xapi.store.write(|tx| {
        let state = update_vm(tx, &o.vm, |rec| {
            for (f, v) in fields {
                rec.set(vm_class(), f, Value::Int(*v));
            }
            Ok(rec.str(vm_class(), "power_state").to_string())
        })?;
        // A live change shows in the VM's metrics at once, not at the next refresh.
        if matches!(state.as_str(), "Running" | "Paused") {
            let domid = int(&*tx.must_get("VM", &o.vm)?, "domid");
            mark_running(tx, &o.xapi, &o.vm, domid, state == "Paused", false)?;
        }
        Ok(())
    })?;
    Ok(Value::void())
}
