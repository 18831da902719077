//! The associations of the jobs (DSP1042 / DSP1057: a job is traceable to what it acts on and to
//! whoever started it):
//!
//! | association | job role | element role |
//! | --- | --- | --- |
//! | `Xen_AffectedJobElement` | AffectingElement → the job | AffectedElement → the VM the task acts on |
//! | `Xen_OwningJobElement` | OwnedElement → the job | OwningElement → the element whose method started it |
//!
//! Both come from the tags [`xen_job::tag_task`] puts on the job's XenAPI task
//! (`other_config`: the job class and the VM uuid). A `Xen_SystemStateChangeJob` is started by
//! `Xen_ComputerSystem.RequestStateChange`, so its VM both owns it and is affected by it. A job
//! whose VM no longer exists has no link (no reference to a missing instance).
//!
//! Tasks are not in the event cache: a traversal from a job or a VM reads them with one
//! `task.get_all_records`; a traversal from any other object costs no XenAPI call.

use crate::associations::{is_a, resolve, Object};
use crate::backend::{Backend, BackendRef};
use crate::cache::Tables;
use crate::util::{calls, map_get, namespace_of, string_key, u16_array, NAMESPACE};
use crate::xen_computer_system::{self as cs, is_virtual_system};
use crate::xen_job::{self as job, JOB_CLASS_KEY, JOB_VM_KEY};
use cmpi_shim::provider::{AssociationProvider, Context, InstanceProvider, Provider};
use cmpi_shim::{CimValue, CmpiError, Instance, ObjectPath};
use std::sync::Arc;
use xenapi_client::ObjectRecord;
use xenapi_client::Wire;

/// The job classes whose tasks are linked (each is started by a method of the VM it acts on).
pub const JOB_CLASSES: &[&str] = &[job::STATE_CHANGE_JOB];

/// CIM_AffectedJobElement.ElementEffects 2 "Exclusive Use": while the task runs, XenAPI refuses
/// other operations on the VM (OTHER_OPERATION_IN_PROGRESS).
pub const EXCLUSIVE_USE: u16 = 2;

/// The two association classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobLink {
    Affected,
    Owning,
}

pub const JOB_LINKS: [JobLink; 2] = [JobLink::Affected, JobLink::Owning];

impl JobLink {
    pub fn class(self) -> &'static str {
        match self {
            JobLink::Affected => "Xen_AffectedJobElement",
            JobLink::Owning => "Xen_OwningJobElement",
        }
    }

    /// (the job's reference, the element's reference).
    pub fn roles(self) -> (&'static str, &'static str) {
        match self {
            JobLink::Affected => ("AffectingElement", "AffectedElement"),
            JobLink::Owning => ("OwnedElement", "OwningElement"),
        }
    }
}

/// A job: its class, and its task's record.
#[derive(Clone, Debug)]
pub struct JobTask {
    pub class: &'static str,
    pub task: ObjectRecord,
}

impl JobTask {
    pub fn uuid(&self) -> &str {
        self.task.str("uuid")
    }

    /// The uuid of the VM the job acts on.
    pub fn vm(&self) -> Option<&str> {
        map_get(&self.task, "other_config", JOB_VM_KEY)
    }

    pub fn path(&self) -> ObjectPath {
        job::path(NAMESPACE, self.class, self.uuid())
    }
}

/// The jobs among the entries of a `task.get_all_records` answer, by uuid.
pub fn job_tasks(all: Wire) -> Result<Vec<JobTask>, String> {
    let Wire::Struct(entries) = all else { return Err("task.get_all_records: not a map".into()) };
    let mut out = Vec::new();
    for (_, rec) in entries {
        let task = job::task_record(rec)?;
        let class = map_get(&task, "other_config", JOB_CLASS_KEY).and_then(|c| JOB_CLASSES.iter().copied().find(|k| *k == c));
        if let Some(class) = class {
            out.push(JobTask { class, task });
        }
    }
    out.sort_by(|a, b| a.uuid().cmp(b.uuid()));
    Ok(out)
}

/// What a traversal starts from.
#[derive(Clone, Debug)]
pub enum Source<'t> {
    /// A job path: its class and task uuid.
    Job(&'static str, String),
    Vm(&'t ObjectRecord),
}

/// The source `op` names, if it is a job path or an existing guest VM; `None` for anything else
/// (checked without XenAPI calls).
pub fn source<'t>(t: &'t Tables, op: &ObjectPath) -> Option<Source<'t>> {
    if let Some(class) = JOB_CLASSES.iter().copied().find(|c| c.eq_ignore_ascii_case(&op.classname)) {
        let id = string_key(op, "InstanceID").ok()?;
        return id.strip_prefix("Xen:").map(|u| Source::Job(class, u.to_string()));
    }
    if op.classname.eq_ignore_ascii_case(cs::CLASS) {
        return match resolve(t, op) {
            Some(Object::Vm(v)) => Some(Source::Vm(v)),
            _ => None,
        };
    }
    None
}

