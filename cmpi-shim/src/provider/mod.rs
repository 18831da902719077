//! Provider side: safe traits for writing CMPI providers in Rust, the broker
//! up-calls they need, and [`export_providers!`](crate::export_providers) which
//! exports the C entry points a broker looks up.
//!
//! ```ignore
//! struct Hosts;
//! impl Provider for Hosts {
//!     fn instance(&self) -> Option<&dyn InstanceProvider> { Some(self) }
//! }
//! impl InstanceProvider for Hosts {
//!     fn enumerate_instances(&self, ctx: &Context, op: &ObjectPath, _p: Option<&[String]>)
//!         -> Result<Vec<Instance>, CmpiError> { Ok(vec![]) }
//! }
//! cmpi_shim::export_providers! { Xen_Host => |_broker, _ctx| Ok(Hosts) }
//! ```

mod mi;
#[cfg(test)]
mod tests;

pub use mi::{
    create_association_mi, create_indication_mi, create_instance_mi, create_method_mi, create_property_mi, find_ctor, Ctor,
};

use crate::abi::*;
use crate::conv;
use crate::value::*;
use std::ffi::CString;
use std::marker::PhantomData;
use std::ptr;

/// A provider: one object per MI the broker creates, offering some MI kinds.
pub trait Provider: Send + Sync + 'static {
    /// Called when the broker unloads (or may unload) an MI of this provider.
    fn cleanup(&self, ctx: &Context, terminating: bool) -> Result<(), CmpiError> {
        let _ = (ctx, terminating);
        Ok(())
    }
    fn instance(&self) -> Option<&dyn InstanceProvider> {
        None
    }
    fn association(&self) -> Option<&dyn AssociationProvider> {
        None
    }
    fn method(&self) -> Option<&dyn MethodProvider> {
        None
    }
    fn indication(&self) -> Option<&dyn IndicationProvider> {
        None
    }
    fn property(&self) -> Option<&dyn PropertyProvider> {
        None
    }
}

fn not_supported(what: &str) -> CmpiError {
    CmpiError::not_supported(format!("{what} is not supported by this provider"))
}

/// Instance MI. Only `enumerate_instances` is required.
#[allow(unused_variables)]
pub trait InstanceProvider: Send + Sync {
    fn enumerate_instances(&self, ctx: &Context, op: &ObjectPath, properties: Option<&[String]>) -> Result<Vec<Instance>, CmpiError>;

    /// Default: the paths of `enumerate_instances`.
    fn enumerate_instance_names(&self, ctx: &Context, op: &ObjectPath) -> Result<Vec<ObjectPath>, CmpiError> {
        Ok(self.enumerate_instances(ctx, op, None)?.into_iter().map(|i| i.path).collect())
    }
    /// Default: the enumerated instance whose keys equal the keys of `op`.
    fn get_instance(&self, ctx: &Context, op: &ObjectPath, properties: Option<&[String]>) -> Result<Instance, CmpiError> {
        let all = self.enumerate_instances(ctx, &ObjectPath::new(op.namespace.clone(), op.classname.clone()), properties)?;
        all.into_iter()
            .find(|i| op.keys.iter().all(|(k, v)| i.path.key(k) == Some(v)))
            .ok_or_else(|| CmpiError::not_found(format!("no instance {op}")))
    }
    fn create_instance(&self, ctx: &Context, op: &ObjectPath, inst: &Instance) -> Result<ObjectPath, CmpiError> {
        Err(not_supported("CreateInstance"))
    }
    fn modify_instance(
        &self,
        ctx: &Context,
        op: &ObjectPath,
        inst: &Instance,
        properties: Option<&[String]>,
    ) -> Result<(), CmpiError> {
        Err(not_supported("ModifyInstance"))
    }
    fn delete_instance(&self, ctx: &Context, op: &ObjectPath) -> Result<(), CmpiError> {
        Err(not_supported("DeleteInstance"))
    }
    fn exec_query(&self, ctx: &Context, op: &ObjectPath, query: &str, lang: &str) -> Result<Vec<Instance>, CmpiError> {
        Err(not_supported("ExecQuery"))
    }
}

