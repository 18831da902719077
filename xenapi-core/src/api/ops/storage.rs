//! `allowed_operations` of VDIs and SRs (xapi's `Xapi_vdi.check_operation_error` and
//! `Xapi_sr_operations.valid_operations`, narrowed to what this server's handlers accept).

use super::OpTable;
use crate::generated::args::*;
use crate::generated::{StorageOperations, VdiOperations};
use crate::typed::MessageArgs;

/// Every `vdi_operations` value with the message that performs it.
pub const VDI_OPERATIONS: OpTable<VdiOperations> = &[
    (VdiOperations::Clone, Some(VdiCloneArgs::MESSAGE)),
    (VdiOperations::Copy, Some(VdiCopyArgs::MESSAGE)),
    (VdiOperations::Resize, Some(VdiResizeArgs::MESSAGE)),
    (VdiOperations::ResizeOnline, Some(VdiResizeOnlineArgs::MESSAGE)),
    (VdiOperations::Snapshot, Some(VdiSnapshotArgs::MESSAGE)),
    // Storage motion: xapi marks a VDI `mirror` while VDI.pool_migrate (or VM.migrate_send) moves it.
    (VdiOperations::Mirror, Some(VdiPoolMigrateArgs::MESSAGE)),
    (VdiOperations::Destroy, Some("VDI.destroy")),
    (VdiOperations::Forget, Some(VdiForgetArgs::MESSAGE)),
    (VdiOperations::Update, Some(VdiUpdateArgs::MESSAGE)),
    // xapi's VDI.force_unlock was removed and VDI.generate_config is internal: neither is a
    // message of this model. `blocked` is a state xapi sets, not something a client does.
    (VdiOperations::ForceUnlock, None),
    (VdiOperations::GenerateConfig, None),
    (VdiOperations::EnableCbt, Some(VdiEnableCbtArgs::MESSAGE)),
    (VdiOperations::DisableCbt, Some(VdiDisableCbtArgs::MESSAGE)),
    (VdiOperations::DataDestroy, Some(VdiDataDestroyArgs::MESSAGE)),
    (VdiOperations::ListChangedBlocks, Some(VdiListChangedBlocksArgs::MESSAGE)),
    (VdiOperations::SetOnBoot, Some(VdiSetOnBootArgs::MESSAGE)),
    (VdiOperations::Blocked, None),
];

/// What the VDI rules look at.
#[derive(Debug, Clone, Copy, Default)]
pub struct VdiView {
    /// Its SR's driver writes images (`file`; an `iso` SR is read-only).
    pub writable: bool,
    /// A PBD of its SR is plugged (else the handlers answer SR_NOT_ATTACHED).
    pub sr_attached: bool,
    /// A VBD of a running VM has it plugged.
    pub attached: bool,
    /// ... read-write.
    pub attached_rw: bool,
    pub is_snapshot: bool,
}

/// Whether the VDI's state permits `op`. As in xapi, a plugged VDI allows only what can run
/// live (snapshot, clone, resize_online), and copy only while no VBD writes to it; snapshots do
/// not grow. Operations whose messages are not implemented have no rule yet (false): their rule
/// comes with their handler.
pub fn vdi_permits(v: &VdiView, op: VdiOperations) -> bool {
    let grows = v.writable && v.sr_attached && !v.is_snapshot;
    use VdiOperations::*;
    match op {
        Clone | Snapshot => v.writable && v.sr_attached,
        Copy => v.sr_attached && !v.attached_rw,
        Resize => grows && !v.attached,
        ResizeOnline => grows && v.attached,
        Destroy => v.writable && v.sr_attached && !v.attached,
        Update => v.sr_attached && !v.attached,
        Forget => !v.attached,
        SetOnBoot => v.writable && !v.attached,
        _ => false,
    }
}

/// Every `storage_operations` value with the message that performs it.
pub const SR_OPERATIONS: OpTable<StorageOperations> = &[
    (StorageOperations::Scan, Some(SrScanArgs::MESSAGE)),
    (StorageOperations::Destroy, Some(SrDestroyArgs::MESSAGE)),
    (StorageOperations::Forget, Some(SrForgetArgs::MESSAGE)),
    (StorageOperations::Plug, Some(PbdPlugArgs::MESSAGE)),
    (StorageOperations::Unplug, Some(PbdUnplugArgs::MESSAGE)),
    (StorageOperations::Update, Some(SrUpdateArgs::MESSAGE)),
    (StorageOperations::VdiCreate, Some("VDI.create")),
    (StorageOperations::VdiIntroduce, Some(VdiIntroduceArgs::MESSAGE)),
    (StorageOperations::VdiDestroy, Some("VDI.destroy")),
    (StorageOperations::VdiResize, Some(VdiResizeArgs::MESSAGE)),
    (StorageOperations::VdiClone, Some(VdiCloneArgs::MESSAGE)),
    (StorageOperations::VdiSnapshot, Some(VdiSnapshotArgs::MESSAGE)),
    (StorageOperations::VdiMirror, Some(VdiPoolMigrateArgs::MESSAGE)),
    (StorageOperations::VdiEnableCbt, Some(VdiEnableCbtArgs::MESSAGE)),
    (StorageOperations::VdiDisableCbt, Some(VdiDisableCbtArgs::MESSAGE)),
    (StorageOperations::VdiDataDestroy, Some(VdiDataDestroyArgs::MESSAGE)),
    (StorageOperations::VdiListChangedBlocks, Some(VdiListChangedBlocksArgs::MESSAGE)),
    (StorageOperations::VdiSetOnBoot, Some(VdiSetOnBootArgs::MESSAGE)),
    (StorageOperations::PbdCreate, Some("PBD.create")),
    (StorageOperations::PbdDestroy, Some("PBD.destroy")),
];

