//! What the providers of this library share: a private tokio runtime (the XenAPI client is
//! async; the CMPI calls are not), the XenAPI connection, the event-driven cache, and the state
//! requested through `RequestStateChange`.
//!
//! Made on first use; shut down when the last provider object is dropped (the broker cleans up
//! every MI before it unloads the library, so no thread of the runtime outlives the code).

use crate::cache::{self, Cache, Tables};
use crate::xenapi_conn::{Conn, ProviderConfig, XenError};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use xenapi_core::client::Session;

pub struct Backend {
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    handle: tokio::runtime::Handle,
    pub conn: Arc<Conn>,
    pub cache: Arc<Cache>,
    /// VM uuid → the last RequestedState asked through CIM (in this process).
    requested: Mutex<HashMap<String, u16>>,
}

impl Backend {
    fn start() -> Result<Backend, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("xen-cim-providers")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the providers' runtime: {e}"))?;
        let handle = runtime.handle().clone();
        let conn = Arc::new(Conn::new(ProviderConfig::load()));
        let cache = Arc::new(Cache::new());
        handle.spawn(cache::run_poller(Arc::clone(&conn), Arc::clone(&cache)));
        Ok(Backend { runtime: Mutex::new(Some(runtime)), handle, conn, cache, requested: Mutex::new(HashMap::new()) })
    }

    /// Runs `fut` on the private runtime and waits for it. Works from any thread, including a
    /// thread of another tokio runtime (the embedded broker's), since it never enters a runtime.
    pub fn block_on<F>(&self, fut: F) -> Result<F::Output, String>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().map_err(|_| "the provider library is shutting down".to_string())
    }

    /// Calls `class.message(args)` with the shared session, waiting for the answer.
    pub fn call(&self, method: &str, args: Vec<xenapi_core::Value>) -> Result<xenapi_core::rpc::Wire, XenError> {
        crate::access::check(method)?;
        let conn = Arc::clone(&self.conn);
        let method = method.to_string();
        self.block_on(async move {
            let s: Arc<Session> = conn.session().await?;
            s.call(&method, args).await.map_err(XenError::from)
        })
        .map_err(XenError::Other)?
    }

    /// The cached tables, as of now: after the first sync, one `event.from(classes, token, 0.0)`
    /// call applies whatever changed since the last poll, so a CIM operation sees the changes a
    /// XenAPI client made just before it. If that call fails, the tables as they are are used.
    pub fn tables(&self) -> Result<Arc<Tables>, String> {
        self.cache.tables()?;
        for _ in 0..3 {
            let token = self.cache.token();
            if token.is_empty() {
                break; // a re-sync is under way: the poller brings the tables back
            }
            let conn = Arc::clone(&self.conn);
            let t = token.clone();
            match self.block_on(async move { cache::poll(&conn, &t, 0.0).await }) {
                Ok(Ok((events, next))) => {
                    if self.cache.commit(&token, events, next) {
                        break;
                    }
                    // Another answer came first; ask again from the newer token.
                }
                Ok(Err(e)) => {
                    self.cache.failed(format!("XenAPI event.from: {e}"), false);
                    break;
                }
                Err(_) => break,
            }
        }
        self.cache.tables()
    }

    pub fn last_requested(&self, vm_uuid: &str) -> Option<u16> {
        self.requested.lock().unwrap_or_else(|p| p.into_inner()).get(vm_uuid).copied()
    }

    pub fn set_requested(&self, vm_uuid: &str, state: u16) {
        self.requested.lock().unwrap_or_else(|p| p.into_inner()).insert(vm_uuid.to_string(), state);
    }

    fn shutdown(&self) {
        self.cache.close();
        let rt = self.runtime.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(rt) = rt {
            // A runtime may not be dropped from inside an async context; a fresh thread is never one.
            let _ = std::thread::spawn(move || rt.shutdown_timeout(std::time::Duration::from_secs(2))).join();
        }
    }
}

struct Shared {
    users: usize,
    backend: Option<Arc<Backend>>,
}

static SHARED: Mutex<Shared> = Mutex::new(Shared { users: 0, backend: None });

fn shared() -> std::sync::MutexGuard<'static, Shared> {
    SHARED.lock().unwrap_or_else(|p| p.into_inner())
}

/// Held by every provider object: keeps the backend alive, and gives access to it.
pub struct BackendRef(());

impl BackendRef {
    pub fn acquire() -> BackendRef {
        shared().users += 1;
        BackendRef(())
    }

    /// The backend, started on first use.
    pub fn get(&self) -> Result<Arc<Backend>, String> {
        let mut s = shared();
        if let Some(b) = &s.backend {
            return Ok(Arc::clone(b));
        }
        let b = Arc::new(Backend::start()?);
        s.backend = Some(Arc::clone(&b));
        Ok(b)
    }
}

impl Drop for BackendRef {
    fn drop(&mut self) {
        let last = {
            let mut s = shared();
            s.users -= 1;
            if s.users == 0 {
                s.backend.take()
            } else {
                None
            }
        };
        if let Some(b) = last {
            b.shutdown();
        }
    }
}
