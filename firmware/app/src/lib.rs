//! `mreq-fw`: the board-independent firmware.
//!
//! A board brings up its network hardware under embassy-net and its console as an
//! `embedded_io_async` serial port, then calls [`run`]: it reads the configuration block, waits for
//! the network, makes the start-up request if one is configured, and serves the request shell on
//! the console (for people, and framed for `mreq --device`: see `firmware/PROTOCOL.md`). Every
//! request goes through `mreq-core`'s async driver: this crate has no HTTP logic of its own.
#![cfg_attr(not(test), no_std)]

#[cfg(feature = "tls")]
extern crate alloc;

pub mod clock;
pub mod console;
pub mod fetch;
#[cfg(target_has_atomic = "ptr")]
pub mod heap;
pub mod net;
pub mod shell;
pub mod sntp;
pub mod stack;
#[cfg(feature = "tls")]
pub mod tls;

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
    let ntp_server = config
        .as_ref()
        .and_then(|c| c.ntp_server())
        .unwrap_or(sntp::DEFAULT_SERVER);
    if stack.is_config_up() {
        let _ = sync_clock(&mut console, stack, ntp_server).await;
    }
    let pool_state = TcpClientState::<1, { net::TCP_TX }, { net::TCP_RX }>::new();
    let mut pool = TcpClient::new(stack, &pool_state);
    // Every read can time out: a stalled server must not hang the shell.
    pool.set_timeout(Some(embassy_time::Duration::from_secs(10)));
    #[cfg(feature = "tls")]
    let tls = tls::TlsSettings::new(config.as_ref());
    let _ = report_tls(&mut console, config.as_ref()).await;
    #[cfg(feature = "tls")]
    let connector = net::NetConnector::new(stack, &pool, &tls, ntp_server);
    #[cfg(not(feature = "tls"))]
    let connector = net::NetConnector::new(stack, &pool, ntp_server);
    let mut client = Client::new(connector);
    let shell = Shell {
        stack,
        board,
        ntp_server,
        insecure: config.as_ref().is_some_and(|c| c.tls_insecure()),
    };

    if let Some(url) = startup {
        let _ = say!(console, "startup: GET {url}\r\n");
        let _ = shell.warn_if_insecure(&mut console, Mode::Human, url).await;
        let _ = fetch::fetch(&mut client, &mut console, Mode::Human, &Request::get(url)).await;
        let _ = report_after(&mut client, &mut console, board).await;
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
        let _ = shell.serve(&mut client, &mut console, &line).await;
    }
}

/// What the shell needs besides the client and the console.
struct Shell<'a> {
    stack: Stack<'a>,
    board: &'a BoardInfo,
    ntp_server: &'a str,
    insecure: bool,
}

impl Shell<'_> {
    /// Before an https request with verification off by configuration: say so, every time.
    async fn warn_if_insecure<S: Read + Write>(
        &self,
        console: &mut Console<'_, S>,
        mode: Mode,
        url: &str,
    ) -> Result<(), ConsoleError> {
        let https = url
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
        if https && self.insecure {
            let warning = "TLS certificate verification is OFF (configuration entry TLS_INSECURE)";
            match mode {
                Mode::Human => say!(console, "warning: {warning}\r\n")?,
                Mode::Framed => say!(console, "@warn {warning}\n")?,
            }
        }
        Ok(())
    }

    async fn serve<S: Read + Write>(
        &self,
        client: &mut Client<net::NetConnector<'_>>,
        console: &mut Console<'_, S>,
        line: &[u8],
    ) -> Result<(), ConsoleError> {
        let (board, stack) = (self.board, self.stack);
        match shell::parse(line) {
            Command::Empty => Ok(()),
            Command::Help => console.write(shell::HELP.as_bytes()).await,
            Command::Memory => report_memory(console, board).await,
            Command::Network => report_network(console, stack).await,
            Command::Time => match clock::unix_ms() {
                Some(ms) => say!(console, "time: {}\r\n", clock::Utc(ms / 1000)),
                None if stack.is_config_up() => sync_clock(console, stack, self.ntp_server).await,
                None => say!(console, "time: unknown (no network yet)\r\n"),
            },
            Command::Unknown if line.first() == Some(&b'@') => {
                say!(console, "\n@end err malformed request line\n")
            }
            Command::Unknown => say!(console, "unknown command (type help)\r\n"),
            Command::Request { method, url, body } => {
                self.warn_if_insecure(console, Mode::Human, url).await?;
                fetch::fetch(
                    client,
                    console,
                    Mode::Human,
                    &Request::new(method, url).body(body),
                )
                .await?;
                report_after(client, console, board).await
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
                self.warn_if_insecure(console, Mode::Framed, url).await?;
                fetch::fetch(client, console, Mode::Framed, &request).await?;
                report_after(client, console, board).await
            }
        }
    }
}

/// Asks the SNTP server for the time and sets the clock; says what happened either way.
async fn sync_clock<S: Read + Write>(
    console: &mut Console<'_, S>,
    stack: Stack<'_>,
    server: &str,
) -> Result<(), ConsoleError> {
    let answer = sntp::sync(stack, server).await;
    report_time(console, server, answer).await
}

async fn report_time<S: Read + Write>(
    console: &mut Console<'_, S>,
    server: &str,
    answer: Result<u64, sntp::SntpError>,
) -> Result<(), ConsoleError> {
    match answer {
        Ok(unix_ms) => say!(
            console,
            "time: {} (SNTP {server})\r\n",
            clock::Utc(unix_ms / 1000)
        ),
        Err(err) => say!(
            console,
            "time: unknown: SNTP {server}: {err}; https cannot check certificates until it answers\r\n"
        ),
    }
}

/// What https will trust, said once at boot.
async fn report_tls<S: Read + Write>(
    console: &mut Console<'_, S>,
    config: Option<&Config<'_>>,
) -> Result<(), ConsoleError> {
    if !cfg!(feature = "tls") {
        return say!(console, "tls: not built into this board's firmware\r\n");
    }
    if config.is_some_and(|c| c.tls_insecure()) {
        return say!(
            console,
            "tls: WARNING: certificate verification is OFF (configuration entry TLS_INSECURE)\r\n"
        );
    }
    let from_block = config.map_or(0, |c| c.ca_certs().count());
    let builtin = if cfg!(feature = "webpki-roots") {
        " + the Mozilla roots"
    } else {
        ""
    };
    say!(
        console,
        "tls: trusting {from_block} CA certificate(s) from the configuration{builtin}\r\n"
    )
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

/// After a request: the clock, if the connection had to ask for it, the TLS handshake time (if
/// there was one) and the memory figures. No line starts with `@`, so programs skip them.
async fn report_after<S: Read + Write>(
    client: &mut Client<net::NetConnector<'_>>,
    console: &mut Console<'_, S>,
    board: &BoardInfo,
) -> Result<(), ConsoleError> {
    if let Some((server, answer)) = client.connector_mut().take_clock_asked() {
        report_time(console, server, answer).await?;
    }
    if let Some(handshake) = client.connector_mut().take_handshake() {
        say!(
            console,
            "tls: handshake {} ms ({})\r\n",
            handshake.took.as_millis(),
            handshake.agreed
        )?;
    }
    report_memory(console, board).await
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
