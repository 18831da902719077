//! `Xen_ComputerSystem`: one instance per guest VM (DSP1057 virtual system), keyed by VM uuid.
//!
//! ```text
//! Xen_ComputerSystem.CreationClassName="Xen_ComputerSystem",Name="<VM uuid>"
//! ```
//!
//! Served from the event-driven cache: templates, snapshots and control domains are not virtual
//! systems and are left out (xs-cim lists dom0 with Caption "XenServer Host"; here the host is
//! `Xen_HostComputerSystem` only). Property values follow xs-cim (`xs-cim-model.md` §2.1, §3.2,
//! §3.3) with the fixes of its §6: RequestedState is the last request while it still describes
//! the VM, else 0 Unknown ([`crate::requested_state`]), not a constant 5; Roles is an array,
//! NameFormat says "UUID".
//!
//! Which states may be requested, in two lists (CIM 2.41 keeps them apart):
//! - `Xen_ComputerSystemCapabilities.RequestedStatesSupported` is the fixed set this class
//!   supports at all, [`SUPPORTED_STATES`] = 2, 3, 4, 6, 9, 10, 11, whatever the VM's state;
//! - `AvailableRequestedStates` on the VM is the part of it RequestStateChange accepts now
//!   ([`available_requested_states`]): 2 for paused and suspended VMs too (it unpauses and
//!   resumes them), nothing the VM's `allowed_operations` forbid.
//!
//! Both properties' ValueMaps stop at 11, with no vendor range, so the xs-cim vendor values
//! 32768 (hard shutdown) and 32769 (hard reboot) are accepted by RequestStateChange (whose
//! ValueMap has the vendor range) but listed in neither.
//!
//! RequestedState 3 (Disabled) is a hard shutdown and 4 (Shut Down) a clean one. Here this
//! follows `cim-virtualization.md` §4.2 and CIM 2.41 ("Disabled" asks for an immediate stop,
//! "Shut Down" for an orderly one) rather than xs-cim, where both were a clean shutdown
//! (`xs-cim-model.md` §3.1, §6.9). An orderly shutdown needs a running guest: 4 is refused
//! (4097) for a paused or suspended VM, whose 3 stops it at once.
//!
//! `RequestStateChange(RequestedState, TimeoutPeriod)`: pause and unpause run synchronously and
//! return 0. The long operations (start, shutdown, reboot, suspend, resume) run as `Async.VM.*`
//! tasks: one that ends within [`SYNC_GRACE`] is answered at once (0, or its error's code),
//! else the method returns 4096 and OUT `Job`, a `Xen_SystemStateChangeJob` ([`xen_job`]).
//! Invalid transitions return 4097 at once rather than inside a job.

use crate::backend::{Backend, BackendRef};
use crate::cache::Tables;
use crate::util::*;
use crate::xen_job;
use cmpi_shim::abi::CMPI_RC_ERR_METHOD_NOT_FOUND;
use cmpi_shim::provider::{Context, InstanceProvider, MethodProvider, Provider};
use cmpi_shim::{Args, CimValue, CmpiError, Instance, MethodResult, ObjectPath};
use std::time::Duration;
use xenapi_client::{Call, ObjectRecord, Ref};
use xenapi_model::generated::{TaskRecord, TaskStatusType};

pub const CLASS: &str = "Xen_ComputerSystem";

/// `VM.power_state` as the providers see it: the model's [`VmPowerState`], or `Unknown` for a
/// value the model does not name (a newer server's), which CIM shows as state 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerState {
    Halted,
    Paused,
    Running,
    Suspended,
    Unknown,
}

impl PowerState {
    pub fn parse(s: &str) -> PowerState {
        match VmPowerState::from_wire(s) {
            Some(VmPowerState::Halted) => PowerState::Halted,
            Some(VmPowerState::Paused) => PowerState::Paused,
            Some(VmPowerState::Running) => PowerState::Running,
            Some(VmPowerState::Suspended) => PowerState::Suspended,
            None => PowerState::Unknown,
        }
    }

    /// The model's value, `None` for `Unknown`.
    pub fn known(self) -> Option<VmPowerState> {
        match self {
            PowerState::Halted => Some(VmPowerState::Halted),
            PowerState::Paused => Some(VmPowerState::Paused),
            PowerState::Running => Some(VmPowerState::Running),
            PowerState::Suspended => Some(VmPowerState::Suspended),
            PowerState::Unknown => None,
        }
    }

    pub fn wire_name(self) -> &'static str {
        self.known().map_or("Unknown", VmPowerState::wire_name)
    }
}

/// The state properties of one power state (xs-cim-model.md §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateProperties {
    pub enabled_state: u16,
    pub operational_status: u16,
    pub status: &'static str,
    pub health_state: u16,
}

/// EnabledState, OperationalStatus[0], Status and HealthState of a VM in `p`.
pub fn state_properties(p: PowerState) -> StateProperties {
    let (enabled_state, operational_status, status, health_state) = match p {
        PowerState::Running => (2, 2, "OK", 5),
        PowerState::Halted => (3, 15, "Stopped", 5),
        PowerState::Paused => (9, 15, "Stopped", 5),
        PowerState::Suspended => (6, 10, "Stopped", 5),
        // 0 Unknown everywhere: nothing is known about a VM in a state we cannot name.
        PowerState::Unknown => (0, 0, "No Contact", 0),
    };
    StateProperties { enabled_state, operational_status, status, health_state }
}

