//! Objects that belong to a caller rather than to the pool: tasks and sessions.
//!
//! The role table (the model's `role=`) says who may call a message at all; for these two
//! classes it lets every role in, because every client makes and polls its own tasks and
//! reads its own session. What it may do to *somebody else's* object is decided here, once, for
//! every message of the class, so that newly implemented messages inherit the rule:
//!
//! - a **task** may be changed, cancelled or destroyed by the user whose session made it, and
//!   by pool-operators and above (xapi's `task.destroy/any` permission, granted to
//!   pool-operator); reading tasks is open to all, as in xapi;
//! - a **session** may be read or changed only by its own user, and by pool-admins: its ref
//!   authenticates its holder, so a session of another user is never shown, not even its
//!   existence through `session.get_by_uuid` (events never carry sessions either: the model marks
//!   the class `no_events`).
//!
//! The owner of a task is its creating session's user (the subject; all users are local here).
//! It is kept in memory: after a restart the tasks of the previous run, which are all finished by
//! then (`task::fail_interrupted`), can be changed only by pool-operators until they are
//! collected 65 minutes later. Nothing of a user's data depends on it.

use super::session::Session;
use super::Xapi;
use crate::dispatch::Method;
use crate::error::ApiError;
use crate::model::{model, Role, Type};
use crate::store::Store;
use crate::value::Value;
use std::collections::HashMap;
use std::sync::Mutex;

// The task rule itself is the model's (the CIM providers apply it too); the owners are kept here.
pub use xenapi_model::rbac::{changes_a_task, task_denied, TASK_ANY, TASK_ANY_ROLE};
/// The least role that may see or change the sessions of other users.
const SESSION_ANY_ROLE: Role = Role::PoolAdmin;

/// Task ref → the user whose session created it.
#[derive(Default)]
pub struct TaskOwners {
    owners: Mutex<HashMap<String, String>>,
}

impl TaskOwners {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.owners.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records who created `task` (none: made by the server itself, owned by nobody).
    pub fn record(&self, task: &str, session: Option<&Session>) {
        if let Some(s) = session {
            self.lock().insert(task.to_string(), s.user_name.clone());
        }
    }

    fn owner(&self, task: &str) -> Option<String> {
        self.lock().get(task).cloned()
    }

    /// Forgets the owners of tasks that are no longer in the store (destroyed or collected).
    pub fn forget_gone(&self, store: &Store) {
        let tables = store.read();
        let tasks = tables.table("task");
        self.lock().retain(|t, _| tasks.objects.contains_key(t));
    }
}

fn denied(permission: &str, why: String) -> ApiError {
    ApiError::new("RBAC_PERMISSION_DENIED", [permission.to_string(), why])
}

/// Refuses `method` when its target is a task or session of another user that the caller's role
/// does not let it touch. Runs after the role check and argument typing, before the handler.
pub fn check(xapi: &Xapi, caller: &Session, method: &Method, args: &[Value]) -> Result<(), ApiError> {
    let (class, msg) = method.name.split_once('.').unwrap_or(("", ""));
    match class {
        "task" => check_task(xapi, caller, method, args),
        "session" => check_session(xapi, caller, method, msg, args),
        _ => Ok(()),
    }
}

fn check_task(xapi: &Xapi, caller: &Session, method: &Method, args: &[Value]) -> Result<(), ApiError> {
    if !changes_a_task(&method.name) || caller.role >= TASK_ANY_ROLE {
        return Ok(());
    }
    let Some(task) = args.first().and_then(Value::as_str) else { return Ok(()) };
    if xapi.task_owners.owner(task).as_deref() == Some(caller.user_name.as_str()) {
        return Ok(());
    }
    Err(task_denied(task, &caller.user_name, caller.role))
}

fn check_session(xapi: &Xapi, caller: &Session, method: &Method, msg: &str, args: &[Value]) -> Result<(), ApiError> {
    if caller.role >= SESSION_ANY_ROLE {
        return Ok(());
    }
    let session_class = model().class("session").expect("the model has sessions");
    let user_of = |rec: &crate::store::Record| rec.str(session_class, "auth_user_name").to_string();
    if msg == "get_by_uuid" {
        let uuid = args.first().and_then(Value::as_str).unwrap_or("");
        let tables = xapi.store.read();
        let other = tables
            .table("session")
            .objects
            .values()
            .any(|rec| rec.str(session_class, "uuid") == uuid && user_of(rec) != caller.user_name);
        // Answered as if absent: another user's session is not even shown to exist.
        return if other { Err(ApiError::new("UUID_INVALID", ["session", uuid])) } else { Ok(()) };
    }
    // Messages about one session take it first (`self`); logout and the like act on the caller's.
    let takes_session = method.params.first().is_some_and(|p| p.ty == Type::Ref("session".into()));
    let Some(target) = args.first().and_then(Value::as_str).filter(|_| takes_session) else { return Ok(()) };
    if target == caller.session_ref {
        return Ok(());
    }
    let owner = xapi.store.read().table("session").objects.get(target).map(|rec| user_of(rec));
    if owner.as_deref() == Some(caller.user_name.as_str()) {
        return Ok(());
    }
    Err(denied(
        &method.permission(),
        format!(
            "session {target} belongs to another user; user {} has role {}, and the sessions of others require {} or higher",
            caller.user_name,
            caller.role.wire_name(),
            SESSION_ANY_ROLE.wire_name()
        ),
    ))
}
