//! The device configuration block: [`BLOCK_SIZE`] bytes at the board's `config_address` (the
//! `mreqcfg` partition of `partitions.csv`), copied into RAM.
//!
//! ESP32 flash is reached through the cache only for code and constants that the bootloader maps,
//! so the block is read through esp-storage (the ROM's SPI flash routines). Erased flash reads as
//! 0xFF, which `Config::parse` rejects (bad magic) like any other missing block.

use esp_hal::peripherals::FLASH;
use esp_println::println;
use esp_storage::FlashStorage;
use mreq_fwconfig::BLOCK_SIZE;
use static_cell::ConstStaticCell;

/// Word-aligned, so esp-storage reads straight into it (no sector-sized bounce buffer on the
/// stack).
#[repr(C, align(4))]
struct Block([u8; BLOCK_SIZE]);

/// A copy of the block in RAM, so the app can keep borrowing it as ordinary memory. On a read
/// error the copy stays zeroed (and so reads as missing) and the error is printed.
pub fn read(flash: FLASH<'static>, board: &str) -> &'static [u8] {
    static COPY: ConstStaticCell<Block> = ConstStaticCell::new(Block([0; BLOCK_SIZE]));
    let copy = &mut COPY.take().0;
    let Some(board) = mreq_fwconfig::boards::board(board) else {
        println!("config: board {board} is not in the board table");
        return copy;
    };
    let offset = board.config_address - board.flash_origin;
    if let Err(e) = FlashStorage::new(flash).read_nor(offset, copy) {
        println!("config: cannot read flash at {offset:#x}: {e:?}");
        copy.fill(0);
    }
    copy
}
