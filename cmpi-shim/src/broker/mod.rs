//! Broker side: a Rust implementation of the CMPI broker services and encapsulated
//! types, and a provider loader ([`ProviderLibrary`]) that drives every MI function.
//!
//! Independent of HTTP and XML: the embedding broker converts its protocol to the
//! owned values of [`crate::value`] and calls [`ProviderLibrary`] methods.
//!
//! Memory rule (as in CMPI): objects the broker creates during a provider call
//! (arguments, results, factory objects the provider asks for) live until that call
//! returns; objects a provider clones live until it releases them.

pub(crate) mod arena;
pub(crate) mod error;
mod ext;
mod library;
pub(crate) mod objects;
pub(crate) mod services;

pub use library::{IndicationFilter, MiTypes, ProviderLibrary};
pub use objects::{live_objects, ResultItem};

#[cfg(test)]
mod tests;

use crate::value::*;

/// Services a provider may ask of the broker (the `CMPIBrokerFT` up-calls).
///
/// The embedding broker implements this to route up-calls to its repository and
/// other providers; every method has a default (not supported / drop / equality),
/// so `NoUpcalls` serves tests and simple hosts.
#[allow(unused_variables)]
pub trait Upcalls: Send + Sync + 'static {
    /// `deliverIndication`: the provider raised `indication` in `namespace`.
    fn deliver_indication(&self, ctx: &CallContext, namespace: &str, indication: Instance) -> Result<(), CmpiError> {
        Ok(())
    }
    /// `classPathIsA`: whether `class` (in `namespace`) is `parent` or a subclass of it.
    /// The default compares names only (the shim has no class repository).
    fn class_is_a(&self, namespace: &str, class: &str, parent: &str) -> bool {
        class.eq_ignore_ascii_case(parent)
    }
    /// `logMessage` and `trace` (severity or level, component id, text).
    fn log(&self, level: i32, component: &str, text: &str) {}
    fn enumerate_instance_names(&self, ctx: &CallContext, op: &ObjectPath) -> Result<Vec<ObjectPath>, CmpiError> {
        Err(unsupported("enumerateInstanceNames"))
    }
    fn enumerate_instances(
        &self,
        ctx: &CallContext,
        op: &ObjectPath,
        properties: Option<&[String]>,
    ) -> Result<Vec<Instance>, CmpiError> {
        Err(unsupported("enumerateInstances"))
    }
    fn get_instance(&self, ctx: &CallContext, op: &ObjectPath, properties: Option<&[String]>) -> Result<Instance, CmpiError> {
        Err(unsupported("getInstance"))
    }
    fn create_instance(&self, ctx: &CallContext, op: &ObjectPath, inst: &Instance) -> Result<ObjectPath, CmpiError> {
        Err(unsupported("createInstance"))
    }
    fn modify_instance(
        &self,
        ctx: &CallContext,
        op: &ObjectPath,
        inst: &Instance,
        properties: Option<&[String]>,
    ) -> Result<(), CmpiError> {
        Err(unsupported("modifyInstance"))
    }
    fn delete_instance(&self, ctx: &CallContext, op: &ObjectPath) -> Result<(), CmpiError> {
        Err(unsupported("deleteInstance"))
    }
    fn exec_query(&self, ctx: &CallContext, op: &ObjectPath, query: &str, lang: &str) -> Result<Vec<Instance>, CmpiError> {
        Err(unsupported("execQuery"))
    }
    #[allow(clippy::too_many_arguments)]
    fn associators(
        &self,
        ctx: &CallContext,
        op: &ObjectPath,
        assoc_class: Option<&str>,
        result_class: Option<&str>,
        role: Option<&str>,
        result_role: Option<&str>,
        properties: Option<&[String]>,
    ) -> Result<Vec<Instance>, CmpiError> {
        Err(unsupported("associators"))
    }
    fn associator_names(
        &self,
        ctx: &CallContext,
        op: &ObjectPath,
        assoc_class: Option<&str>,
        result_class: Option<&str>,
        role: Option<&str>,
        result_role: Option<&str>,
    ) -> Result<Vec<ObjectPath>, CmpiError> {
        Err(unsupported("associatorNames"))
    }
    fn references(
        &self,
        ctx: &CallContext,
        op: &ObjectPath,
        result_class: Option<&str>,
        role: Option<&str>,
        properties: Option<&[String]>,
    ) -> Result<Vec<Instance>, CmpiError> {
        Err(unsupported("references"))
    }
    fn reference_names(
        &self,
        ctx: &CallContext,
        op: &ObjectPath,
        result_class: Option<&str>,
        role: Option<&str>,
    ) -> Result<Vec<ObjectPath>, CmpiError> {
        Err(unsupported("referenceNames"))
    }
    fn invoke_method(&self, ctx: &CallContext, op: &ObjectPath, method: &str, in_args: &Args) -> Result<MethodResult, CmpiError> {
        Err(unsupported("invokeMethod"))
    }
}

fn unsupported(what: &str) -> CmpiError {
    CmpiError::not_supported(format!("broker up-call {what} is not supported by this host"))
}

/// Up-calls that do nothing: indications are dropped, CIMOM services are not supported.
pub struct NoUpcalls;
impl Upcalls for NoUpcalls {}
