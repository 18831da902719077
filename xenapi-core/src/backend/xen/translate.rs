//! A VM, as the API hands it to the backend ([`DomainSpec`]), turned into libxl's
//! `libxl_domain_config`. Every field that libxl cannot express fails the whole translation with
//! [`BackendError::Untranslatable`], which names the field (`VM.platform:viridian`), so a start
//! never silently builds a different machine from the one the VM record describes.
//!
//! | XenAPI | libxl |
//! | --- | --- |
//! | `domain_type`, `HVM_boot_policy` | `c_info.type` / `b_info.type` (hvm, pv, pvh) |
//! | `uuid` | `c_info.uuid`, and `c_info.name` (name_label is not unique, a domain name must be) |
//! | `memory_static_max`, `memory_dynamic_max` | `b_info.max_memkb`, `b_info.target_memkb` |
//! | `VCPUs_max`, `VCPUs_at_startup` | `b_info.max_vcpus`, `b_info.avail_vcpus` |
//! | `VCPUs_params:weight`, `:cap` | `b_info.sched_params.weight`, `.cap` |
//! | `PV_kernel`, `PV_ramdisk`, `PV_args` | `b_info.kernel`, `.ramdisk`, `.cmdline` |
//! | `PV_bootloader`, `PV_bootloader_args` | `b_info.bootloader`, `.bootloader_args` |
//! | `HVM_boot_params:order`, `:firmware` | `b_info.u.hvm.boot`, `.bios` |
//! | `platform:acpi`, `:apic` | `b_info.acpi`, `b_info.apic` |
//! | `platform:pae`, `:nx`, `:viridian`, `:hpet`, `:timeoffset`, `:vga` | `b_info.u.hvm.*` |
//! | `actions_after_shutdown`, `_reboot`, `_crash` | `on_poweroff`, `on_reboot`, `on_crash` (+ `on_watchdog`) |
//! | VBD + VDI | `disks[]`: `vdev`, `pdev_path`, `format`, `readwrite`, `is_cdrom` (bootable first for a bootloader) |
//! | VIF + network | `nics[]`: `devid`, `mac`, `bridge`, `mtu` |

use super::config::{c_string, defbool, first_bits, string_list, Disk, DomainConfig, Nic, NulInString};
use super::ffi;
use crate::backend::{BackendError, DiskSpec, DomainSpec, NicSpec};

/// The failure naming `field`.
fn bad(field: impl Into<String>, value: impl Into<String>, reason: impl Into<String>) -> BackendError {
    BackendError::Untranslatable { field: field.into(), value: value.into(), reason: reason.into() }
}

fn text(field: &str, value: &str) -> Result<*mut std::os::raw::c_char, BackendError> {
    c_string(value).map_err(|NulInString| bad(field, value.escape_default().to_string(), "contains a NUL byte"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pv,
    Hvm,
    Pvh,
}

impl Kind {
    fn libxl(self) -> ffi::libxl_domain_type {
        match self {
            Kind::Pv => ffi::LIBXL_DOMAIN_TYPE_PV,
            Kind::Hvm => ffi::LIBXL_DOMAIN_TYPE_HVM,
            Kind::Pvh => ffi::LIBXL_DOMAIN_TYPE_PVH,
        }
    }
}

/// The kind of guest. `spec.hvm` is what the API names devices by (`hda` or `xvda`), so it
/// decides between HVM and PV; `domain_type = pvh` asks for PVH.
pub fn kind(spec: &DomainSpec) -> Result<Kind, BackendError> {
    match spec.detail.domain_type.as_str() {
        "pvh" => Ok(Kind::Pvh),
        "hvm" | "pv" | "" | "unspecified" => Ok(if spec.hvm { Kind::Hvm } else { Kind::Pv }),
        other => Err(bad("VM.domain_type", other, "expected hvm, pv, pvh or unspecified")),
    }
}

fn kib(field: &str, bytes: i64) -> Result<u64, BackendError> {
    if bytes <= 0 || bytes % 1024 != 0 {
        return Err(bad(field, bytes.to_string(), "libxl needs a positive whole number of KiB"));
    }
    Ok((bytes / 1024) as u64)
}

fn flag(field: &str, value: &str) -> Result<bool, BackendError> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(bad(field, value, "expected true or false")),
    }
}

