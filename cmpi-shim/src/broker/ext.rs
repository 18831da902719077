//! OS encapsulation services (`CMPIBrokerExtFT`) on top of std: threads, thread
//! keys, once-control, mutexes and condition variables.

use crate::abi::*;
use crate::ffi::catch;
use std::collections::HashMap;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ETIMEDOUT: c_int = 110;
const EINVAL: c_int = 22;
const ENOTSUP: c_int = 95;

extern "C" {
    fn malloc(size: usize) -> *mut c_void;
}

/// `resolveFileName`: `name` → `lib<name>.so`, malloc'ed (the caller frees it with free()).
unsafe extern "C" fn x_resolve(name: *const c_char) -> *mut c_char {
    catch(ptr::null_mut(), || {
        if name.is_null() {
            return ptr::null_mut();
        }
        let s = format!("lib{}.so\0", CStr::from_ptr(name).to_string_lossy());
        let p = malloc(s.len()) as *mut c_char;
        if !p.is_null() {
            ptr::copy_nonoverlapping(s.as_ptr() as *const c_char, p, s.len());
        }
        p
    })
}

struct SendPtr(*mut c_void);
// SAFETY: the pointer is only handed back to the C start routine / joiner, which
// own its thread-safety contract.
unsafe impl Send for SendPtr {}

type ThreadHandle = std::thread::JoinHandle<SendPtr>;

unsafe extern "C" fn x_new_thread(
    start: Option<unsafe extern "C" fn(*mut c_void) -> CMPI_THREAD_RETURN>,
    parm: *mut c_void,
    detached: c_int,
) -> CMPI_THREAD_TYPE {
    catch(ptr::null_mut(), || {
        let Some(start) = start else { return ptr::null_mut() };
        let parm = SendPtr(parm);
        let h = std::thread::Builder::new().name("cmpi-provider".into()).spawn(move || {
            let parm = parm;
            // SAFETY: the provider gave us a start routine and its argument.
            SendPtr(unsafe { start(parm.0) })
        });
        match h {
            Ok(h) if detached != 0 => {
                drop(h);
                // A detached thread cannot be joined; the token is only non-NULL.
                ptr::NonNull::<c_void>::dangling().as_ptr()
            }
            Ok(h) => Box::into_raw(Box::new(h)) as CMPI_THREAD_TYPE,
            Err(_) => ptr::null_mut(),
        }
    })
}

unsafe extern "C" fn x_join(thread: CMPI_THREAD_TYPE, ret: *mut CMPI_THREAD_RETURN) -> c_int {
    catch(EINVAL, || {
        if thread.is_null() || thread == ptr::NonNull::<c_void>::dangling().as_ptr() {
            return EINVAL;
        }
        // SAFETY: non-detached thread tokens are boxed join handles, joined once.
        let h = Box::from_raw(thread as *mut ThreadHandle);
        match h.join() {
            Ok(r) => {
                if !ret.is_null() {
                    *ret = r.0;
                }
                0
            }
            Err(_) => EINVAL,
        }
    })
}

/// A Rust thread cannot be ended from inside without unwinding; unsupported.
unsafe extern "C" fn x_exit(_ret: CMPI_THREAD_RETURN) -> c_int {
    catch(EINVAL, || {
        ENOTSUP
    })
}
/// std threads cannot be cancelled; unsupported.
unsafe extern "C" fn x_cancel(_t: CMPI_THREAD_TYPE) -> c_int {
    catch(EINVAL, || {
        ENOTSUP
    })
}
unsafe extern "C" fn x_sleep(msec: CMPIUint32) -> c_int {
    catch(EINVAL, || {
        std::thread::sleep(Duration::from_millis(msec as u64));
        0
    })
}

static ONCE_LOCK: Mutex<()> = Mutex::new(());