/// Association MI. `None` filters mean "no filter".
#[allow(unused_variables)]
pub trait AssociationProvider: Send + Sync {
    #[allow(clippy::too_many_arguments)]
    fn associators(
        &self,
        ctx: &Context,
        op: &ObjectPath,
        assoc_class: Option<&str>,
        result_class: Option<&str>,
        role: Option<&str>,
        result_role: Option<&str>,
        properties: Option<&[String]>,
    ) -> Result<Vec<Instance>, CmpiError> {
        Err(not_supported("Associators"))
    }
    /// Default: the paths of `associators`.
    fn associator_names(
        &self,
        ctx: &Context,
        op: &ObjectPath,
        assoc_class: Option<&str>,
        result_class: Option<&str>,
        role: Option<&str>,
        result_role: Option<&str>,
    ) -> Result<Vec<ObjectPath>, CmpiError> {
        let v = self.associators(ctx, op, assoc_class, result_class, role, result_role, None)?;
        Ok(v.into_iter().map(|i| i.path).collect())
    }
    fn references(
        &self,
        ctx: &Context,
        op: &ObjectPath,
        result_class: Option<&str>,
        role: Option<&str>,
        properties: Option<&[String]>,
    ) -> Result<Vec<Instance>, CmpiError> {
        Err(not_supported("References"))
    }
    /// Default: the paths of `references`.
    fn reference_names(
        &self,
        ctx: &Context,
        op: &ObjectPath,
        result_class: Option<&str>,
        role: Option<&str>,
    ) -> Result<Vec<ObjectPath>, CmpiError> {
        Ok(self.references(ctx, op, result_class, role, None)?.into_iter().map(|i| i.path).collect())
    }
}

/// Method MI.
pub trait MethodProvider: Send + Sync {
    /// Invokes `method` on `op` with `in_args`; returns the return value and OUT parameters.
    fn invoke_method(&self, ctx: &Context, op: &ObjectPath, method: &str, in_args: &Args) -> Result<MethodResult, CmpiError>;
}

/// Property MI (single-property get/set; deprecated in CIM but part of CMPI).
#[allow(unused_variables)]
pub trait PropertyProvider: Send + Sync {
    fn get_property(&self, ctx: &Context, op: &ObjectPath, name: &str) -> Result<CimValue, CmpiError> {
        Err(not_supported("GetProperty"))
    }
    fn set_property(&self, ctx: &Context, op: &ObjectPath, name: &str, value: &CimValue) -> Result<(), CmpiError> {
        Err(not_supported("SetProperty"))
    }
}

/// Indication MI. `filter_query` is the subscription's filter query.
#[allow(unused_variables)]
pub trait IndicationProvider: Send + Sync {
    /// Ok = the subscription is authorized.
    fn authorize_filter(&self, ctx: &Context, filter_query: &str, class_name: &str, op: &ObjectPath, owner: &str) -> Result<(), CmpiError> {
        Ok(())
    }
    /// Ok = the broker must poll this provider for the filter.
    fn must_poll(&self, ctx: &Context, filter_query: &str, class_name: &str, op: &ObjectPath) -> Result<(), CmpiError> {
        Err(not_supported("MustPoll"))
    }
    fn activate_filter(
        &self,
        ctx: &Context,
        filter_query: &str,
        class_name: &str,
        op: &ObjectPath,
        first_activation: bool,
    ) -> Result<(), CmpiError> {
        Ok(())
    }
    fn deactivate_filter(
        &self,
        ctx: &Context,
        filter_query: &str,
        class_name: &str,
        op: &ObjectPath,
        last_activation: bool,
    ) -> Result<(), CmpiError> {
        Ok(())
    }
    fn enable_indications(&self, ctx: &Context) -> Result<(), CmpiError> {
        Ok(())
    }
    fn disable_indications(&self, ctx: &Context) -> Result<(), CmpiError> {
        Ok(())
    }
}

/// The broker handle a provider was created with; wraps the up-calls.
///
/// Objects it creates (the `new_*` functions) belong to the current call (or the
/// attached thread) and are freed by the broker when that ends.
#[derive(Clone, Copy, Debug)]
pub struct Broker {
    mb: *const CMPIBroker,
}

