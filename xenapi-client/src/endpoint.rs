//! Where the server is: `http://host[:port][/path]`, `https://host[:port][/path]` or
//! `unix:/path/to/xapi.sock` (also `unix:///path`).
//!
//! The path of an HTTP(S) URL is where XML-RPC is posted (default `/`; xapi also answers at
//! `/RPC2`). JSON-RPC always goes to `/jsonrpc`.

use super::error::{ClientError, Result};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Tcp { host: String, port: u16 },
    Tls { host: String, port: u16 },
    Unix(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub transport: Transport,
    /// Request path for XML-RPC, starting with `/`.
    pub path: String,
    /// The URL as given, for messages.
    pub url: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint> {
        let bad = |reason: &str| ClientError::Endpoint { url: url.to_string(), reason: reason.to_string() };
        if let Some(rest) = url.strip_prefix("unix:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(bad("no socket path after unix:"));
            }
            return Ok(Endpoint { transport: Transport::Unix(PathBuf::from(path)), path: "/".into(), url: url.into() });
        }
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(bad("scheme must be http://, https:// or unix:"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err(bad("credentials in the URL are not supported; use login"));
        }
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = split_host_port(authority, default_port).ok_or_else(|| bad("bad host or port"))?;
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let transport = if tls { Transport::Tls { host, port } } else { Transport::Tcp { host, port } };
        Ok(Endpoint { transport, path: path.to_string(), url: url.into() })
    }

    /// The HTTP `Host` header: `host:port`, or `localhost` on a Unix socket.
    pub fn host_header(&self) -> String {
        match &self.transport {
            Transport::Tcp { host, port } | Transport::Tls { host, port } => {
                if host.contains(':') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                }
            }
            Transport::Unix(_) => "localhost".into(),
        }
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; the host comes back without brackets.
fn split_host_port(a: &str, default_port: u16) -> Option<(String, u16)> {
    if let Some(rest) = a.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    match a.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h.to_string(), p.parse().ok()?)),
        Some(_) => None,
        None => Some((a.to_string(), default_port)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        let e = Endpoint::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!(e.transport, Transport::Tcp { host: "127.0.0.1".into(), port: 8080 });
        assert_eq!(e.path, "/");
        let e = Endpoint::parse("https://[::1]/RPC2").unwrap();
        assert_eq!(e.transport, Transport::Tls { host: "::1".into(), port: 443 });
        assert_eq!((e.path.as_str(), e.host_header()), ("/RPC2", "[::1]:443".to_string()));
        let e = Endpoint::parse("unix:/var/lib/xcp/xapi").unwrap();
        assert_eq!(e.transport, Transport::Unix("/var/lib/xcp/xapi".into()));
        assert_eq!(Endpoint::parse("unix:///run/x.sock").unwrap().transport, Transport::Unix("/run/x.sock".into()));
        assert_eq!(Endpoint::parse("http://h").unwrap().host_header(), "h:80");
    }

    #[test]
    fn rejects_what_it_cannot_reach() {
        for bad in ["ftp://h/", "http://:80/", "http://h:port/", "unix:", "h:80", "http://u:p@h/", "http://[::1/"] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
