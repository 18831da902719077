//! VDI messages: create, destroy, forget, resize, clone, snapshot, copy, update, introduce and
//! the name setters. Every VDI of a `file` SR is a real image file (`location` names it inside
//! the SR's directory); its sizes are what `qemu-img` and the filesystem say.
//!
//! ```text
//! VDI.create(session, {SR, virtual_size: "1073741824", type: "user", sharable, read_only, other_config, sm_config: {"format": "raw"}?})
//! Async.VDI.copy(session, vdi, sr, NULL, NULL)   # task progress follows qemu-img convert
//! ```

use super::ops::{self, storage::{vdi_permits, VdiView, VDI_OPERATIONS}};
use super::sr::{check_space, class, locate, lock_images, map_get, pairs_value, refs, set_image, vdi_record, Located};
use super::Xapi;
use crate::backend::Cancel;
use crate::dispatch::implicit::record_from_create_args;
use crate::dispatch::{Ctx, Dispatcher};
use crate::error::ApiError;
use crate::generated::args::*;
use crate::generated::handlers::{register_vdi, VdiMessages};
use crate::generated::VdiRecord;
use crate::typed::{self, CreateArgs, OnObject, Ref, Reply};
use crate::storage::{self, qemu_img, Image};
use crate::store::{new_ref, new_uuid, Record, Tx};
use crate::value::Value;

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

fn resize(ctx: &Ctx, r: &str, size: i64) -> Result<(), ApiError> {
    let (rec, loc) = with_sr(&ctx.xapi, r)?;
    loc.writable()?;
    let img = image_of(&rec);
    if rec.get(class("VDI"), "is_a_snapshot").as_bool() == Some(true) {
        return Err(ApiError::new("OPERATION_NOT_ALLOWED", [format!("VDI {r} is a snapshot")]));
    }
    // Disks only grow: a smaller size would cut off the guest's data.
    if size < img.virtual_size {
        return Err(ApiError::new("VDI_TOO_SMALL", [r.to_string(), img.virtual_size.to_string()]));
    }
    let size = (size + 511) / 512 * 512;
    check_space(&loc, &img.format, size)?;
    let _g = lock_images();
    let new = loc.driver.resize(&loc.dir, &img, size)?;
    ctx.xapi.store.write(|tx| {
        tx.update("VDI", r, |rec| {
            set_image(rec, &new);
            Ok(())
        })
    })?;
    drop(_g);
    super::sr::refresh_stats(&ctx.xapi, &loc)
}

