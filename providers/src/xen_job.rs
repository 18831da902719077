//! `Xen_Job` family (CIM_ConcreteJob): one instance per XenAPI task that a CIM method started,
//! keyed by the task uuid.
//!
//! ```text
//! Xen_SystemStateChangeJob.InstanceID="Xen:<task uuid>"
//! ```
//!
//! The work is a real `Async.*` XenAPI call (not xs-cim's bookkeeping task, §6.4): JobState
//! follows `task.status`, PercentComplete `task.progress`, ErrorCode / ErrorDescription
//! `task.error_info`. The task records which CIM class it belongs to in its `other_config`
//! ([`JOB_CLASS_KEY`]), so tasks other XenAPI clients start are not jobs.
//!
//! Methods: `KillJob(DeleteOnKill)` → `task.cancel` (and `task.destroy` when asked);
//! `RequestStateChange(RequestedState)` with 4 Terminate or 5 Kill → `task.cancel` (other states
//! are 1 Not Supported; a finished task is 4097); `GetError` → the task's error as an embedded
//! `CIM_Error`.

use crate::backend::{Backend, BackendRef};
use crate::util::*;
use crate::xenapi_conn::XenError;
use cmpi_shim::abi::CMPI_RC_ERR_METHOD_NOT_FOUND;
use cmpi_shim::provider::{Context, InstanceProvider, MethodProvider, Provider};
use cmpi_shim::{Args, CimDateTime, CimValue, CmpiError, Instance, MethodResult, ObjectPath};
use std::time::{Duration, Instant};
use xenapi_client::typed::{object_record, object_records};
use xenapi_client::ObjectRecord;
use xenapi_model::generated::TaskRecord;
use xenapi_model::generated::TaskStatusType::{self, *};
use xenapi_model::model::model;
use xenapi_client::Wire;
use xenapi_model::Value;

/// Jobs started by `Xen_ComputerSystem.RequestStateChange`.
pub const STATE_CHANGE_JOB: &str = "Xen_SystemStateChangeJob";

/// `task.other_config` key naming the CIM job class of a task.
pub const JOB_CLASS_KEY: &str = "xencim_job_class";
/// `task.other_config` key holding the uuid of the VM the job acts on.
pub const JOB_VM_KEY: &str = "xencim_vm";

/// CIM_ConcreteJob.JobState values.
pub mod job_state {
    pub const RUNNING: u16 = 4;
    pub const SHUTTING_DOWN: u16 = 6;
    pub const COMPLETED: u16 = 7;
    pub const TERMINATED: u16 = 8;
    pub const EXCEPTION: u16 = 10;
}

/// JobState of a task in `status`.
pub fn job_state(status: &str) -> u16 {
    match TaskStatusType::from_wire(status) {
        Some(Success) => job_state::COMPLETED,
        Some(Failure) => job_state::EXCEPTION,
        Some(Cancelled) => job_state::TERMINATED,
        Some(Cancelling) => job_state::SHUTTING_DOWN,
        Some(Pending) | None => job_state::RUNNING,
    }
}

/// True when the task has ended (whatever the outcome).
pub fn is_finished(status: &str) -> bool {
    matches!(TaskStatusType::from_wire(status), Some(Success | Failure | Cancelled))
}

/// OperationalStatus of a job (CIM_ConcreteJob's usage: OK/Dormant, Completed, Error, Stopped).
pub fn operational_status(status: &str) -> Vec<u16> {
    match TaskStatusType::from_wire(status) {
        Some(Success) => vec![2, 17],
        Some(Failure) => vec![6, 17],
        Some(Cancelled) => vec![10, 17],
        _ => vec![2],
    }
}

/// PercentComplete from `task.progress` (0.0–1.0).
pub fn percent_complete(progress: f64) -> u16 {
    (progress.clamp(0.0, 1.0) * 100.0).round() as u16
}

/// The method return code a failed task stands for (RequestStateChange's vocabulary: 4097
/// Invalid State Transition, 4099 Busy, else 4 Failed); 0 when it did not fail.
pub fn error_code(status: &str, error_info: &[String]) -> u16 {
    match TaskStatusType::from_wire(status) {
        Some(Failure) => crate::xen_computer_system::return_code_for(error_info.first().map(String::as_str).unwrap_or("")) as u16,
        Some(Cancelled) => 4,
        _ => 0,
    }
}

