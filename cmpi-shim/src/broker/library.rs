//! Loading a provider library and driving its MI functions.

use super::arena;
use super::objects::{new_args_obj, new_result_obj, new_select_exp_obj, ResultData, ResultItem, ResultObj, RESULT_FT};
use super::services::{make_context, BrokerState};
use super::{NoUpcalls, Upcalls};
use crate::abi::*;
use crate::conv::{self, c_string};
use crate::value::*;
use std::ffi::CString;
use std::os::raw::c_char;
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::Arc;

/// Which MI types a loaded provider offers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MiTypes {
    pub instance: bool,
    pub association: bool,
    pub method: bool,
    pub property: bool,
    pub indication: bool,
}

/// An indication filter as handed to `authorizeFilter`/`activateFilter`.
#[derive(Clone, Debug, PartialEq)]
pub struct IndicationFilter {
    /// The filter query, e.g. `SELECT * FROM Xen_ComputerSystemModified`.
    pub query: String,
    /// The query language, e.g. `WQL` or `DMTF:CQL`.
    pub language: String,
}

/// A provider shared library, loaded and initialized for one provider name.
///
/// Loading resolves `_Generic_Create_<Type>MI` (tried first, as SFCB does) or
/// `<ProviderName>_Create_<Type>MI` for each of the five MI types, and keeps the MIs
/// the library returns. Dropping it calls every MI's `cleanup(terminating = true)` and
/// unloads the library. Methods can be called from several threads at once (CMPI
/// requires providers to be thread-safe).
pub struct ProviderLibrary {
    name: String,
    path: PathBuf,
    state: Box<BrokerState>,
    instance: *mut CMPIInstanceMI,
    association: *mut CMPIAssociationMI,
    method: *mut CMPIMethodMI,
    property: *mut CMPIPropertyMI,
    indication: *mut CMPIIndicationMI,
    // Declared last: unloaded after the MIs are cleaned up.
    _lib: libloading::Library,
}

// SAFETY: the MI pointers are only used through the provider's function tables, which
// CMPI requires to be callable from any thread; per-call objects are thread-local.
unsafe impl Send for ProviderLibrary {}
// SAFETY: as above; no method mutates `self`.
unsafe impl Sync for ProviderLibrary {}

fn err(rc: CMPIrc, msg: impl Into<String>) -> CmpiError {
    CmpiError::new(rc, msg)
}

/// Resolves and calls the factory of one MI type; NULL when the library has none.
unsafe fn create_mi<MI>(
    lib: &libloading::Library,
    kind: &str,
    name: &CString,
    mb: *const CMPIBroker,
    ctx: *const CMPIContext,
    first_error: &mut Option<CmpiError>,
) -> *mut MI {
    let mut st = CMPIStatus::ok();
    let generic = format!("_Generic_Create_{kind}MI");
    let mut mi: *mut MI = ptr::null_mut();
    // SAFETY: the symbol, when present, has the CMPI generic factory signature.
    if let Ok(f) = lib.get::<CMPIGenericCreateMIFn<MI>>(generic.as_bytes()) {
        mi = f(mb, ctx, name.as_ptr(), &mut st);
    }
    if mi.is_null() {
        let specific = format!("{}_Create_{kind}MI", name.to_string_lossy());
        // SAFETY: the symbol, when present, has the CMPI factory signature.
        if let Ok(f) = lib.get::<CMPICreateMIFn<MI>>(specific.as_bytes()) {
            st = CMPIStatus::ok();
            mi = f(mb, ctx, &mut st);
        }
    }
    if mi.is_null() && st.rc != CMPI_RC_OK && first_error.is_none() {
        let msg = conv::string_of(st.msg).unwrap_or_default();
        *first_error = Some(err(st.rc, format!("{kind} MI factory failed: {msg}")));
    }
    // Every MI struct is `{hdl, ft}`; an MI without a table is unusable.
    if !mi.is_null() && (*(mi as *const CMPIInstanceMI)).ft.is_null() {
        return ptr::null_mut();
    }
    mi
}