/// The RequestedState values RequestStateChange can be asked for (CIM 2.41's 2, 3, 4, 6, 9, 10,
/// 11 and the xs-cim vendor values 32768 hard shutdown, 32769 hard reboot).
pub const REQUESTABLE_STATES: [u16; 9] = [2, 3, 4, 6, 9, 10, 11, 32768, 32769];

/// `Xen_ComputerSystemCapabilities.RequestedStatesSupported`: the states of
/// [`REQUESTABLE_STATES`] that the property's ValueMap (2..11) can name. Fixed: which of them
/// apply now is [`available_requested_states`].
pub const SUPPORTED_STATES: [u16; 7] = [2, 3, 4, 6, 9, 10, 11];

/// `AvailableRequestedStates`: the states of [`SUPPORTED_STATES`] that RequestStateChange
/// accepts now, those whose [`plan`] in power state `power` with `VM.allowed_operations` =
/// `allowed` is an action; so what is advertised is exactly what is accepted
/// (xs-cim-model.md §6.9). Sorted.
pub fn available_requested_states(power: PowerState, allowed: &[String]) -> Vec<u16> {
    SUPPORTED_STATES.into_iter().filter(|s| plan(*s, power, allowed).is_ok()).collect()
}

/// RequestStateChange return codes (CIM_EnabledLogicalElement's ValueMap).
pub mod rc {
    pub const COMPLETED: u32 = 0;
    pub const NOT_SUPPORTED: u32 = 1;
    pub const FAILED: u32 = 4;
    pub const INVALID_PARAMETER: u32 = 5;
    pub const INVALID_STATE_TRANSITION: u32 = 4097;
    pub const TIMEOUT_NOT_SUPPORTED: u32 = 4098;
    pub const BUSY: u32 = 4099;
    pub const JOB_STARTED: u32 = 4096;
}

/// How long RequestStateChange waits for a long operation before it answers 4096 with a job.
pub const SYNC_GRACE: Duration = Duration::from_secs(1);

/// A XenAPI power operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Start,
    Unpause,
    Resume,
    CleanShutdown,
    HardShutdown,
    Suspend,
    Pause,
    CleanReboot,
    HardReboot,
}

impl Action {
    /// The XenAPI message (`VM.<message>`).
    pub fn message(self) -> &'static str {
        self.operation().wire_name()
    }

    /// The VM operation it is, as `allowed_operations` lists it.
    pub fn operation(self) -> VmOperations {
        match self {
            Action::Start => VmOperations::Start,
            Action::Unpause => VmOperations::Unpause,
            Action::Resume => VmOperations::Resume,
            Action::CleanShutdown => VmOperations::CleanShutdown,
            Action::HardShutdown => VmOperations::HardShutdown,
            Action::Suspend => VmOperations::Suspend,
            Action::Pause => VmOperations::Pause,
            Action::CleanReboot => VmOperations::CleanReboot,
            Action::HardReboot => VmOperations::HardReboot,
        }
    }

    /// The typed call of this action on `vm`: `start(vm, start_paused=false, force=false)`,
    /// `resume(vm, start_paused=false, force=false)`, the others `(vm)` alone.
    pub fn call(self, vm: &str) -> Call<()> {
        use calls::vm as v;
        match self {
            Action::Start => v::start(vm, false, false),
            Action::Unpause => v::unpause(vm),
            Action::Resume => v::resume(vm, false, false),
            Action::CleanShutdown => v::clean_shutdown(vm),
            Action::HardShutdown => v::hard_shutdown(vm),
            Action::Suspend => v::suspend(vm),
            Action::Pause => v::pause(vm),
            Action::CleanReboot => v::clean_reboot(vm),
            Action::HardReboot => v::hard_reboot(vm),
        }
    }

    /// The same as `Async.VM.<message>`: answers the task that runs it.
    pub fn async_call(self, vm: &str) -> Call<Ref<TaskRecord>> {
        use calls::vm as v;
        match self {
            Action::Start => v::async_start(vm, false, false),
            Action::Unpause => v::async_unpause(vm),
            Action::Resume => v::async_resume(vm, false, false),
            Action::CleanShutdown => v::async_clean_shutdown(vm),
            Action::HardShutdown => v::async_hard_shutdown(vm),
            Action::Suspend => v::async_suspend(vm),
            Action::Pause => v::async_pause(vm),
            Action::CleanReboot => v::async_clean_reboot(vm),
            Action::HardReboot => v::async_hard_reboot(vm),
        }
    }

    /// True for the operations that may take long (the guest's or the disk's time): they run
    /// as `Async.VM.*` tasks, reported as `Xen_SystemStateChangeJob`s.
    pub fn is_long(self) -> bool {
        !matches!(self, Action::Pause | Action::Unpause)
    }

    /// The power state the VM is in once the call returned.
    pub fn result_state(self) -> PowerState {
        match self {
            Action::Start | Action::Unpause | Action::Resume | Action::CleanReboot | Action::HardReboot => PowerState::Running,
            Action::CleanShutdown | Action::HardShutdown => PowerState::Halted,
            Action::Suspend => PowerState::Suspended,
            Action::Pause => PowerState::Paused,
        }
    }
}

