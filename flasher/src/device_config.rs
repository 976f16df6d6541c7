//! `mreq-flash config show|set|reset`: the configuration block on a board, read and changed
//! without reflashing the firmware. Where the block lives depends on how the board is flashed:
//! QEMU's pflash file, the ESP32's `mreqcfg` partition (espflash), the STM32's (or a probed RP2040's) flash through a debug probe, and the RP2040's
//! BOOTSEL drive (read from its CURRENT.UF2, written as a UF2 holding only the block).
//! `set` changes the settings given and keeps the rest; `show` masks the Wi-Fi password.

use crate::config::ConfigArgs;
use crate::{bootsel, espressif, probe, qemu, uf2};
use anyhow::{bail, Context, Result};
use mreq_fwconfig::boards::{Board, FlashMethod};
use mreq_fwconfig::{Builder, Config, ConfigError, BLOCK_SIZE};
use std::path::PathBuf;

#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Print the board's configuration (the Wi-Fi password masked).
    Show(Where),
    /// Change the settings given, keep the others, and write the block back (verified).
    Set {
        #[command(flatten)]
        at: Where,
        #[command(flatten)]
        config: Box<ConfigArgs>,
    },
    /// Erase the configuration: the firmware then uses its defaults (DHCP, no Wi-Fi).
    Reset(Where),
}

/// Where the board's configuration is.
#[derive(Debug, Clone, clap::Args)]
pub struct Where {
    /// The board (see --list-boards).
    #[arg(long)]
    pub board: String,
    /// ESP: the ROM loader's serial port (default: the single port showing the board's USB IDs).
    #[arg(long)]
    pub port: Option<String>,
    /// ESP: the ROM loader's speed (default: the board table's).
    #[arg(long)]
    pub baud: Option<u32>,
    /// STM32 (or an RP2040 through a probe): the debug probe (probe-rs selector, or `auto`).
    #[arg(long, value_name = "SEL")]
    pub probe: Option<String>,
    /// QEMU: the pflash file that is the board's flash.
    #[arg(long, value_name = "FILE")]
    pub pflash: Option<PathBuf>,
    /// RP2040: the BOOTSEL drive's mount point (default: the one found under /media, /run/media, /mnt).
    #[arg(long, value_name = "DIR")]
    pub drive: Option<PathBuf>,
}

impl ConfigCommand {
    /// Where the block is (every subcommand says).
    pub fn at(&self) -> &Where {
        match self {
            ConfigCommand::Show(at) | ConfigCommand::Reset(at) => at,
            ConfigCommand::Set { at, .. } => at,
        }
    }
}

/// A usage error (exit 2): an option that does not apply to the board's method, or none given
/// where one is needed.
pub fn check(command: &ConfigCommand, board: &Board) -> Result<(), String> {
    let at = command.at();
    let method = match board.method {
        FlashMethod::Uf2 if at.probe.is_some() => FlashMethod::ProbeRs,
        other => other,
    };
    let esp = matches!(method, FlashMethod::Espflash | FlashMethod::Esp8266Rom);
    let misplaced = [
        (
            at.port.is_some() && !esp,
            "--port",
            "an ESP chip's ROM loader port",
        ),
        (
            at.baud.is_some() && !esp,
            "--baud",
            "an ESP chip's ROM loader speed",
        ),
        (
            at.probe.is_some() && method != FlashMethod::ProbeRs,
            "--probe",
            "a debug probe for an Arm board",
        ),
        (
            at.pflash.is_some() && method != FlashMethod::Qemu,
            "--pflash",
            "QEMU's flash file",
        ),
        (
            at.drive.is_some() && method != FlashMethod::Uf2,
            "--drive",
            "the RP2040's BOOTSEL drive",
        ),
    ];
    if let Some((_, name, what)) = misplaced.iter().find(|(given, _, _)| *given) {
        return Err(format!(
            "config: {name} does not apply to the {} (flashed by {method:?}): it names {what}",
            board.name
        ));
    }
    if method == FlashMethod::Esp8266Rom {
        return Err(format!(
            "config: the {} runs MicroPython, whose configuration is the file mreq_config.json: `mreq-flash --board {} --port PORT --wifi-ssid ...` rewrites it",
            board.name, board.name
        ));
    }
    if method == FlashMethod::Qemu && at.pflash.is_none() {
        return Err(format!(
            "config: the {}'s configuration is in its pflash file: give --pflash FILE",
            board.name
        ));
    }
    if let ConfigCommand::Set { config, .. } = command {
        if config.config_reset {
            return Err("config set: --config-reset is `mreq-flash config reset`".into());
        }
        if !config.given() {
            return Err("config set: no setting given (see mreq-flash config set --help)".into());
        }
    }
    Ok(())
}

