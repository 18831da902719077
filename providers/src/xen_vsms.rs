//! `Xen_VirtualSystemManagementService` (DSP1042): one instance per host, with DefineSystem,
//! DestroySystem, Add/Modify/RemoveResourceSettings, ModifySystemSettings and CopySystem.
//!
//! ```text
//! Xen_VirtualSystemManagementService.CreationClassName="Xen_VirtualSystemManagementService",
//!   Name="Xen Hypervisor",SystemCreationClassName="Xen_HostComputerSystem",SystemName="<host uuid>"
//! ```
//!
//! `DefineSystem(SystemSettings, ResourceSettings[], ReferenceConfiguration)` reads the embedded
//! VSSD and RASDs ([`crate::embedded`]: CIM-XML instances or MOF text), turns them into a
//! [`VmSpec`] (pure, unit-tested), then either `VM.create`s a PV or HVM guest or `VM.clone`s the
//! template named by ReferenceConfiguration and applies the spec; then makes the disks (new
//! VDI + VBD, or a VBD on an existing VDI), CD drives and VIFs. It completes synchronously:
//! 0 and OUT ResultingSystem. Bad input is CIM_ERR_INVALID_PARAMETER with a message, before any
//! XenAPI call; a XenAPI failure after the VM was made destroys it and is CIM_ERR_FAILED.
//!
//! `DestroySystem(AffectedSystem)`: a VM that is not halted is hard-shut-down first; its VBDs go,
//! with the VDIs only it used (neither read-only nor sharable), then `VM.destroy`. 0.
//!
//! The other methods, one module each: `resources` (AddResourceSettings,
//! ModifyResourceSettings, RemoveResourceSettings) and `system` (ModifySystemSettings,
//! CopySystem). They check all their input against the cache before any XenAPI call, change only
//! what differs from the current settings, and take back what they did when a XenAPI call fails
//! (`undo`). All complete synchronously: 0 and their OUT parameters, never a Job.

use crate::backend::{Backend, BackendRef};
use crate::embedded::Embedded;
use crate::util::*;
use crate::xen_computer_system as cs;
use crate::xenapi_conn::XenError;
use cmpi_shim::abi::CMPI_RC_ERR_METHOD_NOT_FOUND;
use cmpi_shim::provider::{Context, InstanceProvider, MethodProvider, Provider};
use cmpi_shim::{Args, CimValue, CmpiError, Instance, MethodResult, ObjectPath};
use xenapi_model::Value;

mod resources;
mod system;
mod undo;
/// The XenAPI action of an Automatic*Action value (the inverse of the VSSD's output, for tests).
#[cfg(test)]
pub(crate) use system::action as automatic_action;

pub const CLASS: &str = "Xen_VirtualSystemManagementService";
pub const SERVICE_NAME: &str = "Xen Hypervisor";
const MIB: u64 = 1 << 20;

pub fn path(ns: &str, host_uuid: &str) -> ObjectPath {
    ObjectPath::new(ns, CLASS)
        .with_key("CreationClassName", CLASS)
        .with_key("Name", SERVICE_NAME)
        .with_key("SystemCreationClassName", "Xen_HostComputerSystem")
        .with_key("SystemName", host_uuid)
}

pub fn instance(ns: &str, host_uuid: &str) -> Instance {
    Instance::new(path(ns, host_uuid))
        .with("CreationClassName", CLASS)
        .with("Name", SERVICE_NAME)
        .with("SystemCreationClassName", "Xen_HostComputerSystem")
        .with("SystemName", host_uuid)
        .with("ElementName", SERVICE_NAME)
        .with("Caption", "Xen Virtual System Management Service")
        .with("Started", true)
        .with("EnabledState", CimValue::Uint16(2))
        .with("EnabledDefault", CimValue::Uint16(2))
        .with("RequestedState", CimValue::Uint16(12))
        .with("OperationalStatus", u16_array(&[2]))
        .with("HealthState", CimValue::Uint16(5))
}

/// The boot style of a new guest.
#[derive(Clone, Debug, PartialEq)]
pub enum Boot {
    Pv { bootloader: String, kernel: String, ramdisk: String, args: String },
    Hvm { order: String },
}

/// What DefineSystem makes, read from the embedded instances.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct VmSpec {
    pub name: String,
    pub description: String,
    /// `None` with a template: keep the template's.
    pub boot: Option<Boot>,
    pub vcpus: Option<Vcpus>,
    pub memory: Option<Memory>,
    pub platform: Vec<(String, String)>,
    pub other_config: Vec<(String, String)>,
    /// Disks, CD drives and NICs, made in this order after the VM.
    pub devices: Vec<Device>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Device {
    Disk(DiskSpec),
    Nic(NicSpec),
}

/// A disk or CD drive: a new VDI of `size` bytes in SR `sr`, or the existing VDI `vdi`, or
/// (a CD) no VDI at all.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct DiskSpec {
    pub cd: bool,
    pub sr: Option<String>,
    pub vdi: Option<String>,
    pub size: u64,
    pub name: String,
    pub description: String,
    pub userdevice: Option<String>,
    pub bootable: bool,
    pub read_only: bool,
}

/// A NIC on the network with uuid `network`; `mac` empty to let XenAPI choose.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct NicSpec {
    pub network: String,
    pub mac: String,
    pub device: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Vcpus {
    pub max: u64,
    pub at_startup: u64,
    pub cap: Option<u64>,
    pub weight: Option<u64>,
}

/// Bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Memory {
    pub static_min: u64,
    pub static_max: u64,
    pub dynamic_min: u64,
    pub dynamic_max: u64,
}

/// The most VCPUs a guest may have.
pub const MAX_VCPUS: u64 = 64;
/// The least memory a guest may have.
pub const MIN_MEMORY: u64 = 16 * MIB;
/// The memory of a guest defined without a memory RASD (its static and dynamic max).
pub const DEFAULT_MEMORY: u64 = 256 * MIB;
/// The VCPUs of a guest defined without a processor RASD.
pub const DEFAULT_VCPUS: u64 = 1;

