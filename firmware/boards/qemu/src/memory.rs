//! The heap (virtio-drivers allocates its queues and receive buffers) and the figures the app
//! reports: heap bytes in use and at peak, and the stack high-water mark.
//!
//! Both regions are laid out in memory.x. The heap counts the bytes callers asked for, not the
//! allocator's overhead. The stack is painted with a pattern at boot; the deepest word no longer
//! holding it marks the peak.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::addr_of;
use core::sync::atomic::{AtomicUsize, Ordering};

use embedded_alloc::LlffHeap;

struct Counting {
    heap: LlffHeap,
    used: AtomicUsize,
    peak: AtomicUsize,
}

#[global_allocator]
static HEAP: Counting = Counting {
    heap: LlffHeap::empty(),
    used: AtomicUsize::new(0),
    peak: AtomicUsize::new(0),
};

// SAFETY: forwards to a sound allocator; the counters do not touch the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on unchanged.
        let ptr = unsafe { self.heap.alloc(layout) };
        if !ptr.is_null() {
            let now = self.used.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            self.peak.fetch_max(now, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as in `alloc`.
        unsafe { self.heap.dealloc(ptr, layout) };
        self.used.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

extern "C" {
    // From memory.x.
    static _heap_size: u8;
    static _stack_bottom: u32;
    static _stack_start: u32;
}

/// Hands the heap region to the allocator. Call once, before anything allocates.
pub fn init_heap() {
    let size = addr_of!(_heap_size) as usize;
    // SAFETY: riscv-rt reserves `_heap_size` bytes at `heap_start()` for us alone; called once.
    unsafe { HEAP.heap.init(riscv_rt::heap_start() as usize, size) };
}

/// `(used, peak)` heap bytes, for `BoardInfo::heap`.
pub fn heap_usage() -> (usize, usize) {
    (
        HEAP.used.load(Ordering::Relaxed),
        HEAP.peak.load(Ordering::Relaxed),
    )
}

use mreq_fw::stack::PAINT;

fn stack_bounds() -> (usize, usize) {
    (
        addr_of!(_stack_bottom) as usize,
        addr_of!(_stack_start) as usize,
    )
}

/// Paints the unused stack (see `mreq_fw::stack`), so that `stack_peak` can measure it.
pub fn paint_stack() {
    let (bottom, _) = stack_bounds();
    // SAFETY: the stack region of memory.x, below this frame.
    unsafe { mreq_fw::stack::paint_below_sp(bottom) }
}

/// The deepest the stack has been since `paint_stack`, in bytes, for `BoardInfo::stack_peak`.
pub fn stack_peak() -> usize {
    let (bottom, top) = stack_bounds();
    // SAFETY: the stack region of memory.x is readable RAM.
    unsafe { mreq_fw::stack::high_water(bottom, top, PAINT) }
}
