//! No memory is leaked over 10,000 calls through the broker side into the Rust test
//! provider: the live allocations of the host (counted by a wrapping global
//! allocator) and the bytes in use on the process heap (glibc `mallinfo2`, which also
//! sees the provider library's allocations) do not grow. A leak of even one small
//! allocation per call would add 10,000 allocations or well over 64 KiB.

mod common;

use cmpi_shim::broker::{ProviderLibrary, Upcalls};
use cmpi_shim::*;
use common::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);
static BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            BYTES.fetch_add(l.size() as isize, Ordering::Relaxed);
            LIVE.fetch_add(1, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
        BYTES.fetch_sub(l.size() as isize, Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(l);
        if !p.is_null() {
            BYTES.fetch_add(l.size() as isize, Ordering::Relaxed);
            LIVE.fetch_add(1, Ordering::Relaxed);
        }
        p
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        let q = System.realloc(p, l, n);
        if !q.is_null() {
            BYTES.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed);
        }
        q
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[repr(C)]
#[derive(Default)]
struct MallInfo2 {
    arena: usize,
    ordblks: usize,
    smblks: usize,
    hblks: usize,
    hblkhd: usize,
    usmblks: usize,
    fsmblks: usize,
    uordblks: usize,
    fordblks: usize,
    keepcost: usize,
}

extern "C" {
    fn mallinfo2() -> MallInfo2;
}

fn heap_in_use() -> usize {
    // SAFETY: glibc >= 2.33 provides mallinfo2; it only reads allocator statistics.
    let m = unsafe { mallinfo2() };
    m.uordblks + m.hblkhd
}

struct Drop_;
impl Upcalls for Drop_ {}

fn round(lib: &ProviderLibrary, panicky: &ProviderLibrary, args: &Args, i: usize) {
    let c = ctx();
    let cls = ObjectPath::new(NS, "Test_Element");
    match i % 8 {
        0 => assert_eq!(lib.invoke_method(&c, &element("a"), "Echo", args).unwrap().out_args.len(), args.len()),
        1 => assert!(lib.enumerate_instances(&c, &cls, None).unwrap().len() >= 3),
        2 => assert!(lib.enumerate_instance_names(&c, &cls).unwrap().len() >= 3),
        3 => assert!(lib.get_instance(&c, &element("b"), None).is_ok()),
        4 => assert_eq!(lib.associators(&c, &element("a"), None, None, Some("Antecedent"), None, None).unwrap().len(), 2),
        5 => assert!(lib.invoke_method(&c, &element("a"), "Fire", &[]).is_ok()),
        6 => assert!(lib.invoke_method(&c, &element("a"), "Fail", &[]).is_err()),
        _ => assert!(panicky.get_instance(&c, &element("a"), None).is_err()),
    }
}

#[test]
fn no_leak_over_10000_calls() {
    // Silence the default hook's report of the provider's deliberate panics.
    std::panic::set_hook(Box::new(|_| {}));
    let lib = ProviderLibrary::load_with(rust_provider(), "Test_Rust", Arc::new(Drop_)).unwrap();
    let panicky = ProviderLibrary::load(rust_provider(), "Test_Panic").unwrap();
    let args = every_type();
    // Warm-up: lets lazily grown state and glibc's per-thread caches (which
    // mallinfo2 counts as in use) reach their steady size.
    for i in 0..10_000 {
        round(&lib, &panicky, &args, i);
    }
    let (live0, bytes0, heap0) = (LIVE.load(Ordering::SeqCst), BYTES.load(Ordering::SeqCst), heap_in_use());
    for i in 0..10_000 {
        round(&lib, &panicky, &args, i);
    }
    let (live1, heap1) = (LIVE.load(Ordering::SeqCst), heap_in_use());
    let _ = std::panic::take_hook();
    let bytes1 = BYTES.load(Ordering::SeqCst);
    assert!(live1 - live0 <= 16, "host allocations grew by {} over 10,000 calls", live1 - live0);
    assert!(bytes1 - bytes0 <= 4096, "host bytes grew by {} over 10,000 calls", bytes1 - bytes0);
    assert!(heap1 <= heap0 + 64 * 1024, "heap grew from {heap0} to {heap1} bytes over 10,000 calls");
}
