//! The broker's implementation of the CMPI encapsulated types.
//!
//! Every object is an [`Obj`]: the `{hdl, ft}` header the ABI requires, followed by
//! an arena flag and the Rust data. Objects made by factory functions during a
//! call are registered in the thread's current arena and freed when the call ends;
//! `release` on them is a no-op. Clones are never in an arena: `release` frees them.
//! Containers (instances, paths, arrays, args, contexts) own deep copies of the
//! values stored in them ([`Owned`]).

use super::arena;
use crate::abi::*;
use crate::conv;
use crate::ffi::{guard, guard_status, set_rc};
use crate::value::*;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};
use std::ptr;

// ---- generic object header --------------------------------------------------

#[repr(C)]
pub(crate) struct Obj<T: 'static, F: 'static> {
    hdl: *mut c_void,
    ft: *mut F,
    in_arena: bool,
    pub data: T,
}

/// Number of live broker objects (all types), for leak tests.
static LIVE_OBJECTS: std::sync::atomic::AtomicIsize = std::sync::atomic::AtomicIsize::new(0);

/// Number of broker objects currently alive in this process.
pub fn live_objects() -> isize {
    LIVE_OBJECTS.load(std::sync::atomic::Ordering::SeqCst)
}

impl<T: 'static, F: 'static> Drop for Obj<T, F> {
    fn drop(&mut self) {
        LIVE_OBJECTS.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

unsafe fn drop_obj<T: 'static, F: 'static>(p: *mut u8) {
    // SAFETY (caller): `p` came from `Obj::<T, F>::alloc` and is dropped once.
    drop(Box::from_raw(p as *mut Obj<T, F>));
}

impl<T: 'static, F: 'static> Obj<T, F> {
    /// Allocates an object; `in_arena` registers it in the current call's arena.
    pub fn alloc(ft: &'static F, data: T, in_arena: bool) -> *mut Obj<T, F> {
        LIVE_OBJECTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let b = Box::into_raw(Box::new(Obj { hdl: ptr::null_mut(), ft: ft as *const F as *mut F, in_arena, data }));
        // SAFETY: `b` was just allocated and is uniquely owned here.
        unsafe { (*b).hdl = b as *mut c_void };
        if in_arena {
            arena::register(b as *mut u8, drop_obj::<T, F>);
        }
        b
    }

    /// The data of `p` if it is one of our objects with function table `ft`.
    ///
    /// # Safety
    /// `p` is NULL or points to a CMPI encapsulated object (`{hdl, ft}` header).
    pub unsafe fn data<'a, P>(p: *const P, ft: &'static F) -> Option<&'a mut T> {
        if p.is_null() {
            return None;
        }
        let o = p as *mut Obj<T, F>;
        if !std::ptr::eq((*o).ft, ft) || (*o).hdl != o as *mut c_void {
            return None;
        }
        Some(&mut (*o).data)
    }

    /// Frees a non-arena object; arena objects are left to their arena.
    ///
    /// # Safety
    /// `p` is NULL or one of our objects with function table `ft`.
    pub unsafe fn release<P>(p: *mut P, ft: &'static F) -> CMPIStatus {
        if Self::data(p, ft).is_none() {
            return CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE);
        }
        let o = p as *mut Obj<T, F>;
        if !(*o).in_arena {
            drop(Box::from_raw(o));
        }
        CMPIStatus::ok()
    }

    /// Frees an object now, whether or not it is in an arena (`CMPIBrokerMemFT.free*`).
    ///
    /// # Safety
    /// `p` is NULL or one of our objects with function table `ft`.
    pub unsafe fn free_now<P>(p: *mut P, ft: &'static F) {
        if Self::data(p, ft).is_some() {
            let o = p as *mut Obj<T, F>;
            if (*o).in_arena && !arena::unregister(o as *mut u8) {
                return;
            }
            drop(Box::from_raw(o));
        }
    }
}

/// Common prefix of every encapsulated type's function table.
#[repr(C)]
struct AnyFT {
    ft_version: c_int,
    release: Option<unsafe extern "C" fn(*mut c_void) -> CMPIStatus>,
    clone: Option<unsafe extern "C" fn(*const c_void, *mut CMPIStatus) -> *mut c_void>,
}

#[repr(C)]
struct AnyEnc {
    hdl: *mut c_void,
    ft: *const AnyFT,
}

/// Clones any encapsulated object through its own function table.
unsafe fn enc_clone(p: *const c_void) -> Result<*mut c_void, CMPIrc> {
    let e = p as *const AnyEnc;
    if e.is_null() || (*e).ft.is_null() {
        return Err(CMPI_RC_ERR_INVALID_HANDLE);
    }
    let clone = (*(*e).ft).clone.ok_or(CMPI_RC_ERR_NOT_SUPPORTED)?;
    let mut st = CMPIStatus::ok();
    let c = clone(p, &mut st);
    if st.rc != CMPI_RC_OK {
        return Err(st.rc);
    }
    if c.is_null() {
        return Err(CMPI_RC_ERR_FAILED);
    }
    Ok(c)
}

/// Releases any encapsulated object through its own function table.
unsafe fn enc_release(p: *mut c_void) {
    let e = p as *const AnyEnc;
    if !e.is_null() && !(*e).ft.is_null() {
        if let Some(r) = (*(*e).ft).release {
            r(p);
        }
    }
}

fn is_encapsulated(ty: CMPIType) -> bool {
    ty & CMPI_ARRAY != 0
        || matches!(
            ty,
            CMPI_instance | CMPI_ref | CMPI_args | CMPI_filter | CMPI_enumeration | CMPI_string | CMPI_dateTime
        )
}

// ---- owned data --------------------------------------------------------------

/// Reads the member of `*value` that `ty` selects, and only that member: callers
/// pass e.g. `(CMPIValue *)&some_uint32`, which is neither 16 bytes long nor
/// 8-aligned. `CMPI_chars` is not handled here (its value pointer is the string).
///
/// # Safety
/// `value` points to at least the bytes of the member `ty` selects.
pub(crate) unsafe fn load_value(value: *const CMPIValue, ty: CMPIType) -> CMPIValue {
    let mut v = CMPIValue::zeroed();
    let dst = &mut v as *mut CMPIValue as *mut u8;
    let n = if ty & CMPI_ARRAY != 0 {
        8
    } else {
        match ty {
            CMPI_boolean | CMPI_uint8 | CMPI_sint8 => 1,
            CMPI_char16 | CMPI_uint16 | CMPI_sint16 => 2,
            CMPI_uint32 | CMPI_sint32 | CMPI_real32 => 4,
            CMPI_ptr => std::mem::size_of::<CMPIValuePtr>(),
            _ => 8,
        }
    };
    // SAFETY (caller): `value` has `n` readable bytes; unaligned byte copy.
    ptr::copy_nonoverlapping(value as *const u8, dst, n);
    v
}

