//! PIF messages: the simulated host's NICs (made on first start), plug and unplug, VLANs
//! (`pool.create_VLAN`, and the older `PIF.create_VLAN`), destroy and forget.
//!
//! ```text
//! pool.create_VLAN(session, "eth0", network, "42")  →  [PIF ref]   (device eth0, VLAN 42)
//! ```

use super::sr::{class, refs};
use crate::dispatch::{Ctx, Dispatcher};
use crate::error::ApiError;
use crate::generated::args::*;
use crate::generated::handlers::{register_pif, register_pool, PifMessages, PoolMessages};
use crate::generated::PifRecord;
use crate::typed::Ref;
use crate::store::{new_ref, new_uuid, Record, Store, Tx};
use crate::value::Value;

/// NICs of the simulated host: device, MAC, PCI bus path, management interface.
const NICS: &[(&str, &str, &str, bool)] = &[("eth0", "02:16:3e:00:00:01", "0000:03:00.0", true), ("eth1", "02:16:3e:00:00:02", "0000:03:00.1", false)];

fn new_pif(tx: &mut Tx<'_>, host: &str, device: &str, mac: &str, network: &str, vlan: i64, physical: bool, management: bool, bus: &str) -> Result<String, ApiError> {
    let mc = class("PIF_metrics");
    let mut m = Record::new_default(mc);
    m.set(mc, "uuid", Value::str(new_uuid()));
    m.set(mc, "carrier", Value::Bool(true));
    m.set(mc, "vendor_id", Value::str("8086"));
    m.set(mc, "vendor_name", Value::str("Intel Corporation (simulated)"));
    m.set(mc, "device_id", Value::str("10fb"));
    m.set(mc, "device_name", Value::str("82599ES 10-Gigabit SFI/SFP+ Network Connection"));
    m.set(mc, "speed", Value::Int(10000));
    m.set(mc, "duplex", Value::Bool(true));
    m.set(mc, "pci_bus_path", Value::str(bus));
    m.set(mc, "last_updated", Value::DateTime(crate::time_fmt::now()));
    let mref = new_ref();
    tx.put("PIF_metrics", &mref, m);
    let c = class("PIF");
    let mut p = Record::new_default(c);
    p.set(c, "uuid", Value::str(new_uuid()));
    p.set(c, "device", Value::str(device));
    p.set(c, "network", Value::str(network));
    p.set(c, "host", Value::str(host));
    p.set(c, "MAC", Value::str(mac));
    p.set(c, "MTU", Value::Int(1500));
    p.set(c, "VLAN", Value::Int(vlan));
    p.set(c, "metrics", Value::str(&mref));
    p.set(c, "physical", Value::Bool(physical));
    p.set(c, "currently_attached", Value::Bool(true));
    p.set(c, "management", Value::Bool(management));
    p.set(c, "managed", Value::Bool(true));
    if management {
        p.set(c, "ip_configuration_mode", Value::str("DHCP"));
        p.set(c, "IP", Value::str("127.0.0.1"));
        p.set(c, "netmask", Value::str("255.0.0.0"));
    } else {
        p.set(c, "ip_configuration_mode", Value::str("None"));
    }
    p.set(c, "ipv6_configuration_mode", Value::str("None"));
    p.set(c, "primary_address_type", Value::str("IPv4"));
    p.set(c, "igmp_snooping_status", Value::str("disabled"));
    let r = new_ref();
    tx.put("PIF", &r, p);
    tx.add_to_set("network", network, "PIFs", &r)?;
    tx.add_to_set("host", host, "PIFs", &r)?;
    Ok(r)
}

/// The host's NICs and their pool-wide networks, made once (also for a state directory from
/// before this existed).
pub fn ensure_host_nics(store: &Store, host: &str) -> Result<(), String> {
    let has = store.read().get("host", host).is_some_and(|h| !refs(h.get(class("host"), "PIFs")).is_empty());
    if has {
        return Ok(());
    }
    store
        .write(|tx| {
            let nc = class("network");
            for (i, (dev, mac, bus, mgmt)) in NICS.iter().enumerate() {
                let mut n = Record::new_default(nc);
                n.set(nc, "uuid", Value::str(new_uuid()));
                n.set(nc, "name_label", Value::str(format!("Pool-wide network associated with {dev}")));
                n.set(nc, "bridge", Value::str(format!("xenbr{i}")));
                n.set(nc, "MTU", Value::Int(1500));
                n.set(nc, "managed", Value::Bool(true));
                n.set(nc, "default_locking_mode", Value::str("unlocked"));
                let net = super::network::insert(tx, n);
                new_pif(tx, host, dev, mac, &net, -1, true, *mgmt, bus)?;
            }
            Ok(())
        })
        .map_err(|e| format!("cannot make the host's NICs: {e}"))
}

