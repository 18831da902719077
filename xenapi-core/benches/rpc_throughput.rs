//! `VM.get_record` calls per second through the XenAPI client, against the in-process server
//! and against a bare hyper server answering the same bytes without doing anything: the ratio
//! shows what the API (dispatch, session check, store read, encoding) costs on top of HTTP and
//! the client itself. Prints figures; asserts nothing.
//!
//! When `wrk` is on the PATH, the same two servers are also driven by wrk (16 keep-alive
//! connections, 2 threads, a separate process), side by side in one run.
//!
//! `cargo bench -p xenapi-core --bench rpc_throughput` (env `BENCH_SECS`, default 3 per run).

#[path = "../tests/support/mod.rs"]
mod support;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::CONTENT_TYPE;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use xenapi_client::{encode_call, Client};
use xenapi_core::Value;

fn main() {
    let secs: f64 = std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(run(Duration::from_secs_f64(secs)));
}

async fn run(secs: Duration) {
    let srv = support::TestServer::start().await;
    let url = srv.http_url();
    let setup = Client::connect(&url).await.unwrap();
    let session = setup.login("root", support::PASSWORD, "bench").await.unwrap();
    let vm = session.create("VM", support::vm_fields("bench")).await.unwrap();
    let args = [Value::str(session.session_ref()), Value::str(vm.as_str())];

    // The exact bytes the server answers, for the bare server to send back.
    let (status, answer) = setup.post("/", "text/xml", encode_call("VM.get_record", &args)).await.unwrap();
    assert_eq!(status, 200);
    let bare = bare_server(answer.clone()).await;
    println!("VM.get_record: answer {} bytes, request {} bytes", answer.len(), encode_call("VM.get_record", &args).len());
    println!("{:>8} {:>14} {:>14} {:>7}", "clients", "xencim call/s", "bare call/s", "ratio");
    for clients in [1, 16] {
        let api = drive(&url, clients, secs, &args).await;
        let raw = drive(&format!("http://{bare}/"), clients, secs, &args).await;
        println!("{clients:>8} {api:>14.0} {raw:>14.0} {:>7.2}", api / raw);
    }
    let body = encode_call("VM.get_record", &args);
    match (wrk(&url, &body, secs), wrk(&format!("http://{bare}/"), &body, secs)) {
        (Some(api), Some(raw)) => println!("{:>8} {api:>14.0} {raw:>14.0} {:>7.2}   (wrk, 16 connections)", "wrk", api / raw),
        _ => println!("(wrk not found: no wrk figures)"),
    }
    session.logout().await.unwrap();
    srv.stop().await;
}

/// `clients` clients, each on its own keep-alive connection, calling `VM.get_record` in a loop
/// for `secs` after a short warm-up; calls per second overall.
async fn drive(url: &str, clients: usize, secs: Duration, args: &[Value]) -> f64 {
    let mut conns = Vec::new();
    for _ in 0..clients {
        conns.push(Client::builder(url).max_idle_connections(1).connect().await.unwrap());
    }
    for c in &conns {
        c.call("VM.get_record", args).await.unwrap();
    }
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + secs;
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|c| {
            let (count, args) = (count.clone(), args.to_vec());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    c.call("VM.get_record", &args).await.unwrap();
                    count.fetch_add(1, Ordering::Relaxed);
                }
                assert_eq!(c.connections_opened(), 1, "keep-alive held");
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// An HTTP/1.1 keep-alive server that reads each request body and answers `answer`.
/// Requests per second wrk reports for POSTing `body` to `url` (None without wrk).
fn wrk(url: &str, body: &str, secs: Duration) -> Option<f64> {
    let dir = tempfile::tempdir().ok()?;
    let script = dir.path().join("post.lua");
    let lua_body = body.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
    std::fs::write(&script, format!("wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"text/xml\"\nwrk.body = \"{lua_body}\"\n")).ok()?;
    let out = std::process::Command::new("wrk")
        .args(["-t2", "-c16", &format!("-d{}s", secs.as_secs().max(1)), "-s"])
        .arg(&script)
        .arg(url)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains("Non-2xx") {
        eprintln!("wrk got errors from {url}:\n{text}");
    }
    text.lines().find_map(|l| l.strip_prefix("Requests/sec:")).and_then(|v| v.trim().parse().ok())
}

async fn bare_server(answer: Bytes) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = l.accept().await else { continue };
            let _ = s.set_nodelay(true);
            let answer = answer.clone();
            let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let answer = answer.clone();
                async move {
                    let _ = req.into_body().collect().await;
                    let mut r = hyper::Response::new(Full::new(answer));
                    r.headers_mut().insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/xml"));
                    Ok::<_, std::convert::Infallible>(r)
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(hyper_util::rt::TokioIo::new(s), svc),
            );
        }
    });
    addr
}