/// The far end of a link.
#[derive(Clone, Debug)]
pub enum Far<'a> {
    Job(&'a JobTask),
    Vm(&'a ObjectRecord),
}

impl Far<'_> {
    pub fn path(&self) -> ObjectPath {
        match self {
            Far::Job(j) => j.path(),
            Far::Vm(v) => cs::path(NAMESPACE, v.str("uuid")),
        }
    }
}

/// One link: the association instance and its far end.
pub struct Hop<'a> {
    pub link: Instance,
    pub far: Far<'a>,
}

/// The association instance between a job and an element, in namespace `ns`.
pub fn link(which: JobLink, ns: &str, job_path: ObjectPath, element: ObjectPath) -> Instance {
    let (jr, er) = which.roles();
    let path = ObjectPath::new(ns, which.class()).with_key(jr, job_path.clone()).with_key(er, element.clone());
    let mut i = Instance::new(path).with(jr, job_path).with(er, element);
    if which == JobLink::Affected {
        i.set("ElementEffects", u16_array(&[EXCLUSIVE_USE]));
    }
    i
}

/// The VM of a job, when it still exists.
fn vm_of<'t>(t: &'t Tables, j: &JobTask) -> Option<&'t ObjectRecord> {
    t.by_uuid("vm", j.vm()?).map(|(_, v)| v).filter(|v| is_virtual_system(v))
}

/// Whether links of `which` from `src` can pass Role, ResultRole and ResultClass at all: decided
/// from the classes alone, so that a traversal they rule out reads no tasks.
pub fn may_pass(which: JobLink, src: &Source, role: Option<&str>, result_role: Option<&str>, result_class: Option<&str>) -> bool {
    let (jr, er) = which.roles();
    let (src_role, far_role, far_classes): (_, _, &[&str]) = match src {
        Source::Job(..) => (jr, er, &[cs::CLASS]),
        Source::Vm(_) => (er, jr, JOB_CLASSES),
    };
    role.is_none_or(|r| r.eq_ignore_ascii_case(src_role))
        && result_role.is_none_or(|r| r.eq_ignore_ascii_case(far_role))
        && result_class.is_none_or(|rc| far_classes.iter().any(|c| is_a(c, rc)))
}

/// The links of `which` from `src` that pass Role, ResultRole and ResultClass. Both classes link
/// a job to its VM (the VM started it and is what it acts on).
#[allow(clippy::too_many_arguments)]
pub fn hops<'a>(which: JobLink, t: &'a Tables, jobs: &'a [JobTask], src: &Source, ns: &str, role: Option<&str>, result_role: Option<&str>, result_class: Option<&str>) -> Vec<Hop<'a>> {
    if !may_pass(which, src, role, result_role, result_class) {
        return vec![];
    }
    let pairs: Vec<(&'a JobTask, &'a ObjectRecord)> = match src {
        Source::Job(class, uuid) => jobs.iter().filter(|j| j.class == *class && j.uuid() == uuid).filter_map(|j| Some((j, vm_of(t, j)?))).collect(),
        Source::Vm(v) => jobs.iter().filter(|j| j.vm() == Some(v.str("uuid"))).filter_map(|j| Some((j, vm_of(t, j)?))).collect(),
    };
    pairs
        .into_iter()
        .map(|(j, vm)| {
            let far = match src {
                Source::Job(..) => Far::Vm(vm),
                Source::Vm(_) => Far::Job(j),
            };
            Hop { link: link(which, ns, j.path(), cs::path(NAMESPACE, vm.str("uuid"))), far }
        })
        .filter(|h| result_class.is_none_or(|rc| is_a(&h.far.path().classname, rc)))
        .collect()
}

/// Every instance of `which`: one per job whose VM exists.
pub fn all_links(which: JobLink, t: &Tables, jobs: &[JobTask], ns: &str) -> Vec<Instance> {
    jobs.iter().filter_map(|j| Some(link(which, ns, j.path(), cs::path(NAMESPACE, vm_of(t, j)?.str("uuid"))))).collect()
}

/// The provider of one of the two classes.
pub struct JobLinkProvider {
    which: JobLink,
    backend: BackendRef,
}

impl JobLinkProvider {
    pub fn new(which: JobLink) -> JobLinkProvider {
        JobLinkProvider { which, backend: BackendRef::acquire() }
    }

    fn backend(&self) -> Result<(Arc<Backend>, Arc<Tables>), CmpiError> {
        self.backend.with_tables()
    }

    fn jobs(b: &Backend) -> Result<Vec<JobTask>, CmpiError> {
        // As sent: `job_tasks` picks the jobs out of it.
        let w = b.run(calls::task::get_all_records().raw()).map_err(|e| CmpiError::failed(e.to_string()))?;
        job_tasks(w).map_err(CmpiError::failed)
    }

