//! What can go wrong in a call, split the way a caller acts on it: the server answered with an
//! API error (`Api`: act on the code), or the call never got a well-formed answer (everything
//! else: retry later, fix the endpoint, report).

use xenapi_model::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The endpoint URL is not `http://host[:port]/`, `https://host[:port]/` or `unix:/path`.
    #[error("bad endpoint {url:?}: {reason}")]
    Endpoint { url: String, reason: String },
    /// Connecting (TCP or Unix socket) failed or timed out.
    #[error("cannot connect to {endpoint}: {source}")]
    Connect { endpoint: String, source: std::io::Error },
    /// TLS configuration or handshake failed (bad CA file, untrusted certificate, ...).
    #[error("TLS: {0}")]
    Tls(String),
    /// The HTTP exchange failed (connection reset mid-request, malformed HTTP, ...).
    #[error("HTTP: {0}")]
    Http(String),
    /// The server answered with an HTTP status other than 200 (e.g. 400 for a malformed body).
    #[error("HTTP status {status}: {body}")]
    Status { status: u16, body: String },
    /// No answer within the client's request timeout.
    #[error("no answer within {0:?}")]
    Timeout(std::time::Duration),
    /// The body is not a XenAPI response (not XML-RPC, no `Status`, wrong field types, ...).
    #[error("malformed response: {0}")]
    Protocol(String),
    /// The server answered `{Status: Failure, ErrorDescription: [code, params...]}`. An XML-RPC
    /// `<fault>` also lands here, as `fault [faultCode, faultString]` (xapi's own client does so).
    #[error("{0}")]
    Api(ApiError),
    /// The call does not fit the data model (unknown class or field, field not settable); caught
    /// before anything is sent.
    #[error("{0}")]
    Model(String),
}

impl ClientError {
    /// The API error, when the server answered with one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            ClientError::Api(e) => Some(e),
            _ => None,
        }
    }

    /// True when the server answered with an API error of this code.
    pub fn is_api(&self, code: &str) -> bool {
        self.api().is_some_and(|e| e.code == code)
    }

    /// True when no well-formed answer arrived (connection, TLS, HTTP, timeout, malformed body):
    /// the call may or may not have run on the server.
    pub fn is_transport(&self) -> bool {
        !matches!(self, ClientError::Api(_) | ClientError::Model(_) | ClientError::Endpoint { .. })
    }
}

impl From<ApiError> for ClientError {
    fn from(e: ApiError) -> Self {
        ClientError::Api(e)
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;
