//! A copy of the XenAPI records the providers serve, kept current by `event.from`, so that an
//! enumeration is answered from memory without a single XenAPI call.
//!
//! ```text
//! event.from(["vm","host",...], "", 30.0)    → every object as an `add` event, and a token
//! event.from(["vm","host",...], token, 30.0) → the changes since the token (waits up to 30 s)
//!   {events: [{class: "vm", operation: "mod", ref: "OpaqueRef:…", snapshot: {…}}, …], token: "…"}
//! ```
//!
//! One task polls in a loop. The answer to the empty token replaces the tables (a re-sync); later
//! answers are applied as add / mod / del. Any error (connection lost, `EVENTS_LOST`, ...) starts
//! a re-sync with the empty token after a short pause. Readers take an `Arc` of the tables, a
//! consistent view, and wait for the first sync.
//!
//! The token is kept with the tables, and an answer is applied only if the token it was asked
//! from is still the current one ([`Cache::commit`]). So a CIM operation can catch up at once
//! (`event.from(classes, token, 0.0)`: one call, whatever the number of objects) while the long
//! poll is waiting, and see a change a XenAPI client made just before; the long poll's answer
//! for the same token is then dropped, and asked again from the newer token.

use crate::xenapi_conn::{Conn, XenError};
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use xenapi_client::ObjectRecord;
use xenapi_model::model::model;
use xenapi_client::Wire;

/// The classes cached (lower case, as `event.from` names them).
/// VBD, VDI, VIF, network, SR, PBD and PIF serve the devices, the resource pools and their
/// associations; host_cpu, PIF_metrics and pool the host devices and Xen_HostPool.
pub const CLASSES: &[&str] = &["vm", "vm_metrics", "vm_guest_metrics", "host", "host_metrics", "vbd", "vdi", "vif", "network", "sr", "pbd", "pif", "host_cpu", "pif_metrics", "pool"];

/// The `event.from` timeout, seconds.
const POLL_TIMEOUT: f64 = 30.0;
/// How long a reader waits for the first sync while the poller keeps trying.
const FIRST_SYNC_WAIT: Duration = Duration::from_secs(20);

/// Every cached object: class → ref → record.
#[derive(Debug, Clone, Default)]
pub struct Tables {
    classes: HashMap<String, HashMap<String, ObjectRecord>>,
}

impl Tables {
    pub fn get(&self, class: &str, r: &str) -> Option<&ObjectRecord> {
        self.classes.get(class)?.get(r)
    }

    /// The stored (ref, record) of `r`: the ref borrowed from the tables.
    pub fn entry(&self, class: &str, r: &str) -> Option<(&String, &ObjectRecord)> {
        self.classes.get(class)?.get_key_value(r)
    }

    /// Every (ref, record) of `class`, in no particular order.
    pub fn iter(&self, class: &str) -> impl Iterator<Item = (&String, &ObjectRecord)> {
        self.classes.get(class).into_iter().flat_map(|m| m.iter())
    }

    /// The object of `class` whose `uuid` field is `uuid`.
    pub fn by_uuid(&self, class: &str, uuid: &str) -> Option<(&String, &ObjectRecord)> {
        self.iter(class).find(|(_, rec)| rec.str("uuid") == uuid)
    }

    /// The record a reference field of `rec` points to, if cached.
    pub fn deref(&self, class: &str, rec: &ObjectRecord, field: &str) -> Option<&ObjectRecord> {
        self.get(class, rec.str(field))
    }

    /// Applies one event: add and mod store the snapshot, del removes the object.
    pub fn apply(&mut self, ev: Event) {
        let table = self.classes.entry(ev.class).or_default();
        match (ev.operation.as_str(), ev.snapshot) {
            ("del", _) => {
                table.remove(&ev.r);
            }
            (_, Some(rec)) => {
                table.insert(ev.r, rec);
            }
            // An add or mod without a snapshot (a server that does not send one): nothing to keep.
            (_, None) => {}
        }
    }

    pub fn insert(&mut self, class: &str, r: &str, rec: ObjectRecord) {
        self.classes.entry(class.to_string()).or_default().insert(r.to_string(), rec);
    }
}

/// One event of an `event.from` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Lower case class name.
    pub class: String,
    /// `add`, `mod` or `del`.
    pub operation: String,
    pub r: String,
    pub snapshot: Option<ObjectRecord>,
}