unsafe extern "C" fn x_once(once: *mut c_int, init: Option<unsafe extern "C" fn()>) -> c_int {
    catch(EINVAL, || {
        let (false, Some(init)) = (once.is_null(), init) else { return EINVAL };
        let _g = ONCE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        if *once == 0 {
            init();
            *once = 1;
        }
        0
    })
}

type KeyDtor = unsafe extern "C" fn(*mut c_void);
static NEXT_KEY: AtomicU32 = AtomicU32::new(1);
static KEYS: Mutex<Option<HashMap<u32, Option<KeyDtor>>>> = Mutex::new(None);

struct ThreadValues(HashMap<u32, *mut c_void>);
impl Drop for ThreadValues {
    fn drop(&mut self) {
        let keys = KEYS.lock().unwrap_or_else(|e| e.into_inner());
        for (k, v) in self.0.drain() {
            if let Some(Some(d)) = keys.as_ref().and_then(|m| m.get(&k)) {
                if !v.is_null() {
                    // SAFETY: the provider registered `d` as the destructor for values of key `k`.
                    unsafe { d(v) };
                }
            }
        }
    }
}
thread_local! {
    static VALUES: std::cell::RefCell<ThreadValues> = std::cell::RefCell::new(ThreadValues(HashMap::new()));
}

unsafe extern "C" fn x_create_key(key: *mut CMPI_THREAD_KEY_TYPE, cleanup: Option<KeyDtor>) -> c_int {
    catch(EINVAL, || {
        if key.is_null() {
            return EINVAL;
        }
        let k = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
        KEYS.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(HashMap::new).insert(k, cleanup);
        *key = k;
        0
    })
}
unsafe extern "C" fn x_destroy_key(key: CMPI_THREAD_KEY_TYPE) -> c_int {
    catch(EINVAL, || {
        match KEYS.lock().unwrap_or_else(|e| e.into_inner()).as_mut().and_then(|m| m.remove(&key)) {
            Some(_) => 0,
            None => EINVAL,
        }
    })
}
unsafe extern "C" fn x_get_specific(key: CMPI_THREAD_KEY_TYPE) -> *mut c_void {
    catch(ptr::null_mut(), || {
        VALUES.with(|v| v.borrow().0.get(&key).copied().unwrap_or(ptr::null_mut()))
    })
}
unsafe extern "C" fn x_set_specific(key: CMPI_THREAD_KEY_TYPE, value: *mut c_void) -> c_int {
    catch(EINVAL, || {
        VALUES.with(|v| v.borrow_mut().0.insert(key, value));
        0
    })
}

/// A lock that can be taken and released by separate C calls.
struct RawLock {
    locked: Mutex<bool>,
    cv: Condvar,
}
impl RawLock {
    fn lock(&self) {
        let mut g = self.locked.lock().unwrap_or_else(|e| e.into_inner());
        while *g {
            g = self.cv.wait(g).unwrap_or_else(|e| e.into_inner());
        }
        *g = true;
    }
    fn unlock(&self) {
        *self.locked.lock().unwrap_or_else(|e| e.into_inner()) = false;
        self.cv.notify_one();
    }
}

unsafe extern "C" fn x_new_mutex(_opt: c_int) -> CMPI_MUTEX_TYPE {
    catch(ptr::null_mut(), || {
        Box::into_raw(Box::new(RawLock { locked: Mutex::new(false), cv: Condvar::new() })) as CMPI_MUTEX_TYPE
    })
}
unsafe extern "C" fn x_destroy_mutex(m: CMPI_MUTEX_TYPE) {
    catch((), || {
        if !m.is_null() {
            // SAFETY: mutex handles are boxed RawLocks, destroyed once.
            drop(Box::from_raw(m as *mut RawLock));
        }
    })
}
unsafe extern "C" fn x_lock(m: CMPI_MUTEX_TYPE) {
    catch((), || {
        if let Some(l) = (m as *const RawLock).as_ref() {
            l.lock()
        }
    })
}
unsafe extern "C" fn x_unlock(m: CMPI_MUTEX_TYPE) {
    catch((), || {
        if let Some(l) = (m as *const RawLock).as_ref() {
            l.unlock()
        }
    })
}

