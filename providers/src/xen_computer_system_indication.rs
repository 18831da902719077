//! `Xen_ComputerSystemCreation`, `Xen_ComputerSystemDeletion` and `Xen_ComputerSystemModification`:
//! lifecycle indications of the virtual systems (`Xen_ComputerSystem`), raised from the changes
//! the event-driven [`cache`](crate::cache) sees through `event.from`.
//!
//! ```text
//! SELECT * FROM Xen_ComputerSystemModification
//!     WHERE SourceInstance.EnabledState <> PreviousInstance.EnabledState
//! instance of Xen_ComputerSystemModification {
//!     SourceInstance = <the Xen_ComputerSystem now>;  PreviousInstance = <as it was>;
//!     SourceInstanceModelPath = "root/cimv2:Xen_ComputerSystem.CreationClassName=\"Xen_ComputerSystem\",Name=\"<uuid>\"";
//!     SourceInstanceHost = "<host name>";  IndicationTime = <now>;  IndicationIdentifier = "Xen:…";
//! };
//! ```
//!
//! One watcher thread serves the whole process, whatever the number of subscriptions: it runs
//! while at least one filter is active on one of the three classes (`ActivateFilter` …
//! `DeActivateFilter`), so an idle server does no work. It uses the providers' shared XenAPI
//! session and cache (no login per subscriber). After every change of the cached tables it
//! builds the `Xen_ComputerSystem` instances again, as the instance provider does, and compares
//! them with the ones it built before: a new VM is a creation, a VM gone a deletion (with the
//! last instance known), a VM whose instance differs a modification. The comparison skips
//! [`VOLATILE`] properties, so the host's periodic metrics samples raise nothing. Templates,
//! snapshots and the control domain are not virtual systems and never appear.
//!
//! The broker matches each indication against the subscriptions' WQL (including conditions on
//! the embedded instances); this provider only raises the kinds some active filter selects.

use crate::backend::{Backend, BackendRef};
use crate::cache::Tables;
use crate::util::*;
use crate::xen_computer_system::{self as cs, is_virtual_system};
use cmpi_shim::provider::{Broker, Context, IndicationProvider, Provider, ThreadContext};
use cmpi_shim::{CimDateTime, CimValue, CmpiError, Instance, ObjectPath};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const CREATION: &str = "Xen_ComputerSystemCreation";
pub const DELETION: &str = "Xen_ComputerSystemDeletion";
pub const MODIFICATION: &str = "Xen_ComputerSystemModification";

/// The indication classes a filter may select these indications through (its FROM class): the
/// three classes and their CIM parents.
const SELECTABLE_AS: &[&str] =
    &[CREATION, DELETION, MODIFICATION, "CIM_InstCreation", "CIM_InstDeletion", "CIM_InstModification", "CIM_InstIndication", "CIM_Indication"];

/// `Xen_ComputerSystem` properties that change without a change of the system: TimeOfLastStateChange
/// follows `VM_metrics.last_updated` (xs-cim's mapping), which the host rewrites with every
/// metrics sample of a running VM.
pub const VOLATILE: &[&str] = &["TimeOfLastStateChange"];

/// How often an idle watcher looks whether it should stop.
const STOP_CHECK: Duration = Duration::from_millis(250);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Creation,
    Deletion,
    Modification,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Creation, Kind::Deletion, Kind::Modification];

    pub fn class(self) -> &'static str {
        match self {
            Kind::Creation => CREATION,
            Kind::Deletion => DELETION,
            Kind::Modification => MODIFICATION,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One change of a virtual system between two looks.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    Created(Instance),
    Deleted(Instance),
    Modified { new: Instance, old: Instance },
}

impl Change {
    pub fn kind(&self) -> Kind {
        match self {
            Change::Created(_) => Kind::Creation,
            Change::Deleted(_) => Kind::Deletion,
            Change::Modified { .. } => Kind::Modification,
        }
    }

    /// The system as it is now (as it last was, for a deletion).
    pub fn source(&self) -> &Instance {
        match self {
            Change::Created(i) | Change::Deleted(i) => i,
            Change::Modified { new, .. } => new,
        }
    }
}