/// The `XenError:<code>:<param>...` text of an error_info.
pub fn error_description(error_info: &[String]) -> Option<String> {
    (!error_info.is_empty()).then(|| format!("XenError:{}", error_info.join(":")))
}

pub fn instance_id(task_uuid: &str) -> String {
    system_instance_id(task_uuid)
}

pub fn path(ns: &str, class: &str, task_uuid: &str) -> ObjectPath {
    ObjectPath::new(ns, class).with_key("InstanceID", instance_id(task_uuid))
}

/// The task uuid of a job path (`Xen:<uuid>`), or CIM_ERR_NOT_FOUND.
fn task_uuid_of(op: &ObjectPath) -> Result<String, CmpiError> {
    let id = string_key(op, "InstanceID")?;
    id.strip_prefix("Xen:").map(str::to_string).ok_or_else(|| CmpiError::not_found(format!("no {} with InstanceID {id:?}", op.classname)))
}

/// The instance of `task` as a job of `class`; `now` (Unix seconds) gives the elapsed time of
/// a running task.
pub fn instance(ns: &str, class: &str, task: &ObjectRecord, now: i64) -> Instance {
    let uuid = task.str("uuid");
    let status = task.str("status");
    let errors = string_set(task, "error_info");
    let progress = match task.get("progress") {
        Some(Value::Float(f)) => *f,
        _ => 0.0,
    };
    let mut i = Instance::new(path(ns, class, uuid))
        .with("InstanceID", instance_id(uuid))
        .with("Name", class)
        .with("Caption", "Xen Task")
        .with("ElementName", task.str("name_label"))
        .with("JobStatus", status)
        .with("JobState", CimValue::Uint16(job_state(status)))
        .with("OperationalStatus", u16_array(&operational_status(status)))
        .with("PercentComplete", CimValue::Uint16(percent_complete(progress)))
        .with("ErrorCode", CimValue::Uint16(error_code(status, &errors)))
        .with("DeleteOnCompletion", false);
    if let Some(vm) = map_get(task, "other_config", JOB_VM_KEY) {
        i.set("Description", format!("{} of VM {vm}", task.str("name_label")));
    }
    if let Some(d) = error_description(&errors) {
        i.set("ErrorDescription", d);
    }
    let created = match task.get("created") {
        Some(Value::DateTime(s)) => *s,
        _ => 0,
    };
    let finished = match task.get("finished") {
        Some(Value::DateTime(s)) if is_finished(status) && *s > 0 => Some(*s),
        _ => None,
    };
    if let Some(d) = datetime(task.get("created")) {
        i.set("TimeSubmitted", d.clone());
        i.set("StartTime", d);
        let end = finished.unwrap_or(now);
        i.set("ElapsedTime", CimDateTime::interval((end - created).max(0) as u64 * 1_000_000));
    }
    if let Some(d) = datetime(task.get("finished")).filter(|_| finished.is_some()) {
        i.set("TimeOfLastStateChange", d);
    }
    i
}

/// The `CIM_Error` embedded instance of a failed task, `None` when it did not fail.
pub fn cim_error(ns: &str, task: &ObjectRecord) -> Option<Instance> {
    let status = task.str("status");
    let errors = string_set(task, "error_info");
    if !matches!(TaskStatusType::from_wire(status), Some(Failure | Cancelled)) {
        return None;
    }
    let code = errors.first().cloned().unwrap_or_else(|| "TASK_CANCELLED".to_string());
    let message = error_description(&errors).unwrap_or_else(|| "the task was cancelled".to_string());
    Some(
        Instance::new(ObjectPath::new(ns, "CIM_Error"))
            .with("ErrorType", CimValue::Uint16(4)) // Software Error
            .with("OwningEntity", "Xen")
            .with("MessageID", code)
            .with("Message", message)
            .with("MessageArguments", string_array(errors.get(1..).unwrap_or(&[])))
            .with("PerceivedSeverity", CimValue::Uint16(2)) // Low
            .with("CIMStatusCode", CimValue::Uint32(1)), // CIM_ERR_FAILED
    )
}

