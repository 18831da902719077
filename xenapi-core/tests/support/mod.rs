//! An in-process XenAPI server for the client tests and benchmarks: the real `Xapi` and the real
//! HTTP front end, as `xencim serve` runs them, on ephemeral loopback ports (plain, TLS) and a
//! Unix socket in a private temporary state directory.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::oneshot;
use xenapi_core::api::Xapi;
use xenapi_core::config::CoreConfig;
use xenapi_core::server::{self, Bound, ListenConfig};
use xenapi_core::Value;

pub const PASSWORD: &str = "client-test-password";
pub const GIB: i64 = 1 << 30;

pub fn map(pairs: &[(&str, &str)]) -> Value {
    Value::Map(pairs.iter().map(|(k, v)| (Value::str(*k), Value::str(*v))).collect())
}

/// A full VM.create record: the one the Python end-to-end tests create, with typed values.
pub fn vm_fields(name: &str) -> Vec<(String, Value)> {
    let s = Value::str;
    [
        ("name_label", s(name)),
        ("name_description", s("made by the client tests")),
        ("user_version", Value::Int(1)),
        ("is_a_template", Value::Bool(false)),
        ("affinity", s("OpaqueRef:NULL")),
        ("memory_static_max", Value::Int(4 * GIB)),
        ("memory_dynamic_max", Value::Int(4 * GIB)),
        ("memory_dynamic_min", Value::Int(2 * GIB)),
        ("memory_static_min", Value::Int(GIB)),
        ("VCPUs_params", map(&[("weight", "256")])),
        ("VCPUs_max", Value::Int(4)),
        ("VCPUs_at_startup", Value::Int(2)),
        ("actions_after_shutdown", s("destroy")),
        ("actions_after_reboot", s("restart")),
        ("actions_after_crash", s("preserve")),
        ("PV_bootloader", s("pygrub")),
        ("PV_kernel", s("")),
        ("PV_ramdisk", s("")),
        ("PV_args", s("console=hvc0 <&>")),
        ("PV_bootloader_args", s("")),
        ("PV_legacy_args", s("")),
        ("HVM_boot_policy", s("")),
        ("HVM_boot_params", map(&[])),
        ("HVM_shadow_multiplier", Value::Float(1.5)),
        ("platform", map(&[("acpi", "1"), ("apic", "true")])),
        ("PCI_bus", s("")),
        ("other_config", map(&[("owner", "client-tests")])),
        ("recommendations", s("<restrictions/>")),
        ("tags", Value::Set(vec![s("a"), s("b")])),
        ("blocked_operations", Value::Map(vec![(s("suspend"), s("no suspend for this one"))])),
        ("domain_type", s("pv")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub xapi: Arc<Xapi>,
    pub tcp: SocketAddr,
    pub tls: SocketAddr,
    pub socket: PathBuf,
    pub cert_pem: Vec<u8>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_in(tempfile::tempdir().expect("tempdir"), None, |_| {}).await
    }

    /// Starts on `dir` (kept from an earlier run to restart on the same state), with the plain
    /// listener on `tcp` if given (to come back on the same port), after `tweak`ing the config.
    pub async fn start_in(dir: tempfile::TempDir, tcp: Option<SocketAddr>, tweak: impl FnOnce(&mut CoreConfig)) -> TestServer {
        let mut config = CoreConfig::new(dir.path().to_path_buf());
        config.initial_root_password = Some(PASSWORD.to_string());
        tweak(&mut config);
        let xapi = Xapi::open(config).expect("Xapi::open");
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        server::tls::ensure_self_signed(&cert, &key, "localhost").expect("certificate");
        let socket = dir.path().join("xapi.sock");
        let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let bound = Bound::bind(&ListenConfig {
            tcp: Some(tcp.unwrap_or(loopback)),
            tls: Some((loopback, cert.clone(), key)),
            unix: Some(socket.clone()),
            max_body_bytes: 16 << 20,
            max_connections: 1024,
        })
        .await
        .expect("bind");
        let (tcp, tls) = (bound.tcp_addr.unwrap(), bound.tls_addr.unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(bound.serve(xapi.clone(), async move {
            let _ = stopped.await;
        }));
        let cert_pem = std::fs::read(&cert).unwrap();
        TestServer { dir, xapi, tcp, tls, socket, cert_pem, stop: Some(stop), task }
    }

    pub fn http_url(&self) -> String {
        format!("http://{}/", self.tcp)
    }

    pub fn https_url(&self) -> String {
        format!("https://{}/", self.tls)
    }

    pub fn unix_url(&self) -> String {
        format!("unix:{}", self.socket.display())
    }

    /// Stops serving (open keep-alive connections are closed) and hands back the state directory.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        (&mut self.task).await.expect("server task");
        self.dir
    }
}
