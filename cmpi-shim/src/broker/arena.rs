//! Per-call object arenas: objects the broker creates while a provider call runs
//! live until the call ends (CMPI's memory rule), unless they were cloned.
//!
//! Each thread has a stack of arenas. [`scope`] pushes one for the duration of a
//! provider call; `attachThread`/`detachThread` and `CMPIBrokerMemFT.mark/release`
//! push and pop too. Objects created when no arena is active go to a per-thread
//! bottom arena, freed when the thread exits.

use std::cell::RefCell;

pub(crate) struct Entry {
    pub ptr: *mut u8,
    pub drop: unsafe fn(*mut u8),
}

struct Stack {
    levels: Vec<Vec<Entry>>,
    /// Depths of the levels pushed for calls and attached threads: a provider's
    /// `CMPIBrokerMemFT.release` may not free below the innermost one.
    floors: Vec<usize>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        while let Some(level) = self.levels.pop() {
            free_level(level);
        }
    }
}

thread_local! {
    static STACK: RefCell<Stack> = RefCell::new(Stack { levels: vec![Vec::new()], floors: Vec::new() });
}

fn free_level(level: Vec<Entry>) {
    for e in level.into_iter().rev() {
        // SAFETY: every entry was registered by `register` with the drop function
        // matching the allocation, and is removed from the arena exactly once.
        unsafe { (e.drop)(e.ptr) };
    }
}

/// Registers an allocation in the innermost arena of this thread.
pub(crate) fn register(ptr: *mut u8, drop: unsafe fn(*mut u8)) {
    let _ = STACK.try_with(|s| s.borrow_mut().levels.last_mut().expect("bottom arena").push(Entry { ptr, drop }));
}

/// Removes `ptr` from whichever arena holds it; returns true if found.
pub(crate) fn unregister(ptr: *mut u8) -> bool {
    STACK
        .try_with(|s| {
            let mut s = s.borrow_mut();
            for level in s.levels.iter_mut().rev() {
                if let Some(i) = level.iter().rposition(|e| e.ptr == ptr) {
                    level.swap_remove(i);
                    return true;
                }
            }
            false
        })
        .unwrap_or(false)
}

/// Pushes a new arena; returns its depth (a token for [`pop_to`]).
pub(crate) fn push() -> usize {
    STACK.with(|s| {
        let mut s = s.borrow_mut();
        s.levels.push(Vec::new());
        s.levels.len() - 1
    })
}

/// Pushes a new arena for a call or an attached thread; returns its depth.
pub(crate) fn push_floor() -> usize {
    let d = push();
    STACK.with(|s| s.borrow_mut().floors.push(d));
    d
}

/// Depth of the innermost call/thread arena (0 when none).
pub(crate) fn floor() -> usize {
    STACK.with(|s| s.borrow().floors.last().copied().unwrap_or(0))
}

/// Frees every arena at depth >= `depth` (never the bottom one).
pub(crate) fn pop_to(depth: usize) {
    let depth = depth.max(1);
    STACK.with(|s| s.borrow_mut().floors.retain(|f| *f < depth));
    loop {
        let level = STACK.with(|s| {
            let mut s = s.borrow_mut();
            if s.levels.len() > depth {
                s.levels.pop()
            } else {
                None
            }
        });
        match level {
            Some(l) => free_level(l),
            None => break,
        }
    }
}

/// Current depth of the arena stack (1 = only the bottom arena).
pub(crate) fn depth() -> usize {
    STACK.with(|s| s.borrow().levels.len())
}

/// Runs `f` inside a fresh arena, freeing everything it allocated afterwards.
pub(crate) fn scope<R>(f: impl FnOnce() -> R) -> R {
    struct Guard(usize);
    impl Drop for Guard {
        fn drop(&mut self) {
            pop_to(self.0);
        }
    }
    let _g = Guard(push_floor());
    f()
}
