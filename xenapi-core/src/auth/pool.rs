//! A fixed number of password checks at once, each on a memory block kept for the next check.
//!
//! Without a bound, each concurrent check allocated its own 19 MiB; and glibc's malloc, once a
//! block that large has been freed, raises its mmap threshold and serves the next ones from its
//! arenas, which it does not give back: a burst of checks left gigabytes resident for good.
//! Here at most [`WORKERS`] checks run at once, on [`WORKERS`] blocks allocated on first use and
//! reused for the life of the process, so checks cost at most `WORKERS × 19 MiB`, after a burst
//! as during it. Checks run on tokio's blocking threads; callers wait for a turn asynchronously
//! (no runtime thread is held), until a deadline, and are refused beyond [`MAX_WAITING`].

use super::Busy;
use argon2::Block;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Checks running at once in the process. Two: each takes a core for its duration (a few tens of
/// milliseconds), so two leave the rest of the server a share of a small host's CPUs and
/// bound the memory of checks at 2 × 19 MiB; a person logging in waits at most a few checks.
pub const WORKERS: usize = 2;

/// Callers waiting for a turn at once; more are refused without waiting. Each client has at most
/// one attempt waiting here (the throttle runs a client's attempts one at a time), so this is
/// the number of distinct clients that can queue.
pub const MAX_WAITING: usize = 64;

pub struct Pool {
    permits: Arc<Semaphore>,
    /// The memory blocks not in use (at most one per worker ever exists).
    spare: Arc<Mutex<Vec<Vec<Block>>>>,
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// The process's pool: every check made for a client shares it, so the bound holds however
/// many listeners and servers the process runs.
pub fn global() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool::new(WORKERS, MAX_WAITING))
}

