//! What the CIM principal behind a request may have the providers do through XenAPI.
//!
//! The providers share one service-account session, so the XenAPI server's own RBAC sees the
//! service account, never the person who sent the CIM request. This module puts that person's
//! role back: a method provider runs its work inside [`acting_for`], and every XenAPI call made
//! on that thread meanwhile ([`crate::backend::Backend::call`] asks [`check`]) must be allowed
//! to the principal's role by the same table the XenAPI server applies (`xenapi_model::rbac`,
//! from the data model, which the server's dispatcher is built with). A call that is not allowed is not sent: it fails with XenAPI's
//! `RBAC_PERMISSION_DENIED`, and the CIM method ends with `CIM_ERR_ACCESS_DENIED` whatever its
//! own error handling made of that failure. So a read-only user can enumerate everything and
//! change nothing, and a vm-operator can start and stop VMs but not define or destroy them.
//!
//! The principal's role, first found of:
//! 1. the `CMPIRole` context entry, when it names a XenAPI role: the embedded broker of
//!    `xencim serve` sets it from the XenAPI user the request authenticated as;
//! 2. `[principal_roles]` in the provider configuration (for SFCB and OpenPegasus, which
//!    authenticate their own users): `alice = "vm-operator"`;
//! 3. `default_role` in that file, read-only when absent.
//!
//! Tasks (CIM jobs) follow the XenAPI server's ownership rule (`xenapi_model::rbac`):
//! every task the providers make belongs to their service account, so the providers remember
//! which principal each `Async.` call was made for, and a principal below pool-operator may
//! cancel or destroy only those (KillJob, RequestStateChange on a job).

use crate::xenapi_conn::{ProviderConfig, XenError};
use cmpi_shim::abi::CMPI_RC_ERR_ACCESS_DENIED;
use cmpi_shim::provider::Context;
use cmpi_shim::CmpiError;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use xenapi_model::model::{model, Role};
use xenapi_model::rbac;

/// The request this thread is working for.
struct Acting {
    principal: String,
    role: Role,
    /// The first call refused, as the error text the CIM client gets.
    denied: Option<String>,
}

thread_local! {
    static ACTING: RefCell<Option<Acting>> = const { RefCell::new(None) };
}

/// The role of `principal`, from the CMPIRole entry or the configuration (see the module doc).
pub fn role_of(principal: Option<&str>, cmpi_role: Option<&str>, config: Option<&ProviderConfig>) -> Result<Role, String> {
    if let Some(r) = cmpi_role.and_then(Role::from_wire_name) {
        return Ok(r);
    }
    let configured = config.and_then(|c| principal.and_then(|p| c.principal_roles.get(p)));
    let name = configured.or(config.and_then(|c| c.default_role.as_ref())).map(String::as_str).unwrap_or(Role::ReadOnly.wire_name());
    Role::from_wire_name(name).ok_or_else(|| format!("the provider configuration names an unknown XenAPI role {name:?}"))
}

