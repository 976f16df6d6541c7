//! `mreq-flash`: build, flash and configure mreq firmware for a board, from one board table.

mod applies;
mod bootsel;
mod cargo_build;
mod config;
mod console;
mod device_config;
mod elf;
mod esp_rom;
mod espressif;
mod micropython;
mod monitor;
mod ports;
mod probe;
mod qemu;
mod raw_repl;
mod symbols;
mod uf2;

use anyhow::{bail, Context, Result};
use clap::Parser;
use mreq_fwconfig::boards::{self, Board, BuildStatus, FlashMethod};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "mreq-flash",
    version,
    about = "Build, flash and configure mreq firmware for a board",
    subcommand_negates_reqs = true,
    args_conflicts_with_subcommands = true
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// The board (see --list-boards).
    #[arg(long, required_unless_present_any = ["list_boards", "list_ports"])]
    board: Option<String>,
    /// Serial port: the ESP ROM loader's (default: the single port showing the board's USB IDs);
    /// with --monitor on other boards, the console's.
    #[arg(long)]
    port: Option<String>,
    /// Flash through a debug probe (probe-rs selector) instead of the serial/UF2 method.
    #[arg(long, value_name = "SEL")]
    probe: Option<String>,
    #[command(flatten)]
    config: config::ConfigArgs,
    /// Open the console after flashing (QEMU: attach it to this terminal; RP2040: its USB port,
    /// once it appears; STM32: the ST-Link's virtual COM port). Backtrace addresses are named
    /// from the firmware's ELF.
    #[arg(long)]
    monitor: bool,
    /// With --monitor: also write the console to FILE.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// ESP8266 without --image (installing the MicroPython module): make boot.py join the Wi-Fi
    /// network at every start; added after boot.py's own lines, which stay.
    #[arg(long)]
    boot: bool,
    /// ESP: the ROM loader's speed while flashing (default: the board table's).
    #[arg(long)]
    baud: Option<u32>,
    /// ESP: how the chip enters its ROM loader [default: default-reset; the ESP8266 takes
    /// default-reset or no-reset].
    #[arg(long, value_enum)]
    before: Option<espressif::Before>,
    /// ESP: what the chip does after writing [default: hard-reset; the ESP8266 takes hard-reset
    /// or no-reset].
    #[arg(long, value_enum)]
    after: Option<espressif::After>,
    /// Use this ELF instead of building.
    #[arg(long, value_name = "PATH", conflicts_with = "image")]
    elf: Option<PathBuf>,
    /// Flash this ready image (the ESP8266 way).
    #[arg(long, value_name = "PATH")]
    image: Option<PathBuf>,
    /// Do not build: needs --elf or --image.
    #[arg(long)]
    no_build: bool,
    /// Say what would be done, do nothing.
    #[arg(long)]
    dry_run: bool,
    /// RP2040: write the UF2 (firmware + configuration) to FILE instead of the BOOTSEL drive.
    #[arg(long, value_name = "FILE")]
    uf2_out: Option<PathBuf>,
    /// ESP32: write the whole flash image (bootloader, partition table, app, configuration) to
    /// FILE instead of flashing.
    #[arg(long, value_name = "FILE")]
    merged_out: Option<PathBuf>,
    /// QEMU: write the pflash image holding the configuration to FILE instead of booting (an
    /// existing FILE keeps its configuration unless configuration options are given).
    #[arg(long, value_name = "FILE")]
    pflash_out: Option<PathBuf>,
    /// QEMU: boot with FILE as the board's flash, kept between boots (its configuration too,
    /// unless configuration options are given).
    #[arg(long, value_name = "FILE", conflicts_with = "pflash_out")]
    pflash: Option<PathBuf>,
    /// QEMU: serve the console on tcp:PORT (for `mreq --device tcp:127.0.0.1:PORT`).
    #[arg(long, value_name = "tcp:PORT")]
    qemu_console: Option<String>,
    /// Build (or take --elf), check that the image fits below the configuration region, print its
    /// size, and stop.
    #[arg(long)]
    check_image: bool,
    /// QEMU: stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<u64>,
    /// The boards, their chips and how each is flashed.
    #[arg(long)]
    list_boards: bool,
    /// The USB serial ports there are.
    #[arg(long)]
    list_ports: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Open a board's console without flashing it (Ctrl-] leaves).
    Monitor(console::MonitorArgs),
    /// Read or change the configuration block on a board without reflashing its firmware.
    #[command(subcommand)]
    Config(device_config::ConfigCommand),
    /// Install mreq's MicroPython module (mrequests, urlencode, mreq_wifi) on a board that runs MicroPython,
    /// through its raw REPL, with the configuration as the files the module reads.
    #[command(name = "micropython")]
    MicroPython(Box<micropython::MicroPythonArgs>),
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(command) = &args.command {
        return run_command(command);
    }
    if let Some(board) = args.board.as_deref().and_then(boards::board) {
        if let Err(message) = applies::check(&args, board) {
            eprintln!("mreq-flash: error: {message}");
            return ExitCode::from(2);
        }
    }
    match run(&args) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("mreq-flash: error: {err:#}");
            ExitCode::from(if err.is::<Usage>() { 2 } else { 1 })
        }
    }
}

