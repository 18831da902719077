//! What the providers of this library share: a private tokio runtime (the XenAPI client is
//! async; the CMPI calls are not), the XenAPI connection, the event-driven cache, and the state
//! requested through `RequestStateChange`.
//!
//! Made on first use; shut down when the last provider object is dropped (the broker cleans up
//! every MI before it unloads the library, so no thread of the runtime outlives the code).

use crate::cache::{self, Cache, Tables};
use crate::requested_state::{RequestedStates, TaskEnd};
use crate::xen_computer_system::PowerState;
use crate::xenapi_conn::{Conn, ProviderConfig, XenError};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use crate::util::calls;
use xenapi_client::{Caller, ObjectRecord, Session};
use xenapi_model::generated::TaskStatusType;

/// How often the task of a running state change is looked at.
const TASK_FOLLOW_INTERVAL: Duration = Duration::from_millis(500);
/// Consecutive failed looks after which a task is no longer followed.
const TASK_FOLLOW_FAILURES: u32 = 20;

pub struct Backend {
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    handle: tokio::runtime::Handle,
    pub conn: Arc<Conn>,
    pub cache: Arc<Cache>,
    /// The requests made through RequestStateChange (in this process), by VM uuid.
    requested: Arc<RequestedStates>,
}

/// The typed calls generated from the model (`xenapi_client::calls`) run through the one blocking
/// entry point, role check included.
impl Caller for Backend {
    type Error = XenError;
    fn call(&self, method: &str, args: Vec<xenapi_model::Value>) -> Result<xenapi_client::Wire, XenError> {
        Backend::call(self, method, args)
    }
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
        Ok(Backend { runtime: Mutex::new(Some(runtime)), handle, conn, cache, requested: Arc::new(RequestedStates::default()) })
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
    pub fn call(&self, method: &str, args: Vec<xenapi_model::Value>) -> Result<xenapi_client::Wire, XenError> {
        crate::access::check(method, &args)?;
        let conn = Arc::clone(&self.conn);
        let name = method.to_string();
        let result = self
            .block_on(async move {
                let s: Arc<Session> = conn.session().await?;
                s.call(&name, args).await.map_err(XenError::from)
            })
            .map_err(XenError::Other)??;
        crate::access::note_result(method, &result);
        Ok(result)
    }

    /// Sends a typed call (`b.run(calls::vm::start(&vm, false, false))`) through [`Backend::call`],
    /// so it passes the same role check, and types its answer.
    pub fn run<T>(&self, c: xenapi_client::Call<T>) -> Result<T, XenError> {
        Caller::run(self, c)
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

    /// RequestedState of `vm` (a VM record of the cache): see [`crate::requested_state`].
    pub fn requested_state(&self, vm: &ObjectRecord) -> u16 {
        self.requested.shown(vm.str("uuid"), PowerState::parse(vm.str("power_state")))
    }

    /// Remembers a request that completed: VM `vm_uuid` went from `origin` to `target`.
    pub fn request_done(&self, vm_uuid: &str, state: u16, origin: PowerState, target: PowerState) {
        self.requested.record(vm_uuid, state, origin, target, true);
    }

    /// Remembers a request carried out by the XenAPI task `task_ref` (a job), and follows the
    /// task in the background until it ends ([`crate::requested_state::TaskEnd`]).
    pub fn request_running(&self, vm_uuid: &str, state: u16, origin: PowerState, target: PowerState, task_ref: &str) {
        let id = self.requested.record(vm_uuid, state, origin, target, false);
        let (conn, requested) = (Arc::clone(&self.conn), Arc::clone(&self.requested));
        let (vm_uuid, task_ref) = (vm_uuid.to_string(), task_ref.to_string());
        self.handle.spawn(async move {
            let mut failures = 0;
            // Stops when the task ends, when a newer request replaces this one, or when the
            // server keeps failing (the request is then left as it is).
            while requested.is_current(&vm_uuid, id) && failures < TASK_FOLLOW_FAILURES {
                tokio::time::sleep(TASK_FOLLOW_INTERVAL).await;
                let status = match conn.session().await {
                    Ok(s) => s.run(calls::task::get_status(task_ref.as_str())).await.map_err(XenError::from),
                    Err(e) => Err(e),
                };
                match status {
                    Ok(st) if crate::xen_job::is_finished(st.wire_name()) => {
                        requested.task_ended(&vm_uuid, id, if st == TaskStatusType::Success { TaskEnd::Succeeded } else { TaskEnd::Failed });
                        return;
                    }
                    Ok(_) => failures = 0,
                    // Destroyed (by KillJob with DeleteOnKill, or a XenAPI client) unseen.
                    Err(e) if e.code() == Some("HANDLE_INVALID") => {
                        requested.task_ended(&vm_uuid, id, TaskEnd::Gone);
                        return;
                    }
                    Err(_) => failures += 1,
                }
            }
        });
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

    /// The cached tables as of now, for a CIM operation (starting the backend on first use).
    pub fn tables(&self) -> Result<Arc<crate::cache::Tables>, cmpi_shim::CmpiError> {
        self.get().and_then(|b| b.tables()).map_err(cmpi_shim::CmpiError::failed)
    }

    /// The backend and its cached tables as of now, for a CIM operation.
    pub fn with_tables(&self) -> Result<(Arc<Backend>, Arc<crate::cache::Tables>), cmpi_shim::CmpiError> {
        let b = self.get().map_err(cmpi_shim::CmpiError::failed)?;
        let t = b.tables().map_err(cmpi_shim::CmpiError::failed)?;
        Ok((b, t))
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