fn member<'a>(members: &'a [(String, Wire)], name: &str) -> Option<&'a Wire> {
    members.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn wire_str(w: Option<&Wire>) -> Option<String> {
    match w {
        Some(Wire::Str(s)) => Some(s.clone()),
        _ => None,
    }
}

/// Decodes an `event.from` answer into its events and the next token. Events of classes the
/// model does not know are dropped; snapshots are typed by the model.
pub fn parse_batch(w: Wire) -> Result<(Vec<Event>, String), String> {
    let Wire::Struct(top) = w else { return Err(format!("event.from answered {w:?}")) };
    let token = wire_str(member(&top, "token")).ok_or("event.from answered without a token")?;
    let mut out = Vec::new();
    let items = match top.into_iter().find(|(k, _)| k == "events").map(|(_, v)| v) {
        Some(Wire::Array(items)) => items,
        other => return Err(format!("event.from events are {other:?}")),
    };
    for item in items {
        let Wire::Struct(fields) = item else { return Err("an event is not a struct".into()) };
        let class = wire_str(member(&fields, "class")).ok_or("an event has no class")?.to_ascii_lowercase();
        let operation = wire_str(member(&fields, "operation")).ok_or("an event has no operation")?;
        let r = wire_str(member(&fields, "ref")).ok_or("an event has no ref")?;
        let Some(model_class) = model().class_by_lower(&class) else { continue };
        let snapshot = match fields.into_iter().find(|(k, _)| k == "snapshot").map(|(_, v)| v) {
            Some(Wire::Struct(members)) => Some(ObjectRecord::from_wire(model_class, members).map_err(|e| e.to_string())?),
            _ => None,
        };
        out.push(Event { class, operation, r, snapshot });
    }
    Ok((out, token))
}

#[derive(Default)]
struct State {
    tables: Arc<Tables>,
    /// The `event.from` token the tables are current to ("" before the first sync or after an
    /// error, which makes the next answer a full re-sync).
    token: String,
    synced: bool,
    /// How many answers changed the tables so far (see [`Cache::wait_newer`]).
    generation: u64,
    /// Set when the latest poll failed; cleared by a successful one.
    error: Option<String>,
    /// Failed polls so far (readers stop waiting for the first sync after one).
    failures: u64,
    closed: bool,
}

/// The cache: the tables and the condition readers wait on.
#[derive(Default)]
pub struct Cache {
    state: Mutex<State>,
    changed: Condvar,
}

