//! When a kept-alive connection dies under a request, against a scripted HTTP server that can
//! read a request and hang up without answering (what a server closing an idle connection looks
//! like to the client, made deterministic).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use xenapi_client::{Client, ClientError};
use xenapi_core::rpc::{xmlrpc, Wire};
use xenapi_core::Value;

/// Reads one HTTP request (headers and a Content-Length body); false at end of stream.
async fn read_request(s: &mut TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte).await {
            Ok(1) => buf.push(byte[0]),
            _ => return false,
        }
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.is_ok()
}

async fn answer(s: &mut TcpStream, text: &str) {
    let body = xmlrpc::encode_success(&Value::str(text));
    let head = format!("HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: {}\r\n\r\n", body.len());
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body.as_bytes()).await.unwrap();
}

/// Serves connections in turn; on connection `i`, `script(i)` says how many requests to answer
/// before reading one more and hanging up without answering it.
async fn scripted(script: fn(usize) -> usize) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", l.local_addr().unwrap());
    tokio::spawn(async move {
        for i in 0.. {
            let (mut s, _) = l.accept().await.unwrap();
            for n in 0..script(i) {
                if !read_request(&mut s).await {
                    break;
                }
                answer(&mut s, &format!("conn {i} answer {n}")).await;
            }
            read_request(&mut s).await;
            drop(s);
        }
    });
    url
}

#[tokio::test]
async fn a_kept_alive_connection_closed_under_a_request_is_replaced_and_the_call_sent_again() {
    // Connection 0 answers once, then hangs up on the next request; connection 1 answers.
    let url = scripted(|i| if i == 0 { 1 } else { 10 }).await;
    let c = Client::connect(&url).await.unwrap();
    assert_eq!(c.call("m", &[]).await.unwrap(), Wire::Str("conn 0 answer 0".into()));
    assert_eq!(c.call("m", &[]).await.unwrap(), Wire::Str("conn 1 answer 0".into()));
    assert_eq!(c.connections_opened(), 2);
}

#[tokio::test]
async fn a_new_connection_closed_under_a_request_is_an_error_and_not_repeated() {
    // Every connection hangs up on its first request.
    let url = scripted(|_| 0).await;
    let c = Client::connect(&url).await.unwrap();
    let e = c.call("m", &[]).await.unwrap_err();
    assert!(matches!(e, ClientError::Http(_)) && e.is_transport(), "{e}");
    assert_eq!(c.connections_opened(), 1, "not sent again");
}
