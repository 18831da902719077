//! A libxl context and the operations the backend runs through it, each a synchronous libxl
//! call (no `ao_how`: libxl waits for completion on the calling thread). libxl contexts may be
//! used from several threads at once, which is how the event thread shares this one.

use super::config::{first_bits, Disk, DomainConfig, Nic};
use super::ffi;
use super::logger::Logger;
use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::ptr;

/// A failed libxl call: what was asked, libxl's return code and the last error it logged.
#[derive(Debug, Clone, PartialEq)]
pub struct XlError {
    pub op: String,
    pub rc: i32,
    pub said: Option<String>,
}

impl std::fmt::Display for XlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} failed (libxl error {})", self.op, self.rc)?;
        if let Some(s) = &self.said {
            write!(f, ": {s}")?;
        }
        Ok(())
    }
}

/// One domain as libxl lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct DomInfo {
    pub domid: u32,
    pub uuid: String,
    pub paused: bool,
    pub shutdown: bool,
    pub dying: bool,
    pub shutdown_reason: ffi::libxl_shutdown_reason,
    pub current_memkb: u64,
    pub max_memkb: u64,
    pub cpu_time_ns: u64,
    pub vcpu_online: u32,
    pub vcpu_max: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhysInfo {
    pub nr_cpus: u32,
    pub total_bytes: u64,
    pub free_bytes: u64,
}

/// The libxl event the backend listens for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DomainEvent {
    Shutdown { domid: u32, reason: ffi::libxl_shutdown_reason },
    Death { domid: u32 },
}

/// A registration for the shutdown and death of one domain.
pub struct DeathWatch(*mut ffi::libxl_evgen_domain_death);

// SAFETY: an opaque libxl handle, used only through the (thread-safe) context it came from.
unsafe impl Send for DeathWatch {}

static HOOKS: ffi::libxl_childproc_hooks = ffi::libxl_childproc_hooks {
    chldowner: ffi::libxl_sigchld_owner_libxl_always_selective_reap,
    fork_replacement: None,
    reaped_callback: None,
};

pub struct Ctx {
    raw: *mut ffi::libxl_ctx,
    logger: Box<Logger>,
}

// SAFETY: libxl contexts are thread-safe (libxl takes its context lock in every call).
unsafe impl Send for Ctx {}
unsafe impl Sync for Ctx {}

fn uuid_string(u: &ffi::libxl_uuid) -> String {
    let b = &u.uuid;
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
    )
}

impl Ctx {
    /// A context: needs the hypervisor (libxc), so off Xen it fails with libxl's own words
    /// ("cannot open libxc handle").
    pub fn open() -> Result<Ctx, XlError> {
        let mut logger = Logger::new();
        let mut raw = ptr::null_mut();
        // SAFETY: the logger outlives the context (both owned by Ctx, the context freed first).
        let rc = unsafe { ffi::libxl_ctx_alloc(&mut raw, ffi::LIBXL_VERSION as i32, 0, logger.as_raw()) };
        if rc != 0 || raw.is_null() {
            return Err(XlError { op: "libxl_ctx_alloc".into(), rc, said: logger.take_last_error() });
        }
        // The server runs children of its own (qemu-img) and waits for each by pid: libxl must
        // reap only its own (bootloader, hotplug scripts), not every child of the process.
        // SAFETY: HOOKS is static, so it outlives the context as libxl requires.
        unsafe { ffi::libxl_childproc_setmode(raw, &HOOKS, ptr::null_mut()) };
        Ok(Ctx { raw, logger })
    }

    pub fn raw(&self) -> *mut ffi::libxl_ctx {
        self.raw
    }

    fn check(&self, op: impl Into<String>, rc: i32) -> Result<(), XlError> {
        if rc == 0 {
            Ok(())
        } else {
            Err(XlError { op: op.into(), rc, said: self.logger.take_last_error() })
        }
    }

    /// Builds a domain from the configuration, paused.
    pub fn create(&self, cfg: &mut DomainConfig) -> Result<u32, XlError> {
        let mut domid = 0u32;
        // SAFETY: valid context and configuration; synchronous call (null ao_how).
        let rc = unsafe { ffi::libxl_domain_create_new(self.raw, cfg.as_ptr(), &mut domid, ptr::null(), ptr::null()) };
        self.check("libxl_domain_create_new", rc)?;
        Ok(domid)
    }