/// The byte multiplier of an AllocationUnits / VirtualQuantityUnits string: `byte`, `bytes`,
/// `KB`/`KiB`/`kilobyte(s)`, `MB`/`MiB`/`megabyte(s)`, `GB`/`GiB`/`gigabyte(s)`, and the DSP0004
/// programmatic form `byte*2^N` (also `bytes*2^N`, `b*2^N`). Case and blanks do not matter.
pub fn memory_unit(units: &str) -> Option<u64> {
    let u: String = units.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    let named = match u.as_str() {
        "b" | "byte" | "bytes" => Some(1),
        "kb" | "kib" | "kilobyte" | "kilobytes" => Some(1 << 10),
        "mb" | "mib" | "megabyte" | "megabytes" => Some(1 << 20),
        "gb" | "gib" | "gigabyte" | "gigabytes" => Some(1 << 30),
        "tb" | "tib" | "terabyte" | "terabytes" => Some(1u64 << 40),
        _ => None,
    };
    if named.is_some() {
        return named;
    }
    let (base, exp) = u.split_once("*2^")?;
    if !matches!(base, "b" | "byte" | "bytes") {
        return None;
    }
    let exp: u32 = exp.parse().ok()?;
    (exp <= 40).then(|| 1u64 << exp)
}

/// A bad DefineSystem input.
pub type SpecError = String;

fn kv_pairs(items: Vec<String>) -> Vec<(String, String)> {
    items.into_iter().filter_map(|s| s.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))).collect()
}

/// The RASD kinds DefineSystem takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RasdKind {
    Processor,
    Memory,
    Disk { cd: bool },
    Nic,
}

/// The kind of a RASD, by class name, else by ResourceType (3 Processor, 4 Memory, 15 or 16
/// CD drive, 17 or 19 disk, 33 Ethernet port).
pub fn rasd_kind(r: &Embedded) -> Result<RasdKind, SpecError> {
    let class = r.class.to_ascii_lowercase();
    let by_type = match r.uint("ResourceType")? {
        Some(3) => Some(RasdKind::Processor),
        Some(4) => Some(RasdKind::Memory),
        Some(15 | 16) => Some(RasdKind::Disk { cd: true }),
        Some(17 | 19) => Some(RasdKind::Disk { cd: false }),
        Some(33) => Some(RasdKind::Nic),
        Some(t) => return Err(format!("ResourceType {t} of {} is not supported by DefineSystem (3 Processor, 4 Memory, 16 CD, 19 disk, 33 NIC)", r.class)),
        None => None,
    };
    let by_class = match class.as_str() {
        "xen_processorsettingdata" => Some(RasdKind::Processor),
        "xen_memorysettingdata" => Some(RasdKind::Memory),
        "xen_disksettingdata" => Some(match by_type {
            Some(k @ RasdKind::Disk { .. }) => k,
            _ => RasdKind::Disk { cd: false },
        }),
        "xen_networkportsettingdata" => Some(RasdKind::Nic),
        _ => None,
    };
    match (by_class, by_type) {
        (Some(c), Some(t)) if c != t => Err(format!("ResourceType of {} does not fit its class", r.class)),
        (Some(k), _) | (None, Some(k)) => Ok(k),
        (None, None) => Err(format!("{} has no ResourceType", r.class)),
    }
}

/// A disk or CD RASD: PoolID = SR uuid (for a new VDI of VirtualQuantity × AllocationUnits,
/// default bytes), or HostExtentName = uuid of an existing VDI; a CD may have neither (empty
/// drive). AddressOnParent → userdevice, Bootable, Access 1 → read-only; ElementName /
/// Description name a new VDI.
pub fn disk(r: &Embedded, cd: bool) -> Result<DiskSpec, SpecError> {
    let vdi = existing_vdi(r)?.filter(|s| !s.is_empty());
    let sr = r.str("PoolID").filter(|s| !s.is_empty()).map(str::to_string);
    let mut size = 0;
    if vdi.is_none() && sr.is_some() {
        let unit = match r.str("AllocationUnits").or_else(|| r.str("VirtualQuantityUnits")) {
            None => 1,
            Some(u) => memory_unit(u).ok_or_else(|| format!("disk units {u:?} are not understood (e.g. \"byte*2^30\", \"GB\")"))?,
        };
        let vq = r.uint("VirtualQuantity")?.ok_or("a new disk needs VirtualQuantity")?;
        size = vq.checked_mul(unit).filter(|n| *n > 0 && *n <= i64::MAX as u64).ok_or_else(|| format!("disk size {vq} × {unit} bytes is impossible"))?;
    } else if vdi.is_none() && !cd {
        return Err("a disk RASD needs PoolID (an SR uuid) or HostExtentName (a VDI uuid)".into());
    }
    let bootable = matches!(r.str("Bootable").map(str::to_ascii_lowercase).as_deref(), Some("true"));
    Ok(DiskSpec {
        cd,
        sr,
        vdi,
        size,
        name: r.str("ElementName").unwrap_or("").to_string(),
        description: r.str("Description").unwrap_or("").to_string(),
        userdevice: r.str("AddressOnParent").filter(|s| !s.is_empty()).map(str::to_string),
        bootable,
        read_only: cd || r.uint("Access")? == Some(1),
    })
}

/// The VDI uuid a disk RASD names: HostExtentName, else the `Xen_DiskImage` of HostResource[0]
/// (as the RASDs output both). `Some("")`: explicitly none (an empty CD drive).
pub fn existing_vdi(r: &Embedded) -> Result<Option<String>, SpecError> {
    if let Some(uuid) = r.str("HostExtentName") {
        return Ok(Some(uuid.to_string()));
    }
    match r.list("HostResource").first() {
        None => Ok(None),
        Some(uri) => crate::xen_device_rasd::vdi_of_host_resource(uri)
            .map(|u| Some(u.to_string()))
            .ok_or_else(|| format!("HostResource {uri:?} is not the WBEM URI of a Xen_DiskImage")),
    }
}

/// A MAC address in the XenAPI form (six lower-case hex pairs joined by `:`), from that form,
/// `-` separators, or 12 bare hex digits. It must be unicast (the low bit of the first byte 0).
pub fn mac_address(text: &str) -> Result<String, SpecError> {
    let t = text.trim();
    let hex: String = if t.len() == 12 { t.to_string() } else { t.split([':', '-']).map(|p| if p.len() == 2 { p } else { "!" }).collect() };
    if t.len() != 12 && t.split([':', '-']).count() != 6 || hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("Address {text:?} is not a MAC address (e.g. \"02:16:3e:00:00:01\")"));
    }
    let hex = hex.to_ascii_lowercase();
    if u8::from_str_radix(&hex[..2], 16).map_err(|e| e.to_string())? & 1 == 1 {
        return Err(format!("Address {text:?} is a multicast MAC address"));
    }
    Ok((0..6).map(|i| &hex[2 * i..2 * i + 2]).collect::<Vec<_>>().join(":"))
}

