//! 10,000 VMs: how long `VM.get_all_records` takes through the client, end to end, and how much
//! memory the server process holds. Prints figures; asserts nothing.
//!
//! The server runs as a child process so its memory is its own (`/proc/<pid>/status`): by
//! default this bench binary started again in server mode (the same `Xapi::open` → `Bound::bind`
//! → `serve` path as `xencim serve`, plain HTTP only); with `XENCIM_BIN=/path/to/xencim` the real
//! `xencim serve`. The VMs are created through the API (`VM.create` with a full record, which
//! also creates each VM's metrics object) by a few concurrent clients, as a management tool would.
//!
//! The figures of issue 13's check, for XML-RPC and JSON-RPC: the server's resting RSS (after
//! the VMs are created, before any large answer), its peak RSS during one `VM.get_all_records`
//! answer (`VmHWM` reset just before the call, and `VmRSS` sampled every millisecond) and the
//! ratio of the two; the time from sending the request to the last byte of the answer (nothing
//! decoded); and the client's decoding of that body into typed records.
//!
//! `cargo bench -p xenapi-core --bench many_vms` (env `BENCH_VMS`, default 10000; `BENCH_RUNS`,
//! default 5; `BENCH_SAVE_ANSWER=<file>` keeps the `VM.get_all_records` answer for profiling).

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use xenapi_client::{encode_call, Client, Session};
use xenapi_core::Value;

const SERVE_ENV: &str = "XENCIM_BENCH_SERVE_DIR";
const CLIENTS: usize = 4;

fn main() {
    if let Some(dir) = std::env::var_os(SERVE_ENV) {
        return serve_child(Path::new(&dir));
    }
    let vms: usize = env_or("BENCH_VMS", 10_000);
    let runs: usize = env_or("BENCH_RUNS", 5);
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, addr) = spawn_server(dir.path());
    let pid = child.id();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let url = format!("http://{addr}/");
        println!("server pid {pid} ({}), at start: {}", server_kind(), memory(pid));

        let sessions = logins(&url).await;
        let t = Instant::now();
        populate(&sessions, vms).await;
        let took = t.elapsed();
        println!(
            "created {vms} VMs through VM.create with {CLIENTS} clients in {:.1} s ({:.0}/s); server: {}",
            took.as_secs_f64(),
            vms as f64 / took.as_secs_f64(),
            memory(pid)
        );

        let s = &sessions[0];
        let total = s.get_all("VM").await.unwrap().len();
        assert!(total > vms, "every VM created, and dom0");
        // Resting: the VMs created, no large answer made yet, and a moment for the server to
        // finish what the creation left (metrics, the store's writer).
        tokio::time::sleep(Duration::from_secs(3)).await;
        let resting = rss_kib(pid, "VmRSS:");
        println!("server resting RSS (VmRSS after creation, before any large answer): {:.1} MB", mb(resting));

        let xml_call = || encode_call("VM.get_all_records", &[Value::str(s.session_ref())]);
        let json_call =
            || format!(r#"{{"jsonrpc":"2.0","method":"VM.get_all_records","params":["{}"],"id":1}}"#, s.session_ref());
        let mut xml = Vec::new();
        let mut json = Vec::new();
        let mut decode = Vec::new();
        for run in 0..runs.max(1) {
            let (a, body) = answer(s, pid, "/", "text/xml", xml_call()).await;
            if run == 0 {
                if let Some(path) = std::env::var_os("BENCH_SAVE_ANSWER") {
                    std::fs::write(path, &body).expect("BENCH_SAVE_ANSWER");
                }
                println!("VM.get_all_records answer: {:.1} MiB for {total} VMs", body.len() as f64 / (1 << 20) as f64);
            }
            // The client's share: the body into typed records, as Session::get_all_records does.
            let t = Instant::now();
            let records = xenapi_client::typed::decode_all_records("VM", &body).unwrap();
            decode.push(t.elapsed());
            assert_eq!(records.len(), total);
            drop((records, body));
            xml.push(a);
            let (a, body) = answer(s, pid, "/jsonrpc", "application/json", json_call().into_bytes()).await;
            assert!(body.starts_with(b"{\"jsonrpc\":\"2.0\",\"result\":{"), "JSON-RPC answered {}", String::from_utf8_lossy(&body[..body.len().min(200)]));
            json.push(a);
        }
        let typed = median(runs, || async {
            assert_eq!(s.get_all_records("VM").await.unwrap().len(), total);
        })
        .await;
        decode.sort();
        println!("VM.get_all_records with {total} VMs, median of {runs} runs (each run: XML-RPC, then JSON-RPC):");
        for (name, runs) in [("XML-RPC ", &mut xml), ("JSON-RPC", &mut json)] {
            let pick = |f: &dyn Fn(&Answer) -> f64| {
                let mut v: Vec<f64> = runs.iter().map(f).collect();
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            println!(
                "  {name} server peak RSS during the answer {:.1} MB (VmHWM reset before the call {}; sampled VmRSS max {:.1} MB), \
                 {:.2} x resting; time to last byte {:.1} ms",
                pick(&|a| mb(a.peak)),
                if runs.iter().all(|a| a.hwm.is_some()) { "used" } else { "not available" },
                pick(&|a| mb(a.sampled)),
                pick(&|a| a.peak as f64 / resting as f64),
                pick(&|a| ms(a.last_byte)),
            );
            for (i, a) in runs.iter().enumerate() {
                println!(
                    "      run {i}: RSS before {:.1} MB, peak {:.1} MB (VmHWM {}, sampled {:.1} MB, {} samples), last byte {:.1} ms",
                    mb(a.before),
                    mb(a.peak),
                    a.hwm.map_or("-".to_string(), |h| format!("{:.1} MB", mb(h))),
                    mb(a.sampled),
                    a.samples,
                    ms(a.last_byte)
                );
            }
        }
        println!("  client decoding of the XML-RPC body into typed records: {:.1} ms", ms(decode[decode.len() / 2]));
        println!("  end to end through the client (Session::get_all_records): {:.1} ms", ms(typed));
        println!("server after the runs: {}", memory(pid));
        for s in &sessions {
            let _ = s.logout().await;
        }
    });
    stop_server(&mut child);
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn logins(url: &str) -> Vec<Session> {
    let mut out = Vec::new();
    for _ in 0..CLIENTS {
        let c = Client::connect(url).await.expect("connect");
        out.push(c.login("root", support::PASSWORD, "bench").await.expect("login"));
    }
    out
}

