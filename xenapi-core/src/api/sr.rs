//! SR messages: create, introduce, forget, destroy, scan, update; and what the other storage
//! modules share: where an attached SR's images live, its driver, its space figures, and one
//! lock that keeps image files and VDI records in step.
//!
//! ```text
//! SR.create(session, host, {"location": "/srv/disks"}, "0", "Disks", "", "file", "user", false, {})
//! SR.scan(session, sr)          # adopts image files added by hand, refreshes sizes
//! ```

use super::ops::storage::{sr_permits, SrView, SR_OPERATIONS};
use super::Xapi;
use crate::dispatch::{Ctx, Dispatcher};
use crate::generated::args::*;
use crate::generated::handlers::{register_sr, SrMessages};
use crate::generated::SrRecord;
use crate::typed::{self, Ref, Reply};
use crate::error::ApiError;
use crate::model::{model, Class};
use crate::storage::{self, Driver, Image};
use crate::store::{new_ref, new_uuid, Record, Store, Tx};
use crate::value::{Value, NULL_REF};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

pub fn class(name: &str) -> &'static Class {
    model().class(name).unwrap_or_else(|| panic!("{name} in model"))
}

pub fn map_get(v: &Value, key: &str) -> Option<String> {
    match v {
        Value::Map(m) => m.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v.key_string()),
        _ => None,
    }
}

pub fn str_map(pairs: &[(&str, &str)]) -> Value {
    Value::Map(pairs.iter().map(|(k, v)| (Value::str(*k), Value::str(*v))).collect())
}

/// The value of `key` in a typed string map.
pub fn pair_get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// A typed string map as a `Value` (what the store holds).
pub fn pairs_value(pairs: Vec<(String, String)>) -> Value {
    typed::from_map(pairs, Value::String, Value::String)
}

pub fn refs(v: &Value) -> Vec<String> {
    match v {
        Value::Set(items) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => vec![],
    }
}

static IMAGES: Mutex<()> = Mutex::new(());

/// Held while image files and VDI records change together (create, clone, destroy, the final
/// rename of a copy, scan), so a scan never sees a file whose record is about to be written.
pub fn lock_images() -> MutexGuard<'static, ()> {
    IMAGES.lock().unwrap_or_else(|p| p.into_inner())
}

/// An attached SR: its directory and driver.
#[derive(Clone)]
pub struct Located {
    pub sr: String,
    pub dir: PathBuf,
    pub driver: &'static dyn Driver,
}

impl Located {
    pub fn writable(&self) -> Result<(), ApiError> {
        if self.driver.writable() {
            Ok(())
        } else {
            Err(ApiError::new("SR_OPERATION_NOT_SUPPORTED", [self.sr.as_str()]))
        }
    }
}

pub fn driver_of(rec: &Record) -> Result<&'static dyn Driver, ApiError> {
    let ty = rec.str(class("SR"), "type");
    storage::driver(ty).ok_or_else(|| ApiError::new("SR_UNKNOWN_DRIVER", [ty]))
}

/// The directory named by a PBD's `device_config` (`location`, or `path`).
pub fn pbd_dir(pbd: &Record) -> Option<PathBuf> {
    let dc = pbd.get(class("PBD"), "device_config");
    map_get(dc, "location").or_else(|| map_get(dc, "path")).filter(|s| !s.is_empty()).map(PathBuf::from)
}

/// Where an SR's images are, if it is attached: `SR_HAS_NO_PBDS` without a PBD,
/// `SR_NOT_ATTACHED` when none is plugged.
pub fn locate(xapi: &Xapi, sr: &str) -> Result<Located, ApiError> {
    let t = xapi.store.read();
    let rec = t.get("SR", sr).ok_or_else(|| ApiError::handle_invalid("SR", sr))?;
    let driver = driver_of(rec)?;
    let pbds = refs(rec.get(class("SR"), "PBDs"));
    if pbds.is_empty() {
        return Err(ApiError::new("SR_HAS_NO_PBDS", [sr]));
    }
    let pc = class("PBD");
    for p in &pbds {
        if let Some(pbd) = t.get("PBD", p) {
            if pbd.get(pc, "currently_attached").as_bool() == Some(true) {
                if let Some(dir) = pbd_dir(pbd) {
                    return Ok(Located { sr: sr.to_string(), dir, driver });
                }
            }
        }
    }
    Err(ApiError::new("SR_NOT_ATTACHED", [sr]))
}

