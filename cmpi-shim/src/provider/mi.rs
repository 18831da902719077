//! The `extern "C"` MI functions behind the provider traits. Every one of them
//! catches panics (turning them into `CMPI_RC_ERR_FAILED` with the panic message),
//! checks the broker's pointers, and converts between CMPI objects and owned values.

use super::{Broker, Context, Provider};
use crate::abi::*;
use crate::conv;
use crate::ffi::panic_message;
use crate::value::*;
use std::ffi::CString;
use std::os::raw::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

/// A provider constructor, as listed by [`export_providers!`](crate::export_providers).
pub type Ctor = for<'a> fn(Broker, &Context<'a>) -> Result<Box<dyn Provider>, CmpiError>;

/// Everything behind one MI: the MI struct the broker holds, its function table,
/// and the provider object.
#[repr(C)]
struct Holder<MI, FT> {
    mi: MI,
    ft: FT,
    provider: Box<dyn Provider>,
    broker: Broker,
    _name: CString,
}

/// Status for an error, with its message as a broker string.
fn error_status(broker: Option<Broker>, e: &CmpiError) -> CMPIStatus {
    let msg = broker.and_then(|b| b.new_string(&e.message).ok()).unwrap_or(ptr::null_mut());
    CMPIStatus { rc: if e.rc == CMPI_RC_OK { CMPI_RC_ERR_FAILED } else { e.rc }, msg }
}

/// Runs an MI body: panics and errors become a failed status.
fn run(broker: Option<Broker>, f: impl FnOnce() -> Result<(), CmpiError>) -> CMPIStatus {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => CMPIStatus::ok(),
        Ok(Err(e)) => error_status(broker, &e),
        Err(p) => {
            let e = CmpiError::failed(panic_message(&*p));
            // Building the message must not unwind either.
            catch_unwind(AssertUnwindSafe(|| error_status(broker, &e))).unwrap_or(CMPIStatus::rc(CMPI_RC_ERR_FAILED))
        }
    }
}

/// The holder behind an MI pointer.
///
/// # Safety
/// `mi` is NULL or an MI created by this module with the same `MI`/`FT` types.
unsafe fn holder<'a, MI, FT>(mi: *mut MI) -> Result<&'a Holder<MI, FT>, CmpiError> {
    if mi.is_null() {
        return Err(CmpiError::new(CMPI_RC_ERR_INVALID_HANDLE, "NULL MI"));
    }
    // Every MI struct is `{hdl, ft}`; `hdl` points at the holder.
    let hdl = *(mi as *const *mut c_void);
    if hdl.is_null() || hdl != mi as *mut c_void {
        return Err(CmpiError::new(CMPI_RC_ERR_INVALID_HANDLE, "foreign MI"));
    }
    Ok(&*(hdl as *const Holder<MI, FT>))
}

fn broker_of<MI, FT>(mi: *mut MI) -> Option<Broker> {
    // SAFETY: as for `holder`.
    unsafe { holder::<MI, FT>(mi).ok().map(|h| h.broker) }
}

unsafe fn path_arg(op: *const CMPIObjectPath) -> Result<ObjectPath, CmpiError> {
    if op.is_null() {
        return Err(CmpiError::invalid_parameter("NULL object path"));
    }
    conv::read_object_path(op)
}

fn result_ft<'a>(rslt: *const CMPIResult) -> Result<&'a CMPIResultFT, CmpiError> {
    // SAFETY: checked non-null; a broker's result object carries its table.
    unsafe {
        if rslt.is_null() || (*rslt).ft.is_null() {
            return Err(CmpiError::new(CMPI_RC_ERR_INVALID_HANDLE, "NULL result"));
        }
        Ok(&*(*rslt).ft)
    }
}

fn st(s: CMPIStatus) -> Result<(), CmpiError> {
    if s.rc == CMPI_RC_OK {
        Ok(())
    } else {
        // SAFETY: a returned status carries NULL or a valid string.
        Err(CmpiError::new(s.rc, unsafe { conv::string_of(s.msg) }.unwrap_or_default()))
    }
}

