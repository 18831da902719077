//! `Xen_ComputerSystem.RequestedState`: the state last asked for through RequestStateChange,
//! for as long as it still describes the VM.
//!
//! CIM 2.41 (`CIM_EnabledLogicalElement.RequestedState`) wants "the last requested or desired
//! state", and 0 (Unknown) when that is not known; 5 (No Change), which xs-cim always showed, is
//! deprecated. XenAPI records no requested state, and a VM also changes through XenAPI clients
//! this library never hears from. So a request made here is remembered (per process) with the
//! power state the VM was in (`origin`) and the one the request leads to (`target`), and judged
//! against the VM's power state each time an instance is made ([`judge`]):
//!
//! ```text
//! RSC 9 on a Running VM → Paused: RequestedState 9
//! VM.unpause through XenAPI → Running: the VM left the target, the request is forgotten → 0
//! ```
//!
//! While the operation runs (a job), the VM is still in `origin` and the request is shown. The
//! request is forgotten once the VM has reached `target` and then left it, when the VM ends in a
//! third state, when the XenAPI task carrying it out fails or is cancelled, and when the task is
//! gone (destroyed by a client) and the VM is not in `target` ([`RequestedStates::task_ended`]).

use crate::xen_computer_system::PowerState;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// RequestedState when no request is known (CIM 2.41: 0 Unknown, not the deprecated 5).
pub const UNKNOWN: u16 = 0;

/// One request made through RequestStateChange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// The RequestedState value asked for.
    pub state: u16,
    /// The power state the VM was in when asked.
    pub origin: PowerState,
    /// The power state the operation leads to.
    pub target: PowerState,
    /// True once the VM was seen in `target` (or the operation completed).
    pub reached: bool,
    /// True while the operation is under way (its task has not ended).
    pub running: bool,
    /// Tells this request from a later one for the same VM.
    pub id: u64,
}

/// What a request means for a VM now in some power state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Under way, or arrived and still there: RequestedState is the request.
    Show,
    /// In `target` for the first time seen: shown, and from now on the VM must stay there.
    Arrived,
    /// The VM left the requested state (or never went there): RequestedState is Unknown.
    Forget,
}

/// The [`Verdict`] of `r` for a VM now in power state `now`.
pub fn judge(r: &Request, now: PowerState) -> Verdict {
    if now == r.target {
        return if r.reached { Verdict::Show } else { Verdict::Arrived };
    }
    if r.running && !r.reached && now == r.origin {
        Verdict::Show
    } else {
        Verdict::Forget
    }
}

/// How the XenAPI task of a request ended, as far as it can be known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskEnd {
    Succeeded,
    /// Failed or cancelled: nothing was done as asked.
    Failed,
    /// Destroyed before its end was seen: only the VM's state can tell.
    Gone,
}

/// The requests of every VM, by VM uuid.
#[derive(Debug, Default)]
pub struct RequestedStates {
    requests: Mutex<HashMap<String, Request>>,
    next_id: AtomicU64,
}

impl RequestedStates {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Request>> {
        self.requests.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers that `state` was asked of VM `vm_uuid`, moving it from `origin` to `target`;
    /// `completed` when the XenAPI call has already ended well. Replaces any earlier request.
    /// The id is what [`RequestedStates::task_ended`] names it by.
    pub fn record(&self, vm_uuid: &str, state: u16, origin: PowerState, target: PowerState, completed: bool) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(vm_uuid.to_string(), Request { state, origin, target, reached: completed, running: !completed, id });
        id
    }

    /// RequestedState of VM `vm_uuid`, now in power state `now`; forgets a request that no
    /// longer describes the VM.
    pub fn shown(&self, vm_uuid: &str, now: PowerState) -> u16 {
        let mut m = self.lock();
        let Some(r) = m.get_mut(vm_uuid) else { return UNKNOWN };
        match judge(r, now) {
            Verdict::Show => r.state,
            Verdict::Arrived => {
                r.reached = true;
                r.state
            }
            Verdict::Forget => {
                m.remove(vm_uuid);
                UNKNOWN
            }
        }
    }