/// `mreq-flash monitor`, `config ...` and `micropython`.
fn run_command(command: &Command) -> ExitCode {
    match run_subcommand(command) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("mreq-flash: error: {err:#}");
            ExitCode::from(if err.is::<Usage>() { 2 } else { 1 })
        }
    }
}

fn run_subcommand(command: &Command) -> Result<u8> {
    let usage = |message: String| anyhow::Error::new(Usage(message));
    let board = |name: &str| {
        boards::board(name)
            .ok_or_else(|| usage(format!("unknown board {name:?} (see --list-boards)")))
    };
    match command {
        Command::Monitor(monitor) => {
            let board = board(&monitor.board)?;
            if let Some(message) = console::refuse(board) {
                return Err(usage(message));
            }
            console::monitor_command(monitor, board)
        }
        Command::Config(config) => {
            let board = board(&config.at().board)?;
            device_config::check(config, board).map_err(usage)?;
            device_config::run(config, board)
        }
        Command::MicroPython(install) => {
            micropython::check(install).map_err(usage)?;
            micropython::install(install)
        }
    }
}

/// An option with a value that cannot be used (exit 2, as for an option that does not apply).
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

fn run(args: &Args) -> Result<u8> {
    if args.list_boards {
        print_boards();
        return Ok(0);
    }
    if args.list_ports {
        print_ports();
        return Ok(0);
    }
    let name = args.board.as_deref().unwrap_or_default();
    let Some(board) = boards::board(name) else {
        let names: Vec<&str> = boards::BOARDS.iter().map(|b| b.name).collect();
        bail!("unknown board {name:?}; boards: {}", names.join(", "));
    };
    // An ESP8266 without an image to flash runs MicroPython: install the module on it.
    if board.method == FlashMethod::Esp8266Rom && args.image.is_none() {
        return install_on_esp8266(args, board);
    }
    // A MicroPython image is flashed, then the module installed on it (with the configuration
    // as its file). Any other image is flashed alone: MicroPython's filesystem fills the flash
    // up to the SDK's sectors, so there is no place for a configuration block.
    let then_install = board.method == FlashMethod::Esp8266Rom && esp8266_micropython(args)?;
    if then_install {
        micropython::check(&esp8266_install_args(args, board)).map_err(Usage)?;
    } else if board.method == FlashMethod::Esp8266Rom && (args.config.given() || args.boot) {
        bail!(Usage(format!(
            "{} is no MicroPython firmware (it does not name MicroPython), and the ESP8266's configuration is a file on MicroPython's filesystem (mreq_config.json), not a flash block: flash a MicroPython image with these options, or this image alone",
            args.image.as_deref().unwrap_or(Path::new("the image")).display()
        )));
    }
    let block = args
        .config
        .block()
        .map_err(|e| anyhow::Error::new(Usage(format!("{e:#}"))))?;
    let root = cargo_build::repo_root();
    if args.dry_run {
        println!(
            "board {} ({}), method {:?}",
            board.name, board.chip, board.method
        );
        match &block {
            Some(_) => println!(
                "configuration block: {} bytes at {:#010x}",
                mreq_fwconfig::BLOCK_SIZE,
                board.config_address
            ),
            None => println!(
                "configuration block at {:#010x}: kept as the board has it (no configuration options)",
                board.config_address
            ),
        }
        match (&args.elf, &args.image) {
            (Some(elf), _) => println!("firmware: {}", elf.display()),
            (_, Some(image)) => println!("image: {}", image.display()),
            _ => println!(
                "firmware: cargo {} in {}",
                cargo_build::build_args(board).join(" "),
                cargo_build::board_dir(&root, board).display()
            ),
        }
        return Ok(0);
    }
    let firmware = firmware(args, &root, board)?;
    if args.check_image {
        return check_image(board, &root, &firmware);
    }
    let block = block.as_deref();
    if block.is_none() && !matches!(board.method, FlashMethod::Qemu | FlashMethod::Esp8266Rom) {
        eprintln!("configuration: keeping what the board has (no configuration options; --config-reset erases it)");
    }
    match board.method {
        FlashMethod::Qemu => flash_qemu(args, &firmware, block),
        FlashMethod::Uf2 if args.probe.is_none() => flash_uf2(args, board, &firmware, block),
        FlashMethod::Uf2 | FlashMethod::ProbeRs => flash_probe(args, board, &firmware, block),
        FlashMethod::Espflash => flash_espressif(args, &root, board, &firmware, block),
        FlashMethod::Esp8266Rom if then_install => {
            flash_esp8266(args, board, &firmware, false)?;
            eprintln!("installing mreq's MicroPython module once MicroPython has booted...");
            install_after_flashing(args, board)
        }
        FlashMethod::Esp8266Rom => flash_esp8266(args, board, &firmware, args.monitor),
    }
}

