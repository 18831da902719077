//! The capabilities setting data of DSP1043 Allocation Capabilities: for each allocation
//! capabilities (one per primordial pool), four RASDs that say what one allocation from the pool
//! may ask for — the least, the most, the step and the default VirtualQuantity — linked to the
//! capabilities by `Xen_SettingsDefineCapabilities` (associations.rs), whose ValueRole and
//! ValueRange tell the four apart ([`Bound::value_role`], [`Bound::value_range`]).
//!
//! ```text
//! Xen_ProcessorCapabilitiesSettingData.InstanceID="Xen:<host uuid>/ProcessorMinimum"
//! Xen_MemoryCapabilitiesSettingData.InstanceID="Xen:<host uuid>/MemoryDefault"
//! Xen_StorageCapabilitiesSettingData.InstanceID="Xen:<sr uuid>/StorageMaximum"
//! Xen_NetworkConnectionCapabilitiesSettingData.InstanceID="Xen:<network uuid>/NetworkConnectionIncrement"
//! ```
//!
//! The values are those DefineSystem and AddResourceSettings accept and use, in the units of the
//! VM's RASDs and of the pool: vCPUs 1..MAX_VCPUS step 1, default 1 ("count"); memory
//! MIN_MEMORY..the host's memory step 1 MiB, default 256 MiB ("byte*2^20"); a new disk 1 MiB..
//! the SR's free space step 1 MiB, default 8 GiB or less ("byte"); a NIC is one port ("count").
//! (xs-cim had the same four instances but no ValueRole / ValueRange, "Bytes" and "Cores".)

use crate::backend::BackendRef;
use crate::cache::Tables;
use crate::util::*;
use crate::xen_resource_pool::{PoolKind, POOL_KINDS};
use crate::xen_vsms::{DEFAULT_MEMORY, DEFAULT_VCPUS, MAX_VCPUS, MIN_MEMORY};
use cmpi_shim::provider::{Context, InstanceProvider, Provider};
use cmpi_shim::{CimValue, CmpiError, Instance, ObjectPath};
use xenapi_client::ObjectRecord;

const MIB: u64 = 1 << 20;
/// The default size of a new disk, when the SR has that much free.
const DEFAULT_DISK: u64 = 8 << 30;

/// Which of the four setting data of a capabilities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    Minimum,
    Maximum,
    Increment,
    Default,
}

pub const BOUNDS: [Bound; 4] = [Bound::Minimum, Bound::Maximum, Bound::Increment, Bound::Default];

impl Bound {
    fn name(self) -> &'static str {
        match self {
            Bound::Minimum => "Minimum",
            Bound::Maximum => "Maximum",
            Bound::Increment => "Increment",
            Bound::Default => "Default",
        }
    }

    /// CIM_SettingsDefineCapabilities.ValueRole: 0 Default for the default, 3 Supported for the
    /// bounds of what is supported.
    pub fn value_role(self) -> u16 {
        match self {
            Bound::Default => 0,
            _ => 3,
        }
    }

    /// CIM_SettingsDefineCapabilities.ValueRange: 0 Point (the default is one value),
    /// 1 Minimums, 2 Maximums, 3 Increments.
    pub fn value_range(self) -> u16 {
        match self {
            Bound::Default => 0,
            Bound::Minimum => 1,
            Bound::Maximum => 2,
            Bound::Increment => 3,
        }
    }
}

pub fn class(kind: PoolKind) -> &'static str {
    match kind {
        PoolKind::Processor => "Xen_ProcessorCapabilitiesSettingData",
        PoolKind::Memory => "Xen_MemoryCapabilitiesSettingData",
        PoolKind::Storage => "Xen_StorageCapabilitiesSettingData",
        PoolKind::NetworkConnection => "Xen_NetworkConnectionCapabilitiesSettingData",
    }
}

pub fn of_class(name: &str) -> Option<PoolKind> {
    POOL_KINDS.into_iter().find(|k| class(*k).eq_ignore_ascii_case(name))
}

fn prefix(kind: PoolKind) -> &'static str {
    match kind {
        PoolKind::Processor => "Processor",
        PoolKind::Memory => "Memory",
        PoolKind::Storage => "Storage",
        PoolKind::NetworkConnection => "NetworkConnection",
    }
}

/// `Xen:<source uuid>/<Kind><Bound>`.
pub fn instance_id(kind: PoolKind, uuid: &str, bound: Bound) -> String {
    format!("Xen:{uuid}/{}{}", prefix(kind), bound.name())
}

