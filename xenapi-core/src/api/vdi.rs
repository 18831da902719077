//! VDI messages: create, destroy, forget, resize, clone, snapshot, copy, update, introduce and
//! the name setters. Every VDI of a `file` SR is a real image file (`location` names it inside
//! the SR's directory); its sizes are what `qemu-img` and the filesystem say.
//!
//! ```text
//! VDI.create(session, {SR, virtual_size: "1073741824", type: "user", sharable, read_only, other_config, sm_config: {"format": "raw"}?})
//! Async.VDI.copy(session, vdi, sr, NULL, NULL)   # task progress follows qemu-img convert
//! ```

use super::ops::{self, storage::{vdi_permits, VdiView, VDI_OPERATIONS}};
use super::sr::{arg, blocking, check_space, class, locate, lock_images, map_get, refs, set_image, vdi_record, Located};
use super::Xapi;
use crate::backend::Cancel;
use crate::dispatch::implicit::record_from_create_args;
use crate::dispatch::{Ctx, Dispatcher};
use crate::error::ApiError;
use crate::storage::{self, qemu_img, Image};
use crate::store::{new_ref, new_uuid, Record, Tx};
use crate::value::{Value, NULL_REF};

/// Whether a PBD of the SR is plugged (the VDI handlers answer SR_NOT_ATTACHED otherwise).
pub fn sr_attached(tx: &Tx<'_>, sr: &str) -> bool {
    let Some(rec) = tx.get("SR", sr) else { return false };
    refs(rec.get(class("SR"), "PBDs")).iter().filter_map(|p| tx.get("PBD", p)).any(|p| p.get(class("PBD"), "currently_attached").as_bool() == Some(true))
}

/// Whether a VBD of a running VM has the VDI plugged.
pub fn attached_in(tx: &Tx<'_>, vdi: &str) -> bool {
    plugged_vbds(tx, vdi).next().is_some()
}

/// The plugged VBDs of a VDI.
fn plugged_vbds<'t>(tx: &'t Tx<'_>, vdi: &str) -> impl Iterator<Item = std::sync::Arc<Record>> + 't {
    let vbds = tx.get("VDI", vdi).map(|rec| refs(rec.get(class("VDI"), "VBDs"))).unwrap_or_default();
    vbds.into_iter().filter_map(|b| tx.get("VBD", &b)).filter(|b| b.get(class("VBD"), "currently_attached").as_bool() == Some(true))
}

/// Recomputes `allowed_operations` after a change of the VDI, of its VBDs or of its SR's PBDs
/// (the rules and the op → message table are in `ops::storage`).
pub fn refresh_ops(tx: &mut Tx<'_>, vdi: &str) -> Result<(), ApiError> {
    let Some(rec) = tx.get("VDI", vdi) else { return Ok(()) };
    let c = class("VDI");
    let sr = rec.str(c, "SR");
    let view = VdiView {
        writable: tx.get("SR", sr).and_then(|s| storage::driver(s.str(class("SR"), "type"))).is_some_and(|d| d.writable()),
        sr_attached: sr_attached(tx, sr),
        attached: attached_in(tx, vdi),
        attached_rw: plugged_vbds(tx, vdi).any(|b| b.str(class("VBD"), "mode") == "RW"),
        is_snapshot: rec.get(c, "is_a_snapshot").as_bool() == Some(true),
    };
    ops::store(tx, "VDI", vdi, ops::offered(VDI_OPERATIONS, |op| vdi_permits(&view, op)))
}

/// The image behind a VDI record.
pub fn image_of(rec: &Record) -> Image {
    let c = class("VDI");
    let file = rec.str(c, "location").to_string();
    let format = map_get(rec.get(c, "sm_config"), "format").or_else(|| storage::format_of(&file).map(str::to_string)).unwrap_or_else(|| "raw".into());
    Image {
        file,
        format,
        virtual_size: rec.get(c, "virtual_size").as_int().unwrap_or(0),
        physical: rec.get(c, "physical_utilisation").as_int().unwrap_or(0),
    }
}

fn vdi(xapi: &Xapi, r: &str) -> Result<Record, ApiError> {
    xapi.store.read().get("VDI", r).map(|x| (**x).clone()).ok_or_else(|| ApiError::handle_invalid("VDI", r))
}

/// The VDI and its attached SR.
fn with_sr(xapi: &Xapi, r: &str) -> Result<(Record, Located), ApiError> {
    let rec = vdi(xapi, r)?;
    let loc = locate(xapi, rec.str(class("VDI"), "SR"))?;
    Ok((rec, loc))
}