pub fn run(command: &ConfigCommand, board: &Board) -> Result<u8> {
    let mut store = open(command.at(), board)?;
    match command {
        ConfigCommand::Show(_) => {
            let block = store.read()?;
            print!("{}", describe(&block, &store.name()));
        }
        ConfigCommand::Reset(_) => {
            store.write(&vec![0xFF; BLOCK_SIZE])?;
            eprintln!("erased the configuration ({})", store.name());
        }
        ConfigCommand::Set { config, .. } => {
            let old = store.read()?;
            let new = config.block()?.context("config set: no setting given")?;
            let merged = merge(&old, &new).with_context(|| store.name())?;
            store.write(&merged)?;
            eprintln!("wrote the configuration ({}):", store.name());
            print!("{}", describe(&merged, &store.name()));
        }
    }
    store.finish()?;
    Ok(0)
}

/// The settings of `new`, and those of `old` that `new` does not give (an erased `old` counts as
/// empty; a damaged one is refused, so that nothing of it is silently lost).
pub fn merge(old: &[u8], new: &[u8]) -> Result<Vec<u8>> {
    let new = Config::parse(new).context("the new settings")?;
    let old_entries: Vec<(u8, &[u8])> = match Config::parse(old) {
        Ok(config) => config.entries().collect::<Result<_, _>>()?,
        Err(ConfigError::Erased) => Vec::new(),
        Err(e) => bail!(
            "the configuration on the board is not valid ({e}): `mreq-flash config reset` erases it, then set it again"
        ),
    };
    let new_entries: Vec<(u8, &[u8])> = new.entries().collect::<Result<_, _>>()?;
    let mut block = vec![0xFF; BLOCK_SIZE];
    let mut builder = Builder::new(&mut block);
    // An old entry goes when the new settings give its tag, but application settings are
    // replaced name by name.
    let replaced = |(tag, value): &(u8, &[u8])| {
        new_entries.iter().any(|(t, v)| {
            t == tag
                && (*tag != mreq_fwconfig::tag::APP_SETTING
                    || setting_name(v) == setting_name(value))
        })
    };
    for (tag, value) in old_entries
        .iter()
        .filter(|entry| !replaced(entry))
        .chain(&new_entries)
    {
        builder.entry(*tag, value);
    }
    builder
        .finish()
        .map_err(|e| anyhow::anyhow!("the merged configuration: {e} (it must fit in 4 KiB)"))?;
    Ok(block)
}

/// The NAME of an application setting's `NAME=VALUE`.
fn setting_name(value: &[u8]) -> &[u8] {
    value.split(|&b| b == b'=').next().unwrap_or(value)
}

/// The block as `config show` prints it.
pub fn describe(block: &[u8], place: &str) -> String {
    let config = match Config::parse(block) {
        Ok(config) => config,
        Err(ConfigError::Erased) => {
            return format!("{place}: no configuration (erased): the firmware uses its defaults\n")
        }
        Err(e) => return format!("{place}: not a valid configuration block ({e})\n"),
    };
    let ip = |a: [u8; 4]| std::net::Ipv4Addr::from(a).to_string();
    let mut out = format!("{place}:\n");
    let mut line = |key: &str, value: String| out.push_str(&format!("  {key:<12} {value}\n"));
    match config.wifi_ssid() {
        Some(ssid) => {
            line("wifi-ssid", format!("{ssid:?}"));
            let pass = config.wifi_password().unwrap_or("");
            line(
                "wifi-pass",
                if pass.is_empty() {
                    "(none: an open network)".into()
                } else {
                    "******** (set; not shown)".to_string()
                },
            );
        }
        None => line("wifi-ssid", "(none)".into()),
    }
    line(
        "ip",
        config
            .static_ipv4()
            .map_or("DHCP".into(), |c| format!("{}/{}", ip(c.address), c.prefix)),
    );
    if let Some(gateway) = config.gateway() {
        line("gateway", ip(gateway));
    }
    let dns: Vec<String> = config.dns_servers().map(ip).collect();
    if !dns.is_empty() {
        line("dns", dns.join(", "));
    }
    line(
        "startup-url",
        config.startup_url().unwrap_or("(none)").to_string(),
    );
    let certs: Vec<String> = config
        .ca_certs()
        .map(|c| format!("{} B", c.len()))
        .collect();
    line(
        "cacert",
        if certs.is_empty() {
            "(none)".into()
        } else {
            format!(
                "{} certificate(s) of DER: {}",
                certs.len(),
                certs.join(", ")
            )
        },
    );
    if config.tls_insecure() {
        line("insecure", "yes: certificates are not verified".into());
    }
    for (name, value) in config.app_settings() {
        line("app-setting", format!("{name}={value}"));
    }
    line(
        "ntp",
        config
            .ntp_server()
            .unwrap_or("(default: pool.ntp.org)")
            .to_string(),
    );
    out
}

/// Where a board's block is read and written.
trait Store {
    fn name(&self) -> String;
    fn read(&mut self) -> Result<Vec<u8>>;
    /// Writes and verifies the block.
    fn write(&mut self, block: &[u8]) -> Result<()>;
    /// Lets the board run again (reset) once done.
    fn finish(self: Box<Self>) -> Result<()>;
}