/// The source uuid and bound of an InstanceID of `kind`.
pub fn parse_id(kind: PoolKind, id: &str) -> Option<(&str, Bound)> {
    let (uuid, rest) = id.strip_prefix("Xen:")?.split_once('/')?;
    let bound = BOUNDS.into_iter().find(|b| rest.strip_prefix(prefix(kind)) == Some(b.name()))?;
    Some((uuid, bound)).filter(|(u, _)| !u.is_empty())
}

/// The bound of a setting data path of any kind (for the association's ValueRole / ValueRange).
pub fn bound_of(op: &ObjectPath) -> Option<Bound> {
    let kind = of_class(&op.classname)?;
    let id = string_key(op, "InstanceID").ok()?;
    parse_id(kind, &id).map(|(_, b)| b)
}

pub fn path(ns: &str, kind: PoolKind, uuid: &str, bound: Bound) -> ObjectPath {
    ObjectPath::new(ns, class(kind)).with_key("InstanceID", instance_id(kind, uuid, bound))
}

fn uint(v: Option<i64>) -> u64 {
    v.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

/// The VirtualQuantity of `bound` for an allocation from the pool made from `src`, and its units.
pub fn quantity(kind: PoolKind, bound: Bound, src: &ObjectRecord, tables: &Tables) -> (u64, &'static str) {
    match kind {
        PoolKind::Processor => {
            let n = match bound {
                Bound::Minimum | Bound::Increment => 1,
                Bound::Maximum => MAX_VCPUS,
                Bound::Default => DEFAULT_VCPUS,
            };
            (n, "count")
        }
        PoolKind::Memory => {
            let total = tables.deref("host_metrics", src, "metrics").map(|m| uint(m.int("memory_total"))).unwrap_or(0);
            let mib = match bound {
                Bound::Minimum => MIN_MEMORY / MIB,
                Bound::Increment => 1,
                // no guest may have more than the host has
                Bound::Maximum => total / MIB,
                Bound::Default => DEFAULT_MEMORY / MIB,
            };
            (mib, crate::xen_rasd::MEMORY_UNITS)
        }
        PoolKind::Storage => {
            // a new VDI fits in what the SR has free, in whole MiB
            let free = uint(src.int("physical_size")).saturating_sub(uint(src.int("physical_utilisation"))) / MIB * MIB;
            let bytes = match bound {
                Bound::Minimum | Bound::Increment => MIB,
                Bound::Maximum => free,
                Bound::Default => DEFAULT_DISK.min(free),
            };
            (bytes, "byte")
        }
        // a NIC RASD is one port
        PoolKind::NetworkConnection => (1, "count"),
    }
}

/// The setting data `bound` of the capabilities of the pool of `kind` made from `src`.
pub fn instance(ns: &str, kind: PoolKind, bound: Bound, src: &ObjectRecord, tables: &Tables) -> Instance {
    let uuid = src.str("uuid");
    let (ty, units) = match kind {
        PoolKind::Processor => (3, "count"),
        PoolKind::Memory => (4, crate::xen_rasd::MEMORY_UNITS),
        PoolKind::Storage => (if src.str("content_type") == "iso" { 16 } else { 19 }, "byte"),
        PoolKind::NetworkConnection => (33, "count"),
    };
    let (n, _) = quantity(kind, bound, src, tables);
    Instance::new(path(ns, kind, uuid, bound))
        .with("InstanceID", instance_id(kind, uuid, bound))
        .with("ElementName", format!("{} {} of {}", prefix(kind), bound.name().to_ascii_lowercase(), kind.instance_id(uuid)))
        .with("Caption", format!("{} allocation {}", prefix(kind), bound.name().to_ascii_lowercase()))
        .with("ResourceType", CimValue::Uint16(ty))
        .with("PoolID", uuid)
        .with("AllocationUnits", units)
        .with("VirtualQuantityUnits", units)
        .with("VirtualQuantity", CimValue::Uint64(n))
}

/// The (ref, source record, bound) of the setting data `op` names.
pub fn find<'t>(tables: &'t Tables, kind: PoolKind, op: &ObjectPath) -> Option<(&'t String, &'t ObjectRecord, Bound)> {
    let id = string_key(op, "InstanceID").ok()?;
    let (uuid, bound) = parse_id(kind, &id)?;
    tables.by_uuid(kind.source(), uuid).map(|(r, rec)| (r, rec, bound))
}

/// The instance provider of one capabilities setting data class.
pub struct CapabilitiesSettingDataProvider {
    kind: PoolKind,
    backend: BackendRef,
}

impl CapabilitiesSettingDataProvider {
    pub fn new(kind: PoolKind) -> CapabilitiesSettingDataProvider {
        CapabilitiesSettingDataProvider { kind, backend: BackendRef::acquire() }
    }

}

