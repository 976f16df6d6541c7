//! The figures the app reports: no heap, and the stack high-water mark.
//!
//! cortex-m-rt (feature `paint-stack`) fills the whole stack region, from `_stack_end` (the end of
//! .bss) up to `_stack_start` (the top of RAM), with `STACK_PAINT_VALUE` before `main`; the
//! lowest word that no longer holds it marks the deepest the stack has been.

use core::ptr::addr_of;

use cortex_m_rt::STACK_PAINT_VALUE;

extern "C" {
    // From cortex-m-rt's link.x.
    static _stack_end: u32;
    static _stack_start: u32;
}

/// No allocator: every buffer is static or on the stack.
pub fn heap_usage() -> (usize, usize) {
    (0, 0)
}

/// The deepest the stack has been since reset, in bytes, for `BoardInfo::stack_peak`.
pub fn stack_peak() -> usize {
    let (bottom, top) = (
        addr_of!(_stack_end) as usize,
        addr_of!(_stack_start) as usize,
    );
    // SAFETY: the stack region link.x lays out: readable RAM, painted at reset.
    unsafe { mreq_fw::stack::high_water(bottom, top, STACK_PAINT_VALUE) }
}
