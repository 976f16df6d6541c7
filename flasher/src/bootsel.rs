//! The RP2040's BOOTSEL drive: found by its `INFO_UF2.TXT` (whose `Board-ID` must be the
//! RP2040's: an RP2350's drive would ignore RP2040 blocks and the copy would look fine), written
//! and synced, then watched until it goes away (the boot ROM reboots into the new firmware).

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The `Board-ID` the RP2040 boot ROM writes in `INFO_UF2.TXT`.
pub const RP2040_BOARD_ID: &str = "RPI-RP2";

/// How long the drive may stay after the copy before it counts as refused.
const REBOOT_WAIT: Duration = Duration::from_secs(10);

/// The `Board-ID:` value of an `INFO_UF2.TXT`.
pub fn board_id(info: &str) -> Option<&str> {
    info.lines()
        .find_map(|line| line.strip_prefix("Board-ID:"))
        .map(str::trim)
}

/// The one mounted drive with an RP2040's `INFO_UF2.TXT` under `bases`; other UF2 drives are
/// named in the error.
pub fn find(bases: &[PathBuf]) -> Result<PathBuf> {
    let drives: Vec<(PathBuf, String)> = bases
        .iter()
        .filter_map(|b| std::fs::read_dir(b).ok())
        .flat_map(|d| d.filter_map(Result::ok).map(|e| e.path()))
        .filter_map(|p| {
            let info = std::fs::read_to_string(p.join("INFO_UF2.TXT")).ok()?;
            let id = board_id(&info).unwrap_or("(none)").to_string();
            Some((p, id))
        })
        .collect();
    let (rp2040, others): (Vec<_>, Vec<_>) = drives
        .into_iter()
        .partition(|(_, id)| id == RP2040_BOARD_ID);
    match rp2040.as_slice() {
        [(one, _)] => Ok(one.clone()),
        [] if others.is_empty() => bail!("no RP2040 boot drive found: hold BOOTSEL while plugging the board in, or write a file with --uf2-out FILE"),
        [] => {
            let seen: Vec<String> = others
                .iter()
                .map(|(p, id)| format!("{} (Board-ID {id})", p.display()))
                .collect();
            bail!(
                "no RP2040 boot drive: {} is another chip's (an RP2040's says Board-ID {RP2040_BOARD_ID})",
                seen.join(", ")
            )
        }
        many => {
            let names: Vec<String> = many.iter().map(|(p, _)| p.display().to_string()).collect();
            bail!("several RP2040 boot drives ({}): use --uf2-out FILE and copy it by hand", names.join(", "))
        }
    }
}

/// Writes `data` and flushes it to the medium.
pub fn write_synced(path: &Path, data: &[u8]) -> Result<()> {
    let mut file =
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(data)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Waits for the drive to go away (the board rebooted into the firmware).
pub fn wait_gone(drive: &Path) -> Result<()> {
    let started = Instant::now();
    while drive.join("INFO_UF2.TXT").exists() {
        if started.elapsed() > REBOOT_WAIT {
            bail!(
                "{} is still mounted {} s after the copy: the board did not take the UF2 (is it an RP2040? was the copy complete?)",
                drive.display(),
                REBOOT_WAIT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drive(base: &Path, name: &str, info: &str) {
        let dir = base.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("INFO_UF2.TXT"), info).unwrap();
    }

    #[test]
    fn only_an_rp2040_drive_is_taken() {
        let base = std::env::temp_dir().join(format!("mreq-bootsel-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        let bases = [base.clone()];
        assert!(find(&bases)
            .unwrap_err()
            .to_string()
            .contains("no RP2040 boot drive found"));
        drive(
            &base,
            "RP2350",
            "UF2 Bootloader v1.0\nModel: Raspberry Pi RP2350\nBoard-ID: RP2350\n",
        );
        let err = find(&bases).unwrap_err().to_string();
        assert!(
            err.contains("Board-ID RP2350") && err.contains("another chip"),
            "{err}"
        );
        drive(
            &base,
            "RPI-RP2",
            "UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: RPI-RP2\n",
        );
        assert_eq!(find(&bases).unwrap(), base.join("RPI-RP2"));
        drive(&base, "RPI-RP2-2", "Board-ID: RPI-RP2\n");
        assert!(find(&bases).unwrap_err().to_string().contains("several"));
        // A drive that stays is a refused copy; one that goes is a reboot.
        let gone = base.join("RPI-RP2-2");
        std::fs::remove_dir_all(&gone).unwrap();
        assert!(wait_gone(&gone).is_ok());
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn board_ids_are_read_as_the_uf2_spec_writes_them() {
        assert_eq!(
            board_id("UF2 Bootloader v3.0\nBoard-ID: RPI-RP2\n"),
            Some("RPI-RP2")
        );
        assert_eq!(board_id("Model: x\n"), None);
    }
}