/// A data item whose encapsulated value (if any) is an owned clone.
pub(crate) struct Owned(pub CMPIData);

impl Owned {
    pub fn null(ty: CMPIType) -> Owned {
        let ty = if ty == CMPI_chars { CMPI_string } else { ty };
        Owned(CMPIData::with_state(ty, CMPI_nullValue))
    }

    /// Deep-copies `*value` of type `ty` (NULL `value` gives a NULL of `ty`).
    ///
    /// # Safety
    /// `value` is NULL or valid for `ty`.
    pub unsafe fn copy(value: *const CMPIValue, ty: CMPIType) -> Result<Owned, CMPIrc> {
        if value.is_null() {
            return Ok(Owned::null(ty));
        }
        if ty == CMPI_chars {
            // For CMPI_chars the value pointer is the C string itself.
            let s = CStr::from_ptr(value as *const c_char).to_owned();
            let mut d = CMPIData::with_state(CMPI_string, CMPI_goodValue);
            d.value.string = new_string_obj(s, false) as *mut CMPIString;
            return Ok(Owned(d));
        }
        let v = load_value(value, ty);
        let mut d = CMPIData { r#type: ty, state: CMPI_goodValue, value: v };
        if is_encapsulated(ty) {
            if v.inst.is_null() {
                return Ok(Owned::null(ty));
            }
            d.value.inst = enc_clone(v.inst as *const c_void)? as *mut CMPIInstance;
        }
        Ok(Owned(d))
    }

    /// Deep-copies a data item (keeping its state flags).
    ///
    /// # Safety
    /// `d` holds valid pointers for its type.
    pub unsafe fn copy_data(d: &CMPIData) -> Result<Owned, CMPIrc> {
        if d.state & CMPI_nullValue != 0 {
            return Ok(Owned::null(d.r#type));
        }
        let mut o = Owned::copy(&d.value, d.r#type)?;
        o.0.state |= d.state & CMPI_keyValue;
        Ok(o)
    }

    /// The data item (pointers stay owned by `self`).
    pub fn get(&self) -> CMPIData {
        self.0
    }

    pub fn is_null(&self) -> bool {
        self.0.state & CMPI_nullValue != 0
    }
}

impl Clone for Owned {
    fn clone(&self) -> Owned {
        // SAFETY: `self` owns valid pointers for its type.
        unsafe { Owned::copy_data(&self.0) }.unwrap_or_else(|_| Owned::null(self.0.r#type))
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        if !self.is_null() && is_encapsulated(self.0.r#type) {
            // SAFETY: an owned encapsulated pointer is a clone only we reference.
            unsafe { enc_release(self.0.value.inst as *mut c_void) };
        }
    }
}

type Named = Vec<(CString, Owned)>;

fn find<'a>(items: &'a mut Named, name: &CStr) -> Option<&'a mut Owned> {
    let n = name.to_bytes();
    items.iter_mut().find(|(k, _)| k.as_bytes().eq_ignore_ascii_case(n)).map(|(_, v)| v)
}

fn put(items: &mut Named, name: &CStr, v: Owned) {
    match find(items, name) {
        Some(slot) => *slot = v,
        None => items.push((name.to_owned(), v)),
    }
}

unsafe fn name_arg<'a>(p: *const c_char) -> Option<&'a CStr> {
    if p.is_null() {
        None
    } else {
        Some(CStr::from_ptr(p))
    }
}

/// Returns `d` and stores OK, or a notFound data item and `code`.
fn data_or(rc: *mut CMPIStatus, d: Option<CMPIData>, code: CMPIrc) -> CMPIData {
    match d {
        Some(d) => {
            set_rc(rc, CMPI_RC_OK);
            d
        }
        None => {
            set_rc(rc, code);
            CMPIData::with_state(CMPI_null, CMPI_notFound | CMPI_nullValue)
        }
    }
}

fn ok_or<T>(rc: *mut CMPIStatus, v: Option<T>, fallback: T, code: CMPIrc) -> T {
    match v {
        Some(v) => {
            set_rc(rc, CMPI_RC_OK);
            v
        }
        None => {
            set_rc(rc, code);
            fallback
        }
    }
}

fn status(r: Result<(), CMPIrc>) -> CMPIStatus {
    match r {
        Ok(()) => CMPIStatus::ok(),
        Err(rc) => CMPIStatus::rc(rc),
    }
}

// ---- CMPIString --------------------------------------------------------------

pub(crate) type StringObj = Obj<CString, CMPIStringFT>;

pub(crate) fn new_string_obj(s: CString, in_arena: bool) -> *mut StringObj {
    StringObj::alloc(&STRING_FT, s, in_arena)
}

/// A string in the current arena (for names and getters).
pub(crate) fn arena_string(s: &CStr) -> *mut CMPIString {
    new_string_obj(s.to_owned(), true) as *mut CMPIString
}

pub(crate) fn arena_string_str(s: &str) -> *mut CMPIString {
    let c = CString::new(s.replace('\0', "")).unwrap_or_default();
    new_string_obj(c, true) as *mut CMPIString
}

unsafe extern "C" fn string_release(s: *mut CMPIString) -> CMPIStatus {
    guard_status(|| StringObj::release(s, &STRING_FT))
}
unsafe extern "C" fn string_clone(s: *const CMPIString, rc: *mut CMPIStatus) -> *mut CMPIString {
    guard(rc, ptr::null_mut(), || {
        let d = StringObj::data(s, &STRING_FT).map(|d| new_string_obj(d.clone(), false) as *mut CMPIString);
        ok_or(rc, d, ptr::null_mut(), CMPI_RC_ERR_INVALID_HANDLE)
    })
}
unsafe extern "C" fn string_get_char_ptr(s: *const CMPIString, rc: *mut CMPIStatus) -> *const c_char {
    guard(rc, ptr::null(), || {
        let d = StringObj::data(s, &STRING_FT).map(|d| d.as_ptr());
        ok_or(rc, d, ptr::null(), CMPI_RC_ERR_INVALID_HANDLE)
    })
}

pub(crate) static STRING_FT: CMPIStringFT = CMPIStringFT {
    ftVersion: CMPICurrentVersion,
    release: Some(string_release),
    clone: Some(string_clone),
    getCharPtr: Some(string_get_char_ptr),
};

// ---- CMPIDateTime ------------------------------------------------------------

pub(crate) type DateTimeObj = Obj<CimDateTime, CMPIDateTimeFT>;

pub(crate) fn new_datetime_obj(d: CimDateTime, in_arena: bool) -> *mut CMPIDateTime {
    DateTimeObj::alloc(&DATETIME_FT, d, in_arena) as *mut CMPIDateTime
}

unsafe extern "C" fn dt_release(p: *mut CMPIDateTime) -> CMPIStatus {
    guard_status(|| DateTimeObj::release(p, &DATETIME_FT))
}
unsafe extern "C" fn dt_clone(p: *const CMPIDateTime, rc: *mut CMPIStatus) -> *mut CMPIDateTime {
    guard(rc, ptr::null_mut(), || {
        let d = DateTimeObj::data(p, &DATETIME_FT).map(|d| new_datetime_obj(d.clone(), false));
        ok_or(rc, d, ptr::null_mut(), CMPI_RC_ERR_INVALID_HANDLE)
    })
}
unsafe extern "C" fn dt_binary(p: *const CMPIDateTime, rc: *mut CMPIStatus) -> CMPIUint64 {
    guard(rc, 0, || ok_or(rc, DateTimeObj::data(p, &DATETIME_FT).map(|d| d.micros()), 0, CMPI_RC_ERR_INVALID_HANDLE))
}
unsafe extern "C" fn dt_string(p: *const CMPIDateTime, rc: *mut CMPIStatus) -> *mut CMPIString {
    guard(rc, ptr::null_mut(), || {
        let d = DateTimeObj::data(p, &DATETIME_FT).map(|d| arena_string_str(d.as_str()));
        ok_or(rc, d, ptr::null_mut(), CMPI_RC_ERR_INVALID_HANDLE)
    })
}
unsafe extern "C" fn dt_is_interval(p: *const CMPIDateTime, rc: *mut CMPIStatus) -> CMPIBoolean {
    guard(rc, 0, || {
        ok_or(rc, DateTimeObj::data(p, &DATETIME_FT).map(|d| d.is_interval() as u8), 0, CMPI_RC_ERR_INVALID_HANDLE)
    })
}

pub(crate) static DATETIME_FT: CMPIDateTimeFT = CMPIDateTimeFT {
    ftVersion: CMPICurrentVersion,
    release: Some(dt_release),
    clone: Some(dt_clone),
    getBinaryFormat: Some(dt_binary),
    getStringFormat: Some(dt_string),
    isInterval: Some(dt_is_interval),
};

// ---- CMPIArray ---------------------------------------------------------------

pub(crate) struct ArrayData {
    pub elem: CMPIType,
    pub items: Vec<Owned>,
}

pub(crate) type ArrayObj = Obj<ArrayData, CMPIArrayFT>;

pub(crate) fn new_array_obj(n: usize, elem: CMPIType, in_arena: bool) -> *mut CMPIArray {
    let elem = match elem & !CMPI_ARRAY {
        CMPI_chars => CMPI_string,
        e => e,
    };
    let items = (0..n).map(|_| Owned::null(elem)).collect();
    ArrayObj::alloc(&ARRAY_FT, ArrayData { elem, items }, in_arena) as *mut CMPIArray
}

unsafe extern "C" fn array_release(p: *mut CMPIArray) -> CMPIStatus {
    guard_status(|| ArrayObj::release(p, &ARRAY_FT))
}
unsafe extern "C" fn array_clone(p: *const CMPIArray, rc: *mut CMPIStatus) -> *mut CMPIArray {
    guard(rc, ptr::null_mut(), || {
        let d = ArrayObj::data(p, &ARRAY_FT).map(|d| {
            let data = ArrayData { elem: d.elem, items: d.items.clone() };
            ArrayObj::alloc(&ARRAY_FT, data, false) as *mut CMPIArray
        });
        ok_or(rc, d, ptr::null_mut(), CMPI_RC_ERR_INVALID_HANDLE)
    })
}
unsafe extern "C" fn array_size(p: *const CMPIArray, rc: *mut CMPIStatus) -> CMPICount {
    guard(rc, 0, || {
        ok_or(rc, ArrayObj::data(p, &ARRAY_FT).map(|d| d.items.len() as CMPICount), 0, CMPI_RC_ERR_INVALID_HANDLE)
    })
}
unsafe extern "C" fn array_type(p: *const CMPIArray, rc: *mut CMPIStatus) -> CMPIType {
    guard(rc, CMPI_null, || ok_or(rc, ArrayObj::data(p, &ARRAY_FT).map(|d| d.elem), CMPI_null, CMPI_RC_ERR_INVALID_HANDLE))
}
unsafe extern "C" fn array_get(p: *const CMPIArray, i: CMPICount, rc: *mut CMPIStatus) -> CMPIData {
    guard(rc, CMPIData::null(), || match ArrayObj::data(p, &ARRAY_FT) {
        None => data_or(rc, None, CMPI_RC_ERR_INVALID_HANDLE),
        Some(d) => data_or(rc, d.items.get(i as usize).map(Owned::get), CMPI_RC_ERR_NO_SUCH_PROPERTY),
    })
}
unsafe extern "C" fn array_set(p: *const CMPIArray, i: CMPICount, v: *const CMPIValue, ty: CMPIType) -> CMPIStatus {
    guard_status(|| {
        let Some(d) = ArrayObj::data(p, &ARRAY_FT) else { return CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE) };
        let ty_norm = if ty == CMPI_chars { CMPI_string } else { ty };
        if ty_norm != d.elem && !(v.is_null() && ty == CMPI_null) {
            return CMPIStatus::rc(CMPI_RC_ERR_TYPE_MISMATCH);
        }
        if i as usize >= d.items.len() {
            return CMPIStatus::rc(CMPI_RC_ERR_NO_SUCH_PROPERTY);
        }
        status(Owned::copy(v, ty).map(|mut o| {
            o.0.r#type = d.elem;
            d.items[i as usize] = o;
        }))
    })
}

pub(crate) static ARRAY_FT: CMPIArrayFT = CMPIArrayFT {
    ftVersion: CMPICurrentVersion,
    release: Some(array_release),
    clone: Some(array_clone),
    getSize: Some(array_size),
    getSimpleType: Some(array_type),
    getElementAt: Some(array_get),
    setElementAt: Some(array_set),
};

// ---- CMPIObjectPath ------------------------------------------------------------

#[derive(Clone, Default)]
pub(crate) struct PathData {
    pub host: CString,
    pub ns: CString,
    pub cn: CString,
    pub keys: Named,
}

pub(crate) type PathObj = Obj<PathData, CMPIObjectPathFT>;

pub(crate) fn new_path_obj(d: PathData, in_arena: bool) -> *mut CMPIObjectPath {
    PathObj::alloc(&OBJECTPATH_FT, d, in_arena) as *mut CMPIObjectPath
}

/// Reads any object path (ours or foreign) into path data.
///
/// # Safety
/// `op` is a valid CMPIObjectPath.
pub(crate) unsafe fn path_data_of(op: *const CMPIObjectPath) -> Result<PathData, CMPIrc> {
    if let Some(d) = PathObj::data(op, &OBJECTPATH_FT) {
        return Ok(d.clone());
    }
    if op.is_null() || (*op).ft.is_null() {
        return Err(CMPI_RC_ERR_INVALID_HANDLE);
    }
    let ft = &*(*op).ft;
    let mut st = CMPIStatus::ok();
    let s = |p: *mut CMPIString| -> Result<CString, CMPIrc> {
        let s = conv::string_of(p).map_err(|e| e.rc)?;
        Ok(CString::new(s).unwrap_or_default())
    };
    let ns = s(ft.getNameSpace.ok_or(CMPI_RC_ERR_NOT_SUPPORTED)?(op, &mut st))?;
    let cn = s(ft.getClassName.ok_or(CMPI_RC_ERR_NOT_SUPPORTED)?(op, &mut st))?;
    let host = match ft.getHostname {
        Some(f) => s(f(op, &mut st)).unwrap_or_default(),
        None => CString::default(),
    };
    let n = ft.getKeyCount.ok_or(CMPI_RC_ERR_NOT_SUPPORTED)?(op, &mut st);
    let mut keys = Vec::new();
    for i in 0..n {
        let mut name = ptr::null_mut();
        let d = ft.getKeyAt.ok_or(CMPI_RC_ERR_NOT_SUPPORTED)?(op, i, &mut name, &mut st);
        if st.rc != CMPI_RC_OK {
            return Err(st.rc);
        }
        keys.push((s(name)?, Owned::copy_data(&d)?));
    }
    Ok(PathData { host, ns, cn, keys })
}

unsafe fn cstring_arg(p: *const c_char) -> CString {
    if p.is_null() {
        CString::default()
    } else {
        CStr::from_ptr(p).to_owned()
    }
}

unsafe extern "C" fn op_release(p: *mut CMPIObjectPath) -> CMPIStatus {
    guard_status(|| PathObj::release(p, &OBJECTPATH_FT))
}
unsafe extern "C" fn op_clone(p: *const CMPIObjectPath, rc: *mut CMPIStatus) -> *mut CMPIObjectPath {
    guard(rc, ptr::null_mut(), || {
        let d = PathObj::data(p, &OBJECTPATH_FT).map(|d| new_path_obj(d.clone(), false));
        ok_or(rc, d, ptr::null_mut(), CMPI_RC_ERR_INVALID_HANDLE)
    })
}
macro_rules! op_string_accessors {
    ($($set:ident, $get:ident => $field:ident;)*) => {$(
        unsafe extern "C" fn $set(p: *const CMPIObjectPath, v: *const c_char) -> CMPIStatus {
            guard_status(|| match PathObj::data(p, &OBJECTPATH_FT) {
                Some(d) => { d.$field = cstring_arg(v); CMPIStatus::ok() }
                None => CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE),
            })
        }
        unsafe extern "C" fn $get(p: *const CMPIObjectPath, rc: *mut CMPIStatus) -> *mut CMPIString {
            guard(rc, ptr::null_mut(), || {
                let d = PathObj::data(p, &OBJECTPATH_FT).map(|d| arena_string(&d.$field));
                ok_or(rc, d, ptr::null_mut(), CMPI_RC_ERR_INVALID_HANDLE)
            })
        }
    )*};
}
op_string_accessors! {
    op_set_ns, op_get_ns => ns;
    op_set_host, op_get_host => host;
    op_set_cn, op_get_cn => cn;
}
unsafe extern "C" fn op_add_key(
    p: *const CMPIObjectPath,
    name: *const c_char,
    v: *const CMPIValue,
    ty: CMPIType,
) -> CMPIStatus {
    guard_status(|| {
        let (Some(d), Some(name)) = (PathObj::data(p, &OBJECTPATH_FT), name_arg(name)) else {
            return CMPIStatus::rc(CMPI_RC_ERR_INVALID_PARAMETER);
        };
        status(Owned::copy(v, ty).map(|mut o| {
            o.0.state |= CMPI_keyValue;
            put(&mut d.keys, name, o)
        }))
    })
}
unsafe extern "C" fn op_get_key(p: *const CMPIObjectPath, name: *const c_char, rc: *mut CMPIStatus) -> CMPIData {
    guard(rc, CMPIData::null(), || match (PathObj::data(p, &OBJECTPATH_FT), name_arg(name)) {
        (Some(d), Some(n)) => data_or(rc, find(&mut d.keys, n).map(|o| o.get()), CMPI_RC_ERR_NOT_FOUND),
        _ => data_or(rc, None, CMPI_RC_ERR_INVALID_PARAMETER),
    })
}
unsafe extern "C" fn op_get_key_at(
    p: *const CMPIObjectPath,
    i: CMPICount,
    name: *mut *mut CMPIString,
    rc: *mut CMPIStatus,
) -> CMPIData {
    guard(rc, CMPIData::null(), || match PathObj::data(p, &OBJECTPATH_FT) {
        None => data_or(rc, None, CMPI_RC_ERR_INVALID_HANDLE),
        Some(d) => {
            let item = d.keys.get(i as usize);
            if let (Some((k, _)), false) = (item, name.is_null()) {
                *name = arena_string(k);
            }
            data_or(rc, item.map(|(_, v)| v.get()), CMPI_RC_ERR_NO_SUCH_PROPERTY)
        }
    })
}
unsafe extern "C" fn op_key_count(p: *const CMPIObjectPath, rc: *mut CMPIStatus) -> CMPICount {
    guard(rc, 0, || {
        ok_or(rc, PathObj::data(p, &OBJECTPATH_FT).map(|d| d.keys.len() as CMPICount), 0, CMPI_RC_ERR_INVALID_HANDLE)
    })
}
unsafe extern "C" fn op_set_ns_from(p: *const CMPIObjectPath, src: *const CMPIObjectPath) -> CMPIStatus {
    guard_status(|| {
        let Some(d) = PathObj::data(p, &OBJECTPATH_FT) else { return CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE) };
        status(path_data_of(src).map(|s| d.ns = s.ns))
    })
}
unsafe extern "C" fn op_set_host_ns_from(p: *const CMPIObjectPath, src: *const CMPIObjectPath) -> CMPIStatus {
    guard_status(|| {
        let Some(d) = PathObj::data(p, &OBJECTPATH_FT) else { return CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE) };
        status(path_data_of(src).map(|s| {
            d.ns = s.ns;
            d.host = s.host;
        }))
    })
}
// Qualifiers need a class repository, which the embedding broker owns; the shim has none.
unsafe extern "C" fn op_class_qual(_p: *const CMPIObjectPath, _q: *const c_char, rc: *mut CMPIStatus) -> CMPIData {
    data_or(rc, None, CMPI_RC_ERR_NOT_SUPPORTED)
}
unsafe extern "C" fn op_prop_qual(
    _p: *const CMPIObjectPath,
    _n: *const c_char,
    _q: *const c_char,
    rc: *mut CMPIStatus,
) -> CMPIData {
    data_or(rc, None, CMPI_RC_ERR_NOT_SUPPORTED)
}
unsafe extern "C" fn op_param_qual(
    _p: *const CMPIObjectPath,
    _m: *const c_char,
    _n: *const c_char,
    _q: *const c_char,
    rc: *mut CMPIStatus,
) -> CMPIData {
    data_or(rc, None, CMPI_RC_ERR_NOT_SUPPORTED)
}
unsafe extern "C" fn op_to_string(p: *const CMPIObjectPath, rc: *mut CMPIStatus) -> *mut CMPIString {
    guard(rc, ptr::null_mut(), || match conv::read_object_path(p) {
        Ok(op) => ok_or(rc, Some(arena_string_str(&op.to_string())), ptr::null_mut(), CMPI_RC_OK),
        Err(e) => ok_or(rc, None, ptr::null_mut(), e.rc),
    })
}

