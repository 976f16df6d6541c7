//! The device configuration block: the first `BLOCK_SIZE` bytes of QEMU `virt`'s second pflash
//! bank (`-drive if=pflash,unit=1,...`), mapped read-only at 0x2200_0000.
//!
//! QEMU maps both banks even without an image; an empty bank reads as zeros, which
//! `Config::parse` rejects (bad magic) like any other missing block.

use core::ptr::read_volatile;

use mreq_fwconfig::BLOCK_SIZE;
use static_cell::StaticCell;

const PFLASH1: *const u8 = 0x2200_0000 as *const u8;

/// A copy of the block in RAM, so the app can keep borrowing it as ordinary memory.
pub fn read() -> &'static [u8] {
    static COPY: StaticCell<[u8; BLOCK_SIZE]> = StaticCell::new();
    let copy = COPY.init([0; BLOCK_SIZE]);
    for (i, byte) in copy.iter_mut().enumerate() {
        // SAFETY: within the 32 MiB pflash bank that QEMU `virt` always maps.
        *byte = unsafe { read_volatile(PFLASH1.add(i)) };
    }
    copy
}
