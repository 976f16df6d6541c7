//! Wi-Fi: the CYW43439's blobs, the network from the configuration block, and a task that joins
//! it (WPA2, or open without a password), retries a failed join and rejoins when the link drops.
//!
//! The firmware and country matrix (CLM) come from the `cyw43-firmware` crate; the board's NVRAM
//! from nvram_rp2040.txt through build.rs. The chip takes the firmware and NVRAM 4-byte aligned.

use cyw43::{Aligned, Control, JoinAuth, JoinError, JoinOptions, A4};
use embassy_net::Stack;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::signal::Signal;
use embassy_time::{Duration, Timer};
use mreq_fwconfig::Config;

pub static FIRMWARE: &Aligned<A4, [u8]> = &Aligned(*cyw43_firmware::CYW43_43439A0);
pub static CLM: &[u8] = cyw43_firmware::CYW43_43439A0_CLM;
pub static NVRAM: &Aligned<A4, [u8]> =
    &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/nvram.bin")));

/// Between failed joins.
pub const RETRY: Duration = Duration::from_secs(10);

/// The outcome of each join attempt, for whoever wants to report it.
pub static JOINED: Signal<CriticalSectionRawMutex, Result<(), JoinError>> = Signal::new();

/// A network the chip can be asked to join.
pub struct Network {
    pub ssid: &'static str,
    password: &'static str,
}

/// The network named in the configuration block, or why there is none. Lengths are checked here:
/// the driver copies SSID and password into fixed-size fields and would panic on longer ones.
pub fn network(config: Option<&Config<'static>>) -> Result<Network, &'static str> {
    let config = config.ok_or("no valid configuration block")?;
    let ssid = config
        .wifi_ssid()
        .ok_or("no Wi-Fi SSID in the configuration block")?;
    if ssid.is_empty() || ssid.len() > 32 {
        return Err("the Wi-Fi SSID must be 1 to 32 bytes");
    }
    let password = config.wifi_password().unwrap_or("");
    if !password.is_empty() && !(8..=63).contains(&password.len()) {
        return Err("a WPA2 password must be 8 to 63 characters");
    }
    Ok(Network { ssid, password })
}

pub fn describe(err: &JoinError) -> &'static str {
    match err {
        JoinError::NetworkNotFound => "network not found",
        JoinError::AuthenticationFailure => "authentication failed (wrong password?)",
        JoinError::JoinFailure(_) => "the access point refused",
    }
}

#[embassy_executor::task]
pub async fn join_task(mut control: Control<'static>, stack: Stack<'static>, net: Network) -> ! {
    loop {
        let options = if net.password.is_empty() {
            JoinOptions::new_open()
        } else {
            let mut options = JoinOptions::new(net.password.as_bytes());
            options.auth = JoinAuth::Wpa2;
            options
        };
        let result = control.join(net.ssid, options).await;
        let joined = result.is_ok();
        JOINED.signal(result);
        if joined {
            control.gpio_set(0, true).await; // the board's LED: joined
            stack.wait_link_up().await;
            stack.wait_link_down().await;
            control.gpio_set(0, false).await;
        } else {
            Timer::after(RETRY).await;
        }
    }
}
