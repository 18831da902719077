//! The simulated host: a real backend without a hypervisor. It keeps domains with domain ids,
//! accounts memory and CPUs, models a guest agent (clean shutdown and reboot take time; a guest
//! can be told to ignore them), writes suspend images as files, crashes on sysrq `c`, and reports
//! metrics that move. Its state is a JSON file in the state directory, rewritten atomically on
//! every change, so domains outlive a restart of the server the way Xen domains outlive xapi.
//!
//! Per-VM guest behaviour, from the VM's `other_config`:
//! - `sim-shutdown-delay-ms`: how long a clean shutdown or reboot takes (default: host setting);
//! - `sim-ignore-shutdown` = `true`: the guest never acts on clean shutdown/reboot requests.

use super::*;
use crate::config::SimHostConfig;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const MIB: i64 = 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Dom {
    domid: DomId,
    vm_uuid: String,
    name: String,
    state: String,
    memory: i64,
    memory_static_max: i64,
    vcpus: i64,
    vcpus_max: i64,
    hvm: bool,
    started: i64,
    other_config: Vec<(String, String)>,
    devices: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
struct SimState {
    next_domid: DomId,
    domains: Vec<Dom>,
}

pub struct Sim {
    file: PathBuf,
    cfg: SimHostConfig,
    state: Mutex<SimState>,
    crashed: Mutex<Vec<String>>,
    guest_shutdowns: Mutex<Vec<(String, GuestShutdown)>>,
}

fn kind_name(k: DeviceKind) -> &'static str {
    match k {
        DeviceKind::Block => "vbd",
        DeviceKind::Network => "vif",
    }
}