/// A NIC RASD: PoolID = network uuid (required), Address → MAC (checked), AddressOnParent → device.
pub fn nic(r: &Embedded) -> Result<NicSpec, SpecError> {
    Ok(NicSpec {
        network: r.str("PoolID").filter(|s| !s.is_empty()).ok_or("a NIC RASD needs PoolID (a network uuid)")?.to_string(),
        mac: match r.str("Address").filter(|a| !a.trim().is_empty()) {
            None => String::new(),
            Some(a) => mac_address(a)?,
        },
        device: r.str("AddressOnParent").filter(|s| !s.is_empty()).map(str::to_string),
    })
}

/// The VCPUs of a processor RASD: VirtualQuantity (required) → VCPUs_max, Reservation →
/// VCPUs_at_startup (default VirtualQuantity), Limit → cap, Weight → weight.
pub fn vcpus(r: &Embedded) -> Result<Vcpus, SpecError> {
    let max = r.uint("VirtualQuantity")?.ok_or("the processor RASD needs VirtualQuantity")?;
    let at_startup = r.uint("Reservation")?.filter(|n| *n > 0).unwrap_or(max);
    if max == 0 || max > MAX_VCPUS {
        return Err(format!("VirtualQuantity {max}: a guest has 1 to {MAX_VCPUS} VCPUs"));
    }
    if at_startup > max {
        return Err(format!("Reservation {at_startup} is more than VirtualQuantity {max}"));
    }
    Ok(Vcpus { max, at_startup, cap: r.uint("Limit")?, weight: r.uint("Weight")? })
}

/// The memory of a memory RASD: VirtualQuantity (required) → static and dynamic max,
/// Reservation → static and dynamic min (default VirtualQuantity), Limit → dynamic max, all in
/// AllocationUnits (or VirtualQuantityUnits); MiB when neither is given, as the RASDs show it.
pub fn memory(r: &Embedded) -> Result<Memory, SpecError> {
    let units = r.str("AllocationUnits").or_else(|| r.str("VirtualQuantityUnits"));
    let unit = match units {
        None => MIB,
        Some(u) => memory_unit(u).ok_or_else(|| format!("memory units {u:?} are not understood (e.g. \"byte*2^20\", \"MB\", \"GiB\")"))?,
    };
    let scale = |name: &str| -> Result<Option<u64>, SpecError> {
        match r.uint(name)? {
            None => Ok(None),
            // XenAPI memory fields are int64: a product past that would reach it negative
            Some(n) => n.checked_mul(unit).filter(|b| *b <= i64::MAX as u64).map(Some).ok_or_else(|| format!("{name} {n} is too large")),
        }
    };
    let vq = scale("VirtualQuantity")?.ok_or("the memory RASD needs VirtualQuantity")?;
    let reservation = scale("Reservation")?.filter(|n| *n > 0).unwrap_or(vq);
    let limit = scale("Limit")?.filter(|n| *n > 0).unwrap_or(vq);
    if vq < MIN_MEMORY {
        return Err(format!("VirtualQuantity is {vq} bytes: a guest needs at least {} MiB", MIN_MEMORY / MIB));
    }
    if reservation > limit || limit > vq {
        return Err(format!("memory must satisfy Reservation ({reservation}) <= Limit ({limit}) <= VirtualQuantity ({vq}) bytes"));
    }
    Ok(Memory { static_min: reservation, static_max: vq, dynamic_min: reservation, dynamic_max: limit })
}

/// The spec of DefineSystem's input. `from_template`: ReferenceConfiguration was given, so
/// VirtualSystemType may be absent.
pub fn spec(vssd: &Embedded, rasds: &[Embedded], from_template: bool) -> Result<VmSpec, SpecError> {
    let name = vssd.str("ElementName").filter(|s| !s.is_empty()).ok_or("SystemSettings needs an ElementName")?.to_string();
    let boot = match vssd.str("VirtualSystemType").map(str::to_ascii_uppercase) {
        Some(t) if t.contains("HVM") => {
            let params = kv_pairs(vssd.list("HVM_Boot_Params"));
            let order = params.iter().find(|(k, _)| k == "order").map(|(_, v)| v.clone()).unwrap_or_else(|| "dc".into());
            Some(Boot::Hvm { order })
        }
        Some(t) if t.contains("PV") => {
            let kernel = vssd.str("PV_Kernel").unwrap_or("").to_string();
            let bootloader = vssd.str("PV_Bootloader").unwrap_or(if kernel.is_empty() { "pygrub" } else { "" }).to_string();
            Some(Boot::Pv {
                bootloader,
                kernel,
                ramdisk: vssd.str("PV_RAMDisk").unwrap_or("").to_string(),
                args: vssd.str("PV_Args").unwrap_or("").to_string(),
            })
        }
        Some(t) => return Err(format!("VirtualSystemType {t:?} is neither DMTF:Xen:PV nor DMTF:Xen:HVM")),
        None if from_template => None,
        None => return Err("SystemSettings needs a VirtualSystemType (DMTF:Xen:PV or DMTF:Xen:HVM)".into()),
    };
    let mut s = VmSpec {
        name,
        description: vssd.str("Description").unwrap_or("").to_string(),
        boot,
        platform: kv_pairs(vssd.list("Platform")),
        other_config: kv_pairs(vssd.list("Other_Config")),
        ..VmSpec::default()
    };
    for r in rasds {
        match rasd_kind(r)? {
            RasdKind::Processor if s.vcpus.is_some() => return Err("more than one processor RASD".into()),
            RasdKind::Processor => s.vcpus = Some(vcpus(r)?),
            RasdKind::Memory if s.memory.is_some() => return Err("more than one memory RASD".into()),
            RasdKind::Memory => s.memory = Some(memory(r)?),
            RasdKind::Disk { cd } => s.devices.push(Device::Disk(disk(r, cd)?)),
            RasdKind::Nic => s.devices.push(Device::Nic(nic(r)?)),
        }
    }
    Ok(s)
}

fn map_value(pairs: &[(String, String)]) -> Value {
    Value::Map(pairs.iter().map(|(k, v)| (Value::str(k.as_str()), Value::str(v.as_str()))).collect())
}

