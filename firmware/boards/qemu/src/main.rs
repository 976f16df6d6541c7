//! mreq firmware for `qemu-system-riscv32 -machine virt`: the request shell on the board that
//! `src/lib.rs` brings up.
#![no_std]
#![no_main]

use embassy_futures::join::join;
use mreq_board_qemu::{block_on, start, BOARD};

#[riscv_rt::entry]
fn main() -> ! {
    let mut board = start();
    let app = mreq_fw::run(board.stack, &mut board.console, board.config_block, &BOARD);
    let (never, _) = block_on(join(board.runner.run(), app));
    never
}