/// A condition variable usable with [`RawLock`]: waiters sleep until the generation changes.
struct RawCond {
    generation: Mutex<u64>,
    cv: Condvar,
}

unsafe extern "C" fn x_new_cond(_opt: c_int) -> CMPI_COND_TYPE {
    catch(ptr::null_mut(), || {
        Box::into_raw(Box::new(RawCond { generation: Mutex::new(0), cv: Condvar::new() })) as CMPI_COND_TYPE
    })
}
unsafe extern "C" fn x_destroy_cond(c: CMPI_COND_TYPE) {
    catch((), || {
        if !c.is_null() {
            // SAFETY: condition handles are boxed RawConds, destroyed once.
            drop(Box::from_raw(c as *mut RawCond));
        }
    })
}

unsafe fn cond_wait(c: CMPI_COND_TYPE, m: CMPI_MUTEX_TYPE, deadline: Option<SystemTime>) -> c_int {
    let (Some(c), Some(m)) = ((c as *const RawCond).as_ref(), (m as *const RawLock).as_ref()) else { return EINVAL };
    let mut g = c.generation.lock().unwrap_or_else(|e| e.into_inner());
    let start = *g;
    m.unlock();
    let mut rc = 0;
    while *g == start {
        match deadline {
            None => g = c.cv.wait(g).unwrap_or_else(|e| e.into_inner()),
            Some(d) => {
                let left = d.duration_since(SystemTime::now()).unwrap_or_default();
                if left.is_zero() {
                    rc = ETIMEDOUT;
                    break;
                }
                g = c.cv.wait_timeout(g, left).unwrap_or_else(|e| e.into_inner()).0;
            }
        }
    }
    drop(g);
    m.lock();
    rc
}

unsafe extern "C" fn x_cond_wait(c: CMPI_COND_TYPE, m: CMPI_MUTEX_TYPE) -> c_int {
    catch(EINVAL, || {
        cond_wait(c, m, None)
    })
}
/// `wait` is an absolute time (as for `pthread_cond_timedwait`).
unsafe extern "C" fn x_timed_wait(c: CMPI_COND_TYPE, m: CMPI_MUTEX_TYPE, wait: *mut CMPITimespec) -> c_int {
    catch(EINVAL, || {
        let Some(t) = wait.as_ref() else { return EINVAL };
        let deadline = UNIX_EPOCH + Duration::new(t.tv_sec.max(0) as u64, t.tv_nsec.clamp(0, 999_999_999) as u32);
        cond_wait(c, m, Some(deadline))
    })
}
unsafe extern "C" fn x_signal(c: CMPI_COND_TYPE) -> c_int {
    catch(EINVAL, || {
        let Some(c) = (c as *const RawCond).as_ref() else { return EINVAL };
        *c.generation.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        c.cv.notify_all();
        0
    })
}

pub(crate) static EXT_FT: CMPIBrokerExtFT = CMPIBrokerExtFT {
    ftVersion: CMPICurrentVersion,
    resolveFileName: Some(x_resolve),
    newThread: Some(x_new_thread),
    joinThread: Some(x_join),
    exitThread: Some(x_exit),
    cancelThread: Some(x_cancel),
    threadSleep: Some(x_sleep),
    threadOnce: Some(x_once),
    createThreadKey: Some(x_create_key),
    destroyThreadKey: Some(x_destroy_key),
    getThreadSpecific: Some(x_get_specific),
    setThreadSpecific: Some(x_set_specific),
    newMutex: Some(x_new_mutex),
    destroyMutex: Some(x_destroy_mutex),
    lockMutex: Some(x_lock),
    unlockMutex: Some(x_unlock),
    newCondition: Some(x_new_cond),
    destroyCondition: Some(x_destroy_cond),
    condWait: Some(x_cond_wait),
    timedCondWait: Some(x_timed_wait),
    signalCondition: Some(x_signal),
};