/// Whether the `--image` for the ESP8266 is a MicroPython firmware: its banner names it.
fn esp8266_micropython(args: &Args) -> Result<bool> {
    let Some(image) = &args.image else {
        return Ok(false);
    };
    let data = std::fs::read(image).with_context(|| format!("cannot read {}", image.display()))?;
    Ok(data
        .windows(b"MicroPython".len())
        .any(|w| w == b"MicroPython"))
}

/// `mreq-flash --board esp8266 --port P`: mreq's MicroPython module on the board's MicroPython.
fn install_on_esp8266(args: &Args, board: &Board) -> Result<u8> {
    for (given, name) in [
        (args.baud.is_some(), "--baud"),
        (args.before.is_some(), "--before"),
        (args.after.is_some(), "--after"),
    ] {
        if given {
            bail!(Usage(format!(
                "{name} is for the ROM loader, when flashing --image FILE; installing the module talks to MicroPython's REPL"
            )));
        }
    }
    install_after_flashing(args, board)
}

/// The install of [`install_on_esp8266`], also run after flashing a MicroPython image (where
/// the ROM loader's options were for the flashing).
fn install_after_flashing(args: &Args, board: &Board) -> Result<u8> {
    let install = esp8266_install_args(args, board);
    micropython::check(&install).map_err(Usage)?;
    if args.dry_run {
        println!(
            "board {}: install mreq's MicroPython module ({}) through the raw REPL on {}{}",
            board.name,
            install.modules.join(", "),
            args.port.as_deref().unwrap_or("the board's port"),
            if args.boot {
                "; boot.py joins the Wi-Fi network"
            } else {
                ""
            }
        );
        return Ok(0);
    }
    let code = micropython::install(&install)?;
    if args.monitor {
        return console::open(
            board,
            args.port.as_deref(),
            monitor::CONSOLE_BAUD,
            None,
            args.log.as_deref(),
            Duration::ZERO,
        );
    }
    Ok(code)
}

fn esp8266_install_args(args: &Args, board: &Board) -> micropython::MicroPythonArgs {
    micropython::MicroPythonArgs {
        port: args.port.clone(),
        board: Some(board.name.to_string()),
        baud: monitor::CONSOLE_BAUD,
        modules: micropython::default_modules(),
        run: Vec::new(),
        boot: args.boot,
        config: args.config.clone(),
        just_flashed: args.image.is_some(),
    }
}

/// The ELF (or image) to flash: given, or built.
fn firmware(args: &Args, root: &Path, board: &Board) -> Result<PathBuf> {
    if let Some(path) = args.elf.as_ref().or(args.image.as_ref()) {
        if !path.is_file() {
            bail!("{} does not exist", path.display());
        }
        return Ok(path.clone());
    }
    if args.no_build {
        bail!("--no-build needs --elf PATH or --image PATH");
    }
    if board.status == BuildStatus::FlashOnly {
        bail!(
            "no Rust toolchain builds {} firmware: give --image FILE",
            board.chip
        );
    }
    eprintln!("building the {} firmware...", board.name);
    cargo_build::build(root, board)
}