/// A VLAN PIF tagged `vlan` on the physical NIC `device` of `host`, connected to `network`.
fn create_vlan(ctx: &Ctx, device: &str, network: &str, host: &str, vlan: i64) -> Result<String, ApiError> {
    if !(0..=4094).contains(&vlan) {
        return Err(ApiError::new("VLAN_TAG_INVALID", [vlan.to_string()]));
    }
    let c = class("PIF");
    ctx.xapi.store.write(|tx| {
        let h = tx.must_get("host", host)?;
        let pifs: Vec<(String, std::sync::Arc<Record>)> = refs(h.get(class("host"), "PIFs")).into_iter().filter_map(|p| tx.get("PIF", &p).map(|r| (p, r))).collect();
        let Some((_, nic)) = pifs.iter().find(|(_, p)| p.str(c, "device") == device && p.get(c, "physical").as_bool() == Some(true)) else {
            return Err(ApiError::new("INVALID_VALUE", ["device", device]));
        };
        if let Some((p, _)) = pifs.iter().find(|(_, p)| p.str(c, "device") == device && p.get(c, "VLAN").as_int() == Some(vlan)) {
            return Err(ApiError::new("PIF_VLAN_EXISTS", [p.as_str()]));
        }
        let net = tx.must_get("network", network)?;
        if let Some(p) = refs(net.get(class("network"), "PIFs")).iter().find(|p| tx.get("PIF", p).is_some_and(|r| r.str(c, "host") == host)) {
            return Err(ApiError::new("NETWORK_ALREADY_CONNECTED", [network, p.as_str()]));
        }
        let mac = nic.str(c, "MAC").to_string();
        new_pif(tx, host, device, &mac, network, vlan, false, false, "")
    })
}

fn remove(ctx: &Ctx, pif: &str, physical_ok: bool) -> Result<(), ApiError> {
    let c = class("PIF");
    ctx.xapi.store.write(|tx| {
        let rec = tx.must_get("PIF", pif)?;
        if !physical_ok && rec.get(c, "physical").as_bool() == Some(true) {
            return Err(ApiError::new("PIF_IS_PHYSICAL", [pif]));
        }
        if rec.get(c, "management").as_bool() == Some(true) {
            return Err(ApiError::new("PIF_IS_MANAGEMENT_INTERFACE", [pif]));
        }
        let m = rec.str(c, "metrics").to_string();
        if tx.exists("PIF_metrics", &m) {
            tx.delete("PIF_metrics", &m);
        }
        tx.remove_from_set("network", rec.str(c, "network"), "PIFs", pif)?;
        tx.remove_from_set("host", rec.str(c, "host"), "PIFs", pif)?;
        tx.delete("PIF", pif);
        Ok(())
    })
}

fn set_attached(ctx: &Ctx, pif: &str, v: bool) -> Result<(), ApiError> {
    let c = class("PIF");
    ctx.xapi.store.write(|tx| {
        let rec = tx.must_get("PIF", pif)?;
        if !v && rec.get(c, "management").as_bool() == Some(true) {
            return Err(ApiError::new("PIF_IS_MANAGEMENT_INTERFACE", [pif]));
        }
        if !v && rec.get(c, "disallow_unplug").as_bool() == Some(true) {
            return Err(ApiError::new("PIF_DOES_NOT_ALLOW_UNPLUG", [pif]));
        }
        tx.update("PIF", pif, |r| Ok(r.set(c, "currently_attached", Value::Bool(v))))
    })
}

pub struct PifApi;

impl PifMessages for PifApi {
    fn create_vlan(ctx: &Ctx, a: PifCreateVlanArgs) -> Result<Ref<PifRecord>, ApiError> {
        create_vlan(ctx, &a.device, &a.network, &a.host, a.vlan).map(Ref::new)
    }
    fn destroy(ctx: &Ctx, a: PifDestroyArgs) -> Result<(), ApiError> {
        remove(ctx, &a.self_, false)
    }
    fn forget(ctx: &Ctx, a: PifForgetArgs) -> Result<(), ApiError> {
        remove(ctx, &a.self_, true)
    }
    fn plug(ctx: &Ctx, a: PifPlugArgs) -> Result<(), ApiError> {
        set_attached(ctx, &a.self_, true)
    }
    fn unplug(ctx: &Ctx, a: PifUnplugArgs) -> Result<(), ApiError> {
        set_attached(ctx, &a.self_, false)
    }
}

/// The pool's one implemented custom message: a VLAN on this host (the pool's only member).
pub struct PoolApi;

impl PoolMessages for PoolApi {
    fn create_vlan(ctx: &Ctx, a: PoolCreateVlanArgs) -> Result<Vec<Ref<PifRecord>>, ApiError> {
        let host = ctx.xapi.this_host.clone();
        Ok(vec![Ref::new(create_vlan(ctx, &a.device, &a.network, &host, a.vlan)?)])
    }
}

pub fn register(d: &mut Dispatcher) {
    register_pool::<PoolApi>(d);
    register_pif::<PifApi>(d);
}