/// `SR_FULL [requested, maximum]` when an image of `size` bytes cannot fit: qcow2 images are
/// thin (their virtual size may not exceed the filesystem), raw ones need the space free now.
pub fn check_space(loc: &Located, format: &str, size: i64) -> Result<(), ApiError> {
    let fs = storage::fs_stats(&loc.dir)?;
    let max = if format == "qcow2" { fs.size } else { fs.free };
    if size > max {
        return Err(ApiError::new("SR_FULL", [size.to_string(), max.to_string()]));
    }
    Ok(())
}

/// Re-reads the SR's space figures: filesystem size, bytes its files use, sum of virtual sizes.
pub fn refresh_stats(xapi: &Xapi, loc: &Located) -> Result<(), ApiError> {
    let fs = storage::fs_stats(&loc.dir)?;
    let used = storage::dir_usage(&loc.dir);
    xapi.store.write(|tx| set_stats(tx, &loc.sr, fs.size, used))
}

fn set_stats(tx: &mut Tx<'_>, sr: &str, size: i64, used: i64) -> Result<(), ApiError> {
    let (c, vc) = (class("SR"), class("VDI"));
    let rec = tx.must_get("SR", sr)?;
    let alloc: i64 = refs(rec.get(c, "VDIs")).iter().filter_map(|v| tx.get("VDI", v)).map(|v| v.get(vc, "virtual_size").as_int().unwrap_or(0)).sum();
    tx.update("SR", sr, |r| {
        r.set(c, "physical_size", Value::Int(size));
        r.set(c, "physical_utilisation", Value::Int(used));
        r.set(c, "virtual_allocation", Value::Int(alloc));
        Ok(())
    })
}

/// Recomputes the SR's `allowed_operations` from its driver and PBDs (the rules and the op →
/// message table are in `ops::storage`).
pub fn refresh_ops(tx: &mut Tx<'_>, sr: &str) -> Result<(), ApiError> {
    let Some(rec) = tx.get("SR", sr) else { return Ok(()) };
    let pc = class("PBD");
    let plugged: Vec<bool> = refs(rec.get(class("SR"), "PBDs")).iter().filter_map(|p| tx.get("PBD", p)).map(|p| p.get(pc, "currently_attached").as_bool() == Some(true)).collect();
    let view = SrView {
        writable: storage::driver(rec.str(class("SR"), "type")).is_some_and(|d| d.writable()),
        plugged: plugged.contains(&true),
        unplugged: plugged.contains(&false),
    };
    super::ops::store(tx, "SR", sr, super::ops::offered(SR_OPERATIONS, |op| sr_permits(&view, op)))
}

/// After a PBD of the SR was made, plugged, unplugged or destroyed: what the SR and its VDIs
/// offer follows whether the SR is attached.
pub fn refresh_attachment(tx: &mut Tx<'_>, sr: &str) -> Result<(), ApiError> {
    refresh_ops(tx, sr)?;
    let vdis = tx.get("SR", sr).map(|r| refs(r.get(class("SR"), "VDIs"))).unwrap_or_default();
    for v in vdis {
        super::vdi::refresh_ops(tx, &v)?;
    }
    Ok(())
}

/// A new SR record (not stored).
pub fn sr_record(uuid: &str, name: &str, desc: &str, driver: &dyn Driver, content_type: &str, shared: bool, sm_config: Value) -> Record {
    let c = class("SR");
    let mut r = Record::new_default(c);
    r.set(c, "uuid", Value::str(uuid));
    r.set(c, "name_label", Value::str(name));
    r.set(c, "name_description", Value::str(desc));
    r.set(c, "type", Value::str(driver.name()));
    r.set(c, "content_type", Value::str(if content_type.is_empty() { driver.content_type() } else { content_type }));
    r.set(c, "shared", Value::Bool(shared));
    r.set(c, "sm_config", sm_config);
    r
}

/// Stores a PBD of `sr` on `host` and links it from both.
pub fn insert_pbd(tx: &mut Tx<'_>, host: &str, sr: &str, device_config: Value, attached: bool) -> Result<String, ApiError> {
    let c = class("PBD");
    let mut p = Record::new_default(c);
    p.set(c, "uuid", Value::str(new_uuid()));
    p.set(c, "host", Value::str(host));
    p.set(c, "SR", Value::str(sr));
    p.set(c, "device_config", device_config);
    p.set(c, "currently_attached", Value::Bool(attached));
    let r = new_ref();
    tx.put("PBD", &r, p);
    tx.add_to_set("SR", sr, "PBDs", &r)?;
    if tx.exists("host", host) {
        tx.add_to_set("host", host, "PBDs", &r)?;
    }
    refresh_attachment(tx, sr)?;
    Ok(r)
}