    /// The XenAPI task that carried out request `id` of VM `vm_uuid` ended: a success means the
    /// VM got to the target; a failure or cancellation means nothing was done as asked, so the
    /// request is forgotten; a task that is gone leaves the request standing only while the VM
    /// is in the target. A request made since is left alone.
    pub fn task_ended(&self, vm_uuid: &str, id: u64, end: TaskEnd) {
        let mut m = self.lock();
        let Some(r) = m.get_mut(vm_uuid).filter(|r| r.id == id) else { return };
        r.running = false;
        match end {
            TaskEnd::Succeeded => r.reached = true,
            TaskEnd::Failed => {
                m.remove(vm_uuid);
            }
            TaskEnd::Gone => {}
        }
    }

    /// True while request `id` is the one remembered for VM `vm_uuid`.
    pub fn is_current(&self, vm_uuid: &str, id: u64) -> bool {
        self.lock().get(vm_uuid).is_some_and(|r| r.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PowerState::*;

    #[test]
    fn nothing_requested_is_unknown_not_no_change() {
        let s = RequestedStates::default();
        assert_eq!(s.shown("v", Running), 0);
    }

    #[test]
    fn a_completed_request_shows_until_the_vm_leaves_its_state() {
        let s = RequestedStates::default();
        s.record("v", 9, Running, Paused, true);
        assert_eq!(s.shown("v", Paused), 9);
        assert_eq!(s.shown("v", Paused), 9);
        // unpaused through XenAPI: forgotten, also once it is paused again by someone else
        assert_eq!(s.shown("v", Running), 0);
        assert_eq!(s.shown("v", Paused), 0);
    }

    #[test]
    fn a_running_job_shows_its_request_and_a_failed_one_is_forgotten() {
        let s = RequestedStates::default();
        let id = s.record("v", 4, Running, Halted, false);
        assert_eq!(s.shown("v", Running), 4, "still shutting down");
        s.task_ended("v", id, TaskEnd::Failed);
        assert_eq!(s.shown("v", Running), 0, "the shutdown failed");

        let id = s.record("v", 4, Running, Halted, false);
        s.task_ended("v", id, TaskEnd::Succeeded);
        // halted and started again before anyone looked: the task's success counts as arrival
        assert_eq!(s.shown("v", Running), 0);
        assert!(!s.is_current("v", id));
    }

    #[test]
    fn arrival_is_noticed_when_seen_and_a_third_state_forgets() {
        let s = RequestedStates::default();
        s.record("v", 2, Halted, Running, false);
        assert_eq!(s.shown("v", Running), 2);
        assert_eq!(s.shown("v", Halted), 0, "arrived, then stopped");
        s.record("v", 6, Running, Suspended, false);
        assert_eq!(s.shown("v", Paused), 0, "paused by someone else while suspending");
    }

    #[test]
    fn a_late_task_end_does_not_touch_a_newer_request() {
        let s = RequestedStates::default();
        let old = s.record("v", 10, Running, Running, false);
        let new = s.record("v", 9, Running, Paused, true);
        s.task_ended("v", old, TaskEnd::Failed);
        assert!(s.is_current("v", new));
        assert_eq!(s.shown("v", Paused), 9);
    }

    #[test]
    fn a_task_destroyed_unseen_leaves_only_the_vm_state_to_judge_by() {
        let s = RequestedStates::default();
        let id = s.record("v", 4, Running, Halted, false);
        s.task_ended("v", id, TaskEnd::Gone);
        assert_eq!(s.shown("v", Running), 0, "not under way any more, and not halted");
        let id = s.record("v", 4, Running, Halted, false);
        s.task_ended("v", id, TaskEnd::Gone);
        assert_eq!(s.shown("v", Halted), 4, "it did halt");
    }

    #[test]
    fn reboot_keeps_the_state_it_started_from() {
        let r = Request { state: 10, origin: Running, target: Running, reached: false, running: true, id: 0 };
        assert_eq!(judge(&r, Running), Verdict::Arrived);
        assert_eq!(judge(&Request { reached: true, ..r }, Running), Verdict::Show);
        assert_eq!(judge(&Request { reached: true, ..r }, Halted), Verdict::Forget);
    }
}
