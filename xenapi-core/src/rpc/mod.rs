//! The two wire bindings of the XenAPI: XML-RPC (`POST /`, `POST /RPC2`) and JSON-RPC v1/v2
//! (`POST /jsonrpc`). Both decode a body into a [`Call`] of untyped [`Wire`] values and encode a
//! typed result or an [`ApiError`](crate::ApiError) in the binding's envelope.

pub mod jsonrpc;
pub mod xmlrpc;

/// The untyped value tree both codecs decode into (defined with the model, which types it).
pub use crate::value::Wire;

/// A decoded request: method name as sent and positional parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub method: String,
    pub params: Vec<Wire>,
}

/// A request body that is not a well-formed call. Answered at the protocol level (HTTP 400/500
/// or a fault), never as an API error, and never reaches the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed request: {}", self.0)
    }
}

/// Nesting deeper than this is refused, so hostile input cannot exhaust the stack.
pub const MAX_DEPTH: usize = 64;
