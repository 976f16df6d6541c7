//! The heap (virtio-drivers allocates its queues and receive buffers, TLS its record buffers) and
//! the figures the app reports: heap bytes in use and at peak, and the stack high-water mark.
//!
//! Both regions are laid out in memory.x. The heap counts the bytes callers asked for, not the
//! allocator's overhead. The stack is painted with a pattern at boot; the deepest word no longer
//! holding it marks the peak.

use core::ptr::addr_of;

use embedded_alloc::LlffHeap;
use mreq_fw::heap::Counting;

#[global_allocator]
static HEAP: Counting<LlffHeap> = Counting::new(LlffHeap::empty());

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
    unsafe { HEAP.inner().init(riscv_rt::heap_start() as usize, size) };
}

/// `(used, peak)` heap bytes, for `BoardInfo::heap`.
pub fn heap_usage() -> (usize, usize) {
    HEAP.usage()
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