fn flash_qemu(args: &Args, elf: &Path, block: Option<&[u8]>) -> Result<u8> {
    if let Some(out) = &args.pflash_out {
        qemu::prepare(out, block)?;
        match block {
            Some(_) => eprintln!(
                "wrote {} (QEMU pflash bank 1 with the configuration block)",
                out.display()
            ),
            None => eprintln!(
                "{}: the configuration block in it is kept (no configuration options)",
                out.display()
            ),
        }
        return Ok(0);
    }
    if block.is_none() && args.pflash.is_none() {
        eprintln!("configuration: none (a blank pflash; --pflash FILE keeps the board's flash between boots)");
    }
    let console = match &args.qemu_console {
        Some(text) => qemu::parse_console(text)?,
        None => qemu::Console::Terminal,
    };
    if args.monitor && console != qemu::Console::Terminal {
        bail!("--monitor attaches the console to this terminal; leave out --qemu-console");
    }
    let timeout = args.timeout.map(Duration::from_secs);
    match qemu::boot(
        elf,
        args.pflash.as_deref(),
        block,
        &console,
        args.log.as_deref(),
        timeout,
    )? {
        qemu::Ended::Exited(status) => {
            Ok(status.code().map_or(1, |c| u8::try_from(c).unwrap_or(1)))
        }
        qemu::Ended::TimedOut => {
            eprintln!(
                "mreq-flash: stopped QEMU after {} s (--timeout)",
                args.timeout.unwrap_or(0)
            );
            // As timeout(1) says it: the run did not end by itself.
            Ok(124)
        }
    }
}

/// The segments (of the ELF) that go into the board's flash, checked to stay out of the
/// configuration region and inside the flash; also returns where they end.
fn flash_segments(
    board: &Board,
    mut segments: Vec<uf2::Segment>,
) -> Result<(Vec<uf2::Segment>, u32)> {
    let flash_end = board.flash_origin + board.flash_size;
    segments.retain(|s| s.address >= board.flash_origin && s.address < flash_end);
    let region = board.config_region();
    let mut image_end = board.flash_origin;
    for s in &segments {
        let end = s.address + s.data.len() as u32;
        if s.address < region.end && end > region.start {
            bail!("the firmware's bytes at {:#x}..{end:#x} reach into the configuration region at {:#x}..{:#x}: it is too large for this board", s.address, region.start, region.end);
        }
        if end > flash_end {
            bail!("the firmware ends at {end:#x}, past the end of the {}'s flash at {flash_end:#x}: it is too large for this board", board.chip);
        }
        image_end = image_end.max(end);
    }
    Ok((segments, image_end))
}

/// Flash bytes left after the image's end, up to the end of the firmware region it ends in (the
/// linker fills regions in order, so that is where more code would go).
fn firmware_room(board: &Board, image_end: u32) -> u32 {
    board
        .firmware_regions()
        .iter()
        .find(|r| r.start < image_end && image_end <= r.end)
        .map_or(0, |r| r.end - image_end)
}

