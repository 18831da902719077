//! Memory accounting as xapi does it (its `Memory` model of a domain's footprint and
//! `Memory_check`): the overhead a guest costs beyond its own memory (shadow pages, per-vCPU
//! structures, the extra pages Xen and the device model take), the host's free memory for new
//! guests, and the largest static maximum that fits a budget (`VM.maximise_memory`).
//!
//! All sizes are worked in whole MiB rounded up, as xapi does, and answered in bytes.

use super::vm_state::int;
use super::Xapi;
use crate::error::ApiError;
use crate::model::model;
use crate::store::Record;
use crate::value::Value;

const MIB: i64 = 1 << 20;
const PAGES_PER_MIB: i64 = MIB / 4096;

/// Bytes to MiB, rounding up (xapi's `mib_of_bytes_used`).
fn mib_up(bytes: i64) -> i64 {
    (bytes + MIB - 1).div_euclid(MIB)
}

/// The memory model of a kind of domain: the constants xapi's `MEMORY_MODEL_DATA` gives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MemoryModel {
    /// HVM and PVH guests.
    Hvm,
    /// PV guests run inside a PVH shim, which costs 23 MiB plus 1/90 of the guest.
    PvInPvh,
    /// Classic PV guests.
    Pv,
}

impl MemoryModel {
    fn extra_internal_mib(self) -> i64 {
        if self == MemoryModel::Pv {
            0
        } else {
            1
        }
    }
    fn shim_mib(self, static_max_mib: i64) -> i64 {
        if self == MemoryModel::PvInPvh {
            23 + static_max_mib / 90
        } else {
            0
        }
    }

    /// Shadow memory: a page per MiB for the p2m map and one for resident shadow pages, 256
    /// pages per vCPU, in MiB rounded up, times the multiplier (truncated), at least 1 MiB.
    pub fn shadow_mib(self, static_max_mib: i64, vcpus: i64, multiplier: f64) -> i64 {
        let pages = 256 * vcpus + 2 * static_max_mib;
        let mib = (pages + PAGES_PER_MIB - 1).div_euclid(PAGES_PER_MIB);
        ((mib as f64 * multiplier) as i64).max(1)
    }

    /// Everything beyond the guest's own memory: the extra internal and external MiB, shadow,
    /// 38 pages per vCPU that Xen itself uses (xapi's CA-423172), and the shim.
    pub fn overhead_mib(self, static_max_mib: i64, vcpus: i64, multiplier: f64) -> i64 {
        self.extra_internal_mib()
            + 1
            + self.shadow_mib(static_max_mib, vcpus, multiplier)
            + (38 * vcpus + PAGES_PER_MIB - 1).div_euclid(PAGES_PER_MIB)
            + self.shim_mib(static_max_mib)
    }
}

/// The memory model of a VM from its domain type. VMs stored before `domain_type` was set
/// (`unspecified`) get the type xapi derives on upgrade: HVM when they have a boot policy.
pub fn model_of(rec: &Record) -> MemoryModel {
    let c = model().class("VM").unwrap();
    match rec.str(c, "domain_type") {
        "hvm" | "pvh" => MemoryModel::Hvm,
        "pv_in_pvh" => MemoryModel::PvInPvh,
        "pv" => MemoryModel::Pv,
        _ if !rec.str(c, "HVM_boot_policy").is_empty() => MemoryModel::Hvm,
        _ => MemoryModel::Pv,
    }
}

fn shadow_multiplier(rec: &Record) -> f64 {
    match rec.get(model().class("VM").unwrap(), "HVM_shadow_multiplier") {
        Value::Float(f) => *f,
        _ => 1.0,
    }
}

/// `VM.compute_memory_overhead`: xapi's `vm_compute_memory_overhead`, in bytes. It takes the
/// VM's shadow multiplier whatever the domain type.
pub fn vm_overhead(rec: &Record) -> i64 {
    let static_max_mib = mib_up(int(rec, "memory_static_max"));
    model_of(rec).overhead_mib(static_max_mib, int(rec, "VCPUs_max"), shadow_multiplier(rec)) * MIB
}

/// The host memory a VM needs to start with `static_max` as its static maximum and its memory
/// (xapi's `vm_compute_start_memory` under the `Static_max` policy: normal plus shadow). PV
/// guests are costed at the default multiplier 1.0, as xapi does there.
fn start_memory_static_max(m: MemoryModel, static_max: i64, vcpus: i64, multiplier: f64) -> i64 {
    let mib = mib_up(static_max);
    let multiplier = if m == MemoryModel::Pv { 1.0 } else { multiplier };
    (mib + m.overhead_mib(mib, vcpus, multiplier)) * MIB
}