fn action(field: &str, value: &str, allowed: &[&str]) -> Result<ffi::libxl_action_on_shutdown, BackendError> {
    let a = match value {
        "destroy" => ffi::LIBXL_ACTION_ON_SHUTDOWN_DESTROY,
        "restart" => ffi::LIBXL_ACTION_ON_SHUTDOWN_RESTART,
        "preserve" => ffi::LIBXL_ACTION_ON_SHUTDOWN_PRESERVE,
        "rename_restart" => ffi::LIBXL_ACTION_ON_SHUTDOWN_RESTART_RENAME,
        "coredump_and_destroy" => ffi::LIBXL_ACTION_ON_SHUTDOWN_COREDUMP_DESTROY,
        "coredump_and_restart" => ffi::LIBXL_ACTION_ON_SHUTDOWN_COREDUMP_RESTART,
        _ => return Err(bad(field, value, format!("expected one of {}", allowed.join(", ")))),
    };
    if !allowed.contains(&value) {
        return Err(bad(field, value, format!("expected one of {}", allowed.join(", "))));
    }
    Ok(a)
}

fn lookup<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// The whole configuration of the VM's domain.
pub fn domain_config(spec: &DomainSpec) -> Result<DomainConfig, BackendError> {
    let d = &spec.detail;
    let kind = kind(spec)?;
    let mut cfg = DomainConfig::new();
    let c = cfg.raw();

    // Identity: the domain carries the VM's uuid, which is how the backend finds it again.
    c.c_info.type_ = kind.libxl();
    c.c_info.name = text("VM.uuid", &spec.vm_uuid)?;
    let uuid = std::ffi::CString::new(spec.vm_uuid.as_str()).map_err(|_| bad("VM.uuid", &spec.vm_uuid, "contains a NUL byte"))?;
    // SAFETY: `uuid` is NUL-terminated and `c_info.uuid` a writable libxl_uuid.
    if unsafe { ffi::libxl_uuid_from_string(&mut c.c_info.uuid, uuid.as_ptr()) } != 0 {
        return Err(bad("VM.uuid", &spec.vm_uuid, "not a uuid"));
    }

    // SAFETY: b_info was initialised by libxl_domain_config_init; this selects its union member.
    unsafe { ffi::libxl_domain_build_info_init_type(&mut c.b_info, kind.libxl()) };
    let b = &mut c.b_info;

    // Memory: libxl has a maximum and a balloon target; the static and dynamic minimums are the
    // API's bounds for later changes, not something a domain is built with.
    b.max_memkb = kib("VM.memory_static_max", spec.memory_static_max)?;
    b.target_memkb = kib("VM.memory_dynamic_max", spec.memory_target)?;
    if b.target_memkb > b.max_memkb {
        return Err(bad("VM.memory_dynamic_max", spec.memory_target.to_string(), "above memory_static_max"));
    }

    // vCPUs: all `VCPUs_max` exist, the first `VCPUs_at_startup` are online.
    if spec.vcpus_max < 1 || spec.vcpus_max > i64::from(u16::MAX) {
        return Err(bad("VM.VCPUs_max", spec.vcpus_max.to_string(), "expected 1 to 65535"));
    }
    if spec.vcpus < 1 || spec.vcpus > spec.vcpus_max {
        return Err(bad("VM.VCPUs_at_startup", spec.vcpus.to_string(), format!("expected 1 to VCPUs_max ({})", spec.vcpus_max)));
    }
    b.max_vcpus = spec.vcpus_max as i32;
    b.avail_vcpus = first_bits(spec.vcpus_max as u32, spec.vcpus as u32);
    for (key, value) in &d.vcpus_params {
        let field = format!("VM.VCPUs_params:{key}");
        match key.as_str() {
            "weight" => match value.parse::<i32>() {
                Ok(w) if (1..=65535).contains(&w) => b.sched_params.weight = w,
                _ => return Err(bad(field, value, "expected a credit-scheduler weight 1 to 65535")),
            },
            "cap" => match value.parse::<i32>() {
                Ok(cap) if (0..=65535).contains(&cap) => b.sched_params.cap = cap,
                _ => return Err(bad(field, value, "expected a cap in percent of one CPU, 0 for none")),
            },
            "mask" => return Err(bad(field, value, "vCPU affinity is not translated to libxl yet")),
            _ => tracing::debug!(key = %key, "VCPUs_params entry libxl has no use for"),
        }
    }

    match kind {
        Kind::Pv | Kind::Pvh => pv_boot(b, spec)?,
        Kind::Hvm => hvm_boot(b, spec)?,
    }

    let hvm = kind == Kind::Hvm;
    // libxl hands a PV bootloader the first disk: the VM's bootable disks go first.
    let mut order: Vec<&DiskSpec> = d.disks.iter().collect();
    if !hvm && !d.pv_bootloader.is_empty() {
        order.sort_by_key(|x| !x.bootable);
    }
    let disks = order.into_iter().map(|x| disk(x, hvm)).collect::<Result<Vec<_>, _>>()?;
    let nics = d.nics.iter().map(|x| nic(x, hvm)).collect::<Result<Vec<_>, _>>()?;
    let mut seen = std::collections::HashSet::new();
    for x in &d.disks {
        if !seen.insert(x.device.as_str()) {
            return Err(bad("VBD.userdevice", &x.userdevice, format!("VBD {}: a second disk on {}", x.vbd_uuid, x.device)));
        }
    }
    cfg.set_disks(disks);
    cfg.set_nics(nics);

    let c = cfg.raw();
    c.on_poweroff = action("VM.actions_after_shutdown", &d.actions_after_shutdown, &["destroy", "restart"])?;
    c.on_reboot = action("VM.actions_after_reboot", &d.actions_after_reboot, &["destroy", "restart"])?;
    c.on_crash = action(
        "VM.actions_after_crash",
        &d.actions_after_crash,
        &["destroy", "restart", "preserve", "rename_restart", "coredump_and_destroy", "coredump_and_restart"],
    )?;
    // A watchdog firing is a crash to the API.
    c.on_watchdog = c.on_crash;
    Ok(cfg)
}

