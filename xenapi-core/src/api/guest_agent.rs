//! What the simulated guest agent reports once a guest has booted: `VM_guest_metrics` (OS
//! version, PV driver version, feature flags, the addresses of its NICs), kept `live` while the
//! guest runs, as xapi's guest agent does. The OS is the VM's `other_config:sim-os-name`
//! (default "Linux (simulated guest)"); addresses come from the documentation range 192.0.2.0/24.

use crate::error::ApiError;
use crate::model::model;
use crate::store::{new_ref, new_uuid, Record, Tx};
use crate::value::{Value, NULL_REF};

fn pairs(p: &[(&str, String)]) -> Value {
    Value::Map(p.iter().map(|(k, v)| (Value::str(*k), Value::str(v.clone()))).collect())
}

/// The guest has booted: its agent (re)publishes the guest metrics and sets them live.
pub fn report_boot(tx: &mut Tx<'_>, vm: &str) -> Result<(), ApiError> {
    let vc = model().class("VM").unwrap();
    let gc = model().class("VM_guest_metrics").unwrap();
    let rec = tx.must_get("VM", vm)?;
    let os_name = match rec.get(vc, "other_config") {
        Value::Map(m) => m.iter().find(|(k, _)| k.as_str() == Some("sim-os-name")).and_then(|(_, v)| v.as_str().map(str::to_string)),
        _ => None,
    }
    .unwrap_or_else(|| "Linux (simulated guest)".to_string());
    let mut networks = Vec::new();
    if let Value::Set(vifs) = rec.get(vc, "VIFs") {
        let vif = model().class("VIF").unwrap();
        for (i, v) in vifs.iter().filter_map(Value::as_str).filter_map(|r| tx.get("VIF", r)).enumerate() {
            let device = v.str(vif, "device").to_string();
            networks.push((Value::str(format!("{device}/ip")), Value::str(format!("192.0.2.{}", 10 + i))));
        }
    }
    let existing = rec.str(vc, "guest_metrics").to_string();
    let r = if existing != NULL_REF && tx.exists("VM_guest_metrics", &existing) { existing } else { new_ref() };
    let mut g = tx.get("VM_guest_metrics", &r).map(|g| (*g).clone()).unwrap_or_else(|| {
        let mut g = Record::new_default(gc);
        g.set(gc, "uuid", Value::str(new_uuid()));
        g
    });
    g.set(gc, "os_version", pairs(&[("name", os_name), ("uname", "6.1.0-sim".into()), ("distro", "sim".into()), ("major", "6".into()), ("minor", "1".into())]));
    g.set(gc, "PV_drivers_version", pairs(&[("major", "9".into()), ("minor", "3".into()), ("micro", "0".into()), ("build", "1".into())]));
    g.set(gc, "PV_drivers_up_to_date", Value::Bool(true));
    g.set(gc, "PV_drivers_detected", Value::Bool(true));
    g.set(gc, "can_use_hotplug_vbd", Value::str("yes"));
    g.set(gc, "can_use_hotplug_vif", Value::str("yes"));
    g.set(gc, "networks", Value::Map(networks));
    g.set(gc, "live", Value::Bool(true));
    g.set(gc, "last_updated", Value::DateTime(crate::time_fmt::now()));
    tx.put("VM_guest_metrics", &r, g);
    if rec.str(vc, "guest_metrics") != r {
        super::vm_state::update_vm(tx, vm, |v| {
            v.set(vc, "guest_metrics", Value::str(&r));
            Ok(())
        })?;
    }
    Ok(())
}

/// Whether the VM's guest agent has reported since the guest last booted.
pub fn is_live(tx: &Tx<'_>, vm: &str) -> bool {
    let vc = model().class("VM").unwrap();
    let gc = model().class("VM_guest_metrics").unwrap();
    tx.get("VM", vm)
        .and_then(|v| tx.get("VM_guest_metrics", v.str(vc, "guest_metrics")))
        .is_some_and(|g| g.get(gc, "live").as_bool() == Some(true))
}

/// The guest is gone: its last report stays, no longer live.
pub fn report_gone(tx: &mut Tx<'_>, vm: &str) -> Result<(), ApiError> {
    let vc = model().class("VM").unwrap();
    let gc = model().class("VM_guest_metrics").unwrap();
    let g = tx.must_get("VM", vm)?.str(vc, "guest_metrics").to_string();
    if tx.exists("VM_guest_metrics", &g) {
        tx.update("VM_guest_metrics", &g, |rec| {
            rec.set(gc, "live", Value::Bool(false));
            rec.set(gc, "last_updated", Value::DateTime(crate::time_fmt::now()));
            Ok(())
        })?;
    }
    Ok(())
}
