//! Event and lifecycle figures (printed, not asserted):
//! - latency from a write to `event.from` returning it, p50/p99, with 1 and 100 watchers: with
//!   the server in this process, and with `XENCIM_BIN` set also with the server as a separate
//!   `xencim serve` process (the watchers then do not share the server's runtime);
//! - VM start + clean_shutdown cycles per second on the simulated host with zero guest delay.
//!
//! `cargo bench -p xenapi-core --bench events`

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use xenapi_client::Client;
use xenapi_core::rpc::Wire;
use xenapi_core::Value;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(run());
}

async fn run() {
    let srv = support::TestServer::start_in(tempfile::tempdir().unwrap(), None, |c| {
        c.host.guest_shutdown_ms = 0;
        c.host.metrics_interval_secs = 3600.0;
        c.host.memory_mib = 1 << 20;
        c.sessions_per_originator = 1000;
    })
    .await;
    let url = srv.http_url();
    let client = Client::connect(&url).await.unwrap();
    let admin = client.login("root", support::PASSWORD, "bench").await.unwrap();
    let vm = admin.create("VM", support::vm_fields("evented")).await.unwrap();

    println!("event latency: write sent -> event.from returns it (includes the write's own commit)");
    print_event_latency("server in this process", &url, &vm).await;
    if let Ok(bin) = std::env::var("XENCIM_BIN") {
        let external = ExternalServer::start(&bin);
        let c = Client::connect(&external.url).await.unwrap();
        let s = c.login("root", support::PASSWORD, "bench").await.unwrap();
        let vm = s.create("VM", support::vm_fields("evented")).await.unwrap();
        print_event_latency("server in its own process", &external.url, &vm).await;
    }

    let secs = Duration::from_secs(3);
    for parallel in [1usize, 4] {
        let cycles = start_shutdown_cycles(&url, parallel, secs).await;
        println!(
            "VM start + clean_shutdown, zero guest delay, {parallel} VM(s) in parallel: {:.1} cycles/s",
            cycles as f64 / secs.as_secs_f64()
        );
    }
    srv.stop().await;
}

async fn print_event_latency(where_: &str, url: &str, vm: &str) {
    for watchers in [1usize, 100] {
        let (p50, p99, n, write_p50) = event_latency(url, vm, watchers, 300).await;
        println!(
            "  {where_}, {watchers:>3} watcher(s): p50 {:.2} ms, p99 {:.2} ms over {n} deliveries (write round trip p50 {:.2} ms)",
            p50, p99, write_p50
        );
    }
}

/// `xencim serve` as its own process on a free loopback port, stopped when dropped.
struct ExternalServer {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl ExternalServer {
    fn start(bin: &str) -> ExternalServer {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, format!("{}\n", support::PASSWORD)).unwrap();
        let config = dir.path().join("xencim.toml");
        std::fs::write(&config, "[sim_host]\nguest_shutdown_ms = 0\nmetrics_interval_secs = 3600.0\nmemory_mib = 1048576\n").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let state = dir.path().join("state");
        let child = std::process::Command::new(bin)
            .args(["serve", "--state-dir"])
            .arg(&state)
            .args(["--xenapi-listen", &format!("127.0.0.1:{port}"), "--xenapi-tls-listen", "off", "--cim-listen", "off"])
            .args(["--sessions-per-originator", "1000", "--root-password-file"])
            .arg(&pw)
            .arg("--config")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "{bin} did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        ExternalServer { child, url: format!("http://127.0.0.1:{port}/"), _dir: dir }
    }
}

impl Drop for ExternalServer {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

fn name_description(ev: &Wire) -> Option<String> {
    let Wire::Struct(members) = ev else { return None };
    let snap = members.iter().find(|(k, _)| k == "snapshot").map(|(_, v)| v)?;
    let Wire::Struct(fields) = snap else { return None };
    match fields.iter().find(|(k, _)| k == "name_description").map(|(_, v)| v)? {
        Wire::Str(s) => Some(s.clone()),
        _ => None,
    }
}

fn member<'a>(w: &'a Wire, name: &str) -> Option<&'a Wire> {
    match w {
        Wire::Struct(m) => m.iter().find(|(k, _)| k == name).map(|(_, v)| v),
        _ => None,
    }
}