fn return_instances(b: Broker, rslt: *const CMPIResult, v: &[Instance]) -> Result<(), CmpiError> {
    let ft = result_ft(rslt)?;
    let f = ft.returnInstance.ok_or_else(|| CmpiError::failed("returnInstance missing"))?;
    for i in v {
        let p = b.new_instance(i)?;
        // SAFETY: valid result and instance.
        st(unsafe { f(rslt, p) })?;
    }
    done(rslt)
}

fn return_paths(b: Broker, rslt: *const CMPIResult, v: &[ObjectPath]) -> Result<(), CmpiError> {
    let ft = result_ft(rslt)?;
    let f = ft.returnObjectPath.ok_or_else(|| CmpiError::failed("returnObjectPath missing"))?;
    for op in v {
        let p = b.new_object_path(op)?;
        // SAFETY: valid result and object path.
        st(unsafe { f(rslt, p) })?;
    }
    done(rslt)
}

fn done(rslt: *const CMPIResult) -> Result<(), CmpiError> {
    if let Some(f) = result_ft(rslt)?.returnDone {
        // SAFETY: valid result.
        st(unsafe { f(rslt) })?;
    }
    Ok(())
}

unsafe fn opt(p: *const c_char) -> Option<String> {
    conv::opt_cstr(p)
}

// ---- factories -------------------------------------------------------------------

/// Finds the constructor of the provider named `name` (for the generic entry points).
///
/// # Safety
/// `name` is NULL or a valid C string; `rc` is NULL or writable.
pub unsafe fn find_ctor(table: &'static [(&'static str, Ctor)], name: *const c_char, rc: *mut CMPIStatus) -> Option<(&'static str, Ctor)> {
    let found = catch_unwind(|| {
        let n = conv::opt_cstr(name)?;
        table.iter().find(|(k, _)| *k == n).map(|(k, c)| (*k, *c))
    })
    .ok()
    .flatten();
    if found.is_none() && !rc.is_null() {
        *rc = CMPIStatus::rc(CMPI_RC_ERR_NOT_FOUND);
    }
    found
}

/// Creates a holder if the provider offers the MI kind `offers` checks.
unsafe fn create<MI, FT>(
    mb: *const CMPIBroker,
    ctx: *const CMPIContext,
    name: &str,
    rc: *mut CMPIStatus,
    ctor: Ctor,
    offers: fn(&dyn Provider) -> bool,
    make: fn(*const c_char) -> (MI, FT),
) -> *mut MI {
    let set = |s: CMPIStatus| {
        if !rc.is_null() {
            // SAFETY: caller-provided writable status.
            unsafe { *rc = s };
        }
    };
    // Note: the broker version is not checked (SFCB reports 0).
    let Some(broker) = Broker::from_raw(mb) else {
        set(CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE));
        return ptr::null_mut();
    };
    let r = catch_unwind(AssertUnwindSafe(|| -> Result<*mut MI, CmpiError> {
        let c = Context::new(ctx, broker);
        let provider = ctor(broker, &c)?;
        if !offers(&*provider) {
            return Err(CmpiError::not_supported(format!("{name} offers no such MI")));
        }
        let cname = conv::c_string(name)?;
        let (mi, ft) = make(cname.as_ptr());
        let h = Box::into_raw(Box::new(Holder { mi, ft, provider, broker, _name: cname }));
        // SAFETY: `h` is freshly allocated; MI structs are `{hdl, ft}` (repr C), and
        // the holder starts with the MI so `hdl == &mi`.
        let mi_ptr = ptr::addr_of_mut!((*h).mi);
        let fields = mi_ptr as *mut [*mut c_void; 2];
        (*fields)[0] = h as *mut c_void;
        (*fields)[1] = ptr::addr_of_mut!((*h).ft) as *mut c_void;
        Ok(mi_ptr)
    }));
    match r {
        Ok(Ok(p)) => {
            set(CMPIStatus::ok());
            p
        }
        Ok(Err(e)) => {
            set(error_status(Some(broker), &e));
            ptr::null_mut()
        }
        Err(p) => {
            set(error_status(Some(broker), &CmpiError::failed(panic_message(&*p))));
            ptr::null_mut()
        }
    }
}

