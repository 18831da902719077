//! HTTP front end: XML-RPC at `POST /` and `POST /RPC2` (and xapi's legacy `/json`), JSON-RPC at
//! `POST /jsonrpc`, HTTP/1.1 keep-alive on TCP, on TLS, and on a Unix socket in the state
//! directory. Malformed bodies get an HTTP error and never reach the API.

mod stream;
pub mod tls;

pub use stream::AnswerBody;

use crate::api::Xapi;
use crate::auth::Client;
use crate::error::ApiError;
use crate::rpc::chunked::Plan;
use crate::rpc::{jsonrpc, xmlrpc};
use crate::value::Value;
use bytes::Bytes;
use futures_util::FutureExt;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use conn_budget::{Budget, Ticket};
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};

/// glibc gives threads that allocate their own arenas and keeps freed memory in each, so a server
/// that builds large answers on many threads holds several times the memory it uses. Two arenas
/// keep the resident size close to the live data. Call before starting threads.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before other threads allocate.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Raises the soft limit of open files to the hard one: every connection is a descriptor, and the
/// usual soft limit (1,024) is below what `--max-connections` allows on its two budgets. Returns
/// the limit in force.
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return raised.rlim_cur as u64;
            }
        }
    }
    lim.rlim_cur as u64
}

#[derive(Debug, Clone)]
pub struct ListenConfig {
    /// Plain HTTP (default `127.0.0.1:8080`).
    pub tcp: Option<SocketAddr>,
    /// HTTPS, with the certificate and key (made on first start when absent).
    pub tls: Option<(SocketAddr, PathBuf, PathBuf)>,
    /// HTTP over a Unix socket (default `<state-dir>/xapi.sock`).
    pub unix: Option<PathBuf>,
    /// Larger request bodies are refused with 413 (default 16 MiB).
    pub max_body_bytes: usize,
    /// Connections held at once by the TCP and TLS listeners together, and again by the Unix
    /// socket (its own budget, so that the CIM providers, which use it, are never crowded out
    /// from the network). At the limit the oldest idle connection is closed to make room; a new
    /// one waits only while all are busy with requests.
    pub max_connections: usize,
}

/// How long a client may take to send a request body once its headers are in.
const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// Bound listeners, ready to serve; the addresses are known (port 0 resolved).
pub struct Bound {
    tcp: Option<TcpListener>,
    tls: Option<(TcpListener, tokio_rustls::TlsAcceptor)>,
    unix: Option<(UnixListener, PathBuf)>,
    pub tcp_addr: Option<SocketAddr>,
    pub tls_addr: Option<SocketAddr>,
    max_body: usize,
    /// The TCP and TLS listeners' connections.
    network: Arc<Budget>,
    /// The Unix socket's connections.
    local: Arc<Budget>,
}