/// What the SR rules look at.
#[derive(Debug, Clone, Copy, Default)]
pub struct SrView {
    pub writable: bool,
    /// Some PBD is plugged / some PBD is unplugged.
    pub plugged: bool,
    pub unplugged: bool,
}

/// Whether the SR's state permits `op`: image work needs a plugged PBD (SR_NOT_ATTACHED), and
/// a writing driver for what makes or changes images; destroy and forget need every PBD
/// unplugged (SR_HAS_PBD), as in xapi; PBD.destroy refuses a plugged PBD.
pub fn sr_permits(s: &SrView, op: StorageOperations) -> bool {
    use StorageOperations::*;
    match op {
        Scan | Update | VdiIntroduce => s.plugged,
        VdiCreate | VdiDestroy | VdiResize | VdiClone | VdiSnapshot => s.writable && s.plugged,
        VdiSetOnBoot => s.writable,
        Destroy => s.writable && !s.plugged,
        Forget => !s.plugged,
        Plug | PbdDestroy => s.unplugged,
        Unplug => s.plugged,
        PbdCreate => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{names, offer};
    use super::*;
    use crate::api::is_implemented;

    fn vdi(v: VdiView) -> Vec<&'static str> {
        names(offer(VDI_OPERATIONS, |op| vdi_permits(&v, op), is_implemented))
    }

    fn sr(s: SrView) -> Vec<&'static str> {
        names(offer(SR_OPERATIONS, |op| sr_permits(&s, op), is_implemented))
    }

    #[test]
    fn vdi_offers_follow_its_state() {
        let free = VdiView { writable: true, sr_attached: true, ..Default::default() };
        assert_eq!(vdi(free), ["clone", "copy", "resize", "snapshot", "destroy", "forget", "update", "set_on_boot"]);
        let plugged_rw = VdiView { attached: true, attached_rw: true, ..free };
        assert_eq!(vdi(plugged_rw), ["clone", "resize_online", "snapshot"]);
        let plugged_ro = VdiView { attached: true, ..free };
        assert_eq!(vdi(plugged_ro), ["clone", "copy", "resize_online", "snapshot"]);
        let snap = VdiView { is_snapshot: true, ..free };
        assert_eq!(vdi(snap), ["clone", "copy", "snapshot", "destroy", "forget", "update", "set_on_boot"]);
        let iso = VdiView { writable: false, ..free };
        assert_eq!(vdi(iso), ["copy", "forget", "update"]);
        let detached_sr = VdiView { sr_attached: false, ..free };
        assert_eq!(vdi(detached_sr), ["forget", "set_on_boot"]);
    }

    #[test]
    fn vdi_never_offers_an_operation_whose_message_is_not_implemented() {
        let everything = |_: VdiOperations| true;
        let ops = names(offer(VDI_OPERATIONS, everything, is_implemented));
        for unimplemented in ["enable_cbt", "disable_cbt", "data_destroy", "list_changed_blocks", "mirror"] {
            assert!(!ops.contains(&unimplemented), "{unimplemented}");
        }
        for no_message in ["force_unlock", "generate_config", "blocked"] {
            assert!(!ops.contains(&no_message), "{no_message}");
        }
    }

    #[test]
    fn sr_offers_follow_its_pbds() {
        let plugged = SrView { writable: true, plugged: true, unplugged: false };
        assert_eq!(sr(plugged), ["scan", "unplug", "update", "vdi_create", "vdi_introduce", "vdi_destroy", "vdi_resize", "vdi_clone", "vdi_snapshot", "vdi_set_on_boot", "pbd_create"]);
        let unplugged = SrView { writable: true, plugged: false, unplugged: true };
        assert_eq!(sr(unplugged), ["destroy", "forget", "plug", "vdi_set_on_boot", "pbd_create", "pbd_destroy"]);
        let iso = SrView { writable: false, plugged: true, unplugged: false };
        assert_eq!(sr(iso), ["scan", "unplug", "update", "vdi_introduce", "pbd_create"]);
        let no_pbds = SrView { writable: true, plugged: false, unplugged: false };
        assert_eq!(sr(no_pbds), ["destroy", "forget", "vdi_set_on_boot", "pbd_create"]);
        let all = names(offer(SR_OPERATIONS, |_| true, is_implemented));
        for unimplemented in ["vdi_mirror", "vdi_enable_cbt", "vdi_disable_cbt", "vdi_data_destroy", "vdi_list_changed_blocks"] {
            assert!(!all.contains(&unimplemented), "{unimplemented}");
        }
    }
}