impl Sim {
    pub fn open(state_dir: &Path, cfg: SimHostConfig) -> Result<Sim, String> {
        let file = state_dir.join("sim-domains.json");
        let state = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| format!("{} is corrupt: {e}", file.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => SimState { next_domid: 1, domains: vec![] },
            Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
        };
        Ok(Sim { file, cfg, state: Mutex::new(state), crashed: Mutex::new(vec![]), guest_shutdowns: Mutex::new(vec![]) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes the state durably: temp file, fsync, rename, fsync of the directory.
    fn save(&self, s: &SimState) -> Result<(), BackendError> {
        let fail = |e: std::io::Error| BackendError::Failed(format!("cannot save {}: {e}", self.file.display()));
        let tmp = self.file.with_extension("json.tmp");
        let data = serde_json::to_vec_pretty(s).map_err(|e| BackendError::Failed(e.to_string()))?;
        {
            use std::io::Write;
            let mut f = crate::state_dir::create_private(&tmp).map_err(fail)?;
            f.write_all(&data).map_err(fail)?;
            f.sync_all().map_err(fail)?;
        }
        std::fs::rename(&tmp, &self.file).map_err(fail)?;
        if let Some(dir) = self.file.parent() {
            std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(fail)?;
        }
        Ok(())
    }

    /// Applies `f` to the domain of `vm_uuid` and saves.
    fn with_dom<R>(&self, vm_uuid: &str, f: impl FnOnce(&mut SimState, usize) -> Result<R, BackendError>) -> Result<R, BackendError> {
        let mut s = self.lock();
        let i = s
            .domains
            .iter()
            .position(|d| d.vm_uuid == vm_uuid)
            .ok_or_else(|| BackendError::NoSuchDomain(vm_uuid.to_string()))?;
        let r = f(&mut s, i)?;
        self.save(&s)?;
        Ok(r)
    }

    fn memory_free(&self, s: &SimState) -> i64 {
        let used: i64 = s.domains.iter().map(|d| d.memory).sum();
        (self.cfg.memory_mib as i64 - self.cfg.dom0_memory_mib as i64) * MIB - used
    }

    fn build(&self, s: &mut SimState, spec: &DomainSpec) -> Result<DomId, BackendError> {
        if s.domains.iter().any(|d| d.vm_uuid == spec.vm_uuid) {
            return Err(BackendError::Failed(format!("a domain for VM {} already exists", spec.vm_uuid)));
        }
        let available = self.memory_free(s);
        if spec.memory_target > available {
            return Err(BackendError::NotEnoughMemory { needed: spec.memory_target, available });
        }
        if spec.vcpus > self.cfg.cpus as i64 {
            return Err(BackendError::NotEnoughCpus { vcpus: spec.vcpus, pcpus: self.cfg.cpus as i64 });
        }
        let domid = s.next_domid.max(1);
        s.next_domid = domid + 1;
        s.domains.push(Dom {
            domid,
            vm_uuid: spec.vm_uuid.clone(),
            name: spec.name.clone(),
            state: "paused".into(),
            memory: spec.memory_target,
            memory_static_max: spec.memory_static_max,
            vcpus: spec.vcpus,
            vcpus_max: spec.vcpus_max,
            hvm: spec.hvm,
            started: crate::time_fmt::now(),
            other_config: spec.other_config.clone(),
            devices: vec![],
        });
        Ok(domid)
    }

    /// Rebuilds an existing domain under a new domid (what a reboot does in Xen).
    fn rebuild(s: &mut SimState, i: usize) -> DomId {
        let domid = s.next_domid.max(1);
        s.next_domid = domid + 1;
        let d = &mut s.domains[i];
        d.domid = domid;
        d.state = "running".into();
        d.started = crate::time_fmt::now();
        domid
    }

    fn guest_setting<'a>(&self, d: &'a Dom, key: &str) -> Option<&'a str> {
        d.other_config.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The guest agent: waits for the guest to act on a shutdown or reboot request.
    fn await_guest(&self, vm_uuid: &str, cancel: &Cancel) -> Result<(), BackendError> {
        let (delay, ignores) = {
            let s = self.lock();
            let d = s
                .domains
                .iter()
                .find(|d| d.vm_uuid == vm_uuid)
                .ok_or_else(|| BackendError::NoSuchDomain(vm_uuid.to_string()))?;
            if d.state != "running" {
                return Err(BackendError::GuestLacksFeature("the guest is not running, so it cannot respond".into()));
            }
            let delay = self
                .guest_setting(d, "sim-shutdown-delay-ms")
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(self.cfg.guest_shutdown_ms);
            (Duration::from_millis(delay), self.guest_setting(d, "sim-ignore-shutdown") == Some("true"))
        };
        let timeout = Duration::from_secs_f64(self.cfg.shutdown_timeout_secs.max(0.0));
        let start = Instant::now();
        loop {
            if cancel.is_cancelled() {
                return Err(BackendError::Cancelled);
            }
            let waited = start.elapsed();
            if !ignores && waited >= delay {
                return Ok(());
            }
            if waited >= timeout {
                return Err(BackendError::ShutdownTimeout { timeout_secs: self.cfg.shutdown_timeout_secs });
            }
            std::thread::sleep(Duration::from_millis(10).min(timeout.saturating_sub(waited)).max(Duration::from_millis(1)));
        }
    }
}

impl Backend for Sim {
    fn kind(&self) -> &'static str {
        "sim"
    }

    fn host_info(&self) -> HostInfo {
        let s = self.lock();
        HostInfo {
            cpus: self.cfg.cpus as i64,
            memory_total: self.cfg.memory_mib as i64 * MIB,
            memory_free: self.memory_free(&s),
        }
    }

    fn domains(&self) -> Vec<DomainInfo> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        self.lock()
            .domains
            .iter()
            .map(|d| DomainInfo {
                domid: d.domid,
                vm_uuid: d.vm_uuid.clone(),
                state: match d.state.as_str() {
                    "running" => DomainState::Running,
                    "crashed" => DomainState::Crashed,
                    _ => DomainState::Paused,
                },
                memory_actual: d.memory,
                vcpus: d.vcpus,
                started: d.started,
                // A busy-ish guest whose load drifts over time; paused and crashed guests are idle.
                vcpu_utilisation: (0..d.vcpus)
                    .map(|c| {
                        if d.state == "running" {
                            0.05 + 0.4 * (1.0 + (now / 7.0 + (d.domid * 3 + c) as f64).sin()) / 2.0
                        } else {
                            0.0
                        }
                    })
                    .collect(),
            })
            .collect()
    }

    fn create(&self, spec: &DomainSpec) -> Result<DomId, BackendError> {
        let mut s = self.lock();
        let domid = self.build(&mut s, spec)?;
        self.save(&s)?;
        Ok(domid)
    }

