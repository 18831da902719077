//! The broker handle (`CMPIBroker`) and its function tables: broker services
//! (up-calls), object factories and memory services.

use super::arena;
use super::error::{new_error_obj, ErrorData};
use super::objects::*;
use super::Upcalls;
use crate::abi::*;
use crate::conv;
use crate::ffi::{catch, guard, guard_status, set_rc};
use crate::value::*;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};
use std::ptr;
use std::sync::Arc;

/// Version the broker reports in `brokerVersion` (CMPI 2.0).
pub(crate) const BROKER_VERSION: u32 = 200;

/// One broker handle per loaded provider library.
pub(crate) struct BrokerState {
    pub broker: CMPIBroker,
    pub bft: CMPIBrokerFT,
    pub name: CString,
    pub upcalls: Arc<dyn Upcalls>,
}

impl BrokerState {
    pub fn new(upcalls: Arc<dyn Upcalls>) -> Box<BrokerState> {
        let name = CString::new("xencim-cmpi-shim").expect("no NUL");
        let mut b = Box::new(BrokerState {
            broker: CMPIBroker {
                hdl: ptr::null_mut(),
                bft: ptr::null_mut(),
                eft: &ENC_FT as *const _ as *mut _,
                xft: &super::ext::EXT_FT as *const _ as *mut _,
                mft: &MEM_FT as *const _ as *mut _,
            },
            bft: broker_ft(),
            name,
            upcalls,
        });
        b.bft.brokerName = b.name.as_ptr();
        let self_ptr: *mut BrokerState = &mut *b;
        b.broker.hdl = self_ptr as *mut c_void;
        b.broker.bft = &mut b.bft;
        b
    }

    pub fn mb(&self) -> *const CMPIBroker {
        &self.broker
    }
}

/// The state behind one of our broker handles.
///
/// # Safety
/// `mb` is NULL or a valid CMPIBroker.
unsafe fn state<'a>(mb: *const CMPIBroker) -> Option<&'a BrokerState> {
    if mb.is_null() || !std::ptr::eq((*mb).eft, &ENC_FT) || (*mb).hdl.is_null() {
        return None;
    }
    Some(&*((*mb).hdl as *const BrokerState))
}

/// Builds the context object for a call (in the current arena).
pub(crate) fn make_context(mb: *const CMPIBroker, ctx: &CallContext) -> conv::Result<*mut CMPIContext> {
    let mut items: Vec<(CString, Owned)> = Vec::new();
    let mut add = |name: &str, v: &CimValue| -> conv::Result<()> {
        // SAFETY: `mb` is our own broker; the built value lives in the current arena.
        let b = unsafe { conv::build_value(mb, v)? };
        // SAFETY: `b` is a valid value of type `b.ty` (or NULL for a null value).
        let o = unsafe { Owned::copy(b.as_ptr(), b.ty) }.map_err(|rc| CmpiError::new(rc, "context entry"))?;
        items.push((conv::c_string(name)?, o));
        Ok(())
    };
    if let Some(ns) = &ctx.namespace {
        add("CMPIInitNameSpace", &CimValue::String(ns.clone()))?;
    }
    if let Some(p) = &ctx.principal {
        add("CMPIPrincipal", &CimValue::String(p.clone()))?;
    }
    add("CMPIInvocationFlags", &CimValue::Uint32(ctx.invocation_flags))?;
    if let Some(r) = &ctx.role {
        add("CMPIRole", &CimValue::String(r.clone()))?;
    }
    for (k, v) in &ctx.other {
        add(k, v)?;
    }
    Ok(new_context_obj(items, true))
}

// ---- CMPIBrokerFT -------------------------------------------------------------------

unsafe fn read_ctx(ctx: *const CMPIContext) -> CallContext {
    conv::read_context(ctx).unwrap_or_default()
}

fn fail(rc: *mut CMPIStatus, e: &CmpiError) {
    if !rc.is_null() {
        // SAFETY: the caller passed a writable status (checked non-null).
        unsafe { *rc = CMPIStatus { rc: e.rc, msg: arena_string_str(&e.message) } };
    }
}

fn status_of(r: Result<(), CmpiError>) -> CMPIStatus {
    match r {
        Ok(()) => CMPIStatus::ok(),
        Err(e) => CMPIStatus { rc: e.rc, msg: arena_string_str(&e.message) },
    }
}

/// Builds an enumeration (in the current arena) from owned values.
unsafe fn enumeration_of(mb: *const CMPIBroker, elem: CMPIType, values: &[CimValue]) -> conv::Result<*mut CMPIEnumeration> {
    let mut items = Vec::with_capacity(values.len());
    for v in values {
        let b = conv::build_value(mb, v)?;
        items.push(Owned::copy(b.as_ptr(), b.ty).map_err(|rc| CmpiError::new(rc, "enumeration item"))?);
    }
    Ok(new_enum_obj(elem, items, true))
}

