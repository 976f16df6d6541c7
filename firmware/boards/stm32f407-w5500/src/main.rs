//! mreq firmware for an STM32F407VG or VE with a WIZnet W5500 Ethernet module: wiring only (the
//! two chips differ only in flash size, so in the memory layout `build.rs` writes).
//!
//! Boot order: clocks (168 MHz from the internal HSI, so any F407 board works without knowing
//! its crystal; PLL Q gives the RNG its 48 MHz), console on USART2, configuration block (flash
//! sector 11 on the VG, sector 1 on the VE), W5500 on SPI1 under embassy-net (DHCP or static, from the block), the RNG
//! peripheral as TLS's random source, then the app
//! (`mreq_fw::run`), which owns the console from there on. The W5500 runner, the network stack
//! and the app are joined in the main task; nothing else is spawned.
//!
//! Pins (see README.md): USART2 TX PA2, RX PA3; SPI1 SCK PA5, MISO PA6, MOSI PA7;
//! W5500 CS PA4, INT PB0, RST PB1.
#![no_std]
#![no_main]

extern crate alloc;

mod config_block;
mod memory;
mod random;

use embassy_executor::Spawner;
use embassy_futures::join::join3;
use embassy_net::StackResources;
use embassy_net_wiznet::chip::W5500;
use embassy_stm32::exti::{self, ExtiInput};
use embassy_stm32::gpio::{Level, Output, Pull, Speed};
use embassy_stm32::rng::{self, Rng};
use embassy_stm32::spi::{self, Spi};
use embassy_stm32::time::Hertz;
use embassy_stm32::usart::{self, BufferedUart};
use embassy_stm32::{bind_interrupts, dma, interrupt, peripherals};
use embassy_time::Delay;
use embedded_hal_bus::spi::ExclusiveDevice;
use embedded_io_async::Write;
use panic_halt as _;
use static_cell::StaticCell;

/// Sockets embassy-net can hold: DHCP, DNS, and a few TCP connections for the app.
const SOCKETS: usize = 6;

static BOARD: mreq_fw::BoardInfo = mreq_fw::BoardInfo {
    name: env!("MREQ_BOARD"),
    heap: memory::heap_usage,
    stack_peak: memory::stack_peak,
};

bind_interrupts!(struct Irqs {
    USART2 => usart::BufferedInterruptHandler<peripherals::USART2>;
    RNG => rng::InterruptHandler<peripherals::RNG>;
    EXTI0 => exti::InterruptHandler<interrupt::typelevel::EXTI0>;
    DMA2_STREAM0 => dma::InterruptHandler<peripherals::DMA2_CH0>;
    DMA2_STREAM3 => dma::InterruptHandler<peripherals::DMA2_CH3>;
});