impl Provider for CapabilitiesSettingDataProvider {
    fn instance(&self) -> Option<&dyn InstanceProvider> {
        Some(self)
    }
}

impl InstanceProvider for CapabilitiesSettingDataProvider {
    fn enumerate_instances(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        let tables = self.backend.tables()?;
        let ns = namespace_of(op);
        let mut src: Vec<&ObjectRecord> = tables.iter(self.kind.source()).map(|(_, r)| r).collect();
        src.sort_unstable_by_key(|r| r.str("uuid"));
        Ok(src.into_iter().flat_map(|r| BOUNDS.map(|b| instance(&ns, self.kind, b, r, &tables))).collect())
    }

    fn get_instance(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Instance, CmpiError> {
        let tables = self.backend.tables()?;
        find(&tables, self.kind, op)
            .map(|(_, r, b)| instance(&namespace_of(op), self.kind, b, r, &tables))
            .ok_or_else(|| CmpiError::not_found(format!("no instance {op}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::test_records::{rec, s};

    #[test]
    fn ids_round_trip_and_do_not_mix_kinds_or_bounds() {
        for k in POOL_KINDS {
            for b in BOUNDS {
                assert_eq!(parse_id(k, &instance_id(k, "u", b)), Some(("u", b)));
                assert_eq!(bound_of(&path("root/cimv2", k, "u", b)), Some(b));
            }
            assert_eq!(of_class(&class(k).to_ascii_lowercase()), Some(k));
        }
        assert_eq!(parse_id(PoolKind::Processor, "Xen:u/MemoryMinimum"), None);
        assert_eq!(parse_id(PoolKind::Memory, "Xen:u/MemoryLargest"), None);
        assert_eq!(parse_id(PoolKind::Memory, "Xen:/MemoryMinimum"), None);
        assert_eq!(parse_id(PoolKind::Memory, "u/MemoryMinimum"), None);
    }

    #[test]
    fn roles_and_ranges_tell_the_four_apart() {
        let pairs: Vec<(u16, u16)> = BOUNDS.iter().map(|b| (b.value_role(), b.value_range())).collect();
        assert_eq!(pairs, [(3, 1), (3, 2), (3, 3), (0, 0)]);
    }

    #[test]
    fn quantities_are_what_define_system_accepts_in_the_rasd_units() {
        let mut t = Tables::default();
        t.insert("host_metrics", "HM", rec("host_metrics", vec![("memory_total", s(&((4096u64 << 20) + 5).to_string()))]));
        let h = rec("host", vec![("uuid", s("h")), ("metrics", s("HM"))]);
        let q = |k, b, src: &ObjectRecord| quantity(k, b, src, &t);
        assert_eq!(q(PoolKind::Processor, Bound::Maximum, &h), (MAX_VCPUS, "count"));
        assert_eq!(q(PoolKind::Processor, Bound::Default, &h), (1, "count"));
        assert_eq!(q(PoolKind::Memory, Bound::Minimum, &h), (16, "byte*2^20"));
        assert_eq!(q(PoolKind::Memory, Bound::Maximum, &h), (4096, "byte*2^20"));
        assert_eq!(q(PoolKind::Memory, Bound::Default, &h), (256, "byte*2^20"));
        let sr = rec("SR", vec![("uuid", s("sr")), ("physical_size", s(&(3u64 << 30).to_string())), ("physical_utilisation", s("1"))]);
        assert_eq!(q(PoolKind::Storage, Bound::Maximum, &sr), ((3u64 << 30) - MIB, "byte"), "free space, whole MiB");
        assert_eq!(q(PoolKind::Storage, Bound::Default, &sr), ((3u64 << 30) - MIB, "byte"), "8 GiB does not fit");
        assert_eq!(q(PoolKind::Storage, Bound::Increment, &sr), (MIB, "byte"));
        let i = instance("root/cimv2", PoolKind::Memory, Bound::Maximum, &h, &t);
        assert_eq!(i.path, path("root/cimv2", PoolKind::Memory, "h", Bound::Maximum));
        assert_eq!(i.get("InstanceID"), Some(&CimValue::from("Xen:h/MemoryMaximum")));
        assert_eq!((i.get("ResourceType"), i.get("PoolID")), (Some(&CimValue::Uint16(4)), Some(&CimValue::from("h"))));
        assert_eq!((i.get("VirtualQuantity"), i.get("AllocationUnits")), (Some(&CimValue::Uint64(4096)), Some(&CimValue::from("byte*2^20"))));
    }
}