/// Checks that the firmware fits the board's layout (ESP: the app partition of its table; the
/// others: outside the configuration region, and probe-rs's memory map of the chip) and says how
/// much room is left.
fn check_image(board: &Board, root: &Path, elf: &Path) -> Result<u8> {
    if board.method == FlashMethod::Espflash {
        // The real image, as it would be flashed: it must end inside its app partition.
        let elf_data =
            std::fs::read(elf).with_context(|| format!("cannot read {}", elf.display()))?;
        let partitions = cargo_build::board_dir(root, board).join("partitions.csv");
        let (segments, app) = espressif::segments(board, &elf_data, &partitions, None)?;
        let image: u32 = segments
            .iter()
            .filter(|(addr, _)| *addr >= app.offset)
            .map(|(_, data)| data.len() as u32)
            .sum();
        println!(
            "{}: app image {image} bytes in its partition at {:#x} ({} bytes, {} to spare); configuration block at {:#x}",
            board.name,
            app.offset,
            app.size,
            app.size.saturating_sub(image),
            board.config_address
        );
        return Ok(0);
    }
    let loaded = elf::load_segments(elf)?;
    let all: usize = loaded.iter().map(|s| s.data.len()).sum();
    let (segments, image_end) = flash_segments(board, loaded)?;
    if let Some(chip) = board.probe_chip {
        // probe-rs's own memory map of the chip must accept every byte too.
        let block = vec![0xFF; mreq_fwconfig::BLOCK_SIZE];
        probe::stage(chip, &segments, board.config_address, Some(&block))?;
    }
    let in_flash: usize = segments.iter().map(|s| s.data.len()).sum();
    if in_flash == 0 {
        println!(
            "{}: {all} bytes, loaded into RAM; configuration block at {:#x}",
            board.name, board.config_address
        );
    } else {
        let free = firmware_room(board, image_end);
        let region = board.config_region();
        println!(
            "{}: {in_flash} bytes in flash up to {image_end:#x}; configuration region at {:#x}..{:#x}; {free} bytes free after the firmware",
            board.name, region.start, region.end
        );
    }
    Ok(0)
}

fn flash_uf2(args: &Args, board: &Board, elf: &Path, block: Option<&[u8]>) -> Result<u8> {
    let (mut segments, image_end) = flash_segments(board, elf::load_segments(elf)?)?;
    if segments.is_empty() {
        bail!(
            "{}: nothing to place in flash at {:#x}",
            elf.display(),
            board.flash_origin
        );
    }
    if let Some(block) = block {
        segments.push(uf2::Segment {
            address: board.config_address,
            data: block.to_vec(),
        });
    }
    let data = uf2::write(&segments, uf2::RP2040_FAMILY);
    let drive = match &args.uf2_out {
        Some(_) => None,
        None => Some(bootsel::find(&drive_bases())?),
    };
    let target = match (&args.uf2_out, &drive) {
        (Some(path), _) => path.clone(),
        (None, Some(drive)) => drive.join("mreq.uf2"),
        (None, None) => bail!("no UF2 target"),
    };
    bootsel::write_synced(&target, &data)?;
    let config = match block {
        Some(_) => format!("configuration at {:#x}", board.config_address),
        None => "the board's configuration kept".into(),
    };
    eprintln!(
        "wrote {} ({} blocks, firmware up to {image_end:#x}, {config})",
        target.display(),
        data.len() / 512,
    );
    if let Some(drive) = drive {
        bootsel::wait_gone(&drive)?;
        eprintln!("the board took it and rebooted (its drive went away)");
    }
    monitor_after_reset(args, board, elf)
}

/// `--monitor` on a board that was just reset into its firmware: its console port (the RP2040's
/// USB port appears only once the firmware runs), waited for.
fn monitor_after_reset(args: &Args, board: &Board, elf: &Path) -> Result<u8> {
    if !args.monitor {
        return Ok(0);
    }
    console::open(
        board,
        args.port.as_deref(),
        monitor::CONSOLE_BAUD,
        Some(elf),
        args.log.as_deref(),
        console::PORT_WAIT,
    )
}

/// Through a debug probe (probe-rs): firmware segments and the configuration block, verified.
fn flash_probe(args: &Args, board: &Board, elf: &Path, block: Option<&[u8]>) -> Result<u8> {
    let Some(chip) = board.probe_chip else {
        bail!("the {} cannot be flashed through a debug probe", board.chip);
    };
    let (segments, _) = flash_segments(board, elf::load_segments(elf)?)?;
    let loader = probe::stage(chip, &segments, board.config_address, block)?;
    probe::flash(chip, args.probe.as_deref().unwrap_or("auto"), loader)?;
    eprintln!(
        "programmed and verified the {chip} through the probe; it is running the new firmware"
    );
    monitor_after_reset(args, board, elf)
}

