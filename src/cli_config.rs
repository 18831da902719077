//! `xencim serve` settings: command-line options over a TOML config file over defaults.
//!
//! Config file keys are the long option names with `_` for `-` (`state_dir`, `xenapi_listen`,
//! ...), plus a `[sim_host]` table describing the simulated host.

use anyhow::{Context, Result};
use clap::Args;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use xenapi_core::config::{BackendChoice, CoreConfig, SimHostConfig};
use xenapi_core::server::ListenConfig;

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// TOML configuration file; command-line options override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Where the database, the Unix socket and certificates live
    /// [default: $XDG_STATE_HOME/xencim or ~/.local/state/xencim].
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// XenAPI over HTTP [default: 127.0.0.1:8080]; the Unix socket is <state-dir>/xapi.sock.
    #[arg(long)]
    pub xenapi_listen: Option<SocketAddr>,
    /// XenAPI over HTTPS [default: 127.0.0.1:8443]; `off` disables it.
    #[arg(long)]
    pub xenapi_tls_listen: Option<String>,
    /// TLS certificate (PEM) [default: <state-dir>/xapi-cert.pem, self-signed on first start].
    #[arg(long)]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) [default: <state-dir>/xapi-key.pem].
    #[arg(long)]
    pub tls_key: Option<PathBuf>,
    /// On first start, root's password is read from this file instead of being generated.
    #[arg(long)]
    pub root_password_file: Option<PathBuf>,
    /// Largest accepted request body in bytes [default: 16 MiB].
    #[arg(long)]
    pub max_body_bytes: Option<usize>,
    /// Connections held at once by the XenAPI's TCP and TLS ports together, by its Unix socket,
    /// and by each CIM port; at the limit the one idle longest is closed [default: 1024].
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// Idle sessions expire after this many seconds [default: 86400].
    #[arg(long)]
    pub session_timeout_secs: Option<u64>,
    /// Sessions kept per originator before the oldest are invalidated [default: 500].
    #[arg(long)]
    pub sessions_per_originator: Option<usize>,
    /// Hypervisor backend: `sim` (simulated host, no Xen needed) or `xen` (libxl, in dom0; a
    /// build with `--features xen`) [default: sim].
    #[arg(long)]
    pub backend: Option<String>,
    /// The embedded CIM-XML broker [default: 127.0.0.1:5988]; `off` disables it.
    #[arg(long)]
    pub cim_listen: Option<String>,
    /// The broker over HTTPS, with the XenAPI's TLS certificate [default: 127.0.0.1:5989]; `off`
    /// disables it.
    #[arg(long)]
    pub cim_tls_listen: Option<String>,
    /// The DMTF CIM schema (directory holding cim_schema_*.mof, or that file); without it the
    /// project's own definitions of the CIM_ base classes are used.
    #[arg(long)]
    pub cim_schema: Option<PathBuf>,
    /// The project's MOF [default: mof/ of the source tree, else /usr/share/xencim/mof].
    #[arg(long)]
    pub cim_mof_dir: Option<PathBuf>,
    /// SFCB .reg provider registrations [default: registration/ beside mof/].
    #[arg(long)]
    pub cim_registration_dir: Option<PathBuf>,
    /// Where provider libraries are looked for (repeatable) [default: beside the executable].
    #[arg(long)]
    pub cim_provider_lib_dir: Vec<PathBuf>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub state_dir: Option<PathBuf>,
    pub xenapi_listen: Option<SocketAddr>,
    pub xenapi_tls_listen: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub root_password_file: Option<PathBuf>,
    pub max_body_bytes: Option<usize>,
    pub max_connections: Option<usize>,
    pub session_timeout_secs: Option<u64>,
    pub sessions_per_originator: Option<usize>,
    pub backend: Option<String>,
    pub cim_listen: Option<String>,
    pub cim_tls_listen: Option<String>,
    pub cim_schema: Option<PathBuf>,
    pub cim_mof_dir: Option<PathBuf>,
    pub cim_registration_dir: Option<PathBuf>,
    pub cim_provider_lib_dirs: Option<Vec<PathBuf>>,
    pub sim_host: Option<SimHostConfig>,
}

pub struct Settings {
    pub core: CoreConfig,
    pub listen: ListenConfig,
    pub cim: Option<crate::cim::CimSettings>,
}

pub fn default_state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("xencim");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/state/xencim")
}

