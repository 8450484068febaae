//! A counting global allocator: the bytes each thread holds, and a cap an
//! execution may not exceed. An allocation over the cap fails (the process
//! then aborts, as Rust does when memory runs out); [`over_cap`] tells the
//! abort handler why.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The allocator of every binary linking this crate (the harness and its tests).
pub struct Counting;

thread_local! {
    /// Bytes this thread allocated and has not freed (frees on another thread
    /// count there: the targets run on one thread).
    static LIVE: Cell<isize> = const { Cell::new(0) };
    /// The most `LIVE` may reach, while a cap is armed.
    static LIMIT: Cell<isize> = const { Cell::new(isize::MAX) };
    /// The highest `LIVE` since [`arm`].
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

static OVER_CAP: AtomicBool = AtomicBool::new(false);
static REFUSED: AtomicUsize = AtomicUsize::new(0);

/// Whether an allocation was refused for going over the cap, and its size.
pub fn over_cap() -> Option<usize> {
    OVER_CAP
        .load(Ordering::SeqCst)
        .then(|| REFUSED.load(Ordering::SeqCst))
}

/// Caps this thread's allocations at `cap` bytes more than it holds now;
/// returns the baseline for [`disarm`].
pub fn arm(cap: usize) -> isize {
    let base = LIVE.with(Cell::get);
    LIMIT.with(|l| l.set(base.saturating_add(isize::try_from(cap).unwrap_or(isize::MAX))));
    PEAK.with(|p| p.set(base));
    base
}

/// Lifts the cap; returns the peak bytes held above `base` since [`arm`].
pub fn disarm(base: isize) -> usize {
    LIMIT.with(|l| l.set(isize::MAX));
    let peak = PEAK.with(Cell::get);
    usize::try_from(peak - base).unwrap_or(0)
}

/// Counts `delta` bytes; false when that would go over the cap.
fn account(delta: isize) -> bool {
    LIVE.try_with(|live| {
        let now = live.get().saturating_add(delta);
        if delta > 0 && now > LIMIT.with(Cell::get) {
            return false;
        }
        live.set(now);
        PEAK.with(|p| p.set(p.get().max(now)));
        true
    })
    .unwrap_or(true)
}

fn refuse(size: usize) -> *mut u8 {
    REFUSED.store(size, Ordering::SeqCst);
    OVER_CAP.store(true, Ordering::SeqCst);
    std::ptr::null_mut()
}

fn signed(n: usize) -> isize {
    isize::try_from(n).unwrap_or(isize::MAX)
}

// SAFETY: every call is forwarded to `System` with the caller's layout and
// pointer unchanged; the counting touches only `Copy` thread-locals with
// const initialisers (no allocation, no destructor).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !account(signed(layout.size())) {
            return refuse(layout.size());
        }
        // SAFETY: the caller's layout, as `GlobalAlloc::alloc` requires.
        let p = unsafe { System.alloc(layout) };
        if p.is_null() {
            account(-signed(layout.size()));
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !account(signed(layout.size())) {
            return refuse(layout.size());
        }
        // SAFETY: as in `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if p.is_null() {
            account(-signed(layout.size()));
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        account(-signed(layout.size()));
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let delta = signed(new_size) - signed(layout.size());
        if !account(delta) {
            return refuse(new_size);
        }
        // SAFETY: `ptr` was allocated by `System` with `layout`; the caller
        // guarantees `new_size` is valid for it.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            account(-delta);
        }
        p
    }
}
