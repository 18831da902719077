//! Which VM operations are allowed now: the one place that decides, used both to refuse an
//! operation (with xapi's error) and to publish `allowed_operations`.
//!
//! Checks run in xapi's order: blocked by the user, the control domain, templates, snapshots, the
//! power state, then other operations in progress.

use crate::error::ApiError;

/// The state of a VM that the rules look at.
#[derive(Debug, Clone, Default)]
pub struct VmView {
    pub vm_ref: String,
    pub power_state: String,
    pub is_template: bool,
    pub is_default_template: bool,
    pub is_snapshot: bool,
    pub is_control_domain: bool,
    /// task ref → operation, the `current_operations` map.
    pub current_operations: Vec<(String, String)>,
    /// operation → reason, the `blocked_operations` map.
    pub blocked_operations: Vec<(String, String)>,
}

/// Power states in which each operation may run (xapi's lifecycle table). `None`: any state.
fn power_states(op: &str, vm: &VmView) -> Option<&'static [&'static str]> {
    const H: &[&str] = &["Halted"];
    const HR: &[&str] = &["Halted", "Running"];
    const P: &[&str] = &["Paused"];
    const S: &[&str] = &["Suspended"];
    const R: &[&str] = &["Running"];
    const PR: &[&str] = &["Paused", "Running"];
    const PSR: &[&str] = &["Paused", "Suspended", "Running"];
    const HS: &[&str] = &["Halted", "Suspended"];
    const HSR: &[&str] = &["Halted", "Suspended", "Running"];
    Some(match op {
        "start" | "start_on" | "provision" | "make_into_template" | "changing_shadow_memory" | "changing_NVRAM"
        | "create_vtpm" => H,
        "changing_VCPUs" | "changing_static_range" | "changing_memory_limits" => {
            if vm.is_control_domain {
                HR
            } else {
                H
            }
        }
        "changing_dynamic_range" => HR,
        "unpause" => P,
        "resume" | "resume_on" | "csvm" => S,
        "pause" | "suspend" | "clean_shutdown" | "clean_reboot" | "pool_migrate" | "send_sysrq" | "send_trigger"
        | "changing_VCPUs_live" | "changing_memory_live" | "changing_shadow_memory_live" | "snapshot_with_quiesce"
        | "call_plugin" | "data_source_op" => R,
        "hard_reboot" => PR,
        "hard_shutdown" | "shutdown" | "checkpoint" | "get_boot_record" => PSR,
        "destroy" | "export" | "create_template" => HS,
        "clone" | "copy" => {
            if vm.is_snapshot {
                HS
            } else {
                H
            }
        }
        "migrate_send" => HSR,
        _ => return None,
    })
}

/// Operations a template still allows.
fn template_allows(op: &str, vm: &VmView) -> bool {
    matches!(op, "clone" | "copy" | "export" | "metadata_export" | "provision" | "assert_operation_valid"
        | "update_allowed_operations")
        || op.starts_with("changing_") && !op.ends_with("_live")
        || (matches!(op, "destroy" | "migrate_send") && !vm.is_default_template)
}

fn snapshot_allows(op: &str) -> bool {
    matches!(op, "revert" | "clone" | "copy" | "export" | "destroy" | "hard_shutdown" | "metadata_export"
        | "assert_operation_valid" | "update_allowed_operations")
}

/// Operations that may still be asked of the control domain.
/// What may be done to the control domain. xapi also changes dom0's vCPUs and memory (target,
/// dynamic range) live; no
/// backend here manages the control domain as a domain (the simulated host has none, and the
/// libxl backend drives guests only), so those are not offered rather than failing midway.
fn control_domain_allows(op: &str) -> bool {
    matches!(op, "changing_VCPUs" | "changing_static_range" | "changing_memory_limits"
        | "assert_operation_valid" | "update_allowed_operations" | "metadata_export" | "query_services" | "data_source_op")
}

/// Whether `op` may start while `running` is in progress.
fn may_overlap(op: &str, running: &str) -> bool {
    let copying = |o: &str| matches!(o, "clone" | "copy" | "export");
    let snapshotting = |o: &str| matches!(o, "snapshot" | "checkpoint");
    let hard = |o: &str| matches!(o, "hard_shutdown" | "hard_reboot");
    (copying(op) && copying(running))
        || (snapshotting(op) && snapshotting(running))
        || (op == "hard_shutdown" && running != "hard_shutdown")
        || (op == "hard_reboot" && !hard(running))
        || matches!(op, "assert_operation_valid" | "update_allowed_operations")
}

