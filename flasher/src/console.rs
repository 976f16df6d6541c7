//! Finding and opening a board's console: after flashing (`--monitor`) or on its own
//! (`mreq-flash monitor`). Every board's firmware speaks on a serial port at 115200 baud: the
//! ESP chips' USB-Serial-JTAG or UART bridge, the RP2040's USB CDC port (which appears only once
//! the new firmware runs), the STM32's USART through the ST-Link's virtual COM port.

use crate::monitor::{self, Extras};
use crate::{port_error, ports, symbols::Symbols};
use anyhow::{bail, Context, Result};
use mreq_fwconfig::boards::{Board, FlashMethod};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `mreq-flash monitor`: a board's console without flashing it.
#[derive(Debug, clap::Args)]
pub struct MonitorArgs {
    /// The board (see --list-boards).
    #[arg(long)]
    pub board: String,
    /// The console's serial port (default: the single port showing the board's USB IDs).
    #[arg(long)]
    pub port: Option<String>,
    /// The console's speed.
    #[arg(long, default_value_t = monitor::CONSOLE_BAUD)]
    pub baud: u32,
    /// The firmware's ELF: code addresses on the console (a backtrace) are named from it.
    #[arg(long, value_name = "PATH")]
    pub elf: Option<PathBuf>,
    /// Also write the console to FILE.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
}

/// How long a board may take to show its console port after a reset (the RP2040 enumerates
/// its USB CDC port only when the new firmware runs).
pub const PORT_WAIT: Duration = Duration::from_secs(10);

/// Why `mreq-flash monitor` cannot open this board's console (a usage error, exit 2).
pub fn refuse(board: &Board) -> Option<String> {
    (board.method == FlashMethod::Qemu).then(|| {
        format!(
            "monitor: the {} has no serial port; `mreq-flash --board {} --monitor` boots it with its console here",
            board.name, board.name
        )
    })
}

pub fn monitor_command(args: &MonitorArgs, board: &Board) -> Result<u8> {
    if args.elf.is_none() {
        eprintln!("(addresses are not named: give --elf FILE, the firmware's ELF)");
    }
    open(
        board,
        args.port.as_deref(),
        args.baud,
        args.elf.as_deref(),
        args.log.as_deref(),
        Duration::ZERO,
    )
}

/// Opens the console of `board` on `port` (or the port showing its USB IDs, waited for up to
/// `wait`) and runs the monitor until Ctrl-].
pub fn open(
    board: &Board,
    port: Option<&str>,
    baud: u32,
    elf: Option<&Path>,
    log: Option<&Path>,
    wait: Duration,
) -> Result<u8> {
    let extras = extras(elf, log)?;
    let name = match port {
        Some(name) => name.to_string(),
        None => wait_for_port(board, wait)?,
    };
    let port = serialport::new(&name, baud)
        .open()
        .map_err(|e| port_error(&name, e))?;
    eprintln!("console: {name} at {baud} baud");
    monitor::run(port, extras)?;
    Ok(0)
}

/// The monitor's log file (created) and the ELF's symbols.
pub fn extras(elf: Option<&Path>, log: Option<&Path>) -> Result<Extras> {
    Ok(Extras {
        log: log
            .map(|path| {
                std::fs::File::create(path)
                    .with_context(|| format!("cannot create the --log file {}", path.display()))
            })
            .transpose()?,
        symbols: elf.map(Symbols::open).transpose()?,
    })
}

/// The single port showing one of the board's USB IDs, polled until `wait` has passed.
fn wait_for_port(board: &Board, wait: Duration) -> Result<String> {
    let deadline = Instant::now() + wait;
    loop {
        let found = ports::list();
        match ports::choose(&found, board) {
            Ok(port) => {
                eprintln!("using {}", ports::describe(port));
                return Ok(port.path.clone());
            }
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(250)),
            Err(message) => bail!("{message}"),
        }
    }
}
