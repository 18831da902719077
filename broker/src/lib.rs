//! Embedded CIM-XML broker: a WBEM server (DSP0200 CIM operations over HTTP
//! and HTTPS, DSP0201 CIM-XML) with a class repository compiled from MOF
//! (DSP0221), instance operations routed to providers (in-process Rust
//! providers or CMPI provider libraries registered with SFCB `.reg` files),
//! and indication subscriptions delivered to CIM-XML listeners.
//!
//! # Starting it from Rust (`xencim serve`)
//!
//! ```no_run
//! use std::sync::Arc;
//! use xencim_broker::{BrokerConfig, HttpsConfig, StaticAuthenticator};
//!
//! # async fn run() -> anyhow::Result<()> {
//! let mut config = BrokerConfig::default();            // HTTP on 127.0.0.1:5988, auth required
//! config.schema = Some("../shared/cim-schema/2.41.0".into()); // dir or cim_schema_*.mof
//! config.mof_dirs.push("mof".into());                   // the project's MOF, after the schema
//! config.registrations.push("registration".into());     // SFCB .reg files (or dirs of them)
//! config.provider_lib_dirs.push("target/debug".into()); // where lib<location>.so are
//! config.state_dir = Some("/var/lib/xencim/broker".into()); // durable subscriptions
//! config.https = Some(HttpsConfig::new("cert.pem", "key.pem")); // 127.0.0.1:5989
//! config.authenticator = Some(Arc::new(StaticAuthenticator::new("root", "secret")));
//! xencim_broker::serve(config, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
//!
//! * [`BrokerConfig`] says where to listen, which MOF to compile, which
//!   providers serve which classes, and the limits (body size, time to send
//!   a request, connections). Loopback only by default. Authentication is on
//!   by default: [`serve`] refuses to start without an [`Authenticator`]
//!   unless `allow_anonymous` is set. The accepted user name reaches
//!   providers as the CMPI principal.
//! * [`build_broker`] compiles the MOF, loads the provider libraries and
//!   returns the [`ops::Broker`], which can also be driven without HTTP
//!   (`Broker::intrinsic`, `Broker::extrinsic`); [`serve_listener`] and
//!   [`serve_tls_listener`] serve it on an already bound listener (tests
//!   bind port 0).
//! * In-process providers implement [`provider::Provider`] and are put in
//!   `config.providers` for (namespace, class). Enumerating a class calls
//!   the provider of the class and of every subclass and merges; GetInstance
//!   and methods go to the provider of the class or its nearest ancestor.
//!   Classes without a provider are served from the broker's own store (MOF
//!   `instance of` declarations and client-created instances). PropertyList
//!   and DeepInheritance are applied by the broker; provider errors are CIM
//!   errors; a provider panic is CIM_ERR_FAILED, never a crash.
//!
//! Modules: [`mof`] (compiler), [`repo`] (namespaces, classes), [`cimxml`]
//! (DSP0201 encode/decode), [`ops`] (the operations, one file per family),
//! [`server`] (HTTP), [`wql`] (queries), [`registration`] (SFCB `.reg`),
//! `cmpi` (provider libraries through cmpi-shim, feature `cmpi`),
//! [`indication`] (subscriptions, delivery), [`interop`] (CIM_ObjectManager,
//! CIM_Namespace, CIM_IndicationService, DSP1054 registration), [`demo`] (a test provider).

pub mod cimxml;
#[cfg(feature = "cmpi")]
pub mod cmpi;
pub mod demo;
pub mod error;
pub mod indication;
pub mod interop;
pub mod model;
pub mod mof;
pub mod ops;
pub mod provider;
pub mod registration;
pub mod repo;
pub mod server;
pub mod wql;
pub mod xml;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

pub use error::CimError;
pub use ops::Broker;
pub use provider::{Provider, ProviderRegistry};

/// Checks a user name and password (HTTP Basic). The lead backs this with a
/// XenAPI login; the accepted user name becomes the operation's principal.
pub trait Authenticator: Send + Sync {
    fn authenticate<'a>(&'a self, user: &'a str, password: &'a str) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>>;

    /// The role of a user that `authenticate` just accepted, passed to providers as the
    /// `CMPIRole` context entry. None: the authenticator knows no roles.
    fn role_of(&self, user: &str) -> Option<String> {
        let _ = user;
        None
    }
}

