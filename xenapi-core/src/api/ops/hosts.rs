//! `allowed_operations` of the host (xapi's `Xapi_host_helpers.valid_operations`) and of
//! networks.

use super::OpTable;
use crate::generated::args::*;
use crate::generated::{HostAllowedOperations, NetworkOperations};
use crate::typed::MessageArgs;

/// Every `host_allowed_operations` value with the message that performs it.
pub const HOST_OPERATIONS: OpTable<HostAllowedOperations> = &[
    (HostAllowedOperations::Provision, Some(VmProvisionArgs::MESSAGE)),
    (HostAllowedOperations::Evacuate, Some(HostEvacuateArgs::MESSAGE)),
    (HostAllowedOperations::Shutdown, Some(HostShutdownArgs::MESSAGE)),
    (HostAllowedOperations::Reboot, Some(HostRebootArgs::MESSAGE)),
    (HostAllowedOperations::PowerOn, Some(HostPowerOnArgs::MESSAGE)),
    (HostAllowedOperations::VmStart, Some(VmStartArgs::MESSAGE)),
    (HostAllowedOperations::VmResume, Some(VmResumeArgs::MESSAGE)),
    (HostAllowedOperations::VmMigrate, Some(VmPoolMigrateArgs::MESSAGE)),
    (HostAllowedOperations::ApplyUpdates, Some(HostApplyUpdatesArgs::MESSAGE)),
    (HostAllowedOperations::Enable, Some(HostEnableArgs::MESSAGE)),
];

/// What the host rules look at.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostView {
    pub enabled: bool,
}

/// Whether the host's state permits `op`. As in xapi, reboot, shutdown and updates need the host
/// disabled first, and `enable` is always offered. A disabled host starts and resumes no guests
/// (VM.start and VM.resume answer HOST_DISABLED), so vm_start and vm_resume go with `enabled`
/// (xapi offers them and then refuses). power_on is for a host that is down: this one answers.
pub fn host_permits(h: &HostView, op: HostAllowedOperations) -> bool {
    use HostAllowedOperations::*;
    match op {
        Provision | Evacuate | Enable => true,
        VmStart | VmResume | VmMigrate => h.enabled,
        Shutdown | Reboot | ApplyUpdates => !h.enabled,
        _ => false,
    }
}

/// Every `network_operations` value with the message that performs it. xapi's
/// `network.attach` (make a network available on a host) is not a message of this model, and
/// xapi itself never offers `attaching`.
pub const NETWORK_OPERATIONS: OpTable<NetworkOperations> = &[(NetworkOperations::Attaching, None)];

#[cfg(test)]
mod tests {
    use super::super::{names, offer};
    use super::*;
    use crate::api::is_implemented;

    fn host(h: HostView) -> Vec<&'static str> {
        names(offer(HOST_OPERATIONS, |op| host_permits(&h, op), is_implemented))
    }

    #[test]
    fn host_offers_follow_enabled_and_implemented_messages() {
        assert_eq!(host(HostView { enabled: true }), ["provision", "vm_start", "vm_resume", "enable"]);
        assert_eq!(host(HostView { enabled: false }), ["provision", "enable"], "reboot/shutdown/apply_updates are not implemented");
        // With every message implemented, the rules alone decide.
        assert_eq!(names(offer(HOST_OPERATIONS, |op| host_permits(&HostView { enabled: false }, op), |_| true)), ["provision", "evacuate", "shutdown", "reboot", "apply_updates", "enable"]);
    }

    #[test]
    fn network_offers_nothing() {
        assert!(offer(NETWORK_OPERATIONS, |_| true, |_| true).is_empty());
    }
}
