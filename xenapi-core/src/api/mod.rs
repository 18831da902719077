//! The running API: the store, the sessions and the dispatch table, and one module per class
//! for its custom messages.

pub mod host;
pub mod session;
pub mod task;
pub mod users;
pub mod vm;

use crate::config::CoreConfig;
use crate::dispatch::Dispatcher;
use crate::error::ApiError;
use crate::rpc::Wire;
use crate::store::Store;
use crate::value::Value;
use std::sync::{Arc, OnceLock};

pub struct Xapi {
    pub config: CoreConfig,
    pub store: Store,
    pub sessions: session::Sessions,
    dispatcher: OnceLock<Dispatcher>,
    /// The host this server is (`session.get_this_host`).
    pub this_host: String,
    pub pool: String,
}

impl Xapi {
    /// Opens the state directory, bootstraps it on first start, and builds the dispatch table.
    pub fn open(config: CoreConfig) -> Result<Arc<Xapi>, String> {
        std::fs::create_dir_all(&config.state_dir)
            .map_err(|e| format!("cannot create state directory {}: {e}", config.state_dir.display()))?;
        let store = Store::open(&config.state_dir)?;
        let boot = crate::bootstrap::ensure(&store, &config)?;
        let sessions = session::Sessions::load(&store, &config)?;
        let xapi = Arc::new(Xapi {
            config,
            store,
            sessions,
            dispatcher: OnceLock::new(),
            this_host: boot.host,
            pool: boot.pool,
        });
        let mut d = Dispatcher::from_model();
        session::register(&mut d);
        task::register(&mut d);
        vm::register(&mut d);
        host::register(&mut d);
        let _ = xapi.dispatcher.set(d);
        Ok(xapi)
    }

    pub fn dispatcher(&self) -> &Dispatcher {
        self.dispatcher.get().expect("dispatcher built in open")
    }

    /// Runs one call as it came off the wire.
    pub async fn call(self: &Arc<Self>, method: &str, params: Vec<Wire>) -> Result<Value, ApiError> {
        self.dispatcher().call(self, method, params).await
    }

    /// Background upkeep: expiring idle sessions. Runs until the runtime stops.
    pub fn spawn_housekeeping(self: &Arc<Self>) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                let Some(x) = me.upgrade() else { return };
                x.sessions.expire_idle(&x.store);
            }
        });
    }
}