    fn wanted(&self, assoc_class: Option<&str>) -> bool {
        assoc_class.is_none_or(|c| is_a(self.which.class(), c))
    }

    /// Runs `f` on the hops from `op`; no XenAPI call when `op` is neither a job nor a VM, or when
    /// the filters rule every link out.
    fn with_hops<R>(&self, op: &ObjectPath, role: Option<&str>, result_role: Option<&str>, result_class: Option<&str>, f: impl FnOnce(&Backend, &Tables, Vec<Hop>) -> R) -> Result<Option<R>, CmpiError> {
        let (b, t) = self.backend()?;
        let Some(src) = source(&t, op) else { return Ok(None) };
        if !may_pass(self.which, &src, role, result_role, result_class) {
            return Ok(Some(f(&b, &t, vec![])));
        }
        let jobs = Self::jobs(&b)?;
        let hops = hops(self.which, &t, &jobs, &src, &namespace_of(op), role, result_role, result_class);
        Ok(Some(f(&b, &t, hops)))
    }
}

impl Provider for JobLinkProvider {
    fn instance(&self) -> Option<&dyn InstanceProvider> {
        Some(self)
    }
    fn association(&self) -> Option<&dyn AssociationProvider> {
        Some(self)
    }
}

impl InstanceProvider for JobLinkProvider {
    fn enumerate_instances(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        let (b, t) = self.backend()?;
        Ok(all_links(self.which, &t, &Self::jobs(&b)?, &namespace_of(op)))
    }

