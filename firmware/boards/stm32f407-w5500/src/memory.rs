//! The heap (TLS record buffers and rustls' state) and the figures the app reports: heap bytes in
//! use and at peak, and the stack high-water mark.
//!
//! The heap is the 64 KiB of core-coupled RAM, which nothing else uses, spilling into 24 KiB of
//! main SRAM: one https connection needs about 57 KB at its peak (a 16 KiB record in, decrypted,
//! and waiting to be read) on top of the rustls configuration (9 KB with the Mozilla roots).
//! DMA cannot reach the CCM, and nothing on the heap is touched by DMA: the W5500's SPI
//! transfers use the buffers of the statically allocated tasks.
//!
//! cortex-m-rt (feature `paint-stack`) fills the whole stack region, from `_stack_end` (the end of
//! .bss) up to `_stack_start` (the top of RAM), with `STACK_PAINT_VALUE` before `main`; the
//! lowest word that no longer holds it marks the deepest the stack has been.

use core::mem::MaybeUninit;
use core::ptr::{addr_of, addr_of_mut};

use cortex_m_rt::STACK_PAINT_VALUE;
use embedded_alloc::LlffHeap;
use mreq_fw::heap::{Counting, Spill};

/// The STM32F407's core-coupled memory (CCM): 64 KiB at 0x1000_0000.
const CCM_START: usize = 0x1000_0000;
const CCM_SIZE: usize = 64 * 1024;
/// The part of main SRAM the heap spills into.
const SRAM_HEAP_SIZE: usize = 24 * 1024;

static mut SRAM_HEAP: [MaybeUninit<u8>; SRAM_HEAP_SIZE] = [MaybeUninit::uninit(); SRAM_HEAP_SIZE];

#[global_allocator]
static HEAP: Counting<Spill<LlffHeap, LlffHeap>> = Counting::new(Spill::new(
    LlffHeap::empty(),
    CCM_START..CCM_START + CCM_SIZE,
    LlffHeap::empty(),
));

extern "C" {
    // From cortex-m-rt's link.x.
    static _stack_end: u32;
    static _stack_start: u32;
}

/// Hands the CCM and the SRAM part to the allocator. Call once, before anything allocates.
pub fn init_heap() {
    let heap = HEAP.inner();
    // SAFETY: the CCM is RAM that no linker section and no other code uses; `SRAM_HEAP` is used
    // by nothing else; called once.
    unsafe {
        heap.first().init(CCM_START, CCM_SIZE);
        heap.second()
            .init(addr_of_mut!(SRAM_HEAP) as usize, SRAM_HEAP_SIZE);
    }
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
