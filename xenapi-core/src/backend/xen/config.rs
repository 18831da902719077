//! `libxl_domain_config` and its parts as owned Rust values: built with libxl's `_init`, freed
//! with its `_dispose`, so every string and array inside is allocated with the C allocator that
//! `_dispose` frees with. Also libxl's own JSON form of a configuration, both ways.

use super::ctx::Ctx;
use super::ffi;
use std::ffi::{CStr, CString};
use std::os::raw::c_char;

/// A value libxl cannot hold (a string with a NUL byte): the caller names the field.
#[derive(Debug, Clone, PartialEq)]
pub struct NulInString;

/// A C string libxl's `_dispose` may free.
pub fn c_string(s: &str) -> Result<*mut c_char, NulInString> {
    let c = CString::new(s).map_err(|_| NulInString)?;
    // SAFETY: `c` is NUL-terminated; strdup copies it into malloc'd memory that libxl frees.
    let p = unsafe { libc::strdup(c.as_ptr()) };
    if p.is_null() {
        std::alloc::handle_alloc_error(std::alloc::Layout::new::<u8>());
    }
    Ok(p)
}

/// A NULL-terminated `libxl_string_list` of malloc'd strings.
pub fn string_list(items: &[&str]) -> Result<ffi::libxl_string_list, NulInString> {
    if items.iter().any(|s| s.contains('\0')) {
        return Err(NulInString);
    }
    // SAFETY: calloc of n+1 pointers; the last stays NULL as libxl expects.
    let list = unsafe { libc::calloc(items.len() + 1, std::mem::size_of::<*mut c_char>()) } as *mut *mut c_char;
    if list.is_null() {
        std::alloc::handle_alloc_error(std::alloc::Layout::new::<usize>());
    }
    for (i, s) in items.iter().enumerate() {
        // SAFETY: i < len, inside the allocation; no item holds a NUL (checked above).
        unsafe { *list.add(i) = c_string(s).unwrap_or(std::ptr::null_mut()) };
    }
    Ok(list)
}

/// A `libxl_bitmap` of `bits` bits with the first `set` of them set (what `avail_vcpus` and
/// `libxl_set_vcpuonline` take). Allocated here, not with `libxl_bitmap_alloc`, which needs a
/// context; `libxl_bitmap_dispose` frees it all the same.
pub fn first_bits(bits: u32, set: u32) -> ffi::libxl_bitmap {
    let bytes = bits.div_ceil(8).max(1);
    // SAFETY: zeroed allocation of `bytes` bytes, owned by the bitmap from here on.
    let map = unsafe { libc::calloc(bytes as usize, 1) } as *mut u8;
    if map.is_null() {
        std::alloc::handle_alloc_error(std::alloc::Layout::new::<u8>());
    }
    for i in 0..set.min(bits) {
        // SAFETY: i / 8 < bytes.
        unsafe { *map.add((i / 8) as usize) |= 1 << (i % 8) };
    }
    ffi::libxl_bitmap { size: bytes, map }
}

/// libxl's three-state boolean: `val` 1 true, -1 false, 0 left to libxl's default.
pub fn defbool(b: bool) -> ffi::libxl_defbool {
    ffi::libxl_defbool { val: if b { 1 } else { -1 } }
}

/// A whole domain configuration.
pub struct DomainConfig(ffi::libxl_domain_config);

// SAFETY: the configuration exclusively owns the memory its pointers lead to; libxl keeps no
// reference to it between calls.
unsafe impl Send for DomainConfig {}

impl DomainConfig {
    pub fn new() -> DomainConfig {
        let mut c = std::mem::MaybeUninit::<ffi::libxl_domain_config>::zeroed();
        // SAFETY: init fills in every field of the (zeroed) struct.
        unsafe { ffi::libxl_domain_config_init(c.as_mut_ptr()) };
        // SAFETY: initialised just above.
        DomainConfig(unsafe { c.assume_init() })
    }

    pub fn raw(&mut self) -> &mut ffi::libxl_domain_config {
        &mut self.0
    }

    pub fn as_ptr(&mut self) -> *mut ffi::libxl_domain_config {
        &mut self.0
    }

    /// Moves the disks into the configuration (which frees them with the rest).
    pub fn set_disks(&mut self, disks: Vec<Disk>) {
        let (ptr, n) = into_c_array(disks, |d| d.into_raw());
        self.0.disks = ptr;
        self.0.num_disks = n;
    }

    pub fn set_nics(&mut self, nics: Vec<Nic>) {
        let (ptr, n) = into_c_array(nics, |d| d.into_raw());
        self.0.nics = ptr;
        self.0.num_nics = n;
    }

