//! HTTP front end: XML-RPC at `POST /` and `POST /RPC2` (and xapi's legacy `/json`), JSON-RPC at
//! `POST /jsonrpc`, HTTP/1.1 keep-alive on TCP, on TLS, and on a Unix socket in the state
//! directory. Malformed bodies get an HTTP error and never reach the API.

pub mod tls;

use crate::api::Xapi;
use crate::auth::Client;
use crate::error::ApiError;
use crate::rpc::{jsonrpc, xmlrpc};
use crate::value::Value;
use bytes::Bytes;
use futures_util::FutureExt;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
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
    /// Connections served at once (all listeners); beyond it, new ones wait in the kernel's
    /// backlog until one closes.
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
    slots: Arc<tokio::sync::Semaphore>,
}

impl Bound {
    pub async fn bind(cfg: &ListenConfig) -> Result<Bound, String> {
        let tcp = match cfg.tcp {
            Some(a) => Some(TcpListener::bind(a).await.map_err(|e| format!("cannot listen on {a}: {e}"))?),
            None => None,
        };
        let tls = match &cfg.tls {
            Some((a, cert, key)) => {
                let acceptor = tls::acceptor(cert, key)?;
                Some((TcpListener::bind(a).await.map_err(|e| format!("cannot listen on {a}: {e}"))?, acceptor))
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
            slots: Arc::new(tokio::sync::Semaphore::new(cfg.max_connections.max(1))),
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
        let graceful = Arc::new(GracefulShutdown::new());
        let max = self.max_body;
        let mut tasks = tokio::task::JoinSet::new();
        if let Some(l) = self.tcp {
            let (x, g, slots) = (xapi.clone(), graceful.clone(), self.slots.clone());
            tasks.spawn(async move {
                loop {
                    match l.accept().await {
                        Ok((s, peer)) => {
                            let Ok(slot) = slots.clone().acquire_owned().await else { return };
                            let _ = s.set_nodelay(true);
                            spawn_conn(s, Client::from_ip(peer.ip()), x.clone(), &g, max, slot)
                        }
                        Err(e) => accept_error(e).await,
                    }
                }
            });
        }
        if let Some((l, acceptor)) = self.tls {
            let (x, g, slots) = (xapi.clone(), graceful.clone(), self.slots.clone());
            tasks.spawn(async move {
                loop {
                    match l.accept().await {
                        Ok((s, peer)) => {
                            let Ok(slot) = slots.clone().acquire_owned().await else { return };
                            let (x, acceptor, g) = (x.clone(), acceptor.clone(), g.clone());
                            tokio::spawn(async move {
                                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(s)).await {
                                    Ok(Ok(tls)) => spawn_conn(tls, Client::from_ip(peer.ip()), x, &g, max, slot),
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
            let (x, g, slots) = (xapi.clone(), graceful.clone(), self.slots.clone());
            tasks.spawn(async move {
                loop {
                    match l.accept().await {
                        Ok((s, _)) => {
                            // At the limit, the accepted connection waits here, unserved, and
                            // the listener accepts no more until a slot frees.
                            let Ok(slot) = slots.clone().acquire_owned().await else { return };
                            spawn_conn(s, Client::Local, x.clone(), &g, max, slot)
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
        match Arc::try_unwrap(graceful) {
            Ok(g) => {
                if tokio::time::timeout(Duration::from_secs(10), g.shutdown()).await.is_err() {
                    tracing::warn!("some connections did not finish within 10 s of shutdown");
                }
            }
            Err(_) => tracing::warn!("connections still referenced at shutdown"),
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
fn spawn_conn<S>(stream: S, client: Client, xapi: Arc<Xapi>, graceful: &GracefulShutdown, max_body: usize, slot: tokio::sync::OwnedSemaphorePermit)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let xapi = xapi.clone();
        async move { Ok::<_, std::convert::Infallible>(crate::auth::client::scope(client, handle(xapi, req, max_body)).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(60))
        .serve_connection(TokioIo::new(stream), service);
    let conn = graceful.watch(conn);
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "connection ended with an error");
        }
        drop(slot);
    });
}

fn response(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("text/plain")));
    h.insert("Access-Control-Allow-Origin", HeaderValue::from_static("*"));
    r
}

fn plain(status: StatusCode, msg: &str) -> Response<Full<Bytes>> {
    response(status, "text/plain; charset=utf-8", format!("{msg}\n"))
}

enum Binding {
    XmlRpc,
    JsonRpc,
}

/// One HTTP request to one response.
pub async fn handle(xapi: Arc<Xapi>, req: Request<Incoming>, max_body: usize) -> Response<Full<Bytes>> {
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
    match binding {
        Binding::XmlRpc => {
            let call = match xmlrpc::decode_call(&body) {
                Ok(c) => c,
                Err(e) => return plain(StatusCode::BAD_REQUEST, &e.to_string()),
            };
            if call.method == "system.listMethods" {
                let names = xapi.dispatcher().list_methods();
                let v = Value::Set(names.into_iter().map(Value::String).collect());
                return response(StatusCode::OK, "text/xml", xmlrpc::encode_bare(&v));
            }
            let out = match guarded_call(&xapi, &call.method, call.params).await {
                Ok(v) => xmlrpc::encode_success(&v),
                Err(e) => xmlrpc::encode_failure(&e),
            };
            response(StatusCode::OK, "text/xml", out)
        }
        Binding::JsonRpc => {
            let req = match jsonrpc::decode_request(&body) {
                Ok(r) => r,
                Err(e) => return plain(StatusCode::BAD_REQUEST, &e.to_string()),
            };
            let result = if req.call.method == "system.listMethods" {
                Ok(Value::Set(xapi.dispatcher().list_methods().into_iter().map(Value::String).collect()))
            } else {
                guarded_call(&xapi, &req.call.method, req.call.params).await
            };
            response(StatusCode::OK, "application/json", jsonrpc::encode_response(req.version, &req.id, &result))
        }
    }
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