pub(crate) static OBJECTPATH_FT: CMPIObjectPathFT = CMPIObjectPathFT {
    ftVersion: CMPICurrentVersion,
    release: Some(op_release),
    clone: Some(op_clone),
    setNameSpace: Some(op_set_ns),
    getNameSpace: Some(op_get_ns),
    setHostname: Some(op_set_host),
    getHostname: Some(op_get_host),
    setClassName: Some(op_set_cn),
    getClassName: Some(op_get_cn),
    addKey: Some(op_add_key),
    getKey: Some(op_get_key),
    getKeyAt: Some(op_get_key_at),
    getKeyCount: Some(op_key_count),
    setNameSpaceFromObjectPath: Some(op_set_ns_from),
    setHostAndNameSpaceFromObjectPath: Some(op_set_host_ns_from),
    getClassQualifier: Some(op_class_qual),
    getPropertyQualifier: Some(op_prop_qual),
    getMethodQualifier: Some(op_prop_qual),
    getParameterQualifier: Some(op_param_qual),
    toString: Some(op_to_string),
};

// ---- CMPIInstance ----------------------------------------------------------------

#[derive(Clone, Default)]
pub(crate) struct InstData {
    pub path: PathData,
    pub props: Named,
    pub filter: Option<Vec<CString>>,
}