/// Stores a new VDI record and links it from its SR (and from the VDI it is a snapshot of).
pub fn insert(tx: &mut Tx<'_>, rec: Record) -> Result<String, ApiError> {
    let c = class("VDI");
    let r = new_ref();
    let sr = rec.str(c, "SR").to_string();
    let of = rec.str(c, "snapshot_of").to_string();
    let is_snap = rec.get(c, "is_a_snapshot").as_bool() == Some(true);
    tx.put("VDI", &r, rec);
    tx.add_to_set("SR", &sr, "VDIs", &r)?;
    if is_snap && tx.exists("VDI", &of) {
        tx.add_to_set("VDI", &of, "snapshots", &r)?;
    }
    refresh_ops(tx, &r)?;
    Ok(r)
}

/// Removes a VDI record and every record pointing at it (its VBDs, snapshot links); the image
/// file is the caller's business.
pub fn forget_record(tx: &mut Tx<'_>, vdi: &str) -> Result<(), ApiError> {
    let c = class("VDI");
    let Some(rec) = tx.get("VDI", vdi) else { return Ok(()) };
    for vbd in refs(rec.get(c, "VBDs")) {
        super::vbd::delete_record(tx, &vbd)?;
    }
    tx.remove_from_set("SR", rec.str(c, "SR"), "VDIs", vdi)?;
    let of = rec.str(c, "snapshot_of").to_string();
    if tx.exists("VDI", &of) {
        tx.remove_from_set("VDI", &of, "snapshots", vdi)?;
    }
    for s in refs(rec.get(c, "snapshots")) {
        if tx.exists("VDI", &s) {
            tx.update("VDI", &s, |r| {
                r.set(c, "snapshot_of", Value::null_ref());
                Ok(())
            })?;
        }
    }
    tx.delete("VDI", vdi);
    Ok(())
}

/// Makes the image of a new VDI from the record given to `VDI.create` and stores the record.
/// The file is made first: a crash before the commit leaves an orphan image for `SR.scan`.
pub fn create_vdi(xapi: &Xapi, mut rec: Record) -> Result<String, ApiError> {
    let c = class("VDI");
    let loc = locate(xapi, rec.str(c, "SR"))?;
    loc.writable()?;
    let size = rec.get(c, "virtual_size").as_int().unwrap_or(0);
    if size < 0 {
        return Err(ApiError::new("INVALID_VALUE", ["virtual_size".to_string(), size.to_string()]));
    }
    let size = (size + 511) / 512 * 512;
    let sm = rec.get(c, "sm_config");
    let format = match map_get(sm, "format").or_else(|| map_get(sm, "type")).as_deref() {
        Some("raw") => "raw",
        _ => "qcow2",
    };
    check_space(&loc, format, size)?;
    let uuid = new_uuid();
    let _g = lock_images();
    let img = loc.driver.create(&loc.dir, &uuid, format, size)?;
    rec.set(c, "uuid", Value::str(&uuid));
    rec.set(c, "managed", Value::Bool(true));
    rec.set(c, "on_boot", Value::str("persist"));
    set_image(&mut rec, &img);
    let r = xapi.store.write(|tx| insert(tx, rec))?;
    drop(_g);
    super::sr::refresh_stats(xapi, &loc)?;
    Ok(r)
}

/// `VDI.destroy`: the record (and its VBDs) first, then the image; a crash between leaves an
/// orphan image that `SR.scan` adopts.
pub fn destroy_vdi(xapi: &Xapi, r: &str) -> Result<(), ApiError> {
    let (rec, loc) = with_sr(xapi, r)?;
    loc.writable()?;
    let _g = lock_images();
    xapi.store.write(|tx| {
        if attached_in(tx, r) {
            return Err(ApiError::new("VDI_IN_USE", [r, "destroy"]));
        }
        forget_record(tx, r)
    })?;
    let img = image_of(&rec);
    if let Err(e) = loc.driver.delete(&loc.dir, &img.file) {
        tracing::warn!(vdi = %r, error = %e, "VDI record destroyed but its image could not be removed");
    }
    loc.driver.collect_garbage(&loc.dir);
    drop(_g);
    super::sr::refresh_stats(xapi, &loc)
}