    /// Rebuilds a domain from a suspend image, paused.
    pub fn restore(&self, cfg: &mut DomainConfig, image: &std::fs::File) -> Result<u32, XlError> {
        let mut domid = 0u32;
        let mut params = std::mem::MaybeUninit::<ffi::libxl_domain_restore_params>::zeroed();
        // SAFETY: init then use; the file descriptor stays open for the call.
        let rc = unsafe {
            ffi::libxl_domain_restore_params_init(params.as_mut_ptr());
            let rc = ffi::libxl_domain_create_restore(
                self.raw,
                cfg.as_ptr(),
                &mut domid,
                image.as_raw_fd(),
                -1,
                params.as_ptr(),
                ptr::null(),
                ptr::null(),
            );
            ffi::libxl_domain_restore_params_dispose(params.as_mut_ptr());
            rc
        };
        self.check("libxl_domain_create_restore", rc)?;
        Ok(domid)
    }

    pub fn destroy(&self, domid: u32) -> Result<(), XlError> {
        // SAFETY: plain call on a valid context.
        self.check(format!("libxl_domain_destroy({domid})"), unsafe { ffi::libxl_domain_destroy(self.raw, domid, ptr::null()) })
    }

    pub fn pause(&self, domid: u32) -> Result<(), XlError> {
        // SAFETY: plain call on a valid context.
        self.check(format!("libxl_domain_pause({domid})"), unsafe { ffi::libxl_domain_pause(self.raw, domid, ptr::null()) })
    }

    pub fn unpause(&self, domid: u32) -> Result<(), XlError> {
        // SAFETY: plain call on a valid context.
        self.check(format!("libxl_domain_unpause({domid})"), unsafe { ffi::libxl_domain_unpause(self.raw, domid, ptr::null()) })
    }

    /// Asks the guest to shut down (PV control node `control/shutdown`); returns at once.
    pub fn request_shutdown(&self, domid: u32) -> Result<(), XlError> {
        // SAFETY: plain call on a valid context.
        self.check(format!("libxl_domain_shutdown({domid})"), unsafe { ffi::libxl_domain_shutdown(self.raw, domid, ptr::null()) })
    }

    /// Asks the guest to reboot; returns at once.
    pub fn request_reboot(&self, domid: u32) -> Result<(), XlError> {
        // SAFETY: plain call on a valid context.
        self.check(format!("libxl_domain_reboot({domid})"), unsafe { ffi::libxl_domain_reboot(self.raw, domid, ptr::null()) })
    }

    /// Saves the domain's memory into `image`; the domain is left suspended (shut down).
    pub fn suspend(&self, domid: u32, image: &std::fs::File) -> Result<(), XlError> {
        // SAFETY: the descriptor stays open for the (synchronous) call.
        self.check(format!("libxl_domain_suspend({domid})"), unsafe {
            ffi::libxl_domain_suspend(self.raw, domid, image.as_raw_fd(), 0, ptr::null())
        })
    }

    pub fn set_memory_target(&self, domid: u32, kib: u64) -> Result<(), XlError> {
        // SAFETY: plain call; absolute target (relative 0), enforced (1).
        self.check(format!("libxl_set_memory_target({domid})"), unsafe {
            ffi::libxl_set_memory_target(self.raw, domid, kib as i64, 0, 1)
        })
    }

    /// Brings the first `online` of `max` vCPUs online, the others offline.
    pub fn set_vcpus_online(&self, domid: u32, online: u32, max: u32) -> Result<(), XlError> {
        let mut map = first_bits(max, online);
        // SAFETY: the bitmap is valid for the call, then freed by its dispose.
        let rc = unsafe {
            let rc = ffi::libxl_set_vcpuonline(self.raw, domid, &mut map, ptr::null());
            libc::free(map.map.cast());
            rc
        };
        self.check(format!("libxl_set_vcpuonline({domid})"), rc)
    }

    pub fn send_sysrq(&self, domid: u32, key: u8) -> Result<(), XlError> {
        // SAFETY: plain call on a valid context.
        self.check(format!("libxl_send_sysrq({domid})"), unsafe { ffi::libxl_send_sysrq(self.raw, domid, key as std::os::raw::c_char) })
    }

