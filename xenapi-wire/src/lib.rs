//! The two wire bindings of the XenAPI: XML-RPC (`POST /`, `POST /RPC2`) and JSON-RPC v1/v2
//! (`POST /jsonrpc`), for both ends: the server decodes calls and encodes answers, the client
//! encodes calls and decodes answers, with the same XML-RPC value parser and the same encoder.
//!
//! Bodies decode into untyped [`Wire`] values; [`WireValue`] types them under the model
//! (`Value::from_wire`) and back. Values are encoded straight from typed [`Value`]s, whole or,
//! for a large answer, in batches the server sends as it encodes them ([`chunked`]). The client
//! reads the large answers (`get_all_records`, `get_record`) straight into typed fields
//! ([`xmlrpc::records`]).

pub mod chunked;
pub mod json_write;
pub mod jsonrpc;
mod typed;
pub mod xmlrpc;

pub use typed::WireValue;
pub use xmlrpc::{first_non_xml_char, is_xml_char};

#[cfg(doc)]
use xenapi_model::Value;

/// An untyped value as it arrived on the wire, either binding; the model types it
/// ([`WireValue::from_wire`]). The store also persists records in this form (as JSON).
#[derive(Debug, Clone, PartialEq)]
pub enum Wire {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// The text of an XML-RPC `<dateTime.iso8601>`.
    DateTime(String),
    Array(Vec<Wire>),
    Struct(Vec<(String, Wire)>),
    Nil,
}

/// A decoded request: method name as sent and positional parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub method: String,
    pub params: Vec<Wire>,
}

/// A body that is not well-formed for its binding: a request the server answers at the protocol
/// level (HTTP 400/500 or a fault, never an API error, and it never reaches the store), or an
/// answer the client cannot read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed request: {}", self.0)
    }
}

impl std::error::Error for ProtocolError {}

/// Nesting deeper than this is refused, so hostile input cannot exhaust the stack.
pub const MAX_DEPTH: usize = 64;