/// Counts a caller as waiting until dropped (also when the caller gives up mid-wait).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Pool {
    pub fn new(workers: usize, max_waiting: usize) -> Pool {
        Pool {
            permits: Arc::new(Semaphore::new(workers.max(1))),
            spare: Arc::new(Mutex::new(Vec::new())),
            waiting: AtomicUsize::new(0),
            max_waiting,
        }
    }

    /// Runs `job` on a blocking thread with one of the pool's memory blocks, once a worker is
    /// free; `Err(Busy)` if none is free by `deadline` or too many callers already wait. The
    /// turn is held until `job` returns, even if the caller stops waiting for the result (a
    /// client that disconnects mid-check does not free a slot for another check to start).
    pub async fn run<R, F>(&self, deadline: Instant, job: F) -> Result<R, Busy>
    where
        F: FnOnce(&mut Vec<Block>) -> R + Send + 'static,
        R: Send + 'static,
    {
        let permit = {
            if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                return Err(Busy);
            }
            let _waiting = Waiting(&self.waiting);
            match tokio::time::timeout_at(deadline, self.permits.clone().acquire_owned()).await {
                Ok(Ok(p)) => p,
                _ => return Err(Busy),
            }
        };
        let spare = self.spare.clone();
        let result = tokio::task::spawn_blocking(move || {
            let _turn = permit;
            let mut memory = spare.lock().unwrap_or_else(|p| p.into_inner()).pop().unwrap_or_default();
            let r = job(&mut memory);
            // A hash with a larger memory cost than ours grew the block: back to the usual size.
            let usual = super::M_COST_KIB as usize;
            if memory.len() > usual {
                memory.truncate(usual);
                memory.shrink_to_fit();
            }
            spare.lock().unwrap_or_else(|p| p.into_inner()).push(memory);
            r
        })
        .await;
        result.map_err(|e| {
            tracing::error!("a password check failed: {e}");
            Busy
        })
    }

    /// Memory blocks allocated so far (for tests: never more than the workers).
    pub fn blocks(&self) -> usize {
        self.spare.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::mpsc;
    use std::time::Duration;

    /// A job that blocks until the test sends on the returned channel.
    fn held(running: &Arc<AtomicUsize>) -> (mpsc::Sender<()>, impl FnOnce(&mut Vec<Block>) -> usize + Send + 'static) {
        let (tx, rx) = mpsc::channel::<()>();
        let running = running.clone();
        (tx, move |_: &mut Vec<Block>| {
            let n = running.fetch_add(1, Ordering::SeqCst) + 1;
            let _ = rx.recv();
            running.fetch_sub(1, Ordering::SeqCst);
            n
        })
    }

    async fn until(cond: impl Fn() -> bool) {
        for _ in 0..500 {
            if cond() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("condition not reached in 5 s");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_than_the_workers_run_and_the_next_waits_its_turn() {
        let pool = Arc::new(Pool::new(2, 8));
        let running = Arc::new(AtomicUsize::new(0));
        let far = Instant::now() + Duration::from_secs(30);
        let (tx1, j1) = held(&running);
        let (tx2, j2) = held(&running);
        let (tx3, j3) = held(&running);
        let p = pool.clone();
        let a = tokio::spawn(async move { p.run(far, j1).await });
        let p = pool.clone();
        let b = tokio::spawn(async move { p.run(far, j2).await });
        until(|| running.load(Ordering::SeqCst) == 2).await;
        let p = pool.clone();
        let c = tokio::spawn(async move { p.run(far, j3).await });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(running.load(Ordering::SeqCst), 2, "the third waits while two run");
        tx1.send(()).unwrap();
        assert!(a.await.unwrap().unwrap() <= 2);
        until(|| running.load(Ordering::SeqCst) == 2).await;
        tx2.send(()).unwrap();
        tx3.send(()).unwrap();
        assert!(b.await.unwrap().unwrap() <= 2);
        assert!(c.await.unwrap().unwrap() <= 2, "never more than two at once");
        assert!(pool.blocks() <= 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_is_refused_at_its_deadline_and_beyond_the_queue() {
        let pool = Arc::new(Pool::new(1, 1));
        let running = Arc::new(AtomicUsize::new(0));
        let (tx, job) = held(&running);
        let p = pool.clone();
        let first = tokio::spawn(async move { p.run(Instant::now() + Duration::from_secs(30), job).await });
        until(|| running.load(Ordering::SeqCst) == 1).await;
        // One waits (the queue holds one) and times out; meanwhile a third is refused at once.
        let p = pool.clone();
        let waiter = tokio::spawn(async move { p.run(Instant::now() + Duration::from_millis(300), |_: &mut Vec<Block>| 0).await });
        until(|| pool.waiting.load(Ordering::SeqCst) == 1).await;
        let started = std::time::Instant::now();
        assert_eq!(pool.run(Instant::now() + Duration::from_secs(30), |_: &mut Vec<Block>| 0).await, Err(Busy));
        assert!(started.elapsed() < Duration::from_secs(5), "refused without waiting");
        assert_eq!(waiter.await.unwrap(), Err(Busy));
        assert_eq!(pool.waiting.load(Ordering::SeqCst), 0);
        tx.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Ok(1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_gives_up_keeps_its_turn_until_the_check_ends() {
        let pool = Arc::new(Pool::new(1, 8));
        let running = Arc::new(AtomicUsize::new(0));
        let (tx, job) = held(&running);
        let p = pool.clone();
        let caller = tokio::spawn(async move { p.run(Instant::now() + Duration::from_secs(30), job).await });
        until(|| running.load(Ordering::SeqCst) == 1).await;
        caller.abort();
        let _ = caller.await;
        assert_eq!(pool.permits.available_permits(), 0, "the check still runs, so its turn is taken");
        tx.send(()).unwrap();
        until(|| pool.permits.available_permits() == 1).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_blocks_are_reused() {
        let pool = Pool::new(2, 8);
        let far = Instant::now() + Duration::from_secs(30);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..20 {
            let ptr = pool
                .run(far, |m: &mut Vec<Block>| {
                    if m.is_empty() {
                        m.resize(64, Block::new());
                    }
                    m.as_ptr() as usize
                })
                .await
                .unwrap();
            seen.insert(ptr);
        }
        assert_eq!(seen.len(), 1, "sequential checks use one block");
        assert_eq!(pool.blocks(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_check_is_refused_and_frees_its_turn() {
        let pool = Pool::new(1, 8);
        let far = Instant::now() + Duration::from_secs(30);
        let r: Result<(), Busy> = pool.run(far, |_: &mut Vec<Block>| panic!("boom")).await;
        assert_eq!(r, Err(Busy));
        assert_eq!(pool.run(far, |_: &mut Vec<Block>| 7).await, Ok(7));
    }
}