/// Frees a holder after a successful (or terminating) cleanup.
unsafe fn cleanup<MI, FT>(mi: *mut MI, ctx: *const CMPIContext, terminating: CMPIBoolean) -> CMPIStatus {
    let b = broker_of::<MI, FT>(mi);
    let s = run(b, || {
        let h = holder::<MI, FT>(mi)?;
        h.provider.cleanup(&Context::new(ctx, h.broker), terminating != 0)
    });
    let keep = matches!(s.rc, CMPI_RC_DO_NOT_UNLOAD | CMPI_RC_NEVER_UNLOAD) && terminating == 0;
    if !keep && b.is_some() {
        // SAFETY: the broker will not use the MI after cleanup; the holder was boxed by `create`.
        drop(Box::from_raw(mi as *mut Holder<MI, FT>));
    }
    s
}

// ---- Instance MI ---------------------------------------------------------------------

type InstHolder = Holder<CMPIInstanceMI, CMPIInstanceMIFT>;

fn with_inst(
    mi: *mut CMPIInstanceMI,
    ctx: *const CMPIContext,
    f: impl FnOnce(&dyn super::InstanceProvider, &Context, Broker) -> Result<(), CmpiError>,
) -> CMPIStatus {
    run(broker_of::<CMPIInstanceMI, CMPIInstanceMIFT>(mi), || {
        // SAFETY: the broker passes back the MI it got from `create_instance_mi`.
        let h: &InstHolder = unsafe { holder(mi)? };
        let p = h.provider.instance().ok_or_else(|| CmpiError::not_supported("no instance MI"))?;
        // SAFETY: the context is valid for this call.
        let c = unsafe { Context::new(ctx, h.broker) };
        f(p, &c, h.broker)
    })
}

