//! The QEMU `virt` board (`qemu-system-riscv32 -machine virt`): wiring only, as a library so the
//! shell (`src/main.rs`) and your own firmware (`examples/`) bring the board up the same way.
//!
//! Boot order in [`start`]: stack paint and heap, console, configuration block (second pflash
//! bank), virtio-net under embassy-net (DHCP from QEMU's user-mode network, the host at 10.0.2.2),
//! virtio-rng for TLS. One hart, no interrupts: [`block_on`] busy-polls the network stack and the
//! application together.
#![no_std]

extern crate alloc;

mod config_block;
pub mod exit;
mod memory;
mod rng;
mod time;
pub mod uart;
pub mod virtio;

use embassy_net::{Runner, Stack, StackResources};
use static_cell::StaticCell;

use exit::qemu_exit;

/// Sockets embassy-net can hold: DHCP, DNS, and a few TCP connections for the app.
const SOCKETS: usize = 6;

/// The board's name and its memory figures, for `mreq_fw::run` and your own reports.
pub static BOARD: mreq_fw::BoardInfo = mreq_fw::BoardInfo {
    name: "qemu",
    heap: memory::heap_usage,
    stack_peak: memory::stack_peak,
};

/// What [`start`] brought up.
pub struct Board {
    /// The console (ns16550), an `embedded_io_async` serial port.
    pub console: uart::Uart,
    /// The configuration block's bytes (`mreq_fwconfig::Config::parse` them).
    pub config_block: &'static [u8],
    pub stack: Stack<'static>,
    /// Must be polled for the network to run: `block_on(join(runner.run(), app))`.
    pub runner: Runner<'static, virtio::Net>,
}

/// Brings the board up; ends QEMU with status 1 if it has no network device. Call once.
pub fn start() -> Board {
    memory::paint_stack();
    memory::init_heap();
    let console = uart::Uart::init();
    println!("mreq-fw qemu: boot (riscv32imac, QEMU virt)");

    let config_block = config_block::read();
    // The app reports what is wrong with a missing or corrupt block; here it only picks DHCP.
    let config = mreq_fwconfig::Config::parse(config_block).ok();

    let mut devices = virtio::scan();
    let net = match virtio::Net::new(&mut devices) {
        Ok(net) => net,
        Err(e) => {
            println!("mreq-fw qemu: {e}");
            qemu_exit(1)
        }
    };
    // Without it https fails with a clear error; plain http still works.
    if let Err(e) = rng::init(&mut devices) {
        println!("mreq-fw qemu: {e}; https will not work");
    }
    let mac = net.mac();
    println!(
        "mreq-fw qemu: virtio-net {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
    );

    static RESOURCES: StaticCell<StackResources<SOCKETS>> = StaticCell::new();
    // Different on every boot (mtime counts from QEMU start, which varies) and per NIC.
    let seed =
        time::mtime() ^ u64::from_le_bytes([mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], 0, 0]);
    let net_config = mreq_fw::net_config(config.as_ref());
    let (stack, runner) =
        embassy_net::new(net, net_config, RESOURCES.init(StackResources::new()), seed);
    Board {
        console,
        config_block,
        stack,
        runner,
    }
}

/// Polls a future until it completes (embassy-futures' busy loop: nothing sleeps, so wakers,
/// a no-op here, never need to be kept).
pub use embassy_futures::block_on;
