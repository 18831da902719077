//! PBD messages: the link of an SR to this host. `plug` checks the driver and the directory
//! and attaches the SR; `unplug` refuses while a running VM uses one of its VDIs.

use super::sr::{class, driver_of, insert_pbd, pbd_dir, refs};
use crate::dispatch::implicit::record_from_create_args;
use crate::dispatch::{Ctx, Dispatcher};
use crate::error::ApiError;
use crate::generated::args::{PbdPlugArgs, PbdUnplugArgs};
use crate::generated::handlers::{register_pbd, PbdMessages};
use crate::generated::PbdRecord;
use crate::typed::{self, CreateArgs, OnObject, Ref};
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

fn plug(ctx: &Ctx, pbd: &str) -> Result<(), ApiError> {
    let (rec, sr) = {
        let t = ctx.xapi.store.read();
        let rec = t.get("PBD", pbd).cloned().ok_or_else(|| ApiError::handle_invalid("PBD", pbd))?;
        let sr_ref = rec.str(class("PBD"), "SR").to_string();
        let sr = t.get("SR", &sr_ref).cloned().ok_or_else(|| ApiError::handle_invalid("SR", &sr_ref))?;
        (rec, sr)
    };
    let driver = driver_of(&sr)?;
    let dir = pbd_dir(&rec).ok_or_else(|| crate::storage::qemu_img::failure("EINVAL", "", "device_config:location is not set"))?;
    if !dir.is_dir() {
        return Err(crate::storage::qemu_img::failure("ENOENT", "", &format!("{} is not a directory ({} SR)", dir.display(), driver.name())));
    }
    set_attached(ctx, pbd, true)
}

fn unplug(ctx: &Ctx, pbd: &str) -> Result<(), ApiError> {
    {
        let t = ctx.xapi.store.read();
        let rec = t.get("PBD", pbd).ok_or_else(|| ApiError::handle_invalid("PBD", pbd))?;
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
    set_attached(ctx, pbd, false)
}

pub struct PbdApi;

impl PbdMessages for PbdApi {
    fn plug(ctx: &Ctx, a: PbdPlugArgs) -> Result<(), ApiError> {
        plug(ctx, &a.self_)
    }
    fn unplug(ctx: &Ctx, a: PbdUnplugArgs) -> Result<(), ApiError> {
        unplug(ctx, &a.self_)
    }
}

fn create(ctx: &Ctx, a: CreateArgs) -> Result<Ref<PbdRecord>, ApiError> {
    let c = class("PBD");
    let rec = record_from_create_args(c, &a.record)?;
    let (host, sr) = (rec.str(c, "host").to_string(), rec.str(c, "SR").to_string());
    let dc = rec.get(c, "device_config").clone();
    ctx.xapi
        .store
        .write(|tx| {
            tx.must_get("SR", &sr)?;
            tx.must_get("host", &host)?;
            insert_pbd(tx, &host, &sr, dc, false)
        })
        .map(Ref::new)
}

fn destroy(ctx: &Ctx, a: OnObject<PbdRecord>) -> Result<(), ApiError> {
    let pbd = a.this.as_str();
    ctx.xapi.store.write(|tx| {
        let rec = tx.must_get("PBD", pbd)?;
        let c = class("PBD");
        if rec.get(c, "currently_attached").as_bool() == Some(true) {
            return Err(ApiError::new("OPERATION_NOT_ALLOWED", [format!("PBD {pbd} is plugged; unplug it first")]));
        }
        tx.remove_from_set("SR", rec.str(c, "SR"), "PBDs", pbd)?;
        tx.remove_from_set("host", rec.str(c, "host"), "PBDs", pbd)?;
        tx.delete("PBD", pbd);
        super::sr::refresh_attachment(tx, rec.str(c, "SR"))
    })
}

/// `PBD.set_device_config` is a declared plain setter: the generic setter serves it.
pub fn register(d: &mut Dispatcher) {
    register_pbd::<PbdApi>(d);
    d.override_implicit_with("PBD.create", typed::sync_handler(create, |r: Ref<PbdRecord>| Value::String(r.into_string())));
    d.override_implicit_with("PBD.destroy", typed::sync_handler(destroy, |_: ()| Value::void()));
}