async fn event_latency(url: &str, vm: &str, watchers: usize, writes: usize) -> (f64, f64, usize, f64) {
    let sent: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; writes]));
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(tokio::sync::Notify::new());
    let mut tasks = Vec::new();
    let mut ready = Vec::new();
    for _ in 0..watchers {
        let (url, vm, sent, latencies) = (url.to_string(), vm.to_string(), sent.clone(), latencies.clone());
        let (tx, rx) = tokio::sync::oneshot::channel();
        ready.push(rx);
        tasks.push(tokio::spawn(async move {
            let c = Client::connect(&url).await.unwrap();
            let s = c.login("root", support::PASSWORD, "bench-watchers").await.unwrap();
            let classes = Value::Set(vec![Value::str(format!("vm/{vm}"))]);
            let first = s.call("event.from", vec![classes.clone(), Value::str(""), Value::Float(0.0)]).await.unwrap();
            let mut token = match member(&first, "token") {
                Some(Wire::Str(t)) => t.clone(),
                _ => panic!("no token"),
            };
            let _ = tx.send(());
            let mut last_seen = 0usize;
            while last_seen + 1 < writes {
                let r = s.call("event.from", vec![classes.clone(), Value::str(&token), Value::Float(5.0)]).await.unwrap();
                let now = Instant::now();
                if let Some(Wire::Str(t)) = member(&r, "token") {
                    token = t.clone();
                }
                let Some(Wire::Array(events)) = member(&r, "events") else { continue };
                if events.is_empty() {
                    break; // the writer is done
                }
                for ev in events {
                    if let Some(seq) = name_description(ev).and_then(|d| d.parse::<usize>().ok()) {
                        if let Some(t0) = sent.lock().await[seq] {
                            latencies.lock().await.push(now.duration_since(t0).as_secs_f64() * 1000.0);
                        }
                        last_seen = last_seen.max(seq);
                    }
                }
            }
            let _ = s.logout().await;
        }));
    }
    for r in ready {
        let _ = r.await;
    }
    let c = Client::connect(url).await.unwrap();
    let writer = c.login("root", support::PASSWORD, "bench-writer").await.unwrap();
    let mut round_trips = Vec::new();
    for seq in 0..writes {
        let t0 = Instant::now();
        sent.lock().await[seq] = Some(t0);
        writer.call("VM.set_name_description", vec![Value::str(vm), Value::str(seq.to_string())]).await.unwrap();
        round_trips.push(t0.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    done.notify_waiters();
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(30), t).await;
    }
    let mut l = latencies.lock().await.clone();
    l.sort_by(|a, b| a.total_cmp(b));
    round_trips.sort_by(|a, b| a.total_cmp(b));
    let pct = |v: &[f64], p: f64| if v.is_empty() { f64::NAN } else { v[((v.len() - 1) as f64 * p) as usize] };
    (pct(&l, 0.5), pct(&l, 0.99), l.len(), pct(&round_trips, 0.5))
}

async fn start_shutdown_cycles(url: &str, parallel: usize, secs: Duration) -> usize {
    let mut tasks = Vec::new();
    for i in 0..parallel {
        let url = url.to_string();
        tasks.push(tokio::spawn(async move {
            let c = Client::connect(&url).await.unwrap();
            let s = c.login("root", support::PASSWORD, "bench-cycles").await.unwrap();
            let mut fields = support::vm_fields(&format!("cycler-{i}"));
            fields.retain(|(k, _)| k != "blocked_operations");
            let vm = s.create("VM", fields).await.unwrap();
            let deadline = Instant::now() + secs;
            let mut n = 0;
            while Instant::now() < deadline {
                s.call("VM.start", vec![Value::str(&vm), Value::Bool(false), Value::Bool(false)]).await.unwrap();
                s.call("VM.clean_shutdown", vec![Value::str(&vm)]).await.unwrap();
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total
}