// SAFETY: a CMPI broker handle is valid for the provider's lifetime and its services
// may be called from any thread (threads other than the broker's attach first).
unsafe impl Send for Broker {}
// SAFETY: as above.
unsafe impl Sync for Broker {}

fn ft<'a, T>(p: *mut T, what: &str) -> Result<&'a T, CmpiError> {
    if p.is_null() {
        return Err(CmpiError::new(CMPI_RC_ERR_INVALID_HANDLE, format!("broker has no {what}")));
    }
    // SAFETY: non-null function tables handed out by the broker stay valid while it is loaded.
    Ok(unsafe { &*p })
}

fn check(st: CMPIStatus) -> Result<(), CmpiError> {
    if st.rc == CMPI_RC_OK {
        Ok(())
    } else {
        // SAFETY: a returned status message is NULL or a valid CMPIString.
        let msg = unsafe { conv::string_of(st.msg) }.unwrap_or_default();
        Err(CmpiError::new(st.rc, msg))
    }
}

impl Broker {
    /// Wraps a raw broker handle.
    ///
    /// # Safety
    /// `mb` is a valid CMPIBroker for as long as the `Broker` is used.
    pub unsafe fn from_raw(mb: *const CMPIBroker) -> Option<Broker> {
        if mb.is_null() || (*mb).bft.is_null() || (*mb).eft.is_null() {
            None
        } else {
            Some(Broker { mb })
        }
    }

    pub fn as_ptr(&self) -> *const CMPIBroker {
        self.mb
    }

    fn bft(&self) -> Result<&CMPIBrokerFT, CmpiError> {
        // SAFETY: `mb` is valid (constructor contract).
        ft(unsafe { (*self.mb).bft }, "broker function table")
    }

    /// `brokerVersion` as reported (SFCB reports 0, so do not rely on it).
    pub fn version(&self) -> u32 {
        self.bft().map(|f| f.brokerVersion).unwrap_or(0)
    }
    pub fn capabilities(&self) -> u32 {
        self.bft().map(|f| f.brokerCapabilities).unwrap_or(0)
    }
    pub fn name(&self) -> String {
        // SAFETY: `brokerName` is NULL or a C string owned by the broker.
        self.bft().map(|f| unsafe { conv::cstr(f.brokerName) }).unwrap_or_default()
    }

    /// A CMPIString made by the broker.
    pub fn new_string(&self, s: &str) -> Result<*mut CMPIString, CmpiError> {
        // SAFETY: `mb` is valid.
        unsafe { conv::new_string(self.mb, s) }
    }
    /// A CMPIObjectPath made by the broker from `op`.
    pub fn new_object_path(&self, op: &ObjectPath) -> Result<*mut CMPIObjectPath, CmpiError> {
        // SAFETY: `mb` is valid.
        unsafe { conv::build_object_path(self.mb, op) }
    }
    /// A CMPIInstance made by the broker from `inst`.
    pub fn new_instance(&self, inst: &Instance) -> Result<*mut CMPIInstance, CmpiError> {
        // SAFETY: `mb` is valid.
        unsafe { conv::build_instance(self.mb, inst) }
    }
    /// A CMPIArray of `ty` made by the broker.
    pub fn new_array(&self, ty: CimType, items: &[CimValue]) -> Result<*mut CMPIArray, CmpiError> {
        // SAFETY: `mb` is valid.
        unsafe { conv::build_array(self.mb, ty, items) }
    }
    /// A CMPIArgs made by the broker.
    pub fn new_args(&self, args: &[(String, CimValue)]) -> Result<*mut CMPIArgs, CmpiError> {
        // SAFETY: `mb` is valid.
        unsafe { conv::build_args(self.mb, args) }
    }
    /// A CMPIDateTime made by the broker.
    pub fn new_datetime(&self, d: &CimDateTime) -> Result<*mut CMPIDateTime, CmpiError> {
        // SAFETY: `mb` is valid.
        unsafe { conv::new_datetime(self.mb, d) }
    }
    /// The broker's current time (`newDateTime`), read back as an owned value.
    pub fn now(&self) -> Result<CimDateTime, CmpiError> {
        // SAFETY: `mb` is valid.
        let eft = ft(unsafe { (*self.mb).eft }, "factory table")?;
        let f = eft.newDateTime.ok_or_else(|| not_supported("newDateTime"))?;
        let mut st = CMPIStatus::ok();
        // SAFETY: valid broker; the result is read before the call ends.
        let d = unsafe { f(self.mb, &mut st) };
        check(st)?;
        // SAFETY: `d` is NULL or a valid CMPIDateTime.
        unsafe { conv::read_datetime(d) }
    }