/// Runs `f` on behalf of the principal of `ctx`: the XenAPI calls it makes are checked against
/// that principal's role, and a refused one turns the result into `CIM_ERR_ACCESS_DENIED`.
pub fn acting_for<T>(ctx: &Context, config: Option<&ProviderConfig>, f: impl FnOnce() -> Result<T, CmpiError>) -> Result<T, CmpiError> {
    let principal = ctx.principal();
    let role = role_of(principal.as_deref(), ctx.role().as_deref(), config).map_err(CmpiError::failed)?;
    let acting = Acting { principal: principal.unwrap_or_else(|| "(anonymous)".into()), role, denied: None };
    // Put back what was there when done, even if `f` panics (the shim catches panics at the ABI).
    struct Restore(Option<Acting>);
    impl Drop for Restore {
        fn drop(&mut self) {
            ACTING.with(|a| *a.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(ACTING.with(|a| a.replace(Some(acting))));
    let result = f();
    match ACTING.with(|a| a.borrow_mut().as_mut().and_then(|m| m.denied.take())) {
        Some(why) => Err(CmpiError::new(CMPI_RC_ERR_ACCESS_DENIED, why)),
        None => result,
    }
}

/// Checks up front that the request may call all of `methods`, for a CIM method that makes
/// several XenAPI calls: refusing only its third call would leave the first two done.
pub fn require(methods: &[&str]) -> Result<(), CmpiError> {
    for m in methods {
        if let Err(e) = check_role(m) {
            return Err(CmpiError::new(CMPI_RC_ERR_ACCESS_DENIED, e.to_string()));
        }
    }
    Ok(())
}

/// The role the XenAPI server requires for `method` (`VM.start`, `Async.VM.start`, ...).
pub fn required_role(method: &str) -> Option<Role> {
    model().required_role(method)
}

/// Task ref → the principal whose CIM request made it. Bounded: the oldest half is forgotten
/// past [`TASKS_REMEMBERED`] (XenAPI collects finished tasks after 65 minutes anyway).
fn task_principals() -> std::sync::MutexGuard<'static, HashMap<String, (u64, String)>> {
    static MAP: OnceLock<Mutex<HashMap<String, (u64, String)>>> = OnceLock::new();
    MAP.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner())
}

const TASKS_REMEMBERED: usize = 10_000;

/// After a call made for the request this thread works for: an `Async.` call's task now belongs
/// to that request's principal.
pub fn note_result(method: &str, result: &xenapi_client::Wire) {
    let (true, xenapi_client::Wire::Str(task)) = (method.starts_with("Async."), result) else { return };
    let Some(principal) = ACTING.with(|a| a.borrow().as_ref().map(|a| a.principal.clone())) else { return };
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut map = task_principals();
    if map.len() >= TASKS_REMEMBERED {
        let mut ages: Vec<u64> = map.values().map(|(s, _)| *s).collect();
        ages.sort_unstable();
        let cut = ages[ages.len() / 2];
        map.retain(|_, (s, _)| *s >= cut);
    }
    map.insert(task.clone(), (seq, principal));
}

/// Whether the request this thread works for may call `method` with `args`. Calls outside
/// [`acting_for`] (the cache's event poller, job watchers) are the providers' own and always
/// allowed.
pub fn check(method: &str, args: &[xenapi_model::Value]) -> Result<(), XenError> {
    check_role(method)?;
    ACTING.with(|a| match a.borrow_mut().as_mut() {
        Some(acting) => check_task_owner(acting, method, args),
        None => Ok(()),
    })
}

/// Whether the principal's role allows `method` at all.
fn check_role(method: &str) -> Result<(), XenError> {
    ACTING.with(|a| {
        let mut a = a.borrow_mut();
        let Some(acting) = a.as_mut() else { return Ok(()) };
        let required = required_role(method).unwrap_or(Role::PoolAdmin);
        if acting.role >= required {
            return Ok(());
        }
        let e = rbac::role_denied(method, &acting.principal, acting.role, required);
        acting.denied.get_or_insert_with(|| format!("XenError:{}:{}", e.code, e.params.join(":")));
        Err(XenError::Api { code: e.code, params: e.params })
    })
}

/// A change to a task made for a principal below pool-operator: only to the tasks made for it.
fn check_task_owner(acting: &mut Acting, method: &str, args: &[xenapi_model::Value]) -> Result<(), XenError> {
    if !rbac::changes_a_task(method) || acting.role >= rbac::TASK_ANY_ROLE {
        return Ok(());
    }
    let task = args.first().and_then(|v| v.as_str()).unwrap_or("");
    if task_principals().get(task).is_some_and(|(_, p)| *p == acting.principal) {
        return Ok(());
    }
    let e = rbac::task_denied(task, &acting.principal, acting.role);
    acting.denied.get_or_insert_with(|| format!("XenError:{}:{}", e.code, e.params.join(":")));
    Err(XenError::Api { code: e.code, params: e.params })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn config(default_role: Option<&str>, pairs: &[(&str, &str)]) -> ProviderConfig {
        ProviderConfig {
            endpoint: "unix:/s".into(),
            username: "u".into(),
            password_file: PathBuf::from("/p"),
            ca_file: None,
            principal_roles: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            default_role: default_role.map(str::to_string),
        }
    }

    #[test]
    fn the_role_comes_from_cmpirole_then_the_table_then_the_default() {
        let c = config(Some("vm-operator"), &[("alice", "vm-admin")]);
        assert_eq!(role_of(Some("bob"), Some("pool-admin"), Some(&c)), Ok(Role::PoolAdmin));
        assert_eq!(role_of(Some("alice"), Some("not-a-xapi-role"), Some(&c)), Ok(Role::VmAdmin));
        assert_eq!(role_of(Some("bob"), None, Some(&c)), Ok(Role::VmOperator));
        assert_eq!(role_of(Some("bob"), None, None), Ok(Role::ReadOnly), "least privilege without configuration");
        assert!(role_of(Some("carol"), None, Some(&config(Some("superuser"), &[]))).is_err());
    }

    #[test]
    fn required_roles_are_the_servers() {
        assert_eq!(required_role("VM.get_record"), Some(Role::ReadOnly));
        assert_eq!(required_role("Async.VM.clean_shutdown"), required_role("VM.clean_shutdown"));
        assert!(required_role("VM.start").unwrap() > Role::ReadOnly);
        assert!(required_role("VM.create").unwrap() > required_role("VM.start").unwrap());
    }

    #[test]
    fn a_refused_call_makes_the_method_access_denied_and_is_not_sent() {
        let ctx_role = |role: &str| (Some("alice".to_string()), Some(role.to_string()));
        let run = |(principal, role): (Option<String>, Option<String>)| {
            let a = Acting { principal: principal.unwrap(), role: Role::from_wire_name(&role.unwrap()).unwrap(), denied: None };
            ACTING.with(|x| *x.borrow_mut() = Some(a));
            let r = (check("VM.get_record", &[]), check("Async.VM.start", &[]));
            let denied = ACTING.with(|x| x.borrow_mut().take()).and_then(|a| a.denied);
            (r, denied)
        };
        let ((read, start), denied) = run(ctx_role("read-only"));
        assert!(read.is_ok());
        let e = start.unwrap_err();
        assert_eq!(e.code(), Some("RBAC_PERMISSION_DENIED"));
        assert!(denied.unwrap().contains("alice has role read-only"));
        let ((_, start), denied) = run(ctx_role("vm-operator"));
        assert!(start.is_ok() && denied.is_none());
        assert!(check("VM.destroy", &[]).is_ok(), "outside a request the providers' own calls pass");
    }

    #[test]
    fn a_job_is_killed_only_by_its_principal_or_a_pool_operator() {
        let act = |principal: &str, role: Role| {
            ACTING.with(|x| *x.borrow_mut() = Some(Acting { principal: principal.into(), role, denied: None }))
        };
        let task = xenapi_model::Value::str("OpaqueRef:job-of-bob");
        act("bob", Role::VmOperator);
        note_result("Async.VM.clean_shutdown", &xenapi_client::Wire::Str("OpaqueRef:job-of-bob".into()));
        assert!(check("task.cancel", std::slice::from_ref(&task)).is_ok());
        act("eve", Role::VmOperator);
        let e = check("task.cancel", std::slice::from_ref(&task)).unwrap_err();
        assert_eq!(e.code(), Some("RBAC_PERMISSION_DENIED"));
        assert!(ACTING.with(|x| x.borrow().as_ref().unwrap().denied.clone()).unwrap().contains("task.destroy/any"));
        assert!(check("task.destroy", std::slice::from_ref(&task)).is_err());
        assert!(check("task.get_record", std::slice::from_ref(&task)).is_ok());
        act("carol", Role::PoolOperator);
        assert!(check("task.cancel", std::slice::from_ref(&task)).is_ok());
        ACTING.with(|x| *x.borrow_mut() = None);
    }
}