fn vcpus_params(v: &Vcpus) -> Vec<(String, String)> {
    let mut p = Vec::new();
    if let Some(c) = v.cap {
        p.push(("cap".to_string(), c.to_string()));
    }
    if let Some(w) = v.weight {
        p.push(("weight".to_string(), w.to_string()));
    }
    p
}

/// The `VM.create` record of a spec without a template (1 VCPU and 256 MiB unless given).
pub fn create_record(s: &VmSpec) -> Value {
    let m = s.memory.unwrap_or(Memory { static_min: 128 * MIB, static_max: DEFAULT_MEMORY, dynamic_min: DEFAULT_MEMORY, dynamic_max: DEFAULT_MEMORY });
    let v = s.vcpus.unwrap_or(Vcpus { max: DEFAULT_VCPUS, at_startup: DEFAULT_VCPUS, cap: None, weight: None });
    let (bootloader, kernel, ramdisk, args, hvm_policy, hvm_params) = match &s.boot {
        Some(Boot::Hvm { order }) => (String::new(), String::new(), String::new(), String::new(), "BIOS order", vec![("order".to_string(), order.clone())]),
        Some(Boot::Pv { bootloader, kernel, ramdisk, args }) => (bootloader.clone(), kernel.clone(), ramdisk.clone(), args.clone(), "", vec![]),
        None => Default::default(),
    };
    let str_ = |x: &str| Value::str(x);
    Value::Struct(vec![
        ("name_label".into(), str_(&s.name)),
        ("name_description".into(), str_(&s.description)),
        ("user_version".into(), Value::Int(1)),
        ("is_a_template".into(), Value::Bool(false)),
        ("affinity".into(), Value::null_ref()),
        ("memory_static_max".into(), Value::Int(m.static_max as i64)),
        ("memory_dynamic_max".into(), Value::Int(m.dynamic_max as i64)),
        ("memory_dynamic_min".into(), Value::Int(m.dynamic_min as i64)),
        ("memory_static_min".into(), Value::Int(m.static_min as i64)),
        ("VCPUs_params".into(), map_value(&vcpus_params(&v))),
        ("VCPUs_max".into(), Value::Int(v.max as i64)),
        ("VCPUs_at_startup".into(), Value::Int(v.at_startup as i64)),
        ("actions_after_shutdown".into(), str_("destroy")),
        ("actions_after_reboot".into(), str_("restart")),
        ("actions_after_crash".into(), str_("restart")),
        ("PV_bootloader".into(), str_(&bootloader)),
        ("PV_kernel".into(), str_(&kernel)),
        ("PV_ramdisk".into(), str_(&ramdisk)),
        ("PV_args".into(), str_(&args)),
        ("PV_bootloader_args".into(), str_("")),
        ("PV_legacy_args".into(), str_("")),
        ("HVM_boot_policy".into(), str_(hvm_policy)),
        ("HVM_boot_params".into(), map_value(&hvm_params)),
        ("platform".into(), map_value(&s.platform)),
        ("PCI_bus".into(), str_("")),
        ("other_config".into(), map_value(&s.other_config)),
        ("recommendations".into(), str_("")),
    ])
}

/// The VM uuid a ReferenceConfiguration names: a REF with InstanceID `Xen:<uuid>`, or a uuid
/// string. `None` when absent or NULL.
pub fn reference_uuid(v: Option<&CimValue>) -> Result<Option<String>, SpecError> {
    match v {
        None | Some(CimValue::Null { .. }) => Ok(None),
        Some(CimValue::String(s)) if s.is_empty() => Ok(None),
        Some(CimValue::String(s)) => Ok(Some(s.strip_prefix("Xen:").unwrap_or(s).to_string())),
        Some(CimValue::Reference(p)) => match p.key("InstanceID") {
            Some(CimValue::String(id)) => Ok(Some(id.strip_prefix("Xen:").unwrap_or(id).to_string())),
            _ => Err(format!("ReferenceConfiguration {p} has no InstanceID")),
        },
        Some(other) => Err(format!("ReferenceConfiguration {other:?} is neither a reference nor a uuid")),
    }
}

/// The VM uuid an AffectedSystem names: a `Xen_ComputerSystem` REF (Name) or a uuid string.
pub fn affected_uuid(v: Option<&CimValue>) -> Result<String, SpecError> {
    match v {
        Some(CimValue::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(CimValue::Reference(p)) => match p.key("Name") {
            Some(CimValue::String(n)) => Ok(n.clone()),
            _ => Err(format!("AffectedSystem {p} has no Name key")),
        },
        _ => Err("AffectedSystem is required".into()),
    }
}

fn arg<'a>(args: &'a Args, name: &str) -> Option<&'a CimValue> {
    args.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// DefineSystem / DestroySystem return codes.
pub mod rc {
    pub const COMPLETED: u32 = 0;
}

pub struct VsmsProvider {
    backend: BackendRef,
}

impl VsmsProvider {
    pub fn new() -> VsmsProvider {
        VsmsProvider { backend: BackendRef::acquire() }
    }

    fn backend(&self) -> Result<std::sync::Arc<Backend>, CmpiError> {
        self.backend.get().map_err(CmpiError::failed)
    }

    fn host_uuids(b: &Backend) -> Result<Vec<String>, CmpiError> {
        let tables = b.tables().map_err(CmpiError::failed)?;
        let mut hosts: Vec<String> = tables.iter("host").map(|(_, h)| h.str("uuid").to_string()).collect();
        hosts.sort();
        Ok(hosts)
    }