    /// Delivers `indication` to the subscribers of `namespace`.
    pub fn deliver_indication(&self, ctx: &Context, namespace: &str, indication: &Instance) -> Result<(), CmpiError> {
        let f = self.bft()?.deliverIndication.ok_or_else(|| not_supported("deliverIndication"))?;
        let ns = conv::c_string(namespace)?;
        let i = self.new_instance(indication)?;
        // SAFETY: valid broker, context and instance.
        check(unsafe { f(self.mb, ctx.raw, ns.as_ptr(), i) })
    }

    /// Prepares a context for another thread (`prepareAttachThread`); the new thread
    /// calls [`ThreadContext::attach`].
    pub fn prepare_attach_thread(&self, ctx: &Context) -> Result<ThreadContext, CmpiError> {
        let f = self.bft()?.prepareAttachThread.ok_or_else(|| not_supported("prepareAttachThread"))?;
        // SAFETY: valid broker and context.
        let c = unsafe { f(self.mb, ctx.raw) };
        if c.is_null() {
            return Err(CmpiError::failed("prepareAttachThread returned NULL"));
        }
        Ok(ThreadContext { broker: *self, ctx: c })
    }

    /// Enumerates instance names through the broker (`enumerateInstanceNames` up-call).
    pub fn enumerate_instance_names(&self, ctx: &Context, op: &ObjectPath) -> Result<Vec<ObjectPath>, CmpiError> {
        let f = self.bft()?.enumerateInstanceNames.ok_or_else(|| not_supported("enumerateInstanceNames"))?;
        let p = self.new_object_path(op)?;
        let mut st = CMPIStatus::ok();
        // SAFETY: valid broker, context and path.
        let e = unsafe { f(self.mb, ctx.raw, p, &mut st) };
        check(st)?;
        // SAFETY: `e` is NULL or a valid enumeration.
        let items = unsafe { read_enumeration(e)? };
        items
            .into_iter()
            .map(|v| match v {
                CimValue::Reference(p) => Ok(p),
                other => Err(CmpiError::failed(format!("expected a reference, got {other:?}"))),
            })
            .collect()
    }

    /// Enumerates instances through the broker (`enumerateInstances` up-call).
    pub fn enumerate_instances(&self, ctx: &Context, op: &ObjectPath) -> Result<Vec<Instance>, CmpiError> {
        let f = self.bft()?.enumerateInstances.ok_or_else(|| not_supported("enumerateInstances"))?;
        let p = self.new_object_path(op)?;
        let mut st = CMPIStatus::ok();
        // SAFETY: valid broker, context and path.
        let e = unsafe { f(self.mb, ctx.raw, p, ptr::null_mut(), &mut st) };
        check(st)?;
        // SAFETY: `e` is NULL or a valid enumeration.
        let items = unsafe { read_enumeration(e)? };
        items
            .into_iter()
            .map(|v| match v {
                CimValue::Instance(i) => Ok(*i),
                other => Err(CmpiError::failed(format!("expected an instance, got {other:?}"))),
            })
            .collect()
    }
}

/// Reads every remaining element of an enumeration.
///
/// # Safety
/// `e` is NULL or a valid CMPIEnumeration.
pub unsafe fn read_enumeration(e: *const CMPIEnumeration) -> Result<Vec<CimValue>, CmpiError> {
    if e.is_null() || (*e).ft.is_null() {
        return Ok(Vec::new());
    }
    let ft = &*(*e).ft;
    let (Some(has_next), Some(next)) = (ft.hasNext, ft.getNext) else { return Err(not_supported("enumeration")) };
    let mut out = Vec::new();
    let mut st = CMPIStatus::ok();
    while has_next(e, &mut st) != 0 {
        let d = next(e, &mut st);
        check(st)?;
        out.push(conv::read_data(&d)?);
    }
    Ok(out)
}

