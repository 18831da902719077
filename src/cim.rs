//! The embedded CIM-XML broker as `xencim serve` runs it: HTTP Basic authentication against the
//! XenAPI's own users, the project's MOF and SFCB registrations, and the Xen providers loaded
//! through the CMPI ABI, talking XenAPI back to this server over its Unix socket with a service
//! account of their own.

use crate::cim_auth::XenapiAuthenticator;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use xenapi_core::api::Xapi;
use xenapi_core::model::Role;
use xencim_broker::BrokerConfig;

/// The XenAPI user the providers log in as.
pub const PROVIDER_USER: &str = "xencim-cim";

/// Where the broker finds the project's MOF, registrations and provider libraries.
#[derive(Debug, Clone)]
pub struct CimSettings {
    pub listen: std::net::SocketAddr,
    /// HTTPS address, certificate and key.
    pub tls: Option<(std::net::SocketAddr, PathBuf, PathBuf)>,
    /// The DMTF schema (directory or top file); without it the project's own base classes serve.
    pub schema: Option<PathBuf>,
    pub mof_dir: PathBuf,
    pub registration_dir: PathBuf,
    pub provider_lib_dirs: Vec<PathBuf>,
    /// Connections each CIM listener holds at once (`--max-connections`, as for the XenAPI).
    pub max_connections: usize,
}

/// The project's data directories: next to the sources when run from a checkout (`cargo run`),
/// else the installed location.
pub fn data_dir(name: &str) -> PathBuf {
    let dev = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    if dev.is_dir() {
        dev
    } else {
        Path::new("/usr/share/xencim").join(name)
    }
}

/// Directories where `lib<name>.so` of the providers may be: beside the executable (a cargo
/// target directory builds it there or under `deps/`), then the installed location.
pub fn default_provider_lib_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(exe_dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        dirs.push(exe_dir.join("deps"));
        dirs.push(exe_dir);
    }
    dirs.push(PathBuf::from("/usr/lib/xencim"));
    dirs
}

/// Makes sure the providers' service account exists and writes the provider configuration they
/// read (`XENCIM_PROVIDER_CONFIG`): this server's Unix socket and the account's password file.
pub fn provider_account(xapi: &Xapi, state_dir: &Path) -> Result<PathBuf> {
    let pw_file = state_dir.join("cim-provider-password");
    if !pw_file.exists() || xapi.store.credential(PROVIDER_USER)?.is_none() {
        let password = xenapi_core::auth::generate_password();
        xenapi_core::api::users::put_user(&xapi.store, PROVIDER_USER, "CIM providers (service account)", Role::PoolAdmin, &password)?;
        xenapi_core::bootstrap::write_secret(&pw_file, &password).with_context(|| format!("writing {}", pw_file.display()))?;
    }
    let config = state_dir.join("providers.toml");
    let text = format!(
        "# Written by xencim serve: how the CIM providers reach the XenAPI.\nendpoint = \"unix:{}\"\nusername = \"{PROVIDER_USER}\"\npassword_file = \"{}\"\n",
        state_dir.join("xapi.sock").display(),
        pw_file.display()
    );
    xenapi_core::state_dir::write_private(&config, text.as_bytes()).with_context(|| format!("writing {}", config.display()))?;
    Ok(config)
}

/// The broker configuration for `xencim serve`.
pub fn broker_config(xapi: Arc<Xapi>, s: &CimSettings, state_dir: &Path) -> Result<BrokerConfig> {
    let mut c = BrokerConfig::default();
    c.listen = s.listen;
    c.max_connections = s.max_connections;
    c.https = s.tls.as_ref().map(|(listen, cert, key)| xencim_broker::HttpsConfig { listen: *listen, cert: cert.clone(), key: key.clone() });
    c.schema = s.schema.clone();
    // Without the DMTF schema, the project's own definitions of the CIM_ parents serve; they
    // must be compiled before the Xen classes (mof_files are compiled in order).
    if c.schema.is_none() {
        let base = s.mof_dir.join("base");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&base)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "mof")).collect())
            .unwrap_or_default();
        files.sort();
        c.mof_files.extend(files);
    }
    let top = s.mof_dir.join("Xen.mof");
    if top.is_file() {
        c.mof_files.push(top);
    }
    if s.registration_dir.is_dir() {
        c.registrations.push(s.registration_dir.clone());
    }
    c.provider_lib_dirs = s.provider_lib_dirs.clone();
    c.state_dir = Some(state_dir.join("cim"));
    c.authenticator = Some(Arc::new(XenapiAuthenticator::new(xapi)));
    Ok(c)
}