unsafe extern "C" fn inst_cleanup(mi: *mut CMPIInstanceMI, ctx: *const CMPIContext, t: CMPIBoolean) -> CMPIStatus {
    cleanup::<CMPIInstanceMI, CMPIInstanceMIFT>(mi, ctx, t)
}
unsafe extern "C" fn inst_enum_names(
    mi: *mut CMPIInstanceMI,
    ctx: *const CMPIContext,
    rslt: *const CMPIResult,
    op: *const CMPIObjectPath,
) -> CMPIStatus {
    with_inst(mi, ctx, |p, c, b| return_paths(b, rslt, &p.enumerate_instance_names(c, &path_arg(op)?)?))
}
unsafe extern "C" fn inst_enum(
    mi: *mut CMPIInstanceMI,
    ctx: *const CMPIContext,
    rslt: *const CMPIResult,
    op: *const CMPIObjectPath,
    props: *mut *const c_char,
) -> CMPIStatus {
    with_inst(mi, ctx, |p, c, b| {
        let pl = conv::string_list(props);
        return_instances(b, rslt, &p.enumerate_instances(c, &path_arg(op)?, pl.as_deref())?)
    })
}
unsafe extern "C" fn inst_get(
    mi: *mut CMPIInstanceMI,
    ctx: *const CMPIContext,
    rslt: *const CMPIResult,
    op: *const CMPIObjectPath,
    props: *mut *const c_char,
) -> CMPIStatus {
    with_inst(mi, ctx, |p, c, b| {
        let pl = conv::string_list(props);
        let i = p.get_instance(c, &path_arg(op)?, pl.as_deref())?;
        return_instances(b, rslt, std::slice::from_ref(&i))
    })
}
unsafe extern "C" fn inst_create(
    mi: *mut CMPIInstanceMI,
    ctx: *const CMPIContext,
    rslt: *const CMPIResult,
    op: *const CMPIObjectPath,
    inst: *const CMPIInstance,
) -> CMPIStatus {
    with_inst(mi, ctx, |p, c, b| {
        if inst.is_null() {
            return Err(CmpiError::invalid_parameter("NULL instance"));
        }
        let i = conv::read_instance(inst)?;
        let path = p.create_instance(c, &path_arg(op)?, &i)?;
        return_paths(b, rslt, std::slice::from_ref(&path))
    })
}
unsafe extern "C" fn inst_modify(
    mi: *mut CMPIInstanceMI,
    ctx: *const CMPIContext,
    rslt: *const CMPIResult,
    op: *const CMPIObjectPath,
    inst: *const CMPIInstance,
    props: *mut *const c_char,
) -> CMPIStatus {
    with_inst(mi, ctx, |p, c, _b| {
        if inst.is_null() {
            return Err(CmpiError::invalid_parameter("NULL instance"));
        }
        let i = conv::read_instance(inst)?;
        let pl = conv::string_list(props);
        p.modify_instance(c, &path_arg(op)?, &i, pl.as_deref())?;
        done(rslt)
    })
}
unsafe extern "C" fn inst_delete(
    mi: *mut CMPIInstanceMI,
    ctx: *const CMPIContext,
    rslt: *const CMPIResult,
    op: *const CMPIObjectPath,
) -> CMPIStatus {
    with_inst(mi, ctx, |p, c, _b| {
        p.delete_instance(c, &path_arg(op)?)?;
        done(rslt)
    })
}
unsafe extern "C" fn inst_query(
    mi: *mut CMPIInstanceMI,
    ctx: *const CMPIContext,
    rslt: *const CMPIResult,
    op: *const CMPIObjectPath,
    query: *const c_char,
    lang: *const c_char,
) -> CMPIStatus {
    with_inst(mi, ctx, |p, c, b| {
        let v = p.exec_query(c, &path_arg(op)?, &conv::cstr(query), &conv::cstr(lang))?;
        return_instances(b, rslt, &v)
    })
}

/// Factory behind `<Name>_Create_InstanceMI` / `_Generic_Create_InstanceMI`.
///
/// # Safety
/// Arguments as passed by a CMPI broker.
pub unsafe fn create_instance_mi(
    mb: *const CMPIBroker,
    ctx: *const CMPIContext,
    name: &str,
    rc: *mut CMPIStatus,
    ctor: Ctor,
) -> *mut CMPIInstanceMI {
    create(mb, ctx, name, rc, ctor, |p| p.instance().is_some(), |n| {
        (
            CMPIInstanceMI { hdl: ptr::null_mut(), ft: ptr::null_mut() },
            CMPIInstanceMIFT {
                ftVersion: CMPICurrentVersion,
                miVersion: CMPICurrentVersion,
                miName: n,
                cleanup: Some(inst_cleanup),
                enumerateInstanceNames: Some(inst_enum_names),
                enumerateInstances: Some(inst_enum),
                getInstance: Some(inst_get),
                createInstance: Some(inst_create),
                modifyInstance: Some(inst_modify),
                deleteInstance: Some(inst_delete),
                execQuery: Some(inst_query),
            },
        )
    })
}

// ---- Association MI ----------------------------------------------------------------------

type AssocHolder = Holder<CMPIAssociationMI, CMPIAssociationMIFT>;

fn with_assoc(
    mi: *mut CMPIAssociationMI,
    ctx: *const CMPIContext,
    f: impl FnOnce(&dyn super::AssociationProvider, &Context, Broker) -> Result<(), CmpiError>,
) -> CMPIStatus {
    run(broker_of::<CMPIAssociationMI, CMPIAssociationMIFT>(mi), || {
        // SAFETY: the broker passes back the MI it got from `create_association_mi`.
        let h: &AssocHolder = unsafe { holder(mi)? };
        let p = h.provider.association().ok_or_else(|| CmpiError::not_supported("no association MI"))?;
        // SAFETY: the context is valid for this call.
        let c = unsafe { Context::new(ctx, h.broker) };
        f(p, &c, h.broker)
    })
}