pub(crate) type InstObj = Obj<InstData, CMPIInstanceFT>;

pub(crate) fn new_instance_obj(path: PathData, in_arena: bool) -> *mut CMPIInstance {
    InstObj::alloc(&INSTANCE_FT, InstData { path, props: Vec::new(), filter: None }, in_arena) as *mut CMPIInstance
}

unsafe extern "C" fn inst_release(p: *mut CMPIInstance) -> CMPIStatus {
    guard_status(|| InstObj::release(p, &INSTANCE_FT))
}
unsafe extern "C" fn inst_clone(p: *const CMPIInstance, rc: *mut CMPIStatus) -> *mut CMPIInstance {
    guard(rc, ptr::null_mut(), || {
        let d = InstObj::data(p, &INSTANCE_FT).map(|d| InstObj::alloc(&INSTANCE_FT, d.clone(), false) as *mut CMPIInstance);
        ok_or(rc, d, ptr::null_mut(), CMPI_RC_ERR_INVALID_HANDLE)
    })
}
unsafe extern "C" fn inst_get_prop(p: *const CMPIInstance, name: *const c_char, rc: *mut CMPIStatus) -> CMPIData {
    guard(rc, CMPIData::null(), || match (InstObj::data(p, &INSTANCE_FT), name_arg(name)) {
        (Some(d), Some(n)) => data_or(rc, find(&mut d.props, n).map(|o| o.get()), CMPI_RC_ERR_NO_SUCH_PROPERTY),
        _ => data_or(rc, None, CMPI_RC_ERR_INVALID_PARAMETER),
    })
}
unsafe extern "C" fn inst_get_prop_at(
    p: *const CMPIInstance,
    i: CMPICount,
    name: *mut *mut CMPIString,
    rc: *mut CMPIStatus,
) -> CMPIData {
    guard(rc, CMPIData::null(), || match InstObj::data(p, &INSTANCE_FT) {
        None => data_or(rc, None, CMPI_RC_ERR_INVALID_HANDLE),
        Some(d) => {
            let item = d.props.get(i as usize);
            if let (Some((k, _)), false) = (item, name.is_null()) {
                *name = arena_string(k);
            }
            data_or(rc, item.map(|(_, v)| v.get()), CMPI_RC_ERR_NO_SUCH_PROPERTY)
        }
    })
}
unsafe extern "C" fn inst_prop_count(p: *const CMPIInstance, rc: *mut CMPIStatus) -> CMPICount {
    guard(rc, 0, || {
        ok_or(rc, InstObj::data(p, &INSTANCE_FT).map(|d| d.props.len() as CMPICount), 0, CMPI_RC_ERR_INVALID_HANDLE)
    })
}
unsafe extern "C" fn inst_set_prop(
    p: *const CMPIInstance,
    name: *const c_char,
    v: *const CMPIValue,
    ty: CMPIType,
) -> CMPIStatus {
    guard_status(|| {
        let (Some(d), Some(name)) = (InstObj::data(p, &INSTANCE_FT), name_arg(name)) else {
            return CMPIStatus::rc(CMPI_RC_ERR_INVALID_PARAMETER);
        };
        if let Some(f) = &d.filter {
            let keep = f.iter().any(|k| k.as_bytes().eq_ignore_ascii_case(name.to_bytes()))
                || find(&mut d.path.keys, name).is_some();
            if !keep {
                return CMPIStatus::ok();
            }
        }
        let o = match Owned::copy(v, ty) {
            Ok(o) => o,
            Err(rc) => return CMPIStatus::rc(rc),
        };
        // A property that is also a key of the instance path updates the key.
        if let Some(k) = find(&mut d.path.keys, name) {
            if !o.is_null() {
                let mut key = o.clone();
                key.0.state |= CMPI_keyValue;
                *k = key;
            }
        }
        put(&mut d.props, name, o);
        CMPIStatus::ok()
    })
}
unsafe extern "C" fn inst_set_prop_origin(
    p: *const CMPIInstance,
    name: *const c_char,
    v: *const CMPIValue,
    ty: CMPIType,
    _origin: *const c_char,
) -> CMPIStatus {
    inst_set_prop(p, name, v, ty)
}
unsafe extern "C" fn inst_get_path(p: *const CMPIInstance, rc: *mut CMPIStatus) -> *mut CMPIObjectPath {
    guard(rc, ptr::null_mut(), || {
        let d = InstObj::data(p, &INSTANCE_FT).map(|d| new_path_obj(d.path.clone(), true));
        ok_or(rc, d, ptr::null_mut(), CMPI_RC_ERR_INVALID_HANDLE)
    })
}
unsafe extern "C" fn inst_set_path(p: *const CMPIInstance, op: *const CMPIObjectPath) -> CMPIStatus {
    guard_status(|| {
        let Some(d) = InstObj::data(p, &INSTANCE_FT) else { return CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE) };
        status(path_data_of(op).map(|pd| d.path = pd))
    })
}
unsafe extern "C" fn inst_set_filter(
    p: *const CMPIInstance,
    props: *mut *const c_char,
    _keys: *mut *const c_char,
) -> CMPIStatus {
    guard_status(|| {
        let Some(d) = InstObj::data(p, &INSTANCE_FT) else { return CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE) };
        let Some(list) = conv::string_list(props) else {
            d.filter = None;
            return CMPIStatus::ok();
        };
        let list: Vec<CString> = list.into_iter().filter_map(|s| CString::new(s).ok()).collect();
        let keys: Vec<CString> = d.path.keys.iter().map(|(k, _)| k.clone()).collect();
        d.props.retain(|(n, _)| {
            let n = n.as_bytes();
            list.iter().chain(keys.iter()).any(|k| k.as_bytes().eq_ignore_ascii_case(n))
        });
        d.filter = Some(list);
        CMPIStatus::ok()
    })
}

