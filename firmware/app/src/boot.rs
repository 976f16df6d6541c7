//! Boot and the console loop: the configuration, the network, the clock, the start-up request,
//! then the shell, which hands framed input (`mreq --device`) to [`crate::framed`].

use crate::console::{Console, ConsoleError, Line};
use crate::fetch;
use crate::framed::{self, Device, Pending};
use crate::http::{Http, HttpState};
use crate::shell::{self, Command};
use crate::{clock, console, load_config, net, say, sntp, BoardInfo};
use embassy_net::Stack;
use embedded_io_async::{Read, Write};
use mreq_core::client::asynch::Client;
use mreq_core::client::Request;
use mreq_fwconfig::Config;

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
    // The shell is one user of the library's client (`crate::http`), as an application is.
    let state = HttpState::new(config.as_ref());
    let ntp_server = state.ntp_server();
    if stack.is_config_up() {
        let _ = sync_clock(&mut console, stack, ntp_server).await;
    }
    let pool = state.pool(stack);
    let mut http = Http::new(stack, &state, &pool);
    let client = http.client_mut();
    let _ = report_tls(&mut console, config.as_ref()).await;
    let insecure = config.as_ref().is_some_and(|c| c.tls_insecure());
    let agent = fetch::user_agent(board.name);
    let shell = Shell {
        stack,
        agent: &agent,
        board,
        ntp_server,
        insecure,
    };
    let device = Device {
        board: board.name,
        agent: &agent,
        insecure,
    };

    if let Some(url) = startup {
        let _ = say!(console, "startup: GET {url}\r\n");
        let _ = shell.warn_if_insecure(&mut console, url).await;
        let _ = fetch::fetch(client, &mut console, &Request::get(url), &agent).await;
        let _ = report_after(client, &mut console, board).await;
    }
    let mut line = Line::new();
    let mut pending: Pending = None;
    loop {
        if let Some(header) = pending.take() {
            // A new host spoke while a request ran: its frame is next on the line.
            let _ = framed::serve(header, &device, client, &mut console, &mut pending).await;
            continue;
        }
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
        if let Some(frame) = line.strip_prefix(b"@") {
            // End the prompt's line: every frame starts a line of its own.
            let _ = console.write(b"\n").await;
            match mreq_link::Header::parse(frame) {
                Ok(header) => {
                    let served = framed::serve(header, &device, client, &mut console, &mut pending);
                    if served.await.is_ok() {
                        let _ = report_after(client, &mut console, board).await;
                    }
                }
                Err(err) => {
                    let _ = framed::garbled(&mut console, err).await;
                }
            }
            continue;
        }
        let _ = shell.serve(client, &mut console, &line).await;
    }
}

/// What the shell needs besides the client and the console.
struct Shell<'a> {
    stack: Stack<'a>,
    agent: &'a str,
    board: &'a BoardInfo,
    ntp_server: &'a str,
    insecure: bool,
}

impl Shell<'_> {
    /// Before an https request with verification off by configuration: say so, every time.
    async fn warn_if_insecure<S: Read + Write>(
        &self,
        console: &mut Console<'_, S>,
        url: &str,
    ) -> Result<(), ConsoleError> {
        let https = url
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
        if https && self.insecure {
            say!(
                console,
                "warning: TLS certificate verification is OFF (configuration entry TLS_INSECURE)\r\n"
            )?;
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
            Command::Unknown => say!(console, "unknown command (type help)\r\n"),
            Command::Request { method, url, body } => {
                self.warn_if_insecure(console, url).await?;
                let request = Request::new(method, url).body(body);
                fetch::fetch(client, console, &request, self.agent).await?;
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
    if !cfg!(feature = "https") {
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
