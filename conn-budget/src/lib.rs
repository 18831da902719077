//! Connection budgets for the HTTP listeners of the XenAPI server and the CIM broker.
//!
//! A listener group (the XenAPI's TCP and TLS ports, its Unix socket, the CIM ports) may hold a
//! fixed number of connections. A plain limit lets anybody who can open that many idle
//! connections stop the service until their header timeout runs out (1,024 idle TCP connections
//! stopped the XenAPI for a minute, and the CIM providers with it, who shared the limit through
//! the Unix socket). Here, when the budget is full, the connection **idle longest** is closed to
//! make room; a new connection waits only while none is idle. Idle means: no request being
//! handled and no answer being written, and either nothing received for [`IDLE_MIN`] (a connection
//! that was just accepted or is kept alive between requests: its client is about to send, or has
//! gone quiet), or a request header still incomplete after [`SLOW_HEADER`] (slowloris). A request
//! whose bytes have started to arrive is not cut short while it arrives at a client's pace.
//!
//! Written here because no maintained crate combines a connection limit with idle eviction for
//! hyper's HTTP/1 connections (tower's limits bound requests, not idle connections).
//!
//! ```ignore
//! let budget = Budget::new(1024);
//! let ticket = budget.admit().await;              // maybe after closing an idle connection
//! let io = ticket.watch(stream);                  // notes when request bytes arrive
//! let svc = service_fn({ let t = ticket.activity(); move |req| { let busy = t.busy(); async move { Ok(busy.track(handle(req).await)) } } });
//! run(http1::Builder::new().serve_connection(io, svc), &ticket, stopping).await;
//! ```

use hyper_util::server::graceful::GracefulConnection;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// A connection that has received nothing for this long (since it was accepted, or since its last
/// answer) may be closed to make room.
pub const IDLE_MIN: Duration = Duration::from_millis(100);
/// A request header still incomplete after this long may be closed to make room (real clients
/// send a header in one go; hyper's own header timeout, 60 s, is for when there is room).
pub const SLOW_HEADER: Duration = Duration::from_secs(2);
/// How often `admit` looks again while no connection is idle enough to close.
const RECHECK: Duration = Duration::from_millis(100);

/// The connections one listener group may hold.
pub struct Budget {
    limit: usize,
    slots: Mutex<Slots>,
    /// Signalled whenever a connection ends.
    freed: Notify,
    epoch: Instant,
}

#[derive(Default)]
struct Slots {
    next_id: u64,
    /// By admission order, so the first idle one found is the oldest.
    live: BTreeMap<u64, Arc<Slot>>,
}

/// What the budget knows of one connection. Times are milliseconds since the budget's epoch.
struct Slot {
    epoch: Instant,
    /// Requests being handled now (from their header's arrival until their answer is written).
    requests: AtomicUsize,
    /// When the connection was accepted or last finished an answer.
    quiet_since: AtomicU64,
    /// When the first byte of a request that is not yet being handled arrived; NONE otherwise.
    header_since: AtomicU64,
    /// Raised to ask the connection to close.
    close: Notify,
    evicting: std::sync::atomic::AtomicBool,
}

const NONE: u64 = u64::MAX;

impl Slot {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// How long the connection has been idle in the sense of the module doc, if it is.
    fn idle_for(&self) -> Option<Duration> {
        if self.requests.load(Ordering::SeqCst) > 0 || self.evicting.load(Ordering::SeqCst) {
            return None;
        }
        let now = self.now();
        match self.header_since.load(Ordering::SeqCst) {
            NONE => {
                let quiet = Duration::from_millis(now.saturating_sub(self.quiet_since.load(Ordering::SeqCst)));
                (quiet >= IDLE_MIN).then_some(quiet)
            }
            since => {
                let slow = Duration::from_millis(now.saturating_sub(since));
                (slow >= SLOW_HEADER).then_some(slow)
            }
        }
    }

    /// Bytes arrived: the start of a request, unless one is already being handled or arriving.
    fn received(&self) {
        if self.requests.load(Ordering::SeqCst) == 0 && self.header_since.load(Ordering::SeqCst) == NONE {
            self.header_since.store(self.now(), Ordering::SeqCst);
        }
    }
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
        self.0.quiet_since.store(self.0.now(), Ordering::SeqCst);
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
        self.0.header_since.store(NONE, Ordering::SeqCst);
        Busy(self.0.clone())
    }
}