pub(crate) static INSTANCE_FT: CMPIInstanceFT = CMPIInstanceFT {
    ftVersion: CMPICurrentVersion,
    release: Some(inst_release),
    clone: Some(inst_clone),
    getProperty: Some(inst_get_prop),
    getPropertyAt: Some(inst_get_prop_at),
    getPropertyCount: Some(inst_prop_count),
    setProperty: Some(inst_set_prop),
    getObjectPath: Some(inst_get_path),
    setPropertyFilter: Some(inst_set_filter),
    setObjectPath: Some(inst_set_path),
    setPropertyWithOrigin: Some(inst_set_prop_origin),
};

// ---- named collections: CMPIArgs and CMPIContext -------------------------------------

pub(crate) type ArgsObj = Obj<Named, CMPIArgsFT>;
pub(crate) type ContextObj = Obj<Named, CMPIContextFT>;

pub(crate) fn new_args_obj(in_arena: bool) -> *mut CMPIArgs {
    ArgsObj::alloc(&ARGS_FT, Vec::new(), in_arena) as *mut CMPIArgs
}
pub(crate) fn new_context_obj(items: Named, in_arena: bool) -> *mut CMPIContext {
    ContextObj::alloc(&CONTEXT_FT, items, in_arena) as *mut CMPIContext
}

