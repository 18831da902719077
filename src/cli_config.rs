//! `xencim serve` settings: command-line options over a TOML config file over defaults.
//!
//! Config file keys are the long option names with `_` for `-` (`state_dir`, `xenapi_listen`,
//! ...), plus a `[sim_host]` table describing the simulated host. [`Effective`] is the resolved
//! result with every key, as `xencim serve --check-config` prints it and as the packaged
//! `/etc/xencim/xencim.toml` spells it out.

use anyhow::{Context, Result};
use clap::Args;
use serde::{Deserialize, Serialize};
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
    /// Where provider libraries are looked for (repeatable) [default: beside the executable,
    /// then /usr/lib/xencim].
    #[arg(long)]
    pub cim_provider_lib_dir: Vec<PathBuf>,
    /// Validate the configuration, print the effective settings as TOML (no secret is read
    /// into the output) and exit without serving.
    #[arg(long)]
    pub check_config: bool,
}

/// Every setting after command line, config file and defaults are merged; serialises to a config
/// file that `--config` reads back to the same settings.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Effective {
    pub state_dir: PathBuf,
    pub backend: String,
    pub xenapi_listen: SocketAddr,
    pub xenapi_tls_listen: String,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    /// Only the file's name is shown; the password in it never is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_password_file: Option<PathBuf>,
    pub max_body_bytes: usize,
    pub max_connections: usize,
    pub session_timeout_secs: u64,
    pub sessions_per_originator: usize,
    pub cim_listen: String,
    pub cim_tls_listen: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cim_schema: Option<PathBuf>,
    pub cim_mof_dir: PathBuf,
    pub cim_registration_dir: PathBuf,
    pub cim_provider_lib_dirs: Vec<PathBuf>,
    pub sim_host: SimHostConfig,
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
    pub effective: Effective,
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

/// Reads a config file; an unknown key is refused with its name (serde's `unknown field`).
pub fn read_file_config(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
}