    fn unpause(&self, vm_uuid: &str) -> Result<(), BackendError> {
        self.with_dom(vm_uuid, |s, i| {
            s.domains[i].state = "running".into();
            Ok(())
        })
    }

    fn pause(&self, vm_uuid: &str) -> Result<(), BackendError> {
        self.with_dom(vm_uuid, |s, i| {
            s.domains[i].state = "paused".into();
            Ok(())
        })
    }

    fn clean_shutdown(&self, vm_uuid: &str, cancel: &Cancel) -> Result<(), BackendError> {
        self.await_guest(vm_uuid, cancel)?;
        self.destroy(vm_uuid)
    }

    fn clean_reboot(&self, vm_uuid: &str, cancel: &Cancel) -> Result<DomId, BackendError> {
        self.await_guest(vm_uuid, cancel)?;
        self.with_dom(vm_uuid, |s, i| Ok(Sim::rebuild(s, i)))
    }

    fn destroy(&self, vm_uuid: &str) -> Result<(), BackendError> {
        self.with_dom(vm_uuid, |s, i| {
            s.domains.remove(i);
            Ok(())
        })
    }

    fn hard_reboot(&self, vm_uuid: &str) -> Result<DomId, BackendError> {
        self.with_dom(vm_uuid, |s, i| Ok(Sim::rebuild(s, i)))
    }

    fn suspend(&self, vm_uuid: &str, image: &Path, cancel: &Cancel) -> Result<(), BackendError> {
        let dom = {
            let s = self.lock();
            s.domains.iter().find(|d| d.vm_uuid == vm_uuid).cloned().ok_or_else(|| BackendError::NoSuchDomain(vm_uuid.into()))?
        };
        if cancel.is_cancelled() {
            return Err(BackendError::Cancelled);
        }
        // The image: a header describing the domain, then its memory (sparse, so a large guest
        // costs no disk until written).
        let fail = |e: std::io::Error| BackendError::Failed(format!("cannot write suspend image {}: {e}", image.display()));
        if let Some(dir) = image.parent() {
            crate::state_dir::create_private_dir(dir).map_err(fail)?;
        }
        let header = serde_json::to_vec(&dom).map_err(|e| BackendError::Failed(e.to_string()))?;
        {
            use std::io::Write;
            let mut f = crate::state_dir::create_private(image).map_err(fail)?;
            f.write_all(b"XENCIM-SIM-SUSPEND\n").map_err(fail)?;
            f.write_all(&header).map_err(fail)?;
            f.write_all(b"\n").map_err(fail)?;
            f.set_len(f.metadata().map_err(fail)?.len() + dom.memory as u64).map_err(fail)?;
            f.sync_all().map_err(fail)?;
        }
        self.destroy(vm_uuid)
    }

    fn resume(&self, spec: &DomainSpec, image: &Path) -> Result<DomId, BackendError> {
        let bytes = std::fs::read(image).map_err(|e| BackendError::Failed(format!("cannot read suspend image {}: {e}", image.display())))?;
        let mut lines = bytes.splitn(3, |b| *b == b'\n');
        if lines.next() != Some(b"XENCIM-SIM-SUSPEND") {
            return Err(BackendError::Failed(format!("{} is not a suspend image", image.display())));
        }
        let saved: Dom = serde_json::from_slice(lines.next().unwrap_or_default())
            .map_err(|e| BackendError::Failed(format!("suspend image {} is corrupt: {e}", image.display())))?;
        if saved.vm_uuid != spec.vm_uuid {
            return Err(BackendError::Failed(format!("suspend image {} belongs to VM {}", image.display(), saved.vm_uuid)));
        }
        let mut s = self.lock();
        let domid = self.build(&mut s, &DomainSpec { memory_target: saved.memory, vcpus: saved.vcpus, ..spec.clone() })?;
        if let Some(d) = s.domains.iter_mut().find(|d| d.vm_uuid == spec.vm_uuid) {
            d.devices = saved.devices;
        }
        self.save(&s)?;
        Ok(domid)
    }

    fn set_memory_target(&self, vm_uuid: &str, bytes: i64) -> Result<(), BackendError> {
        let mut s = self.lock();
        let i = s.domains.iter().position(|d| d.vm_uuid == vm_uuid).ok_or_else(|| BackendError::NoSuchDomain(vm_uuid.into()))?;
        let available = self.memory_free(&s) + s.domains[i].memory;
        if bytes > available {
            return Err(BackendError::NotEnoughMemory { needed: bytes, available });
        }
        s.domains[i].memory = bytes;
        self.save(&s)
    }

