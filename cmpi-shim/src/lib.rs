//! The CMPI 2.0 C ABI in Rust: the raw ABI, a safe provider API, and a broker-side
//! runtime that hosts provider libraries (Rust or C) through the same ABI.
//!
//! # Modules
//!
//! * [`abi`] — `#[repr(C)]` definitions of every CMPI 2.0 type, constant, broker
//!   function table and MI table (names as in the standard). `include/cmpi.h` is
//!   generated from it by cbindgen for C providers.
//! * [`value`] (re-exported at the root) — owned values both sides speak:
//!   [`CimValue`], [`CimType`], [`CimDateTime`], [`ObjectPath`], [`Instance`],
//!   [`Args`], [`MethodResult`], [`CallContext`], [`CmpiError`].
//! * [`provider`] — traits ([`provider::Provider`], [`provider::InstanceProvider`],
//!   [`provider::AssociationProvider`], [`provider::MethodProvider`],
//!   [`provider::IndicationProvider`], [`provider::PropertyProvider`]), the
//!   [`provider::Broker`] up-call handle (new instance/object path/array/string/args/
//!   datetime, deliver indication, attach/detach thread, CIMOM up-calls), the
//!   per-call [`provider::Context`], and [`export_providers!`] which exports
//!   `<Name>_Create_<Type>MI` and `_Generic_Create_<Type>MI` from a `cdylib`.
//! * [`broker`] — the host side, for the embedded broker.
//!
//! # Broker-side API (for the embedded broker)
//!
//! ```no_run
//! use cmpi_shim::broker::{IndicationFilter, ProviderLibrary, Upcalls};
//! use cmpi_shim::{CallContext, CimValue, CmpiError, Instance, ObjectPath};
//! use std::sync::Arc;
//!
//! struct Host; // routes up-calls; every method has a default
//! impl Upcalls for Host {
//!     fn deliver_indication(&self, _ctx: &CallContext, ns: &str, ind: Instance) -> Result<(), CmpiError> {
//!         println!("indication in {ns}: {}", ind.classname());
//!         Ok(())
//!     }
//! }
//!
//! # fn main() -> Result<(), CmpiError> {
//! // Resolves _Generic_Create_<Type>MI (tried first, as SFCB does) or
//! // Xen_ComputerSystem_Create_<Type>MI for the five MI types.
//! let lib = ProviderLibrary::load_with("/usr/lib/libxen-cim.so", "Xen_ComputerSystem", Arc::new(Host))?;
//! let ctx = CallContext { namespace: Some("root/cimv2".into()), principal: Some("root".into()), ..Default::default() };
//! let cls = ObjectPath::new("root/cimv2", "Xen_ComputerSystem");
//! let names: Vec<ObjectPath> = lib.enumerate_instance_names(&ctx, &cls)?;
//! let all: Vec<Instance> = lib.enumerate_instances(&ctx, &cls, None)?;      // None = all properties
//! let one: Instance = lib.get_instance(&ctx, &names[0], Some(&["Name"]))?;
//! let out = lib.invoke_method(&ctx, &names[0], "RequestStateChange",
//!                             &[("RequestedState".into(), CimValue::Uint16(2))])?;
//! println!("{:?} {:?}", out.return_value, out.out_args);
//! let filter = IndicationFilter { query: "SELECT * FROM Xen_ComputerSystemModified".into(), language: "WQL".into() };
//! lib.activate_filter(&ctx, &filter, "Xen_ComputerSystemModified", &cls, true)?;
//! lib.enable_indications(&ctx)?;
//! # let _ = (all, one); Ok(()) }
//! ```
//!
//! `ProviderLibrary` methods: `enumerate_instance_names`, `enumerate_instances`,
//! `get_instance`, `create_instance`, `modify_instance`, `delete_instance`,
//! `exec_query`, `associators`, `associator_names`, `references`,
//! `reference_names`, `invoke_method`, `get_property`, `set_property`,
//! `authorize_filter`, `must_poll`, `activate_filter`, `deactivate_filter`,
//! `enable_indications`, `disable_indications`, plus `mi_types()`. Every one returns
//! `Result<_, CmpiError>`; a provider's error (or panic) arrives as its CMPI rc and
//! message. `ProviderLibrary` is `Send + Sync`; dropping it calls every MI's
//! `cleanup(terminating)` and unloads the library.
//!
//! Memory follows CMPI: objects created during a call (arguments, results, factory
//! objects requested by the provider) are freed when the call returns; objects a
//! provider clones live until it releases them.
#![allow(non_upper_case_globals)]

pub mod abi;
pub mod broker;
pub mod conv;
mod ffi;
pub mod provider;
pub mod value;

pub use value::*;
