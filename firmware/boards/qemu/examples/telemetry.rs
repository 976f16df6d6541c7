//! Your own firmware on the QEMU board: the board brought up by the library (`start`), then an
//! application instead of the shell: here `mreq_fw::telemetry` (JSON readings posted every
//! `EVERY_MS`, settings fetched and acted on, retries with backoff; see its doc). Copy its
//! source as the start of yours.
//!
//! Build: `cargo build --release --example telemetry` in `firmware/boards/qemu`; configure with
//! `mreq-flash --board qemu --app-setting SERVER=http://10.0.2.2:8080 --pflash-out cfg.img`.
#![no_std]
#![no_main]

use embassy_futures::join::join;
use mreq_board_qemu::{block_on, start, BOARD};

#[riscv_rt::entry]
fn main() -> ! {
    let mut board = start();
    let app = mreq_fw::telemetry::run(board.stack, &mut board.console, board.config_block, &BOARD);
    let (never, _) = block_on(join(board.runner.run(), app));
    never
}
