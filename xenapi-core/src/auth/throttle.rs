//! Per-client pacing of password checks: a client's attempts run one at a time, and after a
//! failure its next attempt waits, twice as long after each further failure (up to
//! [`MAX_DELAY`]); a success clears the record, and so do [`FORGET_AFTER`] without a failure.
//!
//! One at a time per client means a flood from one address takes one of the pool's workers,
//! not all of them, so other clients still get their turn; the growing delay turns online
//! password guessing from one address into a few guesses a second at best. The table of
//! clients is bounded ([`MAX_CLIENTS`]): it holds the clients with an attempt under way and
//! those with recent failures, and when full, the oldest idle records go first.

use super::{Busy, Client};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::OwnedMutexGuard;
use tokio::time::Instant;

/// The wait after one failure; it doubles with each further failure.
pub const BASE_DELAY: Duration = Duration::from_millis(250);
/// The longest wait between two attempts of a failing client.
pub const MAX_DELAY: Duration = Duration::from_secs(3);
/// A failure record with no new failure for this long is dropped.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Clients remembered at once.
pub const MAX_CLIENTS: usize = 10_000;
/// Failures in a row from one client after which it is logged (once) as being slowed down.
const LOG_AFTER: u32 = 5;

/// The wait before the next attempt of a client that failed `failures` times in a row.
pub fn delay_after(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let factor = 1u32.checked_shl(failures - 1).unwrap_or(u32::MAX);
    BASE_DELAY.saturating_mul(factor).min(MAX_DELAY)
}

struct Entry {
    /// Held by the client's attempt under way; the next ones wait on it.
    gate: Arc<tokio::sync::Mutex<()>>,
    failures: u32,
    last_failure: Option<Instant>,
}

impl Entry {
    /// The failure count that still applies at `now` (0 once forgotten).
    fn failures_at(&self, now: Instant) -> u32 {
        match self.last_failure {
            Some(t) if now.saturating_duration_since(t) < FORGET_AFTER => self.failures,
            _ => 0,
        }
    }

    fn idle(&self) -> bool {
        Arc::strong_count(&self.gate) == 1
    }
}

pub struct Throttle {
    table: Mutex<HashMap<Client, Entry>>,
    max_clients: usize,
}

/// The process's table, shared by the XenAPI and the CIM broker: a client guessing through one
/// does not get a fresh start on the other.
pub fn global() -> &'static Throttle {
    static THROTTLE: OnceLock<Throttle> = OnceLock::new();
    THROTTLE.get_or_init(|| Throttle::new(MAX_CLIENTS))
}

/// A client's turn to have its password checked; report the result with [`Attempt::finish`].
/// Dropped without it (the check was refused or abandoned), the record is left as it was.
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    client: Client,
    turn: Option<OwnedMutexGuard<()>>,
}

