//! Standalone embedded broker.
//!
//! ```text
//! xencim-broker [--listen 127.0.0.1:5988] [--schema FILE|DIR] [--mof FILE]... [--mof-dir DIR]...
//!               [--providers-dir DIR|FILE.reg]... [--provider-lib-dir DIR]... (--no-auth | --auth USER:PASSWORD)
//!               [--state-dir DIR] [--tls-cert PEM --tls-key PEM] [--max-body BYTES] [--request-timeout SECONDS] [--operation-timeout SECONDS] [--demo-provider]
//! ```
//! Prints `listening on ADDR` once the socket is bound (port 0 picks one).
//! With `--tls-cert` and `--tls-key` the listener speaks HTTPS (rustls).
//! `--demo-provider` registers an in-process test provider (class
//! `XenTest_Element` and `XenTest_Child`, see `xencim_broker::demo`) for
//! end-to-end tests and benchmarks; it needs the test MOF that declares them.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use xencim_broker::{BrokerConfig, StaticAuthenticator};

fn usage() -> ! {
    eprintln!("usage: xencim-broker [--listen ADDR] [--schema PATH] [--mof FILE]... [--mof-dir DIR]... [--providers-dir DIR|FILE.reg]... [--provider-lib-dir DIR]... (--no-auth | --auth USER:PASSWORD) [--state-dir DIR] [--tls-cert PEM --tls-key PEM] [--max-body BYTES] [--request-timeout SECONDS] [--operation-timeout SECONDS] [--demo-provider]");
    std::process::exit(2);
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let mut cfg = BrokerConfig::default();
    let mut auth_chosen = false;
    let mut demo = false;
    let (mut tls_cert, mut tls_key): (Option<PathBuf>, Option<PathBuf>) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--listen" => cfg.listen = val().parse().context("--listen")?,
            "--schema" => cfg.schema = Some(PathBuf::from(val())),
            "--mof" => cfg.mof_files.push(PathBuf::from(val())),
            "--mof-dir" => cfg.mof_dirs.push(PathBuf::from(val())),
            "--providers-dir" | "--registration" => cfg.registrations.push(PathBuf::from(val())),
            "--provider-lib-dir" => cfg.provider_lib_dirs.push(PathBuf::from(val())),
            "--tls-cert" => tls_cert = Some(PathBuf::from(val())),
            "--tls-key" => tls_key = Some(PathBuf::from(val())),
            "--request-timeout" => cfg.request_timeout = std::time::Duration::from_secs_f64(val().parse().context("--request-timeout SECONDS")?),
            "--operation-timeout" => cfg.operation_timeout = std::time::Duration::from_secs_f64(val().parse().context("--operation-timeout SECONDS")?),
            "--state-dir" => cfg.state_dir = Some(PathBuf::from(val())),
            "--max-body" => cfg.max_body_bytes = val().parse().context("--max-body")?,
            "--no-auth" => {
                cfg.allow_anonymous = true;
                auth_chosen = true;
            }
            "--auth" => {
                let v = val();
                let (u, p) = v.split_once(':').context("--auth USER:PASSWORD")?;
                cfg.authenticator = Some(Arc::new(StaticAuthenticator::new(u, p)));
                auth_chosen = true;
            }
            "--demo-provider" => demo = true,
            "-h" | "--help" => usage(),
            other => {
                eprintln!("unknown argument {other}");
                usage()
            }
        }
    }
    if !auth_chosen {
        bail!("choose --auth USER:PASSWORD or --no-auth");
    }
    if demo {
        xencim_broker::demo::register(&mut cfg.providers);
    }
    let broker = xencim_broker::build_broker(&cfg)?;
    let listener = tokio::net::TcpListener::bind(cfg.listen).await.with_context(|| format!("binding {}", cfg.listen))?;
    let tls = match (tls_cert, tls_key) {
        (Some(c), Some(k)) => Some(xencim_broker::tls_acceptor(&c, &k)?),
        (None, None) => None,
        _ => bail!("--tls-cert and --tls-key go together"),
    };
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    match tls {
        Some(acc) => xencim_broker::serve_tls_listener(listener, broker, &cfg, acc, shutdown).await,
        None => xencim_broker::serve_listener(listener, broker, &cfg, shutdown).await,
    }
}
