//! VM messages: creation and destruction with their metrics and devices, device slots, and the
//! assertions. Power operations are in `vm_power`, copies in `vm_copy`, runtime state in
//! `vm_state`.

use super::vm_power::operate;
use super::vm_state::{domain_spec, refresh_allowed, update_vm, view, vm_class};
use crate::dispatch::implicit::record_from_create_args;
use crate::dispatch::{Ctx, Dispatcher, Handler};
use crate::error::ApiError;
use crate::lifecycle;
use crate::model::model;
use crate::store::{new_ref, new_uuid, Record, Tx};
use crate::value::Value;
use std::sync::Arc;

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

fn create(ctx: &Ctx, a: Vec<Value>) -> Result<Value, ApiError> {
    let c = vm_class();
    let mut rec = record_from_create_args(c, &a[0])?;
    // A new VM has no domain yet, whatever the record says.
    rec.set(c, "power_state", Value::str("Halted"));
    let r = ctx.xapi.store.write(|tx| Ok(insert_vm(tx, rec)))?;
    Ok(Value::str(r))
}

/// Removes a VM with its metrics and device records; disks stay.
fn destroy_work(o: &super::vm_power::Op) -> Result<Value, ApiError> {
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
    })?;
    Ok(Value::void())
}

/// Device numbers not taken by the VM's devices of `list` (VBDs: 0-15, VIFs: 0-6).
fn free_devices(ctx: &Ctx, vm: &str, list: &str, class: &str, field: &str, count: u32) -> Result<Value, ApiError> {
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
    Ok(Value::Set((0..count).map(|i| i.to_string()).filter(|d| !used.contains(d)).map(Value::String).collect()))
}

/// Whether the VM could start on this host now: memory and CPUs.
fn assert_can_boot(ctx: &Ctx, vm: &str) -> Result<(), ApiError> {
    let rec = ctx.xapi.store.read().get("VM", vm).cloned().ok_or_else(|| ApiError::handle_invalid("VM", vm))?;
    lifecycle::check(&view(vm, &rec), "start")?;
    let spec = domain_spec(&rec);
    let host = ctx.xapi.backend.host_info();
    if spec.memory_target > host.memory_free {
        return Err(ApiError::new("HOST_NOT_ENOUGH_FREE_MEMORY", [spec.memory_target.to_string(), host.memory_free.to_string()]));
    }
    if spec.vcpus > host.cpus {
        return Err(ApiError::new("HOST_NOT_ENOUGH_PCPUS", [spec.vcpus.to_string(), host.cpus.to_string()]));
    }
    Ok(())
}

fn arg(a: &[Value], i: usize) -> String {
    a[i].as_str().unwrap_or("").to_string()
}

pub fn register(d: &mut Dispatcher) {
    d.override_implicit("VM.create", create);
    let destroy: fn(Ctx, Vec<Value>) -> crate::dispatch::BoxFuture =
        |ctx, a| Box::pin(async move { operate(&ctx, &arg(&a, 0), "destroy", false, destroy_work).await });
    d.override_implicit_with("VM.destroy", Handler::Async(Arc::new(destroy)));
    // Turning a VM into a template is a lifecycle operation (halted VMs only).
    d.override_implicit("VM.set_is_a_template", |ctx, a| {
        let (vm, value) = (arg(&a, 0), a[1].as_bool().unwrap_or(false));
        ctx.xapi.store.write(|tx| {
            update_vm(tx, &vm, |rec| {
                if value {
                    lifecycle::check(&view(&vm, rec), "make_into_template")?;
                }
                rec.set(vm_class(), "is_a_template", Value::Bool(value));
                Ok(())
            })
        })?;
        Ok(Value::void())
    });
    // Changing blocked_operations changes what is allowed.
    for name in ["VM.set_blocked_operations", "VM.add_to_blocked_operations", "VM.remove_from_blocked_operations"] {
        let generic = d.get(name).expect("implicit map op").handler.clone();
        d.override_implicit_with(
            name,
            Handler::Async(Arc::new(move |ctx: Ctx, a: Vec<Value>| {
                let generic = generic.clone();
                Box::pin(async move {
                    let vm = arg(&a, 0);
                    let out = crate::dispatch::run(&generic, ctx.clone(), a).await?;
                    ctx.xapi.store.write(|tx| update_vm(tx, &vm, |_| Ok(())))?;
                    Ok(out)
                })
            })),
        );
    }
    d.implement_sync("VM.get_allowed_VBD_devices", |ctx, a| free_devices(ctx, &arg(&a, 0), "VBDs", "VBD", "userdevice", 16));
    d.implement_sync("VM.get_allowed_VIF_devices", |ctx, a| free_devices(ctx, &arg(&a, 0), "VIFs", "VIF", "device", 7));
    d.implement_sync("VM.assert_operation_valid", |ctx, a| {
        let vm = arg(&a, 0);
        let rec = ctx.xapi.store.read().get("VM", &vm).cloned().ok_or_else(|| ApiError::handle_invalid("VM", &vm))?;
        lifecycle::check(&view(&vm, &rec), a[1].as_str().unwrap_or(""))?;
        Ok(Value::void())
    });
    d.implement_sync("VM.assert_can_boot_here", |ctx, a| {
        if arg(&a, 1) != ctx.xapi.this_host {
            return Err(ApiError::new("HOST_OFFLINE", [arg(&a, 1)]));
        }
        assert_can_boot(ctx, &arg(&a, 0))?;
        Ok(Value::void())
    });
    d.implement_sync("VM.get_possible_hosts", |ctx, a| {
        Ok(Value::Set(match assert_can_boot(ctx, &arg(&a, 0)) {
            Ok(()) => vec![Value::str(&ctx.xapi.this_host)],
            Err(_) => vec![],
        }))
    });
    d.implement_sync("VM.update_allowed_operations", |ctx, a| {
        ctx.xapi.store.write(|tx| update_vm(tx, &arg(&a, 0), |_| Ok(())))?;
        Ok(Value::void())
    });
    d.implement_sync("VM.compute_memory_overhead", |ctx, a| {
        let vm = arg(&a, 0);
        let rec = ctx.xapi.store.read().get("VM", &vm).cloned().ok_or_else(|| ApiError::handle_invalid("VM", &vm))?;
        // Page tables and device model: about 1/128 of the guest's memory plus 1 MiB per vCPU.
        let mem = super::vm_state::int(&rec, "memory_static_max");
        let vcpus = super::vm_state::int(&rec, "VCPUs_max");
        Ok(Value::Int(mem / 128 + vcpus * (1 << 20)))
    });
    super::vm_power::register(d);
    super::vm_copy::register(d);
}