macro_rules! named_ft_fns {
    ($obj:ty, $ft:ident, $t:ty, $release:ident, $clone:ident, $add:ident, $get:ident, $get_at:ident, $count:ident) => {
        unsafe extern "C" fn $release(p: *mut $t) -> CMPIStatus {
            guard_status(|| <$obj>::release(p, &$ft))
        }
        unsafe extern "C" fn $clone(p: *const $t, rc: *mut CMPIStatus) -> *mut $t {
            guard(rc, ptr::null_mut(), || {
                let d = <$obj>::data(p, &$ft).map(|d| <$obj>::alloc(&$ft, d.clone(), false) as *mut $t);
                ok_or(rc, d, ptr::null_mut(), CMPI_RC_ERR_INVALID_HANDLE)
            })
        }
        unsafe extern "C" fn $add(p: *const $t, name: *const c_char, v: *const CMPIValue, ty: CMPIType) -> CMPIStatus {
            guard_status(|| {
                let (Some(d), Some(name)) = (<$obj>::data(p, &$ft), name_arg(name)) else {
                    return CMPIStatus::rc(CMPI_RC_ERR_INVALID_PARAMETER);
                };
                status(Owned::copy(v, ty).map(|o| put(d, name, o)))
            })
        }
        unsafe extern "C" fn $get(p: *const $t, name: *const c_char, rc: *mut CMPIStatus) -> CMPIData {
            guard(rc, CMPIData::null(), || match (<$obj>::data(p, &$ft), name_arg(name)) {
                (Some(d), Some(n)) => data_or(rc, find(d, n).map(|o| o.get()), CMPI_RC_ERR_NOT_FOUND),
                _ => data_or(rc, None, CMPI_RC_ERR_INVALID_PARAMETER),
            })
        }
        unsafe extern "C" fn $get_at(
            p: *const $t,
            i: CMPICount,
            name: *mut *mut CMPIString,
            rc: *mut CMPIStatus,
        ) -> CMPIData {
            guard(rc, CMPIData::null(), || match <$obj>::data(p, &$ft) {
                None => data_or(rc, None, CMPI_RC_ERR_INVALID_HANDLE),
                Some(d) => {
                    let item = d.get(i as usize);
                    if let (Some((k, _)), false) = (item, name.is_null()) {
                        *name = arena_string(k);
                    }
                    data_or(rc, item.map(|(_, v)| v.get()), CMPI_RC_ERR_NO_SUCH_PROPERTY)
                }
            })
        }
        unsafe extern "C" fn $count(p: *const $t, rc: *mut CMPIStatus) -> CMPICount {
            guard(rc, 0, || ok_or(rc, <$obj>::data(p, &$ft).map(|d| d.len() as CMPICount), 0, CMPI_RC_ERR_INVALID_HANDLE))
        }
    };
}