/// `n` VM.create calls spread over the sessions, each session on its own connection.
async fn populate(sessions: &[Session], n: usize) {
    let per = n.div_ceil(sessions.len());
    let work = sessions.iter().enumerate().map(|(i, s)| async move {
        for j in i * per..((i + 1) * per).min(n) {
            s.create("VM", support::vm_fields(&format!("vm-{j:05}"))).await.expect("VM.create");
        }
    });
    futures_util::future::join_all(work).await;
}

async fn median<F, Fut>(runs: usize, f: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        f().await;
        times.push(t.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

/// What one answer cost the server, and how long its bytes took to arrive.
struct Answer {
    /// VmRSS just before the call, KiB.
    before: u64,
    /// The larger of the sampled maximum and VmHWM (when it could be reset), KiB.
    peak: u64,
    hwm: Option<u64>,
    sampled: u64,
    samples: usize,
    /// From sending the request to the last body byte (the body collected, nothing decoded).
    last_byte: Duration,
}

/// One `VM.get_all_records` over HTTP, with the server's memory watched during it: its peak
/// (`VmHWM`) reset first through `clear_refs` (so that the creation phase does not count), and
/// its `VmRSS` sampled every millisecond by a thread, as a check on the former and in case the
/// reset is not allowed.
async fn answer(s: &Session, pid: u32, path: &str, content_type: &str, call: impl Into<bytes::Bytes>) -> (Answer, bytes::Bytes) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(pid, "VmRSS:");
    let reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut max, mut n) = (0, 0);
            while !stop.load(Ordering::Relaxed) {
                max = max.max(rss_kib(pid, "VmRSS:"));
                n += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            (max, n)
        })
    };
    let call = call.into();
    let t = Instant::now();
    let (status, body) = s.client().post(path, content_type, call).await.unwrap();
    let last_byte = t.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (sampled, samples) = sampler.join().unwrap();
    assert_eq!(status, 200);
    let hwm = reset.then(|| rss_kib(pid, "VmHWM:"));
    let peak = sampled.max(hwm.unwrap_or(0));
    (Answer { before, peak, hwm, sampled, samples, last_byte }, body)
}