/// `VDI.resize_online`: the same as `resize`, for a VDI that is attached to a running VM.
fn resize_online(ctx: &Ctx, r: &str, size: i64) -> Result<(), ApiError> {
    // A read-only transaction (nothing staged, nothing written) to ask the same question as
    // the other VDI operations.
    let attached = ctx.xapi.store.write(|tx| Ok(attached_in(tx, r)))?;
    if !attached {
        return Err(ApiError::new("OPERATION_NOT_ALLOWED", [format!("VDI {r} is not attached to a running VM; use VDI.resize")]));
    }
    resize(ctx, r, size)
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

fn copy(ctx: &Ctx, a: VdiCopyArgs) -> Result<Ref<VdiRecord>, ApiError> {
    if a.base_vdi.non_null().is_some() {
        return Err(ApiError::new("NOT_IMPLEMENTED", ["VDI.copy with base_vdi (delta copy)"]));
    }
    if let Some(t) = &ctx.task {
        super::task::allow_cancel(&ctx.xapi.store, t)?;
    }
    let cancel = ctx.xapi.tasks.cancel_flag(ctx.task.as_deref());
    let mut progress = task_progress(&ctx.xapi, ctx.task.as_deref(), 0.0, 1.0);
    full_copy(&ctx.xapi, &a.vdi, a.sr.non_null(), a.into_vdi.non_null(), &cancel, &mut progress)
        .map(Ref::new)
        .map_err(|e| if e.code == "TASK_CANCELLED" { ApiError::new("TASK_CANCELLED", [ctx.task.clone().unwrap_or_default()]) } else { e })
}

fn update(ctx: &Ctx, r: &str) -> Result<(), ApiError> {
    let (rec, loc) = with_sr(&ctx.xapi, r)?;
    let img = loc.driver.stat(&loc.dir, &image_of(&rec).file).map_err(|_| ApiError::new("VDI_MISSING", [loc.sr.as_str(), r]))?;
    ctx.xapi.store.write(|tx| tx.update("VDI", r, |x| Ok(set_image(x, &img))))
}

/// `VDI.introduce`: a record for an image already in the SR (named by `location`). The
/// arguments after `xenstore_data` (sm_config, managed, sizes, snapshot fields) are accepted and
/// not used: the image itself says its sizes.
fn introduce(ctx: &Ctx, a: VdiIntroduceArgs) -> Result<Ref<VdiRecord>, ApiError> {
    let c = class("VDI");
    let sr = a.sr.as_str();
    let loc = locate(&ctx.xapi, sr)?;
    let location = a.location.as_str();
    if location.contains('/') || !loc.driver.exists(&loc.dir, location) {
        return Err(ApiError::new("VDI_LOCATION_MISSING", [sr, location]));
    }
    let img = loc.driver.stat(&loc.dir, location)?;
    let _g = lock_images();
    let t = ctx.xapi.store.read();
    if refs(t.get("SR", sr).map(|s| s.get(class("SR"), "VDIs").clone()).as_ref().unwrap_or(&Value::Set(vec![])))
        .iter()
        .any(|v| t.get("VDI", v).is_some_and(|x| x.str(c, "location") == location))
    {
        return Err(ApiError::new("INVALID_VALUE", ["location", location]));
    }
    drop(t);
    let uuid = if a.uuid.is_empty() { new_uuid() } else { a.uuid.clone() };
    let mut rec = vdi_record(sr, &uuid, &img, a.type_.wire_name(), a.read_only || !loc.driver.writable());
    rec.set(c, "name_label", Value::String(a.name_label));
    rec.set(c, "name_description", Value::String(a.name_description));
    rec.set(c, "sharable", Value::Bool(a.sharable));
    rec.set(c, "other_config", pairs_value(a.other_config));
    rec.set(c, "xenstore_data", pairs_value(a.xenstore_data));
    let r = ctx.xapi.store.write(|tx| insert(tx, rec))?;
    Ok(Ref::new(r))
}

pub struct VdiApi;

/// Work on image files runs on a blocking thread (`typed::blocking`). `VDI.set_name_label`,
/// `set_name_description`, `set_read_only`, `set_sharable`, `set_on_boot` and
/// `set_allow_caching` are declared plain setters: the generic setter serves them.
impl VdiMessages for VdiApi {
    fn forget(ctx: &Ctx, a: VdiForgetArgs) -> Result<(), ApiError> {
        let r = a.vdi;
        let _g = lock_images();
        ctx.xapi.store.write(|tx| {
            if attached_in(tx, &r) {
                return Err(ApiError::new("VDI_IN_USE", [r.as_str(), "forget"]));
            }
            forget_record(tx, &r)
        })
    }
    fn resize(ctx: Ctx, a: VdiResizeArgs) -> Reply<()> {
        typed::blocking(move || resize(&ctx, &a.vdi, a.size))
    }
    fn resize_online(ctx: Ctx, a: VdiResizeOnlineArgs) -> Reply<()> {
        typed::blocking(move || resize_online(&ctx, &a.vdi, a.size))
    }
    /// `driver_params` are accepted and not used (no driver takes any).
    fn clone(ctx: Ctx, a: VdiCloneArgs) -> Reply<Ref<VdiRecord>> {
        typed::blocking(move || fast_copy(&ctx.xapi, &a.vdi, false).map(Ref::new))
    }
    fn snapshot(ctx: Ctx, a: VdiSnapshotArgs) -> Reply<Ref<VdiRecord>> {
        typed::blocking(move || fast_copy(&ctx.xapi, &a.vdi, true).map(Ref::new))
    }
    fn copy(ctx: Ctx, a: VdiCopyArgs) -> Reply<Ref<VdiRecord>> {
        typed::blocking(move || copy(&ctx, a))
    }
    fn update(ctx: Ctx, a: VdiUpdateArgs) -> Reply<()> {
        typed::blocking(move || update(&ctx, &a.vdi))
    }
    fn introduce(ctx: Ctx, a: VdiIntroduceArgs) -> Reply<Ref<VdiRecord>> {
        typed::blocking(move || introduce(&ctx, a))
    }
}

fn create(ctx: Ctx, a: CreateArgs) -> Reply<Ref<VdiRecord>> {
    typed::blocking(move || {
        let rec = record_from_create_args(class("VDI"), &a.record)?;
        create_vdi(&ctx.xapi, rec).map(Ref::new)
    })
}

fn destroy(ctx: Ctx, a: OnObject<VdiRecord>) -> Reply<()> {
    typed::blocking(move || destroy_vdi(&ctx.xapi, &a.this))
}

/// Binds the VDI class: its trait, and `VDI.create`/`VDI.destroy` (implicit messages that make
/// and remove the image too).
pub fn register(d: &mut Dispatcher) {
    register_vdi::<VdiApi>(d);
    d.override_implicit_with("VDI.create", typed::async_handler(create, |r: Ref<VdiRecord>| Value::String(r.into_string())));
    d.override_implicit_with("VDI.destroy", typed::async_handler(destroy, |_: ()| Value::void()));
}