    fn define_system(&self, op: &ObjectPath, args: &Args) -> Result<MethodResult, CmpiError> {
        let bad = |m: String| CmpiError::invalid_parameter(m);
        let vssd = match arg(args, "SystemSettings") {
            None | Some(CimValue::Null { .. }) => return Err(bad("DefineSystem: SystemSettings (an embedded VSSD) is required".into())),
            Some(v) => Embedded::from_value(v).map_err(|e| bad(format!("DefineSystem: SystemSettings: {e}")))?,
        };
        let rasds = match arg(args, "ResourceSettings") {
            None => Vec::new(),
            Some(v) => Embedded::list_from_value(v).map_err(|e| bad(format!("DefineSystem: ResourceSettings: {e}")))?,
        };
        let template = reference_uuid(arg(args, "ReferenceConfiguration")).map_err(|e| bad(format!("DefineSystem: {e}")))?;
        let spec = spec(&vssd, &rasds, template.is_some()).map_err(|e| bad(format!("DefineSystem: {e}")))?;
        let b = self.backend()?;
        let template_ref = match &template {
            None => None,
            Some(uuid) => match b.run(calls::vm::get_by_uuid(uuid.as_str())) {
                Ok(r) => Some(r.into_string()),
                Err(_) => return Err(bad(format!("DefineSystem: ReferenceConfiguration: no VM or template with uuid {uuid:?}"))),
            },
        };
        let xen_fail = |e: XenError| CmpiError::failed(format!("DefineSystem: {e}"));
        let vm = match &template_ref {
            None => b.run(calls::vm::create(create_record(&spec))).map_err(xen_fail)?.into_string(),
            Some(t) => b.run(calls::vm::clone(t, spec.name.as_str())).map_err(xen_fail)?.into_string(),
        };
        // From here on, a failure removes what was made: the VM, the VDIs made for its new disks
        // and, for a clone, the copies of the template's disks VM.clone made.
        let mut new_vdis = match &template_ref {
            None => Vec::new(),
            Some(_) => Self::vdis_of(&b, &vm).unwrap_or_default(),
        };
        let configured = match &template_ref {
            None => Ok(()),
            Some(_) => Self::apply_to_clone(&b, &vm, &spec),
        };
        let uuid = configured
            .and_then(|_| spec.devices.iter().try_for_each(|d| Self::add_device(&b, &vm, d, &mut new_vdis).map(|_| ())))
            .and_then(|_| b.run(calls::vm::get_uuid(&vm)));
        let uuid = match uuid {
            Ok(u) => u,
            Err(e) => {
                // VM.destroy takes the VBDs and VIFs along; the VDIs made here go explicitly.
                let _ = b.run(calls::vm::destroy(&vm));
                for vdi in &new_vdis {
                    let _ = b.run(calls::vdi::destroy(vdi));
                }
                return Err(xen_fail(e));
            }
        };
        // Read-your-writes: the new VM is in the cache before the client asks for it.
        b.cache.wait_until(std::time::Duration::from_secs(5), |t| t.get("vm", &vm).is_some());
        let system = cs::path(&namespace_of(op), &uuid);
        Ok(MethodResult { return_value: Some(CimValue::Uint32(rc::COMPLETED)), out_args: vec![("ResultingSystem".into(), CimValue::Reference(system))] })
    }

    /// The VDIs behind the VBDs of `vm`.
    fn vdis_of(b: &Backend, vm: &str) -> Result<Vec<String>, XenError> {
        let mut vdis = Vec::new();
        for vbd in b.run(calls::vm::get_vbds(vm))? {
            let vdi = b.run(calls::vbd::get_vdi(&vbd))?;
            if !is_null_ref(&vdi) {
                vdis.push(vdi.into_string());
            }
        }
        Ok(vdis)
    }

    /// The first of `VM.get_allowed_<kind>_devices`.
    fn first_free(b: &Backend, vm: &str, kind: &str) -> Result<String, XenError> {
        let free = match kind {
            "VBD" => b.run(calls::vm::get_allowed_vbd_devices(vm))?,
            _ => b.run(calls::vm::get_allowed_vif_devices(vm))?,
        };
        free.into_iter().next().ok_or_else(|| XenError::Other(format!("the VM has no free {kind} slot")))
    }

    /// Creates one disk, CD drive or NIC of `vm`; new VDIs are pushed to `new_vdis`. Returns the
    /// ref of the new VBD or VIF.
    fn add_device(b: &Backend, vm: &str, d: &Device, new_vdis: &mut Vec<String>) -> Result<String, XenError> {
        let strv = |x: &str| Value::str(x);
        let empty_map = || Value::Map(vec![]);
        match d {
            Device::Disk(disk) => {
                let vdi = match (&disk.vdi, &disk.sr) {
                    (Some(uuid), _) => b.run(calls::vdi::get_by_uuid(uuid))?.into_string(),
                    (None, Some(sr_uuid)) => {
                        let sr = b.run(calls::sr::get_by_uuid(sr_uuid))?.into_string();
                        let rec = Value::Struct(vec![
                            ("name_label".into(), strv(&disk.name)),
                            ("name_description".into(), strv(&disk.description)),
                            ("SR".into(), strv(&sr)),
                            ("virtual_size".into(), Value::Int(disk.size as i64)),
                            ("type".into(), strv("user")),
                            ("sharable".into(), Value::Bool(false)),
                            ("read_only".into(), Value::Bool(disk.read_only && !disk.cd)),
                            ("other_config".into(), empty_map()),
                        ]);
                        let vdi = b.run(calls::vdi::create(rec))?.into_string();
                        new_vdis.push(vdi.clone());
                        vdi
                    }
                    (None, None) => "OpaqueRef:NULL".to_string(),
                };
                let userdevice = match &disk.userdevice {
                    Some(u) => u.clone(),
                    None => Self::first_free(b, vm, "VBD")?,
                };
                let rec = Value::Struct(vec![
                    ("VM".into(), strv(vm)),
                    ("VDI".into(), strv(&vdi)),
                    ("userdevice".into(), strv(&userdevice)),
                    ("bootable".into(), Value::Bool(disk.bootable)),
                    ("mode".into(), strv(if disk.read_only { "RO" } else { "RW" })),
                    ("type".into(), strv(if disk.cd { "CD" } else { "Disk" })),
                    ("empty".into(), Value::Bool(is_null_ref(&vdi))),
                    ("other_config".into(), empty_map()),
                    ("qos_algorithm_type".into(), strv("")),
                    ("qos_algorithm_params".into(), empty_map()),
                ]);
                Ok(b.run(calls::vbd::create(rec))?.into_string())
            }
            Device::Nic(n) => {
                let network = b.run(calls::network::get_by_uuid(&n.network))?.into_string();
                let device = match &n.device {
                    Some(d) => d.clone(),
                    None => Self::first_free(b, vm, "VIF")?,
                };
                let rec = Value::Struct(vec![
                    ("device".into(), strv(&device)),
                    ("network".into(), strv(&network)),
                    ("VM".into(), strv(vm)),
                    ("MAC".into(), strv(&n.mac)),
                    ("MTU".into(), Value::Int(1500)),
                    ("other_config".into(), empty_map()),
                    ("qos_algorithm_type".into(), strv("")),
                    ("qos_algorithm_params".into(), empty_map()),
                ]);
                Ok(b.run(calls::vif::create(rec))?.into_string())
            }
        }
    }

