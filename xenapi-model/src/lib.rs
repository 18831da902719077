//! The bottom layer of the XenAPI stack: the one declarative data model (`model`), the typed
//! values of its fields and parameters (`value`), the API error (`error`) and xapi's datetime form
//! (`time_fmt`).
//!
//! Layers above it, each its own crate so that a lower one cannot reach up: `xenapi-wire` (the
//! XML-RPC and JSON-RPC codecs), `xenapi-client` (a XenAPI client), `xenapi-core` (the server:
//! store, dispatch, API, backends). The CIM providers, loaded into foreign CIM brokers, link only
//! the model and the client.

pub mod error;
pub mod generated;
pub mod model;
pub mod rbac;
pub mod time_fmt;
pub mod typed;
pub mod value;

pub use error::ApiError;
pub use value::Value;