fn resize(ctx: &Ctx, a: Vec<Value>) -> Result<Value, ApiError> {
    let (r, size) = (arg(&a, 0), a[1].as_int().unwrap_or(0));
    let (rec, loc) = with_sr(&ctx.xapi, &r)?;
    loc.writable()?;
    let img = image_of(&rec);
    if rec.get(class("VDI"), "is_a_snapshot").as_bool() == Some(true) {
        return Err(ApiError::new("OPERATION_NOT_ALLOWED", [format!("VDI {r} is a snapshot")]));
    }
    // Disks only grow: a smaller size would cut off the guest's data.
    if size < img.virtual_size {
        return Err(ApiError::new("VDI_TOO_SMALL", [r.clone(), img.virtual_size.to_string()]));
    }
    let size = (size + 511) / 512 * 512;
    check_space(&loc, &img.format, size)?;
    let _g = lock_images();
    let new = loc.driver.resize(&loc.dir, &img, size)?;
    ctx.xapi.store.write(|tx| {
        tx.update("VDI", &r, |rec| {
            set_image(rec, &new);
            Ok(())
        })
    })?;
    drop(_g);
    super::sr::refresh_stats(&ctx.xapi, &loc)?;
    Ok(Value::void())
}

/// `VDI.resize_online`: the same as `resize`, for a VDI that is attached to a running VM.
fn resize_online(ctx: &Ctx, a: Vec<Value>) -> Result<Value, ApiError> {
    let r = arg(&a, 0);
    // A read-only transaction (nothing staged, nothing written) to ask the same question as
    // the other VDI operations.
    let attached = ctx.xapi.store.write(|tx| Ok(attached_in(tx, &r)))?;
    if !attached {
        return Err(ApiError::new("OPERATION_NOT_ALLOWED", [format!("VDI {r} is not attached to a running VM; use VDI.resize")]));
    }
    resize(ctx, a)
}

/// A fast copy of a VDI in its SR (copy-on-write for qcow2): a clone, or a snapshot kept in
/// the source's `snapshots`. Returns the new VDI.
pub fn fast_copy(xapi: &Xapi, r: &str, snapshot: bool) -> Result<String, ApiError> {
    let (rec, loc) = with_sr(xapi, r)?;
    loc.writable()?;
    let c = class("VDI");
    let uuid = new_uuid();
    let _g = lock_images();
    let (src, copy) = loc.driver.fast_clone(&loc.dir, &image_of(&rec), &uuid)?;
    let mut new = rec.clone();
    for f in ["VBDs", "snapshots", "crash_dumps", "current_operations"] {
        new.set(c, f, Record::new_default(c).get(c, f).clone());
    }
    new.set(c, "uuid", Value::str(&uuid));
    new.set(c, "is_a_snapshot", Value::Bool(snapshot));
    new.set(c, "snapshot_of", if snapshot { Value::str(r) } else { Value::null_ref() });
    new.set(c, "snapshot_time", Value::DateTime(if snapshot { crate::time_fmt::now() } else { 0 }));
    set_image(&mut new, &copy);
    let out = xapi.store.write(|tx| {
        tx.update("VDI", r, |s| {
            set_image(s, &src);
            Ok(())
        })?;
        insert(tx, new)
    });
    if out.is_err() {
        let _ = loc.driver.delete(&loc.dir, &copy.file);
    }
    drop(_g);
    super::sr::refresh_stats(xapi, &loc)?;
    out
}

/// Bytes the image and its backing chain occupy (what a full copy may need).
fn chain_usage(dir: &std::path::Path, img: &Image) -> i64 {
    let mut total = 0;
    let mut next = Some((img.file.clone(), img.format.clone()));
    let mut hops = 0;
    while let Some((file, fmt)) = next.take() {
        let path = dir.join(&file);
        total += storage::allocated(&path);
        if fmt == "qcow2" && hops < 1000 {
            if let Ok(i) = qemu_img::info(&path, Some("qcow2")) {
                next = i.backing.map(|b| (b, "qcow2".to_string()));
            }
        }
        hops += 1;
    }
    total
}