unsafe fn enum_result(
    mb: *const CMPIBroker,
    rc: *mut CMPIStatus,
    elem: CMPIType,
    r: Result<Vec<CimValue>, CmpiError>,
) -> *mut CMPIEnumeration {
    match r.and_then(|v| enumeration_of(mb, elem, &v)) {
        Ok(e) => {
            set_rc(rc, CMPI_RC_OK);
            e
        }
        Err(e) => {
            fail(rc, &e);
            ptr::null_mut()
        }
    }
}

fn insts(v: Vec<Instance>) -> Vec<CimValue> {
    v.into_iter().map(|i| CimValue::Instance(Box::new(i))).collect()
}
fn paths(v: Vec<ObjectPath>) -> Vec<CimValue> {
    v.into_iter().map(CimValue::Reference).collect()
}

unsafe fn props(p: *mut *const c_char) -> Option<Vec<String>> {
    conv::string_list(p)
}

macro_rules! with_state {
    ($mb:expr, $rc:expr, $fallback:expr) => {
        match state($mb) {
            Some(s) => s,
            None => {
                set_rc($rc, CMPI_RC_ERR_INVALID_HANDLE);
                return $fallback;
            }
        }
    };
}

macro_rules! read_or_fail {
    ($e:expr, $rc:expr, $fallback:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => {
                fail($rc, &e);
                return $fallback;
            }
        }
    };
}

unsafe extern "C" fn b_prepare_attach(mb: *const CMPIBroker, ctx: *const CMPIContext) -> *mut CMPIContext {
    guard(ptr::null_mut(), ptr::null_mut(), || {
        if state(mb).is_none() || ctx.is_null() || (*ctx).ft.is_null() {
            return ptr::null_mut();
        }
        match (*(*ctx).ft).clone {
            Some(c) => c(ctx, ptr::null_mut()),
            None => ptr::null_mut(),
        }
    })
}

thread_local! {
    static ATTACHED: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

unsafe extern "C" fn b_attach(mb: *const CMPIBroker, ctx: *const CMPIContext) -> CMPIStatus {
    guard_status(|| {
        if state(mb).is_none() || ctx.is_null() {
            return CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE);
        }
        let depth = arena::push_floor();
        ATTACHED.with(|a| a.borrow_mut().push(depth));
        CMPIStatus::ok()
    })
}

unsafe extern "C" fn b_detach(mb: *const CMPIBroker, ctx: *const CMPIContext) -> CMPIStatus {
    guard_status(|| {
        if state(mb).is_none() || ctx.is_null() {
            return CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE);
        }
        match ATTACHED.with(|a| a.borrow_mut().pop()) {
            Some(depth) => arena::pop_to(depth),
            None => return CMPIStatus::rc(CMPI_RC_ERR_FAILED),
        }
        // The context from prepareAttachThread is freed here.
        ContextObj::free_now(ctx as *mut CMPIContext, &CONTEXT_FT);
        CMPIStatus::ok()
    })
}

unsafe extern "C" fn b_deliver(
    mb: *const CMPIBroker,
    ctx: *const CMPIContext,
    ns: *const c_char,
    ind: *const CMPIInstance,
) -> CMPIStatus {
    guard_status(|| {
        let Some(s) = state(mb) else { return CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE) };
        if ind.is_null() {
            return CMPIStatus::rc(CMPI_RC_ERR_INVALID_PARAMETER);
        }
        let r = conv::read_instance(ind)
            .and_then(|i| s.upcalls.deliver_indication(&read_ctx(ctx), &conv::cstr(ns), i));
        status_of(r)
    })
}

unsafe extern "C" fn b_enum_names(
    mb: *const CMPIBroker,
    ctx: *const CMPIContext,
    op: *const CMPIObjectPath,
    rc: *mut CMPIStatus,
) -> *mut CMPIEnumeration {
    guard(rc, ptr::null_mut(), || {
        let s = with_state!(mb, rc, ptr::null_mut());
        let op = read_or_fail!(conv::read_object_path(op), rc, ptr::null_mut());
        let r = s.upcalls.enumerate_instance_names(&read_ctx(ctx), &op).map(paths);
        enum_result(mb, rc, CMPI_ref, r)
    })
}

unsafe extern "C" fn b_get_instance(
    mb: *const CMPIBroker,
    ctx: *const CMPIContext,
    op: *const CMPIObjectPath,
    properties: *mut *const c_char,
    rc: *mut CMPIStatus,
) -> *mut CMPIInstance {
    guard(rc, ptr::null_mut(), || {
        let s = with_state!(mb, rc, ptr::null_mut());
        let op = read_or_fail!(conv::read_object_path(op), rc, ptr::null_mut());
        let p = props(properties);
        let inst = read_or_fail!(s.upcalls.get_instance(&read_ctx(ctx), &op, p.as_deref()), rc, ptr::null_mut());
        let i = read_or_fail!(conv::build_instance(mb, &inst), rc, ptr::null_mut());
        set_rc(rc, CMPI_RC_OK);
        i
    })
}