    fn set_vcpus(&self, vm_uuid: &str, n: i64) -> Result<(), BackendError> {
        self.with_dom(vm_uuid, |s, i| {
            let d = &mut s.domains[i];
            if n < 1 || n > d.vcpus_max {
                return Err(BackendError::Failed(format!("{n} vCPUs is outside 1..{}", d.vcpus_max)));
            }
            d.vcpus = n;
            Ok(())
        })
    }

    fn plug(&self, vm_uuid: &str, kind: DeviceKind, device: &str) -> Result<(), BackendError> {
        self.with_dom(vm_uuid, |s, i| {
            let key = (kind_name(kind).to_string(), device.to_string());
            let d = &mut s.domains[i];
            if d.devices.contains(&key) {
                return Err(BackendError::DeviceAlreadyAttached(device.into()));
            }
            d.devices.push(key);
            Ok(())
        })
    }

    fn unplug(&self, vm_uuid: &str, kind: DeviceKind, device: &str) -> Result<(), BackendError> {
        self.with_dom(vm_uuid, |s, i| {
            let key = (kind_name(kind).to_string(), device.to_string());
            let d = &mut s.domains[i];
            let before = d.devices.len();
            d.devices.retain(|x| *x != key);
            if d.devices.len() == before {
                return Err(BackendError::DeviceNotAttached(device.into()));
            }
            Ok(())
        })
    }

    fn send_sysrq(&self, vm_uuid: &str, key: &str) -> Result<(), BackendError> {
        // sysrq-o powers the guest off, sysrq-b reboots it: the guest stops by itself, and its
        // domain stays, shut down, until actions_after_shutdown/reboot decide what follows.
        let own = match key {
            "o" => Some(GuestShutdown::Poweroff),
            "b" => Some(GuestShutdown::Reboot),
            _ => None,
        };
        if let Some(why) = own {
            self.with_dom(vm_uuid, |s, i| {
                s.domains[i].state = "shutdown".into();
                Ok(())
            })?;
            self.guest_shutdowns.lock().unwrap_or_else(|p| p.into_inner()).push((vm_uuid.to_string(), why));
            return Ok(());
        }
        if key != "c" {
            // Other keys reach the guest and change nothing the API can see.
            return self.with_dom(vm_uuid, |_, _| Ok(()));
        }
        // sysrq-c: the kernel panics. The domain stays, crashed, until actions_after_crash
        // decide what becomes of it.
        self.with_dom(vm_uuid, |s, i| {
            s.domains[i].state = "crashed".into();
            Ok(())
        })?;
        self.crashed.lock().unwrap_or_else(|p| p.into_inner()).push(vm_uuid.to_string());
        Ok(())
    }

