//! A VM's devices as a backend builds them: each VBD with the image file of its VDI (found in its
//! SR's directory) and each VIF with the bridge of its network.

use super::sr::{class, locate, map_get, refs};
use super::Xapi;
use crate::backend::{DiskImage, DiskSpec, DomainSpec, NicSpec};
use crate::error::ApiError;
use crate::store::Record;

/// What the backend needs to build the VM's domain, devices included.
pub fn domain_spec(xapi: &Xapi, rec: &Record) -> Result<DomainSpec, ApiError> {
    let mut spec = super::vm_state::domain_spec(rec);
    let (disks, nics) = {
        let t = xapi.store.read();
        let (bc, dc, fc, nc) = (class("VBD"), class("VDI"), class("VIF"), class("network"));
        let mut disks = Vec::new();
        for vbd in refs(rec.get(class("VM"), "VBDs")) {
            let Some(b) = t.get("VBD", &vbd) else { continue };
            let vdi = b.str(bc, "VDI");
            let image = match t.get("VDI", vdi) {
                Some(v) if b.get(bc, "empty").as_bool() != Some(true) => Some((
                    v.str(dc, "SR").to_string(),
                    v.str(dc, "location").to_string(),
                    DiskImage {
                        vdi_uuid: v.str(dc, "uuid").to_string(),
                        path: Default::default(),
                        format: map_get(v.get(dc, "sm_config"), "format")
                            .or_else(|| crate::storage::format_of(v.str(dc, "location")).map(str::to_string))
                            .unwrap_or_default(),
                    },
                )),
                _ => None,
            };
            disks.push((
                DiskSpec {
                    vbd_uuid: b.str(bc, "uuid").to_string(),
                    userdevice: b.str(bc, "userdevice").to_string(),
                    device: super::vbd::device_name(spec.hvm, b.str(bc, "userdevice")),
                    cdrom: b.str(bc, "type") == "CD",
                    read_only: b.str(bc, "mode") == "RO",
                    bootable: b.get(bc, "bootable").as_bool() == Some(true),
                    image: None,
                },
                image,
            ));
        }
        let mut nics = Vec::new();
        for vif in refs(rec.get(class("VM"), "VIFs")) {
            let Some(v) = t.get("VIF", &vif) else { continue };
            let network = t.get("network", v.str(fc, "network"));
            let mtu = v.get(fc, "MTU").as_int().filter(|m| *m > 0);
            nics.push(NicSpec {
                vif_uuid: v.str(fc, "uuid").to_string(),
                device: v.str(fc, "device").to_string(),
                mac: v.str(fc, "MAC").to_string(),
                bridge: network.map(|n| n.str(nc, "bridge").to_string()).unwrap_or_default(),
                mtu: mtu.or_else(|| network.and_then(|n| n.get(nc, "MTU").as_int())).unwrap_or(0),
            });
        }
        (disks, nics)
    };
    for (mut disk, image) in disks {
        if let Some((sr, location, mut img)) = image {
            img.path = locate(xapi, &sr)?.dir.join(location);
            disk.image = Some(img);
        }
        spec.detail.disks.push(disk);
    }
    spec.detail.nics = nics;
    Ok(spec)
}