    pub fn disks(&self) -> &[ffi::libxl_device_disk] {
        c_slice(self.0.disks, self.0.num_disks)
    }

    pub fn nics(&self) -> &[ffi::libxl_device_nic] {
        c_slice(self.0.nics, self.0.num_nics)
    }

    /// libxl's JSON of the configuration (`libxl_domain_config_to_json`). The generator needs
    /// no hypervisor: without a context it works on any machine.
    pub fn to_json(&mut self, ctx: Option<&Ctx>) -> Option<String> {
        let ctx = ctx.map_or(std::ptr::null_mut(), Ctx::raw);
        // SAFETY: the config is initialised; libxl returns a malloc'd string or NULL, and
        // uses the context (null or live) only to log a failure.
        let p = unsafe { ffi::libxl_domain_config_to_json(ctx, &mut self.0) };
        if p.is_null() {
            return None;
        }
        // SAFETY: non-null, NUL-terminated, ours to free.
        let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
        unsafe { libc::free(p.cast()) };
        Some(s)
    }

    /// Parses libxl's JSON of a configuration (`libxl_domain_config_from_json`); `Err` holds
    /// libxl's return code. Unlike the generator, the parser needs a context: it allocates
    /// bitmaps through it.
    pub fn from_json(ctx: &Ctx, json: &str) -> Result<DomainConfig, i32> {
        let text = CString::new(json).map_err(|_| ffi::ERROR_INVAL)?;
        let mut c = DomainConfig::new();
        // SAFETY: live context, `c` initialised, `text` NUL-terminated; on failure `c` is still
        // disposable.
        let rc = unsafe { ffi::libxl_domain_config_from_json(ctx.raw(), &mut c.0, text.as_ptr()) };
        if rc != 0 {
            return Err(rc);
        }
        Ok(c)
    }
}

impl Default for DomainConfig {
    fn default() -> Self {
        DomainConfig::new()
    }
}

impl Drop for DomainConfig {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`; dispose frees everything it owns, once.
        unsafe { ffi::libxl_domain_config_dispose(&mut self.0) }
    }
}

fn c_slice<'a, T>(p: *const T, n: i32) -> &'a [T] {
    if p.is_null() || n <= 0 {
        &[]
    } else {
        // SAFETY: libxl arrays hold `n` initialised elements at `p`.
        unsafe { std::slice::from_raw_parts(p, n as usize) }
    }
}

/// A malloc'd C array of the raw values, for a config that frees it with `free`.
fn into_c_array<W, T>(items: Vec<W>, raw: impl Fn(W) -> T) -> (*mut T, i32) {
    if items.is_empty() {
        return (std::ptr::null_mut(), 0);
    }
    let n = items.len();
    // SAFETY: calloc of n elements of T, filled below before use.
    let p = unsafe { libc::calloc(n, std::mem::size_of::<T>()) } as *mut T;
    if p.is_null() {
        std::alloc::handle_alloc_error(std::alloc::Layout::new::<T>());
    }
    for (i, it) in items.into_iter().enumerate() {
        // SAFETY: i < n; the slot is uninitialised memory we write once.
        unsafe { p.add(i).write(raw(it)) };
    }
    (p, n as i32)
}

macro_rules! device {
    ($name:ident, $raw:ty, $init:path, $dispose:path) => {
        /// One device, owned until it is moved into a configuration.
        pub struct $name($raw);

        // SAFETY: as for DomainConfig: exclusive ownership of what the pointers lead to.
        unsafe impl Send for $name {}

        impl $name {
            pub fn new() -> $name {
                let mut d = std::mem::MaybeUninit::<$raw>::zeroed();
                // SAFETY: init fills the zeroed struct.
                unsafe { $init(d.as_mut_ptr()) };
                // SAFETY: initialised just above.
                $name(unsafe { d.assume_init() })
            }
            pub fn raw(&mut self) -> &mut $raw {
                &mut self.0
            }
            /// Hands the device over; whoever holds it must dispose of it.
            fn into_raw(self) -> $raw {
                let me = std::mem::ManuallyDrop::new(self);
                // SAFETY: `me` is never dropped, so the value is moved out exactly once.
                unsafe { std::ptr::read(&me.0) }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name::new()
            }
        }

        impl Drop for $name {
            fn drop(&mut self) {
                // SAFETY: initialised in `new`, disposed once.
                unsafe { $dispose(&mut self.0) }
            }
        }
    };
}

device!(Disk, ffi::libxl_device_disk, ffi::libxl_device_disk_init, ffi::libxl_device_disk_dispose);
device!(Nic, ffi::libxl_device_nic, ffi::libxl_device_nic_init, ffi::libxl_device_nic_dispose);