/// Makes an SR of `driver` at `dir` with an attached PBD; returns its ref.
pub fn make_sr(
    store: &Store,
    host: &str,
    uuid: &str,
    dir: &std::path::Path,
    name: &str,
    desc: &str,
    driver: &'static dyn Driver,
    content_type: &str,
    shared: bool,
    sm_config: Value,
) -> Result<String, ApiError> {
    if driver.writable() {
        crate::state_dir::create_private_dir(dir).map_err(|e| storage::qemu_img::failure("mkdir", "", &format!("{}: {e}", dir.display())))?;
    } else if !dir.is_dir() {
        return Err(storage::qemu_img::failure("ENOENT", "", &format!("{} is not a directory", dir.display())));
    }
    let r = new_ref();
    let location = dir.to_string_lossy().into_owned();
    store.write(|tx| {
        tx.put("SR", &r, sr_record(uuid, name, desc, driver, content_type, shared, sm_config));
        insert_pbd(tx, host, &r, str_map(&[("location", &location)]), true)?;
        Ok(())
    })?;
    Ok(r)
}

/// A VDI record for an image of `sr`.
pub fn vdi_record(sr: &str, uuid: &str, img: &Image, ty: &str, read_only: bool) -> Record {
    let c = class("VDI");
    let mut r = Record::new_default(c);
    r.set(c, "uuid", Value::str(uuid));
    r.set(c, "SR", Value::str(sr));
    r.set(c, "name_label", Value::str(&img.file));
    r.set(c, "type", Value::str(ty));
    r.set(c, "read_only", Value::Bool(read_only));
    r.set(c, "managed", Value::Bool(true));
    r.set(c, "on_boot", Value::str("persist"));
    set_image(&mut r, img);
    r
}

/// Copies what the image says into its VDI record.
pub fn set_image(r: &mut Record, img: &Image) {
    let c = class("VDI");
    r.set(c, "location", Value::str(&img.file));
    r.set(c, "virtual_size", Value::Int(img.virtual_size));
    r.set(c, "physical_utilisation", Value::Int(img.physical));
    r.set(c, "missing", Value::Bool(false));
    let mut sm = match r.get(c, "sm_config") {
        Value::Map(m) => m.clone(),
        _ => vec![],
    };
    sm.retain(|(k, _)| k.as_str() != Some("format"));
    sm.push((Value::str("format"), Value::str(&img.format)));
    r.set(c, "sm_config", Value::Map(sm));
}

/// `SR.scan`: adopts images nobody knows (a crash's orphans, files added by hand), refreshes the
/// sizes of known ones, and deals with VDIs whose file is gone (forgotten when unused, else
/// marked `missing`). Then the SR's space figures.
pub fn scan(xapi: &Xapi, sr: &str) -> Result<(), ApiError> {
    let loc = locate(xapi, sr)?;
    let _g = lock_images();
    loc.driver.collect_garbage(&loc.dir);
    let images = loc.driver.scan(&loc.dir)?;
    let fs = storage::fs_stats(&loc.dir)?;
    let used = storage::dir_usage(&loc.dir);
    let (sc, vc) = (class("SR"), class("VDI"));
    xapi.store.write(|tx| {
        let rec = tx.must_get("SR", sr)?;
        let known = refs(rec.get(sc, "VDIs"));
        let mut seen = std::collections::HashSet::new();
        for v in &known {
            let Some(vdi) = tx.get("VDI", v) else { continue };
            let loc_name = vdi.str(vc, "location").to_string();
            match images.iter().find(|i| i.file == loc_name) {
                Some(img) => {
                    seen.insert(loc_name);
                    tx.update("VDI", v, |r| {
                        set_image(r, img);
                        Ok(())
                    })?;
                }
                None if refs(vdi.get(vc, "VBDs")).is_empty() => super::vdi::forget_record(tx, v)?,
                None => tx.update("VDI", v, |r| {
                    r.set(vc, "missing", Value::Bool(true));
                    Ok(())
                })?,
            }
        }
        for img in images.iter().filter(|i| !seen.contains(&i.file)) {
            // A file named after a free uuid keeps it (so an SR forgotten and introduced
            // again gets its VDIs back under the same uuids).
            let stem = img.file.rsplit_once('.').map(|(s, _)| s).unwrap_or(&img.file);
            let uuid = match uuid::Uuid::parse_str(stem) {
                Ok(u) if !tx.all_refs("VDI").iter().any(|r| tx.get("VDI", r).is_some_and(|x| x.str(vc, "uuid") == u.to_string())) => u.to_string(),
                _ => new_uuid(),
            };
            let r = new_ref();
            let rec = vdi_record(sr, &uuid, img, loc.driver.vdi_type(), !loc.driver.writable());
            tx.put("VDI", &r, rec);
            tx.add_to_set("SR", sr, "VDIs", &r)?;
            super::vdi::refresh_ops(tx, &r)?;
        }
        set_stats(tx, sr, fs.size, used)
    })
}