/// Every operation `allowed_operations` reports on, with the message that performs it (None: no
/// XenAPI message does; `export` and `metadata_export` are HTTP handlers, `create_template` has no
/// message of its own). An operation is advertised only when its message is implemented.
pub const VM_OPERATIONS: &[(&str, Option<&str>)] = &[
    ("snapshot", Some("VM.snapshot")),
    ("clone", Some("VM.clone")),
    ("copy", Some("VM.copy")),
    ("create_template", None),
    ("revert", Some("VM.revert")),
    ("checkpoint", Some("VM.checkpoint")),
    ("provision", Some("VM.provision")),
    ("start", Some("VM.start")),
    ("start_on", Some("VM.start_on")),
    ("pause", Some("VM.pause")),
    ("unpause", Some("VM.unpause")),
    ("clean_shutdown", Some("VM.clean_shutdown")),
    ("clean_reboot", Some("VM.clean_reboot")),
    ("hard_shutdown", Some("VM.hard_shutdown")),
    ("power_state_reset", Some("VM.power_state_reset")),
    ("hard_reboot", Some("VM.hard_reboot")),
    ("suspend", Some("VM.suspend")),
    ("resume", Some("VM.resume")),
    ("resume_on", Some("VM.resume_on")),
    ("shutdown", Some("VM.shutdown")),
    ("send_sysrq", Some("VM.send_sysrq")),
    ("send_trigger", Some("VM.send_trigger")),
    ("changing_memory_live", Some("VM.set_memory_target_live")),
    ("changing_dynamic_range", Some("VM.set_memory_dynamic_range")),
    ("changing_static_range", Some("VM.set_memory_static_range")),
    ("changing_memory_limits", Some("VM.set_memory_limits")),
    ("changing_VCPUs", Some("VM.set_VCPUs_max")),
    ("changing_VCPUs_live", Some("VM.set_VCPUs_number_live")),
    ("make_into_template", Some("VM.set_is_a_template")),
    ("destroy", Some("VM.destroy")),
    ("export", None),
    ("metadata_export", None),
];


/// Ok if `op` may run on the VM now, else the error xapi gives.
pub fn check(vm: &VmView, op: &str) -> Result<(), ApiError> {
    if let Some((_, reason)) = vm.blocked_operations.iter().find(|(o, _)| o == op) {
        return Err(ApiError::new("OPERATION_BLOCKED", [vm.vm_ref.as_str(), reason.as_str()]));
    }
    if vm.is_control_domain && !control_domain_allows(op) {
        return Err(ApiError::new("OPERATION_NOT_ALLOWED", ["This operation is not allowed on dom0"]));
    }
    // Snapshots are templates too (xapi marks them both); their own rules decide.
    if vm.is_snapshot {
        if !snapshot_allows(op) {
            return Err(ApiError::new("VM_IS_SNAPSHOT", [vm.vm_ref.as_str(), op]));
        }
    } else if vm.is_template && !template_allows(op, vm) {
        return Err(ApiError::new("VM_IS_TEMPLATE", [vm.vm_ref.as_str(), op]));
    }
    if let Some(states) = power_states(op, vm) {
        if !states.contains(&vm.power_state.as_str()) {
            let expected: Vec<String> = states.iter().map(|s| s.to_ascii_lowercase()).collect();
            return Err(ApiError::new(
                "VM_BAD_POWER_STATE",
                [vm.vm_ref.clone(), expected.join(", "), vm.power_state.to_ascii_lowercase()],
            ));
        }
    }
    if let Some((task, running)) = vm.current_operations.iter().find(|(_, running)| !may_overlap(op, running)) {
        return Err(ApiError::new("OTHER_OPERATION_IN_PROGRESS", ["VM", vm.vm_ref.as_str(), running.as_str(), task.as_str()]));
    }
    Ok(())
}

