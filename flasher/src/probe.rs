//! Flashing through a debug probe with the probe-rs library: the ELF's flash segments and the
//! configuration block are staged against the chip's memory map from probe-rs's target database
//! (which refuses anything outside its flash), then erased, programmed and verified.

use crate::uf2::Segment;
use anyhow::{bail, Context, Result};
use probe_rs::config::Registry;
use probe_rs::flashing::{DownloadOptions, FlashLoader};
use probe_rs::probe::list::Lister;
use probe_rs::probe::DebugProbeSelector;
use probe_rs::{MemoryInterface, Permissions, Session};

/// Stages `segments` and the block for `chip`; fails if any byte is outside the chip's memory.
pub fn stage(
    chip: &str,
    segments: &[Segment],
    config_address: u32,
    block: Option<&[u8]>,
) -> Result<FlashLoader> {
    let registry = Registry::from_builtin_families();
    let target = registry
        .get_target_by_name(chip)
        .with_context(|| format!("probe-rs does not know the chip {chip}"))?;
    let mut loader = target.flash_loader();
    for segment in segments {
        loader
            .add_data(u64::from(segment.address), &segment.data)
            .with_context(|| {
                format!(
                    "{} bytes at {:#x} do not fit the {chip}'s memory",
                    segment.data.len(),
                    segment.address
                )
            })?;
    }
    if let Some(block) = block {
        loader
            .add_data(u64::from(config_address), block)
            .with_context(|| {
                format!(
                    "the configuration block at {config_address:#x} is outside the {chip}'s flash"
                )
            })?;
    }
    Ok(loader)
}

/// Opens the probe (`auto`: the only one connected), attaches to `chip`, programs and verifies.
pub fn flash(chip: &str, selector: &str, loader: FlashLoader) -> Result<()> {
    let mut session = attach(chip, selector)?;
    commit(&mut session, loader)
}

/// Programs and verifies what `loader` holds, then resets the chip.
pub fn commit(session: &mut Session, loader: FlashLoader) -> Result<()> {
    let mut options = DownloadOptions::default();
    options.verify = true;
    loader
        .commit(session, options)
        .context("programming failed; the flash is not known to hold a complete image")?;
    session
        .core(0)
        .and_then(|mut core| core.reset())
        .context("programmed and verified, but the reset failed")?;
    Ok(())
}

/// Reads `len` bytes of the chip's memory-mapped flash at `address`.
pub fn read(session: &mut Session, address: u32, len: usize) -> Result<Vec<u8>> {
    let mut data = vec![0u8; len];
    session
        .core(0)
        .and_then(|mut core| core.read(u64::from(address), &mut data))
        .with_context(|| format!("reading {len} bytes at {address:#x} through the probe"))?;
    Ok(data)
}

/// A session with `chip` through the probe `selector` names (`auto`: the only one connected).
pub fn attach(chip: &str, selector: &str) -> Result<Session> {
    let lister = Lister::new();
    let probe = if selector == "auto" {
        let probes = lister.list_all();
        match probes.as_slice() {
            [one] => one.open().with_context(|| format!("cannot open the probe {one}"))?,
            [] => bail!("no debug probe found (ST-Link, CMSIS-DAP, J-Link): plug one in, or check its udev permissions"),
            many => {
                let names: Vec<String> = many.iter().map(|p| p.to_string()).collect();
                bail!("several probes ({}): choose one with --probe VID:PID[:SERIAL]", names.join(", "))
            }
        }
    } else {
        let wanted: DebugProbeSelector = selector
            .parse()
            .map_err(|e| anyhow::anyhow!("--probe {selector}: {e} (expected VID:PID[:SERIAL])"))?;
        lister
            .open(wanted)
            .with_context(|| format!("cannot open the probe {selector}"))?
    };
    probe.attach(chip, Permissions::default()).with_context(|| {
        format!("cannot attach to the {chip} (is it powered and wired to the probe?)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mreq_fwconfig::boards::BOARDS;

    /// probe-rs's own fake probe (its dry run): attaching to each probe board's chip and planning
    /// the flashing of firmware and configuration block with the chip's flash algorithm.
    #[test]
    fn the_flash_plan_of_every_probe_board_passes_probe_rs_dry_run() {
        let planned: Vec<&str> = BOARDS
            .iter()
            .filter(|b| b.probe_chip.is_some())
            .map(|b| b.name)
            .collect();
        assert_eq!(
            planned,
            ["rp2-pico-w", "stm32f407-w5500", "stm32f407ve-w5500"]
        );
        for board in BOARDS.iter().filter(|b| b.probe_chip.is_some()) {
            let chip = board.probe_chip.unwrap();
            let probe = probe_rs::probe::fake_probe::FakeProbe::with_mocked_core().into_probe();
            let mut session = probe
                .attach(chip, Permissions::default())
                .unwrap_or_else(|e| panic!("{}: {e}", board.name));
            let firmware = Segment {
                address: board.flash_origin,
                data: vec![0x5A; 4096],
            };
            let loader = stage(chip, &[firmware], board.config_address, Some(&[0xA5; 4096]))
                .unwrap_or_else(|e| panic!("{}: {e:#}", board.name));
            let mut options = DownloadOptions::default();
            options.dry_run = true;
            options.verify = true;
            loader
                .commit(&mut session, options)
                .unwrap_or_else(|e| panic!("{}: {e}", board.name));
        }
    }
}