unsafe extern "C" fn b_create_instance(
    mb: *const CMPIBroker,
    ctx: *const CMPIContext,
    op: *const CMPIObjectPath,
    inst: *const CMPIInstance,
    rc: *mut CMPIStatus,
) -> *mut CMPIObjectPath {
    guard(rc, ptr::null_mut(), || {
        let s = with_state!(mb, rc, ptr::null_mut());
        let op = read_or_fail!(conv::read_object_path(op), rc, ptr::null_mut());
        let inst = read_or_fail!(conv::read_instance(inst), rc, ptr::null_mut());
        let out = read_or_fail!(s.upcalls.create_instance(&read_ctx(ctx), &op, &inst), rc, ptr::null_mut());
        let p = read_or_fail!(conv::build_object_path(mb, &out), rc, ptr::null_mut());
        set_rc(rc, CMPI_RC_OK);
        p
    })
}

unsafe extern "C" fn b_modify_instance(
    mb: *const CMPIBroker,
    ctx: *const CMPIContext,
    op: *const CMPIObjectPath,
    inst: *const CMPIInstance,
    properties: *mut *const c_char,
) -> CMPIStatus {
    guard_status(|| {
        let Some(s) = state(mb) else { return CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE) };
        let r = conv::read_object_path(op).and_then(|op| {
            let inst = conv::read_instance(inst)?;
            s.upcalls.modify_instance(&read_ctx(ctx), &op, &inst, props(properties).as_deref())
        });
        status_of(r)
    })
}

unsafe extern "C" fn b_delete_instance(mb: *const CMPIBroker, ctx: *const CMPIContext, op: *const CMPIObjectPath) -> CMPIStatus {
    guard_status(|| {
        let Some(s) = state(mb) else { return CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE) };
        status_of(conv::read_object_path(op).and_then(|op| s.upcalls.delete_instance(&read_ctx(ctx), &op)))
    })
}

unsafe extern "C" fn b_exec_query(
    mb: *const CMPIBroker,
    ctx: *const CMPIContext,
    op: *const CMPIObjectPath,
    query: *const c_char,
    lang: *const c_char,
    rc: *mut CMPIStatus,
) -> *mut CMPIEnumeration {
    guard(rc, ptr::null_mut(), || {
        let s = with_state!(mb, rc, ptr::null_mut());
        let op = read_or_fail!(conv::read_object_path(op), rc, ptr::null_mut());
        let r = s.upcalls.exec_query(&read_ctx(ctx), &op, &conv::cstr(query), &conv::cstr(lang)).map(insts);
        enum_result(mb, rc, CMPI_instance, r)
    })
}