    pub fn disk_add(&self, domid: u32, disk: &mut Disk) -> Result<(), XlError> {
        // SAFETY: valid device for the synchronous call.
        self.check(format!("libxl_device_disk_add({domid})"), unsafe { ffi::libxl_device_disk_add(self.raw, domid, disk.raw(), ptr::null()) })
    }

    /// Removes the `i`-th disk of `cfg` (the domain's configuration) from the domain.
    pub fn disk_remove(&self, domid: u32, cfg: &mut DomainConfig, i: usize) -> Result<(), XlError> {
        let raw = cfg.raw();
        if i >= raw.num_disks.max(0) as usize {
            return Err(XlError { op: format!("libxl_device_disk_remove({domid})"), rc: ffi::ERROR_INVAL, said: Some(format!("no disk {i}")) });
        }
        // SAFETY: `i` is inside the array `cfg` owns and keeps alive for the call.
        self.check(format!("libxl_device_disk_remove({domid})"), unsafe {
            ffi::libxl_device_disk_remove(self.raw, domid, raw.disks.add(i), ptr::null())
        })
    }

    pub fn nic_add(&self, domid: u32, nic: &mut Nic) -> Result<(), XlError> {
        // SAFETY: valid device for the synchronous call.
        self.check(format!("libxl_device_nic_add({domid})"), unsafe { ffi::libxl_device_nic_add(self.raw, domid, nic.raw(), ptr::null()) })
    }

    /// Removes the `i`-th NIC of `cfg` (the domain's configuration) from the domain.
    pub fn nic_remove(&self, domid: u32, cfg: &mut DomainConfig, i: usize) -> Result<(), XlError> {
        let raw = cfg.raw();
        if i >= raw.num_nics.max(0) as usize {
            return Err(XlError { op: format!("libxl_device_nic_remove({domid})"), rc: ffi::ERROR_INVAL, said: Some(format!("no NIC {i}")) });
        }
        // SAFETY: `i` is inside the array `cfg` owns and keeps alive for the call.
        self.check(format!("libxl_device_nic_remove({domid})"), unsafe {
            ffi::libxl_device_nic_remove(self.raw, domid, raw.nics.add(i), ptr::null())
        })
    }

    /// The configuration libxl keeps for a running domain (devices plugged since included).
    pub fn retrieve_config(&self, domid: u32) -> Result<DomainConfig, XlError> {
        let mut cfg = DomainConfig::new();
        // SAFETY: `cfg` is initialised and disposable whatever the outcome.
        let rc = unsafe { ffi::libxl_retrieve_domain_configuration(self.raw, domid, cfg.as_ptr(), ptr::null()) };
        self.check(format!("libxl_retrieve_domain_configuration({domid})"), rc)?;
        Ok(cfg)
    }

    /// Marks a domain as built by this server (libxl keeps user data beside the domain).
    pub fn tag(&self, domid: u32, tag: &str) -> Result<(), XlError> {
        let id = CString::new(tag).expect("tag names have no NUL");
        // SAFETY: `id` and the one data byte live for the call.
        let rc = unsafe { ffi::libxl_userdata_store(self.raw, domid, id.as_ptr(), b"1".as_ptr(), 1) };
        self.check(format!("libxl_userdata_store({domid})"), rc)
    }

    pub fn has_tag(&self, domid: u32, tag: &str) -> bool {
        let id = CString::new(tag).expect("tag names have no NUL");
        let mut data = ptr::null_mut();
        let mut len = 0;
        // SAFETY: on success `data` is malloc'd (or null when the data is empty); freed here.
        let rc = unsafe { ffi::libxl_userdata_retrieve(self.raw, domid, id.as_ptr(), &mut data, &mut len) };
        unsafe { libc::free(data.cast()) };
        rc == 0 && len > 0
    }