macro_rules! mi_call {
    ($self:ident, $field:ident, $kind:literal, $func:ident, |$f:ident, $mi:ident| $call:expr) => {{
        if $self.$field.is_null() {
            return Err(err(CMPI_RC_ERR_NOT_SUPPORTED, concat!("provider has no ", $kind, " MI")));
        }
        let $mi = $self.$field;
        // SAFETY: `mi` and its table came from the provider's factory and stay valid until drop.
        let ft = unsafe { &*(*$mi).ft };
        let Some($f) = ft.$func else {
            return Err(err(CMPI_RC_ERR_NOT_SUPPORTED, concat!(stringify!($func), " missing in MI table")));
        };
        $call
    }};
}

fn opt_c(s: Option<&str>) -> Result<Option<CString>, CmpiError> {
    s.map(c_string).transpose()
}

fn c_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |c| c.as_ptr())
}

/// A NULL-terminated property list (kept alive by the returned vectors).
fn prop_list(p: Option<&[&str]>) -> Result<(Vec<CString>, Vec<*const c_char>), CmpiError> {
    let Some(p) = p else { return Ok((Vec::new(), Vec::new())) };
    let owned: Vec<CString> = p.iter().map(|s| c_string(s)).collect::<Result<_, _>>()?;
    let mut ptrs: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(ptr::null());
    Ok((owned, ptrs))
}

/// The property list argument: NULL for "all properties". CMPI declares it
/// `const char **`; providers only read it.
fn list_ptr(given: bool, ptrs: &[*const c_char]) -> *mut *const c_char {
    if given {
        ptrs.as_ptr() as *mut *const c_char
    } else {
        ptr::null_mut()
    }
}

fn instances(items: Vec<ResultItem>) -> Result<Vec<Instance>, CmpiError> {
    items
        .into_iter()
        .map(|i| match i {
            ResultItem::Instance(i) => Ok(i),
            other => Err(err(CMPI_RC_ERR_FAILED, format!("provider returned {other:?} where an instance was expected"))),
        })
        .collect()
}

fn object_paths(items: Vec<ResultItem>) -> Result<Vec<ObjectPath>, CmpiError> {
    items
        .into_iter()
        .map(|i| match i {
            ResultItem::ObjectPath(p) => Ok(p),
            other => Err(err(CMPI_RC_ERR_FAILED, format!("provider returned {other:?} where an object path was expected"))),
        })
        .collect()
}

impl ProviderLibrary {
    /// Loads `path` and creates the MIs of `provider_name`, with no up-call support
    /// (indications delivered by the provider are dropped).
    pub fn load(path: impl AsRef<Path>, provider_name: &str) -> Result<ProviderLibrary, CmpiError> {
        Self::load_with(path, provider_name, Arc::new(NoUpcalls))
    }

    /// Loads `path` and creates the MIs of `provider_name`; the provider's up-calls
    /// (deliverIndication, CIMOM services, logging) go to `upcalls`.
    pub fn load_with(
        path: impl AsRef<Path>,
        provider_name: &str,
        upcalls: Arc<dyn Upcalls>,
    ) -> Result<ProviderLibrary, CmpiError> {
        let path = path.as_ref().to_path_buf();
        // SAFETY: loading a provider runs its initializers; that is the point of a provider host.
        let lib = unsafe { libloading::Library::new(&path) }
            .map_err(|e| err(CMPI_RC_ERR_NOT_FOUND, format!("cannot load {}: {e}", path.display())))?;
        let state = BrokerState::new(upcalls);
        let name = c_string(provider_name)?;
        let mb = state.mb();
        let mut first_error = None;
        let created = arena::scope(|| -> Result<_, CmpiError> {
            let ctx = make_context(mb, &CallContext::default())?;
            // SAFETY: `lib` stays loaded while the MIs are used; `mb` and `ctx` are valid.
            unsafe {
                Ok((
                    create_mi::<CMPIInstanceMI>(&lib, "Instance", &name, mb, ctx, &mut first_error),
                    create_mi::<CMPIAssociationMI>(&lib, "Association", &name, mb, ctx, &mut first_error),
                    create_mi::<CMPIMethodMI>(&lib, "Method", &name, mb, ctx, &mut first_error),
                    create_mi::<CMPIPropertyMI>(&lib, "Property", &name, mb, ctx, &mut first_error),
                    create_mi::<CMPIIndicationMI>(&lib, "Indication", &name, mb, ctx, &mut first_error),
                ))
            }
        })?;
        let (instance, association, method, property, indication) = created;
        let me = ProviderLibrary {
            name: provider_name.to_string(),
            path,
            state,
            instance,
            association,
            method,
            property,
            indication,
            _lib: lib,
        };
        if me.mi_types() == MiTypes::default() {
            return Err(first_error.unwrap_or_else(|| {
                err(CMPI_RC_ERR_NOT_FOUND, format!("{} exports no MI for provider {provider_name}", me.path.display()))
            }));
        }
        Ok(me)
    }