/// A task record from a `get_record` answer.
pub fn task_record(w: Wire) -> Result<ObjectRecord, String> {
    match w {
        Wire::Struct(members) => ObjectRecord::from_wire(model().class("task").expect("task class"), members).map_err(|e| e.to_string()),
        other => Err(format!("task record expected, got {other:?}")),
    }
}

/// Reads a task record by ref.
pub fn get_task(b: &Backend, task_ref: &str) -> Result<ObjectRecord, XenError> {
    b.run(calls::task::get_record(task_ref).decode_with(object_record::<TaskRecord>))
}

/// Marks `task_ref` as a job of `class` acting on `vm_uuid`.
pub fn tag_task(b: &Backend, task_ref: &str, class: &str, vm_uuid: &str) -> Result<(), XenError> {
    for (k, v) in [(JOB_CLASS_KEY, class), (JOB_VM_KEY, vm_uuid)] {
        b.run(calls::task::add_to_other_config(task_ref, k, v))?;
    }
    Ok(())
}

/// Waits up to `grace` for the task to end; its last record.
pub fn wait_task(b: &Backend, task_ref: &str, grace: Duration) -> Result<ObjectRecord, XenError> {
    let deadline = Instant::now() + grace;
    loop {
        let t = get_task(b, task_ref)?;
        if is_finished(t.str("status")) || Instant::now() >= deadline {
            return Ok(t);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// CIM_Job.KillJob / CIM_ConcreteJob.GetError return codes.
pub mod rc {
    pub const OK: u32 = 0;
    pub const FAILED: u32 = 4;
}

/// The provider of one job class (the registration names the class).
pub struct JobProvider {
    class: &'static str,
    backend: BackendRef,
}

impl JobProvider {
    pub fn new(class: &'static str) -> JobProvider {
        JobProvider { class, backend: BackendRef::acquire() }
    }

    fn backend(&self) -> Result<std::sync::Arc<Backend>, CmpiError> {
        self.backend.get().map_err(CmpiError::failed)
    }

    /// The (ref, record) of every task that is a job of this class.
    fn tasks(&self, b: &Backend) -> Result<Vec<(String, ObjectRecord)>, CmpiError> {
        let all = calls::task::get_all_records().decode_with(object_records::<TaskRecord>);
        let entries = b.run(all).map_err(|e| CmpiError::failed(e.to_string()))?;
        let mut out = Vec::new();
        for (r, rec) in entries {
            if map_get(&rec, "other_config", JOB_CLASS_KEY) == Some(self.class) {
                out.push((r, rec));
            }
        }
        out.sort_by(|a, b| a.1.str("uuid").cmp(b.1.str("uuid")));
        Ok(out)
    }

    /// The task a path names, or CIM_ERR_NOT_FOUND.
    fn find(&self, b: &Backend, op: &ObjectPath) -> Result<(String, ObjectRecord), CmpiError> {
        let uuid = task_uuid_of(op)?;
        let not_found = || CmpiError::not_found(format!("no {} with InstanceID Xen:{uuid}", self.class));
        let r = match b.run(calls::task::get_by_uuid(&uuid)) {
            Ok(r) => r.into_string(),
            Err(XenError::Api { .. }) => return Err(not_found()),
            Err(e) => return Err(CmpiError::failed(e.to_string())),
        };
        let rec = get_task(b, &r).map_err(|e| match e.code() {
            Some(_) => not_found(),
            None => CmpiError::failed(e.to_string()),
        })?;
        if map_get(&rec, "other_config", JOB_CLASS_KEY) != Some(self.class) {
            return Err(not_found());
        }
        Ok((r, rec))
    }

    fn kill_job(&self, op: &ObjectPath, args: &Args) -> Result<MethodResult, CmpiError> {
        let b = self.backend()?;
        let (r, rec) = self.find(&b, op)?;
        let delete = matches!(args.iter().find(|(k, _)| k.eq_ignore_ascii_case("DeleteOnKill")).map(|(_, v)| v), Some(CimValue::Boolean(true)));
        let mut code = rc::OK;
        if !is_finished(rec.str("status")) {
            if let Err(e) = b.run(calls::task::cancel(&r)) {
                match e.code() {
                    Some(_) => code = rc::FAILED, // e.g. OPERATION_NOT_ALLOWED: the work cannot be cancelled
                    None => return Err(CmpiError::failed(e.to_string())),
                }
            }
        }
        if delete && code == rc::OK {
            b.run(calls::task::destroy(&r)).map_err(|e| CmpiError::failed(e.to_string()))?;
        }
        Ok(MethodResult { return_value: Some(CimValue::Uint32(code)), out_args: vec![] })
    }

    /// CIM_ConcreteJob.RequestStateChange: 4 Terminate and 5 Kill cancel the task.
    fn request_state_change(&self, op: &ObjectPath, args: &Args) -> Result<MethodResult, CmpiError> {
        let done = |code: u32| Ok(MethodResult { return_value: Some(CimValue::Uint32(code)), out_args: vec![] });
        let requested = crate::xen_computer_system::requested_state_arg(args)?;
        let b = self.backend()?;
        let (r, rec) = self.find(&b, op)?;
        if !matches!(requested, 4 | 5) {
            return done(1);
        }
        if is_finished(rec.str("status")) {
            return done(4097);
        }
        match b.run(calls::task::cancel(&r)) {
            Ok(_) => done(0),
            Err(e) if e.code().is_some() => done(rc::FAILED),
            Err(e) => Err(CmpiError::failed(e.to_string())),
        }
    }

    fn get_error(&self, op: &ObjectPath) -> Result<MethodResult, CmpiError> {
        let b = self.backend()?;
        let (_, rec) = self.find(&b, op)?;
        let error = match cim_error(&namespace_of(op), &rec) {
            Some(e) => CimValue::Instance(Box::new(e)),
            None => CimValue::Null { ty: cmpi_shim::CimType::Instance, array: false },
        };
        Ok(MethodResult { return_value: Some(CimValue::Uint32(rc::OK)), out_args: vec![("Error".to_string(), error)] })
    }
}

impl Provider for JobProvider {
    fn instance(&self) -> Option<&dyn InstanceProvider> {
        Some(self)
    }
    fn method(&self) -> Option<&dyn MethodProvider> {
        Some(self)
    }
}

impl InstanceProvider for JobProvider {
    fn enumerate_instances(&self, _ctx: &Context, op: &ObjectPath, _properties: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        let b = self.backend()?;
        let ns = namespace_of(op);
        let now = now_secs();
        Ok(self.tasks(&b)?.iter().map(|(_, t)| instance(&ns, self.class, t, now)).collect())
    }

    fn enumerate_instance_names(&self, _ctx: &Context, op: &ObjectPath) -> Result<Vec<ObjectPath>, CmpiError> {
        let b = self.backend()?;
        let ns = namespace_of(op);
        Ok(self.tasks(&b)?.iter().map(|(_, t)| path(&ns, self.class, t.str("uuid"))).collect())
    }

    fn get_instance(&self, _ctx: &Context, op: &ObjectPath, _properties: Option<&[String]>) -> Result<Instance, CmpiError> {
        let b = self.backend()?;
        let (_, t) = self.find(&b, op)?;
        Ok(instance(&namespace_of(op), self.class, &t, now_secs()))
    }
}

impl MethodProvider for JobProvider {
    fn invoke_method(&self, ctx: &Context, op: &ObjectPath, method: &str, in_args: &Args) -> Result<MethodResult, CmpiError> {
        let b = self.backend.get().map_err(CmpiError::failed)?;
        crate::access::acting_for(ctx, b.conn.config(), || self.run_method(op, method, in_args))
    }
}

impl JobProvider {
    fn run_method(&self, op: &ObjectPath, method: &str, in_args: &Args) -> Result<MethodResult, CmpiError> {
        if method.eq_ignore_ascii_case("KillJob") {
            self.kill_job(op, in_args)
        } else if method.eq_ignore_ascii_case("RequestStateChange") {
            self.request_state_change(op, in_args)
        } else if method.eq_ignore_ascii_case("GetError") {
            self.get_error(op)
        } else {
            Err(CmpiError::new(CMPI_RC_ERR_METHOD_NOT_FOUND, format!("{} has no method {method}", self.class)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::test_records::{s};

    fn task(members: Vec<(&str, Wire)>) -> ObjectRecord {
        task_record(Wire::Struct(members.into_iter().map(|(k, v)| (k.to_string(), v)).collect())).unwrap()
    }

    #[test]
    fn task_status_maps_to_job_state() {
        let got: Vec<u16> = ["pending", "cancelling", "success", "failure", "cancelled"].iter().map(|s| job_state(s)).collect();
        assert_eq!(got, vec![4, 6, 7, 10, 8]);
        assert!(is_finished("cancelled") && !is_finished("cancelling") && !is_finished("pending"));
        assert_eq!(percent_complete(0.456), 46);
        assert_eq!(percent_complete(1.7), 100);
    }

    #[test]
    fn errors_map_to_codes_and_descriptions() {
        let e = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(error_code("failure", &e(&["VM_BAD_POWER_STATE", "OpaqueRef:x", "running", "halted"])), 4097);
        assert_eq!(error_code("failure", &e(&["INTERNAL_ERROR"])), 4);
        assert_eq!(error_code("success", &[]), 0);
        assert_eq!(error_code("cancelled", &e(&["TASK_CANCELLED"])), 4);
        assert_eq!(error_description(&e(&["A", "b"])).as_deref(), Some("XenError:A:b"));
        assert_eq!(error_description(&[]), None);
    }

    #[test]
    fn instance_of_a_failed_task() {
        let t = task(vec![
            ("uuid", s("t1")),
            ("name_label", s("Async.VM.clean_shutdown")),
            ("status", s("failure")),
            ("progress", Wire::Float(1.0)),
            ("created", Wire::DateTime("20240102T03:04:05Z".into())),
            ("finished", Wire::DateTime("20240102T03:04:15Z".into())),
            ("error_info", Wire::Array(vec![s("VM_SHUTDOWN_TIMEOUT"), s("vm"), s("10")])),
            ("other_config", Wire::Struct(vec![(JOB_CLASS_KEY.into(), s(STATE_CHANGE_JOB)), (JOB_VM_KEY.into(), s("vm-uuid"))])),
        ]);
        let i = instance("root/cimv2", STATE_CHANGE_JOB, &t, 0);
        assert_eq!(i.path, path("root/cimv2", STATE_CHANGE_JOB, "t1"));
        assert_eq!(i.get("InstanceID"), Some(&CimValue::from("Xen:t1")));
        assert_eq!(i.get("JobState"), Some(&CimValue::Uint16(10)));
        assert_eq!(i.get("PercentComplete"), Some(&CimValue::Uint16(100)));
        assert_eq!(i.get("ErrorCode"), Some(&CimValue::Uint16(4)));
        assert_eq!(i.get("ErrorDescription"), Some(&CimValue::from("XenError:VM_SHUTDOWN_TIMEOUT:vm:10")));
        assert_eq!(i.get("ElapsedTime"), Some(&CimValue::DateTime(CimDateTime::interval(10_000_000))));
        assert_eq!(i.get("Description"), Some(&CimValue::from("Async.VM.clean_shutdown of VM vm-uuid")));
        let e = cim_error("root/cimv2", &t).unwrap();
        assert_eq!(e.get("MessageID"), Some(&CimValue::from("VM_SHUTDOWN_TIMEOUT")));
        assert_eq!(e.get("MessageArguments"), Some(&string_array(&["vm", "10"])));
    }

    #[test]
    fn running_task_has_no_error() {
        let t = task(vec![("uuid", s("t2")), ("status", s("pending")), ("progress", Wire::Float(0.25))]);
        let i = instance("root/cimv2", STATE_CHANGE_JOB, &t, 0);
        assert_eq!(i.get("JobState"), Some(&CimValue::Uint16(4)));
        assert_eq!(i.get("PercentComplete"), Some(&CimValue::Uint16(25)));
        assert_eq!(i.get("ErrorDescription"), None);
        assert!(cim_error("root/cimv2", &t).is_none());
        assert!(task_uuid_of(&ObjectPath::new("root/cimv2", STATE_CHANGE_JOB).with_key("InstanceID", "bogus")).is_err());
    }
}
