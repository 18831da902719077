//! Connection budgets for the HTTP listeners of the XenAPI server and the CIM broker.
//!
//! A listener group (the XenAPI's TCP and TLS ports, its Unix socket, the CIM ports) may hold a
//! fixed number of connections. A plain limit lets anybody who can open that many idle
//! connections stop the service until their header timeout runs out (1,024 idle TCP connections
//! stopped the XenAPI for a minute, and the CIM providers with it, who shared the limit through
//! the Unix socket). Here, when the budget is full, the **oldest idle** connection (one that is
//! not handling a request: just accepted, or kept alive between requests) is closed to make room;
//! a new connection waits only while every connection is busy with a request.
//!
//! Written here because no maintained crate combines a connection limit with idle eviction for
//! hyper's HTTP/1 connections (tower's limits bound requests, not idle connections).
//!
//! ```ignore
//! let budget = Budget::new(1024);
//! let ticket = budget.admit().await;              // maybe after closing an idle connection
//! let svc = service_fn({ let t = ticket.activity(); move |req| { let busy = t.busy(); async move { Ok(busy.track(handle(req).await)) } } });
//! run(http1::Builder::new().serve_connection(io, svc), &ticket, stopping).await;
//! ```

use hyper_util::server::graceful::GracefulConnection;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// How long `admit` waits for an evicted connection to end before it looks again.
const EVICTION_WAIT: Duration = Duration::from_secs(2);

/// The connections one listener group may hold.
pub struct Budget {
    limit: usize,
    slots: Mutex<Slots>,
    /// Signalled whenever a connection ends.
    freed: Notify,
}

#[derive(Default)]
struct Slots {
    next_id: u64,
    /// By admission order, so the first idle one found is the oldest.
    live: BTreeMap<u64, Arc<Slot>>,
}

/// What the budget knows of one connection.
struct Slot {
    /// Requests being handled now; idle at 0.
    requests: AtomicUsize,
    /// Raised to ask the connection to close.
    close: Notify,
    evicting: std::sync::atomic::AtomicBool,
}

/// A connection's place in the budget; the place is given back when it is dropped.
pub struct Ticket {
    budget: Arc<Budget>,
    id: u64,
    slot: Arc<Slot>,
}

/// A handle for the request service of one connection, to mark it busy while a request runs.
#[derive(Clone)]
pub struct Activity(Arc<Slot>);

/// Marks its connection busy while alive.
pub struct Busy(Arc<Slot>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.requests.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Busy {
    /// The response, with this guard moved into its body: the connection stays busy until hyper
    /// has written the whole answer and dropped the body, so eviction never cuts an answer short.
    pub fn track<B>(self, response: http::Response<B>) -> http::Response<Tracked<B>> {
        response.map(|inner| Tracked { inner, _busy: self })
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its connection busy until it is dropped.
    pub struct Tracked<B> {
        #[pin]
        inner: B,
        _busy: Busy,
    }
}

impl<B: http_body::Body> http_body::Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Activity {
    /// Marks the connection busy until the returned guard is dropped: from a request's arrival
    /// until its answer is written ([`Busy::track`]).
    pub fn busy(&self) -> Busy {
        self.0.requests.fetch_add(1, Ordering::SeqCst);
        Busy(self.0.clone())
    }
}

impl Budget {
    pub fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget { limit: limit.max(1), slots: Mutex::new(Slots::default()), freed: Notify::new() })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Connections held now.
    pub fn live(&self) -> usize {
        self.lock().live.len()
    }

    /// A place for a new connection: at once below the limit; at the limit, after closing the
    /// oldest idle connection; when every connection is busy, once one ends.
    pub async fn admit(self: &Arc<Self>) -> Ticket {
        loop {
            let freed = self.freed.notified();
            let mut freed = pin!(freed);
            freed.as_mut().enable();
            {
                let mut s = self.lock();
                if s.live.len() < self.limit {
                    let id = s.next_id;
                    s.next_id += 1;
                    let slot = Arc::new(Slot {
                        requests: AtomicUsize::new(0),
                        close: Notify::new(),
                        evicting: false.into(),
                    });
                    s.live.insert(id, slot.clone());
                    return Ticket { budget: self.clone(), id, slot };
                }
                let idle = s.live.values().find(|slot| {
                    slot.requests.load(Ordering::SeqCst) == 0 && !slot.evicting.load(Ordering::SeqCst)
                });
                if let Some(slot) = idle {
                    slot.evicting.store(true, Ordering::SeqCst);
                    // notify_one stores a permit: the connection sees it even if not yet waiting.
                    slot.close.notify_one();
                }
            }
            // Wait for a connection to end (the evicted one, or any); look again now and then in
            // case the evicted one became busy and ends only later.
            let _ = tokio::time::timeout(EVICTION_WAIT, freed).await;
        }
    }

    /// Waits until every connection has ended, or `limit` has passed; false if some remain.
    pub async fn drained(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let freed = self.freed.notified();
            let mut freed = pin!(freed);
            freed.as_mut().enable();
            if self.live() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                return self.live() == 0;
            }
        }
    }
}

