//! A XenAPI client (its own crate, with no server code in it: the CIM providers, loaded into
//! foreign CIM brokers, link it): XML-RPC over HTTP/1.1 on TCP, TLS or a Unix socket, with keep-alive,
//! sessions that log in again when the server forgets them, and a typed layer driven by the data
//! model (records come back as [`Value`]s of each field's model type, not as strings).
//!
//! ```no_run
//! # async fn demo() -> xenapi_client::Result<()> {
//! use xenapi_client::Client;
//! let client = Client::connect("unix:/var/lib/xencim/xapi.sock").await?;
//! let session = client.login("root", "secret", "my-provider").await?;
//! for (vm, rec) in session.get_all_records("VM").await? {
//!     println!("{vm} {} {:?}", rec.str("name_label"), rec.get("memory_static_max"));
//! }
//! session.logout().await?;
//! # Ok(()) }
//! ```
//!
//! Layers, one module each:
//! - [`endpoint`]: the URL (`http://host:port/`, `https://host:port/`, `unix:/path`);
//! - [`tls`]: whom to trust on `https` (a CA or the server's own certificate, the system bundle,
//!   or explicitly nobody);
//! - `conn`: one hyper HTTP/1.1 connection; [`Client`] keeps a small pool of idle ones;
//! - [`xmlrpc`] (the `xenapi-wire` crate's, shared with the server): `encode_call` and the
//!   `methodResponse` decoder;
//! - [`session`]: login, calls with the session ref prepended, re-login on `SESSION_INVALID`;
//! - [`typed`]: `get_all_records`, `get_record`, `get_field`, `set_field`, `create`, ... for any
//!   class of the model, by class name, answering [`ObjectRecord`]s;
//! - [`calls`] (generated from the model) and [`call`]: a typed call per message,
//!   `session.run(calls::vm::start(&vm, false, false)).await`, or `.run(..)` on any blocking
//!   [`Caller`] (docs/xenapi-messages.md).
//!
//! # Connections and sharing
//!
//! `Client` is a cheap handle (`Clone`, `Send`, `Sync`) on a pool of idle keep-alive connections.
//! A call takes an idle connection (or opens one), and gives it back once the answer is read, so
//! sequential calls reuse one connection and concurrent calls from several tasks each get their
//! own. At most `max_idle_connections` (default 8) are kept idle; more are closed after use.
//! The number of connections open at once is not capped: it follows the caller's concurrency,
//! so bound that (e.g. with a semaphore) when issuing many calls at once.
//! An idle connection the server closed is noticed and replaced before use. If a kept-alive
//! connection (one that already carried a call) is closed by the server just as a request goes
//! out, so that no answer comes, the call is sent once more on a new connection, as Python's
//! `xmlrpc.client` does: the server was closing an idle connection and ran nothing, except in the
//! unlucky case of a server that reads a request and then dies, where the call may run twice.
//! A new connection failing that way is an error, never repeated.

pub mod call;
#[path = "generated/calls.rs"]
pub mod calls;
mod conn;
pub mod endpoint;
pub mod error;
pub mod session;
pub mod tls;
pub mod typed;

pub use endpoint::Endpoint;
pub use error::{ClientError, Result};
pub use session::Session;
pub use tls::Trust;
pub use typed::ObjectRecord;
pub use call::{Call, Caller};
// The model's generated enums and record structs, which typed calls take and answer.
pub use xenapi_model::generated::{enums, records};
pub use xenapi_model::typed::{Ref, RefArg};
pub use xenapi_wire::xmlrpc::{self, encode_call};
// What callers handle in answers, so that a user of the client needs no other XenAPI crate.
pub use xenapi_model::{model, ApiError, Value};
pub use xenapi_wire::{Wire, WireValue};

use bytes::Bytes;
use conn::{Dialer, Pooled};
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST, USER_AGENT};
use hyper::{Method, Request};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const USER_AGENT_VALUE: &str = concat!("xencim-client/", env!("CARGO_PKG_VERSION"));

/// How to reach the server; see the module docs. Build with [`Client::builder`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    url: String,
    trust: Trust,
    ca_file: Option<PathBuf>,
    max_idle: usize,
    connect_timeout: Duration,
    request_timeout: Option<Duration>,
    max_response_bytes: usize,
}

