//! CIM operations over HTTP (DSP0200 1.4): `POST /cimom` and `M-POST /cimom`.
//!
//! ```text
//! POST /cimom HTTP/1.1
//! Content-Type: application/xml; charset="utf-8"
//! CIMOperation: MethodCall
//! CIMMethod: GetClass
//! CIMObject: root%2Fcimv2
//! ```
//!
//! Failures to understand the request itself are HTTP errors carrying a
//! `CIMError` header (400 request-not-well-formed / request-not-valid /
//! header-mismatch, 501 unsupported-*). Failures of the operation are an
//! HTTP 200 whose body holds `<ERROR CODE=".." DESCRIPTION=".."/>`.

use std::convert::Infallible;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::HeaderValue;
use hyper::{Method, Request, Response, StatusCode};

use crate::cimxml::{self, Call, RequestError};
use crate::error::CimError;
use crate::ops::Broker;
use crate::xml::XmlOut;
use crate::provider::Caller;
use crate::Authenticator;

/// Responses larger than this are sent chunked, in pieces of this size.
pub const CHUNK_SIZE: usize = 64 * 1024;

/// A response body: one piece (Content-Length) or several (chunked).
pub struct RespBody {
    chunks: VecDeque<Bytes>,
    exact: Option<u64>,
}

impl RespBody {
    fn full(b: impl Into<Bytes>) -> Self {
        let b: Bytes = b.into();
        let len = b.len() as u64;
        RespBody { chunks: VecDeque::from([b]), exact: Some(len) }
    }
    fn chunked(b: Bytes) -> Self {
        let mut chunks = VecDeque::new();
        let mut off = 0;
        while off < b.len() {
            let end = (off + CHUNK_SIZE).min(b.len());
            chunks.push_back(b.slice(off..end));
            off = end;
        }
        RespBody { chunks, exact: None }
    }
}