unsafe extern "C" fn assoc_cleanup(mi: *mut CMPIAssociationMI, ctx: *const CMPIContext, t: CMPIBoolean) -> CMPIStatus {
    cleanup::<CMPIAssociationMI, CMPIAssociationMIFT>(mi, ctx, t)
}
#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn assoc_associators(
    mi: *mut CMPIAssociationMI,
    ctx: *const CMPIContext,
    rslt: *const CMPIResult,
    op: *const CMPIObjectPath,
    assoc_class: *const c_char,
    result_class: *const c_char,
    role: *const c_char,
    result_role: *const c_char,
    props: *mut *const c_char,
) -> CMPIStatus {
    with_assoc(mi, ctx, |p, c, b| {
        let (a, rc, r, rr) = (opt(assoc_class), opt(result_class), opt(role), opt(result_role));
        let pl = conv::string_list(props);
        let v = p.associators(c, &path_arg(op)?, a.as_deref(), rc.as_deref(), r.as_deref(), rr.as_deref(), pl.as_deref())?;
        return_instances(b, rslt, &v)
    })
}
#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn assoc_associator_names(
    mi: *mut CMPIAssociationMI,
    ctx: *const CMPIContext,
    rslt: *const CMPIResult,
    op: *const CMPIObjectPath,
    assoc_class: *const c_char,
    result_class: *const c_char,
    role: *const c_char,
    result_role: *const c_char,
) -> CMPIStatus {
    with_assoc(mi, ctx, |p, c, b| {
        let (a, rc, r, rr) = (opt(assoc_class), opt(result_class), opt(role), opt(result_role));
        let v = p.associator_names(c, &path_arg(op)?, a.as_deref(), rc.as_deref(), r.as_deref(), rr.as_deref())?;
        return_paths(b, rslt, &v)
    })
}
unsafe extern "C" fn assoc_references(
    mi: *mut CMPIAssociationMI,
    ctx: *const CMPIContext,
    rslt: *const CMPIResult,
    op: *const CMPIObjectPath,
    result_class: *const c_char,
    role: *const c_char,
    props: *mut *const c_char,
) -> CMPIStatus {
    with_assoc(mi, ctx, |p, c, b| {
        let (rc, r) = (opt(result_class), opt(role));
        let pl = conv::string_list(props);
        let v = p.references(c, &path_arg(op)?, rc.as_deref(), r.as_deref(), pl.as_deref())?;
        return_instances(b, rslt, &v)
    })
}
unsafe extern "C" fn assoc_reference_names(
    mi: *mut CMPIAssociationMI,
    ctx: *const CMPIContext,
    rslt: *const CMPIResult,
    op: *const CMPIObjectPath,
    result_class: *const c_char,
    role: *const c_char,
) -> CMPIStatus {
    with_assoc(mi, ctx, |p, c, b| {
        let (rc, r) = (opt(result_class), opt(role));
        let v = p.reference_names(c, &path_arg(op)?, rc.as_deref(), r.as_deref())?;
        return_paths(b, rslt, &v)
    })
}

/// Factory behind `<Name>_Create_AssociationMI` / `_Generic_Create_AssociationMI`.
///
/// # Safety
/// Arguments as passed by a CMPI broker.
pub unsafe fn create_association_mi(
    mb: *const CMPIBroker,
    ctx: *const CMPIContext,
    name: &str,
    rc: *mut CMPIStatus,
    ctor: Ctor,
) -> *mut CMPIAssociationMI {
    create(mb, ctx, name, rc, ctor, |p| p.association().is_some(), |n| {
        (
            CMPIAssociationMI { hdl: ptr::null_mut(), ft: ptr::null_mut() },
            CMPIAssociationMIFT {
                ftVersion: CMPICurrentVersion,
                miVersion: CMPICurrentVersion,
                miName: n,
                cleanup: Some(assoc_cleanup),
                associators: Some(assoc_associators),
                associatorNames: Some(assoc_associator_names),
                references: Some(assoc_references),
                referenceNames: Some(assoc_reference_names),
            },
        )
    })
}