/// The `Xen_ComputerSystem` instances of `tables`, by VM uuid.
pub fn systems(ns: &str, tables: &Tables, requested_state: impl Fn(&xenapi_client::ObjectRecord) -> u16) -> BTreeMap<String, Instance> {
    tables
        .iter("vm")
        .map(|(_, vm)| vm)
        .filter(|vm| is_virtual_system(vm))
        .map(|vm| (vm.str("uuid").to_string(), cs::instance(ns, vm, tables, requested_state(vm))))
        .collect()
}

/// True when `a` and `b` differ in a property a CIM client sees change (not a [`VOLATILE`] one).
pub fn differs(a: &Instance, b: &Instance) -> bool {
    let visible = |i: &Instance| -> Vec<(String, CimValue)> {
        let mut v: Vec<(String, CimValue)> = i.properties.iter().filter(|(n, _)| !VOLATILE.iter().any(|x| x.eq_ignore_ascii_case(n))).cloned().collect();
        v.sort_by(|x, y| x.0.cmp(&y.0));
        v
    };
    a.path != b.path || visible(a) != visible(b)
}

/// The changes from `old` to `new` (both by VM uuid), in uuid order: creations and
/// modifications, then deletions.
pub fn diff(old: &BTreeMap<String, Instance>, new: &BTreeMap<String, Instance>) -> Vec<Change> {
    let mut out = Vec::new();
    for (uuid, n) in new {
        match old.get(uuid) {
            None => out.push(Change::Created(n.clone())),
            Some(o) if differs(o, n) => out.push(Change::Modified { new: n.clone(), old: o.clone() }),
            Some(_) => {}
        }
    }
    out.extend(old.iter().filter(|(u, _)| !new.contains_key(*u)).map(|(_, o)| Change::Deleted(o.clone())));
    out
}

/// The host name of the host a system instance names in `Host` (the host it runs on), else of
/// the first host known (a halted VM belongs to the pool, whose hosts all serve it).
pub fn source_host(system: &Instance, tables: &Tables) -> Option<String> {
    let by_host_prop = match system.get("Host") {
        Some(CimValue::String(uuid)) => tables.by_uuid("host", uuid).map(|(_, h)| h.str("hostname").to_string()),
        _ => None,
    };
    by_host_prop.or_else(|| {
        let mut hosts: Vec<_> = tables.iter("host").map(|(_, h)| h).collect();
        hosts.sort_unstable_by_key(|h| h.str("uuid"));
        hosts.first().map(|h| h.str("hostname").to_string())
    })
    .filter(|h| !h.is_empty())
}

/// The indication for `change`.
pub fn indication(ns: &str, change: &Change, time: CimDateTime, identifier: &str, host: Option<&str>) -> Instance {
    let source = change.source();
    let mut i = Instance::new(ObjectPath::new(ns, change.kind().class()))
        .with("IndicationIdentifier", identifier)
        .with("IndicationTime", time)
        .with("SourceInstance", CimValue::Instance(Box::new(source.clone())))
        .with("SourceInstanceModelPath", source.path.to_string());
    if let Some(h) = host {
        i.set("SourceInstanceHost", h);
    }
    if let Change::Modified { old, .. } = change {
        i.set("PreviousInstance", CimValue::Instance(Box::new(old.clone())));
    }
    i
}

/// The FROM class of a filter query (`SELECT … FROM <class> [WHERE …]`).
pub fn from_class(query: &str) -> Option<&str> {
    let mut words = query.split_whitespace();
    words.find(|w| w.eq_ignore_ascii_case("FROM"))?;
    words.next()
}

/// Ok when the FROM class of `query` may select indications of `kind`.
pub fn check_selectable(kind: Kind, query: &str) -> Result<(), String> {
    match from_class(query) {
        Some(c) if SELECTABLE_AS.iter().any(|s| s.eq_ignore_ascii_case(c)) => Ok(()),
        other => Err(format!("{} indications are not selected by FROM {}: use one of {}", kind.class(), other.unwrap_or("(none)"), SELECTABLE_AS.join(", "))),
    }
}

fn now() -> CimDateTime {
    let micros = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0);
    CimDateTime::from_unix_micros(micros)
}