    /// The provider name this library was loaded for.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The path the library was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Which MI types the provider offers.
    pub fn mi_types(&self) -> MiTypes {
        MiTypes {
            instance: !self.instance.is_null(),
            association: !self.association.is_null(),
            method: !self.method.is_null(),
            property: !self.property.is_null(),
            indication: !self.indication.is_null(),
        }
    }

    fn mb(&self) -> *const CMPIBroker {
        self.state.mb()
    }

    /// Runs one MI call in a fresh arena with a context and a result object.
    fn call(
        &self,
        ctx: &CallContext,
        f: impl FnOnce(*const CMPIContext, *const CMPIResult) -> Result<CMPIStatus, CmpiError>,
    ) -> Result<Vec<ResultItem>, CmpiError> {
        arena::scope(|| {
            let c = make_context(self.mb(), ctx)?;
            let r = new_result_obj();
            let st = f(c, r)?;
            // SAFETY: `r` is our result object, alive until the arena ends.
            let data: &mut ResultData = unsafe { ResultObj::data(r, &RESULT_FT) }.expect("result object");
            if st.rc != CMPI_RC_OK {
                // SAFETY: a status message is NULL or a valid CMPIString.
                let mut msg = unsafe { conv::string_of(st.msg) }.unwrap_or_default();
                if msg.is_empty() {
                    if let Some(e) = data.errors.first() {
                        msg = e.message.clone();
                    }
                }
                return Err(CmpiError::new(st.rc, msg));
            }
            if let Some(e) = data.conversion_error.take() {
                return Err(e);
            }
            Ok(std::mem::take(&mut data.items))
        })
    }

    /// Builds the CMPI object path of `op` in the current arena.
    fn op(&self, op: &ObjectPath) -> Result<*mut CMPIObjectPath, CmpiError> {
        // SAFETY: our own broker handle.
        unsafe { conv::build_object_path(self.mb(), op) }
    }

    // ---- Instance MI ----

    pub fn enumerate_instance_names(&self, ctx: &CallContext, op: &ObjectPath) -> Result<Vec<ObjectPath>, CmpiError> {
        mi_call!(self, instance, "Instance", enumerateInstanceNames, |f, mi| {
            // SAFETY: an MI call (see `mi_call!`): the MI, context, result and arguments are valid for the call.
            object_paths(self.call(ctx, |c, r| Ok(unsafe { f(mi, c, r, self.op(op)?) }))?)
        })
    }

    /// `properties`: `None` for all properties.
    pub fn enumerate_instances(
        &self,
        ctx: &CallContext,
        op: &ObjectPath,
        properties: Option<&[&str]>,
    ) -> Result<Vec<Instance>, CmpiError> {
        let (_keep, pl) = prop_list(properties)?;
        mi_call!(self, instance, "Instance", enumerateInstances, |f, mi| {
            // SAFETY: an MI call (see `mi_call!`): the MI, context, result and arguments are valid for the call.
            instances(self.call(ctx, |c, r| Ok(unsafe { f(mi, c, r, self.op(op)?, list_ptr(properties.is_some(), &pl)) }))?)
        })
    }

