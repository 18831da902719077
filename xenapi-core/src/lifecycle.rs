//! Which VM operations are allowed now: the one place that decides, used both to refuse an
//! operation (with xapi's error) and to publish `allowed_operations`.
//!
//! Checks run in xapi's order: blocked by the user, the control domain, templates, snapshots, the
//! power state, then other operations in progress.

use crate::error::ApiError;
use crate::generated::args::*;
use crate::generated::{VmOperations as Op, VmPowerState as Power};
use crate::typed::MessageArgs;

/// The state of a VM that the rules look at.
#[derive(Debug, Clone)]
pub struct VmView {
    pub vm_ref: String,
    pub power_state: Power,
    pub is_template: bool,
    pub is_default_template: bool,
    pub is_snapshot: bool,
    pub is_control_domain: bool,
    /// task ref → operation, the `current_operations` map.
    pub current_operations: Vec<(String, Op)>,
    /// operation → reason, the `blocked_operations` map.
    pub blocked_operations: Vec<(Op, String)>,
}

impl Default for VmView {
    fn default() -> VmView {
        VmView {
            vm_ref: String::new(),
            power_state: Power::Halted,
            is_template: false,
            is_default_template: false,
            is_snapshot: false,
            is_control_domain: false,
            current_operations: vec![],
            blocked_operations: vec![],
        }
    }
}

/// Power states in which each operation may run (xapi's lifecycle table). `None`: any state.
fn power_states(op: Op, vm: &VmView) -> Option<&'static [Power]> {
    use Power::*;
    const H: &[Power] = &[Halted];
    const HR: &[Power] = &[Halted, Running];
    const P: &[Power] = &[Paused];
    const S: &[Power] = &[Suspended];
    const R: &[Power] = &[Running];
    const PR: &[Power] = &[Paused, Running];
    const PSR: &[Power] = &[Paused, Suspended, Running];
    const HS: &[Power] = &[Halted, Suspended];
    const HSR: &[Power] = &[Halted, Suspended, Running];
    Some(match op {
        Op::Start | Op::StartOn | Op::Provision | Op::MakeIntoTemplate | Op::ChangingShadowMemory | Op::ChangingNvram
        | Op::CreateVtpm => H,
        Op::ChangingVcpus | Op::ChangingStaticRange | Op::ChangingMemoryLimits => {
            if vm.is_control_domain {
                HR
            } else {
                H
            }
        }
        Op::ChangingDynamicRange => HR,
        Op::Unpause => P,
        Op::Resume | Op::ResumeOn | Op::Csvm => S,
        Op::Pause | Op::Suspend | Op::CleanShutdown | Op::CleanReboot | Op::PoolMigrate | Op::SendSysrq | Op::SendTrigger
        | Op::ChangingVcpusLive | Op::ChangingMemoryLive | Op::ChangingShadowMemoryLive | Op::SnapshotWithQuiesce
        | Op::CallPlugin | Op::DataSourceOp => R,
        Op::HardReboot => PR,
        Op::HardShutdown | Op::Shutdown | Op::Checkpoint | Op::GetBootRecord => PSR,
        Op::Destroy | Op::Export | Op::CreateTemplate => HS,
        Op::Clone | Op::Copy => {
            if vm.is_snapshot {
                HS
            } else {
                H
            }
        }
        Op::MigrateSend => HSR,
        _ => return None,
    })
}

fn is_changing(op: Op) -> bool {
    op.wire_name().starts_with("changing_")
}

/// Operations a template still allows.
fn template_allows(op: Op, vm: &VmView) -> bool {
    matches!(op, Op::Clone | Op::Copy | Op::Export | Op::MetadataExport | Op::Provision | Op::AssertOperationValid
        | Op::UpdateAllowedOperations)
        || is_changing(op) && !op.wire_name().ends_with("_live")
        || (matches!(op, Op::Destroy | Op::MigrateSend) && !vm.is_default_template)
}

fn snapshot_allows(op: Op) -> bool {
    matches!(op, Op::Revert | Op::Clone | Op::Copy | Op::Export | Op::Destroy | Op::HardShutdown | Op::MetadataExport
        | Op::AssertOperationValid | Op::UpdateAllowedOperations)
}

/// What may be done to the control domain. xapi also changes dom0's vCPUs and memory (target,
/// dynamic range) live; no backend here manages the control domain as a domain (the simulated
/// host has none, and the libxl backend drives guests only), so those are not offered rather
/// than failing midway.
fn control_domain_allows(op: Op) -> bool {
    matches!(op, Op::ChangingVcpus | Op::ChangingStaticRange | Op::ChangingMemoryLimits
        | Op::AssertOperationValid | Op::UpdateAllowedOperations | Op::MetadataExport | Op::QueryServices | Op::DataSourceOp)
}