impl Bound {
    pub async fn bind(cfg: &ListenConfig) -> Result<Bound, String> {
        let tcp = match cfg.tcp {
            Some(a) => Some(conn_budget::bind_tcp(a).map_err(|e| format!("cannot listen on {a}: {e}"))?),
            None => None,
        };
        let tls = match &cfg.tls {
            Some((a, cert, key)) => {
                let acceptor = tls::acceptor(cert, key)?;
                Some((conn_budget::bind_tcp(*a).map_err(|e| format!("cannot listen on {a}: {e}"))?, acceptor))
            }
            None => None,
        };
        let unix = match &cfg.unix {
            Some(p) => {
                // A socket file left by a previous run that did not stop cleanly.
                if p.exists() {
                    std::fs::remove_file(p).map_err(|e| format!("cannot remove stale {}: {e}", p.display()))?;
                }
                let l = UnixListener::bind(p).map_err(|e| format!("cannot listen on {}: {e}", p.display()))?;
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600));
                Some((l, p.clone()))
            }
            None => None,
        };
        Ok(Bound {
            tcp_addr: tcp.as_ref().and_then(|l| l.local_addr().ok()),
            tls_addr: tls.as_ref().and_then(|(l, _)| l.local_addr().ok()),
            tcp,
            tls,
            unix,
            max_body: cfg.max_body_bytes,
            network: Budget::new(cfg.max_connections),
            local: Budget::new(cfg.max_connections),
        })
    }

    /// Where it listens, for the start-up log line.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(a) = self.tcp_addr {
            parts.push(format!("http://{a}/"));
        }
        if let Some(a) = self.tls_addr {
            parts.push(format!("https://{a}/"));
        }
        if let Some((_, p)) = &self.unix {
            parts.push(format!("unix:{}", p.display()));
        }
        parts.join(", ")
    }

    /// Serves until `shutdown` resolves, then lets open requests finish (up to 10 s).
    pub async fn serve(self, xapi: Arc<Xapi>, shutdown: impl Future<Output = ()>) {
        let max = self.max_body;
        // Raised once when the server stops: every connection then closes gracefully.
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        if let Some(l) = self.tcp {
            let (x, budget, stop) = (xapi.clone(), self.network.clone(), stop_rx.clone());
            tasks.spawn(async move {
                loop {
                    match l.accept().await {
                        Ok((s, peer)) => {
                            let ticket = budget.admit().await;
                            let _ = s.set_nodelay(true);
                            spawn_conn(s, Client::from_ip(peer.ip()), x.clone(), max, ticket, stop.clone())
                        }
                        Err(e) => accept_error(e).await,
                    }
                }
            });
        }
        if let Some((l, acceptor)) = self.tls {
            let (x, budget, stop) = (xapi.clone(), self.network.clone(), stop_rx.clone());
            tasks.spawn(async move {
                loop {
                    match l.accept().await {
                        Ok((s, peer)) => {
                            let ticket = budget.admit().await;
                            let (x, acceptor, stop) = (x.clone(), acceptor.clone(), stop.clone());
                            tokio::spawn(async move {
                                let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(s));
                                // A handshake that has not finished when room is needed gives way.
                                let tls = tokio::select! {
                                    r = handshake => r,
                                    _ = ticket.evicted() => return tracing::debug!(%peer, "TLS handshake cut short to make room"),
                                };
                                match tls {
                                    Ok(Ok(tls)) => spawn_conn(tls, Client::from_ip(peer.ip()), x, max, ticket, stop),
                                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                                }
                            });
                        }
                        Err(e) => accept_error(e).await,
                    }
                }
            });
        }
        let unix_path = self.unix.as_ref().map(|(_, p)| p.clone());
        if let Some((l, _)) = self.unix {
            let (x, budget, stop) = (xapi.clone(), self.local.clone(), stop_rx.clone());
            tasks.spawn(async move {
                loop {
                    match l.accept().await {
                        Ok((s, _)) => {
                            let ticket = budget.admit().await;
                            spawn_conn(s, Client::Local, x.clone(), max, ticket, stop.clone())
                        }
                        Err(e) => accept_error(e).await,
                    }
                }
            });
        }
        shutdown.await;
        xapi.stopping.stop();
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        if let Some(p) = unix_path {
            let _ = std::fs::remove_file(p);
        }
        let _ = stop_tx.send(true);
        let grace = Duration::from_secs(10);
        let (net, local) = tokio::join!(self.network.drained(grace), self.local.drained(grace));
        if !(net && local) {
            tracing::warn!("some connections did not finish within 10 s of shutdown");
        }
    }
}