named_ft_fns!(ArgsObj, ARGS_FT, CMPIArgs, args_release, args_clone, args_add, args_get, args_get_at, args_count);
named_ft_fns!(ContextObj, CONTEXT_FT, CMPIContext, ctx_release, ctx_clone, ctx_add, ctx_get, ctx_get_at, ctx_count);

pub(crate) static ARGS_FT: CMPIArgsFT = CMPIArgsFT {
    ftVersion: CMPICurrentVersion,
    release: Some(args_release),
    clone: Some(args_clone),
    addArg: Some(args_add),
    getArg: Some(args_get),
    getArgAt: Some(args_get_at),
    getArgCount: Some(args_count),
};

pub(crate) static CONTEXT_FT: CMPIContextFT = CMPIContextFT {
    ftVersion: CMPICurrentVersion,
    release: Some(ctx_release),
    clone: Some(ctx_clone),
    getEntry: Some(ctx_get),
    getEntryAt: Some(ctx_get_at),
    getEntryCount: Some(ctx_count),
    addEntry: Some(ctx_add),
};

// ---- CMPIEnumeration ---------------------------------------------------------------

#[derive(Clone)]
pub(crate) struct EnumData {
    pub elem: CMPIType,
    pub items: Vec<Owned>,
    pub pos: usize,
}

pub(crate) type EnumObj = Obj<EnumData, CMPIEnumerationFT>;

pub(crate) fn new_enum_obj(elem: CMPIType, items: Vec<Owned>, in_arena: bool) -> *mut CMPIEnumeration {
    EnumObj::alloc(&ENUMERATION_FT, EnumData { elem, items, pos: 0 }, in_arena) as *mut CMPIEnumeration
}

unsafe extern "C" fn enum_release(p: *mut CMPIEnumeration) -> CMPIStatus {
    guard_status(|| EnumObj::release(p, &ENUMERATION_FT))
}
unsafe extern "C" fn enum_clone(p: *const CMPIEnumeration, rc: *mut CMPIStatus) -> *mut CMPIEnumeration {
    guard(rc, ptr::null_mut(), || {
        let d = EnumObj::data(p, &ENUMERATION_FT)
            .map(|d| EnumObj::alloc(&ENUMERATION_FT, d.clone(), false) as *mut CMPIEnumeration);
        ok_or(rc, d, ptr::null_mut(), CMPI_RC_ERR_INVALID_HANDLE)
    })
}
unsafe extern "C" fn enum_next(p: *const CMPIEnumeration, rc: *mut CMPIStatus) -> CMPIData {
    guard(rc, CMPIData::null(), || match EnumObj::data(p, &ENUMERATION_FT) {
        None => data_or(rc, None, CMPI_RC_ERR_INVALID_HANDLE),
        Some(d) => {
            let item = d.items.get(d.pos).map(Owned::get);
            if item.is_some() {
                d.pos += 1;
            }
            data_or(rc, item, CMPI_RC_NO_MORE_ELEMENTS)
        }
    })
}
unsafe extern "C" fn enum_has_next(p: *const CMPIEnumeration, rc: *mut CMPIStatus) -> CMPIBoolean {
    guard(rc, 0, || {
        let d = EnumObj::data(p, &ENUMERATION_FT).map(|d| (d.pos < d.items.len()) as u8);
        ok_or(rc, d, 0, CMPI_RC_ERR_INVALID_HANDLE)
    })
}
unsafe extern "C" fn enum_to_array(p: *const CMPIEnumeration, rc: *mut CMPIStatus) -> *mut CMPIArray {
    guard(rc, ptr::null_mut(), || {
        let d = EnumObj::data(p, &ENUMERATION_FT).map(|d| {
            let data = ArrayData { elem: d.elem, items: d.items.clone() };
            ArrayObj::alloc(&ARRAY_FT, data, true) as *mut CMPIArray
        });
        ok_or(rc, d, ptr::null_mut(), CMPI_RC_ERR_INVALID_HANDLE)
    })
}

pub(crate) static ENUMERATION_FT: CMPIEnumerationFT = CMPIEnumerationFT {
    ftVersion: CMPICurrentVersion,
    release: Some(enum_release),
    clone: Some(enum_clone),
    getNext: Some(enum_next),
    hasNext: Some(enum_has_next),
    toArray: Some(enum_to_array),
};

// ---- CMPISelectExp -------------------------------------------------------------------

#[derive(Clone)]
pub(crate) struct SelectExpData {
    pub query: CString,
    /// Kept for hosts that inspect filters; CMPI has no getter for it.
    #[allow(dead_code)]
    pub lang: CString,
}

pub(crate) type SelectExpObj = Obj<SelectExpData, CMPISelectExpFT>;

pub(crate) fn new_select_exp_obj(query: CString, lang: CString, in_arena: bool) -> *mut CMPISelectExp {
    SelectExpObj::alloc(&SELECTEXP_FT, SelectExpData { query, lang }, in_arena) as *mut CMPISelectExp
}

unsafe extern "C" fn se_release(p: *mut CMPISelectExp) -> CMPIStatus {
    guard_status(|| SelectExpObj::release(p, &SELECTEXP_FT))
}
unsafe extern "C" fn se_clone(p: *const CMPISelectExp, rc: *mut CMPIStatus) -> *mut CMPISelectExp {
    guard(rc, ptr::null_mut(), || {
        let d = SelectExpObj::data(p, &SELECTEXP_FT)
            .map(|d| SelectExpObj::alloc(&SELECTEXP_FT, d.clone(), false) as *mut CMPISelectExp);
        ok_or(rc, d, ptr::null_mut(), CMPI_RC_ERR_INVALID_HANDLE)
    })
}
// Query evaluation needs a WQL/CQL engine; the shim reports it as not supported.
unsafe extern "C" fn se_evaluate(_p: *const CMPISelectExp, _i: *const CMPIInstance, rc: *mut CMPIStatus) -> CMPIBoolean {
    set_rc(rc, CMPI_RC_ERR_NOT_SUPPORTED);
    0
}
unsafe extern "C" fn se_get_string(p: *const CMPISelectExp, rc: *mut CMPIStatus) -> *mut CMPIString {
    guard(rc, ptr::null_mut(), || {
        let d = SelectExpObj::data(p, &SELECTEXP_FT).map(|d| arena_string(&d.query));
        ok_or(rc, d, ptr::null_mut(), CMPI_RC_ERR_INVALID_HANDLE)
    })
}
unsafe extern "C" fn se_get_cond(_p: *const CMPISelectExp, rc: *mut CMPIStatus) -> *mut CMPISelectCond {
    set_rc(rc, CMPI_RC_ERR_NOT_SUPPORTED);
    ptr::null_mut()
}
unsafe extern "C" fn se_eval_accessor(
    _p: *const CMPISelectExp,
    _a: CMPIAccessorPtr,
    _parm: *mut c_void,
    rc: *mut CMPIStatus,
) -> CMPIBoolean {
    set_rc(rc, CMPI_RC_ERR_NOT_SUPPORTED);
    0
}