    fn get_instance(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Instance, CmpiError> {
        let (jr, er) = self.which.roles();
        let (Some(CimValue::Reference(j)), Some(CimValue::Reference(e))) = (op.key(jr), op.key(er)) else {
            return Err(CmpiError::invalid_parameter(format!("{op} lacks the {jr} and {er} references")));
        };
        let mut j = j.clone();
        j.namespace = namespace_of(op);
        let found = self.with_hops(&j, Some(jr), None, None, |_, t, hops| {
            let target = resolve(t, e).map(|o| o.path());
            hops.into_iter().find(|h| Some(h.far.path()) == target).map(|h| h.link)
        })?;
        found.flatten().ok_or_else(|| CmpiError::not_found(format!("no instance {op}")))
    }
}

impl AssociationProvider for JobLinkProvider {
    fn associators(
        &self,
        _ctx: &Context,
        op: &ObjectPath,
        assoc_class: Option<&str>,
        result_class: Option<&str>,
        role: Option<&str>,
        result_role: Option<&str>,
        _properties: Option<&[String]>,
    ) -> Result<Vec<Instance>, CmpiError> {
        if !self.wanted(assoc_class) {
            return Ok(vec![]);
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        let ns = namespace_of(op);
        let r = self.with_hops(op, role, result_role, result_class, |b, t, hops| {
            hops.into_iter()
                .map(|h| match h.far {
                    Far::Job(j) => job::instance(&ns, j.class, &j.task, now),
                    Far::Vm(v) => cs::instance(&ns, v, t, b.requested_state(v)),
                })
                .collect()
        })?;
        Ok(r.unwrap_or_default())
    }

    fn associator_names(
        &self,
        _ctx: &Context,
        op: &ObjectPath,
        assoc_class: Option<&str>,
        result_class: Option<&str>,
        role: Option<&str>,
        result_role: Option<&str>,
    ) -> Result<Vec<ObjectPath>, CmpiError> {
        if !self.wanted(assoc_class) {
            return Ok(vec![]);
        }
        Ok(self.with_hops(op, role, result_role, result_class, |_, _, hops| hops.into_iter().map(|h| h.far.path()).collect())?.unwrap_or_default())
    }

    fn references(&self, _ctx: &Context, op: &ObjectPath, result_class: Option<&str>, role: Option<&str>, _p: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        if !self.wanted(result_class) {
            return Ok(vec![]);
        }
        Ok(self.with_hops(op, role, None, None, |_, _, hops| hops.into_iter().map(|h| h.link).collect())?.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::test_records::{rec, s};

    fn task(uuid: &str, class: &str, vm: &str) -> (String, Wire) {
        let oc = Wire::Struct(vec![(JOB_CLASS_KEY.into(), s(class)), (JOB_VM_KEY.into(), s(vm))]);
        (format!("OpaqueRef:{uuid}"), Wire::Struct(vec![("uuid".into(), s(uuid)), ("status".into(), s("pending")), ("other_config".into(), oc)]))
    }

    /// VM v (running) and v2; jobs j1 on v, j2 on a VM that is gone, a task of another client.
    fn sample() -> (Tables, Vec<JobTask>) {
        let mut t = Tables::default();
        t.insert("vm", "V", rec("VM", vec![("uuid", s("v")), ("power_state", s("Running"))]));
        t.insert("vm", "V2", rec("VM", vec![("uuid", s("v2")), ("power_state", s("Halted"))]));
        let other = ("OpaqueRef:x".to_string(), Wire::Struct(vec![("uuid".into(), s("x")), ("status".into(), s("pending"))]));
        let all = Wire::Struct(vec![task("j2", job::STATE_CHANGE_JOB, "gone"), other, task("j1", job::STATE_CHANGE_JOB, "v"), task("j3", "Xen_Unknown", "v")]);
        (t, job_tasks(all).unwrap())
    }

    fn far(h: &[Hop]) -> Vec<String> {
        h.iter().map(|h| h.far.path().to_string()).collect()
    }

    #[test]
    fn only_tagged_tasks_of_known_classes_are_jobs() {
        let (_, jobs) = sample();
        assert_eq!(jobs.iter().map(|j| j.uuid()).collect::<Vec<_>>(), ["j1", "j2"]);
        assert_eq!(jobs[0].vm(), Some("v"));
        assert!(job_tasks(Wire::Str("x".into())).is_err());
    }

    #[test]
    fn a_job_links_to_its_vm_both_ways() {
        let (t, jobs) = sample();
        let jp = job::path("root/cimv2", job::STATE_CHANGE_JOB, "j1");
        let src = source(&t, &jp).unwrap();
        let h = hops(JobLink::Affected, &t, &jobs, &src, "root/cimv2", None, None, None);
        assert_eq!(far(&h), [cs::path(NAMESPACE, "v").to_string()]);
        assert_eq!(h[0].link.get("AffectingElement"), Some(&CimValue::Reference(jp.clone())));
        assert_eq!(h[0].link.get("ElementEffects"), Some(&u16_array(&[2])));
        let vm = source(&t, &cs::path("root/cimv2", "v")).unwrap();
        let h = hops(JobLink::Owning, &t, &jobs, &vm, "root/cimv2", Some("OwningElement"), Some("OwnedElement"), Some("CIM_ConcreteJob"));
        assert_eq!(far(&h), [jp.to_string()]);
        assert_eq!(h[0].link.get("OwningElement"), Some(&CimValue::Reference(cs::path(NAMESPACE, "v"))));
        assert!(h[0].link.get("ElementEffects").is_none());
        // wrong roles, classes, a VM without jobs, a job whose VM is gone
        assert!(hops(JobLink::Owning, &t, &jobs, &vm, "root/cimv2", Some("OwnedElement"), None, None).is_empty());
        assert!(hops(JobLink::Affected, &t, &jobs, &vm, "root/cimv2", None, None, Some("CIM_ComputerSystem")).is_empty());
        let v2 = source(&t, &cs::path("root/cimv2", "v2")).unwrap();
        assert!(hops(JobLink::Affected, &t, &jobs, &v2, "root/cimv2", None, None, None).is_empty());
        let gone = source(&t, &job::path("root/cimv2", job::STATE_CHANGE_JOB, "j2")).unwrap();
        assert!(hops(JobLink::Affected, &t, &jobs, &gone, "root/cimv2", None, None, None).is_empty());
        assert_eq!(all_links(JobLink::Owning, &t, &jobs, "root/cimv2").len(), 1);
    }

    #[test]
    fn filters_that_rule_every_link_out_are_known_before_reading_tasks() {
        let (t, _) = sample();
        let vm = source(&t, &cs::path("root/cimv2", "v")).unwrap();
        let jp = job::path("root/cimv2", job::STATE_CHANGE_JOB, "j1");
        let job = source(&t, &jp).unwrap();
        assert!(may_pass(JobLink::Affected, &vm, None, None, None));
        assert!(may_pass(JobLink::Affected, &vm, None, None, Some("CIM_Job")));
        assert!(!may_pass(JobLink::Affected, &vm, None, None, Some("CIM_VirtualSystemSettingData")), "a DSP1057 step from a VM");
        assert!(!may_pass(JobLink::Owning, &vm, Some("OwnedElement"), None, None));
        assert!(may_pass(JobLink::Owning, &job, None, Some("OwningElement"), Some("CIM_ComputerSystem")));
        assert!(!may_pass(JobLink::Owning, &job, None, None, Some("CIM_Job")));
    }

    #[test]
    fn other_objects_are_not_sources() {
        let (t, _) = sample();
        assert!(source(&t, &cs::path("root/cimv2", "nope")).is_none());
        assert!(source(&t, &ObjectPath::new("root/cimv2", job::STATE_CHANGE_JOB).with_key("InstanceID", "bogus")).is_none());
        assert!(source(&t, &ObjectPath::new("root/cimv2", "Xen_HostComputerSystem").with_key("Name", "h")).is_none());
    }
}
