//! Who may call what: the least role of every method, declared or implicit, and the rule on the
//! tasks of other users. Pure rules over the model, in one place, because two parties apply
//! them: the XenAPI server (its dispatcher checks each call) and the CIM providers (which share
//! one service-account session and so check, before calling, what the CIM principal's role
//! allows; see providers/src/access.rs).

use crate::error::ApiError;
use crate::model::{Class, Model, Role};

/// Role needed to change objects of a class through its implicit messages (`set_<f>`,
/// `add_to_<f>`, `create`, `destroy`, ...): guests and their devices are vm-admin business,
/// sessions and tasks belong to their caller (`crate::rbac` task rule, the server's session
/// rule), users are pool-admin business, the rest is pool-operator.
pub fn write_role(class: &str) -> Role {
    match class {
        "VM" | "VBD" | "VIF" | "VDI" | "console" | "VM_metrics" | "VM_guest_metrics" | "crashdump" | "VTPM"
        | "VBD_metrics" | "VIF_metrics" => Role::VmAdmin,
        "session" | "task" => Role::ReadOnly,
        "user" => Role::PoolAdmin,
        _ => Role::PoolOperator,
    }
}

/// The lookups every stored class may have, and whether the model must list them as implicit
/// (`message` objects have them all without listing them).
const LOOKUPS: &[&str] = &["get_record", "get_by_uuid", "get_all", "get_all_records", "get_all_records_where"];

impl Class {
    /// The role needed for the implicit message `msg` of this class (`get_record`,
    /// `get_<field>`, `set_<field>`, `add_to_<field>`, `create`, ...); `None` when the class has
    /// no such implicit message. The server's dispatcher generates exactly these messages.
    pub fn implicit_role(&self, msg: &str) -> Option<Role> {
        if !self.is_stored() {
            return None;
        }
        let listed = |n: &str| self.has_implicit(n) || self.name == "message";
        let read = Some(Role::ReadOnly);
        if LOOKUPS.contains(&msg) {
            return if listed(msg) { read } else { None };
        }
        if msg == "get_all_where" {
            return if listed("get_all_records_where") { read } else { None };
        }
        if msg == "get_by_name_label" {
            return if self.has_implicit(msg) { read } else { None };
        }
        if self.name == "message" {
            return None; // messages have no field accessors.
        }
        let write = Some(write_role(&self.name));
        if matches!(msg, "create" | "destroy") {
            return if self.has_implicit(msg) { write } else { None };
        }
        if let Some(f) = msg.strip_prefix("get_") {
            if self.field(f).is_some() {
                return read;
            }
        }
        let is = |prefix: &str, fields: &[String]| msg.strip_prefix(prefix).is_some_and(|f| fields.iter().any(|x| x == f));
        if is("set_", &self.setters)
            || is("add_to_", &self.map_ops)
            || is("remove_from_", &self.map_ops)
            || is("add_", &self.set_ops)
            || is("remove_", &self.set_ops)
        {
            return write;
        }
        None
    }

    /// The least role allowed to call `msg` of this class: its declared role, else that of the
    /// implicit message of that name.
    pub fn required_role(&self, msg: &str) -> Option<Role> {
        self.message(msg).map(|m| m.role).or_else(|| self.implicit_role(msg))
    }
}

impl Model {
    /// The least role allowed to call `method` (`VM.start`, `Async.VM.start`, `VM.get_record`);
    /// `None` for a method the model does not have.
    pub fn required_role(&self, method: &str) -> Option<Role> {
        let name = method.strip_prefix("Async.").unwrap_or(method);
        let (class, msg) = name.split_once('.')?;
        self.class(class)?.required_role(msg)
    }
}

/// The permission xapi names in `RBAC_PERMISSION_DENIED` for `method` (`vm.start`).
pub fn permission(method: &str) -> String {
    method.strip_prefix("Async.").unwrap_or(method).to_ascii_lowercase()
}

/// The refusal of `method` to `user`, whose `role` is below the `required` one.
pub fn role_denied(method: &str, user: &str, role: Role, required: Role) -> ApiError {
    let name = method.strip_prefix("Async.").unwrap_or(method);
    ApiError::new(
        "RBAC_PERMISSION_DENIED",
        [permission(name), format!("user {user} has role {}; {name} requires {} or higher", role.wire_name(), required.wire_name())],
    )
}

/// The permission xapi names when a task of another user is touched without it.
pub const TASK_ANY: &str = "task.destroy/any";
/// The least role that may act on the tasks of other users.
pub const TASK_ANY_ROLE: Role = Role::PoolOperator;

/// Whether `method` (`task.cancel`, `Async.task.destroy`, …) changes the task it is given first:
/// every task message but the reads and `create` (cancel, destroy, set_*, add_to_/remove_from_).
/// A task may be changed by the user whose session made it, and by [`TASK_ANY_ROLE`] and above.
pub fn changes_a_task(method: &str) -> bool {
    match method.strip_prefix("Async.").unwrap_or(method).split_once('.') {
        Some(("task", msg)) => !(msg.starts_with("get_") || msg == "create"),
        _ => false,
    }
}

/// The refusal of a change to `task` by `user` (of `role`) who does not own it. The CIM providers
/// give the same answer for the principals they act for.
pub fn task_denied(task: &str, user: &str, role: Role) -> ApiError {
    ApiError::new(
        "RBAC_PERMISSION_DENIED",
        [
            TASK_ANY.to_string(),
            format!(
                "task {task} belongs to another user; user {user} has role {}, and acting on the tasks of others requires {} or higher",
                role.wire_name(),
                TASK_ANY_ROLE.wire_name()
            ),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::model;

    #[test]
    fn declared_and_implicit_messages_have_their_roles() {
        let m = model();
        assert_eq!(m.required_role("VM.get_record"), Some(Role::ReadOnly));
        assert_eq!(m.required_role("VM.get_power_state"), Some(Role::ReadOnly));
        assert_eq!(m.required_role("VM.set_name_label"), Some(Role::VmAdmin));
        assert_eq!(m.required_role("network.set_name_label"), Some(Role::PoolOperator));
        assert_eq!(m.required_role("user.create"), Some(Role::PoolAdmin));
        assert_eq!(m.required_role("Async.VM.clean_shutdown"), m.class("VM").unwrap().message("clean_shutdown").map(|x| x.role));
        assert_eq!(m.required_role("host.emergency_reset_server_certificate"), Some(Role::PoolAdmin));
        for unknown in ["VM.no_such_message", "VM.get_no_such_field", "nosuchclass.get_record", "VM", "event.get_record"] {
            assert_eq!(m.required_role(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn task_changes_are_told_from_reads() {
        assert!(changes_a_task("task.cancel") && changes_a_task("Async.task.destroy") && changes_a_task("task.set_status"));
        assert!(!changes_a_task("task.get_record") && !changes_a_task("task.create") && !changes_a_task("VM.start"));
        let e = task_denied("OpaqueRef:t", "bob", Role::VmAdmin);
        assert_eq!((e.code.as_str(), e.params[0].as_str()), ("RBAC_PERMISSION_DENIED", TASK_ANY));
        let e = role_denied("Async.VM.start", "bob", Role::ReadOnly, Role::VmOperator);
        assert_eq!(e.params, ["vm.start", "user bob has role read-only; VM.start requires vm-operator or higher"]);
    }
}
