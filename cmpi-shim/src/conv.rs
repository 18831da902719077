//! Conversion between CMPI objects (accessed only through their function tables,
//! so it works whoever implemented them) and the owned values of [`crate::value`].

use crate::abi::*;
use crate::value::*;
use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::ptr;

pub type Result<T> = std::result::Result<T, CmpiError>;

fn invalid_handle(what: &str) -> CmpiError {
    CmpiError::new(CMPI_RC_ERR_INVALID_HANDLE, format!("null or invalid {what}"))
}

fn check(st: &CMPIStatus, what: &str) -> Result<()> {
    if st.rc == CMPI_RC_OK {
        Ok(())
    } else {
        // SAFETY: a status returned by a CMPI function carries NULL or a valid string.
        let msg = unsafe { string_of(st.msg) }.unwrap_or_default();
        Err(CmpiError::new(st.rc, if msg.is_empty() { format!("{what} failed") } else { msg }))
    }
}

/// The function table of an encapsulated object, or an error if either pointer is null.
macro_rules! ft_of {
    ($obj:expr, $what:expr) => {{
        let o = $obj;
        if o.is_null() || (*o).ft.is_null() {
            return Err(invalid_handle($what));
        }
        &*(*o).ft
    }};
}

macro_rules! func {
    ($ft:expr, $f:ident) => {
        $ft.$f.ok_or_else(|| CmpiError::new(CMPI_RC_ERR_NOT_SUPPORTED, concat!(stringify!($f), " missing")))?
    };
}