/// What RequestStateChange(`requested`) does to a VM in `current` whose `allowed_operations`
/// are `allowed` (xs-cim-model.md §3.1, with 3 a hard and 4 a clean shutdown as in the module
/// doc): `Ok(action)` to call, `Err(return code)` otherwise. The power state picks the XenAPI
/// call; the call must be among the VM's
/// `allowed_operations` (the server's own lifecycle rules: a hard reboot of a suspended VM, an
/// operation blocked by the user or one that conflicts with another in progress are refused
/// with 4097 before any XenAPI call). 7 Test, 8 Defer and 12 Not Applicable are CIM states
/// this implementation does not offer (1 Not Supported); numbers outside the method's ValueMap,
/// 5 (No Change, a value of the RequestedState property only) among them, are 5 (Invalid
/// Parameter).
pub fn plan(requested: u16, current: PowerState, allowed: &[String]) -> Result<Action, u32> {
    use PowerState::*;
    let action = match (requested, current) {
        (2, Halted) => Action::Start,
        (2, Paused) => Action::Unpause,
        (2, Suspended) => Action::Resume,
        (3, Running | Paused | Suspended) => Action::HardShutdown,
        (4, Running) => Action::CleanShutdown,
        (6, Running) => Action::Suspend,
        (9, Running) => Action::Pause,
        (10, Running) => Action::CleanReboot,
        (11 | 32769, _) => Action::HardReboot,
        (32768, _) => Action::HardShutdown,
        (2 | 3 | 4 | 6 | 9 | 10, _) => return Err(rc::INVALID_STATE_TRANSITION),
        (7 | 8 | 12, _) => return Err(rc::NOT_SUPPORTED),
        _ => return Err(rc::INVALID_PARAMETER),
    };
    if !allowed.iter().any(|op| VmOperations::from_wire(op) == Some(action.operation())) {
        return Err(rc::INVALID_STATE_TRANSITION);
    }
    Ok(action)
}

/// The return code for a XenAPI error of a power operation.
pub fn return_code_for(xen_error_code: &str) -> u32 {
    match xen_error_code {
        "VM_BAD_POWER_STATE" | "OPERATION_NOT_ALLOWED" | "VM_IS_TEMPLATE" => rc::INVALID_STATE_TRANSITION,
        "OTHER_OPERATION_IN_PROGRESS" => rc::BUSY,
        _ => rc::FAILED,
    }
}

/// The RequestedState argument: any integer type, or a string of digits (as xs-cim accepts).
pub fn requested_state_arg(args: &Args) -> Result<u16, CmpiError> {
    let v = args.iter().find(|(k, _)| k.eq_ignore_ascii_case("RequestedState")).map(|(_, v)| v);
    let n: Option<i64> = match v {
        Some(CimValue::Uint16(x)) => Some(*x as i64),
        Some(CimValue::Uint8(x)) => Some(*x as i64),
        Some(CimValue::Uint32(x)) => Some(*x as i64),
        Some(CimValue::Uint64(x)) => i64::try_from(*x).ok(),
        Some(CimValue::Sint8(x)) => Some(*x as i64),
        Some(CimValue::Sint16(x)) => Some(*x as i64),
        Some(CimValue::Sint32(x)) => Some(*x as i64),
        Some(CimValue::Sint64(x)) => Some(*x),
        Some(CimValue::String(s)) => s.trim().parse().ok(),
        None | Some(CimValue::Null { .. }) => return Err(CmpiError::invalid_parameter("RequestedState is required")),
        Some(_) => None,
    };
    n.and_then(|n| u16::try_from(n).ok()).ok_or_else(|| CmpiError::invalid_parameter(format!("RequestedState {v:?} is not a uint16")))
}

/// True when TimeoutPeriod asks for a time limit (not absent, NULL or a zero interval): this
/// implementation runs the call to its end, so it answers 4098.
pub fn timeout_requested(args: &Args) -> bool {
    match args.iter().find(|(k, _)| k.eq_ignore_ascii_case("TimeoutPeriod")).map(|(_, v)| v) {
        None | Some(CimValue::Null { .. }) => false,
        Some(CimValue::DateTime(d)) => !(d.is_interval() && d.micros() == 0),
        Some(_) => true,
    }
}

/// True for the VMs this class serves: not a template, a snapshot or a control domain.
pub fn is_virtual_system(vm: &ObjectRecord) -> bool {
    !vm.bool("is_a_template").unwrap_or(false) && !vm.bool("is_a_snapshot").unwrap_or(false) && !vm.bool("is_control_domain").unwrap_or(false)
}

pub fn path(ns: &str, uuid: &str) -> ObjectPath {
    ObjectPath::new(ns, CLASS).with_key("CreationClassName", CLASS).with_key("Name", uuid)
}

