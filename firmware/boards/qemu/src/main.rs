//! mreq firmware for `qemu-system-riscv32 -machine virt`: wiring only.
//!
//! Boot order: stack paint and heap, console, configuration block (second pflash bank), virtio-net
//! under embassy-net (DHCP from QEMU's user-mode network, the host at 10.0.2.2), then the app.
//! One hart, no interrupts: a busy-polling loop runs the network stack and the app together.
#![no_std]
#![no_main]

extern crate alloc;

mod config_block;
mod exit;
mod memory;
mod time;
mod uart;
mod virtio;

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use embassy_futures::join::join;
use embassy_net::{Stack, StackResources};
use embedded_io_async::{Read, Write};
use static_cell::StaticCell;

#[allow(unused_imports)] // for the app, once it can ask the board to end the run
pub use exit::qemu_exit;

/// Sockets embassy-net can hold: DHCP, DNS, and a few TCP connections for the app.
const SOCKETS: usize = 6;

static BOARD: mreq_fw::BoardInfo = mreq_fw::BoardInfo {
    name: "qemu",
    heap: memory::heap_usage,
    stack_peak: memory::stack_peak,
};

#[riscv_rt::entry]
fn main() -> ! {
    memory::paint_stack();
    memory::init_heap();
    let uart = uart::Uart::init();
    println!("mreq-fw qemu: boot (riscv32imac, QEMU virt)");

    let block = config_block::read();
    let config = mreq_fwconfig::Config::parse(block)
        .map_err(|e| println!("mreq-fw qemu: config: {e}; using defaults"))
        .ok();

    let net = match virtio::Net::probe() {
        Ok(net) => net,
        Err(e) => {
            println!("mreq-fw qemu: {e}");
            qemu_exit(1)
        }
    };
    let mac = net.mac();
    println!(
        "mreq-fw qemu: virtio-net {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
    );

    static RESOURCES: StaticCell<StackResources<SOCKETS>> = StaticCell::new();
    // Different on every boot (mtime counts from QEMU start, which varies) and per NIC.
    let seed = time::mtime() ^ u64::from_le_bytes([mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], 0, 0]);
    let net_config = mreq_fw::net_config(config.as_ref());
    let (stack, mut runner) = embassy_net::new(net, net_config, RESOURCES.init(StackResources::new()), seed);

    let (never, _) = block_on(join(runner.run(), app(stack, uart, block)));
    never
}

/// Until `mreq_fw::run` exists: report the address, then echo the console so that its read path
/// is exercised.
async fn app(stack: Stack<'_>, mut uart: uart::Uart, _config_block: &[u8]) -> ! {
    stack.wait_config_up().await;
    if let Some(v4) = stack.config_v4() {
        println!("mreq-fw qemu: ip {}", v4.address.address());
    }
    let (heap_used, heap_peak) = (BOARD.heap)();
    println!(
        "mreq-fw qemu: heap {heap_used} B (peak {heap_peak} B), stack peak {} B",
        (BOARD.stack_peak)()
    );
    let mut buf = [0u8; 64];
    loop {
        let Ok(n) = uart.read(&mut buf).await;
        let Ok(()) = uart.write_all(&buf[..n]).await;
    }
}

/// Polls `fut` until it completes. Nothing sleeps: every future is polled on every pass, so
/// wakers (a no-op here) never need to be kept.
fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}
