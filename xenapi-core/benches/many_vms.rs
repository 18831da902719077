//! 10,000 VMs: how long `VM.get_all_records` takes through the client, end to end, and how much
//! memory the server process holds. Prints figures; asserts nothing.
//!
//! The server runs as a child process so its memory is its own (`/proc/<pid>/status`): by
//! default this bench binary started again in server mode (the same `Xapi::open` → `Bound::bind`
//! → `serve` path as `xencim serve`, plain HTTP only); with `XENCIM_BIN=/path/to/xencim` the real
//! `xencim serve`. The VMs are created through the API (`VM.create` with a full record, which
//! also creates each VM's metrics object) by a few concurrent clients, as a management tool would.
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
        let (status, body) =
            s.client().post("/", "text/xml", encode_call("VM.get_all_records", &[Value::str(s.session_ref())])).await.unwrap();
        assert_eq!(status, 200);
        if let Some(path) = std::env::var_os("BENCH_SAVE_ANSWER") {
            std::fs::write(path, &body).expect("BENCH_SAVE_ANSWER");
        }
        println!("VM.get_all_records answer: {:.1} MiB for {total} VMs", body.len() as f64 / (1 << 20) as f64);

        assert!(total > vms, "every VM created, and dom0");
        let typed = median(runs, || async {
            assert_eq!(s.get_all_records("VM").await.unwrap().len(), total);
        })
        .await;
        let wire = median(runs, || async {
            s.call("VM.get_all_records", vec![]).await.unwrap();
        })
        .await;
        let bytes = median(runs, || async {
            let (status, _) = s
                .client()
                .post("/", "text/xml", encode_call("VM.get_all_records", &[Value::str(s.session_ref())]))
                .await
                .unwrap();
            assert_eq!(status, 200);
        })
        .await;
        // Where the client's share goes, on the body captured above.
        let decode = median(runs, || async {
            xenapi_client::xmlrpc::decode_response(&body).unwrap().unwrap();
        })
        .await;
        let mut typing = Vec::new();
        for _ in 0..runs.max(1) {
            let decoded = xenapi_client::xmlrpc::decode_response(&body).unwrap().unwrap();
            let t = Instant::now();
            let xenapi_core::rpc::Wire::Struct(members) = decoded else { panic!("not a struct") };
            let vm = xenapi_core::model::model().class("VM").unwrap();
            for (_, rec) in members {
                let xenapi_core::rpc::Wire::Struct(fields) = rec else { panic!("not a record") };
                xenapi_client::ObjectRecord::from_wire(vm, fields).unwrap();
            }
            typing.push(t.elapsed());
        }
        typing.sort();
        let typing = typing[typing.len() / 2];
        println!("VM.get_all_records, median of {runs} (target < 150 ms for the typed figure):");
        println!("  typed records (Session::get_all_records): {:>7.1} ms", ms(typed));
        println!("  decoded wire values (Session::call):      {:>7.1} ms", ms(wire));
        println!("  HTTP bytes only (Client::post):           {:>7.1} ms", ms(bytes));
        println!("  of which in the client: XML decoding {:.1} ms, typing {:.1} ms", ms(decode), ms(typing));
        println!("server after the runs (target RSS < 150 MB): {}", memory(pid));
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
