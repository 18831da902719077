//! The backend on a Xen dom0: every [`Backend`] call is a libxl call on one shared context, and
//! an event thread listens for the shutdown and death of the domains this server built.
//!
//! - Domains are found by the VM uuid they carry (`c_info.uuid`); those built here are tagged
//!   with libxl user data `xencim`, and only tagged domains are listed, so the start-up
//!   reconciliation never touches a domain that `xl` or another toolstack runs.
//! - A guest that stops by itself is reported as the simulated host reports its crash: the
//!   event thread queues the VM (`take_crashed` for a crash or watchdog, `take_guest_shutdowns`
//!   for a power-off or reboot) and the API's housekeeping applies the VM's `actions_after_*`,
//!   which updates the record and so emits the event. Shutdowns an operation asked for (clean
//!   shutdown, reboot, suspend, destroy) are not reported: the operation handles them.
//! - Devices: a domain is built with all the VM's disks and NICs (an HVM guest's firmware needs
//!   its disks at boot); `plug` of one already there answers `DeviceAlreadyAttached`, and an
//!   unplugged device is plugged back from the spec the domain was built with.

use super::config::DomainConfig;
use super::ctx::{Ctx, DeathWatch, DomInfo, DomainEvent, XlError};
use super::ffi;
use super::translate;
use crate::backend::*;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where Linux tells what a Xen domain may do; dom0's holds `control_d`.
pub const CAPABILITIES: &str = "/proc/xen/capabilities";

/// The libxl user data naming domains this server built.
const TAG: &str = "xencim";

/// Checks that this process runs in the Xen control domain.
pub fn check_dom0() -> Result<(), String> {
    check_dom0_at(Path::new(CAPABILITIES))
}

pub fn check_dom0_at(capabilities: &Path) -> Result<(), String> {
    let why = match std::fs::read_to_string(capabilities) {
        Ok(s) if s.split(|c: char| c == ',' || c.is_whitespace()).any(|w| w == "control_d") => return Ok(()),
        Ok(_) => format!("{} does not contain control_d (this is a guest, not dom0)", capabilities.display()),
        Err(e) => format!("cannot read {}: {e} (not a Xen host, or xenfs is not mounted on /proc/xen)", capabilities.display()),
    };
    Err(format!("the xen backend runs only in the Xen control domain (dom0): {why}; use --backend sim elsewhere"))
}

fn failed(e: XlError) -> BackendError {
    BackendError::Failed(e.to_string())
}

#[derive(Default)]
struct State {
    /// The spec each VM's domain was last built from: what an unplugged device comes back from.
    specs: HashMap<String, DomainSpec>,
    /// Domains whose shutdown an operation asked for: their shutdown is not the guest's own.
    expected: HashSet<u32>,
    /// Domains whose own shutdown was already queued.
    reported: HashSet<u32>,
    watches: HashMap<u32, DeathWatch>,
    started: HashMap<u32, i64>,
    /// Last per-vCPU CPU time of each domain, for utilisation.
    cpu_samples: HashMap<u32, (Instant, Vec<u64>)>,
    crashed: Vec<String>,
    guest_shutdowns: Vec<(String, GuestShutdown)>,
}

pub struct Xen {
    ctx: Arc<Ctx>,
    state: Arc<Mutex<State>>,
    shutdown_timeout: Duration,
}