    /// Makes the clone of a template an ordinary VM with the spec's settings.
    fn apply_to_clone(b: &Backend, vm: &str, s: &VmSpec) -> Result<(), XenError> {
        use calls::vm;
        b.run(vm::set_is_a_template(vm, false))?;
        if !s.description.is_empty() {
            b.run(vm::set_name_description(vm, &s.description))?;
        }
        match &s.boot {
            Some(Boot::Hvm { order }) => {
                b.run(vm::set_hvm_boot_policy(vm, "BIOS order"))?;
                b.run(vm::set_hvm_boot_params(vm, vec![("order".into(), order.clone())]))?;
                b.run(vm::set_pv_bootloader(vm, ""))?;
            }
            Some(Boot::Pv { bootloader, kernel, ramdisk, args }) => {
                b.run(vm::set_hvm_boot_policy(vm, ""))?;
                b.run(vm::set_pv_bootloader(vm, bootloader))?;
                b.run(vm::set_pv_kernel(vm, kernel))?;
                b.run(vm::set_pv_ramdisk(vm, ramdisk))?;
                b.run(vm::set_pv_args(vm, args))?;
            }
            None => {}
        }
        for (k, v) in &s.platform {
            b.run(vm::add_to_platform(vm, k, v))?;
        }
        for (k, v) in &s.other_config {
            b.run(vm::add_to_other_config(vm, k, v))?;
        }
        if let Some(m) = s.memory {
            let i = |x: u64| x as i64;
            b.run(vm::set_memory_limits(vm, i(m.static_min), i(m.static_max), i(m.dynamic_min), i(m.dynamic_max)))?;
        }
        if let Some(v) = s.vcpus {
            // at_startup ≤ max at every step, whichever way the numbers move.
            b.run(vm::set_vcpus_at_startup(vm, 1))?;
            b.run(vm::set_vcpus_max(vm, v.max as i64))?;
            b.run(vm::set_vcpus_at_startup(vm, v.at_startup as i64))?;
            b.run(vm::set_vcpus_params(vm, vcpus_params(&v)))?;
        }
        Ok(())
    }

    fn destroy_system(&self, args: &Args) -> Result<MethodResult, CmpiError> {
        let uuid = affected_uuid(arg(args, "AffectedSystem")).map_err(|e| CmpiError::invalid_parameter(format!("DestroySystem: {e}")))?;
        let b = self.backend()?;
        let tables = b.tables().map_err(CmpiError::failed)?;
        let (vm, rec) = match tables.by_uuid("vm", &uuid) {
            Some((r, rec)) if cs::is_virtual_system(rec) => (r.clone(), rec.clone()),
            _ => return Err(CmpiError::not_found(format!("DestroySystem: no Xen_ComputerSystem with Name {uuid:?}"))),
        };
        let fail = |e: XenError| CmpiError::failed(format!("DestroySystem: {e}"));
        if power_state(&rec) != Some(VmPowerState::Halted) {
            b.run(calls::vm::hard_shutdown(&vm)).map_err(fail)?;
        }
        Self::destroy_halted(&b, &vm).map_err(fail)?;
        b.cache.wait_until(std::time::Duration::from_secs(5), |t| t.get("vm", &vm).is_none());
        Ok(MethodResult { return_value: Some(CimValue::Uint32(rc::COMPLETED)), out_args: vec![] })
    }

    /// Destroys a halted VM: its VBDs, the VDIs only it used, then the VM.
    fn destroy_halted(b: &Backend, vm: &str) -> Result<(), XenError> {
        for vbd in b.run(calls::vm::get_vbds(vm))? {
            let vdi = b.run(calls::vbd::get_vdi(&vbd)).ok().filter(|r| !is_null_ref(r));
            b.run(calls::vbd::destroy(&vbd))?;
            if let Some(vdi) = vdi {
                Self::destroy_if_unused(b, &vdi)?;
            }
        }
        b.run(calls::vm::destroy(vm))?;
        Ok(())
    }

    /// Destroys a VDI no VBD uses any more, unless it is read-only or sharable.
    fn destroy_if_unused(b: &Backend, vdi: &str) -> Result<(), XenError> {
        let unused = b.run(calls::vdi::get_vbds(vdi))?.is_empty();
        let ro = b.run(calls::vdi::get_read_only(vdi))?;
        let shared = b.run(calls::vdi::get_sharable(vdi))?;
        if unused && !ro && !shared {
            b.run(calls::vdi::destroy(vdi))?;
        }
        Ok(())
    }
}

impl Default for VsmsProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl Provider for VsmsProvider {
    fn instance(&self) -> Option<&dyn InstanceProvider> {
        Some(self)
    }
    fn method(&self) -> Option<&dyn MethodProvider> {
        Some(self)
    }
}

impl InstanceProvider for VsmsProvider {
    fn enumerate_instances(&self, _ctx: &Context, op: &ObjectPath, _properties: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        let b = self.backend()?;
        let ns = namespace_of(op);
        Ok(Self::host_uuids(&b)?.iter().map(|h| instance(&ns, h)).collect())
    }

    fn enumerate_instance_names(&self, _ctx: &Context, op: &ObjectPath) -> Result<Vec<ObjectPath>, CmpiError> {
        let b = self.backend()?;
        let ns = namespace_of(op);
        Ok(Self::host_uuids(&b)?.iter().map(|h| path(&ns, h)).collect())
    }

    fn get_instance(&self, _ctx: &Context, op: &ObjectPath, _properties: Option<&[String]>) -> Result<Instance, CmpiError> {
        check_creation_class(op, CLASS)?;
        let host = string_key(op, "SystemName")?;
        let name = string_key(op, "Name")?;
        let b = self.backend()?;
        if name != SERVICE_NAME || !Self::host_uuids(&b)?.contains(&host) {
            return Err(CmpiError::not_found(format!("no {CLASS} {op}")));
        }
        Ok(instance(&namespace_of(op), &host))
    }
}

impl MethodProvider for VsmsProvider {
    fn invoke_method(&self, ctx: &Context, op: &ObjectPath, method: &str, in_args: &Args) -> Result<MethodResult, CmpiError> {
        let b = self.backend()?;
        crate::access::acting_for(ctx, b.conn.config(), || self.run_method(op, method, in_args))
    }
}