/// The first line of a secret file (`-` = standard input), without its line ending.
pub fn read_secret(path: &Path) -> Result<String> {
    let text = if path == Path::new("-") {
        let mut s = String::new();
        std::io::stdin().read_line(&mut s)?;
        s
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    Ok(text.lines().next().unwrap_or("").to_string())
}

/// `--backend xen` needs a build with libxl and a process in dom0: refused up front otherwise.
fn check_xen_backend() -> Result<()> {
    #[cfg(feature = "xen")]
    return xenapi_core::backend::xen::check_dom0().map_err(anyhow::Error::msg);
    #[cfg(not(feature = "xen"))]
    anyhow::bail!(xenapi_core::backend::NOT_BUILT)
}

pub fn resolve(args: &ServeArgs) -> Result<Settings> {
    let file: FileConfig = match &args.config {
        Some(p) => toml::from_str(&std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?)
            .with_context(|| format!("invalid config file {}", p.display()))?,
        None => FileConfig::default(),
    };
    let backend = match args.backend.clone().or(file.backend).as_deref().unwrap_or("sim") {
        "sim" => BackendChoice::Sim,
        "xen" => {
            check_xen_backend()?;
            BackendChoice::Xen
        }
        other => anyhow::bail!("unknown backend {other}: expected sim or xen"),
    };
    let state_dir = args.state_dir.clone().or(file.state_dir).unwrap_or_else(default_state_dir);
    let mut core = CoreConfig::new(state_dir.clone());
    core.backend = backend;
    if let Some(s) = args.session_timeout_secs.or(file.session_timeout_secs) {
        core.session_idle_timeout = Duration::from_secs(s);
    }
    if let Some(n) = args.sessions_per_originator.or(file.sessions_per_originator) {
        core.sessions_per_originator = n;
    }
    if let Some(h) = file.sim_host {
        core.host = h;
    }
    if let Some(p) = args.root_password_file.clone().or(file.root_password_file) {
        let pw = read_secret(&p)?;
        anyhow::ensure!(!pw.is_empty(), "the root password file {} is empty", p.display());
        core.initial_root_password = Some(pw);
    }
    let tls_listen = args.xenapi_tls_listen.clone().or(file.xenapi_tls_listen).unwrap_or_else(|| "127.0.0.1:8443".into());
    let tls = if tls_listen == "off" {
        None
    } else {
        let addr: SocketAddr = tls_listen.parse().with_context(|| format!("bad --xenapi-tls-listen {tls_listen}"))?;
        Some((
            addr,
            args.tls_cert.clone().or(file.tls_cert).unwrap_or_else(|| state_dir.join("xapi-cert.pem")),
            args.tls_key.clone().or(file.tls_key).unwrap_or_else(|| state_dir.join("xapi-key.pem")),
        ))
    };
    let listen = ListenConfig {
        tcp: Some(args.xenapi_listen.or(file.xenapi_listen).unwrap_or_else(|| "127.0.0.1:8080".parse().unwrap())),
        tls,
        unix: Some(state_dir.join("xapi.sock")),
        max_body_bytes: args.max_body_bytes.or(file.max_body_bytes).unwrap_or(16 << 20),
        max_connections: args.max_connections.or(file.max_connections).unwrap_or(1024),
    };
    let cim_listen = args.cim_listen.clone().or(file.cim_listen).unwrap_or_else(|| "127.0.0.1:5988".into());
    let cim = if cim_listen == "off" {
        None
    } else {
        let mof_dir = args.cim_mof_dir.clone().or(file.cim_mof_dir).unwrap_or_else(|| crate::cim::data_dir("mof"));
        let registration_dir = args.cim_registration_dir.clone().or(file.cim_registration_dir).unwrap_or_else(|| {
            mof_dir.parent().map(|p| p.join("registration")).unwrap_or_else(|| crate::cim::data_dir("registration"))
        });
        let mut lib_dirs = args.cim_provider_lib_dir.clone();
        if lib_dirs.is_empty() {
            lib_dirs = file.cim_provider_lib_dirs.unwrap_or_else(crate::cim::default_provider_lib_dirs);
        }
        let tls_listen = args.cim_tls_listen.clone().or(file.cim_tls_listen).unwrap_or_else(|| "127.0.0.1:5989".into());
        let tls = if tls_listen == "off" {
            None
        } else {
            let cert = listen.tls.as_ref().map(|(_, c, k)| (c.clone(), k.clone())).unwrap_or_else(|| {
                (state_dir.join("xapi-cert.pem"), state_dir.join("xapi-key.pem"))
            });
            Some((tls_listen.parse().with_context(|| format!("bad --cim-tls-listen {tls_listen}"))?, cert.0, cert.1))
        };
        Some(crate::cim::CimSettings {
            tls,
            listen: cim_listen.parse().with_context(|| format!("bad --cim-listen {cim_listen}"))?,
            schema: args.cim_schema.clone().or(file.cim_schema),
            mof_dir,
            registration_dir,
            provider_lib_dirs: lib_dirs,
            max_connections: listen.max_connections,
        })
    };
    Ok(Settings { core, listen, cim })
}
