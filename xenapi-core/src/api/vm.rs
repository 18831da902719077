//! VM messages. This module holds what the core needs now: creating and destroying VM objects
//! together with their metrics. Power operations arrive with the lifecycle module.

use crate::dispatch::implicit::record_from_create_args;
use crate::dispatch::{Ctx, Dispatcher};
use crate::error::ApiError;
use crate::model::model;
use crate::store::{new_ref, new_uuid, Record, Tx};
use crate::value::Value;

/// Creates a VM_metrics object for a new VM and returns its ref.
pub fn create_metrics(tx: &mut Tx<'_>, memory: i64, vcpus: i64) -> String {
    let c = model().class("VM_metrics").unwrap();
    let mut m = Record::new_default(c);
    m.set(c, "uuid", Value::str(new_uuid()));
    m.set(c, "memory_actual", Value::Int(memory));
    m.set(c, "VCPUs_number", Value::Int(vcpus));
    m.set(c, "last_updated", Value::DateTime(crate::time_fmt::now()));
    let r = new_ref();
    tx.put("VM_metrics", &r, m);
    r
}

fn create(ctx: &Ctx, a: Vec<Value>) -> Result<Value, ApiError> {
    let c = model().class("VM").unwrap();
    let mut rec = record_from_create_args(c, &a[0])?;
    // A new VM has no domain yet, whatever the record says.
    rec.set(c, "power_state", Value::str("Halted"));
    let r = new_ref();
    ctx.xapi.store.write(|tx| {
        let metrics = create_metrics(tx, 0, 0);
        rec.set(c, "metrics", Value::str(metrics));
        tx.put("VM", &r, rec);
        Ok(())
    })?;
    Ok(Value::str(r))
}

fn destroy(ctx: &Ctx, a: Vec<Value>) -> Result<Value, ApiError> {
    let c = model().class("VM").unwrap();
    let r = a[0].as_str().unwrap_or("").to_string();
    ctx.xapi.store.write(|tx| {
        let vm = tx.must_get("VM", &r)?;
        if vm.get(c, "is_control_domain").as_bool() == Some(true) {
            return Err(ApiError::new("OPERATION_NOT_ALLOWED", ["This operation is not allowed on dom0"]));
        }
        let state = vm.str(c, "power_state");
        if !matches!(state, "Halted" | "Suspended") {
            return Err(ApiError::new("VM_BAD_POWER_STATE", [r.as_str(), "halted, suspended", &state.to_ascii_lowercase()]));
        }
        for (field, class) in [("metrics", "VM_metrics"), ("guest_metrics", "VM_guest_metrics")] {
            let m = vm.str(c, field).to_string();
            if tx.exists(class, &m) {
                tx.delete(class, &m);
            }
        }
        tx.delete("VM", &r);
        Ok(())
    })?;
    Ok(Value::void())
}

pub fn register(d: &mut Dispatcher) {
    d.override_implicit("VM.create", create);
    d.override_implicit("VM.destroy", destroy);
}
