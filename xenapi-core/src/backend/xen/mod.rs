//! The real Xen backend: libxl (Xen's toolstack library) through bindgen bindings.
//!
//! - [`ffi`]: the raw ABI, generated in build.rs and allow-listed to what is used;
//! - [`config`]: owned `libxl_domain_config` values and libxl's JSON of them;
//! - [`translate`]: a VM ([`DomainSpec`](crate::backend::DomainSpec)) into a `libxl_domain_config`;
//! - [`logger`]: libxl's log routed to `tracing`;
//! - [`ctx`]: a libxl context and the domain operations run through it;
//! - [`host`]: the [`Backend`](crate::backend::Backend) on a Xen dom0, with its event thread.

pub mod config;
pub mod ctx;
pub mod ffi;
pub mod host;
pub mod logger;
pub mod translate;

pub use host::{check_dom0, Xen};