fn absolute(field: &str, path: &str) -> Result<(), BackendError> {
    if !path.starts_with('/') {
        return Err(bad(field, path, "expected an absolute path in dom0"));
    }
    Ok(())
}

/// PV and PVH guests: a kernel given by path, or one a bootloader finds in the guest's disk
/// (the kernel, ramdisk and arguments are then hints the bootloader receives).
fn pv_boot(b: &mut ffi::libxl_domain_build_info, spec: &DomainSpec) -> Result<(), BackendError> {
    let d = &spec.detail;
    if !d.pv_bootloader.is_empty() {
        if d.pv_bootloader != "pygrub" && !d.pv_bootloader.starts_with('/') {
            return Err(bad("VM.PV_bootloader", &d.pv_bootloader, "libxl runs pygrub or a bootloader given by absolute path"));
        }
        b.bootloader = text("VM.PV_bootloader", &d.pv_bootloader)?;
        let args: Vec<&str> = d.pv_bootloader_args.split_whitespace().collect();
        if !args.is_empty() {
            b.bootloader_args = string_list(&args).map_err(|_| bad("VM.PV_bootloader_args", &d.pv_bootloader_args, "contains a NUL byte"))?;
        }
    } else if d.pv_kernel.is_empty() {
        return Err(bad("VM.PV_kernel", "", "a PV guest needs PV_kernel or PV_bootloader"));
    }
    if !d.pv_kernel.is_empty() {
        absolute("VM.PV_kernel", &d.pv_kernel)?;
        b.kernel = text("VM.PV_kernel", &d.pv_kernel)?;
    }
    if !d.pv_ramdisk.is_empty() {
        absolute("VM.PV_ramdisk", &d.pv_ramdisk)?;
        b.ramdisk = text("VM.PV_ramdisk", &d.pv_ramdisk)?;
    }
    if !d.pv_args.is_empty() {
        b.cmdline = text("VM.PV_args", &d.pv_args)?;
    }
    Ok(())
}

/// HVM guests: firmware, boot order and the platform flags.
fn hvm_boot(b: &mut ffi::libxl_domain_build_info, spec: &DomainSpec) -> Result<(), BackendError> {
    let d = &spec.detail;
    if !matches!(d.hvm_boot_policy.as_str(), "" | "BIOS order") {
        return Err(bad("VM.HVM_boot_policy", &d.hvm_boot_policy, "expected \"BIOS order\""));
    }
    let order = lookup(&d.hvm_boot_params, "order").unwrap_or("cd");
    if order.is_empty() || !order.chars().all(|ch| matches!(ch, 'a' | 'c' | 'd' | 'n')) {
        return Err(bad("VM.HVM_boot_params:order", order, "expected letters of c (disk), d (CD), n (network), a (floppy)"));
    }
    // Writing a union field is safe; init_type set the union up as `hvm`, the member written.
    b.u.hvm.boot = text("VM.HVM_boot_params:order", order)?;
    match lookup(&d.hvm_boot_params, "firmware") {
        None | Some("bios") => {}
        Some("uefi") => b.u.hvm.bios = ffi::LIBXL_BIOS_TYPE_OVMF,
        Some(other) => return Err(bad("VM.HVM_boot_params:firmware", other, "expected bios or uefi")),
    }
    for (key, value) in &d.platform {
        let field = format!("VM.platform:{key}");
        match key.as_str() {
            "acpi" => b.acpi = defbool(flag(&field, value)?),
            "apic" => b.apic = defbool(flag(&field, value)?),
            "pae" => b.u.hvm.pae = defbool(flag(&field, value)?),
            "nx" => b.u.hvm.nx = defbool(flag(&field, value)?),
            "viridian" => b.u.hvm.viridian = defbool(flag(&field, value)?),
            "hpet" => b.u.hvm.hpet = defbool(flag(&field, value)?),
            "timeoffset" => {
                if value.parse::<i64>().is_err() {
                    return Err(bad(field, value, "expected seconds from UTC"));
                }
                b.u.hvm.timeoffset = text(&field, value)?
            }
            "vga" => {
                let kind = match value.as_str() {
                    "std" => ffi::LIBXL_VGA_INTERFACE_TYPE_STD,
                    "cirrus" => ffi::LIBXL_VGA_INTERFACE_TYPE_CIRRUS,
                    _ => return Err(bad(field, value, "expected std or cirrus")),
                };
                b.u.hvm.vga.kind = kind
            }
            _ => tracing::debug!(key = %key, "platform entry libxl has no use for"),
        }
    }
    Ok(())
}