fn lock(s: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// The domains this server built (dom0 and untagged domains left out).
fn ours(ctx: &Ctx) -> Vec<DomInfo> {
    ctx.domains().into_iter().filter(|d| d.domid != 0 && ctx.has_tag(d.domid, TAG)).collect()
}

/// What the event thread does with one shutdown it did not expect.
fn guest_stopped(ctx: &Ctx, state: &Mutex<State>, domid: u32, reason: ffi::libxl_shutdown_reason) {
    let Some(d) = ctx.domains().into_iter().find(|d| d.domid == domid) else { return };
    if !ctx.has_tag(domid, TAG) {
        return;
    }
    let mut s = lock(state);
    if s.expected.contains(&domid) || !s.reported.insert(domid) {
        return;
    }
    tracing::info!(domid, vm_uuid = %d.uuid, reason, "the guest stopped by itself");
    match reason {
        ffi::LIBXL_SHUTDOWN_REASON_CRASH | ffi::LIBXL_SHUTDOWN_REASON_WATCHDOG => s.crashed.push(d.uuid),
        ffi::LIBXL_SHUTDOWN_REASON_REBOOT | ffi::LIBXL_SHUTDOWN_REASON_SOFT_RESET => s.guest_shutdowns.push((d.uuid, GuestShutdown::Reboot)),
        // Power-off, and a suspend nobody asked for (there is no image to resume from).
        _ => s.guest_shutdowns.push((d.uuid, GuestShutdown::Poweroff)),
    }
}

fn event_loop(ctx: Arc<Ctx>, state: Arc<Mutex<State>>) {
    loop {
        match ctx.wait_event() {
            Ok(DomainEvent::Shutdown { domid, reason }) => guest_stopped(&ctx, &state, domid, reason),
            Ok(DomainEvent::Death { domid }) => {
                let watch = {
                    let mut s = lock(&state);
                    s.expected.remove(&domid);
                    s.reported.remove(&domid);
                    s.started.remove(&domid);
                    s.cpu_samples.remove(&domid);
                    s.watches.remove(&domid)
                };
                if let Some(w) = watch {
                    ctx.unwatch(w);
                }
            }
            Err(e) => {
                tracing::error!("libxl event loop: {e}");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

impl Xen {
    /// Opens libxl (dom0 only), watches the domains built by an earlier run, queues those that
    /// stopped while the server was down, and starts the event thread.
    pub fn open(host: &crate::config::SimHostConfig) -> Result<Xen, String> {
        check_dom0()?;
        let ctx = Ctx::open().map_err(|e| {
            format!("cannot open libxl: {e}; the xen backend needs a Xen dom0 with xenstored running ({CAPABILITIES} must contain control_d)")
        })?;
        let xen = Xen {
            ctx: Arc::new(ctx),
            state: Arc::new(Mutex::new(State::default())),
            shutdown_timeout: Duration::from_secs_f64(host.shutdown_timeout_secs.max(0.0)),
        };
        for d in ours(&xen.ctx) {
            xen.watch(d.domid);
            if d.shutdown {
                guest_stopped(&xen.ctx, &xen.state, d.domid, d.shutdown_reason);
            }
        }
        let (ctx, state) = (xen.ctx.clone(), xen.state.clone());
        std::thread::Builder::new()
            .name("libxl-events".into())
            .spawn(move || event_loop(ctx, state))
            .map_err(|e| format!("cannot start the libxl event thread: {e}"))?;
        Ok(xen)
    }

    fn watch(&self, domid: u32) {
        match self.ctx.watch_death(domid) {
            Ok(w) => {
                let mut s = lock(&self.state);
                s.watches.insert(domid, w);
                s.started.entry(domid).or_insert_with(crate::time_fmt::now);
            }
            Err(e) => tracing::warn!(domid, "cannot watch the domain's shutdown: {e}"),
        }
    }

    fn find(&self, vm_uuid: &str) -> Result<DomInfo, BackendError> {
        ours(&self.ctx)
            .into_iter()
            .find(|d| d.uuid == vm_uuid && !d.dying)
            .ok_or_else(|| BackendError::NoSuchDomain(vm_uuid.to_string()))
    }

    /// Builds (or restores) a domain, tags and watches it; paused.
    fn build(&self, spec: &DomainSpec, cfg: &mut DomainConfig, image: Option<&std::fs::File>) -> Result<DomId, BackendError> {
        if self.find(&spec.vm_uuid).is_ok() {
            return Err(BackendError::Failed(format!("a domain for VM {} already exists", spec.vm_uuid)));
        }
        let free = self.host_info().memory_free;
        if spec.memory_target > free {
            return Err(BackendError::NotEnoughMemory { needed: spec.memory_target, available: free });
        }
        let domid = match image {
            None => self.ctx.create(cfg),
            Some(f) => self.ctx.restore(cfg, f),
        }
        .map_err(failed)?;
        if let Err(e) = self.ctx.tag(domid, TAG) {
            let _ = self.ctx.destroy(domid);
            return Err(failed(e));
        }
        self.watch(domid);
        lock(&self.state).specs.insert(spec.vm_uuid.clone(), spec.clone());
        Ok(domid as DomId)
    }

    /// Rebuilds a domain from the configuration libxl keeps for it (devices plugged since
    /// included), running, under a new domid.
    fn rebuild(&self, d: &DomInfo) -> Result<DomId, BackendError> {
        let mut cfg = match self.ctx.retrieve_config(d.domid) {
            Ok(c) => c,
            Err(e) => {
                let spec = lock(&self.state).specs.get(&d.uuid).cloned();
                let spec = spec.ok_or_else(|| failed(e))?;
                translate::domain_config(&spec)?
            }
        };
        // Let Xen pick the new domid.
        cfg.raw().c_info.domid = 0;
        lock(&self.state).expected.insert(d.domid);
        self.ctx.destroy(d.domid).map_err(failed)?;
        let domid = self.ctx.create(&mut cfg).map_err(failed)?;
        let _ = self.ctx.tag(domid, TAG);
        self.watch(domid);
        self.ctx.unpause(domid).map_err(failed)?;
        Ok(domid as DomId)
    }

    /// Asks the guest to shut down or reboot and waits until its domain has shut down.
    fn await_guest(&self, vm_uuid: &str, cancel: &Cancel, reboot: bool) -> Result<DomInfo, BackendError> {
        let d = self.find(vm_uuid)?;
        if d.paused || d.shutdown {
            return Err(BackendError::GuestLacksFeature("the guest is not running, so it cannot respond".into()));
        }
        lock(&self.state).expected.insert(d.domid);
        let asked = if reboot { self.ctx.request_reboot(d.domid) } else { self.ctx.request_shutdown(d.domid) };
        let give_up = |e: BackendError| {
            // From now on a shutdown of this domain is the guest's own again.
            lock(&self.state).expected.remove(&d.domid);
            Err(e)
        };
        if let Err(e) = asked {
            return give_up(if e.rc == ffi::ERROR_NOPARAVIRT { BackendError::GuestLacksFeature(e.to_string()) } else { failed(e) });
        }
        let start = Instant::now();
        loop {
            match self.ctx.domains().into_iter().find(|x| x.domid == d.domid) {
                Some(x) if x.shutdown => return Ok(x),
                None => return Ok(d),
                Some(_) => {}
            }
            if cancel.is_cancelled() {
                return give_up(BackendError::Cancelled);
            }
            if start.elapsed() >= self.shutdown_timeout {
                return give_up(BackendError::ShutdownTimeout { timeout_secs: self.shutdown_timeout.as_secs_f64() });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn utilisation(&self, domid: u32) -> Vec<f64> {
        let times = self.ctx.vcpu_times(domid);
        let now = Instant::now();
        let mut s = lock(&self.state);
        let out = match s.cpu_samples.get(&domid) {
            Some((then, prev)) if prev.len() == times.len() => {
                let ns = now.duration_since(*then).as_nanos().max(1) as f64;
                times.iter().zip(prev).map(|(t, p)| (t.saturating_sub(*p) as f64 / ns).clamp(0.0, 1.0)).collect()
            }
            _ => vec![0.0; times.len()],
        };
        s.cpu_samples.insert(domid, (now, times));
        out
    }
}

impl Backend for Xen {
    fn kind(&self) -> &'static str {
        "xen"
    }

    fn host_info(&self) -> HostInfo {
        match self.ctx.physinfo() {
            Ok(p) => HostInfo { cpus: p.nr_cpus as i64, memory_total: p.total_bytes as i64, memory_free: p.free_bytes as i64 },
            Err(e) => {
                tracing::error!("{e}");
                HostInfo { cpus: 0, memory_total: 0, memory_free: 0 }
            }
        }
    }

    fn domains(&self) -> Vec<DomainInfo> {
        ours(&self.ctx)
            .into_iter()
            .filter(|d| !d.dying)
            .map(|d| {
                let crashed = d.shutdown
                    && matches!(d.shutdown_reason, ffi::LIBXL_SHUTDOWN_REASON_CRASH | ffi::LIBXL_SHUTDOWN_REASON_WATCHDOG);
                let running = !d.paused && !d.shutdown;
                let started = *lock(&self.state).started.entry(d.domid).or_insert_with(crate::time_fmt::now);
                DomainInfo {
                    domid: d.domid as DomId,
                    vm_uuid: d.uuid.clone(),
                    state: if crashed {
                        DomainState::Crashed
                    } else if running {
                        DomainState::Running
                    } else {
                        DomainState::Paused
                    },
                    memory_actual: d.current_memkb as i64 * 1024,
                    vcpus: d.vcpu_online as i64,
                    started,
                    vcpu_utilisation: if running { self.utilisation(d.domid) } else { vec![0.0; d.vcpu_online as usize] },
                }
            })
            .collect()
    }

    fn create(&self, spec: &DomainSpec) -> Result<DomId, BackendError> {
        let mut cfg = translate::domain_config(spec)?;
        self.build(spec, &mut cfg, None)
    }

    fn unpause(&self, vm_uuid: &str) -> Result<(), BackendError> {
        self.ctx.unpause(self.find(vm_uuid)?.domid).map_err(failed)
    }

    fn pause(&self, vm_uuid: &str) -> Result<(), BackendError> {
        self.ctx.pause(self.find(vm_uuid)?.domid).map_err(failed)
    }

    fn clean_shutdown(&self, vm_uuid: &str, cancel: &Cancel) -> Result<(), BackendError> {
        let d = self.await_guest(vm_uuid, cancel, false)?;
        match self.ctx.destroy(d.domid) {
            Ok(()) => Ok(()),
            Err(_) if self.find(vm_uuid).is_err() => Ok(()),
            Err(e) => Err(failed(e)),
        }
    }

    fn clean_reboot(&self, vm_uuid: &str, cancel: &Cancel) -> Result<DomId, BackendError> {
        let d = self.await_guest(vm_uuid, cancel, true)?;
        self.rebuild(&d)
    }

    fn destroy(&self, vm_uuid: &str) -> Result<(), BackendError> {
        let d = self.find(vm_uuid)?;
        lock(&self.state).expected.insert(d.domid);
        self.ctx.destroy(d.domid).map_err(failed)
    }

    fn hard_reboot(&self, vm_uuid: &str) -> Result<DomId, BackendError> {
        let d = self.find(vm_uuid)?;
        self.rebuild(&d)
    }

    fn suspend(&self, vm_uuid: &str, image: &Path, cancel: &Cancel) -> Result<(), BackendError> {
        let d = self.find(vm_uuid)?;
        if cancel.is_cancelled() {
            return Err(BackendError::Cancelled);
        }
        let fail = |e: std::io::Error| BackendError::Failed(format!("cannot write suspend image {}: {e}", image.display()));
        if let Some(dir) = image.parent() {
            crate::state_dir::create_private_dir(dir).map_err(fail)?;
        }
        let file = crate::state_dir::create_private(image).map_err(fail)?;
        lock(&self.state).expected.insert(d.domid);
        if let Err(e) = self.ctx.suspend(d.domid, &file) {
            lock(&self.state).expected.remove(&d.domid);
            let _ = std::fs::remove_file(image);
            return Err(failed(e));
        }
        file.sync_all().map_err(fail)?;
        self.ctx.destroy(d.domid).map_err(failed)
    }

    fn resume(&self, spec: &DomainSpec, image: &Path) -> Result<DomId, BackendError> {
        let file = std::fs::File::open(image).map_err(|e| BackendError::Failed(format!("cannot read suspend image {}: {e}", image.display())))?;
        let mut cfg = translate::domain_config(spec)?;
        self.build(spec, &mut cfg, Some(&file))
    }

    fn set_memory_target(&self, vm_uuid: &str, bytes: i64) -> Result<(), BackendError> {
        let d = self.find(vm_uuid)?;
        if bytes <= 0 {
            return Err(BackendError::Failed(format!("memory target {bytes} is not positive")));
        }
        self.ctx.set_memory_target(d.domid, (bytes / 1024) as u64).map_err(failed)
    }

    fn set_vcpus(&self, vm_uuid: &str, n: i64) -> Result<(), BackendError> {
        let d = self.find(vm_uuid)?;
        if n < 1 || n > d.vcpu_max as i64 {
            return Err(BackendError::Failed(format!("{n} vCPUs is outside 1..{}", d.vcpu_max)));
        }
        self.ctx.set_vcpus_online(d.domid, n as u32, d.vcpu_max).map_err(failed)
    }

    fn plug(&self, vm_uuid: &str, kind: DeviceKind, device: &str) -> Result<(), BackendError> {
        let d = self.find(vm_uuid)?;
        let mut cfg = self.ctx.retrieve_config(d.domid).map_err(failed)?;
        if device_index(&mut cfg, kind, device).is_some() {
            return Err(BackendError::DeviceAlreadyAttached(device.into()));
        }
        let spec = lock(&self.state).specs.get(vm_uuid).cloned();
        let not_known = || {
            BackendError::Failed(format!(
                "device {device} of VM {vm_uuid} was not part of the VM when its domain was built; the xen backend plugs back only those (restart the VM to add it)"
            ))
        };
        let spec = spec.ok_or_else(not_known)?;
        let hvm = translate::kind(&spec)? == translate::Kind::Hvm;
        match kind {
            DeviceKind::Block => {
                let x = spec.detail.disks.iter().find(|x| x.device == device).ok_or_else(not_known)?;
                self.ctx.disk_add(d.domid, &mut translate::disk(x, hvm)?).map_err(failed)
            }
            DeviceKind::Network => {
                let x = spec.detail.nics.iter().find(|x| x.device == device).ok_or_else(not_known)?;
                self.ctx.nic_add(d.domid, &mut translate::nic(x, hvm)?).map_err(failed)
            }
        }
    }

    fn unplug(&self, vm_uuid: &str, kind: DeviceKind, device: &str) -> Result<(), BackendError> {
        let d = self.find(vm_uuid)?;
        let mut cfg = self.ctx.retrieve_config(d.domid).map_err(failed)?;
        let i = device_index(&mut cfg, kind, device).ok_or_else(|| BackendError::DeviceNotAttached(device.into()))?;
        match kind {
            DeviceKind::Block => self.ctx.disk_remove(d.domid, &mut cfg, i),
            DeviceKind::Network => self.ctx.nic_remove(d.domid, &mut cfg, i),
        }
        .map_err(failed)
    }

    fn send_sysrq(&self, vm_uuid: &str, key: &str) -> Result<(), BackendError> {
        let d = self.find(vm_uuid)?;
        let k = *key.as_bytes().first().ok_or_else(|| BackendError::Failed("empty sysrq key".into()))?;
        self.ctx.send_sysrq(d.domid, k).map_err(failed)
    }

    fn take_crashed(&self) -> Vec<String> {
        std::mem::take(&mut lock(&self.state).crashed)
    }

    fn take_guest_shutdowns(&self) -> Vec<(String, GuestShutdown)> {
        std::mem::take(&mut lock(&self.state).guest_shutdowns)
    }
}

/// Where a device the API names (`xvda`, or a NIC's index) is in a domain's configuration.
fn device_index(cfg: &mut DomainConfig, kind: DeviceKind, device: &str) -> Option<usize> {
    match kind {
        DeviceKind::Block => cfg.disks().iter().position(|x| {
            // SAFETY: vdev is null or a NUL-terminated string owned by the configuration.
            !x.vdev.is_null() && unsafe { std::ffi::CStr::from_ptr(x.vdev) }.to_bytes() == device.as_bytes()
        }),
        DeviceKind::Network => {
            let devid: i32 = device.parse().ok()?;
            cfg.nics().iter().position(|x| x.devid == devid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dom0_is_told_by_control_d() {
        let d = tempfile::tempdir().unwrap();
        let caps = d.path().join("capabilities");
        std::fs::write(&caps, "control_d\n").unwrap();
        assert_eq!(check_dom0_at(&caps), Ok(()));
        std::fs::write(&caps, "").unwrap();
        let e = check_dom0_at(&caps).unwrap_err();
        assert!(e.contains("does not contain control_d") && e.contains("dom0"), "{e}");
        let e = check_dom0_at(&d.path().join("absent")).unwrap_err();
        assert!(e.contains("cannot read") && e.contains("absent"), "{e}");
    }
}
