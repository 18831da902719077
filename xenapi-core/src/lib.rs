//! The Xen Management API (XenAPI) server: a dispatch table derived from the data model, the
//! API's handlers, a durable store, the backends and the HTTP listeners.
//!
//! It sits on two lower crates: `xenapi-model` (the model, values, errors, roles; re-exported
//! here as `model`, `value`, `error`, `time_fmt`) and `xenapi-wire` (the XML-RPC and JSON-RPC
//! codecs, re-exported as `rpc`). The client is a crate of its own (`xenapi-client`), not used
//! by the server.
//!
//! Request path: `server` (HTTP on TCP, TLS and a Unix socket) → `rpc` (decode the body into a
//! method name and untyped wire values) → `dispatch` (look the method up in the table built from
//! `model`, check the session and role, convert the arguments to typed `Value`s, run the handler)
//! → `store` (one transaction per call, committed to SQLite before the reply) → `rpc` (encode the
//! `{Status, Value}` envelope).

pub mod api;
pub mod auth;
pub mod backend;
pub mod bootstrap;
pub mod config;
pub mod dispatch;
pub mod generated;
pub mod lifecycle;
pub mod server;
pub mod state_dir;
pub mod storage;
pub mod store;
pub mod typed;

// The model layer is its own crate (`xenapi-model`); re-exported under the old names so that
// `crate::model::…` and `xenapi_core::value::…` paths keep working.
pub use xenapi_model::{error, model, time_fmt, value};
pub use xenapi_model::{ApiError, Value};
// The wire codecs are their own crate (`xenapi-wire`), shared with the client.
pub use xenapi_wire as rpc;