pub fn resolve(args: &ServeArgs) -> Result<Settings> {
    let file: FileConfig = match &args.config {
        Some(p) => read_file_config(p)?,
        None => FileConfig::default(),
    };
    let backend_name = args.backend.clone().or(file.backend).unwrap_or_else(|| "sim".into());
    let backend = match backend_name.as_str() {
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
    let root_password_file = args.root_password_file.clone().or(file.root_password_file);
    if let Some(p) = &root_password_file {
        let pw = read_secret(p)?;
        anyhow::ensure!(!pw.is_empty(), "the root password file {} is empty", p.display());
        core.initial_root_password = Some(pw);
    }
    let tls_listen = args.xenapi_tls_listen.clone().or(file.xenapi_tls_listen).unwrap_or_else(|| "127.0.0.1:8443".into());
    let tls_cert = args.tls_cert.clone().or(file.tls_cert).unwrap_or_else(|| state_dir.join("xapi-cert.pem"));
    let tls_key = args.tls_key.clone().or(file.tls_key).unwrap_or_else(|| state_dir.join("xapi-key.pem"));
    let tls = if tls_listen == "off" {
        None
    } else {
        let addr: SocketAddr = tls_listen.parse().with_context(|| format!("bad xenapi_tls_listen {tls_listen}: expected ADDRESS:PORT or off"))?;
        Some((addr, tls_cert.clone(), tls_key.clone()))
    };
    let xenapi_listen = args.xenapi_listen.or(file.xenapi_listen).unwrap_or_else(|| "127.0.0.1:8080".parse().unwrap());
    let listen = ListenConfig {
        tcp: Some(xenapi_listen),
        tls,
        unix: Some(state_dir.join("xapi.sock")),
        max_body_bytes: args.max_body_bytes.or(file.max_body_bytes).unwrap_or(16 << 20),
        max_connections: args.max_connections.or(file.max_connections).unwrap_or(1024),
    };
    // The CIM paths are resolved even with the broker off, so that --check-config shows them.
    let cim_listen = args.cim_listen.clone().or(file.cim_listen).unwrap_or_else(|| "127.0.0.1:5988".into());
    let cim_tls_listen = args.cim_tls_listen.clone().or(file.cim_tls_listen).unwrap_or_else(|| "127.0.0.1:5989".into());
    let mof_dir = args.cim_mof_dir.clone().or(file.cim_mof_dir).unwrap_or_else(|| crate::cim::data_dir("mof"));
    let registration_dir = args.cim_registration_dir.clone().or(file.cim_registration_dir).unwrap_or_else(|| {
        mof_dir.parent().map(|p| p.join("registration")).unwrap_or_else(|| crate::cim::data_dir("registration"))
    });
    let mut lib_dirs = args.cim_provider_lib_dir.clone();
    if lib_dirs.is_empty() {
        lib_dirs = file.cim_provider_lib_dirs.unwrap_or_else(crate::cim::default_provider_lib_dirs);
    }
    let schema = args.cim_schema.clone().or(file.cim_schema);
    let cim = if cim_listen == "off" {
        None
    } else {
        let tls = if cim_tls_listen == "off" {
            None
        } else {
            let addr = cim_tls_listen.parse().with_context(|| format!("bad cim_tls_listen {cim_tls_listen}: expected ADDRESS:PORT or off"))?;
            Some((addr, tls_cert.clone(), tls_key.clone()))
        };
        Some(crate::cim::CimSettings {
            tls,
            listen: cim_listen.parse().with_context(|| format!("bad cim_listen {cim_listen}: expected ADDRESS:PORT or off"))?,
            schema: schema.clone(),
            mof_dir: mof_dir.clone(),
            registration_dir: registration_dir.clone(),
            provider_lib_dirs: lib_dirs.clone(),
            max_connections: listen.max_connections,
        })
    };
    let effective = Effective {
        state_dir,
        backend: backend_name,
        xenapi_listen,
        xenapi_tls_listen: tls_listen,
        tls_cert,
        tls_key,
        root_password_file,
        max_body_bytes: listen.max_body_bytes,
        max_connections: listen.max_connections,
        session_timeout_secs: core.session_idle_timeout.as_secs(),
        sessions_per_originator: core.sessions_per_originator,
        cim_listen,
        cim_tls_listen,
        cim_schema: schema,
        cim_mof_dir: mof_dir,
        cim_registration_dir: registration_dir,
        cim_provider_lib_dirs: lib_dirs,
        sim_host: core.host.clone(),
    };
    Ok(Settings { core, listen, cim, effective })
}

/// `--check-config`: the checks a start would fail on later (files the CIM side reads), then
/// the effective settings as TOML.
pub fn check(s: &Settings) -> Result<String> {
    if let Some(cim) = &s.cim {
        if let Some(schema) = &cim.schema {
            xencim_broker::schema_file(schema).context("cim_schema")?;
        }
        let top = cim.mof_dir.join("Xen.mof");
        anyhow::ensure!(top.is_file(), "cim_mof_dir: {} is missing", top.display());
        anyhow::ensure!(cim.registration_dir.is_dir(), "cim_registration_dir: {} is not a directory", cim.registration_dir.display());
        let regs = xencim_broker::registration::read_all(&[cim.registration_dir.clone()])?;
        for r in &regs {
            let name = r.library_file_name();
            anyhow::ensure!(
                cim.provider_lib_dirs.iter().any(|d| d.join(&name).is_file()),
                "cim_provider_lib_dirs: {name} (for {} in {}) is in none of {:?}",
                r.class,
                r.file.display(),
                cim.provider_lib_dirs
            );
        }
    }
    for (what, p) in [("tls_cert", &s.effective.tls_cert), ("tls_key", &s.effective.tls_key)] {
        // Absent files are made (self-signed) on start; present ones must be readable.
        if p.exists() {
            std::fs::File::open(p).with_context(|| format!("{what}: cannot read {}", p.display()))?;
        }
    }
    let body = toml::to_string(&s.effective).context("rendering the settings")?;
    Ok(format!("# xencim serve: effective configuration (command line over config file over defaults).\n# Secrets are not shown: root_password_file names a file that is read, never printed.\n{body}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACKAGED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/xencim.toml");

    /// The installed layout: the keys whose built-in default depends on where the binary runs
    /// from (a checkout or the package), pinned as the packaged config pins them.
    fn installed_layout() -> ServeArgs {
        ServeArgs {
            state_dir: Some("/var/lib/xencim".into()),
            cim_mof_dir: Some("/usr/share/xencim/mof".into()),
            cim_registration_dir: Some("/usr/share/xencim/registration".into()),
            cim_provider_lib_dir: vec!["/usr/lib/xencim".into()],
            ..Default::default()
        }
    }

    #[test]
    fn packaged_config_holds_the_defaults() {
        let packaged = resolve(&ServeArgs { config: Some(PACKAGED.into()), ..Default::default() }).unwrap();
        let defaults = resolve(&installed_layout()).unwrap();
        assert_eq!(packaged.effective, defaults.effective);
    }

    #[test]
    fn packaged_config_spells_out_every_key() {
        let text = std::fs::read_to_string(PACKAGED).unwrap();
        let file: toml::Table = toml::from_str(&text).unwrap();
        let mut all = defaults_with_optionals();
        // Keys without a default value, and those whose default follows state_dir, are there
        // commented out, with an example or their default.
        for optional in ["root_password_file", "cim_schema", "tls_cert", "tls_key"] {
            assert!(text.lines().any(|l| l.starts_with(&format!("# {optional} = "))), "{optional} is not described");
            all.remove(optional);
        }
        let keys = |t: &toml::Table| t.keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&file), keys(&all));
        let sim = |t: &toml::Table| keys(t["sim_host"].as_table().unwrap());
        assert_eq!(sim(&file), sim(&all));
    }

    /// Every key `Effective` has, the optional ones included.
    fn defaults_with_optionals() -> toml::Table {
        let mut args = installed_layout();
        args.cim_schema = Some("/nonexistent".into());
        let mut e = resolve(&args).unwrap().effective;
        e.root_password_file = Some("/nonexistent".into());
        toml::Table::try_from(&e).unwrap()
    }

    #[test]
    fn check_config_output_reads_back_to_the_same_settings() {
        let s = resolve(&installed_layout()).unwrap();
        let body = toml::to_string(&s.effective).unwrap();
        let path = std::env::temp_dir().join(format!("xencim-effective-{}.toml", std::process::id()));
        std::fs::write(&path, body).unwrap();
        let again = resolve(&ServeArgs { config: Some(path.clone()), ..Default::default() }).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(again.effective, s.effective);
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let path = std::env::temp_dir().join(format!("xencim-badkey-{}.toml", std::process::id()));
        std::fs::write(&path, "state_dir = \"/tmp/x\"\nxenapi_lisen = \"127.0.0.1:1\"\n").unwrap();
        let err = format!("{:#}", read_file_config(&path).unwrap_err());
        let _ = std::fs::remove_file(&path);
        assert!(err.contains("unknown field `xenapi_lisen`"), "{err}");
    }
}