pub(crate) static SELECTEXP_FT: CMPISelectExpFT = CMPISelectExpFT {
    ftVersion: CMPICurrentVersion,
    release: Some(se_release),
    clone: Some(se_clone),
    evaluate: Some(se_evaluate),
    getString: Some(se_get_string),
    getDOC: Some(se_get_cond),
    getCOD: Some(se_get_cond),
    evaluateUsingAccessor: Some(se_eval_accessor),
};

// ---- CMPIResult ------------------------------------------------------------------

/// One item a provider returned through a CMPIResult.
#[derive(Clone, Debug, PartialEq)]
pub enum ResultItem {
    Instance(Instance),
    ObjectPath(ObjectPath),
    Data(CimValue),
}

#[derive(Default)]
pub(crate) struct ResultData {
    pub items: Vec<ResultItem>,
    /// First conversion failure, reported after the call.
    pub conversion_error: Option<CmpiError>,
    /// Extended errors passed to `returnError`.
    pub errors: Vec<CmpiError>,
    pub done: bool,
}

pub(crate) type ResultObj = Obj<ResultData, CMPIResultFT>;

pub(crate) fn new_result_obj() -> *mut CMPIResult {
    ResultObj::alloc(&RESULT_FT, ResultData::default(), true) as *mut CMPIResult
}

fn push_item(d: &mut ResultData, item: conv::Result<ResultItem>) -> CMPIStatus {
    match item {
        Ok(i) => {
            d.items.push(i);
            CMPIStatus::ok()
        }
        Err(e) => {
            let rc = e.rc;
            d.conversion_error.get_or_insert(e);
            CMPIStatus::rc(rc)
        }
    }
}

unsafe extern "C" fn rslt_release(p: *mut CMPIResult) -> CMPIStatus {
    guard_status(|| ResultObj::release(p, &RESULT_FT))
}
unsafe extern "C" fn rslt_clone(_p: *const CMPIResult, rc: *mut CMPIStatus) -> *mut CMPIResult {
    // A result is bound to the call that produced it; cloning is not meaningful.
    set_rc(rc, CMPI_RC_ERR_NOT_SUPPORTED);
    ptr::null_mut()
}
unsafe extern "C" fn rslt_data(p: *const CMPIResult, v: *const CMPIValue, ty: CMPIType) -> CMPIStatus {
    guard_status(|| {
        let Some(d) = ResultObj::data(p, &RESULT_FT) else { return CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE) };
        let item = if v.is_null() {
            Ok(CimValue::Null {
                ty: CimType::from_cmpi(ty).unwrap_or(CimType::String),
                array: ty & CMPI_ARRAY != 0,
            })
        } else if ty == CMPI_chars {
            Ok(CimValue::String(conv::cstr(v as *const c_char)))
        } else {
            conv::read_data(&CMPIData { r#type: ty, state: CMPI_goodValue, value: load_value(v, ty) })
        };
        push_item(d, item.map(ResultItem::Data))
    })
}
unsafe extern "C" fn rslt_instance(p: *const CMPIResult, inst: *const CMPIInstance) -> CMPIStatus {
    guard_status(|| {
        let Some(d) = ResultObj::data(p, &RESULT_FT) else { return CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE) };
        push_item(d, conv::read_instance(inst).map(ResultItem::Instance))
    })
}
unsafe extern "C" fn rslt_path(p: *const CMPIResult, op: *const CMPIObjectPath) -> CMPIStatus {
    guard_status(|| {
        let Some(d) = ResultObj::data(p, &RESULT_FT) else { return CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE) };
        push_item(d, conv::read_object_path(op).map(ResultItem::ObjectPath))
    })
}
unsafe extern "C" fn rslt_done(p: *const CMPIResult) -> CMPIStatus {
    guard_status(|| match ResultObj::data(p, &RESULT_FT) {
        Some(d) => {
            d.done = true;
            CMPIStatus::ok()
        }
        None => CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE),
    })
}
unsafe extern "C" fn rslt_error(p: *const CMPIResult, er: *const CMPIError) -> CMPIStatus {
    guard_status(|| {
        let Some(d) = ResultObj::data(p, &RESULT_FT) else { return CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE) };
        match super::error::read_error(er) {
            Some(e) => {
                d.errors.push(e);
                CMPIStatus::ok()
            }
            None => CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE),
        }
    })
}

pub(crate) static RESULT_FT: CMPIResultFT = CMPIResultFT {
    ftVersion: CMPICurrentVersion,
    release: Some(rslt_release),
    clone: Some(rslt_clone),
    returnData: Some(rslt_data),
    returnInstance: Some(rslt_instance),
    returnObjectPath: Some(rslt_path),
    returnDone: Some(rslt_done),
    returnError: Some(rslt_error),
};

/// Name of the CMPI type of one of our objects (for `isOfType`/`getType`/`toString`).
///
/// # Safety
/// `p` is NULL or points to a CMPI encapsulated object.
pub(crate) unsafe fn type_name_of(p: *const c_void) -> Option<&'static str> {
    if p.is_null() {
        return None;
    }
    let ft = (*(p as *const AnyEnc)).ft as *const c_void;
    let table: [(*const c_void, &str); 11] = [
        (&STRING_FT as *const _ as *const c_void, "CMPIString"),
        (&DATETIME_FT as *const _ as *const c_void, "CMPIDateTime"),
        (&ARRAY_FT as *const _ as *const c_void, "CMPIArray"),
        (&OBJECTPATH_FT as *const _ as *const c_void, "CMPIObjectPath"),
        (&INSTANCE_FT as *const _ as *const c_void, "CMPIInstance"),
        (&ARGS_FT as *const _ as *const c_void, "CMPIArgs"),
        (&CONTEXT_FT as *const _ as *const c_void, "CMPIContext"),
        (&ENUMERATION_FT as *const _ as *const c_void, "CMPIEnumeration"),
        (&SELECTEXP_FT as *const _ as *const c_void, "CMPISelectExp"),
        (&RESULT_FT as *const _ as *const c_void, "CMPIResult"),
        (&super::error::ERROR_FT as *const _ as *const c_void, "CMPIError"),
    ];
    table.iter().find(|(f, _)| *f == ft).map(|(_, n)| *n)
}