/// ESP32-C3/S3: an ESP-IDF image from the ELF and the board's partition table, plus the
/// configuration block, written and verified by espflash (or saved with --merged-out).
fn flash_espressif(
    args: &Args,
    root: &Path,
    board: &Board,
    elf: &Path,
    block: Option<&[u8]>,
) -> Result<u8> {
    let elf_data = std::fs::read(elf).with_context(|| format!("cannot read {}", elf.display()))?;
    let partitions = cargo_build::board_dir(root, board).join("partitions.csv");
    let (segments, _) = espressif::segments(board, &elf_data, &partitions, block)?;
    if let Some(out) = &args.merged_out {
        std::fs::write(out, espressif::merged(&segments))
            .with_context(|| format!("cannot write {}", out.display()))?;
        eprintln!(
            "wrote {} (bootloader, partition table, app, configuration at {:#x})",
            out.display(),
            board.config_address
        );
        return Ok(0);
    }
    let (port_name, usb) = choose_port(args, board)?;
    let link = espressif::Link {
        port: &port_name,
        usb,
        baud: args.baud.unwrap_or(board.default_baud),
        before: args.before.unwrap_or_default(),
        after: args.after.unwrap_or_default(),
    };
    espressif::flash(board, &link, &segments)?;
    eprintln!("flashed and verified the {} on {port_name}", board.name);
    if args.monitor {
        return console::open(
            board,
            Some(&port_name),
            monitor::CONSOLE_BAUD,
            Some(elf),
            args.log.as_deref(),
            Duration::ZERO,
        );
    }
    Ok(0)
}

/// The ESP8266 through its ROM loader: the given image at 0, read back in part, then a reset into
/// the new firmware.
fn flash_esp8266(args: &Args, board: &Board, image: &Path, monitor: bool) -> Result<u8> {
    let data = std::fs::read(image).with_context(|| format!("cannot read {}", image.display()))?;
    esp_rom::check_image(&data).with_context(|| image.display().to_string())?;
    if data.len() as u64 > u64::from(board.firmware_limit()) {
        bail!(
            "{} is {} bytes: larger than the {} bytes below the configuration region",
            image.display(),
            data.len(),
            board.firmware_limit()
        );
    }
    let (port_name, _) = choose_port(args, board)?;
    let baud = args.baud.unwrap_or(board.default_baud);
    let mut port = serialport::new(&port_name, baud)
        .timeout(Duration::from_millis(100))
        .open()
        .map_err(|e| port_error(&port_name, e))?;
    if args.before.unwrap_or_default() == espressif::Before::DefaultReset {
        enter_bootloader(port.as_mut());
    }
    esp_rom::sync(&mut port)?;
    esp_rom::detect_esp8266(&mut port, &port_name)?;
    let bar = progress_bar(data.len() as u64);
    esp_rom::write_flash(&mut port, 0, &data, |n| bar.set_position(n as u64))?;
    bar.finish_and_clear();
    // Read back through the SPI controller (about 1 KB/s at 115200 baud): the image's first and
    // last sectors (where it starts and that it all landed).
    let mut checked = Vec::new();
    for range in esp8266_spot_checks(data.len()) {
        esp_rom::verify_flash(&mut port, range.start as u32, &data[range.clone()])
            .context("the firmware image")?;
        checked.push(format!("image bytes {:#x}..{:#x}", range.start, range.end));
    }
    // Stay in the loader, then reset through EN (RTS) with GPIO0 (DTR) released, as esptool's
    // hard reset does: a ROM "reboot" would keep the boot straps of download mode.
    esp_rom::finish(&mut port, false)?;
    if args.after.unwrap_or_default() == espressif::After::HardReset {
        hard_reset(port.as_mut());
    }
    eprintln!(
        "flashed {} bytes to the {} on {port_name}: every block acknowledged by the ROM; read back: {}",
        data.len(),
        board.chip,
        checked.join(", ")
    );
    if monitor {
        // The same port (reopening it would toggle the reset lines), at the console's speed.
        port.set_baud_rate(monitor::CONSOLE_BAUD)
            .context("setting the console speed")?;
        monitor::run(port, console::extras(None, args.log.as_deref())?)?;
    }
    Ok(0)
}

/// The parts of an ESP8266 image read back after writing: its first sector and its last.
fn esp8266_spot_checks(len: usize) -> Vec<std::ops::Range<usize>> {
    const SECTOR: usize = 4096;
    let first = 0..len.min(SECTOR);
    let last = len.saturating_sub(SECTOR).max(first.end)..len;
    [first, last]
        .into_iter()
        .filter(|r| !r.is_empty())
        .collect()
}