/// Whether `op` may start while `running` is in progress.
fn may_overlap(op: Op, running: Op) -> bool {
    let copying = |o: Op| matches!(o, Op::Clone | Op::Copy | Op::Export);
    let snapshotting = |o: Op| matches!(o, Op::Snapshot | Op::Checkpoint);
    let hard = |o: Op| matches!(o, Op::HardShutdown | Op::HardReboot);
    (copying(op) && copying(running))
        || (snapshotting(op) && snapshotting(running))
        || (op == Op::HardShutdown && running != Op::HardShutdown)
        || (op == Op::HardReboot && !hard(running))
        || matches!(op, Op::AssertOperationValid | Op::UpdateAllowedOperations)
}

/// Every operation `allowed_operations` reports on, with the message that performs it (None: no
/// XenAPI message does; `export` and `metadata_export` are HTTP handlers, `create_template` has no
/// message of its own). An operation is advertised only when its message is implemented. Declared
/// custom messages are named by their generated argument structs, so a message renamed in the
/// model fails to compile here; `VM.set_is_a_template` and `VM.destroy` are implicit messages.
pub const VM_OPERATIONS: &[(Op, Option<&str>)] = &[
    (Op::Snapshot, Some(VmSnapshotArgs::MESSAGE)),
    (Op::Clone, Some(VmCloneArgs::MESSAGE)),
    (Op::Copy, Some(VmCopyArgs::MESSAGE)),
    (Op::CreateTemplate, None),
    (Op::Revert, Some(VmRevertArgs::MESSAGE)),
    (Op::Checkpoint, Some(VmCheckpointArgs::MESSAGE)),
    (Op::Provision, Some(VmProvisionArgs::MESSAGE)),
    (Op::Start, Some(VmStartArgs::MESSAGE)),
    (Op::StartOn, Some(VmStartOnArgs::MESSAGE)),
    (Op::Pause, Some(VmPauseArgs::MESSAGE)),
    (Op::Unpause, Some(VmUnpauseArgs::MESSAGE)),
    (Op::CleanShutdown, Some(VmCleanShutdownArgs::MESSAGE)),
    (Op::CleanReboot, Some(VmCleanRebootArgs::MESSAGE)),
    (Op::HardShutdown, Some(VmHardShutdownArgs::MESSAGE)),
    (Op::PowerStateReset, Some(VmPowerStateResetArgs::MESSAGE)),
    (Op::HardReboot, Some(VmHardRebootArgs::MESSAGE)),
    (Op::Suspend, Some(VmSuspendArgs::MESSAGE)),
    (Op::Resume, Some(VmResumeArgs::MESSAGE)),
    (Op::ResumeOn, Some(VmResumeOnArgs::MESSAGE)),
    (Op::Shutdown, Some(VmShutdownArgs::MESSAGE)),
    (Op::SendSysrq, Some(VmSendSysrqArgs::MESSAGE)),
    (Op::SendTrigger, Some(VmSendTriggerArgs::MESSAGE)),
    (Op::ChangingMemoryLive, Some(VmSetMemoryTargetLiveArgs::MESSAGE)),
    (Op::ChangingDynamicRange, Some(VmSetMemoryDynamicRangeArgs::MESSAGE)),
    (Op::ChangingStaticRange, Some(VmSetMemoryStaticRangeArgs::MESSAGE)),
    (Op::ChangingMemoryLimits, Some(VmSetMemoryLimitsArgs::MESSAGE)),
    (Op::ChangingVcpus, Some(VmSetVcpusMaxArgs::MESSAGE)),
    (Op::ChangingVcpusLive, Some(VmSetVcpusNumberLiveArgs::MESSAGE)),
    (Op::ChangingNvram, Some(VmSetNvramArgs::MESSAGE)),
    (Op::MakeIntoTemplate, Some("VM.set_is_a_template")),
    (Op::Destroy, Some("VM.destroy")),
    (Op::Export, None),
    (Op::MetadataExport, None),
];

/// Ok if `op` may run on the VM now, else the error xapi gives.
pub fn check(vm: &VmView, op: Op) -> Result<(), ApiError> {
    if let Some((_, reason)) = vm.blocked_operations.iter().find(|(o, _)| *o == op) {
        return Err(ApiError::new("OPERATION_BLOCKED", [vm.vm_ref.as_str(), reason.as_str()]));
    }
    if vm.is_control_domain && !control_domain_allows(op) {
        return Err(ApiError::new("OPERATION_NOT_ALLOWED", ["This operation is not allowed on dom0"]));
    }
    // Snapshots are templates too (xapi marks them both); their own rules decide.
    if vm.is_snapshot {
        if !snapshot_allows(op) {
            return Err(ApiError::new("VM_IS_SNAPSHOT", [vm.vm_ref.as_str(), op.wire_name()]));
        }
    } else if vm.is_template && !template_allows(op, vm) {
        return Err(ApiError::new("VM_IS_TEMPLATE", [vm.vm_ref.as_str(), op.wire_name()]));
    }
    if let Some(states) = power_states(op, vm) {
        if !states.contains(&vm.power_state) {
            let expected: Vec<String> = states.iter().map(|s| s.wire_name().to_ascii_lowercase()).collect();
            return Err(ApiError::new(
                "VM_BAD_POWER_STATE",
                [vm.vm_ref.clone(), expected.join(", "), vm.power_state.wire_name().to_ascii_lowercase()],
            ));
        }
    }
    if let Some((task, running)) = vm.current_operations.iter().find(|(_, running)| !may_overlap(op, *running)) {
        return Err(ApiError::new("OTHER_OPERATION_IN_PROGRESS", ["VM", vm.vm_ref.as_str(), running.wire_name(), task.as_str()]));
    }
    Ok(())
}