// ---- Method MI ---------------------------------------------------------------------------

type MethodHolder = Holder<CMPIMethodMI, CMPIMethodMIFT>;

unsafe extern "C" fn method_cleanup(mi: *mut CMPIMethodMI, ctx: *const CMPIContext, t: CMPIBoolean) -> CMPIStatus {
    cleanup::<CMPIMethodMI, CMPIMethodMIFT>(mi, ctx, t)
}
unsafe extern "C" fn method_invoke(
    mi: *mut CMPIMethodMI,
    ctx: *const CMPIContext,
    rslt: *const CMPIResult,
    op: *const CMPIObjectPath,
    method: *const c_char,
    in_args: *const CMPIArgs,
    out_args: *mut CMPIArgs,
) -> CMPIStatus {
    run(broker_of::<CMPIMethodMI, CMPIMethodMIFT>(mi), || {
        let h: &MethodHolder = holder(mi)?;
        let p = h.provider.method().ok_or_else(|| CmpiError::not_supported("no method MI"))?;
        let c = Context::new(ctx, h.broker);
        if method.is_null() {
            return Err(CmpiError::invalid_parameter("NULL method name"));
        }
        let args = conv::read_args(in_args)?;
        let res = p.invoke_method(&c, &path_arg(op)?, &conv::cstr(method), &args)?;
        if !res.out_args.is_empty() {
            if out_args.is_null() {
                return Err(CmpiError::invalid_parameter("NULL out args"));
            }
            conv::fill_args(h.broker.as_ptr(), out_args, &res.out_args)?;
        }
        if let Some(v) = &res.return_value {
            let f = result_ft(rslt)?.returnData.ok_or_else(|| CmpiError::failed("returnData missing"))?;
            let b = conv::build_value(h.broker.as_ptr(), v)?;
            st(f(rslt, b.as_ptr(), b.ty))?;
        }
        done(rslt)
    })
}

/// Factory behind `<Name>_Create_MethodMI` / `_Generic_Create_MethodMI`.
///
/// # Safety
/// Arguments as passed by a CMPI broker.
pub unsafe fn create_method_mi(
    mb: *const CMPIBroker,
    ctx: *const CMPIContext,
    name: &str,
    rc: *mut CMPIStatus,
    ctor: Ctor,
) -> *mut CMPIMethodMI {
    create(mb, ctx, name, rc, ctor, |p| p.method().is_some(), |n| {
        (
            CMPIMethodMI { hdl: ptr::null_mut(), ft: ptr::null_mut() },
            CMPIMethodMIFT {
                ftVersion: CMPICurrentVersion,
                miVersion: CMPICurrentVersion,
                miName: n,
                cleanup: Some(method_cleanup),
                invokeMethod: Some(method_invoke),
            },
        )
    })
}

// ---- Indication MI ------------------------------------------------------------------------

type IndHolder = Holder<CMPIIndicationMI, CMPIIndicationMIFT>;

fn with_ind(
    mi: *mut CMPIIndicationMI,
    ctx: *const CMPIContext,
    f: impl FnOnce(&dyn super::IndicationProvider, &Context) -> Result<(), CmpiError>,
) -> CMPIStatus {
    run(broker_of::<CMPIIndicationMI, CMPIIndicationMIFT>(mi), || {
        // SAFETY: the broker passes back the MI it got from `create_indication_mi`.
        let h: &IndHolder = unsafe { holder(mi)? };
        let p = h.provider.indication().ok_or_else(|| CmpiError::not_supported("no indication MI"))?;
        // SAFETY: the context is valid for this call.
        let c = unsafe { Context::new(ctx, h.broker) };
        f(p, &c)
    })
}

