//! The heap (esp-radio's buffers and driver tasks, esp-rtos's thread stacks) and the figures the
//! app reports: heap bytes in use and at peak, from esp-alloc's own statistics, and the main
//! stack's high-water mark.
//!
//! The main stack (esp-hal's linker scripts: from `_stack_start` down to `_stack_end`, the RAM
//! left after the statics) runs the embassy executor, so every task of ours and the app; the
//! radio driver's own threads have stacks on the heap and are not counted. It is painted at boot;
//! the deepest word no longer holding the pattern marks the peak. The painting starts above
//! `__stack_chk_guard`: esp-hal keeps a guard word there under a write watchpoint.

use core::ptr::addr_of;

/// Heap in the RAM that held the second-stage bootloader, free once the app runs.
const RECLAIMED_HEAP: usize = 64 * 1024;
/// Heap among the statics; with `https` 64 KiB more for one TLS connection (Mbed TLS's state,
/// two 16 KiB record buffers, the handshake's peak: about 60 KiB on QEMU).
#[cfg(not(feature = "https"))]
const STATIC_HEAP: usize = 32 * 1024;
#[cfg(feature = "https")]
const STATIC_HEAP: usize = 96 * 1024;

/// Hands the heap regions to esp-alloc. Call once, after `esp_hal::init`.
pub fn init_heap() {
    esp_alloc::heap_allocator!(#[esp_hal::ram(reclaimed)] size: RECLAIMED_HEAP);
    esp_alloc::heap_allocator!(size: STATIC_HEAP);
}

/// `(used, peak)` heap bytes, for `BoardInfo::heap`.
pub fn heap_usage() -> (usize, usize) {
    let stats = esp_alloc::HEAP.stats();
    (stats.current_usage, stats.max_usage)
}

extern "C" {
    // From esp-hal's linker scripts.
    static __stack_chk_guard: u32;
    static _stack_start: u32;
}

use mreq_fw::stack::PAINT;

/// `(lowest paintable word, top)` of the main stack.
fn stack_bounds() -> (usize, usize) {
    (
        addr_of!(__stack_chk_guard) as usize + 4,
        addr_of!(_stack_start) as usize,
    )
}

/// Paints the unused stack (see `mreq_fw::stack`), so that `stack_peak` can measure it.
pub fn paint_stack() {
    let (bottom, _) = stack_bounds();
    // SAFETY: the main stack above its guard word, below this frame.
    unsafe { mreq_fw::stack::paint_below_sp(bottom) }
}

/// The deepest the main stack has been since `paint_stack`, in bytes, for
/// `BoardInfo::stack_peak`.
pub fn stack_peak() -> usize {
    let (bottom, top) = stack_bounds();
    // SAFETY: the main stack region above the guard word is readable RAM.
    unsafe { mreq_fw::stack::high_water(bottom, top, PAINT) }
}