/// The advisory list published as `allowed_operations`: what may run now and has an implemented
/// message (`implemented` answers for a message name), so a client never acts on an operation
/// that would answer NOT_IMPLEMENTED.
pub fn allowed_operations(vm: &VmView, implemented: impl Fn(&str) -> bool) -> Vec<Op> {
    VM_OPERATIONS
        .iter()
        .filter(|(op, message)| message.is_some_and(&implemented) && check(vm, *op).is_ok())
        .map(|(op, _)| *op)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(state: Power) -> VmView {
        VmView { vm_ref: "OpaqueRef:vm".into(), power_state: state, ..Default::default() }
    }

    fn op(name: &str) -> Op {
        Op::from_wire(name).unwrap_or_else(|| panic!("{name} is not a vm_operations value"))
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
            ("changing_NVRAM", ["ok", "bad", "bad", "bad"]),
            ("power_state_reset", ["ok", "ok", "ok", "ok"]),
        ];
        for (name, expect) in table {
            for (state, want) in [Power::Halted, Power::Paused, Power::Running, Power::Suspended].iter().zip(expect) {
                let got = code(check(&vm(*state), op(name)));
                let want = if *want == "bad" { "VM_BAD_POWER_STATE" } else { "ok" };
                assert_eq!(got, want, "{name} in {state}");
            }
        }
    }

    #[test]
    fn bad_power_state_names_expected_and_actual_in_lower_case() {
        let e = check(&vm(Power::Running), op("destroy")).unwrap_err();
        assert_eq!(e.params, ["OpaqueRef:vm", "halted, suspended", "running"]);
    }

    #[test]
    fn templates_snapshots_and_dom0() {
        let t = VmView { is_template: true, ..vm(Power::Halted) };
        assert_eq!(check(&t, op("start")).unwrap_err().params, ["OpaqueRef:vm", "start"]);
        assert!(check(&t, op("clone")).is_ok() && check(&t, op("destroy")).is_ok());
        let dt = VmView { is_default_template: true, ..t };
        assert_eq!(code(check(&dt, op("destroy"))), "VM_IS_TEMPLATE");
        let s = VmView { is_snapshot: true, is_template: true, ..vm(Power::Halted) };
        assert_eq!(code(check(&s, op("start"))), "VM_IS_SNAPSHOT");
        assert!(check(&s, op("revert")).is_ok());
        let d0 = VmView { is_control_domain: true, ..vm(Power::Running) };
        assert_eq!(check(&d0, op("hard_shutdown")).unwrap_err().params, ["This operation is not allowed on dom0"]);
        assert!(check(&d0, op("changing_memory_limits")).is_ok());
        for live in ["changing_dynamic_range", "changing_VCPUs_live", "changing_memory_live"] {
            assert_eq!(code(check(&d0, op(live))), "OPERATION_NOT_ALLOWED", "{live}: no backend changes dom0 live");
        }
    }

    #[test]
    fn operations_in_progress_block_others() {
        let busy = VmView { current_operations: vec![("OpaqueRef:t".into(), Op::CleanShutdown)], ..vm(Power::Running) };
        let e = check(&busy, op("pause")).unwrap_err();
        assert_eq!(e.code, "OTHER_OPERATION_IN_PROGRESS");
        assert_eq!(e.params, ["VM", "OpaqueRef:vm", "clean_shutdown", "OpaqueRef:t"]);
        assert!(check(&busy, op("hard_shutdown")).is_ok(), "hard_shutdown overrides a clean one");
        let hard = VmView { current_operations: vec![("t".into(), Op::HardShutdown)], ..vm(Power::Running) };
        assert_eq!(code(check(&hard, op("hard_shutdown"))), "OTHER_OPERATION_IN_PROGRESS");
    }

    #[test]
    fn blocked_operations_win() {
        let b = VmView { blocked_operations: vec![(Op::Start, "maintenance".into())], ..vm(Power::Halted) };
        assert_eq!(check(&b, op("start")).unwrap_err().params, ["OpaqueRef:vm", "maintenance"]);
    }

    #[test]
    fn allowed_operations_follow_the_rules() {
        let all = |_: &str| true;
        let ops = allowed_operations(&vm(Power::Halted), all);
        assert!(ops.contains(&Op::Start) && ops.contains(&Op::Destroy));
        assert!(!ops.contains(&Op::Pause));
        assert!(!ops.contains(&Op::Export), "no message exports: an HTTP handler would");
        let ops = allowed_operations(&vm(Power::Running), all);
        assert!(ops.contains(&Op::CleanShutdown) && !ops.contains(&Op::Start));
        let ops = allowed_operations(&vm(Power::Running), |m| m != "VM.checkpoint");
        assert!(!ops.contains(&Op::Checkpoint), "an operation whose message is not implemented");
    }
}
