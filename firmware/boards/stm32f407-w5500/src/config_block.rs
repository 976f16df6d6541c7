//! The device configuration block: the first `BLOCK_SIZE` bytes of its flash sector (11 on the
//! VG, 1 on the VE).
//!
//! Its address comes from the board table through the generated memory.x (`_config_block`), so
//! there is no second copy of it here. STM32 flash is memory-mapped and this firmware never
//! writes it, so the block is borrowed in place. Erased flash reads as 0xFF, which
//! `Config::parse` rejects (bad magic) like any other missing block.

use mreq_fwconfig::BLOCK_SIZE;

extern "C" {
    // From memory.x (build.rs): the first byte of the configuration region.
    static _config_block: [u8; BLOCK_SIZE];
}

pub fn read() -> &'static [u8] {
    // SAFETY: the symbol marks BLOCK_SIZE bytes of mapped, read-only (never written while the
    // firmware runs) flash in a region the linker keeps free of code and data.
    unsafe { &*core::ptr::addr_of!(_config_block) }
}