/// The host a VM belongs to: the one it is resident on; else, for a VM that is not running, the
/// one it would start on — its affinity host, else the only host, else the pool master (where
/// XenAPI places a VM with no affinity). DSP1042/DSP1057 host every virtual system, defined
/// or active, so this is the host of Xen_HostedComputerSystem, of `Host`, and the host whose
/// processor and memory pools a VM's RASDs allocate from. None only when the cache has no
/// such host.
pub fn vm_host<'t>(t: &'t Tables, vm: &ObjectRecord) -> Option<(&'t String, &'t ObjectRecord)> {
    if let Some(e) = ["resident_on", "affinity"].into_iter().find_map(|f| t.entry("host", vm.str(f))) {
        return Some(e);
    }
    let mut hosts = t.iter("host");
    if let (Some(only), None) = (hosts.next(), hosts.next()) {
        return Some(only);
    }
    t.iter("pool").find_map(|(_, p)| t.entry("host", p.str("master")))
}

/// `VM_guest_metrics.os_version` keys and their labels (xs-cim order).
const OS_VERSION_KEYS: [(&str, &str); 5] =
    [("name", "OS Name"), ("uname", "OS UName"), ("major", "Major Version"), ("minor", "Minor Version"), ("distro", "OS Distribution")];

/// The instance of `vm`; `tables` gives its metrics and host.
/// `requested_state` is its RequestedState ([`Backend::requested_state`]).
pub fn instance(ns: &str, vm: &ObjectRecord, tables: &Tables, requested_state: u16) -> Instance {
    let uuid = vm.str("uuid");
    let power = PowerState::parse(vm.str("power_state"));
    let st = state_properties(power);
    let mut i = Instance::new(path(ns, uuid))
        .with("CreationClassName", CLASS)
        .with("Name", uuid)
        .with("NameFormat", "UUID")
        .with("InstanceID", system_instance_id(uuid))
        .with("Caption", "Xen Virtual Machine")
        .with("ElementName", vm.str("name_label"))
        .with("Description", vm.str("name_description"))
        .with("EnabledState", CimValue::Uint16(st.enabled_state))
        .with("OperationalStatus", u16_array(&[st.operational_status]))
        .with("Status", st.status)
        .with("HealthState", CimValue::Uint16(st.health_state))
        .with("EnabledDefault", CimValue::Uint16(2))
        .with("RequestedState", CimValue::Uint16(requested_state))
        // Empty, not NULL, when nothing is possible now: NULL would mean "cannot tell".
        .with("AvailableRequestedStates", u16_array(&available_requested_states(power, &string_set(vm, "allowed_operations"))));
    if let Some((_, h)) = vm_host(tables, vm) {
        i.set("Host", h.str("uuid"));
    }
    if let Some(m) = tables.deref("vm_metrics", vm, "metrics") {
        if let Some(d) = datetime(m.get("install_time")) {
            i.set("InstallDate", d);
        }
        if let Some(d) = datetime(m.get("last_updated")) {
            i.set("TimeOfLastStateChange", d);
        }
    }
    if let Some(g) = tables.deref("vm_guest_metrics", vm, "guest_metrics") {
        let (mut info, mut labels) = (Vec::new(), Vec::new());
        for (key, label) in OS_VERSION_KEYS {
            if let Some(v) = map_get(g, "os_version", key) {
                info.push(v.to_string());
                labels.push(label);
            }
        }
        if !info.is_empty() {
            i.set("OtherIdentifyingInfo", string_array(&info));
            i.set("IdentifyingDescriptions", string_array(&labels));
        }
    }
    if let Some(v) = map_get(vm, "other_config", "owner") {
        i.set("PrimaryOwnerName", v);
    }
    if let Some(v) = map_get(vm, "other_config", "owner_contact") {
        i.set("PrimaryOwnerContact", v);
    }
    if let Some(v) = map_get(vm, "other_config", "roles") {
        i.set("Roles", string_array(&[v]));
    }
    i
}

/// The provider object (one per MI the broker creates).
pub struct ComputerSystemProvider {
    backend: BackendRef,
}

impl ComputerSystemProvider {
    pub fn new() -> ComputerSystemProvider {
        ComputerSystemProvider { backend: BackendRef::acquire() }
    }

    fn backend(&self) -> Result<std::sync::Arc<Backend>, CmpiError> {
        self.backend.get().map_err(CmpiError::failed)
    }

    /// The VM (ref, record) a path names, or CIM_ERR_NOT_FOUND.
    fn find(b: &Backend, op: &ObjectPath) -> Result<(std::sync::Arc<Tables>, String), CmpiError> {
        check_creation_class(op, CLASS)?;
        let uuid = string_key(op, "Name")?;
        let tables = b.tables().map_err(CmpiError::failed)?;
        let r = match tables.by_uuid("vm", &uuid) {
            Some((r, vm)) if is_virtual_system(vm) => r.clone(),
            _ => return Err(CmpiError::not_found(format!("no {CLASS} with Name {uuid:?}"))),
        };
        Ok((tables, r))
    }