fn create(ctx: &Ctx, a: SrCreateArgs) -> Result<Ref<SrRecord>, ApiError> {
    let ty = a.type_;
    let driver = storage::driver(&ty).ok_or_else(|| ApiError::new("SR_UNKNOWN_DRIVER", [ty.as_str()]))?;
    let uuid = new_uuid();
    let location = pair_get(&a.device_config, "location").or_else(|| pair_get(&a.device_config, "path"));
    let dir = match location.filter(|s| !s.is_empty()) {
        Some(d) => PathBuf::from(d),
        None if driver.writable() => ctx.xapi.config.state_dir.join("sr").join(&uuid),
        None => return Err(storage::qemu_img::failure("EINVAL", "", "device_config:location (a directory of ISO files) is required")),
    };
    let sm_config = pairs_value(a.sm_config);
    let r = make_sr(&ctx.xapi.store, &a.host, &uuid, &dir, &a.name_label, &a.name_description, driver, &a.content_type, a.shared, sm_config)?;
    scan(&ctx.xapi, &r)?;
    Ok(Ref::new(r))
}

fn introduce(ctx: &Ctx, a: SrIntroduceArgs) -> Result<Ref<SrRecord>, ApiError> {
    let ty = a.type_;
    let driver = storage::driver(&ty).ok_or_else(|| ApiError::new("SR_UNKNOWN_DRIVER", [ty.as_str()]))?;
    let mut uuid = a.uuid;
    if uuid.is_empty() {
        uuid = new_uuid();
    }
    if ctx.xapi.store.read().table("SR").by_uuid(&uuid).is_some() {
        return Err(ApiError::new("INVALID_VALUE", ["uuid", uuid.as_str()]));
    }
    let r = new_ref();
    let rec = sr_record(&uuid, &a.name_label, &a.name_description, driver, &a.content_type, a.shared, pairs_value(a.sm_config));
    ctx.xapi.store.write(|tx| {
        tx.put("SR", &r, rec);
        refresh_ops(tx, &r)
    })?;
    Ok(Ref::new(r))
}

/// `SR_HAS_PBD [sr]` while a PBD is plugged.
fn assert_unplugged(xapi: &Xapi, sr: &str) -> Result<Record, ApiError> {
    let t = xapi.store.read();
    let rec = t.get("SR", sr).ok_or_else(|| ApiError::handle_invalid("SR", sr))?;
    for p in refs(rec.get(class("SR"), "PBDs")) {
        if t.get("PBD", &p).is_some_and(|r| r.get(class("PBD"), "currently_attached").as_bool() == Some(true)) {
            return Err(ApiError::new("SR_HAS_PBD", [sr]));
        }
    }
    Ok((**rec).clone())
}

/// Removes the SR record with its PBDs and VDI records (and the VBDs of those VDIs).
fn forget_records(xapi: &Xapi, sr: &str) -> Result<(), ApiError> {
    xapi.store.write(|tx| {
        let rec = tx.must_get("SR", sr)?;
        let c = class("SR");
        for v in refs(rec.get(c, "VDIs")) {
            super::vdi::forget_record(tx, &v)?;
        }
        for p in refs(rec.get(c, "PBDs")) {
            if let Some(pbd) = tx.get("PBD", &p) {
                let host = pbd.str(class("PBD"), "host").to_string();
                tx.remove_from_set("host", &host, "PBDs", &p)?;
                tx.delete("PBD", &p);
            }
        }
        let pc = class("pool");
        for pool in tx.all_refs("pool") {
            for f in ["default_SR", "suspend_image_SR", "crash_dump_SR"] {
                if tx.get("pool", &pool).is_some_and(|p| p.str(pc, f) == sr) {
                    tx.update("pool", &pool, |p| {
                        p.set(pc, f, Value::null_ref());
                        Ok(())
                    })?;
                }
            }
        }
        tx.delete("SR", sr);
        Ok(())
    })
}

/// VDI_IN_USE when a VBD still uses one of the SR's VDIs.
fn assert_vdis_unused(xapi: &Xapi, rec: &Record, op: &str) -> Result<(), ApiError> {
    let t = xapi.store.read();
    for v in refs(rec.get(class("SR"), "VDIs")) {
        if t.get("VDI", &v).is_some_and(|r| !refs(r.get(class("VDI"), "VBDs")).is_empty()) {
            return Err(ApiError::new("VDI_IN_USE", [v.as_str(), op]));
        }
    }
    Ok(())
}