    /// The instance named by `op`; `CIM_ERR_NOT_FOUND` if the provider returned none.
    pub fn get_instance(&self, ctx: &CallContext, op: &ObjectPath, properties: Option<&[&str]>) -> Result<Instance, CmpiError> {
        let (_keep, pl) = prop_list(properties)?;
        mi_call!(self, instance, "Instance", getInstance, |f, mi| {
            // SAFETY: an MI call (see `mi_call!`): the MI, context, result and arguments are valid for the call.
            let items = self.call(ctx, |c, r| Ok(unsafe { f(mi, c, r, self.op(op)?, list_ptr(properties.is_some(), &pl)) }))?;
            instances(items)?
                .into_iter()
                .next()
                .ok_or_else(|| err(CMPI_RC_ERR_NOT_FOUND, format!("provider returned no instance for {op}")))
        })
    }

    /// Creates `inst`; returns the path the provider returned (or `inst.path` if it returned none).
    pub fn create_instance(&self, ctx: &CallContext, op: &ObjectPath, inst: &Instance) -> Result<ObjectPath, CmpiError> {
        mi_call!(self, instance, "Instance", createInstance, |f, mi| {
            let items = self.call(ctx, |c, r| {
                // SAFETY: our own broker handle.
                let i = unsafe { conv::build_instance(self.mb(), inst)? };
                // SAFETY: an MI call (see `mi_call!`): the MI, context, result and arguments are valid for the call.
                Ok(unsafe { f(mi, c, r, self.op(op)?, i) })
            })?;
            Ok(object_paths(items)?.into_iter().next().unwrap_or_else(|| inst.path.clone()))
        })
    }

    pub fn modify_instance(
        &self,
        ctx: &CallContext,
        op: &ObjectPath,
        inst: &Instance,
        properties: Option<&[&str]>,
    ) -> Result<(), CmpiError> {
        let (_keep, pl) = prop_list(properties)?;
        mi_call!(self, instance, "Instance", modifyInstance, |f, mi| {
            self.call(ctx, |c, r| {
                // SAFETY: our own broker handle.
                let i = unsafe { conv::build_instance(self.mb(), inst)? };
                // SAFETY: an MI call (see `mi_call!`): the MI, context, result and arguments are valid for the call.
                Ok(unsafe { f(mi, c, r, self.op(op)?, i, list_ptr(properties.is_some(), &pl)) })
            })
            .map(|_| ())
        })
    }

    pub fn delete_instance(&self, ctx: &CallContext, op: &ObjectPath) -> Result<(), CmpiError> {
        mi_call!(self, instance, "Instance", deleteInstance, |f, mi| {
            // SAFETY: an MI call (see `mi_call!`): the MI, context, result and arguments are valid for the call.
            self.call(ctx, |c, r| Ok(unsafe { f(mi, c, r, self.op(op)?) })).map(|_| ())
        })
    }

    pub fn exec_query(&self, ctx: &CallContext, op: &ObjectPath, query: &str, lang: &str) -> Result<Vec<Instance>, CmpiError> {
        let (q, l) = (c_string(query)?, c_string(lang)?);
        mi_call!(self, instance, "Instance", execQuery, |f, mi| {
            // SAFETY: an MI call (see `mi_call!`): the MI, context, result and arguments are valid for the call.
            instances(self.call(ctx, |c, r| Ok(unsafe { f(mi, c, r, self.op(op)?, q.as_ptr(), l.as_ptr()) }))?)
        })
    }

    // ---- Association MI ----