    fn request_state_change(&self, op: &ObjectPath, args: &Args) -> Result<MethodResult, CmpiError> {
        let done = |code: u32| Ok(MethodResult { return_value: Some(CimValue::Uint32(code)), out_args: vec![] });
        let requested = requested_state_arg(args)?;
        let b = self.backend()?;
        let (tables, vm_ref) = Self::find(&b, op)?;
        let vm = tables.get("vm", &vm_ref).expect("found above");
        let uuid = vm.str("uuid").to_string();
        if timeout_requested(args) {
            return done(rc::TIMEOUT_NOT_SUPPORTED);
        }
        let origin = PowerState::parse(vm.str("power_state"));
        let action = match plan(requested, origin, &string_set(vm, "allowed_operations")) {
            Ok(a) => a,
            Err(code) => return done(code),
        };
        if action.is_long() {
            return self.run_as_job(&b, op, &vm_ref, &uuid, (requested, origin), action);
        }
        match b.run(action.call(&vm_ref)) {
            Ok(_) => {}
            Err(e) => match e.code() {
                Some("HANDLE_INVALID") => return Err(CmpiError::not_found(format!("VM {uuid} is gone: {e}"))),
                Some(code) => return done(return_code_for(code)),
                None => return Err(CmpiError::failed(e.to_string())),
            },
        }
        b.request_done(&uuid, requested, origin, action.result_state());
        Self::await_state(&b, &vm_ref, action);
        done(rc::COMPLETED)
    }

    /// Read-your-writes: the next enumeration shows the new state once the cache has it.
    fn await_state(b: &Backend, vm_ref: &str, action: Action) {
        let want = action.result_state();
        b.cache.wait_until(Duration::from_secs(5), |t| t.get("vm", vm_ref).map(|v| PowerState::parse(v.str("power_state")) == want).unwrap_or(true));
    }

    /// Runs `Async.VM.<action>` as a `Xen_SystemStateChangeJob`. A task that ends within
    /// [`SYNC_GRACE`] is answered at once (0, or the return code of its error) and removed;
    /// otherwise 4096 with OUT Job naming it. `request` is the RequestedState asked for and the
    /// power state the VM was in.
    #[allow(clippy::too_many_arguments)]
    fn run_as_job(&self, b: &Backend, op: &ObjectPath, vm_ref: &str, uuid: &str, request: (u16, PowerState), action: Action) -> Result<MethodResult, CmpiError> {
        let (requested, origin) = request;
        let done = |code: u32, out_args: Args| Ok(MethodResult { return_value: Some(CimValue::Uint32(code)), out_args });
        let task = match b.run(action.async_call(vm_ref)) {
            Ok(t) => t.into_string(),
            Err(e) => match e.code() {
                Some("HANDLE_INVALID") => return Err(CmpiError::not_found(format!("VM {uuid} is gone: {e}"))),
                Some(code) => return done(return_code_for(code), vec![]),
                None => return Err(CmpiError::failed(e.to_string())),
            },
        };
        let fail = |e: crate::xenapi_conn::XenError| CmpiError::failed(e.to_string());
        xen_job::tag_task(b, &task, xen_job::STATE_CHANGE_JOB, uuid).map_err(fail)?;
        let rec = xen_job::wait_task(b, &task, SYNC_GRACE).map_err(fail)?;
        let status = rec.str("status").to_string();
        if !xen_job::is_finished(&status) {
            b.request_running(uuid, requested, origin, action.result_state(), &task);
            let job = xen_job::path(&namespace_of(op), xen_job::STATE_CHANGE_JOB, rec.str("uuid"));
            return done(rc::JOB_STARTED, vec![("Job".to_string(), CimValue::Reference(job))]);
        }
        // Answered synchronously: no job reference was handed out, so the task goes.
        let errors = string_set(&rec, "error_info");
        let _ = b.run(calls::task::destroy(&task));
        match TaskStatusType::from_wire(&status) {
            Some(TaskStatusType::Success) => {
                b.request_done(uuid, requested, origin, action.result_state());
                Self::await_state(b, vm_ref, action);
                done(rc::COMPLETED, vec![])
            }
            _ => match errors.first().map(String::as_str) {
                Some("HANDLE_INVALID") => Err(CmpiError::not_found(format!("VM {uuid} is gone: XenError:{}", errors.join(":")))),
                code => done(return_code_for(code.unwrap_or("")), vec![]),
            },
        }
    }
}

impl Default for ComputerSystemProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl Provider for ComputerSystemProvider {
    fn instance(&self) -> Option<&dyn InstanceProvider> {
        Some(self)
    }
    fn method(&self) -> Option<&dyn MethodProvider> {
        Some(self)
    }
}

impl InstanceProvider for ComputerSystemProvider {
    fn enumerate_instances(&self, _ctx: &Context, op: &ObjectPath, _properties: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        let b = self.backend()?;
        let tables = b.tables().map_err(CmpiError::failed)?;
        let ns = namespace_of(op);
        let mut vms: Vec<&ObjectRecord> = tables.iter("vm").map(|(_, vm)| vm).filter(|vm| is_virtual_system(vm)).collect();
        vms.sort_unstable_by_key(|vm| vm.str("uuid"));
        Ok(vms.into_iter().map(|vm| instance(&ns, vm, &tables, b.requested_state(vm))).collect())
    }

    fn enumerate_instance_names(&self, _ctx: &Context, op: &ObjectPath) -> Result<Vec<ObjectPath>, CmpiError> {
        let b = self.backend()?;
        let tables = b.tables().map_err(CmpiError::failed)?;
        let ns = namespace_of(op);
        let mut uuids: Vec<&str> = tables.iter("vm").filter(|(_, vm)| is_virtual_system(vm)).map(|(_, vm)| vm.str("uuid")).collect();
        uuids.sort_unstable();
        Ok(uuids.into_iter().map(|u| path(&ns, u)).collect())
    }