fn progress_bar(total: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "writing {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// NodeMCU-style auto-reset: DTR and RTS drive GPIO0 and EN through two transistors. Ports without
/// modem lines (a pty) ignore this; the board must then be put in boot mode by hand.
pub(crate) fn enter_bootloader(port: &mut dyn serialport::SerialPort) {
    let _ = port.write_data_terminal_ready(false);
    let _ = port.write_request_to_send(true);
    std::thread::sleep(Duration::from_millis(100));
    let _ = port.write_data_terminal_ready(true);
    let _ = port.write_request_to_send(false);
    std::thread::sleep(Duration::from_millis(50));
    let _ = port.write_data_terminal_ready(false);
    let _ = port.clear(serialport::ClearBuffer::Input);
}

/// EN low for 100 ms with GPIO0 high: the chip boots from flash.
pub(crate) fn hard_reset(port: &mut dyn serialport::SerialPort) {
    let _ = port.write_data_terminal_ready(false);
    let _ = port.write_request_to_send(true);
    std::thread::sleep(Duration::from_millis(100));
    let _ = port.write_request_to_send(false);
}

/// `--port`, or the only USB serial port that shows the board's USB IDs (said on stderr), with
/// the port's USB IDs (espflash picks its reset sequence from them).
fn choose_port(args: &Args, board: &Board) -> Result<(String, Option<(u16, u16)>)> {
    pick_port(args.port.as_deref(), board)
}

pub(crate) fn pick_port(port: Option<&str>, board: &Board) -> Result<(String, Option<(u16, u16)>)> {
    if let Some(port) = port {
        return Ok((port.to_string(), ports::usb_of(port)));
    }
    let found = ports::list();
    let port = ports::choose(&found, board).map_err(anyhow::Error::msg)?;
    eprintln!("using {}", ports::describe(port));
    Ok((port.path.clone(), port.usb))
}

pub(crate) fn port_error(name: &str, err: serialport::Error) -> anyhow::Error {
    let hint = match err.kind() {
        serialport::ErrorKind::NoDevice => " (is it plugged in? is another program using it?)",
        serialport::ErrorKind::Io(std::io::ErrorKind::PermissionDenied) => {
            " (permission denied: add yourself to the dialout group)"
        }
        _ => "",
    };
    anyhow::anyhow!("cannot open {name}: {err}{hint}")
}

/// The mounted RP2040 boot drive: the one with INFO_UF2.TXT.
/// Where BOOTSEL drives are mounted.
pub(crate) fn drive_bases() -> Vec<PathBuf> {
    let user = std::env::var("USER").unwrap_or_default();
    [
        format!("/media/{user}"),
        format!("/run/media/{user}"),
        "/media".into(),
        "/mnt".into(),
    ]
    .into_iter()
    .map(PathBuf::from)
    .collect()
}

fn print_boards() {
    println!(
        "{:<18} {:<12} {:<28} {:<18} {:<12} {:>12}  status; USB IDs of its port",
        "board", "chip", "target", "network", "flash", "config at"
    );
    for b in boards::BOARDS {
        let status = match b.status {
            BuildStatus::BuiltInCi => "built in CI",
            BuildStatus::NeedsEspToolchain => "needs esp toolchain",
            BuildStatus::FlashOnly => "flash a given image only",
        };
        let method = format!("{:?}", b.method);
        let usb: Vec<String> = b
            .usb
            .iter()
            .map(|(v, p)| format!("{v:04x}:{p:04x}"))
            .collect();
        println!(
            "{:<18} {:<12} {:<28} {:<18} {:<12} {:>#12x}  {status}; {}",
            b.name,
            b.chip,
            b.target.unwrap_or("-"),
            b.network,
            method,
            b.config_address,
            if usb.is_empty() {
                "-".into()
            } else {
                usb.join(" ")
            }
        );
    }
}

fn print_ports() {
    let ports = ports::list();
    if ports.is_empty() {
        println!("no USB serial ports found");
    }
    for port in ports {
        let boards: Vec<&str> = boards::BOARDS
            .iter()
            .filter(|b| port.usb.is_some_and(|id| b.usb.contains(&id)))
            .map(|b| b.name)
            .collect();
        let matches = if boards.is_empty() {
            "no board in the table".to_string()
        } else {
            format!("boards: {}", boards.join(", "))
        };
        println!("{}  {matches}", ports::describe(&port));
    }
}