/// A full, independent copy of a VDI into `dst_sr` (its own SR when `None`), or into the
/// existing VDI `into`. Progress 0..1 goes to `progress`; `cancel` stops it. The copy is written
/// under a hidden name and renamed when complete, so a scan never adopts half a disk.
pub fn full_copy(xapi: &Xapi, r: &str, dst_sr: Option<&str>, into: Option<&str>, cancel: &Cancel, progress: &mut dyn FnMut(f64)) -> Result<String, ApiError> {
    let c = class("VDI");
    let (rec, src_loc) = with_sr(xapi, r)?;
    let src = image_of(&rec);
    let into_rec = match into {
        Some(i) => Some(vdi(xapi, i)?),
        None => None,
    };
    let dst_sr = match (&into_rec, dst_sr) {
        (Some(i), _) => i.str(c, "SR").to_string(),
        (None, Some(s)) => s.to_string(),
        (None, None) => rec.str(c, "SR").to_string(),
    };
    let dst = locate(xapi, &dst_sr)?;
    dst.writable()?;
    let src_path = src_loc.dir.join(&src.file);
    if let (Some(i), Some(ir)) = (into, &into_rec) {
        if ir.get(c, "read_only").as_bool() == Some(true) {
            return Err(ApiError::new("VDI_READONLY", [i]));
        }
        let target = image_of(ir);
        if target.virtual_size < src.virtual_size {
            return Err(ApiError::new("VDI_TOO_SMALL", [i.to_string(), src.virtual_size.to_string()]));
        }
        qemu_img::convert(&src_path, &src.format, &dst.dir.join(&target.file), &target.format, true, cancel, progress)
            ?;
        let fresh = dst.driver.stat(&dst.dir, &target.file)?;
        xapi.store.write(|tx| tx.update("VDI", i, |x| Ok(set_image(x, &fresh))))?;
        super::sr::refresh_stats(xapi, &dst)?;
        return Ok(i.to_string());
    }
    let format = if src.format == "raw" && src_loc.driver.writable() { "raw" } else { "qcow2" };
    let needed = if format == "raw" { src.virtual_size } else { chain_usage(&src_loc.dir, &src) };
    let fs = storage::fs_stats(&dst.dir)?;
    if needed > fs.free {
        return Err(ApiError::new("SR_FULL", [needed.to_string(), fs.free.to_string()]));
    }
    let uuid = new_uuid();
    let tmp = dst.dir.join(format!(".tmp-{uuid}.{format}"));
    if let Err(e) = qemu_img::convert(&src_path, &src.format, &tmp, format, false, cancel, progress) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let file = storage::image_name(&uuid, format);
    let _g = lock_images();
    std::fs::rename(&tmp, dst.dir.join(&file)).map_err(|e| qemu_img::failure("rename", "", &e.to_string()))?;
    let img = dst.driver.stat(&dst.dir, &file)?;
    let mut new = vdi_record(&dst_sr, &uuid, &img, rec.str(c, "type"), false);
    for f in ["name_label", "name_description", "sharable", "other_config", "xenstore_data", "tags"] {
        new.set(c, f, rec.get(c, f).clone());
    }
    if !src_loc.driver.writable() {
        new.set(c, "type", Value::str("user"));
    }
    set_image(&mut new, &img);
    let out = xapi.store.write(|tx| insert(tx, new));
    drop(_g);
    super::sr::refresh_stats(xapi, &dst)?;
    out
}

/// Reports progress to a task: at most once per percent and per 200 ms, since every update is
/// a durable commit (and commits while a copy fills the page cache are slow).
pub fn task_progress<'a>(xapi: &'a Xapi, task: Option<&'a str>, from: f64, span: f64) -> impl FnMut(f64) + 'a {
    let mut last = -1.0;
    let mut at: Option<std::time::Instant> = None;
    move |f: f64| {
        let p = from + span * f.clamp(0.0, 1.0);
        let due = at.map_or(true, |t| t.elapsed() >= std::time::Duration::from_millis(200));
        if task.is_some() && p - last >= 0.01 && (due || f >= 1.0) {
            last = p;
            at = Some(std::time::Instant::now());
            super::task::set_progress(&xapi.store, task, p);
        }
    }
}

fn copy(ctx: &Ctx, a: Vec<Value>) -> Result<Value, ApiError> {
    let r = arg(&a, 0);
    let opt = |i: usize| Some(arg(&a, i)).filter(|s| !s.is_empty() && s != NULL_REF);
    let (sr, base, into) = (opt(1), opt(2), opt(3));
    if base.is_some() {
        return Err(ApiError::new("NOT_IMPLEMENTED", ["VDI.copy with base_vdi (delta copy)"]));
    }
    if let Some(t) = &ctx.task {
        super::task::allow_cancel(&ctx.xapi.store, t)?;
    }
    let cancel = ctx.xapi.tasks.cancel_flag(ctx.task.as_deref());
    let mut progress = task_progress(&ctx.xapi, ctx.task.as_deref(), 0.0, 1.0);
    full_copy(&ctx.xapi, &r, sr.as_deref(), into.as_deref(), &cancel, &mut progress)
        .map(Value::str)
        .map_err(|e| if e.code == "TASK_CANCELLED" { ApiError::new("TASK_CANCELLED", [ctx.task.clone().unwrap_or_default()]) } else { e })
}

