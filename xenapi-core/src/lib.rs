//! The Xen Management API (XenAPI): one declarative data model, the XML-RPC and JSON-RPC wire
//! protocols, a dispatch table derived from the model, and a durable store.
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
pub mod client;
pub mod config;
pub mod dispatch;
pub mod error;
pub mod generated;

pub mod lifecycle;
pub mod model;
pub mod rpc;
pub mod server;
pub mod state_dir;
pub mod storage;
pub mod store;
pub mod time_fmt;
pub mod typed;
pub mod value;

pub use error::ApiError;
pub use value::Value;
