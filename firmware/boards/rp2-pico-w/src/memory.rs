//! What the board reads from its memory layout (the generated memory.x): the configuration block
//! and the stack high-water mark; with `https`, the heap the TLS state lives in.
//!
//! Without `https` there is no heap: every buffer is static or on the stack (`(0, 0)`).

use core::ptr::addr_of;

use cortex_m_rt::STACK_PAINT_VALUE;
use mreq_fwconfig::BLOCK_SIZE;

extern "C" {
    // memory.x: the start of the configuration block's flash sector.
    static _config_block: [u8; BLOCK_SIZE];
    // cortex-m-rt's link.x: the stack grows down from `_stack_start` towards `_stack_end`, the
    // end of .bss. With its `paint-stack` feature the reset handler fills that span with
    // `STACK_PAINT_VALUE` before `main`.
    static _stack_start: u32;
    static _stack_end: u32;
}

/// The configuration block, read in place: RP2040 flash is memory-mapped (XIP) and nothing in
/// this firmware writes to it.
pub fn config_block() -> &'static [u8] {
    // SAFETY: memory.x places the symbol at a BLOCK_SIZE block inside the mapped flash, which
    // stays readable and unchanged while the firmware runs.
    unsafe { &*addr_of!(_config_block) }
}

/// Heap for one TLS connection: Mbed TLS's state and two 16 KiB record buffers, the parsed CA
/// certificates, and the handshake's peak (about 60 KiB on QEMU, README "https in firmware").
#[cfg(feature = "https")]
const HEAP_SIZE: usize = 96 * 1024;

#[cfg(feature = "https")]
#[global_allocator]
static HEAP: mreq_fw::heap::Counting<embedded_alloc::LlffHeap> =
    mreq_fw::heap::Counting::new(embedded_alloc::LlffHeap::empty());

/// Hands the heap its memory. Call once, first thing in `main`.
#[cfg(feature = "https")]
pub fn init_heap() {
    use core::mem::MaybeUninit;
    static mut MEMORY: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
    // SAFETY: called once, before anything allocates; MEMORY is used by nothing else.
    unsafe {
        HEAP.inner()
            .init(core::ptr::addr_of_mut!(MEMORY) as usize, HEAP_SIZE)
    }
}

#[cfg(not(feature = "https"))]
pub fn init_heap() {}

/// `(used, peak)` heap bytes, for `BoardInfo::heap`.
pub fn heap_usage() -> (usize, usize) {
    #[cfg(feature = "https")]
    return HEAP.usage();
    #[cfg(not(feature = "https"))]
    (0, 0)
}

/// The deepest the stack has been since reset, in bytes, for `BoardInfo::stack_peak`.
pub fn stack_peak() -> usize {
    let (bottom, top) = (
        addr_of!(_stack_end) as usize,
        addr_of!(_stack_start) as usize,
    );
    // SAFETY: between the end of .bss and the top of the stack: readable RAM, painted at reset.
    unsafe { mreq_fw::stack::high_water(bottom, top, STACK_PAINT_VALUE) }
}