/// The process-wide watcher: the number of active filters of each kind, and the thread that
/// runs while any is active.
struct Watcher {
    active: [usize; 3],
    /// Told to the running thread when the last filter goes (or the library unloads).
    stop: Option<Arc<AtomicBool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

static WATCHER: Mutex<Watcher> = Mutex::new(Watcher { active: [0; 3], stop: None, thread: None });
/// Active filters of each kind, read by the thread without the lock.
static ACTIVE: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
static SEQUENCE: AtomicU64 = AtomicU64::new(1);
/// Indications the broker refused (the providers have no log; a debugger or test can read it).
pub static UNDELIVERED: AtomicU64 = AtomicU64::new(0);

fn watcher() -> std::sync::MutexGuard<'static, Watcher> {
    WATCHER.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the watcher thread starts from: the systems as they were when the first filter was
/// activated (taken in the activating call, so a change made right after the subscription was
/// created is seen as a change). `None` when the XenAPI could not be reached then (a broker
/// starting with saved subscriptions): the first tables the watcher sees are the baseline.
struct Start {
    backend: Arc<Backend>,
    backend_ref: BackendRef,
    ns: String,
    known: Option<BTreeMap<String, Instance>>,
    generation: u64,
    stop: Arc<AtomicBool>,
    context: ThreadContext,
}

fn run(start: Start) {
    let Start { backend, backend_ref: _keep_alive, ns, mut known, mut generation, stop, context } = start;
    let Ok(mut attached) = context.attach() else { return };
    let epoch = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    while !stop.load(Ordering::Acquire) {
        let Some((tables, g)) = backend.cache.wait_newer(generation, STOP_CHECK) else { continue };
        generation = g;
        let now_systems = systems(&ns, &tables, |vm| backend.requested_state(vm));
        let Some(before) = known.replace(now_systems) else { continue };
        let changes = diff(&before, known.as_ref().expect("just set"));
        let wanted: Vec<&Change> = changes.iter().filter(|c| ACTIVE[c.kind().index()].load(Ordering::Acquire) > 0).collect();
        if wanted.is_empty() {
            continue;
        }
        let time = now();
        for c in wanted {
            let id = format!("Xen:{epoch}:{}", SEQUENCE.fetch_add(1, Ordering::Relaxed));
            let ind = indication(&ns, c, time.clone(), &id, source_host(c.source(), &tables).as_deref());
            if attached.broker().deliver_indication(&attached.context(), &ns, &ind).is_err() {
                UNDELIVERED.fetch_add(1, Ordering::Relaxed);
            }
        }
        // The broker frees what a thread made when it detaches: attach again for the next batch.
        let next = attached.broker().prepare_attach_thread(&attached.context());
        drop(attached);
        match next.and_then(ThreadContext::attach) {
            Ok(a) => attached = a,
            Err(_) => return,
        }
    }
}

/// Counts one more active filter of `kind`; starts the watcher when it is the first.
fn activate(kind: Kind, broker: Broker, ctx: &Context, ns: &str) -> Result<(), CmpiError> {
    let mut w = watcher();
    let running = w.stop.is_some() && w.thread.as_ref().is_some_and(|t| !t.is_finished());
    if !running {
        // A thread told to stop may still be finishing its last look.
        if let Some(t) = w.thread.take() {
            let _ = t.join();
        }
        let backend_ref = BackendRef::acquire();
        let backend = backend_ref.get().map_err(CmpiError::failed)?;
        let known = backend.tables().ok().map(|t| systems(ns, &t, |vm| backend.requested_state(vm)));
        let generation = backend.cache.generation();
        let stop = Arc::new(AtomicBool::new(false));
        let context = broker.prepare_attach_thread(ctx)?;
        let start = Start { backend, backend_ref, ns: ns.to_string(), known, generation, stop: Arc::clone(&stop), context };
        let thread = std::thread::Builder::new()
            .name("xen-cim-indications".into())
            .spawn(move || run(start))
            .map_err(|e| CmpiError::failed(format!("cannot start the indication watcher: {e}")))?;
        w.stop = Some(stop);
        w.thread = Some(thread);
    }
    w.active[kind.index()] += 1;
    ACTIVE[kind.index()].store(w.active[kind.index()] as u64, Ordering::Release);
    Ok(())
}

/// Counts one active filter of `kind` less; tells the watcher to stop after the last one.
fn deactivate(kind: Kind) {
    let mut w = watcher();
    w.active[kind.index()] = w.active[kind.index()].saturating_sub(1);
    ACTIVE[kind.index()].store(w.active[kind.index()] as u64, Ordering::Release);
    if w.active.iter().all(|n| *n == 0) {
        if let Some(stop) = w.stop.take() {
            stop.store(true, Ordering::Release);
        }
    }
}

/// Stops the watcher and waits for it (the library may be unloaded next).
fn shut_down() {
    let thread = {
        let mut w = watcher();
        w.active = [0; 3];
        for a in &ACTIVE {
            a.store(0, Ordering::Release);
        }
        if let Some(stop) = w.stop.take() {
            stop.store(true, Ordering::Release);
        }
        w.thread.take()
    };
    if let Some(t) = thread {
        let _ = t.join();
    }
}

/// The provider of one of the three classes (one object per MI the broker creates).
pub struct IndicationClassProvider {
    kind: Kind,
    broker: Broker,
}

impl IndicationClassProvider {
    pub fn new(kind: Kind, broker: Broker) -> IndicationClassProvider {
        IndicationClassProvider { kind, broker }
    }
}

impl Provider for IndicationClassProvider {
    fn indication(&self) -> Option<&dyn IndicationProvider> {
        Some(self)
    }