impl ClientBuilder {
    /// Trust the certificates in this PEM text: the CA of the server's certificate, or the
    /// server's self-signed certificate itself.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.trust = Trust::Pem(pem.into());
        self.ca_file = None;
        self
    }

    /// As [`ca_pem`](Self::ca_pem), read from a file when connecting.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Accept any server certificate (self-signed local servers). Unsafe on a network: see
    /// [`Trust::AcceptAny`].
    pub fn danger_accept_invalid_certs(mut self) -> Self {
        self.trust = Trust::AcceptAny;
        self.ca_file = None;
        self
    }

    /// Idle keep-alive connections kept for reuse (default 8).
    pub fn max_idle_connections(mut self, n: usize) -> Self {
        self.max_idle = n;
        self
    }

    /// Time allowed for TCP/Unix connect and the TLS handshake (default 10 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Time allowed for one request and its whole answer (default: none, because `event.from`
    /// and `Async` task polling legitimately wait; if set, make it longer than the longest
    /// `event.from` timeout the caller uses).
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = Some(d);
        self
    }

    /// Larger answers are refused (default 1 GiB; 10,000 VM records are about 60 MiB).
    pub fn max_response_bytes(mut self, n: usize) -> Self {
        self.max_response_bytes = n;
        self
    }

    /// Parses the URL, prepares TLS, and opens a first connection (so a wrong address fails
    /// here, not on the first call).
    pub async fn connect(self) -> Result<Client> {
        let endpoint = Endpoint::parse(&self.url)?;
        let tls = match &endpoint.transport {
            endpoint::Transport::Tls { host, .. } => {
                let trust = match &self.ca_file {
                    Some(p) => Trust::Pem(std::fs::read(p).map_err(|e| ClientError::Tls(format!("cannot read {}: {e}", p.display())))?),
                    None => self.trust.clone(),
                };
                let config = tls::client_config(&trust)?;
                Some((tokio_rustls::TlsConnector::from(config), tls::server_name(host)?))
            }
            _ => None,
        };
        let host_header = HeaderValue::from_str(&endpoint.host_header())
            .map_err(|_| ClientError::Endpoint { url: self.url.clone(), reason: "host is not a valid header".into() })?;
        let dialer = Dialer { endpoint, tls, connect_timeout: self.connect_timeout };
        let first = Pooled { sender: dialer.open().await?, used: false };
        let client = Client {
            inner: Arc::new(Inner {
                dialer,
                host_header,
                idle: Mutex::new(Vec::new()),
                max_idle: self.max_idle,
                request_timeout: self.request_timeout,
                max_response_bytes: self.max_response_bytes,
                opened: AtomicU64::new(1),
            }),
        };
        client.put_idle(first);
        Ok(client)
    }
}

/// The value of an answer (the `{Status, Value}` envelope's), or its `ErrorDescription` as
/// [`ClientError::Api`].
pub(crate) fn decode_answer(body: &[u8]) -> Result<Wire> {
    xmlrpc::decode_response(body).map_err(|e| ClientError::Protocol(e.0))?.map_err(ClientError::Api)
}

/// A connection pool on one XenAPI server. Cheap to clone; share it between tasks freely.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    dialer: Dialer,
    host_header: HeaderValue,
    /// Idle keep-alive connections, most recently used last. A std mutex: it is held only to
    /// push or pop, never across an await.
    idle: Mutex<Vec<Pooled>>,
    max_idle: usize,
    request_timeout: Option<Duration>,
    max_response_bytes: usize,
    opened: AtomicU64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("endpoint", &self.inner.dialer.endpoint.url).finish_non_exhaustive()
    }
}

impl Client {
    /// Connects with the defaults (system CA bundle for `https`). See [`ClientBuilder`].
    pub async fn connect(url: &str) -> Result<Client> {
        Client::builder(url).connect().await
    }

    pub fn builder(url: &str) -> ClientBuilder {
        ClientBuilder {
            url: url.to_string(),
            trust: Trust::System,
            ca_file: None,
            max_idle: 8,
            connect_timeout: Duration::from_secs(10),
            request_timeout: None,
            max_response_bytes: 1 << 30,
        }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.dialer.endpoint
    }

    /// Connections opened so far (1 after `connect`); with keep-alive it stays at 1 for any
    /// number of sequential calls.
    pub fn connections_opened(&self) -> u64 {
        self.inner.opened.load(Ordering::Relaxed)
    }

    /// `session.login_with_password(user, password, "2.21", originator)`. Pass an originator
    /// naming your program: the server caps sessions per originator.
    pub async fn login(&self, user: &str, password: &str, originator: &str) -> Result<Session> {
        Session::login(self.clone(), user, password, originator).await
    }

    /// One XML-RPC call, as is (no session is added): `Ok(Value)` of the envelope, or the
    /// server's `ErrorDescription` as [`ClientError::Api`].
    pub async fn call(&self, method: &str, args: &[Value]) -> Result<Wire> {
        self.call_with(method, args, decode_answer).await
    }

    /// [`call`](Self::call), with the answer's body read by `decode` (a typed fast path, such as
    /// `get_all_records`'); `decode` gives the server's errors as [`ClientError::Api`].
    pub async fn call_with<T>(&self, method: &str, args: &[Value], decode: impl FnOnce(&[u8]) -> Result<T>) -> Result<T> {
        // The encoder would drop what XML 1.0 cannot carry and send another value than the one
        // given; the server would refuse it anyway, so refuse it here with the server's error.
        for (i, a) in args.iter().enumerate() {
            if let Some(c) = xenapi_wire::first_non_xml_char(a) {
                return Err(ClientError::Api(xenapi_model::error::ApiError::new(
                    "INVALID_VALUE",
                    [format!("argument {}", i + 1), format!("character U+{:04X} cannot be carried by XML 1.0", c as u32)],
                )));
            }
        }
        let body = encode_call(method, args);
        let answer = self.post_checked(&self.inner.dialer.endpoint.path, "text/xml", body.into()).await?;
        decode(&answer)
    }