impl Ticket {
    /// The handle the connection's request service marks itself busy with.
    pub fn activity(&self) -> Activity {
        Activity(self.slot.clone())
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.budget.lock().live.remove(&self.id);
        self.budget.freed.notify_waiters();
    }
}

/// Serves one connection to its end. When the budget evicts it, it is dropped at once if it is
/// still idle (no request handled, no answer being written: nothing is lost), else closed
/// gracefully after its request; when `stopping` resolves it is closed gracefully. Hold the
/// ticket until this returns.
pub async fn run<C>(conn: C, ticket: &Ticket, stopping: impl Future<Output = ()>) -> Result<(), C::Error>
where
    C: GracefulConnection,
{
    let mut conn = pin!(conn);
    let mut stopping = pin!(stopping);
    tokio::select! {
        r = conn.as_mut() => return r,
        _ = ticket.slot.close.notified() => {
            // hyper's graceful shutdown would keep a connection that has not sent a whole request
            // header open until its header timeout; an idle one is simply dropped.
            if ticket.slot.requests.load(Ordering::SeqCst) == 0 {
                return Ok(());
            }
            conn.as_mut().graceful_shutdown();
        }
        _ = stopping.as_mut() => conn.as_mut().graceful_shutdown(),
    }
    conn.await
}

/// Pending connections the kernel keeps for a listener before it drops new ones (each then waits
/// a second for its SYN to be sent again). `TcpListener::bind` asks for 128, which a burst of
/// clients overruns while the accept loop is busy.
pub const BACKLOG: u32 = 1024;

/// A TCP listener on `addr` with a backlog of [`BACKLOG`] (address reuse as `TcpListener::bind`).
pub fn bind_tcp(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn below_the_limit_admits_at_once_and_a_dropped_ticket_frees_its_place() {
        let b = Budget::new(2);
        let t1 = b.admit().await;
        let _t2 = b.admit().await;
        assert_eq!(b.live(), 2);
        drop(t1);
        assert_eq!(b.live(), 1);
        let _t3 = tokio::time::timeout(Duration::from_secs(1), b.admit()).await.expect("a place was free");
    }

    #[tokio::test]
    async fn at_the_limit_the_oldest_idle_connection_is_asked_to_close() {
        let b = Budget::new(2);
        let busy = b.admit().await;
        let _guard = busy.activity().busy();
        let idle = b.admit().await;
        let idle_slot = idle.slot.clone();
        let waiter = tokio::spawn({
            let b = b.clone();
            async move { b.admit().await }
        });
        // The idle one (not the busy, older one) is asked to close...
        tokio::time::timeout(Duration::from_secs(1), idle_slot.close.notified()).await.expect("eviction");
        assert!(!busy.slot.evicting.load(Ordering::SeqCst));
        // ...and once it has, the new connection gets its place.
        drop(idle);
        let t = tokio::time::timeout(Duration::from_secs(1), waiter).await.expect("admitted").unwrap();
        assert_eq!(b.live(), 2);
        drop(t);
    }

    #[tokio::test]
    async fn when_every_connection_is_busy_a_new_one_waits_for_one_to_end() {
        let b = Budget::new(1);
        let only = b.admit().await;
        let guard = only.activity().busy();
        let waiter = tokio::spawn({
            let b = b.clone();
            async move { b.admit().await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiter.is_finished(), "a busy connection is never evicted");
        assert!(!only.slot.evicting.load(Ordering::SeqCst));
        drop(guard);
        drop(only);
        tokio::time::timeout(Duration::from_secs(5), waiter).await.expect("admitted after the end").unwrap();
    }

    #[tokio::test]
    async fn drained_waits_for_the_last_connection() {
        let b = Budget::new(4);
        let t = b.admit().await;
        assert!(!b.drained(Duration::from_millis(50)).await);
        let b2 = b.clone();
        let h = tokio::spawn(async move { b2.drained(Duration::from_secs(5)).await });
        drop(t);
        assert!(h.await.unwrap());
    }
}
