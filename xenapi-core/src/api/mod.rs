//! The running API: the store, the sessions and the dispatch table, and one module per class
//! for its custom messages.

pub mod event;
mod guest_agent;
pub mod memory;
pub mod host;
pub mod network;
pub mod ops;
pub mod ownership;
pub mod pbd;
pub mod pif;
pub mod sr;
pub mod session;
pub mod task;
pub mod users;
pub mod vbd;
pub mod vdi;
pub mod vif;
pub mod vm;
mod vm_copy;
pub mod vm_devices;
mod vm_power;
pub mod vm_state;

use crate::backend::Backend;
use crate::config::CoreConfig;
use crate::dispatch::Dispatcher;
use crate::error::ApiError;
use crate::rpc::Wire;
use crate::store::Store;
use crate::value::Value;
use std::sync::{Arc, OnceLock};

/// The dispatch table of this server: every message of the model, with the handlers of the api
/// modules bound to those they implement and `model/unimplemented.txt`'s bound to
/// `NOT_IMPLEMENTED` ([`check_coverage`] says whether that covers every declared message).
pub fn dispatcher() -> Dispatcher {
    let mut d = Dispatcher::from_model();
    session::register(&mut d);
    task::register(&mut d);
    vm::register(&mut d);
    host::register(&mut d);
    event::register(&mut d);
    sr::register(&mut d);
    pbd::register(&mut d);
    vdi::register(&mut d);
    vbd::register(&mut d);
    network::register(&mut d);
    pif::register(&mut d);
    vif::register(&mut d);
    d
}

/// Ok if every message the model declares is implemented or listed as unimplemented (with its
/// reason); else which are neither. The server does not start with such a gap, so a message
/// added to the model without a handler or a reason is found at once. A listed message that is
/// implemented after all only makes the list out of date (the handler serves it): logged here,
/// and a failure of the unit test.
pub fn check_coverage(d: &Dispatcher) -> Result<(), String> {
    let c = crate::dispatch::unimplemented::coverage(d);
    if !c.stale.is_empty() {
        tracing::warn!(messages = %c.stale.join(", "), "implemented but still listed in model/unimplemented.txt");
    }
    if c.unlisted.is_empty() {
        Ok(())
    } else {
        Err(format!("declared in the data model but neither implemented nor listed as unimplemented: {}", c.unlisted.join(", ")))
    }
}

/// Whether this server implements the message `name` (`VM.checkpoint`): what advertises
/// operations asks, so that no object offers one that would answer NOT_IMPLEMENTED.
pub fn is_implemented(name: &str) -> bool {
    static TABLE: OnceLock<Dispatcher> = OnceLock::new();
    TABLE.get_or_init(dispatcher).get(name).is_some_and(|m| m.implemented)
}

pub struct Xapi {
    pub config: CoreConfig,
    pub store: Store,
    pub sessions: session::Sessions,
    pub backend: Arc<dyn Backend>,
    pub tasks: task::Running,
    /// Who made each task (only they, and pool-operators, may change it).
    pub task_owners: ownership::TaskOwners,
    pub events: event::Subscriptions,
    dispatcher: OnceLock<Dispatcher>,
    /// The host this server is (`session.get_this_host`).
    pub this_host: String,
    /// Set when the server stops.
    pub stopping: Stopping,
    pub pool: String,
}

/// Whether the server is stopping. Long polls (`event.from`, `event.next`) answer at once when it
/// is, rather than holding their connections open through the graceful shutdown, which would
/// make every stop wait out its 10 s grace while a watcher (such as the CIM providers) is
/// connected.
#[derive(Default)]
pub struct Stopping {
    set: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
}

