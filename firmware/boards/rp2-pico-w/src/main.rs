//! mreq firmware for the Raspberry Pi Pico W (RP2040 + CYW43439): wiring only.
//!
//! Boot order: USB console (CDC-ACM), configuration block (read in place from flash), the CYW43439
//! on PIO0, embassy-net over it, the Wi-Fi join task, then the app (`mreq_fw::run`), which owns the
//! console from there on. USB, the Wi-Fi chip, the network stack and the join loop each run in an
//! embassy task; the app runs in `main`.
//!
//! thumbv6m has no compare-and-swap atomics. Everything that needs one goes through the
//! `critical-section` crate, implemented by embassy-rp (`critical-section-impl`: an RP2040
//! hardware spinlock with interrupts masked, so still sound if core 1 is ever started);
//! portable-atomic's `critical-section` feature routes its CAS emulation (needed by static_cell
//! and usb-device) there too. No `unsafe-assume-single-core`, no second implementation.
#![no_std]
#![no_main]

mod memory;
mod usb_serial;
mod wifi;

use core::fmt::Write as _;

use cyw43_pio::{PioSpi, DEFAULT_CLOCK_DIVIDER};
use embassy_executor::Spawner;
use embassy_net::StackResources;
use embassy_rp::clocks::RoscRng;
use embassy_rp::gpio::{Level, Output};
use embassy_rp::peripherals::{DMA_CH0, PIO0, USB};
use embassy_rp::pio::Pio;
use embassy_rp::{bind_interrupts, dma, pio, usb};
use embassy_time::{with_timeout, Duration};
use embedded_io_async::Write as _;
use panic_halt as _;
use static_cell::StaticCell;

bind_interrupts!(struct Irqs {
    USBCTRL_IRQ => usb::InterruptHandler<USB>;
    PIO0_IRQ_0 => pio::InterruptHandler<PIO0>;
    DMA_IRQ_0 => dma::InterruptHandler<DMA_CH0>;
});

/// Sockets embassy-net can hold: DHCP, DNS, and a few TCP connections for the app.
const SOCKETS: usize = 6;
/// How long the console waits for the first join before the app starts.
const FIRST_JOIN: Duration = Duration::from_secs(30);
/// Every task is spawned once, so its single-slot pool is free.
const ONCE: &str = "task spawned once";

static BOARD: mreq_fw::BoardInfo = mreq_fw::BoardInfo {
    name: "rp2-pico-w",
    heap: memory::heap_usage,
    stack_peak: memory::stack_peak,
};

type WifiBus = cyw43::SpiBus<Output<'static>, PioSpi<'static, PIO0, 0>>;

#[embassy_executor::task]
async fn usb_task(mut device: embassy_usb::UsbDevice<'static, usb_serial::UsbDriver>) -> ! {
    device.run().await
}

#[embassy_executor::task]
async fn cyw43_task(runner: cyw43::Runner<'static, WifiBus>) -> ! {
    runner.run().await
}

#[embassy_executor::task]
async fn net_task(mut runner: embassy_net::Runner<'static, cyw43::NetDriver<'static>>) -> ! {
    runner.run().await
}

/// TLS's random bytes: the ring oscillator's random bit (embassy-rp's `RoscRng`), read for every
/// byte; never a seeded PRNG alone.
#[cfg(feature = "https")]
fn fill_random(buf: &mut [u8]) -> Result<(), mreq_fw::tls::getrandom::Error> {
    RoscRng.fill_bytes(buf);
    Ok(())
}
#[cfg(feature = "https")]
mreq_fw::register_rng!(fill_random);

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    memory::init_heap();
    let p = embassy_rp::init(Default::default());
    let (device, mut serial) = usb_serial::new(usb::Driver::new(p.USB, Irqs));
    spawner.spawn(usb_task(device).expect(ONCE));

    let block = memory::config_block();
    // The app reports what is wrong with a missing or corrupt block; here it picks the network.
    let config = mreq_fwconfig::Config::parse(block).ok();
    let network = wifi::network(config.as_ref());

    // The Pico W's CYW43439 on gSPI: power GPIO 23, chip select 25, data 24, clock 29.
    let pwr = Output::new(p.PIN_23, Level::Low);
    let cs = Output::new(p.PIN_25, Level::High);
    let mut pio = Pio::new(p.PIO0, Irqs);
    let dma = dma::Channel::new(p.DMA_CH0, Irqs);
    let (sm, irq) = (pio.sm0, pio.irq0);
    let spi = PioSpi::new(
        &mut pio.common,
        sm,
        DEFAULT_CLOCK_DIVIDER,
        irq,
        cs,
        p.PIN_24,
        p.PIN_29,
        dma,
    );
    static STATE: StaticCell<cyw43::State> = StaticCell::new();
    let state = STATE.init(cyw43::State::new());
    let (net_device, mut control, runner) =
        cyw43::new(state, pwr, spi, wifi::FIRMWARE, wifi::NVRAM).await;
    spawner.spawn(cyw43_task(runner).expect(ONCE));
    control.init(wifi::CLM).await;
    control
        .set_power_management(cyw43::PowerManagementMode::Performance)
        .await;

    let net_config = mreq_fw::net_config(config.as_ref());
    static RESOURCES: StaticCell<StackResources<SOCKETS>> = StaticCell::new();
    let seed = RoscRng.next_u64();
    let (stack, runner) = embassy_net::new(
        net_device,
        net_config,
        RESOURCES.init(StackResources::new()),
        seed,
    );
    spawner.spawn(net_task(runner).expect(ONCE));

    // The console waits for a terminal (see usb_serial), so this line is never lost.
    let mut line = heapless::String::<160>::new();
    let _ = match network {
        Ok(net) => {
            let ssid = net.ssid;
            spawner.spawn(wifi::join_task(control, stack, net).expect(ONCE));
            match with_timeout(FIRST_JOIN, wifi::JOINED.wait()).await {
                Ok(Ok(())) => write!(line, "wifi: joined \"{ssid}\""),
                Ok(Err(e)) => write!(
                    line,
                    "wifi: joining \"{ssid}\" failed: {}; retrying every {} s",
                    wifi::describe(&e),
                    wifi::RETRY.as_secs()
                ),
                Err(_) => write!(line, "wifi: still joining \"{ssid}\" in the background"),
            }
        }
        Err(why) => write!(
            line,
            "wifi: not joining: {why}; the shell starts without a network"
        ),
    };
    let _ = line.push_str("\r\n");
    let _ = serial.write_all(line.as_bytes()).await;
    // The application example instead of the shell: `--features telemetry` (README "Write your
    // own firmware"; your own application goes here the same way).
    #[cfg(feature = "telemetry")]
    let app = mreq_fw::telemetry::run(stack, &mut serial, block, &BOARD);
    #[cfg(not(feature = "telemetry"))]
    let app = mreq_fw::run(stack, &mut serial, block, &BOARD);
    app.await
}
