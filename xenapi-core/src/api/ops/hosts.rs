//! `allowed_operations` of the host (xapi's `Xapi_host_helpers.valid_operations`) and of
//! networks.

use super::OpTable;

/// Every `host_allowed_operations` value with the message that performs it.
pub const HOST_OPERATIONS: OpTable = &[
    ("provision", Some("VM.provision")),
    ("evacuate", Some("host.evacuate")),
    ("shutdown", Some("host.shutdown")),
    ("reboot", Some("host.reboot")),
    ("power_on", Some("host.power_on")),
    ("vm_start", Some("VM.start")),
    ("vm_resume", Some("VM.resume")),
    ("vm_migrate", Some("VM.pool_migrate")),
    ("apply_updates", Some("host.apply_updates")),
    ("enable", Some("host.enable")),
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
pub fn host_permits(h: &HostView, op: &str) -> bool {
    match op {
        "provision" | "evacuate" | "enable" => true,
        "vm_start" | "vm_resume" | "vm_migrate" => h.enabled,
        "shutdown" | "reboot" | "apply_updates" => !h.enabled,
        _ => false,
    }
}

/// Every `network_operations` value with the message that performs it. xapi's
/// `network.attach` (make a network available on a host) is not a message of this model, and
/// xapi itself never offers `attaching`.
pub const NETWORK_OPERATIONS: OpTable = &[("attaching", None)];

#[cfg(test)]
mod tests {
    use super::super::offer;
    use super::*;
    use crate::api::is_implemented;

    fn host(h: HostView) -> Vec<&'static str> {
        offer(HOST_OPERATIONS, |op| host_permits(&h, op), is_implemented)
    }

    #[test]
    fn host_offers_follow_enabled_and_implemented_messages() {
        assert_eq!(host(HostView { enabled: true }), ["provision", "vm_start", "vm_resume", "enable"]);
        assert_eq!(host(HostView { enabled: false }), ["provision", "enable"], "reboot/shutdown/apply_updates are not implemented");
        // With every message implemented, the rules alone decide.
        assert_eq!(offer(HOST_OPERATIONS, |op| host_permits(&HostView { enabled: false }, op), |_| true), ["provision", "evacuate", "shutdown", "reboot", "apply_updates", "enable"]);
    }

    #[test]
    fn network_offers_nothing() {
        assert!(offer(NETWORK_OPERATIONS, |_| true, |_| true).is_empty());
    }
}
