//! `allowed_operations` of VBDs and VIFs (xapi's `Xapi_vbd_helpers.valid_operations` and its VIF
//! counterpart, narrowed to what this server's handlers accept).

use super::OpTable;

/// Every `vbd_operations` value with the message that performs it.
pub const VBD_OPERATIONS: OpTable = &[
    // Attaching a VBD to its VM is what starting the VM does to each of its VBDs.
    ("attach", Some("VM.start")),
    ("eject", Some("VBD.eject")),
    ("insert", Some("VBD.insert")),
    ("plug", Some("VBD.plug")),
    ("unplug", Some("VBD.unplug")),
    ("unplug_force", Some("VBD.unplug_force")),
    // xapi's VBD.pause/unpause are internal (storage migration); not messages of this model.
    ("pause", None),
    ("unpause", None),
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
pub fn vbd_permits(b: &VbdView, op: &str) -> bool {
    match op {
        "attach" => true,
        "plug" => b.vm_running && !b.attached,
        "unplug" => b.vm_running && b.attached && b.unpluggable,
        "unplug_force" => b.vm_running && b.attached,
        "insert" => b.removable && b.empty,
        "eject" => b.removable && !b.empty,
        _ => false,
    }
}

/// Every `vif_operations` value with the message that performs it.
pub const VIF_OPERATIONS: OpTable = &[
    // As for VBDs: starting the VM attaches each of its VIFs.
    ("attach", Some("VM.start")),
    ("plug", Some("VIF.plug")),
    ("unplug", Some("VIF.unplug")),
];

/// What the VIF rules look at.
#[derive(Debug, Clone, Copy, Default)]
pub struct VifView {
    pub vm_running: bool,
    pub attached: bool,
}

pub fn vif_permits(v: &VifView, op: &str) -> bool {
    match op {
        "attach" => true,
        "plug" => v.vm_running && !v.attached,
        "unplug" => v.vm_running && v.attached,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::offer;
    use super::*;
    use crate::api::is_implemented;

    fn vbd(b: VbdView) -> Vec<&'static str> {
        offer(VBD_OPERATIONS, |op| vbd_permits(&b, op), is_implemented)
    }

    fn vif(v: VifView) -> Vec<&'static str> {
        offer(VIF_OPERATIONS, |op| vif_permits(&v, op), is_implemented)
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
        let all = offer(VBD_OPERATIONS, |_| true, is_implemented);
        assert!(!all.contains(&"pause") && !all.contains(&"unpause"), "no message pauses a VBD");
    }

    #[test]
    fn vif_offers_follow_its_vm() {
        assert_eq!(vif(VifView::default()), ["attach"]);
        assert_eq!(vif(VifView { vm_running: true, attached: false }), ["attach", "plug"]);
        assert_eq!(vif(VifView { vm_running: true, attached: true }), ["attach", "unplug"]);
    }
}