impl VsmsProvider {
    fn run_method(&self, op: &ObjectPath, method: &str, in_args: &Args) -> Result<MethodResult, CmpiError> {
        // What each method may call, checked before it starts: a principal allowed the first
        // steps but not the last would otherwise leave a half-done change behind.
        let needs: &[&str] = match method.to_ascii_lowercase().as_str() {
            "definesystem" => &["VM.create", "VM.clone", "VM.destroy", "VDI.create", "VBD.create", "VIF.create"],
            "destroysystem" => &["VM.hard_shutdown", "VBD.destroy", "VDI.destroy", "VM.destroy"],
            "addresourcesettings" => &["VDI.create", "VBD.create", "VIF.create", "VBD.plug", "VIF.plug", "VBD.destroy", "VDI.destroy", "VIF.destroy"],
            "modifyresourcesettings" => &["VM.set_VCPUs_max", "VM.set_memory_limits", "VBD.set_mode", "VDI.resize", "VIF.move", "VBD.insert", "VBD.eject"],
            "removeresourcesettings" => &["VBD.unplug", "VBD.destroy", "VDI.destroy", "VIF.unplug", "VIF.destroy"],
            "modifysystemsettings" => &["VM.set_name_label", "VM.set_platform", "VM.add_to_other_config", "VM.set_affinity"],
            "copysystem" => &["VM.clone", "VM.copy", "VM.destroy", "VDI.destroy"],
            _ => &[],
        };
        crate::access::require(needs)?;
        if method.eq_ignore_ascii_case("DefineSystem") {
            self.define_system(op, in_args)
        } else if method.eq_ignore_ascii_case("DestroySystem") {
            self.destroy_system(in_args)
        } else if method.eq_ignore_ascii_case("AddResourceSettings") {
            resources::add(&*self.backend()?, op, in_args)
        } else if method.eq_ignore_ascii_case("ModifyResourceSettings") {
            resources::modify(&*self.backend()?, op, in_args)
        } else if method.eq_ignore_ascii_case("RemoveResourceSettings") {
            resources::remove(&*self.backend()?, in_args)
        } else if method.eq_ignore_ascii_case("ModifySystemSettings") {
            system::modify(&*self.backend()?, in_args)
        } else if method.eq_ignore_ascii_case("CopySystem") {
            system::copy(&*self.backend()?, op, in_args)
        } else {
            Err(CmpiError::new(CMPI_RC_ERR_METHOD_NOT_FOUND, format!("{CLASS} has no method {method}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::parse_mof;

    fn mof(s: &str) -> Embedded {
        parse_mof(s).unwrap()
    }

    #[test]
    fn memory_units_in_common_spellings() {
        for (u, m) in [("byte", 1), ("Bytes", 1), ("KB", 1024), ("KiB", 1024), ("byte*2^20", MIB), ("bytes * 2^20", MIB), ("MB", MIB), ("megabytes", MIB), ("GiB", 1 << 30), ("byte*2^30", 1 << 30)] {
            assert_eq!(memory_unit(u), Some(m), "{u}");
        }
        for u in ["count", "percent", "byte*2^99", "furlong*2^3", ""] {
            assert_eq!(memory_unit(u), None, "{u}");
        }
    }

    #[test]
    fn pv_vssd_with_processor_and_memory() {
        let vssd = mof("instance of Xen_ComputerSystemSettingData { ElementName = \"pv1\"; Description = \"d\"; VirtualSystemType = \"DMTF:xen:PV\"; PV_Args = \"quiet\"; Platform = {\"acpi=1\"}; };");
        let cpu = mof("instance of Xen_ProcessorSettingData { ResourceType = 3; VirtualQuantity = 4; Reservation = 2; Limit = 80; Weight = 256; };");
        let mem = mof("instance of CIM_ResourceAllocationSettingData { ResourceType = 4; VirtualQuantity = 1; AllocationUnits = \"GB\"; Reservation = 512; };");
        // Reservation in GB too: 512 GB > 1 GB is refused.
        assert!(spec(&vssd, &[cpu.clone(), mem], false).unwrap_err().contains("Reservation"));
        let mem = mof("instance of Xen_MemorySettingData { VirtualQuantity = 1024; virtualquantityunits = \"byte*2^20\"; Reservation = 512; };");
        let s = spec(&vssd, &[cpu, mem], false).unwrap();
        assert_eq!(s.name, "pv1");
        assert_eq!(s.boot, Some(Boot::Pv { bootloader: "pygrub".into(), kernel: "".into(), ramdisk: "".into(), args: "quiet".into() }));
        assert_eq!(s.vcpus, Some(Vcpus { max: 4, at_startup: 2, cap: Some(80), weight: Some(256) }));
        assert_eq!(s.memory, Some(Memory { static_min: 512 * MIB, static_max: 1024 * MIB, dynamic_min: 512 * MIB, dynamic_max: 1024 * MIB }));
        assert_eq!(s.platform, vec![("acpi".to_string(), "1".to_string())]);
        let Value::Struct(rec) = create_record(&s) else { panic!() };
        let get = |k: &str| rec.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("VCPUs_max"), Value::Int(4));
        assert_eq!(get("memory_static_max"), Value::Int(1 << 30));
        assert_eq!(get("PV_bootloader"), Value::str("pygrub"));
        assert_eq!(get("HVM_boot_policy"), Value::str(""));
    }

    #[test]
    fn hvm_vssd_defaults() {
        let s = spec(&mof("instance of Xen_ComputerSystemSettingData { ElementName = \"h\"; VirtualSystemType = \"DMTF:Xen:HVM\"; HVM_Boot_Params = {\"order=cd\"}; };"), &[], false).unwrap();
        assert_eq!(s.boot, Some(Boot::Hvm { order: "cd".into() }));
        let Value::Struct(rec) = create_record(&s) else { panic!() };
        let get = |k: &str| rec.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("HVM_boot_policy"), Value::str("BIOS order"));
        assert_eq!(get("VCPUs_max"), Value::Int(1));
        assert_eq!(get("memory_static_max"), Value::Int(256 << 20));
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        let vssd = mof("instance of Xen_ComputerSystemSettingData { ElementName = \"x\"; VirtualSystemType = \"DMTF:Xen:PV\"; };");
        let cases = [
            ("instance of CIM_ResourceAllocationSettingData { ResourceType = 10000; };", "ResourceType 10000"),
            ("instance of CIM_ResourceAllocationSettingData { VirtualQuantity = 1; };", "no ResourceType"),
            ("instance of Xen_ProcessorSettingData { VirtualQuantity = 0; };", "1 to 64"),
            ("instance of Xen_ProcessorSettingData { VirtualQuantity = 1000; };", "1 to 64"),
            ("instance of Xen_ProcessorSettingData { VirtualQuantity = 2; Reservation = 3; };", "more than"),
            ("instance of Xen_ProcessorSettingData { Reservation = 3; };", "needs VirtualQuantity"),
            ("instance of Xen_MemorySettingData { VirtualQuantity = 1; };", "at least"),
            ("instance of Xen_MemorySettingData { VirtualQuantity = 512; AllocationUnits = \"parsecs\"; };", "not understood"),
            ("instance of Xen_MemorySettingData { VirtualQuantity = 99999999999999; AllocationUnits = \"GB\"; };", "too large"),
            ("instance of Xen_MemorySettingData { VirtualQuantity = \"lots\"; };", "not an unsigned integer"),
            // fits u64, not XenAPI's int64
            ("instance of Xen_MemorySettingData { VirtualQuantity = 9223372036854775808; AllocationUnits = \"byte\"; };", "too large"),
            ("instance of Xen_MemorySettingData { VirtualQuantity = 18446744073709551616; };", "not an unsigned integer"),
        ];
        for (rasd, want) in cases {
            let e = spec(&vssd, &[mof(rasd)], false).unwrap_err();
            assert!(e.contains(want), "{rasd}: {e}");
        }
        assert!(spec(&mof("instance of Xen_ComputerSystemSettingData { VirtualSystemType = \"DMTF:Xen:PV\"; };"), &[], false).unwrap_err().contains("ElementName"));
        assert!(spec(&mof("instance of Xen_ComputerSystemSettingData { ElementName = \"x\"; };"), &[], false).unwrap_err().contains("VirtualSystemType"));
        assert!(spec(&mof("instance of Xen_ComputerSystemSettingData { ElementName = \"x\"; VirtualSystemType = \"KVM\"; };"), &[], false).is_err());
        let from_template = spec(&mof("instance of Xen_ComputerSystemSettingData { ElementName = \"x\"; };"), &[], true).unwrap();
        assert_eq!(from_template.boot, None);
    }

    #[test]
    fn disks_cds_and_nics() {
        let vssd = mof("instance of Xen_ComputerSystemSettingData { ElementName = \"x\"; VirtualSystemType = \"DMTF:Xen:PV\"; };");
        let rasds = [
            mof("instance of Xen_DiskSettingData { ResourceType = 19; PoolID = \"sr\"; VirtualQuantity = 2; AllocationUnits = \"GB\"; ElementName = \"root\"; Bootable = true; AddressOnParent = \"0\"; };"),
            mof("instance of CIM_ResourceAllocationSettingData { ResourceType = 16; };"),
            mof("instance of Xen_DiskSettingData { HostExtentName = \"vdi-u\"; Access = 1; };"),
            mof("instance of Xen_NetworkPortSettingData { ResourceType = 33; PoolID = \"net\"; Address = \"aa:bb:cc:dd:ee:ff\"; };"),
        ];
        let s = spec(&vssd, &rasds, false).unwrap();
        assert_eq!(
            s.devices,
            vec![
                Device::Disk(DiskSpec { sr: Some("sr".into()), size: 2 << 30, name: "root".into(), userdevice: Some("0".into()), bootable: true, ..Default::default() }),
                Device::Disk(DiskSpec { cd: true, read_only: true, ..Default::default() }),
                Device::Disk(DiskSpec { vdi: Some("vdi-u".into()), read_only: true, ..Default::default() }),
                Device::Nic(NicSpec { network: "net".into(), mac: "aa:bb:cc:dd:ee:ff".into(), device: None }),
            ]
        );
        for (bad, want) in [
            ("instance of Xen_DiskSettingData { VirtualQuantity = 5; };", "needs PoolID"),
            ("instance of Xen_DiskSettingData { PoolID = \"sr\"; };", "needs VirtualQuantity"),
            ("instance of Xen_DiskSettingData { PoolID = \"sr\"; VirtualQuantity = 0; };", "impossible"),
            ("instance of Xen_DiskSettingData { ResourceType = 33; };", "does not fit"),
            ("instance of Xen_NetworkPortSettingData { Address = \"x\"; };", "network uuid"),
        ] {
            let e = spec(&vssd, &[mof(bad)], false).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }

    #[test]
    fn mac_addresses_are_checked_and_normalised() {
        for ok in ["02:16:3E:00:00:01", "02-16-3e-00-00-01", "02163e000001"] {
            assert_eq!(mac_address(ok), Ok("02:16:3e:00:00:01".to_string()), "{ok}");
        }
        for bad in ["", "02:16:3e:00:00", "02:16:3e:00:00:zz", "0216:3e:00:00:01:02", "01:00:5e:00:00:01", "02:16:3e:00:00:01:02"] {
            assert!(mac_address(bad).is_err(), "{bad}");
        }
        let vssd = mof("instance of Xen_ComputerSystemSettingData { ElementName = \"x\"; VirtualSystemType = \"DMTF:Xen:PV\"; };");
        let e = spec(&vssd, &[mof("instance of Xen_NetworkPortSettingData { PoolID = \"n\"; Address = \"not-a-mac\"; };")], false).unwrap_err();
        assert!(e.contains("not a MAC address"), "{e}");
    }

    #[test]
    fn references_and_uuids() {
        let vssd = ObjectPath::new("root/cimv2", "Xen_ComputerSystemTemplate").with_key("InstanceID", "Xen:t-uuid");
        assert_eq!(reference_uuid(Some(&CimValue::Reference(vssd))), Ok(Some("t-uuid".into())));
        assert_eq!(reference_uuid(Some(&CimValue::String("u".into()))), Ok(Some("u".into())));
        assert_eq!(reference_uuid(None), Ok(None));
        assert_eq!(affected_uuid(Some(&CimValue::Reference(cs::path("root/cimv2", "vm-u")))), Ok("vm-u".into()));
        assert!(affected_uuid(None).is_err());
    }

    #[test]
    fn one_service_per_host() {
        let i = instance("root/cimv2", "h1");
        assert_eq!(i.path, path("root/cimv2", "h1"));
        assert_eq!(i.get("Name"), Some(&CimValue::from(SERVICE_NAME)));
    }
}
