//! `allowed_operations` of VBDs and VIFs (xapi's `Xapi_vbd_helpers.valid_operations` and its VIF
//! counterpart, narrowed to what this server's handlers accept).

use super::OpTable;
use crate::generated::args::*;
use crate::generated::{VbdOperations, VifOperations};
use crate::typed::MessageArgs;

/// Every `vbd_operations` value with the message that performs it.
pub const VBD_OPERATIONS: OpTable<VbdOperations> = &[
    // Attaching a VBD to its VM is what starting the VM does to each of its VBDs.
    (VbdOperations::Attach, Some(VmStartArgs::MESSAGE)),
    (VbdOperations::Eject, Some(VbdEjectArgs::MESSAGE)),
    (VbdOperations::Insert, Some(VbdInsertArgs::MESSAGE)),
    (VbdOperations::Plug, Some(VbdPlugArgs::MESSAGE)),
    (VbdOperations::Unplug, Some(VbdUnplugArgs::MESSAGE)),
    (VbdOperations::UnplugForce, Some(VbdUnplugForceArgs::MESSAGE)),
    // xapi's VBD.pause/unpause are internal (storage migration); not messages of this model.
    (VbdOperations::Pause, None),
    (VbdOperations::Unpause, None),
];

/// What the VBD rules look at.
#[derive(Debug, Clone, Copy, Default)]
pub struct VbdView {
    /// Its VM has a domain (Running or Paused): the handlers plug and unplug only then.
    pub vm_running: bool,
    pub attached: bool,
    /// A CD or floppy drive.
    pub removable: bool,
    pub empty: bool,
    pub unpluggable: bool,
}

/// Whether the VBD's state permits `op` (the checks `VBD.plug`/`unplug`/`insert`/`eject` make).
pub fn vbd_permits(b: &VbdView, op: VbdOperations) -> bool {
    use VbdOperations::*;
    match op {
        Attach => true,
        Plug => b.vm_running && !b.attached,
        Unplug => b.vm_running && b.attached && b.unpluggable,
        UnplugForce => b.vm_running && b.attached,
        Insert => b.removable && b.empty,
        Eject => b.removable && !b.empty,
        _ => false,
    }
}

/// Every `vif_operations` value with the message that performs it.
pub const VIF_OPERATIONS: OpTable<VifOperations> = &[
    // As for VBDs: starting the VM attaches each of its VIFs.
    (VifOperations::Attach, Some(VmStartArgs::MESSAGE)),
    (VifOperations::Plug, Some(VifPlugArgs::MESSAGE)),
    (VifOperations::Unplug, Some(VifUnplugArgs::MESSAGE)),
];

/// What the VIF rules look at.
#[derive(Debug, Clone, Copy, Default)]
pub struct VifView {
    pub vm_running: bool,
    pub attached: bool,
}

pub fn vif_permits(v: &VifView, op: VifOperations) -> bool {
    use VifOperations::*;
    match op {
        Attach => true,
        Plug => v.vm_running && !v.attached,
        Unplug => v.vm_running && v.attached,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{names, offer};
    use super::*;
    use crate::api::is_implemented;

    fn vbd(b: VbdView) -> Vec<&'static str> {
        names(offer(VBD_OPERATIONS, |op| vbd_permits(&b, op), is_implemented))
    }

    fn vif(v: VifView) -> Vec<&'static str> {
        names(offer(VIF_OPERATIONS, |op| vif_permits(&v, op), is_implemented))
    }

    #[test]
    fn vbd_offers_follow_its_vm_and_media() {
        let disk = VbdView { unpluggable: true, ..Default::default() };
        assert_eq!(vbd(disk), ["attach"], "a disk of a halted VM");
        assert_eq!(vbd(VbdView { vm_running: true, ..disk }), ["attach", "plug"]);
        assert_eq!(vbd(VbdView { vm_running: true, attached: true, ..disk }), ["attach", "unplug", "unplug_force"]);
        let fixed = VbdView { vm_running: true, attached: true, unpluggable: false, ..disk };
        assert_eq!(vbd(fixed), ["attach", "unplug_force"], "unpluggable=false: only a forced unplug");
        let empty_cd = VbdView { removable: true, empty: true, ..disk };
        assert_eq!(vbd(empty_cd), ["attach", "insert"]);
        assert_eq!(vbd(VbdView { empty: false, ..empty_cd }), ["attach", "eject"]);
        let all = names(offer(VBD_OPERATIONS, |_| true, is_implemented));
        assert!(!all.contains(&"pause") && !all.contains(&"unpause"), "no message pauses a VBD");
    }

    #[test]
    fn vif_offers_follow_its_vm() {
        assert_eq!(vif(VifView::default()), ["attach"]);
        assert_eq!(vif(VifView { vm_running: true, attached: false }), ["attach", "plug"]);
        assert_eq!(vif(VifView { vm_running: true, attached: true }), ["attach", "unplug"]);
    }
}