    #[allow(clippy::too_many_arguments)]
    pub fn associators(
        &self,
        ctx: &CallContext,
        op: &ObjectPath,
        assoc_class: Option<&str>,
        result_class: Option<&str>,
        role: Option<&str>,
        result_role: Option<&str>,
        properties: Option<&[&str]>,
    ) -> Result<Vec<Instance>, CmpiError> {
        let (a, rc, r, rr) = (opt_c(assoc_class)?, opt_c(result_class)?, opt_c(role)?, opt_c(result_role)?);
        let (_keep, pl) = prop_list(properties)?;
        mi_call!(self, association, "Association", associators, |f, mi| {
            instances(self.call(ctx, |c, res| {
                // SAFETY: an MI call (see `mi_call!`): the MI, context, result and arguments are valid for the call.
                Ok(unsafe {
                    f(mi, c, res, self.op(op)?, c_ptr(&a), c_ptr(&rc), c_ptr(&r), c_ptr(&rr), list_ptr(properties.is_some(), &pl))
                })
            })?)
        })
    }

    pub fn associator_names(
        &self,
        ctx: &CallContext,
        op: &ObjectPath,
        assoc_class: Option<&str>,
        result_class: Option<&str>,
        role: Option<&str>,
        result_role: Option<&str>,
    ) -> Result<Vec<ObjectPath>, CmpiError> {
        let (a, rc, r, rr) = (opt_c(assoc_class)?, opt_c(result_class)?, opt_c(role)?, opt_c(result_role)?);
        mi_call!(self, association, "Association", associatorNames, |f, mi| {
            object_paths(self.call(ctx, |c, res| {
                // SAFETY: an MI call (see `mi_call!`): the MI, context, result and arguments are valid for the call.
                Ok(unsafe { f(mi, c, res, self.op(op)?, c_ptr(&a), c_ptr(&rc), c_ptr(&r), c_ptr(&rr)) })
            })?)
        })
    }

    pub fn references(
        &self,
        ctx: &CallContext,
        op: &ObjectPath,
        result_class: Option<&str>,
        role: Option<&str>,
        properties: Option<&[&str]>,
    ) -> Result<Vec<Instance>, CmpiError> {
        let (rc, r) = (opt_c(result_class)?, opt_c(role)?);
        let (_keep, pl) = prop_list(properties)?;
        mi_call!(self, association, "Association", references, |f, mi| {
            instances(self.call(ctx, |c, res| {
                // SAFETY: an MI call (see `mi_call!`): the MI, context, result and arguments are valid for the call.
                Ok(unsafe { f(mi, c, res, self.op(op)?, c_ptr(&rc), c_ptr(&r), list_ptr(properties.is_some(), &pl)) })
            })?)
        })
    }

    pub fn reference_names(
        &self,
        ctx: &CallContext,
        op: &ObjectPath,
        result_class: Option<&str>,
        role: Option<&str>,
    ) -> Result<Vec<ObjectPath>, CmpiError> {
        let (rc, r) = (opt_c(result_class)?, opt_c(role)?);
        mi_call!(self, association, "Association", referenceNames, |f, mi| {
            // SAFETY: an MI call (see `mi_call!`): the MI, context, result and arguments are valid for the call.
            object_paths(self.call(ctx, |c, res| Ok(unsafe { f(mi, c, res, self.op(op)?, c_ptr(&rc), c_ptr(&r)) }))?)
        })
    }

    // ---- Method MI ----

    /// Invokes `method` on `op` (an instance path, or a class path for static methods).
    pub fn invoke_method(
        &self,
        ctx: &CallContext,
        op: &ObjectPath,
        method: &str,
        in_args: &[(String, CimValue)],
    ) -> Result<MethodResult, CmpiError> {
        let m = c_string(method)?;
        mi_call!(self, method, "Method", invokeMethod, |f, mi| {
            let mut out_args = Vec::new();
            let items = self.call(ctx, |c, r| {
                // SAFETY: our own broker handle; the args live in the call's arena.
                let (i, o) = unsafe { (conv::build_args(self.mb(), in_args)?, new_args_obj(true)) };
                // SAFETY: an MI call (see `mi_call!`): the MI, context, result and arguments are valid for the call.
                let st = unsafe { f(mi, c, r, self.op(op)?, m.as_ptr(), i, o) };
                if st.rc == CMPI_RC_OK {
                    // SAFETY: `o` is our args object, still alive in the arena.
                    out_args = unsafe { conv::read_args(o)? };
                }
                Ok(st)
            })?;
            let return_value = items.into_iter().find_map(|i| match i {
                ResultItem::Data(v) => Some(v),
                _ => None,
            });
            Ok(MethodResult { return_value, out_args })
        })
    }