impl Cache {
    pub fn new() -> Cache {
        Cache::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current tables, after waiting for the first sync. Fails at once when the poller
    /// cannot reach the XenAPI (its last error says why).
    pub fn tables(&self) -> Result<Arc<Tables>, String> {
        let deadline = Instant::now() + FIRST_SYNC_WAIT;
        let mut st = self.lock();
        loop {
            if st.synced {
                return Ok(Arc::clone(&st.tables));
            }
            if st.closed {
                return Err("the provider library is shutting down".into());
            }
            if st.failures > 0 {
                return Err(st.error.clone().unwrap_or_else(|| "the XenAPI cannot be reached".into()));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!("no answer from the XenAPI within {FIRST_SYNC_WAIT:?}"));
            }
            st = self.changed.wait_timeout(st, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// Waits (at most `timeout`) until `pred` holds for the tables; true if it did.
    pub fn wait_until(&self, timeout: Duration, pred: impl Fn(&Tables) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        loop {
            if pred(&st.tables) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline || st.closed {
                return false;
            }
            st = self.changed.wait_timeout(st, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// The generation of the current tables: it grows with every answer that changed them.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Waits (at most `timeout`) until the tables change after generation `seen`; then the
    /// tables and their generation. A watcher keeps only the number, not the tables, so a
    /// commit never has to copy the tables because the watcher still holds them.
    pub fn wait_newer(&self, seen: u64, timeout: Duration) -> Option<(Arc<Tables>, u64)> {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        loop {
            if st.synced && st.generation != seen {
                return Some((Arc::clone(&st.tables), st.generation));
            }
            let now = Instant::now();
            if now >= deadline || st.closed {
                return None;
            }
            st = self.changed.wait_timeout(st, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// The token the tables are current to.
    pub fn token(&self) -> String {
        self.lock().token.clone()
    }

    /// True once the first sync is done.
    pub fn synced(&self) -> bool {
        self.lock().synced
    }

    /// Applies the answer to `event.from(classes, from, _)`, which returned `events` and `next`,
    /// if the tables are still at `from`; false (nothing applied) if another answer came first.
    /// The answer to the empty token replaces everything.
    pub fn commit(&self, from: &str, events: Vec<Event>, next: String) -> bool {
        let mut st = self.lock();
        if st.token != from {
            return false;
        }
        if from.is_empty() {
            let mut t = Tables::default();
            for ev in events {
                t.apply(ev);
            }
            st.tables = Arc::new(t);
            st.synced = true;
            st.generation += 1;
        } else if !events.is_empty() {
            let t = Arc::make_mut(&mut st.tables);
            for ev in events {
                t.apply(ev);
            }
            st.generation += 1;
        }
        st.token = next;
        st.error = None;
        drop(st);
        self.changed.notify_all();
        true
    }

    /// Records a failed poll (the data kept so far stays readable); with `resync` the next answer
    /// is asked from the empty token.
    pub fn failed(&self, error: String, resync: bool) {
        let mut st = self.lock();
        st.error = Some(error);
        st.failures += 1;
        if resync {
            st.token.clear();
        }
        drop(st);
        self.changed.notify_all();
    }

    /// Wakes every waiter for good (the library is being unloaded).
    pub fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }
}

/// One `event.from` call from `token`, decoded.
pub async fn poll(conn: &Conn, token: &str, timeout: f64) -> Result<(Vec<Event>, String), XenError> {
    let session = conn.session().await?;
    let w = session.event_from(CLASSES, token, timeout).await?;
    parse_batch(w).map_err(XenError::Other)
}

/// The poll loop; runs until its runtime shuts down.
pub async fn run_poller(conn: Arc<Conn>, cache: Arc<Cache>) {
    let mut pause = Duration::from_millis(200);
    loop {
        let token = cache.token();
        match poll(&conn, &token, POLL_TIMEOUT).await {
            Ok((events, next)) => {
                cache.commit(&token, events, next);
                pause = Duration::from_millis(200);
            }
            Err(e) => {
                cache.failed(format!("XenAPI event.from: {e}"), true);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(10));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::test_records::{s};


    fn vm_snapshot(uuid: &str, power: &str) -> Wire {
        Wire::Struct(vec![("uuid".into(), s(uuid)), ("name_label".into(), s("web")), ("power_state".into(), s(power))])
    }

    fn event(class: &str, op: &str, r: &str, snap: Option<Wire>) -> Wire {
        let mut f = vec![("id".into(), s("1")), ("class".into(), s(class)), ("operation".into(), s(op)), ("ref".into(), s(r))];
        if let Some(w) = snap {
            f.push(("snapshot".into(), w));
        }
        Wire::Struct(f)
    }

    fn batch(events: Vec<Wire>, token: &str) -> Wire {
        Wire::Struct(vec![("events".into(), Wire::Array(events)), ("valid_ref_counts".into(), Wire::Struct(vec![])), ("token".into(), s(token))])
    }

    #[test]
    fn parses_typed_snapshots_and_skips_unknown_classes() {
        let w = batch(
            vec![event("VM", "add", "OpaqueRef:1", Some(vm_snapshot("u1", "Running"))), event("no_such_class", "add", "OpaqueRef:2", None)],
            "42,0",
        );
        let (evs, token) = parse_batch(w).unwrap();
        assert_eq!(token, "42,0");
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].class, "vm");
        let rec = evs[0].snapshot.as_ref().unwrap();
        assert_eq!(rec.str("power_state"), "Running");
        assert_eq!(rec.class(), "VM");
    }

    #[test]
    fn malformed_answers_are_errors() {
        assert!(parse_batch(s("x")).is_err());
        assert!(parse_batch(Wire::Struct(vec![("events".into(), Wire::Array(vec![]))])).is_err(), "no token");
        assert!(parse_batch(batch(vec![s("not a struct")], "1")).is_err());
    }

    #[test]
    fn add_mod_del_and_replace() {
        let cache = Cache::new();
        let (evs, next) = parse_batch(batch(vec![event("vm", "add", "R1", Some(vm_snapshot("u1", "Halted")))], "1")).unwrap();
        assert!(cache.commit("", evs, next));
        let t = cache.tables().unwrap();
        assert_eq!(t.by_uuid("vm", "u1").unwrap().0, "R1");
        let (evs, _) = parse_batch(batch(
            vec![
                event("vm", "mod", "R1", Some(vm_snapshot("u1", "Running"))),
                event("vm", "add", "R2", Some(vm_snapshot("u2", "Halted"))),
            ],
            "2",
        ))
        .unwrap();
        assert!(!cache.commit("0", evs.clone(), "2".into()), "asked from an older token: dropped");
        assert!(cache.commit("1", evs, "2".into()));
        let t2 = cache.tables().unwrap();
        assert_eq!(t2.get("vm", "R1").unwrap().str("power_state"), "Running");
        assert_eq!(t.get("vm", "R1").unwrap().str("power_state"), "Halted", "an earlier view does not change");
        let (evs, _) = parse_batch(batch(vec![event("vm", "del", "R1", None)], "3")).unwrap();
        assert!(cache.commit("2", evs, "3".into()));
        assert!(cache.tables().unwrap().get("vm", "R1").is_none());
        assert_eq!(cache.tables().unwrap().iter("vm").count(), 1);
        // A re-sync forgets objects deleted while the poller was away.
        cache.failed("EVENTS_LOST".into(), true);
        assert_eq!(cache.token(), "");
        assert!(cache.tables().is_ok(), "the old data stays readable");
        let (evs, _) = parse_batch(batch(vec![event("vm", "add", "R3", Some(vm_snapshot("u3", "Halted")))], "9")).unwrap();
        assert!(cache.commit("", evs, "9".into()));
        let t3 = cache.tables().unwrap();
        assert!(t3.get("vm", "R2").is_none());
        assert!(t3.get("vm", "R3").is_some());
    }

    #[test]
    fn readers_fail_fast_when_the_first_sync_failed() {
        let cache = Cache::new();
        cache.failed("cannot connect".into(), true);
        assert_eq!(cache.tables().unwrap_err(), "cannot connect");
        assert!(cache.commit("", vec![], "1".into()));
        assert!(cache.tables().is_ok());
    }

    #[test]
    fn readers_wait_for_the_first_sync() {
        let cache = Arc::new(Cache::new());
        let c2 = Arc::clone(&cache);
        let h = std::thread::spawn(move || c2.tables().map(|t| t.iter("vm").count()));
        std::thread::sleep(Duration::from_millis(50));
        let (evs, _) = parse_batch(batch(vec![event("vm", "add", "R1", Some(vm_snapshot("u1", "Halted")))], "1")).unwrap();
        cache.commit("", evs, "1".into());
        assert_eq!(h.join().unwrap(), Ok(1));
    }

    #[test]
    fn wait_newer_sees_commits_that_changed_something() {
        let cache = Arc::new(Cache::new());
        assert!(cache.wait_newer(0, Duration::from_millis(10)).is_none(), "nothing before the first sync");
        cache.commit("", vec![], "1".into());
        let (_, g1) = cache.wait_newer(0, Duration::from_millis(10)).unwrap();
        cache.commit("1", vec![], "2".into());
        assert!(cache.wait_newer(g1, Duration::from_millis(10)).is_none(), "an empty answer changes nothing");
        let c2 = Arc::clone(&cache);
        let h = std::thread::spawn(move || c2.wait_newer(g1, Duration::from_secs(5)).map(|(t, g)| (t.get("vm", "R1").is_some(), g)));
        std::thread::sleep(Duration::from_millis(30));
        let (evs, _) = parse_batch(batch(vec![event("vm", "add", "R1", Some(vm_snapshot("u1", "Halted")))], "3")).unwrap();
        cache.commit("2", evs, "3".into());
        assert_eq!(h.join().unwrap(), Some((true, g1 + 1)));
    }

    #[test]
    fn wait_until_sees_later_changes() {
        let cache = Arc::new(Cache::new());
        cache.commit("", vec![], "1".into());
        assert!(!cache.wait_until(Duration::from_millis(20), |t| t.get("vm", "R1").is_some()));
        let c2 = Arc::clone(&cache);
        let h = std::thread::spawn(move || c2.wait_until(Duration::from_secs(5), |t| t.get("vm", "R1").is_some()));
        std::thread::sleep(Duration::from_millis(30));
        let (evs, _) = parse_batch(batch(vec![event("vm", "add", "R1", Some(vm_snapshot("u1", "Halted")))], "2")).unwrap();
        cache.commit("1", evs, "2".into());
        assert!(h.join().unwrap());
    }
}
