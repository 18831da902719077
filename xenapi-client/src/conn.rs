//! One HTTP/1.1 connection to the server: TCP, TLS over TCP, or a Unix socket, driven by hyper's
//! low-level client (`hyper::client::conn::http1`). The connection's I/O runs on its own task;
//! the [`SendRequest`] handle is what the pool keeps.

use super::endpoint::{Endpoint, Transport};
use super::error::{ClientError, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

pub type Sender = SendRequest<Full<Bytes>>;

/// A connection in the pool.
pub struct Pooled {
    pub sender: Sender,
    /// Whether it has carried a call already (is being kept alive), as opposed to just opened.
    pub used: bool,
}

/// What opening a connection needs besides the endpoint.
#[derive(Clone)]
pub struct Dialer {
    pub endpoint: Endpoint,
    pub tls: Option<(TlsConnector, ServerName<'static>)>,
    pub connect_timeout: Duration,
}

impl Dialer {
    pub async fn open(&self) -> Result<Sender> {
        let to = self.connect_timeout;
        match &self.endpoint.transport {
            Transport::Tcp { host, port } => handshake(self.tcp(host, *port).await?).await,
            Transport::Tls { host, port } => {
                let tcp = self.tcp(host, *port).await?;
                let (connector, name) = self.tls.as_ref().expect("TLS connector made for https endpoints");
                let tls = tokio::time::timeout(to, connector.connect(name.clone(), tcp))
                    .await
                    .map_err(|_| ClientError::Tls(format!("handshake with {} timed out", self.endpoint.url)))?
                    .map_err(|e| ClientError::Tls(format!("handshake with {}: {e}", self.endpoint.url)))?;
                handshake(tls).await
            }
            Transport::Unix(path) => {
                let s = tokio::time::timeout(to, UnixStream::connect(path))
                    .await
                    .map_err(|_| self.connect_error(timed_out(to)))?
                    .map_err(|e| self.connect_error(e))?;
                handshake(s).await
            }
        }
    }

    async fn tcp(&self, host: &str, port: u16) -> Result<TcpStream> {
        let to = self.connect_timeout;
        let s = tokio::time::timeout(to, TcpStream::connect((host, port)))
            .await
            .map_err(|_| self.connect_error(timed_out(to)))?
            .map_err(|e| self.connect_error(e))?;
        // Requests are single small writes; waiting for Nagle would add a round trip's delay.
        let _ = s.set_nodelay(true);
        Ok(s)
    }

    fn connect_error(&self, source: std::io::Error) -> ClientError {
        ClientError::Connect { endpoint: self.endpoint.url.clone(), source }
    }
}

fn timed_out(after: Duration) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, format!("no connection within {after:?}"))
}

async fn handshake<S>(stream: S) -> Result<Sender>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await.map_err(|e| ClientError::Http(e.to_string()))?;
    tokio::spawn(async move {
        // Ends when the server closes the connection or the last `Sender` is dropped.
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "XenAPI client connection ended with an error");
        }
    });
    Ok(sender)
}

/// Whether a failed exchange means the server closed the connection without answering (on a
/// kept-alive connection: its idle timeout, a restart).
pub fn closed_before_answer(e: &hyper::Error) -> bool {
    if e.is_canceled() || e.is_incomplete_message() {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            return matches!(io.kind(), ConnectionReset | BrokenPipe | ConnectionAborted | UnexpectedEof);
        }
        source = s.source();
    }
    false
}