/// Accept errors (out of file descriptors, mostly) are transient: wait a little and go on.
async fn accept_error(e: std::io::Error) {
    tracing::warn!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Serves one connection; its requests run as coming from `client` (the peer address, which
/// the password checks' per-client limits read through [`crate::auth::client`]).
fn spawn_conn<S>(stream: S, client: Client, xapi: Arc<Xapi>, max_body: usize, ticket: Ticket, mut stop: tokio::sync::watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = ticket.activity();
    let service = hyper::service::service_fn(move |req| {
        let xapi = xapi.clone();
        // Busy from the request's arrival until its answer is written: the budget closes only
        // connections that are not.
        let busy = activity.busy();
        async move {
            Ok::<_, std::convert::Infallible>(busy.track(crate::auth::client::scope(client, handle(xapi, req, max_body)).await))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(60))
        .serve_connection(TokioIo::new(ticket.watch(stream)), service);
    tokio::spawn(async move {
        let stopping = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = conn_budget::run(conn, &ticket, stopping).await {
            tracing::debug!(error = %e, "connection ended with an error");
        }
        drop(ticket);
    });
}

fn response(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<AnswerBody> {
    with_body(status, content_type, Full::new(body.into()).into())
}

fn with_body(status: StatusCode, content_type: &str, body: AnswerBody) -> Response<AnswerBody> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("text/plain")));
    h.insert("Access-Control-Allow-Origin", HeaderValue::from_static("*"));
    r
}

fn plain(status: StatusCode, msg: &str) -> Response<AnswerBody> {
    response(status, "text/plain; charset=utf-8", format!("{msg}\n"))
}

enum Binding {
    XmlRpc,
    JsonRpc,
}

/// One HTTP request to one response.
pub async fn handle(xapi: Arc<Xapi>, req: Request<Incoming>, max_body: usize) -> Response<AnswerBody> {
    let binding = match req.uri().path() {
        "/" | "/RPC2" | "/json" => Binding::XmlRpc,
        "/jsonrpc" => Binding::JsonRpc,
        _ => return plain(StatusCode::NOT_FOUND, "not found: the XenAPI is at / (XML-RPC) and /jsonrpc (JSON-RPC)"),
    };
    match *req.method() {
        Method::POST => {}
        Method::OPTIONS => {
            let mut r = plain(StatusCode::OK, "");
            let h = r.headers_mut();
            h.insert("Access-Control-Allow-Methods", HeaderValue::from_static("POST, OPTIONS"));
            h.insert("Access-Control-Allow-Headers", HeaderValue::from_static("content-type"));
            return r;
        }
        Method::GET if req.uri().path() == "/" => {
            return plain(StatusCode::OK, "xencim XenAPI server: POST XML-RPC to / or JSON-RPC to /jsonrpc")
        }
        _ => return plain(StatusCode::METHOD_NOT_ALLOWED, "only POST is supported here"),
    }
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_body as u64) {
        return plain(StatusCode::PAYLOAD_TOO_LARGE, &format!("request body over the limit of {max_body} bytes"));
    }
    let body = match tokio::time::timeout(BODY_TIMEOUT, Limited::new(req.into_body(), max_body).collect()).await {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            return plain(StatusCode::PAYLOAD_TOO_LARGE, &format!("request body over the limit of {max_body} bytes"))
        }
        Ok(Err(e)) => return plain(StatusCode::BAD_REQUEST, &format!("cannot read the request body: {e}")),
        Err(_) => return plain(StatusCode::REQUEST_TIMEOUT, "the request body did not arrive in time"),
    };
    let heavy_request = body.len() > HEAVY_BYTES;
    match binding {
        Binding::XmlRpc => {
            let call = match off_workers(heavy_request, move || xmlrpc::decode_call(&body)).await {
                Ok(c) => c,
                Err(e) => return plain(StatusCode::BAD_REQUEST, &e.to_string()),
            };
            if call.method == "system.listMethods" {
                let names = xapi.dispatcher().list_methods();
                let v = Value::Set(names.into_iter().map(Value::String).collect());
                return response(StatusCode::OK, "text/xml", xmlrpc::encode_bare(&v));
            }
            let out = match run_call(&xapi, call.method, call.params, heavy_request).await {
                Ok(v) => {
                    let size = xmlrpc::size_hint(&v);
                    if let Some(plan) = (size > stream::STREAM_MIN_BYTES).then(|| Plan::xmlrpc(&v)).flatten() {
                        return with_body(StatusCode::OK, "text/xml", AnswerBody::Streamed(stream::stream(plan, v)));
                    }
                    off_workers(size > HEAVY_BYTES, move || xmlrpc::encode_success_sized(&v, size)).await
                }
                Err(e) => xmlrpc::encode_failure(&e),
            };
            response(StatusCode::OK, "text/xml", out)
        }
        Binding::JsonRpc => {
            let req = match off_workers(heavy_request, move || jsonrpc::decode_request(&body)).await {
                Ok(r) => r,
                Err(e) => return plain(StatusCode::BAD_REQUEST, &e.to_string()),
            };
            let (version, id) = (req.version, req.id);
            let result = if req.call.method == "system.listMethods" {
                Ok(Value::Set(xapi.dispatcher().list_methods().into_iter().map(Value::String).collect()))
            } else {
                run_call(&xapi, req.call.method, req.call.params, heavy_request).await
            };
            let size = result.as_ref().map_or(0, xmlrpc::size_hint);
            let result = match result {
                Ok(v) if size > stream::STREAM_MIN_BYTES => match Plan::jsonrpc(version, &id, &v) {
                    Some(plan) => {
                        return with_body(StatusCode::OK, "application/json", AnswerBody::Streamed(stream::stream(plan, v)))
                    }
                    None => Ok(v),
                },
                other => other,
            };
            let heavy_answer = size > HEAVY_BYTES;
            let out = off_workers(heavy_answer, move || jsonrpc::encode_response(version, &id, &result)).await;
            response(StatusCode::OK, "application/json", out)
        }
    }
}

/// Requests and answers larger than this are decoded, typed and encoded on a blocking thread:
/// a 100k-key map or a 10k-VM answer takes tens of milliseconds of CPU, which on one of the
/// runtime's few worker threads would hold up every other connection it serves meanwhile.
const HEAVY_BYTES: usize = 256 * 1024;

/// Runs `f` here, or on a blocking thread when `heavy`.
async fn off_workers<T: Send + 'static>(heavy: bool, f: impl FnOnce() -> T + Send + 'static) -> T {
    if !heavy {
        return f();
    }
    match tokio::task::spawn_blocking(f).await {
        Ok(t) => t,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Runs a call: here, or for a heavy request (its typing and map checks are CPU work) on a
/// blocking thread that drives the handler to its end.
async fn run_call(xapi: &Arc<Xapi>, method: String, params: Vec<crate::rpc::Wire>, heavy: bool) -> Result<Value, ApiError> {
    if !heavy {
        return guarded_call(xapi, &method, params).await;
    }
    let (x, rt) = (xapi.clone(), tokio::runtime::Handle::current());
    off_workers(true, move || rt.block_on(guarded_call(&x, &method, params))).await
}

/// Runs a call; a panic in a handler becomes `INTERNAL_ERROR` instead of a dropped connection.
async fn guarded_call(xapi: &Arc<Xapi>, method: &str, params: Vec<crate::rpc::Wire>) -> Result<Value, ApiError> {
    tracing::debug!(method, "call");
    match AssertUnwindSafe(xapi.call(method, params)).catch_unwind().await {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "handler panicked".into());
            tracing::error!(method, panic = %msg, "handler panicked");
            Err(ApiError::internal(msg))
        }
    }
}