    fn take_crashed(&self) -> Vec<String> {
        std::mem::take(&mut *self.crashed.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn take_guest_shutdowns(&self) -> Vec<(String, GuestShutdown)> {
        std::mem::take(&mut *self.guest_shutdowns.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(uuid: &str, mem_mib: i64, vcpus: i64) -> DomainSpec {
        DomainSpec {
            vm_uuid: uuid.into(),
            name: uuid.into(),
            memory_target: mem_mib * MIB,
            memory_static_max: mem_mib * MIB,
            vcpus,
            vcpus_max: vcpus,
            hvm: false,
            other_config: vec![],
            detail: DomainDetail::default(),
        }
    }

    fn sim(dir: &Path) -> Sim {
        let cfg = SimHostConfig { memory_mib: 4096, dom0_memory_mib: 1024, cpus: 4, guest_shutdown_ms: 20, shutdown_timeout_secs: 0.2, ..Default::default() };
        Sim::open(dir, cfg).unwrap()
    }

    #[test]
    fn accounts_memory_and_cpus() {
        let d = tempfile::tempdir().unwrap();
        let s = sim(d.path());
        assert_eq!(s.host_info().memory_free, 3072 * MIB);
        let a = s.create(&spec("a", 2048, 2)).unwrap();
        let b = s.create(&spec("b", 1024, 1)).unwrap();
        assert_ne!(a, b);
        assert_eq!(s.host_info().memory_free, 0);
        assert_eq!(s.create(&spec("c", 1, 1)), Err(BackendError::NotEnoughMemory { needed: MIB, available: 0 }));
        s.destroy("b").unwrap();
        assert_eq!(s.create(&spec("c", 512, 8)), Err(BackendError::NotEnoughCpus { vcpus: 8, pcpus: 4 }));
    }

    #[test]
    fn domains_survive_reopen() {
        let d = tempfile::tempdir().unwrap();
        let domid = {
            let s = sim(d.path());
            let domid = s.create(&spec("a", 512, 1)).unwrap();
            s.unpause("a").unwrap();
            domid
        };
        let s = sim(d.path());
        let dom = s.domain("a").unwrap();
        assert_eq!((dom.domid, dom.state), (domid, DomainState::Running));
        assert!(s.create(&spec("b", 512, 1)).unwrap() > domid, "domids are never reused");
    }

    #[test]
    fn guest_agent_delays_and_ignores() {
        let d = tempfile::tempdir().unwrap();
        let s = sim(d.path());
        s.create(&spec("a", 512, 1)).unwrap();
        s.unpause("a").unwrap();
        let t = Instant::now();
        s.clean_shutdown("a", &Cancel::default()).unwrap();
        assert!(t.elapsed() >= Duration::from_millis(20));
        assert!(s.domain("a").is_none());
        let mut deaf = spec("b", 512, 1);
        deaf.other_config.push(("sim-ignore-shutdown".into(), "true".into()));
        s.create(&deaf).unwrap();
        s.unpause("b").unwrap();
        assert_eq!(s.clean_shutdown("b", &Cancel::default()), Err(BackendError::ShutdownTimeout { timeout_secs: 0.2 }));
        assert!(s.domain("b").is_some());
        let c = Cancel::default();
        c.cancel();
        assert_eq!(s.clean_shutdown("b", &c), Err(BackendError::Cancelled));
    }

    #[test]
    fn suspend_writes_an_image_and_resume_reads_it() {
        let d = tempfile::tempdir().unwrap();
        let s = sim(d.path());
        s.create(&spec("a", 512, 2)).unwrap();
        s.plug("a", DeviceKind::Block, "0").unwrap();
        let img = d.path().join("suspend/a.img");
        s.suspend("a", &img, &Cancel::default()).unwrap();
        assert!(s.domain("a").is_none());
        assert!(std::fs::metadata(&img).unwrap().len() >= 512 * MIB as u64);
        s.resume(&spec("a", 1, 1), &img).unwrap();
        let dom = s.domain("a").unwrap();
        assert_eq!((dom.memory_actual, dom.vcpus, dom.state), (512 * MIB, 2, DomainState::Paused));
        assert_eq!(s.unplug("a", DeviceKind::Block, "0"), Ok(()));
        assert!(s.resume(&spec("b", 1, 1), &img).is_err(), "an image belongs to one VM");
    }

    #[test]
    fn sysrq_c_crashes_the_guest() {
        let d = tempfile::tempdir().unwrap();
        let s = sim(d.path());
        s.create(&spec("a", 512, 1)).unwrap();
        s.send_sysrq("a", "c").unwrap();
        assert_eq!(s.domain("a").unwrap().state, DomainState::Crashed);
        assert_eq!(s.take_crashed(), ["a"]);
        assert!(s.take_crashed().is_empty());
    }

    #[test]
    fn sysrq_o_and_b_stop_the_guest_by_itself() {
        let d = tempfile::tempdir().unwrap();
        let s = sim(d.path());
        s.create(&spec("a", 512, 1)).unwrap();
        s.create(&spec("b", 512, 1)).unwrap();
        s.unpause("a").unwrap();
        s.send_sysrq("a", "o").unwrap();
        s.send_sysrq("b", "b").unwrap();
        assert_eq!(s.domain("a").unwrap().state, DomainState::Paused, "shut down, not running, until acted on");
        assert_eq!(s.take_guest_shutdowns(), [("a".to_string(), GuestShutdown::Poweroff), ("b".to_string(), GuestShutdown::Reboot)]);
        assert!(s.take_guest_shutdowns().is_empty() && s.take_crashed().is_empty());
    }
}
