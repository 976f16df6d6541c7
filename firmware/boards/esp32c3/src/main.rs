//! mreq firmware for the Seeed XIAO ESP32-C3: wiring only.
//!
//! Boot order: stack paint, esp-hal (CPU at its top clock), heap, the esp-rtos scheduler (which
//! esp-radio runs its driver tasks on), the configuration block (read from flash with
//! esp-storage), the Wi-Fi station (esp-radio) under embassy-net, then the app
//! (`mreq_fw::run`), which owns the USB-Serial-JTAG console from there on. Two embassy tasks run
//! beside it: the network stack and the Wi-Fi link keeper (join, and rejoin after a loss).
//!
//! Nothing here names a pin: the console and the radio are fixed on-chip peripherals. What is
//! specific to the chip is the `esp32c3` cargo feature and [`BOARD_NAME`]; the ESP32-S3 board is
//! this crate with the chip feature switched.
#![no_std]
#![no_main]

mod config_block;
mod memory;

use embassy_executor::Spawner;
use embassy_net::{Runner, StackResources};
use embassy_time::Timer;
use esp_backtrace as _;
use esp_hal::clock::CpuClock;
use esp_hal::rng::Rng;
use esp_hal::timer::timg::TimerGroup;
use esp_hal::usb::usb_serial_jtag::UsbSerialJtag;
use esp_println::println;
use esp_radio::wifi::sta::StationConfig;
use esp_radio::wifi::{AuthenticationMethodConfig, Config, ControllerConfig};
use esp_radio::wifi::{Interface, WifiController};
use static_cell::StaticCell;

esp_bootloader_esp_idf::esp_app_desc!();

/// The board's name in `mreq_fwconfig::boards` (where the configuration block lives).
#[cfg(feature = "esp32c3")]
const BOARD_NAME: &str = "esp32c3";
#[cfg(feature = "esp32s3")]
const BOARD_NAME: &str = "esp32s3";

/// Sockets embassy-net can hold: DHCP, DNS, and a few TCP connections for the app.
const SOCKETS: usize = 6;

/// How long the link keeper waits before it tries to join again.
const REJOIN_SECS: u64 = 5;

static BOARD: mreq_fw::BoardInfo = mreq_fw::BoardInfo {
    name: BOARD_NAME,
    heap: memory::heap_usage,
    stack_peak: memory::stack_peak,
};

/// TLS's random bytes: the chip's RNG (random from RF noise once the radio is on; https starts
/// only after Wi-Fi is up).
#[cfg(feature = "https")]
fn fill_random(buf: &mut [u8]) -> Result<(), mreq_fw::tls::getrandom::Error> {
    Rng::new().read(buf);
    Ok(())
}
#[cfg(feature = "https")]
mreq_fw::register_rng!(fill_random);

#[esp_hal::main]
async fn main(spawner: Spawner) -> ! {
    // First, while nothing else runs: no interrupt handler can be using the stack below us.
    memory::paint_stack();
    let peripherals = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));
    memory::init_heap();
    let timg0 = TimerGroup::new(peripherals.TIMG0);
    esp_rtos::start(timg0.timer0, peripherals.FROM_CPU_INTR0);
    println!("mreq-fw {BOARD_NAME}: boot");

    let block = config_block::read(peripherals.FLASH, BOARD_NAME);
    // The app reports what is wrong with a missing or corrupt block; here it only picks the
    // access point and DHCP or a static address.
    let config = mreq_fwconfig::Config::parse(block).ok();
    let station = station(config.as_ref());
    match &station {
        Ok((ssid, _)) => println!("wifi: joining {ssid:?}"),
        Err(why) => println!(
            "wifi: {why}: no network. Write Wi-Fi credentials into the configuration block \
             (mreq-flash --board {BOARD_NAME} --wifi-ssid NAME --wifi-pass PASSWORD)."
        ),
    }
    let initial = station.clone().map(|(_, sta)| sta).unwrap_or_default();
    let initial = Config::Station(initial);
    let controller = ControllerConfig::default().with_initial_config(initial);
    let controller = match WifiController::new(peripherals.WIFI, controller) {
        Ok(controller) => Some(controller),
        Err(e) => {
            println!("wifi: the radio did not start ({e:?}): no network");
            None
        }
    };

    // After the radio is on, so the hardware RNG draws on RF noise.
    let rng = Rng::new();
    let seed = u64::from(rng.random()) << 32 | u64::from(rng.random());
    static RESOURCES: StaticCell<StackResources<SOCKETS>> = StaticCell::new();
    let (stack, runner) = embassy_net::new(
        Interface::station(),
        mreq_fw::net_config(config.as_ref()),
        RESOURCES.init(StackResources::new()),
        seed,
    );
    spawner.spawn(net_task(runner).expect("net task spawned once"));
    if let Some(controller) = controller {
        let join = station.is_ok();
        spawner.spawn(wifi_task(controller, join).expect("wifi task spawned once"));
    }

    let mut console = UsbSerialJtag::new(peripherals.USB_DEVICE).into_async();
    // The application example instead of the shell: `--features telemetry` (README "Write your
    // own firmware"; your own application goes here the same way).
    #[cfg(feature = "telemetry")]
    let app = mreq_fw::telemetry::run(stack, &mut console, block, &BOARD);
    #[cfg(not(feature = "telemetry"))]
    let app = mreq_fw::run(stack, &mut console, block, &BOARD);
    app.await
}

/// The SSID and station settings from the configuration block, or why there are none.
fn station<'a>(
    config: Option<&mreq_fwconfig::Config<'a>>,
) -> Result<(&'a str, StationConfig), &'static str> {
    let config = config.ok_or("no valid configuration block")?;
    let name = config
        .wifi_ssid()
        .filter(|ssid| !ssid.is_empty())
        .ok_or("the configuration block has no Wi-Fi SSID")?;
    let ssid = name
        .try_into()
        .map_err(|_| "the Wi-Fi SSID is longer than 32 bytes")?;
    let authentication = match config.wifi_password() {
        None | Some("") => AuthenticationMethodConfig::Open,
        Some(password) => AuthenticationMethodConfig::Wpa2Personal(
            password
                .try_into()
                .map_err(|_| "the Wi-Fi password is longer than 64 bytes")?,
        ),
    };
    let station = StationConfig::default()
        .with_ssid(ssid)
        .with_authentication(authentication);
    Ok((name, station))
}

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, Interface>) {
    runner.run().await
}

/// Keeps the station joined. Without credentials (`join` false) it only keeps the controller,
/// and so the radio driver under embassy-net, alive.
///
/// It prints on the console the app also writes to: each message is a line of its own that does
/// not start with `@`, which `mreq --device` ignores, and a failure streak is reported once.
#[embassy_executor::task]
async fn wifi_task(mut controller: WifiController<'static>, join: bool) {
    if !join {
        core::future::pending::<()>().await;
    }
    let mut reported = false;
    loop {
        match controller.connect_async().await {
            Ok(_) => {
                println!("\r\nwifi: joined");
                reported = false;
                let _ = controller.wait_for_disconnect_async().await;
                println!("\r\nwifi: link lost; rejoining");
            }
            Err(e) if !reported => {
                println!("\r\nwifi: cannot join ({e:?}); retrying every {REJOIN_SECS} s");
                reported = true;
            }
            Err(_) => {}
        }
        Timer::after_secs(REJOIN_SECS).await;
    }
}
