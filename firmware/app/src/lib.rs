//! `mreq-fw`: the board-independent firmware.
//!
//! A board brings up its network hardware under embassy-net and its console as an
//! `embedded_io_async` serial port, then calls [`run`]: it reads the configuration block, waits for
//! the network, makes the start-up request if one is configured, and serves the request shell on
//! the console (for people, and framed for `mreq --device`: see `firmware/PROTOCOL.md`). Every
//! request goes through `mreq-core`'s async driver: this crate has no HTTP logic of its own.
#![cfg_attr(not(test), no_std)]

#[cfg(feature = "https")]
extern crate alloc;

mod boot;
pub mod clock;
pub mod console;
pub mod fetch;
pub mod framed;
pub mod heap;
pub mod http;
pub mod json;
pub mod net;
pub mod shell;
pub mod sntp;
pub mod stack;
pub mod store;
pub mod telemetry;
#[cfg(all(feature = "tls", feature = "tls-mbedtls"))]
compile_error!("features `tls` (rustls) and `tls-mbedtls` (Mbed TLS) are two backends: choose one");
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(all(feature = "tls-mbedtls", not(feature = "tls")))]
#[path = "tls_mbedtls.rs"]
pub mod tls;

pub use mreq_core;
pub use mreq_fwconfig;

pub use boot::run;
use mreq_fwconfig::Config;

/// What a board tells the app about itself.
pub struct BoardInfo {
    pub name: &'static str,
    /// Bytes of heap in use now, and the most ever in use.
    pub heap: fn() -> (usize, usize),
    /// The deepest the stack has ever been, in bytes.
    pub stack_peak: fn() -> usize,
}

/// The embassy-net configuration from the configuration block: static if it says so, else DHCP.
pub fn net_config(config: Option<&Config<'_>>) -> embassy_net::Config {
    match config.and_then(|c| c.static_ipv4().map(|ip| (ip, c))) {
        Some((ip, c)) => {
            let [a, b, cc, d] = ip.address;
            let mut dns = heapless::Vec::new();
            for [w, x, y, z] in c.dns_servers() {
                let _ = dns.push(embassy_net::Ipv4Address::new(w, x, y, z));
            }
            embassy_net::Config::ipv4_static(embassy_net::StaticConfigV4 {
                address: embassy_net::Ipv4Cidr::new(
                    embassy_net::Ipv4Address::new(a, b, cc, d),
                    ip.prefix,
                ),
                gateway: c
                    .gateway()
                    .map(|[w, x, y, z]| embassy_net::Ipv4Address::new(w, x, y, z)),
                dns_servers: dns,
            })
        }
        None => embassy_net::Config::dhcpv4(Default::default()),
    }
}

/// Parses the configuration block; a missing or corrupt one is reported and treated as none.
pub fn load_config(block: &[u8]) -> Result<Config<'_>, mreq_fwconfig::ConfigError> {
    Config::parse(block)
}