impl Stopping {
    pub fn stop(&self) {
        self.set.store(true, std::sync::atomic::Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_set(&self) -> bool {
        self.set.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Resolves once [`Stopping::stop`] was called.
    pub async fn wait(&self) {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.is_set() {
            return;
        }
        notified.await
    }
}

impl Xapi {
    /// Opens the state directory, bootstraps it on first start, and builds the dispatch table.
    pub fn open(config: CoreConfig) -> Result<Arc<Xapi>, String> {
        crate::state_dir::prepare(&config.state_dir)?;
        let store = Store::open(&config.state_dir)?;
        let boot = crate::bootstrap::ensure(&store, &config)?;
        let sessions = session::Sessions::load(&store, &config)?;
        let backend = crate::backend::open(&config)?;
        let xapi = Arc::new(Xapi {
            config,
            store,
            sessions,
            backend,
            tasks: task::Running::default(),
            task_owners: ownership::TaskOwners::default(),
            events: event::Subscriptions::default(),
            dispatcher: OnceLock::new(),
            this_host: boot.host,
            stopping: Stopping::default(),
            pool: boot.pool,
        });
        let table = dispatcher();
        check_coverage(&table)?;
        let _ = xapi.dispatcher.set(table);

        vm_state::reconcile(&xapi).map_err(|e| format!("cannot reconcile the store with the {} backend: {e}", xapi.backend.kind()))?;
        ops::refresh_all(&xapi).map_err(|e| format!("cannot recompute allowed_operations: {e}"))?;
        Ok(xapi)
    }

    pub fn dispatcher(&self) -> &Dispatcher {
        self.dispatcher.get().expect("dispatcher built in open")
    }

    /// Runs one call as it came off the wire.
    pub async fn call(self: &Arc<Self>, method: &str, params: Vec<Wire>) -> Result<Value, ApiError> {
        self.dispatcher().call(self, method, params).await
    }

    /// Background upkeep until the runtime stops: metrics refresh and crashed domains (every
    /// `metrics_interval_secs`), idle sessions and finished tasks (every minute).
    pub fn spawn_housekeeping(self: &Arc<Self>) {
        let me = Arc::downgrade(self);
        let every = std::time::Duration::from_secs_f64(self.config.host.metrics_interval_secs.max(0.1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            let mut last_slow = std::time::Instant::now();
            loop {
                tick.tick().await;
                let Some(x) = me.upgrade() else { return };
                let _ = tokio::task::spawn_blocking(move || {
                    vm_state::handle_crashes(&x);
                    vm_state::handle_guest_shutdowns(&x);
                    vm_state::refresh_metrics(&x);
                    if last_slow.elapsed() >= std::time::Duration::from_secs(60) {
                        x.sessions.expire_idle(&x.store);
                        x.events.prune(|s| x.sessions.is_live(s));
                        task::collect_garbage(&x.store);
                        x.task_owners.forget_gone(&x.store);
                    }
                })
                .await;
                if last_slow.elapsed() >= std::time::Duration::from_secs(60) {
                    last_slow = std::time::Instant::now();
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::unimplemented::coverage;

    /// Every declared message is implemented or refused on purpose: the failure names each
    /// message that is neither, and each listed one that a handler implements after all.
    #[test]
    fn every_declared_message_is_implemented_or_listed_with_a_reason() {
        let d = dispatcher();
        let c = coverage(&d);
        if let Err(e) = c.check() {
            panic!("{e}");
        }
        assert!(check_coverage(&d).is_ok());
        assert_eq!(c.refused.len(), crate::dispatch::unimplemented::list().len());
        assert!(c.implemented.len() > 100 && !c.refused.is_empty());
    }

    /// system.listMethods leaves out exactly the listed messages (their NOT_IMPLEMENTED answer is
    /// checked through the SDK, tests/xenapi/test_xenapi_operations.py).
    #[test]
    fn listed_messages_are_left_out_of_list_methods() {
        let d = dispatcher();
        let listed = d.list_methods();
        for (name, _) in crate::dispatch::unimplemented::list() {
            let m = d.get(name).expect("bound");
            assert!(!m.implemented, "{name}");
            assert!(!listed.iter().any(|l| l == name), "{name} in system.listMethods");
        }
        for name in coverage(&d).implemented {
            assert!(listed.contains(&name), "{name} implemented but not in system.listMethods");
        }
    }

    /// A gap and a stale entry are both reported, by name.
    #[test]
    fn coverage_reports_gaps_and_stale_entries() {
        let mut d = Dispatcher::from_model();
        d.implement("VM.checkpoint", crate::dispatch::Handler::Sync(Arc::new(|_, _| Ok(Value::void()))));
        let c = coverage(&d);
        assert!(c.stale.contains(&"VM.checkpoint".to_string()));
        assert!(c.unlisted.contains(&"VM.start".to_string()), "no api module registered: VM.start is a gap");
        let e = c.check().unwrap_err();
        assert!(e.contains("neither implemented nor listed") && e.contains("VM.start") && e.contains("still listed") && e.contains("VM.checkpoint"), "{e}");
    }
}