unsafe extern "C" fn b_enum_instances(
    mb: *const CMPIBroker,
    ctx: *const CMPIContext,
    op: *const CMPIObjectPath,
    properties: *mut *const c_char,
    rc: *mut CMPIStatus,
) -> *mut CMPIEnumeration {
    guard(rc, ptr::null_mut(), || {
        let s = with_state!(mb, rc, ptr::null_mut());
        let op = read_or_fail!(conv::read_object_path(op), rc, ptr::null_mut());
        let r = s.upcalls.enumerate_instances(&read_ctx(ctx), &op, props(properties).as_deref()).map(insts);
        enum_result(mb, rc, CMPI_instance, r)
    })
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn b_associators(
    mb: *const CMPIBroker,
    ctx: *const CMPIContext,
    op: *const CMPIObjectPath,
    assoc_class: *const c_char,
    result_class: *const c_char,
    role: *const c_char,
    result_role: *const c_char,
    properties: *mut *const c_char,
    rc: *mut CMPIStatus,
) -> *mut CMPIEnumeration {
    guard(rc, ptr::null_mut(), || {
        let s = with_state!(mb, rc, ptr::null_mut());
        let op = read_or_fail!(conv::read_object_path(op), rc, ptr::null_mut());
        let (a, r1, r, rr) =
            (conv::opt_cstr(assoc_class), conv::opt_cstr(result_class), conv::opt_cstr(role), conv::opt_cstr(result_role));
        let res = s
            .upcalls
            .associators(
                &read_ctx(ctx),
                &op,
                a.as_deref(),
                r1.as_deref(),
                r.as_deref(),
                rr.as_deref(),
                props(properties).as_deref(),
            )
            .map(insts);
        enum_result(mb, rc, CMPI_instance, res)
    })
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn b_associator_names(
    mb: *const CMPIBroker,
    ctx: *const CMPIContext,
    op: *const CMPIObjectPath,
    assoc_class: *const c_char,
    result_class: *const c_char,
    role: *const c_char,
    result_role: *const c_char,
    rc: *mut CMPIStatus,
) -> *mut CMPIEnumeration {
    guard(rc, ptr::null_mut(), || {
        let s = with_state!(mb, rc, ptr::null_mut());
        let op = read_or_fail!(conv::read_object_path(op), rc, ptr::null_mut());
        let (a, r1, r, rr) =
            (conv::opt_cstr(assoc_class), conv::opt_cstr(result_class), conv::opt_cstr(role), conv::opt_cstr(result_role));
        let res = s
            .upcalls
            .associator_names(&read_ctx(ctx), &op, a.as_deref(), r1.as_deref(), r.as_deref(), rr.as_deref())
            .map(paths);
        enum_result(mb, rc, CMPI_ref, res)
    })
}

unsafe extern "C" fn b_references(
    mb: *const CMPIBroker,
    ctx: *const CMPIContext,
    op: *const CMPIObjectPath,
    result_class: *const c_char,
    role: *const c_char,
    properties: *mut *const c_char,
    rc: *mut CMPIStatus,
) -> *mut CMPIEnumeration {
    guard(rc, ptr::null_mut(), || {
        let s = with_state!(mb, rc, ptr::null_mut());
        let op = read_or_fail!(conv::read_object_path(op), rc, ptr::null_mut());
        let (r1, r) = (conv::opt_cstr(result_class), conv::opt_cstr(role));
        let res = s
            .upcalls
            .references(&read_ctx(ctx), &op, r1.as_deref(), r.as_deref(), props(properties).as_deref())
            .map(insts);
        enum_result(mb, rc, CMPI_instance, res)
    })
}

unsafe extern "C" fn b_reference_names(
    mb: *const CMPIBroker,
    ctx: *const CMPIContext,
    op: *const CMPIObjectPath,
    result_class: *const c_char,
    role: *const c_char,
    rc: *mut CMPIStatus,
) -> *mut CMPIEnumeration {
    guard(rc, ptr::null_mut(), || {
        let s = with_state!(mb, rc, ptr::null_mut());
        let op = read_or_fail!(conv::read_object_path(op), rc, ptr::null_mut());
        let (r1, r) = (conv::opt_cstr(result_class), conv::opt_cstr(role));
        let res = s.upcalls.reference_names(&read_ctx(ctx), &op, r1.as_deref(), r.as_deref()).map(paths);
        enum_result(mb, rc, CMPI_ref, res)
    })
}

unsafe extern "C" fn b_invoke_method(
    mb: *const CMPIBroker,
    ctx: *const CMPIContext,
    op: *const CMPIObjectPath,
    method: *const c_char,
    in_args: *const CMPIArgs,
    out_args: *mut CMPIArgs,
    rc: *mut CMPIStatus,
) -> CMPIData {
    let none = CMPIData::null();
    guard(rc, none, || {
        let s = with_state!(mb, rc, none);
        let op = read_or_fail!(conv::read_object_path(op), rc, none);
        let args = read_or_fail!(conv::read_args(in_args), rc, none);
        let res = read_or_fail!(s.upcalls.invoke_method(&read_ctx(ctx), &op, &conv::cstr(method), &args), rc, none);
        if !out_args.is_null() {
            read_or_fail!(conv::fill_args(mb, out_args, &res.out_args), rc, none);
        }
        let Some(ret) = res.return_value else {
            set_rc(rc, CMPI_RC_OK);
            return none;
        };
        let b = read_or_fail!(conv::build_value(mb, &ret), rc, none);
        set_rc(rc, CMPI_RC_OK);
        CMPIData { r#type: b.ty, state: if b.null { CMPI_nullValue } else { CMPI_goodValue }, value: b.value }
    })
}

unsafe extern "C" fn b_set_property(
    _mb: *const CMPIBroker,
    _ctx: *const CMPIContext,
    _op: *const CMPIObjectPath,
    _name: *const c_char,
    _value: *const CMPIValue,
    _type: CMPIType,
) -> CMPIStatus {
    // Deprecated single-property up-calls: not routed by this broker.
    CMPIStatus::rc(CMPI_RC_ERR_NOT_SUPPORTED)
}

unsafe extern "C" fn b_get_property(
    _mb: *const CMPIBroker,
    _ctx: *const CMPIContext,
    _op: *const CMPIObjectPath,
    _name: *const c_char,
    rc: *mut CMPIStatus,
) -> CMPIData {
    set_rc(rc, CMPI_RC_ERR_NOT_SUPPORTED);
    CMPIData::null()
}

fn broker_ft() -> CMPIBrokerFT {
    CMPIBrokerFT {
        brokerCapabilities: CMPI_MB_BasicRead
            | CMPI_MB_BasicWrite
            | CMPI_MB_InstanceManipulation
            | CMPI_MB_AssociationTraversal
            | CMPI_MB_Indications
            | CMPI_MB_OSEncapsulationSupport
            | CMPI_MB_Supports_MemEnhancements
            | CMPI_MB_Supports_Extended_Error,
        brokerVersion: BROKER_VERSION,
        brokerName: ptr::null(),
        prepareAttachThread: Some(b_prepare_attach),
        attachThread: Some(b_attach),
        detachThread: Some(b_detach),
        deliverIndication: Some(b_deliver),
        enumerateInstanceNames: Some(b_enum_names),
        getInstance: Some(b_get_instance),
        createInstance: Some(b_create_instance),
        modifyInstance: Some(b_modify_instance),
        deleteInstance: Some(b_delete_instance),
        execQuery: Some(b_exec_query),
        enumerateInstances: Some(b_enum_instances),
        associators: Some(b_associators),
        associatorNames: Some(b_associator_names),
        references: Some(b_references),
        referenceNames: Some(b_reference_names),
        invokeMethod: Some(b_invoke_method),
        setProperty: Some(b_set_property),
        getProperty: Some(b_get_property),
    }
}

// ---- CMPIBrokerEncFT -------------------------------------------------------------------

macro_rules! new_obj {
    ($mb:expr, $rc:expr, $body:expr) => {
        guard($rc, ptr::null_mut(), || {
            if state($mb).is_none() {
                set_rc($rc, CMPI_RC_ERR_INVALID_HANDLE);
                return ptr::null_mut();
            }
            #[allow(clippy::redundant_closure_call)]
            match $body {
                Ok(p) => {
                    set_rc($rc, CMPI_RC_OK);
                    p
                }
                Err(code) => {
                    set_rc($rc, code);
                    ptr::null_mut()
                }
            }
        })
    };
}

unsafe extern "C" fn e_new_instance(mb: *const CMPIBroker, op: *const CMPIObjectPath, rc: *mut CMPIStatus) -> *mut CMPIInstance {
    new_obj!(mb, rc, path_data_of(op).map(|p| new_instance_obj(p, true)))
}
unsafe extern "C" fn e_new_object_path(
    mb: *const CMPIBroker,
    ns: *const c_char,
    cn: *const c_char,
    rc: *mut CMPIStatus,
) -> *mut CMPIObjectPath {
    new_obj!(mb, rc, {
        let s = |p: *const c_char| if p.is_null() { CString::default() } else { CStr::from_ptr(p).to_owned() };
        Ok::<_, CMPIrc>(new_path_obj(PathData { host: CString::default(), ns: s(ns), cn: s(cn), keys: Vec::new() }, true))
    })
}
unsafe extern "C" fn e_new_args(mb: *const CMPIBroker, rc: *mut CMPIStatus) -> *mut CMPIArgs {
    new_obj!(mb, rc, Ok::<_, CMPIrc>(new_args_obj(true)))
}
unsafe extern "C" fn e_new_string(mb: *const CMPIBroker, data: *const c_char, rc: *mut CMPIStatus) -> *mut CMPIString {
    new_obj!(mb, rc, {
        let s = if data.is_null() { CString::default() } else { CStr::from_ptr(data).to_owned() };
        Ok::<_, CMPIrc>(new_string_obj(s, true) as *mut CMPIString)
    })
}
unsafe extern "C" fn e_new_array(mb: *const CMPIBroker, max: CMPICount, ty: CMPIType, rc: *mut CMPIStatus) -> *mut CMPIArray {
    new_obj!(mb, rc, {
        if CimType::from_cmpi(ty).is_none() {
            Err(CMPI_RC_ERR_INVALID_DATA_TYPE)
        } else {
            Ok(new_array_obj(max as usize, ty, true))
        }
    })
}
unsafe extern "C" fn e_new_datetime(mb: *const CMPIBroker, rc: *mut CMPIStatus) -> *mut CMPIDateTime {
    new_obj!(mb, rc, {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Ok::<_, CMPIrc>(new_datetime_obj(CimDateTime::from_unix_micros(now.as_micros() as u64), true))
    })
}
unsafe extern "C" fn e_new_datetime_bin(
    mb: *const CMPIBroker,
    bin: CMPIUint64,
    interval: CMPIBoolean,
    rc: *mut CMPIStatus,
) -> *mut CMPIDateTime {
    new_obj!(mb, rc, {
        let d = if interval != 0 { CimDateTime::interval(bin) } else { CimDateTime::from_unix_micros(bin) };
        Ok::<_, CMPIrc>(new_datetime_obj(d, true))
    })
}
unsafe extern "C" fn e_new_datetime_chars(mb: *const CMPIBroker, s: *const c_char, rc: *mut CMPIStatus) -> *mut CMPIDateTime {
    new_obj!(mb, rc, {
        if s.is_null() {
            Err(CMPI_RC_ERR_INVALID_PARAMETER)
        } else {
            CimDateTime::parse(&conv::cstr(s)).map(|d| new_datetime_obj(d, true)).map_err(|e| e.rc)
        }
    })
}
unsafe extern "C" fn e_new_select_exp(
    mb: *const CMPIBroker,
    query: *const c_char,
    lang: *const c_char,
    projection: *mut *mut CMPIArray,
    rc: *mut CMPIStatus,
) -> *mut CMPISelectExp {
    new_obj!(mb, rc, {
        if !projection.is_null() {
            *projection = ptr::null_mut();
        }
        if query.is_null() {
            Err(CMPI_RC_ERR_INVALID_QUERY)
        } else {
            let lang = if lang.is_null() { CString::default() } else { CStr::from_ptr(lang).to_owned() };
            Ok(new_select_exp_obj(CStr::from_ptr(query).to_owned(), lang, true))
        }
    })
}
unsafe extern "C" fn e_class_path_is_a(
    mb: *const CMPIBroker,
    op: *const CMPIObjectPath,
    class: *const c_char,
    rc: *mut CMPIStatus,
) -> CMPIBoolean {
    guard(rc, 0, || {
        let s = with_state!(mb, rc, 0);
        let op = read_or_fail!(conv::read_object_path(op), rc, 0);
        set_rc(rc, CMPI_RC_OK);
        s.upcalls.class_is_a(&op.namespace, &op.classname, &conv::cstr(class)) as u8
    })
}
unsafe fn describe(object: *const c_void) -> Option<String> {
    let name = type_name_of(object)?;
    Some(match name {
        "CMPIInstance" => format!("{:?}", conv::read_instance(object as *const CMPIInstance).ok()?),
        "CMPIObjectPath" => conv::read_object_path(object as *const CMPIObjectPath).ok()?.to_string(),
        "CMPIString" => conv::string_of(object as *const CMPIString).ok()?,
        "CMPIDateTime" => conv::read_datetime(object as *const CMPIDateTime).ok()?.to_string(),
        "CMPIArray" => format!("{:?}", conv::read_array(object as *const CMPIArray).ok()?),
        "CMPIArgs" => format!("{:?}", conv::read_args(object as *const CMPIArgs).ok()?),
        other => other.to_string(),
    })
}
unsafe extern "C" fn e_to_string(mb: *const CMPIBroker, object: *const c_void, rc: *mut CMPIStatus) -> *mut CMPIString {
    new_obj!(mb, rc, describe(object).map(|s| arena_string_str(&s)).ok_or(CMPI_RC_ERR_INVALID_HANDLE))
}
unsafe extern "C" fn e_is_of_type(mb: *const CMPIBroker, object: *const c_void, ty: *const c_char, rc: *mut CMPIStatus) -> CMPIBoolean {
    guard(rc, 0, || {
        let _ = with_state!(mb, rc, 0);
        match type_name_of(object) {
            Some(n) => {
                set_rc(rc, CMPI_RC_OK);
                (n == conv::cstr(ty)) as u8
            }
            None => {
                set_rc(rc, CMPI_RC_ERR_INVALID_HANDLE);
                0
            }
        }
    })
}
unsafe extern "C" fn e_get_type(mb: *const CMPIBroker, object: *const c_void, rc: *mut CMPIStatus) -> *mut CMPIString {
    new_obj!(mb, rc, type_name_of(object).map(arena_string_str).ok_or(CMPI_RC_ERR_INVALID_HANDLE))
}
/// `getMessage`: the broker has no message catalogs, so the default message is
/// returned (substitution arguments are ignored; the varargs are never read).
unsafe extern "C" fn e_get_message(
    mb: *const CMPIBroker,
    _msg_id: *const c_char,
    def_msg: *const c_char,
    rc: *mut CMPIStatus,
    _count: CMPICount,
) -> *mut CMPIString {
    e_new_string(mb, def_msg, rc)
}
unsafe extern "C" fn e_get_message2(
    mb: *const CMPIBroker,
    _msg_id: *const c_char,
    _handle: CMPIMsgFileHandle,
    def_msg: *const c_char,
    rc: *mut CMPIStatus,
    _count: CMPICount,
) -> *mut CMPIString {
    e_new_string(mb, def_msg, rc)
}
unsafe fn log_text(text: *const c_char, string: *const CMPIString) -> String {
    if !text.is_null() {
        conv::cstr(text)
    } else {
        conv::string_of(string).unwrap_or_default()
    }
}
unsafe extern "C" fn e_log(
    mb: *const CMPIBroker,
    severity: c_int,
    id: *const c_char,
    text: *const c_char,
    string: *const CMPIString,
) -> CMPIStatus {
    guard_status(|| match state(mb) {
        Some(s) => {
            s.upcalls.log(severity, &conv::cstr(id), &log_text(text, string));
            CMPIStatus::ok()
        }
        None => CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE),
    })
}
unsafe extern "C" fn e_trace(
    mb: *const CMPIBroker,
    level: CMPILevel,
    component: *const c_char,
    text: *const c_char,
    string: *const CMPIString,
) -> CMPIStatus {
    e_log(mb, level as c_int, component, text, string)
}
#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn e_new_error(
    mb: *const CMPIBroker,
    owner: *const c_char,
    msg_id: *const c_char,
    msg: *const c_char,
    sev: CMPIErrorSeverity,
    pc: CMPIErrorProbableCause,
    code: CMPIrc,
    rc: *mut CMPIStatus,
) -> *mut CMPIError {
    new_obj!(mb, rc, {
        let s = |p: *const c_char| if p.is_null() { None } else { Some(CStr::from_ptr(p).to_owned()) };
        let d = ErrorData {
            owning_entity: s(owner),
            message_id: s(msg_id),
            message: s(msg),
            severity: sev,
            probable_cause: pc,
            cim_status_code: code,
            ..ErrorData::default()
        };
        Ok::<_, CMPIrc>(new_error_obj(d, true))
    })
}
unsafe extern "C" fn e_open_msg_file(
    mb: *const CMPIBroker,
    _file: *const c_char,
    handle: *mut CMPIMsgFileHandle,
) -> CMPIStatus {
    // No message catalogs: the handle is a marker that getMessage2 ignores.
    if state(mb).is_none() || handle.is_null() {
        return CMPIStatus::rc(CMPI_RC_ERR_INVALID_PARAMETER);
    }
    *handle = ptr::null_mut();
    CMPIStatus::ok()
}
unsafe extern "C" fn e_close_msg_file(mb: *const CMPIBroker, _handle: CMPIMsgFileHandle) -> CMPIStatus {
    if state(mb).is_none() {
        return CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE);
    }
    CMPIStatus::ok()
}