#[embassy_executor::main]
async fn main(_spawner: Spawner) -> ! {
    memory::init_heap();
    let p = embassy_stm32::init(clocks());

    static TX: StaticCell<[u8; 256]> = StaticCell::new();
    // A USART has no flow control: the receive buffer holds the device link's whole request
    // body window (1 KiB, firmware/PROTOCOL.md) with its frame headers, while the firmware is
    // busy on the network.
    static RX: StaticCell<[u8; 2048]> = StaticCell::new();
    let mut uart_config = usart::Config::default();
    uart_config.baudrate = 115_200;
    let uart = BufferedUart::new(
        p.USART2,
        p.PA3,
        p.PA2,
        TX.init([0; 256]),
        RX.init([0; 2048]),
        Irqs,
        uart_config,
    );
    // Only a baud rate the clock tree cannot produce fails here: a constant, checked on the bench.
    let Ok(mut uart) = uart else { panic!() };
    let _ = uart
        .write_all(concat!("mreq-fw ", env!("MREQ_BOARD"), ": boot\r\n").as_bytes())
        .await;

    let block = config_block::read();
    // The app reports what is wrong with a missing or corrupt block; here it only picks DHCP.
    let config = mreq_fwconfig::Config::parse(block).ok();

    // SPI1 on APB2 (84 MHz): 84 / 4 = 21 MHz, safe on jumper wires (the W5500 takes 33 MHz+).
    let mut spi_config = spi::Config::default();
    spi_config.frequency = Hertz(21_000_000);
    let spi = Spi::new(
        p.SPI1, p.PA5, p.PA7, p.PA6, p.DMA2_CH3, p.DMA2_CH0, Irqs, spi_config,
    );
    let cs = Output::new(p.PA4, Level::High, Speed::VeryHigh);
    let Ok(spi) = ExclusiveDevice::new(spi, cs, Delay);
    let int = ExtiInput::new(p.PB0, p.EXTI0, Pull::Up, Irqs);
    let reset = Output::new(p.PB1, Level::High, Speed::Low);

    let mac = mac_address(embassy_stm32::uid::uid());
    static STATE: StaticCell<embassy_net_wiznet::State<2, 2>> = StaticCell::new();
    let state = STATE.init(embassy_net_wiznet::State::new());
    let (device, wiznet) =
        match embassy_net_wiznet::new::<2, 2, W5500, _, _, _>(mac, state, spi, int, reset).await {
            Ok(pair) => pair,
            Err(_) => {
                let _ = uart
                    .write_all(b"mreq-fw: no W5500 answering on SPI1 (check wiring); halted\r\n")
                    .await;
                core::future::pending().await
            }
        };

    let mut random = Rng::new(p.RNG, Irqs);
    let seed = random.next_u64();
    // From here on the RNG peripheral is TLS's random source.
    random::init(random);
    static RESOURCES: StaticCell<StackResources<SOCKETS>> = StaticCell::new();
    let net_config = mreq_fw::net_config(config.as_ref());
    let (stack, mut runner) = embassy_net::new(
        device,
        net_config,
        RESOURCES.init(StackResources::new()),
        seed,
    );

    // The application example instead of the shell: `--features telemetry` (README "Write your
    // own firmware"; your own application goes here the same way).
    #[cfg(feature = "telemetry")]
    let app = mreq_fw::telemetry::run(stack, &mut uart, block, &BOARD);
    #[cfg(not(feature = "telemetry"))]
    let app = mreq_fw::run(stack, &mut uart, block, &BOARD);
    join3(wiznet.run(), runner.run(), app).await.0
}

/// HSI 16 MHz / 8 * 168 = 336 MHz VCO; P / 2 = 168 MHz system clock, Q / 7 = 48 MHz for the RNG.
/// APB1 42 MHz (USART2), APB2 84 MHz (SPI1).
fn clocks() -> embassy_stm32::Config {
    use embassy_stm32::rcc::*;
    let mut config = embassy_stm32::Config::default();
    config.rcc.hsi = true;
    config.rcc.pll_src = PllSource::HSI;
    config.rcc.pll = Some(Pll {
        prediv: PllPreDiv::DIV8,
        mul: PllMul::MUL168,
        divp: Some(PllPDiv::DIV2),
        divq: Some(PllQDiv::DIV7),
        divr: None,
    });
    config.rcc.sys = Sysclk::PLL1_P;
    config.rcc.ahb_pre = AHBPrescaler::DIV1;
    config.rcc.apb1_pre = APBPrescaler::DIV4;
    config.rcc.apb2_pre = APBPrescaler::DIV2;
    config
}

/// A locally administered unicast MAC (02:xx:xx:xx:xx:xx) from the 96-bit unique device ID:
/// FNV-1a over the ID, so boards from the same wafer still differ in the low bytes.
fn mac_address(uid: [u8; 12]) -> [u8; 6] {
    let hash = uid.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let h = hash.to_le_bytes();
    [0x02, h[0], h[1], h[2], h[3], h[4]]
}
