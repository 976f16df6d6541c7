//! The heap (TLS record buffers and rustls' state) and the figures the app reports: heap bytes in
//! use and at peak, and the stack high-water mark.
//!
//! The heap is the 64 KiB of core-coupled RAM, which nothing else uses: DMA cannot reach it, and
//! nothing on the heap is touched by DMA (the W5500's SPI transfers use static buffers).
//!
//! cortex-m-rt (feature `paint-stack`) fills the whole stack region, from `_stack_end` (the end of
//! .bss) up to `_stack_start` (the top of RAM), with `STACK_PAINT_VALUE` before `main`; the
//! lowest word that no longer holds it marks the deepest the stack has been.

use core::ptr::addr_of;

use cortex_m_rt::STACK_PAINT_VALUE;
use embedded_alloc::LlffHeap;
use mreq_fw::heap::Counting;

/// The STM32F407's core-coupled memory (CCM): 64 KiB at 0x1000_0000.
const CCM_START: usize = 0x1000_0000;
const CCM_SIZE: usize = 64 * 1024;

#[global_allocator]
static HEAP: Counting<LlffHeap> = Counting::new(LlffHeap::empty());

extern "C" {
    // From cortex-m-rt's link.x.
    static _stack_end: u32;
    static _stack_start: u32;
}

/// Hands the CCM to the allocator. Call once, before anything allocates.
pub fn init_heap() {
    // SAFETY: the CCM is RAM that no linker section and no other code uses; called once.
    unsafe { HEAP.inner().init(CCM_START, CCM_SIZE) };
}

/// `(used, peak)` heap bytes, for `BoardInfo::heap`.
pub fn heap_usage() -> (usize, usize) {
    HEAP.usage()
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