type GetMessageFixed =
    unsafe extern "C" fn(*const CMPIBroker, *const c_char, *const c_char, *mut CMPIStatus, CMPICount) -> *mut CMPIString;
type GetMessage2Fixed = unsafe extern "C" fn(
    *const CMPIBroker,
    *const c_char,
    CMPIMsgFileHandle,
    *const c_char,
    *mut CMPIStatus,
    CMPICount,
) -> *mut CMPIString;

pub(crate) static ENC_FT: CMPIBrokerEncFT = CMPIBrokerEncFT {
    ftVersion: CMPICurrentVersion,
    newInstance: Some(e_new_instance),
    newObjectPath: Some(e_new_object_path),
    newArgs: Some(e_new_args),
    newString: Some(e_new_string),
    newArray: Some(e_new_array),
    newDateTime: Some(e_new_datetime),
    newDateTimeFromBinary: Some(e_new_datetime_bin),
    newDateTimeFromChars: Some(e_new_datetime_chars),
    newSelectExp: Some(e_new_select_exp),
    classPathIsA: Some(e_class_path_is_a),
    toString: Some(e_to_string),
    isOfType: Some(e_is_of_type),
    getType: Some(e_get_type),
    // SAFETY: on the SysV x86_64 ABI a caller of a variadic function passes the fixed
    // arguments exactly as for a non-variadic one; the callee never reads the varargs.
    getMessage: unsafe { std::mem::transmute::<Option<GetMessageFixed>, CMPIGetMessageFn>(Some(e_get_message)) },
    logMessage: Some(e_log),
    trace: Some(e_trace),
    newCMPIError: Some(e_new_error),
    openMessageFile: Some(e_open_msg_file),
    closeMessageFile: Some(e_close_msg_file),
    // SAFETY: as for getMessage.
    getMessage2: unsafe { std::mem::transmute::<Option<GetMessage2Fixed>, CMPIGetMessage2Fn>(Some(e_get_message2)) },
};

