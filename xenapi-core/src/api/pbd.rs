//! PBD messages: the link of an SR to this host. `plug` checks the driver and the directory
//! and attaches the SR; `unplug` refuses while a running VM uses one of its VDIs.

use super::sr::{arg, class, driver_of, insert_pbd, pbd_dir, refs};
use crate::dispatch::implicit::record_from_create_args;
use crate::dispatch::{Ctx, Dispatcher};
use crate::error::ApiError;
use crate::value::Value;

fn set_attached(ctx: &Ctx, pbd: &str, v: bool) -> Result<(), ApiError> {
    ctx.xapi.store.write(|tx| {
        let sr = tx.update("PBD", pbd, |r| {
            r.set(class("PBD"), "currently_attached", Value::Bool(v));
            Ok(r.str(class("PBD"), "SR").to_string())
        })?;
        super::sr::refresh_attachment(tx, &sr)
    })
}

fn plug(ctx: &Ctx, a: Vec<Value>) -> Result<Value, ApiError> {
    let pbd = arg(&a, 0);
    let (rec, sr) = {
        let t = ctx.xapi.store.read();
        let rec = t.get("PBD", &pbd).cloned().ok_or_else(|| ApiError::handle_invalid("PBD", &pbd))?;
        let sr_ref = rec.str(class("PBD"), "SR").to_string();
        let sr = t.get("SR", &sr_ref).cloned().ok_or_else(|| ApiError::handle_invalid("SR", &sr_ref))?;
        (rec, sr)
    };
    let driver = driver_of(&sr)?;
    let dir = pbd_dir(&rec).ok_or_else(|| crate::storage::qemu_img::failure("EINVAL", "", "device_config:location is not set"))?;
    if !dir.is_dir() {
        return Err(crate::storage::qemu_img::failure("ENOENT", "", &format!("{} is not a directory ({} SR)", dir.display(), driver.name())));
    }
    set_attached(ctx, &pbd, true)?;
    Ok(Value::void())
}

fn unplug(ctx: &Ctx, a: Vec<Value>) -> Result<Value, ApiError> {
    let pbd = arg(&a, 0);
    {
        let t = ctx.xapi.store.read();
        let rec = t.get("PBD", &pbd).ok_or_else(|| ApiError::handle_invalid("PBD", &pbd))?;
        if let Some(sr) = t.get("SR", rec.str(class("PBD"), "SR")) {
            for v in refs(sr.get(class("SR"), "VDIs")) {
                let Some(vdi) = t.get("VDI", &v) else { continue };
                let busy = refs(vdi.get(class("VDI"), "VBDs"))
                    .iter()
                    .filter_map(|b| t.get("VBD", b))
                    .any(|b| b.get(class("VBD"), "currently_attached").as_bool() == Some(true));
                if busy {
                    return Err(ApiError::new("VDI_IN_USE", [v.as_str(), "unplug"]));
                }
            }
        }
    }
    set_attached(ctx, &pbd, false)?;
    Ok(Value::void())
}

pub fn register(d: &mut Dispatcher) {
    d.override_implicit("PBD.create", |ctx, a| {
        let c = class("PBD");
        let rec = record_from_create_args(c, &a[0])?;
        let (host, sr) = (rec.str(c, "host").to_string(), rec.str(c, "SR").to_string());
        let dc = rec.get(c, "device_config").clone();
        ctx.xapi.store.write(|tx| {
            tx.must_get("SR", &sr)?;
            tx.must_get("host", &host)?;
            insert_pbd(tx, &host, &sr, dc, false)
        })
        .map(Value::str)
    });
    d.override_implicit("PBD.destroy", |ctx, a| {
        let pbd = arg(&a, 0);
        ctx.xapi.store.write(|tx| {
            let rec = tx.must_get("PBD", &pbd)?;
            let c = class("PBD");
            if rec.get(c, "currently_attached").as_bool() == Some(true) {
                return Err(ApiError::new("OPERATION_NOT_ALLOWED", [format!("PBD {pbd} is plugged; unplug it first")]));
            }
            tx.remove_from_set("SR", rec.str(c, "SR"), "PBDs", &pbd)?;
            tx.remove_from_set("host", rec.str(c, "host"), "PBDs", &pbd)?;
            tx.delete("PBD", &pbd);
            super::sr::refresh_attachment(tx, rec.str(c, "SR"))
        })?;
        Ok(Value::void())
    });
    d.implement_sync("PBD.plug", plug);
    d.implement_sync("PBD.unplug", unplug);
    d.implement_sync("PBD.set_device_config", |ctx, a| {
        let (pbd, v) = (arg(&a, 0), a[1].clone());
        ctx.xapi.store.write(|tx| {
            tx.update("PBD", &pbd, |r| {
                r.set(class("PBD"), "device_config", v);
                Ok(())
            })
        })?;
        Ok(Value::void())
    });
}