tokio::task_local! {
    static PEER: SocketAddr;
}

/// The address of the client whose request is being handled, for an [`Authenticator`] that
/// limits attempts per client (None outside a request). Set around each request by the
/// connection that serves it, so the trait's signature need not carry it.
pub fn request_peer() -> Option<SocketAddr> {
    PEER.try_with(|p| *p).ok()
}

/// One fixed user: for tests and the standalone binary.
pub struct StaticAuthenticator {
    user: String,
    password: String,
}

impl StaticAuthenticator {
    pub fn new(user: &str, password: &str) -> Self {
        StaticAuthenticator { user: user.into(), password: password.into() }
    }
}

impl Authenticator for StaticAuthenticator {
    fn authenticate<'a>(&'a self, user: &'a str, password: &'a str) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        // compare without an early exit on the first differing byte
        let eq = |a: &str, b: &str| a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
        let ok = eq(user, &self.user) & eq(password, &self.password);
        Box::pin(async move { ok })
    }
}

/// HTTPS listener settings (PEM files).
#[derive(Clone, Debug)]
pub struct HttpsConfig {
    /// Default 127.0.0.1:5989.
    pub listen: SocketAddr,
    /// Certificate chain, PEM.
    pub cert: PathBuf,
    /// Private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl HttpsConfig {
    /// HTTPS on 127.0.0.1:5989 with these PEM files.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        HttpsConfig { listen: SocketAddr::from(([127, 0, 0, 1], 5989)), cert: cert.into(), key: key.into() }
    }
}

/// Loads a rustls server configuration from PEM files.
pub fn tls_acceptor(cert: &Path, key: &Path) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    let certs: Vec<_> = rustls_pemfile::certs(&mut std::io::BufReader::new(
        std::fs::File::open(cert).with_context(|| format!("opening {}", cert.display()))?,
    ))
    .collect::<Result<_, _>>()
    .with_context(|| format!("reading certificates from {}", cert.display()))?;
    if certs.is_empty() {
        bail!("no certificate in {}", cert.display());
    }
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(
        std::fs::File::open(key).with_context(|| format!("opening {}", key.display()))?,
    ))
    .with_context(|| format!("reading the key from {}", key.display()))?
    .with_context(|| format!("no private key in {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

/// Everything the broker needs to start.
#[derive(Clone)]
pub struct BrokerConfig {
    /// Default 127.0.0.1:5988 (loopback only).
    pub listen: SocketAddr,
    /// Serve plain HTTP on `listen` (default true).
    pub http: bool,
    /// Also (or only) serve HTTPS.
    pub https: Option<HttpsConfig>,
    /// The DMTF schema: its top-level `cim_schema_*.mof`, or the directory holding it.
    pub schema: Option<PathBuf>,
    /// Namespaces that receive the schema (default root/cimv2 and root/interop).
    pub schema_namespaces: Vec<String>,
    /// MOF files compiled after the schema into root/cimv2 (a file may switch
    /// with `#pragma namespace`), in order.
    pub mof_files: Vec<PathBuf>,
    /// Directories whose `*.mof` files are compiled, in name order, after `mof_files`.
    pub mof_dirs: Vec<PathBuf>,
    /// SFCB `.reg` files or directories of them (see [`registration`]).
    pub registrations: Vec<PathBuf>,
    /// Where durable state (indication subscriptions) is kept; None keeps it in memory.
    pub state_dir: Option<PathBuf>,
    /// Where `lib<location>.so` of registrations are looked for (then the
    /// directory of the `.reg` file).
    pub provider_lib_dirs: Vec<PathBuf>,
    /// In-process providers.
    pub providers: ProviderRegistry,
    pub authenticator: Option<Arc<dyn Authenticator>>,
    /// Serve without authentication (must be chosen explicitly).
    pub allow_anonymous: bool,
    /// Largest request body accepted (413 above). Default 4 MiB.
    pub max_body_bytes: usize,
    /// Time allowed to receive a request body. Default 30 s.
    pub request_timeout: Duration,
    /// Time an operation may take before the client gets CIM_ERR_FAILED
    /// (the provider call is not interrupted). Default 300 s.
    pub operation_timeout: Duration,
    /// Connections one listener holds at once; at the limit the oldest idle one is closed to make
    /// room (`conn_budget`). Default 128.
    pub max_connections: usize,
    /// Host name written in instance paths. Default "localhost".
    pub host_name: String,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 5988)),
            http: true,
            https: None,
            schema: None,
            schema_namespaces: repo::DEFAULT_NAMESPACES.iter().map(|s| s.to_string()).collect(),
            mof_files: Vec::new(),
            mof_dirs: Vec::new(),
            registrations: Vec::new(),
            provider_lib_dirs: Vec::new(),
            state_dir: None,
            providers: ProviderRegistry::default(),
            authenticator: None,
            allow_anonymous: false,
            max_body_bytes: 4 << 20,
            request_timeout: Duration::from_secs(30),
            operation_timeout: Duration::from_secs(300),
            max_connections: 128,
            host_name: "localhost".into(),
        }
    }
}

