//! Helpers shared by every `extern "C"` function of this crate: panic guards,
//! status construction, and null-checked pointer access.

use crate::abi::*;
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Text of a panic payload.
pub(crate) fn panic_message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        format!("panic: {s}")
    } else if let Some(s) = p.downcast_ref::<String>() {
        format!("panic: {s}")
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// Runs `f`; on panic stores `CMPI_RC_ERR_FAILED` in `*rc` (when not null) and returns `fallback`.
pub(crate) fn guard<R>(rc: *mut CMPIStatus, fallback: R, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let _ = panic_message(&*p);
            set_rc(rc, CMPI_RC_ERR_FAILED);
            fallback
        }
    }
}

/// Runs a status-returning `f`; a panic becomes `CMPI_RC_ERR_FAILED`.
pub(crate) fn guard_status(f: impl FnOnce() -> CMPIStatus) -> CMPIStatus {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(s) => s,
        Err(_) => CMPIStatus::rc(CMPI_RC_ERR_FAILED),
    }
}

/// Stores `code` in `*rc` when `rc` is not null.
pub(crate) fn set_rc(rc: *mut CMPIStatus, code: CMPIrc) {
    if !rc.is_null() {
        // SAFETY: the caller passed a writable CMPIStatus or NULL (checked above).
        unsafe { *rc = CMPIStatus::rc(code) };
    }
}

/// Runs `f`; on panic returns `fallback` (for functions without a status out-parameter).
pub(crate) fn catch<R>(fallback: R, f: impl FnOnce() -> R) -> R {
    guard(std::ptr::null_mut(), fallback, f)
}