unsafe fn filter_query(se: *const CMPISelectExp) -> Result<String, CmpiError> {
    if se.is_null() || (*se).ft.is_null() {
        return Err(CmpiError::invalid_parameter("NULL filter"));
    }
    let f = (*(*se).ft).getString.ok_or_else(|| CmpiError::failed("getString missing"))?;
    let mut s = CMPIStatus::ok();
    let q = f(se, &mut s);
    st(s)?;
    conv::string_of(q)
}

unsafe extern "C" fn ind_cleanup(mi: *mut CMPIIndicationMI, ctx: *const CMPIContext, t: CMPIBoolean) -> CMPIStatus {
    cleanup::<CMPIIndicationMI, CMPIIndicationMIFT>(mi, ctx, t)
}
unsafe extern "C" fn ind_authorize(
    mi: *mut CMPIIndicationMI,
    ctx: *const CMPIContext,
    se: *const CMPISelectExp,
    class_name: *const c_char,
    op: *const CMPIObjectPath,
    owner: *const c_char,
) -> CMPIStatus {
    with_ind(mi, ctx, |p, c| {
        p.authorize_filter(c, &filter_query(se)?, &conv::cstr(class_name), &path_arg(op)?, &conv::cstr(owner))
    })
}
unsafe extern "C" fn ind_must_poll(
    mi: *mut CMPIIndicationMI,
    ctx: *const CMPIContext,
    se: *const CMPISelectExp,
    class_name: *const c_char,
    op: *const CMPIObjectPath,
) -> CMPIStatus {
    with_ind(mi, ctx, |p, c| p.must_poll(c, &filter_query(se)?, &conv::cstr(class_name), &path_arg(op)?))
}
unsafe extern "C" fn ind_activate(
    mi: *mut CMPIIndicationMI,
    ctx: *const CMPIContext,
    se: *const CMPISelectExp,
    class_name: *const c_char,
    op: *const CMPIObjectPath,
    first: CMPIBoolean,
) -> CMPIStatus {
    with_ind(mi, ctx, |p, c| p.activate_filter(c, &filter_query(se)?, &conv::cstr(class_name), &path_arg(op)?, first != 0))
}
unsafe extern "C" fn ind_deactivate(
    mi: *mut CMPIIndicationMI,
    ctx: *const CMPIContext,
    se: *const CMPISelectExp,
    class_name: *const c_char,
    op: *const CMPIObjectPath,
    last: CMPIBoolean,
) -> CMPIStatus {
    with_ind(mi, ctx, |p, c| p.deactivate_filter(c, &filter_query(se)?, &conv::cstr(class_name), &path_arg(op)?, last != 0))
}
unsafe extern "C" fn ind_enable(mi: *mut CMPIIndicationMI, ctx: *const CMPIContext) -> CMPIStatus {
    with_ind(mi, ctx, |p, c| p.enable_indications(c))
}
unsafe extern "C" fn ind_disable(mi: *mut CMPIIndicationMI, ctx: *const CMPIContext) -> CMPIStatus {
    with_ind(mi, ctx, |p, c| p.disable_indications(c))
}

/// Factory behind `<Name>_Create_IndicationMI` / `_Generic_Create_IndicationMI`.
/// The table declares ftVersion 200: with a lower version SFCB uses the pre-1.0
/// calling convention for enable/disableIndications.
///
/// # Safety
/// Arguments as passed by a CMPI broker.
pub unsafe fn create_indication_mi(
    mb: *const CMPIBroker,
    ctx: *const CMPIContext,
    name: &str,
    rc: *mut CMPIStatus,
    ctor: Ctor,
) -> *mut CMPIIndicationMI {
    create(mb, ctx, name, rc, ctor, |p| p.indication().is_some(), |n| {
        (
            CMPIIndicationMI { hdl: ptr::null_mut(), ft: ptr::null_mut() },
            CMPIIndicationMIFT {
                ftVersion: CMPIVersion200,
                miVersion: CMPIVersion200,
                miName: n,
                cleanup: Some(ind_cleanup),
                authorizeFilter: Some(ind_authorize),
                mustPoll: Some(ind_must_poll),
                activateFilter: Some(ind_activate),
                deActivateFilter: Some(ind_deactivate),
                enableIndications: Some(ind_enable),
                disableIndications: Some(ind_disable),
            },
        )
    })
}

