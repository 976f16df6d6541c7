//! The reference tools the flasher is checked against. They are installed by `scripts/setup.sh`;
//! a missing one fails the test (a skipped reference check would look like a passed one).

use std::path::PathBuf;
use std::process::Command;

/// Espressif's esptool, from `MREQ_ESPTOOL` or the venv `scripts/setup.sh` makes.
pub fn esptool() -> Command {
    let path = std::env::var_os("MREQ_ESPTOOL")
        .map(PathBuf::from)
        .or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache"))
                })?;
            Some(cache.join("mreq/esptool-5.6.0/bin/esptool"))
        })
        .filter(|path| path.exists());
    match path {
        Some(path) => Command::new(path),
        None => panic!("esptool is not installed: run `source scripts/setup.sh` (it installs esptool 5.6.0 from PyPI)"),
    }
}