/// A context prepared for another thread; `Send` so it can be moved there.
pub struct ThreadContext {
    broker: Broker,
    ctx: *mut CMPIContext,
}

// SAFETY: prepareAttachThread's context is meant to be handed to another thread.
unsafe impl Send for ThreadContext {}

impl ThreadContext {
    /// Attaches the current thread (`attachThread`); detaches when the guard drops.
    pub fn attach(self) -> Result<AttachedThread, CmpiError> {
        let f = self.broker.bft()?.attachThread.ok_or_else(|| not_supported("attachThread"))?;
        // SAFETY: valid broker and prepared context.
        check(unsafe { f(self.broker.mb, self.ctx) })?;
        Ok(AttachedThread { broker: self.broker, ctx: self.ctx })
    }
}

/// A thread attached to the broker; detaches (`detachThread`) on drop.
pub struct AttachedThread {
    broker: Broker,
    ctx: *mut CMPIContext,
}

impl AttachedThread {
    /// The context to use for up-calls from this thread.
    pub fn context(&self) -> Context<'_> {
        Context { raw: self.ctx, broker: self.broker, _p: PhantomData }
    }
    pub fn broker(&self) -> Broker {
        self.broker
    }
}

impl Drop for AttachedThread {
    fn drop(&mut self) {
        if let Ok(ft) = self.broker.bft() {
            if let Some(f) = ft.detachThread {
                // SAFETY: valid broker; the context was attached by this thread.
                let _ = unsafe { f(self.broker.mb, self.ctx) };
            }
        }
    }
}

/// The invocation context of one MI call (valid for that call only).
pub struct Context<'a> {
    raw: *const CMPIContext,
    broker: Broker,
    _p: PhantomData<&'a CMPIContext>,
}