fn destroy(ctx: &Ctx, sr: &str) -> Result<(), ApiError> {
    let rec = assert_unplugged(&ctx.xapi, sr)?;
    let driver = driver_of(&rec)?;
    if !driver.writable() {
        return Err(ApiError::new("SR_OPERATION_NOT_SUPPORTED", [sr]));
    }
    assert_vdis_unused(&ctx.xapi, &rec, "destroy")?;
    // The images go with the SR: the directory of its (first) PBD.
    let dir = {
        let t = ctx.xapi.store.read();
        refs(rec.get(class("SR"), "PBDs")).iter().filter_map(|p| t.get("PBD", p).and_then(|p| pbd_dir(p))).next()
    };
    let _g = lock_images();
    forget_records(&ctx.xapi, sr)?;
    if let Some(dir) = dir {
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if storage::format_of(&n).is_some() || n.starts_with(".base-") || n.starts_with(".tmp-") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let _ = std::fs::remove_dir(&dir); // only when nothing else is left in it
    }
    Ok(())
}

pub struct SrApi;

/// Work on image files and directories (`qemu-img`, directory walks) runs on a blocking thread
/// so the connection's runtime keeps serving. `SR.set_name_label`, `set_name_description`,
/// `set_shared` and `set_physical_size` are declared plain setters: the generic setter serves
/// them.
impl SrMessages for SrApi {
    fn create(ctx: Ctx, a: SrCreateArgs) -> Reply<Ref<SrRecord>> {
        typed::blocking(move || create(&ctx, a))
    }
    fn introduce(ctx: &Ctx, a: SrIntroduceArgs) -> Result<Ref<SrRecord>, ApiError> {
        introduce(ctx, a)
    }
    fn forget(ctx: &Ctx, a: SrForgetArgs) -> Result<(), ApiError> {
        assert_unplugged(&ctx.xapi, &a.sr)?;
        let _g = lock_images();
        forget_records(&ctx.xapi, &a.sr)
    }
    fn destroy(ctx: Ctx, a: SrDestroyArgs) -> Reply<()> {
        typed::blocking(move || destroy(&ctx, &a.sr))
    }
    fn scan(ctx: Ctx, a: SrScanArgs) -> Reply<()> {
        typed::blocking(move || scan(&ctx.xapi, &a.sr))
    }
    fn update(ctx: Ctx, a: SrUpdateArgs) -> Reply<()> {
        typed::blocking(move || {
            let loc = locate(&ctx.xapi, &a.sr)?;
            refresh_stats(&ctx.xapi, &loc)
        })
    }
    fn get_supported_types(_: &Ctx, _: SrGetSupportedTypesArgs) -> Result<Vec<String>, ApiError> {
        Ok(storage::SUPPORTED_TYPES.iter().map(|t| t.to_string()).collect())
    }
}

pub fn register(d: &mut Dispatcher) {
    register_sr::<SrApi>(d);
}

/// The local SR made on first start, as `pool.default_SR`; `None` when there is one already.
pub fn ensure_local_sr(store: &Store, state_dir: &std::path::Path, host: &str, pool: &str) -> Result<(), String> {
    let has_file_sr = {
        let t = store.read();
        t.table("SR").objects.values().any(|r| r.str(class("SR"), "type") == "file")
    };
    if has_file_sr {
        return Ok(());
    }
    if !storage::qemu_img::available() {
        tracing::error!("qemu-img is missing (apt-get install -y qemu-utils): the local SR is made, but disks cannot be created until it is installed");
    }
    let uuid = new_uuid();
    let dir = state_dir.join("sr").join(&uuid);
    let driver = storage::driver("file").expect("file driver");
    let sr = make_sr(store, host, &uuid, &dir, "Local storage", "Disk images on this host (qcow2 files)", driver, "user", false, Value::Map(vec![]))
        .map_err(|e| format!("cannot make the local SR: {e}"))?;
    store
        .write(|tx| {
            let pc = class("pool");
            if tx.get("pool", pool).is_some_and(|p| p.str(pc, "default_SR") == NULL_REF) {
                tx.update("pool", pool, |p| {
                    for f in ["default_SR", "suspend_image_SR", "crash_dump_SR"] {
                        p.set(pc, f, Value::str(&sr));
                    }
                    Ok(())
                })?;
            }
            let fs = storage::fs_stats(&dir)?;
            set_stats(tx, &sr, fs.size, storage::dir_usage(&dir))
        })
        .map_err(|e| format!("cannot make the local SR: {e}"))
}