/// Reads a C string (NULL gives an empty string).
///
/// # Safety
/// `p` is NULL or a valid NUL-terminated string.
pub unsafe fn cstr(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// Reads a C string that may be NULL.
///
/// # Safety
/// `p` is NULL or a valid NUL-terminated string.
pub unsafe fn opt_cstr(p: *const c_char) -> Option<String> {
    if p.is_null() {
        None
    } else {
        Some(cstr(p))
    }
}

/// Reads a NULL-terminated array of C strings (a property list); NULL gives `None`.
///
/// # Safety
/// `p` is NULL or a NULL-terminated array of valid C strings.
pub unsafe fn string_list(p: *const *const c_char) -> Option<Vec<String>> {
    if p.is_null() {
        return None;
    }
    let mut v = Vec::new();
    let mut i = 0;
    while !(*p.add(i)).is_null() {
        v.push(cstr(*p.add(i)));
        i += 1;
    }
    Some(v)
}

/// Text of a CMPIString (NULL gives an empty string).
///
/// # Safety
/// `s` is NULL or a valid CMPIString.
pub unsafe fn string_of(s: *const CMPIString) -> Result<String> {
    if s.is_null() {
        return Ok(String::new());
    }
    let ft = ft_of!(s, "CMPIString");
    let mut st = CMPIStatus::ok();
    let p = func!(ft, getCharPtr)(s, &mut st);
    check(&st, "getCharPtr")?;
    Ok(cstr(p))
}

/// Converts a data item into an owned value.
///
/// # Safety
/// The pointers inside `d` are valid for its type.
pub unsafe fn read_data(d: &CMPIData) -> Result<CimValue> {
    let is_array = d.r#type & CMPI_ARRAY != 0;
    if d.state & CMPI_nullValue != 0 || d.state & CMPI_notFound != 0 {
        let ty = CimType::from_cmpi(d.r#type).unwrap_or(CimType::String);
        return Ok(CimValue::Null { ty, array: is_array });
    }
    if is_array {
        return read_array(d.value.array);
    }
    read_scalar(d.r#type, &d.value)
}

/// Converts a scalar value of CMPI type `ty`.
///
/// # Safety
/// The pointers inside `v` are valid for `ty`.
pub unsafe fn read_scalar(ty: CMPIType, v: &CMPIValue) -> Result<CimValue> {
    Ok(match ty {
        CMPI_boolean => CimValue::Boolean(v.boolean != 0),
        CMPI_char16 => CimValue::Char16(v.char16),
        CMPI_uint8 => CimValue::Uint8(v.uint8),
        CMPI_uint16 => CimValue::Uint16(v.uint16),
        CMPI_uint32 => CimValue::Uint32(v.uint32),
        CMPI_uint64 => CimValue::Uint64(v.uint64),
        CMPI_sint8 => CimValue::Sint8(v.sint8),
        CMPI_sint16 => CimValue::Sint16(v.sint16),
        CMPI_sint32 => CimValue::Sint32(v.sint32),
        CMPI_sint64 => CimValue::Sint64(v.sint64),
        CMPI_real32 => CimValue::Real32(v.real32),
        CMPI_real64 => CimValue::Real64(v.real64),
        CMPI_string => {
            if v.string.is_null() {
                return Ok(CimValue::Null { ty: CimType::String, array: false });
            }
            CimValue::String(string_of(v.string)?)
        }
        CMPI_chars => {
            if v.chars.is_null() {
                return Ok(CimValue::Null { ty: CimType::String, array: false });
            }
            CimValue::String(cstr(v.chars))
        }
        CMPI_dateTime => {
            if v.dateTime.is_null() {
                return Ok(CimValue::Null { ty: CimType::DateTime, array: false });
            }
            CimValue::DateTime(read_datetime(v.dateTime)?)
        }
        CMPI_ref => {
            if v.r#ref.is_null() {
                return Ok(CimValue::Null { ty: CimType::Reference, array: false });
            }
            CimValue::Reference(read_object_path(v.r#ref)?)
        }
        CMPI_instance => {
            if v.inst.is_null() {
                return Ok(CimValue::Null { ty: CimType::Instance, array: false });
            }
            CimValue::Instance(Box::new(read_instance(v.inst)?))
        }
        other => {
            return Err(CmpiError::new(CMPI_RC_ERR_INVALID_DATA_TYPE, format!("unsupported CMPI type {other:#x}")))
        }
    })
}

/// # Safety
/// `dt` is a valid CMPIDateTime.
pub unsafe fn read_datetime(dt: *const CMPIDateTime) -> Result<CimDateTime> {
    let ft = ft_of!(dt, "CMPIDateTime");
    let mut st = CMPIStatus::ok();
    let s = func!(ft, getStringFormat)(dt, &mut st);
    check(&st, "getStringFormat")?;
    CimDateTime::parse(&string_of(s)?)
}

/// # Safety
/// `a` is NULL or a valid CMPIArray.
pub unsafe fn read_array(a: *const CMPIArray) -> Result<CimValue> {
    let ft = ft_of!(a, "CMPIArray");
    let mut st = CMPIStatus::ok();
    let n = func!(ft, getSize)(a, &mut st);
    check(&st, "getSize")?;
    let et = func!(ft, getSimpleType)(a, &mut st);
    check(&st, "getSimpleType")?;
    let ty = CimType::from_cmpi(et)
        .ok_or_else(|| CmpiError::new(CMPI_RC_ERR_INVALID_DATA_TYPE, format!("array of type {et:#x}")))?;
    let mut items = Vec::with_capacity(n as usize);
    for i in 0..n {
        let d = func!(ft, getElementAt)(a, i, &mut st);
        check(&st, "getElementAt")?;
        let v = if d.state & CMPI_nullValue != 0 {
            CimValue::Null { ty, array: false }
        } else {
            read_scalar(d.r#type & !CMPI_ARRAY, &d.value)?
        };
        items.push(v);
    }
    Ok(CimValue::Array(ty, items))
}

/// # Safety
/// `op` is a valid CMPIObjectPath.
pub unsafe fn read_object_path(op: *const CMPIObjectPath) -> Result<ObjectPath> {
    let ft = ft_of!(op, "CMPIObjectPath");
    let mut st = CMPIStatus::ok();
    let ns = string_of(func!(ft, getNameSpace)(op, &mut st))?;
    check(&st, "getNameSpace")?;
    let cn = string_of(func!(ft, getClassName)(op, &mut st))?;
    check(&st, "getClassName")?;
    let host = match ft.getHostname {
        Some(f) => {
            let h = f(op, &mut st);
            if st.rc == CMPI_RC_OK && !h.is_null() {
                Some(string_of(h)?).filter(|h| !h.is_empty())
            } else {
                None
            }
        }
        None => None,
    };
    let n = func!(ft, getKeyCount)(op, &mut st);
    check(&st, "getKeyCount")?;
    let mut keys = Vec::with_capacity(n as usize);
    for i in 0..n {
        let mut name: *mut CMPIString = ptr::null_mut();
        let d = func!(ft, getKeyAt)(op, i, &mut name, &mut st);
        check(&st, "getKeyAt")?;
        keys.push((string_of(name)?, read_data(&d)?));
    }
    Ok(ObjectPath { host, namespace: ns, classname: cn, keys })
}

/// # Safety
/// `inst` is a valid CMPIInstance.
pub unsafe fn read_instance(inst: *const CMPIInstance) -> Result<Instance> {
    let ft = ft_of!(inst, "CMPIInstance");
    let mut st = CMPIStatus::ok();
    let op = func!(ft, getObjectPath)(inst, &mut st);
    check(&st, "getObjectPath")?;
    let path = read_object_path(op)?;
    let n = func!(ft, getPropertyCount)(inst, &mut st);
    check(&st, "getPropertyCount")?;
    let mut properties = Vec::with_capacity(n as usize);
    for i in 0..n {
        let mut name: *mut CMPIString = ptr::null_mut();
        let d = func!(ft, getPropertyAt)(inst, i, &mut name, &mut st);
        check(&st, "getPropertyAt")?;
        properties.push((string_of(name)?, read_data(&d)?));
    }
    Ok(Instance { path, properties })
}

/// # Safety
/// `args` is NULL or a valid CMPIArgs (NULL gives no arguments).
pub unsafe fn read_args(args: *const CMPIArgs) -> Result<Args> {
    if args.is_null() {
        return Ok(Vec::new());
    }
    let ft = ft_of!(args, "CMPIArgs");
    let mut st = CMPIStatus::ok();
    let n = func!(ft, getArgCount)(args, &mut st);
    check(&st, "getArgCount")?;
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let mut name: *mut CMPIString = ptr::null_mut();
        let d = func!(ft, getArgAt)(args, i, &mut name, &mut st);
        check(&st, "getArgAt")?;
        out.push((string_of(name)?, read_data(&d)?));
    }
    Ok(out)
}

/// Reads the well-known entries and all others of a context.
///
/// # Safety
/// `ctx` is NULL or a valid CMPIContext (NULL gives the default context).
pub unsafe fn read_context(ctx: *const CMPIContext) -> Result<CallContext> {
    let mut out = CallContext::default();
    if ctx.is_null() {
        return Ok(out);
    }
    let ft = ft_of!(ctx, "CMPIContext");
    let mut st = CMPIStatus::ok();
    let n = func!(ft, getEntryCount)(ctx, &mut st);
    check(&st, "getEntryCount")?;
    for i in 0..n {
        let mut name: *mut CMPIString = ptr::null_mut();
        let d = func!(ft, getEntryAt)(ctx, i, &mut name, &mut st);
        check(&st, "getEntryAt")?;
        let name = string_of(name)?;
        // Entries this crate cannot represent (CMPI_ptr, encapsulated non-CIM types)
        // are broker-private: skip them rather than fail the whole context.
        let Ok(v) = read_data(&d) else { continue };
        if d.r#type == CMPI_ptr {
            continue;
        }
        match (name.as_str(), v) {
            ("CMPIInitNameSpace", CimValue::String(s)) => out.namespace = Some(s),
            ("CMPIPrincipal", CimValue::String(s)) => out.principal = Some(s),
            ("CMPIRole", CimValue::String(s)) => out.role = Some(s),
            ("CMPIInvocationFlags", CimValue::Uint32(f)) => out.invocation_flags = f,
            ("CMPIInvocationFlags", CimValue::Sint32(f)) => out.invocation_flags = f as u32,
            (_, v) => out.other.push((name, v)),
        }
    }
    Ok(out)
}

// ---- building CMPI objects through a broker's factory functions ------------

pub(crate) fn c_string(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| CmpiError::invalid_parameter(format!("string contains NUL: {s:?}")))
}

fn status_or(rc: &CMPIStatus, p: *mut u8, what: &str) -> Result<()> {
    check(rc, what)?;
    if p.is_null() {
        return Err(CmpiError::failed(format!("{what} returned NULL")));
    }
    Ok(())
}

/// The broker's encapsulated-object factory table.
///
/// # Safety
/// `mb` is NULL or a valid CMPIBroker.
unsafe fn eft<'a>(mb: *const CMPIBroker) -> Result<&'a CMPIBrokerEncFT> {
    if mb.is_null() || (*mb).eft.is_null() {
        return Err(invalid_handle("CMPIBroker"));
    }
    Ok(&*(*mb).eft)
}

/// # Safety
/// `mb` is a valid CMPIBroker.
pub unsafe fn new_string(mb: *const CMPIBroker, s: &str) -> Result<*mut CMPIString> {
    let c = c_string(s)?;
    let mut st = CMPIStatus::ok();
    let p = func!(eft(mb)?, newString)(mb, c.as_ptr(), &mut st);
    status_or(&st, p as *mut u8, "newString")?;
    Ok(p)
}

/// # Safety
/// `mb` is a valid CMPIBroker.
pub unsafe fn new_datetime(mb: *const CMPIBroker, d: &CimDateTime) -> Result<*mut CMPIDateTime> {
    let c = c_string(d.as_str())?;
    let mut st = CMPIStatus::ok();
    let p = func!(eft(mb)?, newDateTimeFromChars)(mb, c.as_ptr(), &mut st);
    status_or(&st, p as *mut u8, "newDateTimeFromChars")?;
    Ok(p)
}

/// A value ready to pass to `setProperty`/`addKey`/`addArg`/`setElementAt`.
/// A NULL value is passed as a NULL `CMPIValue*` with its type.
pub struct Built {
    pub value: CMPIValue,
    pub ty: CMPIType,
    pub null: bool,
}

impl Built {
    pub fn as_ptr(&self) -> *const CMPIValue {
        if self.null {
            ptr::null()
        } else {
            &self.value
        }
    }
}

/// Builds the CMPI form of `v` with objects made by `mb`.
///
/// # Safety
/// `mb` is a valid CMPIBroker.
pub unsafe fn build_value(mb: *const CMPIBroker, v: &CimValue) -> Result<Built> {
    let mut value = CMPIValue::zeroed();
    let ty = v.cmpi_type();
    match v {
        CimValue::Boolean(b) => value.boolean = *b as u8,
        CimValue::Char16(x) => value.char16 = *x,
        CimValue::Uint8(x) => value.uint8 = *x,
        CimValue::Uint16(x) => value.uint16 = *x,
        CimValue::Uint32(x) => value.uint32 = *x,
        CimValue::Uint64(x) => value.uint64 = *x,
        CimValue::Sint8(x) => value.sint8 = *x,
        CimValue::Sint16(x) => value.sint16 = *x,
        CimValue::Sint32(x) => value.sint32 = *x,
        CimValue::Sint64(x) => value.sint64 = *x,
        CimValue::Real32(x) => value.real32 = *x,
        CimValue::Real64(x) => value.real64 = *x,
        CimValue::String(s) => value.string = new_string(mb, s)?,
        CimValue::DateTime(d) => value.dateTime = new_datetime(mb, d)?,
        CimValue::Reference(op) => value.r#ref = build_object_path(mb, op)?,
        CimValue::Instance(i) => value.inst = build_instance(mb, i)?,
        CimValue::Array(et, items) => value.array = build_array(mb, *et, items)?,
        CimValue::Null { .. } => return Ok(Built { value, ty, null: true }),
    }
    Ok(Built { value, ty, null: false })
}

/// # Safety
/// `mb` is a valid CMPIBroker.
pub unsafe fn build_array(mb: *const CMPIBroker, et: CimType, items: &[CimValue]) -> Result<*mut CMPIArray> {
    let mut st = CMPIStatus::ok();
    let a = func!(eft(mb)?, newArray)(mb, items.len() as CMPICount, et.cmpi_type(), &mut st);
    status_or(&st, a as *mut u8, "newArray")?;
    let ft = ft_of!(a, "CMPIArray");
    for (i, item) in items.iter().enumerate() {
        if item.cim_type() != (et, false) {
            return Err(CmpiError::new(
                CMPI_RC_ERR_TYPE_MISMATCH,
                format!("array of {et:?} holds element {item:?}"),
            ));
        }
        if item.is_null() {
            continue; // elements of a new array start NULL
        }
        let b = build_value(mb, item)?;
        check(&func!(ft, setElementAt)(a, i as CMPICount, b.as_ptr(), b.ty), "setElementAt")?;
    }
    Ok(a)
}

/// # Safety
/// `mb` is a valid CMPIBroker.
pub unsafe fn build_object_path(mb: *const CMPIBroker, op: &ObjectPath) -> Result<*mut CMPIObjectPath> {
    let ns = c_string(&op.namespace)?;
    let cn = c_string(&op.classname)?;
    let mut st = CMPIStatus::ok();
    let p = func!(eft(mb)?, newObjectPath)(mb, ns.as_ptr(), cn.as_ptr(), &mut st);
    status_or(&st, p as *mut u8, "newObjectPath")?;
    let ft = ft_of!(p, "CMPIObjectPath");
    if let Some(h) = &op.host {
        let h = c_string(h)?;
        check(&func!(ft, setHostname)(p, h.as_ptr()), "setHostname")?;
    }
    for (k, v) in &op.keys {
        let name = c_string(k)?;
        let b = build_value(mb, v)?;
        check(&func!(ft, addKey)(p, name.as_ptr(), b.as_ptr(), b.ty), "addKey")?;
    }
    Ok(p)
}

/// # Safety
/// `mb` is a valid CMPIBroker.
pub unsafe fn build_instance(mb: *const CMPIBroker, inst: &Instance) -> Result<*mut CMPIInstance> {
    let op = build_object_path(mb, &inst.path)?;
    let mut st = CMPIStatus::ok();
    let p = func!(eft(mb)?, newInstance)(mb, op, &mut st);
    status_or(&st, p as *mut u8, "newInstance")?;
    let ft = ft_of!(p, "CMPIInstance");
    for (k, v) in &inst.properties {
        let name = c_string(k)?;
        let b = build_value(mb, v)?;
        check(&func!(ft, setProperty)(p, name.as_ptr(), b.as_ptr(), b.ty), "setProperty")?;
    }
    Ok(p)
}

/// Adds every argument of `args` to the CMPIArgs `out`.
///
/// # Safety
/// `mb` is a valid CMPIBroker and `out` a valid CMPIArgs.
pub unsafe fn fill_args(mb: *const CMPIBroker, out: *const CMPIArgs, args: &[(String, CimValue)]) -> Result<()> {
    let ft = ft_of!(out, "CMPIArgs");
    for (k, v) in args {
        let name = c_string(k)?;
        let b = build_value(mb, v)?;
        check(&func!(ft, addArg)(out, name.as_ptr(), b.as_ptr(), b.ty), "addArg")?;
    }
    Ok(())
}

/// # Safety
/// `mb` is a valid CMPIBroker.
pub unsafe fn build_args(mb: *const CMPIBroker, args: &[(String, CimValue)]) -> Result<*mut CMPIArgs> {
    let mut st = CMPIStatus::ok();
    let p = func!(eft(mb)?, newArgs)(mb, &mut st);
    status_or(&st, p as *mut u8, "newArgs")?;
    fill_args(mb, p, args)?;
    Ok(p)
}