    /// `system.listMethods`, whose answer is not enveloped.
    pub async fn list_methods(&self) -> Result<Vec<String>> {
        let body = encode_call("system.listMethods", &[]);
        let answer = self.post_checked(&self.inner.dialer.endpoint.path, "text/xml", body.into()).await?;
        match xmlrpc::decode_reply(&answer).map_err(|e| ClientError::Protocol(e.0))? {
            xmlrpc::Reply::Value(Wire::Array(items)) => items
                .into_iter()
                .map(|i| match i {
                    Wire::Str(s) => Ok(s),
                    other => Err(ClientError::Protocol(format!("method name {other:?} is not a string"))),
                })
                .collect(),
            other => Err(ClientError::Protocol(format!("system.listMethods answered {other:?}"))),
        }
    }

    /// A raw HTTP POST on the pooled connections (e.g. a JSON-RPC body to `/jsonrpc`); returns
    /// the status and body whatever the status.
    pub async fn post(&self, path: &str, content_type: &str, body: impl Into<Bytes>) -> Result<(u16, Bytes)> {
        let fut = self.exchange(path, content_type, body.into());
        match self.inner.request_timeout {
            Some(t) => tokio::time::timeout(t, fut).await.map_err(|_| ClientError::Timeout(t))?,
            None => fut.await,
        }
    }

    /// [`post`](Self::post), with anything but 200 as [`ClientError::Status`].
    async fn post_checked(&self, path: &str, content_type: &str, body: Bytes) -> Result<Bytes> {
        let (status, answer) = self.post(path, content_type, body).await?;
        if status != 200 {
            let text = String::from_utf8_lossy(&answer[..answer.len().min(300)]).trim().to_string();
            return Err(ClientError::Status { status, body: text });
        }
        Ok(answer)
    }

    async fn exchange(&self, path: &str, content_type: &str, body: Bytes) -> Result<(u16, Bytes)> {
        let mut repeated = false;
        loop {
            let mut conn = match self.take_idle() {
                Some(c) => c,
                None => Pooled { sender: self.open().await?, used: false },
            };
            // A kept-alive connection the server closed while idle fails here, before anything
            // is sent.
            if conn.sender.ready().await.is_err() {
                if conn.used {
                    continue;
                }
                return Err(ClientError::Http("the new connection closed before the request".into()));
            }
            let req = self.request(path, content_type, body.clone())?;
            let resp = match conn.sender.send_request(req).await {
                Ok(r) => r,
                // Only a kept-alive connection can have been closed by the server's idle timeout;
                // a new one failing means the server is failing.
                Err(e) if conn.used && !repeated && conn::closed_before_answer(&e) => {
                    tracing::debug!(error = %e, "kept-alive connection closed by the server; sending again");
                    repeated = true;
                    continue;
                }
                Err(e) => return Err(ClientError::Http(e.to_string())),
            };
            let status = resp.status().as_u16();
            let answer = Limited::new(resp.into_body(), self.inner.max_response_bytes)
                .collect()
                .await
                .map_err(|e| ClientError::Http(format!("reading the answer: {e}")))?
                .to_bytes();
            // Only now, with the answer read to its end, can the connection carry another call.
            conn.used = true;
            self.put_idle(conn);
            return Ok((status, answer));
        }
    }

    fn request(&self, path: &str, content_type: &str, body: Bytes) -> Result<Request<Full<Bytes>>> {
        Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(HOST, self.inner.host_header.clone())
            .header(CONTENT_TYPE, content_type)
            .header(USER_AGENT, USER_AGENT_VALUE)
            .body(Full::new(body))
            .map_err(|e| ClientError::Http(format!("cannot build the request: {e}")))
    }

    async fn open(&self) -> Result<conn::Sender> {
        let c = self.inner.dialer.open().await?;
        self.inner.opened.fetch_add(1, Ordering::Relaxed);
        Ok(c)
    }

    fn take_idle(&self) -> Option<Pooled> {
        let mut idle = self.inner.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(c) = idle.pop() {
            if !c.sender.is_closed() {
                return Some(c);
            }
        }
        None
    }

    fn put_idle(&self, c: Pooled) {
        if c.sender.is_closed() {
            return;
        }
        let mut idle = self.inner.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.inner.max_idle {
            idle.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn handles_are_shareable_between_tasks() {
        assert_send_sync::<Client>();
        assert_send_sync::<Session>();
        assert_send_sync::<ClientError>();
    }
}
