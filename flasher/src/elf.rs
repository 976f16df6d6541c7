//! The loadable contents of a firmware ELF, at their load (flash) addresses.

use crate::uf2::Segment;
use anyhow::{Context, Result};
use object::read::elf::{ElfFile32, ProgramHeader};
use object::{elf, Endianness};
use std::path::Path;

/// PT_LOAD segments with file contents, at their physical (load) address: `.data` is stored in
/// flash and copied to RAM at start-up, so it is placed where it is loaded, not where it runs.
pub fn load_segments(path: &Path) -> Result<Vec<Segment>> {
    let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file = ElfFile32::<Endianness>::parse(&*data)
        .with_context(|| format!("{} is not a 32-bit ELF", path.display()))?;
    let endian = file.endian();
    let mut segments = Vec::new();
    for header in file.elf_program_headers() {
        if header.p_type(endian) != elf::PT_LOAD || header.p_filesz(endian) == 0 {
            continue;
        }
        let bytes = header
            .data(endian, &*data)
            .map_err(|_| anyhow::anyhow!("{}: segment outside the file", path.display()))?;
        segments.push(Segment {
            address: header.p_paddr(endian),
            data: bytes.to_vec(),
        });
    }
    Ok(segments)
}