impl Budget {
    pub fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget { limit: limit.max(1), slots: Mutex::new(Slots::default()), freed: Notify::new(), epoch: Instant::now() })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Connections held now.
    pub fn live(&self) -> usize {
        self.lock().live.len()
    }

    /// A place for a new connection: at once below the limit; at the limit, after closing the
    /// connection idle longest; while none is idle, once one ends or becomes idle.
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
                    let now = self.epoch.elapsed().as_millis() as u64;
                    let slot = Arc::new(Slot {
                        epoch: self.epoch,
                        requests: AtomicUsize::new(0),
                        quiet_since: AtomicU64::new(now),
                        header_since: AtomicU64::new(NONE),
                        close: Notify::new(),
                        evicting: false.into(),
                    });
                    s.live.insert(id, slot.clone());
                    return Ticket { budget: self.clone(), id, slot };
                }
                // Idle longest; on a tie (millisecond clock) the one admitted first.
                let idlest = s
                    .live
                    .values()
                    .filter_map(|slot| slot.idle_for().map(|d| (d, slot)))
                    .fold(None, |best: Option<(Duration, &Arc<Slot>)>, (d, slot)| match best {
                        Some((bd, _)) if bd >= d => best,
                        _ => Some((d, slot)),
                    });
                if let Some((_, slot)) = idlest {
                    slot.evicting.store(true, Ordering::SeqCst);
                    // notify_one stores a permit: the connection sees it even if not yet waiting.
                    slot.close.notify_one();
                }
            }
            // Wait for a connection to end (the evicted one, or any), or look again shortly: a
            // connection may have become idle enough meanwhile.
            let _ = tokio::time::timeout(RECHECK, freed).await;
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

    /// Resolves when the budget asks this connection to make room: for work before [`run`], such
    /// as a TLS handshake, which a client could otherwise stall to hold its place.
    pub async fn evicted(&self) {
        self.slot.close.notified().await
    }

    /// The connection's stream, watched for the arrival of request bytes (serve this one).
    pub fn watch<IO>(&self, io: IO) -> Watched<IO> {
        Watched { io, slot: self.slot.clone() }
    }
}

pin_project_lite::pin_project! {
    /// A connection's stream that tells its budget when request bytes arrive.
    pub struct Watched<IO> {
        #[pin]
        io: IO,
        slot: Arc<Slot>,
    }
}

impl<IO: AsyncRead> AsyncRead for Watched<IO> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let r = this.io.poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.slot.received();
        }
        r
    }
}

impl<IO: AsyncWrite> AsyncWrite for Watched<IO> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        self.project().io.poll_write(cx, data)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().io.poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.project().io.poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
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
            // header open until its header timeout; one with no request handled is dropped.
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
        // Just accepted: not idle yet (its request may be on its way).
        assert!(idle.slot.idle_for().is_none());
        tokio::time::sleep(IDLE_MIN + Duration::from_millis(50)).await;
        let idle_slot = idle.slot.clone();
        let waiter = tokio::spawn({
            let b = b.clone();
            async move { b.admit().await }
        });
        // The idle one (not the busy, older one) is asked to close...
        tokio::time::timeout(Duration::from_secs(2), idle_slot.close.notified()).await.expect("eviction");
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
    async fn a_request_arriving_is_not_idle_until_it_is_slow() {
        let b = Budget::new(4);
        let t = b.admit().await;
        tokio::time::sleep(IDLE_MIN + Duration::from_millis(50)).await;
        assert!(t.slot.idle_for().is_some(), "quiet since accepted");
        t.slot.received();
        assert!(t.slot.idle_for().is_none(), "a header is arriving");
        let busy = t.activity().busy();
        assert!(t.slot.idle_for().is_none(), "a request is handled");
        drop(busy);
        assert!(t.slot.idle_for().is_none(), "an answer was just written");
        tokio::time::sleep(IDLE_MIN + Duration::from_millis(50)).await;
        assert!(t.slot.idle_for().is_some(), "kept alive with nothing to do");
        t.slot.received();
        tokio::time::sleep(SLOW_HEADER + Duration::from_millis(50)).await;
        assert!(t.slot.idle_for().is_some(), "a header that takes this long is slowloris");
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