    fn get_instance(&self, _ctx: &Context, op: &ObjectPath, _properties: Option<&[String]>) -> Result<Instance, CmpiError> {
        let b = self.backend()?;
        let (tables, r) = Self::find(&b, op)?;
        let vm = tables.get("vm", &r).expect("found above");
        Ok(instance(&namespace_of(op), vm, &tables, b.requested_state(vm)))
    }
}

impl MethodProvider for ComputerSystemProvider {
    fn invoke_method(&self, ctx: &Context, op: &ObjectPath, method: &str, in_args: &Args) -> Result<MethodResult, CmpiError> {
        if !method.eq_ignore_ascii_case("RequestStateChange") {
            return Err(CmpiError::new(CMPI_RC_ERR_METHOD_NOT_FOUND, format!("{CLASS} has no method {method}")));
        }
        let b = self.backend.get().map_err(CmpiError::failed)?;
        crate::access::acting_for(ctx, b.conn.config(), || self.request_state_change(op, in_args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xenapi_model::Value;
    use crate::util::test_records::{rec, s};
    use cmpi_shim::{CimDateTime, CimType};
    use xenapi_client::Wire;

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn power_states_map_to_enabled_state_and_operational_status() {
        let got: Vec<(u16, u16, &str)> = ["Running", "Halted", "Paused", "Suspended", "Crashed"]
            .iter()
            .map(|p| state_properties(PowerState::parse(p)))
            .map(|s| (s.enabled_state, s.operational_status, s.status))
            .collect();
        assert_eq!(got, vec![(2, 2, "OK"), (3, 15, "Stopped"), (9, 15, "Stopped"), (6, 10, "Stopped"), (0, 0, "No Contact")]);
        assert_eq!(state_properties(PowerState::Running).health_state, 5);
        assert_eq!(state_properties(PowerState::Unknown).health_state, 0);
    }

    /// The operations the server allows in each power state (xenapi-core's lifecycle table).
    fn allowed_in(p: PowerState) -> Vec<String> {
        strs(match p {
            PowerState::Halted => &["start", "destroy", "clone"],
            PowerState::Running => &["clean_shutdown", "hard_shutdown", "pause", "suspend", "clean_reboot", "hard_reboot"],
            PowerState::Paused => &["unpause", "hard_shutdown", "hard_reboot"],
            PowerState::Suspended => &["resume", "hard_shutdown", "destroy"],
            PowerState::Unknown => &[],
        })
    }

    #[test]
    fn available_states_are_exactly_the_accepted_ones_of_the_supported_set() {
        use PowerState::*;
        let got = |p| available_requested_states(p, &allowed_in(p));
        assert_eq!(got(Halted), vec![2]);
        assert_eq!(got(Running), vec![3, 4, 6, 9, 10, 11]);
        // A paused or suspended VM offers 2 through unpause / resume (xs-cim did not), and 3
        // (hard shutdown) but not 4: a guest that does not run cannot shut down in order.
        assert_eq!(got(Paused), vec![2, 3, 11]);
        assert_eq!(got(Suspended), vec![2, 3], "no hard reboot of a suspended VM");
        assert!(got(Unknown).is_empty());
        for p in [Halted, Running, Paused, Suspended, Unknown] {
            for s in 0..=u16::MAX {
                let accepted = plan(s, p, &allowed_in(p)).is_ok();
                if SUPPORTED_STATES.contains(&s) {
                    assert_eq!(accepted, got(p).contains(&s), "{p:?} {s}");
                } else {
                    // Only the vendor values are accepted beyond the advertised set.
                    assert!(!accepted || s == 32768 || s == 32769, "{p:?} {s}");
                }
            }
        }
        // An operation the server does not allow now (blocked, in progress) is neither.
        assert_eq!(available_requested_states(Running, &strs(&["hard_shutdown"])), vec![3]);
        assert_eq!(plan(4, Running, &strs(&["hard_shutdown"])), Err(rc::INVALID_STATE_TRANSITION));
        // The lists stay within the ValueMaps of AvailableRequestedStates and
        // RequestedStatesSupported (2..11).
        assert!(SUPPORTED_STATES.iter().all(|s| (2..=11).contains(s) && REQUESTABLE_STATES.contains(s)));
    }

    #[test]
    fn plan_follows_the_xs_cim_table_with_3_a_hard_and_4_a_clean_shutdown() {
        use PowerState::*;
        let plan = |s, p| plan(s, p, &allowed_in(p));
        assert_eq!(plan(2, Halted), Ok(Action::Start));
        assert_eq!(plan(2, Paused), Ok(Action::Unpause));
        assert_eq!(plan(2, Suspended), Ok(Action::Resume));
        assert_eq!(plan(2, Running), Err(rc::INVALID_STATE_TRANSITION));
        for p in [Running, Paused, Suspended] {
            assert_eq!(plan(3, p), Ok(Action::HardShutdown), "{p:?}: Disabled is immediate");
        }
        assert_eq!(plan(3, Halted), Err(rc::INVALID_STATE_TRANSITION));
        assert_eq!(plan(4, Running), Ok(Action::CleanShutdown));
        for p in [Paused, Suspended, Halted] {
            assert_eq!(plan(4, p), Err(rc::INVALID_STATE_TRANSITION), "{p:?}: no orderly shutdown");
        }
        assert_eq!(plan(6, Running), Ok(Action::Suspend));
        assert_eq!(plan(6, Paused), Err(rc::INVALID_STATE_TRANSITION));
        assert_eq!(plan(9, Running), Ok(Action::Pause));
        assert_eq!(plan(9, Halted), Err(rc::INVALID_STATE_TRANSITION));
        assert_eq!(plan(10, Running), Ok(Action::CleanReboot));
        assert_eq!(plan(10, Suspended), Err(rc::INVALID_STATE_TRANSITION));
        assert_eq!(plan(11, Halted), Err(rc::INVALID_STATE_TRANSITION), "hard_reboot is not allowed when halted");
        assert_eq!(plan(11, Paused), Ok(Action::HardReboot));
        assert_eq!(plan(32769, Running), Ok(Action::HardReboot));
        assert_eq!(plan(32768, Paused), Ok(Action::HardShutdown));
        assert_eq!(plan(32768, Halted), Err(rc::INVALID_STATE_TRANSITION));
        assert_eq!(plan(2, Unknown), Err(rc::INVALID_STATE_TRANSITION));
        for s in [7, 8, 12] {
            assert_eq!(plan(s, Running), Err(rc::NOT_SUPPORTED));
        }
        for s in [0, 1, 5, 13, 100, 32770] {
            assert_eq!(plan(s, Running), Err(rc::INVALID_PARAMETER), "{s}");
        }
    }

    #[test]
    fn actions_name_their_xenapi_call_and_outcome() {
        assert_eq!(Action::Start.message(), "start");
        assert_eq!(Action::Start.call("OpaqueRef:v").method(), "VM.start");
        assert_eq!(Action::Start.call("OpaqueRef:v").args(), &[Value::str("OpaqueRef:v"), Value::Bool(false), Value::Bool(false)]);
        assert_eq!(Action::Resume.call("r").args().len(), 3);
        assert_eq!(Action::CleanShutdown.call("r").args(), &[Value::str("r")]);
        assert_eq!(Action::HardReboot.async_call("r").method(), "Async.VM.hard_reboot");
        assert!(Action::Start.is_long() && Action::CleanReboot.is_long() && Action::Suspend.is_long());
        assert!(!Action::Pause.is_long() && !Action::Unpause.is_long());
        assert_eq!(Action::CleanShutdown.result_state(), PowerState::Halted);
        assert_eq!(Action::Suspend.result_state(), PowerState::Suspended);
        assert_eq!(Action::HardReboot.result_state(), PowerState::Running);
    }

    #[test]
    fn xenapi_errors_become_return_codes() {
        assert_eq!(return_code_for("VM_BAD_POWER_STATE"), 4097);
        assert_eq!(return_code_for("OTHER_OPERATION_IN_PROGRESS"), 4099);
        assert_eq!(return_code_for("INTERNAL_ERROR"), 4);
    }

    #[test]
    fn requested_state_argument_accepts_integers_and_digit_strings() {
        let a = |v: CimValue| vec![("RequestedState".to_string(), v)];
        assert_eq!(requested_state_arg(&a(CimValue::Uint16(3))), Ok(3));
        assert_eq!(requested_state_arg(&a(CimValue::Uint32(32768))), Ok(32768));
        assert_eq!(requested_state_arg(&a(CimValue::String(" 4 ".into()))), Ok(4));
        assert_eq!(requested_state_arg(&vec![("requestedstate".to_string(), CimValue::Sint64(2))]), Ok(2));
        for bad in [CimValue::Uint32(70000), CimValue::Sint16(-1), CimValue::String("on".into()), CimValue::Boolean(true), CimValue::Null { ty: CimType::Uint16, array: false }] {
            assert_eq!(requested_state_arg(&a(bad)).unwrap_err().rc_name(), "CIM_ERR_INVALID_PARAMETER");
        }
        assert!(requested_state_arg(&vec![]).is_err());
    }

    #[test]
    fn only_a_real_timeout_is_refused() {
        let a = |v: CimValue| vec![("TimeoutPeriod".to_string(), v)];
        assert!(!timeout_requested(&vec![]));
        assert!(!timeout_requested(&a(CimValue::Null { ty: CimType::DateTime, array: false })));
        assert!(!timeout_requested(&a(CimValue::DateTime(CimDateTime::interval(0)))));
        assert!(timeout_requested(&a(CimValue::DateTime(CimDateTime::interval(5_000_000)))));
    }

    #[test]
    fn templates_snapshots_and_control_domains_are_not_virtual_systems() {
        let vm = |t: bool, s: bool, d: bool| {
            rec("VM", vec![("is_a_template", Wire::Bool(t)), ("is_a_snapshot", Wire::Bool(s)), ("is_control_domain", Wire::Bool(d))])
        };
        assert!(is_virtual_system(&vm(false, false, false)));
        assert!(!is_virtual_system(&vm(true, false, false)));
        assert!(!is_virtual_system(&vm(false, true, false)));
        assert!(!is_virtual_system(&vm(false, false, true)));
    }

    #[test]
    fn instance_has_keys_states_host_metrics_and_owner() {
        let mut t = Tables::default();
        t.insert("host", "H1", rec("host", vec![("uuid", s("host-uuid"))]));
        t.insert("vm_metrics", "M1", rec("VM_metrics", vec![("install_time", Wire::DateTime("20240102T03:04:05Z".into())), ("last_updated", Wire::DateTime("19700101T00:00:00Z".into()))]));
        t.insert("vm_guest_metrics", "G1", rec("VM_guest_metrics", vec![("os_version", Wire::Struct(vec![("name".into(), s("Debian")), ("major".into(), s("12"))]))]));
        let vm = rec(
            "VM",
            vec![
                ("uuid", s("vm-uuid")),
                ("name_label", s("web")),
                ("name_description", s("front end")),
                ("power_state", s("Running")),
                ("allowed_operations", Wire::Array(vec![s("clean_shutdown"), s("hard_shutdown")])),
                ("resident_on", s("H1")),
                ("metrics", s("M1")),
                ("guest_metrics", s("G1")),
                ("other_config", Wire::Struct(vec![("owner".into(), s("ann")), ("roles".into(), s("web"))])),
            ],
        );
        let i = instance("root/cimv2", &vm, &t, 0);
        assert_eq!(i.path, path("root/cimv2", "vm-uuid"));
        assert_eq!(i.get("Name"), Some(&CimValue::from("vm-uuid")));
        assert_eq!(i.get("InstanceID"), Some(&CimValue::from("Xen:vm-uuid")));
        assert_eq!(i.get("ElementName"), Some(&CimValue::from("web")));
        assert_eq!(i.get("Description"), Some(&CimValue::from("front end")));
        assert_eq!(i.get("EnabledState"), Some(&CimValue::Uint16(2)));
        assert_eq!(i.get("RequestedState"), Some(&CimValue::Uint16(0)), "nothing requested: Unknown");
        assert_eq!(i.get("OperationalStatus"), Some(&u16_array(&[2])));
        assert_eq!(i.get("AvailableRequestedStates"), Some(&u16_array(&[3, 4])), "32768 is accepted, not listed");
        assert_eq!(i.get("Host"), Some(&CimValue::from("host-uuid")));
        assert_eq!(i.get("InstallDate"), Some(&CimValue::DateTime(CimDateTime::parse("20240102030405.000000+000").unwrap())));
        assert_eq!(i.get("TimeOfLastStateChange"), None, "the epoch means never");
        assert_eq!(i.get("OtherIdentifyingInfo"), Some(&string_array(&["Debian", "12"])));
        assert_eq!(i.get("IdentifyingDescriptions"), Some(&string_array(&["OS Name", "Major Version"])));
        assert_eq!(i.get("PrimaryOwnerName"), Some(&CimValue::from("ann")));
        assert_eq!(i.get("Roles"), Some(&string_array(&["web"])));
        assert_eq!(i.get("PrimaryOwnerContact"), None);
        let halted = rec("VM", vec![("uuid", s("u2")), ("power_state", s("Halted")), ("resident_on", s("OpaqueRef:NULL"))]);
        let i = instance("root/cimv2", &halted, &t, 3);
        assert_eq!(i.get("EnabledState"), Some(&CimValue::Uint16(3)));
        assert_eq!(i.get("RequestedState"), Some(&CimValue::Uint16(3)));
        assert_eq!(i.get("Host"), Some(&CimValue::from("host-uuid")), "a halted VM belongs to the only host");
        assert_eq!(i.get("AvailableRequestedStates"), Some(&u16_array(&[])), "no start allowed: nothing, rather than unknown");
    }

    #[test]
    fn vm_host_is_the_resident_host_else_affinity_else_the_pool_master() {
        let mut t = Tables::default();
        t.insert("host", "H1", rec("host", vec![("uuid", s("h1"))]));
        t.insert("host", "H2", rec("host", vec![("uuid", s("h2"))]));
        let vm = |res: &str, aff: &str| rec("VM", vec![("uuid", s("v")), ("resident_on", s(res)), ("affinity", s(aff))]);
        let host_of = |t: &Tables, v: &ObjectRecord| vm_host(t, v).map(|(_, h)| h.str("uuid").to_string());
        assert_eq!(host_of(&t, &vm("H2", "H1")).as_deref(), Some("h2"), "resident_on first");
        assert_eq!(host_of(&t, &vm("OpaqueRef:NULL", "H1")).as_deref(), Some("h1"), "then affinity");
        assert_eq!(host_of(&t, &vm("OpaqueRef:NULL", "OpaqueRef:NULL")), None, "two hosts and no pool: no way to choose");
        t.insert("pool", "P", rec("pool", vec![("uuid", s("p")), ("master", s("H2"))]));
        assert_eq!(host_of(&t, &vm("OpaqueRef:NULL", "OpaqueRef:NULL")).as_deref(), Some("h2"), "then the pool master");
        assert_eq!(host_of(&t, &vm("OpaqueRef:NULL", "OpaqueRef:gone")).as_deref(), Some("h2"), "a dangling affinity is ignored");
    }
}