/// `VM.maximise_memory`: the largest static maximum, rounded down to a MiB, whose start
/// footprint fits in `total` bytes; `approximate` costs the VM at 64 vCPUs (xapi's choice, so
/// that the answer still fits when vCPUs are added later).
pub fn maximise(rec: &Record, total: i64, approximate: bool) -> Result<i64, ApiError> {
    if total < 0 {
        // xapi's bisection asserts on a negative range; answer it as bad input instead.
        return Err(ApiError::new("INVALID_VALUE", ["total".to_string(), total.to_string()]));
    }
    let m = model_of(rec);
    let vcpus = if approximate { 64 } else { int(rec, "VCPUs_max") };
    let multiplier = shadow_multiplier(rec);
    let fits = |static_max: i64| start_memory_static_max(m, static_max, vcpus, multiplier) <= total;
    // Largest value in [0, total] for which `fits` holds (it is monotonic), as xapi's bisect.
    let (mut lo, mut hi) = (0i64, total);
    while hi - lo >= 2 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) {
            lo = mid
        } else {
            hi = mid
        }
    }
    let best = if fits(hi) { hi } else { lo };
    Ok(best / MIB * MIB)
}

/// Memory of this host free for new guests: what the backend has not given to domains (the
/// figure `host_metrics.memory_free` is kept from, and the one the backend's own build check
/// uses) less the host's own overhead (`host.memory_overhead`), never below zero. VM.start's
/// check and `host.compute_free_memory` both answer from here.
pub fn host_free(xapi: &Xapi) -> Result<i64, ApiError> {
    let free = xapi.backend.host_info().memory_free;
    Ok((free - host_overhead(xapi, &xapi.this_host)?).max(0))
}

/// `host.memory_overhead` of a host (xapi keeps it constant and answers the stored value).
pub fn host_overhead(xapi: &Xapi, host: &str) -> Result<i64, ApiError> {
    let t = xapi.store.read();
    let rec = t.get("host", host).ok_or_else(|| ApiError::handle_invalid("host", host))?;
    Ok(match rec.get(model().class("host").unwrap(), "memory_overhead") {
        Value::Int(n) => *n,
        _ => 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Figures worked by hand from xapi's formulas.
    #[test]
    fn overhead_matches_xapi_model() {
        // HVM, 1 GiB, 2 vCPUs, multiplier 1: shadow = ceil((512 + 2048) / 256) = 10 MiB;
        // 1 + 1 + 10 + ceil(76 / 256) = 13 MiB.
        assert_eq!(MemoryModel::Hvm.overhead_mib(1024, 2, 1.0), 13);
        // PV has no internal extra MiB: 12 MiB.
        assert_eq!(MemoryModel::Pv.overhead_mib(1024, 2, 1.0), 12);
        // PV in PVH adds the shim: 23 + 1024 / 90 = 34 MiB.
        assert_eq!(MemoryModel::PvInPvh.overhead_mib(1024, 2, 1.0), 47);
        // The multiplier scales shadow only, truncated: 10 * 2.5 = 25.
        assert_eq!(MemoryModel::Hvm.shadow_mib(1024, 2, 2.5), 25);
        // Shadow is at least 1 MiB.
        assert_eq!(MemoryModel::Hvm.shadow_mib(0, 0, 0.0), 1);
    }

    #[test]
    fn maximise_is_the_largest_fitting_static_max() {
        let c = model().class("VM").unwrap();
        let mut rec = Record::new_default(c);
        rec.set(c, "domain_type", Value::str("hvm"));
        rec.set(c, "VCPUs_max", Value::Int(2));
        let total = 4096 * MIB;
        let best = maximise(&rec, total, false).unwrap();
        let fits = |s: i64| start_memory_static_max(MemoryModel::Hvm, s, 2, 1.0) <= total;
        assert!(fits(best) && !fits(best + MIB), "{best}");
        assert_eq!(best % MIB, 0);
        // 64 vCPUs cost more shadow, so the approximate answer is smaller.
        assert!(maximise(&rec, total, true).unwrap() < best);
        assert_eq!(maximise(&rec, 0, false).unwrap(), 0);
        assert_eq!(maximise(&rec, -1, false).unwrap_err().code, "INVALID_VALUE");
    }
}
