//! The guest heap: power-of-two size classes up to a page, and a first-fit
//! list of page runs (coalesced on free) above that. Single vCPU, no locks,
//! so no locked instructions.

use crate::global::Global;
use core::alloc::{GlobalAlloc, Layout};

const PAGE: usize = 4096;
const MIN_CLASS: usize = 16;
const CLASSES: usize = 9; // 16 .. 4096

struct FreeBlock {
    next: *mut FreeBlock,
}

struct FreeRun {
    size: usize,
    next: *mut FreeRun,
}

struct State {
    bump: usize,
    end: usize,
    classes: [*mut FreeBlock; CLASSES],
    runs: *mut FreeRun,
}

/// The allocator behind `alloc`.
pub struct Heap(Global<State>);

impl Heap {
    const fn new() -> Heap {
        Heap(Global::new(State {
            bump: 0,
            end: 0,
            classes: [core::ptr::null_mut(); CLASSES],
            runs: core::ptr::null_mut(),
        }))
    }
}

/// The guest's global allocator.
#[cfg_attr(not(test), global_allocator)]
pub static HEAP: Heap = Heap::new();

/// Hands the memory `[start, end)` to the heap.
pub fn init(start: u64, end: u64) {
    // SAFETY: single vCPU, called once before any allocation.
    let state = unsafe { &mut *HEAP.0.get() };
    state.bump = align_up(start as usize, PAGE);
    state.end = end as usize;
}

/// Bytes not yet handed out by the bump pointer.
pub fn untouched() -> usize {
    // SAFETY: single vCPU, no concurrent access.
    let state = unsafe { &*HEAP.0.get() };
    state.end.saturating_sub(state.bump)
}

fn align_up(x: usize, a: usize) -> usize {
    (x + a - 1) & !(a - 1)
}

fn class_of(layout: &Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(MIN_CLASS);
    if size > PAGE {
        return None;
    }
    Some(size.next_power_of_two().trailing_zeros() as usize - MIN_CLASS.trailing_zeros() as usize)
}

impl State {
    fn bump(&mut self, size: usize, align: usize) -> *mut u8 {
        let start = align_up(self.bump, align);
        match start.checked_add(size) {
            Some(end) if end <= self.end => {
                self.bump = end;
                start as *mut u8
            }
            _ => core::ptr::null_mut(),
        }
    }

    fn alloc_run(&mut self, size: usize, align: usize) -> *mut u8 {
        if align <= PAGE {
            let mut link: *mut *mut FreeRun = &mut self.runs;
            // SAFETY: the run list only holds blocks this heap owns.
            unsafe {
                while !(*link).is_null() {
                    let run = *link;
                    if (*run).size >= size {
                        let rest = (*run).size - size;
                        if rest == 0 {
                            *link = (*run).next;
                        } else {
                            let tail = (run as usize + size) as *mut FreeRun;
                            (*tail).size = rest;
                            (*tail).next = (*run).next;
                            *link = tail;
                        }
                        return run as *mut u8;
                    }
                    link = &mut (*run).next;
                }
            }
        }
        self.bump(size, align.max(PAGE))
    }

    fn free_run(&mut self, ptr: *mut u8, size: usize) {
        let addr = ptr as usize;
        let mut prev: *mut FreeRun = core::ptr::null_mut();
        let mut next = self.runs;
        // SAFETY: the run list only holds blocks this heap owns; `ptr` is a
        // run of `size` bytes being returned.
        unsafe {
            while !next.is_null() && (next as usize) < addr {
                prev = next;
                next = (*next).next;
            }
            let node = ptr as *mut FreeRun;
            (*node).size = size;
            (*node).next = next;
            if !next.is_null() && addr + size == next as usize {
                (*node).size += (*next).size;
                (*node).next = (*next).next;
            }
            if prev.is_null() {
                self.runs = node;
            } else if prev as usize + (*prev).size == addr {
                (*prev).size += (*node).size;
                (*prev).next = (*node).next;
            } else {
                (*prev).next = node;
            }
        }
    }
}

// SAFETY: blocks are handed out once until freed; sizes and alignments
// follow the layout (size classes are aligned to their size, runs to pages).
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: single vCPU, no concurrent access.
        let state = unsafe { &mut *self.0.get() };
        match class_of(&layout) {
            Some(class) => {
                let head = state.classes[class];
                if head.is_null() {
                    let size = MIN_CLASS << class;
                    state.bump(size, size)
                } else {
                    // SAFETY: free blocks of a class are owned by the heap.
                    state.classes[class] = unsafe { (*head).next };
                    head as *mut u8
                }
            }
            None => state.alloc_run(align_up(layout.size(), PAGE), layout.align()),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: single vCPU, no concurrent access.
        let state = unsafe { &mut *self.0.get() };
        match class_of(&layout) {
            Some(class) => {
                let block = ptr as *mut FreeBlock;
                // SAFETY: the block is at least 16 bytes and ours again.
                unsafe { (*block).next = state.classes[class] };
                state.classes[class] = block;
            }
            None => state.free_run(ptr, align_up(layout.size(), PAGE)),
        }
    }
}
