//! Settings of the XenAPI core (the `xencim` command maps its options and config file onto these).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct CoreConfig {
    pub state_dir: PathBuf,
    /// Idle sessions older than this are invalidated (xapi: 24 h).
    pub session_idle_timeout: Duration,
    /// Sessions kept per originator (or per user name when none is given); the oldest go first.
    pub sessions_per_originator: usize,
    /// Root's password on first start; otherwise one is generated.
    pub initial_root_password: Option<String>,
    pub host: SimHostConfig,
    pub backend: BackendChoice,
}

/// Which hypervisor backend the server drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// The simulated host (no Xen needed).
    #[default]
    Sim,
    /// Xen through libxl, in dom0 (builds with the `xen` feature).
    Xen,
}

impl CoreConfig {
    pub fn new(state_dir: PathBuf) -> CoreConfig {
        CoreConfig {
            state_dir,
            session_idle_timeout: Duration::from_secs(24 * 3600),
            sessions_per_originator: 500,
            initial_root_password: None,
            host: SimHostConfig::default(),
            backend: BackendChoice::Sim,
        }
    }
}

/// The simulated host's inventory, used on first start to describe the host.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SimHostConfig {
    pub hostname: String,
    pub cpus: u32,
    pub cpu_model: String,
    pub cpu_speed_mhz: u32,
    pub memory_mib: u64,
    /// Memory the control domain keeps for itself.
    pub dom0_memory_mib: u64,
    /// How long a simulated guest takes to shut down or reboot cleanly (per VM:
    /// `other_config:sim-shutdown-delay-ms`).
    pub guest_shutdown_ms: u64,
    /// A clean shutdown or reboot the guest has not completed by then fails with
    /// `VM_SHUTDOWN_TIMEOUT` (guests with `other_config:sim-ignore-shutdown=true` never complete).
    pub shutdown_timeout_secs: f64,
    /// How often VM and host metrics are refreshed.
    pub metrics_interval_secs: f64,
}

impl Default for SimHostConfig {
    fn default() -> Self {
        SimHostConfig {
            hostname: "xencim-sim".into(),
            cpus: 8,
            cpu_model: "Simulated x86-64 CPU".into(),
            cpu_speed_mhz: 2600,
            memory_mib: 32 * 1024,
            dom0_memory_mib: 1024,
            guest_shutdown_ms: 300,
            shutdown_timeout_secs: 60.0,
            metrics_interval_secs: 5.0,
        }
    }
}