fn update(ctx: &Ctx, a: Vec<Value>) -> Result<Value, ApiError> {
    let r = arg(&a, 0);
    let (rec, loc) = with_sr(&ctx.xapi, &r)?;
    let img = loc.driver.stat(&loc.dir, &image_of(&rec).file).map_err(|_| ApiError::new("VDI_MISSING", [loc.sr.clone(), r.clone()]))?;
    ctx.xapi.store.write(|tx| tx.update("VDI", &r, |x| Ok(set_image(x, &img))))?;
    Ok(Value::void())
}

/// `VDI.introduce`: a record for an image already in the SR (named by `location`).
fn introduce(ctx: &Ctx, a: Vec<Value>) -> Result<Value, ApiError> {
    let c = class("VDI");
    let sr = arg(&a, 3);
    let loc = locate(&ctx.xapi, &sr)?;
    let location = arg(&a, 8);
    if location.contains('/') || !loc.driver.exists(&loc.dir, &location) {
        return Err(ApiError::new("VDI_LOCATION_MISSING", [sr.as_str(), location.as_str()]));
    }
    let img = loc.driver.stat(&loc.dir, &location)?;
    let _g = lock_images();
    let t = ctx.xapi.store.read();
    if refs(t.get("SR", &sr).map(|s| s.get(class("SR"), "VDIs").clone()).as_ref().unwrap_or(&Value::Set(vec![])))
        .iter()
        .any(|v| t.get("VDI", v).is_some_and(|x| x.str(c, "location") == location))
    {
        return Err(ApiError::new("INVALID_VALUE", ["location", location.as_str()]));
    }
    drop(t);
    let mut uuid = arg(&a, 0);
    if uuid.is_empty() {
        uuid = new_uuid();
    }
    let mut rec = vdi_record(&sr, &uuid, &img, &arg(&a, 4), a[6].as_bool().unwrap_or(false) || !loc.driver.writable());
    rec.set(c, "name_label", a[1].clone());
    rec.set(c, "name_description", a[2].clone());
    rec.set(c, "sharable", a[5].clone());
    rec.set(c, "other_config", a[7].clone());
    rec.set(c, "xenstore_data", a[9].clone());
    let r = ctx.xapi.store.write(|tx| insert(tx, rec))?;
    Ok(Value::str(r))
}

fn set_field(ctx: &Ctx, a: &[Value], field: &str) -> Result<Value, ApiError> {
    let (r, v) = (arg(a, 0), a[1].clone());
    ctx.xapi.store.write(|tx| tx.update("VDI", &r, |x| Ok(x.set(class("VDI"), field, v))))?;
    Ok(Value::void())
}

pub fn register(d: &mut Dispatcher) {
    d.override_implicit_with(
        "VDI.create",
        blocking(|ctx, a| {
            let rec = record_from_create_args(class("VDI"), &a[0])?;
            create_vdi(&ctx.xapi, rec).map(Value::str)
        }),
    );
    d.override_implicit_with("VDI.destroy", blocking(|ctx, a| destroy_vdi(&ctx.xapi, &arg(&a, 0)).map(|_| Value::void())));
    d.implement_sync("VDI.forget", |ctx, a| {
        let r = arg(&a, 0);
        let _g = lock_images();
        ctx.xapi.store.write(|tx| {
            if attached_in(tx, &r) {
                return Err(ApiError::new("VDI_IN_USE", [r.as_str(), "forget"]));
            }
            forget_record(tx, &r)
        })?;
        Ok(Value::void())
    });
    d.implement("VDI.resize", blocking(resize));
    d.implement("VDI.resize_online", blocking(resize_online));
    d.implement("VDI.clone", blocking(|ctx, a| fast_copy(&ctx.xapi, &arg(&a, 0), false).map(Value::str)));
    d.implement("VDI.snapshot", blocking(|ctx, a| fast_copy(&ctx.xapi, &arg(&a, 0), true).map(Value::str)));
    d.implement("VDI.copy", blocking(copy));
    d.implement("VDI.update", blocking(update));
    d.implement("VDI.introduce", blocking(introduce));
    d.implement_sync("VDI.set_name_label", |ctx, a| set_field(ctx, &a, "name_label"));
    d.implement_sync("VDI.set_name_description", |ctx, a| set_field(ctx, &a, "name_description"));
    d.implement_sync("VDI.set_read_only", |ctx, a| set_field(ctx, &a, "read_only"));
    d.implement_sync("VDI.set_sharable", |ctx, a| set_field(ctx, &a, "sharable"));
    d.implement_sync("VDI.set_on_boot", |ctx, a| set_field(ctx, &a, "on_boot"));
    d.implement_sync("VDI.set_allow_caching", |ctx, a| set_field(ctx, &a, "allow_caching"));
}