// ---- Property MI --------------------------------------------------------------------------

type PropHolder = Holder<CMPIPropertyMI, CMPIPropertyMIFT>;

fn with_prop(
    mi: *mut CMPIPropertyMI,
    ctx: *const CMPIContext,
    f: impl FnOnce(&dyn super::PropertyProvider, &Context, Broker) -> Result<(), CmpiError>,
) -> CMPIStatus {
    run(broker_of::<CMPIPropertyMI, CMPIPropertyMIFT>(mi), || {
        // SAFETY: the broker passes back the MI it got from `create_property_mi`.
        let h: &PropHolder = unsafe { holder(mi)? };
        let p = h.provider.property().ok_or_else(|| CmpiError::not_supported("no property MI"))?;
        // SAFETY: the context is valid for this call.
        let c = unsafe { Context::new(ctx, h.broker) };
        f(p, &c, h.broker)
    })
}

unsafe extern "C" fn prop_cleanup(mi: *mut CMPIPropertyMI, ctx: *const CMPIContext, t: CMPIBoolean) -> CMPIStatus {
    cleanup::<CMPIPropertyMI, CMPIPropertyMIFT>(mi, ctx, t)
}
unsafe extern "C" fn prop_set(
    mi: *mut CMPIPropertyMI,
    ctx: *const CMPIContext,
    rslt: *const CMPIResult,
    op: *const CMPIObjectPath,
    name: *const c_char,
    data: CMPIData,
) -> CMPIStatus {
    with_prop(mi, ctx, |p, c, _b| {
        let v = conv::read_data(&data)?;
        p.set_property(c, &path_arg(op)?, &conv::cstr(name), &v)?;
        done(rslt)
    })
}
unsafe extern "C" fn prop_set_origin(
    mi: *mut CMPIPropertyMI,
    ctx: *const CMPIContext,
    rslt: *const CMPIResult,
    op: *const CMPIObjectPath,
    name: *const c_char,
    data: CMPIData,
    _origin: *const c_char,
) -> CMPIStatus {
    prop_set(mi, ctx, rslt, op, name, data)
}
unsafe extern "C" fn prop_get(
    mi: *mut CMPIPropertyMI,
    ctx: *const CMPIContext,
    rslt: *const CMPIResult,
    op: *const CMPIObjectPath,
    name: *const c_char,
) -> CMPIStatus {
    with_prop(mi, ctx, |p, c, b| {
        let v = p.get_property(c, &path_arg(op)?, &conv::cstr(name))?;
        let f = result_ft(rslt)?.returnData.ok_or_else(|| CmpiError::failed("returnData missing"))?;
        let built = conv::build_value(b.as_ptr(), &v)?;
        st(f(rslt, built.as_ptr(), built.ty))?;
        done(rslt)
    })
}

/// Factory behind `<Name>_Create_PropertyMI` / `_Generic_Create_PropertyMI`.
///
/// # Safety
/// Arguments as passed by a CMPI broker.
pub unsafe fn create_property_mi(
    mb: *const CMPIBroker,
    ctx: *const CMPIContext,
    name: &str,
    rc: *mut CMPIStatus,
    ctor: Ctor,
) -> *mut CMPIPropertyMI {
    create(mb, ctx, name, rc, ctor, |p| p.property().is_some(), |n| {
        (
            CMPIPropertyMI { hdl: ptr::null_mut(), ft: ptr::null_mut() },
            CMPIPropertyMIFT {
                ftVersion: CMPICurrentVersion,
                miVersion: CMPICurrentVersion,
                miName: n,
                cleanup: Some(prop_cleanup),
                setProperty: Some(prop_set),
                getProperty: Some(prop_get),
                setPropertyWithOrigin: Some(prop_set_origin),
            },
        )
    })
}