    fn cleanup(&self, _ctx: &Context, _terminating: bool) -> Result<(), CmpiError> {
        shut_down();
        Ok(())
    }
}

impl IndicationProvider for IndicationClassProvider {
    fn authorize_filter(&self, _ctx: &Context, filter_query: &str, _class_name: &str, _op: &ObjectPath, _owner: &str) -> Result<(), CmpiError> {
        check_selectable(self.kind, filter_query).map_err(CmpiError::not_supported)
    }

    fn activate_filter(&self, ctx: &Context, _filter_query: &str, _class_name: &str, op: &ObjectPath, _first: bool) -> Result<(), CmpiError> {
        activate(self.kind, self.broker, ctx, &namespace_of(op))
    }

    fn deactivate_filter(&self, _ctx: &Context, _filter_query: &str, _class_name: &str, _op: &ObjectPath, _last: bool) -> Result<(), CmpiError> {
        deactivate(self.kind);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::test_records::{rec, s};
    use xenapi_client::Wire;

    fn vm(uuid: &str, name: &str, power: &str, extra: Vec<(&str, Wire)>) -> xenapi_client::ObjectRecord {
        let mut m = vec![("uuid", s(uuid)), ("name_label", s(name)), ("power_state", s(power)), ("metrics", s("M-"))];
        m.extend(extra);
        rec("VM", m)
    }

    fn tables(vms: Vec<xenapi_client::ObjectRecord>, sample: &str) -> Tables {
        let mut t = Tables::default();
        for (n, v) in vms.into_iter().enumerate() {
            t.insert("vm", &format!("R{n}"), v);
        }
        t.insert("vm_metrics", "M-", rec("VM_metrics", vec![("last_updated", Wire::DateTime(sample.into()))]));
        t.insert("host", "H", rec("host", vec![("uuid", s("h1")), ("hostname", s("xenhost"))]));
        t
    }

    fn look(t: &Tables) -> BTreeMap<String, Instance> {
        systems("root/cimv2", t, |_| 0)
    }

    #[test]
    fn creations_modifications_and_deletions() {
        let a0 = tables(vec![vm("a", "web", "Halted", vec![]), vm("b", "db", "Halted", vec![])], "20250101T00:00:00Z");
        let a1 = tables(vec![vm("a", "web", "Running", vec![]), vm("c", "new", "Halted", vec![])], "20250101T00:00:00Z");
        let changes = diff(&look(&a0), &look(&a1));
        let kinds: Vec<(Kind, String)> = changes.iter().map(|c| (c.kind(), c.source().get("Name").map(|v| format!("{v:?}")).unwrap_or_default())).collect();
        assert_eq!(kinds.iter().map(|k| k.0).collect::<Vec<_>>(), vec![Kind::Modification, Kind::Creation, Kind::Deletion]);
        match &changes[0] {
            Change::Modified { new, old } => {
                assert_eq!(new.get("EnabledState"), Some(&CimValue::Uint16(2)));
                assert_eq!(old.get("EnabledState"), Some(&CimValue::Uint16(3)));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(changes[2].source().get("ElementName"), Some(&CimValue::from("db")), "a deletion carries the last instance known");
    }

    #[test]
    fn metrics_samples_and_hidden_vms_raise_nothing() {
        let template = vm("t", "tpl", "Halted", vec![("is_a_template", Wire::Bool(true))]);
        let snapshot = vm("s", "snap", "Halted", vec![("is_a_snapshot", Wire::Bool(true))]);
        let dom0 = vm("d", "dom0", "Running", vec![("is_control_domain", Wire::Bool(true))]);
        let before = tables(vec![vm("a", "web", "Running", vec![])], "20250101T00:00:00Z");
        let after = tables(vec![vm("a", "web", "Running", vec![]), template, snapshot, dom0], "20250101T00:00:05Z");
        let (b, a) = (look(&before), look(&after));
        assert_ne!(b["a"].get("TimeOfLastStateChange"), a["a"].get("TimeOfLastStateChange"), "the sample time moved");
        assert_eq!(diff(&b, &a), vec![], "a new sample and VMs that are not virtual systems are no change");
        let renamed = tables(vec![vm("a", "www", "Running", vec![])], "20250101T00:00:05Z");
        assert_eq!(diff(&a, &look(&renamed)).len(), 1);
    }

    #[test]
    fn indications_carry_both_instances_and_where_they_come_from() {
        let t0 = tables(vec![vm("a", "web", "Halted", vec![])], "20250101T00:00:00Z");
        let t1 = tables(vec![vm("a", "web", "Running", vec![("resident_on", s("H"))])], "20250101T00:00:00Z");
        let c = diff(&look(&t0), &look(&t1)).remove(0);
        let time = CimDateTime::from_unix_micros(86_400_000_000);
        let i = indication("root/cimv2", &c, time.clone(), "Xen:1:1", source_host(c.source(), &t1).as_deref());
        assert_eq!(i.path.classname, MODIFICATION);
        assert_eq!(i.get("IndicationTime"), Some(&CimValue::DateTime(time)));
        assert_eq!(i.get("SourceInstanceHost"), Some(&CimValue::from("xenhost")));
        assert_eq!(
            i.get("SourceInstanceModelPath"),
            Some(&CimValue::from("root/cimv2:Xen_ComputerSystem.CreationClassName=\"Xen_ComputerSystem\",Name=\"a\""))
        );
        let embedded = |name: &str| match i.get(name) {
            Some(CimValue::Instance(e)) => e.get("EnabledState").cloned(),
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(embedded("SourceInstance"), Some(CimValue::Uint16(2)));
        assert_eq!(embedded("PreviousInstance"), Some(CimValue::Uint16(3)));
        let created = indication("root/cimv2", &Change::Created(c.source().clone()), now(), "x", None);
        assert!(created.get("PreviousInstance").is_none() && created.get("SourceInstanceHost").is_none());
    }

    #[test]
    fn filters_select_through_the_classes_or_their_cim_parents() {
        assert_eq!(from_class("SELECT * FROM Xen_ComputerSystemCreation"), Some("Xen_ComputerSystemCreation"));
        assert_eq!(from_class("select * from CIM_InstModification where SourceInstance ISA Xen_ComputerSystem"), Some("CIM_InstModification"));
        assert_eq!(from_class("SELECT *"), None);
        assert!(check_selectable(Kind::Creation, "SELECT * FROM cim_instindication").is_ok());
        assert!(check_selectable(Kind::Deletion, "SELECT * FROM Xen_ComputerSystemDeletion WHERE SourceInstance.Name = 'x'").is_ok());
        let refused = check_selectable(Kind::Modification, "SELECT * FROM Xen_ComputerSystem").unwrap_err();
        assert!(refused.contains("Xen_ComputerSystemModification") && refused.contains("FROM Xen_ComputerSystem:"), "{refused}");
    }
}
