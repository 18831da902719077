//! libxl's logger (a `xentoollog_logger`, called with printf-style messages) routed to
//! `tracing`. The callbacks run on libxl's threads: they catch any panic rather than unwind
//! into C, and they keep the last error so a failure can say what libxl said.

use super::ffi;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_ulong};
use std::sync::Mutex;

/// `xentoollog_logger` first, so libxl's pointer to it is a pointer to the whole logger.
#[repr(C)]
pub struct Logger {
    vtable: ffi::xentoollog_logger,
    last_error: Mutex<Option<String>>,
}

impl Logger {
    pub fn new() -> Box<Logger> {
        Box::new(Logger {
            vtable: ffi::xentoollog_logger { vmessage: Some(vmessage), progress: Some(progress), destroy: Some(destroy) },
            last_error: Mutex::new(None),
        })
    }

    /// What libxl hands its messages to; valid while the box lives.
    pub fn as_raw(&mut self) -> *mut ffi::xentoollog_logger {
        &mut self.vtable
    }

    /// The last error libxl logged, taken.
    pub fn take_last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

fn text(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        // SAFETY: libxl passes NUL-terminated strings that live for the call.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

unsafe extern "C" fn vmessage(
    lg: *mut ffi::xentoollog_logger,
    level: ffi::xentoollog_level,
    errnoval: c_int,
    context: *const c_char,
    format: *const c_char,
    al: *mut ffi::__va_list_tag,
) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut buf = [0 as c_char; 2048];
        // SAFETY: `format` and `al` come from libxl as a pair; vsnprintf writes at most
        // buf.len() bytes, NUL included.
        unsafe { ffi::vsnprintf(buf.as_mut_ptr(), buf.len() as c_ulong, format, al) };
        let mut msg = text(buf.as_ptr());
        if errnoval >= 0 {
            msg = format!("{msg}: {}", std::io::Error::from_raw_os_error(errnoval));
        }
        let context = text(context);
        match level {
            l if l >= ffi::XTL_ERROR => {
                tracing::error!(target: "libxl", context = %context, "{msg}");
                // SAFETY: `lg` is the vtable at the start of a live Logger (see `as_raw`).
                let me = unsafe { &*(lg as *const Logger) };
                *me.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(msg);
            }
            l if l >= ffi::XTL_WARN => tracing::warn!(target: "libxl", context = %context, "{msg}"),
            l if l >= ffi::XTL_INFO => tracing::info!(target: "libxl", context = %context, "{msg}"),
            _ => tracing::debug!(target: "libxl", context = %context, "{msg}"),
        }
    }));
}

unsafe extern "C" fn progress(
    _lg: *mut ffi::xentoollog_logger,
    context: *const c_char,
    doing_what: *const c_char,
    percent: c_int,
    _done: c_ulong,
    _total: c_ulong,
) {
    let _ = std::panic::catch_unwind(|| {
        tracing::debug!(target: "libxl", context = %text(context), "{} {percent}%", text(doing_what));
    });
}

/// The box owns the logger; libxl's destroy request has nothing to free.
unsafe extern "C" fn destroy(_lg: *mut ffi::xentoollog_logger) {}
