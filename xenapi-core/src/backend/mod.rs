//! What a hypervisor must do for the API. The API layer talks only to [`Backend`]; the simulated
//! host ([`sim`]) is the default, a libxl backend implements the same trait for real Xen.
//!
//! Domains are named by the uuid of the VM they run, so the API can find a VM's domain after a
//! restart (the backend is the truth for what runs). Calls may block (a clean shutdown waits for
//! the guest): the API runs them on blocking threads and passes a [`Cancel`] flag to the long ones.

pub mod sim;
#[cfg(feature = "xen")]
pub mod xen;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub type DomId = i64;

/// The backend the configuration asks for.
pub fn open(config: &crate::config::CoreConfig) -> Result<Arc<dyn Backend>, String> {
    use crate::config::BackendChoice;
    match config.backend {
        BackendChoice::Sim => Ok(Arc::new(sim::Sim::open(&config.state_dir, config.host.clone())?)),
        #[cfg(feature = "xen")]
        BackendChoice::Xen => Ok(Arc::new(xen::Xen::open(&config.host)?)),
        #[cfg(not(feature = "xen"))]
        BackendChoice::Xen => Err(NOT_BUILT.into()),
    }
}

/// Why `--backend xen` fails in a default build.
pub const NOT_BUILT: &str = "this xencim was built without the xen backend (libxl): rebuild it with `cargo build --features xen` (needs libxen-dev) on the Xen dom0, or use --backend sim";

/// What a domain is built from: the parts of a VM record the hypervisor needs.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainSpec {
    pub vm_uuid: String,
    pub name: String,
    /// Memory the domain starts with (bytes): the VM's dynamic maximum.
    pub memory_target: i64,
    pub memory_static_max: i64,
    pub vcpus: i64,
    pub vcpus_max: i64,
    pub hvm: bool,
    /// `other_config`, where the simulated guest reads its behaviour.
    pub other_config: Vec<(String, String)>,
    /// What a real hypervisor also needs: boot, limits, devices (the simulated host ignores it).
    pub detail: DomainDetail,
}

/// The VM's fields a real domain is built from, copied from its records as they are: the backend
/// interprets them (and names the field it cannot express).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DomainDetail {
    /// `VM.domain_type`: `hvm`, `pv`, `pvh`, or `unspecified`.
    pub domain_type: String,
    pub pv_kernel: String,
    pub pv_ramdisk: String,
    pub pv_args: String,
    pub pv_bootloader: String,
    pub pv_bootloader_args: String,
    pub hvm_boot_policy: String,
    pub hvm_boot_params: Vec<(String, String)>,
    pub platform: Vec<(String, String)>,
    pub memory_static_min: i64,
    pub memory_dynamic_min: i64,
    /// `VCPUs_params` (`weight`, `cap`).
    pub vcpus_params: Vec<(String, String)>,
    pub actions_after_shutdown: String,
    pub actions_after_reboot: String,
    pub actions_after_crash: String,
    pub disks: Vec<DiskSpec>,
    pub nics: Vec<NicSpec>,
}

/// A VBD with what its VDI is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DiskSpec {
    pub vbd_uuid: String,
    pub userdevice: String,
    /// The guest device the API plugs (`xvda`, `hdd`): the name `plug`/`unplug` use.
    pub device: String,
    pub cdrom: bool,
    pub read_only: bool,
    pub bootable: bool,
    /// `None`: an empty CD drive.
    pub image: Option<DiskImage>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DiskImage {
    pub vdi_uuid: String,
    /// The image file in its SR's directory.
    pub path: std::path::PathBuf,
    /// `raw` or `qcow2` (`sm_config:format` of the VDI).
    pub format: String,
}