/// The advisory list published as `allowed_operations`: what may run now and has an implemented
/// message (`implemented` answers for a message name), so a client never acts on an operation
/// that would answer NOT_IMPLEMENTED.
pub fn allowed_operations(vm: &VmView, implemented: impl Fn(&str) -> bool) -> Vec<String> {
    VM_OPERATIONS
        .iter()
        .filter(|(op, message)| message.is_some_and(&implemented) && check(vm, op).is_ok())
        .map(|(op, _)| op.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(state: &str) -> VmView {
        VmView { vm_ref: "OpaqueRef:vm".into(), power_state: state.into(), ..Default::default() }
    }

    fn code(r: Result<(), ApiError>) -> String {
        match r {
            Ok(()) => "ok".into(),
            Err(e) => e.code,
        }
    }

    /// Every message of the lifecycle × every power state: success or the exact error.
    #[test]
    fn message_by_power_state_table() {
        let table: &[(&str, [&str; 4])] = &[
            //                       Halted, Paused, Running, Suspended
            ("start", ["ok", "bad", "bad", "bad"]),
            ("start_on", ["ok", "bad", "bad", "bad"]),
            ("pause", ["bad", "bad", "ok", "bad"]),
            ("unpause", ["bad", "ok", "bad", "bad"]),
            ("clean_shutdown", ["bad", "bad", "ok", "bad"]),
            ("hard_shutdown", ["bad", "ok", "ok", "ok"]),
            ("shutdown", ["bad", "ok", "ok", "ok"]),
            ("clean_reboot", ["bad", "bad", "ok", "bad"]),
            ("hard_reboot", ["bad", "ok", "ok", "bad"]),
            ("suspend", ["bad", "bad", "ok", "bad"]),
            ("resume", ["bad", "bad", "bad", "ok"]),
            ("resume_on", ["bad", "bad", "bad", "ok"]),
            ("changing_dynamic_range", ["ok", "bad", "ok", "bad"]),
            ("changing_memory_limits", ["ok", "bad", "bad", "bad"]),
            ("changing_VCPUs_live", ["bad", "bad", "ok", "bad"]),
            ("changing_VCPUs", ["ok", "bad", "bad", "bad"]),
            ("clone", ["ok", "bad", "bad", "bad"]),
            ("copy", ["ok", "bad", "bad", "bad"]),
            ("snapshot", ["ok", "ok", "ok", "ok"]),
            ("revert", ["ok", "ok", "ok", "ok"]),
            ("provision", ["ok", "bad", "bad", "bad"]),
            ("destroy", ["ok", "bad", "bad", "ok"]),
            ("send_sysrq", ["bad", "bad", "ok", "bad"]),
            ("power_state_reset", ["ok", "ok", "ok", "ok"]),
        ];
        for (op, expect) in table {
            for (state, want) in ["Halted", "Paused", "Running", "Suspended"].iter().zip(expect) {
                let got = code(check(&vm(state), op));
                let want = if *want == "bad" { "VM_BAD_POWER_STATE" } else { "ok" };
                assert_eq!(got, want, "{op} in {state}");
            }
        }
    }

    #[test]
    fn bad_power_state_names_expected_and_actual_in_lower_case() {
        let e = check(&vm("Running"), "destroy").unwrap_err();
        assert_eq!(e.params, ["OpaqueRef:vm", "halted, suspended", "running"]);
    }

    #[test]
    fn templates_snapshots_and_dom0() {
        let t = VmView { is_template: true, ..vm("Halted") };
        assert_eq!(check(&t, "start").unwrap_err().params, ["OpaqueRef:vm", "start"]);
        assert!(check(&t, "clone").is_ok() && check(&t, "destroy").is_ok());
        let dt = VmView { is_default_template: true, ..t };
        assert_eq!(code(check(&dt, "destroy")), "VM_IS_TEMPLATE");
        let s = VmView { is_snapshot: true, is_template: true, ..vm("Halted") };
        assert_eq!(code(check(&s, "start")), "VM_IS_SNAPSHOT");
        assert!(check(&s, "revert").is_ok());
        let d0 = VmView { is_control_domain: true, ..vm("Running") };
        assert_eq!(check(&d0, "hard_shutdown").unwrap_err().params, ["This operation is not allowed on dom0"]);
        assert!(check(&d0, "changing_memory_limits").is_ok());
        for live in ["changing_dynamic_range", "changing_VCPUs_live", "changing_memory_live"] {
            assert_eq!(code(check(&d0, live)), "OPERATION_NOT_ALLOWED", "{live}: no backend changes dom0 live");
        }
    }

    #[test]
    fn operations_in_progress_block_others() {
        let busy = VmView { current_operations: vec![("OpaqueRef:t".into(), "clean_shutdown".into())], ..vm("Running") };
        let e = check(&busy, "pause").unwrap_err();
        assert_eq!(e.code, "OTHER_OPERATION_IN_PROGRESS");
        assert_eq!(e.params, ["VM", "OpaqueRef:vm", "clean_shutdown", "OpaqueRef:t"]);
        assert!(check(&busy, "hard_shutdown").is_ok(), "hard_shutdown overrides a clean one");
        let hard = VmView { current_operations: vec![("t".into(), "hard_shutdown".into())], ..vm("Running") };
        assert_eq!(code(check(&hard, "hard_shutdown")), "OTHER_OPERATION_IN_PROGRESS");
    }

    #[test]
    fn blocked_operations_win() {
        let b = VmView { blocked_operations: vec![("start".into(), "maintenance".into())], ..vm("Halted") };
        assert_eq!(check(&b, "start").unwrap_err().params, ["OpaqueRef:vm", "maintenance"]);
    }

    #[test]
    fn allowed_operations_follow_the_rules() {
        let all = |_: &str| true;
        let ops = allowed_operations(&vm("Halted"), all);
        assert!(ops.contains(&"start".to_string()) && ops.contains(&"destroy".to_string()));
        assert!(!ops.contains(&"pause".to_string()));
        assert!(!ops.contains(&"export".to_string()), "no message exports: an HTTP handler would");
        let ops = allowed_operations(&vm("Running"), all);
        assert!(ops.contains(&"clean_shutdown".to_string()) && !ops.contains(&"start".to_string()));
        let ops = allowed_operations(&vm("Running"), |m| m != "VM.checkpoint");
        assert!(!ops.contains(&"checkpoint".to_string()), "an operation whose message is not implemented");
    }
}