/// Finds the schema's top-level file from a file or directory path.
pub fn schema_file(path: &Path) -> anyhow::Result<PathBuf> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("reading schema directory {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).map(|n| n.starts_with("cim_schema") && n.ends_with(".mof")).unwrap_or(false))
        .collect();
    found.sort();
    found.pop().with_context(|| format!("no cim_schema_*.mof in {}", path.display()))
}

/// The namespace holding indication subscriptions and registered profiles.
pub const INTEROP_NAMESPACE: &str = "root/interop";

/// The MOF file where subscriptions are saved.
pub fn subscriptions_file(config: &BrokerConfig) -> Option<PathBuf> {
    config.state_dir.as_ref().map(|d| d.join("subscriptions.mof"))
}

/// Compiles the configured MOF into a repository.
pub fn load_repository(config: &BrokerConfig) -> anyhow::Result<repo::Repository> {
    let mut r = repo::Repository::new();
    if let Some(s) = &config.schema {
        let file = schema_file(s)?;
        let first = config.schema_namespaces.first().cloned().unwrap_or_else(|| "root/cimv2".into());
        let t = std::time::Instant::now();
        let stats = mof::compile_file(&mut r, &first, &file)?;
        tracing::debug!("compiled {} ({} classes) in {:?}", file.display(), stats.classes, t.elapsed());
        for ns in config.schema_namespaces.iter().skip(1) {
            r.copy_schema(&first, ns);
        }
    }
    let mut files = config.mof_files.clone();
    for d in &config.mof_dirs {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .with_context(|| format!("reading MOF directory {}", d.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().map(|e| e.eq_ignore_ascii_case("mof")).unwrap_or(false))
            .collect();
        v.sort();
        files.extend(v);
    }
    for f in files {
        mof::compile_file(&mut r, "root/cimv2", &f)?;
    }
    if let Some(state) = subscriptions_file(config) {
        if state.is_file() {
            // compiled apart, then merged: instances also declared in MOF are kept once
            let mut scratch = r.schema_of(INTEROP_NAMESPACE);
            mof::compile_file(&mut scratch, INTEROP_NAMESPACE, &state)
                .with_context(|| format!("reloading saved subscriptions from {}", state.display()))?;
            let n = r.merge_instances(&scratch, INTEROP_NAMESPACE);
            tracing::debug!("{n} saved subscription instances reloaded from {}", state.display());
        }
    }
    Ok(r)
}

/// Compiles the MOF, reads registrations and returns the broker.
pub fn build_broker(config: &BrokerConfig) -> anyhow::Result<Arc<Broker>> {
    let repo = load_repository(config)?;
    let regs = registration::read_all(&config.registrations)?;
    for r in &regs {
        for ns in &r.namespaces {
            let known = repo.namespace(ns).map(|n| n.class(&r.class).is_some()).unwrap_or(false);
            if !known {
                bail!("{}:{}: registered class {} is not defined in namespace {ns}", r.file.display(), r.line, r.class);
            }
        }
    }
    let hub = Arc::new(indication::IndicationHub::new(INTEROP_NAMESPACE, subscriptions_file(config)));
    let mut providers = config.providers.clone();
    interop::register(&repo, INTEROP_NAMESPACE, &config.host_name, hub.retry.len(), &mut providers);
    #[cfg(feature = "cmpi")]
    let handle: cmpi::BrokerHandle = Default::default();
    #[cfg(feature = "cmpi")]
    let loaded = if regs.is_empty() {
        cmpi::Loaded::default()
    } else {
        cmpi::load_registrations(&regs, &config.provider_lib_dirs, &mut providers, hub.clone(), handle.clone())?
    };
    #[cfg(feature = "cmpi")]
    tracing::info!("{}", startup_summary(config, &repo, &loaded));
    #[cfg(not(feature = "cmpi"))]
    if !regs.is_empty() {
        bail!("provider registrations given, but this build has no CMPI support (feature \"cmpi\")");
    }
    let broker = Arc::new(Broker::with_hub(repo, providers, &config.host_name, hub));
    #[cfg(feature = "cmpi")]
    let _ = handle.set(Arc::downgrade(&broker));
    // activate the filters of saved subscriptions
    broker.indications.refresh(&broker);
    Ok(broker)
}

/// The one start-up line about the CIM side: what model is served and by which providers (the
/// per-provider detail is logged at debug level).
#[cfg(feature = "cmpi")]
fn startup_summary(config: &BrokerConfig, repo: &repo::Repository, loaded: &cmpi::Loaded) -> String {
    let first = config.schema_namespaces.first().map(String::as_str).unwrap_or("root/cimv2");
    let classes = repo.namespace(first).map(|n| n.class_count()).unwrap_or(0);
    let schema = match config.schema.as_deref().map(schema_file) {
        Some(Ok(f)) => format!("DMTF schema {}", f.display()),
        _ => "no DMTF schema".to_string(),
    };
    let libs: Vec<String> = loaded.libraries.iter().map(|p| p.display().to_string()).collect();
    let libs = if libs.is_empty() { "no provider library".to_string() } else { libs.join(", ") };
    format!(
        "CIM model: {classes} classes in {first} ({schema}); {} class registrations served by {} providers from {libs}",
        loaded.registrations, loaded.providers
    )
}

fn http_options(config: &BrokerConfig) -> server::HttpOptions {
    server::HttpOptions {
        authenticator: config.authenticator.clone(),
        max_body_bytes: config.max_body_bytes,
        request_timeout: config.request_timeout,
        operation_timeout: config.operation_timeout,
    }
}

/// Builds the broker, binds `config.listen` (HTTP) and `config.https`
/// (HTTPS) and serves until `shutdown` completes.
pub async fn serve(config: BrokerConfig, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
    serve_notify(config, shutdown, None).await
}

/// As [`serve`]; `ready` is sent once every listener is bound (for a service manager's readiness
/// notification). Dropped unsent when start-up fails.
pub async fn serve_notify(
    config: BrokerConfig,
    shutdown: impl Future<Output = ()> + Send,
    ready: Option<tokio::sync::oneshot::Sender<()>>,
) -> anyhow::Result<()> {
    if config.authenticator.is_none() && !config.allow_anonymous {
        bail!("no authenticator configured: set one, or allow_anonymous explicitly");
    }
    if !config.http && config.https.is_none() {
        bail!("neither HTTP nor HTTPS is enabled");
    }
    let broker = build_broker(&config)?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    if config.http {
        let listener = conn_budget::bind_tcp(config.listen).with_context(|| format!("binding {}", config.listen))?;
        tracing::info!("CIM-XML broker listening on http://{}/cimom", listener.local_addr()?);
        let (b, c, mut rx) = (broker.clone(), config.clone(), stop_rx.clone());
        tasks.spawn(async move { accept_loop(listener, b, &c, None, async move { let _ = rx.wait_for(|v| *v).await; }).await });
    }
    if let Some(h) = &config.https {
        let acceptor = tls_acceptor(&h.cert, &h.key)?;
        let listener = conn_budget::bind_tcp(h.listen).with_context(|| format!("binding {}", h.listen))?;
        tracing::info!("CIM-XML broker listening on https://{}/cimom", listener.local_addr()?);
        let (b, c, mut rx) = (broker.clone(), config.clone(), stop_rx.clone());
        tasks.spawn(async move { accept_loop(listener, b, &c, Some(acceptor), async move { let _ = rx.wait_for(|v| *v).await; }).await });
    }
    if let Some(ready) = ready {
        let _ = ready.send(());
    }
    tokio::select! {
        _ = shutdown => {}
        Some(r) = tasks.join_next() => { r??; }
    }
    let _ = stop_tx.send(true);
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(())
}

/// Serves CIM-XML over plain HTTP on a bound listener until `shutdown`
/// completes; open connections are then closed.
pub async fn serve_listener(
    listener: TcpListener,
    broker: Arc<Broker>,
    config: &BrokerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    accept_loop(listener, broker, config, None, shutdown).await
}

/// As [`serve_listener`], over TLS.
pub async fn serve_tls_listener(
    listener: TcpListener,
    broker: Arc<Broker>,
    config: &BrokerConfig,
    acceptor: tokio_rustls::TlsAcceptor,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    accept_loop(listener, broker, config, Some(acceptor), shutdown).await
}

async fn serve_connection<I>(
    io: I,
    broker: Arc<Broker>,
    opts: server::HttpOptions,
    header_timeout: Duration,
    peer: SocketAddr,
    ticket: &conn_budget::Ticket,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let activity = ticket.activity();
    let svc = hyper::service::service_fn(move |req| {
        // Busy from the request's arrival until its answer is written: the budget closes only
        // connections that are not.
        let busy = activity.busy();
        let answer = PEER.scope(peer, server::handle(req, broker.clone(), opts.clone(), peer));
        async move { answer.await.map(|r| busy.track(r)) }
    });
    let mut b = hyper::server::conn::http1::Builder::new();
    // headers (of the first and of every kept-alive request) must arrive
    // within the request time limit
    b.keep_alive(true).timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(header_timeout);
    // The listener's shutdown aborts its connections (JoinSet::shutdown), so no stop signal here.
    if let Err(e) = conn_budget::run(b.serve_connection(TokioIo::new(ticket.watch(io)), svc), ticket, std::future::pending()).await {
        tracing::debug!("connection from {peer}: {e}");
    }
}

async fn accept_loop(
    listener: TcpListener,
    broker: Arc<Broker>,
    config: &BrokerConfig,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    if config.authenticator.is_none() && !config.allow_anonymous {
        bail!("no authenticator configured: set one, or allow_anonymous explicitly");
    }
    let opts = http_options(config);
    broker.indications.start(broker.clone());
    // At the limit the oldest idle connection is closed to make room (conn_budget), so idle
    // connections cannot lock out clients with requests.
    let budget = conn_budget::Budget::new(config.max_connections);
    let mut conns = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let ticket = tokio::select! {
            _ = &mut shutdown => break,
            t = budget.admit() => t,
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let broker = broker.clone();
        let opts = opts.clone();
        let timeout = config.request_timeout;
        let tls = tls.clone();
        conns.spawn(async move {
            match tls {
                None => serve_connection(stream, broker, opts, timeout, peer, &ticket).await,
                // A handshake that has not finished when room is needed gives way.
                Some(acc) => match tokio::select! {
                    r = tokio::time::timeout(timeout, acc.accept(stream)) => r,
                    _ = ticket.evicted() => return tracing::debug!("TLS handshake with {peer} cut short to make room"),
                } {
                    Ok(Ok(s)) => serve_connection(s, broker, opts, timeout, peer, &ticket).await,
                    Ok(Err(e)) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
                    Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
                },
            }
        });
        while conns.try_join_next().is_some() {}
    }
    conns.shutdown().await;
    Ok(())
}