    // ---- Property MI ----

    pub fn get_property(&self, ctx: &CallContext, op: &ObjectPath, name: &str) -> Result<CimValue, CmpiError> {
        let n = c_string(name)?;
        mi_call!(self, property, "Property", getProperty, |f, mi| {
            // SAFETY: an MI call (see `mi_call!`): the MI, context, result and arguments are valid for the call.
            let items = self.call(ctx, |c, r| Ok(unsafe { f(mi, c, r, self.op(op)?, n.as_ptr()) }))?;
            items
                .into_iter()
                .find_map(|i| match i {
                    ResultItem::Data(v) => Some(v),
                    _ => None,
                })
                .ok_or_else(|| err(CMPI_RC_ERR_NOT_FOUND, format!("provider returned no value for {name}")))
        })
    }

    pub fn set_property(&self, ctx: &CallContext, op: &ObjectPath, name: &str, value: &CimValue) -> Result<(), CmpiError> {
        let n = c_string(name)?;
        mi_call!(self, property, "Property", setProperty, |f, mi| {
            self.call(ctx, |c, r| {
                // SAFETY: our own broker handle.
                let b = unsafe { conv::build_value(self.mb(), value)? };
                let data = CMPIData { r#type: b.ty, state: if b.null { CMPI_nullValue } else { CMPI_goodValue }, value: b.value };
                // SAFETY: an MI call (see `mi_call!`): the MI, context, result and arguments are valid for the call.
                Ok(unsafe { f(mi, c, r, self.op(op)?, n.as_ptr(), data) })
            })
            .map(|_| ())
        })
    }

    // ---- Indication MI ----

    fn filter_call(
        &self,
        ctx: &CallContext,
        filter: &IndicationFilter,
        f: impl FnOnce(*const CMPIContext, *const CMPISelectExp) -> Result<CMPIStatus, CmpiError>,
    ) -> Result<(), CmpiError> {
        let (q, l) = (c_string(&filter.query)?, c_string(&filter.language)?);
        self.call(ctx, |c, _r| f(c, new_select_exp_obj(q, l, true))).map(|_| ())
    }

    /// Asks whether a subscription by `owner` to `filter` is allowed (Ok = authorized).
    pub fn authorize_filter(
        &self,
        ctx: &CallContext,
        filter: &IndicationFilter,
        class_name: &str,
        op: &ObjectPath,
        owner: &str,
    ) -> Result<(), CmpiError> {
        let (cn, ow) = (c_string(class_name)?, c_string(owner)?);
        mi_call!(self, indication, "Indication", authorizeFilter, |f, mi| {
            // SAFETY: an MI call (see `mi_call!`): the MI, context, result and arguments are valid for the call.
            self.filter_call(ctx, filter, |c, se| Ok(unsafe { f(mi, c, se, cn.as_ptr(), self.op(op)?, ow.as_ptr()) }))
        })
    }

    /// Ok when the provider asks to be polled for `filter`.
    pub fn must_poll(&self, ctx: &CallContext, filter: &IndicationFilter, class_name: &str, op: &ObjectPath) -> Result<(), CmpiError> {
        let cn = c_string(class_name)?;
        mi_call!(self, indication, "Indication", mustPoll, |f, mi| {
            // SAFETY: an MI call (see `mi_call!`): the MI, context, result and arguments are valid for the call.
            self.filter_call(ctx, filter, |c, se| Ok(unsafe { f(mi, c, se, cn.as_ptr(), self.op(op)?) }))
        })
    }

    pub fn activate_filter(
        &self,
        ctx: &CallContext,
        filter: &IndicationFilter,
        class_name: &str,
        op: &ObjectPath,
        first_activation: bool,
    ) -> Result<(), CmpiError> {
        let cn = c_string(class_name)?;
        mi_call!(self, indication, "Indication", activateFilter, |f, mi| {
            // SAFETY: an MI call (see `mi_call!`): the MI, context, result and arguments are valid for the call.
            self.filter_call(ctx, filter, |c, se| Ok(unsafe { f(mi, c, se, cn.as_ptr(), self.op(op)?, first_activation as u8) }))
        })
    }

    pub fn deactivate_filter(
        &self,
        ctx: &CallContext,
        filter: &IndicationFilter,
        class_name: &str,
        op: &ObjectPath,
        last_activation: bool,
    ) -> Result<(), CmpiError> {
        let cn = c_string(class_name)?;
        mi_call!(self, indication, "Indication", deActivateFilter, |f, mi| {
            // SAFETY: an MI call (see `mi_call!`): the MI, context, result and arguments are valid for the call.
            self.filter_call(ctx, filter, |c, se| Ok(unsafe { f(mi, c, se, cn.as_ptr(), self.op(op)?, last_activation as u8) }))
        })
    }

    /// Indication MIs with a function-table version below 100 use the pre-1.0
    /// convention in which enable/disable return nothing.
    fn enable_disable(&self, ctx: &CallContext, enable: bool) -> Result<(), CmpiError> {
        if self.indication.is_null() {
            return Err(err(CMPI_RC_ERR_NOT_SUPPORTED, "provider has no Indication MI"));
        }
        let mi = self.indication;
        // SAFETY: the table came from the provider's factory.
        let ft = unsafe { &*(*mi).ft };
        let f = if enable { ft.enableIndications } else { ft.disableIndications };
        let Some(f) = f else { return Err(err(CMPI_RC_ERR_NOT_SUPPORTED, "enable/disableIndications missing")) };
        let legacy = ft.ftVersion < CMPIVersion100;
        self.call(ctx, |c, _r| {
            if legacy {
                type VoidFn = unsafe extern "C" fn(*mut CMPIIndicationMI, *const CMPIContext);
                // SAFETY: pre-1.0 indication MIs declare these functions as returning void;
                // calling through the matching signature is what such a provider expects.
                // SAFETY: pre-1.0 indication MIs declare enable/disable as returning void.
                let g: VoidFn = unsafe { std::mem::transmute::<_, VoidFn>(f) };
                // SAFETY: calling the provider function with the signature it was written with.
                unsafe { g(mi, c) };
                Ok(CMPIStatus::ok())
            } else {
                // SAFETY: an MI call (see `mi_call!`): the MI, context, result and arguments are valid for the call.
                Ok(unsafe { f(mi, c) })
            }
        })
        .map(|_| ())
    }

    pub fn enable_indications(&self, ctx: &CallContext) -> Result<(), CmpiError> {
        self.enable_disable(ctx, true)
    }

    pub fn disable_indications(&self, ctx: &CallContext) -> Result<(), CmpiError> {
        self.enable_disable(ctx, false)
    }
}

impl Drop for ProviderLibrary {
    fn drop(&mut self) {
        let mb = self.mb();
        arena::scope(|| {
            let Ok(ctx) = make_context(mb, &CallContext::default()) else { return };
            macro_rules! cleanup {
                ($field:ident) => {
                    let mi = self.$field;
                    if !mi.is_null() {
                        // SAFETY: MI and table from the provider's factory, not yet cleaned up.
                        if let Some(f) = unsafe { (*(*mi).ft).cleanup } {
                            // SAFETY: an MI call (see `mi_call!`): the MI, context, result and arguments are valid for the call.
                            let _ = unsafe { f(mi, ctx, 1) };
                        }
                    }
                };
            }
            cleanup!(instance);
            cleanup!(association);
            cleanup!(method);
            cleanup!(property);
            cleanup!(indication);
        });
    }
}