impl<'a> Context<'a> {
    /// # Safety
    /// `raw` is NULL or a valid CMPIContext for `'a`.
    pub(crate) unsafe fn new(raw: *const CMPIContext, broker: Broker) -> Context<'a> {
        Context { raw, broker, _p: PhantomData }
    }

    pub fn broker(&self) -> Broker {
        self.broker
    }

    pub fn as_ptr(&self) -> *const CMPIContext {
        self.raw
    }

    /// The entry named `name`, if present.
    pub fn get(&self, name: &str) -> Option<CimValue> {
        if self.raw.is_null() {
            return None;
        }
        let name = CString::new(name).ok()?;
        // SAFETY: `raw` is a valid context for this call.
        unsafe {
            let f = (*(*self.raw).ft).getEntry?;
            let mut st = CMPIStatus::ok();
            let d = f(self.raw, name.as_ptr(), &mut st);
            if st.rc != CMPI_RC_OK || d.state & (CMPI_notFound | CMPI_nullValue) != 0 {
                return None;
            }
            conv::read_data(&d).ok()
        }
    }

    fn get_string(&self, name: &str) -> Option<String> {
        match self.get(name)? {
            CimValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// `CMPIInitNameSpace`.
    pub fn namespace(&self) -> Option<String> {
        self.get_string("CMPIInitNameSpace")
    }
    /// `CMPIPrincipal`.
    pub fn principal(&self) -> Option<String> {
        self.get_string("CMPIPrincipal")
    }
    /// `CMPIRole`.
    pub fn role(&self) -> Option<String> {
        self.get_string("CMPIRole")
    }
    /// `CMPIInvocationFlags` (0 when absent).
    pub fn invocation_flags(&self) -> u32 {
        match self.get("CMPIInvocationFlags") {
            Some(CimValue::Uint32(f)) => f,
            Some(CimValue::Sint32(f)) => f as u32,
            _ => 0,
        }
    }
    /// Every entry, as an owned [`CallContext`].
    pub fn to_call_context(&self) -> Result<CallContext, CmpiError> {
        // SAFETY: `raw` is NULL or valid for this call.
        unsafe { conv::read_context(self.raw) }
    }
    /// Adds an entry (`addEntry`).
    pub fn add_entry(&self, name: &str, value: &CimValue) -> Result<(), CmpiError> {
        if self.raw.is_null() {
            return Err(CmpiError::new(CMPI_RC_ERR_INVALID_HANDLE, "no context"));
        }
        let n = conv::c_string(name)?;
        // SAFETY: valid broker and context.
        unsafe {
            let b = conv::build_value(self.broker.mb, value)?;
            let f = (*(*self.raw).ft).addEntry.ok_or_else(|| not_supported("addEntry"))?;
            check(f(self.raw, n.as_ptr(), b.as_ptr(), b.ty))
        }
    }
}

/// Exports the C entry points of one or more providers from a `cdylib`.
///
/// For every `Name => constructor` it exports `Name_Create_InstanceMI`,
/// `Name_Create_AssociationMI`, `Name_Create_MethodMI`, `Name_Create_PropertyMI`
/// and `Name_Create_IndicationMI`; once per library it exports the generic forms
/// `_Generic_Create_<Type>MI(broker, ctx, providerName, rc)` that dispatch on the
/// provider name. The constructor is `Fn(Broker, &Context) -> Result<P, CmpiError>`
/// (a closure without captures or a function) with `P: Provider`; it is called once
/// per MI the broker creates. Use this macro once per library.
#[macro_export]
macro_rules! export_providers {
    ($($name:ident => $ctor:expr),+ $(,)?) => {
        const _: () = {
            use $crate::abi::*;
            use $crate::provider::{Ctor, Provider};
            use ::std::os::raw::c_char;

            const CTORS: &[(&str, Ctor)] = &[$(
                (stringify!($name), |b, c| {
                    let f = $ctor;
                    f(b, c).map(|p| ::std::boxed::Box::new(p) as ::std::boxed::Box<dyn Provider>)
                }),
            )+];

            $crate::__export_generic!(CTORS, _Generic_Create_InstanceMI, CMPIInstanceMI, create_instance_mi);
            $crate::__export_generic!(CTORS, _Generic_Create_AssociationMI, CMPIAssociationMI, create_association_mi);
            $crate::__export_generic!(CTORS, _Generic_Create_MethodMI, CMPIMethodMI, create_method_mi);
            $crate::__export_generic!(CTORS, _Generic_Create_IndicationMI, CMPIIndicationMI, create_indication_mi);
            $crate::__export_generic!(CTORS, _Generic_Create_PropertyMI, CMPIPropertyMI, create_property_mi);
            $(
                $crate::__export_named!(CTORS, $name, "_Create_InstanceMI", CMPIInstanceMI, create_instance_mi);
                $crate::__export_named!(CTORS, $name, "_Create_AssociationMI", CMPIAssociationMI, create_association_mi);
                $crate::__export_named!(CTORS, $name, "_Create_MethodMI", CMPIMethodMI, create_method_mi);
                $crate::__export_named!(CTORS, $name, "_Create_IndicationMI", CMPIIndicationMI, create_indication_mi);
                $crate::__export_named!(CTORS, $name, "_Create_PropertyMI", CMPIPropertyMI, create_property_mi);
            )+
            let _ = CTORS;
        };
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_generic {
    ($ctors:ident, $sym:ident, $mi:ty, $create:ident) => {
        #[no_mangle]
        pub unsafe extern "C" fn $sym(
            mb: *const CMPIBroker,
            ctx: *const CMPIContext,
            name: *const c_char,
            rc: *mut CMPIStatus,
        ) -> *mut $mi {
            match $crate::provider::find_ctor($ctors, name, rc) {
                Some((n, ctor)) => $crate::provider::$create(mb, ctx, n, rc, ctor),
                None => ::std::ptr::null_mut(),
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_named {
    ($ctors:ident, $name:ident, $suffix:literal, $mi:ty, $create:ident) => {
        const _: () = {
            #[export_name = concat!(stringify!($name), $suffix)]
            pub unsafe extern "C" fn create(mb: *const CMPIBroker, ctx: *const CMPIContext, rc: *mut CMPIStatus) -> *mut $mi {
                let n = stringify!($name);
                match $ctors.iter().find(|(k, _)| *k == n) {
                    Some((_, ctor)) => $crate::provider::$create(mb, ctx, n, rc, *ctor),
                    None => ::std::ptr::null_mut(),
                }
            }
        };
    };
}