impl Body for RespBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut TaskContext<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.chunks.pop_front().map(|c| Ok(Frame::data(c))))
    }
    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }
    fn size_hint(&self) -> SizeHint {
        match self.exact {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

/// What the HTTP layer needs besides the broker.
#[derive(Clone)]
pub struct HttpOptions {
    pub authenticator: Option<Arc<dyn Authenticator>>,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub operation_timeout: Duration,
}

fn plain(status: StatusCode, text: &str) -> Response<RespBody> {
    let mut r = Response::new(RespBody::full(text.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert("Content-Type", HeaderValue::from_static("text/plain"));
    r
}

/// An HTTP-level rejection with a CIMError header (DSP0200 7.4.x). `prefix` is the M-POST
/// header prefix (`73-`), already checked to be digits and a dash by [`mpost_prefix`].
fn cim_http_error(status: StatusCode, cimerror: &'static str, prefix: &str, detail: &str) -> Response<RespBody> {
    tracing::debug!("rejecting request: {status} {cimerror}: {detail}");
    let mut r = plain(status, detail);
    let name = hyper::header::HeaderName::from_bytes(format!("{prefix}CIMError").as_bytes())
        .unwrap_or(hyper::header::HeaderName::from_static("cimerror"));
    r.headers_mut().insert(name, HeaderValue::from_static(cimerror));
    r
}

/// Decodes `%xx` in a CIMObject header. Works on bytes: a `%` next to a multibyte character
/// (or at the end) is kept as it is.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let (Some(h), Some(l)) = (b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The extension URI an M-POST's Man header must declare (DSP0200 7.3.1).
const CIM_MAPPING: &str = "http://www.dmtf.org/cim/mapping/http/v1.0";

/// Why an M-POST's Man header cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub enum ManError {
    /// No declaration of the CIM mapping: 510 Not Extended (RFC 2774).
    NotExtended,
    /// The CIM mapping is declared with a malformed `ns=` (not digits): 400.
    BadPrefix,
}

/// The header prefix (`"73-"`, or `""` without `ns=`) that an M-POST's Man header declares for
/// the CIM mapping. The header is a comma-separated list of extension declarations
/// (`"uri"; ns=NN`, RFC 2774); the prefix becomes part of header names the broker looks up and
/// writes, so it is accepted only as ASCII digits.
pub fn mpost_prefix(man: Option<&str>) -> Result<String, ManError> {
    let man = man.ok_or(ManError::NotExtended)?;
    let decl = man.split(',').find(|d| d.contains(CIM_MAPPING)).ok_or(ManError::NotExtended)?;
    match decl.split(';').find_map(|p| p.trim().strip_prefix("ns=")) {
        None => Ok(String::new()),
        Some(n) => {
            let n = n.trim();
            if n.is_empty() || n.len() > 8 || !n.bytes().all(|c| c.is_ascii_digit()) {
                return Err(ManError::BadPrefix);
            }
            Ok(format!("{n}-"))
        }
    }
}

/// The user name and password of an HTTP Basic `Authorization` header, if well formed.
pub fn basic_credentials(value: Option<&HeaderValue>) -> Option<(String, String)> {
    let v = value?.to_str().ok()?;
    let (scheme, b64) = v.trim_start().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("Basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':').map(|(u, p)| (u.to_string(), p.to_string()))
}

fn unauthorized() -> Response<RespBody> {
    let mut r = plain(StatusCode::UNAUTHORIZED, "authentication required");
    r.headers_mut().insert("WWW-Authenticate", HeaderValue::from_static("Basic realm=\"xencim\""));
    r
}

/// Handles one HTTP request.
pub async fn handle(req: Request<Incoming>, broker: Arc<Broker>, opts: HttpOptions, peer: SocketAddr) -> Result<Response<RespBody>, Infallible> {
    // Authentication comes before any other answer: whatever the method, path or headers, a
    // client without valid credentials learns nothing but that it must authenticate (only a
    // broker configured with no authenticator, `allow_anonymous`, skips this).
    let mut principal = None;
    if let Some(auth) = &opts.authenticator {
        let creds = basic_credentials(req.headers().get("Authorization"));
        let ok = match &creds {
            Some((u, p)) => auth.authenticate(u, p).await,
            None => false,
        };
        if !ok {
            tracing::info!("authentication failed from {peer} for {:?}", creds.as_ref().map(|c| &c.0));
            return Ok(unauthorized());
        }
        principal = creds.map(|(user, _)| Caller { role: auth.role_of(&user), principal: user });
    }

    let method = req.method().clone();
    let is_mpost = method.as_str() == "M-POST";
    if method != Method::POST && !is_mpost {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "CIM operations use POST or M-POST");
        r.headers_mut().insert("Allow", HeaderValue::from_static("POST, M-POST"));
        return Ok(r);
    }
    if req.uri().path() != "/cimom" && req.uri().path() != "/" {
        return Ok(plain(StatusCode::NOT_FOUND, "CIM operations are served at /cimom"));
    }
    // M-POST: headers are prefixed with the namespace number given in Man.
    let prefix = if is_mpost {
        // a Man header that is not even ASCII is malformed, not a foreign extension
        let man = match req.headers().get("Man").map(|v| v.to_str()) {
            Some(Err(_)) => Err(ManError::BadPrefix),
            Some(Ok(m)) => mpost_prefix(Some(m)),
            None => mpost_prefix(None),
        };
        match man {
            Ok(p) => p,
            Err(ManError::NotExtended) => return Ok(plain(StatusCode::NOT_EXTENDED, "M-POST needs a Man header naming the CIM mapping")),
            Err(ManError::BadPrefix) => {
                return Ok(cim_http_error(StatusCode::BAD_REQUEST, "request-not-valid", "", "the Man header must be ASCII and its ns= a number"))
            }
        }
    } else {
        String::new()
    };
    let header = |name: &str| -> Option<String> {
        req.headers().get(format!("{prefix}{name}").as_str()).and_then(|v| v.to_str().ok()).map(str::to_string)
    };

    match header("CIMOperation") {
        Some(op) if op.eq_ignore_ascii_case("MethodCall") => {}
        Some(_) => return Ok(cim_http_error(StatusCode::BAD_REQUEST, "unsupported-operation", &prefix, "CIMOperation must be MethodCall")),
        None => return Ok(cim_http_error(StatusCode::BAD_REQUEST, "unsupported-operation", &prefix, "CIMOperation header missing")),
    }
    if let Some(v) = header("CIMProtocolVersion") {
        if !v.trim().starts_with("1.") {
            return Ok(cim_http_error(StatusCode::NOT_IMPLEMENTED, "unsupported-protocol-version", &prefix, "CIMProtocolVersion must be 1.x"));
        }
    }
    let cim_method = header("CIMMethod");
    let cim_object = header("CIMObject");

    // body, bounded in size and time
    if let Some(len) = req.headers().get("Content-Length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok()) {
        if len > opts.max_body_bytes as u64 {
            return Ok(plain(StatusCode::PAYLOAD_TOO_LARGE, &format!("request body over {} bytes", opts.max_body_bytes)));
        }
    }
    let body = Limited::new(req.into_body(), opts.max_body_bytes);
    let bytes = match tokio::time::timeout(opts.request_timeout, body.collect()).await {
        Err(_) => return Ok(plain(StatusCode::REQUEST_TIMEOUT, "request body not received in time")),
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                return Ok(plain(StatusCode::PAYLOAD_TOO_LARGE, &format!("request body over {} bytes", opts.max_body_bytes)));
            }
            return Ok(plain(StatusCode::BAD_REQUEST, "error reading the request body"));
        }
        Ok(Ok(c)) => c.to_bytes(),
    };

    let request = match cimxml::decode_request(&bytes) {
        Ok(r) => r,
        Err(RequestError::NotWellFormed(m)) => return Ok(cim_http_error(StatusCode::BAD_REQUEST, "request-not-well-formed", &prefix, &m)),
        Err(RequestError::NotValid(m)) => return Ok(cim_http_error(StatusCode::BAD_REQUEST, "request-not-valid", &prefix, &m)),
        Err(RequestError::UnsupportedVersion(w)) => return Ok(cim_http_error(StatusCode::NOT_IMPLEMENTED, w, &prefix, w)),
        Err(RequestError::MultipleRequests) => {
            return Ok(cim_http_error(StatusCode::NOT_IMPLEMENTED, "multiple-requests-unsupported", &prefix, "MULTIREQ is not supported"))
        }
    };
    // headers must agree with the body (DSP0200 7.4.3)
    match &cim_method {
        Some(m) if m == request.call.name() => {}
        _ => return Ok(cim_http_error(StatusCode::BAD_REQUEST, "header-mismatch", &prefix, "CIMMethod header does not match the request")),
    }
    if let (Call::Intrinsic { namespace, .. }, Some(obj)) = (&request.call, &cim_object) {
        let hdr = percent_decode(obj);
        if !crate::repo::normalize_ns(&hdr).eq_ignore_ascii_case(&crate::repo::normalize_ns(namespace)) {
            return Ok(cim_http_error(StatusCode::BAD_REQUEST, "header-mismatch", &prefix, "CIMObject header does not match the namespace"));
        }
    }
    if cim_object.is_none() {
        return Ok(cim_http_error(StatusCode::BAD_REQUEST, "header-mismatch", &prefix, "CIMObject header missing"));
    }

    tracing::debug!("{peer} {} by {:?}", request.call.name(), principal.as_ref().map(|c| &c.principal));
    let id = request.id.clone();
    let b = broker.clone();
    let call_name = request.call.name().to_string();
    let is_intrinsic = matches!(request.call, Call::Intrinsic { .. });
    let task = tokio::task::spawn_blocking(move || run_call(&b, &request.call, principal.as_ref()));
    let xml = match tokio::time::timeout(opts.operation_timeout, task).await {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => {
            tracing::error!("operation task failed: {e}");
            return Ok(plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error"));
        }
        Err(_) => {
            // the provider call goes on in its thread; the client is answered now
            tracing::warn!("{call_name} from {peer} exceeded {:?}", opts.operation_timeout);
            let tag = if is_intrinsic { "IMETHODRESPONSE" } else { "METHODRESPONSE" };
            let mut o = XmlOut::new();
            o.open(tag, &[("NAME", &call_name)]);
            write_err(&mut o, &call_name, &CimError::failed(format!("operation timed out after {:?}", opts.operation_timeout)));
            o.close(tag);
            o.buf
        }
    };
    let mut o = XmlOut::new();
    cimxml::begin_response(&mut o, &id);
    o.buf.push_str(&xml);
    cimxml::end_response(&mut o);
    let bytes = Bytes::from(o.buf);
    let body = if bytes.len() > CHUNK_SIZE { RespBody::chunked(bytes) } else { RespBody::full(bytes) };
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert("Content-Type", HeaderValue::from_static("application/xml; charset=\"utf-8\""));
    if is_mpost {
        h.insert("Ext", HeaderValue::from_static(""));
        // the prefix is digits and a dash (mpost_prefix), so both always convert
        if let Ok(v) = HeaderValue::from_str(&format!("{CIM_MAPPING}; ns={}", prefix.trim_end_matches('-'))) {
            h.insert("Man", v);
        }
    }
    if let Ok(name) = hyper::header::HeaderName::from_bytes(format!("{prefix}CIMOperation").as_bytes()) {
        h.insert(name, HeaderValue::from_static("MethodResponse"));
    }
    Ok(r)
}

/// Runs a call and renders IMETHODRESPONSE / METHODRESPONSE (with ERROR on failure).
fn run_call(broker: &Broker, call: &Call, caller: Option<&Caller>) -> String {
    let mut o = XmlOut::new();
    match call {
        Call::Intrinsic { name, namespace, params } => {
            o.open("IMETHODRESPONSE", &[("NAME", name)]);
            let r = crate::provider::guarded(name, || broker.intrinsic(name, namespace, params, caller));
            match r {
                Ok(out) => {
                    if let Some(rv) = out.ireturn {
                        // an empty result is written as a start/end pair: wbemcli
                        // does not accept <IRETURNVALUE/>
                        o.open("IRETURNVALUE", &[]);
                        o.buf.push_str(&rv);
                        o.close("IRETURNVALUE");
                    }
                    o.buf.push_str(&out.params);
                }
                Err(e) => write_err(&mut o, name, &e),
            }
            o.close("IMETHODRESPONSE");
        }
        Call::Extrinsic { name, namespace, target, params, .. } => {
            o.open("METHODRESPONSE", &[("NAME", name)]);
            match crate::provider::guarded(name, || broker.extrinsic(name, namespace, target, params, caller)) {
                Ok(body) => o.buf.push_str(&body),
                Err(e) => write_err(&mut o, name, &e),
            }
            o.close("METHODRESPONSE");
        }
    }
    o.buf
}

fn write_err(o: &mut XmlOut, op: &str, e: &CimError) {
    tracing::debug!("{op} failed: {e}");
    cimxml::write_error(o, e);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_header_prefixes() {
        let m = |s: &str| mpost_prefix(Some(s));
        assert_eq!(m("http://www.dmtf.org/cim/mapping/http/v1.0 ; ns=73"), Ok("73-".into()));
        assert_eq!(m("http://www.dmtf.org/cim/mapping/http/v1.0;ns=01"), Ok("01-".into()));
        assert_eq!(m("\"http://www.dmtf.org/cim/mapping/http/v1.0\"; ns=40"), Ok("40-".into()));
        assert_eq!(m("http://www.dmtf.org/cim/mapping/http/v1.0"), Ok(String::new()));
        // the CIM mapping's own ns=, not another extension's
        assert_eq!(m("http://example.org/x; ns=11, http://www.dmtf.org/cim/mapping/http/v1.0; ns=73"), Ok("73-".into()));
        assert_eq!(m("http://www.dmtf.org/cim/mapping/http/v1.0; ns=73;ns=74"), Ok("73-".into()));
        for bad in ["7 3", "", "-", "a", "../x", "73-", "123456789", "\"73\"", "7\u{e9}"] {
            assert_eq!(m(&format!("http://www.dmtf.org/cim/mapping/http/v1.0; ns={bad}")), Err(ManError::BadPrefix), "{bad:?}");
        }
        assert_eq!(m("http://example.org/x; ns=73"), Err(ManError::NotExtended));
        assert_eq!(m(""), Err(ManError::NotExtended));
        assert_eq!(mpost_prefix(None), Err(ManError::NotExtended));
    }

    #[test]
    fn basic_credentials_are_read_or_ignored() {
        let h = |s: &[u8]| HeaderValue::from_bytes(s).unwrap();
        assert_eq!(basic_credentials(Some(&h(b"Basic YWxpY2U6czNjcmV0"))), Some(("alice".into(), "s3cret".into())));
        assert_eq!(basic_credentials(Some(&h(b"basic YWxpY2U6OmI="))), Some(("alice".into(), ":b".into())));
        for bad in [&b"Basic"[..], b"Basic !!!", b"Bearer YWxpY2U6czNjcmV0", b"Basic YWxpY2U=", b"Basic //8=", b"Basic \xc3\xa9", b""] {
            assert_eq!(basic_credentials(Some(&h(bad))), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(basic_credentials(None), None);
    }

    #[test]
    fn percent_decoding_never_slices_inside_a_character() {
        assert_eq!(percent_decode("root%2Fcimv2"), "root/cimv2");
        assert_eq!(percent_decode("root%2fcimv2"), "root/cimv2");
        for odd in ["%", "%2", "%zz", "root%2Fcimv2%", "%e9", "é%", "%é", "%€1", "%%2F"] {
            let _ = percent_decode(odd);
        }
        assert_eq!(percent_decode("%%2F"), "%/");
        assert_eq!(percent_decode("%é"), "%é");
    }

    #[test]
    fn cim_error_header_falls_back_to_an_unprefixed_name() {
        let r = cim_http_error(StatusCode::BAD_REQUEST, "request-not-valid", "7 3-", "x");
        assert_eq!(r.headers().get("CIMError").unwrap(), "request-not-valid");
        let r = cim_http_error(StatusCode::BAD_REQUEST, "request-not-valid", "73-", "x");
        assert_eq!(r.headers().get("73-CIMError").unwrap(), "request-not-valid");
    }
}