/// A `/proc/<pid>/status` field in KiB (0 if unreadable).
fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0)
}

fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

/// `VmRSS` and `VmHWM` (peak) of a process.
fn memory(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map(|kib| format!("{:.1} MB", kib * 1024.0 / 1e6))
            .unwrap_or_else(|| "?".into())
    };
    format!("RSS {}, peak {}", field("VmRSS:"), field("VmHWM:"))
}

fn server_kind() -> String {
    match std::env::var("XENCIM_BIN") {
        Ok(bin) => format!("{bin} serve"),
        Err(_) => "this bench in server mode".into(),
    }
}

// ---------------------------------------------------------------- the server process

/// Starts the server on `dir`; returns it and its plain-HTTP address.
fn spawn_server(dir: &Path) -> (Child, SocketAddr) {
    match std::env::var_os("XENCIM_BIN") {
        Some(bin) => {
            let pw = dir.join("rootpw");
            std::fs::write(&pw, format!("{}\n", support::PASSWORD)).unwrap();
            // A port that was free a moment ago; the server binds it right after.
            let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
            let child = Command::new(bin)
                .args(["serve", "--state-dir"])
                .arg(dir)
                .args(["--xenapi-listen", &addr.to_string(), "--xenapi-tls-listen", "off", "--root-password-file"])
                .arg(&pw)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start xencim serve");
            let deadline = Instant::now() + Duration::from_secs(30);
            while std::net::TcpStream::connect(addr).is_err() {
                assert!(Instant::now() < deadline, "xencim serve did not start");
                std::thread::sleep(Duration::from_millis(50));
            }
            (child, addr)
        }
        None => {
            let mut child = Command::new(std::env::current_exe().unwrap())
                .env(SERVE_ENV, dir)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("start the server process");
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
            let addr = line.trim().strip_prefix("LISTENING ").unwrap_or_else(|| panic!("server said {line:?}"));
            (child, addr.parse().unwrap())
        }
    }
}

/// Asks our own child to stop (SIGTERM for `xencim serve`, end of stdin for server mode), and
/// kills it if it has not within 20 s.
fn stop_server(child: &mut Child) {
    match child.stdin.take() {
        Some(stdin) => drop(stdin),
        // SAFETY: kill(2) on the pid of a child we started and have not yet reaped.
        None => unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        },
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Server mode: the XenAPI on `dir` over plain HTTP on an ephemeral loopback port, announced on
/// stdout as `LISTENING <addr>`, until stdin is closed.
fn serve_child(dir: &Path) {
    use xenapi_core::api::Xapi;
    use xenapi_core::config::CoreConfig;
    use xenapi_core::server::{Bound, ListenConfig};
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let mut config = CoreConfig::new(dir.to_path_buf());
        config.initial_root_password = Some(support::PASSWORD.to_string());
        let xapi = Xapi::open(config).expect("Xapi::open");
        xapi.spawn_housekeeping();
        let bound = Bound::bind(&ListenConfig {
            tcp: Some("127.0.0.1:0".parse().unwrap()),
            tls: None,
            unix: None,
            max_body_bytes: 16 << 20,
            max_connections: 1024,
        })
        .await
        .expect("bind");
        let mut out = std::io::stdout();
        writeln!(out, "LISTENING {}", bound.tcp_addr.unwrap()).unwrap();
        out.flush().unwrap();
        let stdin_closed = tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            while std::io::stdin().read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {}
        });
        bound.serve(xapi, async move {
            let _ = stdin_closed.await;
        })
        .await;
    });
}