/// A VIF with the bridge of its network.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NicSpec {
    pub vif_uuid: String,
    /// `VIF.device`: the NIC's index in the guest, the name `plug`/`unplug` use.
    pub device: String,
    pub mac: String,
    pub bridge: String,
    /// 0: the network's default.
    pub mtu: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainState {
    Running,
    Paused,
    /// Crashed and kept (actions_after_crash = preserve).
    Crashed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DomainInfo {
    pub domid: DomId,
    pub vm_uuid: String,
    pub state: DomainState,
    pub memory_actual: i64,
    pub vcpus: i64,
    /// Unix seconds when the domain was created.
    pub started: i64,
    /// Per-vCPU utilisation, 0..1.
    pub vcpu_utilisation: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HostInfo {
    pub cpus: i64,
    pub memory_total: i64,
    pub memory_free: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Block,
    Network,
}

/// Why a backend call failed; the API layer maps these onto XenAPI error codes.
#[derive(Debug, Clone, PartialEq)]
pub enum BackendError {
    NotEnoughMemory { needed: i64, available: i64 },
    NotEnoughCpus { vcpus: i64, pcpus: i64 },
    NoSuchDomain(String),
    /// The guest did not acknowledge a clean shutdown or reboot in time.
    ShutdownTimeout { timeout_secs: f64 },
    /// The guest does not support the operation (no PV drivers, no hotplug, ...).
    GuestLacksFeature(String),
    DeviceAlreadyAttached(String),
    DeviceNotAttached(String),
    /// A field of the VM (or of one of its devices) that this hypervisor cannot express.
    Untranslatable { field: String, value: String, reason: String },
    Cancelled,
    Failed(String),
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

/// Set by `task.cancel`; long operations poll it.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst)
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

pub trait Backend: Send + Sync {
    /// `sim` or `xen`.
    fn kind(&self) -> &'static str;
    fn host_info(&self) -> HostInfo;
    /// Every domain the hypervisor runs, the control domain excluded.
    fn domains(&self) -> Vec<DomainInfo>;
    fn domain(&self, vm_uuid: &str) -> Option<DomainInfo> {
        self.domains().into_iter().find(|d| d.vm_uuid == vm_uuid)
    }
    /// Builds a domain, paused.
    fn create(&self, spec: &DomainSpec) -> Result<DomId, BackendError>;
    fn unpause(&self, vm_uuid: &str) -> Result<(), BackendError>;
    fn pause(&self, vm_uuid: &str) -> Result<(), BackendError>;
    /// Asks the guest to shut down and waits until it has, or until the timeout.
    fn clean_shutdown(&self, vm_uuid: &str, cancel: &Cancel) -> Result<(), BackendError>;
    /// Asks the guest to reboot; the domain is rebuilt (new domid).
    fn clean_reboot(&self, vm_uuid: &str, cancel: &Cancel) -> Result<DomId, BackendError>;
    /// Destroys the domain at once.
    fn destroy(&self, vm_uuid: &str) -> Result<(), BackendError>;
    /// Rebuilds the domain at once (new domid), running.
    fn hard_reboot(&self, vm_uuid: &str) -> Result<DomId, BackendError>;
    /// Saves the domain's memory to `image` and destroys the domain.
    fn suspend(&self, vm_uuid: &str, image: &Path, cancel: &Cancel) -> Result<(), BackendError>;
    /// Rebuilds a domain from a suspend image, paused.
    fn resume(&self, spec: &DomainSpec, image: &Path) -> Result<DomId, BackendError>;
    fn set_memory_target(&self, vm_uuid: &str, bytes: i64) -> Result<(), BackendError>;
    fn set_vcpus(&self, vm_uuid: &str, n: i64) -> Result<(), BackendError>;
    fn plug(&self, vm_uuid: &str, kind: DeviceKind, device: &str) -> Result<(), BackendError>;
    fn unplug(&self, vm_uuid: &str, kind: DeviceKind, device: &str) -> Result<(), BackendError>;
    /// Sends a sysrq key to the guest (`c` makes a Linux guest crash).
    fn send_sysrq(&self, vm_uuid: &str, key: &str) -> Result<(), BackendError>;
    /// VMs whose domains crashed since the last call; the domains stay, crashed, until
    /// `actions_after_crash` destroys, restarts or preserves them.
    fn take_crashed(&self) -> Vec<String>;
    /// VMs whose guests shut down or rebooted by themselves since the last call (their domains
    /// stay, shut down, until `actions_after_shutdown`/`actions_after_reboot` are applied): a
    /// real guest powering off, a simulated one told so by sysrq `o` or `b`.
    fn take_guest_shutdowns(&self) -> Vec<(String, GuestShutdown)> {
        Vec::new()
    }
}

/// What a guest asked for when it stopped by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestShutdown {
    Poweroff,
    Reboot,
}
