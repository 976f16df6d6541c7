//! `mreq-fw`: the board-independent firmware.
//!
//! A board brings up its network hardware under embassy-net and its console as an
//! `embedded_io_async` serial port, then calls [`run`]: it reads the configuration block, waits for
//! the network, makes the start-up request if one is configured, and serves the request shell on
//! the console (for people, and framed for `mreq --device`: see `firmware/PROTOCOL.md`). Every
//! request goes through `mreq-core`'s async driver: this crate has no HTTP logic of its own.
#![cfg_attr(not(test), no_std)]

pub mod console;
pub mod fetch;
pub mod net;
pub mod shell;
pub mod stack;

pub use mreq_fwconfig;

use console::{Console, ConsoleError, Line};
use embassy_net::tcp::client::{TcpClient, TcpClientState};
use embassy_net::Stack;
use embedded_io_async::{Read, Write};
use fetch::Mode;
use mreq_core::client::asynch::Client;
use mreq_core::client::Request;
use mreq_fwconfig::Config;
use shell::Command;

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

/// Runs the firmware on a network stack and a console. Never returns.
pub async fn run<S: Read + Write>(
    stack: Stack<'_>,
    serial: &mut S,
    config_block: &[u8],
    board: &BoardInfo,
) -> ! {
    let mut console = Console::new(serial);
    let _ = say!(
        console,
        "\r\nmreq-fw {} on {}\r\n",
        env!("CARGO_PKG_VERSION"),
        board.name
    );
    let config = match load_config(config_block) {
        Ok(config) => {
            let _ = say!(
                console,
                "config: ok ({})\r\n",
                if config.static_ipv4().is_some() {
                    "static address"
                } else {
                    "DHCP"
                }
            );
            Some(config)
        }
        Err(err) => {
            let _ = say!(
                console,
                "config: {err}; using defaults (DHCP, no start-up request)\r\n"
            );
            None
        }
    };
    let _ = report_memory(&mut console, board).await;
    // The shell does not wait for the network (a board without Wi-Fi credentials still has a
    // console); requests do, in the connector. The start-up request waits here.
    let startup = config.as_ref().and_then(|c| c.startup_url());
    if startup.is_some() {
        let _ = say!(console, "net: waiting for the network\r\n");
        let _ = embassy_time::with_timeout(net::NETWORK_WAIT, stack.wait_config_up()).await;
    }
    let _ = report_network(&mut console, stack).await;
    let pool_state = TcpClientState::<1, { net::TCP_TX }, { net::TCP_RX }>::new();
    let mut pool = TcpClient::new(stack, &pool_state);
    // Every read can time out: a stalled server must not hang the shell.
    pool.set_timeout(Some(embassy_time::Duration::from_secs(10)));
    let mut client = Client::new(net::NetConnector::new(stack, &pool));

    if let Some(url) = startup {
        let _ = say!(console, "startup: GET {url}\r\n");
        let _ = fetch::fetch(&mut client, &mut console, Mode::Human, &Request::get(url)).await;
        let _ = report_memory(&mut console, board).await;
    }
    let mut line = Line::new();
    loop {
        let _ = console.write(b"mreq> ").await;
        match console.read_line(&mut line).await {
            Ok(()) => {}
            Err(ConsoleError::LineTooLong) => {
                let _ = say!(
                    console,
                    "line too long (at most {} bytes)\r\n",
                    console::MAX_LINE
                );
                continue;
            }
            Err(ConsoleError::Serial) => continue,
        }
        let _ = serve(&mut client, &mut console, &line, board, stack).await;
    }
}

async fn serve<S: Read + Write>(
    client: &mut Client<net::NetConnector<'_>>,
    console: &mut Console<'_, S>,
    line: &[u8],
    board: &BoardInfo,
    stack: Stack<'_>,
) -> Result<(), ConsoleError> {
    match shell::parse(line) {
        Command::Empty => Ok(()),
        Command::Help => console.write(shell::HELP.as_bytes()).await,
        Command::Memory => report_memory(console, board).await,
        Command::Network => report_network(console, stack).await,
        Command::Unknown if line.first() == Some(&b'@') => {
            say!(console, "\n@end err malformed request line\n")
        }
        Command::Unknown => say!(console, "unknown command (type help)\r\n"),
        Command::Request { method, url, body } => {
            fetch::fetch(
                client,
                console,
                Mode::Human,
                &Request::new(method, url).body(body),
            )
            .await?;
            report_memory(console, board).await
        }
        Command::Framed {
            method,
            url,
            body_len,
            header_count,
        } => {
            // End the prompt's line, so that every frame starts a line of its own.
            console.write(b"\n").await?;
            let mut header_area = heapless::Vec::<u8, 1024>::new();
            let mut header_line = Line::new();
            let mut fits = true;
            for _ in 0..header_count {
                console.read_raw_line(&mut header_line).await?;
                fits &= header_area.extend_from_slice(&header_line).is_ok()
                    && header_area.push(b'\n').is_ok();
            }
            let mut body = [0u8; shell::MAX_BODY];
            console.read_exact(&mut body[..body_len]).await?;
            let mut headers = heapless::Vec::new();
            if !fits || !fetch::parse_headers(&header_area, &mut headers) {
                return say!(console, "@end err malformed request headers\n");
            }
            let request = Request::new(method, url)
                .headers(&headers)
                .body(&body[..body_len]);
            fetch::fetch(client, console, Mode::Framed, &request).await?;
            report_memory(console, board).await
        }
    }
}

async fn report_network<S: Read + Write>(
    console: &mut Console<'_, S>,
    stack: Stack<'_>,
) -> Result<(), ConsoleError> {
    match stack.config_v4() {
        Some(v4) => say!(
            console,
            "net: up {} gateway {:?}\r\n",
            v4.address,
            v4.gateway
        ),
        None => say!(
            console,
            "net: no address yet (link {})\r\n",
            if stack.is_link_up() { "up" } else { "down" }
        ),
    }
}

async fn report_memory<S: Read + Write>(
    console: &mut Console<'_, S>,
    board: &BoardInfo,
) -> Result<(), ConsoleError> {
    let (used, peak) = (board.heap)();
    say!(
        console,
        "mem: heap {used} B used, {peak} B peak; stack {} B peak\r\n",
        (board.stack_peak)()
    )
}
