//! Addresses on the console (an esp-backtrace or panic message) named from the firmware's ELF:
//! `0x42001234: mreq_fw::shell::run at firmware/app/src/shell.rs:120`.

use anyhow::{Context, Result};
use object::{Object, ObjectSection, SectionKind};
use std::ops::Range;
use std::path::Path;

pub struct Symbols {
    loader: addr2line::Loader,
    /// Where the code is: only addresses inside it are looked up (not RAM or data words).
    code: Vec<Range<u64>>,
}

impl Symbols {
    pub fn open(elf: &Path) -> Result<Symbols> {
        let data = std::fs::read(elf).with_context(|| format!("cannot read {}", elf.display()))?;
        let file = object::File::parse(&*data)
            .with_context(|| format!("{} is not an ELF file", elf.display()))?;
        let code = file
            .sections()
            .filter(|s| s.kind() == SectionKind::Text && s.size() > 0)
            .map(|s| s.address()..s.address() + s.size())
            .collect();
        let loader = addr2line::Loader::new(elf).map_err(|e| {
            anyhow::anyhow!(
                "cannot read the debug information of {}: {e}",
                elf.display()
            )
        })?;
        Ok(Symbols { loader, code })
    }

    /// One line per code address in `line` that the ELF names (inlined calls first).
    pub fn annotate(&self, line: &str) -> Vec<String> {
        hex_words(line)
            .filter(|a| self.code.iter().any(|r| r.contains(a)))
            .filter_map(|address| self.describe(address))
            .collect()
    }

    fn describe(&self, address: u64) -> Option<String> {
        let mut names = Vec::new();
        if let Ok(mut frames) = self.loader.find_frames(address) {
            while let Ok(Some(frame)) = frames.next() {
                let function = frame
                    .function
                    .and_then(|f| f.demangle().ok().map(|n| n.into_owned()));
                let place = frame
                    .location
                    .and_then(|l| Some(format!("{}:{}", l.file?, l.line.unwrap_or(0))));
                match (function, place) {
                    (Some(f), Some(p)) => names.push(format!("{f} at {p}")),
                    (Some(f), None) => names.push(f),
                    (None, Some(p)) => names.push(p),
                    (None, None) => {}
                }
            }
        }
        if names.is_empty() {
            names.push(self.loader.find_symbol(address)?.to_string());
        }
        Some(format!("{address:#010x}: {}", names.join(", inlined in ")))
    }
}

/// The `0x`-prefixed hexadecimal numbers of 8 digits in `line`.
fn hex_words(line: &str) -> impl Iterator<Item = u64> + '_ {
    line.match_indices("0x").filter_map(move |(at, _)| {
        let digits = line.get(at + 2..at + 10)?;
        let after = line[at + 10..].chars().next();
        if after.is_some_and(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(digits, 16).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_eight_digit_hex_words_only() {
        let found: Vec<u64> =
            hex_words("0x42001234 0x4200 MEPC: 0x4038000a, x=0x123456789 0xzz").collect();
        assert_eq!(found, [0x4200_1234, 0x4038_000a]);
    }
}