// ---- CMPIBrokerMemFT ----------------------------------------------------------------------

extern "C" {
    fn malloc(size: usize) -> *mut c_void;
    fn calloc(n: usize, size: usize) -> *mut c_void;
    fn realloc(p: *mut c_void, size: usize) -> *mut c_void;
    fn free(p: *mut c_void);
}

unsafe fn free_raw(p: *mut u8) {
    // SAFETY (caller): `p` came from malloc/calloc/realloc and is freed once.
    free(p as *mut c_void)
}

unsafe extern "C" fn m_mark(mb: *const CMPIBroker, rc: *mut CMPIStatus) -> *mut CMPIGcStat {
    catch(ptr::null_mut(), || {
        if state(mb).is_none() {
            set_rc(rc, CMPI_RC_ERR_INVALID_HANDLE);
            return ptr::null_mut();
        }
        set_rc(rc, CMPI_RC_OK);
        // The token is the arena depth (never 0), disguised as a pointer.
        arena::push() as *mut CMPIGcStat
    })
}
unsafe extern "C" fn m_release(mb: *const CMPIBroker, gc: *const CMPIGcStat) -> CMPIStatus {
    let depth = gc as usize;
    // Only levels made by `mark` inside the current call or attached thread.
    if state(mb).is_none() || depth <= arena::floor() || depth >= arena::depth() {
        return CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE);
    }
    guard_status(|| {
        arena::pop_to(depth);
        CMPIStatus::ok()
    })
}
unsafe extern "C" fn m_malloc(mb: *const CMPIBroker, size: usize) -> *mut c_void {
    catch(ptr::null_mut(), || {
        if state(mb).is_none() {
            return ptr::null_mut();
        }
        let p = malloc(size.max(1));
        if !p.is_null() {
            arena::register(p as *mut u8, free_raw);
        }
        p
    })
}
unsafe extern "C" fn m_calloc(mb: *const CMPIBroker, n: usize, size: usize) -> *mut c_void {
    catch(ptr::null_mut(), || {
        if state(mb).is_none() {
            return ptr::null_mut();
        }
        let p = calloc(n.max(1), size.max(1));
        if !p.is_null() {
            arena::register(p as *mut u8, free_raw);
        }
        p
    })
}
unsafe extern "C" fn m_realloc(mb: *const CMPIBroker, old: *mut c_void, size: usize) -> *mut c_void {
    catch(ptr::null_mut(), || {
        if old.is_null() {
            return m_malloc(mb, size);
        }
        if state(mb).is_none() || !arena::unregister(old as *mut u8) {
            return ptr::null_mut();
        }
        let p = realloc(old, size.max(1));
        // On failure the old block is still valid and goes back to the arena.
        arena::register(if p.is_null() { old } else { p } as *mut u8, free_raw);
        p
    })
}
unsafe extern "C" fn m_strdup(mb: *const CMPIBroker, s: *const c_char) -> *mut c_char {
    catch(ptr::null_mut(), || {
        if s.is_null() {
            return ptr::null_mut();
        }
        let len = CStr::from_ptr(s).to_bytes_with_nul().len();
        let p = m_malloc(mb, len) as *mut c_char;
        if !p.is_null() {
            ptr::copy_nonoverlapping(s, p, len);
        }
        p
    })
}
unsafe extern "C" fn m_free(mb: *const CMPIBroker, p: *mut c_void) {
    catch((), || {
        if state(mb).is_some() && !p.is_null() && arena::unregister(p as *mut u8) {
            free(p);
        }
    })
}
unsafe extern "C" fn m_free_instance(_mb: *const CMPIBroker, p: *mut CMPIInstance) {
    catch((), || {
        InstObj::free_now(p, &INSTANCE_FT)
    })
}
unsafe extern "C" fn m_free_path(_mb: *const CMPIBroker, p: *mut CMPIObjectPath) {
    catch((), || {
        PathObj::free_now(p, &OBJECTPATH_FT)
    })
}
unsafe extern "C" fn m_free_args(_mb: *const CMPIBroker, p: *mut CMPIArgs) {
    catch((), || {
        ArgsObj::free_now(p, &ARGS_FT)
    })
}
unsafe extern "C" fn m_free_string(_mb: *const CMPIBroker, p: *mut CMPIString) {
    catch((), || {
        StringObj::free_now(p, &STRING_FT)
    })
}
unsafe extern "C" fn m_free_array(_mb: *const CMPIBroker, p: *mut CMPIArray) {
    catch((), || {
        ArrayObj::free_now(p, &ARRAY_FT)
    })
}
unsafe extern "C" fn m_free_datetime(_mb: *const CMPIBroker, p: *mut CMPIDateTime) {
    catch((), || {
        DateTimeObj::free_now(p, &DATETIME_FT)
    })
}
unsafe extern "C" fn m_free_select_exp(_mb: *const CMPIBroker, p: *mut CMPISelectExp) {
    catch((), || {
        SelectExpObj::free_now(p, &SELECTEXP_FT)
    })
}

pub(crate) static MEM_FT: CMPIBrokerMemFT = CMPIBrokerMemFT {
    ftVersion: CMPICurrentVersion,
    mark: Some(m_mark),
    release: Some(m_release),
    cmpiMalloc: Some(m_malloc),
    cmpiCalloc: Some(m_calloc),
    cmpiRealloc: Some(m_realloc),
    cmpiStrDup: Some(m_strdup),
    cmpiFree: Some(m_free),
    freeInstance: Some(m_free_instance),
    freeObjectPath: Some(m_free_path),
    freeArgs: Some(m_free_args),
    freeString: Some(m_free_string),
    freeArray: Some(m_free_array),
    freeDateTime: Some(m_free_datetime),
    freeSelectExp: Some(m_free_select_exp),
};