impl Throttle {
    pub fn new(max_clients: usize) -> Throttle {
        Throttle { table: Mutex::new(HashMap::new()), max_clients: max_clients.max(1) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Client, Entry>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for `client`'s turn: its earlier attempts to end, then its failure delay to pass;
    /// `Err(Busy)` if that cannot happen by `deadline` (then it returns at once when the
    /// delay alone is too long, without waiting for nothing).
    pub async fn admit(&self, client: Client, deadline: Instant) -> Result<Attempt<'_>, Busy> {
        let gate = {
            let mut t = self.lock();
            if !t.contains_key(&client) && t.len() >= self.max_clients {
                evict(&mut t, self.max_clients);
                if t.len() >= self.max_clients {
                    return Err(Busy);
                }
            }
            t.entry(client)
                .or_insert_with(|| Entry { gate: Arc::default(), failures: 0, last_failure: None })
                .gate
                .clone()
        };
        let turn = match tokio::time::timeout_at(deadline, gate.lock_owned()).await {
            Ok(t) => t,
            Err(_) => {
                self.release(client);
                return Err(Busy);
            }
        };
        let attempt = Attempt { throttle: self, client, turn: Some(turn) };
        // With the turn held, no other attempt of this client changes its record.
        let not_before = {
            let t = self.lock();
            let now = Instant::now();
            t.get(&client).and_then(|e| e.last_failure.map(|at| at + delay_after(e.failures_at(now))))
        };
        if let Some(at) = not_before {
            if at > deadline {
                return Err(Busy); // dropping the attempt releases the turn
            }
            tokio::time::sleep_until(at).await;
        }
        Ok(attempt)
    }

    /// Drops `client`'s record when nothing in it is worth keeping: no attempt under way or
    /// waiting, and no failure that still counts.
    fn release(&self, client: Client) {
        let mut t = self.lock();
        if t.get(&client).is_some_and(|e| e.idle() && e.failures_at(Instant::now()) == 0) {
            t.remove(&client);
        }
    }

    /// Failures in a row recorded for `client` (0 when none still count).
    pub fn failures(&self, client: Client) -> u32 {
        self.lock().get(&client).map(|e| e.failures_at(Instant::now())).unwrap_or(0)
    }

    /// Clients in the table.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Makes room in a full table: first the idle records whose failures no longer count, then
/// the idle ones with the oldest last failure. Records of attempts under way stay.
fn evict(t: &mut HashMap<Client, Entry>, max: usize) {
    let now = Instant::now();
    t.retain(|_, e| !(e.idle() && e.failures_at(now) == 0));
    while t.len() >= max {
        let oldest = t.iter().filter(|(_, e)| e.idle()).min_by_key(|(_, e)| e.last_failure).map(|(c, _)| *c);
        match oldest {
            Some(c) => {
                t.remove(&c);
            }
            None => return,
        }
    }
}

impl Attempt<'_> {
    /// Records the result of the check: a success clears the client's failures, a failure adds
    /// one (and makes its next attempt wait).
    pub fn finish(self, ok: bool) {
        let mut t = self.throttle.lock();
        if let Some(e) = t.get_mut(&self.client) {
            if ok {
                e.failures = 0;
                e.last_failure = None;
            } else {
                e.failures = e.failures_at(Instant::now()).saturating_add(1);
                e.last_failure = Some(Instant::now());
                if e.failures == LOG_AFTER {
                    tracing::warn!(client = %self.client, "{LOG_AFTER} failed authentications in a row: slowing this client's attempts down (up to {MAX_DELAY:?} apart)");
                }
            }
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        drop(self.turn.take());
        self.throttle.release(self.client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> Client {
        Client::from_ip(std::net::IpAddr::from([192, 0, 2, n]))
    }

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    #[test]
    fn the_delay_doubles_up_to_its_cap() {
        let ms = |n| delay_after(n).as_millis();
        assert_eq!([ms(0), ms(1), ms(2), ms(3), ms(4), ms(5), ms(40), ms(u32::MAX)], [0, 250, 500, 1000, 2000, 3000, 3000, 3000]);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_slow_the_next_attempt_and_a_success_clears_them() {
        let th = Throttle::new(100);
        th.admit(ip(1), far()).await.unwrap().finish(false);
        th.admit(ip(1), far()).await.unwrap().finish(false);
        assert_eq!(th.failures(ip(1)), 2);
        let t0 = Instant::now();
        let a = th.admit(ip(1), far()).await.unwrap();
        assert_eq!(t0.elapsed(), delay_after(2), "the third attempt waits 500 ms after the second failure");
        a.finish(true);
        assert_eq!(th.failures(ip(1)), 0);
        let t0 = Instant::now();
        th.admit(ip(1), far()).await.unwrap().finish(true);
        assert_eq!(t0.elapsed(), Duration::ZERO, "no wait after a success");
        assert!(th.is_empty(), "nothing kept for a client without failures");
    }

    #[tokio::test(start_paused = true)]
    async fn the_delay_counts_from_the_last_failure_and_old_failures_are_forgotten() {
        let th = Throttle::new(100);
        for _ in 0..6 {
            th.admit(ip(1), far()).await.unwrap().finish(false);
        }
        tokio::time::sleep(MAX_DELAY).await;
        let t0 = Instant::now();
        th.admit(ip(1), far()).await.unwrap().finish(false);
        assert_eq!(t0.elapsed(), Duration::ZERO, "a client that already waited out its delay goes at once");
        tokio::time::sleep(FORGET_AFTER).await;
        assert_eq!(th.failures(ip(1)), 0);
        let t0 = Instant::now();
        th.admit(ip(1), far()).await.unwrap().finish(false);
        assert_eq!(t0.elapsed(), Duration::ZERO);
        assert_eq!(th.failures(ip(1)), 1, "counting starts again");
    }

    #[tokio::test(start_paused = true)]
    async fn one_attempt_at_a_time_per_client_and_others_are_not_held_up() {
        let th = Throttle::new(100);
        let held = th.admit(ip(1), far()).await.unwrap();
        let t0 = Instant::now();
        assert!(th.admit(ip(1), Instant::now() + Duration::from_secs(2)).await.is_err());
        assert_eq!(t0.elapsed(), Duration::from_secs(2), "refused at its deadline");
        th.admit(ip(2), far()).await.unwrap().finish(true);
        assert_eq!(t0.elapsed(), Duration::from_secs(2), "another client goes at once");
        held.finish(true);
        th.admit(ip(1), far()).await.unwrap().finish(true);
        assert!(th.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_delay_past_the_deadline_is_refused_at_once() {
        let th = Throttle::new(100);
        for _ in 0..5 {
            th.admit(ip(1), far()).await.unwrap().finish(false);
        }
        let t0 = Instant::now();
        assert!(th.admit(ip(1), Instant::now() + Duration::from_secs(1)).await.is_err());
        assert_eq!(t0.elapsed(), Duration::ZERO);
        assert_eq!(th.failures(ip(1)), 5, "a refused attempt is not a failure");
    }

    #[tokio::test(start_paused = true)]
    async fn the_table_is_bounded_and_keeps_attempts_under_way() {
        let th = Throttle::new(3);
        let busy = th.admit(ip(1), far()).await.unwrap();
        for n in 2..=9 {
            th.admit(ip(n), far()).await.unwrap().finish(false);
            tokio::time::sleep(Duration::from_secs(1)).await;
            assert!(th.len() <= 3);
        }
        assert_eq!(th.failures(ip(9)), 1, "the newest failure is kept");
        assert_eq!(th.failures(ip(8)), 1);
        assert_eq!(th.failures(ip(2)), 0, "the oldest went first");
        busy.finish(false);
        assert_eq!(th.failures(ip(1)), 1, "the attempt under way kept its record");
        // Full of attempts under way: a new client is refused rather than growing the table.
        let th = Throttle::new(2);
        let _a = th.admit(ip(1), far()).await.unwrap();
        let _b = th.admit(ip(2), far()).await.unwrap();
        assert!(th.admit(ip(3), far()).await.is_err());
    }
}