    pub fn domains(&self) -> Vec<DomInfo> {
        let mut n = 0;
        // SAFETY: libxl returns an array of `n` dominfo (or null), freed below with its own free.
        let list = unsafe { ffi::libxl_list_domain(self.raw, &mut n) };
        if list.is_null() {
            return vec![];
        }
        // SAFETY: `n` initialised elements.
        let out = unsafe { std::slice::from_raw_parts(list, n.max(0) as usize) }
            .iter()
            .map(|d| DomInfo {
                domid: d.domid,
                uuid: uuid_string(&d.uuid),
                paused: d.paused,
                shutdown: d.shutdown,
                dying: d.dying,
                shutdown_reason: d.shutdown_reason,
                current_memkb: d.current_memkb,
                max_memkb: d.max_memkb,
                cpu_time_ns: d.cpu_time,
                vcpu_online: d.vcpu_online,
                vcpu_max: d.vcpu_max_id + 1,
            })
            .collect();
        // SAFETY: the list from libxl_list_domain, freed once.
        unsafe { ffi::libxl_dominfo_list_free(list, n) };
        out
    }

    /// CPU time of each vCPU of a domain (ns).
    pub fn vcpu_times(&self, domid: u32) -> Vec<u64> {
        let (mut n, mut cpus) = (0, 0);
        // SAFETY: as for libxl_list_domain.
        let list = unsafe { ffi::libxl_list_vcpu(self.raw, domid, &mut n, &mut cpus) };
        if list.is_null() {
            return vec![];
        }
        // SAFETY: `n` initialised elements, freed below.
        let out = unsafe { std::slice::from_raw_parts(list, n.max(0) as usize) }.iter().map(|v| v.vcpu_time).collect();
        unsafe { ffi::libxl_vcpuinfo_list_free(list, n) };
        out
    }

    pub fn physinfo(&self) -> Result<PhysInfo, XlError> {
        let mut p = std::mem::MaybeUninit::<ffi::libxl_physinfo>::zeroed();
        // SAFETY: init, fill, read, dispose.
        let (rc, info) = unsafe {
            ffi::libxl_physinfo_init(p.as_mut_ptr());
            let rc = ffi::libxl_get_physinfo(self.raw, p.as_mut_ptr());
            let r = &*p.as_ptr();
            let page = 4096u64;
            let info = PhysInfo { nr_cpus: r.nr_cpus, total_bytes: r.total_pages * page, free_bytes: r.free_pages * page };
            ffi::libxl_physinfo_dispose(p.as_mut_ptr());
            (rc, info)
        };
        self.check("libxl_get_physinfo", rc)?;
        Ok(info)
    }

    /// Asks libxl to report the shutdown and then the death of `domid` (`user` comes back
    /// in the event).
    pub fn watch_death(&self, domid: u32) -> Result<DeathWatch, XlError> {
        let mut evgen = ptr::null_mut();
        // SAFETY: plain call; the handle is released with `unwatch`.
        let rc = unsafe { ffi::libxl_evenable_domain_death(self.raw, domid, u64::from(domid), &mut evgen) };
        self.check(format!("libxl_evenable_domain_death({domid})"), rc)?;
        Ok(DeathWatch(evgen))
    }

    pub fn unwatch(&self, w: DeathWatch) {
        // SAFETY: a handle from watch_death on this context, released once (consumed).
        unsafe { ffi::libxl_evdisable_domain_death(self.raw, w.0) }
    }

    /// Blocks until libxl has a domain event.
    pub fn wait_event(&self) -> Result<DomainEvent, XlError> {
        loop {
            let mut ev = ptr::null_mut();
            // SAFETY: libxl hands over an event we must free with libxl_event_free.
            let rc = unsafe { ffi::libxl_event_wait(self.raw, &mut ev, u64::MAX, None, ptr::null_mut()) };
            self.check("libxl_event_wait", rc)?;
            if ev.is_null() {
                continue;
            }
            // SAFETY: non-null event from libxl, read then freed once.
            let out = unsafe {
                let e = &*ev;
                let out = match e.type_ {
                    ffi::LIBXL_EVENT_TYPE_DOMAIN_SHUTDOWN => {
                        Some(DomainEvent::Shutdown { domid: e.domid, reason: e.u.domain_shutdown.shutdown_reason as ffi::libxl_shutdown_reason })
                    }
                    ffi::LIBXL_EVENT_TYPE_DOMAIN_DEATH => Some(DomainEvent::Death { domid: e.domid }),
                    _ => None,
                };
                ffi::libxl_event_free(self.raw, ev);
                out
            };
            if let Some(e) = out {
                return Ok(e);
            }
        }
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: allocated in `open`, freed once, before the logger it uses.
        unsafe { ffi::libxl_ctx_free(self.raw) };
    }
}