/// One VBD as a libxl disk (also what `block` hot-plug adds).
pub fn disk(x: &DiskSpec, hvm: bool) -> Result<Disk, BackendError> {
    let mut disk = Disk::new();
    let r = disk.raw();
    if x.device.is_empty() {
        return Err(bad("VBD.userdevice", &x.userdevice, format!("VBD {} has no guest device name", x.vbd_uuid)));
    }
    r.vdev = text("VBD.userdevice", &x.device)?;
    r.is_cdrom = x.cdrom as i32;
    r.removable = x.cdrom as i32;
    r.readwrite = (!x.cdrom && !x.read_only) as i32;
    match &x.image {
        None if x.cdrom => {
            r.format = ffi::LIBXL_DISK_FORMAT_EMPTY;
            r.pdev_path = text("VBD.VDI", "")?;
        }
        None => return Err(bad("VBD.empty", "true", format!("VBD {}: only a CD drive can be empty", x.vbd_uuid))),
        Some(img) => {
            let path = img.path.to_string_lossy();
            if !img.path.is_absolute() {
                return Err(bad("VDI.location", path, format!("VDI {}: the image path must be absolute", img.vdi_uuid)));
            }
            r.pdev_path = text("VDI.location", &path)?;
            r.format = match img.format.as_str() {
                "raw" | "iso" => ffi::LIBXL_DISK_FORMAT_RAW,
                // qcow2 is read by qemu's disk backend only.
                "qcow2" => {
                    r.backend = ffi::LIBXL_DISK_BACKEND_QDISK;
                    ffi::LIBXL_DISK_FORMAT_QCOW2
                }
                "vhd" => ffi::LIBXL_DISK_FORMAT_VHD,
                other => return Err(bad("VDI.sm_config:format", other, format!("VDI {}: expected raw, qcow2 or vhd", img.vdi_uuid))),
            };
        }
    }
    if x.cdrom && !hvm && x.image.is_none() {
        // A PV guest sees a CD through blkfront, which has no media change: an empty drive is
        // a disk without media it cannot use.
        return Err(bad("VBD.empty", "true", format!("VBD {}: a PV guest cannot have an empty CD drive", x.vbd_uuid)));
    }
    Ok(disk)
}

/// `aa:bb:cc:dd:ee:ff` as six bytes.
pub fn parse_mac(mac: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = mac.split(':');
    for byte in out.iter_mut() {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// One VIF as a libxl NIC (also what `network` hot-plug adds).
pub fn nic(x: &NicSpec, _hvm: bool) -> Result<Nic, BackendError> {
    let mut nic = Nic::new();
    let r = nic.raw();
    r.devid = match x.device.parse::<i32>() {
        Ok(n) if n >= 0 => n,
        _ => return Err(bad("VIF.device", &x.device, format!("VIF {}: expected the NIC's index, 0 or more", x.vif_uuid))),
    };
    r.mac = parse_mac(&x.mac).ok_or_else(|| bad("VIF.MAC", &x.mac, format!("VIF {}: expected aa:bb:cc:dd:ee:ff", x.vif_uuid)))?;
    if x.bridge.is_empty() {
        return Err(bad("network.bridge", "", format!("VIF {}: its network has no bridge in dom0", x.vif_uuid)));
    }
    r.bridge = text("network.bridge", &x.bridge)?;
    if x.mtu > 0 {
        r.mtu = x.mtu as i32;
    }
    Ok(nic)
}
