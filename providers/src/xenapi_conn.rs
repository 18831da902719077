//! The providers' XenAPI connection: where the server is and which service account to log in
//! as (a TOML file), and one long-lived session shared by every provider of the library.
//!
//! ```toml
//! # /etc/xencim/providers.toml, or the file named by $XENCIM_PROVIDER_CONFIG
//! endpoint = "unix:/var/lib/xencim/xapi.sock"   # or http://host:port/, https://host:port/
//! username = "xencim-cim"
//! password_file = "/var/lib/xencim/cim-provider-password"   # first line is the password
//! default_role = "read-only"        # the XenAPI role of CIM principals not named below
//! [principal_roles]                 # for brokers that do not pass the role (CMPIRole) themselves
//! alice = "vm-operator"
//! ```
//!
//! `xencim serve --cim-listen ...` writes this file into its state directory and points
//! `XENCIM_PROVIDER_CONFIG` at it. The session logs in once, on first use; the client logs in
//! again by itself when a call answers `SESSION_INVALID` (server restart, idle expiry), so no CIM
//! operation ever logs in on its own.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use xenapi_client::{Client, ClientError, Session};

/// Environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "XENCIM_PROVIDER_CONFIG";
/// The configuration file when the variable is not set.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/xencim/providers.toml";
/// The local server's Unix socket in the installed layout (state directory `/var/lib/xencim`).
pub const DEFAULT_ENDPOINT: &str = "unix:/var/lib/xencim/xapi.sock";
/// The originator sent at login (the server caps sessions per originator).
pub const ORIGINATOR: &str = "xencim-cim-providers";

/// The provider configuration file.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    pub username: String,
    pub password_file: PathBuf,
    /// PEM file of the CA (or self-signed certificate) to trust on `https://` endpoints.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// CIM principal → XenAPI role, for brokers that do not pass a role ([`crate::access`]).
    #[serde(default)]
    pub principal_roles: std::collections::HashMap<String, String>,
    /// The role of principals found neither way; read-only when absent.
    #[serde(default)]
    pub default_role: Option<String>,
}

fn default_endpoint() -> String {
    DEFAULT_ENDPOINT.to_string()
}

impl ProviderConfig {
    /// Parses the TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<ProviderConfig, String> {
        toml::from_str(text).map_err(|e| format!("{}: {e}", origin.display()))
    }

    /// Reads the file named by `$XENCIM_PROVIDER_CONFIG`, else [`DEFAULT_CONFIG_PATH`].
    pub fn load() -> Result<ProviderConfig, String> {
        let path = std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| DEFAULT_CONFIG_PATH.into());
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read the provider configuration {}: {e}", path.display()))?;
        ProviderConfig::parse(&text, &path)
    }

    /// The password: the first line of `password_file`, without its line end.
    pub fn password(&self) -> Result<String, String> {
        let text = std::fs::read_to_string(&self.password_file)
            .map_err(|e| format!("cannot read the password file {}: {e}", self.password_file.display()))?;
        let pw = text.lines().next().unwrap_or("").trim_end_matches('\r').to_string();
        if pw.is_empty() {
            return Err(format!("the password file {} is empty", self.password_file.display()));
        }
        Ok(pw)
    }
}

/// An error talking to the XenAPI: the server's API error, or why there is no answer.
#[derive(Debug, Clone, PartialEq)]
pub enum XenError {
    /// The server answered with this error code and parameters.
    Api { code: String, params: Vec<String> },
    /// Configuration, connection, login or protocol trouble.
    Other(String),
}

impl XenError {
    pub fn code(&self) -> Option<&str> {
        match self {
            XenError::Api { code, .. } => Some(code),
            XenError::Other(_) => None,
        }
    }
}

impl std::fmt::Display for XenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The xs-cim "XenError:<code>:<param>..." form, which clients already parse.
            XenError::Api { code, params } => {
                write!(f, "XenError:{code}")?;
                for p in params {
                    write!(f, ":{p}")?;
                }
                Ok(())
            }
            XenError::Other(m) => f.write_str(m),
        }
    }
}

impl From<ClientError> for XenError {
    fn from(e: ClientError) -> Self {
        match e.api() {
            Some(a) => XenError::Api { code: a.code.clone(), params: a.params.clone() },
            None => XenError::Other(format!("XenAPI: {e}")),
        }
    }
}

/// The one session of the library, made on first use.
pub struct Conn {
    config: Result<ProviderConfig, String>,
    session: tokio::sync::Mutex<Option<Arc<Session>>>,
}

impl Conn {
    pub fn new(config: Result<ProviderConfig, String>) -> Conn {
        Conn { config, session: tokio::sync::Mutex::new(None) }
    }

    /// The configuration, when it could be read.
    pub fn config(&self) -> Option<&ProviderConfig> {
        self.config.as_ref().ok()
    }

    /// The shared session, connecting and logging in if there is none yet. A failed attempt is
    /// not remembered: the next call tries again.
    pub async fn session(&self) -> Result<Arc<Session>, XenError> {
        let mut slot = self.session.lock().await;
        if let Some(s) = slot.as_ref() {
            return Ok(Arc::clone(s));
        }
        let config = self.config.as_ref().map_err(|e| XenError::Other(e.clone()))?;
        let password = config.password().map_err(XenError::Other)?;
        let mut builder = Client::builder(&config.endpoint);
        if let Some(ca) = &config.ca_file {
            builder = builder.ca_file(ca);
        }
        let client = builder.connect().await?;
        let session = Arc::new(client.login(&config.username, &password, ORIGINATOR).await?);
        *slot = Some(Arc::clone(&session));
        Ok(session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_the_endpoint_and_rejects_unknown_keys() {
        let c = ProviderConfig::parse("username = \"u\"\npassword_file = \"/p\"\n", Path::new("t.toml")).unwrap();
        assert_eq!(c.endpoint, DEFAULT_ENDPOINT);
        assert_eq!(c.password_file, PathBuf::from("/p"));
        let e = ProviderConfig::parse("username = \"u\"\npassword_file = \"/p\"\npasword = \"x\"\n", Path::new("t.toml")).unwrap_err();
        assert!(e.contains("t.toml"), "{e}");
        assert!(ProviderConfig::parse("endpoint = \"unix:/s\"\n", Path::new("t.toml")).is_err(), "username is required");
    }

    #[test]
    fn password_is_the_first_line() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pw");
        std::fs::write(&p, "s3cret\nignored\n").unwrap();
        let c = ProviderConfig { endpoint: DEFAULT_ENDPOINT.into(), username: "u".into(), password_file: p.clone(), ca_file: None, principal_roles: Default::default(), default_role: None };
        assert_eq!(c.password().unwrap(), "s3cret");
        std::fs::write(&p, "\n").unwrap();
        assert!(c.password().is_err());
    }

    #[test]
    fn api_errors_print_like_xs_cim() {
        let e = XenError::Api { code: "VM_BAD_POWER_STATE".into(), params: vec!["OpaqueRef:1".into(), "Halted".into()] };
        assert_eq!(e.to_string(), "XenError:VM_BAD_POWER_STATE:OpaqueRef:1:Halted");
        assert_eq!(e.code(), Some("VM_BAD_POWER_STATE"));
    }
}