fn open<'b>(at: &Where, board: &'b Board) -> Result<Box<dyn Store + 'b>> {
    Ok(match board.method {
        FlashMethod::Qemu => Box::new(Pflash(
            at.pflash.clone().context("QEMU: give --pflash FILE")?,
        )),
        FlashMethod::Esp8266Rom => bail!("the ESP8266 keeps no configuration block"),
        FlashMethod::Espflash => {
            let (name, usb) = crate::pick_port(at.port.as_deref(), board)?;
            let link = espressif::Link {
                port: &name,
                usb,
                baud: at.baud.unwrap_or(board.default_baud),
                before: espressif::Before::default(),
                after: espressif::After::default(),
            };
            let flasher = espressif::connect(board, &link)?;
            Box::new(Esp32 {
                board,
                name,
                flasher,
            })
        }
        FlashMethod::Uf2 if at.probe.is_none() => {
            let drive = match &at.drive {
                Some(drive) => drive.clone(),
                None => bootsel::find(&crate::drive_bases())?,
            };
            Box::new(Bootsel { board, drive })
        }
        FlashMethod::Uf2 | FlashMethod::ProbeRs => {
            let chip = board
                .probe_chip
                .with_context(|| format!("the {} has no debug probe target", board.chip))?;
            let session = probe::attach(chip, at.probe.as_deref().unwrap_or("auto"))?;
            Box::new(Probe {
                board,
                chip,
                session,
            })
        }
    })
}

struct Pflash(PathBuf);

impl Store for Pflash {
    fn name(&self) -> String {
        format!("the QEMU board's pflash {}", self.0.display())
    }
    fn read(&mut self) -> Result<Vec<u8>> {
        let data =
            std::fs::read(&self.0).with_context(|| format!("cannot read {}", self.0.display()))?;
        if data.len() != qemu::PFLASH_SIZE {
            bail!(
                "{} is not a QEMU pflash bank ({} bytes)",
                self.0.display(),
                data.len()
            );
        }
        Ok(data[..BLOCK_SIZE].to_vec())
    }
    fn write(&mut self, block: &[u8]) -> Result<()> {
        self.read()?;
        qemu::prepare(&self.0, Some(block))?;
        verified(block, self.read()?, &self.name())
    }
    fn finish(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

struct Esp32<'b> {
    board: &'b Board,
    name: String,
    flasher: espflash::flasher::Flasher,
}

impl Store for Esp32<'_> {
    fn name(&self) -> String {
        format!(
            "the {} on {}, partition mreqcfg at {:#x}",
            self.board.name, self.name, self.board.config_address
        )
    }
    fn read(&mut self) -> Result<Vec<u8>> {
        espressif::read_block(&mut self.flasher, self.board)
    }
    fn write(&mut self, block: &[u8]) -> Result<()> {
        espressif::write_block(&mut self.flasher, self.board, block)
    }
    fn finish(self: Box<Self>) -> Result<()> {
        espressif::reset(self.flasher, self.board)
    }
}

struct Probe<'b> {
    board: &'b Board,
    chip: &'static str,
    session: probe_rs::Session,
}

impl Store for Probe<'_> {
    fn name(&self) -> String {
        format!(
            "the {} through the probe, flash at {:#x}",
            self.board.name, self.board.config_address
        )
    }
    fn read(&mut self) -> Result<Vec<u8>> {
        probe::read(&mut self.session, self.board.config_address, BLOCK_SIZE)
    }
    fn write(&mut self, block: &[u8]) -> Result<()> {
        let loader = probe::stage(self.chip, &[], self.board.config_address, Some(block))?;
        probe::commit(&mut self.session, loader)
    }
    fn finish(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

/// The RP2040's boot drive: CURRENT.UF2 is the whole flash as the boot ROM reads it; a UF2
/// holding only the block's pages changes only them.
struct Bootsel<'b> {
    board: &'b Board,
    drive: PathBuf,
}

impl Store for Bootsel<'_> {
    fn name(&self) -> String {
        format!(
            "the {} on its boot drive {}",
            self.board.name,
            self.drive.display()
        )
    }
    fn read(&mut self) -> Result<Vec<u8>> {
        let path = self.drive.join("CURRENT.UF2");
        let data =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let pages = uf2::read(&data, uf2::RP2040_FAMILY)
            .with_context(|| format!("{} is not the RP2040's flash image", path.display()))?;
        uf2::extract(&pages, self.board.config_address, BLOCK_SIZE).with_context(|| {
            format!(
                "{} does not hold the flash at {:#x}",
                path.display(),
                self.board.config_address
            )
        })
    }
    fn write(&mut self, block: &[u8]) -> Result<()> {
        let data = uf2::write(
            &[uf2::Segment {
                address: self.board.config_address,
                data: block.to_vec(),
            }],
            uf2::RP2040_FAMILY,
        );
        bootsel::write_synced(&self.drive.join("mreq-config.uf2"), &data)?;
        // The boot ROM writes the blocks and reboots: the drive goes away, nothing to read back.
        bootsel::wait_gone(&self.drive)
    }
    fn finish(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

fn verified(written: &[u8], read: Vec<u8>, place: &str) -> Result<()> {
    if read != written {
        bail!("{place}: the configuration read back differs from what was written");
    }
    Ok(())
}
